"""Generated SIPp-like captures for the correlator bench and the memory script: the same calls
as ``benches/rust/txn.rs`` (the default SIPp ``uac`` scenario against a ``uas``), in Python.

Each call: INVITE with an SDP offer, 100 Trying, 180 Ringing, 200 OK with the SDP answer, ACK
(a branch of its own, as for a 2xx), BYE, 200 OK. Distinct Call-IDs, branches and tags; 64
caller hosts ``10.20.0.x:5060``, one callee ``192.168.10.20:5060``. One call starts every 2 ms
(±1 ms), rings 20–50 ms later, is answered 0.1–0.3 s after that and hung up 0.5–1.5 s after
the ACK, so ~600 calls overlap and their messages interleave while each call stays in order.
The times come from the same xorshift64 generator and seed as the Rust bench.

Not a bench itself (no ``test_`` prefix): ``capture(calls)`` gives ``[(time, src, dst, bytes),
...]`` in time order; ``write_records``/``read_records`` store messages in a file (a 4-byte
big-endian length before each message).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

PID = 28_431
UAS = ("192.168.10.20", 5060)
UAS_HP = f"{UAS[0]}:{UAS[1]}"

Addr = tuple[str, int]
Packet = tuple[float, Addr, Addr, bytes]

_MASK = (1 << 64) - 1


class _Rng:
    """xorshift64, as in benches/rust/txn.rs."""

    def __init__(self, seed: int = 0x9E37_79B9_7F4A_7C15) -> None:
        self.s = seed

    def next(self) -> int:
        s = self.s
        s ^= (s << 13) & _MASK
        s ^= s >> 7
        s ^= (s << 17) & _MASK
        self.s = s
        return s

    def range(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * (self.next() >> 11) / float(1 << 53)


def _sdp(ip: str, port: int) -> str:
    return (
        f"v=0\r\no=user1 53655765 2353687637 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )


def call_messages(n: int) -> tuple[Addr, list[tuple[bool, bytes]]]:
    """Call ``n``'s caller address and its seven messages in order, each with whether it goes
    caller -> callee."""
    uac = (f"10.20.0.{1 + n % 64}", 5060)
    uac_hp = f"{uac[0]}:{uac[1]}"
    call_id = f"{n}-{PID}@{uac[0]}"
    frm = f"sipp <sip:sipp@{uac_hp}>;tag={PID}SIPpTag00{n}"
    to_tagged = f"service <sip:service@{UAS_HP}>;tag={PID}SIPpTag01{n}"
    to_bare = f"service <sip:service@{UAS_HP}>"

    def via(i: int) -> str:
        return f"SIP/2.0/UDP {uac_hp};branch=z9hG4bK-{PID}-{n}-{i}"

    def request(method: str, branch: int, cseq: str, tagged: bool) -> bytes:
        body = _sdp(uac[0], 6000 + 2 * (n % 4000)) if method == "INVITE" else ""
        ct = "Content-Type: application/sdp\r\n" if body else ""
        return (
            f"{method} sip:service@{UAS_HP} SIP/2.0\r\nVia: {via(branch)}\r\nFrom: {frm}\r\n"
            f"To: {to_tagged if tagged else to_bare}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n"
            f"Contact: sip:sipp@{uac_hp}\r\nMax-Forwards: 70\r\nSubject: Performance Test\r\n"
            f"{ct}Content-Length: {len(body)}\r\n\r\n{body}"
        ).encode()

    def response(status: str, branch: int, cseq: str, with_sdp: bool) -> bytes:
        body = _sdp(UAS[0], 20_000 + n % 10_000) if with_sdp else ""
        ct = "Content-Type: application/sdp\r\n" if body else ""
        to = to_bare if status.startswith("100") else to_tagged
        return (
            f"SIP/2.0 {status}\r\nVia: {via(branch)}\r\nFrom: {frm}\r\nTo: {to}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq}\r\nContact: <sip:{UAS_HP};transport=UDP>\r\n"
            f"{ct}Content-Length: {len(body)}\r\n\r\n{body}"
        ).encode()

    return uac, [
        (True, request("INVITE", 0, "1 INVITE", False)),
        (False, response("100 Trying", 0, "1 INVITE", False)),
        (False, response("180 Ringing", 0, "1 INVITE", False)),
        (False, response("200 OK", 0, "1 INVITE", True)),
        (True, request("ACK", 4, "1 ACK", True)),
        (True, request("BYE", 5, "2 BYE", True)),
        (False, response("200 OK", 5, "2 BYE", False)),
    ]


def capture(calls: int) -> list[Packet]:
    """``calls`` calls (7 messages each) as ``(time, src, dst, bytes)`` in time order."""
    rng = _Rng()
    events: list[tuple[float, bool, bytes, Addr]] = []
    for n in range(calls):
        uac, msgs = call_messages(n)
        t0 = n * 0.002 + rng.range(0.0, 0.001)
        ring = t0 + rng.range(0.02, 0.05)
        answer = ring + rng.range(0.1, 0.3)
        hangup = answer + 0.002 + rng.range(0.5, 1.5)
        times = (t0, t0 + 0.001, ring, answer, answer + 0.002, hangup, hangup + 0.002)
        for t, (up, data) in zip(times, msgs):
            events.append((t, up, data, uac))
    events.sort(key=lambda e: e[0])  # stable: a call's same-time messages keep their order
    return [(t, uac, UAS, d) if up else (t, UAS, uac, d) for t, up, d, uac in events]


def write_records(f: BinaryIO, messages: Iterable[bytes]) -> int:
    """Writes each message after its 4-byte big-endian length; returns the bytes written."""
    total = 0
    for m in messages:
        f.write(struct.pack(">I", len(m)))
        f.write(m)
        total += 4 + len(m)
    return total


def read_records(f: BinaryIO) -> Iterator[bytes]:
    """The messages of a file written by ``write_records``, one at a time."""
    while True:
        head = f.read(4)
        if not head:
            return
        (n,) = struct.unpack(">I", head)
        yield f.read(n)


def split_records(data: bytes) -> list[bytes]:
    """Every message of a file written by ``write_records``, from its whole contents."""
    out = []
    i = 0
    while i < len(data):
        (n,) = struct.unpack_from(">I", data, i)
        out.append(data[i + 4 : i + 4 + n])
        i += 4 + n
    return out
