"""Thousands of captures on Spark 4: a Python data source and the correlation as
``groupBy(...).applyInArrow(...)``.

>>> import sipwire.capture.spark as sws
>>> sws.register(spark)                                   # spark.read.format("sipwire")
>>> events = spark.read.format("sipwire").load("hdfs:///captures/2026-12-04/")
>>> a = sws.analyze("hdfs:///captures/2026-12-04/", spark)
>>> a.calls.groupBy("outcome").count().show()

``spark.read.format("sipwire").load(path)`` reads capture files (a file, a directory, or a
list as ``.option("paths", json.dumps([...]))``; local or any URI pyarrow reads) as Arrow
batches of *events*: the ``messages`` columns with ``raw``, and the engine's columns
(``kind``: 0 SIP, 1 UDP payload for RTP, 2 the file's counters; ``_rank``, ``_clock``,
``_seq``, ``_fed``, ``_time_ns``). :func:`analyze` turns them into ``messages``, ``calls``,
``media``, ``rtp_streams`` and ``dtmf`` DataFrames with the columns of
:func:`sipwire.capture.analyze` and the rows of one merged read of the same files.

Spark has no unsigned integers and keeps times in microseconds: unsigned columns are widened
to the next signed type (``uint16`` → int, ``uint32``/``uint64`` → bigint), times are Spark
timestamps (UTC, µs: pcap's own resolution; the exact nanoseconds of ``time`` stay in the
events' ``_time_ns``). Install with ``pip install 'sipwire[spark]'`` (Spark needs Java 17+).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from sipwire.capture import _engine

__all__ = ["SparkAnalysis", "analyze", "register", "spark_schema", "to_spark_arrow"]


def _pyspark() -> Any:
    try:
        import pyspark
        import pyspark.sql.datasource  # Spark 4's Python data sources
    except ImportError:
        raise ImportError(
            "sipwire.capture.spark needs PySpark 4: pip install 'sipwire[spark]'"
        ) from None
    return pyspark


# --- Arrow types Spark takes -------------------------------------------------------------------


def _spark_arrow_type(t: Any) -> Any:
    pa = _engine._pa()
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz="UTC")
    widen = {
        pa.uint8(): pa.int16(),
        pa.uint16(): pa.int32(),
        pa.uint32(): pa.int64(),
        pa.uint64(): pa.int64(),
    }
    if t in widen:
        return widen[t]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(_spark_arrow_type(t.value_type))
    if pa.types.is_large_string(t):
        return pa.string()
    return t


def to_spark_arrow(schema: Any) -> Any:
    """The Arrow schema Spark reads for a sipwire table's schema (see the module text)."""
    pa = _engine._pa()
    return pa.schema([pa.field(f.name, _spark_arrow_type(f.type), True) for f in schema])


def spark_schema(schema: Any) -> Any:
    """The Spark ``StructType`` of a sipwire table's Arrow schema."""
    _pyspark()
    from pyspark.sql import types as T

    pa = _engine._pa()

    def conv(t: Any) -> Any:
        t = _spark_arrow_type(t)
        simple = {
            pa.int16(): T.ShortType(),
            pa.int32(): T.IntegerType(),
            pa.int64(): T.LongType(),
            pa.float64(): T.DoubleType(),
            pa.bool_(): T.BooleanType(),
            pa.string(): T.StringType(),
            pa.binary(): T.BinaryType(),
        }
        if pa.types.is_timestamp(t):
            return T.TimestampType()
        if pa.types.is_list(t):
            return T.ArrayType(conv(t.value_type), True)
        if t in simple:
            return simple[t]
        raise TypeError(f"no Spark type for {t}")

    return T.StructType([T.StructField(f.name, conv(f.type), True) for f in schema])


def _cast(t: Any) -> Any:
    return t.cast(to_spark_arrow(t.schema))


def _events_arrow_schema() -> Any:
    pa = _engine._pa()
    return to_spark_arrow(_engine.events_schema()).append(pa.field("_time_ns", pa.int64()))


def _to_events(t: Any) -> Any:
    """A stage-one event table as Spark reads it (``_time_ns`` keeps the nanoseconds)."""
    pa = _engine._pa()
    ns = t.column("time").cast(pa.int64())
    return _cast(t).append_column("_time_ns", ns)


