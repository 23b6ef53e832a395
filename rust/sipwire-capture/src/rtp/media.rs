//! What SDP says about a media stream: its payload types (RFC 3551 §6 static ones, `a=rtpmap`
//! dynamic ones), clock rates, the telephone-event payload (RFC 4733 §7), and the Call-ID of
//! the dialog that announced it.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use sipwire::sdp::{static_payload_type, Media};

/// One payload type an SDP media section names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PtEntry {
    pub pt: u8,
    /// Encoding name from `a=rtpmap` (or RFC 3551's for a static PT without one); the common
    /// spellings are shared, not allocated per SDP.
    pub name: Cow<'static, str>,
    /// Clock rate from `a=rtpmap` (0 when absent).
    pub clock: u32,
}

/// The media description behind an expected endpoint (shared by its RTP and RTCP entries and
/// by every stream found through it).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MediaInfo {
    pub call_id: Arc<str>,
    /// Shared between the media sections that name the same payload types (see [`Shared`]).
    pub pts: Arc<[PtEntry]>,
    /// The payload type mapped to `telephone-event`, if any, and its clock rate.
    pub event_pt: Option<(u8, u32)>,
}

/// Encoding names as SDP commonly spells them (RFC 3551 §6, RFC 4733, RFC 7587 ...).
const COMMON_NAMES: &[&str] = &[
    "PCMU",
    "PCMA",
    "G722",
    "G729",
    "telephone-event",
    "opus",
    "GSM",
    "G723",
    "CN",
    "speex",
    "iLBC",
    "AMR",
    "AMR-WB",
    "H264",
    "VP8",
    "VP9",
    "red",
    "ulpfec",
    "rtx",
    "T140",
];

fn shared_name(name: &[u8]) -> Cow<'static, str> {
    match COMMON_NAMES.iter().find(|n| n.as_bytes() == name) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(String::from_utf8_lossy(name).into_owned()),
    }
}

impl MediaInfo {
    pub fn entry(&self, pt: u8) -> Option<&PtEntry> {
        self.pts.iter().find(|e| e.pt == pt)
    }
}

/// The payload types `m` names, in m= line order, into `out` (cleared first); returns the
/// first one mapped to `telephone-event` and its clock rate. The fmtp lines are not read.
pub(crate) fn read_pts(m: &Media<'_>, out: &mut Vec<PtEntry>) -> Option<(u8, u32)> {
    out.clear();
    let mut event_pt = None;
    for pt in m.payload_types() {
        let c = m.codec_rtpmap(pt);
        if c.name.is_empty() {
            continue;
        }
        let name = shared_name(c.name);
        if event_pt.is_none() && name.eq_ignore_ascii_case("telephone-event") {
            event_pt = Some((c.payload_type, c.clock_rate));
        }
        if out.iter().any(|e: &PtEntry| e.pt == c.payload_type) {
            continue;
        }
        out.push(PtEntry {
            pt: c.payload_type,
            name,
            clock: if c.from_rtpmap { c.clock_rate } else { 0 },
        });
    }
    event_pt
}

/// The last few payload-type lists and Call-IDs that SDP bodies gave, handed out again
/// instead of allocated again: an answer mostly repeats its offer's codecs and Call-ID, and a
/// capture's calls use a few codec sets. Every media section an SDP announces is kept until
/// its endpoint is evicted, so on a capture with no RTP these allocations were most of the
/// memory the read touched. A cache of fixed size: a miss costs one allocation.
#[derive(Default)]
pub(crate) struct Shared {
    pts: [Option<Arc<[PtEntry]>>; 8],
    next_pts: usize,
    calls: [Option<Arc<str>>; 8],
    next_call: usize,
}

impl Shared {
    pub fn pts(&mut self, pts: &[PtEntry]) -> Arc<[PtEntry]> {
        if let Some(a) = self.pts.iter().flatten().find(|a| a.as_ref() == pts) {
            return a.clone();
        }
        let a: Arc<[PtEntry]> = pts.into();
        if let Some(slot) = self.pts.get_mut(self.next_pts % 8) {
            *slot = Some(a.clone());
        }
        self.next_pts = self.next_pts.wrapping_add(1);
        a
    }

