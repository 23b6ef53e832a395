//! `Request`, `Response`, `Headers`, `Diagnostic`: one lazy object per message.
//!
//! A message keeps the caller's `bytes` object and the core's span index; a field becomes a
//! Python object only when it is read.

use pyo3::sync::GILOnceCell;

use pyo3::exceptions::{PyIndexError, PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use sipwire::message::{unfold, HeaderName, Message, MessageIndex};
use sipwire::{Location, ParseOptions, Span};

use crate::errors::{local_error, parse_error};
use crate::limits::PyLimits;
use crate::once::PyOnce;
use crate::typed;

/// A `str` from wire bytes: UTF-8 when valid (SIP's charset), else with replacement characters.
pub fn pystr<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyString> {
    PyString::new(py, &sipwire::scan::lossy_str(b))
}

/// The same, with folds replaced by one SP.
pub fn pystr_unfolded<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyString> {
    pystr(py, &unfold(b))
}

/// How a message was parsed: kept so edits, pickles and stream messages parse the same way.
pub struct Mode {
    pub strict: bool,
    /// Typed headers checked at parse time (else when read, or by `validate()`).
    pub validate: bool,
    pub limits: Option<Py<PyLimits>>,
}

impl Mode {
    pub fn opts(&self, py: Python<'_>) -> ParseOptions {
        crate::limits::options(py, self.strict, self.limits.as_ref())
    }

    pub fn clone_ref(&self, py: Python<'_>) -> Mode {
        Mode {
            strict: self.strict,
            validate: self.validate,
            limits: self.limits.as_ref().map(|l| l.clone_ref(py)),
        }
    }

    /// Parses a datagram: framing, start line and header index always; the typed headers
    /// too when `validate` is set.
    pub fn parse(&self, py: Python<'_>, buf: &[u8]) -> PyResult<MessageIndex> {
        let opts = self.opts(py);
        let r = if self.validate {
            // The SDP body too: validate=True leaves nothing to fail on a later read.
            MessageIndex::parse(buf, &opts).and_then(|idx| {
                match crate::sdp::sdp_problem(buf, &idx, &opts) {
                    Some(e) => Err(e),
                    None => Ok(idx),
                }
            })
        } else {
            MessageIndex::parse_datagram(buf, &opts)
        };
        r.map_err(|e| parse_error(py, e, buf))
    }
}

/// The typed-header check of a lazily parsed message, run once when asked for.
struct Checked {
    repairs: Vec<sipwire::Diagnostic>,
    errors: Vec<sipwire::Error>,
}

/// What every message object holds.
pub struct Core {
    pub data: Py<PyBytes>,
    pub index: MessageIndex,
    pub opts: ParseOptions,
    /// The same options, as the typed objects keep them.
    pub handle: typed::Opts,
    pub mode: Mode,
    checked: GILOnceCell<Checked>,
    via: PyOnce<typed::ViaList>,
    from_: PyOnce<typed::NameAddr>,
    to: PyOnce<typed::NameAddr>,
    sdp: GILOnceCell<Option<PyObject>>,
    /// CSeq number and method, once read (an error is not kept: it is raised on every read).
    pub cseq: GILOnceCell<Option<(u32, Span)>>,
}

impl Core {
    pub fn new(py: Python<'_>, data: Py<PyBytes>, index: MessageIndex, mode: Mode) -> Self {
        let opts = mode.opts(py);
        Core {
            data,
            index,
            opts,
            handle: typed::Opts::new(opts),
            mode,
            checked: GILOnceCell::new(),
            via: PyOnce::new(),
            from_: PyOnce::new(),
            to: PyOnce::new(),
            sdp: GILOnceCell::new(),
            cseq: GILOnceCell::new(),
        }
    }

    /// Typed-header repairs and errors (none to find when validated at parse time).
    fn checked(&self, py: Python<'_>) -> &Checked {
        self.checked.get_or_init(py, || {
            if self.mode.validate {
                return Checked {
                    repairs: Vec::new(),
                    errors: Vec::new(),
                };
            }
            let buf = self.buf(py);
            let (repairs, mut errors) = self.index.check_typed(buf, &self.opts);
            // An SDP body that does not parse is the message's problem too.
            errors.extend(crate::sdp::sdp_problem(buf, &self.index, &self.opts));
            Checked { repairs, errors }
        })
    }

    #[inline]
    pub fn buf<'a>(&'a self, py: Python<'a>) -> &'a [u8] {
        self.data.as_bytes(py)
    }

    #[inline]
    pub fn msg<'a>(&'a self, py: Python<'a>) -> Message<'a, &'a MessageIndex> {
        Message::new(self.buf(py), &self.index)
    }

    fn cached_name_addr(
        &self,
        py: Python<'_>,
        kind: HeaderName,
    ) -> PyResult<Option<Py<typed::NameAddr>>> {
        let cell = if kind == HeaderName::From {
            &self.from_
        } else {
            &self.to
        };
        if let Some(v) = cell.get(py) {
            return Ok(v);
        }
        let v = typed::name_addr_of(py, self, kind)?
            .map(|n| Py::new(py, n))
            .transpose()?;
        Ok(cell.fill(py, v))
    }

    fn first_str<'py>(&self, py: Python<'py>, kind: HeaderName) -> Option<Bound<'py, PyString>> {
        let buf = self.buf(py);
        self.index
            .headers
            .iter()
            .find(|h| h.kind == kind)
            .map(|h| pystr_unfolded(py, h.value.of(buf)))
    }
}

