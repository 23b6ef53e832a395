//! The distributed engines' Rust steps (sipwire-capture's engine.rs), for
//! `sipwire.capture.ray`, `.spark` and `.dask`: stage one reads a file into event batches;
//! stage two correlates a group of calls, or replays a group's RTP, exactly as one merged read
//! would.
//!
//! Stage two takes its columns as Python lists (pyarrow's `to_pylist()`): importing Arrow
//! arrays would need the C data interface's raw pointers, which this crate does not touch.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict};
use sipwire_capture::engine::{
    correlate, drain_points, events_schema, media_addresses, rtp_replay, transport_of, EngineRead,
    Key, MessageEvent, RtpEvent, KIND_SIP,
};
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

fn keys(clock: &[i64], rank: &[u32], seq: &[u64]) -> PyResult<Vec<Key>> {
    if clock.len() != rank.len() || clock.len() != seq.len() {
        return Err(PyValueError::new_err(
            "the _clock, _rank and _seq columns differ in length",
        ));
    }
    Ok(clock
        .iter()
        .zip(rank)
        .zip(seq)
        .map(|((c, r), s)| (*c, *r, *s))
        .collect())
}

fn order(keys: &[Key]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..keys.len()).collect();
    idx.sort_by_key(|&i| keys.get(i).copied());
    idx
}

fn check_len(n: usize, lens: &[usize]) -> PyResult<()> {
    if lens.iter().any(|&l| l != n) {
        return Err(PyValueError::new_err("the columns given differ in length"));
    }
    Ok(())
}

/// Stage two for calls: the `calls` and `media` tables of a group holding every message of
/// its Call-IDs (the fed messages' columns, any order). `drains`: (clock, rank, seq, time) of
/// every drain point of the whole set; `end`: the set's last fed message time.
#[pyfunction]
#[allow(clippy::too_many_arguments)] // one list per column
#[pyo3(signature = (clock, rank, seq, time, src_ip, src_port, dst_ip, dst_port, transport, raw, drains, end, *, strict=false, limits=None))]
fn engine_correlate<'py>(
    py: Python<'py>,
    clock: Vec<i64>,
    rank: Vec<u32>,
    seq: Vec<u64>,
    time: Vec<i64>,
    src_ip: Vec<String>,
    src_port: Vec<u16>,
    dst_ip: Vec<String>,
    dst_port: Vec<u16>,
    transport: Vec<String>,
    raw: Vec<Vec<u8>>,
    drains: Vec<(i64, u32, u64, i64)>,
    end: Option<i64>,
    strict: bool,
    limits: Option<Py<PyLimits>>,
) -> PyResult<(Table, Table, Bound<'py, PyDict>)> {
    let parse = options(py, strict, limits.as_ref());
    let k = keys(&clock, &rank, &seq)?;
    let n = k.len();
    check_len(
        n,
        &[
            time.len(),
            src_ip.len(),
            src_port.len(),
            dst_ip.len(),
            dst_port.len(),
            transport.len(),
            raw.len(),
        ],
    )?;
    let mut events = Vec::with_capacity(n);
    for i in order(&k) {
        let (Some(key), Some(t), Some(sip), Some(sp), Some(dip), Some(dp), Some(tr), Some(r)) = (
            k.get(i),
            time.get(i),
            src_ip.get(i),
            src_port.get(i),
            dst_ip.get(i),
            dst_port.get(i),
            transport.get(i),
            raw.get(i),
        ) else {
            continue;
        };
        let transport = transport_of(tr)
            .ok_or_else(|| PyValueError::new_err(format!("unknown transport {tr:?}")))?;
        events.push(MessageEvent {
            key: *key,
            time_ns: *t,
            src: endpoint(sip, *sp)?,
            dst: endpoint(dip, *dp)?,
            transport,
            raw: r,
        });
    }
    let mut drains: Vec<(Key, i64)> = drains
        .into_iter()
        .map(|(c, r, s, t)| ((c, r, s), t))
        .collect();
    drains.sort();
    let (c, m, st) = py
        .allow_threads(|| correlate(events, &drains, end, parse))
        .map_err(arrow_err)?;
    Ok((
        Table::new(c.schema(), vec![c]),
        Table::new(m.schema(), vec![m]),
        counters(py, &st)?,
    ))
}

/// Stage two for RTP: the `rtp_streams` and `dtmf` tables of a group: the UDP events between
/// two addresses and the SIP messages whose SDP announces either (`kind` 0: SIP, 1: UDP).
#[pyfunction]
#[allow(clippy::too_many_arguments)] // one list per column
#[pyo3(signature = (kind, clock, rank, seq, time, frame, src_ip, src_port, dst_ip, dst_port, raw, *, strict=false, limits=None))]
fn engine_rtp<'py>(
    py: Python<'py>,
    kind: Vec<u8>,
    clock: Vec<i64>,
    rank: Vec<u32>,
    seq: Vec<u64>,
    time: Vec<i64>,
    frame: Vec<Option<u64>>,
    src_ip: Vec<Option<String>>,
    src_port: Vec<Option<u16>>,
    dst_ip: Vec<Option<String>>,
    dst_port: Vec<Option<u16>>,
    raw: Vec<Vec<u8>>,
    strict: bool,
    limits: Option<Py<PyLimits>>,
) -> PyResult<(Table, Table, Bound<'py, PyDict>)> {
    let parse = options(py, strict, limits.as_ref());
    let k = keys(&clock, &rank, &seq)?;
    let n = k.len();
    check_len(
        n,
        &[
            kind.len(),
            time.len(),
            frame.len(),
            src_ip.len(),
            src_port.len(),
            dst_ip.len(),
            dst_port.len(),
            raw.len(),
        ],
    )?;
    let mut events = Vec::with_capacity(n);
    for i in order(&k) {
        let (Some(kd), Some(t), Some(r)) = (kind.get(i), time.get(i), raw.get(i)) else {
            continue;
        };
        if *kd == KIND_SIP {
            events.push(RtpEvent::Sip {
                time_ns: *t,
                raw: r,
            });
            continue;
        }
        let (Some(Some(sip)), Some(Some(sp)), Some(Some(dip)), Some(Some(dp))) = (
            src_ip.get(i),
            src_port.get(i),
            dst_ip.get(i),
            dst_port.get(i),
        ) else {
            continue;
        };
        events.push(RtpEvent::Udp {
            time_ns: *t,
            frame: frame.get(i).copied().flatten().unwrap_or(0),
            src: endpoint(sip, *sp)?,
            dst: endpoint(dip, *dp)?,
            payload: r,
        });
    }
    let (s, d, st) = py
        .allow_threads(|| rtp_replay(events, CaptureLimits::DEFAULT, parse))
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
