//! Snapshots for message-by-message use: transactions (views of the records, with their
//! messages when they are kept), dialogs and calls (derived from the order-independent
//! records when asked). The rows of `rows.rs` say the same in table form.

use std::net::{IpAddr, SocketAddr};

use super::call::CallRec;
use super::dtmf::InfoDtmf;
use super::facts::Method;
use super::media::StreamView;
use super::rows::{info_dtmf, leg_tag, pairs, span, Outcome, Side, Summary};
use super::table::Id;
use super::text::{PayloadTypes, Text};
use super::txn::{RespRec, TxnRec};
use super::Captured;
use crate::sdp::Direction;

/// A transaction: the call it is in and its position there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxnId {
    pub call: Id,
    pub index: u16,
}

/// A dialog: the call it is in and its position there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId {
    pub call: Id,
    pub index: u16,
}

/// One transaction: a request, its responses, and for an INVITE its ACK and CANCEL.
pub struct Transaction<'a, B> {
    pub(crate) id: TxnId,
    /// `false` when its Call-ID is not a call (an OPTIONS, a REGISTER...).
    pub(crate) in_call: bool,
    pub(crate) call_id: &'a [u8],
    pub(crate) t: &'a TxnRec<B>,
}

fn kept_by_time<'a, B>(
    recs: &[RespRec],
    kept: Option<&'a [Option<Captured<B>>]>,
) -> Vec<&'a Captured<B>> {
    let mut v: Vec<(f64, &Captured<B>)> = recs
        .iter()
        .zip(kept.unwrap_or(&[]))
        .filter_map(|(r, c)| Some((r.time, c.as_ref()?)))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v.into_iter().map(|(_, c)| c).collect()
}

impl<'a, B: AsRef<[u8]>> Transaction<'a, B> {
    pub fn id(&self) -> TxnId {
        self.id
    }
    /// `INVITE` for an INVITE transaction (never `ACK` or `CANCEL`), else the method.
    pub fn method(&self) -> &'a str {
        match self.t.method {
            Method::Other => std::str::from_utf8(self.t.key.method_name()).unwrap_or(""),
            m => m.as_str(),
        }
    }
    pub fn method_kind(&self) -> Method {
        self.t.method
    }
    /// The top Via branch as first seen (`None` when there is none).
    pub fn branch(&self) -> Option<&'a [u8]> {
        let b = self.t.key.branch();
        (!b.is_empty()).then_some(b)
    }
    /// Keyed by the RFC 2543 fallback (no RFC 3261 branch).
    pub fn is_rfc2543(&self) -> bool {
        !self.t.key.is_rfc3261()
    }
    pub fn call_id(&self) -> &'a [u8] {
        self.call_id
    }
    pub fn cseq(&self) -> u32 {
        self.t.cseq
    }
    /// The call this transaction belongs to, if its Call-ID is a call.
    pub fn call(&self) -> Option<Id> {
        self.in_call.then_some(self.id.call)
    }
    /// The earliest copy of the request; `None` when it was not captured.
    pub fn request_time(&self) -> Option<f64> {
        self.t.request
    }
    /// The distinct response statuses, in time order.
    pub fn statuses(&self) -> Vec<(f64, u16)> {
        let mut v: Vec<_> = self
            .t
            .responses
            .iter()
            .map(|r| (r.time, r.status))
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    }
    /// The request (its earliest copy), when messages are kept and it was captured.
    pub fn request(&self) -> Option<&'a Captured<B>> {
        self.t.kept.as_ref()?.request.as_ref()
    }
    /// Distinct responses kept (retransmissions are counted, not kept), in time order.
    pub fn responses(&self) -> Vec<&'a Captured<B>> {
        kept_by_time(
            &self.t.responses,
            self.t.kept.as_ref().map(|k| &k.responses[..]),
        )
    }
    pub fn ack(&self) -> Option<&'a Captured<B>> {
        self.t.kept.as_ref()?.ack.as_ref()
    }
    pub fn cancel(&self) -> Option<&'a Captured<B>> {
        self.t.kept.as_ref()?.cancel.as_ref()
    }
    pub fn cancel_responses(&self) -> Vec<&'a Captured<B>> {
        kept_by_time(
            &self.t.cancel_responses,
            self.t.kept.as_ref().map(|k| &k.cancel_responses[..]),
        )
    }
    /// Whether an ACK (of a non-2xx, or a 2xx ACK of its exchange) was seen.
    pub fn has_ack(&self) -> bool {
        self.t.ack.is_some()
    }
    /// Whether a CANCEL was seen.
    pub fn has_cancel(&self) -> bool {
        self.t.cancel.is_some()
    }
    /// The status of the earliest final response (200-699).
    pub fn final_status(&self) -> Option<u16> {
        self.t.final_.map(|(_, s)| s)
    }
    /// Copies of the request, responses, ACK or CANCEL seen again.
    pub fn retransmissions(&self) -> u32 {
        self.t.retransmissions
    }
    pub fn first_time(&self) -> f64 {
        self.t.first_time
    }
    pub fn last_time(&self) -> f64 {
        self.t.last_time
    }
}

