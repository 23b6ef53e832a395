//! Stage 1 of the pipeline: what the correlator reads from one message. The start line,
//! Call-ID, CSeq, the From and To tags and URIs and the top Via, each through its typed parser,
//! and nothing else (the SDP body is read later, by the call stage, only when it is wanted).
//! Results are spans of the message buffer, so they outlive no borrow and cost no allocation.
//! A call remembers its From, To and Via values with their parse ([`Seen`]): a value repeated
//! byte for byte is parsed once.
//!
//! The top Via's sent-by is also put in the form the transaction stage compares
//! ([`TopVia::port`], [`TopVia::ip`]): see `txn.rs` for the tolerances.

use std::net::Ipv6Addr;

use super::Reason;
use crate::header::via::MAGIC_COOKIE;
use crate::header::{addr_fast, parse_cseq, parse_name_addr, parse_via_list, via_fast};
use crate::message::{HeaderName, MessageIndex, StartLine};
use crate::scan::Span;
use crate::uri::Host;
use crate::{Diagnostic, ParseOptions};

/// A SIP method (RFC 3261 §7.1 and the extension methods of RFC 3262, 3265, 3311, 3428,
/// 3515, 3903, 6086). Method names are case-sensitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Cancel,
    Bye,
    Register,
    Options,
    Prack,
    Update,
    Info,
    Message,
    Subscribe,
    Notify,
    Refer,
    Publish,
    /// Any other token; its name is in the message.
    Other,
}

impl Method {
    const ALL: [(Method, &'static str); 14] = [
        (Method::Invite, "INVITE"),
        (Method::Ack, "ACK"),
        (Method::Cancel, "CANCEL"),
        (Method::Bye, "BYE"),
        (Method::Register, "REGISTER"),
        (Method::Options, "OPTIONS"),
        (Method::Prack, "PRACK"),
        (Method::Update, "UPDATE"),
        (Method::Info, "INFO"),
        (Method::Message, "MESSAGE"),
        (Method::Subscribe, "SUBSCRIBE"),
        (Method::Notify, "NOTIFY"),
        (Method::Refer, "REFER"),
        (Method::Publish, "PUBLISH"),
    ];

    pub fn from_bytes(m: &[u8]) -> Method {
        // A match on the bytes: one length switch and one compare, not a walk of `ALL`.
        match m {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"CANCEL" => Method::Cancel,
            b"BYE" => Method::Bye,
            b"REGISTER" => Method::Register,
            b"OPTIONS" => Method::Options,
            b"PRACK" => Method::Prack,
            b"UPDATE" => Method::Update,
            b"INFO" => Method::Info,
            b"MESSAGE" => Method::Message,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"REFER" => Method::Refer,
            b"PUBLISH" => Method::Publish,
            _ => Method::Other,
        }
    }

    /// The name, empty for `Other`.
    pub fn as_str(self) -> &'static str {
        Method::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |(_, n)| n)
    }

    /// The method a message is matched under: ACK and CANCEL belong to their INVITE
    /// (RFC 3261 §17.2.3, §9.2).
    pub fn transaction_method(self) -> Method {
        match self {
            Method::Ack | Method::Cancel => Method::Invite,
            m => m,
        }
    }
}

/// The parts of one message the correlator uses, as spans of its buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Facts {
    /// `None` for a request.
    pub status: Option<u16>,
    /// Request method, or the CSeq method of a response.
    pub method: Method,
    /// The method's name as written (for `Method::Other`).
    pub method_name: Span,
    pub cseq: u32,
    pub from_tag: Span,
    pub to_tag: Span,
    /// The From and To URIs (empty when the name-addr does not parse).
    pub from_uri: Span,
    pub to_uri: Span,
    /// The top Via, spans made spans of the message.
    pub via: TopVia,
    pub content_type: Option<Span>,
}

impl Facts {
    pub(crate) fn is_request(&self) -> bool {
        self.status.is_none()
    }
}

