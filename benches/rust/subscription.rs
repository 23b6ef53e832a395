//! Subscriptions (RFC 6665) through two sans-IO endpoints joined in memory, with 10,000 live
//! subscriptions in their tables. See `benches/README.md` for the results.
//!
//! Endpoint A subscribes, endpoint B accepts `presence`. Every message is built, sent,
//! parsed and matched by the endpoints themselves (transaction layer, dialog table,
//! subscription table); nothing else runs. Groups (`subscription_10k_live`):
//! - `subscribe_notify_terminate`: SUBSCRIBE, 200, NOTIFY active, 200, NOTIFY terminated,
//!   200 (6 messages; both dialogs made and gone again).
//! - `notify_200`: a NOTIFY in one of the 10,000 live subscriptions (cycling) and its 200
//!   (2 messages).
//! - `invite_200_ack_bye_200`: a call on the same endpoints, for scale (5 messages).
//!
//! The clock moves 1 ms per iteration and both endpoints tick, so finished transactions
//! leave the tables as they would (Timer J/K) and the tables stay at their steady size.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};
use sipwire::dialog::subscription::{EventKey, SubState};
use sipwire::dialog::DialogKey;
use sipwire::endpoint::{Endpoint, EndpointConfig, EndpointEvent, NewRequest};
use sipwire::txn::{Peer, Transport, TxnId};

const LIVE: usize = 10_000;

fn peer(port: u16) -> Peer {
    Peer::new(SocketAddr::from(([127, 0, 0, 1], port)), Transport::Udp)
}

struct Pair {
    a: Endpoint,
    b: Endpoint,
    now: u64,
    presence: EventKey,
    events: Vec<EndpointEvent>,
}

impl Pair {
    fn new() -> Pair {
        let mut ca = EndpointConfig::new(peer(5060), 1);
        ca.txn.max_transactions = 1 << 20;
        ca.dialog.max_dialogs = 1 << 20;
        let mut cb = EndpointConfig::new(peer(5070), 2);
        cb.txn.max_transactions = 1 << 20;
        cb.dialog.max_dialogs = 1 << 20;
        cb.subscription.events = vec![b"presence".to_vec()];
        Pair {
            a: Endpoint::new(ca),
            b: Endpoint::new(cb),
            now: 0,
            presence: EventKey::new(b"presence", None),
            events: Vec::new(),
        }
    }

    /// Delivers what A (`to_b`) or B queued to the other; the receiver's events are kept.
    fn deliver(&mut self, to_b: bool) {
        let (from, to, src) = if to_b {
            (&mut self.a, &mut self.b, peer(5060))
        } else {
            (&mut self.b, &mut self.a, peer(5070))
        };
        while let Some(d) = from.poll_transmit() {
            let _ = to.receive(d.bytes.to_vec(), src, self.now);
        }
        while from.poll_event().is_some() {}
        self.events.clear();
        while let Some(e) = to.poll_event() {
            self.events.push(e);
        }
    }

    fn tick(&mut self) {
        self.now += 1;
        self.a.tick(self.now);
        self.b.tick(self.now);
    }

    fn subscribe(&mut self) -> (DialogKey, DialogKey) {
        let hs: [(&[u8], &[u8]); 2] = [(b"Event", b"presence"), (b"Expires", b"3600")];
        let r = NewRequest {
            method: b"SUBSCRIBE",
            uri: b"sip:pres@127.0.0.1:5070",
            headers: &hs,
            ..NewRequest::default()
        };
        self.a.request(&r, peer(5070), self.now).expect("SUBSCRIBE");
        self.deliver(true);
        let txn = self
            .events
            .iter()
            .find_map(|e| match e {
                EndpointEvent::Subscribe { txn, .. } => Some(*txn),
                _ => None,
            })
            .expect("B got the SUBSCRIBE");
        let db = self
            .b
            .respond(txn, 200, None, &[], b"", self.now)
            .expect("200")
            .expect("a dialog");
        self.deliver(false);
        let da = self
            .events
            .iter()
            .find_map(|e| match e {
                EndpointEvent::Response { dialog, .. } => *dialog,
                _ => None,
            })
            .expect("A's dialog");
        (da, db)
    }

