"""The asyncio user agent: sockets, timers and a friendly API around :class:`sipwire.Endpoint`,
which makes every protocol decision (transactions, dialogs, ACK, CANCEL, PRACK, 2xx
retransmission) in Rust.

The agent is one object on one event loop: received bytes go to the endpoint, whatever it
queued goes to the sockets, its events resolve the futures that ``register``, ``invite``,
``options`` ... wait on, and one timer handle follows the endpoint's next deadline. No
threads; any asyncio loop (uvloop too).

Against hostile peers (DESIGN §5): every request gets a final response whatever the
application does (the endpoint answers malformed ones, 488 goes to offers the agent's media
cannot answer, and an exception in a handler is logged, counted and answered 500, never
stopping the agent); every queue a peer fills is bounded and counts what it drops
(:attr:`UserAgent.dropped`); REFER needs the application's consent (``on_refer``) and
copies only allowlisted Refer-To headers; credentials answer only the challengers they were
bound to; transport failures are :class:`TransportFailed` at once, not a made-up 408.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import logging
import socket
import ssl
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union

from sipwire import sdp as sdpmod
from sipwire._addr import bracket
from sipwire._sipwire import (
    Endpoint,
    EndpointEvent,
    LocalProtocolError,
    Request,
    Response,
    SessionDescription,
    SipwireError,
    parse_challenge,
    parse_uri,
)
from sipwire.ua.auth import DigestClient
from sipwire.ua.memory import MemoryNetwork
from sipwire.ua.subscription import (
    IncomingSubscription,
    Publication,
    Subscription,
    _Table,
)
from sipwire.ua.transport import Addr, TcpTransport, Transport, open_transport

log = logging.getLogger("sipwire.ua")
_Q = TypeVar("_Q")

Headers = Sequence[tuple[str, str]]
CallState = Literal["early", "confirmed", "held", "ended"]

_ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, MESSAGE, SUBSCRIBE"
# RFC 4733 DTMF events 0-9 * # A-D, as application/dtmf-relay signals.
_DTMF = "0123456789*#ABCD"


class CallFailed(SipwireError):
    """An INVITE ended without a 2xx: ``status`` (408 when no final response came) and
    ``reason``; ``response`` when one was received."""

    def __init__(self, status: int, reason: str, response: Response | None = None) -> None:
        super().__init__(f"call failed: {status} {reason}")
        self.status = status
        self.reason = reason
        self.response = response


class SipTimeout(SipwireError):
    """A request got no final response (Timer B/F, RFC 3261 §17.1), or an in-dialog INVITE
    got none within ``reinvite_timeout`` after a provisional (it was cancelled)."""


class TransportFailed(SipwireError):
    """The request could not reach its destination: an ICMP error on UDP, a refused, reset or
    timed-out connection, a TLS failure, or a name that does not resolve (RFC 3261 §18.4).
    Reported at once, and distinct from a peer's 408. ``dest`` and ``reason`` say what."""

    def __init__(self, dest: str, reason: str) -> None:
        super().__init__(f"cannot reach {dest}: {reason}")
        self.dest = dest
        self.reason = reason


class AgentClosed(SipwireError):
    """The agent closed while the request was waiting."""


@dataclass
class Refer:
    """A REFER the peer sent in a call (RFC 3515): ``target`` is the Refer-To URI, ``headers``
    those of its ``?`` part the agent would copy into the INVITE (an allowlist: Replaces),
    ``dropped`` the names it would not copy (RFC 3261 §19.1.5)."""

    call: Call
    target: str
    headers: list[tuple[str, str]]
    dropped: list[str]
    request: Request


#: Decides a REFER: True follows it (202, then the INVITE), False declines it (603).
ReferPolicy = Callable[[Refer], Union[bool, Awaitable[bool]]]


def _put(queue: asyncio.Queue[_Q], item: _Q, dropped: Counter[str], what: str) -> bool:
    """Puts without waiting; a full queue drops the item and counts it (DESIGN §5)."""
    try:
        queue.put_nowait(item)
        return True
    except asyncio.QueueFull:
        dropped[what] += 1
        return False


@dataclass
class _Pending:
    future: asyncio.Future[EndpointEvent | None]
    provisional: Callable[[EndpointEvent], None] | None = None


@dataclass
class Registration:
    """A binding at a registrar (RFC 3261 §10), refreshed before it expires."""

    registrar: str
    aor: str
    expires: int
    bindings: list[str]
    call_id: str
    cseq: int
    tag: str = ""
    #: The last refresh's failure (None once one succeeds) and how many in a row.
    error: SipwireError | None = None
    failures: int = 0
    _refresh: asyncio.Task[None] | None = field(default=None, repr=False)


