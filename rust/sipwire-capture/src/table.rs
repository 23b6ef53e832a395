//! Arrow tables: the `messages` columns built row by row into Arrow builders, finished as
//! record batches. The schema is fixed (the `raw` column only when asked for), so every batch
//! of a read, of `parse_table` and of the distributed engines has the same columns.

use std::net::IpAddr;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, GenericByteBuilder, ListBuilder, PrimitiveBuilder, StringBuilder,
    TimestampNanosecondBuilder, UInt16Builder, UInt32Builder, UInt64Builder, UInt8Builder,
};
use arrow_array::types::{ArrowPrimitiveType, ByteArrayType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, GenericByteArray, Int32Array, Int64Array,
    OffsetSizeTrait, PrimitiveArray, RecordBatch, StringArray, TimestampNanosecondArray,
    UInt16Array, UInt32Array, UInt64Array, UInt8Array,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::rtp::{DtmfRow, DtmfSource, RtpStreamRow};
use crate::sip::SipRow;
use crate::types::{Endpoint, Transport};

/// Where and when a message was seen: the columns that come from the capture, not from the
/// message.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    pub time_ns: i64,
    pub frame: u64,
    pub src: Endpoint,
    pub dst: Endpoint,
    pub transport: Transport,
}

/// The Arrow type of every time column: nanoseconds since the epoch, UTC.
pub fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// The `messages` schema; `raw` adds the message bytes as a binary column.
pub fn messages_schema(raw: bool) -> SchemaRef {
    let s = |name: &str| Field::new(name, DataType::Utf8, true);
    let mut fields = vec![
        Field::new("time", time_type(), true),
        Field::new("frame", DataType::UInt64, true),
        Field::new("src_ip", DataType::Utf8, true),
        Field::new("src_port", DataType::UInt16, true),
        Field::new("dst_ip", DataType::Utf8, true),
        Field::new("dst_port", DataType::UInt16, true),
        Field::new("transport", DataType::Utf8, true),
        s("method"),
        Field::new("status", DataType::UInt16, true),
        s("call_id"),
        Field::new("cseq", DataType::UInt32, true),
        s("cseq_method"),
        s("from_tag"),
        s("to_tag"),
        s("branch"),
        Field::new("size", DataType::UInt32, false),
        s("parse_error"),
        // The capture file the row came from (the path as given; null for a file object or
        // stdin): frames are numbered per file, so (file, frame) names a packet.
        s("file"),
    ];
    if raw {
        fields.push(Field::new("raw", DataType::Binary, true));
    }
    Arc::new(Schema::new(fields))
}

/// Text columns hold UTF-8; bytes that are not (a hostile Call-ID) are replaced by U+FFFD
/// here, and kept exactly in the `raw` column.
/// A text column filled with the message's bytes as they are, checked as UTF-8 once per batch
/// over the whole buffer (one pass, instead of a check per value); a batch holding invalid
/// UTF-8 (rare: SIP text is ASCII or UTF-8) is then made again value by value, lossily.
#[derive(Default)]
struct TextColumn {
    builder: BinaryBuilder,
}

