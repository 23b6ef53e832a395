//! The capture pipeline: one record at a time through the layers (decode.rs), the streams
//! (stream.rs), HEP (hep.rs) and RTP (rtp.rs) into the `messages` table (table.rs).
//!
//! A UDP or SCTP payload, a WebSocket message and a stream-framed message become a row when
//! their first line is a SIP start line (sip.rs, `looks_like_sip`): SIP is recognised by its
//! content on any port, and HTTP on port 5060 is not SIP. A UDP payload that is neither SIP
//! nor HEP goes to the RTP stage. A message's SDP tells the RTP stage which streams to expect.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use sipwire::message::MessageIndex;
use sipwire::{ErrorKind, ParseOptions};

use crate::analyze::Analysis;
use crate::calls_thread::CallStage;

use crate::decode::{DecodeStats, Decoder};
use crate::hep;
use crate::rtp::RtpStats;
use crate::rtp::{DtmfRow, RtpStreamRow, RtpTracker};
use crate::sip::{failed_row, indexed_row, indexed_row_memo, looks_like_sip, RowMemo, SipRow};
use crate::stats::{SipStats, Stats};
use crate::stream::{StreamStats, Streams, Unit, UnitKind};
use crate::table::{MessagesBuilder, Seen};
use crate::types::{CaptureLimits, Record, Segment, Transport, L4};

/// How a read parses and what it keeps.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How SIP messages are parsed (captures are lenient by default: a monitor must see what
    /// the network carried).
    pub parse: ParseOptions,
    pub limits: CaptureLimits,
    /// Keep each message's bytes in a `raw` column.
    pub raw: bool,
    /// Track RTP/RTCP streams and telephone-events.
    pub rtp: bool,
    /// Rows per record batch of the `messages` table.
    pub batch_rows: usize,
    /// Correlate the messages into calls (the `calls` and `media` tables).
    pub calls: bool,
    /// Correlate on a thread of its own (`calls_thread.rs`), beside the read.
    pub calls_thread: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            parse: ParseOptions::LIBERAL,
            limits: CaptureLimits::DEFAULT,
            raw: false,
            rtp: true,
            batch_rows: 65_536,
            calls: false,
            calls_thread: false,
        }
    }
}

/// How often (capture time) idle flows are looked for.
const EXPIRE_EVERY_NS: i64 = 1_000_000_000;

/// What a SIP message or an RTP packet reaches: the tables and their counters. Kept apart from
/// the decoder and the stream table so each stage can hand it its output while it is borrowed.
struct Sink {
    opts: Options,
    messages: MessagesBuilder,
    ready: VecDeque<RecordBatch>,
    rtp: RtpTracker,
    sip: SipStats,
    rtp_stats: RtpStats,
    /// RTP streams retired early (idle while the stream table was full), in order.
    retired: Vec<RtpStreamRow>,
    analysis: Option<CallStage>,
    /// UDP payloads for the RTP stage, kept as rows instead (the distributed engines replay
    /// them grouped by media endpoints: engine.rs).
    udp_out: Option<Vec<UdpRow>>,
    /// Per row, in engine mode: whether the correlator would be fed it (it indexed).
    fed: Option<VecDeque<bool>>,
    error: Option<ArrowError>,
    /// The header vector of the last datagram parsed, for the next.
    headers: Vec<sipwire::message::HeaderEntry>,
    /// Tags and branches of recent header values (see [`RowMemo`]).
    memo: RowMemo,
}

/// A UDP payload that was neither SIP, HEP nor a keep-alive: what the RTP stage would see.
#[derive(Clone, Debug)]
pub struct UdpRow {
    pub time_ns: i64,
    pub frame: u64,
    pub src: crate::types::Endpoint,
    pub dst: crate::types::Endpoint,
    pub payload: Vec<u8>,
}

