//! RTP and RTCP statistics per stream (RFC 3550), telephone-events (RFC 4733) as DTMF.
//!
//! ## Theory of operation
//!
//! The pipeline hands [`RtpTracker::sdp`] the SDP body of every SIP message and
//! [`RtpTracker::packet`] every UDP payload that was neither SIP nor HEP.
//!
//! - **Deferred learning.** Until the first datagram that may be RTP or RTCP (version 2), SDP
//!   bodies are only copied into a bounded queue (`max_media_endpoints` bodies, 64 bytes of
//!   body per endpoint slot): a capture of the signalling alone (`port 5060`, a common filter)
//!   never pays for reading them. That datagram learns the queue in order, then every later body
//!   is learnt as it comes, so the tables are what learning each body at once would give.
//!   Bodies pushed out of a full queue are counted `rtp_sdp_dropped` when RTP does come, and
//!   with the bodies still queued as `rtp_sdp_unread` when it never does.
//! - **Expected endpoints.** Each RTP `m=` line of an SDP (with its media or session `c=`)
//!   says where its author receives RTP; `a=rtcp` (RFC 3605), `a=rtcp-mux` (RFC 5761) or port+1
//!   (RFC 3550 §11) where it receives RTCP. Those endpoints, with the payload-type map and the
//!   Call-ID, go into a table bounded by `max_media_endpoints` (oldest announced first out).
//! - **A packet** is tried as RTCP when its second byte is 192-223 (RFC 5761 §4), else as RTP.
//!   A stream is keyed by (source, destination, SSRC), as tshark keys them. A packet of a
//!   known stream costs one hash lookup and a few integer and float operations
//!   (`stats::SeqStats`). A packet of no stream becomes one when it goes to or comes from an
//!   expected endpoint, or else when the strict heuristic below confirms it.
//! - **Heuristic** (for streams whose signalling was not captured): version 2, a payload type
//!   that is a static audio/video one or dynamic (96-127), CSRC count, extension and padding
//!   that fit the datagram and leave a payload; then a *second* packet of the same SSRC on the
//!   same 5-tuple within [`CANDIDATE_TTL_NS`], with a sequence number 1 to [`MAX_SEQ_STEP`]
//!   ahead and a timestamp step of at most one second of media per packet. Until then the
//!   first packet waits in a bounded candidate table. SIP (ASCII), STUN and DTLS never have
//!   version 2; DNS and other junk that happens to never confirms.
//! - **RTCP**: compound packets checked as RFC 3550 A.2 says (strictly, first packet SR or RR,
//!   when no SDP announced the endpoint); SR and RR counted per sending SSRC, and each report
//!   block's figures kept for the SSRC it reports on, to be shown on that stream's row.
//! - **Telephone-events** (`dtmf.rs`): on the payload type SDP maps to `telephone-event`, or on
//!   PT 101 when no SDP maps it (then only with 4-byte payloads, event 0-16, R bit clear).
//!
//! Every table is bounded (streams and RTCP SSRCs by `max_rtp_streams`, candidates likewise,
//! DTMF rows by 16 × `max_rtp_streams`) and what a bound refuses is counted in [`RtpStats`].
//! A full stream table first retires streams idle for `flow_idle_ns` of capture time (their
//! rows are kept, see [`RtpTracker::take_retired`]).

mod dtmf;
mod header;
mod media;
mod stats;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use sipwire::sdp::SessionDescription;
use sipwire::ParseOptions;

use crate::stats::Counters;
use crate::types::{CaptureLimits, Endpoint};

use dtmf::{EventState, Step};
use header::{ReportBlock, RtpHeader};
use media::MediaInfo;
use stats::SeqStats;

/// A heuristic candidate not confirmed within this much capture time is forgotten.
pub const CANDIDATE_TTL_NS: i64 = 5_000_000_000;
/// The largest sequence step (packets lost in between + 1) that confirms a candidate.
pub const MAX_SEQ_STEP: u16 = 8;
/// DTMF rows kept per `max_rtp_streams`.
const DTMF_PER_STREAM: usize = 16;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Counters of the RTP stage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RtpStats {
    /// RTP packets counted in a stream.
    pub rtp_packets: u64,
    /// Streams found through an SDP-announced endpoint.
    pub rtp_streams_sdp: u64,
    /// Streams found by the heuristic (confirmed by a second packet).
    pub rtp_streams_heuristic: u64,
    /// RTP packets of streams not tracked because the stream table was full.
    pub rtp_streams_refused: u64,
    /// Idle streams retired early (their rows kept) to make room in a full table.
    pub rtp_streams_retired: u64,
    /// Heuristic candidates opened (a first RTP-looking packet of an unknown 5-tuple and SSRC).
    pub rtp_candidates: u64,
    /// Candidates never confirmed (replaced by a packet that did not confirm them, expired, or
    /// left at the end of the read).
    pub rtp_candidates_unconfirmed: u64,
    /// RTP-looking packets not even made candidates because the candidate table was full.
    pub rtp_candidates_dropped: u64,
    /// SDP bodies seen (learnt, queued or dropped).
    pub rtp_sdp_bodies: u64,
    /// SDP bodies never read because no datagram that may be RTP or RTCP came after them (a
    /// capture of signalling alone), counted when the read ends.
    pub rtp_sdp_unread: u64,
    /// SDP bodies pushed out of the full queue before the first datagram that may be RTP or
    /// RTCP came: their calls' RTP can be found only by the heuristic.
    pub rtp_sdp_dropped: u64,
    /// SDP bodies that did not parse.
    pub rtp_sdp_errors: u64,
    /// RTP media sections learnt from SDP (each an expected RTP endpoint, plus RTCP).
    pub rtp_sdp_media: u64,
    /// RTP media sections skipped because their address is not an IP address (FQDN) or is the
    /// hold address 0.0.0.0.
    pub rtp_sdp_unusable: u64,
    /// Expected endpoints evicted from a full table (oldest announced first).
    pub rtp_media_endpoints_evicted: u64,
    /// RTCP compound packets accepted.
    pub rtcp_packets: u64,
    /// Sender reports.
    pub rtcp_sr: u64,
    /// Receiver reports.
    pub rtcp_rr: u64,
    /// Report blocks read from SR and RR.
    pub rtcp_report_blocks: u64,
    /// RTCP-looking packets to or from an expected endpoint that failed the RFC 3550 A.2
    /// checks, or whose SR/RR was shorter than its report count says.
    pub rtcp_malformed: u64,
    /// RTCP compound packets (among `rtcp_packets`) that repeated their sender's last one
    /// within 20 ms (a frame captured twice): their reports not counted again.
    pub rtcp_captured_twice: u64,
    /// RTCP senders or reported-on SSRCs not tracked because the table was full.
    pub rtcp_ssrcs_dropped: u64,
    /// RTP packets that repeated one of their stream's last few within 20 ms (a frame captured
    /// twice, or a duplicate on the wire; see `RtpStreamRow::captured_twice`).
    pub rtp_captured_twice: u64,
    /// Telephone-events decoded (rows of the dtmf table).
    pub dtmf_events: u64,
    /// Telephone-events not kept because the DTMF table was full.
    pub dtmf_dropped: u64,
}

