//! Stage 5 of the pipeline, the finaliser's output: one [`CallRecord`] per call, with one
//! [`MediaRecord`] per `m=` line of each offer/answer exchange of each dialog. These are the
//! rows of the `calls` and `media` tables. They are derived from the call's records when the
//! call is finished (or a snapshot is asked for), so the order messages came in does not
//! change them.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use super::call::{CallRec, Exchange, Leg};
use super::dtmf::InfoDtmf;
use super::facts::Method;
use super::media::{name, negotiated, SdpRec, StreamView};
use super::text::{PayloadTypes, Text};
use crate::sdp::Direction;

/// What happened to a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A 2xx to the initial INVITE (or a dialog confirmed without the 2xx captured).
    Answered,
    /// 486 Busy Here or 600 Busy Everywhere.
    Busy,
    /// 487 after a CANCEL.
    Cancelled,
    /// Any other final 3xx-6xx (a 487 without a captured CANCEL included).
    Rejected,
    /// 408, or no final response and nothing for `Config::timeout` (64*T1) before the end.
    Timeout,
    /// No final response, and an answer SDP in a provisional response (183 Session Progress
    /// with SDP, RFC 3960) or in the PRACK of one that carried a late offer (RFC 3262 §5):
    /// the caller heard early media (an announcement, a tone), not an answer.
    EarlyMedia,
    /// No final response, and the capture (or the watermark) ended within `Config::timeout`
    /// of the last message.
    InProgress,
    /// The initial INVITE was not captured (the call began before the capture, or its
    /// INVITE went another way): only a re-INVITE, a BYE, responses... were seen. Its
    /// `final_status` and times are those seen, but it is never counted as answered.
    Partial,
}

impl Outcome {
    pub const ALL: [Outcome; 8] = [
        Outcome::Answered,
        Outcome::Busy,
        Outcome::Cancelled,
        Outcome::Rejected,
        Outcome::Timeout,
        Outcome::EarlyMedia,
        Outcome::InProgress,
        Outcome::Partial,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Busy => "busy",
            Outcome::Cancelled => "cancelled",
            Outcome::Rejected => "rejected",
            Outcome::Timeout => "timeout",
            Outcome::EarlyMedia => "early_media",
            Outcome::InProgress => "in_progress",
            Outcome::Partial => "partial",
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
    pub early_media: u64,
    pub in_progress: u64,
    pub partial: u64,
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
            Outcome::EarlyMedia => &mut self.early_media,
            Outcome::InProgress => &mut self.in_progress,
            Outcome::Partial => &mut self.partial,
        }
    }
    pub fn get(&self, o: Outcome) -> u64 {
        let mut c = *self;
        *c.slot(o)
    }
    pub fn total(&self) -> u64 {
        Outcome::ALL.iter().map(|&o| self.get(o)).sum()
    }
    /// The two added.
    pub fn plus(mut self, other: &OutcomeCounts) -> OutcomeCounts {
        for o in Outcome::ALL {
            *self.slot(o) += other.get(o);
        }
        self
    }
}

/// Which side of a call a request came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The From tag of the initial INVITE.
    Caller,
    Callee,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Caller => "caller",
            Side::Callee => "callee",
        }
    }
}