/// Where the headers the correlator reads are, with the start line and CSeq read: what is
/// needed to find the message's call before its From, To and Via are parsed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head {
    pub status: Option<u16>,
    pub method: Method,
    pub method_name: Span,
    pub cseq: u32,
    pub call_id: Span,
    /// The first Via, From and To header values (empty when absent).
    pub via: Span,
    pub from: Option<Span>,
    pub to: Option<Span>,
    pub content_type: Option<Span>,
}

/// The start line, Call-ID and CSeq of a parsed message, and where its first Via, From and To
/// are; the reason it cannot be correlated when it lacks a Call-ID, a CSeq the typed parser
/// accepts, or a Via, or when it is a response to an ACK.
pub(crate) fn head(
    buf: &[u8],
    idx: &MessageIndex,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<Head, Reason> {
    let (mut via, mut from, mut to, mut call_id, mut cseq, mut ctype) =
        (None, None, None, None, None, None);
    for h in &idx.headers {
        let slot = match h.kind {
            HeaderName::Via => &mut via,
            HeaderName::From => &mut from,
            HeaderName::To => &mut to,
            HeaderName::CallId => &mut call_id,
            HeaderName::CSeq => &mut cseq,
            HeaderName::ContentType => &mut ctype,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(h.value);
        }
    }
    let call_id = call_id.filter(|s| !s.is_empty()).ok_or(Reason::NoCallId)?;
    let cseq = cseq.ok_or(Reason::BadCSeq)?;
    let cs = parse_cseq(cseq.of(buf), opts, diags).map_err(|_| Reason::BadCSeq)?;
    let via = via.ok_or(Reason::NoVia)?;
    let (status, method, method_name) = match idx.start_line {
        StartLine::Request { method, .. } => (None, Method::from_bytes(method.of(buf)), method),
        // An ACK is never answered (RFC 3261 §17.1.1.3, §13.2.2.4): a "response" to one would
        // otherwise be taken for its INVITE's, whose transaction key an ACK shares.
        StartLine::Response { .. } if cs.method == b"ACK" => return Err(Reason::AckResponse),
        StartLine::Response { status, .. } => (
            Some(status),
            Method::from_bytes(cs.method),
            Span::within(buf, cs.method),
        ),
    };
    Ok(Head {
        status,
        method,
        method_name,
        cseq: cs.seq,
        call_id,
        via,
        from,
        to,
        content_type: ctype,
    })
}

/// What the correlator keeps of the top via-parm; spans relative to the Via header value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TopVia {
    pub branch: Span,
    /// The branch carries the RFC 3261 magic cookie and more (§8.1.1.7).
    pub rfc3261: bool,
    /// The sent-by host as written.
    pub host: Span,
    /// The sent-by port, the transport's default when absent: 5061 for TLS, 5060 otherwise
    /// (RFC 3261 §18.2.1, §19.1.2).
    pub port: u16,
    /// An IPv6 sent-by as its 16 bytes (so `[2001:DB8::1]` and `[2001:db8:0:0:0:0:0:1]`
    /// compare equal, RFC 5118 §4.2); `None` for names and IPv4 addresses.
    pub ip: Option<[u8; 16]>,
    /// The parse needed a lenient repair (it left a diagnostic).
    pub repaired: bool,
}

impl TopVia {
    /// The same with its spans moved by `base` (from the value to the message).
    fn at(self, base: Span) -> TopVia {
        TopVia {
            branch: at(base, self.branch),
            host: at(base, self.host),
            ..self
        }
    }
}

