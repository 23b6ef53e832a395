"""The Dask recipe (sipwire.capture.dask) with the synchronous scheduler and with local
threads: the single machine's tables for a rotated capture set, and ``sipwire analyze --engine
dask``."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from engine_cli import assert_cli_same
from engine_support import TABLES, assert_same, capture_set, expected, require

__all__ = ["capture_set", "expected"]


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_dask_equals_one_merged_read(
    scheduler: str,
    capture_set: tuple[Path, list[str]],
    expected: tuple[dict[str, pa.Table], dict[str, int]],
) -> None:
    dask = require("dask", "dask")
    require("dask.dataframe", "dask")
    import sipwire.capture.dask as swd

    _, files = capture_set
    with dask.config.set(scheduler=scheduler):
        a = swd.analyze(files, buckets=3)
        assert list(a.calls.columns) == expected[0]["calls"].column_names
        got = {name: a.to_arrow(name) for name in TABLES}
    assert_same(got, a.stats, expected)


def test_dask_cli(capture_set: tuple[Path, list[str]], tmp_path: Path) -> None:
    dask = require("dask", "dask")
    with dask.config.set(scheduler="synchronous"):
        assert_cli_same("dask", capture_set[0], tmp_path)