def _from_events(t: Any) -> Any:
    """A Spark group of events back as the engine's Arrow table (``time`` in ns again)."""
    pa = _engine._pa()
    i = t.schema.get_field_index("time")
    ns = t.column("_time_ns").cast(pa.timestamp("ns", tz="UTC"))
    t = t.set_column(i, "time", ns)
    types = {f.name: f.type for f in _engine.events_schema()}
    return t.cast(pa.schema([pa.field(f.name, types.get(f.name, f.type)) for f in t.schema]))


# --- the data source ---------------------------------------------------------------------------


def _data_source_class() -> Any:
    _pyspark()
    from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition

    class CapturePartition(InputPartition):  # type: ignore[misc,unused-ignore]
        def __init__(self, file: str, rank: int) -> None:
            super().__init__((file, rank))
            self.file = file
            self.rank = rank

    class CaptureReader(DataSourceReader):  # type: ignore[misc,unused-ignore]
        def __init__(self, options: Any) -> None:
            self.options = options
            paths: Any = options.get("paths")
            if paths is not None:
                paths = json.loads(paths)
            else:
                paths = options.get("path")
            if not paths:
                raise ValueError(
                    'spark.read.format("sipwire") needs a path: .load(DIR), or '
                    '.option("paths", json.dumps([...]))'
                )
            self.files = _engine.expand(paths)
            self.strict = options.get("strict", "false").lower() == "true"

        def partitions(self) -> list[Any]:
            rk = _engine.ranks(self.files)
            return [CapturePartition(f, rk[f]) for f in self.files]

        def read(self, partition: Any) -> Iterator[Any]:
            for t in _engine.read_file(partition.file, partition.rank, strict=self.strict):
                yield from _to_events(t).to_batches()

    class SipwireDataSource(DataSource):  # type: ignore[misc,unused-ignore]
        @classmethod
        def name(cls) -> str:
            return "sipwire"

        def schema(self) -> Any:
            return spark_schema(_events_arrow_schema())

        def reader(self, schema: Any) -> Any:
            return CaptureReader(self.options)

    return SipwireDataSource


def register(spark: Any) -> None:
    """Makes ``spark.read.format("sipwire")`` known to the session."""
    spark.dataSource.register(_data_source_class())


# --- the job -----------------------------------------------------------------------------------


