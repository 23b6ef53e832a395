"""Shared inputs for the pytest-benchmark suites, and a ratio table printed after the run.

The suites are benchmarks, not tests: run them with ``--benchmark-only``. Every case checks,
once and untimed, that the fields it reads are the expected ones, so a peer that silently
returns garbage cannot look fast.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

# Timing defaults, unless given on the command line. pytest-benchmark picks how many calls
# one round times from the first call, which is cold (caches, lazy imports), so sub-2 µs cases
# got one call per round and carried the timer's own ~50 ns; with warm-up and rounds of at
# least 20 µs every case is timed over enough calls for that to vanish, peers and sipwire
# alike (a 40 µs peer still gets one call per round).
BENCH_DEFAULTS = {
    "--benchmark-warmup": ("benchmark_warmup", True),
    "--benchmark-min-time": ("benchmark_min_time", 0.00002),
}


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: Any) -> None:
    given = [str(a) for a in config.invocation_params.args]
    for flag, (dest, value) in BENCH_DEFAULTS.items():
        if not any(a == flag or a.startswith(flag + "=") for a in given) and hasattr(
            config.option, dest
        ):
            setattr(config.option, dest, value)


DATA = Path(__file__).parent / "data"

# The three message sizes every parse and serialize case runs on (benches/data/<size>.sip).
SIZES = ("bye", "invite_1k", "invite_4k")
MESSAGES = {size: (DATA / f"{size}.sip").read_bytes() for size in SIZES}
SDP = (DATA / "sdp_audio.sdp").read_bytes()

# The eight fields every parse case reads: method, Request-URI, Call-ID, CSeq (number and
# method), From tag, To tag (absent in an initial INVITE), top Via branch, Content-Length.
EXPECTED_FIELDS = {
    "bye": (
        "BYE",
        "sip:bob@192.0.2.4:5060;transport=udp",
        "3848276298220188511@client.atlanta.example.com",
        (314160, "BYE"),
        "9fxced76sl",
        "8321234356",
        "z9hG4bK2d4790.2",
        0,
    ),
    "invite_1k": (
        "INVITE",
        "sip:bob@biloxi.example.com",
        "3848276298220188511@client.atlanta.example.com",
        (314159, "INVITE"),
        "9fxced76sl",
        None,
        "z9hG4bK2d4790.1",
        302,
    ),
    "invite_4k": (
        "INVITE",
        "sip:+17065550188@biloxi.example.com;user=phone",
        "a84b4c76e66710-4f2a9d1c@198.51.100.33",
        (27182, "INVITE"),
        "aX3k9LmQ",
        None,
        "z9hG4bK3f7a.9c2e01b4.0",
        1752,
    ),
}
# One audio stream: (port, direction, [(payload type, encoding name, clock rate), ...]).
EXPECTED_SDP = [
    (
        49172,
        "sendrecv",
        [(0, "PCMU", 8000), (8, "PCMA", 8000), (18, "G729", 8000), (101, "telephone-event", 8000)],
    )
]

# The case every other case of a group is compared with in the summary.
BASELINE = "sipwire"


@pytest.fixture(scope="session", params=SIZES)
def size(request: Any) -> str:
    """Parametrizes a case over the three messages: ``bye``, ``invite_1k``, ``invite_4k``."""
    return str(request.param)


def optional(module: str) -> Any:
    """The module, or None when the peer is not installed (its cases then skip). The bench
    files import peers once, here, not inside the timed functions: an import statement that
    finds the module already loaded still costs ~0.1-0.6 µs per call."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def label(benchmark: Any, group: str, size: str, library: str, messages: int = 1) -> None:
    """Puts a case in its per-size group (``"<group>: <size>"``, so the summary compares cases
    on the same message) and records the library, the size and the messages per call in
    ``extra_info``, which ``benches/plot.py`` reads from the JSON output."""
    benchmark.group = f"{group}: {size}"
    benchmark.extra_info.update(library=library, size=size, bytes=len(MESSAGES[size]))
    if messages != 1:
        benchmark.extra_info["messages"] = messages


@pytest.fixture(scope="session")
def sdp_body() -> bytes:
    return SDP


def _median(bench: Any) -> float | None:
    stats = getattr(bench, "stats", None)
    stats = getattr(stats, "stats", stats)  # pytest-benchmark wraps Stats in Metadata
    return getattr(stats, "median", None)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    """Prints, per benchmark group, each case's median and how many times slower it is than
    the group's sipwire case (all from this one run). Batch cases are shown per message.
    Works with pytest-benchmark 4 and 5 (it reads the plugin's session, which has no public
    hook for this; if that changes, the table is skipped, not the run)."""
    session = getattr(config, "_benchmarksession", None)
    benches = getattr(session, "benchmarks", None) or []
    groups: dict[str, list[tuple[str, float]]] = {}
    for b in benches:
        median = _median(b)
        if median is None:
            continue
        # A case timing a batch says how many messages one call handles (``extra_info``):
        # the table shows the time per message.
        per_call = (getattr(b, "extra_info", None) or {}).get("messages", 1)
        groups.setdefault(b.group or "", []).append((b.name, median / per_call))
    if not groups:
        return
    tr = terminalreporter
    tr.write_sep("-", "median per call, and ratio to the group's sipwire case (same run)")
    for group, rows in sorted(groups.items()):
        base = next((m for n, m in rows if BASELINE in n and "batch" not in n), None)
        tr.write_line(f"[{group}]")
        for name, median in sorted(rows, key=lambda r: r[1]):
            ratio = f"{median / base:8.1f}x" if base else "       -"
            tr.write_line(f"  {name:<48} {median * 1e6:10.2f} us  {ratio}")
