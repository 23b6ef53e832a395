"""Generated captures for the capture benchmarks: the SIPp-like calls of ``capture.py`` written
as Ethernet/IPv4/UDP pcap, optionally with each call's RTP (PCMU, 20 ms, both directions from
answer to hang-up, as the SDP of the INVITE and 200 announces).

    python benches/pcapgen.py OUT.pcap --calls 20000 [--rtp] [--repeat K]

``--repeat`` writes the calls K times with shifted Call-IDs and times, for captures of a GB or
more without holding them in memory. Not a bench itself (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

sys.path.insert(0, str(Path(__file__).parent))
import capture

EPOCH = 1_700_000_000
MAC = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00"


def _ipv4_udp(src: capture.Addr, dst: capture.Addr, payload: bytes, ident: int) -> bytes:
    udp_len = 8 + len(payload)
    total = 20 + udp_len
    ip = struct.pack(
        ">BBHHHBBH4s4s",
        0x45,
        0,
        total,
        ident & 0xFFFF,
        0x4000,
        64,
        17,
        0,
        socket.inet_aton(src[0]),
        socket.inet_aton(dst[0]),
    )
    return MAC + ip + struct.pack(">HHHH", src[1], dst[1], udp_len, 0) + payload


def _rtp(seq: int, ts: int, ssrc: int) -> bytes:
    return struct.pack(">BBHII", 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + b"\xff" * 160


def packets(calls: int, rtp: bool, shift: int = 0) -> Iterator[tuple[float, bytes]]:
    """(time, frame) in time order."""
    base = shift * (calls * 0.002 + 3.0)
    events: list[tuple[float, capture.Addr, capture.Addr, bytes]] = []
    for t, src, dst, data in capture.capture(calls):
        if shift:
            data = data.replace(b"-28431@", f"-28431-{shift}@".encode())
        events.append((base + t, src, dst, data))
    if rtp:
        # RTP between the answer (200 OK with SDP) and the BYE of each call.
        answer: dict[bytes, tuple[float, capture.Addr]] = {}
        for t, _src, dst, data in list(events):
            cid = data.split(b"Call-ID: ", 1)[1].split(b"\r\n", 1)[0]
            if data.startswith(b"SIP/2.0 200") and b"INVITE" in data.split(b"CSeq: ")[1][:20]:
                answer[cid] = (t, dst)
            elif data.startswith(b"BYE ") and cid in answer:
                t0, uac = answer.pop(cid)
                n = int(cid.split(b"-")[0])
                a = (uac[0], 6000 + 2 * (n % 4000))
                b = (capture.UAS[0], 20_000 + n % 10_000)
                k = 0
                tt = t0 + 0.01
                while tt < t:
                    events.append((tt, a, b, _rtp(k, k * 160, 0x1000_0000 + n)))
                    events.append((tt + 0.0005, b, a, _rtp(k, k * 160, 0x2000_0000 + n)))
                    k += 1
                    tt += 0.02
        events.sort(key=lambda e: e[0])
    for ident, (t, src, dst, data) in enumerate(events):
        yield t, _ipv4_udp(src, dst, data, ident)


def write_pcap(f: BinaryIO, frames: Iterator[tuple[float, bytes]], *, header: bool = True) -> int:
    """Classic pcap, microseconds, little-endian, Ethernet (the file header only when
    ``header``, so repeats can be appended). Returns the frames written."""
    if header:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    n = 0
    for t, frame in frames:
        us = round(t * 1e6)
        f.write(
            struct.pack("<IIII", EPOCH + us // 1_000_000, us % 1_000_000, len(frame), len(frame))
        )
        f.write(frame)
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("out")
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--rtp", action="store_true")
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    with open(a.out, "wb") as f:
        total = sum(
            write_pcap(f, packets(a.calls, a.rtp, shift=k), header=k == 0) for k in range(a.repeat)
        )
    print(f"{a.out}: {total} frames, {Path(a.out).stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
