//! `Correlator`: the passive correlator (observed traffic grouped into transactions, dialogs
//! and calls) and the snapshots it hands out, as `CorrelatedCall`, `CorrelatedDialog`,
//! `CorrelatedTransaction`, `MediaSession` and `MediaStream` (the old names `Call`, `Dialog`
//! and `Transaction` are aliases in `_sipwire`; `sipwire.Call` is the user agent's).
//!
//! Messages are kept in the core (when asked, the default here) as `Arc<[u8]>` with their
//! span index. A report is a snapshot taken under the lock (reference counts, no Python
//! objects); the Python objects are made after the lock is released, and a kept message
//! becomes a `Request` or `Response` (a new `bytes` object) only when it is read.

use crate::lossy_string;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::exceptions::PyRuntimeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::pyclass::PyClass;
use pyo3::pyclass_init::PyClassInitializer;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use sipwire::correlate::{self as core, Captured, Config, Fed, Packet, Text};
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

pub(crate) fn addr_tuple(a: SocketAddr) -> (String, u16) {
    (ip_text(a.ip()), a.port())
}

/// An IP address as text (IPv4 written by hand: see `write_ip`).
pub(crate) fn ip_text(ip: IpAddr) -> String {
    let mut s = String::with_capacity(15);
    core::write_ip(&mut s, ip);
    s
}

fn rtp_tuple(e: &core::RtpEndpoint) -> (String, u16) {
    (e.address.to_string(), e.port)
}

/// An optional number as Python writes it.
fn py_opt(v: Option<u16>) -> String {
    v.map_or_else(|| "None".to_owned(), |v| v.to_string())
}

/// An optional (host, port) as Python writes it.
fn py_addr(v: &Option<(String, u16)>) -> String {
    v.as_ref()
        .map_or_else(|| "None".to_owned(), |(h, p)| format!("('{h}', {p})"))
}

fn strings(v: &[Text]) -> Vec<String> {
    v.iter().map(|s| s.as_str().to_owned()).collect()
}

/// A port number from Python: an int from 0 to 65535, else a LocalProtocolError saying so
/// (rather than the OverflowError of a `u16` argument).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Port(pub u16);

impl Port {
    pub(crate) fn new(py: Python<'_>, n: i128) -> PyResult<Self> {
        u16::try_from(n).map(Port).map_err(|_| {
            local_msg(
                py,
                format!("port {n} is out of range: a port is 0 to 65535"),
            )
        })
    }
}

impl<'py> FromPyObject<'py> for Port {
    fn extract_bound(ob: &Bound<'py, PyAny>) -> PyResult<Self> {
        // A machine-word int first: the 128-bit conversion (kept for the out-of-range message
        // of a huge int) goes through a byte array, ~120 instructions a port.
        match ob.extract::<i64>() {
            Ok(n) => Port::new(ob.py(), n.into()),
            Err(_) => Port::new(ob.py(), ob.extract()?),
        }
    }
}

/// A capture time from Python: a finite number of seconds.
pub(crate) fn finite(py: Python<'_>, what: &str, t: f64) -> PyResult<f64> {
    if t.is_finite() {
        Ok(t)
    } else {
        Err(local_msg(
            py,
            format!("{what} must be a finite number of seconds (the capture clock), not {t}"),
        ))
    }
}

pub(crate) fn socket_addr<S: AsRef<str>>(
    py: Python<'_>,
    what: &str,
    (host, Port(port)): (S, Port),
) -> PyResult<SocketAddr> {
    let host = host.as_ref();
    if let Some(ip) = dotted_quad(host.as_bytes()) {
        return Ok(SocketAddr::new(IpAddr::V4(ip), port));
    }
    let h = host.trim_start_matches('[').trim_end_matches(']');
    match h.parse::<IpAddr>() {
        Ok(ip) => Ok(SocketAddr::new(ip, port)),
        Err(_) => Err(local_msg(
            py,
            format!("{what} must be (IP address, port), not ({host:?}, {port})"),
        )),
    }
}

