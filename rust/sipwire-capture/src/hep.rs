//! HEP, the Homer Encapsulation Protocol: a captured packet with its addresses, ports and
//! capture time, as Kamailio, OpenSIPS, FreeSWITCH, Asterisk, rtpengine and heplify send it to
//! a HOMER collector, over UDP or TCP.
//!
//! Versions (from the HOMER project's HEP3 specification and its published header layouts):
//!
//! - HEPv3: `"HEP3"`, total length (u16, the whole packet), then chunks. A chunk is vendor id
//!   (u16), type id (u16), length (u16, including these 6 bytes), value; all big-endian.
//!   Vendor 0's generic types used here: 1 IP family (u8: 2 IPv4, 10 IPv6), 2 IP protocol
//!   (u8), 3/4 IPv4 source/destination, 5/6 IPv6 source/destination, 7/8 source/destination
//!   port (u16), 9 seconds and 10 microseconds of the capture time (u32), 11 protocol type
//!   (u8: 1 SIP, 5 RTCP, ...), 12 capture agent id (u32), 15 payload, 16 compressed payload.
//!   Other types and other vendors' chunks are skipped.
//! - HEPv1 and v2 (UDP only): version (1 or 2), header length (8 + the addresses: 16 for
//!   IPv4, 40 for IPv6), family, IP protocol, source port, destination port (big-endian),
//!   source and destination address; v2 then has a time header as the sender's C struct
//!   lays it out: seconds (u32), microseconds (u32), capture id (u16), 2 bytes of padding,
//!   in the sender's byte order (little-endian on the usual hosts; big-endian is taken when
//!   only that reading gives microseconds below one million). The payload follows.
//!
//! Decoding borrows: the payload is a slice of the input.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::types::Endpoint;

/// HEPv3's magic.
pub const HEP3_MAGIC: &[u8; 4] = b"HEP3";

/// Framing of HEPv3 on a byte stream (TCP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HepLen {
    /// A whole HEPv3 packet of this many bytes starts the buffer.
    Complete(usize),
    /// The buffer starts like HEPv3 but is shorter than its length says (or than a header).
    Incomplete,
    /// The buffer does not start with a HEPv3 header (or its length is below 6).
    NotHep,
}

/// How many bytes the HEPv3 packet at the start of `buf` takes, for framing a stream.
pub fn hep_frame_len(buf: &[u8]) -> HepLen {
    let Some(magic) = buf.get(..4) else {
        return if HEP3_MAGIC.starts_with(buf) {
            HepLen::Incomplete
        } else {
            HepLen::NotHep
        };
    };
    if magic != HEP3_MAGIC {
        return HepLen::NotHep;
    }
    match be16(buf, 4) {
        None => HepLen::Incomplete,
        Some(n) if n < 6 => HepLen::NotHep,
        Some(n) if buf.len() >= usize::from(n) => HepLen::Complete(usize::from(n)),
        Some(_) => HepLen::Incomplete,
    }
}

/// Whether `buf` starts like a HEP packet (the v3 magic, or a v1/v2 header whose version,
/// header length and family agree): a cheap test before [`decode_hep`].
pub fn is_hep(buf: &[u8]) -> bool {
    if buf.starts_with(HEP3_MAGIC) {
        return true;
    }
    matches!(
        (buf.first(), buf.get(1), buf.get(2).copied().and_then(v12_addr_len)),
        (Some(1 | 2), Some(&hl), Some(alen)) if usize::from(hl) == 8 + alen
    )
}

/// One decoded HEP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HepPacket<'a> {
    /// HEP version: 1, 2 or 3.
    pub version: u8,
    /// Capture time (ns since the Unix epoch) when the packet carries it (v2, or v3 with a
    /// seconds chunk).
    pub time_ns: Option<i64>,
    pub src: Endpoint,
    pub dst: Endpoint,
    /// IP protocol of the captured packet: 17 UDP, 6 TCP, 132 SCTP.
    pub ip_proto: u8,
    /// What the payload is: 1 SIP, 5 RTCP, ... (HEPv1 and v2 carry SIP only: 1).
    pub proto_type: u8,
    pub capture_id: Option<u32>,
    pub payload: &'a [u8],
}

