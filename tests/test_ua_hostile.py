"""The user agent against hostile peers (issue 15, DESIGN §5): each finding reproduced, as a
regression test named after the RFC section it breaks where one applies.

Raw peers are plain sockets on loopback (bytes the agent must survive); agents talk to each
other as in ``test_ua.py``. No timed assertions: waits are bounded by ``run``'s timeout.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Awaitable
from typing import Any

import pytest

import sipwire
from sipwire import CallFailed, LocalProtocolError, UserAgent
from sipwire.ua import AgentClosed, DigestClient, Refer, SipTimeout, TransportFailed

HOST = "127.0.0.1"
SDP_OK = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\n"
)


def run(coro: Awaitable[Any], timeout: float = 20.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


def uri_of(ua: UserAgent, user: str = "bob") -> str:
    host, port = ua.local_address
    t = ua.endpoint.transport
    return f"sip:{user}@{host}:{port}" + (f";transport={t}" if t != "udp" else "")


class Peer:
    """A raw UDP peer: sends bytes, reads what comes back."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.n = 0

    def request(
        self,
        method: str,
        ua: UserAgent,
        *,
        headers: list[str] | None = None,
        body: bytes = b"",
        drop: tuple[str, ...] = (),
        to_tag: str | None = None,
        call_id: str | None = None,
        cseq: int = 1,
    ) -> tuple[bytes, str]:
        self.n += 1
        host, port = ua.local_address
        cid = call_id or f"hostile-{self.n}-{self.port}"
        to = f"<sip:bob@{host}:{port}>" + (f";tag={to_tag}" if to_tag else "")
        hs = [
            f"Via: SIP/2.0/UDP {HOST}:{self.port};rport;branch=z9hG4bKh{self.n}x{self.port}",
            "Max-Forwards: 70",
            f"From: <sip:eve@{HOST}:{self.port}>;tag=eve-{cid}",
            f"To: {to}",
            f"Call-ID: {cid}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:eve@{HOST}:{self.port}>",
            *(headers or []),
        ]
        hs = [h for h in hs if not h.startswith(drop)] if drop else hs
        head = "\r\n".join([f"{method} sip:bob@{host}:{port} SIP/2.0", *hs])
        data = f"{head}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        return data, cid

    def send(self, data: bytes, ua: UserAgent) -> None:
        self.sock.sendto(data, ua.local_address)

    async def final(self, call_id: str) -> sipwire.Response:
        """The next final response for ``call_id``."""
        loop = asyncio.get_running_loop()
        while True:
            data = await loop.sock_recv(self.sock, 65535)
            msg = sipwire.parse(data, strict=False)
            if isinstance(msg, sipwire.Response) and msg.status >= 200:
                if msg.call_id == call_id or call_id.encode() in data:
                    return msg

    async def status_raw(self, call_id: str) -> bytes:
        """The next final response for ``call_id``, as bytes (it may lack headers)."""
        loop = asyncio.get_running_loop()
        while True:
            data = await loop.sock_recv(self.sock, 65535)
            if data.startswith(b"SIP/2.0 ") and data[8:9] in b"23456":
                if call_id.encode() in data or b"Call-ID" not in data:
                    return data

    def close(self) -> None:
        self.sock.close()


async def answering(ua: UserAgent, served: list[sipwire.Call]) -> None:
    """The README's loop: answer every call; a call the caller cancelled is skipped."""
    async for inc in ua.incoming():
        try:
            served.append(await inc.answer())
        except CallFailed:
            continue


@pytest.fixture
def peer() -> Any:
    p = Peer()
    p.sock.setblocking(False)
    yield p
    p.close()


# --- every request answered ------------------------------------------------------------


