//! The streams stage: TCP reassembly, content recognition, SIP/HEP framing, WebSocket and
//! SCTP, driven with segments built in code.

use std::net::{IpAddr, Ipv4Addr};

use sipwire::{ErrorKind, ParseOptions};
use sipwire_capture::stream::{StreamStats, Streams, Unit, UnitKind};
use sipwire_capture::{CaptureLimits, Endpoint, Segment, Transport, L4};

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

fn ep(last: u8, port: u16) -> Endpoint {
    Endpoint {
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
        port,
    }
}

fn sip(method: &str, call: u32, body: &str) -> Vec<u8> {
    format!(
        "{method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK{call}\r\n\
         From: <sip:alice@example.com>;tag=a{call}\r\nTo: <sip:bob@example.com>\r\n\
         Call-ID: call-{call}\r\nCSeq: {call} {method}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// What came out, owned, for comparing.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    Sip(Vec<u8>),
    Datagram(Transport, Vec<u8>),
    Hep(Vec<u8>),
    Error(ErrorKind),
}

struct Rig {
    s: Streams,
    stats: StreamStats,
    got: Vec<Got>,
    /// (time, frame) of each unit.
    when: Vec<(i64, u64)>,
    frame: u64,
}

impl Rig {
    fn new(limits: CaptureLimits) -> Self {
        Rig {
            s: Streams::new(limits, ParseOptions::LIBERAL),
            stats: StreamStats::default(),
            got: Vec::new(),
            when: Vec::new(),
            frame: 0,
        }
    }

    fn sink<'a>(got: &'a mut Vec<Got>, when: &'a mut Vec<(i64, u64)>) -> impl FnMut(Unit<'_>) + 'a {
        move |u: Unit<'_>| {
            when.push((u.time_ns, u.frame));
            got.push(match u.kind {
                UnitKind::Sip { bytes, index } => {
                    assert_eq!(u.transport, Transport::Tcp);
                    assert_eq!(index.end as usize, bytes.len());
                    Got::Sip(bytes.to_vec())
                }
                UnitKind::Datagram(b) => Got::Datagram(u.transport, b.to_vec()),
                UnitKind::Hep(b) => Got::Hep(b.to_vec()),
                UnitKind::Error(e) => Got::Error(e.kind),
            })
        }
    }

    fn tcp(&mut self, t: i64, src: Endpoint, dst: Endpoint, seq: u32, flags: u8, payload: &[u8]) {
        self.frame += 1;
        let seg = Segment {
            src,
            dst,
            l4: L4::Tcp {
                seq,
                ack: 0,
                flags: flags | ACK,
            },
            payload,
            cut: false,
        };
        let mut out = Self::sink(&mut self.got, &mut self.when);
        self.s.tcp(t, self.frame, &seg, &mut self.stats, &mut out);
    }

    fn sctp(&mut self, t: i64, src: Endpoint, dst: Endpoint, vtag: u32, chunks: &[u8]) {
        self.frame += 1;
        let seg = Segment {
            src,
            dst,
            l4: L4::Sctp { vtag },
            payload: chunks,
            cut: false,
        };
        let mut out = Self::sink(&mut self.got, &mut self.when);
        self.s.sctp(t, self.frame, &seg, &mut self.stats, &mut out);
    }

    fn expire(&mut self, now: i64) {
        let mut out = Self::sink(&mut self.got, &mut self.when);
        self.s.expire(now, &mut self.stats, &mut out);
    }

    fn finish(&mut self) {
        let mut out = Self::sink(&mut self.got, &mut self.when);
        self.s.finish(&mut self.stats, &mut out);
    }

    fn sips(&self) -> Vec<Vec<u8>> {
        self.got
            .iter()
            .filter_map(|g| match g {
                Got::Sip(b) => Some(b.clone()),
                _ => None,
            })
            .collect()
    }
}

fn rig() -> Rig {
    Rig::new(CaptureLimits::DEFAULT)
}

const A: u8 = 1;
const B: u8 = 2;

/// Sends `data` from A to B as one connection: SYN at `isn`, then the segments cut at `cuts`.
fn stream(r: &mut Rig, isn: u32, data: &[u8], cuts: &[usize]) {
    let (a, b) = (ep(A, 40000), ep(B, 5060));
    r.tcp(1, a, b, isn, SYN, b"");
    let mut prev = 0;
    for &c in cuts.iter().chain([data.len()].iter()) {
        r.tcp(
            2,
            a,
            b,
            isn.wrapping_add(1 + prev as u32),
            0,
            &data[prev..c],
        );
        prev = c;
    }
}

