//! HEP v1, v2 and v3 decoding and stream framing: packets built in code.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sipwire_capture::hep::is_hep;
use sipwire_capture::{decode_hep, hep_frame_len, Endpoint, HepErrorKind, HepLen, HepPacket};

const SIP: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n";

fn chunk(vendor: u16, ty: u16, value: &[u8]) -> Vec<u8> {
    let mut v = vendor.to_be_bytes().to_vec();
    v.extend(ty.to_be_bytes());
    v.extend(((value.len() + 6) as u16).to_be_bytes());
    v.extend(value);
    v
}

fn c(ty: u16, value: &[u8]) -> Vec<u8> {
    chunk(0, ty, value)
}

fn hep3(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = chunks.concat();
    let mut v = b"HEP3".to_vec();
    v.extend(((body.len() + 6) as u16).to_be_bytes());
    v.extend(body);
    v
}

/// Every generic chunk of an IPv4 SIP packet, in the order senders use.
fn v4_chunks() -> Vec<Vec<u8>> {
    vec![
        c(1, &[2]),
        c(2, &[17]),
        c(3, &[10, 0, 0, 1]),
        c(4, &[10, 0, 0, 2]),
        c(7, &5060u16.to_be_bytes()),
        c(8, &5080u16.to_be_bytes()),
        c(9, &1_700_000_000u32.to_be_bytes()),
        c(10, &123_456u32.to_be_bytes()),
        c(11, &[1]),
        c(12, &2001u32.to_be_bytes()),
        c(15, SIP),
    ]
}

fn v6_chunks() -> Vec<Vec<u8>> {
    let a: [u8; 16] = "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets();
    let b: [u8; 16] = "2001:db8::2".parse::<Ipv6Addr>().unwrap().octets();
    vec![
        c(1, &[10]),
        c(2, &[6]),
        c(5, &a),
        c(6, &b),
        c(7, &5061u16.to_be_bytes()),
        c(8, &5062u16.to_be_bytes()),
        c(11, &[5]),
        c(15, b"rtcp"),
    ]
}

fn ep(ip: &str, port: u16) -> Endpoint {
    Endpoint {
        ip: ip.parse().unwrap(),
        port,
    }
}

fn without(chunks: &[Vec<u8>], ty: u16) -> Vec<Vec<u8>> {
    chunks
        .iter()
        .filter(|ch| u16::from_be_bytes([ch[2], ch[3]]) != ty)
        .cloned()
        .collect()
}

fn kind(buf: &[u8]) -> HepErrorKind {
    decode_hep(buf).unwrap_err().kind
}

// ---------------------------------------------------------------------------------------
// HEPv3
// ---------------------------------------------------------------------------------------

#[test]
fn v3_ipv4_every_chunk() {
    let buf = hep3(&v4_chunks());
    let p = decode_hep(&buf).unwrap();
    assert_eq!(
        p,
        HepPacket {
            version: 3,
            time_ns: Some(1_700_000_000_123_456_000),
            src: ep("10.0.0.1", 5060),
            dst: ep("10.0.0.2", 5080),
            ip_proto: 17,
            proto_type: 1,
            capture_id: Some(2001),
            payload: SIP,
        }
    );
    assert!(is_hep(&buf));
}

#[test]
fn v3_ipv6_without_time_or_capture_id() {
    let buf = hep3(&v6_chunks());
    let p = decode_hep(&buf).unwrap();
    assert_eq!(p.src, ep("2001:db8::1", 5061));
    assert_eq!(p.dst, ep("2001:db8::2", 5062));
    assert_eq!((p.ip_proto, p.proto_type), (6, 5));
    assert_eq!((p.time_ns, p.capture_id), (None, None));
    assert_eq!(p.payload, b"rtcp");
}

