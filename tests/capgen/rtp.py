"""Test captures with RTP, RTCP and RFC 4733 telephone-events, built with scapy.

Each scenario function writes one classic pcap (Ethernet, microsecond timestamps) and returns
what it put there (streams, digits) so that a test can check a reader against it and against
``tshark -q -z rtp,streams``. Everything is deterministic: random figures come from a seeded
``random.Random``, and times are whole microseconds from a fixed epoch so that no float rounding
creeps into the capture.

Scenarios:

- :func:`call`: a SIP INVITE / 200 OK over UDP whose SDPs announce both media endpoints
  (PCMU, PCMA, telephone-event 101), then RTP both ways with loss, reordering, a duplicate,
  irregular arrival times, a sequence wrap at 65535 and a talkspurt (marker, timestamp jump);
  DTMF digits as telephone-events with their three redundant end packets; RTCP SR and RR in
  compound packets (with SDES) on the RTCP ports.
- :func:`two_ssrcs`: one 5-tuple carrying two SSRCs interleaved (SDP announced).
- :func:`no_sdp`: RTP whose signalling was not captured (found only heuristically), with DNS
  and junk datagrams around it that must not be taken for RTP.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Union

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapWriter

EPOCH_US = 1_700_000_000_000_000
"""Capture start, microseconds since the Unix epoch."""

PathLike = Union[str, Path]


# --- RTP, RTCP and telephone-event payloads -------------------------------------------------


def rtp(
    seq: int,
    ts: int,
    ssrc: int,
    pt: int,
    payload: bytes = b"\xff" * 160,
    *,
    marker: bool = False,
    csrcs: tuple[int, ...] = (),
    ext: bytes | None = None,
    padding: int = 0,
) -> bytes:
    """An RTP packet (RFC 3550 §5.1). ``ext`` is the extension body (a multiple of 4 bytes)."""
    b0 = 0x80 | (0x20 if padding else 0) | (0x10 if ext is not None else 0) | len(csrcs)
    b1 = (0x80 if marker else 0) | pt
    out = struct.pack("!BBHII", b0, b1, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
    out += b"".join(struct.pack("!I", c) for c in csrcs)
    if ext is not None:
        out += struct.pack("!HH", 0xBEDE, len(ext) // 4) + ext
    out += payload
    if padding:
        out += b"\x00" * (padding - 1) + bytes([padding])
    return out


def telephone_event(event: int, *, end: bool, volume: int, duration: int) -> bytes:
    """An RFC 4733 §2.3 event payload: event, E|R|volume, duration."""
    return struct.pack("!BBH", event, (0x80 if end else 0) | (volume & 0x3F), duration)


@dataclass
class ReportBlock:
    """One RTCP report block (RFC 3550 §6.4.1)."""

    ssrc: int
    fraction_lost: int
    cumulative_lost: int
    highest_seq: int
    jitter: int
    lsr: int = 0
    dlsr: int = 0

    def pack(self) -> bytes:
        cum = self.cumulative_lost & 0xFFFFFF
        return struct.pack(
            "!IIIIII",
            self.ssrc,
            (self.fraction_lost << 24) | cum,
            self.highest_seq,
            self.jitter,
            self.lsr,
            self.dlsr,
        )


def rtcp_sr(
    ssrc: int,
    ntp: int,
    rtp_ts: int,
    packets: int,
    octets: int,
    blocks: tuple[ReportBlock, ...] = (),
) -> bytes:
    """An RTCP sender report (RFC 3550 §6.4.1)."""
    body = struct.pack("!IQIII", ssrc, ntp, rtp_ts, packets, octets)
    body += b"".join(b.pack() for b in blocks)
    return struct.pack("!BBH", 0x80 | len(blocks), 200, len(body) // 4) + body


def rtcp_rr(ssrc: int, blocks: tuple[ReportBlock, ...] = ()) -> bytes:
    """An RTCP receiver report (RFC 3550 §6.4.2)."""
    body = struct.pack("!I", ssrc) + b"".join(b.pack() for b in blocks)
    return struct.pack("!BBH", 0x80 | len(blocks), 201, len(body) // 4) + body


def rtcp_sdes(ssrc: int, cname: bytes) -> bytes:
    """An RTCP SDES with one chunk holding a CNAME (RFC 3550 §6.5), padded to 32 bits."""
    chunk = struct.pack("!I", ssrc) + bytes([1, len(cname)]) + cname + b"\x00"
    chunk += b"\x00" * (-len(chunk) % 4)
    return struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk


def rtcp_bye(ssrc: int) -> bytes:
    """An RTCP BYE for one SSRC (RFC 3550 §6.6)."""
    return struct.pack("!BBHI", 0x81, 203, 1, ssrc)


# --- SIP with SDP ---------------------------------------------------------------------------


def sdp(ip: str, port: int, pts: str, extra: str = "") -> bytes:
    family = "IP6" if ":" in ip else "IP4"
    return (
        "v=0\r\n"
        f"o=- 1 1 IN {family} {ip}\r\n"
        "s=-\r\n"
        f"c=IN {family} {ip}\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP {pts}\r\n"
        f"{extra}"
        "a=sendrecv\r\n"
    ).encode()


def sip(start: str, call_id: str, cseq: str, frm: str, to: str, via: str, body: bytes) -> bytes:
    head = (
        f"{start}\r\n"
        f"Via: SIP/2.0/UDP {via}:5060;branch=z9hG4bK{cseq.split()[0]}{len(call_id)}\r\n"
        f"From: <sip:alice@{frm}>;tag=a1\r\n"
        f"To: <sip:bob@{to}>" + (";tag=b2" if start.startswith("SIP/2.0") else "") + "\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq}\r\n"
        f"Contact: <sip:{via}:5060>\r\n"
        "Content-Type: application/sdp\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


# --- the capture writer ---------------------------------------------------------------------


@dataclass
class Datagram:
    time_us: int  # from EPOCH_US
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes


@dataclass
class Capture:
    """What a scenario put in its capture."""

    path: Path
    datagrams: list[Datagram] = field(default_factory=list)
    # (src_ip, src_port, dst_ip, dst_port, ssrc) of the RTP streams tshark should list.
    streams: list[tuple[str, int, str, int, int]] = field(default_factory=list)
    # (ssrc, digit) of each DTMF event, in order.
    digits: list[tuple[int, str]] = field(default_factory=list)
    call_id: str | None = None


def write(path: PathLike, datagrams: list[Datagram]) -> Path:
    """Writes the datagrams, in time order (stable), as Ethernet/IPv4/UDP frames."""
    path = Path(path)
    out = PcapWriter(str(path), linktype=1, sync=False)
    for i, d in enumerate(sorted(datagrams, key=lambda d: d.time_us)):
        ip = IPv6(src=d.src, dst=d.dst) if ":" in d.src else IP(src=d.src, dst=d.dst, id=i & 0xFFFF)
        frame = (
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / ip
            / UDP(sport=d.sport, dport=d.dport)
            / Raw(d.payload)
        )
        frame.time = Decimal(EPOCH_US + d.time_us) / Decimal(1_000_000)
        out.write(frame)
    out.close()
    return path


# --- scenarios ------------------------------------------------------------------------------

A_IP, B_IP = "10.0.0.1", "10.0.0.2"
A_RTP, B_RTP = 40000, 50000
SSRC_A, SSRC_B = 0x1111AAAA, 0x2222BBBB
DIGITS = {"0": 0, "1": 1, "5": 5, "9": 9, "*": 10, "#": 11, "A": 12, "D": 15}


def _audio_a_to_b(rng: random.Random) -> list[Datagram]:
    """A -> B: 300 PCMU packets of 20 ms from seq 65400 (wraps at 65535), loss of 3 packets,
    two swapped in arrival order, one duplicated, +-4 ms arrival noise and a 200 ms talkspurt
    gap with the marker at index 200."""
    out = []
    ts0, seq0 = 0x7FFF0000, 65400
    lost = {10, 11, 50}
    gap = 0
    for i in range(300):
        if i == 200:
            gap = 1600  # 200 ms of silence: timestamp and arrival jump together
        ts = ts0 + i * 160 + gap
        arrival = 1_000_000 + i * 20_000 + gap * 125 + rng.randint(-4000, 4000)
        if i == 21:
            arrival -= 15_000  # arrives before index 20: reordered
        if i in lost:
            continue
        pkt = rtp(seq0 + i, ts, SSRC_A, 0, marker=(i == 200))
        out.append(Datagram(arrival, A_IP, A_RTP, B_IP, B_RTP, pkt))
        if i == 30:
            out.append(Datagram(arrival + 300, A_IP, A_RTP, B_IP, B_RTP, pkt))  # duplicate
    return out


def _audio_b_to_a(rng: random.Random, digits: str) -> tuple[list[Datagram], list[tuple[int, str]]]:
    """B -> A: PCMU every 20 ms, the audio replaced by telephone-events (PT 101) for each digit:
    start packet with the marker, updates every 20 ms with a growing duration, then three
    end packets with the same final duration (RFC 4733 §2.5.1.4)."""
    out: list[Datagram] = []
    seq, ts0 = 1000, 5000
    t_slot = 0
    starts = {40 + 60 * k: d for k, d in enumerate(digits)}
    slot = 0
    events = []
    while slot < 250:
        arrival = 1_010_000 + slot * 20_000 + rng.randint(-1500, 1500)
        if slot in starts:
            d = starts[slot]
            code = DIGITS[d]
            ev_ts = ts0 + slot * 160
            updates = 6
            for u in range(updates):
                pl = telephone_event(code, end=False, volume=10, duration=160 * (u + 1))
                at = 1_010_000 + (slot + u) * 20_000 + rng.randint(-1500, 1500)
                out.append(
                    Datagram(
                        at,
                        B_IP,
                        B_RTP,
                        A_IP,
                        A_RTP,
                        rtp(seq, ev_ts, SSRC_B, 101, pl, marker=(u == 0)),
                    )
                )
                seq += 1
            final = 160 * (updates + 1)
            for r in range(3):
                pl = telephone_event(code, end=True, volume=10, duration=final)
                at = 1_010_000 + (slot + updates) * 20_000 + r * 5_000
                out.append(Datagram(at, B_IP, B_RTP, A_IP, A_RTP, rtp(seq, ev_ts, SSRC_B, 101, pl)))
                seq += 1
            events.append((SSRC_B, d))
            slot += updates + 1
            continue
        ts = ts0 + slot * 160
        out.append(Datagram(arrival, B_IP, B_RTP, A_IP, A_RTP, rtp(seq, ts, SSRC_B, 0)))
        seq += 1
        slot += 1
        t_slot += 1
    return out, events


def _rtcp(rng: random.Random) -> list[Datagram]:
    """Compound RTCP: A sends SR+SDES about B's stream, B sends RR+SDES about A's, twice each,
    and a final BYE from A."""
    out = []
    for k, t in enumerate((2_500_000, 5_000_000)):
        sr = rtcp_sr(
            SSRC_A,
            ntp=(3_900_000_000 + k) << 32,
            rtp_ts=0x7FFF0000 + 8000 * (k + 1),
            packets=100 * (k + 1),
            octets=16000 * (k + 1),
            blocks=(ReportBlock(SSRC_B, 0, 0, 1100 + 100 * k, 12 + k, 0, 0),),
        )
        out.append(
            Datagram(t, A_IP, A_RTP + 1, B_IP, B_RTP + 1, sr + rtcp_sdes(SSRC_A, b"alice@a"))
        )
        rr = rtcp_rr(
            SSRC_B, (ReportBlock(SSRC_A, 3 + 4 * k, 2 + k, 65400 + 120 * (k + 1), 40 + 8 * k),)
        )
        out.append(
            Datagram(t + 7000, B_IP, B_RTP + 1, A_IP, A_RTP + 1, rr + rtcp_sdes(SSRC_B, b"bob@b"))
        )
    out.append(
        Datagram(7_000_000, A_IP, A_RTP + 1, B_IP, B_RTP + 1, rtcp_rr(SSRC_A) + rtcp_bye(SSRC_A))
    )
    return out


def call(path: PathLike, *, digits: str = "1#9") -> Capture:
    """SIP INVITE/200 with SDP, RTP both ways, DTMF from B, RTCP SR/RR. See the module doc."""
    rng = random.Random(12)
    call_id = "rtp-call-1@10.0.0.1"
    offer = sdp(A_IP, A_RTP, "0 8 101", "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n")
    answer = sdp(B_IP, B_RTP, "0 101", "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n")
    dgs = [
        Datagram(
            0,
            A_IP,
            5060,
            B_IP,
            5060,
            sip(f"INVITE sip:bob@{B_IP} SIP/2.0", call_id, "1 INVITE", A_IP, B_IP, A_IP, offer),
        ),
        Datagram(
            500_000,
            B_IP,
            5060,
            A_IP,
            5060,
            sip("SIP/2.0 200 OK", call_id, "1 INVITE", A_IP, B_IP, A_IP, answer),
        ),
    ]
    dgs += _audio_a_to_b(rng)
    b, events = _audio_b_to_a(rng, digits)
    dgs += b
    dgs += _rtcp(rng)
    cap = Capture(Path(path), dgs, call_id=call_id)
    cap.streams = [(A_IP, A_RTP, B_IP, B_RTP, SSRC_A), (B_IP, B_RTP, A_IP, A_RTP, SSRC_B)]
    cap.digits = events
    write(path, dgs)
    return cap


def two_ssrcs(path: PathLike) -> Capture:
    """One 5-tuple, two SSRCs interleaved (PCMA, 20 ms), with SDP; the second SSRC starts
    half a second later and loses two packets."""
    rng = random.Random(7)
    call_id = "rtp-two-ssrc@10.0.1.1"
    a, b = "10.0.1.1", "10.0.1.2"
    offer = sdp(a, 42000, "8")
    answer = sdp(b, 52000, "8")
    dgs = [
        Datagram(
            0,
            a,
            5060,
            b,
            5060,
            sip(f"INVITE sip:bob@{b} SIP/2.0", call_id, "1 INVITE", a, b, a, offer),
        ),
        Datagram(
            100_000, b, 5060, a, 5060, sip("SIP/2.0 200 OK", call_id, "1 INVITE", a, b, a, answer)
        ),
    ]
    for i in range(150):
        at = 200_000 + i * 20_000 + rng.randint(-2500, 2500)
        dgs.append(Datagram(at, a, 42000, b, 52000, rtp(100 + i, 1000 + 160 * i, 0x33333333, 8)))
    for i in range(120):
        if i in (33, 77):
            continue
        at = 700_000 + i * 20_000 + 3000 + rng.randint(-6000, 6000)
        dgs.append(Datagram(at, a, 42000, b, 52000, rtp(40000 + i, 99 + 160 * i, 0x44444444, 8)))
    cap = Capture(Path(path), dgs, call_id=call_id)
    cap.streams = [(a, 42000, b, 52000, 0x33333333), (a, 42000, b, 52000, 0x44444444)]
    write(path, dgs)
    return cap


def dns_query(qid: int, name: bytes) -> bytes:
    labels = b"".join(bytes([len(p)]) + p for p in name.split(b".")) + b"\x00"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + struct.pack("!HH", 1, 1)


def no_sdp(path: PathLike) -> Capture:
    """RTP without signalling: a PCMA stream (120 packets) and a stream of dynamic PT 96 (no
    rtpmap anywhere, so no clock rate) among DNS queries whose first byte looks like RTP
    version 2, a lone RTP-looking datagram never confirmed, and a SIP OPTIONS on a high port."""
    rng = random.Random(3)
    c, d = "192.168.1.10", "192.168.1.20"
    dgs = []
    for i in range(120):
        at = 100_000 + i * 20_000 + rng.randint(-3000, 3000)
        dgs.append(Datagram(at, c, 16400, d, 16500, rtp(7000 + i, 123456 + 160 * i, 0xCAFE0001, 8)))
    for i in range(60):
        at = 150_000 + i * 30_000 + rng.randint(-2000, 2000)
        dgs.append(
            Datagram(
                at, d, 17000, c, 17100, rtp(500 + i, 9000 + 2880 * i, 0xCAFE0002, 96, b"\x11" * 60)
            )
        )
    for k in range(6):
        dgs.append(
            Datagram(
                120_000 + k * 400_000,
                c,
                40000 + k,
                "192.168.1.1",
                53,
                dns_query(0x8000 + k, b"example.org"),
            )
        )
    dgs.append(Datagram(900_000, c, 31000, d, 31002, rtp(1, 1, 0xDEAD0001, 0)))
    options = (
        b"OPTIONS sip:x@192.168.1.20:35060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.10:35060;branch=z9hG4bK1\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    dgs.append(Datagram(950_000, c, 35060, d, 35060, options))
    cap = Capture(Path(path), dgs)
    cap.streams = [(c, 16400, d, 16500, 0xCAFE0001), (d, 17000, c, 17100, 0xCAFE0002)]
    write(path, dgs)
    return cap


def quirks(path: PathLike) -> Capture:
    """Edge cases of the statistics, with SDP: on one 5-tuple, SSRC 0x51 whose timestamp wraps
    at 2^32 and sequence at 65535, with comfort noise (PT 13) in a pause, a switch from PCMU
    to PCMA, a packet three places late and a sequence restart; SSRC 0x52 whose timestamps lie
    more than 2^31 away from 0x51's; and an IPv6 call (PCMU, 30 ms packets)."""
    rng = random.Random(99)
    a, b = "10.0.2.1", "10.0.2.2"
    cid = "rtp-quirks@10.0.2.1"
    dgs = [
        Datagram(
            0,
            a,
            5060,
            b,
            5060,
            sip(f"INVITE sip:bob@{b} SIP/2.0", cid, "1 INVITE", a, b, a, sdp(a, 20000, "0 8 13")),
        ),
        Datagram(
            50_000,
            b,
            5060,
            a,
            5060,
            sip("SIP/2.0 200 OK", cid, "1 INVITE", a, b, a, sdp(b, 20002, "0 8 13")),
        ),
    ]
    seq, ts = 65530, 0xFFFFF000
    t = 100_000
    late = None
    for i in range(160):
        pt, payload, marker = 0, b"\xd5" * 160, False
        if 60 <= i < 66:
            pt, payload = 13, b"\x40"  # comfort noise during a pause
        if i == 66:
            marker = True
        if i >= 90:
            pt = 8
        if i == 130:
            seq -= 1000  # the sender restarted its sequence
        at = t + i * 20_000 + rng.randint(-3000, 3000)
        pkt = rtp(seq, ts, 0x51, pt, payload, marker=marker)
        if i == 40:
            late = (at + 61_000, pkt)  # three packets late
        else:
            dgs.append(Datagram(at, a, 20000, b, 20002, pkt))
        seq = (seq + 1) & 0xFFFF
        ts = (ts + 160) & 0xFFFFFFFF
    assert late is not None
    dgs.append(Datagram(late[0], a, 20000, b, 20002, late[1]))
    for i in range(50):
        at = 400_000 + i * 20_000 + 777 + rng.randint(-2000, 2000)
        dgs.append(Datagram(at, a, 20000, b, 20002, rtp(9 + i, 0x90000000 + 160 * i, 0x52, 0)))
    a6, b6 = "2001:db8::1", "2001:db8::2"
    cid6 = "rtp-v6@[2001:db8::1]"
    dgs += [
        Datagram(
            10_000,
            a6,
            5060,
            b6,
            5060,
            sip(
                f"INVITE sip:bob@[{b6}] SIP/2.0",
                cid6,
                "1 INVITE",
                f"[{a6}]",
                f"[{b6}]",
                f"[{a6}]",
                sdp(a6, 30000, "0", "a=ptime:30\r\n"),
            ),
        ),
        Datagram(
            60_000,
            b6,
            5060,
            a6,
            5060,
            sip(
                "SIP/2.0 200 OK",
                cid6,
                "1 INVITE",
                f"[{a6}]",
                f"[{b6}]",
                f"[{a6}]",
                sdp(b6, 30002, "0", "a=ptime:30\r\n"),
            ),
        ),
    ]
    for i in range(80):
        at = 120_000 + i * 30_000 + rng.randint(-5000, 5000)
        dgs.append(
            Datagram(at, b6, 30002, a6, 30000, rtp(3000 + i, 240 * i, 0x66, 0, b"\xff" * 240))
        )
    cap = Capture(Path(path), dgs, call_id=cid)
    cap.streams = [
        (a, 20000, b, 20002, 0x51),
        (a, 20000, b, 20002, 0x52),
        (b6, 30002, a6, 30000, 0x66),
    ]
    write(path, dgs)
    return cap


SCENARIOS = {"call": call, "two_ssrcs": two_ssrcs, "no_sdp": no_sdp, "quirks": quirks}


def write_all(directory: PathLike) -> dict[str, Capture]:
    """Writes every scenario as ``<name>.pcap`` in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return {name: fn(directory / f"{name}.pcap") for name, fn in SCENARIOS.items()}


if __name__ == "__main__":
    import sys

    for name, cap in write_all(sys.argv[1] if len(sys.argv) > 1 else ".").items():
        print(name, cap.path)