/// What was wrong with a HEP packet, and at which byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HepError {
    pub kind: HepErrorKind,
    pub offset: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HepErrorKind {
    /// Neither the HEPv3 magic nor a HEPv1/v2 header.
    NotHep,
    /// The bytes end before a header, chunk or the total length does.
    Truncated,
    /// A HEPv3 total length below 6, or a HEPv1/v2 header length that disagrees with the
    /// family.
    BadLength,
    /// A chunk length below 6, or not the size its type has.
    BadChunkLength,
    /// A generic chunk type present twice.
    DuplicateChunk,
    /// An IP family other than IPv4 and IPv6, or one the addresses contradict.
    BadFamily,
    /// A mandatory chunk is missing (its type id).
    MissingChunk(u16),
    /// The payload is only in a compressed chunk (type 16), which is not decoded.
    CompressedPayload,
}

impl fmt::Display for HepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            HepErrorKind::NotHep => "not HEP".to_string(),
            HepErrorKind::Truncated => "truncated".to_string(),
            HepErrorKind::BadLength => "bad length".to_string(),
            HepErrorKind::BadChunkLength => "bad chunk length".to_string(),
            HepErrorKind::DuplicateChunk => "duplicate chunk".to_string(),
            HepErrorKind::BadFamily => "bad IP family".to_string(),
            HepErrorKind::MissingChunk(t) => format!("missing chunk type {t}"),
            HepErrorKind::CompressedPayload => "compressed payload not supported".to_string(),
        };
        write!(f, "HEP: {what} at offset {}", self.offset)
    }
}

impl std::error::Error for HepError {}

fn err(kind: HepErrorKind, offset: usize) -> HepError {
    HepError { kind, offset }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(s.try_into().ok()?))
}

/// Decodes one HEP packet (v1, v2 or v3). For v3, bytes after the total length are ignored.
pub fn decode_hep(buf: &[u8]) -> Result<HepPacket<'_>, HepError> {
    if buf.starts_with(HEP3_MAGIC) {
        return decode_v3(buf);
    }
    match (buf.first(), buf.get(1)) {
        (Some(1 | 2), Some(16 | 40)) => decode_v12(buf),
        (Some(1 | 2), None) | (None, _) => Err(err(HepErrorKind::Truncated, buf.len())),
        _ if HEP3_MAGIC.starts_with(buf) => Err(err(HepErrorKind::Truncated, buf.len())),
        _ => Err(err(HepErrorKind::NotHep, 0)),
    }
}

/// Address bytes (source and destination) of a HEPv1/v2 family: AF_INET is 2; AF_INET6 is
/// 10 on Linux (24, 28 or 30 on the BSDs and macOS).
fn v12_addr_len(family: u8) -> Option<usize> {
    match family {
        2 => Some(8),
        10 | 24 | 28 | 30 => Some(32),
        _ => None,
    }
}

