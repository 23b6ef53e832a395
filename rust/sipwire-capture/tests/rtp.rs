//! RTP/RTCP statistics and DTMF against tshark.
//!
//! Each scenario is built here in code (SIP with SDP, RTP, RTCP, telephone-events), fed to
//! [`RtpTracker`] as the pipeline would, and checked against the figures
//! `tshark -q -z rtp,streams` (Wireshark 4.0.17) printed for the very same packets: the
//! scenarios can be written as pcap files (`write_pcap`), and when tshark is installed the
//! `*_matches_tshark_live` tests run it on them and compare every stream, so the constants
//! below can be re-derived at any time.

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use sipwire_capture::rtp::{DtmfRow, DtmfSource, RtpStats, RtpStreamRow, RtpTracker};
use sipwire_capture::{CaptureLimits, Counters, Endpoint};

// --- builders -------------------------------------------------------------------------------

fn ep(ip: &str, port: u16) -> Endpoint {
    Endpoint {
        ip: ip.parse().unwrap(),
        port,
    }
}

fn rtp(seq: u16, ts: u32, ssrc: u32, pt: u8, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, (u8::from(marker) << 7) | pt];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn event(code: u8, end: bool, volume: u8, duration: u16) -> [u8; 4] {
    let d = duration.to_be_bytes();
    [code, (u8::from(end) << 7) | volume, d[0], d[1]]
}

/// (ssrc, fraction, cumulative, highest seq, jitter)
type Block = (u32, u8, i32, u32, u32);

fn blocks(v: &mut Vec<u8>, bs: &[Block]) {
    for &(ssrc, frac, cum, hi, jit) in bs {
        v.extend_from_slice(&ssrc.to_be_bytes());
        v.push(frac);
        v.extend_from_slice(&cum.to_be_bytes()[1..]);
        v.extend_from_slice(&hi.to_be_bytes());
        v.extend_from_slice(&jit.to_be_bytes());
        v.extend_from_slice(&[0; 8]);
    }
}

fn rtcp_sr(ssrc: u32, packets: u32, octets: u32, bs: &[Block]) -> Vec<u8> {
    let mut body = ssrc.to_be_bytes().to_vec();
    body.extend_from_slice(&[0xe8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0]);
    body.extend_from_slice(&packets.to_be_bytes());
    body.extend_from_slice(&octets.to_be_bytes());
    blocks(&mut body, bs);
    let mut v = vec![0x80 | bs.len() as u8, 200];
    v.extend_from_slice(&((body.len() / 4) as u16).to_be_bytes());
    v.extend(body);
    v
}

fn rtcp_rr(ssrc: u32, bs: &[Block]) -> Vec<u8> {
    let mut body = ssrc.to_be_bytes().to_vec();
    blocks(&mut body, bs);
    let mut v = vec![0x80 | bs.len() as u8, 201];
    v.extend_from_slice(&((body.len() / 4) as u16).to_be_bytes());
    v.extend(body);
    v
}

fn rtcp_sdes(ssrc: u32, cname: &[u8]) -> Vec<u8> {
    let mut chunk = ssrc.to_be_bytes().to_vec();
    chunk.push(1);
    chunk.push(cname.len() as u8);
    chunk.extend_from_slice(cname);
    chunk.push(0);
    while chunk.len() % 4 != 0 {
        chunk.push(0);
    }
    let mut v = vec![0x81, 202];
    v.extend_from_slice(&((chunk.len() / 4) as u16).to_be_bytes());
    v.extend(chunk);
    v
}

fn rtcp_bye(ssrc: u32) -> Vec<u8> {
    let mut v = vec![0x81, 203, 0, 1];
    v.extend_from_slice(&ssrc.to_be_bytes());
    v
}

fn sdp(ip: &str, port: u16, pts: &str, extra: &str) -> String {
    let fam = if ip.contains(':') { "IP6" } else { "IP4" };
    format!(
        "v=0\r\no=- 1 1 IN {fam} {ip}\r\ns=-\r\nc=IN {fam} {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {pts}\r\n{extra}a=sendrecv\r\n"
    )
}

fn sip(start: &str, call_id: &str, host: &str, body: &str) -> Vec<u8> {
    let to_tag = if start.starts_with("SIP/2.0") {
        ";tag=b2"
    } else {
        ""
    };
    format!(
        "{start}\r\nVia: SIP/2.0/UDP {host}:5060;branch=z9hG4bK{}\r\n\
         From: <sip:alice@{host}>;tag=a1\r\nTo: <sip:bob@example.org>{to_tag}\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:{host}:5060>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        call_id.len(),
        body.len()
    )
    .into_bytes()
}

/// xorshift64*: deterministic noise for arrival times.
struct Rng(u64);

impl Rng {
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        lo + (r % (hi - lo + 1) as u64) as i64
    }
}

/// One UDP datagram of a scenario; `t_us` from the capture start.
#[derive(Clone)]
struct Pkt {
    t_us: i64,
    src: Endpoint,
    dst: Endpoint,
    payload: Vec<u8>,
}

fn pkt(t_us: i64, src: Endpoint, dst: Endpoint, payload: Vec<u8>) -> Pkt {
    Pkt {
        t_us,
        src,
        dst,
        payload,
    }
}

/// Capture start, µs since the Unix epoch.
const EPOCH_US: i64 = 1_700_000_000_000_000;

fn sorted(mut v: Vec<Pkt>) -> Vec<Pkt> {
    v.sort_by_key(|p| p.t_us);
    v
}

// --- scenarios ------------------------------------------------------------------------------

const SSRC_A: u32 = 0x1111_aaaa;
const SSRC_B: u32 = 0x2222_bbbb;
const CALL_ID: &str = "rtp-call-1@10.0.0.1";

/// SIP INVITE/200 with SDP; A -> B PCMU from seq 65400 (wraps) with loss (3), a reordered
/// pair, a duplicate, ±4 ms arrival noise and a talkspurt (marker, +200 ms); B -> A PCMU with
/// telephone-events "1", "#", "9" (6 updates, 3 end packets each) and "D" whose end packets are
/// lost; RTCP SR+SDES from A, RR+SDES from B, twice, and RR+BYE.
fn call() -> Vec<Pkt> {
    let (a, b) = ("10.0.0.1", "10.0.0.2");
    let te = "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";
    let mut v = vec![
        pkt(
            0,
            ep(a, 5060),
            ep(b, 5060),
            sip(
                "INVITE sip:bob@10.0.0.2 SIP/2.0",
                CALL_ID,
                a,
                &sdp(a, 40000, "0 8 101", te),
            ),
        ),
        pkt(
            500_000,
            ep(b, 5060),
            ep(a, 5060),
            sip("SIP/2.0 200 OK", CALL_ID, a, &sdp(b, 50000, "0 101", te)),
        ),
    ];
    let mut rng = Rng(12);
    let (ts0, seq0) = (0x7fff_0000u32, 65400u16);
    let mut gap = 0u32;
    for i in 0..300u32 {
        if i == 200 {
            gap = 1600;
        }
        let ts = ts0 + i * 160 + gap;
        let mut at =
            1_000_000 + i64::from(i) * 20_000 + i64::from(gap) * 125 + rng.range(-4000, 4000);
        if i == 21 {
            at -= 15_000;
        }
        if [10, 11, 50].contains(&i) {
            continue;
        }
        let p = rtp(
            seq0.wrapping_add(i as u16),
            ts,
            SSRC_A,
            0,
            i == 200,
            &[0xff; 160],
        );
        v.push(pkt(at, ep(a, 40000), ep(b, 50000), p.clone()));
        if i == 30 {
            v.push(pkt(at + 300, ep(a, 40000), ep(b, 50000), p));
        }
    }
    let (mut seq, ts0) = (1000u16, 5000u32);
    let starts = [
        (40, 1u8, true),
        (100, 11, true),
        (160, 9, true),
        (210, 15, false),
    ];
    let mut slot = 0i64;
    while slot < 250 {
        let at = 1_010_000 + slot * 20_000 + rng.range(-1500, 1500);
        if let Some(&(_, code, ends)) = starts.iter().find(|s| s.0 == slot) {
            let ev_ts = ts0 + slot as u32 * 160;
            for u in 0..6i64 {
                let pl = event(code, false, 10, 160 * (u as u16 + 1));
                let at = 1_010_000 + (slot + u) * 20_000 + rng.range(-1500, 1500);
                v.push(pkt(
                    at,
                    ep(b, 50000),
                    ep(a, 40000),
                    rtp(seq, ev_ts, SSRC_B, 101, u == 0, &pl),
                ));
                seq += 1;
            }
            for r in 0..3 {
                let pl = event(code, true, 10, 1120);
                let at = 1_010_000 + (slot + 6) * 20_000 + r * 5_000;
                if ends {
                    v.push(pkt(
                        at,
                        ep(b, 50000),
                        ep(a, 40000),
                        rtp(seq, ev_ts, SSRC_B, 101, false, &pl),
                    ));
                }
                seq += 1;
            }
            slot += 7;
            continue;
        }
        let ts = ts0 + slot as u32 * 160;
        v.push(pkt(
            at,
            ep(b, 50000),
            ep(a, 40000),
            rtp(seq, ts, SSRC_B, 0, false, &[0xff; 160]),
        ));
        seq += 1;
        slot += 1;
    }
    for (k, t) in [(0u32, 2_500_000i64), (1, 5_000_000)] {
        let mut sr = rtcp_sr(
            SSRC_A,
            100 * (k + 1),
            16000 * (k + 1),
            &[(SSRC_B, 0, 0, 1100 + 100 * k, 12 + k)],
        );
        sr.extend(rtcp_sdes(SSRC_A, b"alice@a"));
        v.push(pkt(t, ep(a, 40001), ep(b, 50001), sr));
        let mut rr = rtcp_rr(
            SSRC_B,
            &[(
                SSRC_A,
                3 + 4 * k as u8,
                2 + k as i32,
                65400 + 120 * (k + 1),
                40 + 8 * k,
            )],
        );
        rr.extend(rtcp_sdes(SSRC_B, b"bob@b"));
        v.push(pkt(t + 7000, ep(b, 50001), ep(a, 40001), rr));
    }
    let mut bye = rtcp_rr(SSRC_A, &[]);
    bye.extend(rtcp_bye(SSRC_A));
    v.push(pkt(7_000_000, ep(a, 40001), ep(b, 50001), bye));
    sorted(v)
}