#[test]
fn v3_family_inferred_from_addresses() {
    let p4 = hep3(&without(&v4_chunks(), 1));
    assert_eq!(decode_hep(&p4).unwrap().src, ep("10.0.0.1", 5060));
    let p6 = hep3(&without(&v6_chunks(), 1));
    assert_eq!(decode_hep(&p6).unwrap().src, ep("2001:db8::1", 5061));
    // Both pairs and a family: the family chooses.
    let mut both = v6_chunks();
    both.extend(without(&without(&without(&v4_chunks(), 1), 2), 7));
    let both: Vec<Vec<u8>> = without(&without(&without(&both, 8), 11), 15)
        .into_iter()
        .chain([c(8, &1u16.to_be_bytes()), c(11, &[1]), c(15, b"x")])
        .collect();
    let buf = hep3(&both);
    let p = decode_hep(&buf).unwrap();
    assert!(matches!(p.src.ip, IpAddr::V6(_)));
}

#[test]
fn v3_seconds_alone_and_capture_id_as_u16() {
    let chunks: Vec<Vec<u8>> = without(&without(&v4_chunks(), 10), 12)
        .into_iter()
        .chain([c(12, &7u16.to_be_bytes())])
        .collect();
    let buf = hep3(&chunks);
    let p = decode_hep(&buf).unwrap();
    assert_eq!(p.time_ns, Some(1_700_000_000_000_000_000));
    assert_eq!(p.capture_id, Some(7));
    // Microseconds alone are no time.
    let buf = hep3(&without(&v4_chunks(), 9));
    let p = decode_hep(&buf).unwrap();
    assert_eq!(p.time_ns, None);
}

#[test]
fn v3_other_chunks_and_vendors_are_skipped() {
    let mut chunks = vec![
        c(13, &30u16.to_be_bytes()),     // keep-alive timer
        c(14, b"secret"),                // authentication key
        c(17, b"correlation-id"),        // internal correlation id
        c(18, &100u16.to_be_bytes()),    // VLAN id
        c(0x20, b"tags"),                // a type past 16
        chunk(0x0006, 15, b"not this"),  // a vendor's chunk 15
        chunk(0xFFFF, 1, &[99, 99, 99]), // a vendor's chunk 1 of any length
        c(16, b"\x1f\x8b"),              // compressed too: the plain payload wins
    ];
    chunks.extend(v4_chunks());
    let buf = hep3(&chunks);
    let p = decode_hep(&buf).unwrap();
    assert_eq!(p.payload, SIP);
    assert_eq!(p.src, ep("10.0.0.1", 5060));
}

#[test]
fn v3_empty_payload_is_a_packet() {
    let chunks: Vec<Vec<u8>> = without(&v4_chunks(), 15)
        .into_iter()
        .chain([c(15, b"")])
        .collect();
    assert_eq!(decode_hep(&hep3(&chunks)).unwrap().payload, b"");
}

#[test]
fn v3_every_fixed_chunk_with_a_wrong_length() {
    let sizes: &[(u16, usize)] = &[
        (1, 1),
        (2, 1),
        (3, 4),
        (4, 4),
        (5, 16),
        (6, 16),
        (7, 2),
        (8, 2),
        (9, 4),
        (10, 4),
        (11, 1),
        (12, 4),
    ];
    for &(ty, size) in sizes {
        for wrong in [0, size - 1, size + 1, size + 7] {
            if ty == 12 && wrong == 2 {
                continue; // a u16 capture id is accepted
            }
            let mut chunks = without(&v4_chunks(), ty);
            chunks.insert(0, c(ty, &vec![0; wrong]));
            let buf = hep3(&chunks);
            let e = decode_hep(&buf).unwrap_err();
            assert_eq!(
                (e.kind, e.offset),
                (HepErrorKind::BadChunkLength, 6),
                "type {ty} length {wrong}"
            );
        }
    }
}

#[test]
fn v3_duplicate_chunks() {
    for ty in [1u16, 2, 3, 7, 9, 11, 12, 15] {
        let mut chunks = v4_chunks();
        let dup = chunks
            .iter()
            .find(|ch| u16::from_be_bytes([ch[2], ch[3]]) == ty)
            .unwrap()
            .clone();
        chunks.push(dup);
        let e = decode_hep(&hep3(&chunks)).unwrap_err();
        assert_eq!(e.kind, HepErrorKind::DuplicateChunk, "type {ty}");
    }
}

