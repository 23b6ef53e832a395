//! Parameter lists: `*( SEMI param )` after a header element (RFC 3261 §7.3.1, `generic-param`)
//! and `*( ";" uri-parameter )` inside a SIP URI (RFC 3261 §19.1.1).
//!
//! [`Params`] keeps the raw `;...` text and walks it on demand: no list is built. Validation
//! happens once, in [`parse_params`]; the walk itself never fails and always moves forward,
//! whatever bytes it is given.

use std::borrow::Cow;

use super::{at, repair, sub};
use crate::scan::{end_of_quoted, skip_lws};
use crate::uri::{
    eq_decoded, escape_ok, is, DQUOTE, GEN_VALUE, PARAM, PNAME_END, PVALUE_END, TOKEN,
};
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

/// Which grammar a parameter list follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamSyntax {
    /// Header parameters: `SEMI = SWS ";" SWS`, `EQUAL = SWS "=" SWS`, values are token, host or
    /// quoted-string (RFC 3261 §25.1 `generic-param`).
    Header,
    /// URI parameters: no whitespace, no quotes, `%`-escapes (RFC 3261 §19.1.1).
    Uri,
}

/// A lazily walked parameter list. Yields `(name, value)` with names and values trimmed of LWS;
/// quoted values keep their quotes (see [`unquote`]). Empty elements (`;;`, allowed only in
/// lenient mode) are skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Params<'a> {
    raw: &'a [u8],
    syntax: ParamSyntax,
}

impl<'a> Params<'a> {
    /// No parameters.
    pub const fn empty(syntax: ParamSyntax) -> Self {
        Params { raw: &[], syntax }
    }

    /// A view on `raw` without validation (use [`parse_params`] for untrusted input).
    pub const fn from_raw(raw: &'a [u8], syntax: ParamSyntax) -> Self {
        Params { raw, syntax }
    }

    /// The raw text, starting at the first `;` (or LWS before it), as in the input.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    pub fn syntax(&self) -> ParamSyntax {
        self.syntax
    }

    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter {
            raw: self.raw,
            pos: 0,
            syntax: self.syntax,
        }
    }

    /// The first parameter called `name` (ASCII case-insensitive; in URIs, `%`-escapes in the
    /// name are decoded first): `Some(None)` when present without a value.
    pub fn get(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        let uri = self.syntax == ParamSyntax::Uri;
        self.iter()
            .find(|(n, _)| {
                if uri && n.contains(&b'%') {
                    eq_decoded(n, name, true)
                } else {
                    n.eq_ignore_ascii_case(name)
                }
            })
            .map(|(_, v)| v)
    }

    /// The value of `name`, `None` when absent or valueless.
    pub fn value(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.get(name).flatten()
    }

    /// Whether `name` is present (with or without a value).
    pub fn contains(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// Number of (non-empty) parameters.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl<'a> IntoIterator for Params<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);
    type IntoIter = ParamIter<'a>;
    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Params<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);
    type IntoIter = ParamIter<'a>;
    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

/// Iterator over a [`Params`].
#[derive(Clone, Debug)]
pub struct ParamIter<'a> {
    raw: &'a [u8],
    pos: usize,
    syntax: ParamSyntax,
}

/// Index of the next `;` at or after `i` (quote-aware in header syntax), or the end.
fn next_semi(s: &[u8], mut i: usize, header: bool) -> usize {
    while let Some(b) = at(s, i) {
        match b {
            b';' => return i,
            b'"' if header => i = end_of_quoted(s, i).unwrap_or(s.len()),
            _ => i += 1,
        }
    }
    s.len()
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.raw;
        let header = self.syntax == ParamSyntax::Header;
        loop {
            let mut i = skip_lws(s, self.pos);
            let b = at(s, i)?;
            if b != b';' {
                // Bytes that are not a parameter (only in unvalidated views): skip them.
                self.pos = next_semi(s, i + 1, header);
                continue;
            }
            i = skip_lws(s, i + 1);
            let name_start = i;
            // The name ends at `;` `=` LWS, and at a quote in headers.
            let name_end = if header {
                PNAME_END | DQUOTE
            } else {
                PNAME_END
            };
            while at(s, i).is_some_and(|c| !is(c, name_end)) {
                i += 1;
            }
            let name = sub(s, name_start, i);
            let j = skip_lws(s, i);
            let value = if at(s, j) == Some(b'=') {
                let v0 = skip_lws(s, j + 1);
                let v1 = if header && at(s, v0) == Some(b'"') {
                    end_of_quoted(s, v0).unwrap_or(s.len())
                } else {
                    // An unquoted value ends at `;`, and at LWS in headers.
                    let value_end = if header { PVALUE_END } else { 0 };
                    let mut k = v0;
                    while at(s, k).is_some_and(|c| c != b';' && !is(c, value_end)) {
                        k += 1;
                    }
                    k
                };
                self.pos = v1;
                Some(sub(s, v0, v1))
            } else {
                self.pos = i;
                None
            };
            if name.is_empty() && value.is_none() {
                continue;
            }
            return Some((name, value));
        }
    }
}

