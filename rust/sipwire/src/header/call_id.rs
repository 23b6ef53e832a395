//! Call-ID (RFC 3261 §20.8): `callid = word [ "@" word ]`.

use super::{from, sub, trimmed_end};
use crate::scan::{is_word, skip_lws};
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

/// A Call-ID, compared byte for byte (RFC 3261 §20.8: case-sensitive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallId<'a> {
    raw: &'a [u8],
}

impl<'a> CallId<'a> {
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }
    /// The part before `@` (all of it when there is none).
    pub fn local(&self) -> &'a [u8] {
        match memchr::memchr(b'@', self.raw) {
            Some(p) => sub(self.raw, 0, p),
            None => self.raw,
        }
    }
    /// The part after `@`.
    pub fn host(&self) -> Option<&'a [u8]> {
        memchr::memchr(b'@', self.raw).map(|p| from(self.raw, p + 1))
    }
}

/// Parses a Call-ID value (LWS around it is dropped). Anything but `word [ "@" word ]` is
/// `InvalidHeaderValue`.
pub fn parse_call_id<'a>(
    v: &'a [u8],
    _opts: &ParseOptions,
    _diags: &mut Vec<Diagnostic>,
) -> Result<CallId<'a>> {
    let start = skip_lws(v, 0);
    let raw = sub(v, start, trimmed_end(v).max(start));
    let (local, host) = match memchr::memchr(b'@', raw) {
        Some(p) => (sub(raw, 0, p), Some((p + 1, from(raw, p + 1)))),
        None => (raw, None),
    };
    if !is_word(local) {
        let p = local.iter().position(|&b| !crate::scan::is_word_char(b));
        return Err(Error::new(
            ErrorKind::InvalidHeaderValue,
            start + p.unwrap_or(0),
        ));
    }
    if let Some((off, h)) = host {
        if !is_word(h) {
            let p = h.iter().position(|&b| !crate::scan::is_word_char(b));
            return Err(Error::new(
                ErrorKind::InvalidHeaderValue,
                start + off + p.unwrap_or(0),
            ));
        }
    }
    Ok(CallId { raw })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<CallId<'_>> {
        parse_call_id(s.as_bytes(), &ParseOptions::STRICT, &mut Vec::new())
    }

    #[test]
    fn call_ids() {
        let c = p(" a84b4c76e66710@pc33.atlanta.com ").unwrap();
        assert_eq!(c.as_bytes(), b"a84b4c76e66710@pc33.atlanta.com");
        assert_eq!(c.local(), b"a84b4c76e66710");
        assert_eq!(c.host(), Some(&b"pc33.atlanta.com"[..]));
        let c = p("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").unwrap();
        assert_eq!(c.host(), Some(&b"word`~)(><:\\/\"][?}{"[..]));
        assert_eq!(p("abc").unwrap().host(), None);
        assert_eq!(
            p("a b").unwrap_err(),
            Error::new(ErrorKind::InvalidHeaderValue, 1)
        );
        assert_eq!(
            p("a@b@c").unwrap_err(),
            Error::new(ErrorKind::InvalidHeaderValue, 3)
        );
        assert!(p("").is_err());
        assert!(p("a@").is_err());
    }
}
