//! Calls from a capture: every SIP message the pipeline finds is fed to the core's
//! correlator (RFC 3261 §12, §17; RFC 3264), calls are drained on the capture clock as they
//! finish (their state freed), and their rows go to the `calls` and `media` tables.

use std::net::SocketAddr;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder, UInt8Builder};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray,
    UInt16Array, UInt32Array,
};
use arrow_schema::ArrowError;
use sipwire::correlate::{CallRecord, Config, Correlator, InfoDtmf, MediaRecord, Packet};
use sipwire::message::MessageIndex;
use sipwire::txn::Transport as TxnTransport;

use crate::join::{self, JoinRow, Joined};
use crate::rtp::{DtmfRow, DtmfSource, RtpStreamRow};
use crate::stats::Counters;
use crate::table::{IpColumn, Seen};
use crate::types::Transport;

/// How often (capture time) finished calls are drained.
pub const DRAIN_EVERY_S: f64 = 1.0;

/// Counters of the correlation stage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Calls whose rows were made.
    pub calls_done: u64,
    /// Calls held open now.
    pub calls_open: u64,
    /// Messages the correlator could not place in a call (see its reasons).
    pub uncorrelated: u64,
    /// Calls finished early because the call table was full.
    pub evicted_calls: u64,
    /// The correlator's counters, of which the stats give the uncorrelated messages by reason
    /// (`uncorrelated_*`) and what its per-call bounds let go (`dropped_*`).
    pub correlator: sipwire::correlate::Counters,
}

impl Counters for CallStats {
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("calls_done", self.calls_done);
        f("calls_open", self.calls_open);
        f("uncorrelated", self.uncorrelated);
        f("evicted_calls", self.evicted_calls);
        let c = &self.correlator;
        for (k, v) in c
            .uncorrelated_by_reason()
            .into_iter()
            .chain(c.dropped_by_kind())
        {
            f(k, v);
        }
        f(
            "non_call_transactions_unfollowed",
            c.non_call_transactions_unfollowed,
        );
        f("sip_captured_twice", c.duplicates);
    }
}

/// Finished calls are made rows in chunks of this many: a finished call is kept as Arrow
/// rows (a few hundred bytes) and a join row per media line, not as its record (kilobytes).
/// About a drain's worth on a busy capture (~500 calls a second): the records are made rows
/// while still in cache. At 4,096 the calls thread spent ~40 % of its time there, mostly
/// waiting on memory and freeing cold records.
const CHUNK_CALLS: usize = 512;

/// Calls from which the `calls` and `media` tables are gathered on two threads, when the read
/// has two (below it, a thread costs more than it saves).
const PARALLEL_CALLS: usize = 20_000;

/// The correlation stage of a read.
pub struct Analysis {
    corr: Correlator<Box<[u8]>>,
    /// Finished calls not yet made rows.
    pending: Vec<CallRecord>,
    /// The rows of the calls finished so far, in the order they finished.
    calls: Vec<RecordBatch>,
    media: Vec<RecordBatch>,
    /// Each finished call's first time (the `calls` table is ordered by it), and each media
    /// row's call (an index into those).
    first_times: Vec<f64>,
    media_calls: Vec<u32>,
    joins: Vec<JoinRow>,
    /// The DTMF digits of finished calls' INFO requests, for the `dtmf` table.
    info_dtmf: Vec<DtmfRow>,
    /// Calls per chunk ([`CHUNK_CALLS`]; tests make it small).
    chunk_calls: usize,
    last_drain: f64,
    chunk_error: Option<ArrowError>,
    /// Calls from which [`Analysis::call_batches`] uses a second thread (`usize::MAX`: never;
    /// the read was given one thread).
    parallel_from: usize,
    pub stats: CallStats,
}

fn txn_transport(t: Transport) -> TxnTransport {
    match t {
        Transport::Udp => TxnTransport::Udp,
        Transport::Tcp => TxnTransport::Tcp,
        Transport::Sctp => TxnTransport::Sctp,
        Transport::Ws => TxnTransport::Ws,
    }
}

