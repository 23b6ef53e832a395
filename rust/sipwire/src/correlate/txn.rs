//! Stage 2 of the pipeline: the transactions (RFC 3261 §17) of one call.
//!
//! A transaction is keyed by its top Via and method (§17.2.3): the branch, the sent-by and the
//! method, with ACK and CANCEL (and the responses to CANCEL) under their INVITE (§9.2). A
//! response carries its request's top Via (§8.2.6.2), so requests and responses share the key
//! and either can come first. Without an RFC 3261 branch the RFC 2543 fallback keys by From
//! tag, CSeq number and sent-by. The Call-ID is the call's: transactions are looked up in
//! their call, never across calls (so peers that reuse branches across calls stay apart).
//!
//! ## Equivalence, liberally (a passive observer sees what real devices send)
//!
//! - **Branch**: compared ignoring ASCII case (§7.3.1: parameter values are case-insensitive
//!   unless stated otherwise; devices differ in the case of the cookie).
//! - **Sent-by port**: an absent port is the transport's default, 5060, or 5061 for TLS
//!   (§18.2.1, §19.1.2): a CANCEL with `192.0.2.1` matches an INVITE with `192.0.2.1:5060`.
//! - **Sent-by host**: names compared ignoring case (§19.1.4) and a trailing dot (a fully
//!   qualified name, RFC 1034 §3.1); IPv6 addresses compared as addresses (RFC 5118 §4.2:
//!   brackets, zero compression and case do not matter).
//! - **Via parameters** other than the branch (`received`, `rport` added by a server,
//!   §18.2.1, RFC 3581) are not part of the key, in the RFC 2543 fallback either.
//! - **Another sent-by, the same branch**: a CANCEL or ACK whose sent-by is written
//!   differently still (a name for an address, another port: a device behind NAT, or
//!   rewriting its Via) joins the transaction of the same branch and method in its call.
//!   The branch is unique per UA (§8.1.1.7) and the Call-ID keeps calls apart, so this
//!   matters only to peers that reuse a branch within one call. Whichever of the two copies
//!   comes first makes the transaction, so feed order does not change the result.
//! - **2xx ACK**: its own branch (§13.2.2.4); it joins its INVITE through the call stage's
//!   exchange (same Call-ID, CSeq number and From tag).
//! - **CSeq number and From tag**: part of every key. All of a transaction's messages carry
//!   its request's (§8.2.6.2, §9.1, §17.1.1.3), so they change nothing for a peer that
//!   follows §8.1.1.7; a peer that reuses a branch for another request gets two
//!   transactions, not one taken for a copy of the other (which then depended on feed
//!   order).
//! - **No response to an ACK** (§17.1.1.3): a "response" with CSeq method ACK is not taken
//!   for its INVITE's, whose key it would share; it is uncorrelated (`Reason::AckResponse`).
//!
//! A second copy of a request, of a response (same status, To tag and body length), of an
//! ACK or of a CANCEL is a copy: its time is kept when it is the earliest. It is a
//! **retransmission** (counted) only when it was sent again on the same hop: the same source
//! and destination address as a copy seen before (hosts only over a connection, whose port
//! can change; see [`Hops`]), with the To tag and body length of a copy seen on that hop
//! (§17.1.1.2, §17.2.1 resend the same message). A response that differs in its body (a 180
//! with SDP after one without) is a response of its own, whatever came first. A capture can
//! hold one message on several hops: a proxy's forwarded copy carries its own top Via (§16.6
//! step 8), so it is another transaction already; the same top Via on other addresses is the
//! one packet captured at two points (both sides of a NAT, two capture agents), not a second
//! sending.

use super::facts::{Facts, Method};
use super::hash::FoldHasher;
use super::Captured;
use std::hash::Hasher;

/// Where a message goes in its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Request,
    Response,
    Ack,
    Cancel,
    CancelResponse,
}

impl Role {
    pub(crate) fn of(f: &Facts) -> Role {
        match (f.is_request(), f.method) {
            (true, Method::Ack) => Role::Ack,
            (true, Method::Cancel) => Role::Cancel,
            (true, _) => Role::Request,
            (false, Method::Cancel) => Role::CancelResponse,
            (false, _) => Role::Response,
        }
    }
}

