//! sipwire's parse benchmarks against httparse, rsip and libosip2, on one ~1 KB INVITE with SDP
//! (`benches/data/invite_1k.sip`). See `benches/README.md` for the results and how to read them.
//!
//! Groups (each compares like with like on the same bytes):
//! - `framing_index`: start line + header index + body framing (`MessageIndex::parse_datagram`)
//!   vs httparse on the same header block with an HTTP/1.1 request line of the same length.
//! - `lazy_txn_fields`: lazy parse + top Via (branch, sent-by) + Call-ID + CSeq (the fields of a
//!   server transaction key, RFC 3261 §17.2.3) vs rsip parsing the message and reading the same.
//! - `lazy_eight_fields`: the eight fields the Python suite reads (method, Request-URI, Call-ID,
//!   CSeq, From tag, To tag, top Via branch, Content-Length), sipwire lazy vs rsip.
//! - `full_parse`: `Message::parse` (index + validation of every typed header).
//! - `sdp`: `SessionDescription::parse` of the body alone, and parse + every stream's port,
//!   direction and codecs.
//!
//! A counting global allocator reports the heap allocations of one call of each case, once,
//! before the timings (the target for a lazy parse is at most one). Then each ratio is also
//! measured *paired* (both sides in alternating short chunks), which holds up on a busy machine
//! where sequential criterion groups see different load.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use rsip::prelude::*;
use sipwire::header::{parse_cseq, parse_name_addr, parse_via_list, CSeq, Via};
use sipwire::message::{HeaderName, Message, MessageIndex, StartLine};
use sipwire::sdp::SessionDescription;
use sipwire::{Diagnostic, ParseOptions};

// --- allocation counting ---------------------------------------------------------------------

#[path = "counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{allocs, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap allocations made by one call of `f` (its result is dropped after counting).
fn allocs_of<T>(f: impl Fn() -> T) -> usize {
    let _warm = black_box(f());
    let before = allocs();
    let r = black_box(f());
    let after = allocs();
    drop(r);
    after - before
}

// --- inputs ----------------------------------------------------------------------------------

static INVITE: &[u8] = include_bytes!("../data/invite_1k.sip");
const OPTS: ParseOptions = ParseOptions::STRICT;

/// The same bytes with the SIP request line replaced by an HTTP/1.1 request line of the same
/// length (`INVITE sip:bob@biloxi.example.co HTTP/1.1`: the Request-URI loses one byte to make
/// room for the longer version), so httparse and sipwire read the same header block.
fn http_version_of(sip: &[u8]) -> Vec<u8> {
    let sl_end = sip
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("start line");
    let sl = &sip[..sl_end];
    let sp1 = sl.iter().position(|&b| b == b' ').expect("method");
    let sp2 = sl.iter().rposition(|&b| b == b' ').expect("version");
    let method = &sl[..sp1];
    let uri = &sl[sp1 + 1..sp2];
    let version = b"HTTP/1.1";
    let uri_len = sl_end - method.len() - 2 - version.len();
    let mut out = Vec::with_capacity(sip.len());
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(&uri[..uri_len]);
    out.push(b' ');
    out.extend_from_slice(version);
    assert_eq!(
        out.len(),
        sl_end,
        "HTTP request line must keep the SIP line's length"
    );
    out.extend_from_slice(&sip[sl_end..]);
    assert_eq!(out.len(), sip.len());
    out
}

fn body_of(sip: &[u8]) -> &[u8] {
    let at = sip
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("empty line")
        + 4;
    &sip[at..]
}

// --- the cases -------------------------------------------------------------------------------

fn sipwire_index(buf: &[u8]) -> MessageIndex {
    MessageIndex::parse_datagram(buf, &OPTS).expect("sipwire index")
}

/// httparse with 32 header slots (the message has 15 headers). Returns the header block length.
fn httparse_head(buf: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf).expect("httparse") {
        httparse::Status::Complete(n) => {
            black_box(&req);
            n
        }
        httparse::Status::Partial => panic!("httparse: partial"),
    }
}

/// Fields of a server transaction key (RFC 3261 §17.2.3) plus Call-ID and CSeq number.
type TxnFields<'a> = (&'a [u8], &'a [u8], &'a [u8], u32, &'a [u8]);