    pub fn call_id(&mut self, call_id: &[u8]) -> Arc<str> {
        if let Some(a) = self
            .calls
            .iter()
            .flatten()
            .find(|a| a.as_bytes() == call_id)
        {
            return a.clone();
        }
        let a: Arc<str> = sipwire::scan::lossy_str(call_id).into();
        if let Some(slot) = self.calls.get_mut(self.next_call % 8) {
            *slot = Some(a.clone());
        }
        self.next_call = self.next_call.wrapping_add(1);
        a
    }
}

/// The clock rate tshark's RTP analysis uses for payload type `pt` (ui/tap-rtp-analysis.c),
/// so that jitter figures compare: static PTs by the IANA table whatever SDP says, dynamic
/// ones by their rtpmap rate, else by their encoding name; telephone-event and unknown
/// payloads have none (0), and then no jitter is computed for their packets. Rates under
/// 1000 Hz give none either (tshark divides by `rate / 1000`, which would be 0).
pub(crate) fn stats_clock(pt: u8, media: Option<&MediaInfo>) -> u32 {
    let rate = if pt < 96 {
        static_clock(pt)
    } else {
        match media.and_then(|m| m.entry(pt)) {
            Some(e) if is_event_name(&e.name) => 0,
            Some(e) if e.clock != 0 => e.clock,
            Some(e) => clock_by_name(&e.name),
            None => 0,
        }
    };
    if rate < 1000 {
        0
    } else {
        rate
    }
}

fn is_event_name(name: &str) -> bool {
    name.get(..15)
        .is_some_and(|p| p.eq_ignore_ascii_case("telephone-event"))
}

/// RFC 3551 §6 clock rates of the static payload types, plus 1 (FS-1016), 2 (G721) and 19
/// (the old comfort noise), which tshark still counts at 8000 Hz.
pub(crate) fn static_clock(pt: u8) -> u32 {
    match pt {
        0..=5 | 7..=9 | 12 | 13 | 15 | 18 | 19 => 8000,
        6 => 16000,
        10 | 11 => 44100,
        16 => 11025,
        17 => 22050,
        14 | 25 | 26 | 28 | 31..=34 => 90000,
        _ => 0,
    }
}

/// Clock rates of media types usually given dynamic payload types (IANA RTP payload format
/// media types), for an rtpmap that names no rate. Longest names first so that a name which
/// extends another (AMR-WB, AMR) finds its own.
const CLOCK_BY_NAME: &[(&str, u32)] = &[
    ("H263-1998", 90000),
    ("H263-2000", 90000),
    ("mpa-robust", 90000),
    ("MP4V-ES", 90000),
    ("EVRCWB0", 16000),
    ("EVRCWB1", 16000),
    ("GSM-EFR", 8000),
    ("G726-16", 8000),
    ("G726-24", 8000),
    ("G726-32", 8000),
    ("G726-40", 8000),
    ("pointer", 90000),
    ("AMR-WB", 16000),
    ("EVRCB0", 8000),
    ("EVRCB1", 8000),
    ("EVRCWB", 16000),
    ("EVRC0", 8000),
    ("EVRC1", 8000),
    ("EVRCB", 8000),
    ("BMPEG", 90000),
    ("BT656", 90000),
    ("G7221", 16000),
    ("G729D", 8000),
    ("G729E", 8000),
    ("EVRC", 8000),
    ("H264", 90000),
    ("MP1S", 90000),
    ("MP2P", 90000),
    ("opus", 48000),
    ("SMV0", 8000),
    ("t140", 1000),
    ("AMR", 8000),
    ("EVS", 16000),
    ("raw", 90000),
    ("red", 1000),
    ("SMV", 8000),
    ("DV", 90000),
];

pub(crate) fn clock_by_name(name: &str) -> u32 {
    CLOCK_BY_NAME
        .iter()
        .find(|(n, _)| {
            name.get(..n.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(n))
        })
        .map_or(0, |&(_, rate)| rate)
}

/// The codec name of payload type `pt`: SDP's, else RFC 3551's for a static one.
pub(crate) fn codec_name(pt: u8, media: Option<&MediaInfo>) -> Option<String> {
    if let Some(e) = media.and_then(|m| m.entry(pt)) {
        return Some(e.name.to_string());
    }
    static_payload_type(pt).map(|(name, _, _)| name.to_owned())
}