/// A message's transaction key, borrowed from the message.
pub(crate) struct KeyRef<'a> {
    method: Method,
    /// The method's name for `Method::Other`.
    name: &'a [u8],
    rfc3261: bool,
    branch: &'a [u8],
    /// A name without its trailing dot, or empty for an IPv6 address.
    host: &'a [u8],
    ip: Option<u128>,
    port: u16,
    /// The From tag and the CSeq number, in every key: every message of a transaction
    /// carries its request's (a response copies them, §8.2.6.2; the ACK of a non-2xx and a
    /// CANCEL keep them, §17.1.1.3, §9.1), so only a peer that reuses a branch across
    /// requests (against §8.1.1.7) is told apart by them. Matching by the branch alone took
    /// such a request for a copy of the other, and what the call came to depended on which
    /// was fed first.
    from_tag: &'a [u8],
    cseq: u32,
}

impl<'a> KeyRef<'a> {
    pub(crate) fn of(buf: &'a [u8], f: &Facts) -> KeyRef<'a> {
        let v = &f.via;
        let host = v.host.of(buf);
        let method = f.method.transaction_method();
        KeyRef {
            method,
            name: if method == Method::Other {
                f.method_name.of(buf)
            } else {
                &[]
            },
            rfc3261: v.rfc3261,
            branch: v.branch.of(buf),
            host: if v.ip.is_some() {
                &[]
            } else {
                host.strip_suffix(b".").unwrap_or(host)
            },
            ip: v.ip.map(u128::from_ne_bytes),
            port: v.port,
            from_tag: f.from_tag.of(buf),
            cseq: f.cseq,
        }
    }

    pub(crate) fn hash(&self, mut h: FoldHasher) -> u64 {
        // The fixed-size parts in one word: one multiply where four would be.
        h.write_u64(
            u64::from(self.method as u8)
                | u64::from(self.rfc3261) << 8
                | u64::from(self.port) << 16
                | u64::from(self.cseq) << 32,
        );
        // (`name` is empty but for `Method::Other`.)
        if self.method == Method::Other {
            h.write(self.name);
        }
        h.write_lower(self.branch);
        h.write_lower(self.host);
        if let Some(ip) = self.ip {
            h.write_u128(ip);
        }
        h.write(self.from_tag);
        h.finish()
    }
}

/// A transaction's own copy of its key: the branch as first written (for reports), the host,
/// the From tag and the method name, one after the other.
pub(crate) struct Key {
    hash: u64,
    /// (A vector: a recycled transaction refills it.)
    bytes: Vec<u8>,
    branch: u16,
    host: u16,
    from_tag: u16,
    ip: Option<u128>,
    port: u16,
    cseq: u32,
    rfc3261: bool,
}

impl Key {
    /// Sets the key to `k`, in the buffer it has.
    fn set<'a>(&mut self, k: &KeyRef<'a>, hash: u64) {
        let len = |s: &[u8]| u16::try_from(s.len()).unwrap_or(u16::MAX);
        // Longer parts than 64 KiB cannot come from a message within the default limits; they
        // are cut, and compare unequal to the message (a new transaction), never panic.
        let cut = |s: &'a [u8]| s.get(..usize::from(len(s))).unwrap_or(&[]);
        let parts = [cut(k.branch), cut(k.host), cut(k.from_tag), k.name];
        self.bytes.clear();
        // Room for all four at once: extended one by one, a new key grew its buffer three
        // times, and a recycled one (the last key's room) often once.
        self.bytes.reserve(parts.iter().map(|p| p.len()).sum());
        for p in parts {
            self.bytes.extend_from_slice(p);
        }
        self.hash = hash;
        self.branch = len(k.branch);
        self.host = len(k.host);
        self.from_tag = len(k.from_tag);
        self.ip = k.ip;
        self.port = k.port;
        self.cseq = k.cseq;
        self.rfc3261 = k.rfc3261;
    }

    fn part(&self, start: usize, len: u16) -> &[u8] {
        self.bytes
            .get(start..start + usize::from(len))
            .unwrap_or(&[])
    }

    pub(crate) fn branch(&self) -> &[u8] {
        self.part(0, self.branch)
    }

    fn host(&self) -> &[u8] {
        self.part(usize::from(self.branch), self.host)
    }

    fn key_from_tag(&self) -> &[u8] {
        self.part(
            usize::from(self.branch) + usize::from(self.host),
            self.from_tag,
        )
    }

    pub(crate) fn method_name(&self) -> &[u8] {
        let at = usize::from(self.branch) + usize::from(self.host) + usize::from(self.from_tag);
        self.bytes.get(at..).unwrap_or(&[])
    }

    pub(crate) fn is_rfc3261(&self) -> bool {
        self.rfc3261
    }

