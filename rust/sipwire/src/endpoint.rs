//! The endpoint: a [`TransactionLayer`] and a [`Dialogs`] table driven together, sans-IO — the
//! protocol core of a user agent (RFC 3261 §8, §12–§17).
//!
//! ## Theory of operation
//!
//! The driver owns the sockets and the clock. It feeds what it received
//! ([`Endpoint::receive`]), asks for requests and responses ([`Endpoint::request`],
//! [`Endpoint::request_in_dialog`], [`Endpoint::respond`], [`Endpoint::cancel`]), wakes the
//! endpoint at [`Endpoint::next_deadline`] with [`Endpoint::tick`], and after each call drains
//! [`Endpoint::poll_transmit`] (bytes and where to send them) and [`Endpoint::poll_event`]
//! (what happened). Everything the RFCs make automatic happens here without the user: 100
//! Trying, the ACK of every 2xx (§13.2.2.4) and of non-2xx finals (§17.1.1.3), the 2xx
//! retransmissions until the ACK (§13.3.1.4) and the BYE when none comes, 200 and 487 for a
//! received CANCEL (§9.2), 481/482/500/491 for requests §8.2.2.2, §12.2.2 and §14.2 reject,
//! the BYE of an unwanted fork (§13.2.2.4), the re-INVITE retry after 491 (§14.1), the
//! PRACK of a reliable provisional (RFC 3262 §4), and session timers (RFC 4028: the
//! Session-Expires negotiation, 422 for a too short interval, a [`EndpointEvent::SessionRefresh`]
//! when this side must refresh, and BYE when the session expires unrefreshed).
//! Subscriptions (RFC 6665) too: 489 for an event package not accepted, 481 for a NOTIFY no
//! subscription expects, the dialog a 2xx to SUBSCRIBE or an early NOTIFY makes, Expires in
//! the 2xx, each subscription's deadline and the NOTIFY that ends it at the notifier, and the
//! dialog ending with its last subscription.
//!
//! One ACK waits for the user: the ACK of a 2xx that carries an offer because this side's
//! INVITE had none (RFC 3264 §5, RFC 3261 §13.2.2.4 — the answer goes in the ACK). The
//! user sends it with [`Endpoint::ack`]; its retransmissions are then automatic.
//!
//! Time is milliseconds on the driver's monotonic clock. Tags, Call-IDs and branches come from
//! a generator seeded by the driver (the core draws no random numbers): seed it from the OS
//! for real traffic, with a constant for reproducible tests.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use crate::build::{check_value, reason_phrase, response_to, RequestBuilder};
use crate::dialog::prack::{
    rack_value, PrackAction, ReliableProvisionals, RseqTracker, RseqVerdict,
};
use crate::dialog::session_timer::{
    uac_on_2xx, uas_negotiate, SessionTimer, UasTimer, MIN_SE_FLOOR,
};
use crate::dialog::subscription::{
    check_event, check_notify, check_subscribe, grant, state_value, EventKey, NotifyState, Refusal,
    Role, SubState, SubscriptionConfig, Subscriptions,
};
use crate::dialog::{
    glare_retry_delay, Dialog, DialogAction, DialogConfig, DialogCounters, DialogId, DialogKey,
    DialogState, Dialogs, RequestVerdict,
};
use crate::error::Error;
use crate::header::{
    parse_cseq, parse_expires, parse_name_addr, parse_rack, parse_replaces, parse_rseq,
    parse_session_expires, Refresher,
};
use crate::message::{HeaderName, Message, MessageIndex};
use crate::txn::{
    self, CancelOutcome, Counters, Datagram, Event, Incoming, Kind, Peer, State, TransactionLayer,
    Transport, TxnError, TxnId,
};
use crate::uri::Uri;

/// How the endpoint behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointConfig {
    pub txn: txn::Config,
    pub dialog: DialogConfig,
    /// This endpoint's address and transport, as written in Via sent-by and Contact.
    pub local: Peer,
    /// The user part of this endpoint's Contact and default From.
    pub user: Vec<u8>,
    /// Seeds tags, Call-IDs and branches.
    pub seed: u64,
    /// The session interval (seconds) this side asks for in its INVITEs, re-INVITEs and
    /// UPDATEs (RFC 4028 §7.1); `None` asks for none but still runs a timer the peer asks
    /// for.
    pub session_expires: Option<u32>,
    /// This side's Min-SE (RFC 4028 §5, at least 90): a request asking for a shorter
    /// session gets 422 from the endpoint.
    pub min_se: u32,
    /// The event packages this side accepts, and the subscription durations it grants.
    pub subscription: SubscriptionConfig,
}

impl EndpointConfig {
    pub fn new(local: Peer, seed: u64) -> EndpointConfig {
        EndpointConfig {
            txn: txn::Config::default(),
            dialog: DialogConfig::default(),
            local,
            user: b"sipwire".to_vec(),
            seed,
            session_expires: None,
            min_se: MIN_SE_FLOOR,
            subscription: SubscriptionConfig::default(),
        }
    }
}

/// What happened, for the user.
#[derive(Clone, Debug)]
pub enum EndpointEvent {
    /// A request to answer with [`Endpoint::respond`]: outside any dialog (`dialog` is
    /// `None`; it may make one), or inside one (CSeq checked, target refreshed).
    Request {
        txn: TxnId,
        dialog: Option<DialogKey>,
        msg: Incoming,
    },
    /// A response to a request this side sent. 2xx retransmissions are ACKed again but
    /// not reported.
    Response {
        txn: TxnId,
        dialog: Option<DialogKey>,
        msg: Incoming,
    },
    /// The peer cancelled this INVITE: 200 went to the CANCEL and, when it had no final
    /// response yet, 487 to the INVITE (§9.2).
    Cancelled {
        invite: TxnId,
        msg: Incoming,
    },
    /// The ACK for this side's 2xx (it may carry the SDP answer, §13.2.1).
    Ack {
        dialog: DialogKey,
        msg: Incoming,
    },
    /// The peer ended the dialog with BYE; 200 was sent.
    Bye {
        txn: TxnId,
        dialog: DialogKey,
        msg: Incoming,
    },
    /// Timer B/F: the request got no final response (act as on 408, §8.1.3.1); or Timer H:
    /// no ACK for a non-2xx final.
    Timeout {
        txn: TxnId,
        kind: Kind,
    },
    TransportError {
        txn: TxnId,
    },
    /// No ACK came for this side's 2xx within 64·T1: BYE was sent (§13.3.1.4).
    NoAck {
        dialog: DialogKey,
    },
    /// The re-INVITE `old` got 491 and went again as `txn` after the §14.1 wait.
    GlareRetry {
        dialog: DialogKey,
        old: TxnId,
        txn: TxnId,
    },
    /// The dialog is gone (BYE either way, a failed INVITE, 481/408, a fork ended).
    DialogTerminated {
        dialog: DialogKey,
        id: DialogId,
    },
    /// The transaction left the table.
    TxnTerminated {
        txn: TxnId,
    },
    /// Half the session interval has passed and this side is the refresher (RFC 4028 §10):
    /// send a re-INVITE or UPDATE in the dialog (the endpoint adds Session-Expires).
    SessionRefresh {
        dialog: DialogKey,
    },
    /// No refresh came in time (RFC 4028 §10): BYE was sent and the dialog ended.
    SessionExpired {
        dialog: DialogKey,
    },
    /// A SUBSCRIBE for an accepted event package (RFC 6665 §4.2.1): a new subscription
    /// (`dialog` is `None`, or a dialog it would join) or a refresh. A 2xx from
    /// [`Endpoint::respond`] grants `expires` seconds unless it carries its own Expires;
    /// 0 is an unsubscribe (or a fetch): send the final NOTIFY then.
    Subscribe {
        txn: TxnId,
        dialog: Option<DialogKey>,
        msg: Incoming,
        event: EventKey,
        expires: u32,
    },
    /// A NOTIFY for a subscription of this side (§4.1.3), its state already applied: a
    /// terminated one has ended the subscription (and its dialog, if nothing else used
    /// it). Answer it with [`Endpoint::respond`].
    Notify {
        txn: TxnId,
        dialog: DialogKey,
        msg: Incoming,
        event: EventKey,
        state: NotifyState,
    },
    /// A subscription expired without a refresh; at the notifier the endpoint sent the
    /// NOTIFY with `terminated;reason=timeout` (§4.2.2).
    SubscriptionExpired {
        dialog: DialogKey,
        event: EventKey,
        role: Role,
    },
}

/// Why the endpoint refused a user request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointError {
    Txn(TxnError),
    /// The dialog handle is stale.
    NoSuchDialog,
    /// No destination: the next hop is not an IP address (resolve it, RFC 3263, and pass
    /// the destination).
    NoDestination,
    /// A reliable provisional needs a 101-199 to an INVITE whose sender supports 100rel
    /// (RFC 3262 §3).
    NotReliable,
    /// The previous reliable provisional is not PRACKed yet (one at a time, RFC 3262 §3).
    PrackPending,
    /// [`Endpoint::ack`]: no 2xx of this transaction and dialog waits for an ACK.
    NoAckPending,
    /// The dialog has no subscription of that event with this side as notifier.
    NoSuchSubscription,
    /// An INVITE in a dialog while another INVITE transaction of it is in progress, either
    /// way (RFC 3261 §14.1).
    InviteInProgress,
    /// A body without Content-Type (RFC 3261 §7.4.1) that is not recognisably SDP.
    NoContentType,
}

impl From<TxnError> for EndpointError {
    fn from(e: TxnError) -> Self {
        EndpointError::Txn(e)
    }
}

impl From<Error> for EndpointError {
    fn from(e: Error) -> Self {
        EndpointError::Txn(TxnError::Parse(e))
    }
}

/// What the endpoint counted besides its layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointCounters {
    pub txn: Counters,
    pub dialog: DialogCounters,
    /// Requests answered by the endpoint itself (481, 482, 500, 491).
    pub auto_rejected: u64,
    pub pracks_sent: u64,
    /// Reliable provisionals out of order or repeated (not reported, RFC 3262 §4).
    pub provisionals_dropped: u64,
    pub glare_retries: u64,
    /// Requests answered 422 because their Session-Expires was below Min-SE (RFC 4028 §8).
    pub session_too_small: u64,
    /// Sessions ended with BYE because no refresh came (RFC 4028 §10).
    pub sessions_expired: u64,
    /// PRACKs matching this side's reliable provisionals (answered 200 by the endpoint).
    pub pracks_received: u64,
    /// Reliable provisionals never PRACKed (the INVITE got 500, RFC 3262 §3).
    pub pracks_missing: u64,
    /// Subscriptions that expired without a refresh (RFC 6665 §4.1.2.2, §4.2.2).
    pub subscriptions_expired: u64,
    /// Requests the endpoint answered with 4xx because they were malformed or unusable
    /// (400, 415, 416, 420, 488, 505, 513) before the user saw them.
    pub malformed_rejected: u64,
    /// Malformed requests that could not even be answered (no usable Via): dropped.
    pub malformed_dropped: u64,
    /// 2xx whose Session-Expires was below Min-SE, run at Min-SE instead (RFC 4028 §4).
    pub session_floor_applied: u64,
}

