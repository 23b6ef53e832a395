//! `PyOnce<T>`: a slot a message fills once with a typed object it hands out (From, To, the Via
//! list, each Via of it), read with one load. `GILOnceCell` costs a `std::sync::Once` call (two
//! locked read-modify-writes and its slow path) on every first fill; this costs one
//! compare-and-swap. The slot holds a `T`, or None ("asked, and there is none").

use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;

pub struct PyOnce<T> {
    /// Null: not filled. `Py_None`: filled with None. Else an owned reference to a `T`.
    ptr: AtomicPtr<ffi::PyObject>,
    kind: PhantomData<Py<T>>,
}

impl<T> PyOnce<T> {
    pub const fn new() -> Self {
        PyOnce {
            ptr: AtomicPtr::new(ptr::null_mut()),
            kind: PhantomData,
        }
    }

    /// `None` when not filled yet; else what it was filled with.
    #[inline]
    pub fn get(&self, py: Python<'_>) -> Option<Option<Py<T>>> {
        let p = self.ptr.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: `Py_None` is immortal in effect (a static object); comparing addresses reads
        // nothing.
        if p == unsafe { ffi::Py_None() } {
            return Some(None);
        }
        // SAFETY: any other non-null pointer was stored by `fill` from a `Py<T>` whose
        // reference the slot owns until it is dropped, so it is a live `T`; the GIL is held
        // (`py`), and `from_borrowed_ptr` takes a new reference for the caller.
        let obj = unsafe { Bound::from_borrowed_ptr(py, p).downcast_into_unchecked::<T>() };
        Some(Some(obj.unbind()))
    }

    /// Fills the slot with `v` unless it is filled already (another thread won). Returns `v`
    /// or, when the slot was filled already, what it holds.
    pub fn fill(&self, py: Python<'_>, v: Option<Py<T>>) -> Option<Py<T>> {
        let raw = match &v {
            Some(v) => v.as_ptr(),
            None => py.None().into_ptr(), // None is not counted: keep its reference below
        };
        match self
            .ptr
            .compare_exchange(ptr::null_mut(), raw, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                if v.is_some() {
                    // The slot keeps a reference of its own; `v` goes back to the caller.
                    // SAFETY: `raw` is `v`'s pointer, alive; the GIL is held.
                    std::mem::forget(unsafe { PyObject::from_borrowed_ptr(py, raw) });
                }
                v
            }
            Err(_) => {
                if v.is_none() {
                    // SAFETY: the reference to None taken above was not stored: give it back.
                    drop(unsafe { Bound::<PyAny>::from_owned_ptr(py, raw) });
                }
                self.get(py).flatten()
            }
        }
    }
}

impl<T> Drop for PyOnce<T> {
    fn drop(&mut self) {
        let p = *self.ptr.get_mut();
        if !p.is_null() {
            // SAFETY: the slot owns exactly one reference to `p` (stored by `fill`), given
            // back here once.
            Python::with_gil(|py| drop(unsafe { PyObject::from_owned_ptr(py, p) }));
        }
    }
}
