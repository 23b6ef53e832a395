//! IPv4 (RFC 791) and IPv6 (RFC 8200) headers, IPv6 extension headers, and fragment
//! reassembly for both, bounded and evicted on capture time.
//!
//! Reassembly rule for overlaps: the first data received for a byte wins (later copies of
//! it are dropped and counted), as RFC 5722 would have an IPv6 host drop the whole
//! datagram instead; keeping the first copy is what a monitor wants, and it is the rule
//! that gives one answer whatever the order of arrival of duplicates.

use std::collections::{HashMap, VecDeque};

use crate::decode::DecodeStats;
use crate::link::be16;
use crate::types::CaptureLimits;

pub const PROTO_HOPOPT: u8 = 0;
pub const PROTO_IPIP: u8 = 4;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_IPV6: u8 = 41;
pub const PROTO_ROUTING: u8 = 43;
pub const PROTO_FRAGMENT: u8 = 44;
pub const PROTO_GRE: u8 = 47;
pub const PROTO_ESP: u8 = 50;
pub const PROTO_AH: u8 = 51;
pub const PROTO_DSTOPTS: u8 = 60;
pub const PROTO_SCTP: u8 = 132;

/// Extension headers followed in one packet before giving up (RFC 8200 §4.1 allows each
/// once, destination options twice; AH may add one).
pub const MAX_EXT_HEADERS: usize = 12;

/// The largest IP datagram (IPv4 total length; IPv6 payload length without jumbograms).
pub const MAX_DATAGRAM: usize = 65_535;

/// An IPv4 header, checked against the captured bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ipv4<'a> {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub proto: u8,
    pub id: u16,
    /// Fragment offset in bytes.
    pub frag_offset: usize,
    pub more_fragments: bool,
    pub header_len: usize,
    /// The payload, trimmed to the total length (link padding and FCS cut off).
    pub payload: &'a [u8],
    /// The total length runs past the captured bytes of a record the snap length cut:
    /// `payload` is what was captured.
    pub cut: bool,
}

/// Parses an IPv4 header (RFC 791 §3.1): options skipped by IHL, the payload trimmed to the
/// total length. A total length of 0 is what TCP segmentation offload leaves in captures
/// taken on the sending host: the captured bytes are taken then. `snapped`: the record is
/// shorter than the frame was, so a total length past the captured bytes is the snap length,
/// not a lie, and what was captured is kept (`cut`).
pub(crate) fn ipv4<'a>(data: &'a [u8], snapped: bool, stats: &mut DecodeStats) -> Option<Ipv4<'a>> {
    let Some(h) = data.get(..20) else {
        stats.ip_truncated += 1;
        return None;
    };
    let (Some(&vihl), Some(&flags_hi), Some(&frag_lo), Some(&proto)) =
        (h.first(), h.get(6), h.get(7), h.get(9))
    else {
        return None;
    };
    if vihl >> 4 != 4 {
        stats.ip_bad_header += 1;
        return None;
    }
    let header_len = usize::from(vihl & 0x0F) * 4;
    let total = usize::from(be16(h, 2)?);
    let total = if total == 0 { data.len() } else { total };
    if header_len < 20 || total < header_len {
        stats.ip_bad_header += 1;
        return None;
    }
    let (payload, cut) = match data.get(header_len..total) {
        Some(p) => (p, false),
        None => match data.get(header_len..) {
            Some(p) if snapped => {
                stats.ip_snaplen_cut += 1;
                (p, true)
            }
            _ => {
                stats.ip_truncated += 1;
                return None;
            }
        },
    };
    let src: [u8; 4] = h.get(12..16)?.try_into().ok()?;
    let dst: [u8; 4] = h.get(16..20)?.try_into().ok()?;
    Some(Ipv4 {
        src,
        dst,
        proto,
        id: be16(h, 4)?,
        frag_offset: (usize::from(flags_hi & 0x1F) << 8 | usize::from(frag_lo)) * 8,
        more_fragments: flags_hi & 0x20 != 0,
        header_len,
        payload,
        cut,
    })
}

/// An IPv6 fixed header, checked against the captured bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ipv6<'a> {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub next: u8,
    /// What follows the fixed header, trimmed to the payload length.
    pub payload: &'a [u8],
    /// The payload length runs past the captured bytes of a snapped record (see [`ipv4`]).
    pub cut: bool,
}