/// Parses `data` (a `bytes` object, kept as is) into a `Request` or `Response`.
pub fn parse_into(py: Python<'_>, data: Bound<'_, PyBytes>, mode: Mode) -> PyResult<PyObject> {
    let index = mode.parse(py, data.as_bytes())?;
    wrap(py, data.unbind(), index, mode)
}

pub fn wrap(
    py: Python<'_>,
    data: Py<PyBytes>,
    index: MessageIndex,
    mode: Mode,
) -> PyResult<PyObject> {
    let request = match index.start_line {
        sipwire::message::StartLine::Request { method, uri, .. } => Some((method, uri)),
        sipwire::message::StartLine::Response { .. } => None,
    };
    let core = Core::new(py, data, index, mode);
    Ok(if let Some((method, uri)) = request {
        let method = typed::token_str(py, method.of(core.buf(py))).unbind();
        let known = core.index.fields().request_uri;
        let uri = typed::Uri::new(
            py,
            core.data.clone_ref(py),
            uri,
            core.handle.clone(),
            true,
            known,
        );
        Py::new(
            py,
            Request {
                method,
                uri: Py::new(py, uri)?,
                core,
            },
        )?
        .into_any()
    } else {
        Py::new(py, Response { core })?.into_any()
    })
}

fn short_repr(b: &[u8], max: usize) -> String {
    let mut s = String::new();
    for &c in b.iter().take(max) {
        match c {
            b' '..=b'~' if c != b'\\' && c != b'\'' => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    if b.len() > max {
        s.push_str("...");
    }
    s
}

/// The methods `Request` and `Response` share, generated into each class's one `#[pymethods]`
/// block (the classes are separate, so attribute access needs no base-class lookup).
macro_rules! message_methods {
    ($cls:ident, { $($extra:tt)* }) => {
        #[pymethods]
        impl $cls {
            $($extra)*

            /// Call-ID, or None when missing.
            #[getter]
            fn call_id<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
                self.core.first_str(py, HeaderName::CallId)
            }

            /// The CSeq header (`.seq`, `.method`), or None when missing.
            #[getter]
            fn cseq(&self, py: Python<'_>) -> PyResult<Option<typed::CSeq>> {
                typed::cseq(py, &self.core)
            }

            /// The CSeq number, or None when CSeq is missing: the same as `cseq.seq`, without
            /// building the CSeq.
            #[getter]
            fn cseq_number(&self, py: Python<'_>) -> PyResult<Option<u32>> {
                Ok(typed::cseq_parts(py, &self.core)?.map(|(n, _)| n))
            }

            /// The CSeq method, or None when CSeq is missing: the same as `cseq.method`,
            /// without building the CSeq (a response's transaction method, RFC 3261 §17.1.3).
            #[getter]
            fn cseq_method<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
                Ok(typed::cseq_parts(py, &self.core)?.map(|(_, m)| typed::token_str(py, m)))
            }

            /// The From header as a name-addr (`.display_name`, `.uri`, `.tag`, `.params`).
            #[getter]
            fn from_(&self, py: Python<'_>) -> PyResult<Option<Py<typed::NameAddr>>> {
                self.core.cached_name_addr(py, HeaderName::From)
            }

            /// The To header as a name-addr.
            #[getter]
            fn to(&self, py: Python<'_>) -> PyResult<Option<Py<typed::NameAddr>>> {
                self.core.cached_name_addr(py, HeaderName::To)
            }

            /// The From tag, or None: the same as `from_.tag`, without building the name-addr.
            #[getter]
            #[allow(clippy::wrong_self_convention)] // a Python attribute, not a conversion
            fn from_tag<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
                typed::tag_of(py, &self.core, HeaderName::From)
            }

            /// The To tag, or None: the same as `to.tag`, without building the name-addr.
            #[getter]
            fn to_tag<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
                typed::tag_of(py, &self.core, HeaderName::To)
            }

            /// The top Via's branch, or None: the same as `via[0].branch`, without building
            /// the Via list (the transaction key of RFC 3261 §17.2.3 starts here).
            #[getter]
            fn branch<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
                typed::top_branch(py, &self.core)
            }

            /// Every Via value, top first, across all Via headers.
            #[getter]
            fn via(&self, py: Python<'_>) -> PyResult<Py<typed::ViaList>> {
                if let Some(Some(v)) = self.core.via.get(py) {
                    return Ok(v);
                }
                let list = Py::new(py, typed::ViaList::new(py, &self.core)?)?;
                let held = self.core.via.fill(py, Some(list));
                held.ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("Via list lost"))
            }

            /// Every Contact value (`.uri`, `.expires`, `.q`, `.is_star`).
            #[getter]
            fn contact(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
                typed::name_addr_list(py, &self.core, HeaderName::Contact)
            }

            /// Every Route value.
            #[getter]
            fn route(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
                typed::name_addr_list(py, &self.core, HeaderName::Route)
            }

            /// Every Record-Route value.
            #[getter]
            fn record_route(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
                typed::name_addr_list(py, &self.core, HeaderName::RecordRoute)
            }

            /// Max-Forwards, or None when missing.
            #[getter]
            fn max_forwards(&self, py: Python<'_>) -> PyResult<Option<u32>> {
                typed::number_of(py, &self.core, HeaderName::MaxForwards)
            }

            /// Expires, or None when missing.
            #[getter]
            fn expires(&self, py: Python<'_>) -> PyResult<Option<u32>> {
                typed::number_of(py, &self.core, HeaderName::Expires)
            }

            /// Content-Length as written, or None when missing (see `body` for the body).
            #[getter]
            fn content_length(&self) -> Option<u32> {
                self.core.index.content_length
            }

            /// Content-Type (`type/subtype;params`) as written, or None.
            #[getter]
            fn content_type<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
                self.core.first_str(py, HeaderName::ContentType)
            }

            /// The body bytes.
            #[getter]
            fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
                let b = self.core.index.body;
                if b.start == 0 && b.len as usize == self.core.buf(py).len() {
                    return self.core.data.bind(py).clone();
                }
                PyBytes::new(py, b.of(self.core.buf(py)))
            }

            /// Repairs a lenient parse made and semantic problems of a message that parsed
            /// (missing or duplicated headers, CSeq method mismatch, SIP version). Empty after
            /// a clean parse.
            #[getter]
            fn diagnostics(&self, py: Python<'_>) -> Vec<Diagnostic> {
                let buf = self.core.buf(py);
                let checked = self.core.checked(py);
                let mut all: Vec<sipwire::Diagnostic> = self.core.index.diagnostics.iter()
                    .chain(&checked.repairs)
                    .chain(&checked.errors)
                    .copied()
                    .collect();
                all.sort_by_key(|d| d.offset);
                // A missing header is both an index diagnostic and a typed-check error.
                let mut seen = Vec::with_capacity(all.len());
                all.retain(|d| {
                    let new = !seen.contains(d);
                    if new {
                        seen.push(*d);
                    }
                    new
                });
                all.into_iter().map(|d| Diagnostic::new(d, buf)).collect()
            }

            /// Checks every typed header now and raises the first ParseError, if any. (A parse
            /// with `validate=True` has done this already; a lazy one checks a header when it
            /// is read and lists every problem in `diagnostics`.)
            fn validate(&self, py: Python<'_>) -> PyResult<()> {
                match self.core.checked(py).errors.first() {
                    Some(e) => Err(parse_error(py, *e, self.core.buf(py))),
                    None => Ok(()),
                }
            }

            /// The headers, in wire order; `get`/`getall` take full or compact names in any case.
            #[getter]
            // A new view each time: caching it on the message would make a reference cycle
            // (message -> Headers -> message) that nothing here lets the GC break.
            fn headers(slf: &Bound<'_, Self>) -> PyResult<Py<Headers>> {
                Py::new(slf.py(), Headers { owner: slf.clone().into_any().unbind() })
            }

            /// The SIP version as written (`SIP/2.0`).
            #[getter]
            fn version<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
                pystr(py, self.core.msg(py).version())
            }

            /// Bytes after the message in the datagram, which RFC 3261 §18.3 discards.
            #[getter]
            fn trailing_bytes(&self, py: Python<'_>) -> usize {
                self.core.buf(py).len().saturating_sub(self.core.index.end as usize)
            }

            /// The SDP body (or the SDP part of a multipart body), or None.
            #[getter]
            fn sdp(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
                if let Some(v) = self.core.sdp.get(py) {
                    return Ok(v.as_ref().map(|v| v.clone_ref(py)));
                }
                let v = crate::sdp::sdp_of(py, &self.core)?;
                let _ = self.core.sdp.set(py, v.as_ref().map(|v| v.clone_ref(py)));
                Ok(v)
            }

            /// A copy with the header added (at the end, or first with `first=True`).
            #[pyo3(signature = (name, value, *, first=false))]
            fn with_header(&self, py: Python<'_>, name: &str, value: &str, first: bool) -> PyResult<PyObject> {
                no_content_length(py, name)?;
                edit(py, &self.core, |e| e.add(name.as_bytes(), value.as_bytes(), first).map(|_| ()))
            }

            /// A copy with the first header of that name set to `value` and the others removed.
            fn replace_header(&self, py: Python<'_>, name: &str, value: &str) -> PyResult<PyObject> {
                no_content_length(py, name)?;
                edit(py, &self.core, |e| e.replace(name.as_bytes(), value.as_bytes()).map(|_| ()))
            }

            /// A copy without any header of that name.
            fn without_header(&self, py: Python<'_>, name: &str) -> PyResult<PyObject> {
                edit(py, &self.core, |e| {
                    e.remove(name.as_bytes());
                    Ok(())
                })
            }

            /// A copy with a new body; Content-Length follows, Content-Type is set when given.
            #[pyo3(signature = (body, content_type=None))]
            fn with_body(&self, py: Python<'_>, body: &[u8], content_type: Option<&str>) -> PyResult<PyObject> {
                edit(py, &self.core, |e| {
                    if let Some(ct) = content_type {
                        e.replace(b"Content-Type", ct.as_bytes())?;
                    }
                    e.body(body);
                    Ok(())
                })
            }

            fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
                self.core.data.bind(py).clone()
            }

            fn __len__(&self, py: Python<'_>) -> usize {
                self.core.buf(py).len()
            }

            fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> bool {
                match other.downcast::<$cls>() {
                    Ok(o) => o.get().core.buf(py) == self.core.buf(py),
                    Err(_) => false,
                }
            }

            fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
                self.core.data.bind(py).hash()
            }

            fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
                let f = py.import("sipwire._sipwire")?.getattr("_restore")?;
                let mode = &self.core.mode;
                let limits = mode.limits.as_ref().map(|l| l.clone_ref(py).into_any()).unwrap_or_else(|| py.None());
                let args = (self.core.data.clone_ref(py), mode.strict, mode.validate, limits).into_pyobject(py)?;
                PyTuple::new(py, [f, args.into_any()])
            }
        }
    };
}

