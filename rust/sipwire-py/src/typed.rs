//! Typed header objects: `Uri`, `Via`, `NameAddr`, `CSeq`.
//!
//! Each holds the message's `bytes` object and the span of its text. The text is parsed when
//! an attribute is first read (or not at all, when validation already found the parts), and
//! the parts are kept as spans: building an object costs one allocation and no copy.

use pyo3::sync::GILOnceCell;

use pyo3::exceptions::PyIndexError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use sipwire::header::{self, Contact, ParamSyntax, Params};
use sipwire::message::{HeaderName, NameAddrSpans, UriSpans, ViaSpans};
use sipwire::uri::{uri_eq, Uri as CoreUri};
use sipwire::{Diagnostic, Error, ParseOptions, Span};

use crate::errors::parse_error;
use crate::message::{pystr, pystr_unfolded, Core};
use crate::once::PyOnce;

fn params_dict<'py>(py: Python<'py>, p: Params<'_>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (n, v) in p.iter() {
        let v = v.map(|v| pystr_unfolded(py, &header::unquote(v)));
        d.set_item(pystr(py, n), v)?;
    }
    Ok(d)
}

fn opt_str<'py>(py: Python<'py>, buf: &[u8], s: Option<Span>) -> Option<Bound<'py, PyString>> {
    s.map(|s| pystr(py, s.of(buf)))
}

/// The same as a field value: a `str`, or None.
fn opt_obj(py: Python<'_>, buf: &[u8], s: Option<Span>) -> PyObject {
    match s {
        Some(s) => pystr(py, s.of(buf)).into_any().unbind(),
        None => py.None(),
    }
}

/// The parse options a typed object keeps for its later reads: the two usual sets by name
/// (nothing to copy), any other shared. A `ParseOptions` is ~100 bytes; every object used to
/// carry its own copy.
#[derive(Clone, Debug)]
pub enum Opts {
    Strict,
    Liberal,
    Other(std::sync::Arc<ParseOptions>),
}

impl Opts {
    pub fn new(o: ParseOptions) -> Opts {
        if o == ParseOptions::STRICT {
            Opts::Strict
        } else if o == ParseOptions::LIBERAL {
            Opts::Liberal
        } else {
            Opts::Other(std::sync::Arc::new(o))
        }
    }

    #[inline]
    pub fn get(&self) -> &ParseOptions {
        match self {
            Opts::Strict => &ParseOptions::STRICT,
            Opts::Liberal => &ParseOptions::LIBERAL,
            Opts::Other(o) => o,
        }
    }
}

/// Interned strings for the tokens every message repeats (methods, transports), so reading
/// them allocates nothing.
pub fn token_str<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyString> {
    let s = match b {
        b"INVITE" => intern!(py, "INVITE"),
        b"ACK" => intern!(py, "ACK"),
        b"BYE" => intern!(py, "BYE"),
        b"CANCEL" => intern!(py, "CANCEL"),
        b"REGISTER" => intern!(py, "REGISTER"),
        b"OPTIONS" => intern!(py, "OPTIONS"),
        b"INFO" => intern!(py, "INFO"),
        b"PRACK" => intern!(py, "PRACK"),
        b"UPDATE" => intern!(py, "UPDATE"),
        b"SUBSCRIBE" => intern!(py, "SUBSCRIBE"),
        b"NOTIFY" => intern!(py, "NOTIFY"),
        b"PUBLISH" => intern!(py, "PUBLISH"),
        b"MESSAGE" => intern!(py, "MESSAGE"),
        b"REFER" => intern!(py, "REFER"),
        b"UDP" => intern!(py, "UDP"),
        b"TCP" => intern!(py, "TCP"),
        b"TLS" => intern!(py, "TLS"),
        b"SCTP" => intern!(py, "SCTP"),
        b"WS" => intern!(py, "WS"),
        b"WSS" => intern!(py, "WSS"),
        b"sip" => intern!(py, "sip"),
        b"sips" => intern!(py, "sips"),
        b"tel" => intern!(py, "tel"),
        _ => return pystr(py, b),
    };
    s.clone()
}

