//! sipwire's transaction table and passive correlator under load (issue 4). See
//! `benches/README.md` for the results and how to read them.
//!
//! Inputs are generated, SIPp-uac-like (the default `uac` scenario against a `uas`): INVITE with
//! an SDP offer, 100 Trying, 180 Ringing, 200 OK with the SDP answer, ACK, BYE, 200 OK. Distinct
//! Call-IDs, branches and tags per call; 64 caller hosts, one callee.
//!
//! Groups:
//! - `txn_lookup_100k`: a table of 100,000 live INVITE server transactions (made by feeding
//!   100,000 INVITEs to a `TransactionLayer`). Per call: parse a received request, compute its
//!   key, look it up. `layer_*` goes through `TransactionLayer::receive` (the whole path: the hit
//!   is a retransmitted INVITE, absorbed, the 100 Trying replayed and drained; the miss is an
//!   ACK with a branch of its own, as for a 2xx, delivered as a stray ACK and drained);
//!   `index_*` is the lookup alone: `MessageIndex::parse` + `KeyRef::for_request` +
//!   `KeyRef::hash_into` + a hash index probe with `KeyRef::matches` on the stored `TxnKey`s,
//!   the same structure as the layer's table (hash -> slots, owned keys from
//!   `KeyRef::to_owned`); `key_lookup_*_preparsed` is that without the parse (the request's
//!   `MessageIndex` made beforehand). The requests cycle through 8192 random transactions of
//!   the 100,000.
//! - `correlator`: a capture of 20,000 calls (140,000 messages, in time order, ~600 calls
//!   overlapping) fed to a fresh `Correlator` with `feed`. `feed_20k_calls_then_calls` keeps
//!   every message (`Config::KEEP`) and reads one `calls()` at the end (the message-by-message
//!   use, as before issue 13); `feed_20k_calls_streaming` is the capture path: nothing kept,
//!   `drain_finished` every 1,000 messages with the latest time as the watermark, `drain_all`
//!   at the end, every call's row (`CallRecord` with its `MediaRecord`s) made. Throughput in
//!   messages. Dropping the correlator is not timed.
//!
//! Before the timings the binary checks the results (every hit hits, every miss misses, 20,000
//! answered calls), prints heap allocations per call (counting allocator), and times the first
//! correlator run of the process (cold heap: every page of the stored messages is new) and three
//! more by hand.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::hint::black_box;
use std::net::{SocketAddr, SocketAddrV4};
use std::ops::Range;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BatchSize, Criterion, SamplingMode, Throughput};
use sipwire::correlate::{self, Correlator, Fed, Outcome, Packet};
use sipwire::message::MessageIndex;
use sipwire::txn::{Config, KeyRef, Peer, TransactionLayer, Transport, TxnKey};
use sipwire::ParseOptions;

// --- allocation counting ---------------------------------------------------------------------

#[path = "counting_alloc.rs"]
mod counting_alloc;
#[path = "sipp_calls.rs"]
mod sipp_calls;
use counting_alloc::{allocs, Counting};
use sipp_calls::{ack, call_messages, invite, CallN, Rng, UAS};

#[global_allocator]
static GLOBAL: Counting = Counting;

// --- SIPp-like messages ----------------------------------------------------------------------

/// Live transactions in the lookup table.
const LIVE: u32 = 100_000;
/// Calls in the correlator's capture (7 messages each).
const CALLS: u32 = 20_000;
/// Distinct requests each lookup case cycles through.
const POOL: usize = 8192;

/// A capture: every message in one buffer (as read from a pcap), in time order.
struct Capture {
    data: Vec<u8>,
    msgs: Vec<(Range<usize>, Packet)>,
}

