//! `sipwire.capture`: captures read in Rust (sipwire-capture), tables out as Arrow.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyDict, PyList};
use sipwire_capture::live::{HepFeed, LiveLimits};
use sipwire_capture::pipeline::Options;
use sipwire_capture::read::{CaptureRead, ReadError, Source};
use sipwire_capture::sip::datagram_row;
use sipwire_capture::source::OpenError;
use sipwire_capture::stats::Stats;
use sipwire_capture::table::{dtmf_batch, rtp_streams_batch, MessagesBuilder};
use sipwire_capture::{CaptureLimits, Counters};

use crate::arrow::{stream_capsule, Table};
use crate::errors;
use crate::limits::{options, PyLimits};

/// The `messages` columns for datagrams given as `bytes`: one row each, in order, with the
/// capture columns (time, addresses, transport) null. Nothing becomes a Python object per
/// message.
#[pyfunction]
#[pyo3(signature = (datagrams, *, strict=false, limits=None, raw=false))]
fn parse_table(
    py: Python<'_>,
    datagrams: &Bound<'_, PyAny>,
    strict: bool,
    limits: Option<Py<PyLimits>>,
    raw: bool,
) -> PyResult<Table> {
    let opts = options(py, strict, limits.as_ref());
    let mut b = MessagesBuilder::new(raw);
    for item in crate::datagrams_iter(datagrams, "parse_table")? {
        let item = item?;
        let bytes = crate::as_bytes(py, &item)?;
        let data = bytes.as_bytes();
        b.push(None, &datagram_row(data, &opts), data);
    }
    let schema = b.schema();
    let batch = b
        .finish()
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("arrow: {e}")))?;
    Ok(Table::new(schema, vec![batch]))
}

/// Why a file that starts with `head` (its first 8 bytes) is not a capture, in the reader's
/// words and without a path; `None` when it starts one (or a gzip or zstd stream).
#[pyfunction]
fn _capture_head_error(head: &[u8]) -> Option<String> {
    sipwire_capture::source::not_capture(head).map(|e| e.to_string())
}

/// What a file starting with `head` is to the capture reader: "pcap", "pcapng", "gzip",
/// "zstd", or `None`.
#[pyfunction]
fn _capture_kind(head: &[u8]) -> Option<&'static str> {
    sipwire_capture::source::capture_kind(head)
}

/// A live HEP feed: packets in, `messages` rows out (`sipwire.capture.listen_hep` drives it
/// from its sockets).
#[pyclass(module = "sipwire._sipwire", name = "HepFeed", frozen)]
pub struct PyHepFeed {
    inner: Mutex<HepFeed>,
}

impl PyHepFeed {
    fn lock(&self) -> std::sync::MutexGuard<'_, HepFeed> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn time_ns(now: f64) -> i64 {
    (now * 1e9) as i64
}

#[pymethods]
impl PyHepFeed {
    #[new]
    #[pyo3(signature = (*, strict=false, limits=None, raw=false, max_rows=1_000_000, max_connections=1024, max_connection_bytes=131_072))]
    fn new(
        py: Python<'_>,
        strict: bool,
        limits: Option<Py<PyLimits>>,
        raw: bool,
        max_rows: usize,
        max_connections: usize,
        max_connection_bytes: usize,
    ) -> Self {
        let bounds = LiveLimits {
            max_rows,
            max_connections,
            max_connection_bytes,
        };
        PyHepFeed {
            inner: Mutex::new(HepFeed::new(
                options(py, strict, limits.as_ref()),
                bounds,
                raw,
            )),
        }
    }

    /// One HEP datagram received at `now` (seconds since the epoch; the packet's own capture
    /// time wins when it has one).
    fn packet(&self, data: &[u8], now: f64) {
        self.lock().packet(data, time_ns(now));
    }

    /// Bytes from TCP connection `conn`.
    fn stream(&self, conn: u64, data: &[u8], now: f64) {
        self.lock().stream(conn, data, time_ns(now));
    }

    /// Connection `conn` closed.
    fn close(&self, conn: u64) {
        self.lock().close(conn);
    }

