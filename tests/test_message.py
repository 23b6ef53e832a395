"""The Python face of the parser: fields, headers, errors, writing, pickling, threads."""

from __future__ import annotations

import pickle
import sys
import threading

import pytest

import sipwire

INVITE = (
    b"INVITE sip:bob@biloxi.example.com;transport=tcp SIP/2.0\r\n"
    b"v: SIP/2.0/UDP pc33.atlanta.example.com:5062;branch=z9hG4bK776asdhds;rport;received=192.0.2.1\r\n"
    b"Via: SIP/2.0/TCP [2001:db8::9]:5060;branch=z9hG4bKnashds8;rport=5070, SIP/2.0/UDP h3;branch=z9hG4bK3\r\n"
    b"Max-Forwards: 70\r\n"
    b"t: Bob <sip:bob@biloxi.example.com>\r\n"
    b'From: "Alice \\"A\\" L." <sip:alice@atlanta.example.com>;tag=1928301774;x=y\r\n'
    b"i: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"m: <sip:alice@pc33.atlanta.example.com>;expires=60;q=0.7, sip:alice@10.0.0.1\r\n"
    b"Subject: a folded\r\n  subject\r\n"
    b"c: text/plain\r\n"
    b"l: 4\r\n"
    b"\r\n"
    b"v=0\n"
)


def req() -> sipwire.Request:
    m = sipwire.parse(INVITE)
    assert isinstance(m, sipwire.Request)
    return m


def test_request_fields() -> None:
    m = req()
    assert m.method == "INVITE"
    assert str(m.uri) == "sip:bob@biloxi.example.com;transport=tcp"
    assert (m.uri.scheme, m.uri.user, m.uri.host, m.uri.port) == (
        "sip",
        "bob",
        "biloxi.example.com",
        None,
    )
    assert m.uri.params == {"transport": "tcp"}
    assert m.uri.transport == "tcp"
    assert m.call_id == "a84b4c76e66710@pc33.atlanta.example.com"
    assert m.cseq is not None and (m.cseq.seq, m.cseq.method) == (314159, "INVITE")
    assert m.from_ is not None and m.from_.tag == "1928301774"
    assert m.from_.display_name == 'Alice "A" L.'
    assert m.from_.params == {"tag": "1928301774", "x": "y"}
    assert m.to is not None and m.to.tag is None and m.to.display_name == "Bob"
    assert m.max_forwards == 70
    assert m.content_length == 4
    assert m.content_type == "text/plain"
    assert m.body == b"v=0\n"
    assert m.diagnostics == []


def test_vias_across_headers_and_commas() -> None:
    vias = req().via
    assert [v.branch for v in vias] == ["z9hG4bK776asdhds", "z9hG4bKnashds8", "z9hG4bK3"]
    top = vias[0]
    assert (top.transport, top.host, top.port) == ("UDP", "pc33.atlanta.example.com", 5062)
    assert top.received == "192.0.2.1"
    assert top.rport is None and top.rport_requested
    assert vias[1].host == "[2001:db8::9]" and vias[1].rport == 5070 and vias[1].transport == "TCP"
    assert vias[2].port is None and not vias[2].rport_requested
    assert vias[0].params["branch"] == "z9hG4bK776asdhds"
    assert "rport" in vias[0].params and vias[0].params["rport"] is None


def test_via_is_a_lazy_sequence() -> None:
    """``m.via`` makes a Via when one is read, keeps it, and behaves as a read-only list."""
    from collections.abc import Sequence

    m = req()
    vias = m.via
    assert isinstance(vias, Sequence) and isinstance(vias, sipwire.ViaList)
    assert m.via is vias  # kept on the message
    assert len(vias) == 3 and bool(vias)
    assert vias[0] is vias[0] is m.via[0]  # made once, read again without a new parse
    assert vias[-1].branch == "z9hG4bK3" and vias[-3] is vias[0]
    assert [v.branch for v in vias[1:]] == ["z9hG4bKnashds8", "z9hG4bK3"]
    assert next(reversed(vias)) is vias[2]
    assert vias == list(vias) and vias != tuple(vias) and vias != [] and vias != "x"
    assert vias[0] in vias
    for bad in (3, -4):
        with pytest.raises(IndexError):
            vias[bad]
    with pytest.raises(TypeError):
        vias["0"]  # type: ignore[call-overload]
    assert repr(vias).startswith("[<Via ")