#[test]
fn a_sip_stream_split_at_every_byte() {
    let (m1, m2) = (sip("INVITE", 1, "v=0\r\n"), sip("BYE", 2, ""));
    let data = [m1.clone(), b"\r\n\r\n".to_vec(), m2.clone()].concat();
    for cut in 0..=data.len() {
        let mut r = rig();
        stream(&mut r, 7, &data, &[cut]);
        assert_eq!(
            r.got,
            vec![Got::Sip(m1.clone()), Got::Sip(m2.clone())],
            "cut {cut}"
        );
        // Each message has the frame of the segment that completed it.
        let first_done = if cut >= m1.len() { 2 } else { 3 };
        assert_eq!(r.when[0].1, first_done, "cut {cut} of {}", m1.len());
        assert_eq!(r.when[1].1, if cut == data.len() { 2 } else { 3 });
        assert_eq!(r.stats.stream_sip_flows, 1);
        assert_eq!(r.s.held(), 0);
    }
    // Byte by byte.
    let mut r = rig();
    let cuts: Vec<usize> = (1..data.len()).collect();
    stream(&mut r, 7, &data, &cuts);
    assert_eq!(r.sips(), vec![m1, m2]);
}

/// Segments of `data` (from offset 0 at `isn + 1`): (offset, len).
fn send(r: &mut Rig, isn: u32, data: &[u8], segs: &[(usize, usize)]) {
    let (a, b) = (ep(A, 40000), ep(B, 5060));
    for &(off, len) in segs {
        let end = (off + len).min(data.len());
        r.tcp(
            5,
            a,
            b,
            isn.wrapping_add(1 + off as u32),
            0,
            &data[off..end],
        );
    }
}

#[test]
fn reordered_duplicated_and_overlapping_segments_give_each_message_once() {
    let msgs: Vec<Vec<u8>> = (1..=4).map(|i| sip("OPTIONS", i, "")).collect();
    let data = msgs.concat();
    let n = data.len();
    let q = n / 4;
    let plans: Vec<Vec<(usize, usize)>> = vec![
        // reversed
        vec![(3 * q, n), (2 * q, q), (q, q), (0, q)],
        // every segment twice, the second copy late
        vec![
            (0, q),
            (q, q),
            (0, q),
            (2 * q, q),
            (q, q),
            (3 * q, n),
            (2 * q, q),
        ],
        // partial overlaps both sides, and a full overlap
        vec![
            (0, q + 10),
            (q - 20, q + 40),
            (q + 5, 10),
            (2 * q + 20, n),
            (2 * q, 30),
        ],
        // a resend with another length: shorter, then longer
        vec![(0, q), (2 * q, 10), (2 * q, n), (q, q / 2), (q, q + 50)],
    ];
    for isn in [1000u32, u32::MAX - 300, u32::MAX] {
        for (i, plan) in plans.iter().enumerate() {
            let mut r = rig();
            let (a, b) = (ep(A, 40000), ep(B, 5060));
            r.tcp(1, a, b, isn, SYN, b"");
            send(&mut r, isn, &data, plan);
            assert_eq!(r.sips(), msgs, "plan {i}, isn {isn}");
            assert_eq!(r.stats.tcp_bytes as usize, n);
            assert_eq!(r.stats.tcp_gaps, 0);
            assert_eq!(r.s.held(), 0, "plan {i}");
        }
    }
}

#[test]
fn sequence_numbers_wrap_inside_a_message() {
    let m = sip("MESSAGE", 9, &"x".repeat(500));
    // The SYN is 100 below 2^32: the message crosses the wrap.
    let isn = u32::MAX - 100;
    let mut r = rig();
    stream(&mut r, isn, &m, &[50, 150, 300]);
    assert_eq!(r.sips(), vec![m.clone()]);
    // And out of order across the wrap.
    let mut r = rig();
    r.tcp(1, ep(A, 1), ep(B, 2), isn, SYN, b"");
    let (a, b) = (ep(A, 1), ep(B, 2));
    r.tcp(2, a, b, isn.wrapping_add(201), 0, &m[200..]);
    r.tcp(3, a, b, isn.wrapping_add(1), 0, &m[..200]);
    assert_eq!(r.sips(), vec![m]);
}

