//! SDP integration tests: RFC examples (typed in from RFC 8866, 4566, 3264, 4317), the SDP
//! bodies of the torture corpus, bad input, offer/answer, writing, multipart.

use sipwire::body::{boundary_param, Multipart};
use sipwire::sdp::{
    answer, compare_offers, hold_offer, resume_offer, write, Direction, Hold, HoldStyle,
    LocalCapabilities, LocalCodec, LocalMedia, OfferChange, OwnedMedia, OwnedSession,
    SessionDescription, TypedAttr,
};
use sipwire::{Diagnostic, ErrorKind, ParseOptions};
use std::path::PathBuf;

fn crlf(s: &str) -> Vec<u8> {
    s.lines()
        .map(|l| l.trim_start())
        .filter(|l| !l.is_empty())
        .flat_map(|l| [l.as_bytes(), b"\r\n"].concat())
        .collect()
}

fn strict(b: &[u8]) -> SessionDescription<'_> {
    SessionDescription::parse(b, &ParseOptions::STRICT, &mut Vec::new())
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
}

fn strict_err(b: &[u8]) -> (ErrorKind, u32) {
    let e = SessionDescription::parse(b, &ParseOptions::STRICT, &mut Vec::new()).unwrap_err();
    (e.kind, e.offset)
}

fn lenient(b: &[u8]) -> (SessionDescription<'_>, Vec<Diagnostic>) {
    let mut d = Vec::new();
    let sd = SessionDescription::parse(b, &ParseOptions::LIBERAL, &mut d).unwrap();
    (sd, d)
}

fn at(b: &[u8], needle: &str) -> u32 {
    b.windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap() as u32
}

fn names(m: &sipwire::sdp::Media<'_>) -> Vec<String> {
    m.codecs()
        .map(|c| String::from_utf8_lossy(c.name).into_owned())
        .collect()
}

// ---------------------------------------------------------------- RFC examples

const RFC8866_EXAMPLE: &str = "
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
";

#[test]
fn rfc8866_section5_example() {
    let b = crlf(RFC8866_EXAMPLE);
    let sd = strict(&b);
    let o = sd.origin();
    assert_eq!(o.username, b"jdoe");
    assert_eq!(o.session_id, b"3724394400");
    assert_eq!(o.version_number(), Some(3724394405));
    assert_eq!(
        (o.nettype, o.addrtype, o.address),
        (&b"IN"[..], &b"IP4"[..], &b"198.51.100.1"[..])
    );
    assert_eq!(sd.session_name(), b"Call to John Smith");
    assert_eq!(sd.information(), Some(&b"SDP Offer #1"[..]));
    assert_eq!(
        sd.uri(),
        Some(&b"http://www.jdoe.example.com/home.html"[..])
    );
    assert_eq!(sd.emails().count(), 1);
    assert_eq!(sd.phones().next(), Some(&b"+1 617 555-6011"[..]));
    assert_eq!(sd.timings().next().map(|t| (t.start, t.stop)), Some((0, 0)));
    assert_eq!(sd.media_count(), 3);
    let m: Vec<_> = sd.media().collect();
    assert_eq!(m[0].kind(), b"audio");
    assert_eq!(m[0].port(), 49170);
    assert_eq!(m[0].protocol(), b"RTP/AVP");
    assert_eq!(names(&m[0]), ["PCMU"]);
    assert_eq!(m[0].codec(0).clock_rate, 8000);
    assert!(!m[0].codec(0).from_rtpmap);
    assert_eq!(m[1].port(), 49180);
    assert_eq!(m[0].connection().unwrap().address, b"198.51.100.1");
    // Media-level c= overrides the session's.
    let c = m[2].connection().unwrap();
    assert_eq!((c.addrtype, c.address), (&b"IP6"[..], &b"2001:db8::2"[..]));
    assert_eq!(names(&m[2]), ["h263-1998"]);
    assert_eq!(m[2].codec(99).clock_rate, 90000);
    for x in &m {
        assert_eq!(x.direction(), Direction::SendRecv);
        assert_eq!(x.hold(), Hold::NotHeld);
    }
    assert_eq!(m[0].rtp_endpoint().unwrap().port, 49170);
    assert_eq!(m[0].rtcp_endpoint().unwrap().port, 49171);
    assert_eq!(write(&sd), b);
}

#[test]
fn rfc4566_section5_example_session_level_direction_and_ttl() {
    let b = crlf(
        "v=0
         o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5
         s=SDP Seminar
         i=A Seminar on the session description protocol
         u=http://www.example.com/seminars/sdp.pdf
         e=j.doe@example.com (Jane Doe)
         c=IN IP4 224.2.17.12/127
         t=2873397496 2873404696
         a=recvonly
         m=audio 49170 RTP/AVP 0
         m=video 51372 RTP/AVP 99
         a=rtpmap:99 h263-1998/90000",
    );
    let sd = strict(&b);
    assert_eq!(sd.direction(), Direction::RecvOnly);
    let c = sd.connection().unwrap();
    assert_eq!(
        (c.address, c.ttl, c.count),
        (&b"224.2.17.12"[..], Some(127), None)
    );
    let t = sd.timings().next().unwrap();
    assert_eq!((t.start, t.stop), (2873397496, 2873404696));
    for m in sd.media() {
        assert_eq!(m.direction(), Direction::RecvOnly);
        assert_eq!(m.own_direction(), None);
        assert!(!m.is_hold());
    }
    assert_eq!(write(&sd), b);
}

// ---------------------------------------------------------------- corpus

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// The body of a corpus message: the bytes after the first empty line.
fn body_of(msg: &[u8]) -> &[u8] {
    let crlf = msg.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let lf = msg.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    let start = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(msg.len()),
    };
    &msg[start..]
}

