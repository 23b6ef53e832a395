//! The passive correlator: transactions, dialogs and calls from captured messages fed in any
//! order.

use std::net::SocketAddr;

use sipwire::sdp::Direction;

use sipwire::correlate::{
    CallRecord, Config, Correlator, DialogState, Fed, MediaRecord, Method, Outcome, Packet, Reason,
    Side, Text,
};

const A: &str = "10.0.0.1:5060";
const B: &str = "10.0.0.2:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// An SDP body: one audio stream at `ip:port` with direction `dir` (empty: none).
fn sdp(ip: &str, port: u16, dir: &str) -> String {
    let d = if dir.is_empty() {
        String::new()
    } else {
        format!("a={dir}\r\n")
    };
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n{d}"
    )
}

/// One message. `start` is the start line; `branch` empty means a Via without branch.
#[allow(clippy::too_many_arguments)]
fn msg(
    start: &str,
    branch: &str,
    call: &str,
    cseq: u32,
    cseq_method: &str,
    from_tag: &str,
    to_tag: &str,
    body: Option<&str>,
) -> Vec<u8> {
    let br = if branch.is_empty() {
        String::new()
    } else {
        format!(";branch={branch}")
    };
    let to = if to_tag.is_empty() {
        String::new()
    } else {
        format!(";tag={to_tag}")
    };
    let (ct, b) = match body {
        Some(b) => ("Content-Type: application/sdp\r\n", b),
        None => ("", ""),
    };
    format!(
        "{start}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060{br}\r\nFrom: <sip:a@x>;tag={from_tag}\r\n\
         To: <sip:b@y>{to}\r\nCall-ID: {call}\r\nCSeq: {cseq} {cseq_method}\r\n{ct}\
         Content-Length: {}\r\n\r\n{b}",
        b.len()
    )
    .into_bytes()
}

fn req(
    method: &str,
    branch: &str,
    call: &str,
    cseq: u32,
    to_tag: &str,
    body: Option<&str>,
) -> Vec<u8> {
    let cm = method;
    msg(
        &format!("{method} sip:b@10.0.0.2 SIP/2.0"),
        branch,
        call,
        cseq,
        cm,
        "ft",
        to_tag,
        body,
    )
}

#[allow(clippy::too_many_arguments)]
fn resp(
    status: u16,
    method: &str,
    branch: &str,
    call: &str,
    cseq: u32,
    to_tag: &str,
    body: Option<&str>,
) -> Vec<u8> {
    msg(
        &format!("SIP/2.0 {status} Whatever"),
        branch,
        call,
        cseq,
        method,
        "ft",
        to_tag,
        body,
    )
}

/// A message with its time and direction (A→B for requests of the caller).
#[derive(Clone)]
struct Ev {
    t: f64,
    forward: bool,
    bytes: Vec<u8>,
}

fn ev(t: f64, forward: bool, bytes: Vec<u8>) -> Ev {
    Ev { t, forward, bytes }
}

fn feed_all(c: &mut Correlator, evs: &[Ev]) -> Vec<Fed> {
    evs.iter()
        .map(|e| {
            let (s, d) = if e.forward { (A, B) } else { (B, A) };
            c.feed(&e.bytes, Packet::udp(e.t, addr(s), addr(d)))
        })
        .collect()
}

/// A deterministic shuffle (xorshift).
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = (seed % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// A call: INVITE with an offer, 100, 180, 200 with the answer, ACK, then BYE and 200.
fn answered_call(call: &str, t0: f64) -> Vec<Ev> {
    let off = sdp("10.0.0.1", 4000, "");
    let ans = sdp("10.0.0.2", 5000, "");
    vec![
        ev(
            t0,
            true,
            req("INVITE", "z9hG4bKi1", call, 1, "", Some(&off)),
        ),
        ev(
            t0 + 0.01,
            false,
            resp(100, "INVITE", "z9hG4bKi1", call, 1, "", None),
        ),
        ev(
            t0 + 0.5,
            false,
            resp(180, "INVITE", "z9hG4bKi1", call, 1, "tt", None),
        ),
        ev(
            t0 + 2.0,
            false,
            resp(200, "INVITE", "z9hG4bKi1", call, 1, "tt", Some(&ans)),
        ),
        ev(
            t0 + 2.01,
            true,
            req("ACK", "z9hG4bKa1", call, 1, "tt", None),
        ),
        ev(
            t0 + 12.0,
            true,
            req("BYE", "z9hG4bKb1", call, 2, "tt", None),
        ),
        ev(
            t0 + 12.01,
            false,
            resp(200, "BYE", "z9hG4bKb1", call, 2, "tt", None),
        ),
    ]
}

#[test]
fn one_answered_call() {
    let mut c = Correlator::new(Config::KEEP);
    let fed = feed_all(&mut c, &answered_call("c1", 100.0));
    assert!(fed.iter().all(|f| matches!(f, Fed::Stored(_))), "{fed:?}");
    let txns = c.transactions();
    assert_eq!(txns.len(), 2);
    let inv = &txns[0];
    assert_eq!(inv.method(), "INVITE");
    assert_eq!(inv.branch(), Some(&b"z9hG4bKi1"[..]));
    assert_eq!(inv.final_status(), Some(200));
    assert_eq!(inv.responses().len(), 3);
    assert!(inv.ack().is_some());
    let r = inv.request().unwrap();
    assert_eq!(r.message().method(), Some(&b"INVITE"[..]));
    assert_eq!(r.src(), addr(A));
    assert_eq!(txns[1].method(), "BYE");
    assert_eq!(txns[1].final_status(), Some(200));

    let calls = c.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(&*call.call_id, b"c1");
    assert_eq!(call.outcome, Outcome::Answered);
    assert_eq!(call.final_status, Some(200));
    assert!((call.time_to_ringing().unwrap() - 0.5).abs() < 1e-9);
    assert!((call.time_to_answer().unwrap() - 2.0).abs() < 1e-9);
    assert!((call.duration().unwrap() - 10.0).abs() < 1e-9);
    assert!(call.hold_periods.is_empty());
    assert_eq!(call.media.len(), 1);
    let m = &call.media[0];
    let (o, a) = (m.offerer_rtp().unwrap(), m.answerer_rtp().unwrap());
    assert_eq!((&*o.address, o.port), ("10.0.0.1", 4000));
    assert_eq!((&*a.address, a.port), ("10.0.0.2", 5000));
    assert_eq!(m.offerer, Some(addr(A)));
    assert_eq!(m.answerer, Some(addr(B)));

    let dialogs = c.dialogs();
    assert_eq!(dialogs.len(), 1);
    assert_eq!(&*dialogs[0].from_tag, b"ft");
    assert_eq!(&*dialogs[0].to_tag, b"tt");
    assert_eq!(dialogs[0].state, DialogState::Terminated);
    assert_eq!(c.counters().messages, 7);
}

/// `calls_with_parts` gives each call with exactly its dialogs and transactions, in the order
/// `dialogs()` and `transactions()` give them.
fn assert_parts_match(c: &Correlator) {
    let parts = c.calls_with_parts();
    let (calls, dialogs, txns) = (c.calls(), c.dialogs(), c.transactions());
    assert_eq!(parts.len(), calls.len());
    let key = |t: &sipwire::correlate::Transaction<'_, Box<[u8]>>| {
        (
            t.call(),
            t.first_time(),
            t.method().to_owned(),
            t.branch().map(<[u8]>::to_vec),
        )
    };
    for (call, (pc, pd, pt)) in calls.iter().zip(&parts) {
        assert_eq!(pc, call);
        let d: Vec<_> = dialogs
            .iter()
            .filter(|d| d.call == call.id)
            .cloned()
            .collect();
        assert_eq!(pd, &d);
        let t: Vec<_> = txns
            .iter()
            .filter(|t| t.call() == Some(call.id))
            .map(key)
            .collect();
        assert_eq!(pt.iter().map(key).collect::<Vec<_>>(), t);
        assert!(!pt.is_empty() && !pd.is_empty());
    }
}

#[test]
fn calls_with_parts_groups_each_calls_dialogs_and_transactions() {
    let mut evs = answered_call("p1", 100.0);
    evs.extend(answered_call("p2", 50.0));
    evs.extend(answered_call("p3", 75.0));
    shuffle(&mut evs, 7);
    let mut c = Correlator::new(Config::KEEP);
    feed_all(&mut c, &evs);
    assert_eq!(c.calls().len(), 3);
    assert_parts_match(&c);
}

/// Three INVITE/200 pairs for one Call-ID (an INVITE and two re-INVITEs), shuffled: each 200
/// pairs with its INVITE by branch and CSeq.
#[test]
fn scrambled_reinvites_pair_by_cseq_and_branch() {
    let off = sdp("10.0.0.1", 4000, "");
    let ans = sdp("10.0.0.2", 5000, "");
    let mut evs = Vec::new();
    for n in 1..=3u32 {
        let t = f64::from(n) * 10.0;
        let to = if n == 1 { "" } else { "tt" };
        let br = format!("z9hG4bKinv{n}");
        evs.push(ev(t, true, req("INVITE", &br, "sc", n, to, Some(&off))));
        evs.push(ev(
            t + 1.0,
            false,
            resp(200, "INVITE", &br, "sc", n, "tt", Some(&ans)),
        ));
        evs.push(ev(
            t + 1.1,
            true,
            req("ACK", &format!("z9hG4bKack{n}"), "sc", n, "tt", None),
        ));
    }
    for seed in [1u64, 7, 42, 1234, 99999] {
        let mut order: Vec<usize> = (0..evs.len()).collect();
        shuffle(&mut order, seed);
        let mut c = Correlator::new(Config::KEEP);
        for &i in &order {
            let e = &evs[i];
            let (s, d) = if e.forward { (A, B) } else { (B, A) };
            c.feed(&e.bytes, Packet::udp(e.t, addr(s), addr(d)));
        }
        let txns = c.transactions();
        assert_eq!(txns.len(), 3, "seed {seed}");
        for (k, t) in txns.iter().enumerate() {
            let n = k as u32 + 1;
            assert_eq!(t.method(), "INVITE");
            assert_eq!(t.cseq(), n);
            let req = t.request().expect("request");
            let rs = t.responses();
            assert_eq!(rs.len(), 1, "seed {seed}");
            let want = format!("z9hG4bKinv{n}");
            assert_eq!(t.branch(), Some(want.as_bytes()));
            assert_eq!(rs[0].message().get(b"CSeq"), req.message().get(b"CSeq"));
            assert_eq!(t.final_status(), Some(200));
            assert!(t.ack().is_some(), "seed {seed}: ACK {n} attached");
            assert_eq!(t.retransmissions(), 0);
        }
        let calls = c.calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].outcome, Outcome::Answered);
        assert_eq!(calls[0].invites, 3);
        assert_eq!(calls[0].media.len(), 3);
        assert!((calls[0].time_to_answer().unwrap() - 1.0).abs() < 1e-9);
        let d = c.dialogs();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].state, DialogState::Confirmed);
        assert_eq!(&*d[0].from_tag, b"ft", "seed {seed}");
    }
}

/// A call whose INVITE is sent three times, its 180, 200 and the ACK twice each (five
/// retransmissions), on one hop each way.
fn resent_call() -> Vec<Ev> {
    let call = "rt";
    let inv = req("INVITE", "z9hG4bKr", call, 1, "", None);
    let r180 = resp(180, "INVITE", "z9hG4bKr", call, 1, "tt", None);
    let r200 = resp(200, "INVITE", "z9hG4bKr", call, 1, "tt", None);
    let ack = req("ACK", "z9hG4bKack", call, 1, "tt", None);
    vec![
        ev(0.0, true, inv.clone()),
        ev(0.5, true, inv.clone()),
        ev(1.5, true, inv),
        ev(2.0, false, r180.clone()),
        ev(2.1, false, r180),
        ev(3.0, false, r200.clone()),
        ev(3.01, true, ack.clone()),
        ev(3.5, false, r200),
        ev(3.51, true, ack),
    ]
}

#[test]
fn retransmissions_are_counted_not_stored() {
    let evs = resent_call();
    let mut c = Correlator::new(Config::KEEP);
    let fed = feed_all(&mut c, &evs);
    assert_eq!(
        fed.iter()
            .filter(|f| matches!(f, Fed::Retransmission(_)))
            .count(),
        5
    );
    let t = &c.transactions()[0];
    assert_eq!(t.retransmissions(), 5);
    assert_eq!(t.responses().len(), 2);
    assert_eq!(c.counters().retransmissions, 5);
    assert_eq!(c.calls()[0].outcome, Outcome::Answered);
}

/// A capture that holds every frame twice, 20 µs apart (`tcpdump -i any` over a bridge): each
/// copy is a duplicate, not a retransmission, fed in time order or reversed; the resendings
/// 0.5 s and more apart are still retransmissions, and the call's times are the single
/// capture's.
#[test]
fn frames_captured_twice_are_duplicates_not_retransmissions() {
    let once = resent_call();
    let twice: Vec<Ev> = once
        .iter()
        .flat_map(|e| [e.clone(), ev(e.t + 20e-6, e.forward, e.bytes.clone())])
        .collect();
    let mut single = Correlator::new(Config::KEEP);
    feed_all(&mut single, &once);
    let want = &single.calls()[0];
    for order in [twice.clone(), twice.iter().rev().cloned().collect()] {
        let mut c = Correlator::new(Config::KEEP);
        let fed = feed_all(&mut c, &order);
        assert_eq!(c.counters().duplicates, 9, "{fed:?}");
        assert_eq!(c.counters().retransmissions, 5, "{fed:?}");
        assert!(fed.iter().any(|f| matches!(f, Fed::Duplicate(_))));
        assert_eq!(c.transactions()[0].retransmissions(), 5);
        let got = &c.calls()[0];
        assert_eq!(got.retransmissions, 5);
        assert_eq!(
            (got.invite_time, got.ringing_time, got.answer_time),
            (want.invite_time, want.ringing_time, want.answer_time)
        );
        assert_eq!(got.outcome, Outcome::Answered);
    }
    // Another message of the call between a frame and its copy: still told.
    let mut c = Correlator::new(Config::KEEP);
    let mut evs = once[..2].to_vec();
    evs.insert(
        1,
        ev(
            0.00001,
            false,
            resp(100, "INVITE", "z9hG4bKr", "rt", 1, "", None),
        ),
    );
    evs.insert(2, ev(0.00002, true, once[0].bytes.clone()));
    let fed = feed_all(&mut c, &evs);
    assert!(matches!(fed[2], Fed::Duplicate(_)), "{fed:?}");
    assert!(matches!(fed[3], Fed::Retransmission(_)), "{fed:?}");
}

#[test]
fn responses_without_requests_make_transactions() {
    let mut c = Correlator::new(Config::KEEP);
    let fed = feed_all(
        &mut c,
        &[
            ev(
                1.0,
                false,
                resp(200, "BYE", "z9hG4bKbye", "p1", 5, "tt", None),
            ),
            ev(
                2.0,
                false,
                resp(486, "INVITE", "z9hG4bKinv", "p2", 1, "x", None),
            ),
            ev(
                3.0,
                false,
                resp(200, "OPTIONS", "z9hG4bKopt", "p3", 1, "x", None),
            ),
        ],
    );
    assert!(fed.iter().all(|f| matches!(f, Fed::Stored(_))));
    let txns = c.transactions();
    assert_eq!(txns.len(), 3);
    assert_eq!(txns[0].method(), "BYE");
    assert!(txns[0].request().is_none());
    assert_eq!(txns[0].final_status(), Some(200));
    assert_eq!(txns[1].method(), "INVITE");
    assert!(txns[1].request().is_none());
    assert_eq!(txns[2].method(), "OPTIONS");
    assert_eq!(c.counters().orphan_responses, 3);
    let calls = c.calls();
    // A BYE alone or a 486 alone: calls whose INVITE was not captured (partial, never
    // answered), the 486 still reported; OPTIONS no call.
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].outcome, Outcome::Partial);
    assert_eq!(calls[0].final_status, None);
    assert_eq!(calls[1].outcome, Outcome::Partial);
    assert_eq!(calls[1].final_status, Some(486));
}

#[test]
fn cancel_then_487_is_cancelled() {
    let call = "cx";
    let b = "z9hG4bKc";
    let evs = [
        ev(0.0, true, req("INVITE", b, call, 1, "", None)),
        ev(0.1, false, resp(100, "INVITE", b, call, 1, "", None)),
        ev(0.2, false, resp(180, "INVITE", b, call, 1, "tt", None)),
        ev(3.0, true, req("CANCEL", b, call, 1, "", None)),
        ev(3.1, false, resp(200, "CANCEL", b, call, 1, "tt", None)),
        ev(3.2, false, resp(487, "INVITE", b, call, 1, "tt", None)),
        ev(3.3, true, req("ACK", b, call, 1, "tt", None)),
    ];
    // Any order gives the same answer.
    for seed in [0u64, 3, 17] {
        let mut order: Vec<usize> = (0..evs.len()).collect();
        if seed > 0 {
            shuffle(&mut order, seed);
        }
        let mut c = Correlator::new(Config::KEEP);
        for &i in &order {
            let e = &evs[i];
            let (s, d) = if e.forward { (A, B) } else { (B, A) };
            c.feed(&e.bytes, Packet::udp(e.t, addr(s), addr(d)));
        }
        let txns = c.transactions();
        assert_eq!(txns.len(), 1, "seed {seed}");
        let t = &txns[0];
        assert_eq!(t.method(), "INVITE");
        assert!(t.cancel().is_some());
        assert_eq!(t.cancel_responses().len(), 1);
        assert!(t.ack().is_some());
        assert_eq!(t.final_status(), Some(487));
        assert_eq!(t.responses().len(), 3);
        let call = &c.calls()[0];
        assert_eq!(call.outcome, Outcome::Cancelled, "seed {seed}");
        assert_eq!(call.final_status, Some(487));
        let d = c.dialogs();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].state, DialogState::Terminated);
    }
}

fn outcome_of(status: u16, with_cancel: bool) -> Outcome {
    let b = "z9hG4bKo";
    let mut evs = vec![ev(0.0, true, req("INVITE", b, "o", 1, "", None))];
    if with_cancel {
        evs.push(ev(1.0, true, req("CANCEL", b, "o", 1, "", None)));
    }
    evs.push(ev(
        2.0,
        false,
        resp(status, "INVITE", b, "o", 1, "tt", None),
    ));
    let mut c = Correlator::new(Config::KEEP);
    feed_all(&mut c, &evs);
    c.calls()[0].outcome
}