/// One 5-tuple, two SSRCs interleaved (PCMA), SDP announced; the second loses two packets.
fn two_ssrcs() -> Vec<Pkt> {
    let (a, b) = ("10.0.1.1", "10.0.1.2");
    let cid = "rtp-two-ssrc@10.0.1.1";
    let mut v = vec![
        pkt(
            0,
            ep(a, 5060),
            ep(b, 5060),
            sip(
                "INVITE sip:bob@10.0.1.2 SIP/2.0",
                cid,
                a,
                &sdp(a, 42000, "8", ""),
            ),
        ),
        pkt(
            100_000,
            ep(b, 5060),
            ep(a, 5060),
            sip("SIP/2.0 200 OK", cid, a, &sdp(b, 52000, "8", "")),
        ),
    ];
    let mut rng = Rng(7);
    for i in 0..150u32 {
        let at = 200_000 + i64::from(i) * 20_000 + rng.range(-2500, 2500);
        v.push(pkt(
            at,
            ep(a, 42000),
            ep(b, 52000),
            rtp(
                100 + i as u16,
                1000 + 160 * i,
                0x3333_3333,
                8,
                false,
                &[0xd5; 160],
            ),
        ));
    }
    for i in 0..120u32 {
        if i == 33 || i == 77 {
            continue;
        }
        let at = 703_000 + i64::from(i) * 20_000 + rng.range(-6000, 6000);
        v.push(pkt(
            at,
            ep(a, 42000),
            ep(b, 52000),
            rtp(
                40000 + i as u16,
                99 + 160 * i,
                0x4444_4444,
                8,
                false,
                &[0xd5; 160],
            ),
        ));
    }
    sorted(v)
}

fn dns_query(id: u16) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(b"\x07example\x03org\x00\x00\x01\x00\x01");
    v
}

/// No signalling: a PCMA stream and a PT 96 stream (no clock rate known), among DNS queries
/// whose first byte looks like RTP version 2, a lone RTP-looking datagram never confirmed, and
/// a SIP OPTIONS on a high port.
fn no_sdp() -> Vec<Pkt> {
    let (c, d) = ("192.168.1.10", "192.168.1.20");
    let mut v = Vec::new();
    let mut rng = Rng(3);
    for i in 0..120u32 {
        let at = 100_000 + i64::from(i) * 20_000 + rng.range(-3000, 3000);
        v.push(pkt(
            at,
            ep(c, 16400),
            ep(d, 16500),
            rtp(
                7000 + i as u16,
                123_456 + 160 * i,
                0xcafe_0001,
                8,
                false,
                &[0xd5; 160],
            ),
        ));
    }
    for i in 0..60u32 {
        let at = 150_000 + i64::from(i) * 30_000 + rng.range(-2000, 2000);
        v.push(pkt(
            at,
            ep(d, 17000),
            ep(c, 17100),
            rtp(
                500 + i as u16,
                9000 + 2880 * i,
                0xcafe_0002,
                96,
                false,
                &[0x11; 60],
            ),
        ));
    }
    for k in 0..6u16 {
        v.push(pkt(
            120_000 + i64::from(k) * 400_000,
            ep(c, 40000 + k),
            ep("192.168.1.1", 53),
            dns_query(0x8000 + k),
        ));
    }
    v.push(pkt(
        900_000,
        ep(c, 31000),
        ep(d, 31002),
        rtp(1, 1, 0xdead_0001, 0, false, &[0; 160]),
    ));
    let options = b"OPTIONS sip:x@192.168.1.20:35060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.10:35060;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    v.push(pkt(950_000, ep(c, 35060), ep(d, 35060), options.to_vec()));
    sorted(v)
}

/// Edge cases, SDP announced: SSRC 0x51 with a timestamp wrap at 2^32 and sequence wrap,
/// comfort noise in a pause then the marker, a PCMU -> PCMA switch, a packet 61 ms late, a
/// sequence restart, and one timestamp 0x90000000 back (which unwraps as a jump forward);
/// SSRC 0x52 on the same 5-tuple with timestamps over 2^31 away, whose first packet arrives
/// after its second; an IPv6 call with 30 ms packets.
fn quirks() -> Vec<Pkt> {
    let (a, b) = ("10.0.2.1", "10.0.2.2");
    let cid = "rtp-quirks@10.0.2.1";
    let mut v = vec![
        pkt(
            0,
            ep(a, 5060),
            ep(b, 5060),
            sip(
                "INVITE sip:bob@10.0.2.2 SIP/2.0",
                cid,
                a,
                &sdp(a, 20000, "0 8 13", ""),
            ),
        ),
        pkt(
            50_000,
            ep(b, 5060),
            ep(a, 5060),
            sip("SIP/2.0 200 OK", cid, a, &sdp(b, 20002, "0 8 13", "")),
        ),
    ];
    let mut rng = Rng(99);
    let (mut seq, mut ts) = (65530u16, 0xffff_f000u32);
    for i in 0..160i64 {
        let (mut pt, mut payload, marker) = (0u8, vec![0xd5u8; 160], i == 66);
        if (60..66).contains(&i) {
            pt = 13;
            payload = vec![0x40];
        }
        if i >= 90 {
            pt = 8;
        }
        if i == 130 {
            seq = seq.wrapping_sub(1000);
        }
        let mut at = 100_000 + i * 20_000 + rng.range(-3000, 3000);
        if i == 40 {
            at += 61_000;
        }
        let stamp = if i == 110 {
            ts.wrapping_sub(0x9000_0000)
        } else {
            ts
        };
        v.push(pkt(
            at,
            ep(a, 20000),
            ep(b, 20002),
            rtp(seq, stamp, 0x51, pt, marker, &payload),
        ));
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
    }
    for i in 0..50u32 {
        let mut at = 400_000 + i64::from(i) * 20_000 + 777 + rng.range(-2000, 2000);
        if i == 0 {
            at += 25_000;
        }
        v.push(pkt(
            at,
            ep(a, 20000),
            ep(b, 20002),
            rtp(
                9 + i as u16,
                0x9000_0000 + 160 * i,
                0x52,
                0,
                false,
                &[0xd5; 160],
            ),
        ));
    }
    let (a6, b6) = ("2001:db8::1", "2001:db8::2");
    let cid6 = "rtp-v6@2001:db8::1";
    v.push(pkt(
        10_000,
        ep(a6, 5060),
        ep(b6, 5060),
        sip(
            "INVITE sip:bob@[2001:db8::2] SIP/2.0",
            cid6,
            "[2001:db8::1]",
            &sdp(a6, 30000, "0", "a=ptime:30\r\n"),
        ),
    ));
    v.push(pkt(
        60_000,
        ep(b6, 5060),
        ep(a6, 5060),
        sip(
            "SIP/2.0 200 OK",
            cid6,
            "[2001:db8::1]",
            &sdp(b6, 30002, "0", "a=ptime:30\r\n"),
        ),
    ));
    for i in 0..80u32 {
        let at = 120_000 + i64::from(i) * 30_000 + rng.range(-5000, 5000);
        v.push(pkt(
            at,
            ep(b6, 30002),
            ep(a6, 30000),
            rtp(3000 + i as u16, 240 * i, 0x66, 0, false, &[0xff; 240]),
        ));
    }
    sorted(v)
}

// --- running --------------------------------------------------------------------------------

struct Out {
    rows: Vec<RtpStreamRow>,
    dtmf: Vec<DtmfRow>,
    stats: RtpStats,
    /// What `packet` returned for each datagram that was not SIP.
    taken: Vec<(u64, bool)>,
}

/// The SIP message's Call-ID and body (the tests' own SIP, so a crude split is enough).
fn sip_parts(p: &[u8]) -> Option<(&[u8], &[u8])> {
    let text = std::str::from_utf8(p).ok()?;
    if !(text.starts_with("INVITE ")
        || text.starts_with("SIP/2.0 ")
        || text.starts_with("OPTIONS "))
    {
        return None;
    }
    let split = text.find("\r\n\r\n")?;
    let cid = text.lines().find_map(|l| l.strip_prefix("Call-ID: "))?;
    Some((cid.as_bytes(), &p[split + 4..]))
}

fn run_with(pkts: &[Pkt], limits: CaptureLimits) -> Out {
    let mut t = RtpTracker::new(limits);
    let mut stats = RtpStats::default();
    let mut taken = Vec::new();
    for (i, p) in pkts.iter().enumerate() {
        let frame = i as u64 + 1;
        let time_ns = (EPOCH_US + p.t_us) * 1000;
        if let Some((cid, body)) = sip_parts(&p.payload) {
            if !body.is_empty() {
                t.sdp(time_ns, cid, body, &mut stats);
            }
            continue;
        }
        taken.push((
            frame,
            t.packet(time_ns, frame, p.src, p.dst, &p.payload, &mut stats),
        ));
    }
    let (rows, dtmf) = t.finish(&mut stats);
    Out {
        rows,
        dtmf,
        stats,
        taken,
    }
}

fn run(pkts: &[Pkt]) -> Out {
    run_with(pkts, CaptureLimits::DEFAULT)
}

