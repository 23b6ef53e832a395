//! Replaces (RFC 3891 §6.1):
//! `Replaces = "Replaces" HCOLON callid *(SEMI replaces-param)`,
//! `replaces-param = to-tag / from-tag / early-flag / generic-param`.
//! §3: exactly one `to-tag` and one `from-tag`.

use super::params::{parse_params, ParamSyntax, Params};
use super::{shifted, sub, trimmed_end};
use crate::scan::{is_lws, is_word_char, skip_lws};
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Replaces<'a> {
    pub call_id: &'a [u8],
    pub params: Params<'a>,
}

impl<'a> Replaces<'a> {
    pub fn to_tag(&self) -> Option<&'a [u8]> {
        self.params.value(b"to-tag")
    }
    pub fn from_tag(&self) -> Option<&'a [u8]> {
        self.params.value(b"from-tag")
    }
    pub fn early_only(&self) -> bool {
        self.params.contains(b"early-only")
    }
}

/// Parses a Replaces value; a missing or valueless `to-tag` / `from-tag` is
/// `InvalidHeaderValue`.
pub fn parse_replaces<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<Replaces<'a>> {
    let c0 = skip_lws(v, 0);
    let mut c1 = c0;
    // callid = word [ "@" word ]; ';' is not a word character, so it ends the Call-ID.
    while super::at(v, c1).is_some_and(|b| (is_word_char(b) || b == b'@') && !is_lws(b)) {
        c1 += 1;
    }
    let call_id = sub(v, c0, c1);
    let mut d = Vec::new();
    super::call_id::parse_call_id(call_id, opts, &mut d).map_err(|e| e.shifted(c0))?;
    let praw = sub(v, c1, trimmed_end(v).max(c1));
    let params = shifted(c1, diags, |d| {
        parse_params(praw, ParamSyntax::Header, opts, d)
    })?;
    let r = Replaces { call_id, params };
    if r.to_tag().is_none() || r.from_tag().is_none() {
        return Err(Error::new(ErrorKind::InvalidHeaderValue, c1));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces() {
        let s = ParseOptions::STRICT;
        let mut d = Vec::new();
        let r = parse_replaces(
            b"98732@sip.example.com\r\n ;from-tag=r33th4x0r\r\n ;to-tag=ff87ff;early-only",
            &s,
            &mut d,
        )
        .unwrap();
        assert_eq!(r.call_id, b"98732@sip.example.com");
        assert_eq!(r.from_tag(), Some(&b"r33th4x0r"[..]));
        assert_eq!(r.to_tag(), Some(&b"ff87ff"[..]));
        assert!(r.early_only());
        assert!(parse_replaces(b"abc;to-tag=1", &s, &mut d).is_err());
        assert!(parse_replaces(b";to-tag=1;from-tag=2", &s, &mut d).is_err());
        assert!(parse_replaces(b"a b;to-tag=1;from-tag=2", &s, &mut d).is_err());
    }
}
