//! `PyOnce<T>`: a slot a message fills once with a typed object it hands out (From, To, the Via
//! list, each Via of it). The slot holds a `T`, or None ("asked, and there is none").
//!
//! A `std::sync::OnceLock` underneath: a read is one acquire load, a fill one `Once` call, and
//! dropping the slot gives its reference back through `Py`'s own drop (no GIL acquired: an
//! object is dropped by its owner's deallocation, under the GIL).

use std::sync::OnceLock;

use pyo3::prelude::*;

pub struct PyOnce<T> {
    cell: OnceLock<Option<Py<T>>>,
}

impl<T> PyOnce<T> {
    pub const fn new() -> Self {
        PyOnce {
            cell: OnceLock::new(),
        }
    }

    /// `None` when not filled yet; else what it was filled with.
    #[inline]
    pub fn get(&self, py: Python<'_>) -> Option<Option<Py<T>>> {
        self.cell
            .get()
            .map(|v| v.as_ref().map(|obj| obj.clone_ref(py)))
    }

    /// Fills the slot with `v` unless it is filled already (another thread won). Returns `v`
    /// or, when the slot was filled already, what it holds.
    pub fn fill(&self, py: Python<'_>, v: Option<Py<T>>) -> Option<Py<T>> {
        let mine = v.as_ref().map(|obj| obj.clone_ref(py));
        match self.cell.set(mine) {
            Ok(()) => v,
            Err(_) => self.get(py).flatten(),
        }
    }
}
