//! SDP as the call stage keeps it (RFC 3264 offer/answer, RFC 8866): per `m=` line its kind,
//! connection address and port, direction, hold state, and formats with their codec names
//! (`a=rtpmap`, else the RFC 3551 §6 static table). One record per description, in three
//! allocations (the text of every name and address, the streams, the formats), read once
//! from the message: the message itself is not kept.
//!
//! The negotiated codec of a stream (RFC 3264 §6.1: the answerer lists the formats it will
//! use, most preferred first) is the first of the answer's formats that the offer also had.
//! Formats are the same when their payload types are (the answer SHOULD reuse the offer's
//! numbers), or, for a renumbered dynamic payload type, when their encodings are (name,
//! case-insensitive, and clock rate). Formats that are not a codec of their own are skipped:
//! `telephone-event` (RFC 4733), `CN` (RFC 3389), `red` (RFC 2198), `ulpfec` (RFC 5109),
//! `rtx` (RFC 4588).

use std::borrow::Cow;
use std::net::SocketAddr;

use crate::message::MessageIndex;
use crate::scan::trim_lws;
use crate::scan::Span;
use crate::sdp::media::pt_str;
use crate::sdp::{
    fields, static_payload_type, AttrKind, Buffers, Direction, Hold, Media, Rtpmap,
    SessionDescription,
};
use crate::{Diagnostic, ParseOptions};

/// `m=` lines kept per description, formats kept per `m=` line, bytes kept per name or
/// address: past these they are not recorded.
pub(crate) const MAX_STREAMS: usize = 16;
pub(crate) const MAX_FORMATS: usize = 32;
const MAX_TEXT: usize = 255;

/// A piece of a record's text.
#[derive(Clone, Copy, Debug, Default)]
struct Str {
    start: u16,
    len: u8,
}

#[derive(Clone, Copy, Debug)]
struct StreamRec {
    kind: Str,
    /// The connection address that applies (media-level `c=`, else session-level).
    address: Option<Str>,
    port: u16,
    direction: Direction,
    hold: Hold,
    /// Its formats: `formats[first..first + count]`.
    first: u16,
    count: u8,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct FormatRec {
    pub payload_type: u8,
    name: Str,
    /// 0 when unknown.
    pub clock_rate: u32,
}

/// A stream or a format: one array holds both (each stream followed by its formats), so a
/// record is two allocations.
#[derive(Clone, Copy, Debug)]
enum Rec {
    Stream(StreamRec),
    Format(FormatRec),
}

/// One side's session description in an exchange, and when and from where it was first seen.
#[derive(Clone, Debug)]
pub(crate) struct SdpRec {
    pub time: f64,
    pub from: SocketAddr,
    /// (Not boxed: shrinking to fit would cost a reallocation each.)
    text: String,
    recs: Vec<Rec>,
    streams: u8,
}

/// One `m=` line of a record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StreamView<'a> {
    pub kind: &'a str,
    pub address: Option<&'a str>,
    pub port: u16,
    pub direction: Direction,
    /// The stream's formats (every item a `Rec::Format`).
    formats: &'a [Rec],
    text: &'a str,
}

impl<'a> StreamView<'a> {
    /// Where RTP goes: the address and a port that is not 0 (RFC 3264 §5.1: port 0 refuses
    /// or disables the stream).
    pub fn rtp(&self) -> Option<(&'a str, u16)> {
        Some((self.address?, self.port)).filter(|_| self.port != 0)
    }

    pub fn payload_types(&self) -> impl Iterator<Item = u8> + 'a {
        self.formats().map(|f| f.payload_type)
    }

    /// The codec names, in the order of the payload types (empty: a dynamic payload type
    /// without `a=rtpmap`).
    pub fn codec_names(&self) -> impl Iterator<Item = &'a str> + 'a {
        let text = self.text;
        self.formats().map(move |f| str_of(text, f.name))
    }

    /// The name of a format of this stream.
    pub fn name(&self, f: &FormatRec) -> &'a str {
        str_of(self.text, f.name)
    }

    pub fn formats(&self) -> impl Iterator<Item = &'a FormatRec> + 'a {
        self.formats.iter().filter_map(|r| match r {
            Rec::Format(f) => Some(f),
            Rec::Stream(_) => None,
        })
    }
}

fn str_of(text: &str, s: Str) -> &str {
    let start = usize::from(s.start);
    text.get(start..start + usize::from(s.len)).unwrap_or("")
}

