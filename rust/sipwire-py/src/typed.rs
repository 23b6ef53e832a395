//! Typed header objects: `Uri`, `Via`, `NameAddr`, `CSeq`.
//!
//! Each holds the message's `bytes` object and the span of its text; attributes are parsed
//! from that text when read, so building the object costs one allocation and no copy.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use sipwire::header::{self, Contact, ParamSyntax, Params};
use sipwire::message::{HeaderName, NameAddrSpans, UriSpans, ViaSpans};
use sipwire::uri::{uri_eq, Uri as CoreUri};
use sipwire::{ParseOptions, Span};

use crate::errors::parse_error;
use crate::message::{pystr, pystr_unfolded, Core};

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

/// A SIP, SIPS, tel or other URI (RFC 3261 §19.1, RFC 3966).
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct Uri {
    data: Py<PyBytes>,
    spans: UriSpans,
    opts: ParseOptions,
    request: bool,
}

impl Uri {
    /// Parses `span` of `data`.
    pub fn new(
        py: Python<'_>,
        data: Py<PyBytes>,
        span: Span,
        opts: ParseOptions,
        request: bool,
    ) -> PyResult<Self> {
        let spans = {
            let buf = data.as_bytes(py);
            let mut diags = Vec::new();
            let parsed = if request {
                CoreUri::parse_request_uri(span.of(buf), &opts, &mut diags)
            } else {
                CoreUri::parse(span.of(buf), &opts, &mut diags)
            };
            parsed
                .map(|u| UriSpans::of(buf, &u))
                .map_err(|e| parse_error(py, e.shifted(span.start as usize), buf))?
        };
        Ok(Uri {
            data,
            spans,
            opts,
            request,
        })
    }

    /// From the parts validation already found.
    pub fn from_spans(
        data: Py<PyBytes>,
        spans: UriSpans,
        opts: ParseOptions,
        request: bool,
    ) -> Self {
        Uri {
            data,
            spans,
            opts,
            request,
        }
    }

    fn buf<'a>(&'a self, py: Python<'a>) -> &'a [u8] {
        self.data.as_bytes(py)
    }

    /// Parses again, for the rarer questions (URI headers, equality).
    fn with<R>(&self, py: Python<'_>, f: impl FnOnce(&CoreUri<'_>) -> R) -> PyResult<R> {
        let buf = self.buf(py);
        let text = self.spans.text.of(buf);
        let mut diags = Vec::new();
        let parsed = if self.request {
            CoreUri::parse_request_uri(text, &self.opts, &mut diags)
        } else {
            CoreUri::parse(text, &self.opts, &mut diags)
        };
        parsed
            .map(|u| f(&u))
            .map_err(|e| parse_error(py, e.shifted(self.spans.text.start as usize), buf))
    }

    fn params_view<'a>(&self, buf: &'a [u8]) -> Params<'a> {
        Params::from_raw(self.spans.params.of(buf), ParamSyntax::Uri)
    }
}

