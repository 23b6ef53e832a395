//! Byte streams: TCP reassembly per direction (tcp.rs), SCTP DATA chunks (sctp.rs), WebSocket
//! frames (websocket.rs), each feeding SIP framing (the core's `StreamFramer`) or HEP framing.
//!
//! What a TCP flow carries is told by its content, on any port (issue 12): SIP once a SIP
//! start line is seen (at the start of the stream, or, for a capture that starts
//! mid-connection, at the first line that plausibly starts a message, the bytes before it
//! counted); WebSocket once an HTTP upgrade to `websocket` is seen (RFC 6455 §4: the client's
//! `GET` in one direction, the server's `101` in the other, frames after each); HEP when the
//! stream starts with `HEP3`. Anything else (HTTP, TLS, ...) is marked not SIP after a bounded
//! look at its first bytes, and from then on its bytes are only counted.
//!
//! Flows (one per direction) live in one table bounded by `max_flows`; the bytes they hold
//! (segments ahead of a gap, a message not yet whole, fragments) are bounded per flow by
//! `max_flow_bytes` and in total by `max_stream_bytes`. When a bound is reached the least
//! recently active flow is closed (what it holds is flushed) and counted. Flows idle past
//! `flow_idle_ns` of capture time are closed by [`Streams::expire`].

use std::collections::{BTreeMap, HashMap};

use sipwire::message::{Framing, MessageIndex, StreamFramer};
use sipwire::ParseOptions;

use crate::sctp::{self, SctpFlow};
use crate::stats::Counters;
use crate::tcp::{ByteSink, TcpFlow, FIN, RST, SYN};
use crate::types::{CaptureLimits, Endpoint, Segment, Transport, L4};
use crate::websocket::{self, WsDecoder};

/// One thing a stream yielded, with the time and frame of the segment that completed it.
#[derive(Debug)]
pub struct Unit<'a> {
    pub time_ns: i64,
    pub frame: u64,
    pub src: Endpoint,
    pub dst: Endpoint,
    pub transport: Transport,
    pub kind: UnitKind<'a>,
}

/// What a [`Unit`] holds.
#[derive(Debug)]
pub enum UnitKind<'a> {
    /// A SIP message framed by the `StreamFramer` on TCP (spans of `index` are into `bytes`).
    Sip {
        bytes: &'a [u8],
        index: &'a MessageIndex,
    },
    /// One whole SCTP user message or WebSocket message: the pipeline parses it as a
    /// datagram (and decides whether it is SIP).
    Datagram(&'a [u8]),
    /// One whole HEP frame from a TCP stream.
    Hep(&'a [u8]),
    /// A framing error on a SIP stream, after which the framer resynchronised.
    Error(sipwire::Error),
}

/// Counters of stream reassembly and framing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// TCP segments seen.
    pub tcp_segments: u64,
    /// TCP flow directions opened (by a SYN or by the first data seen mid-connection).
    pub tcp_flows: u64,
    /// TCP payload bytes handed on in order.
    pub tcp_bytes: u64,
    /// TCP bytes seen again (retransmissions, overlaps) and trimmed.
    pub tcp_retransmitted_bytes: u64,
    /// TCP segments held because they arrived ahead of a gap.
    pub tcp_out_of_order: u64,
    /// TCP gaps given up on (limit reached, FIN/RST after them, idle, end of capture).
    pub tcp_gaps: u64,
    /// Bytes never seen in those gaps.
    pub tcp_gap_bytes: u64,
    /// TCP flow directions closed by FIN or RST (or flushed when evicted, idle or at the end).
    pub tcp_closed: u64,
    /// TCP bytes after the end of a closed direction.
    pub tcp_after_close_bytes: u64,
    /// Flows found to carry SIP.
    pub stream_sip_flows: u64,
    /// Flows found to carry WebSocket (after an HTTP upgrade).
    pub stream_ws_flows: u64,
    /// Flows found to carry HEP.
    pub stream_hep_flows: u64,
    /// Flows found to carry none of these (HTTP, TLS, ...): their bytes are dropped.
    pub stream_not_sip_flows: u64,
    /// Bytes of those flows (and of flows that ended before their content was told).
    pub stream_not_sip_bytes: u64,
    /// Of the flows carrying none, those carrying TLS records: SIP over TLS (RFC 3261 §26.2,
    /// port 5061) cannot be read from a capture without its keys.
    pub stream_tls_flows: u64,
    /// Bytes skipped before the first start line of a flow seen mid-connection or after a gap.
    pub stream_unsynced_bytes: u64,
    /// SIP messages framed on streams.
    pub stream_sip_messages: u64,
    /// Framing errors on SIP streams (each followed by a resync).
    pub stream_sip_errors: u64,
    /// Bytes the SIP framer dropped to resynchronise (after errors and gaps).
    pub stream_resync_bytes: u64,
    /// Flows closed early because `max_flows` flows were open.
    pub stream_evicted_flows: u64,
    /// Flows closed early because `max_stream_bytes` were held.
    pub stream_memory_evictions: u64,
    /// Flows closed because they were idle `flow_idle_ns`.
    pub stream_expired_flows: u64,
    /// Bytes not tracked at all because no flow could be kept (`max_flows` of 0).
    pub stream_untracked_bytes: u64,
    /// HEP frames taken from TCP streams.
    pub hep_stream_frames: u64,
    /// Bytes of HEP streams that were not a HEP frame (skipped to the next `HEP3`).
    pub hep_stream_skipped_bytes: u64,
    /// WebSocket frames read (data and control).
    pub ws_frames: u64,
    /// Of those, control frames (close, ping, pong).
    pub ws_control_frames: u64,
    /// WebSocket messages handed on.
    pub ws_messages: u64,
    /// WebSocket frames breaking the framing rules (the direction is dropped after one).
    pub ws_bad_frames: u64,
    /// WebSocket messages over the flow limit, skipped.
    pub ws_oversize_messages: u64,
    /// WebSocket bytes dropped (oversize, after a bad frame or a gap, unfinished at the end).
    pub ws_dropped_bytes: u64,
    /// SCTP packets with user data read.
    pub sctp_packets: u64,
    /// SCTP chunks walked.
    pub sctp_chunks: u64,
    /// Chunks with a bad length (ending the walk of their packet) or a DATA chunk too short.
    pub sctp_bad_chunks: u64,
    /// DATA and I-DATA chunks taken.
    pub sctp_data_chunks: u64,
    /// Of those, fragments of a larger user message.
    pub sctp_fragments: u64,
    /// DATA chunks whose TSN was seen already (retransmissions), dropped.
    pub sctp_duplicates: u64,
    /// SCTP user messages handed on.
    pub sctp_messages: u64,
    /// Fragment bytes dropped (flow limit, flow closed before the message was whole).
    pub sctp_dropped_bytes: u64,
}

