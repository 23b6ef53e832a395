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

use super::sdp_fast::{self, Section};
use crate::message::MessageIndex;
use crate::scan::trim_lws;
use crate::scan::Span;
use crate::sdp::media::pt_str;
use crate::sdp::{
    fields, static_payload_type, AttrKind, Buffers, Direction, Hold, Rtpmap, SessionDescription,
};
use crate::{Diagnostic, ParseOptions};

/// `m=` lines kept per description, formats kept per `m=` line, bytes kept per name or
/// address: past these they are not recorded.
pub(crate) const MAX_STREAMS: usize = 16;
pub(crate) const MAX_FORMATS: usize = 32;
const MAX_TEXT: usize = 255;

/// A piece of a record's text.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Str {
    start: u16,
    len: u8,
}

#[derive(Clone, Copy, Debug, PartialEq)]
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

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct FormatRec {
    pub payload_type: u8,
    name: Str,
    /// 0 when unknown.
    pub clock_rate: u32,
}

/// A stream or a format: one array holds both (each stream followed by its formats), so a
/// record is two allocations.
#[derive(Clone, Copy, Debug, PartialEq)]
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

/// A stream's `a=rtpmap` values (at most `MAX_FORMATS`), each with its payload type as
/// written: a number when written the usual way (no leading zero), the only way it can name
/// a format of the `m=` line (compared as text, as `Media::codec` does).
pub(crate) struct Maps<'s> {
    pts: [u16; MAX_FORMATS],
    values: [&'s [u8]; MAX_FORMATS],
    n: usize,
}

/// The payload type of a map written otherwise (`08`, `x`): it names no format.
const UNUSUAL: u16 = u16::MAX;

impl Default for Maps<'_> {
    fn default() -> Self {
        Maps {
            pts: [UNUSUAL; MAX_FORMATS],
            values: [&[]; MAX_FORMATS],
            n: 0,
        }
    }
}

impl<'s> Maps<'s> {
    /// Forgets every value (the next section's own; kept slots are not zeroed again).
    pub(crate) fn clear(&mut self) {
        self.n = 0;
    }

    /// The value after `rtpmap:`.
    pub(crate) fn push(&mut self, v: &'s [u8]) {
        if let (Some(pt), Some(value)) = (self.pts.get_mut(self.n), self.values.get_mut(self.n)) {
            let f = fields(v).next().unwrap_or(&[]);
            let usual = matches!(f, [b'0'] | [b'1'..=b'9', ..]) && f.len() <= 3;
            *pt = match crate::scan::parse_u64(f) {
                Some(n) if usual => u16::try_from(n).unwrap_or(UNUSUAL),
                _ => UNUSUAL,
            };
            *value = v;
            self.n += 1;
        }
    }

    /// The encoding name and clock rate of payload type `pt`: what `Media::codec` gives (its
    /// `a=rtpmap`, else the RFC 3551 §6 table).
    fn codec(&self, pt: u8) -> (&'s [u8], u32) {
        let at = self
            .pts
            .iter()
            .take(self.n)
            .position(|&p| p == u16::from(pt));
        match at.and_then(|i| self.values.get(i)) {
            Some(v) => map_codec(v, pt),
            None => static_payload_type(pt).map_or((&[][..], 0), |(n, c, _)| (n.as_bytes(), c)),
        }
    }
}