/// How many entries the endpoint's own tables hold ([`Endpoint::sizes`]): each is tied to a
/// live transaction or dialog, so the layers' bounds bound them too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointSizes {
    pub transactions: usize,
    pub dialogs: usize,
    /// Per-transaction context (one per live transaction at most).
    pub contexts: usize,
    /// Per-dialog context (one per live dialog at most).
    pub dialog_contexts: usize,
    /// Reliable provisionals in progress (one per INVITE server transaction at most).
    pub reliable: usize,
    /// Glare retries waiting (one per dialog at most).
    pub retries: usize,
    /// Subscriptions (notifier and subscriber usages).
    pub subscriptions: usize,
}

/// A new out-of-dialog request ([`Endpoint::request`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewRequest<'a> {
    pub method: &'a [u8],
    pub uri: &'a [u8],
    /// To value; default `<uri>`.
    pub to: Option<&'a [u8]>,
    /// From value; default `<sip:user@local>`; a tag is added when it has none.
    pub from: Option<&'a [u8]>,
    /// Call-ID; default a fresh one (a registration keeps its own, §10.2.4).
    pub call_id: Option<&'a [u8]>,
    /// CSeq number; default 1.
    pub cseq: Option<u32>,
    pub headers: &'a [(&'a [u8], &'a [u8])],
    pub body: &'a [u8],
}

/// xorshift64*: enough for tags and branches that must differ, seeded by the driver.
#[derive(Clone, Debug)]
struct Ids(u64);

impl Ids {
    /// The generator for `seed`: mixed through SplitMix64's finaliser so that every seed gives
    /// its own sequence (xorshift needs a state that is not zero; `seed | 1` made seeds 2k and
    /// 2k+1 give the same tags, branches and Call-IDs).
    fn seeded(seed: u64) -> Ids {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Ids(if z == 0 { 1 } else { z })
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn token(&mut self) -> String {
        format!("{:016x}", self.next())
    }
    fn branch(&mut self) -> String {
        // §8.1.1.7: the magic cookie, then something unique.
        format!("z9hG4bK{:016x}", self.next())
    }
}

/// A request the endpoint may send again (re-INVITE after 491).
#[derive(Clone, Debug)]
struct Resend {
    method: Vec<u8>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
}

enum Ctx {
    Client {
        dest: Peer,
        dialog: Option<DialogKey>,
        /// An initial INVITE: its Call-ID and From tag (for the early dialogs it leaves).
        initial_invite: Option<(Vec<u8>, Vec<u8>)>,
        resend: Option<Resend>,
        /// The ACK sent for each To tag's 2xx: a retransmitted 2xx gets it again, even
        /// after the dialog ended (§13.2.2.4).
        acks: Vec<(Vec<u8>, Vec<u8>, Peer)>,
        /// 2xx with an offer to this side's offerless INVITE, waiting for the user's ACK:
        /// (To tag, dialog, CSeq, where the ACK goes).
        deferred: Vec<(Vec<u8>, DialogKey, u32, Peer)>,
        /// The user cancelled this INVITE: a 2xx that crosses the CANCEL gets ACK and BYE.
        cancelled: bool,
    },
    Server {
        msg: Incoming,
        to_tag: Vec<u8>,
        dialog: Option<DialogKey>,
    },
}

struct DialogCtx {
    /// Where the dialog's requests go when its next hop is a name.
    peer: Peer,
    rseq: RseqTracker,
    session: Option<Session>,
}

/// A running session timer (RFC 4028 §10), restarted by every refresh.
#[derive(Clone, Copy, Debug)]
struct Session {
    timer: SessionTimer,
    we_refresh: bool,
    /// When this side must refresh (taken once it fired).
    refresh_at: Option<u64>,
    /// When the session ends unless refreshed: for the refresher the whole interval, for the
    /// other side the interval less min(32 s, a third) (§10).
    expire_at: u64,
    generation: u32,
}

/// See the module docs.
pub struct Endpoint {
    cfg: EndpointConfig,
    layer: TransactionLayer,
    dialogs: Dialogs,
    ctx: HashMap<TxnId, Ctx>,
    dctx: HashMap<DialogKey, DialogCtx>,
    ids: Ids,
    /// Glare retries: (when, dialog, the 491'd transaction, what to send).
    retries: Vec<(u64, DialogKey, TxnId, Resend)>,
    /// This side's reliable provisionals, per INVITE server transaction (RFC 3262 §3).
    reliable: HashMap<TxnId, ReliableProvisionals>,
    /// Session timer deadlines: (when, dialog, generation); stale entries are skipped.
    sessions: BinaryHeap<Reverse<(u64, u64, u32)>>,
    session_generation: u32,
    events: VecDeque<EndpointEvent>,
    counters: EndpointCounters,
    subs: Subscriptions,
    sent_by: Vec<u8>,
    contact: Vec<u8>,
}

/// §4.1.3: a NOTIFY that matches no subscription.
const NO_SUBSCRIPTION: Refusal = Refusal {
    status: 481,
    reason: "Subscription Does Not Exist",
    header: None,
};

const CONTACT_METHODS: [&[u8]; 6] = [
    b"INVITE",
    b"UPDATE",
    b"SUBSCRIBE",
    b"NOTIFY",
    b"REFER",
    b"REGISTER",
];

fn host_port(a: SocketAddr) -> Vec<u8> {
    match a.ip() {
        IpAddr::V4(ip) => format!("{ip}:{}", a.port()),
        IpAddr::V6(ip) => format!("[{ip}]:{}", a.port()),
    }
    .into_bytes()
}

/// The top Via of a response to a request whose Via asked for `rport` (RFC 3581 §4): the
/// source port in `rport`, the source address in `received`.
struct ViaRewrite {
    old: Vec<u8>,
    new: Vec<u8>,
}

impl ViaRewrite {
    /// Replaces the first copy of the request's top Via in the response (response_to copies
    /// the Via lines verbatim, and the status line cannot hold it).
    fn apply(&self, bytes: Vec<u8>) -> Vec<u8> {
        let Some(at) = memchr::memmem::find(&bytes, &self.old) else {
            return bytes;
        };
        let mut out = Vec::with_capacity(bytes.len() + self.new.len());
        out.extend_from_slice(bytes.get(..at).unwrap_or_default());
        out.extend_from_slice(&self.new);
        out.extend_from_slice(bytes.get(at + self.old.len()..).unwrap_or_default());
        out
    }
}

fn symmetric_via<I: AsRef<MessageIndex>>(
    m: &Message<'_, I>,
    source: SocketAddr,
) -> Option<ViaRewrite> {
    let via = m.index().fields().top_via?;
    let old = m.bytes_of(via.text);
    let mut new = old.to_vec();
    let bare_rport = via.rport == Some(None);
    if bare_rport {
        // The bare `rport` parameter: `;rport` followed by `;`, `,`, white space or the end.
        let lower = old.to_ascii_lowercase();
        let mut pos = None;
        let mut from = 0;
        while let Some(i) = memchr::memmem::find(lower.get(from..)?, b";rport") {
            let at = from + i;
            let next = lower.get(at + 6).copied();
            if matches!(next, None | Some(b';' | b',' | b' ' | b'\t')) {
                pos = Some(at);
                break;
            }
            from = at + 6;
        }
        let at = pos?;
        new = old.get(..at + 6)?.to_vec();
        new.extend_from_slice(format!("={}", source.port()).as_bytes());
        new.extend_from_slice(old.get(at + 6..)?);
    }
    // §18.2.1: `received` when sent-by is a name or another address than the source
    // (RFC 3581 §4: always with rport).
    let host = m.bytes_of(via.host);
    let sent_by_ip = std::str::from_utf8(host)
        .ok()
        .and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok());
    let differs = sent_by_ip != Some(source.ip());
    if via.received.is_none() && (bare_rport || differs) {
        new.extend_from_slice(format!(";received={}", source.ip()).as_bytes());
    }
    (new != old).then(|| ViaRewrite {
        old: old.to_vec(),
        new,
    })
}

/// A Warning value (RFC 3261 §20.43): code 399, this agent, the text quoted.
fn warning(agent: &[u8], text: &str) -> Vec<u8> {
    let mut w = b"399 ".to_vec();
    w.extend_from_slice(agent);
    w.extend_from_slice(b" \"");
    w.extend(text.bytes().take(200).map(|b| {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            b'\''
        } else {
            b
        }
    }));
    w.push(b'"');
    w
}

/// What an error says, with the header it concerns when known.
fn explain(err: &Error, bytes: &[u8]) -> String {
    let header = err
        .header
        .map(|h| h.canonical().as_bytes().to_vec())
        .or_else(|| {
            crate::Location::find(bytes, err.offset)
                .header
                .map(<[u8]>::to_vec)
        });
    match header {
        Some(h) => {
            let h: String = h
                .iter()
                .take(64)
                .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
                .collect();
            format!("{}: {}", h, err.kind.describe())
        }
        None => err.kind.describe().to_string(),
    }
}

/// Why the endpoint answers a request itself instead of reporting it (RFC 3261 §8.2).
struct Screened {
    status: u16,
    reason: &'static str,
    warning: Option<String>,
    header: Option<Header>,
}

/// Option tags this endpoint implements (for Require, RFC 3261 §8.2.2.3).
const SUPPORTED: [&[u8]; 4] = [b"100rel", b"timer", b"replaces", b"norefersub"];

/// Methods whose body is a session description (RFC 3264, RFC 3262, RFC 3311).
fn carries_offer(method: &[u8]) -> bool {
    matches!(method, b"INVITE" | b"UPDATE" | b"PRACK")
}

