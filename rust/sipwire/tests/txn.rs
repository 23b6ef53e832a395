//! Transactions (RFC 3261 §17): the four tables row by row, the layer's faults, the RFC 4475
//! badbranch case, and two endpoints over a lossy in-memory wire.

use std::collections::HashMap;
use std::net::SocketAddr;

use sipwire::build::{response_to, RequestBuilder};
use sipwire::dialog::{DialogAction, Dialogs, RequestVerdict};
use sipwire::message::{Message, MessageIndex};
use sipwire::txn::machine::step;
use sipwire::txn::{
    BranchGen, CancelOutcome, Class, Config, Effect, Event, Incoming, Input, Kind, Peer, State,
    Timer, Timers, TransactionLayer, Transport, TxnError, TxnId,
};
use sipwire::ParseOptions;

// ---------------------------------------------------------------------------------------
// The tables, row by row (RFC 3261 Figures 5-8, RFC 6026).

type Row = (State, Input, Option<(State, &'static [Effect])>);

fn check(kind: Kind, rows: &[Row]) {
    for (i, (s, input, want)) in rows.iter().enumerate() {
        let got = step(kind, *s, *input);
        assert_eq!(got, *want, "{kind:?} row {i}: ({s:?}, {input:?})");
    }
}

use Class::{Failure as F, Provisional as P, Success as S};
use Effect::*;
use State::*;

#[test]
fn invite_client_figure_5() {
    let t = |x| Input::Timer(x);
    check(
        Kind::InviteClient,
        &[
            (
                Calling,
                Input::Start,
                Some((Calling, &[Send, Start(Timer::A), Start(Timer::B)])),
            ),
            (
                Calling,
                t(Timer::A),
                Some((Calling, &[Send, Backoff(Timer::A)])),
            ),
            (
                Calling,
                t(Timer::B),
                Some((Terminated, &[Timeout, Terminate])),
            ),
            (
                Calling,
                Input::Received(P),
                Some((Proceeding, &[Stop(Timer::A), Stop(Timer::B), Deliver])),
            ),
            // More 1xx only go to the TU: Timer B, restarted by a CANCEL, keeps running.
            (
                Proceeding,
                Input::Received(P),
                Some((Proceeding, &[Deliver])),
            ),
            (
                Calling,
                Input::Received(S),
                Some((
                    Accepted,
                    &[Stop(Timer::A), Stop(Timer::B), Deliver, Start(Timer::M)],
                )),
            ),
            (
                Proceeding,
                Input::Received(S),
                Some((
                    Accepted,
                    &[Stop(Timer::A), Stop(Timer::B), Deliver, Start(Timer::M)],
                )),
            ),
            (
                Calling,
                Input::Received(F),
                Some((
                    Completed,
                    &[
                        Stop(Timer::A),
                        Stop(Timer::B),
                        SendAck,
                        Deliver,
                        Start(Timer::D),
                    ],
                )),
            ),
            (
                Proceeding,
                Input::Received(F),
                Some((
                    Completed,
                    &[
                        Stop(Timer::A),
                        Stop(Timer::B),
                        SendAck,
                        Deliver,
                        Start(Timer::D),
                    ],
                )),
            ),
            (
                Calling,
                Input::TransportError,
                Some((Terminated, &[TransportError, Terminate])),
            ),
            (
                Proceeding,
                Input::Cancelled,
                Some((Proceeding, &[Start(Timer::B)])),
            ),
            (
                Proceeding,
                t(Timer::B),
                Some((Terminated, &[Timeout, Terminate])),
            ),
            (Completed, Input::Received(F), Some((Completed, &[SendAck]))),
            (Completed, Input::Received(P), None),
            (Completed, t(Timer::D), Some((Terminated, &[Terminate]))),
            (Accepted, Input::Received(S), Some((Accepted, &[Deliver]))),
            (Accepted, Input::Received(F), None),
            (Accepted, t(Timer::M), Some((Terminated, &[Terminate]))),
            (Calling, Input::Cancelled, None),
            (Terminated, Input::Received(S), None),
        ],
    );
}

#[test]
fn non_invite_client_figure_6() {
    let t = |x| Input::Timer(x);
    let done: &[Effect] = &[Stop(Timer::E), Stop(Timer::F), Deliver, Start(Timer::K)];
    check(
        Kind::NonInviteClient,
        &[
            (
                Trying,
                Input::Start,
                Some((Trying, &[Send, Start(Timer::E), Start(Timer::F)])),
            ),
            (
                Trying,
                t(Timer::E),
                Some((Trying, &[Send, Backoff(Timer::E)])),
            ),
            (
                Proceeding,
                t(Timer::E),
                Some((Proceeding, &[Send, AtT2(Timer::E)])),
            ),
            (
                Trying,
                t(Timer::F),
                Some((Terminated, &[Timeout, Terminate])),
            ),
            (
                Proceeding,
                t(Timer::F),
                Some((Terminated, &[Timeout, Terminate])),
            ),
            (Trying, Input::Received(P), Some((Proceeding, &[Deliver]))),
            (
                Proceeding,
                Input::Received(P),
                Some((Proceeding, &[Deliver])),
            ),
            (Trying, Input::Received(S), Some((Completed, done))),
            (Proceeding, Input::Received(F), Some((Completed, done))),
            (
                Trying,
                Input::TransportError,
                Some((Terminated, &[TransportError, Terminate])),
            ),
            (Completed, Input::Received(S), Some((Completed, &[]))),
            (Completed, t(Timer::K), Some((Terminated, &[Terminate]))),
            (Completed, t(Timer::E), None),
        ],
    );
}

#[test]
fn invite_server_figure_7_with_rfc6026() {
    let t = |x| Input::Timer(x);
    check(
        Kind::InviteServer,
        &[
            (Proceeding, Input::Request, Some((Proceeding, &[Send]))),
            (Proceeding, Input::Respond(P), Some((Proceeding, &[Send]))),
            (
                Proceeding,
                Input::Respond(S),
                Some((Accepted, &[Send, Start(Timer::L)])),
            ),
            (
                Proceeding,
                Input::Respond(F),
                Some((Completed, &[Send, Start(Timer::G), Start(Timer::H)])),
            ),
            (
                Proceeding,
                Input::TransportError,
                Some((Terminated, &[TransportError, Terminate])),
            ),
            (Completed, Input::Request, Some((Completed, &[Send]))),
            (
                Completed,
                t(Timer::G),
                Some((Completed, &[Send, Backoff(Timer::G)])),
            ),
            (
                Completed,
                t(Timer::H),
                Some((Terminated, &[Timeout, Terminate])),
            ),
            (
                Completed,
                Input::Ack,
                Some((
                    Confirmed,
                    &[Stop(Timer::G), Stop(Timer::H), Start(Timer::I)],
                )),
            ),
            (Completed, Input::Respond(S), None),
            (Confirmed, Input::Ack, Some((Confirmed, &[]))),
            (Confirmed, Input::Request, Some((Confirmed, &[]))),
            (Confirmed, t(Timer::I), Some((Terminated, &[Terminate]))),
            (Accepted, Input::Request, Some((Accepted, &[]))),
            (Accepted, Input::Respond(S), Some((Accepted, &[Send]))),
            (Accepted, Input::Respond(F), None),
            (Accepted, Input::Ack, Some((Accepted, &[Deliver]))),
            (Accepted, t(Timer::L), Some((Terminated, &[Terminate]))),
        ],
    );
}

#[test]
fn non_invite_server_figure_8() {
    check(
        Kind::NonInviteServer,
        &[
            (Trying, Input::Request, Some((Trying, &[]))),
            (Trying, Input::Respond(P), Some((Proceeding, &[Send]))),
            (
                Trying,
                Input::Respond(S),
                Some((Completed, &[Send, Start(Timer::J)])),
            ),
            (
                Trying,
                Input::Respond(F),
                Some((Completed, &[Send, Start(Timer::J)])),
            ),
            (Proceeding, Input::Respond(P), Some((Proceeding, &[Send]))),
            (Proceeding, Input::Request, Some((Proceeding, &[Send]))),
            (
                Proceeding,
                Input::Respond(S),
                Some((Completed, &[Send, Start(Timer::J)])),
            ),
            (
                Proceeding,
                Input::TransportError,
                Some((Terminated, &[TransportError, Terminate])),
            ),
            (Completed, Input::Request, Some((Completed, &[Send]))),
            (Completed, Input::Respond(S), None),
            (
                Completed,
                Input::Timer(Timer::J),
                Some((Terminated, &[Terminate])),
            ),
        ],
    );
}

#[test]
fn timer_durations_of_table_4() {
    let t = Timers::default();
    assert_eq!(t.initial(Timer::A, false), Some(500));
    assert_eq!(t.initial(Timer::A, true), None);
    assert_eq!(t.initial(Timer::B, true), Some(32_000));
    assert_eq!(t.initial(Timer::D, false), Some(32_000));
    assert_eq!(t.initial(Timer::D, true), Some(0));
    assert_eq!(t.initial(Timer::K, false), Some(5000));
    assert_eq!(t.initial(Timer::J, true), Some(0));
    assert_eq!(t.backoff(Timer::E, 2000), 4000);
    assert_eq!(t.backoff(Timer::E, 4000), 4000);
    assert_eq!(t.backoff(Timer::A, 4000), 8000);
}

// ---------------------------------------------------------------------------------------
// Helpers.

fn peer(s: &str, t: Transport) -> Peer {
    Peer::new(s.parse::<SocketAddr>().unwrap(), t)
}

fn udp(s: &str) -> Peer {
    peer(s, Transport::Udp)
}

const A: &str = "10.0.0.1:5060";
const B: &str = "10.0.0.2:5060";

fn request(method: &str, branch: &str, call: &str, seq: u32) -> Vec<u8> {
    let mut b = RequestBuilder::new(method.as_bytes(), b"sip:bob@10.0.0.2").unwrap();
    b.header(
        b"Via",
        format!("SIP/2.0/UDP 10.0.0.1:5060;branch={branch}").as_bytes(),
    )
    .unwrap();
    b.header(b"Max-Forwards", b"70").unwrap();
    b.header(b"To", b"<sip:bob@10.0.0.2>").unwrap();
    b.header(b"From", b"<sip:alice@10.0.0.1>;tag=a1").unwrap();
    b.header(b"Call-ID", call.as_bytes()).unwrap();
    b.header(b"CSeq", format!("{seq} {method}").as_bytes())
        .unwrap();
    b.header(b"Contact", b"<sip:alice@10.0.0.1:5060>").unwrap();
    b.build().unwrap()
}

fn reply(req: &[u8], code: u16, tag: Option<&str>) -> Vec<u8> {
    let m = Message::parse(req, &ParseOptions::STRICT).unwrap();
    response_to(
        &m,
        code,
        b"Reason",
        tag.map(str::as_bytes),
        &[(b"Contact", b"<sip:bob@10.0.0.2:5060>")],
        b"",
    )
    .unwrap()
}

fn drain(l: &mut TransactionLayer) -> (Vec<Vec<u8>>, Vec<Event>) {
    let mut out = Vec::new();
    while let Some(d) = l.poll_transmit() {
        out.push(d.bytes.to_vec());
    }
    let mut ev = Vec::new();
    while let Some(e) = l.poll_event() {
        ev.push(e);
    }
    (out, ev)
}

fn start_line(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    s.lines().next().unwrap_or("").to_string()
}

/// Runs the layer's timers until `end`, returning each send time and start line.
fn run_until(l: &mut TransactionLayer, end: u64) -> Vec<(u64, String)> {
    let mut sent = Vec::new();
    while let Some(t) = l.next_deadline() {
        if t > end {
            break;
        }
        l.tick(t);
        while let Some(d) = l.poll_transmit() {
            sent.push((t, start_line(&d.bytes)));
        }
    }
    sent
}

fn layer() -> TransactionLayer {
    TransactionLayer::new(Config::default())
}

// ---------------------------------------------------------------------------------------
// The layer.

#[test]
fn lost_final_invite_client_retransmits_on_timer_a_and_times_out_on_b() {
    let mut l = layer();
    let id = l
        .send_request(request("INVITE", "z9hG4bKa1", "c1", 1), udp(B), 0)
        .unwrap();
    let (out, _) = drain(&mut l);
    assert_eq!(out.len(), 1);
    let sent = run_until(&mut l, 100_000);
    let times: Vec<u64> = sent.iter().map(|s| s.0).collect();
    // A: 0.5, 1, 2, 4, 8, 16 s after each other; B at 32 s.
    assert_eq!(times, vec![500, 1500, 3500, 7500, 15500, 31500]);
    let (_, ev) = drain(&mut l);
    assert!(matches!(ev[0], Event::Timeout { txn, kind: Kind::InviteClient } if txn == id));
    assert!(matches!(ev[1], Event::Terminated { evicted: false, .. }));
    assert!(l.is_empty());
    assert_eq!(l.counters().timeouts, 1);
    // Each send on Timer A is counted as this side's retransmission; the first is not.
    assert_eq!(l.counters().retransmitted, 6);
    assert_eq!(l.counters().retransmissions, 0);
}

#[test]
fn non_invite_client_caps_at_t2_and_holds_t2_in_proceeding() {
    let mut l = layer();
    let req = request("OPTIONS", "z9hG4bKo1", "c2", 1);
    l.send_request(req.clone(), udp(B), 0).unwrap();
    drain(&mut l);
    let sent = run_until(&mut l, 10_000);
    let times: Vec<u64> = sent.iter().map(|s| s.0).collect();
    assert_eq!(times, vec![500, 1500, 3500, 7500]);
    // A 100 moves it to Proceeding: E now fires every T2.
    l.receive(reply(&req, 100, None), udp(B), 10_000).unwrap();
    let sent = run_until(&mut l, 20_000);
    let times: Vec<u64> = sent.iter().map(|s| s.0).collect();
    assert_eq!(times, vec![11_500, 15_500, 19_500]);
    l.receive(reply(&req, 200, Some("b")), udp(B), 20_000)
        .unwrap();
    // A retransmitted 200 is absorbed; K = T4 ends it.
    l.receive(reply(&req, 200, Some("b")), udp(B), 20_100)
        .unwrap();
    let (_, ev) = drain(&mut l);
    let responses = ev
        .iter()
        .filter(|e| matches!(e, Event::Response { .. }))
        .count();
    assert_eq!(responses, 2); // 100 and the first 200
    run_until(&mut l, 25_000);
    assert!(l.is_empty());
    assert_eq!(l.counters().retransmissions, 1);
    assert_eq!(l.counters().retransmitted, 7); // four on E before the 100, three after
}

#[test]
fn reliable_transport_has_no_retransmissions_and_zero_wait_timers() {
    let mut l = layer();
    let req = request("OPTIONS", "z9hG4bKr1", "c3", 1);
    let tcp = peer(B, Transport::Tcp);
    l.send_request(req.clone(), tcp, 0).unwrap();
    drain(&mut l);
    assert_eq!(l.next_deadline(), Some(32_000)); // only F
    l.receive(reply(&req, 200, Some("b")), tcp, 10).unwrap();
    let (_, ev) = drain(&mut l);
    assert!(matches!(ev.last(), Some(Event::Terminated { .. })));
    assert!(l.is_empty());

    // Server side over TCP: J is zero.
    let mut s = layer();
    s.receive(req.clone(), peer(A, Transport::Tcp), 0).unwrap();
    let (_, ev) = drain(&mut s);
    let Event::Request { txn, .. } = ev[0] else {
        panic!()
    };
    s.respond(txn, reply(&req, 200, Some("b")), 1).unwrap();
    assert!(s.is_empty());
}

#[test]
fn server_absorbs_retransmissions_and_replays_the_last_response() {
    let mut s = layer();
    let req = request("REGISTER", "z9hG4bKs1", "c4", 1);
    s.receive(req.clone(), udp(A), 0).unwrap();
    let (out, ev) = drain(&mut s);
    assert!(out.is_empty());
    let Event::Request { txn, .. } = ev[0] else {
        panic!()
    };
    // Trying: absorbed without a response.
    s.receive(req.clone(), udp(A), 100).unwrap();
    assert!(drain(&mut s).0.is_empty());
    s.respond(txn, reply(&req, 100, None), 150).unwrap();
    s.receive(req.clone(), udp(A), 200).unwrap();
    assert_eq!(start_line(&drain(&mut s).0[1]), "SIP/2.0 100 Reason");
    s.respond(txn, reply(&req, 200, Some("x")), 300).unwrap();
    drain(&mut s);
    s.receive(req.clone(), udp(A), 400).unwrap();
    let (out, ev) = drain(&mut s);
    assert_eq!(start_line(&out[0]), "SIP/2.0 200 Reason");
    assert!(ev.is_empty(), "retransmissions never reach the user");
    assert_eq!(
        s.respond(txn, reply(&req, 486, Some("x")), 500),
        Err(TxnError::InvalidState)
    );
    assert_eq!(s.counters().retransmissions, 3);
    run_until(&mut s, 400 + 32_001);
    assert!(s.is_empty());
}

#[test]
fn invite_server_non_2xx_retransmits_on_g_until_ack_then_absorbs() {
    let mut s = layer();
    let inv = request("INVITE", "z9hG4bKi1", "c5", 1);
    s.receive(inv.clone(), udp(A), 0).unwrap();
    let (out, ev) = drain(&mut s);
    assert_eq!(start_line(&out[0]), "SIP/2.0 100 Trying");
    let Event::Request { txn, .. } = ev[0] else {
        panic!()
    };
    let busy = reply(&inv, 486, Some("b1"));
    s.respond(txn, busy.clone(), 0).unwrap();
    drain(&mut s);
    let sent = run_until(&mut s, 4000);
    let times: Vec<u64> = sent.iter().map(|x| x.0).collect();
    assert_eq!(times, vec![500, 1500, 3500]);
    // The client's ACK for the 486 (same branch).
    let mut c = layer();
    let cid = c.send_request(inv.clone(), udp(B), 0).unwrap();
    c.receive(busy.clone(), udp(B), 10).unwrap();
    let (out, _) = drain(&mut c);
    let ack = out.last().unwrap().clone();
    assert_eq!(start_line(&ack), "ACK sip:bob@10.0.0.2 SIP/2.0");
    let am = Message::parse(&ack, &ParseOptions::STRICT).unwrap();
    assert!(am.get(b"To").unwrap().ends_with(b"tag=b1"));
    assert_eq!(am.get(b"CSeq"), Some(&b"1 ACK"[..]));
    // A retransmitted 486 is ACKed again and not delivered.
    c.receive(busy.clone(), udp(B), 20).unwrap();
    let (out, ev) = drain(&mut c);
    assert_eq!(out, vec![ack.clone()]);
    assert!(ev.is_empty());
    assert_eq!(c.state(cid), Some(State::Completed));
    s.receive(ack.clone(), udp(A), 4000).unwrap();
    assert_eq!(s.state(txn), Some(State::Confirmed));
    s.receive(ack.clone(), udp(A), 4001).unwrap();
    assert!(drain(&mut s).1.is_empty());
    run_until(&mut s, 10_000);
    assert!(s.is_empty());
}

#[test]
fn lost_ack_times_out_on_h() {
    let mut s = layer();
    let inv = request("INVITE", "z9hG4bKh1", "c6", 1);
    s.receive(inv.clone(), udp(A), 0).unwrap();
    let Event::Request { txn, .. } = drain(&mut s).1[0] else {
        panic!()
    };
    s.respond(txn, reply(&inv, 404, Some("t")), 0).unwrap();
    run_until(&mut s, 40_000);
    let (_, ev) = drain(&mut s);
    assert!(matches!(
        ev[0],
        Event::Timeout {
            kind: Kind::InviteServer,
            ..
        }
    ));
    assert!(s.is_empty());
}

#[test]
fn unmatched_responses_are_counted_and_stray_acks_delivered() {
    let mut l = layer();
    let req = request("OPTIONS", "z9hG4bKu1", "c7", 1);
    l.receive(reply(&req, 200, Some("x")), udp(B), 0).unwrap();
    assert_eq!(l.counters().unmatched_responses, 1);
    assert!(drain(&mut l).1.is_empty());
    let ack = request("ACK", "z9hG4bKstray", "c7", 1);
    l.receive(ack, udp(A), 0).unwrap();
    assert_eq!(l.counters().unmatched_acks, 1);
    assert!(matches!(drain(&mut l).1[0], Event::Ack { txn: None, .. }));
    assert!(l.is_empty());
    // Garbage is counted and reported, never a panic.
    assert!(l.receive(b"NOT SIP\r\n\r\n".to_vec(), udp(A), 0).is_err());
    assert_eq!(l.counters().malformed, 1);
}

#[test]
fn cancel_waits_for_a_provisional_and_487_completes() {
    let mut c = layer();
    let inv = request("INVITE", "z9hG4bKc1", "c8", 1);
    let id = c.send_request(inv.clone(), udp(B), 0).unwrap();
    drain(&mut c);
    // §9.1: no provisional yet, so the CANCEL waits.
    assert_eq!(c.cancel(id, 10), Ok(CancelOutcome::Deferred));
    assert!(drain(&mut c).0.is_empty());
    c.receive(reply(&inv, 180, Some("b")), udp(B), 100).unwrap();
    let (out, _) = drain(&mut c);
    let cancel = out.last().unwrap();
    assert_eq!(start_line(cancel), "CANCEL sip:bob@10.0.0.2 SIP/2.0");
    let cm = Message::parse(cancel, &ParseOptions::STRICT).unwrap();
    assert_eq!(
        cm.get(b"Via"),
        Some(&b"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKc1"[..])
    );
    assert_eq!(cm.get(b"CSeq"), Some(&b"1 CANCEL"[..]));
    assert_eq!(c.len(), 2);

    // The UAS side: the CANCEL finds its INVITE, 200 to CANCEL, 487 to INVITE.
    let mut s = layer();
    s.receive(inv.clone(), udp(A), 0).unwrap();
    let Event::Request { txn: sinv, .. } = drain(&mut s).1[0] else {
        panic!()
    };
    s.receive(cancel.clone(), udp(A), 110).unwrap();
    let ev = drain(&mut s).1;
    let Event::Cancel { txn, invite, msg } = &ev[0] else {
        panic!()
    };
    assert_eq!(*invite, Some(sinv));
    s.answer_cancel(*txn, msg, *invite, b"b", 110).unwrap();
    let out = drain(&mut s).0;
    assert_eq!(start_line(&out[0]), "SIP/2.0 200 OK");
    assert_eq!(start_line(&out[1]), "SIP/2.0 487 Request Terminated");
    // Deliver both to the client: CANCEL completes, INVITE completes and ACKs the 487.
    for r in out {
        c.receive(r, udp(B), 120).unwrap();
    }
    let (out, _) = drain(&mut c);
    assert_eq!(
        start_line(out.last().unwrap()),
        "ACK sip:bob@10.0.0.2 SIP/2.0"
    );
    run_until(&mut c, 60_000);
    assert!(c.is_empty());
}

#[test]
fn cancel_after_final_and_487_never_arriving() {
    let mut c = layer();
    let inv = request("INVITE", "z9hG4bKc2", "c9", 1);
    let id = c.send_request(inv.clone(), udp(B), 0).unwrap();
    c.receive(reply(&inv, 183, Some("b")), udp(B), 50).unwrap();
    let CancelOutcome::Sent(_) = c.cancel(id, 1000).unwrap() else {
        panic!()
    };
    drain(&mut c);
    // No 487 ever: Timer B (64·T1 after the CANCEL) ends the INVITE.
    run_until(&mut c, 1000 + 32_000);
    let ev = drain(&mut c).1;
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::Timeout { txn, .. } if *txn == id)));
    run_until(&mut c, 100_000);
    assert!(c.is_empty());
    // Nothing to cancel after a final.
    let mut c = layer();
    let id = c.send_request(inv.clone(), udp(B), 0).unwrap();
    c.receive(reply(&inv, 603, Some("b")), udp(B), 50).unwrap();
    assert_eq!(c.cancel(id, 60), Err(TxnError::AlreadyFinal));
    // A deferred CANCEL is dropped by a final.
    let mut c = layer();
    let id = c.send_request(inv.clone(), udp(B), 0).unwrap();
    assert_eq!(c.cancel(id, 1), Ok(CancelOutcome::Deferred));
    c.receive(reply(&inv, 486, Some("b")), udp(B), 50).unwrap();
    let (out, _) = drain(&mut c);
    assert!(out.iter().all(|o| !start_line(o).starts_with("CANCEL")));
}