    fn matches(&self, method: Method, k: &KeyRef<'_>, hash: u64) -> bool {
        self.hash == hash
            && method == k.method
            && self.rfc3261 == k.rfc3261
            && self.port == k.port
            && self.ip == k.ip
            && self.cseq == k.cseq
            && self.branch().eq_ignore_ascii_case(k.branch)
            && self.host().eq_ignore_ascii_case(k.host)
            && same(self.key_from_tag(), k.from_tag)
            && same(self.method_name(), k.name)
    }
}

/// The hops (source and destination address, as a hash) one message was seen on, to tell a
/// retransmission (the same hop again) from the message's copy on another hop. Up to
/// [`Hops::MAX`] distinct hops are remembered, whatever the order the copies come in; a copy
/// on a hop beyond them is not a retransmission of any of them, but its own resending is not
/// told either (then counted as none: a capture seldom sees one message on that many hops).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Hops {
    h: [u32; Hops::MAX],
    n: u8,
}

impl Hops {
    pub(crate) const MAX: usize = 4;

    /// Records a copy seen on `hop`; whether it is a retransmission (a hop seen before).
    pub(crate) fn again(&mut self, hop: u32) -> bool {
        let n = usize::from(self.n);
        if self.h.get(..n).is_some_and(|s| s.contains(&hop)) {
            return true;
        }
        match self.h.get_mut(n) {
            Some(slot) => {
                *slot = hop;
                self.n += 1;
                false
            }
            None => false,
        }
    }
}

/// A call's last few messages, each as a hash of the message and its hop with its time, to
/// tell a frame captured twice from a retransmission. The same message on the same hop
/// within [`Recent::WINDOW`] is a copy made by the capture (`tcpdump -i any` over a bridge or
/// VLAN, a mirror port, two probes merged): no transaction resends that fast (RFC 3261
/// §17.1.1.2: T1, 500 ms by default, between sends). A copy is looked for among the call's
/// last [`Recent::LEN`] messages, so the verdict depends only on the call's own messages,
/// whatever other calls the capture interleaves with them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Recent {
    seen: [(u64, f64); Recent::LEN],
    next: u8,
}

impl Default for Recent {
    fn default() -> Self {
        Recent {
            seen: [(0, f64::NEG_INFINITY); Recent::LEN],
            next: 0,
        }
    }
}

impl Recent {
    pub(crate) const LEN: usize = 4;
    /// Seconds.
    pub(crate) const WINDOW: f64 = 0.02;

    /// Whether the message `fp` (message and hop) at `t` copies one of the last few within
    /// the window (either side of `t`: a copy fed before its original counts).
    pub(crate) fn copies(&self, fp: u64, t: f64) -> bool {
        self.seen
            .iter()
            .any(|&(f, at)| f == fp && (t - at).abs() < Recent::WINDOW)
    }

    /// Records the message `fp` at `t`.
    pub(crate) fn push(&mut self, fp: u64, t: f64) {
        if let Some(slot) = self.seen.get_mut(usize::from(self.next)) {
            *slot = (fp, t);
        }
        self.next = (self.next + 1) % Recent::LEN as u8;
    }

    /// [`Recent::copies`], then [`Recent::push`].
    #[cfg(test)]
    fn copy(&mut self, fp: u64, t: f64) -> bool {
        let copy = self.copies(fp, t);
        self.push(fp, t);
        copy
    }
}

/// One distinct response: status, To tag (as its hash within the call), earliest time and
/// the hops it was seen on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RespRec {
    pub status: u16,
    pub to_hash: u64,
    /// Its body's length: a response of the same status and To tag with another body is
    /// another response (a 180 with SDP after one without), not a retransmission.
    pub body_len: u32,
    pub time: f64,
    pub hops: Hops,
}

/// The messages of a transaction, when the correlator keeps them (`Config::keep_messages`).
pub(crate) struct Kept<B> {
    pub request: Option<Captured<B>>,
    /// In the order of `TxnRec::responses`.
    pub responses: Vec<Option<Captured<B>>>,
    pub ack: Option<Captured<B>>,
    pub cancel: Option<Captured<B>>,
    pub cancel_responses: Vec<Option<Captured<B>>>,
}

impl<B> Default for Kept<B> {
    fn default() -> Self {
        Kept {
            request: None,
            responses: Vec::new(),
            ack: None,
            cancel: None,
            cancel_responses: Vec::new(),
        }
    }
}