/// End of a run of `paramchar` (RFC 3261 §19.1.1) from `i`, checking escapes.
#[inline]
fn paramchar_end(s: &[u8], mut i: usize) -> Result<usize> {
    while let Some(c) = at(s, i) {
        if is(c, PARAM) {
            i += 1;
        } else if c == b'%' {
            if !escape_ok(s, i) {
                return Err(Error::new(ErrorKind::InvalidEscape, i));
            }
            i += 3;
        } else {
            break;
        }
    }
    Ok(i)
}

/// End of the run of bytes in `class` from `i`.
#[inline]
fn run_end(s: &[u8], mut i: usize, class: u16) -> usize {
    while at(s, i).is_some_and(|c| is(c, class)) {
        i += 1;
    }
    i
}

/// Validates a parameter list and returns its view. `s` is everything after the element the
/// parameters belong to: optional LWS (header syntax), then `;name[=value]` repeated.
///
/// Header syntax: `generic-param = token [ EQUAL gen-value ]` (RFC 3261 §25.1).
/// URI syntax: `uri-parameter = pname [ "=" pvalue ]`, `pname = 1*paramchar`,
/// `pvalue = 1*paramchar` (RFC 3261 §19.1.1 / §25.1).
///
/// Errors: `EmptyElement` for `;;` or a trailing `;` (skipped when `empty_elements` is
/// allowed), `TooManyParams` past `max_params`, `UnterminatedQuote` / `TrailingBackslash` in a
/// quoted value, `InvalidEscape`, and `InvalidHeaderValue` (`InvalidUri` in URI syntax) for
/// anything else.
pub fn parse_params<'a>(
    s: &'a [u8],
    syntax: ParamSyntax,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<Params<'a>> {
    walk_params(s, syntax, opts, diags, |_, _| true).map(|(p, _)| p)
}

/// [`parse_params`] that also hands each parameter to `check` as the iterator would yield it
/// (`(name, value)`, empty elements left out), in order. Returns whether every call returned
/// true; a false leaves the verdict to the caller's full check, run after this walk.
#[inline]
pub(crate) fn walk_params<'a>(
    s: &'a [u8],
    syntax: ParamSyntax,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
    mut check: impl FnMut(&'a [u8], Option<&'a [u8]>) -> bool,
) -> Result<(Params<'a>, bool)> {
    let header = syntax == ParamSyntax::Header;
    let bad = if header {
        ErrorKind::InvalidHeaderValue
    } else {
        ErrorKind::InvalidUri
    };
    // SEMI = SWS ";" SWS, EQUAL = SWS "=" SWS in headers; no LWS at all in URIs.
    let lws = |i: usize| if header { skip_lws(s, i) } else { i };
    let max = usize::from(opts.limits.max_params);
    let mut count = 0usize;
    let mut clean = true;
    let mut i = 0;
    loop {
        i = lws(i);
        let Some(b) = at(s, i) else { break };
        if b != b';' {
            return Err(Error::new(bad, i));
        }
        let semi = i;
        i = lws(i + 1);
        let name_start = i;
        i = if header {
            run_end(s, i, TOKEN)
        } else {
            paramchar_end(s, i)?
        };
        let name_end = i;
        let j = lws(i);
        let has_eq = at(s, j) == Some(b'=');
        if name_start == name_end {
            if has_eq || !matches!(at(s, j), None | Some(b';')) {
                return Err(Error::new(bad, j));
            }
            repair(
                opts.leniency.empty_elements,
                ErrorKind::EmptyElement,
                semi,
                diags,
            )?;
            i = j;
            continue;
        }
        count += 1;
        if count > max {
            return Err(Error::new(ErrorKind::TooManyParams, semi));
        }
        let name = sub(s, name_start, name_end);
        if !has_eq {
            clean &= check(name, None);
            i = j;
            continue;
        }
        let v0 = lws(j + 1);
        let v1 = if header {
            if at(s, v0) == Some(b'"') {
                end_of_quoted(s, v0).map_err(|k| Error::new(k, v0))?
            } else {
                run_end(s, v0, GEN_VALUE)
            }
        } else {
            paramchar_end(s, v0)?
        };
        if v1 == v0 {
            return Err(Error::new(bad, v0));
        }
        clean &= check(name, Some(sub(s, v0, v1)));
        i = v1;
    }
    Ok((Params { raw: s, syntax }, clean))
}

