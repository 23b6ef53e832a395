//! The typed views validation already parsed, kept as spans.
//!
//! Validating a message parses its Request-URI, From, To, CSeq and top Via anyway; keeping
//! where their parts are lets a binding answer `from_.tag` or `via[0].branch` without parsing
//! them again. Spans are offsets into the message buffer.

use crate::header::{CSeq, NameAddr, Via};
use crate::scan::Span;
use crate::uri::{Host, Uri};

/// A URI's parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UriSpans {
    pub text: Span,
    pub scheme: Span,
    pub user: Option<Span>,
    pub password: Option<Span>,
    pub host: Option<Span>,
    pub port: Option<u16>,
    /// The `;...` parameter text.
    pub params: Span,
    /// The text after `?`.
    pub headers: Option<Span>,
}

impl UriSpans {
    pub fn of(buf: &[u8], u: &Uri<'_>) -> Self {
        let w = |s: &[u8]| Span::within(buf, s);
        UriSpans {
            text: w(u.as_bytes()),
            scheme: w(u.scheme_bytes()),
            user: u.user().map(w),
            password: u.password().map(w),
            host: u.host().map(|h: Host<'_>| w(h.as_bytes())),
            port: u.port(),
            params: w(u.params().as_bytes()),
            headers: u.headers_raw().map(w),
        }
    }
}

/// A name-addr's parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NameAddrSpans {
    pub text: Span,
    /// The display name as written (quotes included).
    pub display_name: Option<Span>,
    pub uri: UriSpans,
    /// The header parameter text (after the `>` or the addr-spec).
    pub params: Span,
    pub tag: Option<Span>,
}

impl NameAddrSpans {
    pub fn of(buf: &[u8], n: &NameAddr<'_>) -> Self {
        let w = |s: &[u8]| Span::within(buf, s);
        NameAddrSpans {
            text: w(n.as_bytes()),
            display_name: n.display_name().map(w),
            uri: UriSpans::of(buf, n.uri()),
            params: w(n.params().as_bytes()),
            tag: n.tag().map(w),
        }
    }
}

/// A via-parm's parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ViaSpans {
    pub text: Span,
    pub protocol_name: Span,
    pub protocol_version: Span,
    pub transport: Span,
    pub host: Span,
    pub port: Option<u16>,
    pub params: Span,
    pub branch: Option<Span>,
    pub received: Option<Span>,
    /// `None` absent, `Some(None)` present without a value (RFC 3581).
    pub rport: Option<Option<u16>>,
    pub maddr: Option<Span>,
    pub ttl: Option<u8>,
    pub rfc3261_branch: bool,
}

impl ViaSpans {
    pub fn of(buf: &[u8], v: &Via<'_>) -> Self {
        let w = |s: &[u8]| Span::within(buf, s);
        ViaSpans {
            text: w(v.as_bytes()),
            protocol_name: w(v.protocol_name()),
            protocol_version: w(v.protocol_version()),
            transport: w(v.transport()),
            host: w(v.host().as_bytes()),
            port: v.port(),
            params: w(v.params().as_bytes()),
            branch: v.branch().map(w),
            received: v.received().map(w),
            rport: v.rport(),
            maddr: v.maddr().map(w),
            ttl: v.ttl(),
            rfc3261_branch: v.has_rfc3261_branch(),
        }
    }
}

/// CSeq's parts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CSeqSpans {
    pub seq: u32,
    pub method: Span,
}

impl CSeqSpans {
    pub fn of(buf: &[u8], c: &CSeq<'_>) -> Self {
        CSeqSpans {
            seq: c.seq,
            method: Span::within(buf, c.method),
        }
    }
}

/// What validation learned about the headers every consumer reads. Empty after a lazy parse.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fields {
    pub request_uri: Option<UriSpans>,
    pub from: Option<NameAddrSpans>,
    pub to: Option<NameAddrSpans>,
    pub cseq: Option<CSeqSpans>,
    pub top_via: Option<ViaSpans>,
}
