//! Subscriptions (RFC 6665) between two endpoints on an in-memory wire: SUBSCRIBE, NOTIFY,
//! refresh, termination, a NOTIFY overtaking the 2xx, expiry, 489, 481, and REFER's NOTIFY
//! inside a call.

use sipwire::dialog::subscription::{EventKey, Role, SubState};
use sipwire::dialog::DialogKey;
use sipwire::endpoint::{Endpoint, EndpointConfig, EndpointEvent, NewRequest};
use sipwire::message::HeaderName;
use sipwire::txn::TxnId;

mod common;

use common::{dialog_of, peer, statuses, Net};

/// Endpoint 0 (port 5060) subscribes; endpoint 1 (5070) accepts `presence`.
fn net() -> Net {
    let mut b = EndpointConfig::new(peer(5070), 7);
    b.subscription.events = vec![b"presence".to_vec()];
    b.subscription.min_expires = 2;
    Net::with(EndpointConfig::new(peer(5060), 3), b)
}

impl Net {
    fn subscribe(&mut self, event: &[u8], expires: &[u8]) -> TxnId {
        let hs: [(&[u8], &[u8]); 2] = [(b"Event", event), (b"Expires", expires)];
        let r = NewRequest {
            method: b"SUBSCRIBE",
            uri: b"sip:pres@127.0.0.1:5070",
            headers: &hs,
            ..NewRequest::default()
        };
        let t = self.eps[0].request(&r, peer(5070), self.now).unwrap();
        self.flush();
        t
    }

