//! What a description means: direction, hold, codecs (RFC 8866 §6.7, RFC 3264 §8.4,
//! RFC 3551 §6, RFC 4733 §2.4).

/// Stream direction (RFC 8866 §6.7), from the point of view of the description's author.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// The default when no direction attribute is given (RFC 8866 §6.7.1).
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    pub fn from_name(s: &[u8]) -> Option<Direction> {
        super::AttrKind::from_name(s).direction()
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    pub fn from_flags(send: bool, recv: bool) -> Direction {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The direction seen from the other end (sendonly ↔ recvonly).
    #[must_use]
    pub fn reversed(self) -> Direction {
        Direction::from_flags(self.receives(), self.sends())
    }
}

/// Whether, and how, a stream is put on hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Hold {
    #[default]
    NotHeld,
    /// `a=sendonly` (RFC 3264 §8.4, RFC 6337 §5.3).
    SendOnly,
    /// `a=inactive` (RFC 3264 §8.4).
    Inactive,
    /// `c=IN IP4 0.0.0.0`, the RFC 2543 form RFC 3264 §8.4 keeps for backward compatibility.
    ZeroAddress,
}

impl Hold {
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::NotHeld => "none",
            Hold::SendOnly => "sendonly",
            Hold::Inactive => "inactive",
            Hold::ZeroAddress => "legacy_zero_address",
        }
    }
    pub fn is_hold(self) -> bool {
        self != Hold::NotHeld
    }
}

/// One codec of a stream: an RTP payload type with its encoding, from `a=rtpmap` or, for a
/// static payload type without one, from RFC 3551 §6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Codec<'a> {
    pub payload_type: u8,
    /// Encoding name; empty for a dynamic payload type without `a=rtpmap`.
    pub name: &'a [u8],
    /// 0 when unknown (dynamic payload type without `a=rtpmap`).
    pub clock_rate: u32,
    /// The channel count when the rtpmap or the static table gives one.
    pub channels: Option<u16>,
    /// The `a=fmtp` parameters for this payload type.
    pub fmtp: Option<&'a [u8]>,
    /// Whether the encoding came from `a=rtpmap` (false: RFC 3551 table, or unknown).
    pub from_rtpmap: bool,
}

impl Codec<'_> {
    /// Same encoding (name case-insensitive, RFC 4855 §3), clock rate and channel count
    /// (absent = 1 for audio, RFC 8866 §6.6).
    pub fn same_encoding(&self, name: &[u8], clock_rate: u32, channels: Option<u16>) -> bool {
        !self.name.is_empty()
            && self.name.eq_ignore_ascii_case(name)
            && self.clock_rate == clock_rate
            && self.channels.unwrap_or(1) == channels.unwrap_or(1)
    }
}

/// RFC 3551 §6, Tables 4 and 5: the static payload types (encoding, clock rate, channels).
/// PT 1, 2 and 19 are reserved there and so not named.
pub fn static_payload_type(pt: u8) -> Option<(&'static str, u32, Option<u16>)> {
    Some(match pt {
        0 => ("PCMU", 8000, Some(1)),
        3 => ("GSM", 8000, Some(1)),
        4 => ("G723", 8000, Some(1)),
        5 => ("DVI4", 8000, Some(1)),
        6 => ("DVI4", 16000, Some(1)),
        7 => ("LPC", 8000, Some(1)),
        8 => ("PCMA", 8000, Some(1)),
        9 => ("G722", 8000, Some(1)),
        10 => ("L16", 44100, Some(2)),
        11 => ("L16", 44100, Some(1)),
        12 => ("QCELP", 8000, Some(1)),
        13 => ("CN", 8000, Some(1)),
        14 => ("MPA", 90000, None),
        15 => ("G728", 8000, Some(1)),
        16 => ("DVI4", 11025, Some(1)),
        17 => ("DVI4", 22050, Some(1)),
        18 => ("G729", 8000, Some(1)),
        25 => ("CelB", 90000, None),
        26 => ("JPEG", 90000, None),
        28 => ("nv", 90000, None),
        31 => ("H261", 90000, None),
        32 => ("MPV", 90000, None),
        33 => ("MP2T", 90000, None),
        34 => ("H263", 90000, None),
        _ => return None,
    })
}

