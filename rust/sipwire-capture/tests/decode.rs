//! Link, IP, reassembly and tunnel decoding: frames built in code, segments checked.

use std::net::IpAddr;

use sipwire_capture::{CaptureLimits, Counters, DecodeStats, Decoder, Endpoint, Record, L4};

// ---------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------

const A4: [u8; 4] = [10, 0, 0, 1];
const B4: [u8; 4] = [10, 0, 0, 2];
const C4: [u8; 4] = [192, 168, 1, 1];
const D4: [u8; 4] = [192, 168, 1, 2];

fn a6(last: u8) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0x20;
    a[1] = 0x01;
    a[2] = 0x0d;
    a[3] = 0xb8;
    a[15] = last;
    a
}

fn eth(ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    v.extend(ty.to_be_bytes());
    v.extend(payload);
    v
}

/// A VLAN tag's 4 bytes (TCI, next ethertype) and what follows, to put after 0x8100.
fn tag(vid: u16, next: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vid.to_be_bytes().to_vec();
    v.extend(next.to_be_bytes());
    v.extend(payload);
    v
}

#[allow(clippy::too_many_arguments)]
fn ipv4_with(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    id: u16,
    offset: usize,
    more: bool,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let hl = 20 + options.len();
    let total = (hl + payload.len()) as u16;
    let frag = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
    let mut v = vec![0x40 | (hl / 4) as u8, 0];
    v.extend(total.to_be_bytes());
    v.extend(id.to_be_bytes());
    v.extend(frag.to_be_bytes());
    v.extend([64, proto, 0, 0]);
    v.extend(src);
    v.extend(dst);
    v.extend(options);
    v.extend(payload);
    v
}

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_with(src, dst, proto, 1, 0, false, &[], payload)
}

fn ipv6(src: [u8; 16], dst: [u8; 16], next: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend((payload.len() as u16).to_be_bytes());
    v.extend([next, 64]);
    v.extend(src);
    v.extend(dst);
    v.extend(payload);
    v
}

/// An IPv6 options-style extension header (hop-by-hop, routing, destination options) of
/// `(units + 1) * 8` bytes.
fn ext6(next: u8, units: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![next, units];
    v.resize((usize::from(units) + 1) * 8, 0);
    v.extend(rest);
    v
}

fn frag6(next: u8, offset: usize, more: bool, id: u32, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![next, 0];
    v.extend((offset as u16 & 0xFFF8 | u16::from(more)).to_be_bytes());
    v.extend(id.to_be_bytes());
    v.extend(rest);
    v
}

/// An AH header (RFC 4302) with a 12-byte ICV: payload length field 4, 24 bytes.
fn ah(next: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![next, 4, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 7];
    v.extend([0xAB; 12]);
    v.extend(rest);
    v
}

fn udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = sp.to_be_bytes().to_vec();
    v.extend(dp.to_be_bytes());
    v.extend(((8 + payload.len()) as u16).to_be_bytes());
    v.extend([0, 0]);
    v.extend(payload);
    v
}

fn tcp_with(sp: u16, dp: u16, seq: u32, ack: u32, flags: u8, opts: &[u8], p: &[u8]) -> Vec<u8> {
    assert_eq!(opts.len() % 4, 0);
    let mut v = sp.to_be_bytes().to_vec();
    v.extend(dp.to_be_bytes());
    v.extend(seq.to_be_bytes());
    v.extend(ack.to_be_bytes());
    v.push((((20 + opts.len()) / 4) as u8) << 4);
    v.push(flags);
    v.extend([0xFF, 0xFF, 0, 0, 0, 0]);
    v.extend(opts);
    v.extend(p);
    v
}

fn tcp(sp: u16, dp: u16, seq: u32, p: &[u8]) -> Vec<u8> {
    tcp_with(sp, dp, seq, 7, 0x18, &[], p)
}

fn sctp(sp: u16, dp: u16, vtag: u32, chunks: &[u8]) -> Vec<u8> {
    let mut v = sp.to_be_bytes().to_vec();
    v.extend(dp.to_be_bytes());
    v.extend(vtag.to_be_bytes());
    v.extend([0, 0, 0, 0]);
    v.extend(chunks);
    v
}

/// GRE with optional checksum (C), key (K) and sequence (S) words as `flags` says.
fn gre(flags: u16, proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = flags.to_be_bytes().to_vec();
    v.extend(proto.to_be_bytes());
    if flags & 0x8000 != 0 {
        v.extend([0xC0, 0xC0, 0, 0]);
    }
    if flags & 0x2000 != 0 {
        v.extend([0, 0, 0x12, 0x34]);
    }
    if flags & 0x1000 != 0 {
        v.extend([0, 0, 0, 9]);
    }
    v.extend(payload);
    v
}

fn erspan2(frame: &[u8]) -> Vec<u8> {
    let mut h = vec![0x10, 0x00, 0x00, 0x05, 0, 0, 0, 0];
    h.extend(frame);
    gre(0x1000, 0x88BE, &h)
}

fn erspan3(ft: u16, platform: bool, frame: &[u8]) -> Vec<u8> {
    let mut h = vec![0x20, 0x00, 0x00, 0x05, 1, 2, 3, 4, 0, 0];
    h.extend(((ft << 10) | u16::from(platform)).to_be_bytes());
    if platform {
        h.extend([0xEE; 8]);
    }
    h.extend(frame);
    gre(0x1000, 0x22EB, &h)
}

fn vxlan(frame: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0, 0, 0x10, 0x20, 0];
    v.extend(frame);
    udp(49152, 4789, &v)
}

fn geneve(proto: u16, opt_words: u8, inner: &[u8]) -> Vec<u8> {
    let mut v = vec![opt_words & 0x3F, 0];
    v.extend(proto.to_be_bytes());
    v.extend([0, 0x10, 0x20, 0]);
    v.extend(vec![0x77; usize::from(opt_words) * 4]);
    v.extend(inner);
    udp(49152, 6081, &v)
}

fn sll(proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    v.extend(proto.to_be_bytes());
    v.extend(payload);
    v
}

