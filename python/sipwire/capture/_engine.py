"""What every distributed engine (Ray, Spark, Dask) runs: stage one reads one capture file into
event tables, stage two correlates a group of calls or replays a group's RTP. Engine-neutral:
pyarrow tables in, pyarrow tables out; the engines only move them.

The contract: the tables equal those of ``sipwire.capture.analyze(files)``, one merged read of
the same files (read.rs merges them by time, whatever order they are given in). Each event
carries its place in that merged read (``_clock``, ``_rank``, ``_seq``), so a group sorted by it
sees its events in the merged read's order; the correlator's drain points and the capture's
end are the whole set's, computed once (:func:`drain_points`) and given to every group.

- Calls: grouped by a hash of the Call-ID (:func:`call_bucket`): a group holds whole calls.
- RTP: grouped by a hash of the unordered address pair of each UDP packet
  (:func:`pair_bucket`); each SIP message whose SDP announces an address goes to every group
  holding that address (:func:`route_sdp`), so the RTP tracker of a group knows every endpoint
  its packets could match.
"""

from __future__ import annotations

import io
import json
import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sipwire._sipwire import (
    EngineReader,
    Limits,
    engine_correlate,
    engine_drain_points,
    engine_media_addresses,
    engine_rtp,
)

#: Columns stage one adds to ``messages`` (dropped from the ``messages`` table).
INTERNAL = ("kind", "_rank", "_clock", "_seq", "_fed")
KIND_SIP, KIND_UDP, KIND_STATS, KIND_JOIN = 0, 1, 2, 3
TABLES = ("messages", "calls", "media", "rtp_streams", "dtmf")
#: The correlation stage's counters: the engines' groups give them, not the per-file reads
#: (the uncorrelated messages by reason, and what the correlator's per-call bounds let go,
#: come under these prefixes).
_CALL_COUNTERS = (
    "calls_done",
    "uncorrelated",
    "evicted_calls",
    "non_call_transactions_unfollowed",
    "sip_captured_twice",
)
_CALL_PREFIXES = ("uncorrelated_", "dropped_")


def _is_call_counter(name: str) -> bool:
    return name in _CALL_COUNTERS or name.startswith(_CALL_PREFIXES)


def _pa() -> Any:
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow comes with every engine
        raise ImportError(
            "the distributed engines need pyarrow: pip install 'sipwire[ray]' (or [spark], [dask])"
        ) from None
    return pa


# --- the files ---------------------------------------------------------------------------------


