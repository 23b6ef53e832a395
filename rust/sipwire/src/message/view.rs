//! [`Message`]: a buffer and its index, answering questions about the message.

use std::borrow::Cow;

use super::index::{HeaderEntry, MessageIndex};
use super::names::HeaderName;
use super::start_line::StartLine;
use crate::error::Error;
use crate::limits::ParseOptions;
use crate::scan::{eq_ignore_case, CommaSplit, Span};

/// A parsed message: the input buffer and its [`MessageIndex`] (owned, or borrowed with
/// `I = &MessageIndex` when the index is stored elsewhere).
#[derive(Clone, Debug)]
pub struct Message<'a, I: AsRef<MessageIndex> = MessageIndex> {
    buf: &'a [u8],
    index: I,
}

impl AsRef<MessageIndex> for MessageIndex {
    fn as_ref(&self) -> &MessageIndex {
        self
    }
}

impl<'a> Message<'a> {
    /// Parses a datagram in strict or lenient mode and validates the typed headers every
    /// consumer reads (Request-URI, Via, From, To, Contact, CSeq, Call-ID, Max-Forwards ...).
    pub fn parse(buf: &'a [u8], opts: &ParseOptions) -> Result<Self, Error> {
        Ok(Message {
            buf,
            index: MessageIndex::parse(buf, opts)?,
        })
    }

    /// Frames and indexes only: the typed headers are parsed when first asked for.
    pub fn parse_lazy(buf: &'a [u8], opts: &ParseOptions) -> Result<Self, Error> {
        Ok(Message {
            buf,
            index: MessageIndex::parse_datagram(buf, opts)?,
        })
    }
}

impl<'a, I: AsRef<MessageIndex>> Message<'a, I> {
    pub fn new(buf: &'a [u8], index: I) -> Self {
        Message { buf, index }
    }

    #[inline]
    pub fn index(&self) -> &MessageIndex {
        self.index.as_ref()
    }

    pub fn into_index(self) -> I {
        self.index
    }

    /// The whole input buffer.
    #[inline]
    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// The message's own bytes, exactly as received (keep-alives before it and datagram
    /// bytes after it excluded).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.index().span().of(self.buf)
    }

    #[inline]
    pub fn bytes_of(&self, span: Span) -> &'a [u8] {
        span.of(self.buf)
    }

    pub fn is_request(&self) -> bool {
        self.index().is_request()
    }

    /// The Request-Line method, `None` for a response.
    pub fn method(&self) -> Option<&'a [u8]> {
        match self.index().start_line {
            StartLine::Request { method, .. } => Some(method.of(self.buf)),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written (without `<>` a lenient parse stripped), `None` for a response.
    pub fn request_uri(&self) -> Option<&'a [u8]> {
        match self.index().start_line {
            StartLine::Request { uri, .. } => Some(uri.of(self.buf)),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code, `None` for a request.
    pub fn status(&self) -> Option<u16> {
        match self.index().start_line {
            StartLine::Response { status, .. } => Some(status),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase, `None` for a request.
    pub fn reason(&self) -> Option<&'a [u8]> {
        match self.index().start_line {
            StartLine::Response { reason, .. } => Some(reason.of(self.buf)),
            StartLine::Request { .. } => None,
        }
    }

    pub fn version(&self) -> &'a [u8] {
        match self.index().start_line {
            StartLine::Request { version, .. } | StartLine::Response { version, .. } => {
                version.of(self.buf)
            }
        }
    }

    pub fn body(&self) -> &'a [u8] {
        self.index().body.of(self.buf)
    }

    pub fn headers(&self) -> &[HeaderEntry] {
        &self.index().headers
    }

    /// Every value of the named header (full or compact name, any case), in wire order. For
    /// list headers (Via, Contact, Route, Allow, ...) each comma-separated item is one value.
    pub fn values(&self, name: &[u8]) -> HeaderValues<'a, '_> {
        let kind = HeaderName::from_bytes(name);
        HeaderValues {
            buf: self.buf,
            headers: self.headers().iter(),
            kind,
            name: if kind == HeaderName::Other {
                Some(name.to_vec())
            } else {
                None
            },
            items: None,
        }
    }

    /// Every value of a known header.
    pub fn values_of(&self, kind: HeaderName) -> HeaderValues<'a, '_> {
        HeaderValues {
            buf: self.buf,
            headers: self.headers().iter(),
            kind,
            name: None,
            items: None,
        }
    }

    /// The first value of the named header.
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.values(name).next()
    }

    /// The first header line of a known kind.
    #[inline]
    pub fn first(&self, kind: HeaderName) -> Option<&HeaderEntry> {
        self.headers().iter().find(|h| h.kind == kind)
    }

    /// The value of the first header line of a known kind (a whole line, not split).
    #[inline]
    pub fn first_value(&self, kind: HeaderName) -> Option<&'a [u8]> {
        self.first(kind).map(|h| h.value.of(self.buf))
    }

    /// Call-ID, trimmed.
    pub fn call_id(&self) -> Option<&'a [u8]> {
        self.first_value(HeaderName::CallId)
    }

    pub fn content_length(&self) -> Option<u32> {
        self.index().content_length
    }
}