fn find<'a>(rows: &'a [RtpStreamRow], src: &str, ssrc: u32) -> &'a RtpStreamRow {
    let ip: IpAddr = src.parse().unwrap();
    rows.iter()
        .find(|r| r.src.ip == ip && r.ssrc == ssrc)
        .unwrap_or_else(|| panic!("no stream {src} {ssrc:#x} in {rows:#?}"))
}

// --- tshark's figures -----------------------------------------------------------------------

/// One line of `tshark -q -z rtp,streams` (Wireshark 4.0): start and end time (s from the
/// first frame), src, sport, dst, dport, SSRC, payloads, packets, lost, then min/mean/max
/// delta and min/mean/max jitter (ms, 3 decimals; min -1 when none), problem mark.
#[derive(Clone, Debug, PartialEq)]
struct TsharkRow {
    start: f64,
    end: f64,
    src: String,
    sport: u16,
    dst: String,
    dport: u16,
    ssrc: u32,
    payloads: String,
    packets: u64,
    lost: i64,
    delta: [f64; 3],
    jitter: [f64; 3],
    problem: bool,
}

#[allow(clippy::too_many_arguments)]
fn ts(
    start: f64,
    end: f64,
    src: &str,
    sport: u16,
    dst: &str,
    dport: u16,
    ssrc: u32,
    payloads: &str,
    packets: u64,
    lost: i64,
    delta: [f64; 3],
    jitter: [f64; 3],
    problem: bool,
) -> TsharkRow {
    TsharkRow {
        start,
        end,
        src: src.into(),
        sport,
        dst: dst.into(),
        dport,
        ssrc,
        payloads: payloads.into(),
        packets,
        lost,
        delta,
        jitter,
        problem,
    }
}

fn parse_tshark(out: &str) -> Vec<TsharkRow> {
    let mut rows = Vec::new();
    for line in out.lines() {
        let mut tok: Vec<&str> = line.split_whitespace().collect();
        if tok.len() < 17 || !tok[6].starts_with("0x") {
            continue;
        }
        let problem = tok.last() == Some(&"X");
        if problem {
            tok.pop();
        }
        let n = tok.len();
        let f = |s: &str| s.parse::<f64>().unwrap();
        rows.push(TsharkRow {
            start: f(tok[0]),
            end: f(tok[1]),
            src: tok[2].into(),
            sport: tok[3].parse().unwrap(),
            dst: tok[4].into(),
            dport: tok[5].parse().unwrap(),
            ssrc: u32::from_str_radix(&tok[6][2..], 16).unwrap(),
            payloads: tok[7..n - 9].join(" "),
            packets: tok[n - 9].parse().unwrap(),
            lost: tok[n - 8].parse().unwrap(),
            delta: [f(tok[n - 6]), f(tok[n - 5]), f(tok[n - 4])],
            jitter: [f(tok[n - 3]), f(tok[n - 2]), f(tok[n - 1])],
            problem,
        });
    }
    rows
}

/// Our row as tshark would print it (times from the first frame at `t0_ns`; 3 decimals).
fn as_tshark(r: &RtpStreamRow, t0_ns: i64) -> TsharkRow {
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    let r6 = |ns: i64| ((ns - t0_ns) as f64 / 1e3).round() / 1e6;
    TsharkRow {
        start: r6(r.first_time_ns),
        end: r6(r.last_time_ns),
        src: r.src.ip.to_string(),
        sport: r.src.port,
        dst: r.dst.ip.to_string(),
        dport: r.dst.port,
        ssrc: r.ssrc,
        payloads: String::new(),
        packets: r.packets,
        lost: r.lost,
        delta: [
            r3(r.min_delta_ms.unwrap_or(-1.0)),
            r3(r.mean_delta_ms),
            r3(r.max_delta_ms),
        ],
        jitter: [
            r3(r.min_jitter_ms.unwrap_or(-1.0)),
            r3(r.mean_jitter_ms),
            r3(r.max_jitter_ms),
        ],
        problem: r.problem,
    }
}

/// Compares our rows with tshark's (payload names aside: tshark says "g711U" for PCMU), to
/// the 3 decimals tshark prints (±0.001 for a rounding at a half).
fn assert_matches(ours: &[RtpStreamRow], theirs: &[TsharkRow], t0_ns: i64) {
    for t in theirs {
        let r = ours
            .iter()
            .find(|r| r.ssrc == t.ssrc && r.src.ip.to_string() == t.src && r.src.port == t.sport)
            .unwrap_or_else(|| panic!("tshark has {t:?}, we do not"));
        let mut o = as_tshark(r, t0_ns);
        o.payloads = t.payloads.clone();
        let close = |a: f64, b: f64| (a - b).abs() <= 0.0011;
        assert!(
            o.start == t.start
                && o.end == t.end
                && o.dst == t.dst
                && o.dport == t.dport
                && o.packets == t.packets
                && o.lost == t.lost
                && o.problem == t.problem
                && (0..3).all(|i| close(o.delta[i], t.delta[i]) && close(o.jitter[i], t.jitter[i])),
            "\nours   {o:?}\ntshark {t:?}"
        );
    }
}

// --- pcap -----------------------------------------------------------------------------------

