//! Capture records: classic pcap (micro- and nanosecond, both byte orders, and the
//! "modified" Kuznetsov variant) and pcapng (several sections, several interfaces each with its
//! own link type and time resolution), read incrementally from any `std::io::Read` with
//! bounded memory.
//!
//! The input is read in big chunks into one buffer; records are parsed in place and handed
//! out as slices of it, so a record costs no allocation. A record that straddles the end of
//! the buffer moves to its front before the next read; the buffer grows only as far as the
//! largest record accepted ([`CaptureLimits::max_record`], plus room for pcapng options).
//!
//! Damage is counted in [`RecordStats`], never raised. pcapng blocks carry their length twice,
//! so a damaged packet block is skipped and reading goes on; a block length that cannot be
//! right (and any impossible classic pcap record length, which has no second copy) ends the
//! file, since nothing after it can be found again.
//!
//! Specs: pcap is draft-ietf-opsawg-pcap, pcapng is draft-ietf-opsawg-pcapng (section
//! numbers below are those of the pcapng draft unless said otherwise).

use std::io::{self, Read};
use std::path::Path;

use crate::source::{self, Compression, OpenError};
use crate::stats::Counters;
use crate::types::{CaptureLimits, Record};

/// Bytes asked of the input per read.
const CHUNK: usize = 256 * 1024;
/// Room beyond `max_record` for a pcapng block's own fields and options.
const BLOCK_SLACK: usize = 64 * 1024;
/// Interfaces one pcapng section may describe; later IDBs are counted and dropped.
pub const MAX_INTERFACES: usize = 65_536;

// pcapng block types (§4; the obsolete Packet Block is Appendix A).
const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const PB: u32 = 0x0000_0002;
const SPB: u32 = 0x0000_0003;
const EPB: u32 = 0x0000_0006;
// Blocks read past but known, so that a resync may land on them: Name Resolution, Interface
// Statistics, Decryption Secrets, Custom (copiable or not).
const NRB: u32 = 0x0000_0004;
const ISB: u32 = 0x0000_0005;
const DSB: u32 = 0x0000_000A;
const CB: u32 = 0x0000_0BAD;
const CB_NO_COPY: u32 = 0x4000_0BAD;
/// The Section Header Block's byte-order magic (§4.1).
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

// IDB options (§4.2).
const OPT_ENDOFOPT: u16 = 0;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// Counters of the record readers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Records read (handed on to decoding).
    pub records: u64,
    /// Capture bytes read (after decompression).
    pub bytes: u64,
    /// Records whose frame was longer than what was captured (the snap length cut it); they
    /// are still handed on.
    pub truncated_records: u64,
    /// Inputs that ended inside a header, record or block (reading stopped there).
    pub truncated_file: u64,
    /// Records whose captured length is impossible: a classic pcap length beyond any limit or
    /// past the end of the input with whole records after it, or a header whose fields no
    /// writer produces with a time far from the capture's (reading resumes at the next
    /// believable record, see `resyncs`); or a pcapng packet whose data does not fit its
    /// block (skipped).
    pub bad_record_length: u64,
    /// Well-framed records longer than `max_record`, skipped.
    pub oversized_records: u64,
    /// pcapng block lengths that cannot be right (below 12, not a multiple of 4, or the two
    /// copies differ); reading resumes at the next well-framed block (see `resyncs`).
    pub bad_block_length: u64,
    /// pcapng blocks too short for their fields, or a section header with an unknown
    /// byte-order magic or major version (the file stops at those two).
    pub bad_blocks: u64,
    /// pcapng options whose length overruns their block (the rest of that block's options
    /// are ignored).
    pub bad_options: u64,
    /// pcapng blocks of types not read (statistics, name resolution, secrets, custom...).
    pub skipped_blocks: u64,
    /// pcapng non-packet blocks longer than the buffer may grow, skipped (an interface's
    /// options are then lost: its time resolution is the default).
    pub oversized_blocks: u64,
    /// pcapng sections (Section Header Blocks).
    pub pcapng_sections: u64,
    /// pcapng interfaces described (Interface Description Blocks).
    pub pcapng_interfaces: u64,
    /// Interface descriptions beyond [`MAX_INTERFACES`] in one section, dropped.
    pub interfaces_dropped: u64,
    /// Packets naming an interface the section does not describe, skipped.
    pub unknown_interface: u64,
    /// Read or decompression errors (reading stopped; see [`RecordReader::error`]).
    pub read_errors: u64,
    /// Damage skipped: after a bad record or block length, reading went on from the next
    /// place where records are well-formed again (DESIGN §4: never abort the file).
    pub resyncs: u64,
    /// Bytes passed over by those skips (unreadable; a file that never recovers counts its
    /// rest here).
    pub resync_skipped_bytes: u64,
    /// Files of a multi-file read opened after their time had come because too many files
    /// were open at once (their records were merged late: read.rs, `MAX_OPEN_FILES`).
    pub files_merged_late: u64,
}

impl Counters for RecordStats {
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        f("records", self.records);
        f("bytes", self.bytes);
        f("truncated_records", self.truncated_records);
        f("truncated_file", self.truncated_file);
        f("bad_record_length", self.bad_record_length);
        f("oversized_records", self.oversized_records);
        f("bad_block_length", self.bad_block_length);
        f("bad_blocks", self.bad_blocks);
        f("bad_options", self.bad_options);
        f("skipped_blocks", self.skipped_blocks);
        f("oversized_blocks", self.oversized_blocks);
        f("pcapng_sections", self.pcapng_sections);
        f("pcapng_interfaces", self.pcapng_interfaces);
        f("interfaces_dropped", self.interfaces_dropped);
        f("unknown_interface", self.unknown_interface);
        f("read_errors", self.read_errors);
        f("resyncs", self.resyncs);
        f("resync_skipped_bytes", self.resync_skipped_bytes);
        f("files_merged_late", self.files_merged_late);
    }
}

