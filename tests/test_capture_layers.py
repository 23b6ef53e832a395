"""sipwire.capture against the test captures of tests/capgen (one per layer of issue 12) and
against tshark, the oracle: for each capture the messages table holds the SIP messages the
capture was made with (frame, time, Call-ID, CSeq, method or status, addresses, transport),
and the same ones ``tshark -Y sip`` finds (tests/tshark.py says where tshark sees otherwise,
and why). Then the table's types, the ways in (paths, lists, file objects, stdin,
compression) and the ways out (pyarrow, polars, DuckDB), and ``sipwire.parse_table``.

The tshark tests need Debian's ``tshark`` (scripts/dev.sh setup installs it): a failure in CI
when it is missing, a skip elsewhere.
"""

from __future__ import annotations

import functools
import importlib
import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import capgen
import pyarrow as pa
import pytest
import tshark
from capgen import Expected

import sipwire
import sipwire.capture
from sipwire.cli import main

NAMES = list(capgen.CAPTURES)


def capture_module() -> ModuleType:
    return importlib.import_module("sipwire.capture")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Expected]:
    return capgen.write_all(tmp_path_factory.mktemp("captures"))


def read(source: Any, **kw: Any) -> tuple[pa.Table, dict[str, int]]:
    """The messages table (read whole) and the read's counters."""
    cap = capture_module().read(source, **kw)
    table = pa.table(cap.messages)
    return table, dict(cap.stats)


def pylist(table: pa.Table) -> list[dict[str, Any]]:
    """The rows as dicts, ``time`` as integer nanoseconds (a datetime has only µs)."""
    times = [{"time": t} for t in table.column("time").cast(pa.int64()).to_pylist()]
    rows = table.drop_columns(["time"]).to_pylist()
    return [{**t, **r} for t, r in zip(times, rows)]


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    """The rows, sorted by frame (stable: the messages one frame completes stay in stream
    order)."""
    return sorted(pylist(table), key=lambda r: r["frame"])


@functools.cache
def tshark_messages(path: Path, args: tuple[str, ...]) -> list[tshark.TsharkSip]:
    """tshark's messages, once per capture for the module's tests."""
    return tshark.sip_messages(path, args)


def key(r: dict[str, Any]) -> tshark.Key:
    return (r["frame"], r["call_id"], r["cseq"], r["cseq_method"], r["method"], r["status"])


# ---------------------------------------------------------------- each capture, each layer


@pytest.mark.parametrize("name", NAMES)
def test_messages_are_the_captured_ones(written: dict[str, Expected], name: str) -> None:
    exp = written[name]
    table, _ = read(exp.path)
    got = rows_of(table)
    assert [key(r) for r in got] == [e.key() for e in exp.rows]
    for r, e in zip(got, exp.rows):
        m = e.sip
        where = f"{name} frame {e.frame} {m.call_id}"
        assert r["time"] == e.time_ns, where
        assert (r["src_ip"], r["src_port"]) == m.src, where
        assert (r["dst_ip"], r["dst_port"]) == m.dst, where
        assert r["transport"] == m.transport, where
        assert (r["from_tag"], r["to_tag"], r["branch"]) == (m.from_tag, m.to_tag, m.branch), where
        assert r["size"] == m.size, where
        assert (r["parse_error"] is not None) == m.parse_error, (where, r["parse_error"])


@pytest.mark.parametrize("name", NAMES)
def test_counters(written: dict[str, Expected], name: str) -> None:
    exp = written[name]
    _, stats = read(exp.path)
    assert all(isinstance(v, int) and v >= 0 for v in stats.values()), stats
    assert stats["records"] == exp.records
    assert stats["sip_messages"] == len(exp.rows)
    assert stats["sip_parse_errors"] == sum(r.sip.parse_error for r in exp.rows)
    for counter, least in exp.stats_min.items():
        assert stats.get(counter, 0) >= least, (counter, stats)


@pytest.mark.parametrize("name", NAMES)
def test_tshark_finds_what_the_capture_holds(written: dict[str, Expected], name: str) -> None:
    """The oracle checks the captures: tshark finds the messages each was made with (as it
    sees a malformed one), at the frame's time and with the innermost addresses."""
    exp = written[name]
    theirs = tshark_messages(exp.path, exp.tshark_args)
    assert tshark.keys(theirs) == exp.tshark_keys(), exp.tshark_note
    if exp.tshark_outer:
        return
    frames = {e.key(): e for e in exp.rows}
    for t in theirs:
        e = frames.get(t.key())
        if e is not None:
            assert (t.time_ns, t.src, t.dst) == (e.time_ns, e.sip.src, e.sip.dst), t
            assert t.transport == e.sip.transport, t


