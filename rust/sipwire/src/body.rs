//! Multipart bodies (RFC 5621 for SIP, syntax of RFC 2046 §5.1.1).
//!
//! ```text
//! multipart-body := [preamble CRLF] dash-boundary transport-padding CRLF body-part
//!                   *encapsulation close-delimiter transport-padding [CRLF epilogue]
//! encapsulation  := delimiter transport-padding CRLF body-part
//! delimiter      := CRLF dash-boundary          ; dash-boundary := "--" boundary
//! body-part      := MIME-part-headers [CRLF *OCTET]
//! ```
//!
//! Delimiters are found with a substring search for the boundary, so binary parts (NUL,
//! bare CR, RFC 4475 §3.1.1.11) need no care. The CRLF before a delimiter belongs to the
//! delimiter, not to the part. Bare LF is accepted in delimiter lines and part headers.
//! Offsets are relative to the multipart body.

use crate::scan::Span;
use crate::{Error, ErrorKind, ParseOptions, Result};

/// One part: the spans of its header section and of its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PartRec {
    headers: Span,
    body: Span,
}

/// A parsed multipart body; borrows it. One allocation: the part table.
#[derive(Clone, Debug)]
pub struct Multipart<'a> {
    buf: &'a [u8],
    parts: Vec<PartRec>,
    preamble: Span,
    epilogue: Span,
    depth: u8,
}

/// One body part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part<'a> {
    /// The header lines with their line endings, without the empty line (empty when the part
    /// has no headers: RFC 2046 §5.1.1 then means `text/plain; charset=us-ascii`).
    pub headers: &'a [u8],
    pub body: &'a [u8],
    /// Offset of the header section in the multipart body.
    pub offset: u32,
    /// Offset of the part's body in the multipart body.
    pub body_offset: u32,
}

/// The end of the line starting at `from` (index of CR or LF) and the start of the next.
fn line_end(buf: &[u8], from: usize) -> (usize, usize) {
    match memchr::memchr(b'\n', buf.get(from..).unwrap_or(&[])) {
        Some(i) => {
            let lf = from + i;
            let end = if lf > from && buf.get(lf - 1) == Some(&b'\r') {
                lf - 1
            } else {
                lf
            };
            (end, lf + 1)
        }
        None => (buf.len(), buf.len()),
    }
}

/// A delimiter found at `start` (the first `-`): whether it closes, and where the next part
/// starts (after its line ending).
struct Delim {
    start: usize,
    close: bool,
    after: usize,
}

/// Finds the next delimiter line at or after `from`: `--boundary` at a line start, followed
/// by `--` (close) or by transport padding (SP / HTAB) and the line end.
fn next_delimiter(buf: &[u8], boundary: &[u8], from: usize) -> Option<Delim> {
    let hay = buf.get(from..)?;
    for hit in memchr::memmem::find_iter(hay, boundary) {
        let b = from + hit;
        let Some(start) = b.checked_sub(2) else {
            continue;
        };
        if buf.get(start..b) != Some(b"--") {
            continue;
        }
        if start != 0 && buf.get(start - 1) != Some(&b'\n') {
            continue;
        }
        let mut j = b + boundary.len();
        let close = buf.get(j..j + 2) == Some(b"--");
        if close {
            j += 2;
        }
        while buf.get(j).is_some_and(|&c| c == b' ' || c == b'\t') {
            j += 1;
        }
        let (end, next) = line_end(buf, j);
        // A longer line that merely starts with the boundary is not a delimiter.
        if end != j {
            continue;
        }
        return Some(Delim {
            start,
            close,
            after: next,
        });
    }
    None
}

/// Where the content before a delimiter at `start` ends: the CRLF (or LF) before it belongs
/// to the delimiter.
fn content_end(buf: &[u8], part_start: usize, delim_start: usize) -> usize {
    let mut e = delim_start;
    if e > part_start && buf.get(e - 1) == Some(&b'\n') {
        e -= 1;
        if e > part_start && buf.get(e - 1) == Some(&b'\r') {
            e -= 1;
        }
    }
    e
}

