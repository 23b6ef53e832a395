//! The header index (RFC 3261 §7.3) and datagram framing (§18.3).
//!
//! ```text
//! message-header = header-name HCOLON header-value CRLF   (HCOLON = *( SP / HTAB ) ":" SWS)
//! LWS            = [*WSP CRLF] 1*WSP                       (a fold continues the value)
//! ```

use super::fields::Fields;
use super::names::HeaderName;
use super::start_line::{self, StartLine};
use crate::error::{Diagnostic, Error, ErrorKind};
use crate::limits::ParseOptions;
use crate::scan::{is_token_char, is_wsp, parse_u64, trim_lws, Span};

/// One header line: its name, its value (trimmed, folds included), the end of the line
/// (before CRLF), and the canonical name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HeaderEntry {
    pub name: Span,
    pub value: Span,
    /// Offset just past the line's last byte before its line ending.
    pub line_end: u32,
    pub kind: HeaderName,
    /// The value spans continuation lines (its bytes contain CRLF WSP).
    pub folded: bool,
}

impl HeaderEntry {
    /// The whole header line, from its name to the end of its value (line ending excluded).
    pub fn line(&self) -> Span {
        Span::new(self.name.start as usize, self.line_end as usize)
    }
}

/// Everything a parse learns about a message, as spans of its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageIndex {
    pub start_line: StartLine,
    /// Where the message starts (after CRLF keep-alives, RFC 3261 §7.5).
    pub start: u32,
    pub headers: Vec<HeaderEntry>,
    /// Offset of the body (just past the empty line).
    pub body_start: u32,
    pub body: Span,
    /// Where the message ends. Bytes of a datagram past it are discarded (§18.3).
    pub end: u32,
    /// The Content-Length value, when the header is present.
    pub content_length: Option<u32>,
    /// Repairs made by a lenient parse and semantic problems of a message that still parsed.
    pub diagnostics: Vec<Diagnostic>,
    /// Where the parts of the Request-URI, From, To, CSeq and top Via are, once validated
    /// (boxed: a lazy parse has none, and the index stays small to move around).
    pub fields: Option<Box<Fields>>,
}

/// The head of a message: start line and header index, up to the empty line.
pub(crate) struct Head {
    pub start_line: StartLine,
    pub start: usize,
    pub headers: Vec<HeaderEntry>,
    pub body_start: usize,
    pub content_length: Option<u32>,
}

impl MessageIndex {
    /// Parses one message received as a datagram (UDP, or any record whose boundaries are
    /// known): framing per RFC 3261 §18.3, start line, header index, and the cheap semantic
    /// checks. Typed header values are not validated; see [`MessageIndex::validate`].
    pub fn parse_datagram(buf: &[u8], opts: &ParseOptions) -> Result<MessageIndex, Error> {
        Self::parse_datagram_reusing(buf, opts, Vec::new())
    }

    /// [`MessageIndex::parse_datagram`] into `headers`' allocation (cleared first): a caller
    /// that parses message after message and drops each index can keep one vector
    /// (`MessageIndex::headers`, taken back from the index it is done with).
    pub fn parse_datagram_reusing(
        buf: &[u8],
        opts: &ParseOptions,
        headers: Vec<HeaderEntry>,
    ) -> Result<MessageIndex, Error> {
        let mut diags = Vec::new();
        let head = parse_head(buf, opts, &mut diags, headers)?;
        let body_start = head.body_start;
        let available = buf.len().saturating_sub(body_start);
        let body_len = match head.content_length {
            // §18.3: no Content-Length on a datagram: the body is the rest of the datagram.
            None => {
                if available > opts.limits.max_body as usize {
                    return Err(Error::new(ErrorKind::BodyTooLarge, body_start));
                }
                available
            }
            Some(cl) => {
                let cl = cl as usize;
                if cl > available {
                    // §18.3: a body shorter than Content-Length is an error (UDP: 400).
                    let e = Error::new(ErrorKind::BodyTooShort, buf.len());
                    if !opts.leniency.short_body {
                        return Err(e);
                    }
                    diags.push(e);
                    available
                } else {
                    cl
                }
            }
        };
        let end = body_start + body_len;
        if end - head.start > opts.limits.max_message as usize {
            return Err(Error::new(
                ErrorKind::MessageTooLarge,
                head.start + opts.limits.max_message as usize,
            ));
        }
        Ok(MessageIndex {
            start_line: head.start_line,
            start: head.start as u32,
            headers: head.headers,
            body_start: body_start as u32,
            body: Span::new(body_start, end),
            end: end as u32,
            content_length: head.content_length,
            diagnostics: diags,
            fields: None,
        })
    }