#[test]
fn outcomes_by_final_status() {
    assert_eq!(outcome_of(486, false), Outcome::Busy);
    assert_eq!(outcome_of(600, false), Outcome::Busy);
    assert_eq!(outcome_of(404, false), Outcome::Rejected);
    assert_eq!(outcome_of(302, false), Outcome::Rejected);
    assert_eq!(outcome_of(487, false), Outcome::Rejected);
    assert_eq!(outcome_of(487, true), Outcome::Cancelled);
    assert_eq!(outcome_of(408, false), Outcome::Timeout);
    assert_eq!(outcome_of(200, true), Outcome::Answered);
}

#[test]
fn auth_retry_takes_the_last_initial_invite() {
    let evs = vec![
        ev(0.0, true, req("INVITE", "z9hG4bK1", "au", 1, "", None)),
        ev(
            0.1,
            false,
            resp(407, "INVITE", "z9hG4bK1", "au", 1, "x", None),
        ),
        ev(0.2, true, req("ACK", "z9hG4bK1", "au", 1, "x", None)),
        ev(0.3, true, req("INVITE", "z9hG4bK2", "au", 2, "", None)),
        ev(
            0.9,
            false,
            resp(180, "INVITE", "z9hG4bK2", "au", 2, "tt", None),
        ),
        ev(
            1.3,
            false,
            resp(200, "INVITE", "z9hG4bK2", "au", 2, "tt", None),
        ),
    ];
    let mut c = Correlator::new(Config::KEEP);
    feed_all(&mut c, &evs);
    let call = &c.calls()[0];
    assert_eq!(call.outcome, Outcome::Answered);
    assert_eq!(call.invites, 2);
    assert!((call.time_to_answer().unwrap() - 1.3).abs() < 1e-9);
    assert!((call.time_to_ringing().unwrap() - 0.9).abs() < 1e-9);
    assert!(c.transactions()[0].ack().is_some());
}

#[test]
fn no_final_is_timeout_or_in_progress_by_the_capture_end() {
    let evs = vec![
        ev(0.0, true, req("INVITE", "z9hG4bKn", "nf", 1, "", None)),
        ev(
            0.1,
            false,
            resp(100, "INVITE", "z9hG4bKn", "nf", 1, "", None),
        ),
    ];
    let mut c = Correlator::new(Config::KEEP);
    feed_all(&mut c, &evs);
    assert_eq!(c.calls()[0].outcome, Outcome::InProgress);
    assert_eq!(c.calls()[0].final_status, None);
    // More traffic, 40 s later: the call has been silent for longer than 64*T1.
    c.feed(
        &req("OPTIONS", "z9hG4bKx", "other", 1, "", None),
        Packet::udp(40.2, addr(A), addr(B)),
    );
    assert_eq!(c.calls()[0].outcome, Outcome::Timeout);
    // An explicit end decides.
    c.finish(Some(10.0));
    assert_eq!(c.calls()[0].outcome, Outcome::InProgress);
    c.finish(Some(32.2));
    assert_eq!(c.calls()[0].outcome, Outcome::Timeout);
    assert_eq!(c.outcome_counts().timeout, 1);
}

#[test]
fn forked_provisionals_make_two_early_dialogs() {
    let b = "z9hG4bKf";
    let evs = vec![
        ev(0.0, true, req("INVITE", b, "fk", 1, "", None)),
        ev(0.2, false, resp(180, "INVITE", b, "fk", 1, "one", None)),
        ev(0.3, false, resp(180, "INVITE", b, "fk", 1, "two", None)),
    ];
    let mut c = Correlator::new(Config::KEEP);
    feed_all(&mut c, &evs);
    let d = c.dialogs();
    assert_eq!(d.len(), 2);
    assert!(d.iter().all(|d| d.state == DialogState::Early));
    let tags: Vec<&[u8]> = d.iter().map(|d| &*d.to_tag).collect();
    assert_eq!(tags, vec![&b"one"[..], &b"two"[..]]);
    assert_eq!(c.transactions()[0].responses().len(), 2);
    assert_eq!(c.calls()[0].dialogs.len(), 2);
    assert_eq!(c.calls()[0].outcome, Outcome::InProgress);
    // One fork answers: its dialog is confirmed, the other ends with the INVITE.
    c.feed(
        &resp(200, "INVITE", b, "fk", 1, "two", None),
        Packet::udp(1.0, addr(B), addr(A)),
    );
    let d = c.dialogs();
    assert_eq!(d[0].state, DialogState::Terminated);
    assert_eq!(d[1].state, DialogState::Confirmed);
}

#[test]
fn hold_and_resume_by_reinvite() {
    let call = "hd";
    let mut evs = Vec::new();
    let dirs = [
        ("sendrecv", "sendrecv"),
        ("sendonly", "recvonly"),
        ("sendrecv", "sendrecv"),
    ];
    for (k, (od, ad)) in dirs.iter().enumerate() {
        let n = k as u32 + 1;
        let t = k as f64 * 10.0;
        let br = format!("z9hG4bKh{n}");
        let to = if n == 1 { "" } else { "tt" };
        let off = sdp("10.0.0.1", 4000, od);
        let ans = sdp("10.0.0.2", 5000, ad);
        evs.push(ev(t, true, req("INVITE", &br, call, n, to, Some(&off))));
        evs.push(ev(
            t + 0.5,
            false,
            resp(200, "INVITE", &br, call, n, "tt", Some(&ans)),
        ));
        evs.push(ev(
            t + 0.6,
            true,
            req("ACK", &format!("z9hG4bKha{n}"), call, n, "tt", None),
        ));
    }
    evs.push(ev(30.0, true, req("BYE", "z9hG4bKhb", call, 4, "tt", None)));
    evs.push(ev(
        30.1,
        false,
        resp(200, "BYE", "z9hG4bKhb", call, 4, "tt", None),
    ));
    evs.reverse(); // order does not matter
    let mut c = Correlator::new(Config::KEEP);
    feed_all(&mut c, &evs);
    let calls = c.calls();
    let call = &calls[0];
    assert_eq!(call.outcome, Outcome::Answered);
    assert_eq!(call.hold_periods.len(), 1);
    assert_eq!(call.hold_periods[0].start, 10.0);
    assert_eq!(call.hold_periods[0].end, Some(20.0));
    assert_eq!(call.media.len(), 3);
    assert!((call.duration().unwrap() - 29.5).abs() < 1e-9);
    // A hold that is never resumed stays open.
    let mut c = Correlator::new(Config::KEEP);
    let off = sdp("10.0.0.1", 4000, "inactive");
    feed_all(
        &mut c,
        &[
            ev(
                0.0,
                true,
                req(
                    "INVITE",
                    "z9hG4bKq1",
                    "h2",
                    1,
                    "",
                    Some(&sdp("10.0.0.1", 4000, "")),
                ),
            ),
            ev(
                0.5,
                false,
                resp(200, "INVITE", "z9hG4bKq1", "h2", 1, "tt", None),
            ),
            ev(
                5.0,
                true,
                req("INVITE", "z9hG4bKq2", "h2", 2, "tt", Some(&off)),
            ),
            ev(
                5.5,
                false,
                resp(200, "INVITE", "z9hG4bKq2", "h2", 2, "tt", None),
            ),
        ],
    );
    let hp = &c.calls()[0].hold_periods;
    assert_eq!(hp.len(), 1);
    assert_eq!((hp[0].start, hp[0].end), (5.0, None));
    // A hold refused (488) is no hold.
    let mut c = Correlator::new(Config::KEEP);
    feed_all(
        &mut c,
        &[
            ev(0.0, true, req("INVITE", "z9hG4bKr1", "h3", 1, "", None)),
            ev(
                0.5,
                false,
                resp(200, "INVITE", "z9hG4bKr1", "h3", 1, "tt", None),
            ),
            ev(
                5.0,
                true,
                req("INVITE", "z9hG4bKr2", "h3", 2, "tt", Some(&off)),
            ),
            ev(
                5.5,
                false,
                resp(488, "INVITE", "z9hG4bKr2", "h3", 2, "tt", None),
            ),
        ],
    );
    assert!(c.calls()[0].hold_periods.is_empty());
    assert_eq!(c.calls()[0].outcome, Outcome::Answered);
}

/// The ACK of call "lo" at 1.1 s, with the answer to a late offer.
fn late_answer_ack() -> Ev {
    let answer = sdp("192.0.2.1", 20000, "");
    ev(
        1.1,
        true,
        req("ACK", "z9hG4bKla", "lo", 1, "tt", Some(&answer)),
    )
}

#[test]
fn media_from_a_late_offer() {
    // INVITE without a body: the offer is in the 200, the answer in the ACK (§13.2.1).
    let mut c = Correlator::new(Config::KEEP);
    feed_all(
        &mut c,
        &[
            ev(0.0, true, req("INVITE", "z9hG4bKl", "lo", 1, "", None)),
            ev(
                1.0,
                false,
                resp(
                    200,
                    "INVITE",
                    "z9hG4bKl",
                    "lo",
                    1,
                    "tt",
                    Some(&sdp("192.0.2.9", 30000, "")),
                ),
            ),
            late_answer_ack(),
        ],
    );
    let m = &c.calls()[0].media;
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].offerer, Some(addr(B)));
    let o = m[0].offerer_rtp().unwrap();
    let a = m[0].answerer_rtp().unwrap();
    assert_eq!((&*o.address, o.port), ("192.0.2.9", 30000));
    assert_eq!((&*a.address, a.port), ("192.0.2.1", 20000));
    assert_eq!(a.ip(), Some("192.0.2.1".parse().unwrap()));
    assert_eq!(m[0].streams[0].media.as_ref(), "audio");
}

/// After an INVITE without offer, a 183's SDP is the offer (the 2xx repeats it, RFC 3261
/// §13.3.1) and the answer comes in the ACK: no media could flow before it, so neither the
/// session nor the call is early media, and a call left at its 183 is not `early_media`.
#[test]
fn a_late_offer_in_a_183_is_not_early_media() {
    let offer = sdp("192.0.2.9", 30000, "");
    let invite = ev(0.0, true, req("INVITE", "z9hG4bKl", "lo", 1, "", None));
    let progress = ev(
        0.5,
        false,
        resp(183, "INVITE", "z9hG4bKl", "lo", 1, "tt", Some(&offer)),
    );
    let mut c = Correlator::new(Config::KEEP);
    feed_all(
        &mut c,
        &[
            invite.clone(),
            progress.clone(),
            ev(
                1.0,
                false,
                resp(200, "INVITE", "z9hG4bKl", "lo", 1, "tt", Some(&offer)),
            ),
            late_answer_ack(),
        ],
    );
    let call = &c.calls()[0];
    assert!(!call.early_media);
    let m = &call.media;
    assert_eq!(m.len(), 1);
    assert!(!m[0].early);
    assert_eq!((m[0].offer_time, m[0].answer_time), (Some(0.5), Some(1.1)));
    assert_eq!(m[0].offerer, Some(addr(B)));
    let a = m[0].answerer_rtp().unwrap();
    assert_eq!((&*a.address, a.port), ("192.0.2.1", 20000));

    // Left at the 183: still waiting for its answer, not early media.
    let mut c = Correlator::new(Config::KEEP);
    feed_all(&mut c, &[invite, progress]);
    c.finish(Some(10.0));
    let call = &c.calls()[0];
    assert!(!call.early_media);
    assert_eq!(call.outcome, Outcome::InProgress);
}

/// 100rel with a late offer: the reliable 183 carries the offer and the PRACK the answer
/// (RFC 3262 §5): one early session of the INVITE, whatever the feed order, and no session of
/// the PRACK's own; a call left there is early media.
#[test]
fn a_late_offer_answered_in_the_prack() {
    let msgs = || {
        vec![
            ev(0.0, true, req("INVITE", "z9hG4bKr", "rel", 1, "", None)),
            ev(
                0.5,
                false,
                resp(
                    183,
                    "INVITE",
                    "z9hG4bKr",
                    "rel",
                    1,
                    "tt",
                    Some(&sdp("192.0.2.9", 30000, "")),
                ),
            ),
            ev(
                0.6,
                true,
                req(
                    "PRACK",
                    "z9hG4bKp",
                    "rel",
                    2,
                    "tt",
                    Some(&sdp("192.0.2.1", 20000, "")),
                ),
            ),
            ev(
                0.61,
                false,
                resp(200, "PRACK", "z9hG4bKp", "rel", 2, "tt", None),
            ),
            ev(
                2.0,
                false,
                resp(200, "INVITE", "z9hG4bKr", "rel", 1, "tt", None),
            ),
            ev(2.1, true, req("ACK", "z9hG4bKa", "rel", 1, "tt", None)),
        ]
    };
    for reversed in [false, true] {
        let mut evs = msgs();
        if reversed {
            evs.reverse();
        }
        let mut c = Correlator::new(Config::KEEP);
        feed_all(&mut c, &evs);
        let call = &c.calls()[0];
        assert_eq!(call.outcome, Outcome::Answered);
        assert!(call.early_media, "reversed: {reversed}");
        let m = &call.media;
        assert_eq!(m.len(), 1, "reversed: {reversed}: {m:?}");
        assert_eq!(m[0].method, Method::Invite);
        assert!(m[0].early);
        assert_eq!((m[0].offer_time, m[0].answer_time), (Some(0.5), Some(0.6)));
        assert_eq!(m[0].offerer, Some(addr(B)));
        let o = m[0].offerer_rtp().unwrap();
        let a = m[0].answerer_rtp().unwrap();
        assert_eq!((&*o.address, o.port), ("192.0.2.9", 30000));
        assert_eq!((&*a.address, a.port), ("192.0.2.1", 20000));
    }
    // Left after the PRACK: early media.
    let mut c = Correlator::new(Config::KEEP);
    feed_all(&mut c, &msgs()[..4]);
    c.finish(Some(10.0));
    assert_eq!(c.calls()[0].outcome, Outcome::EarlyMedia);
}

/// A media row's To tag, method, offer and answer ports, answer time and early flag.
fn media_summary(m: &MediaRecord) -> (&str, Method, Option<u16>, Option<u16>, Option<f64>, bool) {
    (
        &m.to_tag,
        m.method,
        m.offer_port,
        m.answer_port,
        m.answer_time,
        m.early,
    )
}

/// A late offer forked to two phones, each answering with a reliable 183 with SDP: each
/// early dialog counts its CSeq from the INVITE's (RFC 3261 §12.1.2), so both PRACKs are
/// CSeq 2 with the same From tag. Each PRACK answers its own dialog's offer (RFC 3262 §7.2),
/// in every feed order: two early sessions, each with its own addresses.
#[test]
fn each_fork_of_a_late_offer_has_its_own_pracks_answer_in_any_order() {
    let fork = |to: &str, t: f64, branch: &str, theirs: u16, ours: u16| {
        vec![
            ev(
                t,
                false,
                resp(
                    183,
                    "INVITE",
                    "z9hG4bKf",
                    "fk",
                    1,
                    to,
                    Some(&sdp("192.0.2.9", theirs, "")),
                ),
            ),
            ev(
                t + 0.1,
                true,
                req(
                    "PRACK",
                    branch,
                    "fk",
                    2,
                    to,
                    Some(&sdp("192.0.2.1", ours, "")),
                ),
            ),
            ev(
                t + 0.11,
                false,
                resp(200, "PRACK", branch, "fk", 2, to, None),
            ),
        ]
    };
    let mut evs = vec![ev(0.0, true, req("INVITE", "z9hG4bKf", "fk", 1, "", None))];
    evs.extend(fork("t1", 0.5, "z9hG4bKp1", 30000, 20000));
    evs.extend(fork("t2", 0.8, "z9hG4bKp2", 32000, 20002));
    evs.push(ev(
        2.0,
        false,
        resp(200, "INVITE", "z9hG4bKf", "fk", 1, "t1", None),
    ));
    evs.push(ev(2.1, true, req("ACK", "z9hG4bKa", "fk", 1, "t1", None)));
    each_order_ev(&evs, |order, r| {
        assert_eq!(r.outcome, Outcome::Answered, "{order:?}");
        assert!(r.early_media, "{order:?}");
        let m: Vec<_> = r.media.iter().map(media_summary).collect();
        assert_eq!(
            m,
            [
                (
                    "t1",
                    Method::Invite,
                    Some(30000),
                    Some(20000),
                    Some(0.6),
                    true
                ),
                (
                    "t2",
                    Method::Invite,
                    Some(32000),
                    Some(20002),
                    Some(0.9),
                    true
                ),
            ],
            "{order:?}"
        );
    });
}

/// A copy of a request under a key that another request with SDP shares (the same branch,
/// CSeq and From tag; another hop or body) does not move that SDP to its own time: the
/// answer in a PRACK is at that PRACK's time in every feed order.
#[test]
fn a_copy_of_another_request_under_the_key_leaves_the_sdps_time() {
    let invite = req("INVITE", "z9hG4bKc", "cp", 1, "", None);
    let evs = [
        ev(0.0, true, invite),
        ev(
            0.1,
            false,
            resp(
                183,
                "INVITE",
                "z9hG4bKc",
                "cp",
                1,
                "t1",
                Some(&sdp("192.0.2.9", 30000, "")),
            ),
        ),
        // The same PRACK key without a body, from the other side, and its resending.
        ev(0.2, false, req("PRACK", "z9hG4bKp", "cp", 2, "t1", None)),
        ev(0.4, false, req("PRACK", "z9hG4bKp", "cp", 2, "t1", None)),
        ev(
            0.6,
            true,
            req(
                "PRACK",
                "z9hG4bKp",
                "cp",
                2,
                "t1",
                Some(&sdp("192.0.2.1", 20000, "")),
            ),
        ),
    ];
    one_media_row_in_any_order(&evs, (Some(0.1), Some(0.6), Some(20000)));
}

/// Offers of two exchanges at the same capture time (a clock too coarse to order them): the
/// media rows come in the same order in every feed order (CSeq, then method), not in the
/// order the exchanges were first fed.
#[test]
fn media_rows_tied_in_time_are_in_the_same_order_in_any_order() {
    let offer = |port| Some(sdp("192.0.2.1", port, ""));
    let evs = [
        ev(
            1.0,
            true,
            req("INVITE", "z9hG4bKt", "tie", 1, "", offer(20000).as_deref()),
        ),
        ev(
            1.0,
            true,
            req("PRACK", "z9hG4bKu", "tie", 2, "tt", offer(20002).as_deref()),
        ),
        ev(
            1.0,
            true,
            req(
                "UPDATE",
                "z9hG4bKv",
                "tie",
                2,
                "tt",
                offer(20004).as_deref(),
            ),
        ),
    ];
    each_order_ev(&evs, |order, r| {
        let m: Vec<_> = r.media.iter().map(|m| (m.method, m.offer_port)).collect();
        assert_eq!(
            m,
            [
                (Method::Invite, Some(20000)),
                (Method::Prack, Some(20002)),
                (Method::Update, Some(20004)),
            ],
            "{order:?}"
        );
    });
}

