//! The dialogs of an endpoint: matching requests to dialogs (§12.2.2), the checks of §8.2.2.2
//! and §12.2.2 (482, 481, 500), re-INVITE glare (§14), forking (§13.2.2.4), and the 2xx
//! retransmissions a UAS makes until the ACK (§13.3.1.4).
//!
//! ## Theory of operation
//!
//! The user tells [`Dialogs`] what it received ([`Dialogs::on_request`],
//! [`Dialogs::on_response`]) and what it sent ([`Dialogs::on_response_sent`]); it answers
//! with verdicts (reject with a status, an in-dialog request, an ACK) and, for responses to
//! this side's INVITE, the ACK and BYE to send. Time enters only through `now`: 2xx
//! retransmissions come out of [`Dialogs::poll_action`] after [`Dialogs::tick`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::Hasher;

use super::state::{cseq_of, tag_of, Dialog, DialogId, DialogState, OutRequest};
use crate::error::Error;
use crate::message::{HeaderName, Message, MessageIndex};
use crate::txn::table::HashIndex;
use crate::txn::{Peer, Timers, TxnId};

/// Limits and timers of the dialog layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DialogConfig {
    pub timers: Timers,
    /// At most this many dialogs; a new one beyond it is refused (counted).
    pub max_dialogs: usize,
    /// How many recent requests are remembered to detect merged requests (§8.2.2.2).
    pub max_recent: usize,
    /// Keep the id of each removed dialog for [`Dialogs::poll_removed`] (an endpoint that
    /// reports endings sets it; nothing else should, as only polling drains the queue).
    pub report_removals: bool,
}

impl Default for DialogConfig {
    fn default() -> Self {
        DialogConfig {
            timers: Timers::default(),
            max_dialogs: 16_384,
            max_recent: 4096,
            report_removals: false,
        }
    }
}

/// A dialog handle (stale once the dialog is removed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogKey {
    index: u32,
    gen: u32,
}

impl DialogKey {
    /// The handle as one number (for bindings and logs).
    pub fn to_u64(self) -> u64 {
        (u64::from(self.gen) << 32) | u64::from(self.index)
    }
    pub fn from_u64(v: u64) -> DialogKey {
        DialogKey {
            index: (v & 0xffff_ffff) as u32,
            gen: (v >> 32) as u32,
        }
    }
}

/// What to do with a received request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestVerdict {
    /// No To tag: outside any dialog (it may make one).
    OutOfDialog,
    /// A request in this dialog (CSeq checked, remote target refreshed).
    InDialog(DialogKey),
    /// A BYE: the dialog (its now stale handle and its id) is gone; answer 200.
    Bye(DialogKey, DialogId),
    /// The ACK for a 2xx of this dialog: retransmissions of that 2xx stop.
    Ack(DialogKey),
    /// An ACK for no dialog and no 2xx (counted; drop it).
    StrayAck,
    /// Answer with this status: 481 (no such dialog, §12.2.2), 482 (merged, §8.2.2.2),
    /// 500 (lower CSeq §12.2.2, or an INVITE while the peer's previous one is pending §14.2),
    /// 491 (glare, §14.2).
    Reject(u16),
}

/// What a response to this side's request did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseOutcome {
    pub dialog: Option<DialogKey>,
    /// Send this ACK (every 2xx to an INVITE, retransmissions included).
    pub ack: Option<OutRequest>,
    /// Send this BYE: a 2xx from a second fork, ACKed and ended (§13.2.2.4).
    pub bye: Option<OutRequest>,
    /// A 491 to this side's re-INVITE: retry after [`glare_retry_delay`] (§14.1).
    pub glare: bool,
    /// The dialog ended (481/408 to an in-dialog request, §12.2.1.2, or a failed INVITE).
    pub terminated: bool,
}

/// Timer-driven work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialogAction {
    /// Send this 2xx again, in `txn` (Accepted, RFC 6026) or to `dest` directly.
    Retransmit2xx {
        dialog: DialogKey,
        txn: Option<TxnId>,
        dest: Peer,
        bytes: Vec<u8>,
    },
    /// No ACK came for 64·T1: the dialog is confirmed but the session should end with BYE
    /// (§13.3.1.4).
    NoAck { dialog: DialogKey },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DialogCounters {
    pub created: u64,
    pub removed: u64,
    pub refused: u64,
    pub stray_acks: u64,
    pub rejected_481: u64,
    pub rejected_482: u64,
    pub rejected_500: u64,
    pub rejected_491: u64,
    pub forks_ended: u64,
    pub retransmitted_2xx: u64,
    pub no_ack: u64,
}