#[test]
fn cancel_crossing_200() {
    let mut s = layer();
    let inv = request("INVITE", "z9hG4bKx1", "c10", 1);
    s.receive(inv.clone(), udp(A), 0).unwrap();
    let Event::Request { txn, .. } = drain(&mut s).1[0] else {
        panic!()
    };
    s.respond(txn, reply(&inv, 200, Some("b")), 10).unwrap();
    drain(&mut s);
    let mut c = layer();
    let cid = c.send_request(inv.clone(), udp(B), 0).unwrap();
    c.receive(reply(&inv, 180, Some("b")), udp(B), 5).unwrap();
    let CancelOutcome::Sent(_) = c.cancel(cid, 8).unwrap() else {
        panic!()
    };
    let cancel = drain(&mut c).0.pop().unwrap();
    // The CANCEL reaches a UAS that already sent 200: 200 to the CANCEL, no 487.
    s.receive(cancel, udp(A), 12).unwrap();
    let ev = drain(&mut s).1;
    let Event::Cancel {
        txn: ct,
        invite,
        msg,
    } = &ev[0]
    else {
        panic!()
    };
    s.answer_cancel(*ct, msg, *invite, b"b", 12).unwrap();
    let out = drain(&mut s).0;
    assert_eq!(out.len(), 1);
    assert_eq!(start_line(&out[0]), "SIP/2.0 200 OK");
    // The client gets the 200 to its INVITE: Accepted, delivered (the TU ACKs and BYEs).
    c.receive(reply(&inv, 200, Some("b")), udp(B), 15).unwrap();
    assert_eq!(c.state(cid), Some(State::Accepted));
}