/// One row of the `calls` table.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    /// The Call-ID (as UTF-8, invalid bytes replaced), shared with the media rows.
    pub call_id: Arc<str>,
    pub outcome: Outcome,
    /// The final status deciding the outcome (a 2xx when answered).
    pub final_status: Option<u16>,
    /// The earliest and latest message of the call.
    pub first_time: f64,
    pub last_time: f64,
    /// The first initial INVITE (its earliest copy).
    pub invite_time: Option<f64>,
    /// The first 180-189 to an initial INVITE.
    pub ringing_time: Option<f64>,
    /// The first 2xx to an initial INVITE.
    pub answer_time: Option<f64>,
    /// The first BYE (request or response) of the call's dialog (the first answered; any
    /// dialog's when that one is not known).
    pub end_time: Option<f64>,
    /// The first CANCEL of an initial INVITE.
    pub cancel_time: Option<f64>,
    /// Seconds from the INVITE to the 2xx: the setup time.
    pub time_to_answer: Option<f64>,
    /// Seconds from the INVITE to the first 180-189: the post-dial delay.
    pub post_dial_delay: Option<f64>,
    /// Seconds from the INVITE to its first status indicative response: RFC 6076 §4.2's
    /// Session Request Delay (the first provisional other than 100, else the final response
    /// of a call answered or failed without one; authentication challenges do not count).
    pub srd: Option<f64>,
    /// Seconds from the 2xx to the BYE.
    pub duration: Option<f64>,
    /// The From and To URIs of the initial INVITE (else of the earliest INVITE or ACK).
    pub caller: Option<Text>,
    pub callee: Option<Text>,
    /// Where the initial INVITE was first seen going from and to.
    pub src: Option<SocketAddr>,
    pub dst: Option<SocketAddr>,
    /// INVITE transactions: initial INVITEs (with every hop's and fork's own), re-INVITEs.
    pub invites: u32,
    pub dialogs: u32,
    /// Messages, and copies of messages seen before.
    pub messages: u32,
    pub retransmissions: u32,
    /// Who sent the first BYE.
    pub hangup: Option<Side>,
    /// A provisional response carried the answer (early media).
    pub early_media: bool,
    /// Finished early because the call table was full (`Config::max_calls`): its rows hold
    /// what was seen until then.
    pub evicted: bool,
    /// The media rows of the call.
    pub media: Vec<MediaRecord>,
    /// DTMF digits sent in its INFO requests, in time order.
    pub info_dtmf: Vec<InfoDtmf>,
}

/// One row of the `media` table: one `m=` line of one offer/answer exchange in one dialog.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaRecord {
    pub call_id: Arc<str>,
    /// The To tag of the exchange's messages, in its dialog: the tag of the side the offer's
    /// request went to (the caller's in a re-INVITE the callee sent), so that with `cseq`
    /// it names the exchange (each side numbers its own requests, RFC 3261 §12.2.1.1).
    /// Empty when the exchange was answered by none, or the answer had no tag.
    pub to_tag: Text,
    pub cseq: u32,
    /// INVITE (re-INVITEs included), UPDATE or PRACK.
    pub method: Method,
    pub offer_time: Option<f64>,
    pub answer_time: Option<f64>,
    /// The signalling addresses the offer and the answer came from.
    pub offerer: Option<SocketAddr>,
    pub answerer: Option<SocketAddr>,
    /// The position of the `m=` line (RFC 3264 §6: the answer's lines match the offer's).
    pub media_index: u16,
    /// `audio`, `video`, `image`...
    pub kind: Cow<'static, str>,
    /// The connection address (`c=`, as written) and the `m=` port of each side.
    pub offer_ip: Option<Text>,
    pub offer_port: Option<u16>,
    pub answer_ip: Option<Text>,
    pub answer_port: Option<u16>,
    pub offer_direction: Option<Direction>,
    pub answer_direction: Option<Direction>,
    /// The offer's formats in `m=` order, and their codec names (`a=rtpmap`, else RFC 3551
    /// §6; empty for a dynamic payload type without one).
    pub payload_types: PayloadTypes,
    pub codecs: Vec<Cow<'static, str>>,
    /// The answer's formats and codec names.
    pub answer_payload_types: PayloadTypes,
    pub answer_codecs: Vec<Cow<'static, str>>,
    /// The negotiated codec (RFC 3264: the first of the answer's formats that the offer
    /// had; see `media.rs`), its payload type (the answer's number) and clock rate.
    pub codec: Option<Cow<'static, str>>,
    pub codec_payload_type: Option<u8>,
    pub codec_clock_rate: Option<u32>,
    /// The answer came before the 2xx (early media): in a provisional response, or in the
    /// PRACK of a reliable provisional response that carried a late offer (RFC 3262 §5).
    pub early: bool,
}

/// One offer/answer of one exchange in one leg (To tag).
pub(crate) struct Pair<'a, B> {
    pub exchange: &'a Exchange<B>,
    pub leg: Option<&'a Leg>,
    pub offer: Option<&'a SdpRec>,
    pub answer: Option<&'a SdpRec>,
    pub early: bool,
}

