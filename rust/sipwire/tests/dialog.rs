//! Dialogs (RFC 3261 §12-14), PRACK (RFC 3262) and session timers (RFC 4028).

use std::net::SocketAddr;

use sipwire::build::{response_to, RequestBuilder};
use sipwire::dialog::prack::{
    rack_value, PrackAction, ReliableProvisionals, RseqTracker, RseqVerdict,
};
use sipwire::dialog::session_timer::{
    uac_on_2xx, uac_on_422, uas_negotiate, SessionTimer, UasTimer,
};
use sipwire::dialog::{
    glare_retry_delay, Dialog, DialogAction, DialogConfig, DialogState, Dialogs, RequestVerdict,
};
use sipwire::header::{RAck, Refresher};
use sipwire::message::Message;
use sipwire::txn::{Peer, Transport};
use sipwire::ParseOptions;

fn parse(b: &[u8]) -> Message<'_> {
    Message::parse(b, &ParseOptions::STRICT).unwrap()
}

fn invite(branch: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut b = RequestBuilder::new(b"INVITE", b"sip:bob@b.example").unwrap();
    b.header(
        b"Via",
        format!("SIP/2.0/UDP a.example;branch={branch}").as_bytes(),
    )
    .unwrap();
    for (n, v) in [
        ("Max-Forwards", "70"),
        ("To", "Bob <sip:bob@b.example>"),
        ("From", "Alice <sip:alice@a.example>;tag=a1"),
        ("Call-ID", "call-1"),
        ("CSeq", "1 INVITE"),
        ("Contact", "<sip:alice@10.0.0.1>"),
    ]
    .iter()
    .chain(extra)
    {
        b.header(n.as_bytes(), v.as_bytes()).unwrap();
    }
    b.build().unwrap()
}

fn answer(req: &[u8], code: u16, tag: &str, contact: &str, extra: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut h: Vec<(&[u8], &[u8])> = vec![(b"Contact", contact.as_bytes())];
    h.extend_from_slice(extra);
    response_to(&parse(req), code, b"R", Some(tag.as_bytes()), &h, b"").unwrap()
}

fn peer() -> Peer {
    Peer::new(
        "10.0.0.1:5060".parse::<SocketAddr>().unwrap(),
        Transport::Udp,
    )
}

const VIA: &[u8] = b"SIP/2.0/UDP a.example;branch=z9hG4bKnew";

#[test]
fn uac_dialog_from_2xx_reverses_record_route_and_builds_loose_routed_requests() {
    let inv = invite(
        "z9hG4bK1",
        &[
            ("Record-Route", "<sip:p2.example;lr>"),
            ("Record-Route", "<sip:p1.example;lr>"),
        ],
    );
    // A proxy's 200 copies Record-Route in request order: p2, p1 (p1 nearest the UAS).
    let ok = answer(&inv, 200, "b1", "<sip:bob@10.0.0.2>", &[]);
    let mut d = Dialog::uac(&parse(&inv), &parse(&ok)).unwrap();
    assert_eq!(d.state, DialogState::Confirmed);
    assert_eq!(d.id.call_id, b"call-1");
    assert_eq!(d.id.local_tag, b"a1");
    assert_eq!(d.id.remote_tag, b"b1");
    assert_eq!(
        d.route_set,
        vec![
            b"<sip:p1.example;lr>".to_vec(),
            b"<sip:p2.example;lr>".to_vec()
        ]
    );
    assert_eq!(d.remote_target, b"sip:bob@10.0.0.2");
    let bye = d.request(b"BYE", VIA, &[], b"").unwrap();
    assert_eq!(bye.next_hop, b"sip:p1.example;lr");
    let m = parse(&bye.bytes);
    assert_eq!(m.request_uri(), Some(&b"sip:bob@10.0.0.2"[..]));
    let routes: Vec<_> = m.values(b"Route").collect();
    assert_eq!(
        routes,
        vec![&b"<sip:p1.example;lr>"[..], &b"<sip:p2.example;lr>"[..]]
    );
    assert_eq!(m.get(b"CSeq"), Some(&b"2 BYE"[..]));
    assert_eq!(m.get(b"To"), Some(&b"Bob <sip:bob@b.example>;tag=b1"[..]));
    assert_eq!(
        m.get(b"From"),
        Some(&b"Alice <sip:alice@a.example>;tag=a1"[..])
    );
    assert_eq!(m.get(b"Contact"), None, "BYE is no target refresh");
    assert_eq!(d.local_seq, 2);
}