/// Parses the IPv6 fixed header (RFC 8200 §3). A payload length of 0 is a jumbogram
/// (RFC 2675) or offload: the captured bytes are taken then. `snapped` as for [`ipv4`].
pub(crate) fn ipv6<'a>(data: &'a [u8], snapped: bool, stats: &mut DecodeStats) -> Option<Ipv6<'a>> {
    let Some(h) = data.get(..40) else {
        stats.ip_truncated += 1;
        return None;
    };
    if h.first().map(|b| b >> 4) != Some(6) {
        stats.ip_bad_header += 1;
        return None;
    }
    let len = usize::from(be16(h, 4)?);
    let rest = data.get(40..)?;
    let (payload, cut) = if len == 0 {
        (rest, false)
    } else {
        match rest.get(..len) {
            Some(p) => (p, false),
            None if snapped => {
                stats.ip_snaplen_cut += 1;
                (rest, true)
            }
            None => {
                stats.ip_truncated += 1;
                return None;
            }
        }
    };
    Some(Ipv6 {
        src: h.get(8..24)?.try_into().ok()?,
        dst: h.get(24..40)?.try_into().ok()?,
        next: *h.get(6)?,
        payload,
        cut,
    })
}

/// Where a walk through extension headers ends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Upper<'a> {
    /// The upper-layer protocol and its bytes.
    Proto(u8, &'a [u8]),
    /// An IPv6 fragment header (RFC 8200 §4.5).
    Fragment {
        id: u32,
        offset: usize,
        more: bool,
        /// The next header of the fragmentable part.
        next: u8,
        /// Bytes of extension headers before the fragment header.
        unfragmentable: usize,
        data: &'a [u8],
    },
}

/// Walks extension headers from `next` over `data`: in IPv6 hop-by-hop (0), routing (43),
/// destination options (60) (RFC 8200 §4.3-4.6: length in 8-octet units, not counting the
/// first), the fragment header (44, 8 octets), and in both versions AH (51, RFC 4302 §2.2:
/// length in 4-octet units, minus 2). ESP (50) hides what follows: counted, `None`.
pub(crate) fn walk<'a>(
    mut next: u8,
    data: &'a [u8],
    v6: bool,
    stats: &mut DecodeStats,
) -> Option<Upper<'a>> {
    let mut at = 0usize;
    for _ in 0..MAX_EXT_HEADERS {
        let len = match next {
            PROTO_HOPOPT | PROTO_ROUTING | PROTO_DSTOPTS if v6 => {
                data.get(at + 1).map(|&l| (usize::from(l) + 1) * 8)
            }
            PROTO_AH => data.get(at + 1).map(|&l| (usize::from(l) + 2) * 4),
            PROTO_FRAGMENT if v6 => {
                let (Some(h), Some(rest)) = (data.get(at..at + 8), data.get(at + 8..)) else {
                    stats.ipv6_ext_bad += 1;
                    return None;
                };
                let field = be16(h, 2)?;
                let id: [u8; 4] = h.get(4..8)?.try_into().ok()?;
                return Some(Upper::Fragment {
                    id: u32::from_be_bytes(id),
                    offset: usize::from(field & 0xFFF8),
                    more: field & 1 == 1,
                    next: *h.first()?,
                    unfragmentable: at,
                    data: rest,
                });
            }
            PROTO_ESP => {
                stats.ip_esp += 1;
                return None;
            }
            _ => return Some(Upper::Proto(next, data.get(at..)?)),
        };
        let (Some(len), Some(&n)) = (len, data.get(at)) else {
            stats.ipv6_ext_bad += 1;
            return None;
        };
        if data.len() < at + len {
            stats.ipv6_ext_bad += 1;
            return None;
        }
        next = n;
        at += len;
    }
    stats.ipv6_ext_too_long += 1;
    None
}

/// What identifies the fragments of one datagram: RFC 791 §3.2 (source, destination,
/// protocol, identification) and RFC 8200 §4.5 (source, destination, identification).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum FragKey {
    V4 {
        src: [u8; 4],
        dst: [u8; 4],
        id: u16,
        proto: u8,
    },
    V6 {
        src: [u8; 16],
        dst: [u8; 16],
        id: u32,
    },
}

