"""Subscriptions (RFC 6665) and publications (RFC 3903) for :class:`sipwire.UserAgent`.

The endpoint in Rust makes the protocol decisions: which event packages are accepted (489
otherwise), which NOTIFY belongs to which subscription (481 otherwise), the dialog a 2xx to
SUBSCRIBE or an early NOTIFY makes, Expires in the 2xx, the Subscription-State of every
NOTIFY sent, when a subscription expires, and the SIP-ETag of a PUBLISH answer. This module
keeps the objects an application holds and the timers that refresh them::

    sub = await ua.subscribe("sip:bob@192.0.2.1", "presence")
    async for n in sub:
        print(n.state, n.body)

    async for inc in ua.subscriptions():       # UserAgent(events=("presence",))
        notifier = await inc.accept(body=doc, content_type="application/pidf+xml")
        await notifier.notify(new_doc, "application/pidf+xml")
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sipwire._sipwire import (
    EndpointEvent,
    LocalProtocolError,
    Request,
    Response,
    SipwireError,
)
from sipwire.ua.transport import Addr

if TYPE_CHECKING:
    from sipwire.ua.agent import UserAgent

Headers = Sequence[tuple[str, str]]
SubscriptionState = Literal["pending", "active", "terminated"]


class SubscriptionFailed(SipwireError):
    """A SUBSCRIBE or PUBLISH was refused: ``status`` (408 when no final response came),
    ``reason``, and ``response`` when one was received."""

    def __init__(self, status: int, reason: str, response: Response | None = None) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.response = response


def _refresh_delay(expires: int) -> float:
    # Ahead of expiry, like a registration (RFC 6665 §4.1.2.2 lets the subscriber choose).
    return max(expires * 0.8, expires - 30)


@dataclass(frozen=True)
class Notification:
    """A NOTIFY received for a :class:`Subscription`."""

    request: Request
    state: str
    body: bytes
    content_type: str | None
    expires: int | None
    reason: str | None


class Subscription:
    """A subscription this agent made (RFC 6665 §4.1): iterate it for the NOTIFYs, in
    arrival order, until it ends. Refreshed before it expires."""

    def __init__(
        self,
        ua: UserAgent,
        uri: str,
        event: str,
        expires: int,
        headers: Headers,
        call_id: str,
        auto_refresh: bool,
    ) -> None:
        self._ua = ua
        self.uri = uri
        self.event = event
        self.expires = expires
        self.state: SubscriptionState = "pending"
        self.reason: str | None = None
        self.dialog: int | None = None
        self.call_id = call_id
        self._headers = list(headers)
        self._auto = auto_refresh
        # Bounded (DESIGN §5): NOTIFYs beyond it are answered but dropped, and counted in
        # UserAgent.dropped["notifications"]; the end marker always fits.
        self._queue: asyncio.Queue[Notification | None] = asyncio.Queue(ua._queue_limit + 1)
        self._ended = asyncio.get_running_loop().create_future()
        self._notified: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._timer: asyncio.TimerHandle | None = None

    def __aiter__(self) -> AsyncIterator[Notification]:
        return self._notifications()

    async def _notifications(self) -> AsyncIterator[Notification]:
        while True:
            n = await self._queue.get()
            if n is None:
                self._queue.put_nowait(None)  # every other iterator ends too
                return
            yield n

    async def wait_terminated(self) -> None:
        """Returns once the subscription has ended (``state`` is ``"terminated"``)."""
        await asyncio.shield(self._ended)

    def _on_notify(self, ev: EndpointEvent, req: Request) -> None:
        state = ev.state or ""
        if ev.dialog is not None:
            self.dialog = ev.dialog
        if ev.expires is not None and state != "terminated":
            self.expires = ev.expires
            self._schedule(ev.expires)
        n = Notification(req, state, req.body, req.content_type, ev.expires, ev.reason)
        if self._queue.qsize() < self._ua._queue_limit:
            self._queue.put_nowait(n)
        else:
            self._ua.dropped["notifications"] += 1
        if not self._notified.done():
            self._notified.set_result(None)
        if state in ("active", "pending"):
            self.state = state  # type: ignore[assignment]
        elif state == "terminated":
            self._end(ev.reason or "terminated")

    def _end(self, reason: str) -> None:
        if self.state == "terminated":
            return
        self.state = "terminated"
        self.reason = reason
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._ua._subs._forget(self)
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
        if not self._ended.done():
            self._ended.set_result(None)

    def _schedule(self, expires: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._auto and expires > 0 and self.state != "terminated":
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(
                _refresh_delay(expires), lambda: self._ua._spawn(self._refresh_quietly())
            )

    async def _refresh_quietly(self) -> None:
        with contextlib.suppress(SipwireError):
            await self.refresh()

    async def refresh(self, expires: int | None = None) -> Response:
        """SUBSCRIBE in the dialog (RFC 6665 §4.1.2.2); returns the response. A 481 or
        408 ends the subscription; other failures leave it to run out."""
        if self.state == "terminated" or self.dialog is None:
            raise LocalProtocolError("the subscription has ended")
        want = self.expires if expires is None else expires
        headers = [("Event", self.event), ("Expires", str(want)), *self._headers]
        resp = await self._ua._subs._in_dialog(self.dialog, "SUBSCRIBE", headers)
        if 200 <= resp.status < 300:
            granted = resp.expires if resp.expires is not None else want
            if granted > 0:
                self.expires = granted
                self._schedule(granted)
        elif resp.status in (481, 408):
            self._end("dialog ended")
        return resp

    async def unsubscribe(self) -> None:
        """SUBSCRIBE with Expires: 0 (RFC 6665 §4.1.2.3), then waits for the final NOTIFY
        (the endpoint ends the subscription by itself 64·T1 later when none comes)."""
        if self.state == "terminated":
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            resp = await self.refresh(0)
        except SipwireError:
            self._end("unsubscribed")
            return
        if not 200 <= resp.status < 300:
            self._end("unsubscribed")
        await self.wait_terminated()


class Notifier:
    """This agent's side of a subscription it accepted (RFC 6665 §4.2): sends NOTIFYs and
    answers the subscriber's refreshes by itself (each with a NOTIFY, §4.2.1.2)."""

    def __init__(self, ua: UserAgent, dialog: int, event: str, request: Request) -> None:
        self._ua = ua
        self.dialog = dialog
        self.event = event
        self.request = request
        self.state: SubscriptionState = "pending"
        self.reason: str | None = None
        self._body = b""
        self._type: str | None = None
        self._ended = asyncio.get_running_loop().create_future()

    async def notify(
        self,
        body: bytes = b"",
        content_type: str | None = None,
        *,
        state: Literal["active", "pending"] = "active",
    ) -> Response:
        """A NOTIFY with the new state document (kept and sent again after refreshes)."""
        self._body, self._type = body, content_type
        return await self._send(state, None)

    async def terminate(
        self, reason: str = "noresource", *, body: bytes | None = None
    ) -> Response | None:
        """Ends the subscription with a terminated NOTIFY (RFC 6665 §4.2.2)."""
        if self.state == "terminated":
            return None
        return await self._send("terminated", reason, body)

    async def wait_terminated(self) -> None:
        """Returns once the subscription has ended (either side, or expiry)."""
        await asyncio.shield(self._ended)

    async def _send(
        self,
        state: Literal["active", "pending", "terminated"],
        reason: str | None,
        body: bytes | None = None,
    ) -> Response:
        if self.state == "terminated":
            raise LocalProtocolError("the subscription has ended")
        body = self._body if body is None else body
        headers = [("Content-Type", self._type)] if self._type and body else []
        ua = self._ua
        txn = ua._ep.notify(
            self.dialog,
            self.event,
            state,
            now=ua._now(),
            reason=reason,
            headers=headers,
            body=body,
        )
        if state == "terminated":
            self._end(reason or "terminated")
        else:
            self.state = state
        ev = await ua._wait(txn)
        resp = ev.message
        assert isinstance(resp, Response)
        if resp.status in (481, 408):
            self._end("dialog ended")
        return resp

    def _on_refresh(self, ev: EndpointEvent) -> None:
        ua = self._ua
        if ev.txn is None:
            return
        ua._respond(ev.txn, 200)
        if ev.expires == 0:
            # §4.2.1.4: an unsubscribe gets the final NOTIFY.
            ua._spawn(self._quietly("terminated", "timeout"))
        else:
            ua._spawn(self._quietly(self.state, None))

    async def _quietly(
        self, state: Literal["active", "pending", "terminated"], reason: str | None
    ) -> None:
        with contextlib.suppress(SipwireError):
            await self._send(state, reason)

    def _end(self, reason: str) -> None:
        if self.state == "terminated":
            return
        self.state = "terminated"
        self.reason = reason
        self._ua._subs._notifiers.pop((self.dialog, self.event), None)
        if not self._ended.done():
            self._ended.set_result(None)