/// The first via-parm of a Via header value, through the typed parser (RFC 3261 §20.42);
/// `None` when it does not parse.
pub(crate) fn top_via(
    value: &[u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Option<TopVia> {
    // The common shape in one pass (`header::via_fast` answers as the typed parser would).
    if let Some(v) = via_fast(value, opts) {
        let branch = v.branch.unwrap_or(&[]);
        let w = |s: &[u8]| Span::within(value, s);
        return Some(TopVia {
            branch: w(branch),
            rfc3261: branch.len() > MAGIC_COOKIE.len() && branch.starts_with(MAGIC_COOKIE),
            host: w(v.host),
            port: v.port.unwrap_or(default_port(v.transport)),
            ip: None,
            repaired: false,
        });
    }
    let mark = diags.len();
    let v = parse_via_list(value, opts, diags).next()?.ok()?;
    let repaired = diags.len() > mark;
    let w = |s: &[u8]| Span::within(value, s);
    let ip = match v.host() {
        Host::Ipv6 { address, .. } => std::str::from_utf8(address)
            .ok()
            .and_then(|a| a.parse::<Ipv6Addr>().ok())
            .map(|a| a.octets()),
        _ => None,
    };
    Some(TopVia {
        branch: w(v.branch().unwrap_or(&[])),
        rfc3261: v.has_rfc3261_branch(),
        host: w(v.host().as_bytes()),
        port: v.port().unwrap_or(default_port(v.transport())),
        ip,
        repaired,
    })
}

/// The port of a sent-by without one: 5061 for TLS, 5060 otherwise (RFC 3261 §18.2.1,
/// §19.1.2; RFC 4168 for TLS over SCTP).
fn default_port(transport: &[u8]) -> u16 {
    if transport.eq_ignore_ascii_case(b"TLS") || transport.eq_ignore_ascii_case(b"TLS-SCTP") {
        5061
    } else {
        5060
    }
}

/// The `tag` parameter and the URI of a From or To value (RFC 3261 §19.3, §20.20), relative
/// to the value; both empty when the name-addr does not parse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Addr {
    pub tag: Span,
    pub uri: Span,
    /// The parse needed a lenient repair (it left a diagnostic).
    pub repaired: bool,
}

pub(crate) fn addr(value: &[u8], opts: &ParseOptions, diags: &mut Vec<Diagnostic>) -> Addr {
    // The common shape in one pass (`header::addr_fast` answers as `parse_name_addr` would).
    if let Some(a) = addr_fast(value, opts) {
        return Addr {
            tag: a.tag.map_or(Span::default(), |t| Span::within(value, t)),
            uri: Span::within(value, a.uri),
            repaired: false,
        };
    }
    let mark = diags.len();
    match parse_name_addr(value, opts, diags) {
        Ok(n) => Addr {
            tag: n.tag().map_or(Span::default(), |t| Span::within(value, t)),
            uri: Span::within(value, n.uri().as_bytes()),
            repaired: diags.len() > mark,
        },
        Err(_) => Addr::default(),
    }
}

/// A span relative to `base`'s value made a span of the message (empty stays empty).
pub(crate) fn at(base: Span, rel: Span) -> Span {
    if rel.is_empty() {
        Span::default()
    } else {
        rel.shifted(base.start as usize)
    }
}

impl Facts {
    /// The facts of a message from its head, top Via and From/To (relative to their values).
    pub(crate) fn new(h: &Head, via: TopVia, from: Addr, to: Addr) -> Facts {
        let (fv, tv) = (h.from.unwrap_or_default(), h.to.unwrap_or_default());
        Facts {
            status: h.status,
            method: h.method,
            method_name: h.method_name,
            cseq: h.cseq,
            from_tag: at(fv, from.tag),
            to_tag: at(tv, to.tag),
            from_uri: at(fv, from.uri),
            to_uri: at(tv, to.uri),
            via: via.at(h.via),
            content_type: h.content_type,
        }
    }
}

/// Values remembered per call, and the bytes they take.
const SEEN_VALUES: usize = 8;
const SEEN_BYTES: usize = 1024;

/// What one remembered value parsed to (spans relative to the value).
#[derive(Clone, Copy, Debug)]
enum Parsed {
    Addr(Addr),
    Via(TopVia),
}

/// The From, To and Via values of a call's recent messages with what their typed parse gave.
/// The messages of a call repeat them byte for byte (a response copies its request's, §8.2.6.2;
/// From and To stay the same through a dialog, §12.2.1.1), and the same bytes parse the same,
/// so each distinct value is parsed once. Bounded: past `SEEN_VALUES` values or `SEEN_BYTES`
/// bytes it starts over.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    bytes: Vec<u8>,
    values: [(u32, u32, Option<Parsed>); SEEN_VALUES],
    n: usize,
}