/// The container format of a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaptureFormat {
    Pcap,
    Pcapng,
}

impl CaptureFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureFormat::Pcap => "pcap",
            CaptureFormat::Pcapng => "pcapng",
        }
    }
}

/// A classic pcap file header (draft-ietf-opsawg-pcap §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapHeader {
    pub big_endian: bool,
    /// Magic a1b23c4d: the fraction is nanoseconds, not microseconds.
    pub nanosecond: bool,
    /// Magic a1b2cd34 (Kuznetsov's patched libpcap): 8 more bytes per record header.
    pub modified: bool,
    pub version_major: u16,
    pub version_minor: u16,
    pub snaplen: u32,
    /// The link type (the lower 16 bits of the LinkType field).
    pub linktype: u32,
    /// The FCS length in bytes at the end of every packet, when the file says it (§4: the
    /// P bit and the FCS len field, in units of 16 bits).
    pub fcs_len: Option<u8>,
}

/// An interface's time resolution (pcapng §4.2 `if_tsresol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsResol {
    /// Units of 10^-n seconds.
    Pow10(u8),
    /// Units of 2^-n seconds.
    Pow2(u8),
}

/// How raw time stamps become nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scale {
    Mul(u64),
    Div(u64),
    /// ns = ts * 10^9 / 2^n.
    Shift(u8),
}

impl TsResol {
    fn scale(self) -> Scale {
        match self {
            TsResol::Pow10(n) if n <= 9 => Scale::Mul(10u64.pow(9 - u32::from(n))),
            // 10^19 is the largest power of ten in a u64; finer units make every time 0.
            TsResol::Pow10(n) => {
                Scale::Div(10u64.checked_pow(u32::from(n) - 9).unwrap_or(u64::MAX))
            }
            TsResol::Pow2(n) => Scale::Shift(n.min(127)),
        }
    }
}

/// One capture interface: a pcapng Interface Description Block, or the classic pcap header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interface {
    pub linktype: u32,
    /// 0 when the capture set no limit.
    pub snaplen: u32,
    pub tsresol: TsResol,
    /// `if_tsoffset`: seconds added to every time stamp.
    pub tsoffset_s: i64,
    scale: Scale,
    /// False for a damaged description: its packets are counted as `unknown_interface`.
    usable: bool,
}

impl Interface {
    fn new(linktype: u32, snaplen: u32, tsresol: TsResol, tsoffset_s: i64, usable: bool) -> Self {
        Interface {
            linktype,
            snaplen,
            tsresol,
            tsoffset_s,
            scale: tsresol.scale(),
            usable,
        }
    }

    /// A pcapng time stamp in this interface's units, as ns since the epoch (saturating).
    fn time_ns(&self, ts: u64) -> i64 {
        let ns: i128 = match self.scale {
            Scale::Mul(m) => i128::from(ts) * i128::from(m),
            Scale::Div(d) => i128::from(ts / d),
            Scale::Shift(s) => ((u128::from(ts) * 1_000_000_000) >> s) as i128,
        };
        let ns = ns + i128::from(self.tsoffset_s) * 1_000_000_000;
        i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
    }
}

/// Where the next record lies in the buffer, found before the buffer is borrowed for it.
struct Found {
    off: usize,
    len: usize,
    time_ns: i64,
    linktype: u32,
    orig_len: u32,
}

/// Reads the records of one capture (pcap or pcapng, possibly compressed).
pub struct RecordReader {
    src: Box<dyn Read + Send>,
    buf: Vec<u8>,
    /// Unread bytes are `buf[pos..end]`.
    pos: usize,
    end: usize,
    /// The buffer grows at most to this.
    max_buf: usize,
    max_record: usize,
    eof: bool,
    done: bool,
    error: Option<io::Error>,
    error_counted: bool,
    /// Bytes read since the caller's stats were last updated.
    unreported: u64,
    compression: Compression,
    format: CaptureFormat,
    /// Byte order of the pcap file or of the current pcapng section.
    big: bool,
    pcap: Option<PcapHeader>,
    /// Classic pcap record header length (16, or 24 for the modified format).
    rec_hdr: usize,
    /// Classic pcap: nanoseconds per unit of the time stamp's fraction.
    frac_ns: i64,
    ifaces: Vec<Interface>,
    frame: u64,
    /// Time of the last packet, for Simple Packet Blocks that carry none (§4.4).
    last_time: i64,
    /// The time of the last pcap record believed real: what a resync compares times with
    /// (see `note_time`), not that of damage read as a record.
    good_time: Option<i64>,
    /// A run of records whose times agree with each other but not with `good_time` (a capture
    /// idle for over a day): the last one's time, and how many.
    new_time: Option<(i64, u8)>,
    /// The largest captured length a pcap header may give (its snap length, the record
    /// limit), and the count of its fraction in a second: set with the file header.
    pcap_max_incl: usize,
    pcap_second: u32,
}

impl RecordReader {
    /// Opens `path` (`"-"`: stdin), undoes gzip/zstd and reads the capture header; errors
    /// name the path.
    pub fn open(path: &Path, limits: CaptureLimits) -> Result<Self, OpenError> {
        let r = source::open_path(path)?;
        RecordReader::new(r, limits).map_err(|e| e.with_path(path))
    }