/// An SDP connection address as an IP address (`c=IN IP4 10.0.0.1`, `c=IN IP6 ::1`; FQDNs and
/// the unspecified hold address give none).
pub(crate) fn connection_ip(addr: &[u8]) -> Option<IpAddr> {
    let ip: IpAddr = std::str::from_utf8(addr).ok()?.parse().ok()?;
    (!ip.is_unspecified()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_as_tshark() {
        assert_eq!(static_clock(0), 8000);
        assert_eq!(
            static_clock(9),
            8000,
            "G.722 RTP clock is 8000 (RFC 3551 §4.5.2)"
        );
        assert_eq!(static_clock(19), 8000);
        assert_eq!(static_clock(20), 0);
        assert_eq!(static_clock(34), 90000);
        assert_eq!(clock_by_name("AMR-WB"), 16000);
        assert_eq!(clock_by_name("amr"), 8000);
        assert_eq!(clock_by_name("OPUS"), 48000);
        assert_eq!(clock_by_name("VP8"), 0);
        let m = MediaInfo {
            call_id: "c".into(),
            pts: [
                PtEntry {
                    pt: 101,
                    name: "telephone-event".into(),
                    clock: 8000,
                },
                PtEntry {
                    pt: 96,
                    name: "opus".into(),
                    clock: 0,
                },
                PtEntry {
                    pt: 97,
                    name: "L16".into(),
                    clock: 16000,
                },
                PtEntry {
                    pt: 98,
                    name: "red".into(),
                    clock: 0,
                },
                PtEntry {
                    pt: 100,
                    name: "x-slow".into(),
                    clock: 500,
                },
            ]
            .into(),
            event_pt: Some((101, 8000)),
        };
        assert_eq!(stats_clock(101, Some(&m)), 0);
        assert_eq!(stats_clock(96, Some(&m)), 48000);
        assert_eq!(stats_clock(97, Some(&m)), 16000);
        assert_eq!(stats_clock(98, Some(&m)), 1000);
        assert_eq!(stats_clock(100, Some(&m)), 0, "under 1000 Hz");
        assert_eq!(stats_clock(99, Some(&m)), 0);
        assert_eq!(stats_clock(96, None), 0);
        assert_eq!(stats_clock(8, Some(&m)), 8000);
        assert_eq!(codec_name(8, None).as_deref(), Some("PCMA"));
        assert_eq!(codec_name(96, Some(&m)).as_deref(), Some("opus"));
        assert_eq!(codec_name(99, Some(&m)), None);
    }

    #[test]
    fn addresses() {
        assert!(connection_ip(b"10.0.0.1").is_some());
        assert!(connection_ip(b"2001:db8::1").is_some());
        assert!(connection_ip(b"0.0.0.0").is_none());
        assert!(connection_ip(b"host.example").is_none());
        assert!(connection_ip(b"\xff").is_none());
    }

    #[test]
    fn shared_hands_out_equal_lists_and_call_ids_once() {
        let pcmu = |pt: u8| PtEntry {
            pt,
            name: "PCMU".into(),
            clock: 8000,
        };
        let mut sh = Shared::default();
        let a = sh.pts(&[pcmu(0)]);
        let b = sh.pts(&[pcmu(0)]);
        assert!(Arc::ptr_eq(&a, &b), "an equal list is the same allocation");
        let c = sh.pts(&[pcmu(0), pcmu(8)]);
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&c[..], &[pcmu(0), pcmu(8)]);
        let x = sh.call_id(b"abc@h");
        assert!(Arc::ptr_eq(&x, &sh.call_id(b"abc@h")));
        assert_eq!(&*sh.call_id(b"other"), "other");
        // Past its eight slots a list is made again, equal but not shared: a cache, no table.
        for pt in 10..20 {
            sh.pts(&[pcmu(pt)]);
        }
        let d = sh.pts(&[pcmu(0)]);
        assert_eq!(d, a);
        assert!(!Arc::ptr_eq(&a, &d));
        // A Call-ID that is not UTF-8 is kept lossily, as before.
        assert_eq!(&*sh.call_id(b"a\xffb"), "a\u{fffd}b");
    }
}