#[test]
fn strict_router_gets_the_remote_target_as_last_route() {
    let inv = invite("z9hG4bK2", &[("Record-Route", "<sip:strict.example>")]);
    let ok = answer(&inv, 200, "b1", "<sip:bob@10.0.0.2>", &[]);
    let mut d = Dialog::uac(&parse(&inv), &parse(&ok)).unwrap();
    let re = d.request(b"INVITE", VIA, &[], b"").unwrap();
    let m = parse(&re.bytes);
    assert_eq!(m.request_uri(), Some(&b"sip:strict.example"[..]));
    assert_eq!(
        m.values(b"Route").collect::<Vec<_>>(),
        vec![&b"<sip:bob@10.0.0.2>"[..]]
    );
    assert_eq!(re.next_hop, b"sip:strict.example");
    assert_eq!(m.get(b"Contact"), Some(&b"<sip:alice@10.0.0.1>"[..]));
    assert!(d.local_invite_pending);
}

#[test]
fn uas_dialog_keeps_record_route_order_and_checks_remote_cseq() {
    let inv = invite(
        "z9hG4bK3",
        &[
            ("Record-Route", "<sip:p1.example;lr>"),
            ("Record-Route", "<sip:p2.example;lr>"),
        ],
    );
    let ok = answer(&inv, 200, "b1", "<sip:bob@10.0.0.2>", &[]);
    let mut t = Dialogs::new(DialogConfig::default());
    let k = t
        .on_response_sent(&parse(&inv), &parse(&ok), None, peer(), 0)
        .unwrap()
        .unwrap();
    let d = t.get(k).unwrap();
    assert!(!d.is_uac);
    assert_eq!(d.route_set[0], b"<sip:p1.example;lr>");
    assert_eq!(d.remote_seq, Some(1));
    assert_eq!(d.remote_target, b"sip:alice@10.0.0.1");
    // The caller's in-dialog requests: from its own dialog.
    let mut uac = Dialog::uac(&parse(&inv), &parse(&ok)).unwrap();
    let ack = uac.ack(1, VIA, &[], b"").unwrap();
    assert_eq!(t.on_request(&parse(&ack.bytes), 10), RequestVerdict::Ack(k));
    let info = uac.request(b"INFO", VIA, &[], b"").unwrap();
    assert_eq!(
        t.on_request(&parse(&info.bytes), 20),
        RequestVerdict::InDialog(k)
    );
    // The same CSeq again (not a retransmission: a new branch) or a lower one: 500.
    assert_eq!(
        t.on_request(&parse(&info.bytes), 30),
        RequestVerdict::Reject(500)
    );
    // Unknown dialog: 481.
    let mut stranger = uac.clone();
    stranger.id.remote_tag = b"nobody".to_vec();
    stranger.remote_party = b"Bob <sip:bob@b.example>;tag=nobody".to_vec();
    let r = stranger.request(b"INFO", VIA, &[], b"").unwrap();
    assert_eq!(
        t.on_request(&parse(&r.bytes), 40),
        RequestVerdict::Reject(481)
    );
    // BYE ends it.
    let bye = uac.request(b"BYE", VIA, &[], b"").unwrap();
    assert!(matches!(
        t.on_request(&parse(&bye.bytes), 50),
        RequestVerdict::Bye(..)
    ));
    assert!(t.is_empty());
    let c = t.counters();
    assert_eq!((c.rejected_481, c.rejected_500), (1, 1));
}

