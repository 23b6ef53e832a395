"""The passive correlator through Python: transactions, dialogs and calls from messages fed
in any order."""

from __future__ import annotations

import random

import pytest

import sipwire

A = ("10.0.0.1", 5060)
B = ("10.0.0.2", 5060)


def sdp(ip: str, port: int, direction: str = "") -> str:
    d = f"a={direction}\r\n" if direction else ""
    return f"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n{d}"


def msg(
    start: str,
    branch: str,
    cseq: int,
    cseq_method: str,
    from_tag: str = "a1",
    to_tag: str = "",
    body: str | None = None,
    call: str = "call-1",
) -> bytes:
    to = f";tag={to_tag}" if to_tag else ""
    ct = "Content-Type: application/sdp\r\n" if body is not None else ""
    b = body or ""
    return (
        f"{start}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={branch}\r\n"
        f"From: <sip:a@x>;tag={from_tag}\r\nTo: <sip:b@y>{to}\r\nCall-ID: {call}\r\n"
        f"CSeq: {cseq} {cseq_method}\r\n{ct}Content-Length: {len(b.encode())}\r\n\r\n{b}"
    ).encode()


Fed = tuple[float, bytes, tuple[str, int], tuple[str, int]]


def invite_exchange(
    t: float,
    branch: str,
    cseq: int,
    to_tag: str,
    offer: str | None,
    answer: str | None,
    status: int = 200,
    ack_branch: str = "",
) -> list[Fed]:
    """An INVITE (initial when to_tag is empty on the request), 100/180, final, ACK."""
    req_to = "" if cseq == 1 else to_tag
    out: list[Fed] = [
        (t, msg("INVITE sip:b@y SIP/2.0", branch, cseq, "INVITE", to_tag=req_to, body=offer), A, B),
        (t + 0.1, msg("SIP/2.0 100 Trying", branch, cseq, "INVITE", to_tag=req_to), B, A),
    ]
    if cseq == 1:
        out.append(
            (t + 0.5, msg("SIP/2.0 180 Ringing", branch, cseq, "INVITE", to_tag=to_tag), B, A)
        )
    reason = {200: "OK", 486: "Busy Here", 487: "Request Terminated", 404: "Not Found"}[status]
    out.append(
        (
            t + 2.0,
            msg(f"SIP/2.0 {status} {reason}", branch, cseq, "INVITE", to_tag=to_tag, body=answer),
            B,
            A,
        )
    )
    ack = ack_branch or (branch if status >= 300 else branch + "-ack")
    out.append((t + 2.1, msg("ACK sip:b@y SIP/2.0", ack, cseq, "ACK", to_tag=to_tag), A, B))
    return out


def held_call() -> list[Fed]:
    """An answered call, put on hold by re-INVITE (sendonly) at 10, resumed at 20, BYE at 30."""
    out = invite_exchange(0.0, "z9hG4bK-1", 1, "b1", sdp("10.0.0.1", 4000), sdp("10.0.0.2", 5000))
    out += invite_exchange(
        10.0,
        "z9hG4bK-2",
        2,
        "b1",
        sdp("10.0.0.1", 4000, "sendonly"),
        sdp("10.0.0.2", 5000, "recvonly"),
    )
    out += invite_exchange(20.0, "z9hG4bK-3", 3, "b1", sdp("10.0.0.1", 4000), sdp("10.0.0.2", 5000))
    out += [
        (30.0, msg("BYE sip:b@y SIP/2.0", "z9hG4bK-4", 4, "BYE", to_tag="b1"), A, B),
        (30.1, msg("SIP/2.0 200 OK", "z9hG4bK-4", 4, "BYE", to_tag="b1"), B, A),
    ]
    return out


def correlate(messages: list[Fed], end: float | None = None) -> sipwire.Correlator:
    c = sipwire.Correlator(keep_messages=True)  # the tests read the messages back
    for t, data, src, dst in messages:
        c.feed(data, time=t, src=src, dst=dst)
    c.finish(end)
    return c


def test_answered_call_with_hold_and_resume() -> None:
    c = correlate(held_call())
    (call,) = c.calls()
    assert call.call_id == "call-1"
    assert call.outcome == "answered"
    assert call.final_status == 200
    assert call.invites == 3
    assert call.hold_periods == [(10.0, 20.0)]
    assert call.time_to_ringing == pytest.approx(0.5)
    assert call.time_to_answer == pytest.approx(2.0)
    assert call.duration == pytest.approx(28.0)
    (dialog,) = c.dialogs()
    assert (dialog.call_id, dialog.from_tag, dialog.to_tag) == ("call-1", "a1", "b1")
    assert dialog.state == "terminated"
    assert call.dialogs[0].to_tag == "b1"
    methods = [t.method for t in call.transactions]
    assert methods == ["INVITE", "INVITE", "INVITE", "BYE"]


def test_hold_never_resumed_stays_open() -> None:
    msgs = held_call()
    msgs = [m for m in msgs if m[0] < 20.0]
    (call,) = correlate(msgs).calls()
    assert call.hold_periods == [(10.0, None)]
    assert call.outcome == "answered"
    assert call.duration is None


def test_media_endpoints() -> None:
    (call,) = correlate(held_call()).calls()
    assert [m.cseq for m in call.media] == [1, 2, 3]
    first = call.media[0]
    assert first.method == "INVITE"
    assert first.offerer_rtp == ("10.0.0.1", 4000)
    assert first.answerer_rtp == ("10.0.0.2", 5000)
    assert first.offerer == A
    assert first.answerer == B
    (stream,) = first.streams
    assert stream.media == "audio"
    assert stream.offer == ("10.0.0.1", 4000)
    assert stream.answer == ("10.0.0.2", 5000)
    assert call.media[1].streams[0].offer_direction == "sendonly"
    assert call.media[1].streams[0].answer_direction == "recvonly"