impl TextColumn {
    #[inline]
    fn push(&mut self, v: Option<&[u8]>) {
        match v {
            Some(v) => self.builder.append_value(v),
            None => self.builder.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        let bytes = finish_sized(&mut self.builder);
        match StringArray::try_from_binary(bytes.clone()) {
            Ok(text) => Arc::new(text),
            Err(_) => {
                let mut b = StringBuilder::with_capacity(bytes.len(), bytes.values().len());
                for v in bytes.iter() {
                    b.append_option(v.map(sipwire::scan::lossy_str));
                }
                Arc::new(b.finish())
            }
        }
    }
}

/// Finishes a batch of `builder` and starts the next one at this one's size (rows, and bytes
/// with an eighth more): a builder starts empty after `finish`, and growing it again by
/// doubling copied every column several times a batch (~2 % of a capture read).
fn finish_sized<O: OffsetSizeTrait, T: ByteArrayType<Offset = O>>(
    builder: &mut GenericByteBuilder<T>,
) -> GenericByteArray<T> {
    let (rows, bytes) = (builder.len(), builder.values_slice().len());
    let done = builder.finish();
    *builder = GenericByteBuilder::with_capacity(rows, bytes + bytes / 8);
    done
}

/// [`finish_sized`] for a column of numbers.
fn finish_sized_primitive<T: ArrowPrimitiveType>(
    builder: &mut PrimitiveBuilder<T>,
) -> PrimitiveArray<T> {
    let rows = builder.len();
    let done = builder.finish();
    *builder = PrimitiveBuilder::with_capacity(rows).with_data_type(done.data_type().clone());
    done
}

/// Formats addresses into the builder without an allocation per row, reusing the text of
/// recent addresses: a small table by a fold of the address's last bytes (a capture's rows
/// share a few dozen hosts; a request and its response swap source and destination).
pub(crate) struct IpColumn {
    builder: StringBuilder,
    /// Addresses written lately and their text, each in its slot.
    recent: [(Option<IpAddr>, String); IP_SLOTS],
}

/// Slots of [`IpColumn`]'s table of recent addresses.
const IP_SLOTS: usize = 64;

/// `ip`'s slot: its last three bytes folded (any address maps somewhere; colliding ones
/// only write their text again).
fn ip_slot(ip: IpAddr) -> usize {
    let [a, b, c] = match ip {
        IpAddr::V4(v) => {
            let [_, a, b, c] = v.octets();
            [a, b, c]
        }
        IpAddr::V6(v) => {
            let o = v.octets();
            [o[13], o[14], o[15]]
        }
    };
    usize::from(c ^ b.rotate_left(3) ^ a.rotate_left(5)) % IP_SLOTS
}

impl Default for IpColumn {
    fn default() -> Self {
        IpColumn {
            builder: StringBuilder::new(),
            recent: std::array::from_fn(|_| (None, String::new())),
        }
    }
}

impl IpColumn {
    /// A column of these addresses as text.
    pub(crate) fn of(ips: impl Iterator<Item = Option<IpAddr>>) -> ArrayRef {
        let mut c = IpColumn::default();
        for ip in ips {
            c.push(ip);
        }
        Arc::new(c.builder.finish())
    }