/// One fragment handed to [`Defrag::insert`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fragment<'a> {
    /// Offset of `data` in the datagram's payload, in bytes.
    pub offset: usize,
    pub more: bool,
    /// The protocol of the payload (IPv4: the header's; IPv6: the fragment header's next
    /// header, taken from the fragment at offset 0).
    pub next: u8,
    pub data: &'a [u8],
    /// Largest payload the datagram may reassemble to.
    pub max_len: usize,
}

/// A reassembled datagram payload.
#[derive(Debug)]
pub(crate) struct Reassembled {
    pub next: u8,
    pub data: Vec<u8>,
}

/// Ranges of data one datagram may hold apart (holes between them) before it is dropped as
/// a flood of scattered fragments.
const MAX_RANGES: usize = 64;
/// Bytes a datagram in progress is charged beyond its data (its table entry and ranges).
const SET_OVERHEAD: usize = 128 + MAX_RANGES * 8;

struct FragSet {
    /// Matches the entry of this set in `Defrag::order` (stale entries do not).
    serial: u64,
    first_ns: i64,
    /// The payload so far, each byte at its offset; holes are zero.
    buf: Vec<u8>,
    /// Byte ranges held, sorted, disjoint and not touching.
    have: Vec<(usize, usize)>,
    /// Payload length, once the last fragment came.
    end: Option<usize>,
    next: Option<u8>,
}

impl FragSet {
    fn charge(&self) -> usize {
        self.buf.capacity() + SET_OVERHEAD
    }

    fn complete(&self) -> bool {
        matches!((self.end, self.have.as_slice()), (Some(e), [(0, b)]) if *b == e)
    }
}

/// Why a set is dropped.
#[derive(Clone, Copy)]
enum Drop {
    Invalid,
    TooBig,
    Timeout,
    Full,
    Bytes,
}

/// IP datagrams being reassembled, bounded by `max_fragment_datagrams` and
/// `max_fragment_bytes`, each dropped `fragment_timeout_ns` of capture time after its first
/// fragment; when a bound is hit the oldest sets go first. Every drop is counted.
pub(crate) struct Defrag {
    limits: CaptureLimits,
    sets: HashMap<FragKey, FragSet>,
    /// Sets by creation, oldest first (entries of sets gone since are skipped).
    order: VecDeque<(u64, FragKey)>,
    held: usize,
    serial: u64,
}