/// The top Via value and CSeq of a lazily parsed message, typed (what a transaction key needs).
fn top_via_and_cseq<'a>(msg: &Message<'a>, diags: &mut Vec<Diagnostic>) -> (Via<'a>, CSeq<'a>) {
    let via_value = msg.first_value(HeaderName::Via).expect("Via");
    let via = parse_via_list(via_value, &OPTS, diags)
        .next()
        .expect("one via")
        .expect("valid via");
    let cseq_value = msg.first_value(HeaderName::CSeq).expect("CSeq");
    let cseq = parse_cseq(cseq_value, &OPTS, diags).expect("valid cseq");
    (via, cseq)
}

fn sipwire_lazy_txn(buf: &[u8]) -> (MessageIndex, usize) {
    let msg = Message::parse_lazy(buf, &OPTS).expect("sipwire lazy");
    let mut diags = Vec::new(); // stays empty: no allocation
    let fields: TxnFields<'_> = {
        let (via, cseq) = top_via_and_cseq(&msg, &mut diags);
        (
            via.branch().expect("branch"),
            via.sent_by(),
            msg.call_id().expect("Call-ID"),
            cseq.seq,
            cseq.method,
        )
    };
    black_box(fields);
    (msg.into_index(), diags.len())
}

fn rsip_txn(buf: &[u8]) -> rsip::SipMessage {
    let msg = rsip::SipMessage::try_from(buf).expect("rsip");
    {
        let via = msg.via_header().expect("Via").typed().expect("typed Via");
        let branch = via.branch().expect("branch").to_string();
        let sent_by = via.uri.host_with_port.to_string();
        let call_id = msg.call_id_header().expect("Call-ID").value();
        let cseq = msg
            .cseq_header()
            .expect("CSeq")
            .typed()
            .expect("typed CSeq");
        black_box((branch, sent_by, call_id, cseq.seq, cseq.method));
    }
    msg
}

fn sipwire_lazy_eight(buf: &[u8]) -> MessageIndex {
    let msg = Message::parse_lazy(buf, &OPTS).expect("sipwire lazy");
    let mut diags = Vec::new();
    {
        let (via, cseq) = top_via_and_cseq(&msg, &mut diags);
        let from = parse_name_addr(
            msg.first_value(HeaderName::From).expect("From"),
            &OPTS,
            &mut diags,
        )
        .expect("valid From");
        let to = parse_name_addr(
            msg.first_value(HeaderName::To).expect("To"),
            &OPTS,
            &mut diags,
        )
        .expect("valid To");
        black_box((
            msg.method().expect("method"),
            msg.request_uri().expect("uri"),
            msg.call_id().expect("Call-ID"),
            cseq.seq,
            cseq.method,
            from.tag(),
            to.tag(),
            via.branch(),
            msg.content_length(),
        ));
    }
    msg.into_index()
}

fn rsip_eight(buf: &[u8]) -> rsip::SipMessage {
    let msg = rsip::SipMessage::try_from(buf).expect("rsip");
    {
        let rsip::SipMessage::Request(req) = &msg else {
            panic!("rsip: not a request")
        };
        let via = msg.via_header().expect("Via").typed().expect("typed Via");
        let cseq = msg
            .cseq_header()
            .expect("CSeq")
            .typed()
            .expect("typed CSeq");
        let from = msg
            .from_header()
            .expect("From")
            .typed()
            .expect("typed From");
        let to = msg.to_header().expect("To").typed().expect("typed To");
        // rsip has no Content-Length accessor: find the header in the list.
        let cl = msg
            .headers()
            .iter()
            .find_map(|h| match h {
                rsip::Header::ContentLength(cl) => Some(cl.length().expect("Content-Length")),
                _ => None,
            })
            .expect("Content-Length");
        black_box((
            &req.method,
            &req.uri,
            msg.call_id_header().expect("Call-ID").value(),
            cseq.seq,
            cseq.method,
            from.tag().cloned(),
            to.tag().cloned(),
            via.branch().cloned(),
            cl,
        ));
    }
    msg
}

/// libosip2: `osip_message_parse`, then the same fields (through `benches/rust/osip/shim.c`; the
/// values are only measured, not copied, while timed).
fn osip_txn(buf: &[u8]) -> bool {
    osip_shim::parse_and_read(buf, false, false).is_some()
}

fn osip_eight(buf: &[u8]) -> bool {
    osip_shim::parse_and_read(buf, true, false).is_some()
}