    pub(crate) fn push(&mut self, ip: Option<IpAddr>) {
        let Some(ip) = ip else {
            self.builder.append_null();
            return;
        };
        let Some((seen, text)) = self.recent.get_mut(ip_slot(ip)) else {
            return self.builder.append_value(ip.to_string());
        };
        if *seen != Some(ip) {
            text.clear();
            sipwire::correlate::write_ip(text, ip);
            *seen = Some(ip);
        }
        self.builder.append_value(&*text);
    }
}

/// Rows of the `messages` table, finished into record batches.
pub struct MessagesBuilder {
    raw: bool,
    schema: SchemaRef,
    time: TimestampNanosecondBuilder,
    frame: UInt64Builder,
    src_ip: IpColumn,
    src_port: UInt16Builder,
    dst_ip: IpColumn,
    dst_port: UInt16Builder,
    transport: StringBuilder,
    method: TextColumn,
    status: UInt16Builder,
    call_id: TextColumn,
    cseq: UInt32Builder,
    cseq_method: TextColumn,
    from_tag: TextColumn,
    to_tag: TextColumn,
    branch: TextColumn,
    size: UInt32Builder,
    parse_error: StringBuilder,
    file: StringBuilder,
    /// The file rows are read from now (see [`MessagesBuilder::set_file`]).
    current_file: Option<Arc<str>>,
    bytes: BinaryBuilder,
    rows: usize,
}

impl MessagesBuilder {
    pub fn new(raw: bool) -> Self {
        MessagesBuilder {
            raw,
            schema: messages_schema(raw),
            time: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            frame: UInt64Builder::new(),
            src_ip: IpColumn::default(),
            src_port: UInt16Builder::new(),
            dst_ip: IpColumn::default(),
            dst_port: UInt16Builder::new(),
            transport: StringBuilder::new(),
            method: TextColumn::default(),
            status: UInt16Builder::new(),
            call_id: TextColumn::default(),
            cseq: UInt32Builder::new(),
            cseq_method: TextColumn::default(),
            from_tag: TextColumn::default(),
            to_tag: TextColumn::default(),
            branch: TextColumn::default(),
            size: UInt32Builder::new(),
            parse_error: StringBuilder::new(),
            file: StringBuilder::new(),
            current_file: None,
            bytes: BinaryBuilder::new(),
            rows: 0,
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The `file` column of the rows pushed from now on.
    pub fn set_file(&mut self, file: Option<Arc<str>>) {
        self.current_file = file;
    }

    /// Rows added since the last [`MessagesBuilder::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Adds one message; `seen` is `None` for a message that came with no capture
    /// (`parse_table`), whose capture columns are null. `raw` is the message's bytes.
    pub fn push(&mut self, seen: Option<&Seen>, row: &SipRow<'_>, raw: &[u8]) {
        self.time.append_option(seen.map(|s| s.time_ns));
        self.frame.append_option(seen.map(|s| s.frame));
        self.src_ip.push(seen.map(|s| s.src.ip));
        self.src_port.append_option(seen.map(|s| s.src.port));
        self.dst_ip.push(seen.map(|s| s.dst.ip));
        self.dst_port.append_option(seen.map(|s| s.dst.port));
        self.transport
            .append_option(seen.map(|s| s.transport.as_str()));
        self.method.push(row.method);
        self.status.append_option(row.status);
        self.call_id.push(row.call_id);
        self.cseq.append_option(row.cseq);
        self.cseq_method.push(row.cseq_method);
        self.from_tag.push(row.from_tag);
        self.to_tag.push(row.to_tag);
        self.branch.push(row.branch);
        self.size.append_value(row.size);
        self.parse_error.append_option(row.error.map(|k| k.name()));
        self.file.append_option(self.current_file.as_deref());
        if self.raw {
            self.bytes.append_value(raw);
        }
        self.rows += 1;
    }

    /// The rows added so far as one batch; the builder starts empty again.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(finish_sized_primitive(&mut self.time)),
            Arc::new(finish_sized_primitive(&mut self.frame)),
            Arc::new(finish_sized(&mut self.src_ip.builder)),
            Arc::new(finish_sized_primitive(&mut self.src_port)),
            Arc::new(finish_sized(&mut self.dst_ip.builder)),
            Arc::new(finish_sized_primitive(&mut self.dst_port)),
            Arc::new(finish_sized(&mut self.transport)),
            self.method.finish(),
            Arc::new(finish_sized_primitive(&mut self.status)),
            self.call_id.finish(),
            Arc::new(finish_sized_primitive(&mut self.cseq)),
            self.cseq_method.finish(),
            self.from_tag.finish(),
            self.to_tag.finish(),
            self.branch.finish(),
            Arc::new(finish_sized_primitive(&mut self.size)),
            Arc::new(finish_sized(&mut self.parse_error)),
            Arc::new(finish_sized(&mut self.file)),
        ];
        if self.raw {
            cols.push(Arc::new(finish_sized(&mut self.bytes)));
        }
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), cols)
    }
}

/// Builds a batch from named columns; every column is nullable (the schema follows the
/// arrays, so a table's types are written once, where its column is made).
pub(crate) fn batch_of(cols: Vec<(&str, ArrayRef)>) -> Result<RecordBatch, ArrowError> {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let arrays = cols.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
}

