//! The record readers on captures built here byte by byte: every pcap and pcapng variant,
//! compressed inputs, and hostile inputs (truncation at every byte, absurd lengths).

use std::io::{self, Cursor, Read, Write};

use sipwire_capture::records::{CaptureFormat, RecordReader, RecordStats, TsResol, MAX_INTERFACES};
use sipwire_capture::source::{Compression, OpenError};
use sipwire_capture::{CaptureLimits, Counters};

// ---------------------------------------------------------------- builders

fn w16(out: &mut Vec<u8>, big: bool, v: u16) {
    out.extend(if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}

fn w32(out: &mut Vec<u8>, big: bool, v: u32) {
    out.extend(if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}

/// Classic pcap: magic per (nanosecond, modified), in the chosen byte order.
struct Pcap {
    big: bool,
    modified: bool,
    out: Vec<u8>,
}

impl Pcap {
    fn new(big: bool, nanos: bool, modified: bool, linktype: u32, snaplen: u32) -> Self {
        let magic = match (nanos, modified) {
            (true, _) => 0xa1b2_3c4d,
            (false, true) => 0xa1b2_cd34,
            (false, false) => 0xa1b2_c3d4,
        };
        let mut out = Vec::new();
        w32(&mut out, big, magic);
        w16(&mut out, big, 2);
        w16(&mut out, big, 4);
        w32(&mut out, big, 0);
        w32(&mut out, big, 0);
        w32(&mut out, big, snaplen);
        w32(&mut out, big, linktype);
        Pcap { big, modified, out }
    }

    fn rec(&mut self, sec: u32, frac: u32, data: &[u8], orig: u32) -> &mut Self {
        self.rec_len(sec, frac, data, data.len() as u32, orig)
    }

    /// A record whose length field says `incl` whatever the data.
    fn rec_len(&mut self, sec: u32, frac: u32, data: &[u8], incl: u32, orig: u32) -> &mut Self {
        let big = self.big;
        w32(&mut self.out, big, sec);
        w32(&mut self.out, big, frac);
        w32(&mut self.out, big, incl);
        w32(&mut self.out, big, orig);
        if self.modified {
            w32(&mut self.out, big, 7); // ifindex
            w16(&mut self.out, big, 0x0800); // protocol
            self.out.extend([0, 0]); // pkt_type, pad
        }
        self.out.extend(data);
        self
    }
}

/// pcapng, written block by block in the current section's byte order.
#[derive(Default)]
struct Ng {
    big: bool,
    out: Vec<u8>,
    /// (end offset, is a packet block) of each block, for the truncation tests.
    ends: Vec<(usize, bool)>,
}

type Opts<'a> = &'a [(u16, &'a [u8])];

impl Ng {
    fn opts(&self, body: &mut Vec<u8>, opts: Opts<'_>) {
        if opts.is_empty() {
            return;
        }
        for (code, val) in opts {
            w16(body, self.big, *code);
            w16(body, self.big, val.len() as u16);
            body.extend(*val);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        body.extend([0, 0, 0, 0]);
    }

    fn block(&mut self, btype: u32, mut body: Vec<u8>) -> &mut Self {
        body.resize(body.len().next_multiple_of(4), 0);
        let len = body.len() as u32 + 12;
        let big = self.big;
        w32(&mut self.out, big, btype);
        w32(&mut self.out, big, len);
        self.out.extend(body);
        w32(&mut self.out, big, len);
        self.ends.push((self.out.len(), matches!(btype, 2 | 3 | 6)));
        self
    }

    fn shb(&mut self, big: bool) -> &mut Self {
        self.big = big;
        let mut b = Vec::new();
        w32(&mut b, big, 0x1a2b_3c4d);
        w16(&mut b, big, 1);
        w16(&mut b, big, 0);
        b.extend((-1i64).to_le_bytes());
        self.opts(&mut b, &[(4, b"sipwire tests")]); // shb_userappl
        self.block(0x0a0d_0d0a, b)
    }

    fn idb(&mut self, linktype: u16, snaplen: u32, opts: Opts<'_>) -> &mut Self {
        let mut b = Vec::new();
        w16(&mut b, self.big, linktype);
        w16(&mut b, self.big, 0);
        w32(&mut b, self.big, snaplen);
        self.opts(&mut b, opts);
        self.block(1, b)
    }

    fn epb(&mut self, iface: u32, ts: u64, data: &[u8], orig: u32) -> &mut Self {
        let mut b = Vec::new();
        w32(&mut b, self.big, iface);
        w32(&mut b, self.big, (ts >> 32) as u32);
        w32(&mut b, self.big, ts as u32);
        w32(&mut b, self.big, data.len() as u32);
        w32(&mut b, self.big, orig);
        b.extend(data);
        b.resize(b.len().next_multiple_of(4), 0);
        self.opts(&mut b, &[(1, b"a comment")]);
        self.block(6, b)
    }

    fn pb(&mut self, iface: u16, ts: u64, data: &[u8], orig: u32) -> &mut Self {
        let mut b = Vec::new();
        w16(&mut b, self.big, iface);
        w16(&mut b, self.big, 0);
        w32(&mut b, self.big, (ts >> 32) as u32);
        w32(&mut b, self.big, ts as u32);
        w32(&mut b, self.big, data.len() as u32);
        w32(&mut b, self.big, orig);
        b.extend(data);
        self.block(2, b)
    }

    fn spb(&mut self, data: &[u8], orig: u32) -> &mut Self {
        let mut b = Vec::new();
        w32(&mut b, self.big, orig);
        b.extend(data);
        self.block(3, b)
    }
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zst(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 1).unwrap()
}

// ---------------------------------------------------------------- reading

#[derive(Debug, PartialEq, Eq)]
struct Rec {
    frame: u64,
    time_ns: i64,
    linktype: u32,
    data: Vec<u8>,
    orig_len: u32,
}

fn reader(bytes: Vec<u8>, limits: CaptureLimits) -> Result<RecordReader, OpenError> {
    RecordReader::new(Box::new(Cursor::new(bytes)), limits)
}

fn drain(r: &mut RecordReader) -> (Vec<Rec>, RecordStats) {
    let mut stats = RecordStats::default();
    let mut out = Vec::new();
    while let Some(rec) = r.next_record(&mut stats) {
        out.push(Rec {
            frame: rec.frame,
            time_ns: rec.time_ns,
            linktype: rec.linktype,
            data: rec.data.to_vec(),
            orig_len: rec.orig_len,
        });
    }
    // The end is sticky.
    assert!(r.next_record(&mut stats).is_none());
    (out, stats)
}

fn read_all(bytes: Vec<u8>) -> (Vec<Rec>, RecordStats) {
    read_with(bytes, CaptureLimits::DEFAULT)
}

fn read_with(bytes: Vec<u8>, limits: CaptureLimits) -> (Vec<Rec>, RecordStats) {
    drain(&mut reader(bytes, limits).unwrap())
}

/// The counters that are not zero, by name.
fn nonzero(s: &RecordStats) -> Vec<(&'static str, u64)> {
    let mut v = Vec::new();
    s.visit(&mut |k, n| {
        if n != 0 && k != "bytes" {
            v.push((k, n))
        }
    });
    v
}

const SEC: i64 = 1_000_000_000;

// ---------------------------------------------------------------- classic pcap

#[test]
fn pcap_both_byte_orders_micro_and_nano() {
    for big in [false, true] {
        for nanos in [false, true] {
            let mut p = Pcap::new(big, nanos, false, 1, 65535);
            p.rec(1_700_000_000, 250, b"first", 5)
                .rec(1_700_000_001, 999_999, b"second!", 60)
                // The latest time a header can hold (a fraction past a second after real
                // records would be damage, see `pcap_damage_in_the_middle_is_passed_over`).
                .rec(u32::MAX, 999_999, b"x", 1);
            let len = p.out.len() as u64;
            let mut r = reader(p.out, CaptureLimits::DEFAULT).unwrap();
            assert_eq!(r.format(), CaptureFormat::Pcap);
            assert_eq!(r.compression(), Compression::None);
            let h = r.pcap_header().unwrap();
            assert_eq!(
                (h.big_endian, h.nanosecond, h.modified),
                (big, nanos, false)
            );
            assert_eq!(
                (h.version_major, h.version_minor, h.snaplen, h.linktype),
                (2, 4, 65535, 1)
            );
            assert_eq!(r.interfaces().len(), 1);
            let (recs, s) = drain(&mut r);
            let unit = if nanos { 1 } else { 1000 };
            assert_eq!(
                recs,
                vec![
                    Rec {
                        frame: 1,
                        time_ns: 1_700_000_000 * SEC + 250 * unit,
                        linktype: 1,
                        data: b"first".to_vec(),
                        orig_len: 5
                    },
                    Rec {
                        frame: 2,
                        time_ns: 1_700_000_001 * SEC + 999_999 * unit,
                        linktype: 1,
                        data: b"second!".to_vec(),
                        orig_len: 60
                    },
                    Rec {
                        frame: 3,
                        time_ns: i64::from(u32::MAX) * SEC + 999_999 * unit,
                        linktype: 1,
                        data: b"x".to_vec(),
                        orig_len: 1
                    },
                ],
                "big={big} nanos={nanos}"
            );
            assert_eq!(nonzero(&s), [("records", 3), ("truncated_records", 1)]);
            assert_eq!(s.bytes, len);
            // The largest fields, alone in a file (no time to compare with): read as they are.
            let mut p = Pcap::new(big, nanos, false, 1, 65535);
            p.rec(u32::MAX, u32::MAX, b"", 0);
            let (recs, _) = read_all(p.out);
            assert_eq!(
                recs.iter().map(|r| r.time_ns).collect::<Vec<_>>(),
                [i64::from(u32::MAX) * SEC + i64::from(u32::MAX) * unit]
            );
        }
    }
}

#[test]
fn pcap_modified_kuznetsov() {
    for big in [false, true] {
        let mut p = Pcap::new(big, false, true, 113, 0);
        p.rec(10, 20, b"cooked", 6).rec(11, 0, b"x", 1);
        let mut r = reader(p.out, CaptureLimits::DEFAULT).unwrap();
        assert!(r.pcap_header().unwrap().modified);
        let (recs, s) = drain(&mut r);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].data, b"cooked");
        assert_eq!(recs[0].time_ns, 10 * SEC + 20_000);
        assert_eq!(recs[1].linktype, 113);
        assert_eq!(nonzero(&s), [("records", 2)]);
    }
}

#[test]
fn pcap_linktype_fcs_bits_masked() {
    // P bit set, FCS length 2 words (4 bytes), link type Ethernet.
    let mut p = Pcap::new(false, false, false, 0x2400_0001, 65535);
    p.rec(0, 0, b"frame+fcs", 9);
    let mut r = reader(p.out, CaptureLimits::DEFAULT).unwrap();
    let h = r.pcap_header().unwrap();
    assert_eq!((h.linktype, h.fcs_len), (1, Some(4)));
    assert_eq!(drain(&mut r).0[0].linktype, 1);
    // Upper bits without the P bit: no FCS length, link type still masked.
    let p = Pcap::new(true, false, false, 0x1000_0071, 65535);
    let h = reader(p.out, CaptureLimits::DEFAULT)
        .unwrap()
        .pcap_header()
        .unwrap();
    assert_eq!((h.linktype, h.fcs_len), (113, None));
}

#[test]
fn pcap_records_across_buffer_refills_and_trickling_reader() {
    // Sizes that straddle every chunk boundary, content tied to the frame number.
    let mut p = Pcap::new(false, true, false, 101, 262_144);
    let mut want = Vec::new();
    for i in 0..3000u32 {
        let len = (i * 7919) % 1500;
        let data: Vec<u8> = (0..len).map(|j| (i + j) as u8).collect();
        p.rec(i, i, &data, len);
        want.push(data);
    }
    // A record as big as max_record: the buffer grows for it.
    let big = vec![0xab; CaptureLimits::DEFAULT.max_record as usize];
    p.rec(9, 9, &big, big.len() as u32);
    want.push(big);
    let bytes = p.out;
    let (recs, s) = read_all(bytes.clone());
    assert_eq!(
        recs.iter().map(|r| r.data.clone()).collect::<Vec<_>>(),
        want
    );
    assert_eq!(recs.last().unwrap().frame, 3001);
    assert_eq!(nonzero(&s), [("records", 3001)]);

    /// Hands out at most 3 bytes per read.
    struct Trickle(Cursor<Vec<u8>>);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.read(&mut buf[..n])
        }
    }
    let small: Vec<u8> = bytes[..200_000].to_vec();
    let (a, sa) = read_all(small.clone());
    let (b, sb) = drain(
        &mut RecordReader::new(
            Box::new(Trickle(Cursor::new(small))),
            CaptureLimits::DEFAULT,
        )
        .unwrap(),
    );
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    assert_eq!(sa.truncated_file, 1);
}

#[test]
fn pcap_absurd_length_is_passed_over() {
    let mut p = Pcap::new(false, false, false, 1, 65535);
    p.rec(1, 0, b"ok", 2)
        .rec_len(2, 0, b"garbage", 0xffff_ffff, 0xffff_ffff)
        .rec(3, 0, b"after", 5);
    let (recs, s) = read_all(p.out);
    assert_eq!(recs.iter().map(|r| r.frame).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(recs[1].data, b"after");
    assert_eq!(
        nonzero(&s),
        [
            ("records", 2),
            ("bad_record_length", 1),
            ("resyncs", 1),
            ("resync_skipped_bytes", 16 + 7)
        ]
    );
}

/// A length damaged into one that runs past the end of the input, with whole records after
/// it: damage, not a cut file (pcap and pcapng).
#[test]
fn a_length_past_the_end_with_records_after_it_is_damage() {
    let mut p = Pcap::new(false, false, false, 1, 65535);
    p.rec(1, 0, b"first", 5)
        .rec_len(2, 0, b"damaged", 60_000, 60_000)
        .rec(3, 0, b"after", 5)
        .rec(4, 0, b"last", 4);
    let (recs, s) = read_all(p.out);
    let got: Vec<_> = recs.iter().map(|r| (r.frame, r.data.clone())).collect();
    assert_eq!(
        got,
        [
            (1, b"first".to_vec()),
            (3, b"after".to_vec()),
            (4, b"last".to_vec())
        ]
    );
    assert_eq!(
        (s.bad_record_length, s.resyncs, s.truncated_file),
        (1, 1, 0)
    );
    let mut g = Ng::default();
    g.shb(false).idb(1, 0, &[]).epb(0, 1, b"first", 5);
    let at = g.out.len();
    g.epb(0, 2, b"damaged", 7).epb(0, 3, b"after", 5);
    g.out[at + 4..at + 8].copy_from_slice(&40_000u32.to_le_bytes());
    let (recs, s) = read_all(g.out);
    let got: Vec<_> = recs.iter().map(|r| r.data.clone()).collect();
    assert_eq!(got, [b"first".to_vec(), b"after".to_vec()]);
    assert_eq!((s.bad_block_length, s.resyncs, s.truncated_file), (1, 1, 0));
}

/// Damage between records (bytes that are no record header) is passed over: the records
/// after it are read, at the next place where two headers in a row are believable.
#[test]
fn pcap_damage_in_the_middle_is_passed_over() {
    for (big, nanos) in [(false, false), (true, true)] {
        let mut p = Pcap::new(big, nanos, false, 1, 65535);
        for i in 1..=3u8 {
            p.rec(100 + u32::from(i), 7, &[i; 60], 60);
        }
        p.out.extend([0xff; 50]);
        for i in 4..=6u8 {
            p.rec(100 + u32::from(i), 7, &[i; 60], 60);
        }
        let (recs, s) = read_all(p.out);
        let got: Vec<_> = recs.iter().map(|r| (r.frame, r.data[0])).collect();
        assert_eq!(got, [(1, 1), (2, 2), (3, 3), (5, 4), (6, 5), (7, 6)]);
        assert_eq!((s.resyncs, s.resync_skipped_bytes), (1, 50));
    }
    // A damaged header whose length is possible (it would carry reading past the records
    // after it), known by its impossible fraction and a time years away.
    let mut p = Pcap::new(false, false, false, 1, 65535);
    for i in 1..=3u8 {
        p.rec(1_700_000_000 + u32::from(i), 7, &[i; 60], 60);
    }
    p.rec_len(3_039_674_335, 2_841_469_060, &[], 300, 214);
    for i in 4..=9u8 {
        p.rec(1_700_000_000 + u32::from(i), 7, &[i; 60], 60);
    }
    let (recs, s) = read_all(p.out);
    let got: Vec<_> = recs.iter().map(|r| r.data[0]).collect();
    assert_eq!(got, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(
        (s.bad_record_length, s.resyncs, s.resync_skipped_bytes),
        (1, 1, 16)
    );
    // Nothing after the damage is a record: the rest is counted, and reading ends.
    let mut p = Pcap::new(false, false, false, 1, 65535);
    p.rec(1, 0, b"ok", 2);
    p.out.extend(vec![0xff; 1 << 20]);
    let (recs, s) = read_all(p.out);
    assert_eq!(recs.len(), 1);
    assert_eq!((s.resyncs, s.resync_skipped_bytes), (0, 1 << 20));
}

#[test]
fn pcap_zero_bytes_are_damage_not_empty_records() {
    // A run of zero bytes reads as headers of empty packets at time 0. They are damage: they
    // neither become records nor move the clock that tells later damage from records, so the
    // records after a hole of zeros (here inside a record, as in a file with a block
    // overwritten) are read.
    for zeros in [16, 2000, 2001, 70_000] {
        let mut p = Pcap::new(false, false, false, 1, 65535);
        for i in 1..=3u8 {
            p.rec(1_700_000_000 + u32::from(i), 7, &[i; 60], 60);
        }
        let hole = p.out.len() + 16 + 30;
        for i in 4..=9u8 {
            p.rec(1_700_000_000 + u32::from(i), 7, &[i; 60], 60);
        }
        p.out.splice(hole..hole, vec![0; zeros]);
        let (recs, s) = read_all(p.out);
        // Record 4 holds the hole: what is read of it is damaged, or it is passed over.
        let got: Vec<_> = recs.iter().map(|r| r.data[0]).filter(|&b| b != 4).collect();
        assert_eq!(
            got,
            [1, 2, 3, 5, 6, 7, 8, 9],
            "{zeros} zeros: {:?}",
            nonzero(&s)
        );
        assert!(recs.iter().all(|r| r.time_ns > 0));
    }
    // Zero padding after the last record is passed over and counted, not read as packets.
    let mut p = Pcap::new(false, false, false, 1, 65535);
    p.rec(1_700_000_000, 0, b"ok", 2);
    p.out.extend([0; 4096]);
    let (recs, s) = read_all(p.out);
    assert_eq!(recs.len(), 1);
    assert_eq!(s.resync_skipped_bytes, 4096);
    // A capture whose clock was never set still reads from time 0.
    let mut p = Pcap::new(false, false, false, 1, 65535);
    for i in 0..5u32 {
        p.rec(0, i, b"zz", 2);
    }
    assert_eq!(read_all(p.out).0.len(), 5);
}

#[test]
fn pcap_record_over_max_record_within_snaplen_is_skipped() {
    let limits = CaptureLimits {
        max_record: 100,
        ..CaptureLimits::DEFAULT
    };
    let mut p = Pcap::new(true, false, false, 1, 65535);
    p.rec(1, 0, &[1; 100], 100)
        .rec(2, 0, &[2; 101], 101)
        .rec(3, 0, &[3; 5000], 9000)
        .rec(4, 0, &[4; 10], 10);
    let (recs, s) = read_with(p.out.clone(), limits);
    assert_eq!(recs.iter().map(|r| r.frame).collect::<Vec<_>>(), [1, 4]);
    assert_eq!(recs[1].data, [4; 10]);
    assert_eq!(nonzero(&s), [("records", 2), ("oversized_records", 2)]);
    // The same file with a snap length below those records: beyond it is damage.
    let mut p = Pcap::new(true, false, false, 1, 100);
    p.rec(1, 0, &[1; 100], 100)
        .rec(2, 0, &[2; 101], 101)
        .rec(3, 0, b"x", 1);
    let (recs, s) = read_with(p.out, limits);
    assert_eq!(recs.iter().map(|r| r.frame).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(
        nonzero(&s),
        [
            ("records", 2),
            ("bad_record_length", 1),
            ("resyncs", 1),
            ("resync_skipped_bytes", 16 + 101)
        ]
    );
}

#[test]
fn pcap_truncated_at_every_byte() {
    let mut p = Pcap::new(false, false, false, 1, 65535);
    p.rec(1, 0, b"INVITE sip:a@b SIP/2.0", 22)
        .rec(2, 0, b"", 0)
        .rec(3, 0, b"SIP/2.0 200 OK", 40);
    let full = p.out;
    let ends = [24, 24 + 16 + 22, 24 + 16 + 22 + 16, full.len()];
    for n in 0..=full.len() {
        let cut = full[..n].to_vec();
        let r = reader(cut, CaptureLimits::DEFAULT);
        if n < 4 {
            let e = r.expect_err("too short to be a capture");
            assert!(e.to_string().contains("not a capture"), "{e}");
            continue;
        }
        let (recs, s) = drain(&mut r.unwrap());
        let complete = ends[1..].iter().filter(|&&e| e <= n).count();
        assert_eq!(recs.len(), complete, "cut at {n}");
        let at_boundary = ends.contains(&n);
        assert_eq!(s.truncated_file, u64::from(!at_boundary), "cut at {n}");
        assert_eq!(s.bytes, n as u64);
        let mut want = Vec::new();
        if complete > 0 {
            want.push(("records", complete as u64));
        }
        if complete > 2 {
            want.push(("truncated_records", 1));
        }
        if !at_boundary {
            want.push(("truncated_file", 1));
        }
        assert_eq!(nonzero(&s), want, "cut at {n}");
    }
}

// ---------------------------------------------------------------- pcapng

/// Two sections of opposite byte orders; three interfaces with their own link types and
/// time resolutions; EPB, SPB, obsolete PB; blocks of other types skipped.
fn two_sections() -> Ng {
    let mut g = Ng::default();
    g.shb(false)
        .idb(1, 65535, &[]) // Ethernet, µs
        .idb(113, 0, &[(9, &[9]), (2, b"any")]) // SLL, ns, if_name
        .idb(
            276,
            262_144,
            &[(9, &[0x80 | 20]), (14, &100i64.to_le_bytes())],
        ) // SLL2, 2^-20 s, +100 s
        .epb(0, 1_700_000_000_123_456, b"eth", 3)
        .block(4, vec![1, 0, 4, 0, 127, 0, 0, 1, 0, 0, 0, 0]) // NRB: skipped
        .epb(1, 1_700_000_000_123_456_789, b"sll", 100)
        .epb(2, (5u64 << 20) | (1 << 19), b"sll2", 4)
        .block(5, vec![0; 12]) // ISB: skipped
        .block(0x4000_0bad, vec![1, 2, 3, 4, 5, 6, 7, 8]) // custom: skipped
        .pb(1, 42, b"old", 3)
        .spb(b"simple", 6)
        .shb(true)
        .idb(101, 64, &[(9, &[3])]) // raw IP, ms
        .epb(0, 2500, b"raw", 3)
        .spb(&[7; 80], 200) // snap length 64 cuts it
        .epb(2, 1, b"no such interface", 17)
        .epb(0, 2501, b"last", 4);
    g
}

#[test]
fn pcapng_sections_interfaces_and_block_kinds() {
    let g = two_sections();
    let mut r = reader(g.out, CaptureLimits::DEFAULT).unwrap();
    assert_eq!(r.format(), CaptureFormat::Pcapng);
    assert!(r.pcap_header().is_none());
    let mut s = RecordStats::default();
    let mut got = Vec::new();
    while let Some(rec) = r.next_record(&mut s) {
        got.push((
            rec.frame,
            rec.time_ns,
            rec.linktype,
            rec.data.to_vec(),
            rec.orig_len,
        ));
        if rec.frame == 3 {
            let i = r.interfaces();
            assert_eq!(i.len(), 3);
            assert_eq!(i[1].tsresol, TsResol::Pow10(9));
            assert_eq!(
                (i[2].tsresol, i[2].tsoffset_s, i[2].snaplen),
                (TsResol::Pow2(20), 100, 262_144)
            );
        }
    }
    assert_eq!(
        got,
        vec![
            (1, 1_700_000_000_123_456_000, 1, b"eth".to_vec(), 3),
            (2, 1_700_000_000_123_456_789, 113, b"sll".to_vec(), 100),
            (3, 105 * SEC + SEC / 2, 276, b"sll2".to_vec(), 4),
            (4, 42, 113, b"old".to_vec(), 3),
            (5, 42, 1, b"simple".to_vec(), 6),
            (6, 2500 * 1_000_000, 101, b"raw".to_vec(), 3),
            (7, 2500 * 1_000_000, 101, vec![7; 64], 200),
            (9, 2501 * 1_000_000, 101, b"last".to_vec(), 4),
        ]
    );
    assert_eq!(
        r.interfaces().len(),
        1,
        "the second section forgot the first's interfaces"
    );
    assert_eq!(
        nonzero(&s),
        [
            ("records", 8),
            ("truncated_records", 2),
            ("skipped_blocks", 3),
            ("pcapng_sections", 2),
            ("pcapng_interfaces", 4),
            ("unknown_interface", 1)
        ]
    );
}

#[test]
fn pcapng_truncated_at_every_byte() {
    let g = two_sections();
    let full = g.out;
    let packets_before = |n: usize| g.ends.iter().filter(|(e, pkt)| *pkt && *e <= n).count();
    let (all, _) = read_all(full.clone());
    for n in 0..=full.len() {
        let r = reader(full[..n].to_vec(), CaptureLimits::DEFAULT);
        if n < 4 {
            assert!(r.is_err());
            continue;
        }
        let (recs, s) = drain(&mut r.unwrap());
        // Every complete packet block before the cut, less the one with no interface.
        let want = all
            .iter()
            .filter(|r| (r.frame as usize) <= packets_before(n))
            .count();
        assert_eq!(recs.len(), want, "cut at {n}");
        assert_eq!(recs[..], all[..want], "cut at {n}");
        let at_boundary = g.ends.iter().any(|(e, _)| *e == n);
        assert_eq!(s.truncated_file, u64::from(!at_boundary), "cut at {n}");
        assert_eq!(
            s.bad_block_length + s.bad_blocks + s.read_errors,
            0,
            "cut at {n}"
        );
    }
}

#[test]
fn pcapng_hostile_block_lengths() {
    let base = || {
        let mut g = Ng::default();
        g.shb(false).idb(1, 0, &[]).epb(0, 1, b"before", 6);
        g
    };
    // 0, below 12, not a multiple of 4, 0xFFFFFFFF: nothing after is a block, so the rest
    // (the 8 bytes read and 64 more) is passed over.
    for bad in [0u32, 8, 13, 0xffff_ffff] {
        let mut g = base();
        w32(&mut g.out, false, 6);
        w32(&mut g.out, false, bad);
        g.out.extend([0; 64]);
        let (recs, s) = read_all(g.out);
        assert_eq!(recs.len(), 1, "length {bad:#x}");
        assert_eq!(
            nonzero(&s),
            [
                ("records", 1),
                ("bad_block_length", 1),
                ("pcapng_sections", 1),
                ("pcapng_interfaces", 1),
                ("resync_skipped_bytes", 72)
            ],
            "length {bad:#x}"
        );
    }
    // The two copies of the length differ.
    let mut g = base();
    g.epb(0, 2, b"damaged", 7);
    let at = g.out.len() - 4;
    g.out[at] ^= 4;
    g.epb(0, 3, b"after", 5);
    let (recs, s) = read_all(g.out);
    // (A block whose length is damaged is not known to be a packet: not numbered.)
    assert_eq!(recs.iter().map(|r| r.frame).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(recs[1].data, b"after");
    assert_eq!((s.bad_block_length, s.resyncs), (1, 1));
    // Damage between blocks: the blocks after it are read, in the same section and in a
    // new one.
    let mut g = base();
    g.out.extend([0xff; 52]);
    g.epb(0, 2, b"after", 5);
    g.out
        .extend([0x00, 0x01, 0x02, 0x03, 0x05, 0x00, 0x00, 0x00]);
    g.shb(true).idb(1, 0, &[]).epb(0, 3, b"new section", 11);
    let (recs, s) = read_all(g.out);
    let got: Vec<_> = recs.iter().map(|r| r.data.clone()).collect();
    assert_eq!(got, [&b"before"[..], b"after", b"new section"]);
    assert_eq!(
        (s.bad_block_length, s.resyncs, s.resync_skipped_bytes),
        (2, 2, 52 + 8)
    );
    // A huge multiple of 4 on a packet block whose own captured length is 0: damage (skipping
    // it would pass over the rest of the file), and nothing after it is a block.
    let mut g = base();
    w32(&mut g.out, false, 6);
    w32(&mut g.out, false, 0xffff_fff0);
    g.out.extend([0; 1000]);
    let (recs, s) = read_all(g.out);
    assert_eq!(recs.len(), 1);
    assert_eq!(
        (s.oversized_records, s.truncated_file, s.bad_block_length),
        (0, 0, 1)
    );
    assert_eq!(s.resync_skipped_bytes, 1008);
    // The same length on a block of a type no writer uses: damage too, and the block after
    // it is read.
    let mut g = base();
    w32(&mut g.out, false, 0x0900_0006);
    w32(&mut g.out, false, 0x912e_9bec);
    g.out.extend([7; 40]);
    g.epb(0, 2, b"after", 5);
    let (recs, s) = read_all(g.out);
    assert_eq!(recs.last().map(|r| r.data.clone()), Some(b"after".to_vec()));
    assert_eq!((s.bad_block_length, s.resyncs, s.skipped_blocks), (1, 1, 0));
    // A packet bigger than the buffer, its length consistent: skipped as oversized, and
    // reading goes on after it.
    let mut g = base();
    let data = vec![9u8; 300_000];
    g.epb(0, 2, &data, 300_000).epb(0, 3, b"after", 5);
    let (recs, s) = read_all(g.out);
    assert_eq!(recs.last().map(|r| r.data.clone()), Some(b"after".to_vec()));
    assert_eq!(
        (s.oversized_records, s.bad_block_length, s.resyncs),
        (1, 0, 0)
    );
    // A block longer than the buffer whose trailing length differs: damage, passed over to
    // the next block.
    let mut g = base();
    let big = 300 * 1024u32;
    w32(&mut g.out, false, 6);
    w32(&mut g.out, false, big);
    g.out.extend(vec![0; big as usize - 12]);
    w32(&mut g.out, false, big + 4);
    g.epb(0, 9, b"after", 5);
    let (recs, s) = read_all(g.out);
    assert_eq!(recs.last().map(|r| r.data.clone()), Some(b"after".to_vec()));
    assert_eq!((s.bad_block_length, s.resyncs), (1, 1));
}

#[test]
fn pcapng_damaged_packets_are_skipped_and_reading_goes_on() {
    let mut g = Ng::default();
    g.shb(true).idb(1, 0, &[]);
    // EPB whose captured length overruns its block.
    let mut b = Vec::new();
    for v in [0u32, 0, 1, 500, 500] {
        w32(&mut b, true, v);
    }
    b.extend([0; 8]);
    g.block(6, b);
    // Captured length one byte past its room, then exactly its room.
    for caplen in [9u32, 8] {
        let mut b = Vec::new();
        for v in [0u32, 0, 2, caplen, 8] {
            w32(&mut b, true, v);
        }
        b.extend(*b"12345678");
        g.block(6, b);
    }
    // EPB too short for its fields, SPB too short, IDB too short (keeps its number).
    g.block(6, vec![0; 8]);
    g.block(3, vec![]);
    g.block(1, vec![0; 4]);
    g.epb(1, 5, b"on the broken interface", 23);
    g.epb(0, 6, b"fine", 4);
    let (recs, s) = read_all(g.out);
    assert_eq!(
        recs.iter()
            .map(|r| (r.frame, r.data.clone()))
            .collect::<Vec<_>>(),
        [(3, b"12345678".to_vec()), (7, b"fine".to_vec())]
    );
    assert_eq!(
        nonzero(&s),
        [
            ("records", 2),
            ("bad_record_length", 4),
            ("bad_blocks", 1),
            ("pcapng_sections", 1),
            ("pcapng_interfaces", 2),
            ("unknown_interface", 1)
        ]
    );
}

#[test]
fn pcapng_oversized_packets_skipped_big_blocks_streamed_past() {
    let limits = CaptureLimits {
        max_record: 1000,
        ..CaptureLimits::DEFAULT
    };
    let mut g = Ng::default();
    g.shb(false)
        .idb(1, 0, &[])
        .epb(0, 1, &[1; 1000], 1000)
        .epb(0, 2, &[2; 1001], 1001) // over max_record, fits the buffer
        .epb(0, 3, &vec![3; 600_000], 600_000) // bigger than the buffer may grow
        .block(0xa, vec![9; 400_000]) // a big Decryption Secrets Block
        .idb(228, 0, &[(2, &vec![b'x'; 65_000]), (9, &[9])]) // its options fit
        .epb(1, 4, b"tail", 4);
    let (recs, s) = read_with(g.out, limits);
    assert_eq!(
        recs.iter()
            .map(|r| (r.frame, r.linktype, r.data.len()))
            .collect::<Vec<_>>(),
        [(1, 1, 1000), (4, 228, 4)]
    );
    assert_eq!(recs[1].time_ns, 4);
    assert_eq!(
        nonzero(&s),
        [
            ("records", 2),
            ("oversized_records", 2),
            ("skipped_blocks", 1),
            ("pcapng_sections", 1),
            ("pcapng_interfaces", 2)
        ]
    );
    // An interface description too big to hold keeps its place and link type.
    let mut g = Ng::default();
    let comment = vec![b'c'; 60_000];
    let opt: (u16, &[u8]) = (1, &comment);
    g.shb(true).idb(1, 0, &[opt; 6]).epb(0, 7, b"x", 1);
    let (recs, s) = read_with(g.out, limits);
    assert_eq!(
        (recs.len(), recs[0].linktype, recs[0].time_ns),
        (1, 1, 7000)
    );
    assert_eq!(s.oversized_blocks, 1);
}

#[test]
fn pcapng_interface_table_is_bounded() {
    let mut g = Ng::default();
    g.shb(false);
    for _ in 0..=MAX_INTERFACES {
        g.idb(1, 0, &[]);
    }
    g.epb(MAX_INTERFACES as u32 - 1, 1, b"last kept", 9).epb(
        MAX_INTERFACES as u32,
        1,
        b"dropped",
        7,
    );
    let (recs, s) = read_all(g.out);
    assert_eq!(recs.len(), 1);
    assert_eq!((s.interfaces_dropped, s.unknown_interface), (1, 1));
}

#[test]
fn pcapng_bad_options_keep_what_parsed() {
    let mut g = Ng::default();
    g.shb(false);
    let mut b = Vec::new();
    w16(&mut b, false, 101);
    w16(&mut b, false, 0);
    w32(&mut b, false, 0);
    b.extend([9, 0, 1, 0, 9, 0, 0, 0]); // if_tsresol 10^-9
    b.extend([2, 0, 0xff, 0]); // if_name overrunning the block
    g.block(1, b);
    g.epb(0, 77, b"x", 1);
    let (recs, s) = read_all(g.out);
    assert_eq!((recs[0].time_ns, recs[0].linktype), (77, 101));
    assert_eq!(s.bad_options, 1);
}

#[test]
fn pcapng_bad_section_header_mid_file() {
    let mut g = Ng::default();
    g.shb(false).idb(1, 0, &[]).epb(0, 1, b"a", 1);
    let mut bad = g.out.clone();
    bad.extend([0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4]);
    bad.extend([0; 16]);
    let (recs, s) = read_all(bad);
    assert_eq!((recs.len(), s.bad_blocks), (1, 1));
    // Major version 2 in a later section.
    let mut g2 = Ng {
        big: false,
        ..Ng::default()
    };
    let mut b = Vec::new();
    w32(&mut b, false, 0x1a2b_3c4d);
    w16(&mut b, false, 2);
    w16(&mut b, false, 0);
    b.extend([0xff; 8]);
    g2.block(0x0a0d_0d0a, b);
    let mut v = g.out.clone();
    v.extend(g2.out);
    let (recs, s) = read_all(v);
    assert_eq!((recs.len(), s.bad_blocks, s.pcapng_sections), (1, 1, 2));
}

// ---------------------------------------------------------------- compression

#[test]
fn gzip_zstd_and_multi_member_gzip() {
    let g = two_sections();
    let (plain, ps) = read_all(g.out.clone());
    let half = g.out.len() / 2;
    let mut multi = gz(&g.out[..half]);
    multi.extend(gz(&g.out[half..]));
    let mut frames = zst(&g.out[..half]);
    frames.extend(zst(&g.out[half..]));
    for (name, bytes, kind) in [
        ("gzip", gz(&g.out), Compression::Gzip),
        ("zstd", zst(&g.out), Compression::Zstd),
        ("gzip members", multi, Compression::Gzip),
        ("zstd frames", frames, Compression::Zstd),
    ] {
        let mut r = reader(bytes, CaptureLimits::DEFAULT).unwrap();
        assert_eq!(
            (r.compression(), r.format()),
            (kind, CaptureFormat::Pcapng),
            "{name}"
        );
        let (recs, s) = drain(&mut r);
        assert_eq!(recs, plain, "{name}");
        assert_eq!(s, ps, "{name}");
    }
    let mut p = Pcap::new(true, true, false, 1, 0);
    p.rec(1, 2, b"pcap in zstd", 12);
    let (recs, _) = read_all(zst(&p.out));
    assert_eq!(recs[0].data, b"pcap in zstd");
}

#[test]
fn compressed_truncated_at_every_byte_never_panics() {
    let mut p = Pcap::new(false, false, false, 1, 0);
    for i in 0..20u8 {
        p.rec(u32::from(i), 0, &[i; 30], 30);
    }
    for packed in [gz(&p.out), zst(&p.out)] {
        for n in 0..packed.len() {
            match reader(packed[..n].to_vec(), CaptureLimits::DEFAULT) {
                Err(e) => assert!(!e.to_string().is_empty()),
                Ok(mut r) => {
                    let (recs, s) = drain(&mut r);
                    assert!(recs.len() <= 20);
                    assert!(s.truncated_file + s.read_errors >= 1, "cut at {n}: {s:?}");
                    assert_eq!(s.read_errors == 1, r.error().is_some());
                }
            }
        }
    }
}

#[test]
fn read_error_mid_stream_is_counted_and_kept() {
    struct Failing(Cursor<Vec<u8>>);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(io::Error::other("disk on fire")),
                n => Ok(n),
            }
        }
    }
    let mut p = Pcap::new(false, false, false, 1, 0);
    p.rec(1, 0, b"one", 3).rec(2, 0, b"two", 3);
    p.out.extend([0; 5]); // part of a record header
    let mut r = RecordReader::new(
        Box::new(Failing(Cursor::new(p.out))),
        CaptureLimits::DEFAULT,
    )
    .unwrap();
    let (recs, s) = drain(&mut r);
    assert_eq!(recs.len(), 2);
    assert_eq!(nonzero(&s), [("records", 2), ("read_errors", 1)]);
    assert_eq!(r.error().unwrap().to_string(), "disk on fire");
}

// ---------------------------------------------------------------- not captures

#[test]
fn not_a_capture_is_an_open_error_with_a_precise_message() {
    let msg = |b: &[u8]| {
        reader(b.to_vec(), CaptureLimits::DEFAULT)
            .err()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        msg(b"<?xml version='1.0'?>"),
        "not a capture: first bytes 3c 3f 78 6d (\"<?xm\"), XML; expected pcap (a1b2c3d4 / \
         a1b23c4d either byte order), pcapng (0a0d0d0a), gzip or zstd"
    );
    assert_eq!(
        msg(&[]),
        "not a capture: the input is empty; expected pcap (a1b2c3d4 / a1b23c4d either byte \
         order), pcapng (0a0d0d0a), gzip or zstd"
    );
    assert!(msg(&[0xd4, 0xc3]).contains("first bytes d4 c3 (the input ends there)"));
    assert!(msg(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0]).contains("xz-compressed"));
    assert_eq!(
        msg(&gz(b"hello world")),
        "not a capture: first bytes after gzip decompression 68 65 6c 6c (\"hell\"); expected \
         pcap (a1b2c3d4 / a1b23c4d either byte order) or pcapng (0a0d0d0a)"
    );
    assert!(msg(&gz(b"")).contains("the gzip stream is empty"));
    // The pcapng block type with no byte-order magic after it is text, not pcapng.
    assert!(msg(b"\n\r\r\nhello world, this is text")
        .starts_with("not a capture: first bytes 0a 0d 0d 0a;"));
    let mut v2 = Ng::default();
    let mut b = Vec::new();
    w32(&mut b, false, 0x1a2b_3c4d);
    w16(&mut b, false, 2);
    w16(&mut b, false, 1);
    v2.block(0x0a0d_0d0a, b);
    assert_eq!(
        msg(&v2.out),
        "pcapng version 2.1 is not supported (only 1.x)"
    );
    // A corrupt gzip header.
    let e = reader(
        vec![0x1f, 0x8b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        CaptureLimits::DEFAULT,
    )
    .err()
    .unwrap();
    assert!(
        matches!(
            e,
            OpenError::Decompress {
                compression: Compression::Gzip,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("corrupt gzip data: "), "{e}");
}

#[test]
fn open_names_the_path() {
    let dir = std::env::temp_dir().join(format!("sipwire-records-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.pcap.gz");
    let mut p = Pcap::new(false, false, false, 1, 0);
    p.rec(1, 0, b"on disk", 7);
    std::fs::write(&good, gz(&p.out)).unwrap();
    let mut r = RecordReader::open(&good, CaptureLimits::DEFAULT).unwrap();
    assert_eq!(drain(&mut r).0[0].data, b"on disk");
    let bad = dir.join("notes.txt");
    std::fs::write(&bad, "some notes").unwrap();
    let e = RecordReader::open(&bad, CaptureLimits::DEFAULT)
        .err()
        .unwrap();
    assert!(
        e.to_string().starts_with(&format!(
            "{}: not a capture: first bytes 73 6f 6d 65",
            bad.display()
        )),
        "{e}"
    );
    let missing = dir.join("missing.pcap");
    let e = RecordReader::open(&missing, CaptureLimits::DEFAULT)
        .err()
        .unwrap();
    assert!(matches!(e, OpenError::Io { .. }));
    assert!(
        e.to_string()
            .starts_with(&format!("{}: ", missing.display())),
        "{e}"
    );
    let e = RecordReader::open(&dir, CaptureLimits::DEFAULT)
        .err()
        .unwrap();
    assert!(
        e.to_string().starts_with(&format!("{}: ", dir.display())),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn readers_and_errors_cross_threads() {
    fn send<T: Send>() {}
    fn error<T: std::error::Error + Send + Sync + 'static>() {}
    send::<RecordReader>();
    error::<OpenError>();
}

// ---------------------------------------------------------------- speed

/// records/s on 1,000,000 small records in memory. A measurement, not a timed assertion:
/// `cargo test --release -p sipwire-capture --test records -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_one_million_records() {
    let mut p = Pcap::new(false, false, false, 1, 65535);
    let data = [0x45u8; 60];
    for i in 0..1_000_000u32 {
        p.rec(i, i, &data, 60);
    }
    let mut g = Ng::default();
    g.shb(false).idb(1, 0, &[(9, &[9])]);
    for i in 0..1_000_000u64 {
        g.epb(0, i, &data, 60);
    }
    let (pgz, pzst) = (gz(&p.out), zst(&p.out));
    for (name, bytes) in [
        ("pcap", p.out),
        ("pcapng", g.out),
        ("pcap.gz", pgz),
        ("pcap.zst", pzst),
    ] {
        let mb = bytes.len() as f64 / 1e6; // as stored (compressed or not)
        let mut best = f64::MAX;
        for _ in 0..5 {
            let mut r = reader(bytes.clone(), CaptureLimits::DEFAULT).unwrap();
            let mut s = RecordStats::default();
            let mut sum = 0u64;
            let t = std::time::Instant::now();
            while let Some(rec) = r.next_record(&mut s) {
                sum = sum.wrapping_add(rec.data.len() as u64 ^ rec.time_ns as u64);
            }
            best = best.min(t.elapsed().as_secs_f64());
            assert_eq!(s.records, 1_000_000);
            std::hint::black_box(sum);
        }
        println!(
            "{name}: {:.1} M records/s, {:.0} MB/s ({mb:.0} MB)",
            1.0 / best,
            mb / best
        );
    }
}

/// Random damage (bytes overwritten, inserted or cut out) to pcap and pcapng files of a few
/// hundred records: reading never panics (overflow checks on in tests), reads on through the
/// damage, and, whatever the chunks the input comes in, gives the same records.
#[test]
fn random_damage_reads_on_and_never_panics() {
    struct Chunks(Cursor<Vec<u8>>, usize);
    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.1);
            self.0.read(&mut buf[..n])
        }
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    };
    let mut files = Vec::new();
    for (big, nanos) in [(false, false), (true, true)] {
        let mut p = Pcap::new(big, nanos, false, 1, 65535);
        for i in 0..300u32 {
            let len = 40 + (i as usize * 37) % 400;
            p.rec(1_700_000_000 + i, i * 1000, &vec![i as u8; len], len as u32);
        }
        files.push(p.out);
    }
    let mut g = Ng::default();
    g.shb(false).idb(1, 0, &[]);
    for i in 0..300u64 {
        let len = 40 + (i as usize * 37) % 400;
        g.epb(
            0,
            1_700_000_000_000_000 + i * 1000,
            &vec![i as u8; len],
            len as u32,
        );
    }
    files.push(g.out);
    let limits = CaptureLimits::DEFAULT;
    for (f, clean) in files.iter().enumerate() {
        let whole = read_all(clean.clone()).0.len();
        for round in 0..200 {
            let mut b = clean.clone();
            let at = 64 + rnd(b.len() - 128);
            let n = 1 + rnd(64);
            let kind = round % 4;
            match kind {
                0 => (at..at + n).for_each(|i| b[i] = rnd(256) as u8),
                1 => {
                    let bytes: Vec<u8> = (0..n).map(|_| rnd(256) as u8).collect();
                    b.splice(at..at, bytes);
                }
                2 => {
                    b.splice(at..at, vec![0; n * rnd(64)]);
                }
                _ => {
                    b.drain(at..at + n);
                }
            }
            let (recs, s) = read_with(b.clone(), limits);
            let chunk = 1 + rnd(5000);
            let (again, s2) = drain(
                &mut RecordReader::new(Box::new(Chunks(Cursor::new(b), chunk)), limits).unwrap(),
            );
            assert!(
                recs == again,
                "file {f} round {round}: chunks of {chunk} give {} records, not {}",
                again.len(),
                recs.len()
            );
            assert_eq!(s, s2, "file {f} round {round}");
            // 64 bytes touch at most two records (and a damaged length one more).
            assert!(
                recs.len() + 4 >= whole,
                "file {f} round {round} (kind {kind}, {n} bytes at {at}): {} of {whole} read, {:?}",
                recs.len(),
                nonzero(&s)
            );
        }
    }
}