#[test]
fn a_capture_that_starts_mid_stream() {
    let (m1, m2, m3) = (
        sip("INVITE", 1, "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\n"),
        sip("ACK", 2, ""),
        sip("BYE", 3, ""),
    );
    let data = [m1.clone(), m2.clone(), m3.clone()].concat();
    // Starting inside m1 at every byte of it: m1 is lost (unless the capture starts at its
    // first byte), m2 and m3 come out, the bytes before m2 are counted.
    for start in 0..m1.len() {
        let mut r = rig();
        let (a, b) = (ep(A, 40000), ep(B, 5060));
        r.tcp(
            1,
            a,
            b,
            5000 + start as u32,
            0,
            &data[start..start + 30.min(data.len() - start)],
        );
        r.tcp(1, a, b, 5000 + start as u32 + 30, 0, &data[start + 30..]);
        let want = if start == 0 {
            vec![m1.clone(), m2.clone(), m3.clone()]
        } else {
            vec![m2.clone(), m3.clone()]
        };
        assert_eq!(r.sips(), want, "start {start}");
        let skipped = if start == 0 { 0 } else { m1.len() - start };
        assert_eq!(
            r.stats.stream_unsynced_bytes as usize, skipped,
            "start {start}"
        );
        assert!(r.got.iter().all(|g| matches!(g, Got::Sip(_))));
    }
}

#[test]
fn a_gap_is_skipped_when_fin_follows_it() {
    let msgs: Vec<Vec<u8>> = (1..=3).map(|i| sip("OPTIONS", i, "body")).collect();
    let data = msgs.concat();
    let (l1, l2) = (msgs[0].len(), msgs[1].len());
    let mut r = rig();
    let (a, b) = (ep(A, 40000), ep(B, 5060));
    r.tcp(1, a, b, 0, SYN, b"");
    // The middle of message 2 is never captured.
    send(&mut r, 0, &data, &[(0, l1 + 30), (l1 + 60, data.len())]);
    assert_eq!(r.sips(), vec![msgs[0].clone()]);
    r.tcp(9, a, b, 1 + data.len() as u32, FIN, b"");
    assert_eq!(r.sips(), vec![msgs[0].clone(), msgs[2].clone()]);
    assert_eq!((r.stats.tcp_gaps, r.stats.tcp_gap_bytes), (1, 30));
    assert!(r.stats.stream_resync_bytes as usize >= l2 - 30);
    assert_eq!(r.stats.tcp_closed, 1);
    assert_eq!(r.s.held(), 0);
}

#[test]
fn what_follows_a_gap_given_up_on_keeps_its_own_capture_time() {
    let msgs: Vec<Vec<u8>> = (1..=3).map(|i| sip("OPTIONS", i, "")).collect();
    let data = msgs.concat();
    let (l1, l2) = (msgs[0].len(), msgs[1].len());
    let mut r = rig();
    let (a, b) = (ep(A, 40000), ep(B, 5060));
    r.tcp(1, a, b, 0, SYN, b"");
    r.tcp(10, a, b, 1, 0, &data[..l1]);
    // Message 2 is lost; message 3 arrives at t=30 (frame 3) and waits behind the gap.
    r.tcp(30, a, b, 1 + (l1 + l2) as u32, 0, &data[l1 + l2..]);
    assert_eq!(r.sips().len(), 1);
    // Reassembly gives up 300 s later (idle): message 3 is still stamped t=30, frame 3.
    r.expire(300_000_000_030);
    assert_eq!(r.sips(), vec![msgs[0].clone(), msgs[2].clone()]);
    assert_eq!(r.when.last(), Some(&(30, 3)));

    // A gap that fills: the held bytes are completed by the segment that filled it.
    let mut r = rig();
    r.tcp(1, a, b, 0, SYN, b"");
    r.tcp(20, a, b, 1 + l1 as u32, 0, &data[l1..]);
    r.tcp(40, a, b, 1, 0, &data[..l1]);
    assert_eq!(r.sips(), msgs);
    assert!(r.when.iter().all(|&w| w == (40, 3)), "{:?}", r.when);
}

