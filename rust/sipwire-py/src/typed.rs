//! Typed header objects: `Uri`, `Via`, `NameAddr`, `CSeq`.
//!
//! Each holds the message's `bytes` object and the span of its text; attributes are parsed
//! from that text when read, so building the object costs one allocation and no copy.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use sipwire::header::{self, Contact, Params};
use sipwire::message::HeaderName;
use sipwire::uri::{uri_eq, Host, Uri as CoreUri};
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

fn host_str<'py>(py: Python<'py>, h: Host<'_>) -> Bound<'py, PyString> {
    pystr(py, h.as_bytes())
}

/// A SIP, SIPS, tel or other URI (RFC 3261 §19.1, RFC 3966).
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct Uri {
    data: Py<PyBytes>,
    span: Span,
    opts: ParseOptions,
    request: bool,
}

impl Uri {
    /// Checks that `span` of `data` parses, so every later read succeeds.
    pub fn new(
        py: Python<'_>,
        data: Py<PyBytes>,
        span: Span,
        opts: ParseOptions,
        request: bool,
    ) -> PyResult<Self> {
        let u = Uri {
            data,
            span,
            opts,
            request,
        };
        u.with(py, |_| ())?;
        Ok(u)
    }

    fn with<R>(&self, py: Python<'_>, f: impl FnOnce(&CoreUri<'_>) -> R) -> PyResult<R> {
        let buf = self.data.as_bytes(py);
        let text = self.span.of(buf);
        let mut diags = Vec::new();
        let parsed = if self.request {
            CoreUri::parse_request_uri(text, &self.opts, &mut diags)
        } else {
            CoreUri::parse(text, &self.opts, &mut diags)
        };
        parsed
            .map(|u| f(&u))
            .map_err(|e| parse_error(py, e.shifted(self.span.start as usize), buf))
    }
}

#[pymethods]
impl Uri {
    /// `sip`, `sips`, `tel` (lower case), or another scheme as written.
    #[getter]
    fn scheme<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.with(py, |u| pystr(py, u.scheme().as_bytes()))
    }
    /// The user part as written (escapes kept: `%41` is not `A`, RFC 3261 §19.1.4); for tel
    /// URIs, the number.
    #[getter]
    fn user<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |u| u.user().map(|x| pystr(py, x)))
    }
    #[getter]
    fn password<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |u| u.password().map(|x| pystr(py, x)))
    }
    /// The host as written: a domain, an IPv4 address, or an IPv6 reference with its brackets.
    #[getter]
    fn host<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |u| u.host().map(|h| host_str(py, h)))
    }
    #[getter]
    fn port(&self, py: Python<'_>) -> PyResult<Option<u16>> {
        self.with(py, |u| u.port())
    }
    /// URI parameters in order: name -> value (None for a flag such as `lr`).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.with(py, |u| params_dict(py, u.params()))?
    }
    /// `?name=value&...` headers (escapes kept).
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
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
        self.with(py, |u| u.user_param().map(|x| pystr(py, x)))
    }
    /// The `transport` parameter, or None.
    #[getter]
    fn transport<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |u| u.transport().map(|x| pystr(py, x)))
    }
    /// Whether the `lr` parameter is present (a loose router, RFC 3261 §16.12).
    #[getter]
    fn lr(&self, py: Python<'_>) -> PyResult<bool> {
        self.with(py, |u| u.lr())
    }
    fn __str__<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        pystr(py, self.span.of(self.data.as_bytes(py)))
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
        self.with(py, |u| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            u.scheme().as_bytes().to_ascii_lowercase().hash(&mut h);
            if let Some(host) = u.host() {
                host.address().to_ascii_lowercase().hash(&mut h);
            }
            u.port().hash(&mut h);
            h.finish()
        })
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
    span: Span,
    opts: ParseOptions,
}

impl Via {
    fn with<R>(&self, py: Python<'_>, f: impl FnOnce(&header::Via<'_>) -> R) -> PyResult<R> {
        let buf = self.data.as_bytes(py);
        header::parse_via(self.span.of(buf), &self.opts, &mut Vec::new())
            .map(|v| f(&v))
            .map_err(|e| parse_error(py, e.shifted(self.span.start as usize), buf))
    }
}

#[pymethods]
impl Via {
    /// `SIP/2.0`.
    #[getter]
    fn protocol(&self, py: Python<'_>) -> PyResult<String> {
        self.with(py, |v| {
            format!(
                "{}/{}",
                String::from_utf8_lossy(v.protocol_name()),
                String::from_utf8_lossy(v.protocol_version())
            )
        })
    }
    /// `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS`, or another token, as written.
    #[getter]
    fn transport<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.with(py, |v| pystr(py, v.transport()))
    }
    /// The sent-by host as written (IPv6 references keep their brackets).
    #[getter]
    fn host<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.with(py, |v| host_str(py, v.host()))
    }
    #[getter]
    fn port(&self, py: Python<'_>) -> PyResult<Option<u16>> {
        self.with(py, |v| v.port())
    }
    #[getter]
    fn branch<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |v| v.branch().map(|b| pystr(py, b)))
    }
    /// Whether the branch starts with the RFC 3261 magic cookie `z9hG4bK` (and has more).
    #[getter]
    fn has_rfc3261_branch(&self, py: Python<'_>) -> PyResult<bool> {
        self.with(py, |v| v.has_rfc3261_branch())
    }
    #[getter]
    fn received<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |v| v.received().map(|b| pystr(py, b)))
    }
    /// The rport value (RFC 3581), or None when absent or sent without a value (see
    /// `rport_requested`).
    #[getter]
    fn rport(&self, py: Python<'_>) -> PyResult<Option<u16>> {
        self.with(py, |v| v.rport().flatten())
    }
    /// Whether the rport parameter is present, with or without a value.
    #[getter]
    fn rport_requested(&self, py: Python<'_>) -> PyResult<bool> {
        self.with(py, |v| v.rport().is_some())
    }
    #[getter]
    fn maddr<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |v| v.maddr().map(|b| pystr(py, b)))
    }
    #[getter]
    fn ttl(&self, py: Python<'_>) -> PyResult<Option<u8>> {
        self.with(py, |v| v.ttl())
    }
    /// Every parameter in order (branch, received, rport ... and unknown ones).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.with(py, |v| params_dict(py, v.params()))?
    }
    fn __str__<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        pystr_unfolded(py, self.span.of(self.data.as_bytes(py)))
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
    span: Span,
    opts: ParseOptions,
    contact: bool,
}

