//! `Endpoint`: the sans-IO transaction and dialog core a user agent drives (the core's
//! `sipwire::endpoint`). Times are float seconds on the driver's clock; handles are ints.

use crate::lossy_string;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use sipwire::dialog::publication::{publish_answer, PublishAnswer};
use sipwire::dialog::subscription::{EventKey, Role, SubState};
use sipwire::dialog::{DialogKey, DialogState};
use sipwire::endpoint::{self as core, EndpointConfig, EndpointError, EndpointEvent, NewRequest};
use sipwire::txn::{Incoming, Kind, Peer, State, Transport, TxnError, TxnId};

use crate::correlate::{addr_tuple, socket_addr, transport_of, Port};
use crate::errors::{local_error, local_kind, local_msg};
use crate::message::{core_of, wrap, Mode};

fn ms(py: Python<'_>, now: f64) -> PyResult<u64> {
    if !(now.is_finite() && now >= 0.0) {
        return Err(local_msg(
            py,
            format!("now must be a finite, non-negative time in seconds, not {now}"),
        ));
    }
    Ok((now * 1000.0).round() as u64)
}

fn peer(py: Python<'_>, what: &str, addr: (String, Port), t: Transport) -> PyResult<Peer> {
    Ok(Peer::new(socket_addr(py, what, addr)?, t))
}

fn state_str(s: State) -> &'static str {
    match s {
        State::Calling => "calling",
        State::Trying => "trying",
        State::Proceeding => "proceeding",
        State::Completed => "completed",
        State::Confirmed => "confirmed",
        State::Accepted => "accepted",
        State::Terminated => "terminated",
    }
}

fn kind_str(k: Kind) -> &'static str {
    match k {
        Kind::InviteClient => "invite_client",
        Kind::NonInviteClient => "non_invite_client",
        Kind::InviteServer => "invite_server",
        Kind::NonInviteServer => "non_invite_server",
    }
}

fn dialog_state_str(s: DialogState) -> &'static str {
    match s {
        DialogState::Early => "early",
        DialogState::Confirmed => "confirmed",
        DialogState::Terminated => "terminated",
    }
}

fn role_str(r: Role) -> &'static str {
    match r {
        Role::Subscriber => "subscriber",
        Role::Notifier => "notifier",
    }
}

fn sub_state(py: Python<'_>, s: &str) -> PyResult<SubState> {
    match s {
        "active" => Ok(SubState::Active),
        "pending" => Ok(SubState::Pending),
        "terminated" => Ok(SubState::Terminated),
        _ => Err(local_msg(
            py,
            format!(
                "state must be 'active', 'pending' or 'terminated' (RFC 6665 §4.1.3), not {s:?}"
            ),
        )),
    }
}

fn event_key(py: Python<'_>, opts: &sipwire::ParseOptions, event: &str) -> PyResult<EventKey> {
    EventKey::parse(event.as_bytes(), opts).ok_or_else(|| {
        local_msg(
            py,
            format!("{event:?} is not an Event value (event-type *( \".\" template ) [;id=...], RFC 6665 §8.2.1)"),
        )
    })
}