#[test]
fn corpus_sdp_bodies() {
    let mut seen = 0;
    for sub in ["rfc4475", "rfc5118/wire"] {
        let dir = corpus_dir().join(sub);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let msg = std::fs::read(&f).unwrap();
            let body = body_of(&msg);
            if !body.starts_with(b"v=0") {
                continue;
            }
            seen += 1;
            let name = f.file_name().unwrap().to_str().unwrap().to_owned();
            match name.as_str() {
                // No s= and no t= (RFC 4475 §3.1.2.18 is about the CSeq; the body is short).
                "mismatch02.dat" => {
                    assert_eq!(
                        strict_err(body),
                        (ErrorKind::SdpMissingLine, at(body, "c="))
                    );
                }
                // `testing=123` is not `<type>=<value>`.
                "test.dat" => {
                    assert_eq!(strict_err(body), (ErrorKind::SdpInvalidLine, 5));
                    let mut d = Vec::new();
                    let e = SessionDescription::parse(body, &ParseOptions::LIBERAL, &mut d)
                        .unwrap_err();
                    assert_eq!(e.kind, ErrorKind::SdpMissingLine);
                }
                _ => {
                    let sd = strict(body);
                    assert_eq!(write(&sd), body, "{name}");
                    assert!(sd.media_count() >= 1, "{name}");
                    for m in sd.media() {
                        assert!(m.port() > 0);
                        assert!(m.connection().is_some(), "{name}");
                        assert_eq!(m.direction(), Direction::SendRecv);
                        assert!(m.codecs().all(|c| !c.name.is_empty()), "{name}");
                    }
                }
            }
        }
    }
    assert!(seen >= 20, "corpus SDP bodies found: {seen}");
}

#[test]
fn rfc4475_sdp01_codecs() {
    let msg = std::fs::read(corpus_dir().join("rfc4475/sdp01.dat")).unwrap();
    let sd = strict(body_of(&msg));
    let m: Vec<_> = sd.media().collect();
    assert_eq!(names(&m[0]), ["PCMU", "QCELP"]);
    assert_eq!(names(&m[1]), ["LPC"]);
    // PT 31 is H261 in RFC 3551, but the rtpmap says LPC, and the rtpmap wins.
    assert!(m[1].codec(31).from_rtpmap);
    assert_eq!(m[1].codec(31).clock_rate, 0);
}

#[test]
fn rfc4475_multi01_trailing_empty_line_round_trips() {
    let msg = std::fs::read(corpus_dir().join("rfc4475/multi01.dat")).unwrap();
    let body = body_of(&msg);
    let sd = strict(body);
    assert_eq!(sd.trailer(), b"\r\n");
    assert_eq!(write(&sd), body);
}

#[test]
fn rfc5118_ipv6_bodies() {
    let msg = std::fs::read(corpus_dir().join("rfc5118/wire/ipv6-in-sdp.sip")).unwrap();
    let sd = strict(body_of(&msg));
    assert_eq!(sd.origin().addrtype, b"IP6");
    assert_eq!(sd.origin().address, b"2001:db8::20");
    let m: Vec<_> = sd.media().collect();
    assert_eq!(m[0].connection().unwrap().address, b"2001:db8::20");
    assert_eq!(names(&m[0]), ["G726-32"]);
    assert_eq!(names(&m[1]), ["H263-1998"]);
    assert_eq!(m[1].rtp_endpoint().unwrap().port, 6024);

    let msg = std::fs::read(corpus_dir().join("rfc5118/wire/ipv4-mapped-ipv6.sip")).unwrap();
    let sd = strict(body_of(&msg));
    assert_eq!(sd.connection().unwrap().address, b"::ffff:192.0.2.2");

    // Per-media c= lines, IPv4 and IPv6, no session-level one; empty s=.
    let msg = std::fs::read(corpus_dir().join("rfc5118/wire/mult-ip-in-sdp.sip")).unwrap();
    let sd = strict(body_of(&msg));
    assert!(sd.connection().is_none());
    assert_eq!(sd.session_name(), b"");
    let m: Vec<_> = sd.media().collect();
    let (a, v) = (m[0].connection().unwrap(), m[1].connection().unwrap());
    assert_eq!((a.addrtype, a.address), (&b"IP4"[..], &b"192.0.2.1"[..]));
    assert_eq!((v.addrtype, v.address), (&b"IP6"[..], &b"2001:db8::1"[..]));
    assert_eq!(m[1].rtcp_endpoint().unwrap().address, b"2001:db8::1");
}

// ---------------------------------------------------------------- line endings, writing

#[test]
fn line_endings_and_round_trips() {
    let lf = b"v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=sendonly";
    let sd = strict(lf);
    assert_eq!(sd.media_at(0).unwrap().direction(), Direction::SendOnly);
    assert_eq!(write(&sd), lf);
    let mixed = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\ns=-\r\nt=0 0\r\nx=unknown type\r\nm=audio 4000 RTP/AVP 0\r\na=x-custom:1 2\r\na=flag\r\n\r\n\r\n";
    let sd = strict(mixed);
    assert_eq!(sd.session_values(b'x').next(), Some(&b"unknown type"[..]));
    let m = sd.media_at(0).unwrap();
    assert_eq!(m.attribute(b"x-custom").unwrap().value, Some(&b"1 2"[..]));
    assert_eq!(m.attribute(b"flag").unwrap().value, None);
    assert!(matches!(
        m.attribute(b"flag").unwrap().typed(),
        Ok(TypedAttr::Other { .. })
    ));
    assert_eq!(write(&sd), mixed);
    assert_eq!(sd.lines().count(), 8);
}

// ---------------------------------------------------------------- bad input

