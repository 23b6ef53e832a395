//! What the correlator reads from one message: the start line, Call-ID, CSeq, the From and To
//! tags and the top Via, each through its typed parser, and nothing else. Results are spans
//! of the message buffer, so they outlive no borrow and cost no allocation.

use std::net::IpAddr;

use crate::header::{parse_cseq, parse_name_addr, parse_via_list};
use crate::message::{HeaderName, MessageIndex, StartLine};
use crate::scan::Span;
use crate::sdp::{Direction, Hold, SessionDescription};
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
        Method::ALL
            .iter()
            .find(|(_, n)| n.as_bytes() == m)
            .map_or(Method::Other, |(k, _)| *k)
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
    pub call_id: Span,
    pub from_tag: Span,
    pub to_tag: Span,
    pub branch: Span,
    /// The branch carries the RFC 3261 magic cookie and more (§8.1.1.7).
    pub rfc3261: bool,
    pub via_host: Span,
    pub via_port: Option<u16>,
    /// The whole top via-parm (the RFC 2543 key).
    pub via: Span,
    pub content_type: Option<Span>,
}

impl Facts {
    pub(crate) fn is_request(&self) -> bool {
        self.status.is_none()
    }
}

/// Reads the facts of a parsed message; `None` when it lacks a Call-ID, a CSeq or a top Via
/// the typed parsers accept (it cannot be correlated).
pub(crate) fn read(
    buf: &[u8],
    idx: &MessageIndex,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Option<Facts> {
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
    let call_id = call_id.filter(|s| !s.is_empty())?;
    let w = |s: &[u8]| Span::within(buf, s);

    let cs = parse_cseq(cseq?.of(buf), opts, diags).ok()?;
    let (status, method, method_name) = match idx.start_line {
        StartLine::Request { method, .. } => (None, Method::from_bytes(method.of(buf)), method),
        StartLine::Response { status, .. } => {
            (Some(status), Method::from_bytes(cs.method), w(cs.method))
        }
    };

    let v = parse_via_list(via?.of(buf), opts, diags).next()?.ok()?;
    let branch = v.branch().unwrap_or(&[]);
    let tag = |value: Option<Span>, diags: &mut Vec<Diagnostic>| {
        value
            .and_then(|s| parse_name_addr(s.of(buf), opts, diags).ok())
            .and_then(|n| n.tag())
            .map_or(Span::default(), w)
    };
    Some(Facts {
        status,
        method,
        method_name,
        cseq: cs.seq,
        call_id,
        from_tag: tag(from, diags),
        to_tag: tag(to, diags),
        branch: w(branch),
        rfc3261: v.has_rfc3261_branch(),
        via_host: w(v.host().as_bytes()),
        via_port: v.port(),
        via: w(v.as_bytes()),
        content_type: ctype,
    })
}

/// An address and port RTP is sent to, from an SDP `c=` and `m=` line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RtpEndpoint {
    /// The connection address as written (an IP address, or a name).
    pub address: Box<str>,
    pub port: u16,
}

impl RtpEndpoint {
    /// The address as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.parse().ok()
    }
}

/// One `m=` section of a description, as far as the correlator cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    /// `audio`, `video`, `image` ...
    pub media: Box<str>,
    /// `None` for a disabled stream (port 0) or one without `c=`.
    pub rtp: Option<RtpEndpoint>,
    pub direction: Direction,
    pub hold: Hold,
}

/// The `application/sdp` body of a message (or the first SDP part of a multipart body,
/// RFC 5621), read into stream records. `None` when there is none or it does not parse.
pub(crate) fn sdp_streams(
    buf: &[u8],
    idx: &MessageIndex,
    content_type: Option<Span>,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<StreamInfo>> {
    let body = idx.body.of(buf);
    if body.is_empty() {
        return None;
    }
    let ct = content_type?.of(buf);
    let end = memchr::memchr(b';', ct).unwrap_or(ct.len());
    let mt = crate::scan::trim_lws(ct.get(..end).unwrap_or(&[]));
    let sdp = if mt.eq_ignore_ascii_case(b"application/sdp") {
        body
    } else if mt.len() > 10
        && mt
            .get(..10)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"multipart/"))
    {
        let boundary = crate::body::boundary_param(ct)?;
        let mp = crate::body::Multipart::parse(body, boundary, opts).ok()?;
        mp.find(b"application/sdp")?.body
    } else {
        return None;
    };
    let sd = SessionDescription::parse(sdp, opts, diags).ok()?;
    let streams = sd
        .media()
        .take(16)
        .map(|m| StreamInfo {
            media: String::from_utf8_lossy(m.kind()).into(),
            rtp: m.rtp_endpoint().map(|e| RtpEndpoint {
                address: String::from_utf8_lossy(e.address).into(),
                port: e.port,
            }),
            direction: m.direction(),
            hold: m.hold(),
        })
        .collect();
    Some(streams)
}
