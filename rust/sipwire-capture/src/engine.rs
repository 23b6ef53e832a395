//! The pieces the distributed engines (Ray, Spark, Dask: `sipwire.capture.ray` and friends)
//! run, so that a set of capture files analysed on many machines gives the tables one merged
//! read gives (read.rs).
//!
//! - **Stage one**, per file: [`EngineRead`] reads one capture into *event* batches: the
//!   `messages` columns (with the message bytes) for each SIP message, and the same columns
//!   for each UDP payload the RTP stage would have seen (`kind` 1, the payload as `raw`). Each
//!   event carries its place in the merged read: `_clock` (the latest time of its file so far),
//!   `_rank` (its file's rank among the paths, given by the caller) and `_seq` (its order in
//!   its file); sorted by (`_clock`, `_rank`, `_seq`), events come in the merged read's order.
//!   `_fed` says whether the correlator takes the message (it indexed).
//! - **The drain schedule**: the merged read drains finished calls every
//!   [`DRAIN_EVERY_S`] of capture time, at fed messages; [`drain_points`] finds those points
//!   from every fed message's time in order, so each group replays them.
//! - **Stage two**: [`correlate`] feeds a group of whole calls (all messages of some Call-IDs)
//!   in order to the same [`Analysis`] a read uses, draining at the same points and ending at
//!   the capture's end; [`rtp_replay`] feeds the RTP events between two addresses and the SDP
//!   bodies announcing either to the same [`RtpTracker`] a read uses.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, StringBuilder, TimestampNanosecondBuilder, UInt16Builder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::{
    ArrayRef, BooleanArray, Int64Array, RecordBatch, UInt32Array, UInt64Array, UInt8Array,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use sipwire::message::MessageIndex;
use sipwire::ParseOptions;

use crate::analyze::{Analysis, CallStats, DRAIN_EVERY_S};
use crate::join::JoinRow;
use crate::pipeline::{Options, Pipeline, UdpRow};
use crate::read::{ReadError, Source};
use crate::records::{RecordReader, RecordStats};
use crate::rtp::{RtpStats, RtpTracker};
use crate::sip::datagram_row;
use crate::source::open_path;
use crate::stats::Stats;
use crate::table::messages_schema;
use crate::types::{CaptureLimits, Endpoint, Transport};

/// Event kinds of stage one.
pub const KIND_SIP: u8 = 0;
pub const KIND_UDP: u8 = 1;
/// A call group's join row (`raw`: [`JoinRow::encode`]) sent to an RTP group.
pub const KIND_JOIN: u8 = 3;

/// The stage-one schema: `messages` with `raw`, then `kind`, `_rank`, `_clock`, `_seq`, `_fed`.
pub fn events_schema() -> SchemaRef {
    let mut fields: Vec<Field> = messages_schema(true)
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("kind", DataType::UInt8, false));
    fields.push(Field::new("_rank", DataType::UInt32, false));
    fields.push(Field::new("_clock", DataType::Int64, false));
    fields.push(Field::new("_seq", DataType::UInt64, false));
    fields.push(Field::new("_fed", DataType::Boolean, false));
    Arc::new(Schema::new(fields))
}

/// Stage one: one capture file read into event batches (see the module documentation).
pub struct EngineRead {
    source: Option<Source>,
    reader: Option<RecordReader>,
    pipeline: Pipeline,
    records: RecordStats,
    limits: CaptureLimits,
    name: Option<Arc<str>>,
    rank: u32,
    clock: i64,
    seq: u64,
    /// (clock, seq) of message rows made and not yet in a batch, in order.
    keys: VecDeque<(i64, u64)>,
    udp: Vec<(UdpRow, i64, u64)>,
    batch_rows: usize,
    ready: VecDeque<RecordBatch>,
    finished: bool,
}

impl EngineRead {
    /// `name` is the `file` column's text, `rank` the file's rank among the set's paths.
    pub fn new(source: Source, name: Option<Arc<str>>, rank: u32, mut opts: Options) -> EngineRead {
        opts.raw = true;
        opts.calls = false;
        let mut pipeline = Pipeline::new(opts);
        pipeline.keep_udp();
        pipeline.set_file(name.clone());
        EngineRead {
            source: Some(source),
            reader: None,
            pipeline,
            records: RecordStats::default(),
            limits: opts.limits,
            name,
            rank,
            clock: i64::MIN,
            seq: 0,
            keys: VecDeque::new(),
            udp: Vec::new(),
            batch_rows: opts.batch_rows.max(1),
            ready: VecDeque::new(),
            finished: false,
        }
    }

