//! The line scanner and the structure of a description (RFC 8866 §5, §9).
//!
//! One pass over the body: each line becomes a [`Line`] record (spans and its type letter, and
//! for `a=` lines the attribute kind), each `m=` line a [`MediaRec`] with its fields already
//! split. Those two vectors are the only allocations of a parse; everything else is read from
//! the body when asked for.

use super::attr::{parse_pt, AttrKind};
use super::fields;
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

/// One line of the body: `<type>=<value>` from `start` to `end`, its terminator up to `next`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    pub start: u32,
    pub end: u32,
    pub next: u32,
    /// The type letter, or 0 for a malformed line a lenient parse kept (ignored by accessors,
    /// kept so the description still writes back byte for byte).
    pub kind: u8,
    pub attr: AttrKind,
}

impl Line {
    #[inline]
    pub fn value<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start as usize + 2..self.end as usize)
            .unwrap_or(&[])
    }
}

/// An `m=` line (RFC 8866 §5.14): `m=<media> <port>[/<number of ports>] <proto> <fmt> ...`,
/// and the range of lines of its section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MediaRec {
    /// Index of the `m=` line in `lines`.
    pub first: u32,
    /// Index past the last line of the section.
    pub last: u32,
    pub port: u16,
    pub port_count: u16,
    pub kind: (u32, u32),
    pub proto: (u32, u32),
    /// The format list, from the first format to the end of the line.
    pub fmts: (u32, u32),
}

/// A parsed session description; borrows the body.
#[derive(Clone, Debug)]
pub struct SessionDescription<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) lines: Vec<Line>,
    pub(crate) media: Vec<MediaRec>,
    /// Start of the trailing empty lines (`buf.len()` when there are none).
    pub(crate) trailer: u32,
}

/// The allocations of a parsed description, for [`SessionDescription::parse_reusing`].
#[derive(Debug, Default)]
pub struct Buffers {
    lines: Vec<Line>,
    media: Vec<MediaRec>,
}

impl SessionDescription<'_> {
    /// Gives back the description's allocations for the next parse.
    pub fn into_buffers(self) -> Buffers {
        Buffers {
            lines: self.lines,
            media: self.media,
        }
    }
}

struct Parser<'o> {
    opts: &'o ParseOptions,
    lines: Vec<Line>,
    media: Vec<MediaRec>,
    attrs: u32,
    /// Well-formed lines so far (junk lines of a lenient parse not counted).
    valid: u32,
    seen_t: bool,
}

/// Whether the line types known to follow a glued `X=` start there: used to split two lines a
/// phone wrote without a line ending between them, e.g. `...8000/1a=rtpmap:18 G729/8000`.
/// Only the shapes that cannot be part of a value are taken: a known attribute name followed
/// by `:` or the end of the line, `m=<media> `, `c=IN `.
fn glued_at(buf: &[u8], from: usize, to: usize) -> Option<usize> {
    let seg = buf.get(from..to)?;
    for eq in memchr::memchr_iter(b'=', seg) {
        let Some(letter_at) = eq.checked_sub(1) else {
            continue;
        };
        let after = seg.get(eq + 1..).unwrap_or(&[]);
        let hit = match seg.get(letter_at) {
            Some(b'a') => {
                let name_end = memchr::memchr(b':', after).unwrap_or(after.len());
                let name = after.get(..name_end).unwrap_or(&[]);
                AttrKind::from_name(name) != AttrKind::Other
            }
            Some(b'm') => [
                &b"audio "[..],
                b"video ",
                b"image ",
                b"application ",
                b"text ",
            ]
            .iter()
            .any(|m| after.starts_with(m)),
            Some(b'c') => after.starts_with(b"IN "),
            _ => false,
        };
        if hit {
            return Some(from + letter_at);
        }
    }
    None
}

/// The index of the LF ending the line that starts `rest` (or `rest.len()`), and whether an
/// `=` appears after the type's own. Lines are short, so a plain loop beats a SIMD search
/// here, and it notices `=` (a possible glued line) in the same pass.
#[inline]
fn scan_line(rest: &[u8]) -> (usize, bool) {
    let mut eq = false;
    for (i, &b) in rest.iter().enumerate() {
        if b == b'\n' {
            return (i, eq);
        }
        eq |= b == b'=' && i > 1;
    }
    (rest.len(), eq)
}