impl Sink {
    fn row(&mut self, seen: &Seen, row: &SipRow<'_>, bytes: &[u8], index: Option<&MessageIndex>) {
        self.sip.sip_messages += 1;
        if let Some(fed) = self.fed.as_mut() {
            fed.push_back(index.is_some());
        }
        if let (Some(a), Some(index)) = (self.analysis.as_mut(), index) {
            a.message(seen, bytes, index);
        }
        if row.error.is_some() {
            self.sip.sip_parse_errors += 1;
        }
        self.messages.push(Some(seen), row, bytes);
        if self.opts.rtp {
            if let (Some(ct), Some(call_id)) = (row.content_type, row.call_id) {
                if let Some(sdp) = sipwire::body::sdp_part(ct, row.body, &self.opts.parse) {
                    self.rtp
                        .sdp(seen.time_ns, call_id, sdp, &mut self.rtp_stats);
                }
            }
        }
        if self.messages.len() >= self.opts.batch_rows {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.messages.is_empty() {
            return;
        }
        match self.messages.finish() {
            Ok(b) => self.ready.push_back(b),
            Err(e) => self.error = Some(e),
        }
    }

    /// A whole message whose boundaries the transport gave (UDP, SCTP, WebSocket, HEP).
    fn datagram(&mut self, seen: &Seen, payload: &[u8]) -> bool {
        if !looks_like_sip(payload) {
            return false;
        }
        // The header vector of the last message is reused: no allocation per message.
        let headers = std::mem::take(&mut self.headers);
        match MessageIndex::parse_datagram_reusing(payload, &self.opts.parse, headers) {
            Ok(index) => {
                let row = indexed_row_memo(payload, &index, &self.opts.parse, Some(&mut self.memo));
                self.row(seen, &row, payload, Some(&index));
                self.headers = index.headers;
            }
            Err(e) => self.row(
                seen,
                &failed_row(payload, e, &self.opts.parse),
                payload,
                None,
            ),
        }
        true
    }

    /// A UDP datagram the snap length cut. RFC 3261 §18.3 would discard it; a monitor shows
    /// what the network carried: the header lines captured whole make the row (the body,
    /// incomplete, is not read for SDP), and its `parse_error` says `capture_truncated`.
    fn cut_datagram(&mut self, seen: &Seen, payload: &[u8]) -> bool {
        if !looks_like_sip(payload) {
            return false;
        }
        self.sip.sip_truncated += 1;
        self.sip.sip_messages += 1;
        self.sip.sip_parse_errors += 1;
        let mut parse = self.opts.parse;
        parse.leniency.short_body = true;
        let head: Cow<'_, [u8]> = if memchr::memmem::find(payload, b"\r\n\r\n").is_some() {
            Cow::Borrowed(payload)
        } else {
            // The cut fell in the header section: its complete lines, ended by an empty line.
            let end = memchr::memrchr(b'\n', payload).map_or(0, |i| i + 1);
            let mut v = payload.get(..end).unwrap_or_default().to_vec();
            v.extend_from_slice(b"\r\n");
            Cow::Owned(v)
        };
        let parsed = MessageIndex::parse_datagram(&head, &parse);
        let mut row = match &parsed {
            Ok(index) => indexed_row(&head, index, &parse),
            Err(e) => failed_row(payload, *e, &parse),
        };
        row.error = Some(ErrorKind::CaptureTruncated);
        row.size = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        if let (Some(a), Ok(index)) = (self.analysis.as_mut(), &parsed) {
            a.message(seen, &head, index);
        }
        self.messages.push(Some(seen), &row, payload);
        if self.messages.len() >= self.opts.batch_rows {
            self.flush();
        }
        true
    }

    /// A HEP packet (HOMER's encapsulation, hep.rs): its payload with the addresses and time
    /// it carries. False when it does not decode (a UDP payload is then tried as RTP).
    fn hep(&mut self, time_ns: i64, frame: u64, payload: &[u8]) -> bool {
        match hep::decode_hep(payload) {
            Ok(h) => {
                self.sip.hep_packets += 1;
                let transport = match h.ip_proto {
                    6 => Transport::Tcp,
                    132 => Transport::Sctp,
                    _ => Transport::Udp,
                };
                let seen = Seen {
                    time_ns: h.time_ns.unwrap_or(time_ns),
                    frame,
                    src: h.src,
                    dst: h.dst,
                    transport,
                };
                if !self.datagram(&seen, h.payload) {
                    self.sip.hep_not_sip += 1;
                }
                true
            }
            Err(_) => {
                self.sip.hep_errors += 1;
                false
            }
        }
    }