#[test]
fn v3_missing_mandatory_chunks() {
    for (ty, want) in [
        (2u16, 2u16),
        (3, 3),
        (4, 4),
        (7, 7),
        (8, 8),
        (11, 11),
        (15, 15),
    ] {
        let buf = hep3(&without(&v4_chunks(), ty));
        let e = decode_hep(&buf).unwrap_err();
        assert_eq!(
            (e.kind, e.offset),
            (HepErrorKind::MissingChunk(want), buf.len()),
            "without {ty}"
        );
    }
    for (ty, want) in [(5u16, 5u16), (6, 6)] {
        let e = decode_hep(&hep3(&without(&v6_chunks(), ty))).unwrap_err();
        assert_eq!(e.kind, HepErrorKind::MissingChunk(want));
    }
    // No family and no address at all.
    let none = without(&without(&without(&v4_chunks(), 1), 3), 4);
    assert_eq!(kind(&hep3(&none)), HepErrorKind::MissingChunk(3));
    // Only a source, or only an IPv6 source, without a family.
    let src_only = without(&without(&v4_chunks(), 1), 4);
    assert_eq!(kind(&hep3(&src_only)), HepErrorKind::MissingChunk(4));
    let src6_only = without(&without(&v6_chunks(), 1), 6);
    assert_eq!(kind(&hep3(&src6_only)), HepErrorKind::MissingChunk(6));
    // A family the addresses do not match.
    let mut v6_as_v4 = without(&v6_chunks(), 1);
    v6_as_v4.insert(0, c(1, &[2]));
    assert_eq!(kind(&hep3(&v6_as_v4)), HepErrorKind::MissingChunk(3));
    // Only a compressed payload.
    let compressed: Vec<Vec<u8>> = without(&v4_chunks(), 15)
        .into_iter()
        .chain([c(16, b"\x1f\x8b\x08")])
        .collect();
    assert_eq!(kind(&hep3(&compressed)), HepErrorKind::CompressedPayload);
}

#[test]
fn v3_unknown_family() {
    let mut chunks = without(&v4_chunks(), 1);
    chunks.insert(0, c(1, &[7]));
    let e = decode_hep(&hep3(&chunks)).unwrap_err();
    assert_eq!((e.kind, e.offset), (HepErrorKind::BadFamily, 6));
}

#[test]
fn v3_truncated_at_every_byte() {
    for buf in [hep3(&v4_chunks()), hep3(&v6_chunks())] {
        for cut in 0..buf.len() {
            let e = decode_hep(&buf[..cut]).unwrap_err();
            assert_eq!(e.kind, HepErrorKind::Truncated, "cut {cut}");
            assert!(e.offset <= cut, "cut {cut}: {e}");
            assert_eq!(hep_frame_len(&buf[..cut]), HepLen::Incomplete, "cut {cut}");
        }
        assert_eq!(hep_frame_len(&buf), HepLen::Complete(buf.len()));
    }
}

#[test]
fn v3_absurd_lengths() {
    let good = hep3(&v4_chunks());
    // Total length below the header.
    for total in 0..6u16 {
        let mut b = good.clone();
        b[4..6].copy_from_slice(&total.to_be_bytes());
        let e = decode_hep(&b).unwrap_err();
        assert_eq!((e.kind, e.offset), (HepErrorKind::BadLength, 4));
        assert_eq!(hep_frame_len(&b), HepLen::NotHep);
    }
    // Total length past the bytes.
    let mut b = good.clone();
    b[4..6].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(kind(&b), HepErrorKind::Truncated);
    assert_eq!(hep_frame_len(&b), HepLen::Incomplete);
    // Total length shorter than the chunks: the chunk that crosses it is truncated.
    let mut b = good.clone();
    b[4..6].copy_from_slice(&((good.len() - 3) as u16).to_be_bytes());
    assert_eq!(kind(&b), HepErrorKind::Truncated);
    // A chunk length below 6 (0 would loop forever).
    for len in 0..6u16 {
        let mut b = good.clone();
        b[10..12].copy_from_slice(&len.to_be_bytes());
        let e = decode_hep(&b).unwrap_err();
        assert_eq!((e.kind, e.offset), (HepErrorKind::BadChunkLength, 10));
    }
    // A chunk length past the packet.
    let mut b = good.clone();
    b[10..12].copy_from_slice(&u16::MAX.to_be_bytes());
    let e = decode_hep(&b).unwrap_err();
    assert_eq!((e.kind, e.offset), (HepErrorKind::Truncated, 6));
    // Bytes after the total length are not part of the packet.
    let mut b = good.clone();
    b.extend(b"trailing garbage");
    assert_eq!(decode_hep(&b).unwrap().payload, SIP);
    assert_eq!(hep_frame_len(&b), HepLen::Complete(good.len()));
    // The biggest packet a u16 allows.
    let big = vec![b'x'; 65535 - 6 - 200];
    let chunks: Vec<Vec<u8>> = without(&v4_chunks(), 15)
        .into_iter()
        .chain([c(15, &big)])
        .collect();
    let b = hep3(&chunks);
    assert!(b.len() <= 65535);
    assert_eq!(decode_hep(&b).unwrap().payload.len(), big.len());
}