/// Appends `b` (lossy UTF-8, at most `MAX_TEXT` bytes, cut at a character boundary) to `text`.
fn push_str(text: &mut String, b: &[u8]) -> Str {
    let start = u16::try_from(text.len()).unwrap_or(u16::MAX);
    let s = crate::scan::lossy_str(b.get(..MAX_TEXT.min(b.len())).unwrap_or(&[]));
    let mut end = s.len().min(MAX_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let piece = s.get(..end).unwrap_or("");
    if text.len() + piece.len() > usize::from(u16::MAX) {
        return Str::default();
    }
    text.push_str(piece);
    Str {
        start,
        len: u8::try_from(piece.len()).unwrap_or(0),
    }
}

/// The payload types of a stream with their encoding names and clock rates: what
/// `Media::codecs` gives (its `a=rtpmap`, else the RFC 3551 §6 table), in one pass over the
/// attributes instead of one per payload type. At most `MAX_FORMATS` of each.
fn codecs<'s>(m: &Media<'s>) -> impl Iterator<Item = (u8, &'s [u8], u32)> + 's {
    let mut maps: [(&[u8], &[u8]); MAX_FORMATS] = [(&[], &[]); MAX_FORMATS];
    let mut n = 0;
    for a in m.attrs_of(AttrKind::Rtpmap) {
        if let (Some(v), Some(slot)) = (a.value, maps.get_mut(n)) {
            *slot = (fields(v).next().unwrap_or(&[]), v);
            n += 1;
        }
    }
    m.payload_types().take(MAX_FORMATS).map(move |pt| {
        let mut digits = [0u8; 3];
        let text = pt_str(pt, &mut digits);
        let map = maps.iter().take(n).find(|(f, _)| *f == text).map(|m| m.1);
        let (name, rate) = match map {
            // As `Media::codec`: an rtpmap that does not parse still names the codec.
            Some(v) => match Rtpmap::parse(v, 0) {
                Ok(r) => (r.encoding, r.clock_rate),
                Err(_) => {
                    let rest = v.get(text.len()..).map(trim_lws).unwrap_or(&[]);
                    (rest.split(|&b| b == b'/').next().unwrap_or(&[]), 0)
                }
            },
            None => static_payload_type(pt).map_or((&[][..], 0), |(n, c, _)| (n.as_bytes(), c)),
        };
        (pt, name, rate)
    })
}

impl SdpRec {
    /// The `application/sdp` body of a message (or the first SDP part of a multipart body,
    /// RFC 5621), read into a record. `None` when there is none or it does not parse.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn read(
        buf: &[u8],
        idx: &MessageIndex,
        content_type: Option<Span>,
        opts: &ParseOptions,
        diags: &mut Vec<Diagnostic>,
        (time, from): (f64, SocketAddr),
        into: Option<SdpRec>,
        bufs: &mut Buffers,
    ) -> Option<SdpRec> {
        let body = idx.body.of(buf);
        if body.is_empty() {
            return None;
        }
        let sdp = crate::body::sdp_part(content_type?.of(buf), body, opts)?;
        let sd = SessionDescription::parse_reusing(sdp, opts, diags, std::mem::take(bufs)).ok()?;
        // A record given back by a finished call lends its buffers.
        let (mut text, mut recs) = match into {
            Some(r) => (r.text, r.recs),
            None => (String::with_capacity(64), Vec::new()),
        };
        text.clear();
        recs.clear();
        let n = sd.media_count().min(MAX_STREAMS);
        recs.reserve(n * 5);
        for m in sd.media().take(MAX_STREAMS) {
            let kind = push_str(&mut text, m.kind());
            let connection = m.connection();
            let address = connection.map(|c| push_str(&mut text, c.address));
            let at = recs.len();
            let first = u16::try_from(at + 1).unwrap_or(u16::MAX);
            let direction = m.direction();
            recs.push(Rec::Stream(StreamRec {
                kind,
                address,
                port: m.port(),
                direction,
                hold: m.hold_given(direction, || connection),
                first,
                count: 0,
            }));
            for (payload_type, name, clock_rate) in codecs(&m) {
                let name = push_str(&mut text, name);
                recs.push(Rec::Format(FormatRec {
                    payload_type,
                    name,
                    clock_rate,
                }));
            }
            let count = recs.len() - at - 1;
            if let Some(Rec::Stream(st)) = recs.get_mut(at) {
                st.count = u8::try_from(count).unwrap_or(0);
            }
        }
        *bufs = sd.into_buffers();
        Some(SdpRec {
            time,
            from,
            text,
            recs,
            streams: u8::try_from(n).unwrap_or(0),
        })
    }

    fn stream_recs(&self) -> impl Iterator<Item = &StreamRec> + '_ {
        self.recs.iter().filter_map(|r| match r {
            Rec::Stream(s) => Some(s),
            Rec::Format(_) => None,
        })
    }

    #[cfg(test)]
    pub(crate) fn streams(&self) -> impl Iterator<Item = StreamView<'_>> + '_ {
        self.stream_recs().map(move |s| self.view(s))
    }

    /// The number of `m=` lines kept.
    pub(crate) fn stream_count(&self) -> usize {
        usize::from(self.streams)
    }

    /// Stream `i` (its position among the `m=` lines).
    pub(crate) fn stream(&self, i: usize) -> Option<StreamView<'_>> {
        self.stream_recs().nth(i).map(|s| self.view(s))
    }

    fn view(&self, s: &StreamRec) -> StreamView<'_> {
        let first = usize::from(s.first);
        StreamView {
            kind: str_of(&self.text, s.kind),
            address: s.address.map(|a| str_of(&self.text, a)),
            port: s.port,
            direction: s.direction,
            formats: self
                .recs
                .get(first..first + usize::from(s.count))
                .unwrap_or(&[]),
            text: &self.text,
        }
    }

    /// Whether any stream is on hold (RFC 3264 §8.4).
    pub(crate) fn holds(&self) -> bool {
        self.stream_recs().any(|s| s.hold.is_hold())
    }

    /// Moves the record to an earlier copy of the same message.
    pub(crate) fn earlier(&mut self, time: f64, from: SocketAddr) {
        if time < self.time {
            self.time = time;
            self.from = from;
        }
    }
}

