//! SCTP user messages from DATA chunks (RFC 4960 §3.3.1; SIP over SCTP is RFC 4168) and
//! I-DATA chunks (RFC 8260 §2.1), one direction of an association.
//!
//! A packet's chunks are walked with their lengths checked (each padded to 4 bytes, §3.2). An
//! unfragmented DATA chunk (B and E set) is a user message, handed on in place. Fragments are
//! held per stream and joined once the run from a B fragment to an E fragment is complete: by
//! consecutive TSNs for DATA (§6.9), by fragment sequence number within a message id for I-DATA.
//! A TSN seen again is a retransmission and is dropped, so a message comes out once. What is
//! held is bounded by the flow's limit and counted when dropped.

use std::collections::{BTreeMap, HashMap};

use crate::stream::StreamStats;

/// Chunk types (RFC 4960 §3.2, RFC 8260 §2.1).
const DATA: u8 = 0;
const I_DATA: u8 = 64;

/// DATA / I-DATA flags: unordered, beginning, end (RFC 4960 §3.3.1).
const FLAG_U: u8 = 0x04;
const FLAG_B: u8 = 0x02;
const FLAG_E: u8 = 0x01;

/// TSNs remembered below the highest seen, for telling retransmissions from new chunks.
const TSN_WINDOW: u64 = 4096;

/// Fragments held at once for one stream (the bytes are bounded too; this bounds the walks).
const MAX_FRAGMENTS: usize = 1024;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// One chunk: its type, flags and value (the bytes after the 4-byte chunk header).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Chunk<'a> {
    pub kind: u8,
    pub flags: u8,
    pub value: &'a [u8],
}

/// The chunks of a packet (`payload` is what follows the common header): each chunk, or
/// `Err` once for a chunk whose length is below 4 or past the packet, which ends the walk.
pub(crate) struct Chunks<'a> {
    rest: &'a [u8],
}

impl<'a> Chunks<'a> {
    pub(crate) fn new(payload: &'a [u8]) -> Self {
        Chunks { rest: payload }
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Result<Chunk<'a>, ()>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest;
        if rest.is_empty() {
            return None;
        }
        self.rest = &[];
        let (Some(&kind), Some(&flags), Some(len)) = (rest.first(), rest.get(1), be16(rest, 2))
        else {
            return Some(Err(()));
        };
        let len = usize::from(len);
        let Some(value) = rest.get(4..len).filter(|_| len >= 4) else {
            return Some(Err(()));
        };
        // §3.2: padded to a multiple of 4; the last chunk's padding may be missing.
        self.rest = rest.get((len + 3) & !3..).unwrap_or(&[]);
        Some(Ok(Chunk { kind, flags, value }))
    }
}

/// Whether a packet carries user data (so its association needs a flow).
pub(crate) fn has_data(payload: &[u8]) -> bool {
    Chunks::new(payload)
        .map_while(Result::ok)
        .any(|c| c.kind == DATA || c.kind == I_DATA)
}

/// The TSNs seen lately: a bitmap of the `TSN_WINDOW` below the highest, with TSNs unwrapped
/// to 64 bits (serial number arithmetic, RFC 4960 §1.6).
#[derive(Debug, Default)]
struct TsnWindow {
    highest: Option<u64>,
    bits: Vec<u64>,
}

impl TsnWindow {
    /// The 64-bit TSN of `tsn`, nearest the highest seen.
    fn unwrap(&self, tsn: u32) -> u64 {
        match self.highest {
            None => (1u64 << 32) + u64::from(tsn),
            Some(h) => {
                let delta = i64::from(tsn.wrapping_sub(h as u32) as i32);
                h.saturating_add_signed(delta)
            }
        }
    }

    fn bit(t: u64) -> (usize, u64) {
        let i = (t % TSN_WINDOW) as usize;
        (i / 64, 1u64 << (i % 64))
    }

    /// Records `t`; false when it was seen already or is too old to tell (a retransmission).
    fn insert(&mut self, t: u64) -> bool {
        if self.bits.is_empty() {
            self.bits = vec![0; (TSN_WINDOW / 64) as usize];
        }
        match self.highest {
            Some(h) if t <= h => {
                if h - t >= TSN_WINDOW {
                    return false;
                }
            }
            Some(h) => {
                // Forget what slides out of the window.
                if t - h >= TSN_WINDOW {
                    self.bits.iter_mut().for_each(|w| *w = 0);
                } else {
                    for old in h + 1..=t {
                        let (w, m) = Self::bit(old);
                        if let Some(word) = self.bits.get_mut(w) {
                            *word &= !m;
                        }
                    }
                }
                self.highest = Some(t);
            }
            None => self.highest = Some(t),
        }
        let (w, m) = Self::bit(t);
        match self.bits.get_mut(w) {
            Some(word) if *word & m == 0 => {
                *word |= m;
                true
            }
            _ => false,
        }
    }
}

