"""sipwire.capture.ray on a local Ray (2 CPUs): the tables of a rotated capture set (files out
of order, calls and RTP across files, a call seen by two probes) equal the single machine's,
and ``sipwire analyze --engine ray`` writes what the single-machine command writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from engine_cli import assert_cli_same
from engine_support import TABLES, assert_same, capture_set, expected, require

__all__ = ["capture_set", "expected"]


@pytest.fixture(scope="module")
def ray() -> Iterator[Any]:
    ray = require("ray", "ray")
    require("ray.data", "ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="warning",
        configure_logging=True,
    )
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    try:
        yield ray
    finally:
        ray.shutdown()


def test_ray_equals_one_merged_read(
    ray: Any,
    capture_set: tuple[Path, list[str]],
    expected: tuple[dict[str, pa.Table], dict[str, int]],
) -> None:
    import sipwire.capture.ray as swr

    _, files = capture_set
    a = swr.analyze(files, buckets=3)
    for name in TABLES:
        assert isinstance(getattr(a, name), ray.data.Dataset), name
    assert a.calls.columns() == expected[0]["calls"].column_names
    got = {name: a.to_arrow(name) for name in TABLES}
    assert_same(got, a.stats, expected)


def test_ray_cli(ray: Any, capture_set: tuple[Path, list[str]], tmp_path: Path) -> None:
    assert_cli_same("ray", capture_set[0], tmp_path)
