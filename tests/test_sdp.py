"""SDP (RFC 8866) and offer/answer (RFC 3264): sipwire.sdp and msg.sdp."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sipwire
import sipwire.sdp as sdp

DATA = Path(__file__).parent / "data"


def crlf(text: str) -> bytes:
    """An SDP body typed one line per line, written with CRLF as RFC 8866 §5 asks."""
    return "".join(line.strip() + "\r\n" for line in text.strip().splitlines()).encode()


def sip_with_body(body: bytes, content_type: str = "application/sdp") -> bytes:
    head = (
        "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
        "Max-Forwards: 70\r\n"
        "To: Bob <sip:bob@biloxi.example.com>\r\n"
        "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
        "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
        "CSeq: 314159 INVITE\r\n"
        "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


# --- RFC 8866 §5 ------------------------------------------------------------------------

RFC8866 = crlf("""
    v=0
    o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1
    s=Call to John Smith
    i=SDP Offer #1
    u=http://www.jdoe.example.com/home.html
    e=Jane Doe <jane@jdoe.example.com>
    p=+1 617 555-6011
    c=IN IP4 198.51.100.1
    t=0 0
    m=audio 49170 RTP/AVP 0
    m=audio 49180 RTP/AVP 0
    m=video 51372 RTP/AVP 99
    c=IN IP6 2001:db8::2
    a=rtpmap:99 h263-1998/90000
""")


def test_rfc8866_example() -> None:
    sd = sdp.parse(RFC8866)
    assert bytes(sd) == RFC8866
    assert sd.version == "0"
    o = sd.origin
    assert (o.username, o.session_id, o.session_version) == ("jdoe", "3724394400", "3724394405")
    assert (o.nettype, o.addrtype, o.address, o.version_number) == (
        "IN",
        "IP4",
        "198.51.100.1",
        3724394405,
    )
    assert sd.session_name == "Call to John Smith"
    assert sd.information == "SDP Offer #1"
    assert sd.uri == "http://www.jdoe.example.com/home.html"
    assert sd.emails == ["Jane Doe <jane@jdoe.example.com>"]
    assert sd.phones == ["+1 617 555-6011"]
    assert sd.connection == "198.51.100.1"
    assert sd.timing == [(0, 0)]
    assert sd.direction == "sendrecv"
    assert [(m.kind, m.port, m.protocol, m.formats) for m in sd.media] == [
        ("audio", 49170, "RTP/AVP", ["0"]),
        ("audio", 49180, "RTP/AVP", ["0"]),
        ("video", 51372, "RTP/AVP", ["99"]),
    ]
    a1, _, v = sd.media
    # PT 0 has no rtpmap: named from RFC 3551 §6.
    (pcmu,) = a1.codecs
    assert (pcmu.payload_type, pcmu.name, pcmu.clock_rate, pcmu.channels) == (0, "PCMU", 8000, 1)
    assert not pcmu.from_rtpmap
    (h263,) = v.codecs
    assert (h263.name, h263.clock_rate, h263.channels, h263.from_rtpmap) == (
        "h263-1998",
        90000,
        None,
        True,
    )
    # Media-level c= overrides the session's (RFC 8866 §5.7).
    assert a1.connection == "198.51.100.1"
    assert v.connection == "2001:db8::2"
    info = v.connection_info
    assert info is not None and (info.addrtype, info.address) == ("IP6", "2001:db8::2")
    assert (v.rtp_address, v.rtp_port, v.rtcp_address, v.rtcp_port) == (
        "2001:db8::2",
        51372,
        "2001:db8::2",
        51373,
    )
    assert [m.direction for m in sd.media] == ["sendrecv"] * 3
    assert not any(m.is_hold for m in sd.media)
    assert [m.offset for m in sd.media] == [
        RFC8866.index(b"m=audio 49170"),
        RFC8866.index(b"m=audio 49180"),
        RFC8866.index(b"m=video"),
    ]
    assert sd.lines[0] == ("v", "0")
    assert len(sd.lines) == 14


# --- RFC 3264 §10 -------------------------------------------------------------------------

RFC3264_OFFER = crlf("""
    v=0
    o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com
    s=
    c=IN IP4 host.atlanta.example.com
    t=0 0
    m=audio 49170 RTP/AVP 0 8 97
    a=rtpmap:0 PCMU/8000
    a=rtpmap:8 PCMA/8000
    a=rtpmap:97 iLBC/8000
    m=video 51372 RTP/AVP 31 32
    a=rtpmap:31 H261/90000
    a=rtpmap:32 MPV/90000
""")

RFC3264_ANSWER = crlf("""
    v=0
    o=bob 2808844564 2808844564 IN IP4 host.biloxi.example.com
    s=
    c=IN IP4 host.biloxi.example.com
    t=0 0
    m=audio 49174 RTP/AVP 0
    a=rtpmap:0 PCMU/8000
    m=video 49170 RTP/AVP 32
    a=rtpmap:32 MPV/90000
""")

# Bob's second offer (§10.1): new audio port, video refused, a second audio stream added.
RFC3264_REOFFER = crlf("""
    v=0
    o=bob 2808844564 2808844565 IN IP4 host.biloxi.example.com
    s=
    c=IN IP4 host.biloxi.example.com
    t=0 0
    m=audio 65422 RTP/AVP 0
    a=rtpmap:0 PCMU/8000
    m=video 0 RTP/AVP 32
    a=rtpmap:32 MPV/90000
    m=audio 51434 RTP/AVP 110
    a=rtpmap:110 telephone-events/8000
    a=recvonly