fn csum(words: &[u8]) -> u16 {
    let mut s: u32 = words
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Writes the datagrams as a classic pcap (µs, Ethernet, IPv4/IPv6, UDP).
fn write_pcap(path: &Path, pkts: &[Pkt]) {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes());
    for (i, p) in pkts.iter().enumerate() {
        let mut udp = p.src.port.to_be_bytes().to_vec();
        udp.extend_from_slice(&p.dst.port.to_be_bytes());
        udp.extend_from_slice(&((8 + p.payload.len()) as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend_from_slice(&p.payload);
        let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        match (p.src.ip, p.dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                frame.extend_from_slice(&[0x08, 0x00]);
                let mut ip = vec![0x45, 0];
                ip.extend_from_slice(&((20 + udp.len()) as u16).to_be_bytes());
                ip.extend_from_slice(&(i as u16).to_be_bytes());
                ip.extend_from_slice(&[0, 0, 64, 17, 0, 0]);
                ip.extend_from_slice(&s.octets());
                ip.extend_from_slice(&d.octets());
                let c = csum(&ip);
                ip[10..12].copy_from_slice(&c.to_be_bytes());
                frame.extend(ip);
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                frame.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
                frame.extend_from_slice(&(udp.len() as u16).to_be_bytes());
                frame.extend_from_slice(&[17, 64]);
                frame.extend_from_slice(&s.octets());
                frame.extend_from_slice(&d.octets());
            }
            _ => panic!("mixed families"),
        }
        frame.extend(udp);
        let t = EPOCH_US + p.t_us;
        f.extend_from_slice(&((t / 1_000_000) as u32).to_le_bytes());
        f.extend_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
        f.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        f.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        f.extend(frame);
    }
    std::fs::write(path, f).unwrap();
}

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Writes the scenario, runs tshark on it (the heuristic on when asked) and compares.
fn live(name: &str, pkts: &[Pkt], heuristic: bool) -> Option<Vec<TsharkRow>> {
    if !tshark_available() {
        eprintln!("tshark not installed: live comparison of {name} skipped");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("sipwire-rtp-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.pcap"));
    write_pcap(&path, pkts);
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-q", "-z", "rtp,streams", "-r"]).arg(&path);
    if heuristic {
        cmd.args(["-o", "rtp.heuristic_rtp:TRUE"]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Some(parse_tshark(&String::from_utf8_lossy(&out.stdout)))
}

fn t0(pkts: &[Pkt]) -> i64 {
    (EPOCH_US + pkts[0].t_us) * 1000
}

// --- the figures ----------------------------------------------------------------------------

fn call_expected() -> Vec<TsharkRow> {
    vec![
        ts(
            1.009969,
            5.990784,
            "10.0.0.2",
            50000,
            "10.0.0.1",
            40000,
            SSRC_B,
            "g711U, telephone-event",
            255,
            3,
            [5.0, 19.599, 38.021],
            [0.01, 3.315, 10.701],
            true,
        ),
        ts(
            1.001748,
            7.177559,
            "10.0.0.1",
            40000,
            "10.0.0.2",
            50000,
            SSRC_A,
            "g711U",
            298,
            2,
            [0.3, 20.122, 58.77],
            [0.015, 2.325, 3.426],
            true,
        ),
    ]
}

#[test]
fn call_matches_tshark() {
    let pkts = call();
    let out = run(&pkts);
    assert_eq!(out.rows.len(), 2, "{:#?}", out.rows);
    assert_matches(&out.rows, &call_expected(), t0(&pkts));
}

/// Every packet twice, 20 µs apart (`tcpdump -i any` over a bridge, a mirror port): each
/// stream's figures and DTMF are those of the packets once, the copies counted in
/// `captured_twice`. The call's one duplicate on the wire cannot be told from the capture's
/// copies then: the figures are those of the capture without it.
#[test]
fn a_capture_holding_every_packet_twice_gives_the_single_captures_figures() {
    for (name, pkts) in [("call", call()), ("no_sdp", no_sdp()), ("quirks", quirks())] {
        let twice: Vec<Pkt> = pkts
            .iter()
            .flat_map(|p| {
                let copy = Pkt {
                    t_us: p.t_us + 20,
                    ..p.clone()
                };
                [p.clone(), copy]
            })
            .collect();
        // The capture without its duplicates on the wire (the same datagram within 20 ms).
        let mut unique: Vec<Pkt> = Vec::new();
        for p in &pkts {
            let dup = unique
                .iter()
                .rev()
                .take_while(|u| p.t_us - u.t_us < 20_000)
                .any(|u| (u.src, u.dst, &u.payload) == (p.src, p.dst, &p.payload));
            if !dup {
                unique.push(p.clone());
            }
        }
        let (one, once, two) = (run(&pkts), run(&unique), run(&twice));
        assert_eq!(once.rows.len(), two.rows.len(), "{name}");
        for u in &once.rows {
            let key = (u.src, u.dst, u.ssrc);
            let find = |rows: &[RtpStreamRow]| -> RtpStreamRow {
                let r = rows.iter().find(|r| (r.src, r.dst, r.ssrc) == key);
                r.unwrap_or_else(|| panic!("{name}: no {key:?}")).clone()
            };
            let (r, d) = (find(&one.rows), find(&two.rows));
            assert_eq!(d.captured_twice, 2 * r.packets - u.packets, "{name}: {d:?}");
            let want = RtpStreamRow {
                captured_twice: d.captured_twice,
                first_frame: d.first_frame,
                last_frame: d.last_frame,
                max_delta_frame: d.max_delta_frame,
                last_time_ns: u.last_time_ns + 20_000,
                ..u.clone()
            };
            assert_eq!(want, d, "{name}");
        }
        let strip = |v: &[DtmfRow]| -> Vec<DtmfRow> {
            v.iter()
                .map(|d| DtmfRow {
                    frame: 0,
                    ..d.clone()
                })
                .collect()
        };
        assert_eq!(strip(&once.dtmf), strip(&two.dtmf), "{name}");
        assert_eq!(
            (once.stats.rtp_streams_sdp, once.stats.rtp_streams_heuristic),
            (two.stats.rtp_streams_sdp, two.stats.rtp_streams_heuristic),
            "{name}"
        );
        assert_eq!(
            two.stats.rtp_captured_twice,
            two.stats.rtp_packets - once.stats.rtp_packets
        );
    }
    // The single capture: its one duplicate on the wire is a copy tshark counts.
    let a = run(&call());
    let r = find(&a.rows, "10.0.0.1", SSRC_A);
    assert_eq!((r.captured_twice, r.packets, r.lost), (1, 298, 2));
}

#[test]
fn call_matches_tshark_live() {
    let pkts = call();
    if let Some(theirs) = live("call", &pkts, false) {
        assert_eq!(theirs, call_expected());
        assert_matches(&run(&pkts).rows, &theirs, t0(&pkts));
    }
}

#[test]
fn call_rows_in_detail() {
    let pkts = call();
    let out = run(&pkts);
    let a = find(&out.rows, "10.0.0.1", SSRC_A);
    assert_eq!(
        (a.payload_type, a.codec.as_deref(), a.clock_rate),
        (0, Some("PCMU"), 8000)
    );
    assert_eq!(a.payload_types, vec![0]);
    assert_eq!((a.expected, a.lost, a.packets), (300, 2, 298));
    // 65400 + 299 wraps: expected spans the wrap.
    assert_eq!(
        a.sequence_errors, 3,
        "the gap after 9, the reordered pair, the duplicate"
    );
    assert_eq!(a.call_id.as_deref(), Some(CALL_ID));
    assert!(a.from_sdp);
    assert_eq!(a.first_frame, 3);
    assert!(a.max_delta_frame.is_some());
    // RTCP: A sent 2 SR (and one RR with the BYE), B reported on A twice.
    assert_eq!((a.rtcp_sr, a.rtcp_rr, a.rtcp_reports), (2, 1, 2));
    assert_eq!(
        (a.rtcp_sender_packets, a.rtcp_sender_octets),
        (Some(200), Some(32000))
    );
    assert_eq!(a.rtcp_reporter_ssrc, Some(SSRC_B));
    assert_eq!(a.rtcp_fraction_lost, Some(7.0 / 256.0));
    assert_eq!(a.rtcp_cumulative_lost, Some(3));
    assert_eq!(a.rtcp_highest_seq, Some(65400 + 240));
    assert_eq!(a.rtcp_jitter_ms, Some(48.0 / 8.0));
    let b = find(&out.rows, "10.0.0.2", SSRC_B);
    assert_eq!(b.payload_types, vec![0, 101]);
    assert_eq!((b.rtcp_sr, b.rtcp_rr, b.rtcp_reports), (0, 2, 2));
    assert_eq!(b.rtcp_jitter_ms, Some(13.0 / 8.0));
    assert_eq!(b.rtcp_cumulative_lost, Some(0));
    // The end packets of "D" were lost: 3 lost, one sequence error.
    assert_eq!((b.lost, b.sequence_errors), (3, 1));
    assert!(b.problem);

    let s = &out.stats;
    assert_eq!(s.rtp_sdp_bodies, 2);
    assert_eq!(s.rtp_sdp_media, 2);
    assert_eq!(s.rtp_streams_sdp, 2);
    assert_eq!(s.rtp_streams_heuristic, 0);
    assert_eq!(s.rtp_packets, 298 + 255);
    assert_eq!(
        (s.rtcp_packets, s.rtcp_sr, s.rtcp_rr, s.rtcp_report_blocks),
        (5, 2, 3, 4)
    );
    assert_eq!(s.rtcp_malformed, 0);
    assert!(
        out.taken.iter().all(|&(_, t)| t),
        "every RTP/RTCP datagram is taken"
    );
}

#[test]
fn call_dtmf() {
    let out = run(&call());
    let digits: Vec<_> = out
        .dtmf
        .iter()
        .map(|d| (d.digit, d.end_seen, d.duration, d.packets))
        .collect();
    assert_eq!(
        digits,
        vec![
            (Some("1"), Some(true), Some(1120), Some(7)),
            (Some("#"), Some(true), Some(1120), Some(7)),
            (Some("9"), Some(true), Some(1120), Some(7)),
            (Some("D"), Some(false), Some(960), Some(6)),
        ]
    );
    let one = &out.dtmf[0];
    assert_eq!(one.duration_ms, Some(140.0));
    assert_eq!(
        (one.event, one.volume, one.ssrc),
        (1, Some(10), Some(SSRC_B))
    );
    assert_eq!(one.rtp_timestamp, Some(5000 + 40 * 160));
    assert_eq!(one.source, DtmfSource::Rtp);
    assert_eq!(one.call_id.as_deref(), Some(CALL_ID));
    assert_eq!(one.src, ep("10.0.0.2", 50000));
    // The first event packet of "1" is frame 83 in tshark's numbering of this capture.
    assert_eq!(one.frame, 83);
    assert_eq!(one.time_ns, (EPOCH_US + 1_810_742) * 1000);
    let frames: Vec<u64> = out.dtmf.iter().map(|d| d.frame).collect();
    assert_eq!(frames, vec![83, 206, 328, 422], "as tshark numbers them");
    assert_eq!(out.stats.dtmf_events, 4);
}

fn two_ssrcs_expected() -> Vec<TsharkRow> {
    vec![
        ts(
            0.700045,
            3.086231,
            "10.0.1.1",
            42000,
            "10.0.1.2",
            52000,
            0x4444_4444,
            "g711A",
            118,
            2,
            [10.263, 20.395, 45.359],
            [0.427, 3.411, 4.767],
            true,
        ),
        ts(
            0.199109,
            3.180815,
            "10.0.1.1",
            42000,
            "10.0.1.2",
            52000,
            0x3333_3333,
            "g711A",
            150,
            0,
            [15.378, 20.011, 24.35],
            [0.083, 1.548, 1.969],
            false,
        ),
    ]
}

#[test]
fn two_ssrcs_match_tshark() {
    let pkts = two_ssrcs();
    assert_matches(&run(&pkts).rows, &two_ssrcs_expected(), t0(&pkts));
}

#[test]
fn two_ssrcs_match_tshark_live() {
    let pkts = two_ssrcs();
    let out = run(&pkts);
    assert_eq!(out.rows.len(), 2);
    assert_eq!(find(&out.rows, "10.0.1.1", 0x4444_4444).lost, 2);
    assert_eq!(find(&out.rows, "10.0.1.1", 0x3333_3333).lost, 0);
    if let Some(theirs) = live("two_ssrcs", &pkts, false) {
        assert_eq!(theirs, two_ssrcs_expected());
        assert_matches(&out.rows, &theirs, t0(&pkts));
    }
}

#[test]
fn no_sdp_heuristic() {
    let pkts = no_sdp();
    let out = run(&pkts);
    let ssrcs: Vec<u32> = out.rows.iter().map(|r| r.ssrc).collect();
    assert_eq!(
        ssrcs,
        vec![0xcafe_0001, 0xcafe_0002],
        "no DNS, no lone packet"
    );
    let pcma = find(&out.rows, "192.168.1.10", 0xcafe_0001);
    assert_eq!((pcma.packets, pcma.lost, pcma.clock_rate), (120, 0, 8000));
    assert!(!pcma.from_sdp && pcma.call_id.is_none());
    assert_eq!(pcma.codec.as_deref(), Some("PCMA"));
    let dynamic = find(&out.rows, "192.168.1.20", 0xcafe_0002);
    assert_eq!(
        (
            dynamic.clock_rate,
            dynamic.max_jitter_ms,
            dynamic.min_jitter_ms
        ),
        (0, 0.0, None)
    );
    assert_eq!(dynamic.codec, None);
    let s = &out.stats;
    assert_eq!(s.rtp_streams_heuristic, 2);
    assert_eq!(s.rtp_packets, 180);
    // Candidates: the two streams' first packets, the DNS queries whose id looks like RTP
    // version 2 with a payload type in use (4 of 6: ids ending 1 and 2 give PT 1 and 2), the
    // lone packet; none of them but the streams confirmed.
    assert_eq!(s.rtp_candidates, 2 + 4 + 1);
    assert_eq!(s.rtp_candidates_unconfirmed, 4 + 1);
    // What packet() said: the first packet of each stream waits, the DNS and lone ones are not
    // RTP, everything else is.
    let refused: Vec<u64> = out.taken.iter().filter(|t| !t.1).map(|t| t.0).collect();
    assert_eq!(refused.len(), 2 + 6 + 1, "{refused:?}");
}

fn no_sdp_expected() -> Vec<TsharkRow> {
    vec![
        ts(
            0.052438,
            1.820803,
            "192.168.1.20",
            17000,
            "192.168.1.10",
            17100,
            0xcafe_0002,
            "RTPType-96",
            60,
            0,
            [26.725, 29.972, 33.407],
            [-1.0, 0.0, 0.0],
            false,
        ),
        ts(
            0.0,
            2.381469,
            "192.168.1.10",
            16400,
            "192.168.1.20",
            16500,
            0xcafe_0001,
            "g711A",
            120,
            0,
            [14.78, 20.012, 25.514],
            [0.008, 1.634, 2.283],
            false,
        ),
    ]
}

#[test]
fn no_sdp_matches_tshark() {
    let pkts = no_sdp();
    assert_matches(&run(&pkts).rows, &no_sdp_expected(), t0(&pkts));
}

#[test]
fn no_sdp_matches_tshark_live() {
    let pkts = no_sdp();
    let out = run(&pkts);
    if let Some(mut theirs) = live("no_sdp", &pkts, true) {
        // tshark's heuristic also takes the lone packet for a stream; ours waits for a second.
        theirs.retain(|t| t.ssrc != 0xdead_0001);
        assert_eq!(theirs, no_sdp_expected());
        assert_matches(&out.rows, &theirs, t0(&pkts));
    }
}

fn quirks_expected() -> Vec<TsharkRow> {
    vec![
        ts(
            0.42148,
            1.381052,
            "10.0.2.1",
            20000,
            "10.0.2.2",
            20002,
            0x52,
            "g711U",
            50,
            -1,
            [16.415, 19.583, 23.554],
            [0.14, 0.935, 1.472],
            true,
        ),
        ts(
            0.120867,
            2.489469,
            "2001:db8::2",
            30002,
            "2001:db8::1",
            30000,
            0x66,
            "g711U",
            80,
            0,
            [20.946, 29.982, 38.549],
            [0.133, 2.842, 4.138],
            false,
        ),
        ts(
            0.099214,
            3.280839,
            "10.0.2.1",
            20000,
            "10.0.2.2",
            20002,
            0x51,
            "g711U, g711A, CN",
            160,
            64536,
            [2.336, 20.017, 36.636],
            [0.095, 2_833_341.551, 28_442_625.798],
            true,
        ),
    ]
}

#[test]
fn quirks_match_tshark() {
    let pkts = quirks();
    assert_matches(&run(&pkts).rows, &quirks_expected(), t0(&pkts));
}

#[test]
fn quirks_match_tshark_live() {
    let pkts = quirks();
    let out = run(&pkts);
    assert_eq!(out.rows.len(), 3);
    let q = find(&out.rows, "10.0.2.1", 0x51);
    assert_eq!(q.payload_types, vec![0, 8, 13]);
    assert!(q.problem);
    let v6 = find(&out.rows, "2001:db8::2", 0x66);
    assert_eq!((v6.packets, v6.lost), (80, 0));
    assert_eq!(v6.call_id.as_deref(), Some("rtp-v6@2001:db8::1"));
    if let Some(theirs) = live("quirks", &pkts, false) {
        assert_eq!(theirs, quirks_expected());
        assert_matches(&out.rows, &theirs, t0(&pkts));
    }
}

#[test]
fn counters_are_visited() {
    let out = run(&call());
    let mut names = Vec::new();
    out.stats.visit(&mut |n, _| names.push(n));
    assert!(names.contains(&"rtp_packets") && names.contains(&"dtmf_events"));
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len());
}

// --- bad input, bounds ----------------------------------------------------------------------

fn tracker(limits: CaptureLimits) -> (RtpTracker, RtpStats) {
    (RtpTracker::new(limits), RtpStats::default())
}

fn announce(t: &mut RtpTracker, st: &mut RtpStats, time_ns: i64, call_id: &str, body: &str) {
    t.sdp(time_ns, call_id.as_bytes(), body.as_bytes(), st);
}

/// `n` SDP bodies of call "c" announcing `ip` on ports `first`, `first + 10`, ...
fn announce_ports(t: &mut RtpTracker, st: &mut RtpStats, ip: &str, first: u16, n: u16) {
    for k in 0..n {
        announce(t, st, 0, "c", &sdp(ip, first + 10 * k, "0", ""));
    }
}

/// A version-2 datagram too short to be RTP or RTCP: it ends the tracker's deferred learning
/// of SDP and is otherwise not taken.
fn end_deferral(t: &mut RtpTracker, st: &mut RtpStats) {
    assert!(!t.packet(
        0,
        0,
        ep("192.0.2.9", 9),
        ep("192.0.2.9", 9),
        &[0x80, 0, 0, 0],
        st
    ));
}

const MS: i64 = 1_000_000;

#[test]
fn sip_dns_stun_dtls_are_never_rtp() {
    let (mut t, mut st) = tracker(CaptureLimits::DEFAULT);
    announce(&mut t, &mut st, 0, "c", &sdp("10.9.0.1", 4000, "0", ""));
    let sips: Vec<Vec<u8>> = vec![
        sip("INVITE sip:bob@10.9.0.1 SIP/2.0", "c", "10.9.0.2", ""),
        sip("SIP/2.0 200 OK", "c", "10.9.0.2", ""),
        b"ACK sip:x SIP/2.0\r\n\r\n".to_vec(),
        b"options sip:x SIP/2.0\r\n\r\n".to_vec(),
        b"\r\n\r\n".to_vec(),
    ];
    let mut sips = sips;
    // STUN binding request (RFC 5389), DTLS handshake (content type 22): they share ports
    // with RTP (RFC 7983) and are told apart by the first byte.
    sips.push(vec![
        0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ]);
    sips.push(vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    // DNS queries and responses with ids whose top bits read as version 2, sent in a row on
    // the same ports (a DNS datagram sent to an announced RTP port would be taken: its header
    // is a valid RTP header, as it would be for tshark).
    let mut others = Vec::new();
    for id in 0x8000u16..0x8100 {
        let mut q = dns_query(id);
        others.push(q.clone());
        q[2] = 0x81;
        q[3] = 0x80;
        others.push(q);
    }
    for round in 0..3i64 {
        for (i, p) in sips.iter().enumerate() {
            let now = round * 1000 * MS + i as i64 * MS;
            // To and from the announced endpoint, and between unknown ones.
            assert!(!t.packet(
                now,
                1,
                ep("10.9.0.2", 5060),
                ep("10.9.0.1", 4000),
                p,
                &mut st
            ));
            assert!(!t.packet(
                now,
                1,
                ep("10.9.0.1", 4000),
                ep("10.9.0.2", 5060),
                p,
                &mut st
            ));
            assert!(!t.packet(now, 1, ep("10.9.0.3", 53), ep("10.9.0.4", 5353), p, &mut st));
        }
        for (i, p) in others.iter().enumerate() {
            let now = round * 1000 * MS + i as i64 * MS;
            assert!(!t.packet(now, 1, ep("10.9.0.3", 5353), ep("10.9.0.4", 53), p, &mut st));
            assert!(!t.packet(now, 1, ep("10.9.0.4", 53), ep("10.9.0.3", 5353), p, &mut st));
        }
    }
    let (rows, dtmf) = t.finish(&mut st);
    assert!(rows.is_empty() && dtmf.is_empty(), "{rows:#?}");
    assert_eq!(st.rtp_packets, 0);
}

#[test]
fn truncation_at_every_byte() {
    let pkts = call();
    let (mut t, mut st) = tracker(CaptureLimits::DEFAULT);
    for (i, p) in pkts.iter().enumerate() {
        let now = (EPOCH_US + p.t_us) * 1000;
        if let Some((cid, body)) = sip_parts(&p.payload) {
            for n in 0..=body.len() {
                t.sdp(now, cid, &body[..n], &mut st);
            }
            continue;
        }
        for n in 0..=p.payload.len() {
            t.packet(now, i as u64 + 1, p.src, p.dst, &p.payload[..n], &mut st);
        }
    }
    let (rows, _) = t.finish(&mut st);
    assert_eq!(rows.len(), 2);
    assert!(st.rtcp_malformed > 0);
}

#[test]
fn absurd_times_and_numbers_never_panic() {
    let (mut t, mut st) = tracker(CaptureLimits::DEFAULT);
    announce(
        &mut t,
        &mut st,
        0,
        "c",
        &sdp(
            "10.9.1.1",
            4000,
            "0 101",
            "a=rtpmap:101 telephone-event/8000\r\n",
        ),
    );
    let (a, b) = (ep("10.9.1.2", 4002), ep("10.9.1.1", 4000));
    let times = [i64::MIN, i64::MAX, 0, -1, i64::MAX, i64::MIN];
    let stamps = [0u32, 0x8000_0000, u32::MAX, 0x7fff_ffff, 1, 0x8000_0001];
    for (i, (&now, &ts)) in times
        .iter()
        .cycle()
        .zip(stamps.iter().cycle())
        .take(600)
        .enumerate()
    {
        let seq = (i as u16).wrapping_mul(40_503);
        let pt = [0u8, 13, 101, 96, 8][i % 5];
        let body = if pt == 101 {
            event((i % 20) as u8, i % 3 == 0, 63, u16::MAX).to_vec()
        } else {
            vec![0; 20]
        };
        t.packet(
            now,
            u64::MAX - i as u64,
            a,
            b,
            &rtp(seq, ts, 1 + (i % 3) as u32, pt, i % 7 == 0, &body),
            &mut st,
        );
        t.packet(
            now,
            i as u64,
            ep("10.9.1.3", 1),
            ep("10.9.1.4", 2),
            &rtp(seq, ts, 9, 0, false, &[0; 4]),
            &mut st,
        );
    }
    let (rows, dtmf) = t.finish(&mut st);
    assert!(!rows.is_empty() && !dtmf.is_empty());
    assert!(rows
        .iter()
        .all(|r| r.mean_jitter_ms.is_finite() && r.max_delta_ms.is_finite()));
}

#[test]
fn random_bytes_stay_bounded() {
    let limits = CaptureLimits {
        max_rtp_streams: 16,
        max_media_endpoints: 8,
        ..CaptureLimits::DEFAULT
    };
    let (mut t, mut st) = tracker(limits);
    let mut rng = Rng(0x5eed);
    for i in 0..200_000i64 {
        let len = rng.range(0, 64) as usize;
        let mut p: Vec<u8> = (0..len).map(|_| rng.range(0, 255) as u8).collect();
        if let Some(b) = p.first_mut() {
            *b = 0x80 | (*b & 0x3f);
        }
        let src = ep("172.16.0.1", rng.range(1000, 1100) as u16);
        let dst = ep("172.16.0.2", rng.range(1000, 1100) as u16);
        t.packet(i * MS / 10, i as u64, src, dst, &p, &mut st);
        if i % 1000 == 0 {
            let body: String = (0..rng.range(0, 200))
                .map(|_| rng.range(32, 126) as u8 as char)
                .collect();
            let good = sdp("172.16.0.2", rng.range(1000, 1100) as u16, "0", "");
            announce(&mut t, &mut st, i, "x", &good);
            announce(&mut t, &mut st, i, "x", &format!("{good}{body}"));
        }
    }
    let (rows, dtmf) = t.finish(&mut st);
    assert!(rows.len() <= 16 + st.rtp_streams_retired as usize);
    assert!(dtmf.len() <= 16 * 16);
    assert!(st.rtp_candidates_dropped > 0, "{st:?}");
    assert!(st.rtp_media_endpoints_evicted > 0, "{st:?}");
}

#[test]
fn stream_table_full_refuses_then_retires_idle() {
    let limits = CaptureLimits {
        max_rtp_streams: 4,
        flow_idle_ns: 10_000 * MS,
        ..CaptureLimits::DEFAULT
    };
    let (mut t, mut st) = tracker(limits);
    announce(&mut t, &mut st, 0, "c", &sdp("10.1.0.1", 4000, "0", ""));
    let (src, dst) = (ep("10.1.0.2", 4002), ep("10.1.0.1", 4000));
    for ssrc in 0..6u32 {
        assert!(t.packet(
            MS,
            1,
            src,
            dst,
            &rtp(1, 160, ssrc, 0, false, &[0; 20]),
            &mut st
        ));
    }
    assert_eq!((st.rtp_streams_sdp, st.rtp_streams_refused), (4, 2));
    // 20 s later the four are idle: they are retired (rows kept) to make room.
    assert!(t.packet(
        20_000 * MS,
        9,
        src,
        dst,
        &rtp(1, 160, 99, 0, false, &[0; 20]),
        &mut st
    ));
    assert_eq!(st.rtp_streams_retired, 4);
    let retired = t.take_retired();
    assert_eq!(retired.len(), 4);
    let (rows, _) = t.finish(&mut st);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].ssrc, 99);
}

#[test]
fn media_endpoints_evicted_oldest_first() {
    let limits = CaptureLimits {
        max_media_endpoints: 4,
        ..CaptureLimits::DEFAULT
    };
    let (mut t, mut st) = tracker(limits);
    end_deferral(&mut t, &mut st);
    // One entry each: RTCP on the next port up is kept in the RTP endpoint's entry.
    announce_ports(&mut t, &mut st, "10.2.0.1", 6000, 7);
    assert_eq!(st.rtp_media_endpoints_evicted, 3);
    let p = rtp(1, 160, 7, 0, false, &[0; 20]);
    // The first three are forgotten: a packet to them waits as a heuristic candidate.
    assert!(!t.packet(MS, 1, ep("10.2.0.2", 1), ep("10.2.0.1", 6020), &p, &mut st));
    assert!(t.packet(MS, 2, ep("10.2.0.2", 1), ep("10.2.0.1", 6040), &p, &mut st));
    // RTCP to the port above a kept one is known (a bad one is counted as malformed); above
    // a forgotten one it is not (a bad one is then just not RTCP).
    let mut bad = rtcp_rr(5, &[]);
    bad[2..4].copy_from_slice(&900u16.to_be_bytes());
    assert!(!t.packet(
        MS,
        3,
        ep("10.2.0.2", 2),
        ep("10.2.0.1", 6061),
        &bad,
        &mut st
    ));
    assert_eq!(st.rtcp_malformed, 1);
    assert!(!t.packet(
        MS,
        4,
        ep("10.2.0.2", 2),
        ep("10.2.0.1", 6011),
        &bad,
        &mut st
    ));
    assert_eq!(st.rtcp_malformed, 1);
    // Re-announcing one endpoint many times does not grow the queue without bound.
    for _ in 0..1000 {
        announce(&mut t, &mut st, 0, "c", &sdp("10.2.0.1", 6040, "0", ""));
    }
    let (rows, _) = t.finish(&mut st);
    assert_eq!(rows.len(), 1);
}

#[test]
fn rtcp_bounds_and_checks() {
    let limits = CaptureLimits {
        max_rtp_streams: 2,
        ..CaptureLimits::DEFAULT
    };
    let (mut t, mut st) = tracker(limits);
    let (a, b) = (ep("10.3.0.1", 7001), ep("10.3.0.2", 7003));
    for ssrc in 0..5u32 {
        assert!(t.packet(MS, 1, a, b, &rtcp_rr(ssrc, &[]), &mut st));
    }
    assert_eq!(st.rtcp_ssrcs_dropped, 3);
    // Unknown endpoints: SDES first is refused (A.2), so is a length that overruns, or a
    // report count beyond the packet (then counted as malformed only for known endpoints).
    assert!(!t.packet(MS, 2, a, b, &rtcp_sdes(1, b"x"), &mut st));
    let mut long = rtcp_rr(1, &[]);
    long[3] = 9;
    assert!(!t.packet(MS, 3, a, b, &long, &mut st));
    assert_eq!(st.rtcp_malformed, 0);
    // Announced with rtcp-mux: reduced-size RTCP (RFC 5506) on the RTP port is taken.
    announce(
        &mut t,
        &mut st,
        0,
        "c",
        &sdp("10.3.0.9", 8000, "0", "a=rtcp-mux\r\n"),
    );
    let muxed = ep("10.3.0.9", 8000);
    assert!(t.packet(MS, 4, b, muxed, &rtcp_sdes(1, b"x"), &mut st));
    assert!(!t.packet(MS, 5, b, muxed, &long, &mut st));
    assert_eq!(st.rtcp_malformed, 1);
    // An RR claiming 3 blocks but carrying 1.
    let mut short = rtcp_rr(1, &[(2, 0, 0, 0, 0)]);
    short[0] = 0x83;
    assert!(t.packet(MS, 6, b, muxed, &short, &mut st));
    assert_eq!(st.rtcp_malformed, 2);
    // a=rtcp names another port.
    announce(
        &mut t,
        &mut st,
        0,
        "c",
        &sdp("10.3.0.9", 8100, "0", "a=rtcp:8200\r\n"),
    );
    assert!(t.packet(MS, 7, b, ep("10.3.0.9", 8200), &rtcp_sdes(1, b"x"), &mut st));
    assert!(!t.packet(MS, 8, b, ep("10.3.0.9", 8101), &rtcp_sdes(1, b"x"), &mut st));
}

#[test]
fn dtmf_by_heuristic_pt101_and_bound() {
    let limits = CaptureLimits {
        max_rtp_streams: 1,
        ..CaptureLimits::DEFAULT
    };
    let (mut t, mut st) = tracker(limits);
    let (a, b) = (ep("10.4.0.1", 9000), ep("10.4.0.2", 9002));
    let mut seq = 0u16;
    let mut now = 0;
    let mut send = |t: &mut RtpTracker, st: &mut RtpStats, pt: u8, ts: u32, pl: &[u8]| {
        now += 20 * MS;
        seq += 1;
        t.packet(
            now,
            u64::from(seq),
            a,
            b,
            &rtp(seq, ts, 5, pt, false, pl),
            st,
        )
    };
    send(&mut t, &mut st, 0, 0, &[0; 160]);
    assert!(send(&mut t, &mut st, 0, 160, &[0; 160]));
    // 20 events, one packet each with the E bit; then one that is not DTMF-like.
    for k in 0..20u32 {
        assert!(send(
            &mut t,
            &mut st,
            101,
            1000 * k,
            &event((k % 17) as u8, true, 7, 400)
        ));
    }
    send(&mut t, &mut st, 101, 99_999, &event(200, true, 7, 400));
    send(&mut t, &mut st, 101, 99_999, &[1, 2, 3, 4, 5, 6]);
    let (_, dtmf) = t.finish(&mut st);
    assert_eq!(dtmf.len(), 16);
    assert_eq!((st.dtmf_events, st.dtmf_dropped), (16, 4));
    assert_eq!(dtmf[0].digit, Some("0"));
    assert_eq!(dtmf[0].duration_ms, Some(50.0));
    assert_eq!(dtmf[0].call_id, None);
}

#[test]
fn sdp_event_pt_and_clock() {
    let (mut t, mut st) = tracker(CaptureLimits::DEFAULT);
    // PT 96 is telephone-event at 16 kHz here; PT 101 is something else.
    let extra = "a=rtpmap:96 telephone-event/16000\r\na=rtpmap:101 opus/48000/2\r\n";
    announce(
        &mut t,
        &mut st,
        0,
        "cid-16k",
        &sdp("10.5.0.1", 5000, "101 96", extra),
    );
    let (a, b) = (ep("10.5.0.2", 5002), ep("10.5.0.1", 5000));
    assert!(t.packet(0, 1, a, b, &rtp(1, 0, 9, 101, false, &[1; 40]), &mut st));
    assert!(t.packet(
        20 * MS,
        2,
        a,
        b,
        &rtp(2, 960, 9, 101, false, &[1; 40]),
        &mut st
    ));
    assert!(t.packet(
        40 * MS,
        3,
        a,
        b,
        &rtp(3, 1920, 9, 96, true, &event(3, false, 5, 320)),
        &mut st
    ));
    assert!(t.packet(
        60 * MS,
        4,
        a,
        b,
        &rtp(4, 1920, 9, 96, false, &event(3, true, 5, 640)),
        &mut st
    ));
    assert!(t.packet(
        65 * MS,
        5,
        a,
        b,
        &rtp(5, 1920, 9, 96, false, &event(3, true, 5, 640)),
        &mut st
    ));
    let (rows, dtmf) = t.finish(&mut st);
    assert_eq!(rows[0].codec.as_deref(), Some("opus"));
    assert_eq!(rows[0].clock_rate, 48000);
    assert_eq!(rows[0].call_id.as_deref(), Some("cid-16k"));
    assert_eq!(dtmf.len(), 1);
    assert_eq!(
        (dtmf[0].digit, dtmf[0].duration_ms, dtmf[0].packets),
        (Some("3"), Some(40.0), Some(2))
    );
    assert_eq!(dtmf[0].call_id.as_deref(), Some("cid-16k"));
}

#[test]
fn late_sdp_gives_the_heuristic_stream_its_call_id() {
    let (mut t, mut st) = tracker(CaptureLimits::DEFAULT);
    let (a, b) = (ep("10.6.0.1", 5000), ep("10.6.0.2", 5002));
    assert!(!t.packet(0, 1, a, b, &rtp(1, 0, 3, 8, false, &[0; 160]), &mut st));
    assert!(t.packet(
        20 * MS,
        2,
        a,
        b,
        &rtp(2, 160, 3, 8, false, &[0; 160]),
        &mut st
    ));
    announce(
        &mut t,
        &mut st,
        30 * MS,
        "late",
        &sdp("10.6.0.2", 5002, "8", ""),
    );
    assert!(t.packet(
        40 * MS,
        3,
        a,
        b,
        &rtp(3, 320, 3, 8, false, &[0; 160]),
        &mut st
    ));
    let (rows, _) = t.finish(&mut st);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].packets, rows[0].from_sdp), (3, false));
    assert_eq!(rows[0].call_id.as_deref(), Some("late"));
}