/// An IPv4 address in its usual form (four 0-255 numbers without leading zeros), read without
/// the general parser: it runs twice a message. Anything else is `None`, for `str::parse`.
fn dotted_quad(s: &[u8]) -> Option<Ipv4Addr> {
    if !(7..=15).contains(&s.len()) {
        return None;
    }
    // One pass: the number being read (`n`, `digits` of it), the ones before in `out`.
    let (mut out, mut n, mut digits, mut dots) = (0u32, 0u32, 0u32, 0u32);
    for &b in s {
        if b.is_ascii_digit() {
            // A leading zero, or past 255 (four digits without one are past it).
            if (digits == 1 && n == 0) || n * 10 + u32::from(b - b'0') > 255 {
                return None;
            }
            n = n * 10 + u32::from(b - b'0');
            digits += 1;
        } else if b == b'.' && digits > 0 && dots < 3 {
            out = out << 8 | n;
            (n, digits, dots) = (0, 0, dots + 1);
        } else {
            return None;
        }
    }
    (digits > 0 && dots == 3).then_some(Ipv4Addr::from(out << 8 | n))
}

/// `src`/`dst`: a `(host, port)` tuple, its host read in place (no copy of the `str`, no
/// reference to drop: this runs twice a message). Anything else goes through the general
/// extraction, for its usual errors.
fn endpoint(py: Python<'_>, what: &str, ob: &Bound<'_, PyAny>) -> PyResult<SocketAddr> {
    if let Ok(t) = ob.downcast::<PyTuple>() {
        if t.len() != 2 {
            return Err(local_msg(
                py,
                format!(
                    "{what} must be (IP address, port), not a tuple of length {}",
                    t.len()
                ),
            ));
        }
        if let (Ok(host), Ok(port)) = (t.get_borrowed_item(0), t.get_borrowed_item(1)) {
            if let Ok(host) = host.downcast::<PyString>() {
                let port: Port = port.extract().map_err(|e| argument_error(py, what, e))?;
                // A str that is not UTF-8 (a lone surrogate) is no address either.
                let text = host.to_str().map_err(|_| {
                    local_msg(
                        py,
                        format!(
                            "{what} must be (IP address, port), not {} (the host is not valid Unicode text)",
                            t.repr().map_or_else(|_| "that tuple".into(), |r| r.to_string())
                        ),
                    )
                })?;
                return socket_addr(py, what, (text, port));
            }
        }
    }
    let pair: (PyBackedStr, Port) = ob.extract().map_err(|e| argument_error(py, what, e))?;
    socket_addr(py, what, pair)
}

/// A TypeError from extracting an argument, told with the argument's name as PyO3 tells it.
fn argument_error(py: Python<'_>, what: &str, e: PyErr) -> PyErr {
    if e.get_type(py)
        .is(py.get_type::<pyo3::exceptions::PyTypeError>())
    {
        let told =
            pyo3::exceptions::PyTypeError::new_err(format!("argument '{what}': {}", e.value(py)));
        told.set_cause(py, e.cause(py));
        told
    } else {
        e
    }
}

pub(crate) fn transport_of(py: Python<'_>, s: &str) -> PyResult<Transport> {
    // Compared without folding into a new string: this runs on every message fed.
    const NAMES: [(&str, Transport); 6] = [
        ("udp", Transport::Udp),
        ("tcp", Transport::Tcp),
        ("tls", Transport::Tls),
        ("sctp", Transport::Sctp),
        ("ws", Transport::Ws),
        ("wss", Transport::Wss),
    ];
    match NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        Some(&(_, t)) => Ok(t),
        None => Err(local_msg(
            py,
            format!("transport must be udp, tcp, tls, sctp, ws or wss, not {s:?}"),
        )),
    }
}