/// The 491 retry window of §14.1, in milliseconds: the owner of the Call-ID waits 2.1 to 4 s,
/// the other side 0 to 2 s, in units of 10 ms. `random` is any uniformly drawn `u32` (the
/// core has no RNG).
pub fn glare_retry_delay(owns_call_id: bool, random: u32) -> u64 {
    let (lo, span) = if owns_call_id { (210, 190) } else { (0, 200) };
    (lo + u64::from(random) * (span + 1) / (u64::from(u32::MAX) + 1)) * 10
}

struct Retx {
    txn: Option<TxnId>,
    dest: Peer,
    bytes: Vec<u8>,
    seq: u32,
    next: u64,
    interval: u64,
    give_up: u64,
}

struct Slot {
    gen: u32,
    dialog: Option<Dialog>,
    retx: Option<Retx>,
}

type MergeKey = (Vec<u8>, Vec<u8>, u32, Vec<u8>);

/// The dialog table (see the module docs).
pub struct Dialogs {
    cfg: DialogConfig,
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: HashIndex,
    /// (Call-ID, local tag) → slots: the forks of one INVITE without a scan.
    forks: HashIndex,
    live: usize,
    /// Recent requests without To tag: (From tag, Call-ID, CSeq, method) → top Via branch.
    recent: HashMap<MergeKey, (Vec<u8>, u64)>,
    recent_order: VecDeque<MergeKey>,
    heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
    actions: VecDeque<DialogAction>,
    removed: VecDeque<(DialogKey, DialogId)>,
    counters: DialogCounters,
}

fn hash_id<H: Hasher>(h: &mut H, call_id: &[u8], local: &[u8], remote: &[u8]) {
    for p in [call_id, local, remote] {
        h.write(p);
        h.write_u8(0xff);
    }
}