impl<'a, B> Pair<'a, B> {
    pub(crate) fn time(&self) -> f64 {
        self.offer
            .or(self.answer)
            .map_or(self.exchange.first_time, |s| s.time)
    }
}

/// The offer/answer pairs of a call, one per exchange and leg (RFC 3261 §13.2.1, RFC 3264),
/// in time order:
/// - an offer in the request: each leg with an answer, or with a 2xx, gives a pair; an
///   exchange that took effect with neither gives one pair without answer;
/// - no SDP in the request (late offer): each leg's 1xx/2xx SDP is its offer and its ACK's
///   SDP the answer;
/// - the request not captured: each leg's SDP, taken as the answer.
///
/// An exchange refused with a final non-2xx and no early answer gives none (RFC 3264 §5).
pub(crate) fn pairs<B>(rec: &CallRec<B>) -> Vec<Pair<'_, B>> {
    let mut out = Vec::new();
    // PRACKs that carried the answer to a late offer: their SDP is no offer of their own.
    let answering: Vec<usize> = rec
        .exchanges
        .iter()
        .filter(|e| e.late_offer())
        .flat_map(|e| e.legs.iter().filter_map(move |l| prack_answer(rec, e, l)))
        .collect();
    // Offers of PRACKs and UPDATEs sent without a To tag, given to their dialog's exchange.
    let adopted: Vec<(usize, usize)> = (0..rec.exchanges.len())
        .filter(|i| !answering.contains(i))
        .filter_map(|i| Some((i, adopting(rec, i)?)))
        .collect();
    for (i, e) in rec.exchanges.iter().enumerate() {
        if answering.contains(&i) || adopted.iter().any(|&(x, _)| x == i) {
            continue;
        }
        let before = out.len();
        let offer = e.offer.as_ref().or_else(|| {
            let (x, _) = adopted.iter().find(|&&(_, y)| y == i)?;
            rec.exchanges.get(*x)?.offer.as_ref()
        });
        let late = e.late_offer();
        for l in &e.legs {
            let resp = l.answer.as_ref().map(|(s, _)| s);
            let replaced = answer_of(l).filter(|_| !late);
            let (answer, early) = match replaced {
                Some(a) => (Some(a), false),
                None => (resp, leg_early(rec, e, l)),
            };
            let pair = |offer, answer, early| Pair {
                exchange: e,
                leg: Some(l),
                offer,
                answer,
                early,
            };
            if let Some(o) = offer {
                if replaced.is_some() {
                    // The early answer was in effect until the 2xx brought another: its own
                    // row (the ringback or announcement a caller heard, RFC 3960 §3).
                    out.push(pair(Some(o), resp, true));
                }
                if resp.is_some() || l.answered.is_some() {
                    out.push(pair(Some(o), answer, early));
                }
            } else if late {
                let answer = late_answer(rec, e, l).0;
                if resp.is_some() || answer.is_some() {
                    out.push(pair(resp, answer, early));
                }
            } else if resp.is_some() {
                out.push(pair(None, answer, early));
            }
        }
        if out.len() == before && e.offer.is_some() && e.took_effect() {
            out.push(Pair {
                exchange: e,
                leg: None,
                offer: e.offer.as_ref(),
                answer: None,
                early: false,
            });
        }
    }
    // By time, whatever order the legs were made in: the offer's, then the answer's, then
    // the To tag.
    let answer = |p: &Pair<'_, B>| p.answer.map_or(f64::INFINITY, |s| s.time);
    out.sort_by(|a, b| {
        a.time()
            .total_cmp(&b.time())
            .then(answer(a).total_cmp(&answer(b)))
            .then_with(|| leg_tag(rec, a).cmp(leg_tag(rec, b)))
            .then_with(|| exchange_order(a.exchange).cmp(&exchange_order(b.exchange)))
            .then_with(|| cmp_shown(a.offer, b.offer))
            .then_with(|| cmp_shown(a.answer, b.answer))
            .then(a.early.cmp(&b.early))
    });
    out
}