/// A digit of a call's INFO request as a `dtmf` row.
fn info_row(call_id: &str, d: &InfoDtmf) -> DtmfRow {
    let ep = |a: SocketAddr| crate::types::Endpoint {
        ip: a.ip(),
        port: a.port(),
    };
    DtmfRow {
        time_ns: nanos(d.time),
        // The correlator keeps no frame numbers; the table writes none for an INFO's digit.
        frame: 0,
        src: ep(d.src),
        dst: ep(d.dst),
        source: DtmfSource::Info,
        ssrc: None,
        digit: Some(d.digit),
        event: d.event,
        rtp_timestamp: None,
        duration_ms: d.duration_ms.map(f64::from),
        duration: None,
        volume: None,
        end_seen: None,
        packets: None,
        call_id: Some(call_id.to_owned()),
    }
}

fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// The correlator keeps times as f64 seconds: about 0.25 µs apart near today's epoch, so the
/// tables carry them rounded to the microsecond (a capture's own clock resolution, mostly).
fn nanos(s: f64) -> i64 {
    ((s * 1e6).round() as i64).saturating_mul(1000)
}

impl Analysis {
    pub fn new(cfg: Config) -> Self {
        Analysis {
            corr: Correlator::new(cfg),
            pending: Vec::new(),
            calls: Vec::new(),
            media: Vec::new(),
            first_times: Vec::new(),
            media_calls: Vec::new(),
            joins: Vec::new(),
            info_dtmf: Vec::new(),
            chunk_calls: CHUNK_CALLS,
            last_drain: f64::NEG_INFINITY,
            chunk_error: None,
            parallel_from: usize::MAX,
            stats: CallStats::default(),
        }
    }

    /// Lets [`Analysis::call_batches`] order the `calls` and `media` tables on two threads.
    pub fn set_parallel_tables(&mut self, on: bool) {
        self.parallel_from = if on { PARALLEL_CALLS } else { usize::MAX };
    }

    /// The correlator's configuration.
    pub fn config(&self) -> Config {
        *self.corr.config()
    }

    /// One SIP message that parsed (its index is of `bytes`). The calls finished by its time
    /// are drained first: a message after a quiet spell longer than a call's linger is then
    /// a straggler or a new call (a Call-ID reused), never a late part of the old call.
    pub fn message(&mut self, seen: &Seen, bytes: &[u8], index: &MessageIndex) {
        let now = secs(seen.time_ns);
        if now - self.last_drain >= DRAIN_EVERY_S {
            self.last_drain = now;
            self.drain(now);
        }
        self.feed(seen, bytes, index);
    }

    /// One message, with no drain: the distributed engines replay the whole capture's drain
    /// points instead (engine.rs), so a call split off with its Call-ID ends as it would here.
    pub fn feed(&mut self, seen: &Seen, bytes: &[u8], index: &MessageIndex) {
        let packet = Packet::new(
            secs(seen.time_ns),
            SocketAddr::new(seen.src.ip, seen.src.port),
            SocketAddr::new(seen.dst.ip, seen.dst.port),
            txn_transport(seen.transport),
        );
        self.corr.feed_parsed(bytes, index, packet);
    }

    /// A drain at capture time `now_ns` (see [`Analysis::feed`]).
    pub fn drain_at(&mut self, now_ns: i64) {
        self.drain(secs(now_ns));
    }

    /// The join rows of the calls finished so far (engine.rs hands them to the RTP groups).
    pub fn joins(&mut self) -> &[JoinRow] {
        self.rows_of_pending();
        &self.joins
    }

    /// Join rows made elsewhere (an engine's RTP group joins its streams to the calls other
    /// groups correlated), for [`Analysis::rtp_streams_batch`] and [`Analysis::dtmf_batch`].
    pub fn set_joins(&mut self, joins: Vec<JoinRow>) {
        self.joins = joins;
    }

    /// Takes the calls finished by `now` (the latest capture time: the correlator keeps each
    /// call for its linger after its last message, so stragglers still find it).
    fn drain(&mut self, now: f64) {
        let before = self.pending.len();
        self.pending.extend(self.corr.drain_finished(now));
        self.stats.calls_done += (self.pending.len() - before) as u64;
        if self.pending.len() >= self.chunk_calls {
            self.rows_of_pending();
        }
        self.refresh();
    }

