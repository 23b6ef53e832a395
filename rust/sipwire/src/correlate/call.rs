//! Stage 4 of the pipeline: the call. A call is everything seen with one Call-ID: its
//! transactions (stage 2), its dialogs (stage 3), and the INVITE, UPDATE and PRACK
//! exchanges this stage records. A Call-ID whose messages never include a method of an INVITE
//! dialog (INVITE, ACK, CANCEL, BYE, PRACK, UPDATE, INFO) is not a call: its transactions are
//! kept as long as they last, then let go without a row.
//!
//! An **exchange** is one request of the call's offer/answer flow, keyed by CSeq number,
//! From tag and method (RFC 3261 §8.1.1.5: the CSeq orders a sender's requests; a proxy
//! forwards it unchanged, §16.6, so every hop's copy is the same exchange). Its responses are
//! kept per **leg**, one per To tag (a forking proxy sends one INVITE to several phones, each
//! answering with its own tag, RFC 3261 §16.7, §13.2.2.4): each leg has its own times, final
//! status, answer and ACK. Everything is recorded by value with the earliest copy's time, so
//! the order messages are fed in does not change the answer.
//!
//! Offer and answer (RFC 3264, RFC 3261 §13.2.1): the request's SDP is the offer and a leg's
//! first 1xx/2xx SDP its answer; an INVITE without SDP has the offer in each leg's 2xx (or
//! reliable 1xx) and the answer in its ACK (or PRACK).

use std::net::SocketAddr;

use super::dialog::{ByeAt, DialogRec};
use super::dtmf::InfoRec;
use super::facts::{Method, Seen};
use super::hash::Keys;
use super::media::{keep_earliest, keep_earliest_boxed, SdpRec};
use super::recycle::Recycled;
use super::txn::{earliest, earliest_with, Hops, Kept, Recent, TxnRec};
use super::Captured;

/// The responses of one exchange with one To tag.
#[derive(Debug)]
pub(crate) struct Leg {
    /// The To tag's hash (0: no To tag, a 100 Trying).
    pub to_hash: u64,
    /// The first 180-189 (RFC 3261 §21.1: ringing, forwarded, queued, session progress).
    pub ringing: Option<f64>,
    /// The first provisional other than 100 (101-199): RFC 6076 §4.2's status indicative
    /// response.
    pub progress: Option<f64>,
    pub answered: Option<(f64, u16)>,
    /// The earliest final response of this leg.
    pub final_: Option<(f64, u16)>,
    /// The first 1xx/2xx SDP (and the status it came in).
    pub answer: Option<(SdpRec, u16)>,
    /// The first 2xx SDP when `answer` came in a provisional response. RFC 6337 §3.1.1 has
    /// the 2xx repeat the provisional's answer; devices that ring from one media address and
    /// talk from another send a different one, and the rows take it then (`rows::answer_of`).
    /// (Boxed, as `ack_sdp`: most legs have none, and a leg is a third smaller without them.)
    pub final_sdp: Option<Box<SdpRec>>,
    /// The earliest 2xx ACK (a non-2xx ACK is part of the INVITE transaction only).
    pub ack: Option<f64>,
    /// The 2xx ACKs seen: their top Via and hop (a retransmission repeats both).
    pub ack_hops: Hops,
    pub ack_sdp: Option<Box<SdpRec>>,
    /// The To tag of its ACKs, kept when no dialog had the tag (a capture that began after the
    /// 2xx: an ACK joins a dialog, never makes one). Rows name the leg's dialog by it when no
    /// dialog has the tag when the call finishes.
    pub ack_tag: Option<Box<[u8]>>,
}

impl Leg {
    fn new(to_hash: u64) -> Leg {
        Leg {
            to_hash,
            ringing: None,
            progress: None,
            answered: None,
            final_: None,
            answer: None,
            final_sdp: None,
            ack: None,
            ack_hops: Hops::default(),
            ack_sdp: None,
            ack_tag: None,
        }
    }

    /// Whether its answer SDP came in a provisional response (early media, RFC 3960).
    pub(crate) fn early_media(&self) -> bool {
        self.answer.as_ref().is_some_and(|(_, s)| *s < 200)
    }
}