    /// Rows waiting to be taken.
    #[getter]
    fn pending(&self) -> usize {
        self.lock().pending()
    }

    /// The rows since the last take.
    fn take(&self) -> PyResult<Table> {
        let mut f = self.lock();
        let batch = f
            .take()
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("arrow: {e}")))?;
        Ok(Table::new(f.schema(), vec![batch]))
    }

    /// The feed's counters.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        counters_dict(py, &self.lock().stats)
    }
}

fn counters_dict<'py>(py: Python<'py>, c: &dyn Counters) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let mut err = Ok(());
    c.visit(&mut |name, value| {
        if err.is_ok() {
            err = d.set_item(name, value);
        }
    });
    err.map(|()| d)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Table>()?;
    m.add_class::<PyHepFeed>()?;
    m.add_class::<CaptureReader>()?;
    m.add_function(wrap_pyfunction!(parse_table, m)?)?;
    m.add_function(wrap_pyfunction!(_capture_head_error, m)?)?;
    m.add_function(wrap_pyfunction!(_capture_kind, m)?)?;
    Ok(())
}

/// Reads a Python binary file object (`.read1(n)`, else `.read(n)`) as a Rust reader; the
/// GIL is taken per read.
struct PyReader {
    file: Py<PyAny>,
    /// `read1` returns what one read of the input gives (a live pipe's latest bytes);
    /// `read(n)` of a buffered file waits for all n.
    method: &'static str,
}

impl PyReader {
    fn new(py: Python<'_>, file: Py<PyAny>) -> Self {
        let read1 = file.bind(py).hasattr("read1").unwrap_or(false);
        let method = if read1 { "read1" } else { "read" };
        PyReader { file, method }
    }
}

/// [`PyReader`] for the engines' stage one (engines.rs).
pub struct PyReaderPub(PyReader);

impl PyReaderPub {
    pub fn new(py: Python<'_>, file: Py<PyAny>) -> Self {
        PyReaderPub(PyReader::new(py, file))
    }
}

impl Read for PyReaderPub {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Read for PyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Python::with_gil(|py| {
            let chunk = self
                .file
                .bind(py)
                .call_method1(self.method, (buf.len(),))
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            if chunk.is_none() {
                return Ok(0);
            }
            let data = chunk
                .downcast::<PyBytes>()
                .map(|b| b.as_bytes().to_vec())
                .or_else(|_| chunk.extract::<Vec<u8>>())
                .map_err(|_| {
                    std::io::Error::other(
                        "the file object's read() must return bytes (open it in binary mode, 'rb')",
                    )
                })?;
            let n = data.len().min(buf.len());
            buf.get_mut(..n)
                .ok_or_else(|| std::io::Error::other("read() returned more than asked"))?
                .copy_from_slice(data.get(..n).unwrap_or_default());
            Ok(n)
        })
    }
}

/// The `messages` stream handed to Arrow: each pull runs the read until a batch is ready.
struct MessagesReader {
    read: Arc<Mutex<CaptureRead>>,
    schema: SchemaRef,
    started: Arc<AtomicBool>,
}

impl Iterator for MessagesReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.started.store(true, Ordering::SeqCst);
        let mut read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        read.next_batch()
            .map(|r| r.map_err(|e| ArrowError::ExternalError(Box::new(e))))
    }
}

impl RecordBatchReader for MessagesReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// A capture read in Rust (`sipwire.capture.read` wraps it): the `messages` stream once, the
/// RTP tables and counters once the read is finished.
#[pyclass(module = "sipwire._sipwire", name = "CaptureReader", frozen)]
pub struct CaptureReader {
    read: Arc<Mutex<CaptureRead>>,
    schema: SchemaRef,
    /// Set when a batch was first pulled: a stream exported only for its schema (DuckDB
    /// exports once for the schema, once for the rows) does not use the read up.
    started: Arc<AtomicBool>,
    rtp: OnceLock<(Py<Table>, Py<Table>)>,
    calls: OnceLock<(Py<Table>, Py<Table>)>,
    stop: Arc<AtomicBool>,
    published: Arc<Mutex<Stats>>,
}

