//! The passive correlator: observed traffic (a capture, a mirror port) grouped into
//! transactions, dialogs and calls.
//!
//! ## Theory of operation
//!
//! [`Correlator::feed`] takes one message with its time, source, destination and transport,
//! in any order. A message that does not parse (lenient options) is counted, never fatal.
//! Otherwise the correlator reads only the start line, Call-ID, CSeq, From/To tags and the top
//! Via (typed parsers, spans of the buffer), and the SDP body of INVITE/UPDATE/ACK exchanges.
//!
//! - **Transactions** are keyed by (top Via branch, sent-by, method) with ACK and CANCEL (and
//!   responses to CANCEL) mapped to their INVITE (RFC 3261 §17.2.3, §9.2). A response carries
//!   its request's top Via (§8.2.6.2), so requests and responses share the key and either can
//!   come first: a response whose request was never captured still makes a transaction,
//!   with `request` empty. Without an RFC 3261 branch the RFC 2543 fallback keys by Call-ID,
//!   From tag, CSeq number and the top via-parm (the Request-URI of §17.2.3 is left out:
//!   responses do not carry it). The Call-ID is part of both keys: a branch is unique
//!   (§8.1.1.7), so this changes nothing for conforming peers and keeps apart the calls of
//!   peers that reuse branches. An ACK for a 2xx has its own branch (§13.2.2.4): it joins
//!   its INVITE by Call-ID, CSeq and From tag, waiting with the call when it comes first.
//!   A second copy of a request, of a response (same status and To tag), of an ACK or of a
//!   CANCEL is a retransmission: counted, not stored.
//! - **Dialogs** (§12) are INVITE dialogs: Call-ID and the two tags (either orientation),
//!   made by a 101-299 response to INVITE or an in-dialog request. A 2xx or an in-dialog
//!   request confirms, BYE terminates, and an early dialog whose INVITE got a final response
//!   on another or no dialog is terminated.
//! - **Calls** are the INVITE dialogs of one Call-ID with their re-INVITEs and UPDATEs. Each
//!   INVITE/UPDATE exchange is recorded by (CSeq, From tag), independent of arrival order,
//!   and a call's outcome, times, hold periods and media sessions are derived from those
//!   records when asked ([`Correlator::calls`]), so scrambled input gives the same answer.
//!
//! Time is seconds as `f64` on any clock (a capture's timestamps); the correlator reads no
//! clock. The capture's end is [`Correlator::finish`]'s argument, or the latest time fed: a
//! call with no final response whose last message is more than `Config::timeout` (64*T1,
//! 32 s, RFC 3261 §17.1.1.2 Timer B) older than the end is `timeout`, else `in_progress`.
//!
//! Every table is bounded ([`Config`]): a full table evicts its least recently used entry;
//! stored message bytes have a budget; per-transaction and per-call lists are capped. Each
//! eviction and drop is counted in [`Counters`]; an evicted call's outcome is tallied there.
//!
//! Messages are stored as `B` (`Box<[u8]>` by default; `Arc<[u8]>` or any `AsRef<[u8]>` a
//! binding likes) next to their [`MessageIndex`]: the copy a capture needs and no other
//! allocation per message, except the stream records of an SDP body.

mod facts;
mod hash;
mod report;
mod table;

use std::hash::Hasher;
use std::net::SocketAddr;

pub use facts::{Method, RtpEndpoint, StreamInfo};
pub use report::{
    Call, Dialog, DialogState, HoldPeriod, MediaSession, MediaStream, Outcome, OutcomeCounts,
    Transaction,
};
pub use table::Id;

use crate::message::{Message, MessageIndex};
use crate::scan::Span;
use crate::txn::Transport;
use crate::{Diagnostic, Error, ParseOptions};
use facts::Facts;
use table::Table;

/// Bounds and timing of a [`Correlator`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// Transactions kept (least recently used evicted).
    pub max_transactions: usize,
    /// Dialogs kept.
    pub max_dialogs: usize,
    /// Calls kept.
    pub max_calls: usize,
    /// Bytes of stored messages; past it the least recently used transactions are evicted.
    pub max_stored_bytes: usize,
    /// Distinct responses stored per transaction (more are counted as dropped).
    pub max_responses: usize,
    /// INVITE/UPDATE exchanges recorded per call.
    pub max_exchanges_per_call: usize,
    /// Dialogs listed per call, transactions listed per dialog.
    pub max_dialogs_per_call: usize,
    pub max_transactions_per_dialog: usize,
    /// Seconds without a final response after which a call is `timeout` rather than
    /// `in_progress` at the capture's end: 64*T1 = 32 s (RFC 3261 §17.1.1.2).
    pub timeout: f64,
    /// How messages are parsed (lenient by default: a capture holds what peers sent).
    pub parse: ParseOptions,
}

