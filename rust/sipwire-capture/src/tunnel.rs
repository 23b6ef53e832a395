//! Tunnel headers: GRE (with ERSPAN types I, II and III), VXLAN and Geneve. IP-in-IP needs
//! no header of its own (decode.rs hands the payload back to the IP layer). Each function
//! takes the bytes after the outer header and returns the inner packet as an ethertype and
//! its bytes, for [`crate::link::ethertype`]; the nesting bound is decode.rs's.

use crate::decode::DecodeStats;
use crate::link::{be16, ETHERTYPE_TEB};

/// UDP destination port of VXLAN (RFC 7348 §5).
pub const VXLAN_PORT: u16 = 4789;
/// UDP destination port of Geneve (RFC 8926 §3.3).
pub const GENEVE_PORT: u16 = 6081;

/// GRE protocol type of ERSPAN types I and II.
pub const GRE_ERSPAN_II: u16 = 0x88BE;
/// GRE protocol type of ERSPAN type III.
pub const GRE_ERSPAN_III: u16 = 0x22EB;

const GRE_C: u16 = 0x8000;
const GRE_R: u16 = 0x4000;
const GRE_K: u16 = 0x2000;
const GRE_S: u16 = 0x1000;
const GRE_VERSION: u16 = 0x0007;

/// What a GRE packet carries: `(ethertype, bytes)`. RFC 2784 §2 (C bit: checksum and a
/// reserved word), RFC 2890 §2 (K: key, S: sequence number), version 0 only (version 1 is
/// PPTP's enhanced GRE, RFC 2637). RFC 1701 source routing (R) is not decoded.
pub(crate) fn gre<'a>(data: &'a [u8], stats: &mut DecodeStats) -> Option<(u16, &'a [u8])> {
    let (Some(flags), Some(proto)) = (be16(data, 0), be16(data, 2)) else {
        stats.tunnel_truncated += 1;
        return None;
    };
    if flags & GRE_VERSION != 0 || flags & GRE_R != 0 {
        stats.tunnel_unsupported += 1;
        return None;
    }
    let len = 4
        + 4 * usize::from(flags & GRE_C != 0)
        + 4 * usize::from(flags & GRE_K != 0)
        + 4 * usize::from(flags & GRE_S != 0);
    let Some(rest) = data.get(len..) else {
        stats.tunnel_truncated += 1;
        return None;
    };
    stats.tunnel_gre += 1;
    match proto {
        GRE_ERSPAN_II => {
            stats.tunnel_erspan += 1;
            if flags & GRE_S == 0 {
                // Type I: the mirrored frame follows GRE directly.
                return Some((ETHERTYPE_TEB, rest));
            }
            // Type II: an 8-byte header (ver 1, VLAN, COS, En, T, session, index).
            let Some(inner) = rest.get(8..) else {
                stats.tunnel_truncated += 1;
                return None;
            };
            Some((ETHERTYPE_TEB, inner))
        }
        GRE_ERSPAN_III => {
            stats.tunnel_erspan += 1;
            erspan3(rest, stats)
        }
        _ => Some((proto, rest)),
    }
}

/// ERSPAN type III (draft-foschiano-erspan-03 §4.3): a 12-byte header whose last 16 bits are
/// P (1) FT (5) HW ID (6) D (1) Gra (2) O (1); O adds an 8-byte platform-specific subheader.
/// Frame type 0 is Ethernet, 2 is IP.
fn erspan3<'a>(rest: &'a [u8], stats: &mut DecodeStats) -> Option<(u16, &'a [u8])> {
    let Some(word) = be16(rest, 10) else {
        stats.tunnel_truncated += 1;
        return None;
    };
    let header = if word & 1 == 1 { 20 } else { 12 };
    let Some(inner) = rest.get(header..) else {
        stats.tunnel_truncated += 1;
        return None;
    };
    match (word >> 10) & 0x1F {
        0 => Some((ETHERTYPE_TEB, inner)),
        2 => match inner.first().map(|b| b >> 4) {
            Some(4) => Some((crate::link::ETHERTYPE_IPV4, inner)),
            Some(6) => Some((crate::link::ETHERTYPE_IPV6, inner)),
            Some(_) => {
                stats.ip_bad_header += 1;
                None
            }
            None => {
                stats.tunnel_truncated += 1;
                None
            }
        },
        _ => {
            stats.tunnel_unsupported += 1;
            None
        }
    }
}

/// Ethertypes a VXLAN inner frame plausibly starts with: used to tell VXLAN from another
/// protocol on port 4789.
fn plausible_inner(ty: u16) -> bool {
    matches!(
        ty,
        0x0800 | 0x86DD | 0x0806 | 0x8100 | 0x88A8 | 0x9100 | 0x8847 | 0x8864
    )
}

/// The inner Ethernet frame of a UDP payload that looks like VXLAN (RFC 7348 §5: flags
/// `RRRRIRRR` with I set; reserved bits zero except G, the group-policy extension's bit),
/// and whose inner frame has a plausible ethertype; `None` when it does not look so.
pub(crate) fn vxlan(payload: &[u8]) -> Option<&[u8]> {
    let flags = *payload.first()?;
    if flags & 0x08 == 0 || flags & 0x77 != 0 {
        return None;
    }
    let inner = payload.get(8..)?;
    plausible_inner(be16(inner, 12)?).then_some(inner)
}

/// The inner packet of a UDP payload that looks like Geneve (RFC 8926 §3.4: version 0,
/// options length in 4-byte units, protocol type an ethertype): `(ethertype, bytes)`.
pub(crate) fn geneve(payload: &[u8]) -> Option<(u16, &[u8])> {
    let first = *payload.first()?;
    if first >> 6 != 0 {
        return None;
    }
    let proto = be16(payload, 2)?;
    if !matches!(proto, ETHERTYPE_TEB | 0x0800 | 0x86DD) {
        return None;
    }
    let len = 8 + usize::from(first & 0x3F) * 4;
    Some((proto, payload.get(len..)?))
}