#[test]
fn table_is_bounded_with_eviction_and_counters() {
    let mut s = TransactionLayer::new(Config {
        max_transactions: 2,
        ..Config::default()
    });
    let r1 = request("OPTIONS", "z9hG4bKt1", "t1", 1);
    let r2 = request("OPTIONS", "z9hG4bKt2", "t2", 1);
    let r3 = request("OPTIONS", "z9hG4bKt3", "t3", 1);
    s.receive(r1.clone(), udp(A), 0).unwrap();
    s.receive(r2.clone(), udp(A), 0).unwrap();
    s.receive(r3.clone(), udp(A), 0).unwrap();
    let (out, ev) = drain(&mut s);
    assert_eq!(s.len(), 2);
    assert_eq!(s.counters().rejected, 1);
    assert_eq!(start_line(&out[0]), "SIP/2.0 503 Service Unavailable");
    // Answer the first: it only waits for retransmissions now, so it can be evicted.
    let Event::Request { txn, .. } = ev[0] else {
        panic!()
    };
    s.respond(txn, reply(&r1, 200, Some("x")), 1).unwrap();
    s.receive(r3, udp(A), 2).unwrap();
    assert_eq!(s.counters().evicted, 1);
    assert_eq!(s.len(), 2);
    assert!(drain(&mut s)
        .1
        .iter()
        .any(|e| matches!(e, Event::Terminated { evicted: true, .. })));
    // The user side: full table, no room.
    let mut c = TransactionLayer::new(Config {
        max_transactions: 1,
        ..Config::default()
    });
    c.send_request(request("OPTIONS", "z9hG4bKu1", "u", 1), udp(B), 0)
        .unwrap();
    assert_eq!(
        c.send_request(request("OPTIONS", "z9hG4bKu2", "u", 2), udp(B), 0),
        Err(TxnError::TableFull)
    );
    assert_eq!(
        c.send_request(request("OPTIONS", "z9hG4bKu1", "u", 1), udp(B), 0),
        Err(TxnError::Duplicate)
    );
    assert_eq!(
        c.send_request(request("ACK", "z9hG4bKu3", "u", 1), udp(B), 0),
        Err(TxnError::Ack)
    );
}