/// The parts of `text`, parsed on first use and kept.
fn parts<'c, T>(
    py: Python<'_>,
    cell: &'c GILOnceCell<Box<T>>,
    data: &Py<PyBytes>,
    text: Span,
    parse: impl FnOnce(&[u8], &[u8]) -> Result<T, Error>,
) -> PyResult<&'c T> {
    if let Some(v) = cell.get(py) {
        return Ok(v);
    }
    let buf = data.as_bytes(py);
    let v = parse(buf, text.of(buf))
        .map_err(|e| parse_error(py, e.shifted(text.start as usize), buf))?;
    Ok(cell.get_or_init(py, || Box::new(v)))
}

/// A cell of parts, filled already when validation found them. The parts are boxed: an object
/// stays small to make and move (most are read for one field, found without them).
fn preset<T>(py: Python<'_>, v: Option<T>) -> GILOnceCell<Box<T>> {
    let cell = GILOnceCell::new();
    if let Some(v) = v {
        let _ = cell.set(py, Box::new(v));
    }
    cell
}

/// A SIP, SIPS, tel or other URI (RFC 3261 §19.1, RFC 3966).
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct Uri {
    data: Py<PyBytes>,
    text: Span,
    opts: Opts,
    request: bool,
    spans: GILOnceCell<Box<UriSpans>>,
}

impl Uri {
    /// The URI at `text`, parsed when first read (`known`: parts validation already found).
    pub fn new(
        py: Python<'_>,
        data: Py<PyBytes>,
        text: Span,
        opts: Opts,
        request: bool,
        known: Option<UriSpans>,
    ) -> Self {
        Uri {
            data,
            text,
            opts,
            request,
            spans: preset(py, known),
        }
    }

    fn buf<'a>(&'a self, py: Python<'a>) -> &'a [u8] {
        self.data.as_bytes(py)
    }

    fn core_parse<'b>(&self, text: &'b [u8]) -> Result<CoreUri<'b>, Error> {
        let mut diags: Vec<Diagnostic> = Vec::new();
        if self.request {
            CoreUri::parse_request_uri(text, self.opts.get(), &mut diags)
        } else {
            CoreUri::parse(text, self.opts.get(), &mut diags)
        }
    }

    fn spans(&self, py: Python<'_>) -> PyResult<&UriSpans> {
        parts(py, &self.spans, &self.data, self.text, |buf, t| {
            self.core_parse(t).map(|u| UriSpans::of(buf, &u))
        })
    }

    /// Parses again, for the rarer questions (URI headers, equality).
    fn with<R>(&self, py: Python<'_>, f: impl FnOnce(&CoreUri<'_>) -> R) -> PyResult<R> {
        let buf = self.buf(py);
        self.core_parse(self.text.of(buf))
            .map(|u| f(&u))
            .map_err(|e| parse_error(py, e.shifted(self.text.start as usize), buf))
    }

    fn params_view<'a>(&self, py: Python<'a>, buf: &'a [u8]) -> PyResult<Params<'a>> {
        Ok(Params::from_raw(
            self.spans(py)?.params.of(buf),
            ParamSyntax::Uri,
        ))
    }
}

