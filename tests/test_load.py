"""``sipwire load``: the Rust engine placing and answering calls on loopback counts every
call, writes the JSON and CSV a benchmark needs, runs each scenario, says at once when
nothing is there, shows its defaults; the asyncio path (TCP) still counts. Short runs at low
rates; no timed assertion (speed is measured in benches/load.py, never here)."""

from __future__ import annotations

import asyncio
import csv
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sipwire import load
from sipwire.load import answer_calls, place_calls


def sipwire(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sipwire", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Answerer:
    """``load.answer`` in a thread (the engine runs without the GIL), until ``calls``
    calls ended."""

    def __init__(
        self, calls: int | None, ring: float = 0.0, duration: float = 30.0, host: str = "127.0.0.1"
    ) -> None:
        self.ready = threading.Event()
        self.addr: tuple[str, int] = ("", 0)
        self.result: load.LoadResult | None = None

        def ready(a: tuple[str, int]) -> None:
            self.addr = a
            self.ready.set()

        def body() -> None:
            self.result = load.answer(
                host=host, port=0, calls=calls, ring=ring, duration=duration, ready=ready
            )

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    @property
    def uri(self) -> str:
        host = f"[{self.addr[0]}]" if ":" in self.addr[0] else self.addr[0]
        return f"sip:load@{host}:{self.addr[1]}"

    def wait(self) -> load.LoadResult:
        self.thread.join(60)
        assert self.result is not None
        return self.result


@pytest.fixture
def silent() -> Iterator[int]:
    """A UDP port where something is bound but never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def test_call_writes_json_and_csv_with_every_figure(tmp_path: Path) -> None:
    ans = Answerer(calls=40)
    out, series = tmp_path / "run.json", tmp_path / "run.csv"
    r = sipwire(
        "load", "call", ans.uri, "--rate", "40", "--duration", "1", "--quiet",
        "--json", str(out), "--csv", str(series),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    got: dict[str, Any] = json.loads(out.read_text())
    assert got["attempted"] == got["completed"] == 40
    assert got["failed"] == {"total": 0, "by_status": []}
    assert got["refused"] == got["unreachable"] == got["unfinished"] == 0
    assert set(got["retransmissions"]) == {"sent", "received"}
    assert got["concurrent"]["max"] >= 1
    setup = got["setup_ms"]
    assert setup["count"] == 40
    for k in ("p50", "p95", "p99", "p99.9", "max"):
        assert isinstance(setup[k], float) and setup[k] >= 0, (k, setup)
    assert setup["p50"] <= setup["p95"] <= setup["p99"] <= setup["p99.9"] <= setup["max"]
    assert got["messages"]["sent"] == 40 * 3  # INVITE, ACK, BYE
    assert got["scenario"] == "call" and got["rate"] == 40
    rows = list(csv.DictReader(series.open()))
    assert rows and rows[-1]["completed"] == "40"
    assert {"time", "attempted", "failed", "up", "retransmitted", "p99_ms"} <= set(rows[0])
    assert "completed 40" in r.stdout and "p99.9" in r.stdout
    served = ans.wait()
    assert served.attempted == served.answered == served.completed == 40
    assert served.failed == 0
    # The answering side's series counts incoming calls.
    assert served.series[-1]["attempted"] == served.series[-1]["completed"] == 40
    assert served.to_json()["role"] == "answer"


def test_a_live_progress_line_goes_to_stderr() -> None:
    ans = Answerer(calls=30)
    r = sipwire("load", "call", ans.uri, "--rate", "20", "--duration", "1.5")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "attempted" in ln]
    assert len(lines) >= 2 and "completed" in lines[0] and "retransmitted" in lines[0]
    assert "done: completed 30, failed 0" in r.stderr
    ans.wait()


def test_calls_over_ipv6_loopback() -> None:
    ans = Answerer(calls=10, host="::1")
    res = load.run(ans.uri, rate=20, duration=0.5)
    served = ans.wait()
    assert res.completed == res.attempted == 10 and res.clean, res.summary()
    assert served.completed == 10


def test_the_answering_side_counts_calls_up_at_once() -> None:
    # Ten calls placed within 0.1 s, each held 2 s: both sides see all ten up together.
    ans = Answerer(calls=10)
    res = load.run(ans.uri, load.SCENARIOS["call"](2.0), rate=100, duration=1, max_calls=10)
    served = ans.wait()
    assert res.completed == res.attempted == 10 and res.clean
    assert res.max_concurrent == 10
    assert served.max_concurrent == 10 and served.completed == 10


@pytest.mark.parametrize("name", ["options", "message", "hold-dtmf"])
def test_scenarios_complete_against_the_answerer(name: str) -> None:
    calls = 10 if name == "hold-dtmf" else None
    ans = Answerer(calls=calls, duration=30 if calls else 2)
    res = load.run(ans.uri, load.SCENARIOS[name](0.2), rate=10, duration=1)
    served = ans.wait()
    assert res.attempted == res.completed == 10 and res.clean, res.summary()
    requests = served.extra["in_requests"]
    if name == "hold-dtmf":
        # INVITE, then the hold and resume re-INVITEs; digits 1 2 3 # as INFO.
        assert requests["INVITE"] == 30 and requests["INFO"] == 40, requests
        assert served.completed == 10
    else:
        assert requests[name.upper()] == 10, requests


def test_cancel_during_ringing() -> None:
    ans = Answerer(calls=5, ring=5.0)
    res = load.run(ans.uri, load.SCENARIOS["cancel"](0.1), rate=10, duration=0.5)
    served = ans.wait()
    assert res.attempted == res.completed == 5 and res.clean, res.summary()
    assert served.extra["in_cancelled"] == served.cancelled == 5 and served.completed == 0
    assert "failed 0, cancelled 5," in served.summary()
    assert served.to_json()["cancelled"] == 5
    assert "INVITE to 487 latency" in res.summary()


def test_answered_calls_never_acked_are_unfinished_at_the_end() -> None:
    """INVITEs answered 200 whose ACK never comes (a fuzzer's, a broken caller's) are still
    waiting when answering stops: counted as unfinished, not lost from the summary."""
    ans = Answerer(calls=None, duration=1.0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        me = f"127.0.0.1:{s.getsockname()[1]}"
        for i in range(3):
            s.sendto(
                (
                    f"INVITE {ans.uri} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKna{i}\r\n"
                    f"Max-Forwards: 70\r\nFrom: <sip:x@{me}>;tag=n{i}\r\nTo: <{ans.uri}>\r\n"
                    f"Call-ID: noack-{i}\r\nCSeq: 1 INVITE\r\nContact: <sip:x@{me}>\r\n"
                    "Content-Length: 0\r\n\r\n"
                ).encode(),
                ans.addr,
            )
    res = ans.wait()
    assert (res.attempted, res.answered, res.unfinished) == (3, 0, 3), res.summary()
    assert "unfinished 3" in res.summary()


def test_cancel_of_a_call_answered_at_once_says_so() -> None:
    ans = Answerer(calls=3)
    res = load.run(ans.uri, load.SCENARIOS["cancel"](0.1), rate=10, duration=0.3)
    ans.wait()
    assert res.failed == 3 and not res.clean
    assert res.failures == {(200, "OK (answered before the CANCEL)"): 3}, res.failures


def test_failed_calls_are_counted_by_status_and_reason() -> None:
    ans = Answerer(calls=5)
    # The answerer answers OPTIONS 200; a scenario that expects 404 fails each call.
    sc = load.Scenario("odd", (load.request("OPTIONS", expect=(404, 404)),))
    res = load.run(ans.uri, sc, rate=10, duration=0.5)
    assert res.failed == res.attempted == 5 and not res.clean
    assert res.failures == {(200, "OK"): 5}
    assert res.to_json()["failed"]["by_status"] == [{"status": 200, "reason": "OK", "count": 5}]


def test_a_port_with_nothing_listening_is_reported_at_once() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = sipwire("load", "call", f"sip:x@127.0.0.1:{port}", "--rate", "100", "--quiet")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "nothing is listening" in r.stderr and "ICMP port unreachable" in r.stderr
    # No call is counted as a 408 timeout (the port number may contain "408").
    out = (r.stderr + r.stdout).replace(f":{port}", ":PORT")
    assert not re.search(r"(?<![0-9])408(?![0-9])", out), out


def test_over_tcp_a_refused_connection_is_reported_at_once() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = sipwire(
        "load", "call", f"sip:x@127.0.0.1:{port}", "--transport", "tcp", "--rate", "20",
        "--quiet",
    )  # fmt: skip
    assert r.returncode == 3, r.stdout + r.stderr
    assert "nothing is listening" in r.stderr and "refused" in r.stderr


def test_a_silent_target_is_reported_after_give_up(silent: int) -> None:
    with pytest.raises(load.TargetUnreachable, match=r"answered nothing within 0\.3 s"):
        load.run(f"sip:x@127.0.0.1:{silent}", rate=50, duration=10, give_up=0.3)


def test_find_max_ramps_and_reports_the_highest_rate_held(tmp_path: Path) -> None:
    ans = Answerer(calls=None, duration=10)
    out = tmp_path / "ramp.json"
    r = sipwire(
        "load", "call", ans.uri, "--find-max", "--rate", "20", "--ramp-seconds", "0.5",
        "--max-rate", "35", "--json", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(out.read_text())
    rates = [x["rate"] for x in got["rounds"]]
    assert rates == [20, 25, 31.2] and got["max_rate"] == 31.2
    assert all(x["failed"]["total"] == 0 for x in got["rounds"])
    assert "highest rate held with no failed call: 31.2 calls/s" in r.stdout


@pytest.mark.parametrize("mode", ["call", "answer"])
def test_help_shows_every_default(mode: str) -> None:
    r = sipwire("load", mode, "--help")
    assert r.returncode == 0
    # One block per option: its line and the indented lines under it.
    blocks: list[str] = []
    for line in r.stdout.split("options:", 1)[1].splitlines():
        if line.startswith("  -"):
            blocks.append(line)
        elif blocks and line.startswith("   "):
            blocks[-1] += " " + line.strip()
    flags = ("-h, --help", "--find-max", "--quiet")
    checked = [b for b in blocks if not b.strip().startswith(flags)]
    assert len(checked) >= 8
    for b in checked:
        assert "(default:" in b, b
    assert any("(default: 10.0)" in b for b in blocks) if mode == "call" else True


def test_scenario_steps_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one request"):
        load.Scenario("empty", (load.pause(1),))
    with pytest.raises(ValueError, match="not one of"):
        load.info_dtmf("x")
    with pytest.raises(ValueError, match="range of final statuses"):
        load.request("OPTIONS", expect=(300, 200))


def test_cli_rejects_bad_rates() -> None:
    r = sipwire("load", "call", "sip:x@127.0.0.1", "--rate", "0")
    assert r.returncode == 2 and "must be positive, not 0" in r.stderr


# --- the asyncio user agent path (TCP) -----------------------------------------------------


def test_place_and_answer_count_every_call() -> None:
    async def main() -> None:
        ready: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()
        answering = asyncio.ensure_future(answer_calls(port=0, calls=40, ready=ready))
        host, port = await ready
        res = await place_calls(f"sip:load@{host}:{port}", rate=40, duration=1.0, hold=0.05)
        served = await asyncio.wait_for(answering, 10)
        assert res.clean, res.summary()
        assert res.attempted == res.completed == 40 and res.failed == 0
        assert served.answered == 40 and served.completed == 40
        assert served.max_concurrent >= 1
        assert res.percentile(50) is not None and res.max_concurrent >= 1
        assert "completed 40" in res.summary()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_unanswered_calls_are_counted_as_408() -> None:
    async def main() -> None:
        # A socket that never answers; T1 = 10 ms makes Timer B 0.64 s.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))
            target = f"sip:nobody@127.0.0.1:{silent.getsockname()[1]}"
            res = await place_calls(target, rate=5, duration=0.4, t1=0.01)
        timeouts = sum(n for (status, _), n in res.failures.items() if status == 408)
        assert timeouts == res.attempted == res.failed == 2, res.failures
        assert not res.clean
        # Nothing listens there: ICMP port unreachable, counted at once as unreachable.
        res = await place_calls("sip:nobody@127.0.0.1:9", rate=5, duration=0.4, t1=0.01)
        assert res.unreachable == res.attempted == res.failed == 2
        assert set(res.failures) == {(0, "unreachable")}

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_run_left_in_a_thread_ends_with_the_interpreter() -> None:
    # The engine runs without the GIL; a daemon thread still inside it while Python
    # finalizes is ended by a forced unwind through Rust frames, which aborts the process
    # ("FATAL: exception not rethrown", exit 134; seen at the end of this file's runs). At
    # exit, runs end after their slice instead: a handler registered before sipwire's runs
    # after it (atexit is last in, first out) and finds the run returned.
    script = (
        "import atexit, threading\n"
        "done = threading.Event()\n"
        "atexit.register(lambda: print('returned' if done.wait(5) else 'still running'))\n"
        "from sipwire import load\n"
        "up = threading.Event()\n"
        "def body():\n"
        "    load.answer(host='127.0.0.1', port=0, calls=None, duration=None,\n"
        "                ready=lambda a: up.set())\n"
        "    done.set()\n"
        "threading.Thread(target=body, daemon=True).start()\n"
        "assert up.wait(10)\n"
        "print('leaving')\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert r.stdout.split() == ["leaving", "returned"], r.stdout + r.stderr
