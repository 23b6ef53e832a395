//! Two endpoints joined by an in-memory wire: calls, CANCEL, PRACK, glare, a lost ACK, and
//! a wire that drops, duplicates and reorders (DESIGN §5).

use sipwire::dialog::DialogKey;
use sipwire::endpoint::{EndpointConfig, EndpointError, EndpointEvent, NewRequest};
use sipwire::txn::TxnId;

mod common;

/// A minimal offer (RFC 8866: v, o, s, t, m), and the same on hold.
const SDP: &[u8] =
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
const HOLD: &[u8] = b"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n";

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
    net.invite(SDP);
    net.run(net.now + 100);
    let ev = net.take(1);
    let inv = incoming_invite(&ev).expect("B got the INVITE");
    let now = net.now;
    net.eps[1].respond(inv, 180, None, &[], b"", now).unwrap();
    let db = net.eps[1]
        .respond(inv, 200, None, &[], SDP, now)
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
            HOLD,
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
                assert_eq!(msg.message().body(), HOLD);
                Some(*txn)
            }
            _ => None,
        })
        .unwrap();
    let now = net.now;
    assert_eq!(
        net.eps[1]
            .respond(
                re,
                200,
                None,
                &[(b"Content-Type", b"application/sdp")],
                b"a=recvonly\r\n",
                now
            )
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
        net.invite(SDP);
        let mut da = None;
        let mut db = None;
        let mut byed = false;
        for _ in 0..2000 {
            net.run(net.now + 50);
            for e in net.take(1) {
                if let EndpointEvent::Request { txn, msg, .. } = e {
                    let now = net.now;
                    if msg.message().method() == Some(b"INVITE") {
                        db = net.eps[1].respond(txn, 200, None, &[], SDP, now).unwrap();
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
    net.invite(SDP);
    net.run(net.now + 100);
    let (inv, bytes) = request_of(&net.take(1), b"INVITE").unwrap();
    assert_eq!(header(&bytes, "Session-Expires"), Some("90"));
    assert!(header(&bytes, "Supported").is_some_and(|v| v.contains("timer")));
    let now = net.now;
    let db = net.eps[1]
        .respond(inv, 200, None, &[], SDP, now)
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
    net.invite(SDP);
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
    let inv = net.invite(SDP);
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
        .respond(t, 200, None, &[], SDP, now)
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

// --- regressions: hostile peers (issue 15) --------------------------------------------------

fn raw(method: &str, headers: &[&str], body: &str) -> Vec<u8> {
    let mut s = format!("{method} sip:b@127.0.0.1:5070 SIP/2.0\r\n");
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.into_bytes()
}

const HEADERS: [&str; 6] = [
    "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKh1",
    "Max-Forwards: 70",
    "From: <sip:a@127.0.0.1>;tag=f1",
    "To: <sip:b@127.0.0.1>",
    "Call-ID: hostile-1",
    "CSeq: 1 INVITE",
];

/// A datagram sent: status, bytes, destination port.
type Sent = (u16, Vec<u8>, u16);

/// What endpoint B sends back to one request from A's address, and B's events.
fn answer_to(bytes: Vec<u8>, source: u16) -> (Vec<Sent>, Vec<EndpointEvent>) {
    let mut ep = sipwire::endpoint::Endpoint::new(EndpointConfig::new(peer(5070), 3));
    let _ = ep.receive(bytes, peer(source), 0);
    let mut out = Vec::new();
    while let Some(d) = ep.poll_transmit() {
        let status = std::str::from_utf8(&d.bytes[8..11])
            .unwrap()
            .parse()
            .unwrap();
        out.push((status, d.bytes.to_vec(), d.dest.addr.port()));
    }
    let mut ev = Vec::new();
    while let Some(e) = ep.poll_event() {
        ev.push(e);
    }
    (out, ev)
}

fn finals(out: &[Sent]) -> Vec<u16> {
    out.iter().map(|o| o.0).filter(|&s| s >= 200).collect()
}

fn no_request(ev: &[EndpointEvent]) -> bool {
    !ev.iter()
        .any(|e| matches!(e, EndpointEvent::Request { .. }))
}

#[test]
fn rfc3261_8_2_malformed_requests_are_answered_before_the_user_sees_them() {
    // Missing Call-ID: 400 naming it (the transaction layer cannot even key it).
    let hs: Vec<&str> = HEADERS
        .iter()
        .copied()
        .filter(|h| !h.starts_with("Call-ID"))
        .collect();
    let (out, ev) = answer_to(raw("INVITE", &hs, ""), 5060);
    assert_eq!(finals(&out), [400]);
    let text = String::from_utf8_lossy(&out[0].1).into_owned();
    assert!(
        text.contains("Warning: 399 127.0.0.1:5070 \"Call-ID"),
        "{text}"
    );
    assert!(no_request(&ev));
    // Missing From: 400 naming it.
    let hs: Vec<&str> = HEADERS
        .iter()
        .copied()
        .filter(|h| !h.starts_with("From"))
        .collect();
    let (out, ev) = answer_to(raw("INVITE", &hs, ""), 5060);
    assert_eq!(finals(&out), [400]);
    assert!(String::from_utf8_lossy(&out[0].1).contains("\"From"));
    assert!(no_request(&ev));
    // A CSeq of another method, a duplicated To: 400.
    let mut hs = HEADERS.to_vec();
    hs[5] = "CSeq: 1 BYE";
    assert_eq!(finals(&answer_to(raw("INVITE", &hs, ""), 5060).0), [400]);
    let mut hs = HEADERS.to_vec();
    hs.push("To: <sip:c@127.0.0.1>");
    assert_eq!(finals(&answer_to(raw("INVITE", &hs, ""), 5060).0), [400]);
    // An ACK is never answered.
    let mut hs = HEADERS.to_vec();
    hs.retain(|h| !h.starts_with("Call-ID"));
    hs.push("CSeq: 1 ACK");
    hs.retain(|h| *h != "CSeq: 1 INVITE");
    assert!(answer_to(raw("ACK", &hs, ""), 5060).0.is_empty());
}

#[test]
fn rfc3261_8_2_2_3_unknown_require_gets_420_with_unsupported() {
    let mut hs = HEADERS.to_vec();
    hs.push("Require: 100rel, frobnicate");
    let (out, ev) = answer_to(raw("INVITE", &hs, ""), 5060);
    assert_eq!(finals(&out), [420]);
    assert!(String::from_utf8_lossy(&out.last().unwrap().1).contains("Unsupported: frobnicate"));
    assert!(no_request(&ev));
}

#[test]
fn rfc3261_8_2_3_unusable_bodies_get_415_and_488() {
    let mut hs = HEADERS.to_vec();
    hs.push("Content-Type: text/plain");
    assert_eq!(
        finals(&answer_to(raw("INVITE", &hs, "hello"), 5060).0),
        [415]
    );
    let mut hs = HEADERS.to_vec();
    hs.push("Content-Encoding: gzip");
    assert_eq!(finals(&answer_to(raw("INVITE", &hs, ""), 5060).0), [415]);
    // An offer that does not parse (no o=, s=, t=): 488 with a Warning.
    let mut hs = HEADERS.to_vec();
    hs.push("Content-Type: application/sdp");
    let (out, ev) = answer_to(raw("INVITE", &hs, "v=0\r\nm=audio 1 RTP/AVP 0\r\n"), 5060);
    assert_eq!(finals(&out), [488]);
    assert!(String::from_utf8_lossy(&out.last().unwrap().1).contains("Warning: 399"));
    assert!(no_request(&ev));
    // A body without Content-Type: 400.
    assert_eq!(
        finals(&answer_to(raw("INVITE", &HEADERS, "v=0\r\n"), 5060).0),
        [400]
    );
}

#[test]
fn rfc3261_8_2_1_unknown_uri_scheme_gets_416() {
    let b = raw("OPTIONS", &HEADERS, "");
    let b = String::from_utf8(b)
        .unwrap()
        .replacen(
            "OPTIONS sip:b@127.0.0.1:5070",
            "OPTIONS http://example.com/",
            1,
        )
        .replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS");
    assert_eq!(finals(&answer_to(b.into_bytes(), 5060).0), [416]);
}

#[test]
fn rfc3261_18_2_1_received_is_added_when_sent_by_differs_and_18_2_2_response_goes_to_sent_by_port()
{
    // sent-by says 10.9.9.9:5099, the request came from 127.0.0.1:5060, no rport: the
    // response carries received=127.0.0.1 and goes to 127.0.0.1:5099.
    let mut hs = HEADERS.to_vec();
    hs[0] = "Via: SIP/2.0/UDP 10.9.9.9:5099;branch=z9hG4bKh2";
    hs[5] = "CSeq: 1 OPTIONS";
    let (out, _) = answer_to(raw("OPTIONS", &hs, ""), 5060);
    let mut ep_out = out;
    // The user answers nothing: only the request was screened; answer it now.
    assert!(ep_out.is_empty() || ep_out.iter().all(|o| o.0 < 200));
    let mut ep = sipwire::endpoint::Endpoint::new(EndpointConfig::new(peer(5070), 3));
    let _ = ep.receive(raw("OPTIONS", &hs, ""), peer(5060), 0);
    let txn = std::iter::from_fn(|| ep.poll_event())
        .find_map(|e| match e {
            EndpointEvent::Request { txn, .. } => Some(txn),
            _ => None,
        })
        .unwrap();
    ep.respond(txn, 200, None, &[], b"", 0).unwrap();
    ep_out.clear();
    while let Some(d) = ep.poll_transmit() {
        ep_out.push((0, d.bytes.to_vec(), d.dest.addr.port()));
    }
    let (_, bytes, port) = &ep_out[0];
    assert_eq!(*port, 5099);
    assert!(String::from_utf8_lossy(bytes)
        .contains("10.9.9.9:5099;branch=z9hG4bKh2;received=127.0.0.1"));
    // maddr: to that address at the sent-by port.
    hs[0] = "Via: SIP/2.0/UDP 10.9.9.9:5099;maddr=127.0.0.2;branch=z9hG4bKh3";
    let mut ep = sipwire::endpoint::Endpoint::new(EndpointConfig::new(peer(5070), 3));
    let _ = ep.receive(raw("OPTIONS", &hs, ""), peer(5060), 0);
    let txn = std::iter::from_fn(|| ep.poll_event())
        .find_map(|e| match e {
            EndpointEvent::Request { txn, .. } => Some(txn),
            _ => None,
        })
        .unwrap();
    ep.respond(txn, 200, None, &[], b"", 0).unwrap();
    let d = ep.poll_transmit().unwrap();
    assert_eq!(d.dest.addr, "127.0.0.2:5099".parse().unwrap());
}

#[test]
fn rfc3261_14_1_no_reinvite_while_an_invite_is_in_progress() {
    let mut net = Net::new(14);
    let (da, _db) = call(&mut net);
    let now = net.now;
    let hs: [(&[u8], &[u8]); 1] = [(b"Content-Type", b"application/sdp")];
    net.eps[0]
        .request_in_dialog(da, b"INVITE", &hs, HOLD, None, now)
        .unwrap();
    assert_eq!(
        net.eps[0].request_in_dialog(da, b"INVITE", &hs, HOLD, None, now),
        Err(EndpointError::InviteInProgress)
    );
}

#[test]
fn rfc3261_7_4_1_a_body_needs_a_content_type() {
    let mut ep = sipwire::endpoint::Endpoint::new(EndpointConfig::new(peer(5060), 3));
    let r = NewRequest {
        method: b"MESSAGE",
        uri: b"sip:b@127.0.0.1:5070",
        body: b"hello",
        ..NewRequest::default()
    };
    assert_eq!(
        ep.request(&r, peer(5070), 0),
        Err(EndpointError::NoContentType)
    );
    // SDP is recognised and typed.
    let r = NewRequest {
        method: b"INVITE",
        uri: b"sip:b@127.0.0.1:5070",
        body: SDP,
        ..NewRequest::default()
    };
    ep.request(&r, peer(5070), 0).unwrap();
    let d = ep.poll_transmit().unwrap();
    assert!(String::from_utf8_lossy(&d.bytes).contains("Content-Type: application/sdp"));
}

#[test]
fn rfc3261_18_4_unreachable_destination_fails_its_transactions_at_once() {
    let mut ep = sipwire::endpoint::Endpoint::new(EndpointConfig::new(peer(5060), 3));
    let r = NewRequest {
        method: b"OPTIONS",
        uri: b"sip:b@127.0.0.1:5070",
        ..NewRequest::default()
    };
    let t = ep.request(&r, peer(5070), 0).unwrap();
    assert_eq!(ep.unreachable(peer(5070), 5), 1);
    let ev: Vec<_> = std::iter::from_fn(|| ep.poll_event()).collect();
    assert!(
        ev.iter()
            .any(|e| matches!(e, EndpointEvent::TransportError { txn } if *txn == t)),
        "{ev:?}"
    );
}