def test_scrambled_reinvites_pair_by_cseq_and_branch() -> None:
    ordered = correlate(held_call())
    msgs = held_call()
    for seed in range(5):
        random.Random(seed).shuffle(msgs)
        c = correlate(msgs)
        (call,) = c.calls()
        assert call.outcome == "answered"
        assert call.hold_periods == [(10.0, 20.0)]
        assert [(m.cseq, m.offerer_rtp, m.answerer_rtp) for m in call.media] == [
            (m.cseq, m.offerer_rtp, m.answerer_rtp) for m in ordered.calls()[0].media
        ]
        txns = {t.branch: t for t in c.transactions()}
        assert set(txns) == {"z9hG4bK-1", "z9hG4bK-2", "z9hG4bK-3", "z9hG4bK-4"}
        for i, branch in enumerate(["z9hG4bK-1", "z9hG4bK-2", "z9hG4bK-3"], start=1):
            t = txns[branch]
            assert t.method == "INVITE"
            assert t.cseq == i
            assert t.request is not None
            assert t.request.cseq is not None and t.request.cseq.seq == i
            assert all(r.cseq is not None and r.cseq.seq == i for r in t.responses)
            assert t.final_status == 200
            # The 2xx ACK (its own branch) joins its INVITE by CSeq.
            assert t.ack is not None and t.ack.method == "ACK"
            assert t.ack.cseq is not None and t.ack.cseq.seq == i
        assert txns["z9hG4bK-4"].method == "BYE"


def test_transaction_objects_are_sipwire_messages() -> None:
    c = correlate(held_call())
    t = c.transactions()[0]
    assert t.method == "INVITE"
    assert isinstance(t.request, sipwire.Request)
    assert t.request.method == "INVITE"
    assert t.request is t.request  # made once per snapshot
    assert all(isinstance(r, sipwire.Response) for r in t.responses)
    assert [r.status for r in t.responses] == [100, 180, 200]
    assert t.request.sdp is not None
    assert t.retransmissions == 0
    assert repr(t).startswith("<CorrelatedTransaction INVITE")


def test_responses_in_time_order_whatever_the_feed_order() -> None:
    msgs = invite_exchange(0.0, "z9hG4bK-1", 1, "b1", None, None)
    c = correlate(list(reversed(msgs)))
    (t,) = c.transactions()
    assert [r.status for r in t.responses] == [100, 180, 200]


def test_retransmissions_counted_not_kept() -> None:
    msgs = invite_exchange(0.0, "z9hG4bK-1", 1, "b1", None, None)
    invite, _, _, ok, _ = msgs
    extra = [
        (0.5, invite[1], A, B),
        (1.5, invite[1], A, B),
        (2.6, ok[1], B, A),
    ]
    c = correlate(msgs + extra)
    (t,) = c.transactions()
    assert t.retransmissions == 3
    assert [r.status for r in t.responses] == [100, 180, 200]
    assert c.counters["retransmissions"] == 3
    assert c.counters["messages"] == 8


def test_message_bytes_are_kept_only_when_asked_for() -> None:
    """By default no message's bytes are kept (a monitor's memory follows the calls, not the
    traffic); the times, statuses and SDP facts are the same either way."""
    msgs = invite_exchange(0.0, "z9hG4bK-1", 1, "b1", sdp("10.0.0.1", 4000), sdp("10.0.0.2", 5000))
    lean = sipwire.Correlator()
    kept = sipwire.Correlator(keep_messages=True)
    for t, data, src, dst in msgs:
        assert lean.feed(data, time=t, src=src, dst=dst) == "stored"
        kept.feed(data, time=t, src=src, dst=dst)
    (a,), (b,) = lean.transactions(), kept.transactions()
    assert a.request is None and a.responses == [] and a.ack is None
    assert isinstance(b.request, sipwire.Request) and len(b.responses) == 3
    assert a.request_time == b.request_time == 0.0
    assert a.statuses == b.statuses and a.final_status == b.final_status == 200
    assert lean.counters["stored_bytes"] == 0
    assert kept.counters["stored_bytes"] >= sum(len(m[1]) for m in msgs[:4])
    (x,), (y,) = lean.calls(), kept.calls()
    assert (x.outcome, x.answer_time) == (y.outcome, y.answer_time) == ("answered", 2.0)
    assert (
        [(m.offerer_rtp, m.answerer_rtp) for m in x.media]
        == [(m.offerer_rtp, m.answerer_rtp) for m in y.media]
        == [(("10.0.0.1", 4000), ("10.0.0.2", 5000))]
    )


def test_feed_reports_what_it_did() -> None:
    c = sipwire.Correlator()
    inv = msg("INVITE sip:b@y SIP/2.0", "z9hG4bK-1", 1, "INVITE")
    assert c.feed(inv, time=0.0, src=A, dst=B) == "stored"
    assert c.feed(inv, time=0.5, src=A, dst=B) == "retransmission"
    assert c.feed(b"\x00garbage", time=1.0, src=A, dst=B) == "unparsable"


def test_feed_parsed_messages() -> None:
    c = sipwire.Correlator(keep_messages=True)
    for when, data, src, dst in invite_exchange(0.0, "z9hG4bK-1", 1, "b1", None, None):
        c.feed(sipwire.parse(data), time=when, src=src, dst=dst, transport="tcp")
    (call,) = c.calls()
    assert call.outcome == "answered"
    (t,) = c.transactions()
    assert isinstance(t.request, sipwire.Request)


def test_partial_capture_request_missing() -> None:
    msgs = [m for m in held_call() if not m[1].startswith(b"INVITE")]
    c = correlate(msgs)
    txns = {t.branch: t for t in c.transactions()}
    t = txns["z9hG4bK-1"]
    assert t.method == "INVITE"
    assert t.request is None
    assert t.final_status == 200
    assert [r.status for r in t.responses] == [100, 180, 200]
    assert c.counters["orphan_responses"] >= 3
    (call,) = c.calls()
    # The INVITE was not captured: the call's own outcome, never "answered".
    assert call.outcome == "partial"
    assert call.final_status == 200
    assert call.invite_time is None


