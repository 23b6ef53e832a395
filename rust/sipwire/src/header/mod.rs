//! Typed header views (RFC 3261 §20 and the extensions SIP stacks meet every day).
//!
//! Every parser takes one header *value* (the bytes after `HCOLON`, possibly folded: a fold
//! `CRLF 1*WSP` counts as whitespace) and returns a view that borrows it. Nothing is copied
//! and nothing is collected: parameter lists and comma lists are walked lazily when read.
//!
//! Each `parse_*` takes `&ParseOptions` and `&mut Vec<Diagnostic>`. In strict mode a deviation
//! is an [`Error`]; when the matching [`Leniency`](crate::Leniency) flag is on,
//! the parser repairs, records a diagnostic and goes on. Offsets in errors and diagnostics are
//! relative to the value handed to the parser; list iterators report them relative to the
//! whole header value.

pub mod auth;
pub mod call_id;
pub mod content_type;
pub mod cseq;
pub mod date;
pub mod event;
pub mod name_addr;
pub mod numeric;
pub mod params;
pub mod reason;
pub mod replaces;
pub mod shortcut;
pub mod tokens;
pub mod via;

pub use auth::{
    parse_authentication_info, parse_challenge, parse_credentials, AuthParams, AuthValue,
    AuthenticationInfo, Challenge, Credentials,
};
pub use call_id::{parse_call_id, CallId};
pub use content_type::{parse_content_type, MediaType};
pub use cseq::{parse_cseq, CSeq};
pub use date::{parse_date, SipDate};
pub use event::{parse_event, parse_subscription_state, Event, SubscriptionState};
pub use name_addr::{
    parse_contact, parse_contact_list, parse_name_addr, parse_name_addr_list, Contact, ContactList,
    NameAddr, NameAddrList,
};
pub use numeric::{
    parse_content_length, parse_expires, parse_max_forwards, parse_min_expires, parse_min_se,
    parse_rack, parse_retry_after, parse_rseq, parse_session_expires, MinSe, RAck, Refresher,
    RetryAfter, SessionExpires,
};
pub use params::{parse_params, unquote, ParamIter, ParamSyntax, Params};
pub use reason::{parse_reason, parse_reason_list, Reason, ReasonList};
pub use replaces::{parse_replaces, Replaces};
pub use shortcut::{addr_fast, tag_fast, top_branch_fast, via_fast, AddrFast, ViaFast};
pub use tokens::{parse_token_list, TokenList};
pub use via::{parse_via, parse_via_list, Via, ViaList};

use crate::scan::{self, CommaSplit};
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

// ---------------------------------------------------------------------------------------------
// Small shared helpers (kept here rather than in scan.rs, which belongs to the framing layer).

/// The byte at `i`, if any.
#[inline]
pub(crate) fn at(s: &[u8], i: usize) -> Option<u8> {
    s.get(i).copied()
}

/// `s[a..b]`, empty when out of range.
#[inline]
pub(crate) fn sub(s: &[u8], a: usize, b: usize) -> &[u8] {
    s.get(a..b).unwrap_or(&[])
}

/// `s[a..]`, empty when out of range.
#[inline]
pub(crate) fn from(s: &[u8], a: usize) -> &[u8] {
    s.get(a..).unwrap_or(&[])
}

/// Offset of `inner` inside `outer` (both from the same buffer; 0 if `inner` lies elsewhere,
/// so a mistake yields a wrong offset, never an overflow).
#[inline]
pub(crate) fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    let o = (inner.as_ptr() as usize).wrapping_sub(outer.as_ptr() as usize);
    if o <= outer.len() {
        o
    } else {
        0
    }
}

/// End of the run of token characters starting at `i`.
#[inline]
pub(crate) fn token_end(s: &[u8], mut i: usize) -> usize {
    while at(s, i).is_some_and(scan::is_token_char) {
        i += 1;
    }
    i
}

/// Index of the last non-LWS byte plus one (0 when all LWS).
#[inline]
pub(crate) fn trimmed_end(s: &[u8]) -> usize {
    s.iter()
        .rposition(|&b| !scan::is_lws(b))
        .map_or(0, |p| p + 1)
}

/// A deviation: recorded as a diagnostic when the matching leniency flag `allowed` is on,
/// an error otherwise.
#[inline]
pub(crate) fn repair(
    allowed: bool,
    kind: ErrorKind,
    offset: usize,
    diags: &mut Vec<Diagnostic>,
) -> Result<()> {
    if allowed {
        diags.push(Error::new(kind, offset));
        Ok(())
    } else {
        Err(Error::new(kind, offset))
    }
}

/// Moves the diagnostics pushed since `mark` by `base` (a sub-parser reports relative offsets).
#[inline(always)]
pub(crate) fn shift_diags(diags: &mut [Diagnostic], mark: usize, base: usize) {
    if diags.len() == mark {
        return;
    }
    if let Some(new) = diags.get_mut(mark..) {
        for d in new {
            *d = d.shifted(base);
        }
    }
}

/// Runs a sub-parser on `s[base..]`-relative input and moves its errors and diagnostics by
/// `base`.
#[inline(always)]
pub(crate) fn shifted<T>(
    base: usize,
    diags: &mut Vec<Diagnostic>,
    f: impl FnOnce(&mut Vec<Diagnostic>) -> Result<T>,
) -> Result<T> {
    let mark = diags.len();
    let r = f(diags);
    shift_diags(diags, mark, base);
    r.map_err(|e| e.shifted(base))
}