impl Counters for RtpStats {
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("rtp_packets", self.rtp_packets);
        f("rtp_streams_sdp", self.rtp_streams_sdp);
        f("rtp_streams_heuristic", self.rtp_streams_heuristic);
        f("rtp_streams_refused", self.rtp_streams_refused);
        f("rtp_streams_retired", self.rtp_streams_retired);
        f("rtp_candidates", self.rtp_candidates);
        f(
            "rtp_candidates_unconfirmed",
            self.rtp_candidates_unconfirmed,
        );
        f("rtp_candidates_dropped", self.rtp_candidates_dropped);
        f("rtp_sdp_bodies", self.rtp_sdp_bodies);
        f("rtp_sdp_unread", self.rtp_sdp_unread);
        f("rtp_sdp_dropped", self.rtp_sdp_dropped);
        f("rtp_sdp_errors", self.rtp_sdp_errors);
        f("rtp_sdp_media", self.rtp_sdp_media);
        f("rtp_sdp_unusable", self.rtp_sdp_unusable);
        f(
            "rtp_media_endpoints_evicted",
            self.rtp_media_endpoints_evicted,
        );
        f("rtcp_packets", self.rtcp_packets);
        f("rtcp_sr", self.rtcp_sr);
        f("rtcp_rr", self.rtcp_rr);
        f("rtcp_report_blocks", self.rtcp_report_blocks);
        f("rtcp_malformed", self.rtcp_malformed);
        f("rtcp_captured_twice", self.rtcp_captured_twice);
        f("rtcp_ssrcs_dropped", self.rtcp_ssrcs_dropped);
        f("rtp_captured_twice", self.rtp_captured_twice);
        f("dtmf_events", self.dtmf_events);
        f("dtmf_dropped", self.dtmf_dropped);
    }
}

/// One RTP stream: packets of one SSRC from one source to one destination (tshark's key).
/// Times are capture times in ns since the Unix epoch; "ms" figures are f64 milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct RtpStreamRow {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub ssrc: u32,
    /// Payload type of the first packet.
    pub payload_type: u8,
    /// Every payload type seen, ascending (tshark's "Payload" column lists them so).
    pub payload_types: Vec<u8>,
    /// Encoding name of the first payload type: SDP's rtpmap, else RFC 3551's static name;
    /// `None` for a dynamic PT no SDP named.
    pub codec: Option<String>,
    /// Clock rate (Hz) used for jitter: that of the last packet that had one, 0 when none had
    /// (then no jitter was computed, as tshark does for unknown payload types).
    pub clock_rate: u32,
    /// Packets received; copies included unless the capture holds the stream twice (see
    /// `captured_twice`).
    pub packets: u64,
    /// Packets expected from the sequence numbers: last − first + 1, plus 65536 per wrap.
    pub expected: i64,
    /// `expected − packets`; negative when duplicates outnumber losses (as tshark shows).
    pub lost: i64,
    /// Times the sequence number was not the next one (jump, late, duplicate), as tshark counts
    /// "wrong sequence".
    pub sequence_errors: u64,
    /// tshark's "Problems?" mark: a sequence error or a timestamp before the first.
    pub problem: bool,
    /// Packets that repeated one of the stream's last few (sequence number and timestamp)
    /// within 20 ms. When they are at least half of its other packets the capture holds the
    /// stream twice, and every figure above leaves them out; otherwise they are duplicates
    /// on the wire, counted in the figures as tshark counts them.
    pub captured_twice: u64,
    /// Smallest gap between arrivals (ms) over the packets that count (see `rtp/stats.rs`); `None`
    /// with a single packet.
    pub min_delta_ms: Option<f64>,
    /// tshark's running mean of the arrival gaps (ms).
    pub mean_delta_ms: f64,
    /// Largest gap between arrivals (ms).
    pub max_delta_ms: f64,
    /// Frame where the largest gap ended.
    pub max_delta_frame: Option<u64>,
    /// Interarrival jitter (RFC 3550 §6.4.1, A.8), ms: smallest, running mean and largest.
    pub min_jitter_ms: Option<f64>,
    pub mean_jitter_ms: f64,
    pub max_jitter_ms: f64,
    pub first_time_ns: i64,
    pub last_time_ns: i64,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Call-ID of the SIP dialog whose SDP announced an endpoint of this stream.
    pub call_id: Option<String>,
    /// Found through SDP (false: by the heuristic).
    pub from_sdp: bool,
    /// RTCP sender reports sent by this SSRC.
    pub rtcp_sr: u64,
    /// RTCP receiver reports sent by this SSRC.
    pub rtcp_rr: u64,
    /// Sender's packet and octet counts of this SSRC's last SR (RFC 3550 §6.4.1).
    pub rtcp_sender_packets: Option<u32>,
    pub rtcp_sender_octets: Option<u32>,
    /// Report blocks received about this SSRC (from the receivers' SR/RR).
    pub rtcp_reports: u64,
    /// From the last report block about this SSRC: the reporter's SSRC, fraction lost (0-1,
    /// the 8-bit field / 256), cumulative lost (signed), extended highest sequence number and
    /// interarrival jitter in ms (the field / clock rate; `None` when the clock is unknown).
    pub rtcp_reporter_ssrc: Option<u32>,
    pub rtcp_fraction_lost: Option<f64>,
    pub rtcp_cumulative_lost: Option<i32>,
    pub rtcp_highest_seq: Option<u32>,
    pub rtcp_jitter_ms: Option<f64>,
}

/// Where a DTMF digit was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtmfSource {
    /// A telephone-event in RTP (RFC 4733).
    Rtp,
    /// A SIP INFO request's body (`application/dtmf-relay` or `application/dtmf`).
    Info,
}

impl DtmfSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DtmfSource::Rtp => "rtp",
            DtmfSource::Info => "info",
        }
    }
}