impl Counters for StreamStats {
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("tcp_segments", self.tcp_segments);
        f("tcp_flows", self.tcp_flows);
        f("tcp_bytes", self.tcp_bytes);
        f("tcp_retransmitted_bytes", self.tcp_retransmitted_bytes);
        f("tcp_out_of_order", self.tcp_out_of_order);
        f("tcp_gaps", self.tcp_gaps);
        f("tcp_gap_bytes", self.tcp_gap_bytes);
        f("tcp_closed", self.tcp_closed);
        f("tcp_after_close_bytes", self.tcp_after_close_bytes);
        f("stream_sip_flows", self.stream_sip_flows);
        f("stream_ws_flows", self.stream_ws_flows);
        f("stream_hep_flows", self.stream_hep_flows);
        f("stream_not_sip_flows", self.stream_not_sip_flows);
        f("stream_not_sip_bytes", self.stream_not_sip_bytes);
        f("stream_tls_flows", self.stream_tls_flows);
        f("stream_unsynced_bytes", self.stream_unsynced_bytes);
        f("stream_sip_messages", self.stream_sip_messages);
        f("stream_sip_errors", self.stream_sip_errors);
        f("stream_resync_bytes", self.stream_resync_bytes);
        f("stream_evicted_flows", self.stream_evicted_flows);
        f("stream_memory_evictions", self.stream_memory_evictions);
        f("stream_expired_flows", self.stream_expired_flows);
        f("stream_untracked_bytes", self.stream_untracked_bytes);
        f("hep_stream_frames", self.hep_stream_frames);
        f("hep_stream_skipped_bytes", self.hep_stream_skipped_bytes);
        f("ws_frames", self.ws_frames);
        f("ws_control_frames", self.ws_control_frames);
        f("ws_messages", self.ws_messages);
        f("ws_bad_frames", self.ws_bad_frames);
        f("ws_oversize_messages", self.ws_oversize_messages);
        f("ws_dropped_bytes", self.ws_dropped_bytes);
        f("sctp_packets", self.sctp_packets);
        f("sctp_chunks", self.sctp_chunks);
        f("sctp_bad_chunks", self.sctp_bad_chunks);
        f("sctp_data_chunks", self.sctp_data_chunks);
        f("sctp_fragments", self.sctp_fragments);
        f("sctp_duplicates", self.sctp_duplicates);
        f("sctp_messages", self.sctp_messages);
        f("sctp_dropped_bytes", self.sctp_dropped_bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// Telling what a TCP flow carries

/// How far into a flow its content is looked for before it is called not SIP.
pub(crate) const SNIFF_BYTES: usize = 8 * 1024;

/// The methods of RFC 3261 and its extensions (RFC 3262, 3265/6665, 3311, 3428, 3515, 3903,
/// 6086): a line cut by the start of a capture is taken as a start line only with one of them.
const KNOWN_METHODS: &[&[u8]] = &[
    b"INVITE",
    b"ACK",
    b"BYE",
    b"CANCEL",
    b"OPTIONS",
    b"REGISTER",
    b"PRACK",
    b"SUBSCRIBE",
    b"NOTIFY",
    b"PUBLISH",
    b"INFO",
    b"REFER",
    b"MESSAGE",
    b"UPDATE",
];

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// RFC 3261 §7.1: `Method SP Request-URI SP SIP-Version`, or `SIP-Version SP Status-Code SP
/// Reason-Phrase`. HTTP lines end in `HTTP/1.1` and start `HTTP/`, so they are not taken.
fn is_sip_start_line(line: &[u8]) -> bool {
    if let Some(rest) = line.strip_prefix(b"SIP/2.0 ") {
        return rest.len() >= 3 && rest.iter().take(3).all(u8::is_ascii_digit);
    }
    let Some(head) = line.strip_suffix(b" SIP/2.0") else {
        return false;
    };
    let mut parts = head.splitn(2, |&b| b == b' ');
    let method = parts.next().unwrap_or(&[]);
    let uri = parts.next().unwrap_or(&[]);
    !method.is_empty()
        && method.iter().all(|&b| sipwire::scan::is_token_char(b))
        && !uri.is_empty()
        && !uri.contains(&b' ')
        && uri.contains(&b':')
}

/// A start line that can be trusted where the line may be cut (the first seen mid-stream).
fn is_known_start_line(line: &[u8]) -> bool {
    is_sip_start_line(line)
        && (line.starts_with(b"SIP/2.0 ")
            || KNOWN_METHODS.contains(&line.split(|&b| b == b' ').next().unwrap_or(&[])))
}

/// Whether an HTTP head asks for (or agrees to) a WebSocket connection: RFC 6455 §4.1 (the
/// client's `GET` with `Upgrade: websocket`) and §4.2.2 (the server's `101`).
fn is_ws_upgrade(head: &[u8]) -> bool {
    let mut lines = head.split(|&b| b == b'\n').map(trim_cr);
    let first = lines.next().unwrap_or(&[]);
    let request = first.starts_with(b"GET ") && first.windows(6).any(|w| w == b" HTTP/");
    let switching = first.starts_with(b"HTTP/1.1 101");
    if !request && !switching {
        return false;
    }
    lines.any(|l| {
        let Some(colon) = l.iter().position(|&b| b == b':') else {
            return false;
        };
        let (name, value) = l.split_at(colon);
        name.trim_ascii().eq_ignore_ascii_case(b"upgrade")
            && value
                .get(1..)
                .unwrap_or(&[])
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"websocket"))
    })
}

