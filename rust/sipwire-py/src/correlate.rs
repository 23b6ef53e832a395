//! `Correlator`: the passive correlator (observed traffic grouped into transactions, dialogs
//! and calls) and the snapshots it hands out.
//!
//! Messages are stored in the core as `Arc<[u8]>` with their span index. A report is a
//! snapshot taken under the lock (reference counts, no Python objects); the Python objects
//! are made after the lock is released, and a stored message becomes a `Request` or
//! `Response` (a new `bytes` object) only when it is read.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyDict, PyList};
use sipwire::correlate::{self as core, Captured, Config, Fed, Id, Packet};
use sipwire::message::MessageIndex;
use sipwire::txn::Transport;

use crate::errors::local_msg;
use crate::message::{wrap, Mode, Request, Response};

type Store = core::Correlator<Arc<[u8]>>;

/// A stored message: shared bytes and their index.
#[derive(Clone)]
struct Msg {
    bytes: Arc<[u8]>,
    index: MessageIndex,
}

impl Msg {
    fn of(c: &Captured<Arc<[u8]>>) -> Msg {
        Msg {
            bytes: c.raw().clone(),
            index: c.index().clone(),
        }
    }

    /// A `Request` or `Response` over a copy of the bytes (lenient, as the correlator read it).
    fn to_py(&self, py: Python<'_>) -> PyResult<PyObject> {
        let data = PyBytes::new(py, &self.bytes).unbind();
        let mode = Mode {
            strict: false,
            validate: false,
            limits: None,
        };
        wrap(py, data, self.index.clone(), mode)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(crate) fn addr_tuple(a: SocketAddr) -> (String, u16) {
    (a.ip().to_string(), a.port())
}

fn rtp_tuple(e: &core::RtpEndpoint) -> (String, u16) {
    (e.address.to_string(), e.port)
}

pub(crate) fn socket_addr(
    py: Python<'_>,
    what: &str,
    (host, port): (String, u16),
) -> PyResult<SocketAddr> {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    match h.parse::<IpAddr>() {
        Ok(ip) => Ok(SocketAddr::new(ip, port)),
        Err(_) => Err(local_msg(
            py,
            format!("{what} must be (IP address, port), not ({host:?}, {port})"),
        )),
    }
}

pub(crate) fn transport_of(py: Python<'_>, s: &str) -> PyResult<Transport> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        "tls" => Transport::Tls,
        "sctp" => Transport::Sctp,
        "ws" => Transport::Ws,
        "wss" => Transport::Wss,
        _ => {
            return Err(local_msg(
                py,
                format!("transport must be udp, tcp, tls, sctp, ws or wss, not {s:?}"),
            ))
        }
    })
}

fn fed_str(f: &Fed) -> &'static str {
    match f {
        Fed::Stored(_) => "stored",
        Fed::Retransmission(_) => "retransmission",
        Fed::Parked => "parked",
        Fed::Dropped => "dropped",
        Fed::Uncorrelated => "uncorrelated",
        Fed::Unparsable(_) => "unparsable",
    }
}

/// A list of Python objects made once from stored messages.
fn messages(
    py: Python<'_>,
    cell: &GILOnceCell<Vec<PyObject>>,
    src: &[Msg],
) -> PyResult<Py<PyList>> {
    let v = cell.get_or_try_init(py, || src.iter().map(|m| m.to_py(py)).collect())?;
    Ok(PyList::new(py, v.iter().map(|o| o.bind(py)))?.unbind())
}

fn message(
    py: Python<'_>,
    cell: &GILOnceCell<Option<PyObject>>,
    src: &Option<Msg>,
) -> PyResult<Option<PyObject>> {
    let v = cell.get_or_try_init(py, || src.as_ref().map(|m| m.to_py(py)).transpose())?;
    Ok(v.as_ref().map(|o| o.clone_ref(py)))
}

