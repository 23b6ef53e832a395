//! Stage 5 of the pipeline: the finaliser. Calls end on the capture's clock, never on the
//! machine's: each call has a deadline, its last message's time plus a wait that depends on
//! how far it came ([`Phase`]):
//!
//! | phase | wait | why |
//! | --- | --- | --- |
//! | closed (a BYE and its response; a final non-2xx and its ACK) | `closed_linger`, 5 s | T4: only copies of those can follow (Timers K and I, RFC 3261 §17.1.2.2, §17.2.1) |
//! | ended (a BYE, or a final non-2xx, without the message that closes it) | `linger`, 32 s | 64*T1: the BYE or the final is retransmitted until then (Timers F, G/H, §17.1.2.2, §17.2.1) |
//! | not a call (OPTIONS, REGISTER...) | `linger` | Timer F/J: its transactions are over |
//! | trying (no response) | `timeout`, 32 s | Timer B = 64*T1 (§17.1.1.2) |
//! | proceeding (a provisional, no final) | `ringing_timeout`, 180 s | Timer C, more than 3 minutes (§16.6 step 11) |
//! | established (answered, no BYE yet) | `idle_timeout`, 3600 s | a dialog with no BYE captured; session timers (RFC 4028) refresh well within it |
//!
//! [`Correlator::drain`](super::Correlator::drain) takes the capture's time (a watermark: no
//! message older than it minus the linger is still to come) and hands out every call whose
//! deadline has passed, freeing its state. Deadlines sit in a binary heap, one entry per call
//! and a few stale ones (a deadline that moved earlier gets a new entry; one that moved later
//! is found out when its entry comes up, and queued again). The heap is rebuilt when stale
//! entries outnumber live calls.
//!
//! A finished call leaves a tombstone (a hash of its Call-ID) for `linger` (64*T1) after it
//! finished: a straggler of it (a late retransmission) is counted as `late` instead of
//! starting a second, partial call.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::call::{CallRec, Phase};
use super::report::{self, Call, Dialog, Transaction};
use super::rows::{self, CallRecord, Summary};
use super::table::Id;
use super::Config;

/// The wait after a call's last message before it is finished, by phase.
pub(crate) fn wait(phase: Phase, cfg: &Config) -> f64 {
    match phase {
        Phase::NotACall | Phase::Ended => cfg.linger,
        Phase::Closed => cfg.closed_linger,
        Phase::Trying => cfg.timeout,
        Phase::Proceeding => cfg.ringing_timeout,
        Phase::Established => cfg.idle_timeout,
    }
}

/// A call's deadline.
pub(crate) fn deadline<B>(rec: &CallRec<B>, cfg: &Config) -> f64 {
    rec.last_time + wait(rec.phase(), cfg)
}

/// A heap entry: when, and which call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Due {
    pub at: f64,
    pub id: Id,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    /// Reversed: the earliest deadline on top of the (max-)heap.
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.total_cmp(&self.at).then(other.id.cmp(&self.id))
    }
}

/// The deadlines of the open calls.
#[derive(Default)]
pub(crate) struct Queue {
    heap: BinaryHeap<Due>,
}

impl Queue {
    pub(crate) fn push(&mut self, at: f64, id: Id) {
        self.heap.push(Due { at, id });
    }

    pub(crate) fn peek(&self) -> Option<Due> {
        self.heap.peek().copied()
    }