class Call:
    """An established call (a confirmed INVITE dialog)."""

    def __init__(
        self,
        ua: UserAgent,
        dialog: int,
        *,
        local_sdp: SessionDescription | None,
        remote_sdp: SessionDescription | None,
        peer: Addr,
        request: Request | None = None,
    ) -> None:
        self._ua = ua
        self.dialog = dialog
        self.local_sdp = local_sdp
        self.remote_sdp = remote_sdp
        self.peer = peer
        self.request = request
        self.state: CallState = "confirmed"
        #: The call that took this one's place (RFC 3891 Replaces), once answered.
        self.replaced_by: Call | None = None
        #: DTMF digits the peer sent (INFO), bounded by ``queue_limit``: more are dropped
        #: and counted in ``UserAgent.dropped["dtmf"]``.
        self.dtmf_received: asyncio.Queue[str] = asyncio.Queue(ua._queue_limit)
        self._ended = asyncio.get_running_loop().create_future()
        self._notify: asyncio.Queue[int] = asyncio.Queue(ua._queue_limit)
        self._call_id: str | None = None
        _ = self.call_id  # the dialog exists now: remember its Call-ID

    @property
    def call_id(self) -> str | None:
        """The dialog's Call-ID; kept once read, so it is still there after the call ended
        and the endpoint forgot the dialog."""
        if self._call_id is None:
            d = self._ua._ep.dialog(self.dialog)
            self._call_id = d.call_id if d is not None else None
        return self._call_id

    def _end(self) -> None:
        self.state = "ended"
        if not self._ended.done():
            self._ended.set_result(None)

    async def wait_ended(self) -> None:
        """Returns when the call has ended (BYE either way, or the dialog failed)."""
        await asyncio.shield(self._ended)

    @property
    def session_timer(self) -> tuple[int, bool] | None:
        """The negotiated session timer (RFC 4028): (interval in seconds, this side
        refreshes), or None."""
        return self._ua._ep.session_timer(self.dialog)

    async def reinvite(self, sdp: SessionDescription | None = None) -> Response:
        """A re-INVITE: with ``sdp`` as a new offer; without, offerless (RFC 3261 §14.1,
        RFC 3264 §5): the peer offers in its 200 and the agent answers in the ACK from its
        media. Returns the final response."""
        if self.state == "ended":
            raise LocalProtocolError("the call has ended")
        offer = sdp
        body = bytes(offer) if offer is not None else b""
        headers = [("Content-Type", "application/sdp")] if offer is not None else []
        ev = await self._ua._in_dialog(
            self.dialog, "INVITE", headers=headers, body=body, limit=self._ua._reinvite_timeout
        )
        resp = ev.message
        assert isinstance(resp, Response)
        if 200 <= resp.status < 300:
            if offer is not None:
                self.local_sdp = offer
                self.remote_sdp = resp.sdp or self.remote_sdp
            elif resp.sdp is not None and ev.txn is not None:
                self.remote_sdp = resp.sdp
                self.local_sdp = self._ua._ack_with_answer(ev.txn, self.dialog, resp.sdp)
        return resp

    async def _refresh_session(self) -> None:
        # RFC 4028 §7.4: a re-INVITE with the session as it is refreshes it.
        with contextlib.suppress(SipwireError):
            if self.local_sdp is not None:
                await self.reinvite(self.local_sdp)
            else:
                await self._ua._in_dialog(self.dialog, "UPDATE")

    async def hold(self, *, style: Literal["sendonly", "inactive"] = "sendonly") -> Response:
        """Puts the call on hold with a re-INVITE (RFC 3264 §8.4): sendonly (or inactive)."""
        if self.local_sdp is None:
            raise LocalProtocolError("the call has no local SDP to put on hold")
        held = sdpmod.hold(self.local_sdp, style=style)
        resp = await self.reinvite(held)
        if 200 <= resp.status < 300:
            self.state = "held"
        return resp

    async def unhold(self) -> Response:
        """Takes the call off hold with a re-INVITE (sendrecv)."""
        if self.local_sdp is None:
            raise LocalProtocolError("the call has no local SDP to resume")
        resp = await self.reinvite(sdpmod.resume(self.local_sdp))
        if 200 <= resp.status < 300:
            self.state = "confirmed"
        return resp

    async def update(self, sdp: SessionDescription) -> Response:
        """A new offer in UPDATE (RFC 3311): allowed before the call is answered too."""
        ev = await self._ua._in_dialog(
            self.dialog,
            "UPDATE",
            headers=[("Content-Type", "application/sdp")],
            body=bytes(sdp),
        )
        resp = ev.message
        assert isinstance(resp, Response)
        if 200 <= resp.status < 300:
            self.local_sdp = sdp
            self.remote_sdp = resp.sdp or self.remote_sdp
        return resp

    async def send_dtmf(self, digits: str, *, duration: int = 160) -> None:
        """Sends each digit as INFO with application/dtmf-relay, one after the other."""
        for d in digits.upper():
            if d not in _DTMF:
                raise LocalProtocolError(f"{d!r} is not a DTMF digit (0-9, *, #, A-D)")
            body = f"Signal={d}\r\nDuration={duration}\r\n".encode()
            ev = await self._ua._in_dialog(
                self.dialog,
                "INFO",
                headers=[("Content-Type", "application/dtmf-relay")],
                body=body,
            )
            resp = ev.message
            assert isinstance(resp, Response)
            if resp.status >= 300:
                raise CallFailed(resp.status, resp.reason, resp)

    async def transfer(self, target: str | Call, *, timeout: float = 32.0) -> int:
        """Transfers the peer (RFC 3515 REFER) to ``target``: a URI (blind transfer), or
        another call of this agent (attended transfer, RFC 5589: the peer calls that call's
        party with Replaces, RFC 3891, which ends that call). Returns the final status the
        transferee reports in its NOTIFY sipfrag (or the REFER's own failure status)."""
        if isinstance(target, Call):
            d = self._ua._ep.dialog(target.dialog)
            if d is None:
                raise LocalProtocolError("the call to transfer to has ended")
            # At the target, to-tag is its own tag: this side's remote tag (RFC 3891 §3).
            replaces = f"{d.call_id};to-tag={d.remote_tag};from-tag={d.local_tag}"
            sep = "&" if "?" in d.remote_target else "?"
            quoted = urllib.parse.quote(replaces, safe="")
            refer_to = f"{d.remote_target}{sep}Replaces={quoted}"
        else:
            refer_to = target
        ev = await self._ua._in_dialog(
            self.dialog,
            "REFER",
            headers=[("Refer-To", f"<{refer_to}>"), ("Referred-By", self._ua._ep.contact)],
        )
        resp = ev.message
        assert isinstance(resp, Response)
        if resp.status >= 300:
            return resp.status
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                status = await asyncio.wait_for(self._notify.get(), deadline - loop.time())
            except asyncio.TimeoutError:
                raise SipTimeout(
                    f"no final NOTIFY of the transfer within {timeout:g} s (RFC 3515 §2.4.5)"
                ) from None
            if status >= 200:
                return status

    async def hangup(self) -> None:
        """Ends the call with BYE (the dialog ends at once, RFC 3261 §15.1.1)."""
        if self.state == "ended":
            return
        self._end()
        with contextlib.suppress(SipTimeout, SipwireError):
            await self._ua._in_dialog(self.dialog, "BYE")


class IncomingCall:
    """An INVITE received outside a dialog: ring, answer or reject it."""

    def __init__(
        self,
        ua: UserAgent,
        txn: int,
        request: Request,
        source: Addr,
        replaces: Call | None = None,
    ) -> None:
        self._ua = ua
        self.txn = txn
        self.request = request
        self.source = source
        #: The call this INVITE replaces (RFC 3891): answering it hangs that call up.
        self.replaces = replaces
        self.cancelled = asyncio.get_running_loop().create_future()
        self._early: SessionDescription | None = None
        #: The agent's answer to the offer, made when the INVITE arrived (or None).
        self._answer: SessionDescription | None = None

    @property
    def supports_100rel(self) -> bool:
        """The caller accepts reliable provisional responses (RFC 3262)."""
        h = self.request.headers
        listed = ",".join(h.getall("Supported") + h.getall("Require"))
        return "100rel" in [t.strip().lower() for t in listed.split(",")]

    async def ring(self, *, reliable: bool = False) -> None:
        """180 Ringing; ``reliable`` sends it reliably (RFC 3262: resent until the caller's
        PRACK) when the caller supports 100rel. :class:`CallFailed` (487) when the caller
        cancelled meanwhile."""
        self._open()
        self._ua._respond(self.txn, 180, reliable=reliable and self.supports_100rel)

    def _open(self) -> None:
        """Raises CallFailed when the INVITE can take no more responses: the caller
        cancelled it (or it was answered, or a timer ended it)."""
        if self.cancelled.done():
            raise CallFailed(487, "Request Terminated")
        if self._ua._ep.transaction_state(self.txn) not in ("trying", "proceeding"):
            raise CallFailed(487, "the INVITE transaction is over")

    async def progress(
        self, sdp: SessionDescription | None = None, *, reliable: bool = False
    ) -> None:
        """183 Session Progress with early media: ``sdp`` (default: an answer to the offer
        from the agent's media), reliably when asked and the caller supports 100rel."""
        self._open()
        local = sdp if sdp is not None else self._answer
        body = bytes(local) if local is not None else b""
        headers = [("Content-Type", "application/sdp")] if local is not None else []
        self._early = local
        self._ua._respond(
            self.txn,
            183,
            headers=headers,
            body=body,
            reliable=reliable and self.supports_100rel,
        )

    async def answer(self, sdp: SessionDescription | None = None) -> Call:
        """200 OK with ``sdp`` (default: an answer to the offer from the agent's media; an
        offer when the INVITE had none, answered in the ACK). A call this one replaces is
        hung up."""
        self._open()
        offer = self.request.sdp
        # The answer given in early media stands (RFC 3264: one answer per offer).
        local = sdp if sdp is not None else self._early or self._answer
        body = bytes(local) if local is not None else b""
        headers = [("Content-Type", "application/sdp")] if local is not None else []
        dialog = self._ua._respond(self.txn, 200, headers=headers, body=body)
        if dialog is None:
            raise CallFailed(500, "the 200 made no dialog (the dialog table is full?)")
        call = Call(
            self._ua,
            dialog,
            local_sdp=local,
            remote_sdp=offer,
            peer=self.source,
            request=self.request,
        )
        self._ua._calls[dialog] = call
        old = self.replaces
        if old is not None and old.state != "ended":
            old.replaced_by = call
            self._ua._spawn(old.hangup())
        return call

    async def reject(self, status: int = 486, *, headers: Headers = ()) -> None:
        """A final non-2xx (486 Busy Here by default)."""
        if not 300 <= status <= 699:
            raise LocalProtocolError(f"reject needs a status of 300 to 699, not {status}")
        # Idempotent: an INVITE answered already, cancelled or gone is left as it is.
        if not self.cancelled.done() and self._ua._ep.transaction_state(self.txn) in (
            "trying",
            "proceeding",
        ):
            self._ua._respond(self.txn, status, headers=headers)

    async def redirect(self, *targets: str, status: int = 302) -> None:
        """A 3xx sending the caller to ``targets`` (Contact URIs, in preference order)."""
        if not 300 <= status < 400 or not targets:
            raise LocalProtocolError("redirect needs a 3xx status and at least one target")
        n = len(targets)
        contacts = [("Contact", f"<{t}>;q={1 - i / (n + 1):.2f}") for i, t in enumerate(targets)]
        await self.reject(status, headers=contacts)