/// A quoted-string without its quotes, quoted-pairs resolved (RFC 3261 §25.1). Other values
/// come back as they are. Borrows unless there is a backslash to resolve.
pub fn unquote(v: &[u8]) -> Cow<'_, [u8]> {
    let inner = match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => return Cow::Borrowed(v),
    };
    if !inner.contains(&b'\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut it = inner.iter();
    while let Some(&b) = it.next() {
        if b == b'\\' {
            if let Some(&n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(b);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(s: &str) -> Result<Params<'_>> {
        parse_params(
            s.as_bytes(),
            ParamSyntax::Header,
            &ParseOptions::STRICT,
            &mut Vec::new(),
        )
    }

    fn list(p: Params<'_>) -> Vec<(String, Option<String>)> {
        p.iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    v.map(|v| String::from_utf8_lossy(v).into_owned()),
                )
            })
            .collect()
    }

    #[test]
    fn folded_header_params() {
        let p = hp(" ;\r\n  branch  =   z9hG4bK9ikj8  ;rport; q = 0.33").unwrap();
        assert_eq!(
            list(p),
            vec![
                ("branch".into(), Some("z9hG4bK9ikj8".into())),
                ("rport".into(), None),
                ("q".into(), Some("0.33".into())),
            ]
        );
        assert_eq!(p.get(b"BRANCH"), Some(Some(&b"z9hG4bK9ikj8"[..])));
        assert_eq!(p.get(b"rport"), Some(None));
        assert_eq!(p.get(b"x"), None);
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn quoted_values_keep_quotes() {
        let p = hp(r#";text="a;b \"c\"";x=[2001:db8::1]"#).unwrap();
        let t = p.value(b"text").unwrap();
        assert_eq!(t, br#""a;b \"c\"""#);
        assert_eq!(unquote(t).as_ref(), br#"a;b "c""#);
        assert!(matches!(unquote(b"\"plain\""), Cow::Borrowed(b"plain")));
        assert_eq!(p.value(b"x"), Some(&b"[2001:db8::1]"[..]));
    }

    #[test]
    fn empty_elements() {
        assert_eq!(
            hp(";;;;").unwrap_err(),
            Error::new(ErrorKind::EmptyElement, 0)
        );
        assert_eq!(
            hp(";a;").unwrap_err(),
            Error::new(ErrorKind::EmptyElement, 2)
        );
        let mut d = Vec::new();
        let p = parse_params(
            b";;a;;",
            ParamSyntax::Header,
            &ParseOptions::LIBERAL,
            &mut d,
        )
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn bad_params() {
        assert_eq!(hp(";a=").unwrap_err().kind, ErrorKind::InvalidHeaderValue);
        assert_eq!(hp(";=b").unwrap_err().kind, ErrorKind::InvalidHeaderValue);
        assert_eq!(hp(";a b").unwrap_err().kind, ErrorKind::InvalidHeaderValue);
        assert_eq!(hp("x;a").unwrap_err().kind, ErrorKind::InvalidHeaderValue);
        assert_eq!(hp(";a=\"x").unwrap_err().kind, ErrorKind::UnterminatedQuote);
        assert_eq!(
            hp(";a=\"x\\").unwrap_err().kind,
            ErrorKind::TrailingBackslash
        );
        let many = ";a".repeat(65);
        assert_eq!(
            hp(&many).unwrap_err(),
            Error::new(ErrorKind::TooManyParams, 128)
        );
        assert!(hp(&";a".repeat(64)).is_ok());
    }

    #[test]
    fn uri_params() {
        let mut d = Vec::new();
        let s = ParseOptions::STRICT;
        let p = parse_params(
            b";%6C%72;n%61me=v%61lue%25%34%31;maddr=[::1]",
            ParamSyntax::Uri,
            &s,
            &mut d,
        )
        .unwrap();
        assert!(p.contains(b"lr"));
        assert_eq!(p.len(), 3);
        assert_eq!(p.value(b"maddr"), Some(&b"[::1]"[..]));
        assert_eq!(
            parse_params(b";a=%4", ParamSyntax::Uri, &s, &mut d)
                .unwrap_err()
                .kind,
            ErrorKind::InvalidEscape
        );
        assert_eq!(
            parse_params(b";a=\"b\"", ParamSyntax::Uri, &s, &mut d)
                .unwrap_err()
                .kind,
            ErrorKind::InvalidUri
        );
    }

    #[test]
    fn iterator_survives_garbage() {
        let p = Params::from_raw(b"garbage;a=\"unterminated;b", ParamSyntax::Header);
        let v: Vec<_> = p.iter().collect();
        assert_eq!(v.len(), 1);
        let p = Params::from_raw(b";=;= ;\"\"\" ;;", ParamSyntax::Header);
        let _ = p.iter().count();
    }
}