    pub(crate) fn pop(&mut self) -> Option<Due> {
        self.heap.pop()
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether stale entries outnumber the `live` calls enough to rebuild.
    pub(crate) fn needs_compaction(&self, live: usize) -> bool {
        self.heap.len() > 2 * live + 1024
    }

    /// Rebuilds from each live call's current entry.
    pub(crate) fn rebuild(&mut self, live: impl Iterator<Item = Due>) {
        self.heap = live.collect();
    }
}

/// A Call-ID recently finished, known by a second keyed hash of it (the table's is the
/// first): 128 bits together, so a new call is taken for a straggler with odds of 2^-128, and
/// a tombstone costs no allocation.
pub(crate) struct Tomb {
    pub check: u64,
    /// Messages of it up to this time are late; after it, the Call-ID starts a new call.
    pub until: f64,
    /// Its last message's time, and its caller's From tag (hashed; `None`: no caller seen).
    /// An initial INVITE after that time with another From tag is a new call reusing the
    /// Call-ID, not a straggler: a retransmission repeats its From tag (RFC 3261 §8.1.1.3).
    pub last: f64,
    pub caller: Option<u64>,
}

impl Tomb {
    /// Whether a message at `t` is a straggler of the finished call; `initial_from`: the From
    /// tag (hashed) of an initial INVITE (no To tag), `None` for any other message.
    pub(crate) fn is_late(&self, t: f64, initial_from: Option<u64>) -> bool {
        let new_call = initial_from.is_some_and(|from| t > self.last && self.caller != Some(from));
        t <= self.until && !new_call
    }
}

/// A call taken out of the correlator: its rows, its snapshot, its transactions (with their
/// messages when they were kept).
pub struct FinishedCall<B = Box<[u8]>> {
    pub(crate) id: Id,
    pub(crate) rec: CallRec<B>,
    /// The capture time it was finished at (the outcome's "end").
    pub(crate) end: f64,
    /// Its outcome and times, decided then.
    pub(crate) summary: Summary,
    pub(crate) evicted: bool,
}

impl<B: AsRef<[u8]>> FinishedCall<B> {
    pub fn call_id(&self) -> &[u8] {
        &self.rec.call_id
    }

    /// The id it had in the correlator (stale now: the correlator no longer holds it).
    pub fn id(&self) -> Id {
        self.id
    }

    /// Finished early because the call table was full.
    pub fn is_evicted(&self) -> bool {
        self.evicted
    }

    /// The time it was finished at: the watermark given to the drain, or the capture's end.
    pub fn finished_at(&self) -> f64 {
        self.end
    }

    /// Its `calls` row, with its `media` rows.
    pub fn record(&self) -> CallRecord {
        rows::record(&self.rec, &self.summary, self.evicted)
    }

    /// Its snapshot.
    pub fn call(&self) -> Call {
        report::call_of(self.id, &self.rec, &self.summary)
    }

    pub fn dialogs(&self) -> Vec<Dialog> {
        report::dialogs_of(self.id, &self.rec)
    }

    /// Its transactions, by the time of their first message.
    pub fn transactions(&self) -> Vec<Transaction<'_, B>> {
        let mut v: Vec<_> = report::transactions_of(self.id, &self.rec).collect();
        v.sort_by(|a, b| a.first_time().total_cmp(&b.first_time()));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::Tomb;

    /// Every branch of `Tomb::is_late`: a call that ended at 10 s, its caller's From tag 7,
    /// known until 42 s; and a partial call whose caller was never seen.
    #[test]
    fn a_tomb_tells_stragglers_from_a_new_call() {
        let tomb = |caller| Tomb {
            check: 1,
            until: 42.0,
            last: 10.0,
            caller,
        };
        let known = tomb(Some(7));
        // (time, From tag of an initial INVITE, late?)
        for (t, from, late) in [
            (20.0, None, true),     // any other message within the linger
            (20.0, Some(7), true),  // the old INVITE again
            (20.0, Some(8), false), // another From tag after the end: a new call
            (5.0, Some(8), true),   // another From tag before the end: out of order
            (10.0, Some(8), true),  // at the end itself
            (50.0, None, false),    // past the linger
            (50.0, Some(7), false), // past the linger, even the old From tag
        ] {
            assert_eq!(known.is_late(t, from), late, "t {t} from {from:?}");
        }
        // No caller seen (a BYE-only call): any initial INVITE after it is a new call.
        let partial = tomb(None);
        assert!(!partial.is_late(20.0, Some(7)));
        assert!(partial.is_late(5.0, Some(7)));
        assert!(partial.is_late(20.0, None));
    }
}