""")


def test_rfc3264_offer_and_answer_parse() -> None:
    offer = sdp.parse(RFC3264_OFFER)
    assert offer.session_name == ""
    assert [[c.name for c in m.codecs] for m in offer.media] == [
        ["PCMU", "PCMA", "iLBC"],
        ["H261", "MPV"],
    ]
    answer = sdp.parse(RFC3264_ANSWER)
    assert [(m.port, [c.payload_type for c in m.codecs]) for m in answer.media] == [
        (49174, [0]),
        (49170, [32]),
    ]
    assert bytes(offer) == RFC3264_OFFER and bytes(answer) == RFC3264_ANSWER


def test_rfc3264_answer_built_from_offer() -> None:
    offer = sdp.parse(RFC3264_OFFER)
    local = [
        sdp.LocalMedia("audio", 49174, ["PCMU/8000"]),
        sdp.LocalMedia("video", 49170, [sdp.LocalCodec("MPV", 90000)]),
    ]
    ans = sdp.answer(
        offer,
        local,
        address="host.biloxi.example.com",
        username="bob",
        session_id=2808844564,
        session_version=2808844564,
        session_name="",
    )
    # Same m-lines as the RFC's answer (the builder writes `s=-` for an empty name and
    # an explicit a=sendrecv).
    assert [(m.kind, m.port, m.formats, m.direction) for m in ans.media] == [
        ("audio", 49174, ["0"], "sendrecv"),
        ("video", 49170, ["32"], "sendrecv"),
    ]
    assert ans.origin.username == "bob" and ans.origin.session_id == "2808844564"
    assert ans.connection == "host.biloxi.example.com"
    assert ans.timing == [(0, 0)]


def test_rfc3264_answer_to_reoffer_refuses_and_reverses() -> None:
    reoffer = sdp.parse(RFC3264_REOFFER)
    assert sdp.offer_changes(sdp.parse(RFC3264_ANSWER), reoffer) == "changed"
    assert sdp.changes_anything(sdp.parse(RFC3264_ANSWER), reoffer)
    assert reoffer.media[1].is_disabled and reoffer.media[1].hold is None
    assert reoffer.media[2].direction == "recvonly"
    local = [
        sdp.LocalMedia("audio", 49170, ["PCMU/8000"]),
        sdp.LocalMedia("audio", 53122, ["telephone-events/8000"]),
        sdp.LocalMedia("video", 51372, ["H261/90000", "MPV/90000"]),
    ]
    ans = sdp.answer(reoffer, local, address="host.atlanta.example.com", session_id=1)
    # Same number and order of m-lines; port 0 for the refused video (RFC 3264 §6); the
    # recvonly offer answered sendonly (§6.1).
    assert [(m.kind, m.port, m.direction) for m in ans.media] == [
        ("audio", 49170, "sendrecv"),
        ("video", 0, "sendrecv"),
        ("audio", 53122, "sendonly"),
    ]
    assert ans.media[1].is_disabled
    assert [c.payload_type for c in ans.media[2].codecs] == [110]


def test_answer_codec_intersection_keeps_offer_order() -> None:
    offer = sdp.parse(RFC3264_OFFER)
    local = [sdp.LocalMedia("audio", 5000, ["iLBC/8000", "PCMA/8000", "G729/8000"])]
    ans = sdp.answer(offer, local, address="192.0.2.7", session_id=7)
    assert [c.name for c in ans.media[0].codecs] == ["PCMA", "iLBC"]
    # No video capability: refused with port 0, still present.
    assert ans.media[1].port == 0 and ans.media[1].kind == "video"
    # Nothing in common: refused.
    ans = sdp.answer(offer, [sdp.LocalMedia("audio", 5000, ["G722/8000"])], address="192.0.2.7")
    assert [m.port for m in ans.media] == [0, 0]


def test_answer_direction_table() -> None:
    # RFC 3264 §6.1: the answer's direction given the offer's and the answerer's will.
    cases = {
        ("sendrecv", "sendrecv"): "sendrecv",
        ("sendonly", "sendrecv"): "recvonly",
        ("recvonly", "sendrecv"): "sendonly",
        ("inactive", "sendrecv"): "inactive",
        ("sendrecv", "recvonly"): "recvonly",
        ("sendrecv", "sendonly"): "sendonly",
        ("sendonly", "sendonly"): "inactive",
    }
    for (offered, willing), expected in cases.items():
        body = crlf(f"""
            v=0
            o=- 1 1 IN IP4 192.0.2.1
            s=-
            c=IN IP4 192.0.2.1
            t=0 0
            m=audio 4000 RTP/AVP 0
            a={offered}
        """)
        ans = sdp.answer(
            sdp.parse(body),
            [sdp.LocalMedia("audio", 6000, ["PCMU"], direction=willing)],  # type: ignore[arg-type]
            address="192.0.2.2",
        )
        assert ans.media[0].direction == expected, (offered, willing)


def test_rfc3264_hold_and_resume() -> None:
    offer = sdp.parse(RFC3264_OFFER)
    held = sdp.hold(offer)
    # §8.4: sendrecv becomes sendonly; o= version + 1, session id kept (§8).
    assert [m.direction for m in held.media] == ["sendonly", "sendonly"]
    assert [m.hold for m in held.media] == ["sendonly", "sendonly"]
    assert held.is_hold and not offer.is_hold
    assert held.origin.session_id == offer.origin.session_id
    assert held.origin.version_number == 2890844527
    assert [m.port for m in held.media] == [49170, 51372]
    assert [[c.name for c in m.codecs] for m in held.media] == [
        ["PCMU", "PCMA", "iLBC"],
        ["H261", "MPV"],
    ]
    assert sdp.offer_changes(offer, held) == "changed"
    inactive = sdp.hold(offer, style="inactive")
    assert [m.hold for m in inactive.media] == ["inactive", "inactive"]
    legacy = sdp.hold(offer, style="legacy_zero_address")
    assert legacy.connection == "0.0.0.0"
    assert [m.hold for m in legacy.media] == ["legacy_zero_address"] * 2
    assert [m.direction for m in legacy.media] == ["sendrecv"] * 2
    resumed = sdp.resume(held)
    assert [m.direction for m in resumed.media] == ["sendrecv"] * 2
    assert not resumed.is_hold
    assert resumed.origin.version_number == 2890844528
    back = sdp.resume(legacy, address="host.atlanta.example.com")
    assert back.connection == "host.atlanta.example.com" and not back.is_hold
    with pytest.raises(sipwire.LocalProtocolError):
        sdp.hold(offer, style="bogus")  # type: ignore[arg-type]


def test_hold_of_recvonly_stream_is_inactive() -> None:
    held = sdp.hold(sdp.parse(RFC3264_REOFFER))
    # §8.4: recvonly becomes inactive; a disabled stream stays as it was.
    assert [m.direction for m in held.media] == ["sendonly", "sendrecv", "inactive"]
    assert [m.hold for m in held.media] == ["sendonly", None, "inactive"]


# --- RFC 4317 -----------------------------------------------------------------------------

# §3.1 Hold and Unhold 1.
RFC4317_31 = [
    crlf("""
        v=0
        o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com
        s=
        c=IN IP4 host.atlanta.example.com
        t=0 0
        m=audio 49170 RTP/AVP 0 97
        a=rtpmap:0 PCMU/8000
        a=rtpmap:97 iLBC/8000
        m=video 51372 RTP/AVP 31 32
        a=rtpmap:31 H261/90000
        a=rtpmap:32 MPV/90000
    """),
    crlf("""
        v=0
        o=bob 2808844564 2808844564 IN IP4 host.biloxi.example.com
        s=
        c=IN IP4 host.biloxi.example.com
        t=0 0
        m=audio 49172 RTP/AVP 0 97
        a=rtpmap:0 PCMU/8000
        a=rtpmap:97 iLBC/8000
        m=video 51374 RTP/AVP 31 32
        a=rtpmap:31 H261/90000
        a=rtpmap:32 MPV/90000
    """),
    # Alice holds: sendonly on both streams, version + 1.
    crlf("""
        v=0
        o=alice 2890844526 2890844527 IN IP4 host.atlanta.example.com
        s=
        c=IN IP4 host.atlanta.example.com
        t=0 0
        m=audio 49170 RTP/AVP 0 97
        a=rtpmap:0 PCMU/8000
        a=rtpmap:97 iLBC/8000
        a=sendonly
        m=video 51372 RTP/AVP 31 32
        a=rtpmap:31 H261/90000
        a=rtpmap:32 MPV/90000
        a=sendonly
    """),
    # Bob answers recvonly.
    crlf("""
        v=0
        o=bob 2808844564 2808844565 IN IP4 host.biloxi.example.com
        s=
        c=IN IP4 host.biloxi.example.com
        t=0 0
        m=audio 49172 RTP/AVP 0 97
        a=rtpmap:0 PCMU/8000
        a=rtpmap:97 iLBC/8000
        a=recvonly
        m=video 51374 RTP/AVP 31 32
        a=rtpmap:31 H261/90000
        a=rtpmap:32 MPV/90000
        a=recvonly
    """),
    # Alice resumes: sendrecv again.
    crlf("""
        v=0
        o=alice 2890844526 2890844528 IN IP4 host.atlanta.example.com
        s=
        c=IN IP4 host.atlanta.example.com
        t=0 0
        m=audio 49170 RTP/AVP 0 97
        a=rtpmap:0 PCMU/8000
        a=rtpmap:97 iLBC/8000
        m=video 51372 RTP/AVP 31 32
        a=rtpmap:31 H261/90000
        a=rtpmap:32 MPV/90000
    """),
]


def test_rfc4317_hold_and_unhold() -> None:
    offer, answer, hold_offer, hold_answer, resume_offer = map(sdp.parse, RFC4317_31)
    for raw, sd in zip(RFC4317_31, (offer, answer, hold_offer, hold_answer, resume_offer)):
        assert bytes(sd) == raw
    assert not offer.is_hold and not answer.is_hold
    assert [m.hold for m in hold_offer.media] == ["sendonly", "sendonly"]
    assert hold_offer.is_hold
    # recvonly is not hold: the answerer still receives.
    assert [m.hold for m in hold_answer.media] == [None, None]
    assert [m.direction for m in hold_answer.media] == ["recvonly", "recvonly"]
    assert not resume_offer.is_hold
    assert sdp.offer_changes(offer, hold_offer) == "changed"
    assert sdp.offer_changes(hold_offer, resume_offer) == "changed"
    # sipwire's own hold of the first offer differs from the RFC's only in line order.
    ours = sdp.hold(offer)
    assert ours.origin.session_version == "2890844527"
    assert sorted(ours.lines) == sorted(hold_offer.lines)
    # Bob's answer, built: recvonly on both streams, his ports, the common codecs.
    built = sdp.answer(
        hold_offer,
        [
            sdp.LocalMedia("audio", 49172, ["PCMU/8000", "iLBC/8000"]),
            sdp.LocalMedia("video", 51374, ["H261/90000", "MPV/90000"]),
        ],
        address="host.biloxi.example.com",
        username="bob",
        session_id=2808844564,
        session_version=2808844565,
    )
    assert [(m.port, m.direction, m.formats) for m in built.media] == [
        (m.port, m.direction, m.formats) for m in hold_answer.media
    ]
    # And the resume built from the hold.
    resumed = sdp.resume(hold_offer)
    assert resumed.origin.session_version == "2890844528"
    assert [m.direction for m in resumed.media] == ["sendrecv", "sendrecv"]


def test_rfc4317_legacy_hold_detected_distinctly() -> None:
    # §3.2-style hold of an RFC 2543 peer: c=0.0.0.0, no direction attribute.
    body = crlf("""
        v=0
        o=alice 2890844526 2890844527 IN IP4 host.atlanta.example.com
        s=
        c=IN IP4 0.0.0.0
        t=0 0
        m=audio 49170 RTP/AVP 0
        a=rtpmap:0 PCMU/8000
    """)
    sd = sdp.parse(body)
    (m,) = sd.media
    assert m.hold == "legacy_zero_address" and m.is_hold and m.direction == "sendrecv"
    # An ICE stream's 0.0.0.0 is a placeholder, not hold (RFC 8839 §4.2.2).
    ice = sdp.parse(body + b"a=ice-ufrag:8hhY\r\n")
    assert ice.media[0].hold is None


def test_offer_changes() -> None:
    a = sdp.parse(RFC3264_OFFER)
    assert sdp.offer_changes(a, a) == "unchanged"
    assert not sdp.changes_anything(a, a)
    refresh = sdp.parse(RFC3264_OFFER.replace(b"2890844526 IN", b"2890844527 IN"))
    assert sdp.offer_changes(a, refresh) == "version_only"
    assert not sdp.changes_anything(a, refresh)
    sneaky = sdp.parse(RFC3264_OFFER.replace(b"49170", b"49180"))
    assert sdp.offer_changes(a, sneaky) == "changed_without_version"
    assert sdp.changes_anything(a, sneaky)
    other = sdp.parse(RFC3264_OFFER.replace(b"o=alice", b"o=carol"))
    assert sdp.offer_changes(a, other) == "new_session"
    # Line endings do not count.
    lf = sdp.parse(RFC3264_OFFER.replace(b"\r\n", b"\n"))
    assert sdp.offer_changes(a, lf) == "unchanged"


# --- meaning: directions, telephone-event, RTCP, typed attributes ---------------------------

WEBRTC = crlf("""
    v=0
    o=- 4611731400430051336 2 IN IP4 127.0.0.1
    s=-
    t=0 0
    a=group:BUNDLE 0 1
    a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04
    a=sendonly
    m=audio 9 UDP/TLS/RTP/SAVPF 111 103 0 101
    c=IN IP4 0.0.0.0
    a=rtcp:9 IN IP4 0.0.0.0
    a=ice-ufrag:8hhY
    a=ice-pwd:asd88fgpdd777uzjYhagZg
    a=setup:actpass
    a=mid:0
    a=recvonly
    a=rtcp-mux
    a=rtpmap:111 opus/48000/2
    a=fmtp:111 minptime=10;useinbandfec=1
    a=rtpmap:103 ISAC/16000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-15,66,70
    a=ptime:20
    a=maxptime:60
    a=ssrc:1001 cname:user@host
    a=candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host generation 0
    a=candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998
    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32
    m=video 9 UDP/TLS/RTP/SAVPF 96
    c=IN IP4 0.0.0.0
    a=mid:1
    a=rtpmap:96 VP8/90000
    m=application 0 UDP/DTLS/SCTP webrtc-datachannel
    c=IN IP4 0.0.0.0