    /// The next event batch; `None` at the end.
    pub fn next_batch(&mut self) -> Option<Result<RecordBatch, ReadError>> {
        loop {
            if let Some(b) = self.ready.pop_front() {
                return Some(Ok(b));
            }
            if self.finished {
                return None;
            }
            if let Err(e) = self.step() {
                self.finished = true;
                return Some(Err(e));
            }
        }
    }

    /// Every counter of the read so far.
    pub fn stats(&self) -> Stats {
        let mut s = self.pipeline.stats();
        s.records = self.records.clone();
        s
    }

    /// Stamps the rows the last record (or the end) made with their place.
    fn stamp(&mut self, rows_before: u64) {
        let made = self.pipeline.rows_made().saturating_sub(rows_before);
        for _ in 0..made {
            self.keys.push_back((self.clock, self.seq));
            self.seq += 1;
        }
        for row in self.pipeline.take_udp() {
            self.udp.push((row, self.clock, self.seq));
            self.seq += 1;
        }
    }

    fn step(&mut self) -> Result<(), ReadError> {
        if self.reader.is_none() {
            let Some(src) = self.source.take() else {
                return self.end();
            };
            let r = match src {
                Source::Path(p) => {
                    let r = open_path(&p)?;
                    RecordReader::new(r, self.limits).map_err(|e| e.with_path(&p))?
                }
                Source::Reader(r) => RecordReader::new(r, self.limits)?,
            };
            self.reader = Some(r);
        }
        for _ in 0..4096 {
            let before = self.pipeline.rows_made();
            let Some(reader) = self.reader.as_mut() else {
                break;
            };
            match reader.next_record(&mut self.records) {
                Some(rec) => {
                    self.clock = self.clock.max(rec.time_ns);
                    self.pipeline.record(&rec);
                }
                None => {
                    self.reader = None;
                    return self.end();
                }
            }
            self.stamp(before);
            self.collect(false)?;
            if !self.ready.is_empty() {
                break;
            }
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), ReadError> {
        let before = self.pipeline.rows_made();
        self.pipeline.finish();
        self.stamp(before);
        self.collect(true)?;
        self.finished = true;
        Ok(())
    }

    /// Moves finished message batches and (when enough, or at the end) UDP rows to `ready`.
    fn collect(&mut self, end: bool) -> Result<(), ReadError> {
        while let Some(b) = self.pipeline.take_batch() {
            let b = b.map_err(ReadError::Arrow)?;
            let n = b.num_rows();
            let keys: Vec<(i64, u64)> = self.keys.drain(..n.min(self.keys.len())).collect();
            let fed: Vec<bool> = (0..n).map(|_| self.pipeline.take_fed()).collect();
            let batch = self
                .stamp_messages(b, &keys, &fed)
                .map_err(ReadError::Arrow)?;
            self.ready.push_back(batch);
        }
        if !self.udp.is_empty() && (end || self.udp.len() >= self.batch_rows) {
            let rows = std::mem::take(&mut self.udp);
            let b = self.udp_batch(&rows).map_err(ReadError::Arrow)?;
            self.ready.push_back(b);
        }
        Ok(())
    }

    fn stamp_messages(
        &self,
        b: RecordBatch,
        keys: &[(i64, u64)],
        fed: &[bool],
    ) -> Result<RecordBatch, ArrowError> {
        let n = b.num_rows();
        let mut cols: Vec<ArrayRef> = b.columns().to_vec();
        cols.push(Arc::new(UInt8Array::from(vec![KIND_SIP; n])));
        cols.push(Arc::new(UInt32Array::from(vec![self.rank; n])));
        cols.push(Arc::new(Int64Array::from_iter_values(
            (0..n).map(|i| keys.get(i).map_or(self.clock, |k| k.0)),
        )));
        cols.push(Arc::new(UInt64Array::from_iter_values(
            (0..n).map(|i| keys.get(i).map_or(u64::MAX, |k| k.1)),
        )));
        cols.push(Arc::new(BooleanArray::from(fed.to_vec())));
        RecordBatch::try_new(events_schema(), cols)
    }

    fn udp_batch(&self, rows: &[(UdpRow, i64, u64)]) -> Result<RecordBatch, ArrowError> {
        let n = rows.len();
        let mut time = TimestampNanosecondBuilder::new().with_timezone("UTC");
        let mut frame = UInt64Builder::new();
        let (mut src_ip, mut dst_ip) = (StringBuilder::new(), StringBuilder::new());
        let (mut src_port, mut dst_port) = (UInt16Builder::new(), UInt16Builder::new());
        let mut transport = StringBuilder::new();
        let mut size = UInt32Builder::new();
        let mut file = StringBuilder::new();
        let mut raw = BinaryBuilder::new();
        for (r, _, _) in rows {
            time.append_value(r.time_ns);
            frame.append_value(r.frame);
            src_ip.append_value(r.src.ip.to_string());
            src_port.append_value(r.src.port);
            dst_ip.append_value(r.dst.ip.to_string());
            dst_port.append_value(r.dst.port);
            transport.append_value("udp");
            size.append_value(u32::try_from(r.payload.len()).unwrap_or(u32::MAX));
            file.append_option(self.name.as_deref());
            raw.append_value(&r.payload);
        }
        let nulls = |dt: &DataType| arrow_array::new_null_array(dt, n);
        let schema = events_schema();
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for f in schema.fields() {
            let col: ArrayRef = match f.name().as_str() {
                "time" => Arc::new(time.finish()),
                "frame" => Arc::new(frame.finish()),
                "src_ip" => Arc::new(src_ip.finish()),
                "src_port" => Arc::new(src_port.finish()),
                "dst_ip" => Arc::new(dst_ip.finish()),
                "dst_port" => Arc::new(dst_port.finish()),
                "transport" => Arc::new(transport.finish()),
                "size" => Arc::new(size.finish()),
                "file" => Arc::new(file.finish()),
                "raw" => Arc::new(raw.finish()),
                "kind" => Arc::new(UInt8Array::from(vec![KIND_UDP; n])),
                "_rank" => Arc::new(UInt32Array::from(vec![self.rank; n])),
                "_clock" => Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                "_seq" => Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.2))),
                "_fed" => {
                    let mut b = BooleanBuilder::new();
                    b.append_n(n, false);
                    Arc::new(b.finish())
                }
                _ => nulls(f.data_type()),
            };
            cols.push(col);
        }
        RecordBatch::try_new(schema, cols)
    }
}