#[pymethods]
impl Uri {
    /// `sip`, `sips`, `tel` (lower case), or another scheme as written.
    #[getter]
    fn scheme<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        let s = self.spans(py)?.scheme.of(self.buf(py));
        let lower = s.to_ascii_lowercase();
        Ok(match lower.as_slice() {
            b"sip" | b"sips" | b"tel" => token_str(py, &lower),
            _ => pystr(py, s),
        })
    }
    /// The user part as written (escapes kept: `%41` is not `A`, RFC 3261 §19.1.4); for tel
    /// URIs, the number.
    #[getter]
    fn user<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        Ok(opt_str(py, self.buf(py), self.spans(py)?.user))
    }
    #[getter]
    fn password<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        Ok(opt_str(py, self.buf(py), self.spans(py)?.password))
    }
    /// The host as written: a domain, an IPv4 address, or an IPv6 reference with its brackets.
    #[getter]
    fn host<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        Ok(opt_str(py, self.buf(py), self.spans(py)?.host))
    }
    #[getter]
    fn port(&self, py: Python<'_>) -> PyResult<Option<u16>> {
        Ok(self.spans(py)?.port)
    }
    /// URI parameters in order: name -> value (None for a flag such as `lr`).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        params_dict(py, self.params_view(py, self.buf(py))?)
    }
    /// `?name=value&...` headers (escapes kept).
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        if self.spans(py)?.headers.is_none() {
            return Ok(PyDict::new(py));
        }
        self.with(py, |u| {
            let d = PyDict::new(py);
            for (n, v) in u.headers() {
                d.set_item(pystr(py, n), pystr(py, v))?;
            }
            Ok(d)
        })?
    }
    /// The `user` parameter (`phone`, `ip`), or None.
    #[getter]
    fn user_param<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        Ok(self
            .params_view(py, self.buf(py))?
            .value(b"user")
            .map(|x| pystr(py, x)))
    }
    /// The `transport` parameter, or None.
    #[getter]
    fn transport<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        Ok(self
            .params_view(py, self.buf(py))?
            .value(b"transport")
            .map(|x| pystr(py, x)))
    }
    /// Whether the `lr` parameter is present (a loose router, RFC 3261 §16.12).
    #[getter]
    fn lr(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.params_view(py, self.buf(py))?.contains(b"lr"))
    }
    /// The URI as written.
    fn __str__<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        pystr(py, self.text.of(self.buf(py)))
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<Uri {:?}>", self.__str__(py).to_string_lossy())
    }
    /// Equality per RFC 3261 §19.1.4 (case rules, escapes, parameters that must match).
    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(o) = other.downcast::<Uri>() else {
            return Ok(false);
        };
        let o = o.get();
        self.with(py, |a| o.with(py, |b| uri_eq(a, b)))?
    }
    fn __hash__(&self, py: Python<'_>) -> PyResult<u64> {
        use std::hash::{Hash, Hasher};
        let buf = self.buf(py);
        let spans = self.spans(py)?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        spans.scheme.of(buf).to_ascii_lowercase().hash(&mut h);
        if let Some(host) = spans.host {
            let host = host.of(buf);
            let host = host
                .strip_prefix(b"[")
                .and_then(|x| x.strip_suffix(b"]"))
                .unwrap_or(host);
            host.to_ascii_lowercase().hash(&mut h);
        }
        spans.port.hash(&mut h);
        Ok(h.finish())
    }
}

/// Parses a URI on its own (as found in a header, `<>` removed).
#[pyfunction]
#[pyo3(signature = (text, *, strict=true))]
pub fn parse_uri(py: Python<'_>, text: &str, strict: bool) -> PyResult<Uri> {
    let data = PyBytes::new(py, text.as_bytes()).unbind();
    let opts = crate::limits::options(py, strict, None);
    let u = Uri::new(
        py,
        data,
        Span::new(0, text.len()),
        Opts::new(opts),
        false,
        None,
    );
    u.spans(py)?;
    Ok(u)
}

/// Whether two URIs are equal per RFC 3261 §19.1.4 (either may be a `str`).
#[pyfunction]
pub fn uri_equal(py: Python<'_>, a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<bool> {
    let conv = |x: &Bound<'_, PyAny>| -> PyResult<Py<Uri>> {
        if let Ok(u) = x.downcast::<Uri>() {
            return Ok(u.clone().unbind());
        }
        let s: String = x.extract()?;
        Py::new(py, parse_uri(py, &s, true)?)
    };
    let (a, b) = (conv(a)?, conv(b)?);
    a.get().__eq__(py, b.bind(py).as_any())
}

/// One Via value (RFC 3261 §20.42).
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct Via {
    data: Py<PyBytes>,
    text: Span,
    opts: Opts,
    spans: GILOnceCell<Box<ViaSpans>>,
    /// The branch (a `str`) or None, found when the Via is made: the field everyone reads (the
    /// transaction key, RFC 3261 §17.2.3), here a struct member the interpreter reads itself.
    #[pyo3(get)]
    branch: PyObject,
}

impl Via {
    /// The via-parm at `text`; its branch is found now (by the one-pass reader of the common
    /// shape, else by the full parse, whose error is raised here), the rest when read.
    fn new(
        py: Python<'_>,
        data: &Py<PyBytes>,
        text: Span,
        opts: &Opts,
        known: Option<ViaSpans>,
    ) -> PyResult<Self> {
        let buf = data.as_bytes(py);
        let spans = preset(py, known);
        let branch = match known {
            Some(k) => k.branch,
            None => match header::top_branch_fast(text.of(buf), opts.get()) {
                Some(b) => b.map(|b| Span::within(buf, b)),
                None => {
                    let v = header::parse_via(text.of(buf), opts.get(), &mut Vec::new())
                        .map(|v| ViaSpans::of(buf, &v))
                        .map_err(|e| parse_error(py, e.shifted(text.start as usize), buf))?;
                    let _ = spans.set(py, Box::new(v));
                    v.branch
                }
            },
        };
        Ok(Via {
            data: data.clone_ref(py),
            text,
            opts: opts.clone(),
            spans,
            branch: opt_obj(py, buf, branch),
        })
    }

