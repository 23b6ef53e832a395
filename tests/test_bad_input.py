"""The bad-input catalogue of DESIGN §4, class by class, through the Python API: each gives
a ParseError of a precise kind at the right place (or, where the message must still be usable,
a diagnostic), never another exception."""

from __future__ import annotations

import pytest

import sipwire

HEAD = (
    "OPTIONS sip:a@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
    "Max-Forwards: 70\r\n"
    "To: <sip:a@example.com>\r\n"
    "From: <sip:c@example.com>;tag=1\r\n"
    "Call-ID: x@y\r\n"
    "CSeq: 1 OPTIONS\r\n"
)


def msg(extra: str = "", body: bytes = b"", head: str = HEAD) -> bytes:
    return (head + extra + "\r\n").encode() + body


def swap(old: str, new: str) -> bytes:
    assert old in HEAD
    return msg(head=HEAD.replace(old, new), extra="Content-Length: 0\r\n")


def kind(data: bytes, **kw: object) -> str:
    """The kind of error a validating parse raises (a lazy parse lists it in diagnostics)."""
    lazy = None
    try:
        lazy = sipwire.parse(data, **kw)  # type: ignore[arg-type]
    except sipwire.ParseError:
        pass
    if lazy is not None:
        assert lazy.diagnostics, "a lazy parse must list what a validating one raises"
    with pytest.raises(sipwire.ParseError) as e:
        sipwire.parse(data, validate=True, **kw)  # type: ignore[arg-type]
    assert 0 <= e.value.offset <= len(data)
    return e.value.kind


# --- framing -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "+5", "", "abc", "1 0", "0x1", "4.0"])
def test_content_length_malformed(value: str) -> None:
    assert kind(msg(f"Content-Length: {value}\r\n")) == "invalid_content_length"


@pytest.mark.parametrize("value", ["4294967296", "18446744073709551616", "9" * 40])
def test_content_length_overflow(value: str) -> None:
    assert kind(msg(f"Content-Length: {value}\r\n")) == "content_length_overflow"


def test_content_length_larger_smaller_absent() -> None:
    assert kind(msg("Content-Length: 10\r\n", b"abc")) == "body_too_short"
    m = sipwire.parse(msg("Content-Length: 2\r\n", b"abcdef"))
    assert m.body == b"ab" and m.trailing_bytes == 4
    assert sipwire.parse(msg("", b"to the end")).body == b"to the end"


def test_conflicting_content_length() -> None:
    assert kind(msg("Content-Length: 1\r\nl: 2\r\n", b"ab")) == "conflicting_content_length"


def test_size_limits() -> None:
    big = msg("X-Pad: " + "a" * 5000 + "\r\nContent-Length: 0\r\n")
    assert kind(big, limits=sipwire.Limits(max_message=4096)) == "message_too_large"
    assert kind(msg("", b"b" * 200), limits=sipwire.Limits(max_body=100)) == "body_too_large"


def test_line_endings() -> None:
    data = msg("Content-Length: 0\r\n")
    assert kind(data.replace(b"\r\n", b"\n")) == "bare_lf"
    assert kind(data.replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\rX\r\n")) == "bare_cr"
    assert kind(data[:-2]) == "missing_empty_line"
    m = sipwire.parse(data.replace(b"\r\n", b"\n"), strict=False)
    assert "bare_lf" in [d.kind for d in m.diagnostics]


def test_truncation_at_every_byte() -> None:
    data = msg("Content-Length: 3\r\n", b"abc")
    for n in range(len(data)):
        with pytest.raises(sipwire.ParseError):
            sipwire.parse(data[:n], validate=True)


# --- start line --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("OPTIONS  sip:a@example.com SIP/2.0", "extra_whitespace"),
        ("OPTIONS sip:a@example.com SIP/2.0 ", "extra_whitespace"),
        ("OPTIONS <sip:a@example.com> SIP/2.0", "bracketed_request_uri"),
        ("OPTIONS sip:a@example.com SIP/2", "invalid_version"),
        ("OPT@ONS sip:a@example.com SIP/2.0", "invalid_method"),
        ("O" * 100 + " sip:a@example.com SIP/2.0", "method_too_long"),
        ("SIP/2.0 2000 OK", "invalid_status_code"),
        ("SIP/2.0 20 OK", "invalid_status_code"),
        ("SIP/2.0 099 Early", "status_code_out_of_range"),
        ("SIP/2.0 700 Late", "status_code_out_of_range"),
        ("SIP/2.0 200 O\x07K", "invalid_reason_phrase"),
    ],
)
def test_start_lines(line: str, expected: str) -> None:
    data = msg(head=line + "\r\n" + HEAD.split("\r\n", 1)[1], extra="Content-Length: 0\r\n")
    assert kind(data) == expected