@pytest.mark.parametrize("name", NAMES)
def test_same_messages_as_tshark(written: dict[str, Expected], name: str) -> None:
    """sipwire's table, seen as tshark sees messages, holds the messages tshark finds, in the
    same frames, at the frame's time and with the innermost addresses."""
    exp = written[name]
    theirs = tshark_messages(exp.path, exp.tshark_args)
    table, _ = read(exp.path)
    ours = rows_of(table)
    by_key = {e.key(): e for e in exp.rows}
    seen: Counter[tshark.Key] = Counter(exp.tshark_extra)
    for r in ours:
        e = by_key.get(key(r))
        if e is None:
            seen[key(r)] += 1  # not a message of the capture: it cannot match
        elif e.tshark:
            seen[e.tshark_as or key(r)] += 1
    assert seen == tshark.keys(theirs), exp.tshark_note
    if exp.tshark_outer:
        return
    at = {(r["frame"], r["call_id"], r["cseq"], r["status"]): r for r in ours}
    for t in theirs:
        r = at.get((t.frame, t.call_id, t.cseq, t.status))
        if r is None:
            continue  # a tshark_as / tshark_extra row
        assert r["time"] == t.time_ns, t
        assert ((r["src_ip"], r["src_port"]), (r["dst_ip"], r["dst_port"])) == (t.src, t.dst), t
        assert r["transport"] == t.transport, t


# ---------------------------------------------------------------- the table


STRING = (pa.string(), pa.large_string(), pa.string_view())


def test_column_types(written: dict[str, Expected]) -> None:
    table, _ = read(written["pcap_ns_le"].path)
    schema = table.schema
    assert schema.field("time").type == pa.timestamp("ns", tz="UTC")
    for name, t in [("frame", pa.uint64()), ("src_port", pa.uint16()), ("dst_port", pa.uint16())]:
        assert schema.field(name).type == t, name
    for name, t in [("status", pa.uint16()), ("cseq", pa.uint32()), ("size", pa.uint32())]:
        assert schema.field(name).type == t, name
    for name in ["src_ip", "dst_ip", "method", "call_id", "cseq_method", "from_tag", "to_tag"]:
        assert schema.field(name).type in STRING, (name, schema.field(name).type)
    for name in ["branch", "parse_error"]:
        assert schema.field(name).type in STRING, (name, schema.field(name).type)
    transport = schema.field("transport").type
    assert transport in STRING or (
        pa.types.is_dictionary(transport) and transport.value_type in STRING
    ), transport
    assert "raw" not in schema.names
    # Requests have no status, responses no method.
    for r in pylist(table):
        assert (r["method"] is None) != (r["status"] is None), r


def test_time_keeps_nanoseconds(written: dict[str, Expected]) -> None:
    exp = written["pcap_ns_be"]
    table, _ = read(exp.path)
    ns = table.column("time").cast(pa.int64()).to_pylist()
    assert ns == [e.time_ns for e in exp.rows]
    assert any(t % 1000 for t in ns), "the ns capture's times are not whole microseconds"


def test_raw_column(written: dict[str, Expected]) -> None:
    exp = written["tcp_multi"]
    table, _ = read(exp.path, raw=True)
    assert pa.types.is_binary(table.schema.field("raw").type) or pa.types.is_large_binary(
        table.schema.field("raw").type
    )
    assert [r["raw"] for r in rows_of(table)] == [e.sip.data for e in exp.rows]


def test_every_transport_is_seen(written: dict[str, Expected]) -> None:
    seen = set()
    for name in ["pcap_us_le", "tcp_multi", "sctp", "websocket"]:
        table, _ = read(written[name].path)
        seen |= set(table.column("transport").to_pylist())
    assert seen == {"udp", "tcp", "sctp", "ws"}


def test_malformed_message_is_a_row(written: dict[str, Expected]) -> None:
    table, stats = read(written["bad_cseq"].path)
    bad = [r for r in rows_of(table) if r["parse_error"] is not None]
    assert len(bad) == 1
    (r,) = bad
    assert r["parse_error"] == "invalid_cseq"
    assert (r["method"], r["call_id"], r["cseq"]) == ("INVITE", "bad_cseq-2@capgen.test", None)
    assert stats["sip_parse_errors"] == 1


