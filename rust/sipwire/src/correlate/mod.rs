//! The passive correlator: observed traffic (a capture, a mirror port) grouped into
//! transactions, dialogs and calls, and finished calls handed out as rows.
//!
//! ## Theory of operation
//!
//! [`Correlator::feed`] takes one message with its time, source, destination and transport,
//! in any order. Each message goes through one pipeline, a stage per file:
//!
//! 1. **Facts** (`facts.rs`): the start line, Call-ID, CSeq, top Via, From and To (tags and
//!    URIs), each through its typed parser (or the one-pass readers of `header::shortcut`,
//!    which answer as the parsers do), as spans of the buffer. A message without a usable
//!    Call-ID, CSeq or top Via stops here, with its [`Reason`].
//! 2. **Call lookup** (this file): the Call-ID finds the call's record, or makes one. Every
//!    later stage works inside that one record: a call's transactions, dialogs and exchanges
//!    live with it and are freed with it.
//! 3. **Transaction** (`txn.rs`, RFC 3261 §17): the message's transaction, by a liberal
//!    reading of §17.2.3's key; first copy, retransmission (the same hop again) or the
//!    copy of a message on another hop.
//! 4. **Dialog** (`dialog.rs`, §12): the dialog of its tags, and its state.
//! 5. **Call** (`call.rs`): the INVITE/UPDATE/PRACK exchange it belongs to (CSeq, From tag),
//!    and in it the leg of its To tag: times, finals, offer and answer (`media.rs` reads the
//!    SDP). Everything is kept with the earliest copy's time, so feed order does not matter.
//! 6. **Finaliser** (`finish.rs`): the call's deadline moves (its phase and last time). When
//!    the capture clock passes it, [`Correlator::drain`] hands the call out and frees it;
//!    `rows.rs` makes its [`CallRecord`] and [`MediaRecord`]s, `report.rs` the snapshots.
//!    [`Correlator::drain_finished`] does both, and keeps the call's memory for the next
//!    calls (`recycle.rs`).
//!
//! ```no_run
//! use sipwire::correlate::{Correlator, Packet};
//! # let capture: Vec<(Vec<u8>, Packet)> = Vec::new();
//! let mut c = Correlator::default();
//! for (n, (bytes, packet)) in capture.iter().enumerate() {
//!     c.feed(bytes, *packet);
//!     if n % 1000 == 999 {
//!         for call in c.drain_finished(packet.time) {
//!             // call.outcome, call.time_to_answer, call.media[..].codec ...
//!         }
//!     }
//! }
//! for call in c.drain_all_finished() { /* the calls still open at the capture's end */ }
//! ```
//!
//! Time is seconds as `f64` on any clock (a capture's timestamps); the correlator reads no
//! clock. Memory grows with the calls open at once, not with the messages seen: a call's
//! record is bounded (per-call caps in [`Config`]), the call table is bounded
//! (`max_calls`, least recently used evicted, its row still handed out with `evicted` set),
//! and message bytes are kept only when asked for ([`Config::keep_messages`], with a byte
//! budget). Every drop is counted in [`Counters`].
//!
//! Without draining, the correlator is a message-by-message tool: [`Correlator::calls`],
//! [`Correlator::transactions`] and [`Correlator::dialogs`] are snapshots of what it holds.

mod call;
mod dialog;
mod dtmf;
mod facts;
mod finish;
mod hash;
mod media;
mod recycle;
mod report;
mod rows;
mod sdp_fast;
mod table;
mod text;
mod txn;

use std::collections::VecDeque;
use std::hash::Hasher;
use std::net::SocketAddr;

pub use dtmf::{dtmf_digit, InfoDtmf, MAX_INFO_DTMF_PER_CALL};
pub use facts::Method;
pub use finish::FinishedCall;
pub use report::{
    Call, Dialog, DialogId, DialogState, HoldPeriod, MediaSession, MediaStream, RtpEndpoint,
    Transaction, TxnId,
};
pub use rows::{CallRecord, MediaRecord, Outcome, OutcomeCounts, Side};
pub use table::Id;
pub use text::{write_ip, PayloadTypes, Text};

use crate::message::{Message, MessageIndex};
use crate::txn::Transport;
use crate::{Diagnostic, Error, ParseOptions};
use call::{CallRec, ExMsg, Spare};
use dialog::Tags;
use facts::Facts;
use finish::{Due, Queue, Tomb};
use hash::FoldHasher;
use media::SdpRec;
use table::Table;
use txn::{KeyRef, Placed, Role, Slot, TxnRec};

/// Finished calls' records kept for new calls at least (see [`Correlator::recycle`]).
const MIN_SHELLS: usize = 256;

/// Bounds and timing of a [`Correlator`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// Call-IDs followed at once (calls and others); a full table evicts the least recently
    /// used.
    pub max_calls: usize,
    /// Transactions per call (more are counted as dropped).
    pub max_transactions_per_call: usize,
    /// Dialogs per call, and To tags (legs) per exchange.
    pub max_dialogs_per_call: usize,
    /// INVITE/UPDATE/PRACK exchanges per call.
    pub max_exchanges_per_call: usize,
    /// Transactions listed per dialog.
    pub max_transactions_per_dialog: usize,
    /// Distinct responses per transaction.
    pub max_responses: usize,
    /// Calls finished by eviction waiting for a drain; past it the oldest are dropped.
    pub max_pending: usize,
    /// Keep each transaction's messages (bytes and index), for [`Transaction::request`] and
    /// the like. Off, the correlator keeps what it read of them only.
    pub keep_messages: bool,
    /// Bytes of kept messages; past it, messages are not kept (counted `unstored`).
    pub max_stored_bytes: usize,
    /// Seconds without a response after which an INVITE is `timeout` (64*T1, Timer B,
    /// RFC 3261 §17.1.1.2); at the capture's end, a call without a final response silent
    /// for longer is `timeout`, else `in_progress`.
    pub timeout: f64,
    /// Seconds after a provisional response without a final before a call is finished
    /// (Timer C, more than 3 minutes, RFC 3261 §16.6 step 11).
    pub ringing_timeout: f64,
    /// Seconds kept after the last message of a call that ended without the message closing
    /// the end (a BYE without its response, a failure without its ACK): 64*T1, as long as
    /// they are retransmitted (Timers F, G/H). Also how long a finished call's Call-ID is
    /// known, so its stragglers are counted as `late`.
    pub linger: f64,
    /// Seconds kept after the last message of a call that closed cleanly (the BYE answered,
    /// the failure ACKed): T4, for copies of those (Timers K, I, RFC 3261 §17.1.2.2,
    /// §17.2.1).
    pub closed_linger: f64,
    /// Seconds of silence after which an established call without BYE is finished.
    pub idle_timeout: f64,
    /// How messages are parsed (lenient by default: a capture holds what peers sent).
    pub parse: ParseOptions,
}