#[test]
fn heuristic_confirmation_rules() {
    let (mut t, mut st) = tracker(CaptureLimits::DEFAULT);
    let (a, b) = (ep("10.7.0.1", 5000), ep("10.7.0.2", 5002));
    let p = |seq: u16, ts: u32, pt: u8| rtp(seq, ts, 4, pt, false, &[0; 160]);
    // Too far in time, too far in sequence, timestamp too far, same sequence: never confirmed.
    assert!(!t.packet(0, 1, a, b, &p(1, 0, 0), &mut st));
    assert!(!t.packet(6000 * MS, 2, a, b, &p(2, 160, 0), &mut st));
    assert!(!t.packet(6020 * MS, 3, a, b, &p(20, 320, 0), &mut st));
    assert!(!t.packet(6040 * MS, 4, a, b, &p(21, 9_000_000, 0), &mut st));
    assert!(!t.packet(6060 * MS, 5, a, b, &p(21, 9_000_000, 0), &mut st));
    // PTs not used for media (RTCP-range, unassigned), empty payloads.
    assert!(!t.packet(0, 6, a, b, &rtp(1, 0, 5, 72, false, &[0; 10]), &mut st));
    assert!(!t.packet(20, 7, a, b, &rtp(2, 160, 5, 72, false, &[0; 10]), &mut st));
    assert!(!t.packet(0, 8, a, b, &rtp(1, 0, 6, 0, false, &[]), &mut st));
    assert!(!t.packet(20, 9, a, b, &rtp(2, 160, 6, 0, false, &[]), &mut st));
    // Then a good second packet confirms: both counted.
    assert!(t.packet(6080 * MS, 10, a, b, &p(23, 9_000_320, 0), &mut st));
    let (rows, _) = t.finish(&mut st);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].packets, rows[0].first_frame), (2, 5));
}