def test_empty_and_utf8_reasons() -> None:
    tail = HEAD.split("\r\n", 1)[1] + "Content-Length: 0\r\n\r\n"
    assert sipwire.parse(("SIP/2.0 200 \r\n" + tail).encode()).reason == ""
    r = sipwire.parse(("SIP/2.0 200 Très bien ✓\r\n" + tail).encode())
    assert isinstance(r, sipwire.Response) and r.reason == "Très bien ✓"


def test_unknown_version_is_a_diagnostic() -> None:
    m = sipwire.parse(swap("SIP/2.0\r\nVia", "SIP/3.0\r\nVia"))
    assert [d.kind for d in m.diagnostics] == ["unsupported_version"]


# --- headers -----------------------------------------------------------------------------


def test_control_bytes_before_the_colon_are_flagged() -> None:
    data = msg("X-Smuggle\x0b: 1\r\nContent-Length: 0\r\n")
    assert kind(data) == "whitespace_before_colon"
    m = sipwire.parse(data, strict=False)
    assert [d.kind for d in m.diagnostics] == ["whitespace_before_colon"]
    # SP and HTAB before the colon are legal SIP (HCOLON).
    assert sipwire.parse(msg("Subject \t: hi\r\nContent-Length: 0\r\n")).headers["subject"] == "hi"


def test_long_names_values_and_floods() -> None:
    assert kind(msg("X" * 300 + ": v\r\nContent-Length: 0\r\n")) == "header_name_too_long"
    assert kind(msg("X: " + "v" * 9000 + "\r\nContent-Length: 0\r\n")) == "header_line_too_long"
    flood = "".join(f"X-{i}: v\r\n" for i in range(300))
    assert kind(msg(flood + "Content-Length: 0\r\n")) == "too_many_headers"
    vias = "".join(f"Via: SIP/2.0/UDP h{i};branch=z9hG4bK{i}\r\n" for i in range(80))
    assert kind(msg(vias + "Content-Length: 0\r\n")) == "too_many_vias"
    items = "Contact: " + ", ".join(f"<sip:u{i}@h>" for i in range(300)) + "\r\n"
    assert kind(msg(items + "Content-Length: 0\r\n")) == "too_many_list_items"
    params = "Contact: <sip:u@h>" + "".join(f";p{i}=1" for i in range(100)) + "\r\n"
    assert kind(msg(params + "Content-Length: 0\r\n")) == "too_many_params"


def test_duplicates_and_missing_headers_are_diagnostics() -> None:
    dup = sipwire.parse(msg("Call-ID: other@y\r\nContent-Length: 0\r\n"))
    assert [(d.kind, d.header) for d in dup.diagnostics] == [("duplicate_header", "Call-ID")]
    missing = sipwire.parse(b"OPTIONS sip:a@example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n")
    assert [d.kind for d in missing.diagnostics] == ["missing_header"] * 5
    # Each names its header (issue 15), and validation refuses the message by name.
    assert [d.header for d in missing.diagnostics] == ["To", "From", "Call-ID", "CSeq", "Via"]
    with pytest.raises(sipwire.ParseError) as e:
        missing.validate()
    assert (e.value.kind, e.value.header) == ("missing_header", "To")
    assert missing.call_id is None and missing.cseq is None and missing.from_ is None


def test_folding_anywhere() -> None:
    data = swap("From: <sip:c@example.com>;tag=1", "From:\r\n  <sip:c@example.com>\r\n\t;tag=1")
    assert sipwire.parse(data).from_.tag == "1"  # type: ignore[union-attr]


def test_nul_in_a_value() -> None:
    data = msg("Subject: a\x00b\r\nContent-Length: 0\r\n")
    assert kind(data) == "control_character"
    # Lenient: kept, with a diagnostic at the byte; the message's other fields still read.
    m = sipwire.parse(data, strict=False)
    assert [d.kind for d in m.diagnostics] == ["control_character"]
    assert m.diagnostics[0].offset == data.index(b"\x00")
    assert m.headers["Subject"] == "a\x00b"
    assert m.call_id is not None


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("CSeq: 1 OPTIONS", "CSeq: 2147483648 OPTIONS", "number_out_of_range"),
        ("CSeq: 1 OPTIONS", "CSeq: OPTIONS", "invalid_cseq"),
        ("Max-Forwards: 70", "Max-Forwards: 256", "number_out_of_range"),
        ("Max-Forwards: 70", "Max-Forwards: -1", "invalid_header_value"),
    ],
)
def test_numbers(old: str, new: str, expected: str) -> None:
    assert kind(swap(old, new)) == expected


