//! The load engine: calls placed at a rate and calls answered, driven from Rust.
//!
//! One UDP socket, one sans-IO [`Endpoint`] (transactions, dialogs, ACKs, retransmissions,
//! CANCEL handling), and a loop that reads and writes in batches (`recvmmsg`/`sendmmsg`),
//! ticks the endpoint's timers and walks each call through its scenario: a list of steps
//! (requests with the status range they expect, pauses) that Python describes once. Python
//! runs the loop in slices ([`Runner::run_until`]) with the GIL released, and reads the
//! counters between slices for the progress line and the time series.
//!
//! Everything it keeps is bounded: calls in progress by `max_calls_up` (more are refused and
//! counted), the send queue by [`MAX_QUEUE`] (drops counted), the failure table by
//! [`MAX_REASONS`] distinct reasons (the rest counted together), the latency record by a
//! fixed histogram; the endpoint's tables by their configured sizes.

use crate::lossy_string;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use sipwire::dialog::DialogKey;
use sipwire::endpoint::{Endpoint, EndpointConfig, EndpointError, EndpointEvent, NewRequest};
use sipwire::header::parse_challenge;
use sipwire::message::HeaderName;
use sipwire::txn::{Incoming, Peer, Transport, TxnError, TxnId};

use super::hist::Histogram;
use super::net::{Received, Socket};

/// Datagrams waiting for room in the socket; more are dropped and counted.
pub const MAX_QUEUE: usize = 1 << 17;
/// Distinct (status, reason) failure rows kept; later ones are counted as "other".
pub const MAX_REASONS: usize = 64;
/// Distinct request methods counted on the answering side; later ones as "other".
const MAX_METHODS: usize = 32;

/// A value with `{n}` standing for the call's number (from 1).
#[derive(Clone, Debug, Default)]
pub struct Template {
    parts: Vec<Option<Vec<u8>>>,
}

impl Template {
    pub fn new(text: &[u8]) -> Template {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(i) = memchr::memmem::find(rest, b"{n}") {
            parts.push(Some(rest.get(..i).unwrap_or_default().to_vec()));
            parts.push(None);
            rest = rest.get(i + 3..).unwrap_or_default();
        }
        parts.push(Some(rest.to_vec()));
        Template { parts }
    }

    pub fn render(&self, n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.parts {
            match p {
                Some(lit) => out.extend_from_slice(lit),
                None => out.extend_from_slice(n.to_string().as_bytes()),
            }
        }
        out
    }
}

/// One request of a scenario.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Template)>,
    pub body: Template,
    /// An SDP offer with this direction attribute (sendrecv, sendonly, ...) as the body.
    pub sdp: Option<Vec<u8>>,
    /// The final statuses that let the call go on (inclusive).
    pub expect: (u16, u16),
    /// Answer one 401/407 with digest credentials.
    pub auth: bool,
    /// CANCEL this INVITE this many ms after its first 180/183.
    pub cancel_after: Option<u64>,
    /// Request-URI and To of an out-of-dialog request (default: the scenario's).
    pub uri: Option<Template>,
    pub to: Option<Template>,
    pub from: Option<Template>,
}

#[derive(Clone, Debug)]
pub enum Step {
    Request(Box<Request>),
    /// Milliseconds.
    Pause(u64),
}

/// What the calls do: steps, where they go, the credentials for challenges.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub steps: Vec<Step>,
    pub uri: Template,
    pub to: Option<Template>,
    pub from: Option<Template>,
    pub dest: SocketAddr,
    pub user: Template,
    pub password: Vec<u8>,
}

/// How incoming requests are answered.
#[derive(Clone, Debug)]
pub struct Answer {
    /// 180 first and the 2xx this many ms later (0: 2xx at once).
    pub ring_ms: u64,
    /// The final status for a new INVITE (200 unless told).
    pub invite_status: u16,
}

