//! Transactions (RFC 3261 §17), sans-IO.
//!
//! ## Theory of operation
//!
//! A transaction is a request, its retransmissions and its responses. [`key`] says which
//! transaction a message belongs to (§17.1.3 for responses, §17.2.3 for requests, with the
//! RFC 2543 fallback for requests whose branch lacks the magic cookie). [`machine`] holds the
//! four state machines of RFC 3261 Figures 5-8 (with RFC 6026's Accepted states) as tables
//! from (state, input) to (state, effects). [`TransactionLayer`] is the endpoint core: a
//! bounded table of transactions that parses what the driver received, routes it, runs the
//! tables, and queues what to send, what to tell the user, and when to be woken next.
//!
//! Time is a `u64` of milliseconds on any monotonic clock the driver likes; the layer never
//! reads a clock, opens a socket or draws a random number. The driver loop is:
//!
//! ```text
//! loop {
//!     layer.receive(bytes, source, now)   // or send_request / respond / cancel / tick(now)
//!     while let Some(d) = layer.poll_transmit() { socket.send_to(d.bytes, d.dest) }
//!     while let Some(e) = layer.poll_event() { user(e) }
//!     sleep until layer.next_deadline(), or until bytes arrive
//! }
//! ```

pub mod key;
mod layer;
pub mod machine;
mod requests;
pub(crate) mod table;

use std::net::SocketAddr;

pub use key::{KeyRef, TxnKey};
pub use layer::{
    CancelOutcome, Config, Counters, Datagram, Event, Incoming, TransactionLayer, TxnError, TxnId,
};
pub use machine::{Class, Effect, Input, Kind, State, Timer, Timers};
pub use requests::{build_ack_for_non_2xx, build_cancel, BranchGen};

/// A transport protocol (the Via `transport`, RFC 3261 §18, RFC 7118 for WebSocket).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    Sctp,
    Ws,
    Wss,
}

impl Transport {
    /// Reliable transports need no retransmissions: Timers A, E, G are not used and D, I, J,
    /// K are zero (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The Via transport token.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// From a Via transport token (any case).
    pub fn from_token(t: &[u8]) -> Option<Transport> {
        [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Sctp,
            Transport::Ws,
            Transport::Wss,
        ]
        .into_iter()
        .find(|x| x.as_str().as_bytes().eq_ignore_ascii_case(t))
    }
}

/// Where a message came from or goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    pub addr: SocketAddr,
    pub transport: Transport,
}

impl Peer {
    pub fn new(addr: SocketAddr, transport: Transport) -> Peer {
        Peer { addr, transport }
    }
}

/// Where the responses to a request received from `source` go (RFC 3261 §18.2.2): on a
/// reliable transport back on the connection; else to `maddr` when it is an address, to the
/// source port with `rport` (RFC 3581 §4), otherwise to the source address (the `received`
/// one) at the port of the top Via's sent-by (5060 without one).
pub fn response_peer<I: AsRef<crate::message::MessageIndex>>(
    m: &crate::message::Message<'_, I>,
    source: Peer,
) -> Peer {
    if source.transport.is_reliable() {
        return source;
    }
    let Some(via) = m.index().fields().top_via else {
        return source;
    };
    let port = via.port.unwrap_or(5060);
    if let Some(maddr) = via.maddr {
        let ip = std::str::from_utf8(m.bytes_of(maddr))
            .ok()
            .and_then(|t| t.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok());
        if let Some(ip) = ip {
            return Peer::new(SocketAddr::new(ip, port), source.transport);
        }
    }
    if via.rport.is_some() || port == 0 {
        return source;
    }
    Peer::new(SocketAddr::new(source.addr.ip(), port), source.transport)
}