/// One INVITE, UPDATE or PRACK request and everything that answered it.
pub(crate) struct Exchange<B> {
    pub cseq: u32,
    pub from_hash: u64,
    /// The From tag hashed with fixed keys: what orders two exchanges alike in everything
    /// else, the same in every run (`from_hash`'s keys are each correlator's own).
    pub from_order: u64,
    pub method: Method,
    /// The To tag (hashed) of a PRACK or UPDATE exchange, 0 for INVITE's. Each early dialog
    /// of a forked INVITE counts its own CSeq from the INVITE's (RFC 3261 §12.1.2), so the
    /// PRACKs of two forks share CSeq and From tag: only the To tag tells their offers and
    /// answers apart (RFC 3262 §7.2: a PRACK is sent in its provisional response's dialog).
    /// `to_order`: that To tag hashed with fixed keys, as `from_order`.
    pub to_hash: u64,
    pub to_order: u64,
    /// Whether the request was initial (an INVITE without To tag); `None` when no copy of
    /// the request was captured.
    pub initial: Option<bool>,
    pub first_time: f64,
    /// The earliest copy of the request, and its addresses.
    pub request: Option<(f64, SocketAddr, SocketAddr)>,
    pub cancel: Option<f64>,
    /// The request's SDP; `req_without_sdp`: a copy of the request had none.
    pub offer: Option<SdpRec>,
    pub req_without_sdp: bool,
    /// One leg per To tag, bounded by `Config::max_dialogs_per_call`.
    pub legs: Recycled<Leg>,
    /// A 2xx ACK kept (`Config::keep_messages`) while no INVITE transaction of this exchange
    /// is known.
    pub parked: Option<Box<Captured<B>>>,
    /// Copies of 2xx ACKs seen again while no INVITE transaction was known (they are the
    /// transaction's retransmissions once it is).
    pub parked_again: u32,
}

impl<B> Exchange<B> {
    pub(crate) fn new(
        cseq: u32,
        (from_hash, from_order, to_hash, to_order): (u64, u64, u64, u64),
        method: Method,
        t: f64,
    ) -> Exchange<B> {
        Exchange {
            cseq,
            from_hash,
            from_order,
            method,
            to_hash,
            to_order,
            initial: None,
            first_time: t,
            request: None,
            cancel: None,
            offer: None,
            req_without_sdp: false,
            // Most exchanges have a leg without To tag (100 Trying) and one with (the answer).
            legs: Recycled::with_capacity(2),
            parked: None,
            parked_again: 0,
        }
    }

    /// A recycled exchange made the exchange of (CSeq, From tag, method, To tag); its SDP
    /// records go to `spare` first.
    fn reset(
        &mut self,
        cseq: u32,
        (from_hash, from_order, to_hash, to_order): (u64, u64, u64, u64),
        method: Method,
        t: f64,
        spare: &mut Spare,
    ) {
        self.cseq = cseq;
        self.from_hash = from_hash;
        self.from_order = from_order;
        self.method = method;
        self.to_hash = to_hash;
        self.to_order = to_order;
        self.initial = None;
        self.first_time = t;
        self.request = None;
        self.cancel = None;
        spare.give(self.offer.take());
        self.req_without_sdp = false;
        self.legs.clear();
        self.parked = None;
        self.parked_again = 0;
    }

    /// Hands its SDP records to `spare` (the exchange is being recycled).
    fn give_sdp(&mut self, spare: &mut Spare) {
        spare.give(self.offer.take());
        for l in self.legs.iter_mut() {
            spare.give(l.answer.take().map(|a| a.0));
            spare.give(l.final_sdp.take().map(|b| *b));
            spare.give(l.ack_sdp.take().map(|b| *b));
        }
    }

    /// Whether a copy seen before (`m.again`) is earlier than the SDP its slot holds (the
    /// offer, or its leg's answer or ACK answer), or the slot holds none: its SDP is then
    /// read, as it may be the slot's earliest. The held record may have come from another
    /// message under the same key (another hop, To tag or body), so a copy cannot just
    /// move it to its own time.
    pub(crate) fn copy_is_earlier(&self, m: &ExMsg) -> bool {
        let leg = || self.legs.iter().find(|l| l.to_hash == m.to_hash);
        let held = match (m.status, m.method) {
            (None, Method::Ack) => leg().and_then(|l| l.ack_sdp.as_deref()),
            (None, _) => self.offer.as_ref(),
            // A 2xx after a provisional's SDP is read against the 2xx SDP held.
            (Some(s), _) => leg().and_then(|l| match &l.answer {
                Some((_, a)) if *a < 200 && (200..300).contains(&s) => l.final_sdp.as_deref(),
                a => a.as_ref().map(|(a, _)| a),
            }),
        };
        held.map_or(true, |h| m.t < h.time)
    }