/// One DTMF digit: a telephone-event (RFC 4733), one row however many packets carried it, or
/// a digit sent in a SIP INFO request (the RTP fields `None`).
#[derive(Clone, Debug, PartialEq)]
pub struct DtmfRow {
    /// Capture time and frame of the event's first packet (of the INFO's earliest copy; frame
    /// 0, the correlator does not keep frames).
    pub time_ns: i64,
    pub frame: u64,
    pub src: Endpoint,
    pub dst: Endpoint,
    pub source: DtmfSource,
    pub ssrc: Option<u32>,
    /// "0"-"9", "*", "#", "A"-"D", or "flash" (event 16); `None` for other events (RFC 4733
    /// §3.2 defines only 0-16 for DTMF; tones of RFC 4734 keep their code in `event`).
    pub digit: Option<&'static str>,
    /// The event code (RFC 4733 §2.3).
    pub event: u8,
    /// The event's RTP timestamp (its start, in the stream's clock).
    pub rtp_timestamp: Option<u32>,
    /// Duration in ms: the final duration (of the end packet, else the longest seen) / clock;
    /// an INFO's `Duration`, when it gave one.
    pub duration_ms: Option<f64>,
    /// The duration field in timestamp units.
    pub duration: Option<u16>,
    /// Volume, in −dBm0 (0-63, RFC 4733 §2.3).
    pub volume: Option<u8>,
    /// An end packet (E bit) was seen.
    pub end_seen: Option<bool>,
    /// Packets of this event counted (the redundant end packets after the first not).
    pub packets: Option<u32>,
    /// Call-ID of the stream's SDP, if any.
    pub call_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StreamKey {
    src: Endpoint,
    dst: Endpoint,
    ssrc: u32,
}

/// An address as 128 bits for hashing (IPv4 as its v4-mapped IPv6 form: the two then hash
/// alike, which equality still tells apart).
#[inline]
fn ip_bits(ip: &std::net::IpAddr) -> u128 {
    match ip {
        std::net::IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
        std::net::IpAddr::V6(a) => u128::from(*a),
    }
}

impl std::hash::Hash for StreamKey {
    /// Three fixed-size writes instead of the derived field-by-field walk (the per-packet path
    /// hashes one key per packet).
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u128(ip_bits(&self.src.ip));
        h.write_u128(ip_bits(&self.dst.ip));
        h.write_u64(
            (u64::from(self.src.port) << 48)
                | (u64::from(self.dst.port) << 32)
                | u64::from(self.ssrc),
        );
    }
}

struct Stream {
    stats: SeqStats,
    media: Option<Arc<MediaInfo>>,
    from_sdp: bool,
    /// The SDP epoch at which `media` was last looked for (a stream the heuristic found picks
    /// up a later SDP's Call-ID and payload map).
    epoch: u64,
    first_time_ns: i64,
    last_time_ns: i64,
    first_frame: u64,
    last_frame: u64,
    /// Clock-rate cache for the last payload type seen (tshark's per-PT rate).
    clock_pt: u8,
    clock: u32,
    /// The telephone-event payload type, its clock, and whether it is only PT 101 guessed
    /// ([`event_pt`], kept here so that packets do not search the payload map).
    event: (Option<u8>, u32, bool),
    dtmf: EventState,
    /// Its last packets, to tell the copies of a stream captured twice.
    recent: Recent,
    /// Packets that copied one of the last few (`Recent`).
    copies: u64,
    /// The statistics without the copies, from the first copy on (until then they are
    /// `stats`): a stream most of whose packets were copies is reported with these.
    unique: Option<Box<SeqStats>>,
}

/// A stream's last few packets as (sequence number, timestamp, time). A packet with the
/// sequence number and timestamp of one of them, less than [`Recent::WINDOW_NS`] apart, is a
/// copy: one frame seen twice (`tcpdump -i any` over a bridge or VLAN, a mirror port, two
/// probes merged), or a duplicate the network made. Neither can be told from the packet;
/// the stream's share of copies tells them apart (see [`Stream::figures`]).
#[derive(Clone, Copy)]
struct Recent {
    seen: [(u16, u32, i64); Recent::LEN],
    next: u8,
}

impl Recent {
    const LEN: usize = 4;
    const WINDOW_NS: i64 = 20_000_000;

    fn new(seq: u16, ts: u32, time_ns: i64) -> Recent {
        let none = (0, 0, i64::MIN);
        let mut seen = [none; Recent::LEN];
        seen[0] = (seq, ts, time_ns);
        Recent { seen, next: 1 }
    }

    /// Records a packet; whether it copies one of the last few. `next`: its sequence number
    /// follows the stream's highest, so it copies none (the look is skipped).
    #[inline]
    fn copy(&mut self, seq: u16, ts: u32, time_ns: i64, next: bool) -> bool {
        let copy = !next
            && self.seen.iter().any(|&(s, t, at)| {
                s == seq
                    && t == ts
                    && time_ns.saturating_sub(at).saturating_abs() < Recent::WINDOW_NS
            });
        if let Some(slot) = self.seen.get_mut(usize::from(self.next)) {
            *slot = (seq, ts, time_ns);
        }
        self.next = (self.next + 1) % Recent::LEN as u8;
        copy
    }
}

impl Stream {
    /// The statistics its row reports. When at least half of its distinct packets came
    /// twice, the capture holds the stream twice: the figures are those without the copies
    /// (else every stream of such a capture shows −100 % loss). Otherwise a copy is a
    /// duplicate on the wire, counted as tshark counts it (a sequence error, `lost` one
    /// lower).
    fn figures(&self) -> &SeqStats {
        match &self.unique {
            Some(u)
                if self.copies.saturating_mul(2)
                    >= self.stats.packets.saturating_sub(self.copies) =>
            {
                u
            }
            _ => &self.stats,
        }
    }
}

/// An endpoint some SDP announced.
struct Expected {
    media: Arc<MediaInfo>,
    rtp: bool,
    rtcp: bool,
    /// RTCP is on the next port up (RFC 3550 §11, no `a=rtcp`): kept in this entry rather
    /// than one of its own, which halves the table's inserts.
    rtcp_next: bool,
    /// Insertion generation, to find this entry's place in the eviction queue.
    gen: u64,
}

/// The first packet of a heuristic candidate, kept to be counted once confirmed.
#[derive(Clone, Copy)]
struct Candidate {
    time_ns: i64,
    frame: u64,
    h: RtpHeader,
    /// Its payload when it was 4 bytes (a possible telephone-event).
    event: Option<[u8; 4]>,
    /// The time and frame of its copy (`Recent`), counted with it once confirmed.
    copy: Option<(i64, u64)>,
}