/// The exchange that takes the offer of exchange `x`, a PRACK or UPDATE whose request came
/// without a To tag. Both are sent in a dialog (RFC 3262 §7.2, RFC 3311 §5.1), and a UAS adds
/// its tag to the To of its responses (RFC 3261 §8.2.6.2), so the responses made an exchange
/// under the dialog's tag. That exchange, when it is the only one with the request's CSeq,
/// From tag and method and holds no request of its own, gets the offer; `x` then makes no
/// rows. Chosen from the finished call's exchanges: the same in any feed order.
fn adopting<B>(rec: &CallRec<B>, x: usize) -> Option<usize> {
    let e = rec.exchanges.get(x)?;
    let untagged = e.to_hash == 0 && matches!(e.method, Method::Prack | Method::Update);
    let unanswered = e.legs.iter().all(|l| l.answer.is_none());
    if !untagged || e.offer.is_none() || !unanswered {
        return None;
    }
    let mut tagged = rec.exchanges.iter().enumerate().filter(|(_, y)| {
        y.to_hash != 0 && y.cseq == e.cseq && y.from_hash == e.from_hash && y.method == e.method
    });
    let (y, ex) = tagged.next()?;
    let bare = ex.request.is_none() && ex.offer.is_none();
    (tagged.next().is_none() && bare).then_some(y)
}

/// The dialog (To tag hash) of a PRACK or UPDATE exchange: its own, or for one whose request
/// came without a To tag, the tag of the exchange its responses made (see [`adopting`]).
fn dialog_of<B>(rec: &CallRec<B>, i: usize, e: &Exchange<B>) -> u64 {
    if e.to_hash != 0 {
        return e.to_hash;
    }
    adopting(rec, i)
        .and_then(|y| rec.exchanges.get(y))
        .map_or(0, |y| y.to_hash)
}

/// Two exchanges' pairs alike in time and To tag go by CSeq, method and tags (fixed-key
/// hashes), then two legs' pairs by what their rows show: the same in every feed order and
/// every run (pairs equal in all of it make equal rows).
fn exchange_order<B>(e: &Exchange<B>) -> (u32, u8, u64, u64) {
    (e.cseq, e.method as u8, e.from_order, e.to_order)
}

fn cmp_shown(a: Option<&SdpRec>, b: Option<&SdpRec>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp_shown(b),
        _ => a.is_some().cmp(&b.is_some()),
    }
}

/// The 2xx's SDP of a leg whose provisional response carried another one: the answer in
/// effect once the call is answered (RFC 6337 §3.1.1 has the 2xx repeat the provisional's
/// answer; a device that plays ringback from one media address and talks from another does
/// not). `None` when the 2xx repeated it, had none, or the answer came in the 2xx.
fn answer_of(l: &Leg) -> Option<&SdpRec> {
    let (early, status) = l.answer.as_ref()?;
    let last = l.final_sdp.as_deref()?;
    (*status < 200 && !early.same_media(last)).then_some(last)
}

/// Whether leg `l` of exchange `e` had its answer before its 2xx (early media): in a
/// provisional response, or after a late offer in the PRACK (never in the ACK).
fn leg_early<B>(rec: &CallRec<B>, e: &Exchange<B>, l: &Leg) -> bool {
    if e.late_offer() {
        late_answer(rec, e, l).1
    } else {
        l.early_media()
    }
}

/// The answer to leg `l` of a late-offer exchange `e` (RFC 3261 §13.2.1): the SDP of its ACK,
/// or, when the offer came in a reliable provisional response, of the PRACK (RFC 3262 §5),
/// and whether it came before the leg's 2xx (early media: only a PRACK's can).
pub(crate) fn late_answer<'a, B>(
    rec: &'a CallRec<B>,
    e: &Exchange<B>,
    l: &'a Leg,
) -> (Option<&'a SdpRec>, bool) {
    if let Some(a) = l.ack_sdp.as_deref() {
        return (Some(a), false);
    }
    let prack = prack_answer(rec, e, l)
        .and_then(|i| rec.exchanges.get(i))
        .and_then(|p| p.offer.as_ref());
    match prack {
        Some(a) => (Some(a), l.answered.map_or(true, |(t, _)| a.time < t)),
        None => (None, false),
    }
}