/// A held DATA fragment.
#[derive(Debug)]
struct Fragment {
    flags: u8,
    data: Vec<u8>,
}

/// A fragmented I-DATA message being gathered: fragments by FSN (the B fragment is FSN 0).
#[derive(Debug, Default)]
struct Gathering {
    parts: BTreeMap<u32, Vec<u8>>,
    last: Option<u32>,
}

/// One direction of an association.
#[derive(Debug, Default)]
pub(crate) struct SctpFlow {
    seen: TsnWindow,
    /// DATA fragments per stream id, by 64-bit TSN.
    fragments: HashMap<u16, BTreeMap<u64, Fragment>>,
    /// I-DATA messages being gathered, by (stream id, unordered, message id).
    gathering: BTreeMap<(u16, bool, u32), Gathering>,
    held: usize,
}

impl SctpFlow {
    /// Bytes held in fragments.
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// Reads the chunks of one packet, calling `emit` with each user message; fragments are
    /// held while the flow holds at most `max` bytes.
    pub(crate) fn packet(
        &mut self,
        payload: &[u8],
        max: usize,
        stats: &mut StreamStats,
        emit: &mut dyn FnMut(&[u8]),
    ) {
        stats.sctp_packets += 1;
        for c in Chunks::new(payload) {
            let Ok(c) = c else {
                stats.sctp_bad_chunks += 1;
                break;
            };
            stats.sctp_chunks += 1;
            match c.kind {
                DATA => self.data(c.flags, c.value, max, stats, emit),
                I_DATA => self.idata(c.flags, c.value, max, stats, emit),
                _ => {}
            }
        }
    }

    /// A DATA chunk (RFC 4960 §3.3.1): TSN, stream id, stream sequence number, PPID, data.
    fn data(
        &mut self,
        flags: u8,
        value: &[u8],
        max: usize,
        stats: &mut StreamStats,
        emit: &mut dyn FnMut(&[u8]),
    ) {
        let (Some(tsn), Some(sid), Some(user)) = (be32(value, 0), be16(value, 4), value.get(12..))
        else {
            stats.sctp_bad_chunks += 1;
            return;
        };
        if user.is_empty() {
            stats.sctp_bad_chunks += 1; // §3.3.1: a DATA chunk carries at least one byte
            return;
        }
        stats.sctp_data_chunks += 1;
        let t = self.seen.unwrap(tsn);
        if !self.seen.insert(t) {
            stats.sctp_duplicates += 1;
            return;
        }
        if flags & (FLAG_B | FLAG_E) == FLAG_B | FLAG_E {
            stats.sctp_messages += 1;
            emit(user);
            return;
        }
        stats.sctp_fragments += 1;
        if !self.room(user.len(), max, stats) {
            return;
        }
        let frags = self.fragments.entry(sid).or_default();
        if frags.len() >= MAX_FRAGMENTS {
            let dropped: usize = frags.values().map(|f| f.data.len()).sum();
            stats.sctp_dropped_bytes += dropped as u64;
            self.held -= dropped;
            frags.clear();
        }
        frags.insert(
            t,
            Fragment {
                flags,
                data: user.to_vec(),
            },
        );
        self.held += user.len();
        // The run through `t`: back to a B fragment, on to an E fragment, TSNs consecutive.
        let mut first = t;
        loop {
            match frags.get(&first) {
                Some(f) if f.flags & FLAG_B != 0 => break,
                Some(f) if first != t && f.flags & FLAG_E != 0 => return,
                Some(_) => match first.checked_sub(1) {
                    Some(f) => first = f,
                    None => return,
                },
                None => return,
            }
        }
        let mut last = t;
        loop {
            match frags.get(&last) {
                Some(f) if f.flags & FLAG_E != 0 => break,
                Some(f) if last != t && f.flags & FLAG_B != 0 => return,
                Some(_) => match last.checked_add(1) {
                    Some(l) => last = l,
                    None => return,
                },
                None => return,
            }
        }
        let mut message = Vec::new();
        for k in first..=last {
            if let Some(f) = frags.remove(&k) {
                self.held -= f.data.len();
                message.extend_from_slice(&f.data);
            }
        }
        if frags.is_empty() {
            self.fragments.remove(&sid);
        }
        stats.sctp_messages += 1;
        emit(&message);
    }