    /// The leg of To tag hash `h`, made when new and there is room.
    pub(crate) fn leg(&mut self, h: u64, max: usize) -> Option<&mut Leg> {
        let i = match self.legs.iter().position(|l| l.to_hash == h) {
            Some(i) => i,
            None if self.legs.len() >= max => return None,
            None => self.legs.push_with(|| Leg::new(h), |l| *l = Leg::new(h)),
        };
        self.legs.get_mut(i)
    }

    /// The earliest 2xx of any leg.
    pub(crate) fn answered(&self) -> Option<(f64, u16)> {
        self.legs
            .iter()
            .filter_map(|l| l.answered)
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
    }

    /// The exchange's final status: the earliest 2xx of any leg; else the latest non-2xx
    /// final (a forking proxy sends its best response after its branches' finals, RFC 3261
    /// §16.7 step 6).
    pub(crate) fn final_(&self) -> Option<(f64, u16)> {
        self.answered().or_else(|| {
            self.legs
                .iter()
                .filter_map(|l| l.final_)
                // At the same time, the higher status: not the leg made last.
                .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        })
    }

    /// The first 180-189 of any leg.
    pub(crate) fn ringing(&self) -> Option<f64> {
        self.legs.iter().filter_map(|l| l.ringing).reduce(f64::min)
    }

    /// The first response of any leg that tells the request's status (RFC 6076 §4.2): a
    /// provisional other than 100, or a final other than an authentication challenge (401,
    /// 407: the caller's next INVITE is still this call's request, §22.2).
    pub(crate) fn status_indicative(&self) -> Option<f64> {
        self.legs
            .iter()
            .flat_map(|l| {
                let fin = l.final_.filter(|(_, s)| !matches!(s, 401 | 407));
                [l.progress, fin.map(|(t, _)| t)]
            })
            .flatten()
            .reduce(f64::min)
    }

    /// An exchange refused with a final non-2xx changes nothing (RFC 3264 §5: no answer).
    pub(crate) fn took_effect(&self) -> bool {
        self.answered().is_some() || self.final_().is_none()
    }

    /// Whether its request carried no offer (a late offer, RFC 3261 §13.2.1): a response's
    /// SDP is then the offer and the answer comes in the ACK.
    pub(crate) fn late_offer(&self) -> bool {
        self.offer.is_none()
            && (self.req_without_sdp || self.legs.iter().any(|l| l.ack_sdp.is_some()))
    }
}

/// Who a call's caller is, as well as can be told: the From of an initial INVITE, else of
/// the earliest INVITE or ACK seen (priority, time, From tag hash), with the From and To URIs
/// of that message.
pub(crate) struct Caller {
    pub priority: u8,
    pub time: f64,
    pub from_hash: u64,
    /// The From tag's fixed-key hash: the last tie-break between two of the same rank and
    /// time (`note_caller`).
    pub from_order: u64,
    /// Where the From URI ends in `CallRec::caller_uris` (the To URI follows).
    split: usize,
}

/// How far a call has come, for its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not a call (no method of an INVITE dialog).
    NotACall,
    /// An INVITE with no response yet.
    Trying,
    /// A provisional response, no final.
    Proceeding,
    /// Answered, or a dialog confirmed: in the call.
    Established,
    /// A BYE, or a final non-2xx to the initial INVITE, whose own end (the BYE's response,
    /// the failure's ACK) was not seen: retransmissions may follow for 64*T1.
    Ended,
    /// Ended, and the end's last message seen (the BYE answered, the failure ACKed): only
    /// copies of those can follow, for T4 (Timers K and I, RFC 3261 §17.1.2.2, §17.2.1).
    Closed,
}

/// Everything seen with one Call-ID.
pub(crate) struct CallRec<B> {
    /// (A vector: a recycled call refills it.)
    pub call_id: Vec<u8>,
    /// A method of an INVITE dialog was seen.
    pub is_call: bool,
    pub first_time: f64,
    pub last_time: f64,
    /// The deadline of its newest entry in the finaliser's queue.
    pub queued_at: f64,
    pub txns: Recycled<TxnRec<B>>,
    pub dialogs: Recycled<DialogRec>,
    pub exchanges: Recycled<Exchange<B>>,
    /// The earliest BYE (request or response) of any dialog.
    pub bye: Option<ByeAt>,
    /// A 2xx to INVITE or an in-dialog request confirmed a dialog.
    pub confirmed: bool,
    /// Its last message left it ended, not closed (see stage 6 in mod.rs).
    pub ended: bool,
    pub caller: Option<Caller>,
    /// The caller's From URI then To URI.
    caller_uris: String,
    pub messages: u32,
    pub retransmissions: u32,
    /// Its last messages, to tell a frame captured twice (txn.rs).
    pub recent: Recent,
    /// Bytes of messages kept for it (`Config::keep_messages`).
    pub kept_bytes: usize,
    /// Its messages' From, To and Via values, parsed (boxed: the record is moved into and
    /// out of its table, and this is most of its size).
    pub seen: Box<Seen>,
    /// DTMF digits of its INFO requests (dtmf.rs).
    pub info_dtmf: Vec<InfoRec>,
}

