"""A capture that holds every frame twice (``tcpdump -i any`` over a bridge or VLAN, a mirror
port that copies both directions): the bundled example with each frame copied 20 µs later
gives the example's calls, media, RTP figures and DTMF; the copies are counted, not taken for
retransmissions or duplicates on the wire, and ``sipwire analyze`` says what they are."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pyarrow as pa
import pytest
from capgen.pcapfile import Record, write_pcap

import sipwire.capture
from sipwire.cli import main

CAPTURE = Path(__file__).resolve().parent.parent / "examples" / "calls.pcapng"
COPY_AFTER_NS = 20_000


def pcapng_records(path: Path) -> tuple[int, list[Record]]:
    """The link type and frames of a one-interface pcapng file (enhanced packet blocks, µs
    time stamps: the example's)."""
    data = path.read_bytes()
    off, linktype, out = 0, None, []
    while off + 12 <= len(data):
        kind, length = struct.unpack_from("<II", data, off)
        body = data[off + 8 : off + length - 4]
        if kind == 1:
            linktype = struct.unpack_from("<H", body)[0]
        elif kind == 6:
            _iface, hi, lo, caplen, _orig = struct.unpack_from("<IIIII", body)
            out.append(Record(body[20 : 20 + caplen], ((hi << 32) | lo) * 1000))
        off += length
    assert linktype is not None and out
    return linktype, out


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("twice")
    linktype, recs = pcapng_records(CAPTURE)
    once, twice = d / "once.pcap", d / "twice.pcap"
    write_pcap(once, recs, linktype)
    copies = [Record(r.data, r.time_ns + COPY_AFTER_NS) for r in recs]
    write_pcap(twice, [r for pair in zip(recs, copies) for r in pair], linktype)
    return once, twice


def tables(path: Path) -> tuple[dict[str, pa.Table], dict[str, int]]:
    a = sipwire.capture.analyze(str(path)).finish()
    names = ("messages", "calls", "media", "rtp_streams", "dtmf")
    return {n: pa.table(getattr(a, n)) for n in names}, dict(a.stats)


def test_every_frame_twice_gives_the_capture_of_each_once(captures: tuple[Path, Path]) -> None:
    (one, one_stats), (two, two_stats) = tables(captures[0]), tables(captures[1])
    assert one["calls"].num_rows == 5 and one["rtp_streams"].num_rows > 0

    # Calls: the same, but for `messages`, which counts every frame, and `last_time`, the
    # last frame's (a copy's).
    framed = ["messages", "last_time"]
    assert one["calls"].drop_columns(framed).equals(two["calls"].drop_columns(framed))
    doubled = [2 * n for n in one["calls"].column("messages").to_pylist()]
    assert two["calls"].column("messages").to_pylist() == doubled
    last = [t.value + COPY_AFTER_NS for t in one["calls"].column("last_time")]
    assert [t.value for t in two["calls"].column("last_time")] == last
    assert one["media"].equals(two["media"])

    # RTP: every figure of each stream, the copies counted apart; only the frame numbers
    # and the last packet's time (its copy's) differ.
    keys = [(k, "ascending") for k in ("src_ip", "src_port", "dst_ip", "dst_port", "ssrc")]
    moved = ["first_frame", "last_frame", "max_delta_frame", "last_time", "captured_twice"]
    a, b = one["rtp_streams"].sort_by(keys), two["rtp_streams"].sort_by(keys)
    assert a.drop_columns(moved).equals(b.drop_columns(moved))
    assert a.column("captured_twice").to_pylist() == [0] * a.num_rows
    assert b.column("captured_twice").equals(a.column("packets"))
    assert all(lost >= 0 for lost in b.column("lost").to_pylist())
    assert one["dtmf"].num_rows > 0
    assert one["dtmf"].drop_columns(["frame"]).equals(two["dtmf"].drop_columns(["frame"]))

    # The messages table lists every frame, as tshark does.
    assert two["messages"].num_rows == 2 * one["messages"].num_rows
    assert two_stats["sip_captured_twice"] == one_stats["sip_messages"]
    assert two_stats["rtp_captured_twice"] == one_stats["rtp_packets"]
    assert two_stats["rtcp_captured_twice"] == one_stats["rtcp_packets"]
    assert one_stats["sip_captured_twice"] == one_stats["rtp_captured_twice"] == 0


def test_the_summary_names_the_copies_and_leaves_them_out_of_the_rate(
    captures: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    summaries = []
    for path in captures:
        assert main(["analyze", str(path), "--quiet", "--json"]) == 0
        summaries.append(json.loads(capsys.readouterr().out))
    once, twice = summaries
    assert twice["retransmissions"] == once["retransmissions"]
    assert twice["rtp"]["lost"] == once["rtp"]["lost"]
    assert twice["rtp"]["loss_pct"] == once["rtp"]["loss_pct"]
    assert "sip_captured_twice" not in once["problems"]
    assert twice["problems"]["sip_captured_twice"] == twice["capture"]["sip_messages"] // 2
    assert "editcap -D" in twice["problem_hints"]["sip_captured_twice"]
    assert "rtp_captured_twice" in twice["problem_hints"]

    assert main(["analyze", str(captures[1]), "--quiet", "--color", "never"]) == 0
    out = capsys.readouterr().out
    assert "Capture problems" in out and "sip_captured_twice" in out
    assert "not counted as retransmissions" in " ".join(out.split())


def test_a_copy_fed_to_the_correlator_is_a_duplicate() -> None:
    """From Python, message by message: the copy 20 µs later is ``"duplicate"``, a resending
    500 ms later a ``"retransmission"``."""
    invite = (
        b"INVITE sip:b@y SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-d\r\n"
        b"From: <sip:a@x>;tag=a1\r\nTo: <sip:b@y>\r\nCall-ID: twice\r\nCSeq: 1 INVITE\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    a, b = ("10.0.0.1", 5060), ("10.0.0.2", 5060)
    c = sipwire.Correlator()
    fed = [c.feed(invite, time=t, src=a, dst=b) for t in (0.0, 0.00002, 0.5, 0.50002)]
    assert fed == ["stored", "duplicate", "retransmission", "duplicate"]
    assert (c.counters["duplicates"], c.counters["retransmissions"]) == (2, 1)
    (call,) = c.calls()
    assert call.retransmissions == 1


def test_the_ladder_marks_the_copies(
    captures: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a = sipwire.capture.analyze(str(captures[1])).finish()
    call_id = pa.table(a.calls).column("call_id")[0].as_py()
    args = [str(captures[1]), "--quiet", "--color", "never", "--width", "160", "--call", call_id]
    assert main(["analyze", *args]) == 0
    arrows = [ln for ln in capsys.readouterr().out.splitlines() if "►" in ln or "◄" in ln]
    sip = [ln for ln in arrows if "╌" not in ln]  # RTP and DTMF arrows are dashed
    copies = [ln for ln in sip if "(copy)" in ln]
    assert sip and len(copies) * 2 == len(sip)
    assert not any("(retransmission)" in ln for ln in sip)