#[test]
fn framing_a_stream_of_hep3() {
    let a = hep3(&v4_chunks());
    let b = hep3(&v6_chunks());
    let stream = [a.clone(), b.clone()].concat();
    let HepLen::Complete(n) = hep_frame_len(&stream) else {
        panic!("not framed")
    };
    assert_eq!(n, a.len());
    assert_eq!(decode_hep(&stream[..n]).unwrap().payload, SIP);
    assert_eq!(hep_frame_len(&stream[n..]), HepLen::Complete(b.len()));
    assert_eq!(hep_frame_len(b""), HepLen::Incomplete);
    assert_eq!(hep_frame_len(b"HE"), HepLen::Incomplete);
    assert_eq!(hep_frame_len(b"HEP3\x00"), HepLen::Incomplete);
    assert_eq!(hep_frame_len(b"GET / HTTP/1.1\r\n"), HepLen::NotHep);
    assert_eq!(hep_frame_len(b"HEX"), HepLen::NotHep);
    assert_eq!(hep_frame_len(SIP), HepLen::NotHep);
}

// ---------------------------------------------------------------------------------------
// HEPv1 and v2
// ---------------------------------------------------------------------------------------

fn v12(
    version: u8,
    family: u8,
    proto: u8,
    src: &[u8],
    dst: &[u8],
    time: &[u8],
    p: &[u8],
) -> Vec<u8> {
    let mut v = vec![version, (8 + src.len() + dst.len()) as u8, family, proto];
    v.extend(5060u16.to_be_bytes());
    v.extend(5070u16.to_be_bytes());
    v.extend(src);
    v.extend(dst);
    v.extend(time);
    v.extend(p);
    v
}

/// The v2 time header as a little-endian sender lays it out (12 bytes with padding).
fn time_le(sec: u32, usec: u32, capt: u16) -> Vec<u8> {
    let mut t = sec.to_le_bytes().to_vec();
    t.extend(usec.to_le_bytes());
    t.extend(capt.to_le_bytes());
    t.extend([0, 0]);
    t
}

fn time_be(sec: u32, usec: u32, capt: u16) -> Vec<u8> {
    let mut t = sec.to_be_bytes().to_vec();
    t.extend(usec.to_be_bytes());
    t.extend(capt.to_be_bytes());
    t.extend([0, 0]);
    t
}