#[test]
fn merged_request_gets_482() {
    let mut t = Dialogs::new(DialogConfig::default());
    let a = invite("z9hG4bKpath1", &[]);
    let b = invite("z9hG4bKpath2", &[]);
    assert_eq!(t.on_request(&parse(&a), 0), RequestVerdict::OutOfDialog);
    assert_eq!(t.on_request(&parse(&b), 10), RequestVerdict::Reject(482));
    // Long after, the memory is gone.
    let c = invite("z9hG4bKpath3", &[]);
    assert_eq!(
        t.on_request(&parse(&c), 100_000),
        RequestVerdict::OutOfDialog
    );
    // A stray ACK.
    let ack = String::from_utf8(a).unwrap().replace("INVITE", "ACK");
    assert_eq!(
        t.on_request(&parse(ack.as_bytes()), 0),
        RequestVerdict::StrayAck
    );
}

#[test]
fn uas_retransmits_2xx_until_ack_and_reports_no_ack() {
    let inv = invite("z9hG4bK4", &[]);
    let ok = answer(&inv, 200, "b1", "<sip:bob@10.0.0.2>", &[]);
    let mut t = Dialogs::new(DialogConfig::default());
    let k = t
        .on_response_sent(&parse(&inv), &parse(&ok), None, peer(), 0)
        .unwrap()
        .unwrap();
    let mut times = Vec::new();
    while let Some(at) = t.next_deadline() {
        t.tick(at);
        while let Some(a) = t.poll_action() {
            match a {
                DialogAction::Retransmit2xx { bytes, .. } => {
                    assert_eq!(bytes, ok);
                    times.push(at);
                }
                DialogAction::NoAck { dialog } => {
                    assert_eq!(dialog, k);
                    times.push(u64::MAX);
                }
            }
        }
    }
    // T1 doubling to T2, for 64·T1 (§13.3.1.4).
    assert_eq!(&times[..5], &[500, 1500, 3500, 7500, 11500]);
    assert_eq!(times.last(), Some(&u64::MAX));
    assert_eq!(t.counters().no_ack, 1);
}

#[test]
fn forked_invite_early_dialog_per_tag_every_2xx_acked_second_one_byed() {
    let inv = invite("z9hG4bK5", &[]);
    let req = parse(&inv);
    let mut t = Dialogs::new(DialogConfig::default());
    let r1 = answer(&inv, 180, "x", "<sip:x@10.0.0.3>", &[]);
    let r2 = answer(&inv, 183, "y", "<sip:y@10.0.0.4>", &[]);
    let e1 = t.on_response(&req, &parse(&r1), VIA, VIA).unwrap();
    let e2 = t.on_response(&req, &parse(&r2), VIA, VIA).unwrap();
    assert_ne!(e1.dialog, e2.dialog);
    assert_eq!(t.len(), 2);
    assert_eq!(t.get(e1.dialog.unwrap()).unwrap().state, DialogState::Early);
    // The first 2xx wins.
    let ok1 = answer(&inv, 200, "x", "<sip:x@10.0.0.3>", &[]);
    let o1 = t.on_response(&req, &parse(&ok1), VIA, VIA).unwrap();
    let ack1 = o1.ack.clone().unwrap();
    assert!(o1.bye.is_none());
    assert_eq!(parse(&ack1.bytes).get(b"CSeq"), Some(&b"1 ACK"[..]));
    assert_eq!(ack1.next_hop, b"sip:x@10.0.0.3");
    // Its retransmission gets the same ACK again.
    let again = t
        .on_response(&req, &parse(&ok1), b"SIP/2.0/UDP a;branch=z9hG4bKz", VIA)
        .unwrap();
    assert_eq!(again.ack.unwrap(), ack1);
    // A 2xx from the other fork (and from a fork never seen): ACKed, then BYE.
    for tag in ["y", "z"] {
        let ok = answer(&inv, 200, tag, "<sip:q@10.0.0.4>", &[]);
        let o = t.on_response(&req, &parse(&ok), VIA, VIA).unwrap();
        assert!(o.ack.is_some());
        let bye = o.bye.unwrap();
        let bm = parse(&bye.bytes);
        assert_eq!(bm.method(), Some(&b"BYE"[..]));
        assert!(bm
            .get(b"To")
            .unwrap()
            .ends_with(format!("tag={tag}").as_bytes()));
        assert!(o.terminated);
    }
    assert_eq!(t.counters().forks_ended, 2);
    assert_eq!(t.len(), 1);
    // The INVITE transaction ends: no early dialog is left to clean.
    assert_eq!(t.on_invite_terminated(b"call-1", b"a1"), 0);
}

