"""The Dask recipe: capture files read with ``dask.dataframe.from_map`` and correlated with the
same engine steps as on Ray and Spark.

>>> import sipwire.capture.dask as swd
>>> a = swd.analyze("captures/")            # any scheduler: local threads, processes, a cluster
>>> a.calls.outcome.value_counts().compute()

The recipe, step by step (what :func:`analyze` does; ``_engine`` is
``sipwire.capture._engine``)::

    files = _engine.expand(paths); rank = _engine.ranks(files)
    events = dd.from_map(read_one, [(f, rank[f]) for f in files])   # stage one, one file each
    fed = events.map_partitions(on_arrow(_engine.fed_view, n))        # + _bucket of the Call-ID
    drains, end = _engine.drain_points(fed[["_clock", "_rank", "_seq", "time"]].compute())
    packed = fed.shuffle("_bucket").map_partitions(on_arrow(_engine.pack_calls, drains, end))
    calls = packed.map_partitions(on_arrow(_engine.unpack, "calls", schema))

and the same for RTP with ``udp_view``/``route_sdp``/``pack_rtp``. The DataFrames have pandas
``ArrowDtype`` columns: the types of :func:`sipwire.capture.analyze`'s tables, nanoseconds and
unsigned integers included. Install with ``pip install 'sipwire[dask]'``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from sipwire.capture import _engine

__all__ = ["DaskAnalysis", "analyze", "read_one"]


def _dd() -> Any:
    try:
        import dask.dataframe as dd
    except ImportError:
        raise ImportError(
            "sipwire.capture.dask needs dask.dataframe: pip install 'sipwire[dask]'"
        ) from None
    return dd


def _to_pandas(t: Any) -> Any:
    import pandas as pd

    return t.to_pandas(types_mapper=pd.ArrowDtype)


def _to_arrow(df: Any) -> Any:
    pa = _engine._pa()
    return pa.Table.from_pandas(df, preserve_index=False)


def on_arrow(f: Callable[..., Any], *args: Any, **kw: Any) -> Callable[[Any], Any]:
    """A function of pyarrow tables as a function of pandas partitions."""

    def g(df: Any) -> Any:
        return _to_pandas(f(_to_arrow(df), *args, **kw))

    return g


def read_one(item: tuple[str, int], strict: bool = False) -> Any:
    """Stage one for ``dd.from_map``: one capture file's events as a pandas DataFrame."""
    pa = _engine._pa()
    file, rank = item
    parts = list(_engine.read_file(file, rank, strict=strict))
    return _to_pandas(pa.concat_tables(parts))


class DaskAnalysis:
    """The tables of a capture set analysed with Dask (each a Dask DataFrame), the files read
    and the counters (``stats``: the per-file reads' added up, the correlation's and the RTP
    stage's from the groups)."""

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
        """One table computed as a ``pyarrow.Table`` with sipwire's own types, its rows in the
        order one merged read gives them."""
        src = self._keyed if name == "messages" else getattr(self, name)
        t = _to_arrow(src.compute())
        calls = self.to_arrow("calls") if name == "media" else None
        t = _engine.in_read_order(name, t, calls)
        return t.cast(_engine.schema_of(name, "raw" in t.column_names))

    def __repr__(self) -> str:
        return f"<sipwire.capture.dask.DaskAnalysis of {len(self.files)} files>"


def analyze(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    strict: bool = False,
    raw: bool = False,
    rtp: bool = True,
    buckets: int | None = None,
) -> DaskAnalysis:
    """Analyses capture files with Dask (the scheduler configured: ``dask.config.set(
    scheduler=...)`` or a ``distributed.Client``)."""
    dd = _dd()
    files = _engine.expand(paths)
    rk = _engine.ranks(files)
    n = buckets or max(2, 2 * (os.cpu_count() or 1))
    empty = _engine.empty_tables()
    meta_events = _to_pandas(_engine.events_schema().empty_table())

    events = dd.from_map(read_one, [(f, rk[f]) for f in files], strict=strict, meta=meta_events)
    events = events.persist()
    stats_rows = events[events["kind"] == _engine.KIND_STATS]["raw"].compute()
    read_stats = _engine.sum_stats(list(stats_rows))

    def meta(f: Callable[[Any], Any]) -> Any:
        return f(meta_events)

    view = on_arrow(_engine.messages_view, raw=raw)
    messages = events.map_partitions(view, meta=meta(view))
    keyed_f = on_arrow(_engine.messages_keyed, raw=raw)
    keyed = events.map_partitions(keyed_f, meta=meta(keyed_f))
    packed_stats: dict[str, list[bytes]] = {"calls": [], "rtp": []}
    fed_f = on_arrow(_engine.fed_view, n)
    fed = events.map_partitions(fed_f, meta=meta(fed_f)).persist()
    keys = _to_arrow(fed[["_clock", "_rank", "_seq", "time"]].compute())
    drains, end = _engine.drain_points(keys)

    tables: dict[str, Any] = {"messages": messages}

    calls_pack = on_arrow(_engine.pack_calls, drains, end, strict=strict)
    packed = fed.shuffle("_bucket").map_partitions(calls_pack, meta=calls_pack(fed._meta))
    packed = packed.persist()
    packed_stats["calls"] = list(packed["stats"].compute())
    # The digits of INFO requests come from the call groups, those of RTP from the RTP
    # groups: the `dtmf` table is both.
    for name in ("calls", "media", "dtmf"):
        unpack = on_arrow(_engine.unpack, name, empty[name].schema)
        tables[name] = packed.map_partitions(unpack, meta=_to_pandas(empty[name]))

    tables["rtp_streams"] = dd.from_pandas(_to_pandas(empty["rtp_streams"]), npartitions=1)
    if rtp:
        udp_f = on_arrow(_engine.udp_view, n)
        udp = events.map_partitions(udp_f, meta=meta(udp_f)).persist()
        pairs = _to_arrow(udp[["src_ip", "dst_ip", "_bucket"]].drop_duplicates().compute())
        if pairs.num_rows:
            routes = _engine.address_buckets(pairs)
            route_f = on_arrow(_engine.route_sdp, routes, strict=strict)
            sdp = events.map_partitions(route_f, meta=meta(route_f))
            rtp_pack = on_arrow(_engine.pack_rtp, strict=strict)
            join_f = on_arrow(_engine.join_events, routes)
            joins = packed.map_partitions(join_f, meta=join_f(packed._meta))
            both = dd.concat([udp, sdp, joins])
            packed_rtp = (
                both.shuffle("_bucket").map_partitions(rtp_pack, meta=rtp_pack(both._meta))
            ).persist()
            packed_stats["rtp"] = list(packed_rtp["stats"].compute())
            for name in ("rtp_streams", "dtmf"):
                unpack = on_arrow(_engine.unpack, name, empty[name].schema)
                rtp_rows = packed_rtp.map_partitions(unpack, meta=_to_pandas(empty[name]))
                tables[name] = dd.concat([tables[name], rtp_rows]) if name == "dtmf" else rtp_rows
    stats = _engine.engine_stats(read_stats, packed_stats["calls"], packed_stats["rtp"])
    return DaskAnalysis(files, tables, keyed, stats)