/// Splits a part into its header section and body, checking each header line is
/// `name ":" value` or a continuation (RFC 2045 §3, RFC 5322 §2.2).
fn split_part(buf: &[u8], start: usize, end: usize) -> Result<PartRec> {
    let mut pos = start;
    loop {
        if pos >= end {
            // Headers only, no body (the `[CRLF *OCTET]` is optional).
            return Ok(PartRec {
                headers: Span::new(start, end),
                body: Span::new(end, end),
            });
        }
        let (le, next) = line_end(buf, pos);
        let le = le.min(end);
        if le == pos {
            return Ok(PartRec {
                headers: Span::new(start, pos),
                body: Span::new(next.min(end), end),
            });
        }
        let line = buf.get(pos..le).unwrap_or(&[]);
        let first = line.first().copied().unwrap_or(0);
        let continuation = (first == b' ' || first == b'\t') && pos != start;
        if !continuation {
            let colon = memchr::memchr(b':', line)
                .ok_or_else(|| Error::new(ErrorKind::InvalidMultipart, pos))?;
            let name = line.get(..colon).unwrap_or(&[]);
            if !crate::scan::is_token(name) {
                return Err(Error::new(ErrorKind::InvalidMultipart, pos));
            }
        }
        pos = next;
    }
}

impl<'a> Multipart<'a> {
    /// Parses a top-level multipart body with `boundary` (the Content-Type parameter, quotes
    /// removed).
    pub fn parse(body: &'a [u8], boundary: &[u8], opts: &ParseOptions) -> Result<Multipart<'a>> {
        Multipart::parse_nested(body, boundary, 1, opts)
    }

    /// Parses a multipart body found at nesting level `depth` (1 = the message body).
    pub fn parse_nested(
        body: &'a [u8],
        boundary: &[u8],
        depth: u8,
        opts: &ParseOptions,
    ) -> Result<Multipart<'a>> {
        if depth > opts.limits.max_multipart_depth {
            return Err(Error::new(ErrorKind::MultipartTooDeep, 0));
        }
        if boundary.is_empty() {
            return Err(Error::new(ErrorKind::MissingBoundary, 0));
        }
        // RFC 2046 §5.1.1: 1 to 70 characters.
        if boundary.len() > 70 || boundary.iter().any(|&b| b == b'\r' || b == b'\n') {
            return Err(Error::new(ErrorKind::InvalidMultipart, 0));
        }
        let first = next_delimiter(body, boundary, 0)
            .ok_or_else(|| Error::new(ErrorKind::InvalidMultipart, 0))?;
        if first.close {
            return Err(Error::new(ErrorKind::InvalidMultipart, first.start));
        }
        let preamble = Span::new(0, content_end(body, 0, first.start));
        let mut parts = Vec::new();
        let mut part_start = first.after;
        loop {
            let d = next_delimiter(body, boundary, part_start)
                .ok_or_else(|| Error::new(ErrorKind::InvalidMultipart, body.len()))?;
            if parts.len() >= usize::from(opts.limits.max_multipart_parts) {
                return Err(Error::new(ErrorKind::TooManyParts, part_start));
            }
            let end = content_end(body, part_start, d.start);
            parts.push(split_part(body, part_start, end)?);
            if d.close {
                return Ok(Multipart {
                    buf: body,
                    parts,
                    preamble,
                    epilogue: Span::new(d.after, body.len()),
                    depth,
                });
            }
            part_start = d.after;
        }
    }

    pub fn len(&self) -> usize {
        self.parts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
    pub fn depth(&self) -> u8 {
        self.depth
    }
    /// Text before the first delimiter (ignored by RFC 2046).
    pub fn preamble(&self) -> &'a [u8] {
        self.preamble.of(self.buf)
    }
    /// Text after the close delimiter's line (ignored by RFC 2046).
    pub fn epilogue(&self) -> &'a [u8] {
        self.epilogue.of(self.buf)
    }

    pub fn part(&self, i: usize) -> Option<Part<'a>> {
        let r = self.parts.get(i)?;
        Some(Part {
            headers: r.headers.of(self.buf),
            body: r.body.of(self.buf),
            offset: r.headers.start,
            body_offset: r.body.start,
        })
    }

    pub fn parts(&self) -> impl ExactSizeIterator<Item = Part<'a>> + '_ {
        let buf = self.buf;
        self.parts.iter().map(move |r| Part {
            headers: r.headers.of(buf),
            body: r.body.of(buf),
            offset: r.headers.start,
            body_offset: r.body.start,
        })
    }

    /// The first part whose Content-Type media type is `media_type` (e.g. `application/sdp`).
    pub fn find(&self, media_type: &[u8]) -> Option<Part<'a>> {
        self.parts().find(|p| {
            p.media_type()
                .is_some_and(|t| t.eq_ignore_ascii_case(media_type))
        })
    }
}

