//! The transaction layer: a bounded table of transactions, routing and timers.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hash::Hasher;
use std::sync::Arc;

use super::key::{to_tag, KeyRef, TxnKey};
use super::machine::{step, Class, Effect, Input, Kind, State, Timer, Timers};
use super::requests::{build_ack_for_non_2xx, build_cancel};
use super::table::HashIndex;
use super::Peer;
use crate::build::response_to;
use crate::error::Error;
use crate::limits::ParseOptions;
use crate::message::{Message, MessageIndex, StartLine};

/// How the layer behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub timers: Timers,
    /// At most this many live transactions. When full, the oldest one that only waits for
    /// retransmissions (Completed, Confirmed, Accepted) is evicted; if none, a new request is
    /// refused (503 for a received one) and counted.
    pub max_transactions: usize,
    /// How received messages and the user's messages are parsed.
    pub parse: ParseOptions,
    /// Answer an INVITE with 100 Trying at once (§17.2.1: unless the TU answers in 200 ms).
    pub auto_trying: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timers: Timers::default(),
            max_transactions: 16_384,
            parse: ParseOptions::STRICT,
            auto_trying: true,
        }
    }
}

/// A transaction handle. Stale handles (of a terminated transaction) match nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxnId {
    index: u32,
    gen: u32,
}

impl TxnId {
    /// The handle as one number (for bindings and logs).
    pub fn to_u64(self) -> u64 {
        (u64::from(self.gen) << 32) | u64::from(self.index)
    }
    pub fn from_u64(v: u64) -> TxnId {
        TxnId {
            index: (v & 0xffff_ffff) as u32,
            gen: (v >> 32) as u32,
        }
    }
}

/// Bytes to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    pub dest: Peer,
    pub bytes: Arc<[u8]>,
    /// The transaction that sent it (`None`: stateless).
    pub txn: Option<TxnId>,
}

/// A received message: its bytes, its index, where and when it came from.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub bytes: Vec<u8>,
    pub index: MessageIndex,
    pub source: Peer,
    pub at: u64,
}

impl Incoming {
    pub fn message(&self) -> Message<'_, &MessageIndex> {
        Message::new(&self.bytes, &self.index)
    }
}

/// What the layer tells its user.
#[derive(Clone, Debug)]
pub enum Event {
    /// A new request (not ACK, not CANCEL) made a server transaction; answer with `respond`.
    Request {
        txn: TxnId,
        msg: Incoming,
    },
    /// A CANCEL made a server transaction; `invite` is the INVITE server transaction it
    /// cancels (§9.2), `None` when there is none (answer 481). See `answer_cancel`.
    Cancel {
        txn: TxnId,
        invite: Option<TxnId>,
        msg: Incoming,
    },
    /// An ACK outside a transaction: for a 2xx (§13.3.1.4, the dialog's), or stray. `txn` is
    /// set when an RFC 2543 ACK matched an INVITE server transaction in Accepted.
    Ack {
        txn: Option<TxnId>,
        msg: Incoming,
    },
    /// A response for a client transaction (2xx retransmissions too, RFC 6026).
    Response {
        txn: TxnId,
        msg: Incoming,
    },
    /// Timer B/F (client: act as if 408 arrived, §8.1.3.1) or H (server: no ACK).
    Timeout {
        txn: TxnId,
        kind: Kind,
    },
    TransportError {
        txn: TxnId,
    },
    /// The transaction left the table (`evicted` when the table made room).
    Terminated {
        txn: TxnId,
        evicted: bool,
    },
}

/// What the layer counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub received: u64,
    /// Received bytes that did not parse (or a request without Via).
    pub malformed: u64,
    /// Requests and responses absorbed or answered by a transaction.
    pub retransmissions: u64,
    /// Requests and responses this side sent again on a timer (A, E, G), and the ACK of
    /// a non-2xx sent again for a retransmitted final.
    pub retransmitted: u64,
    /// Responses matching no client transaction (§18.1.2: discarded).
    pub unmatched_responses: u64,
    /// ACKs matching no transaction (for a 2xx, or stray).
    pub unmatched_acks: u64,
    /// Messages a transaction ignored in its state.
    pub ignored: u64,
    pub created: u64,
    /// New transactions refused because the table was full.
    pub rejected: u64,
    pub evicted: u64,
    pub timeouts: u64,
    pub terminated: u64,
}