impl<'a> SessionDescription<'a> {
    /// Parses `body` (offsets in errors and diagnostics are relative to it).
    ///
    /// CRLF and bare LF line endings are accepted, and a missing final line ending (RFC 8866
    /// §5 asks for CRLF but lets parsers accept LF). Unknown line types and attributes are kept.
    /// Trailing empty lines are kept as they are (some stacks pad the body).
    pub fn parse(
        body: &'a [u8],
        opts: &ParseOptions,
        diags: &mut Vec<Diagnostic>,
    ) -> Result<SessionDescription<'a>> {
        Self::parse_reusing(body, opts, diags, Buffers::default())
    }

    /// [`SessionDescription::parse`] into the allocations of `buffers` (taken back from a
    /// description done with by [`SessionDescription::into_buffers`]): a caller parsing body
    /// after body keeps one set.
    pub fn parse_reusing(
        body: &'a [u8],
        opts: &ParseOptions,
        diags: &mut Vec<Diagnostic>,
        buffers: Buffers,
    ) -> Result<SessionDescription<'a>> {
        if body.len() > u32::MAX as usize {
            return Err(Error::new(ErrorKind::BodyTooLarge, 0));
        }
        let nl = memchr::memchr_iter(b'\n', body).count() + 1;
        let Buffers {
            mut lines,
            mut media,
        } = buffers;
        lines.clear();
        media.clear();
        lines.reserve(nl.min(opts.limits.max_sdp_attributes as usize + 64));
        let mut p = Parser {
            opts,
            lines,
            media,
            attrs: 0,
            valid: 0,
            seen_t: false,
        };
        let lenient = opts.leniency.sdp_glued_lines;
        let max_line = opts.limits.max_sdp_line as usize;
        let mut pos = 0usize;
        let mut trailer = body.len();
        while pos < body.len() {
            let rest = body.get(pos..).unwrap_or(&[]);
            let (lf, has_eq) = scan_line(rest);
            let lf = pos + lf;
            let (end, next) = if lf < body.len() {
                let end = if lf > pos && body.get(lf - 1) == Some(&b'\r') {
                    lf - 1
                } else {
                    lf
                };
                (end, lf + 1)
            } else {
                (body.len(), body.len())
            };
            if end - pos > max_line {
                return Err(Error::new(ErrorKind::SdpLineTooLong, pos));
            }
            if end == pos {
                // An empty line: fine only as padding at the very end.
                if rest.iter().all(|&b| b == b'\r' || b == b'\n') {
                    trailer = pos;
                    break;
                }
                p.junk(pos, end, next, diags)?;
                pos = next;
                continue;
            }
            let letter = body.get(pos).copied().unwrap_or(0);
            if !letter.is_ascii_lowercase() || body.get(pos + 1) != Some(&b'=') {
                p.junk(pos, end, next, diags)?;
                pos = next;
                continue;
            }
            let mut start = pos;
            while let Some(g) = has_eq.then(|| glued_at(body, start + 2, end)).flatten() {
                if !lenient {
                    return Err(Error::new(ErrorKind::SdpInvalidLine, g));
                }
                diags.push(Error::new(ErrorKind::SdpInvalidLine, g));
                p.line(body, start, g, g)?;
                start = g;
            }
            p.line(body, start, end, next)?;
            pos = next;
        }
        p.finish(trailer)?;
        // Each media section runs to the next m= line or the end.
        let total = p.lines.len() as u32;
        for i in 0..p.media.len() {
            let last = p.media.get(i + 1).map_or(total, |n| n.first);
            if let Some(m) = p.media.get_mut(i) {
                m.last = last;
            }
        }
        Ok(SessionDescription {
            buf: body,
            lines: p.lines,
            media: p.media,
            trailer: trailer as u32,
        })
    }
}

