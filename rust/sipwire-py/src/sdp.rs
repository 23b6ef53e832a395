//! SDP classes (filled in with the SDP binding).

use pyo3::prelude::*;

use crate::message::Core;

pub fn sdp_of(_py: Python<'_>, _core: &Core) -> PyResult<Option<PyObject>> {
    Ok(None)
}

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