impl Defrag {
    pub fn new(limits: CaptureLimits) -> Defrag {
        Defrag {
            limits,
            sets: HashMap::new(),
            order: VecDeque::new(),
            held: 0,
            serial: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Datagrams in progress and bytes charged for them.
    pub fn held(&self) -> (usize, usize) {
        (self.sets.len(), self.held)
    }

    fn drop_set(&mut self, key: &FragKey, why: Drop, stats: &mut DecodeStats) {
        if let Some(set) = self.sets.remove(key) {
            self.held = self.held.saturating_sub(set.charge());
            let n = match why {
                Drop::Invalid => &mut stats.fragment_invalid,
                Drop::TooBig => &mut stats.fragment_too_big,
                Drop::Timeout => &mut stats.fragment_timeouts,
                Drop::Full => &mut stats.fragment_evicted_full,
                Drop::Bytes => &mut stats.fragment_evicted_bytes,
            };
            *n += 1;
        }
    }

    /// The oldest set still held, dropping stale order entries on the way.
    fn oldest(&mut self) -> Option<(FragKey, i64)> {
        while let Some(&(serial, key)) = self.order.front() {
            match self.sets.get(&key) {
                Some(set) if set.serial == serial => return Some((key, set.first_ns)),
                _ => {
                    self.order.pop_front();
                }
            }
        }
        None
    }

    /// Drops the sets whose time is up at capture time `now`.
    pub fn expire(&mut self, now: i64, stats: &mut DecodeStats) {
        while let Some((key, first)) = self.oldest() {
            if now.saturating_sub(first) < self.limits.fragment_timeout_ns {
                break;
            }
            self.drop_set(&key, Drop::Timeout, stats);
        }
    }

    /// Drops every set (the capture ended): counted as unfinished.
    pub fn finish(&mut self, stats: &mut DecodeStats) {
        stats.fragment_unfinished += self.sets.len() as u64;
        self.sets.clear();
        self.order.clear();
        self.held = 0;
    }

    /// Adds a fragment; returns the datagram when this fragment completes it.
    pub fn insert(
        &mut self,
        key: FragKey,
        frag: Fragment<'_>,
        now: i64,
        stats: &mut DecodeStats,
    ) -> Option<Reassembled> {
        stats.ip_fragments += 1;
        let start = frag.offset;
        let end = start + frag.data.len();
        // RFC 791 §3.2, RFC 8200 §4.5: every fragment but the last carries a multiple of 8.
        if frag.more && (frag.data.is_empty() || frag.data.len() % 8 != 0) {
            stats.fragment_invalid += 1;
            return None;
        }
        if end > frag.max_len {
            if self.sets.contains_key(&key) {
                self.drop_set(&key, Drop::TooBig, stats);
            } else {
                stats.fragment_too_big += 1;
            }
            return None;
        }
        if !self.sets.contains_key(&key) && !self.create(key, now, stats) {
            return None;
        }

        // Consistency with what the set knows of its end, and what is new in this fragment.
        let (growth, new_bytes) = {
            let set = self.sets.get(&key)?;
            let bad_end = if frag.more {
                set.end.is_some_and(|e| end > e)
            } else {
                set.end.is_some_and(|e| e != end) || set.buf.len() > end
            };
            if bad_end {
                self.drop_set(&key, Drop::Invalid, stats);
                return None;
            }
            (
                end.saturating_sub(set.buf.len()),
                uncovered(&set.have, start, end),
            )
        };
        if new_bytes == 0 && !frag.data.is_empty() {
            stats.fragment_duplicates += 1;
        } else if new_bytes < frag.data.len() {
            stats.fragment_overlaps += 1;
        }

        // Room for the growth: oldest sets go first, this one last.
        if growth > 0 {
            while self.held + growth > self.limits.max_fragment_bytes {
                let (oldest, _) = self.oldest()?;
                self.drop_set(&oldest, Drop::Bytes, stats);
                if oldest == key {
                    return None;
                }
            }
        }

        let set = self.sets.get_mut(&key)?;
        let before = set.charge();
        if growth > 0 {
            set.buf.reserve_exact(growth);
            set.buf.resize(end, 0);
        }
        if !frag.more {
            set.end = Some(end);
        }
        if start == 0 && set.next.is_none() {
            set.next = Some(frag.next);
        }
        if new_bytes > 0 {
            fill(set, start, frag.data);
        }
        let after = set.charge();
        let too_scattered = set.have.len() > MAX_RANGES;
        self.held = self.held.saturating_sub(before) + after;
        if too_scattered {
            self.drop_set(&key, Drop::Invalid, stats);
            return None;
        }
        if !set.complete() {
            return None;
        }
        let set = self.sets.remove(&key)?;
        self.held = self.held.saturating_sub(set.charge());
        stats.ip_reassembled += 1;
        Some(Reassembled {
            next: set.next.unwrap_or(frag.next),
            data: set.buf,
        })
    }

    /// Makes room for and creates an empty set; `false` when no set may be held.
    fn create(&mut self, key: FragKey, now: i64, stats: &mut DecodeStats) -> bool {
        if self.limits.max_fragment_datagrams == 0 {
            stats.fragment_evicted_full += 1;
            return false;
        }
        while self.sets.len() >= self.limits.max_fragment_datagrams {
            match self.oldest() {
                Some((oldest, _)) => self.drop_set(&oldest, Drop::Full, stats),
                None => break,
            }
        }
        while self.held + SET_OVERHEAD > self.limits.max_fragment_bytes {
            match self.oldest() {
                Some((oldest, _)) => self.drop_set(&oldest, Drop::Bytes, stats),
                None => {
                    stats.fragment_evicted_bytes += 1;
                    return false;
                }
            }
        }
        self.serial += 1;
        let set = FragSet {
            serial: self.serial,
            first_ns: now,
            buf: Vec::new(),
            have: Vec::new(),
            end: None,
            next: None,
        };
        self.held += set.charge();
        self.sets.insert(key, set);
        self.order.push_back((self.serial, key));
        // Entries of sets completed since pile up behind a long-lived oldest one: compact.
        if self.order.len() > 2 * self.sets.len() + 64 {
            let sets = &self.sets;
            self.order
                .retain(|(serial, key)| sets.get(key).is_some_and(|s| s.serial == *serial));
        }
        true
    }
}

/// Bytes of `[start, end)` not in `have`.
fn uncovered(have: &[(usize, usize)], start: usize, end: usize) -> usize {
    let mut covered = 0;
    for &(a, b) in have {
        let lo = a.max(start);
        let hi = b.min(end);
        if lo < hi {
            covered += hi - lo;
        }
    }
    (end - start) - covered
}

/// Copies the parts of `data` (at `start`) that fill holes, and merges its range into `have`.
fn fill(set: &mut FragSet, start: usize, data: &[u8]) {
    let end = start + data.len();
    let mut cursor = start;
    let copy = |from: usize, to: usize, buf: &mut Vec<u8>| {
        if let (Some(dst), Some(src)) = (buf.get_mut(from..to), data.get(from - start..to - start))
        {
            dst.copy_from_slice(src);
        }
    };
    for &(a, b) in &set.have {
        if b <= cursor {
            continue;
        }
        if a >= end {
            break;
        }
        if a > cursor {
            copy(cursor, a, &mut set.buf);
        }
        cursor = b;
        if cursor >= end {
            break;
        }
    }
    if cursor < end {
        copy(cursor, end, &mut set.buf);
    }
    // Merge: every range touching [start, end) joins it.
    let (mut lo, mut hi) = (start, end);
    set.have.retain(|&(a, b)| {
        if b < lo || a > hi {
            true
        } else {
            lo = lo.min(a);
            hi = hi.max(b);
            false
        }
    });
    let at = set.have.partition_point(|&(a, _)| a < lo);
    set.have.insert(at, (lo, hi));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u16) -> FragKey {
        FragKey::V4 {
            src: [10, 0, 0, 1],
            dst: [10, 0, 0, 2],
            id,
            proto: 17,
        }
    }

    fn frag(offset: usize, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            offset,
            more,
            next: 17,
            data,
            max_len: MAX_DATAGRAM - 20,
        }
    }

