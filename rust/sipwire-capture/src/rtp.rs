//! RTP and RTCP statistics per stream (RFC 3550), telephone-events (RFC 4733) as DTMF.
//!
//! TO BE WRITTEN (RTP work).

use crate::stats::Counters;

/// Counters of the RTP stage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RtpStats {
    /// RTP packets counted in a stream.
    pub rtp_packets: u64,
}

impl Counters for RtpStats {
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("rtp_packets", self.rtp_packets);
    }
}