    /// An I-DATA chunk (RFC 8260 §2.1): TSN, stream id, reserved, message id, then the PPID
    /// (B fragment) or the fragment sequence number (others), data.
    fn idata(
        &mut self,
        flags: u8,
        value: &[u8],
        max: usize,
        stats: &mut StreamStats,
        emit: &mut dyn FnMut(&[u8]),
    ) {
        let (Some(tsn), Some(sid), Some(mid), Some(ppid_fsn), Some(user)) = (
            be32(value, 0),
            be16(value, 4),
            be32(value, 8),
            be32(value, 12),
            value.get(16..),
        ) else {
            stats.sctp_bad_chunks += 1;
            return;
        };
        if user.is_empty() {
            stats.sctp_bad_chunks += 1;
            return;
        }
        stats.sctp_data_chunks += 1;
        let t = self.seen.unwrap(tsn);
        if !self.seen.insert(t) {
            stats.sctp_duplicates += 1;
            return;
        }
        if flags & (FLAG_B | FLAG_E) == FLAG_B | FLAG_E {
            stats.sctp_messages += 1;
            emit(user);
            return;
        }
        stats.sctp_fragments += 1;
        if !self.room(user.len(), max, stats) {
            return;
        }
        let fsn = if flags & FLAG_B != 0 { 0 } else { ppid_fsn };
        let key = (sid, flags & FLAG_U != 0, mid);
        let g = self.gathering.entry(key).or_default();
        if g.parts.len() >= MAX_FRAGMENTS {
            let dropped: usize = g.parts.values().map(Vec::len).sum();
            stats.sctp_dropped_bytes += dropped as u64;
            self.held -= dropped;
            g.parts.clear();
        }
        if g.parts.insert(fsn, user.to_vec()).is_none() {
            self.held += user.len();
        }
        if flags & FLAG_E != 0 {
            g.last = Some(fsn);
        }
        let complete = g
            .last
            .is_some_and(|last| g.parts.len() as u64 == u64::from(last) + 1);
        if complete {
            if let Some(g) = self.gathering.remove(&key) {
                let mut message = Vec::new();
                for part in g.parts.values() {
                    self.held -= part.len();
                    message.extend_from_slice(part);
                }
                stats.sctp_messages += 1;
                emit(&message);
            }
        }
    }

    /// Makes room for `n` more bytes within `max`: when the flow is full, what it holds is
    /// dropped (counted); false when `n` alone is over the limit (then it is dropped too).
    fn room(&mut self, n: usize, max: usize, stats: &mut StreamStats) -> bool {
        if self.held + n <= max {
            return true;
        }
        self.drop_all(stats);
        if n > max {
            stats.sctp_dropped_bytes += n as u64;
            return false;
        }
        true
    }

    /// Drops every fragment held (the flow is closed or full), counted.
    pub(crate) fn drop_all(&mut self, stats: &mut StreamStats) {
        stats.sctp_dropped_bytes += self.held as u64;
        self.held = 0;
        self.fragments.clear();
        self.gathering.clear();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A DATA chunk, padded to 4 bytes.
    pub(crate) fn data_chunk(flags: u8, tsn: u32, sid: u16, ssn: u16, user: &[u8]) -> Vec<u8> {
        let len = 16 + user.len();
        let mut c = vec![DATA, flags];
        c.extend_from_slice(&(len as u16).to_be_bytes());
        c.extend_from_slice(&tsn.to_be_bytes());
        c.extend_from_slice(&sid.to_be_bytes());
        c.extend_from_slice(&ssn.to_be_bytes());
        c.extend_from_slice(&0u32.to_be_bytes()); // PPID
        c.extend_from_slice(user);
        while c.len() % 4 != 0 {
            c.push(0);
        }
        c
    }

    /// An I-DATA chunk, padded to 4 bytes.
    pub(crate) fn idata_chunk(
        flags: u8,
        tsn: u32,
        sid: u16,
        mid: u32,
        fsn: u32,
        user: &[u8],
    ) -> Vec<u8> {
        let len = 20 + user.len();
        let mut c = vec![I_DATA, flags];
        c.extend_from_slice(&(len as u16).to_be_bytes());
        c.extend_from_slice(&tsn.to_be_bytes());
        c.extend_from_slice(&sid.to_be_bytes());
        c.extend_from_slice(&0u16.to_be_bytes());
        c.extend_from_slice(&mid.to_be_bytes());
        c.extend_from_slice(&fsn.to_be_bytes());
        c.extend_from_slice(user);
        while c.len() % 4 != 0 {
            c.push(0);
        }
        c
    }

    fn feed(
        f: &mut SctpFlow,
        packets: &[Vec<u8>],
        max: usize,
        stats: &mut StreamStats,
    ) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        for p in packets {
            f.packet(p, max, stats, &mut |m| got.push(m.to_vec()));
        }
        got
    }

