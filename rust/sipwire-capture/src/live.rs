//! A live HEP feed (a collector's socket, `sipwire.capture.listen_hep`): HEP packets in as
//! they arrive, `messages` rows out in batches. The socket is the caller's; this is sans-IO.
//!
//! Bounded: rows waiting to be taken (`max_rows`; more are dropped and counted), TCP
//! connections framed at once (`max_connections`) and the bytes each may hold
//! (`max_connection_bytes`, one HEP packet is at most 64 KiB).

use std::collections::HashMap;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};
use sipwire::ParseOptions;

use crate::hep::{decode_hep, hep_frame_len, HepLen};
use crate::sip::{datagram_row, looks_like_sip};
use crate::stats::Counters;
use crate::table::{MessagesBuilder, Seen};
use crate::types::Transport;

/// Counters of a live feed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// HEP packets decoded.
    pub hep_packets: u64,
    /// Datagrams or stream frames that were not HEP or did not decode.
    pub hep_errors: u64,
    /// HEP packets whose payload was not SIP (RTCP reports, logs, ...).
    pub not_sip: u64,
    /// Rows made.
    pub sip_messages: u64,
    /// Rows dropped because `max_rows` were waiting to be taken.
    pub dropped_rows: u64,
    /// TCP connections refused a buffer because `max_connections` were open.
    pub dropped_connections: u64,
    /// Stream bytes dropped: garbage before a HEP header, or a connection over its bound.
    pub dropped_bytes: u64,
}

impl Counters for LiveStats {
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("hep_packets", self.hep_packets);
        f("hep_errors", self.hep_errors);
        f("not_sip", self.not_sip);
        f("sip_messages", self.sip_messages);
        f("dropped_rows", self.dropped_rows);
        f("dropped_connections", self.dropped_connections);
        f("dropped_bytes", self.dropped_bytes);
    }
}

/// The bounds of a live feed.
#[derive(Clone, Copy, Debug)]
pub struct LiveLimits {
    pub max_rows: usize,
    pub max_connections: usize,
    pub max_connection_bytes: usize,
}

impl Default for LiveLimits {
    fn default() -> Self {
        LiveLimits {
            max_rows: 1_000_000,
            max_connections: 1024,
            max_connection_bytes: 128 * 1024,
        }
    }
}

/// HEP in, `messages` rows out.
pub struct HepFeed {
    opts: ParseOptions,
    limits: LiveLimits,
    messages: MessagesBuilder,
    frame: u64,
    conns: HashMap<u64, Vec<u8>>,
    pub stats: LiveStats,
}