# The only Refer-To headers copied into the INVITE (RFC 3891 §5 Replaces; RFC 3261 §19.1.5:
# Route, Record-Route, credentials, identities, Require and the like are not to be honoured).
REFER_HEADERS = frozenset({"replaces"})


def _refer_target(value: str) -> tuple[str, list[tuple[str, str]], list[str]]:
    """A Refer-To value's URI, the allowlisted headers its ``?`` part asks for (RFC 3261
    §19.1.5, RFC 3891 §5: ``Replaces=...`` escaped), and the names of the others."""
    v = value.strip()
    if "<" in v:
        v = v.split("<", 1)[1].split(">", 1)[0]
    uri, _, query = v.partition("?")
    headers: list[tuple[str, str]] = []
    dropped: list[str] = []
    for part in query.split("&")[:16] if query else []:
        name, _, val = part.partition("=")
        name = urllib.parse.unquote(name).strip()
        value_ = urllib.parse.unquote(val)
        if not name:
            continue
        if name.lower() in REFER_HEADERS and not any(c in value_ for c in "\r\n\0"):
            headers.append((name, value_))
        else:
            dropped.append(name[:64])
    return uri, headers, dropped


def _stale(resp: Response) -> bool:
    """A challenge says the nonce went stale (RFC 2617 §3.2.1): answer again with the new
    one, the credentials were right."""
    for name in ("WWW-Authenticate", "Proxy-Authenticate"):
        for c in resp.headers.getall(name):
            with contextlib.suppress(ValueError):
                if parse_challenge(c, strict=False)[1].get("stale", "").lower() == "true":
                    return True
    return False


def _warning(host: str, text: str) -> str:
    """A Warning value (RFC 3261 §20.43) from this agent: its warn-agent is a hostport."""
    clean = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else "'" for c in text)
    return f'399 {bracket(host)} "{clean[:200]}"'


def _rejects_all(answer: SessionDescription) -> bool:
    """An answer that refuses every stream (port 0, RFC 3264 §6): nothing in common."""
    return bool(answer.media) and all(md.port == 0 for md in answer.media)


def _holds(sdp: SessionDescription) -> bool:
    """The peer's SDP puts the call on hold: every stream sendonly or inactive."""
    return bool(sdp.media) and all(md.direction in ("sendonly", "inactive") for md in sdp.media)


def _delta(value: str | None) -> int | None:
    """The delta-seconds at the start of a Min-SE or Session-Expires value."""
    if value is None:
        return None
    head = value.split(";", 1)[0].strip()
    return int(head) if head.isdigit() else None


def _tls_contexts(
    cert: str | None, key: str | None, ca: str | None
) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """The server context (this side's certificate) and the client context (peers verified
    against ``ca``, or the system's authorities; host names or IP addresses checked)."""
    if cert is None:
        raise LocalProtocolError("transport 'tls' needs tls_cert (and tls_key unless in it)")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    # A client certificate too, for peers that ask for mutual TLS (RFC 5630 §3.1.3).
    client.load_cert_chain(cert, key)
    return server, client