fn fed_name<'py>(py: Python<'py>, f: &Fed) -> Bound<'py, PyString> {
    let s = match f {
        Fed::Stored(_) => intern!(py, "stored"),
        Fed::Retransmission(_) => intern!(py, "retransmission"),
        Fed::Duplicate(_) => intern!(py, "duplicate"),
        Fed::Parked => intern!(py, "parked"),
        Fed::Dropped => intern!(py, "dropped"),
        Fed::Uncorrelated(_) => intern!(py, "uncorrelated"),
        Fed::Unparsable(_) => intern!(py, "unparsable"),
    };
    s.clone()
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
#[pyclass(frozen, module = "sipwire._sipwire", name = "CorrelatedTransaction")]
pub struct Transaction {
    // Kept inline (`Text`): three allocations a transaction fewer in `calls()`.
    method: Text,
    branch: Option<Text>,
    call_id: Text,
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
    /// The earliest copy of the request, None when it was not captured.
    #[pyo3(get)]
    request_time: Option<f64>,
    /// (time, status) of each distinct response, in time order (also when messages are not
    /// kept).
    #[pyo3(get)]
    statuses: Vec<(f64, u16)>,
    /// The messages kept (`keep_messages=True`); boxed, so that a transaction without them
    /// (the default) is a third of the size.
    kept: Option<Box<KeptMsgs>>,
}

/// A transaction's kept messages, each made a Python object on its first read.
struct KeptMsgs {
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

impl KeptMsgs {
    fn of(t: &core::Transaction<'_, Arc<[u8]>>) -> Option<Box<KeptMsgs>> {
        let k = KeptMsgs {
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
        };
        let none = k.request.is_none()
            && k.responses.is_empty()
            && k.ack.is_none()
            && k.cancel.is_none()
            && k.cancel_responses.is_empty();
        (!none).then(|| Box::new(k))
    }
}

type One<'a> = (&'a GILOnceCell<Option<PyObject>>, &'a Option<Msg>);
type Many<'a> = (&'a GILOnceCell<Vec<PyObject>>, &'a [Msg]);

impl Transaction {
    /// A kept message (`pick`s cell and message), None when none was kept.
    fn one(
        &self,
        py: Python<'_>,
        pick: impl Fn(&KeptMsgs) -> One<'_>,
    ) -> PyResult<Option<PyObject>> {
        match self.kept.as_deref().map(pick) {
            Some((cell, m)) => message(py, cell, m),
            None => Ok(None),
        }
    }

    /// Kept messages (`pick`s cell and messages), an empty list when none were kept.
    fn many(&self, py: Python<'_>, pick: impl Fn(&KeptMsgs) -> Many<'_>) -> PyResult<Py<PyList>> {
        match self.kept.as_deref().map(pick) {
            Some((cell, m)) => messages(py, cell, m),
            None => Ok(PyList::empty(py).unbind()),
        }
    }

    fn of(t: &core::Transaction<'_, Arc<[u8]>>) -> Transaction {
        Transaction {
            method: Text::new(t.method()),
            branch: t.branch().map(lossy_text),
            call_id: lossy_text(t.call_id()),
            cseq: t.cseq(),
            final_status: t.final_status(),
            retransmissions: t.retransmissions(),
            is_rfc2543: t.is_rfc2543(),
            first_time: t.first_time(),
            last_time: t.last_time(),
            request_time: t.request_time(),
            statuses: t.statuses(),
            kept: KeptMsgs::of(t),
        }
    }
}

/// Bytes as text, invalid UTF-8 replaced (as `lossy_string`), inline when short.
fn lossy_text(b: &[u8]) -> Text {
    Text::new(&sipwire::scan::lossy_str(b))
}

#[pymethods]
impl Transaction {
    /// `INVITE` for an INVITE transaction (never `ACK` or `CANCEL`), else the method.
    #[getter]
    fn method(&self) -> &str {
        &self.method
    }

    /// The top Via branch, None when there is none.
    #[getter]
    fn branch(&self) -> Option<&str> {
        self.branch.as_deref()
    }

    #[getter]
    fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The request (a `Request`), None when it was not captured.
    #[getter]
    fn request(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        self.one(py, |k| (&k.request_obj, &k.request))
    }