def expand(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """The capture files named: files as given, directories walked (sorted, hidden files and
    directories left out, and local files that do not start as a capture: see
    ``expand_skipping``), local paths or any URI pyarrow's filesystems know (``s3://``,
    ``gs://``, ``hdfs://``). A file named twice is kept once (:func:`drop_repeats`)."""
    return drop_repeats(expand_skipping(paths)[0])[0]


def drop_repeats(paths: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """``paths`` with each local file kept once (the first name of it: a file named twice, by a
    link or a directory walk, would read as every packet captured twice), and the (repeat,
    first) pairs left out. URIs and names that do not exist are kept as given."""
    kept: list[str] = []
    repeats: list[tuple[str, str]] = []
    first: dict[tuple[int, int], str] = {}
    for p in paths:
        if "://" not in p and p != "-":
            try:
                st = os.stat(p)
            except OSError:
                kept.append(p)
                continue
            key = (st.st_dev, st.st_ino)
            if key in first:
                repeats.append((p, first[key]))
                continue
            first[key] = p
        kept.append(p)
    return kept, repeats


def _looks_like_capture(path: str) -> bool:
    from sipwire.capture import _check_path

    try:
        _check_path(path)
    except ValueError:
        return False  # empty, or not starting as a capture
    except OSError:
        pass  # kept: reading it says what is wrong
    return True


def expand_skipping(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
) -> tuple[list[str], list[str]]:
    """``expand``, and the local files a directory walk passed over because they do not start
    as pcap, pcapng, gzip or zstd (a README or notes among rotated captures). Files named
    themselves are kept whatever they hold; objects under a URI are not opened here."""
    from pyarrow import fs as pafs

    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise ValueError("no capture given: pass a path, a directory or a list of them")
    out: list[str] = []
    skipped: list[str] = []
    for item in items:
        p = os.fspath(item)
        if "://" not in p:
            if os.path.isdir(p):
                for root, dirs, files in os.walk(p):
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    for f in sorted(files):
                        if f.startswith("."):
                            continue
                        path = os.path.join(root, f)
                        (out if _looks_like_capture(path) else skipped).append(path)
            elif os.path.exists(p):
                out.append(p)
            else:
                raise FileNotFoundError(f"no such capture: {p!r}")
            continue
        fs, inner = pafs.FileSystem.from_uri(p)
        info = fs.get_file_info(inner)
        scheme = p.split("://", 1)[0]
        if info.type == pafs.FileType.Directory:
            sel = pafs.FileSelector(inner, recursive=True)
            found = sorted(
                i.path
                for i in fs.get_file_info(sel)
                if i.type == pafs.FileType.File
                and not any(part.startswith(".") for part in i.path.split("/"))
            )
            out.extend(f"{scheme}://{f}" for f in found)
        elif info.type == pafs.FileType.File:
            out.append(p)
        else:
            raise FileNotFoundError(f"no such capture: {p!r}")
    if not out:
        n = len(skipped)
        if n == 1:
            what = " (1 file there, not a capture)"
        elif n:
            what = f" ({n} files there, none a capture)"
        else:
            what = ""
        raise ValueError(f"no capture files found in {[os.fspath(i) for i in items]!r}{what}")
    return out, skipped


def ranks(files: Sequence[str]) -> dict[str, int]:
    """Each file's rank among the paths, in the order the merged read breaks ties by."""
    return {f: i for i, f in enumerate(sorted(set(files)))}


def events_schema() -> Any:
    """The schema of stage one's event tables."""
    pa = _pa()
    from sipwire._sipwire import parse_table

    base = pa.table(parse_table([], raw=True)).schema
    return pa.schema(
        [
            *base,
            pa.field("kind", pa.uint8(), nullable=False),
            pa.field("_rank", pa.uint32(), nullable=False),
            pa.field("_clock", pa.int64(), nullable=False),
            pa.field("_seq", pa.uint64(), nullable=False),
            pa.field("_fed", pa.bool_(), nullable=False),
        ]
    )


def schema_of(name: str, raw: bool) -> Any:
    """The schema of table ``name`` (``messages`` with or without ``raw``)."""
    pa = _pa()
    if name == "messages":
        from sipwire._sipwire import parse_table

        return pa.table(parse_table([], raw=raw)).schema
    return empty_tables()[name].schema


# --- stage one ---------------------------------------------------------------------------------


def read_file(
    file: str,
    rank: int,
    *,
    strict: bool = False,
    limits: Limits | None = None,
    batch_rows: int = 65536,
) -> Iterator[Any]:
    """Stage one: one capture file as event tables (pyarrow), its counters last (one row of
    kind 2 whose ``raw`` is their JSON)."""
    pa = _pa()
    stream: Any = None
    if "://" in file:
        from pyarrow import fs as pafs

        fs, inner = pafs.FileSystem.from_uri(file)
        stream = fs.open_input_stream(inner)
        source: Any = stream
    else:
        source = file
    try:
        reader = EngineReader(
            source, file=file, rank=rank, strict=strict, limits=limits, batch_rows=batch_rows
        )
        batches = pa.RecordBatchReader.from_stream(reader)
        schema = batches.schema
        for b in batches:
            yield pa.Table.from_batches([b], schema=schema)
        yield stats_row(schema, file, rank, reader.stats())
    finally:
        if stream is not None:
            stream.close()


def stats_row(schema: Any, file: str, rank: int, stats: dict[str, int]) -> Any:
    pa = _pa()
    cols = []
    for f in schema:
        if f.name == "kind":
            cols.append(pa.array([KIND_STATS], f.type))
        elif f.name == "raw":
            cols.append(pa.array([json.dumps(stats).encode()], f.type))
        elif f.name == "file":
            cols.append(pa.array([file], f.type))
        elif f.name == "_rank":
            cols.append(pa.array([rank], f.type))
        elif f.name in ("_clock", "_seq", "size"):
            cols.append(pa.array([0], f.type))
        elif f.name == "_fed":
            cols.append(pa.array([False], f.type))
        else:
            cols.append(pa.nulls(1, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def sum_stats(rows: Iterable[bytes]) -> dict[str, int]:
    """The per-file counters added up."""
    total: dict[str, int] = {}
    for raw in rows:
        for k, v in json.loads(raw).items():
            # Counters that add up over files (the per-file read's; the correlation and RTP
            # stages are the engines' own and are not counted there).
            if k != "calls_open" and not _is_call_counter(k):
                total[k] = total.get(k, 0) + int(v)
    return total


def messages_view(events: Any, *, raw: bool) -> Any:
    """The ``messages`` rows of an event table, with ``messages``' own columns."""
    import pyarrow.compute as pc

    t = events.filter(pc.equal(events.column("kind"), KIND_SIP))
    drop = [c for c in INTERNAL if c in t.column_names]
    if not raw:
        drop.append("raw")
    return t.drop_columns(drop)


# --- the whole set's clock ---------------------------------------------------------------------


def drain_points(fed: Any) -> tuple[list[tuple[int, int, int, int]], int | None]:
    """From every fed message's (``_clock``, ``_rank``, ``_seq``, ``time``): the correlator's
    drain points, as (clock, rank, seq, time), and the capture's end (the last fed time)."""
    pa = _pa()
    if fed.num_rows == 0:
        return [], None
    t = fed.select(["_clock", "_rank", "_seq", "time"]).sort_by(
        [("_clock", "ascending"), ("_rank", "ascending"), ("_seq", "ascending")]
    )
    times = t.column("time").cast(pa.int64()).to_pylist()
    idx = engine_drain_points(times)
    pick = t.take(pa.array(idx, pa.int64()))
    points = list(
        zip(
            pick.column("_clock").to_pylist(),
            pick.column("_rank").to_pylist(),
            pick.column("_seq").to_pylist(),
            pick.column("time").cast(pa.int64()).to_pylist(),
        )
    )
    return points, max(times)


# --- stage two: calls -------------------------------------------------------------------------

_KEYS = ("_clock", "_rank", "_seq", "time", "src_ip", "src_port", "dst_ip", "dst_port", "raw")
_CALL_COLUMNS = (*_KEYS, "transport")
_RTP_COLUMNS = (*_KEYS, "kind", "frame")


def _ipc(t: Any, columns: Sequence[str]) -> bytes:
    """A group's columns as Arrow IPC stream bytes for the Rust step (``time`` as int64 ns)."""
    pa = _pa()
    t = t.select(list(columns))
    i = t.schema.get_field_index("time")
    t = t.set_column(i, "time", t.column("time").cast(pa.int64()))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, t.schema) as w:
        w.write_table(t)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def call_bucket(call_id: str | None, buckets: int) -> int:
    """A stable hash of the Call-ID (the same on every worker, unlike ``hash``)."""
    if call_id is None:
        return 0
    return zlib.crc32(call_id.encode("utf-8", "surrogatepass")) % buckets


def fed_view(events: Any, buckets: int) -> Any:
    """The messages the correlator takes, with their group (``_bucket``)."""
    import pyarrow.compute as pc

    t = events.filter(pc.and_(pc.equal(events.column("kind"), KIND_SIP), events.column("_fed")))
    return with_call_bucket(t, buckets)


def fed_key_schema() -> Any:
    pa = _pa()
    s = events_schema()
    return pa.schema([s.field(n) for n in ("_clock", "_rank", "_seq", "time")])


def pack_calls(
    t: Any,
    drains: Sequence[tuple[int, int, int, int]],
    end: int | None,
    *,
    strict: bool = False,
) -> Any:
    """:func:`correlate_group`'s tables packed in one row (see :func:`pack`)."""
    calls, media, dtmf, stats, joins = correlate_group(t, drains, end, strict=strict)
    return pack(stats, calls=calls, media=media, dtmf=dtmf, joins=joins)


def _buckets_of(keys: Any, f: Any) -> Any:
    """``f`` of each distinct key, spread back over the rows (keys repeat: a Call-ID's
    messages, an address pair's packets), as an int32 array."""
    import pyarrow.compute as pc

    pa = _pa()
    enc = pc.dictionary_encode(keys).combine_chunks()
    values = pa.array([f(k) for k in enc.dictionary.to_pylist()], pa.int32())
    return values.take(enc.indices)


def with_call_bucket(t: Any, buckets: int) -> Any:
    b = _buckets_of(t.column("call_id"), lambda c: call_bucket(c, buckets))
    return t.append_column("_bucket", b)


def correlate_group(
    t: Any,
    drains: Sequence[tuple[int, int, int, int]],
    end: int | None,
    *,
    strict: bool = False,
    limits: Limits | None = None,
) -> tuple[Any, Any, Any, dict[str, int], Any]:
    """Stage two for calls: the ``calls`` and ``media`` tables of a group holding every fed
    message of its Call-IDs (any order), the ``dtmf`` rows of their INFO requests, the
    correlator's counters, and the join rows of its media rows (``raw``, ``offer_ip``,
    ``answer_ip``: see :func:`join_events`)."""
    pa = _pa()
    calls, media, dtmf, stats, joins = engine_correlate(
        _ipc(t, _CALL_COLUMNS), list(drains), end, strict=strict, limits=limits
    )
    return pa.table(calls), pa.table(media), pa.table(dtmf), stats, pa.table(joins)


def empty_tables() -> dict[str, Any]:
    """Every table's schema, as an empty table."""
    pa = _pa()
    none = events_schema().empty_table()
    calls, media, _, _, joins = engine_correlate(_ipc(none, _CALL_COLUMNS), [], None)
    streams, dtmf, _ = engine_rtp(_ipc(none, _RTP_COLUMNS))
    return {
        "calls": pa.table(calls),
        "media": pa.table(media),
        "joins": pa.table(joins),
        "rtp_streams": pa.table(streams),
        "dtmf": pa.table(dtmf),
    }


# --- stage two: RTP ----------------------------------------------------------------------------


def pair_bucket(a: str | None, b: str | None, buckets: int) -> int:
    """A stable hash of an unordered address pair."""
    lo, hi = sorted((a or "", b or ""))
    return zlib.crc32(f"{lo}|{hi}".encode()) % buckets


def udp_view(events: Any, buckets: int) -> Any:
    """The UDP events of an event table, with their group (``_bucket``)."""
    import pyarrow.compute as pc

    t = events.filter(pc.equal(events.column("kind"), KIND_UDP))
    src, dst = t.column("src_ip"), t.column("dst_ip")
    lo = pc.if_else(pc.less_equal(src, dst), src, dst)
    hi = pc.if_else(pc.less_equal(src, dst), dst, src)
    pair = pc.binary_join_element_wise(lo, hi, "|")

    def of_pair(p: str | None) -> int:
        a, _, b = (p or "").partition("|")
        return pair_bucket(a, b, buckets)

    return t.append_column("_bucket", _buckets_of(pair, of_pair))


def distinct_pairs(udp: Any) -> Any:
    """The distinct (``src_ip``, ``dst_ip``, ``_bucket``) of UDP events."""
    return (
        udp.select(["src_ip", "dst_ip", "_bucket"])
        .group_by(["src_ip", "dst_ip", "_bucket"])
        .aggregate([])
    )


def pairs_schema() -> Any:
    pa = _pa()
    return pa.schema([("src_ip", pa.string()), ("dst_ip", pa.string()), ("_bucket", pa.int32())])


def pack_rtp(t: Any, *, strict: bool = False) -> Any:
    """:func:`rtp_group`'s tables packed in one row (see :func:`pack`)."""
    streams, dtmf, stats = rtp_group(t, strict=strict)
    return pack(stats, rtp_streams=streams, dtmf=dtmf)


def address_buckets(udp: Any) -> dict[str, list[int]]:
    """address -> the RTP groups holding packets to or from it (``udp``: ``src_ip``,
    ``dst_ip``, ``_bucket`` of every UDP event, or their distinct rows)."""
    out: dict[str, set[int]] = {}
    for s, d, b in zip(
        udp.column("src_ip").to_pylist(),
        udp.column("dst_ip").to_pylist(),
        udp.column("_bucket").to_pylist(),
    ):
        out.setdefault(s, set()).add(b)
        out.setdefault(d, set()).add(b)
    return {k: sorted(v) for k, v in out.items()}


def route_sdp(
    events: Any,
    routes: dict[str, list[int]],
    *,
    strict: bool = False,
    limits: Limits | None = None,
) -> Any:
    """The SIP events of an event table whose SDP announces an address some RTP group holds,
    once per such group (``_bucket``)."""
    import pyarrow.compute as pc

    pa = _pa()
    t = events.filter(pc.equal(events.column("kind"), KIND_SIP))
    addrs = engine_media_addresses(t.column("raw").to_pylist(), strict=strict, limits=limits)
    rows: list[int] = []
    buckets: list[int] = []
    for i, ips in enumerate(addrs):
        seen: set[int] = set()
        for ip in ips:
            seen.update(routes.get(ip, ()))
        for b in sorted(seen):
            rows.append(i)
            buckets.append(b)
    out = t.take(pa.array(rows, pa.int64()))
    return out.append_column("_bucket", pa.array(buckets, pa.int32()))


def join_events(packed: Any, routes: dict[str, list[int]]) -> Any:
    """The call groups' join rows (each media row's endpoints and time window, from
    :func:`pack_calls`) as events of kind 3, one per RTP group holding an address the row's
    SDP announced: the RTP groups join their streams and DTMF to the media rows as one
    analysis does."""
    pa = _pa()
    joins = unpack(packed, "joins", empty_tables()["joins"].schema)
    schema = events_schema()
    raws, buckets = [], []
    for raw, o, a in zip(
        joins.column("raw").to_pylist(),
        joins.column("offer_ip").to_pylist(),
        joins.column("answer_ip").to_pylist(),
    ):
        for b in sorted(set(routes.get(o or "", ())) | set(routes.get(a or "", ()))):
            raws.append(raw)
            buckets.append(b)
    n = len(raws)
    cols = []
    for f in schema:
        if f.name == "kind":
            cols.append(pa.array([KIND_JOIN] * n, f.type))
        elif f.name == "raw":
            cols.append(pa.array(raws, f.type))
        elif f.name in ("_rank", "_clock", "_seq", "size", "time"):
            cols.append(pa.array([0] * n, pa.int64()).cast(f.type))
        elif f.name == "_fed":
            cols.append(pa.array([False] * n, f.type))
        else:
            cols.append(pa.nulls(n, f.type))
    t = pa.Table.from_arrays(cols, schema=schema)
    return t.append_column("_bucket", pa.array(buckets, pa.int32()))


def rtp_group(
    t: Any, *, strict: bool = False, limits: Limits | None = None
) -> tuple[Any, Any, dict[str, int]]:
    """Stage two for RTP: the ``rtp_streams`` and ``dtmf`` tables of a group (its UDP events
    and the SIP events routed to it, any order), and the RTP stage's counters."""
    pa = _pa()
    streams, dtmf, stats = engine_rtp(_ipc(t, _RTP_COLUMNS), strict=strict, limits=limits)
    return pa.table(streams), pa.table(dtmf), stats


# --- two tables through one engine step --------------------------------------------------------


def pack(stats: dict[str, int], **tables: Any) -> Any:
    """Several tables as one row of Arrow IPC bytes, and counters as JSON (an engine's group
    step returns one table)."""
    pa = _pa()
    cols = {"stats": pa.array([json.dumps(stats).encode()], pa.binary())}
    for name, t in tables.items():
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, t.schema) as w:
            w.write_table(t)
        cols[name] = pa.array([sink.getvalue()], pa.binary())
    return pa.table(cols)


def packed_schema(*names: str) -> Any:
    pa = _pa()
    return pa.schema([(n, pa.binary()) for n in ("stats", *names)])


def unpack(packed: Any, name: str, schema: Any) -> Any:
    """The ``name`` tables of packed rows, as one table."""
    pa = _pa()
    parts = [pa.ipc.open_stream(b).read_all() for b in packed.column(name).to_pylist()]
    parts = [p for p in parts if p.num_rows]
    if not parts:
        return schema.empty_table()
    return pa.concat_tables(parts, promote_options="permissive").cast(schema)


# --- counters and order ------------------------------------------------------------------------

#: The RTP stage's counters that add up over groups (each packet is in one group; an SDP may
#: be in several, so the ``rtp_sdp_*`` counters are left out).
_RTP_ADDITIVE = (
    "rtp_packets",
    "rtp_streams_sdp",
    "rtp_streams_heuristic",
    "rtp_streams_refused",
    "rtp_streams_retired",
    "rtp_candidates",
    "rtp_candidates_unconfirmed",
    "rtp_candidates_dropped",
    "rtp_captured_twice",
    "rtcp_packets",
    "rtcp_captured_twice",
    "rtcp_sr",
    "rtcp_rr",
    "rtcp_report_blocks",
    "rtcp_malformed",
    "rtcp_ssrcs_dropped",
    "dtmf_events",
    "dtmf_dropped",
)


def engine_stats(
    read: dict[str, int], calls: Iterable[bytes], rtp: Iterable[bytes]
) -> dict[str, int]:
    """The counters of a distributed analysis: the per-file reads' added up, with the
    correlation's and the RTP stage's from the groups' packed ``stats``."""
    out = {k: v for k, v in read.items() if not k.startswith(("rtp_", "rtcp_", "dtmf_"))}
    stages: tuple[tuple[Iterable[bytes], Callable[[str], bool], tuple[str, ...]], ...] = (
        (calls, _is_call_counter, _CALL_COUNTERS),
        (rtp, _RTP_ADDITIVE.__contains__, _RTP_ADDITIVE),
    )
    for raw, additive, always in stages:
        for k in always:
            out.setdefault(k, 0)
        for r in raw:
            for k, v in json.loads(r).items():
                if additive(k):
                    out[k] = out.get(k, 0) + int(v)
    out["calls_open"] = 0
    return out


def messages_keyed(events: Any, *, raw: bool) -> Any:
    """:func:`messages_view` with the place in the merged read (to be put in its order)."""
    import pyarrow.compute as pc

    t = events.filter(pc.equal(events.column("kind"), KIND_SIP))
    drop = ["kind", "_fed"] + ([] if raw else ["raw"])
    return t.drop_columns([c for c in drop if c in t.column_names])


def in_read_order(name: str, t: Any, calls: Any = None) -> Any:
    """A table gathered from groups, in the order one merged read gives its rows
    (``messages`` from :func:`messages_keyed`; ``media`` follows ``calls``' order)."""
    pa = _pa()
    if name == "messages":
        t = t.sort_by([("_clock", "ascending"), ("_rank", "ascending"), ("_seq", "ascending")])
        return t.drop_columns(
            [c for c in ("_clock", "_rank", "_seq", "_time_ns") if c in t.column_names]
        )
    if name == "calls":
        return t.sort_by([("first_time", "ascending")])
    if name == "media" and calls is not None:
        pos: dict[str, int] = {}
        for i, c in enumerate(calls.column("call_id").to_pylist()):
            pos.setdefault(c, i)
        order = [pos.get(c, len(pos)) for c in t.column("call_id").to_pylist()]
        return t.append_column("_o", pa.array(order, pa.int64())).sort_by("_o").drop_columns(["_o"])
    if name == "rtp_streams":
        return t.sort_by([("first_frame", "ascending"), ("ssrc", "ascending")])
    if name == "dtmf":
        return t.sort_by([("time", "ascending"), ("frame", "ascending")])
    return t