#[pymethods]
impl Uri {
    /// `sip`, `sips`, `tel` (lower case), or another scheme as written.
    #[getter]
    fn scheme<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        let s = self.spans.scheme.of(self.buf(py));
        match s.to_ascii_lowercase().as_slice() {
            b"sip" | b"sips" | b"tel" => token_str(py, &s.to_ascii_lowercase()),
            _ => pystr(py, s),
        }
    }
    /// The user part as written (escapes kept: `%41` is not `A`, RFC 3261 §19.1.4); for tel
    /// URIs, the number.
    #[getter]
    fn user<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        opt_str(py, self.buf(py), self.spans.user)
    }
    #[getter]
    fn password<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        opt_str(py, self.buf(py), self.spans.password)
    }
    /// The host as written: a domain, an IPv4 address, or an IPv6 reference with its brackets.
    #[getter]
    fn host<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        opt_str(py, self.buf(py), self.spans.host)
    }
    #[getter]
    fn port(&self) -> Option<u16> {
        self.spans.port
    }
    /// URI parameters in order: name -> value (None for a flag such as `lr`).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        params_dict(py, self.params_view(self.buf(py)))
    }
    /// `?name=value&...` headers (escapes kept).
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        if self.spans.headers.is_none() {
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
    fn user_param<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        let buf = self.buf(py);
        self.params_view(buf).value(b"user").map(|x| pystr(py, x))
    }
    /// The `transport` parameter, or None.
    #[getter]
    fn transport<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        let buf = self.buf(py);
        self.params_view(buf)
            .value(b"transport")
            .map(|x| pystr(py, x))
    }
    /// Whether the `lr` parameter is present (a loose router, RFC 3261 §16.12).
    #[getter]
    fn lr(&self, py: Python<'_>) -> bool {
        self.params_view(self.buf(py)).contains(b"lr")
    }
    fn __str__<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        pystr(py, self.spans.text.of(self.buf(py)))
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
    fn __hash__(&self, py: Python<'_>) -> u64 {
        use std::hash::{Hash, Hasher};
        let buf = self.buf(py);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.spans.scheme.of(buf).to_ascii_lowercase().hash(&mut h);
        if let Some(host) = self.spans.host {
            let host = host.of(buf);
            let host = host
                .strip_prefix(b"[")
                .and_then(|x| x.strip_suffix(b"]"))
                .unwrap_or(host);
            host.to_ascii_lowercase().hash(&mut h);
        }
        self.spans.port.hash(&mut h);
        h.finish()
    }
}

/// Parses a URI on its own (as found in a header, `<>` removed).
#[pyfunction]
#[pyo3(signature = (text, *, strict=true))]
pub fn parse_uri(py: Python<'_>, text: &str, strict: bool) -> PyResult<Uri> {
    let data = PyBytes::new(py, text.as_bytes()).unbind();
    let opts = crate::limits::options(py, strict, None);
    Uri::new(py, data, Span::new(0, text.len()), opts, false)
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
    spans: ViaSpans,
}

impl Via {
    fn buf<'a>(&'a self, py: Python<'a>) -> &'a [u8] {
        self.data.as_bytes(py)
    }
}

#[pymethods]
impl Via {
    /// `SIP/2.0`.
    #[getter]
    fn protocol(&self, py: Python<'_>) -> String {
        let buf = self.buf(py);
        format!(
            "{}/{}",
            String::from_utf8_lossy(self.spans.protocol_name.of(buf)),
            String::from_utf8_lossy(self.spans.protocol_version.of(buf))
        )
    }
    /// `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS`, or another token, as written.
    #[getter]
    fn transport<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        token_str(py, self.spans.transport.of(self.buf(py)))
    }
    /// The sent-by host as written (IPv6 references keep their brackets).
    #[getter]
    fn host<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        pystr(py, self.spans.host.of(self.buf(py)))
    }
    #[getter]
    fn port(&self) -> Option<u16> {
        self.spans.port
    }
    #[getter]
    fn branch<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        opt_str(py, self.buf(py), self.spans.branch)
    }
    /// Whether the branch starts with the RFC 3261 magic cookie `z9hG4bK` (and has more).
    #[getter]
    fn has_rfc3261_branch(&self) -> bool {
        self.spans.rfc3261_branch
    }
    #[getter]
    fn received<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        opt_str(py, self.buf(py), self.spans.received)
    }
    /// The rport value (RFC 3581), or None when absent or sent without a value (see
    /// `rport_requested`).
    #[getter]
    fn rport(&self) -> Option<u16> {
        self.spans.rport.flatten()
    }
    /// Whether the rport parameter is present, with or without a value.
    #[getter]
    fn rport_requested(&self) -> bool {
        self.spans.rport.is_some()
    }
    #[getter]
    fn maddr<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        opt_str(py, self.buf(py), self.spans.maddr)
    }
    #[getter]
    fn ttl(&self) -> Option<u8> {
        self.spans.ttl
    }
    /// Every parameter in order (branch, received, rport ... and unknown ones).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        params_dict(
            py,
            Params::from_raw(self.spans.params.of(self.buf(py)), ParamSyntax::Header),
        )
    }
    fn __str__<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        pystr_unfolded(py, self.spans.text.of(self.buf(py)))
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<Via {:?}>", self.__str__(py).to_string_lossy())
    }
}

