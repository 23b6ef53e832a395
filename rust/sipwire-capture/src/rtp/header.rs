//! RTP and RTCP headers on the wire (RFC 3550 §5.1, §6.4; RFC 5761 §4 for telling them apart
//! on one port), read from borrowed bytes without panicking.

/// The fixed RTP header and where the payload lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RtpHeader {
    pub marker: bool,
    pub pt: u8,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    /// Payload span `[start, end)` after the CSRCs, the extension and the padding; `None` when
    /// those fields do not fit the packet (the fixed fields are still usable).
    pub payload: Option<(usize, usize)>,
}

#[inline]
fn be16(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]))
}

#[inline]
pub(crate) fn be32(p: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?))
}

/// Version 2 in the top two bits (RFC 3550 §5.1). SIP (ASCII letters: 0x4x-0x7x), STUN (0x00,
/// 0x01) and DTLS (20-63) never have it (RFC 7983 §7 demultiplexes on the same bits).
#[inline]
pub(crate) fn is_v2(p: &[u8]) -> bool {
    p.first().is_some_and(|b| b >> 6 == 2)
}

/// RFC 5761 §4: a second byte of 192-223 (payload type 64-95 with the marker) is RTCP (packet
/// types 192-223); RTP avoids those payload types when muxed.
#[inline]
pub(crate) fn looks_rtcp(p: &[u8]) -> bool {
    p.get(1).is_some_and(|b| (192..=223).contains(b))
}

/// Reads an RTP header (RFC 3550 §5.1): at least the 12 fixed bytes with version 2.
#[inline]
pub(crate) fn parse_rtp(p: &[u8]) -> Option<RtpHeader> {
    let b0 = *p.first()?;
    let b1 = *p.get(1)?;
    if b0 >> 6 != 2 || p.len() < 12 {
        return None;
    }
    Some(RtpHeader {
        marker: b1 & 0x80 != 0,
        pt: b1 & 0x7f,
        seq: be16(p, 2)?,
        ts: be32(p, 4)?,
        ssrc: be32(p, 8)?,
        payload: payload_span(p, b0),
    })
}

/// The payload after 4×CC CSRC bytes, the extension (RFC 3550 §5.3.1: 4 bytes of header plus
/// 4×length) and the padding (§5.1: the last byte counts the padding bytes, itself included).
fn payload_span(p: &[u8], b0: u8) -> Option<(usize, usize)> {
    let mut off = 12 + 4 * usize::from(b0 & 0x0f);
    if b0 & 0x10 != 0 {
        let words = usize::from(be16(p, off + 2)?);
        off += 4 + 4 * words;
    }
    let mut end = p.len();
    if b0 & 0x20 != 0 {
        let pad = usize::from(*p.last()?);
        if pad == 0 {
            return None;
        }
        end = end.checked_sub(pad)?;
    }
    (off <= end).then_some((off, end))
}

/// One RTCP packet of a compound packet (RFC 3550 §6.4): its type, count field and body
/// (the bytes after the 4-byte header, padding included).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RtcpPacket<'a> {
    pub pt: u8,
    pub count: u8,
    pub body: &'a [u8],
}

/// Checks a compound RTCP packet as RFC 3550 Appendix A.2 does: version 2 and a packet type
/// of 192-223 in every packet, lengths that add up to the datagram exactly, padding only in
/// the last one. `strict` also asks that the first packet be an SR or RR (A.2; reduced-size
/// RTCP, RFC 5506, drops that rule, so it is only asked of packets no SDP announced).
pub(crate) fn rtcp_valid(p: &[u8], strict: bool) -> bool {
    let mut rest = p;
    let mut first = true;
    while !rest.is_empty() {
        let (Some(&b0), Some(&pt)) = (rest.first(), rest.get(1)) else {
            return false;
        };
        if b0 >> 6 != 2 || !(192..=223).contains(&pt) || (first && strict && pt != 200 && pt != 201)
        {
            return false;
        }
        let Some(words) = be16(rest, 2) else {
            return false;
        };
        let Some((_, tail)) = rest.split_at_checked((usize::from(words) + 1) * 4) else {
            return false;
        };
        if b0 & 0x20 != 0 && !tail.is_empty() {
            return false;
        }
        first = false;
        rest = tail;
    }
    !first
}

/// The packets of a compound RTCP packet, in order; stops at the first one that does not fit.
pub(crate) fn rtcp_packets(p: &[u8]) -> impl Iterator<Item = RtcpPacket<'_>> {
    let mut rest = p;
    std::iter::from_fn(move || {
        let b0 = *rest.first()?;
        let pt = *rest.get(1)?;
        let len = (usize::from(be16(rest, 2)?) + 1) * 4;
        let (pkt, tail) = rest.split_at_checked(len)?;
        rest = tail;
        Some(RtcpPacket {
            pt,
            count: b0 & 0x1f,
            body: pkt.get(4..)?,
        })
    })
}

