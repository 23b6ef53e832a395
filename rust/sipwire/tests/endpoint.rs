//! Two endpoints joined by an in-memory wire: calls, CANCEL, PRACK, glare, a lost ACK, and
//! a wire that drops, duplicates and reorders (DESIGN §5).

use sipwire::dialog::DialogKey;
use sipwire::endpoint::{EndpointConfig, EndpointError, EndpointEvent, NewRequest};
use sipwire::txn::TxnId;

mod common;

use common::{dialog_of, peer, statuses, Net};

impl Net {
    fn invite(&mut self, body: &[u8]) -> TxnId {
        let r = NewRequest {
            method: b"INVITE",
            uri: b"sip:b@127.0.0.1:5070",
            body,
            headers: &[(b"Content-Type", b"application/sdp")],
            ..NewRequest::default()
        };
        let t = self.eps[0].request(&r, peer(5070), self.now).unwrap();
        self.flush();
        t
    }

    fn empty_after_idle(&mut self) -> bool {
        let until = self.now + 64 * 500 + 1000;
        self.run(until);
        (0..2).all(|i| self.eps[i].transactions() == 0 && self.eps[i].dialog_count() == 0)
    }
}

fn incoming_invite(ev: &[EndpointEvent]) -> Option<TxnId> {
    ev.iter().find_map(|e| match e {
        EndpointEvent::Request { txn, msg, .. } if msg.message().method() == Some(b"INVITE") => {
            Some(*txn)
        }
        _ => None,
    })
}

/// A, B: INVITE, 180, 200, ACK; then BYE from `byer`.
fn call(net: &mut Net) -> (DialogKey, DialogKey) {
    net.invite(b"v=0\r\n");
    net.run(net.now + 100);
    let ev = net.take(1);
    let inv = incoming_invite(&ev).expect("B got the INVITE");
    let now = net.now;
    net.eps[1].respond(inv, 180, None, &[], b"", now).unwrap();
    let db = net.eps[1]
        .respond(inv, 200, None, &[], b"v=0\r\n", now)
        .unwrap()
        .expect("the 200 made a dialog");
    net.run(net.now + 200);
    let ev = net.take(0);
    assert_eq!(statuses(&ev), [100, 180, 200]);
    let da = dialog_of(&ev, 200).expect("A's dialog");
    let evb = net.take(1);
    assert!(
        evb.iter()
            .any(|e| matches!(e, EndpointEvent::Ack { dialog, .. } if *dialog == db)),
        "{evb:?}"
    );
    (da, db)
}

#[test]
fn call_with_bye_and_nothing_left_after() {
    let mut net = Net::new(1);
    let (da, db) = call(&mut net);
    let d = net.eps[0].dialog(da).unwrap();
    assert_eq!(d.remote_target, b"sip:sipwire@127.0.0.1:5070");
    assert_eq!(
        net.eps[1].dialog(db).unwrap().remote_target,
        b"sip:sipwire@127.0.0.1:5060"
    );
    let now = net.now;
    net.eps[0]
        .request_in_dialog(da, b"BYE", &[], b"", None, now)
        .unwrap();
    net.run(net.now + 200);
    let ea = net.take(0);
    let eb = net.take(1);
    assert!(eb
        .iter()
        .any(|e| matches!(e, EndpointEvent::Bye { dialog, .. } if *dialog == db)));
    assert!(eb
        .iter()
        .any(|e| matches!(e, EndpointEvent::DialogTerminated { dialog, .. } if *dialog == db)));
    assert!(ea
        .iter()
        .any(|e| matches!(e, EndpointEvent::DialogTerminated { dialog, .. } if *dialog == da)));
    assert_eq!(statuses(&ea), [200]);
    assert!(net.empty_after_idle());
}