/// One transaction (RFC 3261 §17): a request, its responses, and for an INVITE its ACK and
/// CANCEL. A snapshot: it does not change when more is fed.
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct Transaction {
    /// `INVITE` for an INVITE transaction (never `ACK` or `CANCEL`), else the method.
    #[pyo3(get)]
    method: String,
    /// The top Via branch, None when there is none.
    #[pyo3(get)]
    branch: Option<String>,
    #[pyo3(get)]
    call_id: String,
    #[pyo3(get)]
    cseq: u32,
    /// The status of the earliest final response (200-699), None without one.
    #[pyo3(get)]
    final_status: Option<u16>,
    /// Copies of the request, responses, ACK or CANCEL seen again (counted, not kept).
    #[pyo3(get)]
    retransmissions: u32,
    /// Keyed by the RFC 2543 fallback (no RFC 3261 branch).
    #[pyo3(get)]
    is_rfc2543: bool,
    #[pyo3(get)]
    first_time: f64,
    #[pyo3(get)]
    last_time: f64,
    call: Option<Id>,
    request: Option<Msg>,
    responses: Vec<Msg>,
    ack: Option<Msg>,
    cancel: Option<Msg>,
    cancel_responses: Vec<Msg>,
    request_obj: GILOnceCell<Option<PyObject>>,
    responses_obj: GILOnceCell<Vec<PyObject>>,
    ack_obj: GILOnceCell<Option<PyObject>>,
    cancel_obj: GILOnceCell<Option<PyObject>>,
    cancel_responses_obj: GILOnceCell<Vec<PyObject>>,
}

impl Transaction {
    fn of(t: &core::Transaction<'_, Arc<[u8]>>) -> Transaction {
        Transaction {
            method: t.method().to_owned(),
            branch: t.branch().map(text),
            call_id: text(t.call_id()),
            cseq: t.cseq(),
            final_status: t.final_status(),
            retransmissions: t.retransmissions(),
            is_rfc2543: t.is_rfc2543(),
            first_time: t.first_time(),
            last_time: t.last_time(),
            call: t.call(),
            request: t.request().map(Msg::of),
            responses: t.responses().into_iter().map(Msg::of).collect(),
            ack: t.ack().map(Msg::of),
            cancel: t.cancel().map(Msg::of),
            cancel_responses: t.cancel_responses().into_iter().map(Msg::of).collect(),
            request_obj: GILOnceCell::new(),
            responses_obj: GILOnceCell::new(),
            ack_obj: GILOnceCell::new(),
            cancel_obj: GILOnceCell::new(),
            cancel_responses_obj: GILOnceCell::new(),
        }
    }
}

#[pymethods]
impl Transaction {
    /// The request (a `Request`), None when it was not captured.
    #[getter]
    fn request(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        message(py, &self.request_obj, &self.request)
    }

    /// Distinct responses (`Response`), in time order.
    #[getter]
    fn responses(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        messages(py, &self.responses_obj, &self.responses)
    }

    /// The ACK of an INVITE transaction (for a 2xx too, though it is its own transaction in
    /// RFC 3261 §17), None when not captured.
    #[getter]
    fn ack(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        message(py, &self.ack_obj, &self.ack)
    }

    /// The CANCEL of an INVITE transaction, None when not captured.
    #[getter]
    fn cancel(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        message(py, &self.cancel_obj, &self.cancel)
    }

    /// The responses to the CANCEL, in time order.
    #[getter]
    fn cancel_responses(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        messages(py, &self.cancel_responses_obj, &self.cancel_responses)
    }

    fn __repr__(&self) -> String {
        format!(
            "<Transaction {} branch={:?} cseq={} final_status={:?} retransmissions={}>",
            self.method,
            self.branch.as_deref().unwrap_or(""),
            self.cseq,
            self.final_status,
            self.retransmissions
        )
    }
}

/// An INVITE dialog (RFC 3261 §12): Call-ID and tags, From tag the caller's when known.
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct Dialog {
    #[pyo3(get)]
    call_id: String,
    #[pyo3(get)]
    from_tag: String,
    #[pyo3(get)]
    to_tag: String,
    /// "early", "confirmed" or "terminated".
    #[pyo3(get)]
    state: &'static str,
    #[pyo3(get)]
    first_time: f64,
    #[pyo3(get)]
    last_time: f64,
}

impl Dialog {
    fn of(d: &core::Dialog) -> Dialog {
        Dialog {
            call_id: text(&d.call_id),
            from_tag: text(&d.from_tag),
            to_tag: text(&d.to_tag),
            state: d.state.as_str(),
            first_time: d.first_time,
            last_time: d.last_time,
        }
    }
}

#[pymethods]
impl Dialog {
    fn __repr__(&self) -> String {
        format!(
            "<Dialog call_id={:?} from_tag={:?} to_tag={:?} {}>",
            self.call_id, self.from_tag, self.to_tag, self.state
        )
    }
}

