"""The UserAgent's session features between sipwire agents on loopback: offers in the 200
with answers in the ACK (RFC 3261 §13.2.1, §14), session timers (RFC 4028) and attended
transfer with Replaces (RFC 3891, RFC 5589)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from test_ua import answer_next, run, uri_of

import sipwire
from sipwire import CallFailed, UserAgent


def test_delayed_offer_call_gets_the_offer_in_200_and_answers_in_the_ack() -> None:
    async def main() -> None:
        async with UserAgent() as alice, UserAgent(media_port=41000) as bob:
            bob_call = asyncio.ensure_future(answer_next(bob))
            call = await alice.invite(uri_of(bob), delayed_offer=True)
            b = await bob_call
            assert b.request is not None and b.request.body == b""
            # Bob offered in the 200; Alice's answer went in the ACK.
            assert call.remote_sdp is not None and call.remote_sdp.media[0].port == 41000
            assert call.local_sdp is not None and call.local_sdp.media[0].port == 40000
            for _ in range(50):
                if b.remote_sdp is not None:
                    break
                await asyncio.sleep(0.02)
            assert b.remote_sdp is not None and b.remote_sdp.media[0].port == 40000
            assert bob.endpoint.counters["no_ack"] == 0
            await call.hangup()
            await asyncio.wait_for(b.wait_ended(), 5)

    run(main())


def test_rfc3264_8_reinvite_answers_keep_the_session_origin() -> None:
    """The answers to re-offers continue the answerer's session: the same ``o=`` username
    and session id, the version + 1 when the answer changed, the same when it did not."""

    async def main() -> None:
        async with UserAgent() as alice, UserAgent(media_port=41000) as bob:
            bob_call = asyncio.ensure_future(answer_next(bob))
            call = await alice.invite(uri_of(bob))
            b = await bob_call
            assert b.local_sdp is not None
            first = b.local_sdp.origin
            await call.hold()  # bob answers recvonly: a change
            assert b.local_sdp is not None
            held = b.local_sdp.origin
            assert (held.username, held.session_id) == (first.username, first.session_id)
            assert held.version_number == (first.version_number or 0) + 1
            await call.unhold()  # back to sendrecv: another change
            assert b.local_sdp is not None
            resumed = b.local_sdp.origin
            assert resumed.session_id == first.session_id
            assert resumed.version_number == (first.version_number or 0) + 2
            assert call.local_sdp is not None
            await call.reinvite(call.local_sdp)  # the same offer again: nothing changes
            assert b.local_sdp is not None
            assert b.local_sdp.origin.version_number == resumed.version_number
            call_id = call.call_id
            await call.hangup()
            await asyncio.wait_for(b.wait_ended(), 5)
            # The Call-ID outlives the dialog.
            assert call_id is not None and call.call_id == b.call_id == call_id

    run(main())


def test_offerless_reinvite_both_ways() -> None:
    async def main() -> None:
        async with UserAgent() as alice, UserAgent(media_port=41000) as bob:
            bob_call = asyncio.ensure_future(answer_next(bob))
            call = await alice.invite(uri_of(bob))
            b = await bob_call
            await call.hold()
            assert b.state == "held"
            # Alice re-INVITEs with no SDP: Bob offers his current session, Alice answers.
            r = await call.reinvite()
            assert r.status == 200 and r.sdp is not None
            assert r.sdp.media[0].port == 41000
            assert call.local_sdp is not None
            assert call.local_sdp.media[0].direction == "sendrecv"
            # And the other way round, with a new offer from Bob.
            r = await b.reinvite()
            assert r.status == 200 and r.sdp is not None
            assert b.remote_sdp is not None and b.remote_sdp.media[0].port == 40000
            counters = [alice.endpoint.counters, bob.endpoint.counters]
            assert [c["no_ack"] for c in counters] == [0, 0]
            await call.hangup()

    run(main())


def test_session_timer_negotiated_and_422_retried_with_min_se() -> None:
    async def main() -> None:
        async with (
            UserAgent(session_expires=90) as alice,
            UserAgent(min_se=120) as bob,
            UserAgent() as carol,
        ):
            # Bob wants at least 120 s: 422, and Alice asks again with Min-SE 120.
            bob_call = asyncio.ensure_future(answer_next(bob))
            call = await alice.invite(uri_of(bob))
            b = await bob_call
            assert b.request is not None
            assert b.request.headers.get("Session-Expires") == "120"
            assert bob.endpoint.counters["session_too_small"] == 1
            # The caller supports timers and named no refresher: it refreshes (§9).
            assert call.session_timer == (120, True)
            assert b.session_timer == (120, False)
            await call.hangup()

            # A callee with no wish of its own runs the caller's interval.
            carol_call = asyncio.ensure_future(answer_next(carol))
            call = await alice.invite(uri_of(carol))
            c = await carol_call
            assert call.session_timer == (90, True) and c.session_timer == (90, False)
            # A re-INVITE keeps the timer and the refresher.
            await call.hold()
            assert call.session_timer == (90, True) and c.session_timer == (90, False)
            await call.hangup()

            # Without timers on either side, none runs.
            bob_call = asyncio.ensure_future(answer_next(bob))
            call = await carol.invite(uri_of(bob))
            b = await bob_call
            assert call.session_timer is None and b.session_timer is None
            await call.hangup()

    run(main())


def test_session_timer_settings_are_checked() -> None:
    with pytest.raises(sipwire.LocalProtocolError, match="at least 90"):
        sipwire.Endpoint(min_se=30)
    with pytest.raises(sipwire.LocalProtocolError, match="below min_se"):
        sipwire.Endpoint(session_expires=100, min_se=120)


def test_attended_transfer_with_replaces() -> None:
    async def main() -> None:
        async with (
            UserAgent(on_refer=lambda r: True) as alice,
            UserAgent() as bob,
            UserAgent() as carol,
        ):
            # Alice calls Bob; Bob calls Carol (the consultation call).
            bob_answers = asyncio.ensure_future(answer_next(bob))
            a_call = await alice.invite(uri_of(bob))
            b_to_alice = await bob_answers
            carol_answers = asyncio.ensure_future(answer_next(carol))
            b_to_carol = await bob.invite(uri_of(carol, "carol"))
            c_to_bob = await carol_answers

            # Bob transfers Alice to his call with Carol: Alice calls Carol with Replaces.
            seen: list[Any] = []

            async def carol_takes_replacement() -> sipwire.Call:
                async for inc in carol.incoming():
                    seen.append(inc)
                    return await inc.answer()
                raise AssertionError("no call")

            consult = bob.endpoint.dialog(b_to_carol.dialog)
            assert consult is not None
            replaced = asyncio.ensure_future(carol_takes_replacement())
            status = await b_to_alice.transfer(b_to_carol)
            assert status == 200
            c_new = await asyncio.wait_for(replaced, 5)
            inc = seen[0]
            assert inc.replaces is c_to_bob
            # Carol's to-tag is her own tag: Bob's remote tag (RFC 3891 §3).
            assert inc.request.headers.get("Replaces") == (
                f"{consult.call_id};to-tag={consult.remote_tag};from-tag={consult.local_tag}"
            )
            a_new = await asyncio.wait_for(alice.transferred(), 5)
            assert a_new.state == "confirmed" and c_new.state == "confirmed"
            assert c_to_bob.replaced_by is c_new
            # Carol hung up the replaced call; Alice hung up her call with Bob.
            await asyncio.wait_for(b_to_carol.wait_ended(), 5)
            await asyncio.wait_for(b_to_alice.wait_ended(), 5)
            await asyncio.wait_for(a_call.wait_ended(), 5)
            assert c_to_bob.state == "ended"
            await a_new.hangup()
            await asyncio.wait_for(c_new.wait_ended(), 5)

    run(main())


def test_replaces_naming_no_dialog_gets_481() -> None:
    async def main() -> None:
        async with UserAgent() as alice, UserAgent() as bob:
            with pytest.raises(CallFailed) as e:
                await alice.invite(
                    uri_of(bob), headers=[("Replaces", "nosuch@x;to-tag=a;from-tag=b")]
                )
            assert e.value.status == 481
            # early-only names a confirmed dialog: 486 (RFC 3891 §3).
            bob_call = asyncio.ensure_future(answer_next(bob))
            call = await alice.invite(uri_of(bob))
            await bob_call
            d = alice.endpoint.dialog(call.dialog)
            assert d is not None
            value = f"{d.call_id};to-tag={d.remote_tag};from-tag={d.local_tag};early-only"
            carol = UserAgent()
            async with carol:
                with pytest.raises(CallFailed) as e:
                    await carol.invite(uri_of(bob), headers=[("Replaces", value)])
            assert e.value.status == 486
            await call.hangup()

    run(main())