    /// B notifies in `db`; A answers 200; B gets it.
    fn notify(&mut self, db: DialogKey, state: SubState) {
        let body: &[u8] =
            b"<presence><tuple id=\"t\"><status><basic>open</basic></status></tuple></presence>";
        let hs: [(&[u8], &[u8]); 1] = [(b"Content-Type", b"application/pidf+xml")];
        let ev = self.presence.clone();
        self.b
            .notify(db, &ev, state, Some(b"noresource"), &hs, body, self.now)
            .expect("NOTIFY");
        self.deliver(false);
        let txn = self
            .events
            .iter()
            .find_map(|e| match e {
                EndpointEvent::Notify { txn, .. } => Some(*txn),
                _ => None,
            })
            .expect("A got the NOTIFY");
        self.a
            .respond(txn, 200, None, &[], b"", self.now)
            .expect("200");
        self.deliver(true);
    }

    fn call(&mut self) {
        let r = NewRequest {
            method: b"INVITE",
            uri: b"sip:b@127.0.0.1:5070",
            ..NewRequest::default()
        };
        self.a.request(&r, peer(5070), self.now).expect("INVITE");
        self.deliver(true);
        let inv: TxnId = self
            .events
            .iter()
            .find_map(|e| match e {
                EndpointEvent::Request { txn, .. } => Some(*txn),
                _ => None,
            })
            .expect("B got the INVITE");
        self.b
            .respond(inv, 200, None, &[], b"", self.now)
            .expect("200");
        self.deliver(false); // 100, 200; A sends the ACK
        let da = self
            .events
            .iter()
            .find_map(|e| match e {
                EndpointEvent::Response { dialog, .. } => *dialog,
                _ => None,
            })
            .expect("A's dialog");
        self.deliver(true); // ACK
        self.a
            .request_in_dialog(da, b"BYE", &[], b"", None, self.now)
            .expect("BYE");
        self.deliver(true);
        self.deliver(false); // its 200
    }
}

fn benches_all(c: &mut Criterion) {
    let mut p = Pair::new();
    let mut live = Vec::with_capacity(LIVE);
    for _ in 0..LIVE {
        let (_, db) = p.subscribe();
        p.notify(db, SubState::Active);
        live.push(db);
    }
    // Finished transactions leave (Timer J, 64·T1), the subscriptions stay.
    p.now += 40_000;
    p.a.tick(p.now);
    p.b.tick(p.now);
    assert_eq!((p.a.dialog_count(), p.b.dialog_count()), (LIVE, LIVE));
    assert_eq!((p.a.transactions(), p.b.transactions()), (0, 0));

    let mut g = c.benchmark_group("subscription_10k_live");
    g.throughput(Throughput::Elements(6));
    g.bench_function("subscribe_notify_terminate", |b| {
        b.iter(|| {
            let (_, db) = p.subscribe();
            p.notify(db, SubState::Active);
            p.notify(db, SubState::Terminated);
            p.tick();
        })
    });
    assert_eq!((p.a.dialog_count(), p.b.dialog_count()), (LIVE, LIVE));
    g.throughput(Throughput::Elements(2));
    let mut i = 0;
    g.bench_function("notify_200", |b| {
        b.iter(|| {
            i = (i + 1) % LIVE;
            p.notify(black_box(live[i]), SubState::Active);
            p.tick();
        })
    });
    g.throughput(Throughput::Elements(5));
    g.bench_function("invite_200_ack_bye_200", |b| {
        b.iter(|| {
            p.call();
            p.tick();
        })
    });
    g.finish();
    assert_eq!((p.a.dialog_count(), p.b.dialog_count()), (LIVE, LIVE));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches_all
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