/// A late offer's answer in an ACK sent twice, and another ACK of the leg with another
/// answer between the copies (on another hop, another body): the answer is the first
/// copy's, at its time, in every feed order. Fed last, the first copy is a retransmission
/// earlier than the answer held, which came from the other message: its own SDP is read.
#[test]
fn an_earlier_copy_of_an_ack_is_read_when_the_held_answer_is_another_messages() {
    let ack = |t, forward, port, dir| {
        ev(
            t,
            forward,
            req(
                "ACK",
                "z9hG4bKk",
                "ka",
                1,
                "tt",
                Some(&sdp("192.0.2.1", port, dir)),
            ),
        )
    };
    let evs = [
        ev(0.0, true, req("INVITE", "z9hG4bKi", "ka", 1, "", None)),
        ev(
            1.0,
            false,
            resp(
                200,
                "INVITE",
                "z9hG4bKi",
                "ka",
                1,
                "tt",
                Some(&sdp("192.0.2.9", 30000, "")),
            ),
        ),
        ack(1.1, true, 20000, ""),
        ack(2.0, false, 20002, "sendrecv"),
        ack(3.0, true, 20000, ""),
    ];
    one_media_row_in_any_order(&evs, (Some(1.0), Some(1.1), Some(20000)));
}

/// Legs' answers at the same time in an exchange whose request was not captured (ACKs with
/// SDP, the only messages of the call, so no dialog): each row names its leg by its ACK's To
/// tag, and the rows come in To tag order in every feed order.
#[test]
fn media_rows_of_two_legs_tied_in_time_are_in_the_same_order_in_any_order() {
    let ack = |to: &str, port| {
        let body = sdp("192.0.2.1", port, "");
        ev(
            1.0,
            true,
            req("ACK", "z9hG4bKa", "legs", 1, to, Some(&body)),
        )
    };
    let evs = [ack("t1", 20002), ack("t2", 20000), ack("", 20004)];
    each_order_ev(&evs, |order, r| {
        let rows: Vec<_> = r
            .media
            .iter()
            .map(|m| (&*m.to_tag, m.answer_port))
            .collect();
        let want = [("", Some(20004)), ("t1", Some(20002)), ("t2", Some(20000))];
        assert_eq!(rows, want, "{order:?}");
    });
}

#[test]
fn ack_before_its_invite_waits_for_it() {
    let mut c = Correlator::new(Config::KEEP);
    let fed = feed_all(
        &mut c,
        &[
            ev(1.1, true, req("ACK", "z9hG4bKearly", "ae", 1, "tt", None)),
            ev(1.2, true, req("ACK", "z9hG4bKearly", "ae", 1, "tt", None)),
            ev(
                1.0,
                false,
                resp(200, "INVITE", "z9hG4bKi", "ae", 1, "tt", None),
            ),
            ev(0.0, true, req("INVITE", "z9hG4bKi", "ae", 1, "", None)),
        ],
    );
    assert_eq!(fed[0], Fed::Parked);
    let t = &c.transactions()[0];
    assert!(t.ack().is_some());
    assert!(t.request().is_some());
    assert_eq!(t.retransmissions(), 1);
    assert_eq!(c.counters().parked_acks, 1);
}

#[test]
fn rfc2543_requests_without_branch() {
    let mut c = Correlator::new(Config::KEEP);
    feed_all(
        &mut c,
        &[
            ev(0.0, true, req("INVITE", "", "old", 7, "", None)),
            ev(0.5, false, resp(404, "INVITE", "", "old", 7, "tt", None)),
            ev(0.6, true, req("ACK", "", "old", 7, "tt", None)),
            ev(1.0, true, req("INVITE", "", "old", 8, "", None)),
            ev(1.5, false, resp(200, "INVITE", "", "old", 8, "tt", None)),
        ],
    );
    let txns = c.transactions();
    assert_eq!(txns.len(), 2);
    assert!(txns[0].is_rfc2543());
    assert_eq!(txns[0].branch(), None);
    assert_eq!(txns[0].final_status(), Some(404));
    assert!(txns[0].ack().is_some());
    assert_eq!(txns[1].final_status(), Some(200));
    assert_eq!(c.calls()[0].outcome, Outcome::Answered);
}

#[test]
fn responses_come_out_in_time_order() {
    let mut c = Correlator::new(Config::KEEP);
    feed_all(
        &mut c,
        &[
            ev(
                2.0,
                false,
                resp(200, "INVITE", "z9hG4bKt", "to", 1, "tt", None),
            ),
            ev(
                1.0,
                false,
                resp(180, "INVITE", "z9hG4bKt", "to", 1, "tt", None),
            ),
            ev(
                0.5,
                false,
                resp(100, "INVITE", "z9hG4bKt", "to", 1, "", None),
            ),
        ],
    );
    let codes: Vec<_> = c.transactions()[0]
        .responses()
        .iter()
        .map(|r| r.status().unwrap())
        .collect();
    assert_eq!(codes, vec![100, 180, 200]);
    assert_eq!(c.transactions()[0].first_time(), 0.5);
}

#[test]
fn unparsable_input_is_counted() {
    let mut c = Correlator::new(Config::KEEP);
    let good = req("INVITE", "z9hG4bKu", "u", 1, "", None);
    let p = Packet::udp(0.0, addr(A), addr(B));
    let mut bad: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\r\n\r\n".to_vec(),
        b"hello world".to_vec(),
        vec![0xff; 300],
        b"INVITE sip:x SIP/2.0\r\nVia\r\n\r\n".to_vec(),
    ];
    for n in [1, 10, 30] {
        bad.push(good[..n].to_vec());
    }
    let mut unparsable = 0;
    for b in &bad {
        if matches!(c.feed(b, p), Fed::Unparsable(_)) {
            unparsable += 1;
        }
    }
    assert_eq!(c.counters().unparsable, unparsable);
    assert!(unparsable >= 6);
    // Parses, but cannot be correlated (no Call-ID).
    let no_call_id =
        b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\n\r\n";
    assert_eq!(c.feed(no_call_id, p), Fed::Uncorrelated(Reason::NoCallId));
    assert_eq!(c.counters().uncorrelated, 1);
    // Every prefix and byte flip of a real message: never a panic.
    for n in 0..good.len() {
        c.feed(&good[..n], p);
        let mut flipped = good.clone();
        flipped[n] ^= 0x20;
        c.feed(&flipped, p);
    }
    assert_eq!(
        c.counters().messages,
        bad.len() as u64 + 1 + 2 * good.len() as u64
    );
}

#[test]
fn tables_stay_bounded_under_a_flood_of_call_ids() {
    let cfg = Config {
        max_calls: 100,
        max_pending: 50,
        ..Config::DEFAULT
    };
    let mut c = Correlator::new(cfg);
    let n = 3000u32;
    for i in 0..n {
        let call = format!("flood-{i}");
        let t = f64::from(i) * 0.001;
        c.feed(
            &req("INVITE", "z9hG4bKfl", &call, 1, "", None),
            Packet::udp(t, addr(A), addr(B)),
        );
        c.feed(
            &resp(180, "INVITE", "z9hG4bKfl", &call, 1, "tt", None),
            Packet::udp(t, addr(B), addr(A)),
        );
    }
    let s = c.sizes();
    assert!(
        s.calls <= 100 && s.transactions <= 100 && s.dialogs <= 100 && s.pending <= 50,
        "{s:?}"
    );
    let k = *c.counters();
    assert_eq!(k.evicted_calls, u64::from(n) - 100);
    // Evicted calls are handed out at the next drain, as many as wait (the rest counted).
    assert_eq!(k.dropped_rows, u64::from(n) - 100 - 50);
    assert_eq!(c.outcome_counts().total(), u64::from(n));
    assert_eq!(c.calls().len(), 100);
    let drained: Vec<_> = c.drain(0.0).collect();
    assert_eq!(drained.len(), 50);
    assert!(drained.iter().all(|d| d.is_evicted() && d.record().evicted));
    assert_eq!(c.sizes().pending, 0);

    // The byte budget of kept messages.
    let cfg = Config {
        max_stored_bytes: 20_000,
        ..Config::KEEP
    };
    let mut c = Correlator::new(cfg);
    for i in 0..500 {
        let m = req(
            "OPTIONS",
            &format!("z9hG4bKb{i}"),
            &format!("b{i}"),
            1,
            "",
            None,
        );
        c.feed(&m, Packet::udp(0.0, addr(A), addr(B)));
    }
    assert!(c.counters().stored_bytes <= 20_000);
    assert!(c.counters().unstored > 0);
    assert_eq!(c.transactions().len(), 500);

    // Responses per transaction are capped.
    let mut c = Correlator::new(Config {
        max_responses: 4,
        ..Config::KEEP
    });
    for i in 0..20 {
        c.feed(
            &resp(
                180,
                "INVITE",
                "z9hG4bKcap",
                "cap",
                1,
                &format!("t{i}"),
                None,
            ),
            Packet::udp(0.0, addr(B), addr(A)),
        );
    }
    assert_eq!(c.transactions()[0].responses().len(), 4);
    assert_eq!(c.counters().dropped, 16);
    assert_eq!(c.counters().dropped_responses, 16);
}

/// Many interleaved calls; correctness only (throughput is measured elsewhere).
#[test]
fn many_interleaved_calls() {
    let n = 2000u32;
    let mut evs = Vec::new();
    for i in 0..n {
        evs.extend(answered_call(&format!("m{i}@host"), f64::from(i) * 0.01));
    }
    evs.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut c = Correlator::new(Config::KEEP);
    let fed = feed_all(&mut c, &evs);
    assert!(fed.iter().all(|f| matches!(f, Fed::Stored(_))));
    let calls = c.calls();
    assert_eq!(calls.len(), n as usize);
    assert!(calls.iter().all(|c| c.outcome == Outcome::Answered));
    assert_eq!(c.transactions().len(), 2 * n as usize);
    assert_eq!(c.outcome_counts().answered, u64::from(n));
    assert!(c
        .transactions()
        .iter()
        .all(|t| t.request().is_some() && t.final_status() == Some(200)));
    assert_eq!(c.transactions()[0].method_kind(), Method::Invite);
}

/// SIPp's `-trace_msg` log: blocks opened by a dashed line with the date and time, then
/// "UDP message sent (N bytes):" or "UDP message received [N] bytes :", an empty line and the
/// message.
fn sipp_messages(log: &str) -> Vec<(f64, bool, Vec<u8>)> {
    let mut out = Vec::new();
    for block in log
        .split("----------------------------------------------- ")
        .skip(1)
    {
        let mut lines = block.splitn(3, '\n');
        let stamp = lines.next().unwrap_or("");
        let what = lines.next().unwrap_or("");
        let body = lines.next().unwrap_or("").trim_start_matches(['\r', '\n']);
        let time = stamp
            .split_whitespace()
            .nth(1)
            .and_then(|t| {
                let mut p = t.split(':');
                let h: f64 = p.next()?.parse().ok()?;
                let m: f64 = p.next()?.parse().ok()?;
                let s: f64 = p.next()?.parse().ok()?;
                Some(h * 3600.0 + m * 60.0 + s)
            })
            .unwrap_or(0.0);
        let body = body.trim_end_matches(['\r', '\n']);
        let mut bytes = body
            .replace("\r\n", "\n")
            .replace('\n', "\r\n")
            .into_bytes();
        bytes.extend_from_slice(b"\r\n\r\n");
        if !body.is_empty() {
            out.push((time, what.contains("sent"), bytes));
        }
    }
    out
}

#[test]
fn reads_a_sipp_message_trace() {
    let log = "\
----------------------------------------------- 2026-01-02\t10:00:00.000000
UDP message sent (300 bytes):

INVITE sip:service@127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-1-0
From: sipp <sip:sipp@127.0.0.1:5061>;tag=1SIPpTag001
To: service <sip:service@127.0.0.1:5060>
Call-ID: 1-1@127.0.0.1
CSeq: 1 INVITE
Content-Length: 0


----------------------------------------------- 2026-01-02\t10:00:00.010000
UDP message received [200] bytes :

SIP/2.0 180 Ringing
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-1-0
From: sipp <sip:sipp@127.0.0.1:5061>;tag=1SIPpTag001
To: service <sip:service@127.0.0.1:5060>;tag=2SIPpTag011
Call-ID: 1-1@127.0.0.1
CSeq: 1 INVITE
Content-Length: 0


----------------------------------------------- 2026-01-02\t10:00:00.020000
UDP message received [200] bytes :

SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-1-0
From: sipp <sip:sipp@127.0.0.1:5061>;tag=1SIPpTag001
To: service <sip:service@127.0.0.1:5060>;tag=2SIPpTag011
Call-ID: 1-1@127.0.0.1
CSeq: 1 INVITE
Content-Length: 0

";
    let msgs = sipp_messages(log);
    assert_eq!(msgs.len(), 3);
    let mut c = Correlator::new(Config::KEEP);
    let (uac, uas) = (addr("127.0.0.1:5061"), addr("127.0.0.1:5060"));
    for (t, sent, m) in &msgs {
        let (s, d) = if *sent { (uac, uas) } else { (uas, uac) };
        assert!(matches!(c.feed(m, Packet::udp(*t, s, d)), Fed::Stored(_)));
    }
    let call = &c.calls()[0];
    assert_eq!(call.outcome, Outcome::Answered);
    assert!((call.time_to_ringing().unwrap() - 0.01).abs() < 1e-6);
}

