"""A small SIP server with a deliberate bug, for testing ``sipwire fuzz``.

It answers requests the way a simple registrar/UAS would (200 to OPTIONS, REGISTER, MESSAGE,
BYE, CANCEL; 486 to INVITE; nothing to ACK or to responses; 400 to what it cannot read), over
UDP or TCP. Like a C server that keeps header values as NUL-terminated strings, it dies on a
header line holding a NUL byte: the process exits with status 70. With ``--delay S`` it dies
S seconds after that message and answers everything meanwhile, like a server whose worker
thread or watchdog takes it down a moment later. With ``--die-once FILE`` it dies only when
FILE does not exist yet (and makes it): a bug that does not reproduce, for flaky finds.

    python fragile_server.py --transport udp --port 5060 [--pidfile F] [--delay S]

Standard library only, so it starts fast when a campaign restarts it.
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import sys
import threading

CRASH_STATUS = 70
#: Seconds between the killing message and the exit (--delay).
DELAY = 0.0
#: Die only when this file does not exist yet (--die-once).
ONCE: str | None = None
_dying = threading.Event()


def _exit() -> None:
    sys.stderr.write("fragile_server: NUL in a header line, exiting\n")
    sys.stderr.flush()
    os._exit(CRASH_STATUS)


def crash_on_bad_headers(head: bytes) -> None:
    """The bug: a NUL in any header line (not the start line) kills the process, at once
    or DELAY seconds later."""
    for line in head.split(b"\r\n")[1:]:
        if b"\x00" in line:
            if ONCE is not None:
                try:
                    os.close(os.open(ONCE, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                except FileExistsError:
                    return
            if DELAY <= 0:
                _exit()
            if not _dying.is_set():
                _dying.set()
                timer = threading.Timer(DELAY, _exit)
                timer.daemon = True
                timer.start()
            return


def answer(data: bytes) -> bytes | None:
    """The response to one request, or None (ACK, responses, nothing readable)."""
    head = data.split(b"\r\n\r\n", 1)[0]
    crash_on_bad_headers(head)
    lines = head.split(b"\r\n")
    start = lines[0].split(b" ")
    if len(start) != 3 or start[0] == b"SIP/2.0" or start[2] != b"SIP/2.0":
        return None
    method = start[0]
    keep: list[bytes] = []
    for line in lines[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"via", b"v", b"from", b"f", b"to", b"t", b"call-id", b"i", b"cseq"):
            keep.append(line)
    if method == b"ACK":
        return None
    names = {k.split(b":", 1)[0].strip().lower() for k in keep}
    if not {b"call-id", b"i"} & names or b"cseq" not in names:
        status = b"400 Bad Request"
    elif method == b"INVITE":
        status = b"486 Busy Here"
    elif method in (b"OPTIONS", b"REGISTER", b"MESSAGE", b"BYE", b"CANCEL"):
        status = b"200 OK"
    else:
        status = b"501 Not Implemented"
    out = [b"SIP/2.0 " + status]
    for line in keep:
        lower = line.lower()
        if (lower.startswith(b"to:") or lower.startswith(b"t:")) and b";tag=" not in lower:
            line += b";tag=fragile"
        out.append(line)
    out += [b"Server: fragile", b"Content-Length: 0"]
    return b"\r\n".join(out) + b"\r\n\r\n"


def serve_udp(host: str, port: int) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, port))
    while True:
        data, peer = s.recvfrom(65535)
        reply = answer(data)
        if reply is not None:
            # Back to where it came from (RFC 3581 rport behaviour, always).
            s.sendto(reply, peer)


def frames(buf: bytearray) -> list[bytes]:
    """Takes the whole messages off the front of a TCP buffer (Content-Length framing)."""
    out = []
    while True:
        while buf.startswith(b"\r\n"):
            del buf[:2]
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > 65536:
                raise ValueError("header section too long")
            return out
        length = 0
        for line in bytes(buf[:end]).split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() in (b"content-length", b"l"):
                length = int(value.strip())
                if not 0 <= length <= 65536:
                    raise ValueError("bad Content-Length")
        total = end + 4 + length
        if len(buf) < total:
            return out
        out.append(bytes(buf[:total]))
        del buf[:total]


def serve_tcp(host: str, port: int) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(64)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    buffers: dict[socket.socket, bytearray] = {}
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if sock is listener:
                conn, _ = listener.accept()
                buffers[conn] = bytearray()
                sel.register(conn, selectors.EVENT_READ)
                continue
            try:
                data = sock.recv(65536)
            except ConnectionError:
                data = b""
            buf = buffers[sock]
            buf += data
            try:
                messages = frames(buf) if data else []
            except ValueError:
                data = b""  # unreadable framing: close, as servers do
                messages = []
            for m in messages:
                reply = answer(m)
                if reply is not None:
                    try:
                        sock.sendall(reply)
                    except OSError:
                        break
            if not data:
                sel.unregister(sock)
                del buffers[sock]
                sock.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--transport", choices=["udp", "tcp"], default="udp")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pidfile")
    p.add_argument("--delay", type=float, default=0.0, help="die this many seconds later")
    p.add_argument("--die-once", help="die only if this file does not exist (then make it)")
    args = p.parse_args()
    global DELAY, ONCE
    DELAY, ONCE = args.delay, args.die_once
    if args.pidfile:
        tmp = f"{args.pidfile}.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(str(os.getpid()))
        os.replace(tmp, args.pidfile)
    if args.transport == "udp":
        serve_udp(args.host, args.port)
    else:
        serve_tcp(args.host, args.port)


if __name__ == "__main__":
    main()