    /// Undoes gzip/zstd, then tells pcap from pcapng by the first bytes and reads the pcap
    /// header. Input that is neither is an [`OpenError`]; damage after that is counted by
    /// [`RecordReader::next_record`].
    pub fn new(r: Box<dyn Read + Send>, limits: CaptureLimits) -> Result<Self, OpenError> {
        let (src, compression) = source::decompress_detect(r)?;
        let max_record = limits.max_record as usize;
        let mut rd = RecordReader {
            src,
            buf: vec![0; CHUNK],
            pos: 0,
            end: 0,
            max_buf: CHUNK.max(max_record + BLOCK_SLACK),
            max_record,
            eof: false,
            done: false,
            error: None,
            error_counted: false,
            unreported: 0,
            compression,
            format: CaptureFormat::Pcap,
            big: false,
            pcap: None,
            rec_hdr: 16,
            frac_ns: 1000,
            ifaces: Vec::new(),
            frame: 0,
            last_time: 0,
            good_time: None,
            new_time: None,
            pcap_max_incl: 0,
            pcap_second: 1_000_000,
        };
        // Enough for a pcap header or a pcapng SHB's fixed part.
        rd.fill(28);
        if let Some(error) = rd.error.take() {
            return Err(match compression {
                Compression::None => OpenError::Io { path: None, error },
                _ => OpenError::Decompress {
                    path: None,
                    compression,
                    error,
                },
            });
        }
        let mut head = [0u8; 8];
        let n = rd.end.min(8);
        if let (Some(dst), Some(src)) = (head.get_mut(..n), rd.buf.get(..n)) {
            dst.copy_from_slice(src);
        }
        let head = head.get(..n).unwrap_or_default();
        let not_capture = || OpenError::NotCapture {
            path: None,
            first: head.get(..4).unwrap_or(head).to_vec(),
            after: compression,
            hint: source::hint_for(head),
        };
        let magic: [u8; 4] = head
            .get(..4)
            .and_then(|m| m.try_into().ok())
            .ok_or_else(not_capture)?;
        // pcap §4: the magic written in the writer's byte order.
        let (big, nanosecond, modified) = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, false, false),
            [0xa1, 0xb2, 0xc3, 0xd4] => (true, false, false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (false, true, false),
            [0xa1, 0xb2, 0x3c, 0x4d] => (true, true, false),
            [0x34, 0xcd, 0xb2, 0xa1] => (false, false, true),
            [0xa1, 0xb2, 0xcd, 0x34] => (true, false, true),
            [0x0a, 0x0d, 0x0d, 0x0a] => {
                rd.format = CaptureFormat::Pcapng;
                return match rd.check_first_section() {
                    Ok(()) => Ok(rd),
                    Err(None) => Err(not_capture()),
                    Err(Some(e)) => Err(e),
                };
            }
            _ => return Err(not_capture()),
        };
        rd.big = big;
        rd.rec_hdr = if modified { 24 } else { 16 };
        rd.frac_ns = if nanosecond { 1 } else { 1000 };
        if let Some(h) = rd.buf.get(..24) {
            if rd.end >= 24 {
                let major = rd16(h, 4, big);
                let minor = rd16(h, 6, big);
                let snaplen = rd32(h, 16, big);
                let lt = rd32(h, 20, big);
                // pcap §4: LinkType in the lower 16 bits; bit 26 (P) says the upper 4 bits
                // give the FCS length in 16-bit words.
                let fcs_len = (lt & 0x0400_0000 != 0).then_some(((lt >> 28) * 2) as u8);
                let hdr = PcapHeader {
                    big_endian: big,
                    nanosecond,
                    modified,
                    version_major: major,
                    version_minor: minor,
                    snaplen,
                    linktype: lt & 0xffff,
                    fcs_len,
                };
                rd.pcap = Some(hdr);
                rd.pcap_max_incl = match snaplen {
                    0 => rd.max_record,
                    n => rd.max_record.min(n as usize),
                };
                rd.pcap_second = if nanosecond { 1_000_000_000 } else { 1_000_000 };
                let res = if nanosecond { 9 } else { 6 };
                rd.ifaces.push(Interface::new(
                    hdr.linktype,
                    snaplen,
                    TsResol::Pow10(res),
                    0,
                    true,
                ));
                rd.pos = 24;
            }
        }
        // A header cut short is counted when reading starts (no header, no records).
        Ok(rd)
    }

    /// The first SHB: its byte-order magic decides whether this is pcapng at all
    /// (`Err(None)`: not a capture).
    fn check_first_section(&mut self) -> Result<(), Option<OpenError>> {
        let Some(b) = self.buf.get(..self.end) else {
            return Ok(());
        };
        let Some(bom) = b.get(8..12) else {
            // Too short to tell: a truncated pcapng, counted when reading.
            return Ok(());
        };
        let big = match bom {
            [0x1a, 0x2b, 0x3c, 0x4d] => true,
            [0x4d, 0x3c, 0x2b, 0x1a] => false,
            _ => return Err(None),
        };
        if b.len() >= 14 {
            let major = rd16(b, 12, big);
            if major != 1 {
                let minor = if b.len() >= 16 { rd16(b, 14, big) } else { 0 };
                return Err(Some(OpenError::Unsupported {
                    path: None,
                    detail: format!("pcapng version {major}.{minor} is not supported (only 1.x)"),
                }));
            }
        }
        self.big = big;
        Ok(())
    }

    /// The container format.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// The compression undone on the way in.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The classic pcap header (None for pcapng, or a pcap cut inside its header).
    pub fn pcap_header(&self) -> Option<PcapHeader> {
        self.pcap
    }

    /// The interfaces of the current pcapng section as described so far (for classic pcap,
    /// one from the file header).
    pub fn interfaces(&self) -> &[Interface] {
        &self.ifaces
    }

    /// Packet records seen so far, including those skipped for damage (the last frame number).
    pub fn frames(&self) -> u64 {
        self.frame
    }

    /// The read or decompression error that stopped reading, if one did.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// The next record, `None` at the end of the capture (or where damage ends it: see the
    /// counters). Frame numbers count every packet record from 1, skipped ones included.
    pub fn next_record(&mut self, stats: &mut RecordStats) -> Option<Record<'_>> {
        let found = if self.done {
            None
        } else {
            match self.format {
                CaptureFormat::Pcap => self.next_pcap(stats),
                CaptureFormat::Pcapng => self.next_pcapng(stats),
            }
        };
        stats.bytes += std::mem::take(&mut self.unreported);
        if self.error.is_some() && !self.error_counted {
            stats.read_errors += 1;
            self.error_counted = true;
        }
        let f = found?;
        let data = self.buf.get(f.off..f.off + f.len)?;
        stats.records += 1;
        if f.orig_len as usize > f.len {
            stats.truncated_records += 1;
        }
        Some(Record {
            frame: self.frame,
            time_ns: f.time_ns,
            linktype: f.linktype,
            data,
            orig_len: f.orig_len,
        })
    }

    /// pcap §5: a 16-byte record header (24 in the modified format), then the data.
    fn next_pcap(&mut self, stats: &mut RecordStats) -> Option<Found> {
        if self.pcap.is_none() {
            // The file ended inside its header.
            self.pos = self.end;
            stats.truncated_file += 1;
            self.done = true;
            return None;
        }
        let linktype = self.ifaces.first().map_or(0, |i| i.linktype);
        let snaplen = self.pcap.map_or(0, |h| h.snaplen) as usize;
        loop {
            let hl = self.rec_hdr;
            if !self.fill(hl) {
                return self.stop_at_end(stats);
            }
            let h = self.pcap_rec(self.pos)?;
            let (sec, frac, incl, orig) = (h.sec, h.frac, h.incl, h.orig);
            self.frame += 1;
            // Fields no writer produces (a fraction of a second or more, more captured than
            // sent...) and a time far from the capture's: damage read as a header, whose length
            // would carry reading past real records. (Either alone is left to stand: some
            // writers put 0 in the original length, and captures may pause for days.)
            let fields_ok = self.fields_ok(&h);
            if !fields_ok && !self.near_good_time(sec) {
                stats.bad_record_length += 1;
                if self.pass_damage(stats, Self::pcap_at, false) {
                    continue;
                }
                return None;
            }
            if incl > self.max_record {
                // Classic pcap has no second copy of the length: a length within what the
                // header allows is a record we do not keep; beyond it, nothing after can be
                // trusted (Wireshark stops there too).
                if incl <= snaplen && incl <= orig {
                    stats.oversized_records += 1;
                    self.pos += hl;
                    if !self.skip(incl as u64) {
                        return self.stop_truncated(stats);
                    }
                    continue;
                }
                stats.bad_record_length += 1;
                if self.pass_damage(stats, Self::pcap_at, false) {
                    continue;
                }
                return None;
            }
            if !self.fill(hl + incl) {
                // The input ends inside this record: a cut file, or a damaged length with
                // whole records after it.
                if self.pass_damage(stats, Self::pcap_at, true) {
                    stats.bad_record_length += 1;
                    continue;
                }
                return self.stop_at_end(stats);
            }
            // Classic pcap has no second copy of a length. When the header after this
            // record's data is damage, either that one is damaged, or this one is and its
            // (possible) length swallows real records: then believable records start inside
            // its data, and reading goes on from there.
            if self.fill(hl + incl + hl)
                && self.header_is_damage(self.pos + hl + incl)
                && self.sync_within(stats, hl + incl)
            {
                stats.bad_record_length += 1;
                continue;
            }
            let off = self.pos + hl;
            // u32 seconds * 10^9 plus a u32 fraction * 1000 fits an i64.
            let time_ns = i64::from(sec) * 1_000_000_000 + i64::from(frac) * self.frac_ns;
            if fields_ok {
                self.note_time(time_ns);
            }
            self.pos = off + incl;
            self.last_time = time_ns;
            return Some(Found {
                off,
                len: incl,
                time_ns,
                linktype,
                orig_len: orig as u32,
            });
        }
    }

    /// pcapng §3.1: blocks of type, total length, body, total length again.
    fn next_pcapng(&mut self, stats: &mut RecordStats) -> Option<Found> {
        loop {
            if !self.fill(8) {
                return self.stop_at_end(stats);
            }
            let h: [u8; 8] = self.buf.get(self.pos..self.pos + 8)?.try_into().ok()?;
            let btype = rd32(&h, 0, self.big);
            if btype == SHB {
                // §4.1: the type reads the same in both orders; the byte-order magic after
                // the length sets the order of this section, length included.
                if !self.fill(12) {
                    return self.stop_at_end(stats);
                }
                let bom = self.buf.get(self.pos + 8..self.pos + 12)?;
                self.big = match bom {
                    [0x1a, 0x2b, 0x3c, 0x4d] => true,
                    [0x4d, 0x3c, 0x2b, 0x1a] => false,
                    _ => {
                        stats.bad_blocks += 1;
                        self.done = true;
                        return None;
                    }
                };
                debug_assert_eq!(rd32(bom, 0, self.big), BYTE_ORDER_MAGIC);
            }
            let blen = rd32(&h, 4, self.big) as usize;
            if blen < 12 || blen % 4 != 0 {
                stats.bad_block_length += 1;
                if self.pass_damage(stats, Self::pcapng_at, false) {
                    continue;
                }
                return None;
            }
            if blen > self.max_buf {
                if self.big_block_is_damage(btype, blen) {
                    stats.bad_block_length += 1;
                    if self.pass_damage(stats, Self::pcapng_at, false) {
                        continue;
                    }
                    return None;
                }
                if !self.skip_big_block(btype, blen, stats) {
                    return None;
                }
                continue;
            }
            if !self.fill(blen) {
                if self.pass_damage(stats, Self::pcapng_whole_at, true) {
                    stats.bad_block_length += 1;
                    continue;
                }
                return self.stop_at_end(stats);
            }
            let start = self.pos;
            let block = self.buf.get(start..start + blen)?;
            if rd32(block, blen - 4, self.big) as usize != blen {
                stats.bad_block_length += 1;
                if self.pass_damage(stats, Self::pcapng_at, false) {
                    continue;
                }
                return None;
            }
            self.pos += blen;
            match btype {
                SHB => {
                    if !self.section(start, blen, stats) {
                        return None;
                    }
                }
                IDB => self.interface(start, blen, stats),
                EPB | PB | SPB => {
                    self.frame += 1;
                    if let Some(f) = self.packet(btype, start, blen, stats) {
                        self.last_time = f.time_ns;
                        return Some(f);
                    }
                }
                _ => stats.skipped_blocks += 1,
            }
        }
    }

    /// §4.1 Section Header Block: a new section forgets the interfaces of the last one.
    fn section(&mut self, start: usize, blen: usize, stats: &mut RecordStats) -> bool {
        stats.pcapng_sections += 1;
        self.ifaces.clear();
        let Some(b) = self.buf.get(start..start + blen) else {
            return false;
        };
        if blen < 28 {
            stats.bad_blocks += 1;
            return true;
        }
        if rd16(b, 8 + 4, self.big) != 1 {
            // Another major version may lay its blocks out otherwise.
            stats.bad_blocks += 1;
            self.done = true;
            return false;
        }
        true
    }

    /// §4.2 Interface Description Block: link type, snap length, options.
    fn interface(&mut self, start: usize, blen: usize, stats: &mut RecordStats) {
        stats.pcapng_interfaces += 1;
        if self.ifaces.len() >= MAX_INTERFACES {
            stats.interfaces_dropped += 1;
            return;
        }
        let big = self.big;
        let b = self.buf.get(start..start + blen).unwrap_or_default();
        if blen < 20 {
            // Keep its place in the numbering; its packets cannot be read.
            stats.bad_blocks += 1;
            self.ifaces
                .push(Interface::new(0, 0, TsResol::Pow10(6), 0, false));
            return;
        }
        let linktype = u32::from(rd16(b, 8, big));
        let snaplen = rd32(b, 12, big);
        let mut tsresol = TsResol::Pow10(6);
        let mut tsoffset = 0i64;
        let opts = b.get(16..blen - 4).unwrap_or_default();
        let ok = for_each_option(opts, big, |code, val| match (code, val) {
            // §4.2 if_tsresol: the high bit picks base 2, else base 10.
            (IF_TSRESOL, [v, ..]) => {
                tsresol = if v & 0x80 != 0 {
                    TsResol::Pow2(v & 0x7f)
                } else {
                    TsResol::Pow10(*v)
                }
            }
            (IF_TSOFFSET, [a, b, c, d, e, f, g, h, ..]) => {
                let x = [*a, *b, *c, *d, *e, *f, *g, *h];
                tsoffset = if big {
                    i64::from_be_bytes(x)
                } else {
                    i64::from_le_bytes(x)
                };
            }
            _ => {}
        });
        if !ok {
            stats.bad_options += 1;
        }
        self.ifaces
            .push(Interface::new(linktype, snaplen, tsresol, tsoffset, true));
    }

    /// §4.3 Enhanced Packet Block, §4.4 Simple Packet Block, Appendix A (obsolete) Packet Block.
    fn packet(
        &mut self,
        btype: u32,
        start: usize,
        blen: usize,
        stats: &mut RecordStats,
    ) -> Option<Found> {
        let big = self.big;
        let b = self.buf.get(start..start + blen)?;
        let (iface_id, ts, caplen, orig_len, off) = match btype {
            SPB => {
                if blen < 16 {
                    stats.bad_record_length += 1;
                    return None;
                }
                let orig = rd32(b, 8, big);
                // No captured length: what the block holds, up to the original length and
                // interface 0's snap length.
                let mut cap = (orig as usize).min(blen - 16);
                if let Some(i) = self.ifaces.first().filter(|i| i.snaplen != 0) {
                    cap = cap.min(i.snaplen as usize);
                }
                (0, None, cap, orig, 12)
            }
            _ => {
                if blen < 32 {
                    stats.bad_record_length += 1;
                    return None;
                }
                let id = if btype == EPB {
                    rd32(b, 8, big) as usize
                } else {
                    rd16(b, 8, big) as usize
                };
                let ts = (u64::from(rd32(b, 12, big)) << 32) | u64::from(rd32(b, 16, big));
                let cap = rd32(b, 20, big) as usize;
                if cap > blen - 32 {
                    stats.bad_record_length += 1;
                    return None;
                }
                (id, Some(ts), cap, rd32(b, 24, big), 28)
            }
        };
        if caplen > self.max_record {
            stats.oversized_records += 1;
            return None;
        }
        let Some(iface) = self.ifaces.get(iface_id).filter(|i| i.usable) else {
            stats.unknown_interface += 1;
            return None;
        };
        Some(Found {
            off: start + off,
            len: caplen,
            time_ns: ts.map_or(self.last_time, |t| iface.time_ns(t)),
            linktype: iface.linktype,
            orig_len,
        })
    }

    /// Whether a length too big for the buffer is damage rather than a block to skip (which
    /// would pass over the rest of the file): a type no pcapng writer uses, or a packet
    /// block whose own captured length does not fit it or leaves more than `BLOCK_SLACK` of
    /// options.
    fn big_block_is_damage(&mut self, btype: u32, blen: usize) -> bool {
        let known = matches!(
            btype,
            SHB | IDB | PB | SPB | EPB | NRB | ISB | DSB | CB | CB_NO_COPY
        );
        if !known {
            return true;
        }
        if (btype == EPB || btype == PB) && self.fill(32) {
            let caplen = self
                .buf
                .get(self.pos + 20..self.pos + 24)
                .map_or(0, |b| u64::from(rd32(b, 0, self.big)));
            // A whole packet block is 32 bytes, its data padded to 4, and its options (in
            // u64: no overflow whatever the fields say).
            let blen = blen as u64;
            return caplen + 32 > blen
                || blen > 32 + caplen.next_multiple_of(4) + BLOCK_SLACK as u64;
        }
        false
    }

    /// A block longer than the buffer may hold: read what its type needs from its start, skip
    /// the rest and check that the trailing length matches.
    fn skip_big_block(&mut self, btype: u32, blen: usize, stats: &mut RecordStats) -> bool {
        if !self.fill(16) {
            self.stop_at_end(stats);
            return false;
        }
        let big = self.big;
        match btype {
            SHB => {
                stats.pcapng_sections += 1;
                stats.oversized_blocks += 1;
                self.ifaces.clear();
            }
            IDB => {
                stats.pcapng_interfaces += 1;
                stats.oversized_blocks += 1;
                if self.ifaces.len() >= MAX_INTERFACES {
                    stats.interfaces_dropped += 1;
                } else {
                    let b = self.buf.get(self.pos..self.pos + 16).unwrap_or_default();
                    let (lt, snap) = (u32::from(rd16(b, 8, big)), rd32(b, 12, big));
                    self.ifaces
                        .push(Interface::new(lt, snap, TsResol::Pow10(6), 0, true));
                }
            }
            EPB | PB | SPB => {
                self.frame += 1;
                stats.oversized_records += 1;
            }
            _ => stats.skipped_blocks += 1,
        }
        if !self.skip(blen as u64 - 4) || !self.fill(4) {
            self.stop_truncated(stats);
            return false;
        }
        let t = self.buf.get(self.pos..self.pos + 4).unwrap_or_default();
        if rd32(t, 0, big) as usize != blen {
            // Damage: what was skipped was no block; look on from here.
            stats.bad_block_length += 1;
            return self.pass_damage(stats, Self::pcapng_at, false);
        }
        self.pos += 4;
        true
    }

    /// Passes over damage at `pos`: moves on a byte at a time until `found` says a record or
    /// block starts there (true), or the input ends (false). What was passed over is counted.
    /// One pass forward: linear in the damage.
    ///
    /// Without `cut`, an end of input leaves the rest unreadable and reading is done. With
    /// `cut` (the input ended inside the record at `pos`), a whole one later in what is left
    /// makes this one's length damage rather than a cut file; if there is none, `pos` stays
    /// where it was.
    fn pass_damage(
        &mut self,
        stats: &mut RecordStats,
        found: fn(&mut Self) -> Option<bool>,
        cut: bool,
    ) -> bool {
        if cut && (!self.eof || self.error.is_some()) {
            return false;
        }
        // Counted a byte at a time: a refill may move `pos` (never once the input ended).
        let (start, mut skipped) = (self.pos, 0u64);
        let ok = loop {
            self.pos += 1;
            skipped += 1;
            if cut && self.pos >= self.end {
                break false;
            }
            match found(self) {
                Some(true) => break true,
                Some(false) => {}
                None => break false,
            }
        };
        if ok {
            stats.resyncs += 1;
        } else if cut {
            self.pos = start;
            return false;
        } else {
            // The rest of the input is unreadable.
            skipped += (self.end.saturating_sub(self.pos)) as u64;
            self.pos = self.end;
            self.done = true;
        }
        stats.resync_skipped_bytes += skipped;
        ok
    }

    /// [`Self::pcapng_at`] for a block that must be whole (no input cut inside it). A section
    /// header's length is read in its own byte order there.
    fn pcapng_whole_at(&mut self) -> Option<bool> {
        // Only the bytes read count: the buffer past `end` holds stale ones.
        let h = self.buf.get(self.pos..self.end)?.get(..8)?;
        if rd32(h, 0, self.big) != SHB {
            let blen = rd32(h, 4, self.big) as usize;
            if self.end - self.pos < blen.max(12) {
                return Some(false);
            }
        }
        self.pcapng_at()
    }

    /// Whether a classic pcap record header at `pos` is believable: lengths within the snap
    /// length and the record limit, a fraction below one second, a time within a day of the
    /// last record known real; and the next header after its data is believable too, or the input
    /// ends exactly there. None when the input ends before a header.
    fn pcap_at(&mut self) -> Option<bool> {
        let hl = self.rec_hdr;
        if !self.fill(hl) {
            return None;
        }
        let Some(incl) = self.pcap_header_ok(self.pos) else {
            return Some(false);
        };
        let next = hl + incl;
        if self.fill(next + hl) {
            return Some(self.pcap_header_ok(self.pos + next).is_some());
        }
        // The last record of the file, or one the input ends inside.
        Some(self.eof && self.error.is_none() && self.end == self.pos + next)
    }

    /// The pcap record header at `at`, when readable.
    #[inline]
    fn pcap_rec(&self, at: usize) -> Option<RecHeader> {
        let h = self.buf.get(at..at + 16)?;
        let big = self.big;
        Some(RecHeader {
            sec: rd32(h, 0, big),
            frac: rd32(h, 4, big),
            incl: rd32(h, 8, big) as usize,
            orig: rd32(h, 12, big) as usize,
        })
    }

    /// The captured length of a believable pcap record header at `at` (readable already).
    fn pcap_header_ok(&self, at: usize) -> Option<usize> {
        let h = self.pcap_rec(at)?;
        (self.fields_ok(&h) && self.near_good_time(h.sec)).then_some(h.incl)
    }

    /// Looks for two believable pcap headers in a row starting in the `len` bytes after `pos`,
    /// both within those bytes and one more header (what the caller made readable, however
    /// the input was chunked): if found, `pos` moves there (a resync); else it stays. Reads
    /// nothing, so the buffer does not move.
    fn sync_within(&mut self, stats: &mut RecordStats, len: usize) -> bool {
        let hl = self.rec_hdr;
        let end = self.pos + len + hl;
        let found = (1..len).find(|&k| {
            let at = self.pos + k;
            let Some(incl) = (at + hl <= end).then(|| self.pcap_header_ok(at)).flatten() else {
                return false;
            };
            let next = at + hl + incl;
            next + hl <= end && self.pcap_header_ok(next).is_some()
        });
        let Some(k) = found else {
            return false;
        };
        self.pos += k;
        stats.resyncs += 1;
        stats.resync_skipped_bytes += k as u64;
        true
    }

    /// Whether the pcap record header at `at` (readable) is damage: a length beyond every
    /// limit, or fields no writer produces with a time far from the capture's.
    fn header_is_damage(&self, at: usize) -> bool {
        let Some(h) = self.pcap_rec(at) else {
            return false;
        };
        if self.fields_ok(&h) {
            return false;
        }
        let snap = self.pcap.map_or(0, |p| p.snaplen) as usize;
        let absurd = h.incl > self.max_record && !(h.incl <= snap && h.incl <= h.orig);
        absurd || !self.near_good_time(h.sec)
    }

    /// Whether `sec` is within a day of the last record believed real (or none is known).
    fn near_good_time(&self, sec: u32) -> bool {
        self.good_time.map_or(true, |t| {
            (i64::from(sec) - t / 1_000_000_000).abs() <= 86_400
        })
    }

    /// Follows the capture's clock: a record within a day of the last one believed real moves
    /// it on; three in a row that agree with each other, but not with it, move it too (a
    /// capture idle for a day). Damage read as a record (random or zero bytes) does neither.
    #[inline]
    fn note_time(&mut self, t: i64) {
        const DAY: i64 = 86_400 * 1_000_000_000;
        match self.good_time {
            // Back to the first day of 1970 is a clock never set, not a capture's: damage.
            Some(g) if t < DAY && g >= DAY => {}
            Some(g) if (t - g).abs() > DAY => {
                self.new_time = match self.new_time {
                    Some((n, k)) if (t - n).abs() <= DAY && k >= 2 => {
                        self.good_time = Some(t);
                        None
                    }
                    Some((n, k)) if (t - n).abs() <= DAY => Some((t, k + 1)),
                    _ => Some((t, 1)),
                };
            }
            _ => {
                self.good_time = Some(t);
                self.new_time = None;
            }
        }
    }

    /// Whether a pcap record header's lengths and fraction are possible. A packet of no bytes
    /// is not: zero bytes (padding, a hole in the file) would read as such headers.
    #[inline]
    fn fields_ok(&self, h: &RecHeader) -> bool {
        h.incl <= self.pcap_max_incl
            && h.incl <= h.orig
            && 0 < h.orig
            && h.orig <= 1 << 24
            && h.frac < self.pcap_second
    }

    /// Whether a pcapng block starts at `pos`: a known type, a possible length, the same
    /// length again at its end (and for a section header, a byte-order magic). None when the
    /// input ends before a block header.
    fn pcapng_at(&mut self) -> Option<bool> {
        if !self.fill(12) {
            return None;
        }
        let h = self.buf.get(self.pos..self.pos + 12)?;
        let mut big = self.big;
        let btype = rd32(h, 0, big);
        if btype == SHB {
            big = match h.get(8..12)? {
                [0x1a, 0x2b, 0x3c, 0x4d] => true,
                [0x4d, 0x3c, 0x2b, 0x1a] => false,
                _ => return Some(false),
            };
        }
        let known = matches!(
            btype,
            SHB | IDB | PB | SPB | EPB | NRB | ISB | DSB | CB | CB_NO_COPY
        );
        let blen = rd32(h, 4, big) as usize;
        if !known || blen < 12 || blen % 4 != 0 || blen > self.max_buf {
            return Some(false);
        }
        if !self.fill(blen) {
            // Too short for its block: not one, unless the input was cut inside it.
            return Some(self.eof && self.error.is_none() && btype != SHB);
        }
        let b = self.buf.get(self.pos..self.pos + blen)?;
        let same = rd32(b, blen - 4, big) as usize == blen;
        if same && btype == SHB {
            self.big = big;
        }
        Some(same)
    }

    /// Reading stops where the input did: inside a record is a truncated file.
    fn stop_at_end(&mut self, stats: &mut RecordStats) -> Option<Found> {
        if self.error.is_none() && self.end > self.pos {
            stats.truncated_file += 1;
        }
        self.done = true;
        None
    }

    /// Reading stops inside a record being skipped.
    fn stop_truncated(&mut self, stats: &mut RecordStats) -> Option<Found> {
        if self.error.is_none() {
            stats.truncated_file += 1;
        }
        self.done = true;
        None
    }

    /// Makes `n` bytes (at most `max_buf`) readable at `pos`; false when the input ends first
    /// or fails (the error is kept, and counted when `next_record` returns).
    #[inline]
    fn fill(&mut self, n: usize) -> bool {
        self.end - self.pos >= n || self.refill(n)
    }

    #[cold]
    fn refill(&mut self, n: usize) -> bool {
        if self.eof || n > self.max_buf {
            return false;
        }
        if self.pos + n > self.buf.len() {
            // Move the partial record to the front; grow only when it cannot fit at all.
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
            if n > self.buf.len() {
                let len = n.max(self.buf.len() * 2).min(self.max_buf);
                self.buf.resize(len, 0);
            }
        }
        while self.end - self.pos < n {
            let Some(room) = self.buf.get_mut(self.end..) else {
                return false;
            };
            match self.src.read(room) {
                Ok(0) => {
                    self.eof = true;
                    return false;
                }
                Ok(k) => {
                    self.end += k;
                    self.unreported += k as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e);
                    self.eof = true;
                    return false;
                }
            }
        }
        true
    }

    /// Consumes `n` bytes without keeping them; false when the input ends first.
    fn skip(&mut self, mut n: u64) -> bool {
        loop {
            let avail = (self.end - self.pos) as u64;
            if avail >= n {
                self.pos += n as usize;
                return true;
            }
            n -= avail;
            self.pos = 0;
            self.end = 0;
            if !self.refill(1) {
                return false;
            }
        }
    }
}