/// A user error as LocalProtocolError, saying what to do.
fn endpoint_error(py: Python<'_>, e: EndpointError, what: &str) -> PyErr {
    let kind = match e {
        EndpointError::Txn(TxnError::Parse(_)) => "",
        EndpointError::NoSuchDialog => "no_such_dialog",
        EndpointError::NotReliable => "not_reliable",
        EndpointError::PrackPending => "prack_pending",
        EndpointError::NoAckPending => "no_ack_pending",
        EndpointError::NoSuchSubscription => "no_such_subscription",
        EndpointError::NoDestination => "no_destination",
        EndpointError::InviteInProgress => "invite_in_progress",
        EndpointError::NoContentType => "missing_content_type",
        EndpointError::Txn(TxnError::TableFull) => "table_full",
        EndpointError::Txn(TxnError::NoSuchTransaction) => "no_such_transaction",
        EndpointError::Txn(TxnError::InvalidState) => "invalid_state",
        EndpointError::Txn(TxnError::AlreadyFinal) => "already_final",
        EndpointError::Txn(_) => "invalid_request",
    };
    let why = match e {
        EndpointError::Txn(TxnError::Parse(err)) => return local_error(py, err, what),
        EndpointError::NoSuchDialog => {
            "no such dialog (it ended, or the handle is not from this endpoint)"
        }
        EndpointError::NotReliable => {
            "only a 101-199 to an INVITE whose sender supports 100rel can be sent reliably (RFC 3262 §3)"
        }
        EndpointError::PrackPending => {
            "the previous reliable provisional has no PRACK yet (one at a time, RFC 3262 §3)"
        }
        EndpointError::NoAckPending => {
            "no 2xx of that transaction and dialog waits for an ACK (the endpoint ACKs every 2xx itself unless it carries an offer to an INVITE sent without one)"
        }
        EndpointError::NoSuchSubscription => {
            "the dialog has no subscription to that event accepted by this side"
        }
        EndpointError::NoDestination => {
            "the next hop is a host name; resolve it (RFC 3263) and pass dest"
        }
        EndpointError::InviteInProgress => {
            "another INVITE transaction of the dialog is in progress (RFC 3261 §14.1): wait for its final response"
        }
        EndpointError::NoContentType => {
            "a body needs a Content-Type header (RFC 3261 §7.4.1); only SDP (v=0) is recognised without one"
        }
        EndpointError::Txn(t) => match t {
            TxnError::NotARequest => "the message is a response, not a request",
            TxnError::NotAResponse => "the message is a request, not a response",
            TxnError::NoBranch => {
                "the top Via has no RFC 3261 branch (z9hG4bK...): add a fresh one"
            }
            TxnError::Duplicate => "a transaction with that branch exists: use a fresh branch",
            TxnError::TableFull => "the transaction table is full (max_transactions)",
            TxnError::NoSuchTransaction => {
                "no such transaction of that kind (it ended, or the handle is not a server transaction of this endpoint)"
            }
            TxnError::InvalidState => {
                "the transaction cannot send that now (a final response was already sent?)"
            }
            TxnError::Ack => "ACK is not a transaction: the endpoint sends ACKs itself",
            TxnError::AlreadyFinal => "the INVITE already has a final response: nothing to cancel",
            TxnError::Parse(_) => "the message does not parse",
        },
    };
    local_kind(py, kind, format!("{what}: {why}"))
}

/// What happened in an `Endpoint`.
#[pyclass(module = "sipwire._sipwire", name = "EndpointEvent", frozen, get_all)]
pub struct EndpointEvent_ {
    kind: &'static str,
    txn: Option<u64>,
    dialog: Option<u64>,
    message: Option<PyObject>,
    source: Option<(String, u16)>,
    old_txn: Option<u64>,
    transaction_kind: Option<&'static str>,
    call_id: Option<String>,
    event: Option<String>,
    state: Option<String>,
    expires: Option<u32>,
    reason: Option<String>,
    role: Option<&'static str>,
    etag: Option<String>,
}

#[pymethods]
impl EndpointEvent_ {
    fn __repr__(&self, py: Python<'_>) -> String {
        let mut s = format!("<EndpointEvent {}", self.kind);
        if let Some(t) = self.txn {
            s.push_str(&format!(" txn={t}"));
        }
        if let Some(d) = self.dialog {
            s.push_str(&format!(" dialog={d}"));
        }
        if let Some(m) = &self.message {
            if let Ok(r) = m.bind(py).repr() {
                s.push_str(&format!(" {r}"));
            }
        }
        s.push('>');
        s
    }
}

/// One dialog of an `Endpoint`, as it was when asked for.
#[pyclass(module = "sipwire._sipwire", name = "EndpointDialog", frozen, get_all)]
pub struct EndpointDialog {
    key: u64,
    call_id: String,
    local_tag: String,
    remote_tag: String,
    state: &'static str,
    is_uac: bool,
    local_seq: u32,
    remote_seq: Option<u32>,
    local_party: String,
    remote_party: String,
    remote_target: String,
    route_set: Vec<String>,
    secure: bool,
}

