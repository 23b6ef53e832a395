//! `sipwire.capture`: captures read in Rust (sipwire-capture), tables out as Arrow.

use pyo3::prelude::*;
use sipwire_capture::sip::datagram_row;
use sipwire_capture::table::MessagesBuilder;

use crate::arrow::Table;
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
    for item in datagrams.try_iter()? {
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Table>()?;
    m.add_function(wrap_pyfunction!(parse_table, m)?)?;
    Ok(())
}