impl Config {
    pub const DEFAULT: Config = Config {
        max_calls: 100_000,
        max_transactions_per_call: 64,
        max_dialogs_per_call: 16,
        max_exchanges_per_call: 32,
        max_transactions_per_dialog: 64,
        max_responses: 32,
        max_pending: 10_000,
        keep_messages: false,
        max_stored_bytes: 256 * 1024 * 1024,
        timeout: 32.0,
        ringing_timeout: 180.0,
        linger: 32.0,
        closed_linger: 5.0,
        idle_timeout: 3600.0,
        parse: ParseOptions::LIBERAL,
    };

    /// [`Config::DEFAULT`] keeping messages.
    pub const KEEP: Config = Config {
        keep_messages: true,
        ..Config::DEFAULT
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

/// A kept message: its bytes (the whole record fed), its index, and where it was seen.
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

impl<B> Captured<B> {
    pub(crate) fn bytes_len(&self) -> usize
    where
        B: AsRef<[u8]>,
    {
        self.bytes.as_ref().len()
    }
}

/// Why a message that parsed could not be correlated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// No Call-ID header, or an empty one (RFC 3261 §8.1.1.4).
    NoCallId,
    /// No CSeq, or one the typed parser refuses (§20.16).
    BadCSeq,
    /// No Via header (§8.1.1.7).
    NoVia,
    /// A top Via the typed parser refuses (§20.42).
    BadVia,
    /// Its call was finished less than `Config::linger` before: a straggler (an initial
    /// INVITE with another From tag after it is a new call reusing the Call-ID).
    Late,
    /// A response whose CSeq method is ACK: no such response exists (an ACK is never
    /// answered, RFC 3261 §17.1.1.3, §13.2.2.4).
    AckResponse,
}

impl Reason {
    pub const ALL: [Reason; 6] = [
        Reason::NoCallId,
        Reason::BadCSeq,
        Reason::NoVia,
        Reason::BadVia,
        Reason::Late,
        Reason::AckResponse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoCallId => "no_call_id",
            Reason::BadCSeq => "bad_cseq",
            Reason::NoVia => "no_via",
            Reason::BadVia => "bad_via",
            Reason::Late => "late",
            Reason::AckResponse => "ack_response",
        }
    }
}

/// What [`Correlator::feed`] did with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fed {
    /// Recorded in this transaction: the first copy of a request, response, ACK or CANCEL
    /// (kept there when messages are kept), or its copy on another hop (other addresses:
    /// not a retransmission; its time kept if it is the earliest).
    Stored(TxnId),
    /// A copy of what this transaction has, sent again on the same hop (source and
    /// destination): counted (its time kept if it is the earliest).
    Retransmission(TxnId),
    /// The same message on the same hop as one of its call's last few, less than 20 ms apart:
    /// the capture saw one frame twice (`tcpdump -i any`, a mirror port), not a
    /// retransmission (txn.rs, `Recent`). Counted in `duplicates` (its time kept if it is
    /// the earliest).
    Duplicate(TxnId),
    /// A 2xx ACK whose INVITE transaction is not (yet) known: recorded with its call.
    Parked,
    /// Not recorded: its call or transaction holds as many as the config allows.
    Dropped,
    /// Parsed, but not correlated, for this reason.
    Uncorrelated(Reason),
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
    /// Messages that parsed but were not correlated: the sum of the reasons below.
    pub uncorrelated: u64,
    pub no_call_id: u64,
    pub bad_cseq: u64,
    pub no_via: u64,
    pub bad_via: u64,
    pub late: u64,
    pub ack_response: u64,
    /// Messages whose From, To or Via needed a lenient repair (a diagnostic of the parse).
    pub repaired: u64,
    pub retransmissions: u64,
    /// Frames captured twice: the same message on the same hop within 20 ms (not
    /// retransmissions; see [`Fed::Duplicate`]).
    pub duplicates: u64,
    pub transactions: u64,
    pub dialogs: u64,
    /// Call-IDs that turned out to be calls.
    pub calls: u64,
    /// Responses whose request has not been seen: the count goes down when it comes.
    pub orphan_responses: u64,
    /// 2xx ACKs that came before their INVITE transaction was known.
    pub parked_acks: u64,
    /// Call-IDs evicted from a full table (`Config::max_calls`).
    pub evicted_calls: u64,
    /// Calls handed out by a drain or by eviction.
    pub finished_calls: u64,
    /// Messages of Call-IDs let go without ever being a call (OPTIONS, REGISTER...).
    pub non_call_messages: u64,
    /// Messages not recorded: a call's transactions or a transaction's responses at its cap.
    pub dropped: u64,
    /// Transactions of calls not followed: their Call-ID had `Config::max_transactions_per_call`.
    pub dropped_transactions: u64,
    /// The same for Call-IDs that are no call (a subscription's NOTIFYs, registrations): their
    /// retransmissions are not counted, and no row loses anything.
    pub non_call_transactions_unfollowed: u64,
    pub dropped_responses: u64,
    /// Dialogs, exchanges, legs not recorded (their messages still were).
    pub dropped_dialogs: u64,
    pub dropped_exchanges: u64,
    /// Rows of evicted calls dropped because `Config::max_pending` were waiting.
    pub dropped_rows: u64,
    /// DTMF digits read from INFO requests (copies on other hops not counted again).
    pub info_dtmf: u64,
    /// Those not recorded: their call had `MAX_INFO_DTMF_PER_CALL` already.
    pub dropped_info_dtmf: u64,
    /// Messages not kept because of `Config::max_stored_bytes`.
    pub unstored: u64,
    /// Bytes of messages kept now.
    pub stored_bytes: u64,
    /// Outcomes of evicted calls, decided when evicted.
    pub evicted_outcomes: OutcomeCounts,
    /// Outcomes of every call handed out (drained or evicted).
    pub finished_outcomes: OutcomeCounts,
}