/// A name-addr (From, To, Contact, Route ...): display name, URI, header parameters.
/// For Contact, `expires` and `q`; `is_star` for `Contact: *` (whose `uri` is None).
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct NameAddr {
    data: Py<PyBytes>,
    /// `None` for `Contact: *`.
    spans: Option<NameAddrSpans>,
    text: Span,
    opts: ParseOptions,
}

impl NameAddr {
    pub fn from_spans(data: Py<PyBytes>, spans: NameAddrSpans, opts: ParseOptions) -> Self {
        NameAddr {
            data,
            text: spans.text,
            spans: Some(spans),
            opts,
        }
    }

    fn buf<'a>(&'a self, py: Python<'a>) -> &'a [u8] {
        self.data.as_bytes(py)
    }

    fn params_view<'a>(&self, buf: &'a [u8]) -> Params<'a> {
        Params::from_raw(
            self.spans.map_or(Span::default(), |s| s.params).of(buf),
            ParamSyntax::Header,
        )
    }

    /// Contact questions, answered by the core's Contact view.
    fn contact<R>(&self, py: Python<'_>, f: impl FnOnce(&Contact<'_>) -> R) -> PyResult<R> {
        let buf = self.buf(py);
        header::parse_contact(self.text.of(buf), &self.opts, &mut Vec::new())
            .map(|c| f(&c))
            .map_err(|e| parse_error(py, e.shifted(self.text.start as usize), buf))
    }
}

#[pymethods]
impl NameAddr {
    /// The display name, unquoted, or None.
    #[getter]
    fn display_name<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        let d = self.spans?.display_name?;
        Some(pystr_unfolded(py, &header::unquote(d.of(self.buf(py)))))
    }
    #[getter]
    fn uri(&self, py: Python<'_>) -> Option<Uri> {
        self.spans
            .map(|s| Uri::from_spans(self.data.clone_ref(py), s.uri, self.opts, false))
    }
    #[getter]
    fn tag<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        opt_str(py, self.buf(py), self.spans?.tag)
    }
    /// Header parameters (after the `>`), in order.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        params_dict(py, self.params_view(self.buf(py)))
    }
    /// Contact `expires` parameter in seconds, or None.
    #[getter]
    fn expires(&self, py: Python<'_>) -> PyResult<Option<u32>> {
        if !self.params_view(self.buf(py)).contains(b"expires") {
            return Ok(None);
        }
        self.contact(py, |c| c.expires())
    }
    /// Contact `q` parameter (0.0-1.0), or None.
    #[getter]
    fn q(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        if !self.params_view(self.buf(py)).contains(b"q") {
            return Ok(None);
        }
        self.contact(py, |c| c.q().map(|q| f64::from(q) / 1000.0))
    }
    /// `Contact: *` (remove all bindings, RFC 3261 §10.2.2).
    #[getter]
    fn is_star(&self) -> bool {
        self.spans.is_none()
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
    #[pyo3(get)]
    seq: u32,
    #[pyo3(get)]
    method: String,
}

#[pymethods]
impl CSeq {
    fn __repr__(&self) -> String {
        format!("<CSeq {} {}>", self.seq, self.method)
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .downcast::<CSeq>()
            .is_ok_and(|o| o.get().seq == self.seq && o.get().method == self.method)
    }
}

pub fn cseq(py: Python<'_>, core: &Core) -> PyResult<Option<CSeq>> {
    let buf = core.buf(py);
    if let Some(c) = core.index.fields.cseq {
        return Ok(Some(CSeq {
            seq: c.seq,
            method: token_str(py, c.method.of(buf)).to_string(),
        }));
    }
    let Some(h) = core
        .index
        .headers
        .iter()
        .find(|h| h.kind == HeaderName::CSeq)
    else {
        return Ok(None);
    };
    let c = header::parse_cseq(h.value.of(buf), &core.opts, &mut Vec::new())
        .map_err(|e| parse_error(py, e.shifted(h.value.start as usize), buf))?;
    Ok(Some(CSeq {
        seq: c.seq,
        method: String::from_utf8_lossy(c.method).into_owned(),
    }))
}