/// The exchange of the PRACK that answered leg `l`'s provisional offer, for a late-offer
/// INVITE `e` with no answer in an ACK: the PRACK with SDP from the INVITE's side with the
/// lowest CSeq above the INVITE's (and below its next INVITE), sent after the offer in the
/// leg's dialog (its To tag). A capture in any order finds the same.
fn prack_answer<B>(rec: &CallRec<B>, e: &Exchange<B>, l: &Leg) -> Option<usize> {
    let (offer, status) = l.answer.as_ref()?;
    if *status >= 200 || l.ack_sdp.is_some() || e.method != Method::Invite {
        return None;
    }
    let after = |x: &Exchange<B>| x.from_hash == e.from_hash && x.cseq > e.cseq;
    let next_invite = rec
        .exchanges
        .iter()
        .filter(|x| x.method == Method::Invite && after(x))
        .map(|x| x.cseq)
        .min();
    rec.exchanges
        .iter()
        .enumerate()
        .filter(|(_, p)| p.method == Method::Prack && after(p))
        .filter(|(_, p)| next_invite.map_or(true, |n| p.cseq < n))
        .filter(|(_, p)| p.offer.as_ref().is_some_and(|s| s.time >= offer.time))
        // Last: for a PRACK without a To tag this looks at the call's other exchanges.
        .filter(|&(i, p)| dialog_of(rec, i, p) == l.to_hash)
        .min_by_key(|(_, p)| p.cseq)
        .map(|(i, _)| i)
}

/// Everything a call row says but its media, computed once for the row and the snapshot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Summary {
    pub outcome: Outcome,
    pub final_status: Option<u16>,
    pub invite_time: Option<f64>,
    pub ringing_time: Option<f64>,
    /// RFC 6076 §4.2's status indicative response (see `CallRecord::srd`).
    pub status_time: Option<f64>,
    pub answer_time: Option<f64>,
    pub cancel_time: Option<f64>,
    pub end_time: Option<f64>,
    pub src: Option<SocketAddr>,
    pub dst: Option<SocketAddr>,
    pub hangup: Option<Side>,
    pub early_media: bool,
}

