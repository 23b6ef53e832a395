//! Headers whose value is a number, possibly with parameters: Max-Forwards, Content-Length,
//! Expires, Min-Expires (RFC 3261 §20.22, §20.14, §20.19, §20.23), RSeq and RAck (RFC 3262
//! §7), Session-Expires and Min-SE (RFC 4028 §4, §5), Retry-After (RFC 3261 §20.33).
//!
//! Numbers past their range are `NumberOutOfRange`, clamped when `numbers_out_of_range` is
//! allowed, except Content-Length, which frames the message and is never guessed.

use super::params::{parse_params, ParamSyntax, Params};
use super::{at, digits_saturating, parse_bounded, shifted, sub, token_end, trimmed_end};
use crate::scan::{is_lws, skip_lws};
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

/// The leading `1*DIGIT` of `v` after LWS: (start, end).
fn digits_at(v: &[u8], from: usize) -> (usize, usize) {
    let d0 = skip_lws(v, from);
    let mut d1 = d0;
    while at(v, d1).is_some_and(|c| c.is_ascii_digit()) {
        d1 += 1;
    }
    (d0, d1)
}

/// A value that is only `1*DIGIT` (LWS around), at most `max`.
fn whole_number(
    v: &[u8],
    max: u64,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<u64> {
    let (d0, d1) = digits_at(v, 0);
    let end = trimmed_end(v).max(d0);
    if d1 != end || d1 == d0 {
        return Err(Error::new(ErrorKind::InvalidHeaderValue, d1));
    }
    parse_bounded(
        sub(v, d0, d1),
        d0,
        max,
        ErrorKind::InvalidHeaderValue,
        opts,
        diags,
    )
}

fn to_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `Max-Forwards = "Max-Forwards" HCOLON 1*DIGIT`, 0-255 (leading zeros allowed: `0068`).
pub fn parse_max_forwards(
    v: &[u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<u8> {
    let n = whole_number(v, 255, opts, diags)?;
    Ok(u8::try_from(n).unwrap_or(u8::MAX))
}

/// `Content-Length = ( "Content-Length" / "l" ) HCOLON 1*DIGIT`, at most 2^32-1. Out of
/// range is always an error.
pub fn parse_content_length(
    v: &[u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<u32> {
    let strict = ParseOptions {
        limits: opts.limits,
        leniency: crate::Leniency::STRICT,
    };
    whole_number(v, u64::from(u32::MAX), &strict, diags).map(to_u32)
}

/// `Expires = "Expires" HCOLON delta-seconds`, below 2^32 (RFC 3261 §20.19).
pub fn parse_expires(v: &[u8], opts: &ParseOptions, diags: &mut Vec<Diagnostic>) -> Result<u32> {
    whole_number(v, u64::from(u32::MAX), opts, diags).map(to_u32)
}

/// `Min-Expires = "Min-Expires" HCOLON delta-seconds`.
pub fn parse_min_expires(
    v: &[u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<u32> {
    parse_expires(v, opts, diags)
}

/// The largest RSeq / RAck response number: 2^31-1 (RFC 3262 §3).
pub const MAX_RSEQ: u32 = (1 << 31) - 1;

/// `RSeq = "RSeq" HCOLON response-num` (RFC 3262 §7.1), 1 to 2^31-1.
pub fn parse_rseq(v: &[u8], opts: &ParseOptions, diags: &mut Vec<Diagnostic>) -> Result<u32> {
    whole_number(v, u64::from(MAX_RSEQ), opts, diags).map(to_u32)
}

/// `RAck = "RAck" HCOLON response-num LWS CSeq-num LWS Method` (RFC 3262 §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RAck<'a> {
    pub rseq: u32,
    pub cseq: u32,
    pub method: &'a [u8],
}

pub fn parse_rack<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<RAck<'a>> {
    let bad = |i| Error::new(ErrorKind::InvalidHeaderValue, i);
    let mut nums = [0u32; 2];
    let mut i = 0;
    for (k, n) in nums.iter_mut().enumerate() {
        let (d0, d1) = digits_at(v, i);
        if d1 == d0 || !at(v, d1).is_some_and(is_lws) {
            return Err(bad(d1));
        }
        let max = if k == 0 {
            MAX_RSEQ
        } else {
            super::cseq::MAX_SEQ
        };
        *n = to_u32(parse_bounded(
            sub(v, d0, d1),
            d0,
            u64::from(max),
            ErrorKind::InvalidHeaderValue,
            opts,
            diags,
        )?);
        i = d1;
    }
    let m0 = skip_lws(v, i);
    let m1 = token_end(v, m0);
    if m1 == m0 || m1 != trimmed_end(v).max(m0) {
        return Err(bad(m1));
    }
    Ok(RAck {
        rseq: nums[0],
        cseq: nums[1],
        method: sub(v, m0, m1),
    })
}

/// `delta-seconds *( SEMI param )`: the number, and where the parameters start.
fn number_then(v: &[u8], opts: &ParseOptions, diags: &mut Vec<Diagnostic>) -> Result<(u32, usize)> {
    let (d0, d1) = digits_at(v, 0);
    if d1 == d0 {
        return Err(Error::new(ErrorKind::InvalidHeaderValue, d0));
    }
    let n = parse_bounded(
        sub(v, d0, d1),
        d0,
        u64::from(u32::MAX),
        ErrorKind::InvalidHeaderValue,
        opts,
        diags,
    )?;
    Ok((to_u32(n), d1))
}

fn params_from<'a>(
    v: &'a [u8],
    i: usize,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<Params<'a>> {
    let raw = sub(v, i, trimmed_end(v).max(i));
    shifted(i, diags, |d| {
        parse_params(raw, ParamSyntax::Header, opts, d)
    })
}

/// Who refreshes a session (RFC 4028 §4 `refresher-param`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refresher {
    Uac,
    Uas,
}

/// `Session-Expires = ("Session-Expires" / "x") HCOLON delta-seconds *(SEMI se-params)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionExpires<'a> {
    pub delta: u32,
    pub params: Params<'a>,
}

impl SessionExpires<'_> {
    pub fn refresher(&self) -> Option<Refresher> {
        let r = self.params.value(b"refresher")?;
        if r.eq_ignore_ascii_case(b"uac") {
            Some(Refresher::Uac)
        } else if r.eq_ignore_ascii_case(b"uas") {
            Some(Refresher::Uas)
        } else {
            None
        }
    }
}

/// Parses Session-Expires; a `refresher` other than `uac` / `uas` is `InvalidHeaderValue`.
pub fn parse_session_expires<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<SessionExpires<'a>> {
    let (delta, i) = number_then(v, opts, diags)?;
    let params = params_from(v, i, opts, diags)?;
    let se = SessionExpires { delta, params };
    if let Some(r) = params.get(b"refresher") {
        if se.refresher().is_none() {
            let at_ = r.map_or(i, |r| super::offset_in(v, r));
            return Err(Error::new(ErrorKind::InvalidHeaderValue, at_));
        }
    }
    Ok(se)
}

