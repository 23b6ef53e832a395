//! From a link-layer frame to layer-4 segments: link.rs, ip.rs, tunnel.rs behind one call.
//!
//! [`Decoder::decode`] calls `out` once per layer-4 segment a frame carries: zero times when
//! it carries none (or when it was an IP fragment whose datagram is not complete yet), once
//! with the whole datagram when the last fragment arrives. Segments borrow the record's
//! bytes; only a reassembled datagram is copied (into a buffer owned for the call).
//!
//! ```text
//! frame ─► link (link.rs) ─► IPv4 / IPv6 + ext headers + reassembly (ip.rs) ─► UDP / TCP / SCTP ─► out
//!                ▲                                                              │
//!                └── GRE, ERSPAN, VXLAN, Geneve (tunnel.rs), IP-in-IP ◄─────────┘ (depth-bounded)
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ip::{self, FragKey, Fragment, Upper, MAX_DATAGRAM};
use crate::link::{self, be16, be32, Net, ETHERTYPE_TEB};
use crate::stats::Counters;
use crate::tunnel;
use crate::types::{CaptureLimits, Endpoint, Record, Segment, L4};

/// Tunnel nesting followed whatever `max_tunnel_depth` says: each level recurses.
const HARD_MAX_TUNNEL_DEPTH: u8 = 32;

/// Counters of link, IP and tunnel decoding. "Dropped" below means the packet (or the
/// fragment set) yields no segment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames on link types not decoded (dropped).
    pub unknown_linktype: u64,
    /// Frames shorter than a link-layer header they announce (Ethernet, VLAN tag, SLL,
    /// SLL2, loopback, MPLS, PPPoE; dropped).
    pub link_truncated: u64,
    /// Frames whose ethertype / address family / PPP protocol is not IP (ARP, LLDP, ...).
    pub unknown_ethertype: u64,
    /// Frames with more stacked VLAN tags, MPLS labels or bridged Ethernet headers than
    /// followed (16; dropped).
    pub link_too_deep: u64,
    /// IPv4 headers decoded (outer and tunnelled, fragments included).
    pub ipv4_packets: u64,
    /// IPv6 headers decoded (outer and tunnelled, fragments included).
    pub ipv6_packets: u64,
    /// IP packets whose header, total length or payload length runs past the captured
    /// bytes (snap length, or a length that lies; dropped).
    pub ip_truncated: u64,
    /// IP packets whose length runs past the bytes of a record the snap length cut: UDP ones
    /// go on as captured (a SIP row with `parse_error` `capture_truncated`), fragments, TCP
    /// and SCTP are dropped (and counted in `ip_truncated` too).
    pub ip_snaplen_cut: u64,
    /// IP headers that lie: wrong version, IHL below 5, total length below the header
    /// length (dropped).
    pub ip_bad_header: u64,
    /// IPv6 extension headers truncated, or a fragment header inside a reassembled
    /// datagram (dropped).
    pub ipv6_ext_bad: u64,
    /// IPv6 extension-header chains longer than followed (12; dropped).
    pub ipv6_ext_too_long: u64,
    /// ESP-encrypted packets (RFC 4303), undecodable.
    pub ip_esp: u64,
    /// IP packets of a protocol not decoded (ICMP, IGMP, OSPF, no next header, ...).
    pub unknown_ip_proto: u64,
    /// UDP/TCP/SCTP headers truncated, or whose length lies (UDP length below 8 or past
    /// the datagram, TCP data offset below 5 or past the segment; dropped).
    pub l4_truncated: u64,
    /// UDP datagrams out (not counting those decoded as VXLAN or Geneve).
    pub segments_udp: u64,
    /// TCP segments out.
    pub segments_tcp: u64,
    /// SCTP packets out.
    pub segments_sctp: u64,
    /// IP fragments received (IPv4 and IPv6).
    pub ip_fragments: u64,
    /// Datagrams reassembled from fragments.
    pub ip_reassembled: u64,
    /// Fragments whose data was all held already (dropped).
    pub fragment_duplicates: u64,
    /// Fragments that overlapped data held: the first data received wins.
    pub fragment_overlaps: u64,
    /// Fragments inconsistent with their set: not a multiple of 8 bytes before the last,
    /// data past the end, two different ends, or too scattered (64 holes). The fragment,
    /// or the set it contradicts, is dropped.
    pub fragment_invalid: u64,
    /// Sets dropped because a fragment would make the datagram exceed 65,535 bytes.
    pub fragment_too_big: u64,
    /// Sets dropped incomplete after `fragment_timeout_ns` of capture time.
    pub fragment_timeouts: u64,
    /// Sets dropped (oldest first) to stay within `max_fragment_datagrams`.
    pub fragment_evicted_full: u64,
    /// Sets dropped (oldest first) to stay within `max_fragment_bytes`.
    pub fragment_evicted_bytes: u64,
    /// Sets still incomplete when the capture ended ([`Decoder::finish`]).
    pub fragment_unfinished: u64,
    /// IP-in-IP packets decapsulated (IPv4 or IPv6 in IPv4 or IPv6).
    pub tunnel_ipip: u64,
    /// GRE packets decapsulated (ERSPAN included).
    pub tunnel_gre: u64,
    /// ERSPAN (type I, II or III) packets decapsulated.
    pub tunnel_erspan: u64,
    /// VXLAN packets decapsulated.
    pub tunnel_vxlan: u64,
    /// Geneve packets decapsulated.
    pub tunnel_geneve: u64,
    /// Tunnels nested deeper than `max_tunnel_depth` (dropped).
    pub tunnel_too_deep: u64,
    /// GRE versions other than 0, GRE source routing, ERSPAN III frame types other than
    /// Ethernet and IP (dropped).
    pub tunnel_unsupported: u64,
    /// GRE / ERSPAN headers truncated (dropped).
    pub tunnel_truncated: u64,
}