    /// Distinct responses (`Response`), in time order.
    #[getter]
    fn responses(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        self.many(py, |k| (&k.responses_obj, &k.responses))
    }

    /// The ACK of an INVITE transaction (for a 2xx too, though it is its own transaction in
    /// RFC 3261 §17), None when not captured.
    #[getter]
    fn ack(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        self.one(py, |k| (&k.ack_obj, &k.ack))
    }

    /// The CANCEL of an INVITE transaction, None when not captured.
    #[getter]
    fn cancel(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        self.one(py, |k| (&k.cancel_obj, &k.cancel))
    }

    /// The responses to the CANCEL, in time order.
    #[getter]
    fn cancel_responses(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        self.many(py, |k| (&k.cancel_responses_obj, &k.cancel_responses))
    }

    fn __repr__(&self) -> String {
        format!(
            "<CorrelatedTransaction {} branch={:?} cseq={} final_status={} retransmissions={}>",
            self.method,
            self.branch.as_deref().unwrap_or(""),
            self.cseq,
            py_opt(self.final_status),
            self.retransmissions
        )
    }
}

/// An INVITE dialog (RFC 3261 §12): Call-ID and tags, From tag the caller's when known.
#[pyclass(frozen, module = "sipwire._sipwire", name = "CorrelatedDialog")]
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
            call_id: lossy_string(&d.call_id),
            from_tag: lossy_string(&d.from_tag),
            to_tag: lossy_string(&d.to_tag),
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
            "<CorrelatedDialog call_id={:?} from_tag={:?} to_tag={:?} {}>",
            self.call_id, self.from_tag, self.to_tag, self.state
        )
    }
}

/// One m= line of an offer/answer exchange: the offerer's RTP endpoint from the offer, the
/// answerer's from the answer (RFC 3264 §6), the payload types and codecs of each, and the
/// negotiated codec.
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
    /// (`u16`: PyO3 would make a `Vec<u8>` a `bytes`.)
    #[pyo3(get)]
    offer_payload_types: Vec<u16>,
    #[pyo3(get)]
    offer_codecs: Vec<String>,
    #[pyo3(get)]
    answer_payload_types: Vec<u16>,
    #[pyo3(get)]
    answer_codecs: Vec<String>,
    /// The first of the answer's formats that the offer had (RFC 3264 §6.1).
    #[pyo3(get)]
    codec: Option<String>,
    #[pyo3(get)]
    codec_payload_type: Option<u8>,
}

#[pymethods]
impl MediaStream {
    fn __repr__(&self) -> String {
        format!(
            "<MediaStream {} offer={} answer={} codec={}>",
            self.media,
            py_addr(&self.offer),
            py_addr(&self.answer),
            self.codec.as_deref().unwrap_or("None")
        )
    }
}

/// One offer/answer exchange of a call (INVITE, re-INVITE or UPDATE).
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct MediaSession {
    /// "INVITE", "UPDATE" or "PRACK".
    #[pyo3(get)]
    method: &'static str,
    #[pyo3(get)]
    cseq: u32,
    /// The To tag of its dialog ("" when none answered).
    #[pyo3(get)]
    to_tag: String,
    /// The answer came before the 2xx (early media): in a provisional response, or in the
    /// PRACK of a reliable provisional response that carried a late offer (RFC 3262 §5).
    #[pyo3(get)]
    early: bool,
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
                        offer_payload_types: s
                            .offer_payload_types
                            .iter()
                            .map(|&p| u16::from(p))
                            .collect(),
                        offer_codecs: strings(&s.offer_codecs),
                        answer_payload_types: s
                            .answer_payload_types
                            .iter()
                            .map(|&p| u16::from(p))
                            .collect(),
                        answer_codecs: strings(&s.answer_codecs),
                        codec: s.codec.as_deref().map(str::to_owned),
                        codec_payload_type: s.codec_payload_type,
                    },
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(MediaSession {
            method: m.method.as_str(),
            cseq: m.cseq,
            to_tag: lossy_string(&m.to_tag),
            early: m.early,
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
            "<MediaSession {} cseq={} to_tag={:?} offerer_rtp={} answerer_rtp={}>",
            self.method,
            self.cseq,
            self.to_tag,
            py_addr(&self.offerer_rtp),
            py_addr(&self.answerer_rtp)
        )
    }
}