impl Config {
    pub const DEFAULT: Config = Config {
        max_transactions: 100_000,
        max_dialogs: 100_000,
        max_calls: 100_000,
        max_stored_bytes: 256 * 1024 * 1024,
        max_responses: 32,
        max_exchanges_per_call: 32,
        max_dialogs_per_call: 16,
        max_transactions_per_dialog: 64,
        timeout: 32.0,
        parse: ParseOptions::LIBERAL,
    };
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// When and where a message was seen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Packet {
    /// Seconds on the capture's clock. A non-finite time is taken as the latest time fed.
    pub time: f64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub transport: Transport,
}

impl Packet {
    pub fn new(time: f64, src: SocketAddr, dst: SocketAddr, transport: Transport) -> Packet {
        Packet {
            time,
            src,
            dst,
            transport,
        }
    }

    pub fn udp(time: f64, src: SocketAddr, dst: SocketAddr) -> Packet {
        Packet::new(time, src, dst, Transport::Udp)
    }
}

/// A stored message: its bytes (the whole record fed), its index, and where it was seen.
#[derive(Clone, Debug)]
pub struct Captured<B> {
    bytes: B,
    index: MessageIndex,
    packet: Packet,
}

impl<B: AsRef<[u8]>> Captured<B> {
    /// The record as fed (the index's spans are offsets into it).
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }
    /// The storage itself (a binding may hand out its own object).
    pub fn raw(&self) -> &B {
        &self.bytes
    }
    pub fn index(&self) -> &MessageIndex {
        &self.index
    }
    pub fn message(&self) -> Message<'_, &MessageIndex> {
        Message::new(self.bytes.as_ref(), &self.index)
    }
    pub fn packet(&self) -> &Packet {
        &self.packet
    }
    pub fn time(&self) -> f64 {
        self.packet.time
    }
    pub fn src(&self) -> SocketAddr {
        self.packet.src
    }
    pub fn dst(&self) -> SocketAddr {
        self.packet.dst
    }
    pub fn transport(&self) -> Transport {
        self.packet.transport
    }
    /// The status code, `None` for a request.
    pub fn status(&self) -> Option<u16> {
        self.message().status()
    }
}

/// What [`Correlator::feed`] did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fed {
    /// Stored in this transaction (the first copy of a request, response, ACK or CANCEL).
    Stored(Id),
    /// A retransmission of what this transaction holds: counted, not stored.
    Retransmission(Id),
    /// An ACK whose INVITE transaction is not (yet) known: kept with its call until it comes.
    Parked,
    /// Not stored: its transaction or call already holds as many as the config allows.
    Dropped,
    /// Parsed, but without a Call-ID, CSeq or top Via the typed parsers accept.
    Uncorrelated,
    /// Did not parse.
    Unparsable(Error),
}

/// What the correlator saw and what it had to let go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub messages: u64,
    pub requests: u64,
    pub responses: u64,
    pub unparsable: u64,
    pub uncorrelated: u64,
    pub retransmissions: u64,
    pub transactions: u64,
    /// Responses that made their transaction (their request not captured, or not yet).
    pub orphan_responses: u64,
    /// ACKs kept with their call because their INVITE was not (yet) known.
    pub parked_acks: u64,
    pub dialogs: u64,
    pub calls: u64,
    pub evicted_transactions: u64,
    pub evicted_dialogs: u64,
    pub evicted_calls: u64,
    /// Messages not stored because a per-transaction or per-call cap was reached.
    pub dropped: u64,
    /// Bytes of messages held now.
    pub stored_bytes: u64,
    /// Outcomes of evicted calls, decided when they were evicted.
    pub evicted_outcomes: OutcomeCounts,
}

/// Where a message goes in its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Request,
    Response,
    Ack,
    Cancel,
    CancelResponse,
}

/// Which stored message the transaction's key spans point into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Request,
    Response(usize),
    Cancel,
    CancelResponse(usize),
}

pub(crate) struct Txn<B> {
    key: Facts,
    owner: Owner,
    method: Method,
    call: Option<Id>,
    request: Option<Captured<B>>,
    /// Responses in arrival order with their To tag span.
    responses: Vec<(Captured<B>, Span)>,
    ack: Option<Captured<B>>,
    cancel: Option<Captured<B>>,
    cancel_responses: Vec<Captured<B>>,
    retransmissions: u32,
    first_time: f64,
    last_time: f64,
    final_: Option<(f64, u16)>,
    bytes: usize,
}

impl<B: AsRef<[u8]>> Txn<B> {
    fn owner_bytes(&self) -> &[u8] {
        let c = match self.owner {
            Owner::Request => self.request.as_ref(),
            Owner::Response(i) => self.responses.get(i).map(|(c, _)| c),
            Owner::Cancel => self.cancel.as_ref(),
            Owner::CancelResponse(i) => self.cancel_responses.get(i),
        };
        c.map_or(&[][..], |c| c.bytes())
    }
}

/// One side's session description in an exchange.
#[derive(Clone, Debug)]
pub(crate) struct SdpRec {
    time: f64,
    from: SocketAddr,
    streams: Vec<StreamInfo>,
}