/// A SIP request.
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct Request {
    pub core: Core,
    /// The method (`INVITE`, `BYE`, or any extension token).
    // Set at parse time (an interned string for the usual methods): a frozen class's `Py`
    // field is read by the interpreter itself, without a getter call.
    #[pyo3(get)]
    method: Py<PyString>,
    /// The Request-URI.
    // Built at parse time for the same reason; its parts are parsed when first read.
    #[pyo3(get)]
    uri: Py<typed::Uri>,
}

/// A SIP response.
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct Response {
    pub core: Core,
}

message_methods!(Request, {
    /// A response to this request per RFC 3261 §8.2.6: Vias, From, Call-ID and CSeq copied,
    /// To copied with `to_tag` added (a random one when None and status > 100).
    #[pyo3(signature = (status, reason=None, *, to_tag=None, headers=None, body=None))]
    fn response(
        &self,
        py: Python<'_>,
        status: u16,
        reason: Option<&str>,
        to_tag: Option<&str>,
        headers: Option<Vec<(String, String)>>,
        body: Option<&[u8]>,
    ) -> PyResult<PyObject> {
        if !(100..=699).contains(&status) {
            return Err(crate::errors::local_kind(
                py,
                "invalid_status",
                format!("status must be 100 to 699 (RFC 3261 §7.2: Status-Code is 3DIGIT, 1xx-6xx), not {status}"),
            ));
        }
        let body = body.unwrap_or_default();
        let reason = reason.unwrap_or_else(|| crate::reason_phrase(status));
        let tag = match to_tag {
            Some(t) => t.to_string(),
            None => crate::random_token(py)?,
        };
        let extra: Vec<(&[u8], &[u8])> = headers
            .as_ref()
            .map(|v| {
                v.iter()
                    .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
                    .collect()
            })
            .unwrap_or_default();
        let out = sipwire::build::response_to(
            &self.core.msg(py),
            status,
            reason.as_bytes(),
            Some(tag.as_bytes()),
            &extra,
            body,
        )
        .map_err(|e| local_error(py, e, "response"))?;
        reparse(py, &self.core, out)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let m = self.core.msg(py);
        format!(
            "<Request {} {} call_id='{}'>",
            short_repr(m.method().unwrap_or_default(), 32),
            short_repr(m.request_uri().unwrap_or_default(), 64),
            short_repr(m.call_id().unwrap_or_default(), 48)
        )
    }
});

