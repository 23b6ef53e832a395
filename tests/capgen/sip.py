"""SIP messages for the test captures, each with the row the messages table must hold for it.

Every value is fixed (Call-IDs, tags, branches): a capture is the same bytes on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

Addr = tuple[str, int]

REASONS = {100: "Trying", 180: "Ringing", 200: "OK", 404: "Not Found", 487: "Request Terminated"}


@dataclass(frozen=True)
class Sip:
    """One SIP message: its bytes and the columns sipwire must give it."""

    data: bytes
    call_id: str | None
    cseq: int | None
    cseq_method: str | None
    method: str | None  # None for a response
    status: int | None  # None for a request
    from_tag: str | None
    to_tag: str | None
    branch: str | None
    src: Addr
    dst: Addr
    transport: str  # the transport column: "udp", "tcp", "sctp", "ws"
    parse_error: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    def moved(self, src: Addr, dst: Addr, transport: str | None = None) -> Sip:
        """The same message seen with other addresses (as a tunnel's inner packet, say)."""
        return replace(self, src=src, dst=dst, transport=transport or self.transport)


def sdp(ip: str, port: int, *, pad: int = 0) -> bytes:
    """An audio offer; ``pad`` adds that many bytes of ``a=`` lines (a body that needs IP
    fragments)."""
    lines = [
        "v=0",
        f"o=capgen 1 1 IN IP{6 if ':' in ip else 4} {ip}",
        "s=-",
        f"c=IN IP{6 if ':' in ip else 4} {ip}",
        "t=0 0",
        f"m=audio {port} RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
    ]
    n = 0
    while pad > 0:
        line = f"a=x-pad{n}:" + "p" * min(70, max(1, pad - 14))
        lines.append(line)
        pad -= len(line) + 2
        n += 1
    return ("\r\n".join(lines) + "\r\n").encode()


def _host(a: Addr) -> str:
    return f"[{a[0]}]" if ":" in a[0] else a[0]


def request(
    method: str,
    call_id: str,
    cseq: int,
    src: Addr,
    dst: Addr,
    *,
    transport: str = "udp",
    from_tag: str = "ft1",
    to_tag: str | None = None,
    branch: str | None = None,
    body: bytes = b"",
    cseq_line: str | None = None,
) -> Sip:
    """A request from ``src`` to ``dst``. ``cseq_line`` replaces the CSeq header's value (a
    malformed CSeq: the row then has ``parse_error`` and no cseq)."""
    branch = branch or f"z9hG4bK{call_id.split('@')[0]}-{cseq}-{method.lower()}"
    via_t = {"ws": "WS", "sctp": "SCTP"}.get(transport, transport.upper())
    to = f"<sip:bob@{_host(dst)}>" + (f";tag={to_tag}" if to_tag else "")
    head = [
        f"{method} sip:bob@{_host(dst)}:{dst[1]} SIP/2.0",
        f"Via: SIP/2.0/{via_t} {_host(src)}:{src[1]};branch={branch}",
        "Max-Forwards: 70",
        f"From: <sip:alice@{_host(src)}>;tag={from_tag}",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq_line if cseq_line is not None else f'{cseq} {method}'}",
        f"Contact: <sip:alice@{_host(src)}:{src[1]}>",
    ]
    if body:
        head.append("Content-Type: application/sdp")
    head.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    bad = cseq_line is not None
    return Sip(
        data=data,
        call_id=call_id,
        cseq=None if bad else cseq,
        cseq_method=None if bad else method,
        method=method,
        status=None,
        from_tag=from_tag,
        to_tag=to_tag,
        branch=branch,
        src=src,
        dst=dst,
        transport=transport,
        parse_error=bad,
    )


def response(req: Sip, status: int, *, to_tag: str | None = "tt1", body: bytes = b"") -> Sip:
    """The response ``status`` to ``req``, sent back from its destination."""
    assert req.method is not None and req.cseq is not None
    reason = REASONS.get(status, "Whatever")
    to = f"<sip:bob@{_host(req.dst)}>" + (f";tag={to_tag}" if to_tag else "")
    via_t = {"ws": "WS", "sctp": "SCTP"}.get(req.transport, req.transport.upper())
    head = [
        f"SIP/2.0 {status} {reason}",
        f"Via: SIP/2.0/{via_t} {_host(req.src)}:{req.src[1]};branch={req.branch}",
        f"From: <sip:alice@{_host(req.src)}>;tag={req.from_tag}",
        f"To: {to}",
        f"Call-ID: {req.call_id}",
        f"CSeq: {req.cseq} {req.method}",
    ]
    if body:
        head.append("Content-Type: application/sdp")
    head.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    return Sip(
        data=data,
        call_id=req.call_id,
        cseq=req.cseq,
        cseq_method=req.method,
        method=None,
        status=status,
        from_tag=req.from_tag,
        to_tag=to_tag,
        branch=req.branch,
        src=req.dst,
        dst=req.src,
        transport=req.transport,
    )


def call(call_id: str, a: Addr, b: Addr, *, transport: str = "udp", pad: int = 0) -> list[Sip]:
    """A whole call as SIPp's uac/uas make it: INVITE, 100, 180, 200, ACK, BYE, 200."""
    inv = request("INVITE", call_id, 1, a, b, transport=transport, body=sdp(a[0], 40000, pad=pad))
    ack = request("ACK", call_id, 1, a, b, transport=transport, to_tag="tt1")
    bye = request("BYE", call_id, 2, a, b, transport=transport, to_tag="tt1")
    return [
        inv,
        response(inv, 100, to_tag=None),
        response(inv, 180),
        response(inv, 200, body=sdp(b[0], 50000)),
        ack,
        bye,
        response(bye, 200),
    ]