/// Whether a comma-separated token list holds `token` (any case).
fn has_token(v: &[u8], token: &[u8]) -> bool {
    v.split(|&c| c == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// A header the endpoint adds: name and value.
type Header = (&'static [u8], Vec<u8>);

/// §7.4.1: a body needs a Content-Type. Derived for a session description (`v=0` first);
/// any other body without one is the caller's mistake.
fn content_type_for(
    headers: &[(&[u8], &[u8])],
    body: &[u8],
) -> Result<Option<Header>, EndpointError> {
    if body.is_empty() || has_header(headers, HeaderName::ContentType) {
        return Ok(None);
    }
    if body.starts_with(b"v=0\r\n") || body.starts_with(b"v=0\n") {
        return Ok(Some((b"Content-Type", b"application/sdp".to_vec())));
    }
    Err(EndpointError::NoContentType)
}

fn has_header(headers: &[(&[u8], &[u8])], kind: HeaderName) -> bool {
    headers
        .iter()
        .any(|(n, _)| HeaderName::from_bytes(n) == kind)
}

fn tag_in(value: &[u8], opts: &crate::ParseOptions) -> Option<Vec<u8>> {
    parse_name_addr(value, opts, &mut Vec::new())
        .ok()
        .and_then(|n| n.tag().map(<[u8]>::to_vec))
}

impl Endpoint {
    pub fn new(cfg: EndpointConfig) -> Endpoint {
        let mut dcfg = cfg.dialog;
        dcfg.timers = cfg.txn.timers;
        dcfg.report_removals = true;
        let sent_by = host_port(cfg.local.addr);
        let mut contact = b"<sip:".to_vec();
        if !cfg.user.is_empty() {
            contact.extend_from_slice(&cfg.user);
            contact.push(b'@');
        }
        contact.extend_from_slice(&sent_by);
        if cfg.local.transport != Transport::Udp {
            contact.extend_from_slice(b";transport=");
            contact.extend_from_slice(cfg.local.transport.as_str().to_ascii_lowercase().as_bytes());
        }
        contact.push(b'>');
        // The endpoint sends 100 Trying itself, so that it gets the RFC 3581 Via too.
        let mut tcfg = cfg.txn;
        tcfg.auto_trying = false;
        Endpoint {
            layer: TransactionLayer::new(tcfg),
            dialogs: Dialogs::new(dcfg),
            ctx: HashMap::new(),
            dctx: HashMap::new(),
            // xorshift must not start at zero.
            ids: Ids::seeded(cfg.seed),
            retries: Vec::new(),
            reliable: HashMap::new(),
            sessions: BinaryHeap::new(),
            session_generation: 0,
            events: VecDeque::new(),
            counters: EndpointCounters::default(),
            subs: Subscriptions::new(),
            sent_by,
            contact,
            cfg,
        }
    }

    pub fn config(&self) -> &EndpointConfig {
        &self.cfg
    }
    /// This endpoint's Contact value.
    pub fn contact(&self) -> &[u8] {
        &self.contact
    }
    pub fn counters(&self) -> EndpointCounters {
        EndpointCounters {
            txn: self.layer.counters(),
            dialog: self.dialogs.counters(),
            ..self.counters
        }
    }
    /// Live transactions.
    pub fn transactions(&self) -> usize {
        self.layer.len()
    }
    /// What each table holds now (the fuzz targets check the bounds with it).
    pub fn sizes(&self) -> EndpointSizes {
        EndpointSizes {
            transactions: self.layer.len(),
            dialogs: self.dialogs.len(),
            contexts: self.ctx.len(),
            dialog_contexts: self.dctx.len(),
            reliable: self.reliable.len(),
            retries: self.retries.len(),
            subscriptions: self.subs.len(),
        }
    }
    pub fn transaction_state(&self, id: TxnId) -> Option<State> {
        self.layer.state(id)
    }
    pub fn transaction_kind(&self, id: TxnId) -> Option<Kind> {
        self.layer.kind(id)
    }
    pub fn dialog(&self, k: DialogKey) -> Option<&Dialog> {
        self.dialogs.get(k)
    }
    /// Every live dialog.
    pub fn dialog_keys(&self) -> Vec<DialogKey> {
        self.dialogs.keys()
    }
    /// Live dialogs.
    pub fn dialog_count(&self) -> usize {
        self.dialogs.len()
    }
    /// A fresh tag or Call-ID (hex, 64 bits from the seeded generator).
    pub fn token(&mut self) -> String {
        self.ids.token()
    }
    /// A top Via value with a fresh branch.
    pub fn via(&mut self) -> Vec<u8> {
        let mut v = b"SIP/2.0/".to_vec();
        v.extend_from_slice(self.cfg.local.transport.as_str().as_bytes());
        v.push(b' ');
        v.extend_from_slice(&self.sent_by);
        v.extend_from_slice(b";branch=");
        v.extend_from_slice(self.ids.branch().as_bytes());
        if self.cfg.local.transport == Transport::Udp {
            // RFC 3581: ask for the response at the source port.
            v.extend_from_slice(b";rport");
        }
        v
    }

    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        self.layer.poll_transmit()
    }
    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }

    /// When to call [`Endpoint::tick`] next.
    pub fn next_deadline(&mut self) -> Option<u64> {
        let r = self.retries.iter().map(|r| r.0).min();
        let p = self
            .reliable
            .values()
            .filter_map(|p| p.next_deadline())
            .min();
        while let Some(&Reverse((_, k, g))) = self.sessions.peek() {
            if self.session_live(DialogKey::from_u64(k), g) {
                break;
            }
            self.sessions.pop();
        }
        let s = self.sessions.peek().map(|r| r.0 .0);
        [
            self.layer.next_deadline(),
            self.dialogs.next_deadline(),
            self.subs.next_deadline(),
            r,
            p,
            s,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs every timer due at `now`.
    pub fn tick(&mut self, now: u64) {
        self.layer.tick(now);
        self.dialogs.tick(now);
        let mut due = Vec::new();
        self.retries.retain(|r| {
            if r.0 <= now {
                due.push(r.clone());
                false
            } else {
                true
            }
        });
        let mut actions = Vec::new();
        for (&txn, p) in self.reliable.iter_mut() {
            if let Some(a) = p.tick(now) {
                actions.push((txn, a));
            }
        }
        for (txn, a) in actions {
            match a {
                PrackAction::Retransmit(bytes) => {
                    let _ = self.layer.respond(txn, bytes, now);
                }
                PrackAction::GiveUp => {
                    // §3: no PRACK within 64·T1; the INVITE is rejected.
                    self.counters.pracks_missing += 1;
                    let _ = self.respond(
                        txn,
                        500,
                        Some(b"Reliable Provisional Not Acknowledged"),
                        &[],
                        b"",
                        now,
                    );
                }
            }
        }
        for (k, u, last) in self.subs.expire(now) {
            self.counters.subscriptions_expired += 1;
            if u.role == Role::Notifier {
                // §4.2.2: the notifier ends an expired subscription with a NOTIFY.
                let ev = u.event.header_value();
                let hs: [(&[u8], &[u8]); 2] = [
                    (b"Event", &ev),
                    (b"Subscription-State", b"terminated;reason=timeout"),
                ];
                let _ = self.request_in_dialog(k, b"NOTIFY", &hs, b"", None, now);
            }
            if last {
                self.dialogs.remove(k);
            }
            self.events.push_back(EndpointEvent::SubscriptionExpired {
                dialog: k,
                event: u.event,
                role: u.role,
            });
        }
        self.pump(now);
        self.tick_sessions(now);
        for (_, dialog, old, resend) in due {
            let hs: Vec<(&[u8], &[u8])> = resend
                .headers
                .iter()
                .map(|(n, v)| (&n[..], &v[..]))
                .collect();
            if let Ok(txn) =
                self.request_in_dialog(dialog, &resend.method, &hs, &resend.body, None, now)
            {
                self.counters.glare_retries += 1;
                self.events
                    .push_back(EndpointEvent::GlareRetry { dialog, old, txn });
            }
        }
    }

    /// One message received from `source` (a datagram, or a message a stream framer cut).
    /// Bytes that do not parse are counted and their error returned; the endpoint stays as
    /// it was.
    pub fn receive(&mut self, bytes: Vec<u8>, source: Peer, now: u64) -> Result<(), TxnError> {
        // A request that does not parse still gets its 400 when it can be answered (§8.2):
        // keep a copy of requests for that.
        let start = bytes
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(0);
        let keep = !bytes.get(start..).unwrap_or_default().starts_with(b"SIP/");
        let copy = keep.then(|| bytes.clone());
        let r = self.layer.receive(bytes, source, now);
        if let (Err(TxnError::Parse(e)), Some(b)) = (&r, copy) {
            self.answer_malformed(&b, *e, source);
        }
        self.pump(now);
        r
    }

    /// Answers statelessly a request the transaction layer refused (RFC 3261 §8.2, §21.4.1):
    /// 400 with a Warning naming what is wrong (505 for another SIP version, 513 too
    /// large), when a liberal parse finds the headers a response copies. Never an ACK.
    fn answer_malformed(&mut self, bytes: &[u8], err: Error, source: Peer) {
        let opts = crate::ParseOptions {
            limits: self.cfg.txn.parse.limits,
            ..crate::ParseOptions::LIBERAL
        };
        let Ok(mut idx) = MessageIndex::parse_datagram(bytes, &opts) else {
            self.counters.malformed_dropped += 1;
            return;
        };
        let _ = idx.validate(bytes, &opts);
        let m = Message::new(bytes, &idx);
        if !m.is_request() || m.method() == Some(b"ACK") || m.index().fields().top_via.is_none() {
            self.counters.malformed_dropped += 1;
            return;
        }
        let (status, reason) = match err.kind {
            crate::ErrorKind::UnsupportedVersion => (505, "Version Not Supported"),
            crate::ErrorKind::MessageTooLarge | crate::ErrorKind::BodyTooLarge => {
                (513, "Message Too Large")
            }
            _ => (400, "Bad Request"),
        };
        let w = warning(&self.sent_by, &explain(&err, bytes));
        let tag = self.ids.token();
        let extra: [(&[u8], &[u8]); 1] = [(b"Warning", &w)];
        let Ok(mut out) = response_to(
            &m,
            status,
            reason.as_bytes(),
            Some(tag.as_bytes()),
            &extra,
            b"",
        ) else {
            self.counters.malformed_dropped += 1;
            return;
        };
        if let Some(v) = symmetric_via(&m, source.addr) {
            out = v.apply(out);
        }
        self.counters.malformed_rejected += 1;
        self.layer
            .send_stateless(out, txn::response_peer(&m, source));
    }

    /// The ICMP error or refused connection of a destination (§18.4, RFC 1122 §4.1.3.3):
    /// every client transaction sending to `dest` fails at once with a transport error.
    pub fn unreachable(&mut self, dest: Peer, now: u64) -> usize {
        let hit: Vec<TxnId> = self
            .ctx
            .iter()
            .filter_map(|(t, c)| match c {
                Ctx::Client { dest: d, .. } if d.addr == dest.addr => Some(*t),
                _ => None,
            })
            .collect();
        for &t in &hit {
            self.layer.transport_error(t, now);
        }
        self.pump(now);
        hit.len()
    }

    /// Checks a request before anyone sees it (RFC 3261 §8.2.1-§8.2.3, §7.4.1, RFC 3264):
    /// what the endpoint answers instead, or None when the request is fit for the user.
    fn screen<I: AsRef<MessageIndex>>(&self, m: &Message<'_, I>) -> Option<Screened> {
        let method = m.method().unwrap_or_default();
        let bad = |text: String| Screened {
            status: 400,
            reason: "Bad Request",
            warning: Some(text),
            header: None,
        };
        // §8.2.2.2 et seq.: duplicated single headers and a CSeq of another method.
        for d in &m.index().diagnostics {
            use crate::ErrorKind as K;
            if matches!(
                d.kind,
                K::MissingHeader | K::DuplicateHeader | K::CSeqMethodMismatch
            ) {
                return Some(bad(explain(d, m.as_bytes())));
            }
        }
        // §8.2.1: a scheme this side does not understand.
        let ruri = m.request_uri().unwrap_or_default();
        let scheme = ruri.split(|&b| b == b':').next().unwrap_or_default();
        if !(scheme.eq_ignore_ascii_case(b"sip")
            || scheme.eq_ignore_ascii_case(b"sips")
            || scheme.eq_ignore_ascii_case(b"tel"))
        {
            return Some(Screened {
                status: 416,
                reason: "Unsupported URI Scheme",
                warning: None,
                header: None,
            });
        }
        if method == b"CANCEL" {
            return None;
        }
        // §8.2.2.3: an extension this side does not implement.
        let unknown: Vec<&[u8]> = m
            .values_of(HeaderName::Require)
            .flat_map(|v| v.split(|&c| c == b','))
            .map(<[u8]>::trim_ascii)
            .filter(|t| !t.is_empty() && !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if !unknown.is_empty() {
            let list = unknown.join(&b", "[..]);
            if check_value(&list).is_ok() {
                return Some(Screened {
                    status: 420,
                    reason: "Bad Extension",
                    warning: None,
                    header: Some((b"Unsupported", list)),
                });
            }
            return Some(bad("Require: not a list of option tags".into()));
        }
        // §8.2.3: only identity encodings.
        let encoded = m
            .values_of(HeaderName::ContentEncoding)
            .flat_map(|v| v.split(|&c| c == b','))
            .any(|t| !t.trim_ascii().eq_ignore_ascii_case(b"identity"));
        if encoded {
            return Some(Screened {
                status: 415,
                reason: "Unsupported Media Type",
                warning: None,
                header: Some((b"Accept-Encoding", b"identity".to_vec())),
            });
        }
        if m.body().is_empty() || !carries_offer(method) {
            return None;
        }
        // §7.4.1: a body says what it is; an offer must be SDP (RFC 3264) to be used.
        let Some(ct) = m.first_value(HeaderName::ContentType) else {
            return Some(bad(
                "Content-Type: missing for a body (RFC 3261 §7.4.1)".into()
            ));
        };
        let ct = crate::message::unfold(ct);
        let mt = ct
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        let sdp = mt.eq_ignore_ascii_case(b"application/sdp");
        let multipart = mt.len() > 10
            && mt
                .get(..10)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"multipart/"));
        if !sdp && !multipart {
            return Some(Screened {
                status: 415,
                reason: "Unsupported Media Type",
                warning: None,
                header: Some((b"Accept", b"application/sdp".to_vec())),
            });
        }
        if sdp {
            let body = m.body();
            let opts = self.cfg.txn.parse;
            if let Err(e) = crate::sdp::SessionDescription::parse(body, &opts, &mut Vec::new()) {
                // RFC 3261 §21.4.26: the session description cannot be used.
                return Some(Screened {
                    status: 488,
                    reason: "Not Acceptable Here",
                    warning: Some(format!(
                        "SDP: {} (body byte {})",
                        e.kind.describe(),
                        e.offset
                    )),
                    header: None,
                });
            }
        }
        None
    }

    /// The driver could not send for `txn` (ICMP error, connection reset, §18.4).
    pub fn transport_error(&mut self, txn: TxnId, now: u64) {
        self.layer.transport_error(txn, now);
        self.pump(now);
    }

    /// Sends a new request outside any dialog to `dest`, with a fresh branch, From tag and
    /// (unless given) Call-ID. An INVITE makes the dialog(s) its responses create.
    pub fn request(
        &mut self,
        r: &NewRequest<'_>,
        dest: Peer,
        now: u64,
    ) -> Result<TxnId, EndpointError> {
        let via = self.via();
        let mut b = RequestBuilder::new(r.method, r.uri)?;
        b.header(b"Via", &via)?;
        b.header(b"Max-Forwards", b"70")?;
        let mut from = match r.from {
            Some(f) => f.to_vec(),
            None => {
                let mut f = b"<sip:".to_vec();
                f.extend_from_slice(&self.cfg.user);
                f.push(b'@');
                f.extend_from_slice(&self.sent_by);
                f.push(b'>');
                f
            }
        };
        check_value(&from)?;
        let opts = self.cfg.txn.parse;
        if tag_in(&from, &opts).is_none() {
            from.extend_from_slice(b";tag=");
            from.extend_from_slice(self.ids.token().as_bytes());
        }
        b.header(b"From", &from)?;
        match r.to {
            Some(t) => b.header(b"To", t)?,
            None => {
                let mut t = b"<".to_vec();
                t.extend_from_slice(r.uri);
                t.push(b'>');
                b.header(b"To", &t)?
            }
        };
        let call_id = match r.call_id {
            Some(c) => c.to_vec(),
            None => self.ids.token().into_bytes(),
        };
        b.header(b"Call-ID", &call_id)?;
        let mut cseq = r.cseq.unwrap_or(1).to_string().into_bytes();
        cseq.push(b' ');
        cseq.extend_from_slice(r.method);
        b.header(b"CSeq", &cseq)?;
        if CONTACT_METHODS.contains(&r.method) && !has_header(r.headers, HeaderName::Contact) {
            b.header(b"Contact", &self.contact.clone())?;
        }
        for (n, v) in r.headers {
            b.header(n, v)?;
        }
        if let Some((n, v)) = content_type_for(r.headers, r.body)? {
            b.header(n, &v)?;
        }
        for (n, v) in self.session_headers(r.method, None, r.headers) {
            b.header(&n, &v)?;
        }
        b.body(r.body);
        let bytes = b.build()?;
        let initial_invite = (r.method == b"INVITE").then(|| {
            let tag = tag_in(&from, &opts).unwrap_or_default();
            (call_id.clone(), tag)
        });
        // RFC 6665 §4.1.2.4: a NOTIFY may overtake the 2xx; keep what it needs to make
        // the dialog.
        let pending = (r.method == b"SUBSCRIBE" && r.to.and_then(|t| tag_in(t, &opts)).is_none())
            .then(|| {
                r.headers
                    .iter()
                    .find(|(n, _)| HeaderName::from_bytes(n) == HeaderName::Event)
                    .and_then(|(_, v)| EventKey::parse(v, &opts))
            })
            .flatten()
            .map(|ev| (ev, tag_in(&from, &opts).unwrap_or_default(), bytes.clone()));
        let txn = self.send_built(bytes, dest, None, initial_invite, None, now)?;
        if let Some((ev, tag, bytes)) = pending {
            self.subs.add_pending(&call_id, &tag, ev, txn, bytes);
        }
        Ok(txn)
    }

    /// Sends a request the user built (a top Via with a fresh RFC 3261 branch, not ACK) in a
    /// new client transaction. An INVITE without To tag makes dialogs like
    /// [`Endpoint::request`]'s.
    pub fn send(&mut self, bytes: Vec<u8>, dest: Peer, now: u64) -> Result<TxnId, EndpointError> {
        let idx = MessageIndex::parse(&bytes, &self.cfg.txn.parse)?;
        let m = Message::new(&bytes, &idx);
        let opts = self.cfg.txn.parse;
        let to_tag = m.first_value(HeaderName::To).and_then(|v| tag_in(v, &opts));
        let initial_invite = (m.method() == Some(b"INVITE") && to_tag.is_none()).then(|| {
            let tag = m
                .first_value(HeaderName::From)
                .and_then(|v| tag_in(v, &opts))
                .unwrap_or_default();
            (m.call_id().unwrap_or_default().to_vec(), tag)
        });
        self.send_built(bytes, dest, None, initial_invite, None, now)
    }

    fn send_built(
        &mut self,
        bytes: Vec<u8>,
        dest: Peer,
        dialog: Option<DialogKey>,
        initial_invite: Option<(Vec<u8>, Vec<u8>)>,
        resend: Option<Resend>,
        now: u64,
    ) -> Result<TxnId, EndpointError> {
        let txn = match self.layer.send_request(bytes, dest, now) {
            Ok(t) => t,
            Err(e) => {
                // What the caller already did (a BYE removes its dialog first) is reported
                // now, not at the next call: the dialog's context goes with it.
                self.pump(now);
                return Err(e.into());
            }
        };
        self.ctx.insert(
            txn,
            Ctx::Client {
                dest,
                dialog,
                initial_invite,
                resend,
                acks: Vec::new(),
                deferred: Vec::new(),
                cancelled: false,
            },
        );
        self.pump(now);
        Ok(txn)
    }

    /// A request inside a dialog (§12.2.1.1): next CSeq, route set, remote target, Contact
    /// on target refreshes. `dest` overrides the next hop (needed when it is a name). A BYE
    /// ends the dialog at once (§15.1.1).
    pub fn request_in_dialog(
        &mut self,
        dialog: DialogKey,
        method: &[u8],
        headers: &[(&[u8], &[u8])],
        body: &[u8],
        dest: Option<Peer>,
        now: u64,
    ) -> Result<TxnId, EndpointError> {
        let Some(d) = self.dialogs.get(dialog) else {
            return Err(EndpointError::NoSuchDialog);
        };
        // §14.1: no INVITE while another INVITE transaction of the dialog is in progress.
        if method == b"INVITE" && (d.local_invite_pending || d.remote_invite_pending) {
            return Err(EndpointError::InviteInProgress);
        }
        let typed = content_type_for(headers, body)?;
        let via = self.via();
        let timer = self.session_headers(method, Some(dialog), headers);
        let mut all: Vec<(&[u8], &[u8])> = headers.to_vec();
        all.extend(typed.iter().map(|(n, v)| (*n, &v[..])));
        all.extend(timer.iter().map(|(n, v)| (&n[..], &v[..])));
        let d = self
            .dialogs
            .get_mut(dialog)
            .ok_or(EndpointError::NoSuchDialog)?;
        let out = d.request(method, &via, &all, body)?;
        let dest = match dest {
            Some(p) => p,
            None => self.resolve(&out.next_hop, dialog)?,
        };
        let resend = (method == b"INVITE").then(|| Resend {
            method: method.to_vec(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect(),
            body: body.to_vec(),
        });
        if method == b"BYE" {
            self.dialogs.remove(dialog);
        }
        self.send_built(out.bytes, dest, Some(dialog), None, resend, now)
    }

    /// A NOTIFY for a subscription this side accepted (RFC 6665 §4.2.2): Event and
    /// Subscription-State written by the endpoint (the seconds left for `active` and
    /// `pending`, `reason` for `terminated`). A terminated NOTIFY ends the subscription,
    /// and its dialog when nothing else uses it (§4.5.2).
    #[allow(clippy::too_many_arguments)]
    pub fn notify(
        &mut self,
        dialog: DialogKey,
        event: &EventKey,
        state: SubState,
        reason: Option<&[u8]>,
        headers: &[(&[u8], &[u8])],
        body: &[u8],
        now: u64,
    ) -> Result<TxnId, EndpointError> {
        let u = self
            .subs
            .get(dialog, Role::Notifier, event)
            .ok_or(EndpointError::NoSuchSubscription)?;
        let ev = event.header_value();
        let st = state_value(state, u.expires_at, now, reason);
        let mut hs: Vec<(&[u8], &[u8])> = vec![(b"Event", &ev), (b"Subscription-State", &st)];
        hs.extend_from_slice(headers);
        let txn = self.request_in_dialog(dialog, b"NOTIFY", &hs, body, None, now)?;
        if state == SubState::Terminated {
            if self.subs.end(dialog, Role::Notifier, event) {
                self.dialogs.remove(dialog);
                self.pump(now);
            }
        } else {
            self.subs.set_state(dialog, Role::Notifier, event, state);
        }
        Ok(txn)
    }

    /// The state of a subscription of `dialog` and its deadline (ms).
    pub fn subscription(
        &self,
        dialog: DialogKey,
        role: Role,
        event: &EventKey,
    ) -> Option<(SubState, u64)> {
        self.subs
            .get(dialog, role, event)
            .map(|u| (u.state, u.expires_at))
    }

    /// Where a URI points: its host when that is an IP address (port from the URI, 5060 or
    /// 5061 for sips; transport from `;transport=`), else the dialog's peer.
    fn resolve(&self, uri: &[u8], dialog: DialogKey) -> Result<Peer, EndpointError> {
        let fallback = self.dctx.get(&dialog).map(|c| c.peer);
        self.peer_of_uri(uri, fallback.map(|p| p.transport))
            .or(fallback)
            .ok_or(EndpointError::NoDestination)
    }

    /// Answers the request of server transaction `txn`: To tag added (the same for every
    /// response of the transaction), Contact added to 101–299 responses of dialog-making and
    /// target-refresh methods, `reason` defaulting to the RFC's phrase. Returns the dialog a
    /// 101–299 to an INVITE made or belongs to.
    pub fn respond(
        &mut self,
        txn: TxnId,
        status: u16,
        reason: Option<&[u8]>,
        headers: &[(&[u8], &[u8])],
        body: &[u8],
        now: u64,
    ) -> Result<Option<DialogKey>, EndpointError> {
        self.respond_inner(txn, status, reason, headers, body, now)
            .map(|(d, _)| d)
    }

    /// A reliable provisional (RFC 3262 §3): `Require: 100rel` and the next RSeq added, sent
    /// again at T1, 2·T1, ... until the PRACK (answered 200 by the endpoint) or 64·T1 (the
    /// INVITE then gets 500). Only to an INVITE whose sender supports 100rel, one at a time.
    pub fn respond_reliably(
        &mut self,
        txn: TxnId,
        status: u16,
        reason: Option<&[u8]>,
        headers: &[(&[u8], &[u8])],
        body: &[u8],
        now: u64,
    ) -> Result<Option<DialogKey>, EndpointError> {
        let Some(Ctx::Server { msg, .. }) = self.ctx.get(&txn) else {
            return Err(TxnError::NoSuchTransaction.into());
        };
        let m = msg.message();
        let supports = m
            .values_of(HeaderName::Supported)
            .chain(m.values_of(HeaderName::Require))
            .any(|v| has_token(v, b"100rel"));
        if !(101..200).contains(&status) || m.method() != Some(b"INVITE") || !supports {
            return Err(EndpointError::NotReliable);
        }
        let opts = self.cfg.txn.parse;
        let cseq = m
            .first_value(HeaderName::CSeq)
            .and_then(|v| parse_cseq(v, &opts, &mut Vec::new()).ok())
            .map_or(0, |c| c.seq);
        let first = (self.ids.next() % 1_000_000) as u32 + 1;
        let t1 = self.cfg.txn.timers.t1;
        let rseq = self
            .reliable
            .entry(txn)
            .or_insert_with(|| ReliableProvisionals::new(first, cseq, t1))
            .next_rseq()
            .ok_or(EndpointError::PrackPending)?;
        let rseq_text = rseq.to_string();
        let mut hs: Vec<(&[u8], &[u8])> = headers.to_vec();
        hs.push((b"Require", b"100rel"));
        hs.push((b"RSeq", rseq_text.as_bytes()));
        let (d, bytes) = self.respond_inner(txn, status, reason, &hs, body, now)?;
        if let Some(p) = self.reliable.get_mut(&txn) {
            p.sent(bytes, now);
        }
        Ok(d)
    }

    fn respond_inner(
        &mut self,
        txn: TxnId,
        status: u16,
        reason: Option<&[u8]>,
        headers: &[(&[u8], &[u8])],
        body: &[u8],
        now: u64,
    ) -> Result<(Option<DialogKey>, Vec<u8>), EndpointError> {
        let Some(Ctx::Server { msg, to_tag, .. }) = self.ctx.get(&txn) else {
            return Err(TxnError::NoSuchTransaction.into());
        };
        let (msg, to_tag) = (msg.clone(), to_tag.clone());
        let m = msg.message();
        let method = m.method().unwrap_or_default();
        let typed = content_type_for(headers, body)?;
        let mut hs: Vec<(&[u8], &[u8])> = headers.to_vec();
        hs.extend(typed.iter().map(|(n, v)| (*n, &v[..])));
        let contact = self.contact.clone();
        if CONTACT_METHODS.contains(&method)
            && method != b"REGISTER"
            && (101..300).contains(&status)
            && !has_header(headers, HeaderName::Contact)
        {
            hs.push((b"Contact", &contact));
        }
        let refresh = (200..300).contains(&status) && (method == b"INVITE" || method == b"UPDATE");
        let timer = if refresh {
            self.session_answer(&m, headers)
        } else {
            Vec::new()
        };
        hs.extend(timer.iter().map(|(n, v)| (&n[..], &v[..])));
        // RFC 6665 §4.2.1.1: a 2xx to SUBSCRIBE says how long the subscription lasts.
        let opts = self.cfg.txn.parse;
        let subscribe = (method == b"SUBSCRIBE" && (200..300).contains(&status))
            .then(|| {
                let ev = EventKey::parse(m.first_value(HeaderName::Event)?, &opts)?;
                let own = headers
                    .iter()
                    .find(|(n, _)| HeaderName::from_bytes(n) == HeaderName::Expires)
                    .map(|(_, v)| parse_expires(v, &opts, &mut Vec::new()).ok());
                let asked = m
                    .first_value(HeaderName::Expires)
                    .and_then(|v| parse_expires(v, &opts, &mut Vec::new()).ok());
                let granted = match own {
                    Some(g) => g?,
                    None => grant(asked, &self.cfg.subscription),
                };
                Some((ev, granted, own.is_none()))
            })
            .flatten();
        let granted_text = subscribe.as_ref().filter(|s| s.2).map(|s| s.1.to_string());
        if let Some(g) = &granted_text {
            hs.push((b"Expires", g.as_bytes()));
        }
        let reason = reason.unwrap_or(reason_phrase(status).as_bytes());
        let tag = (!to_tag.is_empty()).then_some(&to_tag[..]);
        let mut bytes = response_to(&m, status, reason, tag, &hs, body)?;
        if let Some(v) = symmetric_via(&m, msg.source.addr) {
            bytes = v.apply(bytes);
        }
        let idx = MessageIndex::parse(&bytes, &self.cfg.txn.parse)?;
        self.layer.respond(txn, bytes.clone(), now)?;
        if status >= 200 {
            // A final response ends the reliable provisionals' retransmissions (§3).
            self.reliable.remove(&txn);
        }
        let d = self.dialogs.on_response_sent(
            &m,
            &Message::new(&bytes, &idx),
            Some(txn),
            msg.source,
            now,
        )?;
        if let Some(k) = d {
            self.remember_dialog(k, msg.source);
            if let Some(Ctx::Server { dialog, .. }) = self.ctx.get_mut(&txn) {
                *dialog = Some(k);
            }
            if let Some((ev, granted, _)) = subscribe {
                if tag_in(m.first_value(HeaderName::To).unwrap_or_default(), &opts).is_none() {
                    self.subs.mark_made(k);
                }
                let new = self.subs.get(k, Role::Notifier, &ev).is_none();
                let at = self.deadline(granted, now);
                self.subs
                    .set(k, Role::Notifier, &ev, new.then_some(SubState::Pending), at);
            }
        }
        let in_dialog = match self.ctx.get(&txn) {
            Some(Ctx::Server { dialog, .. }) => *dialog,
            _ => None,
        };
        if let (true, Some(k)) = (refresh, d.or(in_dialog)) {
            // RFC 4028 §9: the 2xx this side sent sets (or restarts) the timer.
            let opts = self.cfg.txn.parse;
            let sent = Message::new(&bytes, &idx);
            let timer = session_expires_of(&sent, &opts).map(|(interval, r)| SessionTimer {
                interval,
                refresher: r.unwrap_or(Refresher::Uas),
            });
            self.set_session(k, timer, false, now);
        }
        self.pump(now);
        Ok((d, bytes))
    }

    /// Cancels an INVITE this side sent (§9.1): now if a provisional came, else when one
    /// comes.
    pub fn cancel(&mut self, invite: TxnId, now: u64) -> Result<Option<TxnId>, EndpointError> {
        let r = self.layer.cancel(invite, now)?;
        if let Some(Ctx::Client { cancelled, .. }) = self.ctx.get_mut(&invite) {
            *cancelled = true;
        }
        self.pump(now);
        Ok(match r {
            CancelOutcome::Sent(t) => Some(t),
            CancelOutcome::Deferred => None,
        })
    }

    /// When a subscription granted `secs` ends. 0 (unsubscribe, fetch) leaves 64·T1 for
    /// the final NOTIFY (§4.1.2.3, §4.2.1.4).
    fn deadline(&self, secs: u32, now: u64) -> u64 {
        let span = match secs {
            0 => self.cfg.txn.timers.t1.saturating_mul(64),
            s => u64::from(s).saturating_mul(1000),
        };
        now.saturating_add(span)
    }

    /// A subscriber's deadline: the notifier's plus 64·T1, the time its terminating NOTIFY
    /// may take to arrive (Timer F), so that it finds the subscription.
    fn subscriber_deadline(&self, secs: u32, now: u64) -> u64 {
        let grace = self.cfg.txn.timers.t1.saturating_mul(64);
        match secs {
            0 => now.saturating_add(grace),
            s => self.deadline(s, now).saturating_add(grace),
        }
    }

    /// Answers a request the endpoint refuses itself.
    fn refuse(&mut self, txn: TxnId, f: &Refusal, now: u64) {
        self.counters.auto_rejected += 1;
        let extra: Vec<(&[u8], &[u8])> = f
            .header
            .as_ref()
            .map(|(n, v)| (n.as_bytes(), v.as_slice()))
            .into_iter()
            .collect();
        let _ = self.respond(txn, f.status, Some(f.reason.as_bytes()), &extra, b"", now);
    }

    fn remember_dialog(&mut self, k: DialogKey, peer: Peer) {
        self.dctx.entry(k).or_insert(DialogCtx {
            peer,
            rseq: RseqTracker::default(),
            session: None,
        });
    }

    /// Handles what the layers queued until both are quiet.
    fn pump(&mut self, now: u64) {
        loop {
            let mut busy = false;
            while let Some(e) = self.layer.poll_event() {
                busy = true;
                self.on_layer_event(e, now);
            }
            while let Some(a) = self.dialogs.poll_action() {
                busy = true;
                self.on_dialog_action(a, now);
            }
            while let Some((k, id)) = self.dialogs.poll_removed() {
                busy = true;
                self.dctx.remove(&k);
                self.subs.dialog_removed(k);
                self.retries.retain(|r| r.1 != k);
                self.events
                    .push_back(EndpointEvent::DialogTerminated { dialog: k, id });
            }
            if !busy {
                break;
            }
        }
    }

    fn on_dialog_action(&mut self, a: DialogAction, now: u64) {
        match a {
            DialogAction::Retransmit2xx {
                txn, dest, bytes, ..
            } => {
                // In Accepted the transaction sends it (RFC 6026); after, the dialog does.
                let live = txn.filter(|&t| self.layer.state(t) == Some(State::Accepted));
                match live {
                    Some(t) => {
                        if self.layer.respond(t, bytes.clone(), now).is_err() {
                            self.layer.send_stateless(bytes, dest);
                        }
                    }
                    None => self.layer.send_stateless(bytes, dest),
                }
            }
            DialogAction::NoAck { dialog } => {
                // §13.3.1.4: the session should end.
                let _ = self.request_in_dialog(dialog, b"BYE", &[], b"", None, now);
                self.events.push_back(EndpointEvent::NoAck { dialog });
            }
        }
    }

    fn on_layer_event(&mut self, e: Event, now: u64) {
        match e {
            Event::Request { txn, msg } => self.on_request(txn, msg, now),
            Event::Cancel { txn, invite, msg } => self.on_cancel(txn, invite, msg, now),
            Event::Ack { msg, .. } => {
                if let RequestVerdict::Ack(k) = self.dialogs.on_request(&msg.message(), now) {
                    self.events.push_back(EndpointEvent::Ack { dialog: k, msg });
                }
            }
            Event::Response { txn, msg } => self.on_response(txn, msg, now),
            Event::Timeout { txn, kind } => {
                // §12.2.1.2: a timeout of an in-dialog request ends the dialog.
                if let Some(Ctx::Client {
                    dialog: Some(k), ..
                }) = self.ctx.get(&txn)
                {
                    let k = *k;
                    self.dialogs.remove(k);
                }
                self.events.push_back(EndpointEvent::Timeout { txn, kind });
            }
            Event::TransportError { txn } => {
                self.events.push_back(EndpointEvent::TransportError { txn });
            }
            Event::Terminated { txn, .. } => {
                self.reliable.remove(&txn);
                self.subs.drop_pending(txn);
                if let Some(Ctx::Client {
                    initial_invite: Some((call_id, tag)),
                    ..
                }) = self.ctx.remove(&txn)
                {
                    // §12.3 (and §13.2.2.4): early dialogs no 2xx confirmed end with it.
                    self.dialogs.on_invite_terminated(&call_id, &tag);
                }
                self.events.push_back(EndpointEvent::TxnTerminated { txn });
            }
        }
    }

    fn on_request(&mut self, txn: TxnId, msg: Incoming, now: u64) {
        let m = msg.message();
        let opts = self.cfg.txn.parse;
        let to_tag = m.first_value(HeaderName::To).and_then(|v| tag_in(v, &opts));
        if let Some(f) = self.screen(&m) {
            // Answered here, before the dialog layer or the user sees it (§8.2).
            let tag = to_tag.unwrap_or_else(|| self.ids.token().into_bytes());
            self.ctx.insert(
                txn,
                Ctx::Server {
                    msg: msg.clone(),
                    to_tag: tag,
                    dialog: None,
                },
            );
            self.counters.malformed_rejected += 1;
            let w = f.warning.map(|t| warning(&self.sent_by, &t));
            let mut hs: Vec<(&[u8], &[u8])> = Vec::new();
            if let Some(w) = &w {
                hs.push((b"Warning", w));
            }
            if let Some((n, v)) = &f.header {
                hs.push((n, v));
            }
            let _ = self.respond(txn, f.status, Some(f.reason.as_bytes()), &hs, b"", now);
            return;
        }
        if m.method() == Some(b"NOTIFY") {
            if let Some(t) = &to_tag {
                self.early_notify(&m, t, msg.source, now);
            }
        }
        let verdict = self.dialogs.on_request(&m, now);
        let tag = to_tag.unwrap_or_else(|| self.ids.token().into_bytes());
        let dialog = match verdict {
            RequestVerdict::InDialog(k) => Some(k),
            _ => None,
        };
        if let Some(k) = dialog {
            self.remember_dialog(k, msg.source);
        }
        self.ctx.insert(
            txn,
            Ctx::Server {
                msg: msg.clone(),
                to_tag: tag,
                dialog,
            },
        );
        let prack_dialog = match (&verdict, m.method()) {
            (RequestVerdict::InDialog(k), Some(b"PRACK")) => Some(*k),
            _ => None,
        };
        let tracked = prack_dialog.is_some_and(|k| {
            self.reliable.keys().any(
                |t| matches!(self.ctx.get(t), Some(Ctx::Server { dialog: Some(d), .. }) if *d == k),
            )
        });
        if let (Some(k), true) = (prack_dialog, tracked) {
            // RFC 3262 §3: a PRACK acknowledges this side's pending reliable provisional of
            // the dialog (RSeq, CSeq, method), or matches nothing (481). PRACKs for
            // provisionals the user made reliable by hand go to the user.
            let rack = m
                .first_value(HeaderName::RAck)
                .and_then(|v| parse_rack(v, &opts, &mut Vec::new()).ok());
            let invites: Vec<TxnId> = self
                .reliable
                .keys()
                .copied()
                .filter(|t| matches!(self.ctx.get(t), Some(Ctx::Server { dialog: Some(d), .. }) if *d == k))
                .collect();
            let matched = rack.is_some_and(|r| {
                invites
                    .iter()
                    .any(|t| self.reliable.get_mut(t).is_some_and(|p| p.on_prack(&r)))
            });
            if matched {
                self.counters.pracks_received += 1;
                let _ = self.respond(txn, 200, None, &[], b"", now);
            } else {
                let _ = self.respond(txn, 481, None, &[], b"", now);
            }
            return;
        }
        if matches!(
            verdict,
            RequestVerdict::OutOfDialog | RequestVerdict::InDialog(_)
        ) {
            if let Some(min_se) = self.session_too_small(&m) {
                // RFC 4028 §8: too short a session interval; the UAC retries with Min-SE.
                self.counters.session_too_small += 1;
                let v = min_se.to_string();
                let h: [(&[u8], &[u8]); 1] = [(b"Min-SE", v.as_bytes())];
                let _ = self.respond(txn, 422, None, &h, b"", now);
                return;
            }
        }
        match verdict {
            RequestVerdict::OutOfDialog | RequestVerdict::InDialog(_)
                if matches!(m.method(), Some(b"SUBSCRIBE" | b"NOTIFY" | b"PUBLISH")) =>
            {
                self.on_event_request(txn, dialog, msg, now);
            }
            RequestVerdict::OutOfDialog | RequestVerdict::InDialog(_) => {
                // §17.2.1: an INVITE server transaction answers 100 at once.
                if self.cfg.txn.auto_trying && m.method() == Some(b"INVITE") {
                    let _ = self.respond(txn, 100, None, &[], b"", now);
                }
                self.events
                    .push_back(EndpointEvent::Request { txn, dialog, msg });
            }
            RequestVerdict::Bye(k, _) => {
                let _ = self.respond(txn, 200, None, &[], b"", now);
                self.events.push_back(EndpointEvent::Bye {
                    txn,
                    dialog: k,
                    msg,
                });
            }
            RequestVerdict::Reject(code) => {
                self.counters.auto_rejected += 1;
                // §14.2: a 500 for an overlapping INVITE says when to retry (0–10 s).
                let secs = (self.ids.next() % 11).to_string();
                let extra: Vec<(&[u8], &[u8])> = if code == 500 {
                    vec![(b"Retry-After", secs.as_bytes())]
                } else {
                    Vec::new()
                };
                let _ = self.respond(txn, code, None, &extra, b"", now);
            }
            RequestVerdict::Ack(_) | RequestVerdict::StrayAck => {}
        }
    }

    /// RFC 6665 §4.1.2.4: a NOTIFY for a SUBSCRIBE this side sent, arriving before its 2xx
    /// (or from another fork), makes the subscriber's dialog.
    fn early_notify<I: AsRef<MessageIndex>>(
        &mut self,
        m: &Message<'_, I>,
        to_tag: &[u8],
        source: Peer,
        now: u64,
    ) {
        let opts = self.cfg.txn.parse;
        let call_id = m.call_id().unwrap_or_default();
        let from_tag = m
            .first_value(HeaderName::From)
            .and_then(|v| tag_in(v, &opts))
            .unwrap_or_default();
        if self.dialogs.find(call_id, to_tag, &from_tag).is_some() {
            return;
        }
        let Some(ev) = m
            .first_value(HeaderName::Event)
            .and_then(|v| EventKey::parse(v, &opts))
        else {
            return;
        };
        let Some(req) = self
            .subs
            .pending_for(call_id, to_tag, &ev)
            .map(<[u8]>::to_vec)
        else {
            return;
        };
        let Ok(idx) = MessageIndex::parse(&req, &opts) else {
            return;
        };
        let Ok(d) = Dialog::from_notify(&Message::new(&req[..], &idx), m) else {
            return;
        };
        if let Some(k) = self.dialogs.insert(d) {
            self.subs.made_early(call_id, to_tag, &from_tag);
            self.remember_dialog(k, source);
            self.subs.mark_made(k);
            let at = self.subscriber_deadline(0, now);
            self.subs
                .set(k, Role::Subscriber, &ev, Some(SubState::Pending), at);
        }
    }

    /// SUBSCRIBE, NOTIFY and PUBLISH (RFC 6665, RFC 3903): checked, answered here when
    /// wrong, reported when right.
    fn on_event_request(&mut self, txn: TxnId, dialog: Option<DialogKey>, msg: Incoming, now: u64) {
        let m = msg.message();
        let opts = self.cfg.txn.parse;
        match m.method().unwrap_or_default() {
            b"SUBSCRIBE" => {
                let checked = check_subscribe(
                    m.first_value(HeaderName::Event),
                    m.first_value(HeaderName::Expires),
                    &self.cfg.subscription,
                    &opts,
                );
                match checked {
                    Err(f) => self.refuse(txn, &f, now),
                    Ok((event, asked)) => {
                        let expires = grant(asked, &self.cfg.subscription);
                        self.events.push_back(EndpointEvent::Subscribe {
                            txn,
                            dialog,
                            msg,
                            event,
                            expires,
                        });
                    }
                }
            }
            b"NOTIFY" => {
                let checked = check_notify(
                    m.first_value(HeaderName::Event),
                    m.first_value(HeaderName::SubscriptionState),
                    &opts,
                );
                let (event, state) = match checked {
                    Err(f) => return self.refuse(txn, &f, now),
                    Ok(c) => c,
                };
                let Some(k) = dialog else {
                    // §4.1.3: no subscription of this side expects it.
                    return self.refuse(txn, &NO_SUBSCRIPTION, now);
                };
                if self.subs.get(k, Role::Subscriber, &event).is_none() {
                    // REFER's implicit subscription inside an INVITE dialog (RFC 3515)
                    // is the user's business; any other NOTIFY matches nothing.
                    if event.package() == b"refer" && !self.subs.made_dialog(k) {
                        self.events
                            .push_back(EndpointEvent::Request { txn, dialog, msg });
                    } else {
                        self.refuse(txn, &NO_SUBSCRIPTION, now);
                    }
                    return;
                }
                let end = match state.state {
                    Some(SubState::Terminated) => self.subs.end(k, Role::Subscriber, &event),
                    known => {
                        let at = state.expires.map(|e| self.subscriber_deadline(e, now));
                        match at {
                            Some(at) => self.subs.set(k, Role::Subscriber, &event, known, at),
                            None => {
                                if let Some(st) = known {
                                    self.subs.set_state(k, Role::Subscriber, &event, st);
                                }
                            }
                        }
                        false
                    }
                };
                self.events.push_back(EndpointEvent::Notify {
                    txn,
                    dialog: k,
                    msg,
                    event,
                    state,
                });
                if end {
                    // §4.1.3 and §4.5.2: the subscription was the dialog's only usage.
                    self.dialogs.remove(k);
                }
            }
            _ => match check_event(
                m.first_value(HeaderName::Event),
                &self.cfg.subscription,
                &opts,
            ) {
                // RFC 3903 §6 step 2: PUBLISH for a package this side does not accept.
                Err(f) => self.refuse(txn, &f, now),
                Ok(_) => self
                    .events
                    .push_back(EndpointEvent::Request { txn, dialog, msg }),
            },
        }
    }

    fn on_cancel(&mut self, txn: TxnId, invite: Option<TxnId>, msg: Incoming, now: u64) {
        let invite_tag = invite.and_then(|i| match self.ctx.get(&i) {
            Some(Ctx::Server { to_tag, .. }) => Some(to_tag.clone()),
            _ => None,
        });
        self.ctx.insert(
            txn,
            Ctx::Server {
                msg: msg.clone(),
                to_tag: invite_tag
                    .clone()
                    .unwrap_or_else(|| self.ids.token().into_bytes()),
                dialog: None,
            },
        );
        let live = invite.filter(|&i| self.layer.kind(i) == Some(Kind::InviteServer));
        let Some(inv) = live else {
            let _ = self.respond(txn, 481, None, &[], b"", now);
            return;
        };
        let _ = self.respond(txn, 200, None, &[], b"", now);
        if self.layer.state(inv) == Some(State::Proceeding) {
            let _ = self.respond(inv, 487, None, &[], b"", now);
        }
        self.events
            .push_back(EndpointEvent::Cancelled { invite: inv, msg });
    }

    fn on_response(&mut self, txn: TxnId, msg: Incoming, now: u64) {
        let Some(req) = self.layer.request_bytes(txn).map(<[u8]>::to_vec) else {
            self.events.push_back(EndpointEvent::Response {
                txn,
                dialog: None,
                msg,
            });
            return;
        };
        let (dest, ctx_dialog, resend, cancelled) = match self.ctx.get(&txn) {
            Some(Ctx::Client {
                dest,
                dialog,
                resend,
                cancelled,
                ..
            }) => (*dest, *dialog, resend.clone(), *cancelled),
            _ => (
                Peer::new(msg.source.addr, msg.source.transport),
                None,
                None,
                false,
            ),
        };
        let Ok(ridx) = MessageIndex::parse(&req, &self.cfg.txn.parse) else {
            return;
        };
        let request = Message::new(&req[..], &ridx);
        let response = msg.message();
        let status = response.status().unwrap_or(0);
        let is_invite = request.method() == Some(b"INVITE");
        let opts = self.cfg.txn.parse;
        let in_dialog = request
            .first_value(HeaderName::To)
            .and_then(|v| tag_in(v, &opts))
            .is_some();
        let is_subscribe = request.method() == Some(b"SUBSCRIBE");
        if is_subscribe && status >= 300 && !in_dialog {
            self.subs.drop_pending(txn);
        }
        // Outside a dialog only INVITE and a 2xx to SUBSCRIBE concern the dialog table.
        let subscribed = is_subscribe && (200..300).contains(&status);
        if !(is_invite || in_dialog || subscribed) {
            self.events.push_back(EndpointEvent::Response {
                txn,
                dialog: None,
                msg,
            });
            return;
        }
        let seq = request
            .first_value(HeaderName::CSeq)
            .and_then(|v| parse_cseq(v, &opts, &mut Vec::new()).ok())
            .map_or(0, |c| c.seq);
        // A 2xx this side already ACKed is a retransmission: ACK again, report nothing.
        let remote = response
            .first_value(HeaderName::To)
            .and_then(|v| tag_in(v, &opts))
            .unwrap_or_default();
        let is_2xx = (200..300).contains(&status);
        if is_invite && is_2xx {
            let (again, waiting) = match self.ctx.get(&txn) {
                Some(Ctx::Client { acks, deferred, .. }) => (
                    acks.iter()
                        .find(|a| a.0 == remote)
                        .map(|a| (a.1.clone(), a.2)),
                    deferred.iter().any(|d| d.0 == remote),
                ),
                _ => (None, false),
            };
            if let Some((ack, to)) = again {
                self.layer.send_stateless(ack, to);
                return;
            }
            if waiting {
                // The user has not sent the ACK with the answer yet.
                return;
            }
        }
        if subscribed && !in_dialog {
            let local = request
                .first_value(HeaderName::From)
                .and_then(|v| tag_in(v, &opts))
                .unwrap_or_default();
            let call_id = request.call_id().unwrap_or_default();
            let gone = self.dialogs.find(call_id, &local, &remote).is_none()
                && self.subs.was_made_early(call_id, &local, &remote);
            if gone {
                // §4.1.2.4: an early NOTIFY made the subscription and already ended it.
                self.events.push_back(EndpointEvent::Response {
                    txn,
                    dialog: None,
                    msg,
                });
                return;
            }
        }
        let via = self.via();
        let bye_via = self.via();
        let out = match self
            .dialogs
            .on_response(&request, &response, &via, &bye_via)
        {
            Ok(o) => o,
            Err(_) => {
                self.events.push_back(EndpointEvent::Response {
                    txn,
                    dialog: ctx_dialog,
                    msg,
                });
                return;
            }
        };
        let dialog = out.dialog.or(ctx_dialog);
        if let Some(k) = out.dialog {
            self.remember_dialog(k, dest);
        }
        // RFC 3264 §5: a 2xx offering to this side's offerless INVITE waits for the user's
        // ACK with the answer (a fork's unwanted 2xx is ACKed at once).
        let defer = is_invite
            && !cancelled
            && out.bye.is_none()
            && request.body().is_empty()
            && !response.body().is_empty();
        if let (true, true, Some(k)) = (is_subscribe, (200..300).contains(&status), out.dialog) {
            self.subscribed(k, &request, &response, !in_dialog, now);
        }
        if let Some(ack) = out.ack {
            let to = out
                .dialog
                .and_then(|k| self.resolve(&ack.next_hop, k).ok())
                .unwrap_or(dest);
            match (defer, out.dialog, self.ctx.get_mut(&txn)) {
                (true, Some(k), Some(Ctx::Client { deferred, .. })) => {
                    deferred.push((remote.clone(), k, seq, to));
                    if let Some(d) = self.dialogs.get_mut(k) {
                        d.last_ack = None;
                    }
                }
                (_, _, ctx) => {
                    if let Some(Ctx::Client { acks, .. }) = ctx {
                        acks.push((remote.clone(), ack.bytes.clone(), to));
                    }
                    self.layer.send_stateless(ack.bytes, to);
                }
            }
        }
        if let (true, true, None, Some(k)) = (is_2xx && is_invite, cancelled, &out.bye, out.dialog)
        {
            // §9.1, §15: the 2xx crossed this side's CANCEL; the call is not wanted.
            let _ = self.request_in_dialog(k, b"BYE", &[], b"", None, now);
        } else if is_2xx && out.bye.is_none() {
            if let Some(k) = out.dialog {
                let method = request.method().unwrap_or_default();
                if method == b"INVITE" || method == b"UPDATE" {
                    // RFC 4028 §7.2: the 2xx to this side's INVITE or UPDATE sets the timer.
                    let asked = session_expires_of(&request, &opts).map(|s| s.0);
                    let got = session_expires_of(&response, &opts);
                    if got.is_some_and(|(i, _)| i < self.cfg.min_se.max(MIN_SE_FLOOR)) {
                        self.counters.session_floor_applied += 1;
                    }
                    let timer = uac_on_2xx(asked, got, self.cfg.min_se);
                    self.set_session(k, timer, true, now);
                }
            }
        }
        if let Some(bye) = out.bye {
            let to = self
                .peer_of_uri(&bye.next_hop, Some(dest.transport))
                .unwrap_or(dest);
            if let Ok(t) = self.layer.send_request(bye.bytes, to, now) {
                self.ctx.insert(
                    t,
                    Ctx::Client {
                        dest: to,
                        dialog: None,
                        initial_invite: None,
                        resend: None,
                        acks: Vec::new(),
                        deferred: Vec::new(),
                        cancelled: false,
                    },
                );
            }
        }
        if out.glare {
            if let (Some(k), Some(resend)) = (dialog, resend) {
                let owns = self.dialogs.get(k).is_some_and(|d| d.is_uac);
                let r = self.ids.next() as u32;
                let at = now.saturating_add(glare_retry_delay(owns, r));
                self.retries.push((at, k, txn, resend));
            }
        }
        // RFC 3262 §4: PRACK a reliable provisional in order; drop repeats and gaps.
        if is_invite && (101..200).contains(&status) {
            let reliable = response.values_of(HeaderName::Require).any(|v| {
                v.split(|&c| c == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"100rel"))
            });
            let rseq = response
                .first_value(HeaderName::RSeq)
                .and_then(|v| parse_rseq(v, &opts, &mut Vec::new()).ok());
            if let (true, Some(rseq), Some(k)) = (reliable, rseq, out.dialog) {
                let verdict = self.dctx.get_mut(&k).map(|c| c.rseq.on_provisional(rseq));
                match verdict {
                    Some(RseqVerdict::Prack) => {
                        let rack = rack_value(rseq, seq);
                        let h: [(&[u8], &[u8]); 1] = [(b"RAck", rack.as_bytes())];
                        if self
                            .request_in_dialog(k, b"PRACK", &h, b"", None, now)
                            .is_ok()
                        {
                            self.counters.pracks_sent += 1;
                        }
                    }
                    _ => {
                        self.counters.provisionals_dropped += 1;
                        return;
                    }
                }
            }
        }
        self.events
            .push_back(EndpointEvent::Response { txn, dialog, msg });
    }

    /// A 2xx to this side's SUBSCRIBE (RFC 6665 §4.1.2.1): the subscription lasts what its
    /// Expires grants (what was asked when it has none).
    fn subscribed<I: AsRef<MessageIndex>, J: AsRef<MessageIndex>>(
        &mut self,
        k: DialogKey,
        request: &Message<'_, I>,
        response: &Message<'_, J>,
        initial: bool,
        now: u64,
    ) {
        let opts = self.cfg.txn.parse;
        let Some(ev) = request
            .first_value(HeaderName::Event)
            .and_then(|v| EventKey::parse(v, &opts))
        else {
            return;
        };
        let expires =
            |m: Option<&[u8]>| m.and_then(|v| parse_expires(v, &opts, &mut Vec::new()).ok());
        let granted = expires(response.first_value(HeaderName::Expires))
            .or(expires(request.first_value(HeaderName::Expires)))
            .unwrap_or(self.cfg.subscription.default_expires);
        if initial {
            self.subs.mark_made(k);
        }
        let new = self.subs.get(k, Role::Subscriber, &ev).is_none();
        let at = self.subscriber_deadline(granted, now);
        self.subs.set(
            k,
            Role::Subscriber,
            &ev,
            new.then_some(SubState::Pending),
            at,
        );
    }

    /// The address a URI names when its host is an IP address.
    fn peer_of_uri(&self, uri: &[u8], transport: Option<Transport>) -> Option<Peer> {
        let mut diags = Vec::new();
        let u = Uri::parse(uri, &self.cfg.txn.parse, &mut diags).ok()?;
        let h = u.host().filter(|h| h.is_ip())?;
        let ip = std::str::from_utf8(h.address())
            .ok()?
            .parse::<IpAddr>()
            .ok()?;
        let sips = u.scheme_bytes().eq_ignore_ascii_case(b"sips");
        let transport = u
            .transport()
            .and_then(Transport::from_token)
            .or(transport)
            .unwrap_or(if sips {
                Transport::Tls
            } else {
                self.cfg.local.transport
            });
        let port = u.port().unwrap_or(if sips { 5061 } else { 5060 });
        Some(Peer::new(SocketAddr::new(ip, port), transport))
    }
}

/// The Session-Expires of a request or response: (interval, refresher).
fn session_expires_of<I: AsRef<MessageIndex>>(
    m: &Message<'_, I>,
    opts: &crate::ParseOptions,
) -> Option<(u32, Option<Refresher>)> {
    m.first_value(HeaderName::SessionExpires)
        .and_then(|v| parse_session_expires(v, opts, &mut Vec::new()).ok())
        .map(|se| (se.delta, se.refresher()))
}

fn refresher_token(r: Refresher) -> &'static str {
    match r {
        Refresher::Uac => "uac",
        Refresher::Uas => "uas",
    }
}

// RFC 4028 session timers, the delayed-offer ACK (RFC 3261 §13.2.2.4) and Replaces
// (RFC 3891).
impl Endpoint {
    fn session_live(&self, k: DialogKey, generation: u32) -> bool {
        self.dctx
            .get(&k)
            .and_then(|c| c.session)
            .is_some_and(|s| s.generation == generation)
    }

    /// (Re)starts the dialog's session timer at `now` (§10: every 2xx to a refresh restarts
    /// it); `None` stops it.
    fn set_session(&mut self, k: DialogKey, timer: Option<SessionTimer>, is_uac: bool, now: u64) {
        self.session_generation = self.session_generation.wrapping_add(1);
        let generation = self.session_generation;
        let Some(c) = self.dctx.get_mut(&k) else {
            return;
        };
        c.session = timer.map(|t| {
            let we_refresh = t.we_refresh(is_uac);
            Session {
                timer: t,
                we_refresh,
                refresh_at: we_refresh.then(|| t.refresh_at(now)),
                expire_at: if we_refresh {
                    now.saturating_add(u64::from(t.interval) * 1000)
                } else {
                    t.expire_at(now)
                },
                generation,
            }
        });
        if let Some(s) = c.session {
            let key = k.to_u64();
            if let Some(at) = s.refresh_at {
                self.sessions.push(Reverse((at, key, generation)));
            }
            self.sessions.push(Reverse((s.expire_at, key, generation)));
        }
    }

    fn tick_sessions(&mut self, now: u64) {
        while let Some(&Reverse((at, key, generation))) = self.sessions.peek() {
            if at > now {
                break;
            }
            self.sessions.pop();
            let k = DialogKey::from_u64(key);
            let Some(s) = self.dctx.get(&k).and_then(|c| c.session) else {
                continue;
            };
            if s.generation != generation {
                continue;
            }
            if s.refresh_at == Some(at) && at < s.expire_at {
                if let Some(c) = self.dctx.get_mut(&k) {
                    c.session = Some(Session {
                        refresh_at: None,
                        ..s
                    });
                }
                self.events
                    .push_back(EndpointEvent::SessionRefresh { dialog: k });
            } else if s.expire_at <= now {
                if let Some(c) = self.dctx.get_mut(&k) {
                    c.session = None;
                }
                self.counters.sessions_expired += 1;
                let r: [(&[u8], &[u8]); 1] =
                    [(b"Reason", b"SIP;cause=408;text=\"Session expired\"")];
                let _ = self.request_in_dialog(k, b"BYE", &r, b"", None, now);
                self.events
                    .push_back(EndpointEvent::SessionExpired { dialog: k });
            }
        }
    }

    /// The headers a request this side sends needs for session timers (RFC 4028 §7.1, §7.4):
    /// `Supported: timer` on INVITE and UPDATE, and Session-Expires when the dialog runs a
    /// timer (keeping the refresher) or this side wants one.
    fn session_headers(
        &self,
        method: &[u8],
        dialog: Option<DialogKey>,
        given: &[(&[u8], &[u8])],
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        if method != b"INVITE" && method != b"UPDATE" {
            return out;
        }
        let supported = given.iter().any(|(n, v)| {
            HeaderName::from_bytes(n) == HeaderName::Supported && has_token(v, b"timer")
        });
        if !supported {
            out.push((b"Supported".to_vec(), b"timer".to_vec()));
        }
        if has_header(given, HeaderName::SessionExpires) {
            return out;
        }
        let running = dialog
            .and_then(|k| self.dctx.get(&k))
            .and_then(|c| c.session);
        let se = match (running, self.cfg.session_expires) {
            (Some(s), _) => {
                let r = if s.we_refresh {
                    Refresher::Uac
                } else {
                    Refresher::Uas
                };
                format!("{};refresher={}", s.timer.interval, refresher_token(r))
            }
            (None, Some(n)) => n.max(self.cfg.min_se).to_string(),
            (None, None) => return out,
        };
        out.push((b"Session-Expires".to_vec(), se.into_bytes()));
        if self.cfg.min_se > MIN_SE_FLOOR {
            out.push((b"Min-SE".to_vec(), self.cfg.min_se.to_string().into_bytes()));
        }
        out
    }

    /// §9 at the UAS: what the 2xx to `request` adds (Session-Expires with the refresher,
    /// Require: timer when the UAC supports it), unless the user wrote a Session-Expires.
    fn session_answer<I: AsRef<MessageIndex>>(
        &self,
        request: &Message<'_, I>,
        given: &[(&[u8], &[u8])],
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        if has_header(given, HeaderName::SessionExpires) {
            return Vec::new();
        }
        let opts = self.cfg.txn.parse;
        let uac_supports = request
            .values_of(HeaderName::Supported)
            .any(|v| has_token(v, b"timer"));
        let asked = session_expires_of(request, &opts);
        match uas_negotiate(
            asked,
            uac_supports,
            self.cfg.min_se,
            self.cfg.session_expires,
        ) {
            UasTimer::Accept(t) => {
                let mut out = vec![(
                    b"Session-Expires".to_vec(),
                    format!("{};refresher={}", t.interval, refresher_token(t.refresher))
                        .into_bytes(),
                )];
                if uac_supports {
                    out.push((b"Require".to_vec(), b"timer".to_vec()));
                }
                out
            }
            UasTimer::TooSmall { .. } | UasTimer::None => Vec::new(),
        }
    }

    /// §8: the Min-SE a received INVITE or UPDATE falls short of, if it does.
    fn session_too_small<I: AsRef<MessageIndex>>(&self, m: &Message<'_, I>) -> Option<u32> {
        let method = m.method()?;
        if method != b"INVITE" && method != b"UPDATE" {
            return None;
        }
        let opts = self.cfg.txn.parse;
        let asked = session_expires_of(m, &opts)?;
        match uas_negotiate(Some(asked), false, self.cfg.min_se, None) {
            UasTimer::TooSmall { min_se } => Some(min_se),
            _ => None,
        }
    }

    /// The negotiated session timer of the dialog, if one runs: (interval in seconds, this
    /// side refreshes).
    pub fn session_timer(&self, dialog: DialogKey) -> Option<(u32, bool)> {
        let s = self.dctx.get(&dialog)?.session?;
        Some((s.timer.interval, s.we_refresh))
    }

    /// The ACK for a 2xx that carried an offer because this side's INVITE `txn` had none
    /// (RFC 3264 §5: the answer goes in the ACK, RFC 3261 §13.2.2.4). The endpoint holds
    /// such an ACK until this call; retransmissions of the 2xx then get it again.
    pub fn ack(
        &mut self,
        txn: TxnId,
        dialog: DialogKey,
        headers: &[(&[u8], &[u8])],
        body: &[u8],
        _now: u64,
    ) -> Result<(), EndpointError> {
        let Some(Ctx::Client { deferred, .. }) = self.ctx.get_mut(&txn) else {
            return Err(EndpointError::NoAckPending);
        };
        let Some(i) = deferred.iter().position(|d| d.1 == dialog) else {
            return Err(EndpointError::NoAckPending);
        };
        let (remote, _, seq, to) = deferred.swap_remove(i);
        let via = self.via();
        let d = self
            .dialogs
            .get_mut(dialog)
            .ok_or(EndpointError::NoSuchDialog)?;
        d.last_ack = None;
        let ack = d.ack(seq, &via, headers, body)?;
        if let Some(Ctx::Client { acks, .. }) = self.ctx.get_mut(&txn) {
            acks.push((remote, ack.bytes.clone(), to));
        }
        self.layer.send_stateless(ack.bytes, to);
        Ok(())
    }

    /// RFC 3891 §3: the dialog a received INVITE's Replaces value names (its to-tag is this
    /// side's tag, its from-tag the peer's), or the status to reject the INVITE with: 400
    /// unreadable, 481 no such dialog (or an early dialog this side did not start), 486 a
    /// confirmed dialog with `early-only`.
    pub fn replaces(&self, value: &[u8]) -> Result<DialogKey, u16> {
        let opts = self.cfg.txn.parse;
        let r = parse_replaces(value, &opts, &mut Vec::new()).map_err(|_| 400u16)?;
        let (Some(local), Some(remote)) = (r.to_tag(), r.from_tag()) else {
            return Err(400);
        };
        let k = self.dialogs.find(r.call_id, local, remote).ok_or(481u16)?;
        let d = self.dialogs.get(k).ok_or(481u16)?;
        match d.state {
            DialogState::Confirmed if r.early_only() => Err(486),
            DialogState::Early if !d.is_uac => Err(481),
            _ => Ok(k),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Ids;

    #[test]
    fn every_seed_gives_its_own_identifiers() {
        let first = |seed: u64| Ids::seeded(seed).token();
        let seeds = [0u64, 1, 2, 3, 3262, 3263, u64::MAX];
        let mut tokens: Vec<String> = seeds.iter().map(|&s| first(s)).collect();
        tokens.sort();
        tokens.dedup();
        assert_eq!(tokens.len(), seeds.len(), "{tokens:?}");
        assert_eq!(first(3262), first(3262));
    }
}