/// Why the layer refused a user request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnError {
    /// The bytes given did not parse.
    Parse(Error),
    NotARequest,
    NotAResponse,
    /// The request's top Via has no RFC 3261 branch.
    NoBranch,
    /// A transaction with that key exists.
    Duplicate,
    TableFull,
    /// The handle is stale or of the wrong kind.
    NoSuchTransaction,
    /// The transaction cannot do that in its state (a response after the final, ...).
    InvalidState,
    /// ACK is not a transaction: send it with `send_stateless`.
    Ack,
    /// The INVITE already has a final response: nothing to cancel (§9.1).
    AlreadyFinal,
}

impl From<Error> for TxnError {
    fn from(e: Error) -> Self {
        TxnError::Parse(e)
    }
}

/// What `cancel` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The CANCEL went out in this client transaction.
    Sent(TxnId),
    /// No provisional yet: the CANCEL goes out when one arrives (§9.1).
    Deferred,
}

struct Txn {
    kind: Kind,
    state: State,
    key: TxnKey,
    hash: u64,
    /// Client: where the request goes. Server: where the request came from (responses go
    /// back there, as with `rport`, RFC 3581).
    peer: Peer,
    /// Client: the request. INVITE server: the INVITE (for 487). Others: empty.
    request: Arc<[u8]>,
    /// Server: the last response sent.
    response: Option<Arc<[u8]>>,
    /// INVITE client: the ACK for the non-2xx.
    ack: Option<Arc<[u8]>>,
    /// Server, RFC 2543 matching: the To tag of the request and of the last response.
    req_to_tag: Vec<u8>,
    resp_to_tag: Vec<u8>,
    timers: [Option<(Timer, u64)>; 3],
    interval: u64,
    started: u64,
    cancel_pending: bool,
}

struct Slot {
    gen: u32,
    txn: Option<Txn>,
}

/// The endpoint core (see the module docs).
pub struct TransactionLayer {
    cfg: Config,
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: HashIndex,
    live: usize,
    order: VecDeque<TxnId>,
    heap: BinaryHeap<Reverse<(u64, u32, u32, u8)>>,
    out: VecDeque<Datagram>,
    events: VecDeque<Event>,
    counters: Counters,
}

/// How many of the oldest transactions eviction looks at.
const EVICT_SCAN: usize = 64;