class UserAgent:
    """An asyncio SIP user agent on one local address (UDP, TCP, or TLS with ``tls_cert``,
    ``tls_key`` and ``tls_ca``)::

        async with sipwire.UserAgent(port=5062) as ua:
            call = await ua.invite("sip:bob@127.0.0.1:5060")
            await call.hold(); await call.unhold(); await call.hangup()

    ``username``/``password`` answer 401/407 challenges (the strongest offered, RFC 8760)
    only from ``auth_hosts`` (and the registrars given to :meth:`register`) and, when given,
    for ``auth_realms``: never to any host that challenges. ``on_refer`` decides REFERs
    (RFC 3515): without it they are declined with 603. ``queue_limit`` bounds every queue a
    peer fills (DTMF, NOTIFYs, transferred calls; drops counted in :attr:`dropped`);
    ``reinvite_timeout`` bounds an in-dialog INVITE after its provisional (CANCEL, then
    :class:`SipTimeout`). TCP/TLS: ``max_connections`` peers may open, closed after
    ``idle_timeout``; ``connect_timeout`` for the ones this side opens. ``media_port``
    is the RTP port written in default offers and answers (no media is sent: the agreed
    endpoints and codecs are in ``Call.remote_sdp``). ``session_expires``/``min_se``:
    session timers (RFC 4028; the endpoint negotiates, the agent refreshes). ``events``
    are the event packages this agent accepts subscriptions to (RFC 6665; others get 489
    Bad Event). ``network``: a :class:`sipwire.ua.MemoryNetwork` instead of sockets
    (tests, simulations).
    """

    def __init__(
        self,
        *,
        transport: Literal["udp", "tcp", "tls"] = "udp",
        host: str = "127.0.0.1",
        port: int = 0,
        user: str = "sipwire",
        tls_cert: str | None = None,
        tls_key: str | None = None,
        tls_ca: str | None = None,
        username: str | None = None,
        password: str | None = None,
        media_port: int = 40000,
        codecs: Sequence[str] = ("PCMU/8000", "PCMA/8000", "telephone-event/8000"),
        t1: float = 0.5,
        seed: int | None = None,
        incoming_limit: int = 1000,
        max_transactions: int = 16384,
        max_dialogs: int = 16384,
        session_expires: int | None = None,
        min_se: int = 90,
        network: MemoryNetwork | None = None,
        events: Sequence[str] = (),
        auth_hosts: Sequence[str] = (),
        auth_realms: Sequence[str] = (),
        on_refer: ReferPolicy | None = None,
        queue_limit: int = 256,
        reinvite_timeout: float = 32.0,
        max_connections: int = 1024,
        idle_timeout: float = 300.0,
        connect_timeout: float = 5.0,
    ) -> None:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise LocalProtocolError(
                "host must be this machine's IP address (it goes into Via and Contact), "
                f"not {host!r}"
            ) from None
        if network is not None and transport != "udp":
            raise LocalProtocolError("an in-memory network carries datagrams: use transport 'udp'")
        self._network = network
        self._kind = transport
        self._tls = None
        if transport == "tls":
            self._tls = _tls_contexts(tls_cert, tls_key, tls_ca)
        self._host, self._port = host, port
        self._user = user
        self._auth_names = list(auth_hosts)
        self._auth_realms = frozenset(auth_realms)
        self._auth = (
            DigestClient(username, password or "", self._auth_realms, set()) if username else None
        )
        self._on_refer = on_refer
        self._refers = 0  # REFER decisions waiting on on_refer
        self._queue_limit = queue_limit
        self._reinvite_timeout = reinvite_timeout
        self._stream_options = (max_connections, idle_timeout, connect_timeout)
        #: What the agent dropped or refused because a peer sent too much or something
        #: wrong: queue overflows ("dtmf", "notify", "transferred"), "handler_errors",
        #: "refer_declined", "challenge_refused", "unparsable".
        self.dropped: Counter[str] = Counter()
        self._closed = False
        self._media_port = media_port
        self._codecs = list(codecs)
        self._t1 = t1
        self._seed = seed
        self._limits = (max_transactions, max_dialogs)
        self._session = (session_expires, min_se)
        self._transport: Transport | None = None
        self._ep_: Endpoint | None = None
        self._pending: dict[int, _Pending] = {}
        self._calls: dict[int, Call] = {}
        self._incoming: asyncio.Queue[IncomingCall] = asyncio.Queue(incoming_limit)
        self._invites: dict[int, IncomingCall] = {}
        self.messages: asyncio.Queue[Request] = asyncio.Queue(incoming_limit)
        self._registrations: list[Registration] = []
        self._events = list(events)
        self._subs = _Table(self, incoming_limit)
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._transferred: asyncio.Queue[Call] = asyncio.Queue(queue_limit)
        # re-INVITEs answered 491: the transaction of their retry (RFC 3261 §14.1).
        self._glare: dict[int, asyncio.Future[tuple[int, _Pending]]] = {}
        self._glare_seen: dict[int, tuple[int, _Pending]] = {}
        # Why the last destination failed (for TransportFailed).
        self._last_why = "unreachable"
        # Where each request went (host:port), for TransportFailed.
        self._last_dest: dict[int, str] = {}

    # --- life cycle ----------------------------------------------------------------------

    async def __aenter__(self) -> UserAgent:
        self._loop = asyncio.get_running_loop()
        self._closing = self._loop.create_future()
        if self._network is not None:
            self._transport = self._network.attach(self._host, self._port, self._received)
        else:
            conns, idle, connect = self._stream_options
            self._transport = await open_transport(
                self._kind,
                self._host,
                self._port,
                self._received,
                self._tls,
                on_unreachable=self._unreachable,
                max_connections=conns,
                idle_timeout=idle,
                connect_timeout=connect,
            )
        if self._auth is not None and self._auth.hosts is not None:
            for name in self._auth_names:
                self._auth.hosts.update(await self._addresses(name))
        host, port = self._transport.local_address
        self._ep_ = Endpoint(
            host,
            port,
            self._kind,
            user=self._user,
            seed=self._seed,
            t1=self._t1,
            max_transactions=self._limits[0],
            max_dialogs=self._limits[1],
            session_expires=self._session[0],
            min_se=self._session[1],
            events=self._events,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Hangs up every call, removes every registration, closes the socket; whatever
        still waits (a request, ``incoming()``) ends with :class:`AgentClosed`."""
        if self._transport is None:
            return
        for call in list(self._calls.values()):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(call.hangup(), 2.0)
        for reg in list(self._registrations):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.unregister(reg), 2.0)
        await self._subs.close()
        self._closed = True
        for t in list(self._tasks):
            t.cancel()
        if self._timer is not None:
            self._timer.cancel()
        await self._transport.close()
        self._transport = None
        # Nothing is left waiting for an answer that cannot come.
        for p in list(self._pending.values()):
            if not p.future.done():
                p.future.set_exception(AgentClosed("the user agent closed"))
        self._pending.clear()
        for g in list(self._glare.values()):
            if not g.done():
                g.set_exception(AgentClosed("the user agent closed"))
        for call in list(self._calls.values()):
            call._end()
        if not self._closing.done():
            self._closing.set_result(None)

    @property
    def _ep(self) -> Endpoint:
        if self._ep_ is None:
            raise LocalProtocolError("use the UserAgent inside 'async with'")
        return self._ep_

    @property
    def local_address(self) -> tuple[str, int]:
        if self._transport is None:
            raise LocalProtocolError("use the UserAgent inside 'async with'")
        return self._transport.local_address

    @property
    def endpoint(self) -> Endpoint:
        """The sans-IO core this agent drives."""
        return self._ep

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    # --- the driver loop -----------------------------------------------------------------

    def _now(self) -> float:
        return self._loop.time()

    def _received(self, data: bytes, source: Addr) -> None:
        if self._ep_ is None:
            return
        # Bytes that do not parse are counted (a request among them answered 400 by the
        # endpoint when it can be) and change nothing.
        if not self._ep_.receive(data, source, self._now()):
            self.dropped["unparsable"] += 1
        self._pump()

    def _unreachable(self, dest: Addr, reason: str) -> None:
        # An ICMP error or a failed connection (§18.4): the transactions to it fail now.
        if self._ep_ is None:
            return
        self._last_why = reason
        self._ep_.unreachable(dest, now=self._now())
        self._pump()

    def _pump(self) -> None:
        ep = self._ep
        try:
            while True:
                out = ep.transmit()
                events = ep.events()
                if not out and not events:
                    break
                if self._transport is not None:
                    for data, dest, _ in out:
                        try:
                            self._transport.send(data, dest)
                        except OSError as e:
                            self._last_why = str(e)
                            ep.unreachable(dest, now=self._now())
                for ev in events:
                    try:
                        self._dispatch(ev)
                    except Exception:
                        # Application code or a handler failed: logged and counted, and
                        # the request still answered (DESIGN §5); the rest goes on.
                        self.dropped["handler_errors"] += 1
                        log.exception("sipwire: handling %r failed", ev)
                        self._answer_failed(ev)
        finally:
            d = ep.next_deadline()
            if d != self._deadline:
                if self._timer is not None:
                    self._timer.cancel()
                self._deadline = d
                self._timer = self._loop.call_at(d, self._fire) if d is not None else None

    def _answer_failed(self, ev: EndpointEvent) -> None:
        """A request whose handling raised gets 500 if nothing answered it yet."""
        if ev.kind not in ("request", "subscribe", "notify") or ev.txn is None:
            return
        if self._ep.transaction_state(ev.txn) in ("trying", "proceeding"):
            with contextlib.suppress(SipwireError):
                self._ep.respond(ev.txn, 500, now=self._now())

    def _fire(self) -> None:
        self._timer = None
        self._deadline = None
        if self._ep_ is not None:
            self._ep_.tick(self._now())
            self._pump()

    def _dispatch(self, ev: EndpointEvent) -> None:
        if self._subs.dispatch(ev):
            return
        kind = ev.kind
        if kind == "response" and ev.txn is not None:
            p = self._pending.get(ev.txn)
            msg = ev.message
            if p is None or not isinstance(msg, Response):
                return
            if msg.status < 200:
                if p.provisional is not None:
                    p.provisional(ev)
            elif not p.future.done():
                p.future.set_result(ev)
        elif kind in ("timeout", "transport_error") and ev.txn is not None:
            p = self._pending.pop(ev.txn, None)
            if p is not None and not p.future.done():
                p.future.set_result(ev if kind == "transport_error" else None)
        elif kind == "transaction_terminated" and ev.txn is not None:
            p = self._pending.pop(ev.txn, None)
            if p is not None and not p.future.done():
                p.future.set_result(None)
            self._invites.pop(ev.txn, None)
        elif kind == "request":
            self._on_request(ev)
        elif kind == "cancelled" and ev.txn is not None:
            inc = self._invites.pop(ev.txn, None)
            if inc is not None and not inc.cancelled.done():
                inc.cancelled.set_result(None)
        elif kind == "glare_retry" and ev.old_txn is not None and ev.txn is not None:
            # Wait for the retry's answer from now on, whoever asks for it later.
            retry = _Pending(self._loop.create_future())
            self._pending[ev.txn] = retry
            waiter = self._glare.pop(ev.old_txn, None)
            if waiter is not None and not waiter.done():
                waiter.set_result((ev.txn, retry))
            else:
                self._glare_seen[ev.old_txn] = (ev.txn, retry)
        elif kind == "ack" and ev.dialog is not None:
            # The answer to the offer this side put in its 2xx (RFC 3264 §5).
            call = self._calls.get(ev.dialog)
            sdp = ev.message.sdp if isinstance(ev.message, Request) else None
            if call is not None and sdp is not None:
                call.remote_sdp = sdp
                call.state = "held" if _holds(sdp) else "confirmed"
        elif kind == "session_refresh" and ev.dialog is not None:
            call = self._calls.get(ev.dialog)
            if call is not None:
                self._spawn(call._refresh_session())
        elif kind in ("bye", "dialog_terminated", "no_ack", "session_expired") and (
            ev.dialog is not None
        ):
            call = self._calls.pop(ev.dialog, None)
            if call is not None:
                call._end()

    # --- requests this side sends --------------------------------------------------------

    async def _addresses(self, host: str) -> set[str]:
        """The IP addresses of a host (itself when it is one); empty when it does not
        resolve."""
        h = host.strip("[]")
        try:
            ipaddress.ip_address(h)
            return {h}
        except ValueError:
            pass
        try:
            infos = await self._loop.getaddrinfo(h, None, type=socket.SOCK_DGRAM)
        except OSError:
            return set()
        return {str(i[4][0]) for i in infos}

    async def _dest(self, uri: str, dest: Addr | None) -> Addr:
        if dest is not None:
            return dest
        u = parse_uri(uri, strict=False)
        host = u.host or ""
        default = 5061 if u.scheme == "sips" else 5060
        try:
            ipaddress.ip_address(host.strip("[]"))
            return (host.strip("[]"), u.port or default)
        except ValueError:
            pass
        try:
            infos = await self._loop.getaddrinfo(host, u.port or default, type=socket.SOCK_DGRAM)
        except OSError as e:
            # RFC 3263 found nothing: a transport failure, not a 408.
            raise TransportFailed(host, f"name does not resolve ({e})") from None
        addr = infos[0][4]
        found = (str(addr[0]), int(addr[1]))
        if isinstance(self._transport, TcpTransport):
            # TLS checks the certificate against the SIP domain (RFC 5922 §3.1).
            self._transport.name(found, host)
        return found

    async def _wait(
        self,
        txn: int,
        provisional: Callable[[EndpointEvent], None] | None = None,
        *,
        limit: float | None = None,
    ) -> EndpointEvent:
        """The final response of ``txn``. ``limit``: at most this long after the first
        provisional (an INVITE is cancelled then, RFC 3261 §9.1), like a proxy's Timer C."""
        if self._closed:
            raise AgentClosed("the user agent closed")
        fut: asyncio.Future[EndpointEvent | None] = self._loop.create_future()
        started: list[float] = []

        def prov(ev: EndpointEvent) -> None:
            if not started:
                started.append(self._loop.time())
            if provisional is not None:
                provisional(ev)

        self._pending[txn] = _Pending(fut, prov)
        self._pump()
        try:
            if limit is None:
                ev = await fut
            else:
                while True:
                    try:
                        ev = await asyncio.wait_for(asyncio.shield(fut), limit)
                        break
                    except asyncio.TimeoutError:
                        if not started or self._loop.time() - started[0] < limit:
                            continue
                        with contextlib.suppress(SipwireError):
                            self._ep.cancel(txn, now=self._now())
                        self._pump()
                        raise SipTimeout(
                            f"no final response to transaction {txn} within {limit:g} s of "
                            "its provisional: cancelled"
                        ) from None
        finally:
            self._pending.pop(txn, None)
            dest = self._last_dest.pop(txn, "the next hop")
        if ev is None:
            raise SipTimeout(f"no final response to transaction {txn} (RFC 3261 Timer B/F)")
        if ev.kind == "transport_error":
            raise TransportFailed(dest, self._last_why)
        return ev

    async def request(
        self,
        method: str,
        uri: str,
        *,
        headers: Headers = (),
        body: bytes = b"",
        dest: Addr | None = None,
        to: str | None = None,
        from_: str | None = None,
        tag: str | None = None,
        call_id: str | None = None,
        cseq: int = 1,
        provisional: Callable[[EndpointEvent], None] | None = None,
        _started: Callable[[int], None] | None = None,
    ) -> EndpointEvent:
        """Sends any request outside a dialog and returns the final response's event,
        answering a 401/407 once when credentials were given (same Call-ID, CSeq + 1).
        ``tag``, ``call_id`` and ``cseq`` continue a sequence (a registration's refreshes);
        by default they are fresh and 1."""
        addr = await self._dest(uri, dest)
        ep = self._ep
        host_port = f"{bracket(addr[0])}:{addr[1]}"
        if from_ is None:
            from_ = f"<sip:{self._user}@{bracket(ep.local[0])}:{ep.local[1]}>"
        from_ = f"{from_};tag={tag or ep.token()}"
        call_id = call_id or ep.token()
        extra = list(headers)
        answered: set[int] = set()
        for _ in range(3):
            txn = ep.request(
                method,
                uri,
                dest=addr,
                now=self._now(),
                to=to,
                from_=from_,
                call_id=call_id,
                cseq=cseq,
                headers=extra,
                body=body,
            )
            if _started is not None:
                _started(txn)
            self._last_dest[txn] = host_port
            ev = await self._wait(txn, provisional)
            resp = ev.message
            assert isinstance(resp, Response)
            if resp.status in answered and not _stale(resp):
                return ev
            answered.add(resp.status)
            if resp.status == 422:
                # RFC 4028 §7.4: ask again for at least the peer's Min-SE.
                min_se = _delta(resp.headers.get("Min-SE"))
                if min_se is None:
                    return ev
                extra = [h for h in extra if h[0].lower() not in ("session-expires", "min-se")]
                extra += [("Session-Expires", str(min_se)), ("Min-SE", str(min_se))]
                cseq += 1
                continue
            cred = self._credentials(ev, method, uri, body)
            if cred is None:
                return ev
            extra = [h for h in extra if h[0].lower() != cred[0].lower()] + [cred]
            cseq += 1
        return ev

    def _credentials(
        self, ev: EndpointEvent, method: str, uri: str, body: bytes
    ) -> tuple[str, str] | None:
        """The Authorization (or Proxy-Authorization) answering a 401/407, when the agent
        has credentials for that challenger (realm and host): the strongest challenge."""
        resp = ev.message
        if not isinstance(resp, Response) or resp.status not in (401, 407) or self._auth is None:
            return None
        name = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
        source = ev.source[0] if ev.source is not None else None
        challenge = self._auth.choose(resp.headers.getall(name), source)
        if challenge is None:
            self.dropped["challenge_refused"] += 1
            return None
        try:
            answer = self._auth.authorization(challenge, method=method, uri=uri, body=body)
        except SipwireError:
            self.dropped["challenge_refused"] += 1
            return None
        return ("Authorization" if resp.status == 401 else "Proxy-Authorization", answer)

    async def _in_dialog(
        self,
        dialog: int,
        method: str,
        *,
        headers: Headers = (),
        body: bytes = b"",
        limit: float | None = None,
    ) -> EndpointEvent:
        extra = list(headers)
        challenged: set[int] = set()
        for _ in range(4):
            ev = await self._in_dialog_once(dialog, method, headers=extra, body=body, limit=limit)
            resp = ev.message
            if isinstance(resp, Response) and resp.status in (401, 407):
                # In-dialog requests answer challenges too, once per kind (RFC 3261 §22.2).
                d = self._ep.dialog(dialog)
                cred = None
                if d is not None and (resp.status not in challenged or _stale(resp)):
                    cred = self._credentials(ev, method, d.remote_target, body)
                if cred is None:
                    break
                challenged.add(resp.status)
                extra = [h for h in extra if h[0].lower() != cred[0].lower()] + [cred]
                continue
            # RFC 3261 §14.2: a 500 with Retry-After to a re-INVITE (it crossed the peer's
            # pending INVITE or the ACK of it): try again after the wait (at most 10 s).
            retry = _delta(resp.headers.get("Retry-After")) if isinstance(resp, Response) else None
            if not (
                method == "INVITE"
                and isinstance(resp, Response)
                and resp.status == 500
                and retry is not None
                and self._ep.dialog(dialog) is not None
            ):
                break
            await asyncio.sleep(min(retry, 10))
        return ev

    async def _in_dialog_once(
        self, dialog: int, method: str, *, headers: Headers, body: bytes, limit: float | None
    ) -> EndpointEvent:
        txn = self._ep.request_in_dialog(
            dialog, method, now=self._now(), headers=list(headers), body=body
        )
        ev = await self._wait(txn, limit=limit if method == "INVITE" else None)
        # A re-INVITE that met glare (491) goes again after the RFC 3261 §14.1 wait: the
        # endpoint resends it; its answer is the answer to this call.
        while (
            method == "INVITE"
            and isinstance(ev.message, Response)
            and ev.message.status == 491
            and self._ep.dialog(dialog) is not None
        ):
            again = self._glare_seen.pop(txn, None)
            if again is None:
                fut: asyncio.Future[tuple[int, _Pending]] = self._loop.create_future()
                self._glare[txn] = fut
                try:
                    again = await asyncio.wait_for(fut, 10.0)
                except asyncio.TimeoutError:
                    break
                finally:
                    self._glare.pop(txn, None)
            txn, pending = again
            final = await pending.future
            self._pending.pop(txn, None)
            if final is None:
                raise SipTimeout(f"no final response to the retried re-INVITE {txn}")
            if final.kind == "transport_error":
                # As `_wait` says it: the retry could not reach the peer (§18.4).
                raise TransportFailed(self._last_dest.pop(txn, "the next hop"), self._last_why)
            ev = final
        return ev

    async def options(self, uri: str, *, dest: Addr | None = None) -> Response:
        """OPTIONS (RFC 3261 §11): the peer's capabilities, or a liveness check."""
        ev = await self.request("OPTIONS", uri, dest=dest, headers=[("Accept", "application/sdp")])
        assert isinstance(ev.message, Response)
        return ev.message

    async def message(
        self, uri: str, text: str, *, content_type: str = "text/plain", dest: Addr | None = None
    ) -> Response:
        """MESSAGE (RFC 3428) with ``text`` as the body."""
        ev = await self.request(
            "MESSAGE",
            uri,
            dest=dest,
            headers=[("Content-Type", content_type)],
            body=text.encode(),
        )
        assert isinstance(ev.message, Response)
        return ev.message

    def _offer(self) -> SessionDescription:
        host = self._ep.local[0]
        m = sdpmod.MediaBuilder("audio", self._media_port)
        pt = {"PCMU": 0, "PCMA": 8, "G722": 9, "G729": 18}
        dyn = 101
        for c in self._codecs:
            name, rate = c.split("/")[:2]
            n = pt.get(name.upper())
            if n is None:
                n, dyn = dyn, dyn + 1
            m.codec(n, name, int(rate), fmtp="0-16" if name == "telephone-event" else None)
        m.attribute("sendrecv")
        return sdpmod.SessionBuilder(host).media(m).build()

    def _answer_for(
        self, offer: SessionDescription | None, previous: SessionDescription | None = None
    ) -> SessionDescription | None:
        """The answer to ``offer``. Inside a session (``previous``: the last description this
        side sent) it keeps that ``o=`` line, its version + 1 only when something changed
        (RFC 3264 §8)."""
        if offer is None:
            return self._offer()
        local = [sdpmod.LocalMedia("audio", self._media_port, self._codecs)]
        address = self._ep.local[0]
        if previous is None:
            return sdpmod.answer(offer, local, address=address)
        o = previous.origin
        version = o.version_number
        sid = o.session_id
        session_id = int(sid) if sid.isdigit() and len(sid) <= 20 else None
        if session_id is not None and session_id >= 1 << 64:
            session_id = None
        if version is None or session_id is None:
            return sdpmod.answer(offer, local, address=address)

        def build(v: int) -> SessionDescription:
            return sdpmod.answer(
                offer,
                local,
                address=address,
                username=o.username,
                session_id=session_id,
                session_version=v,
            )

        same = build(version)
        return build(version + 1) if sdpmod.changes_anything(previous, same) else same

    async def invite(
        self,
        uri: str,
        *,
        sdp: SessionDescription | None = None,
        headers: Headers = (),
        dest: Addr | None = None,
        on_provisional: Callable[[Response], None] | None = None,
        anonymous: bool = False,
        max_redirects: int = 5,
        delayed_offer: bool = False,
    ) -> Call:
        """Calls ``uri`` and returns once answered; raises :class:`CallFailed` for a final
        non-2xx (408 when none came). Cancelling the awaiting task sends CANCEL (§9.1).

        A 3xx is followed: its Contacts are tried in q order (RFC 3261 §8.1.3.4), at most
        ``max_redirects`` in all, each URI once. 181 and 182 reach ``on_provisional`` like
        any provisional response. ``anonymous`` hides the caller (RFC 3323, RFC 3325):
        an anonymous From, ``Privacy: id`` and this agent's identity in
        P-Preferred-Identity for a trusted proxy to assert. ``delayed_offer`` sends the
        INVITE without SDP: the callee offers in its 200 and the agent answers in the ACK
        (RFC 3261 §13.2.1)."""
        extra = list(headers)
        from_ = None
        if anonymous:
            from_ = '"Anonymous" <sip:anonymous@anonymous.invalid>'
            host, port = self._ep.local
            me = f"<sip:{self._user}@{bracket(host)}:{port}>"
            extra += [("Privacy", "id"), ("P-Preferred-Identity", me)]
        tried = {uri}
        targets: list[str] = []
        while True:
            try:
                return await self._invite_once(
                    uri, sdp, extra, dest, on_provisional, from_, delayed_offer
                )
            except CallFailed as e:
                redirected = 300 <= e.status < 400 and e.response is not None
                if redirected and e.response is not None:
                    found = sorted(
                        (c for c in e.response.contact if c.uri is not None),
                        key=lambda c: -(c.q if c.q is not None else 1.0),
                    )
                    targets += [str(c.uri) for c in found if str(c.uri) not in tried]
                # A redirected target that fails gives way to the next one (§8.1.3.4).
                if not (redirected or len(tried) > 1) or not targets:
                    raise
                if len(tried) > max_redirects:
                    raise
                uri = targets.pop(0)
                tried.add(uri)
                dest = None
            except TransportFailed:
                # An unreachable redirected target gives way to the next one too.
                if len(tried) == 1 or not targets or len(tried) > max_redirects:
                    raise
                uri = targets.pop(0)
                tried.add(uri)
                dest = None

    async def _invite_once(
        self,
        uri: str,
        sdp: SessionDescription | None,
        headers: Headers,
        dest: Addr | None,
        on_provisional: Callable[[Response], None] | None,
        from_: str | None,
        delayed_offer: bool = False,
    ) -> Call:
        offer = None if delayed_offer else sdp if sdp is not None else self._offer()
        txns: list[int] = []

        def prov(ev: EndpointEvent) -> None:
            if on_provisional is not None and isinstance(ev.message, Response):
                on_provisional(ev.message)

        try:
            ev = await self.request(
                "INVITE",
                uri,
                headers=[
                    *([("Content-Type", "application/sdp")] if offer is not None else []),
                    ("Allow", _ALLOW),
                    ("Supported", "100rel, replaces"),
                    *headers,
                ],
                body=bytes(offer) if offer is not None else b"",
                dest=dest,
                from_=from_,
                provisional=prov,
                _started=txns.append,
            )
        except SipTimeout:
            raise CallFailed(408, "Request Timeout") from None
        except asyncio.CancelledError:
            if txns:
                with contextlib.suppress(SipwireError):
                    self._ep.cancel(txns[-1], now=self._now())
                self._pump()
            raise
        resp = ev.message
        assert isinstance(resp, Response)
        if resp.status >= 300 or ev.dialog is None:
            raise CallFailed(resp.status, resp.reason, resp)
        local = offer
        if offer is None and resp.sdp is not None and ev.txn is not None:
            local = self._ack_with_answer(ev.txn, ev.dialog, resp.sdp)
        call = Call(
            self,
            ev.dialog,
            local_sdp=local,
            remote_sdp=resp.sdp,
            peer=ev.source or ("", 0),
        )
        self._calls[ev.dialog] = call
        return call

    def _ack_with_answer(
        self, txn: int, dialog: int, offer: SessionDescription
    ) -> SessionDescription | None:
        """ACKs a 2xx that offered (to an INVITE without SDP) with the answer."""
        answer = self._answer_for(offer)
        body = bytes(answer) if answer is not None else b""
        self._ep.ack(
            txn, dialog, now=self._now(), headers=[("Content-Type", "application/sdp")], body=body
        )
        self._pump()
        return answer

    # --- registration ----------------------------------------------------------------------

    async def register(
        self,
        registrar: str,
        *,
        username: str,
        password: str,
        expires: int = 3600,
        dest: Addr | None = None,
    ) -> Registration:
        """REGISTER (RFC 3261 §10) with digest authentication (answered for the registrar's
        host only, and the agent's ``auth_hosts``); refreshed before it expires, again with
        back-off after a failure (``Registration.error`` says which), and removed when the
        agent closes."""
        u = parse_uri(registrar if registrar.startswith("sip") else f"sip:{registrar}")
        hosts: set[str] = set()
        if self._auth is not None and self._auth.hosts is not None:
            hosts = set(self._auth.hosts)
        if dest is not None:
            hosts.add(dest[0])
        hosts |= await self._addresses(u.host or "")
        self._auth = DigestClient(username, password, self._auth_realms, hosts)
        aor = f"sip:{username}@{u.host}"
        reg = Registration(
            registrar=str(u), aor=aor, expires=expires, bindings=[], call_id="", cseq=0
        )
        await self._register(reg, expires, dest)
        self._registrations.append(reg)
        return reg

    async def _register(self, reg: Registration, expires: int, dest: Addr | None) -> None:
        ep = self._ep
        if not reg.call_id:
            reg.call_id = ep.token()
            reg.tag = ep.token()
        ev = await self.request(
            "REGISTER",
            reg.registrar,
            dest=dest,
            to=f"<{reg.aor}>",
            from_=f"<{reg.aor}>",
            tag=reg.tag,
            call_id=reg.call_id,
            cseq=reg.cseq + 1,
            headers=[("Expires", str(expires)), ("Allow", _ALLOW)],
        )
        resp = ev.message
        assert isinstance(resp, Response)
        # The next REGISTER of this Call-ID goes on from the CSeq used (RFC 3261 §10.2.4).
        reg.cseq = resp.cseq.seq if resp.cseq is not None else reg.cseq + 1
        if not 200 <= resp.status < 300:
            raise CallFailed(resp.status, resp.reason, resp)
        reg.bindings = [str(c) for c in resp.contact]
        granted = resp.expires if resp.expires is not None else expires
        for c in resp.contact:
            # Our own binding's expires wins (RFC 3261 §10.2.4).
            if c.expires is not None and c.uri is not None and c.uri.port == ep.local[1]:
                granted = c.expires
        reg.expires = granted
        if expires > 0 and granted > 0:
            if reg._refresh is not None:
                reg._refresh.cancel()
            reg._refresh = asyncio.ensure_future(self._refresh_later(reg, granted, dest))

    async def _refresh_later(self, reg: Registration, after: int, dest: Addr | None) -> None:
        # Refresh ahead of expiry (RFC 3261 §10.2.4 lets the UA choose when); a failure is
        # kept in reg.error, logged, and retried with back-off (RFC 5626 §4.5 style: 30 s
        # doubling to 30 min), never given up silently.
        delay = max(after * 0.8, after - 30, 1)
        while True:
            await asyncio.sleep(delay)
            try:
                await self._register(reg, reg.expires, dest)
            except SipwireError as e:
                reg.error = e
                reg.failures += 1
                delay = min(30.0 * 2 ** (reg.failures - 1), 1800.0)
                log.warning("sipwire: refreshing %s failed (%s); again in %g s", reg.aor, e, delay)
                continue
            reg.error = None
            reg.failures = 0
            return

    async def unregister(self, reg: Registration) -> None:
        """Removes this agent's binding (Expires: 0)."""
        if reg._refresh is not None:
            reg._refresh.cancel()
            reg._refresh = None
        if reg in self._registrations:
            self._registrations.remove(reg)
        await self._register(reg, 0, None)

    # --- requests received -----------------------------------------------------------------

    def _respond(
        self,
        txn: int,
        status: int,
        *,
        headers: Headers = (),
        body: bytes = b"",
        reliable: bool = False,
    ) -> int | None:
        d = self._ep.respond(
            txn, status, now=self._now(), headers=list(headers), body=body, reliable=reliable
        )
        self._pump()
        return d

    def _on_request(self, ev: EndpointEvent) -> None:
        req = ev.message
        txn = ev.txn
        if not isinstance(req, Request) or txn is None:
            return
        m = req.method
        if ev.dialog is not None:
            self._in_dialog_request(ev, req, txn, ev.dialog)
        elif m == "INVITE":
            replaces = None
            value = req.headers.get("Replaces")
            if value is not None:
                # RFC 3891 §3: the INVITE takes the place of one of this agent's dialogs.
                dialog, status = self._ep.replaces(value)
                if dialog is None:
                    self._respond(txn, status)
                    return
                replaces = self._calls.get(dialog)
            inc = IncomingCall(self, txn, req, ev.source or ("", 0), replaces)
            # The answer is made now: an offer the agent's media cannot answer gets 488
            # before the application sees it (RFC 3261 §13.3.1.3, RFC 3264 §6).
            try:
                inc._answer = self._answer_for(req.sdp)
            except (SipwireError, ValueError) as e:
                warn = _warning(self._ep.local[0], f"SDP: {e}")
                self._respond(txn, 488, headers=[("Warning", warn)])
                return
            if inc._answer is not None and req.sdp is not None and _rejects_all(inc._answer):
                warn = f'305 {bracket(self._ep.local[0])} "Incompatible media format"'
                self._respond(txn, 488, headers=[("Warning", warn)])
                return
            try:
                self._incoming.put_nowait(inc)
                self._invites[txn] = inc
            except asyncio.QueueFull:
                self.dropped["incoming"] += 1
                self._respond(txn, 486)
        elif m == "OPTIONS":
            events = [("Allow-Events", ", ".join(self._events))] if self._events else []
            self._respond(
                txn, 200, headers=[("Allow", _ALLOW), ("Accept", "application/sdp"), *events]
            )
        elif m == "MESSAGE":
            if _put(self.messages, req, self.dropped, "messages"):
                self._respond(txn, 200)
            else:
                self._respond(txn, 486)
        else:
            self._respond(txn, 405, headers=[("Allow", _ALLOW)])

    def _in_dialog_request(self, ev: EndpointEvent, req: Request, txn: int, dialog: int) -> None:
        call = self._calls.get(dialog)
        m = req.method
        if m in ("INVITE", "UPDATE"):
            offer = req.sdp
            if call is not None and offer is not None:
                try:
                    answer = self._answer_for(offer, call.local_sdp)
                except (SipwireError, ValueError) as e:
                    # RFC 3261 §14.2: a re-offer that cannot be answered leaves the session
                    # as it was.
                    warn = _warning(self._ep.local[0], f"SDP: {e}")
                    self._respond(txn, 488, headers=[("Warning", warn)])
                    return
                if answer is not None and _rejects_all(answer):
                    warn = f'305 {bracket(self._ep.local[0])} "Incompatible media format"'
                    self._respond(txn, 488, headers=[("Warning", warn)])
                    return
            if call is None or offer is None:
                # An offerless re-INVITE gets a full offer in the 200 (RFC 3261 §14.2): the
                # session as it is, sending and receiving; the answer comes in the ACK.
                body = b""
                if call is not None and m == "INVITE":
                    local = call.local_sdp
                    call.local_sdp = sdpmod.resume(local) if local is not None else self._offer()
                    body = bytes(call.local_sdp)
                headers = [("Content-Type", "application/sdp")] if body else []
                self._respond(txn, 200, headers=headers, body=body)
                return
            call.remote_sdp = offer
            call.local_sdp = answer
            call.state = "held" if _holds(offer) else "confirmed"
            body = bytes(answer) if answer is not None else b""
            self._respond(txn, 200, headers=[("Content-Type", "application/sdp")], body=body)
        elif m == "INFO":
            self._respond(txn, 200)
            if call is not None and req.content_type == "application/dtmf-relay":
                for line in req.body.decode(errors="replace").splitlines()[:16]:
                    k, _, v = line.partition("=")
                    digit = v.strip().upper()
                    if k.strip().lower() == "signal" and len(digit) == 1 and digit in _DTMF:
                        _put(call.dtmf_received, digit, self.dropped, "dtmf")
        elif m == "NOTIFY":
            self._respond(txn, 200)
            if call is not None and (req.headers.get("Event") or "").startswith("refer"):
                frag = req.body.split(b"\r\n", 1)[0].split(b" ")
                if len(frag) >= 2 and frag[1].isdigit() and len(frag[1]) == 3:
                    _put(call._notify, int(frag[1]), self.dropped, "notify")
        elif m == "REFER" and call is not None:
            target = req.headers.get("Refer-To")
            if target is None or len(req.headers.getall("Refer-To")) != 1:
                # RFC 3515 §2.4.1: exactly one Refer-To.
                warn = _warning(self._ep.local[0], "Refer-To: exactly one (RFC 3515 2.4.1)")
                self._respond(txn, 400, headers=[("Warning", warn)])
                return
            if self._refers >= self._queue_limit:
                # Decisions waiting on the application are bounded too (DESIGN §5).
                self.dropped["refer"] += 1
                self._respond(txn, 603)
                return
            uri, hs, dropped = _refer_target(target)
            refer = Refer(call, uri, hs, dropped, req)
            self._spawn(self._decide_refer(txn, refer))
        elif m in ("OPTIONS", "PRACK"):
            self._respond(txn, 200)
        else:
            self._respond(txn, 501)

    async def _decide_refer(self, txn: int, refer: Refer) -> None:
        """RFC 3515 §2.4.2: the application consents (202 and the INVITE) or not (603)."""
        ok = False
        if self._on_refer is not None:
            self._refers += 1
            try:
                decision = self._on_refer(refer)
                if inspect.isawaitable(decision):
                    decision = await asyncio.wait_for(decision, 30.0)
                ok = decision is True
            except Exception:
                self.dropped["handler_errors"] += 1
                log.exception("sipwire: on_refer failed; the REFER is declined")
            finally:
                self._refers -= 1
        if self._ep.transaction_state(txn) not in ("trying", "proceeding"):
            return
        if not ok:
            self.dropped["refer_declined"] += 1
            self._respond(txn, 603)
            return
        self._respond(txn, 202)
        await self._follow_refer(refer.call, (refer.target, refer.headers))

    async def _follow_refer(self, call: Call, target: tuple[str, list[tuple[str, str]]]) -> None:
        """The transferee's side of RFC 3515: call the target (with the Refer-To URI's
        headers, such as Replaces for an attended transfer), report progress by NOTIFY with
        message/sipfrag, then end the original call."""

        async def notify(status: int, reason: str, final: bool) -> None:
            state = "terminated;reason=noresource" if final else "active;expires=60"
            with contextlib.suppress(SipwireError):
                await self._in_dialog(
                    call.dialog,
                    "NOTIFY",
                    headers=[
                        ("Event", "refer"),
                        ("Subscription-State", state),
                        ("Content-Type", "message/sipfrag;version=2.0"),
                    ],
                    body=f"SIP/2.0 {status} {reason}\r\n".encode(),
                )

        await notify(100, "Trying", False)
        uri, headers = target
        try:
            new = await self.invite(uri, headers=headers)
        except CallFailed as e:
            await notify(e.status, e.reason, True)
            return
        except SipwireError:
            await notify(503, "Service Unavailable", True)
            return
        await notify(200, "OK", True)
        await call.hangup()
        _put(self._transferred, new, self.dropped, "transferred")

    # --- subscriptions and publications (sipwire.ua.subscription) --------------------------

    async def subscribe(
        self,
        uri: str,
        event: str,
        *,
        expires: int = 3600,
        accept: Sequence[str] | None = None,
        headers: Headers = (),
        dest: Addr | None = None,
        auto_refresh: bool = True,
    ) -> Subscription:
        """SUBSCRIBE to ``event`` at ``uri`` (RFC 6665 §4.1); returns once a 2xx came (raises
        :class:`SubscriptionFailed` otherwise). ``accept``: the body types wanted."""
        return await self._subs.subscribe(
            uri,
            event,
            expires=expires,
            accept=accept,
            headers=headers,
            dest=dest,
            auto_refresh=auto_refresh,
        )

    async def subscriptions(self) -> AsyncIterator[IncomingSubscription]:
        """SUBSCRIBEs for the agent's ``events``, in arrival order."""
        async for s in self._subs.incoming():
            yield s

    async def publish(
        self,
        uri: str,
        event: str,
        body: bytes,
        content_type: str,
        *,
        expires: int = 3600,
        dest: Addr | None = None,
    ) -> Publication:
        """PUBLISH event state at ``uri`` (RFC 3903); returns once an ESC accepted it."""
        return await self._subs.publish(uri, event, body, content_type, expires, dest)

    async def transferred(self) -> Call:
        """The next call this agent placed because a peer transferred it (REFER, accepted by
        ``on_refer``); :class:`AgentClosed` once the agent closed."""
        call = await self._next(self._transferred)
        if call is None:
            raise AgentClosed("the user agent closed")
        return call

    async def incoming(self) -> AsyncIterator[IncomingCall]:
        """Incoming calls (INVITEs outside a dialog), in arrival order, until the agent
        closes."""
        while True:
            item = await self._next(self._incoming)
            if item is None:
                return
            yield item

    async def _next(self, queue: asyncio.Queue[_Q]) -> _Q | None:
        """The next item of a queue, or None once the agent closed."""
        if self._closed:
            return None
        get = asyncio.ensure_future(queue.get())
        try:
            await asyncio.wait({get, self._closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not get.done():
                get.cancel()
        return get.result() if get.done() and not get.cancelled() else None