    /// Endpoint 1 answers the SUBSCRIBE it got with `status`; gives the event, what the
    /// endpoint would grant, and the dialog a 2xx made.
    fn answer(&mut self, status: u16) -> (EventKey, u32, Option<DialogKey>) {
        let ev = self.take(1);
        let (txn, event, expires) = ev
            .iter()
            .find_map(|e| match e {
                EndpointEvent::Subscribe {
                    txn,
                    event,
                    expires,
                    ..
                } => Some((*txn, event.clone(), *expires)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no SUBSCRIBE in {ev:?}"));
        let now = self.now;
        let d = self.eps[1]
            .respond(txn, status, None, &[], b"", now)
            .unwrap();
        self.flush();
        (event, expires, d)
    }

    fn notify(&mut self, d: DialogKey, state: SubState, body: &[u8]) {
        let now = self.now;
        let ev = EventKey::new(b"presence", None);
        let hs: [(&[u8], &[u8]); 1] = [(b"Content-Type", b"application/pidf+xml")];
        self.eps[1]
            .notify(d, &ev, state, Some(b"noresource"), &hs, body, now)
            .unwrap();
        self.flush();
    }
}

/// The NOTIFYs received: (dialog, state as written, body), each answered 200.
fn notifies(net: &mut Net, ev: &[EndpointEvent]) -> Vec<(DialogKey, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for e in ev {
        if let EndpointEvent::Notify {
            txn,
            dialog,
            msg,
            state,
            ..
        } = e
        {
            out.push((*dialog, state.text.clone(), msg.message().body().to_vec()));
            let now = net.now;
            net.eps[0].respond(*txn, 200, None, &[], b"", now).unwrap();
        }
    }
    net.flush();
    out
}

fn header(ev: &[EndpointEvent], status: u16, name: HeaderName) -> Option<Vec<u8>> {
    ev.iter().find_map(|e| match e {
        EndpointEvent::Response { msg, .. } if msg.message().status() == Some(status) => {
            msg.message().first_value(name).map(<[u8]>::to_vec)
        }
        _ => None,
    })
}

#[test]
fn subscribe_notify_refresh_and_terminate() {
    let mut net = net();
    net.subscribe(b"presence", b"60");
    net.run_for(10);
    let (event, granted, d1) = net.answer(200);
    assert_eq!(event, EventKey::new(b"presence", None));
    assert_eq!(granted, 60);
    let d1 = d1.expect("the 200 made the notifier's dialog");
    // The immediate NOTIFY (§4.2.1.2).
    net.notify(d1, SubState::Active, b"<open/>");
    net.run_for(10);
    let ev = net.take(0);
    assert_eq!(statuses(&ev), [200]);
    assert_eq!(header(&ev, 200, HeaderName::Expires), Some(b"60".to_vec()));
    let d0 = dialog_of(&ev, 200).expect("the 200 made the subscriber's dialog");
    let n = notifies(&mut net, &ev);
    assert_eq!(n, [(d0, b"active".to_vec(), b"<open/>".to_vec())]);
    let ev = EventKey::new(b"presence", None);
    let (state, at) = net.eps[0].subscription(d0, Role::Subscriber, &ev).unwrap();
    assert_eq!(state, SubState::Active);
    assert!(at >= net.now + 59_000, "deadline {at} at {}", net.now);

    // A refresh in the dialog, with a shorter time (the notifier keeps the dialog).
    let now = net.now;
    let hs: [(&[u8], &[u8]); 2] = [(b"Event", b"presence"), (b"Expires", b"30")];
    net.eps[0]
        .request_in_dialog(d0, b"SUBSCRIBE", &hs, b"", None, now)
        .unwrap();
    net.run_for(10);
    let (_, granted, again) = net.answer(200);
    assert_eq!((granted, again), (30, Some(d1)));
    let (_, at) = net.eps[1]
        .subscription(d1, Role::Notifier, &EventKey::new(b"presence", None))
        .unwrap();
    assert_eq!(at, net.now + 30_000);
    net.run_for(10);
    assert_eq!(statuses(&net.take(0)), [200]);

    // The notifier ends it: both dialogs go.
    net.notify(d1, SubState::Terminated, b"");
    assert_eq!(net.eps[1].dialog_count(), 0);
    net.run_for(10);
    let ev = net.take(0);
    assert_eq!(
        notifies(&mut net, &ev),
        [(d0, b"terminated".to_vec(), Vec::new())]
    );
    assert!(ev
        .iter()
        .any(|e| matches!(e, EndpointEvent::DialogTerminated { dialog, .. } if *dialog == d0)));
    assert_eq!(net.eps[0].dialog_count(), 0);
    net.run_for(10);
    assert_eq!(statuses(&net.take(1)), [200]);
}

#[test]
fn a_notify_before_the_200_makes_the_dialog() {
    let mut net = net();
    net.subscribe(b"presence", b"60");
    net.run_for(10);
    net.drop_once = Some(b"SIP/2.0 200");
    let (_, _, d1) = net.answer(200);
    net.notify(d1.unwrap(), SubState::Pending, b"");
    net.run_for(10);
    let ev = net.take(0);
    assert!(statuses(&ev).is_empty(), "{ev:?}");
    let n = notifies(&mut net, &ev);
    assert_eq!(n.len(), 1);
    let d0 = n[0].0;
    assert_eq!(net.eps[0].dialog_count(), 1);
    // The SUBSCRIBE is resent (Timer E), the 200 comes again and joins the same dialog.
    net.run_for(1000);
    let ev = net.take(0);
    assert_eq!(statuses(&ev), [200]);
    assert_eq!(dialog_of(&ev, 200), Some(d0));
    assert_eq!(net.eps[0].dialog_count(), 1);
    let d = net.eps[0].dialog(d0).unwrap();
    assert_eq!(d.remote_target, b"sip:sipwire@127.0.0.1:5070");
}

#[test]
fn expiry_without_refresh_ends_both_sides() {
    let mut net = net();
    net.subscribe(b"presence", b"2");
    net.run_for(10);
    let (_, granted, d1) = net.answer(200);
    assert_eq!(granted, 2);
    net.notify(d1.unwrap(), SubState::Active, b"");
    net.run_for(10);
    let ev = net.take(0);
    notifies(&mut net, &ev);
    net.run_for(2100);
    let e1 = net.take(1);
    assert!(
        e1.iter().any(|e| matches!(
            e,
            EndpointEvent::SubscriptionExpired {
                role: Role::Notifier,
                ..
            }
        )),
        "{e1:?}"
    );
    assert_eq!(net.eps[1].dialog_count(), 0);
    let ev = net.take(0);
    let n = notifies(&mut net, &ev);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].1, b"terminated");
    assert!(ev.iter().any(|e| matches!(
        e,
        EndpointEvent::Notify { state, .. } if state.reason.as_deref() == Some(&b"timeout"[..])
    )));
    assert_eq!(net.eps[0].dialog_count(), 0);
    assert_eq!(net.eps[1].counters().subscriptions_expired, 1);
}

#[test]
fn the_subscriber_expires_on_its_own_when_no_notify_comes() {
    let mut net = net();
    net.subscribe(b"presence", b"2");
    net.run_for(10);
    net.answer(200);
    net.run_for(10);
    let d0 = dialog_of(&net.take(0), 200).unwrap();
    // The notifier's final NOTIFY is lost every time: the subscriber gives up 64·T1 later.
    net.eps[1] = Endpoint::new(EndpointConfig::new(peer(5070), 9));
    net.run_for(2000 + 64 * 500 + 10);
    let ev = net.take(0);
    assert!(ev.iter().any(|e| matches!(
        e,
        EndpointEvent::SubscriptionExpired { dialog, role: Role::Subscriber, .. } if *dialog == d0
    )));
    assert_eq!(net.eps[0].dialog_count(), 0);
}

#[test]
fn refusals_489_423_400_and_481() {
    let mut net = net();
    net.subscribe(b"message-summary", b"60");
    net.run_for(10);
    let ev = net.take(0);
    assert_eq!(statuses(&ev), [489]);
    assert_eq!(
        header(&ev, 489, HeaderName::AllowEvents),
        Some(b"presence".to_vec())
    );
    net.subscribe(b"presence", b"1");
    net.run_for(10);
    let ev = net.take(0);
    assert_eq!(statuses(&ev), [423]);
    assert_eq!(
        header(&ev, 423, HeaderName::MinExpires),
        Some(b"2".to_vec())
    );
    // PUBLISH for a package not accepted (RFC 3903 §6).
    let hs: [(&[u8], &[u8]); 1] = [(b"Event", b"dialog")];
    let r = NewRequest {
        method: b"PUBLISH",
        uri: b"sip:pres@127.0.0.1:5070",
        headers: &hs,
        ..NewRequest::default()
    };
    net.eps[0].request(&r, peer(5070), net.now).unwrap();
    net.run_for(10);
    assert_eq!(statuses(&net.take(0)), [489]);
    assert!(net.take(1).is_empty());

    // NOTIFYs sent by 1 to 0 that no subscription expects.
    for (to_tag, extra) in [
        (&b";tag=nosuch"[..], &b"Subscription-State: active\r\n"[..]),
        (&b""[..], &b"Subscription-State: active\r\n"[..]),
    ] {
        let via = net.eps[1].via();
        let mut msg = b"NOTIFY sip:a@127.0.0.1:5060 SIP/2.0\r\nVia: ".to_vec();
        msg.extend_from_slice(&via);
        msg.extend_from_slice(b"\r\nFrom: <sip:p@127.0.0.1:5070>;tag=x1\r\nTo: <sip:a@127.0.0.1>");
        msg.extend_from_slice(to_tag);
        msg.extend_from_slice(b"\r\nCall-ID: c481\r\nCSeq: 1 NOTIFY\r\nEvent: presence\r\n");
        msg.extend_from_slice(extra);
        msg.extend_from_slice(b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
        net.eps[1].send(msg, peer(5060), net.now).unwrap();
        net.run_for(10);
        let ev = net.take(1);
        assert_eq!(statuses(&ev), [481], "{ev:?}");
        assert!(net.take(0).is_empty());
    }
}

#[test]
fn notify_without_subscription_state_is_400() {
    let mut net = net();
    net.subscribe(b"presence", b"60");
    net.run_for(10);
    let (_, _, d1) = net.answer(200);
    net.run_for(10);
    net.take(0);
    let now = net.now;
    let hs: [(&[u8], &[u8]); 1] = [(b"Event", b"presence")];
    net.eps[1]
        .request_in_dialog(d1.unwrap(), b"NOTIFY", &hs, b"", None, now)
        .unwrap();
    net.run_for(10);
    assert_eq!(statuses(&net.take(1)), [400]);
    // Another event in the dialog matches nothing (§4.1.3).
    let hs: [(&[u8], &[u8]); 2] = [(b"Event", b"dialog"), (b"Subscription-State", b"active")];
    net.eps[1]
        .request_in_dialog(d1.unwrap(), b"NOTIFY", &hs, b"", None, now)
        .unwrap();
    net.run_for(10);
    assert_eq!(statuses(&net.take(1)), [481]);
    assert!(net.take(0).is_empty());
}

#[test]
fn a_terminated_refer_notify_leaves_the_call() {
    let mut net = net();
    let r = NewRequest {
        method: b"INVITE",
        uri: b"sip:b@127.0.0.1:5070",
        ..NewRequest::default()
    };
    net.eps[0].request(&r, peer(5070), 0).unwrap();
    net.run_for(10);
    let inv = net
        .take(1)
        .iter()
        .find_map(|e| match e {
            EndpointEvent::Request { txn, .. } => Some(*txn),
            _ => None,
        })
        .unwrap();
    let d1 = net.eps[1]
        .respond(inv, 200, None, &[], b"", 10)
        .unwrap()
        .unwrap();
    net.run_for(10);
    let d0 = dialog_of(&net.take(0), 200).unwrap();
    let now = net.now;
    let hs: [(&[u8], &[u8]); 3] = [
        (b"Event", b"refer"),
        (b"Subscription-State", b"terminated;reason=noresource"),
        (b"Content-Type", b"message/sipfrag;version=2.0"),
    ];
    net.eps[1]
        .request_in_dialog(d1, b"NOTIFY", &hs, b"SIP/2.0 200 OK\r\n", None, now)
        .unwrap();
    net.run_for(10);
    let ev = net.take(0);
    let txn = ev
        .iter()
        .find_map(|e| match e {
            EndpointEvent::Request { txn, dialog, .. } if *dialog == Some(d0) => Some(*txn),
            _ => None,
        })
        .expect("the refer NOTIFY reaches the user");
    net.eps[0]
        .respond(txn, 200, None, &[], b"", net.now)
        .unwrap();
    net.run_for(10);
    assert_eq!(statuses(&net.take(1)), [200]);
    assert!(net.eps[0].dialog(d0).is_some() && net.eps[1].dialog(d1).is_some());
}

#[test]
fn a_late_200_does_not_revive_a_subscription_an_early_notify_ended() {
    let mut net = net();
    net.subscribe(b"presence", b"60");
    net.run_for(10);
    net.drop_once = Some(b"SIP/2.0 200");
    let (_, _, d1) = net.answer(200);
    // The notifier ends it at once; both NOTIFYs overtake the (lost) 200.
    net.notify(d1.unwrap(), SubState::Terminated, b"");
    net.run_for(10);
    let ev = net.take(0);
    assert_eq!(notifies(&mut net, &ev).len(), 1);
    assert_eq!(net.eps[0].dialog_count(), 0);
    // The resent SUBSCRIBE brings the 200 again: reported, but no dialog comes back.
    net.run_for(1000);
    let ev = net.take(0);
    assert_eq!(statuses(&ev), [200]);
    assert_eq!(dialog_of(&ev, 200), None);
    assert_eq!(net.eps[0].dialog_count(), 0);
}
