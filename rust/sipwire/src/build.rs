//! Serialization and builders.
//!
//! A parsed message that was not changed serializes to its input, byte for byte: the Python
//! side keeps the input and returns it. Changes go through [`Editor`], which copies every
//! untouched header line verbatim and writes only what changed, keeping Content-Length right.
//! New messages come from [`RequestBuilder`] and [`response_to`] (RFC 3261 §8.1.1, §8.2.6).
//!
//! Every name and value handed in is checked: a CR, LF or NUL would let a caller's data inject
//! headers or a body (`ForbiddenCharacter`); names and methods must be tokens.

use crate::error::{Error, ErrorKind};
use crate::message::{HeaderName, Message, MessageIndex, StartLine};
use crate::scan::is_token;

/// Refuses CR, LF and NUL in a value handed to a builder (header injection).
pub fn check_value(v: &[u8]) -> Result<(), Error> {
    match v.iter().position(|&b| b == b'\r' || b == b'\n' || b == 0) {
        Some(p) => Err(Error::new(ErrorKind::ForbiddenCharacter, p)),
        None => Ok(()),
    }
}

/// A header name handed to a builder must be a token.
pub fn check_name(n: &[u8]) -> Result<(), Error> {
    check_value(n)?;
    if !is_token(n) {
        let p = n
            .iter()
            .position(|&b| !crate::scan::is_token_char(b))
            .unwrap_or(0);
        return Err(Error::new(ErrorKind::InvalidValue, p));
    }
    Ok(())
}

fn check_uri(u: &[u8]) -> Result<(), Error> {
    check_value(u)?;
    if u.is_empty() {
        return Err(Error::new(ErrorKind::InvalidValue, 0));
    }
    match u.iter().position(|&b| b <= b' ' || b == 0x7f) {
        Some(p) => Err(Error::new(ErrorKind::InvalidValue, p)),
        None => Ok(()),
    }
}

fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn push_content_length(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(n.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Whether a header named `entry` (of kind `entry_kind`) is the header a change names: by
/// kind for known headers (so compact and full forms match), by name otherwise.
fn is_named(entry: &[u8], entry_kind: HeaderName, kind: HeaderName, name: &[u8]) -> bool {
    if kind == HeaderName::Other {
        entry_kind == HeaderName::Other && entry.eq_ignore_ascii_case(name)
    } else {
        entry_kind == kind
    }
}

/// Changes to a parsed message, applied in one copy by [`Editor::build`].
pub struct Editor<'a> {
    buf: &'a [u8],
    index: &'a MessageIndex,
    start_line: Option<Vec<u8>>,
    /// Per original header: `None` keep, `Some(None)` remove, `Some(Some(v))` new value.
    changes: Vec<Option<Option<Vec<u8>>>>,
    top: Vec<(Vec<u8>, Vec<u8>)>,
    bottom: Vec<(Vec<u8>, Vec<u8>)>,
    body: Option<Vec<u8>>,
}

impl<'a> Editor<'a> {
    pub fn new<I: AsRef<MessageIndex>>(msg: &'a Message<'a, I>) -> Self {
        Self::from_parts(msg.buf(), msg.index())
    }

    pub fn from_parts(buf: &'a [u8], index: &'a MessageIndex) -> Self {
        Editor {
            buf,
            index,
            start_line: None,
            changes: vec![None; index.headers.len()],
            top: Vec::new(),
            bottom: Vec::new(),
            body: None,
        }
    }

    /// Adds a header after the existing ones (or before them with `first`, as a proxy adds
    /// its Via, RFC 3261 §16.6 step 8).
    pub fn add(&mut self, name: &[u8], value: &[u8], first: bool) -> Result<&mut Self, Error> {
        check_name(name)?;
        check_value(value)?;
        let h = (name.to_vec(), value.to_vec());
        if first {
            self.top.push(h);
        } else {
            self.bottom.push(h);
        }
        Ok(self)
    }

    /// Replaces the value of the first header of that name and removes the others; adds the
    /// header at the end when there is none.
    pub fn replace(&mut self, name: &[u8], value: &[u8]) -> Result<&mut Self, Error> {
        check_name(name)?;
        check_value(value)?;
        let kind = HeaderName::from_bytes(name);
        let mut done = false;
        for (i, h) in self.index.headers.iter().enumerate() {
            if is_named(h.name.of(self.buf), h.kind, kind, name) {
                if let Some(c) = self.changes.get_mut(i) {
                    *c = Some(if done { None } else { Some(value.to_vec()) });
                }
                done = true;
            }
        }
        if !done {
            self.bottom.push((name.to_vec(), value.to_vec()));
        }
        Ok(self)
    }

    /// Removes every header of that name (full or compact, any case). Returns how many.
    pub fn remove(&mut self, name: &[u8]) -> usize {
        let kind = HeaderName::from_bytes(name);
        let mut n = 0;
        for (i, h) in self.index.headers.iter().enumerate() {
            if is_named(h.name.of(self.buf), h.kind, kind, name) {
                if let Some(c) = self.changes.get_mut(i) {
                    *c = Some(None);
                }
                n += 1;
            }
        }
        let keep =
            |(n2, _): &(Vec<u8>, Vec<u8>)| !is_named(n2, HeaderName::from_bytes(n2), kind, name);
        self.top.retain(keep);
        self.bottom.retain(keep);
        n
    }

    /// Replaces the body; Content-Length follows it.
    pub fn body(&mut self, body: &[u8]) -> &mut Self {
        self.body = Some(body.to_vec());
        self
    }

    /// Replaces the start line (`METHOD uri SIP/2.0` or `SIP/2.0 code reason`).
    pub fn start_line(&mut self, line: &[u8]) -> Result<&mut Self, Error> {
        check_value(line)?;
        self.start_line = Some(line.to_vec());
        Ok(self)
    }

    /// Writes the changed message.
    pub fn build(&self) -> Vec<u8> {
        let buf = self.buf;
        let idx = self.index;
        let body: &[u8] = self.body.as_deref().unwrap_or_else(|| idx.body.of(buf));
        let mut out = Vec::with_capacity(idx.span().len as usize + 64 + body.len());
        match &self.start_line {
            Some(l) => out.extend_from_slice(l),
            None => out.extend_from_slice(start_line_span(idx).of(buf)),
        }
        out.extend_from_slice(b"\r\n");
        for (n, v) in &self.top {
            push_header(&mut out, n, v);
        }
        let body_changed = self.body.is_some();
        let mut wrote_cl = false;
        for (h, change) in idx.headers.iter().zip(&self.changes) {
            let is_cl = h.kind == HeaderName::ContentLength;
            match change {
                Some(None) => continue,
                Some(Some(v)) => push_header(&mut out, h.name.of(buf), v),
                None if is_cl && body_changed => {
                    if !wrote_cl {
                        push_content_length(&mut out, body.len());
                    }
                }
                None => {
                    out.extend_from_slice(h.line().of(buf));
                    out.extend_from_slice(b"\r\n");
                }
            }
            wrote_cl |= is_cl;
        }
        for (n, v) in &self.bottom {
            push_header(&mut out, n, v);
        }
        if body_changed && !wrote_cl {
            push_content_length(&mut out, body.len());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out
    }
}

fn start_line_span(idx: &MessageIndex) -> crate::Span {
    let end = match idx.start_line {
        StartLine::Request { version, .. } => version.end(),
        StartLine::Response { reason, .. } => reason.end(),
    };
    crate::Span::new(idx.start as usize, end)
}

/// Builds a new request (RFC 3261 §8.1.1). `build` checks that the mandatory headers are
/// there; `build_unchecked` does not (test rigs and fuzzers send broken requests on purpose).
#[derive(Clone, Debug, Default)]
pub struct RequestBuilder {
    start: Vec<u8>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
}

impl RequestBuilder {
    pub fn new(method: &[u8], uri: &[u8]) -> Result<Self, Error> {
        check_name(method)?;
        check_uri(uri).map_err(|e| e.shifted(method.len() + 1))?;
        let mut start = Vec::with_capacity(method.len() + uri.len() + 9);
        start.extend_from_slice(method);
        start.push(b' ');
        start.extend_from_slice(uri);
        start.extend_from_slice(b" SIP/2.0");
        Ok(RequestBuilder {
            start,
            ..Default::default()
        })
    }

    pub fn header(&mut self, name: &[u8], value: &[u8]) -> Result<&mut Self, Error> {
        check_name(name)?;
        check_value(value)?;
        self.headers.push((name.to_vec(), value.to_vec()));
        Ok(self)
    }

    pub fn body(&mut self, body: &[u8]) -> &mut Self {
        self.body = body.to_vec();
        self
    }

    /// The request, after checking To, From, Call-ID, CSeq, Max-Forwards and Via (§8.1.1).
    pub fn build(&self) -> Result<Vec<u8>, Error> {
        for m in [
            HeaderName::To,
            HeaderName::From,
            HeaderName::CallId,
            HeaderName::CSeq,
            HeaderName::MaxForwards,
            HeaderName::Via,
        ] {
            if !self
                .headers
                .iter()
                .any(|(n, _)| HeaderName::from_bytes(n) == m)
            {
                return Err(Error::new(ErrorKind::MissingHeader, 0));
            }
        }
        Ok(self.build_unchecked())
    }

    /// The request as given, with Content-Length set from the body.
    pub fn build_unchecked(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        out.extend_from_slice(&self.start);
        out.extend_from_slice(b"\r\n");
        for (n, v) in &self.headers {
            if HeaderName::from_bytes(n) != HeaderName::ContentLength {
                push_header(&mut out, n, v);
            }
        }
        push_content_length(&mut out, self.body.len());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// A response to `request` (RFC 3261 §8.2.6.2): the Vias in order, From, Call-ID and CSeq
/// copied; To copied with `to_tag` added when it has none and the status is not 100; for a
/// 100, Timestamp copied (§8.2.6.1); for 101-299, Record-Route copied (§12.1.1).
/// `extra` headers and `body` follow; Content-Length is set.
pub fn response_to<I: AsRef<MessageIndex>>(
    request: &Message<'_, I>,
    status: u16,
    reason: &[u8],
    to_tag: Option<&[u8]>,
    extra: &[(&[u8], &[u8])],
    body: &[u8],
) -> Result<Vec<u8>, Error> {
    if !(100..=699).contains(&status) {
        return Err(Error::new(ErrorKind::InvalidValue, 0));
    }
    check_value(reason)?;
    if let Some(t) = to_tag {
        check_value(t)?;
        if !is_token(t) {
            return Err(Error::new(ErrorKind::InvalidValue, 0));
        }
    }
    if !request.is_request() {
        return Err(Error::new(ErrorKind::InvalidValue, 0));
    }
    let buf = request.buf();
    let mut out = Vec::with_capacity(request.as_bytes().len() / 2 + 128 + body.len());
    out.extend_from_slice(b"SIP/2.0 ");
    out.extend_from_slice(status.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\r\n");
    for h in request.headers() {
        let copy = match h.kind {
            HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => true,
            HeaderName::Timestamp => status == 100,
            HeaderName::RecordRoute => (101..300).contains(&status),
            HeaderName::To => {
                let v = h.value.of(buf);
                let has_tag = to_has_tag(v);
                match to_tag {
                    Some(t) if !has_tag && status != 100 => {
                        out.extend_from_slice(h.name.of(buf));
                        out.extend_from_slice(b": ");
                        out.extend_from_slice(&crate::message::unfold(v));
                        out.extend_from_slice(b";tag=");
                        out.extend_from_slice(t);
                        out.extend_from_slice(b"\r\n");
                        false
                    }
                    _ => true,
                }
            }
            _ => false,
        };
        if copy {
            out.extend_from_slice(h.line().of(buf));
            out.extend_from_slice(b"\r\n");
        }
    }
    for (n, v) in extra {
        check_name(n)?;
        check_value(v)?;
        if HeaderName::from_bytes(n) != HeaderName::ContentLength {
            push_header(&mut out, n, v);
        }
    }
    push_content_length(&mut out, body.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(out)
}

/// Whether a To/From value carries a tag parameter (outside the `<>` and quotes).
fn to_has_tag(v: &[u8]) -> bool {
    // Parameters follow the `>` when there is one; otherwise the addr-spec's own `;`.
    let after = match memchr::memrchr(b'>', v) {
        Some(p) => v.get(p + 1..).unwrap_or(&[]),
        None => v,
    };
    after.split(|&b| b == b';').skip(1).any(|p| {
        let name = p.split(|&b| b == b'=').next().unwrap_or(&[]);
        crate::scan::trim_lws(name).eq_ignore_ascii_case(b"tag")
    })
}

/// The reason phrase RFC 3261 §21 (and later RFCs) give a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        199 => "Early Dialog Terminated",
        200 => "OK",
        202 => "Accepted",
        204 => "No Notification",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        412 => "Conditional Request Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        580 => "Precondition Failure",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParseOptions;

    const REQ: &[u8] = b"INVITE sip:bob@b SIP/2.0\r\n\
Via: SIP/2.0/UDP p1;branch=z9hG4bK1\r\n\
Via: SIP/2.0/UDP p2;branch=z9hG4bK2\r\n\
Record-Route: <sip:p1;lr>\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@b>\r\nf: <sip:a@a>;tag=9\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\n\
Timestamp: 54\r\nX-Odd:   spaced   \r\nContent-Length: 3\r\n\r\nabc";

    fn parse(b: &[u8]) -> Message<'_> {
        Message::parse_lazy(b, &ParseOptions::STRICT).unwrap()
    }

    #[test]
    fn unchanged_edit_is_byte_exact() {
        let m = parse(REQ);
        assert_eq!(Editor::new(&m).build(), REQ);
    }

    #[test]
    fn edits_keep_untouched_bytes_and_content_length() {
        let m = parse(REQ);
        let mut e = Editor::new(&m);
        e.add(b"Via", b"SIP/2.0/UDP p0;branch=z9hG4bK0", true)
            .unwrap();
        e.replace(b"max-forwards", b"69").unwrap();
        e.remove(b"Timestamp");
        e.body(b"hello!");
        let out = e.build();
        let s = String::from_utf8(out.clone()).unwrap();
        assert!(s.starts_with("INVITE sip:bob@b SIP/2.0\r\nVia: SIP/2.0/UDP p0;branch=z9hG4bK0\r\nVia: SIP/2.0/UDP p1"));
        assert!(s.contains("Max-Forwards: 69\r\n"));
        assert!(!s.contains("Timestamp"));
        assert!(s.contains("X-Odd:   spaced   \r\n"));
        assert!(s.ends_with("Content-Length: 6\r\n\r\nhello!"));
        let m2 = parse(&out);
        assert_eq!(m2.body(), b"hello!");
        assert_eq!(m2.content_length(), Some(6));
    }

    #[test]
    fn builders_refuse_injection() {
        let m = parse(REQ);
        let mut e = Editor::new(&m);
        assert_eq!(
            e.add(b"X", b"a\r\nVia: evil", false).err().map(|x| x.kind),
            Some(ErrorKind::ForbiddenCharacter)
        );
        assert_eq!(
            e.add(b"X\n", b"a", false).err().map(|x| x.kind),
            Some(ErrorKind::ForbiddenCharacter)
        );
        assert_eq!(
            e.add(b"X Y", b"a", false).err().map(|x| x.kind),
            Some(ErrorKind::InvalidValue)
        );
        assert_eq!(
            e.replace(b"Subject", b"a\0b").err().map(|x| x.offset),
            Some(1)
        );
        assert!(RequestBuilder::new(b"INV ITE", b"sip:a").is_err());
        assert!(RequestBuilder::new(b"INVITE", b"sip:a b").is_err());
        assert!(RequestBuilder::new(b"INVITE", b"sip:a\r\n").is_err());
        assert!(response_to(&m, 200, b"OK\r\nX: y", None, &[], b"").is_err());
        assert!(response_to(&m, 200, b"OK", Some(b"a;b"), &[], b"").is_err());
        assert!(response_to(&m, 700, b"OK", None, &[], b"").is_err());
    }

    #[test]
    fn request_builder_checks_mandatory_headers() {
        let mut b = RequestBuilder::new(b"OPTIONS", b"sip:a@b").unwrap();
        b.header(b"Via", b"SIP/2.0/UDP h;branch=z9hG4bK1").unwrap();
        assert_eq!(b.build().unwrap_err().kind, ErrorKind::MissingHeader);
        for (n, v) in [
            ("To", "<sip:a@b>"),
            ("From", "<sip:c@d>;tag=1"),
            ("Call-ID", "x"),
            ("CSeq", "1 OPTIONS"),
            ("Max-Forwards", "70"),
        ] {
            b.header(n.as_bytes(), v.as_bytes()).unwrap();
        }
        b.body(b"xyz");
        let out = b.build().unwrap();
        let m = Message::parse(&out, &ParseOptions::STRICT).unwrap();
        assert_eq!(m.body(), b"xyz");
        assert!(m.index().diagnostics.is_empty());
    }

    #[test]
    fn response_per_rfc3261_8_2_6() {
        let m = parse(REQ);
        let out = response_to(
            &m,
            180,
            b"Ringing",
            Some(b"t1"),
            &[(b"Contact", b"<sip:bob@10.0.0.2>")],
            b"",
        )
        .unwrap();
        let s = String::from_utf8(out.clone()).unwrap();
        assert_eq!(
            s,
            "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP p2;branch=z9hG4bK2\r\n\
Record-Route: <sip:p1;lr>\r\nTo: Bob <sip:bob@b>;tag=t1\r\nf: <sip:a@a>;tag=9\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\n\
Contact: <sip:bob@10.0.0.2>\r\nContent-Length: 0\r\n\r\n"
        );
        let trying =
            String::from_utf8(response_to(&m, 100, b"Trying", Some(b"t1"), &[], b"").unwrap())
                .unwrap();
        assert!(trying.contains("To: Bob <sip:bob@b>\r\n"));
        assert!(trying.contains("Timestamp: 54\r\n"));
        assert!(!trying.contains("Record-Route"));
        // A To that already has a tag keeps it.
        let tagged = b"BYE sip:a SIP/2.0\r\nTo: <sip:b>;tag=old\r\nContent-Length: 0\r\n\r\n";
        let m = parse(tagged);
        let out = String::from_utf8(response_to(&m, 200, b"OK", Some(b"new"), &[], b"").unwrap())
            .unwrap();
        assert!(out.contains("To: <sip:b>;tag=old\r\n"));
    }
}