const BASE: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";

fn with_base(rest: &str) -> Vec<u8> {
    format!("{BASE}{rest}").into_bytes()
}

#[test]
fn line_without_equals() {
    let b = with_base("m=audio 4000 RTP/AVP 0\r\nrtpmap 0 PCMU\r\na=sendrecv\r\n");
    let off = at(&b, "rtpmap 0");
    assert_eq!(strict_err(&b), (ErrorKind::SdpInvalidLine, off));
    let (sd, d) = lenient(&b);
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].kind, d[0].offset), (ErrorKind::SdpInvalidLine, off));
    assert_eq!(sd.media_at(0).unwrap().direction(), Direction::SendRecv);
    assert_eq!(write(&sd), b);
    // Empty line in the middle, and an uppercase type.
    let b = with_base("\r\nm=audio 4000 RTP/AVP 0\r\n");
    assert_eq!(
        strict_err(&b),
        (ErrorKind::SdpInvalidLine, BASE.len() as u32)
    );
    let b = with_base("M=audio 4000 RTP/AVP 0\r\n");
    assert_eq!(strict_err(&b).0, ErrorKind::SdpInvalidLine);
}

#[test]
fn payload_type_over_127() {
    let b = with_base("m=audio 4000 RTP/AVP 0 128\r\n");
    assert_eq!(
        strict_err(&b),
        (ErrorKind::SdpInvalidPayloadType, at(&b, "128"))
    );
    let b = with_base("m=audio 4000 RTP/AVP 0\r\na=rtpmap:300 X/8000\r\n");
    assert_eq!(
        strict_err(&b),
        (ErrorKind::SdpInvalidPayloadType, at(&b, "300"))
    );
    let b = with_base("m=audio 4000 RTP/AVP abc\r\n");
    assert_eq!(strict_err(&b), (ErrorKind::SdpInvalidValue, at(&b, "abc")));
    // Non-RTP formats are not payload types.
    let b = with_base("m=image 4000 udptl t38\r\n");
    assert_eq!(strict(&b).media_at(0).unwrap().codecs().count(), 0);
}

#[test]
fn oversized_line_and_attribute() {
    let long = "x".repeat(9000);
    let b = with_base(&format!("m=audio 4000 RTP/AVP 0\r\na=x-big:{long}\r\n"));
    assert_eq!(
        strict_err(&b),
        (ErrorKind::SdpLineTooLong, at(&b, "a=x-big"))
    );
    let mut o = ParseOptions::STRICT;
    o.limits.max_sdp_line = 20;
    let b = with_base("m=audio 4000 RTP/AVP 0 8 18 101 96 97\r\n");
    let e = SessionDescription::parse(&b, &o, &mut Vec::new()).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (ErrorKind::SdpLineTooLong, at(&b, "o="))
    );
    // A body that never ends its line is still bounded.
    let b = format!("v=0\r\no={long}");
    assert_eq!(strict_err(b.as_bytes()), (ErrorKind::SdpLineTooLong, 5));
}

#[test]
fn too_many_media_and_attributes() {
    let mut s = BASE.to_owned();
    for i in 0..33 {
        s.push_str(&format!("m=audio {} RTP/AVP 0\r\n", 4000 + 2 * i));
    }
    let b = s.into_bytes();
    let (k, off) = strict_err(&b);
    assert_eq!(k, ErrorKind::SdpTooManyMedia);
    assert_eq!(off, at(&b, "m=audio 4064"));

    let mut o = ParseOptions::STRICT;
    o.limits.max_sdp_attributes = 3;
    let b = with_base("a=a\r\nm=audio 4000 RTP/AVP 0\r\na=b\r\na=c\r\na=d\r\n");
    let e = SessionDescription::parse(&b, &o, &mut Vec::new()).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (ErrorKind::SdpTooManyAttributes, at(&b, "a=d"))
    );
}

#[test]
fn missing_and_malformed_mandatory_lines() {
    assert_eq!(strict_err(b""), (ErrorKind::SdpMissingLine, 0));
    assert_eq!(
        strict_err(b"o=- 1 1 IN IP4 h\r\n"),
        (ErrorKind::SdpMissingLine, 0)
    );
    assert_eq!(strict_err(b"v=1\r\n"), (ErrorKind::SdpInvalidValue, 2));
    assert_eq!(
        strict_err(b"v=0\r\no=- 1 IN IP4 h\r\n"),
        (ErrorKind::SdpInvalidValue, 7)
    );
    let b = b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n";
    assert_eq!(strict_err(b), (ErrorKind::SdpMissingLine, at(b, "m=")));
    let b = with_base("m=audio 70000 RTP/AVP 0\r\n");
    assert_eq!(
        strict_err(&b),
        (ErrorKind::SdpInvalidValue, at(&b, "70000"))
    );
    let b = with_base("m=audio 4000 RTP/AVP\r\n");
    assert_eq!(strict_err(&b).0, ErrorKind::SdpInvalidValue);
    // An rtpmap without a clock rate parses (RFC 4475's bodies have one); its typed view
    // says what is wrong.
    let b = with_base("m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n");
    let sd = strict(&b);
    let a = sd.media_at(0).unwrap().attribute(b"rtpmap").unwrap();
    assert_eq!(a.typed().unwrap_err().kind, ErrorKind::SdpInvalidValue);
}