#[test]
fn non_2xx_final_ends_the_early_dialogs() {
    let inv = invite("z9hG4bK6", &[]);
    let req = parse(&inv);
    let mut t = Dialogs::new(DialogConfig::default());
    t.on_response(
        &req,
        &parse(&answer(&inv, 180, "x", "<sip:x@h>", &[])),
        VIA,
        VIA,
    )
    .unwrap();
    let o = t
        .on_response(
            &req,
            &parse(&answer(&inv, 486, "x", "<sip:x@h>", &[])),
            VIA,
            VIA,
        )
        .unwrap();
    assert!(o.terminated);
    assert!(t.is_empty());
}

#[test]
fn reinvite_glare_gets_491_and_retry_windows_of_14_1() {
    let inv = invite("z9hG4bK7", &[]);
    let ok = answer(&inv, 200, "b1", "<sip:bob@10.0.0.2>", &[]);
    // Bob's side (UAS of the first INVITE) and Alice's (UAC).
    let mut bob = Dialogs::new(DialogConfig::default());
    let kb = bob
        .on_response_sent(&parse(&inv), &parse(&ok), None, peer(), 0)
        .unwrap()
        .unwrap();
    let mut alice = Dialogs::new(DialogConfig::default());
    let ka = alice
        .on_response(&parse(&inv), &parse(&ok), VIA, VIA)
        .unwrap()
        .dialog
        .unwrap();
    let ack = alice.get_mut(ka).unwrap().ack(1, VIA, &[], b"").unwrap();
    assert_eq!(
        bob.on_request(&parse(&ack.bytes), 5),
        RequestVerdict::Ack(kb)
    );
    // Both send a re-INVITE at once.
    let from_alice = alice
        .get_mut(ka)
        .unwrap()
        .request(b"INVITE", VIA, &[], b"")
        .unwrap();
    let _from_bob = bob
        .get_mut(kb)
        .unwrap()
        .request(b"INVITE", VIA, &[], b"")
        .unwrap();
    assert_eq!(
        bob.on_request(&parse(&from_alice.bytes), 10),
        RequestVerdict::Reject(491)
    );
    let r491 = response_to(
        &parse(&from_alice.bytes),
        491,
        b"Request Pending",
        None,
        &[],
        b"",
    )
    .unwrap();
    let o = alice
        .on_response(&parse(&from_alice.bytes), &parse(&r491), VIA, VIA)
        .unwrap();
    assert!(o.glare);
    assert!(!alice.get(ka).unwrap().local_invite_pending);
    // Alice owns the Call-ID: 2.1-4 s; Bob: 0-2 s; in 10 ms units.
    for r in [0u32, 1, u32::MAX / 2, u32::MAX] {
        let a = glare_retry_delay(true, r);
        let b = glare_retry_delay(false, r);
        assert!((2100..=4000).contains(&a), "{a}");
        assert!(b <= 2000, "{b}");
        assert_eq!(a % 10, 0);
    }
    assert_eq!(glare_retry_delay(true, u32::MAX), 4000);
    assert_eq!(glare_retry_delay(false, 0), 0);
}

#[test]
fn target_refresh_by_reinvite_and_481_ends_the_dialog() {
    let inv = invite("z9hG4bK8", &[]);
    let ok = answer(&inv, 200, "b1", "<sip:bob@10.0.0.2>", &[]);
    let mut alice = Dialogs::new(DialogConfig::default());
    let k = alice
        .on_response(&parse(&inv), &parse(&ok), VIA, VIA)
        .unwrap()
        .dialog
        .unwrap();
    let re = alice
        .get_mut(k)
        .unwrap()
        .request(b"INVITE", VIA, &[], b"")
        .unwrap();
    let ok2 = answer(&re.bytes, 200, "b1", "<sip:bob@10.9.9.9>", &[]);
    let o = alice
        .on_response(&parse(&re.bytes), &parse(&ok2), VIA, VIA)
        .unwrap();
    assert_eq!(
        parse(&o.ack.unwrap().bytes).get(b"CSeq"),
        Some(&b"2 ACK"[..])
    );
    assert_eq!(alice.get(k).unwrap().remote_target, b"sip:bob@10.9.9.9");
    let bye = alice
        .get_mut(k)
        .unwrap()
        .request(b"BYE", VIA, &[], b"")
        .unwrap();
    let r481 = response_to(&parse(&bye.bytes), 481, b"Gone", None, &[], b"").unwrap();
    assert!(
        alice
            .on_response(&parse(&bye.bytes), &parse(&r481), VIA, VIA)
            .unwrap()
            .terminated
    );
    assert!(alice.is_empty());
}

