//! A bounded table: slots in least-recently-used order, found through a hash index.
//!
//! Keys are never stored as owned copies: a lookup hashes the borrowed parts of a message and
//! the caller's predicate compares them with the entry (whose bytes it already keeps). The
//! hash is keyed per correlator (`RandomState`), so a peer cannot aim collisions; a bucket
//! holds every slot of a hash, so collisions still resolve correctly.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const NIL: u32 = u32::MAX;

/// A handle to a table entry. It goes stale (lookups return `None`) once the entry is evicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    slot: u32,
    gen: u32,
}

/// The map from key hash to slots hashes its `u64` key no further: the key is already a
/// keyed hash.
#[derive(Default)]
pub(crate) struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Clone, Debug)]
enum Bucket {
    One(Id),
    Many(Vec<Id>),
}

struct Slot<T> {
    value: Option<(u64, T)>,
    gen: u32,
    prev: u32,
    next: u32,
}

/// Entries with their key hashes, at most `cap` of them; inserting into a full table evicts
/// the least recently touched entry and hands it back.
pub(crate) struct Table<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    len: usize,
    cap: usize,
    index: HashMap<u64, Bucket, BuildHasherDefault<PreHashed>>,
}

impl<T> Table<T> {
    pub(crate) fn new(cap: usize) -> Self {
        Table {
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            len: 0,
            cap: cap.clamp(1, NIL as usize - 1),
            index: HashMap::default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn slot(&self, i: u32) -> Option<&Slot<T>> {
        self.slots.get(i as usize)
    }

    fn slot_mut(&mut self, i: u32) -> Option<&mut Slot<T>> {
        self.slots.get_mut(i as usize)
    }

    pub(crate) fn get(&self, id: Id) -> Option<&T> {
        let s = self.slot(id.slot)?;
        if s.gen != id.gen {
            return None;
        }
        s.value.as_ref().map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, id: Id) -> Option<&mut T> {
        let s = self.slot_mut(id.slot)?;
        if s.gen != id.gen {
            return None;
        }
        s.value.as_mut().map(|(_, v)| v)
    }

    /// The entry of hash `hash` for which `is` holds.
    pub(crate) fn find(&self, hash: u64, mut is: impl FnMut(&T) -> bool) -> Option<Id> {
        let ids: &[Id] = match self.index.get(&hash)? {
            Bucket::One(id) => std::slice::from_ref(id),
            Bucket::Many(v) => v,
        };
        ids.iter()
            .copied()
            .find(|&id| self.get(id).is_some_and(&mut is))
    }

    fn unlink(&mut self, i: u32) {
        let Some((p, n)) = self.slot(i).map(|s| (s.prev, s.next)) else {
            return;
        };
        match self.slot_mut(p) {
            Some(ps) => ps.next = n,
            None => self.head = n,
        }
        match self.slot_mut(n) {
            Some(ns) => ns.prev = p,
            None => self.tail = p,
        }
    }

    fn push_back(&mut self, i: u32) {
        let tail = self.tail;
        if let Some(s) = self.slot_mut(i) {
            s.prev = tail;
            s.next = NIL;
        }
        match self.slot_mut(tail) {
            Some(t) => t.next = i,
            None => self.head = i,
        }
        self.tail = i;
    }

    /// Marks an entry as just used (it is evicted last).
    pub(crate) fn touch(&mut self, id: Id) {
        if self.get(id).is_some() && self.tail != id.slot {
            self.unlink(id.slot);
            self.push_back(id.slot);
        }
    }

    /// The least recently used entry.
    pub(crate) fn oldest(&self) -> Option<Id> {
        let s = self.slot(self.head)?;
        Some(Id {
            slot: self.head,
            gen: s.gen,
        })
    }

    /// Inserts a new entry; when the table is full, the least recently used entry is removed
    /// first and returned.
    pub(crate) fn insert(&mut self, hash: u64, value: T) -> (Id, Option<T>) {
        let evicted = if self.len >= self.cap {
            self.oldest().and_then(|id| self.remove(id))
        } else {
            None
        };
        let slot = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    value: None,
                    gen: 0,
                    prev: NIL,
                    next: NIL,
                });
                u32::try_from(self.slots.len() - 1).unwrap_or(NIL)
            }
        };
        let gen = match self.slot_mut(slot) {
            Some(s) => {
                s.value = Some((hash, value));
                s.gen
            }
            None => 0,
        };
        self.push_back(slot);
        self.len += 1;
        let id = Id { slot, gen };
        match self.index.get_mut(&hash) {
            None => {
                self.index.insert(hash, Bucket::One(id));
            }
            Some(b) => match b {
                Bucket::One(first) => *b = Bucket::Many(vec![*first, id]),
                Bucket::Many(v) => v.push(id),
            },
        }
        (id, evicted)
    }

    pub(crate) fn remove(&mut self, id: Id) -> Option<T> {
        self.get(id)?;
        self.unlink(id.slot);
        let (hash, value) = {
            let s = self.slot_mut(id.slot)?;
            s.gen = s.gen.wrapping_add(1);
            s.value.take()?
        };
        self.free.push(id.slot);
        self.len -= 1;
        let drop_bucket = match self.index.get_mut(&hash) {
            None => false,
            Some(Bucket::One(x)) => *x == id,
            Some(b) => {
                if let Bucket::Many(v) = b {
                    v.retain(|&x| x != id);
                }
                let left = match b {
                    Bucket::Many(v) if v.len() <= 1 => Some(v.first().copied()),
                    _ => None,
                };
                match left {
                    Some(None) => true,
                    Some(Some(only)) => {
                        *b = Bucket::One(only);
                        false
                    }
                    None => false,
                }
            }
        };
        if drop_bucket {
            self.index.remove(&hash);
        }
        Some(value)
    }

    /// Entries from least to most recently used.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Id, &T)> + '_ {
        let mut i = self.head;
        std::iter::from_fn(move || {
            let s = self.slot(i)?;
            let id = Id {
                slot: i,
                gen: s.gen,
            };
            i = s.next;
            s.value.as_ref().map(|(_, v)| (id, v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_eviction_and_stale_ids() {
        let mut t: Table<u32> = Table::new(2);
        let (a, _) = t.insert(1, 10);
        let (b, _) = t.insert(1, 20);
        assert_eq!(t.find(1, |&v| v == 20), Some(b));
        t.touch(a);
        let (c, ev) = t.insert(3, 30);
        assert_eq!(ev, Some(20));
        assert_eq!(t.get(b), None);
        assert_eq!(t.find(1, |&v| v == 20), None);
        assert_eq!(t.iter().map(|(_, v)| *v).collect::<Vec<_>>(), vec![10, 30]);
        assert_eq!(t.remove(a), Some(10));
        assert_eq!(t.get(c), Some(&30));
        assert_eq!(t.len(), 1);
        let (d, _) = t.insert(4, 40);
        assert_ne!(d, a);
        assert_eq!(t.iter().count(), 2);
    }
}
