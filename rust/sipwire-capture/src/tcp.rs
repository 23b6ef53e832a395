//! TCP reassembly of one direction of a connection: its bytes in sequence order (RFC 9293
//! §3.4), each once.
//!
//! Sequence numbers are unwrapped to 64-bit stream offsets around the next expected byte
//! (serial number arithmetic, RFC 1982), so wraparound at 2^32 is invisible past this file.
//! A segment at the next expected byte is handed on in place; bytes already handed on
//! (retransmissions, overlaps, a resent segment of another length) are trimmed and counted;
//! a segment ahead of a gap is held (a copy) until the gap fills. A gap that will not fill
//! is skipped and reported, so the consumer resynchronises: when holding the segments after it
//! would pass the flow's limit, when it is farther than the limit, and when FIN or RST closes
//! the direction (or it is flushed, idle or at the end of the capture).
//! A capture that starts mid-connection starts at the first segment seen.

use std::collections::BTreeMap;

use crate::stream::StreamStats;

/// TCP flags (RFC 9293 §3.1).
pub(crate) const FIN: u8 = 0x01;
pub(crate) const SYN: u8 = 0x02;
pub(crate) const RST: u8 = 0x04;

/// Offsets start here so that bytes before the first one seen still have an offset.
const BASE: u64 = 1 << 32;

/// Where reassembly hands the stream.
pub(crate) trait ByteSink {
    /// The next bytes, in order.
    fn data(&mut self, bytes: &[u8]);
    /// `len` bytes were lost here.
    fn gap(&mut self, len: u64);
    /// The stream ended.
    fn end(&mut self);
    /// The consumer drops whatever it is given (the flow is not SIP): nothing is held for it.
    fn discards(&self) -> bool;
    /// Where reassembly counts.
    fn stats(&mut self) -> &mut StreamStats;
    /// Bytes the consumer holds (they count in the flow's limit).
    fn held(&self) -> usize;
    /// The capture time and frame that what is handed on next is stamped with.
    fn origin(&self) -> (i64, u64);
    fn set_origin(&mut self, origin: (i64, u64));
}

/// A segment held ahead of a gap, with the time and frame it was captured in: when the gap is
/// given up on, what it completes is stamped with its own capture time, not the time of
/// whatever made reassembly give up (a FIN, the idle timeout minutes later).
#[derive(Debug)]
struct Held {
    bytes: Vec<u8>,
    origin: (i64, u64),
}

/// One direction of a TCP connection.
#[derive(Debug)]
pub(crate) struct TcpFlow {
    /// The initial sequence number, when the SYN was seen.
    isn: Option<u32>,
    /// The sequence number of the next byte expected, and its offset.
    next_seq: u32,
    next: u64,
    /// Segments ahead of a gap, by offset.
    ahead: BTreeMap<u64, Held>,
    ahead_bytes: usize,
    /// FIN or RST closed it: segments are only recognised as retransmissions now.
    closed: bool,
}

impl TcpFlow {
    /// A direction starting at `seq`: its SYN (the data starts one later), or the first
    /// segment seen of a connection already open.
    pub(crate) fn new(seq: u32, syn: bool) -> Self {
        TcpFlow {
            isn: syn.then_some(seq),
            next_seq: if syn { seq.wrapping_add(1) } else { seq },
            next: BASE,
            ahead: BTreeMap::new(),
            ahead_bytes: 0,
            closed: false,
        }
    }