message_methods!(Response, {
    /// The status code (100-699).
    #[getter]
    fn status(&self) -> u16 {
        match self.core.index.start_line {
            sipwire::message::StartLine::Response { status, .. } => status,
            sipwire::message::StartLine::Request { .. } => 0,
        }
    }

    /// The reason phrase (may be empty).
    #[getter]
    fn reason<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        pystr(py, self.core.msg(py).reason().unwrap_or_default())
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let m = self.core.msg(py);
        format!(
            "<Response {} {} call_id='{}'>",
            m.status().unwrap_or(0),
            short_repr(m.reason().unwrap_or_default(), 32),
            short_repr(m.call_id().unwrap_or_default(), 48)
        )
    }
});

fn reparse(py: Python<'_>, core: &Core, out: Vec<u8>) -> PyResult<PyObject> {
    let data = PyBytes::new(py, &out);
    let mode = core.mode.clone_ref(py);
    let index = mode.parse(py, &out)?;
    wrap(py, data.unbind(), index, mode)
}

fn edit(
    py: Python<'_>,
    core: &Core,
    f: impl FnOnce(&mut sipwire::build::Editor<'_>) -> Result<(), sipwire::Error>,
) -> PyResult<PyObject> {
    let buf = core.buf(py);
    let mut e = sipwire::build::Editor::from_parts(buf, &core.index);
    f(&mut e).map_err(|err| local_error(py, err, "edit"))?;
    let out = e.build();
    caller_made(py, &out, &core.mode, "edit")?;
    reparse(py, core, out)
}

/// Checks a message the caller built or edited: one that does not parse is the caller's
/// mistake (LocalProtocolError naming the header and the rule), not the peer's.
pub fn caller_made(py: Python<'_>, out: &[u8], mode: &Mode, what: &str) -> PyResult<()> {
    let opts = mode.opts(py);
    let parsed = if mode.validate {
        MessageIndex::parse(out, &opts).and_then(|idx| {
            match crate::sdp::sdp_problem(out, &idx, &opts) {
                Some(e) => Err(e),
                None => Ok(idx),
            }
        })
    } else {
        MessageIndex::parse_datagram(out, &opts)
    };
    let Err(err) = parsed else {
        return Ok(());
    };
    let loc = sipwire::Location::find(out, err.offset);
    let header = err
        .header
        .map(|h| h.canonical().to_string())
        .or_else(|| loc.header.map(crate::lossy_string))
        .unwrap_or_else(|| "the message".into());
    Err(crate::errors::local_kind(
        py,
        err.kind.name(),
        format!(
            "{what}: {header}: {} (the message would not parse)",
            err.kind.describe()
        ),
    ))
}

/// Content-Length follows the body (RFC 3261 §20.14): setting it by hand is refused.
fn no_content_length(py: Python<'_>, name: &str) -> PyResult<()> {
    if sipwire::message::HeaderName::from_bytes(name.as_bytes())
        == sipwire::message::HeaderName::ContentLength
    {
        return Err(crate::errors::local_kind(
            py,
            "content_length",
            "Content-Length follows the body and is written by the library (RFC 3261 §20.14): use with_body".into(),
        ));
    }
    Ok(())
}

/// Access to a message object's core, whichever class it is.
pub fn core_of<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<&'a Core> {
    if let Ok(r) = obj.downcast::<Request>() {
        return Ok(&r.get().core);
    }
    if let Ok(r) = obj.downcast::<Response>() {
        return Ok(&r.get().core);
    }
    Err(PyTypeError::new_err(
        "expected a sipwire Request or Response",
    ))
}

