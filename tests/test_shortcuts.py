"""The message shortcuts (`from_tag`, `to_tag`, `branch`, `cseq_number`, `cseq_method`) give
what the typed objects give (`from_.tag`, `to.tag`, `via[0].branch`, `cseq.seq`,
`cseq.method`), errors included, on generated messages and on
mutated torture messages: the shortcuts read common shapes in one pass and leave every
other shape to the same full parse the objects use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sipwire
from sipwire import strategies as sips

CORPUS = [p.read_bytes() for p in sorted((DATA / "rfc4475").glob("*.dat"))] + [
    p.read_bytes() for p in sorted((DATA / "rfc5118" / "fixed").glob("*.sip"))
]
BENCH = [p.read_bytes() for p in sorted((DATA.parent.parent / "benches" / "data").glob("*.sip"))]


def _outcome(read: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        return ("value", read())
    except sipwire.ParseError as e:
        return ("error", e.kind, e.offset)


def _tag(addr: Any) -> Any:
    return None if addr is None else addr.tag


def _cseq(m: sipwire.Request | sipwire.Response) -> Any:
    c = m.cseq
    return None if c is None else (c.seq, c.method)


def _check(m: sipwire.Request | sipwire.Response) -> None:
    assert _outcome(lambda: (m.cseq_number, m.cseq_method)) == _outcome(
        lambda: _cseq(m) or (None, None)
    )
    assert _outcome(lambda: m.from_tag) == _outcome(lambda: _tag(m.from_))
    assert _outcome(lambda: m.to_tag) == _outcome(lambda: _tag(m.to))
    via = _outcome(lambda: m.via[0].branch if m.via else None)
    if via[0] == "value":
        # The Via list also checks every later item; the branch reads only the first.
        assert _outcome(lambda: m.branch) == via


def _parse_both(data: bytes) -> list[sipwire.Request | sipwire.Response]:
    out = []
    for strict in (True, False):
        try:
            out.append(sipwire.parse(data, strict=strict))
        except sipwire.ParseError:
            pass
    return out


def test_the_bench_messages() -> None:
    assert len(BENCH) == 3
    for data in BENCH + CORPUS:
        for m in _parse_both(data):
            _check(m)


@given(sips.messages())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_generated_messages(m: sipwire.Request | sipwire.Response) -> None:
    _check(m)
    assert m.from_tag == m.from_.tag and m.branch == m.via[0].branch
    assert m.cseq is not None and (m.cseq_number, m.cseq_method) == (m.cseq.seq, m.cseq.method)


@given(st.sampled_from(BENCH + CORPUS), st.data())
@settings(max_examples=1000, deadline=None)
def test_mutated_messages(base: bytes, data: st.DataObject) -> None:
    # Patches land in the head, where the From, To and Via lines are.
    head = base.find(b"\r\n\r\n")
    n = head if head > 0 else len(base)
    i = data.draw(st.integers(0, n))
    j = data.draw(st.integers(i, min(n, i + 8)))
    patch = data.draw(st.binary(max_size=8) | st.sampled_from([b";", b"<", b">", b'"', b" ", b","]))
    for m in _parse_both(base[:i] + patch + base[j:]):
        _check(m)
