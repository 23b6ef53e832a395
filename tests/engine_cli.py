"""``sipwire analyze --engine E DIR`` against the single-machine command (run in-process, so an
engine session a test module started is reused)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from sipwire import cli

TABLE_FILES = ("messages", "calls", "media", "rtp_streams", "dtmf")


def _run(args: list[str]) -> int:
    return cli.main(["analyze", "--quiet", *args])


def assert_cli_same(engine: str, directory: Path, tmp_path: Path) -> None:
    local, dist = tmp_path / "local", tmp_path / engine
    files = sorted(str(p) for p in directory.rglob("*.pcap"))
    assert _run([*files, "--out", str(local)]) == 0
    assert _run(["--engine", engine, str(directory), "--out", str(dist)]) == 0
    for name in TABLE_FILES:
        a, b = pq.read_table(local / f"{name}.parquet"), pq.read_table(dist / f"{name}.parquet")
        assert a.equals(b), name
    s_local = json.loads((local / "summary.json").read_text())
    s_dist = json.loads((dist / "summary.json").read_text())
    for key in ("calls", "post_dial_delay", "setup_time", "duration", "failures", "rtp", "dtmf"):
        assert s_local.get(key) == s_dist.get(key), key
    assert s_local["capture"] == s_dist["capture"]