    fn buf<'a>(&'a self, py: Python<'a>) -> &'a [u8] {
        self.data.as_bytes(py)
    }

    fn spans(&self, py: Python<'_>) -> PyResult<&ViaSpans> {
        parts(py, &self.spans, &self.data, self.text, |buf, t| {
            header::parse_via(t, self.opts.get(), &mut Vec::new()).map(|v| ViaSpans::of(buf, &v))
        })
    }
}

#[pymethods]
impl Via {
    /// `SIP/2.0`.
    #[getter]
    fn protocol(&self, py: Python<'_>) -> PyResult<String> {
        let (buf, s) = (self.buf(py), self.spans(py)?);
        Ok(format!(
            "{}/{}",
            String::from_utf8_lossy(s.protocol_name.of(buf)),
            String::from_utf8_lossy(s.protocol_version.of(buf))
        ))
    }
    /// `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS`, or another token, as written.
    #[getter]
    fn transport<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        Ok(token_str(py, self.spans(py)?.transport.of(self.buf(py))))
    }
    /// The sent-by host as written (IPv6 references keep their brackets).
    #[getter]
    fn host<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        Ok(pystr(py, self.spans(py)?.host.of(self.buf(py))))
    }
    #[getter]
    fn port(&self, py: Python<'_>) -> PyResult<Option<u16>> {
        Ok(self.spans(py)?.port)
    }
    /// Whether the branch starts with the RFC 3261 magic cookie `z9hG4bK` (and has more).
    #[getter]
    fn has_rfc3261_branch(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.spans(py)?.rfc3261_branch)
    }
    #[getter]
    fn received<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        Ok(opt_str(py, self.buf(py), self.spans(py)?.received))
    }
    /// The rport value (RFC 3581), or None when absent or sent without a value (see
    /// `rport_requested`).
    #[getter]
    fn rport(&self, py: Python<'_>) -> PyResult<Option<u16>> {
        Ok(self.spans(py)?.rport.flatten())
    }
    /// Whether the rport parameter is present, with or without a value.
    #[getter]
    fn rport_requested(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.spans(py)?.rport.is_some())
    }
    #[getter]
    fn maddr<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        Ok(opt_str(py, self.buf(py), self.spans(py)?.maddr))
    }
    #[getter]
    fn ttl(&self, py: Python<'_>) -> PyResult<Option<u8>> {
        Ok(self.spans(py)?.ttl)
    }
    /// Every parameter in order (branch, received, rport ... and unknown ones).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let raw = self.spans(py)?.params.of(self.buf(py));
        params_dict(py, Params::from_raw(raw, ParamSyntax::Header))
    }
    fn __str__<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        pystr_unfolded(py, self.text.of(self.buf(py)))
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<Via {:?}>", self.__str__(py).to_string_lossy())
    }
}

/// The parts of the name-addr (or Contact value: None for `*`) at `text`.
fn parse_name_addr_spans(
    buf: &[u8],
    text: Span,
    opts: &ParseOptions,
    contact: bool,
) -> Result<Option<NameAddrSpans>, Error> {
    let t = text.of(buf);
    let mut d = Vec::new();
    if contact {
        header::parse_contact(t, opts, &mut d).map(|c| c.addr().map(|a| NameAddrSpans::of(buf, a)))
    } else {
        header::parse_name_addr(t, opts, &mut d).map(|a| Some(NameAddrSpans::of(buf, &a)))
    }
}

/// A name-addr (From, To, Contact, Route ...): display name, URI, header parameters.
/// For Contact, `expires` and `q`; `is_star` for `Contact: *` (whose `uri` is None).
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct NameAddr {
    data: Py<PyBytes>,
    text: Span,
    opts: Opts,
    contact: bool,
    /// `None` inside for `Contact: *`.
    spans: GILOnceCell<Box<Option<NameAddrSpans>>>,
    /// The tag parameter (a `str`) or None, found when the object is made (the dialog id,
    /// RFC 3261 §12): a struct member the interpreter reads itself.
    #[pyo3(get)]
    tag: PyObject,
}