/// The headers of a message, in wire order.
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct Headers {
    owner: PyObject,
}

#[pymethods]
impl Headers {
    /// The first value of the header (full or compact name, any case), or `default`. For
    /// list headers (Via, Contact, Route, ...) that is the first comma-separated item.
    #[pyo3(signature = (name, default=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let owner = self.owner.bind(py);
        let core = core_of(owner)?;
        let m = core.msg(py);
        Ok(match m.values(name.as_bytes()).next() {
            Some(v) => Some(pystr_unfolded(py, v).into_any()),
            None => default,
        })
    }

    /// Every value of the header, in wire order (list headers split at their commas).
    fn getall<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Vec<Bound<'py, PyString>>> {
        let owner = self.owner.bind(py);
        let core = core_of(owner)?;
        let m = core.msg(py);
        Ok(m.values(name.as_bytes())
            .map(|v| pystr_unfolded(py, v))
            .collect())
    }

    /// `(name, value)` for each header line, names as written.
    fn items<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Vec<(Bound<'py, PyString>, Bound<'py, PyString>)>> {
        let owner = self.owner.bind(py);
        let core = core_of(owner)?;
        let buf = core.buf(py);
        Ok(core
            .index
            .headers
            .iter()
            .map(|h| {
                (
                    pystr(py, h.name.of(buf)),
                    pystr_unfolded(py, h.value.of(buf)),
                )
            })
            .collect())
    }

    /// Header names as written, in wire order (repeated names repeat).
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyString>>> {
        let owner = self.owner.bind(py);
        let core = core_of(owner)?;
        let buf = core.buf(py);
        Ok(core
            .index
            .headers
            .iter()
            .map(|h| pystr(py, h.name.of(buf)))
            .collect())
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let items = self.items(py)?;
        PyList::new(py, items)?
            .into_any()
            .try_iter()
            .map(|i| i.into_any())
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(core_of(self.owner.bind(py))?.index.headers.len())
    }

    fn __contains__(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        let owner = self.owner.bind(py);
        Ok(core_of(owner)?
            .msg(py)
            .values(name.as_bytes())
            .next()
            .is_some())
    }

    /// `headers[name]`: the first value, KeyError when absent; `headers[i]`: the i-th line.
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(i) = key.extract::<isize>() {
            let items = self.items(py)?;
            let n = items.len() as isize;
            let j = if i < 0 { i + n } else { i };
            return items
                .into_iter()
                .nth(
                    usize::try_from(j)
                        .map_err(|_| PyIndexError::new_err("header index out of range"))?,
                )
                .ok_or_else(|| PyIndexError::new_err("header index out of range"))
                .and_then(|t| Ok(t.into_pyobject(py)?.into_any()));
        }
        let name: String = key.extract()?;
        self.get(py, &name, None)?
            .ok_or_else(|| PyKeyError::new_err(name))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("<Headers: {} lines>", self.__len__(py)?))
    }
}