/// `src_ip`, `src_port`, `dst_ip`, `dst_port` and `ssrc`: the key of an RTP stream, the first
/// columns of `rtp_streams` and (after the time and frame) of `dtmf`.
fn stream_key_columns(
    keys: impl Iterator<Item = (Endpoint, Endpoint, Option<u32>)>,
) -> Vec<(&'static str, ArrayRef)> {
    let keys: Vec<(Endpoint, Endpoint, Option<u32>)> = keys.collect();
    let ports = |f: fn(&(Endpoint, Endpoint, Option<u32>)) -> u16| -> ArrayRef {
        Arc::new(UInt16Array::from_iter_values(keys.iter().map(f)))
    };
    vec![
        ("src_ip", IpColumn::of(keys.iter().map(|k| Some(k.0.ip)))),
        ("src_port", ports(|k| k.0.port)),
        ("dst_ip", IpColumn::of(keys.iter().map(|k| Some(k.1.ip)))),
        ("dst_port", ports(|k| k.1.port)),
        (
            "ssrc",
            Arc::new(UInt32Array::from_iter(keys.iter().map(|k| k.2))),
        ),
    ]
}

fn times(v: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from_iter_values(v).with_timezone("UTC"))
}

/// The `rtp_streams` table: one row per RTP stream (source, destination, SSRC), with the
/// statistics of `tshark -z rtp,streams` and what RTCP said about it (rtp/mod.rs documents
/// each field).
pub fn rtp_streams_batch(rows: &[RtpStreamRow]) -> Result<RecordBatch, ArrowError> {
    let mut pts = ListBuilder::new(UInt8Builder::new());
    for r in rows {
        pts.values().append_slice(&r.payload_types);
        pts.append(true);
    }
    let u64s = |f: fn(&RtpStreamRow) -> u64| -> ArrayRef {
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(f)))
    };
    let f64s = |f: fn(&RtpStreamRow) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from_iter(rows.iter().map(f)))
    };
    let mut cols = stream_key_columns(rows.iter().map(|r| (r.src, r.dst, Some(r.ssrc))));
    cols.extend::<Vec<(&str, ArrayRef)>>(vec![
        (
            "payload_type",
            Arc::new(UInt8Array::from_iter_values(
                rows.iter().map(|r| r.payload_type),
            )),
        ),
        ("payload_types", Arc::new(pts.finish())),
        (
            "codec",
            Arc::new(StringArray::from_iter(
                rows.iter().map(|r| r.codec.as_deref()),
            )),
        ),
        (
            "clock_rate",
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| r.clock_rate),
            )),
        ),
        ("packets", u64s(|r| r.packets)),
        (
            "expected",
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.expected),
            )),
        ),
        (
            "lost",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.lost))),
        ),
        ("sequence_errors", u64s(|r| r.sequence_errors)),
        (
            "problem",
            Arc::new(BooleanArray::from_iter(
                rows.iter().map(|r| Some(r.problem)),
            )),
        ),
        ("captured_twice", u64s(|r| r.captured_twice)),
        ("min_delta_ms", f64s(|r| r.min_delta_ms)),
        ("mean_delta_ms", f64s(|r| Some(r.mean_delta_ms))),
        ("max_delta_ms", f64s(|r| Some(r.max_delta_ms))),
        (
            "max_delta_frame",
            Arc::new(UInt64Array::from_iter(
                rows.iter().map(|r| r.max_delta_frame),
            )),
        ),
        ("min_jitter_ms", f64s(|r| r.min_jitter_ms)),
        ("mean_jitter_ms", f64s(|r| Some(r.mean_jitter_ms))),
        ("max_jitter_ms", f64s(|r| Some(r.max_jitter_ms))),
        ("first_time", times(rows.iter().map(|r| r.first_time_ns))),
        ("last_time", times(rows.iter().map(|r| r.last_time_ns))),
        ("first_frame", u64s(|r| r.first_frame)),
        ("last_frame", u64s(|r| r.last_frame)),
        (
            "call_id",
            Arc::new(StringArray::from_iter(
                rows.iter().map(|r| r.call_id.as_deref()),
            )),
        ),
        (
            "from_sdp",
            Arc::new(BooleanArray::from_iter(
                rows.iter().map(|r| Some(r.from_sdp)),
            )),
        ),
        ("rtcp_sr", u64s(|r| r.rtcp_sr)),
        ("rtcp_rr", u64s(|r| r.rtcp_rr)),
        (
            "rtcp_sender_packets",
            Arc::new(UInt32Array::from_iter(
                rows.iter().map(|r| r.rtcp_sender_packets),
            )),
        ),
        (
            "rtcp_sender_octets",
            Arc::new(UInt32Array::from_iter(
                rows.iter().map(|r| r.rtcp_sender_octets),
            )),
        ),
        ("rtcp_reports", u64s(|r| r.rtcp_reports)),
        (
            "rtcp_reporter_ssrc",
            Arc::new(UInt32Array::from_iter(
                rows.iter().map(|r| r.rtcp_reporter_ssrc),
            )),
        ),
        ("rtcp_fraction_lost", f64s(|r| r.rtcp_fraction_lost)),
        (
            "rtcp_cumulative_lost",
            Arc::new(Int32Array::from_iter(
                rows.iter().map(|r| r.rtcp_cumulative_lost),
            )),
        ),
        (
            "rtcp_highest_seq",
            Arc::new(UInt32Array::from_iter(
                rows.iter().map(|r| r.rtcp_highest_seq),
            )),
        ),
        ("rtcp_jitter_ms", f64s(|r| r.rtcp_jitter_ms)),
    ]);
    batch_of(cols)
}