/// SDP records of recycled calls, for the next ones to fill (bounded: two per shell the
/// correlator keeps, an offer and an answer).
pub(crate) struct Spare {
    sdp: Vec<SdpRec>,
    pub(crate) max: usize,
}

impl Default for Spare {
    fn default() -> Self {
        Spare {
            sdp: Vec::new(),
            max: 2 * super::MIN_SHELLS,
        }
    }
}

impl Spare {
    pub(crate) fn give(&mut self, s: Option<SdpRec>) {
        if let Some(s) = s.filter(|_| self.sdp.len() < self.max) {
            self.sdp.push(s);
        }
    }

    pub(crate) fn take(&mut self) -> Option<SdpRec> {
        self.sdp.pop()
    }
}

impl<B> CallRec<B> {
    pub(crate) fn new(call_id: &[u8], t: f64) -> CallRec<B> {
        CallRec {
            call_id: call_id.to_vec(),
            is_call: false,
            first_time: t,
            last_time: t,
            queued_at: f64::INFINITY,
            // A call's usual records (an INVITE and a BYE transaction, one dialog, one
            // exchange): the room for them is made once, not grown (a vector's first growth
            // would make room for four).
            txns: Recycled::with_capacity(2),
            dialogs: Recycled::with_capacity(1),
            exchanges: Recycled::with_capacity(1),
            bye: None,
            confirmed: false,
            ended: false,
            caller: None,
            caller_uris: String::new(),
            messages: 0,
            retransmissions: 0,
            recent: Recent::default(),
            kept_bytes: 0,
            seen: Box::default(),
            info_dtmf: Vec::new(),
        }
    }

    /// A finished call made a new one: its records and buffers are kept for reuse (its SDP
    /// records go to `spare`, its kept messages are dropped).
    pub(crate) fn reset(&mut self, call_id: &[u8], t: f64, spare: &mut Spare) {
        self.call_id.clear();
        self.call_id.extend_from_slice(call_id);
        self.is_call = false;
        self.first_time = t;
        self.last_time = t;
        self.queued_at = f64::INFINITY;
        for x in self.txns.iter_mut() {
            x.kept = None;
        }
        self.txns.clear();
        self.dialogs.clear();
        for e in self.exchanges.iter_mut() {
            e.give_sdp(spare);
            e.parked = None;
        }
        self.exchanges.clear();
        self.bye = None;
        self.confirmed = false;
        self.ended = false;
        self.caller = None;
        self.caller_uris.clear();
        self.messages = 0;
        self.retransmissions = 0;
        self.recent = Recent::default();
        self.kept_bytes = 0;
        self.seen.clear();
        self.info_dtmf.clear();
    }

    /// Whether its buffers grew past what an ordinary call needs (a hostile one's): such a
    /// record is dropped rather than kept for reuse.
    pub(crate) fn oversized(&self) -> bool {
        self.txns.capacity() > 16
            || self.dialogs.capacity() > 8
            || self.exchanges.capacity() > 16
            || self.call_id.capacity() > 1024
            || self.caller_uris.capacity() > 2048
            || self.info_dtmf.capacity() > 64
    }

    /// Sets the caller (see `note_caller`).
    pub(crate) fn set_caller(
        &mut self,
        priority: u8,
        time: f64,
        (from_hash, from_order): (u64, u64),
        from: &str,
        to: &str,
    ) {
        self.caller_uris.clear();
        self.caller_uris.push_str(from);
        self.caller_uris.push_str(to);
        self.caller = Some(Caller {
            priority,
            time,
            from_hash,
            from_order,
            split: from.len(),
        });
    }

