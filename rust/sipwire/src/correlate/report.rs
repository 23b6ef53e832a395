//! What the correlator reports: transactions (views of stored messages), dialogs and calls
//! (derived from the order-independent records when asked).

use std::net::SocketAddr;

use super::facts::{Method, RtpEndpoint};
use super::table::Id;
use super::{CallRec, Captured, Correlator, Exchange, SdpRec, Txn};
use crate::sdp::Direction;

/// One transaction: a request, its responses, and for an INVITE its ACK and CANCEL.
pub struct Transaction<'a, B> {
    id: Id,
    t: &'a Txn<B>,
}

fn by_time<B>(mut v: Vec<&Captured<B>>) -> Vec<&Captured<B>> {
    v.sort_by(|a, b| a.packet.time.total_cmp(&b.packet.time));
    v
}

impl<'a, B: AsRef<[u8]>> Transaction<'a, B> {
    pub fn id(&self) -> Id {
        self.id
    }
    /// `INVITE` for an INVITE transaction (never `ACK` or `CANCEL`), else the method.
    pub fn method(&self) -> &'a str {
        match self.t.method {
            Method::Other => {
                std::str::from_utf8(self.t.key.method_name.of(self.t.owner_bytes())).unwrap_or("")
            }
            m => m.as_str(),
        }
    }
    pub fn method_kind(&self) -> Method {
        self.t.method
    }
    /// The top Via branch (`None` when there is none).
    pub fn branch(&self) -> Option<&'a [u8]> {
        let b = self.t.key.branch.of(self.t.owner_bytes());
        (!b.is_empty()).then_some(b)
    }
    /// Keyed by the RFC 2543 fallback (no RFC 3261 branch).
    pub fn is_rfc2543(&self) -> bool {
        !self.t.key.rfc3261
    }
    pub fn call_id(&self) -> &'a [u8] {
        self.t.key.call_id.of(self.t.owner_bytes())
    }
    pub fn cseq(&self) -> u32 {
        self.t.key.cseq
    }
    /// The call this transaction belongs to, if any.
    pub fn call(&self) -> Option<Id> {
        self.t.call
    }
    /// `None` when the request was not captured.
    pub fn request(&self) -> Option<&'a Captured<B>> {
        self.t.request.as_ref()
    }
    /// Distinct responses (retransmissions are counted, not kept), in time order.
    pub fn responses(&self) -> Vec<&'a Captured<B>> {
        by_time(self.t.responses.iter().map(|(c, _)| c).collect())
    }
    pub fn ack(&self) -> Option<&'a Captured<B>> {
        self.t.ack.as_ref()
    }
    pub fn cancel(&self) -> Option<&'a Captured<B>> {
        self.t.cancel.as_ref()
    }
    pub fn cancel_responses(&self) -> Vec<&'a Captured<B>> {
        by_time(self.t.cancel_responses.iter().collect())
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
    pub id: Id,
    pub call: Id,
    pub call_id: Box<[u8]>,
    pub from_tag: Box<[u8]>,
    pub to_tag: Box<[u8]>,
    pub state: DialogState,
    pub first_time: f64,
    pub last_time: f64,
    /// Transactions seen in it (capped by `Config::max_transactions_per_dialog`).
    pub transactions: Vec<Id>,
}

/// What happened to a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A 2xx to the initial INVITE (or, in a partial capture, a confirmed dialog or a BYE).
    Answered,
    /// 486 Busy Here or 600 Busy Everywhere.
    Busy,
    /// 487 after a CANCEL.
    Cancelled,
    /// Any other final 3xx-6xx (a 487 without a captured CANCEL included).
    Rejected,
    /// 408, or no final response and nothing for `Config::timeout` before the capture's end.
    Timeout,
    /// No final response, and the capture ended within `Config::timeout` of the last message.
    InProgress,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Busy => "busy",
            Outcome::Cancelled => "cancelled",
            Outcome::Rejected => "rejected",
            Outcome::Timeout => "timeout",
            Outcome::InProgress => "in_progress",
        }
    }

    fn of_final(status: u16, cancelled: bool) -> Outcome {
        match status {
            200..=299 => Outcome::Answered,
            486 | 600 => Outcome::Busy,
            487 if cancelled => Outcome::Cancelled,
            408 => Outcome::Timeout,
            _ => Outcome::Rejected,
        }
    }
}

/// Calls per outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    pub answered: u64,
    pub busy: u64,
    pub cancelled: u64,
    pub rejected: u64,
    pub timeout: u64,
    pub in_progress: u64,
}