impl Counters {
    /// Why messages were not correlated, by reason, under the names the Python `Correlator`'s
    /// `counters` gives them.
    pub fn uncorrelated_by_reason(&self) -> [(&'static str, u64); 6] {
        [
            ("uncorrelated_no_call_id", self.no_call_id),
            ("uncorrelated_bad_cseq", self.bad_cseq),
            ("uncorrelated_no_via", self.no_via),
            ("uncorrelated_bad_via", self.bad_via),
            ("uncorrelated_late", self.late),
            ("uncorrelated_ack_response", self.ack_response),
        ]
    }

    /// What the per-call bounds let go (see [`Config`]), by what it was.
    pub fn dropped_by_kind(&self) -> [(&'static str, u64); 6] {
        [
            ("dropped_transactions", self.dropped_transactions),
            ("dropped_responses", self.dropped_responses),
            ("dropped_dialogs", self.dropped_dialogs),
            ("dropped_exchanges", self.dropped_exchanges),
            ("dropped_rows", self.dropped_rows),
            ("dropped_info_dtmf", self.dropped_info_dtmf),
        ]
    }
}

/// What the correlator holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Call-IDs (calls and others).
    pub calls: usize,
    pub transactions: usize,
    pub dialogs: usize,
    pub exchanges: usize,
    /// Deadline entries (one per call, and stale ones).
    pub deadlines: usize,
    pub tombstones: usize,
    /// Evicted calls waiting for a drain.
    pub pending: usize,
    /// Finished calls' records kept for new calls: at most the most calls open at once,
    /// or `MIN_SHELLS` (256) when fewer.
    pub shells: usize,
}

/// Where a kept message goes.
#[derive(Clone, Copy, Debug)]
enum Keep {
    Txn(Id, usize, Slot),
    Parked(Id, usize),
}

/// The passive correlator. See the module documentation.
pub struct Correlator<B = Box<[u8]>> {
    cfg: Config,
    keys: hash::Keys,
    calls: Table<CallRec<B>>,
    queue: Queue,
    tombs: Table<Tomb>,
    pending: VecDeque<FinishedCall<B>>,
    counters: Counters,
    live_txns: usize,
    live_dialogs: usize,
    live_exchanges: usize,
    max_time: Option<f64>,
    end: Option<f64>,
    diags: Vec<Diagnostic>,
    /// The header vector of the last index not kept, for the next parse.
    scratch: Vec<crate::message::HeaderEntry>,
    /// Records of finished calls kept for new ones (see `recycle.rs`), and their SDP records.
    shells: Vec<CallRec<B>>,
    spare: Spare,
    /// The SDP parser's allocations, reused from body to body.
    sdp_bufs: crate::sdp::Buffers,
}

impl Default for Correlator {
    fn default() -> Self {
        Correlator::new(Config::DEFAULT)
    }
}

impl Correlator {
    /// A correlator storing messages (when it keeps them) as `Box<[u8]>`.
    pub fn new(cfg: Config) -> Self {
        Correlator::with_storage(cfg)
    }
}

impl<B: AsRef<[u8]>> Correlator<B> {
    /// A correlator storing messages as `B` (`Arc<[u8]>`, `Vec<u8>`, a binding's type...).
    pub fn with_storage(cfg: Config) -> Self {
        Correlator {
            cfg,
            keys: hash::Keys::random(),
            calls: Table::new(cfg.max_calls),
            queue: Queue::default(),
            tombs: Table::new(cfg.max_calls),
            pending: VecDeque::new(),
            counters: Counters::default(),
            live_txns: 0,
            live_dialogs: 0,
            live_exchanges: 0,
            max_time: None,
            end: None,
            diags: Vec::new(),
            scratch: Vec::new(),
            shells: Vec::new(),
            spare: Spare::default(),
            sdp_bufs: crate::sdp::Buffers::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// What is held now.
    pub fn sizes(&self) -> Sizes {
        Sizes {
            calls: self.calls.len(),
            transactions: self.live_txns,
            dialogs: self.live_dialogs,
            exchanges: self.live_exchanges,
            deadlines: self.queue.len(),
            tombstones: self.tombs.len(),
            pending: self.pending.len(),
            shells: self.shells.len(),
        }
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

    fn ingest(&mut self, data: B, index: MessageIndex, packet: Packet) -> Fed {
        let (fed, keep) = self.analyse(data.as_ref(), &index, &packet);
        if let Some(k) = keep {
            self.keep(
                k,
                Captured {
                    bytes: data,
                    index,
                    packet,
                },
            );
        }
        fed
    }

    /// Marks the capture as ended at `end` (default: the latest time fed). Calls without a
    /// final response are then `timeout` or `in_progress` by that time in snapshots and in
    /// [`Correlator::drain_all`].
    pub fn finish(&mut self, end: Option<f64>) {
        self.end = end.filter(|t| t.is_finite()).or(self.max_time);
    }

    /// The capture's end as the reports see it: [`Correlator::finish`]'s time, else the
    /// latest time fed.
    pub fn capture_end(&self) -> f64 {
        self.end.or(self.max_time).unwrap_or(0.0)
    }

    /// The latest time fed (the capture clock).
    pub fn latest_time(&self) -> Option<f64> {
        self.max_time
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

    fn hash_bytes(&self, b: &[u8]) -> u64 {
        self.keys.hash_bytes(b)
    }

    /// A second hash of a Call-ID, independent of [`Correlator::hash_bytes`] (another key
    /// first): a tombstone's check.
    fn check_hash(&self, b: &[u8]) -> u64 {
        let mut h = self.keys.hasher();
        h.write_u64(0x7461_6d62);
        h.write(b);
        h.finish()
    }

    /// A tag's hash; 0 for no tag.
    fn tag_hash(&self, tag: &[u8]) -> u64 {
        if tag.is_empty() {
            0
        } else {
            self.hash_bytes(tag) | 1
        }
    }

    fn uncorrelated(&mut self, r: Reason) -> (Fed, Option<Keep>) {
        self.counters.uncorrelated += 1;
        let c = &mut self.counters;
        *match r {
            Reason::NoCallId => &mut c.no_call_id,
            Reason::BadCSeq => &mut c.bad_cseq,
            Reason::NoVia => &mut c.no_via,
            Reason::BadVia => &mut c.bad_via,
            Reason::Late => &mut c.late,
            Reason::AckResponse => &mut c.ack_response,
        } += 1;
        (Fed::Uncorrelated(r), None)
    }

    fn analyse(&mut self, buf: &[u8], idx: &MessageIndex, p: &Packet) -> (Fed, Option<Keep>) {
        let mut diags = std::mem::take(&mut self.diags);
        diags.clear();
        let out = self.analyse_with(buf, idx, p, &mut diags);
        self.diags = diags;
        out
    }

    /// The pipeline (see the module documentation).
    fn analyse_with(
        &mut self,
        buf: &[u8],
        idx: &MessageIndex,
        p: &Packet,
        diags: &mut Vec<Diagnostic>,
    ) -> (Fed, Option<Keep>) {
        let cfg = self.cfg;
        let t = p.time;

        // 1. Facts. The call is looked up first: its messages' From, To and Via were parsed
        //    already, and are read from its remembered values.
        let h = match facts::head(buf, idx, &cfg.parse, diags) {
            Ok(h) => h,
            Err(r) => return self.uncorrelated(r),
        };
        let call_id = h.call_id.of(buf);
        let call_hash = self.hash_bytes(call_id);
        let known = self.calls.find(call_hash, |c| &*c.call_id == call_id);
        let seen = known
            .and_then(|id| self.calls.get_mut(id))
            .map(|c| &mut *c.seen);
        let Some((via, from, to)) = facts::parts(buf, &h, seen, &cfg.parse, diags) else {
            return self.uncorrelated(Reason::BadVia);
        };
        let f = Facts::new(&h, via, from, to);
        if via.repaired || from.repaired || to.repaired {
            self.counters.repaired += 1;
        }
        if f.is_request() {
            self.counters.requests += 1;
        } else {
            self.counters.responses += 1;
        }
        let tags = Tags {
            from: f.from_tag.of(buf),
            to: f.to_tag.of(buf),
            from_hash: self.tag_hash(f.from_tag.of(buf)),
            to_hash: self.tag_hash(f.to_tag.of(buf)),
        };

        // 2. The call.
        let id = match known {
            Some(id) => id,
            None => {
                let initial = f.method == Method::Invite && f.is_request() && tags.to.is_empty();
                let initial_from = initial.then_some(tags.from_hash);
                if self.is_late(call_id, call_hash, t, initial_from) {
                    return self.uncorrelated(Reason::Late);
                }
                let mut rec = match self.shells.pop() {
                    Some(mut r) => {
                        r.reset(call_id, t, &mut self.spare);
                        r
                    }
                    None => CallRec::new(call_id, t),
                };
                rec.seen.remember_parts(buf, &h, via, from, to);
                let (id, evicted) = self.calls.insert(call_hash, rec);
                if let Some(old) = evicted {
                    self.evict(old);
                }
                id
            }
        };
        self.calls.touch(id);
        let Some(call) = self.calls.get_mut(id) else {
            self.counters.dropped += 1;
            return (Fed::Dropped, None);
        };
        call.first_time = call.first_time.min(t);
        call.last_time = call.last_time.max(t);
        call.messages = call.messages.saturating_add(1);
        if !call.is_call && call::is_call_method(f.method) {
            call.is_call = true;
            self.counters.calls += 1;
        }
        note_caller(call, buf, &f, tags.from_hash, t);
        if f.method == Method::Bye {
            let b = dialog::ByeAt::new(t, tags.from_hash, tags.from);
            if b.before(call.bye.as_ref()) {
                call.bye = Some(b);
            }
        }

        // The exchange (CSeq, From tag, method) the message belongs to, if any.
        let ex_method = match f.method {
            Method::Invite | Method::Ack | Method::Cancel => Some(Method::Invite),
            Method::Update => Some(Method::Update),
            Method::Prack => Some(Method::Prack),
            _ => None,
        };
        let before = call.exchanges.len();
        let spare = &mut self.spare;
        let ex = ex_method.and_then(|m| {
            call.exchange(
                f.cseq,
                (tags.from_hash, tags.from),
                (tags.to_hash, tags.to),
                m,
                t,
                cfg.max_exchanges_per_call,
                spare,
            )
        });
        if ex_method.is_some() && ex.is_none() {
            self.counters.dropped_exchanges += 1;
        }
        self.live_exchanges += call.exchanges.len() - before;

        // 3. The transaction.
        let role = Role::of(&f);
        let key = KeyRef::of(buf, &f);
        let key_hash = key.hash(self.keys.hasher());
        let by_key = txn::find(&call.txns, &key, key_hash);
        let hop = hop_hash(self.keys.hasher(), p.src, p.dst, p.transport.is_reliable());
        // A 2xx ACK joins its exchange's INVITE (see txn.rs).
        let invite_of = |call: &CallRec<B>| {
            let e = u16::try_from(ex?).ok()?;
            call.txns
                .iter()
                .position(|x| x.method == Method::Invite && x.exchange == Some(e))
        };
        let mut keep = None;
        let mut again = false;
        // An ACK's top Via, hop and body length, as its leg remembers them (below).
        let ack_hop = || {
            let v = key_hash ^ u64::from(idx.body.len).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            (hop ^ (v as u32) ^ ((v >> 32) as u32)).rotate_left(7)
        };
        let (txn, fed) = if role == Role::Ack && by_key.is_none() {
            // A 2xx ACK (§13.2.2.4): its own branch, new on each hop (a proxy that stays on
            // the path sends it on with its own Via, §16.6 step 8); one per leg (To tag). A
            // copy is a retransmission when it has a top Via, hop and body seen before in its
            // leg.
            let max_legs = cfg.max_dialogs_per_call;
            again = ex
                .and_then(|e| call.exchanges.get_mut(e))
                .and_then(|e| e.leg(tags.to_hash, max_legs))
                .is_some_and(|l| l.ack_hops.again(ack_hop()));
            match invite_of(call) {
                Some(i) => {
                    let x = call.txns.get_mut(i);
                    let first_kept = x
                        .as_ref()
                        .is_some_and(|x| x.kept.as_ref().map_or(true, |k| k.ack.is_none()));
                    if let Some(x) = x {
                        txn::earliest(&mut x.ack, t);
                        x.last_time = x.last_time.max(t);
                        if again {
                            x.retransmissions += 1;
                        }
                    }
                    if !again && first_kept {
                        keep = Some(Keep::Txn(id, i, Slot::Ack));
                    }
                    let tid = txn_id(id, i);
                    (
                        Some(i),
                        if again {
                            Fed::Retransmission(tid)
                        } else {
                            Fed::Stored(tid)
                        },
                    )
                }
                None => {
                    if again {
                        if let Some(x) = ex.and_then(|e| call.exchanges.get_mut(e)) {
                            x.parked_again += 1;
                        }
                    } else {
                        self.counters.parked_acks += 1;
                        if let Some(e) = ex {
                            keep = Some(Keep::Parked(id, e));
                        }
                    }
                    (None, Fed::Parked)
                }
            }
        } else {
            let i = match by_key {
                Some(i) => Some(i),
                None if call.txns.len() >= cfg.max_transactions_per_call => None,
                None => {
                    let i = call.txns.push_with(
                        || TxnRec::new(&key, key_hash, f.cseq, t),
                        |x| x.reset(&key, key_hash, f.cseq, t),
                    );
                    self.counters.transactions += 1;
                    self.live_txns += 1;
                    Some(i)
                }
            };
            // An ACK under its INVITE's key that was fed before that INVITE went by its leg
            // (above); the same ACK again, fed after, is found by key: its leg still tells
            // the resending, so the count is the same in either order.
            let leg_again = role == Role::Ack
                && ex
                    .and_then(|e| call.exchanges.get_mut(e))
                    .and_then(|e| e.legs.iter_mut().find(|l| l.to_hash == tags.to_hash))
                    .is_some_and(|l| l.ack_hops.again(ack_hop()));
            match i.and_then(|i| Some((i, call.txns.get_mut(i)?))) {
                None => {
                    self.counters.dropped += 1;
                    // A Call-ID that is no call (a long subscription) loses nothing of a call
                    // row past its cap: told apart from a call's transactions.
                    if call.is_call {
                        self.counters.dropped_transactions += 1;
                    } else {
                        self.counters.non_call_transactions_unfollowed += 1;
                    }
                    (None, Fed::Dropped)
                }
                Some((i, x)) => {
                    let had_request = x.request.is_some();
                    let placed = x.place(
                        role,
                        f.status,
                        tags.to_hash,
                        idx.body.len,
                        t,
                        hop,
                        cfg.max_responses,
                    );
                    let tid = txn_id(id, i);
                    match placed {
                        Placed::First(slot) => {
                            match (role, had_request) {
                                (Role::Response, false) => self.counters.orphan_responses += 1,
                                (Role::Request, false) => {
                                    self.counters.orphan_responses = self
                                        .counters
                                        .orphan_responses
                                        .saturating_sub(x.responses.len() as u64);
                                }
                                _ => {}
                            }
                            keep = Some(Keep::Txn(id, i, slot));
                            (Some(i), Fed::Stored(tid))
                        }
                        Placed::Again(slot) => {
                            again = true;
                            keep = slot.map(|s| Keep::Txn(id, i, s));
                            (Some(i), Fed::Retransmission(tid))
                        }
                        Placed::Copy(slot) if leg_again => {
                            x.retransmissions += 1;
                            again = true;
                            keep = slot.map(|s| Keep::Txn(id, i, s));
                            (Some(i), Fed::Retransmission(tid))
                        }
                        Placed::Copy(slot) => {
                            keep = slot.map(|s| Keep::Txn(id, i, s));
                            (Some(i), Fed::Stored(tid))
                        }
                        Placed::Full => {
                            self.counters.dropped += 1;
                            self.counters.dropped_responses += 1;
                            (Some(i), Fed::Dropped)
                        }
                    }
                }
            }
        };
        // A frame captured twice is no retransmission: the counts made above are taken back.
        let fp = key_hash
            ^ u64::from(hop).rotate_left(32)
            ^ tags.to_hash.rotate_left(17)
            ^ (u64::from(f.status.unwrap_or(0)) << 8 | role as u64)
            ^ u64::from(idx.body.len).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut fed = fed;
        // Only a message sent again on its hop can be a copy: the others skip the look.
        let copy = again && call.recent.copies(fp, t);
        call.recent.push(fp, t);
        if copy {
            again = false;
            self.counters.duplicates += 1;
            match txn.and_then(|i| Some((i, call.txns.get_mut(i)?))) {
                Some((i, x)) => {
                    x.retransmissions = x.retransmissions.saturating_sub(1);
                    fed = Fed::Duplicate(txn_id(id, i));
                }
                None => {
                    if let Some(x) = ex.and_then(|e| call.exchanges.get_mut(e)) {
                        x.parked_again = x.parked_again.saturating_sub(1);
                    }
                }
            }
        }
        if again {
            call.retransmissions = call.retransmissions.saturating_add(1);
            self.counters.retransmissions += 1;
        }
        if f.method == Method::Info && role == Role::Request {
            // DTMF in the INFO's body (dtmf.rs): one digit per request, whatever its hops, at
            // its earliest copy (a retransmission fed first), also past the call's
            // transaction bound.
            let ct = f.content_type.map_or(&[][..], |c| c.of(buf));
            if let Some((event, duration_ms)) = dtmf::info_digit(ct, idx.body.of(buf)) {
                let d = InfoDtmf {
                    time: t,
                    src: p.src,
                    dst: p.dst,
                    cseq: f.cseq,
                    event,
                    digit: dtmf::digit_of(event),
                    duration_ms,
                };
                let before = call.info_dtmf.len();
                if !dtmf::record(&mut call.info_dtmf, d, tags.from_hash) {
                    self.counters.dropped_info_dtmf += 1;
                } else if call.info_dtmf.len() > before {
                    self.counters.info_dtmf += 1;
                }
            }
        }
        if let (Some(i), Some(e)) = (txn, ex) {
            link(call, i, e);
        }

        // 4. The dialog.
        let before = call.dialogs.len();
        let txn16 = txn.and_then(|i| u16::try_from(i).ok());
        let updated = dialog::update(
            &mut call.dialogs,
            &f,
            &tags,
            t,
            txn16,
            cfg.max_dialogs_per_call,
            cfg.max_transactions_per_dialog,
        );
        match updated {
            dialog::Updated::Dialog => {
                if dialog::Step::of(&f) == Some(dialog::Step::Confirm) {
                    call.confirmed = true;
                }
            }
            dialog::Updated::Full => self.counters.dropped_dialogs += 1,
            dialog::Updated::None => {}
        }
        let made = call.dialogs.len() - before;
        self.counters.dialogs += made as u64;
        self.live_dialogs += made;

        // 5. The exchange: times, finals, offers and answers. An ACK's leg that no dialog has
        //    keeps the ACK's To tag for its rows (an ACK joins a dialog, never makes one).
        let ack_tag = f.method == Method::Ack
            && !tags.to.is_empty()
            && !call.dialogs.iter().any(|d| d.has_tag(tags.to_hash));
        if let Some(x) = ex
            .filter(|_| !matches!(fed, Fed::Dropped))
            .and_then(|e| call.exchanges.get_mut(e))
        {
            let m = ExMsg {
                status: f.status,
                method: f.method,
                to_tag_empty: tags.to.is_empty(),
                to_hash: tags.to_hash,
                t,
                src: p.src,
                dst: p.dst,
                again,
            };
            // A copy seen before is read only when it is earlier than the SDP its slot
            // holds: in a capture fed out of order it may be the earliest (in time order,
            // never), whichever message under its key the held one came from.
            let sdp = if call::wants_sdp(f.status, f.method) && (!again || x.copy_is_earlier(&m)) {
                let spare = &mut self.spare;
                let bufs = &mut self.sdp_bufs;
                let at = (t, p.src);
                let into = || spare.take();
                SdpRec::read(buf, idx, f.content_type, &cfg.parse, diags, at, into, bufs)
            } else {
                None
            };
            let unused = call::update_exchange(x, &m, sdp, cfg.max_dialogs_per_call);
            self.spare.give(unused);
            if ack_tag {
                if let Some(l) = x.legs.iter_mut().find(|l| l.to_hash == tags.to_hash) {
                    l.ack_tag.get_or_insert_with(|| tags.to.into());
                }
            }
        }

        // 6. The deadline. A call that ended without closing lingers 64*T1 for stragglers
        //    only: its remembered values are let go when a message finds it ended still. Not
        //    at once: the message that ends a call (a BYE, a failure) is most often followed
        //    by the one that closes it (the BYE's 200, the failure's ACK), with the same
        //    From, To and Via. A closed one's are kept: it is gone in T4, and its record,
        //    buffers included, serves the next call.
        let phase = call.phase();
        let ended = phase == call::Phase::Ended;
        if ended && call.ended {
            call.seen.release();
        }
        call.ended = ended;
        let due = call.last_time + finish::wait(phase, &cfg);
        if due < call.queued_at {
            call.queued_at = due;
            self.queue.push(due, id);
            if self.queue.needs_compaction(self.calls.len()) {
                self.compact_queue();
            }
        }
        (fed, keep.filter(|_| cfg.keep_messages))
    }

    /// Keeps a message where the pipeline said, within the byte budget.
    fn keep(&mut self, k: Keep, c: Captured<B>) {
        let len = c.bytes_len();
        if self.counters.stored_bytes + len as u64 > self.cfg.max_stored_bytes as u64 {
            self.counters.unstored += 1;
            return;
        }
        let (id, delta) = match k {
            Keep::Parked(id, e) => {
                let Some(call) = self.calls.get_mut(id) else {
                    return;
                };
                let Some(ex) = call.exchanges.get_mut(e) else {
                    return;
                };
                let old = ex.parked.replace(Box::new(c)).map_or(0, |o| o.bytes_len());
                (id, (len, old))
            }
            Keep::Txn(id, i, slot) => {
                let Some(call) = self.calls.get_mut(id) else {
                    return;
                };
                let Some(x) = call.txns.get_mut(i) else {
                    return;
                };
                let kept = x.kept.get_or_insert_with(Box::default);
                let cell = match slot {
                    Slot::Request => &mut kept.request,
                    Slot::Ack => &mut kept.ack,
                    Slot::Cancel => &mut kept.cancel,
                    Slot::Response(j) | Slot::CancelResponse(j) => {
                        let list = if matches!(slot, Slot::Response(_)) {
                            &mut kept.responses
                        } else {
                            &mut kept.cancel_responses
                        };
                        if list.len() <= j {
                            list.resize_with(j + 1, || None);
                        }
                        match list.get_mut(j) {
                            Some(cell) => cell,
                            None => return,
                        }
                    }
                };
                let old = cell.replace(c).map_or(0, |o| o.bytes_len());
                x.kept_bytes = (x.kept_bytes + len).saturating_sub(old);
                (id, (len, old))
            }
        };
        let (add, sub) = delta;
        if let Some(call) = self.calls.get_mut(id) {
            call.kept_bytes = (call.kept_bytes + add).saturating_sub(sub);
        }
        self.counters.stored_bytes =
            (self.counters.stored_bytes + add as u64).saturating_sub(sub as u64);
    }

    /// Whether `call_id` is a call finished within its linger (then `t` is a straggler; see
    /// `Tomb::is_late` for `initial_from`).
    fn is_late(&mut self, call_id: &[u8], hash: u64, t: f64, initial_from: Option<u64>) -> bool {
        let check = self.check_hash(call_id);
        let Some(tomb) = self.tombs.find(hash, |x| x.check == check) else {
            return false;
        };
        let late = self
            .tombs
            .get(tomb)
            .is_some_and(|x| x.is_late(t, initial_from));
        if !late {
            self.tombs.remove(tomb);
        }
        late
    }

    fn compact_queue(&mut self) {
        let live = self.calls.iter().map(|(id, c)| Due {
            at: c.queued_at,
            id,
        });
        let live: Vec<Due> = live.collect();
        self.queue.rebuild(live.into_iter());
    }

    /// Frees a call's state and makes it a finished call (`None` for a Call-ID that was
    /// not a call).
    fn finalise(
        &mut self,
        id: Id,
        rec: CallRec<B>,
        end: f64,
        evicted: bool,
    ) -> Option<FinishedCall<B>> {
        self.live_txns = self.live_txns.saturating_sub(rec.txns.len());
        self.live_dialogs = self.live_dialogs.saturating_sub(rec.dialogs.len());
        self.live_exchanges = self.live_exchanges.saturating_sub(rec.exchanges.len());
        self.counters.stored_bytes = self
            .counters
            .stored_bytes
            .saturating_sub(rec.kept_bytes as u64);
        // Responses never matched stay counted; those of a call let go are final now.
        if !rec.is_call {
            self.counters.non_call_messages += u64::from(rec.messages);
            return None;
        }
        let summary = rows::summarize(&rec, end, self.cfg.timeout);
        let done = FinishedCall {
            id,
            rec,
            end,
            summary,
            evicted,
        };
        let outcome = summary.outcome;
        self.counters.finished_outcomes.add(outcome);
        if evicted {
            self.counters.evicted_outcomes.add(outcome);
        }
        self.counters.finished_calls += 1;
        let hash = self.hash_bytes(&done.rec.call_id);
        let tomb = Tomb {
            check: self.check_hash(&done.rec.call_id),
            until: end.max(done.rec.last_time) + self.cfg.linger,
            last: done.rec.last_time,
            caller: done.rec.caller.as_ref().map(|c| c.from_hash),
        };
        self.tombs.insert(hash, tomb);
        Some(done)
    }

    /// A call evicted from the full table: handed out at the next drain, with `evicted` set.
    fn evict(&mut self, old: CallRec<B>) {
        self.counters.evicted_calls += 1;
        let end = self.max_time.unwrap_or(old.last_time);
        let id = Id::STALE;
        if let Some(done) = self.finalise(id, old, end, true) {
            if self.pending.len() >= self.cfg.max_pending {
                self.pending.pop_front();
                self.counters.dropped_rows += 1;
            }
            self.pending.push_back(done);
        }
    }

    /// Hands out, and frees, every call finished by `now` on the capture clock: those whose
    /// deadline (see `finish.rs`) is before `now`, and those evicted from a full table since
    /// the last drain. `now` is a watermark: the caller has fed every message older than
    /// `now - Config::linger` (a capture in time order: the latest time fed; a merged
    /// capture: the oldest of its inputs' latest times).
    pub fn drain(&mut self, now: f64) -> Drain<'_, B> {
        self.expire_tombs(now);
        Drain {
            c: self,
            now,
            all: false,
        }
    }

    /// [`Correlator::drain`], as rows; each finished call's memory is kept for the next
    /// calls (see `recycle.rs`).
    pub fn drain_finished(&mut self, now: f64) -> Rows<'_, B> {
        self.expire_tombs(now);
        Rows {
            c: self,
            now,
            all: false,
        }
    }

    /// [`Correlator::drain_all`], as rows.
    pub fn drain_all_finished(&mut self) -> Rows<'_, B> {
        let now = self.capture_end();
        Rows {
            c: self,
            now,
            all: true,
        }
    }

    /// Gives a finished call's memory back for the next calls to reuse (a caller done with
    /// what [`Correlator::drain`] handed out). Its kept messages are dropped.
    pub fn recycle(&mut self, done: FinishedCall<B>) {
        let mut rec = done.rec;
        // As many shells as calls were ever open at once (at least `MIN_SHELLS`): a drain
        // finishes about as many calls as start before the next one (`sipwire analyze`
        // drains each capture second), and the shells hold no more than the open calls did.
        let cap = self.calls.high_water().max(MIN_SHELLS);
        if self.shells.len() >= cap || rec.oversized() {
            return;
        }
        self.spare.max = 2 * cap;
        rec.reset(&[], 0.0, &mut self.spare);
        self.shells.push(rec);
    }

    /// Hands out every call: the capture has ended (at [`Correlator::capture_end`]).
    pub fn drain_all(&mut self) -> Drain<'_, B> {
        let now = self.capture_end();
        Drain {
            c: self,
            now,
            all: true,
        }
    }