/// What the first bytes of a flow say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Not enough bytes yet.
    Wait,
    NotSip,
    /// TLS records (not SIP either; counted apart).
    Tls,
    /// SIP from this offset.
    Sip(usize),
    /// WebSocket frames from this offset (after the HTTP head).
    Ws(usize),
    /// HEP frames from this offset.
    Hep(usize),
}

/// Looks at the first bytes of a flow; `at_start` when they are the first of the connection.
fn classify(view: &[u8], at_start: bool) -> Verdict {
    let undecided = if view.len() >= SNIFF_BYTES {
        Verdict::NotSip
    } else {
        Verdict::Wait
    };
    // CRLF keep-alives may come first (RFC 5626 §3.5.1).
    let p0 = view
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(view.len());
    let rest = view.get(p0..).unwrap_or(&[]);
    let Some(&first) = rest.first() else {
        return undecided;
    };
    if rest.len() < 4 && b"HEP3".starts_with(rest) {
        return Verdict::Wait;
    }
    if rest.starts_with(b"HEP3") {
        return Verdict::Hep(p0);
    }
    // A TLS record (content type 20-23, version 3.x, RFC 8446 §5.1) is not waited on.
    if (0x14..=0x17).contains(&first) && rest.get(1) == Some(&3) {
        return Verdict::Tls;
    }
    if at_start {
        // A message, an HTTP head, or anything else: its first line tells.
        if !sipwire::scan::is_token_char(first) {
            return Verdict::NotSip;
        }
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            return undecided;
        };
        let line = trim_cr(rest.get(..nl).unwrap_or(&[]));
        if is_sip_start_line(line) {
            return Verdict::Sip(p0);
        }
        let http = line.starts_with(b"GET ") || line.starts_with(b"HTTP/1.1 101");
        if !http {
            return Verdict::NotSip;
        }
        return match memchr::memmem::find(rest, b"\r\n\r\n") {
            Some(end) if is_ws_upgrade(rest.get(..end).unwrap_or(&[])) => Verdict::Ws(p0 + end + 4),
            Some(_) => Verdict::NotSip,
            None => undecided,
        };
    }
    // Mid-stream: the first line may be cut, so only a known method or a status line is
    // taken there; after it, any SIP start line. Or WebSocket frames whose handshake came
    // before the capture began, whichever starts first (a frame's length bytes can hold an
    // LF, putting a start line at the head of a "line").
    let line = sip_line_mid_stream(view);
    let limit = match line {
        Verdict::Sip(0) => return line,
        Verdict::Sip(at) => at,
        _ => SNIFF_BYTES,
    };
    if let Some(at) = websocket::sip_frame_start(view, limit, is_known_start_line) {
        return Verdict::Ws(at);
    }
    match line {
        Verdict::Sip(_) | Verdict::NotSip => line,
        _ => undecided,
    }
}