/// A call: the INVITE dialogs of one Call-ID with their re-INVITEs, UPDATEs and PRACKs, and
/// every transaction of that Call-ID the correlator holds.
#[pyclass(frozen, module = "sipwire._sipwire", name = "CorrelatedCall")]
pub struct Call {
    #[pyo3(get)]
    call_id: String,
    /// "answered", "busy", "cancelled", "rejected", "timeout", "early_media",
    /// "in_progress" or "partial".
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
    cancel_time: Option<f64>,
    #[pyo3(get)]
    time_to_ringing: Option<f64>,
    #[pyo3(get)]
    time_to_answer: Option<f64>,
    #[pyo3(get)]
    duration: Option<f64>,
    /// INVITE transactions (initial ones, their forks and hops, and re-INVITEs).
    #[pyo3(get)]
    invites: usize,
    #[pyo3(get)]
    caller: Option<String>,
    #[pyo3(get)]
    callee: Option<String>,
    /// Where the initial INVITE went from and to, made a (host, port) tuple when read.
    src: Option<SocketAddr>,
    dst: Option<SocketAddr>,
    #[pyo3(get)]
    messages: u32,
    #[pyo3(get)]
    retransmissions: u32,
    /// "caller" or "callee": who sent the first BYE.
    #[pyo3(get)]
    hangup: Option<&'static str>,
    #[pyo3(get)]
    early_media: bool,
    /// Finished early because the call table was full.
    #[pyo3(get)]
    evicted: bool,
    #[pyo3(get)]
    hold_periods: Vec<(f64, Option<f64>)>,
    /// (time, digit, duration in ms) of each DTMF digit sent in an INFO request.
    #[pyo3(get)]
    dtmf: Vec<(f64, &'static str, Option<u32>)>,
    /// The nested objects are made when first read: most readers of a call want its times
    /// and outcome, and making every transaction, dialog and media object up front was about
    /// half of `calls()`.
    pending: Mutex<Option<Nested>>,
    media: GILOnceCell<Vec<Py<MediaSession>>>,
    dialogs: GILOnceCell<Vec<Py<Dialog>>>,
    transactions: GILOnceCell<Vec<Py<Transaction>>>,
}

/// A call's transactions, dialogs and media sessions, not yet Python objects.
struct Nested {
    media: Vec<core::MediaSession>,
    dialogs: Vec<Dialog>,
    transactions: Vec<Transaction>,
}

impl Call {
    fn of(
        c: core::Call,
        mut dialogs: Vec<core::Dialog>,
        transactions: Vec<Transaction>,
        evicted: bool,
    ) -> Call {
        // The call's dialogs in its own order (a dialog of the snapshot it does not list is
        // left out, as before).
        let dialogs = c
            .dialogs
            .iter()
            .filter_map(|id| {
                let i = dialogs.iter().position(|d| d.id == *id)?;
                Some(Dialog::of(&dialogs.swap_remove(i)))
            })
            .collect();
        Call {
            call_id: lossy_string(&c.call_id),
            outcome: c.outcome.as_str(),
            final_status: c.final_status,
            first_time: c.first_time,
            last_time: c.last_time,
            invite_time: c.invite_time,
            ringing_time: c.ringing_time,
            answer_time: c.answer_time,
            end_time: c.end_time,
            cancel_time: c.cancel_time,
            time_to_ringing: c.time_to_ringing(),
            time_to_answer: c.time_to_answer(),
            duration: c.duration(),
            invites: c.invites,
            caller: c.caller.map(String::from),
            callee: c.callee.map(String::from),
            src: c.src,
            dst: c.dst,
            messages: c.messages,
            retransmissions: c.retransmissions,
            hangup: c.hangup.map(|s| s.as_str()),
            early_media: c.early_media,
            evicted,
            hold_periods: c.hold_periods.iter().map(|h| (h.start, h.end)).collect(),
            dtmf: c
                .info_dtmf
                .iter()
                .map(|d| (d.time, d.digit, d.duration_ms))
                .collect(),
            pending: Mutex::new(Some(Nested {
                media: c.media,
                dialogs,
                transactions,
            })),
            media: GILOnceCell::new(),
            dialogs: GILOnceCell::new(),
            transactions: GILOnceCell::new(),
        }
    }