class SparkAnalysis:
    """The tables of a capture set analysed on Spark (each a DataFrame), the files read and
    the counters (``stats``: the per-file reads' added up, the correlation's and the RTP
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
        """One table gathered on the driver as a ``pyarrow.Table`` with sipwire's own types
        (nanosecond times, unsigned integers), its rows in the order one merged read gives
        them."""
        pa = _engine._pa()
        if name == "messages":
            t = self._keyed.toArrow()
            raw = "raw" in t.column_names
            ns = t.column("_time_ns").cast(pa.timestamp("ns", tz="UTC"))
            t = t.set_column(t.schema.get_field_index("time"), "time", ns)
            t = _engine.in_read_order("messages", t)
            return t.cast(_engine.schema_of("messages", raw))
        calls = None
        if name == "media":
            calls = self.to_arrow("calls")
        t = getattr(self, name).toArrow().cast(_engine.schema_of(name, False))
        return _engine.in_read_order(name, t, calls)

    def __repr__(self) -> str:
        return f"<sipwire.capture.spark.SparkAnalysis of {len(self.files)} files>"


def _unpacker(name: str, schema: Any) -> Any:
    def f(batches: Iterator[Any]) -> Iterator[Any]:
        pa = _engine._pa()
        for b in batches:
            t = _engine.unpack(pa.Table.from_batches([b]), name, schema)
            yield from _cast(t).to_batches()

    return f


def analyze(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    spark: Any = None,
    *,
    strict: bool = False,
    raw: bool = False,
    rtp: bool = True,
    buckets: int | None = None,
) -> SparkAnalysis:
    """Analyses capture files on Spark (``spark``: the session; the active one, or a new
    local one, when not given). ``buckets``: stage two's groups (default: twice the default
    parallelism)."""
    _pyspark()
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    if spark is None:
        spark = SparkSession.getActiveSession()
    if spark is None:
        # The Python workers must import sipwire: this interpreter's. A local session talks
        # to its own workers over loopback, not the host's first interface.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        spark = (
            SparkSession.builder.config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
    register(spark)
    files = _engine.expand(paths)
    n = buckets or max(2, 2 * int(spark.sparkContext.defaultParallelism))
    empty = _engine.empty_tables()

    events = (
        spark.read.format("sipwire")
        .option("paths", json.dumps(files))
        .option("strict", str(strict).lower())
        .load()
        .cache()
    )
    stats_rows = events.filter(F.col("kind") == _engine.KIND_STATS).select("raw").collect()
    read_stats = _engine.sum_stats(r["raw"] for r in stats_rows)

    drop = [*_engine.INTERNAL, "_time_ns"] + ([] if raw else ["raw"])
    messages = events.filter(F.col("kind") == _engine.KIND_SIP).drop(*drop)
    keyed = events.filter(F.col("kind") == _engine.KIND_SIP).drop(
        "kind", "_fed", *([] if raw else ["raw"])
    )
    packed_stats: dict[str, list[bytes]] = {"calls": [], "rtp": []}

    bucket_of_call = F.coalesce(F.crc32(F.col("call_id").cast("binary")) % n, F.lit(0))
    fed = events.filter((F.col("kind") == _engine.KIND_SIP) & F.col("_fed")).withColumn(
        "_bucket", bucket_of_call.cast("int")
    )
    keys = fed.select("_clock", "_rank", "_seq", F.col("_time_ns").alias("time")).toArrow()
    drains, end = _engine.drain_points(keys)

    def calls_of_group(t: Any) -> Any:
        return _engine.pack_calls(_from_events(t), drains, end, strict=strict)

    packed = fed.groupBy("_bucket").applyInArrow(
        calls_of_group, "stats binary, calls binary, media binary, dtmf binary, joins binary"
    )
    packed = packed.cache()
    packed_stats["calls"] = [r["stats"] for r in packed.select("stats").collect()]
    tables: dict[str, Any] = {"messages": messages}
    # The digits of INFO requests come from the call groups, those of RTP from the RTP
    # groups: the `dtmf` table is both.
    for name in ("calls", "media", "dtmf"):
        schema = empty[name].schema
        tables[name] = packed.mapInArrow(_unpacker(name, schema), spark_schema(schema))

    tables["rtp_streams"] = spark.createDataFrame([], spark_schema(empty["rtp_streams"].schema))
    if rtp:
        lo = F.least("src_ip", "dst_ip")
        hi = F.greatest("src_ip", "dst_ip")
        udp = events.filter(F.col("kind") == _engine.KIND_UDP).withColumn(
            "_bucket", (F.crc32(F.concat(lo, F.lit("|"), hi).cast("binary")) % n).cast("int")
        )
        pairs = udp.select("src_ip", "dst_ip", "_bucket").distinct().toArrow()
        if pairs.num_rows:
            routes = _engine.address_buckets(pairs)
            pa = _engine._pa()
            routed_schema = _events_arrow_schema().append(pa.field("_bucket", pa.int32()))

            def route(batches: Iterator[Any]) -> Iterator[Any]:
                for b in batches:
                    t = _from_events(pa.Table.from_batches([b]))
                    out = _engine.route_sdp(t, routes, strict=strict)
                    ns = out.column("time").cast(pa.int64())
                    out = out.set_column(out.schema.get_field_index("_time_ns"), "_time_ns", ns)
                    yield from out.cast(routed_schema).to_batches()

            sdp = events.filter(F.col("kind") == _engine.KIND_SIP).mapInArrow(
                route, spark_schema(routed_schema)
            )

            def joins_of(batches: Iterator[Any]) -> Iterator[Any]:
                for b in batches:
                    out = _engine.join_events(pa.Table.from_batches([b]), routes)
                    out = out.append_column("_time_ns", pa.array([0] * out.num_rows, pa.int64()))
                    yield from out.select(routed_schema.names).cast(routed_schema).to_batches()

            joins = packed.mapInArrow(joins_of, spark_schema(routed_schema))

            def rtp_of_group(t: Any) -> Any:
                return _engine.pack_rtp(_from_events(t), strict=strict)

            packed_rtp = (
                udp.unionByName(sdp)
                .unionByName(joins)
                .groupBy("_bucket")
                .applyInArrow(rtp_of_group, "stats binary, rtp_streams binary, dtmf binary")
                .cache()
            )
            packed_stats["rtp"] = [r["stats"] for r in packed_rtp.select("stats").collect()]
            for name in ("rtp_streams", "dtmf"):
                schema = empty[name].schema
                rtp_rows = packed_rtp.mapInArrow(_unpacker(name, schema), spark_schema(schema))
                tables[name] = tables[name].unionByName(rtp_rows) if name == "dtmf" else rtp_rows
    stats = _engine.engine_stats(read_stats, packed_stats["calls"], packed_stats["rtp"])
    return SparkAnalysis(files, tables, keyed, stats)