impl HepFeed {
    pub fn new(opts: ParseOptions, limits: LiveLimits, raw: bool) -> Self {
        HepFeed {
            opts,
            limits,
            messages: MessagesBuilder::new(raw),
            frame: 0,
            conns: HashMap::new(),
            stats: LiveStats::default(),
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.messages.schema()
    }

    /// Rows waiting to be taken.
    pub fn pending(&self) -> usize {
        self.messages.len()
    }

    /// One HEP packet (a UDP datagram, or a frame cut from a stream) received at `now_ns`; the
    /// packet's own capture time is used when it carries one.
    pub fn packet(&mut self, data: &[u8], now_ns: i64) {
        self.frame += 1;
        let h = match decode_hep(data) {
            Ok(h) => h,
            Err(_) => {
                self.stats.hep_errors += 1;
                return;
            }
        };
        self.stats.hep_packets += 1;
        if !looks_like_sip(h.payload) {
            self.stats.not_sip += 1;
            return;
        }
        if self.messages.len() >= self.limits.max_rows {
            self.stats.dropped_rows += 1;
            return;
        }
        let seen = Seen {
            time_ns: h.time_ns.unwrap_or(now_ns),
            frame: self.frame,
            src: h.src,
            dst: h.dst,
            transport: match h.ip_proto {
                6 => Transport::Tcp,
                132 => Transport::Sctp,
                _ => Transport::Udp,
            },
        };
        let row = datagram_row(h.payload, &self.opts);
        self.stats.sip_messages += 1;
        self.messages.push(Some(&seen), &row, h.payload);
    }

    /// Bytes from TCP connection `conn`: HEPv3 packets framed by their length (a stream that
    /// does not start with "HEP3" is resynchronised at the next magic, the skipped bytes
    /// counted).
    pub fn stream(&mut self, conn: u64, data: &[u8], now_ns: i64) {
        if !self.conns.contains_key(&conn) && self.conns.len() >= self.limits.max_connections {
            self.stats.dropped_connections += 1;
            self.stats.dropped_bytes += data.len() as u64;
            return;
        }
        let mut buf = self.conns.remove(&conn).unwrap_or_default();
        buf.extend_from_slice(data);
        let mut at = 0;
        loop {
            let rest = buf.get(at..).unwrap_or_default();
            match hep_frame_len(rest) {
                HepLen::Complete(n) => {
                    let frame = rest.get(..n).unwrap_or_default().to_vec();
                    self.packet(&frame, now_ns);
                    at += n;
                }
                HepLen::Incomplete => break,
                HepLen::NotHep => {
                    // Resync: drop up to the next "HEP3" (keeping a partial magic at the end).
                    let skip = memchr::memmem::find(rest.get(1..).unwrap_or_default(), b"HEP3")
                        .map_or(rest.len().saturating_sub(3).max(1), |p| p + 1)
                        .min(rest.len());
                    if skip == 0 {
                        break;
                    }
                    self.stats.dropped_bytes += skip as u64;
                    at += skip;
                }
            }
        }
        buf.drain(..at.min(buf.len()));
        if buf.len() > self.limits.max_connection_bytes {
            self.stats.dropped_bytes += buf.len() as u64;
            buf.clear();
        }
        if !buf.is_empty() {
            self.conns.insert(conn, buf);
        }
    }

    /// Connection `conn` closed: what it held is dropped (counted).
    pub fn close(&mut self, conn: u64) {
        if let Some(b) = self.conns.remove(&conn) {
            self.stats.dropped_bytes += b.len() as u64;
        }
    }

    /// The rows since the last take, as one batch.
    pub fn take(&mut self) -> Result<RecordBatch, ArrowError> {
        self.messages.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hep3(payload: &[u8], secs: u32) -> Vec<u8> {
        let mut chunks = Vec::new();
        let mut chunk = |t: u16, v: &[u8]| {
            chunks.extend_from_slice(&0u16.to_be_bytes());
            chunks.extend_from_slice(&t.to_be_bytes());
            chunks.extend_from_slice(&(6 + v.len() as u16).to_be_bytes());
            chunks.extend_from_slice(v);
        };
        chunk(1, &[2]);
        chunk(2, &[17]);
        chunk(3, &[192, 0, 2, 1]);
        chunk(4, &[192, 0, 2, 2]);
        chunk(7, &5060u16.to_be_bytes());
        chunk(8, &5080u16.to_be_bytes());
        chunk(9, &secs.to_be_bytes());
        chunk(10, &0u32.to_be_bytes());
        chunk(11, &[1]);
        chunk(15, payload);
        let mut out = b"HEP3".to_vec();
        out.extend_from_slice(&(6 + chunks.len() as u16).to_be_bytes());
        out.extend_from_slice(&chunks);
        out
    }

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: live-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn datagrams_and_a_stream_split_anywhere() {
        let pkt = hep3(MSG, 1_700_000_000);
        let mut f = HepFeed::new(ParseOptions::LIBERAL, LiveLimits::default(), false);
        f.packet(&pkt, 0);
        f.packet(b"not hep", 0);
        let mut stream = b"junk".to_vec();
        stream.extend_from_slice(&pkt);
        stream.extend_from_slice(&pkt);
        for cut in 0..stream.len() {
            let (a, b) = stream.split_at(cut);
            f.stream(7, a, 0);
            f.stream(7, b, 0);
        }
        assert_eq!(f.stats.hep_errors, 1);
        assert_eq!(f.stats.sip_messages, 1 + 2 * stream.len() as u64);
        assert_eq!(f.stats.dropped_bytes, 4 * stream.len() as u64);
        let batch = f.take().unwrap();
        assert_eq!(batch.num_rows(), 1 + 2 * stream.len());
        assert!(f.conns.is_empty());
    }

    #[test]
    fn bounds_are_counted() {
        let pkt = hep3(MSG, 1);
        let limits = LiveLimits {
            max_rows: 3,
            max_connections: 1,
            max_connection_bytes: 10,
        };
        let mut f = HepFeed::new(ParseOptions::LIBERAL, limits, false);
        for _ in 0..5 {
            f.packet(&pkt, 0);
        }
        assert_eq!((f.pending(), f.stats.dropped_rows), (3, 2));
        f.stream(1, &pkt[..8], 0); // a partial packet held: under its bound
        f.stream(2, &pkt, 0); // a second connection: refused
        assert_eq!(f.stats.dropped_connections, 1);
        f.stream(1, &[0u8; 64], 0); // garbage after a header that says more is coming
        assert!(f.conns.values().all(|b| b.len() <= 10));
        f.close(1);
        assert!(f.conns.is_empty());
    }
}