/// The encoding name and clock rate of the rtpmap value `v` of payload type `pt`, as
/// `Media::codec` reads it: `Rtpmap::parse`, and an rtpmap that does not parse still names
/// the codec. The usual shape (`0 PCMU/8000`, `101 telephone-event/8000`, `97 opus/48000/2`)
/// is read here without it: for that shape the parse gives the same.
fn map_codec(v: &[u8], pt: u8) -> (&[u8], u32) {
    let mut digits = [0u8; 3];
    let text = pt_str(pt, &mut digits);
    let usual = v
        .strip_prefix(text)
        .filter(|_| pt <= 127)
        .and_then(|r| r.strip_prefix(b" "))
        .and_then(|rest| {
            let mut parts = rest.split(|&b| b == b'/');
            let (enc, clock) = (parts.next()?, parts.next()?);
            let channels_ok = match parts.next() {
                None => true,
                Some(c) => (1..=4).contains(&c.len()) && c.iter().all(u8::is_ascii_digit),
            };
            let ok = !enc.is_empty()
                && !enc.contains(&b' ')
                && (1..=9).contains(&clock.len())
                && channels_ok
                && parts.next().is_none();
            Some((enc, crate::scan::parse_u64(clock)?)).filter(|_| ok)
        });
    if let Some((enc, clock)) = usual {
        return (enc, u32::try_from(clock).unwrap_or(0));
    }
    match Rtpmap::parse(v, 0) {
        Ok(r) => (r.encoding, r.clock_rate),
        Err(_) => {
            let rest = v.get(text.len()..).map(trim_lws).unwrap_or(&[]);
            (rest.split(|&b| b == b'/').next().unwrap_or(&[]), 0)
        }
    }
}

/// How a stream is held (RFC 3264 §8.4), as `Media::hold` decides it.
fn hold_of(s: &Section<'_>) -> Hold {
    match s.direction {
        _ if s.port == 0 => Hold::NotHeld,
        Direction::SendOnly => Hold::SendOnly,
        Direction::Inactive => Hold::Inactive,
        _ if s.zero_hold => Hold::ZeroAddress,
        _ => Hold::NotHeld,
    }
}

