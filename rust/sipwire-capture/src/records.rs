//! Capture records: classic pcap (micro- and nanosecond, both byte orders) and pcapng
//! (several sections, several interfaces each with its own link type and time resolution),
//! read incrementally from any `std::io::Read` with bounded memory.
//!
//! TO BE WRITTEN (capture-input work). Contract:
//! - `RecordReader::new(reader: Box<dyn Read + Send>, limits: CaptureLimits) -> Result<Self, OpenError>`
//!   sniffs the format from the first bytes (pcap magics, pcapng SHB); an input that is neither
//!   is an `OpenError` the caller sees (not a count).
//! - `fn next_record(&mut self, stats: &mut RecordStats) -> Option<Record<'_>>` yields each
//!   record (frame numbers from 1, times in ns UTC), `None` at the end; damage is counted in
//!   `RecordStats` and reading goes on where it can (a corrupt block length ends the file).

use crate::stats::Counters;

/// Counters of the record readers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Records read.
    pub records: u64,
    /// Capture bytes consumed (after decompression).
    pub bytes: u64,
}

impl Counters for RecordStats {
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("records", self.records);
        f("bytes", self.bytes);
    }
}
