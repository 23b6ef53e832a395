"""Hypothesis properties of the parser."""

from __future__ import annotations

from conftest import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sipwire

CORPUS = [p.read_bytes() for p in sorted((DATA / "rfc4475").glob("*.dat"))] + [
    p.read_bytes() for p in sorted((DATA / "rfc5118" / "fixed").glob("*.sip"))
]

token = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~",
    min_size=1,
    max_size=12,
)
unreserved = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()",
    min_size=1,
    max_size=12,
)
value = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(
    str.strip
)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    method = draw(
        st.sampled_from(
            [
                "INVITE",
                "ACK",
                "BYE",
                "CANCEL",
                "REGISTER",
                "OPTIONS",
                "INFO",
                "PRACK",
                "SUBSCRIBE",
                "NOTIFY",
                "PUBLISH",
                "MESSAGE",
                "REFER",
                "UPDATE",
            ]
        )
        | token
    )
    user = draw(unreserved)
    host = draw(st.sampled_from(["example.com", "192.0.2.1", "[2001:db8::1]", "h.example.org"]))
    port = draw(st.none() | st.integers(1, 65535))
    hp = host + (f":{port}" if port else "")
    branch = "z9hG4bK" + draw(token)
    seq = draw(st.integers(0, 2**31 - 1))
    extra = draw(st.lists(st.tuples(token.map(lambda t: "X-" + t), value), max_size=5))
    body = draw(st.binary(max_size=64))
    lines = [
        f"{method} sip:{user}@{hp} SIP/2.0",
        f"Via: SIP/2.0/UDP {hp};branch={branch}",
        "Max-Forwards: 70",
        f"To: <sip:{user}@{host}>",
        f'From: "{user}" <sip:{user}@{host}>;tag={draw(token)}',
        f"Call-ID: {draw(token)}@{draw(token)}",
        f"CSeq: {seq} {method}",
    ]
    lines += [f"{n}: {v}" for n, v in extra]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@given(requests())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_round_trip(data: bytes) -> None:
    m = sipwire.parse(data)
    assert bytes(m) == data
    m2 = sipwire.parse(bytes(m))
    assert m2 == m
    assert m2.via[0].branch == m.via[0].branch
    assert m.diagnostics == []


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
