"""sipwire.capture.spark on Spark ``local[2]`` (Debian's Java 17): the data source and the
``applyInArrow`` correlation give the single machine's tables for a rotated capture set, and
``sipwire analyze --engine spark`` writes what the single-machine command writes."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from engine_cli import assert_cli_same
from engine_support import TABLES, assert_same, capture_set, expected, require

__all__ = ["capture_set", "expected"]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    require("pyspark.sql.datasource", "spark")
    if shutil.which("java") is None:
        message = "java not found: install openjdk-17-jre-headless (scripts/dev.sh setup)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the engine tests", pytrace=False)
        pytest.skip(message)
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # loopback only, not the host's interface
    s = (
        SparkSession.builder.master("local[2]")
        .appName("sipwire-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    s.sparkContext.setLogLevel("ERROR")
    try:
        yield s
    finally:
        s.stop()


def test_spark_data_source(
    spark: Any,
    capture_set: tuple[Path, list[str]],
    expected: tuple[dict[str, pa.Table], dict[str, int]],
) -> None:
    import sipwire.capture.spark as sws

    sws.register(spark)
    d, _ = capture_set
    events = spark.read.format("sipwire").load(str(d))
    assert events.filter("kind = 0").count() == expected[0]["messages"].num_rows


def test_spark_equals_one_merged_read(
    spark: Any,
    capture_set: tuple[Path, list[str]],
    expected: tuple[dict[str, pa.Table], dict[str, int]],
) -> None:
    import sipwire.capture.spark as sws

    _, files = capture_set
    a = sws.analyze(files, spark, buckets=3)
    assert a.calls.columns == expected[0]["calls"].column_names
    assert a.messages.columns == expected[0]["messages"].column_names
    got = {name: a.to_arrow(name) for name in TABLES}
    assert_same(got, a.stats, expected)


def test_spark_cli(spark: Any, capture_set: tuple[Path, list[str]], tmp_path: Path) -> None:
    assert_cli_same("spark", capture_set[0], tmp_path)