    #[test]
    fn ranges_merge_and_fill_holes_only() {
        let mut d = Defrag::new(CaptureLimits::DEFAULT);
        let mut st = DecodeStats::default();
        assert!(d
            .insert(key(1), frag(16, true, &[2; 8]), 0, &mut st)
            .is_none());
        assert!(d
            .insert(key(1), frag(0, true, &[1; 8]), 0, &mut st)
            .is_none());
        // Overlaps both neighbours: only the hole [8, 16) is taken.
        assert!(d
            .insert(key(1), frag(0, true, &[9; 24]), 0, &mut st)
            .is_none());
        assert_eq!(st.fragment_overlaps, 1);
        let r = d
            .insert(key(1), frag(24, false, &[4; 3]), 0, &mut st)
            .unwrap();
        let mut want = vec![1; 8];
        want.extend([9; 8]);
        want.extend([2; 8]);
        want.extend([4; 3]);
        assert_eq!(r.data, want);
        assert_eq!(d.held(), (0, 0));
    }

    #[test]
    fn uncovered_counts_bytes_outside_ranges() {
        assert_eq!(uncovered(&[(0, 8), (16, 24)], 0, 24), 8);
        assert_eq!(uncovered(&[(0, 8), (16, 24)], 4, 12), 4);
        assert_eq!(uncovered(&[], 4, 12), 8);
        assert_eq!(uncovered(&[(0, 100)], 4, 12), 0);
    }

    #[test]
    fn stale_order_entries_are_compacted() {
        let mut d = Defrag::new(CaptureLimits::DEFAULT);
        let mut st = DecodeStats::default();
        // One long-lived set, then many that complete.
        d.insert(key(0), frag(8, true, &[0; 8]), 0, &mut st);
        for id in 1..10_000u16 {
            d.insert(key(id), frag(8, false, &[0; 8]), 0, &mut st);
            assert!(d
                .insert(key(id), frag(0, true, &[0; 8]), 0, &mut st)
                .is_some());
        }
        assert!(d.order.len() <= 2 * d.sets.len() + 65);
        assert_eq!(d.held().0, 1);
    }
}