impl Counters for DecodeStats {
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("unknown_linktype", self.unknown_linktype);
        f("link_truncated", self.link_truncated);
        f("unknown_ethertype", self.unknown_ethertype);
        f("link_too_deep", self.link_too_deep);
        f("ipv4_packets", self.ipv4_packets);
        f("ipv6_packets", self.ipv6_packets);
        f("ip_truncated", self.ip_truncated);
        f("ip_snaplen_cut", self.ip_snaplen_cut);
        f("ip_bad_header", self.ip_bad_header);
        f("ipv6_ext_bad", self.ipv6_ext_bad);
        f("ipv6_ext_too_long", self.ipv6_ext_too_long);
        f("ip_esp", self.ip_esp);
        f("unknown_ip_proto", self.unknown_ip_proto);
        f("l4_truncated", self.l4_truncated);
        f("segments_udp", self.segments_udp);
        f("segments_tcp", self.segments_tcp);
        f("segments_sctp", self.segments_sctp);
        f("ip_fragments", self.ip_fragments);
        f("ip_reassembled", self.ip_reassembled);
        f("fragment_duplicates", self.fragment_duplicates);
        f("fragment_overlaps", self.fragment_overlaps);
        f("fragment_invalid", self.fragment_invalid);
        f("fragment_too_big", self.fragment_too_big);
        f("fragment_timeouts", self.fragment_timeouts);
        f("fragment_evicted_full", self.fragment_evicted_full);
        f("fragment_evicted_bytes", self.fragment_evicted_bytes);
        f("fragment_unfinished", self.fragment_unfinished);
        f("tunnel_ipip", self.tunnel_ipip);
        f("tunnel_gre", self.tunnel_gre);
        f("tunnel_erspan", self.tunnel_erspan);
        f("tunnel_vxlan", self.tunnel_vxlan);
        f("tunnel_geneve", self.tunnel_geneve);
        f("tunnel_too_deep", self.tunnel_too_deep);
        f("tunnel_unsupported", self.tunnel_unsupported);
        f("tunnel_truncated", self.tunnel_truncated);
    }
}

