//! A hash index from a 64-bit key hash to slot numbers, for tables whose keys are compared
//! through borrowed views (no owned key is built to look one up). The hasher is keyed per
//! table (`RandomState`), so a peer cannot aim collisions; collisions still resolve correctly
//! because a bucket holds every slot with that hash.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

#[derive(Clone, Debug)]
enum Bucket {
    One(u32),
    Many(Vec<u32>),
}

#[derive(Clone, Debug, Default)]
pub(crate) struct HashIndex {
    map: HashMap<u64, Bucket>,
    state: RandomState,
}

impl HashIndex {
    pub(crate) fn hasher(&self) -> impl Hasher {
        self.state.build_hasher()
    }

    pub(crate) fn insert(&mut self, hash: u64, slot: u32) {
        match self.map.get_mut(&hash) {
            None => {
                self.map.insert(hash, Bucket::One(slot));
            }
            Some(Bucket::One(s)) => {
                let first = *s;
                self.map.insert(hash, Bucket::Many(vec![first, slot]));
            }
            Some(Bucket::Many(v)) => v.push(slot),
        }
    }

    pub(crate) fn remove(&mut self, hash: u64, slot: u32) {
        let drop_all = match self.map.get_mut(&hash) {
            None => false,
            Some(Bucket::One(s)) => *s == slot,
            Some(Bucket::Many(v)) => {
                v.retain(|&s| s != slot);
                match v.as_slice() {
                    [] => true,
                    [only] => {
                        let only = *only;
                        self.map.insert(hash, Bucket::One(only));
                        false
                    }
                    _ => false,
                }
            }
        };
        if drop_all {
            self.map.remove(&hash);
        }
    }

    /// The slots whose key has this hash.
    pub(crate) fn get(&self, hash: u64) -> &[u32] {
        match self.map.get(&hash) {
            None => &[],
            Some(Bucket::One(s)) => std::slice::from_ref(s),
            Some(Bucket::Many(v)) => v,
        }
    }
}
