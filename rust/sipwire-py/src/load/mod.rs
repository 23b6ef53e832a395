//! `LoadRunner`: the load engine (calls placed and answered from Rust over batched UDP),
//! with Python describing the scenario and reading the counters between slices of the run.

mod engine;
mod hist;
mod net;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use sipwire::endpoint::EndpointConfig;

use crate::correlate::{addr_tuple, socket_addr, Port};
use crate::errors::local_msg;
use engine::{Answer, Request, Runner, Scenario, Step, Template};
use hist::Histogram;

/// Reads one step of a scenario from its dict (see `sipwire.load.Step`).
fn step(py: Python<'_>, d: &Bound<'_, PyDict>) -> PyResult<Step> {
    let get = |k: &str| d.get_item(k);
    let kind: String = get("kind")?
        .ok_or_else(|| local_msg(py, "a step needs a 'kind'".into()))?
        .extract()?;
    if kind == "pause" {
        let s: f64 = get("seconds")?
            .map(|v| v.extract())
            .transpose()?
            .unwrap_or(0.0);
        if !(s.is_finite() && s >= 0.0) {
            return Err(local_msg(
                py,
                format!("a pause must be >= 0 seconds, not {s}"),
            ));
        }
        return Ok(Step::Pause((s * 1000.0).round() as u64));
    }
    if kind != "request" {
        return Err(local_msg(
            py,
            format!("a step's kind is 'request' or 'pause', not {kind:?}"),
        ));
    }
    let method: String = get("method")?
        .ok_or_else(|| local_msg(py, "a request step needs a 'method'".into()))?
        .extract()?;
    let headers: Vec<(String, String)> = get("headers")?
        .map(|v| v.extract())
        .transpose()?
        .unwrap_or_default();
    let body: Vec<u8> = get("body")?
        .map(|v| v.extract())
        .transpose()?
        .unwrap_or_default();
    let sdp: Option<String> = get("sdp")?.map(|v| v.extract()).transpose()?.flatten();
    let expect: (u16, u16) = get("expect")?
        .map(|v| v.extract())
        .transpose()?
        .unwrap_or((200, 299));
    let auth: bool = get("auth")?
        .map(|v| v.extract())
        .transpose()?
        .unwrap_or(false);
    let cancel_after: Option<f64> = get("cancel_after")?
        .map(|v| v.extract())
        .transpose()?
        .flatten();
    let tpl = |k: &str| -> PyResult<Option<Template>> {
        let v: Option<String> = get(k)?.map(|v| v.extract()).transpose()?.flatten();
        Ok(v.map(|s| Template::new(s.as_bytes())))
    };
    Ok(Step::Request(Box::new(Request {
        method: method.into_bytes(),
        headers: headers
            .into_iter()
            .map(|(k, v)| (k.into_bytes(), Template::new(v.as_bytes())))
            .collect(),
        body: Template::new(&body),
        sdp: sdp.map(String::into_bytes),
        expect,
        auth,
        cancel_after: cancel_after.map(|s| (s.max(0.0) * 1000.0).round() as u64),
        uri: tpl("uri")?,
        to: tpl("to")?,
        from: tpl("from")?,
    })))
}

fn ms(us: Option<u64>) -> Option<f64> {
    us.map(|v| v as f64 / 1000.0)
}

fn percentiles<'py>(py: Python<'py>, h: &Histogram) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("count", h.count())?;
    for (k, p) in [("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("p99.9", 99.9)] {
        d.set_item(k, ms(h.percentile(p)))?;
    }
    d.set_item("max", ms((h.count() > 0).then(|| h.max())))?;
    d.set_item("mean", h.mean().map(|m| m / 1000.0))?;
    Ok(d)
}

/// The load engine. See `sipwire.load` for the Python API built on it.
#[pyclass(module = "sipwire._sipwire", name = "LoadRunner")]
pub struct LoadRunner {
    r: Runner,
}

