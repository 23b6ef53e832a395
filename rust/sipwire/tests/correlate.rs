//! The passive correlator: transactions, dialogs and calls from captured messages fed in any
//! order.

use std::net::SocketAddr;

use sipwire::correlate::{Config, Correlator, DialogState, Fed, Method, Outcome, Packet, Reason};

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

#[test]
fn retransmissions_are_counted_not_stored() {
    let call = "rt";
    let inv = req("INVITE", "z9hG4bKr", call, 1, "", None);
    let r180 = resp(180, "INVITE", "z9hG4bKr", call, 1, "tt", None);
    let r200 = resp(200, "INVITE", "z9hG4bKr", call, 1, "tt", None);
    let ack = req("ACK", "z9hG4bKack", call, 1, "tt", None);
    let evs = vec![
        ev(0.0, true, inv.clone()),
        ev(0.5, true, inv.clone()),
        ev(1.5, true, inv),
        ev(2.0, false, r180.clone()),
        ev(2.1, false, r180),
        ev(3.0, false, r200.clone()),
        ev(3.01, true, ack.clone()),
        ev(3.5, false, r200),
        ev(3.51, true, ack),
    ];
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
            ev(
                1.1,
                true,
                req(
                    "ACK",
                    "z9hG4bKla",
                    "lo",
                    1,
                    "tt",
                    Some(&sdp("192.0.2.1", 20000, "")),
                ),
            ),
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