#[pymethods]
impl EndpointDialog {
    fn __repr__(&self) -> String {
        format!(
            "<EndpointDialog {} call_id={:?} local_tag={:?} remote_tag={:?}>",
            self.state, self.call_id, self.local_tag, self.remote_tag
        )
    }
}

/// The sans-IO endpoint (see the stub for the driver loop).
#[pyclass(module = "sipwire._sipwire")]
pub struct Endpoint {
    ep: core::Endpoint,
    transport: Transport,
    strict: bool,
}

impl Endpoint {
    fn wrap_msg(&self, py: Python<'_>, m: Incoming) -> PyResult<PyObject> {
        let data = PyBytes::new(py, &m.bytes).unbind();
        let mode = Mode {
            strict: self.strict,
            validate: false,
            limits: None,
        };
        wrap(py, data, m.index, mode)
    }

    fn tr(&self, py: Python<'_>, t: Option<&str>) -> PyResult<Transport> {
        t.map_or(Ok(self.transport), |s| transport_of(py, s))
    }

    fn event(&self, py: Python<'_>, e: EndpointEvent) -> PyResult<EndpointEvent_> {
        let mut ev = EndpointEvent_ {
            kind: "",
            txn: None,
            dialog: None,
            message: None,
            source: None,
            old_txn: None,
            transaction_kind: None,
            call_id: None,
            event: None,
            state: None,
            expires: None,
            reason: None,
            role: None,
            etag: None,
        };
        let with_msg = |ev: &mut EndpointEvent_, m: Incoming| -> PyResult<()> {
            ev.source = Some(addr_tuple(m.source.addr));
            ev.message = Some(self.wrap_msg(py, m)?);
            Ok(())
        };
        match e {
            EndpointEvent::Request { txn, dialog, msg } => {
                ev.kind = "request";
                ev.txn = Some(txn.to_u64());
                ev.dialog = dialog.map(DialogKey::to_u64);
                with_msg(&mut ev, msg)?;
            }
            EndpointEvent::Response { txn, dialog, msg } => {
                ev.kind = "response";
                ev.txn = Some(txn.to_u64());
                ev.dialog = dialog.map(DialogKey::to_u64);
                let m = msg.message();
                let opts = self.ep.config().txn.parse;
                let method = m
                    .first_value(sipwire::message::HeaderName::CSeq)
                    .and_then(|v| sipwire::header::parse_cseq(v, &opts, &mut Vec::new()).ok())
                    .map(|c| c.method);
                if method == Some(b"PUBLISH") && m.status().is_some_and(|s| s >= 200) {
                    // RFC 3903: the entity tag and the time granted (Min-Expires for 423).
                    match publish_answer(&m, &opts) {
                        PublishAnswer::Accepted { etag, expires } => {
                            ev.etag = Some(lossy_string(&etag));
                            ev.expires = expires;
                        }
                        PublishAnswer::RetryWith(e) => ev.expires = Some(e),
                        _ => {}
                    }
                }
                with_msg(&mut ev, msg)?;
            }
            EndpointEvent::Subscribe {
                txn,
                dialog,
                msg,
                event,
                expires,
            } => {
                ev.kind = "subscribe";
                ev.txn = Some(txn.to_u64());
                ev.dialog = dialog.map(DialogKey::to_u64);
                ev.event = Some(lossy_string(&event.header_value()));
                ev.expires = Some(expires);
                with_msg(&mut ev, msg)?;
            }
            EndpointEvent::Notify {
                txn,
                dialog,
                msg,
                event,
                state,
            } => {
                ev.kind = "notify";
                ev.txn = Some(txn.to_u64());
                ev.dialog = Some(dialog.to_u64());
                ev.event = Some(lossy_string(&event.header_value()));
                ev.state = Some(lossy_string(&state.text));
                ev.expires = state.expires;
                ev.reason = state.reason.as_deref().map(lossy_string);
                with_msg(&mut ev, msg)?;
            }
            EndpointEvent::SubscriptionExpired {
                dialog,
                event,
                role,
            } => {
                ev.kind = "subscription_expired";
                ev.dialog = Some(dialog.to_u64());
                ev.event = Some(lossy_string(&event.header_value()));
                ev.role = Some(role_str(role));
            }
            EndpointEvent::Cancelled { invite, msg } => {
                ev.kind = "cancelled";
                ev.txn = Some(invite.to_u64());
                with_msg(&mut ev, msg)?;
            }
            EndpointEvent::Ack { dialog, msg } => {
                ev.kind = "ack";
                ev.dialog = Some(dialog.to_u64());
                with_msg(&mut ev, msg)?;
            }
            EndpointEvent::Bye { txn, dialog, msg } => {
                ev.kind = "bye";
                ev.txn = Some(txn.to_u64());
                ev.dialog = Some(dialog.to_u64());
                with_msg(&mut ev, msg)?;
            }
            EndpointEvent::Timeout { txn, kind } => {
                ev.kind = "timeout";
                ev.txn = Some(txn.to_u64());
                ev.transaction_kind = Some(kind_str(kind));
            }
            EndpointEvent::TransportError { txn } => {
                ev.kind = "transport_error";
                ev.txn = Some(txn.to_u64());
            }
            EndpointEvent::NoAck { dialog } => {
                ev.kind = "no_ack";
                ev.dialog = Some(dialog.to_u64());
            }
            EndpointEvent::GlareRetry { dialog, old, txn } => {
                ev.kind = "glare_retry";
                ev.dialog = Some(dialog.to_u64());
                ev.old_txn = Some(old.to_u64());
                ev.txn = Some(txn.to_u64());
            }
            EndpointEvent::DialogTerminated { dialog, id } => {
                ev.kind = "dialog_terminated";
                ev.dialog = Some(dialog.to_u64());
                ev.call_id = Some(lossy_string(&id.call_id));
            }
            EndpointEvent::TxnTerminated { txn } => {
                ev.kind = "transaction_terminated";
                ev.txn = Some(txn.to_u64());
            }
            EndpointEvent::SessionRefresh { dialog } => {
                ev.kind = "session_refresh";
                ev.dialog = Some(dialog.to_u64());
            }
            EndpointEvent::SessionExpired { dialog } => {
                ev.kind = "session_expired";
                ev.dialog = Some(dialog.to_u64());
            }
        }
        Ok(ev)
    }
}