/// A SIP start line in bytes met mid-stream (see [`classify`]): `Wait` when none yet.
fn sip_line_mid_stream(view: &[u8]) -> Verdict {
    let mut pos = 0;
    while let Some(nl) = memchr::memchr(b'\n', view.get(pos..).unwrap_or(&[])) {
        let line = trim_cr(view.get(pos..pos + nl).unwrap_or(&[]));
        let ok = if pos == 0 {
            is_known_start_line(line)
        } else {
            is_sip_start_line(line)
        };
        if ok {
            return Verdict::Sip(pos);
        }
        pos += nl + 1;
        if pos >= SNIFF_BYTES {
            return Verdict::NotSip;
        }
    }
    Verdict::Wait
}

// ---------------------------------------------------------------------------------------------
// HEP frames on a stream

/// HEPv3 frames on a stream: "HEP3", a 16-bit total length (big-endian, counting the 6-byte
/// header), chunks. Bytes that do not start a frame are skipped to the next "HEP3".
#[derive(Debug, Default)]
struct HepFramer {
    buf: Vec<u8>,
}

/// The length of the HEP3 frame at the start of `buf`: `Ok(None)` when not all there yet,
/// `Err(())` when it does not start a frame.
fn hep_frame_len(buf: &[u8]) -> Result<Option<usize>, ()> {
    let magic = buf.get(..4).unwrap_or(buf);
    if !b"HEP3".starts_with(magic) {
        return Err(());
    }
    let Some(&[hi, lo]) = buf.get(4..6) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len < 6 {
        return Err(());
    }
    Ok((buf.len() >= len).then_some(len))
}

impl HepFramer {
    fn held(&self) -> usize {
        self.buf.len()
    }

    /// Frames what `buf` holds; returns the bytes used.
    fn frames(buf: &[u8], stats: &mut StreamStats, emit: &mut dyn FnMut(&[u8])) -> usize {
        let mut pos = 0;
        loop {
            let rest = buf.get(pos..).unwrap_or(&[]);
            if rest.is_empty() {
                return pos;
            }
            match hep_frame_len(rest) {
                Ok(Some(len)) => {
                    stats.hep_stream_frames += 1;
                    emit(rest.get(..len).unwrap_or(rest));
                    pos += len;
                }
                Ok(None) => return pos,
                Err(()) => {
                    let skip = memchr::memmem::find(rest.get(1..).unwrap_or(&[]), b"HEP3")
                        .map_or_else(|| rest.len().saturating_sub(3).max(1), |p| p + 1);
                    stats.hep_stream_skipped_bytes += skip as u64;
                    pos += skip;
                }
            }
        }
    }

    fn push(&mut self, data: &[u8], stats: &mut StreamStats, emit: &mut dyn FnMut(&[u8])) {
        if self.buf.is_empty() {
            let used = Self::frames(data, stats, emit);
            self.buf.extend_from_slice(data.get(used..).unwrap_or(&[]));
            return;
        }
        self.buf.extend_from_slice(data);
        let buf = std::mem::take(&mut self.buf);
        let used = Self::frames(&buf, stats, emit);
        self.buf = buf;
        self.buf.drain(..used.min(self.buf.len()));
    }

    fn abandon(&mut self, stats: &mut StreamStats) {
        stats.hep_stream_skipped_bytes += self.buf.len() as u64;
        self.buf = Vec::new();
    }
}

// ---------------------------------------------------------------------------------------------
// What a TCP flow carries, and where its bytes go

/// What a TCP flow direction carries.
#[derive(Debug)]
enum Content {
    /// Not told yet: its first bytes (while they do not tell) and whether they are the first
    /// of the connection.
    Sniff {
        held: Vec<u8>,
        at_start: bool,
    },
    Sip(Box<StreamFramer>),
    Ws(Box<WsDecoder>),
    Hep(HepFramer),
    /// Not SIP: bytes counted and dropped.
    NotSip,
    /// WebSocket that lost its framing: bytes counted and dropped.
    Lost,
    /// The direction was closed.
    Closed,
}

impl Content {
    fn held(&self) -> usize {
        match self {
            Content::Sniff { held, .. } => held.len(),
            Content::Sip(f) => f.buffered(),
            Content::Ws(w) => w.held(),
            Content::Hep(h) => h.held(),
            Content::NotSip | Content::Lost | Content::Closed => 0,
        }
    }
}

/// Where a flow's output goes: the segment's time and addresses, the counters, the caller.
struct Cx<'a, 'o> {
    time_ns: i64,
    frame: u64,
    src: Endpoint,
    dst: Endpoint,
    opts: &'a ParseOptions,
    max_flow_bytes: usize,
    stats: &'a mut StreamStats,
    out: &'a mut (dyn FnMut(Unit<'_>) + 'o),
}