    /// The finished calls made rows; their records freed.
    fn rows_of_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        // The batches are made of values the correlator checked; an Arrow error here (a
        // column longer than i32 offsets allow) is kept to be returned by the table.
        let base = self.first_times.len() as u32;
        let media: Vec<&MediaRecord> = self.pending.iter().flat_map(|c| c.media.iter()).collect();
        match calls_batch(&self.pending).and_then(|c| Ok((c, media_batch(&media)?))) {
            Ok((c, m)) => {
                self.calls.push(c);
                self.media.push(m);
            }
            Err(e) => self.chunk_error = Some(e),
        }
        for (i, c) in self.pending.iter().enumerate() {
            self.first_times.push(c.first_time);
            self.media_calls
                .extend(std::iter::repeat(base + i as u32).take(c.media.len()));
        }
        self.joins.extend(join::rows(&self.pending));
        for c in &self.pending {
            self.info_dtmf
                .extend(c.info_dtmf.iter().map(|d| info_row(&c.call_id, d)));
        }
        self.pending.clear();
    }

    fn refresh(&mut self) {
        self.stats.calls_open = self.corr.sizes().calls as u64;
        let c = self.corr.counters();
        self.stats.uncorrelated = c.uncorrelated;
        self.stats.evicted_calls = c.evicted_calls;
        self.stats.correlator = *c;
    }

    /// The end of the capture: every call still open is finished and its rows made.
    pub fn finish(&mut self) {
        self.finish_at(None);
    }

    /// [`Analysis::finish`] with the capture's end given (a part of a capture must end when
    /// the whole does); `None`: the latest time fed.
    pub fn finish_at(&mut self, end_ns: Option<i64>) {
        self.corr.finish(end_ns.map(secs));
        let before = self.pending.len();
        let rows: Vec<CallRecord> = self.corr.drain_all().map(|f| f.record()).collect();
        self.pending.extend(rows);
        self.stats.calls_done += (self.pending.len() - before) as u64;
        self.rows_of_pending();
        self.refresh();
    }

    /// The order of the finished calls by first time (stable: calls that started together
    /// keep the order they finished in).
    fn call_order(&self) -> Vec<u32> {
        // Each time as an integer in `f64::total_cmp`'s order, with the call's number after
        // it: an unstable sort of the pairs gives the stable order of the times, comparing
        // integers (a third of a stable sort through the times, 200,000 calls).
        let mut keyed: Vec<(u64, u32)> = self
            .first_times
            .iter()
            .map(|t| total_order_key(*t))
            .zip(0u32..)
            .collect();
        keyed.sort_unstable();
        keyed.into_iter().map(|(_, i)| i).collect()
    }

    /// The `calls` table (after [`Analysis::finish`]), in order of first message.
    pub fn calls_batch(&mut self) -> Result<RecordBatch, ArrowError> {
        self.rows_of_pending();
        if let Some(e) = self.chunk_error.take() {
            return Err(e);
        }
        self.calls_in(&self.call_order())
    }

    /// The `media` table: one row per m= line per offer/answer exchange per dialog, the
    /// calls in the `calls` table's order.
    pub fn media_batch(&mut self) -> Result<RecordBatch, ArrowError> {
        self.rows_of_pending();
        if let Some(e) = self.chunk_error.take() {
            return Err(e);
        }
        self.media_in(&self.call_order())
    }

    /// The `calls` and `media` tables together. Each is gathered from its chunks into call
    /// order (most of the time after the read, ~1 µs a call): with
    /// [`Analysis::set_parallel_tables`], the two are gathered side by side when there are
    /// enough calls for a second thread to pay.
    pub fn call_batches(&mut self) -> Result<(RecordBatch, RecordBatch), ArrowError> {
        self.rows_of_pending();
        if let Some(e) = self.chunk_error.take() {
            return Err(e);
        }
        let order = self.call_order();
        if order.len() < self.parallel_from {
            return Ok((self.calls_in(&order)?, self.media_in(&order)?));
        }
        let this = &*self;
        std::thread::scope(|s| {
            let media = std::thread::Builder::new()
                .name("sipwire-media-table".into())
                .spawn_scoped(s, || this.media_in(&order));
            let calls = this.calls_in(&order);
            let media = match media {
                Ok(h) => h.join().unwrap_or_else(|_| {
                    Err(ArrowError::ComputeError(
                        "the media table's thread panicked".into(),
                    ))
                }),
                // No thread to be had: this one does it.
                Err(_) => this.media_in(&order),
            };
            Ok((calls?, media?))
        })
    }

    fn calls_in(&self, order: &[u32]) -> Result<RecordBatch, ArrowError> {
        ordered(&self.calls, order, || calls_batch(&[]))
    }

    fn media_in(&self, call_order: &[u32]) -> Result<RecordBatch, ArrowError> {
        let mut rank = vec![0u32; self.first_times.len()];
        for (r, &c) in call_order.iter().enumerate() {
            if let Some(slot) = rank.get_mut(c as usize) {
                *slot = r as u32;
            }
        }
        // (The call's rank, then the row's number: the rows of a call stay in their order.)
        let mut keyed: Vec<(u32, u32)> = self
            .media_calls
            .iter()
            .map(|&call| rank.get(call as usize).copied().unwrap_or(0))
            .zip(0u32..)
            .collect();
        keyed.sort_unstable();
        let order: Vec<u32> = keyed.into_iter().map(|(_, i)| i).collect();
        ordered(&self.media, &order, || media_batch(&[]))
    }

    /// The `rtp_streams` table of an analysis (after [`Analysis::finish`]): the capture's
    /// columns, each stream joined to the media row that set it up (`join.rs`): `call_id`
    /// is that row's (else the Call-ID of the SDP that announced an endpoint), and `to_tag`,
    /// `cseq`, `media_index`, `early` (the `media` table's key with `call_id`) and `sdp_side`
    /// are added, null for a stream no media row matched.
    pub fn rtp_streams_batch(&self, streams: &[RtpStreamRow]) -> Result<RecordBatch, ArrowError> {
        let joined = join::join(&self.joins, streams);
        let base = crate::table::rtp_streams_batch(streams)?;
        let sdp_call_ids = streams.iter().map(|s| s.call_id.as_deref());
        self.with_media_keys(base, &joined, sdp_call_ids)
    }

    /// The `dtmf` table of an analysis: each event joined to its media row as its stream is
    /// (at the event's time), with the same columns added.
    ///
    /// The digits of the calls' INFO requests are rows too (`source` "info"), in time order
    /// with the telephone-events; they join no media row.
    pub fn dtmf_batch(&self, events: &[DtmfRow]) -> Result<RecordBatch, ArrowError> {
        let rows: Vec<DtmfRow>;
        let events = if self.info_dtmf.is_empty() {
            events
        } else {
            let mut v: Vec<DtmfRow> = events.iter().chain(&self.info_dtmf).cloned().collect();
            v.sort_by_key(|r| r.time_ns);
            rows = v;
            &rows
        };
        let mut joined = join::join_dtmf(&self.joins, events);
        for (j, e) in joined.iter_mut().zip(events) {
            if e.source == DtmfSource::Info {
                *j = None;
            }
        }
        let base = crate::table::dtmf_batch(events)?;
        let sdp_call_ids = events.iter().map(|e| e.call_id.as_deref());
        self.with_media_keys(base, &joined, sdp_call_ids)
    }

    /// `base` with `call_id` the joined media row's (else the SDP's), and the media row's
    /// `to_tag`, `cseq`, `media_index`, `early` and `sdp_side` added.
    fn with_media_keys<'a>(
        &self,
        base: RecordBatch,
        joined: &[Option<Joined>],
        sdp_call_ids: impl Iterator<Item = Option<&'a str>>,
    ) -> Result<RecordBatch, ArrowError> {
        let media = |j: &Option<Joined>| j.and_then(|j| self.joins.get(j.row));
        let call_id: ArrayRef = texts(
            sdp_call_ids
                .zip(joined)
                .map(|(sdp, j)| media(j).map(|m| &*m.call_id).or(sdp)),
        );
        let schema = base.schema();
        let mut cols: Vec<(&str, ArrayRef)> = Vec::new();
        for (f, a) in schema.fields().iter().zip(base.columns()) {
            let a = if f.name() == "call_id" {
                call_id.clone()
            } else {
                a.clone()
            };
            cols.push((f.name().as_str(), a));
        }
        cols.push((
            "to_tag",
            texts(joined.iter().map(|j| media(j).map(|m| &*m.to_tag))),
        ));
        cols.push((
            "cseq",
            Arc::new(UInt32Array::from_iter(
                joined.iter().map(|j| media(j).map(|m| m.cseq)),
            )),
        ));
        cols.push((
            "media_index",
            Arc::new(UInt16Array::from_iter(
                joined.iter().map(|j| media(j).map(|m| m.media_index)),
            )),
        ));
        cols.push((
            "early",
            Arc::new(BooleanArray::from_iter(
                joined.iter().map(|j| media(j).map(|m| m.early)),
            )),
        ));
        cols.push((
            "sdp_side",
            texts(joined.iter().map(|j| j.map(|j| j.side.as_str()))),
        ));
        crate::table::batch_of(cols)
    }
}

