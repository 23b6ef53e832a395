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
use sipwire::correlate::{CallRecord, Config, Correlator, MediaRecord, Packet};
use sipwire::message::MessageIndex;
use sipwire::txn::Transport as TxnTransport;

use crate::join::{self, Joined};
use crate::rtp::{DtmfRow, RtpStreamRow};
use crate::stats::Counters;
use crate::table::Seen;
use crate::types::Transport;

/// How often (capture time) finished calls are drained.
const DRAIN_EVERY_S: f64 = 1.0;

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
}

impl Counters for CallStats {
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("calls_done", self.calls_done);
        f("calls_open", self.calls_open);
        f("uncorrelated", self.uncorrelated);
        f("evicted_calls", self.evicted_calls);
    }
}

/// The correlation stage of a read.
pub struct Analysis {
    corr: Correlator<Box<[u8]>>,
    calls: Vec<CallRecord>,
    last_drain: f64,
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
            calls: Vec::new(),
            last_drain: f64::NEG_INFINITY,
            stats: CallStats::default(),
        }
    }

    /// One SIP message that parsed (its index is of `bytes`).
    pub fn message(&mut self, seen: &Seen, bytes: &[u8], index: &MessageIndex) {
        let packet = Packet::new(
            secs(seen.time_ns),
            SocketAddr::new(seen.src.ip, seen.src.port),
            SocketAddr::new(seen.dst.ip, seen.dst.port),
            txn_transport(seen.transport),
        );
        self.corr.feed_parsed(bytes, index, packet);
        let now = secs(seen.time_ns);
        if now - self.last_drain >= DRAIN_EVERY_S {
            self.last_drain = now;
            self.drain(now);
        }
    }

    /// Takes the calls finished by `now` (the latest capture time: the correlator keeps each
    /// call for its linger after its last message, so stragglers still find it).
    fn drain(&mut self, now: f64) {
        let before = self.calls.len();
        self.calls.extend(self.corr.drain_finished(now));
        self.stats.calls_done += (self.calls.len() - before) as u64;
        self.refresh();
    }

    fn refresh(&mut self) {
        self.stats.calls_open = self.corr.sizes().calls as u64;
        let c = self.corr.counters();
        self.stats.uncorrelated = c.uncorrelated;
        self.stats.evicted_calls = c.evicted_calls;
    }

    /// The end of the capture: every call still open is finished and its rows made.
    pub fn finish(&mut self) {
        self.corr.finish(None);
        let before = self.calls.len();
        let rows: Vec<CallRecord> = self.corr.drain_all().map(|f| f.record()).collect();
        self.calls.extend(rows);
        self.stats.calls_done += (self.calls.len() - before) as u64;
        self.refresh();
    }

    /// The `calls` table (after [`Analysis::finish`]), in order of first message.
    pub fn calls_batch(&mut self) -> Result<RecordBatch, ArrowError> {
        self.calls
            .sort_by(|a, b| a.first_time.total_cmp(&b.first_time));
        calls_batch(&self.calls)
    }

    /// The `media` table: one row per m= line per offer/answer exchange per dialog.
    pub fn media_batch(&self) -> Result<RecordBatch, ArrowError> {
        let media: Vec<&MediaRecord> = self.calls.iter().flat_map(|c| c.media.iter()).collect();
        media_batch(&media)
    }

    /// The `rtp_streams` table of an analysis (after [`Analysis::finish`]): the capture's
    /// columns, each stream joined to the media row that set it up (`join.rs`): `call_id`
    /// is that row's (else the Call-ID of the SDP that announced an endpoint), and `to_tag`,
    /// `cseq`, `media_index` (the `media` table's key with `call_id`) and `sdp_side` are
    /// added, null for a stream no media row matched.
    pub fn rtp_streams_batch(&self, streams: &[RtpStreamRow]) -> Result<RecordBatch, ArrowError> {
        let joined = join::join(&self.calls, streams);
        let base = crate::table::rtp_streams_batch(streams)?;
        let sdp_call_ids = streams.iter().map(|s| s.call_id.as_deref());
        self.with_media_keys(base, &joined, sdp_call_ids)
    }

    /// The `dtmf` table of an analysis: each event joined to its media row as its stream is
    /// (at the event's time), with the same columns added.
    pub fn dtmf_batch(&self, events: &[DtmfRow]) -> Result<RecordBatch, ArrowError> {
        let joined = join::join_dtmf(&self.calls, events);
        let base = crate::table::dtmf_batch(events)?;
        let sdp_call_ids = events.iter().map(|e| e.call_id.as_deref());
        self.with_media_keys(base, &joined, sdp_call_ids)
    }

    /// `base` with `call_id` the joined media row's (else the SDP's), and the media row's
    /// `to_tag`, `cseq`, `media_index` and `sdp_side` added.
    fn with_media_keys<'a>(
        &self,
        base: RecordBatch,
        joined: &[Option<Joined>],
        sdp_call_ids: impl Iterator<Item = Option<&'a str>>,
    ) -> Result<RecordBatch, ArrowError> {
        let media = |j: &Option<Joined>| j.and_then(|j| self.calls.get(j.call)?.media.get(j.media));
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
            "sdp_side",
            texts(joined.iter().map(|j| j.map(|j| j.side.as_str()))),
        ));
        crate::table::batch_of(cols)
    }
}

fn times<'a>(v: impl Iterator<Item = Option<f64>> + 'a) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from_iter(v.map(|t| t.map(nanos))).with_timezone("UTC"))
}

fn texts<'a>(v: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(v))
}

fn addr_text(a: Option<SocketAddr>) -> Option<String> {
    a.map(|a| a.ip().to_string())
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
    let src: Vec<Option<String>> = rows.iter().map(|r| addr_text(r.src)).collect();
    let dst: Vec<Option<String>> = rows.iter().map(|r| addr_text(r.dst)).collect();
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
        ("src_ip", texts(src.iter().map(|s| s.as_deref()))),
        (
            "src_port",
            Arc::new(UInt16Array::from_iter(
                rows.iter().map(|r| r.src.map(|a| a.port())),
            )),
        ),
        ("dst_ip", texts(dst.iter().map(|s| s.as_deref()))),
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