impl Parser<'_> {
    /// A line that is not `<letter>=<value>`: an error, or kept aside by a lenient parse.
    fn junk(
        &mut self,
        start: usize,
        end: usize,
        next: usize,
        diags: &mut Vec<Diagnostic>,
    ) -> Result<()> {
        let e = Error::new(ErrorKind::SdpInvalidLine, start);
        if !self.opts.leniency.sdp_glued_lines {
            return Err(e);
        }
        diags.push(e);
        self.lines.push(Line {
            start: start as u32,
            end: end as u32,
            next: next as u32,
            kind: 0,
            attr: AttrKind::Other,
        });
        Ok(())
    }

    fn line(&mut self, buf: &[u8], start: usize, end: usize, next: usize) -> Result<()> {
        let kind = buf.get(start).copied().unwrap_or(0);
        let value = buf.get(start + 2..end).unwrap_or(&[]);
        let voff = start + 2;
        // RFC 8866 §9: byte-string is %x01-09 / %x0B-0C / %x0E-FF: no NUL, no CR in a line.
        if let Some(i) = value.iter().position(|&b| b == 0 || b == b'\r') {
            return Err(Error::new(ErrorKind::SdpInvalidValue, voff + i));
        }
        // RFC 8866 §5: v=, o=, s= open the description, in that order.
        let n = self.valid;
        let expected = match n {
            0 => Some(b'v'),
            1 => Some(b'o'),
            2 => Some(b's'),
            _ => None,
        };
        if let Some(want) = expected {
            if kind != want {
                return Err(Error::new(ErrorKind::SdpMissingLine, start));
            }
        }
        let mut attr = AttrKind::Other;
        match kind {
            // RFC 8866 §5.1: the only version is 0.
            b'v' if n == 0 && value != b"0" => {
                return Err(Error::new(ErrorKind::SdpInvalidValue, voff));
            }
            // §5.2: six fields.
            b'o' if fields(value).count() != 6 => {
                return Err(Error::new(ErrorKind::SdpInvalidValue, voff));
            }
            // §5.7: <nettype> <addrtype> <connection-address>.
            b'c' if fields(value).count() != 3 => {
                return Err(Error::new(ErrorKind::SdpInvalidValue, voff));
            }
            b't' if self.media.is_empty() => self.seen_t = true,
            b'm' => self.media_line(buf, start, value, voff)?,
            b'a' => {
                self.attrs += 1;
                if self.attrs > u32::from(self.opts.limits.max_sdp_attributes) {
                    return Err(Error::new(ErrorKind::SdpTooManyAttributes, start));
                }
                let name_end = memchr::memchr(b':', value).unwrap_or(value.len());
                attr = AttrKind::from_name(value.get(..name_end).unwrap_or(&[]));
                // The payload type of rtpmap/fmtp is checked now, so a bad one is found by
                // the parse, not by whoever reads the codecs later.
                if matches!(attr, AttrKind::Rtpmap) {
                    let v = value.get(name_end + 1..).unwrap_or(&[]);
                    let pt_end = memchr::memchr(b' ', v).unwrap_or(v.len());
                    // Without a `:`, the value is missing: point at the end of the name.
                    let pt_off = voff + (name_end + 1).min(value.len());
                    parse_pt(v.get(..pt_end).unwrap_or(&[]), pt_off)?;
                }
            }
            _ => {}
        }
        self.valid += 1;
        self.lines.push(Line {
            start: start as u32,
            end: end as u32,
            next: next as u32,
            kind,
            attr,
        });
        Ok(())
    }

    /// `m=<media> <port>[/<number of ports>] <proto> 1*(SP <fmt>)` (RFC 8866 §5.14).
    fn media_line(&mut self, buf: &[u8], start: usize, value: &[u8], voff: usize) -> Result<()> {
        if !self.seen_t {
            // §5: at least one t= precedes the media descriptions.
            return Err(Error::new(ErrorKind::SdpMissingLine, start));
        }
        if self.media.len() >= usize::from(self.opts.limits.max_sdp_media) {
            return Err(Error::new(ErrorKind::SdpTooManyMedia, start));
        }
        let span = |f: &[u8]| {
            let s = (f.as_ptr() as usize).saturating_sub(buf.as_ptr() as usize);
            (s as u32, (s + f.len()) as u32)
        };
        let mut f = fields(value);
        let bad = |at: usize| Error::new(ErrorKind::SdpInvalidValue, at);
        let kind = f.next().ok_or_else(|| bad(voff))?;
        let port_s = f.next().ok_or_else(|| bad(voff + value.len()))?;
        let proto = f.next().ok_or_else(|| bad(voff + value.len()))?;
        let first_fmt = f.next().ok_or_else(|| bad(voff + value.len()))?;
        let port_off = span(port_s).0 as usize;
        let (port_n, count_n) = match memchr::memchr(b'/', port_s) {
            Some(sl) => (
                port_s.get(..sl).unwrap_or(&[]),
                Some(port_s.get(sl + 1..).unwrap_or(&[])),
            ),
            None => (port_s, None),
        };
        let port = crate::scan::parse_u64(port_n)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| bad(port_off))?;
        let port_count = match count_n {
            Some(c) => crate::scan::parse_u64(c)
                .and_then(|p| u16::try_from(p).ok())
                .filter(|&c| c > 0)
                .ok_or_else(|| bad(port_off))?,
            None => 1,
        };
        // RTP profiles carry payload types (RFC 3551 §3: 0-127).
        if is_rtp_proto(proto) {
            for fmt in core::iter::once(first_fmt).chain(f) {
                parse_pt(fmt, span(fmt).0 as usize)?;
            }
        }
        let fs = span(first_fmt).0;
        let idx = self.lines.len() as u32;
        self.media.push(MediaRec {
            first: idx,
            last: idx + 1,
            port,
            port_count,
            kind: span(kind),
            proto: span(proto),
            fmts: (fs, (voff + value.len()) as u32),
        });
        Ok(())
    }

    fn finish(&self, end: usize) -> Result<()> {
        if self.valid < 3 || !self.seen_t {
            return Err(Error::new(ErrorKind::SdpMissingLine, end));
        }
        Ok(())
    }
}