#[test]
fn reinvite_hold_and_cseq_grows() {
    let mut net = Net::new(2);
    let (da, db) = call(&mut net);
    let now = net.now;
    net.eps[0]
        .request_in_dialog(
            da,
            b"INVITE",
            &[(b"Content-Type", b"application/sdp")],
            b"a=sendonly\r\n",
            None,
            now,
        )
        .unwrap();
    net.run(net.now + 100);
    let eb = net.take(1);
    let re = eb
        .iter()
        .find_map(|e| match e {
            EndpointEvent::Request { txn, dialog, msg } => {
                assert_eq!(*dialog, Some(db));
                assert_eq!(msg.message().body(), b"a=sendonly\r\n");
                Some(*txn)
            }
            _ => None,
        })
        .unwrap();
    let now = net.now;
    assert_eq!(
        net.eps[1]
            .respond(re, 200, None, &[], b"a=recvonly\r\n", now)
            .unwrap(),
        Some(db)
    );
    net.run(net.now + 100);
    assert_eq!(statuses(&net.take(0)), [100, 200]);
    assert!(net
        .take(1)
        .iter()
        .any(|e| matches!(e, EndpointEvent::Ack { .. })));
    assert_eq!(net.eps[0].dialog(da).unwrap().local_seq, 2);
    assert_eq!(net.eps[1].dialog(db).unwrap().remote_seq, Some(2));
}

#[test]
fn cancel_during_ringing_gets_487_and_leaves_no_dialog() {
    let mut net = Net::new(3);
    let t = net.invite(b"");
    net.run(net.now + 100);
    let inv = incoming_invite(&net.take(1)).unwrap();
    let now = net.now;
    assert!(net.eps[1]
        .respond(inv, 180, None, &[], b"", now)
        .unwrap()
        .is_some());
    net.run(net.now + 100);
    assert_eq!(statuses(&net.take(0)), [100, 180]);
    assert_eq!(net.eps[0].dialog_count(), 1, "the 180 made an early dialog");
    let now = net.now;
    assert!(net.eps[0].cancel(t, now).unwrap().is_some());
    net.run(net.now + 100);
    let eb = net.take(1);
    assert!(eb
        .iter()
        .any(|e| matches!(e, EndpointEvent::Cancelled { invite, .. } if *invite == inv)));
    let ea = statuses(&net.take(0));
    assert!(ea.contains(&487) && ea.contains(&200), "{ea:?}");
    assert!(net.empty_after_idle());
}

#[test]
fn reliable_provisional_is_pracked() {
    let mut net = Net::new(4);
    net.invite(b"");
    net.run(net.now + 100);
    let inv = incoming_invite(&net.take(1)).unwrap();
    let now = net.now;
    let h: [(&[u8], &[u8]); 2] = [(b"Require", b"100rel"), (b"RSeq", b"1")];
    net.eps[1].respond(inv, 183, None, &h, b"", now).unwrap();
    net.run(net.now + 100);
    let eb = net.take(1);
    let prack = eb
        .iter()
        .find_map(|e| match e {
            EndpointEvent::Request {
                txn,
                dialog: Some(_),
                msg,
            } if msg.message().method() == Some(b"PRACK") => {
                Some((*txn, msg.message().get(b"RAck").map(<[u8]>::to_vec)))
            }
            _ => None,
        })
        .expect("B got a PRACK");
    assert_eq!(prack.1.as_deref(), Some(&b"1 1 INVITE"[..]));
    assert_eq!(net.eps[0].counters().pracks_sent, 1);
    let now = net.now;
    net.eps[1]
        .respond(prack.0, 200, None, &[], b"", now)
        .unwrap();
    net.eps[1].respond(inv, 200, None, &[], b"", now).unwrap();
    net.run(net.now + 100);
    let s = statuses(&net.take(0));
    assert!(
        s.contains(&183) && s.iter().filter(|&&c| c == 200).count() == 2,
        "{s:?}"
    );
}