/// The rows of `batches` (one table cut in chunks) in the order `order` gives (row numbers
/// across the chunks), gathered straight from the chunks; `empty` makes the table with no
/// rows.
/// `t` as an integer whose order is `f64::total_cmp`'s: the sign bit flipped for a
/// positive value, every bit for a negative one.
fn total_order_key(t: f64) -> u64 {
    let b = t.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 1 << 63
    }
}

fn ordered(
    batches: &[RecordBatch],
    order: &[u32],
    empty: impl FnOnce() -> Result<RecordBatch, ArrowError>,
) -> Result<RecordBatch, ArrowError> {
    if batches.is_empty() {
        return empty();
    }
    // Row number -> (chunk, row in it).
    let mut starts = Vec::with_capacity(batches.len());
    let mut n = 0usize;
    for b in batches {
        starts.push(n);
        n += b.num_rows();
    }
    let at = |row: usize| -> (usize, usize) {
        let chunk = starts.partition_point(|&s| s <= row).saturating_sub(1);
        (chunk, row - starts.get(chunk).copied().unwrap_or(0))
    };
    let indices: Vec<(usize, usize)> = order.iter().map(|&r| at(r as usize)).collect();
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    arrow_select::interleave::interleave_record_batch(&refs, &indices)
}

fn times<'a>(v: impl Iterator<Item = Option<f64>> + 'a) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from_iter(v.map(|t| t.map(nanos))).with_timezone("UTC"))
}