    /// Takes what `pick` wants of the nested values (each is taken once: its cell keeps the
    /// objects made of it).
    fn take<T: Default>(&self, pick: impl FnOnce(&mut Nested) -> T) -> PyResult<T> {
        let mut pending = self
            .pending
            .lock()
            .map_err(|_| PyRuntimeError::new_err("CorrelatedCall lock poisoned"))?;
        Ok(pending.as_mut().map(pick).unwrap_or_default())
    }

    /// A list of nested objects: made from what `pick` takes on the first read, kept in
    /// `cell`, a new list of the same objects on every read.
    fn nested<T, C>(
        &self,
        py: Python<'_>,
        cell: &GILOnceCell<Vec<Py<C>>>,
        pick: impl FnOnce(&mut Nested) -> Vec<T>,
        make: impl Fn(T) -> PyResult<C>,
    ) -> PyResult<Py<PyList>>
    where
        C: PyClass + Into<PyClassInitializer<C>>,
    {
        let made = cell.get_or_try_init(py, || {
            self.take(pick)?
                .into_iter()
                .map(|t| Py::new(py, make(t)?))
                .collect::<PyResult<Vec<_>>>()
        })?;
        Ok(PyList::new(py, made.iter().map(|s| s.bind(py)))?.unbind())
    }
}

#[pymethods]
impl Call {
    /// Where the initial INVITE went from (host, port).
    #[getter]
    fn src(&self) -> Option<(String, u16)> {
        self.src.map(addr_tuple)
    }

    /// Where the initial INVITE went to (host, port).
    #[getter]
    fn dst(&self) -> Option<(String, u16)> {
        self.dst.map(addr_tuple)
    }

    /// Offer/answer exchanges that took effect, in time order.
    #[getter]
    fn media(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        self.nested(
            py,
            &self.media,
            |n| std::mem::take(&mut n.media),
            |m| MediaSession::of(py, &m),
        )
    }

    #[getter]
    fn dialogs(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        self.nested(py, &self.dialogs, |n| std::mem::take(&mut n.dialogs), Ok)
    }

