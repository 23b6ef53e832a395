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
        let mut out = ViaSpans {
            text: w(v.as_bytes()),
            protocol_name: w(v.protocol_name()),
            protocol_version: w(v.protocol_version()),
            transport: w(v.transport()),
            host: w(v.host().as_bytes()),
            port: v.port(),
            params: w(v.params().as_bytes()),
            ..ViaSpans::default()
        };
        // One walk over the parameters; the first of each name counts, as in `Params::get`.
        let (mut branch, mut received, mut maddr) = (None, None, None);
        let (mut rport, mut ttl) = (false, false);
        for (name, value) in v.params().iter() {
            let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
            if is(b"branch") {
                branch.get_or_insert(value);
            } else if is(b"received") {
                received.get_or_insert(value);
            } else if is(b"maddr") {
                maddr.get_or_insert(value);
            } else if is(b"rport") {
                rport = true;
            } else if is(b"ttl") {
                ttl = true;
            }
        }
        let branch = branch.flatten();
        out.branch = branch.map(w);
        out.received = received.flatten().map(w);
        out.maddr = maddr.flatten().map(w);
        // RFC 3261 §8.1.1.7: the magic cookie and something after it.
        out.rfc3261_branch = branch.is_some_and(|b| b.len() > 7 && b.starts_with(b"z9hG4bK"));
        if rport {
            out.rport = v.rport();
        }
        if ttl {
            out.ttl = v.ttl();
        }
        out
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

impl Fields {
    pub const EMPTY: Fields = Fields {
        request_uri: None,
        from: None,
        to: None,
        cseq: None,
        top_via: None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::parse_via;
    use crate::ParseOptions;

    #[test]
    fn via_spans_agree_with_the_accessors() {
        for text in [
            "SIP/2.0/UDP h;branch=z9hG4bK1;rport;received=192.0.2.1",
            "SIP/2.0/TCP [2001:db8::1]:5060;BRANCH=z9hG4bKx;rport=7;ttl=16;maddr=239.1.1.1",
            "SIP/2.0/UDP h;x=1;branch=z9hG4bK2;Branch=z9hG4bK3",
            "SIP/2.0/UDP h;branch=z9hG4bK",
            "SIP/2.0/UDP h",
            "SIP/2.0/UDP h ; received = 10.0.0.1 ; branch = z9hG4bKq",
        ] {
            let buf = text.as_bytes();
            let v = parse_via(buf, &ParseOptions::STRICT, &mut Vec::new()).unwrap();
            let s = ViaSpans::of(buf, &v);
            assert_eq!(s.branch.map(|x| x.of(buf)), v.branch(), "{text}");
            assert_eq!(s.received.map(|x| x.of(buf)), v.received(), "{text}");
            assert_eq!(s.maddr.map(|x| x.of(buf)), v.maddr(), "{text}");
            assert_eq!(s.rport, v.rport(), "{text}");
            assert_eq!(s.ttl, v.ttl(), "{text}");
            assert_eq!(s.rfc3261_branch, v.has_rfc3261_branch(), "{text}");
            assert_eq!(s.host.of(buf), v.host().as_bytes(), "{text}");
        }
    }
}