/// Keeps the earlier of two records of one slot (the first copy's time wins); returns the
/// other.
pub(crate) fn keep_earliest(slot: &mut Option<SdpRec>, rec: SdpRec) -> Option<SdpRec> {
    if slot.as_ref().map_or(true, |s| rec.time < s.time) {
        slot.replace(rec)
    } else {
        Some(rec)
    }
}

/// Names the tables repeat, as static strings (no allocation per row): media kinds (RFC 8866
/// §5.14) and common encodings (RFC 3551 §6, and the usual `a=rtpmap` names). Matched
/// exactly: another spelling is kept as written.
const NAMES: [&str; 38] = [
    "audio",
    "video",
    "image",
    "application",
    "text",
    "message",
    "PCMU",
    "PCMA",
    "G722",
    "G729",
    "G723",
    "GSM",
    "CN",
    "telephone-event",
    "opus",
    "AMR",
    "AMR-WB",
    "iLBC",
    "speex",
    "G7221",
    "EVS",
    "L16",
    "H261",
    "H263",
    "H263-1998",
    "H264",
    "H265",
    "VP8",
    "VP9",
    "AV1",
    "red",
    "ulpfec",
    "rtx",
    "t38",
    "DVI4",
    "LPC",
    "QCELP",
    "MPA",
];

/// `s` as a static string when it is one of [`NAMES`], else a copy.
pub(crate) fn name(s: &str) -> Cow<'static, str> {
    match NAMES.iter().find(|n| **n == s) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(s.to_owned()),
    }
}