impl CaptureReader {
    fn lock(&self) -> std::sync::MutexGuard<'_, CaptureRead> {
        self.read.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn read_error(py: Python<'_>, e: ReadError) -> PyErr {
    match e {
        ReadError::Open(e) => open_error(py, e),
        ReadError::Arrow(e) => pyo3::exceptions::PyRuntimeError::new_err(format!("arrow: {e}")),
    }
}

fn open_error(py: Python<'_>, e: OpenError) -> PyErr {
    let _ = py;
    match &e {
        OpenError::Io { error, .. } if error.kind() == std::io::ErrorKind::NotFound => {
            pyo3::exceptions::PyFileNotFoundError::new_err(e.to_string())
        }
        OpenError::Io { .. } => pyo3::exceptions::PyOSError::new_err(e.to_string()),
        _ => pyo3::exceptions::PyValueError::new_err(e.to_string()),
    }
}

#[pymethods]
impl CaptureReader {
    /// `sources`: paths (str) and binary file objects; several paths are merged by time into
    /// one capture (read.rs).
    #[new]
    #[allow(clippy::too_many_arguments)] // one keyword argument per option, as in Python
    #[pyo3(signature = (sources, *, strict=false, limits=None, raw=false, rtp=true, batch_rows=65536, calls=false, calls_thread=false))]
    fn new(
        py: Python<'_>,
        sources: &Bound<'_, PyList>,
        strict: bool,
        limits: Option<Py<PyLimits>>,
        raw: bool,
        rtp: bool,
        batch_rows: usize,
        calls: bool,
        calls_thread: bool,
    ) -> PyResult<Self> {
        let mut srcs = Vec::new();
        for s in sources.iter() {
            if let Ok(p) = s.extract::<std::path::PathBuf>() {
                srcs.push(Source::Path(p));
            } else if s.hasattr("read")? {
                srcs.push(Source::Reader(Box::new(PyReader::new(py, s.unbind()))));
            } else {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "a capture source is a path or a binary file object, not {}",
                    s.get_type().name()?
                )));
            }
        }
        let opts = Options {
            parse: options(py, strict, limits.as_ref()),
            limits: CaptureLimits::DEFAULT,
            raw,
            rtp,
            batch_rows: batch_rows.max(1),
            calls,
            calls_thread,
        };
        let read = CaptureRead::new(srcs, opts);
        Ok(CaptureReader {
            schema: read.schema(),
            stop: read.stop_flag(),
            published: read.published_stats(),
            read: Arc::new(Mutex::new(read)),
            started: Arc::new(AtomicBool::new(false)),
            rtp: OnceLock::new(),
            calls: OnceLock::new(),
        })
    }

    /// The `messages` table as an Arrow stream capsule. The read is a single pass over the
    /// input: once rows were pulled from one export, another export is refused.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        if self.started.load(Ordering::SeqCst) {
            return Err(errors::local_msg(
                py,
                "this capture's messages were already read (a read is one pass over its input): call sipwire.capture.read again, or keep the table (pyarrow.table(capture.messages))".into(),
            ));
        }
        let reader = MessagesReader {
            read: self.read.clone(),
            schema: self.schema.clone(),
            started: self.started.clone(),
        };
        stream_capsule(py, Box::new(reader))
    }

    /// Reads to the end of the input (the GIL released), keeping the `messages` batches not yet
    /// taken; the RTP tables and the counters are final after this.
    fn finish(&self, py: Python<'_>) -> PyResult<()> {
        let read = self.read.clone();
        py.allow_threads(move || loop {
            // In slices, so `stats()` from another thread (a progress display) gets in.
            let mut r = read.lock().unwrap_or_else(|p| p.into_inner());
            if r.read_some(16)? {
                return Ok(());
            }
        })
        .map_err(|e| read_error(py, e))
    }

    /// Reads ahead (the GIL released) until `batches` `messages` batches wait to be taken,
    /// or the input ends: work the caller does meanwhile on another thread overlaps the
    /// read. An error of the read is raised where the stream (or `finish`) comes to it.
    #[pyo3(signature = (batches=1))]
    fn read_ahead(&self, py: Python<'_>, batches: usize) {
        let read = self.read.clone();
        py.allow_threads(move || {
            // A batch at a time, so `stats()` from another thread gets in between.
            for n in 1..=batches {
                let mut r = read.lock().unwrap_or_else(|p| p.into_inner());
                r.read_ahead(n);
                if r.is_finished() {
                    break;
                }
            }
        });
    }

    /// The `calls` table (a read made with calls=True; finishes the read first).
    fn calls(&self, py: Python<'_>) -> PyResult<Py<Table>> {
        Ok(self.call_tables(py)?.0.clone_ref(py))
    }

    /// The `media` table (a read made with calls=True; finishes the read first).
    fn media(&self, py: Python<'_>) -> PyResult<Py<Table>> {
        Ok(self.call_tables(py)?.1.clone_ref(py))
    }

    /// The RTP/RTCP streams table (finishes the read first).
    fn rtp_streams(&self, py: Python<'_>) -> PyResult<Py<Table>> {
        Ok(self.rtp_tables(py)?.0.clone_ref(py))
    }

    /// The telephone-events table (finishes the read first).
    fn dtmf(&self, py: Python<'_>) -> PyResult<Py<Table>> {
        Ok(self.rtp_tables(py)?.1.clone_ref(py))
    }

    /// Every stage's counters, flat.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        // The read holds its lock while it makes a batch, and a step may wait on a quiet
        // input (a live pipe): then the counters as of its last step.
        let stats = match self.read.try_lock() {
            Ok(r) => r.stats(),
            Err(_) => self
                .published
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        };
        counters_dict(py, &stats)
    }

    /// Ends the read at its next step (from any thread; a read waiting on its input ends
    /// when the input next gives bytes or ends): what was read is finished into the
    /// tables, as if the input ended there. For an interrupt.
    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether the whole input has been read.
    #[getter]
    fn finished(&self) -> bool {
        self.lock().is_finished()
    }
}