/// One m= line of an offer/answer exchange: the offerer's RTP endpoint from the offer, the
/// answerer's from the answer (RFC 3264 §6).
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct MediaStream {
    #[pyo3(get)]
    media: String,
    #[pyo3(get)]
    offer: Option<(String, u16)>,
    #[pyo3(get)]
    answer: Option<(String, u16)>,
    #[pyo3(get)]
    offer_direction: Option<&'static str>,
    #[pyo3(get)]
    answer_direction: Option<&'static str>,
}

#[pymethods]
impl MediaStream {
    fn __repr__(&self) -> String {
        format!(
            "<MediaStream {} offer={:?} answer={:?}>",
            self.media, self.offer, self.answer
        )
    }
}

/// One offer/answer exchange of a call (INVITE, re-INVITE or UPDATE).
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct MediaSession {
    /// "INVITE" or "UPDATE".
    #[pyo3(get)]
    method: &'static str,
    #[pyo3(get)]
    cseq: u32,
    #[pyo3(get)]
    offer_time: Option<f64>,
    #[pyo3(get)]
    answer_time: Option<f64>,
    /// Signalling addresses the offer and the answer came from.
    #[pyo3(get)]
    offerer: Option<(String, u16)>,
    #[pyo3(get)]
    answerer: Option<(String, u16)>,
    /// RTP address and port of the first stream that has one, from the offer and the answer.
    #[pyo3(get)]
    offerer_rtp: Option<(String, u16)>,
    #[pyo3(get)]
    answerer_rtp: Option<(String, u16)>,
    streams: Vec<Py<MediaStream>>,
}

impl MediaSession {
    fn of(py: Python<'_>, m: &core::MediaSession) -> PyResult<MediaSession> {
        let streams = m
            .streams
            .iter()
            .map(|s| {
                Py::new(
                    py,
                    MediaStream {
                        media: s.media.to_string(),
                        offer: s.offer.as_ref().map(rtp_tuple),
                        answer: s.answer.as_ref().map(rtp_tuple),
                        offer_direction: s.offer_direction.map(|d| d.as_str()),
                        answer_direction: s.answer_direction.map(|d| d.as_str()),
                    },
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(MediaSession {
            method: m.method.as_str(),
            cseq: m.cseq,
            offer_time: m.offer_time,
            answer_time: m.answer_time,
            offerer: m.offerer.map(addr_tuple),
            answerer: m.answerer.map(addr_tuple),
            offerer_rtp: m.offerer_rtp().map(rtp_tuple),
            answerer_rtp: m.answerer_rtp().map(rtp_tuple),
            streams,
        })
    }
}

#[pymethods]
impl MediaSession {
    /// The streams, in m= line order.
    #[getter]
    fn streams(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        Ok(PyList::new(py, self.streams.iter().map(|s| s.bind(py)))?.unbind())
    }

    fn __repr__(&self) -> String {
        format!(
            "<MediaSession {} cseq={} offerer_rtp={:?} answerer_rtp={:?}>",
            self.method, self.cseq, self.offerer_rtp, self.answerer_rtp
        )
    }
}

/// A call: the INVITE dialogs of one Call-ID with their re-INVITEs and UPDATEs, and every
/// transaction of that Call-ID the correlator holds.
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct Call {
    #[pyo3(get)]
    call_id: String,
    /// "answered", "busy", "cancelled", "rejected", "timeout" or "in_progress".
    #[pyo3(get)]
    outcome: &'static str,
    /// The final status deciding the outcome (a 2xx when answered).
    #[pyo3(get)]
    final_status: Option<u16>,
    #[pyo3(get)]
    first_time: f64,
    #[pyo3(get)]
    last_time: f64,
    #[pyo3(get)]
    invite_time: Option<f64>,
    #[pyo3(get)]
    ringing_time: Option<f64>,
    #[pyo3(get)]
    answer_time: Option<f64>,
    #[pyo3(get)]
    end_time: Option<f64>,
    #[pyo3(get)]
    time_to_ringing: Option<f64>,
    #[pyo3(get)]
    time_to_answer: Option<f64>,
    #[pyo3(get)]
    duration: Option<f64>,
    /// INVITE transactions (initial ones and re-INVITEs).
    #[pyo3(get)]
    invites: usize,
    #[pyo3(get)]
    hold_periods: Vec<(f64, Option<f64>)>,
    media: Vec<Py<MediaSession>>,
    dialogs: Vec<Py<Dialog>>,
    transactions: Vec<Py<Transaction>>,
}

#[pymethods]
impl Call {
    /// Offer/answer exchanges that took effect, in time order.
    #[getter]
    fn media(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        Ok(PyList::new(py, self.media.iter().map(|s| s.bind(py)))?.unbind())
    }

    #[getter]
    fn dialogs(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        Ok(PyList::new(py, self.dialogs.iter().map(|s| s.bind(py)))?.unbind())
    }

    /// Every transaction of the call held (INVITE, ACK-less BYE, ...), by first time.
    #[getter]
    fn transactions(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        Ok(PyList::new(py, self.transactions.iter().map(|s| s.bind(py)))?.unbind())
    }

    fn __repr__(&self) -> String {
        format!(
            "<Call call_id={:?} {} final_status={:?}>",
            self.call_id, self.outcome, self.final_status
        )
    }
}

/// The passive correlator: messages seen on the wire (a capture, a mirror port, a log), fed
/// in any order with their time and addresses, grouped into transactions, dialogs and calls.
/// A message that does not parse is counted, never raised. Bounded: see `counters`.
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct Correlator {
    inner: Mutex<Store>,
}

impl Correlator {
    fn lock(&self) -> PyResult<MutexGuard<'_, Store>> {
        self.inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("Correlator lock poisoned"))
    }

    fn txn_snapshot(store: &Store) -> Vec<Transaction> {
        store.transactions().iter().map(Transaction::of).collect()
    }
}

#[pymethods]
impl Correlator {
    #[new]
    #[pyo3(signature = (*, timeout=32.0))]
    fn new(py: Python<'_>, timeout: f64) -> PyResult<Self> {
        if !(timeout.is_finite() && timeout >= 0.0) {
            return Err(local_msg(
                py,
                format!("timeout must be a finite number of seconds >= 0, not {timeout}"),
            ));
        }
        let cfg = Config {
            timeout,
            ..Config::DEFAULT
        };
        Ok(Correlator {
            inner: Mutex::new(Store::with_storage(cfg)),
        })
    }