/// The outcome and times of a call, with the capture (or the watermark) at `end`.
pub(crate) fn summarize<B>(rec: &CallRec<B>, end: f64, timeout: f64) -> Summary {
    // The initial INVITEs: those captured without a To tag; for a call whose initial INVITE
    // was not captured (partial), the INVITE exchanges without a captured request begun
    // before any was answered. No allocation: this runs once per call finished.
    let invite = |e: &&Exchange<B>| e.method == Method::Invite;
    let partial = !rec
        .exchanges
        .iter()
        .filter(invite)
        .any(|e| e.initial == Some(true));
    let presumed_end = if partial {
        rec.exchanges
            .iter()
            .filter(invite)
            .filter(|e| e.initial.is_none())
            .filter_map(|e| e.answered().map(|a| a.0))
            .reduce(f64::min)
    } else {
        None
    };
    let is_init = move |e: &&Exchange<B>| {
        invite(e)
            && if partial {
                e.initial.is_none() && presumed_end.map_or(true, |a| e.first_time <= a)
            } else {
                e.initial == Some(true)
            }
    };
    let inits = || rec.exchanges.iter().filter(is_init);
    // First and last by time, then CSeq, then From tag: the same whatever the order the
    // exchanges were made in (equal elements would otherwise go by that order), and in every
    // run (the From tag's fixed-key hash, not the correlator's keyed one).
    let order = |a: &&Exchange<B>, b: &&Exchange<B>| {
        a.first_time
            .total_cmp(&b.first_time)
            .then(a.cseq.cmp(&b.cseq))
            .then(a.from_order.cmp(&b.from_order))
    };
    // The first initial INVITE is the earliest request seen: an exchange a response opened
    // before its request was captured starts earlier than that request.
    let first = inits()
        .filter_map(|e| Some((e.request?, e)))
        .min_by(|(ra, a), (rb, b)| ra.0.total_cmp(&rb.0).then_with(|| order(a, b)))
        .map(|(r, _)| r);
    let last = inits().max_by(order);
    let min = |it: &mut dyn Iterator<Item = f64>| it.reduce(f64::min);
    // The earliest 2xx, and the dialog it made: the call's (a forked call may have more).
    // Two at the same time go by status, then From tag (fixed-key hash): not by the order
    // the exchanges were made in.
    let first_2xx = inits()
        .flat_map(|e| e.legs.iter().map(move |l| (e, l)))
        .filter_map(|(e, l)| Some((l.answered?, e.from_order, e.from_hash, l.to_hash)))
        .min_by(|a, b| {
            (a.0 .0.total_cmp(&b.0 .0))
                .then(a.0 .1.cmp(&b.0 .1))
                .then(a.1.cmp(&b.1))
        })
        .map(|(a, _, from, to)| (a, from, to));
    let answered = first_2xx.map(|(a, _, _)| a);
    let bye = first_2xx
        .and_then(|(_, from, to)| {
            rec.dialogs
                .iter()
                .find(|d| d.has_tag(from) && d.has_tag(to))
        })
        .and_then(|d| d.bye_at)
        .or(rec.bye);
    let early_media = inits().any(|e| e.legs.iter().any(|l| leg_early(rec, e, l)));
    let (outcome, final_status) = if let Some((_, s)) = answered {
        (Outcome::Answered, Some(s))
    } else if let Some((_, s)) = last.and_then(|e| e.final_()) {
        let cancelled = last.is_some_and(|e| e.cancel.is_some());
        (Outcome::of_final(s, cancelled), Some(s))
    } else if rec.confirmed || rec.bye.is_some() {
        (Outcome::Answered, None)
    } else if early_media {
        (Outcome::EarlyMedia, None)
    } else if end - rec.last_time > timeout {
        (Outcome::Timeout, None)
    } else {
        (Outcome::InProgress, None)
    };
    let hangup = match (bye, rec.caller.as_ref()) {
        (Some(b), Some(c)) => Some(if b.from_hash == c.from_hash {
            Side::Caller
        } else {
            Side::Callee
        }),
        _ => None,
    };
    Summary {
        outcome: if partial { Outcome::Partial } else { outcome },
        final_status,
        invite_time: first.map(|r| r.0),
        ringing_time: min(&mut inits().filter_map(|e| e.ringing())),
        status_time: min(&mut inits().filter_map(|e| e.status_indicative())),
        answer_time: answered.map(|a| a.0),
        cancel_time: min(&mut inits().filter_map(|e| e.cancel)),
        end_time: bye.map(|b| b.time),
        src: first.map(|r| r.1),
        dst: first.map(|r| r.2),
        hangup,
        early_media,
    }
}

/// `b - a` when both are known.
pub(crate) fn span(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(b? - a?)
}

/// The To tag of a pair's leg: the dialog's tag other than the exchange sender's; for a leg
/// no dialog has, the tag its ACKs came with.
pub(crate) fn leg_tag<'a, B>(rec: &'a CallRec<B>, p: &Pair<'a, B>) -> &'a [u8] {
    let Some(leg) = p.leg else {
        return &[];
    };
    rec.dialogs
        .iter()
        .find(|d| d.has_tag(leg.to_hash) && d.has_tag(p.exchange.from_hash))
        .or_else(|| rec.dialogs.iter().find(|d| d.has_tag(leg.to_hash)))
        .map_or(leg.ack_tag.as_deref().unwrap_or(&[]), |d| {
            if d.hash_a == leg.to_hash {
                d.tag_a()
            } else {
                d.tag_b()
            }
        })
}

/// The media rows of one pair: one per `m=` line of the offer or the answer.
/// The media rows a pair gives: one per `m=` line of its offer or answer, the longer.
fn row_count<B>(p: &Pair<'_, B>) -> usize {
    p.offer
        .map_or(0, |s| s.stream_count())
        .max(p.answer.map_or(0, |s| s.stream_count()))
}