/// Counters; every field only grows except the two "up" gauges.
#[derive(Clone, Default)]
pub struct Stats {
    pub attempted: u64,
    pub completed: u64,
    pub failed: u64,
    /// Calls not started because `max_calls_up` calls were in progress.
    pub refused: u64,
    /// Calls failed by an ICMP error or a send that could not go.
    pub unreachable: u64,
    pub failures: HashMap<(u16, String), u64>,
    pub up: u64,
    pub max_up: u64,
    pub setup: Histogram,
    pub interval_setup: Histogram,
    // The answering side.
    pub in_calls: u64,
    pub in_answered: u64,
    pub in_completed: u64,
    pub in_cancelled: u64,
    pub in_failed: u64,
    pub in_up: u64,
    pub in_max_up: u64,
    pub in_requests: HashMap<String, u64>,
    // Messages.
    pub sent: u64,
    pub received: u64,
    pub send_dropped: u64,
    pub send_failed: u64,
    pub truncated: u64,
    pub malformed: u64,
    pub icmp_errors: u64,
    /// Microseconds since the start of the first datagram sent and received (0: none yet).
    pub first_sent_us: u64,
    pub first_received_us: u64,
}

impl Stats {
    fn fail(&mut self, status: u16, reason: String) {
        self.failed += 1;
        let key = (status, reason);
        if self.failures.len() < MAX_REASONS || self.failures.contains_key(&key) {
            *self.failures.entry(key).or_insert(0) += 1;
        } else {
            *self.failures.entry((0, "other".into())).or_insert(0) += 1;
        }
    }
}

#[derive(Default)]
struct Call {
    n: u64,
    step: usize,
    start_us: u64,
    gen: u32,
    /// The transaction whose final response the call waits for.
    txn: Option<TxnId>,
    /// That transaction is an INVITE without a final yet (cancel it on failure).
    invite_pending: bool,
    dialog: Option<DialogKey>,
    call_id: Vec<u8>,
    cseq: u32,
    authorization: Option<(&'static [u8], Vec<u8>)>,
    tried_auth: bool,
    setup_done: bool,
    cancel_armed: bool,
    sdp_version: u32,
}

const RESUME: u8 = 0;
const CANCEL: u8 = 1;

pub struct Runner {
    sock: Socket,
    ep: Endpoint,
    clock: Instant,
    local: SocketAddr,
    scenario: Option<Arc<Scenario>>,
    answer: Answer,
    // Placing.
    rate: f64,
    origin_us: u64,
    base: u64,
    place_until_us: u64,
    max_calls: Option<u64>,
    started: u64,
    max_calls_up: u64,
    calls: HashMap<u64, Call>,
    by_txn: HashMap<TxnId, u64>,
    by_dialog: HashMap<DialogKey, u64>,
    timers: BinaryHeap<Reverse<(u64, u64, u32, u8)>>,
    // Answering.
    ringing: HashMap<TxnId, bool>,
    answers: VecDeque<(u64, TxnId)>,
    /// Answered calls: whether the ACK came.
    in_dialogs: HashMap<DialogKey, bool>,
    out: VecDeque<(SocketAddr, Arc<[u8]>)>,
    pub stats: Stats,
    rx: Received,
    /// The shortest sleep for timers and calls due (µs).
    pub quantum_us: u64,
}

fn now_ms(us: u64) -> u64 {
    us / 1000
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hash(algorithm: &[u8], data: &[u8]) -> String {
    use md5::Digest as _;
    if algorithm.eq_ignore_ascii_case(b"SHA-256") {
        hex(&sha2::Sha256::digest(data))
    } else {
        hex(&md5::Md5::digest(data))
    }
}

fn quoted(v: &[u8]) -> bool {
    v.iter()
        .all(|&b| b != b'"' && b != b'\\' && b >= 0x20 && b != 0x7f)
}

/// The Authorization (or Proxy-Authorization) for a challenge (RFC 2617, RFC 8760 §2):
/// MD5 or SHA-256, qop=auth when offered; None for a challenge it cannot answer.
#[allow(clippy::too_many_arguments)]
fn digest(
    challenge: &[u8],
    user: &[u8],
    password: &[u8],
    method: &[u8],
    uri: &[u8],
    cnonce: &[u8],
) -> Option<Vec<u8>> {
    let opts = sipwire::ParseOptions::LIBERAL;
    let c = parse_challenge(challenge, &opts, &mut Vec::new()).ok()?;
    if !c.is_digest() {
        return None;
    }
    let realm = c.realm().unwrap_or_default().into_owned();
    let nonce = c.nonce()?.into_owned();
    let algorithm = c
        .digest_param(b"algorithm")
        .map(|a| a.into_owned())
        .unwrap_or_else(|| b"MD5".to_vec());
    if !(algorithm.eq_ignore_ascii_case(b"MD5") || algorithm.eq_ignore_ascii_case(b"SHA-256")) {
        return None;
    }
    let qop = c.digest_param(b"qop").map(|q| q.into_owned());
    let auth = qop.as_deref().is_some_and(|q| {
        q.split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"auth"))
    });
    if qop.is_some() && !auth {
        return None;
    }
    for v in [user, &realm[..], &nonce[..], uri, cnonce] {
        if !quoted(v) {
            return None;
        }
    }
    let ha1 = hash(&algorithm, &[user, b":", &realm, b":", password].concat());
    let ha2 = hash(&algorithm, &[method, b":", uri].concat());
    let nc = b"00000001";
    let response = if auth {
        hash(
            &algorithm,
            &[
                ha1.as_bytes(),
                b":",
                &nonce,
                b":",
                nc,
                b":",
                cnonce,
                b":auth:",
                ha2.as_bytes(),
            ]
            .concat(),
        )
    } else {
        hash(
            &algorithm,
            &[ha1.as_bytes(), b":", &nonce, b":", ha2.as_bytes()].concat(),
        )
    };
    let mut h = b"Digest username=\"".to_vec();
    for part in [
        user,
        b"\", realm=\"",
        &realm,
        b"\", nonce=\"",
        &nonce,
        b"\", uri=\"",
        uri,
        b"\", response=\"",
        response.as_bytes(),
        b"\", algorithm=",
        &algorithm,
    ] {
        h.extend_from_slice(part);
    }
    if auth {
        h.extend_from_slice(b", qop=auth, nc=00000001, cnonce=\"");
        h.extend_from_slice(cnonce);
        h.push(b'"');
    }
    if let Some(o) = c.opaque() {
        if quoted(&o) {
            h.extend_from_slice(b", opaque=\"");
            h.extend_from_slice(&o);
            h.push(b'"');
        }
    }
    Some(h)
}