/// A repair made by a lenient parse, or a semantic problem of a message that parsed.
#[pyclass(frozen, module = "sipwire._sipwire")]
#[derive(Clone)]
pub struct Diagnostic {
    /// Stable snake_case name of what was found (same names as `ParseError.kind`).
    #[pyo3(get)]
    kind: &'static str,
    /// Byte offset into the input.
    #[pyo3(get)]
    offset: u32,
    #[pyo3(get)]
    line: u32,
    #[pyo3(get)]
    column: u32,
    /// The header the offset falls in, if any.
    #[pyo3(get)]
    header: Option<String>,
    /// What it means, in a sentence.
    #[pyo3(get)]
    message: &'static str,
}

impl Diagnostic {
    pub fn new(d: sipwire::Diagnostic, buf: &[u8]) -> Self {
        let loc = Location::find(buf, d.offset);
        Diagnostic {
            kind: d.kind.name(),
            offset: d.offset,
            line: loc.line,
            column: loc.column,
            header: d
                .header
                .map(|h| h.canonical().to_string())
                .or_else(|| loc.header.map(crate::lossy_string)),
            message: d.kind.describe(),
        }
    }
}

#[pymethods]
impl Diagnostic {
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.downcast::<Diagnostic>().is_ok_and(|o| {
            let o = o.get();
            (o.kind, o.offset) == (self.kind, self.offset)
        })
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.kind, self.offset).hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        format!(
            "<Diagnostic {} at byte {} (line {}, column {}{})>",
            self.kind,
            self.offset,
            self.line,
            self.column,
            self.header
                .as_ref()
                .map(|h| format!(", header {h}"))
                .unwrap_or_default()
        )
    }
}
