//! PyO3 glue for the sipwire core: a Python class per core type, one exception conversion.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

mod arrow;
mod capture;
mod correlate;
mod endpoint;
mod engines;
mod errors;
mod limits;
mod load;
mod message;
mod once;
mod sdp;
mod stream;
mod typed;

use limits::PyLimits;
use message::Mode;

/// Parses one SIP message (a UDP datagram, a capture record, a file).
///
/// strict=True applies RFC 3261 as written; strict=False repairs what RFC 4475 lets a
/// liberal element repair and records each repair in `.diagnostics`. Framing, start line and
/// header index are checked now; typed headers when read, unless validate=True.
#[pyfunction]
#[pyo3(signature = (data, *, strict=true, limits=None, validate=false))]
fn parse(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    strict: bool,
    limits: Option<Py<PyLimits>>,
    validate: bool,
) -> PyResult<PyObject> {
    let bytes = as_bytes(py, data)?;
    message::parse_into(
        py,
        bytes,
        Mode {
            strict,
            validate,
            limits,
        },
    )
}

/// Parses many messages in one call. With errors="raise" the first ParseError is raised;
/// with errors="return" a ParseError instance stands in the list where a message failed.
#[pyfunction]
#[pyo3(signature = (datagrams, *, strict=true, limits=None, errors="raise", validate=false))]
fn parse_batch(
    py: Python<'_>,
    datagrams: &Bound<'_, PyAny>,
    strict: bool,
    limits: Option<Py<PyLimits>>,
    errors: &str,
    validate: bool,
) -> PyResult<Py<PyList>> {
    let keep_errors = match errors {
        "raise" => false,
        "return" => true,
        _ => {
            return Err(errors::local_msg(
                py,
                format!("errors must be 'raise' or 'return', not {errors:?}"),
            ))
        }
    };
    let out = PyList::empty(py);
    for item in datagrams_iter(datagrams, "parse_batch")? {
        let item = item?;
        let bytes = as_bytes(py, &item)?;
        let mode = Mode {
            strict,
            validate,
            limits: limits.as_ref().map(|l| l.clone_ref(py)),
        };
        match message::parse_into(py, bytes, mode) {
            Ok(m) => out.append(m)?,
            Err(e) if keep_errors && e.is_instance(py, errors::types(py)?.parse.bind(py)) => {
                out.append(e.value(py))?
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out.unbind())
}

/// Rebuilds a pickled message.
#[pyfunction]
#[pyo3(signature = (data, strict, validate, limits))]
fn _restore(
    py: Python<'_>,
    data: Bound<'_, PyBytes>,
    strict: bool,
    validate: bool,
    limits: Option<Py<PyLimits>>,
) -> PyResult<PyObject> {
    message::parse_into(
        py,
        data,
        Mode {
            strict,
            validate,
            limits,
        },
    )
}

/// Builds a request (RFC 3261 §8.1.1) from a method, a Request-URI, headers in order and a
/// body; Content-Length is set. With check=True (the default) To, From, Call-ID, CSeq,
/// Max-Forwards and Via must be present; CR, LF and NUL are refused everywhere.
#[pyfunction]
#[pyo3(signature = (method, uri, headers, body=None, *, check=true, strict=true))]
fn build_request(
    py: Python<'_>,
    method: &str,
    uri: &str,
    headers: Vec<(String, String)>,
    body: Option<&[u8]>,
    check: bool,
    strict: bool,
) -> PyResult<PyObject> {
    let mut b = sipwire::build::RequestBuilder::new(method.as_bytes(), uri.as_bytes())
        .map_err(|e| errors::local_error(py, e, "request line"))?;
    for (n, v) in &headers {
        b.header(n.as_bytes(), v.as_bytes())
            .map_err(|e| errors::local_error(py, e, &format!("header {n}")))?;
    }
    b.body(body.unwrap_or_default());
    let out = if check {
        b.build().map_err(|_| {
            errors::local_msg(py, "a request needs To, From, Call-ID, CSeq, Max-Forwards and Via (RFC 3261 §8.1.1); pass check=False to build it anyway".into())
        })?
    } else {
        b.build_unchecked()
    };
    // check=False builds what it is given (a test rig's broken message), parsed lazily.
    let mode = Mode {
        strict,
        validate: check,
        limits: None,
    };
    message::caller_made(py, &out, &mode, "build_request")?;
    let data = PyBytes::new(py, &out);
    message::parse_into(py, data, mode)
}

pub use sipwire::build::reason_phrase;

/// A random token for tags (RFC 3261 §19.3: at least 32 bits of randomness).
pub fn random_token(py: Python<'_>) -> PyResult<String> {
    py.import("secrets")?
        .getattr("token_hex")?
        .call1((8,))?
        .extract()
}

/// Bytes read from the wire as a `String`: invalid UTF-8 replaced, ASCII (nearly all of SIP)
/// copied without the per-chunk UTF-8 walk.
pub(crate) fn lossy_string(b: &[u8]) -> String {
    sipwire::scan::lossy_str(b).into_owned()
}

/// `bytes` as is (zero copy); `bytearray` and `memoryview` copied once.
pub(crate) fn as_bytes<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    if let Ok(b) = data.downcast::<PyBytes>() {
        return Ok(b.clone());
    }
    if data.is_instance_of::<pyo3::types::PyString>() {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "sipwire parses bytes, not str: encode the text first (SIP is UTF-8)",
        ));
    }
    // bytearray, memoryview and other byte buffers are copied; nothing else is bytes (an int
    // given to `bytes()` would make that many NUL bytes).
    match pyo3::buffer::PyBuffer::<u8>::get(data) {
        Ok(buf) => Ok(PyBytes::new(py, &buf.to_vec(py)?)),
        Err(_) => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "sipwire parses bytes (or bytearray, memoryview), not {}",
            data.get_type().name()?
        ))),
    }
}