#[test]
fn glued_lines_strict_error_and_lenient_recovery() {
    let b = with_base(
        "m=audio 6000 RTP/AVP 2 18\r\na=rtpmap:2 G726-32/8000/1a=rtpmap:18 G729/8000\r\na=ptime:20\r\n",
    );
    let glued_at = at(&b, "a=rtpmap:18");
    assert_eq!(strict_err(&b), (ErrorKind::SdpInvalidLine, glued_at));
    let (sd, d) = lenient(&b);
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].kind, d[0].offset),
        (ErrorKind::SdpInvalidLine, glued_at)
    );
    let m = sd.media_at(0).unwrap();
    let codecs: Vec<_> = m.codecs().collect();
    assert_eq!(codecs.len(), 2);
    assert_eq!(
        (codecs[0].name, codecs[0].clock_rate, codecs[0].channels),
        (&b"G726-32"[..], 8000, Some(1))
    );
    assert!(codecs[0].from_rtpmap);
    assert_eq!((codecs[1].name, codecs[1].clock_rate), (&b"G729"[..], 8000));
    assert!(codecs[1].from_rtpmap);
    assert_eq!(m.ptime(), Some(20));
    assert_eq!(write(&sd), b);

    // Glued m= and c= lines too; `=` inside fmtp values is not a glue.
    let b = with_base(
        "m=audio 6000 RTP/AVP 97\r\na=fmtp:97 mode=20;annexb=no;a=1\r\na=sendrecvm=video 6002 RTP/AVP 31c=IN IP4 192.0.2.9\r\n",
    );
    assert_eq!(
        strict_err(&b),
        (ErrorKind::SdpInvalidLine, at(&b, "m=video"))
    );
    let (sd, d) = lenient(&b);
    assert_eq!(d.len(), 2);
    assert_eq!(sd.media_count(), 2);
    let v = sd.media_at(1).unwrap();
    assert_eq!(v.connection().unwrap().address, b"192.0.2.9");
    assert_eq!(
        sd.media_at(0).unwrap().own_direction(),
        Some(Direction::SendRecv)
    );
    assert_eq!(
        sd.media_at(0).unwrap().fmtp(b"97").unwrap().get(b"annexb"),
        Some(&b"no"[..])
    );
    assert_eq!(write(&sd), b);
}

#[test]
fn no_panic_on_truncations() {
    let b = crlf(RFC8866_EXAMPLE);
    for n in 0..b.len() {
        let mut d = Vec::new();
        if let Ok(sd) = SessionDescription::parse(&b[..n], &ParseOptions::LIBERAL, &mut d) {
            assert_eq!(write(&sd), &b[..n]);
            for m in sd.media() {
                let _ = (
                    m.codecs().count(),
                    m.hold(),
                    m.rtcp_endpoint(),
                    m.connection(),
                );
            }
        }
    }
}

// ---------------------------------------------------------------- meaning

#[test]
fn hold_forms_are_told_apart() {
    let b = with_base(
        "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n\
         m=audio 4002 RTP/AVP 0\r\na=inactive\r\n\
         m=audio 4004 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n\
         m=audio 4006 RTP/AVP 0\r\na=recvonly\r\n\
         m=audio 0 RTP/AVP 0\r\na=inactive\r\n",
    );
    let sd = strict(&b);
    let h: Vec<_> = sd.media().map(|m| m.hold()).collect();
    assert_eq!(
        h,
        [
            Hold::SendOnly,
            Hold::Inactive,
            Hold::ZeroAddress,
            Hold::NotHeld,
            Hold::NotHeld
        ]
    );
    assert_eq!(Hold::ZeroAddress.as_str(), "legacy_zero_address");
    assert!(sd.media_at(2).unwrap().is_hold());
    assert!(sd.media_at(4).unwrap().rtp_endpoint().is_none());
    // Session-level sendonly is inherited, media-level overrides.
    let b = format!(
        "{BASE}a=sendonly\r\nm=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 31\r\na=sendrecv\r\n"
    );
    let sd = strict(b.as_bytes());
    assert_eq!(sd.media_at(0).unwrap().hold(), Hold::SendOnly);
    assert_eq!(sd.media_at(1).unwrap().direction(), Direction::SendRecv);
}

#[test]
fn telephone_event_rtcp_and_ptime() {
    let b = with_base(
        "m=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15,66\r\na=ptime:20\r\na=maxptime:40.0\r\na=rtcp:53020 IN IP4 126.16.64.4\r\n\
         m=audio 49172 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\na=rtcp-mux\r\n\
         m=audio 49174 RTP/AVP 97\r\n",
    );
    let sd = strict(&b);
    let m: Vec<_> = sd.media().collect();
    let te = m[0].telephone_event().unwrap();
    assert_eq!(
        (te.payload_type, te.clock_rate, te.events),
        (101, 8000, Some(&b"0-15,66"[..]))
    );
    assert_eq!(te.ranges().collect::<Vec<_>>(), [(0, 15), (66, 66)]);
    assert_eq!(names(&m[0]), ["PCMU", "PCMA", "telephone-event"]);
    assert_eq!((m[0].ptime(), m[0].maxptime()), (Some(20), Some(40)));
    let r = m[0].rtcp_endpoint().unwrap();
    assert_eq!((r.address, r.port), (&b"126.16.64.4"[..], 53020));
    let r = m[1].rtcp_endpoint().unwrap();
    assert_eq!((r.address, r.port), (&b"192.0.2.1"[..], 49172));
    assert!(m[1].rtcp_mux());
    assert_eq!(m[1].codec(96).channels, Some(2));
    assert!(m[1].telephone_event().is_none());
    // Dynamic payload type without rtpmap: unnamed.
    let c = m[2].codec(97);
    assert_eq!((c.name, c.clock_rate, c.from_rtpmap), (&b""[..], 0, false));
    assert_eq!(m[2].rtcp_endpoint().unwrap().port, 49175);
}