impl Dialogs {
    pub fn new(cfg: DialogConfig) -> Self {
        Dialogs {
            cfg,
            slots: Vec::new(),
            free: Vec::new(),
            index: HashIndex::default(),
            forks: HashIndex::default(),
            live: 0,
            recent: HashMap::new(),
            recent_order: VecDeque::new(),
            heap: BinaryHeap::new(),
            actions: VecDeque::new(),
            removed: VecDeque::new(),
            counters: DialogCounters::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
    pub fn counters(&self) -> DialogCounters {
        self.counters
    }
    pub fn get(&self, k: DialogKey) -> Option<&Dialog> {
        self.slot(k).and_then(|s| s.dialog.as_ref())
    }
    pub fn get_mut(&mut self, k: DialogKey) -> Option<&mut Dialog> {
        self.slots
            .get_mut(k.index as usize)
            .filter(|s| s.gen == k.gen)
            .and_then(|s| s.dialog.as_mut())
    }
    /// Every live dialog.
    pub fn keys(&self) -> Vec<DialogKey> {
        (0..self.slots.len())
            .filter_map(|i| u32::try_from(i).ok())
            .filter_map(|i| self.key_of(i))
            .collect()
    }

    fn slot(&self, k: DialogKey) -> Option<&Slot> {
        self.slots.get(k.index as usize).filter(|s| s.gen == k.gen)
    }

    fn key_of(&self, i: u32) -> Option<DialogKey> {
        let s = self.slots.get(i as usize)?;
        s.dialog.as_ref().map(|_| DialogKey {
            index: i,
            gen: s.gen,
        })
    }

    fn fork_hash(&self, call_id: &[u8], local: &[u8]) -> u64 {
        let mut h = self.forks.hasher();
        hash_id(&mut h, call_id, local, b"");
        h.finish()
    }

    fn hash(&self, call_id: &[u8], local: &[u8], remote: &[u8]) -> u64 {
        let mut h = self.index.hasher();
        hash_id(&mut h, call_id, local, remote);
        h.finish()
    }

    /// The dialog with this id.
    pub fn find(&self, call_id: &[u8], local: &[u8], remote: &[u8]) -> Option<DialogKey> {
        let h = self.hash(call_id, local, remote);
        self.index.get(h).iter().copied().find_map(|i| {
            let d = self.slots.get(i as usize)?.dialog.as_ref()?;
            (d.id.call_id == call_id && d.id.local_tag == local && d.id.remote_tag == remote)
                .then(|| self.key_of(i))
                .flatten()
        })
    }

    /// Adds a dialog. `None` when the table is full (counted) or the id exists.
    pub fn insert(&mut self, d: Dialog) -> Option<DialogKey> {
        if self
            .find(&d.id.call_id, &d.id.local_tag, &d.id.remote_tag)
            .is_some()
            || self.live >= self.cfg.max_dialogs
        {
            self.counters.refused += 1;
            return None;
        }
        let h = self.hash(&d.id.call_id, &d.id.local_tag, &d.id.remote_tag);
        let fh = self.fork_hash(&d.id.call_id, &d.id.local_tag);
        let i = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i as usize) {
                    s.dialog = Some(d);
                    s.retx = None;
                }
                i
            }
            None => {
                let i = u32::try_from(self.slots.len()).ok()?;
                self.slots.push(Slot {
                    gen: 0,
                    dialog: Some(d),
                    retx: None,
                });
                i
            }
        };
        self.index.insert(h, i);
        self.forks.insert(fh, i);
        self.live += 1;
        self.counters.created += 1;
        self.key_of(i)
    }

    /// Removes a dialog (after BYE, a failed INVITE, or a timeout).
    pub fn remove(&mut self, k: DialogKey) -> Option<Dialog> {
        let s = self
            .slots
            .get_mut(k.index as usize)
            .filter(|s| s.gen == k.gen)?;
        let mut d = s.dialog.take()?;
        s.retx = None;
        s.gen = s.gen.wrapping_add(1);
        d.state = DialogState::Terminated;
        let h = self.hash(&d.id.call_id, &d.id.local_tag, &d.id.remote_tag);
        self.index.remove(h, k.index);
        let fh = self.fork_hash(&d.id.call_id, &d.id.local_tag);
        self.forks.remove(fh, k.index);
        self.free.push(k.index);
        self.live = self.live.saturating_sub(1);
        self.counters.removed += 1;
        if self.cfg.report_removals {
            self.removed.push_back((k, d.id.clone()));
        }
        Some(d)
    }

    /// The dialogs sharing a Call-ID and local tag (the forks of one INVITE).
    fn forks(&self, call_id: &[u8], local: &[u8]) -> Vec<DialogKey> {
        self.forks
            .get(self.fork_hash(call_id, local))
            .iter()
            .copied()
            .filter(|&i| {
                self.slots
                    .get(i as usize)
                    .and_then(|s| s.dialog.as_ref())
                    .is_some_and(|d| d.id.call_id == call_id && d.id.local_tag == local)
            })
            .filter_map(|i| self.key_of(i))
            .collect()
    }

    // --- UAS side ---------------------------------------------------------------------

    /// Classifies a received request (§8.2.2.2, §12.2.2, §14.2). `now` ages the memory of
    /// merged requests (64·T1).
    pub fn on_request<I: AsRef<MessageIndex>>(
        &mut self,
        m: &Message<'_, I>,
        now: u64,
    ) -> RequestVerdict {
        let method = m.method().unwrap_or(b"");
        let call_id = m.call_id().unwrap_or(b"");
        let to_tag = tag_of(m, HeaderName::To);
        let from_tag = tag_of(m, HeaderName::From);
        let (seq, cseq_method) = cseq_of(m).unwrap_or((0, b""));
        if method == b"CANCEL" {
            return RequestVerdict::OutOfDialog;
        }
        if to_tag.is_empty() {
            if method == b"ACK" {
                self.counters.stray_acks += 1;
                return RequestVerdict::StrayAck;
            }
            return self.check_merged(m, from_tag, call_id, seq, cseq_method, now);
        }
        let Some(k) = self.find(call_id, to_tag, from_tag) else {
            if method == b"ACK" {
                self.counters.stray_acks += 1;
                return RequestVerdict::StrayAck;
            }
            self.counters.rejected_481 += 1;
            return RequestVerdict::Reject(481);
        };
        if method == b"ACK" {
            let stop = self
                .slots
                .get_mut(k.index as usize)
                .and_then(|s| s.retx.take_if_seq(seq))
                .is_some();
            if let Some(d) = self.get_mut(k) {
                d.state = DialogState::Confirmed;
            }
            return if stop {
                RequestVerdict::Ack(k)
            } else if self.get(k).is_some_and(|d| d.remote_seq == Some(seq)) {
                // A retransmitted ACK (the 2xx was retransmitted): harmless.
                RequestVerdict::Ack(k)
            } else {
                self.counters.stray_acks += 1;
                RequestVerdict::StrayAck
            };
        }
        let Some(d) = self.get_mut(k) else {
            return RequestVerdict::Reject(481);
        };
        // §12.2.2: a CSeq lower than (or equal to) the last one is out of order.
        if d.remote_seq.is_some_and(|r| seq <= r) {
            self.counters.rejected_500 += 1;
            return RequestVerdict::Reject(500);
        }
        if method == b"INVITE" {
            // §14.2: glare, or an INVITE overtaking the peer's own pending one.
            if d.local_invite_pending {
                d.remote_seq = Some(seq);
                self.counters.rejected_491 += 1;
                return RequestVerdict::Reject(491);
            }
            if d.remote_invite_pending {
                d.remote_seq = Some(seq);
                self.counters.rejected_500 += 1;
                return RequestVerdict::Reject(500);
            }
            d.remote_invite_pending = true;
            d.remote_invite_seq = Some(seq);
        }
        d.remote_seq = Some(seq);
        // Target refresh requests (§12.2.2, RFC 3311, RFC 6665 §4.1.3 and §4.2.1).
        if matches!(method, b"INVITE" | b"UPDATE" | b"SUBSCRIBE" | b"NOTIFY") {
            d.refresh_target(m);
        }
        if method == b"BYE" {
            let id = d.id.clone();
            self.remove(k);
            return RequestVerdict::Bye(k, id);
        }
        RequestVerdict::InDialog(k)
    }

    /// §8.2.2.2: a request without To tag whose From tag, Call-ID and CSeq match a recent
    /// request with another top Via branch reached this UAS twice (forked and merged).
    fn check_merged<I: AsRef<MessageIndex>>(
        &mut self,
        m: &Message<'_, I>,
        from_tag: &[u8],
        call_id: &[u8],
        seq: u32,
        method: &[u8],
        now: u64,
    ) -> RequestVerdict {
        let ttl = self.cfg.timers.t1.saturating_mul(64);
        while let Some(front) = self.recent_order.front() {
            let old = self
                .recent
                .get(front)
                .map_or(true, |(_, at)| now.saturating_sub(*at) > ttl);
            if !old && self.recent_order.len() <= self.cfg.max_recent {
                break;
            }
            if let Some(k) = self.recent_order.pop_front() {
                self.recent.remove(&k);
            }
        }
        let branch = m
            .index()
            .fields()
            .top_via
            .and_then(|v| v.branch)
            .map_or(&[][..], |b| m.bytes_of(b));
        let key: MergeKey = (from_tag.to_vec(), call_id.to_vec(), seq, method.to_vec());
        match self.recent.get(&key) {
            Some((b, _)) if b.as_slice() != branch => {
                self.counters.rejected_482 += 1;
                RequestVerdict::Reject(482)
            }
            Some(_) => RequestVerdict::OutOfDialog,
            None => {
                if self.cfg.max_recent > 0 {
                    self.recent.insert(key.clone(), (branch.to_vec(), now));
                    self.recent_order.push_back(key);
                }
                RequestVerdict::OutOfDialog
            }
        }
    }

    /// The user sent `response` to `request` (received). For INVITE: a tagged 1xx makes an
    /// early dialog, a 2xx confirms (or makes) it and starts its retransmissions until the
    /// ACK (§13.3.1.4: T1 doubling to T2, for 64·T1), sent in `txn` or to `dest`. A final
    /// response ends the peer's pending INVITE; a non-2xx final to a dialog-making INVITE
    /// removes the early dialog.
    pub fn on_response_sent<I: AsRef<MessageIndex>, J: AsRef<MessageIndex>>(
        &mut self,
        request: &Message<'_, I>,
        response: &Message<'_, J>,
        txn: Option<TxnId>,
        dest: Peer,
        now: u64,
    ) -> Result<Option<DialogKey>, Error> {
        let status = response.status().unwrap_or(0);
        let method = request.method().unwrap_or(b"");
        let call_id = request.call_id().unwrap_or(b"");
        let local = tag_of(response, HeaderName::To);
        let remote = tag_of(request, HeaderName::From);
        let in_dialog = !tag_of(request, HeaderName::To).is_empty();
        let mut k = self.find(call_id, local, remote);
        if k.is_none() && !in_dialog && method == b"INVITE" && status > 100 && status < 300 {
            if local.is_empty() {
                return Ok(None);
            }
            k = self.insert(Dialog::uas(request, response)?);
        }
        // RFC 6665 §4.2.1: a 2xx to SUBSCRIBE makes the notifier's dialog.
        if k.is_none() && !in_dialog && method == b"SUBSCRIBE" && (200..300).contains(&status) {
            if local.is_empty() {
                return Ok(None);
            }
            return Ok(self.insert(Dialog::uas(request, response)?));
        }
        let Some(k) = k else {
            return Ok(None);
        };
        if method != b"INVITE" || status < 200 {
            return Ok(Some(k));
        }
        let (seq, _) = cseq_of(request).unwrap_or((0, b""));
        if let Some(d) = self.get_mut(k) {
            // §14.2: only the final response to the pending INVITE itself ends it.
            if d.remote_invite_seq.map_or(true, |s| s == seq) {
                d.remote_invite_pending = false;
                d.remote_invite_seq = None;
            }
        }
        if status >= 300 {
            if !in_dialog {
                self.remove(k);
                return Ok(None);
            }
            return Ok(Some(k));
        }
        if let Some(d) = self.get_mut(k) {
            d.state = DialogState::Confirmed;
        }
        let t1 = self.cfg.timers.t1;
        let retx = Retx {
            txn,
            dest,
            bytes: response.as_bytes().to_vec(),
            seq,
            next: now.saturating_add(t1),
            interval: t1,
            give_up: now.saturating_add(t1.saturating_mul(64)),
        };
        if let Some(s) = self.slots.get_mut(k.index as usize) {
            s.retx = Some(retx);
        }
        self.heap
            .push(Reverse((now.saturating_add(t1), k.index, k.gen)));
        Ok(Some(k))
    }

    // --- UAC side ---------------------------------------------------------------------

    /// A response to `request`, which this side sent. `via` is the top Via (fresh branch)
    /// for an ACK this may need. Tagged 1xx to INVITE: an early dialog per To tag. 2xx to
    /// INVITE: the dialog confirmed, an ACK for it (every retransmission too); a 2xx from a
    /// second fork is ACKed and ended with BYE (`bye_via` for it). 481/408 end the dialog
    /// (§12.2.1.2); a non-2xx final to the initial INVITE ends its early dialogs; 491 to a
    /// re-INVITE is glare.
    pub fn on_response<I: AsRef<MessageIndex>, J: AsRef<MessageIndex>>(
        &mut self,
        request: &Message<'_, I>,
        response: &Message<'_, J>,
        via: &[u8],
        bye_via: &[u8],
    ) -> Result<ResponseOutcome, Error> {
        let mut out = ResponseOutcome::default();
        let status = response.status().unwrap_or(0);
        let method = request.method().unwrap_or(b"");
        let call_id = request.call_id().unwrap_or(b"");
        let local = tag_of(request, HeaderName::From);
        let remote = tag_of(response, HeaderName::To);
        let initial = tag_of(request, HeaderName::To).is_empty();
        let (seq, _) = cseq_of(request).unwrap_or((0, b""));
        let mut k = self.find(call_id, local, remote);

        if method == b"SUBSCRIBE" && initial && k.is_none() && (200..300).contains(&status) {
            // RFC 6665 §4.1.2.1: the 2xx makes the subscriber's dialog (unless a NOTIFY
            // made it first, §4.1.2.4).
            if remote.is_empty() {
                return Ok(out);
            }
            out.dialog = self.insert(Dialog::uac(request, response)?);
            return Ok(out);
        }
        if method != b"INVITE" {
            if let Some(k) = k {
                out.dialog = Some(k);
                if status == 481 || status == 408 {
                    self.remove(k);
                    out.terminated = true;
                } else if (200..300).contains(&status) && matches!(method, b"UPDATE" | b"SUBSCRIBE")
                {
                    if let Some(d) = self.get_mut(k) {
                        d.refresh_target(response);
                    }
                }
            }
            return Ok(out);
        }

        if status < 200 {
            if k.is_none() && initial && status > 100 && !remote.is_empty() {
                k = self.insert(Dialog::uac(request, response)?);
            }
            out.dialog = k;
            return Ok(out);
        }

        if status >= 300 {
            if initial {
                for f in self.forks(call_id, local) {
                    if self.get(f).is_some_and(|d| d.state == DialogState::Early) {
                        self.remove(f);
                        out.terminated = true;
                    }
                }
            } else if let Some(k) = k {
                out.dialog = Some(k);
                if let Some(d) = self.get_mut(k) {
                    d.local_invite_pending = false;
                }
                if status == 491 {
                    out.glare = true;
                } else if status == 481 || status == 408 {
                    self.remove(k);
                    out.terminated = true;
                }
            }
            return Ok(out);
        }

        // 2xx.
        let mut unwanted = false;
        if k.is_none() {
            // A confirmed sibling means this 2xx comes from a second fork.
            unwanted = initial
                && self.forks(call_id, local).iter().any(|&f| {
                    self.get(f)
                        .is_some_and(|d| d.state == DialogState::Confirmed)
                });
            k = self.insert(Dialog::uac(request, response)?);
        } else if k.is_some_and(|k| {
            initial
                && self.get(k).is_some_and(|d| d.state == DialogState::Early)
                && self.forks(call_id, local).iter().any(|&f| {
                    f != k
                        && self
                            .get(f)
                            .is_some_and(|d| d.state == DialogState::Confirmed)
                })
        }) {
            unwanted = true;
        }
        let Some(key) = k else {
            return Ok(out);
        };
        out.dialog = Some(key);
        let Some(d) = self.get_mut(key) else {
            return Ok(out);
        };
        let was_early = d.state == DialogState::Early;
        d.state = DialogState::Confirmed;
        d.local_invite_pending = false;
        if was_early || !initial {
            // The 2xx fixes the remote target (a re-INVITE's 2xx refreshes it, §12.2.1.2).
            d.refresh_target(response);
        }
        if was_early {
            // §13.2.2.4: the route set is recomputed from the 2xx's Record-Route (MUST);
            // an early dialog's came from its 1xx.
            d.route_set = super::state::record_route(response)
                .into_iter()
                .rev()
                .collect();
        }
        out.ack = Some(d.ack(seq, via, &[], b"")?);
        if unwanted {
            out.bye = Some(d.request(b"BYE", bye_via, &[], b"")?);
            self.remove(key);
            self.counters.forks_ended += 1;
            out.terminated = true;
        }
        Ok(out)
    }

    /// The INVITE transaction of a dialog-making INVITE ended: early dialogs no 2xx
    /// confirmed go away (§12.3: "a UAC ... terminates early dialogs").
    pub fn on_invite_terminated(&mut self, call_id: &[u8], local_tag: &[u8]) -> usize {
        let mut n = 0;
        for f in self.forks(call_id, local_tag) {
            if self.get(f).is_some_and(|d| d.state == DialogState::Early) {
                self.remove(f);
                n += 1;
            }
        }
        n
    }

    // --- time -------------------------------------------------------------------------

    pub fn next_deadline(&mut self) -> Option<u64> {
        while let Some(&Reverse((at, i, gen))) = self.heap.peek() {
            let live = self
                .slots
                .get(i as usize)
                .filter(|s| s.gen == gen)
                .and_then(|s| s.retx.as_ref())
                .is_some_and(|r| r.next == at);
            if live {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Runs the 2xx retransmissions due at `now`.
    pub fn tick(&mut self, now: u64) {
        let t2 = self.cfg.timers.t2;
        while let Some(&Reverse((at, i, gen))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            let Some(s) = self.slots.get_mut(i as usize).filter(|s| s.gen == gen) else {
                continue;
            };
            let k = DialogKey { index: i, gen };
            let Some(r) = s.retx.as_mut().filter(|r| r.next == at) else {
                continue;
            };
            if at >= r.give_up {
                s.retx = None;
                self.counters.no_ack += 1;
                self.actions.push_back(DialogAction::NoAck { dialog: k });
                continue;
            }
            self.actions.push_back(DialogAction::Retransmit2xx {
                dialog: k,
                txn: r.txn,
                dest: r.dest,
                bytes: r.bytes.clone(),
            });
            self.counters.retransmitted_2xx += 1;
            r.interval = r.interval.saturating_mul(2).min(t2);
            r.next = at.saturating_add(r.interval).min(r.give_up);
            self.heap.push(Reverse((r.next, i, gen)));
        }
    }

    pub fn poll_action(&mut self) -> Option<DialogAction> {
        self.actions.pop_front()
    }

    /// A dialog removed since the last call (only with `report_removals`).
    pub fn poll_removed(&mut self) -> Option<(DialogKey, DialogId)> {
        self.removed.pop_front()
    }
}

trait TakeIfSeq {
    fn take_if_seq(&mut self, seq: u32) -> Option<bool>;
}

impl TakeIfSeq for Option<Retx> {
    /// Stops the 2xx retransmission the ACK with CSeq `seq` answers.
    fn take_if_seq(&mut self, seq: u32) -> Option<bool> {
        if self.as_ref().is_some_and(|r| r.seq == seq) {
            *self = None;
            Some(true)
        } else {
            None
        }
    }
}
