//! The values passed between the pipeline's stages.

use std::net::IpAddr;

/// One captured frame, as a record reader yields it.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// 1-based frame number across the whole read (as tshark numbers frames).
    pub frame: u64,
    /// Capture time, nanoseconds since the Unix epoch (UTC).
    pub time_ns: i64,
    /// The link type (LINKTYPE_* of the tcpdump.org list) of the interface that captured it.
    pub linktype: u32,
    /// The captured bytes (at most the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire; more than `data.len()` when the snap length cut it.
    pub orig_len: u32,
}

/// An IP address and a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

/// The transport a SIP message travelled on (the `transport` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Sctp,
    /// SIP over WebSocket (RFC 7118), over TCP.
    Ws,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Sctp => "sctp",
            Transport::Ws => "ws",
        }
    }
}

/// The layer-4 header of a [`Segment`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    Udp,
    /// TCP: sequence number, acknowledgment number and flags byte (FIN 0x01, SYN 0x02,
    /// RST 0x04, PSH 0x08, ACK 0x10).
    Tcp {
        seq: u32,
        ack: u32,
        flags: u8,
    },
    /// SCTP: the payload is the packet after the 12-byte common header (the chunks).
    Sctp {
        vtag: u32,
    },
}

/// A layer-4 payload with its addresses, after every link, IP and tunnel layer (and IP
/// reassembly) is undone.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub l4: L4,
    pub payload: &'a [u8],
    /// The snap length cut the record inside this payload: its headers say more bytes were
    /// sent than the capture holds (UDP only; a cut TCP or SCTP segment is dropped).
    pub cut: bool,
}

/// Every bound the capture pipeline enforces; what a bound drops is counted in
/// [`crate::Stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaptureLimits {
    /// Largest record a reader accepts (bytes); longer records are counted and skipped.
    pub max_record: u32,
    /// IP datagrams being reassembled at once.
    pub max_fragment_datagrams: usize,
    /// Bytes held for IP reassembly in total.
    pub max_fragment_bytes: usize,
    /// A fragment set not completed within this much capture time is dropped (ns).
    pub fragment_timeout_ns: i64,
    /// TCP/SCTP/WebSocket flows tracked at once (one direction each).
    pub max_flows: usize,
    /// Bytes one flow may hold (out-of-order segments plus an unframed message).
    pub max_flow_bytes: usize,
    /// Bytes all flows may hold together.
    pub max_stream_bytes: usize,
    /// A flow idle this long in capture time is closed and freed (ns).
    pub flow_idle_ns: i64,
    /// RTP/RTCP streams tracked at once.
    pub max_rtp_streams: usize,
    /// Expected media endpoints learnt from SDP held at once.
    pub max_media_endpoints: usize,
    /// Tunnel nesting (IP-in-IP, GRE, VXLAN, ...) followed at most.
    pub max_tunnel_depth: u8,
}

impl CaptureLimits {
    pub const DEFAULT: CaptureLimits = CaptureLimits {
        max_record: 256 * 1024,
        max_fragment_datagrams: 4096,
        max_fragment_bytes: 64 * 1024 * 1024,
        fragment_timeout_ns: 30_000_000_000,
        max_flows: 65_536,
        max_flow_bytes: 1024 * 1024,
        max_stream_bytes: 256 * 1024 * 1024,
        flow_idle_ns: 300_000_000_000,
        max_rtp_streams: 65_536,
        max_media_endpoints: 262_144,
        max_tunnel_depth: 4,
    };
}

impl Default for CaptureLimits {
    fn default() -> Self {
        CaptureLimits::DEFAULT
    }
}