/// From or To: from the parts validation found, else parsed now.
pub fn name_addr_of(py: Python<'_>, core: &Core, kind: HeaderName) -> PyResult<Option<NameAddr>> {
    let known = if kind == HeaderName::From {
        core.index.fields.from
    } else {
        core.index.fields.to
    };
    if let Some(spans) = known {
        return Ok(Some(NameAddr::from_spans(
            core.data.clone_ref(py),
            spans,
            core.opts,
        )));
    }
    let buf = core.buf(py);
    let Some(h) = core.index.headers.iter().find(|h| h.kind == kind) else {
        return Ok(None);
    };
    let spans = header::parse_name_addr(h.value.of(buf), &core.opts, &mut Vec::new())
        .map(|n| NameAddrSpans::of(buf, &n))
        .map_err(|e| parse_error(py, e.shifted(h.value.start as usize), buf))?;
    Ok(Some(NameAddr::from_spans(
        core.data.clone_ref(py),
        spans,
        core.opts,
    )))
}

/// Every element of the list header `kind` (Contact, Route, Record-Route), in order.
pub fn name_addr_list(py: Python<'_>, core: &Core, kind: HeaderName) -> PyResult<Py<PyList>> {
    let buf = core.buf(py);
    let out = PyList::empty(py);
    for h in core.index.headers.iter().filter(|h| h.kind == kind) {
        let v = h.value.of(buf);
        let base = h.value.start as usize;
        let mut d = Vec::new();
        if kind == HeaderName::Contact {
            for item in header::parse_contact_list(v, &core.opts, &mut d) {
                let item = match item.map_err(|e| parse_error(py, e.shifted(base), buf))? {
                    Contact::Star => {
                        let star = memchr::memchr(b'*', v).map_or(0, |p| base + p);
                        NameAddr {
                            data: core.data.clone_ref(py),
                            spans: None,
                            text: Span::new(star, star + 1),
                            opts: core.opts,
                        }
                    }
                    Contact::Addr(a) => NameAddr::from_spans(
                        core.data.clone_ref(py),
                        NameAddrSpans::of(buf, &a),
                        core.opts,
                    ),
                };
                out.append(item)?;
            }
        } else {
            for item in header::parse_name_addr_list(v, &core.opts, &mut d) {
                let a = item.map_err(|e| parse_error(py, e.shifted(base), buf))?;
                out.append(NameAddr::from_spans(
                    core.data.clone_ref(py),
                    NameAddrSpans::of(buf, &a),
                    core.opts,
                ))?;
            }
        }
    }
    Ok(out.unbind())
}

/// Every Via value, top first; the top one from the parts validation found.
pub fn vias(py: Python<'_>, core: &Core) -> PyResult<Py<PyList>> {
    let buf = core.buf(py);
    let out = PyList::empty(py);
    let top = core.index.fields.top_via;
    for h in core
        .index
        .headers
        .iter()
        .filter(|h| h.kind == HeaderName::Via)
    {
        let v = h.value.of(buf);
        // One value and its parts already known: no parse.
        if let Some(t) = top.filter(|t| {
            out.is_empty() && t.text.start == h.value.start && t.text.len == h.value.len
        }) {
            out.append(Via {
                data: core.data.clone_ref(py),
                spans: t,
            })?;
            continue;
        }
        let mut d = Vec::new();
        for item in header::parse_via_list(v, &core.opts, &mut d) {
            let via = item.map_err(|e| parse_error(py, e.shifted(h.value.start as usize), buf))?;
            out.append(Via {
                data: core.data.clone_ref(py),
                spans: ViaSpans::of(buf, &via),
            })?;
        }
    }
    Ok(out.unbind())
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
    m.add_class::<NameAddr>()?;
    m.add_class::<CSeq>()?;
    m.add_function(wrap_pyfunction!(parse_uri, m)?)?;
    m.add_function(wrap_pyfunction!(uri_equal, m)?)?;
    Ok(())
}