    /// Feeds one message: a datagram's bytes, or a parsed Request/Response. Returns what was
    /// done with it: "stored", "retransmission", "parked" (an ACK before its INVITE),
    /// "dropped" (a cap reached), "uncorrelated" (no usable Call-ID/CSeq/Via) or
    /// "unparsable".
    #[pyo3(signature = (data, *, time, src, dst, transport="udp"))]
    fn feed(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        time: f64,
        src: (String, u16),
        dst: (String, u16),
        transport: &str,
    ) -> PyResult<&'static str> {
        let packet = Packet::new(
            time,
            socket_addr(py, "src", src)?,
            socket_addr(py, "dst", dst)?,
            transport_of(py, transport)?,
        );
        let parsed = if let Ok(r) = data.downcast::<Request>() {
            let c = &r.get().core;
            Some((Arc::<[u8]>::from(c.buf(py)), c.index.clone()))
        } else if let Ok(r) = data.downcast::<Response>() {
            let c = &r.get().core;
            Some((Arc::<[u8]>::from(c.buf(py)), c.index.clone()))
        } else {
            None
        };
        let fed = match parsed {
            Some((bytes, index)) => self.lock()?.feed_indexed(bytes, index, packet),
            None => {
                let b = crate::as_bytes(py, data)?;
                self.lock()?.feed(b.as_bytes(), packet)
            }
        };
        Ok(fed_str(&fed))
    }

    /// Marks the capture as ended at `end_time` (default: the latest time fed). Calls with no
    /// final response are then "timeout" when silent for `timeout` seconds before it, else
    /// "in_progress".
    #[pyo3(signature = (end_time=None))]
    fn finish(&self, end_time: Option<f64>) -> PyResult<()> {
        self.lock()?.finish(end_time);
        Ok(())
    }

    /// Every transaction held, by the time of its first message.
    fn transactions(&self, py: Python<'_>) -> PyResult<Vec<Py<Transaction>>> {
        let snap = Self::txn_snapshot(&*self.lock()?);
        snap.into_iter().map(|t| Py::new(py, t)).collect()
    }

    /// Every dialog held, by the time of its first message.
    fn dialogs(&self, py: Python<'_>) -> PyResult<Vec<Py<Dialog>>> {
        let snap = self.lock()?.dialogs();
        snap.iter().map(|d| Py::new(py, Dialog::of(d))).collect()
    }

