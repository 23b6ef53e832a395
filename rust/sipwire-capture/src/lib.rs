//! sipwire's capture pipeline: captures in, tables out.
//!
//! ```text
//! source (file, gzip, zstd, stdin)                                  source.rs
//!   └► records (pcap, pcapng)                                       records.rs
//!       └► link layer (Ethernet, VLAN, SLL, SLL2, raw IP, loopback) link.rs  ┐
//!           └► IPv4 / IPv6 + fragment reassembly                    ip.rs    ├ decode.rs
//!               └► tunnels (IP-in-IP, GRE, ERSPAN II/III, VXLAN)    tunnel.rs┘
//!                   └► Segment { src, dst, l4, payload }
//!                       ├► UDP datagram ───────────────────────────────┐
//!                       ├► TCP reassembly (tcp.rs) ─► framing ─────────┤  stream.rs
//!                       ├► SCTP DATA chunks (sctp.rs) ─────────────────┤
//!                       ├► WebSocket frames (websocket.rs) ────────────┤
//!                       ├► HEP (hep.rs): the inner packet, its own addresses and time
//!                       └► RTP / RTCP / telephone-event (rtp.rs)       │
//!                                            SIP messages ◄────────────┘ pipeline.rs
//!                                                └► Arrow tables        table.rs
//! ```
//!
//! Each stage works on borrowed bytes; a stage that must hold bytes (fragments, TCP
//! out-of-order segments, partial messages) does so in a table with a bound from
//! [`CaptureLimits`], evicts on capture time, and counts what it drops in [`Stats`].
//! No stage reads a clock: time is the capture's.

pub mod analyze;
pub mod calls_thread;
pub mod decode;
pub mod engine;
pub mod hep;
mod ip;
pub mod join;
pub mod link;
pub mod live;
pub mod pipeline;
pub mod read;
pub mod records;
pub mod rtp;
mod sctp;
pub mod sip;
pub mod source;
pub mod stats;
pub mod stream;
pub mod table;
mod tcp;
mod tunnel;
pub mod types;
mod websocket;

pub use decode::{DecodeStats, Decoder};
pub use hep::{decode_hep, hep_frame_len, HepError, HepErrorKind, HepLen, HepPacket};
pub use stats::{Counters, Stats};
pub use types::{CaptureLimits, Endpoint, Record, Segment, Transport, L4};
