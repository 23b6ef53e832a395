"""Subscriptions (RFC 6665) and publications (RFC 3903) between sipwire agents on loopback:
SUBSCRIBE/NOTIFY, refresh, termination either way, a NOTIFY before the 200, 489, 481,
expiry, digest auth; PUBLISH against a small ESC built on the sans-IO Endpoint (initial,
refresh, modify, remove, 412, 423)."""

from __future__ import annotations

import abc
import asyncio
import socket
from collections.abc import Awaitable
from typing import Any

import pytest

import sipwire
from sipwire import Endpoint, Request, SubscriptionFailed, UserAgent

PIDF = "application/pidf+xml"


def run(coro: Awaitable[Any], timeout: float = 30.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


def uri_of(ua: UserAgent, user: str = "bob") -> str:
    host, port = ua.local_address
    return f"sip:{user}@{host}:{port}"


async def accept_next(
    ua: UserAgent, *, body: bytes = b"<open/>", pending: bool = False
) -> sipwire.Notifier:
    async for inc in ua.subscriptions():
        return await inc.accept(body=body, content_type=PIDF, pending=pending)
    raise AssertionError("no subscription")


async def next_notification(sub: sipwire.Subscription) -> sipwire.Notification:
    async for n in sub:
        return n
    raise AssertionError("the subscription ended")


def test_subscribe_notify_refresh_and_notifier_terminates() -> None:
    async def main() -> None:
        async with UserAgent() as alice, UserAgent(events=("presence",)) as bob:
            serve = asyncio.ensure_future(accept_next(bob))
            sub = await alice.subscribe(uri_of(bob), "presence", expires=600, accept=[PIDF])
            notifier = await serve
            first = await next_notification(sub)
            # The immediate NOTIFY (§4.2.1.2) with the accepted state and its time left.
            assert first.state == "active" and first.body == b"<open/>"
            assert first.content_type == PIDF
            assert first.expires is not None and 598 <= first.expires <= 600
            assert sub.state == "active" and sub.expires == first.expires
            assert notifier.request.headers.get("Accept") == PIDF
            assert notifier.event == "presence" and notifier.state == "active"

            r = await notifier.notify(b"<closed/>", PIDF)
            assert r.status == 200
            assert (await next_notification(sub)).body == b"<closed/>"

            # A refresh with a shorter time: 200 with that Expires, then a NOTIFY with the
            # last state (§4.2.1.2).
            r = await sub.refresh(120)
            assert r.status == 200 and r.expires == 120 and sub.expires == 120
            again = await next_notification(sub)
            assert again.body == b"<closed/>" and again.expires is not None
            assert again.expires <= 120

            await notifier.terminate("noresource")
            last = await next_notification(sub)
            assert last.state == "terminated" and last.reason == "noresource"
            await asyncio.wait_for(sub.wait_terminated(), 5)
            assert sub.state == "terminated" and sub.reason == "noresource"
            assert [n async for n in sub] == []
            await asyncio.sleep(0.05)
            assert alice.endpoint.dialogs() == [] and bob.endpoint.dialogs() == []

    run(main())


def test_unsubscribe_gets_the_final_notify() -> None:
    async def main() -> None:
        async with UserAgent() as alice, UserAgent(events=("presence",)) as bob:
            serve = asyncio.ensure_future(accept_next(bob, pending=True))
            sub = await alice.subscribe(uri_of(bob), "presence")
            notifier = await serve
            assert (await next_notification(sub)).state == "pending"
            assert sub.state == "pending"
            await asyncio.wait_for(sub.unsubscribe(), 5)
            states = [n.state async for n in sub]
            assert states == ["terminated"]
            assert sub.reason == "timeout"  # §4.2.1.4: as if it expired
            await asyncio.wait_for(notifier.wait_terminated(), 5)
            assert notifier.state == "terminated"
            assert alice.endpoint.dialogs() == [] and bob.endpoint.dialogs() == []

    run(main())


def test_fetch_with_expires_zero_gets_one_terminated_notify() -> None:
    async def main() -> None:
        async with UserAgent() as alice, UserAgent(events=("presence",)) as bob:
            serve = asyncio.ensure_future(accept_next(bob, body=b"<now/>"))
            sub = await alice.subscribe(uri_of(bob), "presence", expires=0)
            await serve
            ns = [n async for n in sub]
            assert [(n.state, n.body) for n in ns] == [("terminated", b"<now/>")]
            assert alice.endpoint.dialogs() == [] and bob.endpoint.dialogs() == []

    run(main())


def test_expiry_without_refresh() -> None:
    async def main() -> None:
        async with UserAgent() as alice, UserAgent(events=("presence",)) as bob:
            serve = asyncio.ensure_future(accept_next(bob))
            sub = await alice.subscribe(uri_of(bob), "presence", expires=1, auto_refresh=False)
            notifier = await serve
            assert (await next_notification(sub)).state == "active"
            # The notifier's endpoint ends it at the deadline (§4.2.2).
            await asyncio.wait_for(sub.wait_terminated(), 5)
            assert sub.reason == "timeout"
            assert notifier.state == "terminated" and notifier.reason == "timeout"
            assert bob.endpoint.counters["subscriptions_expired"] == 1
            assert alice.endpoint.dialogs() == [] and bob.endpoint.dialogs() == []

    run(main())


def test_auto_refresh_keeps_it_alive() -> None:
    async def main() -> None:
        async with UserAgent() as alice, UserAgent(events=("presence",)) as bob:
            serve = asyncio.ensure_future(accept_next(bob))
            sub = await alice.subscribe(uri_of(bob), "presence", expires=1)
            await serve
            await next_notification(sub)
            await asyncio.sleep(2.5)  # two refreshes at 0.8 s
            assert sub.state == "active"
            n = 0
            while not sub._queue.empty():
                item = sub._queue.get_nowait()
                assert item is not None and item.state == "active"
                n += 1
            assert n >= 2  # a NOTIFY after each refresh
            assert bob.endpoint.counters["subscriptions_expired"] == 0
            await sub.unsubscribe()

    run(main())


def test_489_for_an_undeclared_package_and_405_without_events() -> None:
    async def main() -> None:
        async with UserAgent() as alice, UserAgent(events=("presence",)) as bob:
            with pytest.raises(SubscriptionFailed) as e:
                await alice.subscribe(uri_of(bob), "message-summary")
            assert e.value.status == 489 and e.value.response is not None
            assert e.value.response.headers.get("Allow-Events") == "presence"
            with pytest.raises(SubscriptionFailed) as e:
                await bob.subscribe(uri_of(alice), "presence")
            assert e.value.status == 489
            opts = await alice.options(uri_of(bob))
            assert opts.headers.get("Allow-Events") == "presence"
            assert "SUBSCRIBE" in ",".join(opts.headers.getall("Allow"))

    run(main())


def test_accept_may_shorten_but_not_lengthen() -> None:
    async def main() -> None:
        async with UserAgent() as alice, UserAgent(events=("presence",)) as bob:

            async def serve() -> sipwire.Notifier:
                async for inc in bob.subscriptions():
                    assert inc.expires == 600
                    with pytest.raises(sipwire.LocalProtocolError, match="only shorten"):
                        await inc.accept(601)
                    return await inc.accept(60)
                raise AssertionError("no subscription")

            t = asyncio.ensure_future(serve())
            sub = await alice.subscribe(uri_of(bob), "presence", expires=600)
            await t
            assert sub.expires == 60

    run(main())


def test_rejected_subscription() -> None:
    async def main() -> None:
        async with UserAgent() as alice, UserAgent(events=("presence",)) as bob:

            async def refuse() -> None:
                async for inc in bob.subscriptions():
                    await inc.reject(403)
                    return

            t = asyncio.ensure_future(refuse())
            with pytest.raises(SubscriptionFailed) as e:
                await alice.subscribe(uri_of(bob), "presence")
            assert e.value.status == 403
            await t
            assert alice.endpoint.dialogs() == [] and bob.endpoint.dialogs() == []

    run(main())


class RawPeer:
    """A UDP socket that sends hand-written requests and collects what comes back."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]

    def send(self, text: str, dest: tuple[str, int]) -> None:
        self.sock.sendto(text.replace("\n", "\r\n").encode(), dest)

    async def recv(self) -> sipwire.Request | sipwire.Response:
        data = await asyncio.get_running_loop().run_in_executor(None, self.sock.recv, 65536)
        return sipwire.parse(data)


def test_notify_for_no_subscription_is_481() -> None:
    async def main() -> None:
        async with UserAgent() as alice:
            peer = RawPeer()
            host, port = alice.local_address
            for n, to_tag in enumerate([";tag=nosuch", ""]):
                peer.send(
                    f"NOTIFY sip:alice@{host}:{port} SIP/2.0\n"
                    f"Via: SIP/2.0/UDP 127.0.0.1:{peer.port};branch=z9hG4bKn481{n}\n"
                    "Max-Forwards: 70\nFrom: <sip:x@127.0.0.1>;tag=f1\n"
                    f"To: <sip:alice@{host}>{to_tag}\nCall-ID: stray{n}\nCSeq: 1 NOTIFY\n"
                    "Event: presence\nSubscription-State: active;expires=60\n"
                    f"Contact: <sip:x@127.0.0.1:{peer.port}>\nContent-Length: 0\n\n",
                    (host, port),
                )
                r = await peer.recv()
                assert isinstance(r, sipwire.Response) and r.status == 481
            peer.sock.close()

    run(main())


def test_notify_before_the_200_makes_the_dialog() -> None:
    """A notifier (hand-written here) sends its NOTIFY first and the 200 after (§4.1.2.4):
    subscribe() returns with the NOTIFY, and the 200 joins the dialog it made."""

    async def main() -> None:
        async with UserAgent() as alice:
            peer = RawPeer()
            me = f"127.0.0.1:{peer.port}"
            task = asyncio.ensure_future(
                alice.subscribe(f"sip:pres@{me}", "presence", expires=60, auto_refresh=False)
            )
            sub_req = await peer.recv()
            assert isinstance(sub_req, Request) and sub_req.method == "SUBSCRIBE"
            via = sub_req.headers.get("Via")
            frm = sub_req.headers.get("From")
            to = f"{sub_req.headers.get('To')};tag=n0tifier"
            contact = sub_req.contact[0].uri
            assert contact is not None and contact.port is not None
            dest = (contact.host or "", contact.port)
            peer.send(
                f"NOTIFY {contact} SIP/2.0\n"
                f"Via: SIP/2.0/UDP {me};branch=z9hG4bKearly1\nMax-Forwards: 70\n"
                f"From: {to}\nTo: {frm}\nCall-ID: {sub_req.call_id}\nCSeq: 1 NOTIFY\n"
                "Event: presence\nSubscription-State: active;expires=60\n"
                f"Contact: <sip:pres@{me}>\nContent-Type: {PIDF}\nContent-Length: 7\n\n<open/>",
                dest,
            )
            ok = await peer.recv()
            assert isinstance(ok, sipwire.Response) and ok.status == 200
            assert alice.endpoint.dialogs() != []  # made by the NOTIFY
            # The subscription exists from the NOTIFY on: no need to wait for the 200.
            sub = await asyncio.wait_for(task, 5)
            peer.send(
                f"SIP/2.0 200 OK\nVia: {via}\nFrom: {frm}\nTo: {to}\n"
                f"Call-ID: {sub_req.call_id}\nCSeq: {sub_req.headers.get('CSeq')}\nExpires: 60\n"
                f"Contact: <sip:pres@{me}>\nContent-Length: 0\n\n",
                dest,
            )
            await asyncio.sleep(0.2)  # the 200 joins the NOTIFY's dialog
            assert sub.state == "active"
            n = await next_notification(sub)
            assert n.body == b"<open/>" and n.state == "active"
            assert len(alice.endpoint.dialogs()) == 1
            d = alice.endpoint.dialog(alice.endpoint.dialogs()[0])
            assert d is not None and d.remote_tag == "n0tifier"
            assert d.remote_target == f"sip:pres@{me}"
            peer.sock.close()

    run(main())


def test_subscribe_with_digest_auth() -> None:
    """A notifier that challenges the SUBSCRIBE: the agent answers through request()."""

    async def main() -> None:
        async with (
            UserAgent(username="alice", password="secret", auth_hosts=["127.0.0.1"]) as alice,
            UserAgent(events=("presence",)) as bob,
        ):
            challenged: list[int] = []

            async def serve() -> sipwire.Notifier:
                async for inc in bob.subscriptions():
                    if inc.request.headers.get("Authorization") is None:
                        challenged.append(inc.request.cseq.seq if inc.request.cseq else 0)
                        await inc.reject(
                            401,
                            headers=[
                                (
                                    "WWW-Authenticate",
                                    'Digest realm="test", nonce="abc123", qop="auth"',
                                )
                            ],
                        )
                        continue
                    auth = inc.request.headers.get("Authorization") or ""
                    assert 'username="alice"' in auth and 'realm="test"' in auth
                    return await inc.accept()
                raise AssertionError("no subscription")

            s = asyncio.ensure_future(serve())
            sub = await alice.subscribe(uri_of(bob), "presence")
            await s
            assert challenged == [1]
            assert (await next_notification(sub)).state == "active"

    run(main())


class EndpointOnUdp(abc.ABC):
    """A sans-IO Endpoint (accepting `presence`) on a loopback UDP socket; subclasses handle
    what it receives."""

    ep: Endpoint
    transport: asyncio.DatagramTransport

    async def start(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        me = self

        class Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
                me.received(data, (str(addr[0]), int(addr[1])))

        self.transport, _ = await loop.create_datagram_endpoint(Proto, local_addr=("127.0.0.1", 0))
        host, port = self.transport.get_extra_info("sockname")[:2]
        self.ep = Endpoint(host, port, events=["presence"])
        return host, port

    @abc.abstractmethod
    def received(self, data: bytes, source: tuple[str, int]) -> None: ...


class RawNotifier(EndpointOnUdp):
    """A notifier on the sans-IO Endpoint that challenges refreshes (401) and accepts them
    with credentials."""

    def __init__(self) -> None:
        self.ep = Endpoint("127.0.0.1", 0)
        self.refreshes: list[Request] = []

    def received(self, data: bytes, source: tuple[str, int]) -> None:
        now = asyncio.get_running_loop().time()
        ep = self.ep
        ep.receive(data, source, now)
        for ev in ep.events():
            req = ev.message
            if ev.kind != "subscribe" or ev.txn is None or not isinstance(req, Request):
                continue
            if ev.dialog is None:
                d = ep.respond(ev.txn, 200, now=now)
                assert d is not None
                ep.notify(d, "presence", "active", now=now)
                continue
            self.refreshes.append(req)
            if req.headers.get("Authorization") is None:
                challenge = 'Digest realm="n", nonce="r1", qop="auth"'
                ep.respond(ev.txn, 401, now=now, headers=[("WWW-Authenticate", challenge)])
            else:
                ep.respond(ev.txn, 200, now=now)
        for out, dest, _ in ep.transmit():
            self.transport.sendto(out, dest)


def test_refresh_answers_a_challenge() -> None:
    async def main() -> None:
        notifier = RawNotifier()
        host, port = await notifier.start()
        async with UserAgent(
            username="alice", password="secret", auth_hosts=["127.0.0.1"]
        ) as alice:
            sub = await alice.subscribe(f"sip:n@{host}:{port}", "presence", auto_refresh=False)
            assert (await next_notification(sub)).state == "active"
            r = await sub.refresh(300)
            assert r.status == 200 and r.expires == 300 and sub.expires == 300
            first, second = notifier.refreshes
            assert first.headers.get("Authorization") is None
            auth = second.headers.get("Authorization") or ""
            assert 'username="alice"' in auth and 'nonce="r1"' in auth
            assert second.cseq is not None and first.cseq is not None
            assert second.cseq.seq == first.cseq.seq + 1
        notifier.transport.close()

    run(main())


class Esc(EndpointOnUdp):
    """A small event state compositor (RFC 3903 §6) on the sans-IO Endpoint: entity tags,
    SIP-If-Match (412 when unknown), Expires with a floor (423), removal."""

    def __init__(self, min_expires: int = 0) -> None:
        self.ep = Endpoint("127.0.0.1", 0, events=["presence"])
        self.min_expires = min_expires
        self.entities: dict[str, bytes] = {}
        self.seen: list[Request] = []
        self.forget_next = False
        self.n = 0

    def received(self, data: bytes, source: tuple[str, int]) -> None:
        now = asyncio.get_running_loop().time()
        self.ep.receive(data, source, now)
        for ev in self.ep.events():
            if ev.kind == "request" and isinstance(ev.message, Request) and ev.txn is not None:
                self.publish(ev.txn, ev.message, now)
        for out, dest, _ in self.ep.transmit():
            self.transport.sendto(out, dest)

    def publish(self, txn: int, req: Request, now: float) -> None:
        self.seen.append(req)
        expires = req.expires if req.expires is not None else 3600
        if 0 < expires < self.min_expires:
            self.ep.respond(txn, 423, now=now, headers=[("Min-Expires", str(self.min_expires))])
            return
        match = req.headers.get("SIP-If-Match")
        if self.forget_next:
            self.forget_next = False
            self.entities.clear()
        if match is not None and match not in self.entities:
            self.ep.respond(txn, 412, now=now)
            return
        if match is None and not req.body:
            self.ep.respond(txn, 400, now=now)
            return
        body = req.body or self.entities.pop(match or "", b"")
        if match is not None:
            self.entities.pop(match, None)
        if expires == 0:
            self.ep.respond(txn, 200, now=now, headers=[("Expires", "0")])
            return
        self.n += 1
        tag = f"e{self.n}x"
        self.entities[tag] = body
        self.ep.respond(txn, 200, now=now, headers=[("SIP-ETag", tag), ("Expires", str(expires))])


def test_publish_refresh_modify_remove() -> None:
    async def main() -> None:
        esc = Esc()
        host, port = await esc.start()
        async with UserAgent() as alice:
            uri = f"sip:alice@{host}:{port}"
            pub = await alice.publish(uri, "presence", b"<open/>", PIDF, expires=60)
            assert pub.etag == "e1x" and pub.expires == 60
            first = esc.seen[-1]
            assert first.headers.get("SIP-If-Match") is None and first.body == b"<open/>"
            assert first.content_type == PIDF and first.headers.get("Event") == "presence"

            r = await pub.refresh()
            assert r.status == 200 and pub.etag == "e2x"
            refresh = esc.seen[-1]
            assert refresh.headers.get("SIP-If-Match") == "e1x" and refresh.body == b""
            assert esc.entities == {"e2x": b"<open/>"}

            await pub.modify(b"<closed/>")
            assert esc.seen[-1].headers.get("SIP-If-Match") == "e2x"
            assert esc.entities == {"e3x": b"<closed/>"} and pub.etag == "e3x"

            r = await pub.remove()
            assert r.status == 200 and pub.etag is None
            removal = esc.seen[-1]
            assert removal.expires == 0 and removal.headers.get("SIP-If-Match") == "e3x"
            assert esc.entities == {}
        esc.transport.close()

    run(main())


def test_publish_412_starts_over_and_423_retries() -> None:
    async def main() -> None:
        esc = Esc(min_expires=120)
        host, port = await esc.start()
        async with UserAgent() as alice:
            uri = f"sip:alice@{host}:{port}"
            pub = await alice.publish(uri, "presence", b"<open/>", PIDF, expires=60)
            # 423 Interval Too Brief: again with Min-Expires (RFC 3903 §6).
            assert [r.expires for r in esc.seen] == [60, 120]
            assert pub.expires == 120 and pub.etag == "e1x"

            # The ESC lost the entity: the refresh gets 412 and the full state goes again.
            esc.forget_next = True
            r = await pub.refresh()
            assert r.status == 200 and pub.etag == "e2x"
            lost, fresh = esc.seen[-2:]
            assert lost.headers.get("SIP-If-Match") == "e1x" and lost.body == b""
            assert fresh.headers.get("SIP-If-Match") is None and fresh.body == b"<open/>"
            assert esc.entities == {"e2x": b"<open/>"}

            # A package the ESC does not take: 489 from its endpoint.
            with pytest.raises(SubscriptionFailed) as e:
                await alice.publish(uri, "dialog", b"x", "application/dialog-info+xml")
            assert e.value.status == 489
        # Closing the agent removed the publication.
        assert esc.seen[-1].expires == 0 and esc.entities == {}
        esc.transport.close()

    run(main())


def test_publish_auto_refresh() -> None:
    async def main() -> None:
        esc = Esc()
        host, port = await esc.start()
        async with UserAgent() as alice:
            pub = await alice.publish(f"sip:a@{host}:{port}", "presence", b"<o/>", PIDF, expires=1)
            await asyncio.sleep(1.8)  # refreshed at 0.8 s and 1.6 s
            refreshes = [r for r in esc.seen if r.headers.get("SIP-If-Match")]
            assert len(refreshes) >= 2 and pub.etag == f"e{len(refreshes) + 1}x"
        esc.transport.close()

    run(main())