fn texts<'a>(v: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(v))
}

fn pt_list<'a>(v: impl Iterator<Item = &'a [u8]>) -> ArrayRef {
    let mut b = ListBuilder::new(UInt8Builder::new());
    for pts in v {
        b.values().append_slice(pts);
        b.append(true);
    }
    Arc::new(b.finish())
}

fn name_list<'a, S: AsRef<str> + 'a>(v: impl Iterator<Item = &'a [S]>) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for names in v {
        for n in names {
            b.values().append_value(n.as_ref());
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

/// The `calls` table (DESIGN: issue 13's columns and a few more a VoIP engineer reads).
pub fn calls_batch(rows: &[CallRecord]) -> Result<RecordBatch, ArrowError> {
    let f64s = |f: fn(&CallRecord) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from_iter(rows.iter().map(f)))
    };
    let u32s = |f: fn(&CallRecord) -> u32| -> ArrayRef {
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(f)))
    };
    crate::table::batch_of(vec![
        ("call_id", texts(rows.iter().map(|r| Some(&*r.call_id)))),
        (
            "outcome",
            texts(rows.iter().map(|r| Some(r.outcome.as_str()))),
        ),
        (
            "final_status",
            Arc::new(UInt16Array::from_iter(rows.iter().map(|r| r.final_status))),
        ),
        ("invite_time", times(rows.iter().map(|r| r.invite_time))),
        ("ringing_time", times(rows.iter().map(|r| r.ringing_time))),
        ("answer_time", times(rows.iter().map(|r| r.answer_time))),
        ("cancel_time", times(rows.iter().map(|r| r.cancel_time))),
        ("end_time", times(rows.iter().map(|r| r.end_time))),
        ("first_time", times(rows.iter().map(|r| Some(r.first_time)))),
        ("last_time", times(rows.iter().map(|r| Some(r.last_time)))),
        ("time_to_answer", f64s(|r| r.time_to_answer)),
        ("post_dial_delay", f64s(|r| r.post_dial_delay)),
        ("duration", f64s(|r| r.duration)),
        ("caller", texts(rows.iter().map(|r| r.caller.as_deref()))),
        ("callee", texts(rows.iter().map(|r| r.callee.as_deref()))),
        (
            "src_ip",
            IpColumn::of(rows.iter().map(|r| r.src.map(|a| a.ip()))),
        ),
        (
            "src_port",
            Arc::new(UInt16Array::from_iter(
                rows.iter().map(|r| r.src.map(|a| a.port())),
            )),
        ),
        (
            "dst_ip",
            IpColumn::of(rows.iter().map(|r| r.dst.map(|a| a.ip()))),
        ),
        (
            "dst_port",
            Arc::new(UInt16Array::from_iter(
                rows.iter().map(|r| r.dst.map(|a| a.port())),
            )),
        ),
        ("invites", u32s(|r| r.invites)),
        ("dialogs", u32s(|r| r.dialogs)),
        ("messages", u32s(|r| r.messages)),
        ("retransmissions", u32s(|r| r.retransmissions)),
        (
            "hangup",
            texts(rows.iter().map(|r| r.hangup.map(|s| s.as_str()))),
        ),
        (
            "early_media",
            Arc::new(BooleanArray::from_iter(
                rows.iter().map(|r| Some(r.early_media)),
            )),
        ),
        (
            "evicted",
            Arc::new(BooleanArray::from_iter(
                rows.iter().map(|r| Some(r.evicted)),
            )),
        ),
        // Added after the first columns (kept in their places): RFC 6076 §4.2.
        ("srd", f64s(|r| r.srd)),
    ])
}