fn why(e: EndpointError) -> String {
    match e {
        EndpointError::Txn(TxnError::TableFull) => {
            "not sent: this side's transaction table is full".into()
        }
        EndpointError::NoSuchDialog => "not sent: the dialog had ended".into(),
        EndpointError::NoDestination => "not sent: no destination".into(),
        EndpointError::InviteInProgress => {
            "not sent: an INVITE of the dialog is in progress".into()
        }
        other => format!("not sent: {other:?}"),
    }
}

impl Runner {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        bind: SocketAddr,
        cfg: impl FnOnce(Peer) -> EndpointConfig,
        scenario: Option<Scenario>,
        answer: Answer,
        max_calls_up: u64,
        buffer: usize,
    ) -> io::Result<Runner> {
        let sock = Socket::bind(bind, buffer)?;
        let local = sock.local_addr()?;
        let ep = Endpoint::new(cfg(Peer::new(local, Transport::Udp)));
        Ok(Runner {
            sock,
            ep,
            clock: Instant::now(),
            local,
            scenario: scenario.map(Arc::new),
            answer,
            rate: 0.0,
            origin_us: 0,
            base: 0,
            place_until_us: 0,
            max_calls: None,
            started: 0,
            max_calls_up: max_calls_up.max(1),
            calls: HashMap::new(),
            by_txn: HashMap::new(),
            by_dialog: HashMap::new(),
            timers: BinaryHeap::new(),
            ringing: HashMap::new(),
            answers: VecDeque::new(),
            in_dialogs: HashMap::new(),
            out: VecDeque::new(),
            stats: Stats::default(),
            rx: Received::default(),
            quantum_us: 1000,
        })
    }

    pub fn local(&self) -> SocketAddr {
        self.local
    }

    pub fn buffers(&self) -> (usize, usize) {
        self.sock.buffers()
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.ep
    }

    pub fn now_us(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Calls in progress (placed and not ended).
    pub fn active(&self) -> usize {
        self.calls.len()
    }

    pub fn queued(&self) -> usize {
        self.out.len()
    }

    /// Starts placing `rate` calls a second from now for `seconds` (and at most
    /// `max_calls` more in all, when given). A rate of 0 stops placing.
    pub fn place(&mut self, rate: f64, seconds: f64, max_calls: Option<u64>) {
        let now = self.now_us();
        self.rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            0.0
        };
        self.origin_us = now;
        self.base = self.started;
        let span = if seconds.is_finite() && seconds > 0.0 {
            (seconds * 1e6) as u64
        } else {
            0
        };
        self.place_until_us = now.saturating_add(span);
        self.max_calls = max_calls.map(|m| self.started.saturating_add(m));
    }

    /// When the next call is due (µs), while there are calls to place.
    fn next_call_us(&self) -> Option<u64> {
        if self.rate <= 0.0 || self.scenario.is_none() {
            return None;
        }
        if self.max_calls.is_some_and(|m| self.started >= m) {
            return None;
        }
        let k = (self.started - self.base) as f64;
        let at = self.origin_us + (k / self.rate * 1e6) as u64;
        (at < self.place_until_us).then_some(at)
    }

    /// Whether calls remain to be placed.
    pub fn placing(&self) -> bool {
        self.next_call_us().is_some()
    }

    fn start_due(&mut self, now_us: u64) {
        while let Some(at) = self.next_call_us() {
            if at > now_us {
                break;
            }
            self.started += 1;
            self.stats.attempted += 1;
            if self.calls.len() as u64 >= self.max_calls_up {
                self.stats.refused += 1;
                continue;
            }
            self.start_call(self.started, now_us);
        }
    }

    fn start_call(&mut self, n: u64, now_us: u64) {
        let call_id = format!("{}-{}", self.ep.token(), n).into_bytes();
        let call = Call {
            n,
            start_us: now_us,
            call_id,
            cseq: 1,
            sdp_version: 1,
            ..Call::default()
        };
        self.calls.insert(n, call);
        self.stats.up += 1;
        self.stats.max_up = self.stats.max_up.max(self.stats.up);
        self.exec(n, now_us);
    }

    /// Runs the call's current step.
    fn exec(&mut self, id: u64, now_us: u64) {
        let Some(sc) = self.scenario.clone() else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        match sc.steps.get(call.step) {
            None => self.complete(id),
            Some(Step::Pause(ms)) => {
                call.gen += 1;
                let at = now_ms(now_us).saturating_add(*ms);
                self.timers.push(Reverse((at, id, call.gen, RESUME)));
            }
            Some(Step::Request(r)) => self.send(id, &sc, r, now_us),
        }
    }

    fn next(&mut self, id: u64, now_us: u64) {
        if let Some(c) = self.calls.get_mut(&id) {
            c.step += 1;
            c.tried_auth = false;
            c.authorization = None;
            c.cancel_armed = false;
        }
        self.exec(id, now_us);
    }

    fn sdp(&self, direction: &[u8], version: u32, n: u64) -> Vec<u8> {
        let (fam, ip) = match self.local.ip() {
            IpAddr::V4(ip) => ("IP4", ip.to_string()),
            IpAddr::V6(ip) => ("IP6", ip.to_string()),
        };
        let port = 16384 + (n % 16384) * 2;
        let mut s = format!(
            "v=0\r\no=sipwire {n} {version} IN {fam} {ip}\r\ns=-\r\nc=IN {fam} {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na="
        )
        .into_bytes();
        s.extend_from_slice(direction);
        s.extend_from_slice(b"\r\n");
        s
    }

    fn send(&mut self, id: u64, sc: &Scenario, r: &Request, now_us: u64) {
        let now = now_ms(now_us);
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let n = call.n;
        let mut headers: Vec<(Vec<u8>, Vec<u8>)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.render(n)))
            .collect();
        if let Some((name, value)) = &call.authorization {
            headers.push((name.to_vec(), value.clone()));
        }
        let body = match &r.sdp {
            Some(dir) => self.sdp(dir, call.sdp_version, n),
            None => r.body.render(n),
        };
        let hs: Vec<(&[u8], &[u8])> = headers.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let dialog = call.dialog;
        let is_invite = r.method == b"INVITE";
        let result = match dialog {
            Some(d) => self
                .ep
                .request_in_dialog(d, &r.method, &hs, &body, None, now),
            None => {
                let uri = r.uri.as_ref().unwrap_or(&sc.uri).render(n);
                let to = r.to.as_ref().or(sc.to.as_ref()).map(|t| t.render(n));
                let from = r.from.as_ref().or(sc.from.as_ref()).map(|t| t.render(n));
                let req = NewRequest {
                    method: &r.method,
                    uri: &uri,
                    to: to.as_deref(),
                    from: from.as_deref(),
                    call_id: Some(&call.call_id),
                    cseq: Some(call.cseq),
                    headers: &hs,
                    body: &body,
                };
                self.ep
                    .request(&req, Peer::new(sc.dest, Transport::Udp), now)
            }
        };
        match result {
            Ok(txn) => {
                if let Some(c) = self.calls.get_mut(&id) {
                    c.txn = Some(txn);
                    c.invite_pending = is_invite;
                    if r.sdp.is_some() {
                        c.sdp_version += 1;
                    }
                    if r.method == b"BYE" {
                        // The endpoint ended the dialog as it sent the BYE (§15.1.1).
                        if let Some(d) = c.dialog.take() {
                            self.by_dialog.remove(&d);
                        }
                    }
                }
                self.by_txn.insert(txn, id);
            }
            Err(e) => self.fail(id, 0, why(e), now_us),
        }
    }

    fn complete(&mut self, id: u64) {
        if let Some(c) = self.calls.remove(&id) {
            self.forget(&c);
            self.stats.completed += 1;
        }
    }

    fn forget(&mut self, c: &Call) {
        if let Some(t) = c.txn {
            self.by_txn.remove(&t);
        }
        if let Some(d) = c.dialog {
            self.by_dialog.remove(&d);
        }
        self.stats.up = self.stats.up.saturating_sub(1);
    }

    /// Ends a call as failed: its INVITE cancelled, its dialog ended with BYE.
    fn fail(&mut self, id: u64, status: u16, reason: String, now_us: u64) {
        let Some(c) = self.calls.remove(&id) else {
            return;
        };
        let now = now_ms(now_us);
        self.forget(&c);
        if let (true, Some(t)) = (c.invite_pending, c.txn) {
            let _ = self.ep.cancel(t, now);
        }
        if let Some(d) = c.dialog {
            let _ = self.ep.request_in_dialog(d, b"BYE", &[], b"", None, now);
        }
        self.stats.fail(status, reason);
    }

    fn on_response(&mut self, txn: TxnId, dialog: Option<DialogKey>, msg: &Incoming, now_us: u64) {
        let Some(&id) = self.by_txn.get(&txn) else {
            return;
        };
        let Some(sc) = self.scenario.clone() else {
            return;
        };
        let m = msg.message();
        let status = m.status().unwrap_or(0);
        let Some(call) = self.calls.get_mut(&id) else {
            self.by_txn.remove(&txn);
            return;
        };
        let Some(Step::Request(r)) = sc.steps.get(call.step) else {
            return;
        };
        if status < 200 {
            if let (Some(after), true, false) = (r.cancel_after, status >= 180, call.cancel_armed) {
                call.cancel_armed = true;
                let at = now_ms(now_us).saturating_add(after);
                self.timers.push(Reverse((at, id, call.gen, CANCEL)));
            }
            return;
        }
        self.by_txn.remove(&txn);
        call.txn = None;
        call.invite_pending = false;
        call.cseq += 1;
        if (status == 401 || status == 407) && r.auth && !call.tried_auth {
            call.tried_auth = true;
            let (challenge, header): (HeaderName, &'static [u8]) = if status == 401 {
                (HeaderName::WwwAuthenticate, b"Authorization")
            } else {
                (HeaderName::ProxyAuthenticate, b"Proxy-Authorization")
            };
            let uri = match call.dialog {
                Some(_) => None,
                None => Some(r.uri.as_ref().unwrap_or(&sc.uri).render(call.n)),
            };
            let user = sc.user.render(call.n);
            let cnonce = self.ep.token();
            let value = m.first_value(challenge).zip(uri).and_then(|(v, uri)| {
                digest(v, &user, &sc.password, &r.method, &uri, cnonce.as_bytes())
            });
            let Some(value) = value else {
                let reason = format!(
                    "{} (a challenge this side cannot answer)",
                    lossy_string(m.reason().unwrap_or_default())
                );
                self.fail(id, status, reason, now_us);
                return;
            };
            if let Some(c) = self.calls.get_mut(&id) {
                c.authorization = Some((header, value));
            }
            self.exec(id, now_us);
            return;
        }
        if !(r.expect.0..=r.expect.1).contains(&status) {
            let mut reason = lossy_string(m.reason().unwrap_or_default());
            if r.cancel_after.is_some() && (200..300).contains(&status) {
                // The target answered instead of ringing (or before the CANCEL reached it).
                reason.push_str(" (answered before the CANCEL)");
            }
            // A 2xx that is not wanted (one crossing a CANCEL) leaves a dialog: end it.
            if (200..300).contains(&status) && r.method == b"INVITE" && call.dialog.is_none() {
                call.dialog = dialog;
            }
            self.fail(id, status, reason, now_us);
            return;
        }
        if !call.setup_done {
            call.setup_done = true;
            let took = now_us.saturating_sub(call.start_us);
            self.stats.setup.record(took);
            self.stats.interval_setup.record(took);
        }
        if r.method == b"INVITE" && (200..300).contains(&status) && call.dialog.is_none() {
            if let Some(d) = dialog {
                call.dialog = Some(d);
                self.by_dialog.insert(d, id);
            }
        }
        self.next(id, now_us);
    }

    fn on_timer(&mut self, id: u64, gen: u32, kind: u8, now_us: u64) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.gen != gen {
            return;
        }
        match kind {
            RESUME => self.next(id, now_us),
            _ => {
                if let (true, Some(t)) = (call.invite_pending, call.txn) {
                    let _ = self.ep.cancel(t, now_ms(now_us));
                }
            }
        }
    }

    // --- the answering side ---------------------------------------------------------------

    fn answer_sdp(&self, offer: &[u8]) -> Vec<u8> {
        let find = |a: &[u8]| memchr::memmem::find(offer, a).is_some();
        let dir: &[u8] = if find(b"a=sendonly") {
            b"recvonly"
        } else if find(b"a=inactive") {
            b"inactive"
        } else if find(b"a=recvonly") {
            b"sendonly"
        } else {
            b"sendrecv"
        };
        self.sdp(dir, 1, 0)
    }

    fn count_method(&mut self, method: &[u8]) {
        let name = lossy_string(method);
        let s = &mut self.stats.in_requests;
        if s.len() < MAX_METHODS || s.contains_key(&name) {
            *s.entry(name).or_insert(0) += 1;
        } else {
            *s.entry("other".into()).or_insert(0) += 1;
        }
    }

    fn on_request(&mut self, txn: TxnId, dialog: Option<DialogKey>, msg: &Incoming, now_us: u64) {
        let now = now_ms(now_us);
        let m = msg.message();
        let method = m.method().unwrap_or_default().to_vec();
        self.count_method(&method);
        let offer = m.body();
        let body = if method == b"INVITE" && !offer.is_empty() {
            self.answer_sdp(offer)
        } else {
            Vec::new()
        };
        if method == b"INVITE" && dialog.is_none() {
            self.stats.in_calls += 1;
            self.stats.in_up += 1;
            self.stats.in_max_up = self.stats.in_max_up.max(self.stats.in_up);
            if self.answer.ring_ms > 0 {
                let _ = self.ep.respond(txn, 180, None, &[], b"", now);
                self.ringing.insert(txn, !offer.is_empty());
                self.answers
                    .push_back((now.saturating_add(self.answer.ring_ms), txn));
                return;
            }
            self.answer_invite(txn, &body, now);
            return;
        }
        let _ = self.ep.respond(txn, 200, None, &[], &body, now);
    }

    fn answer_invite(&mut self, txn: TxnId, body: &[u8], now: u64) {
        let status = self.answer.invite_status;
        match self.ep.respond(
            txn,
            status,
            None,
            &[],
            if status < 300 { body } else { b"" },
            now,
        ) {
            Ok(Some(d)) if (200..300).contains(&status) => {
                self.in_dialogs.insert(d, false);
            }
            _ => {
                // Not a call that stays up (a rejection, or the INVITE went away).
                self.stats.in_up = self.stats.in_up.saturating_sub(1);
                if status >= 300 {
                    self.stats.in_failed += 1;
                }
            }
        }
    }

    fn fire_answers(&mut self, now: u64) {
        while let Some(&(at, txn)) = self.answers.front() {
            if at > now {
                break;
            }
            self.answers.pop_front();
            if let Some(offer) = self.ringing.remove(&txn) {
                let body = if offer {
                    self.answer_sdp(b"")
                } else {
                    Vec::new()
                };
                self.answer_invite(txn, &body, now);
            }
        }
    }

    // --- events ------------------------------------------------------------------------------

    fn on_event(&mut self, ev: EndpointEvent, now_us: u64) {
        match ev {
            EndpointEvent::Response { txn, dialog, msg } => {
                self.on_response(txn, dialog, &msg, now_us)
            }
            EndpointEvent::Request { txn, dialog, msg } => {
                self.on_request(txn, dialog, &msg, now_us)
            }
            EndpointEvent::Timeout { txn, .. } => {
                if let Some(&id) = self.by_txn.get(&txn) {
                    let method = self.waiting_method(id);
                    self.fail(
                        id,
                        408,
                        format!("no final response to {method} (Timer B/F)"),
                        now_us,
                    );
                }
            }
            EndpointEvent::TransportError { txn } => {
                if let Some(&id) = self.by_txn.get(&txn) {
                    self.stats.unreachable += 1;
                    self.fail(id, 0, "unreachable (ICMP error)".into(), now_us);
                }
            }
            EndpointEvent::TxnTerminated { txn } => {
                if let Some(&id) = self.by_txn.get(&txn) {
                    // Gone without a final response or a timeout: evicted from a full table.
                    self.fail(id, 0, "transaction evicted (table full)".into(), now_us);
                }
            }
            EndpointEvent::Bye { dialog, .. } => {
                if let Some(id) = self.by_dialog.remove(&dialog) {
                    if let Some(c) = self.calls.get_mut(&id) {
                        c.dialog = None;
                    }
                    self.fail(id, 0, "BYE from the peer".into(), now_us);
                } else {
                    self.end_incoming(dialog);
                }
            }
            EndpointEvent::Ack { dialog, .. } => {
                if let Some(acked) = self.in_dialogs.get_mut(&dialog) {
                    if !*acked {
                        *acked = true;
                        self.stats.in_answered += 1;
                    }
                }
            }
            EndpointEvent::Cancelled { invite, .. } => self.cancelled(invite),
            EndpointEvent::NoAck { dialog } => self.no_ack(dialog),
            EndpointEvent::DialogTerminated { dialog, .. } => {
                if let Some(id) = self.by_dialog.remove(&dialog) {
                    if let Some(c) = self.calls.get_mut(&id) {
                        c.dialog = None;
                    }
                } else {
                    self.end_incoming(dialog);
                }
            }
            _ => {}
        }
    }

    fn cancelled(&mut self, invite: TxnId) {
        if self.ringing.remove(&invite).is_some() {
            self.stats.in_cancelled += 1;
            self.stats.in_up = self.stats.in_up.saturating_sub(1);
        }
    }

    fn no_ack(&mut self, dialog: DialogKey) {
        if self.in_dialogs.remove(&dialog).is_some() {
            self.stats.in_failed += 1;
            self.stats.in_up = self.stats.in_up.saturating_sub(1);
            self.stats.fail(0, "no ACK for the 2xx (BYE sent)".into());
        }
    }

    /// An answered call ended (BYE, or its dialog went away): completed when its ACK had
    /// come, failed otherwise.
    fn end_incoming(&mut self, dialog: DialogKey) {
        let Some(acked) = self.in_dialogs.remove(&dialog) else {
            return;
        };
        self.stats.in_up = self.stats.in_up.saturating_sub(1);
        if acked {
            self.stats.in_completed += 1;
        } else {
            self.stats.in_failed += 1;
            self.stats
                .fail(0, "incoming call ended before its ACK".into());
        }
    }

    fn waiting_method(&self, id: u64) -> String {
        let step = self.calls.get(&id).map(|c| c.step);
        match (self.scenario.as_ref(), step) {
            (Some(sc), Some(s)) => match sc.steps.get(s) {
                Some(Step::Request(r)) => lossy_string(&r.method),
                _ => "a request".into(),
            },
            _ => "a request".into(),
        }
    }

    fn pump(&mut self, now_us: u64) {
        loop {
            let mut any = false;
            while let Some(ev) = self.ep.poll_event() {
                any = true;
                self.on_event(ev, now_us);
            }
            while let Some(d) = self.ep.poll_transmit() {
                any = true;
                if self.out.len() >= MAX_QUEUE {
                    self.stats.send_dropped += 1;
                } else {
                    self.out.push_back((d.dest.addr, d.bytes));
                }
            }
            if !any {
                return;
            }
        }
    }

    fn flush(&mut self, now_us: u64) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let mut pending = false;
        let n = self
            .sock
            .send_batch(&mut self.out, &mut self.stats.send_failed, &mut pending)?;
        if n > 0 && self.stats.first_sent_us == 0 {
            self.stats.first_sent_us = now_us.max(1);
        }
        self.stats.sent += n as u64;
        if pending {
            self.read_errors(now_us);
        }
        Ok(())
    }

    fn read_errors(&mut self, now_us: u64) {
        let now = now_ms(now_us);
        for dest in self.sock.read_errors() {
            self.stats.icmp_errors += 1;
            self.ep.unreachable(Peer::new(dest, Transport::Udp), now);
        }
        self.pump(now_us);
    }

    fn receive(&mut self, error_hint: bool, now_us: u64) -> io::Result<()> {
        let now = now_ms(now_us);
        let mut errors = error_hint;
        // A bounded number of batches, so that timers and new calls get their turn.
        for _ in 0..16 {
            let mut rx = std::mem::take(&mut self.rx);
            rx.datagrams.clear();
            rx.error_pending = false;
            let n = self.sock.recv_batch(&mut rx)?;
            self.stats.truncated += std::mem::take(&mut rx.truncated);
            errors |= rx.error_pending;
            for (bytes, src) in rx.datagrams.drain(..) {
                self.stats.received += 1;
                if self.stats.first_received_us == 0 {
                    self.stats.first_received_us = now_us.max(1);
                }
                if self
                    .ep
                    .receive(bytes, Peer::new(src, Transport::Udp), now)
                    .is_err()
                {
                    self.stats.malformed += 1;
                }
                self.pump(now_us);
            }
            self.rx = rx;
            if n < super::net::BATCH {
                break;
            }
        }
        if errors {
            self.read_errors(now_us);
        }
        Ok(())
    }

    /// Runs until `until_us` on the runner's clock: places the calls due, answers, ticks
    /// the endpoint, sends and receives.
    pub fn run_until(&mut self, until_us: u64) -> io::Result<()> {
        loop {
            let now_us = self.now_us();
            let now = now_ms(now_us);
            self.start_due(now_us);
            while let Some(&Reverse((at, id, gen, kind))) = self.timers.peek() {
                if at > now {
                    break;
                }
                self.timers.pop();
                self.on_timer(id, gen, kind, now_us);
            }
            self.fire_answers(now);
            if self.ep.next_deadline().is_some_and(|d| d <= now) {
                self.ep.tick(now);
            }
            self.pump(now_us);
            self.flush(now_us)?;
            if now_us >= until_us {
                return Ok(());
            }
            let mut wake = until_us;
            if let Some(t) = self.next_call_us() {
                wake = wake.min(t);
            }
            if let Some(Reverse((t, ..))) = self.timers.peek() {
                wake = wake.min(t.saturating_mul(1000));
            }
            if let Some(&(t, _)) = self.answers.front() {
                wake = wake.min(t.saturating_mul(1000));
            }
            if let Some(d) = self.ep.next_deadline() {
                wake = wake.min(d.saturating_add(1).saturating_mul(1000));
            }
            if !self.out.is_empty() {
                // The socket was full: try again soon.
                wake = wake.min(now_us + 200);
            } else if wake < until_us {
                // Timers and new calls are served at most every `quantum` µs (SIPp's timer
                // resolution is 1 ms too): at thousands of calls a second the calls due start
                // in small batches, sent in one sendmmsg, instead of one wake-up each. Received
                // datagrams still wake the loop at once.
                wake = wake.max(now_us + self.quantum_us).min(until_us);
            }
            let (_, err) = if wake > now_us {
                self.sock.wait(wake - now_us)
            } else {
                (true, false)
            };
            let after = self.now_us();
            self.receive(err, after)?;
        }
    }
}
