//! Link layers: from a captured frame (or a tunnel's inner frame) to the IP packet it carries.
//!
//! Link types are the LINKTYPE_* values of <https://www.tcpdump.org/linktypes.html>. Padding
//! and a trailing FCS are left on the slice: the IP total length trims them later.

use crate::decode::DecodeStats;

/// An IP packet found under the link layers, still with its IP header.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Net<'a> {
    V4(&'a [u8]),
    V6(&'a [u8]),
}

pub const LINKTYPE_NULL: u32 = 0;
pub const LINKTYPE_ETHERNET: u32 = 1;
/// DLT_RAW as most systems number it, found in old pcap files instead of 101.
pub const DLT_RAW_12: u32 = 12;
/// DLT_RAW as OpenBSD numbers it.
pub const DLT_RAW_14: u32 = 14;
pub const LINKTYPE_RAW: u32 = 101;
pub const LINKTYPE_LOOP: u32 = 108;
pub const LINKTYPE_LINUX_SLL: u32 = 113;
pub const LINKTYPE_IPV4: u32 = 228;
pub const LINKTYPE_IPV6: u32 = 229;
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_QINQ: u16 = 0x88A8;
pub const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
pub const ETHERTYPE_MPLS: u16 = 0x8847;
pub const ETHERTYPE_MPLS_MCAST: u16 = 0x8848;
pub const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// Transparent Ethernet bridging (an Ethernet frame follows), as GRE carries it.
pub const ETHERTYPE_TEB: u16 = 0x6558;

/// Stacked headers (VLAN tags, MPLS labels, PPPoE, inner Ethernet) followed in one frame
/// before giving up: real stacks have two or three.
const MAX_LINK_HEADERS: usize = 16;

/// Reads a big-endian u16 at `at`.
#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

/// Reads a big-endian u32 at `at`.
#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    let a: [u8; 4] = s.try_into().ok()?;
    Some(u32::from_be_bytes(a))
}

/// The IP packet of one captured frame on link type `linktype`; `None` (counted) when it
/// carries none that is decoded.
pub(crate) fn link<'a>(linktype: u32, data: &'a [u8], stats: &mut DecodeStats) -> Option<Net<'a>> {
    match linktype {
        LINKTYPE_ETHERNET => ethernet(data, stats),
        LINKTYPE_RAW | DLT_RAW_12 | DLT_RAW_14 => raw_ip(data, stats),
        LINKTYPE_IPV4 => Some(Net::V4(data)),
        LINKTYPE_IPV6 => Some(Net::V6(data)),
        LINKTYPE_LINUX_SLL => sll(data, stats),
        LINKTYPE_LINUX_SLL2 => sll2(data, stats),
        LINKTYPE_NULL | LINKTYPE_LOOP => loopback(linktype, data, stats),
        _ => {
            stats.unknown_linktype += 1;
            None
        }
    }
}

/// Raw IP: the version nibble says which.
fn raw_ip<'a>(data: &'a [u8], stats: &mut DecodeStats) -> Option<Net<'a>> {
    match data.first().map(|b| b >> 4) {
        Some(4) => Some(Net::V4(data)),
        Some(6) => Some(Net::V6(data)),
        Some(_) => {
            stats.ip_bad_header += 1;
            None
        }
        None => {
            stats.link_truncated += 1;
            None
        }
    }
}

/// BSD loopback (NULL: a 4-byte address family in the capturing host's byte order) and
/// OpenBSD LOOP (the same in network byte order). AF_INET is 2 everywhere; AF_INET6 is 24
/// (NetBSD, OpenBSD), 28 (FreeBSD) or 30 (macOS).
fn loopback<'a>(linktype: u32, data: &'a [u8], stats: &mut DecodeStats) -> Option<Net<'a>> {
    let Some((af, rest)) = data.split_at_checked(4) else {
        stats.link_truncated += 1;
        return None;
    };
    let af: [u8; 4] = af.try_into().ok()?;
    let be = u32::from_be_bytes(af);
    let le = u32::from_le_bytes(af);
    // NULL is in the capturing host's order: a family is small, so the order that reads
    // a small number is the host's.
    let family = if linktype == LINKTYPE_LOOP || be <= 0xFF {
        be
    } else {
        le
    };
    match family {
        2 => Some(Net::V4(rest)),
        24 | 28 | 30 => Some(Net::V6(rest)),
        _ => {
            stats.unknown_ethertype += 1;
            None
        }
    }
}

/// Linux cooked capture v1: packet type (2), ARPHRD type (2), address length (2), address
/// (8), protocol (2, an ethertype for the link types that matter here).
fn sll<'a>(data: &'a [u8], stats: &mut DecodeStats) -> Option<Net<'a>> {
    let (Some(proto), Some(rest)) = (be16(data, 14), data.get(16..)) else {
        stats.link_truncated += 1;
        return None;
    };
    ethertype(proto, rest, stats)
}