/// What RTCP said about one SSRC.
#[derive(Clone, Copy, Default)]
struct RtcpSsrc {
    sr: u64,
    rr: u64,
    sender_packets: Option<u32>,
    sender_octets: Option<u32>,
    reports: u64,
    last: Option<(u32, ReportBlock)>,
    /// The fingerprint and time of the last compound packet this SSRC sent first in.
    last_packet: Option<(u64, i64)>,
}

/// RTP/RTCP statistics and DTMF of one read. See the module documentation.
pub struct RtpTracker {
    limits: CaptureLimits,
    streams: Map<StreamKey, Stream>,
    expected: Map<Endpoint, Expected>,
    /// Expected endpoints in announcement order, for eviction (stale entries skipped).
    expected_order: VecDeque<(Endpoint, u64)>,
    expected_gen: u64,
    /// Bumped by every SDP that announced something.
    epoch: u64,
    candidates: Map<StreamKey, Candidate>,
    rtcp: Map<u32, RtcpSsrc>,
    dtmf: Vec<DtmfRow>,
    retired: Vec<RtpStreamRow>,
    next_stream_sweep_ns: i64,
    next_candidate_sweep_ns: i64,
    /// The SDP parser's vectors, reused from body to body.
    sdp_buffers: Option<sipwire::sdp::Buffers>,
    /// Payload-type lists and Call-IDs handed out again to the next media sections.
    shared: media::Shared,
    /// The payload types of the media section being learnt (reused).
    pts: Vec<media::PtEntry>,
    /// SDP bodies not learnt yet (Call-ID and body in one allocation, the Call-ID's length),
    /// while `deferring`.
    pending: VecDeque<(Box<[u8]>, usize)>,
    pending_bytes: usize,
    /// Bodies pushed out of the full queue: `rtp_sdp_dropped` once RTP has come (their calls'
    /// RTP is then found only by the heuristic), `rtp_sdp_unread` if it never does.
    pending_dropped: u64,
    /// True until the first datagram that may be RTP or RTCP.
    deferring: bool,
}

/// Body bytes the deferred queue may hold per `max_media_endpoints` slot.
const PENDING_BYTES_PER_ENDPOINT: usize = 64;

impl RtpTracker {
    pub fn new(limits: CaptureLimits) -> RtpTracker {
        RtpTracker {
            limits,
            streams: Map::default(),
            expected: Map::default(),
            expected_order: VecDeque::new(),
            expected_gen: 0,
            epoch: 0,
            candidates: Map::default(),
            rtcp: Map::default(),
            dtmf: Vec::new(),
            retired: Vec::new(),
            next_stream_sweep_ns: i64::MIN,
            next_candidate_sweep_ns: i64::MIN,
            sdp_buffers: None,
            shared: media::Shared::default(),
            pts: Vec::new(),
            pending: VecDeque::new(),
            pending_bytes: 0,
            pending_dropped: 0,
            deferring: true,
        }
    }

    /// Takes an SDP body: queued while no datagram that may be RTP or RTCP has come, else
    /// learnt (see the module's "Deferred learning").
    pub fn sdp(&mut self, _time_ns: i64, call_id: &[u8], body: &[u8], stats: &mut RtpStats) {
        stats.rtp_sdp_bodies += 1;
        if !self.deferring {
            self.learn(call_id, body, stats);
            return;
        }
        let max_bodies = self.limits.max_media_endpoints.max(1);
        let max_bytes = max_bodies.saturating_mul(PENDING_BYTES_PER_ENDPOINT);
        let mut both = Vec::with_capacity(call_id.len() + body.len());
        both.extend_from_slice(call_id);
        both.extend_from_slice(body);
        self.pending_bytes += both.len();
        self.pending
            .push_back((both.into_boxed_slice(), call_id.len()));
        while self.pending.len() > max_bodies
            || (self.pending_bytes > max_bytes && self.pending.len() > 1)
        {
            let Some((old, _)) = self.pending.pop_front() else {
                break;
            };
            self.pending_bytes -= old.len();
            self.pending_dropped += 1;
        }
    }

    /// Learns the queued bodies in order and stops queueing.
    fn learn_pending(&mut self, stats: &mut RtpStats) {
        self.deferring = false;
        let pending = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        stats.rtp_sdp_dropped += std::mem::take(&mut self.pending_dropped);
        for (both, split) in pending {
            let (call_id, body) = both.split_at(split.min(both.len()));
            self.learn(call_id, body, stats);
        }
    }

    /// Learns the media endpoints of one SDP body carried by a SIP message of dialog `call_id`
    /// (the body alone, already taken out of any multipart). Endpoints are evicted in
    /// announcement order, which in a capture is time order, so no time is needed.
    fn learn(&mut self, call_id: &[u8], body: &[u8], stats: &mut RtpStats) {
        let mut diags = Vec::new();
        let buffers = self.sdp_buffers.take().unwrap_or_default();
        let Ok(sd) =
            SessionDescription::parse_reusing(body, &ParseOptions::LIBERAL, &mut diags, buffers)
        else {
            stats.rtp_sdp_errors += 1;
            return;
        };
        let call_id = self.shared.call_id(call_id);
        let mut learnt = false;
        for m in sd.media() {
            if !m.is_rtp() || m.is_disabled() {
                continue;
            }
            let Some(rtp) = m.rtp_endpoint() else {
                stats.rtp_sdp_unusable += 1;
                continue;
            };
            let Some(ip) = media::connection_ip(rtp.address) else {
                stats.rtp_sdp_unusable += 1;
                continue;
            };
            let event_pt = media::read_pts(&m, &mut self.pts);
            let info = Arc::new(MediaInfo {
                call_id: call_id.clone(),
                pts: self.shared.pts(&self.pts),
                event_pt,
            });
            let rtp_ep = Endpoint { ip, port: rtp.port };
            let rtcp_ep = m.rtcp_endpoint().map(|rc| Endpoint {
                ip: media::connection_ip(rc.address).unwrap_or(ip),
                port: rc.port,
            });
            let next = rtp.port.checked_add(1).map(|port| Endpoint { ip, port });
            let rtcp_next = rtcp_ep.is_some() && rtcp_ep == next;
            self.expect(rtp_ep, &info, true, rtcp_next, stats);
            if let Some(rc) = rtcp_ep.filter(|_| !rtcp_next) {
                self.expect(rc, &info, false, false, stats);
            }
            stats.rtp_sdp_media += 1;
            learnt = true;
        }
        if learnt {
            self.epoch += 1;
        }
        self.sdp_buffers = Some(sd.into_buffers());
    }