/// RTP-based transport protocols (RTP/AVP, RTP/SAVP, RTP/AVPF, UDP/TLS/RTP/SAVPF, ...): their
/// formats are payload types.
pub fn is_rtp_proto(proto: &[u8]) -> bool {
    memchr::memmem::find(proto, b"RTP/").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<'a>(
        b: &'a [u8],
        opts: &ParseOptions,
    ) -> (Result<SessionDescription<'a>>, Vec<Diagnostic>) {
        let mut d = Vec::new();
        (SessionDescription::parse(b, opts, &mut d), d)
    }

    #[test]
    fn glue_detection_only_takes_line_shapes() {
        let l = b"a=rtpmap:2 G726-32/8000/1a=rtpmap:18 G729/8000";
        assert_eq!(glued_at(l, 2, l.len()), Some(25));
        // `=` inside fmtp values, base64 padding and unknown names are not glues.
        for v in [
            &b"a=fmtp:97 profile-level-id=42e01f;packetization-mode=1"[..],
            b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVmZ2hpSktMbW9QUXJzVFVWd3l6MTIzNDU2a=",
            b"a=fmtp:18 annexa=no",
            b"a=x-foo:a=b",
        ] {
            assert_eq!(
                glued_at(v, 2, v.len()),
                None,
                "{}",
                String::from_utf8_lossy(v)
            );
        }
        let l = b"a=sendrecvm=audio 1 RTP/AVP 0";
        assert_eq!(glued_at(l, 2, l.len()), Some(10));
    }

    #[test]
    fn scan_line_finds_lf_and_equals() {
        assert_eq!(scan_line(b"a=b\r\nc"), (4, false));
        assert_eq!(scan_line(b"a=b=c"), (5, true));
        assert_eq!(scan_line(b""), (0, false));
    }

    #[test]
    fn records_tile_the_body() {
        let b = b"v=0\no=- 1 2 IN IP4 h\ns=x\nt=0 0\nm=audio 5 RTP/AVP 0\na=sendonly\nm=video 0 RTP/AVP 31\r\n";
        let (sd, d) = parse(b, &ParseOptions::STRICT);
        let sd = sd.unwrap();
        assert!(d.is_empty());
        assert_eq!(sd.lines.len(), 7);
        assert_eq!(sd.media.len(), 2);
        assert_eq!((sd.media[0].first, sd.media[0].last), (4, 6));
        assert_eq!((sd.media[1].first, sd.media[1].last), (6, 7));
        let mut pos = 0;
        for l in &sd.lines {
            assert_eq!(l.start as usize, pos);
            pos = l.next as usize;
        }
        assert_eq!(pos, b.len());
        assert_eq!(sd.lines[5].attr, AttrKind::SendOnly);
    }

    #[test]
    fn lenient_keeps_junk_before_v() {
        let b = b"junk\r\nv=0\r\no=- 1 2 IN IP4 h\r\ns=x\r\nt=0 0\r\n";
        assert_eq!(
            parse(b, &ParseOptions::STRICT).0.unwrap_err(),
            Error::new(ErrorKind::SdpInvalidLine, 0)
        );
        let (sd, d) = parse(b, &ParseOptions::LIBERAL);
        let sd = sd.unwrap();
        assert_eq!(d, vec![Error::new(ErrorKind::SdpInvalidLine, 0)]);
        assert_eq!(sd.lines[0].kind, 0);
        assert_eq!(sd.session_name(), b"x");
    }

    #[test]
    fn rtp_protocols() {
        assert!(is_rtp_proto(b"RTP/AVP"));
        assert!(is_rtp_proto(b"UDP/TLS/RTP/SAVPF"));
        assert!(!is_rtp_proto(b"udptl"));
        assert!(!is_rtp_proto(b"TCP/MRCPv2"));
    }
}