impl std::fmt::Debug for RecordReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordReader")
            .field("format", &self.format)
            .field("compression", &self.compression)
            .field("frame", &self.frame)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// §3.5 options: code, length, value padded to 32 bits, until opt_endofopt or the end.
/// False when an option overruns the space.
/// A classic pcap record header (pcap §5), as read: the modified format's extra fields aside.
struct RecHeader {
    sec: u32,
    frac: u32,
    incl: usize,
    orig: usize,
}

fn for_each_option(mut rest: &[u8], big: bool, mut f: impl FnMut(u16, &[u8])) -> bool {
    while rest.len() >= 4 {
        let code = rd16(rest, 0, big);
        let len = rd16(rest, 2, big) as usize;
        if code == OPT_ENDOFOPT {
            return true;
        }
        let Some(val) = rest.get(4..4 + len) else {
            return false;
        };
        f(code, val);
        // A last option without its padding is tolerated.
        rest = rest.get(4 + ((len + 3) & !3)..).unwrap_or_default();
    }
    rest.is_empty()
}

#[inline]
fn rd16(b: &[u8], at: usize, big: bool) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) if big => u16::from_be_bytes([x, y]),
        Some(&[x, y]) => u16::from_le_bytes([x, y]),
        _ => 0,
    }
}

