"""What the distributed engines' tests share: a rotated capture set (capgen/rotated.py), the
single-machine tables it must give, and finding an engine (a skip locally, a failure in CI)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from capgen.rotated import write_rotated

import sipwire.capture

TABLES = ("messages", "calls", "media", "rtp_streams", "dtmf")
#: Counters an engine gives as one merged read does (the SDP counters of the RTP stage are
#: left out: an SDP is replayed in every RTP group that needs it).
SAME_STATS = (
    "records",
    "bytes",
    "sip_messages",
    "sip_parse_errors",
    "not_sip",
    "calls_done",
    "uncorrelated",
    "uncorrelated_no_call_id",
    "uncorrelated_bad_cseq",
    "uncorrelated_no_via",
    "uncorrelated_bad_via",
    "uncorrelated_late",
    "uncorrelated_ack_response",
    "dropped_transactions",
    "dropped_exchanges",
    "non_call_transactions_unfollowed",
    "rtp_packets",
    "rtp_streams_sdp",
    "rtp_streams_heuristic",
    "rtcp_packets",
    "dtmf_events",
    "sip_captured_twice",
    "rtp_captured_twice",
    "rtcp_captured_twice",
)


def require(module: str, extra: str) -> Any:
    """``module`` imported; a skip locally, a failure in CI (``CI`` set), when missing."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        message = f"{module} not importable ({e}): pip install 'sipwire[{extra}]' (scripts/dev.sh setup installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the engine tests", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def capture_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The set's directory and its files in a scrambled order."""
    d = tmp_path_factory.mktemp("rotated")
    return d, [str(p) for p in write_rotated(d)]


def single_machine(
    files: list[str], *, raw: bool = False
) -> tuple[dict[str, pa.Table], dict[str, int]]:
    a = sipwire.capture.analyze(sorted(files), raw=raw).finish()
    tables = {n: pa.table(getattr(a, n)) for n in TABLES[1:]}
    tables["messages"] = pa.table(a.messages)
    return tables, dict(a.stats)


@pytest.fixture(scope="module")
def expected(capture_set: tuple[Path, list[str]]) -> tuple[dict[str, pa.Table], dict[str, int]]:
    return single_machine(capture_set[1])


def assert_same(
    got: dict[str, pa.Table],
    stats: dict[str, int],
    want: tuple[dict[str, pa.Table], dict[str, int]],
) -> None:
    """Every table equal to the single machine's, row for row in its order, and the counters
    an engine can give equal."""
    tables, want_stats = want
    for name in TABLES:
        g, w = got[name], tables[name]
        assert g.schema.equals(w.schema), (name, g.schema, w.schema)
        assert g.num_rows == w.num_rows, (name, g.num_rows, w.num_rows)
        if not g.equals(w):
            for c in w.column_names:
                assert g.column(c).equals(w.column(c)), (name, c, g.column(c)[:5], w.column(c)[:5])
    for k in SAME_STATS:
        assert stats.get(k) == want_stats.get(k), (k, stats.get(k), want_stats.get(k))
