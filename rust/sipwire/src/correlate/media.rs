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

use std::net::SocketAddr;

use crate::message::MessageIndex;
use crate::scan::Span;
use crate::sdp::{Direction, Hold, SessionDescription};
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

/// One side's session description in an exchange, and when and from where it was first seen.
#[derive(Clone, Debug)]
pub(crate) struct SdpRec {
    pub time: f64,
    pub from: SocketAddr,
    text: Box<str>,
    streams: Box<[StreamRec]>,
    formats: Box<[FormatRec]>,
}

/// One `m=` line of a record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StreamView<'a> {
    pub kind: &'a str,
    pub address: Option<&'a str>,
    pub port: u16,
    pub direction: Direction,
    formats: &'a [FormatRec],
    text: &'a str,
}

impl<'a> StreamView<'a> {
    /// Where RTP goes: the address and a port that is not 0 (RFC 3264 §5.1: port 0 refuses
    /// or disables the stream).
    pub fn rtp(&self) -> Option<(&'a str, u16)> {
        Some((self.address?, self.port)).filter(|_| self.port != 0)
    }

    pub fn payload_types(&self) -> impl Iterator<Item = u8> + 'a {
        self.formats.iter().map(|f| f.payload_type)
    }

    /// The codec names, in the order of the payload types (empty: a dynamic payload type
    /// without `a=rtpmap`).
    pub fn codec_names(&self) -> impl Iterator<Item = &'a str> + 'a {
        let text = self.text;
        self.formats.iter().map(move |f| str_of(text, f.name))
    }

    /// The name of a format of this stream.
    pub fn name(&self, f: &FormatRec) -> &'a str {
        str_of(self.text, f.name)
    }

    pub fn formats(&self) -> &'a [FormatRec] {
        self.formats
    }
}

fn str_of(text: &str, s: Str) -> &str {
    let start = usize::from(s.start);
    text.get(start..start + usize::from(s.len)).unwrap_or("")
}

/// Appends `b` (lossy UTF-8, at most `MAX_TEXT` bytes, cut at a character boundary) to `text`.
fn push_str(text: &mut String, b: &[u8]) -> Str {
    let start = u16::try_from(text.len()).unwrap_or(u16::MAX);
    let s = String::from_utf8_lossy(b.get(..MAX_TEXT.min(b.len())).unwrap_or(&[]));
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

impl SdpRec {
    /// The `application/sdp` body of a message (or the first SDP part of a multipart body,
    /// RFC 5621), read into a record. `None` when there is none or it does not parse.
    pub(crate) fn read(
        buf: &[u8],
        idx: &MessageIndex,
        content_type: Option<Span>,
        opts: &ParseOptions,
        diags: &mut Vec<Diagnostic>,
        time: f64,
        from: SocketAddr,
    ) -> Option<SdpRec> {
        let body = idx.body.of(buf);
        if body.is_empty() {
            return None;
        }
        let sdp = crate::body::sdp_part(content_type?.of(buf), body, opts)?;
        let sd = SessionDescription::parse(sdp, opts, diags).ok()?;
        let mut text = String::with_capacity(64);
        let mut streams = Vec::with_capacity(sd.media_count().min(MAX_STREAMS));
        let mut formats = Vec::new();
        for m in sd.media().take(MAX_STREAMS) {
            let kind = push_str(&mut text, m.kind());
            let address = m.connection().map(|c| push_str(&mut text, c.address));
            let first = u16::try_from(formats.len()).unwrap_or(u16::MAX);
            for c in m.codecs().take(MAX_FORMATS) {
                let name = push_str(&mut text, c.name);
                formats.push(FormatRec {
                    payload_type: c.payload_type,
                    name,
                    clock_rate: c.clock_rate,
                });
            }
            let count = formats.len().saturating_sub(usize::from(first));
            streams.push(StreamRec {
                kind,
                address,
                port: m.port(),
                direction: m.direction(),
                hold: m.hold(),
                first,
                count: u8::try_from(count).unwrap_or(0),
            });
        }
        Some(SdpRec {
            time,
            from,
            text: text.into_boxed_str(),
            streams: streams.into_boxed_slice(),
            formats: formats.into_boxed_slice(),
        })
    }

    pub(crate) fn streams(&self) -> impl ExactSizeIterator<Item = StreamView<'_>> + '_ {
        self.streams.iter().map(move |s| self.view(s))
    }

    pub(crate) fn stream(&self, i: usize) -> Option<StreamView<'_>> {
        self.streams.get(i).map(|s| self.view(s))
    }

    fn view(&self, s: &StreamRec) -> StreamView<'_> {
        let first = usize::from(s.first);
        StreamView {
            kind: str_of(&self.text, s.kind),
            address: s.address.map(|a| str_of(&self.text, a)),
            port: s.port,
            direction: s.direction,
            formats: self
                .formats
                .get(first..first + usize::from(s.count))
                .unwrap_or(&[]),
            text: &self.text,
        }
    }

    /// Whether any stream is on hold (RFC 3264 §8.4).
    pub(crate) fn holds(&self) -> bool {
        self.streams.iter().any(|s| s.hold.is_hold())
    }

    /// Moves the record to an earlier copy of the same message.
    pub(crate) fn earlier(&mut self, time: f64, from: SocketAddr) {
        if time < self.time {
            self.time = time;
            self.from = from;
        }
    }
}

/// Keeps the earlier of two records of one slot (the first copy's time wins).
pub(crate) fn keep_earliest(slot: &mut Option<SdpRec>, rec: SdpRec) {
    if slot.as_ref().map_or(true, |s| rec.time < s.time) {
        *slot = Some(rec);
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
    answer.formats().iter().find_map(|a| {
        let aname = answer.name(a);
        let o = offer.formats().iter().find(|o| {
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
            1.0,
            "10.0.0.1:5060".parse().unwrap(),
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
