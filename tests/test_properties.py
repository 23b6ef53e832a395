"""Hypothesis properties of the parser."""

from __future__ import annotations

from conftest import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sipwire
from sipwire import strategies as sips

CORPUS = [p.read_bytes() for p in sorted((DATA / "rfc4475").glob("*.dat"))] + [
    p.read_bytes() for p in sorted((DATA / "rfc5118" / "fixed").glob("*.sip"))
]


@given(sips.messages(), st.booleans())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_round_trip(m: sipwire.Request | sipwire.Response, validate: bool) -> None:
    data = bytes(m)
    again = sipwire.parse(data, validate=validate)
    assert bytes(again) == data
    assert again == m
    assert again.branch == m.via[0].branch
    assert again.diagnostics == []


def _touch(m: sipwire.Request | sipwire.Response) -> None:
    for attr in (
        "call_id",
        "cseq",
        "from_",
        "to",
        "via",
        "contact",
        "max_forwards",
        "expires",
        "content_type",
        "body",
        "diagnostics",
        "route",
        "record_route",
    ):
        try:
            getattr(m, attr)
        except sipwire.ParseError:
            pass
    list(m.headers)
    repr(m)


@given(st.binary(max_size=512))
@settings(max_examples=500)
def test_arbitrary_bytes_give_a_message_or_parse_error(data: bytes) -> None:
    for strict in (True, False):
        try:
            m = sipwire.parse(data, strict=strict)
        except sipwire.ParseError:
            continue
        _touch(m)


@given(st.sampled_from(CORPUS), st.data())
@settings(max_examples=500)
def test_mutated_corpus_never_breaks_the_parser(base: bytes, data: st.DataObject) -> None:
    n = len(base)
    i = data.draw(st.integers(0, n))
    j = data.draw(st.integers(i, min(n, i + 16)))
    patch = data.draw(st.binary(max_size=16))
    mutated = base[:i] + patch + base[j:]
    for strict in (True, False):
        try:
            m = sipwire.parse(mutated, strict=strict)
        except sipwire.ParseError as e:
            assert 0 <= e.offset <= len(mutated)
            continue
        _touch(m)


@given(st.sampled_from(CORPUS), st.lists(st.integers(1, 64), min_size=1, max_size=20))
@settings(max_examples=200)
def test_stream_chunking_does_not_change_the_messages(base: bytes, cuts: list[int]) -> None:
    try:
        whole = sipwire.parse(base)
    except sipwire.ParseError:
        return
    if whole.content_length is None:
        return
    data = bytes(whole)[: len(bytes(whole)) - whole.trailing_bytes] * 2
    p = sipwire.StreamParser()
    out = []
    pos = 0
    for c in cuts * 50:
        if pos >= len(data):
            break
        p.feed(data[pos : pos + c])
        pos += c
        out.extend(p)
    p.feed(data[pos:])
    out.extend(p)
    assert len(out) == 2 and all(m == out[0] for m in out)