/// The `telephone-event` payload (RFC 4733 §2.4) of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelephoneEvent<'a> {
    pub payload_type: u8,
    pub clock_rate: u32,
    /// The event list from `a=fmtp` (`0-15`, `0-16,32`), if given.
    pub events: Option<&'a [u8]>,
}

impl TelephoneEvent<'_> {
    /// The event ranges (inclusive). Without fmtp, RFC 4733 §2.4.1 implies 0-15; malformed
    /// items are skipped.
    pub fn ranges(&self) -> impl Iterator<Item = (u8, u8)> + '_ {
        let list: &[u8] = self.events.unwrap_or(b"0-15");
        list.split(|&b| b == b',').filter_map(|item| {
            let item = crate::scan::trim_lws(item);
            let num = |s: &[u8]| {
                crate::scan::parse_u64(crate::scan::trim_lws(s)).and_then(|v| u8::try_from(v).ok())
            };
            match memchr::memchr(b'-', item) {
                Some(d) => {
                    let lo = num(item.get(..d)?)?;
                    let hi = num(item.get(d + 1..)?)?;
                    (lo <= hi).then_some((lo, hi))
                }
                None => num(item).map(|v| (v, v)),
            }
        })
    }

    pub fn supports(&self, event: u8) -> bool {
        self.ranges().any(|(lo, hi)| (lo..=hi).contains(&event))
    }
}

/// The T.38 parameters of an `m=image ... udptl t38` stream (ITU-T T.38 Annex D.2.3;
/// RFC 3362). Boolean options are true when present without a value or with a non-zero one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct T38Options<'a> {
    pub version: Option<u32>,
    pub max_bit_rate: Option<u32>,
    pub fill_bit_removal: bool,
    pub transcoding_mmr: bool,
    pub transcoding_jbig: bool,
    /// `localTCF` or `transferredTCF`.
    pub rate_management: Option<&'a [u8]>,
    pub max_buffer: Option<u32>,
    pub max_datagram: Option<u32>,
    /// `t38UDPRedundancy` or `t38UDPFEC`.
    pub udp_ec: Option<&'a [u8]>,
}

impl<'a> T38Options<'a> {
    pub(crate) fn set(&mut self, name: &[u8], value: Option<&'a [u8]>) {
        let num = || {
            value
                .and_then(crate::scan::parse_u64)
                .and_then(|v| u32::try_from(v).ok())
        };
        let flag = value != Some(&b"0"[..]);
        let lower = |n: &[u8], want: &str| n.eq_ignore_ascii_case(want.as_bytes());
        if lower(name, "T38FaxVersion") {
            self.version = num();
        } else if lower(name, "T38MaxBitRate") || lower(name, "T38FaxMaxRate") {
            self.max_bit_rate = num();
        } else if lower(name, "T38FaxFillBitRemoval") {
            self.fill_bit_removal = flag;
        } else if lower(name, "T38FaxTranscodingMMR") {
            self.transcoding_mmr = flag;
        } else if lower(name, "T38FaxTranscodingJBIG") {
            self.transcoding_jbig = flag;
        } else if lower(name, "T38FaxRateManagement") {
            self.rate_management = value;
        } else if lower(name, "T38FaxMaxBuffer") {
            self.max_buffer = num();
        } else if lower(name, "T38FaxMaxDatagram") {
            self.max_datagram = num();
        } else if lower(name, "T38FaxUdpEC") {
            self.udp_ec = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions() {
        assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
        assert_eq!(Direction::Inactive.reversed(), Direction::Inactive);
        assert_eq!(Direction::from_name(b"recvonly"), Some(Direction::RecvOnly));
    }

    #[test]
    fn static_table() {
        assert_eq!(static_payload_type(0), Some(("PCMU", 8000, Some(1))));
        assert_eq!(static_payload_type(18).map(|t| t.0), Some("G729"));
        assert_eq!(static_payload_type(2), None);
        assert_eq!(static_payload_type(96), None);
    }

    #[test]
    fn event_ranges() {
        let te = TelephoneEvent {
            payload_type: 101,
            clock_rate: 8000,
            events: Some(b"0-15,66,70-x, 32-33"),
        };
        assert_eq!(
            te.ranges().collect::<Vec<_>>(),
            vec![(0, 15), (66, 66), (32, 33)]
        );
        assert!(te.supports(66) && !te.supports(16));
        let def = TelephoneEvent { events: None, ..te };
        assert_eq!(def.ranges().collect::<Vec<_>>(), vec![(0, 15)]);
    }
}
