"""The UserAgent against SIPp on loopback: sipwire calls SIPp's built-in ``uas``, SIPp's
built-in ``uac`` calls a sipwire callee, and the same with 10 % of SIPp's received packets
lost (``-lost 10``): every call must still complete through retransmission. SIPp's exit
status says whether all its calls succeeded (0) or some failed (1)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest
from peers import HOST, free_port, peer_binary

from sipwire import UserAgent
from sipwire.ua.agent import CallFailed

CALLS = 5


def sipp_cmd(sipp: str, scenario: str, port: int, tmp: Path, *extra: str) -> list[str]:
    return [
        sipp,
        "-sn",
        scenario,
        "-i",
        HOST,
        "-p",
        str(port),
        "-m",
        str(CALLS),
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(tmp / f"{scenario}-errors.log"),
        "-timeout",
        "60s",
        *extra,
    ]


def finish(proc: subprocess.Popen[bytes], tmp: Path, scenario: str) -> None:
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    errors = tmp / f"{scenario}-errors.log"
    detail = errors.read_text(errors="replace")[-2000:] if errors.exists() else ""
    assert proc.returncode == 0, f"sipp {scenario} exit {proc.returncode}: {detail}"


# What SIPp's log says when its built-in uas scenario drops a call of its own accord. Seen
# with -lost in one run in many: an INVITE retransmission (byte for byte the first, as RFC
# 3261 §17.1.1.2 asks) arrived while the scenario waited for the ACK, and SIPp aborted the
# call and ignored the rest, so sipwire's Timer B rightly ended it in 408.
SIPP_ABORT = "Aborting call on unexpected message"


@pytest.mark.parametrize("lost", [0, 10])
def test_sipwire_calls_sipp_uas(tmp_path: Path, lost: int) -> None:
    sipp = peer_binary("sipp", "sip-tester")
    port = free_port()
    extra = ["-lost", str(lost)] if lost else []
    proc = subprocess.Popen(
        [*sipp_cmd(sipp, "uas", port, tmp_path, *extra)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    time.sleep(0.3)
    timed_out: list[int] = []

    async def main() -> None:
        # T1 = 100 ms keeps the clean run quick. The lossy run keeps RFC 3261's 500 ms, so
        # Timer B (64*T1, 32 s) outlasts SIPp's own retransmissions.
        async with UserAgent(t1=0.5 if lost else 0.1) as ua:
            for i in range(CALLS):
                try:
                    call = await ua.invite(f"sip:service@{HOST}:{port}")
                except CallFailed as e:
                    # Only a call SIPp's log says it dropped may end so (checked below).
                    if not lost or e.status != 408:
                        raise
                    timed_out.append(i)
                    continue
                assert call.remote_sdp is not None or lost, f"call {i}"
                await call.hangup()
                await asyncio.sleep(0.05)
            # Let the last BYE's retransmissions reach SIPp when packets are lost.
            await asyncio.sleep(1.0 if lost else 0.1)

    try:
        asyncio.run(asyncio.wait_for(main(), 60 + 40 * CALLS if lost else 60))
    finally:
        if proc.poll() is None:
            time.sleep(0.5)
    if not timed_out:
        finish(proc, tmp_path, "uas")
        return
    # Each call that timed out is one SIPp dropped, as its log says; every other call passed.
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log = (tmp_path / "uas-errors.log").read_text(errors="replace")
    aborts = [ln for ln in log.splitlines() if SIPP_ABORT in ln]
    dropped = {ln.split("Call-Id '")[1].split("'")[0] for ln in aborts}
    assert len(dropped) == len(timed_out), (timed_out, log[-2000:])
    assert all("received 'INVITE" in ln for ln in aborts), log[-2000:]
    assert len(timed_out) < CALLS


@pytest.mark.parametrize("lost", [0, 10])
def test_sipp_uac_calls_sipwire(tmp_path: Path, lost: int) -> None:
    sipp = peer_binary("sipp", "sip-tester")

    async def main() -> None:
        async with UserAgent(t1=0.1) as ua:
            host, port = ua.local_address
            extra = ["-r", "5", "-lost", str(lost)] if lost else ["-r", "5"]
            # SIPp's own T1 retransmissions recover its lost packets (-T2 default).
            proc = subprocess.Popen(
                [*sipp_cmd(sipp, "uac", free_port(), tmp_path, *extra), f"{host}:{port}"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
            answered = 0

            async def serve() -> None:
                nonlocal answered
                async for inc in ua.incoming():
                    await inc.ring()
                    await inc.answer()
                    answered += 1

            server = asyncio.ensure_future(serve())
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, finish, proc, tmp_path, "uac")
            server.cancel()
            assert answered >= CALLS

    asyncio.run(asyncio.wait_for(main(), 90))
