//! One dialog (RFC 3261 §12): its id and state, route set, CSeq numbers, and the requests
//! built inside it.

use crate::build::RequestBuilder;
use crate::error::{Error, ErrorKind};
use crate::header::parse_contact;
use crate::header::parse_name_addr;
use crate::limits::ParseOptions;
use crate::message::{unfold, HeaderName, Message, MessageIndex};

/// Call-ID, local tag, remote tag (§12). A remote tag may be empty (RFC 2543 peers).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: Vec<u8>,
    pub local_tag: Vec<u8>,
    pub remote_tag: Vec<u8>,
}

/// §12: early (made by a tagged 1xx), confirmed (by a 2xx), terminated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DialogState {
    Early,
    Confirmed,
    Terminated,
}

/// A request built in a dialog, and where to send it: the URI of the first Route, or the
/// Request-URI when there is none (§8.1.2; resolve it per RFC 3263).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutRequest {
    pub bytes: Vec<u8>,
    pub next_hop: Vec<u8>,
}

/// The dialog state of §12.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    pub id: DialogId,
    pub state: DialogState,
    /// This side sent the request that made the dialog, so it owns the Call-ID (§14.1).
    pub is_uac: bool,
    /// This side's From (UAC) or To (UAS) value, tag included, as written.
    pub local_party: Vec<u8>,
    pub remote_party: Vec<u8>,
    /// The last CSeq this side used (0: none yet).
    pub local_seq: u32,
    /// The last CSeq the peer used.
    pub remote_seq: Option<u32>,
    /// The peer's Contact URI.
    pub remote_target: Vec<u8>,
    /// Route set, in the order requests carry it (name-addr values).
    pub route_set: Vec<Vec<u8>>,
    /// Made by a request over TLS with a sips Request-URI (§12.1.1).
    pub secure: bool,
    /// This side's Contact value, for target refresh requests.
    pub local_contact: Vec<u8>,
    /// This side's INVITE (initial or re-INVITE) waiting for a final response.
    pub local_invite_pending: bool,
    /// The peer's INVITE waiting for this side's final response.
    pub remote_invite_pending: bool,
    /// That INVITE's CSeq: only a final response to it ends it (§14.2), not one to an
    /// INVITE refused for overlapping it.
    pub remote_invite_seq: Option<u32>,
    /// The last 2xx ACK sent: its CSeq and bytes (resent for each 2xx retransmission).
    pub(crate) last_ack: Option<(u32, OutRequest)>,
}

fn opts() -> ParseOptions {
    ParseOptions::LIBERAL
}

fn missing() -> Error {
    Error::new(ErrorKind::MissingHeader, 0)
}

/// The URI of the first Contact of a message.
pub(crate) fn contact_uri<I: AsRef<MessageIndex>>(m: &Message<'_, I>) -> Option<Vec<u8>> {
    let v = m.values_of(HeaderName::Contact).next()?;
    let c = parse_contact(v, &opts(), &mut Vec::new()).ok()?;
    Some(c.addr()?.uri().as_bytes().to_vec())
}

/// Record-Route values of a message, in order.
pub(crate) fn record_route<I: AsRef<MessageIndex>>(m: &Message<'_, I>) -> Vec<Vec<u8>> {
    m.values_of(HeaderName::RecordRoute)
        .map(|v| unfold(v).into_owned())
        .collect()
}

pub(crate) fn tag_of<'a, I: AsRef<MessageIndex>>(m: &Message<'a, I>, kind: HeaderName) -> &'a [u8] {
    m.first_value(kind)
        .and_then(|v| parse_name_addr(v, &opts(), &mut Vec::new()).ok())
        .and_then(|n| n.tag())
        .unwrap_or(&[])
}

pub(crate) fn cseq_of<'a, I: AsRef<MessageIndex>>(m: &Message<'a, I>) -> Option<(u32, &'a [u8])> {
    let v = m.first_value(HeaderName::CSeq)?;
    let c = crate::header::parse_cseq(v, &opts(), &mut Vec::new()).ok()?;
    Some((c.seq, c.method))
}