/// A response of the INVITE below, with its own Via and To values.
fn raw_response(status: &str, via: &str, to: &str) -> Vec<u8> {
    format!(
        "SIP/2.0 {status}\r\nVia: {via}\r\nFrom: <sip:a@x>;tag=ft\r\nTo: {to}\r\n\
         Call-ID: vary\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Within one call the From, To and Via values change from message to message: each value
/// is read as its own bytes say (a call remembers what its earlier values parsed to, and
/// must not hand that to different bytes).
#[test]
fn values_that_change_within_a_call_are_read_each_time() {
    const VIA: &str = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKv1";
    let mut c = Correlator::new(Config::KEEP);
    let evs = vec![
        ev(1.0, true, req("INVITE", "z9hG4bKv1", "vary", 1, "", None)),
        // The To's URI does not parse: no tag, so no dialog.
        ev(
            1.1,
            false,
            raw_response("180 Ringing", VIA, "<sip:b@[bad>;tag=t1"),
        ),
        // The same bytes once more: a retransmission of a response without To tag.
        ev(
            1.15,
            false,
            raw_response("180 Ringing", VIA, "<sip:b@[bad>;tag=t1"),
        ),
        // A well-formed To one byte longer: an early dialog with tag t12.
        ev(
            1.2,
            false,
            raw_response("180 Ringing", VIA, "<sip:b@[::1]>;tag=t12"),
        ),
        // The branch past its cookie in other case: the same transaction (branches compare
        // case-insensitively, RFC 3261 §17.2.3, §7.3.1), and a new dialog.
        ev(
            1.3,
            false,
            raw_response(
                "200 OK",
                "SIP/2.0/UDP 10.0.0.1:5060;Branch=z9hG4bKV1",
                "<sip:b@y>;tag=t2",
            ),
        ),
        // A top Via the typed parser refuses, in a known call: not correlated.
        ev(
            1.4,
            false,
            raw_response(
                "200 OK",
                "SIP/2.0/UDP ;branch=z9hG4bKv1",
                "<sip:b@y>;tag=t2",
            ),
        ),
    ];
    let fed = feed_all(&mut c, &evs);
    assert!(matches!(fed[1], Fed::Stored(_)), "{fed:?}");
    assert!(matches!(fed[2], Fed::Retransmission(_)), "{fed:?}");
    assert!(matches!(fed[3], Fed::Stored(_)), "{fed:?}");
    assert!(matches!(fed[4], Fed::Stored(_)), "{fed:?}");
    assert_eq!(fed[5], Fed::Uncorrelated(Reason::BadVia));
    let txns = c.transactions();
    assert_eq!(txns.len(), 1);
    assert_eq!(txns[0].responses().len(), 3);
    assert_eq!(txns[0].retransmissions(), 1);
    let tags: Vec<(Vec<u8>, DialogState)> = c
        .dialogs()
        .into_iter()
        .map(|d| (d.to_tag.into_vec(), d.state))
        .collect();
    assert_eq!(
        tags,
        vec![
            (b"t12".to_vec(), DialogState::Terminated),
            (b"t2".to_vec(), DialogState::Confirmed)
        ]
    );
    let n = c.counters();
    assert_eq!((n.dialogs, n.uncorrelated, n.retransmissions), (2, 1, 1));
}

// --- scenarios of issue 13, each fed in several scrambled orders -----------------------------

/// One message as a device writes it: start line, Vias (top first), From, To, Call-ID, CSeq and
/// an optional SDP body.
#[derive(Clone, Debug)]
struct Sip {
    start: String,
    vias: Vec<String>,
    from: String,
    to: String,
    call: String,
    cseq: String,
    body: Option<String>,
}

impl Sip {
    fn request(
        method: &str,
        ruri: &str,
        via: &str,
        from: &str,
        to: &str,
        call: &str,
        n: u32,
    ) -> Sip {
        Sip {
            start: format!("{method} {ruri} SIP/2.0"),
            vias: vec![via.to_owned()],
            from: from.to_owned(),
            to: to.to_owned(),
            call: call.to_owned(),
            cseq: format!("{n} {method}"),
            body: None,
        }
    }

    /// The response to this request (Vias, From, To, Call-ID and CSeq copied, §8.2.6.2),
    /// with a To tag added when given.
    fn response(&self, status: &str, to_tag: &str) -> Sip {
        let to = if to_tag.is_empty() || self.to.contains(";tag=") {
            self.to.clone()
        } else {
            format!("{};tag={to_tag}", self.to)
        };
        Sip {
            start: format!("SIP/2.0 {status}"),
            to,
            body: None,
            ..self.clone()
        }
    }

    /// The same request forwarded by a proxy: its own Via on top (§16.6 step 8).
    fn forwarded(&self, via: &str) -> Sip {
        let mut s = self.clone();
        s.vias.insert(0, via.to_owned());
        s
    }

    /// The response as the proxy forwards it upstream: its own Via removed (§16.7 step 3).
    fn upstream(&self) -> Sip {
        let mut s = self.clone();
        s.vias.remove(0);
        s
    }

    fn with_body(mut self, sdp: &str) -> Sip {
        self.body = Some(sdp.to_owned());
        self
    }

    fn with_via(mut self, via: &str) -> Sip {
        self.vias = vec![via.to_owned()];
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut s = format!("{}\r\n", self.start);
        for v in &self.vias {
            s += &format!("Via: {v}\r\n");
        }
        s += &format!(
            "From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\nMax-Forwards: 70\r\n",
            self.from, self.to, self.call, self.cseq
        );
        match &self.body {
            Some(b) => {
                s += &format!(
                    "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{b}",
                    b.len()
                )
            }
            None => s += "Content-Length: 0\r\n\r\n",
        }
        s.into_bytes()
    }
}

/// An SDP body: one stream per `(kind, port, formats, attributes)` at `ip`.
fn sdp_media(ip: &str, streams: &[(&str, u16, &str, &str)]) -> String {
    let mut s = format!("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n");
    for (kind, port, fmts, attrs) in streams {
        s += &format!("m={kind} {port} RTP/AVP {fmts}\r\n{attrs}");
    }
    s
}

/// A message seen at a time, from and to an address.
#[derive(Clone, Debug)]
struct Seen {
    t: f64,
    src: SocketAddr,
    dst: SocketAddr,
    bytes: Vec<u8>,
}

fn seen(t: f64, src: &str, dst: &str, m: &Sip) -> Seen {
    Seen {
        t,
        src: addr(src),
        dst: addr(dst),
        bytes: m.bytes(),
    }
}

/// The orders a scenario is fed in: as captured, reversed, and eight shuffles.
fn orders(n: usize) -> Vec<Vec<usize>> {
    let mut out = vec![(0..n).collect::<Vec<_>>(), (0..n).rev().collect()];
    for seed in [1u64, 2, 3, 7, 42, 1234, 99_999, 0xdead_beef] {
        let mut o: Vec<usize> = (0..n).collect();
        shuffle(&mut o, seed);
        out.push(o);
    }
    out
}

fn run(cfg: Config, msgs: &[Seen], order: &[usize]) -> (Correlator, Vec<Fed>) {
    let mut c = Correlator::new(cfg);
    let fed = order
        .iter()
        .map(|&i| {
            let m = &msgs[i];
            c.feed(&m.bytes, Packet::udp(m.t, m.src, m.dst))
        })
        .collect();
    (c, fed)
}

/// Feeds `msgs` in each order of `orders` to a correlator keeping its messages, for `check`.
fn each_order_kept(msgs: &[Seen], check: impl Fn(&[usize], &mut Correlator)) {
    for order in orders(msgs.len()) {
        let (mut c, _) = run(Config::KEEP, msgs, &order);
        check(&order, &mut c);
    }
}

/// Every call's row at the capture's end, by Call-ID.
fn rows_of(c: &mut Correlator) -> Vec<CallRecord> {
    let mut v: Vec<CallRecord> = c.drain_all().map(|f| f.record()).collect();
    v.sort_by(|a, b| a.call_id.cmp(&b.call_id));
    // Media rows are counted before they are made: no room for rows that never come.
    assert!(v.iter().all(|r| r.media.capacity() == r.media.len()));
    v
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

const ALICE: &str = "10.0.0.1:5060";
const BOB: &str = "10.0.0.2:5060";
const PROXY: &str = "10.0.0.10:5060";

fn alice_invite(call: &str) -> Sip {
    Sip::request(
        "INVITE",
        "sip:bob@example.com",
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa1",
        "\"Alice\" <sip:alice@example.com>;tag=fa",
        "<sip:bob@example.com>",
        call,
        1,
    )
}

/// Alice's ACK of `ok` (the 2xx to `inv`) under `branch`.
fn alice_ack(inv: &Sip, ok: &Sip, branch: &str) -> Sip {
    Sip::request(
        "ACK",
        "sip:bob@10.0.0.2",
        &format!("SIP/2.0/UDP 10.0.0.1:5060;branch={branch}"),
        &inv.from,
        &ok.to,
        &inv.call,
        1,
    )
}

/// A request Bob sends in the dialog `ok` (the 2xx to Alice's `inv`) made.
fn from_bob(method: &str, inv: &Sip, ok: &Sip, branch: &str, n: u32) -> Sip {
    Sip::request(
        method,
        "sip:alice@10.0.0.1",
        &format!("SIP/2.0/UDP 10.0.0.2:5060;branch={branch}"),
        &ok.to,
        &inv.from,
        &inv.call,
        n,
    )
}

/// Issue 13, "times depend on feed order": retransmitted INVITE, 200 and BYE, fed in any
/// order; every time is the earliest copy's.
#[test]
fn times_are_the_earliest_copys_in_any_order() {
    let offer = sdp_media("10.0.0.1", &[("audio", 4000, "0 8", "")]);
    let answer = sdp_media("10.0.0.2", &[("audio", 5000, "8", "")]);
    let inv = alice_invite("times").with_body(&offer);
    let ok = inv.response("200 OK", "tb").with_body(&answer);
    let ack = alice_ack(&inv, &ok, "z9hG4bKa2");
    let bye = from_bob("BYE", &inv, &ok, "z9hG4bKb3", 1);
    let msgs = vec![
        seen(0.0, ALICE, BOB, &inv),
        seen(0.5, ALICE, BOB, &inv),
        seen(1.5, ALICE, BOB, &inv),
        seen(1.6, BOB, ALICE, &inv.response("100 Trying", "")),
        seen(1.8, BOB, ALICE, &inv.response("180 Ringing", "tb")),
        seen(2.0, BOB, ALICE, &ok),
        seen(2.5, BOB, ALICE, &ok),
        seen(3.5, BOB, ALICE, &ok),
        seen(3.6, ALICE, BOB, &ack),
        seen(10.0, BOB, ALICE, &bye),
        seen(10.5, BOB, ALICE, &bye),
        seen(10.6, ALICE, BOB, &bye.response("200 OK", "")),
    ];
    for order in orders(msgs.len()) {
        let (mut c, _) = run(Config::DEFAULT, &msgs, &order);
        assert_eq!(c.counters().retransmissions, 5, "{order:?}");
        let rows = rows_of(&mut c);
        let r = &rows[0];
        assert_eq!(rows.len(), 1);
        assert_eq!((r.outcome, r.final_status), (Outcome::Answered, Some(200)));
        assert!(close(r.invite_time, 0.0), "{order:?}: {r:?}");
        assert!(close(r.answer_time, 2.0), "{order:?}: {r:?}");
        assert!(close(r.time_to_answer, 2.0), "{order:?}: {r:?}");
        assert!(close(r.post_dial_delay, 1.8), "{order:?}: {r:?}");
        assert!(close(r.end_time, 10.0), "{order:?}: {r:?}");
        assert!(close(r.duration, 8.0), "{order:?}: {r:?}");
        assert_eq!(r.hangup, Some(Side::Callee));
        assert_eq!((r.invites, r.dialogs, r.messages), (1, 1, 12));
        assert_eq!(r.caller.as_deref(), Some("sip:alice@example.com"));
        assert_eq!(r.callee.as_deref(), Some("sip:bob@example.com"));
        assert_eq!((r.src, r.dst), (Some(addr(ALICE)), Some(addr(BOB))));
        let m = &r.media;
        assert_eq!(m.len(), 1, "{order:?}");
        assert!(
            close(m[0].offer_time, 0.0) && close(m[0].answer_time, 2.0),
            "{m:?}"
        );
        assert_eq!(&*m[0].to_tag, "tb");
        assert_eq!(m[0].codec.as_deref(), Some("PCMA"));
    }
}

/// Issue 13, "forked calls lose media": one INVITE forked by a proxy to three phones, each
/// answering with its own tag, SDP and codec; captured on both sides of the proxy and fed in
/// any order. One media row per dialog, and every hop's INVITE transaction counted.
#[test]
fn forked_call_has_one_media_row_per_dialog() {
    let offer = sdp_media(
        "10.0.0.1",
        &[(
            "audio",
            4000,
            "0 8 18 101",
            "a=rtpmap:101 telephone-event/8000\r\n",
        )],
    );
    let up = alice_invite("fork").with_body(&offer);
    let phones = [
        ("10.0.1.1:5060", "t1", "10.0.1.1", 4001u16, "8 0", "PCMA"),
        ("10.0.1.2:5060", "t2", "10.0.1.2", 4002, "0", "PCMU"),
        ("10.0.1.3:5060", "t3", "10.0.1.3", 4003, "101 18 0", "G729"),
    ];
    let mut msgs = vec![
        seen(0.0, ALICE, PROXY, &up),
        seen(0.01, PROXY, ALICE, &up.response("100 Trying", "")),
    ];
    for (k, (phone, tag, ip, port, fmts, _)) in phones.iter().enumerate() {
        let t = 0.1 + k as f64 * 0.01;
        let down = up.forwarded(&format!("SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bKp{k}"));
        let ring = down.response("180 Ringing", tag);
        let ok = down
            .response("200 OK", tag)
            .with_body(&sdp_media(ip, &[("audio", *port, fmts, "")]));
        let answer_at = 2.0 + k as f64;
        msgs.push(seen(t, PROXY, phone, &down));
        msgs.push(seen(t + 0.2, phone, PROXY, &ring));
        msgs.push(seen(t + 0.21, PROXY, ALICE, &ring.upstream()));
        msgs.push(seen(answer_at, phone, PROXY, &ok));
        msgs.push(seen(answer_at + 0.01, PROXY, ALICE, &ok.upstream()));
        // The caller ACKs every 2xx (its own branch each, §13.2.2.4)...
        let ack = Sip::request(
            "ACK",
            &format!("sip:{phone}"),
            &format!("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKack{k}"),
            &up.from,
            &ok.to,
            "fork",
            1,
        );
        msgs.push(seen(answer_at + 0.02, ALICE, phone, &ack));
        // ... and hangs up the dialogs it does not want, the first one at 20 s.
        let bye = Sip::request(
            "BYE",
            &format!("sip:{phone}"),
            &format!("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKbye{k}"),
            &up.from,
            &ok.to,
            "fork",
            2,
        );
        let bye_at = if k == 0 { 20.0 } else { answer_at + 0.1 };
        msgs.push(seen(bye_at, ALICE, phone, &bye));
        msgs.push(seen(
            bye_at + 0.01,
            phone,
            ALICE,
            &bye.response("200 OK", ""),
        ));
    }
    for order in orders(msgs.len()) {
        let (mut c, _) = run(Config::DEFAULT, &msgs, &order);
        assert_parts_match(&c);
        let rows = rows_of(&mut c);
        let r = &rows[0];
        assert_eq!(rows.len(), 1);
        assert_eq!(r.outcome, Outcome::Answered);
        // The caller's INVITE and the proxy's three.
        assert_eq!((r.invites, r.dialogs), (4, 3), "{order:?}");
        assert!(close(r.answer_time, 2.0), "{order:?}: {r:?}");
        // The call's dialog is the first answered (t1), hung up at 20 s.
        assert!(close(r.end_time, 20.0), "{order:?}: {r:?}");
        assert!(close(r.duration, 18.0), "{order:?}: {r:?}");
        assert_eq!(r.hangup, Some(Side::Caller));
        assert_eq!(r.media.len(), 3, "{order:?}: {:?}", r.media);
        for (m, (_, tag, ip, port, _, codec)) in r.media.iter().zip(&phones) {
            assert_eq!(&*m.to_tag, *tag, "{order:?}");
            assert_eq!((m.kind.as_ref(), m.media_index, m.cseq), ("audio", 0, 1));
            assert_eq!(m.method, Method::Invite);
            assert_eq!(m.offer_ip.as_deref(), Some("10.0.0.1"));
            assert_eq!(m.offer_port, Some(4000));
            assert_eq!(
                (m.answer_ip.as_deref(), m.answer_port),
                (Some(*ip), Some(*port))
            );
            assert_eq!(m.codec.as_deref(), Some(*codec), "{m:?}");
            assert_eq!(m.payload_types.as_slice(), &[0, 8, 18, 101]);
            assert_eq!(&*m.codecs[3], "telephone-event");
            assert!(close(m.offer_time, 0.0));
            assert_eq!(m.answerer.map(|a| a.ip().to_string()), Some(ip.to_string()));
        }
    }
    // Streaming in time order: the hang-ups of the unwanted forks do not end the call.
    let mut timed = msgs.clone();
    timed.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut c = Correlator::default();
    for m in &timed {
        c.feed(&m.bytes, Packet::udp(m.t, m.src, m.dst));
        assert_eq!(c.drain(m.t).count(), 0, "finished at {}", m.t);
    }
    // The last BYE answered at 20.01: closed, kept T4 (5 s) for copies.
    assert_eq!(c.drain(24.9).count(), 0);
    let done: Vec<CallRecord> = c.drain(25.1).map(|f| f.record()).collect();
    assert_eq!((done.len(), done[0].media.len()), (1, 3));
    // Without the proxy's side, the one INVITE transaction answered three times.
    let mut c = Correlator::default();
    for m in msgs
        .iter()
        .filter(|m| m.src == addr(ALICE) || m.dst == addr(ALICE))
    {
        c.feed(&m.bytes, Packet::udp(m.t, m.src, m.dst));
    }
    let r = &rows_of(&mut c)[0];
    assert_eq!((r.invites, r.dialogs, r.media.len()), (1, 3, 3));
    let tags: Vec<&str> = r.media.iter().map(|m| &*m.to_tag).collect();
    assert_eq!(tags, ["t1", "t2", "t3"]);
}

/// Issue 13, "calls seen only mid-call are answered": a capture that begins after the INVITE
/// (a re-INVITE, a BYE, or only responses) gives a `partial` call, never `answered`.
#[test]
fn calls_seen_mid_way_are_partial() {
    let inv = alice_invite("mid");
    let reinvite = Sip::request(
        "INVITE",
        "sip:bob@10.0.0.2",
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKre",
        &inv.from,
        "<sip:bob@example.com>;tag=tb",
        "mid",
        2,
    )
    .with_body(&sdp_media(
        "10.0.0.1",
        &[("audio", 4000, "0", "a=sendonly\r\n")],
    ));
    let bye = Sip::request(
        "BYE",
        "sip:bob@10.0.0.2",
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKby",
        &inv.from,
        "<sip:bob@example.com>;tag=tb",
        "mid",
        3,
    );
    let msgs = vec![
        seen(100.0, ALICE, BOB, &reinvite),
        seen(
            100.1,
            BOB,
            ALICE,
            &reinvite.response("200 OK", "").with_body(&sdp_media(
                "10.0.0.2",
                &[("audio", 5000, "0", "a=recvonly\r\n")],
            )),
        ),
        seen(130.0, ALICE, BOB, &bye),
        seen(130.1, BOB, ALICE, &bye.response("200 OK", "")),
    ];
    for order in orders(msgs.len()) {
        let (mut c, _) = run(Config::DEFAULT, &msgs, &order);
        assert_eq!(c.calls()[0].outcome, Outcome::Partial);
        let r = &rows_of(&mut c)[0];
        assert_eq!(r.outcome, Outcome::Partial, "{order:?}");
        assert_eq!(
            (r.invite_time, r.answer_time, r.time_to_answer),
            (None, None, None)
        );
        assert!(close(r.end_time, 130.0));
        assert_eq!(r.media.len(), 1);
        assert_eq!(r.media[0].cseq, 2);
        assert_eq!(
            r.media[0].offer_direction,
            Some(sipwire::sdp::Direction::SendOnly)
        );
        assert_eq!(c.outcome_counts().answered, 0);
        assert_eq!(c.outcome_counts().partial, 1);
    }
    // Only the responses of the initial INVITE: partial, with the status seen.
    let msgs = vec![
        seen(0.5, BOB, ALICE, &inv.response("180 Ringing", "tb")),
        seen(2.0, BOB, ALICE, &inv.response("200 OK", "tb")),
    ];
    for order in orders(msgs.len()) {
        let (mut c, _) = run(Config::DEFAULT, &msgs, &order);
        let r = &rows_of(&mut c)[0];
        assert_eq!((r.outcome, r.final_status), (Outcome::Partial, Some(200)));
        assert!(close(r.answer_time, 2.0) && r.time_to_answer.is_none());
    }
}

/// Issue 13, "a call in early media that went quiet is called timeout": a 183 with SDP and no
/// final is `early_media`, with its early media row; a 180 without SDP is `timeout`.
#[test]
fn early_media_is_told_from_unanswered() {
    let inv =
        alice_invite("early").with_body(&sdp_media("10.0.0.1", &[("audio", 4000, "0 8", "")]));
    let progress = inv
        .response("183 Session Progress", "tb")
        .with_body(&sdp_media("10.0.0.2", &[("audio", 5000, "0", "")]));
    let msgs = vec![
        seen(0.0, ALICE, BOB, &inv),
        seen(0.1, BOB, ALICE, &inv.response("100 Trying", "")),
        seen(0.4, BOB, ALICE, &progress),
        seen(0.9, BOB, ALICE, &progress),
    ];
    for order in orders(msgs.len()) {
        let (mut c, _) = run(Config::DEFAULT, &msgs, &order);
        // Within Timer C nothing is finished; past it the call is.
        assert_eq!(c.drain(100.0).count(), 0);
        let done: Vec<CallRecord> = c.drain(400.0).map(|f| f.record()).collect();
        assert_eq!(done.len(), 1, "{order:?}");
        let r = &done[0];
        assert_eq!((r.outcome, r.final_status), (Outcome::EarlyMedia, None));
        assert!(r.early_media);
        assert!(close(r.post_dial_delay, 0.4), "{r:?}");
        assert_eq!(r.media.len(), 1);
        assert!(r.media[0].early && close(r.media[0].answer_time, 0.4));
        assert_eq!(r.media[0].answer_port, Some(5000));
        assert_eq!(c.sizes().calls, 0);
    }
    // Ringing, no SDP, no final: timeout (Timer C).
    let msgs = vec![
        seen(0.0, ALICE, BOB, &inv),
        seen(0.5, BOB, ALICE, &inv.response("180 Ringing", "tb")),
    ];
    let (mut c, _) = run(Config::DEFAULT, &msgs, &[1, 0]);
    let done: Vec<CallRecord> = c.drain(400.0).map(|f| f.record()).collect();
    assert_eq!(done[0].outcome, Outcome::Timeout);
    assert!(!done[0].early_media);
}

/// Issue 13, "real devices' quirks drop whole calls": a CANCEL whose top Via sent-by lacks the
/// default port its INVITE had joins the INVITE's transaction; so do other spellings of the
/// same sent-by (host case, a trailing dot, TLS's 5061, IPv6 written another way).
#[test]
fn sent_by_with_and_without_its_default_port_is_one_transaction() {
    let cases = [
        ("SIP/2.0/UDP 192.0.2.1:5060", "SIP/2.0/UDP 192.0.2.1"),
        (
            "SIP/2.0/TCP host.example.com",
            "SIP/2.0/TCP HOST.Example.COM.:5060",
        ),
        (
            "SIP/2.0/TLS host.example.com:5061",
            "SIP/2.0/TLS host.example.com",
        ),
        (
            "SIP/2.0/UDP [2001:db8::1]:5060",
            "SIP/2.0/UDP [2001:DB8:0:0:0:0:0:1]",
        ),
        // Another sent-by altogether (a name for the address, a NAT's port), same branch.
        (
            "SIP/2.0/UDP 192.0.2.1:5060",
            "SIP/2.0/UDP phone.example.net:5062",
        ),
    ];
    for (inv_via, cancel_via) in cases {
        let inv = alice_invite("quirk").with_via(&format!("{inv_via};branch=z9hG4bKq1"));
        let cancel = Sip {
            start: "CANCEL sip:bob@example.com SIP/2.0".into(),
            cseq: "1 CANCEL".into(),
            ..inv.clone()
        }
        .with_via(&format!("{cancel_via};branch=z9hG4bKq1"));
        let ack = Sip {
            start: "ACK sip:bob@example.com SIP/2.0".into(),
            cseq: "1 ACK".into(),
            to: "<sip:bob@example.com>;tag=tb".into(),
            ..cancel.clone()
        };
        for (status, outcome) in [
            ("487 Request Terminated", Outcome::Cancelled),
            ("408 Request Timeout", Outcome::Timeout),
        ] {
            let msgs = vec![
                seen(0.0, ALICE, BOB, &inv),
                seen(0.5, BOB, ALICE, &inv.response("180 Ringing", "tb")),
                seen(3.0, ALICE, BOB, &cancel),
                seen(3.1, BOB, ALICE, &cancel.response("200 OK", "tb")),
                seen(3.2, BOB, ALICE, &inv.response(status, "tb")),
                seen(3.3, ALICE, BOB, &ack),
            ];
            for order in orders(msgs.len()) {
                let (mut c, _) = run(Config::KEEP, &msgs, &order);
                let txns = c.transactions();
                assert_eq!(txns.len(), 1, "{inv_via} / {cancel_via} {order:?}");
                let t = &txns[0];
                assert!(t.request().is_some() && t.cancel().is_some() && t.ack().is_some());
                assert_eq!(t.cancel_responses().len(), 1);
                assert_eq!(t.retransmissions(), 0);
                let r = &rows_of(&mut c)[0];
                assert_eq!(r.outcome, outcome, "{inv_via} / {cancel_via} {order:?}");
                assert!(close(r.cancel_time, 3.0));
                assert_eq!(r.invites, 1);
            }
        }
    }
}

/// Issue 13: devices that write IPv6 addresses unbracketed in URIs and Via (invalid, common)
/// are read in the lenient mode (with a diagnostic, counted as `repaired`); a CANCEL that
/// brackets the same address joins the INVITE.
#[test]
fn unbracketed_ipv6_devices_are_correlated() {
    let host = "2001:db8:0:0:216:d3ff:fe0d:22c";
    let a = "[2001:db8::216:d3ff:fe0d:22c]:5060";
    let b = "[2001:db8::2]:5060";
    let inv = Sip::request(
        "INVITE",
        &format!("sip:4321@{host}:5060"),
        &format!("SIP/2.0/UDP {host}:5060;branch=z9hG4bK6a"),
        &format!("<sip:1234@{host}:5060>;tag=v6"),
        &format!("<sip:4321@{host}:5060>"),
        "v6@host",
        1,
    );
    let cancel = Sip {
        start: format!("CANCEL sip:4321@[{host}]:5060 SIP/2.0"),
        cseq: "1 CANCEL".into(),
        ..inv.clone()
    }
    .with_via("SIP/2.0/UDP [2001:DB8::216:D3FF:FE0D:22C];branch=z9hG4bK6a");
    let msgs = vec![
        seen(0.0, a, b, &inv),
        seen(0.2, b, a, &inv.response("180 Ringing", "t6")),
        seen(1.0, a, b, &cancel),
        seen(1.1, b, a, &cancel.response("200 OK", "t6")),
        seen(1.2, b, a, &inv.response("487 Request Terminated", "t6")),
    ];
    for order in orders(msgs.len()) {
        let (mut c, fed) = run(Config::DEFAULT, &msgs, &order);
        assert!(
            fed.iter().all(|f| matches!(f, Fed::Stored(_))),
            "{order:?} {fed:?}"
        );
        let k = *c.counters();
        assert_eq!((k.uncorrelated, k.transactions), (0, 1));
        assert!(k.repaired >= 3, "{k:?}");
        let r = &rows_of(&mut c)[0];
        assert_eq!(r.outcome, Outcome::Cancelled);
        assert_eq!(r.caller.as_deref(), Some(&*format!("sip:1234@{host}:5060")));
    }
    // Strict parsing refuses them, and says why.
    let strict = Config {
        parse: sipwire::ParseOptions::STRICT,
        ..Config::DEFAULT
    };
    let (c, fed) = run(strict, &msgs, &[0]);
    assert!(
        matches!(fed[0], Fed::Unparsable(_) | Fed::Uncorrelated(_)),
        "{fed:?}"
    );
    assert_eq!(c.counters().messages, 1);
}

/// Payload types, codec names (rtpmap or the RFC 3551 table) and the negotiated codec of each
/// m= line; a refused stream (port 0) keeps its row.
#[test]
fn media_rows_have_codecs_and_the_negotiated_one() {
    let offer = sdp_media(
        "192.0.2.10",
        &[
            (
                "audio",
                30000,
                "0 8 96 101",
                "a=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n",
            ),
            ("video", 30002, "97", "a=rtpmap:97 H264/90000\r\n"),
        ],
    );
    let answer = sdp_media(
        "192.0.2.20",
        &[
            (
                "audio",
                40000,
                "101 8",
                "a=rtpmap:101 telephone-event/8000\r\n",
            ),
            ("video", 0, "97", "a=rtpmap:97 H264/90000\r\n"),
        ],
    );
    let inv = alice_invite("codecs").with_body(&offer);
    let msgs = vec![
        seen(0.0, ALICE, BOB, &inv),
        seen(
            1.0,
            BOB,
            ALICE,
            &inv.response("200 OK", "tb").with_body(&answer),
        ),
    ];
    for order in orders(msgs.len()) {
        let (mut c, _) = run(Config::DEFAULT, &msgs, &order);
        let r = &rows_of(&mut c)[0];
        let m = &r.media;
        assert_eq!(m.len(), 2);
        assert_eq!((&*m[0].kind, m[0].media_index), ("audio", 0));
        assert_eq!(m[0].payload_types.as_slice(), &[0, 8, 96, 101]);
        let names: Vec<&str> = m[0].codecs.iter().map(|s| &**s).collect();
        assert_eq!(names, ["PCMU", "PCMA", "opus", "telephone-event"]);
        assert_eq!(m[0].answer_payload_types.as_slice(), &[101, 8]);
        assert_eq!(m[0].codec.as_deref(), Some("PCMA"));
        assert_eq!(
            (m[0].codec_payload_type, m[0].codec_clock_rate),
            (Some(8), Some(8000))
        );
        assert_eq!(
            m[0].offer_direction,
            Some(sipwire::sdp::Direction::SendRecv)
        );
        assert_eq!((&*m[1].kind, m[1].media_index), ("video", 1));
        assert_eq!((m[1].offer_port, m[1].answer_port), (Some(30002), Some(0)));
        assert_eq!(m[1].codec.as_deref(), Some("H264"));
        // The snapshot says the same: the refused stream has no RTP endpoint.
        let call = &Correlator::new(Config::DEFAULT).calls();
        assert!(call.is_empty());
    }
}

/// Issue 13: `orphan_responses` counts responses whose request was never seen, not those
/// whose request came later in the feed.
#[test]
fn orphan_responses_matched_later_are_not_counted() {
    let inv = alice_invite("orphan");
    let msgs = vec![
        seen(0.0, ALICE, BOB, &inv),
        seen(0.1, BOB, ALICE, &inv.response("100 Trying", "")),
        seen(0.5, BOB, ALICE, &inv.response("180 Ringing", "tb")),
        seen(1.0, BOB, ALICE, &inv.response("486 Busy Here", "tb")),
    ];
    for order in orders(msgs.len()) {
        let (c, _) = run(Config::DEFAULT, &msgs, &order);
        assert_eq!(c.counters().orphan_responses, 0, "{order:?}");
        assert_eq!(c.calls()[0].outcome, Outcome::Busy);
    }
    let (c, _) = run(Config::DEFAULT, &msgs, &[3, 2, 1]);
    assert_eq!(c.counters().orphan_responses, 3);
}

/// `request` made a 200 "response" with CSeq method ACK (no such response exists).
fn ack_response(request: &[u8]) -> Vec<u8> {
    let s = String::from_utf8(request.to_vec()).unwrap();
    let (_, rest) = s.split_once("\r\n").unwrap();
    let rest = rest.replace("CSeq: 1 INVITE", "CSeq: 1 ACK");
    assert!(rest.contains("CSeq: 1 ACK"));
    format!("SIP/2.0 200 OK\r\n{rest}").into_bytes()
}

/// A "response" to an ACK is not taken for the INVITE's response whose transaction key an ACK
/// shares (fuzzing found it making a call's final status depend on the feed order): the
/// INVITE's 486 is the call's final status in any order.
#[test]
fn a_response_to_an_ack_is_no_response_to_the_invite() {
    let invite = alice_invite("ackresp");
    let busy = invite.response("486 Busy Here", "tb");
    // Another From tag and an RFC 2543 branch: an INVITE exchange of its own, "answered".
    let mut other = invite
        .clone()
        .with_via("SIP/2.0/UDP 10.0.0.1:5060;branch=old1");
    other.from = "\"Alice\" <sip:alice@example.com>;tag=f0".into();
    let bogus = ack_response(&other.bytes());
    let msgs = [busy.bytes(), bogus.clone(), bogus];
    for order in orders(msgs.len()) {
        let mut c = Correlator::default();
        for (n, &i) in order.iter().enumerate() {
            let fed = c.feed(
                &msgs[i],
                Packet::udp(1.0 + n as f64, addr(BOB), addr(ALICE)),
            );
            if i > 0 {
                assert_eq!(fed, Fed::Uncorrelated(Reason::AckResponse), "{order:?}");
            }
        }
        let calls = c.calls();
        let call = &calls[0];
        assert_eq!(call.outcome, Outcome::Partial, "{order:?}");
        assert_eq!(call.final_status, Some(486), "{order:?}");
        assert_eq!(c.counters().ack_response, 2);
    }
}

/// Two initial INVITE exchanges alike in time and CSeq (a reused Call-ID, another From tag)
/// give the call one outcome in every run and feed order: the tie was broken by the From
/// tag's hash, whose keys are each correlator's own (fuzzing found the outcome changing from
/// run to run).
#[test]
fn exchanges_tied_in_time_order_the_same_in_every_run() {
    let a = alice_invite("tie").with_via("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK0");
    let mut b = a.clone();
    b.from = "<sip:alice@example.com>;tag=f1".into();
    let not_found = b
        .clone()
        .with_via("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK2")
        .response("404 Not Found", "");
    let msgs = [
        seen(0.0, ALICE, BOB, &a),
        seen(0.3, ALICE, BOB, &b),
        seen(0.0, BOB, ALICE, &not_found),
    ];
    let mut outcomes = std::collections::BTreeSet::new();
    for _ in 0..20 {
        for order in orders(msgs.len()) {
            let (mut c, _) = run(Config::DEFAULT, &msgs, &order);
            let rows = rows_of(&mut c);
            outcomes.insert((format!("{:?}", rows[0].outcome), rows[0].final_status));
        }
    }
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
}

/// Every message that cannot be correlated says why, and the reasons are counted.
#[test]
fn uncorrelated_messages_say_why() {
    let good = alice_invite("why");
    let drop_header = |name: &str| -> Vec<u8> {
        let s = String::from_utf8(good.bytes()).unwrap();
        s.lines()
            .filter(|l| !l.starts_with(name))
            .map(|l| format!("{l}\r\n"))
            .collect::<String>()
            .into_bytes()
    };
    let replace = |from: &str, to: &str| -> Vec<u8> {
        String::from_utf8(good.bytes())
            .unwrap()
            .replace(from, to)
            .into_bytes()
    };
    let cases: Vec<(Vec<u8>, Reason)> = vec![
        (drop_header("Call-ID"), Reason::NoCallId),
        (replace("Call-ID: why", "Call-ID: "), Reason::NoCallId),
        (drop_header("CSeq"), Reason::BadCSeq),
        (
            replace("CSeq: 1 INVITE", "CSeq: one INVITE"),
            Reason::BadCSeq,
        ),
        (drop_header("Via"), Reason::NoVia),
        (
            replace("SIP/2.0/UDP 10.0.0.1:5060", "SIP/2.0/UDP 10.0.0.1:99999"),
            Reason::BadVia,
        ),
        (ack_response(&good.bytes()), Reason::AckResponse),
    ];
    let mut c = Correlator::default();
    for (i, (bytes, why)) in cases.iter().enumerate() {
        let fed = c.feed(bytes, Packet::udp(i as f64, addr(ALICE), addr(BOB)));
        assert_eq!(
            fed,
            Fed::Uncorrelated(*why),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
    let k = *c.counters();
    assert_eq!(
        (
            k.no_call_id,
            k.bad_cseq,
            k.no_via,
            k.bad_via,
            k.late,
            k.ack_response,
            k.uncorrelated
        ),
        (2, 2, 1, 1, 0, 1, 7)
    );
    assert_eq!(c.sizes().calls, 0);
    for r in Reason::ALL {
        assert!(!r.as_str().is_empty());
    }
}

/// A straggler of a call already handed out (within its linger) is `late`, not a second,
/// partial call; after the linger the Call-ID starts a new call.
#[test]
fn stragglers_of_finished_calls_are_late() {
    let mut c = Correlator::default();
    let evs = answered_call("done", 0.0);
    feed_all(&mut c, &evs);
    // Its BYE answered at 12.01: closed, kept for T4.
    assert_eq!(c.drain(17.0).count(), 0);
    let done: Vec<CallRecord> = c.drain(17.02).map(|f| f.record()).collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].outcome, Outcome::Answered);
    let bye_ok = &evs[6].bytes;
    // Its Call-ID is known for 64*T1 after: a straggler then is late.
    let fed = c.feed(bye_ok, Packet::udp(45.0, addr(B), addr(A)));
    assert_eq!(fed, Fed::Uncorrelated(Reason::Late));
    assert_eq!(c.counters().late, 1);
    assert_eq!(c.sizes().calls, 0);
    // Past the tombstone's time, the same Call-ID is a new (here partial) call.
    c.drain(200.0).count();
    let fed = c.feed(bye_ok, Packet::udp(200.0, addr(B), addr(A)));
    assert!(matches!(fed, Fed::Stored(_)), "{fed:?}");
    assert_eq!(c.calls()[0].outcome, Outcome::Partial);
}

/// A Call-ID reused for a new call within the finished call's linger (a device that numbers
/// its Call-IDs and restarts, a test rig replaying one scenario): the new initial INVITE has
/// another From tag, so it starts a new call. A copy of the old INVITE (its From tag), a
/// message of the old dialog (a To tag), and an initial INVITE older than the call's end (a
/// capture fed out of order) stay `late`.
#[test]
fn a_call_id_reused_with_a_new_from_tag_is_a_new_call() {
    let with_from = |evs: Vec<Ev>, tag: &str| -> Vec<Ev> {
        evs.into_iter()
            .map(|e| {
                let text = String::from_utf8(e.bytes).unwrap();
                ev(
                    e.t,
                    e.forward,
                    text.replace("tag=ft", &format!("tag={tag}")).into_bytes(),
                )
            })
            .collect()
    };
    let mut c = Correlator::default();
    let first = answered_call("again", 0.0);
    feed_all(&mut c, &first);
    assert_eq!(c.drain(17.02).count(), 1);
    // Stragglers, within the linger: the old INVITE again, the old BYE's 200, and an initial
    // INVITE with a new From tag but from before the old call's end.
    let old_invite = &first[0].bytes;
    assert_eq!(
        c.feed(old_invite, Packet::udp(20.0, addr(A), addr(B))),
        Fed::Uncorrelated(Reason::Late)
    );
    assert_eq!(
        c.feed(&first[6].bytes, Packet::udp(20.5, addr(B), addr(A))),
        Fed::Uncorrelated(Reason::Late)
    );
    let early = with_from(answered_call("again", 11.0), "f-early");
    assert_eq!(
        c.feed(&early[0].bytes, Packet::udp(11.0, addr(A), addr(B))),
        Fed::Uncorrelated(Reason::Late)
    );
    assert_eq!(c.counters().late, 3);
    assert_eq!(c.sizes().calls, 0);
    // The same Call-ID, a new From tag, after the old call: a second call, whole.
    let second = with_from(answered_call("again", 25.0), "f2");
    let fed = feed_all(&mut c, &second);
    assert!(fed.iter().all(|f| matches!(f, Fed::Stored(_))), "{fed:?}");
    let calls = c.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].outcome, Outcome::Answered);
    assert_eq!(calls[0].invite_time, Some(25.0));
    assert_eq!(calls[0].answer_time, Some(27.0));
    assert_eq!(calls[0].media.len(), 1);
    assert_eq!(c.counters().late, 3);
}

/// Calls finish on the capture clock by phase: no response (Timer B), answered and quiet
/// (idle), ended without and with the message closing the end (64*T1, T4); a drain before
/// the deadline keeps the call.
#[test]
fn calls_finish_by_phase_on_the_capture_clock() {
    let cfg = Config::DEFAULT;
    // A BYE whose response was not seen is retransmitted for 64*T1: kept that long.
    let mut c = Correlator::new(cfg);
    feed_all(&mut c, &answered_call("unanswered-bye", 0.0)[..6]);
    assert_eq!(c.drain(12.0 + cfg.linger - 0.1).count(), 0);
    assert_eq!(c.drain(12.0 + cfg.linger + 0.1).count(), 1);
    // A 486 and its ACK: closed, kept T4; without the ACK, 64*T1.
    for (with_ack, wait) in [(true, cfg.closed_linger), (false, cfg.linger)] {
        let mut c = Correlator::new(cfg);
        let mut evs = vec![
            ev(0.0, true, req("INVITE", "z9hG4bKbz", "busy", 1, "", None)),
            ev(
                1.0,
                false,
                resp(486, "INVITE", "z9hG4bKbz", "busy", 1, "tt", None),
            ),
        ];
        if with_ack {
            evs.push(ev(
                1.0,
                true,
                req("ACK", "z9hG4bKbz", "busy", 1, "tt", None),
            ));
        }
        feed_all(&mut c, &evs);
        assert_eq!(c.drain(1.0 + wait - 0.1).count(), 0, "{with_ack}");
        let done: Vec<_> = c.drain(1.0 + wait + 0.1).map(|f| f.record()).collect();
        assert_eq!(done[0].outcome, Outcome::Busy, "{with_ack}");
    }
    let mut c = Correlator::new(cfg);
    // No response at all.
    c.feed(
        &req("INVITE", "z9hG4bKnr", "noresp", 1, "", None),
        Packet::udp(0.0, addr(A), addr(B)),
    );
    // Answered, no BYE.
    let mut evs = answered_call("nobye", 0.0);
    evs.truncate(5);
    feed_all(&mut c, &evs);
    assert_eq!(c.drain(31.0).count(), 0);
    let timed_out: Vec<CallRecord> = c.drain(33.0).map(|f| f.record()).collect();
    assert_eq!(timed_out.len(), 1);
    assert_eq!(
        (&*timed_out[0].call_id, timed_out[0].outcome),
        ("noresp", Outcome::Timeout)
    );
    assert_eq!(c.drain(cfg.idle_timeout).count(), 0);
    let idle: Vec<CallRecord> = c
        .drain(cfg.idle_timeout + 3.0)
        .map(|f| f.record())
        .collect();
    assert_eq!(
        (&*idle[0].call_id, idle[0].outcome),
        ("nobye", Outcome::Answered)
    );
    assert_eq!(idle[0].end_time, None);
    // A message moves the deadline: a call that keeps talking is kept.
    let mut c = Correlator::new(cfg);
    feed_all(&mut c, &answered_call("talk", 0.0)[..5]);
    for k in 1..5 {
        let t = f64::from(k) * 3000.0;
        c.feed(
            &req("INFO", &format!("z9hG4bKi{k}"), "talk", 10 + k, "tt", None),
            Packet::udp(t, addr(A), addr(B)),
        );
        assert_eq!(c.drain(t).count(), 0);
    }
    assert_eq!(c.drain(12_000.0 + cfg.idle_timeout + 1.0).count(), 1);
    let s = c.sizes();
    assert_eq!(
        (s.calls, s.transactions, s.dialogs, s.exchanges),
        (0, 0, 0, 0)
    );
}

/// Issue 13, "memory grows without bound": 30,000 completed calls (210,000 messages) fed with
/// a drain every 1,000 messages: the live tables stay at the calls open at once, and every
/// call comes out once.
#[test]
fn streaming_keeps_the_live_tables_bounded() {
    let calls = 30_000u32;
    let mut c = Correlator::default();
    let mut rows = 0usize;
    let mut answered = 0usize;
    let mut peak = sipwire::correlate::Sizes::default();
    let mut fed = 0usize;
    // Calls start every 10 ms and last 12 s: ~1,200 overlap at any time.
    let mut window: Vec<Ev> = Vec::new();
    for i in 0..calls {
        let t0 = f64::from(i) * 0.01;
        window.extend(answered_call(&format!("s{i}@host"), t0));
        // Feed what is due before the next call starts (each call is in time order).
        window.sort_by(|a, b| a.t.total_cmp(&b.t));
        let due = window.partition_point(|e| e.t < t0 + 0.01);
        for e in window.drain(..due) {
            let (s, d) = if e.forward { (A, B) } else { (B, A) };
            c.feed(&e.bytes, Packet::udp(e.t, addr(s), addr(d)));
            fed += 1;
            if fed % 1000 == 0 {
                for r in c.drain_finished(e.t) {
                    rows += 1;
                    answered += usize::from(r.outcome == Outcome::Answered);
                }
                let s = c.sizes();
                peak.calls = peak.calls.max(s.calls);
                peak.transactions = peak.transactions.max(s.transactions);
                peak.dialogs = peak.dialogs.max(s.dialogs);
                peak.deadlines = peak.deadlines.max(s.deadlines);
                peak.tombstones = peak.tombstones.max(s.tombstones);
            }
        }
    }
    window.sort_by(|a, b| a.t.total_cmp(&b.t));
    for e in window.drain(..) {
        let (s, d) = if e.forward { (A, B) } else { (B, A) };
        c.feed(&e.bytes, Packet::udp(e.t, addr(s), addr(d)));
        fed += 1;
    }
    for r in c.drain_all().map(|f| f.record()) {
        rows += 1;
        answered += usize::from(r.outcome == Outcome::Answered);
    }
    assert_eq!(fed, 7 * calls as usize);
    assert_eq!((rows, answered), (calls as usize, calls as usize));
    // Open calls: ~1,200 talking plus ~3,200 lingering (32 s at 100 calls/s) and a drain's
    // worth; nothing near the 30,000 seen.
    assert!(peak.calls < 6_000, "{peak:?}");
    assert!(
        peak.transactions < 2 * 6_000 && peak.dialogs < 6_000,
        "{peak:?}"
    );
    assert!(peak.deadlines < 3 * 6_000 + 1024, "{peak:?}");
    assert!(peak.tombstones < 6_000, "{peak:?}");
    let k = c.counters();
    assert_eq!(
        (k.finished_calls, k.evicted_calls, k.late),
        (u64::from(calls), 0, 0)
    );
    assert_eq!(k.stored_bytes, 0);
    let s = c.sizes();
    assert_eq!(
        (s.calls, s.transactions, s.dialogs, s.exchanges),
        (0, 0, 0, 0)
    );
}

/// Hostile input hits each bound, and what is dropped is counted: a flood of branches in one
/// Call-ID (transactions per call), of To tags (dialogs and legs, responses per
/// transaction), of CSeq numbers (exchanges per call).
#[test]
fn floods_within_one_call_hit_the_caps() {
    let cfg = Config::DEFAULT;
    let mut c = Correlator::new(cfg);
    for i in 0..1000u32 {
        c.feed(
            &req("INVITE", &format!("z9hG4bKfl{i}"), "flood", 1, "", None),
            Packet::udp(f64::from(i) * 0.001, addr(A), addr(B)),
        );
    }
    let k = *c.counters();
    assert_eq!(k.transactions as usize, cfg.max_transactions_per_call);
    assert_eq!(
        k.dropped_transactions as usize,
        1000 - cfg.max_transactions_per_call
    );
    assert_eq!(c.sizes().transactions, cfg.max_transactions_per_call);

    let mut c = Correlator::new(cfg);
    for i in 0..1000u32 {
        c.feed(
            &resp(
                183,
                "INVITE",
                "z9hG4bKtag",
                "tags",
                1,
                &format!("t{i}"),
                None,
            ),
            Packet::udp(f64::from(i) * 0.001, addr(B), addr(A)),
        );
    }
    let k = *c.counters();
    assert_eq!(k.dropped_responses as usize, 1000 - cfg.max_responses);
    assert_eq!(
        c.sizes().dialogs,
        cfg.max_responses.min(cfg.max_dialogs_per_call)
    );
    assert!(k.dropped_dialogs > 0);

    let mut c = Correlator::new(cfg);
    for i in 0..1000u32 {
        c.feed(
            &req(
                "UPDATE",
                &format!("z9hG4bKu{i}"),
                "cseqs",
                i + 1,
                "tt",
                None,
            ),
            Packet::udp(f64::from(i) * 0.001, addr(A), addr(B)),
        );
    }
    let k = *c.counters();
    assert_eq!(c.sizes().exchanges, cfg.max_exchanges_per_call);
    assert!(
        k.dropped_exchanges > 0 && k.dropped_transactions > 0,
        "{k:?}"
    );
    // Every record of the call is bounded: its row comes out.
    assert_eq!(c.drain_all().count(), 1);
}

/// A correlator that reuses the memory of finished calls gives the same rows as a fresh one:
/// the fork, codecs and early-media scenarios fed after thousands of other calls went through
/// `drain_finished` (their records recycled), and again after `recycle` of `drain`'s calls.
#[test]
fn recycled_records_give_the_same_rows() {
    let scenarios: Vec<Vec<Ev>> = (0..3000)
        .map(|i| answered_call(&format!("warm{i}"), f64::from(i) * 0.001))
        .collect();
    let probe = |c: &mut Correlator, call: &str, t0: f64| -> Vec<CallRecord> {
        let inv = alice_invite(call).with_body(&sdp_media(
            "10.0.0.1",
            &[
                (
                    "audio",
                    4000,
                    "0 8 101",
                    "a=rtpmap:101 telephone-event/8000\r\n",
                ),
                ("video", 4002, "96", "a=rtpmap:96 VP8/90000\r\n"),
            ],
        ));
        let msgs = [
            seen(t0, ALICE, BOB, &inv),
            seen(
                t0 + 0.3,
                BOB,
                ALICE,
                &inv.response("183 Session Progress", "e1")
                    .with_body(&sdp_media("10.0.0.3", &[("audio", 7000, "8", "")])),
            ),
            seen(
                t0 + 1.0,
                BOB,
                ALICE,
                &inv.response("200 OK", "e2").with_body(&sdp_media(
                    "10.0.0.2",
                    &[("audio", 5000, "0", ""), ("video", 0, "96", "")],
                )),
            ),
        ];
        for m in &msgs {
            c.feed(&m.bytes, Packet::udp(m.t, m.src, m.dst));
        }
        let mut rows: Vec<CallRecord> = c.drain_all_finished().collect();
        for r in &mut rows {
            r.call_id = "x".into();
            for m in &mut r.media {
                m.call_id = "x".into();
            }
        }
        rows
    };
    let fresh = probe(&mut Correlator::default(), "probe", 2e6);
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh[0].media.len(), 4, "{:?}", fresh[0].media);
    // Through drain_finished: records recycled as calls finish.
    let mut c = Correlator::default();
    for (k, evs) in scenarios.iter().enumerate() {
        feed_all(&mut c, evs);
        if k % 100 == 99 {
            c.drain_finished(evs[0].t + 100.0).count();
        }
    }
    assert_eq!(c.drain_finished(1e6).count(), 0);
    assert_eq!(probe(&mut c, "probe", 2e6), fresh);
    // Through drain and recycle.
    let mut c = Correlator::new(Config::KEEP);
    for evs in &scenarios {
        feed_all(&mut c, evs);
    }
    let done: Vec<_> = c.drain(1e6).collect();
    assert_eq!(done.len(), scenarios.len());
    for d in done {
        c.recycle(d);
    }
    assert_eq!(c.counters().stored_bytes, 0);
    assert_eq!(probe(&mut c, "probe", 2e6), fresh);
}