fn decode_v12(buf: &[u8]) -> Result<HepPacket<'_>, HepError> {
    let header = buf
        .get(..8)
        .ok_or(err(HepErrorKind::Truncated, buf.len()))?;
    let (&version, &hl, &family, &ip_proto) = match header {
        [v, l, f, p, ..] => (v, l, f, p),
        _ => return Err(err(HepErrorKind::Truncated, buf.len())),
    };
    let alen = v12_addr_len(family).ok_or(err(HepErrorKind::BadFamily, 2))?;
    let hl = usize::from(hl);
    if hl != 8 + alen {
        return Err(err(HepErrorKind::BadLength, 1));
    }
    let addrs = buf
        .get(8..hl)
        .ok_or(err(HepErrorKind::Truncated, buf.len()))?;
    let (s, d) = addrs
        .split_at_checked(alen / 2)
        .ok_or(err(HepErrorKind::Truncated, 8))?;
    let (src, dst) = if alen == 8 {
        (ip4(s), ip4(d))
    } else {
        (ip6(s), ip6(d))
    };
    let (src, dst) = (
        src.ok_or(err(HepErrorKind::Truncated, 8))?,
        dst.ok_or(err(HepErrorKind::Truncated, 8))?,
    );
    let sport = be16(header, 4).ok_or(err(HepErrorKind::Truncated, 4))?;
    let dport = be16(header, 6).ok_or(err(HepErrorKind::Truncated, 6))?;
    let (time_ns, capture_id, payload) = if version == 2 {
        let t: [u8; 12] = buf
            .get(hl..hl + 12)
            .and_then(|t| t.try_into().ok())
            .ok_or(err(HepErrorKind::Truncated, buf.len()))?;
        let (sec, usec, capt) = v2_time(&t);
        let ns = i64::from(sec) * 1_000_000_000 + i64::from(usec) * 1_000;
        (
            Some(ns),
            Some(u32::from(capt)),
            buf.get(hl + 12..).unwrap_or(&[]),
        )
    } else {
        (None, None, buf.get(hl..).unwrap_or(&[]))
    };
    Ok(HepPacket {
        version,
        time_ns,
        src: Endpoint {
            ip: src,
            port: sport,
        },
        dst: Endpoint {
            ip: dst,
            port: dport,
        },
        ip_proto,
        proto_type: 1,
        capture_id,
        payload,
    })
}

/// Seconds, microseconds and capture id of a HEPv2 time header, in the sender's byte order.
fn v2_time(t: &[u8; 12]) -> (u32, u32, u16) {
    let [s0, s1, s2, s3, u0, u1, u2, u3, c0, c1, _, _] = *t;
    let le_usec = u32::from_le_bytes([u0, u1, u2, u3]);
    let be_usec = u32::from_be_bytes([u0, u1, u2, u3]);
    if le_usec >= 1_000_000 && be_usec < 1_000_000 {
        (
            u32::from_be_bytes([s0, s1, s2, s3]),
            be_usec,
            u16::from_be_bytes([c0, c1]),
        )
    } else {
        (
            u32::from_le_bytes([s0, s1, s2, s3]),
            le_usec,
            u16::from_le_bytes([c0, c1]),
        )
    }
}

fn ip4(b: &[u8]) -> Option<IpAddr> {
    let a: [u8; 4] = b.try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(a)))
}

fn ip6(b: &[u8]) -> Option<IpAddr> {
    let a: [u8; 16] = b.try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(a)))
}

/// The fields of a HEPv3 packet as chunks give them.
#[derive(Default)]
struct V3<'a> {
    family: Option<(u8, usize)>,
    ip_proto: Option<u8>,
    src4: Option<IpAddr>,
    dst4: Option<IpAddr>,
    src6: Option<IpAddr>,
    dst6: Option<IpAddr>,
    sport: Option<u16>,
    dport: Option<u16>,
    sec: Option<u32>,
    usec: Option<u32>,
    proto_type: Option<u8>,
    capture_id: Option<u32>,
    payload: Option<&'a [u8]>,
    compressed: bool,
}

/// A chunk's value as a fixed-size array, or `BadChunkLength` at the chunk.
fn fixed<const N: usize>(value: &[u8], at: usize) -> Result<[u8; N], HepError> {
    value
        .try_into()
        .map_err(|_| err(HepErrorKind::BadChunkLength, at))
}

fn decode_v3(buf: &[u8]) -> Result<HepPacket<'_>, HepError> {
    let total = usize::from(be16(buf, 4).ok_or(err(HepErrorKind::Truncated, buf.len()))?);
    if total < 6 {
        return Err(err(HepErrorKind::BadLength, 4));
    }
    let body = buf
        .get(..total)
        .ok_or(err(HepErrorKind::Truncated, buf.len()))?;
    let mut v = V3::default();
    let mut seen = 0u32;
    let mut at = 6;
    while at < total {
        let (Some(vendor), Some(ty), Some(len)) =
            (be16(body, at), be16(body, at + 2), be16(body, at + 4))
        else {
            return Err(err(HepErrorKind::Truncated, at));
        };
        let len = usize::from(len);
        if len < 6 {
            return Err(err(HepErrorKind::BadChunkLength, at + 4));
        }
        let value = body
            .get(at + 6..at + len)
            .ok_or(err(HepErrorKind::Truncated, at))?;
        if vendor == 0 && (1..=16).contains(&ty) {
            let bit = 1u32 << ty;
            if seen & bit != 0 {
                return Err(err(HepErrorKind::DuplicateChunk, at));
            }
            seen |= bit;
            v3_chunk(&mut v, ty, value, at)?;
        }
        at += len;
    }
    v3_packet(v, total)
}