type HeaderPairs = Vec<(String, String)>;

fn pairs(h: &HeaderPairs) -> Vec<(&[u8], &[u8])> {
    h.iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect()
}

#[pymethods]
impl Endpoint {
    #[new]
    #[pyo3(signature = (host = "127.0.0.1", port = 5060, transport = "udp", *, user = "sipwire", seed = None, t1 = 0.5, t2 = 4.0, t4 = 5.0, max_transactions = 16384, max_dialogs = 16384, auto_trying = true, strict = true, session_expires = None, min_se = 90, events = None, min_expires = 1, max_expires = 86400))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host: &str,
        port: i64,
        transport: &str,
        user: &str,
        seed: Option<u64>,
        t1: f64,
        t2: f64,
        t4: f64,
        max_transactions: usize,
        max_dialogs: usize,
        auto_trying: bool,
        strict: bool,
        session_expires: Option<u32>,
        min_se: u32,
        events: Option<Vec<String>>,
        min_expires: u32,
        max_expires: u32,
    ) -> PyResult<Self> {
        let t = transport_of(py, transport)?;
        let local = peer(
            py,
            "host, port",
            (host.to_string(), Port::new(py, port.into())?),
            t,
        )?;
        let seed = match seed {
            Some(s) => s,
            None => {
                let b: Vec<u8> = py
                    .import("os")?
                    .getattr("urandom")?
                    .call1((8,))?
                    .extract()?;
                b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x))
            }
        };
        let mut cfg = EndpointConfig::new(local, seed);
        for (name, v) in [("t1", t1), ("t2", t2), ("t4", t4)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(local_msg(
                    py,
                    format!("{name} must be a positive number of seconds, not {v}"),
                ));
            }
        }
        cfg.txn.timers.t1 = ms(py, t1)?.max(1);
        cfg.txn.timers.t2 = ms(py, t2)?.max(1);
        cfg.txn.timers.t4 = ms(py, t4)?.max(1);
        cfg.txn.max_transactions = max_transactions;
        cfg.txn.auto_trying = auto_trying;
        cfg.txn.parse = crate::limits::options(py, strict, None);
        cfg.dialog.max_dialogs = max_dialogs;
        cfg.user = user.as_bytes().to_vec();
        // RFC 4028 §4: Min-SE is never below 90 s.
        if min_se < 90 {
            return Err(local_msg(
                py,
                format!("min_se must be at least 90 seconds (RFC 4028 §4), not {min_se}"),
            ));
        }
        if let Some(se) = session_expires.filter(|&se| se < min_se) {
            return Err(local_msg(
                py,
                format!("session_expires ({se} s) must not be below min_se ({min_se} s)"),
            ));
        }
        cfg.session_expires = session_expires;
        cfg.min_se = min_se;
        for e in events.iter().flatten() {
            let k = event_key(py, &cfg.txn.parse, e)?;
            if k.id.is_some() {
                return Err(local_msg(
                    py,
                    format!("events lists event types, without ;id (not {e:?})"),
                ));
            }
            cfg.subscription.events.push(k.event_type);
        }
        if min_expires > max_expires {
            return Err(local_msg(
                py,
                format!("min_expires ({min_expires}) is above max_expires ({max_expires})"),
            ));
        }
        cfg.subscription.min_expires = min_expires;
        cfg.subscription.max_expires = max_expires;
        Ok(Endpoint {
            ep: core::Endpoint::new(cfg),
            transport: t,
            strict,
        })
    }

    /// (host, port) as written in Via and Contact.
    #[getter]
    fn local(&self) -> (String, u16) {
        addr_tuple(self.ep.config().local.addr)
    }
    #[getter]
    fn transport(&self) -> &'static str {
        match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Sctp => "sctp",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }
    #[getter]
    fn contact(&self) -> String {
        lossy_string(self.ep.contact())
    }

    #[pyo3(signature = (data, source, now, transport = None))]
    fn receive(
        &mut self,
        py: Python<'_>,
        data: Vec<u8>,
        source: (String, Port),
        now: f64,
        transport: Option<&str>,
    ) -> PyResult<bool> {
        let t = self.tr(py, transport)?;
        let src = peer(py, "source", source, t)?;
        let now = ms(py, now)?;
        Ok(self.ep.receive(data, src, now).is_ok())
    }

    #[pyo3(signature = (method, uri, *, dest, now, to = None, from_ = None, call_id = None, cseq = None, headers = None, body = None, transport = None))]
    #[allow(clippy::too_many_arguments)]
    fn request(
        &mut self,
        py: Python<'_>,
        method: &str,
        uri: &str,
        dest: (String, Port),
        now: f64,
        to: Option<String>,
        from_: Option<String>,
        call_id: Option<String>,
        cseq: Option<u32>,
        headers: Option<HeaderPairs>,
        body: Option<Vec<u8>>,
        transport: Option<&str>,
    ) -> PyResult<u64> {
        let t = self.tr(py, transport)?;
        let dest = peer(py, "dest", dest, t)?;
        let now = ms(py, now)?;
        let headers = headers.unwrap_or_default();
        let body = body.unwrap_or_default();
        let hs = pairs(&headers);
        let r = NewRequest {
            method: method.as_bytes(),
            uri: uri.as_bytes(),
            to: to.as_deref().map(str::as_bytes),
            from: from_.as_deref().map(str::as_bytes),
            call_id: call_id.as_deref().map(str::as_bytes),
            cseq,
            headers: &hs,
            body: &body,
        };
        self.ep
            .request(&r, dest, now)
            .map(TxnId::to_u64)
            .map_err(|e| endpoint_error(py, e, &format!("{method} request")))
    }

    #[pyo3(signature = (data, *, dest, now, transport = None))]
    fn send(
        &mut self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        dest: (String, Port),
        now: f64,
        transport: Option<&str>,
    ) -> PyResult<u64> {
        let bytes: Vec<u8> = match core_of(data) {
            Ok(c) => c.buf(py).to_vec(),
            Err(_) => data.extract()?,
        };
        let t = self.tr(py, transport)?;
        let dest = peer(py, "dest", dest, t)?;
        let now = ms(py, now)?;
        self.ep
            .send(bytes, dest, now)
            .map(TxnId::to_u64)
            .map_err(|e| endpoint_error(py, e, "send"))
    }

    #[pyo3(signature = (dialog, method, *, now, headers = None, body = None, dest = None, transport = None))]
    #[allow(clippy::too_many_arguments)]
    fn request_in_dialog(
        &mut self,
        py: Python<'_>,
        dialog: u64,
        method: &str,
        now: f64,
        headers: Option<HeaderPairs>,
        body: Option<Vec<u8>>,
        dest: Option<(String, Port)>,
        transport: Option<&str>,
    ) -> PyResult<u64> {
        let t = self.tr(py, transport)?;
        let dest = dest.map(|d| peer(py, "dest", d, t)).transpose()?;
        let now = ms(py, now)?;
        let headers = headers.unwrap_or_default();
        let body = body.unwrap_or_default();
        let hs = pairs(&headers);
        self.ep
            .request_in_dialog(
                DialogKey::from_u64(dialog),
                method.as_bytes(),
                &hs,
                &body,
                dest,
                now,
            )
            .map(TxnId::to_u64)
            .map_err(|e| endpoint_error(py, e, &format!("{method} in dialog {dialog}")))
    }

    #[pyo3(signature = (txn, status, reason = None, *, now, headers = None, body = None, reliable = false))]
    #[allow(clippy::too_many_arguments)]
    fn respond(
        &mut self,
        py: Python<'_>,
        txn: u64,
        status: u16,
        reason: Option<&str>,
        now: f64,
        headers: Option<HeaderPairs>,
        body: Option<Vec<u8>>,
        reliable: bool,
    ) -> PyResult<Option<u64>> {
        if !(100..=699).contains(&status) {
            return Err(local_msg(
                py,
                format!("status must be 100 to 699 (RFC 3261 §7.2), not {status}"),
            ));
        }
        let now = ms(py, now)?;
        let headers = headers.unwrap_or_default();
        let body = body.unwrap_or_default();
        let hs = pairs(&headers);
        let send = if reliable {
            core::Endpoint::respond_reliably
        } else {
            core::Endpoint::respond
        };
        send(
            &mut self.ep,
            TxnId::from_u64(txn),
            status,
            reason.map(str::as_bytes),
            &hs,
            &body,
            now,
        )
        .map(|d| d.map(DialogKey::to_u64))
        .map_err(|e| endpoint_error(py, e, &format!("{status} response to transaction {txn}")))
    }

    #[pyo3(signature = (txn, dialog, *, now, headers = None, body = None))]
    fn ack(
        &mut self,
        py: Python<'_>,
        txn: u64,
        dialog: u64,
        now: f64,
        headers: Option<HeaderPairs>,
        body: Option<Vec<u8>>,
    ) -> PyResult<()> {
        let now = ms(py, now)?;
        let headers = headers.unwrap_or_default();
        let body = body.unwrap_or_default();
        self.ep
            .ack(
                TxnId::from_u64(txn),
                DialogKey::from_u64(dialog),
                &pairs(&headers),
                &body,
                now,
            )
            .map_err(|e| endpoint_error(py, e, &format!("ACK of transaction {txn}")))
    }

    /// (dialog, 0) for the dialog a Replaces value names, or (None, status to reject with).
    fn replaces(&self, value: &str) -> (Option<u64>, u16) {
        match self.ep.replaces(value.as_bytes()) {
            Ok(k) => (Some(k.to_u64()), 0),
            Err(status) => (None, status),
        }
    }

    fn session_timer(&self, dialog: u64) -> Option<(u32, bool)> {
        self.ep.session_timer(DialogKey::from_u64(dialog))
    }

    /// A NOTIFY for a subscription this side accepted (RFC 6665 §4.2.2).
    #[pyo3(signature = (dialog, event, state, *, now, reason = None, headers = None, body = None))]
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &mut self,
        py: Python<'_>,
        dialog: u64,
        event: &str,
        state: &str,
        now: f64,
        reason: Option<&str>,
        headers: Option<HeaderPairs>,
        body: Option<Vec<u8>>,
    ) -> PyResult<u64> {
        let st = sub_state(py, state)?;
        let key = event_key(py, &self.ep.config().txn.parse, event)?;
        let now = ms(py, now)?;
        let headers = headers.unwrap_or_default();
        let body = body.unwrap_or_default();
        let hs = pairs(&headers);
        self.ep
            .notify(
                DialogKey::from_u64(dialog),
                &key,
                st,
                reason.map(str::as_bytes),
                &hs,
                &body,
                now,
            )
            .map(TxnId::to_u64)
            .map_err(|e| endpoint_error(py, e, &format!("NOTIFY {event} in dialog {dialog}")))
    }

    /// (state, deadline in seconds) of a subscription of `dialog`, or None.
    #[pyo3(signature = (dialog, event, *, role = "subscriber"))]
    fn subscription(
        &self,
        py: Python<'_>,
        dialog: u64,
        event: &str,
        role: &str,
    ) -> PyResult<Option<(&'static str, f64)>> {
        let role = match role {
            "subscriber" => Role::Subscriber,
            "notifier" => Role::Notifier,
            _ => {
                return Err(local_msg(
                    py,
                    format!("role must be 'subscriber' or 'notifier', not {role:?}"),
                ))
            }
        };
        let key = event_key(py, &self.ep.config().txn.parse, event)?;
        Ok(self
            .ep
            .subscription(DialogKey::from_u64(dialog), role, &key)
            .map(|(s, at)| (s.as_str(), at as f64 / 1000.0)))
    }

    #[pyo3(signature = (txn, *, now))]
    fn cancel(&mut self, py: Python<'_>, txn: u64, now: f64) -> PyResult<Option<u64>> {
        let now = ms(py, now)?;
        self.ep
            .cancel(TxnId::from_u64(txn), now)
            .map(|t| t.map(TxnId::to_u64))
            .map_err(|e| endpoint_error(py, e, &format!("CANCEL of transaction {txn}")))
    }

    /// The destination is unreachable (an ICMP error, a refused or reset connection, RFC
    /// 3261 §18.4): every client transaction to it fails now. Returns how many.
    #[pyo3(signature = (dest, *, now, transport = None))]
    fn unreachable(
        &mut self,
        py: Python<'_>,
        dest: (String, Port),
        now: f64,
        transport: Option<&str>,
    ) -> PyResult<usize> {
        let t = self.tr(py, transport)?;
        let dest = peer(py, "dest", dest, t)?;
        let now = ms(py, now)?;
        Ok(self.ep.unreachable(dest, now))
    }

    #[pyo3(signature = (txn, *, now))]
    fn transport_error(&mut self, py: Python<'_>, txn: u64, now: f64) -> PyResult<()> {
        let now = ms(py, now)?;
        self.ep.transport_error(TxnId::from_u64(txn), now);
        Ok(())
    }

    fn tick(&mut self, py: Python<'_>, now: f64) -> PyResult<()> {
        let now = ms(py, now)?;
        self.ep.tick(now);
        Ok(())
    }

    fn next_deadline(&mut self) -> Option<f64> {
        self.ep.next_deadline().map(|t| t as f64 / 1000.0)
    }

    fn transmit<'py>(
        &mut self,
        py: Python<'py>,
    ) -> Vec<(Bound<'py, PyBytes>, (String, u16), &'static str)> {
        let mut out = Vec::new();
        while let Some(d) = self.ep.poll_transmit() {
            let t = match d.dest.transport {
                Transport::Udp => "udp",
                Transport::Tcp => "tcp",
                Transport::Tls => "tls",
                Transport::Sctp => "sctp",
                Transport::Ws => "ws",
                Transport::Wss => "wss",
            };
            out.push((PyBytes::new(py, &d.bytes), addr_tuple(d.dest.addr), t));
        }
        out
    }

    fn events(&mut self, py: Python<'_>) -> PyResult<Vec<EndpointEvent_>> {
        let mut out = Vec::new();
        while let Some(e) = self.ep.poll_event() {
            out.push(self.event(py, e)?);
        }
        Ok(out)
    }

    fn dialog(&self, key: u64) -> Option<EndpointDialog> {
        let d = self.ep.dialog(DialogKey::from_u64(key))?;
        Some(EndpointDialog {
            key,
            call_id: lossy_string(&d.id.call_id),
            local_tag: lossy_string(&d.id.local_tag),
            remote_tag: lossy_string(&d.id.remote_tag),
            state: dialog_state_str(d.state),
            is_uac: d.is_uac,
            local_seq: d.local_seq,
            remote_seq: d.remote_seq,
            local_party: lossy_string(&d.local_party),
            remote_party: lossy_string(&d.remote_party),
            remote_target: lossy_string(&d.remote_target),
            route_set: d.route_set.iter().map(|r| lossy_string(r)).collect(),
            secure: d.secure,
        })
    }

    fn dialogs(&self) -> Vec<u64> {
        self.ep
            .dialog_keys()
            .into_iter()
            .map(DialogKey::to_u64)
            .collect()
    }

    #[getter]
    fn transactions(&self) -> usize {
        self.ep.transactions()
    }

    fn transaction_state(&self, txn: u64) -> Option<&'static str> {
        self.ep
            .transaction_state(TxnId::from_u64(txn))
            .map(state_str)
    }

    fn transaction_kind(&self, txn: u64) -> Option<&'static str> {
        self.ep.transaction_kind(TxnId::from_u64(txn)).map(kind_str)
    }

    fn token(&mut self) -> String {
        self.ep.token()
    }

    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.ep.counters();
        let d = PyDict::new(py);
        let t = c.txn;
        let dc = c.dialog;
        for (k, v) in [
            ("received", t.received),
            ("malformed", t.malformed),
            ("retransmissions", t.retransmissions),
            ("retransmitted", t.retransmitted),
            ("unmatched_responses", t.unmatched_responses),
            ("unmatched_acks", t.unmatched_acks),
            ("ignored", t.ignored),
            ("transactions_created", t.created),
            ("transactions_rejected", t.rejected),
            ("transactions_evicted", t.evicted),
            ("timeouts", t.timeouts),
            ("transactions_terminated", t.terminated),
            ("dialogs_created", dc.created),
            ("dialogs_removed", dc.removed),
            ("dialogs_refused", dc.refused),
            ("stray_acks", dc.stray_acks),
            ("rejected_481", dc.rejected_481),
            ("rejected_482", dc.rejected_482),
            ("rejected_500", dc.rejected_500),
            ("rejected_491", dc.rejected_491),
            ("forks_ended", dc.forks_ended),
            ("retransmitted_2xx", dc.retransmitted_2xx),
            ("no_ack", dc.no_ack),
            ("auto_rejected", c.auto_rejected),
            ("pracks_sent", c.pracks_sent),
            ("provisionals_dropped", c.provisionals_dropped),
            ("glare_retries", c.glare_retries),
            ("pracks_received", c.pracks_received),
            ("pracks_missing", c.pracks_missing),
            ("session_too_small", c.session_too_small),
            ("sessions_expired", c.sessions_expired),
            ("subscriptions_expired", c.subscriptions_expired),
            ("malformed_rejected", c.malformed_rejected),
            ("malformed_dropped", c.malformed_dropped),
            ("session_floor_applied", c.session_floor_applied),
        ] {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let (h, p) = addr_tuple(self.ep.config().local.addr);
        format!(
            "<Endpoint {}:{} {} transactions={} dialogs={}>",
            h,
            p,
            self.transport(),
            self.ep.transactions(),
            self.ep.dialog_count()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Endpoint>()?;
    m.add_class::<EndpointEvent_>()?;
    m.add_class::<EndpointDialog>()?;
    Ok(())
}