/// The records kept for reuse follow the calls open at once: a drain that finishes 1,000 calls
/// (as `sipwire analyze` drains a busy capture second) keeps all 1,000 for the next calls,
/// while a capture with few calls at a time keeps at most 256.
#[test]
fn recycled_records_follow_the_calls_open_at_once() {
    // 1,000 calls open together, then finished by one drain.
    let mut c = Correlator::default();
    for i in 0..1000 {
        feed_all(
            &mut c,
            &answered_call(&format!("busy{i}"), f64::from(i) * 0.001),
        );
    }
    assert_eq!(c.sizes().calls, 1000);
    assert_eq!(c.drain_finished(1e6).count(), 1000);
    assert_eq!((c.sizes().calls, c.sizes().shells), (0, 1000));
    // The next 1,000 calls take them all, and give them back.
    for i in 0..1000 {
        feed_all(
            &mut c,
            &answered_call(&format!("next{i}"), 2e6 + f64::from(i) * 0.001),
        );
    }
    assert_eq!(c.sizes().shells, 0);
    assert_eq!(c.drain_finished(3e6).count(), 1000);
    assert_eq!(c.sizes().shells, 1000);

    // One call at a time: the floor of 256, not one per call ever seen.
    let mut c = Correlator::default();
    for i in 0..1000 {
        let t0 = f64::from(i) * 1000.0;
        feed_all(&mut c, &answered_call(&format!("calm{i}"), t0));
        c.drain_finished(t0 + 999.0).count();
    }
    assert!(c.sizes().shells <= 256, "{:?}", c.sizes());
    assert_eq!(c.drain_finished(1e9).count(), 0);
}

