//! Arrow out of the extension through the PyCapsule interface (`__arrow_c_stream__`): pyarrow,
//! polars and DuckDB import the stream with no copy, and sipwire needs none of them.

use std::sync::Mutex;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow_schema::SchemaRef;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyList};

/// A stream of record batches as the capsule the Arrow PyCapsule interface names
/// `arrow_array_stream`. The consumer moves the stream out; if it never does, dropping the
/// capsule releases it.
pub fn stream_capsule<'py>(
    py: Python<'py>,
    reader: Box<dyn RecordBatchReader + Send>,
) -> PyResult<Bound<'py, PyCapsule>> {
    let stream = FFI_ArrowArrayStream::new(reader);
    PyCapsule::new(py, stream, Some(c"arrow_array_stream".to_owned()))
}

/// A finished table held in memory: `rtp_streams`, `dtmf`, `parse_table`'s result. Each
/// `__arrow_c_stream__` call exports it again (the batches are shared, not copied).
#[pyclass(module = "sipwire._sipwire", name = "Table", frozen)]
pub struct Table {
    schema: SchemaRef,
    batches: Mutex<Vec<RecordBatch>>,
}

impl Table {
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Table {
            schema,
            batches: Mutex::new(batches),
        }
    }

    fn batches(&self) -> Vec<RecordBatch> {
        self.batches
            .lock()
            .map(|b| b.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

#[pymethods]
impl Table {
    /// The Arrow PyCapsule stream interface: `pyarrow.table(t)`, `polars.from_arrow(t)`,
    /// DuckDB's `FROM t`. `requested_schema` is accepted and ignored (the schema is fixed).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let batches = self.batches();
        let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), self.schema.clone());
        stream_capsule(py, Box::new(reader))
    }

    /// Rows in the table.
    #[getter]
    fn num_rows(&self) -> usize {
        self.batches().iter().map(RecordBatch::num_rows).sum()
    }

    fn __len__(&self) -> usize {
        self.num_rows()
    }

    /// The column names, in order.
    #[getter]
    fn column_names<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.schema.fields().iter().map(|f| f.name().as_str()))
    }

    fn __repr__(&self) -> String {
        let cols: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        format!(
            "<sipwire.Table {} rows: {}>",
            self.num_rows(),
            cols.join(", ")
        )
    }
}