    fn expire_tombs(&mut self, now: f64) {
        while let Some(old) = self.tombs.oldest() {
            match self.tombs.get(old) {
                Some(t) if t.until < now => {
                    self.tombs.remove(old);
                }
                _ => break,
            }
        }
    }

    /// The next finished call of a drain.
    fn next_finished(&mut self, now: f64, all: bool) -> Option<FinishedCall<B>> {
        if let Some(done) = self.pending.pop_front() {
            return Some(done);
        }
        loop {
            let due = self.queue.peek()?;
            if !all && due.at >= now {
                return None;
            }
            self.queue.pop();
            let Some(rec) = self.calls.get_mut(due.id) else {
                continue;
            };
            if rec.queued_at != due.at {
                continue;
            }
            let at = finish::deadline(rec, &self.cfg);
            if !all && at >= now {
                rec.queued_at = at;
                self.queue.push(at, due.id);
                continue;
            }
            let Some(rec) = self.calls.remove(due.id) else {
                continue;
            };
            if let Some(done) = self.finalise(due.id, rec, now, false) {
                return Some(done);
            }
        }
    }

    /// Every transaction held, by the time of its first message.
    pub fn transactions(&self) -> Vec<Transaction<'_, B>> {
        let mut v: Vec<_> = self
            .calls
            .iter()
            .flat_map(|(id, rec)| report::transactions_of(id, rec))
            .collect();
        v.sort_by(|a, b| a.first_time().total_cmp(&b.first_time()));
        v
    }