    /// The addresses whose endpoints [`RtpTracker::sdp`] would learn from this SDP body (the
    /// distributed engines send an SDP to the groups of RTP between those addresses).
    pub fn sdp_addresses(body: &[u8]) -> Vec<std::net::IpAddr> {
        let mut diags = Vec::new();
        let Ok(sd) = SessionDescription::parse(body, &ParseOptions::LIBERAL, &mut diags) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for m in sd.media() {
            if !m.is_rtp() || m.is_disabled() {
                continue;
            }
            let Some(ip) = m
                .rtp_endpoint()
                .and_then(|r| media::connection_ip(r.address))
            else {
                continue;
            };
            out.push(ip);
            if let Some(rc) = m.rtcp_endpoint() {
                out.push(media::connection_ip(rc.address).unwrap_or(ip));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn expect(
        &mut self,
        ep: Endpoint,
        info: &Arc<MediaInfo>,
        rtp: bool,
        rtcp_next: bool,
        stats: &mut RtpStats,
    ) {
        let max = self.limits.max_media_endpoints.max(1);
        // The table is large and probed at random: one lookup on the common path (the
        // eviction check only once it is full).
        while self.expected.len() >= max && !self.expected.contains_key(&ep) {
            let Some((old, gen)) = self.expected_order.pop_front() else {
                break;
            };
            if self.expected.get(&old).is_some_and(|e| e.gen == gen) {
                self.expected.remove(&old);
                stats.rtp_media_endpoints_evicted += 1;
            }
        }
        let gen = self.expected_gen + 1;
        let fresh = Expected {
            media: info.clone(),
            rtp,
            rtcp: !rtp,
            rtcp_next,
            gen,
        };
        match self.expected.entry(ep) {
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let e = o.get_mut();
                if Arc::ptr_eq(&e.media, info) {
                    // RTP and RTCP on one port (rtcp-mux).
                    e.rtp |= rtp;
                    e.rtcp |= !rtp;
                    e.rtcp_next |= rtcp_next;
                    return;
                }
                *e = fresh;
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(fresh);
            }
        }
        self.expected_gen = gen;
        self.expected_order.push_back((ep, gen));
        // Re-announced endpoints leave stale queue entries; drop them before they pile up.
        if self.expected_order.len() > 2 * max + 16 {
            let expected = &self.expected;
            self.expected_order
                .retain(|(ep, g)| expected.get(ep).is_some_and(|e| e.gen == *g));
        }
    }

    /// The media of an expected endpoint the packet goes to or comes from.
    fn expected_for(&self, src: &Endpoint, dst: &Endpoint, rtp: bool) -> Option<&Arc<MediaInfo>> {
        let ok = |e: &&Expected| if rtp { e.rtp } else { e.rtcp || e.rtp };
        let found = self
            .expected
            .get(dst)
            .filter(ok)
            .or_else(|| self.expected.get(src).filter(ok));
        if rtp || found.is_some() {
            return found.map(|e| &e.media);
        }
        // RTCP on the port above an RTP endpoint whose entry holds it.
        let below = |ep: &Endpoint| {
            let port = ep.port.checked_sub(1)?;
            self.expected
                .get(&Endpoint { ip: ep.ip, port })
                .filter(|e| e.rtcp_next)
        };
        below(dst).or_else(|| below(src)).map(|e| &e.media)
    }

    /// One UDP payload that was neither SIP nor HEP. Returns true when it was taken as RTP or
    /// RTCP (counted in a stream or in the RTCP figures); false otherwise, including for the
    /// first packet of a heuristic candidate (counted once the candidate is confirmed).
    pub fn packet(
        &mut self,
        time_ns: i64,
        frame: u64,
        src: Endpoint,
        dst: Endpoint,
        payload: &[u8],
        stats: &mut RtpStats,
    ) -> bool {
        if !header::is_v2(payload) {
            return false;
        }
        if self.deferring {
            self.learn_pending(stats);
        }
        if header::looks_rtcp(payload) {
            return self.rtcp(time_ns, src, dst, payload, stats);
        }
        let Some(h) = header::parse_rtp(payload) else {
            return false;
        };
        let key = StreamKey {
            src,
            dst,
            ssrc: h.ssrc,
        };
        if let Some(s) = self.streams.get_mut(&key) {
            if s.media.is_none() && s.epoch != self.epoch {
                s.epoch = self.epoch;
                let found = self
                    .expected
                    .get(&dst)
                    .filter(|e| e.rtp)
                    .or_else(|| self.expected.get(&src).filter(|e| e.rtp));
                if let Some(e) = found {
                    s.event = event_pt(Some(&e.media));
                    s.media = Some(e.media.clone());
                    s.clock_pt = 0xff;
                }
            }
            let max_dtmf = self.limits.max_rtp_streams.saturating_mul(DTMF_PER_STREAM);
            feed(
                s,
                &key,
                &h,
                payload,
                time_ns,
                frame,
                &mut self.dtmf,
                max_dtmf,
                stats,
            );
            return true;
        }
        if let Some(media) = self.expected_for(&src, &dst, true).cloned() {
            if self.open(key, time_ns, frame, &h, Some(media), stats) {
                stats.rtp_streams_sdp += 1;
                if let Some(s) = self.streams.get_mut(&key) {
                    first_event(s, &key, &h, payload, &mut self.dtmf, &self.limits, stats);
                }
            }
            return true;
        }
        self.heuristic(key, time_ns, frame, &h, payload, stats)
    }

    /// Opens a stream with its first packet; false when the table is full even after retiring
    /// idle streams (the packet is counted as refused).
    fn open(
        &mut self,
        key: StreamKey,
        time_ns: i64,
        frame: u64,
        h: &RtpHeader,
        media: Option<Arc<MediaInfo>>,
        stats: &mut RtpStats,
    ) -> bool {
        let max = self.limits.max_rtp_streams;
        if self.streams.len() >= max && time_ns >= self.next_stream_sweep_ns {
            self.next_stream_sweep_ns = time_ns.saturating_add(self.limits.flow_idle_ns / 8);
            self.retire_idle(time_ns, stats);
        }
        if self.streams.len() >= max {
            stats.rtp_streams_refused += 1;
            return false;
        }
        stats.rtp_packets += 1;
        let from_sdp = media.is_some();
        let event = event_pt(media.as_deref());
        self.streams.entry(key).or_insert(Stream {
            stats: SeqStats::new(time_ns, h.pt, h.seq, h.ts),
            media,
            from_sdp,
            epoch: self.epoch,
            first_time_ns: time_ns,
            last_time_ns: time_ns,
            first_frame: frame,
            last_frame: frame,
            clock_pt: 0xff,
            clock: 0,
            event,
            dtmf: EventState::default(),
            recent: Recent::new(h.seq, h.ts, time_ns),
            copies: 0,
            unique: None,
        });
        true
    }

    /// Moves streams idle for `flow_idle_ns` out of the table, as rows.
    fn retire_idle(&mut self, now_ns: i64, stats: &mut RtpStats) {
        let idle = self.limits.flow_idle_ns;
        let old: Vec<StreamKey> = self
            .streams
            .iter()
            .filter(|(_, s)| now_ns.saturating_sub(s.last_time_ns) > idle)
            .map(|(k, _)| *k)
            .collect();
        for k in old {
            if let Some(mut s) = self.streams.remove(&k) {
                self.flush_event(&k, &mut s, stats);
                let row = row(&k, &s, &self.rtcp);
                self.retired.push(row);
                stats.rtp_streams_retired += 1;
            }
        }
    }

    fn heuristic(
        &mut self,
        key: StreamKey,
        time_ns: i64,
        frame: u64,
        h: &RtpHeader,
        payload: &[u8],
        stats: &mut RtpStats,
    ) -> bool {
        if !plausible(h) {
            return false;
        }
        if let Some(c) = self.candidates.get(&key).copied() {
            if confirms(&c, h, time_ns) {
                self.candidates.remove(&key);
                if !self.open(key, c.time_ns, c.frame, &c.h, None, stats) {
                    // Refused: counts this packet too.
                    stats.rtp_streams_refused += 1;
                    return true;
                }
                stats.rtp_streams_heuristic += 1;
                let Some(s) = self.streams.get_mut(&key) else {
                    return true;
                };
                if let Some(ev) = c.event {
                    first_event(
                        s,
                        &key,
                        &c.h,
                        &ev_packet(&ev),
                        &mut self.dtmf,
                        &self.limits,
                        stats,
                    );
                }
                let max_dtmf = self.limits.max_rtp_streams.saturating_mul(DTMF_PER_STREAM);
                if let Some((copy_ns, copy_frame)) = c.copy {
                    // A copy goes no further than the statistics: no payload needed.
                    let (dtmf, stats) = (&mut self.dtmf, &mut *stats);
                    feed(
                        s,
                        &key,
                        &c.h,
                        &[],
                        copy_ns,
                        copy_frame,
                        dtmf,
                        max_dtmf,
                        stats,
                    );
                }
                feed(
                    s,
                    &key,
                    h,
                    payload,
                    time_ns,
                    frame,
                    &mut self.dtmf,
                    max_dtmf,
                    stats,
                );
                return true;
            }
            let copied = h.seq == c.h.seq
                && h.ts == c.h.ts
                && time_ns.saturating_sub(c.time_ns).saturating_abs() < Recent::WINDOW_NS;
            if copied && c.copy.is_none() {
                if let Some(c) = self.candidates.get_mut(&key) {
                    c.copy = Some((time_ns, frame));
                }
                return false;
            }
            // Not a continuation: this packet becomes the candidate instead.
            stats.rtp_candidates_unconfirmed += 1;
            stats.rtp_candidates += 1;
            self.candidates
                .insert(key, candidate(h, payload, time_ns, frame));
            return false;
        }
        let max = self.limits.max_rtp_streams;
        if self.candidates.len() >= max && time_ns >= self.next_candidate_sweep_ns {
            self.next_candidate_sweep_ns = time_ns.saturating_add(CANDIDATE_TTL_NS / 4);
            let before = self.candidates.len();
            self.candidates
                .retain(|_, c| time_ns.saturating_sub(c.time_ns) <= CANDIDATE_TTL_NS);
            stats.rtp_candidates_unconfirmed += (before - self.candidates.len()) as u64;
        }
        if self.candidates.len() >= max {
            stats.rtp_candidates_dropped += 1;
            return false;
        }
        stats.rtp_candidates += 1;
        self.candidates
            .insert(key, candidate(h, payload, time_ns, frame));
        false
    }

    fn rtcp(
        &mut self,
        time_ns: i64,
        src: Endpoint,
        dst: Endpoint,
        p: &[u8],
        stats: &mut RtpStats,
    ) -> bool {
        let known = self.expected_for(&src, &dst, false).is_some();
        if !header::rtcp_valid(p, !known) {
            if known {
                stats.rtcp_malformed += 1;
            }
            return false;
        }
        stats.rtcp_packets += 1;
        // A compound packet its sender's last one repeats within the window is a copy
        // (`Recent`): not read again.
        let first_sender = header::be32(p, 4);
        let fp = fingerprint(&src, &dst, p);
        let last = first_sender
            .and_then(|s| self.rtcp.get_mut(&s))
            .map(|r| r.last_packet.replace((fp, time_ns)));
        if let Some(Some((f, at))) = last {
            if f == fp && time_ns.saturating_sub(at).saturating_abs() < Recent::WINDOW_NS {
                stats.rtcp_captured_twice += 1;
                return true;
            }
        }
        let max = self.limits.max_rtp_streams;
        for pkt in header::rtcp_packets(p) {
            // RFC 3550 §6.4.1 (SR: SSRC, 20 bytes of sender info, blocks) and §6.4.2 (RR).
            let blocks_at = match pkt.pt {
                200 => 24,
                201 => 4,
                _ => continue,
            };
            let Some(sender) = header::be32(pkt.body, 0) else {
                stats.rtcp_malformed += 1;
                continue;
            };
            if let Some(r) = rtcp_entry(&mut self.rtcp, sender, max, stats) {
                if pkt.pt == 200 {
                    r.sr += 1;
                    r.sender_packets = header::be32(pkt.body, 16);
                    r.sender_octets = header::be32(pkt.body, 20);
                } else {
                    r.rr += 1;
                }
            }
            if pkt.pt == 200 {
                stats.rtcp_sr += 1;
            } else {
                stats.rtcp_rr += 1;
            }
            for i in 0..usize::from(pkt.count) {
                let Some(rb) = pkt
                    .body
                    .get(blocks_at + 24 * i..)
                    .and_then(header::report_block)
                else {
                    stats.rtcp_malformed += 1;
                    break;
                };
                stats.rtcp_report_blocks += 1;
                if let Some(r) = rtcp_entry(&mut self.rtcp, rb.ssrc, max, stats) {
                    r.reports += 1;
                    r.last = Some((sender, rb));
                }
            }
        }
        // A sender first seen now: its entry was made above.
        if last.is_none() {
            if let Some(r) = first_sender.and_then(|s| self.rtcp.get_mut(&s)) {
                r.last_packet = Some((fp, time_ns));
            }
        }
        true
    }

    fn flush_event(&mut self, key: &StreamKey, s: &mut Stream, stats: &mut RtpStats) {
        if let Some(p) = s.dtmf.pending() {
            let max_dtmf = self.limits.max_rtp_streams.saturating_mul(DTMF_PER_STREAM);
            emit(&mut self.dtmf, max_dtmf, key, s, &p, stats);
            s.dtmf.emitted = true;
        }
    }

    /// Rows of streams retired early from a full table, taken out (a pipeline that streams its
    /// output can write them as they come).
    pub fn take_retired(&mut self) -> Vec<RtpStreamRow> {
        std::mem::take(&mut self.retired)
    }

    /// Ends the read: closes open telephone-events, counts unconfirmed candidates, and returns
    /// every stream's row (the retired ones not yet taken first, then the others by first
    /// frame) and every DTMF row (by time). The tracker is left empty.
    pub fn finish(&mut self, stats: &mut RtpStats) -> (Vec<RtpStreamRow>, Vec<DtmfRow>) {
        let mut streams = std::mem::take(&mut self.streams);
        let mut rows = std::mem::take(&mut self.retired);
        let mut live: Vec<_> = streams.drain().collect();
        live.sort_by_key(|(k, s)| (s.first_frame, k.ssrc));
        for (k, s) in live.iter_mut() {
            self.flush_event(k, s, stats);
        }
        rows.extend(live.iter().map(|(k, s)| row(k, s, &self.rtcp)));
        stats.rtp_candidates_unconfirmed += self.candidates.len() as u64;
        self.candidates.clear();
        stats.rtp_sdp_unread +=
            self.pending.len() as u64 + std::mem::take(&mut self.pending_dropped);
        self.pending.clear();
        self.pending_bytes = 0;
        let mut dtmf = std::mem::take(&mut self.dtmf);
        dtmf.sort_by_key(|d| (d.time_ns, d.frame));
        (rows, dtmf)
    }
}

/// A 4-byte event payload as a packet body for [`first_event`].
fn ev_packet(ev: &[u8; 4]) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[0] = 0x80;
    if let Some(dst) = p.get_mut(12..16) {
        dst.copy_from_slice(ev);
    }
    p
}

fn candidate(h: &RtpHeader, payload: &[u8], time_ns: i64, frame: u64) -> Candidate {
    let event = h
        .payload
        .and_then(|(s, e)| payload.get(s..e))
        .and_then(|b| <[u8; 4]>::try_from(b).ok());
    Candidate {
        time_ns,
        frame,
        h: RtpHeader {
            payload: event.map(|_| (12, 16)),
            ..*h
        },
        event,
        copy: None,
    }
}

/// The heuristic's look at one packet: a payload type in use for audio/video (RFC 3551 §6
/// static assignments, or dynamic), and CSRC/extension/padding that fit and leave a payload.
fn plausible(h: &RtpHeader) -> bool {
    let pt_ok = matches!(h.pt, 0 | 3..=18 | 25 | 26 | 28 | 31..=34 | 96..=127);
    pt_ok && h.payload.is_some_and(|(s, e)| e > s)
}

/// Does `h` continue candidate `c`: same payload type family, sequence 1..=MAX_SEQ_STEP ahead,
/// a timestamp step of at most one second of media per packet (90 kHz assumed for dynamic
/// PTs), and within the candidate's lifetime?
fn confirms(c: &Candidate, h: &RtpHeader, time_ns: i64) -> bool {
    let dt = time_ns.saturating_sub(c.time_ns);
    if !(0..=CANDIDATE_TTL_NS).contains(&dt) {
        return false;
    }
    let step = h.seq.wrapping_sub(c.h.seq);
    if step == 0 || step > MAX_SEQ_STEP {
        return false;
    }
    let rate = match media::static_clock(h.pt) {
        0 => 90_000,
        r => r,
    };
    let ts_step = h.ts.wrapping_sub(c.h.ts);
    u64::from(ts_step) <= u64::from(step) * u64::from(rate)
}

/// FNV-1a over a datagram and its addresses: RTCP is rare enough (one compound packet every
/// few seconds a stream) for a plain hash.
fn fingerprint(src: &Endpoint, dst: &Endpoint, p: &[u8]) -> u64 {
    let ports = [src.port.to_be_bytes(), dst.port.to_be_bytes()];
    let ips = [
        ip_bits(&src.ip).to_be_bytes(),
        ip_bits(&dst.ip).to_be_bytes(),
    ];
    let bytes = ips.iter().flatten().chain(ports.iter().flatten()).chain(p);
    bytes.fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn rtcp_entry<'a>(
    map: &'a mut Map<u32, RtcpSsrc>,
    ssrc: u32,
    max: usize,
    stats: &mut RtpStats,
) -> Option<&'a mut RtcpSsrc> {
    if map.len() >= max && !map.contains_key(&ssrc) {
        stats.rtcp_ssrcs_dropped += 1;
        return None;
    }
    Some(map.entry(ssrc).or_default())
}

