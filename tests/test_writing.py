"""Building and editing messages: byte-exact where untouched, injection refused."""

from __future__ import annotations

import pytest
from test_message import INVITE, req

import sipwire


def test_response_per_rfc3261_8_2_6() -> None:
    r = req().response(180, to_tag="abc")
    assert isinstance(r, sipwire.Response)
    assert (r.status, r.reason) == (180, "Ringing")
    assert [v.branch for v in r.via] == [v.branch for v in req().via]
    assert r.to is not None and r.to.tag == "abc"
    assert r.from_ is not None and r.from_.tag == "1928301774"
    assert r.call_id == req().call_id and r.cseq == req().cseq
    assert r.content_length == 0
    auto = req().response(200)
    assert auto.to is not None and auto.to.tag and len(auto.to.tag) >= 8
    trying = req().response(100)
    assert trying.to is not None and trying.to.tag is None
    with_body = req().response(
        200, "OK", headers=[("Content-Type", "application/sdp")], body=b"v=0\r\n"
    )
    assert with_body.body == b"v=0\r\n" and with_body.content_length == 5


def test_edits_keep_untouched_lines() -> None:
    m = req()
    m2 = m.with_header("X-Test", "1").replace_header("Max-Forwards", "69").without_header("Subject")
    assert m2.max_forwards == 69
    assert m2.headers.get("x-test") == "1"
    assert "Subject" not in m2.headers
    assert (
        b'From: "Alice \\"A\\" L." <sip:alice@atlanta.example.com>;tag=1928301774;x=y\r\n'
        in bytes(m2)
    )
    top = m.with_header("Via", "SIP/2.0/UDP proxy;branch=z9hG4bKp", first=True)
    assert top.via[0].host == "proxy" and len(top.via) == 4
    body = m.with_body(b"hello world", "text/plain")
    assert body.body == b"hello world" and body.content_length == 11
    assert body.content_type == "text/plain"
    assert m == req()  # the original is immutable


@pytest.mark.parametrize("value", ["a\r\nVia: evil", "a\nb", "a\rb", "a\x00b"])
def test_injection_is_refused(value: str) -> None:
    m = req()
    with pytest.raises(sipwire.LocalProtocolError) as e:
        m.with_header("X-Test", value)
    assert isinstance(e.value, ValueError)
    with pytest.raises(sipwire.LocalProtocolError):
        m.replace_header("Subject", value)
    with pytest.raises(sipwire.LocalProtocolError):
        m.response(200, value)
    with pytest.raises(sipwire.LocalProtocolError):
        sipwire.build_request("OPTIONS", "sip:a@b", [("Subject", value)], check=False)


def test_bad_names_are_refused() -> None:
    with pytest.raises(sipwire.LocalProtocolError):
        req().with_header("X Test", "1")
    with pytest.raises(sipwire.LocalProtocolError):
        sipwire.build_request("IN VITE", "sip:a@b", [], check=False)
    with pytest.raises(sipwire.LocalProtocolError):
        sipwire.build_request("INVITE", "sip:a b", [], check=False)


def test_build_request_checks_mandatory_headers() -> None:
    headers = [
        ("Via", "SIP/2.0/UDP h;branch=z9hG4bK1"),
        ("Max-Forwards", "70"),
        ("To", "<sip:b@b>"),
        ("From", "<sip:a@a>;tag=1"),
        ("Call-ID", "c1"),
        ("CSeq", "1 MESSAGE"),
        ("Content-Type", "text/plain"),
    ]
    m = sipwire.build_request("MESSAGE", "sip:b@b", headers, b"hi")
    assert isinstance(m, sipwire.Request)
    assert m.method == "MESSAGE" and m.body == b"hi" and m.content_length == 2
    assert m.diagnostics == []
    with pytest.raises(sipwire.LocalProtocolError, match="Max-Forwards"):
        sipwire.build_request("MESSAGE", "sip:b@b", headers[2:], b"hi")
    loose = sipwire.build_request("MESSAGE", "sip:b@b", headers[2:], b"hi", check=False)
    assert loose.max_forwards is None


def test_unchanged_bytes_round_trip() -> None:
    assert bytes(sipwire.parse(INVITE)) == INVITE
