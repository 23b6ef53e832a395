//! SIPp-like calls for the benches (the default `uac` scenario against a `uas`): INVITE with an
//! SDP offer, 100 Trying, 180 Ringing, 200 OK with the SDP answer, ACK, BYE, 200 OK. Distinct
//! Call-IDs, branches and tags per call; 64 caller hosts, one callee.

#![allow(dead_code)]

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};

pub const PID: u32 = 28_431;
pub const UAS: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 168, 10, 20), 5060);

/// Call number `n` as SIPp numbers its fields.
pub struct CallN {
    pub n: u32,
    pub uac: SocketAddrV4,
    pub media_port: u16,
}

impl CallN {
    pub fn new(n: u32) -> CallN {
        let host = u8::try_from(1 + n % 64).expect("host");
        CallN {
            n,
            uac: SocketAddrV4::new(Ipv4Addr::new(10, 20, 0, host), 5060),
            media_port: u16::try_from(6000 + 2 * (n % 4000)).expect("port"),
        }
    }
    pub fn call_id(&self) -> String {
        format!("{}-{}@{}", self.n, PID, self.uac.ip())
    }
    /// Branch of the `i`-th message the UAC sends (SIPp: `z9hG4bK-pid-call-msg`).
    pub fn branch(&self, i: u32) -> String {
        format!("z9hG4bK-{}-{}-{}", PID, self.n, i)
    }
    pub fn via(&self, i: u32) -> String {
        format!("SIP/2.0/UDP {};branch={}", self.uac, self.branch(i))
    }
    pub fn from(&self) -> String {
        format!(
            "sipp <sip:sipp@{}>;tag={}SIPpTag00{}",
            self.uac, PID, self.n
        )
    }
    pub fn to(&self, tagged: bool) -> String {
        let tag = if tagged {
            format!(";tag={}SIPpTag01{}", PID, self.n)
        } else {
            String::new()
        };
        format!("service <sip:service@{UAS}>{tag}")
    }
}

pub fn sdp(ip: Ipv4Addr, port: u16) -> String {
    format!(
        "v=0\r\no=user1 53655765 2353687637 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )
}

/// A UAC request: `branch` is the message number in its branch, `cseq` its CSeq line.
pub fn uac_request(c: &CallN, method: &str, branch: u32, cseq: &str, tagged: bool) -> Vec<u8> {
    let body = if method == "INVITE" {
        sdp(*c.uac.ip(), c.media_port)
    } else {
        String::new()
    };
    let ct = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    let mut out = Vec::with_capacity(800);
    write!(
        out,
        "{method} sip:service@{UAS} SIP/2.0\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\n\
         Call-ID: {}\r\nCSeq: {cseq}\r\nContact: sip:sipp@{}\r\nMax-Forwards: 70\r\n\
         Subject: Performance Test\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        c.via(branch),
        c.from(),
        c.to(tagged),
        c.call_id(),
        c.uac,
        body.len(),
    )
    .expect("write");
    out
}

pub fn invite(c: &CallN) -> Vec<u8> {
    uac_request(c, "INVITE", 0, "1 INVITE", false)
}

/// The ACK for the 2xx: a branch of its own (RFC 3261 §13.2.2.4).
pub fn ack(c: &CallN) -> Vec<u8> {
    uac_request(c, "ACK", 4, "1 ACK", true)
}

pub fn bye(c: &CallN) -> Vec<u8> {
    uac_request(c, "BYE", 5, "2 BYE", true)
}

/// A UAS response to the request with branch number `branch` (its Via, From, To, Call-ID
/// and CSeq copied, as SIPp's `[last_*]`).
pub fn uas_response(c: &CallN, status: &str, branch: u32, cseq: &str, with_sdp: bool) -> Vec<u8> {
    let tagged = !status.starts_with("100");
    let body = if with_sdp {
        sdp(
            *UAS.ip(),
            20_000 + u16::try_from(c.n % 10_000).expect("port"),
        )
    } else {
        String::new()
    };
    let ct = if with_sdp {
        "Content-Type: application/sdp\r\n"
    } else {
        ""
    };
    let mut out = Vec::with_capacity(800);
    write!(
        out,
        "SIP/2.0 {status}\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq}\r\n\
         Contact: <sip:{UAS};transport=UDP>\r\n{ct}Content-Length: {}\r\n\r\n{body}",
        c.via(branch),
        c.from(),
        c.to(tagged),
        c.call_id(),
        body.len(),
    )
    .expect("write");
    out
}

/// A deterministic PRNG (xorshift64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Call `n`'s seven messages (time, sent by the UAC, bytes, the UAC's address): one call
/// starting every 2 ms (±1 ms), ringing after 20-50 ms, answered 0.1-0.3 s later, hung up
/// 0.5-1.5 s after the ACK (~600 calls overlap).
pub fn call_messages(n: u32, rng: &mut Rng) -> [(f64, bool, Vec<u8>, SocketAddrV4); 7] {
    let c = CallN::new(n);
    let t0 = f64::from(n) * 0.002 + rng.range(0.0, 0.001);
    let ring = t0 + rng.range(0.02, 0.05);
    let answer = ring + rng.range(0.1, 0.3);
    let hangup = answer + 0.002 + rng.range(0.5, 1.5);
    let up = true; // UAC -> UAS
    [
        (t0, up, invite(&c), c.uac),
        (
            t0 + 0.001,
            !up,
            uas_response(&c, "100 Trying", 0, "1 INVITE", false),
            c.uac,
        ),
        (
            ring,
            !up,
            uas_response(&c, "180 Ringing", 0, "1 INVITE", false),
            c.uac,
        ),
        (
            answer,
            !up,
            uas_response(&c, "200 OK", 0, "1 INVITE", true),
            c.uac,
        ),
        (answer + 0.002, up, ack(&c), c.uac),
        (hangup, up, bye(&c), c.uac),
        (
            hangup + 0.002,
            !up,
            uas_response(&c, "200 OK", 5, "2 BYE", false),
            c.uac,
        ),
    ]
}
