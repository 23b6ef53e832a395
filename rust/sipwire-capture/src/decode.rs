//! From a link-layer frame to layer-4 segments: link.rs, ip.rs, tunnel.rs behind one call.
//!
//! TO BE WRITTEN (layers work). Contract:
//! - `Decoder::new(limits: CaptureLimits)`
//! - `fn decode(&mut self, rec: &Record<'_>, stats: &mut DecodeStats, out: &mut dyn FnMut(Segment<'_>))`
//!   calls `out` once per layer-4 segment the frame carries (zero when it carries none, or
//!   when it was an IP fragment whose datagram is not complete yet; once with the whole
//!   datagram when the last fragment arrives).

use crate::stats::Counters;

/// Counters of link, IP and tunnel decoding.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames on link types not decoded.
    pub unknown_linktype: u64,
}

impl Counters for DecodeStats {
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("unknown_linktype", self.unknown_linktype);
    }
}