@pytest.mark.parametrize(
    ("status", "cancel", "outcome"),
    [
        (200, False, "answered"),
        (486, False, "busy"),
        (487, True, "cancelled"),
        (487, False, "rejected"),
        (404, False, "rejected"),
    ],
)
def test_outcomes(status: int, cancel: bool, outcome: str) -> None:
    msgs = invite_exchange(0.0, "z9hG4bK-1", 1, "b1", None, None, status=status)
    if cancel:
        msgs += [
            (1.0, msg("CANCEL sip:b@y SIP/2.0", "z9hG4bK-1", 1, "CANCEL"), A, B),
            (1.1, msg("SIP/2.0 200 OK", "z9hG4bK-1", 1, "CANCEL", to_tag="b1"), B, A),
        ]
    c = correlate(msgs)
    (call,) = c.calls()
    assert call.outcome == outcome
    assert call.final_status == status
    (t,) = c.transactions()
    assert t.method == "INVITE"  # the ACK of a non-2xx and the CANCEL join their INVITE
    assert t.final_status == status
    if cancel:
        assert t.cancel is not None and t.cancel.method == "CANCEL"
        assert [r.status for r in t.cancel_responses] == [200]
    assert c.outcome_counts()[outcome] == 1
    if status >= 300:
        (d,) = c.dialogs()
        assert d.state == "terminated"  # an early dialog ended by a non-2xx final


def test_timeout_and_in_progress() -> None:
    invite = (0.0, msg("INVITE sip:b@y SIP/2.0", "z9hG4bK-1", 1, "INVITE"), A, B)
    ringing = (0.5, msg("SIP/2.0 180 Ringing", "z9hG4bK-1", 1, "INVITE", to_tag="b1"), B, A)
    c = correlate([invite, ringing])
    (call,) = c.calls()
    assert call.outcome == "in_progress"
    assert call.final_status is None
    (d,) = c.dialogs()
    assert d.state == "early"
    c.finish(100.0)
    assert c.calls()[0].outcome == "timeout"
    c.finish(10.0)
    assert c.calls()[0].outcome == "in_progress"
    short = sipwire.Correlator(timeout=1.0)
    short.feed(invite[1], time=0.0, src=A, dst=B)
    short.finish(5.0)
    assert short.calls()[0].outcome == "timeout"


def test_confirmed_dialog() -> None:
    msgs = invite_exchange(0.0, "z9hG4bK-1", 1, "b1", None, None)
    (d,) = correlate(msgs).dialogs()
    assert d.state == "confirmed"
    assert repr(d).startswith("<CorrelatedDialog")


def test_unparsable_datagrams_counted() -> None:
    msgs = held_call()
    c = sipwire.Correlator()
    junk = [b"", b"\r\n\r\n", b"hello world\r\n\r\n", b"SIP/2.0 999999 No\r\n\r\n", b"\xff" * 40]
    for i, j in enumerate(junk):
        assert c.feed(j, time=float(i), src=A, dst=B) == "unparsable"
    for t, data, src, dst in msgs:
        c.feed(data, time=t, src=src, dst=dst)
    counters = c.counters
    assert counters["unparsable"] == len(junk)
    assert counters["messages"] == len(junk) + len(msgs)
    assert c.calls()[0].outcome == "answered"


def test_uncorrelated_message_counted() -> None:
    c = sipwire.Correlator()
    no_call_id = b"OPTIONS sip:b@y SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    assert c.feed(no_call_id, time=0.0, src=A, dst=B) == "uncorrelated"
    assert c.counters["uncorrelated"] == 1


def test_counters_keys() -> None:
    counters = correlate(held_call()).counters
    for key in (
        "messages",
        "requests",
        "responses",
        "unparsable",
        "retransmissions",
        "transactions",
        "dialogs",
        "calls",
        "dropped",
        "stored_bytes",
        "evicted_answered",
    ):
        assert isinstance(counters[key], int)
    assert counters["calls"] == 1
    assert counters["transactions"] == 4


def test_every_counter_is_documented() -> None:
    """Each key of ``counters`` is named in the stub's docstring, whole or as the ``_suffix``
    of a group (``uncorrelated_``, ``dropped_``, ``evicted_<outcome>``)."""
    import ast
    from pathlib import Path

    stub = Path(sipwire.__file__).with_name("_sipwire.pyi")
    tree = ast.parse(stub.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Correlator")
    prop = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "counters")
    doc = ast.get_docstring(prop) or ""
    for key in sipwire.Correlator().counters:
        group, _, rest = key.partition("_")
        named = f"``{key}``" in doc or (
            group in ("uncorrelated", "dropped") and f"``_{rest}``" in doc
        )
        if group == "evicted" and key != "evicted_calls":
            named = "``evicted_<outcome>``" in doc
        assert named, f"counters[{key!r}] is not in the Correlator.counters docstring"


def test_a_subscription_quiet_past_linger_is_made_anew_and_loses_nothing() -> None:
    """NOTIFYs 70 s apart (past ``linger``): each spell is let go and made again; every
    message is counted as a non-call one, none uncorrelated."""
    c = sipwire.Correlator(keep_messages=False)
    sub = "sub-1"
    fed = [
        c.feed(
            msg("SUBSCRIBE sip:b@y SIP/2.0", "z9hG4bK-s", 1, "SUBSCRIBE", call=sub),
            time=0.0,
            src=A,
            dst=B,
        ),
        c.feed(
            msg("SIP/2.0 200 OK", "z9hG4bK-s", 1, "SUBSCRIBE", to_tag="b1", call=sub),
            time=0.01,
            src=B,
            dst=A,
        ),
    ]
    for i in range(4):
        t = 1.0 + 70.0 * i
        # Other traffic moved the capture clock on meanwhile: the quiet spell is let go.
        assert c.drain_finished(t - 1.0) == []
        notify = msg(
            "NOTIFY sip:a@x SIP/2.0", f"z9hG4bK-n{i}", 10 + i, "NOTIFY", "b1", "a1", call=sub
        )
        fed.append(c.feed(notify, time=t, src=B, dst=A))
        ok = msg("SIP/2.0 200 OK", f"z9hG4bK-n{i}", 10 + i, "NOTIFY", "b1", "a1", call=sub)
        fed.append(c.feed(ok, time=t + 0.01, src=A, dst=B))
    c.finish()
    assert c.drain_all() == []
    assert fed == ["stored"] * 10
    k = c.counters
    assert (k["uncorrelated"], k["calls"], k["non_call_messages"]) == (0, 0, 10)
    assert k["dialogs"] == 4  # one a spell, as documented