def test_typed_objects_find_their_key_field_when_made() -> None:
    """A name-addr's tag and a Via's branch are read when the object is made: a bad value
    raises ParseError when the object is asked for, before any attribute."""
    bad_from = INVITE.replace(b"tag=1928301774;x=y", b"tag=19<28")
    m = sipwire.parse(bad_from)
    with pytest.raises(sipwire.ParseError) as e:
        m.from_  # noqa: B018
    assert e.value.header == "From"
    bad_via = INVITE.replace(b"h3;branch=z9hG4bK3", b"h3;branch=z9hG4bK3;=")
    vias = sipwire.parse(bad_via).via
    assert len(vias) == 3 and vias[0].branch == "z9hG4bK776asdhds"
    with pytest.raises(sipwire.ParseError):
        vias[2]
    cseq = req().cseq
    assert cseq is not None and cseq == req().cseq and repr(cseq) == "<CSeq 314159 INVITE>"


def test_contacts() -> None:
    c = req().contact
    assert len(c) == 2
    assert c[0].expires == 60 and c[0].q == pytest.approx(0.7)
    assert c[1].uri is not None and c[1].uri.host == "10.0.0.1"
    assert not c[0].is_star
    star = sipwire.parse(
        b"REGISTER sip:r SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@r>\r\n"
        b"From: <sip:a@r>;tag=1\r\nCall-ID: c\r\nCSeq: 2 REGISTER\r\nContact: *\r\nExpires: 0\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert star.contact[0].is_star and star.contact[0].uri is None
    assert star.expires == 0


def test_headers_mapping() -> None:
    h = req().headers
    assert (
        h.get("VIA")
        == "SIP/2.0/UDP pc33.atlanta.example.com:5062;branch=z9hG4bK776asdhds;rport;received=192.0.2.1"
    )
    assert h.get("v") == h.get("Via")
    assert len(h.getall("via")) == 3
    assert h.get("Call-ID") == h.get("i") == h["call-id"]
    assert h.get("subject") == "a folded subject"
    assert h.get("X-Missing") is None and h.get("X-Missing", "d") == "d"
    assert "contact" in h and "X-Missing" not in h
    with pytest.raises(KeyError):
        h["X-Missing"]
    names = [n for n, _ in h]
    assert names == ["v", "Via", "Max-Forwards", "t", "From", "i", "CSeq", "m", "Subject", "c", "l"]
    assert len(h) == 11
    assert h[0] == ("v", h.get("v"))
    assert h[-1] == ("l", "4")


def test_response_fields() -> None:
    data = (
        b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@b>;tag=xyz\r\n"
        b"From: <sip:a@a>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    m = sipwire.parse(data)
    assert isinstance(m, sipwire.Response)
    assert (m.status, m.reason) == (180, "Ringing")
    assert m.to is not None and m.to.tag == "xyz"
    assert not hasattr(m, "method")


def test_bytes_is_the_input_and_pickle_round_trips() -> None:
    m = req()
    assert bytes(m) == INVITE
    assert sipwire.parse(bytes(m)) == m
    m2 = pickle.loads(pickle.dumps(m))
    assert m2 == m and m2.via[0].branch == m.via[0].branch
    lenient = sipwire.parse(INVITE.replace(b"\r\n", b"\n"), strict=False)
    assert pickle.loads(pickle.dumps(lenient)).diagnostics


def test_repr_is_short_and_escaped() -> None:
    data = INVITE.replace(b"a84b4c76e66710", b"'\\" + b"x" * 200)
    r = repr(sipwire.parse(data))
    assert r.startswith("<Request INVITE sip:bob@biloxi.example.com")
    assert len(r) < 200
    assert "\\x27\\x5c" in r
    resp = sipwire.parse(
        "SIP/2.0 200 Très bien\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n".encode()
    )
    assert repr(resp).startswith("<Response 200 Tr\\xc3\\xa8s bien")


def test_parse_error_details() -> None:
    bad = INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: 3x INVITE")
    with pytest.raises(sipwire.ParseError) as e:
        sipwire.parse(bad, validate=True)
    err = e.value
    assert isinstance(err, ValueError) and isinstance(err, sipwire.RemoteProtocolError)
    assert err.header == "CSeq"
    assert err.line == 8
    assert bad[err.offset : err.offset + 1] in (b"3", b"x")
    assert "line 8" in str(err)


def test_str_input_is_refused_with_advice() -> None:
    with pytest.raises(TypeError, match="encode"):
        sipwire.parse(INVITE.decode())  # type: ignore[arg-type]


def test_bytearray_and_memoryview() -> None:
    assert sipwire.parse(bytearray(INVITE)) == req()
    assert sipwire.parse(memoryview(INVITE)) == req()


def test_what_is_not_bytes_is_refused() -> None:
    # bytes(5) would be five NUL bytes: an int is the caller's mistake, not a message.
    for bad in (5, 2.5, None, [1, 2], object()):
        with pytest.raises(TypeError, match=f"not {type(bad).__name__}"):
            sipwire.parse(bad)  # type: ignore[arg-type]
    # One message where a batch is wanted: its bytes are not messages.
    for one in (INVITE, bytearray(INVITE), memoryview(INVITE), INVITE.decode()):
        with pytest.raises(TypeError, match=r"pass \[data\]"):
            sipwire.parse_batch(one)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"pass \[data\]"):
            sipwire.parse_table(one)  # type: ignore[arg-type]
    assert len(sipwire.parse_batch(iter([INVITE, bytearray(INVITE)]))) == 2


def test_limits() -> None:
    lim = sipwire.Limits(max_headers=5)
    assert lim.max_headers == 5 and lim.max_message == 65536
    with pytest.raises(sipwire.ParseError) as e:
        sipwire.parse(INVITE, limits=lim)
    assert e.value.kind == "too_many_headers"
    assert pickle.loads(pickle.dumps(lim)) == lim
    assert "max_headers=5" in repr(lim)


def test_parse_batch() -> None:
    out = sipwire.parse_batch([INVITE, b"garbage", INVITE], errors="return")
    assert isinstance(out[0], sipwire.Request)
    assert isinstance(out[1], sipwire.ParseError)
    with pytest.raises(sipwire.ParseError):
        sipwire.parse_batch([INVITE, b"garbage"])
    with pytest.raises(sipwire.LocalProtocolError):
        sipwire.parse_batch([], errors="ignore")


def test_shared_between_threads() -> None:
    m = req()
    seen: list[str] = []

    def work() -> None:
        for _ in range(200):
            seen.append(m.via[0].branch or "")
            assert m.from_ is not None and m.from_.tag == "1928301774"

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(seen) == {"z9hG4bK776asdhds"} and len(seen) == 800


def test_uri_equality_rfc3261_19_1_4() -> None:
    eq = sipwire.uri_equal
    assert eq("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp")
    assert eq("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5")
    assert eq(
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
    )
    assert not eq("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP")
    assert not eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060")
    assert not eq("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp")
    assert sipwire.parse_uri("sip:a@b") == sipwire.parse_uri("sip:a@B")
    with pytest.raises(sipwire.ParseError):
        sipwire.parse_uri("sip:a@b:99999")


def test_lazy_parse_checks_a_header_when_read() -> None:
    bad = INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: 3x INVITE")
    m = sipwire.parse(bad)  # framing and index are fine
    assert m.call_id == "a84b4c76e66710@pc33.atlanta.example.com"
    with pytest.raises(sipwire.ParseError) as e:
        m.cseq  # noqa: B018
    assert e.value.header == "CSeq"
    assert [(d.kind, d.header) for d in m.diagnostics] == [("invalid_cseq", "CSeq")]
    with pytest.raises(sipwire.ParseError):
        m.validate()
    assert req().validate() is None
    assert pickle.loads(pickle.dumps(m)).diagnostics == m.diagnostics


@pytest.mark.parametrize("validate", [False, True])
def test_shortcuts_agree_with_the_objects(validate: bool) -> None:
    m = sipwire.parse(INVITE, validate=validate)
    assert m.from_tag == m.from_.tag == "1928301774"  # type: ignore[union-attr]
    assert m.to_tag is None and m.to is not None and m.to.tag is None
    assert m.branch == m.via[0].branch == "z9hG4bK776asdhds"
    bare = sipwire.parse(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n")
    assert (bare.from_tag, bare.to_tag, bare.branch, bare.via) == (None, None, None, [])


def test_messages_are_freed() -> None:
    """No reference cycle keeps a message (and its bytes) alive: the Headers view once made one."""
    import gc

    data = bytes(bytearray(INVITE))  # a bytes object of this test's own
    before = sys.getrefcount(data)
    for _ in range(3):
        m = sipwire.parse(data)
        for attr in ("headers", "via", "from_", "to", "uri", "cseq", "contact", "diagnostics"):
            getattr(m, attr)
        m.headers.get("via")
        del m
    gc.collect()
    assert sys.getrefcount(data) == before