#[test]
fn sdp_variants() {
    let (mut t, mut st) = tracker(CaptureLimits::DEFAULT);
    end_deferral(&mut t, &mut st);
    announce(&mut t, &mut st, 0, "c", "not sdp at all\r\n\x00\x01");
    let head = "v=0\r\no=- 1 1 IN IP4 10.8.0.1\r\ns=-\r\nt=0 0\r\n";
    let m = "m=audio 4000 RTP/AVP 0\r\n";
    announce(
        &mut t,
        &mut st,
        0,
        "c",
        &format!("{head}c=IN IP4 host.example\r\n{m}"),
    );
    announce(
        &mut t,
        &mut st,
        0,
        "c",
        &format!("{head}c=IN IP4 0.0.0.0\r\n{m}"),
    );
    let off = "m=audio 0 RTP/AVP 0\r\nm=image 4000 udptl t38\r\n";
    announce(
        &mut t,
        &mut st,
        0,
        "c",
        &format!("{head}c=IN IP4 10.8.0.1\r\n{off}"),
    );
    // Media-level c= over the session's.
    let media_c = "m=audio 4100 RTP/AVP 0\r\nc=IN IP4 10.8.0.2\r\n";
    announce(
        &mut t,
        &mut st,
        0,
        "m",
        &format!("{head}c=IN IP4 10.8.0.1\r\n{media_c}"),
    );
    assert_eq!(st.rtp_sdp_bodies, 5);
    assert_eq!(st.rtp_sdp_unusable, 2);
    assert_eq!(st.rtp_sdp_media, 1);
    let p = rtp(1, 0, 1, 0, false, &[0; 10]);
    assert!(t.packet(0, 1, ep("1.1.1.1", 9), ep("10.8.0.2", 4100), &p, &mut st));
    assert!(!t.packet(0, 2, ep("1.1.1.1", 9), ep("10.8.0.1", 4100), &p, &mut st));
}