/// `1*DIGIT` as a number bounded by `max`. Non-digits are `bad`; a value past `max` is
/// `NumberOutOfRange`, clamped to `max` when `numbers_out_of_range` is allowed. Linear in the
/// input whatever its length (saturating arithmetic, no big numbers).
#[inline]
pub(crate) fn parse_bounded(
    s: &[u8],
    offset: usize,
    max: u64,
    bad: ErrorKind,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<u64> {
    let Some(v) = digits_saturating(s, u64::MAX) else {
        return Err(Error::new(bad, offset));
    };
    if v > max {
        repair(
            opts.leniency.numbers_out_of_range,
            ErrorKind::NumberOutOfRange,
            offset,
            diags,
        )?;
        return Ok(max);
    }
    Ok(v)
}

/// `1*DIGIT` saturating at `max` (for accessors of values already checked at parse time).
#[inline]
pub(crate) fn digits_saturating(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v = 0u64;
    for &d in s {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.saturating_mul(10).saturating_add(u64::from(d - b'0'));
    }
    Some(v.min(max))
}

/// End of a comment opened at `open` (RFC 3261 §25.1: `comment = LPAREN *(ctext /
/// quoted-pair / comment) RPAREN`), nested at most `max_depth` deep. Linear in the input.
pub(crate) fn end_of_comment(s: &[u8], open: usize, max_depth: u8) -> Result<usize> {
    let mut depth = 0u32;
    let mut i = open;
    while let Some(b) = at(s, i) {
        match b {
            b'(' => {
                depth += 1;
                if depth > u32::from(max_depth) {
                    return Err(Error::new(ErrorKind::NestingTooDeep, i));
                }
            }
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            b'\\' => {
                if i + 1 >= s.len() {
                    return Err(Error::new(ErrorKind::TrailingBackslash, i));
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    Err(Error::new(ErrorKind::InvalidHeaderValue, open))
}

/// An item parser for [`HeaderList`].
pub type ItemParser<'a, T> = fn(&'a [u8], &ParseOptions, &mut Vec<Diagnostic>) -> Result<T>;

/// The comma-separated elements of one header value (RFC 3261 §7.3.1), parsed one at a time.
/// Items are `Result`s with offsets relative to the header value. An empty element (`,,`) is
/// `EmptyElement` (skipped with a diagnostic when `empty_elements` is allowed); more than
/// `max_list_items` elements end the walk with `TooManyListItems`; an unbalanced quote or `<`
/// ends it with that error.
pub struct HeaderList<'a, 'o, T> {
    split: CommaSplit<'a>,
    opts: &'o ParseOptions,
    diags: &'o mut Vec<Diagnostic>,
    parse: ItemParser<'a, T>,
    count: usize,
    last: usize,
    done: bool,
}

impl<'a, 'o, T> HeaderList<'a, 'o, T> {
    /// Offset in the header value of the element last returned.
    pub fn last_offset(&self) -> usize {
        self.last
    }

    pub fn new(
        value: &'a [u8],
        parse: ItemParser<'a, T>,
        opts: &'o ParseOptions,
        diags: &'o mut Vec<Diagnostic>,
    ) -> Self {
        HeaderList {
            split: CommaSplit::new(value),
            opts,
            diags,
            parse,
            count: 0,
            last: 0,
            done: false,
        }
    }
}

impl<'a, T> Iterator for HeaderList<'a, '_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        loop {
            if self.done {
                return None;
            }
            let (off, item) = match self.split.next()? {
                Ok(x) => x,
                Err((kind, off)) => {
                    self.done = true;
                    return Some(Err(Error::new(kind, off)));
                }
            };
            // An element holding nothing but `;` is as empty as `,,` (badinv01's `;,`).
            if item.iter().all(|&b| b == b';' || scan::is_lws(b)) {
                if self.opts.leniency.empty_elements {
                    self.diags.push(Error::new(ErrorKind::EmptyElement, off));
                    continue;
                }
                return Some(Err(Error::new(ErrorKind::EmptyElement, off)));
            }
            self.count += 1;
            if self.count > usize::from(self.opts.limits.max_list_items) {
                self.done = true;
                return Some(Err(Error::new(ErrorKind::TooManyListItems, off)));
            }
            self.last = off;
            let parse = self.parse;
            let opts = self.opts;
            return Some(shifted(off, self.diags, |d| parse(item, opts, d)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_nest_with_a_limit() {
        assert_eq!(end_of_comment(b"(a (b) c) x", 0, 32), Ok(9));
        assert_eq!(end_of_comment(b"(a \\) b)", 0, 32), Ok(8));
        let deep = [b'('; 40];
        assert_eq!(
            end_of_comment(&deep, 0, 32).unwrap_err().kind,
            ErrorKind::NestingTooDeep
        );
        assert_eq!(
            end_of_comment(b"(abc", 0, 32).unwrap_err().kind,
            ErrorKind::InvalidHeaderValue
        );
    }

    #[test]
    fn bounded_numbers() {
        let mut d = Vec::new();
        let s = ParseOptions::STRICT;
        let l = ParseOptions::LIBERAL;
        assert_eq!(
            parse_bounded(b"0068", 0, 255, ErrorKind::InvalidHeaderValue, &s, &mut d),
            Ok(68)
        );
        let big = [b'9'; 200];
        assert_eq!(
            parse_bounded(&big, 3, 255, ErrorKind::InvalidHeaderValue, &s, &mut d)
                .unwrap_err()
                .kind,
            ErrorKind::NumberOutOfRange
        );
        assert_eq!(
            parse_bounded(&big, 3, 255, ErrorKind::InvalidHeaderValue, &l, &mut d),
            Ok(255)
        );
        assert_eq!(d, vec![Error::new(ErrorKind::NumberOutOfRange, 3)]);
        assert!(parse_bounded(b"-1", 0, 255, ErrorKind::InvalidCSeq, &l, &mut d).is_err());
    }
}
