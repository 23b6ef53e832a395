//! The in-memory wire two sans-IO endpoints are joined by in the integration tests: datagrams
//! in flight with their delivery time, loss, duplication, reordering and targeted drops.
#![allow(dead_code)] // each test crate uses its own part of the harness

use std::net::SocketAddr;

use sipwire::dialog::DialogKey;
use sipwire::endpoint::{Endpoint, EndpointConfig, EndpointEvent};
use sipwire::txn::{Peer, Transport};

pub fn peer(port: u16) -> Peer {
    Peer::new(SocketAddr::from(([127, 0, 0, 1], port)), Transport::Udp)
}

/// A wire: datagrams in flight with their delivery time; `lose` decides per datagram.
pub struct Net {
    pub eps: [Endpoint; 2],
    pub now: u64,
    pub flight: Vec<(u64, usize, Peer, Vec<u8>)>,
    pub events: [Vec<EndpointEvent>; 2],
    pub rng: u64,
    pub drop_pct: u64,
    pub dup_pct: u64,
    /// Delivery delay is 1 ms plus up to this much (reordering when above 0).
    pub jitter: u64,
    /// Drop every datagram whose first line starts with this (a targeted loss).
    pub drop_prefix: Option<&'static [u8]>,
    /// Drop the next datagram whose first line starts with this, once.
    pub drop_once: Option<&'static [u8]>,
    pub sent: usize,
}

impl Net {
    pub fn new(seed: u64) -> Net {
        Net::with(
            EndpointConfig::new(peer(5060), seed),
            EndpointConfig::new(peer(5070), seed ^ 0x5555),
        )
    }

    pub fn with(a: EndpointConfig, b: EndpointConfig) -> Net {
        let seed = a.seed;
        Net {
            eps: [Endpoint::new(a), Endpoint::new(b)],
            now: 0,
            flight: Vec::new(),
            events: [Vec::new(), Vec::new()],
            rng: seed | 1,
            drop_pct: 0,
            dup_pct: 0,
            jitter: 0,
            drop_prefix: None,
            drop_once: None,
            sent: 0,
        }
    }

    pub fn rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Moves what each endpoint queued onto the wire.
    pub fn flush(&mut self) {
        for i in 0..2 {
            while let Some(d) = self.eps[i].poll_transmit() {
                self.sent += 1;
                let to = if d.dest.addr.port() == 5060 { 0 } else { 1 };
                let src = peer(if i == 0 { 5060 } else { 5070 });
                if self.drop_prefix.is_some_and(|p| d.bytes.starts_with(p)) {
                    continue;
                }
                if self.drop_once.is_some_and(|p| d.bytes.starts_with(p)) {
                    self.drop_once = None;
                    continue;
                }
                if self.rand() % 100 < self.drop_pct {
                    continue;
                }
                let copies = if self.rand() % 100 < self.dup_pct {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let delay = 1 + self.rand() % (self.jitter + 1);
                    self.flight
                        .push((self.now + delay, to, src, d.bytes.to_vec()));
                }
            }
            while let Some(e) = self.eps[i].poll_event() {
                self.events[i].push(e);
            }
        }
    }

    /// Runs until `until` ms: deliveries and timers in time order.
    pub fn run(&mut self, until: u64) {
        self.flush();
        loop {
            let next_msg = self.flight.iter().map(|f| f.0).min();
            let next_timer = (0..2).filter_map(|i| self.eps[i].next_deadline()).min();
            let Some(t) = [next_msg, next_timer].into_iter().flatten().min() else {
                break;
            };
            if t > until {
                break;
            }
            self.now = self.now.max(t);
            if let Some(pos) = self.flight.iter().position(|f| f.0 <= self.now) {
                let (_, to, src, bytes) = self.flight.remove(pos);
                let _ = self.eps[to].receive(bytes, src, self.now);
            } else {
                for i in 0..2 {
                    self.eps[i].tick(self.now);
                }
            }
            self.flush();
        }
        self.now = self.now.max(until);
        for i in 0..2 {
            self.eps[i].tick(self.now);
        }
        self.flush();
    }

    /// Runs for `ms` more milliseconds.
    pub fn run_for(&mut self, ms: u64) {
        self.run(self.now + ms);
    }

    pub fn take(&mut self, i: usize) -> Vec<EndpointEvent> {
        std::mem::take(&mut self.events[i])
    }
}

/// The statuses of the responses among `ev`, in order.
pub fn statuses(ev: &[EndpointEvent]) -> Vec<u16> {
    ev.iter()
        .filter_map(|e| match e {
            EndpointEvent::Response { msg, .. } => msg.message().status(),
            _ => None,
        })
        .collect()
}

/// The dialog the first response of `status` among `ev` belongs to.
pub fn dialog_of(ev: &[EndpointEvent], status: u16) -> Option<DialogKey> {
    ev.iter().find_map(|e| match e {
        EndpointEvent::Response { msg, dialog, .. } if msg.message().status() == Some(status) => {
            *dialog
        }
        _ => None,
    })
}