def test_a_message_the_snap_length_cut_is_a_row(written: dict[str, Expected]) -> None:
    """A monitor sees what was captured: the header lines the record holds give the fields,
    and the row says the capture cut it; the SDP of a cut body is not learnt."""
    exp = written["snaplen"]
    table, stats = read(exp.path)
    cut = [r for r in rows_of(table) if r["parse_error"] is not None]
    assert [r["parse_error"] for r in cut] == ["capture_truncated"] * 2
    body_cut, head_cut = cut
    assert (body_cut["method"], body_cut["call_id"], body_cut["cseq"]) == (
        "INVITE",
        "snaplen-1@capgen.test",
        1,
    )
    assert body_cut["size"] == 400 - 42
    # Cut in the Contact line: what came before it is still read.
    assert (head_cut["call_id"], head_cut["cseq"], head_cut["from_tag"]) == (
        "snaplen-2@capgen.test",
        1,
        "ft1",
    )
    assert stats["sip_truncated"] == 2 and stats["rtp_sdp_bodies"] == 0
    cap = sipwire.capture.read(str(exp.path), raw=True)
    raws = [r for r in pa.table(cap.messages).to_pylist() if r["parse_error"]]
    assert [len(r["raw"]) for r in raws] == [r["size"] for r in cut]


def test_tunnelled_and_hep_messages_have_inner_addresses(written: dict[str, Expected]) -> None:
    outer = {capgen.captures.OUTER_A, capgen.captures.OUTER_B, "10.9.0.1", "10.9.0.2"}
    for name in ["ipip", "gre", "erspan2", "erspan3", "vxlan", "hep_udp", "hep_tcp"]:
        table, _ = read(written[name].path)
        ips = set(table.column("src_ip").to_pylist()) | set(table.column("dst_ip").to_pylist())
        assert ips and not ips & outer, (name, ips)


def test_hep_time_is_heps(written: dict[str, Expected]) -> None:
    """A HEP message's time is the one HEP carries, not its frame's."""
    exp = written["hep_udp"]
    table, _ = read(exp.path)
    got = rows_of(table)
    frame_time = [capgen.model.T0 + (r["frame"] - 1) * capgen.model.STEP for r in got]
    assert [r["time"] for r in got] == [t + capgen.captures.HEP_SHIFT_NS for t in frame_time]


def test_truncated_files_keep_their_whole_records(written: dict[str, Expected]) -> None:
    for name in ["truncated_pcap", "truncated_pcapng"]:
        table, stats = read(written[name].path)
        assert table.num_rows == 3, name
        assert stats["records"] == 3, (name, stats)
        assert stats["truncated_file"] == 1, (name, stats)


def test_http_on_5060_is_not_sip(written: dict[str, Expected]) -> None:
    table, stats = read(written["http_5060"].path)
    assert table.column("transport").to_pylist() == ["udp", "udp"]
    # The HTTP connection is recognised as not SIP once, and its bytes are not held.
    assert stats["stream_not_sip_flows"] >= 1, stats
    assert stats["stream_sip_flows"] == 0, stats
    assert stats["sip_parse_errors"] == 0, stats
    assert stats["stream_tls_flows"] == 0, stats


def test_tls_flows_are_counted_apart(written: dict[str, Expected], capsys: Any) -> None:
    """SIP over TLS cannot be read; the read counts its flows, and the summary says what to
    do about it."""
    exp = written["tls"]
    table, stats = read(exp.path)
    assert table.num_rows == 2 and stats["stream_tls_flows"] == 2, stats
    assert stats["stream_not_sip_flows"] == 2 and stats["stream_sip_flows"] == 0, stats
    assert main(["analyze", str(exp.path), "--quiet", "--color", "never"]) == 0
    out = capsys.readouterr().out
    assert "stream_tls_flows" in out and "have a proxy send HEP" in out


# ---------------------------------------------------------------- ways in


