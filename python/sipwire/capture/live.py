"""A live HEP collector: ``sipwire.capture.listen_hep`` receives HEP (v1, v2, v3) on UDP and
TCP, as Kamailio's ``siptrace``, OpenSIPS' ``proto_hep``, FreeSWITCH, Asterisk and heplify send
it to HOMER, and hands out the SIP messages as ``messages`` tables.

One background thread owns the sockets; decoding and the table are in Rust. Everything is
bounded: rows waiting to be taken (``max_rows``, more are dropped and counted), TCP connections
(``max_connections``, each closed after ``idle_timeout`` seconds without data) and the bytes a
connection may hold.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType

from sipwire._sipwire import HepFeed, Limits, Table

__all__ = ["HepListener", "listen_hep"]


class HepListener:
    """A running collector; see :func:`listen_hep`. Use it as a context manager, or call
    :meth:`stop`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        udp: bool,
        tcp: bool,
        feed: HepFeed,
        max_connections: int,
        idle_timeout: float,
    ) -> None:
        if not (udp or tcp):
            raise ValueError("listen_hep needs udp=True, tcp=True or both")
        self._feed = feed
        self._sel = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._ready = threading.Condition()
        self._max_connections = max_connections
        self._idle = idle_timeout
        self._conns: dict[socket.socket, tuple[int, float]] = {}
        self._next_conn = 0
        self.refused_connections = 0
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        try:
            if udp:
                self._udp = socket.socket(family, socket.SOCK_DGRAM)
                self._udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                self._udp.bind((host, port))
                port = self._udp.getsockname()[1]  # tcp takes the same port when 0 was asked
                self._udp.setblocking(False)
                self._sel.register(self._udp, selectors.EVENT_READ, "udp")
            if tcp:
                self._tcp = socket.socket(family, socket.SOCK_STREAM)
                self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self._tcp.bind((host, port))
                self._tcp.listen(64)
                self._tcp.setblocking(False)
                self._sel.register(self._tcp, selectors.EVENT_READ, "accept")
        except OSError:
            self._close_sockets()
            raise
        sock = self._udp or self._tcp
        assert sock is not None
        self.address: tuple[str, int] = sock.getsockname()[:2]
        self._thread = threading.Thread(target=self._run, name="sipwire-hep", daemon=True)
        self._thread.start()

    # -- the socket thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for key, _ in self._sel.select(timeout=0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if key.data == "udp":
                        self._read_udp(sock)
                    elif key.data == "accept":
                        self._accept(sock)
                    else:
                        self._read_tcp(sock)
                self._expire()
                if self._feed.pending:
                    with self._ready:
                        self._ready.notify_all()
        finally:
            self._close_sockets()
            with self._ready:
                self._ready.notify_all()

    def _read_udp(self, sock: socket.socket) -> None:
        now = time.time()
        for _ in range(256):  # a burst, then let the other sockets in
            try:
                data = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self._feed.packet(data, now)

    def _accept(self, sock: socket.socket) -> None:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        if len(self._conns) >= self._max_connections:
            self.refused_connections += 1
            conn.close()
            return
        conn.setblocking(False)
        self._next_conn += 1
        self._conns[conn] = (self._next_conn, time.monotonic())
        self._sel.register(conn, selectors.EVENT_READ, "tcp")

    def _read_tcp(self, sock: socket.socket) -> None:
        ident, _ = self._conns[sock]
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
            return
        self._conns[sock] = (ident, time.monotonic())
        self._feed.stream(ident, data, time.time())

    def _drop(self, sock: socket.socket) -> None:
        ident, _ = self._conns.pop(sock)
        self._feed.close(ident)
        self._sel.unregister(sock)
        sock.close()

    def _expire(self) -> None:
        limit = time.monotonic() - self._idle
        for sock in [s for s, (_, seen) in self._conns.items() if seen < limit]:
            self._drop(sock)

    def _close_sockets(self) -> None:
        for sock in list(self._conns):
            self._drop(sock)
        for s in (self._udp, self._tcp):
            if s is not None:
                try:
                    self._sel.unregister(s)
                except (KeyError, ValueError):
                    pass
                s.close()
        self._sel.close()

    # -- the caller's side ----------------------------------------------------------------

    def take(self) -> Table:
        """The messages received since the last take (possibly none)."""
        return self._feed.take()

    def wait(self, rows: int = 1, timeout: float | None = None) -> Table:
        """Waits until at least ``rows`` messages are waiting (or ``timeout`` seconds, or the
        listener stops), then takes them."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while self._feed.pending < rows and self._thread.is_alive():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._ready.wait(0.1 if left is None else min(left, 0.1))
        return self.take()

    def __iter__(self) -> Iterator[Table]:
        """Tables of new messages as they arrive, until :meth:`stop`."""
        while self._thread.is_alive() or self._feed.pending:
            t = self.wait(timeout=0.5)
            if len(t):
                yield t

    @property
    def stats(self) -> dict[str, int]:
        """The feed's counters, with ``refused_connections`` and ``open_connections``."""
        s = self._feed.stats()
        s["refused_connections"] = self.refused_connections
        s["open_connections"] = len(self._conns)
        return s

    def stop(self) -> None:
        """Closes the sockets; messages not yet taken can still be taken."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def __enter__(self) -> HepListener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def listen_hep(
    host: str = "127.0.0.1",
    port: int = 9060,
    *,
    udp: bool = True,
    tcp: bool = True,
    strict: bool = False,
    limits: Limits | None = None,
    raw: bool = False,
    max_rows: int = 1_000_000,
    max_connections: int = 256,
    max_connection_bytes: int = 131_072,
    idle_timeout: float = 300.0,
) -> HepListener:
    """Listens for HEP on ``host:port`` (UDP and TCP; port 0 picks a free one, see
    ``.address``) and collects the SIP messages it carries, with the addresses and capture
    times HEP gives. ``for table in listener`` yields ``messages`` tables as they arrive;
    ``listener.wait(rows, timeout)`` and ``listener.take()`` pull them; ``stop()`` ends it.

    ``max_rows`` bounds the messages waiting to be taken (more are dropped, counted in
    ``stats['dropped_rows']``); ``max_connections`` the TCP senders at once (more are refused),
    each closed after ``idle_timeout`` seconds of silence.
    """
    feed = HepFeed(
        strict=strict,
        limits=limits,
        raw=raw,
        max_rows=max_rows,
        max_connections=max_connections,
        max_connection_bytes=max_connection_bytes,
    )
    return HepListener(
        host,
        port,
        udp=udp,
        tcp=tcp,
        feed=feed,
        max_connections=max_connections,
        idle_timeout=idle_timeout,
    )