impl CaptureReader {
    fn call_tables(&self, py: Python<'_>) -> PyResult<&(Py<Table>, Py<Table>)> {
        if let Some(t) = self.calls.get() {
            return Ok(t);
        }
        self.finish(py)?;
        let arrow =
            |e: ArrowError| pyo3::exceptions::PyRuntimeError::new_err(format!("arrow: {e}"));
        let (c, m) = {
            let mut read = self.lock();
            let Some(a) = read.pipeline_mut().analysis_mut() else {
                return Err(errors::local_msg(
                    py,
                    "this read does not make calls: use sipwire.capture.analyze (or read(..., calls=True))".into(),
                ));
            };
            a.call_batches().map_err(arrow)?
        };
        let tables = (
            Py::new(py, Table::new(c.schema(), vec![c]))?,
            Py::new(py, Table::new(m.schema(), vec![m]))?,
        );
        let _ = self.calls.set(tables);
        self.calls
            .get()
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("call tables"))
    }

    fn rtp_tables(&self, py: Python<'_>) -> PyResult<&(Py<Table>, Py<Table>)> {
        if let Some(t) = self.rtp.get() {
            return Ok(t);
        }
        self.finish(py)?;
        let arrow =
            |e: ArrowError| pyo3::exceptions::PyRuntimeError::new_err(format!("arrow: {e}"));
        let (s, dtmf) = {
            let mut read = self.lock();
            let (streams, dtmf) = read.pipeline_mut().rtp_rows();
            // An analysis joins each stream to its call's media row.
            let s = match read.pipeline_mut().analysis_mut() {
                Some(a) => a.rtp_streams_batch(&streams),
                None => rtp_streams_batch(&streams),
            };
            (s.map_err(arrow)?, dtmf)
        };
        let d = match self.lock().pipeline_mut().analysis_mut() {
            Some(a) => a.dtmf_batch(&dtmf),
            None => dtmf_batch(&dtmf),
        }
        .map_err(arrow)?;
        let tables = (
            Py::new(py, Table::new(s.schema(), vec![s]))?,
            Py::new(py, Table::new(d.schema(), vec![d]))?,
        );
        let _ = self.rtp.set(tables);
        self.rtp
            .get()
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("rtp tables"))
    }
}
