//! The exception hierarchy, and the one conversion from core errors to Python exceptions.
//!
//! Blame is in the type: `RemoteProtocolError` (the input was wrong) and
//! `LocalProtocolError` (the caller asked for something illegal). `ParseError` is both a
//! `RemoteProtocolError` and a `ValueError`.

use crate::lossy_string;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyDict, PyTuple, PyType};
use sipwire::{Error, Location};

pub struct Types {
    pub sipwire_error: Py<PyType>,
    pub remote: Py<PyType>,
    pub local: Py<PyType>,
    pub parse: Py<PyType>,
}

static TYPES: GILOnceCell<Types> = GILOnceCell::new();

fn make_type<'py>(
    py: Python<'py>,
    name: &str,
    bases: &[&Bound<'py, PyType>],
    doc: &str,
) -> PyResult<Py<PyType>> {
    let dict = PyDict::new(py);
    dict.set_item("__module__", "sipwire")?;
    dict.set_item("__doc__", doc)?;
    // Every instance has a kind, also one raised from Python without it: the class's default
    // (instances made here set their own).
    let kind = match name {
        "RemoteProtocolError" => Some("remote"),
        "LocalProtocolError" => Some("invalid_argument"),
        "SipwireError" => Some("error"),
        _ => None,
    };
    if let Some(k) = kind {
        dict.set_item("kind", k)?;
    }
    let bases = PyTuple::new(py, bases)?;
    let t = py
        .get_type::<PyType>()
        .call1((name, bases, dict))?
        .downcast_into::<PyType>()?;
    Ok(t.unbind())
}

pub fn types(py: Python<'_>) -> PyResult<&Types> {
    TYPES.get_or_try_init(py, || {
        let exc = py.get_type::<PyException>();
        let value = py.get_type::<PyValueError>();
        let base = make_type(py, "SipwireError", &[&exc], "Base class of every sipwire exception.")?;
        let b = base.bind(py);
        let remote = make_type(
            py,
            "RemoteProtocolError",
            &[b],
            "The peer (or the input) broke the protocol: the bytes are wrong, not the caller.",
        )?;
        let local = make_type(
            py,
            "LocalProtocolError",
            &[b, &value],
            "The caller asked for something illegal (a header value with CR/LF/NUL, a bad status...).",
        )?;
        let parse = make_type(
            py,
            "ParseError",
            &[remote.bind(py), &value],
            "Input that is not a valid SIP message. Attributes: kind, offset, line, column, header.",
        )?;
        Ok(Types {
            sipwire_error: base,
            remote,
            local,
            parse,
        })
    })
}

/// A ParseError for `err` found in `input` (offsets are into `input`).
pub fn parse_error(py: Python<'_>, err: Error, input: &[u8]) -> PyErr {
    match build_parse_error(py, err, input) {
        Ok(e) => e,
        Err(e) => e,
    }
}

fn build_parse_error(py: Python<'_>, err: Error, input: &[u8]) -> PyResult<PyErr> {
    let loc = Location::find(input, err.offset);
    let header = err
        .header
        .map(|h| h.canonical().to_string())
        .or_else(|| loc.header.map(lossy_string));
    let mut msg = format!(
        "{} (line {}, column {}, byte {}",
        err.kind.describe(),
        loc.line,
        loc.column,
        err.offset
    );
    if let Some(h) = &header {
        msg.push_str(", header ");
        msg.push_str(h);
    }
    msg.push(')');
    let t = types(py)?.parse.bind(py);
    let inst = t.call1((msg,))?;
    inst.setattr("kind", err.kind.name())?;
    inst.setattr("offset", err.offset)?;
    inst.setattr("line", loc.line)?;
    inst.setattr("column", loc.column)?;
    inst.setattr("header", header)?;
    Ok(PyErr::from_value(inst))
}

/// A LocalProtocolError for a value the caller handed to a builder.
pub fn local_error(py: Python<'_>, err: Error, what: &str) -> PyErr {
    let msg = format!(
        "{}: {} (at byte {} of the value)",
        what,
        err.kind.describe(),
        err.offset
    );
    match types(py).and_then(|t| {
        let inst = t.local.bind(py).call1((msg,))?;
        inst.setattr("kind", err.kind.name())?;
        inst.setattr("offset", err.offset)?;
        Ok(PyErr::from_value(inst))
    }) {
        Ok(e) | Err(e) => e,
    }
}

/// A LocalProtocolError with a message saying what to do; `kind` "invalid_argument".
pub fn local_msg(py: Python<'_>, msg: String) -> PyErr {
    local_kind(py, "invalid_argument", msg)
}

/// A LocalProtocolError of a given `kind`.
pub fn local_kind(py: Python<'_>, kind: &str, msg: String) -> PyErr {
    match types(py).and_then(|t| {
        let inst = t.local.bind(py).call1((msg,))?;
        inst.setattr("kind", kind)?;
        Ok(PyErr::from_value(inst))
    }) {
        Ok(e) | Err(e) => e,
    }
}