impl NameAddr {
    /// The name-addr at `text`; its tag is found now (by the one-pass reader of the common
    /// shape, else by the full parse, whose error is raised here), the rest when read.
    fn new(
        py: Python<'_>,
        data: &Py<PyBytes>,
        text: Span,
        opts: &Opts,
        contact: bool,
        known: Option<NameAddrSpans>,
    ) -> PyResult<Self> {
        let buf = data.as_bytes(py);
        let spans = preset(py, known.map(Some));
        let tag = match known {
            Some(k) => k.tag,
            None => match header::tag_fast(text.of(buf), opts.get()) {
                Some(t) => t.map(|t| Span::within(buf, t)),
                None => {
                    let s = parse_name_addr_spans(buf, text, opts.get(), contact)
                        .map_err(|e| parse_error(py, e.shifted(text.start as usize), buf))?;
                    let tag = s.and_then(|s| s.tag);
                    let _ = spans.set(py, Box::new(s));
                    tag
                }
            },
        };
        Ok(NameAddr {
            data: data.clone_ref(py),
            text,
            opts: opts.clone(),
            contact,
            spans,
            tag: opt_obj(py, buf, tag),
        })
    }

    fn buf<'a>(&'a self, py: Python<'a>) -> &'a [u8] {
        self.data.as_bytes(py)
    }

    fn spans(&self, py: Python<'_>) -> PyResult<Option<&NameAddrSpans>> {
        let (contact, opts, text) = (self.contact, self.opts.get(), self.text);
        parts(py, &self.spans, &self.data, text, |buf, _| {
            parse_name_addr_spans(buf, text, opts, contact)
        })
        .map(Option::as_ref)
    }

    fn params_view<'a>(&self, py: Python<'a>, buf: &'a [u8]) -> PyResult<Params<'a>> {
        let raw = self
            .spans(py)?
            .map_or(Span::default(), |s| s.params)
            .of(buf);
        Ok(Params::from_raw(raw, ParamSyntax::Header))
    }

    /// Contact questions, answered by the core's Contact view.
    fn contact<R>(&self, py: Python<'_>, f: impl FnOnce(&Contact<'_>) -> R) -> PyResult<R> {
        let buf = self.buf(py);
        header::parse_contact(self.text.of(buf), self.opts.get(), &mut Vec::new())
            .map(|c| f(&c))
            .map_err(|e| parse_error(py, e.shifted(self.text.start as usize), buf))
    }
}

#[pymethods]
impl NameAddr {
    /// The display name's bytes, unquoted and unfolded, exactly as sent (RFC 3261 §25.1:
    /// quoted-string holds UTF8-NONASCII; a peer may send other bytes, which
    /// `display_name` shows as U+FFFD), or None.
    #[getter]
    fn display_name_bytes<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let Some(d) = self.spans(py)?.and_then(|s| s.display_name) else {
            return Ok(None);
        };
        let raw = header::unquote(d.of(self.buf(py)));
        Ok(Some(PyBytes::new(py, &sipwire::message::unfold(&raw))))
    }

    /// The display name is valid UTF-8 (else `display_name` holds U+FFFD where the bytes
    /// were not; `display_name_bytes` keeps them).
    #[getter]
    fn display_name_is_utf8(&self, py: Python<'_>) -> PyResult<bool> {
        let Some(d) = self.spans(py)?.and_then(|s| s.display_name) else {
            return Ok(true);
        };
        Ok(std::str::from_utf8(d.of(self.buf(py))).is_ok())
    }

    /// The display name, unquoted, or None.
    #[getter]
    fn display_name<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        let Some(d) = self.spans(py)?.and_then(|s| s.display_name) else {
            return Ok(None);
        };
        Ok(Some(pystr_unfolded(
            py,
            &header::unquote(d.of(self.buf(py))),
        )))
    }
    #[getter]
    fn uri(&self, py: Python<'_>) -> PyResult<Option<Uri>> {
        Ok(self.spans(py)?.map(|s| {
            Uri::new(
                py,
                self.data.clone_ref(py),
                s.uri.text,
                self.opts.clone(),
                false,
                Some(s.uri),
            )
        }))
    }
    /// Header parameters (after the `>`), in order.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        params_dict(py, self.params_view(py, self.buf(py))?)
    }
    /// Contact `expires` parameter in seconds, or None.
    #[getter]
    fn expires(&self, py: Python<'_>) -> PyResult<Option<u32>> {
        if !self.params_view(py, self.buf(py))?.contains(b"expires") {
            return Ok(None);
        }
        self.contact(py, |c| c.expires())
    }
    /// Contact `q` parameter (0.0-1.0), or None.
    #[getter]
    fn q(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        if !self.params_view(py, self.buf(py))?.contains(b"q") {
            return Ok(None);
        }
        self.contact(py, |c| c.q().map(|q| f64::from(q) / 1000.0))
    }
    /// `Contact: *` (remove all bindings, RFC 3261 §10.2.2).
    #[getter]
    fn is_star(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.spans(py)?.is_none())
    }
    fn __str__<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        pystr_unfolded(py, self.text.of(self.buf(py)))
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<NameAddr {:?}>", self.__str__(py).to_string_lossy())
    }
}

