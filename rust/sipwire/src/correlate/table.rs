//! A bounded table: slots in least-recently-used order, found through a hash index.
//!
//! Keys are never stored as owned copies: a lookup hashes the borrowed parts of a message and
//! the caller's predicate compares them with the entry (whose bytes it already keeps). Hashes
//! are keyed per correlator (see `hash.rs`), so a peer cannot aim collisions; the full 64-bit
//! hash is compared before the predicate, and every slot of a bucket is walked, so collisions
//! still resolve correctly.
//!
//! Values live in fixed-size chunks (a growing table never moves them: no reallocation copies
//! them). What lookups walk (hash, generation, chain link) is kept apart in one dense array,
//! so a probe that misses reads no value. Each bucket of the index is a chain threaded through
//! that array: an insert allocates nothing once its chunk exists.
//!
//! Recency is a tick per slot and a queue of (slot, tick) in the order of use: a `touch`
//! stamps the slot and appends to the queue, writing nothing else (a linked list would write
//! both neighbours, two cache misses in a large table). Queue entries whose tick is no longer
//! the slot's are stale and skipped; the queue is compacted when stale entries outnumber
//! live ones. The order is exactly least-recently-used.

use std::collections::VecDeque;

const NIL: u32 = u32::MAX;
/// Slots per chunk (a power of two).
const CHUNK_BITS: u32 = 6;
const CHUNK: usize = 1 << CHUNK_BITS;
const CHUNK_MASK: u32 = (1 << CHUNK_BITS) - 1;
/// Buckets of a new table's index; doubled while entries outnumber buckets.
const MIN_BUCKETS: usize = 256;

/// A handle to a table entry. It goes stale (lookups return `None`) once the entry is evicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    slot: u32,
    gen: u32,
}

impl Id {
    /// An id no table entry has (for a value taken out of its table).
    pub(crate) const STALE: Id = Id {
        slot: NIL,
        gen: u32::MAX,
    };
}

/// A slot's bookkeeping; its value is in `values` at the same position.
#[derive(Clone, Copy)]
struct Meta {
    hash: u64,
    /// When it was last inserted or touched (0: free).
    tick: u64,
    gen: u32,
    /// The next slot of the same bucket.
    chain: u32,
}

/// Entries with their key hashes, at most `cap` of them; inserting into a full table evicts
/// the least recently touched entry and hands it back.
pub(crate) struct Table<T> {
    meta: Vec<Meta>,
    /// `CHUNK` values per chunk; `None` in a free slot.
    values: Vec<Vec<Option<T>>>,
    free: Vec<u32>,
    /// (slot, tick) from least to most recently used, stale entries included.
    order: VecDeque<(u32, u64)>,
    /// The last tick given out.
    tick: u64,
    len: usize,
    cap: usize,
    /// First slot of each bucket's chain; the length is a power of two.
    buckets: Vec<u32>,
    max_buckets: usize,
}