/// One transaction.
pub(crate) struct TxnRec<B> {
    pub key: Key,
    /// The method it is matched under (INVITE for its ACK and CANCEL).
    pub method: Method,
    pub cseq: u32,
    pub first_time: f64,
    pub last_time: f64,
    /// The earliest copy of the request.
    pub request: Option<f64>,
    /// Distinct responses in arrival order (bounded by `Config::max_responses`).
    pub responses: Vec<RespRec>,
    /// The earliest final response (200-699).
    pub final_: Option<(f64, u16)>,
    pub ack: Option<f64>,
    pub cancel: Option<f64>,
    pub cancel_responses: Vec<RespRec>,
    /// The hops of the request, its (non-2xx) ACK and its CANCEL.
    pub request_hops: Hops,
    pub ack_hops: Hops,
    pub cancel_hops: Hops,
    pub retransmissions: u32,
    /// The call's INVITE/UPDATE/PRACK exchange it belongs to.
    pub exchange: Option<u16>,
    pub kept: Option<Box<Kept<B>>>,
    /// Bytes of its kept messages.
    pub kept_bytes: usize,
}

/// What the stage did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placed {
    /// The first copy; kept (when messages are kept) in this slot.
    First(Slot),
    /// A copy seen before on the same hop (a retransmission); when it is earlier than the
    /// kept one, it replaces it in the slot.
    Again(Option<Slot>),
    /// A copy seen before on another hop (not a retransmission); as `Again` for the slot.
    Copy(Option<Slot>),
    /// Not recorded: the transaction holds `Config::max_responses` distinct responses.
    Full,
}

/// Where a kept message goes in its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Request,
    Response(usize),
    Ack,
    Cancel,
    CancelResponse(usize),
}

/// Sets `slot` to `t` when it is empty or later; whether it moved.
pub(crate) fn earliest(slot: &mut Option<f64>, t: f64) -> bool {
    let moved = slot.map_or(true, |s| t < s);
    if moved {
        *slot = Some(t);
    }
    moved
}

pub(crate) fn earliest_with(slot: &mut Option<(f64, u16)>, t: f64, status: u16) {
    if slot.map_or(true, |(s, _)| t < s) {
        *slot = Some((t, status));
    }
}

/// Byte equality without a call into `memcmp` for the usual empty parts (the extension
/// method name of an INVITE, the From tag of an RFC 2543 request without one).
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// The transaction of `k` among a call's transactions: the one of the same key, else (an
/// RFC 3261 branch only) the one of the same branch, method, CSeq number and From tag,
/// whatever its sent-by.
pub(crate) fn find<B>(txns: &[TxnRec<B>], k: &KeyRef<'_>, hash: u64) -> Option<usize> {
    txns.iter()
        .position(|x| x.key.matches(x.method, k, hash))
        .or_else(|| {
            if !k.rfc3261 {
                return None;
            }
            txns.iter().position(|x| {
                x.method == k.method
                    && x.key.rfc3261
                    && x.key.cseq == k.cseq
                    && same(x.key.key_from_tag(), k.from_tag)
                    && same(x.key.method_name(), k.name)
                    && x.key.branch().eq_ignore_ascii_case(k.branch)
            })
        })
}

impl<B> TxnRec<B> {
    pub(crate) fn new(k: &KeyRef<'_>, hash: u64, cseq: u32, t: f64) -> TxnRec<B> {
        let mut x = TxnRec {
            key: Key {
                hash: 0,
                bytes: Vec::new(),
                branch: 0,
                host: 0,
                from_tag: 0,
                ip: None,
                port: 0,
                cseq: 0,
                rfc3261: false,
            },
            method: k.method,
            cseq,
            first_time: t,
            last_time: t,
            request: None,
            // A transaction has a few responses (100, 180, 200): one allocation.
            responses: Vec::with_capacity(4),
            final_: None,
            ack: None,
            cancel: None,
            cancel_responses: Vec::new(),
            request_hops: Hops::default(),
            ack_hops: Hops::default(),
            cancel_hops: Hops::default(),
            retransmissions: 0,
            exchange: None,
            kept: None,
            kept_bytes: 0,
        };
        x.key.set(k, hash);
        x
    }

    /// A recycled transaction made the transaction of `k` (its buffers kept).
    pub(crate) fn reset(&mut self, k: &KeyRef<'_>, hash: u64, cseq: u32, t: f64) {
        self.key.set(k, hash);
        self.method = k.method;
        self.cseq = cseq;
        self.first_time = t;
        self.last_time = t;
        self.request = None;
        self.responses.clear();
        self.final_ = None;
        self.ack = None;
        self.cancel = None;
        self.cancel_responses.clear();
        self.request_hops = Hops::default();
        self.ack_hops = Hops::default();
        self.cancel_hops = Hops::default();
        self.retransmissions = 0;
        self.exchange = None;
        self.kept = None;
        self.kept_bytes = 0;
    }