/// RFC 3261 §12 dialog states, as seen by an observer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DialogState {
    Early,
    Confirmed,
    Terminated,
}

impl DialogState {
    pub fn as_str(self) -> &'static str {
        match self {
            DialogState::Early => "early",
            DialogState::Confirmed => "confirmed",
            DialogState::Terminated => "terminated",
        }
    }
}

/// A dialog: Call-ID and tags, oriented caller (From) to callee (To) when the caller is
/// known.
#[derive(Clone, Debug, PartialEq)]
pub struct Dialog {
    pub id: DialogId,
    pub call: Id,
    pub call_id: Box<[u8]>,
    pub from_tag: Box<[u8]>,
    pub to_tag: Box<[u8]>,
    pub state: DialogState,
    pub first_time: f64,
    pub last_time: f64,
    /// Transactions seen in it (capped by `Config::max_transactions_per_dialog`).
    pub transactions: Vec<TxnId>,
}

/// A period on hold (RFC 3264 §8.4): from an offer putting a stream on hold (sendonly,
/// inactive, or `c=0.0.0.0`) to the next offer holding none; `end` is `None` when no such
/// offer was seen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HoldPeriod {
    pub start: f64,
    pub end: Option<f64>,
}

/// An address and port RTP is sent to, from an SDP `c=` and `m=` line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RtpEndpoint {
    /// The connection address as written (an IP address, or a name).
    pub address: Text,
    pub port: u16,
}

impl RtpEndpoint {
    /// The address as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.parse().ok()
    }
}

/// One `m=` line of an offer/answer exchange: the offerer's RTP endpoint from the offer and
/// the answerer's from the answer (RFC 3264 §6: the answer's m-lines match the offer's), with
/// the payload types and codec names of each and the negotiated codec.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaStream {
    pub media: Text,
    /// `None` for a disabled stream (port 0) or one without `c=`.
    pub offer: Option<RtpEndpoint>,
    pub answer: Option<RtpEndpoint>,
    pub offer_direction: Option<Direction>,
    pub answer_direction: Option<Direction>,
    /// The connection address (as written) and the `m=` port of each side, also for a
    /// disabled stream (port 0).
    pub offer_address: Option<Text>,
    pub offer_port: Option<u16>,
    pub answer_address: Option<Text>,
    pub answer_port: Option<u16>,
    pub offer_payload_types: PayloadTypes,
    pub offer_codecs: Vec<Text>,
    pub answer_payload_types: PayloadTypes,
    pub answer_codecs: Vec<Text>,
    /// The first of the answer's formats that the offer had (RFC 3264 §6.1).
    pub codec: Option<Text>,
    pub codec_payload_type: Option<u8>,
    pub codec_clock_rate: Option<u32>,
}