/// A capture at the proxy sees each message on both hops (caller to proxy, proxy to
/// callee): the proxy's copy has its own Via (§16.6 step 8) and other addresses, so it is
/// not a retransmission; the 2xx ACK has a new branch on each hop (§13.2.2.4). Only what a
/// sender sent again on its hop is counted, in any feed order.
#[test]
fn a_message_on_two_hops_is_not_a_retransmission() {
    let up = alice_invite("hops").with_body(&sdp_media("10.0.0.1", &[("audio", 4000, "0", "")]));
    let down = up.forwarded("SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bKp1");
    let ok = down
        .response("200 OK", "tb")
        .with_body(&sdp_media("10.0.0.2", &[("audio", 5000, "0", "")]));
    let ack_up = Sip::request(
        "ACK",
        "sip:bob@10.0.0.2",
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKack",
        &up.from,
        &ok.to,
        "hops",
        1,
    );
    let ack_down = ack_up.forwarded("SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bKpack");
    let bye_up = Sip::request(
        "BYE",
        "sip:bob@10.0.0.2",
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKbye",
        &up.from,
        &ok.to,
        "hops",
        2,
    );
    let bye_down = bye_up.forwarded("SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bKpbye");
    let bye_ok = bye_down.response("200 OK", "");
    let msgs = vec![
        seen(0.0, ALICE, PROXY, &up),
        seen(0.01, PROXY, BOB, &down),
        seen(0.5, BOB, PROXY, &down.response("180 Ringing", "tb")),
        seen(
            0.51,
            PROXY,
            ALICE,
            &down.response("180 Ringing", "tb").upstream(),
        ),
        seen(2.0, BOB, PROXY, &ok),
        seen(2.01, PROXY, ALICE, &ok.upstream()),
        seen(2.1, ALICE, PROXY, &ack_up),
        seen(2.11, PROXY, BOB, &ack_down),
        seen(9.0, ALICE, PROXY, &bye_up),
        seen(9.01, PROXY, BOB, &bye_down),
        seen(9.02, BOB, PROXY, &bye_ok),
        seen(9.03, PROXY, ALICE, &bye_ok.upstream()),
    ];
    // Sent again: Bob's 200 (its timer, §13.3.1.4) and the proxy's forward of it, the
    // caller's ACK to it and the proxy's forward of that.
    let mut again = msgs.clone();
    for (i, t) in [(4, 2.5), (5, 2.51), (6, 2.6), (7, 2.61)] {
        let mut m = msgs[i].clone();
        m.t = t;
        again.push(m);
    }
    for (msgs, retransmissions) in [(msgs, 0u32), (again, 4)] {
        for order in orders(msgs.len()) {
            let (mut c, _) = run(Config::DEFAULT, &msgs, &order);
            assert_eq!(
                c.counters().retransmissions,
                u64::from(retransmissions),
                "{order:?}"
            );
            let r = &rows_of(&mut c)[0];
            assert_eq!(r.retransmissions, retransmissions, "{order:?}");
            assert_eq!((r.outcome, r.invites, r.dialogs), (Outcome::Answered, 2, 1));
            assert!(close(r.answer_time, 2.0) && close(r.end_time, 9.0), "{r:?}");
        }
    }
}

/// RFC 6076 §4.2, Session Request Delay: INVITE to the first provisional other than 100,
/// else to the final response (the 2xx, or the failure of a failed call); a 407 challenge
/// does not count (the caller's next INVITE is the same call's request).
#[test]
fn session_request_delay() {
    let inv = alice_invite("srd");
    let again = Sip::request(
        "INVITE",
        "sip:bob@example.com",
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa2",
        &inv.from,
        &inv.to,
        "srd",
        2,
    );
    let cases: Vec<(Vec<Seen>, Option<f64>, Option<f64>)> = vec![
        // Challenged, then 100, 183, 180, 200: both to the 183 (not to the 407, not to
        // the 100).
        (
            vec![
                seen(0.0, ALICE, BOB, &inv),
                seen(
                    0.1,
                    BOB,
                    ALICE,
                    &inv.response("407 Proxy Authentication Required", "x"),
                ),
                seen(0.3, ALICE, BOB, &again),
                seen(0.35, BOB, ALICE, &again.response("100 Trying", "")),
                seen(
                    0.6,
                    BOB,
                    ALICE,
                    &again.response("183 Session Progress", "tb"),
                ),
                seen(0.9, BOB, ALICE, &again.response("180 Ringing", "tb")),
                seen(1.5, BOB, ALICE, &again.response("200 OK", "tb")),
            ],
            Some(0.6),
            Some(0.6),
        ),
        // Busy after a 100 only: SRD to the 486, no post-dial delay.
        (
            vec![
                seen(0.0, ALICE, BOB, &inv),
                seen(0.1, BOB, ALICE, &inv.response("100 Trying", "")),
                seen(0.4, BOB, ALICE, &inv.response("486 Busy Here", "tb")),
            ],
            Some(0.4),
            None,
        ),
        // Answered at once: SRD to the 200.
        (
            vec![
                seen(0.0, ALICE, BOB, &inv),
                seen(0.7, BOB, ALICE, &inv.response("200 OK", "tb")),
            ],
            Some(0.7),
            None,
        ),
    ];
    for (msgs, srd, pdd) in cases {
        for order in orders(msgs.len()) {
            let (mut c, _) = run(Config::DEFAULT, &msgs, &order);
            let r = &rows_of(&mut c)[0];
            assert_eq!(r.srd.is_some(), srd.is_some(), "{r:?}");
            assert!(srd.map_or(true, |s| close(r.srd, s)), "{order:?}: {r:?}");
            assert_eq!(r.post_dial_delay.is_some(), pdd.is_some(), "{r:?}");
            assert!(pdd.map_or(true, |p| close(r.post_dial_delay, p)), "{r:?}");
        }
    }
}