/// Iterator over the values of one header name, see [`Message::values`].
pub struct HeaderValues<'a, 'i> {
    buf: &'a [u8],
    headers: core::slice::Iter<'i, HeaderEntry>,
    kind: HeaderName,
    name: Option<Vec<u8>>,
    items: Option<CommaSplit<'a>>,
}

impl<'a> Iterator for HeaderValues<'a, '_> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if let Some(items) = &mut self.items {
                match items.next() {
                    Some(Ok((_, item))) => return Some(item),
                    Some(Err(_)) | None => self.items = None,
                }
            }
            let h = self.headers.next()?;
            let matches = match &self.name {
                None => h.kind == self.kind,
                Some(n) => h.kind == HeaderName::Other && eq_ignore_case(h.name.of(self.buf), n),
            };
            if !matches {
                continue;
            }
            let v = h.value.of(self.buf);
            if h.kind.is_list() && memchr::memchr(b',', v).is_some() {
                self.items = Some(CommaSplit::new(v));
                continue;
            }
            return Some(v);
        }
    }
}

/// A header value with each fold (`CRLF 1*WSP`, with the whitespace around it) replaced by
/// one SP, as RFC 3261 §7.3.1 allows.
pub fn unfold(v: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\n', v).is_none() {
        return Cow::Borrowed(v);
    }
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        if b == b'\r' || b == b'\n' {
            while out.last().is_some_and(|&c| c == b' ' || c == b'\t') {
                out.pop();
            }
            i = crate::scan::skip_lws(v, i);
            out.push(b' ');
        } else {
            out.push(b);
            i += 1;
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &[u8] = b"INVITE sip:bob@b SIP/2.0\r\n\
v: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2\r\n\
Via: SIP/2.0/UDP c;branch=z9hG4bK3\r\n\
To: <sip:bob@b>\r\nFrom: \"A, B\" <sip:a@a>;tag=1\r\ni: cid@a\r\nCSeq: 1 INVITE\r\n\
X-Custom: one\r\nx-custom: two, three\r\nSubject: a\r\n b\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn values_split_list_headers_only() {
        let m = Message::parse_lazy(M, &ParseOptions::STRICT).unwrap();
        let vias: Vec<_> = m.values(b"VIA").collect();
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[1], b"SIP/2.0/UDP b;branch=z9hG4bK2");
        assert_eq!(m.get(b"v"), Some(&b"SIP/2.0/UDP a;branch=z9hG4bK1"[..]));
        assert_eq!(m.get(b"from"), Some(&b"\"A, B\" <sip:a@a>;tag=1"[..]));
        let custom: Vec<_> = m.values(b"X-CUSTOM").collect();
        assert_eq!(custom, vec![&b"one"[..], &b"two, three"[..]]);
        assert_eq!(m.call_id(), Some(&b"cid@a"[..]));
        assert_eq!(m.get(b"Call-ID"), m.get(b"I"));
        assert_eq!(m.get(b"nope"), None);
        assert_eq!(unfold(m.get(b"subject").unwrap()), &b"a b"[..]);
        assert_eq!(m.method(), Some(&b"INVITE"[..]));
        assert_eq!(m.as_bytes(), M);
    }
}
