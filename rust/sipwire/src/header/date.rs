//! Date (RFC 3261 §20.17):
//!
//! ```text
//! SIP-date     = rfc1123-date
//! rfc1123-date = wkday "," SP date1 SP time SP "GMT"
//! date1        = 2DIGIT SP month SP 4DIGIT
//! time         = 2DIGIT ":" 2DIGIT ":" 2DIGIT
//! ```
//!
//! Only GMT is legal (RFC 4475 §3.1.2.12). With `non_gmt_date` a date in another zone is
//! accepted with an `InvalidDate` diagnostic; RFC 822 zone names and `+hhmm` offsets are then
//! honoured by [`SipDate::unix_time`].

use super::{at, repair, sub, trimmed_end};
use crate::scan::{is_lws, skip_lws};
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

const WKDAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SipDate<'a> {
    /// 1 = Monday ... 7 = Sunday, as written (not checked against the date).
    pub weekday: u8,
    pub day: u8,
    /// 1-12.
    pub month: u8,
    pub year: u16,
    pub hour: u8,
    pub minute: u8,
    /// 0-60 (leap second).
    pub second: u8,
    /// `GMT`, or in lenient parses whatever zone was written.
    pub zone: &'a [u8],
}

impl SipDate<'_> {
    pub fn is_gmt(&self) -> bool {
        self.zone.eq_ignore_ascii_case(b"GMT")
    }

    /// Offset of the zone from UTC in minutes: GMT/UT/UTC/Z, the RFC 822 US zones, `+hhmm`.
    pub fn zone_offset_minutes(&self) -> Option<i32> {
        let z = self.zone;
        let named: [(&[u8], i32); 12] = [
            (b"GMT", 0),
            (b"UT", 0),
            (b"UTC", 0),
            (b"Z", 0),
            (b"EST", -300),
            (b"EDT", -240),
            (b"CST", -360),
            (b"CDT", -300),
            (b"MST", -420),
            (b"MDT", -360),
            (b"PST", -480),
            (b"PDT", -420),
        ];
        if let Some((_, off)) = named.iter().find(|(n, _)| n.eq_ignore_ascii_case(z)) {
            return Some(*off);
        }
        let (sign, digits) = match z {
            [b'+', d @ ..] => (1, d),
            [b'-', d @ ..] => (-1, d),
            _ => return None,
        };
        if digits.len() != 4 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = |i: usize| i32::from(digits.get(i).map_or(0, |d| d.wrapping_sub(b'0')));
        Some(sign * ((n(0) * 10 + n(1)) * 60 + n(2) * 10 + n(3)))
    }

    /// Seconds since 1970-01-01T00:00:00Z (`None` for an unknown zone).
    pub fn unix_time(&self) -> Option<i64> {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        let secs = days * 86400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        Some(secs - i64::from(self.zone_offset_minutes()?) * 60)
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (year 0-9999, so no overflow).
fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let m = i64::from(m);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(month: u8, year: u16) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Exactly `n` digits at `i` as a number.
fn fixed_digits(s: &[u8], i: usize, n: usize) -> Option<u16> {
    let d = s.get(i..i + n)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        d.iter()
            .fold(0u16, |acc, &c| acc * 10 + u16::from(c.wrapping_sub(b'0'))),
    )
}