    #[test]
    fn tsn_window_wraps_and_remembers() {
        let mut w = TsnWindow::default();
        let a = w.unwrap(u32::MAX - 1);
        assert!(w.insert(a));
        let b = w.unwrap(u32::MAX);
        let c = w.unwrap(0);
        assert_eq!((b, c), (a + 1, a + 2));
        assert!(w.insert(c));
        assert!(w.insert(b)); // late, not a duplicate
        assert!(!w.insert(b));
        assert!(!w.insert(a));
        let far = w.unwrap(5000);
        assert!(w.insert(far));
        assert!(!w.insert(w.unwrap(0))); // slid out of the window: too old to tell
    }

    #[test]
    fn fragments_out_of_order_with_duplicates_and_wraparound() {
        let msg: Vec<u8> = (0..300u32).map(|i| b'A' + (i % 26) as u8).collect();
        let base = u32::MAX - 1; // the TSNs wrap inside the message
        let parts = [
            data_chunk(FLAG_B, base, 1, 7, &msg[..100]),
            data_chunk(0, base.wrapping_add(1), 1, 7, &msg[100..200]),
            data_chunk(FLAG_E, base.wrapping_add(2), 1, 7, &msg[200..]),
        ];
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
            let mut stats = StreamStats::default();
            let mut f = SctpFlow::default();
            let mut packets: Vec<Vec<u8>> = order.iter().map(|&i| parts[i].clone()).collect();
            packets.insert(1, parts[order[0]].clone()); // a retransmission
            let got = feed(&mut f, &packets, 10_000, &mut stats);
            assert_eq!(got, vec![msg.clone()], "{order:?}");
            assert_eq!((stats.sctp_duplicates, f.held()), (1, 0));
        }
    }

    #[test]
    fn several_chunks_in_one_packet_and_bad_lengths() {
        let mut stats = StreamStats::default();
        let mut f = SctpFlow::default();
        let mut p = data_chunk(FLAG_B | FLAG_E, 10, 0, 0, b"one");
        p.extend(vec![3, 0, 0, 8, 0, 0, 0, 0]); // a SACK-like chunk, skipped
        p.extend(data_chunk(FLAG_B | FLAG_E, 11, 0, 1, b"two"));
        let mut bad = p.clone();
        bad.extend([0, 3, 0, 200]); // length past the packet
        let mut zero = data_chunk(FLAG_B | FLAG_E, 12, 0, 2, b"x");
        zero[2..4].copy_from_slice(&[0, 2]); // length below 4
        let got = feed(&mut f, &[p.clone(), bad, zero], 10_000, &mut stats);
        assert_eq!(got, vec![b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(stats.sctp_duplicates, 2); // the second packet's repeats
        assert_eq!(stats.sctp_bad_chunks, 2);
        // Cut at every byte: never a panic, never a message from a cut chunk.
        for cut in 0..p.len() {
            let mut stats = StreamStats::default();
            let mut f = SctpFlow::default();
            let got = feed(&mut f, &[p[..cut].to_vec()], 10_000, &mut stats);
            assert!(got.len() <= 2);
        }
    }

    #[test]
    fn idata_fragments_join_by_fsn() {
        let mut stats = StreamStats::default();
        let mut f = SctpFlow::default();
        let packets = vec![
            idata_chunk(FLAG_E, 3, 2, 9, 2, b"!"),
            idata_chunk(FLAG_B, 1, 2, 9, 51, b"hello"), // FSN field is the PPID here
            idata_chunk(0, 2, 2, 9, 1, b" world"),
        ];
        assert_eq!(
            feed(&mut f, &packets, 1000, &mut stats),
            vec![b"hello world!".to_vec()]
        );
        assert_eq!(f.held(), 0);
    }

    #[test]
    fn held_fragments_are_bounded() {
        let mut stats = StreamStats::default();
        let mut f = SctpFlow::default();
        let packets: Vec<Vec<u8>> = (0..100u32)
            .map(|i| data_chunk(FLAG_B, i * 2, 0, 0, &[b'x'; 50]))
            .collect();
        feed(&mut f, &packets, 1000, &mut stats);
        assert!(f.held() <= 1000);
        assert!(stats.sctp_dropped_bytes >= 4000);
    }
}