    pub fn transaction(&self, id: TxnId) -> Option<Transaction<'_, B>> {
        let rec = self.calls.get(id.call)?;
        report::transactions_of(id.call, rec).nth(usize::from(id.index))
    }

    /// Every dialog held, by the time of its first message.
    pub fn dialogs(&self) -> Vec<Dialog> {
        let mut v: Vec<Dialog> = self
            .calls
            .iter()
            .flat_map(|(id, rec)| report::dialogs_of(id, rec))
            .collect();
        v.sort_by(|a, b| a.first_time.total_cmp(&b.first_time));
        v
    }

    pub fn call(&self, id: Id) -> Option<Call> {
        let rec = self.calls.get(id).filter(|r| r.is_call)?;
        let s = rows::summarize(rec, self.capture_end(), self.cfg.timeout);
        Some(report::call_of(id, rec, &s))
    }

    /// Every call held, by the time of its first message.
    pub fn calls(&self) -> Vec<Call> {
        self.calls_in_order(|id, rec, s| report::call_of(id, rec, s))
    }

    /// Every call held, by the time of its first message, each with its dialogs and its
    /// transactions (each by the time of its first message): what [`Correlator::calls`],
    /// [`Correlator::dialogs`] and [`Correlator::transactions`] give, grouped by call
    /// without a lookup per item.
    pub fn calls_with_parts(&self) -> Vec<CallParts<'_, B>> {
        self.calls_in_order(|id, rec, s| {
            let mut dialogs = report::dialogs_of(id, rec);
            dialogs.sort_by(|a, b| a.first_time.total_cmp(&b.first_time));
            let mut txns: Vec<_> = report::transactions_of(id, rec).collect();
            txns.sort_by(|a, b| a.first_time().total_cmp(&b.first_time()));
            (report::call_of(id, rec, s), dialogs, txns)
        })
    }

    /// `f` of each call held (with its summary at the capture's end), by the time of its
    /// first message.
    fn calls_in_order<'a, T>(
        &'a self,
        f: impl Fn(Id, &'a CallRec<B>, &rows::Summary) -> T,
    ) -> Vec<T> {
        let mut order: Vec<(f64, Id, &CallRec<B>)> = self
            .calls
            .iter()
            .filter(|(_, rec)| rec.is_call)
            .map(|(id, rec)| (rec.first_time, id, rec))
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        let end = self.capture_end();
        order
            .into_iter()
            .map(|(_, id, rec)| f(id, rec, &rows::summarize(rec, end, self.cfg.timeout)))
            .collect()
    }

    /// The rows of every call held, as they would be at the capture's end.
    pub fn records(&self) -> Vec<CallRecord> {
        let end = self.capture_end();
        self.calls
            .iter()
            .filter(|(_, rec)| rec.is_call)
            .map(|(_, rec)| {
                let s = rows::summarize(rec, end, self.cfg.timeout);
                rows::record(rec, &s, false)
            })
            .collect()
    }

    /// Calls per outcome: those held now and those handed out (drained or evicted).
    pub fn outcome_counts(&self) -> OutcomeCounts {
        let mut n = self.counters.finished_outcomes;
        let end = self.capture_end();
        for (_, rec) in self.calls.iter().filter(|(_, r)| r.is_call) {
            n.add(rows::summarize(rec, end, self.cfg.timeout).outcome);
        }
        n
    }
}