impl Seen {
    /// Forgets every value and frees the buffer (a call that ended expects few messages).
    pub(crate) fn release(&mut self) {
        if self.bytes.capacity() > 0 {
            *self = Seen::default();
        }
    }

    /// Whether it holds a buffer (values, or room for them).
    #[cfg(test)]
    pub(crate) fn holds(&self) -> bool {
        self.bytes.capacity() > 0
    }

    /// Forgets every value (the buffer is kept).
    pub(crate) fn clear(&mut self) {
        self.n = 0;
        self.bytes.clear();
    }

    fn find(&self, value: &[u8], via: bool) -> Option<Parsed> {
        self.values
            .iter()
            .take(self.n)
            .find_map(|&(start, len, p)| {
                let p = p?;
                let same = len as usize == value.len()
                    && matches!(p, Parsed::Via(_)) == via
                    && self.bytes.get(start as usize..(start + len) as usize) == Some(value);
                same.then_some(p)
            })
    }

    fn remember(&mut self, value: &[u8], p: Parsed) {
        if value.len() > SEEN_BYTES / 4 {
            return;
        }
        if self.n >= SEEN_VALUES || self.bytes.len() + value.len() > SEEN_BYTES {
            self.n = 0;
            self.bytes.clear();
        }
        if self.bytes.capacity() == 0 {
            self.bytes.reserve_exact(SEEN_BYTES / 2);
        }
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(value);
        if let Some(slot) = self.values.get_mut(self.n) {
            *slot = (start, value.len() as u32, Some(p));
            self.n += 1;
        }
    }

