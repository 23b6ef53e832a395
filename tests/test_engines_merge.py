"""The single-machine contract the distributed engines are held to: several capture files are
read as the one capture they make together (merged by time, whatever order they are given in),
and the engines' steps, run here one after another without an engine, give the same tables."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from engine_support import TABLES, assert_same, capture_set, expected, single_machine

import sipwire
import sipwire.capture
from sipwire.capture import _engine

__all__ = ["capture_set", "expected"]


def test_files_in_any_order_read_as_one(capture_set: tuple[Path, list[str]]) -> None:
    _, files = capture_set
    a, sa = single_machine(files)
    b, sb = single_machine(files[::-1])
    c, _ = single_machine(sorted(files))
    for name in TABLES:
        assert a[name].equals(b[name]) and a[name].equals(c[name]), name
    assert sa == sb
    # The set crosses files: calls whose messages are in two files, and open calls at the end.
    m = a["messages"]
    per_call = m.group_by("call_id").aggregate([("file", "count_distinct")])
    assert pc.max(per_call.column("file_count_distinct")).as_py() >= 2
    assert "in_progress" in a["calls"].column("outcome").to_pylist()
    assert a["dtmf"].num_rows >= 1
    assert sa["files_merged_late"] == 0


def _records(path: str) -> list[tuple[int, bytes, bytes]]:
    data = Path(path).read_bytes()
    out, off = [], 24
    while off + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack_from("<IIII", data, off)
        out.append((sec * 1_000_000 + usec, data[off : off + 16], data[off + 16 : off + 16 + incl]))
        off += 16 + incl
    return out


def test_the_set_equals_one_merged_capture(
    capture_set: tuple[Path, list[str]], tmp_path: Path
) -> None:
    """As mergecap would merge them: the calls, media and RTP statistics of the set are those
    of one capture holding every packet in time order (frames are numbered per file, so the
    frame and file columns differ)."""
    _, files = capture_set
    recs = []
    for rank, f in enumerate(sorted(files)):
        recs.extend((t, rank, i, h, b) for i, (t, h, b) in enumerate(_records(f)))
    recs.sort(key=lambda r: r[:3])
    merged = tmp_path / "merged.pcap"
    with open(merged, "wb") as out:
        out.write(Path(files[0]).read_bytes()[:24])
        for *_, h, b in recs:
            out.write(h + b)
    one, _ = single_machine([str(merged)])
    many, _ = single_machine(files)
    for name in ("calls", "media"):
        assert one[name].equals(many[name]), name
    frameless = {"rtp_streams": ["first_frame", "last_frame", "max_delta_frame"], "dtmf": ["frame"]}
    keys = [(k, "ascending") for k in ("src_ip", "src_port", "dst_ip", "dst_port", "ssrc")]
    for name, cols in frameless.items():
        a, b = one[name].drop_columns(cols), many[name].drop_columns(cols)
        assert a.sort_by(keys).equals(b.sort_by(keys)), name
    cols = ["file", "frame"]
    assert one["messages"].drop_columns(cols).equals(many["messages"].drop_columns(cols))


def test_file_column(capture_set: tuple[Path, list[str]]) -> None:
    _, files = capture_set
    t = pa.table(sipwire.capture.read(files[0]).messages)
    assert set(t.column("file").to_pylist()) == {files[0]}
    with open(files[0], "rb") as f:
        t = pa.table(sipwire.capture.read(io.BytesIO(f.read())).messages)
    assert t.column("file").null_count == t.num_rows
    assert pa.table(sipwire.parse_table([])).column_names[-1] == "file"


def test_engine_steps_without_an_engine(
    capture_set: tuple[Path, list[str]], expected: tuple[dict[str, pa.Table], dict[str, int]]
) -> None:
    """The engines' steps in one process, three groups each: the single machine's tables."""
    d, _ = capture_set
    files = _engine.expand(d)
    rank = _engine.ranks(files)
    events = pa.concat_tables([t for f in files[::-1] for t in _engine.read_file(f, rank[f])])
    read_stats = _engine.sum_stats(
        events.filter(pc.equal(events["kind"], _engine.KIND_STATS))["raw"].to_pylist()
    )
    fed = _engine.fed_view(events, 3)
    drains, end = _engine.drain_points(fed)
    empty = _engine.empty_tables()
    packed = pa.concat_tables(
        [_engine.pack_calls(fed.filter(pc.equal(fed["_bucket"], b)), drains, end) for b in range(3)]
    )
    udp = _engine.udp_view(events, 3)
    routes = _engine.address_buckets(_engine.distinct_pairs(udp))
    both = pa.concat_tables(
        [udp, _engine.route_sdp(events, routes), _engine.join_events(packed, routes)]
    )
    packed_rtp = pa.concat_tables(
        [_engine.pack_rtp(both.filter(pc.equal(both["_bucket"], b))) for b in range(3)]
    )
    got = {"messages": _engine.in_read_order("messages", _engine.messages_keyed(events, raw=False))}
    got["calls"] = _engine.in_read_order(
        "calls", _engine.unpack(packed, "calls", empty["calls"].schema)
    )
    got["media"] = _engine.in_read_order(
        "media", _engine.unpack(packed, "media", empty["media"].schema), got["calls"]
    )
    got["rtp_streams"] = _engine.in_read_order(
        "rtp_streams", _engine.unpack(packed_rtp, "rtp_streams", empty["rtp_streams"].schema)
    )
    # The digits of INFO requests come from the call groups, those of RTP from the RTP groups.
    schema = empty["dtmf"].schema
    dtmf = [_engine.unpack(p, "dtmf", schema) for p in (packed, packed_rtp)]
    got["dtmf"] = _engine.in_read_order("dtmf", pa.concat_tables(dtmf))
    assert {"info", "rtp"} == set(got["dtmf"]["source"].to_pylist())
    stats = _engine.engine_stats(
        read_stats, packed.column("stats").to_pylist(), packed_rtp.column("stats").to_pylist()
    )
    assert_same(got, stats, expected)


def test_uris_are_read_through_pyarrow_filesystems(
    capture_set: tuple[Path, list[str]], expected: tuple[dict[str, pa.Table], dict[str, int]]
) -> None:
    """A URI (here ``file://``; ``s3://`` and the others go the same way) is listed and read
    through pyarrow's filesystems, as a stream: the same rows, named by their URI."""
    d, _ = capture_set
    uris = _engine.expand(f"file://{d}")
    assert uris and all(u.startswith("file://") for u in uris)
    assert [u[len("file://") :] for u in uris] == _engine.expand(str(d))
    rank = _engine.ranks(uris)
    events = pa.concat_tables([t for u in uris for t in _engine.read_file(u, rank[u])])
    got = _engine.in_read_order("messages", _engine.messages_keyed(events, raw=False))
    want = expected[0]["messages"]
    assert got.drop_columns(["file"]).equals(want.drop_columns(["file"]))
    assert set(got.column("file").to_pylist()) == set(uris)
