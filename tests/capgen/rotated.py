"""Rotated capture sets for the distributed engines' tests: the generated SIPp-like calls with
RTP of benches/pcapgen.py, cut by time into several files as ``tcpdump -G`` rotates them
(calls and RTP streams cross file boundaries), ended while calls are still open, plus a
second probe that saw every packet of one caller host a little later (those calls and their
RTP are captured twice), an RFC 4733 telephone-event in one call's RTP, and DTMF sent in SIP
INFO requests by two calls (one of them also seen by the second probe).

    write_rotated(DIR) -> [paths]     probe-a/cap-00.pcap ... and probe-b/cap-00.pcap ...
"""

from __future__ import annotations

import socket
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benches"))
import pcapgen


def _ips(frame: bytes) -> tuple[str, str]:
    return socket.inet_ntoa(frame[26:30]), socket.inet_ntoa(frame[30:34])


def _with_dtmf(frames: list[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
    """Turns four RTP packets of the first stream into one telephone-event ("5", PT 101)."""
    out = list(frames)
    done = 0
    first_ts: int | None = None
    for i, (t, f) in enumerate(out):
        # Ethernet 14 + IPv4 20 + UDP 8: RTP version 2, PT 0 (PCMU) from pcapgen.
        if len(f) > 54 and f[42] == 0x80 and f[43] == 0 and f[26:30] == out[0][1][26:30]:
            seq, ts, ssrc = struct.unpack(">HII", f[44:54])
            if ssrc != struct.unpack(">I", out[-1][1][50:54])[0] and done < 4:
                end = 0x80 if done == 3 else 0
                first_ts = ts if first_ts is None else first_ts
                ts = first_ts
                payload = struct.pack(">BBH", 5, end | 10, 160 * (done + 1))
                rtp = struct.pack(">BBHII", 0x80, 101 | (0x80 if done == 0 else 0), seq, ts, ssrc)
                body = rtp + payload
                head = bytearray(f[:42])
                struct.pack_into(">H", head, 16, 20 + 8 + len(body))
                struct.pack_into(">H", head, 38, 8 + len(body))
                out[i] = (t, bytes(head) + body)
                done += 1
    return out


def _call_id(payload: bytes) -> bytes:
    return payload.split(b"Call-ID: ", 1)[1].split(b"\r\n", 1)[0]


def _with_info_dtmf(frames: list[tuple[float, bytes]], calls: int = 2) -> list[tuple[float, bytes]]:
    """The first ``calls`` calls hung up in ``frames`` (the first caller's first: the second
    probe sees its INFO too) each send the digit 7 in an INFO (``application/dtmf-relay``)
    halfway between their ACK and BYE, and get its 200; their BYE and its 200 become CSeq 3
    (RFC 3261 §12.2.1.1: a dialog's CSeq goes up)."""
    first = _ips(frames[0][1])[0]
    acks: dict[bytes, int] = {}
    done: list[tuple[bytes, int, int]] = []
    for i, (_t, f) in enumerate(frames):
        p = f[42:]
        if p.startswith(b"ACK "):
            acks.setdefault(_call_id(p), i)
        elif p.startswith(b"BYE ") and _call_id(p) in acks:
            done.append((_call_id(p), acks[_call_id(p)], i))
    done.sort(key=lambda c: _ips(frames[c[1]][1])[0] != first)
    chosen = done[:calls]
    out = list(frames)
    for cid, ia, ib in chosen:
        (ta, ack), tb = out[ia], out[ib][0]
        body = b"Signal=7\r\nDuration=200\r\n"
        info = (
            ack[42:]
            .replace(b"ACK sip:", b"INFO sip:", 1)
            .replace(b"CSeq: 1 ACK", b"CSeq: 2 INFO", 1)
            .replace(b";branch=z9hG4bK", b";branch=z9hG4bKinfo", 1)
            .replace(
                b"Content-Length: 0\r\n\r\n",
                b"Content-Type: application/dtmf-relay\r\nContent-Length: %d\r\n\r\n" % len(body),
                1,
            )
            + body
        )
        keep = (b"Via:", b"From:", b"To:", b"Call-ID:", b"CSeq:")
        head = [h for h in info.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:] if h.startswith(keep)]
        ok = b"\r\n".join([b"SIP/2.0 200 OK", *head, b"Content-Length: 0", b"", b""])
        src = (_ips(ack)[0], struct.unpack(">H", ack[34:36])[0])
        dst = (_ips(ack)[1], struct.unpack(">H", ack[36:38])[0])
        t = ta + (tb - ta) / 2
        out.append((t, pcapgen._ipv4_udp(src, dst, info, 0)))
        out.append((t + 0.0005, pcapgen._ipv4_udp(dst, src, ok, 0)))
        for i, (tf, f) in enumerate(out):
            if b"CSeq: 2 BYE" in f and _call_id(f[42:]) == cid:
                out[i] = (tf, f.replace(b"CSeq: 2 BYE", b"CSeq: 3 BYE", 1))
    out.sort(key=lambda x: x[0])
    return out


def write_rotated(
    directory: Path, *, calls: int = 1000, files: int = 4, cut: float = 0.4
) -> list[Path]:
    """Writes the set; returns its files in a scrambled order (as a careless caller would give
    them)."""
    frames = list(pcapgen.packets(calls, rtp=True))
    t0, t1 = frames[0][0], frames[-1][0]
    end = t0 + (t1 - t0) * cut
    frames = _with_info_dtmf(_with_dtmf([f for f in frames if f[0] <= end]))
    caller = next(_ips(f)[0] for _, f in frames if _ips(f)[0].startswith("10.20."))
    span = (end - t0) / files
    paths: list[Path] = []
    a = directory / "probe-a"
    a.mkdir(parents=True, exist_ok=True)
    for k in range(files):
        lo, hi = t0 + k * span, t0 + (k + 1) * span
        part = [f for f in frames if lo <= f[0] < hi or (k == files - 1 and f[0] >= hi)]
        p = a / f"cap-{k:02d}.pcap"
        with open(p, "wb") as out:
            pcapgen.write_pcap(out, iter(part))
        paths.append(p)
    # The second probe: one caller host's packets, 150 µs later, rotated in two files.
    b = directory / "probe-b"
    b.mkdir(parents=True, exist_ok=True)
    seen = [(t + 0.00015, f) for t, f in frames if caller in _ips(f)]
    half = len(seen) // 2
    for k, part in enumerate((seen[:half], seen[half:])):
        p = b / f"cap-{k:02d}.pcap"
        with open(p, "wb") as out:
            pcapgen.write_pcap(out, iter(part))
        paths.append(p)
    # Scrambled: last first, the probes interleaved.
    return [paths[i] for i in (3, 5, 0, 2, 4, 1)] if len(paths) == 6 else paths[::-1]