def test_bad_arguments() -> None:
    c = sipwire.Correlator(keep_messages=True)
    inv = msg("INVITE sip:b@y SIP/2.0", "z9hG4bK-1", 1, "INVITE")
    with pytest.raises(ValueError, match="src"):
        c.feed(inv, time=0.0, src=("not-an-ip", 5060), dst=B)
    with pytest.raises(ValueError, match="transport"):
        c.feed(inv, time=0.0, src=A, dst=B, transport="carrier-pigeon")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        c.feed(inv.decode(), time=0.0, src=A, dst=B)  # type: ignore[arg-type]
    with pytest.raises(sipwire.LocalProtocolError):
        sipwire.Correlator(timeout=float("nan"))
    assert c.counters["messages"] == 0
    # A time that is no time, or a port that is no port: said, not fed or overflowed.
    for t in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(sipwire.LocalProtocolError, match="time must be a finite number"):
            c.feed(inv, time=t, src=A, dst=B)
        with pytest.raises(sipwire.LocalProtocolError, match="now must be a finite"):
            c.drain_finished(t)
        with pytest.raises(sipwire.LocalProtocolError, match="end_time must be a finite"):
            c.finish(t)
    for port in (65536, -1, 10**30):
        with pytest.raises(sipwire.LocalProtocolError, match=f"port {port} is out of range"):
            c.feed(inv, time=0.0, src=A, dst=(B[0], port))
    # Past 128 bits the int cannot even be converted; a port is not text or a float.
    with pytest.raises(OverflowError):
        c.feed(inv, time=0.0, src=A, dst=(B[0], 2**200))
    for bad in ("5060", 5060.0):
        with pytest.raises(TypeError, match="argument 'dst'"):
            c.feed(inv, time=0.0, src=A, dst=(B[0], bad))  # type: ignore[arg-type]
    # A tuple of the wrong length is said as such; what is no (str, int) tuple is a TypeError
    # naming the argument.
    for end in ((B[0],), (*B, 1)):
        with pytest.raises(sipwire.LocalProtocolError, match=r"dst must .* tuple of length [13]$"):
            c.feed(inv, time=0.0, src=A, dst=end)  # type: ignore[arg-type]
    for end in (list(B), B[0], (B[0].encode(), B[1]), None):
        with pytest.raises(TypeError, match="argument 'src'"):
            c.feed(inv, time=0.0, src=end, dst=B)  # type: ignore[arg-type]
    # A host that is not valid text (a lone surrogate, from a careless decode) is the
    # caller's mistake like any other bad host.
    with pytest.raises(sipwire.LocalProtocolError, match=r"src must .* not valid Unicode text"):
        c.feed(inv, time=0.0, src=("10.0.0.\udc80", 5060), dst=B)
    assert c.counters["messages"] == 0
    c.feed(inv, time=0.0, src=("::1", 5060), dst=("[::1]", 5062))
    assert c.transactions()[0].request is not None


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "192.168.100.200",
        "010.0.0.1",
        "00.0.0.1",
        "256.0.0.1",
        "1.2.3",
        "1.2.3.4.5",
        "1..2.3",
        "1.2.3.4.",
        ".1.2.3",
        "1.2.3.-4",
        "1.2.3.+4",
        "1.2.3.1000",
        "1.2.3.04",
        "1.2.3.00",
        "999.1.1.1",
        "1.2.3.4 ",
        " 1.2.3.4",
        "1.2.3.255",
        "1.2.3.256",
        "１.2.3.4",
        "::ffff:10.0.0.1",
        "[2001:db8::1]",
        "",
    ],
)
def test_addresses_are_read_as_ipaddress_reads_them(host: str) -> None:
    """The address a message was fed with is the one Python's ``ipaddress`` reads, or refused
    (the caller's mistake, a ``ValueError``) when that refuses it."""
    import ipaddress

    c = sipwire.Correlator()
    inv = msg("INVITE sip:b@y SIP/2.0", "z9hG4bK-1", 1, "INVITE")
    try:
        want = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        with pytest.raises(ValueError, match="src must be"):
            c.feed(inv, time=0.0, src=(host, 5060), dst=B)
        return
    assert c.feed(inv, time=0.0, src=(host, 5060), dst=B) == "stored"
    (call,) = c.calls()
    assert call.src is not None and ipaddress.ip_address(call.src[0]) == want
    if want.version == 4:
        assert call.src == (str(want), 5060)  # written back as Python writes it


def test_long_and_non_ascii_ids_read_back_whole() -> None:
    """A transaction's Call-ID and branch past the inline size, multibyte UTF-8 and a byte
    that is no UTF-8 (replaced, as everywhere) come back from the snapshots whole."""
    c = sipwire.Correlator()
    cases = [
        ("x" * 60 + "@host", "z9hG4bK" + "b" * 50, "x" * 60 + "@host"),
        (b"caf\xc3\xa9-\xff@h", "z9hG4bK-2", "caf\u00e9-\ufffd@h"),
        ("OPTIONS-" + "\u00fc" * 20, "z9hG4bK-3", "OPTIONS-" + "\u00fc" * 20),
    ]
    for i, (call, branch, _) in enumerate(cases):
        cid = call if isinstance(call, bytes) else call.encode()
        data = msg("INVITE sip:b@y SIP/2.0", branch, 1, "INVITE", call="@CID@")
        data = data.replace(b"@CID@", cid)
        assert c.feed(data, time=float(i), src=A, dst=B) == "stored"
    got = [(t.call_id, t.branch) for t in c.transactions()]
    assert got == [(want, branch) for _, branch, want in cases]
    assert [k.call_id for k in c.calls()] == [want for _, _, want in cases]


