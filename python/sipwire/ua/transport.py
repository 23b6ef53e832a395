"""asyncio transports for the user agent: UDP datagrams, TCP streams and TLS over TCP through
the standard ``ssl`` module (RFC 3261 §18, §26.3.1).

Each hands received messages (one datagram, or one message framed by
:class:`sipwire.StreamParser`) to a callback with the source address, and sends bytes to an
address. TCP keeps one connection per peer: connections the peer opened are found by their
source address, so responses go back on them (§18.2.2); CRLF keep-alives get a CRLF
(RFC 5626 §3.5.1).

Failures are reported at once, per destination, through ``on_unreachable``: an ICMP error on
UDP (read from the socket's error queue, ``IP_RECVERR``), a refused, reset or timed-out
connection on TCP and TLS (RFC 3261 §18.4). Garbage on a stream is skipped by the framer's
resync (counted in ``garbage``), never a reason to close the connection. Connections peers
open are limited in number, and closed after ``idle_timeout`` seconds without traffic; TLS
verifies the peer against the SIP domain the request was for (RFC 5922 §3), sent as SNI.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import struct
from collections.abc import Callable
from typing import Protocol

from sipwire._sipwire import ParseError, StreamParser

Addr = tuple[str, int]
OnMessage = Callable[[bytes, Addr], None]
OnUnreachable = Callable[[Addr, str], None]

# Linux socket options: IP_RECVERR, IPV6_RECVERR; MSG_ERRQUEUE.
_IP_RECVERR = 11
_IPV6_RECVERR = 25
_MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
# struct sock_extended_err: errno, origin, type, code, pad, info, data.
_EE = struct.Struct("=IBBBBII")


class Transport(Protocol):
    @property
    def local_address(self) -> Addr: ...
    def send(self, data: bytes, dest: Addr) -> None: ...
    async def close(self) -> None: ...


def _unreachable_note(errno_: int) -> str:
    return os.strerror(errno_) if errno_ else "unreachable"


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, on_message: OnMessage, on_unreachable: OnUnreachable | None) -> None:
        self.on_message = on_message
        self.on_unreachable = on_unreachable
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        # Blank datagrams are keep-alives (RFC 5626 §4.4.1); nothing to parse.
        if data.strip():
            self.on_message(data, (addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        # An ICMP error (RFC 1122 §4.1.3.3): the socket's error queue says for which
        # destination; the agent fails its transactions at once (§18.4).
        if self.transport is None or self.on_unreachable is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is None:
            return
        try:
            dup = socket.socket(fileno=os.dup(sock.fileno()))
        except OSError:
            return
        try:
            for _ in range(64):
                try:
                    _, anc, _, addr = dup.recvmsg(1, 512, _MSG_ERRQUEUE | socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                errno_ = 0
                for _, _, data in anc:
                    if len(data) >= _EE.size:
                        errno_ = _EE.unpack_from(data)[0]
                if isinstance(addr, tuple) and len(addr) >= 2:
                    self.on_unreachable((str(addr[0]), int(addr[1])), _unreachable_note(errno_))
        finally:
            dup.close()


class UdpTransport:
    def __init__(self, transport: asyncio.DatagramTransport) -> None:
        self._t = transport
        sock = transport.get_extra_info("sockname")
        self._local: Addr = (sock[0], sock[1])

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        on_message: OnMessage,
        on_unreachable: OnUnreachable | None = None,
    ) -> UdpTransport:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(OSError):
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVERR, 1)
                else:
                    sock.setsockopt(socket.SOL_IP, _IP_RECVERR, 1)
            sock.bind((host, port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        t, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(on_message, on_unreachable), sock=sock
        )
        return cls(t)

    @property
    def local_address(self) -> Addr:
        return self._local

    def send(self, data: bytes, dest: Addr) -> None:
        self._t.sendto(data, dest)

    async def close(self) -> None:
        self._t.close()


class _Connection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: Addr,
        owner: TcpTransport,
    ) -> None:
        self.reader, self.writer, self.peer = reader, writer, peer
        self.owner = owner
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        framer = StreamParser()
        pings = 0
        idle = self.owner.idle_timeout
        try:
            while True:
                chunk = await asyncio.wait_for(self.reader.read(65536), idle)
                if not chunk:
                    break
                framer.feed(chunk)
                while True:
                    try:
                        for msg in framer:
                            self.owner.on_message(bytes(msg), self.peer)
                        break
                    except ParseError:
                        # Garbage: the framer resyncs at the next start line (DESIGN §5).
                        self.owner.garbage += 1
                if framer.pings > pings:
                    self.writer.write(b"\r\n" * (framer.pings - pings))
                    pings = framer.pings
        except asyncio.TimeoutError:
            self.owner.idle_closed += 1
        except (ConnectionError, OSError):
            pass
        finally:
            self.owner._forget(self)
            self.writer.close()

    def send(self, data: bytes) -> None:
        self.writer.write(data)


class TcpTransport:
    """TCP, or TLS when given contexts: ``server`` for connections peers open (needs this
    side's certificate), ``client`` for the ones this side opens (verifies the peer).

    ``max_connections`` bounds the connections peers open (more are closed at once and
    counted in ``refused``); ``idle_timeout`` closes a connection without traffic;
    ``connect_timeout`` bounds opening one (and the TLS handshake)."""

    def __init__(
        self,
        on_message: OnMessage,
        server: ssl.SSLContext | None = None,
        client: ssl.SSLContext | None = None,
        *,
        on_unreachable: OnUnreachable | None = None,
        max_connections: int = 1024,
        idle_timeout: float = 300.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.on_message = on_message
        self.on_unreachable = on_unreachable
        self._server_ssl = server
        self._client_ssl = client
        self._server: asyncio.AbstractServer | None = None
        self._conns: dict[Addr, _Connection] = {}
        self._connecting: dict[Addr, asyncio.Future[_Connection]] = {}
        self._local: Addr = ("127.0.0.1", 0)
        self._tasks: set[asyncio.Task[None]] = set()
        self._names: dict[Addr, str] = {}
        self._inbound: set[_Connection] = set()
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.accepted = 0
        self.refused = 0
        self.garbage = 0
        self.idle_closed = 0

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        on_message: OnMessage,
        server: ssl.SSLContext | None = None,
        client: ssl.SSLContext | None = None,
        *,
        on_unreachable: OnUnreachable | None = None,
        max_connections: int = 1024,
        idle_timeout: float = 300.0,
        connect_timeout: float = 5.0,
    ) -> TcpTransport:
        self = cls(
            on_message,
            server,
            client,
            on_unreachable=on_unreachable,
            max_connections=max_connections,
            idle_timeout=idle_timeout,
            connect_timeout=connect_timeout,
        )
        self._server = await asyncio.start_server(
            self._accepted,
            host,
            port,
            ssl=server,
            ssl_handshake_timeout=self.connect_timeout if server is not None else None,
        )
        sock = self._server.sockets[0].getsockname()
        self._local = (sock[0], sock[1])
        return self

    @property
    def local_address(self) -> Addr:
        return self._local

    def name(self, addr: Addr, host: str) -> None:
        """The SIP domain a destination address was resolved from: a TLS connection to it
        checks the certificate against that name and sends it as SNI (RFC 5922 §3.1)."""
        if len(self._names) >= 4096:
            self._names.pop(next(iter(self._names)))
        self._names[addr] = host

    def _forget(self, c: _Connection) -> None:
        self._inbound.discard(c)
        if self._conns.get(c.peer) is c:
            del self._conns[c.peer]

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        p = writer.get_extra_info("peername")
        peer: Addr = (p[0], p[1])
        if len(self._inbound) >= self.max_connections:
            # Over the limit: closed at once (DESIGN §5: nothing a peer sends grows without
            # bound).
            self.refused += 1
            writer.close()
            return
        self.accepted += 1
        c = _Connection(reader, writer, peer, self)
        self._inbound.add(c)
        self._conns[peer] = c

    async def _send_later(self, data: bytes, dest: Addr) -> None:
        fut = self._connecting.get(dest)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._connecting[dest] = fut
            name = self._names.get(dest)
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        dest[0],
                        dest[1],
                        ssl=self._client_ssl,
                        server_hostname=(name or dest[0]) if self._client_ssl else None,
                    ),
                    self.connect_timeout,
                )
                c = _Connection(reader, writer, dest, self)
                self._conns[dest] = c
                fut.set_result(c)
            except (OSError, asyncio.TimeoutError, ssl.SSLError) as e:
                fut.set_exception(OSError(str(e) or type(e).__name__))
                if self.on_unreachable is not None:
                    if isinstance(e, asyncio.TimeoutError):
                        why = "connect timed out"
                    elif isinstance(e, OSError) and e.errno and not isinstance(e, ssl.SSLError):
                        why = os.strerror(e.errno)
                    else:
                        why = str(e)
                    self.on_unreachable(dest, why)
            finally:
                del self._connecting[dest]
        with contextlib.suppress(OSError):
            (await fut).send(data)

    def send(self, data: bytes, dest: Addr) -> None:
        c = self._conns.get(dest)
        if c is not None:
            c.send(data)
            return
        # Connect, then send; a failure is reported through on_unreachable.
        t = asyncio.ensure_future(self._send_later(data, dest))
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for c in list(self._conns.values()):
            c.writer.close()
            c.task.cancel()
        for t in list(self._tasks):
            t.cancel()
        self._conns.clear()


async def open_transport(
    kind: str,
    host: str,
    port: int,
    on_message: OnMessage,
    tls: tuple[ssl.SSLContext, ssl.SSLContext] | None = None,
    *,
    on_unreachable: OnUnreachable | None = None,
    max_connections: int = 1024,
    idle_timeout: float = 300.0,
    connect_timeout: float = 5.0,
) -> Transport:
    if kind == "udp":
        return await UdpTransport.open(host, port, on_message, on_unreachable)
    if kind not in ("tcp", "tls"):
        raise ValueError(f"transport must be 'udp', 'tcp' or 'tls', not {kind!r}")
    if kind == "tls" and tls is None:
        raise ValueError("TLS needs SSL contexts (UserAgent: tls_cert, tls_key, tls_ca)")
    server, client = tls if tls is not None else (None, None)
    return await TcpTransport.open(
        host,
        port,
        on_message,
        server,
        client,
        on_unreachable=on_unreachable,
        max_connections=max_connections,
        idle_timeout=idle_timeout,
        connect_timeout=connect_timeout,
    )