/// CSeq (RFC 3261 §20.16): sequence number and method.
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct CSeq {
    /// An `int` (struct members are read by the interpreter itself, without a getter call).
    #[pyo3(get)]
    seq: PyObject,
    #[pyo3(get)]
    method: Py<PyString>,
}

#[pymethods]
impl CSeq {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<CSeq {} {}>", self.seq.bind(py), self.method.bind(py))
    }
    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(o) = other.downcast::<CSeq>() else {
            return Ok(false);
        };
        let o = o.get();
        Ok(o.seq.bind(py).eq(self.seq.bind(py))?
            && o.method.bind(py).as_any().eq(self.method.bind(py))?)
    }
}

/// CSeq's number and method, from the parts validation found or parsed now; None when the
/// header is missing.
pub fn cseq_parts<'a>(py: Python<'a>, core: &'a Core) -> PyResult<Option<(u32, &'a [u8])>> {
    let buf = core.buf(py);
    if let Some(c) = core.index.fields().cseq {
        return Ok(Some((c.seq, c.method.of(buf))));
    }
    // `cseq_number` and `cseq_method` are usually read together: the second reads the first's.
    if let Some(&known) = core.cseq.get(py) {
        return Ok(known.map(|(seq, method)| (seq, method.of(buf))));
    }
    let Some(h) = core
        .index
        .headers
        .iter()
        .find(|h| h.kind == HeaderName::CSeq)
    else {
        let _ = core.cseq.set(py, None);
        return Ok(None);
    };
    let c = header::parse_cseq(h.value.of(buf), &core.opts, &mut Vec::new())
        .map_err(|e| parse_error(py, e.shifted(h.value.start as usize), buf))?;
    let _ = core
        .cseq
        .set(py, Some((c.seq, Span::within(buf, c.method))));
    Ok(Some((c.seq, c.method)))
}

pub fn cseq(py: Python<'_>, core: &Core) -> PyResult<Option<CSeq>> {
    cseq_parts(py, core)?
        .map(|(seq, method)| {
            Ok(CSeq {
                seq: seq.into_pyobject(py)?.into_any().unbind(),
                method: token_str(py, method).unbind(),
            })
        })
        .transpose()
}

/// From or To, parsed when read unless validation already found its parts.
pub fn name_addr_of(py: Python<'_>, core: &Core, kind: HeaderName) -> PyResult<Option<NameAddr>> {
    let Some(h) = core.index.headers.iter().find(|h| h.kind == kind) else {
        return Ok(None);
    };
    let known = if kind == HeaderName::From {
        core.index.fields().from
    } else {
        core.index.fields().to
    };
    NameAddr::new(py, &core.data, h.value, &core.handle, false, known).map(Some)
}

/// The tag of From or To, read from the parts validation found or parsed now.
pub fn tag_of<'py>(
    py: Python<'py>,
    core: &Core,
    kind: HeaderName,
) -> PyResult<Option<Bound<'py, PyString>>> {
    let buf = core.buf(py);
    let known = if kind == HeaderName::From {
        core.index.fields().from
    } else {
        core.index.fields().to
    };
    if let Some(k) = known {
        return Ok(opt_str(py, buf, k.tag));
    }
    let Some(h) = core.index.headers.iter().find(|h| h.kind == kind) else {
        return Ok(None);
    };
    if let Some(tag) = header::tag_fast(h.value.of(buf), &core.opts) {
        return Ok(tag.map(|t| pystr(py, t)));
    }
    let na = header::parse_name_addr(h.value.of(buf), &core.opts, &mut Vec::new())
        .map_err(|e| parse_error(py, e.shifted(h.value.start as usize), buf))?;
    Ok(na.tag().map(|t| pystr(py, t)))
}

