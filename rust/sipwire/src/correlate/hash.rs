//! The correlator's keyed hash: Call-IDs, tags, branches and hosts, 16 bytes per multiply.
//!
//! Every key comes from the capture, so a hostile peer chooses them. Each correlator draws
//! four random 64-bit keys (from the standard library's `RandomState`), so colliding inputs
//! cannot be computed ahead of time, and no hash value leaves the correlator (its tables
//! iterate in recency order, not bucket order). It is not a cryptographic PRF as SipHash is,
//! so the tables do not rely on it for correctness (full-hash compare, then the key itself)
//! and stay bounded in size whatever the hashes do. SipHash-1-3 in its place made the
//! 140,000-message benchmark ~9 % slower (`benches/README.md`).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// The random keys of one correlator.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Keys([u64; 4]);

impl Keys {
    pub(crate) fn random() -> Keys {
        let s = RandomState::new();
        let mut k = [0u64; 4];
        for (i, x) in (0u64..).zip(k.iter_mut()) {
            // An odd multiplier never zeroes a lane on its own.
            *x = s.hash_one(i) | 1;
        }
        Keys(k)
    }

    /// Keys every correlator shares: for a key that orders things (and must give the same
    /// order in every run), never for a table's index, where a peer could pick colliding
    /// values.
    pub(crate) const FIXED: Keys = Keys([
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7345,
        0xa409_3822_299f_31d1,
        0x082e_fa98_ec4e_6c89,
    ]);

    pub(crate) fn hasher(&self) -> FoldHasher {
        FoldHasher {
            h: self.0[3],
            k: self.0,
        }
    }

    /// The hash of `b` under these keys.
    pub(crate) fn hash_bytes(&self, b: &[u8]) -> u64 {
        let mut h = self.hasher();
        h.write(b);
        h.finish()
    }
}

/// The 128-bit product of `a` and `b`, its halves xored: every input bit reaches every
/// output bit.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline]
fn word(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(b) = s.get(at..at + 8) {
        w.copy_from_slice(b);
    }
    u64::from_le_bytes(w)
}

#[inline]
fn half(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    if let Some(b) = s.get(at..at + 4) {
        w.copy_from_slice(b);
    }
    u64::from(u32::from_le_bytes(w))
}

/// `w` with its ASCII capitals made small, eight bytes at once (bytes from 0x80 up unchanged).
#[inline]
fn lower(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Seven-bit lanes plus a constant: no carry crosses a byte, the high bit tells the range.
    let low7 = w & !HIGH;
    let ge_a = low7 + ONES * (0x80 - u64::from(b'A'));
    let gt_z = low7 + ONES * (0x80 - u64::from(b'Z') - 1);
    let upper = ge_a & !gt_z & !w & HIGH;
    w | (upper >> 2)
}

pub(crate) struct FoldHasher {
    h: u64,
    k: [u64; 4],
}

impl FoldHasher {
    #[inline]
    fn mix(&mut self, a: u64, b: u64) {
        let [k0, k1, ..] = self.k;
        self.h = fold(self.h ^ a ^ k0, b ^ k1);
    }

    /// Hashes `bytes` as if ASCII-lowercased: equal for inputs equal ignoring ASCII case.
    #[inline]
    pub(crate) fn write_lower(&mut self, bytes: &[u8]) {
        self.write_words(bytes, lower);
    }

    #[inline]
    fn write_words(&mut self, bytes: &[u8], f: impl Fn(u64) -> u64) {
        let n = bytes.len();
        let mut i = 0;
        while i + 16 <= n {
            self.mix(f(word(bytes, i)), f(word(bytes, i + 8)));
            i += 16;
        }
        let rest = bytes.get(i..).unwrap_or(&[]);
        let r = rest.len();
        // The last 0-15 bytes, read as two (possibly overlapping) words; the length keeps
        // apart tails that read the same words.
        let (a, b) = if r >= 8 {
            (word(rest, 0), word(rest, r - 8))
        } else if r >= 4 {
            (half(rest, 0), half(rest, r - 4))
        } else {
            let at = |j: usize| u64::from(rest.get(j).copied().unwrap_or(0));
            let a = if r > 0 {
                at(0) | at(r / 2) << 8 | at(r - 1) << 16
            } else {
                0
            };
            (a, 0)
        };
        let k2 = self.k[2];
        self.mix(f(a), f(b) ^ k2.rotate_left(r as u32) ^ (n as u64));
    }
}