/// `calls` SIPp-like calls, one starting every 2 ms (±1 ms), ringing after 20-50 ms, answered
/// 0.1-0.3 s later, hung up 0.5-1.5 s after the ACK: ~600 calls overlap, so messages of
/// different calls interleave while each call stays in order.
fn capture(calls: u32) -> Capture {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut evs: Vec<(f64, bool, Vec<u8>, SocketAddrV4)> = Vec::with_capacity(calls as usize * 7);
    for n in 0..calls {
        evs.extend(call_messages(n, &mut rng));
    }
    evs.sort_by(|a, b| a.0.total_cmp(&b.0)); // stable: a call's same-time messages keep order
    let mut data = Vec::with_capacity(evs.iter().map(|e| e.2.len()).sum());
    let mut msgs = Vec::with_capacity(evs.len());
    for (t, up, bytes, uac) in evs {
        let (src, dst) = if up { (uac, UAS) } else { (UAS, uac) };
        let start = data.len();
        data.extend_from_slice(&bytes);
        msgs.push((
            start..data.len(),
            Packet::udp(t, SocketAddr::V4(src), SocketAddr::V4(dst)),
        ));
    }
    Capture { data, msgs }
}

// --- the transaction table ---------------------------------------------------------------------

const OPTS: ParseOptions = ParseOptions::STRICT;
const NOW: u64 = 1_000;

fn peer_of(n: u32) -> Peer {
    Peer::new(SocketAddr::V4(CallN::new(n).uac), Transport::Udp)
}

/// `LIVE` INVITE server transactions, all in Proceeding (100 Trying sent).
fn live_layer() -> TransactionLayer {
    let mut layer = TransactionLayer::new(Config {
        max_transactions: 131_072,
        ..Config::default()
    });
    for n in 0..LIVE {
        layer
            .receive(invite(&CallN::new(n)), peer_of(n), NOW)
            .expect("INVITE");
        while layer.poll_transmit().is_some() {}
        while layer.poll_event().is_some() {}
    }
    assert_eq!(layer.len(), LIVE as usize);
    assert_eq!(layer.counters().created, u64::from(LIVE));
    layer
}

#[derive(Clone, Copy)]
enum Bucket {
    One(u32),
    Many(usize),
}

/// The layer's table structure, from public parts: 64-bit `KeyRef::hash_into` hash (keyed
/// `RandomState`) -> slots, owned `TxnKey`s, `KeyRef::matches` on a probe.
struct KeyIndex {
    state: RandomState,
    map: HashMap<u64, Bucket>,
    many: Vec<Vec<u32>>,
    keys: Vec<TxnKey>,
}

impl KeyIndex {
    fn new() -> KeyIndex {
        KeyIndex {
            state: RandomState::new(),
            map: HashMap::new(),
            many: Vec::new(),
            keys: Vec::new(),
        }
    }

    fn hash(&self, key: &KeyRef<'_>) -> u64 {
        let mut h = self.state.build_hasher();
        key.hash_into(&mut h);
        h.finish()
    }

    fn insert(&mut self, key: &KeyRef<'_>) {
        let hash = self.hash(key);
        let slot = u32::try_from(self.keys.len()).expect("slots");
        self.keys.push(key.to_owned());
        match self.map.get(&hash).copied() {
            None => {
                self.map.insert(hash, Bucket::One(slot));
            }
            Some(Bucket::One(first)) => {
                self.many.push(vec![first, slot]);
                self.map.insert(hash, Bucket::Many(self.many.len() - 1));
            }
            Some(Bucket::Many(i)) => self.many[i].push(slot),
        }
    }

    fn find(&self, key: &KeyRef<'_>) -> Option<u32> {
        let hash = self.hash(key);
        let slots: &[u32] = match self.map.get(&hash) {
            None => &[],
            Some(Bucket::One(s)) => std::slice::from_ref(s),
            Some(Bucket::Many(i)) => &self.many[*i],
        };
        slots
            .iter()
            .copied()
            .find(|&s| self.keys[s as usize].as_ref().matches(key))
    }
}

