//! Transaction keys (RFC 3261 §17.1.3, §17.2.3).
//!
//! A [`KeyRef`] borrows the parts of a parsed message: it costs no allocation. The table
//! stores a [`TxnKey`], which copies those parts into one buffer when a transaction is made.
//! Both hash through [`KeyRef::hash_into`], so a lookup hashes spans' bytes and nothing else.
//!
//! - Responses (§17.1.3): the top Via branch and the CSeq method.
//! - Requests with an RFC 3261 branch (§17.2.3): branch, sent-by and method, where an ACK
//!   looks for its INVITE.
//! - Requests without one (no branch, or a branch that is only `z9hG4bK`, RFC 4475 §3.2.1):
//!   the RFC 2543 rules of §17.2.3: Request-URI, From tag, Call-ID, CSeq and top Via; the To
//!   tag is compared by the layer (an ACK's To tag is the one of the response, not of the
//!   INVITE).

use std::hash::Hasher;

use crate::message::{HeaderName, Message, MessageIndex, StartLine};

/// A transaction key borrowing a message's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRef<'a> {
    /// RFC 3261: branch, sent-by (empty for client keys) and method.
    Branch {
        server: bool,
        branch: &'a [u8],
        host: &'a [u8],
        port: Option<u16>,
        method: &'a [u8],
    },
    /// RFC 2543 (server only).
    Rfc2543 {
        request_uri: &'a [u8],
        from_tag: &'a [u8],
        call_id: &'a [u8],
        cseq: u32,
        method: &'a [u8],
        via: &'a [u8],
    },
}

/// The method a request is matched under: an ACK belongs to its INVITE (§17.2.3).
fn match_method(m: &[u8]) -> &[u8] {
    if m == b"ACK" {
        b"INVITE"
    } else {
        m
    }
}

