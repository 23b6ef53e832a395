"""The faults of DESIGN §5 driven at the UserAgent through an in-memory network
(:class:`sipwire.ua.MemoryNetwork`): loss, duplication and reordering; a lost ACK, BYE,
487 or every provisional; a 2xx crossing the CANCEL; a forked 2xx; re-INVITE glare; stray
ACKs, responses to nothing, garbage, an unknown dialog (481), a lower CSeq (500), a merged
request (482); and bounded tables under a flood. T1 is 20 ms so that the RFC timers run
fast; after each case both agents' tables must empty."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import sipwire
from sipwire import CallFailed, UserAgent
from sipwire.ua import MemoryNetwork

Addr = tuple[str, int]
MALLORY: Addr = ("127.0.0.1", 9)
T1 = 0.02
# Long enough for every transaction to end: 64·T1, and Timer K/I (T4 = 5 s) after them.
IDLE = 64 * T1 + 5.5


def run(coro: Awaitable[Any], timeout: float = 60.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


def uri_of(ua: UserAgent) -> str:
    host, port = ua.local_address
    return f"sip:bob@{host}:{port}"


async def answer_all(ua: UserAgent, calls: list[sipwire.Call]) -> None:
    async for inc in ua.incoming():
        await inc.ring()
        calls.append(await inc.answer())


async def answered_call(
    alice: UserAgent, bob: UserAgent
) -> tuple[sipwire.Call, list[sipwire.Call], asyncio.Future[None]]:
    """Bob answers every call (his side of each in the list); alice calls him. Returns her
    call, bob's list and his answering task (to cancel)."""
    answered: list[sipwire.Call] = []
    server = asyncio.ensure_future(answer_all(bob, answered))
    return await alice.invite(uri_of(bob)), answered, server


async def settle_and_check_empty(*agents: UserAgent, completed_invites: int = 0) -> None:
    """``completed_invites``: INVITEs answered non-2xx may still wait out Timer D (32 s
    on UDP whatever T1 is, RFC 3261 §17.1.1.2)."""
    await asyncio.sleep(IDLE)
    for ua in agents:
        ep = ua.endpoint
        assert ep.transactions <= completed_invites and ep.dialogs() == [], ep


async def pair(net: MemoryNetwork, body: Callable[[UserAgent, UserAgent], Awaitable[None]]) -> None:
    async with UserAgent(network=net, t1=T1) as alice, UserAgent(network=net, t1=T1) as bob:
        await body(alice, bob)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_calls_complete_over_a_lossy_duplicating_reordering_network(seed: int) -> None:
    net = MemoryNetwork(loss=0.2, duplicate=0.2, jitter=0.01, seed=seed)

    async def body(alice: UserAgent, bob: UserAgent) -> None:
        answered: list[sipwire.Call] = []
        server = asyncio.ensure_future(answer_all(bob, answered))
        for _ in range(4):
            call = await alice.invite(uri_of(bob))
            await call.send_dtmf("12")
            assert (await call.hold()).status == 200
            assert (await call.unhold()).status == 200
            await call.hangup()
        await asyncio.sleep(0.5)
        # One IncomingCall per call despite resent INVITEs; DTMF not doubled.
        assert len(answered) == 4
        assert all(c.state == "ended" for c in answered)
        for c in answered:
            got = []
            while not c.dtmf_received.empty():
                got.append(c.dtmf_received.get_nowait())
            assert got == ["1", "2"]
        assert any(not s.delivered for s in net.log)  # some were lost
        server.cancel()
        await settle_and_check_empty(alice, bob)

    run(pair(net, body))