/// Parses a Date value. Anything but an RFC 1123 GMT date is `InvalidDate` (a non-GMT zone
/// is accepted with a diagnostic when `non_gmt_date` is allowed).
pub fn parse_date<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<SipDate<'a>> {
    let bad = |i| Error::new(ErrorKind::InvalidDate, i);
    let end = trimmed_end(v);
    let mut i = skip_lws(v, 0);
    let word = |i: usize, set: &[&[u8]]| -> Option<u8> {
        let w = v.get(i..i + 3)?;
        let p = set.iter().position(|x| x.eq_ignore_ascii_case(w))?;
        u8::try_from(p + 1).ok()
    };
    // At least one LWS, then the next field.
    let sep = |i: usize| -> Result<usize> {
        if !at(v, i).is_some_and(is_lws) {
            return Err(bad(i));
        }
        Ok(skip_lws(v, i))
    };
    let weekday = word(i, &WKDAYS).ok_or(bad(i))?;
    i += 3;
    if at(v, i) != Some(b',') {
        return Err(bad(i));
    }
    i = sep(i + 1)?;
    let day = fixed_digits(v, i, 2).ok_or(bad(i))?;
    let day_at = i;
    i = sep(i + 2)?;
    let month = word(i, &MONTHS).ok_or(bad(i))?;
    i = sep(i + 3)?;
    let year = fixed_digits(v, i, 4).ok_or(bad(i))?;
    i = sep(i + 4)?;
    let t = i;
    let hour = fixed_digits(v, t, 2).filter(|&h| h <= 23).ok_or(bad(t))?;
    let minute = fixed_digits(v, t + 3, 2).filter(|&m| m <= 59);
    let second = fixed_digits(v, t + 6, 2).filter(|&s| s <= 60);
    let (Some(minute), Some(second), Some(b':'), Some(b':')) =
        (minute, second, at(v, t + 2), at(v, t + 5))
    else {
        return Err(bad(t));
    };
    i = sep(t + 8)?;
    let zone = sub(v, i, end.max(i));
    let year16 = year;
    let month8 = month;
    let day8 = u8::try_from(day).unwrap_or(0);
    if day8 == 0 || day8 > days_in_month(month8, year16) {
        return Err(bad(day_at));
    }
    if !zone.eq_ignore_ascii_case(b"GMT") {
        let plausible = !zone.is_empty()
            && zone
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-');
        if !plausible {
            return Err(bad(i));
        }
        repair(opts.leniency.non_gmt_date, ErrorKind::InvalidDate, i, diags)?;
    }
    let narrow = |x: u16| u8::try_from(x).unwrap_or(u8::MAX);
    Ok(SipDate {
        weekday,
        day: day8,
        month: month8,
        year: year16,
        hour: narrow(hour),
        minute: narrow(minute),
        second: narrow(second),
        zone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: ParseOptions = ParseOptions::STRICT;

    #[test]
    fn gmt_dates() {
        let mut d = Vec::new();
        let x = parse_date(b"Sat, 13 Nov 2010 23:29:00 GMT", &S, &mut d).unwrap();
        assert_eq!((x.weekday, x.day, x.month, x.year), (6, 13, 11, 2010));
        assert_eq!((x.hour, x.minute, x.second), (23, 29, 0));
        assert_eq!(x.unix_time(), Some(1_289_690_940));
        let x = parse_date(b" Thu, 01 Jan 1970 00:00:00 GMT ", &S, &mut d).unwrap();
        assert_eq!(x.unix_time(), Some(0));
        let x = parse_date(b"Sat, 15 Oct 2005 04:44:56 GMT", &S, &mut d).unwrap();
        assert!(x.is_gmt());
        assert_eq!(x.unix_time(), Some(1_129_351_496));
        assert!(parse_date(b"Tue, 29 Feb 2000 00:00:00 GMT", &S, &mut d).is_ok());
        assert!(d.is_empty());
    }

    #[test]
    fn baddate() {
        let v = b"Fri, 01 Jan 2010 16:00:00 EST";
        let mut d = Vec::new();
        assert_eq!(
            parse_date(v, &S, &mut d).unwrap_err(),
            Error::new(ErrorKind::InvalidDate, 26)
        );
        let x = parse_date(v, &ParseOptions::LIBERAL, &mut d).unwrap();
        assert_eq!(d, vec![Error::new(ErrorKind::InvalidDate, 26)]);
        assert_eq!(x.zone, b"EST");
        assert_eq!(x.unix_time(), Some(1_262_379_600));
        let x = parse_date(
            b"Fri, 01 Jan 2010 16:00:00 +0100",
            &ParseOptions::LIBERAL,
            &mut d,
        )
        .unwrap();
        assert_eq!(x.zone_offset_minutes(), Some(60));
        let x = parse_date(
            b"Fri, 01 Jan 2010 16:00:00 XYZ",
            &ParseOptions::LIBERAL,
            &mut d,
        )
        .unwrap();
        assert_eq!(x.unix_time(), None);
    }

    #[test]
    fn malformed() {
        let mut d = Vec::new();
        for s in [
            "",
            "Sat 13 Nov 2010 23:29:00 GMT",
            "Xyz, 13 Nov 2010 23:29:00 GMT",
            "Sat, 3 Nov 2010 23:29:00 GMT",
            "Sat, 13 Foo 2010 23:29:00 GMT",
            "Sat, 13 Nov 10 23:29:00 GMT",
            "Sat, 13 Nov 2010 24:29:00 GMT",
            "Sat, 13 Nov 2010 23:60:00 GMT",
            "Sat, 13 Nov 2010 23:29 GMT",
            "Sat, 13 Nov 2010 23:29:00",
            "Sat, 31 Apr 2010 23:29:00 GMT",
            "Sat, 29 Feb 2001 23:29:00 GMT",
            "Sat, 00 Feb 2001 23:29:00 GMT",
            "Sat, 13 Nov 2010 23:29:00GMT",
            "Sat, 13 Nov 2010 23:29:00 GMT x",
        ] {
            assert_eq!(
                parse_date(s.as_bytes(), &ParseOptions::LIBERAL, &mut d)
                    .unwrap_err()
                    .kind,
                ErrorKind::InvalidDate,
                "{s}"
            );
        }
    }
}
