//! The line scanner and the structure of a description (RFC 8866 §5, §9).
//!
//! One pass over the body: each line becomes a [`Line`] record (spans and its type letter, and
//! for `a=` lines the attribute kind), each `m=` line a [`MediaRec`] with its fields already
//! split. Those two vectors are the only allocations of a parse; everything else is read from
//! the body when asked for.

use super::attr::{parse_pt, AttrKind};
use super::{fields, find_byte};
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
pub(crate) fn glued_at(buf: &[u8], from: usize, to: usize) -> Option<usize> {
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

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` equal to `b`. Exact up to the lowest match; a byte above
/// a match may also be flagged (the subtraction's borrow), so only the lowest bit is a position.
#[inline(always)]
pub(crate) fn bytes_eq(w: u64, b: u8) -> u64 {
    let x = w ^ (LO * u64::from(b));
    x.wrapping_sub(LO) & !x & HI
}

/// The index of the LF ending the line that starts `rest` (or `rest.len()`), and whether an
/// `=` may appear after the type's own (a possible glued line, which [`glued_at`] then looks
/// for exactly; this may say yes when there is none, never no when there is one).
#[inline]
fn scan_line(rest: &[u8]) -> (usize, bool) {
    scan_until(rest, |w| bytes_eq(w, b'\n'), |b| b == b'\n')
}

/// The index of the first byte `stop_byte` takes in `rest` (or `rest.len()`), and whether an
/// `=` may appear before it after the type's own (see [`scan_line`]). `stop_word` flags those
/// bytes of a little-endian word as [`bytes_eq`] does: its lowest flag must be exact. Eight
/// bytes at a time: SDP lines are 10-60 bytes, too short for a SIMD search's set-up to pay
/// (two `memchr` calls a line cost ~100 instructions each).
#[inline(always)]
pub(crate) fn scan_until(
    rest: &[u8],
    stop_word: impl Fn(u64) -> u64,
    stop_byte: impl Fn(u8) -> bool,
) -> (usize, bool) {
    let mut eqs = 0u64;
    let mut chunks = rest.chunks_exact(8);
    let mut i = 0usize;
    for c in &mut chunks {
        let Ok(a) = <[u8; 8]>::try_from(c) else {
            break;
        };
        let w = u64::from_le_bytes(a);
        // The type letter and its `=` are not looked at.
        let skip = if i == 0 { !0xFFFFu64 } else { !0 };
        let stop = stop_word(w);
        let eq = bytes_eq(w, b'=') & skip;
        if stop != 0 {
            let at = stop.trailing_zeros() as usize / 8;
            // Only the `=` bytes below the stop count.
            let below = (1u64 << (8 * at)) - 1;
            return (i + at, eqs != 0 || eq & below != 0);
        }
        eqs |= eq;
        i += 8;
    }
    for (j, &b) in chunks.remainder().iter().enumerate() {
        if stop_byte(b) {
            return (i + j, eqs != 0);
        }
        if b == b'=' && i + j > 1 {
            eqs = 1;
        }
    }
    (rest.len(), eqs != 0)
}

/// Whether `body` has a byte RFC 8866 §9 forbids in a line: a NUL, or a CR that does not end
/// a line. One search over the whole body (most have none), so the lines need not be checked
/// one by one.
fn has_odd_bytes(body: &[u8]) -> bool {
    memchr::memchr2_iter(0, b'\r', body)
        .any(|i| body.get(i) == Some(&0) || body.get(i + 1) != Some(&b'\n'))
}

/// How many space-separated fields `v` has (`fields(v).count()`), eight bytes at a time: a
/// field starts at a byte that is not a space where the byte before it is one (or is the
/// start).
#[inline]
pub(crate) fn field_count(v: &[u8]) -> usize {
    // The high bit of each space byte, exactly (no borrow between bytes).
    let spaces = |w: u64| {
        let x = w ^ (LO * u64::from(b' '));
        !(((x & !HI).wrapping_add(!HI)) | x) & HI
    };
    let mut n = 0usize;
    // The high bit of byte 0 when the byte before the word was a space.
    let mut before = 0x80u64;
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        let Ok(a) = <[u8; 8]>::try_from(c) else {
            break;
        };
        let sp = spaces(u64::from_le_bytes(a));
        let prev = (sp << 8) | before;
        n += (!sp & HI & prev).count_ones() as usize;
        before = sp >> 56;
    }
    let mut prev_space = before != 0;
    for &b in chunks.remainder() {
        let space = b == b' ';
        n += usize::from(prev_space & !space);
        prev_space = space;
    }
    n
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
        // Lines are rarely under 16 bytes: one allocation for a fresh parse, none when the
        // buffers come back big enough.
        let nl = body.len() / 16 + 2;
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
        let odd = has_odd_bytes(body);
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
                p.line(body, start, g, g, odd)?;
                start = g;
            }
            p.line(body, start, end, next, odd)?;
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

    /// One `<type>=<value>` line; `odd`: the body has a NUL or a CR that ends no line.
    fn line(&mut self, buf: &[u8], start: usize, end: usize, next: usize, odd: bool) -> Result<()> {
        let kind = buf.get(start).copied().unwrap_or(0);
        let value = buf.get(start + 2..end).unwrap_or(&[]);
        let voff = start + 2;
        // RFC 8866 §9: byte-string is %x01-09 / %x0B-0C / %x0E-FF: no NUL, no CR in a line.
        if odd {
            if let Some(i) = value.iter().position(|&b| b == 0 || b == b'\r') {
                return Err(Error::new(ErrorKind::SdpInvalidValue, voff + i));
            }
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
        let attr = match kind {
            b't' => {
                if self.media.is_empty() {
                    self.seen_t = true;
                }
                AttrKind::Other
            }
            b'm' => {
                self.media_line(buf, start, value, voff)?;
                AttrKind::Other
            }
            b'a' => {
                self.attrs += 1;
                if self.attrs > u32::from(self.opts.limits.max_sdp_attributes) {
                    return Err(Error::new(ErrorKind::SdpTooManyAttributes, start));
                }
                check_value(kind, value, voff, n == 0)?
            }
            _ => check_value(kind, value, voff, n == 0)?,
        };
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
        let m = media_fields(value, voff)?;
        let idx = self.lines.len() as u32;
        self.media.push(MediaRec {
            first: idx,
            last: idx + 1,
            port: m.port,
            port_count: m.port_count,
            kind: span(m.kind),
            proto: span(m.proto),
            fmts: span(m.formats),
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

/// The checks of one `<type>=<value>` line that need nothing but the line (`first`: it is the
/// description's first): its attribute kind for an `a=` line. `m=` and `t=` lines, which
/// depend on the lines before, are checked by their reader.
#[inline]
pub(crate) fn check_value(kind: u8, value: &[u8], voff: usize, first: bool) -> Result<AttrKind> {
    match kind {
        // RFC 8866 §5.1: the only version is 0.
        b'v' if first && value != b"0" => Err(Error::new(ErrorKind::SdpInvalidValue, voff)),
        // §5.2: six fields.
        b'o' if field_count(value) != 6 => Err(Error::new(ErrorKind::SdpInvalidValue, voff)),
        // §5.7: <nettype> <addrtype> <connection-address>.
        b'c' if field_count(value) != 3 => Err(Error::new(ErrorKind::SdpInvalidValue, voff)),
        b'a' => {
            let name_end = find_byte(value, b':').unwrap_or(value.len());
            let attr = AttrKind::from_name(value.get(..name_end).unwrap_or(&[]));
            // The payload type of rtpmap is checked now, so a bad one is found by the parse,
            // not by whoever reads the codecs later.
            if matches!(attr, AttrKind::Rtpmap) {
                let v = value.get(name_end + 1..).unwrap_or(&[]);
                let pt_end = find_byte(v, b' ').unwrap_or(v.len());
                // Without a `:`, the value is missing: point at the end of the name.
                let pt_off = voff + (name_end + 1).min(value.len());
                parse_pt(v.get(..pt_end).unwrap_or(&[]), pt_off)?;
            }
            Ok(attr)
        }
        _ => Ok(AttrKind::Other),
    }
}

/// The fields of an `m=` line's value.
pub(crate) struct MediaFields<'a> {
    pub kind: &'a [u8],
    pub port: u16,
    pub port_count: u16,
    pub proto: &'a [u8],
    /// From the first format to the end of the value.
    pub formats: &'a [u8],
}

/// `<media> <port>[/<number of ports>] <proto> 1*(SP <fmt>)` (RFC 8866 §5.14), `voff` the
/// value's offset in the body; an RTP profile's formats are checked to be payload types.
pub(crate) fn media_fields(value: &[u8], voff: usize) -> Result<MediaFields<'_>> {
    let off = |f: &[u8]| (f.as_ptr() as usize).saturating_sub(value.as_ptr() as usize);
    let mut f = fields(value);
    let bad = |at: usize| Error::new(ErrorKind::SdpInvalidValue, at);
    let kind = f.next().ok_or_else(|| bad(voff))?;
    let port_s = f.next().ok_or_else(|| bad(voff + value.len()))?;
    let proto = f.next().ok_or_else(|| bad(voff + value.len()))?;
    let first_fmt = f.next().ok_or_else(|| bad(voff + value.len()))?;
    let port_off = voff + off(port_s);
    let (port_n, count_n) = match find_byte(port_s, b'/') {
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
            parse_pt(fmt, voff + off(fmt))?;
        }
    }
    Ok(MediaFields {
        kind,
        port,
        port_count,
        proto,
        formats: value.get(off(first_fmt)..).unwrap_or(&[]),
    })
}

/// RTP-based transport protocols (RTP/AVP, RTP/SAVP, RTP/AVPF, UDP/TLS/RTP/SAVPF, ...): their
/// formats are payload types.
pub fn is_rtp_proto(proto: &[u8]) -> bool {
    proto.windows(4).any(|w| w == b"RTP/")
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

    /// `per_len` strings of each length 0-39 over `alphabet` (xorshift, the same every run).
    fn random_lines(alphabet: &[u8], per_len: usize) -> Vec<Vec<u8>> {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        (0..40usize)
            .flat_map(|len| std::iter::repeat(len).take(per_len))
            .map(|len| {
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    /// The word-at-a-time scan against a byte loop: the LF exactly, and an `=` after the type's
    /// own never missed.
    #[test]
    fn scan_line_agrees_with_a_byte_loop() {
        let reference = |rest: &[u8]| {
            let lf = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let eq = rest.iter().take(lf).skip(2).any(|&b| b == b'=');
            (lf, eq)
        };
        let alphabet = [
            b'a', b'=', b'\n', b'\r', b'<', b'>', 0x01, 0x3c, 0x3d, 0x0b, 0xff, b' ', 0,
        ];
        for line in random_lines(&alphabet, 400) {
            let (lf, eq) = scan_line(&line);
            let (rlf, req) = reference(&line);
            assert_eq!(lf, rlf, "{line:?}");
            assert!(eq || !req, "an = missed in {line:?}");
        }
        // The correlator's stop set: LF, CR or NUL, whichever comes first.
        let stops = |b: u8| matches!(b, b'\n' | b'\r' | 0);
        for line in random_lines(&alphabet, 400) {
            let at = line.iter().position(|&b| stops(b)).unwrap_or(line.len());
            let req = line.iter().take(at).skip(2).any(|&b| b == b'=');
            let (got, eq) = scan_until(
                &line,
                |w| bytes_eq(w, b'\n') | bytes_eq(w, b'\r') | bytes_eq(w, 0),
                stops,
            );
            assert_eq!(got, at, "{line:?}");
            assert!(eq || !req, "an = missed in {line:?}");
        }
        assert_eq!(scan_line(b"a=b\r\nc"), (4, false));
        assert_eq!(scan_line(b"a=b=c"), (5, true));
        assert_eq!(scan_line(b""), (0, false));
        assert_eq!(scan_line(b"a=rtpmap:0 PCMU/8000\r\n"), (21, false));
        assert_eq!(
            scan_line(b"a=fmtp:96 profile-level-id=42e01f\r\n"),
            (34, true)
        );
    }

    #[test]
    fn odd_bytes_are_nul_and_lone_cr() {
        assert!(!has_odd_bytes(b"v=0\r\no=x\r\n"));
        assert!(!has_odd_bytes(b"v=0\no=x"));
        assert!(has_odd_bytes(b"v=0\r\ns=a\rb\r\n"));
        assert!(has_odd_bytes(b"v=0\r\ns=a\0b\r\n"));
        assert!(has_odd_bytes(b"v=0\r"), "a CR at the very end ends no line");
    }

    #[test]
    fn field_count_is_fields_count() {
        for v in [
            &b""[..],
            b" ",
            b"a",
            b" a",
            b"a ",
            b"a b",
            b"a  b ",
            b"  IN IP4  h ",
            b"x y z w",
        ] {
            assert_eq!(field_count(v), fields(v).count(), "{v:?}");
        }
        let alphabet = [b' ', b'a', 0x00, 0x21, 0x1f, 0xa0, 0x20];
        for v in random_lines(&alphabet, 300) {
            assert_eq!(field_count(&v), fields(&v).count(), "{v:?}");
        }
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