def test_blind_and_attended_transfer_over_a_lossy_network() -> None:
    net = MemoryNetwork(loss=0.15, duplicate=0.1, jitter=0.01, seed=5)

    async def main() -> None:
        async with (
            UserAgent(network=net, t1=T1, on_refer=lambda r: True) as alice,
            UserAgent(network=net, t1=T1) as bob,
            UserAgent(network=net, t1=T1) as carol,
        ):
            at_bob: list[sipwire.Call] = []
            at_carol: list[sipwire.Call] = []
            servers = [
                asyncio.ensure_future(answer_all(bob, at_bob)),
                asyncio.ensure_future(answer_all(carol, at_carol)),
            ]
            # Blind: Bob sends Alice to Carol.
            call = await alice.invite(uri_of(bob))
            while not at_bob:
                await asyncio.sleep(T1)
            assert await at_bob[0].transfer(uri_of(carol)) == 200
            moved = await asyncio.wait_for(alice.transferred(), 10)
            await asyncio.wait_for(call.wait_ended(), 10)
            # Attended: Carol, now with Alice, calls Bob and hands Alice over to him.
            consult = await carol.invite(uri_of(bob))
            assert await at_carol[0].transfer(consult) == 200
            again = await asyncio.wait_for(alice.transferred(), 10)
            await asyncio.wait_for(consult.wait_ended(), 10)
            await asyncio.wait_for(moved.wait_ended(), 10)
            assert again.state == "confirmed" and at_bob[-1].state == "confirmed"
            await again.hangup()
            for s in servers:
                s.cancel()
            await settle_and_check_empty(alice, bob, carol)

    run(main(), timeout=90)


def test_lost_acks_and_a_lost_bye_are_recovered() -> None:
    net = MemoryNetwork()
    net.drop("ACK ", count=2)
    net.drop("BYE ", count=1)

    async def body(alice: UserAgent, bob: UserAgent) -> None:
        call, answered, server = await answered_call(alice, bob)
        await asyncio.sleep(10 * T1)
        # Bob resent his 200 until an ACK got through (RFC 3261 §13.3.1.4).
        assert len([s for s in net.sent("SIP/2.0 200") if s.source == bob.local_address]) >= 3
        assert len(net.sent("ACK ")) >= 3 and bob.endpoint.counters["no_ack"] == 0
        await call.hangup()
        await asyncio.wait_for(answered[0].wait_ended(), 5)
        assert len(net.sent("BYE ")) >= 2
        server.cancel()
        await settle_and_check_empty(alice, bob)

    run(pair(net, body))


def test_no_ack_at_all_ends_the_call_with_bye() -> None:
    net = MemoryNetwork()
    net.drop("ACK ")

    async def body(alice: UserAgent, bob: UserAgent) -> None:
        call, answered, server = await answered_call(alice, bob)
        # After 64·T1 without an ACK Bob gives up with BYE; both calls end.
        await asyncio.wait_for(call.wait_ended(), 5)
        await asyncio.wait_for(answered[0].wait_ended(), 5)
        assert bob.endpoint.counters["no_ack"] == 1
        server.cancel()
        await settle_and_check_empty(alice, bob)

    run(pair(net, body))


