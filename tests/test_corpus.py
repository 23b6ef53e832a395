"""Every RFC 4475 and RFC 5118 torture message behaves as its index.json says."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import DATA, corpus

import sipwire

RFC4475 = corpus("rfc4475")
RFC5118 = corpus("rfc5118")


def _read4475(case: dict[str, Any]) -> bytes:
    return (DATA / "rfc4475" / case["file"]).read_bytes()


def _touch_everything(m: sipwire.Request | sipwire.Response) -> None:
    """Reads every typed field: a valid message must not fail on any of them."""
    if isinstance(m, sipwire.Request):
        u = m.uri
        _ = (str(u), u.scheme, u.user, u.host, u.port, u.params, u.headers)
    for v in m.via:
        _ = (v.transport, v.host, v.port, v.branch, v.received, v.rport, v.params)
    for na in (m.from_, m.to):
        if na is not None:
            _ = (na.display_name, na.tag, na.params, na.uri)
    for c in m.contact:
        _ = (c.uri, c.expires, c.q, c.params)
    _ = (m.cseq, m.call_id, m.max_forwards, m.content_length, m.content_type, m.body)
    list(m.headers)


@pytest.mark.parametrize(
    "case", [c for c in RFC4475 if c["verdict"] == "valid"], ids=lambda c: c["name"]
)
def test_rfc4475_valid_parses_strict(case: dict[str, Any]) -> None:
    m = sipwire.parse(_read4475(case))
    _touch_everything(m)
    assert m.diagnostics == [], m.diagnostics


@pytest.mark.parametrize(
    "case", [c for c in RFC4475 if c["verdict"] == "invalid"], ids=lambda c: c["name"]
)
def test_rfc4475_invalid_is_rejected_or_diagnosed(case: dict[str, Any]) -> None:
    data = _read4475(case)
    try:
        m = sipwire.parse(data)
    except sipwire.ParseError as e:
        assert e.kind and e.offset >= 0 and e.line >= 1 and e.column >= 1
        return
    assert m.diagnostics, f"{case['name']} parsed cleanly in strict mode"


@pytest.mark.parametrize(
    "case",
    [c for c in RFC4475 if c.get("liberal_acceptance_allowed")],
    ids=lambda c: c["name"],
)
def test_rfc4475_liberal_cases_parse_lenient_with_diagnostic(case: dict[str, Any]) -> None:
    m = sipwire.parse(_read4475(case), strict=False, validate=True)
    assert m.diagnostics
    _touch_everything(m)


def test_rfc4475_test_dat_is_rejected() -> None:
    # Its Request-Line has no SIP-Version; it also has a header line without a colon.
    with pytest.raises(sipwire.ParseError) as e:
        sipwire.parse((DATA / "rfc4475" / "test.dat").read_bytes())
    assert (e.value.kind, e.value.line, e.value.header) == ("invalid_start_line", 1, None)


@pytest.mark.parametrize("case", RFC5118, ids=lambda c: c["name"])
def test_rfc5118(case: dict[str, Any]) -> None:
    data = (DATA / "rfc5118" / "fixed" / f"{case['name']}.sip").read_bytes()
    if case["verdict"] == "invalid":
        with pytest.raises(sipwire.ParseError) as e:
            sipwire.parse(data, validate=True)
        assert e.value.kind == "unbracketed_ipv6"
        lazy = sipwire.parse(data)
        assert [d.kind for d in lazy.diagnostics] == ["unbracketed_ipv6"]
        with pytest.raises(sipwire.ParseError):
            lazy.uri.host  # noqa: B018
        return
    m = sipwire.parse(data)
    _touch_everything(m)
    assert m.diagnostics == []


def test_rfc5118_archive_length_is_a_short_body() -> None:
    data = (DATA / "rfc5118" / "wire" / "ipv6-in-sdp.sip").read_bytes()
    with pytest.raises(sipwire.ParseError) as e:
        sipwire.parse(data)
    assert e.value.kind == "body_too_short"
    assert [d.kind for d in sipwire.parse(data, strict=False).diagnostics] == ["body_too_short"]
    # A longer body than Content-Length says: the rest of the datagram is discarded (§18.3).
    longer = sipwire.parse((DATA / "rfc5118" / "wire" / "mult-ip-in-sdp.sip").read_bytes())
    assert len(longer.body) == 181 and longer.trailing_bytes == 8


@pytest.mark.parametrize("case", RFC5118, ids=lambda c: c["name"])
def test_rfc5118_bare_lf_archive_parses_lenient(case: dict[str, Any]) -> None:
    data = (DATA / "rfc5118" / case["file"]).read_bytes()
    if case["verdict"] == "invalid":
        with pytest.raises(sipwire.ParseError):
            sipwire.parse(data, strict=False, validate=True)
        return
    m = sipwire.parse(data, strict=False, validate=True)
    assert "bare_lf" in [d.kind for d in m.diagnostics]


# Specific expectations the RFCs spell out.


def test_esc02_percent_is_literal_outside_uris() -> None:
    m = sipwire.parse((DATA / "rfc4475" / "esc02.dat").read_bytes())
    assert isinstance(m, sipwire.Request)
    assert m.method == "RE%47IST%45R"
    assert len(m.contact) == 2
    assert m.headers.getall("C%6Fntact")


def test_escnull_keeps_escaped_nulls() -> None:
    m = sipwire.parse((DATA / "rfc4475" / "escnull.dat").read_bytes())
    assert m.to is not None and m.to.uri is not None
    assert m.to.uri.user == "null-%00-null"
    assert [c.uri.user for c in m.contact if c.uri] == ["%00", "%00%00"]


def test_semiuri_user_holds_the_semicolon() -> None:
    m = sipwire.parse((DATA / "rfc4475" / "semiuri.dat").read_bytes())
    assert isinstance(m, sipwire.Request)
    assert m.uri.user == "user;par=u%40example.net"
    assert m.uri.params == {}


def test_dblreq_ignores_the_second_message() -> None:
    m = sipwire.parse((DATA / "rfc4475" / "dblreq.dat").read_bytes())
    assert isinstance(m, sipwire.Request)
    assert m.method == "REGISTER"
    assert m.body == b""
    assert m.trailing_bytes > 0


def test_inv2543_body_runs_to_end_of_datagram() -> None:
    data = (DATA / "rfc4475" / "inv2543.dat").read_bytes()
    m = sipwire.parse(data)
    assert m.content_length is None
    assert m.body.startswith(b"v=0")
    assert not m.via[0].has_rfc3261_branch


def test_cparam_contact_params() -> None:
    m1 = sipwire.parse((DATA / "rfc4475" / "cparam01.dat").read_bytes())
    c = m1.contact[0]
    assert "unknownparam" in c.params
    assert c.uri is not None and "unknownparam" not in c.uri.params
    m2 = sipwire.parse((DATA / "rfc4475" / "cparam02.dat").read_bytes())
    c = m2.contact[0]
    assert c.uri is not None and "unknownparam" in c.uri.params


def test_mismatch01_is_a_cseq_diagnostic() -> None:
    m = sipwire.parse((DATA / "rfc4475" / "mismatch01.dat").read_bytes())
    assert [d.kind for d in m.diagnostics] == ["cseq_method_mismatch"]
    assert m.diagnostics[0].header == "CSeq"


def test_badvers_parses_so_a_uas_can_answer_505() -> None:
    m = sipwire.parse((DATA / "rfc4475" / "badvers.dat").read_bytes())
    assert [d.kind for d in m.diagnostics] == ["unsupported_version"]
    assert m.version == "SIP/7.0"


def test_port_ambiguous_has_no_port() -> None:
    m = sipwire.parse((DATA / "rfc5118" / "fixed" / "port-ambiguous.sip").read_bytes())
    assert isinstance(m, sipwire.Request)
    assert m.uri.host == "[2001:db8::10:5070]"
    assert m.uri.port is None
    m = sipwire.parse((DATA / "rfc5118" / "fixed" / "port-unambiguous.sip").read_bytes())
    assert isinstance(m, sipwire.Request)
    assert (m.uri.host, m.uri.port) == ("[2001:db8::10]", 5070)


def test_lwsruri_lenient_skips_the_whitespace() -> None:
    m = sipwire.parse((DATA / "rfc4475" / "lwsruri.dat").read_bytes(), strict=False)
    assert isinstance(m, sipwire.Request)
    assert (m.uri.host, m.uri.params) == ("example.com", {"lr": None})
    assert [d.kind for d in m.diagnostics] == ["invalid_request_uri"]