/// Linux cooked capture v2: protocol (2), reserved (2), interface index (4), ARPHRD type (2),
/// packet type (1), address length (1), address (8).
fn sll2<'a>(data: &'a [u8], stats: &mut DecodeStats) -> Option<Net<'a>> {
    let (Some(proto), Some(rest)) = (be16(data, 0), data.get(20..)) else {
        stats.link_truncated += 1;
        return None;
    };
    ethertype(proto, rest, stats)
}

/// An Ethernet II frame (or an 802.3 frame with LLC/SNAP), from its destination address.
pub(crate) fn ethernet<'a>(data: &'a [u8], stats: &mut DecodeStats) -> Option<Net<'a>> {
    let (ty, rest) = ethernet_header(data, stats)?;
    ethertype(ty, rest, stats)
}

/// The ethertype and payload of an Ethernet header. A type field up to 1500 is an 802.3
/// length (IEEE 802.3 §3.2.6): only LLC/SNAP with a zero OUI carries an ethertype then
/// (RFC 1042).
fn ethernet_header<'a>(data: &'a [u8], stats: &mut DecodeStats) -> Option<(u16, &'a [u8])> {
    let (Some(ty), Some(rest)) = (be16(data, 12), data.get(14..)) else {
        stats.link_truncated += 1;
        return None;
    };
    if ty >= 0x0600 {
        return Some((ty, rest));
    }
    match rest.get(..6) {
        Some([0xAA, 0xAA, 0x03, 0, 0, 0]) => match (be16(rest, 6), rest.get(8..)) {
            (Some(ty), Some(rest)) => Some((ty, rest)),
            _ => {
                stats.link_truncated += 1;
                None
            }
        },
        _ => {
            stats.unknown_ethertype += 1;
            None
        }
    }
}

/// Follows an ethertype through VLAN tags (IEEE 802.1Q, 802.1ad QinQ and the older 0x9100),
/// MPLS label stacks (RFC 3032), PPPoE sessions (RFC 2516) and bridged Ethernet to IP.
pub(crate) fn ethertype<'a>(
    mut ty: u16,
    mut data: &'a [u8],
    stats: &mut DecodeStats,
) -> Option<Net<'a>> {
    for _ in 0..MAX_LINK_HEADERS {
        match ty {
            ETHERTYPE_IPV4 => return Some(Net::V4(data)),
            ETHERTYPE_IPV6 => return Some(Net::V6(data)),
            // A 4-byte tag: TCI (2), then the next ethertype (2).
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                let (Some(next), Some(rest)) = (be16(data, 2), data.get(4..)) else {
                    stats.link_truncated += 1;
                    return None;
                };
                ty = next;
                data = rest;
            }
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MCAST => return mpls(data, stats),
            // PPPoE session header (6), then the PPP protocol (2): 0x0021 IPv4, 0x0057 IPv6.
            ETHERTYPE_PPPOE_SESSION => {
                let (Some(proto), Some(rest)) = (be16(data, 6), data.get(8..)) else {
                    stats.link_truncated += 1;
                    return None;
                };
                return match proto {
                    0x0021 => Some(Net::V4(rest)),
                    0x0057 => Some(Net::V6(rest)),
                    _ => {
                        stats.unknown_ethertype += 1;
                        None
                    }
                };
            }
            ETHERTYPE_TEB => {
                let (next, rest) = ethernet_header(data, stats)?;
                ty = next;
                data = rest;
            }
            _ => {
                stats.unknown_ethertype += 1;
                return None;
            }
        }
    }
    stats.link_too_deep += 1;
    None
}

/// An MPLS label stack (RFC 3032 §2.1: 4 bytes a label, S bit on the last), then IP told by
/// its version nibble (RFC 4182 leaves no other clue for IP over MPLS).
fn mpls<'a>(mut data: &'a [u8], stats: &mut DecodeStats) -> Option<Net<'a>> {
    for _ in 0..MAX_LINK_HEADERS {
        let Some((label, rest)) = data.split_at_checked(4) else {
            stats.link_truncated += 1;
            return None;
        };
        data = rest;
        let bottom = label.get(2).is_some_and(|b| b & 1 == 1);
        if bottom {
            return match data.first().map(|b| b >> 4) {
                Some(4) => Some(Net::V4(data)),
                Some(6) => Some(Net::V6(data)),
                Some(_) => {
                    stats.unknown_ethertype += 1;
                    None
                }
                None => {
                    stats.link_truncated += 1;
                    None
                }
            };
        }
    }
    stats.link_too_deep += 1;
    None
}