impl Dialog {
    /// The UAC's dialog from a 2xx or tagged 1xx to its request (§12.1.2): route set from
    /// the response's Record-Route reversed, remote target from its Contact.
    pub fn uac<I: AsRef<MessageIndex>, J: AsRef<MessageIndex>>(
        request: &Message<'_, I>,
        response: &Message<'_, J>,
    ) -> Result<Dialog, Error> {
        let status = response.status().ok_or(missing())?;
        let mut route_set = record_route(response);
        route_set.reverse();
        Ok(Dialog {
            id: DialogId {
                call_id: request.call_id().ok_or(missing())?.to_vec(),
                local_tag: tag_of(request, HeaderName::From).to_vec(),
                remote_tag: tag_of(response, HeaderName::To).to_vec(),
            },
            state: if status < 200 {
                DialogState::Early
            } else {
                DialogState::Confirmed
            },
            is_uac: true,
            local_party: unfold(request.first_value(HeaderName::From).ok_or(missing())?)
                .into_owned(),
            remote_party: unfold(response.first_value(HeaderName::To).ok_or(missing())?)
                .into_owned(),
            local_seq: cseq_of(request).map_or(0, |c| c.0),
            remote_seq: None,
            remote_target: contact_uri(response).unwrap_or_default(),
            route_set,
            secure: request
                .request_uri()
                .and_then(|u| u.get(..5))
                .is_some_and(|p| p.eq_ignore_ascii_case(b"sips:")),
            local_contact: request
                .first_value(HeaderName::Contact)
                .map(|c| unfold(c).into_owned())
                .unwrap_or_default(),
            local_invite_pending: status < 200,
            remote_invite_pending: false,
            remote_invite_seq: None,
            last_ack: None,
        })
    }

    /// The UAS's dialog from a request and the 2xx or tagged 1xx it sends (§12.1.1): route
    /// set from the request's Record-Route in order, remote target from its Contact.
    pub fn uas<I: AsRef<MessageIndex>, J: AsRef<MessageIndex>>(
        request: &Message<'_, I>,
        response: &Message<'_, J>,
    ) -> Result<Dialog, Error> {
        let status = response.status().ok_or(missing())?;
        Ok(Dialog {
            id: DialogId {
                call_id: request.call_id().ok_or(missing())?.to_vec(),
                local_tag: tag_of(response, HeaderName::To).to_vec(),
                remote_tag: tag_of(request, HeaderName::From).to_vec(),
            },
            state: if status < 200 {
                DialogState::Early
            } else {
                DialogState::Confirmed
            },
            is_uac: false,
            local_party: unfold(response.first_value(HeaderName::To).ok_or(missing())?)
                .into_owned(),
            remote_party: unfold(request.first_value(HeaderName::From).ok_or(missing())?)
                .into_owned(),
            local_seq: 0,
            remote_seq: cseq_of(request).map(|c| c.0),
            remote_target: contact_uri(request).unwrap_or_default(),
            route_set: record_route(request),
            secure: request
                .request_uri()
                .and_then(|u| u.get(..5))
                .is_some_and(|p| p.eq_ignore_ascii_case(b"sips:")),
            local_contact: response
                .first_value(HeaderName::Contact)
                .map(|c| unfold(c).into_owned())
                .unwrap_or_default(),
            local_invite_pending: false,
            remote_invite_pending: status < 200,
            remote_invite_seq: (status < 200)
                .then(|| cseq_of(request).map(|c| c.0))
                .flatten(),
            last_ack: None,
        })
    }

    /// The subscriber's dialog from its SUBSCRIBE and a NOTIFY that arrived before the 2xx
    /// (RFC 6665 §4.1.2.4): the NOTIFY's From tag is the remote tag, its Contact the remote
    /// target, its Record-Route the route set in order (this side is the NOTIFY's UAS,
    /// RFC 3261 §12.1.1).
    pub fn from_notify<I: AsRef<MessageIndex>, J: AsRef<MessageIndex>>(
        subscribe: &Message<'_, I>,
        notify: &Message<'_, J>,
    ) -> Result<Dialog, Error> {
        Ok(Dialog {
            id: DialogId {
                call_id: subscribe.call_id().ok_or(missing())?.to_vec(),
                local_tag: tag_of(subscribe, HeaderName::From).to_vec(),
                remote_tag: tag_of(notify, HeaderName::From).to_vec(),
            },
            state: DialogState::Confirmed,
            is_uac: true,
            local_party: unfold(subscribe.first_value(HeaderName::From).ok_or(missing())?)
                .into_owned(),
            remote_party: unfold(notify.first_value(HeaderName::From).ok_or(missing())?)
                .into_owned(),
            local_seq: cseq_of(subscribe).map_or(0, |c| c.0),
            remote_seq: None,
            remote_target: contact_uri(notify).unwrap_or_default(),
            route_set: record_route(notify),
            secure: subscribe
                .request_uri()
                .and_then(|u| u.get(..5))
                .is_some_and(|p| p.eq_ignore_ascii_case(b"sips:")),
            local_contact: subscribe
                .first_value(HeaderName::Contact)
                .map(|c| unfold(c).into_owned())
                .unwrap_or_default(),
            local_invite_pending: false,
            remote_invite_pending: false,
            remote_invite_seq: None,
            last_ack: None,
        })
    }