#[test]
fn webrtc_and_srtp_attributes() {
    let b = crlf(
        "v=0
         o=- 4611731400430051336 2 IN IP4 127.0.0.1
         s=-
         t=0 0
         a=group:BUNDLE 0 1
         a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2
         a=ice-ufrag:ETEn
         m=audio 9 UDP/TLS/RTP/SAVPF 111 110
         c=IN IP4 0.0.0.0
         a=rtcp:9 IN IP4 0.0.0.0
         a=candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host generation 0
         a=candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998
         a=ice-ufrag:EsAw
         a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1
         a=setup:actpass
         a=mid:0
         a=sendrecv
         a=rtcp-mux
         a=rtpmap:111 opus/48000/2
         a=fmtp:111 minptime=10;useinbandfec=1
         a=rtpmap:110 telephone-event/48000
         a=ssrc:3570614608 cname:4TOk42mSjXCkVIa6
         m=video 9 UDP/TLS/RTP/SAVPF 96
         c=IN IP4 0.0.0.0
         a=mid:1
         a=rtpmap:96 VP8/90000
         a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32",
    );
    let sd = strict(&b);
    let g = sd.groups().next().unwrap();
    assert_eq!(g.semantics, b"BUNDLE");
    assert_eq!(g.tags().collect::<Vec<_>>(), [&b"0"[..], b"1"]);
    let m: Vec<_> = sd.media().collect();
    assert_eq!(m[0].mid(), Some(&b"0"[..]));
    assert_eq!(m[0].ice_ufrag(), Some(&b"EsAw"[..]));
    assert_eq!(
        m[1].ice_ufrag(),
        Some(&b"ETEn"[..]),
        "session-level fallback"
    );
    assert_eq!(m[0].setup(), Some(&b"actpass"[..]));
    assert_eq!(m[1].fingerprint().unwrap().hash, b"sha-256");
    let c: Vec<_> = m[0].candidates().map(|c| c.unwrap()).collect();
    assert_eq!(c.len(), 2);
    assert_eq!((c[1].typ, c[1].related_port), (&b"srflx"[..], Some(8998)));
    assert_eq!(m[0].ssrcs().next().unwrap().unwrap().ssrc, 3570614608);
    assert_eq!(
        m[0].fmtp(b"111").unwrap().get(b"useinbandfec"),
        Some(&b"1"[..])
    );
    assert_eq!(m[0].telephone_event().unwrap().clock_rate, 48000);
    // c=0.0.0.0 is ICE's placeholder here, not a hold.
    assert_eq!(m[0].hold(), Hold::NotHeld);
    assert_eq!(m[1].hold(), Hold::NotHeld);
    assert_eq!(
        m[1].crypto().next().unwrap().unwrap().suite,
        b"AES_CM_128_HMAC_SHA1_80"
    );
    assert!(m[1].is_rtp());
    assert_eq!(write(&sd), b);
}

#[test]
fn t38_image_stream() {
    let b = with_base(
        "m=image 40000 udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxFillBitRemoval\r\na=T38FaxRateManagement:transferredTCF\r\na=T38FaxMaxDatagram:400\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n",
    );
    let sd = strict(&b);
    let m = sd.media_at(0).unwrap();
    assert_eq!(m.kind(), b"image");
    assert_eq!(m.formats().collect::<Vec<_>>(), [&b"t38"[..]]);
    let t = m.t38();
    assert_eq!(t.version, Some(0));
    assert_eq!(t.max_bit_rate, Some(14400));
    assert!(t.fill_bit_removal && !t.transcoding_mmr);
    assert_eq!(t.rate_management, Some(&b"transferredTCF"[..]));
    assert_eq!(t.max_datagram, Some(400));
    assert_eq!(t.udp_ec, Some(&b"t38UDPRedundancy"[..]));
    assert!(matches!(
        m.attribute(b"T38FaxVersion").unwrap().typed(),
        Ok(TypedAttr::T38 { .. })
    ));
}

// ---------------------------------------------------------------- offer/answer

fn local(name: &str, address: &str, media: Vec<LocalMedia>) -> LocalCapabilities {
    LocalCapabilities {
        username: name.to_owned(),
        session_id: 2890844730,
        session_version: 2890844730,
        address: address.to_owned(),
        session_name: String::new(),
        media,
    }
}

fn codecs(list: &[(&str, u32)]) -> Vec<LocalCodec> {
    list.iter().map(|(n, c)| LocalCodec::new(n, *c)).collect()
}