/// `Min-SE = "Min-SE" HCOLON delta-seconds *(SEMI generic-param)` (RFC 4028 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MinSe<'a> {
    pub delta: u32,
    pub params: Params<'a>,
}

pub fn parse_min_se<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<MinSe<'a>> {
    let (delta, i) = number_then(v, opts, diags)?;
    let params = params_from(v, i, opts, diags)?;
    Ok(MinSe { delta, params })
}

/// `Retry-After = "Retry-After" HCOLON delta-seconds [ comment ] *( SEMI retry-param )`,
/// `retry-param = ("duration" EQUAL delta-seconds) / generic-param` (RFC 3261 §20.33).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RetryAfter<'a> {
    pub delta: u32,
    /// The comment without its outer parentheses, as written.
    pub comment: Option<&'a [u8]>,
    pub params: Params<'a>,
}

impl RetryAfter<'_> {
    /// `duration` in seconds.
    pub fn duration(&self) -> Option<u32> {
        digits_saturating(self.params.value(b"duration")?, u64::from(u32::MAX)).map(to_u32)
    }
}

/// Parses Retry-After. Comments nest at most `max_nesting` deep (`NestingTooDeep`).
pub fn parse_retry_after<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<RetryAfter<'a>> {
    let (delta, mut i) = number_then(v, opts, diags)?;
    let mut comment = None;
    let c0 = skip_lws(v, i);
    if at(v, c0) == Some(b'(') {
        let c1 = super::end_of_comment(v, c0, opts.limits.max_nesting)?;
        comment = Some(sub(v, c0 + 1, c1.saturating_sub(1)));
        i = c1;
    }
    let params = params_from(v, i, opts, diags)?;
    if let Some(d) = params.get(b"duration") {
        let d = d.ok_or(Error::new(ErrorKind::InvalidHeaderValue, i))?;
        let off = super::offset_in(v, d);
        parse_bounded(
            d,
            off,
            u64::from(u32::MAX),
            ErrorKind::InvalidHeaderValue,
            opts,
            diags,
        )?;
    }
    Ok(RetryAfter {
        delta,
        comment,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: ParseOptions = ParseOptions::STRICT;
    const L: ParseOptions = ParseOptions::LIBERAL;

    #[test]
    fn scalars() {
        let mut d = Vec::new();
        assert_eq!(parse_max_forwards(b" 0068 ", &S, &mut d), Ok(68));
        assert_eq!(parse_max_forwards(b"255", &S, &mut d), Ok(255));
        assert_eq!(
            parse_max_forwards(b"300", &S, &mut d).unwrap_err(),
            Error::new(ErrorKind::NumberOutOfRange, 0)
        );
        assert_eq!(parse_max_forwards(b"300", &L, &mut d), Ok(255));
        assert_eq!(
            parse_max_forwards(b"7 0", &S, &mut d).unwrap_err().kind,
            ErrorKind::InvalidHeaderValue
        );
        assert_eq!(
            parse_max_forwards(b"", &S, &mut d).unwrap_err().kind,
            ErrorKind::InvalidHeaderValue
        );
        assert_eq!(
            parse_max_forwards(b"-1", &S, &mut d).unwrap_err().kind,
            ErrorKind::InvalidHeaderValue
        );
        let huge = format!("1{}", "0".repeat(100));
        assert_eq!(
            parse_expires(huge.as_bytes(), &S, &mut d).unwrap_err().kind,
            ErrorKind::NumberOutOfRange
        );
        assert_eq!(parse_expires(huge.as_bytes(), &L, &mut d), Ok(u32::MAX));
        assert_eq!(parse_expires(b"4294967295", &S, &mut d), Ok(u32::MAX));
        assert_eq!(
            parse_expires(b"4294967296", &S, &mut d).unwrap_err().kind,
            ErrorKind::NumberOutOfRange
        );
        assert_eq!(parse_min_expires(b"60", &S, &mut d), Ok(60));
        assert_eq!(parse_content_length(b"150", &S, &mut d), Ok(150));
        assert_eq!(
            parse_content_length(b"4294967296", &L, &mut d)
                .unwrap_err()
                .kind,
            ErrorKind::NumberOutOfRange
        );
        assert_eq!(
            parse_content_length(b"+1", &L, &mut d).unwrap_err().kind,
            ErrorKind::InvalidHeaderValue
        );
        assert_eq!(parse_rseq(b"988789", &S, &mut d), Ok(988789));
        assert_eq!(
            parse_rseq(b"2147483648", &S, &mut d).unwrap_err().kind,
            ErrorKind::NumberOutOfRange
        );
    }

    #[test]
    fn rack() {
        let mut d = Vec::new();
        assert_eq!(
            parse_rack(b"776656 1 INVITE", &S, &mut d),
            Ok(RAck {
                rseq: 776656,
                cseq: 1,
                method: b"INVITE"
            })
        );
        assert!(parse_rack(b"776656 INVITE", &S, &mut d).is_err());
        assert!(parse_rack(b"1 2 INVITE x", &S, &mut d).is_err());
    }

    #[test]
    fn session_timers() {
        let mut d = Vec::new();
        let se = parse_session_expires(b"4000;refresher=uac", &S, &mut d).unwrap();
        assert_eq!(se.delta, 4000);
        assert_eq!(se.refresher(), Some(Refresher::Uac));
        assert_eq!(
            parse_session_expires(b"1800", &S, &mut d)
                .unwrap()
                .refresher(),
            None
        );
        assert_eq!(
            parse_session_expires(b"1800;refresher=x", &S, &mut d).unwrap_err(),
            Error::new(ErrorKind::InvalidHeaderValue, 15)
        );
        let m = parse_min_se(b"90;lr", &S, &mut d).unwrap();
        assert_eq!(m.delta, 90);
        assert!(m.params.contains(b"lr"));
    }

    #[test]
    fn retry_after() {
        let mut d = Vec::new();
        let r = parse_retry_after(b"18000;duration=3600", &S, &mut d).unwrap();
        assert_eq!(r.delta, 18000);
        assert_eq!(r.duration(), Some(3600));
        let r = parse_retry_after(b"120 (I'm in a (meeting))", &S, &mut d).unwrap();
        assert_eq!(r.comment, Some(&b"I'm in a (meeting)"[..]));
        assert_eq!(
            parse_retry_after(b"949302838503028349304023988", &S, &mut d)
                .unwrap_err()
                .kind,
            ErrorKind::NumberOutOfRange
        );
        let deep = format!("5 {}", "(".repeat(100));
        assert_eq!(
            parse_retry_after(deep.as_bytes(), &S, &mut d)
                .unwrap_err()
                .kind,
            ErrorKind::NestingTooDeep
        );
        assert!(parse_retry_after(b"5 (open", &S, &mut d).is_err());
        assert!(parse_retry_after(b"5;duration=x", &S, &mut d).is_err());
        assert!(parse_retry_after(b"5 x", &S, &mut d).is_err());
    }
}
