//! Counters of one read: what was seen, and what was dropped at which stage and why. A
//! capture is attacker-controlled input, so nothing here aborts a read: every anomaly is a
//! count. Each stage keeps its own counters in its own module; [`Stats`] gathers them.

use crate::analyze::CallStats;
use crate::decode::DecodeStats;
use crate::records::RecordStats;
use crate::rtp::RtpStats;
use crate::stream::StreamStats;

/// A stage's counters, visited by name (`stats()` in Python is a flat dict of these).
pub trait Counters {
    /// Calls `f` once per counter with its name (snake_case, unique across stages).
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64));
}

/// Counters of the SIP stage (pipeline.rs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SipStats {
    /// SIP messages found (rows of the messages table).
    pub sip_messages: u64,
    /// Of those, messages that did not parse (their row has `parse_error`).
    pub sip_parse_errors: u64,
    /// Of those, UDP messages the snap length cut (`parse_error` `capture_truncated`; their
    /// complete header lines give the row's fields).
    pub sip_truncated: u64,
    /// UDP, SCTP and WebSocket payloads that were neither SIP, HEP nor RTP/RTCP (the first
    /// packet of a stream the RTP heuristic has not confirmed yet is counted here too).
    pub not_sip: u64,
    /// UDP payloads that were only CRLF keep-alives (RFC 5626 §3.5.1).
    pub keepalives: u64,
    /// Framing errors on SIP streams (the stream resynchronised after each).
    pub stream_errors: u64,
    /// HEP packets decoded.
    pub hep_packets: u64,
    /// HEP packets that did not decode.
    pub hep_errors: u64,
    /// HEP packets whose payload is not SIP (RTCP reports, logs, ...).
    pub hep_not_sip: u64,
}

impl Counters for SipStats {
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("sip_messages", self.sip_messages);
        f("sip_parse_errors", self.sip_parse_errors);
        f("sip_truncated", self.sip_truncated);
        f("not_sip", self.not_sip);
        f("keepalives", self.keepalives);
        f("stream_errors", self.stream_errors);
        f("hep_packets", self.hep_packets);
        f("hep_errors", self.hep_errors);
        f("hep_not_sip", self.hep_not_sip);
    }
}

/// Counters of one read, by stage.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub records: RecordStats,
    pub decode: DecodeStats,
    pub streams: StreamStats,
    pub rtp: RtpStats,
    pub sip: SipStats,
    pub calls: CallStats,
}

impl Counters for Stats {
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        self.records.visit(f);
        self.decode.visit(f);
        self.streams.visit(f);
        self.rtp.visit(f);
        self.sip.visit(f);
        self.calls.visit(f);
    }
}