/// RFC 3264 §10.1: Bob refuses the first video stream (H.261) and accepts MPV.
#[test]
fn rfc3264_10_1_answer() {
    let offer = crlf(
        "v=0
         o=alice 2890844526 2890844526 IN IP4 host.anywhere.com
         s=
         c=IN IP4 host.anywhere.com
         t=0 0
         m=audio 49170 RTP/AVP 0
         a=rtpmap:0 PCMU/8000
         m=video 51372 RTP/AVP 31
         a=rtpmap:31 H261/90000
         m=video 53000 RTP/AVP 32
         a=rtpmap:32 MPV/90000",
    );
    let bob = local(
        "bob",
        "host.example.com",
        vec![
            LocalMedia::new("audio", 49920, codecs(&[("PCMU", 8000)])),
            LocalMedia::new("video", 53000, codecs(&[("MPV", 90000)])),
        ],
    );
    let ans = answer(&strict(&offer), &bob).unwrap().to_bytes();
    let sd = strict(&ans);
    assert_eq!(sd.origin().username, b"bob");
    assert_eq!(sd.connection().unwrap().address, b"host.example.com");
    let m: Vec<_> = sd.media().collect();
    assert_eq!(m.len(), 3);
    assert_eq!(
        (m[0].port(), names(&m[0])),
        (49920, vec!["PCMU".to_owned()])
    );
    assert_eq!(m[1].port(), 0);
    assert_eq!(m[1].formats().collect::<Vec<_>>(), [&b"31"[..]]);
    assert_eq!((m[2].port(), names(&m[2])), (53000, vec!["MPV".to_owned()]));
    assert_eq!(m[2].direction(), Direction::SendRecv);

    // Bob's second offer adds a recvonly telephone-events stream; Alice answers sendonly and
    // keeps the refused stream at port 0.
    let offer2 = crlf(
        "v=0
         o=bob 2890844730 2890844731 IN IP4 host.example.com
         s=
         c=IN IP4 host.example.com
         t=0 0
         m=audio 65422 RTP/AVP 0
         a=rtpmap:0 PCMU/8000
         m=video 0 RTP/AVP 31
         m=video 53000 RTP/AVP 32
         a=rtpmap:32 MPV/90000
         m=audio 51434 RTP/AVP 110
         a=rtpmap:110 telephone-events/8000
         a=recvonly",
    );
    let alice = local(
        "alice",
        "host.anywhere.com",
        vec![
            LocalMedia::new("audio", 49170, codecs(&[("PCMU", 8000)])),
            LocalMedia::new("video", 51372, codecs(&[("H261", 90000)])),
            LocalMedia::new("video", 53000, codecs(&[("MPV", 90000)])),
            LocalMedia::new("audio", 53122, codecs(&[("telephone-events", 8000)])),
        ],
    );
    let ans = answer(&strict(&offer2), &alice).unwrap().to_bytes();
    let sd = strict(&ans);
    let m: Vec<_> = sd.media().collect();
    assert_eq!(
        m.iter().map(|m| m.port()).collect::<Vec<_>>(),
        [49170, 0, 53000, 53122]
    );
    assert_eq!(m[3].direction(), Direction::SendOnly);
    assert_eq!(names(&m[3]), ["telephone-events"]);
}

/// RFC 4317 §2.1: audio and video, codec intersection in the offerer's order.
#[test]
fn rfc4317_2_1_answer() {
    let offer = crlf(
        "v=0
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
         a=rtpmap:32 MPV/90000",
    );
    let bob = local(
        "bob",
        "host.biloxi.example.com",
        vec![
            LocalMedia::new(
                "audio",
                49174,
                codecs(&[("pcma", 8000), ("PCMU", 8000), ("G729", 8000)]),
            ),
            LocalMedia::new("video", 49170, codecs(&[("MPV", 90000)])),
        ],
    );
    let ans = answer(&strict(&offer), &bob).unwrap();
    let text = String::from_utf8(ans.to_bytes()).unwrap();
    assert_eq!(
        text,
        "v=0\r\no=bob 2890844730 2890844730 IN IP4 host.biloxi.example.com\r\ns=-\r\n\
         c=IN IP4 host.biloxi.example.com\r\nt=0 0\r\n\
         m=audio 49174 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n\
         m=video 49170 RTP/AVP 32\r\na=rtpmap:32 MPV/90000\r\na=sendrecv\r\n"
    );
}

#[test]
fn answer_directions_per_rfc3264_6_1() {
    for (offered, willing, expect) in [
        ("sendonly", Direction::SendRecv, Direction::RecvOnly),
        ("recvonly", Direction::SendRecv, Direction::SendOnly),
        ("inactive", Direction::SendRecv, Direction::Inactive),
        ("sendrecv", Direction::RecvOnly, Direction::RecvOnly),
        ("sendonly", Direction::SendOnly, Direction::Inactive),
    ] {
        let offer = with_base(&format!("m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=rtcp-mux\r\na={offered}\r\n"));
        let mut lm = LocalMedia::new(
            "audio",
            5000,
            codecs(&[("PCMU", 8000), ("telephone-event", 8000)]),
        );
        lm.direction = willing;
        lm.rtcp_mux = true;
        let ans = answer(&strict(&offer), &local("b", "2001:db8::1", vec![lm]))
            .unwrap()
            .to_bytes();
        let sd = strict(&ans);
        assert_eq!(sd.connection().unwrap().addrtype, b"IP6");
        let m = sd.media_at(0).unwrap();
        assert_eq!(m.direction(), expect, "offer {offered}");
        assert!(m.rtcp_mux());
        assert_eq!(m.telephone_event().unwrap().events, Some(&b"0-16"[..]));
    }
    // No common codec, no local stream of that kind, port 0 in the offer: refused.
    let offer =
        with_base("m=audio 4000 RTP/AVP 18\r\nm=video 4002 RTP/AVP 31\r\nm=audio 0 RTP/AVP 0\r\n");
    let ans = answer(
        &strict(&offer),
        &local(
            "b",
            "192.0.2.2",
            vec![
                LocalMedia::new("audio", 5000, codecs(&[("PCMU", 8000)])),
                LocalMedia::new("audio", 5002, codecs(&[("PCMU", 8000)])),
            ],
        ),
    )
    .unwrap()
    .to_bytes();
    let sd = strict(&ans);
    assert!(sd.media().all(|m| m.port() == 0));
    assert_eq!(sd.media_count(), 3);
}

#[test]
fn t38_answer_echoes_parameters() {
    let offer = with_base(
        "m=image 40000 udptl t38\r\na=T38FaxVersion:0\r\na=T38FaxRateManagement:transferredTCF\r\n",
    );
    let lm = LocalMedia::new("image", 41000, codecs(&[("t38", 0)]));
    let ans = answer(&strict(&offer), &local("b", "192.0.2.2", vec![lm]))
        .unwrap()
        .to_bytes();
    let sd = strict(&ans);
    let m = sd.media_at(0).unwrap();
    assert_eq!((m.port(), m.protocol()), (41000, &b"udptl"[..]));
    assert_eq!(m.t38().rate_management, Some(&b"transferredTCF"[..]));
}