    /// Every call held, by the time of its first message.
    fn calls(&self, py: Python<'_>) -> PyResult<Vec<Py<Call>>> {
        let (calls, dialogs, txns) = {
            let store = self.lock()?;
            (store.calls(), store.dialogs(), Self::txn_snapshot(&store))
        };
        let mut dialog_objs: HashMap<Id, Py<Dialog>> = HashMap::with_capacity(dialogs.len());
        for d in &dialogs {
            dialog_objs.insert(d.id, Py::new(py, Dialog::of(d))?);
        }
        let mut by_call: HashMap<Id, Vec<Py<Transaction>>> = HashMap::new();
        for t in txns {
            if let Some(c) = t.call {
                by_call.entry(c).or_default().push(Py::new(py, t)?);
            }
        }
        calls
            .iter()
            .map(|c| {
                let media = c
                    .media
                    .iter()
                    .map(|m| Py::new(py, MediaSession::of(py, m)?))
                    .collect::<PyResult<Vec<_>>>()?;
                let call = Call {
                    call_id: text(&c.call_id),
                    outcome: c.outcome.as_str(),
                    final_status: c.final_status,
                    first_time: c.first_time,
                    last_time: c.last_time,
                    invite_time: c.invite_time,
                    ringing_time: c.ringing_time,
                    answer_time: c.answer_time,
                    end_time: c.end_time,
                    time_to_ringing: c.time_to_ringing(),
                    time_to_answer: c.time_to_answer(),
                    duration: c.duration(),
                    invites: c.invites,
                    hold_periods: c.hold_periods.iter().map(|h| (h.start, h.end)).collect(),
                    media,
                    dialogs: c
                        .dialogs
                        .iter()
                        .filter_map(|d| dialog_objs.get(d).map(|o| o.clone_ref(py)))
                        .collect(),
                    transactions: by_call.remove(&c.id).unwrap_or_default(),
                };
                Py::new(py, call)
            })
            .collect()
    }

    /// Calls per outcome, those held and those evicted.
    fn outcome_counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let n = self.lock()?.outcome_counts();
        outcomes_dict(py, &n, "")
    }

    /// What the correlator saw and had to let go: messages, requests, responses, unparsable,
    /// uncorrelated, retransmissions, transactions, orphan_responses, parked_acks, dialogs,
    /// calls, evicted_transactions, evicted_dialogs, evicted_calls, dropped, stored_bytes,
    /// and evicted_<outcome> for the outcomes of evicted calls.
    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = *self.lock()?.counters();
        let d = outcomes_dict(py, &c.evicted_outcomes, "evicted_")?;
        for (k, v) in [
            ("messages", c.messages),
            ("requests", c.requests),
            ("responses", c.responses),
            ("unparsable", c.unparsable),
            ("uncorrelated", c.uncorrelated),
            ("retransmissions", c.retransmissions),
            ("transactions", c.transactions),
            ("orphan_responses", c.orphan_responses),
            ("parked_acks", c.parked_acks),
            ("dialogs", c.dialogs),
            ("calls", c.calls),
            ("evicted_transactions", c.evicted_transactions),
            ("evicted_dialogs", c.evicted_dialogs),
            ("evicted_calls", c.evicted_calls),
            ("dropped", c.dropped),
            ("stored_bytes", c.stored_bytes),
        ] {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    fn __repr__(&self) -> PyResult<String> {
        let (t, d, c) = self.lock()?.sizes();
        Ok(format!(
            "<Correlator transactions={t} dialogs={d} calls={c}>"
        ))
    }
}

fn outcomes_dict<'py>(
    py: Python<'py>,
    n: &core::OutcomeCounts,
    prefix: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for o in [
        core::Outcome::Answered,
        core::Outcome::Busy,
        core::Outcome::Cancelled,
        core::Outcome::Rejected,
        core::Outcome::Timeout,
        core::Outcome::InProgress,
    ] {
        d.set_item(format!("{prefix}{}", o.as_str()), n.get(o))?;
    }
    Ok(d)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Correlator>()?;
    m.add_class::<Transaction>()?;
    m.add_class::<Dialog>()?;
    m.add_class::<Call>()?;
    m.add_class::<MediaSession>()?;
    m.add_class::<MediaStream>()?;
    Ok(())
}