impl<'a> KeyRef<'a> {
    /// The server key of a received request (validated by `MessageIndex::parse`, which keeps
    /// the top Via, From, CSeq and Request-URI spans). `None` without a top Via.
    pub fn for_request(buf: &'a [u8], idx: &MessageIndex) -> Option<KeyRef<'a>> {
        let StartLine::Request { method, uri, .. } = idx.start_line else {
            return None;
        };
        let method = match_method(method.of(buf));
        let via = idx.fields().top_via?;
        if via.rfc3261_branch {
            return Some(KeyRef::Branch {
                server: true,
                branch: via.branch?.of(buf),
                host: via.host.of(buf),
                port: via.port,
                method,
            });
        }
        let call_id = idx
            .headers
            .iter()
            .find(|h| h.kind == HeaderName::CallId)
            .map_or(&[][..], |h| h.value.of(buf));
        Some(KeyRef::Rfc2543 {
            request_uri: uri.of(buf),
            from_tag: idx
                .fields()
                .from
                .and_then(|f| f.tag)
                .map_or(&[][..], |t| t.of(buf)),
            call_id,
            cseq: idx.fields().cseq.map_or(0, |c| c.seq),
            method,
            via: via.text.of(buf),
        })
    }

    /// The client key of a response, or of a request this side sends: top Via branch (it
    /// must carry the magic cookie) and CSeq method.
    pub fn for_client(buf: &'a [u8], idx: &MessageIndex) -> Option<KeyRef<'a>> {
        let via = idx.fields().top_via?;
        if !via.rfc3261_branch {
            return None;
        }
        let method = idx.fields().cseq?.method.of(buf);
        Some(KeyRef::Branch {
            server: false,
            branch: via.branch?.of(buf),
            host: &[],
            port: None,
            method,
        })
    }

    /// The same key for another method (a CANCEL looks for its INVITE, §9.2).
    #[must_use]
    pub fn with_method(self, m: &'a [u8]) -> KeyRef<'a> {
        match self {
            KeyRef::Branch {
                server,
                branch,
                host,
                port,
                ..
            } => KeyRef::Branch {
                server,
                branch,
                host,
                port,
                method: m,
            },
            KeyRef::Rfc2543 {
                request_uri,
                from_tag,
                call_id,
                cseq,
                via,
                ..
            } => KeyRef::Rfc2543 {
                request_uri,
                from_tag,
                call_id,
                cseq,
                method: m,
                via,
            },
        }
    }

    pub fn is_rfc2543(&self) -> bool {
        matches!(self, KeyRef::Rfc2543 { .. })
    }

    /// Feeds the key to a hasher. Branch and host are case-insensitive (§7.3.1, §19.1.4).
    pub fn hash_into<H: Hasher>(&self, h: &mut H) {
        match *self {
            KeyRef::Branch {
                server,
                branch,
                host,
                port,
                method,
            } => {
                h.write_u8(u8::from(server));
                hash_lower(h, branch);
                hash_lower(h, host);
                h.write_u32(port.map_or(u32::MAX, u32::from));
                h.write(method);
                h.write_u8(0xff);
            }
            KeyRef::Rfc2543 {
                request_uri,
                from_tag,
                call_id,
                cseq,
                method,
                via,
            } => {
                h.write_u8(2);
                for part in [request_uri, from_tag, call_id, method, via] {
                    h.write(part);
                    h.write_u8(0xff);
                }
                h.write_u32(cseq);
            }
        }
    }

    /// Whether two keys name the same transaction.
    pub fn matches(&self, other: &KeyRef<'_>) -> bool {
        match (*self, *other) {
            (
                KeyRef::Branch {
                    server: s1,
                    branch: b1,
                    host: h1,
                    port: p1,
                    method: m1,
                },
                KeyRef::Branch {
                    server: s2,
                    branch: b2,
                    host: h2,
                    port: p2,
                    method: m2,
                },
            ) => {
                s1 == s2
                    && p1 == p2
                    && m1 == m2
                    && b1.eq_ignore_ascii_case(b2)
                    && h1.eq_ignore_ascii_case(h2)
            }
            (
                KeyRef::Rfc2543 {
                    request_uri: u1,
                    from_tag: f1,
                    call_id: c1,
                    cseq: n1,
                    method: m1,
                    via: v1,
                },
                KeyRef::Rfc2543 {
                    request_uri: u2,
                    from_tag: f2,
                    call_id: c2,
                    cseq: n2,
                    method: m2,
                    via: v2,
                },
            ) => n1 == n2 && m1 == m2 && u1 == u2 && f1 == f2 && c1 == c2 && v1 == v2,
            _ => false,
        }
    }

    /// An owned copy for the table: one allocation.
    pub fn to_owned(&self) -> TxnKey {
        let parts: [&[u8]; 5] = match *self {
            KeyRef::Branch {
                branch,
                host,
                method,
                ..
            } => [branch, host, method, &[], &[]],
            KeyRef::Rfc2543 {
                request_uri,
                from_tag,
                call_id,
                method,
                via,
                ..
            } => [request_uri, from_tag, call_id, method, via],
        };
        let mut buf = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0u32; 5];
        for (e, p) in ends.iter_mut().zip(parts) {
            buf.extend_from_slice(p);
            *e = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        }
        let (tag, server, port, cseq) = match *self {
            KeyRef::Branch { server, port, .. } => (0, server, port, 0),
            KeyRef::Rfc2543 { cseq, .. } => (1, true, None, cseq),
        };
        TxnKey {
            tag,
            server,
            port,
            cseq,
            ends,
            buf: buf.into_boxed_slice(),
        }
    }
}

/// Hashes bytes ASCII-lowercased, a stack chunk at a time.
fn hash_lower<H: Hasher>(h: &mut H, s: &[u8]) {
    let mut chunk = [0u8; 64];
    for part in s.chunks(64) {
        let out = chunk.get_mut(..part.len()).unwrap_or(&mut []);
        for (o, &b) in out.iter_mut().zip(part) {
            *o = b.to_ascii_lowercase();
        }
        h.write(out);
    }
    h.write_u8(0xff);
}

/// An owned transaction key: the parts of a [`KeyRef`] in one buffer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TxnKey {
    tag: u8,
    server: bool,
    port: Option<u16>,
    cseq: u32,
    ends: [u32; 5],
    buf: Box<[u8]>,
}

impl TxnKey {
    fn part(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0) as usize
        };
        let end = self.ends.get(i).copied().unwrap_or(0) as usize;
        self.buf.get(start..end).unwrap_or(&[])
    }

    pub fn as_ref(&self) -> KeyRef<'_> {
        if self.tag == 0 {
            KeyRef::Branch {
                server: self.server,
                branch: self.part(0),
                host: self.part(1),
                port: self.port,
                method: self.part(2),
            }
        } else {
            KeyRef::Rfc2543 {
                request_uri: self.part(0),
                from_tag: self.part(1),
                call_id: self.part(2),
                cseq: self.cseq,
                method: self.part(3),
                via: self.part(4),
            }
        }
    }
}

/// The To tag of a message (empty when none).
pub(crate) fn to_tag<'a, I: AsRef<MessageIndex>>(m: &Message<'a, I>) -> &'a [u8] {
    m.index()
        .fields()
        .to
        .and_then(|t| t.tag)
        .map_or(&[][..], |t| m.bytes_of(t))
}