/// Formats that ride along with a codec rather than being one.
fn is_codec(name: &str) -> bool {
    !["telephone-event", "CN", "red", "ulpfec", "rtx"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
}

/// The negotiated codec of an offered and an answered stream: the first of the answer's
/// formats that the offer had (see the module documentation). Returns the answer's format and
/// the codec's name (the answer's, else the offer's for a payload type the answer left
/// without `a=rtpmap`).
pub(crate) fn negotiated<'a>(
    offer: &StreamView<'a>,
    answer: &StreamView<'a>,
) -> Option<(&'a FormatRec, &'a str)> {
    answer.formats().find_map(|a| {
        let aname = answer.name(a);
        let o = offer.formats().find(|o| {
            let oname = offer.name(o);
            if o.payload_type == a.payload_type {
                // The same number: the same format unless both name it and differ.
                oname.is_empty() || aname.is_empty() || oname.eq_ignore_ascii_case(aname)
            } else {
                // A dynamic payload type renumbered (RFC 3264 §6.1 says SHOULD NOT).
                a.payload_type >= 96
                    && !aname.is_empty()
                    && oname.eq_ignore_ascii_case(aname)
                    && o.clock_rate == a.clock_rate
            }
        })?;
        let name = if aname.is_empty() {
            offer.name(o)
        } else {
            aname
        };
        is_codec(name).then_some((a, name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(sdp: &str) -> SdpRec {
        let msg = format!(
            "SIP/2.0 200 OK\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        );
        let opts = ParseOptions::LIBERAL;
        let idx = MessageIndex::parse_datagram(msg.as_bytes(), &opts).unwrap();
        let ct = idx
            .headers
            .iter()
            .find(|h| h.value.of(msg.as_bytes()) == b"application/sdp");
        SdpRec::read(
            msg.as_bytes(),
            &idx,
            ct.map(|h| h.value),
            &opts,
            &mut Vec::new(),
            (1.0, "10.0.0.1:5060".parse().unwrap()),
            None,
            &mut Buffers::default(),
        )
        .unwrap()
    }

    fn audio(ip: &str, port: u16, fmts: &str, extra: &str) -> String {
        format!(
            "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP {fmts}\r\n{extra}"
        )
    }

    #[test]
    fn streams_with_codec_names() {
        let r = rec(&(audio(
            "192.0.2.1",
            4000,
            "0 8 97 101",
            "a=rtpmap:97 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n",
        ) + "m=video 0 RTP/AVP 31\r\n"));
        let s: Vec<_> = r.streams().collect();
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].kind, s[0].rtp()),
            ("audio", Some(("192.0.2.1", 4000)))
        );
        assert_eq!(s[0].payload_types().collect::<Vec<_>>(), [0, 8, 97, 101]);
        assert_eq!(
            s[0].codec_names().collect::<Vec<_>>(),
            ["PCMU", "PCMA", "opus", "telephone-event"]
        );
        assert_eq!(s[0].direction, Direction::SendOnly);
        assert!(r.holds());
        assert_eq!((s[1].kind, s[1].rtp(), s[1].port), ("video", None, 0));
        assert_eq!(s[1].codec_names().collect::<Vec<_>>(), ["H261"]);
    }

    /// The one-pass codec reading gives what `Media::codecs` gives.
    #[test]
    fn codecs_agree_with_the_sdp_parser() {
        for extra in [
            "",
            "a=rtpmap:97 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n",
            "a=rtpmap:97 opus/48000/2\r\na=rtpmap:97 speex/16000\r\n",
            "a=rtpmap:0 G711U/8000\r\na=rtpmap:101 broken\r\na=rtpmap:96 x/y/z/w\r\n",
            "a=rtpmap:0101 nonsense/8000\r\na=fmtp:101 0-15\r\n",
        ] {
            let body = audio("192.0.2.1", 4000, "0 8 96 97 101 18 127", extra);
            let sd =
                SessionDescription::parse(body.as_bytes(), &ParseOptions::LIBERAL, &mut Vec::new())
                    .unwrap();
            let m = sd.media().next().unwrap();
            let want: Vec<(u8, &[u8], u32)> = m
                .codecs()
                .map(|c| (c.payload_type, c.name, c.clock_rate))
                .collect();
            assert_eq!(codecs(&m).collect::<Vec<_>>(), want, "{extra}");
        }
    }

    #[test]
    fn negotiated_is_the_answers_first_common_format() {
        let offer = rec(&audio(
            "192.0.2.1",
            4000,
            "8 0 96 101",
            "a=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n",
        ));
        let pick = |answer: &str| {
            let a = rec(answer);
            let (o, a2) = (offer.stream(0).unwrap(), a.stream(0).unwrap());
            negotiated(&o, &a2).map(|(f, n)| (f.payload_type, n.to_owned()))
        };
        // The answer's order decides, not the offer's.
        assert_eq!(
            pick(&audio("192.0.2.2", 5000, "0 8", "")),
            Some((0, "PCMU".into()))
        );
        // Events and comfort noise are not the codec; a format the offer lacks is skipped.
        assert_eq!(
            pick(&audio(
                "192.0.2.2",
                5000,
                "101 13 18 8",
                "a=rtpmap:101 telephone-event/8000\r\n"
            )),
            Some((8, "PCMA".into()))
        );
        // A renumbered dynamic payload type is matched by its encoding.
        assert_eq!(
            pick(&audio(
                "192.0.2.2",
                5000,
                "111",
                "a=rtpmap:111 OPUS/48000/2\r\n"
            )),
            Some((111, "OPUS".into()))
        );
        // The same dynamic number for another encoding is not a match.
        assert_eq!(
            pick(&audio("192.0.2.2", 5000, "96", "a=rtpmap:96 VP8/90000\r\n")),
            None
        );
        assert_eq!(pick(&audio("192.0.2.2", 5000, "18", "")), None);
    }

    #[test]
    fn long_names_and_many_formats_are_bounded() {
        let fmts: Vec<String> = (96..127).chain(0..20).map(|p| p.to_string()).collect();
        let long = "x".repeat(1000);
        let r = rec(&audio(
            &long,
            4000,
            &fmts.join(" "),
            &format!("a=rtpmap:96 {long}/8000\r\n"),
        ));
        let s = r.stream(0).unwrap();
        assert_eq!(s.payload_types().count(), MAX_FORMATS);
        assert_eq!(s.address.map(str::len), Some(MAX_TEXT));
        assert_eq!(s.codec_names().next().map(str::len), Some(MAX_TEXT));
    }
}
