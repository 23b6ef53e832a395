//! Reliable provisional responses (RFC 3262): RSeq numbering and retransmission on the UAS
//! side, RSeq ordering and RAck on the UAC side.

use crate::header::RAck;

/// The UAS side of one INVITE: numbers reliable 1xx (RSeq, §3), retransmits the one not yet
/// PRACKed (T1 doubling, §3), and gives up after 64·T1 (the UAS should then reject the
/// INVITE with a 5xx, §3). One unacknowledged reliable 1xx at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReliableProvisionals {
    next_rseq: u32,
    cseq: u32,
    t1: u64,
    pending: Option<Pending>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pending {
    rseq: u32,
    bytes: Vec<u8>,
    next: u64,
    interval: u64,
    give_up: u64,
}

/// What a reliable provisional's timer asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrackAction {
    Retransmit(Vec<u8>),
    /// No PRACK for 64·T1.
    GiveUp,
}

impl ReliableProvisionals {
    /// `first_rseq` is the caller's random start (1 to 2^31-1, §3); `cseq` the INVITE's.
    pub fn new(first_rseq: u32, cseq: u32, t1: u64) -> Self {
        ReliableProvisionals {
            next_rseq: first_rseq.clamp(1, crate::header::numeric::MAX_RSEQ / 2),
            cseq,
            t1,
            pending: None,
        }
    }

    /// The RSeq for the next reliable 1xx; `None` while one is unacknowledged.
    pub fn next_rseq(&self) -> Option<u32> {
        self.pending.is_none().then_some(self.next_rseq)
    }

    /// The user sent the reliable 1xx `bytes` carrying `next_rseq()`.
    pub fn sent(&mut self, bytes: Vec<u8>, now: u64) -> Option<u32> {
        let rseq = self.next_rseq()?;
        self.pending = Some(Pending {
            rseq,
            bytes,
            next: now.saturating_add(self.t1),
            interval: self.t1,
            give_up: now.saturating_add(self.t1.saturating_mul(64)),
        });
        self.next_rseq = rseq.saturating_add(1);
        Some(rseq)
    }

    /// A PRACK arrived: whether its RAck acknowledges the pending 1xx (§3: RSeq, CSeq and
    /// method match). A PRACK that matches nothing gets 481.
    pub fn on_prack(&mut self, rack: &RAck<'_>) -> bool {
        let ok = self.pending.as_ref().is_some_and(|p| {
            p.rseq == rack.rseq && rack.cseq == self.cseq && rack.method == b"INVITE"
        });
        if ok {
            self.pending = None;
        }
        ok
    }

    /// A final response went out: retransmissions stop.
    pub fn finished(&mut self) {
        self.pending = None;
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.pending.as_ref().map(|p| p.next)
    }

    pub fn tick(&mut self, now: u64) -> Option<PrackAction> {
        let p = self.pending.as_mut()?;
        if now < p.next {
            return None;
        }
        if now >= p.give_up {
            self.pending = None;
            return Some(PrackAction::GiveUp);
        }
        p.interval = p.interval.saturating_mul(2);
        p.next = now.saturating_add(p.interval).min(p.give_up);
        Some(PrackAction::Retransmit(p.bytes.clone()))
    }
}

/// What the UAC does with a reliable provisional (§4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RseqVerdict {
    /// In order: PRACK it with this RAck.
    Prack,
    /// A retransmission (RSeq already seen): no new PRACK.
    Retransmission,
    /// A gap: discard it and wait for the missing one.
    OutOfOrder,
}

/// The UAC side for one INVITE and one To tag (each early dialog numbers on its own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RseqTracker {
    last: Option<u32>,
}

impl RseqTracker {
    pub fn on_provisional(&mut self, rseq: u32) -> RseqVerdict {
        match self.last {
            None => {
                self.last = Some(rseq);
                RseqVerdict::Prack
            }
            Some(l) if rseq <= l => RseqVerdict::Retransmission,
            Some(l) if Some(rseq) == l.checked_add(1) => {
                self.last = Some(rseq);
                RseqVerdict::Prack
            }
            Some(_) => RseqVerdict::OutOfOrder,
        }
    }
}

/// The RAck value for a 1xx with `rseq` to the INVITE with CSeq `cseq` (§7.2).
pub fn rack_value(rseq: u32, cseq: u32) -> String {
    format!("{rseq} {cseq} INVITE")
}