/// One offer/answer exchange of a call in one dialog (INVITE, re-INVITE, UPDATE or PRACK; the
/// offer may be in a 2xx and the answer in the ACK when the INVITE had no body, RFC 3261
/// §13.2.1). A forked INVITE answered by several phones gives one session per phone.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaSession {
    pub method: Method,
    pub cseq: u32,
    /// The To tag of the dialog it belongs to (empty when none answered).
    pub to_tag: Box<[u8]>,
    pub offer_time: Option<f64>,
    pub answer_time: Option<f64>,
    /// Where the offer and the answer came from (the packets' sources).
    pub offerer: Option<SocketAddr>,
    pub answerer: Option<SocketAddr>,
    /// The answer came before the 2xx (early media): in a provisional response, or in the
    /// PRACK of a reliable provisional response that carried a late offer (RFC 3262 §5).
    pub early: bool,
    pub streams: Vec<MediaStream>,
}

impl MediaSession {
    /// The offerer's RTP endpoint of the first stream that has one.
    pub fn offerer_rtp(&self) -> Option<&RtpEndpoint> {
        self.streams.iter().find_map(|s| s.offer.as_ref())
    }
    /// The answerer's RTP endpoint of the first stream that has one.
    pub fn answerer_rtp(&self) -> Option<&RtpEndpoint> {
        self.streams.iter().find_map(|s| s.answer.as_ref())
    }
}

/// A call: the INVITE dialogs of one Call-ID with their re-INVITEs, UPDATEs and PRACKs.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub id: Id,
    pub call_id: Box<[u8]>,
    pub outcome: Outcome,
    /// The final status deciding the outcome (a 2xx when answered).
    pub final_status: Option<u16>,
    pub first_time: f64,
    pub last_time: f64,
    /// The first initial INVITE's request (its earliest copy).
    pub invite_time: Option<f64>,
    /// The first 180-189 to an initial INVITE.
    pub ringing_time: Option<f64>,
    /// The first 2xx to an initial INVITE.
    pub answer_time: Option<f64>,
    /// The first BYE (request or response).
    pub end_time: Option<f64>,
    /// The first CANCEL of an initial INVITE.
    pub cancel_time: Option<f64>,
    /// INVITE transactions (initial ones, their forks and hops, and re-INVITEs).
    pub invites: usize,
    /// The From and To URIs of the initial INVITE.
    pub caller: Option<Box<str>>,
    pub callee: Option<Box<str>>,
    /// Where the initial INVITE went from and to.
    pub src: Option<SocketAddr>,
    pub dst: Option<SocketAddr>,
    pub messages: u32,
    pub retransmissions: u32,
    /// Who sent the first BYE.
    pub hangup: Option<Side>,
    pub early_media: bool,
    pub hold_periods: Vec<HoldPeriod>,
    pub media: Vec<MediaSession>,
    pub dialogs: Vec<DialogId>,
    /// Every transaction of the call.
    pub transactions: Vec<TxnId>,
    /// DTMF digits sent in its INFO requests, in time order.
    pub info_dtmf: Vec<InfoDtmf>,
}

impl Call {
    /// Seconds from the first INVITE to the first ringing response (the post-dial delay).
    pub fn time_to_ringing(&self) -> Option<f64> {
        span(self.invite_time, self.ringing_time)
    }
    /// Seconds from the first INVITE to the 2xx (the setup time).
    pub fn time_to_answer(&self) -> Option<f64> {
        span(self.invite_time, self.answer_time)
    }
    /// Seconds from the 2xx to the BYE.
    pub fn duration(&self) -> Option<f64> {
        span(self.answer_time, self.end_time).filter(|&d| d >= 0.0)
    }
}

fn endpoint(s: &StreamView<'_>) -> Option<RtpEndpoint> {
    s.rtp().map(|(a, port)| RtpEndpoint {
        address: a.into(),
        port,
    })
}