#[test]
fn prack_rseq_and_rack() {
    let mut uas = ReliableProvisionals::new(100, 1, 500);
    assert_eq!(uas.next_rseq(), Some(100));
    assert_eq!(uas.sent(b"183".to_vec(), 0), Some(100));
    assert_eq!(
        uas.next_rseq(),
        None,
        "one unacknowledged reliable 1xx at a time"
    );
    assert_eq!(
        uas.tick(500),
        Some(PrackAction::Retransmit(b"183".to_vec()))
    );
    assert_eq!(uas.next_deadline(), Some(1500));
    let wrong = RAck {
        rseq: 99,
        cseq: 1,
        method: b"INVITE",
    };
    assert!(!uas.on_prack(&wrong));
    let right = RAck {
        rseq: 100,
        cseq: 1,
        method: b"INVITE",
    };
    assert!(uas.on_prack(&right));
    assert_eq!(uas.next_rseq(), Some(101));
    // Never PRACKed: give up after 64·T1.
    uas.sent(b"180".to_vec(), 1000);
    let mut last = None;
    while let Some(at) = uas.next_deadline() {
        last = uas.tick(at);
    }
    assert_eq!(last, Some(PrackAction::GiveUp));

    let mut uac = RseqTracker::default();
    assert_eq!(uac.on_provisional(7), RseqVerdict::Prack);
    assert_eq!(uac.on_provisional(7), RseqVerdict::Retransmission);
    assert_eq!(uac.on_provisional(9), RseqVerdict::OutOfOrder);
    assert_eq!(uac.on_provisional(8), RseqVerdict::Prack);
    assert_eq!(rack_value(8, 1), "8 1 INVITE");
}

#[test]
fn session_timer_negotiation() {
    assert_eq!(
        uas_negotiate(Some((60, None)), true, 90, None),
        UasTimer::TooSmall { min_se: 90 }
    );
    assert_eq!(
        uas_negotiate(Some((1800, None)), true, 90, None),
        UasTimer::Accept(SessionTimer {
            interval: 1800,
            refresher: Refresher::Uac
        })
    );
    assert_eq!(
        uas_negotiate(Some((1800, None)), false, 90, None),
        UasTimer::Accept(SessionTimer {
            interval: 1800,
            refresher: Refresher::Uas
        })
    );
    assert_eq!(
        uas_negotiate(Some((1800, Some(Refresher::Uas))), true, 90, None),
        UasTimer::Accept(SessionTimer {
            interval: 1800,
            refresher: Refresher::Uas
        })
    );
    assert_eq!(uas_negotiate(None, true, 90, None), UasTimer::None);
    assert_eq!(uac_on_422(60, 120), Some(120));
    assert_eq!(uac_on_422(120, 90), None);
    let st = uac_on_2xx(Some(1800), Some((900, None)), 90).unwrap();
    assert_eq!(
        st,
        SessionTimer {
            interval: 900,
            refresher: Refresher::Uac
        }
    );
    assert!(st.we_refresh(true));
    assert!(!st.we_refresh(false));
    assert_eq!(st.refresh_at(1000), 1000 + 450_000);
    assert_eq!(st.expire_at(0), (900 - 32) * 1000);
    let short = SessionTimer {
        interval: 90,
        refresher: Refresher::Uas,
    };
    assert_eq!(short.expire_at(0), 60_000);
}

// --- regressions: hostile peers (issue 15) --------------------------------------------------