/// Over TCP a hop is its two hosts: a UAS resending its 2xx over a new connection (another
/// source port, RFC 3261 §18.2.2) still resends it; over UDP another port is another hop.
#[test]
fn a_resending_over_a_new_connection_is_a_retransmission() {
    let inv = alice_invite("tcp");
    let ok = inv.response("200 OK", "tb");
    for (transport, counted) in [
        (sipwire::txn::Transport::Tcp, 1u64),
        (sipwire::txn::Transport::Udp, 0),
    ] {
        let mut c = Correlator::new(Config::DEFAULT);
        c.feed(
            &inv.bytes(),
            Packet::new(0.0, addr(ALICE), addr(BOB), transport),
        );
        c.feed(
            &ok.bytes(),
            Packet::new(1.0, addr(BOB), addr(ALICE), transport),
        );
        c.feed(
            &ok.bytes(),
            Packet::new(1.5, addr("10.0.0.2:40001"), addr(ALICE), transport),
        );
        assert_eq!(c.counters().retransmissions, counted, "{transport:?}");
    }
}

/// A request's bytes with a body of its own type (the `Sip` builder writes SDP only).
fn with_typed_body(m: &Sip, content_type: &str, body: &str) -> Vec<u8> {
    let b = m.bytes();
    let head = &b[..b.len() - "Content-Length: 0\r\n\r\n".len()];
    let mut out = head.to_vec();
    out.extend_from_slice(
        format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    out
}

/// DTMF sent in INFO requests (`application/dtmf-relay`, `application/dtmf`), captured on both
/// sides of a proxy with a retransmission, fed in any order: one digit per request, at its
/// earliest copy, in time order; INFOs of other packages and bodies that name no digit are
/// not digits.
#[test]
fn info_dtmf_is_one_digit_per_request() {
    let inv = alice_invite("info");
    let ok = inv.response("200 OK", "tb");
    let info = |n: u32, branch: &str| {
        Sip::request(
            "INFO",
            "sip:bob@10.0.0.2",
            &format!("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{branch}"),
            &inv.from,
            &ok.to,
            "info",
            n,
        )
    };
    let (i2, i3, i4, i5) = (info(2, "i2"), info(3, "i3"), info(4, "i4"), info(5, "i5"));
    let from_bob = Sip::request(
        "INFO",
        "sip:alice@10.0.0.1",
        "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKb2",
        &ok.to,
        &inv.from,
        "info",
        2,
    );
    let relay = |d: &str| format!("Signal={d}\r\nDuration=160\r\n");
    let s = |t: f64, src: &str, dst: &str, bytes: Vec<u8>| Seen {
        t,
        src: addr(src),
        dst: addr(dst),
        bytes,
    };
    let fwd = |m: &Sip| m.forwarded("SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bKp");
    let msgs = vec![
        seen(0.0, ALICE, PROXY, &inv),
        seen(0.01, PROXY, BOB, &fwd(&inv)),
        seen(1.0, BOB, PROXY, &fwd(&inv).response("200 OK", "tb")),
        seen(1.01, PROXY, ALICE, &ok),
        // "1": sent to the proxy, resent, and forwarded by it.
        s(
            2.0,
            ALICE,
            PROXY,
            with_typed_body(&i2, "application/dtmf-relay", &relay("1")),
        ),
        s(
            2.5,
            ALICE,
            PROXY,
            with_typed_body(&i2, "application/dtmf-relay", &relay("1")),
        ),
        s(
            2.01,
            PROXY,
            BOB,
            with_typed_body(&fwd(&i2), "application/dtmf-relay", &relay("1")),
        ),
        // "#" as `application/dtmf`.
        s(
            3.0,
            ALICE,
            PROXY,
            with_typed_body(&i3, "application/dtmf", "#"),
        ),
        // Bob's own "5" has the same CSeq number as Alice's first: another From tag.
        s(
            4.0,
            BOB,
            PROXY,
            with_typed_body(&from_bob, "application/dtmf-relay", &relay("5")),
        ),
        // Not digits: another package, and a relay body without a signal.
        s(
            5.0,
            ALICE,
            PROXY,
            with_typed_body(&i4, "application/media_control+xml", "<x/>"),
        ),
        s(
            6.0,
            ALICE,
            PROXY,
            with_typed_body(&i5, "application/dtmf-relay", "Duration=100"),
        ),
    ];
    for order in orders(msgs.len()) {
        let (mut c, _) = run(Config::DEFAULT, &msgs, &order);
        let k = *c.counters();
        assert_eq!((k.info_dtmf, k.dropped_info_dtmf), (3, 0), "{order:?}");
        let rows = rows_of(&mut c);
        let d = &rows[0].info_dtmf;
        let got: Vec<(f64, &str, u8, Option<u32>, u32)> = d
            .iter()
            .map(|d| (d.time, d.digit, d.event, d.duration_ms, d.cseq))
            .collect();
        assert_eq!(
            got,
            vec![
                (2.0, "1", 1, Some(160), 2),
                (3.0, "#", 11, None, 3),
                (4.0, "5", 5, Some(160), 2),
            ],
            "{order:?}"
        );
        assert_eq!(
            (d[0].src, d[0].dst),
            (addr(ALICE), addr(PROXY)),
            "{order:?}"
        );
        assert_eq!(d[2].src, addr(BOB));
    }
}

/// A call that sends more INFO digits than are kept: the rest are counted, not stored.
#[test]
fn info_dtmf_per_call_is_bounded() {
    let inv = alice_invite("many");
    let mut c = Correlator::new(Config::DEFAULT);
    c.feed(&inv.bytes(), Packet::udp(0.0, addr(ALICE), addr(BOB)));
    let extra = 10;
    for n in 0..(sipwire::correlate::MAX_INFO_DTMF_PER_CALL + extra) {
        let cseq = 2 + n as u32;
        let m = Sip::request(
            "INFO",
            "sip:bob@10.0.0.2",
            &format!("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKm{n}"),
            &inv.from,
            "<sip:bob@example.com>;tag=tb",
            "many",
            cseq,
        );
        let b = with_typed_body(&m, "application/dtmf-relay", "Signal=7\r\n");
        c.feed(
            &b,
            Packet::udp(1.0 + n as f64 * 0.01, addr(ALICE), addr(BOB)),
        );
    }
    let k = *c.counters();
    assert_eq!(
        k.info_dtmf,
        sipwire::correlate::MAX_INFO_DTMF_PER_CALL as u64
    );
    assert_eq!(k.dropped_info_dtmf, extra as u64);
    let rows = rows_of(&mut c);
    assert_eq!(
        rows[0].info_dtmf.len(),
        sipwire::correlate::MAX_INFO_DTMF_PER_CALL
    );
}

/// A peer that reuses its INVITE's branch for its next INVITE (against RFC 3261 §8.1.1.7):
/// two transactions, told apart by the CSeq number, not the second taken for a copy of the
/// first. Fuzzing found the late offer in the 183 called early media when the CSeq 3 INVITE
/// came first.
#[test]
fn a_branch_reused_for_the_next_invite_makes_a_transaction_of_its_own() {
    let offer = sdp("192.0.2.9", 30000, "");
    let msgs = [
        ev(0.0, true, req("INVITE", "z9hG4bK0", "f0", 1, "", None)),
        ev(123.0, true, req("INVITE", "z9hG4bK0", "f0", 3, "", None)),
        ev(
            200.0,
            false,
            resp(183, "INVITE", "z9hG4bK1", "f0", 1, "t2", Some(&offer)),
        ),
    ];
    three_transactions_in_progress(&msgs, 210.0);
}

/// `msgs` fed in every order: each stored (none a copy of another), three transactions, and
/// one call still in progress at `end` (its 183's SDP an offer awaiting its answer).
fn three_transactions_in_progress(msgs: &[Ev], end: f64) {
    for order in orders(msgs.len()) {
        let evs: Vec<_> = order.iter().map(|&i| msgs[i].clone()).collect();
        let mut c = Correlator::new(Config::KEEP);
        let fed = feed_all(&mut c, &evs);
        assert!(fed.iter().all(|f| matches!(f, Fed::Stored(_))), "{fed:?}");
        c.finish(Some(end));
        assert_eq!(c.transactions().len(), 3);
        assert_eq!(c.counters().retransmissions, 0);
        let calls = c.calls();
        assert_eq!(calls.len(), 1);
        assert!(!calls[0].early_media, "{order:?}");
        assert_eq!(calls[0].outcome, Outcome::InProgress, "{order:?}");
    }
}

/// The same for a branch and CSeq reused under another From tag (a second caller's INVITE in
/// the Call-ID): the From tag is part of the key too.
#[test]
fn a_branch_reused_under_another_from_tag_makes_a_transaction_of_its_own() {
    let offer = sdp("192.0.2.9", 30000, "");
    let invite = |from: &str| {
        msg(
            "INVITE sip:b@10.0.0.2 SIP/2.0",
            "z9hG4bK0",
            "c",
            1,
            "INVITE",
            from,
            "",
            None,
        )
    };
    let msgs = [
        ev(0.0, true, invite("f1")),
        ev(33.4, true, invite("f0")),
        ev(
            0.0,
            false,
            msg(
                "SIP/2.0 183 Session Progress",
                "z9hG4bK2",
                "c",
                1,
                "INVITE",
                "f1",
                "t2",
                Some(&offer),
            ),
        ),
    ];
    three_transactions_in_progress(&msgs, 33.5);
}

/// Two requests under one key on one hop that differ in To tag and body (an INVITE with a To
/// tag and SDP, then one without either): not a retransmission, whichever comes first, so the
/// offer and the SDP-less copy are both recorded in any order (fuzzing found early media
/// decided by which came first).
#[test]
fn another_request_under_a_reused_key_is_no_retransmission() {
    let offer = sdp("192.0.2.9", 30000, "");
    let msgs = [
        ev(
            0.0,
            true,
            req("INVITE", "z9hG4bK1", "c", 2, "t1", Some(&offer)),
        ),
        ev(95.0, true, req("INVITE", "z9hG4bK1", "c", 2, "", None)),
        ev(
            95.0,
            false,
            resp(183, "INVITE", "z9hG4bK1", "c", 2, "t1", Some(&offer)),
        ),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for order in orders(msgs.len()) {
        let evs: Vec<_> = order.iter().map(|&i| msgs[i].clone()).collect();
        let mut c = Correlator::new(Config::KEEP);
        let fed = feed_all(&mut c, &evs);
        assert!(
            !fed.iter().any(|f| matches!(f, Fed::Retransmission(_))),
            "{fed:?}"
        );
        assert_eq!(c.counters().retransmissions, 0);
        c.finish(Some(96.0));
        let call = &c.calls()[0];
        seen.insert((format!("{:?}", call.outcome), call.early_media));
    }
    assert_eq!(seen.len(), 1, "{seen:?}");
}

/// Two finals of one exchange at the same time (a 487 on one leg, a 481 on another; no
/// INVITE captured), and two 2xx at the same time of two exchanges: the call's final status
/// is the same in every feed order (it was the leg or exchange made last, or first).
#[test]
fn finals_at_the_same_time_give_one_status_in_any_order() {
    let finals = [
        ev(
            212.8,
            false,
            resp(487, "INVITE", "old1", "c", 1, "t1", None),
        ),
        ev(
            212.8,
            false,
            resp(481, "INVITE", "z9hG4bK0", "c", 1, "", None),
        ),
    ];
    let answers = [
        ev(
            0.0,
            false,
            msg(
                "SIP/2.0 202 Accepted",
                "z9hG4bK0",
                "c",
                1,
                "INVITE",
                "f0",
                "t1",
                None,
            ),
        ),
        ev(
            0.0,
            false,
            msg(
                "SIP/2.0 200 OK",
                "z9hG4bK1",
                "c",
                1,
                "INVITE",
                "f1",
                "t2",
                None,
            ),
        ),
    ];
    for (msgs, want) in [(&finals, 487), (&answers, 200)] {
        for order in orders(msgs.len()) {
            let evs: Vec<_> = order.iter().map(|&i| msgs[i].clone()).collect();
            let mut c = Correlator::new(Config::KEEP);
            feed_all(&mut c, &evs);
            assert_eq!(c.calls()[0].final_status, Some(want), "{order:?}");
        }
    }
}

/// Feeds `msgs` in each of `orders` to a fresh correlator and checks the one call's row.
fn each_order(msgs: &[Seen], check: impl Fn(&[usize], &CallRecord)) {
    for order in orders(msgs.len()) {
        let (mut c, _) = run(Config::DEFAULT, msgs, &order);
        let counted = c.counters().retransmissions;
        let rows = rows_of(&mut c);
        assert_eq!(rows.len(), 1, "{order:?}");
        // One call: its row counts every retransmission the correlator counted.
        assert_eq!(u64::from(rows[0].retransmissions), counted, "{order:?}");
        check(&order, &rows[0]);
    }
}

/// Feeds `evs` in every order of `each_order_ev`: one media row, with this offer time,
/// answer time and answer port.
fn one_media_row_in_any_order(evs: &[Ev], want: (Option<f64>, Option<f64>, Option<u16>)) {
    each_order_ev(evs, |order, r| {
        assert_eq!(r.media.len(), 1, "{order:?}: {:?}", r.media);
        let m = &r.media[0];
        assert_eq!(
            (m.offer_time, m.answer_time, m.answer_port),
            want,
            "{order:?}"
        );
    });
}

/// The same for events made with `ev` (a direction instead of addresses).
fn each_order_ev(evs: &[Ev], check: impl Fn(&[usize], &CallRecord)) {
    for order in orders(evs.len()) {
        let fed: Vec<_> = order.iter().map(|&i| evs[i].clone()).collect();
        let mut c = Correlator::new(Config::DEFAULT);
        feed_all(&mut c, &fed);
        let rows = rows_of(&mut c);
        assert_eq!(rows.len(), 1, "{order:?}");
        check(&order, &rows[0]);
    }
}

/// Both sides hang up at the same capture time (BYE glare, or a capture clock too coarse to
/// tell them apart): who hung up is the same in every feed order and every run, and so is
/// the caller when two initial INVITEs of the same rank share a time but not their URIs.
#[test]
fn ties_in_time_give_the_same_hangup_and_caller_in_any_order() {
    let inv = alice_invite("glare");
    let ok = inv.response("200 OK", "tb");
    let ack = Sip::request(
        "ACK",
        "sip:bob@10.0.0.2",
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa2",
        &inv.from,
        &ok.to,
        "glare",
        1,
    );
    let bye_a = Sip::request(
        "BYE",
        "sip:bob@10.0.0.2",
        "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa3",
        &inv.from,
        &ok.to,
        "glare",
        2,
    );
    let bye_b = from_bob("BYE", &inv, &ok, "z9hG4bKb3", 1);
    // The same INVITE as a proxy forwards it, seen at the same time on the next hop: its
    // To URI rewritten to the registered contact.
    let forwarded = Sip::request(
        "INVITE",
        "sip:bob@10.0.0.2",
        "SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bKp1",
        &inv.from,
        "<sip:bob@10.0.0.2>",
        "glare",
        1,
    );
    let msgs = vec![
        seen(0.0, ALICE, PROXY, &inv),
        seen(0.0, PROXY, BOB, &forwarded),
        seen(1.0, BOB, ALICE, &ok),
        seen(1.1, ALICE, BOB, &ack),
        seen(5.0, ALICE, BOB, &bye_a),
        seen(5.0, BOB, ALICE, &bye_b),
    ];
    // Who hung up, and the caller's From and To URIs.
    type Got = (Option<Side>, Option<Text>, Option<Text>);
    let mut first: Option<Got> = None;
    for _run in 0..5 {
        for order in orders(msgs.len()) {
            let (mut c, _) = run(Config::DEFAULT, &msgs, &order);
            let rows = rows_of(&mut c);
            let r = &rows[0];
            assert!(close(r.end_time, 5.0), "{order:?}: {r:?}");
            let got: Got = (r.hangup, r.caller.clone(), r.callee.clone());
            assert!(got.0.is_some() && got.1.is_some(), "{order:?}: {r:?}");
            match &first {
                None => first = Some(got),
                Some(f) => assert_eq!(f, &got, "{order:?}"),
            }
        }
    }
}

/// A UAS that rings, then rings again with SDP when it starts its ringback (the same status
/// and To tag, another body): the second 180 is a response of its own, not a retransmission
/// of the first, so its answer makes early media in every feed order, time order included.
#[test]
fn a_180_with_sdp_after_one_without_is_no_retransmission() {
    let offer = sdp_media("10.0.0.1", &[("audio", 4000, "0 8", "")]);
    let answer = sdp_media("10.0.0.2", &[("audio", 5000, "8", "")]);
    let inv = alice_invite("ringback").with_body(&offer);
    let ringing = inv.response("180 Ringing", "tb");
    let ringback = inv.response("180 Ringing", "tb").with_body(&answer);
    let msgs = vec![
        seen(0.0, ALICE, BOB, &inv),
        seen(0.2, BOB, ALICE, &ringing),
        seen(1.0, BOB, ALICE, &ringback),
    ];
    each_order(&msgs, |order, r| {
        assert_eq!(r.retransmissions, 0, "{order:?}");
        assert!(r.early_media, "{order:?}: {r:?}");
        assert_eq!(r.outcome, Outcome::EarlyMedia, "{order:?}");
        assert!(close(r.ringing_time, 0.2), "{order:?}: {r:?}");
        let m = &r.media;
        assert_eq!(m.len(), 1, "{order:?}: {m:?}");
        assert_eq!(m[0].answer_port, Some(5000));
        assert!(m[0].early && close(m[0].answer_time, 1.0), "{m:?}");
    });
}

/// A broken peer's ACK carrying its INVITE's branch but another CSeq and From tag, sent
/// twice on one hop (the fuzzer's reduced case): one retransmission, whether or not the
/// INVITE was fed first.
#[test]
fn an_ack_under_a_foreign_key_counts_its_resending_in_any_order() {
    let inv = msg(
        "INVITE sip:b@10.0.0.2 SIP/2.0",
        "z9hG4bK0",
        "foreign-ack",
        1,
        "INVITE",
        "f0",
        "",
        None,
    );
    let ack = msg(
        "ACK sip:b@10.0.0.2 SIP/2.0",
        "z9hG4bK0",
        "foreign-ack",
        3,
        "ACK",
        "f1",
        "t2",
        Some("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"),
    );
    let msgs = [
        ev(25.73, true, inv),
        ev(257.02, true, ack.clone()),
        ev(277.46, true, ack),
    ];
    each_order_ev(&msgs, |order, r| {
        assert_eq!(r.retransmissions, 1, "{order:?}");
        assert_eq!(r.messages, 3, "{order:?}");
    });
}

/// One INVITE sent twice on its hop, and another message under its key (another body) on
/// another hop: one retransmission in every feed order. The resending is told by the hop and
/// the message together, not by comparing with whichever copy was fed first.
#[test]
fn a_resending_is_counted_whichever_message_under_its_key_came_first() {
    let offer = sdp_media("10.0.0.1", &[("audio", 4000, "0 8", "")]);
    let other = sdp_media("10.0.0.1", &[("audio", 4000, "0 8 101", "")]);
    let inv = alice_invite("resend").with_body(&offer);
    let odd = alice_invite("resend").with_body(&other);
    let msgs = vec![
        seen(143.83, ALICE, BOB, &inv),
        seen(269.63, ALICE, BOB, &inv),
        seen(282.71, BOB, ALICE, &odd),
    ];
    each_order(&msgs, |order, r| {
        assert_eq!(r.retransmissions, 1, "{order:?}");
        assert!(close(r.invite_time, 143.83), "{order:?}");
    });
}

/// An ACK under its INVITE's key (branch, CSeq, From tag), sent twice on its hop, with the
/// INVITE captured later (a merged capture): one retransmission whether the second ACK is fed
/// before the INVITE (then both go by the ACK's leg) or after it (then it is found by key).
#[test]
fn an_ack_fed_before_its_invite_counts_its_resending_in_any_order() {
    let inv = msg(
        "INVITE sip:b@10.0.0.2 SIP/2.0",
        "z9hG4bK0",
        "ack-first",
        2,
        "INVITE",
        "f0",
        "t1",
        None,
    );
    let ack = msg(
        "ACK sip:b@10.0.0.2 SIP/2.0",
        "z9hG4bK0",
        "ack-first",
        2,
        "ACK",
        "f0",
        "t1",
        None,
    );
    let msgs = [
        ev(41.12, true, ack.clone()),
        ev(144.16, true, ack),
        ev(292.84, true, inv),
    ];
    each_order_ev(&msgs, |order, r| {
        assert_eq!(r.retransmissions, 1, "{order:?}");
    });
}

/// A 200 with the answer, a provisional with SDP after it, and the 200 sent again: fed with
/// the resent 200 first, the answer was the provisional's (it was earlier than the resent
/// copy) and stayed so when the 200's first copy came, a retransmission whose SDP was not
/// read. An earlier copy's SDP is read: no early media, the answer at 1.0, in every order.
#[test]
fn an_earlier_copy_of_the_answer_fed_last_is_the_answer() {
    let offer = sdp_media("10.0.0.1", &[("audio", 4000, "0 8", "")]);
    let answer = sdp_media("10.0.0.2", &[("audio", 5000, "8", "")]);
    let late = sdp_media("10.0.0.2", &[("audio", 5002, "0", "")]);
    let inv = alice_invite("resent-answer").with_body(&offer);
    let ok = inv.response("200 OK", "tb").with_body(&answer);
    let ringing = inv.response("180 Ringing", "tb").with_body(&late);
    let msgs = vec![
        seen(0.0, ALICE, BOB, &inv),
        seen(1.0, BOB, ALICE, &ok),
        seen(1.2, BOB, ALICE, &ringing),
        seen(1.5, BOB, ALICE, &ok),
    ];
    each_order(&msgs, |order, r| {
        assert!(!r.early_media, "{order:?}: {r:?}");
        assert!(close(r.answer_time, 1.0), "{order:?}: {r:?}");
        let m = &r.media;
        assert_eq!(m.len(), 1, "{order:?}: {m:?}");
        assert_eq!(m[0].answer_port, Some(5000), "{order:?}");
        assert!(
            !m[0].early && close(m[0].answer_time, 1.0),
            "{order:?}: {m:?}"
        );
    });
}

/// A late offer answered in an ACK that reuses the INVITE's branch (an RFC 2543 habit), the
/// ACK sent twice: the answer is the first ACK's, at its time, in every feed order (fed
/// before the INVITE the ACKs go by their leg, after it by key).
#[test]
fn a_late_offers_answer_in_a_resent_ack_is_the_first_copys() {
    let offer = sdp_media("10.0.0.2", &[("audio", 5000, "0 8", "")]);
    let answer = sdp_media("10.0.0.1", &[("audio", 4000, "8", "")]);
    let inv = alice_invite("late-ack");
    let ok = inv.response("200 OK", "tb").with_body(&offer);
    let ack = alice_ack(&inv, &ok, "z9hG4bKa1").with_body(&answer);
    let msgs = vec![
        seen(0.0, ALICE, BOB, &inv),
        seen(1.0, BOB, ALICE, &ok),
        seen(1.1, ALICE, BOB, &ack),
        seen(1.6, ALICE, BOB, &ack),
    ];
    each_order(&msgs, |order, r| {
        assert_eq!(r.retransmissions, 1, "{order:?}");
        let m = &r.media;
        assert_eq!(m.len(), 1, "{order:?}: {m:?}");
        assert_eq!(
            (m[0].offer_port, m[0].answer_port),
            (Some(5000), Some(4000))
        );
        assert!(close(m[0].answer_time, 1.1), "{order:?}: {m:?}");
    });
}

/// A request of the caller (to tag `to`, empty for none) carrying an offer or answer from
/// 192.0.2.1 on `port`.
fn sdp_req(t: f64, method: &str, branch: &str, call: &str, cseq: u32, to: &str, port: u16) -> Ev {
    let body = sdp("192.0.2.1", port, "");
    ev(t, true, req(method, branch, call, cseq, to, Some(&body)))
}

/// A response of the called side with SDP from `ip` on `port` (`port` 0: no SDP).
#[allow(clippy::too_many_arguments)]
fn sdp_resp(
    t: f64,
    status: u16,
    method: &str,
    branch: &str,
    call: &str,
    cseq: u32,
    to: &str,
    (ip, port): (&str, u16),
) -> Ev {
    let body = (port > 0).then(|| sdp(ip, port, ""));
    ev(
        t,
        false,
        resp(status, method, branch, call, cseq, to, body.as_deref()),
    )
}

/// An UPDATE sent without a To tag (it belongs in a dialog, RFC 3311 §5.1): its 200 carries
/// the dialog's tag (RFC 3261 §8.2.6.2). The UPDATE's offer and the 200's answer are one media
/// row of that dialog in every feed order, not an offer without answer and an answer
/// without offer.
#[test]
fn an_update_without_a_to_tag_is_answered_in_its_dialog_in_any_order() {
    let (b, c, up) = ("z9hG4bKu", "un", "z9hG4bKup");
    let evs = vec![
        sdp_req(0.0, "INVITE", b, c, 1, "", 20000),
        sdp_resp(0.5, 183, "INVITE", b, c, 1, "t1", ("192.0.2.9", 30000)),
        sdp_req(1.0, "UPDATE", up, c, 2, "", 20002),
        sdp_resp(1.1, 200, "UPDATE", up, c, 2, "t1", ("192.0.2.9", 30002)),
        sdp_resp(2.0, 200, "INVITE", b, c, 1, "t1", ("", 0)),
        ev(2.1, true, req("ACK", "z9hG4bKa", c, 1, "t1", None)),
    ];
    each_order_ev(&evs, |order, r| {
        let m: Vec<_> = r.media.iter().map(media_summary).collect();
        let invite = (
            "t1",
            Method::Invite,
            Some(20000),
            Some(30000),
            Some(0.5),
            true,
        );
        let update = (
            "t1",
            Method::Update,
            Some(20002),
            Some(30002),
            Some(1.1),
            false,
        );
        assert_eq!(m, [invite, update], "{order:?}");
    });
}

/// A PRACK sent without a To tag carrying the answer to a reliable 183's offer (a late-offer
/// INVITE, RFC 3262 §5): the answer of that 183's dialog, as its 200 says, in every feed order.
#[test]
fn a_prack_without_a_to_tag_answers_its_dialogs_offer_in_any_order() {
    let (b, c, pr) = ("z9hG4bKl", "pr", "z9hG4bKp");
    let evs = vec![
        ev(0.0, true, req("INVITE", b, c, 1, "", None)),
        sdp_resp(0.5, 183, "INVITE", b, c, 1, "t1", ("192.0.2.9", 30000)),
        sdp_req(0.6, "PRACK", pr, c, 2, "", 20000),
        sdp_resp(0.61, 200, "PRACK", pr, c, 2, "t1", ("", 0)),
        sdp_resp(2.0, 200, "INVITE", b, c, 1, "t1", ("", 0)),
        ev(2.1, true, req("ACK", "z9hG4bKa", c, 1, "t1", None)),
    ];
    each_order_ev(&evs, |order, r| {
        assert!(r.early_media, "{order:?}");
        let m: Vec<_> = r.media.iter().map(media_summary).collect();
        let early = (
            "t1",
            Method::Invite,
            Some(30000),
            Some(20000),
            Some(0.6),
            true,
        );
        assert_eq!(m, [early], "{order:?}");
    });
}

/// An UPDATE without a To tag whose 200s name two dialogs (forks answering one request, as a
/// broken proxy might send them): no dialog is chosen for its offer. It stays a row of its
/// own, without answer, beside each dialog's answer, in every feed order.
#[test]
fn an_update_without_a_to_tag_answered_in_two_dialogs_keeps_its_own_row() {
    let (b, c, up) = ("z9hG4bKu", "two", "z9hG4bKup");
    let evs = vec![
        ev(0.0, true, req("INVITE", b, c, 1, "", None)),
        sdp_resp(0.4, 180, "INVITE", b, c, 1, "t1", ("", 0)),
        sdp_resp(0.5, 180, "INVITE", b, c, 1, "t2", ("", 0)),
        sdp_req(1.0, "UPDATE", up, c, 2, "", 20002),
        sdp_resp(1.1, 200, "UPDATE", up, c, 2, "t1", ("192.0.2.9", 30002)),
        sdp_resp(1.2, 200, "UPDATE", up, c, 2, "t2", ("192.0.2.8", 30004)),
    ];
    each_order_ev(&evs, |order, r| {
        let m: Vec<_> = r.media.iter().map(media_summary).collect();
        let offer = ("", Method::Update, Some(20002), None, None, false);
        let t1 = ("t1", Method::Update, None, Some(30002), Some(1.1), false);
        let t2 = ("t2", Method::Update, None, Some(30004), Some(1.2), false);
        assert_eq!(m, [offer, t1, t2], "{order:?}");
    });
}

/// A capture that began after the 2xx: the 2xx ACK carries the answer to a late offer and
/// is the only message of its dialog (an ACK joins a dialog, never makes one). Its media row
/// still names the dialog by the ACK's To tag, in every feed order of its copies.
#[test]
fn a_leg_known_only_from_its_ack_names_its_dialog() {
    let ack = |t: f64, branch: &str| {
        let body = sdp("192.0.2.1", 20000, "");
        ev(t, true, req("ACK", branch, "ack", 1, "t1", Some(&body)))
    };
    // The same ACK on two hops (a proxy's copy with its own branch), and a resend.
    let evs = vec![
        ack(1.0, "z9hG4bKa1"),
        ack(1.001, "z9hG4bKa2"),
        ack(1.5, "z9hG4bKa1"),
    ];
    each_order_ev(&evs, |order, r| {
        assert_eq!(r.outcome, Outcome::Partial, "{order:?}");
        let m: Vec<_> = r.media.iter().map(media_summary).collect();
        assert_eq!(
            m,
            [("t1", Method::Invite, None, Some(20000), Some(1.0), false)],
            "{order:?}"
        );
    });
}

/// An ACK with SDP under its INVITE's branch (as for a non-2xx final, which was not captured)
/// and the only message with the To tag: fed before the INVITE it makes the leg like a 2xx ACK,
/// fed after it joins the INVITE's transaction; its row names the leg by its To tag either way.
#[test]
fn an_ack_under_its_invites_branch_names_its_leg_in_any_order() {
    let body = sdp("192.0.2.2", 5000, "");
    let evs = vec![
        ev(0.0, true, req("INVITE", "z9hG4bK0", "ib", 1, "", None)),
        ev(
            0.1,
            false,
            resp(180, "INVITE", "z9hG4bK0", "ib", 1, "", None),
        ),
        ev(
            9.0,
            true,
            req("ACK", "z9hG4bK0", "ib", 1, "t2", Some(&body)),
        ),
    ];
    each_order_ev(&evs, |order, r| {
        let m: Vec<_> = r
            .media
            .iter()
            .map(|m| (&*m.to_tag, m.answer_port))
            .collect();
        assert_eq!(m, [("t2", Some(5000))], "{order:?}");
    });
}

/// `count` in-dialog requests `method` of `call` (To tag `to`), one a second from `start.0`,
/// numbered from `start.1`, each with its own branch.
fn numbered(
    method: &str,
    call: &str,
    to: &str,
    start: (f64, u32),
    count: u32,
    fwd: bool,
) -> Vec<Ev> {
    (0..count)
        .map(|i| {
            let branch = format!("z9hG4bK{method}{i}");
            let t = start.0 + f64::from(i);
            ev(t, fwd, req(method, &branch, call, start.1 + i, to, None))
        })
        .collect()
}

/// A subscription's NOTIFYs past the transactions a Call-ID is followed for: counted as such,
/// not as a call's dropped transactions (no row loses anything); a call's are.
#[test]
fn a_non_calls_transactions_past_the_cap_are_counted_apart() {
    let cap = Config::DEFAULT.max_transactions_per_call as u32;
    let mut c = Correlator::new(Config::DEFAULT);
    let mut evs = vec![ev(
        0.0,
        true,
        req("SUBSCRIBE", "z9hG4bKs", "sub", 1, "", None),
    )];
    evs.extend(numbered("NOTIFY", "sub", "t", (1.0, 2), cap + 5, false));
    feed_all(&mut c, &evs);
    let k = c.counters();
    assert_eq!(
        (k.non_call_transactions_unfollowed, k.dropped_transactions),
        (6, 0)
    );
    let mut evs = answered_call("call", 0.0);
    evs.extend(numbered("INFO", "call", "tt", (20.0, 10), cap, true));
    feed_all(&mut c, &evs);
    // The call's INVITE and BYE, and 64 INFOs: two past the cap.
    let k = c.counters();
    assert_eq!(
        (k.non_call_transactions_unfollowed, k.dropped_transactions),
        (6, 2)
    );
}

/// A re-INVITE sent by the callee (a hold from Bob's side) numbered 1 like the caller's INVITE
/// (each side numbers its own requests, RFC 3261 §12.2.1.1): a media row's `to_tag` is its
/// exchange's To tag, so `(to_tag, cseq)` tells the two exchanges apart (the key the RTP and
/// DTMF rows join on), while the dialog is named caller to callee, in any order.
#[test]
fn a_callees_reinvite_numbered_like_the_callers_invite_has_its_own_row_key_in_any_order() {
    let offer = sdp_media("10.0.0.1", &[("audio", 4000, "0", "")]);
    let answer = sdp_media("10.0.0.2", &[("audio", 5000, "0", "")]);
    let inv = alice_invite("hold").with_body(&offer);
    let ok = inv.response("200 OK", "tb").with_body(&answer);
    let ack = alice_ack(&inv, &ok, "z9hG4bKa2");
    let hold = from_bob("INVITE", &inv, &ok, "z9hG4bKb1", 1).with_body(&sdp_media(
        "10.0.0.2",
        &[("audio", 5000, "0", "a=sendonly\r\n")],
    ));
    let held = hold.response("200 OK", "").with_body(&sdp_media(
        "10.0.0.1",
        &[("audio", 4000, "0", "a=recvonly\r\n")],
    ));
    let msgs = vec![
        seen(0.0, ALICE, BOB, &inv),
        seen(1.0, BOB, ALICE, &ok),
        seen(1.1, ALICE, BOB, &ack),
        seen(5.0, BOB, ALICE, &hold),
        seen(5.1, ALICE, BOB, &held),
    ];
    each_order_kept(&msgs, |order, c| {
        let d = c.dialogs();
        assert_eq!(d.len(), 1, "{order:?}");
        assert_eq!((&*d[0].from_tag, &*d[0].to_tag), (&b"fa"[..], &b"tb"[..]));
        let rows = rows_of(c);
        assert_eq!(rows[0].outcome, Outcome::Answered, "{order:?}");
        let m: Vec<_> = rows[0]
            .media
            .iter()
            .map(|m| (&*m.to_tag, m.cseq, m.offer_direction, m.offerer))
            .collect();
        assert_eq!(
            m,
            [
                ("tb", 1, Some(Direction::SendRecv), Some(addr(ALICE))),
                ("fa", 1, Some(Direction::SendOnly), Some(addr(BOB))),
            ],
            "{order:?}"
        );
    });
}

/// A 183 with SDP from a media server (ringback), then a 200 whose SDP is the phone's: two
/// media rows, the 183's answer (early: what the caller heard while it rang) and the 200's,
/// the answer in effect once the call talks (RFC 6337 §3.1.1 has the 2xx repeat the 183's,
/// which devices like this do not), each at its earliest copy, in any order. A 200 that
/// repeats the 183's SDP leaves one row, the 183's answer, early.
#[test]
fn a_200_whose_sdp_differs_from_the_183s_gives_the_answer_in_any_order() {
    let offer = sdp_media("10.0.0.1", &[("audio", 4000, "0 8", "")]);
    let ringback = sdp_media("10.0.0.9", &[("audio", 7000, "8", "")]);
    let phone = sdp_media("10.0.0.2", &[("audio", 5000, "0", "")]);
    let heard = (Some(7000), Some(0.5), true, Some("10.0.0.9"));
    let talked = (Some(5000), Some(2.0), false, Some("10.0.0.2"));
    for (last, want) in [(&phone, &[heard, talked][..]), (&ringback, &[heard][..])] {
        let inv = alice_invite("ring").with_body(&offer);
        let early = inv
            .response("183 Session Progress", "tb")
            .with_body(&ringback);
        let ok = inv.response("200 OK", "tb").with_body(last);
        let ack = alice_ack(&inv, &ok, "z9hG4bKa2");
        let msgs = vec![
            seen(0.0, ALICE, BOB, &inv),
            seen(0.5, BOB, ALICE, &early),
            seen(2.0, BOB, ALICE, &ok),
            seen(2.5, BOB, ALICE, &ok),
            seen(2.6, ALICE, BOB, &ack),
        ];
        each_order_kept(&msgs, |order, c| {
            let rows = rows_of(c);
            let r = &rows[0];
            assert!(r.early_media, "{order:?}");
            let m: Vec<_> = r
                .media
                .iter()
                .map(|m| {
                    (
                        m.answer_port,
                        m.answer_time,
                        m.early,
                        m.answer_ip.as_deref(),
                    )
                })
                .collect();
            assert_eq!(m, want, "{order:?}");
            let codecs: Vec<_> = r.media.iter().map(|m| m.codec.as_deref()).collect();
            assert_eq!(codecs[..], [Some("PCMA"), Some("PCMU")][..want.len()]);
        });
    }
}