#[test]
fn transport_error_reaches_the_user() {
    let mut c = layer();
    let id = c
        .send_request(request("INVITE", "z9hG4bKe1", "e", 1), udp(B), 0)
        .unwrap();
    c.transport_error(id, 5);
    let ev = drain(&mut c).1;
    assert!(matches!(ev[0], Event::TransportError { .. }));
    assert!(c.is_empty());
}

// ---------------------------------------------------------------------------------------
// RFC 4475 §3.2 badbranch, and RFC 2543 matching.

fn corpus(name: &str) -> Vec<u8> {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/rfc4475")
        .join(name);
    std::fs::read(p).unwrap()
}

#[test]
fn rfc4475_badbranch_falls_back_to_rfc2543_matching() {
    let msg = corpus("badbranch.dat");
    let idx = MessageIndex::parse(&msg, &ParseOptions::STRICT).unwrap();
    let key = sipwire::txn::KeyRef::for_request(&msg, &idx).unwrap();
    assert!(
        key.is_rfc2543(),
        "branch `z9hG4bK` alone is not an RFC 3261 branch"
    );
    let mut s = layer();
    s.receive(msg.clone(), udp(A), 0).unwrap();
    s.receive(msg.clone(), udp(A), 10).unwrap();
    assert_eq!(s.len(), 1, "the retransmission matched by RFC 2543 rules");
    assert_eq!(s.counters().retransmissions, 1);
    // Same bad branch, another Call-ID: another transaction (not keyed by the branch).
    let other = String::from_utf8(msg.clone())
        .unwrap()
        .replace("badbranch.sadonfo", "other.sadonfo");
    s.receive(other.into_bytes(), udp(A), 20).unwrap();
    assert_eq!(s.len(), 2);
    let ev = drain(&mut s).1;
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::Request { .. }))
            .count(),
        2
    );
    // A client never sends such a branch.
    let mut c = layer();
    assert_eq!(c.send_request(msg, udp(B), 0), Err(TxnError::NoBranch));
}

