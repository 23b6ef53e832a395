//! `StreamParser`: framing for TCP/TLS streams.

use std::sync::Mutex;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sipwire::message::StreamFramer;

use crate::errors::parse_error;
use crate::limits::PyLimits;
use crate::message::{wrap, Mode};

/// Frames SIP messages out of a byte stream (RFC 3261 §18.3: Content-Length is mandatory).
/// `feed()` bytes as they arrive; iterate to take whole messages. A framing error is raised
/// once as ParseError, after the parser has skipped to the next line that looks like a start
/// line; iterating again continues from there. CRLF keep-alives are counted (`pings` are
/// CRLF CRLF, which a transport answers with CRLF, RFC 5626 §3.5.1).
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct StreamParser {
    framer: Mutex<StreamFramer>,
    mode: Mode,
}

impl StreamParser {
    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, StreamFramer>> {
        self.framer
            .lock()
            .map_err(|_| PyRuntimeError::new_err("StreamParser lock poisoned"))
    }
}

#[pymethods]
impl StreamParser {
    #[new]
    #[pyo3(signature = (*, strict=true, limits=None, validate=false))]
    fn new(py: Python<'_>, strict: bool, limits: Option<Py<PyLimits>>, validate: bool) -> Self {
        let mode = Mode {
            strict,
            validate,
            limits,
        };
        StreamParser {
            framer: Mutex::new(StreamFramer::new(mode.opts(py))),
            mode,
        }
    }

    /// Appends received bytes.
    fn feed(&self, data: &[u8]) -> PyResult<()> {
        self.lock()?.feed(data);
        Ok(())
    }

    /// Bytes held that are not yet a whole message.
    #[getter]
    fn buffered(&self) -> PyResult<usize> {
        Ok(self.lock()?.buffered())
    }

    /// Keep-alive pings (CRLF CRLF) seen.
    #[getter]
    fn pings(&self) -> PyResult<u64> {
        Ok(self.lock()?.pings)
    }

    /// Keep-alive pongs (CRLF) seen.
    #[getter]
    fn pongs(&self) -> PyResult<u64> {
        Ok(self.lock()?.pongs)
    }

    /// Bytes dropped while resynchronising after errors.
    #[getter]
    fn skipped(&self) -> PyResult<u64> {
        Ok(self.lock()?.skipped)
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        let mut framer = self.lock()?;
        let next = framer.next_message();
        let dropped = std::mem::take(&mut framer.dropped);
        drop(framer);
        match next {
            None => Ok(None),
            Some(Ok(framed)) => {
                let data = PyBytes::new(py, &framed.bytes);
                let mut index = framed.index;
                if self.mode.validate {
                    index
                        .validate(&framed.bytes, &self.mode.opts(py))
                        .map_err(|e| parse_error(py, e, &framed.bytes))?;
                }
                wrap(py, data.unbind(), index, self.mode.clone_ref(py)).map(Some)
            }
            Some(Err(e)) => Err(parse_error(py, e, &dropped)),
        }
    }
}