impl<'a> Part<'a> {
    /// The part's header fields as (name, value); values trimmed, folds left in place.
    pub fn header_fields(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let h = self.headers;
        let mut pos = 0usize;
        core::iter::from_fn(move || {
            while pos < h.len() {
                let start = pos;
                // A field runs to a line ending not followed by SP/HTAB (a fold).
                let mut end;
                loop {
                    let (le, next) = line_end(h, pos);
                    end = le;
                    pos = next;
                    if !h.get(pos).is_some_and(|&c| c == b' ' || c == b'\t') {
                        break;
                    }
                }
                let field = h.get(start..end).unwrap_or(&[]);
                if let Some(c) = memchr::memchr(b':', field) {
                    return Some((
                        crate::scan::trim_lws(field.get(..c).unwrap_or(&[])),
                        crate::scan::trim_lws(field.get(c + 1..).unwrap_or(&[])),
                    ));
                }
            }
            None
        })
    }

    /// The first header field called `name` (case-insensitive).
    pub fn header(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.header_fields()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    pub fn content_type(&self) -> Option<&'a [u8]> {
        self.header(b"Content-Type")
    }

    /// `type/subtype` of Content-Type, without parameters.
    pub fn media_type(&self) -> Option<&'a [u8]> {
        let ct = self.content_type()?;
        let end = memchr::memchr(b';', ct).unwrap_or(ct.len());
        Some(crate::scan::trim_lws(ct.get(..end)?))
    }

    /// The boundary of a nested multipart part.
    pub fn boundary(&self) -> Option<&'a [u8]> {
        boundary_param(self.content_type()?)
    }

    /// Parses this part as a nested multipart body at `depth` (its parent's depth + 1).
    /// Offsets in errors are relative to this part's body.
    pub fn multipart(&self, depth: u8, opts: &ParseOptions) -> Result<Multipart<'a>> {
        let b = self
            .boundary()
            .ok_or_else(|| Error::new(ErrorKind::MissingBoundary, 0))?;
        Multipart::parse_nested(self.body, b, depth, opts)
    }
}

/// The `boundary` parameter of a Content-Type value (RFC 2046 §5.1.1), quotes removed.
pub fn boundary_param(content_type: &[u8]) -> Option<&[u8]> {
    let mut rest = content_type;
    while let Some(semi) = memchr::memchr(b';', rest) {
        rest = rest.get(semi + 1..)?;
        let p = crate::scan::trim_lws(rest);
        let eq = memchr::memchr(b'=', p)?;
        let name = crate::scan::trim_lws(p.get(..eq)?);
        let value = crate::scan::trim_lws(p.get(eq + 1..)?);
        let value = if value.first() == Some(&b'"') {
            let close = crate::scan::end_of_quoted(value, 0).ok()?;
            value.get(1..close.checked_sub(1)?)?
        } else {
            let end = memchr::memchr(b';', value).unwrap_or(value.len());
            crate::scan::trim_lws(value.get(..end)?)
        };
        if name.eq_ignore_ascii_case(b"boundary") {
            return Some(value).filter(|v| !v.is_empty());
        }
    }
    None
}

