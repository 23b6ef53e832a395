"""Session timers (RFC 4028) against SIPp, in real time: the interval is 90 s (the smallest
RFC 4028 allows), so the three cases run side by side in about a minute.

- SIPp answers sipwire's call and makes sipwire the refresher: sipwire re-INVITEs at 45 s.
- SIPp calls sipwire and names sipwire the refresher: the same from the callee's side.
- SIPp calls, keeps the refresher role and never refreshes: sipwire sends BYE at 60 s
  (90 s less a third, §10).

Each SIPp scenario checks the Session-Expires values and fails if a request does not come.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from peers import HOST, free_port
from test_sipp_scenarios import sipp, wait_ok

from sipwire import Call, UserAgent


def test_session_timers_refresh_and_expire_against_sipp(tmp_path: Path) -> None:
    dirs = {k: tmp_path / k for k in ("uas", "refresh", "expire")}
    for d in dirs.values():
        d.mkdir()

    async def main() -> None:
        async with UserAgent() as caller, UserAgent() as callee:
            host, port = callee.local_address
            uas_port = free_port()
            uas = sipp("uas_timer.xml", uas_port, dirs["uas"], 0, calls=1, timeout=100)
            into = ["-r", "1", f"{host}:{port}"]
            refresh = sipp(
                "uac_timer_refresh.xml", free_port(), dirs["refresh"], 0, *into,
                calls=1, timeout=100,
            )  # fmt: skip
            expire = sipp(
                "uac_timer_expire.xml", free_port(), dirs["expire"], 0, *into,
                calls=1, timeout=100,
            )  # fmt: skip
            answered: list[Call] = []

            async def serve() -> None:
                async for inc in callee.incoming():
                    answered.append(await inc.answer())

            server = asyncio.ensure_future(serve())
            await asyncio.sleep(0.3)
            start = time.monotonic()
            call = await caller.invite(f"sip:service@{HOST}:{uas_port}")
            assert call.session_timer == (90, True)
            # The refresh is a re-INVITE (CSeq 2) half the interval after the 200.
            while caller.endpoint.dialog(call.dialog).local_seq < 2:  # type: ignore[union-attr]
                await asyncio.sleep(0.5)
            assert 44 <= time.monotonic() - start <= 50
            await asyncio.sleep(1)
            await call.hangup()

            loop = asyncio.get_running_loop()
            for proc, d, what in (
                (uas, dirs["uas"], "uas_timer.xml"),
                (refresh, dirs["refresh"], "uac_timer_refresh.xml"),
                (expire, dirs["expire"], "uac_timer_expire.xml"),
            ):
                await loop.run_in_executor(None, wait_ok, proc, d, what, 100)
            server.cancel()
            assert len(answered) == 2 and all(c.state == "ended" for c in answered)
            assert callee.endpoint.counters["sessions_expired"] == 1

    asyncio.run(asyncio.wait_for(main(), 150))