/// The telephone-event payload type of a stream and its clock: SDP's mapping, else PT 101 when
/// no SDP maps 101 to anything (then `heuristic` is true and the payload is checked harder).
fn event_pt(media: Option<&MediaInfo>) -> (Option<u8>, u32, bool) {
    match media {
        Some(m) => match m.event_pt {
            Some((pt, rate)) => (Some(pt), if rate == 0 { 8000 } else { rate }, false),
            None if m.entry(101).is_none() => (Some(101), 8000, true),
            None => (None, 8000, false),
        },
        None => (Some(101), 8000, true),
    }
}

/// The telephone-event step for one packet of a stream, if it is one.
fn event_step(
    s: &mut Stream,
    h: &RtpHeader,
    payload: &[u8],
    time_ns: i64,
    frame: u64,
) -> Option<Step> {
    let (pt, _, heuristic) = s.event;
    if Some(h.pt) != pt {
        return None;
    }
    let body = h.payload.and_then(|(a, b)| payload.get(a..b))?;
    let e = dtmf::parse_event(body)?;
    if heuristic && (body.len() != 4 || e.event > 16 || e.reserved) {
        return None;
    }
    Some(s.dtmf.packet(h.ts, e, time_ns, frame))
}

fn handle_step(
    step: Step,
    s: &Stream,
    key: &StreamKey,
    out: &mut Vec<DtmfRow>,
    max_dtmf: usize,
    stats: &mut RtpStats,
) {
    match step {
        Step::Continued => {}
        Step::Ended => emit(out, max_dtmf, key, s, &s.dtmf, stats),
        Step::Started { previous, ended } => {
            if let Some(p) = previous {
                emit(out, max_dtmf, key, s, &p, stats);
            }
            if ended {
                emit(out, max_dtmf, key, s, &s.dtmf, stats);
            }
        }
    }
}

