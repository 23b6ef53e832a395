//! `Limits`: every bound the parser enforces, as a Python value.

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use sipwire::{Leniency, Limits, ParseOptions};

macro_rules! limits_class {
    ($( $field:ident : $ty:ty ),* $(,)?) => {
        /// Bounds on sizes and counts; exceeding one is a ParseError of the matching kind.
        /// Defaults: message 64 KiB, body 64 KiB, headers 256, header line 8 KiB, header name
        /// 256 B, Via 70, list items 256, URI 4 KiB, params 64, method 64 B, multipart depth 4 /
        /// parts 32, SDP media 32 / attributes 512 / line 8 KiB, nesting 32.
        #[pyclass(frozen, name = "Limits", module = "sipwire._sipwire")]
        #[derive(Clone, Copy)]
        pub struct PyLimits {
            pub inner: Limits,
        }

        #[pymethods]
        impl PyLimits {
            // One keyword argument per bound, as in the core's struct.
            #[allow(clippy::too_many_arguments)]
            #[new]
            #[pyo3(signature = (*, $( $field = Limits::DEFAULT.$field ),*))]
            fn new($( $field: $ty ),*) -> Self {
                PyLimits { inner: Limits { $( $field ),* } }
            }

            $(
                #[getter]
                fn $field(&self) -> $ty {
                    self.inner.$field
                }
            )*

            fn __repr__(&self) -> String {
                let mut parts = Vec::new();
                $( if self.inner.$field != Limits::DEFAULT.$field {
                    parts.push(format!("{}={}", stringify!($field), self.inner.$field));
                } )*
                format!("Limits({})", parts.join(", "))
            }

            fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
                other.downcast::<PyLimits>().is_ok_and(|o| o.get().inner == self.inner)
            }

            fn __hash__(&self) -> u64 {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                self.inner.hash(&mut h);
                h.finish()
            }

            fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
                let py = slf.py();
                let kw = pyo3::types::PyDict::new(py);
                $( kw.set_item(stringify!($field), slf.get().inner.$field)?; )*
                let partial = py.import("functools")?.getattr("partial")?;
                let make = partial.call((slf.get_type(),), Some(&kw))?;
                PyTuple::new(py, [make, PyTuple::empty(py).into_any()])
            }
        }
    };
}

limits_class!(
    max_message: u32,
    max_body: u32,
    max_headers: u16,
    max_header_line: u32,
    max_header_name: u16,
    max_vias: u16,
    max_list_items: u16,
    max_uri: u32,
    max_params: u16,
    max_method: u16,
    max_multipart_depth: u8,
    max_multipart_parts: u16,
    max_sdp_media: u16,
    max_sdp_attributes: u16,
    max_sdp_line: u32,
    max_nesting: u8,
);

/// The core's options for a Python call: strict (RFC 3261 as written) or lenient (every
/// repair RFC 4475 allows, each recorded as a diagnostic).
pub fn options(py: Python<'_>, strict: bool, limits: Option<&Py<PyLimits>>) -> ParseOptions {
    ParseOptions {
        limits: limits.map_or(Limits::DEFAULT, |l| l.bind(py).get().inner),
        leniency: if strict {
            Leniency::STRICT
        } else {
            Leniency::LIBERAL
        },
    }
}