/// The SDP of a message: the body itself when `content_type` is `application/sdp`, or the first
/// `application/sdp` part of a multipart body (RFC 5621 §3.1); `None` otherwise.
pub fn sdp_part<'a>(content_type: &[u8], body: &'a [u8], opts: &ParseOptions) -> Option<&'a [u8]> {
    if body.is_empty() {
        return None;
    }
    let end = memchr::memchr(b';', content_type).unwrap_or(content_type.len());
    let mt = crate::scan::trim_lws(content_type.get(..end).unwrap_or(&[]));
    if mt.eq_ignore_ascii_case(b"application/sdp") {
        Some(body)
    } else if mt
        .get(..10)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"multipart/"))
        && mt.len() > 10
    {
        let boundary = boundary_param(content_type)?;
        let mp = Multipart::parse(body, boundary, opts).ok()?;
        Some(mp.find(b"application/sdp")?.body)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: ParseOptions = ParseOptions::STRICT;

    #[test]
    fn two_parts_with_preamble_and_epilogue() {
        let b = b"preamble\r\n--xyz\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--xyz \r\n\r\nplain\r\n--xyz--\r\nepilogue";
        let m = Multipart::parse(b, b"xyz", &OPTS).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m.preamble(), b"preamble");
        assert_eq!(m.epilogue(), b"epilogue");
        let p0 = m.part(0).unwrap();
        assert_eq!(p0.content_type(), Some(&b"application/sdp"[..]));
        assert_eq!(p0.body, b"v=0\r\n");
        let p1 = m.part(1).unwrap();
        assert_eq!(p1.headers, b"");
        assert_eq!(p1.body, b"plain");
        assert_eq!(
            m.find(b"APPLICATION/SDP").map(|p| p.body),
            Some(&b"v=0\r\n"[..])
        );
    }

    #[test]
    fn errors() {
        let b = b"--a\r\nX: y\r\n\r\nbody\r\n--a--\r\n";
        assert_eq!(
            Multipart::parse(b, b"", &OPTS).unwrap_err().kind,
            ErrorKind::MissingBoundary
        );
        assert_eq!(
            Multipart::parse(b, b"b", &OPTS).unwrap_err().kind,
            ErrorKind::InvalidMultipart
        );
        let unclosed = b"--a\r\n\r\nbody\r\n";
        assert_eq!(
            Multipart::parse(unclosed, b"a", &OPTS).unwrap_err(),
            Error::new(ErrorKind::InvalidMultipart, unclosed.len())
        );
        let bad_header = b"--a\r\nno colon here\r\n\r\nx\r\n--a--";
        assert_eq!(
            Multipart::parse(bad_header, b"a", &OPTS).unwrap_err(),
            Error::new(ErrorKind::InvalidMultipart, 5)
        );
        let mut many = Vec::new();
        for _ in 0..40 {
            many.extend_from_slice(b"--a\r\n\r\nx\r\n");
        }
        many.extend_from_slice(b"--a--\r\n");
        assert_eq!(
            Multipart::parse(&many, b"a", &OPTS).unwrap_err().kind,
            ErrorKind::TooManyParts
        );
        assert_eq!(
            Multipart::parse_nested(b, b"a", 5, &OPTS).unwrap_err().kind,
            ErrorKind::MultipartTooDeep
        );
    }

    #[test]
    fn nested_and_boundary_param() {
        assert_eq!(
            boundary_param(b"multipart/mixed;boundary=7a9c"),
            Some(&b"7a9c"[..])
        );
        assert_eq!(
            boundary_param(b"multipart/mixed; charset=x; Boundary=\"a b\""),
            Some(&b"a b"[..])
        );
        assert_eq!(boundary_param(b"multipart/mixed"), None);
        let b = b"--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n--in\r\n\r\none\r\n--in--\r\n--out--";
        let m = Multipart::parse(b, b"out", &OPTS).unwrap();
        let inner = m.part(0).unwrap().multipart(2, &OPTS).unwrap();
        assert_eq!(inner.part(0).unwrap().body, b"one");
        let mut deep = ParseOptions::STRICT;
        deep.limits.max_multipart_depth = 1;
        assert_eq!(
            m.part(0).unwrap().multipart(2, &deep).unwrap_err().kind,
            ErrorKind::MultipartTooDeep
        );
    }

    #[test]
    fn folded_part_header() {
        let b = b"--a\nContent-Type: text/plain;\n charset=utf-8\nContent-ID: <x>\n\nhi\n--a--\n";
        let m = Multipart::parse(b, b"a", &OPTS).unwrap();
        let p = m.part(0).unwrap();
        assert_eq!(p.header(b"content-id"), Some(&b"<x>"[..]));
        assert_eq!(p.media_type(), Some(&b"text/plain"[..]));
        assert_eq!(p.body, b"hi");
    }
}