    fn udp(&mut self, time_ns: i64, frame: u64, seg: &Segment<'_>) {
        let p = seg.payload;
        let seen = Seen {
            time_ns,
            frame,
            src: seg.src,
            dst: seg.dst,
            transport: Transport::Udp,
        };
        if seg.cut {
            if self.cut_datagram(&seen, p) {
                return;
            }
            // RTP statistics need only the fixed header (RFC 3550 §5.1, §6.4.1), which a
            // capture cut to a short snap length still holds: header-only RTP captures, and
            // tcpdump's old 68-byte default.
            self.rtp_else_not_sip(time_ns, frame, seg);
            return;
        }
        if self.datagram(&seen, p) {
            return;
        }
        if hep::is_hep(p) && self.hep(time_ns, frame, p) {
            return;
        }
        if p.iter().all(|&b| b == b'\r' || b == b'\n') && !p.is_empty() {
            self.sip.keepalives += 1;
            return;
        }
        if let Some(out) = self.udp_out.as_mut() {
            out.push(UdpRow {
                time_ns,
                frame,
                src: seg.src,
                dst: seg.dst,
                payload: p.to_vec(),
            });
            return;
        }
        self.rtp_else_not_sip(time_ns, frame, seg);
    }

    /// A UDP payload that is not SIP, HEP or a keep-alive: RTP or RTCP, else counted.
    fn rtp_else_not_sip(&mut self, time_ns: i64, frame: u64, seg: &Segment<'_>) {
        let taken = self.opts.rtp
            && self.rtp.packet(
                time_ns,
                frame,
                seg.src,
                seg.dst,
                seg.payload,
                &mut self.rtp_stats,
            );
        if !taken {
            self.sip.not_sip += 1;
        }
    }

    fn unit(&mut self, u: Unit<'_>) {
        let seen = Seen {
            time_ns: u.time_ns,
            frame: u.frame,
            src: u.src,
            dst: u.dst,
            transport: u.transport,
        };
        match u.kind {
            UnitKind::Sip { bytes, index } => {
                let row = indexed_row_memo(bytes, index, &self.opts.parse, Some(&mut self.memo));
                self.row(&seen, &row, bytes, Some(index));
            }
            UnitKind::Datagram(bytes) => {
                if !self.datagram(&seen, bytes) {
                    self.sip.not_sip += 1;
                }
            }
            UnitKind::Hep(bytes) => {
                self.hep(u.time_ns, u.frame, bytes);
            }
            UnitKind::Error(_) => self.sip.stream_errors += 1,
        }
    }
}

/// A read in progress: records in, record batches of `messages` out.
pub struct Pipeline {
    decoder: Decoder,
    decode_stats: DecodeStats,
    streams: Streams,
    stream_stats: StreamStats,
    sink: Sink,
    last_expire_ns: i64,
}

impl Pipeline {
    pub fn new(opts: Options) -> Self {
        Pipeline {
            decoder: Decoder::new(opts.limits),
            decode_stats: DecodeStats::default(),
            streams: Streams::new(opts.limits, opts.parse),
            stream_stats: StreamStats::default(),
            sink: Sink {
                opts,
                messages: MessagesBuilder::new(opts.raw),
                ready: VecDeque::new(),
                rtp: RtpTracker::new(opts.limits),
                sip: SipStats::default(),
                rtp_stats: RtpStats::default(),
                retired: Vec::new(),
                analysis: opts.calls.then(|| {
                    let mut a = Analysis::new(sipwire::correlate::Config {
                        parse: opts.parse,
                        ..sipwire::correlate::Config::DEFAULT
                    });
                    a.set_parallel_tables(opts.calls_thread);
                    if opts.calls_thread {
                        CallStage::threaded(a)
                    } else {
                        CallStage::inline(a)
                    }
                }),
                udp_out: None,
                fed: None,
                error: None,
                memo: RowMemo::default(),
                headers: Vec::new(),
            },
            last_expire_ns: i64::MIN,
        }
    }

    pub fn schema(&self) -> arrow_schema::SchemaRef {
        self.sink.messages.schema()
    }

