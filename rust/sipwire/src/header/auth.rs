//! Authentication headers (RFC 3261 §20.7, §20.27, §20.28, §20.44, §20.6, §22.4; RFC 2617).
//!
//! ```text
//! challenge   = ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge
//! credentials = ("Digest" LWS dig-resp *(COMMA dig-resp)) / other-response
//! auth-param  = auth-param-name EQUAL ( token / quoted-string )
//! Authentication-Info = "Authentication-Info" HCOLON ainfo *(COMMA ainfo)
//! ```
//!
//! Unknown schemes parse like Digest when they use `name=value` pairs, and a lone token68
//! (RFC 7235 §2.1, e.g. `Bearer`) is kept as such (RFC 4475 §3.3.7).

use std::borrow::Cow;

use super::params::unquote;
use super::{at, repair, sub, token_end, trimmed_end};
use crate::scan::{end_of_quoted, is_lws, skip_lws};
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

/// A challenge (WWW-Authenticate, Proxy-Authenticate) or credentials (Authorization,
/// Proxy-Authorization): a scheme and its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AuthValue<'a> {
    scheme: &'a [u8],
    params: &'a [u8],
    token68: bool,
}

/// WWW-Authenticate / Proxy-Authenticate.
pub type Challenge<'a> = AuthValue<'a>;
/// Authorization / Proxy-Authorization.
pub type Credentials<'a> = AuthValue<'a>;

impl<'a> AuthValue<'a> {
    /// `Digest`, or any other scheme as written (compare case-insensitively).
    pub fn scheme(&self) -> &'a [u8] {
        self.scheme
    }
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case(b"Digest")
    }
    /// Everything after the scheme, as written.
    pub fn params_raw(&self) -> &'a [u8] {
        self.params
    }
    /// The token68 of a non-parameter scheme (`Bearer abc...=`).
    pub fn token68(&self) -> Option<&'a [u8]> {
        self.token68.then_some(self.params)
    }
    /// The `name=value` parameters, values as written (quoted ones with quotes).
    pub fn params(&self) -> AuthParams<'a> {
        AuthParams {
            raw: if self.token68 { &[] } else { self.params },
            pos: 0,
        }
    }
    /// A parameter by name (case-insensitive), as written.
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.params().get(name)
    }
    /// A Digest parameter (`realm`, `nonce`, `qop`, `response`, ...) without quotes.
    pub fn digest_param(&self, name: &[u8]) -> Option<Cow<'a, [u8]>> {
        self.get(name).map(unquote)
    }
    pub fn realm(&self) -> Option<Cow<'a, [u8]>> {
        self.digest_param(b"realm")
    }
    pub fn nonce(&self) -> Option<Cow<'a, [u8]>> {
        self.digest_param(b"nonce")
    }
    pub fn opaque(&self) -> Option<Cow<'a, [u8]>> {
        self.digest_param(b"opaque")
    }
    pub fn algorithm(&self) -> Option<Cow<'a, [u8]>> {
        self.digest_param(b"algorithm")
    }
    pub fn qop(&self) -> Option<Cow<'a, [u8]>> {
        self.digest_param(b"qop")
    }
    pub fn username(&self) -> Option<Cow<'a, [u8]>> {
        self.digest_param(b"username")
    }
    pub fn uri(&self) -> Option<Cow<'a, [u8]>> {
        self.digest_param(b"uri")
    }
    pub fn response(&self) -> Option<Cow<'a, [u8]>> {
        self.digest_param(b"response")
    }
    pub fn cnonce(&self) -> Option<Cow<'a, [u8]>> {
        self.digest_param(b"cnonce")
    }
    pub fn nc(&self) -> Option<Cow<'a, [u8]>> {
        self.digest_param(b"nc")
    }
    /// `stale=true` (case-insensitive, RFC 2617 §3.2.1).
    pub fn stale(&self) -> bool {
        self.digest_param(b"stale")
            .is_some_and(|s| s.eq_ignore_ascii_case(b"true"))
    }
}

