"""Thousands of captures on Ray: ``sipwire.capture.analyze`` as a Ray Data job.

>>> import sipwire.capture.ray
>>> a = sipwire.capture.ray.analyze("s3://bucket/captures/2026-12-04/")   # or local dirs/files
>>> a.calls.filter(lambda r: r["outcome"] == "busy").count()
>>> a.calls.write_parquet("s3://bucket/calls/")

``messages``, ``calls``, ``media``, ``rtp_streams`` and ``dtmf`` are ``ray.data.Dataset`` s with
the columns of :func:`sipwire.capture.analyze`, and the same rows as one merged read of the same
files (whatever order they are listed in, calls and RTP streams crossing files, several probes
that saw the same packets). Stage one is a Ray datasource: each read task reads whole capture
files in Rust into Arrow blocks. Stage two shuffles the SIP messages by a hash of the Call-ID and
correlates each group with the same correlator a read uses, and shuffles RTP by address pair and
replays each group through the same RTP statistics (``sipwire.capture._engine`` says how the
groups see the whole set's clock). Install with ``pip install 'sipwire[ray]'``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from sipwire.capture import _engine

__all__ = ["RayAnalysis", "analyze", "datasource"]


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise ImportError(
            "sipwire.capture.ray needs Ray Data: pip install 'sipwire[ray]'"
        ) from None
    return ray


def datasource(files: Sequence[str], *, strict: bool = False, batch_rows: int = 65536) -> Any:
    """A Ray datasource of capture files (stage one): ``ray.data.read_datasource(ds)`` gives
    their event blocks (``messages`` columns with ``raw``, and the engine's columns)."""
    ray = _ray()
    rk = _engine.ranks(files)
    schema = _engine.events_schema()

    class SipwireCaptures(ray.data.Datasource):  # type: ignore[misc,name-defined,unused-ignore]
        def __init__(self) -> None:
            self.files = list(files)

        def get_name(self) -> str:
            return "sipwire.capture"

        def estimate_inmemory_data_size(self) -> int | None:
            total = 0
            for f in self.files:
                if "://" in f:
                    return None
                total += os.path.getsize(f)
            return total

        def get_read_tasks(self, parallelism: int, **_: Any) -> list[Any]:
            from ray.data import ReadTask
            from ray.data.block import BlockMetadata

            n = max(1, min(parallelism, len(self.files)))
            # Largest files first, each to the lightest task (local sizes; round robin else).
            sized = [(0 if "://" in f else os.path.getsize(f), f) for f in self.files]
            sized.sort(key=lambda x: -x[0])
            groups: list[list[str]] = [[] for _ in range(n)]
            loads = [0] * n
            for size, f in sized:
                i = loads.index(min(loads))
                groups[i].append(f)
                loads[i] += size or 1
            tasks = []
            for g, load in zip(groups, loads):
                if not g:
                    continue

                def read(g: list[str] = g) -> Any:
                    for f in g:
                        yield from _engine.read_file(f, rk[f], strict=strict, batch_rows=batch_rows)

                meta = BlockMetadata(
                    num_rows=None, size_bytes=load, exec_stats=None, input_files=tuple(g)
                )
                tasks.append(ReadTask(read, meta, schema=schema))
            return tasks

    return SipwireCaptures()


class RayAnalysis:
    """The tables of a capture set analysed on Ray (each a ``ray.data.Dataset``), the files
    read (``files``) and the counters (``stats``: the per-file reads' added up, the
    correlation's and the RTP stage's from the groups)."""

    def __init__(
        self, files: list[str], tables: dict[str, Any], keyed: Any, stats: dict[str, int]
    ) -> None:
        self.files = files
        self.messages = tables["messages"]
        self.calls = tables["calls"]
        self.media = tables["media"]
        self.rtp_streams = tables["rtp_streams"]
        self.dtmf = tables["dtmf"]
        self.stats = stats
        self._keyed = keyed

    def to_arrow(self, name: str) -> Any:
        """One table gathered on the driver as a ``pyarrow.Table``, its rows in the order one
        merged read gives them."""
        if name == "messages":
            t = _gather(self._keyed, None)
            if t is None:
                return _engine.schema_of("messages", "raw" in self.messages.columns()).empty_table()
            return _engine.in_read_order("messages", t)
        schema = _engine.schema_of(name, False)
        calls = None
        if name == "media":
            calls = _engine.in_read_order(
                "calls", _gather(self.calls, _engine.schema_of("calls", False))
            )
        return _engine.in_read_order(name, _gather(getattr(self, name), schema), calls)

    def __repr__(self) -> str:
        return f"<sipwire.capture.ray.RayAnalysis of {len(self.files)} files>"


def _gather(ds: Any, schema: Any) -> Any:
    ray = _ray()
    pa = _engine._pa()
    parts = [t for t in ray.get(ds.to_arrow_refs()) if t.num_rows]
    if not parts:
        return None if schema is None else schema.empty_table()
    if schema is None:
        return pa.concat_tables(parts, promote_options="permissive")
    return pa.concat_tables(parts, promote_options="permissive").cast(schema)


def analyze(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    strict: bool = False,
    raw: bool = False,
    rtp: bool = True,
    buckets: int | None = None,
    batch_rows: int = 65536,
) -> RayAnalysis:
    """Analyses capture files on Ray: ``paths`` are files or directories, local or any URI
    pyarrow's filesystems read (``s3://``, ``gs://``, ``hdfs://``). ``buckets``: the groups of
    stage two (default: twice the cluster's CPUs). Starts a local Ray when none is running.
    The result's datasets are computed once stage one and the whole set's clock are known."""
    ray = _ray()
    files = _engine.expand(paths)
    if not ray.is_initialized():
        ray.init()
    n = buckets or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    empty = _engine.empty_tables()

    events = ray.data.read_datasource(
        datasource(files, strict=strict, batch_rows=batch_rows)
    ).materialize()

    def of_kind(kind: int) -> Any:
        import pyarrow.compute as pc

        def f(t: Any) -> Any:
            return t.filter(pc.equal(t.column("kind"), kind))

        return f

    stats_rows = _gather(
        events.map_batches(of_kind(_engine.KIND_STATS), batch_format="pyarrow"),
        _engine.events_schema(),
    )
    read_stats = _engine.sum_stats(stats_rows.column("raw").to_pylist())

    messages = events.map_batches(
        lambda t: _engine.messages_view(t, raw=raw), batch_format="pyarrow"
    )
    keyed = events.map_batches(lambda t: _engine.messages_keyed(t, raw=raw), batch_format="pyarrow")
    packed_stats: dict[str, list[bytes]] = {"calls": [], "rtp": []}

    # The whole set's clock: the drain points and the end, from every fed message's place.
    fed = events.map_batches(lambda t: _engine.fed_view(t, n), batch_format="pyarrow")
    keys = _gather(
        fed.select_columns(["_clock", "_rank", "_seq", "time"]), _engine.fed_key_schema()
    )
    drains, end = _engine.drain_points(keys)

    packed = None
    if keys.num_rows:
        packed = (
            fed.groupby("_bucket")
            .map_groups(
                lambda t: _engine.pack_calls(t, drains, end, strict=strict),
                batch_format="pyarrow",
            )
            .materialize()
        )
        packed_stats["calls"] = _column(packed, "stats")
        calls = packed.map_batches(
            lambda t: _engine.unpack(t, "calls", empty["calls"].schema), batch_format="pyarrow"
        )
        media = packed.map_batches(
            lambda t: _engine.unpack(t, "media", empty["media"].schema), batch_format="pyarrow"
        )
        # The digits of INFO requests come from the call groups, those of RTP from the RTP
        # groups: the table is both.
        info_dtmf = packed.map_batches(
            lambda t: _engine.unpack(t, "dtmf", empty["dtmf"].schema), batch_format="pyarrow"
        )
    else:
        calls, media = ray.data.from_arrow(empty["calls"]), ray.data.from_arrow(empty["media"])
        info_dtmf = ray.data.from_arrow(empty["dtmf"])

    streams, dtmf = ray.data.from_arrow(empty["rtp_streams"]), info_dtmf
    if rtp:
        udp = events.map_batches(lambda t: _engine.udp_view(t, n), batch_format="pyarrow")
        pairs = _gather(
            udp.map_batches(_engine.distinct_pairs, batch_format="pyarrow"),
            _engine.pairs_schema(),
        )
        if pairs.num_rows:
            routes = _engine.address_buckets(pairs)
            sdp = events.map_batches(
                lambda t: _engine.route_sdp(t, routes, strict=strict), batch_format="pyarrow"
            )
            parts = [sdp]
            if packed is not None:
                parts.append(
                    packed.map_batches(
                        lambda t: _engine.join_events(t, routes), batch_format="pyarrow"
                    )
                )
            packed_rtp = (
                udp.union(*parts)
                .groupby("_bucket")
                .map_groups(lambda t: _engine.pack_rtp(t, strict=strict), batch_format="pyarrow")
                .materialize()
            )
            packed_stats["rtp"] = _column(packed_rtp, "stats")
            streams = packed_rtp.map_batches(
                lambda t: _engine.unpack(t, "rtp_streams", empty["rtp_streams"].schema),
                batch_format="pyarrow",
            )
            dtmf = info_dtmf.union(
                packed_rtp.map_batches(
                    lambda t: _engine.unpack(t, "dtmf", empty["dtmf"].schema),
                    batch_format="pyarrow",
                )
            )
    stats = _engine.engine_stats(read_stats, packed_stats["calls"], packed_stats["rtp"])
    tables = {
        "messages": messages,
        "calls": calls,
        "media": media,
        "rtp_streams": streams,
        "dtmf": dtmf,
    }
    return RayAnalysis(files, tables, keyed, stats)


def _column(ds: Any, name: str) -> list[Any]:
    t = _gather(ds.select_columns([name]), None)
    return [] if t is None else t.column(name).to_pylist()
