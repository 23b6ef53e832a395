"""The UserAgent against SIPp XML scenarios written for sipwire (``tests/data/sipp/``): hold and
resume, 100rel with PRACK, 491 and the re-INVITE retry, a 407 challenge, offers in the 200
answered in the ACK, a blind transfer by REFER (SIPp answering a
sipwire caller); CANCEL during ringing, hold/resume from the peer, REFER (SIPp calling a
sipwire callee). Each also runs with ``-lost 10`` (SIPp drops 10 % of what it receives): the
calls must still complete through retransmission. SIPp exits 0 only when every call of its
scenario succeeded."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from peers import HOST, free_port, peer_binary, wait_bound

from sipwire import Call, UserAgent

SCENARIOS = Path(__file__).resolve().parent.parent / "data" / "sipp"
CALLS = 2


def sipp(
    scenario: str,
    port: int,
    tmp: Path,
    lost: int,
    *extra: str,
    calls: int = CALLS,
    timeout: int = 60,
) -> subprocess.Popen[bytes]:
    cmd = [peer_binary("sipp", "sip-tester"), "-sf", str(SCENARIOS / scenario), "-i", HOST]
    cmd += ["-p", str(port), "-m", str(calls), "-nostdin", "-timeout", f"{timeout}s"]
    cmd += ["-trace_err", "-error_file", str(tmp / "errors.log")]
    cmd += ["-trace_msg", "-message_file", str(tmp / "messages.log")]
    if lost:
        # SIPp drops what it sends as well as what it receives; a message it no longer
        # expects (an ACK for a 200 it retransmitted) is ignored rather than fatal.
        cmd += ["-lost", str(lost), "-default_behaviors", "all,-abortunexp"]
    return subprocess.Popen([*cmd, *extra], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def wait_ok(proc: subprocess.Popen[bytes], tmp: Path, what: str, timeout: float = 60) -> None:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log = tmp / "errors.log"
    detail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    assert proc.returncode == 0, f"SIPp {what}: exit {proc.returncode}\n{detail}"


# --- SIPp answers, sipwire calls -------------------------------------------------------------

Drive = Callable[[UserAgent, str, float], Awaitable[None]]


async def hold_resume(ua: UserAgent, uri: str, settle: float) -> None:
    call = await ua.invite(uri)
    # Under loss, SIPp may still wait for our ACK (its 200 is resent at 0.5, 1.5, 3.5 s and
    # ACKed again each time); a re-INVITE meanwhile looks to it like a resent INVITE.
    await asyncio.sleep(settle)
    held = await call.hold()
    assert held.status == 200 and call.state == "held"
    assert held.sdp is not None and held.sdp.media[0].direction == "recvonly"
    await asyncio.sleep(settle)
    assert (await call.unhold()).status == 200 and call.state == "confirmed"
    await asyncio.sleep(settle)
    await call.hangup()


async def prack(ua: UserAgent, uri: str, settle: float) -> None:
    seen: list[int] = []
    call = await ua.invite(uri, on_provisional=lambda r: seen.append(r.status))
    assert 183 in seen
    await call.hangup()


async def glare_retry(ua: UserAgent, uri: str, settle: float) -> None:
    call = await ua.invite(uri)
    await asyncio.sleep(settle)
    before = ua.endpoint.counters["glare_retries"]
    assert (await call.hold()).status == 200  # after 491 and the §14.1 wait
    assert ua.endpoint.counters["glare_retries"] == before + 1
    await call.hangup()


async def delayed_offer(ua: UserAgent, uri: str, settle: float) -> None:
    call = await ua.invite(uri, delayed_offer=True)
    assert call.remote_sdp is not None and call.local_sdp is not None
    await asyncio.sleep(settle)
    r = await call.reinvite()
    assert r.status == 200 and r.sdp is not None
    await asyncio.sleep(settle)
    await call.hangup()


async def blind_transfer(ua: UserAgent, uri: str, settle: float) -> None:
    call = await ua.invite(uri)
    await asyncio.sleep(settle)
    assert await call.transfer(f"sip:carol@{HOST}:5999") == 200
    await call.hangup()


async def challenged(ua: UserAgent, uri: str, settle: float) -> None:
    call = await ua.invite(uri)
    await call.hangup()


UAS_CASES: dict[str, tuple[str, Drive, dict[str, str]]] = {
    "hold": ("uas_hold.xml", hold_resume, {}),
    "100rel": ("uas_100rel.xml", prack, {}),
    "491": ("uas_491.xml", glare_retry, {}),
    # The credentials are bound to SIPp's host (issue 15: never to any challenger).
    "407": (
        "uas_407.xml",
        challenged,
        {"username": "alice", "password": "secret", "auth_hosts": [HOST]},
    ),
    "delayed_offer": ("uas_delayed_offer.xml", delayed_offer, {}),
    "refer": ("uas_refer.xml", blind_transfer, {}),
}


@pytest.mark.parametrize("lost", [0, 10])
@pytest.mark.parametrize("case", sorted(UAS_CASES))
def test_sipwire_calls_scenario(tmp_path: Path, case: str, lost: int) -> None:
    scenario, drive, creds = UAS_CASES[case]
    port = free_port()
    proc = sipp(scenario, port, tmp_path, lost)
    wait_bound(proc, port)

    async def main() -> None:
        # RFC 3261's T1 under loss (Timer B/F 32 s: room for SIPp's own slow resends),
        # 100 ms otherwise.
        async with UserAgent(t1=0.5 if lost else 0.1, **creds) as ua:  # type: ignore[arg-type]
            for _ in range(CALLS):
                uri = f"sip:service@{HOST}:{port}"
                await asyncio.wait_for(drive(ua, uri, 3.6 if lost else 0.0), 60)

    try:
        asyncio.run(asyncio.wait_for(main(), 150))
    except BaseException:
        proc.kill()
        raise
    wait_ok(proc, tmp_path, scenario)


# --- SIPp calls, sipwire answers -------------------------------------------------------------


# SIPp's own state machine is the weak side under loss here: with REFER and PRACK it takes a
# resent request or a NOTIFY for the step it waits at and stalls, so those two run without
# loss here. Under loss they are covered the other way round (test_sipwire_calls_scenario
# [100rel-10] and [refer-10]: sipwire transfers SIPp), and sipwire as transferee by
# tests/test_ua_faults.py on a lossy in-memory network.
@pytest.mark.parametrize(
    ("case", "lost"),
    [("cancel", 0), ("cancel", 10), ("hold", 0), ("hold", 10), ("refer", 0), ("100rel", 0)],
)
def test_scenario_calls_sipwire(tmp_path: Path, case: str, lost: int) -> None:
    async def main() -> None:
        async with UserAgent(t1=0.5 if lost else 0.1, on_refer=lambda r: True) as ua:
            host, port = ua.local_address
            extra = ["-r", "2", f"{host}:{port}"]
            target: subprocess.Popen[bytes] | None = None
            if case == "refer":
                # The transfer target: SIPp's built-in uas, answering what sipwire places.
                tport = free_port()
                target = subprocess.Popen(
                    [peer_binary("sipp", "sip-tester"), "-sn", "uas", "-i", HOST, "-p",
                     str(tport), "-nostdin", "-m", str(CALLS)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                )  # fmt: skip
                wait_bound(target, tport)
                extra = ["-key", "target", f"sip:carol@{HOST}:{tport}", *extra]
            proc = sipp(f"uac_{case}.xml", free_port(), tmp_path, lost, *extra)
            calls: list[Call] = []

            async def serve() -> None:
                async for inc in ua.incoming():
                    await inc.ring(reliable=case == "100rel")
                    if case == "100rel":
                        await asyncio.sleep(0.5)  # SIPp expects the PRACK's 200 first
                    if case != "cancel":  # ringing until SIPp cancels
                        calls.append(await inc.answer())

            server = asyncio.ensure_future(serve())
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, wait_ok, proc, tmp_path, f"uac_{case}.xml")
            finally:
                server.cancel()
            if case == "refer":
                transferred = [ua.transferred() for _ in range(CALLS)]
                new = await asyncio.wait_for(asyncio.gather(*transferred), 10)
                assert all(c.state == "confirmed" for c in new)
                for c in new:
                    await c.hangup()
                assert target is not None
                await loop.run_in_executor(None, wait_ok, target, tmp_path, "target uas")
            elif case == "hold":
                assert len(calls) == CALLS and all(c.state == "ended" for c in calls)
            elif case == "100rel":
                assert ua.endpoint.counters["pracks_received"] == CALLS

    asyncio.run(asyncio.wait_for(main(), 120))
