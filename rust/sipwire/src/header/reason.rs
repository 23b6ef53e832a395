//! Reason (RFC 3326 §2):
//! `reason-value = protocol *(SEMI reason-params)`, `protocol = "SIP" / "Q.850" / token`,
//! `reason-params = protocol-cause / reason-text / reason-extension`,
//! `protocol-cause = "cause" EQUAL cause` (`1*DIGIT`), `reason-text = "text" EQUAL
//! quoted-string`.

use std::borrow::Cow;

use super::params::{parse_params, unquote, ParamSyntax, Params};
use super::{digits_saturating, offset_in, shifted, sub, token_end, trimmed_end, HeaderList};
use crate::scan::skip_lws;
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reason<'a> {
    /// `SIP`, `Q.850`, ... as written.
    pub protocol: &'a [u8],
    pub params: Params<'a>,
}

impl<'a> Reason<'a> {
    pub fn cause(&self) -> Option<u32> {
        let c = digits_saturating(self.params.value(b"cause")?, u64::from(u32::MAX))?;
        u32::try_from(c).ok()
    }
    /// The text, unquoted.
    pub fn text(&self) -> Option<Cow<'a, [u8]>> {
        self.params.value(b"text").map(unquote)
    }
}

/// Parses one reason-value. A `cause` that is not digits, or a `text` that is not a
/// quoted-string, is `InvalidHeaderValue`.
pub fn parse_reason<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<Reason<'a>> {
    let bad = |i| Error::new(ErrorKind::InvalidHeaderValue, i);
    let p0 = skip_lws(v, 0);
    let p1 = token_end(v, p0);
    if p1 == p0 {
        return Err(bad(p0));
    }
    let praw = sub(v, p1, trimmed_end(v).max(p1));
    let params = shifted(p1, diags, |d| {
        parse_params(praw, ParamSyntax::Header, opts, d)
    })?;
    if let Some(c) = params.get(b"cause") {
        match c {
            Some(c) if c.iter().all(u8::is_ascii_digit) => {}
            Some(c) => return Err(bad(offset_in(v, c))),
            None => return Err(bad(p1)),
        }
    }
    if let Some(t) = params.get(b"text") {
        match t {
            Some(t) if t.first() == Some(&b'"') => {}
            Some(t) => return Err(bad(offset_in(v, t))),
            None => return Err(bad(p1)),
        }
    }
    Ok(Reason {
        protocol: sub(v, p0, p1),
        params,
    })
}

/// The reason-values of one Reason header value.
pub type ReasonList<'a, 'o> = HeaderList<'a, 'o, Reason<'a>>;

pub fn parse_reason_list<'a, 'o>(
    value: &'a [u8],
    opts: &'o ParseOptions,
    diags: &'o mut Vec<Diagnostic>,
) -> ReasonList<'a, 'o> {
    HeaderList::new(value, parse_reason, opts, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons() {
        let s = ParseOptions::STRICT;
        let mut d = Vec::new();
        let r = parse_reason(
            b"SIP ;cause=200 ;text=\"Call completed elsewhere\"",
            &s,
            &mut d,
        )
        .unwrap();
        assert_eq!(r.protocol, b"SIP");
        assert_eq!(r.cause(), Some(200));
        assert_eq!(r.text().unwrap().as_ref(), b"Call completed elsewhere");
        let l: Vec<_> = parse_reason_list(b"Q.850;cause=16, SIP;cause=487", &s, &mut d)
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].protocol, b"Q.850");
        assert!(parse_reason(b"SIP;cause=x", &s, &mut d).is_err());
        assert!(parse_reason(b"SIP;text=plain", &s, &mut d).is_err());
        assert!(parse_reason(b"", &s, &mut d).is_err());
    }
}
