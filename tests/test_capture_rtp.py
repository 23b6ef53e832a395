"""RTP/RTCP statistics and DTMF of ``sipwire.capture.read`` against tshark.

The captures come from tests/capgen/rtp.py (scapy). For each, ``cap.rtp_streams`` must agree
with ``tshark -q -z rtp,streams`` on packets, loss, delta and jitter (to the 3 decimals tshark
prints), ``cap.dtmf`` with tshark's decoding of the telephone-events, and the RTCP columns with
the report blocks tshark decodes. tshark is the oracle: without it the tests skip, except in
CI, where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

IN_CI = bool(os.environ.get("CI"))


def _need(condition: bool, reason: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (required in CI)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


_need(shutil.which("tshark") is not None, "tshark is not installed")
try:
    from capgen import rtp as capgen
except ImportError as e:  # scapy missing
    _need(False, f"the capture generator needs scapy: {e}")
try:
    import pyarrow as pa

    import sipwire.capture
except ImportError as e:
    _need(False, f"sipwire.capture / pyarrow not importable: {e}")


# --- tshark ---------------------------------------------------------------------------------


@dataclass
class TsharkStream:
    start: float
    end: float
    src: str
    sport: int
    dst: str
    dport: int
    ssrc: int
    payloads: str
    packets: int
    lost: int
    delta: tuple[float, float, float]  # min, mean, max (min -1 when none)
    jitter: tuple[float, float, float]
    problem: bool


def tshark(*args: str) -> str:
    out = subprocess.run(
        ["tshark", "-n", *args], capture_output=True, text=True, check=True, timeout=120
    )
    return out.stdout


def tshark_streams(path: Path, heuristic: bool = False) -> list[TsharkStream]:
    """Parses Wireshark 4.0's ``-z rtp,streams`` table: start and end time, src, port, dst,
    port, SSRC, payload names (may hold spaces), packets, lost "(x%)", min/mean/max delta,
    min/mean/max jitter, and an optional problem mark X."""
    opts = ["-o", "rtp.heuristic_rtp:TRUE"] if heuristic else []
    rows = []
    for line in tshark("-q", "-z", "rtp,streams", *opts, "-r", str(path)).splitlines():
        tok = line.split()
        if len(tok) < 17 or not tok[6].startswith("0x"):
            continue
        problem = tok[-1] == "X"
        if problem:
            tok.pop()
        n = len(tok)
        rows.append(
            TsharkStream(
                start=float(tok[0]),
                end=float(tok[1]),
                src=tok[2],
                sport=int(tok[3]),
                dst=tok[4],
                dport=int(tok[5]),
                ssrc=int(tok[6], 16),
                payloads=" ".join(tok[7 : n - 9]),
                packets=int(tok[n - 9]),
                lost=int(tok[n - 8]),
                delta=(float(tok[n - 6]), float(tok[n - 5]), float(tok[n - 4])),
                jitter=(float(tok[n - 3]), float(tok[n - 2]), float(tok[n - 1])),
                problem=problem,
            )
        )
    return rows


def tshark_fields(path: Path, filt: str, *fields: str) -> list[list[str]]:
    args = ["-r", str(path), "-Y", filt, "-T", "fields", "-E", "separator=;"]
    for f in fields:
        args += ["-e", f]
    return [line.split(";") for line in tshark(*args).splitlines() if line]


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return capgen.write_all(tmp_path_factory.mktemp("rtp"))


@pytest.fixture(scope="module")
def reads(captures: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, cap in captures.items():
        c = sipwire.capture.read(str(cap.path))
        out[name] = {
            "streams": pa.table(c.rtp_streams).to_pylist(),
            "dtmf": pa.table(c.dtmf).to_pylist(),
            "stats": dict(c.stats),
        }
    return out


def t0_ns(cap: Any) -> int:
    return (capgen.EPOCH_US + min(d.time_us for d in cap.datagrams)) * 1000


def ns(value: Any) -> int:
    """A timestamp column value as ns since the epoch: pyarrow gives a pandas Timestamp (exact)
    when pandas is installed, else a datetime (to the µs, which is what tshark prints)."""
    if isinstance(value, int):
        return value
    if hasattr(value, "value"):
        return int(value.value)
    delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def row_of(
    rows: list[dict[str, Any]], src: str, sport: int, dst: str, dport: int, ssrc: int
) -> dict[str, Any]:
    for r in rows:
        key = (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["ssrc"])
        if key == (src, sport, dst, dport, ssrc):
            return r
    raise AssertionError(f"no stream {src}:{sport} -> {dst}:{dport} {ssrc:#x} in {rows}")


def close(ours: float | None, theirs: float) -> bool:
    """To tshark's 3 decimals (±1 in the last for a rounding at a half); tshark prints -1
    for a minimum never set."""
    if ours is None:
        return theirs == -1.0
    return abs(round(ours, 3) - theirs) <= 0.0011


# --- rtp,streams ----------------------------------------------------------------------------

SCENARIOS = ["call", "two_ssrcs", "quirks", "no_sdp"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_streams_match_tshark(name: str, captures: dict[str, Any], reads: dict[str, Any]) -> None:
    cap = captures[name]
    ours = reads[name]["streams"]
    theirs = tshark_streams(cap.path, heuristic=(name == "no_sdp"))
    wanted = set(cap.streams)
    # tshark's heuristic also takes a lone RTP-looking datagram for a stream; ours waits for a
    # second packet of the same SSRC, so only the generator's streams are compared.
    theirs = [t for t in theirs if (t.src, t.sport, t.dst, t.dport, t.ssrc) in wanted]
    assert len(theirs) == len(wanted), theirs
    assert {
        (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["ssrc"]) for r in ours
    } == wanted
    t0 = t0_ns(cap)
    for t in theirs:
        r = row_of(ours, t.src, t.sport, t.dst, t.dport, t.ssrc)
        got = {
            "packets": r["packets"],
            "lost": r["lost"],
            "problem": r["problem"],
            "start": round((ns(r["first_time"]) - t0) / 1e9, 6),
            "end": round((ns(r["last_time"]) - t0) / 1e9, 6),
        }
        want = {
            "packets": t.packets,
            "lost": t.lost,
            "problem": t.problem,
            "start": t.start,
            "end": t.end,
        }
        assert got == want, (t, r)
        deltas = (r["min_delta_ms"], r["mean_delta_ms"], r["max_delta_ms"])
        jitters = (r["min_jitter_ms"], r["mean_jitter_ms"], r["max_jitter_ms"])
        assert all(close(o, w) for o, w in zip(deltas, t.delta)), (deltas, t)
        assert all(close(o, w) for o, w in zip(jitters, t.jitter)), (jitters, t)
        assert r["expected"] - r["packets"] == r["lost"]


def test_call_columns(captures: dict[str, Any], reads: dict[str, Any]) -> None:
    cap = captures["call"]
    rows = reads["call"]["streams"]
    a = row_of(rows, capgen.A_IP, capgen.A_RTP, capgen.B_IP, capgen.B_RTP, capgen.SSRC_A)
    b = row_of(rows, capgen.B_IP, capgen.B_RTP, capgen.A_IP, capgen.A_RTP, capgen.SSRC_B)
    assert a["call_id"] == b["call_id"] == cap.call_id
    assert a["from_sdp"] and b["from_sdp"]
    assert (a["payload_type"], a["codec"], a["clock_rate"]) == (0, "PCMU", 8000)
    assert list(b["payload_types"]) == [0, 101]
    # 300 sent from seq 65400 (a wrap), 3 lost, one duplicated.
    assert (a["expected"], a["packets"], a["lost"]) == (300, 298, 2)
    assert a["sequence_errors"] >= 2


def test_no_sdp_found_by_heuristic(reads: dict[str, Any]) -> None:
    rows = reads["no_sdp"]["streams"]
    assert all(not r["from_sdp"] and r["call_id"] is None for r in rows)
    dyn = [r for r in rows if r["payload_type"] == 96]
    assert len(dyn) == 1 and dyn[0]["clock_rate"] == 0 and dyn[0]["min_jitter_ms"] is None
    stats = reads["no_sdp"]["stats"]
    assert stats["rtp_streams_heuristic"] == 2
    assert stats["rtp_candidates_unconfirmed"] >= 1  # the lone datagram


# --- RTCP -----------------------------------------------------------------------------------


def test_rtcp_matches_tshark(captures: dict[str, Any], reads: dict[str, Any]) -> None:
    cap = captures["call"]
    rows = reads["call"]["streams"]
    sr = defaultdict(int)
    rr = defaultdict(int)
    last: dict[int, tuple[int, int, int, int]] = {}
    fields = (
        "rtcp.pt",
        "rtcp.senderssrc",
        "rtcp.ssrc.identifier",
        "rtcp.ssrc.fraction",
        "rtcp.ssrc.cum_nr",
        "rtcp.ssrc.jitter",
    )
    for pt, sender, ids, frac, cum, jit in tshark_fields(cap.path, "rtcp", *fields):
        pts = pt.split(",")
        s = int(sender.split(",")[0], 16)
        sr[s] += pts.count("200")
        rr[s] += pts.count("201")
        # tshark lists the report blocks' SSRCs, then the SDES chunks' among the identifiers.
        blocks = [x for x in frac.split(",") if x]
        for i, f in enumerate(blocks):
            last[int(ids.split(",")[i], 16)] = (
                s,
                int(f),
                int(cum.split(",")[i]),
                int(jit.split(",")[i]),
            )
    assert last, "tshark decoded no report block"
    for r in rows:
        assert (r["rtcp_sr"], r["rtcp_rr"]) == (sr[r["ssrc"]], rr[r["ssrc"]])
        reporter, frac, cum, jit = last[r["ssrc"]]
        assert r["rtcp_reporter_ssrc"] == reporter
        assert round(r["rtcp_fraction_lost"] * 256) == frac
        assert r["rtcp_cumulative_lost"] == cum
        assert r["rtcp_jitter_ms"] == pytest.approx(jit * 1000 / r["clock_rate"])


# --- DTMF -----------------------------------------------------------------------------------


def test_dtmf_matches_tshark(captures: dict[str, Any], reads: dict[str, Any]) -> None:
    cap = captures["call"]
    events: dict[tuple[int, int, int], dict[str, Any]] = {}
    fields = (
        "frame.number",
        "rtp.ssrc",
        "rtp.timestamp",
        "rtpevent.event_id",
        "rtpevent.end_of_event",
        "rtpevent.volume",
        "rtpevent.duration",
    )
    for frame, ssrc, ts, ev, end, vol, dur in tshark_fields(cap.path, "rtpevent", *fields):
        key = (int(ssrc, 16), int(ts), int(ev))
        e = events.setdefault(
            key, {"frame": int(frame), "end": False, "duration": 0, "volume": int(vol)}
        )
        e["duration"] = max(e["duration"], int(dur))
        e["end"] = e["end"] or end in ("1", "True")
    ours = reads["call"]["dtmf"]
    assert len(ours) == len(events) == len(cap.digits)
    names = "0123456789*#ABCD"
    for d, (key, e) in zip(ours, sorted(events.items(), key=lambda kv: kv[1]["frame"])):
        ssrc, ts, ev = key
        assert (d["ssrc"], d["rtp_timestamp"], d["event"], d["frame"]) == (ssrc, ts, ev, e["frame"])
        assert d["digit"] == names[ev]
        assert (d["duration"], d["end_seen"], d["volume"]) == (e["duration"], e["end"], e["volume"])
        assert d["duration_ms"] == pytest.approx(e["duration"] / 8.0)
        assert d["call_id"] == cap.call_id
    assert [(d["ssrc"], d["digit"]) for d in ours] == cap.digits
    assert reads["call"]["stats"]["dtmf_events"] == len(events)