def test_every_ipv4_octet_is_read_and_written_back() -> None:
    """The hand-written IPv4 reader and writer, against Python's own, for every octet value
    in each place."""
    c = sipwire.Correlator()
    hosts = [f"{o}.{(o * 7) % 256}.{255 - o}.{(o * 13) % 256}" for o in range(256)]
    for i, host in enumerate(hosts):
        inv = msg("INVITE sip:b@y SIP/2.0", f"z9hG4bK-{i}", 1, "INVITE", call=f"ip{i}")
        assert c.feed(inv, time=float(i), src=(host, 1000 + i), dst=B) == "stored"
    got = {k.call_id: k.src for k in c.calls()}
    assert got == {f"ip{i}": (h, 1000 + i) for i, h in enumerate(hosts)}


def test_snapshots_do_not_change() -> None:
    c = sipwire.Correlator(keep_messages=True)
    msgs = invite_exchange(0.0, "z9hG4bK-1", 1, "b1", None, None)
    for t, data, src, dst in msgs[:2]:
        c.feed(data, time=t, src=src, dst=dst)
    (before,) = c.transactions()
    for t, data, src, dst in msgs[2:]:
        c.feed(data, time=t, src=src, dst=dst)
    assert [r.status for r in before.responses] == [100]
    assert [r.status for r in c.transactions()[0].responses] == [100, 180, 200]


def test_a_calls_nested_objects_are_made_once_and_kept() -> None:
    """A call's transactions, dialogs and media are made when first read; a snapshot still."""
    c = sipwire.Correlator()
    msgs = held_call()
    half = len(msgs) // 2
    for t, data, src, dst in msgs[:half]:
        c.feed(data, time=t, src=src, dst=dst)
    (early,) = c.calls()
    for t, data, src, dst in msgs[half:]:
        c.feed(data, time=t, src=src, dst=dst)
    (late,) = c.calls()
    # Read after more was fed: the first call object still shows its own moment.
    assert len(early.transactions) < len(late.transactions)
    assert early.transactions[0] is early.transactions[0]
    assert late.dialogs[0] is late.dialogs[0]
    assert [m.offer_time for m in late.media] == [m.offer_time for m in late.media]
    assert late.media[0] is late.media[0]
    # Each list is its own: reading one does not empty another.
    (fresh,) = c.calls()
    assert len(fresh.media) == len(late.media)
    assert len(fresh.dialogs) == 1
    assert [t.method for t in fresh.transactions] == ["INVITE", "INVITE", "INVITE", "BYE"]


# --- issue 13: names, streaming, forks, codecs, outcomes --------------------------------------


def test_names_do_not_collide_with_the_user_agents_call() -> None:
    from sipwire import correlate

    assert correlate.Correlator is sipwire.Correlator
    assert correlate.CorrelatedCall.__name__ == "CorrelatedCall"
    assert sipwire.Call is not correlate.CorrelatedCall  # the UA's
    # The old names still work where they were.
    assert sipwire._sipwire.Call is correlate.CorrelatedCall
    assert sipwire._sipwire.Dialog is correlate.CorrelatedDialog
    assert sipwire._sipwire.Transaction is correlate.CorrelatedTransaction
    (call,) = correlate_calls(held_call())
    assert isinstance(call, correlate.CorrelatedCall)
    assert isinstance(call.media[0], correlate.MediaSession)
    assert isinstance(call.media[0].streams[0], correlate.MediaStream)


def correlate_calls(messages: list[Fed]) -> list[sipwire.correlate.CorrelatedCall]:
    return correlate(messages).calls()


def test_drain_finished_hands_out_and_forgets() -> None:
    c = sipwire.Correlator(keep_messages=False)
    msgs = held_call()
    for t, data, src, dst in msgs:
        c.feed(data, time=t, src=src, dst=dst)
    assert c.drain_finished() == []  # the BYE's linger is not over
    (call,) = c.drain_finished(now=100.0)
    assert call.outcome == "answered"
    assert call.hangup == "caller"
    assert call.caller == "sip:a@x" and call.callee == "sip:b@y"
    assert call.src == A and call.dst == B
    assert call.invites == 3 and call.messages == len(msgs)
    assert call.time_to_answer == pytest.approx(2.0)
    assert call.duration == pytest.approx(28.0)
    # Messages were not kept, what was read of them was.
    (t, *_) = call.transactions
    assert t.request is None and t.request_time == 0.0
    assert [s for _, s in t.statuses] == [100, 180, 200]
    assert c.calls() == [] and c.transactions() == []
    assert c.counters["finished_calls"] == 1
    assert c.outcome_counts()["answered"] == 1
    # A straggler of the finished call is late, not a new call.
    bye_ok = msgs[-1]
    assert c.feed(bye_ok[1], time=101.0, src=bye_ok[2], dst=bye_ok[3]) == "uncorrelated"
    assert c.counters["uncorrelated_late"] == 1
    assert c.drain_all() == []


def test_a_call_id_reused_for_a_new_call_is_not_late() -> None:
    """A device that reuses a Call-ID for its next call (a new From tag) within the finished
    call's linger: a second call, not stragglers; the old INVITE again is still late."""
    c = sipwire.Correlator()
    first = invite_exchange(0.0, "z9hG4bK-r1", 1, "b1", sdp("10.0.0.1", 4000), None, status=486)
    for t, data, src, dst in first:
        c.feed(data, time=t, src=src, dst=dst)
    (done,) = c.drain_finished(now=10.0)
    assert done.outcome == "busy"
    t, data, src, dst = first[0]
    assert c.feed(data, time=11.0, src=src, dst=dst) == "uncorrelated"
    again = [
        (t + 12.0, data.replace(b"tag=a1", b"tag=a2").replace(b"-r1", b"-r2"), src, dst)
        for t, data, src, dst in invite_exchange(
            0.0, "z9hG4bK-r1", 1, "b2", sdp("10.0.0.1", 4002), sdp("10.0.0.2", 5002)
        )
    ]
    assert [c.feed(d, time=t, src=s, dst=r) for t, d, s, r in again] == ["stored"] * len(again)
    (call,) = c.calls()
    assert (call.outcome, call.invite_time, call.answer_time) == ("answered", 12.0, 14.0)
    assert call.media[0].answerer_rtp == ("10.0.0.2", 5002)
    assert c.counters["uncorrelated_late"] == 1