#[test]
fn v1_ipv4_and_ipv6() {
    let buf = v12(1, 2, 17, &[10, 0, 0, 1], &[10, 0, 0, 2], &[], SIP);
    assert!(is_hep(&buf));
    let p = decode_hep(&buf).unwrap();
    assert_eq!(
        p,
        HepPacket {
            version: 1,
            time_ns: None,
            src: ep("10.0.0.1", 5060),
            dst: ep("10.0.0.2", 5070),
            ip_proto: 17,
            proto_type: 1,
            capture_id: None,
            payload: SIP,
        }
    );
    let a = Ipv6Addr::LOCALHOST.octets();
    let b: [u8; 16] = "fe80::1".parse::<Ipv6Addr>().unwrap().octets();
    let buf = v12(1, 10, 6, &a, &b, &[], SIP);
    let p = decode_hep(&buf).unwrap();
    assert_eq!(p.src.ip, IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert_eq!(p.dst, ep("fe80::1", 5070));
    assert_eq!(p.ip_proto, 6);
}

#[test]
fn v2_time_in_either_byte_order() {
    let buf = v12(
        2,
        2,
        17,
        &[1, 2, 3, 4],
        &[5, 6, 7, 8],
        &time_le(1_600_000_000, 999_999, 42),
        SIP,
    );
    let p = decode_hep(&buf).unwrap();
    assert_eq!(p.version, 2);
    assert_eq!(p.time_ns, Some(1_600_000_000_999_999_000));
    assert_eq!(p.capture_id, Some(42));
    assert_eq!(p.payload, SIP);
    assert_eq!(p.src.ip, IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)));
    let buf = v12(
        2,
        2,
        17,
        &[1, 2, 3, 4],
        &[5, 6, 7, 8],
        &time_be(1_600_000_000, 250_000, 42),
        SIP,
    );
    let p = decode_hep(&buf).unwrap();
    assert_eq!(p.time_ns, Some(1_600_000_000_250_000_000));
    assert_eq!(p.capture_id, Some(42));
    // IPv6 v2.
    let a = Ipv6Addr::LOCALHOST.octets();
    let buf = v12(2, 10, 17, &a, &a, &time_le(1, 2, 3), b"");
    let p = decode_hep(&buf).unwrap();
    assert_eq!((p.time_ns, p.payload), (Some(1_000_002_000), &b""[..]));
}

#[test]
fn v12_header_errors() {
    // Header length 16 but an IPv6 family.
    let mut b = v12(1, 2, 17, &[0; 4], &[0; 4], &[], SIP);
    b[2] = 10;
    let e = decode_hep(&b).unwrap_err();
    assert_eq!((e.kind, e.offset), (HepErrorKind::BadLength, 1));
    // An unknown family.
    b[2] = 3;
    let e = decode_hep(&b).unwrap_err();
    assert_eq!((e.kind, e.offset), (HepErrorKind::BadFamily, 2));
    assert!(!is_hep(&b));
    // Truncation at every byte.
    for buf in [
        v12(1, 2, 17, &[1; 4], &[2; 4], &[], b""),
        v12(2, 2, 17, &[1; 4], &[2; 4], &time_le(1, 2, 3), b""),
        v12(2, 10, 17, &[1; 16], &[2; 16], &time_le(1, 2, 3), b""),
    ] {
        assert!(decode_hep(&buf).is_ok());
        for cut in 0..buf.len() {
            let e = decode_hep(&buf[..cut]).unwrap_err();
            assert_eq!(e.kind, HepErrorKind::Truncated, "cut {cut} of {buf:?}");
        }
    }
}

#[test]
fn not_hep() {
    for buf in [
        SIP,
        &[0x80, 0x00, 0x12, 0x34][..], // RTP
        &[1, 20, 2, 17, 0, 0, 0, 0][..],
        &[3, 16, 2, 17, 0, 0, 0, 0][..],
        b"HEP2xxxx",
    ] {
        let e = decode_hep(buf).unwrap_err();
        assert_eq!((e.kind, e.offset), (HepErrorKind::NotHep, 0), "{buf:?}");
        assert!(!is_hep(buf));
    }
}

#[test]
fn error_says_what_and_where() {
    let e = decode_hep(&hep3(&without(&v4_chunks(), 15))).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("missing chunk type 15"), "{text}");
    assert!(text.contains("offset"), "{text}");
}

#[test]
fn random_bytes_never_panic() {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let seeds = [
        hep3(&v4_chunks()),
        hep3(&v6_chunks()),
        v12(2, 2, 17, &[1; 4], &[2; 4], &time_le(1, 2, 3), SIP),
    ];
    for i in 0..50_000 {
        let mut b = seeds[i % seeds.len()].clone();
        for _ in 0..(1 + next() % 4) {
            let at = (next() as usize) % b.len();
            b[at] = next() as u8;
        }
        let _ = decode_hep(&b);
        let _ = hep_frame_len(&b);
        let _ = is_hep(&b);
    }
}