#[test]
fn rfc2543_ack_matches_by_the_response_to_tag() {
    // An INVITE without branch (RFC 4475 inv2543 style).
    let inv = b"INVITE sip:bob@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1\r\n\
From: <sip:a@10.0.0.1>;tag=f\r\nTo: <sip:bob@10.0.0.2>\r\nCall-ID: old@x\r\nCSeq: 56 INVITE\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        .to_vec();
    let mut s = layer();
    s.receive(inv.clone(), udp(A), 0).unwrap();
    let Event::Request { txn, .. } = drain(&mut s).1[0] else {
        panic!()
    };
    s.respond(txn, reply(&inv, 486, Some("srv")), 5).unwrap();
    let ack_with = |tag: &str| {
        format!(
            "ACK sip:bob@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1\r\n\
From: <sip:a@10.0.0.1>;tag=f\r\nTo: <sip:bob@10.0.0.2>;tag={tag}\r\nCall-ID: old@x\r\n\
CSeq: 56 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    };
    s.receive(ack_with("other"), udp(A), 10).unwrap();
    assert_eq!(s.state(txn), Some(State::Completed));
    assert_eq!(s.counters().unmatched_acks, 1);
    s.receive(ack_with("srv"), udp(A), 11).unwrap();
    assert_eq!(s.state(txn), Some(State::Confirmed));
    // An INVITE retransmission still matches.
    s.receive(inv, udp(A), 12).unwrap();
    assert_eq!(s.len(), 1);
}

// ---------------------------------------------------------------------------------------
// Two endpoints over a lossy, duplicating, reordering wire.

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Wire {
    rng: XorShift,
    loss: u64,
    dup: u64,
    queue: Vec<(u64, u64, Peer, Peer, Vec<u8>)>,
    seq: u64,
}

impl Wire {
    fn send(&mut self, now: u64, from: Peer, to: Peer, bytes: Vec<u8>) {
        let copies = if self.rng.chance(self.dup) { 2 } else { 1 };
        for _ in 0..copies {
            if self.rng.chance(self.loss) {
                continue;
            }
            let at = now + 5 + self.rng.below(120); // reordering by jitter
            self.seq += 1;
            self.queue.push((at, self.seq, from, to, bytes.clone()));
        }
    }
    fn next_time(&self) -> Option<u64> {
        self.queue.iter().map(|q| q.0).min()
    }
    fn take_due(&mut self, now: u64) -> Vec<(Peer, Peer, Vec<u8>)> {
        self.queue.sort_by_key(|q| (q.0, q.1));
        let n = self.queue.iter().take_while(|q| q.0 <= now).count();
        self.queue.drain(..n).map(|q| (q.2, q.3, q.4)).collect()
    }
}

struct Ua {
    me: Peer,
    layer: TransactionLayer,
    dialogs: Dialogs,
    branches: BranchGen,
    /// Transaction start and end times.
    life: HashMap<TxnId, (u64, Kind, Option<u64>)>,
    invite: Option<TxnId>,
    bye: Option<TxnId>,
    call_over: bool,
    last_ack: Option<Vec<u8>>,
    got_2xx: u32,
    acks_sent: u32,
}

impl Ua {
    fn new(me: Peer, seed: u64) -> Ua {
        Ua {
            me,
            layer: TransactionLayer::new(Config::default()),
            dialogs: Dialogs::new(Default::default()),
            branches: BranchGen::new(seed),
            life: HashMap::new(),
            invite: None,
            bye: None,
            call_over: false,
            last_ack: None,
            got_2xx: 0,
            acks_sent: 0,
        }
    }

    fn via(&mut self) -> Vec<u8> {
        format!(
            "SIP/2.0/UDP {};branch={}",
            self.me.addr,
            self.branches.next_branch()
        )
        .into_bytes()
    }

    fn track(&mut self, id: TxnId, now: u64) {
        if let Some(k) = self.layer.kind(id) {
            self.life.entry(id).or_insert((now, k, None));
        }
    }

    /// Handles every event; returns what to put on the wire.
    fn pump(&mut self, now: u64, peer: Peer) {
        loop {
            let mut progressed = false;
            while let Some(e) = self.layer.poll_event() {
                progressed = true;
                self.on_event(e, now, peer);
            }
            self.dialogs.tick(now);
            while let Some(a) = self.dialogs.poll_action() {
                progressed = true;
                match a {
                    DialogAction::Retransmit2xx {
                        txn, dest, bytes, ..
                    } => {
                        let via_txn =
                            txn.is_some_and(|t| self.layer.respond(t, bytes.clone(), now).is_ok());
                        if !via_txn {
                            self.layer.send_stateless(bytes, dest);
                        }
                    }
                    DialogAction::NoAck { dialog } => {
                        self.dialogs.remove(dialog);
                    }
                }
            }
            if !progressed {
                break;
            }
        }
    }

    fn on_event(&mut self, e: Event, now: u64, peer: Peer) {
        match e {
            Event::Request { txn, msg } => {
                self.track(txn, now);
                let m = msg.message();
                let verdict = self.dialogs.on_request(&m, now);
                let resp = |code: u16| reply(&msg.bytes, code, Some("uas"));
                match (m.method(), verdict) {
                    (_, RequestVerdict::Reject(code)) => {
                        self.layer.respond(txn, resp(code), now).unwrap();
                    }
                    (Some(b"INVITE"), _) => {
                        self.layer.respond(txn, resp(180), now).unwrap();
                        let ok = resp(200);
                        self.layer.respond(txn, ok.clone(), now).unwrap();
                        let om = Message::parse(&ok, &ParseOptions::STRICT).unwrap();
                        self.dialogs
                            .on_response_sent(&m, &om, Some(txn), msg.source, now)
                            .unwrap();
                    }
                    _ => {
                        self.layer.respond(txn, resp(200), now).unwrap();
                    }
                }
            }
            Event::Ack { msg, .. } => {
                let _ = self.dialogs.on_request(&msg.message(), now);
            }
            Event::Cancel { txn, invite, msg } => {
                self.track(txn, now);
                self.layer
                    .answer_cancel(txn, &msg, invite, b"uas", now)
                    .unwrap();
            }
            Event::Response { txn, msg } => self.on_response(txn, &msg, now, peer),
            Event::Timeout { txn, .. } | Event::TransportError { txn } => {
                if Some(txn) == self.bye || Some(txn) == self.invite {
                    for k in self.dialogs.keys() {
                        self.dialogs.remove(k);
                    }
                    self.call_over = true;
                }
            }
            Event::Terminated { txn, .. } => {
                if let Some(l) = self.life.get_mut(&txn) {
                    l.2 = Some(now);
                }
            }
        }
    }

    fn on_response(&mut self, txn: TxnId, msg: &Incoming, now: u64, peer: Peer) {
        let m = msg.message();
        let status = m.status().unwrap();
        if Some(txn) == self.invite && (200..300).contains(&status) {
            self.got_2xx += 1;
            if self.call_over {
                // The call ended; a late 2xx retransmission still gets its ACK.
                if let Some(a) = self.last_ack.clone() {
                    self.layer.send_stateless(a, peer);
                    self.acks_sent += 1;
                }
                return;
            }
            let req = self.layer.request_bytes(txn).unwrap().to_vec();
            let rm = Message::parse(&req, &ParseOptions::STRICT).unwrap();
            let (v1, v2) = (self.via(), self.via());
            let out = self.dialogs.on_response(&rm, &m, &v1, &v2).unwrap();
            if let Some(ack) = out.ack {
                self.last_ack = Some(ack.bytes.clone());
                self.layer.send_stateless(ack.bytes, peer);
                self.acks_sent += 1;
            }
            if self.bye.is_none() {
                let k = out.dialog.unwrap();
                let via = self.via();
                let bye = self
                    .dialogs
                    .get_mut(k)
                    .unwrap()
                    .request(b"BYE", &via, &[], b"")
                    .unwrap();
                let id = self.layer.send_request(bye.bytes, peer, now).unwrap();
                self.track(id, now);
                self.bye = Some(id);
            }
        } else if Some(txn) == self.bye && status >= 200 {
            for k in self.dialogs.keys() {
                self.dialogs.remove(k);
            }
            self.call_over = true;
        }
    }
}

/// Runs one call; returns (retransmissions absorbed, 2xx received by the caller).
fn call_over_wire(seed: u64, loss: u64, dup: u64) -> (u64, u32) {
    let (pa, pb) = (udp(A), udp(B));
    let mut a = Ua::new(pa, seed);
    let mut b = Ua::new(pb, seed ^ 0xdead_beef);
    let mut wire = Wire {
        rng: XorShift(seed | 1),
        loss,
        dup,
        queue: Vec::new(),
        seq: 0,
    };
    let t1 = Timers::default().t1;
    let via = a.via();
    let mut inv = RequestBuilder::new(b"INVITE", b"sip:bob@10.0.0.2:5060").unwrap();
    inv.header(b"Via", &via).unwrap();
    for (n, v) in [
        ("Max-Forwards", "70"),
        ("To", "<sip:bob@10.0.0.2>"),
        ("From", "<sip:alice@10.0.0.1>;tag=uac"),
        ("Call-ID", &format!("call-{seed}")),
        ("CSeq", "1 INVITE"),
        ("Contact", "<sip:alice@10.0.0.1:5060>"),
    ] {
        inv.header(n.as_bytes(), v.as_bytes()).unwrap();
    }
    let id = a.layer.send_request(inv.build().unwrap(), pb, 0).unwrap();
    a.track(id, 0);
    a.invite = Some(id);

    let mut now = 0u64;
    for _ in 0..100_000 {
        a.pump(now, pb);
        b.pump(now, pa);
        while let Some(d) = a.layer.poll_transmit() {
            wire.send(now, pa, d.dest, d.bytes.to_vec());
        }
        while let Some(d) = b.layer.poll_transmit() {
            wire.send(now, pb, d.dest, d.bytes.to_vec());
        }
        let next = [
            wire.next_time(),
            a.layer.next_deadline(),
            b.layer.next_deadline(),
            a.dialogs.next_deadline(),
            b.dialogs.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { break };
        now = next.max(now);
        for (from, to, bytes) in wire.take_due(now) {
            let ua = if to == pa { &mut a } else { &mut b };
            ua.layer.receive(bytes, from, now).unwrap();
        }
        a.layer.tick(now);
        b.layer.tick(now);
    }
    a.pump(now, pb);
    b.pump(now, pa);

    for ua in [&a, &b] {
        assert!(ua.layer.is_empty(), "seed {seed}: transactions left");
        assert!(ua.dialogs.is_empty(), "seed {seed}: dialogs left");
        for (id, (start, kind, end)) in &ua.life {
            let end = end.unwrap_or_else(|| panic!("seed {seed}: {id:?} never ended"));
            let bound = match kind {
                Kind::InviteServer | Kind::NonInviteServer => 64 * t1,
                Kind::NonInviteClient => 64 * t1 + Timers::default().t4,
                Kind::InviteClient => 2 * 64 * t1,
            };
            assert!(
                end - start <= bound,
                "seed {seed}: {kind:?} lived {}",
                end - start
            );
        }
    }
    // Every 2xx that reached the caller was ACKed.
    assert_eq!(a.acks_sent, a.got_2xx, "seed {seed}");
    assert!(a.got_2xx >= 1 || a.call_over, "seed {seed}");
    assert_eq!(b.dialogs.counters().no_ack, 0, "seed {seed}");
    let rtx = a.layer.counters().retransmissions + b.layer.counters().retransmissions;
    (rtx, a.got_2xx)
}

#[test]
fn calls_over_a_lossy_wire_end_cleanly() {
    let (mut rtx, mut oks) = (0, 0);
    for seed in 1..=40u64 {
        let (r, o) = call_over_wire(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), 20, 15);
        rtx += r;
        oks += o;
    }
    // The wire really lost and duplicated: retransmissions were absorbed, and more 2xx
    // (retransmissions, duplicates) reached callers than there were calls.
    assert!(rtx > 40, "{rtx}");
    assert!(oks > 40, "{oks}");
}

#[test]
fn calls_over_a_clean_wire() {
    for seed in 1..=5u64 {
        let (_, oks) = call_over_wire(seed * 7919, 0, 0);
        assert_eq!(oks, 1);
    }
}