""")


def test_effective_direction_media_over_session() -> None:
    sd = sdp.parse(WEBRTC)
    assert sd.direction == "sendonly"
    audio, video, app = sd.media
    assert audio.direction == "recvonly" and audio.own_direction == "recvonly"
    assert video.direction == "sendonly" and video.own_direction is None
    assert video.hold == "sendonly"
    assert app.is_disabled and app.hold is None and app.codecs == []
    assert app.protocol == "UDP/DTLS/SCTP" and app.formats == ["webrtc-datachannel"]


def test_codecs_static_and_dynamic() -> None:
    audio = sdp.parse(WEBRTC).media[0]
    got = [(c.payload_type, c.name, c.clock_rate, c.channels, c.fmtp) for c in audio.codecs]
    assert got == [
        (111, "opus", 48000, 2, "minptime=10;useinbandfec=1"),
        (103, "ISAC", 16000, None, None),
        (0, "PCMU", 8000, 1, None),
        (101, "telephone-event", 8000, None, "0-15,66,70"),
    ]
    assert audio.codecs[0].fmtp_params == {"minptime": "10", "useinbandfec": "1"}
    assert audio.codecs[3].fmtp_params == {"": "0-15,66,70"}
    assert repr(audio.codecs[0]) == "<Codec 111 opus/48000/2>"
    # A dynamic payload type without rtpmap has no name.
    body = crlf("""
        v=0
        o=- 1 1 IN IP4 h
        s=-
        t=0 0
        m=audio 4000 RTP/AVP 96 18
    """)
    c96, c18 = sdp.parse(body).media[0].codecs
    assert (c96.name, c96.clock_rate, c96.channels) == ("", 0, None)
    assert (c18.name, c18.clock_rate) == ("G729", 8000)


def test_telephone_event() -> None:
    audio = sdp.parse(WEBRTC).media[0]
    te = audio.telephone_event
    assert te is not None
    assert (te.payload_type, te.clock_rate, te.events) == (101, 8000, "0-15,66,70")
    assert te.ranges == [(0, 15), (66, 66), (70, 70)]
    assert te.supports(66) and not te.supports(16)
    assert sdp.parse(RFC8866).media[0].telephone_event is None
    # Without fmtp, RFC 4733 §2.4.1 implies 0-15.
    body = crlf("""
        v=0
        o=- 1 1 IN IP4 h
        s=-
        t=0 0
        m=audio 4000 RTP/AVP 100
        a=rtpmap:100 telephone-event/16000
    """)
    te = sdp.parse(body).media[0].telephone_event
    assert te is not None and te.ranges == [(0, 15)] and te.clock_rate == 16000


def test_rtp_and_rtcp_endpoints() -> None:
    audio = sdp.parse(WEBRTC).media[0]
    assert (audio.rtp_address, audio.rtp_port) == ("0.0.0.0", 9)
    # a=rtcp wins (RFC 3605).
    assert (audio.rtcp_address, audio.rtcp_port) == ("0.0.0.0", 9)
    assert audio.rtcp_mux
    body = crlf("""
        v=0
        o=- 1 1 IN IP4 192.0.2.1
        s=-
        c=IN IP4 192.0.2.1
        t=0 0
        m=audio 49170 RTP/AVP 0
        m=audio 49180 RTP/AVP 0
        a=rtcp-mux
        m=audio 49190 RTP/AVP 0
        a=rtcp:53020 IN IP4 198.51.100.9
        m=audio 0 RTP/AVP 0
    """)
    plain, mux, rtcp, off = sdp.parse(body).media
    assert (plain.rtcp_address, plain.rtcp_port) == ("192.0.2.1", 49171)  # RFC 3550 §11
    assert (mux.rtcp_address, mux.rtcp_port) == ("192.0.2.1", 49180)
    assert (rtcp.rtcp_address, rtcp.rtcp_port) == ("198.51.100.9", 53020)
    assert (off.rtp_address, off.rtp_port, off.rtcp_port) == (None, None, None)


def test_typed_attributes() -> None:
    sd = sdp.parse(WEBRTC)
    (group,) = sd.groups
    assert (group.semantics, group.tags) == ("BUNDLE", ["0", "1"])
    assert [a.name for a in sd.attributes] == ["group", "fingerprint", "sendonly"]
    fp_attr = sd.attribute("fingerprint")
    assert fp_attr is not None and fp_attr.offset == WEBRTC.index(b"a=fingerprint")
    audio, video, _ = sd.media
    assert audio.ptime == 20 and audio.maxptime == 60
    assert audio.mid == "0" and video.mid == "1"
    assert audio.setup == "actpass" and video.setup is None
    assert audio.ice_ufrag == "8hhY" and audio.ice_pwd == "asd88fgpdd777uzjYhagZg"
    fp = video.fingerprint  # session level applies
    assert fp is not None and fp.hash == "sha-256" and fp.fingerprint.startswith("19:E2")
    c1, c2 = audio.candidates
    assert (c1.foundation, c1.component, c1.transport, c1.port, c1.type) == (
        "1",
        1,
        "UDP",
        8998,
        "host",
    )
    assert c1.extensions == "generation 0"
    assert (c2.type, c2.related_address, c2.related_port) == ("srflx", "10.0.1.1", 8998)
    (cr,) = audio.crypto
    assert (cr.tag, cr.suite, cr.session_params) == (1, "AES_CM_128_HMAC_SHA1_80", None)
    (ss,) = audio.ssrcs
    assert (ss.ssrc, ss.attribute, ss.value) == (1001, "cname", "user@host")
    fmtp = audio.fmtp("111")
    assert fmtp is not None and fmtp.pairs == [("minptime", "10"), ("useinbandfec", "1")]
    parsed: dict[str, object] = {}
    for a in audio.attributes:
        parsed.setdefault(a.name, a.parsed())
    rtpmap, rtcp = parsed["rtpmap"], parsed["rtcp"]
    assert isinstance(rtpmap, sdp.Rtpmap) and rtpmap.encoding == "opus"
    assert isinstance(rtcp, sdp.Rtcp) and rtcp.port == 9
    assert parsed["ptime"] == 20 and parsed["recvonly"] == "recvonly"
    assert parsed["rtcp-mux"] is True and parsed["mid"] == "0"
    assert isinstance(parsed["candidate"], sdp.Candidate)
    assert isinstance(parsed["crypto"], sdp.Crypto)
    bad = sdp.parse(
        crlf("""
        v=0
        o=- 1 1 IN IP4 h
        s=-
        t=0 0
        m=audio 4000 RTP/AVP 0
        a=candidate:1 1 UDP notanumber 10.0.1.1 8998 typ host
        a=ptime:abc
    """)
    )
    with pytest.raises(sipwire.ParseError) as e:
        bad.media[0].candidates  # noqa: B018
    assert e.value.kind == "sdp_invalid_value" and e.value.header is None
    ptime = bad.media[0].attribute("ptime")
    assert ptime is not None
    with pytest.raises(sipwire.ParseError):
        ptime.parsed()


# --- messages: msg.sdp ----------------------------------------------------------------------


def test_msg_sdp_plain_body() -> None:
    data = sip_with_body(RFC3264_OFFER)
    msg = sipwire.parse(data)
    sd = msg.sdp
    assert sd is not None
    assert bytes(sd) == RFC3264_OFFER
    body_at = data.index(b"\r\n\r\n") + 4
    assert sd.offset == body_at
    # Offsets are into the message.
    assert sd.media[0].offset == data.index(b"m=audio")
    assert [c.name for c in sd.media[0].codecs] == ["PCMU", "PCMA", "iLBC"]
    # No body, or another type: None.
    assert sipwire.parse(sip_with_body(b"")).sdp is None
    assert sipwire.parse(sip_with_body(b"hello", "text/plain")).sdp is None
    # Case-insensitive media type, parameters ignored (RFC 2045 §5.1).
    assert (
        sipwire.parse(sip_with_body(RFC3264_OFFER, "Application/SDP; charset=utf-8")).sdp
        is not None
    )


def test_msg_sdp_error_offsets_are_message_offsets() -> None:
    body = RFC3264_OFFER.replace(b"RTP/AVP 0 8 97", b"RTP/AVP 0 8 200")
    data = sip_with_body(body)
    msg = sipwire.parse(data)
    with pytest.raises(sipwire.ParseError) as e:
        msg.sdp  # noqa: B018
    assert e.value.kind == "sdp_invalid_payload_type"
    assert e.value.offset == data.index(b"200")
    assert e.value.header is None
    with pytest.raises(sipwire.ParseError) as e2:
        sdp.parse(body)
    assert e2.value.offset == body.index(b"200")
    assert e2.value.line == 6 and e2.value.column == body.index(b"200") - body.index(b"m=audio") + 1


def test_multipart_mixed_carries_sdp() -> None:
    # RFC 5621: SDP next to another part, each with its own headers.
    body = (
        b"--boundary42\r\n"
        b"Content-Type: application/sdp\r\n"
        b"\r\n" + RFC3264_OFFER + b"\r\n"
        b"--boundary42\r\n"
        b"Content-Type: application/resource-lists+xml\r\n"
        b"Content-Disposition: recipient-list\r\n"
        b"\r\n"
        b'<?xml version="1.0" encoding="UTF-8"?>\r\n<resource-lists/>\r\n'
        b"--boundary42--\r\n"
    )
    data = sip_with_body(body, 'multipart/mixed;boundary="boundary42"')
    msg = sipwire.parse(data)
    sd = msg.sdp
    assert sd is not None
    assert bytes(sd) == RFC3264_OFFER
    assert sd.offset == data.index(b"v=0")
    assert [m.port for m in sd.media] == [49170, 51372]
    # SDP as the second part, nested one level deeper.
    inner = (
        b"--in\r\nContent-Type: text/plain\r\n\r\nnote\r\n"
        b"--in\r\nContent-Type: application/sdp\r\n\r\n" + RFC8866 + b"\r\n--in--\r\n"
    )
    outer = (
        b"--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n"
        + inner
        + b"\r\n--out--\r\n"
    )
    sd2 = sipwire.parse(sip_with_body(outer, "multipart/mixed; boundary=out")).sdp
    assert sd2 is not None and bytes(sd2) == RFC8866
    # Multipart without SDP: None; without boundary: ParseError.
    no_sdp = b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n"
    assert sipwire.parse(sip_with_body(no_sdp, "multipart/mixed;boundary=b")).sdp is None
    with pytest.raises(sipwire.ParseError) as e:
        sipwire.parse(sip_with_body(no_sdp, "multipart/mixed")).sdp  # noqa: B018
    assert e.value.kind == "missing_boundary"
    # An SDP error inside a part is reported at its offset in the message.
    bad = body.replace(b"RTP/AVP 0 8 97", b"RTP/AVP 0 8 999")
    data = sip_with_body(bad, "multipart/mixed;boundary=boundary42")
    with pytest.raises(sipwire.ParseError) as e:
        sipwire.parse(data).sdp  # noqa: B018
    assert e.value.offset == data.index(b"999")


def _rfc4475_sdp_cases() -> list[str]:
    d = DATA / "rfc4475"
    out = []
    for f in sorted(d.glob("*.dat")):
        raw = f.read_bytes()
        if b"\ncontent-type: application/sdp" in raw.lower().replace(b"\r\n", b"\n"):
            out.append(f.name)
    return out


@pytest.mark.parametrize("name", _rfc4475_sdp_cases())
def test_rfc4475_messages_with_sdp(name: str) -> None:
    raw = (DATA / "rfc4475" / name).read_bytes()
    cases = {
        c["file"]: c for c in json.loads((DATA / "rfc4475" / "index.json").read_text())["cases"]
    }
    try:
        msg = sipwire.parse(raw, strict=False)
    except sipwire.ParseError:
        assert cases[name]["verdict"] != "valid"
        return
    if name == "mismatch02.dat":
        # Its SDP has v= and o= but no s= or t= (RFC 8866 §5 needs them).
        with pytest.raises(sipwire.ParseError) as e:
            msg.sdp  # noqa: B018
        assert e.value.kind == "sdp_missing_line"
        assert e.value.offset == raw.index(b"c=IN IP4 192.0.2.1")
        return
    sd = msg.sdp
    if msg.body == b"":
        assert sd is None
        return
    assert sd is not None
    assert bytes(sd) in raw
    assert sd.media, name
    for m in sd.media:
        assert m.kind in ("audio", "video")
        assert m.connection is not None and m.connection.startswith("192.0.2.")
        assert m.direction == "sendrecv" and not m.is_hold
        assert all(c.name for c in m.codecs)
    if len(sd.media) == 2:
        # `a=rtpmap:31 LPC` has no clock rate; the name is still read.
        assert [c.name for c in sd.media[1].codecs] == ["LPC"]
        assert [c.name for c in sd.media[0].codecs] == ["PCMU", "QCELP"]


def test_rfc5118_ipv6_in_sdp() -> None:
    d = DATA / "rfc5118" / "fixed"
    sd = sipwire.parse((d / "ipv6-in-sdp.sip").read_bytes()).sdp
    assert sd is not None
    info = sd.connection_info
    assert info is not None and (info.nettype, info.addrtype) == ("IN", "IP6")
    assert [(m.kind, m.connection) for m in sd.media] == [
        ("audio", "2001:db8::20"),
        ("video", "2001:db8::20"),
    ]
    mapped = sipwire.parse((d / "ipv4-mapped-ipv6.sip").read_bytes()).sdp
    assert mapped is not None and mapped.media[0].connection == "::ffff:192.0.2.2"


def test_rfc5118_per_media_connection() -> None:
    raw = (DATA / "rfc5118" / "fixed" / "mult-ip-in-sdp.sip").read_bytes()
    sd = sipwire.parse(raw).sdp
    assert sd is not None
    assert sd.connection is None
    audio, video = sd.media
    a_info, v_info = audio.connection_info, video.connection_info
    assert a_info is not None and v_info is not None
    assert (audio.connection, a_info.addrtype) == ("192.0.2.1", "IP4")
    assert (video.connection, v_info.addrtype) == ("2001:db8::1", "IP6")
    assert [c.name for c in video.codecs] == ["H263-1998"]
    assert bytes(sd) in raw


# --- bad input ----------------------------------------------------------------------------

HEAD = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"


def test_line_without_equals() -> None:
    body = HEAD + b"m=audio 4000 RTP/AVP 0\r\nthis is not sdp\r\na=sendrecv\r\n"
    with pytest.raises(sipwire.ParseError) as e:
        sdp.parse(body)
    assert (e.value.kind, e.value.offset) == ("sdp_invalid_line", body.index(b"this"))
    assert e.value.header is None
    sd = sdp.parse(body, strict=False)
    assert bytes(sd) == body
    assert [(d.kind, d.offset) for d in sd.diagnostics] == [
        ("sdp_invalid_line", body.index(b"this"))
    ]
    assert ("", "this is not sdp") in sd.lines
    assert sd.media[0].direction == "sendrecv"


def test_payload_type_over_127() -> None:
    body = HEAD + b"m=audio 4000 RTP/AVP 0 128\r\n"
    with pytest.raises(sipwire.ParseError) as e:
        sdp.parse(body)
    assert (e.value.kind, e.value.offset) == ("sdp_invalid_payload_type", body.index(b"128"))
    body = HEAD + b"m=audio 4000 RTP/AVP 0\r\na=rtpmap:300 X/8000\r\n"
    with pytest.raises(sipwire.ParseError) as e:
        sdp.parse(body)
    assert (e.value.kind, e.value.offset) == ("sdp_invalid_payload_type", body.index(b"300"))
    # Non-RTP formats are not payload types.
    assert sdp.parse(HEAD + b"m=image 4000 udptl t38\r\n").media[0].formats == ["t38"]


def test_line_too_long() -> None:
    long_attr = b"a=x-junk:" + b"A" * 9000 + b"\r\n"
    body = HEAD + b"m=audio 4000 RTP/AVP 0\r\n" + long_attr
    with pytest.raises(sipwire.ParseError) as e:
        sdp.parse(body)
    assert (e.value.kind, e.value.offset) == ("sdp_line_too_long", body.index(b"a=x-junk"))
    # The limit is a value you pass.
    assert (
        sdp.parse(body, limits=sipwire.Limits(max_sdp_line=16384)).media[0].attributes[0].name
        == "x-junk"
    )
    with pytest.raises(sipwire.ParseError):
        sdp.parse(HEAD, limits=sipwire.Limits(max_sdp_line=10))


def test_too_many_media_and_attributes() -> None:
    body = HEAD + b"m=audio 4000 RTP/AVP 0\r\n" * 5
    assert len(sdp.parse(body).media) == 5
    with pytest.raises(sipwire.ParseError) as e:
        sdp.parse(body, limits=sipwire.Limits(max_sdp_media=4))
    assert e.value.kind == "sdp_too_many_media"
    assert e.value.offset == len(HEAD) + 4 * len(b"m=audio 4000 RTP/AVP 0\r\n")
    body = HEAD + b"m=audio 4000 RTP/AVP 0\r\n" + b"a=x\r\n" * 10
    with pytest.raises(sipwire.ParseError) as e:
        sdp.parse(body, limits=sipwire.Limits(max_sdp_attributes=9))
    assert e.value.kind == "sdp_too_many_attributes"
    assert e.value.offset == len(body) - len(b"a=x\r\n")
    # Through a message, the message's limits apply.
    data = sip_with_body(body)
    with pytest.raises(sipwire.ParseError) as e:
        sipwire.parse(data, limits=sipwire.Limits(max_sdp_attributes=9)).sdp  # noqa: B018
    assert e.value.offset == len(data) - len(b"a=x\r\n")


def test_default_limits_bound_floods() -> None:
    body = HEAD + b"m=audio 4000 RTP/AVP 0\r\n" * 33
    with pytest.raises(sipwire.ParseError) as e:
        sdp.parse(body)
    assert e.value.kind == "sdp_too_many_media"
    body = HEAD + b"m=audio 4000 RTP/AVP 0\r\n" + b"a=sendrecv\r\n" * 513
    with pytest.raises(sipwire.ParseError) as e:
        sdp.parse(body)
    assert e.value.kind == "sdp_too_many_attributes"


GLUED = HEAD + b"m=audio 4000 RTP/AVP 2 18\r\na=rtpmap:2 G726-32/8000/1a=rtpmap:18 G729/8000\r\n"


def test_glued_lines_strict_error_at_the_glue() -> None:
    with pytest.raises(sipwire.ParseError) as e:
        sdp.parse(GLUED)
    assert e.value.kind == "sdp_invalid_line"
    assert e.value.offset == GLUED.index(b"a=rtpmap:18")
    assert e.value.line == 7 and e.value.header is None


def test_glued_lines_lenient_recovers_both_codecs() -> None:
    sd = sdp.parse(GLUED, strict=False)
    assert bytes(sd) == GLUED
    (d,) = sd.diagnostics
    assert (d.kind, d.offset, d.line, d.header) == (
        "sdp_invalid_line",
        GLUED.index(b"a=rtpmap:18"),
        7,
        None,
    )
    assert [
        (c.payload_type, c.name, c.clock_rate, c.channels, c.from_rtpmap)
        for c in sd.media[0].codecs
    ] == [
        (2, "G726-32", 8000, 1, True),
        (18, "G729", 8000, None, True),
    ]
    # Through a lenient message parse, the diagnostic offset is into the message.
    data = sip_with_body(GLUED)
    msd = sipwire.parse(data, strict=False).sdp
    assert msd is not None
    assert [d.offset for d in msd.diagnostics] == [data.index(b"a=rtpmap:18")]
    with pytest.raises(sipwire.ParseError):
        sipwire.parse(data).sdp  # noqa: B018


def test_missing_mandatory_lines() -> None:
    with pytest.raises(sipwire.ParseError) as e:
        sdp.parse(b"v=0\r\ns=-\r\nt=0 0\r\n")
    assert e.value.kind == "sdp_missing_line"
    with pytest.raises(sipwire.ParseError) as e:
        sdp.parse(b"")
    assert e.value.kind == "sdp_missing_line"
    with pytest.raises(sipwire.ParseError) as e:
        sdp.parse(b"v=1\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n")
    assert (e.value.kind, e.value.offset) == ("sdp_invalid_value", 2)
    with pytest.raises(TypeError):
        sdp.parse("v=0\r\n")  # type: ignore[arg-type]


def test_unknown_lines_and_attributes_kept() -> None:
    body = HEAD + b"x=unknown line type\r\nm=audio 4000 RTP/AVP 0\r\na=x-vendor:1 2 3\r\n"
    sd = sdp.parse(body)
    assert ("x", "unknown line type") in sd.lines
    attr = sd.media[0].attribute("x-vendor")
    assert attr is not None and attr.value == "1 2 3" and attr.parsed() == "1 2 3"
    assert bytes(sd) == body


# --- writing ------------------------------------------------------------------------------


def test_byte_exact_serialization_of_odd_bodies() -> None:
    for body in (
        RFC8866.replace(b"\r\n", b"\n"),
        RFC8866[:-2],  # no final line ending
        RFC8866 + b"\r\n\r\n",  # padding
        RFC8866.replace(b"m=audio 49170", b"m=audio  49170"),  # runs of spaces
    ):
        sd = sdp.parse(body)
        assert bytes(sd) == body
        assert len(sd) == len(body)


def test_builder() -> None:
    sd = (
        sdp.SessionBuilder(
            "192.0.2.1", username="alice", session_id=42, session_version=7, session_name="call"
        )
        .attribute("tool", "sipwire")
        .media(
            sdp.MediaBuilder("audio", 49170)
            .codec(0, "PCMU", 8000)
            .codec(111, "opus", 48000, channels=2, fmtp="useinbandfec=1")
            .codec(101, "telephone-event", 8000, fmtp="0-16")
            .attribute("ptime", "20")
            .direction("sendonly")
        )
        .media(sdp.MediaBuilder("image", 0, "udptl").format("t38").connection("2001:db8::5"))
        .build()
    )
    raw = bytes(sd)
    assert raw.startswith(
        b"v=0\r\no=alice 42 7 IN IP4 192.0.2.1\r\ns=call\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
    )
    assert raw.count(b"\r\n") == raw.count(b"\n")
    audio, image = sd.media
    assert [(c.payload_type, c.name, c.clock_rate, c.channels) for c in audio.codecs] == [
        (0, "PCMU", 8000, None),
        (111, "opus", 48000, 2),
        (101, "telephone-event", 8000, None),
    ]
    assert audio.direction == "sendonly" and audio.ptime == 20
    te = audio.telephone_event
    assert te is not None and te.ranges == [(0, 16)]
    assert image.connection == "2001:db8::5" and image.is_disabled
    attr = sd.attribute("tool")
    assert attr is not None and attr.value == "sipwire"
    assert sdp.parse(raw) == sd
    assert hash(sdp.parse(raw)) == hash(sd)


@pytest.mark.parametrize(
    "make",
    [
        lambda: sdp.SessionBuilder("192.0.2.1", session_name="x\r\na=evil"),
        lambda: sdp.SessionBuilder("192.0.2.1\n"),
        lambda: sdp.SessionBuilder("192.0.2.1").attribute("x", "a\x00b"),
        lambda: sdp.SessionBuilder("192.0.2.1").line("i", "one\rtwo"),
        lambda: sdp.MediaBuilder("audio\r\n", 1),
        lambda: sdp.MediaBuilder("audio", 1).codec(96, "X\n", 8000),
        lambda: sdp.MediaBuilder("audio", 1).codec(128, "X", 8000),
        lambda: sdp.MediaBuilder("audio", 1).attribute("fmtp", "96 a=b\r\nm=video 1 RTP/AVP 0"),
        lambda: sdp.MediaBuilder("audio", 1).direction("sideways"),  # type: ignore[arg-type]
        lambda: sdp.MediaBuilder("audio", 1).line("ii", "x"),
    ],
)
def test_builder_refuses_injection(make: object) -> None:
    with pytest.raises(sipwire.LocalProtocolError):
        make()  # type: ignore[operator]


def test_pickle_and_equality() -> None:
    sd = sdp.parse(RFC3264_OFFER, strict=False)
    again = pickle.loads(pickle.dumps(sd))
    assert again == sd and bytes(again) == RFC3264_OFFER
    assert sd != sdp.parse(RFC3264_ANSWER)
    assert sd != RFC3264_OFFER
    msd = sipwire.parse(sip_with_body(RFC3264_OFFER)).sdp
    assert msd == sd


def test_public_names() -> None:
    for name in sdp.__all__:
        assert hasattr(sdp, name), name
    assert sdp.parse is sipwire._sipwire.sdp_parse
    assert isinstance(sdp.parse(RFC8866), sdp.SessionDescription)


# --- round trip property ------------------------------------------------------------------

_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=12)
_value = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF, blacklist_characters="\x7f"),
    max_size=40,
)
_eol = st.sampled_from(["\r\n", "\n"])


@st.composite
def descriptions(draw: st.DrawFn) -> bytes:
    eol = draw(_eol)
    lines = [
        "v=0",
        f"o={draw(_token)} {draw(st.integers(0, 2**63))} {draw(st.integers(0, 2**63))} IN IP4 {draw(_token)}",
        f"s={draw(_value)}",
    ]
    if draw(st.booleans()):
        lines.append(f"i={draw(_value)}")
    if draw(st.booleans()):
        lines.append(f"c=IN IP4 {draw(_token)}")
    lines.append("t=0 0")
    for _ in range(draw(st.integers(0, 3))):
        lines.append(f"a={draw(_token)}" + (f":{draw(_value)}" if draw(st.booleans()) else ""))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["audio", "video", "image", "application", "text"]))
        if kind == "image":
            lines.append(f"m=image {draw(st.integers(0, 65535))} udptl t38")
        else:
            pts = draw(st.lists(st.integers(0, 127), min_size=1, max_size=6))
            port = draw(st.integers(0, 65535))
            lines.append(f"m={kind} {port} RTP/AVP " + " ".join(map(str, pts)))
            for pt in pts:
                if draw(st.booleans()):
                    lines.append(f"a=rtpmap:{pt} {draw(_token)}/{draw(st.integers(1, 96000))}")
                if draw(st.booleans()):
                    lines.append(f"a=fmtp:{pt} {draw(_value)}")
        if draw(st.booleans()):
            lines.append(f"c=IN IP6 {draw(_token)}")
        extra = st.sampled_from(
            [
                "a=sendonly",
                "a=recvonly",
                "a=inactive",
                "a=sendrecv",
                "a=rtcp-mux",
                "b=AS:64",
                "x=whatever",
            ]
        )
        lines.extend(draw(st.lists(extra, max_size=3)))
    text = eol.join(lines)
    tail = draw(st.sampled_from(["", eol, eol + eol]))
    return (text + tail).encode()


@settings(max_examples=300, deadline=None)
@given(descriptions())
def test_round_trip_property(raw: bytes) -> None:
    sd = sdp.parse(raw)
    assert bytes(sd) == raw
    # Reading everything never fails on a description that parsed.
    for m in sd.media:
        m.codecs, m.direction, m.hold, m.connection, m.rtcp_port, m.attributes  # noqa: B018
    assert bytes(sdp.parse(raw, strict=False)) == raw


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(raw: bytes) -> None:
    for strict in (True, False):
        try:
            sd = sdp.parse(raw, strict=strict)
        except sipwire.ParseError as e:
            assert 0 <= e.offset <= len(raw)
            continue
        assert bytes(sd) == raw
        for m in sd.media:
            m.codecs, m.direction, m.hold, m.telephone_event  # noqa: B018