fn live_index() -> KeyIndex {
    let mut idx = KeyIndex::new();
    for n in 0..LIVE {
        let buf = invite(&CallN::new(n));
        let mi = MessageIndex::parse(&buf, &OPTS).expect("INVITE");
        idx.insert(&KeyRef::for_request(&buf, &mi).expect("key"));
    }
    idx
}

/// Parse + key + lookup: what the layer does with a received request before its state machine.
fn index_lookup(idx: &KeyIndex, buf: &[u8]) -> Option<u32> {
    let mi = MessageIndex::parse(buf, &OPTS).expect("request");
    let key = KeyRef::for_request(buf, &mi).expect("key");
    idx.find(&key)
}

/// Key + lookup only, on a request parsed beforehand (how much of `index_lookup` is the table).
fn key_lookup(idx: &KeyIndex, buf: &[u8], mi: &MessageIndex) -> Option<u32> {
    let key = KeyRef::for_request(buf, mi).expect("key");
    idx.find(&key)
}

/// A retransmission through the layer: absorbed, the last response replayed (and drained).
fn layer_hit(layer: &mut TransactionLayer, bytes: Vec<u8>, n: u32) {
    layer.receive(bytes, peer_of(n), NOW).expect("receive");
    black_box(layer.poll_transmit().expect("replayed 100"));
}

/// A request matching no transaction and making none (an ACK for a 2xx): delivered, drained.
fn layer_miss(layer: &mut TransactionLayer, bytes: Vec<u8>, n: u32) {
    layer.receive(bytes, peer_of(n), NOW).expect("receive");
    black_box(layer.poll_event().expect("stray ACK"));
}

/// A request of call number `n`.
type Req = (u32, Vec<u8>);

/// `POOL` random call numbers below `LIVE` with their retransmitted INVITE and 2xx ACK.
fn pools() -> (Vec<Req>, Vec<Req>) {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let picks: Vec<u32> = (0..POOL)
        .map(|_| (rng.next() % u64::from(LIVE)) as u32)
        .collect();
    let hits = picks.iter().map(|&n| (n, invite(&CallN::new(n)))).collect();
    let misses = picks.iter().map(|&n| (n, ack(&CallN::new(n)))).collect();
    (hits, misses)
}

// --- the correlator ----------------------------------------------------------------------------

/// Feeds the whole capture to a fresh correlator keeping every message, and reads the calls.
fn correlate_all(cap: &Capture) -> (Correlator, Vec<correlate::Call>) {
    let mut c = Correlator::new(correlate::Config::KEEP);
    for (r, p) in &cap.msgs {
        black_box(c.feed(&cap.data[r.clone()], *p));
    }
    let calls = c.calls();
    (c, calls)
}

/// Messages between two drains of the streaming run.
const DRAIN_EVERY: usize = 1000;

/// Feeds the whole capture keeping nothing, draining finished calls as it goes; every call's
/// row made.
fn correlate_streaming(cap: &Capture) -> (Correlator, Vec<correlate::CallRecord>) {
    let mut c = Correlator::default();
    let mut rows = Vec::with_capacity(CALLS as usize);
    for (n, (r, p)) in cap.msgs.iter().enumerate() {
        black_box(c.feed(&cap.data[r.clone()], *p));
        if n % DRAIN_EVERY == DRAIN_EVERY - 1 {
            rows.extend(c.drain_finished(p.time));
        }
    }
    rows.extend(c.drain_all().map(|f| f.record()));
    (c, rows)
}

/// Each message's index as the capture reader hands it to the correlator in `sipwire
/// analyze` (made beforehand, untimed: the reader makes it for the `messages` table anyway).
fn indexes(cap: &Capture) -> Vec<MessageIndex> {
    let parse = correlate::Config::DEFAULT.parse;
    cap.msgs
        .iter()
        .map(|(r, _)| MessageIndex::parse_datagram(&cap.data[r.clone()], &parse).unwrap())
        .collect()
}