/// libosip2 reads the same values as sipwire (checked once, untimed).
fn check_osip() {
    let f = osip_shim::parse_and_read(INVITE, true, true).expect("libosip2 parses the INVITE");
    assert_eq!(f.method, b"INVITE");
    assert_eq!(f.uri_host, b"biloxi.example.com");
    assert_eq!(f.call_id, b"3848276298220188511"); // osip keeps the part after '@' apart
    assert_eq!(
        (&f.cseq_number[..], &f.cseq_method[..]),
        (&b"314159"[..], &b"INVITE"[..])
    );
    assert_eq!(f.from_tag, b"9fxced76sl");
    assert!(f.to_tag.is_empty());
    assert_eq!(f.branch, b"z9hG4bK2d4790.1");
    assert_eq!(f.content_length, b"302");
}

fn sipwire_full(buf: &[u8]) -> MessageIndex {
    Message::parse(buf, &OPTS)
        .expect("sipwire full")
        .into_index()
}

fn sdp_parse(body: &[u8]) -> usize {
    let mut diags = Vec::new();
    let sd = SessionDescription::parse(body, &OPTS, &mut diags).expect("sdp");
    black_box(&sd);
    sd.media_count()
}

fn sdp_streams(body: &[u8]) -> u32 {
    let mut diags = Vec::new();
    let sd = SessionDescription::parse(body, &OPTS, &mut diags).expect("sdp");
    let mut acc = 0u32;
    for m in sd.media() {
        acc = acc.wrapping_add(u32::from(m.port()));
        black_box(m.direction());
        for c in m.codecs() {
            black_box((c.name, c.payload_type, c.clock_rate));
            acc = acc.wrapping_add(1);
        }
    }
    acc
}

// --- sanity and allocation report ------------------------------------------------------------

fn check_and_report(http: &[u8], body: &[u8]) {
    let idx = sipwire_index(INVITE);
    assert!(matches!(idx.start_line, StartLine::Request { .. }));
    assert_eq!(
        idx.end as usize,
        INVITE.len(),
        "Content-Length frames the whole datagram"
    );
    let head_len = httparse_head(http);
    assert_eq!(
        head_len, idx.body_start as usize,
        "httparse and sipwire agree on the header block"
    );
    assert_eq!(sdp_streams(body), 49172 + 4);

    eprintln!(
        "== heap allocations per call ({} B INVITE, {} B SDP)",
        INVITE.len(),
        body.len()
    );
    let rows: [(&str, usize); 9] = [
        (
            "sipwire MessageIndex::parse_datagram",
            allocs_of(|| sipwire_index(INVITE)),
        ),
        (
            "sipwire parse_lazy + txn fields",
            allocs_of(|| sipwire_lazy_txn(INVITE)),
        ),
        (
            "sipwire parse_lazy + eight fields",
            allocs_of(|| sipwire_lazy_eight(INVITE)),
        ),
        (
            "sipwire Message::parse (full)",
            allocs_of(|| sipwire_full(INVITE)),
        ),
        ("httparse Request::parse", allocs_of(|| httparse_head(http))),
        ("rsip try_from + txn fields", allocs_of(|| rsip_txn(INVITE))),
        (
            "rsip try_from + eight fields",
            allocs_of(|| rsip_eight(INVITE)),
        ),
        (
            "sipwire SessionDescription::parse",
            allocs_of(|| sdp_parse(body)),
        ),
        (
            "sipwire SDP parse + streams",
            allocs_of(|| sdp_streams(body)),
        ),
    ];
    for (name, n) in rows {
        eprintln!("  {name:<40} {n:>4}");
    }
    let lazy = rows[0].1;
    eprintln!(
        "  lazy parse target (<= 1 allocation): {}",
        if lazy <= 1 { "met" } else { "MISSED" }
    );
    if osip_shim::available() {
        eprintln!("  (libosip2 allocates with C malloc, which this count does not see)");
    }
}

// --- paired ratios -----------------------------------------------------------------------------

/// Times `a` and `b` in alternating short chunks (order swapped every round) and returns the
/// median per-call times and the median of the per-round ratios b/a. On a shared, noisy machine
/// a burst of load then hits both sides of a ratio alike, which sequential criterion groups
/// cannot promise.
fn paired<A, B, RA, RB>(a: A, b: B, rounds: usize) -> (f64, f64, f64)
where
    A: Fn() -> RA,
    B: Fn() -> RB,
{
    fn chunk<F: Fn() -> R, R>(f: &F, iters: u32) -> f64 {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(f());
        }
        t.elapsed().as_nanos() as f64 / f64::from(iters)
    }
    // About 100 µs per chunk for the slower side.
    let probe = chunk(&a, 200).max(chunk(&b, 200)).max(1.0);
    let iters = ((100_000.0 / probe) as u32).max(1);
    let (mut ta, mut tb, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        let (x, y) = if r % 2 == 0 {
            let x = chunk(&a, iters);
            (x, chunk(&b, iters))
        } else {
            let y = chunk(&b, iters);
            (chunk(&a, iters), y)
        };
        ta.push(x);
        tb.push(y);
        ratio.push(y / x);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut ta), median(&mut tb), median(&mut ratio))
}