def test_huge_expires_and_cseq_method_mismatch() -> None:
    assert kind(msg("Expires: 4294967296\r\nContent-Length: 0\r\n")) == "number_out_of_range"
    lenient = sipwire.parse(msg("Expires: 4294967296\r\nContent-Length: 0\r\n"), strict=False)
    assert lenient.expires == 4294967295
    m = sipwire.parse(swap("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"))
    assert [d.kind for d in m.diagnostics] == ["cseq_method_mismatch"]


# --- URIs and parameters -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sip:a%4@example.com", "invalid_escape"),
        ("sip:a@example.com:65536", "invalid_port"),
        ("sip:a@2001:db8::1", "unbracketed_ipv6"),
        ("sip:a@[2001:db8::1", "invalid_host"),
        ("sip:a@[zz::1]", "invalid_host"),
        ("sip:a@exa mple.com", "invalid_request_uri"),
    ],
)
def test_request_uris(uri: str, expected: str) -> None:
    assert kind(swap("OPTIONS sip:a@example.com SIP", f"OPTIONS {uri} SIP")) == expected


def test_unknown_schemes_parse() -> None:
    m = sipwire.parse(swap("OPTIONS sip:a@example.com SIP", "OPTIONS urn:service:sos SIP"))
    assert isinstance(m, sipwire.Request) and m.uri.scheme == "urn"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("To: <sip:a@example.com>", 'To: "unbalanced <sip:a@example.com>', "unterminated_quote"),
        ("To: <sip:a@example.com>", 'To: "tail\\', "trailing_backslash"),
        ("To: <sip:a@example.com>", "To: <sip:a@example.com", "unterminated_angle"),
        ("To: <sip:a@example.com>", "To: <sip:a@example.com>;;;", "empty_element"),
        ("To: <sip:a@example.com>", "To: sip:a@example.com?x=y", "unbracketed_uri"),
    ],
)
def test_name_addrs(old: str, new: str, expected: str) -> None:
    assert kind(swap(old, new)) == expected


def test_addr_spec_params_belong_to_the_header() -> None:
    m = sipwire.parse(swap("To: <sip:a@example.com>", "To: sip:a@example.com;tag=9"))
    assert m.to is not None and m.to.tag == "9"
    assert m.to.uri is not None and m.to.uri.params == {}


def test_degenerate_branches() -> None:
    cookie = sipwire.parse(swap("branch=z9hG4bK1", "branch=z9hG4bK"))
    assert cookie.via[0].branch == "z9hG4bK" and not cookie.via[0].has_rfc3261_branch
    none = sipwire.parse(swap(";branch=z9hG4bK1", ""))
    assert none.via[0].branch is None and not none.via[0].has_rfc3261_branch


# --- bodies ------------------------------------------------------------------------------


def test_non_utf8_body_kept_as_bytes() -> None:
    body = b"\xff\xfe\x00binary\r"
    m = sipwire.parse(
        msg(f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n", body)
    )
    assert m.body == body


# --- complexity ---------------------------------------------------------------------------


def test_many_folds_commas_and_nesting_stay_bounded() -> None:
    folds = "Subject: a" + "\r\n b" * 3000 + "\r\n"
    assert kind(msg(folds + "Content-Length: 0\r\n")) == "header_line_too_long"
    commas = "Allow: " + "," * 5000 + "\r\n"
    sipwire.parse(msg(commas + "Content-Length: 0\r\n"))  # not typed: kept as is
    nested = "Retry-After: 10 " + "(" * 40 + ")" * 40 + "\r\n"
    assert kind(msg(nested + "Content-Length: 0\r\n")) == "nesting_too_deep"
    ok = "Retry-After: 10 " + "(" * 20 + ")" * 20 + "\r\n"
    sipwire.parse(msg(ok + "Content-Length: 0\r\n"))


# --- building ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["\r", "\n", "\x00"])
def test_builders_refuse_injection(bad: str) -> None:
    m = sipwire.parse(msg("Content-Length: 0\r\n"))
    with pytest.raises(sipwire.LocalProtocolError):
        m.with_header("Subject", f"hi{bad}Via: x")