    pub(crate) fn isn(&self) -> Option<u32> {
        self.isn
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Bytes held ahead of a gap.
    pub(crate) fn held(&self) -> usize {
        self.ahead_bytes
    }

    /// The offset of sequence number `seq`, taken within 2^31 of the next expected byte.
    fn offset(&self, seq: u32) -> u64 {
        let delta = i64::from(seq.wrapping_sub(self.next_seq) as i32);
        self.next.saturating_add_signed(delta)
    }

    /// Whether a segment starting at `seq` would lie past the end of a closed direction (a
    /// new connection on the same ports whose SYN was not captured).
    pub(crate) fn is_past_end(&self, seq: u32) -> bool {
        self.closed && self.offset(seq) > self.next
    }

    /// One segment: `max` is how many bytes this flow may hold, ahead of a gap and in the
    /// consumer together.
    pub(crate) fn segment(
        &mut self,
        seq: u32,
        flags: u8,
        payload: &[u8],
        max: usize,
        sink: &mut dyn ByteSink,
    ) {
        let start = if flags & SYN != 0 {
            seq.wrapping_add(1)
        } else {
            seq
        };
        let off = self.offset(start);
        if self.closed {
            let behind = self.next.saturating_sub(off).min(payload.len() as u64);
            sink.stats().tcp_retransmitted_bytes += behind;
            sink.stats().tcp_after_close_bytes += payload.len() as u64 - behind;
            return;
        }
        if sink.discards() {
            // Not SIP: bytes counted by the sink, nothing held, only the edge kept.
            sink.data(payload);
            let end = off.saturating_add(payload.len() as u64);
            if end > self.next {
                self.next_seq = self.next_seq.wrapping_add((end - self.next) as u32);
                self.next = end;
            }
        } else if !payload.is_empty() {
            self.place(off, payload, max, sink);
        }
        if flags & RST != 0 {
            self.close(None, sink);
        } else if flags & FIN != 0 {
            self.close(Some(off.saturating_add(payload.len() as u64)), sink);
        }
    }

    /// Puts `payload` at offset `off`: hands on what is in order, holds what is ahead.
    fn place(&mut self, mut off: u64, mut payload: &[u8], max: usize, sink: &mut dyn ByteSink) {
        if off < self.next {
            let behind = (self.next - off).min(payload.len() as u64);
            sink.stats().tcp_retransmitted_bytes += behind;
            payload = payload.get(behind as usize..).unwrap_or(&[]);
            off += behind;
            if payload.is_empty() {
                return;
            }
        }
        loop {
            if off == self.next {
                self.deliver(payload, sink);
                self.drain(sink);
                return;
            }
            // Ahead of a gap: hold it if the flow has room and the gap is not absurd.
            let distance = off - self.next;
            let held = self.ahead_bytes.saturating_add(sink.held());
            let fits = held.saturating_add(payload.len()) <= max;
            if fits && distance <= max as u64 {
                sink.stats().tcp_out_of_order += 1;
                match self.ahead.get_mut(&off) {
                    // A resent segment of another length: keep the longer.
                    Some(held) if held.bytes.len() >= payload.len() => {
                        sink.stats().tcp_retransmitted_bytes += payload.len() as u64;
                    }
                    Some(held) => {
                        sink.stats().tcp_retransmitted_bytes += held.bytes.len() as u64;
                        self.ahead_bytes += payload.len() - held.bytes.len();
                        held.bytes.clear();
                        held.bytes.extend_from_slice(payload);
                        held.origin = sink.origin();
                    }
                    None => {
                        let origin = sink.origin();
                        let bytes = payload.to_vec();
                        self.ahead.insert(off, Held { bytes, origin });
                        self.ahead_bytes += payload.len();
                    }
                }
                return;
            }
            // It will not fill in time: skip to the first bytes held, or to this segment.
            let to = self.ahead.keys().next().map_or(off, |&k| k.min(off));
            self.skip_to(to, sink);
            self.drain_given_up(sink);
            if off < self.next {
                // What was held covered part of it.
                let behind = (self.next - off).min(payload.len() as u64);
                sink.stats().tcp_retransmitted_bytes += behind;
                payload = payload.get(behind as usize..).unwrap_or(&[]);
                off += behind;
                if payload.is_empty() {
                    return;
                }
            }
        }
    }

    fn deliver(&mut self, bytes: &[u8], sink: &mut dyn ByteSink) {
        sink.stats().tcp_bytes += bytes.len() as u64;
        self.next += bytes.len() as u64;
        self.next_seq = self.next_seq.wrapping_add(bytes.len() as u32);
        sink.data(bytes);
    }

    /// Hands on the held segments that are now in order. The segment that filled the gap
    /// completes them, so they carry its time and frame (as tshark reports a reassembled PDU).
    fn drain(&mut self, sink: &mut dyn ByteSink) {
        self.drain_stamped(sink, false);
    }

    /// Hands on the held segments after a gap was given up on: each with its own capture
    /// time and frame; the current segment's are restored after.
    fn drain_given_up(&mut self, sink: &mut dyn ByteSink) {
        let current = sink.origin();
        self.drain_stamped(sink, true);
        sink.set_origin(current);
    }

    fn drain_stamped(&mut self, sink: &mut dyn ByteSink, own_origin: bool) {
        while let Some(entry) = self.ahead.first_entry() {
            if *entry.key() > self.next {
                return;
            }
            let at = *entry.key();
            let seg = entry.remove();
            self.ahead_bytes -= seg.bytes.len();
            let behind = (self.next - at).min(seg.bytes.len() as u64);
            sink.stats().tcp_retransmitted_bytes += behind;
            if let Some(rest) = seg.bytes.get(behind as usize..).filter(|r| !r.is_empty()) {
                if own_origin {
                    sink.set_origin(seg.origin);
                }
                self.deliver(rest, sink);
            }
        }
    }

    /// Gives up on the bytes up to offset `to`.
    fn skip_to(&mut self, to: u64, sink: &mut dyn ByteSink) {
        if to <= self.next {
            return;
        }
        let len = to - self.next;
        sink.stats().tcp_gaps += 1;
        sink.stats().tcp_gap_bytes += len;
        self.next = to;
        self.next_seq = self.next_seq.wrapping_add(len as u32);
        sink.gap(len);
    }

    /// Hands on everything held, skipping the gaps before it.
    pub(crate) fn flush(&mut self, sink: &mut dyn ByteSink) {
        while let Some(&to) = self.ahead.keys().next() {
            self.skip_to(to, sink);
            self.drain_given_up(sink);
        }
    }

    /// FIN (the stream ends at offset `end`, the FIN taking one more) or RST (`None`): what is
    /// held is handed on, gaps skipped, and the consumer told the stream ended.
    pub(crate) fn close(&mut self, end: Option<u64>, sink: &mut dyn ByteSink) {
        if self.closed {
            return;
        }
        self.flush(sink);
        if let Some(end) = end.filter(|_| !sink.discards()) {
            self.skip_to(end, sink);
            self.next += 1;
            self.next_seq = self.next_seq.wrapping_add(1);
        }
        self.closed = true;
        self.ahead = BTreeMap::new();
        sink.stats().tcp_closed += 1;
        sink.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what reassembly hands on: bytes, and `#n` for a gap of n.
    #[derive(Default)]
    struct Collect {
        out: Vec<u8>,
        ended: bool,
        discard: bool,
        st: StreamStats,
        origin: (i64, u64),
    }

    impl ByteSink for Collect {
        fn data(&mut self, bytes: &[u8]) {
            self.out.extend_from_slice(bytes);
        }
        fn gap(&mut self, len: u64) {
            self.out.extend_from_slice(format!("#{len}").as_bytes());
        }
        fn end(&mut self) {
            self.ended = true;
        }
        fn discards(&self) -> bool {
            self.discard
        }
        fn stats(&mut self) -> &mut StreamStats {
            &mut self.st
        }
        fn held(&self) -> usize {
            0
        }
        fn origin(&self) -> (i64, u64) {
            self.origin
        }
        fn set_origin(&mut self, origin: (i64, u64)) {
            self.origin = origin;
        }
    }

    fn seg(f: &mut TcpFlow, c: &mut Collect, seq: u32, flags: u8, p: &[u8]) {
        f.segment(seq, flags, p, 1000, c);
    }

    #[test]
    fn reorder_retransmit_overlap_and_wraparound() {
        let data: Vec<u8> = (0..200u32).map(|i| b'a' + (i % 26) as u8).collect();
        for isn in [1000u32, u32::MAX - 50, u32::MAX] {
            let s = |i: usize| isn.wrapping_add(1).wrapping_add(i as u32);
            let mut f = TcpFlow::new(isn, true);
            let mut c = Collect::default();
            seg(&mut f, &mut c, s(100), 0, &data[100..150]); // ahead
            seg(&mut f, &mut c, s(0), 0, &data[0..60]);
            seg(&mut f, &mut c, s(0), 0, &data[0..60]); // retransmitted
            seg(&mut f, &mut c, s(40), 0, &data[40..120]); // overlaps both sides
            seg(&mut f, &mut c, s(150), 0, &data[150..160]);
            seg(&mut f, &mut c, s(140), 0, &data[140..200]); // resent, longer
            seg(&mut f, &mut c, s(200), FIN, b"");
            assert_eq!(c.out, data, "isn {isn}");
            assert!(c.ended && f.is_closed());
            assert_eq!(c.st.tcp_bytes, 200);
            // The repeat, the overlap's head, the held segment's head, the longer resend's head.
            assert_eq!(c.st.tcp_retransmitted_bytes, 60 + 20 + 20 + 20);
            assert_eq!((c.st.tcp_gaps, f.held()), (0, 0));
        }
    }

    #[test]
    fn gaps_are_skipped_when_they_will_not_fill() {
        // FIN after a gap.
        let mut f = TcpFlow::new(10, false);
        let mut c = Collect::default();
        seg(&mut f, &mut c, 10, 0, b"abc");
        seg(&mut f, &mut c, 20, 0, b"xyz");
        seg(&mut f, &mut c, 30, FIN, b"");
        assert_eq!(c.out, b"abc#7xyz#7");
        assert_eq!((c.st.tcp_gaps, c.st.tcp_gap_bytes), (2, 14));
        // A retransmission after the close is recognised.
        seg(&mut f, &mut c, 13, 0, b"defg");
        assert_eq!(c.st.tcp_retransmitted_bytes, 4);
        assert!(f.is_past_end(40));

        // The flow's room runs out: the gap is skipped and the held bytes handed on.
        let mut f = TcpFlow::new(0, false);
        let mut c = Collect::default();
        seg(&mut f, &mut c, 0, 0, b"a");
        for i in 0..30u32 {
            f.segment(10 + i * 10, 0, &[b'0' + i as u8 % 10; 10], 100, &mut c);
            assert!(f.held() <= 100);
        }
        assert!(c.out.starts_with(b"a#9"));
        assert_eq!(c.st.tcp_gaps, 1);

        // Farther ahead than the room: a jump.
        let mut f = TcpFlow::new(0, false);
        let mut c = Collect::default();
        f.segment(5000, 0, b"far", 100, &mut c);
        assert_eq!(c.out, b"#5000far");

        // RST hands on what is held.
        let mut f = TcpFlow::new(0, false);
        let mut c = Collect::default();
        seg(&mut f, &mut c, 5, 0, b"later");
        seg(&mut f, &mut c, 0, RST, b"");
        assert_eq!(c.out, b"#5later");
        assert!(c.ended);
    }

    #[test]
    fn a_discarding_sink_gets_everything_and_nothing_is_held() {
        let mut f = TcpFlow::new(0, false);
        let mut c = Collect {
            discard: true,
            ..Default::default()
        };
        seg(&mut f, &mut c, 500, 0, b"ahead");
        seg(&mut f, &mut c, 0, 0, b"first");
        seg(&mut f, &mut c, 505, FIN, b"");
        assert_eq!((f.held(), c.out.len()), (0, 10));
        assert_eq!((c.st.tcp_gaps, c.st.tcp_closed), (0, 1));
    }
}