fn first_event(
    s: &mut Stream,
    key: &StreamKey,
    h: &RtpHeader,
    payload: &[u8],
    out: &mut Vec<DtmfRow>,
    limits: &CaptureLimits,
    stats: &mut RtpStats,
) {
    let (time_ns, frame) = (s.first_time_ns, s.first_frame);
    if let Some(step) = event_step(s, h, payload, time_ns, frame) {
        let max_dtmf = limits.max_rtp_streams.saturating_mul(DTMF_PER_STREAM);
        handle_step(step, s, key, out, max_dtmf, stats);
    }
}

/// One packet of an open stream: statistics, then telephone-events.
#[inline]
#[allow(clippy::too_many_arguments)]
fn feed(
    s: &mut Stream,
    key: &StreamKey,
    h: &RtpHeader,
    payload: &[u8],
    time_ns: i64,
    frame: u64,
    dtmf_out: &mut Vec<DtmfRow>,
    max_dtmf: usize,
    stats: &mut RtpStats,
) {
    if h.pt != s.clock_pt {
        s.clock_pt = h.pt;
        s.clock = media::stats_clock(h.pt, s.media.as_deref());
    }
    let copy = s.recent.copy(h.seq, h.ts, time_ns, s.stats.is_next(h.seq));
    if copy {
        s.copies += 1;
        stats.rtp_captured_twice += 1;
        if s.unique.is_none() {
            s.unique = Some(Box::new(s.stats.clone()));
        }
    } else if let Some(u) = s.unique.as_mut() {
        unique_update(u, time_ns, frame, h, s.clock);
    }
    s.stats
        .update(time_ns, frame, h.pt, h.marker, h.seq, h.ts, s.clock);
    s.last_time_ns = time_ns;
    s.last_frame = frame;
    stats.rtp_packets += 1;
    // A telephone-event's copy is no packet of the event (nor a new event).
    if copy {
        return;
    }
    if let Some(step) = event_step(s, h, payload, time_ns, frame) {
        handle_step(step, s, key, dtmf_out, max_dtmf, stats);
    }
}