pub(crate) fn media_sessions<B>(rec: &CallRec<B>) -> Vec<MediaSession> {
    pairs(rec)
        .iter()
        .map(|p| {
            let n = p
                .offer
                .map_or(0, |s| s.stream_count())
                .max(p.answer.map_or(0, |s| s.stream_count()));
            let streams = (0..n)
                .map(|i| {
                    let os = p.offer.and_then(|s| s.stream(i));
                    let an = p.answer.and_then(|s| s.stream(i));
                    let names = |s: Option<StreamView<'_>>| -> Vec<Text> {
                        s.map_or_else(Vec::new, |s| s.codec_names().map(Text::new).collect())
                    };
                    let pts = |s: Option<StreamView<'_>>| -> PayloadTypes {
                        s.map_or_else(PayloadTypes::default, |s| {
                            PayloadTypes::new(s.payload_types())
                        })
                    };
                    let codec = os
                        .zip(an)
                        .and_then(|(o, a)| super::media::negotiated(&o, &a));
                    MediaStream {
                        media: os.or(an).map_or("", |s| s.kind).into(),
                        offer: os.as_ref().and_then(endpoint),
                        answer: an.as_ref().and_then(endpoint),
                        offer_direction: os.map(|s| s.direction),
                        answer_direction: an.map(|s| s.direction),
                        offer_address: os.and_then(|s| s.address).map(Text::new),
                        offer_port: os.map(|s| s.port),
                        answer_address: an.and_then(|s| s.address).map(Text::new),
                        answer_port: an.map(|s| s.port),
                        offer_payload_types: pts(os),
                        offer_codecs: names(os),
                        answer_payload_types: pts(an),
                        answer_codecs: names(an),
                        codec: codec.map(|(_, n)| Text::new(n)),
                        codec_payload_type: codec.map(|(f, _)| f.payload_type),
                        codec_clock_rate: codec.map(|(f, _)| f.clock_rate).filter(|&r| r > 0),
                    }
                })
                .collect();
            MediaSession {
                method: p.exchange.method,
                cseq: p.exchange.cseq,
                to_tag: leg_tag(rec, p).into(),
                offer_time: p.offer.map(|s| s.time),
                answer_time: p.answer.map(|s| s.time),
                offerer: p.offer.map(|s| s.from),
                answerer: p.answer.map(|s| s.from),
                early: p.early,
                streams,
            }
        })
        .collect()
}

/// Hold periods from the offers of exchanges that took effect, in time order.
fn hold_periods<B>(rec: &CallRec<B>) -> Vec<HoldPeriod> {
    let mut offers: Vec<(f64, bool)> = rec
        .exchanges
        .iter()
        .filter(|e| e.took_effect())
        .filter_map(|e| {
            // The request's SDP, or a late offer's first 1xx/2xx SDP (RFC 3261 §13.2.1).
            let o = e.offer.as_ref().or_else(|| {
                e.legs
                    .iter()
                    .filter_map(|l| l.answer.as_ref().map(|(s, _)| s))
                    .min_by(|a, b| a.time.total_cmp(&b.time))
                    .filter(|_| e.req_without_sdp)
            })?;
            Some((o.time, o.holds()))
        })
        .collect();
    offers.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<HoldPeriod> = Vec::new();
    for (t, held) in offers {
        let open = out.last().is_some_and(|h| h.end.is_none());
        if held && !open {
            out.push(HoldPeriod {
                start: t,
                end: None,
            });
        } else if !held && open {
            if let Some(h) = out.last_mut() {
                h.end = Some(t);
            }
        }
    }
    out
}