def test_cancel_with_the_487_lost_and_cancel_before_any_provisional() -> None:
    net = MemoryNetwork()

    async def body(alice: UserAgent, bob: UserAgent) -> None:
        incoming: list[sipwire.IncomingCall] = []

        async def ring_only() -> None:
            async for inc in bob.incoming():
                incoming.append(inc)
                await inc.ring()

        server = asyncio.ensure_future(ring_only())
        # The 487 never arrives: the cancelled INVITE still ends (Timer B, §9.1).
        net.drop("SIP/2.0 487")
        task = asyncio.ensure_future(alice.invite(uri_of(bob)))
        while not incoming:
            await asyncio.sleep(T1)
        await asyncio.sleep(5 * T1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(incoming[0].cancelled, 5)

        # No provisional at all: the CANCEL waits for one (§9.1) and Timer B ends it.
        net.drop("SIP/2.0 1")
        task = asyncio.ensure_future(alice.invite(uri_of(bob)))
        while len(incoming) < 2:
            await asyncio.sleep(T1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not net.sent("CANCEL ")[1:]  # only the first call's CANCEL went out
        # Timer B ended Alice's INVITE; Bob's late 480 then matches nothing.
        await asyncio.sleep(64 * T1 + 0.5)
        before = alice.endpoint.counters["unmatched_responses"]
        await incoming[1].reject(480)
        await asyncio.sleep(0.1)
        assert alice.endpoint.counters["unmatched_responses"] > before
        server.cancel()
        await settle_and_check_empty(alice, bob)

    run(pair(net, body))


def test_a_200_crossing_the_cancel_is_acked_and_hung_up() -> None:
    net = MemoryNetwork(delay=0.05)

    async def body(alice: UserAgent, bob: UserAgent) -> None:
        calls: list[sipwire.Call] = []

        async def answer_late() -> None:
            async for inc in bob.incoming():
                await inc.ring()
                await asyncio.sleep(0.2)
                calls.append(await inc.answer())

        server = asyncio.ensure_future(answer_late())
        task = asyncio.ensure_future(alice.invite(uri_of(bob)))
        # Cancel just as Bob answers: the CANCEL and the 200 cross (50 ms each way).
        await asyncio.sleep(0.05 + 0.2 + 0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.5)
        assert len(calls) == 1
        await asyncio.wait_for(calls[0].wait_ended(), 5)  # Alice sent ACK, then BYE
        assert bob.endpoint.counters["no_ack"] == 0
        server.cancel()
        await settle_and_check_empty(alice, bob)

    run(pair(net, body))


def test_a_forked_second_2xx_is_acked_and_ended() -> None:
    net = MemoryNetwork()
    forked: list[bytes] = []

    def fork(data: bytes, source: Any, dest: Any) -> bytes | None:
        # Bob's first 200 to the INVITE comes back a second time from another "fork".
        if data.startswith(b"SIP/2.0 200") and b" INVITE\r\n" in data and not forked:
            lines = [
                line.replace(b";tag=", b";tag=fork", 1) if line.lower().startswith(b"to:") else line
                for line in data.split(b"\r\n")
            ]
            forked.append(b"\r\n".join(lines))
            asyncio.get_running_loop().call_later(0.01, net.send, forked[0], source, dest)
        return data

    net.rules.append(fork)

    async def body(alice: UserAgent, bob: UserAgent) -> None:
        call, answered, server = await answered_call(alice, bob)
        await asyncio.sleep(0.3)
        assert forked and alice.endpoint.counters["forks_ended"] == 1
        # The unwanted fork got ACK and BYE; the call itself goes on.
        byes = net.sent("BYE ")
        assert len(byes) == 1 and b"tag=fork" in byes[0].data
        assert call.state == "confirmed" and answered[0].state == "confirmed"
        await call.hangup()
        server.cancel()
        await settle_and_check_empty(alice, bob)

    run(pair(net, body))


def test_reinvite_glare_is_resolved() -> None:
    net = MemoryNetwork(delay=0.01)

    async def body(alice: UserAgent, bob: UserAgent) -> None:
        call, answered, server = await answered_call(alice, bob)
        await asyncio.sleep(0.1)
        a, b = await asyncio.gather(call.hold(), answered[0].hold())
        assert a.status == 200 and b.status == 200
        assert len(net.sent("SIP/2.0 491")) >= 1
        await call.hangup()
        server.cancel()
        await settle_and_check_empty(alice, bob, completed_invites=1)

    run(pair(net, body), timeout=90)


def test_a_glare_retry_that_cannot_reach_the_peer_raises_transport_failed() -> None:
    # The re-INVITE sent again after a 491 (§14.1) fails like any request would (an ICMP
    # error here): TransportFailed, not an event without a response.
    net = MemoryNetwork(delay=0.01)

    async def body(alice: UserAgent, bob: UserAgent) -> None:
        call, answered, server = await answered_call(alice, bob)
        await asyncio.sleep(0.1)
        mine = asyncio.ensure_future(call.hold())
        theirs = await answered[0].hold()  # bob retries first (he does not own the Call-ID)
        assert theirs.status == 200 and len(net.sent("SIP/2.0 491")) >= 2
        before = len(net.sent("INVITE "))
        net.drop("SIP/2.0 ")  # nothing answers alice's retry
        while len(net.sent("INVITE ")) == before:
            await asyncio.sleep(0.05)
        alice._unreachable(bob.local_address, "port unreachable (test)")
        with pytest.raises(sipwire.TransportFailed):
            await mine
        server.cancel()

    run(pair(net, body), timeout=60)


def _request(
    method: str, to: Addr, *, to_tag: str = "", cseq: int = 1, call_id: str = "x"
) -> bytes:
    tag = f";tag={to_tag}" if to_tag else ""
    return (
        f"{method} sip:bob@{to[0]}:{to[1]} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{method}{cseq}{call_id}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:mallory@127.0.0.1:9>;tag=m1\r\n"
        f"To: <sip:bob@{to[0]}:{to[1]}>{tag}\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        "Contact: <sip:mallory@127.0.0.1:9>\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def test_stray_and_hostile_messages_are_counted_not_raised() -> None:
    net = MemoryNetwork()

    async def body(alice: UserAgent, bob: UserAgent) -> None:
        call, answered, server = await answered_call(alice, bob)
        me = bob.local_address
        before = dict(bob.endpoint.counters)
        net.send(b"\x00\xffnot sip at all\r\n\r\n", MALLORY, me)
        net.send(_request("ACK", me, to_tag="nosuch"), MALLORY, me)
        response = (
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP "
            f"{me[0]}:{me[1]};branch=z9hG4bKnothing\r\n"
            "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: r\r\nCSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
        net.send(response, MALLORY, me)
        # An unknown dialog: 481 (RFC 3261 §12.2.2).
        net.send(_request("BYE", me, to_tag="nosuch"), MALLORY, me)
        # A lower CSeq inside Bob's real dialog: 500 (§12.2.2).
        d = bob.endpoint.dialog(answered[0].dialog)
        assert d is not None
        low = (
            f"INFO {d.local_party.split('<')[1].split('>')[0]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {alice.local_address[0]}:{alice.local_address[1]};"
            "branch=z9hG4bKlowcseq\r\nMax-Forwards: 70\r\n"
            f"From: {d.remote_party}\r\nTo: {d.local_party}\r\nCall-ID: {d.call_id}\r\n"
            "CSeq: 0 INFO\r\nContent-Length: 0\r\n\r\n"
        ).encode()
        net.send(low, alice.local_address, me)
        # The same request again on a new branch: merged, 482 (§8.2.2.2).
        opt = _request("OPTIONS", me, call_id="merge")
        net.send(opt, MALLORY, me)
        net.send(opt.replace(b"z9hG4bKOPTIONS", b"z9hG4bKOTHER"), MALLORY, me)
        await asyncio.sleep(0.2)
        after = bob.endpoint.counters
        assert after["malformed"] == before["malformed"] + 1
        assert after["unmatched_responses"] == before["unmatched_responses"] + 1
        assert after["unmatched_acks"] + after["stray_acks"] > (
            before["unmatched_acks"] + before["stray_acks"]
        )
        to_mallory = [s.data.split(b"\r\n", 1)[0] for s in net.log if s.dest == MALLORY]
        assert b"SIP/2.0 481 Call/Transaction Does Not Exist" in to_mallory
        assert b"SIP/2.0 482 Loop Detected" in to_mallory
        assert any(s.data.startswith(b"SIP/2.0 500") for s in net.sent("SIP/2.0 5"))
        # The real call was not disturbed.
        assert call.state == "confirmed" and (await alice.options(uri_of(bob))).status == 200
        await call.hangup()
        server.cancel()
        await settle_and_check_empty(alice, bob)

    run(pair(net, body))


def test_tables_stay_bounded_under_a_flood() -> None:
    net = MemoryNetwork()

    async def main() -> None:
        async with (
            UserAgent(network=net, t1=T1) as alice,
            UserAgent(network=net, t1=T1, max_transactions=64) as bob,
        ):
            me = bob.local_address
            for i in range(500):
                net.send(_request("OPTIONS", me, call_id=f"flood{i}"), MALLORY, me)
            await asyncio.sleep(0.2)
            c = bob.endpoint.counters
            assert bob.endpoint.transactions <= 64
            assert c["transactions_rejected"] + c["transactions_evicted"] > 0
            # Once the flood has drained, Bob answers again.
            await asyncio.sleep(IDLE)
            assert (await alice.options(uri_of(bob))).status == 200
            with pytest.raises(CallFailed):
                await alice.invite(f"sip:nobody@{me[0]}:1")

    run(main())