    /// One captured frame through every stage.
    pub fn record(&mut self, rec: &Record<'_>) {
        let (time_ns, frame) = (rec.time_ns, rec.frame);
        let streams = &mut self.streams;
        let stream_stats = &mut self.stream_stats;
        let sink = &mut self.sink;
        self.decoder.decode(
            rec,
            &mut self.decode_stats,
            &mut |seg: Segment<'_>| match seg.l4 {
                L4::Udp => sink.udp(time_ns, frame, &seg),
                L4::Tcp { .. } => {
                    streams.tcp(time_ns, frame, &seg, stream_stats, &mut |u| sink.unit(u))
                }
                L4::Sctp { .. } => {
                    streams.sctp(time_ns, frame, &seg, stream_stats, &mut |u| sink.unit(u))
                }
            },
        );
        if time_ns.saturating_sub(self.last_expire_ns) >= EXPIRE_EVERY_NS {
            self.last_expire_ns = time_ns;
            let retired = self.sink.rtp.take_retired();
            self.sink.retired.extend(retired);
            let sink = &mut self.sink;
            self.streams
                .expire(time_ns, &mut self.stream_stats, &mut |u| sink.unit(u));
        }
    }

    /// The end of the input: what the streams still hold is framed, the last rows flushed.
    pub fn finish(&mut self) {
        self.decoder.finish(&mut self.decode_stats);
        let sink = &mut self.sink;
        self.streams
            .finish(&mut self.stream_stats, &mut |u| sink.unit(u));
        self.sink.flush();
        if let Some(a) = self.sink.analysis.as_mut().and_then(CallStage::get) {
            a.finish();
        }
    }

    /// The `file` column of the rows made from now on.
    pub fn set_file(&mut self, file: Option<Arc<str>>) {
        self.sink.messages.set_file(file);
    }

    /// SIP rows made so far (every batch, taken or not).
    pub fn rows_made(&self) -> u64 {
        self.sink.sip.sip_messages
    }

    /// From now on, UDP payloads that are not SIP, HEP or keep-alives are kept as rows for
    /// [`Pipeline::take_udp`] instead of going to the RTP stage.
    pub fn keep_udp(&mut self) {
        self.sink.udp_out.get_or_insert_with(Vec::new);
        self.sink.fed.get_or_insert_with(VecDeque::new);
    }

    /// Whether the oldest row not yet asked about was indexed (the correlator takes it);
    /// after [`Pipeline::keep_udp`].
    pub fn take_fed(&mut self) -> bool {
        self.sink
            .fed
            .as_mut()
            .and_then(VecDeque::pop_front)
            .unwrap_or(false)
    }

    /// The UDP rows kept since the last take.
    pub fn take_udp(&mut self) -> Vec<UdpRow> {
        self.sink
            .udp_out
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// UDP rows kept and not yet taken.
    pub fn udp_ready(&self) -> usize {
        self.sink.udp_out.as_ref().map_or(0, Vec::len)
    }

    /// The correlation stage, when the read makes calls (waiting for its thread, if it has
    /// one, to correlate what it was handed).
    pub fn analysis_mut(&mut self) -> Option<&mut Analysis> {
        self.sink.analysis.as_mut().and_then(CallStage::get)
    }

    /// A finished batch of `messages`, oldest first.
    pub fn take_batch(&mut self) -> Option<Result<RecordBatch, ArrowError>> {
        if let Some(e) = self.sink.error.take() {
            return Some(Err(e));
        }
        self.sink.ready.pop_front().map(Ok)
    }

    /// Batches finished and not yet taken.
    pub fn ready(&self) -> usize {
        self.sink.ready.len()
    }

    /// The RTP streams and telephone-events seen; call after [`Pipeline::finish`].
    pub fn rtp_rows(&mut self) -> (Vec<RtpStreamRow>, Vec<DtmfRow>) {
        let mut streams = std::mem::take(&mut self.sink.retired);
        let (rest, dtmf) = self.sink.rtp.finish(&mut self.sink.rtp_stats);
        streams.extend(rest);
        (streams, dtmf)
    }

    /// Every counter of the read so far.
    pub fn stats(&self) -> Stats {
        Stats {
            records: Default::default(),
            decode: self.decode_stats.clone(),
            streams: self.stream_stats.clone(),
            rtp: self.sink.rtp_stats.clone(),
            sip: self.sink.sip.clone(),
            calls: self
                .sink
                .analysis
                .as_ref()
                .map(CallStage::stats)
                .unwrap_or_default(),
        }
    }
}
