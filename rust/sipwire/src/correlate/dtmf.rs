//! DTMF sent in SIP INFO requests, the way phones, gateways and PBXs set to "SIP INFO" DTMF
//! send it (RFC 6086 §1 calls such packages legacy INFO usages; none has an RFC):
//!
//! - `application/dtmf-relay`: lines `Signal=5` and `Duration=160` (milliseconds);
//! - `application/dtmf`: the digit alone (`5`), some devices writing `Signal=5` there too.
//!
//! A digit is a character of `0-9 * # A-D` (either case), `!` for a hook flash, or an RFC 4733
//! §3.2 event code written as a number (`10` is `*`, `16` a flash). One INFO carries one digit:
//! a retransmission is not counted again, nor the same request seen on another hop (same From
//! tag and CSeq: a proxy forwards it with its own Via branch).

use std::net::SocketAddr;

/// Digits kept per call; those after are counted in `Counters::dropped_info_dtmf`.
pub const MAX_INFO_DTMF_PER_CALL: usize = 256;

/// A DTMF digit sent in a SIP INFO request.
#[derive(Clone, Debug, PartialEq)]
pub struct InfoDtmf {
    /// The earliest copy of the request.
    pub time: f64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// The INFO's CSeq number.
    pub cseq: u32,
    /// The RFC 4733 §3.2 event code: 0-9, 10 `*`, 11 `#`, 12-15 `A`-`D`, 16 flash.
    pub event: u8,
    /// `0`-`9`, `*`, `#`, `A`-`D` or `flash`.
    pub digit: &'static str,
    /// The `Duration` the body gave, in milliseconds.
    pub duration_ms: Option<u32>,
}

/// A recorded digit and the From tag hash of its request (the key of a copy, with the CSeq).
#[derive(Clone, Debug)]
pub(crate) struct InfoRec {
    pub dtmf: InfoDtmf,
    pub from_hash: u64,
}

/// The digit and duration of an INFO body, when its type is one of the DTMF packages.
pub(crate) fn info_digit(content_type: &[u8], body: &[u8]) -> Option<(u8, Option<u32>)> {
    let end = memchr::memchr(b';', content_type).unwrap_or(content_type.len());
    let mt = crate::scan::trim_lws(content_type.get(..end)?);
    let relay = mt.eq_ignore_ascii_case(b"application/dtmf-relay");
    if !relay && !mt.eq_ignore_ascii_case(b"application/dtmf") {
        return None;
    }
    let mut signal = None;
    let mut duration = None;
    for line in body.split(|&b| b == b'\n') {
        let line = crate::scan::trim_lws(line);
        if line.is_empty() {
            continue;
        }
        match memchr::memchr(b'=', line) {
            Some(eq) => {
                let name = crate::scan::trim_lws(line.get(..eq)?);
                let value = crate::scan::trim_lws(line.get(eq + 1..)?);
                if name.eq_ignore_ascii_case(b"signal") {
                    signal = signal.or(Some(value));
                } else if name.eq_ignore_ascii_case(b"duration") {
                    duration = duration.or_else(|| number(value));
                }
            }
            // `application/dtmf`: the digit is the body.
            None if !relay => signal = signal.or(Some(line)),
            None => {}
        }
    }
    Some((event_of(signal?)?, duration))
}

/// The RFC 4733 §3.2 event code a `Signal` value names.
fn event_of(v: &[u8]) -> Option<u8> {
    match v {
        [c] => match c.to_ascii_uppercase() {
            d @ b'0'..=b'9' => Some(d - b'0'),
            b'*' => Some(10),
            b'#' => Some(11),
            l @ b'A'..=b'D' => Some(12 + (l - b'A')),
            b'!' => Some(16),
            _ => None,
        },
        _ => number(v)
            .and_then(|n| u8::try_from(n).ok())
            .filter(|&n| n <= 16),
    }
}

/// A decimal number that fits in 32 bits.
fn number(v: &[u8]) -> Option<u32> {
    crate::scan::parse_u64(v).and_then(|n| u32::try_from(n).ok())
}

/// The DTMF digit an RFC 4733 §3.2 event code stands for: "0"-"9", "*", "#", "A"-"D", or
/// "flash" (16); `None` for other events (the tones of RFC 4734).
pub fn dtmf_digit(event: u8) -> Option<&'static str> {
    const D: [&str; 17] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D", "flash",
    ];
    D.get(usize::from(event)).copied()
}

/// [`dtmf_digit`] of an event [`info_digit`] read (0-16, so always one).
pub(crate) fn digit_of(event: u8) -> &'static str {
    dtmf_digit(event).unwrap_or("?")
}

/// The order of a call's digits, and of copies of one request (the first is kept): by time,
/// then by what they say, so that neither depends on the order they were fed in.
pub(crate) fn order(a: &InfoDtmf, b: &InfoDtmf) -> std::cmp::Ordering {
    let rest = |d: &InfoDtmf| (d.cseq, d.event, d.duration_ms, d.src, d.dst);
    a.time
        .total_cmp(&b.time)
        .then_with(|| rest(a).cmp(&rest(b)))
}