#[test]
fn a_gap_is_skipped_when_the_flow_limit_is_reached_or_it_goes_idle() {
    let msgs: Vec<Vec<u8>> = (1..=30).map(|i| sip("OPTIONS", i, "")).collect();
    let data = msgs.concat();
    let l1 = msgs[0].len();
    let mut limits = CaptureLimits::DEFAULT;
    limits.max_flow_bytes = 2000;
    let mut r = Rig::new(limits);
    let (a, b) = (ep(A, 40000), ep(B, 5060));
    r.tcp(1, a, b, 0, SYN, b"");
    send(&mut r, 0, &data, &[(0, l1)]);
    // Message 2 is lost; the rest arrives and cannot all be held.
    let mut off = 2 * l1 + 10;
    while off < data.len() {
        send(&mut r, 0, &data, &[(off, 100)]);
        off += 100;
        assert!(r.s.held() <= 2000 + 64 * 1024);
    }
    assert!(r.stats.tcp_gaps >= 1);
    let got = r.sips();
    assert!(got.len() >= 20, "{}", got.len());
    assert!(got.iter().all(|m| msgs.contains(m)));

    // Idle: the held segments are handed on when the flow expires.
    let mut r = rig();
    r.tcp(1, a, b, 0, SYN, b"");
    send(&mut r, 0, &data, &[(0, l1), (2 * l1, l1)]);
    assert_eq!(r.sips().len(), 1);
    r.expire(1 + CaptureLimits::DEFAULT.flow_idle_ns - 1);
    assert_eq!(r.sips().len(), 1);
    r.expire(10 + CaptureLimits::DEFAULT.flow_idle_ns);
    assert_eq!(r.sips(), vec![msgs[0].clone(), msgs[2].clone()]);
    assert_eq!(r.stats.stream_expired_flows, 1);
    assert_eq!((r.s.flows(), r.s.held()), (0, 0));
}

#[test]
fn fin_and_rst_close_after_delivering_what_is_in_order() {
    let m = sip("INVITE", 1, "v=0\r\n");
    // FIN right after a whole message, and a FIN cutting a message short.
    let mut r = rig();
    let (a, b) = (ep(A, 40000), ep(B, 5060));
    r.tcp(1, a, b, 0, SYN, b"");
    r.tcp(2, a, b, 1, FIN, &m);
    let cut = &m[..m.len() - 3];
    r.tcp(3, a, b, 0, SYN, b""); // the same ISN: a repeated SYN, ignored
    assert_eq!(r.got, vec![Got::Sip(m.clone())]);
    let (c, d) = (ep(3, 40001), ep(B, 5060));
    r.tcp(4, c, d, 100, SYN, b"");
    r.tcp(5, c, d, 101, 0, cut);
    r.tcp(6, c, d, 101 + cut.len() as u32, RST, b"");
    assert_eq!(r.got.last(), Some(&Got::Error(ErrorKind::BodyTooShort)));
    assert_eq!(r.stats.tcp_closed, 2);
    // A retransmission after the close is recognised as one, not a new stream.
    r.tcp(7, a, b, 1, 0, &m);
    assert_eq!(r.sips().len(), 1);
    assert!(r.stats.tcp_retransmitted_bytes >= m.len() as u64);
    // A new connection on the same ports (another ISN) is a new stream.
    r.tcp(8, a, b, 9000, SYN, b"");
    r.tcp(9, a, b, 9001, 0, &m);
    assert_eq!(r.sips().len(), 2);
}

#[test]
fn http_on_the_sip_port_is_not_sip() {
    let req = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let resp = [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n"[..],
        &b"INVITE sip:bob@example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n"[..],
    ]
    .concat();
    let mut r = rig();
    let (a, b) = (ep(A, 40000), ep(B, 5060));
    r.tcp(1, a, b, 0, SYN, b"");
    r.tcp(1, b, a, 500, SYN, b"");
    r.tcp(2, a, b, 1, 0, req);
    r.tcp(3, b, a, 501, 0, &resp);
    for i in 0..10u32 {
        r.tcp(4, a, b, 1 + req.len() as u32 + i * 10, 0, b"more bytes");
    }
    assert_eq!(r.got, vec![]);
    assert_eq!(r.stats.stream_not_sip_flows, 2);
    assert_eq!(
        r.stats.stream_not_sip_bytes as usize,
        req.len() + resp.len() + 100
    );
    assert_eq!(r.s.held(), 0);
}

#[test]
fn a_tls_flow_is_dropped_without_holding_its_bytes() {
    let mut hello = vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01];
    hello.extend((0..600u32).map(|i| (i * 7) as u8));
    let mut r = rig();
    let (a, b) = (ep(A, 40000), ep(B, 5061));
    // Mid-connection, and out of order: nothing is held at any point.
    r.tcp(1, a, b, 1000, 0, &hello[..100]);
    assert_eq!((r.stats.stream_not_sip_flows, r.s.held()), (1, 0));
    for k in (1..6).rev() {
        r.tcp(
            2,
            a,
            b,
            1000 + 100 * k,
            0,
            &hello[100 * k as usize..100 * (k as usize + 1)],
        );
        assert_eq!(r.s.held(), 0);
    }
    assert_eq!(r.stats.stream_not_sip_bytes, 600);
    assert_eq!(r.got, vec![]);
    // Binary from the first byte of a connection: not waited on either.
    r.tcp(3, ep(5, 1), b, 0, SYN, b"");
    r.tcp(3, ep(5, 1), b, 1, 0, &[0x80, 0x01, 0x02]);
    assert_eq!((r.stats.stream_not_sip_flows, r.s.held()), (2, 0));
}

