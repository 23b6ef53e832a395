//! The correlator's memory on a long capture (issue 13): peak RSS must not grow with the
//! capture, only with the calls open at once. Not a criterion bench: run it once per size,
//! each in its own process, and compare.
//!
//! ```sh
//! cargo bench -p sipwire --bench correlator_memory -- 100000
//! cargo bench -p sipwire --bench correlator_memory -- 1000000
//! ```
//!
//! The capture is made as it is fed (SIPp-like calls from `sipp_calls.rs`, one starting every
//! 2 ms, in time order): the generator holds only the calls in flight, never the capture.
//! Every 1,000 messages the finished calls are drained (the latest time fed as the watermark)
//! and their rows dropped, as a table writer that flushes them would. Printed: the peak RSS
//! of the process (`VmHWM`), its RSS before the first message, the live table sizes at their
//! largest, and the throughput (generation included).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Instant;

use sipwire::correlate::{Correlator, Outcome, Packet, Sizes};

#[path = "sipp_calls.rs"]
mod sipp_calls;
use sipp_calls::{call_messages, Rng, UAS};

/// A message waiting in the generator, earliest first.
struct Pending(f64, u64, bool, Vec<u8>, SocketAddrV4);

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0).then(o.1.cmp(&self.1))
    }
}

/// A line of `/proc/self/status` in kB.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn main() {
    let calls: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let mut c = Correlator::default();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut pending: BinaryHeap<Pending> = BinaryHeap::new();
    let (mut fed, mut seq, mut rows, mut answered) = (0u64, 0u64, 0u64, 0u64);
    let mut peak = Sizes::default();
    let rss_before = status_kb("VmRSS:");
    let t = Instant::now();
    let feed = |c: &mut Correlator, p: Pending, fed: &mut u64| {
        let (src, dst) = if p.2 { (p.4, UAS) } else { (UAS, p.4) };
        black_box(c.feed(
            &p.3,
            Packet::udp(p.0, SocketAddr::V4(src), SocketAddr::V4(dst)),
        ));
        *fed += 1;
        p.0
    };
    for n in 0..=calls {
        // Everything due before call `n` starts, then its messages.
        let start = f64::from(n) * 0.002;
        while pending.peek().is_some_and(|p| p.0 < start || n == calls) {
            let Some(p) = pending.pop() else { break };
            let now = feed(&mut c, p, &mut fed);
            if fed % 1000 == 0 {
                for r in c.drain_finished(now) {
                    rows += 1;
                    answered += u64::from(r.outcome == Outcome::Answered);
                    black_box(r);
                }
                let s = c.sizes();
                peak.calls = peak.calls.max(s.calls);
                peak.transactions = peak.transactions.max(s.transactions);
                peak.dialogs = peak.dialogs.max(s.dialogs);
                peak.deadlines = peak.deadlines.max(s.deadlines);
                peak.tombstones = peak.tombstones.max(s.tombstones);
            }
        }
        if n < calls {
            for (time, up, bytes, uac) in call_messages(n, &mut rng) {
                seq += 1;
                pending.push(Pending(time, seq, up, bytes, uac));
            }
        }
    }
    for r in c.drain_all_finished() {
        rows += 1;
        answered += u64::from(r.outcome == Outcome::Answered);
    }
    let dt = t.elapsed().as_secs_f64();
    assert_eq!((rows, answered), (u64::from(calls), u64::from(calls)));
    assert_eq!(fed, 7 * u64::from(calls));
    let hwm = status_kb("VmHWM:");
    println!(
        "{calls} calls, {fed} messages in {dt:.1} s ({:.0} msg/s, generation included): \
         peak RSS {:.1} MB (before feeding {:.1} MB, growth {:.1} MB); \
         largest live tables: {} calls, {} transactions, {} dialogs, {} deadlines, {} tombstones",
        fed as f64 / dt,
        hwm as f64 / 1024.0,
        rss_before as f64 / 1024.0,
        hwm.saturating_sub(rss_before) as f64 / 1024.0,
        peak.calls,
        peak.transactions,
        peak.dialogs,
        peak.deadlines,
        peak.tombstones,
    );
}