/// Records `d` in `recs` unless it is a copy of one there (same From tag and CSeq): then the
/// earlier copy is kept. `false` when the call is at its bound and `d` is new.
pub(crate) fn record(recs: &mut Vec<InfoRec>, d: InfoDtmf, from_hash: u64) -> bool {
    if let Some(r) = recs
        .iter_mut()
        .find(|r| r.from_hash == from_hash && r.dtmf.cseq == d.cseq)
    {
        if order(&d, &r.dtmf).is_lt() {
            r.dtmf = d;
        }
        return true;
    }
    if recs.len() >= MAX_INFO_DTMF_PER_CALL {
        return false;
    }
    recs.push(InfoRec { dtmf: d, from_hash });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_bodies() {
        let ct = b"application/dtmf-relay";
        assert_eq!(
            info_digit(ct, b"Signal=5\r\nDuration=160\r\n"),
            Some((5, Some(160)))
        );
        assert_eq!(
            info_digit(ct, b"signal = #\nduration= 250"),
            Some((11, Some(250)))
        );
        assert_eq!(info_digit(ct, b"Signal=*\r\n"), Some((10, None)));
        assert_eq!(
            info_digit(ct, b"Signal=d\r\nDuration=x\r\n"),
            Some((15, None))
        );
        assert_eq!(
            info_digit(ct, b"Signal=16\r\nDuration=500"),
            Some((16, Some(500)))
        );
        assert_eq!(info_digit(ct, b"Signal=!\r\n"), Some((16, None)));
        assert_eq!(info_digit(ct, b"Signal=11"), Some((11, None)));
        assert_eq!(
            info_digit(b"Application/DTMF-Relay ; x=y", b"Signal=0"),
            Some((0, None))
        );
        // The first Signal counts; a name with bytes before it is no Signal; a Duration past
        // 32 bits is none.
        assert_eq!(info_digit(ct, b"Signal=1\r\nSignal=2\r\n"), Some((1, None)));
        assert_eq!(info_digit(ct, b"\xff\x00Signal=3\r\n"), None);
        assert_eq!(
            info_digit(ct, b"Signal=4\r\nDuration=4294967296\r\n"),
            Some((4, None))
        );
        // The digit alone is not a relay body.
        assert_eq!(info_digit(ct, b"5\r\n"), None);
        for bad in [
            &b""[..],
            b"Signal=",
            b"Signal=E",
            b"Signal=17",
            b"Signal=55",
            b"Duration=1",
        ] {
            assert_eq!(
                info_digit(ct, bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn dtmf_bodies_and_other_types() {
        assert_eq!(info_digit(b"application/dtmf", b"5"), Some((5, None)));
        assert_eq!(info_digit(b"application/dtmf", b" 9 \r\n"), Some((9, None)));
        assert_eq!(
            info_digit(b"application/dtmf", b"Signal=B"),
            Some((13, None))
        );
        assert_eq!(info_digit(b"application/dtmf", b"12"), Some((12, None)));
        assert_eq!(info_digit(b"application/sdp", b"Signal=5"), None);
        assert_eq!(info_digit(b"text/plain", b"5"), None);
        assert_eq!(info_digit(b"application/dtmf-relayx", b"Signal=5"), None);
    }

    #[test]
    fn digits_of_every_event() {
        let all: String = (0..=16).map(digit_of).collect();
        assert_eq!(all, "0123456789*#ABCDflash");
        assert_eq!(digit_of(17), "?");
    }

    #[test]
    fn copies_keep_the_earliest_and_the_bound_holds() {
        let a: SocketAddr = ([127, 0, 0, 1], 5060).into();
        let b: SocketAddr = ([127, 0, 0, 2], 5060).into();
        let d = |time, cseq, src| InfoDtmf {
            time,
            src,
            dst: b,
            cseq,
            event: 1,
            digit: "1",
            duration_ms: None,
        };
        let mut recs = Vec::new();
        assert!(record(&mut recs, d(2.0, 7, b), 1));
        assert!(record(&mut recs, d(1.0, 7, a), 1));
        assert!(record(&mut recs, d(3.0, 7, b), 1));
        assert_eq!(recs.len(), 1);
        assert_eq!((recs[0].dtmf.time, recs[0].dtmf.src), (1.0, a));
        // Another From tag (the other side) or another CSeq is another digit.
        assert!(record(&mut recs, d(2.0, 7, b), 2));
        assert!(record(&mut recs, d(2.0, 8, b), 1));
        assert_eq!(recs.len(), 3);
        // Copies at one instant that disagree: the same one is kept whichever came first.
        let at = |event, src| InfoDtmf {
            event,
            digit: digit_of(event),
            ..d(0.5, 9, src)
        };
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for (v, first, second) in [(&mut x, at(3, a), at(2, b)), (&mut y, at(2, b), at(3, a))] {
            record(v, first, 5);
            record(v, second, 5);
        }
        assert_eq!((x[0].dtmf.digit, x[0].dtmf.src), ("2", b));
        assert_eq!((y[0].dtmf.digit, y[0].dtmf.src), ("2", b));
        for n in 0..(MAX_INFO_DTMF_PER_CALL as u32) {
            record(&mut recs, d(4.0, 100 + n, a), 1);
        }
        assert_eq!(recs.len(), MAX_INFO_DTMF_PER_CALL);
        assert!(!record(&mut recs, d(5.0, 9999, a), 1));
    }
}