/// Authentication-Info (RFC 3261 §20.6): parameters without a scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AuthenticationInfo<'a> {
    params: &'a [u8],
}

impl<'a> AuthenticationInfo<'a> {
    pub fn params(&self) -> AuthParams<'a> {
        AuthParams {
            raw: self.params,
            pos: 0,
        }
    }
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.params().get(name)
    }
    /// `nextnonce`, `qop`, `rspauth`, `cnonce`, `nc` without quotes.
    pub fn param_unquoted(&self, name: &[u8]) -> Option<Cow<'a, [u8]>> {
        self.get(name).map(unquote)
    }
}

/// Iterator over comma-separated `name=value` pairs; quoted values may hold commas. Yields
/// `(name, value)` with the value as written; empty elements are skipped.
#[derive(Clone, Debug)]
pub struct AuthParams<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl<'a> AuthParams<'a> {
    pub fn get(self, name: &[u8]) -> Option<&'a [u8]> {
        let mut it = self;
        it.find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// One element at `i`: (name, value, end). Never fails; moves at least one byte.
fn auth_item(s: &[u8], i: usize) -> (&[u8], &[u8], usize) {
    let n0 = skip_lws(s, i);
    let n1 = token_end(s, n0);
    let e = skip_lws(s, n1);
    if at(s, e) != Some(b'=') {
        return (sub(s, n0, n1), &[], e.max(i + 1));
    }
    let v0 = skip_lws(s, e + 1);
    let v1 = if at(s, v0) == Some(b'"') {
        end_of_quoted(s, v0).unwrap_or(s.len())
    } else {
        let mut k = v0;
        while at(s, k).is_some_and(|c| c != b',' && !is_lws(c)) {
            k += 1;
        }
        k
    };
    (sub(s, n0, n1), sub(s, v0, v1), v1.max(i + 1))
}

impl<'a> Iterator for AuthParams<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let s = self.raw;
        loop {
            let i = skip_lws(s, self.pos);
            match at(s, i)? {
                b',' => {
                    self.pos = i + 1;
                }
                _ => {
                    let (n, v, e) = auth_item(s, i);
                    // Skip to the comma that ends this element.
                    let mut k = e;
                    while at(s, k).is_some_and(|c| c != b',') {
                        k += 1;
                    }
                    self.pos = k;
                    if !n.is_empty() {
                        return Some((n, v));
                    }
                }
            }
        }
    }
}

/// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 7235).
fn is_token68(s: &[u8]) -> bool {
    let body_end = s.iter().rposition(|&b| b != b'=').map_or(0, |p| p + 1);
    body_end > 0
        && sub(s, 0, body_end)
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Validates `auth-param *(COMMA auth-param)`; offsets relative to `s`, `base` added.
fn check_auth_params(
    s: &[u8],
    base: usize,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<()> {
    let bad = |i: usize| Error::new(ErrorKind::InvalidHeaderValue, base + i);
    let mut i = skip_lws(s, 0);
    let mut n = 0usize;
    let end = trimmed_end(s);
    while i < end {
        if at(s, i) == Some(b',') {
            repair(
                opts.leniency.empty_elements,
                ErrorKind::EmptyElement,
                base + i,
                diags,
            )?;
            i = skip_lws(s, i + 1);
            continue;
        }
        n += 1;
        if n > usize::from(opts.limits.max_params) {
            return Err(Error::new(ErrorKind::TooManyParams, base + i));
        }
        let n1 = token_end(s, i);
        if n1 == i {
            return Err(bad(i));
        }
        let e = skip_lws(s, n1);
        if at(s, e) != Some(b'=') {
            return Err(bad(e));
        }
        let v0 = skip_lws(s, e + 1);
        let v1 = if at(s, v0) == Some(b'"') {
            end_of_quoted(s, v0).map_err(|k| Error::new(k, base + v0))?
        } else {
            token_end(s, v0)
        };
        if v1 == v0 {
            return Err(bad(v0));
        }
        i = skip_lws(s, v1);
        match at(s, i) {
            None => break,
            Some(b',') => {
                i = skip_lws(s, i + 1);
                if i >= end {
                    // A trailing comma: an empty last element.
                    repair(
                        opts.leniency.empty_elements,
                        ErrorKind::EmptyElement,
                        base + i,
                        diags,
                    )?;
                }
            }
            Some(_) => return Err(bad(i)),
        }
    }
    Ok(())
}

fn parse_auth_value<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<AuthValue<'a>> {
    let s0 = skip_lws(v, 0);
    let s1 = token_end(v, s0);
    if s1 == s0 {
        return Err(Error::new(ErrorKind::InvalidHeaderValue, s0));
    }
    let scheme = sub(v, s0, s1);
    let end = trimmed_end(v).max(s1);
    if s1 < end && !at(v, s1).is_some_and(is_lws) {
        return Err(Error::new(ErrorKind::InvalidHeaderValue, s1));
    }
    let p0 = skip_lws(v, s1);
    let params = sub(v, p0, end.max(p0));
    let digest = scheme.eq_ignore_ascii_case(b"Digest");
    if !digest && !params.contains(&b',') && is_token68(params) && !looks_like_param(params) {
        return Ok(AuthValue {
            scheme,
            params,
            token68: true,
        });
    }
    if digest && params.is_empty() {
        return Err(Error::new(ErrorKind::InvalidHeaderValue, p0));
    }
    check_auth_params(params, p0, opts, diags)?;
    Ok(AuthValue {
        scheme,
        params,
        token68: false,
    })
}

/// `name=value` where `value` is not only `=` padding.
fn looks_like_param(s: &[u8]) -> bool {
    match memchr::memchr(b'=', s) {
        Some(p) => s.get(p..).is_some_and(|r| r.iter().any(|&b| b != b'=')),
        None => false,
    }
}

/// Parses a WWW-Authenticate or Proxy-Authenticate value.
pub fn parse_challenge<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<Challenge<'a>> {
    parse_auth_value(v, opts, diags)
}

/// Parses an Authorization or Proxy-Authorization value.
pub fn parse_credentials<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<Credentials<'a>> {
    parse_auth_value(v, opts, diags)
}