impl<B: AsRef<[u8]> + for<'x> From<&'x [u8]>> Correlator<B> {
    /// Feeds one message (a datagram, or one message framed from a stream). Its bytes are
    /// copied only when kept (`Config::keep_messages`).
    pub fn feed(&mut self, data: &[u8], packet: Packet) -> Fed {
        // The header table of the last message not kept is reused: no allocation per message.
        let headers = std::mem::take(&mut self.scratch);
        match MessageIndex::parse_datagram_reusing(data, &self.cfg.parse, headers) {
            Ok(index) => {
                let fed = self.feed_parsed(data, &index, packet);
                self.scratch = index.headers;
                fed
            }
            Err(e) => {
                self.sanitize(packet);
                self.counters.messages += 1;
                self.counters.unparsable += 1;
                Fed::Unparsable(e)
            }
        }
    }

    /// Feeds a message the caller has indexed already (a capture reader that framed it): no
    /// second parse, and its bytes copied only when kept.
    pub fn feed_parsed(&mut self, data: &[u8], index: &MessageIndex, packet: Packet) -> Fed {
        let packet = self.sanitize(packet);
        self.counters.messages += 1;
        let (fed, keep) = self.analyse(data, index, &packet);
        if let Some(k) = keep {
            let c = Captured {
                bytes: B::from(data),
                index: index.clone(),
                packet,
            };
            self.keep(k, c);
        }
        fed
    }
}

