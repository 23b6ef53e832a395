//! Per-stream RTP statistics computed the way `tshark -z rtp,streams` (Wireshark 4.0's
//! ui/tap-rtp-analysis.c) computes them, so that the two can be compared figure for figure.
//!
//! ## Theory of operation
//!
//! Loss: `expected = stop_seq + 65536 × cycles − start_seq + 1`, where `start_seq` is the first
//! packet's sequence number, `stop_seq` the last packet's, and a cycle is counted when a
//! sequence number below `start_seq` arrives in time order (RFC 3550 A.1 in spirit, with
//! tshark's simplifications); `lost = expected − packets`, negative with duplicates.
//!
//! Time order: a packet is "in time sequence" when its (extended, RFC 3550 A.1-style
//! unwrapped) RTP timestamp is not before the stream's first. Only such packets move the
//! arrival reference.
//!
//! Jitter (RFC 3550 §6.4.1, A.8, in ms): `D = |Δarrival − Δnominal|`, `J += (D − J)/16`, where
//! `Δnominal` is the RTP timestamp distance from the last packet with a known clock rate,
//! divided by `rate/1000` (integer division, as tshark). Packets with no known clock rate
//! (telephone-event, unknown dynamic PT, unassigned static PT) update the arrival reference and
//! the delta but not the jitter nor the timestamp reference.
//!
//! Which packets count in max/min/mean delta and jitter: all but the first, those with the
//! marker bit, comfort noise (PT 13 or 19) and the packet after one, and packets out of time
//! order. The "mean" is tshark's running `(mean × (n−1) + x)/n` with n the packets so far,
//! which is not an arithmetic mean when packets were skipped; kept as is to compare.

/// The running statistics of one stream.
#[derive(Clone, Debug)]
pub(crate) struct SeqStats {
    pub packets: u64,
    pub first_pt: u8,
    /// Payload types seen, as a bit set.
    pub pts_seen: u128,
    last_pt: u8,
    start_seq: u16,
    stop_seq: u16,
    /// The highest in-order sequence number (tshark's `seq_num`; kept as u32 since tshark
    /// compares `seq_num + 1` without wrapping).
    seq_num: u32,
    cycles: u32,
    under: bool,
    pub sequence_errors: u64,
    pub problem: bool,
    first_ts: i64,
    ext_ts: i64,
    /// Arrival of the last in-time-order packet (ns).
    time_ns: i64,
    last_nominal_ms: f64,
    delta_ms: f64,
    jitter_ms: f64,
    pub max_delta_ms: f64,
    pub max_delta_frame: Option<u64>,
    pub min_delta_ms: Option<f64>,
    pub mean_delta_ms: f64,
    pub max_jitter_ms: f64,
    pub min_jitter_ms: Option<f64>,
    pub mean_jitter_ms: f64,
    /// The clock rate of the last packet with one (0 when none had one).
    pub clock_rate: u32,
}

/// Comfort noise: RFC 3389 (PT 13) and the earlier PT 19.
fn is_cn(pt: u8) -> bool {
    pt == 13 || pt == 19
}

impl SeqStats {
    /// A stream starting with this packet.
    pub fn new(time_ns: i64, pt: u8, seq: u16, ts: u32) -> SeqStats {
        SeqStats {
            packets: 1,
            first_pt: pt,
            pts_seen: 1u128 << (pt & 0x7f),
            last_pt: pt,
            start_seq: seq,
            stop_seq: seq,
            seq_num: u32::from(seq),
            cycles: 0,
            under: false,
            sequence_errors: 0,
            problem: false,
            first_ts: i64::from(ts),
            ext_ts: i64::from(ts),
            time_ns,
            last_nominal_ms: 0.0,
            delta_ms: 0.0,
            jitter_ms: 0.0,
            max_delta_ms: 0.0,
            max_delta_frame: None,
            min_delta_ms: None,
            mean_delta_ms: 0.0,
            max_jitter_ms: 0.0,
            min_jitter_ms: None,
            mean_jitter_ms: 0.0,
            clock_rate: 0,
        }
    }

    /// Whether `seq` follows the highest in-order sequence number: the usual packet, which
    /// cannot be a copy of one already seen.
    #[inline]
    pub fn is_next(&self, seq: u16) -> bool {
        (self.seq_num as u16).wrapping_add(1) == seq
    }

    /// Packets expected from the sequence range, and lost (expected − received).
    pub fn expected_lost(&self) -> (i64, i64) {
        let expected = i64::from(self.stop_seq) + 65536 * i64::from(self.cycles)
            - i64::from(self.start_seq)
            + 1;
        (expected, expected - self.packets as i64)
    }