fn media_rows<B>(call_id: &Arc<str>, to_tag: &str, p: &Pair<'_, B>, out: &mut Vec<MediaRecord>) {
    for i in 0..row_count(p) {
        let os = p.offer.and_then(|s| s.stream(i));
        let an = p.answer.and_then(|s| s.stream(i));
        let codec = os.zip(an).and_then(|(o, a)| negotiated(&o, &a));
        let pts = |s: Option<StreamView<'_>>| {
            s.map_or_else(PayloadTypes::default, |s| {
                PayloadTypes::new(s.payload_types())
            })
        };
        let names = |s: Option<StreamView<'_>>| {
            s.map_or_else(Vec::new, |s| s.codec_names().map(name).collect())
        };
        out.push(MediaRecord {
            call_id: Arc::clone(call_id),
            to_tag: to_tag.into(),
            cseq: p.exchange.cseq,
            method: p.exchange.method,
            offer_time: p.offer.map(|s| s.time),
            answer_time: p.answer.map(|s| s.time),
            offerer: p.offer.map(|s| s.from),
            answerer: p.answer.map(|s| s.from),
            media_index: u16::try_from(i).unwrap_or(u16::MAX),
            kind: name(os.or(an).map_or("", |s| s.kind)),
            offer_ip: os.and_then(|s| s.address).map(Text::new),
            offer_port: os.map(|s| s.port),
            answer_ip: an.and_then(|s| s.address).map(Text::new),
            answer_port: an.map(|s| s.port),
            offer_direction: os.map(|s| s.direction),
            answer_direction: an.map(|s| s.direction),
            payload_types: pts(os),
            codecs: names(os),
            answer_payload_types: pts(an),
            answer_codecs: names(an),
            codec: codec.map(|(_, n)| name(n)),
            codec_payload_type: codec.map(|(f, _)| f.payload_type),
            codec_clock_rate: codec.map(|(f, _)| f.clock_rate).filter(|&r| r > 0),
            early: p.early,
        });
    }
}

/// The call's row, with its media rows.
pub(crate) fn record<B>(rec: &CallRec<B>, s: &Summary, evicted: bool) -> CallRecord {
    let call_id: Arc<str> = crate::scan::lossy_str(&rec.call_id).into();
    let pairs = pairs(rec);
    // Sized exactly: a vector's first growth makes room for four rows (over 1 KB, an
    // allocation that makes the allocator consolidate its free lists).
    let mut media = Vec::with_capacity(pairs.iter().map(row_count).sum());
    for p in &pairs {
        let to_tag = crate::scan::lossy_str(leg_tag(rec, p));
        media_rows(&call_id, &to_tag, p, &mut media);
    }
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    CallRecord {
        call_id,
        outcome: s.outcome,
        final_status: s.final_status,
        first_time: rec.first_time,
        last_time: rec.last_time,
        invite_time: s.invite_time,
        ringing_time: s.ringing_time,
        answer_time: s.answer_time,
        end_time: s.end_time,
        cancel_time: s.cancel_time,
        time_to_answer: span(s.invite_time, s.answer_time),
        post_dial_delay: span(s.invite_time, s.ringing_time),
        srd: span(s.invite_time, s.status_time).filter(|&d| d >= 0.0),
        duration: span(s.answer_time, s.end_time).filter(|&d| d >= 0.0),
        caller: rec.caller_uri().map(Text::new),
        callee: rec.callee_uri().map(Text::new),
        src: s.src,
        dst: s.dst,
        invites: count(rec.invites()),
        dialogs: count(rec.dialogs.len()),
        messages: rec.messages,
        retransmissions: rec.retransmissions,
        hangup: s.hangup,
        early_media: s.early_media,
        evicted,
        media,
        info_dtmf: info_dtmf(rec),
    }
}

/// The call's INFO digits in time order (fed out of order, they were recorded as they came).
pub(crate) fn info_dtmf<B>(rec: &CallRec<B>) -> Vec<InfoDtmf> {
    let mut v: Vec<InfoDtmf> = rec.info_dtmf.iter().map(|r| r.dtmf.clone()).collect();
    v.sort_by(super::dtmf::order);
    v
}