impl TransactionLayer {
    pub fn new(cfg: Config) -> Self {
        TransactionLayer {
            cfg,
            slots: Vec::new(),
            free: Vec::new(),
            index: HashIndex::default(),
            live: 0,
            order: VecDeque::new(),
            heap: BinaryHeap::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }
    pub fn counters(&self) -> Counters {
        self.counters
    }
    /// Live transactions.
    pub fn len(&self) -> usize {
        self.live
    }
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
    pub fn state(&self, id: TxnId) -> Option<State> {
        self.get(id).map(|t| t.state)
    }
    pub fn kind(&self, id: TxnId) -> Option<Kind> {
        self.get(id).map(|t| t.kind)
    }
    /// When the transaction started (creation time).
    pub fn started(&self, id: TxnId) -> Option<u64> {
        self.get(id).map(|t| t.started)
    }
    /// The request of a client transaction, or of an INVITE server transaction.
    pub fn request_bytes(&self, id: TxnId) -> Option<&[u8]> {
        self.get(id)
            .map(|t| &t.request[..])
            .filter(|r| !r.is_empty())
    }

    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        self.out.pop_front()
    }
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest armed timer.
    pub fn next_deadline(&mut self) -> Option<u64> {
        while let Some(&Reverse((at, slot, gen, n))) = self.heap.peek() {
            if self.timer_is_live(at, slot, gen, n) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Fires every timer due at `now`.
    pub fn tick(&mut self, now: u64) {
        while let Some(&Reverse((at, slot, gen, n))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            if !self.timer_is_live(at, slot, gen, n) {
                continue;
            }
            let timer = self
                .slot_txn_mut(slot)
                .and_then(|t| t.timers.get_mut(usize::from(n)).and_then(Option::take))
                .map(|(t, _)| t);
            if let Some(t) = timer {
                self.run(slot, Input::Timer(t), None, now);
            }
        }
    }

    // --- input from the network -------------------------------------------------------

    /// Parses and routes one received message (a datagram, or a message a stream framer
    /// cut). A message that does not parse is counted and its error returned; nothing else
    /// about it is an error (unmatched responses are counted, §18.1.2).
    pub fn receive(&mut self, bytes: Vec<u8>, source: Peer, now: u64) -> Result<(), TxnError> {
        self.counters.received += 1;
        let index = match MessageIndex::parse(&bytes, &self.cfg.parse) {
            Ok(i) => i,
            Err(e) => {
                self.counters.malformed += 1;
                return Err(TxnError::Parse(e));
            }
        };
        let msg = Incoming {
            bytes,
            index,
            source,
            at: now,
        };
        if msg.index.is_request() {
            self.on_request(msg, now)
        } else {
            self.on_response(msg, now);
            Ok(())
        }
    }

    fn on_request(&mut self, msg: Incoming, now: u64) -> Result<(), TxnError> {
        let method = match msg.index.start_line {
            StartLine::Request { method, .. } => method.of(&msg.bytes),
            StartLine::Response { .. } => return Err(TxnError::NotARequest),
        };
        let is_ack = method == b"ACK";
        let is_cancel = method == b"CANCEL";
        let kind = if method == b"INVITE" {
            Kind::InviteServer
        } else {
            Kind::NonInviteServer
        };
        let m = msg.message();
        let Some(key) = KeyRef::for_request(&msg.bytes, &msg.index) else {
            self.counters.malformed += 1;
            return Err(TxnError::Parse(Error::new(
                crate::ErrorKind::MissingHeader,
                0,
            )));
        };
        let tag = to_tag(&m);
        let hash = self.hash(&key);
        let found = self.find(&key, hash, Some((tag, is_ack)));
        if let Some(slot) = found {
            let input = if is_ack { Input::Ack } else { Input::Request };
            if !is_ack {
                self.counters.retransmissions += 1;
            }
            if !self.run(slot, input, Some(msg), now) {
                self.counters.ignored += 1;
            }
            return Ok(());
        }
        if is_ack {
            self.counters.unmatched_acks += 1;
            self.events.push_back(Event::Ack { txn: None, msg });
            return Ok(());
        }
        let invite = if is_cancel {
            let k = key.with_method(b"INVITE");
            let h = self.hash(&k);
            self.find(&k, h, None).map(|s| self.id_of(s))
        } else {
            None
        };
        let owned = key.to_owned();
        let req_to_tag = tag.to_vec();
        let request: Arc<[u8]> = if kind == Kind::InviteServer {
            Arc::from(&msg.bytes[..])
        } else {
            Arc::from(&[][..])
        };
        let txn = Txn {
            kind,
            state: kind.initial(),
            key: owned,
            hash,
            peer: super::response_peer(&m, msg.source),
            request,
            response: None,
            ack: None,
            resp_to_tag: req_to_tag.clone(),
            req_to_tag,
            timers: [None; 3],
            interval: 0,
            started: now,
            cancel_pending: false,
        };
        let Some(slot) = self.insert(txn) else {
            // Full: refuse statelessly (RFC 3261 §21.5.4).
            let r = response_to(
                &msg.message(),
                503,
                b"Service Unavailable",
                None,
                &[(b"Retry-After", b"5")],
                b"",
            );
            if let Ok(r) = r {
                self.out.push_back(Datagram {
                    dest: msg.source,
                    bytes: Arc::from(r),
                    txn: None,
                });
            }
            return Ok(());
        };
        let id = self.id_of(slot);
        let trying = if kind == Kind::InviteServer && self.cfg.auto_trying {
            response_to(&msg.message(), 100, b"Trying", None, &[], b"").ok()
        } else {
            None
        };
        if is_cancel {
            self.events.push_back(Event::Cancel {
                txn: id,
                invite,
                msg,
            });
        } else {
            self.events.push_back(Event::Request { txn: id, msg });
        }
        if let Some(t) = trying {
            // Cannot fail: a new INVITE server transaction takes a 1xx.
            let _ = self.respond(id, t, now);
        }
        Ok(())
    }

    fn on_response(&mut self, msg: Incoming, now: u64) {
        let Some(key) = KeyRef::for_client(&msg.bytes, &msg.index) else {
            self.counters.unmatched_responses += 1;
            return;
        };
        let hash = self.hash(&key);
        let Some(slot) = self.find(&key, hash, None) else {
            self.counters.unmatched_responses += 1;
            return;
        };
        let class = Class::of(msg.message().status().unwrap_or(500));
        let before = self.slot_txn(slot).map(|t| t.state);
        if !self.run(slot, Input::Received(class), Some(msg), now) {
            self.counters.ignored += 1;
        } else if before == Some(State::Completed) || before == Some(State::Accepted) {
            self.counters.retransmissions += 1;
        }
        // §9.1: a CANCEL waits for a provisional; after a final there is nothing to cancel.
        let pending = self
            .slot_txn(slot)
            .map(|t| (t.cancel_pending, t.state))
            .filter(|(p, _)| *p);
        match pending {
            Some((_, State::Proceeding)) => {
                let id = self.id_of(slot);
                let _ = self.cancel(id, now);
            }
            Some(_) if class != Class::Provisional => {
                if let Some(t) = self.slot_txn_mut(slot) {
                    t.cancel_pending = false;
                }
            }
            _ => {}
        }
    }

    /// The driver could not send for this transaction (ICMP error, TCP reset, §18.4).
    pub fn transport_error(&mut self, id: TxnId, now: u64) {
        if let Some(slot) = self.slot_of(id) {
            self.run(slot, Input::TransportError, None, now);
        }
    }

    // --- input from the user ----------------------------------------------------------

    /// Sends a request in a new client transaction to `dest`. The request must be complete,
    /// with a top Via carrying a fresh RFC 3261 branch (see [`super::BranchGen`]).
    pub fn send_request(
        &mut self,
        bytes: Vec<u8>,
        dest: Peer,
        now: u64,
    ) -> Result<TxnId, TxnError> {
        let index = MessageIndex::parse(&bytes, &self.cfg.parse)?;
        let StartLine::Request { method, .. } = index.start_line else {
            return Err(TxnError::NotARequest);
        };
        let m = method.of(&bytes);
        if m == b"ACK" {
            return Err(TxnError::Ack);
        }
        let kind = if m == b"INVITE" {
            Kind::InviteClient
        } else {
            Kind::NonInviteClient
        };
        let key = KeyRef::for_client(&bytes, &index).ok_or(TxnError::NoBranch)?;
        let hash = self.hash(&key);
        if self.find(&key, hash, None).is_some() {
            return Err(TxnError::Duplicate);
        }
        let owned = key.to_owned();
        let txn = Txn {
            kind,
            state: kind.initial(),
            key: owned,
            hash,
            peer: dest,
            request: Arc::from(bytes),
            response: None,
            ack: None,
            req_to_tag: Vec::new(),
            resp_to_tag: Vec::new(),
            timers: [None; 3],
            interval: 0,
            started: now,
            cancel_pending: false,
        };
        let slot = self.insert(txn).ok_or(TxnError::TableFull)?;
        self.run(slot, Input::Start, None, now);
        Ok(self.id_of(slot))
    }

    /// Sends a response in a server transaction (1xx any number of times, one final; in
    /// Accepted, 2xx retransmissions).
    pub fn respond(&mut self, id: TxnId, bytes: Vec<u8>, now: u64) -> Result<(), TxnError> {
        let slot = self.slot_of(id).ok_or(TxnError::NoSuchTransaction)?;
        let index = MessageIndex::parse(&bytes, &self.cfg.parse)?;
        let StartLine::Response { status, .. } = index.start_line else {
            return Err(TxnError::NotAResponse);
        };
        let class = Class::of(status);
        let tag = to_tag(&Message::new(&bytes, &index)).to_vec();
        let txn = self.slot_txn_mut(slot).ok_or(TxnError::NoSuchTransaction)?;
        if txn.kind.is_client() {
            return Err(TxnError::NoSuchTransaction);
        }
        if step(txn.kind, txn.state, Input::Respond(class)).is_none() {
            return Err(TxnError::InvalidState);
        }
        txn.response = Some(Arc::from(bytes));
        if !tag.is_empty() {
            txn.resp_to_tag = tag;
        }
        self.run(slot, Input::Respond(class), None, now);
        Ok(())
    }

    /// Sends bytes outside any transaction (the ACK for a 2xx, §13.2.2.4; stateless
    /// responses).
    pub fn send_stateless(&mut self, bytes: Vec<u8>, dest: Peer) {
        self.out.push_back(Datagram {
            dest,
            bytes: Arc::from(bytes),
            txn: None,
        });
    }

    /// Cancels an INVITE client transaction (§9.1): the CANCEL goes out now if a provisional
    /// came, or when one comes; Timer B then bounds the wait for the 487.
    pub fn cancel(&mut self, invite: TxnId, now: u64) -> Result<CancelOutcome, TxnError> {
        let slot = self.slot_of(invite).ok_or(TxnError::NoSuchTransaction)?;
        let txn = self.slot_txn_mut(slot).ok_or(TxnError::NoSuchTransaction)?;
        if txn.kind != Kind::InviteClient {
            return Err(TxnError::NoSuchTransaction);
        }
        match txn.state {
            State::Calling => {
                txn.cancel_pending = true;
                Ok(CancelOutcome::Deferred)
            }
            State::Proceeding => {
                txn.cancel_pending = false;
                let request = txn.request.clone();
                let peer = txn.peer;
                // §9.1: the INVITE ends within 64·T1 of the cancel even when the CANCEL
                // cannot go out (table full, a CANCEL with that branch already live).
                self.run(slot, Input::Cancelled, None, now);
                let idx = MessageIndex::parse(&request, &self.cfg.parse)?;
                let cancel = build_cancel(&Message::new(&request, &idx))?;
                let id = self.send_request(cancel, peer, now)?;
                Ok(CancelOutcome::Sent(id))
            }
            _ => Err(TxnError::AlreadyFinal),
        }
    }

    /// The UAS side of CANCEL (§9.2): 200 to the CANCEL (481 when `invite` is `None`), and
    /// 487 to the INVITE when it has no final response yet (with `to_tag` on its To).
    pub fn answer_cancel(
        &mut self,
        cancel: TxnId,
        cancel_msg: &Incoming,
        invite: Option<TxnId>,
        to_tag: &[u8],
        now: u64,
    ) -> Result<(), TxnError> {
        let m = cancel_msg.message();
        let live_invite = invite.filter(|&i| self.kind(i) == Some(Kind::InviteServer));
        let (code, reason): (u16, &[u8]) = match live_invite {
            Some(_) => (200, b"OK"),
            None => (481, b"Call/Transaction Does Not Exist"),
        };
        let r = response_to(&m, code, reason, Some(to_tag), &[], b"")?;
        self.respond(cancel, r, now)?;
        if let Some(inv) = live_invite {
            if self.state(inv) == Some(State::Proceeding) {
                let req = self.request_bytes(inv).map(<[u8]>::to_vec);
                if let Some(req) = req {
                    let idx = MessageIndex::parse(&req, &self.cfg.parse)?;
                    let r = response_to(
                        &Message::new(&req, &idx),
                        487,
                        b"Request Terminated",
                        Some(to_tag),
                        &[],
                        b"",
                    )?;
                    self.respond(inv, r, now)?;
                }
            }
        }
        Ok(())
    }

    // --- the table ----------------------------------------------------------------------

    fn hash(&self, key: &KeyRef<'_>) -> u64 {
        let mut h = self.index.hasher();
        key.hash_into(&mut h);
        h.finish()
    }

    /// The slot holding `key`. `to` is (To tag, is ACK) for RFC 2543 server matching.
    fn find(&self, key: &KeyRef<'_>, hash: u64, to: Option<(&[u8], bool)>) -> Option<u32> {
        self.index.get(hash).iter().copied().find(|&s| {
            let Some(t) = self.slot_txn(s) else {
                return false;
            };
            if !t.key.as_ref().matches(key) {
                return false;
            }
            match to {
                Some((tag, is_ack)) if key.is_rfc2543() => {
                    let want: &[u8] = if is_ack {
                        &t.resp_to_tag
                    } else {
                        &t.req_to_tag
                    };
                    tag == want
                }
                _ => true,
            }
        })
    }

    fn id_of(&self, slot: u32) -> TxnId {
        TxnId {
            index: slot,
            gen: self.slots.get(slot as usize).map_or(0, |s| s.gen),
        }
    }

    fn slot_of(&self, id: TxnId) -> Option<u32> {
        let s = self.slots.get(id.index as usize)?;
        (s.gen == id.gen && s.txn.is_some()).then_some(id.index)
    }

    fn get(&self, id: TxnId) -> Option<&Txn> {
        self.slot_of(id).and_then(|s| self.slot_txn(s))
    }

    fn slot_txn(&self, slot: u32) -> Option<&Txn> {
        self.slots.get(slot as usize).and_then(|s| s.txn.as_ref())
    }

    fn slot_txn_mut(&mut self, slot: u32) -> Option<&mut Txn> {
        self.slots
            .get_mut(slot as usize)
            .and_then(|s| s.txn.as_mut())
    }

    fn timer_is_live(&self, at: u64, slot: u32, gen: u32, n: u8) -> bool {
        self.slots.get(slot as usize).is_some_and(|s| {
            s.gen == gen
                && s.txn
                    .as_ref()
                    .and_then(|t| t.timers.get(usize::from(n)).copied().flatten())
                    .is_some_and(|(_, d)| d == at)
        })
    }

    fn insert(&mut self, txn: Txn) -> Option<u32> {
        if self.live >= self.cfg.max_transactions && !self.evict_one() {
            self.counters.rejected += 1;
            return None;
        }
        let hash = txn.hash;
        let slot = match self.free.pop() {
            Some(s) => {
                if let Some(x) = self.slots.get_mut(s as usize) {
                    x.txn = Some(txn);
                }
                s
            }
            None => {
                let s = u32::try_from(self.slots.len()).ok()?;
                self.slots.push(Slot {
                    gen: 0,
                    txn: Some(txn),
                });
                s
            }
        };
        self.index.insert(hash, slot);
        self.live += 1;
        self.counters.created += 1;
        let id = self.id_of(slot);
        self.order.push_back(id);
        if self.order.len() > 2 * self.cfg.max_transactions + EVICT_SCAN {
            let slots = &self.slots;
            self.order.retain(|i| {
                slots
                    .get(i.index as usize)
                    .is_some_and(|s| s.gen == i.gen && s.txn.is_some())
            });
        }
        Some(slot)
    }

    /// Evicts the oldest transaction that only waits for retransmissions.
    fn evict_one(&mut self) -> bool {
        while let Some(&front) = self.order.front() {
            if self.slot_of(front).is_some() {
                break;
            }
            self.order.pop_front();
        }
        let victim = self.order.iter().take(EVICT_SCAN).copied().find(|&id| {
            self.get(id).is_some_and(|t| {
                matches!(
                    t.state,
                    State::Completed | State::Confirmed | State::Accepted
                )
            })
        });
        match victim {
            Some(id) => {
                self.remove(id.index, true);
                self.counters.evicted += 1;
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, slot: u32, evicted: bool) {
        let id = self.id_of(slot);
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let Some(txn) = s.txn.take() else {
            return;
        };
        s.gen = s.gen.wrapping_add(1);
        self.index.remove(txn.hash, slot);
        self.free.push(slot);
        self.live = self.live.saturating_sub(1);
        self.counters.terminated += 1;
        self.events
            .push_back(Event::Terminated { txn: id, evicted });
    }

    /// Feeds `input` to the transaction in `slot` and runs the effects. `false` when the
    /// table has no row for it.
    fn run(&mut self, slot: u32, input: Input, mut msg: Option<Incoming>, now: u64) -> bool {
        let id = self.id_of(slot);
        let mut next = Some(input);
        let mut first = true;
        while let Some(input) = next.take() {
            let timers = self.cfg.timers;
            let parse = self.cfg.parse;
            let Some(txn) = self
                .slots
                .get_mut(slot as usize)
                .and_then(|s| s.txn.as_mut())
            else {
                return !first;
            };
            let Some((state, effects)) = step(txn.kind, txn.state, input) else {
                return !first;
            };
            first = false;
            txn.state = state;
            let reliable = txn.peer.transport.is_reliable();
            let mut terminate = false;
            let resend = matches!(input, Input::Timer(_));
            for &e in effects {
                match e {
                    Effect::Send => {
                        if resend {
                            self.counters.retransmitted += 1;
                        }
                        let bytes = if txn.kind.is_client() {
                            Some(txn.request.clone())
                        } else {
                            txn.response.clone()
                        };
                        if let Some(bytes) = bytes {
                            self.out.push_back(Datagram {
                                dest: txn.peer,
                                bytes,
                                txn: Some(id),
                            });
                        }
                    }
                    Effect::SendAck => {
                        if txn.ack.is_none() {
                            if let Some(resp) = &msg {
                                let ack = MessageIndex::parse(&txn.request, &parse).ok().and_then(
                                    |idx| {
                                        build_ack_for_non_2xx(
                                            &Message::new(&txn.request, &idx),
                                            &resp.message(),
                                        )
                                        .ok()
                                    },
                                );
                                txn.ack = ack.map(Arc::from);
                            }
                        }
                        if let Some(ack) = &txn.ack {
                            self.out.push_back(Datagram {
                                dest: txn.peer,
                                bytes: ack.clone(),
                                txn: Some(id),
                            });
                        }
                    }
                    Effect::Deliver => {
                        if let Some(m) = msg.take() {
                            self.events.push_back(if m.index.is_request() {
                                Event::Ack {
                                    txn: Some(id),
                                    msg: m,
                                }
                            } else {
                                Event::Response { txn: id, msg: m }
                            });
                        }
                    }
                    Effect::Timeout => {
                        self.counters.timeouts += 1;
                        self.events.push_back(Event::Timeout {
                            txn: id,
                            kind: txn.kind,
                        });
                    }
                    Effect::TransportError => {
                        self.events.push_back(Event::TransportError { txn: id });
                    }
                    Effect::Start(t) | Effect::Backoff(t) | Effect::AtT2(t) => {
                        let d = match e {
                            Effect::Start(_) => timers.initial(t, reliable),
                            Effect::Backoff(_) => Some(timers.backoff(t, txn.interval)),
                            _ => Some(timers.t2),
                        };
                        match d {
                            None => {}
                            Some(0) => next = Some(Input::Timer(t)),
                            Some(d) => {
                                let at = now.saturating_add(d);
                                if let Some(s) = txn.timers.get_mut(t.slot()) {
                                    *s = Some((t, at));
                                }
                                if t.slot() == 0 {
                                    txn.interval = d;
                                }
                                self.heap.push(Reverse((at, slot, id.gen, t.slot() as u8)));
                            }
                        }
                    }
                    Effect::Stop(t) => {
                        if let Some(s) = txn.timers.get_mut(t.slot()) {
                            if s.is_some_and(|(x, _)| x == t) {
                                *s = None;
                            }
                        }
                    }
                    Effect::Terminate => terminate = true,
                }
            }
            if terminate {
                self.remove(slot, false);
                return true;
            }
        }
        true
    }
}