    /// A new request in the dialog (§12.2.1.1): the next local CSeq, To/From/Call-ID of the
    /// dialog, Request-URI and Route from the route set (loose or strict routing), `via` as
    /// the top Via (with a fresh branch), Contact on target refresh requests.
    pub fn request(
        &mut self,
        method: &[u8],
        via: &[u8],
        extra: &[(&[u8], &[u8])],
        body: &[u8],
    ) -> Result<OutRequest, Error> {
        if method == b"ACK" || method == b"CANCEL" {
            return Err(Error::new(ErrorKind::InvalidValue, 0));
        }
        let seq = self.local_seq.checked_add(1).filter(|&s| s < (1 << 31));
        let seq = seq.ok_or(Error::new(ErrorKind::NumberOutOfRange, 0))?;
        let out = self.build(method, seq, via, extra, body)?;
        self.local_seq = seq;
        if method == b"INVITE" {
            self.local_invite_pending = true;
        }
        Ok(out)
    }

    /// The ACK for a 2xx to this side's INVITE with CSeq `seq` (§13.2.2.4): built like any
    /// request of the dialog, with the INVITE's CSeq number. Kept, and given again for every
    /// retransmission of that 2xx.
    pub fn ack(
        &mut self,
        seq: u32,
        via: &[u8],
        extra: &[(&[u8], &[u8])],
        body: &[u8],
    ) -> Result<OutRequest, Error> {
        if let Some((s, a)) = &self.last_ack {
            if *s == seq {
                return Ok(a.clone());
            }
        }
        let a = self.build(b"ACK", seq, via, extra, body)?;
        self.last_ack = Some((seq, a.clone()));
        Ok(a)
    }

    fn build(
        &self,
        method: &[u8],
        seq: u32,
        via: &[u8],
        extra: &[(&[u8], &[u8])],
        body: &[u8],
    ) -> Result<OutRequest, Error> {
        let first = self
            .route_set
            .first()
            .and_then(|r| parse_name_addr(r, &opts(), &mut Vec::new()).ok());
        // §12.2.1.1: loose routing keeps the remote target as Request-URI; a strict router
        // (no `lr`) gets it as the last Route and its own URI becomes the Request-URI.
        let (ruri, routes, next_hop): (Vec<u8>, Vec<Vec<u8>>, Vec<u8>) = match first {
            None => (
                self.remote_target.clone(),
                Vec::new(),
                self.remote_target.clone(),
            ),
            Some(na) if na.uri().lr() => (
                self.remote_target.clone(),
                self.route_set.clone(),
                na.uri().as_bytes().to_vec(),
            ),
            Some(na) => {
                // Parameters not allowed in a Request-URI: the `?headers` part (§19.1.5).
                let u = na.uri().as_bytes();
                let u = match memchr::memchr(b'?', u) {
                    Some(p) => u.get(..p).unwrap_or(u),
                    None => u,
                };
                let mut r: Vec<Vec<u8>> = self.route_set.iter().skip(1).cloned().collect();
                let mut t = b"<".to_vec();
                t.extend_from_slice(&self.remote_target);
                t.push(b'>');
                r.push(t);
                (u.to_vec(), r, u.to_vec())
            }
        };
        let mut b = RequestBuilder::new(method, &ruri)?;
        b.header(b"Via", via)?;
        b.header(b"Max-Forwards", b"70")?;
        for r in &routes {
            b.header(b"Route", r)?;
        }
        b.header(b"From", &self.local_party)?;
        b.header(b"To", &self.remote_party)?;
        b.header(b"Call-ID", &self.id.call_id)?;
        let mut cs = seq.to_string().into_bytes();
        cs.push(b' ');
        cs.extend_from_slice(method);
        b.header(b"CSeq", &cs)?;
        // Target refresh requests carry Contact (§12.2.1.1, RFC 3311, RFC 6665).
        let refresh = matches!(
            method,
            b"INVITE" | b"UPDATE" | b"SUBSCRIBE" | b"NOTIFY" | b"REFER"
        );
        if refresh && !self.local_contact.is_empty() {
            b.header(b"Contact", &self.local_contact)?;
        }
        for (n, v) in extra {
            b.header(n, v)?;
        }
        b.body(body);
        Ok(OutRequest {
            bytes: b.build()?,
            next_hop,
        })
    }

    /// §12.2.2 / §12.2.1.2: a target refresh request or its 2xx replaces the remote target.
    pub fn refresh_target<I: AsRef<MessageIndex>>(&mut self, m: &Message<'_, I>) {
        if let Some(u) = contact_uri(m) {
            self.remote_target = u;
        }
    }
}