#[inline]
fn rd32(b: &[u8], at: usize, big: bool) -> u32 {
    match b.get(at..at + 4) {
        Some(&[w, x, y, z]) if big => u32::from_be_bytes([w, x, y, z]),
        Some(&[w, x, y, z]) => u32::from_le_bytes([w, x, y, z]),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(r: TsResol, off: i64) -> Interface {
        Interface::new(1, 0, r, off, true)
    }

    #[test]
    fn time_stamp_units() {
        assert_eq!(
            iface(TsResol::Pow10(6), 0).time_ns(1_500_000),
            1_500_000_000
        );
        assert_eq!(iface(TsResol::Pow10(9), 0).time_ns(7), 7);
        assert_eq!(iface(TsResol::Pow10(0), 0).time_ns(2), 2_000_000_000);
        assert_eq!(iface(TsResol::Pow10(12), 0).time_ns(5_000), 5);
        assert_eq!(iface(TsResol::Pow10(127), 0).time_ns(u64::MAX), 1);
        assert_eq!(iface(TsResol::Pow2(20), 0).time_ns(3 << 20), 3_000_000_000);
        assert_eq!(iface(TsResol::Pow2(20), 0).time_ns(1), 953); // 10^9 / 2^20, floored
        assert_eq!(iface(TsResol::Pow2(127), 0).time_ns(u64::MAX), 0);
        assert_eq!(
            iface(TsResol::Pow10(6), -10).time_ns(1_000_000),
            -9_000_000_000
        );
        // Saturates instead of wrapping.
        assert_eq!(iface(TsResol::Pow10(0), 0).time_ns(u64::MAX), i64::MAX);
        assert_eq!(iface(TsResol::Pow10(9), i64::MIN).time_ns(0), i64::MIN);
    }

    #[test]
    fn options_walk_and_overrun() {
        let mut seen = Vec::new();
        let opts = [
            9, 0, 1, 0, 6, 0, 0, 0, 2, 0, 3, 0, b'a', b'b', b'c', 0, 0, 0, 0, 0,
        ];
        assert!(for_each_option(&opts, false, |c, v| seen.push((c, v.to_vec()))));
        assert_eq!(seen, vec![(9, vec![6]), (2, b"abc".to_vec())]);
        // Length beyond the block.
        assert!(!for_each_option(&[2, 0, 9, 0, 1, 2], false, |_, _| {}));
        // Stray bytes after the last option.
        assert!(!for_each_option(
            &[9, 0, 1, 0, 6, 0, 0, 0, 1],
            false,
            |_, _| {}
        ));
        // No end-of-options: fine.
        assert!(for_each_option(
            &[0, 9, 0, 1, 6, 0, 0, 0],
            true,
            |c, v| assert_eq!((c, v), (9, &[6u8][..]))
        ));
    }

    #[test]
    fn readers_never_read_out_of_range() {
        assert_eq!(rd32(&[1, 2, 3], 0, false), 0);
        assert_eq!(rd16(&[1, 2, 3], 2, true), 0);
        assert_eq!(rd32(&[1, 2, 3, 4], 0, true), 0x0102_0304);
        assert_eq!(rd16(&[1, 2], 0, false), 0x0201);
    }
}