impl Cx<'_, '_> {
    fn emit(&mut self, transport: Transport, kind: UnitKind<'_>) {
        (self.out)(Unit {
            time_ns: self.time_ns,
            frame: self.frame,
            src: self.src,
            dst: self.dst,
            transport,
            kind,
        });
    }
}

/// A TCP flow's content as the sink of its reassembly.
struct Deliver<'c, 'a, 'o> {
    content: &'c mut Content,
    cx: &'c mut Cx<'a, 'o>,
}

/// Hands on a framing result of a SIP stream.
fn sip_unit(cx: &mut Cx<'_, '_>, r: Framing<'_>) {
    match r {
        Ok((b, index)) => {
            cx.stats.stream_sip_messages += 1;
            cx.emit(
                Transport::Tcp,
                UnitKind::Sip {
                    bytes: b,
                    index: &index,
                },
            );
        }
        Err(e) => {
            cx.stats.stream_sip_errors += 1;
            cx.emit(Transport::Tcp, UnitKind::Error(e));
        }
    }
}

fn sip_push(f: &mut StreamFramer, bytes: &[u8], cx: &mut Cx<'_, '_>) {
    let before = f.skipped;
    f.push(bytes, &mut |r| sip_unit(cx, r));
    cx.stats.stream_resync_bytes += f.skipped.saturating_sub(before);
}

impl ByteSink for Deliver<'_, '_, '_> {
    fn origin(&self) -> (i64, u64) {
        (self.cx.time_ns, self.cx.frame)
    }

    fn set_origin(&mut self, (time_ns, frame): (i64, u64)) {
        self.cx.time_ns = time_ns;
        self.cx.frame = frame;
    }

    fn data(&mut self, bytes: &[u8]) {
        let cx = &mut *self.cx;
        match self.content {
            Content::Sip(f) => sip_push(f, bytes, cx),
            Content::Ws(w) => {
                let (stats, out) = (&mut *cx.stats, &mut *cx.out);
                let (time_ns, frame, src, dst) = (cx.time_ns, cx.frame, cx.src, cx.dst);
                w.push(bytes, stats, &mut |m| {
                    out(Unit {
                        time_ns,
                        frame,
                        src,
                        dst,
                        transport: Transport::Ws,
                        kind: UnitKind::Datagram(m),
                    })
                });
                if w.is_dead() {
                    *self.content = Content::Lost;
                }
            }
            Content::Hep(h) => {
                let (stats, out) = (&mut *cx.stats, &mut *cx.out);
                let (time_ns, frame, src, dst) = (cx.time_ns, cx.frame, cx.src, cx.dst);
                h.push(bytes, stats, &mut |m| {
                    out(Unit {
                        time_ns,
                        frame,
                        src,
                        dst,
                        transport: Transport::Tcp,
                        kind: UnitKind::Hep(m),
                    })
                });
            }
            Content::NotSip | Content::Closed => {
                cx.stats.stream_not_sip_bytes += bytes.len() as u64
            }
            Content::Lost => cx.stats.ws_dropped_bytes += bytes.len() as u64,
            Content::Sniff { held, at_start } => {
                let at_start = *at_start;
                let mut held = std::mem::take(held);
                let view: &[u8] = if held.is_empty() {
                    bytes
                } else {
                    held.extend_from_slice(bytes);
                    &held
                };
                let verdict = classify(view, at_start);
                let (next, from) = match verdict {
                    Verdict::Wait => {
                        if held.is_empty() {
                            held.extend_from_slice(bytes);
                        }
                        *self.content = Content::Sniff { held, at_start };
                        return;
                    }
                    Verdict::NotSip | Verdict::Tls => {
                        cx.stats.stream_not_sip_flows += 1;
                        if verdict == Verdict::Tls {
                            cx.stats.stream_tls_flows += 1;
                        }
                        cx.stats.stream_not_sip_bytes += view.len() as u64;
                        *self.content = Content::NotSip;
                        return;
                    }
                    Verdict::Sip(at) => {
                        cx.stats.stream_sip_flows += 1;
                        (Content::Sip(Box::new(StreamFramer::new(*cx.opts))), at)
                    }
                    Verdict::Ws(at) => {
                        cx.stats.stream_ws_flows += 1;
                        // A frame being completed and a message being gathered each get half.
                        (
                            Content::Ws(Box::new(WsDecoder::new(cx.max_flow_bytes / 2))),
                            at,
                        )
                    }
                    Verdict::Hep(at) => {
                        cx.stats.stream_hep_flows += 1;
                        (Content::Hep(HepFramer::default()), at)
                    }
                };
                // The bytes before a SIP start line met mid-stream, or the HTTP head.
                if matches!(verdict, Verdict::Sip(_) | Verdict::Hep(_)) {
                    cx.stats.stream_unsynced_bytes += from as u64;
                }
                *self.content = next;
                let rest = view.get(from..).unwrap_or(&[]);
                if !rest.is_empty() {
                    self.data(rest);
                }
            }
        }
    }

    fn gap(&mut self, _len: u64) {
        let stats = &mut *self.cx.stats;
        match self.content {
            Content::Sniff { held, at_start } => {
                stats.stream_unsynced_bytes += held.len() as u64;
                held.clear();
                *at_start = false;
            }
            Content::Sip(f) => {
                let cx = &mut *self.cx;
                let before = f.skipped;
                f.gap(&mut |r| sip_unit(cx, r));
                cx.stats.stream_resync_bytes += f.skipped.saturating_sub(before);
            }
            Content::Ws(w) => {
                // Frames cannot be found again with confidence after lost bytes.
                w.abandon(stats);
                *self.content = Content::Lost;
            }
            Content::Hep(h) => h.abandon(stats),
            Content::NotSip | Content::Lost | Content::Closed => {}
        }
    }

    fn end(&mut self) {
        let cx = &mut *self.cx;
        match std::mem::replace(self.content, Content::Closed) {
            Content::Sniff { held, .. } => cx.stats.stream_not_sip_bytes += held.len() as u64,
            Content::Sip(mut f) => {
                f.finish();
                sip_push(&mut f, &[], cx);
            }
            Content::Ws(mut w) => w.abandon(cx.stats),
            Content::Hep(mut h) => h.abandon(cx.stats),
            Content::NotSip | Content::Lost | Content::Closed => {}
        }
    }

    fn discards(&self) -> bool {
        matches!(
            self.content,
            Content::NotSip | Content::Lost | Content::Closed
        )
    }

    fn stats(&mut self) -> &mut StreamStats {
        self.cx.stats
    }

    fn held(&self) -> usize {
        self.content.held()
    }
}