/// The `media` table.
pub fn media_batch(rows: &[&MediaRecord]) -> Result<RecordBatch, ArrowError> {
    let port = |f: fn(&MediaRecord) -> Option<u16>| -> ArrayRef {
        Arc::new(UInt16Array::from_iter(rows.iter().map(|r| f(r))))
    };
    crate::table::batch_of(vec![
        ("call_id", texts(rows.iter().map(|r| Some(&*r.call_id)))),
        ("to_tag", texts(rows.iter().map(|r| Some(&*r.to_tag)))),
        (
            "cseq",
            Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.cseq))),
        ),
        (
            "method",
            texts(rows.iter().map(|r| Some(r.method.as_str()))),
        ),
        ("offer_time", times(rows.iter().map(|r| r.offer_time))),
        ("answer_time", times(rows.iter().map(|r| r.answer_time))),
        (
            "media_index",
            Arc::new(UInt16Array::from_iter_values(
                rows.iter().map(|r| r.media_index),
            )),
        ),
        ("kind", texts(rows.iter().map(|r| Some(r.kind.as_ref())))),
        (
            "offer_ip",
            texts(rows.iter().map(|r| r.offer_ip.as_deref())),
        ),
        ("offer_port", port(|r| r.offer_port)),
        (
            "answer_ip",
            texts(rows.iter().map(|r| r.answer_ip.as_deref())),
        ),
        ("answer_port", port(|r| r.answer_port)),
        (
            "offer_direction",
            texts(rows.iter().map(|r| r.offer_direction.map(|d| d.as_str()))),
        ),
        (
            "answer_direction",
            texts(rows.iter().map(|r| r.answer_direction.map(|d| d.as_str()))),
        ),
        (
            "payload_types",
            pt_list(rows.iter().map(|r| r.payload_types.as_slice())),
        ),
        (
            "codecs",
            name_list(rows.iter().map(|r| r.codecs.as_slice())),
        ),
        (
            "answer_payload_types",
            pt_list(rows.iter().map(|r| r.answer_payload_types.as_slice())),
        ),
        ("codec", texts(rows.iter().map(|r| r.codec.as_deref()))),
        (
            "codec_payload_type",
            Arc::new(arrow_array::UInt8Array::from_iter(
                rows.iter().map(|r| r.codec_payload_type),
            )),
        ),
        (
            "codec_clock_rate",
            Arc::new(UInt32Array::from_iter(
                rows.iter().map(|r| r.codec_clock_rate),
            )),
        ),
        (
            "early",
            Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.early)))),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Endpoint;
    use arrow_array::Array;
    use std::net::{IpAddr, Ipv4Addr};

    fn ep(last: u8) -> Endpoint {
        Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
            port: 5060,
        }
    }

    #[test]
    fn total_order_keys_sort_as_total_cmp() {
        let values = [
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            1.0,
            -1.0,
            1.0 + f64::EPSILON,
            1_700_000_000.123_456,
            1_700_000_000.123_457,
            f64::MAX,
            f64::MIN,
        ];
        for a in values {
            for b in values {
                assert_eq!(
                    total_order_key(a).cmp(&total_order_key(b)),
                    a.total_cmp(&b),
                    "{a:e} {b:e}"
                );
            }
        }
    }

    /// Feeds (time, from the caller, bytes) messages in order, as a read does.
    fn feed(a: &mut Analysis, msgs: &[(f64, bool, Vec<u8>)]) {
        for (t, req, bytes) in msgs {
            let (src, dst) = if *req { (ep(1), ep(2)) } else { (ep(2), ep(1)) };
            let seen = Seen {
                time_ns: (t * 1e9) as i64,
                frame: 0,
                src,
                dst,
                transport: Transport::Udp,
            };
            let idx = MessageIndex::parse_datagram(bytes, &sipwire::ParseOptions::LIBERAL).unwrap();
            a.message(&seen, bytes, &idx);
        }
    }

    fn sdp(port: u16) -> String {
        format!("v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n")
    }

    fn msg(start: &str, call: usize, cseq: &str, to_tag: bool, body: &str) -> Vec<u8> {
        let to = if to_tag { ";tag=b" } else { "" };
        let ct = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        format!(
            "{start}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{call}-{}\r\n\
             From: <sip:a@x>;tag=a{call}\r\nTo: <sip:b@y>{to}\r\nCall-ID: c{call}\r\n\
             CSeq: {cseq}\r\n{ct}Content-Length: {}\r\n\r\n{body}",
            cseq.replace(' ', ""),
            body.len()
        )
        .into_bytes()
    }

    /// A Call-ID reused: a busy call, a copy of its INVITE 18 s later (after its linger, with
    /// no message in between to drain it), then a new call with another From tag at 30 s.
    /// Each message after the quiet spell meets the old call drained: the copy is late, the
    /// new INVITE starts the second call (fed before the drain, both joined the old call).
    #[test]
    fn a_message_after_a_quiet_spell_meets_the_old_call_finished() {
        let m = |start: &str, branch: &str, from: &str, to: &str, cseq: &str, body: &str| {
            let to = if to.is_empty() {
                String::new()
            } else {
                format!(";tag={to}")
            };
            let ct = if body.is_empty() {
                ""
            } else {
                "Content-Type: application/sdp\r\n"
            };
            format!(
                "{start}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={branch}\r\n\
                 From: <sip:a@x>;tag={from}\r\nTo: <sip:b@y>{to}\r\nCall-ID: reused\r\n\
                 CSeq: {cseq}\r\n{ct}Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        };
        let (inv, ack, bye) = (
            "INVITE sip:b@y SIP/2.0",
            "ACK sip:b@y SIP/2.0",
            "BYE sip:b@y SIP/2.0",
        );
        let msgs: Vec<(f64, bool, Vec<u8>)> = vec![
            (
                0.0,
                true,
                m(inv, "z9hG4bK1", "f1", "", "1 INVITE", &sdp(4000)),
            ),
            (
                0.5,
                false,
                m(
                    "SIP/2.0 486 Busy Here",
                    "z9hG4bK1",
                    "f1",
                    "t1",
                    "1 INVITE",
                    "",
                ),
            ),
            (0.51, true, m(ack, "z9hG4bK1", "f1", "t1", "1 ACK", "")),
            (
                18.0,
                true,
                m(inv, "z9hG4bK1", "f1", "", "1 INVITE", &sdp(4000)),
            ),
            (
                30.0,
                true,
                m(inv, "z9hG4bK2", "f2", "", "1 INVITE", &sdp(4002)),
            ),
            (
                32.0,
                false,
                m(
                    "SIP/2.0 200 OK",
                    "z9hG4bK2",
                    "f2",
                    "t2",
                    "1 INVITE",
                    &sdp(6002),
                ),
            ),
            (32.01, true, m(ack, "z9hG4bK3", "f2", "t2", "1 ACK", "")),
            (40.0, true, m(bye, "z9hG4bK4", "f2", "t2", "2 BYE", "")),
            (
                40.01,
                false,
                m("SIP/2.0 200 OK", "z9hG4bK4", "f2", "t2", "2 BYE", ""),
            ),
        ];
        let mut a = Analysis::new(Config::DEFAULT);
        feed(&mut a, &msgs);
        a.finish();
        assert_eq!(a.stats.calls_done, 2);
        assert_eq!(a.stats.correlator.late, 1);
        let calls = a.calls_batch().unwrap();
        let col = calls.column_by_name("outcome").unwrap();
        let outcomes = col.as_any().downcast_ref::<StringArray>().unwrap();
        let got: Vec<&str> = outcomes.iter().map(|v| v.unwrap()).collect();
        assert_eq!(got, ["busy", "answered"]);
    }

    /// Calls that finish in another order than they started, over many chunks: the tables
    /// come out in order of first message, media with their calls, streams joined.
    #[test]
    fn chunked_rows_come_out_in_call_order() {
        let mut a = Analysis::new(Config::DEFAULT);
        a.chunk_calls = 3;
        let n = 20usize;
        let mut msgs: Vec<(f64, bool, Vec<u8>)> = Vec::new();
        for i in 0..n {
            let t0 = 1.0 + i as f64 * 0.5;
            // Later calls are shorter: they end (and are drained) first.
            let end = t0 + 2.0 + (n - i) as f64 * 1.5;
            let inv = "INVITE sip:b@y SIP/2.0";
            msgs.push((
                t0,
                true,
                msg(inv, i, "1 INVITE", false, &sdp(4000 + 2 * i as u16)),
            ));
            let ok = msg(
                "SIP/2.0 200 OK",
                i,
                "1 INVITE",
                true,
                &sdp(6000 + 2 * i as u16),
            );
            msgs.push((t0 + 0.1, false, ok));
            msgs.push((
                t0 + 0.2,
                true,
                msg("ACK sip:b@y SIP/2.0", i, "1 ACK", true, ""),
            ));
            msgs.push((end, true, msg("BYE sip:b@y SIP/2.0", i, "2 BYE", true, "")));
            let bye_ok = msg("SIP/2.0 200 OK", i, "2 BYE", true, "");
            msgs.push((end + 0.01, false, bye_ok));
        }
        msgs.sort_by(|x, y| x.0.total_cmp(&y.0));
        feed(&mut a, &msgs);
        a.finish();
        assert_eq!(a.stats.calls_done, n as u64);
        let calls = a.calls_batch().unwrap();
        let ids = calls.column_by_name("call_id").unwrap();
        let ids = ids.as_any().downcast_ref::<StringArray>().unwrap();
        let want: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        let got: Vec<String> = ids.iter().map(|v| v.unwrap().to_string()).collect();
        assert_eq!(got, want);
        let media = a.media_batch().unwrap();
        let mids = media.column_by_name("call_id").unwrap();
        let mids = mids.as_any().downcast_ref::<StringArray>().unwrap();
        let got: Vec<String> = mids.iter().map(|v| v.unwrap().to_string()).collect();
        assert_eq!(got, want);
        assert_eq!(a.joins.len(), n);
        // Asked again: the same tables.
        assert_eq!(a.calls_batch().unwrap(), calls);
        // Both at once, on one thread and on two: the same tables again.
        assert_eq!(a.call_batches().unwrap(), (calls.clone(), media.clone()));
        a.parallel_from = 2;
        assert_eq!(a.call_batches().unwrap(), (calls, media));
    }
}