fn report_paired(http: &[u8], body: &[u8]) {
    const ROUNDS: usize = 2000;
    eprintln!(
        "== paired medians (alternating 100 us chunks, {ROUNDS} rounds): a, b, median of b/a"
    );
    let rows = [
        (
            "framing+index: sipwire vs httparse",
            paired(|| sipwire_index(INVITE), || httparse_head(http), ROUNDS),
        ),
        (
            "lazy+txn fields: sipwire vs rsip",
            paired(|| sipwire_lazy_txn(INVITE), || rsip_txn(INVITE), ROUNDS),
        ),
        (
            "lazy+eight fields: sipwire vs rsip",
            paired(|| sipwire_lazy_eight(INVITE), || rsip_eight(INVITE), ROUNDS),
        ),
        (
            "index vs full parse (validation cost)",
            paired(|| sipwire_index(INVITE), || sipwire_full(INVITE), ROUNDS),
        ),
        (
            "sdp: parse vs parse+streams",
            paired(|| sdp_parse(body), || sdp_streams(body), ROUNDS),
        ),
    ];
    for (name, (a, b, r)) in rows {
        eprintln!("  {name:<40} {a:8.0} ns {b:8.0} ns   b/a = {r:5.2}");
    }
    if !osip_shim::available() {
        eprintln!("  libosip2: not built (apt-get install libosip2-dev, then rebuild the bench)");
        return;
    }
    let rows = [
        (
            "lazy+txn fields: sipwire vs libosip2",
            paired(|| sipwire_lazy_txn(INVITE), || osip_txn(INVITE), ROUNDS),
        ),
        (
            "lazy+eight fields: sipwire vs libosip2",
            paired(|| sipwire_lazy_eight(INVITE), || osip_eight(INVITE), ROUNDS),
        ),
    ];
    for (name, (a, b, r)) in rows {
        eprintln!("  {name:<40} {a:8.0} ns {b:8.0} ns   b/a = {r:5.2}");
    }
}

// --- criterion -------------------------------------------------------------------------------

fn benches_all(c: &mut Criterion) {
    let http = http_version_of(INVITE);
    let body = body_of(INVITE).to_vec();
    let osip = osip_shim::available() && osip_shim::init();
    if osip {
        check_osip();
    }
    check_and_report(&http, &body);
    // Under `--profile-time` (perf, flamegraphs) only the selected benchmark should run.
    if !std::env::args().any(|a| a == "--profile-time") {
        report_paired(&http, &body);
    }

    let mut g = c.benchmark_group("framing_index");
    g.throughput(Throughput::Bytes(INVITE.len() as u64));
    g.bench_function("sipwire_parse_datagram", |b| {
        b.iter(|| sipwire_index(black_box(INVITE)))
    });
    g.bench_function("httparse", |b| b.iter(|| httparse_head(black_box(&http))));
    g.finish();

    let mut g = c.benchmark_group("lazy_txn_fields");
    g.bench_function("sipwire_lazy", |b| {
        b.iter(|| sipwire_lazy_txn(black_box(INVITE)))
    });
    g.bench_function("rsip", |b| b.iter(|| rsip_txn(black_box(INVITE))));
    if osip {
        g.bench_function("libosip2", |b| b.iter(|| osip_txn(black_box(INVITE))));
    }
    g.finish();

    let mut g = c.benchmark_group("lazy_eight_fields");
    g.bench_function("sipwire_lazy", |b| {
        b.iter(|| sipwire_lazy_eight(black_box(INVITE)))
    });
    g.bench_function("rsip", |b| b.iter(|| rsip_eight(black_box(INVITE))));
    if osip {
        g.bench_function("libosip2", |b| b.iter(|| osip_eight(black_box(INVITE))));
    }
    g.finish();

    let mut g = c.benchmark_group("full_parse");
    g.throughput(Throughput::Bytes(INVITE.len() as u64));
    g.bench_function("sipwire_message_parse", |b| {
        b.iter(|| sipwire_full(black_box(INVITE)))
    });
    g.finish();

    let mut g = c.benchmark_group("sdp");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("sipwire_parse", |b| b.iter(|| sdp_parse(black_box(&body))));
    g.bench_function("sipwire_parse_streams", |b| {
        b.iter(|| sdp_streams(black_box(&body)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches_all
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