def test_rfc3261_8_2_malformed_invites_are_answered_before_the_application(peer: Peer) -> None:
    """A missing mandatory header, an offer with a broken line, an offer with a NUL in t=
    (RFC 8866 §9), a CSeq of another method: each gets its 4xx with a Warning, the answering
    loop never sees them and still answers the next valid call."""

    async def main() -> None:
        async with UserAgent() as ua:
            served: list[sipwire.Call] = []
            loop_task = asyncio.ensure_future(answering(ua, served))
            sdp = ["Content-Type: application/sdp"]
            cases: list[tuple[dict[str, Any], int]] = [
                ({"drop": ("Call-ID",)}, 400),
                ({"drop": ("From",)}, 400),
                ({"headers": sdp, "body": b"v=0\r\nthis is not sdp\r\n"}, 488),
                ({"headers": sdp, "body": SDP_OK.replace(b"t=0 0", b"t=0 \x000")}, 488),
                ({"headers": ["Require: frobnicate"]}, 420),
                ({"headers": ["Content-Type: text/plain"], "body": b"hi"}, 415),
                ({"headers": sdp, "body": SDP_OK.replace(b"RTP/AVP 0", b"RTP/AVP 99")}, 488),
            ]
            for kw, status in cases:
                data, cid = peer.request("INVITE", ua, **kw)
                peer.send(data, ua)
                raw = await peer.status_raw(cid)
                assert raw[8:11] == str(status).encode(), (kw, raw)
                if status in (400, 488):
                    assert b"\r\nWarning: 399 " in raw or b"\r\nWarning: 305 " in raw, raw
            assert served == []
            data, cid = peer.request(
                "INVITE", ua, headers=["Content-Type: application/sdp"], body=SDP_OK
            )
            peer.send(data, ua)
            ok = await peer.final(cid)
            assert ok.status == 200 and len(served) == 1
            assert not loop_task.done()
            assert ua.endpoint.counters["malformed_rejected"] >= 5
            loop_task.cancel()

    run(main())


def test_an_exception_in_a_handler_is_answered_500_and_the_agent_goes_on(peer: Peer) -> None:
    async def main() -> None:
        async with UserAgent() as ua:
            original = ua._on_request

            def broken(ev: sipwire.EndpointEvent) -> None:
                if isinstance(ev.message, sipwire.Request) and ev.message.method == "MESSAGE":
                    raise RuntimeError("application bug")
                original(ev)

            ua._on_request = broken  # type: ignore[method-assign]
            data, cid = peer.request("MESSAGE", ua, headers=["Content-Type: text/plain"], body=b"x")
            peer.send(data, ua)
            assert (await peer.final(cid)).status == 500
            assert ua.dropped["handler_errors"] == 1
            data, cid = peer.request("OPTIONS", ua)
            peer.send(data, ua)
            assert (await peer.final(cid)).status == 200

    run(main())


def test_rfc3261_14_2_a_broken_reoffer_gets_488_and_the_session_stays(peer: Peer) -> None:
    """A re-INVITE whose SDP the agent cannot answer used to abort the event pump (the
    re-INVITE stuck in Proceeding); now it gets 488 and the next re-INVITE works."""

    async def main() -> None:
        async with UserAgent() as ua:
            served: list[sipwire.Call] = []
            loop_task = asyncio.ensure_future(answering(ua, served))
            sdp = ["Content-Type: application/sdp"]
            data, cid = peer.request("INVITE", ua, headers=sdp, body=SDP_OK)
            peer.send(data, ua)
            ok = await peer.final(cid)
            tag = ok.to.tag if ok.to else None
            peer.send(peer.request("ACK", ua, to_tag=tag, call_id=cid)[0], ua)
            bad = SDP_OK.replace(b"t=0 0", b"t=0 \x000")
            data, _ = peer.request(
                "INVITE", ua, headers=sdp, body=bad, to_tag=tag, call_id=cid, cseq=2
            )
            peer.send(data, ua)
            assert (await peer.final(cid)).status == 488
            data, _ = peer.request(
                "INVITE", ua, headers=sdp, body=SDP_OK, to_tag=tag, call_id=cid, cseq=3
            )
            peer.send(data, ua)
            assert (await peer.final(cid)).status == 200
            loop_task.cancel()

    run(main())