impl NameAddr {
    fn with<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(Option<&header::NameAddr<'_>>, &Contact<'_>) -> R,
    ) -> PyResult<R> {
        let buf = self.data.as_bytes(py);
        let text = self.span.of(buf);
        let mut d = Vec::new();
        let parsed = if self.contact {
            header::parse_contact(text, &self.opts, &mut d)
        } else {
            header::parse_name_addr(text, &self.opts, &mut d).map(Contact::Addr)
        };
        parsed
            .map(|c| f(c.addr(), &c))
            .map_err(|e| parse_error(py, e.shifted(self.span.start as usize), buf))
    }
}

#[pymethods]
impl NameAddr {
    /// The display name, unquoted, or None.
    #[getter]
    fn display_name<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |a, _| {
            a.and_then(|a| a.display_name_unquoted())
                .map(|d| pystr_unfolded(py, &d))
        })
    }
    #[getter]
    fn uri(&self, py: Python<'_>) -> PyResult<Option<Uri>> {
        let buf = self.data.as_bytes(py);
        let span = self.with(py, |a, _| a.map(|a| Span::within(buf, a.uri().as_bytes())))?;
        span.map(|s| Uri::new(py, self.data.clone_ref(py), s, self.opts, false))
            .transpose()
    }
    #[getter]
    fn tag<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |a, _| a.and_then(|a| a.tag()).map(|t| pystr(py, t)))
    }
    /// Header parameters (after the `>`), in order.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.with(py, |a, _| match a {
            Some(a) => params_dict(py, a.params()),
            None => Ok(PyDict::new(py)),
        })?
    }
    /// Contact `expires` parameter in seconds, or None.
    #[getter]
    fn expires(&self, py: Python<'_>) -> PyResult<Option<u32>> {
        self.with(py, |_, c| c.expires())
    }
    /// Contact `q` parameter (0.0-1.0), or None.
    #[getter]
    fn q(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        self.with(py, |_, c| c.q().map(|q| f64::from(q) / 1000.0))
    }
    /// `Contact: *` (remove all bindings, RFC 3261 §10.2.2).
    #[getter]
    fn is_star(&self, py: Python<'_>) -> PyResult<bool> {
        self.with(py, |_, c| matches!(c, Contact::Star))
    }
    fn __str__<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        pystr_unfolded(py, self.span.of(self.data.as_bytes(py)))
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

pub fn name_addr_of(py: Python<'_>, core: &Core, kind: HeaderName) -> PyResult<Option<NameAddr>> {
    let Some(h) = core.index.headers.iter().find(|h| h.kind == kind) else {
        return Ok(None);
    };
    let na = NameAddr {
        data: core.data.clone_ref(py),
        span: h.value,
        opts: core.opts,
        contact: false,
    };
    na.with(py, |_, _| ())?;
    Ok(Some(na))
}

/// Every element of the list header `kind` (Contact, Route, Record-Route), in order.
pub fn name_addr_list(py: Python<'_>, core: &Core, kind: HeaderName) -> PyResult<Py<PyList>> {
    let buf = core.buf(py);
    let out = PyList::empty(py);
    let contact = kind == HeaderName::Contact;
    for h in core.index.headers.iter().filter(|h| h.kind == kind) {
        let v = h.value.of(buf);
        let base = h.value.start as usize;
        let mut d = Vec::new();
        let push = |text: &[u8]| -> PyResult<()> {
            out.append(NameAddr {
                data: core.data.clone_ref(py),
                span: Span::within(buf, text),
                opts: core.opts,
                contact,
            })
        };
        if contact {
            for item in header::parse_contact_list(v, &core.opts, &mut d) {
                match item.map_err(|e| parse_error(py, e.shifted(base), buf))? {
                    Contact::Star => {
                        let star = memchr::memchr(b'*', v).map_or(v, |p| v.get(p..=p).unwrap_or(v));
                        push(star)?;
                    }
                    Contact::Addr(a) => push(a.as_bytes())?,
                }
            }
        } else {
            for item in header::parse_name_addr_list(v, &core.opts, &mut d) {
                push(
                    item.map_err(|e| parse_error(py, e.shifted(base), buf))?
                        .as_bytes(),
                )?;
            }
        }
    }
    Ok(out.unbind())
}

pub fn vias(py: Python<'_>, core: &Core) -> PyResult<Py<PyList>> {
    let buf = core.buf(py);
    let out = PyList::empty(py);
    for h in core
        .index
        .headers
        .iter()
        .filter(|h| h.kind == HeaderName::Via)
    {
        let mut d = Vec::new();
        for item in header::parse_via_list(h.value.of(buf), &core.opts, &mut d) {
            let via = item.map_err(|e| parse_error(py, e.shifted(h.value.start as usize), buf))?;
            out.append(Via {
                data: core.data.clone_ref(py),
                span: Span::within(buf, via.as_bytes()),
                opts: core.opts,
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