#[test]
fn a_flood_of_flows_hits_max_flows() {
    let mut limits = CaptureLimits::DEFAULT;
    limits.max_flows = 4;
    let mut r = Rig::new(limits);
    let m = sip("OPTIONS", 1, "");
    for i in 0..10u16 {
        let (a, b) = (ep(A, 1000 + i), ep(B, 5060));
        r.tcp(i64::from(i) * 1_000_000_000, a, b, 0, SYN, b"");
        r.tcp(i64::from(i) * 1_000_000_000, a, b, 1, 0, &m[..60]);
        assert!(r.s.flows() <= 4);
    }
    assert_eq!(r.stats.stream_evicted_flows, 6);
    // The evicted flows' cut messages were flushed as errors.
    assert_eq!(
        r.got
            .iter()
            .filter(|g| matches!(g, Got::Error(ErrorKind::MissingEmptyLine)))
            .count(),
        6
    );
    // No flow at all.
    limits.max_flows = 0;
    let mut r = Rig::new(limits);
    r.tcp(1, ep(A, 1), ep(B, 2), 0, 0, &m);
    assert_eq!(
        (r.stats.stream_untracked_bytes as usize, r.s.flows()),
        (m.len(), 0)
    );
}

#[test]
fn held_bytes_are_bounded_per_flow_and_in_total() {
    let mut limits = CaptureLimits::DEFAULT;
    limits.max_flow_bytes = 4096;
    limits.max_stream_bytes = 10_000;
    let mut r = Rig::new(limits);
    let m = sip("OPTIONS", 1, "");
    for f in 0..20u16 {
        let (a, b) = (ep(A, 2000 + f), ep(B, 5060));
        r.tcp(i64::from(f), a, b, 0, SYN, b"");
        r.tcp(i64::from(f), a, b, 1, 0, &m); // SIP
                                             // Then segments each ahead of a gap that never fills: a flow holds 3500 bytes.
        let at = |k: u32| 1 + m.len() as u32 + 10 + k * 510;
        for k in 0..7u32 {
            r.tcp(i64::from(f), a, b, at(k), 0, &[b'x'; 500]);
            assert!(r.s.held() <= 10_000, "{}", r.s.held());
        }
        // And one flow whose gaps pass its own limit.
        if f == 0 {
            for k in 7..20u32 {
                r.tcp(0, a, b, at(k), 0, &[b'x'; 500]);
                assert!(r.s.held() <= 4096, "{}", r.s.held());
            }
        }
    }
    assert!(r.stats.stream_memory_evictions > 0);
    assert!(r.stats.tcp_gaps > 0);
    assert_eq!(r.sips().len(), 20);
}

// ---------------------------------------------------------------------------------------------
// WebSocket

