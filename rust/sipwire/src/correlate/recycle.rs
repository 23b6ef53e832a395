//! Reuse of finished calls' memory. A call allocates its records (transactions, dialogs,
//! exchanges, legs, SDP text) as it goes; a finished call whose rows were taken by the
//! correlator itself (or given back with `Correlator::recycle`) keeps those allocations
//! for the next call, so the steady state of a long capture allocates little per call.
//!
//! [`Recycled`] is a vector whose elements outlive a `clear`: they stay, with their own
//! buffers, and the next `push_with` resets one in place instead of making a new one.

use std::ops::{Deref, DerefMut};

/// A vector keeping its elements (and their buffers) across `clear`.
pub(crate) struct Recycled<T> {
    items: Vec<T>,
    len: usize,
}

impl<T> Default for Recycled<T> {
    fn default() -> Self {
        Recycled {
            items: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Recycled<T> {
    /// Room for `n` elements (a call's usual count: more grow the vector).
    pub(crate) fn with_capacity(n: usize) -> Self {
        Recycled {
            items: Vec::with_capacity(n),
            len: 0,
        }
    }

    /// Forgets the elements; they stay for reuse.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Adds an element: a kept one reset by `reuse`, else a `fresh` one. Returns its index.
    pub(crate) fn push_with(
        &mut self,
        fresh: impl FnOnce() -> T,
        reuse: impl FnOnce(&mut T),
    ) -> usize {
        match self.items.get_mut(self.len) {
            Some(old) => reuse(old),
            None => self.items.push(fresh()),
        }
        self.len += 1;
        self.len - 1
    }

    /// Elements held, live or kept for reuse (what the memory holds).
    pub(crate) fn capacity(&self) -> usize {
        self.items.len()
    }
}

impl<T> Deref for Recycled<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.items.get(..self.len).unwrap_or(&[])
    }
}

impl<T> DerefMut for Recycled<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        let len = self.len;
        self.items.get_mut(..len).unwrap_or(&mut [])
    }
}

impl<'a, T> IntoIterator for &'a Recycled<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_reused_after_clear() {
        let mut r: Recycled<Vec<u8>> = Recycled::default();
        let i = r.push_with(|| vec![1, 2, 3], |_| unreachable!());
        assert_eq!((i, r.len(), &r[0][..]), (0, 1, &[1, 2, 3][..]));
        r.clear();
        assert!(r.is_empty());
        let mut reused = false;
        r.push_with(Vec::new, |v| {
            reused = v.capacity() >= 3;
            v.clear();
            v.push(9);
        });
        assert!(reused);
        assert_eq!(&r[..], &[vec![9]]);
        r.push_with(|| vec![7], |_| unreachable!());
        assert_eq!((r.len(), r.capacity()), (2, 2));
    }
}