def session_progress(t: float, branch: str, to_tag: str, body: str) -> Fed:
    """B's 183 with SDP to the INVITE of CSeq 1 on ``branch``."""
    status = "SIP/2.0 183 Session Progress"
    return (t, msg(status, branch, 1, "INVITE", to_tag=to_tag, body=body), B, A)


def test_ringback_from_a_media_server_is_a_media_session_of_its_own() -> None:
    """A 183 whose SDP is a media server's (ringback), then the phone's in the 200: two
    sessions of the one dialog, the 183's early, in any feed order."""
    ring = session_progress(0.5, "z9hG4bK-e", "b1", sdp("10.0.0.9", 7000))
    fed = invite_exchange(0.0, "z9hG4bK-e", 1, "b1", sdp("10.0.0.1", 4000), sdp("10.0.0.2", 5000))
    fed.append(ring)
    for order in (fed, fed[::-1]):
        c = sipwire.Correlator()
        for t, data, src, dst in order:
            c.feed(data, time=t, src=src, dst=dst)
        (call,) = c.calls()
        got = [(m.early, m.answer_time, m.answerer_rtp, m.to_tag) for m in call.media]
        assert got == [
            (True, 0.5, ("10.0.0.9", 7000), "b1"),
            (False, 2.0, ("10.0.0.2", 5000), "b1"),
        ]
        assert (call.outcome, call.early_media) == ("answered", True)