/// The datagrams of an iterable, refusing one message given alone (bytes would iterate as
/// its byte values).
pub(crate) fn datagrams_iter<'py>(
    datagrams: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<Bound<'py, pyo3::types::PyIterator>> {
    if datagrams.is_instance_of::<PyBytes>()
        || datagrams.is_instance_of::<pyo3::types::PyByteArray>()
        || datagrams.is_instance_of::<pyo3::types::PyMemoryView>()
        || datagrams.is_instance_of::<pyo3::types::PyString>()
    {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{what} takes an iterable of messages (a list of bytes), not one {}: for one \
             message pass [data]",
            datagrams.get_type().name()?
        )));
    }
    datagrams.try_iter()
}

#[pymodule(gil_used = false)]
fn _sipwire(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // The package version (the workspace's, which maturin also gives the wheel).
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let t = errors::types(py)?;
    m.add("SipwireError", t.sipwire_error.clone_ref(py))?;
    m.add("RemoteProtocolError", t.remote.clone_ref(py))?;
    m.add("LocalProtocolError", t.local.clone_ref(py))?;
    m.add("ParseError", t.parse.clone_ref(py))?;
    m.add_function(wrap_pyfunction!(parse, m)?)?;
    m.add_function(wrap_pyfunction!(parse_batch, m)?)?;
    m.add_function(wrap_pyfunction!(build_request, m)?)?;
    m.add_function(wrap_pyfunction!(_restore, m)?)?;
    m.add_class::<PyLimits>()?;
    m.add_class::<message::Request>()?;
    m.add_class::<message::Response>()?;
    m.add_class::<message::Headers>()?;
    m.add_class::<message::Diagnostic>()?;
    m.add_class::<stream::StreamParser>()?;
    typed::register(m)?;
    sdp::register(m)?;
    correlate::register(m)?;
    capture::register(m)?;
    engines::register(m)?;
    endpoint::register(m)?;
    load::register(m)?;
    Ok(())
}