// ---------------------------------------------------------------------------------------------
// The flow table

/// A flow: one direction of a TCP connection or of an SCTP association.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum FlowKey {
    Tcp(Endpoint, Endpoint),
    /// With the verification tag the packets carry (RFC 4960 §8.5), which names the
    /// association.
    Sctp(Endpoint, Endpoint, u32),
}

impl FlowKey {
    fn ends(&self) -> (Endpoint, Endpoint) {
        match *self {
            FlowKey::Tcp(s, d) | FlowKey::Sctp(s, d, _) => (s, d),
        }
    }
}

#[derive(Debug)]
struct TcpEntry {
    seq: TcpFlow,
    content: Content,
}

#[derive(Debug)]
enum FlowState {
    Tcp(Box<TcpEntry>),
    Sctp(Box<SctpFlow>),
}

#[derive(Debug)]
struct Flow {
    id: u64,
    /// Its key in `Streams::order`: a lower bound of `last_ns`.
    order_ns: i64,
    last_ns: i64,
    last_frame: u64,
    /// Bytes it holds, as last counted into `Streams::held`.
    held: usize,
    state: FlowState,
}

impl Flow {
    /// Open (a closed TCP direction is kept only to recognise its retransmissions).
    fn is_open(&self) -> bool {
        match &self.state {
            FlowState::Tcp(t) => !t.seq.is_closed(),
            FlowState::Sctp(_) => true,
        }
    }

    fn holds(&self) -> usize {
        match &self.state {
            FlowState::Tcp(t) => t.seq.held() + t.content.held(),
            FlowState::Sctp(s) => s.held(),
        }
    }
}

/// Why a flow is closed from outside its own packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    /// `max_flows` reached.
    Evicted,
    /// `max_stream_bytes` reached.
    Memory,
    /// Idle `flow_idle_ns`.
    Idle,
    /// A new connection on the same ports, or the end of the capture: not counted as a loss.
    Replaced,
}

/// TCP and SCTP flows of a capture, reassembled and framed.
#[derive(Debug)]
pub struct Streams {
    limits: CaptureLimits,
    opts: ParseOptions,
    /// Keyed by a randomly seeded hash: the keys are the capture's, so attacker-chosen.
    flows: HashMap<FlowKey, Flow, foldhash::fast::RandomState>,
    /// Flows by (a lower bound of) their last activity, for eviction and idle expiry.
    order: BTreeMap<(i64, u64), FlowKey>,
    /// Bytes all flows hold.
    held: usize,
    next_id: u64,
    /// A flow's place in `order` is moved once its activity moved this much (so a busy flow
    /// does not move at every packet).
    granularity: i64,
}

impl Streams {
    pub fn new(limits: CaptureLimits, mut opts: ParseOptions) -> Self {
        // The message a SIP framer holds counts in the flow's bytes.
        let flow_max = u32::try_from(limits.max_flow_bytes).unwrap_or(u32::MAX);
        opts.limits.max_message = opts.limits.max_message.min(flow_max);
        Streams {
            limits,
            opts,
            flows: HashMap::default(),
            order: BTreeMap::new(),
            held: 0,
            next_id: 0,
            granularity: (limits.flow_idle_ns / 16).clamp(0, 1_000_000_000),
        }
    }

    /// Flows tracked (open, or closed TCP directions remembered for their retransmissions).
    pub fn flows(&self) -> usize {
        self.flows.len()
    }