/// An event's place in the merged read: (`_clock`, `_rank`, `_seq`).
pub type Key = (i64, u32, u64);

/// Where the merged read drains finished calls: indices into the fed messages' times, given
/// in the merged read's order (as `Analysis::message` decides).
pub fn drain_points(times_ns: &[i64]) -> Vec<usize> {
    let mut last = f64::NEG_INFINITY;
    let mut out = Vec::new();
    for (i, &t) in times_ns.iter().enumerate() {
        let now = t as f64 / 1e9;
        if now - last >= DRAIN_EVERY_S {
            last = now;
            out.push(i);
        }
    }
    out
}

/// One message of a group, for [`correlate`].
pub struct MessageEvent<'a> {
    pub key: Key,
    pub time_ns: i64,
    pub src: Endpoint,
    pub dst: Endpoint,
    pub transport: Transport,
    pub raw: &'a [u8],
}

/// The transport named by the `transport` column.
pub fn transport_of(s: &str) -> Option<Transport> {
    Some(match s {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        "sctp" => Transport::Sctp,
        "ws" => Transport::Ws,
        _ => return None,
    })
}

/// What a group of calls gives: its `calls` and `media` rows, the `dtmf` rows of its INFO
/// requests, its counters, and the join rows for the RTP groups.
pub struct Correlated {
    pub calls: RecordBatch,
    pub media: RecordBatch,
    pub dtmf: RecordBatch,
    pub stats: CallStats,
    pub joins: Vec<JoinRow>,
}

/// Stage two for calls: the `calls` and `media` batches of a group holding every message of
/// its Call-IDs, `events` in key order, and the digits of its INFO requests (the `dtmf` rows
/// of `source` "info"). `drains` are the whole read's drain points (key and time, in order),
/// `end_ns` its last fed message's time.
pub fn correlate<'a>(
    events: impl IntoIterator<Item = MessageEvent<'a>>,
    drains: &[(Key, i64)],
    end_ns: Option<i64>,
    parse: ParseOptions,
) -> Result<Correlated, ArrowError> {
    let mut a = Analysis::new(sipwire::correlate::Config {
        parse,
        ..sipwire::correlate::Config::DEFAULT
    });
    let mut d = drains.iter().peekable();
    for ev in events {
        // A drain point is at a message, before it (as `Analysis::message` drains).
        while let Some((_, t)) = d.next_if(|(k, _)| *k <= ev.key) {
            a.drain_at(*t);
        }
        if let Ok(index) = MessageIndex::parse_datagram(ev.raw, &parse) {
            let seen = crate::table::Seen {
                time_ns: ev.time_ns,
                frame: 0,
                src: ev.src,
                dst: ev.dst,
                transport: ev.transport,
            };
            a.feed(&seen, ev.raw, &index);
        }
    }
    for (_, t) in d {
        a.drain_at(*t);
    }
    a.finish_at(end_ns);
    let joins = a.joins().to_vec();
    // Both tables from one call order (one thread: an engine's worker runs many of these).
    let (calls, media) = a.call_batches()?;
    Ok(Correlated {
        calls,
        media,
        dtmf: a.dtmf_batch(&[])?,
        stats: a.stats.clone(),
        joins,
    })
}