/// The `dtmf` table: one row per DTMF digit, a telephone-event (RFC 4733) with its RTP
/// fields, or a digit of a SIP INFO request (`source` "info", the RTP fields null).
pub fn dtmf_batch(rows: &[DtmfRow]) -> Result<RecordBatch, ArrowError> {
    let mut cols = vec![
        ("time", times(rows.iter().map(|r| r.time_ns))),
        (
            "frame",
            Arc::new(UInt64Array::from_iter(
                rows.iter()
                    .map(|r| Some(r.frame).filter(|_| r.source == DtmfSource::Rtp)),
            )),
        ),
    ];
    cols.extend(stream_key_columns(
        rows.iter().map(|r| (r.src, r.dst, r.ssrc)),
    ));
    cols.extend::<Vec<(&str, ArrayRef)>>(vec![
        (
            "digit",
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.digit))),
        ),
        (
            "event",
            Arc::new(UInt8Array::from_iter_values(rows.iter().map(|r| r.event))),
        ),
        (
            "source",
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.source.as_str()),
            )),
        ),
        (
            "rtp_timestamp",
            Arc::new(UInt32Array::from_iter(rows.iter().map(|r| r.rtp_timestamp))),
        ),
        (
            "duration_ms",
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.duration_ms))),
        ),
        (
            "duration",
            Arc::new(UInt16Array::from_iter(rows.iter().map(|r| r.duration))),
        ),
        (
            "volume",
            Arc::new(UInt8Array::from_iter(rows.iter().map(|r| r.volume))),
        ),
        (
            "end_seen",
            Arc::new(BooleanArray::from_iter(rows.iter().map(|r| r.end_seen))),
        ),
        (
            "packets",
            Arc::new(UInt32Array::from_iter(rows.iter().map(|r| r.packets))),
        ),
        (
            "call_id",
            Arc::new(StringArray::from_iter(
                rows.iter().map(|r| r.call_id.as_deref()),
            )),
        ),
    ]);
    batch_of(cols)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::datagram_row;
    use arrow_array::{Array, StringArray, UInt32Array};
    use sipwire::ParseOptions;

    #[test]
    fn ip_column_writes_every_address_whatever_its_slot_held() {
        use std::net::{Ipv4Addr, Ipv6Addr};
        // Hosts that share slots, alternating; IPv6 among them; gaps.
        let mut ips: Vec<Option<IpAddr>> = Vec::new();
        for round in 0u32..3 {
            for i in 0u32..300 {
                let n = i.wrapping_mul(2_654_435_761).rotate_left(round);
                ips.push(Some(IpAddr::V4(Ipv4Addr::from(n))));
                ips.push(Some(IpAddr::V4(Ipv4Addr::new(10, 20, 0, (i % 64) as u8))));
                if i % 7 == 0 {
                    ips.push(None);
                    let v6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, (i >> 3) as u16, i as u16);
                    ips.push(Some(IpAddr::V6(v6)));
                }
            }
        }
        let col = IpColumn::of(ips.iter().copied());
        let col = col.as_any().downcast_ref::<StringArray>().unwrap();
        let got: Vec<Option<String>> = col.iter().map(|v| v.map(str::to_owned)).collect();
        let want: Vec<Option<String>> = ips.iter().map(|ip| ip.map(|a| a.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        let mut col = IpColumn::default();
        let ips: Vec<IpAddr> = [
            "0.0.0.0",
            "10.20.0.1",
            "192.168.100.255",
            "1.22.203.9",
            "2001:db8::1",
            "::ffff:1.2.3.4",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        for ip in &ips {
            col.push(Some(*ip));
        }
        let arr = col.builder.finish();
        for (i, ip) in ips.iter().enumerate() {
            assert_eq!(arr.value(i), ip.to_string());
        }
    }

    #[test]
    fn a_row_per_message_with_nulls_where_the_capture_is_unknown() {
        let msg = b"BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:c@d>;tag=f\r\nTo: <sip:a@b>;tag=t\r\nCall-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
        let bad = b"BYE sip:a@b SIP/2.0\r\nCall-ID: c2\r\nCSeq: x\r\n\r\n";
        let mut b = MessagesBuilder::new(true);
        let opts = ParseOptions::LIBERAL;
        b.push(None, &datagram_row(msg, &opts), msg);
        b.push(None, &datagram_row(bad, &opts), bad);
        let batch = b.finish().unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(b.len(), 0);
        let col = |n: &str| batch.column_by_name(n).unwrap().clone();
        let text = |n: &str| {
            let c = col(n);
            let c = c.as_any().downcast_ref::<StringArray>().unwrap();
            (0..c.len())
                .map(|i| (!c.is_null(i)).then(|| c.value(i).to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(text("call_id"), [Some("c1".into()), Some("c2".into())]);
        assert_eq!(text("from_tag"), [Some("f".into()), None]);
        assert_eq!(text("branch"), [Some("z9hG4bKx".into()), None]);
        assert_eq!(text("parse_error"), [None, Some("invalid_cseq".into())]);
        let cseq = col("cseq");
        let cseq = cseq.as_any().downcast_ref::<UInt32Array>().unwrap();
        assert_eq!((cseq.value(0), cseq.is_null(1)), (2, true));
        assert!(col("time").is_null(0));
        assert_eq!(batch.schema().field(0).data_type(), &time_type());
        // The next batch starts from builders sized after this one: the same schema (the
        // time zone kept), and rows of their own.
        for n in [3, 1, 0, 2] {
            for _ in 0..n {
                b.push(None, &datagram_row(bad, &opts), bad);
            }
            let next = b.finish().unwrap();
            assert_eq!(next.num_rows(), n);
            assert_eq!(next.schema(), batch.schema());
            let c = next.column_by_name("call_id").unwrap();
            let c = c.as_any().downcast_ref::<StringArray>().unwrap();
            assert!((0..n).all(|i| c.value(i) == "c2"));
        }
    }
}