    /// The top Via of `value`, remembered or parsed.
    pub(crate) fn top_via(
        &mut self,
        value: &[u8],
        opts: &ParseOptions,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<TopVia> {
        if let Some(Parsed::Via(v)) = self.find(value, true) {
            return Some(v);
        }
        let v = top_via(value, opts, diags)?;
        self.remember(value, Parsed::Via(v));
        Some(v)
    }

    /// The tag and URI of a From or To `value`, remembered or parsed.
    pub(crate) fn addr(
        &mut self,
        value: &[u8],
        opts: &ParseOptions,
        diags: &mut Vec<Diagnostic>,
    ) -> Addr {
        if let Some(Parsed::Addr(a)) = self.find(value, false) {
            return a;
        }
        let a = addr(value, opts, diags);
        self.remember(value, Parsed::Addr(a));
        a
    }

    /// Remembers what a message of a call made just now parsed to.
    pub(crate) fn remember_parts(
        &mut self,
        buf: &[u8],
        h: &Head,
        via: TopVia,
        from: Addr,
        to: Addr,
    ) {
        self.remember(h.via.of(buf), Parsed::Via(via));
        if let Some(v) = h.from {
            self.remember(v.of(buf), Parsed::Addr(from));
        }
        if let Some(v) = h.to {
            self.remember(v.of(buf), Parsed::Addr(to));
        }
    }
}

/// The top Via and the From and To tags and URIs of a message (relative to their values),
/// through `seen` when the message's call is known; `None` when the top Via does not parse.
pub(crate) fn parts(
    buf: &[u8],
    h: &Head,
    mut seen: Option<&mut Seen>,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Option<(TopVia, Addr, Addr)> {
    let via = match seen.as_deref_mut() {
        Some(s) => s.top_via(h.via.of(buf), opts, diags)?,
        None => top_via(h.via.of(buf), opts, diags)?,
    };
    let mut addr_of = |v: Option<Span>| match (v, seen.as_deref_mut()) {
        (None, _) => Addr::default(),
        (Some(v), Some(s)) => s.addr(v.of(buf), opts, diags),
        (Some(v), None) => addr(v.of(buf), opts, diags),
    };
    let from = addr_of(h.from);
    let to = addr_of(h.to);
    Some((via, from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_round_trip() {
        for (m, name) in Method::ALL {
            assert_eq!(Method::from_bytes(name.as_bytes()), m);
            assert_eq!(m.as_str(), name);
        }
        for other in [&b"invite"[..], b"INVITEX", b"", b"FOO"] {
            assert_eq!(Method::from_bytes(other), Method::Other);
        }
    }

    const NAME_ADDRS: [&[u8]; 7] = [
        b"sipp <sip:sipp@10.20.0.1:5060>;tag=28431SIPpTag001",
        b"service <sip:service@192.168.10.20:5060>",
        b"service <sip:service@192.168.10.20:5060>;tag=28431SIPpTag011",
        // One byte apart from the one before: a different tag.
        b"service <sip:service@192.168.10.20:5060>;tag=28431SIPpTag012",
        // The URI does not parse: no tag, remembered as such.
        b"Bob <sip:bob@[::1>;tag=lost",
        b"<sip:a@b;tag=uri-param>;Tag=header-param",
        b"sip:c@d;tag=addr-spec",
    ];
    const VIAS: [&[u8]; 3] = [
        b"SIP/2.0/UDP 10.20.0.1:5060;branch=z9hG4bK-28431-1-0",
        b"SIP/2.0/UDP h.example;branch=z9hG4bK1, SIP/2.0/TCP other.example",
        b"SIP/2.0/UDP 10.20.0.1:5060;branch=old-2543",
    ];

    /// Remembered values give exactly what a fresh parse gives, through several turns of the
    /// bounded store; a value asked for as the other kind is parsed as that kind.
    #[test]
    fn seen_gives_what_the_parsers_give() {
        let opts = ParseOptions::LIBERAL;
        let d = &mut Vec::new();
        let mut seen = Seen::default();
        for round in 0..4 {
            for v in NAME_ADDRS {
                assert_eq!(seen.addr(v, &opts, d), addr(v, &opts, d), "{round}");
            }
            for v in VIAS {
                assert_eq!(seen.top_via(v, &opts, d), top_via(v, &opts, d), "{round}");
                assert_eq!(seen.addr(v, &opts, d), addr(v, &opts, d), "{round}");
            }
            assert!(seen.n <= SEEN_VALUES && seen.bytes.len() <= SEEN_BYTES);
        }
        let tags: Vec<&[u8]> = NAME_ADDRS
            .iter()
            .map(|v| seen.addr(v, &opts, d).tag.of(v))
            .collect();
        let want: [&[u8]; 7] = [
            b"28431SIPpTag001",
            b"",
            b"28431SIPpTag011",
            b"28431SIPpTag012",
            b"",
            b"header-param",
            b"addr-spec",
        ];
        assert_eq!(tags, want);
        assert_eq!(seen.top_via(b"SIP/2.0/UDP", &opts, d), None);
        let v = seen
            .top_via(VIAS[1], &opts, d)
            .map(|v| (v.host.of(VIAS[1]), v.port));
        assert_eq!(v, Some((&b"h.example"[..], 5060)));
    }

    /// A value seen before is found without parsing (it is in the store), and the store
    /// starts over rather than grow.
    #[test]
    fn seen_is_bounded() {
        let opts = ParseOptions::LIBERAL;
        let d = &mut Vec::new();
        let mut seen = Seen::default();
        seen.addr(NAME_ADDRS[0], &opts, d);
        seen.addr(NAME_ADDRS[0], &opts, d);
        assert_eq!(seen.n, 1);
        for i in 0..100u32 {
            let v = format!("<sip:u{i}@example.com>;tag={i}");
            let t = seen.addr(v.as_bytes(), &opts, d).tag;
            assert_eq!(t.of(v.as_bytes()), i.to_string().as_bytes());
            assert!(seen.n <= SEEN_VALUES && seen.bytes.len() <= SEEN_BYTES);
        }
        let long = format!("<sip:{}@example.com>;tag=x", "u".repeat(SEEN_BYTES));
        assert_eq!(
            seen.addr(long.as_bytes(), &opts, d).tag.of(long.as_bytes()),
            b"x"
        );
        assert!(seen.bytes.len() <= SEEN_BYTES);
    }
}