/// One report block (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReportBlock {
    pub ssrc: u32,
    pub fraction_lost: u8,
    /// Signed 24-bit (RFC 3550 §6.4.1; negative with duplicates).
    pub cumulative_lost: i32,
    pub highest_seq: u32,
    pub jitter: u32,
    pub lsr: u32,
    pub dlsr: u32,
}

pub(crate) fn report_block(b: &[u8]) -> Option<ReportBlock> {
    let lost = be32(b, 4)?;
    // Sign-extend the low 24 bits.
    let cumulative_lost = ((lost << 8) as i32) >> 8;
    Some(ReportBlock {
        ssrc: be32(b, 0)?,
        fraction_lost: (lost >> 24) as u8,
        cumulative_lost,
        highest_seq: be32(b, 8)?,
        jitter: be32(b, 12)?,
        lsr: be32(b, 16)?,
        dlsr: be32(b, 20)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(b0: u8, extra: &[u8]) -> Vec<u8> {
        let mut v = vec![b0, 0x80 | 8, 0x12, 0x34, 0, 0, 1, 0, 0xaa, 0xbb, 0xcc, 0xdd];
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn fixed_fields() {
        let h = parse_rtp(&rtp(0x80, b"abc")).unwrap();
        assert!(h.marker);
        assert_eq!((h.pt, h.seq, h.ts, h.ssrc), (8, 0x1234, 256, 0xaabbccdd));
        assert_eq!(h.payload, Some((12, 15)));
        assert!(parse_rtp(&rtp(0x40, b"")).is_none(), "version 1");
        assert!(parse_rtp(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_none());
    }

    #[test]
    fn csrc_extension_padding() {
        // Two CSRCs, a one-word extension, then 2 payload bytes and 3 of padding.
        let mut extra = vec![0; 8];
        extra.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]);
        extra.extend_from_slice(&[9, 9, 0, 0, 3]);
        let h = parse_rtp(&rtp(0x80 | 0x20 | 0x10 | 2, &extra)).unwrap();
        assert_eq!(h.payload, Some((28, 30)));
        // CSRC count beyond the packet, extension length beyond it, padding beyond it or 0.
        assert_eq!(parse_rtp(&rtp(0x8f, b"")).unwrap().payload, None);
        assert_eq!(parse_rtp(&rtp(0x90, &[0, 0, 0, 9])).unwrap().payload, None);
        assert_eq!(parse_rtp(&rtp(0xa0, &[1, 200])).unwrap().payload, None);
        assert_eq!(parse_rtp(&rtp(0xa0, &[1, 0])).unwrap().payload, None);
    }

    #[test]
    fn truncation_never_panics() {
        let mut extra = vec![0; 8];
        extra.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4, 9, 0, 2]);
        let p = rtp(0xb2, &extra);
        for n in 0..=p.len() {
            let _ = parse_rtp(&p[..n]);
            let _ = rtcp_valid(&p[..n], false);
            let _ = rtcp_packets(&p[..n]).count();
        }
    }

    #[test]
    fn rtcp_compound() {
        let sr = [
            0x81, 200, 0, 12, 0, 0, 0, 1, // header, sender SSRC
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // sender info
            0, 0, 0, 2, 5, 0xff, 0xff, 0xfe, 0, 0, 1, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let sdes = [0x81, 202, 0, 2, 0, 0, 0, 1, 1, 1, b'x', 0];
        let mut c = sr.to_vec();
        c.extend_from_slice(&sdes);
        assert!(rtcp_valid(&c, true));
        let pkts: Vec<_> = rtcp_packets(&c).collect();
        assert_eq!(pkts.len(), 2);
        assert_eq!(
            (pkts[0].pt, pkts[0].count, pkts[0].body.len()),
            (200, 1, 48)
        );
        let rb = report_block(&pkts[0].body[24..]).unwrap();
        assert_eq!(rb.ssrc, 2);
        assert_eq!(rb.fraction_lost, 5);
        assert_eq!(rb.cumulative_lost, -2);
        assert_eq!((rb.highest_seq, rb.jitter), (256, 9));
        // A length that overruns, a trailing byte, SDES first under the strict rule.
        let mut bad = c.clone();
        bad[3] = 13;
        assert!(!rtcp_valid(&bad, false));
        let mut tail = c.clone();
        tail.push(0);
        assert!(!rtcp_valid(&tail, false));
        assert!(!rtcp_valid(&sdes, true));
        assert!(rtcp_valid(&sdes, false));
        // Padding bit on a packet that is not the last.
        let mut padded = c.clone();
        padded[0] |= 0x20;
        assert!(!rtcp_valid(&padded, false));
    }
}