    /// Bytes held by all flows.
    pub fn held(&self) -> usize {
        self.held
    }

    /// One TCP segment (`seg.l4` is `L4::Tcp`).
    pub fn tcp(
        &mut self,
        time_ns: i64,
        frame: u64,
        seg: &Segment<'_>,
        stats: &mut StreamStats,
        out: &mut dyn FnMut(Unit<'_>),
    ) {
        let L4::Tcp { seq, flags, .. } = seg.l4 else {
            return;
        };
        stats.tcp_segments += 1;
        if seg.payload.is_empty() && flags & (SYN | FIN | RST) == 0 {
            return; // a bare ACK
        }
        let key = FlowKey::Tcp(seg.src, seg.dst);
        let syn = flags & SYN != 0;
        // A SYN with another ISN, or data past the end of a closed direction: a new
        // connection on the same ports.
        let tracked = match self.flows.get(&key).map(|f| &f.state) {
            Some(FlowState::Tcp(t)) => {
                !((syn && t.seq.isn() != Some(seq))
                    || (!syn && !seg.payload.is_empty() && t.seq.is_past_end(seq)))
            }
            _ => false,
        };
        if !tracked {
            self.close(key, Why::Replaced, stats, out);
            if seg.payload.is_empty() && !syn {
                return; // FIN or RST of a direction not tracked
            }
            if !self.make_room(key, stats, out) {
                stats.stream_untracked_bytes += seg.payload.len() as u64;
                return;
            }
            stats.tcp_flows += 1;
            let entry = TcpEntry {
                seq: TcpFlow::new(seq, syn),
                content: Content::Sniff {
                    held: Vec::new(),
                    at_start: syn,
                },
            };
            self.insert(key, time_ns, FlowState::Tcp(Box::new(entry)));
        }
        let Streams {
            limits,
            opts,
            flows,
            order,
            held,
            granularity,
            ..
        } = self;
        let Some(flow) = flows.get_mut(&key) else {
            return;
        };
        touch(flow, key, time_ns, frame, *granularity, order);
        let others = held.saturating_sub(flow.held);
        if let FlowState::Tcp(t) = &mut flow.state {
            let TcpEntry {
                seq: reasm,
                content,
            } = &mut **t;
            // Past the total, the least recently active flows make way (enforce_memory).
            let max = limits.max_flow_bytes.min(limits.max_stream_bytes);
            let mut cx = Cx {
                time_ns,
                frame,
                src: seg.src,
                dst: seg.dst,
                opts,
                max_flow_bytes: limits.max_flow_bytes,
                stats,
                out,
            };
            let mut sink = Deliver {
                content,
                cx: &mut cx,
            };
            reasm.segment(seq, flags, seg.payload, max, &mut sink);
        }
        let now = flow.holds();
        *held = others + now;
        flow.held = now;
        self.enforce_memory(key, stats, out);
    }

    /// One SCTP packet (`seg.l4` is `L4::Sctp`, `seg.payload` its chunks).
    pub fn sctp(
        &mut self,
        time_ns: i64,
        frame: u64,
        seg: &Segment<'_>,
        stats: &mut StreamStats,
        out: &mut dyn FnMut(Unit<'_>),
    ) {
        let L4::Sctp { vtag } = seg.l4 else {
            return;
        };
        if !sctp::has_data(seg.payload) {
            return;
        }
        let key = FlowKey::Sctp(seg.src, seg.dst, vtag);
        if !self.flows.contains_key(&key) {
            if !self.make_room(key, stats, out) {
                stats.stream_untracked_bytes += seg.payload.len() as u64;
                return;
            }
            self.insert(key, time_ns, FlowState::Sctp(Box::default()));
        }
        let Streams {
            limits,
            flows,
            order,
            held,
            granularity,
            ..
        } = self;
        let Some(flow) = flows.get_mut(&key) else {
            return;
        };
        touch(flow, key, time_ns, frame, *granularity, order);
        let others = held.saturating_sub(flow.held);
        if let FlowState::Sctp(a) = &mut flow.state {
            let max = limits.max_flow_bytes.min(limits.max_stream_bytes);
            a.packet(seg.payload, max, stats, &mut |m| {
                out(Unit {
                    time_ns,
                    frame,
                    src: seg.src,
                    dst: seg.dst,
                    transport: Transport::Sctp,
                    kind: UnitKind::Datagram(m),
                })
            });
        }
        let now = flow.holds();
        *held = others + now;
        flow.held = now;
        self.enforce_memory(key, stats, out);
    }

    /// Closes the flows idle for `flow_idle_ns` at capture time `now_ns`, flushing what they
    /// hold (a message cut short comes out as an error).
    pub fn expire(&mut self, now_ns: i64, stats: &mut StreamStats, out: &mut dyn FnMut(Unit<'_>)) {
        let threshold = now_ns.saturating_sub(self.limits.flow_idle_ns);
        while let Some((&(at, id), &key)) = self.order.first_key_value() {
            if at > threshold {
                return;
            }
            let last = match self.flows.get(&key) {
                Some(f) if f.id == id => f.last_ns,
                _ => {
                    self.order.pop_first(); // stale (cannot happen; never spin on it)
                    continue;
                }
            };
            if last <= threshold {
                self.close(key, Why::Idle, stats, out);
            } else if let Some(f) = self.flows.get_mut(&key) {
                // Active since its place was taken: put it where it belongs now.
                self.order.pop_first();
                self.order.insert((last, id), key);
                f.order_ns = last;
            }
        }
    }

    /// The end of the capture: every flow is flushed and closed.
    pub fn finish(&mut self, stats: &mut StreamStats, out: &mut dyn FnMut(Unit<'_>)) {
        while let Some((_, &key)) = self.order.first_key_value() {
            self.close(key, Why::Replaced, stats, out);
        }
        self.flows.clear();
        self.held = 0;
    }

    fn insert(&mut self, key: FlowKey, time_ns: i64, state: FlowState) {
        let id = self.next_id;
        self.next_id += 1;
        self.order.insert((time_ns, id), key);
        self.flows.insert(
            key,
            Flow {
                id,
                order_ns: time_ns,
                last_ns: time_ns,
                last_frame: 0,
                held: 0,
                state,
            },
        );
    }

    /// Makes room in the table for one more flow: the least recently active one is closed
    /// when `max_flows` are tracked. False when no flow can be tracked at all.
    fn make_room(
        &mut self,
        key: FlowKey,
        stats: &mut StreamStats,
        out: &mut dyn FnMut(Unit<'_>),
    ) -> bool {
        while self.flows.len() >= self.limits.max_flows {
            let Some((_, &old)) = self.order.first_key_value() else {
                return false;
            };
            if old == key {
                return false;
            }
            self.close(old, Why::Evicted, stats, out);
        }
        self.limits.max_flows > 0
    }

    /// Closes the least recently active flows (not `keep`) while more than
    /// `max_stream_bytes` are held.
    fn enforce_memory(
        &mut self,
        keep: FlowKey,
        stats: &mut StreamStats,
        out: &mut dyn FnMut(Unit<'_>),
    ) {
        let mut cursor = None;
        while self.held > self.limits.max_stream_bytes {
            let kept = self.flows.get(&keep).map_or(0, |f| f.held);
            if self.held <= kept {
                return; // only `keep` holds anything
            }
            let next = match cursor {
                None => self.order.iter().next(),
                Some(c) => self
                    .order
                    .range((std::ops::Bound::Excluded(c), std::ops::Bound::Unbounded))
                    .next(),
            };
            let Some((&at, &old)) = next else {
                return;
            };
            if old == keep || self.flows.get(&old).is_some_and(|f| f.held == 0) {
                cursor = Some(at); // holds nothing: closing it frees nothing
                continue;
            }
            self.close(old, Why::Memory, stats, out);
        }
    }

    /// Closes the flow `key`: its held bytes are handed on (gaps skipped), a message cut
    /// short comes out as an error, and it leaves the table.
    fn close(
        &mut self,
        key: FlowKey,
        why: Why,
        stats: &mut StreamStats,
        out: &mut dyn FnMut(Unit<'_>),
    ) {
        let Some(mut flow) = self.flows.remove(&key) else {
            return;
        };
        self.order.remove(&(flow.order_ns, flow.id));
        self.held = self.held.saturating_sub(flow.held);
        if flow.is_open() {
            match why {
                Why::Evicted => stats.stream_evicted_flows += 1,
                Why::Memory => stats.stream_memory_evictions += 1,
                Why::Idle => stats.stream_expired_flows += 1,
                Why::Replaced => {}
            }
        }
        let (src, dst) = key.ends();
        match &mut flow.state {
            FlowState::Tcp(t) => {
                let TcpEntry { seq, content } = &mut **t;
                let mut cx = Cx {
                    time_ns: flow.last_ns,
                    frame: flow.last_frame,
                    src,
                    dst,
                    opts: &self.opts,
                    max_flow_bytes: self.limits.max_flow_bytes,
                    stats,
                    out,
                };
                seq.close(
                    None,
                    &mut Deliver {
                        content,
                        cx: &mut cx,
                    },
                );
            }
            FlowState::Sctp(a) => a.drop_all(stats),
        }
    }
}

/// Notes a flow's activity; its place in `order` moves once it is `granularity` stale.
fn touch(
    flow: &mut Flow,
    key: FlowKey,
    time_ns: i64,
    frame: u64,
    granularity: i64,
    order: &mut BTreeMap<(i64, u64), FlowKey>,
) {
    flow.last_ns = flow.last_ns.max(time_ns);
    flow.last_frame = frame;
    if flow.last_ns.saturating_sub(flow.order_ns) > granularity {
        order.remove(&(flow.order_ns, flow.id));
        order.insert((flow.last_ns, flow.id), key);
        flow.order_ns = flow.last_ns;
    }
}
