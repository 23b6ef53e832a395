"""Captures into tables: ``sipwire.capture.read`` on generated pcaps in the page cache, against
the glue a user writes today (dpkt for the packets, ``sipwire.parse`` per message, eight fields
into Python lists) and against tshark's field export, in the same run on the same files.

- SIP only: 20,000 SIPp-like calls (``pcapgen.py``: INVITE/100/180/200/ACK/BYE/200),
  140,000 messages over Ethernet/IPv4/UDP. Messages per second = 140,000 / time.
- SIP + RTP: 2,000 of those calls with their RTP both ways (PCMU, 20 ms), ~216,000 packets,
  RTP statistics on. Packets per second = frames / time.
- tshark runs on the first 14,000 messages only (it is ~50x slower); its rate is scaled. And
  on 1,400 messages (200 calls) and 196 (28 calls), where its start-up is most of its time, as
  when a user exports one small capture (sipwire's start-up is the import, paid once per
  process). On the 196 tshark exports about 850 messages a second, the rate issue 12 set its
  300x against.

Each case checks once, untimed, that it found every message. Run:
``.venv/bin/python -m pytest benches/test_bench_capture.py --benchmark-only -q``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pcapgen
import pyarrow as pa
import pytest
from conftest import optional

import sipwire
import sipwire.capture

dpkt = optional("dpkt")

SIP_CALLS = 20_000
MIXED_CALLS = 2_000
TSHARK_CALLS = 2_000
# A capture of the size people open one call at a time in (tshark's start-up weighs here).
SMALL_CALLS = 200
# One where tshark's rate is the ~850 messages/s issue 12 measured: start-up is nearly all.
TINY_CALLS = 28


@pytest.fixture(scope="module")
def files(tmp_path_factory: Any) -> dict[str, tuple[Path, int]]:
    d = tmp_path_factory.mktemp("captures")
    out = {}
    for name, calls, rtp in (
        ("sip", SIP_CALLS, False),
        ("mixed", MIXED_CALLS, True),
        ("tshark", TSHARK_CALLS, False),
        ("small", SMALL_CALLS, False),
        ("tiny", TINY_CALLS, False),
    ):
        p = d / f"{name}.pcap"
        with open(p, "wb") as f:
            frames = pcapgen.write_pcap(f, pcapgen.packets(calls, rtp))
        p.read_bytes()  # into the page cache
        out[name] = (p, frames)
    return out


def read_sipwire(path: Path) -> pa.Table:
    return pa.table(sipwire.capture.read(str(path)).messages)


def test_sipwire_capture_sip(benchmark: Any, files: dict[str, tuple[Path, int]]) -> None:
    path, frames = files["sip"]
    assert read_sipwire(path).num_rows == frames == SIP_CALLS * 7
    benchmark.group = "capture: SIP only, 140,000 messages"
    benchmark.extra_info["messages"] = frames
    benchmark.pedantic(read_sipwire, args=(path,), rounds=5, warmup_rounds=1)


def glue(path: Path) -> list[tuple[Any, ...]]:
    """The 85-line script of the issue, cut to its core: dpkt for the layers, sipwire.parse for
    SIP, eight fields per message."""
    rows = []
    with open(path, "rb") as f:
        for ts, buf in dpkt.pcap.Reader(f):
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.udp.UDP):
                continue
            m = sipwire.parse(bytes(ip.data.data), strict=False)
            cs = m.cseq
            rows.append(
                (ts, ip.src, ip.data.sport, ip.dst, ip.data.dport, getattr(m, "method", None),
                 getattr(m, "status", None), m.call_id, cs.seq, cs.method, m.from_tag,
                 m.to_tag, m.branch)
            )  # fmt: skip
    return rows


def test_dpkt_glue_sip(benchmark: Any, files: dict[str, tuple[Path, int]]) -> None:
    path, frames = files["sip"]
    assert len(glue(path)) == frames
    benchmark.group = "capture: SIP only, 140,000 messages"
    benchmark.extra_info["messages"] = frames
    benchmark.pedantic(glue, args=(path,), rounds=2, warmup_rounds=0)


TSHARK_FIELDS = ["frame.number", "frame.time_epoch", "ip.src", "udp.srcport", "ip.dst",
                 "udp.dstport", "sip.Method", "sip.Status-Code", "sip.Call-ID", "sip.CSeq.seq",
                 "sip.CSeq.method", "sip.from.tag", "sip.to.tag", "sip.Via.branch"]  # fmt: skip


def tshark(path: Path) -> int:
    cmd = ["tshark", "-n", "-r", str(path), "-Y", "sip", "-T", "fields"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    return out.count(b"\n")


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_fields_sip(benchmark: Any, files: dict[str, tuple[Path, int]]) -> None:
    path, frames = files["tshark"]
    assert tshark(path) == frames
    benchmark.group = "capture: SIP only, tshark on 14,000 messages"
    benchmark.extra_info["messages"] = frames
    benchmark.pedantic(tshark, args=(path,), rounds=1, warmup_rounds=0)


def test_sipwire_capture_sip_small(benchmark: Any, files: dict[str, tuple[Path, int]]) -> None:
    """The file tshark reads, for a ratio on the same bytes."""
    path, frames = files["tshark"]
    assert read_sipwire(path).num_rows == frames
    benchmark.group = "capture: SIP only, tshark on 14,000 messages"
    benchmark.extra_info["messages"] = frames
    benchmark.pedantic(read_sipwire, args=(path,), rounds=10, warmup_rounds=1)


# Small captures, whole runs as a user starts them: tshark's start-up (loading its dissectors)
# is part of what an export costs there. (file, group title, sipwire rounds)
START_UP = {
    "small": ("capture: SIP only, 1,400 messages (start-up included)", 50),
    "tiny": ("capture: SIP only, 196 messages (start-up included)", 200),
}


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("size", sorted(START_UP))
def test_tshark_fields_start_up(
    benchmark: Any, files: dict[str, tuple[Path, int]], size: str
) -> None:
    path, frames = files[size]
    assert tshark(path) == frames
    benchmark.group = START_UP[size][0]
    benchmark.extra_info["messages"] = frames
    benchmark.pedantic(tshark, args=(path,), rounds=3, warmup_rounds=1)


@pytest.mark.parametrize("size", sorted(START_UP))
def test_sipwire_capture_start_up(
    benchmark: Any, files: dict[str, tuple[Path, int]], size: str
) -> None:
    path, frames = files[size]
    assert read_sipwire(path).num_rows == frames
    group, rounds = START_UP[size]
    benchmark.group = group
    benchmark.extra_info["messages"] = frames
    benchmark.pedantic(read_sipwire, args=(path,), rounds=rounds, warmup_rounds=1)


def read_mixed(path: Path) -> tuple[pa.Table, pa.Table]:
    cap = sipwire.capture.read(str(path))
    return pa.table(cap.messages), pa.table(cap.rtp_streams)


def test_sipwire_capture_mixed(benchmark: Any, files: dict[str, tuple[Path, int]]) -> None:
    path, frames = files["mixed"]
    messages, streams = read_mixed(path)
    assert messages.num_rows == MIXED_CALLS * 7
    assert streams.num_rows == MIXED_CALLS * 2
    benchmark.group = "capture: SIP + RTP with RTP statistics"
    benchmark.extra_info["packets"] = frames
    benchmark.pedantic(read_mixed, args=(path,), rounds=5, warmup_rounds=1)