impl OutcomeCounts {
    pub fn add(&mut self, o: Outcome) {
        *self.slot(o) += 1;
    }
    fn slot(&mut self, o: Outcome) -> &mut u64 {
        match o {
            Outcome::Answered => &mut self.answered,
            Outcome::Busy => &mut self.busy,
            Outcome::Cancelled => &mut self.cancelled,
            Outcome::Rejected => &mut self.rejected,
            Outcome::Timeout => &mut self.timeout,
            Outcome::InProgress => &mut self.in_progress,
        }
    }
    pub fn get(&self, o: Outcome) -> u64 {
        match o {
            Outcome::Answered => self.answered,
            Outcome::Busy => self.busy,
            Outcome::Cancelled => self.cancelled,
            Outcome::Rejected => self.rejected,
            Outcome::Timeout => self.timeout,
            Outcome::InProgress => self.in_progress,
        }
    }
    pub fn total(&self) -> u64 {
        self.answered + self.busy + self.cancelled + self.rejected + self.timeout + self.in_progress
    }
}

/// A period on hold (RFC 3264 §8.4): from an offer putting a stream on hold (sendonly,
/// inactive, or `c=0.0.0.0`) to the next offer holding none; `end` is `None` when no such
/// offer was seen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HoldPeriod {
    pub start: f64,
    pub end: Option<f64>,
}

/// One `m=` line of an offer/answer exchange: the offerer's RTP endpoint from the offer and
/// the answerer's from the answer (RFC 3264 §6: the answer's m-lines match the offer's).
#[derive(Clone, Debug, PartialEq)]
pub struct MediaStream {
    pub media: Box<str>,
    pub offer: Option<RtpEndpoint>,
    pub answer: Option<RtpEndpoint>,
    pub offer_direction: Option<Direction>,
    pub answer_direction: Option<Direction>,
}

/// One offer/answer exchange of a call (INVITE, re-INVITE or UPDATE; the offer may be in a
/// 2xx and the answer in the ACK when the INVITE had no body, RFC 3261 §13.2.1).
#[derive(Clone, Debug, PartialEq)]
pub struct MediaSession {
    pub method: Method,
    pub cseq: u32,
    pub offer_time: Option<f64>,
    pub answer_time: Option<f64>,
    /// Where the offer and the answer came from (the packets' sources).
    pub offerer: Option<SocketAddr>,
    pub answerer: Option<SocketAddr>,
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

/// A call: the INVITE dialogs of one Call-ID with their re-INVITEs and UPDATEs.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub id: Id,
    pub call_id: Box<[u8]>,
    pub outcome: Outcome,
    /// The final status deciding the outcome (a 2xx when answered).
    pub final_status: Option<u16>,
    pub first_time: f64,
    pub last_time: f64,
    /// The first initial INVITE's request.
    pub invite_time: Option<f64>,
    /// The first 180-189 to an initial INVITE.
    pub ringing_time: Option<f64>,
    /// The first 2xx to an initial INVITE.
    pub answer_time: Option<f64>,
    /// The first BYE (request or response).
    pub end_time: Option<f64>,
    /// INVITE transactions (initial ones and re-INVITEs).
    pub invites: usize,
    pub hold_periods: Vec<HoldPeriod>,
    pub media: Vec<MediaSession>,
    pub dialogs: Vec<Id>,
    /// The INVITE and UPDATE transactions still held.
    pub transactions: Vec<Id>,
}

impl Call {
    /// Seconds from the first INVITE to the first ringing response.
    pub fn time_to_ringing(&self) -> Option<f64> {
        Some(self.ringing_time? - self.invite_time?)
    }
    /// Seconds from the first INVITE to the 2xx.
    pub fn time_to_answer(&self) -> Option<f64> {
        Some(self.answer_time? - self.invite_time?)
    }
    /// Seconds from the 2xx to the BYE.
    pub fn duration(&self) -> Option<f64> {
        let d = self.end_time? - self.answer_time?;
        (d >= 0.0).then_some(d)
    }
}

/// The exchanges of initial INVITEs: requests without a To tag, or, when the request was not
/// captured, exchanges that began before any INVITE was answered. In time order.
fn initial<B>(rec: &CallRec<B>) -> Vec<&Exchange<B>> {
    let first_answer = rec
        .exchanges
        .iter()
        .filter(|e| !e.update)
        .filter_map(|e| e.answered.map(|a| a.0))
        .reduce(f64::min);
    let mut v: Vec<_> = rec
        .exchanges
        .iter()
        .filter(|e| !e.update)
        .filter(|e| match e.initial {
            Some(i) => i,
            None => first_answer.map_or(true, |a| e.first_time <= a),
        })
        .collect();
    v.sort_by(|a, b| a.first_time.total_cmp(&b.first_time));
    v
}