    /// Parses a datagram and validates the typed headers every consumer reads (see
    /// [`MessageIndex::validate`]).
    pub fn parse(buf: &[u8], opts: &ParseOptions) -> Result<MessageIndex, Error> {
        let mut idx = Self::parse_datagram(buf, opts)?;
        idx.validate(buf, opts)?;
        Ok(idx)
    }

    pub fn is_request(&self) -> bool {
        self.start_line.is_request()
    }

    /// The parts validation found, or the empty set after a lazy parse.
    pub fn fields(&self) -> &Fields {
        static NONE: Fields = Fields::EMPTY;
        self.fields.as_deref().unwrap_or(&NONE)
    }

    /// The message's own bytes (without leading keep-alives or trailing datagram bytes).
    pub fn span(&self) -> Span {
        Span::new(self.start as usize, self.end as usize)
    }
}

/// Parses the start line and header section of `buf`, up to and including the empty line.
pub(crate) fn parse_head(
    buf: &[u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
    mut headers: Vec<HeaderEntry>,
) -> Result<Head, Error> {
    let lim = &opts.limits;
    let bare_lf_ok = opts.leniency.bare_lf;

    // §7.5: CRLFs before the start line are ignored (keep-alives on streams).
    let mut pos = 0;
    loop {
        match buf.get(pos..) {
            Some([b'\r', b'\n', ..]) => pos += 2,
            Some([b'\n', ..]) if bare_lf_ok => pos += 1,
            _ => break,
        }
    }
    if pos >= buf.len() {
        return Err(Error::new(ErrorKind::Empty, pos));
    }
    let start = pos;
    let max_end = start.saturating_add(lim.max_message as usize);

    // Reads one line at `pos`: returns (content end, next line start).
    let mut lines_with_cr = 0usize;
    let mut next_line =
        |pos: usize, diags: &mut Vec<Diagnostic>| -> Result<Option<(usize, usize)>, Error> {
            let rest = buf.get(pos..).unwrap_or(&[]);
            let Some(nl) = crate::scan::find_lf(buf, pos).map(|lf| lf - pos) else {
                return Ok(None);
            };
            if nl > 0 && rest.get(nl - 1) == Some(&b'\r') {
                lines_with_cr += 1;
                Ok(Some((pos + nl - 1, pos + nl + 1)))
            } else {
                let e = Error::new(ErrorKind::BareLf, pos + nl);
                if !bare_lf_ok {
                    return Err(e);
                }
                if diags.last().map_or(true, |d| d.kind != ErrorKind::BareLf) {
                    diags.push(e); // once per message is enough to say what was repaired
                }
                Ok(Some((pos + nl, pos + nl + 1)))
            }
        };

    // Start line.
    let Some((sl_end, mut pos)) = next_line(start, diags)? else {
        return Err(missing_empty_line(buf, max_end));
    };
    let sl = buf.get(start..sl_end).unwrap_or(&[]);
    if sl.is_empty() {
        return Err(Error::new(ErrorKind::InvalidStartLine, start));
    }
    let start_line = start_line::parse(sl, start, opts, diags)?;

    // Header lines. Most messages have fewer than 24 headers: one allocation (none when the
    // caller handed a vector in).
    headers.clear();
    headers.reserve(24);
    let mut missing_empty = false;
    let body_start = loop {
        if pos > max_end {
            return Err(Error::new(ErrorKind::MessageTooLarge, max_end));
        }
        let Some((end, next)) = next_line(pos, diags)? else {
            // The input ended without an empty line.
            if !opts.leniency.missing_empty_line || buf.len() > max_end {
                return Err(missing_empty_line(buf, max_end));
            }
            missing_empty = true;
            let end = buf.len();
            if end > pos {
                push_line(buf, pos, end, opts, &mut headers, diags)?;
            }
            break end;
        };
        if end == pos {
            break next; // the empty line
        }
        push_line(buf, pos, end, opts, &mut headers, diags)?;
        pos = next;
    };
    if missing_empty {
        diags.push(Error::new(ErrorKind::MissingEmptyLine, buf.len()));
    }

    let head_bytes = buf.get(start..body_start).unwrap_or(&[]);
    check_bytes(head_bytes, start, lines_with_cr, opts, diags)?;

    let content_length = content_length(buf, &headers, opts, diags)?;
    semantic_checks(buf, &start_line, &headers, body_start, diags);

    Ok(Head {
        start_line,
        start,
        headers,
        body_start,
        content_length,
    })
}

fn missing_empty_line(buf: &[u8], max_end: usize) -> Error {
    if buf.len() > max_end {
        Error::new(ErrorKind::MessageTooLarge, max_end)
    } else {
        Error::new(ErrorKind::MissingEmptyLine, buf.len())
    }
}

/// Adds the header line `buf[pos..end]`: a new header, or a continuation of the last one.
/// Inlined into the header loop: as a call it spent ~17 instructions a line saving and
/// restoring registers.
#[inline(always)]
fn push_line(
    buf: &[u8],
    pos: usize,
    end: usize,
    opts: &ParseOptions,
    headers: &mut Vec<HeaderEntry>,
    diags: &mut Vec<Diagnostic>,
) -> Result<(), Error> {
    let lim = &opts.limits;
    let line = buf.get(pos..end).unwrap_or(&[]);
    let first = line.first().copied().unwrap_or(b' ');

    // A line starting with whitespace continues the previous value (LWS, §7.3.1).
    if is_wsp(first) {
        let Some(last) = headers.last_mut() else {
            return Err(Error::new(ErrorKind::FoldBeforeFirstHeader, pos));
        };
        let content = trim_lws(line);
        if !content.is_empty() {
            let c_start = pos + (content.as_ptr() as usize - line.as_ptr() as usize);
            let c_end = c_start + content.len();
            if last.value.is_empty() {
                last.value = Span::new(c_start, c_end);
            } else {
                last.value = Span::new(last.value.start as usize, c_end);
                last.folded = true;
            }
        }
        last.line_end = end as u32;
        if end - last.name.start as usize > lim.max_header_line as usize {
            return Err(Error::new(
                ErrorKind::HeaderLineTooLong,
                last.name.start as usize,
            ));
        }
        return Ok(());
    }

    if headers.len() >= usize::from(lim.max_headers) {
        return Err(Error::new(ErrorKind::TooManyHeaders, pos));
    }
    if line.len() > lim.max_header_line as usize {
        return Err(Error::new(ErrorKind::HeaderLineTooLong, pos));
    }

    // header-name = token
    let name_len = line.iter().take_while(|&&b| is_token_char(b)).count();
    if name_len == 0 {
        let k = if memchr::memchr(b':', line).is_some() {
            ErrorKind::InvalidHeaderName
        } else {
            ErrorKind::MissingColon
        };
        return Err(Error::new(k, pos));
    }
    if name_len > usize::from(lim.max_header_name) {
        return Err(Error::new(ErrorKind::HeaderNameTooLong, pos));
    }
    // HCOLON = *( SP / HTAB ) ":" SWS. Anything else before the colon (control bytes, other
    // characters) is how parser-differential attacks hide a header from one parser.
    let mut i = name_len;
    while line.get(i).is_some_and(|&b| is_wsp(b)) {
        i += 1;
    }
    match line.get(i) {
        Some(b':') => {}
        Some(&b) if b < 0x20 || b == 0x7f => {
            let e = Error::new(ErrorKind::WhitespaceBeforeColon, pos + i);
            if !opts.leniency.whitespace_before_colon {
                return Err(e);
            }
            while line
                .get(i)
                .is_some_and(|&b| b != b':' && (b <= 0x20 || b == 0x7f))
            {
                i += 1;
            }
            if line.get(i) != Some(&b':') {
                return Err(Error::new(ErrorKind::MissingColon, pos + i));
            }
            diags.push(e);
        }
        Some(_) => {
            let k = if memchr::memchr(b':', line).is_some() {
                ErrorKind::InvalidHeaderName
            } else {
                ErrorKind::MissingColon
            };
            return Err(Error::new(k, pos + i));
        }
        None => return Err(Error::new(ErrorKind::MissingColon, pos + i)),
    }
    let mut v0 = i + 1;
    while line.get(v0).is_some_and(|&b| is_wsp(b)) {
        v0 += 1;
    }
    let mut v1 = line.len();
    while v1 > v0 && line.get(v1 - 1).is_some_and(|&b| is_wsp(b)) {
        v1 -= 1;
    }
    let name = line.get(..name_len).unwrap_or(&[]);
    headers.push(HeaderEntry {
        name: Span::new(pos, pos + name_len),
        value: Span::new(pos + v0, pos + v1),
        line_end: end as u32,
        kind: HeaderName::from_bytes(name),
        folded: false,
    });
    Ok(())
}

/// One pass over the head for bytes no line may hold: control bytes (allowed only escaped by
/// a backslash, as quoted-pair), and CRs that do not end a line.
fn check_bytes(
    head: &[u8],
    base: usize,
    lines_with_cr: usize,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<(), Error> {
    let (bad, crs) = crate::scan::control_scan(head);
    if bad {
        let mut prev = 0u8;
        // quoted-pair exists only in a quoted-string or a comment (RFC 3261 §25.1): track
        // both, per logical line.
        let (mut quoted, mut comment) = (false, 0usize);
        // Past the start line, and past the colon of the current (logical) header line.
        let (mut in_headers, mut in_value, mut noted) = (false, false, false);
        for (i, &b) in head.iter().enumerate() {
            let ctl = (b < 0x20 && b != b'\t' && b != b'\r' && b != b'\n') || b == 0x7f;
            let escaped = prev == b'\\' && (quoted || comment > 0);
            // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
            if ctl && !escaped {
                let e = Error::new(ErrorKind::ControlCharacter, base + i);
                if in_value {
                    if !opts.leniency.control_bytes_in_values {
                        return Err(e);
                    }
                    if !noted {
                        diags.push(e); // the first says what was kept
                        noted = true;
                    }
                } else if !(in_headers && opts.leniency.whitespace_before_colon) {
                    // Before a header's colon only as `push_line` diagnosed it (every header
                    // line it took has its colon).
                    return Err(e);
                }
            }
            let folds = matches!(head.get(i + 1), Some(b' ' | b'\t'));
            match b {
                b'\n' => {
                    in_headers = true;
                    in_value &= folds;
                }
                b':' if in_headers => in_value = true,
                _ => {}
            }
            if !escaped {
                match b {
                    b'"' if comment == 0 => quoted = !quoted,
                    b'(' if !quoted => comment = comment.saturating_add(1),
                    b')' if !quoted => comment = comment.saturating_sub(1),
                    b'\n' if !folds => {
                        (quoted, comment) = (false, 0);
                    }
                    _ => {}
                }
            }
            prev = if escaped { 0 } else { b };
        }
    }
    if crs != lines_with_cr {
        // A CR that is not part of a line ending.
        let mut it = memchr::memchr_iter(b'\r', head);
        let at = it.find(|&p| head.get(p + 1) != Some(&b'\n')).unwrap_or(0);
        let e = Error::new(ErrorKind::BareCr, base + at);
        if !opts.leniency.bare_lf {
            return Err(e);
        }
        diags.push(e);
    }
    Ok(())
}

/// Content-Length = ( "Content-Length" / "l" ) HCOLON 1*DIGIT (§20.14). Several equal values
/// are a diagnostic; different values make the body length unknowable (RFC 4475 §3.3.9).
fn content_length(
    buf: &[u8],
    headers: &[HeaderEntry],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<Option<u32>, Error> {
    let mut found: Option<u32> = None;
    for h in headers
        .iter()
        .filter(|h| h.kind == HeaderName::ContentLength)
    {
        let v = trim_lws(h.value.of(buf));
        if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
            return Err(Error::new(
                ErrorKind::InvalidContentLength,
                h.value.start as usize,
            ));
        }
        let n = match parse_u64(v) {
            Some(n) if n <= u64::from(opts.limits.max_body) => n as u32,
            _ => {
                return Err(Error::new(
                    ErrorKind::ContentLengthOverflow,
                    h.value.start as usize,
                ))
            }
        };
        match found {
            None => found = Some(n),
            Some(prev) if prev == n => diags.push(Error::new(
                ErrorKind::DuplicateHeader,
                h.name.start as usize,
            )),
            Some(_) => {
                return Err(Error::new(
                    ErrorKind::ConflictingContentLength,
                    h.name.start as usize,
                ))
            }
        }
    }
    Ok(found)
}

/// Problems that do not stop a parse: a UAS still needs the message to answer 400 (RFC 4475
/// §3.3). Missing mandatory headers (§8.1.1), duplicated single-instance headers, and a CSeq
/// method that differs from the Request-Line's (§8.1.1.5).
fn semantic_checks(
    buf: &[u8],
    start_line: &StartLine,
    headers: &[HeaderEntry],
    body_start: usize,
    diags: &mut Vec<Diagnostic>,
) {
    // Content-Length duplicates are judged with their values (`content_length`).
    const SINGLE: u128 = super::names::SINGLE_MASK & !(1u128 << (HeaderName::ContentLength as u8));
    // The set as two 64-bit words: a shift of a u128 by a variable amount is a dozen
    // instructions, and this runs once per header of every message.
    const SINGLE_LO: u64 = SINGLE as u64;
    const SINGLE_HI: u64 = (SINGLE >> 64) as u64;
    let (mut lo, mut hi) = (0u64, 0u64);
    for h in headers {
        let k = (h.kind as u8).min(127);
        let bit = 1u64 << (k & 63);
        let (single, seen) = if k < 64 {
            (SINGLE_LO, &mut lo)
        } else {
            (SINGLE_HI, &mut hi)
        };
        if single & *seen & bit != 0 {
            diags.push(Error::new(
                ErrorKind::DuplicateHeader,
                h.name.start as usize,
            ));
        }
        *seen |= bit;
    }
    let seen = u128::from(lo) | (u128::from(hi) << 64);
    for m in [
        HeaderName::To,
        HeaderName::From,
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::Via,
    ] {
        if seen & (1u128 << (m as u8 as u32)) == 0 {
            diags.push(Error::missing(m, body_start.saturating_sub(2)));
        }
    }
    if let StartLine::Request { method, .. } = start_line {
        if let Some(h) = headers.iter().find(|h| h.kind == HeaderName::CSeq) {
            let v = h.value.of(buf);
            let digits = v.iter().take_while(|b| b.is_ascii_digit()).count();
            // Only a CSeq of the right shape is compared; a malformed one is the typed
            // parser's to report.
            if digits == 0 || !v.get(digits).is_some_and(|&b| crate::scan::is_lws(b)) {
                return;
            }
            let cseq_method = trim_lws(v.get(digits..).unwrap_or(&[]));
            // Method names are case-sensitive (§7.1).
            if !cseq_method.is_empty() && cseq_method != method.of(buf) {
                diags.push(Error::new(
                    ErrorKind::CSeqMethodMismatch,
                    h.value.start as usize + (cseq_method.as_ptr() as usize - v.as_ptr() as usize),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    fn strict(b: &[u8]) -> Result<MessageIndex, Error> {
        MessageIndex::parse_datagram(b, &ParseOptions::STRICT)
    }
    fn kind(b: &[u8]) -> ErrorKind {
        strict(b).unwrap_err().kind
    }
    fn with_header(h: &str) -> Vec<u8> {
        format!(
            "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n{h}\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn indexes_a_request() {
        let idx = strict(INVITE).unwrap();
        assert_eq!(idx.headers.len(), 9);
        assert_eq!(idx.headers[0].kind, HeaderName::Via);
        assert_eq!(
            idx.headers[3].value.of(INVITE),
            &b"Alice <sip:alice@atlanta.example.com>;tag=1928301774"[..]
        );
        assert_eq!(idx.content_length, Some(4));
        assert_eq!(idx.body.of(INVITE), b"v=0\n");
        assert_eq!(idx.end as usize, INVITE.len());
        assert!(idx.diagnostics.is_empty());
    }

    #[test]
    fn folds_and_keepalives() {
        let m =
            b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nSubject:\r\n  first\r\n\tsecond  \r\nl: 0\r\n\r\n";
        let idx = strict(m).unwrap();
        assert_eq!(idx.start, 4);
        assert_eq!(idx.headers[0].value.of(m), b"first\r\n\tsecond");
        assert!(idx.headers[0].folded);
    }

    #[test]
    fn datagram_body_rules_of_rfc3261_18_3() {
        // Extra bytes after Content-Length are discarded.
        let mut m = with_header("Content-Length: 0");
        let n = m.len();
        m.extend_from_slice(b"INVITE sip:noise SIP/2.0\r\n\r\n");
        let idx = strict(&m).unwrap();
        assert_eq!(idx.end as usize, n);
        // No Content-Length: body to the end of the datagram.
        let mut m = with_header("X: y");
        m.extend_from_slice(b"body");
        assert_eq!(strict(&m).unwrap().body.len, 4);
        // Short body.
        let mut m = with_header("Content-Length: 10");
        m.extend_from_slice(b"abc");
        assert_eq!(kind(&m), ErrorKind::BodyTooShort);
        let idx = MessageIndex::parse_datagram(&m, &ParseOptions::LIBERAL).unwrap();
        assert_eq!(idx.diagnostics[0].kind, ErrorKind::BodyTooShort);
    }

    #[test]
    fn content_length_classes() {
        for bad in ["-1", "+3", "", "abc", "1 0", "0x10", "3.0"] {
            assert_eq!(
                kind(&with_header(&format!("Content-Length: {bad}"))),
                ErrorKind::InvalidContentLength,
                "{bad:?}"
            );
        }
        for big in [
            "65537",
            "4294967296",
            "18446744073709551616",
            "99999999999999999999999999",
        ] {
            assert_eq!(
                kind(&with_header(&format!("Content-Length: {big}"))),
                ErrorKind::ContentLengthOverflow,
                "{big}"
            );
        }
        assert_eq!(
            kind(&with_header("Content-Length: 0\r\nl: 1")),
            ErrorKind::ConflictingContentLength
        );
        let idx = strict(&with_header("Content-Length: 0\r\nl: 000")).unwrap();
        assert_eq!(idx.diagnostics[0].kind, ErrorKind::DuplicateHeader);
    }

    #[test]
    fn header_line_classes() {
        assert_eq!(kind(&with_header("NoColonHere")), ErrorKind::MissingColon);
        assert_eq!(kind(&with_header(": value")), ErrorKind::InvalidHeaderName);
        assert_eq!(
            kind(&with_header("Bad<Name: v")),
            ErrorKind::InvalidHeaderName
        );
        assert_eq!(
            kind(&with_header("X-A\x0b: v")),
            ErrorKind::WhitespaceBeforeColon
        );
        assert_eq!(
            kind(&with_header("X-A: a\x00b")),
            ErrorKind::ControlCharacter
        );
        assert_eq!(kind(&with_header("X-A: a\rb")), ErrorKind::BareCr);
        assert_eq!(
            kind(&with_header(&format!("{}: v", "N".repeat(300)))),
            ErrorKind::HeaderNameTooLong
        );
        assert_eq!(
            kind(&with_header(&format!("X: {}", "v".repeat(9000)))),
            ErrorKind::HeaderLineTooLong
        );
        let flood: String = (0..300).map(|i| format!("X-{i}: v\r\n")).collect();
        assert_eq!(
            kind(&with_header(flood.trim_end())),
            ErrorKind::TooManyHeaders
        );
        // Legal HCOLON whitespace and an escaped control byte inside a quoted string.
        let idx = strict(&with_header("Subject  \t: a \"q\\\x07\" b")).unwrap();
        assert!(idx.diagnostics.is_empty());
        // Lenient: a control byte before the colon is tolerated with a diagnostic.
        let idx = MessageIndex::parse_datagram(&with_header("X-A\x0b: v"), &ParseOptions::LIBERAL)
            .unwrap();
        assert_eq!(idx.diagnostics[0].kind, ErrorKind::WhitespaceBeforeColon);
    }

    #[test]
    fn line_ending_classes() {
        let lf = b"OPTIONS sip:a@b SIP/2.0\nTo: <sip:a@b>\n\n";
        assert_eq!(kind(lf), ErrorKind::BareLf);
        let idx = MessageIndex::parse_datagram(lf, &ParseOptions::LIBERAL).unwrap();
        assert_eq!(idx.headers.len(), 1);
        assert!(idx.diagnostics.iter().any(|d| d.kind == ErrorKind::BareLf));
        let open = b"OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n";
        assert_eq!(kind(open), ErrorKind::MissingEmptyLine);
        let idx = MessageIndex::parse_datagram(open, &ParseOptions::LIBERAL).unwrap();
        assert!(idx
            .diagnostics
            .iter()
            .any(|d| d.kind == ErrorKind::MissingEmptyLine));
        let open = b"OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b>";
        let idx = MessageIndex::parse_datagram(open, &ParseOptions::LIBERAL).unwrap();
        assert_eq!(idx.headers[0].value.of(open), b"<sip:a@b>");
        assert_eq!(kind(b""), ErrorKind::Empty);
        assert_eq!(kind(b"\r\n\r\n"), ErrorKind::Empty);
        assert_eq!(kind(b" Folded: first\r\n\r\n"), ErrorKind::InvalidMethod);
        assert_eq!(
            kind(b"OPTIONS sip:a@b SIP/2.0\r\n folded\r\n\r\n"),
            ErrorKind::FoldBeforeFirstHeader
        );
    }

    #[test]
    fn truncation_at_every_byte_is_an_error_never_a_panic() {
        for n in 0..INVITE.len() {
            let r = strict(&INVITE[..n]);
            assert!(r.is_err(), "prefix {n} parsed");
            let _ = MessageIndex::parse_datagram(&INVITE[..n], &ParseOptions::LIBERAL);
        }
    }

    #[test]
    fn semantic_problems_are_diagnostics() {
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 INVITE\r\nCSeq: 2 INVITE\r\nl: 0\r\n\r\n";
        let idx = strict(m).unwrap();
        let kinds: Vec<_> = idx.diagnostics.iter().map(|d| d.kind).collect();
        assert!(kinds.contains(&ErrorKind::DuplicateHeader));
        assert!(kinds.contains(&ErrorKind::MissingHeader));
        assert!(kinds.contains(&ErrorKind::CSeqMethodMismatch));
    }

    #[test]
    fn size_limits() {
        let mut opts = ParseOptions::STRICT;
        opts.limits.max_message = 100;
        let mut m = with_header("X: y");
        m.extend_from_slice(&[b'a'; 50]);
        assert_eq!(
            MessageIndex::parse_datagram(&m, &opts).unwrap_err().kind,
            ErrorKind::MessageTooLarge
        );
        let mut opts = ParseOptions::STRICT;
        opts.limits.max_body = 10;
        assert_eq!(
            MessageIndex::parse_datagram(&m, &opts).unwrap_err().kind,
            ErrorKind::BodyTooLarge
        );
    }

    #[test]
    fn rfc3261_25_1_quoted_pair_only_inside_quotes_or_comments() {
        // A backslash outside a quoted-string escapes nothing: the NUL is refused.
        let m = with_header("Call-ID: abc\\\x00def");
        let e = MessageIndex::parse_datagram(&m, &ParseOptions::STRICT).unwrap_err();
        assert_eq!(e.kind, ErrorKind::ControlCharacter);
        // Inside quotes (a display name) or a comment it is a quoted-pair.
        let m = with_header("X-Name: \"a\\\x01b\"");
        assert!(MessageIndex::parse_datagram(&m, &ParseOptions::STRICT).is_ok());
        let m = with_header("Server: x (a\\\x01b)");
        assert!(MessageIndex::parse_datagram(&m, &ParseOptions::STRICT).is_ok());
    }

    /// Lenient parsing keeps control bytes inside header values, with one diagnostic at the
    /// first; the start line, names, and the bytes before a colon stay errors.
    #[test]
    fn control_bytes_in_values_when_lenient() {
        let lenient = |b: &[u8]| MessageIndex::parse_datagram(b, &ParseOptions::LIBERAL);
        let m = with_header("User-Agent: X\x00Y\x07Z\x7f");
        let at = m.windows(2).position(|w| w == b"\x00Y").unwrap();
        let idx = lenient(&m).unwrap();
        let ctl: Vec<_> = idx
            .diagnostics
            .iter()
            .filter(|d| d.kind == ErrorKind::ControlCharacter)
            .collect();
        assert_eq!(ctl.len(), 1);
        assert_eq!(ctl[0].offset as usize, at);
        let ua = idx.headers.iter().find(|h| h.kind == HeaderName::UserAgent);
        assert_eq!(ua.map(|h| h.value.of(&m)), Some(&b"X\x00Y\x07Z\x7f"[..]));
        assert_eq!(kind(&m), ErrorKind::ControlCharacter);
        // A folded continuation is still the value.
        assert!(lenient(&with_header("Subject: a\r\n b\x01c")).is_ok());
        // The start line is not a value.
        let bad = with_header("Subject: a");
        let mut sl = bad.clone();
        sl[9] = 0; // in the Request-URI
        assert!(lenient(&sl).is_err());
        // Before the colon: the whitespace-before-colon repair, not this one.
        let idx = lenient(&with_header("X-A\x0b: v\x00")).unwrap();
        let kinds: Vec<_> = idx.diagnostics.iter().map(|d| d.kind).collect();
        assert!(
            kinds.contains(&ErrorKind::WhitespaceBeforeColon),
            "{kinds:?}"
        );
        assert!(kinds.contains(&ErrorKind::ControlCharacter), "{kinds:?}");
        // A head full of them: one diagnostic (the scan keeps its state per line instead of
        // looking back for each byte).
        let many: String = (0..7)
            .map(|i| format!("X-{i}: {}\r\n", "\x00".repeat(8000)))
            .collect();
        let mut opts = ParseOptions::LIBERAL;
        opts.limits.max_message = 1 << 20;
        let m = with_header(many.trim_end());
        let idx = MessageIndex::parse_datagram(&m, &opts).unwrap();
        assert_eq!(idx.headers.len(), 12);
        assert_eq!(idx.diagnostics.len(), 1);
    }
}