#[test]
fn rfc3261_14_2_a_third_overlapping_invite_is_refused_too() {
    // The peer's re-INVITE 2 is pending; its INVITE 3 gets 500, and that 500 must not end
    // INVITE 2's pendency: INVITE 4 gets 500 as well.
    let inv = invite("z9hG4bK31", &[]);
    let ok = answer(&inv, 200, "b1", "<sip:bob@10.0.0.2>", &[]);
    let mut t = Dialogs::new(DialogConfig::default());
    let k = t
        .on_response_sent(&parse(&inv), &parse(&ok), None, peer(), 0)
        .unwrap()
        .unwrap();
    let mut uac = Dialog::uac(&parse(&inv), &parse(&ok)).unwrap();
    let re2 = uac.request(b"INVITE", VIA, &[], b"").unwrap();
    assert_eq!(
        t.on_request(&parse(&re2.bytes), 10),
        RequestVerdict::InDialog(k)
    );
    uac.local_invite_pending = false;
    let re3 = uac.request(b"INVITE", VIA, &[], b"").unwrap();
    assert_eq!(
        t.on_request(&parse(&re3.bytes), 20),
        RequestVerdict::Reject(500)
    );
    let r500 = response_to(&parse(&re3.bytes), 500, b"E", Some(b"b1"), &[], b"").unwrap();
    t.on_response_sent(&parse(&re3.bytes), &parse(&r500), None, peer(), 20)
        .unwrap();
    uac.local_invite_pending = false;
    let re4 = uac.request(b"INVITE", VIA, &[], b"").unwrap();
    assert_eq!(
        t.on_request(&parse(&re4.bytes), 30),
        RequestVerdict::Reject(500)
    );
    // The final response to INVITE 2 ends it: the next one is accepted.
    let ok2 = response_to(&parse(&re2.bytes), 200, b"OK", Some(b"b1"), &[], b"").unwrap();
    t.on_response_sent(&parse(&re2.bytes), &parse(&ok2), None, peer(), 40)
        .unwrap();
    uac.local_invite_pending = false;
    let re5 = uac.request(b"INVITE", VIA, &[], b"").unwrap();
    assert_eq!(
        t.on_request(&parse(&re5.bytes), 50),
        RequestVerdict::InDialog(k)
    );
}

#[test]
fn rfc3261_13_2_2_4_route_set_is_recomputed_from_the_2xx() {
    // The 180 had no Record-Route; the 200 has one: ACK and BYE go through the proxy.
    let inv = invite("z9hG4bK32", &[]);
    let req = parse(&inv);
    let mut t = Dialogs::new(DialogConfig::default());
    let ringing = answer(&inv, 180, "b1", "<sip:bob@10.0.0.2>", &[]);
    let e = t.on_response(&req, &parse(&ringing), VIA, VIA).unwrap();
    let k = e.dialog.unwrap();
    assert!(t.get(k).unwrap().route_set.is_empty());
    let ok = answer(
        &inv,
        200,
        "b1",
        "<sip:bob@10.0.0.2>",
        &[(b"Record-Route", b"<sip:proxy.example;lr>")],
    );
    let o = t.on_response(&req, &parse(&ok), VIA, VIA).unwrap();
    assert_eq!(
        t.get(k).unwrap().route_set,
        vec![b"<sip:proxy.example;lr>".to_vec()]
    );
    assert_eq!(o.ack.unwrap().next_hop, b"sip:proxy.example;lr");
    let bye = t
        .get_mut(k)
        .unwrap()
        .request(b"BYE", VIA, &[], b"")
        .unwrap();
    assert_eq!(bye.next_hop, b"sip:proxy.example;lr");
    assert_eq!(
        parse(&bye.bytes).get(b"Route"),
        Some(&b"<sip:proxy.example;lr>"[..])
    );
}

#[test]
fn rfc4028_4_a_2xx_below_the_floor_runs_at_min_se() {
    for asked in [0, 1, 89] {
        let st = uac_on_2xx(Some(1800), Some((asked, None)), 90).unwrap();
        assert_eq!(st.interval, 90);
    }
    assert_eq!(
        uac_on_2xx(None, Some((60, None)), 300).unwrap().interval,
        300
    );
    assert_eq!(
        uac_on_2xx(None, Some((1800, None)), 90).unwrap().interval,
        1800
    );
}
