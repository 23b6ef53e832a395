//! CSeq (RFC 3261 §20.16): `CSeq = "CSeq" HCOLON 1*DIGIT LWS Method`.

use super::{at, parse_bounded, sub, token_end, trimmed_end};
use crate::scan::{is_lws, skip_lws};
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

/// The largest sequence number: "MUST be less than 2**31" (RFC 3261 §8.1.1.5).
pub const MAX_SEQ: u32 = (1 << 31) - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CSeq<'a> {
    pub seq: u32,
    /// The method as written (case-sensitive, RFC 3261 §7.1).
    pub method: &'a [u8],
}

/// Parses a CSeq value. Not `1*DIGIT LWS token` is `InvalidCSeq`; a number of 2^31 or more is
/// `NumberOutOfRange` (clamped to 2^31-1 when `numbers_out_of_range` is allowed).
pub fn parse_cseq<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<CSeq<'a>> {
    let bad = |i| Error::new(ErrorKind::InvalidCSeq, i);
    let d0 = skip_lws(v, 0);
    let mut d1 = d0;
    while at(v, d1).is_some_and(|c| c.is_ascii_digit()) {
        d1 += 1;
    }
    if d1 == d0 || !at(v, d1).is_some_and(is_lws) {
        return Err(bad(d1));
    }
    let seq = parse_bounded(
        sub(v, d0, d1),
        d0,
        u64::from(MAX_SEQ),
        ErrorKind::InvalidCSeq,
        opts,
        diags,
    )?;
    let m0 = skip_lws(v, d1);
    let m1 = token_end(v, m0);
    if m1 == m0 || m1 != trimmed_end(v).max(m0) {
        return Err(bad(m1));
    }
    Ok(CSeq {
        seq: u32::try_from(seq).unwrap_or(MAX_SEQ),
        method: sub(v, m0, m1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<CSeq<'_>> {
        parse_cseq(s.as_bytes(), &ParseOptions::STRICT, &mut Vec::new())
    }

    #[test]
    fn valid() {
        assert_eq!(
            p("4711 INVITE").unwrap(),
            CSeq {
                seq: 4711,
                method: b"INVITE"
            }
        );
        assert_eq!(
            p(" 0009\r\n  INVITE ").unwrap(),
            CSeq {
                seq: 9,
                method: b"INVITE"
            }
        );
        assert_eq!(
            p("139122385 !interesting-Method0123456789_*+`.%indeed'~")
                .unwrap()
                .seq,
            139122385
        );
        assert_eq!(p("2147483647 ACK").unwrap().seq, MAX_SEQ);
        assert_eq!(p("29344 RE%47IST%45R").unwrap().method, b"RE%47IST%45R");
    }

    #[test]
    fn invalid() {
        assert_eq!(
            p("2147483648 ACK").unwrap_err(),
            Error::new(ErrorKind::NumberOutOfRange, 0)
        );
        assert_eq!(
            p("36893488147419103232 REGISTER").unwrap_err().kind,
            ErrorKind::NumberOutOfRange
        );
        for s in [
            "",
            "INVITE",
            "1",
            "1INVITE",
            "-1 INVITE",
            "1 INVITE x",
            "1 INV<ITE",
            "1 ",
        ] {
            assert_eq!(p(s).unwrap_err().kind, ErrorKind::InvalidCSeq, "{s:?}");
        }
        let mut d = Vec::new();
        let c = parse_cseq(
            b"9292394834772304023312 OPTIONS",
            &ParseOptions::LIBERAL,
            &mut d,
        )
        .unwrap();
        assert_eq!(c.seq, MAX_SEQ);
        assert_eq!(d, vec![Error::new(ErrorKind::NumberOutOfRange, 0)]);
    }
}