def fork_messages() -> list[Fed]:
    offer = (
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
    out: list[Fed] = [
        (0.0, msg("INVITE sip:b@y SIP/2.0", "z9hG4bK-f", 1, "INVITE", body=offer), A, B),
    ]
    for k, (tag, fmts) in enumerate([("p1", "8"), ("p2", "0 8"), ("p3", "101 0")]):
        answer = (
            f"v=0\r\no=- 1 1 IN IP4 10.0.1.{k}\r\ns=-\r\nc=IN IP4 10.0.1.{k}\r\nt=0 0\r\n"
            f"m=audio {5000 + k} RTP/AVP {fmts}\r\n"
        )
        t = 1.0 + k
        out.append(
            (t, msg("SIP/2.0 200 OK", "z9hG4bK-f", 1, "INVITE", to_tag=tag, body=answer), B, A)
        )
        out.append(
            (t + 0.1, msg("ACK sip:b@y SIP/2.0", f"z9hG4bK-a{k}", 1, "ACK", to_tag=tag), A, B)
        )
    return out


def test_forked_call_has_a_media_session_per_dialog() -> None:
    msgs = fork_messages()
    for seed in range(6):
        random.Random(seed).shuffle(msgs)
        (call,) = correlate_calls(msgs)
        assert call.outcome == "answered"
        assert call.invites == 1
        assert [d.to_tag for d in call.dialogs] == ["p1", "p2", "p3"]
        assert [m.to_tag for m in call.media] == ["p1", "p2", "p3"]
        assert [m.answerer_rtp for m in call.media] == [
            ("10.0.1.0", 5000),
            ("10.0.1.1", 5001),
            ("10.0.1.2", 5002),
        ]
        streams = [m.streams[0] for m in call.media]
        assert [s.codec for s in streams] == ["PCMA", "PCMU", "PCMU"]
        assert streams[0].offer_payload_types == [0, 8, 101]
        assert streams[0].offer_codecs == ["PCMU", "PCMA", "telephone-event"]
        assert streams[2].answer_payload_types == [101, 0]
        assert streams[2].codec_payload_type == 0


def test_early_media_and_partial_outcomes() -> None:
    offer = sdp("10.0.0.1", 4000)
    early = [
        (0.0, msg("INVITE sip:b@y SIP/2.0", "z9hG4bK-e", 1, "INVITE", body=offer), A, B),
        session_progress(0.5, "z9hG4bK-e", "b1", sdp("10.0.0.2", 5000)),
    ]
    c = correlate(early, end=1000.0)
    (call,) = c.calls()
    assert call.outcome == "early_media" and call.early_media
    assert call.media[0].early and call.media[0].answer_time == 0.5
    assert c.outcome_counts()["early_media"] == 1
    # A capture that saw only a BYE and its response: partial, not answered.
    bye = [m for m in held_call() if m[0] >= 30.0]
    (call,) = correlate_calls(bye)
    assert call.outcome == "partial"
    assert call.end_time == 30.0 and call.answer_time is None
    assert call.caller is None and call.callee is None


def test_a_partial_calls_caller_is_its_earliest_invites_sender() -> None:
    """Seen from the callee's re-INVITE on: the re-INVITE's From and To, as the stub says
    (whoever sent it), and the hangup told relative to them."""

    def from_callee(m: bytes) -> bytes:
        return m.replace(b"From: <sip:a@x>", b"From: <sip:b@y>").replace(
            b"To: <sip:b@y>", b"To: <sip:a@x>"
        )

    reinvite = from_callee(msg("INVITE sip:a@x SIP/2.0", "z9hG4bK-r", 1, "INVITE", "b1", "a1"))
    ok = from_callee(msg("SIP/2.0 200 OK", "z9hG4bK-r", 1, "INVITE", "b1", "a1"))
    bye = from_callee(msg("BYE sip:a@x SIP/2.0", "z9hG4bK-b", 2, "BYE", "b1", "a1"))
    (call,) = correlate_calls([(0.0, reinvite, B, A), (0.1, ok, A, B), (5.0, bye, B, A)])
    assert call.outcome == "partial"
    assert (call.caller, call.callee, call.hangup) == ("sip:b@y", "sip:a@x", "caller")


def test_uncorrelated_reasons_are_counted() -> None:
    c = sipwire.Correlator()
    no_cseq = msg("OPTIONS sip:b@y SIP/2.0", "z9hG4bK-o", 1, "OPTIONS").replace(
        b"CSeq: 1 OPTIONS\r\n", b""
    )
    bad_via = msg("OPTIONS sip:b@y SIP/2.0", "z9hG4bK-o", 1, "OPTIONS").replace(
        b"10.0.0.1:5060", b"10.0.0.1:99999"
    )
    # No response to an ACK exists (RFC 3261 §17.1.1.3): not the INVITE's, whose key it shares.
    ack_response = msg("SIP/2.0 200 OK", "z9hG4bK-i", 1, "ACK", to_tag="b1")
    assert c.feed(no_cseq, time=0.0, src=A, dst=B) == "uncorrelated"
    assert c.feed(bad_via, time=0.0, src=A, dst=B) == "uncorrelated"
    assert c.feed(ack_response, time=0.0, src=B, dst=A) == "uncorrelated"
    counters = c.counters
    assert counters["uncorrelated"] == 3
    assert counters["uncorrelated_bad_cseq"] == 1
    assert counters["uncorrelated_bad_via"] == 1
    assert counters["uncorrelated_ack_response"] == 1
    assert counters["uncorrelated_no_call_id"] == 0
    assert c.calls() == []


def test_constructor_checks_its_arguments() -> None:
    with pytest.raises(sipwire.LocalProtocolError, match="linger"):
        sipwire.Correlator(linger=-1.0)
    with pytest.raises(sipwire.LocalProtocolError, match="max_calls"):
        sipwire.Correlator(max_calls=0)
    c = sipwire.Correlator(max_calls=2, keep_messages=False)
    for i in range(5):
        c.feed(
            msg("INVITE sip:b@y SIP/2.0", "z9hG4bK-m", 1, "INVITE", call=f"m{i}"),
            time=float(i),
            src=A,
            dst=B,
        )
    assert c.counters["evicted_calls"] == 3
    evicted = c.drain_finished(now=0.0)
    assert len(evicted) == 3 and all(e.evicted for e in evicted)


# Multi-hop traffic: a capture on the proxy's host sees each message twice, once on each hop
# (caller A -> proxy P -> callee B). A proxy that stays on the path adds its own Via (with
# its own branch) to what it forwards and takes it off the responses: the same message on
# another hop, never a retransmission. A retransmission is the same sender sending the same
# message again on the same hop.
P = ("10.0.0.9", 5060)


def hop_msg(
    start: str,
    vias: list[tuple[tuple[str, int], str]],
    cseq: int,
    cseq_method: str,
    to_tag: str = "",
    body: str | None = None,
    call: str = "call-px",
) -> bytes:
    """A message with these Vias (top first), each (sent-by, branch)."""
    via = "".join(f"Via: SIP/2.0/UDP {h}:{p};branch={b}\r\n" for (h, p), b in vias)
    to = f";tag={to_tag}" if to_tag else ""
    ct = "Content-Type: application/sdp\r\n" if body is not None else ""
    b = body or ""
    return (
        f"{start}\r\n{via}From: <sip:a@x>;tag=a1\r\nTo: <sip:b@y>{to}\r\nCall-ID: {call}\r\n"
        f"CSeq: {cseq} {cseq_method}\r\n{ct}Content-Length: {len(b.encode())}\r\n\r\n{b}"
    ).encode()


def proxied_call(final: int = 200, call: str = "call-px") -> list[Fed]:
    """INVITE through P (both hops, answered with `final` or cancelled when 487), then the
    2xx ACK (a new branch on each hop, §13.2.2.4) and a BYE from B (both hops)."""
    va, vp = (A, "z9hG4bK-a-inv"), (P, "z9hG4bK-p-inv")
    offer, answer = sdp("10.0.0.1", 4000), sdp("10.0.0.2", 5000)
    inv = "INVITE sip:b@y SIP/2.0"
    out: list[Fed] = [
        (0.00, hop_msg(inv, [va], 1, "INVITE", body=offer, call=call), A, P),
        (0.005, hop_msg("SIP/2.0 100 Trying", [va], 1, "INVITE", call=call), P, A),
        (0.01, hop_msg(inv, [vp, va], 1, "INVITE", body=offer, call=call), P, B),
        (0.02, hop_msg("SIP/2.0 100 Trying", [vp, va], 1, "INVITE", call=call), B, P),
        (0.50, hop_msg("SIP/2.0 180 Ringing", [vp, va], 1, "INVITE", "b1", call=call), B, P),
        (0.51, hop_msg("SIP/2.0 180 Ringing", [va], 1, "INVITE", "b1", call=call), P, A),
    ]
    if final == 487:
        # CANCEL and the non-2xx ACK are hop by hop: each hop's INVITE branch (§9.1, §17.1.1.3).
        ok, term = "SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated"
        out += [
            (1.00, hop_msg("CANCEL sip:b@y SIP/2.0", [va], 1, "CANCEL", call=call), A, P),
            (1.005, hop_msg(ok, [va], 1, "CANCEL", call=call), P, A),
            (1.01, hop_msg("CANCEL sip:b@y SIP/2.0", [vp], 1, "CANCEL", call=call), P, B),
            (1.02, hop_msg(ok, [vp], 1, "CANCEL", call=call), B, P),
            (1.03, hop_msg(term, [vp, va], 1, "INVITE", "b1", call=call), B, P),
            (1.04, hop_msg("ACK sip:b@y SIP/2.0", [vp], 1, "ACK", "b1", call=call), P, B),
            (1.05, hop_msg(term, [va], 1, "INVITE", "b1", call=call), P, A),
            (1.06, hop_msg("ACK sip:b@y SIP/2.0", [va], 1, "ACK", "b1", call=call), A, P),
        ]
        return out
    ok = "SIP/2.0 200 OK"
    ack_a, ack_p = (A, "z9hG4bK-a-ack"), (P, "z9hG4bK-p-ack")
    bye_b, bye_p = (B, "z9hG4bK-b-bye"), (P, "z9hG4bK-p-bye")
    out += [
        (2.00, hop_msg(ok, [vp, va], 1, "INVITE", "b1", body=answer, call=call), B, P),
        (2.01, hop_msg(ok, [va], 1, "INVITE", "b1", body=answer, call=call), P, A),
        (2.10, hop_msg("ACK sip:b@y SIP/2.0", [ack_a], 1, "ACK", "b1", call=call), A, P),
        (2.11, hop_msg("ACK sip:b@y SIP/2.0", [ack_p, ack_a], 1, "ACK", "b1", call=call), P, B),
        (10.0, hop_msg("BYE sip:a@x SIP/2.0", [bye_b], 1, "BYE", "b1", call=call), B, P),
        (10.01, hop_msg("BYE sip:a@x SIP/2.0", [bye_p, bye_b], 1, "BYE", "b1", call=call), P, A),
        (10.02, hop_msg(ok, [bye_p, bye_b], 1, "BYE", "b1", call=call), A, P),
        (10.03, hop_msg(ok, [bye_b], 1, "BYE", "b1", call=call), P, B),
    ]
    return out


@pytest.mark.parametrize("final", [200, 487])
def test_a_message_on_two_hops_is_not_a_retransmission(final: int) -> None:
    msgs = proxied_call(final)
    for seed in range(8):
        random.Random(seed).shuffle(msgs)
        c = correlate(msgs)
        (call,) = c.calls()
        assert call.retransmissions == 0, seed
        assert c.counters["retransmissions"] == 0
        assert all(t.retransmissions == 0 for t in c.transactions())
        assert call.outcome == ("answered" if final == 200 else "cancelled")
        assert call.invite_time == 0.0
        assert call.ringing_time == 0.5
        assert len(call.dialogs) == 1
        if final == 200:
            assert call.answer_time == 2.0 and call.end_time == 10.0
            (m,) = call.media
            assert m.offerer_rtp == ("10.0.0.1", 4000)
            assert m.answerer_rtp == ("10.0.0.2", 5000)


def test_retransmissions_on_each_hop_are_counted_once_per_sending() -> None:
    msgs = proxied_call()
    by_time = {t: (data, src, dst) for t, data, src, dst in msgs}
    # A resends its INVITE (Timer A) on hop A->P; B resends its 200 (§13.3.1.4) and P
    # forwards that copy (§16.7 step 5): a second sending on each hop; A answers each 200
    # with its ACK again, and P forwards it.
    again = [(0.5, 0.0), (2.5, 2.0), (2.51, 2.01), (2.6, 2.1), (2.61, 2.11)]
    extra = [(t, *by_time[first]) for t, first in again]
    # The same packet captured at a second point (beyond a NAT: other addresses, the same
    # bytes) is not sent again either.
    data, _, dst = by_time[0.0]
    extra.append((0.001, data, ("192.0.2.1", 1024), dst))
    all_msgs = msgs + extra
    for seed in range(8):
        random.Random(seed).shuffle(all_msgs)
        c = correlate(all_msgs)
        (call,) = c.calls()
        assert call.retransmissions == len(again), seed
        assert c.counters["retransmissions"] == len(again)
        assert call.invite_time == 0.0 and call.answer_time == 2.0


def test_a_retransmission_fed_first_is_still_one() -> None:
    msgs = proxied_call()
    ack = next(m for m in msgs if m[0] == 2.11)
    c = sipwire.Correlator()
    # The later copy first: whichever copy is fed first, one ACK on P->B was sent twice.
    assert c.feed(ack[1], time=2.7, src=P, dst=B) == "parked"
    for t, data, src, dst in msgs:
        c.feed(data, time=t, src=src, dst=dst)
    (call,) = c.calls()
    assert call.retransmissions == 1


def info_dtmf(t: float, branch: str, cseq: int, ctype: str, body: str, src=A, dst=B) -> Fed:
    """An INFO of the answered call with its own body type."""
    head = msg("INFO sip:b@y SIP/2.0", branch, cseq, "INFO", to_tag="b1")
    head = head.replace(b"Content-Length: 0\r\n\r\n", b"")
    data = head + f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode()
    return (t, data, src, dst)


def test_dtmf_sent_in_info_requests() -> None:
    """Digits of INFO requests (application/dtmf-relay, application/dtmf), a resend among them,
    fed in any order: one per request, at its first copy; other INFO bodies are no digit."""
    call = invite_exchange(0.0, "z9hG4bK-1", 1, "b1", sdp("10.0.0.1", 4000), sdp("10.0.0.2", 5000))
    relay = "application/dtmf-relay"
    infos = [
        info_dtmf(5.0, "z9hG4bK-i2", 2, relay, "Signal=4\r\nDuration=120\r\n"),
        info_dtmf(5.5, "z9hG4bK-i2", 2, relay, "Signal=4\r\nDuration=120\r\n"),
        info_dtmf(6.0, "z9hG4bK-i3", 3, "application/dtmf", "*"),
        info_dtmf(7.0, "z9hG4bK-i4", 4, "application/pidf+xml", "<presence/>"),
        info_dtmf(8.0, "z9hG4bK-i5", 5, relay, "Signal=16\r\n"),
    ]
    messages = call + infos
    for seed in range(4):
        random.Random(seed).shuffle(messages)
        c = correlate(messages)
        (got,) = c.calls()
        assert got.dtmf == [(5.0, "4", 120), (6.0, "*", None), (8.0, "flash", None)]
        assert c.counters["info_dtmf"] == 3 and c.counters["dropped_info_dtmf"] == 0
        assert c.counters["retransmissions"] == 1