const RFC4317_PREV: &str = "
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
";

/// RFC 4317 §2.4 (hold and resume, audio and video): the hold re-offer marks both streams
/// sendonly with the version incremented; the answerer replies recvonly.
#[test]
fn rfc4317_hold_and_resume() {
    let prev_b = crlf(RFC4317_PREV);
    let prev = strict(&prev_b);
    let hold_b = hold_offer(&prev, HoldStyle::SendOnly).unwrap().to_bytes();
    let expected = crlf(
        "v=0
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
         a=sendonly",
    );
    // "s=" with nothing after it: crlf() keeps it.
    assert_eq!(
        String::from_utf8_lossy(&hold_b),
        String::from_utf8_lossy(&expected)
    );
    let hold = strict(&hold_b);
    assert_eq!(hold.origin().session_id, b"2890844526");
    assert!(hold.media().all(|m| m.hold() == Hold::SendOnly));
    assert_eq!(compare_offers(&prev, &hold), OfferChange::Changed);
    assert_eq!(
        compare_offers(&strict(&expected), &hold),
        OfferChange::Unchanged
    );

    // The answerer's side.
    let bob = local(
        "bob",
        "host.biloxi.example.com",
        vec![
            LocalMedia::new("audio", 49172, codecs(&[("PCMU", 8000), ("iLBC", 8000)])),
            LocalMedia::new("video", 49168, codecs(&[("H261", 90000), ("MPV", 90000)])),
        ],
    );
    let ans_b = answer(&hold, &bob).unwrap().to_bytes();
    let ans = strict(&ans_b);
    assert!(ans.media().all(|m| m.direction() == Direction::RecvOnly));
    assert_eq!(names(&ans.media_at(0).unwrap()), ["PCMU", "iLBC"]);

    let resume_b = resume_offer(&hold, None).unwrap().to_bytes();
    let resume = strict(&resume_b);
    assert_eq!(resume.origin().version_number(), Some(2890844528));
    assert!(resume
        .media()
        .all(|m| m.direction() == Direction::SendRecv && !m.is_hold()));
    assert!(compare_offers(&hold, &resume).changes_anything());

    // inactive style; recvonly streams become inactive under the sendonly style (§8.4).
    let b = with_base("a=recvonly\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 0 RTP/AVP 0\r\n");
    let h = hold_offer(&strict(&b), HoldStyle::SendOnly)
        .unwrap()
        .to_bytes();
    let h = strict(&h);
    assert_eq!(h.media_at(0).unwrap().hold(), Hold::Inactive);
    assert_eq!(h.media_at(1).unwrap().own_direction(), None);
    let h = hold_offer(&prev, HoldStyle::Inactive).unwrap().to_bytes();
    assert!(strict(&h).media().all(|m| m.hold() == Hold::Inactive));
    let h = hold_offer(&prev, HoldStyle::ZeroAddress)
        .unwrap()
        .to_bytes();
    let h = strict(&h);
    assert!(h.media().all(|m| m.hold() == Hold::ZeroAddress));
    let r = resume_offer(&h, Some("192.0.2.7")).unwrap().to_bytes();
    let r = strict(&r);
    assert_eq!(r.connection().unwrap().address, b"192.0.2.7");
    assert!(r.media().all(|m| !m.is_hold()));
}

#[test]
fn compare_offers_kinds() {
    let a = crlf(RFC4317_PREV);
    let same = String::from_utf8(a.clone()).unwrap().replace("\r\n", "\n");
    assert_eq!(
        compare_offers(&strict(&a), &strict(same.as_bytes())),
        OfferChange::Unchanged
    );
    let refresh = String::from_utf8(a.clone())
        .unwrap()
        .replace("2890844526 IN", "2890844599 IN");
    let c = compare_offers(&strict(&a), &strict(refresh.as_bytes()));
    assert_eq!(c, OfferChange::VersionOnly);
    assert!(!c.changes_anything());
    let sneaky = String::from_utf8(a.clone())
        .unwrap()
        .replace("49170", "49180");
    assert_eq!(
        compare_offers(&strict(&a), &strict(sneaky.as_bytes())),
        OfferChange::ChangedWithoutVersion
    );
    let other = String::from_utf8(a.clone())
        .unwrap()
        .replace("o=alice 2890844526", "o=alice 1");
    assert_eq!(
        compare_offers(&strict(&a), &strict(other.as_bytes())),
        OfferChange::NewSession
    );
}

#[test]
fn builder_round_trips_through_parser() {
    let mut s = OwnedSession::new("me", 42, 1, "2001:db8::5", "call").unwrap();
    s.push_line(b'i', "info").unwrap();
    s.push_attribute("group", Some("BUNDLE a")).unwrap();
    let mut m = OwnedMedia::new("audio", 5004, "RTP/AVP").unwrap();
    m.add_codec(8, "PCMA", 8000, None, None).unwrap();
    m.push_attribute("mid", Some("a")).unwrap();
    m.set_direction(Direction::RecvOnly);
    m.set_connection("192.0.2.3").unwrap();
    s.add_media(m);
    let b = s.to_bytes();
    let sd = strict(&b);
    assert_eq!(sd.information(), Some(&b"info"[..]));
    assert_eq!(sd.origin().addrtype, b"IP6");
    let m = sd.media_at(0).unwrap();
    assert_eq!(m.connection().unwrap().address, b"192.0.2.3");
    assert_eq!(m.direction(), Direction::RecvOnly);
    assert_eq!(m.mid(), Some(&b"a"[..]));
    assert_eq!(OwnedSession::from_parsed(&sd).to_bytes(), b);
    assert_eq!(write(&sd), b);
}

// ---------------------------------------------------------------- multipart