/// Parses an Authentication-Info value.
pub fn parse_authentication_info<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<AuthenticationInfo<'a>> {
    let p0 = skip_lws(v, 0);
    let params = sub(v, p0, trimmed_end(v).max(p0));
    if params.is_empty() {
        return Err(Error::new(ErrorKind::InvalidHeaderValue, p0));
    }
    check_auth_params(params, p0, opts, diags)?;
    Ok(AuthenticationInfo { params })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: ParseOptions = ParseOptions::STRICT;

    #[test]
    fn digest_challenge() {
        let mut d = Vec::new();
        let v = b"Digest realm=\"atlanta.com\",\r\n domain=\"sip:boxesbybob.com\", qop=\"auth,auth-int\",\r\n nonce=\"f84f1cec41e6cbe5aea9c8e88d359\", opaque=\"\", stale=FALSE, algorithm=MD5";
        let c = parse_challenge(v, &S, &mut d).unwrap();
        assert!(c.is_digest());
        assert_eq!(c.realm().unwrap().as_ref(), b"atlanta.com");
        assert_eq!(c.qop().unwrap().as_ref(), b"auth,auth-int");
        assert_eq!(c.get(b"QOP"), Some(&b"\"auth,auth-int\""[..]));
        assert_eq!(c.opaque().unwrap().as_ref(), b"");
        assert_eq!(c.algorithm().unwrap().as_ref(), b"MD5");
        assert!(!c.stale());
        assert_eq!(c.params().count(), 7);
    }

    #[test]
    fn digest_credentials() {
        let mut d = Vec::new();
        let v = b"Digest username=\"bob\", realm=\"biloxi.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:bob@biloxi.com\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let c = parse_credentials(v, &S, &mut d).unwrap();
        assert_eq!(c.username().unwrap().as_ref(), b"bob");
        assert_eq!(c.uri().unwrap().as_ref(), b"sip:bob@biloxi.com");
        assert_eq!(c.nc().unwrap().as_ref(), b"00000001");
        assert_eq!(c.qop().unwrap().as_ref(), b"auth");
        assert_eq!(c.cnonce().unwrap().as_ref(), b"0a4f113b");
        assert_eq!(c.response().unwrap().len(), 32);
        assert_eq!(c.nonce().unwrap().len(), 34);
    }

    #[test]
    fn other_schemes() {
        let mut d = Vec::new();
        let c = parse_credentials(b"NoOneKnowsThisScheme opaque-data=here", &S, &mut d).unwrap();
        assert_eq!(c.scheme(), b"NoOneKnowsThisScheme");
        assert_eq!(c.get(b"opaque-data"), Some(&b"here"[..]));
        assert_eq!(c.token68(), None);
        let c = parse_credentials(b"Bearer mF_9.B5f-4.1JqM==", &S, &mut d).unwrap();
        assert_eq!(c.token68(), Some(&b"mF_9.B5f-4.1JqM=="[..]));
        assert_eq!(c.params().count(), 0);
        let c = parse_credentials(b"Foo", &S, &mut d).unwrap();
        assert_eq!(c.params().count(), 0);
    }

    #[test]
    fn bad() {
        let mut d = Vec::new();
        assert!(parse_challenge(b"", &S, &mut d).is_err());
        assert!(parse_challenge(b"Digest", &S, &mut d).is_err());
        assert!(parse_challenge(b"Digest realm", &S, &mut d).is_err());
        assert!(parse_challenge(b"Digest realm=", &S, &mut d).is_err());
        assert_eq!(
            parse_challenge(b"Digest realm=\"x", &S, &mut d).unwrap_err(),
            Error::new(ErrorKind::UnterminatedQuote, 13)
        );
        assert_eq!(
            parse_challenge(b"Digest realm=a,,nonce=b", &S, &mut d)
                .unwrap_err()
                .kind,
            ErrorKind::EmptyElement
        );
        assert!(
            parse_challenge(b"Digest realm=a,,nonce=b", &ParseOptions::LIBERAL, &mut d).is_ok()
        );
        assert!(parse_challenge(b"Digest realm=a b", &S, &mut d).is_err());
        let many = format!("Digest {}", "a=b,".repeat(70));
        assert_eq!(
            parse_challenge(many.as_bytes(), &S, &mut d)
                .unwrap_err()
                .kind,
            ErrorKind::TooManyParams
        );
    }

    #[test]
    fn authentication_info() {
        let mut d = Vec::new();
        let a = parse_authentication_info(
            b"nextnonce=\"47364c23432d2e131a5fb210812c\", qop=auth, rspauth=\"x,y\"",
            &S,
            &mut d,
        )
        .unwrap();
        assert_eq!(
            a.param_unquoted(b"nextnonce").unwrap().as_ref(),
            b"47364c23432d2e131a5fb210812c"
        );
        assert_eq!(a.param_unquoted(b"rspauth").unwrap().as_ref(), b"x,y");
        assert_eq!(a.params().count(), 3);
    }

    #[test]
    fn iterator_survives_garbage() {
        let a = AuthenticationInfo {
            params: b"=,,\"x, =a b,c=\"d",
        };
        let _ = a.params().count();
        let a = AuthenticationInfo {
            params: b" , a = \"q,\" , b",
        };
        let v: Vec<_> = a.params().collect();
        assert_eq!(v[0], (&b"a"[..], &b"\"q,\""[..]));
    }
}