/// The branch of the top Via value.
pub fn top_branch<'py>(py: Python<'py>, core: &Core) -> PyResult<Option<Bound<'py, PyString>>> {
    let buf = core.buf(py);
    if let Some(v) = core.index.fields().top_via {
        return Ok(opt_str(py, buf, v.branch));
    }
    let Some(h) = core
        .index
        .headers
        .iter()
        .find(|h| h.kind == HeaderName::Via)
    else {
        return Ok(None);
    };
    if let Some(branch) = header::top_branch_fast(h.value.of(buf), &core.opts) {
        return Ok(branch.map(|b| pystr(py, b)));
    }
    let mut d = Vec::new();
    let Some(first) = header::parse_via_list(h.value.of(buf), &core.opts, &mut d).next() else {
        return Ok(None);
    };
    let via = first.map_err(|e| parse_error(py, e.shifted(h.value.start as usize), buf))?;
    Ok(via.branch().map(|b| pystr(py, b)))
}

/// The comma-separated items of every header of `kind`, as spans of the message, in order,
/// each handed to `f`. Empty items, too many items and unbalanced quotes or `<` are reported
/// here; each item's own grammar when it is read.
fn for_list_items(
    py: Python<'_>,
    core: &Core,
    kind: HeaderName,
    mut f: impl FnMut(Span),
) -> PyResult<()> {
    let buf = core.buf(py);
    for h in core.index.headers.iter().filter(|h| h.kind == kind) {
        let v = h.value.of(buf);
        if memchr::memchr(b',', v).is_none() {
            f(h.value);
            continue;
        }
        let mut d = Vec::new();
        let items = header::HeaderList::new(
            v,
            |s: &[u8], _: &ParseOptions, _: &mut Vec<Diagnostic>| Ok(s),
            &core.opts,
            &mut d,
        );
        for item in items {
            let item = item.map_err(|e| parse_error(py, e.shifted(h.value.start as usize), buf))?;
            f(Span::within(buf, item));
        }
    }
    Ok(())
}

fn list_items(py: Python<'_>, core: &Core, kind: HeaderName) -> PyResult<Vec<Span>> {
    let mut out = Vec::new();
    for_list_items(py, core, kind, |s| out.push(s))?;
    Ok(out)
}

/// Every element of the list header `kind` (Contact, Route, Record-Route), in order.
pub fn name_addr_list(py: Python<'_>, core: &Core, kind: HeaderName) -> PyResult<Py<PyList>> {
    let out = PyList::empty(py);
    for text in list_items(py, core, kind)? {
        out.append(NameAddr::new(
            py,
            &core.data,
            text,
            &core.handle,
            kind == HeaderName::Contact,
            None,
        )?)?;
    }
    Ok(out.unbind())
}

/// Every Via value, top first, across all Via headers: a sequence that makes a `Via` when
/// one is read (`len` and `[0]` build no others) and keeps it, so reading it again parses
/// nothing. The top one starts with the parts validation found, if any.
#[pyclass(frozen, sequence, module = "sipwire._sipwire")]
pub struct ViaList {
    data: Py<PyBytes>,
    opts: Opts,
    top: Option<Box<ViaSpans>>,
    /// The first [`VIA_INLINE`] values' spans and objects live in the list itself (no heap
    /// allocation for the usual message); the rest, if any, in `more` (objects not kept).
    inline: [Span; VIA_INLINE],
    made: [PyOnce<Via>; VIA_INLINE],
    more: Vec<Span>,
    len: usize,
}

/// Vias kept inline by a [`ViaList`]: a request through a few proxies has fewer.
const VIA_INLINE: usize = 4;

impl ViaList {
    pub fn new(py: Python<'_>, core: &Core) -> PyResult<Self> {
        let mut list = ViaList {
            data: core.data.clone_ref(py),
            opts: core.handle.clone(),
            top: core.index.fields().top_via.map(Box::new),
            inline: [Span::default(); VIA_INLINE],
            made: std::array::from_fn(|_| PyOnce::new()),
            more: Vec::new(),
            len: 0,
        };
        for_list_items(py, core, HeaderName::Via, |s| {
            match list.inline.get_mut(list.len) {
                Some(slot) => *slot = s,
                None => list.more.push(s),
            }
            list.len += 1;
        })?;
        Ok(list)
    }