/// A call's snapshot with its dialogs and transactions ([`Correlator::calls_with_parts`]).
pub type CallParts<'a, B> = (Call, Vec<Dialog>, Vec<Transaction<'a, B>>);

/// The rows of the calls a drain finishes (see [`Correlator::drain_finished`]).
pub struct Rows<'a, B: AsRef<[u8]>> {
    c: &'a mut Correlator<B>,
    now: f64,
    all: bool,
}

impl<B: AsRef<[u8]>> Iterator for Rows<'_, B> {
    type Item = CallRecord;

    fn next(&mut self) -> Option<CallRecord> {
        let done = self.c.next_finished(self.now, self.all)?;
        let row = done.record();
        self.c.recycle(done);
        Some(row)
    }
}

/// The calls a drain hands out (see [`Correlator::drain`]). Calls not taken before it is
/// dropped stay in the correlator, to be handed out by a later drain.
pub struct Drain<'a, B> {
    c: &'a mut Correlator<B>,
    now: f64,
    all: bool,
}

impl<B: AsRef<[u8]>> Iterator for Drain<'_, B> {
    type Item = FinishedCall<B>;

    fn next(&mut self) -> Option<FinishedCall<B>> {
        self.c.next_finished(self.now, self.all)
    }
}

/// A hop's identity: the source and destination addresses of a packet, as a hash. Over a
/// connection (TCP, TLS, SCTP, WebSocket) the hosts only: a message resent after its
/// connection closed goes over a new one, from another port (RFC 3261 §18.2.2).
fn hop_hash(mut h: FoldHasher, src: SocketAddr, dst: SocketAddr, connection: bool) -> u32 {
    for a in [src, dst] {
        let port = if connection { 0 } else { u64::from(a.port()) };
        match a.ip() {
            // Address and port in one word, marked apart from an IPv6 address's.
            std::net::IpAddr::V4(ip) => {
                h.write_u64(1 << 48 | port << 32 | u64::from(u32::from(ip)))
            }
            std::net::IpAddr::V6(ip) => {
                h.write_u128(u128::from(ip));
                h.write_u64(port);
            }
        }
    }
    let x = h.finish();
    (x ^ (x >> 32)) as u32
}