/// Decodes frames to layer-4 segments, holding IP fragments between calls.
pub struct Decoder {
    max_depth: u8,
    defrag: ip::Defrag,
    /// The latest capture time seen: fragment sets expire against it, so a frame stamped
    /// in the past does not bring back time.
    now: i64,
    /// The record being decoded is shorter than its frame was (snap length).
    snapped: bool,
    /// An IP layer of this record kept a payload the snap length cut.
    cut: bool,
}

impl Decoder {
    pub fn new(limits: CaptureLimits) -> Decoder {
        Decoder {
            max_depth: limits.max_tunnel_depth.min(HARD_MAX_TUNNEL_DEPTH),
            defrag: ip::Defrag::new(limits),
            now: i64::MIN,
            snapped: false,
            cut: false,
        }
    }

    /// Calls `out` once per layer-4 segment `rec` carries; what it cannot decode is counted
    /// in `stats`.
    pub fn decode(
        &mut self,
        rec: &Record<'_>,
        stats: &mut DecodeStats,
        out: &mut dyn FnMut(Segment<'_>),
    ) {
        self.now = self.now.max(rec.time_ns);
        self.snapped = usize::try_from(rec.orig_len).is_ok_and(|n| n > rec.data.len());
        self.cut = false;
        if !self.defrag.is_empty() {
            self.defrag.expire(self.now, stats);
        }
        if let Some(net) = link::link(rec.linktype, rec.data, stats) {
            self.net(net, 0, stats, out);
        }
    }

    /// The capture ended: fragment sets still incomplete are dropped and counted
    /// (`fragment_unfinished`).
    pub fn finish(&mut self, stats: &mut DecodeStats) {
        self.defrag.finish(stats);
    }

    /// IP datagrams being reassembled, and the bytes charged for them.
    pub fn fragments_held(&self) -> (usize, usize) {
        self.defrag.held()
    }

    fn net(
        &mut self,
        net: Net<'_>,
        depth: u8,
        stats: &mut DecodeStats,
        out: &mut dyn FnMut(Segment<'_>),
    ) {
        match net {
            Net::V4(d) => self.ipv4(d, depth, stats, out),
            Net::V6(d) => self.ipv6(d, depth, stats, out),
        }
    }

    fn ipv4(
        &mut self,
        data: &[u8],
        depth: u8,
        stats: &mut DecodeStats,
        out: &mut dyn FnMut(Segment<'_>),
    ) {
        let Some(h) = ip::ipv4(data, self.snapped, stats) else {
            return;
        };
        stats.ipv4_packets += 1;
        self.cut |= h.cut;
        let src = IpAddr::V4(Ipv4Addr::from(h.src));
        let dst = IpAddr::V4(Ipv4Addr::from(h.dst));
        if !h.more_fragments && h.frag_offset == 0 {
            return self.upper(h.proto, src, dst, h.payload, false, depth, stats, out);
        }
        if h.cut {
            // A fragment missing bytes cannot be reassembled.
            stats.ip_truncated += 1;
            return;
        }
        // RFC 791 §3.2: reassembly by (source, destination, protocol, identification).
        let key = FragKey::V4 {
            src: h.src,
            dst: h.dst,
            id: h.id,
            proto: h.proto,
        };
        let frag = Fragment {
            offset: h.frag_offset,
            more: h.more_fragments,
            next: h.proto,
            data: h.payload,
            max_len: MAX_DATAGRAM - h.header_len,
        };
        if let Some(r) = self.defrag.insert(key, frag, self.now, stats) {
            self.upper(r.next, src, dst, &r.data, false, depth, stats, out);
        }
    }

    fn ipv6(
        &mut self,
        data: &[u8],
        depth: u8,
        stats: &mut DecodeStats,
        out: &mut dyn FnMut(Segment<'_>),
    ) {
        let Some(h) = ip::ipv6(data, self.snapped, stats) else {
            return;
        };
        stats.ipv6_packets += 1;
        self.cut |= h.cut;
        let src = IpAddr::V6(Ipv6Addr::from(h.src));
        let dst = IpAddr::V6(Ipv6Addr::from(h.dst));
        match ip::walk(h.next, h.payload, true, stats) {
            None => {}
            Some(Upper::Proto(proto, d)) => self.transport(proto, src, dst, d, depth, stats, out),
            // RFC 6946: an atomic fragment (offset 0, M clear) is a whole datagram.
            Some(Upper::Fragment {
                offset: 0,
                more: false,
                next,
                data,
                ..
            }) => self.upper(next, src, dst, data, true, depth, stats, out),
            Some(Upper::Fragment { .. }) if h.cut => stats.ip_truncated += 1,
            Some(Upper::Fragment {
                id,
                offset,
                more,
                next,
                unfragmentable,
                data,
            }) => {
                let key = FragKey::V6 {
                    src: h.src,
                    dst: h.dst,
                    id,
                };
                let frag = Fragment {
                    offset,
                    more,
                    next,
                    data,
                    max_len: MAX_DATAGRAM.saturating_sub(unfragmentable),
                };
                if let Some(r) = self.defrag.insert(key, frag, self.now, stats) {
                    self.upper(r.next, src, dst, &r.data, true, depth, stats, out);
                }
            }
        }
    }

    /// A datagram's payload from protocol `next`: extension headers (AH in IPv4 too), then
    /// the transport.
    #[allow(clippy::too_many_arguments)]
    fn upper(
        &mut self,
        next: u8,
        src: IpAddr,
        dst: IpAddr,
        data: &[u8],
        v6: bool,
        depth: u8,
        stats: &mut DecodeStats,
        out: &mut dyn FnMut(Segment<'_>),
    ) {
        match ip::walk(next, data, v6, stats) {
            Some(Upper::Proto(proto, d)) => self.transport(proto, src, dst, d, depth, stats, out),
            // A fragment header after reassembly or after an atomic fragment.
            Some(Upper::Fragment { .. }) => stats.ipv6_ext_bad += 1,
            None => {}
        }
    }

    /// Whether one more tunnel level may be entered from `depth`.
    fn enter(&self, depth: u8, stats: &mut DecodeStats) -> bool {
        if depth >= self.max_depth {
            stats.tunnel_too_deep += 1;
            return false;
        }
        true
    }

    /// An inner packet given as an ethertype (GRE, VXLAN, Geneve), one tunnel level down.
    fn inner(
        &mut self,
        ty: u16,
        data: &[u8],
        depth: u8,
        stats: &mut DecodeStats,
        out: &mut dyn FnMut(Segment<'_>),
    ) {
        if let Some(net) = link::ethertype(ty, data, stats) {
            self.net(net, depth + 1, stats, out);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn transport(
        &mut self,
        proto: u8,
        src: IpAddr,
        dst: IpAddr,
        data: &[u8],
        depth: u8,
        stats: &mut DecodeStats,
        out: &mut dyn FnMut(Segment<'_>),
    ) {
        match proto {
            ip::PROTO_UDP => self.udp(src, dst, data, depth, stats, out),
            // A stream segment missing bytes would be a gap in the stream: dropped, as a
            // frame the capture never saw.
            ip::PROTO_TCP | ip::PROTO_SCTP if self.cut => stats.ip_truncated += 1,
            // RFC 9293 §3.1: data offset in 32-bit words, flags in byte 13.
            ip::PROTO_TCP => {
                let (Some(sp), Some(dp), Some(seq), Some(ack), Some(&off), Some(&flags)) = (
                    be16(data, 0),
                    be16(data, 2),
                    be32(data, 4),
                    be32(data, 8),
                    data.get(12),
                    data.get(13),
                ) else {
                    stats.l4_truncated += 1;
                    return;
                };
                let off = usize::from(off >> 4) * 4;
                let (true, Some(payload)) = (off >= 20, data.get(off..)) else {
                    stats.l4_truncated += 1;
                    return;
                };
                stats.segments_tcp += 1;
                out(Segment {
                    src: Endpoint { ip: src, port: sp },
                    dst: Endpoint { ip: dst, port: dp },
                    l4: L4::Tcp { seq, ack, flags },
                    payload,
                    cut: false,
                });
            }
            // RFC 9260 §3.1: a 12-byte common header, then chunks.
            ip::PROTO_SCTP => {
                let (Some(sp), Some(dp), Some(vtag), Some(payload)) =
                    (be16(data, 0), be16(data, 2), be32(data, 4), data.get(12..))
                else {
                    stats.l4_truncated += 1;
                    return;
                };
                stats.segments_sctp += 1;
                out(Segment {
                    src: Endpoint { ip: src, port: sp },
                    dst: Endpoint { ip: dst, port: dp },
                    l4: L4::Sctp { vtag },
                    payload,
                    cut: false,
                });
            }
            // RFC 2003 (IPv4 in IP), RFC 2473 (IPv6 in IP).
            ip::PROTO_IPIP | ip::PROTO_IPV6 => {
                if self.enter(depth, stats) {
                    stats.tunnel_ipip += 1;
                    if proto == ip::PROTO_IPIP {
                        self.ipv4(data, depth + 1, stats, out);
                    } else {
                        self.ipv6(data, depth + 1, stats, out);
                    }
                }
            }
            ip::PROTO_GRE => {
                if self.enter(depth, stats) {
                    if let Some((ty, inner)) = tunnel::gre(data, stats) {
                        self.inner(ty, inner, depth, stats, out);
                    }
                }
            }
            _ => stats.unknown_ip_proto += 1,
        }
    }

    /// RFC 768: the length covers header and data; 0 stands for a jumbogram (RFC 2675 §4).
    /// Port 4789 carries VXLAN and 6081 Geneve when the payload looks like it; otherwise the
    /// datagram is plain UDP.
    fn udp(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        data: &[u8],
        depth: u8,
        stats: &mut DecodeStats,
        out: &mut dyn FnMut(Segment<'_>),
    ) {
        let (Some(sp), Some(dp), Some(len)) = (be16(data, 0), be16(data, 2), be16(data, 4)) else {
            stats.l4_truncated += 1;
            return;
        };
        let len = if len == 0 {
            data.len()
        } else {
            usize::from(len)
        };
        let (payload, cut) = match (len >= 8, data.get(8..len), data.get(8..)) {
            (true, Some(p), _) => (p, false),
            (true, None, Some(p)) if self.cut => (p, true),
            _ => {
                stats.l4_truncated += 1;
                return;
            }
        };
        if dp == tunnel::VXLAN_PORT {
            if let Some(inner) = tunnel::vxlan(payload) {
                if self.enter(depth, stats) {
                    stats.tunnel_vxlan += 1;
                    self.inner(ETHERTYPE_TEB, inner, depth, stats, out);
                }
                return;
            }
        } else if dp == tunnel::GENEVE_PORT {
            if let Some((ty, inner)) = tunnel::geneve(payload) {
                if self.enter(depth, stats) {
                    stats.tunnel_geneve += 1;
                    self.inner(ty, inner, depth, stats, out);
                }
                return;
            }
        }
        stats.segments_udp += 1;
        out(Segment {
            src: Endpoint { ip: src, port: sp },
            dst: Endpoint { ip: dst, port: dp },
            l4: L4::Udp,
            payload,
            cut,
        });
    }
}