    fn span(&self, i: usize) -> Option<Span> {
        match self.inline.get(i) {
            Some(s) if i < self.len => Some(*s),
            Some(_) => None,
            None => self.more.get(i - VIA_INLINE).copied(),
        }
    }

    fn item(&self, py: Python<'_>, i: usize) -> PyResult<Py<Via>> {
        let Some(text) = self.span(i) else {
            return Err(PyIndexError::new_err("Via index out of range"));
        };
        let cell = self.made.get(i);
        if let Some(Some(v)) = cell.and_then(|c| c.get(py)) {
            return Ok(v);
        }
        let known = self
            .top
            .as_deref()
            .filter(|t| i == 0 && t.text == text)
            .copied();
        let via = Py::new(py, Via::new(py, &self.data, text, &self.opts, known)?)?;
        Ok(match cell {
            Some(c) => c.fill(py, Some(via.clone_ref(py))).unwrap_or(via),
            None => via,
        })
    }

    fn all<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for i in 0..self.len {
            out.append(self.item(py, i)?)?;
        }
        Ok(out)
    }
}

#[pymethods]
impl ViaList {
    fn __len__(&self) -> usize {
        self.len
    }

    /// `via[i]` (negative counts from the bottom) or `via[a:b]` (a list).
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(i) = key.extract::<isize>() {
            let n = self.len as isize; // at most the header limit
            let j = if i < 0 { i + n } else { i };
            let j =
                usize::try_from(j).map_err(|_| PyIndexError::new_err("Via index out of range"))?;
            return Ok(self.item(py, j)?.into_bound(py).into_any());
        }
        self.all(py)?.as_any().get_item(key)
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.all(py)?.into_any().try_iter()?.into_any())
    }

    /// Equal, as a list is, to a list (or another Via sequence) of the same Via objects.
    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        let theirs = if let Ok(o) = other.downcast::<ViaList>() {
            o.get().all(py)?.into_any()
        } else if other.is_instance_of::<PyList>() {
            other.clone()
        } else {
            return Ok(py.NotImplemented());
        };
        let same = self.all(py)?.as_any().eq(theirs)?;
        Ok(pyo3::types::PyBool::new(py, same)
            .to_owned()
            .into_any()
            .unbind())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.all(py)?.repr()?.to_string())
    }
}

/// A numeric header (Max-Forwards, Expires) as an int, or None when missing.
pub fn number_of(py: Python<'_>, core: &Core, kind: HeaderName) -> PyResult<Option<u32>> {
    let buf = core.buf(py);
    let Some(h) = core.index.headers.iter().find(|h| h.kind == kind) else {
        return Ok(None);
    };
    let v = h.value.of(buf);
    let mut d = Vec::new();
    let r = match kind {
        HeaderName::MaxForwards => header::parse_max_forwards(v, &core.opts, &mut d).map(u32::from),
        _ => header::parse_expires(v, &core.opts, &mut d),
    };
    r.map(Some)
        .map_err(|e| parse_error(py, e.shifted(h.value.start as usize), buf))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Uri>()?;
    m.add_class::<Via>()?;
    m.add_class::<ViaList>()?;
    m.add_class::<NameAddr>()?;
    m.add_class::<CSeq>()?;
    m.add_function(wrap_pyfunction!(parse_uri, m)?)?;
    m.add_function(wrap_pyfunction!(uri_equal, m)?)?;
    m.add_function(wrap_pyfunction!(parse_challenge, m)?)?;
    Ok(())
}

/// Parses a WWW-Authenticate / Proxy-Authenticate (or Authorization) value into its scheme
/// and parameters (names lower-cased, quoted values unquoted).
#[pyfunction]
#[pyo3(signature = (value, *, strict=true))]
pub fn parse_challenge(
    py: Python<'_>,
    value: &str,
    strict: bool,
) -> PyResult<(String, std::collections::HashMap<String, String>)> {
    let opts = crate::limits::options(py, strict, None);
    let v = value.as_bytes();
    let c = sipwire::header::parse_challenge(v, &opts, &mut Vec::new())
        .map_err(|e| crate::errors::parse_error(py, e, v))?;
    let params = c
        .params()
        .map(|(n, val)| {
            (
                String::from_utf8_lossy(n).to_ascii_lowercase(),
                crate::lossy_string(&sipwire::header::unquote(val)),
            )
        })
        .collect();
    Ok((crate::lossy_string(c.scheme()), params))
}