    /// The caller's From and To URIs as kept (empty when they did not parse).
    pub(crate) fn caller_texts(&self) -> (&str, &str) {
        let Some(c) = self.caller.as_ref() else {
            return ("", "");
        };
        (
            self.caller_uris.get(..c.split).unwrap_or_default(),
            self.caller_uris.get(c.split..).unwrap_or_default(),
        )
    }

    /// The caller's From URI, `None` when unknown or it did not parse.
    pub(crate) fn caller_uri(&self) -> Option<&str> {
        Some(self.caller_texts().0).filter(|s| !s.is_empty())
    }

    /// The callee's URI (the To of the caller's INVITE).
    pub(crate) fn callee_uri(&self) -> Option<&str> {
        Some(self.caller_texts().1).filter(|s| !s.is_empty())
    }

    /// The exchange of (CSeq, From tag, method, and for PRACK and UPDATE the To tag: see
    /// `Exchange::to_hash`), made when new and there is room.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn exchange(
        &mut self,
        cseq: u32,
        (from_hash, from_tag): (u64, &[u8]),
        (to_hash, to_tag): (u64, &[u8]),
        method: Method,
        t: f64,
        max: usize,
        spare: &mut Spare,
    ) -> Option<usize> {
        let to_hash = if method == Method::Invite { 0 } else { to_hash };
        if let Some(i) = self.exchanges.iter().position(|e| {
            e.cseq == cseq && e.from_hash == from_hash && e.method == method && e.to_hash == to_hash
        }) {
            return Some(i);
        }
        if self.exchanges.len() >= max {
            return None;
        }
        let to_order = if to_hash == 0 {
            0
        } else {
            Keys::FIXED.hash_bytes(to_tag)
        };
        let from = (
            from_hash,
            Keys::FIXED.hash_bytes(from_tag),
            to_hash,
            to_order,
        );
        Some(self.exchanges.push_with(
            || Exchange::new(cseq, from, method, t),
            |e| e.reset(cseq, from, method, t, spare),
        ))
    }

    /// How far the call has come (read on every message: no allocation).
    pub(crate) fn phase(&self) -> Phase {
        if !self.is_call {
            return Phase::NotACall;
        }
        // Ended by BYE once no confirmed dialog is left open: a forked call's caller hangs
        // up the dialogs it does not want (§13.2.2.4) and talks on in the one it keeps.
        if self.bye.is_some() && !self.dialogs.iter().any(|d| d.confirmed && !d.bye) {
            let answered = self
                .txns
                .iter()
                .filter(|x| x.method == Method::Bye)
                .all(|x| x.final_.is_some());
            return if answered {
                Phase::Closed
            } else {
                Phase::Ended
            };
        }
        if self.confirmed {
            return Phase::Established;
        }
        let mut last: Option<&Exchange<B>> = None;
        let (mut responded, mut answered, mut finished) = (false, false, false);
        for e in self.exchanges.iter() {
            responded |= !e.legs.is_empty();
            answered |= e.method == Method::Invite && e.answered().is_some();
            finished |= e.method == Method::Invite && e.final_().is_some();
            if e.method == Method::Invite
                && e.initial == Some(true)
                && last.map_or(true, |l| e.first_time > l.first_time)
            {
                last = Some(e);
            }
        }
        if answered {
            return Phase::Established;
        }
        // The last initial INVITE's final ends the call (an earlier one's may be followed by
        // a retry with credentials, RFC 3261 §22.2); without any initial INVITE captured, any
        // final does.
        let ended = match last {
            Some(e) => e.final_().map(|_| e.legs.iter().any(|l| l.ack.is_some())),
            None => finished.then_some(false),
        };
        if let Some(acked) = ended {
            if acked {
                Phase::Closed
            } else {
                Phase::Ended
            }
        } else if responded || self.txns.iter().any(|x| !x.responses.is_empty()) {
            Phase::Proceeding
        } else {
            Phase::Trying
        }
    }

    /// The INVITE transactions (initial INVITEs, the copies other hops and forks of them made,
    /// and re-INVITEs). A transaction made by a CANCEL or ACK alone (its INVITE not captured)
    /// is not one.
    pub(crate) fn invites(&self) -> usize {
        self.txns
            .iter()
            .filter(|x| {
                x.method == Method::Invite && (x.request.is_some() || !x.responses.is_empty())
            })
            .count()
    }
}

