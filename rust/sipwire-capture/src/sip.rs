//! One SIP message made a row: the fields of the `messages` table, read from the header
//! index through the core's one-pass shortcuts (falling back to the typed parsers), with no
//! allocation. A message that fails to parse is still a row, with the first error's kind.

use sipwire::header::{parse_cseq, parse_name_addr, parse_via_list, tag_fast, top_branch_fast};
use sipwire::message::{HeaderName, MessageIndex, StartLine};
use sipwire::{Error, ErrorKind, ParseOptions};

/// The `messages` columns of one message (borrowing its bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SipRow<'a> {
    /// The request method; `None` for a response.
    pub method: Option<&'a [u8]>,
    /// The status code; `None` for a request.
    pub status: Option<u16>,
    pub call_id: Option<&'a [u8]>,
    pub cseq: Option<u32>,
    pub cseq_method: Option<&'a [u8]>,
    pub from_tag: Option<&'a [u8]>,
    pub to_tag: Option<&'a [u8]>,
    /// The top Via's branch.
    pub branch: Option<&'a [u8]>,
    /// The message's length in bytes.
    pub size: u32,
    /// The first error met reading the message or one of these fields.
    pub error: Option<ErrorKind>,
    /// The body, and the first Content-Type value (raw), for the SDP stage.
    pub body: &'a [u8],
    pub content_type: Option<&'a [u8]>,
}

/// Whether `payload` starts like a SIP message: a request line ending in ` SIP/2.0` or a
/// status line starting `SIP/2.0 ` (RFC 3261 §7.1, §7.2), judged on its first line only.
/// HTTP, RTP, DNS and the like fail here, so they never become rows.
pub fn looks_like_sip(payload: &[u8]) -> bool {
    let line_end = memchr::memchr(b'\n', payload.get(..1024).unwrap_or(payload));
    let Some(end) = line_end else {
        return false;
    };
    let line = payload.get(..end).unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = trim_end(line);
    // SIP-Version is case-insensitive (RFC 3261 §7.1).
    if line.len() > 8
        && line
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case(b"SIP/2.0 "))
    {
        return true;
    }
    // Request-Line = Method SP Request-URI SP SIP-Version; the method is a token.
    let Some(first_sp) = memchr::memchr(b' ', line) else {
        return false;
    };
    let method_ok = first_sp > 0
        && line
            .get(..first_sp)
            .is_some_and(|m| m.iter().all(|&b| sipwire::scan::is_token_char(b)));
    method_ok
        && line
            .len()
            .checked_sub(8)
            .and_then(|at| line.get(at..))
            .is_some_and(|s| s.eq_ignore_ascii_case(b" SIP/2.0"))
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn first_error(row: &mut SipRow<'_>, kind: ErrorKind) {
    if row.error.is_none() {
        row.error = Some(kind);
    }
}

/// Reads a row from a message parsed as a datagram.
pub fn datagram_row<'a>(buf: &'a [u8], opts: &ParseOptions) -> SipRow<'a> {
    match MessageIndex::parse_datagram(buf, opts) {
        Ok(index) => indexed_row(buf, &index, opts),
        Err(e) => failed_row(buf, e),
    }
}

/// The row of a message that did not frame or index: its size and the error.
pub fn failed_row(buf: &[u8], e: Error) -> SipRow<'_> {
    let mut row = SipRow {
        size: u32::try_from(buf.len()).unwrap_or(u32::MAX),
        error: Some(e.kind),
        ..SipRow::default()
    };
    // The start line may still be good (a header or the body was bad): keep what it says.
    if let Some(end) = memchr::memchr(b'\n', buf) {
        let line = buf.get(..end).unwrap_or(&[]);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(b"SIP/2.0 ") {
            row.status = rest
                .get(..3)
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| d.parse().ok())
                .filter(|s| (100..=699).contains(s));
        } else if let Some(sp) = memchr::memchr(b' ', line) {
            row.method = line.get(..sp).filter(|m| !m.is_empty());
        }
    }
    row
}

/// Reads a row from a message whose index is known (`buf` holds the message and the spans of
/// `index` are offsets into it).
pub fn indexed_row<'a>(buf: &'a [u8], index: &MessageIndex, opts: &ParseOptions) -> SipRow<'a> {
    let span = index.span();
    let mut row = SipRow {
        size: span.len,
        body: index.body.of(buf),
        ..SipRow::default()
    };
    match index.start_line {
        StartLine::Request { method, .. } => row.method = Some(method.of(buf)),
        StartLine::Response { status, .. } => row.status = Some(status),
    }
    let (mut via, mut from, mut to, mut cseq) = (None, None, None, None);
    for h in &index.headers {
        let slot = match h.kind {
            HeaderName::Via => &mut via,
            HeaderName::From => &mut from,
            HeaderName::To => &mut to,
            HeaderName::CSeq => &mut cseq,
            HeaderName::CallId => {
                if row.call_id.is_none() {
                    row.call_id = Some(trim_end(h.value.of(buf))).filter(|v| !v.is_empty());
                }
                continue;
            }
            HeaderName::ContentType => {
                if row.content_type.is_none() {
                    row.content_type = Some(h.value.of(buf));
                }
                continue;
            }
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(h.value.of(buf));
        }
    }
    let mut diags = Vec::new();
    if let Some(v) = cseq {
        match parse_cseq(v, opts, &mut diags) {
            Ok(c) => {
                row.cseq = Some(c.seq);
                row.cseq_method = Some(c.method);
            }
            Err(e) => first_error(&mut row, e.kind),
        }
    }
    let mut tag_of = |value: Option<&'a [u8]>, error: &mut Option<ErrorKind>| {
        let v = value?;
        match tag_fast(v, opts) {
            Some(tag) => tag,
            None => match parse_name_addr(v, opts, &mut diags) {
                Ok(n) => n.tag(),
                Err(e) => {
                    error.get_or_insert(e.kind);
                    None
                }
            },
        }
    };
    row.from_tag = tag_of(from, &mut row.error);
    row.to_tag = tag_of(to, &mut row.error);
    if let Some(v) = via {
        row.branch = match top_branch_fast(v, opts) {
            Some(b) => b,
            None => match parse_via_list(v, opts, &mut diags).next() {
                Some(Ok(via)) => via.branch(),
                Some(Err(e)) => {
                    first_error(&mut row, e.kind);
                    None
                }
                None => None,
            },
        };
    }
    if row.call_id.is_none() {
        first_error(&mut row, ErrorKind::MissingHeader);
    }
    row
}