/// [`correlate_streaming`] given each message's index (`feed_parsed`): the correlation stage
/// of the analyze pipeline, without the parse it shares with the capture reader.
fn correlate_streaming_indexed(
    cap: &Capture,
    idx: &[MessageIndex],
) -> (Correlator, Vec<correlate::CallRecord>) {
    let mut c = Correlator::default();
    let mut rows = Vec::with_capacity(CALLS as usize);
    for (n, ((r, p), i)) in cap.msgs.iter().zip(idx).enumerate() {
        black_box(c.feed_parsed(&cap.data[r.clone()], i, *p));
        if n % DRAIN_EVERY == DRAIN_EVERY - 1 {
            rows.extend(c.drain_finished(p.time));
        }
    }
    rows.extend(c.drain_all().map(|f| f.record()));
    (c, rows)
}

fn check_correlator(cap: &Capture) {
    let mut c = Correlator::new(correlate::Config::KEEP);
    for (r, p) in &cap.msgs {
        let fed = c.feed(&cap.data[r.clone()], *p);
        assert!(matches!(fed, Fed::Stored(_)), "{fed:?}");
    }
    let calls = c.calls();
    assert_eq!(calls.len(), CALLS as usize);
    assert!(calls
        .iter()
        .all(|k| k.outcome == Outcome::Answered && k.media.len() == 1));
    let n = c.counters();
    assert_eq!(
        (n.transactions, n.retransmissions, n.dropped),
        (2 * u64::from(CALLS), 0, 0)
    );
    let (c, rows) = correlate_streaming(cap);
    assert_eq!(rows.len(), CALLS as usize);
    assert!(rows.iter().all(|k| k.outcome == Outcome::Answered
        && k.media.len() == 1
        && k.media[0].codec.as_deref() == Some("PCMU")));
    let s = c.sizes();
    assert_eq!((s.calls, s.transactions, s.pending), (0, 0, 0));
}

// --- reports -----------------------------------------------------------------------------------

/// Times whole correlator runs by hand: the first one of the process (cold heap) first, then
/// the streaming path.
fn report_correlator_runs(cap: &Capture) {
    let msgs = cap.msgs.len() as f64;
    eprintln!(
        "== correlator, {} calls, {} messages, {:.1} MB: feed all (messages kept) + calls(), by hand",
        CALLS,
        cap.msgs.len(),
        cap.data.len() as f64 / 1e6
    );
    for run in 0..4 {
        let a0 = allocs();
        let t = Instant::now();
        let mut c = Correlator::new(correlate::Config::KEEP);
        for (r, p) in &cap.msgs {
            black_box(c.feed(&cap.data[r.clone()], *p));
        }
        let feed_dt = t.elapsed().as_secs_f64();
        let a1 = allocs();
        let calls = c.calls();
        let dt = t.elapsed().as_secs_f64();
        let a2 = allocs();
        let t = Instant::now();
        drop(black_box((c, calls)));
        let drop_dt = t.elapsed().as_secs_f64();
        eprintln!(
            "  run {} ({}): {:6.1} ms {:7.0} msg/s | feed {:6.1} ms, {:5.0} ns/msg, {:.2} allocs/msg | \
             calls() {:5.1} ms, {:.2} allocs/call | drop {:.1} ms",
            run + 1,
            if run == 0 { "cold" } else { "warm" },
            dt * 1e3,
            msgs / dt,
            feed_dt * 1e3,
            feed_dt * 1e9 / msgs,
            (a1 - a0) as f64 / msgs,
            (dt - feed_dt) * 1e3,
            (a2 - a1) as f64 / f64::from(CALLS),
            drop_dt * 1e3
        );
    }
    eprintln!(
        "== correlator, streaming: nothing kept, drain every {DRAIN_EVERY} messages, rows made \
         (wall clock, and the thread's CPU time from /proc/thread-self/schedstat)"
    );
    report_runs(msgs, || correlate_streaming(cap));
    // The parse alone, as `feed` does it (one header vector reused): what the streaming runs
    // above spend outside the correlation stage.
    let parse = correlate::Config::DEFAULT.parse;
    for run in 0..6 {
        let (t, cpu0) = (Instant::now(), thread_cpu());
        let mut headers = Vec::new();
        for (r, _) in &cap.msgs {
            if let Ok(i) =
                MessageIndex::parse_datagram_reusing(&cap.data[r.clone()], &parse, headers)
            {
                headers = black_box(i).headers;
            } else {
                headers = Vec::new();
            }
        }
        let (dt, cpu) = (t.elapsed().as_secs_f64(), thread_cpu() - cpu0);
        eprintln!(
            "  parse alone, run {}: {:6.1} ms, {:5.0} ns/msg | CPU {:6.1} ms",
            run + 1,
            dt * 1e3,
            dt * 1e9 / msgs,
            cpu * 1e3
        );
    }
    let idx = indexes(cap);
    eprintln!(
        "== correlator, streaming as above, each message's index made beforehand (feed_parsed: \
         the analyze pipeline's correlation stage, the reader's parse not in it)"
    );
    report_runs(msgs, || correlate_streaming_indexed(cap, &idx));
}