fn v3_chunk<'a>(v: &mut V3<'a>, ty: u16, value: &'a [u8], at: usize) -> Result<(), HepError> {
    match ty {
        1 => v.family = Some((u8::from_be_bytes(fixed(value, at)?), at)),
        2 => v.ip_proto = Some(u8::from_be_bytes(fixed(value, at)?)),
        3 => v.src4 = Some(IpAddr::V4(Ipv4Addr::from(fixed::<4>(value, at)?))),
        4 => v.dst4 = Some(IpAddr::V4(Ipv4Addr::from(fixed::<4>(value, at)?))),
        5 => v.src6 = Some(IpAddr::V6(Ipv6Addr::from(fixed::<16>(value, at)?))),
        6 => v.dst6 = Some(IpAddr::V6(Ipv6Addr::from(fixed::<16>(value, at)?))),
        7 => v.sport = Some(u16::from_be_bytes(fixed(value, at)?)),
        8 => v.dport = Some(u16::from_be_bytes(fixed(value, at)?)),
        9 => v.sec = Some(u32::from_be_bytes(fixed(value, at)?)),
        10 => v.usec = Some(u32::from_be_bytes(fixed(value, at)?)),
        11 => v.proto_type = Some(u8::from_be_bytes(fixed(value, at)?)),
        // Some senders give the capture id as a u16.
        12 => {
            v.capture_id = Some(match value.len() {
                2 => u32::from(u16::from_be_bytes(fixed(value, at)?)),
                _ => u32::from_be_bytes(fixed(value, at)?),
            })
        }
        15 => v.payload = Some(value),
        16 => v.compressed = true,
        _ => {}
    }
    Ok(())
}

fn v3_packet(v: V3<'_>, end: usize) -> Result<HepPacket<'_>, HepError> {
    let missing = |t| err(HepErrorKind::MissingChunk(t), end);
    let (src, dst) = match v.family {
        Some((2, _)) => (v.src4.ok_or(missing(3))?, v.dst4.ok_or(missing(4))?),
        Some((10, _)) => (v.src6.ok_or(missing(5))?, v.dst6.ok_or(missing(6))?),
        Some((_, at)) => return Err(err(HepErrorKind::BadFamily, at)),
        None => match (v.src4, v.dst4, v.src6, v.dst6) {
            (Some(s), Some(d), _, _) => (s, d),
            (_, _, Some(s), Some(d)) => (s, d),
            (Some(_), None, _, _) => return Err(missing(4)),
            (None, Some(_), _, _) => return Err(missing(3)),
            (_, _, Some(_), None) => return Err(missing(6)),
            _ => return Err(missing(3)),
        },
    };
    let payload = match v.payload {
        Some(p) => p,
        None if v.compressed => return Err(err(HepErrorKind::CompressedPayload, end)),
        None => return Err(missing(15)),
    };
    Ok(HepPacket {
        version: 3,
        time_ns: v
            .sec
            .map(|s| i64::from(s) * 1_000_000_000 + i64::from(v.usec.unwrap_or(0)) * 1_000),
        src: Endpoint {
            ip: src,
            port: v.sport.ok_or(missing(7))?,
        },
        dst: Endpoint {
            ip: dst,
            port: v.dport.ok_or(missing(8))?,
        },
        ip_proto: v.ip_proto.ok_or(missing(2))?,
        proto_type: v.proto_type.ok_or(missing(11))?,
        capture_id: v.capture_id,
        payload,
    })
}
