"""asyncio transports for the user agent: UDP datagrams, TCP streams and TLS over TCP through
the standard ``ssl`` module (RFC 3261 §18, §26.3.1).

Each hands received messages (one datagram, or one message framed by
:class:`sipwire.StreamParser`) to a callback with the source address, and sends bytes to an
address. TCP keeps one connection per peer: connections the peer opened are found by their
source address, so responses go back on them (§18.2.2); CRLF keep-alives get a CRLF
(RFC 5626 §3.5.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from typing import Protocol

from sipwire._sipwire import StreamParser

Addr = tuple[str, int]
OnMessage = Callable[[bytes, Addr], None]


class Transport(Protocol):
    @property
    def local_address(self) -> Addr: ...
    def send(self, data: bytes, dest: Addr) -> None: ...
    async def close(self) -> None: ...


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, on_message: OnMessage) -> None:
        self.on_message = on_message

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        # Blank datagrams are keep-alives (RFC 5626 §4.4.1); nothing to parse.
        if data.strip():
            self.on_message(data, (addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        # ICMP errors: the transaction layer's timers handle the loss.
        pass


class UdpTransport:
    def __init__(self, transport: asyncio.DatagramTransport) -> None:
        self._t = transport
        sock = transport.get_extra_info("sockname")
        self._local: Addr = (sock[0], sock[1])

    @classmethod
    async def open(cls, host: str, port: int, on_message: OnMessage) -> UdpTransport:
        loop = asyncio.get_running_loop()
        t, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(on_message), local_addr=(host, port)
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
        on_message: OnMessage,
        on_closed: Callable[[_Connection], None],
    ) -> None:
        self.reader, self.writer, self.peer = reader, writer, peer
        self.on_message, self.on_closed = on_message, on_closed
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        framer = StreamParser()
        pings = 0
        try:
            while True:
                chunk = await self.reader.read(65536)
                if not chunk:
                    break
                framer.feed(chunk)
                for msg in framer:
                    self.on_message(bytes(msg), self.peer)
                if framer.pings > pings:
                    self.writer.write(b"\r\n" * (framer.pings - pings))
                    pings = framer.pings
        except (ConnectionError, OSError):
            pass
        finally:
            self.on_closed(self)
            self.writer.close()

    def send(self, data: bytes) -> None:
        self.writer.write(data)


class TcpTransport:
    """TCP, or TLS when given contexts: ``server`` for connections peers open (needs this
    side's certificate), ``client`` for the ones this side opens (verifies the peer)."""

    def __init__(
        self,
        on_message: OnMessage,
        server: ssl.SSLContext | None = None,
        client: ssl.SSLContext | None = None,
    ) -> None:
        self._on_message = on_message
        self._server_ssl = server
        self._client_ssl = client
        self._server: asyncio.AbstractServer | None = None
        self._conns: dict[Addr, _Connection] = {}
        self._connecting: dict[Addr, asyncio.Future[_Connection]] = {}
        self._local: Addr = ("127.0.0.1", 0)
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        on_message: OnMessage,
        server: ssl.SSLContext | None = None,
        client: ssl.SSLContext | None = None,
    ) -> TcpTransport:
        self = cls(on_message, server, client)
        self._server = await asyncio.start_server(self._accepted, host, port, ssl=server)
        sock = self._server.sockets[0].getsockname()
        self._local = (sock[0], sock[1])
        return self

    @property
    def local_address(self) -> Addr:
        return self._local

    def _forget(self, c: _Connection) -> None:
        if self._conns.get(c.peer) is c:
            del self._conns[c.peer]

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        p = writer.get_extra_info("peername")
        peer: Addr = (p[0], p[1])
        self._conns[peer] = _Connection(reader, writer, peer, self._on_message, self._forget)

    async def _send_later(self, data: bytes, dest: Addr) -> None:
        fut = self._connecting.get(dest)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._connecting[dest] = fut
            try:
                reader, writer = await asyncio.open_connection(
                    dest[0], dest[1], ssl=self._client_ssl
                )
                c = _Connection(reader, writer, dest, self._on_message, self._forget)
                self._conns[dest] = c
                fut.set_result(c)
            except OSError as e:
                fut.set_exception(e)
            finally:
                del self._connecting[dest]
        with contextlib.suppress(OSError):
            (await fut).send(data)

    def send(self, data: bytes, dest: Addr) -> None:
        c = self._conns.get(dest)
        if c is not None:
            c.send(data)
            return
        # Connect, then send; a failure shows as a transaction timeout.
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
) -> Transport:
    if kind == "udp":
        return await UdpTransport.open(host, port, on_message)
    if kind == "tcp":
        return await TcpTransport.open(host, port, on_message)
    if kind == "tls":
        if tls is None:
            raise ValueError("TLS needs SSL contexts (UserAgent: tls_cert, tls_key, tls_ca)")
        return await TcpTransport.open(host, port, on_message, *tls)
    raise ValueError(f"transport must be 'udp', 'tcp' or 'tls', not {kind!r}")