/// The call's snapshot, with the capture (or the watermark) at `end`.
pub(crate) fn call_of<B>(id: Id, rec: &CallRec<B>, s: &Summary) -> Call {
    let idx = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    Call {
        id,
        call_id: rec.call_id.as_slice().into(),
        outcome: s.outcome,
        final_status: s.final_status,
        first_time: rec.first_time,
        last_time: rec.last_time,
        invite_time: s.invite_time,
        ringing_time: s.ringing_time,
        answer_time: s.answer_time,
        end_time: s.end_time,
        cancel_time: s.cancel_time,
        invites: rec.invites(),
        caller: rec.caller_uri().map(Box::from),
        callee: rec.callee_uri().map(Box::from),
        src: s.src,
        dst: s.dst,
        messages: rec.messages,
        retransmissions: rec.retransmissions,
        hangup: s.hangup,
        early_media: s.early_media,
        hold_periods: hold_periods(rec),
        media: media_sessions(rec),
        dialogs: by_time(&rec.dialogs, |d| (d.first_time, d.tag_a(), d.tag_b()))
            .map(|i| DialogId {
                call: id,
                index: idx(i),
            })
            .collect(),
        transactions: by_time(&rec.txns, |x| (x.first_time, x.key.branch(), &[][..]))
            .map(|i| TxnId {
                call: id,
                index: idx(i),
            })
            .collect(),
        info_dtmf: info_dtmf(rec),
    }
}

/// The positions of `v`'s items in the order of (time, bytes, bytes): the same whatever order
/// they were made in.
fn by_time<'a, T>(
    v: &'a [T],
    key: impl Fn(&'a T) -> (f64, &'a [u8], &'a [u8]),
) -> impl Iterator<Item = usize> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    let k = |i: usize| v.get(i).map(&key);
    order.sort_by(|&a, &b| match (k(a), k(b)) {
        (Some(x), Some(y)) => x.0.total_cmp(&y.0).then(x.1.cmp(y.1)).then(x.2.cmp(y.2)),
        _ => a.cmp(&b),
    });
    order.into_iter()
}

/// The call's dialogs, oriented caller to callee.
pub(crate) fn dialogs_of<B>(id: Id, rec: &CallRec<B>) -> Vec<Dialog> {
    let caller = rec.caller.as_ref().map(|c| c.from_hash);
    let idx = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    rec.dialogs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let (mut from, mut to) = (d.tag_a(), d.tag_b());
            if caller.is_some_and(|c| c == d.hash_b && c != d.hash_a) {
                std::mem::swap(&mut from, &mut to);
            }
            let state = if d.bye {
                DialogState::Terminated
            } else if d.confirmed {
                DialogState::Confirmed
            } else {
                // An early dialog ends with its INVITE's final response (§12.3, §13.2.2.4).
                let ended = d
                    .invite
                    .and_then(|(cs, fh)| {
                        rec.exchanges.iter().find(|e| {
                            e.method == Method::Invite && e.cseq == cs && e.from_hash == fh
                        })
                    })
                    .is_some_and(|e| e.final_().is_some());
                if ended {
                    DialogState::Terminated
                } else {
                    DialogState::Early
                }
            };
            Dialog {
                id: DialogId {
                    call: id,
                    index: idx(i),
                },
                call: id,
                call_id: rec.call_id.as_slice().into(),
                from_tag: from.into(),
                to_tag: to.into(),
                state,
                first_time: d.first_time,
                last_time: d.last_time,
                transactions: d
                    .txns
                    .iter()
                    .map(|&index| TxnId { call: id, index })
                    .collect(),
            }
        })
        .collect()
}

/// The call's transactions.
pub(crate) fn transactions_of<B>(
    id: Id,
    rec: &CallRec<B>,
) -> impl Iterator<Item = Transaction<'_, B>> {
    let in_call = rec.is_call;
    rec.txns.iter().enumerate().map(move |(i, t)| Transaction {
        id: TxnId {
            call: id,
            index: u16::try_from(i).unwrap_or(u16::MAX),
        },
        in_call,
        call_id: &rec.call_id,
        t,
    })
}