/// Appends a stream and its formats (at most `MAX_FORMATS`) to a record's text and array.
fn push_stream(text: &mut String, recs: &mut Vec<Rec>, s: &Section<'_>, hold: Hold, maps: &Maps) {
    let kind = push_str(text, s.kind);
    let address = s.address.map(|a| push_str(text, a));
    let at = recs.len();
    recs.push(Rec::Stream(StreamRec {
        kind,
        address,
        port: s.port,
        direction: s.direction,
        hold,
        first: u16::try_from(at + 1).unwrap_or(u16::MAX),
        count: 0,
    }));
    // The payload types of an RTP stream (checked to be 0-127 by either reader).
    let pts = fields(s.formats)
        .filter(|_| s.rtp)
        .filter_map(|f| crate::scan::parse_u64(f).and_then(|v| u8::try_from(v).ok()));
    for payload_type in pts.take(MAX_FORMATS) {
        let (name, clock_rate) = maps.codec(payload_type);
        let name = push_str(text, name);
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
        into: impl FnOnce() -> Option<SdpRec>,
        bufs: &mut Buffers,
    ) -> Option<SdpRec> {
        let body = idx.body.of(buf);
        if body.is_empty() {
            return None;
        }
        let sdp = crate::body::sdp_part(content_type?.of(buf), body, opts)?;
        // A record given back by a finished call lends its buffers; taken only for a body
        // to read (a 180 or an ACK without one would free it).
        let (mut text, mut recs) = match into() {
            Some(r) => (r.text, r.recs),
            None => (String::with_capacity(64), Vec::new()),
        };
        text.clear();
        recs.clear();
        let fast = sdp_fast::read(sdp, opts, |s, maps| {
            push_stream(&mut text, &mut recs, s, hold_of(s), maps);
        });
        let n = match fast {
            Some(n) => n,
            None => {
                text.clear();
                recs.clear();
                Self::read_parsed(sdp, opts, diags, bufs, &mut text, &mut recs)?
            }
        };
        Some(SdpRec {
            time,
            from,
            text,
            recs,
            streams: u8::try_from(n).unwrap_or(0),
        })
    }

    /// The full parser's reading of a body [`sdp_fast`] declined: the streams (at most
    /// `MAX_STREAMS`) through the `Media` accessors. Returns the number of streams, `None` when
    /// the body does not parse.
    fn read_parsed(
        sdp: &[u8],
        opts: &ParseOptions,
        diags: &mut Vec<Diagnostic>,
        bufs: &mut Buffers,
        text: &mut String,
        recs: &mut Vec<Rec>,
    ) -> Option<usize> {
        let sd = SessionDescription::parse_reusing(sdp, opts, diags, std::mem::take(bufs)).ok()?;
        let n = sd.media_count().min(MAX_STREAMS);
        recs.reserve(n * 5);
        for m in sd.media().take(MAX_STREAMS) {
            let connection = m.connection();
            let direction = m.direction();
            let mut maps = Maps::default();
            for a in m.attrs_of(AttrKind::Rtpmap) {
                if let Some(v) = a.value {
                    maps.push(v);
                }
            }
            let s = Section {
                kind: m.kind(),
                port: m.port(),
                rtp: m.is_rtp(),
                formats: m.formats_raw(),
                address: connection.map(|c| c.address),
                direction,
                zero_hold: false,
            };
            push_stream(
                text,
                recs,
                &s,
                m.hold_given(direction, || connection),
                &maps,
            );
        }
        *bufs = sd.into_buffers();
        Some(n)
    }

    /// Orders two records by what a media row shows of them (the sender, the names and
    /// addresses, each stream's port and direction, each format's number and clock rate),
    /// for rows alike in everything else: records equal in this make equal rows.
    pub(crate) fn cmp_shown(&self, other: &SdpRec) -> std::cmp::Ordering {
        self.from
            .cmp(&other.from)
            .then_with(|| self.text.cmp(&other.text))
            .then_with(|| self.keys().cmp(other.keys()))
    }

    /// What a row shows of each record beside the text: ports, directions, formats.
    fn keys(&self) -> impl Iterator<Item = (u8, u32, u32)> + '_ {
        self.recs.iter().map(|r| match r {
            Rec::Stream(s) => (0u8, u32::from(s.port), s.direction as u32),
            Rec::Format(f) => (1, u32::from(f.payload_type), f.clock_rate),
        })
    }

    /// Whether the two describe the same media (streams, addresses, ports, formats and
    /// directions), wherever and whenever they were sent.
    pub(crate) fn same_media(&self, other: &SdpRec) -> bool {
        self.text == other.text && self.keys().eq(other.keys())
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

/// `keep_earliest` for a slot most records leave empty, boxed.
pub(crate) fn keep_earliest_boxed(slot: &mut Option<Box<SdpRec>>, rec: SdpRec) -> Option<SdpRec> {
    if slot.as_ref().map_or(true, |s| rec.time < s.time) {
        slot.replace(Box::new(rec)).map(|b| *b)
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

    /// A message's SDP record, `into` lending a spare record's buffers.
    fn read_msg(msg: &str, into: impl FnOnce() -> Option<SdpRec>) -> Option<SdpRec> {
        let opts = ParseOptions::LIBERAL;
        let idx = MessageIndex::parse_datagram(msg.as_bytes(), &opts).unwrap();
        let ct = idx
            .headers
            .iter()
            .find(|h| h.name.of(msg.as_bytes()) == b"Content-Type");
        SdpRec::read(
            msg.as_bytes(),
            &idx,
            ct.map(|h| h.value),
            &opts,
            &mut Vec::new(),
            (1.0, "10.0.0.1:5060".parse().unwrap()),
            into,
            &mut Buffers::default(),
        )
    }

    fn with_sdp(sdp: &str) -> String {
        format!(
            "SIP/2.0 200 OK\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
    }

    fn rec(sdp: &str) -> SdpRec {
        read_msg(&with_sdp(sdp), || None).unwrap()
    }

    /// A record lent for its buffers is taken only when there is SDP to read: a 180 or an
    /// ACK without a body, or a body of another type, would free it.
    #[test]
    fn a_spare_record_is_taken_only_for_sdp() {
        for msg in [
            "SIP/2.0 180 Ringing\r\nContent-Length: 0\r\n\r\n",
            "SIP/2.0 180 Ringing\r\nContent-Type: application/dtmf-relay\r\n\
             Content-Length: 10\r\n\r\nSignal=5\r\n",
        ] {
            let read = read_msg(msg, || panic!("a spare record taken for {msg:?}"));
            assert!(read.is_none());
        }
        let mut lent = false;
        let read = read_msg(&with_sdp(&audio("192.0.2.1", 4000, "0", "")), || {
            lent = true;
            None
        });
        assert!(read.is_some() && lent);
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
            // Near the shape read without `Rtpmap::parse`: more parts, spaces, numbers too
            // long or not numbers, empty parts, a leading zero.
            "a=rtpmap:97 opus/48000/2/1\r\na=rtpmap:96 op us/48000\r\n",
            "a=rtpmap:97  opus/48000\r\na=rtpmap:96 opus/4800000000\r\n",
            "a=rtpmap:97 opus/48000/99999\r\na=rtpmap:96 /8000\r\na=rtpmap:101 x/\r\n",
            "a=rtpmap:08 PCMA/16000\r\na=rtpmap:97 opus/+8000\r\na=rtpmap:96 L16/8000/65535\r\n",
            "a=rtpmap:127 x/90000\r\na=rtpmap:018 y/8000\r\na=rtpmap:101 t-e/8000/\r\n",
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
            let mut maps = Maps::default();
            m.attrs_of(AttrKind::Rtpmap)
                .for_each(|a| maps.push(a.value.unwrap()));
            let got: Vec<_> = m
                .payload_types()
                .map(|pt| {
                    let (name, rate) = maps.codec(pt);
                    (pt, name, rate)
                })
                .collect();
            assert_eq!(got, want, "{extra}");
        }
    }

    /// What each reader makes of `body`: text, records, streams.
    type Read = Option<(String, Vec<Rec>, usize)>;

    fn fast_and_full(body: &[u8], opts: &ParseOptions) -> (Read, Read) {
        let (mut text, mut recs) = (String::new(), Vec::new());
        let n = sdp_fast::read(body, opts, |s, maps| {
            push_stream(&mut text, &mut recs, s, hold_of(s), maps);
        });
        let fast = n.map(|n| (text, recs, n));
        let (mut text, mut recs) = (String::new(), Vec::new());
        let mut bufs = Buffers::default();
        let n = SdpRec::read_parsed(body, opts, &mut Vec::new(), &mut bufs, &mut text, &mut recs);
        (fast, n.map(|n| (text, recs, n)))
    }

    /// Bodies the fast reader must take or decline as the full parser would have them.
    const SEEDS: [&str; 12] = [
        "v=0\r\no=user1 53655765 2353687637 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
        "v=0\no=- 1 2 IN IP4 192.0.2.1\ns=call\nt=0 0\nm=audio 4000 RTP/AVP 0 8 101\nc=IN IP4 192.0.2.1\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\na=sendonly\n",
        "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=inactive\r\nm=audio 4000 RTP/AVP 18 0\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\n",
        "v=0\r\no=- 1 2 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\na=ice-ufrag:abcd\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\na=recvonly\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj==\r\n",
        "v=0\r\no=- 1 2 IN IP4 224.2.1.1\r\ns=-\r\nc=IN IP4 224.2.1.1/127/3\r\nt=0 0\r\nm=audio 4000/2 RTP/AVP 0\r\nm=application 5000 udp wb\r\nm=image 6000 udptl t38\r\na=T38FaxVersion:0\r\n",
        "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 97 98\r\na=rtpmap:97 broken\r\na=rtpmap:98 x/y/z/w\r\na=rtpmap:0101 nonsense/8000\r\n\r\n\r\n",
        "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.9\r\na=sendrecv\r\na=sendonly",
        "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000a=sendonly\r\n",
        "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\ngarbage\r\na=sendonly\r\n",
        "v=1\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 200\r\n",
        "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nb=AS:64\r\nt=0 0\r\nr=7d 1h 0 25h\r\nm=audio 4000 RTP/AVP 8\r\na=ptime:20\r\na=maxptime:40\r\na=ssrc:1 cname:x\r\nm=text 4002 RTP/AVP 98\r\na=rtpmap:98 t140/1000\r\n",
        "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 8\r\na=ice-ufrag:x\r\nm=audio 0 RTP/AVP 0\r\nm=video 4004 RTP/AVP 31\r\n",
    ];

    /// Lines a mutation inserts.
    const PIECES: [&str; 16] = [
        "a=sendonly",
        "a=inactive",
        "a=recvonly",
        "c=IN IP4 0.0.0.0",
        "c=IN IP4 10.1.1.1",
        "m=audio 0 RTP/AVP 0",
        "m=video 5000 RTP/AVP 96 97",
        "a=rtpmap:96 VP8/90000",
        "a=rtpmap:0 PCMA/8000",
        "t=0 0",
        "a=ice-ufrag:u",
        "v=0",
        "",
        "x",
        "c=IN IP4",
        "a=rtpmap:",
    ];
    const BYTES: [u8; 14] = *b" \r\n\0=:/09aZ\xff-.";

    /// The fast reader and the full parser agree on every body the fast one takes, and the
    /// fast one takes the usual ones. Seeds, and ~60,000 mutations of them (lines dropped,
    /// repeated, swapped, inserted; bytes changed; bodies cut), under both parse options.
    #[test]
    fn the_fast_reader_agrees_with_the_full_parser() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        // Past MAX_STREAMS sections, both keep the first ones.
        let many = (0..20).fold(SEEDS[0].to_owned(), |b, i| {
            b + &format!("m=audio {} RTP/AVP {i}\r\na=sendonly\r\n", 4000 + 2 * i)
        });
        let (fast, full) = fast_and_full(many.as_bytes(), &ParseOptions::LIBERAL);
        assert_eq!(fast.as_ref().map(|f| f.2), Some(MAX_STREAMS));
        assert_eq!(fast, full);
        for opts in [ParseOptions::LIBERAL, ParseOptions::STRICT] {
            let (mut taken, mut parsed) = (0, 0);
            for (i, seed) in SEEDS.iter().enumerate() {
                let (fast, full) = fast_and_full(seed.as_bytes(), &opts);
                // All but a glued line, a junk line and version 1 are taken as they are.
                assert_eq!(fast.is_some(), !matches!(i, 7..=9), "seed {i}");
                if fast.is_some() {
                    assert_eq!(fast, full, "seed {i}");
                }
            }
            for _ in 0..30_000 {
                let seed = SEEDS[rnd(SEEDS.len())];
                let mut lines: Vec<Vec<u8>> =
                    seed.split('\n').map(|l| l.as_bytes().to_vec()).collect();
                for _ in 0..1 + rnd(3) {
                    let at = rnd(lines.len());
                    match rnd(6) {
                        0 if lines.len() > 1 => {
                            lines.remove(at);
                        }
                        1 => {
                            let l = lines[at].clone();
                            lines.insert(at, l);
                        }
                        2 => {
                            let b = rnd(lines.len());
                            lines.swap(at, b);
                        }
                        3 => {
                            let mut l = PIECES[rnd(PIECES.len())].as_bytes().to_vec();
                            if rnd(2) == 0 {
                                l.push(b'\r');
                            }
                            lines.insert(at, l);
                        }
                        _ => {
                            let l = &mut lines[at];
                            if !l.is_empty() {
                                let j = rnd(l.len());
                                l[j] = BYTES[rnd(BYTES.len())];
                            }
                        }
                    }
                }
                let mut body = lines.join(&b'\n');
                if rnd(8) == 0 {
                    body.truncate(rnd(body.len() + 1));
                }
                let (fast, full) = fast_and_full(&body, &opts);
                parsed += usize::from(full.is_some());
                if fast.is_some() {
                    taken += 1;
                    assert_eq!(fast, full, "{:?}", String::from_utf8_lossy(&body));
                }
            }
            // A strict parse keeps no junk or glued line: the fast reader takes every body
            // it accepts (these have under 48 lines and 16 streams).
            if opts.leniency.sdp_glued_lines {
                assert!(taken * 10 > parsed * 7, "{taken} of {parsed}");
            } else {
                assert_eq!(taken, parsed);
            }
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