def test_what_is_no_capture_is_refused_when_given(tmp_path: Path) -> None:
    """A path that cannot be a capture raises at read(), with the path and what was wrong,
    not as an Arrow error at the first batch."""
    text = tmp_path / "notes.txt"
    text.write_bytes(b"hello")
    with pytest.raises(
        ValueError, match=r'notes\.txt: not a capture: first bytes 68 65 6c 6c \("hell"\)'
    ):
        sipwire.capture.read(str(text))
    with pytest.raises(IsADirectoryError, match="is a directory"):
        sipwire.capture.read(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such capture"):
        sipwire.capture.read([str(tmp_path / "none.pcap")])
    # A seekable file object is checked the same way, and left where it was.
    with pytest.raises(ValueError, match=r"the file object: not a capture: first bytes 61 62"):
        sipwire.capture.read(io.BytesIO(b"abcd" * 10))
    with pytest.raises(ValueError, match=r"the file object is empty"):
        sipwire.capture.read(io.BytesIO())
    with open(text, "rb") as f, pytest.raises(ValueError, match=r"notes\.txt: not a capture"):
        sipwire.capture.read(f)
    with open(text) as t, pytest.raises(TypeError, match="binary mode"):
        sipwire.capture.read(t)  # type: ignore[arg-type]
    example = Path(__file__).resolve().parent.parent / "examples" / "calls.pcapng"
    good = io.BytesIO(b"junk" + example.read_bytes())
    good.seek(4)
    assert pa.table(sipwire.capture.read(good).messages).num_rows > 0
    # What the bytes look like is said when known.
    sip = tmp_path / "invite.sip"
    sip.write_bytes(b"INVITE sip:bob@example.com SIP/2.0\r\n\r\n")
    with pytest.raises(ValueError, match=r"a SIP message as text \(`sipwire parse FILE`"):
        sipwire.capture.read(str(sip))


def test_every_format_the_reader_takes_gets_past_the_first_check(tmp_path: Path) -> None:
    """The check made when a path or file object is given agrees with the reader: the modified
    pcap format (magic a1b2cd34, 24-byte record headers) and a zstd stream that starts with a
    skippable frame (as pzstd writes) are read, not refused. They were refused before the
    reader was asked."""
    import struct

    import zstandard

    example = Path(__file__).resolve().parent.parent / "examples" / "calls.pcapng"
    classic = tmp_path / "calls.pcap"
    subprocess.run(["editcap", "-F", "pcap", str(example), str(classic)], check=True)
    want = pa.table(sipwire.capture.read(str(classic)).messages).num_rows
    data = classic.read_bytes()
    magic, rest = struct.unpack_from("<I", data)[0], data[4:24]
    assert magic == 0xA1B2C3D4
    out, pos = [struct.pack("<I", 0xA1B2CD34) + rest], 24
    while pos + 16 <= len(data):
        incl = struct.unpack_from("<I", data, pos + 8)[0]
        # ifindex, protocol, pkt_type and padding after the usual 16 bytes.
        out.append(data[pos : pos + 16] + bytes(8) + data[pos + 16 : pos + 16 + incl])
        pos += 16 + incl
    modified = tmp_path / "modified.pcap"
    modified.write_bytes(b"".join(out))
    skippable = tmp_path / "calls.pcap.zst"
    frame = struct.pack("<II", 0x184D2A50, 4) + bytes(4)
    skippable.write_bytes(frame + zstandard.ZstdCompressor().compress(data))
    for path in (modified, skippable):
        assert pa.table(sipwire.capture.read(str(path)).messages).num_rows == want, path
        with open(path, "rb") as f:
            assert pa.table(sipwire.capture.read(f).messages).num_rows == want, path


def test_compressed_reads_as_plain(written: dict[str, Expected]) -> None:
    for name in ["gzip", "zstd"]:
        exp = written[name]
        plain = exp.path.with_name(exp.path.name + ".plain")
        assert exp.path.read_bytes()[:4] != plain.read_bytes()[:4]
        compressed, _ = read(exp.path)
        # Equal but for the file each row names.
        assert compressed.drop_columns(["file"]).equals(read(plain)[0].drop_columns(["file"])), name
        assert compressed.num_rows == len(exp.rows)


def test_compression_is_found_by_magic_not_name(
    written: dict[str, Expected], tmp_path: Path
) -> None:
    exp = written["zstd"]
    renamed = tmp_path / "capture.bin"
    renamed.write_bytes(exp.path.read_bytes())
    assert read(renamed)[0].drop_columns(["file"]).equals(read(exp.path)[0].drop_columns(["file"]))


def test_path_kinds(written: dict[str, Expected]) -> None:
    exp = written["pcapng"]
    table, _ = read(exp.path)
    assert read(str(exp.path))[0].equals(table)


def test_list_of_paths(written: dict[str, Expected]) -> None:
    """Several files read as one table: merged by time (the engines' tests check the merge),
    each file's rows in its own order, numbered by its own frames, named by its path."""
    a, b = written["pcap_us_le"], written["sctp"]
    for paths in ([a.path, b.path], [b.path, a.path]):
        table, stats = read(paths)
        got = pylist(table)
        assert len(got) == len(a.rows) + len(b.rows)
        for exp in (a, b):
            mine = [r for r in got if r["file"] == str(exp.path)]
            assert [(r["call_id"], r["cseq"], r["method"], r["status"]) for r in mine] == [
                (e.sip.call_id, e.sip.cseq, e.sip.method, e.sip.status) for e in exp.rows
            ]
            assert [r["frame"] for r in mine] == [e.frame for e in exp.rows]
        assert stats["records"] == a.records + b.records


def test_file_objects(written: dict[str, Expected]) -> None:
    exp = written["pcapng"]
    table, _ = read(exp.path)
    assert set(table.column("file").to_pylist()) == {str(exp.path)}
    # A file object has no path: the file column is null.
    table = table.drop_columns(["file"])

    def unnamed(t: pa.Table) -> pa.Table:
        assert t.column("file").null_count == t.num_rows
        return t.drop_columns(["file"])

    with exp.path.open("rb") as f:
        assert unnamed(read(f)[0]).equals(table)
    assert unnamed(read(io.BytesIO(exp.path.read_bytes()))[0]).equals(table)
    gz = written["gzip"]
    with gz.path.open("rb") as f:
        assert unnamed(read(f)[0]).equals(table)


STDIN_READER = """
import json, sys
import pyarrow as pa
import sipwire.capture
cap = sipwire.capture.read("-")
t = pa.table(cap.messages).select(["frame", "call_id", "cseq", "cseq_method", "method", "status"])
print(json.dumps({"rows": [list(r.values()) for r in t.to_pylist()], "records": cap.stats["records"]}))
"""


@pytest.mark.parametrize("name", ["pcap_ns_le", "gzip", "zstd"])
def test_stdin(written: dict[str, Expected], name: str) -> None:
    exp = written[name]
    with exp.path.open("rb") as f:
        proc = subprocess.run(
            [sys.executable, "-c", STDIN_READER],
            stdin=f,
            capture_output=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = json.loads(proc.stdout)
    assert [tuple(r) for r in out["rows"]] == [e.key() for e in exp.rows]
    assert out["records"] == exp.records


# ---------------------------------------------------------------- ways out


def test_arrow_stream_interfaces(written: dict[str, Expected]) -> None:
    exp = written["tcp_multi"]
    cap = capture_module().read(exp.path)
    assert hasattr(cap.messages, "__arrow_c_stream__")
    whole = pa.table(capture_module().read(exp.path))
    assert whole.equals(pa.table(cap.messages))
    reader = pa.RecordBatchReader.from_stream(
        capture_module().read(exp.path, batch_rows=2).messages
    )
    batches = list(reader)
    assert all(b.num_rows <= 2 for b in batches)
    assert pa.Table.from_batches(batches, schema=reader.schema).equals(whole)


def test_polars_reads_the_table(written: dict[str, Expected]) -> None:
    """``polars.DataFrame(x)`` reads an Arrow stream object as a frame. ``polars.from_arrow(x)``
    (polars 1.x-2.x) reads any stream object as one Series of structs, whose fields are the
    columns."""
    polars = pytest.importorskip(
        "polars", reason="polars is a test dependency (pip install polars)"
    )
    exp = written["websocket"]
    df = polars.DataFrame(capture_module().read(exp.path).messages)
    assert df.height == len(exp.rows)
    assert sorted(zip(df["frame"], df["call_id"])) == [(e.frame, e.sip.call_id) for e in exp.rows]
    assert df["time"].dtype == polars.Datetime("ns", "UTC")
    assert df["time"].sort().cast(polars.Int64).to_list() == [e.time_ns for e in exp.rows]
    via = polars.from_arrow(capture_module().read(exp.path).messages)
    if isinstance(via, polars.Series):
        via = via.struct.unnest()
    assert via.equals(df)


def test_duckdb_reads_the_table(written: dict[str, Expected]) -> None:
    duckdb = pytest.importorskip(
        "duckdb", reason="duckdb is a test dependency (pip install duckdb)"
    )
    exp = written["pcap_us_le"]
    msgs = capture_module().read(exp.path).messages  # noqa: F841 (DuckDB finds it by name)
    (got,) = duckdb.sql(
        "select count(*), count(distinct call_id), count(status), min(frame) from msgs"
    ).fetchall()
    invites = sum(e.sip.method == "INVITE" for e in exp.rows)
    assert got == (len(exp.rows), 1, sum(e.sip.status is not None for e in exp.rows), 2)
    tbl = pa.table(capture_module().read(exp.path).messages)  # noqa: F841
    ((n,),) = duckdb.sql("select count(*) from tbl where method = 'INVITE'").fetchall()
    assert n == invites


# ---------------------------------------------------------------- without a capture


def test_parse_table(written: dict[str, Expected]) -> None:
    msgs = [e.sip for e in written["pcap_us_le"].rows] + [e.sip for e in written["bad_cseq"].rows]
    table = pa.table(sipwire.parse_table([m.data for m in msgs]))
    assert table.num_rows == len(msgs)
    got = table.drop_columns([c for c in ["time"] if c in table.schema.names]).to_pylist()
    for r, m in zip(got, msgs):
        assert (r["call_id"], r["cseq"], r["cseq_method"], r["method"], r["status"]) == (
            m.call_id,
            m.cseq,
            m.cseq_method,
            m.method,
            m.status,
        )
        assert (r["from_tag"], r["to_tag"], r["branch"], r["size"]) == (
            m.from_tag,
            m.to_tag,
            m.branch,
            m.size,
        )
        assert (r["parse_error"] == "invalid_cseq") if m.parse_error else r["parse_error"] is None
    assert table.schema.field("cseq").type == pa.uint32()
    assert table.schema.field("status").type == pa.uint16()
    empty = pa.table(sipwire.parse_table([]))
    assert empty.num_rows == 0 and "call_id" in empty.schema.names


class _Pipe:
    """A file object that cannot seek: read as it comes, its bytes never looked at first."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._f.read(n)

    def seekable(self) -> bool:
        return False


def test_read_ahead_keeps_every_row_for_the_stream(written: dict[str, Expected]) -> None:
    exp = written["tcp_multi"]
    whole = pa.table(capture_module().read(exp.path))
    cap = capture_module().read(exp.path, batch_rows=2)
    cap.read_ahead(3)
    assert cap.stats["sip_messages"] >= min(6, whole.num_rows)
    cap.read_ahead(0)
    with pytest.raises(ValueError, match="batches must be 0 or more"):
        cap.read_ahead(-1)
    reader = pa.RecordBatchReader.from_stream(cap.messages)
    batches = list(reader)
    assert all(b.num_rows <= 2 for b in batches)
    assert pa.Table.from_batches(batches, schema=reader.schema).equals(whole)


def test_read_ahead_gives_its_error_after_the_rows_before_it(
    written: dict[str, Expected],
) -> None:
    """A second source that is not a capture: reading ahead past it raises nothing; the
    stream gives the first source's rows, then the error, as a read batch by batch does."""
    exp = written["tcp_multi"]
    whole = pa.table(capture_module().read(exp.path))
    junk = b"this is not a capture file at all, " * 4

    data = Path(exp.path).read_bytes()

    def sources() -> list[Any]:
        return [io.BytesIO(data), _Pipe(junk)]

    # The same read without reading ahead: the rows, then the error.
    plain = pa.RecordBatchReader.from_stream(capture_module().read(sources(), batch_rows=2))
    got: list[pa.RecordBatch] = []
    with pytest.raises(Exception) as plain_error:
        for b in plain:
            got.append(b)
    assert sum(b.num_rows for b in got) == whole.num_rows

    cap = capture_module().read(sources(), batch_rows=2)
    cap.read_ahead(10_000)  # past the end of the first source: no error yet
    reader = pa.RecordBatchReader.from_stream(cap.messages)
    got = []
    with pytest.raises(type(plain_error.value)) as error:
        for b in reader:
            got.append(b)
    assert sum(b.num_rows for b in got) == whole.num_rows
    assert str(error.value) == str(plain_error.value)

    # `finish` comes to it too.
    cap = capture_module().read(sources(), batch_rows=2)
    cap.read_ahead(10_000)
    with pytest.raises(ValueError, match="capture"):
        cap.finish()