#[test]
fn rfc4475_mpart01_binary_part() {
    let msg = std::fs::read(corpus_dir().join("rfc4475/mpart01.dat")).unwrap();
    let ct = msg
        .split(|&b| b == b'\n')
        .find(|l| l.starts_with(b"Content-Type: multipart"))
        .unwrap();
    let boundary = boundary_param(ct.strip_suffix(b"\r").unwrap()).unwrap();
    assert_eq!(boundary, b"7a9cbec02ceef655");
    let body = body_of(&msg);
    let mp = Multipart::parse(body, boundary, &ParseOptions::STRICT).unwrap();
    assert_eq!(mp.len(), 2);
    let p0 = mp.part(0).unwrap();
    assert_eq!(p0.media_type(), Some(&b"text/plain"[..]));
    assert_eq!(p0.body, b"Hello");
    let p1 = mp.part(1).unwrap();
    assert_eq!(
        p1.header(b"content-transfer-encoding"),
        Some(&b"binary"[..])
    );
    assert!(p1.body.contains(&0) && p1.body.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n'));
    assert!(p1
        .body
        .ends_with(&[0xe5, 0x7b, 0x65, 0xbc, 0x99, 0xd0, 0x05]));
    assert_eq!(&body[p1.body_offset as usize..][..p1.body.len()], p1.body);
}

/// RFC 5621 §3-style body: SDP next to another part; the SDP part parses.
#[test]
fn multipart_with_sdp_part() {
    let sdp = crlf(RFC8866_EXAMPLE);
    let mut body = b"--boundary1\r\nContent-Type: application/sdp\r\n\r\n".to_vec();
    body.extend_from_slice(&sdp);
    body.extend_from_slice(
        b"\r\n--boundary1\r\nContent-Type: application/resource-lists+xml\r\nContent-Disposition: recipient-list\r\n\r\n<?xml version=\"1.0\"?>\r\n--boundary1--\r\n",
    );
    let mp = Multipart::parse(&body, b"boundary1", &ParseOptions::STRICT).unwrap();
    let part = mp.find(b"application/sdp").unwrap();
    assert_eq!(part.body, &sdp[..]);
    let sd = strict(part.body);
    assert_eq!(sd.media_count(), 3);
    assert_eq!(
        mp.part(1).unwrap().header(b"Content-Disposition"),
        Some(&b"recipient-list"[..])
    );
    // Without a boundary.
    let e = Multipart::parse(&body, b"", &ParseOptions::STRICT).unwrap_err();
    assert_eq!(e.kind, ErrorKind::MissingBoundary);
}

/// Fuzzing find: an attribute without a value at the very end of the body gave an error
/// offset one past the body.
#[test]
fn attribute_without_value_at_the_end_reports_inside_the_body() {
    let body = b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\na=rtpmap";
    for opts in [ParseOptions::STRICT, ParseOptions::LIBERAL] {
        let mut d = Vec::new();
        let e = SessionDescription::parse(body, &opts, &mut d).unwrap_err();
        assert!(e.offset as usize <= body.len(), "{e:?}");
        assert_eq!(e.offset as usize, body.len());
    }
}

#[test]
fn rfc8866_9_nul_in_a_value_is_refused_by_the_parser_as_by_the_writer() {
    let body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 \x000\r\nm=audio 4000 RTP/AVP 0\r\n";
    for opts in [
        sipwire::ParseOptions::STRICT,
        sipwire::ParseOptions::LIBERAL,
    ] {
        let e = sipwire::sdp::SessionDescription::parse(body, &opts, &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind, sipwire::ErrorKind::SdpInvalidValue);
        assert_eq!(e.offset, 40);
    }
}

/// `codec_rtpmap` is `codec` without the fmtp lookup, for every payload type of bodies that
/// take each path: rtpmap given, static defaults, a static type renamed, an rtpmap that does
/// not parse, two rtpmaps for one type, fmtp without rtpmap, an rtpmap for a type not listed.
#[test]
fn codec_rtpmap_is_codec_without_fmtp() {
    let b = with_base(
        "m=audio 49170 RTP/AVP 0 8 18 96 97 98 99 101 31\r\n\
         a=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\n\
         a=rtpmap:97 AMR\r\na=fmtp:97 octet-align=1\r\n\
         a=rtpmap:98 iLBC/8000\r\na=rtpmap:98 G729/8000\r\n\
         a=fmtp:99 mode=20\r\n\
         a=rtpmap:8 PCMA-X/16000\r\na=fmtp:18 annexb=no\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n\
         a=rtpmap:120 VP8/90000\r\n\
         m=video 4002 RTP/AVP 31 34\r\na=rtpmap:31\r\n",
    );
    let sd = SessionDescription::parse(&b, &ParseOptions::LIBERAL, &mut Vec::new()).unwrap();
    let mut named = 0;
    for m in sd.media() {
        for pt in 0..=127u8 {
            let full = m.codec(pt);
            let quick = m.codec_rtpmap(pt);
            assert_eq!(quick, sipwire::sdp::Codec { fmtp: None, ..full }, "pt {pt}");
            named += usize::from(!quick.name.is_empty());
        }
    }
    assert!(
        named > 30,
        "the static table and the rtpmaps name {named} codecs"
    );
    let m: Vec<_> = sd.media().collect();
    assert_eq!(m[0].codec_rtpmap(8).name, b"PCMA-X");
    assert_eq!(
        m[0].codec_rtpmap(98).name,
        b"iLBC",
        "the first rtpmap of a type"
    );
    assert_eq!(m[0].codec_rtpmap(97).name, b"AMR");
    assert_eq!(m[0].codec(96).fmtp, Some(&b"useinbandfec=1"[..]));
}