/// The outcome of a call and the status that decided it, with the capture ending at `end`.
pub(crate) fn summarize<B>(rec: &CallRec<B>, end: f64, timeout: f64) -> (Outcome, Option<u16>) {
    summarize_with(rec, &initial(rec), end, timeout)
}

/// [`summarize`] with the call's initial exchanges (from [`initial`]) at hand.
fn summarize_with<B>(
    rec: &CallRec<B>,
    inits: &[&Exchange<B>],
    end: f64,
    timeout: f64,
) -> (Outcome, Option<u16>) {
    let answered = inits
        .iter()
        .filter_map(|e| e.answered)
        .reduce(|a, b| if b.0 < a.0 { b } else { a });
    if let Some((_, s)) = answered {
        return (Outcome::Answered, Some(s));
    }
    if let Some((_, s)) = inits.last().and_then(|e| e.final_) {
        let cancelled = inits.last().is_some_and(|e| e.cancel.is_some());
        return (Outcome::of_final(s, cancelled), Some(s));
    }
    if rec.confirmed || rec.bye.is_some() {
        return (Outcome::Answered, None);
    }
    if end - rec.last_time > timeout {
        (Outcome::Timeout, None)
    } else {
        (Outcome::InProgress, None)
    }
}

/// Offer and answer of an exchange (RFC 3261 §13.2.1, RFC 3264): the request's body and the
/// first 1xx/2xx body; without a body in the request, the 2xx's and the ACK's.
fn offer_answer<B>(e: &Exchange<B>) -> (Option<&SdpRec>, Option<&SdpRec>) {
    if e.req_sdp.is_some() {
        (e.req_sdp.as_ref(), e.resp_sdp.as_ref())
    } else if e.req_without_sdp || e.ack_sdp.is_some() {
        (e.resp_sdp.as_ref(), e.ack_sdp.as_ref())
    } else {
        (None, e.resp_sdp.as_ref())
    }
}

/// An exchange refused with a final non-2xx changes nothing (RFC 3264 §5: no answer).
fn took_effect<B>(e: &Exchange<B>) -> bool {
    e.answered.is_some() || e.final_.is_none()
}

fn media_sessions<B>(rec: &CallRec<B>) -> Vec<MediaSession> {
    let mut v: Vec<MediaSession> = rec
        .exchanges
        .iter()
        .filter(|e| took_effect(e))
        .filter_map(|e| {
            let (o, a) = offer_answer(e);
            o.or(a)?;
            let n = o
                .map_or(0, |s| s.streams.len())
                .max(a.map_or(0, |s| s.streams.len()));
            let streams = (0..n)
                .map(|i| {
                    let os = o.and_then(|s| s.streams.get(i));
                    let an = a.and_then(|s| s.streams.get(i));
                    MediaStream {
                        media: os.or(an).map_or_else(Box::default, |s| s.media.clone()),
                        offer: os.and_then(|s| s.rtp.clone()),
                        answer: an.and_then(|s| s.rtp.clone()),
                        offer_direction: os.map(|s| s.direction),
                        answer_direction: an.map(|s| s.direction),
                    }
                })
                .collect();
            Some(MediaSession {
                method: if e.update {
                    Method::Update
                } else {
                    Method::Invite
                },
                cseq: e.cseq,
                offer_time: o.map(|s| s.time),
                answer_time: a.map(|s| s.time),
                offerer: o.map(|s| s.from),
                answerer: a.map(|s| s.from),
                streams,
            })
        })
        .collect();
    // By the offer's time, else the answer's (one of them is there).
    let at = |m: &MediaSession| m.offer_time.or(m.answer_time).unwrap_or(0.0);
    if v.len() > 1 {
        v.sort_by(|a, b| at(a).total_cmp(&at(b)));
    }
    v
}