#[pymethods]
impl LoadRunner {
    #[new]
    #[pyo3(signature = (host = "127.0.0.1", port = 0, *, target = None, steps = None, uri = None, to = None, from_ = None, user = "sipwire", password = "", ring = 0.0, invite_status = 200, max_calls_up = 65536, t1 = 0.5, max_transactions = 131072, max_dialogs = 65536, buffer = 4194304, seed = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host: &str,
        port: i64,
        target: Option<(String, Port)>,
        steps: Option<Vec<Bound<'_, PyDict>>>,
        uri: Option<&str>,
        to: Option<&str>,
        from_: Option<&str>,
        user: &str,
        password: &str,
        ring: f64,
        invite_status: u16,
        max_calls_up: u64,
        t1: f64,
        max_transactions: usize,
        max_dialogs: usize,
        buffer: usize,
        seed: Option<u64>,
    ) -> PyResult<Self> {
        let bind = socket_addr(
            py,
            "host, port",
            (host.to_string(), Port::new(py, port.into())?),
        )?;
        if !(t1.is_finite() && t1 > 0.0) {
            return Err(local_msg(
                py,
                format!("t1 must be a positive number of seconds, not {t1}"),
            ));
        }
        if !(ring.is_finite() && ring >= 0.0) {
            return Err(local_msg(
                py,
                format!("ring must be >= 0 seconds, not {ring}"),
            ));
        }
        if !(200..700).contains(&invite_status) {
            return Err(local_msg(
                py,
                format!("invite_status must be a final status (200-699), not {invite_status}"),
            ));
        }
        let scenario = match (target, steps) {
            (Some(t), Some(steps)) => {
                let dest = socket_addr(py, "target", t)?;
                let steps = steps
                    .iter()
                    .map(|d| step(py, d))
                    .collect::<PyResult<Vec<_>>>()?;
                let uri = uri.ok_or_else(|| local_msg(py, "calls need a uri".into()))?;
                Some(Scenario {
                    steps,
                    uri: Template::new(uri.as_bytes()),
                    to: to.map(|t| Template::new(t.as_bytes())),
                    from: from_.map(|t| Template::new(t.as_bytes())),
                    dest,
                    user: Template::new(user.as_bytes()),
                    password: password.as_bytes().to_vec(),
                })
            }
            (None, None) => None,
            _ => return Err(local_msg(py, "target and steps go together".into())),
        };
        let seed = seed.unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1);
            t ^ u64::from(std::process::id()).rotate_left(32)
        });
        let t1_ms = ((t1 * 1000.0).round() as u64).max(1);
        let cfg = move |local| {
            let mut c = EndpointConfig::new(local, seed);
            c.txn.timers.t1 = t1_ms;
            c.txn.max_transactions = max_transactions.max(16);
            c.dialog.max_dialogs = max_dialogs.max(16);
            c.txn.parse = sipwire::ParseOptions::LIBERAL;
            c
        };
        let answer = Answer {
            ring_ms: (ring * 1000.0).round() as u64,
            invite_status,
        };
        let r = Runner::new(bind, cfg, scenario, answer, max_calls_up, buffer).map_err(|e| {
            pyo3::exceptions::PyOSError::new_err(format!("cannot bind {bind}: {e}"))
        })?;
        Ok(LoadRunner { r })
    }

    /// (host, port) the socket is bound to.
    #[getter]
    fn local(&self) -> (String, u16) {
        addr_tuple(self.r.local())
    }

    /// Seconds on the runner's clock (from its creation).
    #[getter]
    fn now(&self) -> f64 {
        self.r.now_us() as f64 / 1e6
    }

    /// Starts placing `rate` calls a second for `seconds` (at most `max_calls` more).
    #[pyo3(signature = (rate, seconds, max_calls = None))]
    fn place(&mut self, rate: f64, seconds: f64, max_calls: Option<u64>) {
        self.r.place(rate, seconds, max_calls);
    }

    /// Runs the engine until `until` seconds on its clock, without the GIL.
    fn run(&mut self, py: Python<'_>, until: f64) -> PyResult<()> {
        let until_us = if until.is_finite() && until > 0.0 {
            (until * 1e6) as u64
        } else {
            0
        };
        let r = &mut self.r;
        py.allow_threads(|| r.run_until(until_us))
            .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("load engine: {e}")))
    }

    /// Whether calls remain to be placed (the rate and span of the last `place`).
    #[getter]
    fn placing(&self) -> bool {
        self.r.placing()
    }

    /// Calls in progress.
    #[getter]
    fn active(&self) -> usize {
        self.r.active()
    }

    /// The kernel's receive and send buffer sizes for the socket.
    #[getter]
    fn buffers(&self) -> (usize, usize) {
        self.r.buffers()
    }

    /// Setup-latency percentiles (ms) since the last call, then starts a new interval.
    fn take_interval<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = percentiles(py, &self.r.stats.interval_setup)?;
        self.r.stats.interval_setup.clear();
        Ok(d)
    }

    /// Every counter, as a dict.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = &self.r.stats;
        let d = PyDict::new(py);
        for (k, v) in [
            ("attempted", s.attempted),
            ("completed", s.completed),
            ("failed", s.failed),
            ("refused", s.refused),
            ("unreachable", s.unreachable),
            ("up", s.up),
            ("max_up", s.max_up),
            ("in_calls", s.in_calls),
            ("in_answered", s.in_answered),
            ("in_completed", s.in_completed),
            ("in_cancelled", s.in_cancelled),
            ("in_failed", s.in_failed),
            ("in_up", s.in_up),
            ("in_max_up", s.in_max_up),
            ("sent", s.sent),
            ("received", s.received),
            ("send_dropped", s.send_dropped),
            ("send_failed", s.send_failed),
            ("truncated", s.truncated),
            ("malformed", s.malformed),
            ("icmp_errors", s.icmp_errors),
        ] {
            d.set_item(k, v)?;
        }
        d.set_item(
            "first_sent",
            ms(Some(s.first_sent_us).filter(|&v| v > 0)).map(|v| v / 1000.0),
        )?;
        d.set_item(
            "first_received",
            ms(Some(s.first_received_us).filter(|&v| v > 0)).map(|v| v / 1000.0),
        )?;
        let failures = PyList::empty(py);
        let mut rows: Vec<_> = s.failures.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for ((status, reason), n) in rows {
            failures.append((status, reason, n))?;
        }
        d.set_item("failures", failures)?;
        let methods = PyDict::new(py);
        for (k, v) in &s.in_requests {
            methods.set_item(k, v)?;
        }
        d.set_item("in_requests", methods)?;
        d.set_item("setup", percentiles(py, &s.setup)?)?;
        let c = self.r.endpoint().counters();
        d.set_item("retransmitted", c.txn.retransmitted)?;
        d.set_item("retransmissions_received", c.txn.retransmissions)?;
        d.set_item("transactions", self.r.endpoint().transactions())?;
        d.set_item("transactions_evicted", c.txn.evicted)?;
        d.set_item("transactions_rejected", c.txn.rejected)?;
        d.set_item("dialogs", self.r.endpoint().dialog_count())?;
        d.set_item("queued", self.r.queued())?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "LoadRunner(local={}, active={}, completed={})",
            self.r.local(),
            self.r.active(),
            self.r.stats.completed
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LoadRunner>()
}
