"""``sipwire load``: a caller and an answerer on loopback count every call; usage errors are
precise. (Speed is measured in benches/load.py, never here.)"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

from sipwire.load import answer_calls, place_calls


def test_place_and_answer_count_every_call() -> None:
    async def main() -> None:
        ready: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()
        answering = asyncio.ensure_future(answer_calls(port=0, calls=40, ready=ready))
        host, port = await ready
        res = await place_calls(f"sip:load@{host}:{port}", rate=40, duration=1.0, hold=0.05)
        served = await asyncio.wait_for(answering, 10)
        assert res.clean, res.summary()
        assert res.attempted == res.completed == 40 and res.failed == 0
        assert served.answered == 40
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
        assert res.failures[408] == res.attempted == res.failed == 2
        assert not res.clean
        # Nothing listens there: ICMP port unreachable, counted at once as unreachable.
        res = await place_calls("sip:nobody@127.0.0.1:9", rate=5, duration=0.4, t1=0.01)
        assert res.unreachable == res.attempted == res.failed == 2 and not res.failures

    asyncio.run(asyncio.wait_for(main(), 60))


def test_cli_rejects_bad_rates() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "sipwire", "load", "call", "sip:x@127.0.0.1", "--rate", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 2 and "must be positive, not 0" in r.stderr
