//! The distributed engines' Rust steps (sipwire-capture's engine.rs), for
//! `sipwire.capture.ray`, `.spark` and `.dask`: stage one reads a file into event batches;
//! stage two correlates a group of calls, or replays a group's RTP, exactly as one merged read
//! would.
//!
//! Stage two takes its group as Arrow IPC stream bytes (pyarrow writes them at memory speed):
//! read here with safe code, with no Python object per row (importing arrays through the C
//! data interface would need raw pointers, which this crate does not touch).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use arrow_array::{
    Array, BinaryArray, Int64Array, RecordBatch, RecordBatchReader, StringArray, UInt16Array,
    UInt32Array, UInt64Array, UInt8Array,
};
use arrow_schema::{ArrowError, SchemaRef};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict};
use sipwire_capture::engine::{
    correlate, drain_points, events_schema, joins_batch, media_addresses, rtp_replay, transport_of,
    EngineRead, Key, MessageEvent, RtpEvent, KIND_JOIN, KIND_SIP,
};
use sipwire_capture::join::JoinRow;
use sipwire_capture::pipeline::Options;
use sipwire_capture::read::Source;
use sipwire_capture::{CaptureLimits, Counters, Endpoint};

use crate::arrow::{stream_capsule, Table};
use crate::limits::{options, PyLimits};

fn counters<'py>(py: Python<'py>, c: &dyn Counters) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let mut err = Ok(());
    c.visit(&mut |name, value| {
        if err.is_ok() {
            err = d.set_item(name, value);
        }
    });
    err.map(|()| d)
}

fn arrow_err(e: ArrowError) -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err(format!("arrow: {e}"))
}

struct EventsReader {
    read: Arc<Mutex<EngineRead>>,
    schema: SchemaRef,
}

impl Iterator for EventsReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut r = self.read.lock().unwrap_or_else(|p| p.into_inner());
        r.next_batch()
            .map(|b| b.map_err(|e| ArrowError::ExternalError(Box::new(e))))
    }
}

impl RecordBatchReader for EventsReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// Stage one of the distributed engines: one capture file read into event batches (the
/// `messages` columns with `raw`, then `kind`, `_rank`, `_clock`, `_seq`, `_fed`).
#[pyclass(module = "sipwire._sipwire", name = "EngineReader", frozen)]
pub struct EngineReader {
    read: Arc<Mutex<EngineRead>>,
}

#[pymethods]
impl EngineReader {
    /// `source`: a path or a binary file object; `file`: the `file` column's text; `rank`: the
    /// file's rank among the set's paths (sorted).
    #[new]
    #[pyo3(signature = (source, *, file, rank, strict=false, limits=None, batch_rows=65536))]
    fn new(
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        file: Option<String>,
        rank: u32,
        strict: bool,
        limits: Option<Py<PyLimits>>,
        batch_rows: usize,
    ) -> PyResult<Self> {
        let src = if let Ok(p) = source.extract::<std::path::PathBuf>() {
            Source::Path(p)
        } else if source.hasattr("read")? {
            Source::Reader(Box::new(crate::capture::PyReaderPub::new(
                py,
                source.clone().unbind(),
            )))
        } else {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "a capture source is a path or a binary file object, not {}",
                source.get_type().name()?
            )));
        };
        let opts = Options {
            parse: options(py, strict, limits.as_ref()),
            limits: CaptureLimits::DEFAULT,
            raw: true,
            rtp: true,
            batch_rows: batch_rows.max(1),
            calls: false,
            calls_thread: false,
        };
        Ok(EngineReader {
            read: Arc::new(Mutex::new(EngineRead::new(
                src,
                file.map(Arc::from),
                rank,
                opts,
            ))),
        })
    }

    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let reader = EventsReader {
            read: self.read.clone(),
            schema: events_schema(),
        };
        stream_capsule(py, Box::new(reader))
    }

    /// Every stage's counters, flat.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.read.lock().unwrap_or_else(|p| p.into_inner()).stats();
        counters(py, &s)
    }
}

/// Indices of the drain points among the fed messages' times (in the merged read's order).
#[pyfunction]
fn engine_drain_points(times: Vec<i64>) -> Vec<usize> {
    drain_points(&times)
}

fn endpoint(ip: &str, port: u16) -> PyResult<Endpoint> {
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| PyValueError::new_err(format!("not an IP address: {ip:?}")))?;
    Ok(Endpoint { ip, port })
}