fn txn_id(call: Id, i: usize) -> TxnId {
    TxnId {
        call,
        index: u16::try_from(i).unwrap_or(u16::MAX),
    }
}

/// Links transaction `i` (INVITE, UPDATE or PRACK) to exchange `e`, and hands it a 2xx ACK
/// that came before it.
fn link<B: AsRef<[u8]>>(call: &mut CallRec<B>, i: usize, e: usize) {
    let Ok(e16) = u16::try_from(e) else {
        return;
    };
    let Some(x) = call.txns.get_mut(i) else {
        return;
    };
    if x.exchange.is_some() || !matches!(x.method, Method::Invite | Method::Update | Method::Prack)
    {
        return;
    }
    x.exchange = Some(e16);
    if x.method == Method::Invite {
        // A 2xx ACK recorded with the exchange before this transaction was known.
        let ack = call
            .exchanges
            .get(e)
            .and_then(|ex| ex.legs.iter().filter_map(|l| l.ack).reduce(f64::min));
        if let Some(a) = ack {
            txn::earliest(&mut x.ack, a);
        }
        if let Some(ex) = call.exchanges.get_mut(e) {
            x.retransmissions += std::mem::take(&mut ex.parked_again);
        }
        call.unpark(e, i);
    }
}

/// The caller is the From of an initial INVITE, else of the earliest INVITE or ACK seen.
fn note_caller<B>(call: &mut CallRec<B>, buf: &[u8], f: &Facts, from_hash: u64, t: f64) {
    if !matches!(f.method, Method::Invite | Method::Ack) {
        return;
    }
    let priority =
        u8::from(f.is_request() && f.method == Method::Invite && f.to_tag.is_empty()) + 1;
    let text = |s: crate::scan::Span| crate::scan::lossy_str(s.of(buf));
    let order = || hash::Keys::FIXED.hash_bytes(f.from_tag.of(buf));
    let better = match call.caller.as_ref() {
        None => true,
        Some(c) if priority != c.priority => priority > c.priority,
        Some(c) if t != c.time => t < c.time,
        // Two of the same rank at the same time (copies seen at two hops, a coarse capture
        // clock): the same one in every feed order and run.
        Some(c) => {
            let (from, to) = call.caller_texts();
            (text(f.from_uri), text(f.to_uri), order()) < (from.into(), to.into(), c.from_order)
        }
    };
    if better {
        let (from, to) = (text(f.from_uri), text(f.to_uri));
        call.set_caller(priority, t, (from_hash, order()), &from, &to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn msg(start: &str, branch: &str, to_tag: &str, cseq: &str) -> Vec<u8> {
        format!(
            "{start}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={branch}\r\n\
             From: <sip:a@example.com>;tag=fa\r\nTo: <sip:b@example.com>{to_tag}\r\n\
             Call-ID: held\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    /// The remembered From, To and Via values of the one call held.
    fn holds(c: &Correlator) -> bool {
        c.calls.iter().all(|(_, rec)| rec.seen.holds())
    }

    /// Stage 6: the message that ends a call keeps its remembered values for the one that
    /// closes it; a second message that finds it ended still lets them go.
    #[test]
    fn an_ended_calls_values_go_with_its_next_message_not_its_end() {
        let (a, b): (SocketAddr, SocketAddr) = (
            "10.0.0.1:5060".parse().unwrap(),
            "10.0.0.2:5060".parse().unwrap(),
        );
        let inv = "INVITE sip:b@example.com SIP/2.0";
        let bye = "BYE sip:b@10.0.0.2 SIP/2.0";
        let setup = [
            (a, b, msg(inv, "z9hG4bK1", "", "1 INVITE")),
            (
                b,
                a,
                msg("SIP/2.0 200 OK", "z9hG4bK1", ";tag=tb", "1 INVITE"),
            ),
            (
                a,
                b,
                msg("ACK sip:b@10.0.0.2 SIP/2.0", "z9hG4bK2", ";tag=tb", "1 ACK"),
            ),
            (a, b, msg(bye, "z9hG4bK3", ";tag=tb", "2 BYE")),
        ];
        let ok = msg("SIP/2.0 200 OK", "z9hG4bK3", ";tag=tb", "2 BYE");
        let mut closed = Correlator::new(Config::DEFAULT);
        let mut lost = Correlator::new(Config::DEFAULT);
        for (i, (src, dst, m)) in setup.iter().enumerate() {
            for c in [&mut closed, &mut lost] {
                c.feed(m, Packet::udp(i as f64, *src, *dst));
            }
        }
        assert!(holds(&closed) && holds(&lost));
        // Closed by the BYE's 200: kept (the record serves the next call).
        closed.feed(&ok, Packet::udp(4.0, b, a));
        assert!(holds(&closed));
        // The BYE again, unanswered: the call lingers for stragglers only.
        let again = &setup[3].2;
        lost.feed(again, Packet::udp(4.5, a, b));
        assert!(!holds(&lost));
        assert_eq!(lost.counters().retransmissions, 1);
    }
}