/// `cargo test --release -p sipwire-capture --test rtp speed -- --ignored --nocapture`: the
/// per-packet path alone, 2,000 interleaved SDP streams, packets back to back in one buffer
/// as in a capture file.
#[test]
#[ignore]
fn speed() {
    let mut buf = Vec::new();
    let mut index = Vec::new();
    for i in 0..500u32 {
        for s in 0..2000u32 {
            let p = rtp(i as u16, i * 160, s, 0, false, &[0; 160]);
            index.push((10_000 + (s % 500) as u16, buf.len(), p.len()));
            buf.extend(p);
        }
    }
    let dst = ep("10.0.0.2", 20_000);
    let (mut t, mut st) = tracker(CaptureLimits::DEFAULT);
    for s in 0..500u16 {
        announce(
            &mut t,
            &mut st,
            0,
            "c",
            &sdp("10.0.0.1", 10_000 + s, "0", ""),
        );
    }
    let src_ip: IpAddr = "10.0.0.1".parse().unwrap();
    let start = std::time::Instant::now();
    for (i, &(port, at, len)) in index.iter().enumerate() {
        let src = Endpoint { ip: src_ip, port };
        t.packet(
            i as i64 * 10_000,
            i as u64,
            src,
            dst,
            &buf[at..at + len],
            &mut st,
        );
    }
    let el = start.elapsed();
    let (rows, _) = t.finish(&mut st);
    assert_eq!(rows.len(), 2000);
    assert_eq!(st.rtp_packets, index.len() as u64);
    let rate = index.len() as f64 / el.as_secs_f64();
    eprintln!("{} packets in {el:?}: {rate:.0} packets/s", index.len());
}

/// `SIPWIRE_RTP_PCAP_DIR=dir cargo test --test rtp dump_scenarios -- --ignored` writes the
/// scenarios as pcap files, to look at them with tshark or Wireshark.
#[test]
#[ignore]
fn dump_scenarios() {
    let dir = std::env::var("SIPWIRE_RTP_PCAP_DIR").unwrap_or_else(|_| ".".into());
    let dir = Path::new(&dir);
    for (name, pkts) in [
        ("call", call()),
        ("two_ssrcs", two_ssrcs()),
        ("no_sdp", no_sdp()),
        ("quirks", quirks()),
    ] {
        write_pcap(&dir.join(format!("{name}.pcap")), &pkts);
    }
}