impl Hasher for FoldHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.write_words(bytes, |w| w);
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        let k2 = self.k[2];
        self.mix(n, k2);
    }

    /// Both halves in one multiply.
    #[inline]
    fn write_u128(&mut self, n: u128) {
        self.mix(n as u64, (n >> 64) as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let [k0, k1, k2, k3] = self.k;
        fold(self.h ^ k2, k3 ^ k0.rotate_left(17) ^ k1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(k: &Keys, parts: &[&[u8]]) -> u64 {
        let mut h = k.hasher();
        for p in parts {
            h.write(p);
        }
        h.finish()
    }

    #[test]
    fn equal_input_equal_hash_and_keys_differ() {
        let (a, b) = (Keys::random(), Keys::random());
        let id = b"a84b4c76e66710@pc33.atlanta.com";
        assert_eq!(hash(&a, &[id]), hash(&a, &[id]));
        assert_ne!(hash(&a, &[id]), hash(&b, &[id]));
    }

    /// Every length from 0 to 40 and every single-byte change gives a distinct hash, and the
    /// low bits (the bucket) are spread.
    #[test]
    fn small_changes_change_the_hash() {
        let k = Keys::random();
        let base: Vec<u8> = (0u8..40).map(|i| b'a' + i % 26).collect();
        let mut seen = std::collections::HashSet::new();
        for len in 0..=base.len() {
            let s = base.get(..len).unwrap_or(&[]);
            assert!(seen.insert(hash(&k, &[s])), "length {len}");
            for at in 0..len {
                let mut t = s.to_vec();
                if let Some(c) = t.get_mut(at) {
                    *c ^= 0x20;
                }
                assert!(seen.insert(hash(&k, &[&t])), "length {len}, byte {at}");
            }
        }
        let mut buckets = [0u32; 64];
        for n in 0u32..6400 {
            let h = hash(&k, &[format!("{n}-28431@10.20.0.1").as_bytes()]);
            if let Some(b) = buckets.get_mut((h & 63) as usize) {
                *b += 1;
            }
        }
        assert!(
            buckets.iter().all(|&b| (50..150).contains(&b)),
            "{buckets:?}"
        );
        // Zero bytes are not ignored: "" and "\0" differ, and so do tails that read the
        // same overlapping words.
        assert_ne!(hash(&k, &[b""]), hash(&k, &[b"\0"]));
        assert_ne!(hash(&k, &[b"abcdefgh"]), hash(&k, &[b"abcdabcdefgh"]));
    }

    /// `write_lower` equals `write` of the lowercased bytes, for every byte value and every
    /// tail length.
    #[test]
    fn lowercase_hash_is_the_hash_of_the_lowercase() {
        let k = Keys::random();
        let all: Vec<u8> = (0..=255u8).collect();
        for len in 0..40 {
            for start in (0..all.len() - len).step_by(7) {
                let s = all.get(start..start + len).unwrap_or(&[]);
                let mut a = k.hasher();
                a.write_lower(s);
                let mut b = k.hasher();
                b.write(&s.to_ascii_lowercase());
                assert_eq!(a.finish(), b.finish(), "{s:?}");
            }
        }
        for w in [0u64, u64::MAX, 0x4041_5a5b_6061_7a7b, 0xc1e1_80ff_415a_2040] {
            let want = u64::from_le_bytes(w.to_le_bytes().map(|b| b.to_ascii_lowercase()));
            assert_eq!(lower(w), want, "{w:#x}");
        }
    }
}