def test_rfc3261_18_3_garbage_on_tcp_resyncs_instead_of_closing() -> None:
    async def main() -> None:
        async with UserAgent(transport="tcp") as ua:
            host, port = ua.local_address
            reader, writer = await asyncio.open_connection(host, port)
            lport = writer.get_extra_info("sockname")[1]
            opts = (
                f"OPTIONS sip:bob@{host}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/TCP {HOST}:{lport};branch=z9hG4bKtcp1\r\nMax-Forwards: 70\r\n"
                f"From: <sip:eve@{HOST}>;tag=1\r\nTo: <sip:bob@{host}>\r\nCall-ID: tcp-1\r\n"
                "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            ).encode()
            writer.write(b"this line is garbage\r\n\x00\x01\r\n\r\n" + opts)
            await writer.drain()
            stream = sipwire.StreamParser()
            while True:
                chunk = await reader.read(65536)
                assert chunk, "the agent closed the connection"
                stream.feed(chunk)
                got = [m for m in stream if isinstance(m, sipwire.Response)]
                if got:
                    assert got[0].status == 200 and got[0].call_id == "tcp-1"
                    break
            transport = ua._transport
            assert isinstance(transport, sipwire.ua.transport.TcpTransport)
            assert transport.garbage >= 1
            writer.close()

    run(main())


# --- safe defaults: REFER ----------------------------------------------------------------


def test_rfc3515_2_4_2_refer_is_declined_without_consent() -> None:
    async def main() -> None:
        async with UserAgent() as alice, UserAgent() as bob:
            served: list[sipwire.Call] = []
            t = asyncio.ensure_future(answering(bob, served))
            call = await alice.invite(uri_of(bob))
            await asyncio.sleep(0.05)
            assert await served[0].transfer(f"sip:carol@{HOST}:9") == 603
            assert alice.dropped["refer_declined"] == 1 and call.state == "confirmed"
            t.cancel()

    run(main())


def test_rfc3261_19_1_5_only_replaces_is_copied_from_refer_to() -> None:
    async def main() -> None:
        refers: list[Refer] = []

        def consent(r: Refer) -> bool:
            refers.append(r)
            return True

        async with (
            UserAgent(on_refer=consent) as alice,
            UserAgent() as bob,
            UserAgent() as carol,
        ):
            at_bob: list[sipwire.Call] = []
            at_carol: list[sipwire.IncomingCall] = []
            t = asyncio.ensure_future(answering(bob, at_bob))

            async def carol_answers() -> None:
                async for inc in carol.incoming():
                    at_carol.append(inc)
                    await inc.answer()

            c = asyncio.ensure_future(carol_answers())
            await alice.invite(uri_of(bob))
            await asyncio.sleep(0.05)
            dangerous = (
                "Route=%3Csip%3Aevil.example%3Blr%3E&Record-Route=%3Csip%3Aevil%3E"
                "&Proxy-Authorization=Digest%20x&P-Asserted-Identity=%3Csip%3Aceo%40corp%3E"
                "&Require=nothing&Replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2"
            )
            status = await at_bob[0].transfer(f"{uri_of(carol, 'carol')}?{dangerous}")
            # Carol has no dialog abc: 481 to the INVITE, reported in the NOTIFY.
            assert status == 481
            r = refers[0]
            assert r.headers == [("Replaces", "abc;to-tag=1;from-tag=2")]
            assert r.dropped == [
                "Route",
                "Record-Route",
                "Proxy-Authorization",
                "P-Asserted-Identity",
                "Require",
            ]
            t.cancel()
            c.cancel()

    run(main())


# --- safe defaults: credentials ----------------------------------------------------------


def _challenger(ua: UserAgent, challenges: list[str], seen: list[sipwire.Request]) -> Any:
    async def serve() -> None:
        async for inc in ua.incoming():
            seen.append(inc.request)
            if inc.request.headers.get("Authorization") is None:
                await inc.reject(401, headers=[("WWW-Authenticate", c) for c in challenges])
            else:
                await inc.answer()

    return asyncio.ensure_future(serve())


def test_rfc3261_22_1_credentials_answer_only_their_hosts() -> None:
    async def main() -> None:
        challenge = 'Digest realm="evil", nonce="n1"'
        async with (
            UserAgent(username="alice", password="secret") as alice,
            UserAgent() as attacker,
        ):
            seen: list[sipwire.Request] = []
            t = _challenger(attacker, [challenge], seen)
            with pytest.raises(CallFailed) as e:
                await alice.invite(uri_of(attacker))
            assert e.value.status == 401 and len(seen) == 1
            assert alice.dropped["challenge_refused"] == 1
            assert "secret" not in repr(alice._auth)
            t.cancel()

    run(main())


def test_rfc8760_2_4_the_strongest_challenge_and_stale_nonces() -> None:
    async def main() -> None:
        async with (
            UserAgent(username="alice", password="secret", auth_hosts=[HOST]) as alice,
            UserAgent() as server,
        ):
            seen: list[sipwire.Request] = []
            t = _challenger(
                server,
                [
                    'Digest realm="r", nonce="n1", algorithm=MD5, qop="auth"',
                    'Digest realm="r", nonce="n2", algorithm=SHA-256, qop="auth,auth-int"',
                ],
                seen,
            )
            call = await alice.invite(uri_of(server))
            auth = seen[-1].headers.get("Authorization") or ""
            assert (
                "algorithm=SHA-256" in auth and "qop=auth," in auth + "," and 'nonce="n2"' in auth
            )
            await call.hangup()
            t.cancel()
        d = DigestClient("u", "p", frozenset({"r"}), {HOST})
        assert d.allows('Digest realm="r", nonce="x"', HOST)
        assert not d.allows('Digest realm="other", nonce="x"', HOST)
        assert not d.allows('Digest realm="r", nonce="x"', "192.0.2.1")
        assert "p'" not in repr(d) and "password" not in repr(d)

    run(main())


def test_rfc2617_3_2_1_a_stale_nonce_is_answered_again() -> None:
    async def main() -> None:
        async with (
            UserAgent(username="alice", password="secret", auth_hosts=[HOST]) as alice,
            UserAgent() as server,
        ):
            seen: list[str | None] = []

            async def serve() -> None:
                n = 0
                async for inc in server.incoming():
                    seen.append(inc.request.headers.get("Authorization"))
                    n += 1
                    if n == 1:
                        await inc.reject(
                            401, headers=[("WWW-Authenticate", 'Digest realm="r", nonce="a"')]
                        )
                    elif n == 2:
                        stale = 'Digest realm="r", nonce="b", stale=true'
                        await inc.reject(401, headers=[("WWW-Authenticate", stale)])
                    else:
                        await inc.answer()

            t = asyncio.ensure_future(serve())
            call = await alice.invite(uri_of(server))
            assert seen[0] is None and 'nonce="a"' in (seen[1] or "")
            assert 'nonce="b"' in (seen[2] or "")
            await call.hangup()
            t.cancel()

    run(main())


# --- RFC-exact dialogs at the agent -------------------------------------------------------


def test_rfc3261_14_1_no_reinvite_while_another_is_in_progress() -> None:
    async def main() -> None:
        net = sipwire.ua.MemoryNetwork()
        async with UserAgent(network=net) as alice, UserAgent(network=net) as bob:
            served: list[sipwire.Call] = []
            t = asyncio.ensure_future(answering(bob, served))
            call = await alice.invite(uri_of(bob))
            net.drop("SIP/2.0 200")  # the first re-INVITE stays in progress
            first = asyncio.ensure_future(call.reinvite(call.local_sdp))
            await asyncio.sleep(0.05)
            with pytest.raises(LocalProtocolError) as e:
                await call.reinvite(call.local_sdp)
            assert e.value.kind == "invite_in_progress"  # type: ignore[attr-defined]
            first.cancel()
            t.cancel()

    run(main())


# --- liveness ------------------------------------------------------------------------------


def test_a_reinvite_without_final_response_times_out_after_its_provisional() -> None:
    async def main() -> None:
        net = sipwire.ua.MemoryNetwork()
        async with (
            UserAgent(network=net, reinvite_timeout=0.3) as alice,
            UserAgent(network=net) as bob,
        ):
            served: list[sipwire.Call] = []
            t = asyncio.ensure_future(answering(bob, served))
            call = await alice.invite(uri_of(bob))
            net.drop("SIP/2.0 200")  # only the 100 Trying gets through
            with pytest.raises(SipTimeout):
                await call.hold()
            assert net.sent("CANCEL ")  # the re-INVITE was cancelled
            t.cancel()

    run(main())


def test_close_resolves_what_waits() -> None:
    async def main() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind((HOST, 0))
            port = silent.getsockname()[1]
            ua = UserAgent()
            await ua.__aenter__()
            waiting = asyncio.ensure_future(ua.options(f"sip:x@{HOST}:{port}"))
            calls = asyncio.ensure_future(ua.incoming().__anext__())
            await asyncio.sleep(0.05)
            await ua.close()
            with pytest.raises(AgentClosed):
                await waiting
            with pytest.raises(StopAsyncIteration):
                await calls

    run(main())


def test_rfc3261_18_4_transport_failures_are_reported_at_once() -> None:
    async def main() -> None:
        closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        closed.bind((HOST, 0))
        port = closed.getsockname()[1]
        closed.close()
        async with UserAgent() as alice:
            # ICMP port unreachable (UDP): not a made-up 408 after 32 s.
            with pytest.raises(TransportFailed) as e:
                await alice.options(f"sip:x@{HOST}:{port}")
            assert not isinstance(e.value, SipTimeout)
            # A name that does not resolve: TransportFailed, not socket.gaierror.
            with pytest.raises(TransportFailed):
                await alice.options("sip:x@no-such-host.invalid")
        async with UserAgent(transport="tcp") as alice:
            with pytest.raises(TransportFailed) as e:
                await alice.options(f"sip:x@{HOST}:{port};transport=tcp")
            assert "refused" in e.value.reason.lower()

    run(main())


def test_rfc3261_10_2_4_a_failed_refresh_is_retried_and_reported() -> None:
    async def main() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as registrar:
            registrar.bind((HOST, 0))
            registrar.setblocking(False)
            rport = registrar.getsockname()[1]
            loop = asyncio.get_running_loop()

            async def serve() -> None:
                n = 0
                while True:
                    data, addr = await loop.sock_recvfrom(registrar, 65535)
                    req = sipwire.parse(data)
                    assert isinstance(req, sipwire.Request)
                    n += 1
                    resp = req.response(200 if n == 1 else 503, headers=[("Expires", "1")])
                    await loop.sock_sendto(registrar, bytes(resp), addr)

            t = asyncio.ensure_future(serve())
            async with UserAgent() as ua:
                reg = await ua.register(f"sip:{HOST}:{rport}", username="a", password="p")
                while reg.error is None:
                    await asyncio.sleep(0.05)
                assert isinstance(reg.error, CallFailed) and reg.error.status == 503
                assert reg.failures == 1
                assert reg._refresh is not None and not reg._refresh.done()  # retrying
                ua._registrations.clear()  # no unregister against the broken registrar
            t.cancel()

    run(main())


# --- bounds ----------------------------------------------------------------------------------


def test_dtmf_and_notify_floods_are_answered_bounded_and_counted(peer: Peer) -> None:
    async def main() -> None:
        async with UserAgent(queue_limit=4) as ua:
            served: list[sipwire.Call] = []
            t = asyncio.ensure_future(answering(ua, served))
            data, cid = peer.request(
                "INVITE", ua, headers=["Content-Type: application/sdp"], body=SDP_OK
            )
            peer.send(data, ua)
            tag = (await peer.final(cid)).to.tag  # type: ignore[union-attr]
            peer.send(peer.request("ACK", ua, to_tag=tag, call_id=cid)[0], ua)
            for i in range(20):
                data, _ = peer.request(
                    "INFO",
                    ua,
                    headers=["Content-Type: application/dtmf-relay"],
                    body=b"Signal=5\r\nDuration=160\r\n",
                    to_tag=tag,
                    call_id=cid,
                    cseq=2 + i,
                )
                peer.send(data, ua)
                assert (await peer.final(cid)).status == 200
            call = served[0]
            assert call.dtmf_received.qsize() == 4 and ua.dropped["dtmf"] == 16
            t.cancel()

    run(main())


def test_tcp_connections_are_limited_and_idle_ones_closed() -> None:
    async def main() -> None:
        async with UserAgent(transport="tcp", max_connections=2, idle_timeout=0.2) as ua:
            host, port = ua.local_address
            conns = [await asyncio.open_connection(host, port) for _ in range(3)]
            # The third is closed at once; the first two when idle.
            for reader, _ in conns:
                assert await reader.read(100) == b""
            transport = ua._transport
            assert isinstance(transport, sipwire.ua.transport.TcpTransport)
            assert transport.refused == 1 and transport.idle_closed == 2
            for _, w in conns:
                w.close()

    run(main())


# --- TLS: the SIP domain ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def localhost_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A certificate naming only DNS:localhost (no IP address)."""
    d = tmp_path_factory.mktemp("tls-domain")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def test_rfc5922_3_1_tls_is_verified_against_the_sip_domain(
    localhost_cert: tuple[str, str],
) -> None:
    cert, key = localhost_cert

    async def main() -> None:
        tls = {"transport": "tls", "tls_cert": cert, "tls_key": key, "tls_ca": cert}
        async with UserAgent(**tls) as alice, UserAgent(**tls) as bob:  # type: ignore[arg-type]
            served: list[sipwire.Call] = []
            t = asyncio.ensure_future(answering(bob, served))
            port = bob.local_address[1]
            call = await alice.invite(f"sip:bob@localhost:{port};transport=tls")
            await call.hangup()
            t.cancel()

    run(main())


# --- one error taxonomy -------------------------------------------------------------------


INVITE = (
    b"INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
    b'From: "Al\xe9" <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n'
    b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
)


def test_rfc3261_8_1_1_validate_names_the_missing_header() -> None:
    with pytest.raises(sipwire.ParseError) as e:
        sipwire.parse(INVITE.replace(b"Call-ID: c\r\n", b""), validate=True)
    assert (e.value.kind, e.value.header) == ("missing_header", "Call-ID")
    assert "Call-ID" in str(e.value)
    for gone in (b"Via", b"From", b"To"):
        data = b"\r\n".join(
            line for line in INVITE.split(b"\r\n") if not line.startswith(gone + b":")
        )
        with pytest.raises(sipwire.ParseError) as e:
            sipwire.parse(data, validate=True)
        assert e.value.header == gone.decode()


def test_sdp_errors_are_diagnostics_and_fail_validation() -> None:
    body = b"v=0\r\nbroken\r\n"
    data = (
        INVITE.replace(b"Content-Length: 0", b"Content-Type: application/sdp\r\nContent-Length: 13")
        + body
    )
    msg = sipwire.parse(data)
    assert "sdp_invalid_line" in [d.kind for d in msg.diagnostics]
    with pytest.raises(sipwire.ParseError):
        sipwire.parse(data, validate=True)


def test_display_names_keep_their_bytes() -> None:
    msg = sipwire.parse(INVITE)
    assert msg.from_ is not None
    assert msg.from_.display_name == "Al\ufffd"
    assert msg.from_.display_name_bytes == b"Al\xe9"
    assert not msg.from_.display_name_is_utf8


def test_the_callers_mistakes_are_local_protocol_errors() -> None:
    msg = sipwire.parse(INVITE)
    hs = [
        ("Via", "SIP/2.0/UDP h;branch=z9hG4bK1"),
        ("From", "<sip:a@h"),
        ("To", "<sip:b@h>"),
        ("Call-ID", "c"),
        ("CSeq", "1 INVITE"),
        ("Max-Forwards", "70"),
    ]
    cases = [
        (lambda: sipwire.build_request("INVITE", "sip:b@h", hs), "From"),
        (lambda: msg.with_header("Content-Length", "10"), "Content-Length"),
        (lambda: msg.replace_header("Content-Length", "5"), "Content-Length"),
        (lambda: msg.with_header("X", "a\x01b"), "X"),
        (lambda: msg.response(99), "100 to 699"),
    ]
    for f, named in cases:
        with pytest.raises(LocalProtocolError) as e:
            f()
        assert not isinstance(e.value, sipwire.RemoteProtocolError)
        assert getattr(e.value, "kind", None), e.value
        assert named in str(e.value)
    ep = sipwire.Endpoint(HOST, 0)
    with pytest.raises(LocalProtocolError) as e:
        ep.request("MESSAGE", "sip:b@127.0.0.1", dest=(HOST, 5060), now=0.0, body=b"hello")
    assert e.value.kind == "missing_content_type"  # type: ignore[attr-defined]
    # An SDP body is recognised and typed (the README's ep.request(..., body=offer)).
    ep.request("INVITE", "sip:b@127.0.0.1", dest=(HOST, 5060), now=0.0, body=SDP_OK)
    sent = ep.transmit()[0][0]
    assert b"Content-Type: application/sdp\r\n" in sent


def test_sipwire_parse_escapes_control_bytes(tmp_path: Any) -> None:
    hostile = INVITE.replace(b"Call-ID: c", b"Call-ID: c\r\nSubject: \x1b]0;pwned\x07\x1b[2J")
    f = tmp_path / "m.sip"
    f.write_bytes(hostile.replace(b"\x1b[2J", b"\x9b2J"))
    for extra in ([], ["--json"], ["--lenient"]):
        r = subprocess.run(
            [sys.executable, "-m", "sipwire", "parse", *extra, str(f)],
            capture_output=True,
            check=False,
        )
        out = r.stdout + r.stderr
        assert b"\x1b" not in out and b"\x07" not in out and "\x9b".encode() not in out, out


def test_rfc3261_9_2_ring_after_the_callers_cancel_is_a_call_failure(peer: Peer) -> None:
    """INVITE then CANCEL at once: the example UAS's ``ring()`` used to raise
    LocalProtocolError (and end the program); it is a CallFailed(487) like ``answer()``."""

    async def main() -> None:
        async with UserAgent() as ua:
            data, _ = peer.request(
                "INVITE", ua, headers=["Content-Type: application/sdp"], body=SDP_OK
            )
            cancel = data.split(b"\r\nContact:")[0].replace(b"INVITE ", b"CANCEL ", 1)
            cancel = (
                cancel.replace(b" INVITE\r\n", b" CANCEL\r\n") + b"\r\nContent-Length: 0\r\n\r\n"
            )
            peer.send(data, ua)
            inc = await ua.incoming().__anext__()
            peer.send(cancel, ua)
            await asyncio.wait_for(inc.cancelled, 5)
            with pytest.raises(CallFailed) as e:
                await inc.ring()
            assert e.value.status == 487
            with pytest.raises(CallFailed):
                await inc.answer()
            await inc.reject(486)  # a no-op now

    run(main())


def test_a_failing_on_refer_declines_and_is_counted() -> None:
    async def main() -> None:
        def broken(r: Refer) -> bool:
            raise RuntimeError("application bug")

        async with UserAgent(on_refer=broken) as alice, UserAgent() as bob:
            served: list[sipwire.Call] = []
            t = asyncio.ensure_future(answering(bob, served))
            await alice.invite(uri_of(bob))
            await asyncio.sleep(0.05)
            assert await served[0].transfer(f"sip:carol@{HOST}:9") == 603
            assert alice.dropped["handler_errors"] == 1
            t.cancel()

    run(main())