impl<B: AsRef<[u8]>> CallRec<B> {
    /// Moves a kept 2xx ACK from exchange `e` into INVITE transaction `x` once it is known
    /// (it stays with the exchange, and is freed with the call, when `x` has one already).
    pub(crate) fn unpark(&mut self, e: usize, x: usize) {
        let Some(ex) = self.exchanges.get_mut(e) else {
            return;
        };
        let Some(txn) = self.txns.get_mut(x) else {
            return;
        };
        if txn.method != Method::Invite || ex.parked.is_none() {
            return;
        }
        let kept: &mut Kept<B> = txn.kept.get_or_insert_with(Box::default);
        if kept.ack.is_none() {
            if let Some(ack) = ex.parked.take() {
                txn.kept_bytes += ack.bytes_len();
                kept.ack = Some(*ack);
            }
        }
    }
}

/// What the call stage reads of one message.
pub(crate) struct ExMsg {
    pub status: Option<u16>,
    pub method: Method,
    pub to_tag_empty: bool,
    pub to_hash: u64,
    pub t: f64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// A copy of a message seen before.
    pub again: bool,
}

/// Records a message in its exchange: times (the earliest copy's), finals, offers and
/// answers. `sdp` is the message's SDP, read only for a first copy that can carry one.
/// Returns an SDP record not kept (for reuse).
pub(crate) fn update_exchange<B>(
    ex: &mut Exchange<B>,
    m: &ExMsg,
    sdp: Option<SdpRec>,
    max_legs: usize,
) -> Option<SdpRec> {
    let t = m.t;
    ex.first_time = ex.first_time.min(t);
    match (m.status, m.method) {
        (None, Method::Invite | Method::Update | Method::Prack) => {
            if ex.request.map_or(true, |(r, _, _)| t < r) {
                ex.request = Some((t, m.src, m.dst));
            }
            // Initial when any copy was (a To-tagless INVITE): not whichever came last, so
            // that feed order does not matter (two INVITEs can share CSeq and From tag).
            let initial = m.method == Method::Invite && m.to_tag_empty;
            ex.initial = Some(initial || ex.initial == Some(true));
            match sdp {
                Some(s) => keep_earliest(&mut ex.offer, s),
                None if !m.again => {
                    ex.req_without_sdp = true;
                    None
                }
                None => None,
            }
        }
        (None, Method::Cancel) => {
            earliest(&mut ex.cancel, t);
            sdp
        }
        (None, Method::Ack) => {
            let Some(leg) = ex.leg(m.to_hash, max_legs) else {
                return sdp;
            };
            earliest(&mut leg.ack, t);
            match sdp {
                Some(s) => keep_earliest_boxed(&mut leg.ack_sdp, s),
                None => None,
            }
        }
        (Some(s), Method::Invite | Method::Update | Method::Prack) => {
            let Some(leg) = ex.leg(m.to_hash, max_legs) else {
                return sdp;
            };
            if (180..190).contains(&s) {
                earliest(&mut leg.ringing, t);
            }
            if (101..200).contains(&s) {
                earliest(&mut leg.progress, t);
            }
            if (200..300).contains(&s) {
                earliest_with(&mut leg.answered, t, s);
            }
            if s >= 200 {
                earliest_with(&mut leg.final_, t, s);
            }
            let sd = sdp?;
            let two = (200..300).contains(&s);
            // The earliest SDP is the answer; the earliest 2xx SDP is kept beside an answer
            // of a provisional response, whichever order they come in.
            if leg.answer.as_ref().map_or(true, |(a, _)| sd.time < a.time) {
                match leg.answer.replace((sd, s)) {
                    Some((old, o)) if (200..300).contains(&o) && s < 200 => {
                        keep_earliest_boxed(&mut leg.final_sdp, old)
                    }
                    old => old.map(|(old, _)| old),
                }
            } else if two && leg.answer.as_ref().is_some_and(|(_, a)| *a < 200) {
                keep_earliest_boxed(&mut leg.final_sdp, sd)
            } else {
                Some(sd)
            }
        }
        _ => sdp,
    }
}

/// Whether a message's SDP is wanted by its exchange.
pub(crate) fn wants_sdp(status: Option<u16>, method: Method) -> bool {
    match (status, method) {
        (None, Method::Invite | Method::Update | Method::Prack | Method::Ack) => true,
        (Some(s), Method::Invite | Method::Update | Method::Prack) => (101..300).contains(&s),
        _ => false,
    }
}

/// Methods that make a Call-ID a call.
pub(crate) fn is_call_method(m: Method) -> bool {
    matches!(
        m,
        Method::Invite
            | Method::Ack
            | Method::Cancel
            | Method::Bye
            | Method::Prack
            | Method::Update
            | Method::Info
    )
}