/// One INVITE or UPDATE exchange of a call, keyed by CSeq number and From tag.
pub(crate) struct Exchange<B> {
    cseq: u32,
    from_hash: u64,
    update: bool,
    txn: Option<Id>,
    /// Whether the request was initial (no To tag); `None` when it was not captured.
    initial: Option<bool>,
    first_time: f64,
    request_time: Option<f64>,
    ringing: Option<f64>,
    answered: Option<(f64, u16)>,
    final_: Option<(f64, u16)>,
    cancel: Option<f64>,
    req_sdp: Option<SdpRec>,
    req_without_sdp: bool,
    resp_sdp: Option<SdpRec>,
    ack_sdp: Option<SdpRec>,
    parked: Option<Box<Captured<B>>>,
    parked_retransmissions: u32,
}

pub(crate) struct CallRec<B> {
    call_id: Box<[u8]>,
    first_time: f64,
    last_time: f64,
    exchanges: Vec<Exchange<B>>,
    dialogs: Vec<Id>,
    bye: Option<f64>,
    /// A 2xx to INVITE or an in-dialog request other than PRACK/UPDATE was seen.
    confirmed: bool,
    /// (priority, time, From tag hash) of the best guess at the caller.
    caller: Option<(u8, f64, u64)>,
    parked_bytes: usize,
    /// Its messages' From, To and Via values, parsed.
    seen: facts::Seen,
}

pub(crate) struct DialogRec {
    /// Call-ID, From tag and To tag (as first seen), one after the other.
    ids: Box<[u8]>,
    call_len: usize,
    from_len: usize,
    call: Id,
    early: bool,
    confirmed: bool,
    bye: bool,
    /// The INVITE exchange whose response made it (CSeq, From tag hash).
    invite: Option<(u32, u64)>,
    first_time: f64,
    last_time: f64,
    txns: Vec<Id>,
}

impl DialogRec {
    fn call_id(&self) -> &[u8] {
        self.ids.get(..self.call_len).unwrap_or(&[])
    }
    fn tag_a(&self) -> &[u8] {
        self.ids
            .get(self.call_len..self.call_len + self.from_len)
            .unwrap_or(&[])
    }
    fn tag_b(&self) -> &[u8] {
        self.ids.get(self.call_len + self.from_len..).unwrap_or(&[])
    }
}

/// How a message moves a dialog.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DialogStep {
    Early,
    Confirm,
    Terminate,
    /// Joins an existing dialog without changing it.
    Join,
}

/// The passive correlator. See the module documentation.
pub struct Correlator<B = Box<[u8]>> {
    cfg: Config,
    keys: hash::Keys,
    txns: Table<Txn<B>>,
    dialogs: Table<DialogRec>,
    calls: Table<CallRec<B>>,
    counters: Counters,
    max_time: Option<f64>,
    end: Option<f64>,
    diags: Vec<Diagnostic>,
}

impl Default for Correlator {
    fn default() -> Self {
        Correlator::new(Config::DEFAULT)
    }
}

impl Correlator {
    /// A correlator storing messages as `Box<[u8]>`.
    pub fn new(cfg: Config) -> Self {
        Correlator::with_storage(cfg)
    }
}

/// Sets `slot` to `t` when it is empty or later.
fn earliest(slot: &mut Option<f64>, t: f64) {
    if slot.map_or(true, |s| t < s) {
        *slot = Some(t);
    }
}

fn earliest_with(slot: &mut Option<(f64, u16)>, t: f64, status: u16) {
    if slot.map_or(true, |(s, _)| t < s) {
        *slot = Some((t, status));
    }
}

fn earliest_sdp(slot: &mut Option<SdpRec>, rec: SdpRec) {
    if slot.as_ref().map_or(true, |s| rec.time < s.time) {
        *slot = Some(rec);
    }
}

/// Hashes bytes ASCII-lowercased (branch and host compare case-insensitively, RFC 3261
/// §7.3.1, §19.1.4).
fn hash_lower(h: &mut hash::FoldHasher, s: &[u8]) {
    h.write_lower(s);
    h.write_u8(0xff);
}

/// Whether two messages belong to the same transaction (see the module documentation).
fn same_key(a: &[u8], fa: &Facts, b: &[u8], fb: &Facts) -> bool {
    let (ma, mb) = (
        fa.method.transaction_method(),
        fb.method.transaction_method(),
    );
    if fa.rfc3261 != fb.rfc3261
        || ma != mb
        || (ma == Method::Other && fa.method_name.of(a) != fb.method_name.of(b))
    {
        return false;
    }
    if fa.rfc3261 {
        fa.via_port == fb.via_port
            && fa.branch.of(a).eq_ignore_ascii_case(fb.branch.of(b))
            && fa.via_host.of(a).eq_ignore_ascii_case(fb.via_host.of(b))
            && fa.call_id.of(a) == fb.call_id.of(b)
    } else {
        fa.cseq == fb.cseq
            && fa.call_id.of(a) == fb.call_id.of(b)
            && fa.from_tag.of(a) == fb.from_tag.of(b)
            && fa.via.of(a) == fb.via.of(b)
    }
}