impl<T> Table<T> {
    pub(crate) fn new(cap: usize) -> Self {
        let cap = cap.clamp(1, NIL as usize - 1);
        let max_buckets = cap.checked_next_power_of_two().unwrap_or(1 << 31);
        Table {
            meta: Vec::new(),
            values: Vec::new(),
            free: Vec::new(),
            order: VecDeque::new(),
            tick: 0,
            len: 0,
            cap,
            buckets: vec![NIL; MIN_BUCKETS.min(max_buckets)],
            max_buckets,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The most entries held at once so far (slots are reused, never given back).
    pub(crate) fn high_water(&self) -> usize {
        self.meta.len()
    }

    fn slot(&self, i: u32) -> Option<&Meta> {
        self.meta.get(i as usize)
    }

    fn slot_mut(&mut self, i: u32) -> Option<&mut Meta> {
        self.meta.get_mut(i as usize)
    }

    fn value(&self, i: u32) -> Option<&T> {
        self.values
            .get((i >> CHUNK_BITS) as usize)?
            .get((i & CHUNK_MASK) as usize)?
            .as_ref()
    }

    fn value_mut(&mut self, i: u32) -> Option<&mut Option<T>> {
        self.values
            .get_mut((i >> CHUNK_BITS) as usize)?
            .get_mut((i & CHUNK_MASK) as usize)
    }

    fn bucket(&self, hash: u64) -> usize {
        // The length is a power of two; the hash's low bits are mixed (a keyed hash).
        (hash as usize) & (self.buckets.len().wrapping_sub(1))
    }

    pub(crate) fn get(&self, id: Id) -> Option<&T> {
        if self.slot(id.slot)?.gen != id.gen {
            return None;
        }
        self.value(id.slot)
    }

    pub(crate) fn get_mut(&mut self, id: Id) -> Option<&mut T> {
        if self.slot(id.slot)?.gen != id.gen {
            return None;
        }
        self.value_mut(id.slot)?.as_mut()
    }

    /// Whether `id` is still held (reads no value).
    #[cfg(test)]
    pub(crate) fn contains(&self, id: Id) -> bool {
        self.slot(id.slot)
            .is_some_and(|m| m.gen == id.gen && m.tick != 0)
    }

    /// The entry of hash `hash` for which `is` holds.
    pub(crate) fn find(&self, hash: u64, mut is: impl FnMut(&T) -> bool) -> Option<Id> {
        let mut i = *self.buckets.get(self.bucket(hash))?;
        // A chain holds at most every entry: the bound guards against a broken link.
        for _ in 0..=self.len {
            let s = *self.slot(i)?;
            if s.hash == hash && self.value(i).is_some_and(&mut is) {
                return Some(Id {
                    slot: i,
                    gen: s.gen,
                });
            }
            i = s.chain;
        }
        None
    }

    /// Stamps slot `i` as used now and queues it.
    fn stamp(&mut self, i: u32) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(m) = self.slot_mut(i) {
            m.tick = tick;
        }
        self.order.push_back((i, tick));
        if self.order.len() > 2 * self.len + 32 {
            let meta = &self.meta;
            self.order
                .retain(|&(i, t)| meta.get(i as usize).is_some_and(|m| m.tick == t));
        }
    }

    /// Marks an entry as just used (it is evicted last).
    pub(crate) fn touch(&mut self, id: Id) {
        let Some(m) = self.slot(id.slot) else {
            return;
        };
        if m.gen == id.gen && m.tick != self.tick && self.value(id.slot).is_some() {
            self.stamp(id.slot);
        }
    }

    /// The least recently used entry (stale queue entries before it are dropped).
    pub(crate) fn oldest(&mut self) -> Option<Id> {
        while let Some(&(i, t)) = self.order.front() {
            match self.slot(i) {
                Some(m) if m.tick == t => {
                    return Some(Id {
                        slot: i,
                        gen: m.gen,
                    })
                }
                _ => {
                    self.order.pop_front();
                }
            }
        }
        None
    }

    /// A free slot, made when there is none (in the last chunk, or a new one).
    fn free_slot(&mut self) -> Option<u32> {
        if let Some(i) = self.free.pop() {
            return Some(i);
        }
        let i = u32::try_from(self.meta.len()).ok().filter(|&i| i < NIL)?;
        if self.values.last().map_or(true, |c| c.len() >= CHUNK) {
            // A table smaller than a chunk (a capture's few calls, a test) allocates no more.
            self.values.push(Vec::with_capacity(CHUNK.min(self.cap)));
        }
        self.values.last_mut()?.push(None);
        self.meta.push(Meta {
            hash: 0,
            tick: 0,
            gen: 0,
            chain: NIL,
        });
        Some(i)
    }

    /// Doubles the bucket array and threads every entry into its new chain.
    fn grow_buckets(&mut self) {
        let n = self.buckets.len() * 2;
        let mask = n - 1;
        let mut buckets = vec![NIL; n];
        let live = self
            .values
            .iter()
            .flat_map(|c| c.iter().map(Option::is_some));
        for ((i, s), live) in (0u32..).zip(self.meta.iter_mut()).zip(live) {
            if live {
                if let Some(b) = buckets.get_mut((s.hash as usize) & mask) {
                    s.chain = *b;
                    *b = i;
                }
            }
        }
        self.buckets = buckets;
    }

    /// Inserts a new entry; when the table is full, the least recently used entry is removed
    /// first and returned.
    pub(crate) fn insert(&mut self, hash: u64, value: T) -> (Id, Option<T>) {
        let evicted = if self.len >= self.cap {
            self.oldest().and_then(|id| self.remove(id))
        } else {
            None
        };
        if self.len >= self.buckets.len() && self.buckets.len() < self.max_buckets {
            self.grow_buckets();
        }
        let b = self.bucket(hash);
        let first = self.buckets.get(b).copied().unwrap_or(NIL);
        let Some(slot) = self.free_slot() else {
            // 2^32 - 1 slots: unreachable, as `cap` is below that; the value is dropped.
            return (Id { slot: NIL, gen: 0 }, evicted);
        };
        if let Some(v) = self.value_mut(slot) {
            *v = Some(value);
        }
        let gen = match self.slot_mut(slot) {
            Some(s) => {
                s.hash = hash;
                s.chain = first;
                s.gen
            }
            None => 0,
        };
        if let Some(h) = self.buckets.get_mut(b) {
            *h = slot;
        }
        self.len += 1;
        self.stamp(slot);
        (Id { slot, gen }, evicted)
    }

    pub(crate) fn remove(&mut self, id: Id) -> Option<T> {
        self.get(id)?;
        let (hash, chain) = self.slot(id.slot).map(|s| (s.hash, s.chain))?;
        // Out of its bucket's chain.
        let b = self.bucket(hash);
        let mut i = self.buckets.get(b).copied().unwrap_or(NIL);
        if i == id.slot {
            if let Some(h) = self.buckets.get_mut(b) {
                *h = chain;
            }
        } else {
            for _ in 0..self.len {
                let Some(s) = self.slot_mut(i) else {
                    break;
                };
                if s.chain == id.slot {
                    s.chain = chain;
                    break;
                }
                i = s.chain;
            }
        }
        if let Some(s) = self.slot_mut(id.slot) {
            s.gen = s.gen.wrapping_add(1);
            s.chain = NIL;
            s.tick = 0;
        }
        let value = self.value_mut(id.slot)?.take()?;
        self.free.push(id.slot);
        self.len -= 1;
        Some(value)
    }

    /// Entries from least to most recently used.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Id, &T)> + '_ {
        self.order.iter().filter_map(move |&(i, t)| {
            let m = self.slot(i).filter(|m| m.tick == t)?;
            let id = Id {
                slot: i,
                gen: m.gen,
            };
            self.value(i).map(|v| (id, v))
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
        assert!(!t.contains(b) && t.contains(a) && t.contains(c));
        assert_eq!(t.find(1, |&v| v == 20), None);
        assert_eq!(t.iter().map(|(_, v)| *v).collect::<Vec<_>>(), vec![10, 30]);
        assert_eq!(t.remove(a), Some(10));
        assert_eq!(t.get(c), Some(&30));
        assert_eq!(t.len(), 1);
        let (d, _) = t.insert(4, 40);
        assert_ne!(d, a);
        assert_eq!(t.iter().count(), 2);
    }

    /// Many entries over several chunks and bucket doublings, with colliding buckets and
    /// equal hashes, removed from the middle of chains: every live entry is still found.
    #[test]
    fn chains_survive_growth_and_removal() {
        let mut t: Table<u64> = Table::new(5000);
        // Hashes 0..4000 with every fourth one repeated: equal hashes share a chain.
        let hash = |v: u64| if v % 4 == 0 { 7 } else { v * 1024 };
        let ids: Vec<Id> = (0..4000).map(|v| t.insert(hash(v), v).0).collect();
        assert!(t.buckets.len() >= 4096);
        for (v, &id) in ids.iter().enumerate().step_by(3) {
            assert_eq!(t.remove(id), Some(v as u64));
        }
        for (v, &id) in ids.iter().enumerate() {
            let v = v as u64;
            let live = v % 3 != 0;
            assert_eq!(t.find(hash(v), |&x| x == v), live.then_some(id), "{v}");
            assert_eq!(t.get(id).is_some(), live);
        }
        assert_eq!(t.len(), 4000 - 1334);
        assert_eq!(t.find(hash(5), |&x| x == 6), None);
        // Freed slots are reused with a new generation.
        let (n, _) = t.insert(9, 9);
        assert!(!ids.contains(&n));
        assert_eq!(t.find(9, |&x| x == 9), Some(n));
    }

    #[test]
    fn full_table_evicts_in_lru_order() {
        let mut t: Table<u32> = Table::new(100);
        for v in 0..100 {
            t.insert(u64::from(v) << 32, v);
        }
        let first = t.find(0, |&v| v == 0).map(|id| t.touch(id));
        assert!(first.is_some());
        let evicted: Vec<u32> = (100..150)
            .filter_map(|v| t.insert(u64::from(v) << 32, v).1)
            .collect();
        assert_eq!(evicted, (1..51).collect::<Vec<_>>());
        assert_eq!(t.len(), 100);
        assert!(t.find(0, |&v| v == 0).is_some());
        assert!(t.find(1 << 32, |&v| v == 1).is_none());
        assert!(t.buckets.len() <= 128);
    }

    /// Random inserts, touches and removals against a plain list kept in LRU order: the same
    /// order, the same evictions, through many queue compactions.
    #[test]
    fn lru_order_matches_a_plain_list() {
        let mut t: Table<u32> = Table::new(50);
        let mut model: Vec<(u32, Id)> = Vec::new();
        let mut x = 0x9e37_79b9_u32;
        let mut next = 0u32;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            match x % 8 {
                0..=2 => {
                    let (id, ev) = t.insert(u64::from(next % 7), next);
                    let want = (model.len() >= 50).then(|| model.remove(0).0);
                    assert_eq!(ev, want);
                    model.push((next, id));
                    next += 1;
                }
                3..=5 if !model.is_empty() => {
                    let (v, id) = model.remove((x as usize / 8) % model.len());
                    t.touch(id);
                    model.push((v, id));
                }
                6 if !model.is_empty() => {
                    let (v, id) = model.remove((x as usize / 8) % model.len());
                    assert_eq!(t.remove(id), Some(v));
                    t.touch(id);
                }
                _ => {
                    let oldest = t.oldest();
                    assert_eq!(oldest, model.first().map(|m| m.1));
                }
            }
            assert!(t.order.len() <= 2 * t.len() + 33);
        }
        let got: Vec<u32> = t.iter().map(|(_, v)| *v).collect();
        let want: Vec<u32> = model.iter().map(|m| m.0).collect();
        assert_eq!(got, want);
        for (v, id) in model {
            assert_eq!(t.find(u64::from(v % 7), |&x| x == v), Some(id));
        }
    }
}
