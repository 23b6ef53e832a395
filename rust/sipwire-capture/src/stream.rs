//! Byte streams: TCP reassembly per direction (tcp.rs), SCTP DATA chunks (sctp.rs), WebSocket
//! frames (websocket.rs), each feeding SIP framing (the core's `StreamFramer`) or HEP framing.
//!
//! TO BE WRITTEN (streams work). Contract:
//! - `Streams::new(limits: CaptureLimits, opts: sipwire::ParseOptions)`
//! - `fn tcp(&mut self, time_ns, frame, seg: &Segment<'_>, stats: &mut StreamStats, out: &mut dyn FnMut(StreamMessage<'_>))`
//! - `fn sctp(...)` likewise; `fn flush(&mut self, ...)` at the end of the capture, and
//!   `fn expire(&mut self, now_ns, ...)` to evict idle flows on capture time.

use crate::stats::Counters;

/// Counters of stream reassembly and framing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// TCP segments seen.
    pub tcp_segments: u64,
}

impl Counters for StreamStats {
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("tcp_segments", self.tcp_segments);
    }
}