/// Six timed runs of `f` (its output dropped untimed): wall clock, this thread's CPU time,
/// heap allocations, per message.
fn report_runs<T>(msgs: f64, f: impl Fn() -> T) {
    for run in 0..6 {
        let a0 = allocs();
        let (t, cpu0) = (Instant::now(), thread_cpu());
        let out = f();
        let (dt, cpu) = (t.elapsed().as_secs_f64(), thread_cpu() - cpu0);
        let a1 = allocs();
        drop(black_box(out));
        eprintln!(
            "  run {}: {:6.1} ms {:7.0} msg/s, {:5.0} ns/msg | CPU {:6.1} ms, {:7.0} msg/s | \
             {:.2} allocs/msg",
            run + 1,
            dt * 1e3,
            msgs / dt,
            dt * 1e9 / msgs,
            cpu * 1e3,
            msgs / cpu,
            (a1 - a0) as f64 / msgs,
        );
    }
}

/// This thread's time on a CPU, seconds (0 where `/proc` does not say): the waits for the
/// other jobs of a shared machine left out.
fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

fn report_lookup_allocs(
    layer: &mut TransactionLayer,
    idx: &KeyIndex,
    hits: &[Req],
    misses: &[Req],
) {
    let (hn, hb) = &hits[0];
    let (mn, mb) = &misses[0];
    eprintln!("== heap allocations per call ({LIVE} live transactions; the layer's input Vec not counted)");
    let mut rows: Vec<(&str, usize)> = Vec::new();
    for (name, buf) in [
        ("index parse+key+lookup, hit", hb),
        ("index parse+key+lookup, miss", mb),
    ] {
        let a0 = allocs();
        black_box(index_lookup(idx, buf));
        rows.push((name, allocs() - a0));
    }
    let v = hb.clone();
    let a0 = allocs();
    layer_hit(layer, v, *hn);
    rows.push(("layer receive, hit", allocs() - a0));
    let v = mb.clone();
    let a0 = allocs();
    layer_miss(layer, v, *mn);
    rows.push(("layer receive, miss", allocs() - a0));
    for (name, n) in rows {
        eprintln!("  {name:<44} {n:>4}");
    }
}

// --- criterion ---------------------------------------------------------------------------------