/// Reads a classic pcap of Ethernet / IPv4 or IPv6 / UDP frames (what `write_pcap` and the
/// Python generator tests/capgen/rtp.py write) back into datagrams.
fn read_pcap(data: &[u8]) -> Vec<Pkt> {
    let magic = u32::from_le_bytes(data[0..4].try_into().unwrap());
    let nanos = match magic {
        0xa1b2_c3d4 => false,
        0xa1b2_3c4d => true,
        m => panic!("not a little-endian classic pcap: {m:#x}"),
    };
    let mut out = Vec::new();
    let mut at = 24;
    let mut first = None;
    while at + 16 <= data.len() {
        let u = |o: usize| u32::from_le_bytes(data[at + o..at + o + 4].try_into().unwrap());
        let (sec, frac, caplen) = (i64::from(u(0)), i64::from(u(4)), u(8) as usize);
        let frame = &data[at + 16..at + 16 + caplen];
        at += 16 + caplen;
        let t_us = sec * 1_000_000 + if nanos { frac / 1000 } else { frac };
        let first = *first.get_or_insert(t_us);
        let (src, dst, udp) = match u16::from_be_bytes([frame[12], frame[13]]) {
            0x0800 => {
                let ihl = usize::from(frame[14] & 0x0f) * 4;
                let s: [u8; 4] = frame[26..30].try_into().unwrap();
                let d: [u8; 4] = frame[30..34].try_into().unwrap();
                (IpAddr::from(s), IpAddr::from(d), &frame[14 + ihl..])
            }
            0x86dd => {
                let s: [u8; 16] = frame[22..38].try_into().unwrap();
                let d: [u8; 16] = frame[38..54].try_into().unwrap();
                (IpAddr::from(s), IpAddr::from(d), &frame[54..])
            }
            _ => continue,
        };
        let port = |o: usize| u16::from_be_bytes([udp[o], udp[o + 1]]);
        out.push(Pkt {
            t_us: t_us - first,
            src: Endpoint {
                ip: src,
                port: port(0),
            },
            dst: Endpoint {
                ip: dst,
                port: port(2),
            },
            payload: udp[8..].to_vec(),
        });
    }
    out
}

#[test]
fn pcap_round_trip() {
    let pkts = quirks();
    let dir = std::env::temp_dir().join(format!("sipwire-rtp-{}-rt", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("q.pcap");
    write_pcap(&path, &pkts);
    let back = read_pcap(&std::fs::read(&path).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(back.len(), pkts.len());
    assert!(back.iter().zip(&pkts).all(|(a, b)| a.src == b.src
        && a.dst == b.dst
        && a.payload == b.payload
        && a.t_us == b.t_us - pkts[0].t_us));
}

/// `SIPWIRE_RTP_PCAP=file.pcap cargo test --test rtp external_pcap -- --ignored --nocapture`:
/// runs a capture of plain UDP (e.g. one of tests/capgen/rtp.py's) through the tracker and
/// compares it with tshark (`SIPWIRE_RTP_HEURISTIC=1` turns tshark's RTP heuristic on).
#[test]
#[ignore]
fn external_pcap() {
    let Ok(path) = std::env::var("SIPWIRE_RTP_PCAP") else {
        return;
    };
    let pkts = read_pcap(&std::fs::read(&path).unwrap());
    let out = run(&pkts);
    for r in &out.rows {
        eprintln!("{:?}", as_tshark(r, t0(&pkts)));
    }
    for d in &out.dtmf {
        eprintln!("{d:?}");
    }
    eprintln!("{:?}", out.stats);
    let heuristic = std::env::var("SIPWIRE_RTP_HEURISTIC").is_ok();
    if let Some(theirs) = live("external", &pkts, heuristic) {
        let ours: Vec<u32> = out.rows.iter().map(|r| r.ssrc).collect();
        let theirs: Vec<TsharkRow> = theirs
            .into_iter()
            .filter(|t| ours.contains(&t.ssrc))
            .collect();
        assert_matches(&out.rows, &theirs, t0(&pkts));
        eprintln!("{} streams match tshark", theirs.len());
    }
}

/// Bodies queued before the first RTP-looking datagram give the tables that learning each at
/// once gives: the same streams, media and counters, once that datagram has come.
#[test]
fn deferred_sdp_learns_as_learning_at_once_would() {
    let run = |at_once: bool| {
        let (mut t, mut st) = tracker(CaptureLimits::DEFAULT);
        if at_once {
            end_deferral(&mut t, &mut st);
        }
        announce(
            &mut t,
            &mut st,
            0,
            "a",
            &sdp(
                "10.5.0.1",
                4000,
                "0 101",
                "a=rtpmap:101 telephone-event/8000\r\n",
            ),
        );
        announce(
            &mut t,
            &mut st,
            0,
            "a",
            &sdp(
                "10.5.0.2",
                5000,
                "0 101",
                "a=rtpmap:101 telephone-event/8000\r\n",
            ),
        );
        announce(&mut t, &mut st, 0, "b", "v=0\r\nbroken");
        announce(&mut t, &mut st, 0, "b", &sdp("0.0.0.0", 5002, "8", ""));
        // Re-announced by another call: the later one wins either way.
        announce(&mut t, &mut st, 0, "c", &sdp("10.5.0.2", 5000, "8", ""));
        if !at_once {
            assert_eq!((st.rtp_sdp_bodies, st.rtp_sdp_media), (5, 0));
            end_deferral(&mut t, &mut st);
        }
        for (i, (src, dst)) in [
            (ep("10.5.0.2", 5000), ep("10.5.0.1", 4000)),
            (ep("10.5.0.1", 4000), ep("10.5.0.2", 5000)),
        ]
        .into_iter()
        .enumerate()
        {
            for seq in 0..5u16 {
                let p = rtp(seq, u32::from(seq) * 160, 7 + i as u32, 0, false, &[0; 20]);
                assert!(t.packet(i64::from(seq) * 20 * MS, 1, src, dst, &p, &mut st));
            }
        }
        let (rows, _) = t.finish(&mut st);
        let rows: Vec<_> = rows
            .iter()
            .map(|r| (r.ssrc, r.packets, r.call_id.clone(), r.payload_type))
            .collect();
        (rows, st)
    };
    let (deferred, ds) = run(false);
    let (at_once, ns) = run(true);
    assert_eq!(deferred, at_once);
    assert_eq!(deferred.len(), 2);
    assert!(deferred.iter().any(|r| r.2.as_deref() == Some("c")));
    let counts = |s: &RtpStats| {
        (
            s.rtp_sdp_bodies,
            s.rtp_sdp_errors,
            s.rtp_sdp_media,
            s.rtp_sdp_unusable,
            s.rtp_streams_sdp,
            s.rtp_sdp_unread,
            s.rtp_sdp_dropped,
        )
    };
    assert_eq!(counts(&ds), counts(&ns));
    assert_eq!(counts(&ds), (5, 1, 3, 1, 2, 0, 0));
}

/// A capture of signalling alone never reads its SDP: the bodies are counted unread at the
/// end. The queue holds at most `max_media_endpoints` bodies (the newest) in 64 bytes a slot;
/// the kept ones are still learnt when RTP comes after all, and only then are the others
/// counted as dropped.
#[test]
fn deferred_sdp_queue_is_bounded() {
    let (mut t, mut st) = tracker(CaptureLimits::DEFAULT);
    for k in 0..50u16 {
        announce(
            &mut t,
            &mut st,
            0,
            "c",
            &sdp("10.6.0.1", 4000 + 2 * k, "0", ""),
        );
    }
    let (rows, _) = t.finish(&mut st);
    assert!(rows.is_empty());
    assert_eq!(
        (st.rtp_sdp_bodies, st.rtp_sdp_unread, st.rtp_sdp_media),
        (50, 50, 0)
    );

    // Four slots: four bodies, and 4 x 64 bytes of Call-ID and body. Tiny bodies meet the
    // count first.
    let limits = CaptureLimits {
        max_media_endpoints: 4,
        ..CaptureLimits::DEFAULT
    };
    let (mut t, mut st) = tracker(limits);
    for _ in 0..7 {
        announce(&mut t, &mut st, 0, "c", "v=0\r\n");
    }
    end_deferral(&mut t, &mut st);
    assert_eq!((st.rtp_sdp_dropped, st.rtp_sdp_errors), (3, 4));
    // With no RTP at all, what left the queue was never needed: unread, not dropped.
    let (mut t, mut st) = tracker(limits);
    for _ in 0..7 {
        announce(&mut t, &mut st, 0, "c", "v=0\r\n");
    }
    let _ = t.finish(&mut st);
    assert_eq!(
        (st.rtp_sdp_unread, st.rtp_sdp_dropped, st.rtp_sdp_errors),
        (7, 0, 0)
    );

    // Real bodies (98 bytes here) meet the bytes first: two fit in 256. What was dropped
    // is not known; the kept ones are.
    let (mut t, mut st) = tracker(limits);
    announce_ports(&mut t, &mut st, "10.6.0.1", 6000, 3);
    let p = rtp(1, 160, 7, 0, false, &[0; 20]);
    assert!(!t.packet(MS, 1, ep("10.6.0.2", 1), ep("10.6.0.1", 6000), &p, &mut st));
    assert_eq!(st.rtp_sdp_dropped, 1);
    assert!(t.packet(MS, 2, ep("10.6.0.2", 1), ep("10.6.0.1", 6010), &p, &mut st));
    assert!(t.packet(MS, 3, ep("10.6.0.2", 1), ep("10.6.0.1", 6020), &p, &mut st));
    assert_eq!(st.rtp_sdp_media, 2);

    // A body longer than all of it is still kept alone (the newest is never dropped).
    let (mut t, mut st) = tracker(limits);
    announce_ports(&mut t, &mut st, "10.6.0.1", 6000, 3);
    let long = sdp("10.6.0.1", 7000, "0", &"a=x-pad:0123456789\r\n".repeat(20));
    assert!(long.len() > 256);
    announce(&mut t, &mut st, 0, "c", &long);
    assert!(t.packet(MS, 1, ep("10.6.0.2", 1), ep("10.6.0.1", 7000), &p, &mut st));
    assert_eq!(st.rtp_sdp_dropped, 3);
    assert_eq!((st.rtp_streams_sdp, st.rtp_sdp_media), (1, 1));
    // Once RTP has come, bodies are learnt as they come: none is queued or dropped.
    announce_ports(&mut t, &mut st, "10.6.0.1", 8000, 9);
    assert_eq!((st.rtp_sdp_dropped, st.rtp_sdp_media), (3, 10));
    let _ = t.finish(&mut st);
    assert_eq!(st.rtp_sdp_unread, 0);
}
