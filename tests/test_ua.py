"""The asyncio UserAgent: two agents on loopback calling each other (UDP and TCP), and the
digest answers checked against the RFC 7616 / RFC 2617 known answers."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import sipwire
from sipwire import CallFailed, UserAgent
from sipwire.ua import DigestClient

Coro = Callable[..., Awaitable[Any]]


def run(coro: Awaitable[Any], timeout: float = 20.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


def uri_of(ua: UserAgent, user: str = "bob") -> str:
    host, port = ua.local_address
    return f"sip:{user}@{host}:{port}" + (
        ";transport=tcp" if ua.endpoint.transport == "tcp" else ""
    )


async def answer_next(ua: UserAgent, *, ring: bool = True) -> sipwire.Call:
    async for inc in ua.incoming():
        if ring:
            await inc.ring()
        return await inc.answer()
    raise AssertionError("no call")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_call_hold_dtmf_options_message_hangup(transport: str) -> None:
    async def main() -> None:
        async with UserAgent(transport=transport) as alice, UserAgent(transport=transport) as bob:  # type: ignore[arg-type]
            ringing: list[int] = []
            bob_call = asyncio.ensure_future(answer_next(bob))
            call = await alice.invite(
                uri_of(bob), on_provisional=lambda r: ringing.append(r.status)
            )
            b = await bob_call
            assert 180 in ringing
            assert call.state == "confirmed" and b.state == "confirmed"
            assert call.remote_sdp is not None and call.remote_sdp.media[0].port == 40000
            codecs = [c.name for c in call.remote_sdp.media[0].codecs]
            assert codecs[:2] == ["PCMU", "PCMA"] and "telephone-event" in codecs

            r = await call.hold()
            assert r.status == 200 and call.state == "held" and b.state == "held"
            assert r.sdp is not None and r.sdp.media[0].direction == "recvonly"
            r = await call.hold(style="inactive")
            assert r.sdp is not None and r.sdp.media[0].direction == "inactive"
            r = await call.unhold()
            assert r.status == 200 and call.state == "confirmed" and b.state == "confirmed"

            await call.send_dtmf("159#")
            assert [b.dtmf_received.get_nowait() for _ in range(4)] == list("159#")

            assert (await alice.options(uri_of(bob))).status == 200
            assert (await alice.message(uri_of(bob), "hello")).status == 200
            assert (await bob.messages.get()).body == b"hello"

            await b.hangup()  # BYE from the callee this time
            await asyncio.wait_for(call.wait_ended(), 5)
            assert call.state == "ended"
            assert alice.endpoint.dialogs() == [] and bob.endpoint.dialogs() == []

    run(main())


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_an_agent_on_ipv6_brackets_its_address(transport: str) -> None:
    """An agent bound to an IPv6 address writes it in brackets wherever a URI or a hostport
    holds it (RFC 5118 §4.10): its default From (an INVITE failed to build before), the
    P-Preferred-Identity of an anonymous call, the warn-agent of a 488."""

    def at(ua: UserAgent, user: str) -> str:
        tcp = ";transport=tcp" if transport == "tcp" else ""
        return f"sip:{user}@[::1]:{ua.local_address[1]}{tcp}"

    async def main() -> None:
        t: Any = transport
        async with (
            UserAgent(host="::1", transport=t) as alice,
            UserAgent(host="::1", transport=t) as bob,
            UserAgent(host="::1", transport=t, codecs=["G729/8000"]) as carol,
        ):
            me = f"[::1]:{alice.local_address[1]}"
            bob_call = asyncio.ensure_future(answer_next(bob))
            call = await alice.invite(at(bob, "bob"))
            b = await bob_call
            assert b.request is not None and b.request.from_ is not None
            assert str(b.request.from_.uri) == f"sip:sipwire@{me}"
            assert (await call.hold()).status == 200 and b.state == "held"
            await call.hangup()

            bob_call = asyncio.ensure_future(answer_next(bob))
            call = await alice.invite(at(bob, "bob"), anonymous=True)
            b = await bob_call
            assert b.request is not None
            ppi = b.request.headers.get("P-Preferred-Identity") or ""
            assert ppi == f"<sip:sipwire@{me}>", ppi
            await call.hangup()

            with pytest.raises(CallFailed) as failed:
                await alice.invite(at(carol, "carol"))
            assert failed.value.status == 488 and failed.value.response is not None
            warning = failed.value.response.headers.get("Warning") or ""
            assert warning == '305 [::1] "Incompatible media format"', warning

    run(main())


def test_rejected_and_cancelled_calls() -> None:
    async def main() -> None:
        async with UserAgent() as alice, UserAgent() as bob:

            async def reject() -> None:
                async for inc in bob.incoming():
                    await inc.reject(486)
                    return

            t = asyncio.ensure_future(reject())
            with pytest.raises(CallFailed) as e:
                await alice.invite(uri_of(bob))
            assert e.value.status == 486 and e.value.reason == "Busy Here"
            await t

            # CANCEL during ringing: cancelling the awaiting task sends CANCEL (§9.1).
            seen: asyncio.Future[sipwire.IncomingCall] = asyncio.get_running_loop().create_future()

            async def ring_only() -> None:
                async for inc in bob.incoming():
                    await inc.ring()
                    seen.set_result(inc)
                    return

            r = asyncio.ensure_future(ring_only())
            attempt = asyncio.ensure_future(alice.invite(uri_of(bob)))
            inc = await seen
            await asyncio.sleep(0.05)
            attempt.cancel()
            await asyncio.wait_for(inc.cancelled, 5)
            with pytest.raises(CallFailed) as e2:
                await inc.answer()
            assert e2.value.status == 487
            await r
            await asyncio.sleep(0.1)
            assert bob.endpoint.counters["auto_rejected"] == 0
            assert alice.endpoint.dialogs() == [] and bob.endpoint.dialogs() == []

    run(main())


def test_blind_transfer_with_notify_progress() -> None:
    async def main() -> None:
        # Alice consents to transfers (REFER is declined by default).
        async with (
            UserAgent(on_refer=lambda r: True) as alice,
            UserAgent() as bob,
            UserAgent() as carol,
        ):
            bob_call = asyncio.ensure_future(answer_next(bob))
            call = await alice.invite(uri_of(bob))
            b = await bob_call
            carol_call = asyncio.ensure_future(answer_next(carol))
            # Bob transfers Alice to Carol: Alice calls Carol, reports 200 by NOTIFY.
            status = await b.transfer(uri_of(carol, "carol"))
            assert status == 200
            new = await asyncio.wait_for(alice.transferred(), 5)
            c = await carol_call
            assert new.state == "confirmed" and c.state == "confirmed"
            await asyncio.wait_for(call.wait_ended(), 5)  # the transferee hung up the old call
            await new.hangup()

    run(main())


def test_no_answer_is_a_408_call_failure() -> None:
    async def main() -> None:
        # A socket that never answers: Timer B (64·T1, T1 = 10 ms here) ends the INVITE.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))
            port = silent.getsockname()[1]
            async with UserAgent(t1=0.01) as alice:
                with pytest.raises(CallFailed) as e:
                    await alice.invite(f"sip:nobody@127.0.0.1:{port}")
                assert e.value.status == 408

    run(main())


def test_host_must_be_an_ip_address() -> None:
    with pytest.raises(sipwire.LocalProtocolError, match="IP address"):
        UserAgent(host="localhost")


# RFC 7616 §3.9.1: the same challenge answered with MD5 and SHA-256.
RFC7616 = {
    "realm": "http-auth@example.org",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
}


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_digest_known_answers(algorithm: str, expected: str) -> None:
    d = DigestClient("Mufasa", "Circle of Life")
    ch = (
        f'Digest realm="{RFC7616["realm"]}", qop="auth, auth-int", algorithm={algorithm}, '
        f'nonce="{RFC7616["nonce"]}", opaque="{RFC7616["opaque"]}"'
    )
    value = d.authorization(ch, method="GET", uri="/dir/index.html", cnonce=RFC7616["cnonce"])
    scheme, p = sipwire.parse_challenge(value)
    assert scheme == "Digest"
    assert p["response"] == expected
    assert (p["nc"], p["qop"], p["opaque"]) == ("00000001", "auth", RFC7616["opaque"])
    # The nonce count goes up for the same nonce (RFC 2617 §3.2.2).
    again = d.authorization(ch, method="GET", uri="/dir/index.html")
    assert sipwire.parse_challenge(again)[1]["nc"] == "00000002"


def test_digest_rfc2617_example_and_unsupported() -> None:
    d = DigestClient("Mufasa", "Circle Of Life")
    ch = (
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    v = d.authorization(ch, method="GET", uri="/dir/index.html", cnonce="0a4f113b")
    assert sipwire.parse_challenge(v)[1]["response"] == "6629fae49393a05397450978507c4ef1"
    with pytest.raises(sipwire.LocalProtocolError, match="not supported"):
        d.authorization(ch.replace("Digest ", "Digest algorithm=SHA-1, "), method="GET", uri="/")
    with pytest.raises(sipwire.LocalProtocolError, match="only Digest"):
        d.authorization("Bearer abc", method="GET", uri="/")


def test_call_under_uvloop() -> None:
    import uvloop  # a test dependency (scripts/dev.sh setup installs it)

    async def main() -> None:
        async with UserAgent() as alice, UserAgent(transport="udp") as bob:
            answered = asyncio.ensure_future(answer_next(bob))
            call = await alice.invite(uri_of(bob))
            b = await answered
            assert (await call.hold()).status == 200
            await call.hangup()
            await asyncio.wait_for(b.wait_ended(), 5)

    uvloop.run(asyncio.wait_for(main(), 20))


def test_redirect_is_followed_in_q_order_and_anonymous_calls() -> None:
    async def main() -> None:
        # The first target does not answer: T1 = 50 ms makes its Timer B 3.2 s.
        async with UserAgent(t1=0.05) as alice, UserAgent() as bob, UserAgent() as carol:

            async def redirect() -> None:
                async for inc in bob.incoming():
                    # Nobody at the first target; carol at the second.
                    await inc.redirect("sip:gone@127.0.0.1:9", uri_of(carol, "carol"))
                    return

            r = asyncio.ensure_future(redirect())
            answered = asyncio.ensure_future(answer_next(carol))
            call = await alice.invite(uri_of(bob), anonymous=True, max_redirects=3)
            c = await answered
            await r
            assert c.request is not None
            frm = c.request.from_
            assert frm is not None and frm.uri is not None
            assert frm.uri.host == "anonymous.invalid"
            assert c.request.headers.get("Privacy") == "id"
            assert "sipwire@" in (c.request.headers.get("P-Preferred-Identity") or "")
            r2 = await call.update(call.local_sdp)  # type: ignore[arg-type]
            assert r2.status == 200
            await call.hangup()

    run(main(), 60)


def test_reliable_ringing_and_early_media() -> None:
    async def main() -> None:
        async with UserAgent() as alice, UserAgent() as bob:
            seen: list[int] = []

            async def callee() -> sipwire.Call:
                async for inc in bob.incoming():
                    assert inc.supports_100rel  # the agent says Supported: 100rel
                    await inc.ring(reliable=True)
                    await asyncio.sleep(0.1)  # the PRACK comes back
                    await inc.progress(reliable=True)
                    await asyncio.sleep(0.1)
                    return await inc.answer()
                raise AssertionError("no call")

            b = asyncio.ensure_future(callee())
            call = await alice.invite(uri_of(bob), on_provisional=lambda r: seen.append(r.status))
            await b
            assert 180 in seen and 183 in seen
            assert alice.endpoint.counters["pracks_sent"] == 2
            assert bob.endpoint.counters["pracks_received"] == 2
            await call.hangup()

    run(main())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (IP subjectAltName), made with openssl."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def test_call_over_tls(certificate: tuple[str, str]) -> None:
    cert, key = certificate

    async def main() -> None:
        tls = {"transport": "tls", "tls_cert": cert, "tls_key": key, "tls_ca": cert}
        async with UserAgent(**tls) as alice, UserAgent(**tls) as bob:  # type: ignore[arg-type]
            assert alice.endpoint.contact.endswith(";transport=tls>")
            answered = asyncio.ensure_future(answer_next(bob))
            call = await alice.invite(uri_of(bob))
            b = await answered
            assert b.request is not None and b.request.via[0].transport == "TLS"
            assert (await call.hold()).status == 200
            await b.hangup()
            await asyncio.wait_for(call.wait_ended(), 5)

    run(main())


def test_tls_refuses_an_unknown_certificate(certificate: tuple[str, str]) -> None:
    cert, key = certificate

    async def main() -> None:
        # Bob's certificate is not among the authorities Alice trusts (the system's).
        async with (
            UserAgent(transport="tls", tls_cert=cert, tls_key=key, t1=0.02) as alice,
            UserAgent(transport="tls", tls_cert=cert, tls_key=key, tls_ca=cert) as bob,
        ):
            # A failed handshake is a transport failure, reported at once (not a 408).
            with pytest.raises(sipwire.TransportFailed) as e:
                await alice.invite(uri_of(bob))
            assert "CERTIFICATE_VERIFY_FAILED" in e.value.reason

    run(main())