class IncomingSubscription:
    """A SUBSCRIBE for an event package this agent declared: accept or reject it."""

    def __init__(self, ua: UserAgent, ev: EndpointEvent, request: Request) -> None:
        self._ua = ua
        self.txn = ev.txn or 0
        self.dialog = ev.dialog
        self.request = request
        self.event = ev.event or ""
        self.expires = ev.expires if ev.expires is not None else 0
        self.source = ev.source
        self._answered = False

    async def accept(
        self,
        expires: int | None = None,
        *,
        pending: bool = False,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Notifier:
        """200 (for ``expires`` seconds, default what the endpoint grants), then the
        immediate NOTIFY (RFC 6665 §4.2.1.2) with ``body``: ``pending`` or ``active``. A
        SUBSCRIBE with Expires: 0 (a fetch) gets its one terminated NOTIFY."""
        if self._answered:
            raise LocalProtocolError("the SUBSCRIBE was answered already")
        asked = self.request.expires
        if expires is not None and asked is not None and expires > asked:
            raise LocalProtocolError(
                f"expires={expires} would lengthen the {asked} s asked for; a notifier may "
                "only shorten it (RFC 6665 §4.2.1.1)"
            )
        self._answered = True
        ua = self._ua
        headers = [] if expires is None else [("Expires", str(expires))]
        dialog = ua._respond(self.txn, 200, headers=headers)
        if dialog is None:
            raise LocalProtocolError("the 200 made no dialog")
        n = Notifier(ua, dialog, self.event, self.request)
        n._body, n._type = body, content_type
        ua._subs._notifiers[(dialog, self.event)] = n
        granted = self.expires if expires is None else expires
        if granted == 0:
            ua._spawn(n._quietly("terminated", "timeout"))
        else:
            ua._spawn(n._quietly("pending" if pending else "active", None))
        return n

    async def reject(self, status: int = 403, *, headers: Headers = ()) -> None:
        """A final non-2xx (403 Forbidden by default)."""
        if status < 300:
            raise LocalProtocolError(f"reject needs a status of 300 or more, not {status}")
        if self._answered:
            raise LocalProtocolError("the SUBSCRIBE was answered already")
        self._answered = True
        self._ua._respond(self.txn, status, headers=headers)


class Publication:
    """Event state this agent published at an ESC (RFC 3903), under ``etag``; refreshed
    before it expires."""

    def __init__(
        self,
        ua: UserAgent,
        uri: str,
        event: str,
        body: bytes,
        content_type: str,
        expires: int,
        dest: Addr | None,
    ) -> None:
        self._ua = ua
        self.uri = uri
        self.event = event
        self.body = body
        self.content_type = content_type
        self.expires = expires
        self.etag: str | None = None
        self._dest = dest
        self._timer: asyncio.TimerHandle | None = None
        # One Call-ID, From tag and CSeq sequence per publication, like a registration.
        self._call_id = ua._ep.token()
        self._tag = ua._ep.token()
        self._cseq = 0

    async def _publish(self, body: bytes | None, expires: int) -> Response:
        """One PUBLISH and what its answer asks for (RFC 3903 §4): a 412 starts over with
        the full state and no SIP-If-Match, a 423 goes again with Min-Expires."""
        self._cancel()
        started_over = False
        retried = False
        while True:
            headers = [("Event", self.event), ("Expires", str(expires))]
            if self.etag is not None:
                headers.append(("SIP-If-Match", self.etag))
            if body:
                headers.append(("Content-Type", self.content_type))
            ev = await self._ua.request(
                "PUBLISH",
                self.uri,
                headers=headers,
                body=body or b"",
                dest=self._dest,
                call_id=self._call_id,
                tag=self._tag,
                cseq=self._cseq + 1,
            )
            resp = ev.message
            assert isinstance(resp, Response)
            self._cseq = resp.cseq.seq if resp.cseq is not None else self._cseq + 1
            if 200 <= resp.status < 300 and expires == 0:
                return resp  # removed: no entity tag left to name
            if 200 <= resp.status < 300:
                if ev.etag is None:
                    raise SubscriptionFailed(
                        resp.status, "2xx to PUBLISH without a SIP-ETag (RFC 3903 §6)", resp
                    )
                self.etag = ev.etag
                granted = ev.expires if ev.expires is not None else expires
                self.expires = granted
                if granted > 0:
                    self._timer = asyncio.get_running_loop().call_later(
                        _refresh_delay(granted), lambda: self._ua._spawn(self._auto())
                    )
                return resp
            if resp.status == 412 and self.etag is not None and not started_over:
                started_over = True
                self.etag = None
                body = self.body
                if expires == 0:
                    return resp  # removing what the ESC no longer has
                continue
            if resp.status == 423 and ev.expires is not None and not retried:
                retried = True
                expires = ev.expires
                continue
            raise SubscriptionFailed(resp.status, resp.reason, resp)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _auto(self) -> None:
        with contextlib.suppress(SipwireError):
            await self.refresh()

    async def refresh(self) -> Response:
        """PUBLISH without a body naming ``etag`` (RFC 3903 §4.2)."""
        return await self._publish(None, self.expires)

    async def modify(self, body: bytes, content_type: str | None = None) -> Response:
        """PUBLISH with the new state naming ``etag`` (RFC 3903 §4.3)."""
        self.body = body
        if content_type is not None:
            self.content_type = content_type
        return await self._publish(body, self.expires)

    async def remove(self) -> Response:
        """PUBLISH with Expires: 0 (RFC 3903 §4.4)."""
        self._cancel()
        resp = await self._publish(None, 0)
        self._cancel()
        self.etag = None
        self._ua._subs._publications.discard(self)
        return resp


class _Table:
    """The agent's subscriptions, notifiers and publications, and the endpoint events
    that concern them."""

    def __init__(self, ua: UserAgent, limit: int) -> None:
        self._ua = ua
        self._subs: dict[str, Subscription] = {}
        self._notifiers: dict[tuple[int, str], Notifier] = {}
        self._publications: set[Publication] = set()
        self._incoming: asyncio.Queue[IncomingSubscription] = asyncio.Queue(limit)

    def _forget(self, sub: Subscription) -> None:
        if self._subs.get(sub.call_id) is sub:
            del self._subs[sub.call_id]

    def dispatch(self, ev: EndpointEvent) -> bool:
        """Takes the events this module handles; True when taken."""
        kind = ev.kind
        if kind == "notify":
            req = ev.message
            if isinstance(req, Request) and ev.txn is not None:
                sub = self._subs.get(req.call_id or "")
                self._ua._respond(ev.txn, 200 if sub is not None else 481)
                if sub is not None:
                    sub._on_notify(ev, req)
            return True
        if kind == "subscribe":
            self._on_subscribe(ev)
            return True
        if kind == "subscription_expired":
            if ev.role == "notifier":
                n = self._notifiers.get((ev.dialog or 0, ev.event or ""))
                if n is not None:
                    n._end("timeout")
            else:
                for s in list(self._subs.values()):
                    if s.dialog == ev.dialog:
                        s._end("timeout")
            return True
        if kind == "dialog_terminated":
            for s in list(self._subs.values()):
                if s.dialog == ev.dialog:
                    s._end("dialog ended")
            for key, n in list(self._notifiers.items()):
                if key[0] == ev.dialog:
                    n._end("dialog ended")
        return False

    def _on_subscribe(self, ev: EndpointEvent) -> None:
        req = ev.message
        if not isinstance(req, Request) or ev.txn is None:
            return
        n = self._notifiers.get((ev.dialog, ev.event or "")) if ev.dialog is not None else None
        if n is not None:
            n._on_refresh(ev)
            return
        try:
            self._incoming.put_nowait(IncomingSubscription(self._ua, ev, req))
        except asyncio.QueueFull:
            self._ua._respond(ev.txn, 503)

    async def subscribe(
        self,
        uri: str,
        event: str,
        *,
        expires: int,
        accept: Sequence[str] | None,
        headers: Headers,
        dest: Addr | None,
        auto_refresh: bool,
    ) -> Subscription:
        ua = self._ua
        extra = list(headers)
        if accept:
            extra.append(("Accept", ", ".join(accept)))
        call_id = ua._ep.token()
        sub = Subscription(ua, uri, event, expires, extra, call_id, auto_refresh)
        # NOTIFYs may come before the 2xx (RFC 6665 §4.1.2.4): known by Call-ID from now on.
        self._subs[call_id] = sub
        asking = asyncio.ensure_future(
            ua.request(
                "SUBSCRIBE",
                uri,
                headers=[("Event", event), ("Expires", str(expires)), *extra],
                dest=dest,
                call_id=call_id,
            )
        )
        try:
            waits: set[asyncio.Future[Any]] = {asking, sub._notified}
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            asking.cancel()
            self._forget(sub)
            raise
        if not asking.done():
            # A NOTIFY came first: the subscription exists (§4.1.2.4); the 2xx, when it
            # comes, only confirms it.
            asking.add_done_callback(lambda t: t.cancelled() or t.exception())
            return sub
        try:
            ev = asking.result()
        except BaseException:
            self._forget(sub)
            raise
        resp = ev.message
        assert isinstance(resp, Response)
        if not 200 <= resp.status < 300 or ev.dialog is None:
            self._forget(sub)
            raise SubscriptionFailed(resp.status, resp.reason, resp)
        sub.dialog = ev.dialog
        granted = resp.expires if resp.expires is not None else expires
        if sub.state != "terminated":
            sub.expires = granted
            sub._schedule(granted)
        return sub

    async def publish(
        self,
        uri: str,
        event: str,
        body: bytes,
        content_type: str,
        expires: int,
        dest: Addr | None,
    ) -> Publication:
        pub = Publication(self._ua, uri, event, body, content_type, expires, dest)
        await pub._publish(body, expires)
        self._publications.add(pub)
        return pub

    async def incoming(self) -> AsyncIterator[IncomingSubscription]:
        while True:
            yield await self._incoming.get()

    async def _in_dialog(self, dialog: int, method: str, headers: Headers) -> Response:
        """A request in the dialog (the agent answers a 401/407 from a host its credentials
        are bound to)."""
        ev = await self._ua._in_dialog(dialog, method, headers=headers)
        resp = ev.message
        assert isinstance(resp, Response)
        return resp

    async def close(self) -> None:
        """Ends what this agent holds: unsubscribes, terminates, removes publications."""
        jobs: list[Awaitable[object]] = [s.unsubscribe() for s in list(self._subs.values())]
        jobs += [n.terminate() for n in list(self._notifiers.values())]
        jobs += [p.remove() for p in list(self._publications)]
        await asyncio.gather(*(asyncio.wait_for(j, 2.0) for j in jobs), return_exceptions=True)