impl<B: AsRef<[u8]>> Correlator<B> {
    /// A correlator storing messages as `B` (`Arc<[u8]>`, `Vec<u8>`, a binding's type...).
    pub fn with_storage(cfg: Config) -> Self {
        Correlator {
            cfg,
            keys: hash::Keys::random(),
            txns: Table::new(cfg.max_transactions),
            dialogs: Table::new(cfg.max_dialogs),
            calls: Table::new(cfg.max_calls),
            counters: Counters::default(),
            max_time: None,
            end: None,
            diags: Vec::new(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Feeds a message the caller owns already (no copy is made).
    pub fn feed_owned(&mut self, data: B, packet: Packet) -> Fed {
        let packet = self.sanitize(packet);
        self.counters.messages += 1;
        match MessageIndex::parse_datagram(data.as_ref(), &self.cfg.parse) {
            Ok(index) => self.ingest(data, index, packet),
            Err(e) => {
                self.counters.unparsable += 1;
                Fed::Unparsable(e)
            }
        }
    }

    /// Feeds a message the caller parsed already (its index must be of `data`).
    pub fn feed_indexed(&mut self, data: B, index: MessageIndex, packet: Packet) -> Fed {
        let packet = self.sanitize(packet);
        self.counters.messages += 1;
        self.ingest(data, index, packet)
    }

    /// Marks the capture as ended at `end` (default: the latest time fed). Calls without a
    /// final response are then `timeout` or `in_progress` by that time.
    pub fn finish(&mut self, end: Option<f64>) {
        self.end = end.filter(|t| t.is_finite()).or(self.max_time);
    }

    /// The capture's end as the reports see it: [`Correlator::finish`]'s time, else the
    /// latest time fed.
    pub fn capture_end(&self) -> f64 {
        self.end.or(self.max_time).unwrap_or(0.0)
    }

    fn sanitize(&mut self, mut p: Packet) -> Packet {
        if !p.time.is_finite() {
            p.time = self.max_time.unwrap_or(0.0);
        }
        if self.max_time.map_or(true, |m| p.time > m) {
            self.max_time = Some(p.time);
        }
        p
    }

    fn ingest(&mut self, data: B, index: MessageIndex, packet: Packet) -> Fed {
        let (target, fed) = self.analyse(data.as_ref(), &index, &packet);
        let captured = Captured {
            bytes: data,
            index,
            packet,
        };
        self.commit(target, captured);
        fed
    }

    fn hash_bytes(&self, parts: &[&[u8]]) -> u64 {
        let mut h = self.keys.hasher();
        for p in parts {
            h.write(p);
            h.write_u8(0xff);
        }
        h.finish()
    }

    fn txn_hash(&self, buf: &[u8], f: &Facts) -> u64 {
        let mut h = self.keys.hasher();
        let m = f.method.transaction_method();
        h.write_u8(m as u8);
        if m == Method::Other {
            h.write(f.method_name.of(buf));
        }
        if f.rfc3261 {
            h.write_u8(0);
            hash_lower(&mut h, f.branch.of(buf));
            hash_lower(&mut h, f.via_host.of(buf));
            h.write_u32(f.via_port.map_or(u32::MAX, u32::from));
            h.write(f.call_id.of(buf));
        } else {
            h.write_u8(1);
            for p in [f.call_id, f.from_tag, f.via] {
                h.write(p.of(buf));
                h.write_u8(0xff);
            }
            h.write_u32(f.cseq);
        }
        h.finish()
    }

    /// Dialog hash: Call-ID and the two tags in either order.
    fn dialog_hash(&self, call_id: &[u8], a: &[u8], b: &[u8]) -> u64 {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        self.hash_bytes(&[call_id, lo, hi])
    }

    /// Phase one: everything but storing the message. Returns where it goes.
    fn analyse(&mut self, buf: &[u8], idx: &MessageIndex, p: &Packet) -> (Target, Fed) {
        let mut diags = std::mem::take(&mut self.diags);
        diags.clear();
        let out = self.analyse_with(buf, idx, p, &mut diags);
        self.diags = diags;
        out
    }

    fn analyse_with(
        &mut self,
        buf: &[u8],
        idx: &MessageIndex,
        p: &Packet,
        diags: &mut Vec<Diagnostic>,
    ) -> (Target, Fed) {
        let opts = &self.cfg.parse;
        let Some(h) = facts::head(buf, idx, opts, diags) else {
            self.counters.uncorrelated += 1;
            return (Target::Nowhere, Fed::Uncorrelated);
        };
        // The call first: its messages' From, To and Via were parsed already.
        let call_id = h.call_id.of(buf);
        let call_hash = self.hash_bytes(&[call_id]);
        let known = self.calls.find(call_hash, |c| &*c.call_id == call_id);
        let seen = known
            .and_then(|id| self.calls.get_mut(id))
            .map(|c| &mut c.seen);
        let Some((via, from_tag, to_tag)) = facts::parts(buf, &h, seen, opts, diags) else {
            self.counters.uncorrelated += 1;
            return (Target::Nowhere, Fed::Uncorrelated);
        };
        let f = Facts::new(&h, via, from_tag, to_tag);
        let t = p.time;
        if f.is_request() {
            self.counters.requests += 1;
        } else {
            self.counters.responses += 1;
        }
        let km = f.method.transaction_method();
        let from_hash = self.hash_bytes(&[f.from_tag.of(buf)]);
        let call = self.call_for(buf, &f, from_hash, t, (call_hash, known));
        if let (Some(c), None) = (call, known) {
            if let Some(rec) = self.calls.get_mut(c) {
                rec.seen.remember_parts(buf, &h, via, from_tag, to_tag);
            }
        }
        // The INVITE/UPDATE exchange this message is part of.
        let exchange = match (call, km) {
            (Some(c), Method::Invite | Method::Update) => self.exchange_for(c, &f, from_hash, t),
            _ => None,
        };

        // The transaction.
        let hash = self.txn_hash(buf, &f);
        let found = self
            .txns
            .find(hash, |x| same_key(x.owner_bytes(), &x.key, buf, &f));
        let is_ack = f.is_request() && f.method == Method::Ack;
        let (target, fed, txn) = if is_ack {
            self.place_ack(found, call, exchange, buf, &f, t)
        } else {
            let role = match (f.is_request(), f.method) {
                (true, Method::Cancel) => Role::Cancel,
                (true, _) => Role::Request,
                (false, Method::Cancel) => Role::CancelResponse,
                (false, _) => Role::Response,
            };
            let id = match found {
                Some(id) => id,
                None => self.new_txn(hash, f, role, km, call, t),
            };
            let (target, fed) = self.place(id, role, buf, &f, t);
            (target, fed, Some(id))
        };
        let retransmission = matches!(fed, Fed::Retransmission(_));
        if let Some(id) = txn {
            self.txns.touch(id);
            if let Some(x) = self.txns.get_mut(id) {
                x.last_time = x.last_time.max(t);
                x.first_time = x.first_time.min(t);
            }
        }

        // The exchange: times, finals, offers and answers.
        if let (Some(c), Some(e)) = (call, exchange) {
            if let (Some(id), true) = (txn, km == Method::Invite || km == Method::Update) {
                self.link_exchange(c, e, id);
            }
            if !retransmission {
                let sdp_wanted = match (f.status, f.method) {
                    (None, Method::Invite | Method::Update | Method::Ack) => true,
                    (Some(s), Method::Invite | Method::Update) => (101..300).contains(&s),
                    _ => false,
                };
                let sdp = if sdp_wanted {
                    facts::sdp_streams(buf, idx, f.content_type, &self.cfg.parse, diags).map(
                        |streams| SdpRec {
                            time: t,
                            from: p.src,
                            streams,
                        },
                    )
                } else {
                    None
                };
                self.update_exchange(c, e, &f, t, sdp);
            }
        }

        // The dialog.
        if let Some(c) = call {
            if !retransmission {
                self.update_dialog(c, buf, &f, from_hash, t, txn);
            }
        }
        (target, fed)
    }

    /// The call of a message: found by Call-ID, made for INVITE, ACK, CANCEL and BYE
    /// (a partial capture may hold a BYE alone). Other methods only join a known call.
    /// `found` is the Call-ID's hash and the call it found, looked up by the caller.
    fn call_for(
        &mut self,
        buf: &[u8],
        f: &Facts,
        from_hash: u64,
        t: f64,
        found: (u64, Option<Id>),
    ) -> Option<Id> {
        let call_id = f.call_id.of(buf);
        let (hash, found) = found;
        let id = match found {
            Some(id) => id,
            None => {
                if !matches!(
                    f.method,
                    Method::Invite | Method::Ack | Method::Cancel | Method::Bye
                ) {
                    return None;
                }
                self.counters.calls += 1;
                let rec = CallRec {
                    call_id: call_id.into(),
                    first_time: t,
                    last_time: t,
                    exchanges: Vec::new(),
                    dialogs: Vec::new(),
                    bye: None,
                    confirmed: false,
                    caller: None,
                    parked_bytes: 0,
                    seen: facts::Seen::default(),
                };
                let (id, evicted) = self.calls.insert(hash, rec);
                if let Some(old) = evicted {
                    self.evict_call(&old);
                }
                id
            }
        };
        self.calls.touch(id);
        if let Some(c) = self.calls.get_mut(id) {
            c.first_time = c.first_time.min(t);
            c.last_time = c.last_time.max(t);
            // The caller is the From of an initial INVITE, else of the earliest INVITE seen.
            if f.method == Method::Invite || f.method == Method::Ack {
                let prio = u8::from(f.is_request() && f.to_tag.is_empty()) + 1;
                let better = c
                    .caller
                    .map_or(true, |(p, ct, _)| prio > p || (prio == p && t < ct));
                if better {
                    c.caller = Some((prio, t, from_hash));
                }
            }
            if f.method == Method::Bye {
                let mut b = c.bye;
                earliest(&mut b, t);
                c.bye = b;
            }
        }
        Some(id)
    }

    fn evict_call(&mut self, old: &CallRec<B>) {
        self.counters.evicted_calls += 1;
        self.counters.stored_bytes = self
            .counters
            .stored_bytes
            .saturating_sub(old.parked_bytes as u64);
        let summary = report::summarize(old, self.capture_end(), self.cfg.timeout);
        self.counters.evicted_outcomes.add(summary.0);
    }

    /// The call's exchange for (CSeq, From tag, INVITE or UPDATE), made when new.
    fn exchange_for(&mut self, call: Id, f: &Facts, from_hash: u64, t: f64) -> Option<usize> {
        let update = f.method == Method::Update;
        let cap = self.cfg.max_exchanges_per_call;
        let c = self.calls.get_mut(call)?;
        if let Some(i) = c
            .exchanges
            .iter()
            .position(|e| e.cseq == f.cseq && e.from_hash == from_hash && e.update == update)
        {
            return Some(i);
        }
        if c.exchanges.len() >= cap {
            return None;
        }
        c.exchanges.push(Exchange {
            cseq: f.cseq,
            from_hash,
            update,
            txn: None,
            initial: None,
            first_time: t,
            request_time: None,
            ringing: None,
            answered: None,
            final_: None,
            cancel: None,
            req_sdp: None,
            req_without_sdp: false,
            resp_sdp: None,
            ack_sdp: None,
            parked: None,
            parked_retransmissions: 0,
        });
        Some(c.exchanges.len() - 1)
    }

    fn new_txn(
        &mut self,
        hash: u64,
        f: Facts,
        role: Role,
        km: Method,
        call: Option<Id>,
        t: f64,
    ) -> Id {
        let owner = match role {
            Role::Request | Role::Ack => Owner::Request,
            Role::Response => Owner::Response(0),
            Role::Cancel => Owner::Cancel,
            Role::CancelResponse => Owner::CancelResponse(0),
        };
        if matches!(role, Role::Response | Role::CancelResponse) {
            self.counters.orphan_responses += 1;
        }
        self.counters.transactions += 1;
        let txn = Txn {
            key: f,
            owner,
            method: km,
            call,
            request: None,
            responses: Vec::new(),
            ack: None,
            cancel: None,
            cancel_responses: Vec::new(),
            retransmissions: 0,
            first_time: t,
            last_time: t,
            final_: None,
            bytes: 0,
        };
        // The key's owner is stored by `commit`, right after this phase.
        let (id, evicted) = self.txns.insert(hash, txn);
        if let Some(old) = evicted {
            self.drop_txn(&old);
        }
        id
    }

    fn drop_txn(&mut self, old: &Txn<B>) {
        self.counters.evicted_transactions += 1;
        self.counters.stored_bytes = self.counters.stored_bytes.saturating_sub(old.bytes as u64);
    }

    /// Where a message goes in transaction `id`, or that it repeats what the transaction has.
    fn place(&mut self, id: Id, role: Role, buf: &[u8], f: &Facts, t: f64) -> (Target, Fed) {
        let max = self.cfg.max_responses;
        let Some(x) = self.txns.get_mut(id) else {
            self.counters.dropped += 1;
            return (Target::Nowhere, Fed::Dropped);
        };
        let to_tag = f.to_tag.of(buf);
        let repeated = match role {
            Role::Request => x.request.is_some(),
            Role::Cancel => x.cancel.is_some(),
            Role::Ack => x.ack.is_some(),
            Role::Response => x
                .responses
                .iter()
                .any(|(c, tag)| c.status() == f.status && tag.of(c.bytes()) == to_tag),
            Role::CancelResponse => x.cancel_responses.iter().any(|c| c.status() == f.status),
        };
        if repeated {
            x.retransmissions += 1;
            self.counters.retransmissions += 1;
            return (Target::Nowhere, Fed::Retransmission(id));
        }
        let full = match role {
            Role::Response => x.responses.len() >= max,
            Role::CancelResponse => x.cancel_responses.len() >= max,
            _ => false,
        };
        if full {
            self.counters.dropped += 1;
            return (Target::Nowhere, Fed::Dropped);
        }
        if role == Role::Response {
            if let Some(s) = f.status.filter(|&s| s >= 200) {
                earliest_with(&mut x.final_, t, s);
            }
        }
        (Target::Txn(id, role, f.to_tag), Fed::Stored(id))
    }

    /// An ACK: in its INVITE transaction, found by branch (non-2xx ACK, RFC 3261 §17.1.1.3)
    /// or through its exchange (2xx ACK, §13.2.2.4); else kept with the exchange until the
    /// INVITE comes.
    fn place_ack(
        &mut self,
        found: Option<Id>,
        call: Option<Id>,
        exchange: Option<usize>,
        buf: &[u8],
        f: &Facts,
        t: f64,
    ) -> (Target, Fed, Option<Id>) {
        let via_exchange = || {
            let e = self.calls.get(call?)?.exchanges.get(exchange?)?;
            e.txn.filter(|&id| self.txns.get(id).is_some())
        };
        if let Some(id) = found.or_else(via_exchange) {
            let (target, fed) = self.place(id, Role::Ack, buf, f, t);
            return (target, fed, Some(id));
        }
        let ex = call
            .zip(exchange)
            .and_then(|(c, e)| self.calls.get_mut(c)?.exchanges.get_mut(e));
        let Some(ex) = ex else {
            self.counters.dropped += 1;
            return (Target::Nowhere, Fed::Dropped, None);
        };
        if ex.parked.is_some() {
            ex.parked_retransmissions += 1;
            self.counters.retransmissions += 1;
            return (Target::Nowhere, Fed::Parked, None);
        }
        match call.zip(exchange) {
            Some((c, e)) => (Target::Park(c, e), Fed::Parked, None),
            None => (Target::Nowhere, Fed::Dropped, None),
        }
    }

    /// Links an exchange to its transaction, and hands the transaction an ACK that came first.
    fn link_exchange(&mut self, c: Id, e: usize, id: Id) {
        let txns = &mut self.txns;
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        let Some(ex) = call.exchanges.get_mut(e) else {
            return;
        };
        if ex.txn.map_or(true, |old| txns.get(old).is_none()) {
            ex.txn = Some(id);
        }
        let Some(x) = txns.get_mut(id) else {
            return;
        };
        if x.ack.is_none() && x.method == Method::Invite {
            if let Some(parked) = ex.parked.take() {
                let len = parked.bytes().len();
                call.parked_bytes = call.parked_bytes.saturating_sub(len);
                x.bytes += len;
                x.retransmissions += ex.parked_retransmissions;
                ex.parked_retransmissions = 0;
                x.ack = Some(*parked);
            }
        }
    }

    fn update_exchange(&mut self, c: Id, e: usize, f: &Facts, t: f64, sdp: Option<SdpRec>) {
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        if f.method == Method::Invite && f.status.is_some_and(|s| (200..300).contains(&s)) {
            call.confirmed = true;
        }
        let Some(ex) = call.exchanges.get_mut(e) else {
            return;
        };
        ex.first_time = ex.first_time.min(t);
        match (f.status, f.method) {
            (None, Method::Invite | Method::Update) => {
                earliest(&mut ex.request_time, t);
                ex.initial = Some(f.method == Method::Invite && f.to_tag.is_empty());
                match sdp {
                    Some(s) => earliest_sdp(&mut ex.req_sdp, s),
                    None => ex.req_without_sdp = true,
                }
            }
            (None, Method::Cancel) => earliest(&mut ex.cancel, t),
            (None, Method::Ack) => {
                if let Some(s) = sdp {
                    earliest_sdp(&mut ex.ack_sdp, s);
                }
            }
            (Some(s), Method::Invite | Method::Update) => {
                if (180..190).contains(&s) {
                    earliest(&mut ex.ringing, t);
                }
                if (200..300).contains(&s) {
                    earliest_with(&mut ex.answered, t, s);
                }
                if s >= 200 {
                    earliest_with(&mut ex.final_, t, s);
                }
                if let Some(sd) = sdp {
                    earliest_sdp(&mut ex.resp_sdp, sd);
                }
            }
            _ => {}
        }
    }

    /// Finds or makes the message's dialog (RFC 3261 §12: Call-ID and both tags) and moves
    /// its state.
    fn update_dialog(
        &mut self,
        c: Id,
        buf: &[u8],
        f: &Facts,
        from_hash: u64,
        t: f64,
        txn: Option<Id>,
    ) {
        let (from, to) = (f.from_tag.of(buf), f.to_tag.of(buf));
        if from.is_empty() || to.is_empty() {
            return;
        }
        let step = match (f.status, f.method) {
            (Some(s), Method::Invite) if (101..200).contains(&s) => DialogStep::Early,
            (Some(s), Method::Invite) if (200..300).contains(&s) => DialogStep::Confirm,
            (Some(s), Method::Bye) if (200..300).contains(&s) => DialogStep::Terminate,
            (Some(_), _) => DialogStep::Join,
            (None, Method::Bye) => DialogStep::Terminate,
            (None, Method::Ack | Method::Cancel) => DialogStep::Join,
            // Allowed in early dialogs (RFC 3262 §3, RFC 3311 §5.1).
            (None, Method::Prack | Method::Update) => DialogStep::Early,
            (None, Method::Register | Method::Publish) => return,
            (None, _) => DialogStep::Confirm,
        };
        let call_id = f.call_id.of(buf);
        let hash = self.dialog_hash(call_id, from, to);
        let found = self.dialogs.find(hash, |d| {
            d.call_id() == call_id
                && ((d.tag_a() == from && d.tag_b() == to)
                    || (d.tag_a() == to && d.tag_b() == from))
        });
        let id = match found {
            Some(id) => id,
            None if step == DialogStep::Join => return,
            None => {
                let mut ids = Vec::with_capacity(call_id.len() + from.len() + to.len());
                ids.extend_from_slice(call_id);
                ids.extend_from_slice(from);
                ids.extend_from_slice(to);
                let rec = DialogRec {
                    ids: ids.into_boxed_slice(),
                    call_len: call_id.len(),
                    from_len: from.len(),
                    call: c,
                    early: false,
                    confirmed: false,
                    bye: false,
                    invite: None,
                    first_time: t,
                    last_time: t,
                    txns: Vec::new(),
                };
                self.counters.dialogs += 1;
                let (id, evicted) = self.dialogs.insert(hash, rec);
                if evicted.is_some() {
                    self.counters.evicted_dialogs += 1;
                }
                let cap = self.cfg.max_dialogs_per_call;
                if let Some(call) = self.calls.get_mut(c) {
                    call.dialogs.retain(|&d| d != id);
                    if call.dialogs.len() < cap {
                        call.dialogs.push(id);
                    }
                }
                id
            }
        };
        self.dialogs.touch(id);
        let cap = self.cfg.max_transactions_per_dialog;
        let Some(d) = self.dialogs.get_mut(id) else {
            return;
        };
        d.first_time = d.first_time.min(t);
        d.last_time = d.last_time.max(t);
        match step {
            DialogStep::Early => d.early = true,
            DialogStep::Confirm => d.confirmed = true,
            DialogStep::Terminate => d.bye = true,
            DialogStep::Join => {}
        }
        if f.method == Method::Invite && f.status.is_some() {
            // The lowest CSeq of this sender made the dialog (later ones are re-INVITEs).
            if d.invite
                .map_or(true, |(cs, fh)| fh != from_hash || f.cseq < cs)
            {
                d.invite = Some((f.cseq, from_hash));
            }
        }
        if let Some(tx) = txn {
            if !d.txns.contains(&tx) && d.txns.len() < cap {
                d.txns.push(tx);
            }
        }
        if step == DialogStep::Confirm {
            if let Some(call) = self.calls.get_mut(c) {
                call.confirmed = true;
            }
        }
    }

    /// Phase two: stores the message where phase one decided.
    fn commit(&mut self, target: Target, m: Captured<B>) {
        let len = m.bytes().len();
        match target {
            Target::Nowhere => {}
            Target::Park(c, e) => {
                let Some(call) = self.calls.get_mut(c) else {
                    return;
                };
                let Some(ex) = call.exchanges.get_mut(e) else {
                    return;
                };
                ex.parked = Some(Box::new(m));
                call.parked_bytes += len;
                self.counters.parked_acks += 1;
                self.counters.stored_bytes += len as u64;
            }
            Target::Txn(id, role, to_tag) => {
                let Some(x) = self.txns.get_mut(id) else {
                    return;
                };
                match role {
                    Role::Request => x.request = Some(m),
                    Role::Response => x.responses.push((m, to_tag)),
                    Role::Ack => x.ack = Some(m),
                    Role::Cancel => x.cancel = Some(m),
                    Role::CancelResponse => x.cancel_responses.push(m),
                }
                x.bytes += len;
                self.counters.stored_bytes += len as u64;
                self.enforce_budget(id);
            }
        }
    }

    /// Evicts the least recently used transactions while stored bytes exceed the budget.
    fn enforce_budget(&mut self, current: Id) {
        while self.counters.stored_bytes > self.cfg.max_stored_bytes as u64 {
            let Some(old) = self.txns.oldest() else {
                break;
            };
            if old == current {
                break;
            }
            match self.txns.remove(old) {
                Some(x) => self.drop_txn(&x),
                None => break,
            }
        }
    }

    /// Live transactions, dialogs and calls.
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.txns.len(), self.dialogs.len(), self.calls.len())
    }
}

impl<B: AsRef<[u8]> + for<'x> From<&'x [u8]>> Correlator<B> {
    /// Feeds one message (a datagram, or one message framed from a stream). Its bytes are
    /// copied only when stored (not for retransmissions or unparsable input).
    pub fn feed(&mut self, data: &[u8], packet: Packet) -> Fed {
        let packet = self.sanitize(packet);
        self.counters.messages += 1;
        let index = match MessageIndex::parse_datagram(data, &self.cfg.parse) {
            Ok(i) => i,
            Err(e) => {
                self.counters.unparsable += 1;
                return Fed::Unparsable(e);
            }
        };
        let (target, fed) = self.analyse(data, &index, &packet);
        if !matches!(target, Target::Nowhere) {
            let m = Captured {
                bytes: B::from(data),
                index,
                packet,
            };
            self.commit(target, m);
        }
        fed
    }
}

/// Where phase one decided the message goes.
#[derive(Clone, Copy, Debug)]
enum Target {
    Txn(Id, Role, Span),
    Park(Id, usize),
    Nowhere,
}