fn hold_periods<B>(rec: &CallRec<B>) -> Vec<HoldPeriod> {
    let offers = rec
        .exchanges
        .iter()
        .filter(|e| took_effect(e))
        .filter_map(|e| {
            let o = offer_answer(e).0?;
            Some((o.time, o.streams.iter().any(|s| s.hold.is_hold())))
        });
    // Most calls have one offer: it holds or not, nothing to sort.
    if rec.exchanges.len() <= 1 {
        return offers
            .filter(|&(_, held)| held)
            .map(|(start, _)| HoldPeriod { start, end: None })
            .collect();
    }
    let mut offers: Vec<(f64, bool)> = offers.collect();
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

impl<B: AsRef<[u8]>> Correlator<B> {
    pub fn transaction(&self, id: Id) -> Option<Transaction<'_, B>> {
        self.txns.get(id).map(|t| Transaction { id, t })
    }

    /// Every transaction held, by the time of its first message.
    pub fn transactions(&self) -> Vec<Transaction<'_, B>> {
        let mut v: Vec<_> = self
            .txns
            .iter()
            .map(|(id, t)| Transaction { id, t })
            .collect();
        v.sort_by(|a, b| a.t.first_time.total_cmp(&b.t.first_time));
        v
    }

    /// Every dialog held, by the time of its first message.
    pub fn dialogs(&self) -> Vec<Dialog> {
        let tag_hash = |t: &[u8]| self.hash_bytes(&[t]);
        let mut v: Vec<Dialog> = self
            .dialogs
            .iter()
            .map(|(id, d)| {
                let call = self.calls.get(d.call);
                let (mut from, mut to) = (d.tag_a(), d.tag_b());
                if let Some((_, _, caller)) = call.and_then(|c| c.caller) {
                    if caller == tag_hash(to) && caller != tag_hash(from) {
                        std::mem::swap(&mut from, &mut to);
                    }
                }
                let state = if d.bye {
                    DialogState::Terminated
                } else if d.confirmed {
                    DialogState::Confirmed
                } else {
                    // An early dialog ends with its INVITE's final response (§12.3, §13.2.2).
                    let ended = call
                        .zip(d.invite)
                        .and_then(|(c, (cs, fh))| {
                            c.exchanges
                                .iter()
                                .find(|e| !e.update && e.cseq == cs && e.from_hash == fh)
                        })
                        .is_some_and(|e| e.final_.is_some());
                    if ended {
                        DialogState::Terminated
                    } else {
                        DialogState::Early
                    }
                };
                Dialog {
                    id,
                    call: d.call,
                    call_id: d.call_id().into(),
                    from_tag: from.into(),
                    to_tag: to.into(),
                    state,
                    first_time: d.first_time,
                    last_time: d.last_time,
                    transactions: d.txns.clone(),
                }
            })
            .collect();
        v.sort_by(|a, b| a.first_time.total_cmp(&b.first_time));
        v
    }

    fn call_of(&self, id: Id, rec: &CallRec<B>) -> Call {
        let inits = initial(rec);
        let (outcome, final_status) =
            summarize_with(rec, &inits, self.capture_end(), self.cfg.timeout);
        let min = |it: &mut dyn Iterator<Item = f64>| it.reduce(f64::min);
        Call {
            id,
            call_id: rec.call_id.clone(),
            outcome,
            final_status,
            first_time: rec.first_time,
            last_time: rec.last_time,
            invite_time: inits.first().and_then(|e| e.request_time),
            ringing_time: min(&mut inits.iter().filter_map(|e| e.ringing)),
            answer_time: min(&mut inits.iter().filter_map(|e| e.answered.map(|a| a.0))),
            end_time: rec.bye,
            invites: rec.exchanges.iter().filter(|e| !e.update).count(),
            hold_periods: hold_periods(rec),
            media: media_sessions(rec),
            dialogs: rec
                .dialogs
                .iter()
                .copied()
                .filter(|&d| self.dialogs.contains(d))
                .collect(),
            transactions: rec
                .exchanges
                .iter()
                .filter_map(|e| e.txn)
                .filter(|&t| self.txns.contains(t))
                .collect(),
        }
    }

    pub fn call(&self, id: Id) -> Option<Call> {
        self.calls.get(id).map(|rec| self.call_of(id, rec))
    }

    /// Every call held, by the time of its first message.
    pub fn calls(&self) -> Vec<Call> {
        // Sorted as small (time, record) pairs, then built in order: no large moves.
        let mut order: Vec<(f64, Id, &CallRec<B>)> = self
            .calls
            .iter()
            .map(|(id, rec)| (rec.first_time, id, rec))
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        order
            .into_iter()
            .map(|(_, id, rec)| self.call_of(id, rec))
            .collect()
    }

    /// Calls per outcome: those held now and those evicted (counted when evicted).
    pub fn outcome_counts(&self) -> OutcomeCounts {
        let mut n = self.counters.evicted_outcomes;
        for (_, rec) in self.calls.iter() {
            n.add(summarize(rec, self.capture_end(), self.cfg.timeout).0);
        }
        n
    }
}