#[test]
fn reinvite_glare_gets_491_and_one_retry_wins() {
    let mut net = Net::new(5);
    let (da, db) = call(&mut net);
    let now = net.now;
    net.eps[0]
        .request_in_dialog(da, b"INVITE", &[], b"", None, now)
        .unwrap();
    net.eps[1]
        .request_in_dialog(db, b"INVITE", &[], b"", None, now)
        .unwrap();
    // Each side answers what it gets; 491 is the endpoint's own answer.
    let mut answered = 0;
    for _ in 0..400 {
        net.run(net.now + 50);
        for i in 0..2 {
            for e in net.take(i) {
                if let EndpointEvent::Request { txn, msg, .. } = e {
                    if msg.message().method() == Some(b"INVITE") {
                        let now = net.now;
                        net.eps[i].respond(txn, 200, None, &[], b"", now).unwrap();
                        answered += 1;
                    }
                }
            }
        }
        if answered == 2 {
            break;
        }
    }
    assert_eq!(answered, 2, "both re-INVITEs went through after the 491s");
    let c: u64 = (0..2)
        .map(|i| net.eps[i].counters().dialog.rejected_491)
        .sum();
    assert_eq!(c, 2);
    let r: u64 = (0..2).map(|i| net.eps[i].counters().glare_retries).sum();
    assert_eq!(r, 2);
}

#[test]
fn lost_acks_make_the_uas_send_bye() {
    let mut net = Net::new(6);
    net.drop_prefix = Some(b"ACK ");
    net.invite(b"");
    net.run(net.now + 100);
    let inv = incoming_invite(&net.take(1)).unwrap();
    let now = net.now;
    let db = net.eps[1]
        .respond(inv, 200, None, &[], b"", now)
        .unwrap()
        .unwrap();
    net.run(net.now + 64 * 500 + 100);
    let eb = net.take(1);
    assert!(eb
        .iter()
        .any(|e| matches!(e, EndpointEvent::NoAck { dialog } if *dialog == db)));
    assert!(net
        .take(0)
        .iter()
        .any(|e| matches!(e, EndpointEvent::Bye { .. })));
    assert!(net.eps[1].counters().dialog.retransmitted_2xx >= 6);
    assert!(net.empty_after_idle());
}

