//! Comma-separated token lists: Allow (methods), Supported, Require, Proxy-Require,
//! Unsupported (option tags), Allow-Events (event types), Accept-Encoding, Content-Language...
//!
//! `Allow = "Allow" HCOLON [Method *(COMMA Method)]`, `Supported = ... [option-tag *(COMMA
//! option-tag)]` (RFC 3261 §20.5, §20.37). Lists may be empty.

use super::{repair, token_end};
use crate::scan::{is_lws, trim_lws, CommaSplit};
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

/// A validated token list; iterating yields each token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TokenList<'a> {
    raw: &'a [u8],
}

impl<'a> TokenList<'a> {
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }
    pub fn iter(&self) -> TokenIter<'a> {
        TokenIter {
            rest: self.raw,
            done: false,
        }
    }
    /// Whether `tok` is listed (exact match: methods and option tags are case-sensitive).
    pub fn contains(&self, tok: &[u8]) -> bool {
        self.iter().any(|t| t == tok)
    }
    /// Whether `tok` is listed, ignoring ASCII case.
    pub fn contains_ignore_case(&self, tok: &[u8]) -> bool {
        self.iter().any(|t| t.eq_ignore_ascii_case(tok))
    }
    pub fn len(&self) -> usize {
        self.iter().count()
    }
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl<'a> IntoIterator for TokenList<'a> {
    type Item = &'a [u8];
    type IntoIter = TokenIter<'a>;
    fn into_iter(self) -> TokenIter<'a> {
        self.iter()
    }
}

/// Iterator over a [`TokenList`]; empty elements (lenient parses) are skipped.
#[derive(Clone, Debug)]
pub struct TokenIter<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> Iterator for TokenIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.done {
                return None;
            }
            let (item, rest) = match memchr::memchr(b',', self.rest) {
                Some(p) => (
                    self.rest.get(..p).unwrap_or(&[]),
                    self.rest.get(p + 1..).unwrap_or(&[]),
                ),
                None => {
                    self.done = true;
                    (self.rest, &[][..])
                }
            };
            self.rest = rest;
            let t = trim_lws(item);
            if !t.is_empty() {
                return Some(t);
            }
        }
    }
}

/// Validates a comma-separated token list. An all-blank value is an empty list; an empty
/// element among others is `EmptyElement` (skipped when `empty_elements` is allowed); a
/// non-token is `InvalidHeaderValue`; more than `max_list_items` is `TooManyListItems`.
pub fn parse_token_list<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<TokenList<'a>> {
    if v.iter().all(|&b| is_lws(b)) {
        return Ok(TokenList { raw: v });
    }
    let mut n = 0usize;
    for item in CommaSplit::new(v) {
        let (off, t) = item.map_err(|(k, off)| Error::new(k, off))?;
        if t.is_empty() {
            repair(
                opts.leniency.empty_elements,
                ErrorKind::EmptyElement,
                off,
                diags,
            )?;
            continue;
        }
        n += 1;
        if n > usize::from(opts.limits.max_list_items) {
            return Err(Error::new(ErrorKind::TooManyListItems, off));
        }
        let e = token_end(t, 0);
        if e != t.len() {
            return Err(Error::new(ErrorKind::InvalidHeaderValue, off + e));
        }
    }
    Ok(TokenList { raw: v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        let s = ParseOptions::STRICT;
        let mut d = Vec::new();
        let l = parse_token_list(b"INVITE, ACK ,\r\n OPTIONS,CANCEL", &s, &mut d).unwrap();
        let v: Vec<_> = l.iter().collect();
        assert_eq!(v, vec![&b"INVITE"[..], b"ACK", b"OPTIONS", b"CANCEL"]);
        assert!(l.contains(b"ACK"));
        assert!(!l.contains(b"ack"));
        assert!(l.contains_ignore_case(b"ack"));
        let l = parse_token_list(b"  ", &s, &mut d).unwrap();
        assert!(l.is_empty());
        assert_eq!(
            parse_token_list(b"a,,b", &s, &mut d).unwrap_err(),
            Error::new(ErrorKind::EmptyElement, 2)
        );
        let l = parse_token_list(b"a,,b", &ParseOptions::LIBERAL, &mut d).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(
            parse_token_list(b"100rel, time r", &s, &mut d).unwrap_err(),
            Error::new(ErrorKind::InvalidHeaderValue, 12)
        );
        assert_eq!(
            parse_token_list(b"nothingpositive, totallywrong", &s, &mut d)
                .unwrap()
                .len(),
            2
        );
        let many = "a,".repeat(300);
        assert_eq!(
            parse_token_list(many.as_bytes(), &s, &mut d)
                .unwrap_err()
                .kind,
            ErrorKind::TooManyListItems
        );
    }
}