    /// Records one message, seen on `hop`, in its role: its first copy, a retransmission,
    /// or its copy on another hop. A request, ACK or CANCEL under the key of one seen before
    /// is a retransmission only when one with its To tag and body length was seen on its hop
    /// (§17.1.1.2 resends the same request); else it is another message under a reused key,
    /// counted as a copy, so that which of them came first does not matter. A response is the one seen before
    /// with the same status, To tag and body length (§17.2.1 resends the same response);
    /// else it is a response of its own.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn place(
        &mut self,
        role: Role,
        status: Option<u16>,
        to_hash: u64,
        body_len: u32,
        t: f64,
        hop: u32,
        max_responses: usize,
    ) -> Placed {
        self.first_time = self.first_time.min(t);
        self.last_time = self.last_time.max(t);
        let (cell, hops, slot) = match role {
            Role::Request => (&mut self.request, &mut self.request_hops, Slot::Request),
            Role::Ack => (&mut self.ack, &mut self.ack_hops, Slot::Ack),
            Role::Cancel => (&mut self.cancel, &mut self.cancel_hops, Slot::Cancel),
            Role::Response | Role::CancelResponse => {
                return self.place_response(
                    role,
                    (status.unwrap_or(0), to_hash, body_len),
                    t,
                    hop,
                    max_responses,
                )
            }
        };
        let seen = cell.is_some();
        let earlier = earliest(cell, t);
        // The hop and the message (To tag, body length) together: a retransmission is the
        // same message again on the same hop, whichever of two messages under one key came
        // first.
        let variant = to_hash ^ u64::from(body_len).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let again = hops.again(hop ^ (variant ^ (variant >> 32)) as u32);
        if !seen {
            Placed::First(slot)
        } else if again {
            self.retransmissions += 1;
            Placed::Again(earlier.then_some(slot))
        } else {
            Placed::Copy(earlier.then_some(slot))
        }
    }

    fn place_response(
        &mut self,
        role: Role,
        (status, to_hash, body_len): (u16, u64, u32),
        t: f64,
        hop: u32,
        max_responses: usize,
    ) -> Placed {
        let to_invite = role == Role::Response;
        if to_invite && status >= 200 {
            earliest_with(&mut self.final_, t, status);
        }
        let (list, slot): (_, fn(usize) -> Slot) = if to_invite {
            (&mut self.responses, Slot::Response)
        } else {
            (&mut self.cancel_responses, Slot::CancelResponse)
        };
        let known = list
            .iter_mut()
            .enumerate()
            .find(|(_, r)| r.status == status && r.to_hash == to_hash && r.body_len == body_len);
        if let Some((i, r)) = known {
            let earlier = t < r.time;
            r.time = r.time.min(t);
            if !r.hops.again(hop) {
                return Placed::Copy(earlier.then(|| slot(i)));
            }
            self.retransmissions += 1;
            return Placed::Again(earlier.then(|| slot(i)));
        }
        if list.len() >= max_responses {
            return Placed::Full;
        }
        let mut hops = Hops::default();
        hops.again(hop);
        list.push(RespRec {
            status,
            to_hash,
            body_len,
            time: t,
            hops,
        });
        Placed::First(slot(list.len() - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::{Hops, Recent};

    #[test]
    fn recent_tells_a_copy_within_the_window_in_either_order() {
        let mut r = Recent::default();
        assert!(!r.copy(1, 10.0)); // the first
        assert!(r.copy(1, 10.00002)); // captured twice
        assert!(!r.copy(2, 10.00003)); // another message
        assert!(!r.copy(1, 10.5)); // sent again after T1: a retransmission, no copy
        assert!(r.copy(1, 10.49)); // a copy fed before its original
                                   // Pushed out by the call's later messages, a copy is no longer told.
        for fp in 3..3 + Recent::LEN as u64 {
            assert!(!r.copy(fp, 10.5));
        }
        assert!(!r.copy(1, 10.5));
        // A time that is no number copies nothing.
        assert!(!r.copy(9, f64::NAN) && !r.copy(9, 11.0));
    }

    #[test]
    fn hops_tell_a_resending_from_another_hop_in_any_order() {
        let mut h = Hops::default();
        assert!(!h.again(7)); // the first copy
        assert!(!h.again(9)); // on another hop
        assert!(h.again(7) && h.again(9)); // each sent again
        for hop in [1, 2] {
            assert!(!h.again(hop));
        }
        // Full: a further hop is still no retransmission; the ones known still are.
        assert!(!h.again(3) && !h.again(3));
        assert!(h.again(1) && h.again(7));
    }
}
