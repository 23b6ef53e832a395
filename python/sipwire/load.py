"""Load tests with the user agent: place calls at a fixed rate against any target, or answer
every call that comes in, and count what happened.

``sipwire load call TARGET --rate 500 --duration 30`` places ``rate`` calls per second for
``duration`` seconds (INVITE, ACK, ``--hold`` seconds of call, BYE), at most
``--concurrency`` at once, and prints a progress line each second and a summary at the end;
it exits 1 when any call failed. ``sipwire load answer --port 5060`` answers every INVITE
with 200 (and each BYE) until interrupted or ``--duration`` passes.

From Python: :func:`place_calls` and :func:`answer_calls` return a :class:`LoadResult`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal, TextIO

from sipwire._progress import Progress
from sipwire._sipwire import SipwireError
from sipwire.ua import CallFailed, SipTimeout, TransportFailed, UserAgent

Transport = Literal["udp", "tcp"]


@dataclass
class LoadResult:
    """What a load run counted. ``failures`` maps a status (408: no answer) to its count;
    ``refused`` calls were not placed because ``concurrency`` calls were already up. A run
    is clean when every attempted call completed."""

    attempted: int = 0
    answered: int = 0
    completed: int = 0
    failed: int = 0
    refused: int = 0
    #: Calls that could not reach the target (ICMP unreachable, refused connection, DNS).
    unreachable: int = 0
    #: Calls still in progress when the run gave up waiting (Timer B and a margin).
    unfinished: int = 0
    failures: Counter[int] = field(default_factory=Counter)
    setup_ms: list[float] = field(default_factory=list)
    max_concurrent: int = 0
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return self.completed == self.attempted

    @property
    def rate(self) -> float:
        """Completed calls per second over the run."""
        return self.completed / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float | None:
        if not self.setup_ms:
            return None
        s = sorted(self.setup_ms)
        return s[min(len(s) - 1, int(p / 100 * len(s)))]

    def summary(self) -> str:
        p50, p95 = self.percentile(50), self.percentile(95)
        lines = [
            f"calls attempted {self.attempted}, answered {self.answered}, "
            f"completed {self.completed}, failed {self.failed}, refused {self.refused}, "
            f"unreachable {self.unreachable}, unfinished {self.unfinished}",
            f"duration {self.seconds:.1f} s, {self.rate:.1f} calls/s completed, "
            f"at most {self.max_concurrent} at once",
        ]
        if p50 is not None and p95 is not None:
            lines.append(f"call setup (INVITE to 200) p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        if self.failures:
            lines.append(
                "failures: " + ", ".join(f"{s}×{n}" for s, n in sorted(self.failures.items()))
            )
        return "\n".join(lines)


async def place_calls(
    target: str,
    *,
    rate: float,
    duration: float,
    concurrency: int = 10000,
    hold: float = 0.0,
    transport: Transport = "udp",
    host: str = "127.0.0.1",
    port: int = 0,
    dest: tuple[str, int] | None = None,
    t1: float = 0.5,
    progress: TextIO | None = None,
) -> LoadResult:
    """Places ``rate`` calls per second to ``target`` for ``duration`` seconds."""
    if rate <= 0 or duration <= 0 or concurrency <= 0:
        raise ValueError("rate, duration and concurrency must be positive")
    res = LoadResult()
    up = 0
    show = Progress(progress, every=1.0)
    loop = asyncio.get_running_loop()

    async def one(ua: UserAgent) -> None:
        nonlocal up
        t0 = loop.time()
        up += 1
        res.max_concurrent = max(res.max_concurrent, up)
        try:
            call = await ua.invite(target, dest=dest)
            res.answered += 1
            res.setup_ms.append((loop.time() - t0) * 1000)
            if hold > 0:
                await asyncio.sleep(hold)
            await call.hangup()
            res.completed += 1
        except CallFailed as e:
            res.failed += 1
            res.failures[e.status] += 1
        except SipTimeout:
            res.failed += 1
            res.failures[408] += 1
        except TransportFailed:
            res.failed += 1
            res.unreachable += 1
        except SipwireError:
            # This side's limits (a full transaction table): counted as 503.
            res.failed += 1
            res.failures[503] += 1
        finally:
            up -= 1

    # Every call keeps ~3 transactions for up to 64·T1 after it ends (Timers D, K, M):
    # size the tables for the rate.
    room = max(16384, int(rate * 64 * t1 * 4))
    async with UserAgent(
        transport=transport, host=host, port=port, t1=t1, max_transactions=room, max_dialogs=room
    ) as ua:
        start = loop.time()
        tasks: set[asyncio.Task[None]] = set()
        n = 0
        while True:
            now = loop.time()
            if now - start >= duration:
                break
            due = int((now - start) * rate) + 1
            while n < due:
                n += 1
                res.attempted += 1
                if up >= concurrency:
                    res.refused += 1
                    continue
                t = asyncio.ensure_future(one(ua))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
            show.show(
                f"{now - start:5.1f}s  attempted {res.attempted}  up {up}  "
                f"completed {res.completed}  failed {res.failed}"
            )
            await asyncio.sleep(min(0.01, 1 / rate))
        # Let the calls in progress finish (Timer B bounds each).
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=64 * t1 + hold + 5)
            res.unfinished = len(pending)
            for t in pending:
                t.cancel()
        res.seconds = loop.time() - start
        show.show(f"done: completed {res.completed}, failed {res.failed}", force=True)
        show.end()
    return res


async def answer_calls(
    *,
    port: int = 5060,
    host: str = "127.0.0.1",
    transport: Transport = "udp",
    duration: float | None = None,
    calls: int | None = None,
    ready: asyncio.Future[tuple[str, int]] | None = None,
    progress: TextIO | None = None,
) -> LoadResult:
    """Answers every incoming call with 200 until ``duration`` seconds or ``calls`` calls."""
    res = LoadResult()
    show = Progress(progress, every=1.0)
    loop = asyncio.get_running_loop()
    async with UserAgent(transport=transport, host=host, port=port) as ua:
        if ready is not None:
            ready.set_result(ua.local_address)
        start = loop.time()

        async def serve() -> None:
            async for inc in ua.incoming():
                res.attempted += 1
                try:
                    await inc.answer()
                    res.answered += 1
                    res.completed += 1
                except CallFailed as e:
                    res.failed += 1
                    res.failures[e.status] += 1
                show.show(f"{loop.time() - start:5.1f}s  answered {res.answered}")
                if calls is not None and res.answered >= calls:
                    return

        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(serve(), duration)
        res.seconds = loop.time() - start
    return res
