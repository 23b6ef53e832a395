//! Stage 3 of the pipeline: the INVITE dialogs (RFC 3261 §12) of one call: Call-ID (the
//! call's) and the two tags, in either orientation. A 101-299 response to INVITE or an
//! in-dialog request makes one; a 2xx or an in-dialog request other than PRACK and UPDATE
//! confirms it; BYE terminates it. An early dialog whose INVITE got a final response on
//! another dialog, or none, is terminated (§12.3, §13.2.2.4): see `report.rs`.

use super::facts::{Facts, Method};
use super::hash::Keys;
use super::recycle::Recycled;

/// A BYE (request or response) as a call or dialog keeps its earliest: its time, its From
/// tag's keyed hash (which side sent it), and that tag's fixed-key hash, which orders two
/// BYEs of the same time (both sides hung up at once, or a coarse capture clock) the same way
/// in every feed order and every run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ByeAt {
    pub time: f64,
    pub from_hash: u64,
    order: u64,
}

impl ByeAt {
    pub(crate) fn new(time: f64, from_hash: u64, from_tag: &[u8]) -> Self {
        ByeAt {
            time,
            from_hash,
            order: Keys::FIXED.hash_bytes(from_tag),
        }
    }

    /// Whether it is kept over `held`: the earlier, or of the same time the lower order.
    pub(crate) fn before(&self, held: Option<&ByeAt>) -> bool {
        held.map_or(true, |h| {
            self.time < h.time || (self.time == h.time && self.order < h.order)
        })
    }
}

/// How a message moves a dialog.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Early,
    Confirm,
    Terminate,
    /// Joins an existing dialog without changing it.
    Join,
}

impl Step {
    /// What a message does to its dialog; `None` for messages outside INVITE dialogs.
    pub(crate) fn of(f: &Facts) -> Option<Step> {
        Some(match (f.status, f.method) {
            (Some(s), Method::Invite) if (101..200).contains(&s) => Step::Early,
            (Some(s), Method::Invite) if (200..300).contains(&s) => Step::Confirm,
            (Some(s), Method::Bye) if (200..300).contains(&s) => Step::Terminate,
            (Some(_), _) => Step::Join,
            (None, Method::Bye) => Step::Terminate,
            (None, Method::Ack | Method::Cancel) => Step::Join,
            // Allowed in early dialogs (RFC 3262 §3, RFC 3311 §5.1).
            (None, Method::Prack | Method::Update) => Step::Early,
            (None, Method::Register | Method::Publish) => return None,
            (None, _) => Step::Confirm,
        })
    }
}

/// One dialog of a call.
pub(crate) struct DialogRec {
    /// The two tags as first seen (From, then To), one after the other.
    tags: Vec<u8>,
    a_len: usize,
    /// The tags' hashes (keyed per correlator), in the same order.
    pub hash_a: u64,
    pub hash_b: u64,
    pub early: bool,
    pub confirmed: bool,
    pub bye: bool,
    /// The earliest BYE (request or response).
    pub bye_at: Option<ByeAt>,
    /// The INVITE exchange whose response made it (CSeq, From tag hash): the lowest CSeq of
    /// that sender (later ones are re-INVITEs).
    pub invite: Option<(u32, u64)>,
    pub first_time: f64,
    pub last_time: f64,
    /// Its transactions (indexes in the call), bounded.
    pub txns: Vec<u16>,
}

impl DialogRec {
    pub(crate) fn tag_a(&self) -> &[u8] {
        self.tags.get(..self.a_len).unwrap_or(&[])
    }

    pub(crate) fn tag_b(&self) -> &[u8] {
        self.tags.get(self.a_len..).unwrap_or(&[])
    }

    pub(crate) fn has_tag(&self, h: u64) -> bool {
        self.hash_a == h || self.hash_b == h
    }
}

/// The tags of a message and their hashes.
pub(crate) struct Tags<'a> {
    pub from: &'a [u8],
    pub to: &'a [u8],
    pub from_hash: u64,
    pub to_hash: u64,
}

/// What the stage did.
pub(crate) enum Updated {
    /// The message's dialog, made now or found.
    Dialog,
    /// No dialog: a tag is missing, the message joins none, or the call holds as many
    /// dialogs as `Config::max_dialogs_per_call` (the last counted by the caller).
    None,
    Full,
}

/// Finds or makes the message's dialog and moves its state. `again` is true for a
/// retransmission (its times count, its state change was made by the first copy).
#[allow(clippy::too_many_arguments)]
pub(crate) fn update(
    dialogs: &mut Recycled<DialogRec>,
    f: &Facts,
    tags: &Tags<'_>,
    t: f64,
    txn: Option<u16>,
    max_dialogs: usize,
    max_txns: usize,
) -> Updated {
    if tags.from.is_empty() || tags.to.is_empty() {
        return Updated::None;
    }
    let Some(step) = Step::of(f) else {
        return Updated::None;
    };
    let (fh, th) = (tags.from_hash, tags.to_hash);
    let found = dialogs.iter().position(|d| {
        ((d.hash_a == fh && d.hash_b == th) || (d.hash_a == th && d.hash_b == fh))
            && ((d.tag_a() == tags.from && d.tag_b() == tags.to)
                || (d.tag_a() == tags.to && d.tag_b() == tags.from))
    });
    let i = match found {
        Some(i) => i,
        None if step == Step::Join => return Updated::None,
        None if dialogs.len() >= max_dialogs => return Updated::Full,
        None => {
            let init = |d: &mut DialogRec| {
                d.tags.clear();
                d.tags.extend_from_slice(tags.from);
                d.tags.extend_from_slice(tags.to);
                d.a_len = tags.from.len();
                d.hash_a = fh;
                d.hash_b = th;
                d.early = false;
                d.confirmed = false;
                d.bye = false;
                d.bye_at = None;
                d.invite = None;
                d.first_time = t;
                d.last_time = t;
                d.txns.clear();
            };
            let fresh = || {
                let mut d = DialogRec {
                    tags: Vec::with_capacity(tags.from.len() + tags.to.len()),
                    a_len: 0,
                    hash_a: 0,
                    hash_b: 0,
                    early: false,
                    confirmed: false,
                    bye: false,
                    bye_at: None,
                    invite: None,
                    first_time: t,
                    last_time: t,
                    txns: Vec::with_capacity(4),
                };
                init(&mut d);
                d
            };
            dialogs.push_with(fresh, |d| init(d))
        }
    };
    let Some(d) = dialogs.get_mut(i) else {
        return Updated::None;
    };
    d.first_time = d.first_time.min(t);
    d.last_time = d.last_time.max(t);
    match step {
        Step::Early => d.early = true,
        Step::Confirm => d.confirmed = true,
        Step::Terminate => {
            d.bye = true;
            if f.method == Method::Bye {
                let b = ByeAt::new(t, fh, tags.from);
                if b.before(d.bye_at.as_ref()) {
                    d.bye_at = Some(b);
                }
            }
        }
        Step::Join => {}
    }
    if f.method == Method::Invite && f.status.is_some() {
        let lower = d.invite.map_or(true, |(cs, h)| h != fh || f.cseq < cs);
        if lower {
            d.invite = Some((f.cseq, fh));
        }
    }
    if let Some(x) = txn {
        if !d.txns.contains(&x) && d.txns.len() < max_txns {
            d.txns.push(x);
        }
    }
    Updated::Dialog
}