/// The statistics without copies, of a stream that had one: kept out of line, so that the
/// usual packet's path (no copy ever) keeps `SeqStats::update` inlined.
#[cold]
#[inline(never)]
fn unique_update(u: &mut SeqStats, time_ns: i64, frame: u64, h: &RtpHeader, clock: u32) {
    u.update(time_ns, frame, h.pt, h.marker, h.seq, h.ts, clock);
}

fn emit(
    out: &mut Vec<DtmfRow>,
    max: usize,
    key: &StreamKey,
    s: &Stream,
    e: &EventState,
    stats: &mut RtpStats,
) {
    if out.len() >= max {
        stats.dtmf_dropped += 1;
        return;
    }
    stats.dtmf_events += 1;
    let (_, rate, _) = s.event;
    out.push(DtmfRow {
        time_ns: e.start_ns,
        frame: e.frame,
        src: key.src,
        dst: key.dst,
        source: DtmfSource::Rtp,
        ssrc: Some(key.ssrc),
        digit: dtmf::digit(e.event),
        event: e.event,
        rtp_timestamp: Some(e.ts),
        duration_ms: Some(f64::from(e.duration) * 1000.0 / f64::from(rate)),
        duration: Some(e.duration),
        volume: Some(e.volume),
        end_seen: Some(e.end_seen),
        packets: Some(e.packets),
        call_id: s.media.as_ref().map(|m| m.call_id.to_string()),
    });
}

fn row(k: &StreamKey, s: &Stream, rtcp: &Map<u32, RtcpSsrc>) -> RtpStreamRow {
    let st = s.figures();
    let (expected, lost) = st.expected_lost();
    let media = s.media.as_deref();
    let r = rtcp.get(&k.ssrc).copied().unwrap_or_default();
    let jitter_rate = if st.clock_rate != 0 {
        st.clock_rate
    } else {
        media::stats_clock(st.first_pt, media)
    };
    let last = r.last.map(|(_, b)| b);
    RtpStreamRow {
        src: k.src,
        dst: k.dst,
        ssrc: k.ssrc,
        payload_type: st.first_pt,
        payload_types: (0u8..128).filter(|pt| st.pts_seen >> pt & 1 == 1).collect(),
        codec: media::codec_name(st.first_pt, media),
        clock_rate: st.clock_rate,
        packets: st.packets,
        expected,
        lost,
        sequence_errors: st.sequence_errors,
        problem: st.problem,
        captured_twice: s.copies,
        min_delta_ms: st.min_delta_ms,
        mean_delta_ms: st.mean_delta_ms,
        max_delta_ms: st.max_delta_ms,
        max_delta_frame: st.max_delta_frame,
        min_jitter_ms: st.min_jitter_ms,
        mean_jitter_ms: st.mean_jitter_ms,
        max_jitter_ms: st.max_jitter_ms,
        first_time_ns: s.first_time_ns,
        last_time_ns: s.last_time_ns,
        first_frame: s.first_frame,
        last_frame: s.last_frame,
        call_id: media.map(|m| m.call_id.to_string()),
        from_sdp: s.from_sdp,
        rtcp_sr: r.sr,
        rtcp_rr: r.rr,
        rtcp_sender_packets: r.sender_packets,
        rtcp_sender_octets: r.sender_octets,
        rtcp_reports: r.reports,
        rtcp_reporter_ssrc: r.last.map(|(sender, _)| sender),
        rtcp_fraction_lost: last.map(|b| f64::from(b.fraction_lost) / 256.0),
        rtcp_cumulative_lost: last.map(|b| b.cumulative_lost),
        rtcp_highest_seq: last.map(|b| b.highest_seq),
        rtcp_jitter_ms: last
            .filter(|_| jitter_rate != 0)
            .map(|b| f64::from(b.jitter) * 1000.0 / f64::from(jitter_rate)),
    }
}