#[test]
fn calls_complete_over_a_lossy_duplicating_reordering_wire() {
    for seed in 1..200 {
        let mut net = Net::new(seed * 7919);
        net.drop_pct = 20;
        net.dup_pct = 20;
        net.jitter = 40;
        net.invite(b"v=0\r\n");
        let mut da = None;
        let mut db = None;
        let mut byed = false;
        for _ in 0..2000 {
            net.run(net.now + 50);
            for e in net.take(1) {
                if let EndpointEvent::Request { txn, msg, .. } = e {
                    let now = net.now;
                    if msg.message().method() == Some(b"INVITE") {
                        db = net.eps[1]
                            .respond(txn, 200, None, &[], b"v=0\r\n", now)
                            .unwrap();
                    }
                }
            }
            for e in net.take(0) {
                if let EndpointEvent::Response { dialog, msg, .. } = e {
                    if msg.message().status() == Some(200) && da.is_none() {
                        da = dialog;
                    }
                }
            }
            if let (Some(d), false) = (da, byed) {
                let now = net.now;
                net.eps[0]
                    .request_in_dialog(d, b"BYE", &[], b"", None, now)
                    .unwrap();
                byed = true;
            }
            if byed && net.eps[1].dialog_count() == 0 {
                break;
            }
        }
        assert!(
            da.is_some() && db.is_some(),
            "seed {seed}: the call was answered"
        );
        assert!(byed, "seed {seed}");
        // Every transaction ends within 64·T1 (plus Timer D's 32 s for the INVITE's ACK).
        let empty = net.empty_after_idle();
        let left: Vec<_> = (0..2)
            .map(|i| {
                (
                    net.eps[i].transactions(),
                    net.eps[i]
                        .dialog_keys()
                        .iter()
                        .map(|&k| net.eps[i].dialog(k).cloned())
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        assert!(empty, "seed {seed}: tables empty after idle: {left:?}");
    }
}

#[test]
fn responses_fill_rport_and_received() {
    // RFC 3581 §4: the request's bare `rport` gets the source port, `received` the address.
    let mut net = Net::new(8);
    net.invite(b"");
    net.run(net.now + 100);
    let inv = incoming_invite(&net.take(1)).unwrap();
    let now = net.now;
    net.eps[1].respond(inv, 486, None, &[], b"", now).unwrap();
    net.run(net.now + 100);
    let ev = net.take(0);
    let vias: Vec<Vec<u8>> = ev
        .iter()
        .filter_map(|e| match e {
            EndpointEvent::Response { msg, .. } => msg.message().get(b"Via").map(<[u8]>::to_vec),
            _ => None,
        })
        .collect();
    assert_eq!(vias.len(), 2, "100 and 486");
    for v in vias {
        let v = String::from_utf8(v).unwrap();
        assert!(v.contains(";rport=5060;received=127.0.0.1"), "{v}");
    }
}

/// A calls B offering 100rel; B's INVITE server transaction.
fn invite_offering_100rel(net: &mut Net) -> TxnId {
    let r = NewRequest {
        method: b"INVITE",
        uri: b"sip:b@127.0.0.1:5070",
        headers: &[(b"Supported", b"100rel")],
        ..NewRequest::default()
    };
    let now = net.now;
    net.eps[0].request(&r, peer(5070), now).unwrap();
    net.run(net.now + 100);
    incoming_invite(&net.take(1)).unwrap()
}

#[test]
fn reliable_provisional_is_resent_until_prack_then_final() {
    let mut net = Net::new(9);
    let inv = invite_offering_100rel(&mut net);
    // The first PRACK is lost: the 180 goes again at T1 and the second PRACK gets through.
    net.drop_prefix = Some(b"PRACK ");
    let now = net.now;
    net.eps[1]
        .respond_reliably(inv, 180, None, &[], b"", now)
        .unwrap();
    assert!(matches!(
        net.eps[1].respond_reliably(inv, 183, None, &[], b"", now),
        Err(EndpointError::PrackPending)
    ));
    net.run(net.now + 300);
    net.drop_prefix = None;
    net.run(net.now + 1000);
    assert_eq!(net.eps[1].counters().pracks_received, 1);
    let a = net.eps[0].counters();
    assert_eq!(a.pracks_sent, 1);
    assert!(
        a.provisionals_dropped >= 1,
        "the resent 180 is not reported twice"
    );
    let now = net.now;
    net.eps[1].respond(inv, 200, None, &[], b"", now).unwrap();
    net.run(net.now + 100);
    let s = statuses(&net.take(0));
    assert_eq!(s.iter().filter(|&&c| c == 180).count(), 1, "{s:?}");
    assert!(s.contains(&200));
    let d = net.eps[0].dialog_keys()[0];
    let now = net.now;
    net.eps[0]
        .request_in_dialog(d, b"BYE", &[], b"", None, now)
        .unwrap();
    assert!(net.empty_after_idle());
}

#[test]
fn reliable_provisional_needs_100rel_support_and_gives_up_without_prack() {
    let mut net = Net::new(10);
    net.invite(b"");
    net.run(net.now + 100);
    let inv = incoming_invite(&net.take(1)).unwrap();
    let now = net.now;
    assert!(matches!(
        net.eps[1].respond_reliably(inv, 180, None, &[], b"", now),
        Err(EndpointError::NotReliable)
    ));
    let mut net = Net::new(11);
    let inv = invite_offering_100rel(&mut net);
    net.drop_prefix = Some(b"PRACK ");
    let now = net.now;
    net.eps[1]
        .respond_reliably(inv, 180, None, &[], b"", now)
        .unwrap();
    net.run(net.now + 64 * 500 + 100);
    assert_eq!(net.eps[1].counters().pracks_missing, 1);
    assert!(statuses(&net.take(0)).contains(&500));
}

fn header<'a>(bytes: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn request_of(ev: &[EndpointEvent], method: &[u8]) -> Option<(TxnId, Vec<u8>)> {
    ev.iter().find_map(|e| match e {
        EndpointEvent::Request { txn, msg, .. } if msg.message().method() == Some(method) => {
            Some((*txn, msg.bytes.clone()))
        }
        _ => None,
    })
}

#[test]
fn offerless_reinvite_gets_the_offer_in_200_and_the_answer_in_the_users_ack() {
    let mut net = Net::new(11);
    let (da, db) = call(&mut net);
    let now = net.now;
    let re = net.eps[0]
        .request_in_dialog(da, b"INVITE", &[], b"", None, now)
        .unwrap();
    net.run(net.now + 100);
    let (inv, _) = request_of(&net.take(1), b"INVITE").expect("B got the re-INVITE");
    let now = net.now;
    net.eps[1]
        .respond(
            inv,
            200,
            None,
            &[(b"Content-Type", b"application/sdp")],
            b"v=0\r\no=offer\r\n",
            now,
        )
        .unwrap();
    // B resends its 2xx while A's user has not answered: one 200 reported, no ACK yet.
    net.run(net.now + 1600);
    let ea = net.take(0);
    assert_eq!(statuses(&ea), [100, 200], "{ea:?}");
    assert!(!net
        .take(1)
        .iter()
        .any(|e| matches!(e, EndpointEvent::Ack { .. })));
    let now = net.now;
    net.eps[0]
        .ack(
            re,
            da,
            &[(b"Content-Type", b"application/sdp")],
            b"v=0\r\no=answer\r\n",
            now,
        )
        .unwrap();
    assert_eq!(
        net.eps[0].ack(re, da, &[], b"", now),
        Err(EndpointError::NoAckPending)
    );
    net.run(net.now + 100);
    let eb = net.take(1);
    let body = eb.iter().find_map(|e| match e {
        EndpointEvent::Ack { dialog, msg } if *dialog == db => Some(msg.message().body().to_vec()),
        _ => None,
    });
    assert_eq!(body.as_deref(), Some(&b"v=0\r\no=answer\r\n"[..]));
    // Later 2xx retransmissions (none now) would get the same ACK; the dialog stays up.
    net.run(net.now + 5000);
    assert!(net.eps[1].dialog(db).is_some());
    assert_eq!(net.eps[1].counters().dialog.no_ack, 0);
}

#[test]
fn session_timer_is_negotiated_refreshed_and_expires_with_bye() {
    let mut a = EndpointConfig::new(peer(5060), 12);
    a.session_expires = Some(90);
    let b = EndpointConfig::new(peer(5070), 13);
    let mut net = Net::with(a, b);
    net.invite(b"v=0\r\n");
    net.run(net.now + 100);
    let (inv, bytes) = request_of(&net.take(1), b"INVITE").unwrap();
    assert_eq!(header(&bytes, "Session-Expires"), Some("90"));
    assert!(header(&bytes, "Supported").is_some_and(|v| v.contains("timer")));
    let now = net.now;
    let db = net.eps[1]
        .respond(inv, 200, None, &[], b"v=0\r\n", now)
        .unwrap()
        .unwrap();
    net.run(net.now + 100);
    let da = dialog_of(&net.take(0), 200).unwrap();
    // §9: the UAC supports timers and named no refresher, so it refreshes.
    assert_eq!(net.eps[0].session_timer(da), Some((90, true)));
    assert_eq!(net.eps[1].session_timer(db), Some((90, false)));
    net.take(1);

    // Half the interval: A is told to refresh; its re-INVITE carries the timer.
    net.run(net.now + 45_000);
    let ea = net.take(0);
    assert!(ea
        .iter()
        .any(|e| matches!(e, EndpointEvent::SessionRefresh { dialog } if *dialog == da)));
    let now = net.now;
    net.eps[0]
        .request_in_dialog(da, b"UPDATE", &[], b"", None, now)
        .unwrap();
    net.run(net.now + 100);
    let (upd, bytes) = request_of(&net.take(1), b"UPDATE").unwrap();
    assert_eq!(header(&bytes, "Session-Expires"), Some("90;refresher=uac"));
    let now = net.now;
    net.eps[1].respond(upd, 200, None, &[], b"", now).unwrap();
    net.run(net.now + 100);
    net.take(0);

    // No more refreshes: B ends the session 60 s (90 - 30) after the last one.
    net.run(net.now + 59_000);
    assert!(net.eps[1].dialog(db).is_some());
    net.run(net.now + 2_000);
    let eb = net.take(1);
    assert!(eb
        .iter()
        .any(|e| matches!(e, EndpointEvent::SessionExpired { dialog } if *dialog == db)));
    assert!(net
        .take(0)
        .iter()
        .any(|e| matches!(e, EndpointEvent::Bye { dialog, .. } if *dialog == da)));
    assert_eq!(net.eps[1].counters().sessions_expired, 1);
    assert!(net.empty_after_idle());
}

#[test]
fn too_short_session_interval_gets_422_with_min_se() {
    let mut a = EndpointConfig::new(peer(5060), 14);
    a.session_expires = Some(90);
    let mut b = EndpointConfig::new(peer(5070), 15);
    b.min_se = 300;
    let mut net = Net::with(a, b);
    net.invite(b"v=0\r\n");
    net.run(net.now + 100);
    assert!(request_of(&net.take(1), b"INVITE").is_none());
    let ea = net.take(0);
    assert_eq!(statuses(&ea), [422]);
    let min_se = ea.iter().find_map(|e| match e {
        EndpointEvent::Response { msg, .. } => header(&msg.bytes, "Min-SE").map(str::to_owned),
        _ => None,
    });
    assert_eq!(min_se.as_deref(), Some("300"));
    assert_eq!(net.eps[1].counters().session_too_small, 1);
    assert!(net.empty_after_idle());
}

#[test]
fn replaces_names_a_dialog_by_this_sides_tag_and_the_peers() {
    let mut net = Net::new(16);
    let (da, db) = call(&mut net);
    let a = net.eps[0].dialog(da).unwrap().id.clone();
    let b = net.eps[1].dialog(db).unwrap().id.clone();
    let value = |to: &[u8], from: &[u8], extra: &str| {
        let mut v = a.call_id.clone();
        v.extend_from_slice(b";to-tag=");
        v.extend_from_slice(to);
        v.extend_from_slice(b";from-tag=");
        v.extend_from_slice(from);
        v.extend_from_slice(extra.as_bytes());
        v
    };
    // At B, to-tag is B's own tag and from-tag A's (RFC 3891 §3).
    assert_eq!(
        net.eps[1].replaces(&value(&b.local_tag, &b.remote_tag, "")),
        Ok(db)
    );
    assert_eq!(
        net.eps[1].replaces(&value(&b.remote_tag, &b.local_tag, "")),
        Err(481)
    );
    assert_eq!(
        net.eps[1].replaces(&value(&b.local_tag, &b.remote_tag, ";early-only")),
        Err(486)
    );
    assert_eq!(net.eps[1].replaces(b";;"), Err(400));
}

#[test]
fn a_200_crossing_the_cancel_is_acked_and_ended_with_bye() {
    let mut net = Net::new(17);
    let inv = net.invite(b"v=0\r\n");
    net.run(net.now + 100);
    let t = incoming_invite(&net.take(1)).unwrap();
    let now = net.now;
    net.eps[1].respond(t, 180, None, &[], b"", now).unwrap();
    net.run(net.now + 100);
    net.take(0);
    // The CANCEL and the 200 cross on the wire.
    let now = net.now;
    net.eps[0].cancel(inv, now).unwrap();
    let db = net.eps[1]
        .respond(t, 200, None, &[], b"v=0\r\n", now)
        .unwrap()
        .unwrap();
    net.run(net.now + 200);
    let ea = net.take(0);
    assert!(statuses(&ea).contains(&200), "{ea:?}");
    // The ACK and the BYE leave together (either may arrive first); the call ends.
    let eb = net.take(1);
    assert!(
        eb.iter()
            .any(|e| matches!(e, EndpointEvent::Bye { dialog, .. } if *dialog == db)),
        "{eb:?}"
    );
    assert!(net.empty_after_idle());
    assert_eq!(net.eps[1].counters().dialog.no_ack, 0);
}