    /// One more packet; `clock` is the clock rate of its payload type (0 when unknown).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        time_ns: i64,
        frame: u64,
        pt: u8,
        marker: bool,
        seq: u16,
        ts: u32,
        clock: u32,
    ) {
        // Unwrap the timestamp against the last one (RFC 3550 A.1's idea for timestamps).
        let step = ts.wrapping_sub(self.ext_ts as u32) as i32;
        let ext = self.ext_ts.saturating_add(i64::from(step));
        self.ext_ts = ext;
        let in_time = ext >= self.first_ts;
        let mut regular = in_time && !marker;
        if !in_time {
            self.problem = true;
        }

        // Sequence cycles (tshark's approximation of RFC 3550 A.1).
        // (A start at 0 never sees a smaller number: a 65535 -> 0 step counts then.)
        if in_time && !self.under && (seq < self.start_seq || (seq == 0 && self.stop_seq == 65535))
        {
            self.cycles = self.cycles.saturating_add(1);
            self.under = true;
        } else if seq > self.start_seq && in_time && self.under {
            self.under = false;
        }

        // Sequence errors: a jump forward (loss), a huge jump back (loss across a wrap), or a
        // packet at or before the last in-order one (late or duplicate).
        let seq32 = u32::from(seq);
        if in_time && (self.seq_num + 1 == seq32 || (self.seq_num == 65535 && seq == 0)) {
            self.seq_num = seq32;
        } else if in_time && (self.seq_num + 1 < seq32 || self.seq_num.wrapping_sub(seq32) > 0xFF00)
        {
            self.seq_num = seq32;
            self.sequence_errors += 1;
            self.problem = true;
        } else if self.seq_num + 1 > seq32 {
            self.sequence_errors += 1;
            self.problem = true;
        }

        if is_cn(pt) || is_cn(self.last_pt) {
            regular = false;
        }
        self.last_pt = pt;
        self.pts_seen |= 1u128 << (pt & 0x7f);

        // Capture times are input: a damaged clock must not overflow.
        let delta_ms = time_ns.saturating_sub(self.time_ns) as f64 / 1e6;
        self.delta_ms = delta_ms;
        let mut jitter_now = None;
        if in_time && clock != 0 {
            self.clock_rate = clock;
            let nominal_ms = ext.saturating_sub(self.first_ts) as f64 / f64::from(clock / 1000);
            let diff = (delta_ms - (nominal_ms - self.last_nominal_ms)).abs();
            self.jitter_ms = (15.0 * self.jitter_ms + diff) / 16.0;
            self.last_nominal_ms = nominal_ms;
            jitter_now = Some(self.jitter_ms);
        }

        if regular {
            if delta_ms > self.max_delta_ms {
                self.max_delta_ms = delta_ms;
                self.max_delta_frame = Some(frame);
            }
            if self.min_delta_ms.map_or(true, |m| delta_ms < m) {
                self.min_delta_ms = Some(delta_ms);
            }
            let n = self.packets as f64;
            self.mean_delta_ms = (self.mean_delta_ms * (n - 1.0) + delta_ms) / n;
            if let Some(j) = jitter_now {
                if j > self.max_jitter_ms {
                    self.max_jitter_ms = j;
                }
                if self.min_jitter_ms.map_or(true, |m| j < m) {
                    self.min_jitter_ms = Some(j);
                }
                self.mean_jitter_ms = (self.mean_jitter_ms * (n - 1.0) + j) / n;
            }
        }

        if in_time {
            self.time_ns = time_ns;
        }
        self.stop_seq = seq;
        self.packets += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    /// Feeds (arrival ms, seq, ts) packets of PCMU.
    fn run(pkts: &[(i64, u16, u32)]) -> SeqStats {
        let (t, seq, ts) = pkts[0];
        let mut s = SeqStats::new(t * MS, 0, seq, ts);
        for (i, &(t, seq, ts)) in pkts.iter().enumerate().skip(1) {
            s.update(t * MS, i as u64 + 1, 0, false, seq, ts, 8000);
        }
        s
    }

    #[test]
    fn perfect_stream() {
        let pkts: Vec<_> = (0..50)
            .map(|i| (i * 20, i as u16, i as u32 * 160))
            .collect();
        let s = run(&pkts);
        assert_eq!(s.expected_lost(), (50, 0));
        assert_eq!(s.max_jitter_ms, 0.0);
        assert_eq!(s.max_delta_ms, 20.0);
        assert_eq!(s.sequence_errors, 0);
        assert!(!s.problem);
    }

    #[test]
    fn loss_duplicate_and_wrap() {
        // 65534, 65535, (0 lost), 1, 1 again, 2.
        let s = run(&[
            (0, 65534, 0),
            (20, 65535, 160),
            (60, 1, 480),
            (61, 1, 480),
            (80, 2, 640),
        ]);
        // expected = 2 + 65536 - 65534 + 1 = 5, received 5 (one a duplicate).
        assert_eq!(s.expected_lost(), (5, 0));
        assert_eq!(s.sequence_errors, 2);
        assert!(s.problem);
        assert_eq!(s.max_delta_ms, 40.0);
    }

    #[test]
    fn jitter_rfc3550_a8() {
        // One packet 8 ms late: D = 8 then D = 8 back: J = 0.5, then 0.96875.
        let s = run(&[(0, 0, 0), (28, 1, 160), (40, 2, 320)]);
        assert!(
            (s.max_jitter_ms - 0.96875).abs() < 1e-9,
            "{}",
            s.max_jitter_ms
        );
        // mean: (0.5 + 0.96875) / 2
        assert!((s.mean_jitter_ms - 0.734375).abs() < 1e-9);
        assert_eq!(s.min_jitter_ms, Some(0.5));
    }

    #[test]
    fn unknown_clock_moves_only_the_arrival_reference() {
        let mut s = SeqStats::new(0, 96, 0, 0);
        s.update(20 * MS, 2, 96, false, 1, 160, 0);
        s.update(40 * MS, 3, 96, false, 2, 320, 0);
        assert_eq!(s.max_jitter_ms, 0.0);
        assert_eq!(s.min_jitter_ms, None);
        assert_eq!(s.max_delta_ms, 20.0);
        assert_eq!(s.clock_rate, 0);
    }
}