fn ws_frame(fin: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | opcode];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => f.push(m | n as u8),
        n @ 126..=0xffff => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(k) => {
            f.extend_from_slice(&k);
            f.extend(payload.iter().zip(k.iter().cycle()).map(|(b, k)| b ^ k));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: proxy.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";
const SWITCHING: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n";

#[test]
fn websocket_masked_fragmented_frames_with_control_frames_between() {
    let invite = sip("INVITE", 1, &"a=x\r\n".repeat(40)); // > 125 bytes: 16-bit length
    let big = sip("MESSAGE", 2, &"y".repeat(70_000)); // > 65535: 64-bit length
    let ok = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/WSS x;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n"
        .to_vec();
    let k = Some([0x11, 0x22, 0x33, 0x44]);
    // Client to server: masked, the INVITE in three fragments with a ping and a pong between.
    let mut client = UPGRADE.to_vec();
    client.extend(ws_frame(false, 1, k, &invite[..50]));
    client.extend(ws_frame(true, 9, k, b"ping"));
    client.extend(ws_frame(false, 0, k, &invite[50..100]));
    client.extend(ws_frame(true, 10, k, b""));
    client.extend(ws_frame(true, 0, k, &invite[100..]));
    client.extend(ws_frame(true, 2, k, &big));
    // Server to client: unmasked.
    let mut server = SWITCHING.to_vec();
    server.extend(ws_frame(true, 1, None, &ok));
    server.extend(ws_frame(true, 8, None, &[0x03, 0xe8]));
    let want_client = vec![
        Got::Datagram(Transport::Ws, invite.clone()),
        Got::Datagram(Transport::Ws, big.clone()),
    ];
    for cut in (0..client.len())
        .step_by(97)
        .chain([1, 2, UPGRADE.len(), UPGRADE.len() + 1])
    {
        let mut r = rig();
        let (a, b) = (ep(A, 50000), ep(B, 443));
        r.tcp(1, a, b, 0, SYN, b"");
        r.tcp(1, b, a, 0, SYN, b"");
        r.tcp(2, a, b, 1, 0, &client[..cut]);
        r.tcp(3, b, a, 1, 0, &server);
        r.tcp(4, a, b, 1 + cut as u32, 0, &client[cut..]);
        let (mut from_client, from_server): (Vec<Got>, Vec<Got>) = (Vec::new(), Vec::new());
        for g in &r.got {
            if g == &Got::Datagram(Transport::Ws, ok.clone()) {
                continue;
            }
            from_client.push(g.clone());
        }
        let _ = from_server;
        assert_eq!(from_client, want_client, "cut {cut}");
        assert!(r.got.contains(&Got::Datagram(Transport::Ws, ok.clone())));
        assert_eq!(r.stats.stream_ws_flows, 2);
        assert_eq!(r.stats.ws_control_frames, 3);
        assert_eq!((r.stats.ws_messages, r.stats.ws_bad_frames), (3, 0));
        assert_eq!(r.s.held(), 0, "cut {cut}");
    }
    // Byte by byte (the big frame left out to keep it quick).
    let small = &client[..client.len() - ws_frame(true, 2, k, &big).len()];
    let mut r = rig();
    let (a, b) = (ep(A, 50000), ep(B, 443));
    r.tcp(1, a, b, 0, SYN, b"");
    for (i, byte) in small.chunks(1).enumerate() {
        r.tcp(2, a, b, 1 + i as u32, 0, byte);
    }
    assert_eq!(r.got, vec![Got::Datagram(Transport::Ws, invite)]);
}

#[test]
fn websocket_met_after_its_handshake_is_found_by_its_frames() {
    // A long-lived SIP-over-WebSocket connection whose handshake came before the capture
    // began: the first bytes seen are the tail of a frame, then whole frames.
    let invite = sip("INVITE", 1, &"a=x\r\n".repeat(60)); // 16-bit length
    let bye = sip("BYE", 2, "");
    let ok = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/WSS x;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n"
        .to_vec();
    let k = Some([0x0a, 0x81, 0x0d, 0x7e]);
    let mut client = ws_frame(true, 1, k, &sip("OPTIONS", 9, ""));
    let tail = client.len() - 40;
    client.drain(..tail);
    client.extend(ws_frame(true, 9, k, b"ping"));
    client.extend(ws_frame(true, 1, k, &invite));
    client.extend(ws_frame(true, 2, k, &bye));
    // A length whose low byte is LF (0x010a): a "line" of the server's bytes starts with
    // the status line, and still the frames are what is read.
    let mut long_ok = ok.clone();
    long_ok.splice(
        16..16,
        b"X-Pad: "
            .iter()
            .chain(&vec![b'p'; 0x010a - ok.len() - 9])
            .chain(b"\r\n")
            .copied(),
    );
    assert_eq!(long_ok.len(), 0x010a);
    let mut server = ws_frame(true, 1, None, &long_ok);
    server.extend(ws_frame(true, 1, None, &ok));
    for cut in [1, 7, 40, 41, 200, client.len() - 1] {
        let mut r = rig();
        let (a, b) = (ep(A, 50000), ep(B, 443));
        r.tcp(1, a, b, 1000, ACK, &client[..cut]);
        r.tcp(2, b, a, 5000, ACK, &server);
        r.tcp(3, a, b, 1000 + cut as u32, ACK, &client[cut..]);
        let mut got = r.got.clone();
        got.sort_by_key(|g| format!("{g:?}"));
        let mut want = vec![
            Got::Datagram(Transport::Ws, invite.clone()),
            Got::Datagram(Transport::Ws, bye.clone()),
            Got::Datagram(Transport::Ws, long_ok.clone()),
            Got::Datagram(Transport::Ws, ok.clone()),
        ];
        want.sort_by_key(|g| format!("{g:?}"));
        assert_eq!(got, want, "cut {cut}");
        assert_eq!(r.stats.stream_ws_flows, 2, "cut {cut}");
    }
    // Plain SIP met mid-stream is still plain SIP.
    let mut r = rig();
    let plain = [sip("BYE", 3, ""), sip("BYE", 4, "")].concat();
    r.tcp(1, ep(A, 5060), ep(B, 5060), 77, ACK, &plain[5..]);
    assert_eq!(r.got, vec![Got::Sip(sip("BYE", 4, ""))]);
    assert_eq!(r.stats.stream_ws_flows, 0);
}

#[test]
fn websocket_bad_frames_and_gaps_drop_the_direction() {
    let mut client = UPGRADE.to_vec();
    client.extend(ws_frame(
        true,
        0,
        Some([1, 2, 3, 4]),
        b"a continuation of nothing",
    ));
    client.extend(ws_frame(true, 1, Some([1, 2, 3, 4]), &sip("BYE", 1, "")));
    let mut r = rig();
    let (a, b) = (ep(A, 50000), ep(B, 80));
    r.tcp(1, a, b, 0, SYN, b"");
    r.tcp(2, a, b, 1, 0, &client);
    assert_eq!(r.got, vec![]);
    assert_eq!(r.stats.ws_bad_frames, 1);
    assert!(r.stats.ws_dropped_bytes > 0);
    // An upgrade to something else is not WebSocket.
    let mut r = rig();
    r.tcp(1, a, b, 0, SYN, b"");
    r.tcp(2, a, b, 1, 0, b"GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n");
    assert_eq!(
        (r.stats.stream_ws_flows, r.stats.stream_not_sip_flows),
        (0, 1)
    );
}

// ---------------------------------------------------------------------------------------------
// HEP on TCP

fn hep(payload: &[u8]) -> Vec<u8> {
    let mut f = b"HEP3".to_vec();
    f.extend_from_slice(&((6 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[test]
fn hep_frames_on_a_tcp_stream() {
    let (h1, h2) = (hep(&[1; 40]), hep(&[2; 300]));
    let data = [h1.clone(), h2.clone()].concat();
    for cut in 0..=data.len() {
        let mut r = rig();
        stream(&mut r, 0, &data, &[cut]);
        assert_eq!(
            r.got,
            vec![Got::Hep(h1.clone()), Got::Hep(h2.clone())],
            "cut {cut}"
        );
        assert_eq!(r.stats.stream_hep_flows, 1);
    }
    // Junk between frames is skipped to the next "HEP3".
    let mut r = rig();
    stream(
        &mut r,
        0,
        &[h1.clone(), b"junkjunk".to_vec(), h2.clone()].concat(),
        &[],
    );
    assert_eq!(r.got, vec![Got::Hep(h1), Got::Hep(h2)]);
    assert_eq!(r.stats.hep_stream_skipped_bytes, 8);
}

// ---------------------------------------------------------------------------------------------
// SCTP

fn data_chunk(flags: u8, tsn: u32, sid: u16, user: &[u8]) -> Vec<u8> {
    let mut c = vec![0, flags];
    c.extend_from_slice(&((16 + user.len()) as u16).to_be_bytes());
    c.extend_from_slice(&tsn.to_be_bytes());
    c.extend_from_slice(&sid.to_be_bytes());
    c.extend_from_slice(&0u16.to_be_bytes());
    c.extend_from_slice(&0u32.to_be_bytes());
    c.extend_from_slice(user);
    while c.len() % 4 != 0 {
        c.push(0);
    }
    c
}

#[test]
fn sctp_chunks_fragments_duplicates_and_bad_lengths() {
    let (m1, m2, m3) = (
        sip("INVITE", 1, "v=0\r\n"),
        sip("ACK", 2, ""),
        sip("BYE", 3, ""),
    );
    let (a, b) = (ep(A, 5060), ep(B, 5060));
    let mut r = rig();
    // Two whole messages in one packet, with a SACK between.
    let mut p1 = data_chunk(3, 100, 0, &m1);
    p1.extend([3, 0, 0, 16, 0, 0, 0, 99, 0, 0, 1, 0, 0, 0, 0, 0]);
    p1.extend(data_chunk(3, 101, 1, &m2));
    r.sctp(1, a, b, 0xabcd, &p1);
    // m3 in three fragments, out of order, one of them twice.
    let (f1, f2, f3) = (
        data_chunk(2, 102, 0, &m3[..30]),
        data_chunk(0, 103, 0, &m3[30..60]),
        data_chunk(1, 104, 0, &m3[60..]),
    );
    r.sctp(2, a, b, 0xabcd, &f3);
    r.sctp(3, a, b, 0xabcd, &f1);
    r.sctp(4, a, b, 0xabcd, &f1);
    r.sctp(5, a, b, 0xabcd, &f2);
    // The first packet again (a retransmission), then a packet with a bad chunk length.
    r.sctp(6, a, b, 0xabcd, &p1);
    let mut bad = data_chunk(3, 105, 0, b"fine");
    bad.extend([0, 3, 0x10, 0x00]);
    r.sctp(7, a, b, 0xabcd, &bad);
    let d = |m: &[u8]| Got::Datagram(Transport::Sctp, m.to_vec());
    assert_eq!(r.got, vec![d(&m1), d(&m2), d(&m3), d(b"fine")]);
    assert_eq!(r.when[2].1, 5); // completed by frame 5
    assert_eq!(r.stats.sctp_duplicates, 3);
    assert_eq!(r.stats.sctp_bad_chunks, 1);
    assert_eq!(r.stats.sctp_messages, 4);
    assert_eq!(r.s.held(), 0);
    // Truncated at every byte: never a panic.
    for cut in 0..p1.len() {
        let mut r = rig();
        r.sctp(1, a, b, 1, &p1[..cut]);
    }
    // A fragment that never completes is freed when its association goes idle.
    let mut r = rig();
    r.sctp(1, a, b, 7, &data_chunk(2, 1, 0, &[b'z'; 100]));
    assert_eq!(r.s.held(), 100);
    r.expire(2 + CaptureLimits::DEFAULT.flow_idle_ns);
    assert_eq!((r.s.held(), r.s.flows()), (0, 0));
    assert_eq!(r.stats.sctp_dropped_bytes, 100);
}

#[test]
fn finish_flushes_every_flow() {
    let m = sip("INVITE", 1, "v=0\r\n");
    let mut r = rig();
    let (a, b) = (ep(A, 40000), ep(B, 5060));
    r.tcp(1, a, b, 0, SYN, b"");
    r.tcp(2, a, b, 1, 0, &m[..m.len() - 1]);
    r.tcp(3, a, b, 100_000, 0, b"far ahead"); // held ahead of a gap
    r.finish();
    assert_eq!(r.got, vec![Got::Error(ErrorKind::BodyTooShort)]);
    assert_eq!((r.s.flows(), r.s.held()), (0, 0));
}

#[test]
fn hostile_segments_never_panic_and_stay_bounded() {
    let mut limits = CaptureLimits::DEFAULT;
    limits.max_flows = 8;
    limits.max_flow_bytes = 3000;
    limits.max_stream_bytes = 8000;
    limits.flow_idle_ns = 1000;
    let mut r = Rig::new(limits);
    let pieces: Vec<Vec<u8>> = vec![
        sip("INVITE", 1, "v=0\r\n"),
        UPGRADE.to_vec(),
        SWITCHING.to_vec(),
        ws_frame(false, 1, Some([1, 2, 3, 4]), b"INVITE sip:x SIP/2.0\r\n"),
        ws_frame(true, 0, None, &[b'z'; 300]),
        hep(&[7; 20]),
        b"\r\n\r\n".to_vec(),
        vec![0x16, 3, 1, 0, 5],
        b"SIP/2.0 200 OK\r\nContent-Length: 99999999\r\n\r\n".to_vec(),
        data_chunk(2, 5, 0, b"frag"),
        data_chunk(3, 6, 0, b"whole"),
        vec![0, 3, 0, 2],
    ];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n.max(1)
    };
    for i in 0..20_000i64 {
        let p = &pieces[rnd(pieces.len() as u64) as usize];
        let from = rnd(p.len() as u64) as usize;
        let to = from + rnd((p.len() - from) as u64 + 1) as usize;
        let (a, b) = (ep(rnd(4) as u8, 5060 + rnd(3) as u16), ep(9, 5060));
        let seq = if rnd(4) == 0 {
            rnd(u64::from(u32::MAX)) as u32
        } else {
            rnd(2000) as u32
        };
        let flags = [0, 0, 0, SYN, FIN, RST][rnd(6) as usize];
        if rnd(5) == 0 {
            r.sctp(i, a, b, rnd(3) as u32, &p[from..to]);
        } else {
            r.tcp(i, a, b, seq, flags, &p[from..to]);
        }
        if i % 500 == 0 {
            r.expire(i);
        }
        assert!(r.s.flows() <= 8);
        assert!(r.s.held() <= 8000 + 3 * 64 * 1024, "{}", r.s.held());
        r.got.clear();
    }
    r.finish();
    assert_eq!((r.s.flows(), r.s.held()), (0, 0));
}