    /// Every transaction of the call held (INVITE, ACK-less BYE, ...), by first time.
    #[getter]
    fn transactions(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        self.nested(
            py,
            &self.transactions,
            |n| std::mem::take(&mut n.transactions),
            Ok,
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "<CorrelatedCall call_id={:?} {} final_status={}>",
            self.call_id,
            self.outcome,
            py_opt(self.final_status)
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

/// Snapshots of the calls given, made under the lock: each call with its dialogs and its
/// transactions (and whether it was evicted).
type Snapshot = Vec<(core::Call, Vec<core::Dialog>, Vec<Transaction>, bool)>;

/// The Python objects of a snapshot, made after the lock is released.
fn call_objects(py: Python<'_>, snap: Snapshot) -> PyResult<Vec<Py<Call>>> {
    snap.into_iter()
        .map(|(c, dialogs, txns, evicted)| Py::new(py, Call::of(c, dialogs, txns, evicted)))
        .collect()
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

    /// Snapshots of finished calls; their memory goes back to the store for new calls.
    fn finished(store: &mut Store, done: Vec<core::FinishedCall<Arc<[u8]>>>) -> Snapshot {
        let mut snap = Vec::with_capacity(done.len());
        for f in done {
            let txns = f.transactions().iter().map(Transaction::of).collect();
            snap.push((f.call(), f.dialogs(), txns, f.is_evicted()));
            store.recycle(f);
        }
        snap
    }
}

fn seconds(py: Python<'_>, what: &str, v: f64) -> PyResult<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(local_msg(
            py,
            format!("{what} must be a finite number of seconds >= 0, not {v}"),
        ))
    }
}

#[pymethods]
impl Correlator {
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (
        *,
        timeout=32.0,
        keep_messages=false,
        linger=32.0,
        closed_linger=5.0,
        ringing_timeout=180.0,
        idle_timeout=3600.0,
        max_calls=100_000,
    ))]
    fn new(
        py: Python<'_>,
        timeout: f64,
        keep_messages: bool,
        linger: f64,
        closed_linger: f64,
        ringing_timeout: f64,
        idle_timeout: f64,
        max_calls: usize,
    ) -> PyResult<Self> {
        if max_calls == 0 {
            return Err(local_msg(py, "max_calls must be at least 1".to_owned()));
        }
        let cfg = Config {
            timeout: seconds(py, "timeout", timeout)?,
            linger: seconds(py, "linger", linger)?,
            closed_linger: seconds(py, "closed_linger", closed_linger)?,
            ringing_timeout: seconds(py, "ringing_timeout", ringing_timeout)?,
            idle_timeout: seconds(py, "idle_timeout", idle_timeout)?,
            keep_messages,
            max_calls,
            ..Config::DEFAULT
        };
        Ok(Correlator {
            inner: Mutex::new(Store::with_storage(cfg)),
        })
    }

    /// Feeds one message: a datagram's bytes, or a parsed Request/Response. Returns what was
    /// done with it: "stored", "retransmission", "parked" (an ACK before its INVITE),
    /// "dropped" (a cap reached), "uncorrelated" (no usable Call-ID/CSeq/Via, or a straggler
    /// of a finished call: see the `uncorrelated_*` counters) or "unparsable".
    #[pyo3(signature = (data, *, time, src, dst, transport="udp"))]
    fn feed<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'_, PyAny>,
        time: f64,
        src: &Bound<'_, PyAny>,
        dst: &Bound<'_, PyAny>,
        transport: &str,
    ) -> PyResult<Bound<'py, PyString>> {
        let packet = Packet::new(
            finite(py, "time", time)?,
            endpoint(py, "src", src)?,
            endpoint(py, "dst", dst)?,
            transport_of(py, transport)?,
        );
        // Bytes, the common case, first: the class checks below cost a type lookup each.
        let parsed = if data.is_exact_instance_of::<PyBytes>() {
            None
        } else if let Ok(r) = data.downcast::<Request>() {
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
        // The answer as one of six interned strings: a new `str` a message is measurable.
        Ok(fed_name(py, &fed))
    }

    /// Marks the capture as ended at `end_time` (default: the latest time fed). Calls with no
    /// final response are then "timeout" when silent for `timeout` seconds before it, else
    /// "in_progress".
    #[pyo3(signature = (end_time=None))]
    fn finish(&self, py: Python<'_>, end_time: Option<f64>) -> PyResult<()> {
        let end_time = end_time.map(|t| finite(py, "end_time", t)).transpose()?;
        self.lock()?.finish(end_time);
        Ok(())
    }

    /// Hands out, and forgets, the calls finished by `now` on the capture's clock (default:
    /// the latest time fed): those whose last message is older than their phase's wait
    /// (`closed_linger` after a BYE answered or a failure ACKed, `linger` after a BYE or a
    /// failure without it, `timeout` without response, `ringing_timeout` without final,
    /// `idle_timeout` when established), and those evicted from a full table.
    #[pyo3(signature = (now=None))]
    fn drain_finished(&self, py: Python<'_>, now: Option<f64>) -> PyResult<Vec<Py<Call>>> {
        let now = now.map(|t| finite(py, "now", t)).transpose()?;
        let snap = {
            let mut store = self.lock()?;
            let now = now.or(store.latest_time()).unwrap_or(0.0);
            let done: Vec<_> = store.drain(now).collect();
            Self::finished(&mut store, done)
        };
        call_objects(py, snap)
    }

    /// Hands out, and forgets, every call: the capture has ended (see `finish`).
    fn drain_all(&self, py: Python<'_>) -> PyResult<Vec<Py<Call>>> {
        let snap = {
            let mut store = self.lock()?;
            let done: Vec<_> = store.drain_all().collect();
            Self::finished(&mut store, done)
        };
        call_objects(py, snap)
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
        let snap = self
            .lock()?
            .calls_with_parts()
            .into_iter()
            .map(|(c, d, t)| (c, d, t.iter().map(Transaction::of).collect(), false))
            .collect::<Snapshot>();
        call_objects(py, snap)
    }

    /// Calls per outcome, those held and those handed out (drained or evicted).
    fn outcome_counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let n = self.lock()?.outcome_counts();
        outcomes_dict(py, &n, "")
    }

    /// What the correlator saw and had to let go: messages, requests, responses, unparsable,
    /// uncorrelated (and uncorrelated_<reason>: no_call_id, bad_cseq, no_via, bad_via,
    /// late, ack_response), repaired, retransmissions, duplicates (frames captured twice),
    /// transactions, orphan_responses,
    /// parked_acks, dialogs, calls, evicted_calls, finished_calls, non_call_messages, dropped
    /// (and dropped_transactions, dropped_responses, dropped_dialogs, dropped_exchanges,
    /// dropped_rows; a Call-ID that is no call counts its transactions past the cap in
    /// non_call_transactions_unfollowed), info_dtmf (digits sent in INFO requests) and
    /// dropped_info_dtmf (past 256 in a call), unstored, stored_bytes, and evicted_<outcome>
    /// for the outcomes of evicted calls.
    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = *self.lock()?.counters();
        let d = outcomes_dict(py, &c.evicted_outcomes, "evicted_")?;
        let head = [
            ("messages", c.messages),
            ("requests", c.requests),
            ("responses", c.responses),
            ("unparsable", c.unparsable),
            ("uncorrelated", c.uncorrelated),
        ];
        let by_reason = c.uncorrelated_by_reason();
        for (k, v) in head.into_iter().chain(by_reason) {
            d.set_item(k, v)?;
        }
        let dropped = c.dropped_by_kind();
        for (k, v) in [
            ("repaired", c.repaired),
            ("retransmissions", c.retransmissions),
            ("duplicates", c.duplicates),
            ("transactions", c.transactions),
            ("orphan_responses", c.orphan_responses),
            ("parked_acks", c.parked_acks),
            ("dialogs", c.dialogs),
            ("calls", c.calls),
            ("evicted_calls", c.evicted_calls),
            ("finished_calls", c.finished_calls),
            ("non_call_messages", c.non_call_messages),
            (
                "non_call_transactions_unfollowed",
                c.non_call_transactions_unfollowed,
            ),
            ("dropped", c.dropped),
            ("info_dtmf", c.info_dtmf),
            ("unstored", c.unstored),
            ("stored_bytes", c.stored_bytes),
        ]
        .into_iter()
        .chain(dropped)
        {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    fn __repr__(&self) -> PyResult<String> {
        let s = self.lock()?.sizes();
        Ok(format!(
            "<Correlator calls={} transactions={} dialogs={}>",
            s.calls, s.transactions, s.dialogs
        ))
    }
}

fn outcomes_dict<'py>(
    py: Python<'py>,
    n: &core::OutcomeCounts,
    prefix: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for o in core::Outcome::ALL {
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
    // The names before the correlator's classes were renamed (`sipwire.Call` is the UA's).
    for (old, new) in [
        ("Call", "CorrelatedCall"),
        ("Dialog", "CorrelatedDialog"),
        ("Transaction", "CorrelatedTransaction"),
    ] {
        m.add(old, m.getattr(new)?)?;
    }
    Ok(())
}