fn benches_all(c: &mut Criterion) {
    // The correlator first: its first run is the cold one.
    let cap = capture(CALLS);
    report_correlator_runs(&cap);
    check_correlator(&cap);

    let t = Instant::now();
    let mut layer = live_layer();
    let idx = live_index();
    eprintln!(
        "== {LIVE} live INVITE server transactions: layer and index built in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let (hits, misses) = pools();
    for (n, b) in &hits {
        assert!(index_lookup(&idx, b).is_some());
        layer_hit(&mut layer, b.clone(), *n);
    }
    for (n, b) in &misses {
        assert!(index_lookup(&idx, b).is_none());
        layer_miss(&mut layer, b.clone(), *n);
    }
    let k = layer.counters();
    assert_eq!(
        (k.retransmissions, k.unmatched_acks),
        (POOL as u64, POOL as u64)
    );
    report_lookup_allocs(&mut layer, &idx, &hits, &misses);

    let mut g = c.benchmark_group("txn_lookup_100k");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("layer_receive_hit", |b| {
        b.iter_batched(
            || {
                i = (i + 1) % POOL;
                hits[i].clone()
            },
            |(n, bytes)| layer_hit(&mut layer, bytes, n),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("layer_receive_miss", |b| {
        b.iter_batched(
            || {
                i = (i + 1) % POOL;
                misses[i].clone()
            },
            |(n, bytes)| layer_miss(&mut layer, bytes, n),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("index_hit", |b| {
        b.iter(|| {
            i = (i + 1) % POOL;
            index_lookup(&idx, black_box(&hits[i].1))
        })
    });
    g.bench_function("index_miss", |b| {
        b.iter(|| {
            i = (i + 1) % POOL;
            index_lookup(&idx, black_box(&misses[i].1))
        })
    });
    let parsed = |pool: &[Req]| -> Vec<MessageIndex> {
        pool.iter()
            .map(|(_, b)| MessageIndex::parse(b, &OPTS).expect("request"))
            .collect()
    };
    let (hits_idx, misses_idx) = (parsed(&hits), parsed(&misses));
    g.bench_function("key_lookup_hit_preparsed", |b| {
        b.iter(|| {
            i = (i + 1) % POOL;
            key_lookup(&idx, black_box(&hits[i].1), &hits_idx[i])
        })
    });
    g.bench_function("key_lookup_miss_preparsed", |b| {
        b.iter(|| {
            i = (i + 1) % POOL;
            key_lookup(&idx, black_box(&misses[i].1), &misses_idx[i])
        })
    });
    g.finish();
    assert_eq!(layer.len(), LIVE as usize);
    drop((layer, idx, hits, misses, hits_idx, misses_idx));

    let mut g = c.benchmark_group("correlator");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(cap.msgs.len() as u64));
    g.bench_function("feed_20k_calls_then_calls", |b| {
        b.iter_batched(|| (), |()| correlate_all(&cap), BatchSize::PerIteration)
    });
    g.bench_function("feed_20k_calls_streaming", |b| {
        b.iter_batched(
            || (),
            |()| correlate_streaming(&cap),
            BatchSize::PerIteration,
        )
    });
    let idx = indexes(&cap);
    g.bench_function("feed_parsed_20k_calls_streaming", |b| {
        b.iter_batched(
            || (),
            |()| correlate_streaming_indexed(&cap, &idx),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches_all
}

fn main() {
    // `SIPWIRE_PROFILE_STREAMING=N`: only N streaming runs, for perf or callgrind (the
    // difference between two values of N is the runs alone, the capture's generation not in it).
    if let Some(n) = std::env::var("SIPWIRE_PROFILE_STREAMING")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    {
        let cap = capture(CALLS);
        for _ in 0..n {
            black_box(correlate_streaming(&cap));
        }
        return;
    }
    // `SIPWIRE_PROFILE_PARSED=N`: the same for the correlation stage alone (`feed_parsed`, each
    // message's index made before the runs).
    if let Some(n) = std::env::var("SIPWIRE_PROFILE_PARSED")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    {
        let cap = capture(CALLS);
        let idx = indexes(&cap);
        for _ in 0..n {
            black_box(correlate_streaming_indexed(&cap, &idx));
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