/// The join rows as a batch: `raw` (their encoding), `offer_ip`, `answer_ip` (where an
/// engine routes each).
pub fn joins_batch(rows: &[JoinRow]) -> Result<RecordBatch, ArrowError> {
    let mut raw = BinaryBuilder::new();
    let (mut offer, mut answer) = (StringBuilder::new(), StringBuilder::new());
    for r in rows {
        raw.append_value(r.encode());
        let (o, a) = r.addresses();
        offer.append_option(o.map(|ip| ip.to_string()));
        answer.append_option(a.map(|ip| ip.to_string()));
    }
    crate::table::batch_of(vec![
        ("raw", Arc::new(raw.finish()) as ArrayRef),
        ("offer_ip", Arc::new(offer.finish())),
        ("answer_ip", Arc::new(answer.finish())),
    ])
}

/// One RTP-stage event of a group, for [`rtp_replay`].
pub enum RtpEvent<'a> {
    /// A SIP message (its SDP, if any, announces endpoints).
    Sip { time_ns: i64, raw: &'a [u8] },
    /// A UDP payload that was not SIP.
    Udp {
        time_ns: i64,
        frame: u64,
        src: Endpoint,
        dst: Endpoint,
        payload: &'a [u8],
    },
}

/// Stage two for RTP: the `rtp_streams` and `dtmf` batches of a group of events in key order,
/// joined to the media rows of `joins` (the call groups' join rows announcing an address of
/// this group) as an analysis joins them.
pub fn rtp_replay<'a>(
    events: impl IntoIterator<Item = RtpEvent<'a>>,
    mut joins: Vec<JoinRow>,
    limits: CaptureLimits,
    parse: ParseOptions,
) -> Result<(RecordBatch, RecordBatch, RtpStats), ArrowError> {
    let mut t = RtpTracker::new(limits);
    let mut stats = RtpStats::default();
    for ev in events {
        match ev {
            RtpEvent::Sip { time_ns, raw } => {
                let row = datagram_row(raw, &parse);
                if let (Some(ct), Some(call_id)) = (row.content_type, row.call_id) {
                    if let Some(sdp) = sipwire::body::sdp_part(ct, row.body, &parse) {
                        t.sdp(time_ns, call_id, sdp, &mut stats);
                    }
                }
            }
            RtpEvent::Udp {
                time_ns,
                frame,
                src,
                dst,
                payload,
            } => {
                t.packet(time_ns, frame, src, dst, payload, &mut stats);
            }
        }
    }
    let mut streams = t.take_retired();
    let (rest, dtmf) = t.finish(&mut stats);
    streams.extend(rest);
    joins.sort_by(|a, b| {
        a.order_key()
            .partial_cmp(&b.order_key())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut a = Analysis::new(sipwire::correlate::Config {
        parse,
        ..sipwire::correlate::Config::DEFAULT
    });
    a.set_joins(joins);
    Ok((a.rtp_streams_batch(&streams)?, a.dtmf_batch(&dtmf)?, stats))
}

/// The addresses a SIP message's SDP announces RTP or RTCP at (none without SDP).
pub fn media_addresses(raw: &[u8], parse: &ParseOptions) -> Vec<IpAddr> {
    let row = datagram_row(raw, parse);
    match (row.content_type, row.call_id) {
        (Some(ct), Some(_)) => sipwire::body::sdp_part(ct, row.body, parse)
            .map(RtpTracker::sdp_addresses)
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_row_bytes_that_are_not_one() {
        assert!(JoinRow::decode(b"").is_none());
        assert!(JoinRow::decode(&[0, 0, 0, 5, b'a']).is_none());
        assert!(JoinRow::decode(&[0xff; 64]).is_none());
    }

    #[test]
    fn drains_every_second_of_fed_time() {
        let s = 1_000_000_000;
        assert_eq!(drain_points(&[0, s / 2, s, s + 1, 3 * s]), vec![0, 2, 4]);
        assert!(drain_points(&[]).is_empty());
    }
}