/// The record batches of Arrow IPC stream bytes.
fn read_ipc(data: &[u8]) -> PyResult<Vec<RecordBatch>> {
    let bad = |e: ArrowError| PyValueError::new_err(format!("not an Arrow IPC stream: {e}"));
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(data), None).map_err(bad)?;
    reader.collect::<Result<Vec<_>, _>>().map_err(bad)
}

fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> PyResult<&'a T> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "the group's column {name:?} is missing or not of the engine's type"
            ))
        })
}

/// The columns of one group batch that both stage-two steps read.
struct Cols<'a> {
    clock: &'a Int64Array,
    rank: &'a UInt32Array,
    seq: &'a UInt64Array,
    time: &'a Int64Array,
    src_ip: &'a StringArray,
    src_port: &'a UInt16Array,
    dst_ip: &'a StringArray,
    dst_port: &'a UInt16Array,
    raw: &'a BinaryArray,
}

impl<'a> Cols<'a> {
    fn of(b: &'a RecordBatch) -> PyResult<Self> {
        Ok(Cols {
            clock: col(b, "_clock")?,
            rank: col(b, "_rank")?,
            seq: col(b, "_seq")?,
            time: col(b, "time")?,
            src_ip: col(b, "src_ip")?,
            src_port: col(b, "src_port")?,
            dst_ip: col(b, "dst_ip")?,
            dst_port: col(b, "dst_port")?,
            raw: col(b, "raw")?,
        })
    }

    fn key(&self, i: usize) -> Key {
        (self.clock.value(i), self.rank.value(i), self.seq.value(i))
    }

    fn src(&self, i: usize) -> PyResult<Option<Endpoint>> {
        if self.src_ip.is_null(i) || self.src_port.is_null(i) {
            return Ok(None);
        }
        endpoint(self.src_ip.value(i), self.src_port.value(i)).map(Some)
    }

    fn dst(&self, i: usize) -> PyResult<Option<Endpoint>> {
        if self.dst_ip.is_null(i) || self.dst_port.is_null(i) {
            return Ok(None);
        }
        endpoint(self.dst_ip.value(i), self.dst_port.value(i)).map(Some)
    }
}

/// Stage two for calls: the `calls` and `media` tables, the `dtmf` rows of its INFO requests,
/// the correlator's counters and the join rows of a group holding every fed message of its
/// Call-IDs: `group` is Arrow IPC stream bytes with `_clock`, `_rank`, `_seq`, `time` (int64
/// ns), the addresses, `transport` and `raw`, any order. `drains`: (clock, rank, seq, time) of every drain point of the whole set; `end`:
/// the set's last fed message time.
#[pyfunction]
#[pyo3(signature = (group, drains, end, *, strict=false, limits=None))]
fn engine_correlate<'py>(
    py: Python<'py>,
    group: &[u8],
    drains: Vec<(i64, u32, u64, i64)>,
    end: Option<i64>,
    strict: bool,
    limits: Option<Py<PyLimits>>,
) -> PyResult<(Table, Table, Table, Bound<'py, PyDict>, Table)> {
    let parse = options(py, strict, limits.as_ref());
    let batches = read_ipc(group)?;
    let mut rows: Vec<(Key, usize, usize)> = Vec::new();
    let mut cols = Vec::with_capacity(batches.len());
    let mut transports = Vec::with_capacity(batches.len());
    for (bi, b) in batches.iter().enumerate() {
        let c = Cols::of(b)?;
        rows.extend((0..b.num_rows()).map(|i| (c.key(i), bi, i)));
        cols.push(c);
        transports.push(col::<StringArray>(b, "transport")?);
    }
    rows.sort_unstable();
    let mut events = Vec::with_capacity(rows.len());
    for (key, bi, i) in rows {
        let (Some(c), Some(tr)) = (cols.get(bi), transports.get(bi)) else {
            continue;
        };
        let (Some(src), Some(dst)) = (c.src(i)?, c.dst(i)?) else {
            continue;
        };
        let name = tr.value(i);
        let transport = transport_of(name)
            .ok_or_else(|| PyValueError::new_err(format!("unknown transport {name:?}")))?;
        events.push(MessageEvent {
            key,
            time_ns: c.time.value(i),
            src,
            dst,
            transport,
            raw: c.raw.value(i),
        });
    }
    let mut drains: Vec<(Key, i64)> = drains
        .into_iter()
        .map(|(c, r, s, t)| ((c, r, s), t))
        .collect();
    drains.sort();
    let out = py
        .allow_threads(|| correlate(events, &drains, end, parse))
        .map_err(arrow_err)?;
    let j = joins_batch(&out.joins).map_err(arrow_err)?;
    let table = |b: RecordBatch| Table::new(b.schema(), vec![b]);
    Ok((
        table(out.calls),
        table(out.media),
        table(out.dtmf),
        counters(py, &out.stats)?,
        table(j),
    ))
}

