"""The capture correlator from Python: ``sipwire.Correlator`` fed a generated capture of SIPp-like
calls (``capture.py``: INVITE/100/180/200/ACK/BYE/200, ~600 calls overlapping), then asked for
its calls. Time per message; messages per second is its inverse.

The correlator does much more than any baseline here: transactions (RFC 3261 §17 keys,
retransmissions), dialogs, offer/answer and RTP endpoints, hold periods, bounded tables. The
baselines do the part of it a script usually wants, in plain Python: parse each message and group
by Call-ID, keeping per call the INVITE time, the first 1xx (ringing), the first 2xx to the
INVITE (answer) and the first BYE (end). They are there to show what parsing alone costs with
each library, not as equals of the correlator.

The correlator is timed as made by default (no message bytes kept) and with
``keep_messages=True`` (every transaction's messages kept, for reading them back).

Checked once, untimed: the correlator counts every message, finds every call answered with one
media session, and its per-call INVITE, ringing, answer and end times are the baseline's.

Run: ``.venv/bin/python -m pytest benches --benchmark-only -q``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from capture import Packet, capture
from conftest import optional

import sipwire

aiosipua = optional("aiosipua")
sippy_request = optional("sippy.SipRequest")
sippy_response = optional("sippy.SipResponse")

GROUP = "correlator: 5000 calls, 35000 messages"
CALLS = 5000

# per call: [invite time, ringing time, answer time, end time]
Times = list[Any]


@pytest.fixture(scope="module")
def packets() -> list[Packet]:
    return capture(CALLS)


# --- sipwire.Correlator ----------------------------------------------------------------------


def correlate(packets: list[Packet], keep: bool = False) -> tuple[sipwire.Correlator, list[Any]]:
    c = sipwire.Correlator(keep_messages=keep)
    feed = c.feed
    for t, src, dst, data in packets:
        feed(data, time=t, src=src, dst=dst)
    return c, c.calls()  # returned, so dropping them is not timed


# --- baselines: parse + group by Call-ID -----------------------------------------------------


def group(
    parsed: Callable[[bytes], tuple[str, Any, str]], packets: list[Packet]
) -> dict[str, Times]:
    """``parsed(data)`` gives (Call-ID, method or status, CSeq method)."""
    calls: dict[str, Times] = {}
    for t, _src, _dst, data in packets:
        call_id, kind, cseq_method = parsed(data)
        c = calls.get(call_id)
        if c is None:
            c = calls[call_id] = [None, None, None, None]
        if cseq_method == "INVITE":
            if kind == "INVITE":
                if c[0] is None:
                    c[0] = t
            elif isinstance(kind, int):
                if 180 <= kind < 200 and c[1] is None:
                    c[1] = t
                elif 200 <= kind < 300 and c[2] is None:
                    c[2] = t
        elif cseq_method == "BYE" and c[3] is None:
            c[3] = t
    return calls


def sipwire_parsed(data: bytes) -> tuple[str, Any, str]:
    m = sipwire.parse(data)
    kind = m.method if isinstance(m, sipwire.Request) else m.status
    return m.call_id, kind, m.cseq.method


def sippy_parsed(data: bytes) -> tuple[str, Any, str]:
    s = data.decode()
    if s.startswith("SIP/2.0 "):
        r = sippy_response.SipResponse(buf=s)
        kind: Any = r.getSCode()[0]
        m: Any = r
    else:
        m = sippy_request.SipRequest(buf=s)
        kind = m.getMethod()
    return m.getHFBody("call-id").body, kind, m.getHFBody("cseq").getCSeqMethod()


def aiosipua_parsed(data: bytes) -> tuple[str, Any, str]:
    m = aiosipua.SipMessage.parse(data)
    kind = m.method if isinstance(m, aiosipua.SipRequest) else m.status_code
    return m.call_id, kind, m.cseq.method


BASELINES: dict[str, tuple[str | None, Callable[[bytes], tuple[str, Any, str]]]] = {
    "sipwire.parse + dict": (None, sipwire_parsed),
    "sippy + dict": ("sippy", sippy_parsed),
    "aiosipua + dict": ("aiosipua", aiosipua_parsed),
}


def _expected(packets: list[Packet]) -> dict[str, Times]:
    calls = group(sipwire_parsed, packets)
    assert len(calls) == CALLS and all(None not in c for c in calls.values())
    return calls


# --- the cases -------------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [False, True], ids=["default", "keep_messages"])
@pytest.mark.benchmark(group=GROUP)
def test_correlator_sipwire(benchmark: Any, packets: list[Packet], keep: bool) -> None:
    c, calls = correlate(packets, keep)
    assert c.counters["messages"] == len(packets) and c.counters["unparsable"] == 0
    assert len(calls) == CALLS
    assert all(k.outcome == "answered" and len(k.media) == 1 for k in calls)
    want = _expected(packets)
    got = {k.call_id: [k.invite_time, k.ringing_time, k.answer_time, k.end_time] for k in calls}
    assert got == want
    assert (c.counters["stored_bytes"] > 0) == keep
    library = "sipwire.Correlator" + ("(keep_messages=True)" if keep else "")
    benchmark.extra_info.update(library=library, messages=len(packets))
    benchmark(correlate, packets, keep)


@pytest.mark.parametrize("baseline", list(BASELINES))
@pytest.mark.benchmark(group=GROUP)
def test_correlator_baseline(benchmark: Any, packets: list[Packet], baseline: str) -> None:
    module, parsed = BASELINES[baseline]
    if module:
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -e .[bench])")
    assert group(parsed, packets) == _expected(packets)
    benchmark.extra_info.update(library=baseline, messages=len(packets))
    benchmark(group, parsed, packets)
