"""sipwire.strategies: valid values parse back equal; hostile ones never break the parser."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sipwire
from sipwire import strategies as sips

FAST = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@FAST
@given(sips.messages())
def test_messages_parse_back_equal(m: sipwire.Request | sipwire.Response) -> None:
    again = sipwire.parse(bytes(m))
    assert again == m
    assert m.diagnostics == []
    assert m.via and m.via[0].has_rfc3261_branch


@FAST
@given(sips.requests(method="INVITE"))
def test_requests_with_a_method(m: sipwire.Request) -> None:
    assert m.method == "INVITE" and m.cseq is not None and m.cseq.method == "INVITE"
    if m.body:
        assert m.sdp is not None


@FAST
@given(sips.responses(status=486))
def test_responses_with_a_status(m: sipwire.Response) -> None:
    assert m.status == 486 and m.to is not None and m.to.tag


@FAST
@given(sips.uris())
def test_uris(text: str) -> None:
    u = sipwire.parse_uri(text)
    assert str(u) == text and u == sipwire.parse_uri(str(u))


@FAST
@given(sips.name_addrs(tag=True), sips.vias())
def test_name_addrs_and_vias(na: str, via: str) -> None:
    data = (
        "OPTIONS sip:a@example.com SIP/2.0\r\n"
        f"Via: {via}\r\nTo: {na}\r\nFrom: {na}\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    m = sipwire.parse(data)
    assert m.from_ is not None and m.from_.tag
    assert str(m.via[0]) == via


@FAST
@given(sips.sdps())
def test_sdps(body: bytes) -> None:
    sd = sipwire.sdp.parse(body)
    assert bytes(sd) == body and sd.media


@FAST
@given(sips.multiparts())
def test_multiparts(part: tuple[str, bytes]) -> None:
    ctype, body = part
    data = (
        "MESSAGE sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        "To: <sip:a@example.com>\r\nFrom: <sip:b@example.com>;tag=1\r\nCall-ID: c\r\n"
        f"CSeq: 1 MESSAGE\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    assert sipwire.parse(data).sdp is not None


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(sips.hostile())
def test_hostile_bytes_give_a_message_or_parse_error(data: bytes) -> None:
    for strict in (True, False):
        try:
            m = sipwire.parse(data, strict=strict)
        except sipwire.ParseError:
            continue
        # A lazy parse checks a typed header when it is read.
        for attr in ("via", "from_", "to", "cseq", "call_id", "contact", "sdp", "diagnostics"):
            try:
                getattr(m, attr)
            except sipwire.ParseError:
                pass
        list(m.headers)


@pytest.mark.parametrize("name", sorted(sips.HOSTILE_CLASSES))
def test_each_hostile_class_can_be_chosen(name: str) -> None:
    @settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow], deadline=None)
    @given(sips.hostile(classes=[name], max_mutations=1))
    def run(data: bytes) -> None:
        assert isinstance(data, bytes)
        try:
            sipwire.parse(data)
        except sipwire.ParseError:
            pass

    run()


def test_unknown_hostile_class_is_refused() -> None:
    @given(sips.hostile(classes=["nope"]))
    def run(data: bytes) -> None:
        raise AssertionError("never reached")

    with pytest.raises(ValueError, match="unknown hostile classes"):
        run()


@FAST
@given(st.from_type(sipwire.Request), st.from_type(sipwire.Uri))
def test_registered_with_hypothesis(r: sipwire.Request, u: sipwire.Uri) -> None:
    assert isinstance(r, sipwire.Request) and isinstance(u, sipwire.Uri)


def test_importing_strategies_first_works() -> None:
    # Importing hypothesis loads sipwire.strategies through its entry point; when the
    # user's first import is sipwire.strategies itself, that entry point finds it half-built.
    code = (
        "from sipwire import strategies\n"
        "import hypothesis.strategies as st, sipwire\n"
        "assert isinstance(st.from_type(sipwire.Request).example(), sipwire.Request)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