/// Stage two for RTP: the `rtp_streams` and `dtmf` tables and the RTP stage's counters of a
/// group: Arrow IPC stream bytes of its UDP events and the SIP events routed to it (`kind`,
/// `frame` and the columns [`engine_correlate`] reads but `transport`), any order.
#[pyfunction]
#[pyo3(signature = (group, *, strict=false, limits=None))]
fn engine_rtp<'py>(
    py: Python<'py>,
    group: &[u8],
    strict: bool,
    limits: Option<Py<PyLimits>>,
) -> PyResult<(Table, Table, Bound<'py, PyDict>)> {
    let parse = options(py, strict, limits.as_ref());
    let batches = read_ipc(group)?;
    let mut rows: Vec<(Key, usize, usize)> = Vec::new();
    let mut cols = Vec::with_capacity(batches.len());
    let mut extra = Vec::with_capacity(batches.len());
    for (bi, b) in batches.iter().enumerate() {
        let c = Cols::of(b)?;
        rows.extend((0..b.num_rows()).map(|i| (c.key(i), bi, i)));
        cols.push(c);
        extra.push((
            col::<UInt8Array>(b, "kind")?,
            col::<UInt64Array>(b, "frame")?,
        ));
    }
    rows.sort_unstable();
    let mut events = Vec::with_capacity(rows.len());
    let mut joins = Vec::new();
    for (_, bi, i) in rows {
        let (Some(c), Some((kind, frame))) = (cols.get(bi), extra.get(bi)) else {
            continue;
        };
        let time_ns = c.time.value(i);
        let raw = c.raw.value(i);
        if kind.value(i) == KIND_JOIN {
            let row = JoinRow::decode(raw).ok_or_else(|| {
                PyValueError::new_err("a join row (kind 3) whose bytes are not a join row's")
            })?;
            joins.push(row);
            continue;
        }
        if kind.value(i) == KIND_SIP {
            events.push(RtpEvent::Sip { time_ns, raw });
            continue;
        }
        let (Some(src), Some(dst)) = (c.src(i)?, c.dst(i)?) else {
            continue;
        };
        events.push(RtpEvent::Udp {
            time_ns,
            frame: if frame.is_null(i) { 0 } else { frame.value(i) },
            src,
            dst,
            payload: raw,
        });
    }
    let (s, d, st) = py
        .allow_threads(|| rtp_replay(events, joins, CaptureLimits::DEFAULT, parse))
        .map_err(arrow_err)?;
    Ok((
        Table::new(s.schema(), vec![s]),
        Table::new(d.schema(), vec![d]),
        counters(py, &st)?,
    ))
}

/// The addresses each message's SDP announces RTP or RTCP at (empty without SDP).
#[pyfunction]
#[pyo3(signature = (raw, *, strict=false, limits=None))]
fn engine_media_addresses(
    py: Python<'_>,
    raw: Vec<Option<Vec<u8>>>,
    strict: bool,
    limits: Option<Py<PyLimits>>,
) -> Vec<Vec<String>> {
    let parse = options(py, strict, limits.as_ref());
    raw.iter()
        .map(|r| match r {
            Some(r) => media_addresses(r, &parse)
                .iter()
                .map(IpAddr::to_string)
                .collect(),
            None => Vec::new(),
        })
        .collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<EngineReader>()?;
    m.add_function(wrap_pyfunction!(engine_drain_points, m)?)?;
    m.add_function(wrap_pyfunction!(engine_correlate, m)?)?;
    m.add_function(wrap_pyfunction!(engine_rtp, m)?)?;
    m.add_function(wrap_pyfunction!(engine_media_addresses, m)?)?;
    Ok(())
}