fn sll2(proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = proto.to_be_bytes().to_vec();
    v.extend([0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
    v.extend(payload);
    v
}

fn udp4(payload: &[u8]) -> Vec<u8> {
    ipv4(A4, B4, 17, &udp(5060, 5080, payload))
}

// ---------------------------------------------------------------------------------------
// Running the decoder
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct Seg {
    src: Endpoint,
    dst: Endpoint,
    l4: L4,
    payload: Vec<u8>,
}

fn ep(ip: impl Into<IpAddr>, port: u16) -> Endpoint {
    Endpoint {
        ip: ip.into(),
        port,
    }
}

fn ep4(a: [u8; 4], port: u16) -> Endpoint {
    ep(a, port)
}

fn ep6(a: [u8; 16], port: u16) -> Endpoint {
    ep(a, port)
}

fn feed(dec: &mut Decoder, st: &mut DecodeStats, lt: u32, t: i64, data: &[u8]) -> Vec<Seg> {
    let mut segs = Vec::new();
    let rec = Record {
        frame: 1,
        time_ns: t,
        linktype: lt,
        data,
        orig_len: data.len() as u32,
    };
    dec.decode(&rec, st, &mut |s| {
        segs.push(Seg {
            src: s.src,
            dst: s.dst,
            l4: s.l4,
            payload: s.payload.to_vec(),
        })
    });
    segs
}

fn decode(lt: u32, data: &[u8]) -> (Vec<Seg>, DecodeStats) {
    let mut dec = Decoder::new(CaptureLimits::DEFAULT);
    let mut st = DecodeStats::default();
    let segs = feed(&mut dec, &mut st, lt, 0, data);
    (segs, st)
}

/// The one segment a frame must give.
fn one(lt: u32, data: &[u8]) -> (Seg, DecodeStats) {
    let (mut segs, st) = decode(lt, data);
    assert_eq!(segs.len(), 1, "segments of {data:02x?}: {segs:?} ({st:?})");
    (segs.remove(0), st)
}

fn udp_seg(src: Endpoint, dst: Endpoint, payload: &[u8]) -> Seg {
    Seg {
        src,
        dst,
        l4: L4::Udp,
        payload: payload.to_vec(),
    }
}

/// The sip-ish UDP segment `udp4` builds.
fn sip_seg(payload: &[u8]) -> Seg {
    udp_seg(ep4(A4, 5060), ep4(B4, 5080), payload)
}

/// Counters that say a packet (or a part of it) was dropped.
const DROPS: &[&str] = &[
    "unknown_linktype",
    "link_truncated",
    "unknown_ethertype",
    "link_too_deep",
    "ip_truncated",
    "ip_bad_header",
    "ipv6_ext_bad",
    "ipv6_ext_too_long",
    "ip_esp",
    "unknown_ip_proto",
    "l4_truncated",
    "fragment_invalid",
    "fragment_too_big",
    "tunnel_too_deep",
    "tunnel_unsupported",
    "tunnel_truncated",
];

fn drops(st: &DecodeStats) -> u64 {
    let mut n = 0;
    st.visit(&mut |name, v| {
        if DROPS.contains(&name) {
            n += v;
        }
    });
    n
}

fn counter(st: &DecodeStats, want: &str) -> u64 {
    let mut found = None;
    st.visit(&mut |name, v| {
        if name == want {
            found = Some(v);
        }
    });
    found.unwrap_or_else(|| panic!("no counter {want}"))
}

// ---------------------------------------------------------------------------------------
// Link layers
// ---------------------------------------------------------------------------------------

#[test]
fn ethernet_ipv4_udp_with_padding_and_fcs() {
    let mut frame = eth(0x0800, &udp4(b"OPTIONS"));
    frame.extend([0; 20]); // padding to 60 bytes and more, then an FCS
    frame.extend([0xDE, 0xAD, 0xBE, 0xEF]);
    let (seg, st) = one(1, &frame);
    assert_eq!(seg, sip_seg(b"OPTIONS"));
    assert_eq!((st.ipv4_packets, st.segments_udp, drops(&st)), (1, 1, 0));
}

#[test]
fn ipv4_options_and_tcp_options() {
    let payload = b"INVITE sip:x SIP/2.0\r\n";
    let t = tcp_with(5060, 40000, 1000, 2000, 0x19, &[1, 1, 1, 0], payload);
    let frame = eth(
        0x0800,
        &ipv4_with(A4, B4, 6, 9, 0, false, &[1, 1, 1, 0], &t),
    );
    let (seg, st) = one(1, &frame);
    assert_eq!(
        seg,
        Seg {
            src: ep4(A4, 5060),
            dst: ep4(B4, 40000),
            l4: L4::Tcp {
                seq: 1000,
                ack: 2000,
                flags: 0x19
            },
            payload: payload.to_vec()
        }
    );
    assert_eq!(st.segments_tcp, 1);
}

#[test]
fn tcp_without_payload_is_a_segment() {
    let frame = eth(
        0x0800,
        &ipv4(A4, B4, 6, &tcp_with(1, 2, 5, 0, 0x02, &[], b"")),
    );
    let (seg, _) = one(1, &frame);
    assert_eq!(
        seg.l4,
        L4::Tcp {
            seq: 5,
            ack: 0,
            flags: 0x02
        }
    );
    assert!(seg.payload.is_empty());
}

#[test]
fn sctp_payload_is_the_chunks() {
    let chunks = [
        0, 3, 0, 20, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 46, b'S', b'I', b'P', 0,
    ];
    let frame = eth(
        0x0800,
        &ipv4(A4, B4, 132, &sctp(5060, 5060, 0xCAFE, &chunks)),
    );
    let (seg, st) = one(1, &frame);
    assert_eq!(seg.l4, L4::Sctp { vtag: 0xCAFE });
    assert_eq!(seg.payload, chunks);
    assert_eq!(st.segments_sctp, 1);
}

#[test]
fn ipv6_with_extension_headers() {
    let u = udp(5060, 5060, b"REGISTER");
    let dst_opts = ext6(17, 0, &u);
    let routing = ext6(60, 1, &dst_opts);
    let hbh = ext6(43, 0, &routing);
    let frame = eth(0x86DD, &ipv6(a6(1), a6(2), 0, &hbh));
    let (seg, st) = one(1, &frame);
    assert_eq!(
        seg,
        udp_seg(ep6(a6(1), 5060), ep6(a6(2), 5060), b"REGISTER")
    );
    assert_eq!(st.ipv6_packets, 1);
}

#[test]
fn ah_is_skipped_in_both_versions() {
    let frame = eth(0x0800, &ipv4(A4, B4, 51, &ah(17, &udp(5060, 5080, b"x"))));
    assert_eq!(one(1, &frame).0, sip_seg(b"x"));
    let frame = eth(0x86DD, &ipv6(a6(1), a6(2), 51, &ah(6, &tcp(1, 2, 3, b"y"))));
    assert_eq!(one(1, &frame).0.payload, b"y");
}

#[test]
fn esp_and_unknown_protocols_are_counted() {
    let (segs, st) = decode(1, &eth(0x0800, &ipv4(A4, B4, 50, &[0; 32])));
    assert!(segs.is_empty());
    assert_eq!(st.ip_esp, 1);
    let (segs, st) = decode(1, &eth(0x86DD, &ipv6(a6(1), a6(2), 50, &[0; 32])));
    assert!(segs.is_empty());
    assert_eq!(st.ip_esp, 1);
    let (segs, st) = decode(1, &eth(0x0800, &ipv4(A4, B4, 1, &[8, 0, 0, 0])));
    assert!(segs.is_empty());
    assert_eq!(st.unknown_ip_proto, 1);
    let (segs, st) = decode(1, &eth(0x0806, &[0; 28]));
    assert!(segs.is_empty());
    assert_eq!(st.unknown_ethertype, 1);
    let (segs, st) = decode(147, &udp4(b"x"));
    assert!(segs.is_empty());
    assert_eq!(st.unknown_linktype, 1);
}

#[test]
fn vlan_qinq_and_old_qinq() {
    let ip = udp4(b"vlan");
    let single = eth(0x8100, &tag(100, 0x0800, &ip));
    assert_eq!(one(1, &single).0, sip_seg(b"vlan"));
    let qinq = eth(0x88A8, &tag(10, 0x8100, &tag(20, 0x0800, &ip)));
    assert_eq!(one(1, &qinq).0, sip_seg(b"vlan"));
    let old = eth(
        0x9100,
        &tag(10, 0x9100, &tag(20, 0x8100, &tag(30, 0x0800, &ip))),
    );
    assert_eq!(one(1, &old).0, sip_seg(b"vlan"));
    let v6 = eth(
        0x8100,
        &tag(7, 0x86DD, &ipv6(a6(1), a6(2), 17, &udp(1, 2, b"6"))),
    );
    assert_eq!(one(1, &v6).0.payload, b"6");
}

#[test]
fn vlan_stack_beyond_the_bound_is_counted() {
    let mut inner = udp4(b"deep");
    let mut ty = 0x0800;
    for _ in 0..20 {
        inner = tag(1, ty, &inner);
        ty = 0x8100;
    }
    let (segs, st) = decode(1, &eth(ty, &inner));
    assert!(segs.is_empty());
    assert_eq!(st.link_too_deep, 1);
}

#[test]
fn mpls_pppoe_and_snap() {
    let ip = udp4(b"m");
    let mut labels = vec![0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40]; // two labels, S on the 2nd
    labels.extend(&ip);
    assert_eq!(one(1, &eth(0x8847, &labels)).0, sip_seg(b"m"));

    let mut pppoe = vec![0x11, 0x00, 0x00, 0x01];
    pppoe.extend(((ip.len() + 2) as u16).to_be_bytes());
    pppoe.extend([0x00, 0x21]);
    pppoe.extend(&ip);
    assert_eq!(one(1, &eth(0x8864, &pppoe)).0, sip_seg(b"m"));

    let mut snap = vec![0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00];
    snap.extend(&ip);
    let len = snap.len() as u16;
    assert_eq!(one(1, &eth(len, &snap)).0, sip_seg(b"m"));
    // 802.3 with plain LLC: not IP.
    let (segs, st) = decode(1, &eth(3, &[0x42, 0x42, 0x03]));
    assert!(segs.is_empty());
    assert_eq!(st.unknown_ethertype, 1);
}

#[test]
fn linux_cooked_v1_and_v2() {
    let ip = udp4(b"sll");
    assert_eq!(one(113, &sll(0x0800, &ip)).0, sip_seg(b"sll"));
    assert_eq!(one(276, &sll2(0x0800, &ip)).0, sip_seg(b"sll"));
    assert_eq!(
        one(113, &sll(0x8100, &tag(5, 0x0800, &ip))).0,
        sip_seg(b"sll")
    );
    let v6 = ipv6(a6(1), a6(2), 17, &udp(1, 2, b"6"));
    assert_eq!(one(276, &sll2(0x86DD, &v6)).0.payload, b"6");
}

#[test]
fn raw_ip_link_types() {
    let v4 = udp4(b"raw");
    let v6 = ipv6(a6(1), a6(2), 17, &udp(1, 2, b"raw6"));
    for lt in [101, 12, 14] {
        assert_eq!(one(lt, &v4).0, sip_seg(b"raw"));
        assert_eq!(one(lt, &v6).0.payload, b"raw6");
    }
    assert_eq!(one(228, &v4).0, sip_seg(b"raw"));
    assert_eq!(one(229, &v6).0.payload, b"raw6");
    // The wrong version for the link type is a bad header.
    let (segs, st) = decode(228, &v6);
    assert!(segs.is_empty());
    assert_eq!(st.ip_bad_header, 1);
}

#[test]
fn bsd_loopback_in_either_byte_order() {
    let v4 = udp4(b"lo");
    let v6 = ipv6(a6(1), a6(2), 17, &udp(1, 2, b"lo6"));
    for af in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
        let mut f = af.to_vec();
        f.extend(&v4);
        assert_eq!(one(0, &f).0, sip_seg(b"lo"));
    }
    for af in [24u32, 28, 30] {
        for bytes in [af.to_le_bytes(), af.to_be_bytes()] {
            let mut f = bytes.to_vec();
            f.extend(&v6);
            assert_eq!(one(0, &f).0.payload, b"lo6");
        }
    }
    // OpenBSD LOOP: network byte order only.
    let mut f = 24u32.to_be_bytes().to_vec();
    f.extend(&v6);
    assert_eq!(one(108, &f).0.payload, b"lo6");
    let mut f = 2u32.to_le_bytes().to_vec();
    f.extend(&v4);
    let (segs, st) = decode(108, &f);
    assert!(segs.is_empty());
    assert_eq!(st.unknown_ethertype, 1);
    // An unknown family.
    let mut f = 7u32.to_le_bytes().to_vec();
    f.extend(&v4);
    assert_eq!(decode(0, &f).1.unknown_ethertype, 1);
}

// ---------------------------------------------------------------------------------------
// Lengths that lie
// ---------------------------------------------------------------------------------------

#[test]
fn ipv4_lengths_that_lie() {
    let good = udp4(b"hello");
    // IHL below 5.
    let mut p = good.clone();
    p[0] = 0x44;
    assert_eq!(decode(101, &p).1.ip_bad_header, 1);
    // IHL past the total length.
    let mut p = good.clone();
    p[0] = 0x4F;
    p[2..4].copy_from_slice(&40u16.to_be_bytes());
    assert_eq!(decode(101, &p).1.ip_bad_header, 1);
    // Total length below the header.
    let mut p = good.clone();
    p[2..4].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(decode(101, &p).1.ip_bad_header, 1);
    // Total length past the captured bytes.
    let mut p = good.clone();
    p[2..4].copy_from_slice(&((good.len() + 1) as u16).to_be_bytes());
    let (segs, st) = decode(101, &p);
    assert!(segs.is_empty());
    assert_eq!(st.ip_truncated, 1);
    // Total length 0 (segmentation offload): the captured bytes count.
    let mut p = good.clone();
    p[2..4].copy_from_slice(&0u16.to_be_bytes());
    assert_eq!(one(101, &p).0, sip_seg(b"hello"));
    // Version 5.
    let mut p = good;
    p[0] = 0x55;
    assert_eq!(decode(101, &p).1.ip_bad_header, 1);
}

#[test]
fn ipv6_payload_length_that_lies() {
    let mut p = ipv6(a6(1), a6(2), 17, &udp(1, 2, b"abc"));
    p[4..6].copy_from_slice(&100u16.to_be_bytes());
    let (segs, st) = decode(101, &p);
    assert!(segs.is_empty());
    assert_eq!(st.ip_truncated, 1);
    // Shorter than the captured bytes: trimmed, and then UDP's length lies.
    let mut p = ipv6(a6(1), a6(2), 17, &udp(1, 2, b"abc"));
    p[4..6].copy_from_slice(&9u16.to_be_bytes());
    let (segs, st) = decode(101, &p);
    assert!(segs.is_empty());
    assert_eq!(st.l4_truncated, 1);
}

#[test]
fn udp_and_tcp_lengths_that_lie() {
    let mut u = udp(1, 2, b"abcdef");
    u[4..6].copy_from_slice(&7u16.to_be_bytes());
    assert_eq!(decode(101, &ipv4(A4, B4, 17, &u)).1.l4_truncated, 1);
    u[4..6].copy_from_slice(&15u16.to_be_bytes());
    assert_eq!(decode(101, &ipv4(A4, B4, 17, &u)).1.l4_truncated, 1);
    // Shorter than the IP payload: the UDP length wins (trailing bytes are not data).
    u[4..6].copy_from_slice(&10u16.to_be_bytes());
    assert_eq!(one(101, &ipv4(A4, B4, 17, &u)).0.payload, b"ab");

    let mut t = tcp(1, 2, 3, b"data");
    t[12] = 0x40; // data offset 4 words
    assert_eq!(decode(101, &ipv4(A4, B4, 6, &t)).1.l4_truncated, 1);
    t[12] = 0xF0; // 60 bytes, past the segment
    assert_eq!(decode(101, &ipv4(A4, B4, 6, &t)).1.l4_truncated, 1);
    assert_eq!(decode(101, &ipv4(A4, B4, 132, &[0; 11])).1.l4_truncated, 1);
}

/// A record the snap length cut: `keep` bytes of `frame` captured, `orig_len` the whole.
fn snapped(frame: &[u8], keep: usize) -> (Vec<(Vec<u8>, bool)>, DecodeStats) {
    snapped_on(101, frame, keep)
}

fn snapped_on(lt: u32, frame: &[u8], keep: usize) -> (Vec<(Vec<u8>, bool)>, DecodeStats) {
    let mut dec = Decoder::new(CaptureLimits::DEFAULT);
    let mut st = DecodeStats::default();
    let rec = Record {
        frame: 1,
        time_ns: 0,
        linktype: lt,
        data: &frame[..keep],
        orig_len: frame.len() as u32,
    };
    let mut out = Vec::new();
    dec.decode(&rec, &mut st, &mut |s| {
        out.push((s.payload.to_vec(), s.cut))
    });
    (out, st)
}

#[test]
fn snap_length_cut_udp_goes_on_as_captured() {
    let msg = b"OPTIONS sip:b SIP/2.0\r\nCall-ID: x\r\n\r\n";
    let p4 = ipv4(A4, B4, 17, &udp(1, 2, msg));
    let (segs, st) = snapped(&p4, 20 + 8 + 10);
    assert_eq!(segs, vec![(msg[..10].to_vec(), true)]);
    assert_eq!(
        (st.ip_snaplen_cut, st.ip_truncated, st.l4_truncated),
        (1, 0, 0)
    );
    let p6 = ipv6(a6(1), a6(2), 17, &udp(1, 2, msg));
    let (segs, st) = snapped(&p6, 40 + 8 + 5);
    assert_eq!(segs, vec![(msg[..5].to_vec(), true)]);
    assert_eq!(st.ip_snaplen_cut, 1);
    // Whole: not cut.
    let (segs, _) = snapped(&p4, p4.len());
    assert_eq!(segs, vec![(msg.to_vec(), false)]);
    // Cut inside the UDP header: nothing to go on with.
    let (segs, st) = snapped(&p4, 20 + 5);
    assert!(segs.is_empty());
    assert_eq!(st.l4_truncated, 1);
}

#[test]
fn snap_length_cut_streams_and_fragments_are_dropped() {
    let t = ipv4(A4, B4, 6, &tcp(1, 2, 3, b"INVITE sip:b SIP/2.0\r\n"));
    let (segs, st) = snapped(&t, t.len() - 4);
    assert!(segs.is_empty());
    assert_eq!((st.ip_snaplen_cut, st.ip_truncated), (1, 1));
    let frags = frags4(7, 17, &udp(1, 2, &big_payload(3000)), 1480);
    let (segs, st) = snapped_on(1, &frags[0], 600);
    assert!(segs.is_empty());
    assert_eq!(st.ip_truncated, 1);
    // A length that lies in a record that was not cut is still refused.
    let mut p = ipv4(A4, B4, 17, &udp(1, 2, b"abc"));
    p[2..4].copy_from_slice(&200u16.to_be_bytes());
    let (segs, st) = decode(101, &p);
    assert!(segs.is_empty());
    assert_eq!((st.ip_truncated, st.ip_snaplen_cut), (1, 0));
}

// ---------------------------------------------------------------------------------------
// IPv6 extension headers that are hostile
// ---------------------------------------------------------------------------------------

#[test]
fn ipv6_extension_chain_too_long() {
    let mut p = udp(1, 2, b"x");
    let mut next = 17;
    for _ in 0..13 {
        p = ext6(next, 0, &p);
        next = 60;
    }
    let (segs, st) = decode(101, &ipv6(a6(1), a6(2), 60, &p));
    assert!(segs.is_empty());
    assert_eq!(st.ipv6_ext_too_long, 1);
    // Eleven are followed.
    let mut p = udp(1, 2, b"x");
    let mut next = 17;
    for _ in 0..11 {
        p = ext6(next, 0, &p);
        next = 60;
    }
    assert_eq!(one(101, &ipv6(a6(1), a6(2), 60, &p)).0.payload, b"x");
}

#[test]
fn ipv6_extension_header_past_the_packet() {
    let p = vec![17, 200, 0, 0, 0, 0, 0, 0];
    let (segs, st) = decode(101, &ipv6(a6(1), a6(2), 0, &p));
    assert!(segs.is_empty());
    assert_eq!(st.ipv6_ext_bad, 1);
}

#[test]
fn fragment_header_inside_a_reassembled_datagram_is_refused() {
    // An atomic fragment whose payload is another fragment header: a loop of fragments.
    let inner = frag6(17, 0, false, 9, &udp(1, 2, b"x"));
    let p = frag6(44, 0, false, 8, &inner);
    let (segs, st) = decode(101, &ipv6(a6(1), a6(2), 44, &p));
    assert!(segs.is_empty());
    assert_eq!(st.ipv6_ext_bad, 1);
}

#[test]
fn ipv6_atomic_fragment_is_a_datagram() {
    let p = frag6(17, 0, false, 8, &udp(1, 2, b"atomic"));
    let (seg, st) = one(101, &ipv6(a6(1), a6(2), 44, &p));
    assert_eq!(seg.payload, b"atomic");
    assert_eq!((st.ip_fragments, st.ip_reassembled), (0, 0));
}

// ---------------------------------------------------------------------------------------
// Fragment reassembly
// ---------------------------------------------------------------------------------------

/// IPv4 fragments of `datagram` (the IP payload) in pieces of `size` bytes (a multiple of 8).
fn frags4(id: u16, proto: u8, datagram: &[u8], size: usize) -> Vec<Vec<u8>> {
    let n = datagram.len().div_ceil(size);
    (0..n)
        .map(|i| {
            let start = i * size;
            let end = (start + size).min(datagram.len());
            let more = end < datagram.len();
            eth(
                0x0800,
                &ipv4_with(A4, B4, proto, id, start, more, &[], &datagram[start..end]),
            )
        })
        .collect()
}

fn frags6(id: u32, next: u8, datagram: &[u8], size: usize) -> Vec<Vec<u8>> {
    let n = datagram.len().div_ceil(size);
    (0..n)
        .map(|i| {
            let start = i * size;
            let end = (start + size).min(datagram.len());
            let more = end < datagram.len();
            let hbh = ext6(44, 0, &frag6(next, start, more, id, &datagram[start..end]));
            eth(0x86DD, &ipv6(a6(1), a6(2), 0, &hbh))
        })
        .collect()
}

fn big_payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

fn feed_all(dec: &mut Decoder, st: &mut DecodeStats, frames: &[Vec<u8>]) -> Vec<Seg> {
    frames.iter().flat_map(|f| feed(dec, st, 1, 0, f)).collect()
}

#[test]
fn ipv4_fragments_in_order_and_reversed() {
    let payload = big_payload(3000);
    let dgram = udp(5060, 5080, &payload);
    for reverse in [false, true] {
        let mut frames = frags4(77, 17, &dgram, 1480);
        if reverse {
            frames.reverse();
        }
        let mut dec = Decoder::new(CaptureLimits::DEFAULT);
        let mut st = DecodeStats::default();
        let segs = feed_all(&mut dec, &mut st, &frames);
        assert_eq!(segs, vec![sip_seg(&payload)]);
        assert_eq!((st.ip_fragments, st.ip_reassembled), (3, 1));
        assert_eq!(dec.fragments_held(), (0, 0));
    }
}

#[test]
fn ipv4_fragments_shuffled_with_duplicates() {
    let payload = big_payload(4000);
    let dgram = udp(5060, 5080, &payload);
    let frames = frags4(78, 17, &dgram, 512);
    // 8 fragments; send 5, 1, 1 (dup), 7, 0, 3, 3 (dup), 6, 2, 4.
    let order = [5, 1, 1, 7, 0, 3, 3, 6, 2, 4];
    let mut dec = Decoder::new(CaptureLimits::DEFAULT);
    let mut st = DecodeStats::default();
    let sent: Vec<Vec<u8>> = order.iter().map(|&i| frames[i].clone()).collect();
    let segs = feed_all(&mut dec, &mut st, &sent);
    assert_eq!(segs, vec![sip_seg(&payload)]);
    assert_eq!(st.fragment_duplicates, 2);
    assert_eq!(st.fragment_overlaps, 0);
}

#[test]
fn overlapping_fragments_first_data_wins() {
    // The UDP datagram is 8 + 24 bytes; fragments: [0,16) real, [8,32) forged and last,
    // then [16,32) real and last again (duplicate of held data).
    let real = udp(5060, 5080, &[b'R'; 24]);
    let mut forged = real.clone();
    forged[8..].fill(b'F');
    let f1 = eth(0x0800, &ipv4_with(A4, B4, 17, 5, 0, true, &[], &real[..16]));
    let f2 = eth(
        0x0800,
        &ipv4_with(A4, B4, 17, 5, 8, false, &[], &forged[8..]),
    );
    let mut dec = Decoder::new(CaptureLimits::DEFAULT);
    let mut st = DecodeStats::default();
    let segs = feed_all(&mut dec, &mut st, &[f1, f2]);
    let mut want = vec![b'R'; 8];
    want.extend([b'F'; 16]);
    assert_eq!(segs, vec![sip_seg(&want)]);
    assert_eq!(st.fragment_overlaps, 1);
}

#[test]
fn ipv6_fragments_with_headers_in_the_fragmentable_part() {
    let payload = big_payload(2500);
    let fragmentable = ext6(17, 1, &udp(5060, 5080, &payload)); // destination options, then UDP
    let mut frames = frags6(0xABCDEF, 60, &fragmentable, 1232);
    frames.swap(0, 2);
    let mut dec = Decoder::new(CaptureLimits::DEFAULT);
    let mut st = DecodeStats::default();
    let segs = feed_all(&mut dec, &mut st, &frames);
    assert_eq!(
        segs,
        vec![udp_seg(ep6(a6(1), 5060), ep6(a6(2), 5080), &payload)]
    );
    assert_eq!((st.ip_fragments, st.ip_reassembled), (3, 1));
}

#[test]
fn fragments_of_other_datagrams_do_not_mix() {
    let p1 = big_payload(2000);
    let p2: Vec<u8> = p1.iter().map(|b| b ^ 0xFF).collect();
    let a = frags4(1, 17, &udp(5060, 5080, &p1), 1000);
    let b = frags4(2, 17, &udp(5060, 5080, &p2), 1000);
    let mut dec = Decoder::new(CaptureLimits::DEFAULT);
    let mut st = DecodeStats::default();
    let frames = [
        a[0].clone(),
        b[1].clone(),
        b[0].clone(),
        a[2].clone(),
        a[1].clone(),
        b[2].clone(),
    ];
    let segs = feed_all(&mut dec, &mut st, &frames);
    assert_eq!(segs.len(), 2);
    assert!(segs[0] == sip_seg(&p1) && segs[1] == sip_seg(&p2));
}

#[test]
fn fragment_not_a_multiple_of_eight_is_invalid() {
    let f = eth(0x0800, &ipv4_with(A4, B4, 17, 5, 0, true, &[], &[0; 13]));
    let (segs, st) = decode(1, &f);
    assert!(segs.is_empty());
    assert_eq!((st.fragment_invalid, st.ip_fragments), (1, 1));
}

#[test]
fn conflicting_ends_drop_the_set() {
    let f1 = eth(0x0800, &ipv4_with(A4, B4, 17, 5, 16, false, &[], &[0; 8]));
    let f2 = eth(0x0800, &ipv4_with(A4, B4, 17, 5, 16, false, &[], &[0; 16]));
    let mut dec = Decoder::new(CaptureLimits::DEFAULT);
    let mut st = DecodeStats::default();
    feed_all(&mut dec, &mut st, &[f1, f2]);
    assert_eq!(st.fragment_invalid, 1);
    assert_eq!(dec.fragments_held().0, 0);
    // Data past a known end.
    let f1 = eth(0x0800, &ipv4_with(A4, B4, 17, 6, 16, false, &[], &[0; 8]));
    let f2 = eth(0x0800, &ipv4_with(A4, B4, 17, 6, 32, true, &[], &[0; 8]));
    feed_all(&mut dec, &mut st, &[f1, f2]);
    assert_eq!(st.fragment_invalid, 2);
    assert_eq!(dec.fragments_held().0, 0);
}

#[test]
fn fragment_past_65535_is_too_big() {
    // Offset 65528 + 16 bytes: past 65535 - 20.
    let f0 = eth(0x0800, &ipv4_with(A4, B4, 17, 9, 0, true, &[], &[0; 8]));
    let f = eth(
        0x0800,
        &ipv4_with(A4, B4, 17, 9, 65528, false, &[], &[0; 16]),
    );
    let mut dec = Decoder::new(CaptureLimits::DEFAULT);
    let mut st = DecodeStats::default();
    let segs = feed_all(&mut dec, &mut st, &[f0, f]);
    assert!(segs.is_empty());
    assert_eq!(st.fragment_too_big, 1);
    assert_eq!(dec.fragments_held(), (0, 0));
    // The largest that fits reassembles.
    let payload = big_payload(65535 - 20 - 8);
    let frames = frags4(10, 17, &udp(5060, 5080, &payload), 8192);
    let segs = feed_all(&mut dec, &mut st, &frames);
    assert_eq!(segs.len(), 1);
    assert_eq!(segs[0].payload.len(), payload.len());
}

#[test]
fn ipv6_fragment_past_65535_is_too_big() {
    let f0 = eth(
        0x86DD,
        &ipv6(a6(1), a6(2), 44, &frag6(17, 0, true, 7, &[0; 8])),
    );
    let f = eth(
        0x86DD,
        &ipv6(a6(1), a6(2), 44, &frag6(17, 65528, false, 7, &[0; 16])),
    );
    let mut dec = Decoder::new(CaptureLimits::DEFAULT);
    let mut st = DecodeStats::default();
    assert!(feed_all(&mut dec, &mut st, &[f0, f]).is_empty());
    assert_eq!((st.fragment_too_big, st.ip_fragments), (1, 2));
    assert_eq!(dec.fragments_held(), (0, 0));
}

#[test]
fn fragment_flood_hits_the_datagram_bound_oldest_first() {
    let limits = CaptureLimits {
        max_fragment_datagrams: 8,
        ..CaptureLimits::DEFAULT
    };
    let mut dec = Decoder::new(limits);
    let mut st = DecodeStats::default();
    // Datagram 0 first, then a flood of 100 first halves.
    let d0 = frags4(0, 17, &udp(5060, 5080, &big_payload(100)), 64);
    feed(&mut dec, &mut st, 1, 0, &d0[0]);
    for id in 1..=100u16 {
        let f = frags4(id, 17, &udp(5060, 5080, &big_payload(100)), 64);
        feed(&mut dec, &mut st, 1, 0, &f[0]);
        assert!(dec.fragments_held().0 <= 8);
    }
    assert_eq!(st.fragment_evicted_full, 101 - 8);
    // The oldest went: datagram 0 no longer completes; the newest does.
    assert!(feed(&mut dec, &mut st, 1, 0, &d0[1]).is_empty());
    let f = frags4(100, 17, &udp(5060, 5080, &big_payload(100)), 64);
    assert_eq!(feed(&mut dec, &mut st, 1, 0, &f[1]).len(), 1);
    dec.finish(&mut st);
    assert_eq!(st.fragment_unfinished, 7); // 6 left of the flood, plus datagram 0's tail
    assert_eq!(dec.fragments_held(), (0, 0));
}

#[test]
fn fragment_flood_hits_the_byte_bound() {
    let limits = CaptureLimits {
        max_fragment_bytes: 20_000,
        ..CaptureLimits::DEFAULT
    };
    let mut dec = Decoder::new(limits);
    let mut st = DecodeStats::default();
    for id in 0..200u16 {
        let f = frags4(id, 17, &udp(5060, 5080, &big_payload(3000)), 1480);
        feed(&mut dec, &mut st, 1, 0, &f[0]);
        assert!(
            dec.fragments_held().1 <= 20_000,
            "{:?}",
            dec.fragments_held()
        );
    }
    assert!(st.fragment_evicted_bytes > 150, "{st:?}");
    // A datagram larger than the whole bound is dropped, counted.
    let before = st.fragment_evicted_bytes;
    let f = frags4(999, 17, &udp(5060, 5080, &big_payload(30_000)), 1480);
    let segs = feed_all(&mut dec, &mut st, &f);
    assert!(segs.is_empty());
    assert!(st.fragment_evicted_bytes > before);
    assert!(dec.fragments_held().1 <= 20_000);
    // A fragment far out (sparse) is charged its offset: the bound holds.
    let f = eth(
        0x0800,
        &ipv4_with(A4, B4, 17, 4242, 60_000, true, &[], &[0; 8]),
    );
    feed(&mut dec, &mut st, 1, 0, &f);
    assert!(dec.fragments_held().1 <= 20_000);
}

#[test]
fn zero_bounds_hold_nothing() {
    for limits in [
        CaptureLimits {
            max_fragment_datagrams: 0,
            ..CaptureLimits::DEFAULT
        },
        CaptureLimits {
            max_fragment_bytes: 0,
            ..CaptureLimits::DEFAULT
        },
    ] {
        let mut dec = Decoder::new(limits);
        let mut st = DecodeStats::default();
        let f = frags4(1, 17, &udp(5060, 5080, &big_payload(100)), 64);
        assert!(feed_all(&mut dec, &mut st, &f).is_empty());
        assert_eq!(dec.fragments_held(), (0, 0));
        assert_eq!(st.fragment_evicted_full + st.fragment_evicted_bytes, 2);
    }
}

#[test]
fn fragments_time_out_on_capture_time() {
    let limits = CaptureLimits {
        fragment_timeout_ns: 1_000,
        ..CaptureLimits::DEFAULT
    };
    let mut dec = Decoder::new(limits);
    let mut st = DecodeStats::default();
    let f = frags4(1, 17, &udp(5060, 5080, &big_payload(100)), 64);
    feed(&mut dec, &mut st, 1, 10_000, &f[0]);
    // 999 ns later: still there.
    assert_eq!(feed(&mut dec, &mut st, 1, 10_999, &f[1]).len(), 1);
    feed(&mut dec, &mut st, 1, 20_000, &f[0]);
    // An unrelated frame 1 µs later expires it; the tail then starts a new set.
    feed(&mut dec, &mut st, 1, 21_000, &eth(0x0806, &[0; 28]));
    assert_eq!(st.fragment_timeouts, 1);
    assert!(feed(&mut dec, &mut st, 1, 21_000, &f[1]).is_empty());
    assert_eq!(dec.fragments_held().0, 1);
    // A frame stamped in the past does not bring time back: its set starts at 21 µs.
    let g = frags4(2, 17, &udp(5060, 5080, &big_payload(100)), 64);
    feed(&mut dec, &mut st, 1, 5, &g[0]);
    feed(&mut dec, &mut st, 1, 21_999, &eth(0x0806, &[0; 28]));
    assert_eq!((st.fragment_timeouts, dec.fragments_held().0), (1, 2));
    feed(&mut dec, &mut st, 1, 22_000, &eth(0x0806, &[0; 28]));
    assert_eq!(st.fragment_timeouts, 3);
    assert_eq!(dec.fragments_held(), (0, 0));
}

#[test]
fn scattered_fragments_beyond_64_holes_are_dropped() {
    let mut dec = Decoder::new(CaptureLimits::DEFAULT);
    let mut st = DecodeStats::default();
    for i in 0..70 {
        let f = eth(
            0x0800,
            &ipv4_with(A4, B4, 17, 3, i * 16 + 8, true, &[], &[0; 8]),
        );
        feed(&mut dec, &mut st, 1, 0, &f);
    }
    assert_eq!(st.fragment_invalid, 1);
    assert!(dec.fragments_held().0 <= 1);
}

// ---------------------------------------------------------------------------------------
// Tunnels
// ---------------------------------------------------------------------------------------

#[test]
fn ip_in_ip_every_combination() {
    let in4 = ipv4(C4, D4, 17, &udp(5060, 5060, b"in4"));
    let in6 = ipv6(a6(3), a6(4), 17, &udp(5060, 5060, b"in6"));
    let want4 = udp_seg(ep4(C4, 5060), ep4(D4, 5060), b"in4");
    let want6 = udp_seg(ep6(a6(3), 5060), ep6(a6(4), 5060), b"in6");
    let (s, st) = one(101, &ipv4(A4, B4, 4, &in4));
    assert_eq!((s, st.tunnel_ipip), (want4.clone(), 1));
    assert_eq!(one(101, &ipv4(A4, B4, 41, &in6)).0, want6);
    assert_eq!(one(101, &ipv6(a6(1), a6(2), 4, &in4)).0, want4);
    assert_eq!(one(101, &ipv6(a6(1), a6(2), 41, &in6)).0, want6);
}

#[test]
fn gre_with_every_optional_field() {
    let inner = ipv4(C4, D4, 17, &udp(5060, 5060, b"gre"));
    let want = udp_seg(ep4(C4, 5060), ep4(D4, 5060), b"gre");
    for flags in [0x0000, 0x8000, 0x2000, 0x1000, 0xB000] {
        let (s, st) = one(101, &ipv4(A4, B4, 47, &gre(flags, 0x0800, &inner)));
        assert_eq!(s, want, "flags {flags:04x}");
        assert_eq!(st.tunnel_gre, 1);
    }
    let in6 = ipv6(a6(3), a6(4), 6, &tcp(1, 2, 3, b"gre6"));
    assert_eq!(
        one(101, &ipv6(a6(1), a6(2), 47, &gre(0x2000, 0x86DD, &in6)))
            .0
            .payload,
        b"gre6"
    );
    // Transparent Ethernet bridging.
    let teb = gre(0, 0x6558, &eth(0x0800, &inner));
    assert_eq!(one(101, &ipv4(A4, B4, 47, &teb)).0, want);
    // Version 1 (PPTP) and source routing are not decoded.
    for flags in [0x0001, 0x4000] {
        let (segs, st) = decode(101, &ipv4(A4, B4, 47, &gre(flags, 0x0800, &inner)));
        assert!(segs.is_empty());
        assert_eq!(st.tunnel_unsupported, 1);
    }
}

#[test]
fn erspan_types_one_two_three() {
    let inner = eth(
        0x8100,
        &tag(9, 0x0800, &ipv4(C4, D4, 17, &udp(5060, 5060, b"span"))),
    );
    let want = udp_seg(ep4(C4, 5060), ep4(D4, 5060), b"span");
    // Type I: GRE without sequence number, no ERSPAN header.
    let (s, st) = one(1, &eth(0x0800, &ipv4(A4, B4, 47, &gre(0, 0x88BE, &inner))));
    assert_eq!((s, st.tunnel_erspan), (want.clone(), 1));
    let (s, st) = one(1, &eth(0x0800, &ipv4(A4, B4, 47, &erspan2(&inner))));
    assert_eq!((s, st.tunnel_erspan, st.tunnel_gre), (want.clone(), 1, 1));
    for platform in [false, true] {
        let (s, _) = one(
            1,
            &eth(0x0800, &ipv4(A4, B4, 47, &erspan3(0, platform, &inner))),
        );
        assert_eq!(s, want);
    }
    // Frame type 2: an IP packet.
    let ip = ipv4(C4, D4, 17, &udp(5060, 5060, b"span"));
    assert_eq!(one(101, &ipv4(A4, B4, 47, &erspan3(2, true, &ip))).0, want);
    let (segs, st) = decode(101, &ipv4(A4, B4, 47, &erspan3(7, false, &ip)));
    assert!(segs.is_empty());
    assert_eq!(st.tunnel_unsupported, 1);
}

#[test]
fn vxlan_and_what_only_uses_its_port() {
    let inner = eth(0x0800, &ipv4(C4, D4, 17, &udp(5060, 5060, b"vx")));
    let want = udp_seg(ep4(C4, 5060), ep4(D4, 5060), b"vx");
    let (s, st) = one(1, &eth(0x0800, &ipv4(A4, B4, 17, &vxlan(&inner))));
    assert_eq!((s, st.tunnel_vxlan, st.segments_udp), (want, 1, 1));
    // A SIP message to port 4789 is plain UDP.
    let sip = b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n\r\n";
    let (s, st) = one(101, &ipv4(A4, B4, 17, &udp(5060, 4789, sip)));
    assert_eq!((s.payload.as_slice(), st.tunnel_vxlan), (&sip[..], 0));
    // I flag but an implausible inner ethertype: plain UDP too.
    let mut odd = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
    odd.extend(eth(0x1234, &[0; 30]));
    let (s, _) = one(101, &ipv4(A4, B4, 17, &udp(1, 4789, &odd)));
    assert_eq!(s.payload, odd);
}

#[test]
fn geneve_with_options() {
    let ip = ipv4(C4, D4, 17, &udp(5060, 5060, b"gnv"));
    let want = udp_seg(ep4(C4, 5060), ep4(D4, 5060), b"gnv");
    let (s, st) = one(
        101,
        &ipv4(A4, B4, 17, &geneve(0x6558, 2, &eth(0x0800, &ip))),
    );
    assert_eq!((s, st.tunnel_geneve), (want.clone(), 1));
    assert_eq!(one(101, &ipv4(A4, B4, 17, &geneve(0x0800, 0, &ip))).0, want);
}

#[test]
fn fragmented_vxlan_and_gre_are_reassembled_then_decapsulated() {
    let inner_payload = big_payload(2000);
    let inner = eth(0x0800, &ipv4(C4, D4, 17, &udp(5060, 5060, &inner_payload)));
    let want = udp_seg(ep4(C4, 5060), ep4(D4, 5060), &inner_payload);
    let mut dec = Decoder::new(CaptureLimits::DEFAULT);
    let mut st = DecodeStats::default();
    let segs = feed_all(&mut dec, &mut st, &frags4(3, 17, &vxlan(&inner), 1200));
    assert_eq!(segs, vec![want.clone()]);
    let gre_ip = ipv4(C4, D4, 17, &udp(5060, 5060, &inner_payload));
    let segs = feed_all(
        &mut dec,
        &mut st,
        &frags4(4, 47, &gre(0x2000, 0x0800, &gre_ip), 1000),
    );
    assert_eq!(segs, vec![want]);
    assert_eq!(
        (st.tunnel_vxlan, st.tunnel_gre, st.ip_reassembled),
        (1, 1, 2)
    );
}

#[test]
fn fragments_inside_a_tunnel_are_reassembled() {
    let payload = big_payload(3000);
    let inner_frames: Vec<Vec<u8>> = frags4(5, 17, &udp(5060, 5080, &payload), 1480)
        .into_iter()
        .map(|f| f[14..].to_vec()) // inner IP packets, without Ethernet
        .collect();
    let mut dec = Decoder::new(CaptureLimits::DEFAULT);
    let mut st = DecodeStats::default();
    let mut segs = Vec::new();
    for f in &inner_frames {
        segs.extend(feed(&mut dec, &mut st, 101, 0, &ipv6(a6(1), a6(2), 4, f)));
    }
    assert_eq!(segs, vec![sip_seg(&payload)]);
}

fn nest_ipip(levels: usize) -> Vec<u8> {
    let mut p = udp4(b"deep");
    for _ in 0..levels {
        p = ipv4(C4, D4, 4, &p);
    }
    p
}

#[test]
fn tunnel_nesting_is_bounded() {
    // DEFAULT allows 4 levels.
    assert_eq!(one(101, &nest_ipip(4)).0, sip_seg(b"deep"));
    let (segs, st) = decode(101, &nest_ipip(5));
    assert!(segs.is_empty());
    assert_eq!(st.tunnel_too_deep, 1);
    // Depth 0: no tunnel is followed.
    let mut dec = Decoder::new(CaptureLimits {
        max_tunnel_depth: 0,
        ..CaptureLimits::DEFAULT
    });
    let mut st = DecodeStats::default();
    assert!(feed(&mut dec, &mut st, 101, 0, &nest_ipip(1)).is_empty());
    assert_eq!(st.tunnel_too_deep, 1);
    // A huge bound is capped: 200 levels do not recurse 200 times.
    let mut dec = Decoder::new(CaptureLimits {
        max_tunnel_depth: 255,
        ..CaptureLimits::DEFAULT
    });
    let mut st = DecodeStats::default();
    assert!(feed(&mut dec, &mut st, 101, 0, &nest_ipip(200)).is_empty());
    assert_eq!(st.tunnel_too_deep, 1);
    // Mixed nesting: VXLAN in GRE in IP-in-IP.
    let inner = eth(0x0800, &udp4(b"deep"));
    let p = ipv4(
        C4,
        D4,
        4,
        &ipv4(
            A4,
            B4,
            47,
            &gre(0, 0x0800, &ipv4(A4, B4, 17, &vxlan(&inner))),
        ),
    );
    assert_eq!(one(101, &p).0, sip_seg(b"deep"));
}

// ---------------------------------------------------------------------------------------
// Truncation at every byte
// ---------------------------------------------------------------------------------------

fn every_kind_of_frame() -> Vec<(u32, Vec<u8>)> {
    let ip = udp4(b"SIP/2.0 200 OK\r\n\r\n");
    let ip6 = ipv6(
        a6(1),
        a6(2),
        0,
        &ext6(44, 0, &frag6(17, 0, false, 1, &udp(1, 2, b"six"))),
    );
    let inner = eth(0x0800, &ip);
    let mut labels = vec![0x00, 0x01, 0x01, 0x40];
    labels.extend(&ip);
    vec![
        (1, eth(0x0800, &ip)),
        (1, eth(0x86DD, &ip6)),
        (1, eth(0x8100, &tag(1, 0x88A8, &tag(2, 0x0800, &ip)))),
        (1, eth(0x8847, &labels)),
        (113, sll(0x0800, &ip)),
        (276, sll2(0x86DD, &ip6)),
        (0, [2, 0, 0, 0].iter().copied().chain(ip.clone()).collect()),
        (
            108,
            [0, 0, 0, 30].iter().copied().chain(ip6.clone()).collect(),
        ),
        (101, ipv4(A4, B4, 51, &ah(6, &tcp(1, 2, 3, b"tcp")))),
        (101, ipv4(A4, B4, 132, &sctp(1, 2, 3, &[0; 16]))),
        (101, ipv4(A4, B4, 41, &ipv6(a6(1), a6(2), 41, &ip6))),
        (101, ipv4(A4, B4, 47, &gre(0xB000, 0x0800, &ip))),
        (101, ipv4(A4, B4, 47, &gre(0, 0x6558, &inner))),
        (101, ipv4(A4, B4, 47, &erspan2(&inner))),
        (101, ipv4(A4, B4, 47, &erspan3(0, true, &inner))),
        (101, ipv4(A4, B4, 17, &vxlan(&inner))),
        (101, ipv4(A4, B4, 17, &geneve(0x6558, 1, &inner))),
    ]
}

#[test]
fn truncation_at_every_byte_is_counted_never_a_segment() {
    for (lt, frame) in every_kind_of_frame() {
        let (segs, st) = decode(lt, &frame);
        assert_eq!(segs.len(), 1, "whole frame {lt} {frame:02x?}: {st:?}");
        assert_eq!(drops(&st), 0);
        for cut in 0..frame.len() {
            let (segs, st) = decode(lt, &frame[..cut]);
            assert!(segs.is_empty(), "cut {cut} of {frame:02x?}: {segs:?}");
            assert!(
                drops(&st) >= 1,
                "cut {cut} of {frame:02x?} not counted: {st:?}"
            );
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    // A small xorshift: every link type over noise and over mutated good frames.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let frames = every_kind_of_frame();
    let mut dec = Decoder::new(CaptureLimits::DEFAULT);
    let mut st = DecodeStats::default();
    for i in 0..20_000 {
        let (lt, mut f) = frames[i % frames.len()].clone();
        for _ in 0..(next() % 4) {
            let at = (next() as usize) % f.len();
            f[at] = next() as u8;
        }
        feed(&mut dec, &mut st, lt, i as i64, &f);
        let noise: Vec<u8> = (0..next() % 80).map(|_| next() as u8).collect();
        for lt in [0, 1, 101, 108, 113, 276] {
            feed(&mut dec, &mut st, lt, i as i64, &noise);
        }
    }
    assert!(dec.fragments_held().1 <= CaptureLimits::DEFAULT.max_fragment_bytes);
}

// ---------------------------------------------------------------------------------------
// Counters and speed
// ---------------------------------------------------------------------------------------

#[test]
fn counter_names_are_unique_and_visited() {
    let mut names = Vec::new();
    DecodeStats::default().visit(&mut |n, _| names.push(n));
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len());
    let (_, st) = decode(1, &eth(0x0800, &udp4(b"x")));
    assert_eq!(counter(&st, "segments_udp"), 1);
    assert_eq!(counter(&st, "ipv4_packets"), 1);
}

/// Ethernet/IPv4/UDP frames through the decoder: prints packets/s (run with `--release
/// -- --nocapture` for the real figure; tens of millions a second are expected).
#[test]
fn speed_ethernet_ipv4_udp() {
    let frames: Vec<Vec<u8>> = (0..64u16)
        .map(|i| {
            eth(
                0x0800,
                &ipv4(A4, B4, 17, &udp(5060 + i, 5060, &big_payload(400))),
            )
        })
        .collect();
    let mut dec = Decoder::new(CaptureLimits::DEFAULT);
    let mut st = DecodeStats::default();
    let mut bytes = 0usize;
    let n = 1_000_000usize;
    let start = std::time::Instant::now();
    for i in 0..n {
        let f = &frames[i % frames.len()];
        let rec = Record {
            frame: i as u64,
            time_ns: i as i64,
            linktype: 1,
            data: f,
            orig_len: f.len() as u32,
        };
        dec.decode(&rec, &mut st, &mut |s| bytes += s.payload.len());
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(st.segments_udp, n as u64);
    assert_eq!(bytes, n * 400);
    println!(
        "decode Ethernet/IPv4/UDP: {:.1} M packets/s ({n} in {secs:.3} s)",
        n as f64 / secs / 1e6
    );
}
