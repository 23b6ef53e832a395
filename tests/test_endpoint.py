"""The sans-IO Endpoint from Python: calls between two endpoints over an in-memory wire, the
errors a user sees, and a hypothesis state machine whose wire drops, duplicates and reorders.

Invariants (DESIGN §5): every transaction ends within 64·T1 once the peers stop talking,
every 2xx is ACKed, and nothing is left in any table after BYE or timeout.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import sipwire
from sipwire import Endpoint, EndpointEvent, LocalProtocolError, Request, Response

A = ("127.0.0.1", 5060)
B = ("127.0.0.1", 5070)
T1 = 0.5


class Wire:
    """Datagrams in flight between two endpoints, delivered when the test says."""

    def __init__(self, seed: int = 1) -> None:
        self.a = Endpoint(*A, seed=seed)
        self.b = Endpoint(*B, seed=seed + 1)
        self.now = 0.0
        self.flight: list[tuple[Endpoint, tuple[str, int], bytes]] = []
        self.events: dict[str, list[EndpointEvent]] = {"a": [], "b": []}

    def collect(self) -> None:
        for ep, src, name in ((self.a, A, "a"), (self.b, B, "b")):
            for data, dest, _ in ep.transmit():
                to = self.a if dest == A else self.b
                self.flight.append((to, src, data))
            self.events[name].extend(ep.events())

    def deliver(self, i: int = 0) -> None:
        to, src, data = self.flight.pop(i)
        assert to.receive(data, src, self.now)
        self.collect()

    def settle(self) -> None:
        """Delivers everything in order until nothing is in flight."""
        self.collect()
        while self.flight:
            self.deliver(0)

    def advance(self, seconds: float) -> None:
        """Moves time on, firing timers in order and delivering what they send."""
        end = self.now + seconds
        while True:
            due = [d for d in (self.a.next_deadline(), self.b.next_deadline()) if d is not None]
            if not due or min(due) > end:
                break
            self.now = max(self.now, min(due))
            self.a.tick(self.now)
            self.b.tick(self.now)
            self.settle()
        self.now = end
        self.settle()

    def take(self, name: str) -> list[EndpointEvent]:
        ev, self.events[name] = self.events[name], []
        return ev


def kinds(events: list[EndpointEvent]) -> list[str]:
    return [e.kind for e in events]


def statuses(events: list[EndpointEvent]) -> list[int]:
    return [e.message.status for e in events if isinstance(e.message, Response)]


SDP = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


def call(w: Wire) -> tuple[int, int]:
    w.a.request(
        "INVITE",
        "sip:bob@127.0.0.1:5070",
        dest=B,
        now=w.now,
        headers=[("Content-Type", "application/sdp")],
        body=SDP,
    )
    w.settle()
    (inv,) = [e for e in w.take("b") if e.kind == "request"]
    assert isinstance(inv.message, Request) and inv.message.method == "INVITE"
    assert inv.source == A and inv.dialog is None and inv.txn is not None
    w.b.respond(inv.txn, 180, now=w.now)
    db = w.b.respond(inv.txn, 200, now=w.now, body=SDP)
    assert db is not None
    w.settle()
    ea = w.take("a")
    assert statuses(ea) == [100, 180, 200]
    da = ea[-1].dialog
    assert da is not None
    assert "ack" in kinds(w.take("b"))
    return da, db


def test_call_and_bye_leave_nothing_behind() -> None:
    w = Wire()
    da, db = call(w)
    d = w.a.dialog(da)
    assert d is not None
    assert d.state == "confirmed" and d.is_uac and d.local_seq == 1
    assert d.remote_target == "sip:sipwire@127.0.0.1:5070"
    b = w.b.dialog(db)
    assert b is not None and not b.is_uac and b.remote_seq == 1
    assert (b.call_id, b.local_tag, b.remote_tag) == (d.call_id, d.remote_tag, d.local_tag)
    w.a.request_in_dialog(da, "BYE", now=w.now)
    w.settle()
    assert "dialog_terminated" in kinds(w.take("a"))
    eb = w.take("b")
    assert "bye" in kinds(eb) and "dialog_terminated" in kinds(eb)
    w.advance(64 * T1 + 1)
    assert (w.a.transactions, w.b.transactions) == (0, 0)
    assert w.a.dialogs() == [] and w.b.dialogs() == []


def test_hold_reinvite_in_dialog() -> None:
    w = Wire()
    da, db = call(w)
    w.a.request_in_dialog(
        da,
        "INVITE",
        now=w.now,
        headers=[("Content-Type", "application/sdp")],
        body=SDP + b"a=sendonly\r\n",
    )
    w.settle()
    (re,) = [e for e in w.take("b") if e.kind == "request"]
    assert re.dialog == db and re.message is not None
    assert re.message.body.endswith(b"a=sendonly\r\n")
    assert re.txn is not None
    w.b.respond(re.txn, 200, now=w.now, body=SDP + b"a=recvonly\r\n")
    w.settle()
    assert statuses(w.take("a")) == [100, 200]
    assert "ack" in kinds(w.take("b"))
    dialog = w.a.dialog(da)
    assert dialog is not None and dialog.local_seq == 2


def test_cancel_during_ringing() -> None:
    w = Wire()
    t = w.a.request("INVITE", "sip:bob@127.0.0.1:5070", dest=B, now=w.now)
    w.settle()
    (inv,) = [e for e in w.take("b") if e.kind == "request"]
    assert inv.txn is not None
    w.b.respond(inv.txn, 180, now=w.now)
    w.settle()
    assert w.a.transaction_state(t) == "proceeding"
    assert w.a.cancel(t, now=w.now) is not None
    w.settle()
    assert "cancelled" in kinds(w.take("b"))
    assert 487 in statuses(w.take("a"))
    w.advance(64 * T1 + 1)
    assert (w.a.transactions, w.b.transactions) == (0, 0)
    assert w.a.dialogs() == [] and w.b.dialogs() == []


def test_unknown_dialog_gets_481_and_garbage_is_counted() -> None:
    w = Wire()
    bogus = sipwire.build_request(
        "BYE",
        "sip:bob@127.0.0.1:5070",
        [
            ("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKbogus1"),
            ("From", "<sip:a@x>;tag=1"),
            ("To", "<sip:b@y>;tag=2"),
            ("Call-ID", "nope"),
            ("CSeq", "1 BYE"),
            ("Max-Forwards", "70"),
        ],
    )
    w.a.send(bogus, dest=B, now=w.now)
    w.settle()
    assert statuses(w.take("a")) == [481]
    assert w.b.counters["rejected_481"] == 1
    assert w.b.receive(b"garbage\r\n\r\n", A, w.now) is False
    assert w.b.counters["malformed"] == 1


def test_user_errors_are_precise() -> None:
    ep = Endpoint(*A, seed=3)
    with pytest.raises(LocalProtocolError, match="no such dialog"):
        ep.request_in_dialog(12345, "BYE", now=0.0)
    with pytest.raises(LocalProtocolError, match="no such transaction"):
        ep.respond(999, 200, now=0.0)
    with pytest.raises(LocalProtocolError, match="now must be"):
        ep.tick(-1.0)
    with pytest.raises(LocalProtocolError, match="IP address"):
        Endpoint("example.com", 5060)
    with pytest.raises(LocalProtocolError, match="transport must be"):
        Endpoint(*A, transport="carrier-pigeon")  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="header injection"):
        ep.request("OPTIONS", "sip:x@127.0.0.1", dest=B, now=0.0, headers=[("X", "a\r\nb")])
    with pytest.raises(LocalProtocolError, match="branch"):
        ep.send(
            b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=old\r\n"
            b"From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
            b"Content-Length: 0\r\n\r\n",
            dest=B,
            now=0.0,
        )


def test_bad_responses_and_addresses_are_refused_precisely() -> None:
    w = Wire()
    w.a.request("OPTIONS", "sip:bob@127.0.0.1:5070", dest=B, now=w.now)
    w.settle()
    (req,) = w.take("b")
    assert req.txn is not None
    with pytest.raises(LocalProtocolError, match="status must be 100 to 699"):
        w.b.respond(req.txn, 700, now=w.now)
    with pytest.raises(LocalProtocolError, match="header injection"):
        w.b.respond(req.txn, 200, "O\r\nK", now=w.now)
    with pytest.raises(LocalProtocolError, match="only a 101-199 to an INVITE"):
        w.b.respond(req.txn, 180, now=w.now, reliable=True)
    with pytest.raises(LocalProtocolError, match=r"source must be \(IP address, port\)"):
        w.b.receive(b"OPTIONS", ("nohost", 1), w.now)
    with pytest.raises(LocalProtocolError, match="port 65536 is out of range"):
        w.b.receive(b"OPTIONS", ("127.0.0.1", 65536), w.now)
    with pytest.raises(LocalProtocolError, match="port 70000 is out of range"):
        Endpoint("127.0.0.1", 70000)
    # Nothing was sent for the refused answers: the request still takes a 200.
    assert w.b.respond(req.txn, 200, now=w.now) is None
    w.settle()
    assert statuses(w.take("a")) == [200]


def test_seeded_endpoints_are_reproducible() -> None:
    out = []
    for _ in range(2):
        ep = Endpoint(*A, seed=42)
        ep.request("OPTIONS", "sip:x@127.0.0.1:5070", dest=B, now=0.0)
        out.append(ep.transmit()[0][0])
    assert out[0] == out[1]
    assert Endpoint(*A).token() != Endpoint(*A).token()


def test_tcp_endpoint_writes_transport_and_sends_no_retransmissions() -> None:
    ep = Endpoint(*A, "tcp", seed=5)
    assert ep.contact == "<sip:sipwire@127.0.0.1:5060;transport=tcp>"
    ep.request("OPTIONS", "sip:x@127.0.0.1:5070", dest=B, now=0.0)
    [(data, dest, transport)] = ep.transmit()
    assert transport == "tcp" and dest == B and b"SIP/2.0/TCP 127.0.0.1:5060" in data
    ep.tick(10.0)
    assert ep.transmit() == []  # Timer E is off on reliable transports (§17.1.2.2)


class TwoEndpoints(RuleBasedStateMachine):
    """A calls B over a wire that loses, duplicates and reorders; B answers, both hang up.
    The chaos phase lasts less than 64·T1 of simulated time, so retransmissions outlive it;
    teardown then delivers reliably and checks what must have happened."""

    def __init__(self) -> None:
        super().__init__()
        self.w = Wire()
        self.chaos_time = 0.0
        self.answered: set[int] = set()
        self.b_dialogs: set[int] = set()
        self.acked: set[int] = set()
        self.ended_by_bye: set[int] = set()
        self.a_dialogs: set[int] = set()
        self.invites: list[int] = []

    @initialize(seed=st.integers(0, 2**32))
    def start(self, seed: int) -> None:
        self.w = Wire(seed)

    def handle(self) -> None:
        """Records what each side saw; B answers new INVITEs with 180."""
        for e in self.w.take("b"):
            if e.kind == "request" and e.txn is not None:
                m = e.message
                assert isinstance(m, Request)
                if self.w.b.transaction_state(e.txn) not in ("trying", "proceeding"):
                    continue  # a CANCEL already ended it (the endpoint sent 487)
                if m.method == "INVITE" and e.dialog is None:
                    self.w.b.respond(e.txn, 180, now=self.w.now)
                    self.answered.add(e.txn)
                else:
                    self.w.b.respond(e.txn, 200, now=self.w.now)
            elif e.kind == "ack" and e.dialog is not None:
                self.acked.add(e.dialog)
            elif e.kind == "bye" and e.dialog is not None:
                self.ended_by_bye.add(e.dialog)
        for e in self.w.take("a"):
            if (
                e.kind == "response"
                and e.dialog is not None
                and isinstance(e.message, Response)
                and e.message.status == 200
            ):
                self.a_dialogs.add(e.dialog)
        self.w.collect()

    @rule()
    def invite(self) -> None:
        t = self.w.a.request("INVITE", "sip:bob@127.0.0.1:5070", dest=B, now=self.w.now)
        self.invites.append(t)
        self.w.collect()

    @precondition(lambda self: bool(self.answered))
    @rule(data=st.data(), status=st.sampled_from([200, 200, 486, 603]))
    def b_answers(self, data: st.DataObject, status: int) -> None:
        txn = data.draw(st.sampled_from(sorted(self.answered)))
        self.answered.discard(txn)
        if self.w.b.transaction_state(txn) != "proceeding":
            return  # cancelled meanwhile
        d = self.w.b.respond(txn, status, now=self.w.now)
        if status == 200 and d is not None:
            self.b_dialogs.add(d)
        self.w.collect()

    @precondition(lambda self: bool(self.invites))
    @rule(data=st.data())
    def a_cancels(self, data: st.DataObject) -> None:
        txn = data.draw(st.sampled_from(self.invites))
        try:
            self.w.a.cancel(txn, now=self.w.now)
        except LocalProtocolError:
            pass  # already final, or ended
        self.w.collect()

    @precondition(lambda self: bool(self.w.flight))
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(0, len(self.w.flight) - 1))  # any order
        self.w.deliver(i)
        self.handle()

    @precondition(lambda self: bool(self.w.flight))
    @rule()
    def deliver_all(self) -> None:
        while self.w.flight:
            self.w.deliver(0)
            self.handle()

    @precondition(lambda self: bool(self.w.flight))
    @rule(data=st.data())
    def drop(self, data: st.DataObject) -> None:
        self.w.flight.pop(data.draw(st.integers(0, len(self.w.flight) - 1)))

    @precondition(lambda self: bool(self.w.flight))
    @rule(data=st.data())
    def duplicate(self, data: st.DataObject) -> None:
        self.w.flight.append(self.w.flight[data.draw(st.integers(0, len(self.w.flight) - 1))])

    @precondition(lambda self: self.chaos_time < 20.0)
    @rule(dt=st.sampled_from([0.1, 0.5, 1.0, 4.0]))
    def time_passes(self, dt: float) -> None:
        self.chaos_time += dt
        self.w.now += dt
        self.w.a.tick(self.w.now)
        self.w.b.tick(self.w.now)
        self.w.collect()
        self.handle()

    @invariant()
    def tables_bounded(self) -> None:
        assert self.w.a.transactions <= 4 * len(self.invites) + 8
        assert len(self.w.b.dialogs()) <= len(self.invites)

    def teardown(self) -> None:
        w = self.w
        # Reliable from here: everything in flight arrives, B answers what is pending.
        for _ in range(3):
            w.settle()
            self.handle()
            for txn in sorted(self.answered):
                if w.b.transaction_state(txn) == "proceeding":
                    w.b.respond(txn, 486, now=w.now)
            self.answered.clear()
            w.settle()
            self.handle()
            w.advance(2.0)
            self.handle()
        event(f"answered calls: {min(len(self.b_dialogs), 3)}+")
        # Every 2xx B sent was ACKed (retransmitted until the ACK got through). A 2xx that
        # crossed A's CANCEL gets ACK and BYE together; when the BYE overtakes the ACK, B
        # ends the dialog first and the ACK arrives as a stray.
        acked = self.acked | self.ended_by_bye
        assert self.b_dialogs <= acked, (self.b_dialogs, self.acked, self.ended_by_bye)
        assert w.b.counters["no_ack"] == 0
        # Hang up what is up, from A.
        for d in w.a.dialogs():
            dialog = w.a.dialog(d)
            if dialog is not None and dialog.state == "confirmed":
                w.a.request_in_dialog(d, "BYE", now=w.now)
        w.settle()
        self.handle()
        # An INVITE no one answered finally is still waiting: cancel it (§9.1).
        for t in self.invites:
            if w.a.transaction_state(t) in ("calling", "proceeding"):
                w.a.cancel(t, now=w.now)
        w.settle()
        self.handle()
        w.advance(64 * T1 + 1)
        self.handle()
        w.advance(64 * T1 + 1)
        assert (w.a.transactions, w.b.transactions) == (0, 0), (
            w.a.counters,
            w.b.counters,
        )
        assert w.a.dialogs() == [] and w.b.dialogs() == [], (
            [w.a.dialog(d) for d in w.a.dialogs()],
            [w.b.dialog(d) for d in w.b.dialogs()],
        )


TwoEndpoints.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_two_endpoints_over_a_hostile_wire = TwoEndpoints.TestCase
