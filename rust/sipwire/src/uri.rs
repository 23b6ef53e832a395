//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), other schemes kept opaque, and URI
//! comparison (RFC 3261 §19.1.4).
//!
//! A [`Uri`] borrows the text it was parsed from; its parts are sub-slices of it. Escapes are
//! kept as written ([`percent_decode`] decodes on demand), so `as_bytes()` is always the input.
//!
//! ```text
//! SIP-URI   = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
//! userinfo  = ( user / telephone-subscriber ) [ ":" password ] "@"
//! hostport  = host [ ":" port ]
//! host      = hostname / IPv4address / IPv6reference
//! ```

use core::fmt;
use std::borrow::Cow;

use crate::header::params::{parse_params, ParamSyntax, Params};
use crate::header::{at, from, repair, shifted, sub};
use crate::scan::{is_lws, Span};
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

/// The URI scheme. `sip`, `sips` and `tel` are matched case-insensitively (RFC 3261 §19.1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme<'a> {
    Sip,
    Sips,
    Tel,
    /// Any other scheme (RFC 3261 §19.1.1 allows `absoluteURI`), as written.
    Other(&'a [u8]),
}

impl Scheme<'_> {
    /// The scheme name: lower case for the known ones, as written otherwise.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Scheme::Sip => b"sip",
            Scheme::Sips => b"sips",
            Scheme::Tel => b"tel",
            Scheme::Other(s) => s,
        }
    }
}

/// A host as written: a domain name, an IPv4 address, or an IPv6 reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Host<'a> {
    Domain(&'a [u8]),
    Ipv4(&'a [u8]),
    /// `reference` is the text as written (with `[` `]` when it had them), `address` the
    /// address without brackets.
    Ipv6 {
        reference: &'a [u8],
        address: &'a [u8],
    },
}

impl<'a> Host<'a> {
    /// `host = hostname / IPv4address / IPv6reference` (RFC 3261 §25.1). An IPv6 address must
    /// be bracketed (`UnbracketedIpv6`, RFC 5118 §4.2); the RFC 3261 ABNF's three-colon form
    /// (`[2001:db8:::192.0.2.1]`) is tolerated as RFC 5118 §4.10 asks.
    pub fn parse(s: &'a [u8]) -> Result<Host<'a>> {
        match scan_host(s) {
            (end, Some(h)) if end == s.len() => Ok(h),
            _ => Host::parse_general(s),
        }
    }

    /// [`Host::parse`] for every shape: IPv6 references and the errors.
    #[cold]
    fn parse_general(s: &'a [u8]) -> Result<Host<'a>> {
        match s.first() {
            None => Err(Error::new(ErrorKind::InvalidHost, 0)),
            Some(b'[') => {
                let Some(inner) = s.strip_prefix(b"[").and_then(|x| x.strip_suffix(b"]")) else {
                    return Err(Error::new(ErrorKind::InvalidHost, 0));
                };
                if is_ipv6(inner) {
                    Ok(Host::Ipv6 {
                        reference: s,
                        address: inner,
                    })
                } else {
                    Err(Error::new(ErrorKind::InvalidHost, 1))
                }
            }
            Some(_) => {
                if s.contains(&b':') {
                    return Err(Error::new(
                        if is_ipv6(s) {
                            ErrorKind::UnbracketedIpv6
                        } else {
                            ErrorKind::InvalidHost
                        },
                        0,
                    ));
                }
                if s.iter().all(|&b| b.is_ascii_digit() || b == b'.') {
                    return if is_ipv4(s) {
                        Ok(Host::Ipv4(s))
                    } else {
                        Err(Error::new(ErrorKind::InvalidHost, 0))
                    };
                }
                check_hostname(s)?;
                Ok(Host::Domain(s))
            }
        }
    }

    /// The Via `received` value: `IPv4address / IPv6address` (RFC 3261 §20.42), with or
    /// without brackets (RFC 5118 §4.5).
    pub fn parse_ip(s: &'a [u8]) -> Result<Host<'a>> {
        // Without a ':' it cannot be an IPv6 address: only the IPv4 form remains.
        if let (end, Some(h @ Host::Ipv4(_))) = scan_host(s) {
            if end == s.len() {
                return Ok(h);
            }
        }
        if s.first() != Some(&b'[') && is_ipv6(s) {
            return Ok(Host::Ipv6 {
                reference: s,
                address: s,
            });
        }
        match Host::parse(s)? {
            Host::Domain(_) => Err(Error::new(ErrorKind::InvalidHost, 0)),
            h => Ok(h),
        }
    }

    /// The host as written.
    pub fn as_bytes(&self) -> &'a [u8] {
        match *self {
            Host::Domain(s) | Host::Ipv4(s) => s,
            Host::Ipv6 { reference, .. } => reference,
        }
    }

    /// The host without IPv6 brackets.
    pub fn address(&self) -> &'a [u8] {
        match *self {
            Host::Domain(s) | Host::Ipv4(s) => s,
            Host::Ipv6 { address, .. } => address,
        }
    }

    pub fn is_ip(&self) -> bool {
        !matches!(self, Host::Domain(_))
    }

    /// The four octets of an IPv4 host.
    pub fn ipv4_octets(&self) -> Option<[u8; 4]> {
        let Host::Ipv4(s) = *self else { return None };
        let mut out = [0u8; 4];
        let mut parts = s.split(|&b| b == b'.');
        for o in &mut out {
            *o = u8::try_from(crate::header::digits_saturating(parts.next()?, 256)?).ok()?;
        }
        Some(out)
    }

    /// Host equality for URI comparison: case-insensitive, IPv6 compared without brackets.
    pub fn eq_host(&self, other: &Host<'_>) -> bool {
        core::mem::discriminant(self) == core::mem::discriminant(other)
            && self.address().eq_ignore_ascii_case(other.address())
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// The hostname or IPv4address at the start of `s`, in one pass: returns where the run of
/// `alphanum / "-" / "."` ends, and the host when that run is a valid one. `None` leaves the
/// verdict (and the error, or the IPv6 form) to [`Host::parse`]'s general path.
///
/// `hostname = *( domainlabel "." ) toplabel [ "." ]`, `domainlabel = alphanum /
/// alphanum *( alphanum / "-" ) alphanum`, `toplabel = ALPHA / ALPHA *( alphanum / "-" )
/// alphanum`; a run of digits and dots must be an `IPv4address` (RFC 3261 §25.1).
#[inline]
pub(crate) fn scan_host(s: &[u8]) -> (usize, Option<Host<'_>>) {
    let mut i = 0;
    let mut seen = 0; // the classes met
    let mut bad = false; // an empty label, or a label starting or ending with "-"
    let (mut top, mut label) = (0, 0); // where the last two labels start
    while let Some(&b) = s.get(i) {
        let c = CLASS[usize::from(b)];
        if c & HOST == 0 {
            break;
        }
        seen |= c;
        if b == b'.' {
            bad |=
                i == 0 || matches!(at(s, i - 1), Some(b'.' | b'-')) || at(s, i + 1) == Some(b'-');
            top = label;
            label = i + 1;
        }
        i += 1;
    }
    let run = sub(s, 0, i);
    let host = if seen & (ALPHA | DASH) == 0 {
        is_ipv4(run).then_some(Host::Ipv4(run))
    } else {
        // A trailing "." ends the name: the top label is the one before it.
        let top = if label == i { top } else { label };
        let ok = !bad
            && run.first() != Some(&b'-')
            && run.last() != Some(&b'-')
            && at(s, top).is_some_and(|b| is(b, ALPHA));
        ok.then_some(Host::Domain(run))
    };
    (i, host)
}

/// `IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT`, each at most 255.
fn is_ipv4(s: &[u8]) -> bool {
    let mut dots = 0;
    let mut len = 0;
    let mut v = 0u32;
    for &b in s {
        if b == b'.' {
            if len == 0 || dots == 3 {
                return false;
            }
            dots += 1;
            len = 0;
            v = 0;
        } else if b.is_ascii_digit() {
            len += 1;
            v = v * 10 + u32::from(b - b'0');
            if len > 3 || v > 255 {
                return false;
            }
        } else {
            return false;
        }
    }
    dots == 3 && len > 0
}

/// `hexseq = hex4 *( ":" hex4 )`, `hex4 = 1*4HEXDIG`; returns the number of groups.
fn hexseq_groups(s: &[u8]) -> Option<usize> {
    let mut n = 0;
    for g in s.split(|&b| b == b':') {
        if g.is_empty() || g.len() > 4 || !g.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        n += 1;
    }
    Some(n)
}

/// `hexpart = hexseq / hexseq "::" [ hexseq ] / "::" [ hexseq ]`; returns the group count and
/// whether `::` appeared.
fn hexpart(s: &[u8]) -> Option<(usize, bool)> {
    match memchr::memmem::find(s, b"::") {
        None => hexseq_groups(s).map(|n| (n, false)),
        Some(p) => {
            let left = sub(s, 0, p);
            let right = from(s, p + 2);
            if memchr::memmem::find(right, b"::").is_some() {
                return None;
            }
            let l = if left.is_empty() {
                0
            } else {
                hexseq_groups(left)?
            };
            let r = if right.is_empty() {
                0
            } else {
                hexseq_groups(right)?
            };
            Some((l + r, true))
        }
    }
}

/// `IPv6address = hexpart [ ":" IPv4address ]` (RFC 3261 §25.1), also accepting the RFC 4291
/// form `...::a.b.c.d` that the RFC 3261 ABNF misses (RFC 5118 §4.10).
fn is_ipv6(s: &[u8]) -> bool {
    let fits = |groups: usize, compressed: bool, v4: bool| {
        let total = groups + if v4 { 2 } else { 0 };
        if compressed {
            total < 8
        } else {
            total == 8
        }
    };
    if s.contains(&b'.') {
        let Some(last) = memchr::memrchr(b':', s) else {
            return false;
        };
        if !is_ipv4(from(s, last + 1)) {
            return false;
        }
        let head = sub(s, 0, last + 1); // ends with ':'
                                        // RFC 3261: hexpart ":" IPv4address (this admits the three-colon bug form).
        if let Some((g, c)) = hexpart(sub(head, 0, last)) {
            if fits(g, c, true) {
                return true;
            }
        }
        // RFC 4291: the hexpart itself ends in "::".
        head.ends_with(b"::") && hexpart(head).is_some_and(|(g, c)| fits(g, c, true))
    } else {
        hexpart(s).is_some_and(|(g, c)| fits(g, c, false))
    }
}

/// An IPv6 address written without `[` `]` (RFC 5118 §4.2 forbids it; devices do it), in the
/// one shape that is unambiguous: exactly eight groups of 1-4 hex digits (no `::`, no IPv4
/// tail), then optionally a ninth group of 1-5 digits, the port
/// (`2001:db8:0:0:216:d3ff:fe0d:22c:5060`). Seven groups and a port, or a `::`, could be
/// read either way and are refused. Returns where the address ends and the port.
pub(crate) fn unbracketed_ipv6(s: &[u8]) -> Option<(usize, Option<u16>)> {
    let mut end = 0;
    let mut port = None;
    for (n, g) in s.split(|&b| b == b':').enumerate() {
        match n {
            0..=7 if !g.is_empty() && g.len() <= 4 && g.iter().all(u8::is_ascii_hexdigit) => {
                end += g.len() + usize::from(n > 0);
            }
            8 if g.iter().all(u8::is_ascii_digit) => port = Some(parse_port(g)?),
            _ => return None,
        }
    }
    (end > 0 && memchr::memchr_iter(b':', sub(s, 0, end)).count() == 7).then_some((end, port))
}

/// `hostname = *( domainlabel "." ) toplabel [ "." ]`; labels are alphanumerics and inner
/// `-`, the top label starts with a letter (RFC 3261 §25.1).
fn check_hostname(s: &[u8]) -> Result<()> {
    let body = s.strip_suffix(b".").unwrap_or(s);
    let mut off = 0;
    let mut last: &[u8] = &[];
    for label in body.split(|&b| b == b'.') {
        let ok = !label.is_empty()
            && label
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
            && label.first() != Some(&b'-')
            && label.last() != Some(&b'-');
        if !ok {
            return Err(Error::new(ErrorKind::InvalidHost, off));
        }
        off += label.len() + 1;
        last = label;
    }
    if !last.first().is_some_and(u8::is_ascii_alphabetic) {
        return Err(Error::new(ErrorKind::InvalidHost, 0));
    }
    Ok(())
}

// --- character classes of RFC 3261 §25.1 -----------------------------------------------------

/// `alphanum / mark` (`unreserved`).
const UNRESERVED: u16 = 1;
/// `unreserved / user-unreserved`, `user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?"
/// / "/"` (`%` escapes apart).
const USER: u16 = 1 << 1;
/// `password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )` (escapes apart).
const PASSWORD: u16 = 1 << 2;
/// What may stand in `userinfo` before the `@`: user characters, `:` and `%`.
const USERINFO: u16 = 1 << 3;
/// `paramchar = param-unreserved / unreserved / escaped`,
/// `param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"` (escapes apart).
pub(crate) const PARAM: u16 = 1 << 4;
/// `hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"` plus unreserved.
const HNV: u16 = 1 << 5;
/// `uric = reserved / unreserved / escaped` (RFC 2396), plus `[ ] #` seen in real absolute
/// URIs of other schemes.
const URIC: u16 = 1 << 6;
/// The characters of a hostname or IPv4address: `alphanum / "-" / "."`.
const HOST: u16 = 1 << 7;
/// `token` characters (RFC 3261 §25.1).
pub(crate) const TOKEN: u16 = 1 << 8;
/// Unquoted `gen-value = token / host`: token characters plus the `:` `[` `]` of IPv6.
pub(crate) const GEN_VALUE: u16 = 1 << 9;
const ALPHA: u16 = 1 << 10;
const DIGIT: u16 = 1 << 11;
const DASH: u16 = 1 << 12;
/// What ends a parameter name in a walk: `;`, `=`, LWS.
pub(crate) const PNAME_END: u16 = 1 << 13;
/// What ends an unquoted header parameter value in a walk: `;`, LWS.
pub(crate) const PVALUE_END: u16 = 1 << 14;
pub(crate) const DQUOTE: u16 = 1 << 15;

/// `reserved = ";" / "/" / "?" / ":" / "@" / "&" / "=" / "+" / "$" / ","`
#[inline]
const fn is_reserved(b: u8) -> bool {
    matches!(
        b,
        b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b','
    )
}

const fn class_of(b: u8) -> u16 {
    let alnum = b.is_ascii_alphanumeric();
    let unreserved = alnum
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        );
    let user = unreserved || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/');
    let token = alnum
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        );
    bit(unreserved, UNRESERVED)
        | bit(user, USER)
        | bit(
            unreserved || matches!(b, b'&' | b'=' | b'+' | b'$' | b','),
            PASSWORD,
        )
        | bit(user || b == b':' || b == b'%', USERINFO)
        | bit(
            unreserved || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$'),
            PARAM,
        )
        | bit(
            unreserved || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$'),
            HNV,
        )
        | bit(
            is_reserved(b) || unreserved || matches!(b, b'[' | b']' | b'#'),
            URIC,
        )
        | bit(alnum || b == b'-' || b == b'.', HOST)
        | bit(token, TOKEN)
        | bit(token || matches!(b, b':' | b'[' | b']'), GEN_VALUE)
        | bit(b.is_ascii_alphabetic(), ALPHA)
        | bit(b.is_ascii_digit(), DIGIT)
        | bit(b == b'-', DASH)
        | bit(
            matches!(b, b';' | b'=' | b' ' | b'\t' | b'\r' | b'\n'),
            PNAME_END,
        )
        | bit(matches!(b, b';' | b' ' | b'\t' | b'\r' | b'\n'), PVALUE_END)
        | bit(b == b'"', DQUOTE)
}

const fn bit(on: bool, class: u16) -> u16 {
    if on {
        class
    } else {
        0
    }
}

const fn class_table() -> [u16; 256] {
    let mut t = [0; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = class_of(i as u8);
        i += 1;
    }
    t
}

/// The classes of every byte, one bit per class above.
static CLASS: [u16; 256] = class_table();

/// Whether `b` is in one of the classes of `mask`.
#[inline(always)]
pub(crate) fn is(b: u8, mask: u16) -> bool {
    CLASS[usize::from(b)] & mask != 0
}

/// Whether `s[i]` starts a valid `escaped = "%" HEXDIG HEXDIG`.
#[inline]
pub(crate) fn escape_ok(s: &[u8], i: usize) -> bool {
    at(s, i + 1).is_some_and(|b| b.is_ascii_hexdigit())
        && at(s, i + 2).is_some_and(|b| b.is_ascii_hexdigit())
}

#[inline]
fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b.wrapping_sub(b'0'),
        b'a'..=b'f' => b.wrapping_sub(b'a').wrapping_add(10),
        b'A'..=b'F' => b.wrapping_sub(b'A').wrapping_add(10),
        _ => 0,
    }
}

/// Checks that all of `s` is in `class` or a valid escape; the error offset is relative to `s`.
#[inline]
fn check_chars(s: &[u8], class: u16, kind: ErrorKind) -> Result<()> {
    let mut i = 0;
    while let Some(b) = at(s, i) {
        if is(b, class) {
            i += 1;
        } else if b == b'%' {
            if !escape_ok(s, i) {
                return Err(Error::new(ErrorKind::InvalidEscape, i));
            }
            i += 3;
        } else {
            return Err(Error::new(kind, i));
        }
    }
    Ok(())
}

/// Decodes `%HH` escapes (invalid escapes are kept as written). Borrows when there is none.
pub fn percent_decode(s: &[u8]) -> Cow<'_, [u8]> {
    if !s.contains(&b'%') {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(b) = at(s, i) {
        if b == b'%' && escape_ok(s, i) {
            let hi = at(s, i + 1).map_or(0, hex_val);
            let lo = at(s, i + 2).map_or(0, hex_val);
            out.push((hi << 4) | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// Decoded units for comparison: the byte, and whether it was an escaped reserved character
/// (RFC 3261 §19.1.4: only characters outside "reserved" equal their escaped form).
struct Units<'a> {
    s: &'a [u8],
    i: usize,
}

impl Iterator for Units<'_> {
    type Item = (u8, bool);
    fn next(&mut self) -> Option<(u8, bool)> {
        let b = at(self.s, self.i)?;
        if b == b'%' && escape_ok(self.s, self.i) {
            let v = (at(self.s, self.i + 1).map_or(0, hex_val) << 4)
                | at(self.s, self.i + 2).map_or(0, hex_val);
            self.i += 3;
            Some((v, is_reserved(v)))
        } else {
            self.i += 1;
            Some((b, false))
        }
    }
}

/// Compares two URI components with escapes decoded (RFC 3261 §19.1.4), optionally ignoring
/// ASCII case.
pub(crate) fn eq_decoded(a: &[u8], b: &[u8], ignore_case: bool) -> bool {
    let fold = |(c, r): (u8, bool)| {
        if ignore_case {
            (c.to_ascii_lowercase(), r)
        } else {
            (c, r)
        }
    };
    Units { s: a, i: 0 }
        .map(fold)
        .eq(Units { s: b, i: 0 }.map(fold))
}

// --- the URI ---------------------------------------------------------------------------------

/// The parts of a URI while it is parsed (sub-slices of the input).
struct Parts<'a> {
    raw: &'a [u8],
    scheme: Scheme<'a>,
    scheme_raw: &'a [u8],
    rest: &'a [u8],
    user: Option<&'a [u8]>,
    password: Option<&'a [u8]>,
    host: Option<Host<'a>>,
    port: Option<u16>,
    params: &'a [u8],
    headers: Option<&'a [u8]>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum SchemeKind {
    Sip,
    Sips,
    Tel,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum HostKind {
    None,
    Domain,
    Ipv4,
    Ipv6,
}

/// A parsed URI borrowing its text. Parts are kept as spans of the text (the view stays small
/// enough to copy freely); accessors hand out sub-slices.
///
/// `==` compares the text exactly; [`uri_eq`] is the RFC 3261 §19.1.4 comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Uri<'a> {
    raw: &'a [u8],
    scheme: SchemeKind,
    host_kind: HostKind,
    port: Option<u16>,
    scheme_len: u32,
    host: Span,
    params: Span,
    user: Option<Span>,
    password: Option<Span>,
    headers: Option<Span>,
}

impl<'a> Uri<'a> {
    fn from_parts(p: &Parts<'a>) -> Self {
        let sp = |x: &[u8]| Span::within(p.raw, x);
        let (host_kind, host) = match p.host {
            None => (HostKind::None, Span::default()),
            Some(Host::Domain(h)) => (HostKind::Domain, sp(h)),
            Some(Host::Ipv4(h)) => (HostKind::Ipv4, sp(h)),
            Some(Host::Ipv6 { reference, .. }) => (HostKind::Ipv6, sp(reference)),
        };
        Uri {
            raw: p.raw,
            scheme: match p.scheme {
                Scheme::Sip => SchemeKind::Sip,
                Scheme::Sips => SchemeKind::Sips,
                Scheme::Tel => SchemeKind::Tel,
                Scheme::Other(_) => SchemeKind::Other,
            },
            host_kind,
            port: p.port,
            scheme_len: u32::try_from(p.scheme_raw.len()).unwrap_or(0),
            host,
            params: sp(p.params),
            user: p.user.map(sp),
            password: p.password.map(sp),
            headers: p.headers.map(sp),
        }
    }

    /// Parses a URI as found in a header (`<...>` already removed). Unknown schemes are kept as
    /// `scheme ":" opaque` without error.
    pub fn parse(s: &'a [u8], opts: &ParseOptions, diags: &mut Vec<Diagnostic>) -> Result<Self> {
        parse_uri(s, opts, diags, false)
    }

    /// Parses a Request-URI: `?headers` are not allowed there (RFC 3261 §19.1.5,
    /// `HeadersInRequestUri`; kept with a diagnostic when `headers_in_request_uri` is on).
    pub fn parse_request_uri(
        s: &'a [u8],
        opts: &ParseOptions,
        diags: &mut Vec<Diagnostic>,
    ) -> Result<Self> {
        parse_uri(s, opts, diags, true)
    }

    pub fn scheme(&self) -> Scheme<'a> {
        match self.scheme {
            SchemeKind::Sip => Scheme::Sip,
            SchemeKind::Sips => Scheme::Sips,
            SchemeKind::Tel => Scheme::Tel,
            SchemeKind::Other => Scheme::Other(self.scheme_bytes()),
        }
    }
    /// The scheme as written (`SIP`, `sip`, ...).
    pub fn scheme_bytes(&self) -> &'a [u8] {
        sub(self.raw, 0, self.scheme_len as usize)
    }
    /// Everything after `scheme:` (for other schemes, the opaque part).
    pub fn opaque(&self) -> &'a [u8] {
        from(self.raw, self.scheme_len as usize + 1)
    }
    /// The user part, escapes as written; for tel URIs the number (global or local).
    pub fn user(&self) -> Option<&'a [u8]> {
        self.user.map(|s| s.of(self.raw))
    }
    pub fn password(&self) -> Option<&'a [u8]> {
        self.password.map(|s| s.of(self.raw))
    }
    /// The host (SIP and SIPS URIs only).
    pub fn host(&self) -> Option<Host<'a>> {
        let h = self.host.of(self.raw);
        match self.host_kind {
            HostKind::None => None,
            HostKind::Domain => Some(Host::Domain(h)),
            HostKind::Ipv4 => Some(Host::Ipv4(h)),
            HostKind::Ipv6 => Some(Host::Ipv6 {
                reference: h,
                address: h
                    .strip_prefix(b"[")
                    .and_then(|x| x.strip_suffix(b"]"))
                    .unwrap_or(h),
            }),
        }
    }
    pub fn port(&self) -> Option<u16> {
        self.port
    }
    pub fn params(&self) -> Params<'a> {
        Params::from_raw(self.params.of(self.raw), ParamSyntax::Uri)
    }
    /// The `?h=v&...` part without the `?` (None when absent).
    pub fn headers_raw(&self) -> Option<&'a [u8]> {
        self.headers.map(|s| s.of(self.raw))
    }
    /// The `?h=v&h2=v2` pairs, escapes as written.
    pub fn headers(&self) -> UriHeaders<'a> {
        let h = self.headers_raw();
        UriHeaders {
            rest: h.unwrap_or(&[]),
            done: h.is_none(),
        }
    }
    /// The exact input.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, SchemeKind::Sip | SchemeKind::Sips)
    }
    /// `user=` (e.g. `phone`, RFC 3261 §19.1.1).
    pub fn user_param(&self) -> Option<&'a [u8]> {
        self.params().value(b"user")
    }
    pub fn transport(&self) -> Option<&'a [u8]> {
        self.params().value(b"transport")
    }
    /// Loose routing flag (RFC 3261 §19.1.1 `lr-param`).
    pub fn lr(&self) -> bool {
        self.params().contains(b"lr")
    }
    pub fn maddr(&self) -> Option<&'a [u8]> {
        self.params().value(b"maddr")
    }
    pub fn ttl(&self) -> Option<&'a [u8]> {
        self.params().value(b"ttl")
    }
    pub fn method(&self) -> Option<&'a [u8]> {
        self.params().value(b"method")
    }
    /// tel: a global number (`+` digits, RFC 3966 §5.1.4).
    pub fn is_global_number(&self) -> bool {
        self.scheme == SchemeKind::Tel && self.user().is_some_and(|u| u.first() == Some(&b'+'))
    }
    /// tel: `phone-context` (RFC 3966 §5.1.5).
    pub fn phone_context(&self) -> Option<&'a [u8]> {
        self.params().value(b"phone-context")
    }
    /// tel: `ext` (RFC 3966 §5.1.3).
    pub fn ext(&self) -> Option<&'a [u8]> {
        self.params().value(b"ext")
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.raw))
    }
}

/// Iterator over URI headers: `(hname, hvalue)`, escapes as written.
#[derive(Clone, Debug)]
pub struct UriHeaders<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> Iterator for UriHeaders<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let (item, rest) = match memchr::memchr(b'&', self.rest) {
                Some(p) => (sub(self.rest, 0, p), from(self.rest, p + 1)),
                None => {
                    self.done = true;
                    (self.rest, &[][..])
                }
            };
            self.rest = rest;
            if item.is_empty() {
                continue;
            }
            return Some(match memchr::memchr(b'=', item) {
                Some(p) => (sub(item, 0, p), from(item, p + 1)),
                None => (item, &[][..]),
            });
        }
    }
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3261 §25.1).
fn scheme_end(s: &[u8]) -> Result<usize> {
    if !s.first().is_some_and(u8::is_ascii_alphabetic) {
        return Err(Error::new(ErrorKind::InvalidUri, 0));
    }
    let mut i = 1;
    while let Some(b) = at(s, i) {
        match b {
            b':' => return Ok(i),
            b'+' | b'-' | b'.' => {}
            _ if b.is_ascii_alphanumeric() => {}
            _ => return Err(Error::new(ErrorKind::InvalidUri, i)),
        }
        i += 1;
    }
    Err(Error::new(ErrorKind::InvalidUri, s.len()))
}

#[inline]
fn parse_uri<'a>(
    s: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
    request: bool,
) -> Result<Uri<'a>> {
    let max = opts.limits.max_uri as usize;
    if s.len() > max {
        return Err(Error::new(ErrorKind::UriTooLong, max));
    }
    // A lenient parse of a Request-URI lets LWS stand where it is unambiguous (around the
    // `;` of parameters, RFC 4475 §3.1.2.12); the start line has already recorded it.
    let lws_ok = request && opts.leniency.whitespace_in_request_uri;
    // One branch-free pass for the common case: every byte visible ASCII.
    let invisible = s
        .iter()
        .fold(false, |acc, &b| acc | !(0x21..0x7f).contains(&b));
    if invisible {
        if let Some(p) = s.iter().position(|&b| is_lws(b)) {
            if !lws_ok {
                return Err(Error::new(ErrorKind::WhitespaceInUri, p));
            }
        }
        // URIs are ASCII without controls: anything else must be escaped (RFC 3261 §19.1.2).
        if let Some(p) = s
            .iter()
            .position(|&b| (b <= b' ' || b >= 0x7f) && !(lws_ok && is_lws(b)))
        {
            return Err(Error::new(ErrorKind::InvalidUri, p));
        }
    }
    // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), `sip` and `sips` in any case.
    let lower = |i: usize| at(s, i).map_or(0, |b| b | 0x20);
    let (scheme, colon) = match (lower(0), lower(1), lower(2), at(s, 3), at(s, 4)) {
        (b's', b'i', b'p', Some(b':'), _) => (Scheme::Sip, 3),
        (b's', b'i', b'p', Some(b'S' | b's'), Some(b':')) => (Scheme::Sips, 4),
        _ => {
            let colon = scheme_end(s)?;
            let scheme_raw = sub(s, 0, colon);
            let scheme = if scheme_raw.eq_ignore_ascii_case(b"sip") {
                Scheme::Sip
            } else if scheme_raw.eq_ignore_ascii_case(b"sips") {
                Scheme::Sips
            } else if scheme_raw.eq_ignore_ascii_case(b"tel") {
                Scheme::Tel
            } else {
                Scheme::Other(scheme_raw)
            };
            (scheme, colon)
        }
    };
    let scheme_raw = sub(s, 0, colon);
    let base = colon + 1;
    let rest = from(s, base);
    let mut uri = Parts {
        raw: s,
        scheme,
        scheme_raw,
        rest,
        user: None,
        password: None,
        host: None,
        port: None,
        params: &[],
        headers: None,
    };
    match scheme {
        Scheme::Sip | Scheme::Sips => {
            shifted(base, diags, |d| parse_sip_rest(&mut uri, opts, d, request))?
        }
        Scheme::Tel => shifted(base, diags, |d| parse_tel_rest(&mut uri, opts, d))?,
        Scheme::Other(_) => {
            if rest.is_empty() {
                return Err(Error::new(ErrorKind::InvalidUri, base));
            }
            check_chars(rest, URIC, ErrorKind::InvalidUri).map_err(|e| e.shifted(base))?;
        }
    }
    Ok(Uri::from_parts(&uri))
}

/// The part of a SIP/SIPS URI after `sip:`; offsets relative to it.
fn parse_sip_rest<'a>(
    uri: &mut Parts<'a>,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
    request: bool,
) -> Result<()> {
    let r = uri.rest;
    let (hp_start, i) = match hostport_fast(uri) {
        Some(x) => x,
        None => userinfo_hostport(uri, opts, diags)?,
    };
    let hp = from(r, hp_start);
    // uri-parameters = *( ";" uri-parameter ), up to the '?' of the headers.
    let q = memchr::memchr(b'?', from(hp, i)).map_or(hp.len(), |p| i + p);
    let praw = sub(hp, i, q);
    let pbase = hp_start + i;
    // LWS a lenient Request-URI kept (see `parse_uri`) is skipped as in header parameters.
    let syntax =
        if request && opts.leniency.whitespace_in_request_uri && praw.iter().any(|&b| is_lws(b)) {
            ParamSyntax::Header
        } else {
            ParamSyntax::Uri
        };
    shifted(pbase, diags, |d| parse_params(praw, syntax, opts, d))?;
    uri.params = praw;
    if at(hp, q) == Some(b'?') {
        let off = hp_start + q;
        if request {
            repair(
                opts.leniency.headers_in_request_uri,
                ErrorKind::HeadersInRequestUri,
                off,
                diags,
            )?;
        }
        let h = from(hp, q + 1);
        check_uri_headers(h, opts).map_err(|e| e.shifted(off + 1))?;
        uri.headers = Some(h);
    }
    Ok(())
}

/// `[ userinfo ] hostport` in the common shapes: a user of `alphanum / "-" / "."`, a
/// hostname or IPv4address, a port of digits; returns where the hostport starts and ends in
/// the part after `sip:`. `None` sends every other shape, and every error, to
/// [`userinfo_hostport`].
#[inline]
fn hostport_fast(uri: &mut Parts<'_>) -> Option<(usize, usize)> {
    let r = uri.rest;
    let (e, host) = scan_host(r);
    let (user, hp_start, e, host) = if at(r, e) == Some(b'@') {
        // The run before the '@' holds user characters only: it is the whole userinfo.
        if e == 0 {
            return None;
        }
        let (e2, host) = scan_host(from(r, e + 1));
        (Some(sub(r, 0, e)), e + 1, e + 1 + e2, host?)
    } else {
        // Without an '@' ahead there is no userinfo (see `userinfo_hostport`).
        if from(r, e).contains(&b'@') {
            return None;
        }
        (None, 0, e, host?)
    };
    let (port, end) = match at(r, e) {
        None | Some(b';' | b'?') => (None, e),
        Some(b':') => {
            let mut k = e + 1;
            while at(r, k).is_some_and(|b| b.is_ascii_digit()) {
                k += 1;
            }
            if !matches!(at(r, k), None | Some(b';' | b'?')) {
                return None;
            }
            (Some(parse_port(sub(r, e + 1, k))?), k)
        }
        _ => return None,
    };
    uri.user = user;
    uri.host = Some(host);
    uri.port = port;
    Some((hp_start, end - hp_start))
}

/// `[ userinfo ] hostport` in every form; returns where the hostport starts and ends (relative
/// to its start) in the part after `sip:`.
fn userinfo_hostport(
    uri: &mut Parts<'_>,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<(usize, usize)> {
    let r = uri.rest;
    // userinfo: no '@' can occur unescaped anywhere else in a SIP URI, so the first '@' after
    // a run of userinfo characters ends it, even when the user holds ';' '?' ',' (RFC 4475
    // §3.1.1.2, §3.1.1.9).
    let mut k = 0;
    while at(r, k).is_some_and(|b| is(b, USERINFO)) {
        k += 1;
    }
    let hp_start = if at(r, k) == Some(b'@') {
        let ui = sub(r, 0, k);
        let (user, password) = match memchr::memchr(b':', ui) {
            Some(p) => (sub(ui, 0, p), Some(from(ui, p + 1))),
            None => (ui, None),
        };
        if user.is_empty() {
            return Err(Error::new(ErrorKind::InvalidUri, 0));
        }
        check_chars(user, USER, ErrorKind::InvalidUri)?;
        if let Some(pw) = password {
            check_chars(pw, PASSWORD, ErrorKind::InvalidUri)
                .map_err(|e| e.shifted(user.len() + 1))?;
        }
        uri.user = Some(user);
        uri.password = password;
        k + 1
    } else {
        0
    };
    let hp = from(r, hp_start);
    // hostport = host [ ":" port ]
    let seg_end = hp
        .iter()
        .position(|&b| b == b';' || b == b'?')
        .unwrap_or(hp.len());
    let host_end = if hp.first() == Some(&b'[') {
        match memchr::memchr(b']', sub(hp, 0, seg_end)) {
            Some(p) => p + 1,
            None => return Err(Error::new(ErrorKind::InvalidHost, hp_start)),
        }
    } else {
        let seg = sub(hp, 0, seg_end);
        // Two colons in an unbracketed host:port can only be a bare IPv6 address
        // (RFC 5118 §4.2: `sip:2001:db8::10`); a lenient parse takes the unambiguous form.
        if memchr::memchr_iter(b':', seg).count() >= 2 {
            let Some((end, port)) = unbracketed_ipv6(seg) else {
                return Err(Error::new(ErrorKind::UnbracketedIpv6, hp_start));
            };
            repair(
                opts.leniency.unbracketed_ipv6,
                ErrorKind::UnbracketedIpv6,
                hp_start,
                diags,
            )?;
            let address = sub(seg, 0, end);
            uri.host = Some(Host::Ipv6 {
                reference: address,
                address,
            });
            uri.port = port;
            return Ok((hp_start, seg_end));
        }
        memchr::memchr(b':', seg).unwrap_or(seg_end)
    };
    let host = Host::parse(sub(hp, 0, host_end)).map_err(|e| e.shifted(hp_start))?;
    uri.host = Some(host);
    let mut i = host_end;
    if at(hp, i) == Some(b':') {
        let port = sub(hp, i + 1, seg_end);
        uri.port =
            Some(parse_port(port).ok_or(Error::new(ErrorKind::InvalidPort, hp_start + i + 1))?);
        i = seg_end;
    }
    if i != seg_end {
        return Err(Error::new(ErrorKind::InvalidHost, hp_start + i));
    }
    Ok((hp_start, i))
}

/// `port = 1*DIGIT`, at most 65535.
fn parse_port(s: &[u8]) -> Option<u16> {
    if s.len() > 5 {
        return None;
    }
    u16::try_from(crate::header::digits_saturating(s, 70000)?).ok()
}

/// `headers = "?" header *( "&" header )`, `header = hname "=" hvalue`,
/// `hname = 1*( hnv-unreserved / unreserved / escaped )`, `hvalue = *( ... )`.
fn check_uri_headers(h: &[u8], opts: &ParseOptions) -> Result<()> {
    let mut off = 0;
    let mut n = 0usize;
    for item in h.split(|&b| b == b'&') {
        n += 1;
        if n > usize::from(opts.limits.max_params) {
            return Err(Error::new(ErrorKind::TooManyParams, off));
        }
        let (name, value) = match memchr::memchr(b'=', item) {
            Some(p) => (sub(item, 0, p), Some((p + 1, from(item, p + 1)))),
            None => (item, None),
        };
        let Some((voff, value)) = value else {
            return Err(Error::new(ErrorKind::InvalidUri, off + item.len()));
        };
        if name.is_empty() {
            return Err(Error::new(ErrorKind::InvalidUri, off));
        }
        check_chars(name, HNV, ErrorKind::InvalidUri).map_err(|e| e.shifted(off))?;
        check_chars(value, HNV, ErrorKind::InvalidUri).map_err(|e| e.shifted(off + voff))?;
        off += item.len() + 1;
    }
    Ok(())
}

/// `telephone-subscriber = global-number / local-number` (RFC 3966 §3); offsets relative to
/// the part after `tel:`.
fn parse_tel_rest<'a>(
    uri: &mut Parts<'a>,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<()> {
    let r = uri.rest;
    let end = memchr::memchr(b';', r).unwrap_or(r.len());
    let number = sub(r, 0, end);
    let visual = |b: u8| matches!(b, b'-' | b'.' | b'(' | b')');
    let global = number.first() == Some(&b'+');
    if global {
        // global-number-digits = "+" *phonedigit DIGIT *phonedigit
        let digits = from(number, 1);
        if let Some(p) = digits
            .iter()
            .position(|&b| !(b.is_ascii_digit() || visual(b)))
        {
            return Err(Error::new(ErrorKind::InvalidUri, p + 1));
        }
        if !digits.iter().any(u8::is_ascii_digit) {
            return Err(Error::new(ErrorKind::InvalidUri, 0));
        }
    } else {
        // local-number-digits = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex
        let key = |b: u8| b.is_ascii_hexdigit() || b == b'*' || b == b'#';
        if let Some(p) = number.iter().position(|&b| !(key(b) || visual(b))) {
            return Err(Error::new(ErrorKind::InvalidUri, p));
        }
        if !number.iter().any(|&b| key(b)) {
            return Err(Error::new(ErrorKind::InvalidUri, 0));
        }
    }
    uri.user = Some(number);
    let praw = from(r, end);
    let params = shifted(end, diags, |d| {
        parse_params(praw, ParamSyntax::Uri, opts, d)
    })?;
    uri.params = praw;
    // A local number needs its context (RFC 3966 §5.1.5).
    if !global && !params.contains(b"phone-context") {
        return Err(Error::new(ErrorKind::InvalidUri, end));
    }
    Ok(())
}

// --- comparison ------------------------------------------------------------------------------

/// Parameters that must match whenever either URI has them (RFC 3261 §19.1.4).
const SIGNIFICANT: [&[u8]; 5] = [b"user", b"ttl", b"method", b"maddr", b"transport"];

fn find_param<'a>(p: &Params<'a>, name: &[u8]) -> Option<Option<&'a [u8]>> {
    p.iter()
        .find(|(n, _)| eq_decoded(n, name, true))
        .map(|(_, v)| v)
}

fn eq_opt_value(a: Option<&[u8]>, b: Option<&[u8]>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => eq_decoded(x, y, true),
        _ => false,
    }
}

/// Whether every header of `a` has an equal one in `b` (names case-insensitive, values
/// case-sensitive, escapes decoded).
fn headers_within(a: &Uri<'_>, b: &Uri<'_>) -> bool {
    a.headers().all(|(n, v)| {
        b.headers()
            .any(|(n2, v2)| eq_decoded(n, n2, true) && eq_decoded(v, v2, false))
    })
}

/// URI equality per RFC 3261 §19.1.4.
///
/// - SIP/SIPS: same scheme; user and password case-sensitive, host case-insensitive, escapes
///   decoded (escaped reserved characters stay distinct); ports equal, an absent port not
///   equal to an explicit one; `user`, `ttl`, `method`, `maddr`, `transport` must match when
///   either side has them, other parameters only when both do; all headers must match.
/// - tel (RFC 3966 §4): numbers equal ignoring visual separators and case, same parameters.
/// - other schemes: scheme case-insensitive, the rest equal with escapes decoded.
///
/// Work is bounded by `max_params` squared (parameters are compared pairwise).
pub fn uri_eq(a: &Uri<'_>, b: &Uri<'_>) -> bool {
    match (a.scheme(), b.scheme()) {
        (Scheme::Sip, Scheme::Sip) | (Scheme::Sips, Scheme::Sips) => sip_eq(a, b),
        (Scheme::Tel, Scheme::Tel) => tel_eq(a, b),
        (Scheme::Other(x), Scheme::Other(y)) => {
            x.eq_ignore_ascii_case(y) && eq_decoded(a.opaque(), b.opaque(), false)
        }
        _ => false,
    }
}

fn sip_eq(a: &Uri<'_>, b: &Uri<'_>) -> bool {
    let opt_eq = |x: Option<&[u8]>, y: Option<&[u8]>| match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => eq_decoded(x, y, false),
        _ => false,
    };
    if !opt_eq(a.user(), b.user()) || !opt_eq(a.password(), b.password()) || a.port != b.port {
        return false;
    }
    match (a.host(), b.host()) {
        (Some(x), Some(y)) if x.eq_host(&y) => {}
        _ => return false,
    }
    let (ap, bp) = (a.params(), b.params());
    for name in SIGNIFICANT {
        match (find_param(&ap, name), find_param(&bp, name)) {
            (None, None) => {}
            (Some(x), Some(y)) if eq_opt_value(x, y) => {}
            _ => return false,
        }
    }
    // A parameter named twice counts by its first value on both sides, as `Params::get`
    // reads it (§19.1.4 does not say; this keeps the comparison reflexive).
    for (n, _) in ap.iter() {
        if let (Some(v1), Some(v2)) = (find_param(&ap, n), find_param(&bp, n)) {
            if !eq_opt_value(v1, v2) {
                return false;
            }
        }
    }
    headers_within(a, b) && headers_within(b, a)
}

fn tel_eq<'a>(a: &Uri<'a>, b: &Uri<'a>) -> bool {
    let digits = |u: &Uri<'a>| {
        u.user()
            .unwrap_or(&[])
            .iter()
            .filter(|&&c| !matches!(c, b'-' | b'.' | b'(' | b')'))
            .map(u8::to_ascii_lowercase)
    };
    let (ap, bp) = (a.params(), b.params());
    if !digits(a).eq(digits(b)) || ap.len() != bp.len() {
        return false;
    }
    ap.iter()
        .all(|(n, _)| match (find_param(&ap, n), find_param(&bp, n)) {
            (Some(v1), Some(v2)) => eq_opt_value(v1, v2),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_is_reflexive_with_repeated_parameters() {
        for text in ["sip:e;tag=u;tag", "sip:i;%41;a=c", "tel:+1234;x=1;X=2"] {
            let u = p(text);
            assert!(uri_eq(&u, &u), "{text}");
        }
    }

    fn p(s: &str) -> Uri<'_> {
        Uri::parse(s.as_bytes(), &ParseOptions::STRICT, &mut Vec::new())
            .unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }
    fn err(s: &str) -> Error {
        Uri::parse(s.as_bytes(), &ParseOptions::STRICT, &mut Vec::new()).unwrap_err()
    }

    #[test]
    fn sip_parts() {
        let u = p("sips:alice:secret@Atlanta.com:5061;transport=tls;lr?subject=x&priority=urgent");
        assert_eq!(u.scheme(), Scheme::Sips);
        assert_eq!(u.user(), Some(&b"alice"[..]));
        assert_eq!(u.password(), Some(&b"secret"[..]));
        assert_eq!(u.host(), Some(Host::Domain(b"Atlanta.com")));
        assert_eq!(u.port(), Some(5061));
        assert_eq!(u.transport(), Some(&b"tls"[..]));
        assert!(u.lr());
        let h: Vec<_> = u.headers().collect();
        assert_eq!(
            h,
            vec![
                (&b"subject"[..], &b"x"[..]),
                (&b"priority"[..], &b"urgent"[..])
            ]
        );
        assert_eq!(
            u.to_string(),
            "sips:alice:secret@Atlanta.com:5061;transport=tls;lr?subject=x&priority=urgent"
        );
    }

    #[test]
    fn torture_users() {
        // RFC 4475 §3.1.1.2: user with ';' '?' ',' '/', password with ',' and '='.
        let u = p("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
        assert_eq!(
            u.user(),
            Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..])
        );
        assert_eq!(
            u.password(),
            Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..])
        );
        assert_eq!(u.host().unwrap().as_bytes(), b"example.com");
        assert!(u.params().is_empty());
        // §3.1.1.9
        let u = p("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user(), Some(&b"user;par=u%40example.net"[..]));
        assert_eq!(
            percent_decode(u.user().unwrap()).as_ref(),
            b"user;par=u@example.net"
        );
        // §3.1.1.4: %00 does not truncate.
        let u = p("sip:null-%00-null@example.com");
        assert_eq!(percent_decode(u.user().unwrap()).as_ref(), b"null-\0-null");
        // §3.1.1.3
        let u = p("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
        assert!(u.lr());
        assert_eq!(
            percent_decode(u.params().value(b"name").unwrap()).as_ref(),
            b"value%41"
        );
    }

    #[test]
    fn ipv6_hosts() {
        let u = p("sip:[2001:db8::10]:5070");
        assert_eq!(u.port(), Some(5070));
        assert_eq!(
            u.host(),
            Some(Host::Ipv6 {
                reference: b"[2001:db8::10]",
                address: b"2001:db8::10"
            })
        );
        let u = p("sip:[2001:db8::10:5070]");
        assert_eq!(u.port(), None);
        assert_eq!(u.host().unwrap().address(), b"2001:db8::10:5070");
        p("sip:user@[2001:db8:::192.0.2.1]");
        p("sip:user@[2001:db8::192.0.2.1]");
        p("sip:ted@[::ffff:192.0.2.2]");
        p("sip:[::1]");
        assert_eq!(err("sip:2001:db8::10").kind, ErrorKind::UnbracketedIpv6);
        assert_eq!(
            err("sip:user@2001:db8::10").kind,
            ErrorKind::UnbracketedIpv6
        );
        assert_eq!(err("sip:[2001:db8::10").kind, ErrorKind::InvalidHost);
        assert_eq!(err("sip:[2001:db8::g]").kind, ErrorKind::InvalidHost);
        assert_eq!(err("sip:[1:2:3:4:5:6:7:8:9]").kind, ErrorKind::InvalidHost);
        assert!(Host::parse_ip(b"2001:db8::9:255").is_ok());
        assert!(Host::parse_ip(b"[2001:db8::9:255]").is_ok());
        assert!(Host::parse_ip(b"example.com").is_err());
    }

    /// A lenient parse takes an unbracketed IPv6 address with a diagnostic when it has exactly
    /// eight groups (a ninth is the port); every other unbracketed form stays an error, and
    /// a strict parse refuses them all (RFC 5118 §4.2).
    #[test]
    fn unbracketed_ipv6_when_unambiguous() {
        let lenient = |s: &str| {
            let mut d = Vec::new();
            let u = Uri::parse(s.as_bytes(), &ParseOptions::LIBERAL, &mut d)
                .map(|u| (u.host().map(|h| h.address().to_vec()), u.port(), u.user()));
            (u.map(|(h, p, user)| (h, p, user.map(<[u8]>::to_vec))), d)
        };
        let (u, d) = lenient("sip:4321@2001:db8:0:0:216:d3ff:fe0d:22c:5060;transport=udp");
        let (host, port, user) = u.unwrap();
        assert_eq!(
            host.as_deref(),
            Some(&b"2001:db8:0:0:216:d3ff:fe0d:22c"[..])
        );
        assert_eq!((port, user.as_deref()), (Some(5060), Some(&b"4321"[..])));
        assert_eq!(d, vec![Error::new(ErrorKind::UnbracketedIpv6, 9)]);
        let (u, d) = lenient("sip:2001:DB8:0:0:216:d3ff:fe0d:22c");
        assert_eq!(
            u.unwrap().0.as_deref(),
            Some(&b"2001:DB8:0:0:216:d3ff:fe0d:22c"[..])
        );
        assert_eq!(d.len(), 1);
        // Eight groups are the address, whatever the last one looks like.
        let (u, _) = lenient("sip:a@2001:db8:0:0:216:d3ff:fe0d:5060");
        assert_eq!(u.unwrap().1, None);
        for ambiguous in [
            "sip:a@2001:db8::10",
            "sip:a@1:2:3:4:5:6:7:8:9:10",
            "sip:a@1:2:3:4:5:6:7:8:99999",
            "sip:a@1:2:3:4:5:6:7:8:",
            "sip:a@1:2:3:4:5:6:7:g",
            "sip:a@1:2:3:4:5:6:7:8:x1",
            "sip:a@::ffff:192.0.2.1",
        ] {
            let (u, _) = lenient(ambiguous);
            assert!(u.is_err(), "{ambiguous}");
        }
        assert_eq!(
            err("sip:4321@2001:db8:0:0:216:d3ff:fe0d:22c:5060").kind,
            ErrorKind::UnbracketedIpv6
        );
        assert_eq!(unbracketed_ipv6(b"1:2:3:4:5:6:7:8"), Some((15, None)));
        assert_eq!(unbracketed_ipv6(b"1:2:3:4:5:6:7:8:0"), Some((15, Some(0))));
        assert_eq!(unbracketed_ipv6(b""), None);
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(
            p("sip:255.255.255.255").host().unwrap().ipv4_octets(),
            Some([255; 4])
        );
        assert_eq!(err("sip:a@256.1.1.1").kind, ErrorKind::InvalidHost);
        assert_eq!(err("sip:a@-x.com").kind, ErrorKind::InvalidHost);
        assert_eq!(err("sip:a@x..com").kind, ErrorKind::InvalidHost);
        assert_eq!(err("sip:a@").kind, ErrorKind::InvalidHost);
        assert_eq!(err("sip:a@b.com:65536").kind, ErrorKind::InvalidPort);
        assert_eq!(err("sip:a@b.com:").kind, ErrorKind::InvalidPort);
        assert_eq!(err("sip:a@b.com:5x").kind, ErrorKind::InvalidPort);
        assert_eq!(p("sip:a@b.com:65535").port(), Some(65535));
        p("sip:host.example.com.");
    }

    #[test]
    fn errors_and_offsets() {
        assert_eq!(err("sip:a%4@b"), Error::new(ErrorKind::InvalidEscape, 5));
        assert_eq!(err("sip:a b@c"), Error::new(ErrorKind::WhitespaceInUri, 5));
        assert_eq!(
            err("sip:a@b;x=%zz"),
            Error::new(ErrorKind::InvalidEscape, 10)
        );
        assert_eq!(err("sip:a@b;;x").kind, ErrorKind::EmptyElement);
        assert_eq!(err("sip:a@b?").kind, ErrorKind::InvalidUri);
        assert_eq!(err("sip:a@b?x").kind, ErrorKind::InvalidUri);
        assert_eq!(err("1sip:a").kind, ErrorKind::InvalidUri);
        assert_eq!(err("sipa").kind, ErrorKind::InvalidUri);
        assert_eq!(err("sip:@b").kind, ErrorKind::InvalidUri);
        assert_eq!(err("sip:a\0@b").kind, ErrorKind::InvalidUri);
        let long = format!("sip:{}@b", "a".repeat(5000));
        assert_eq!(err(&long).kind, ErrorKind::UriTooLong);
    }

    #[test]
    fn request_uri_headers() {
        let s = b"sip:user@example.com?Route=%3Csip:example.com%3E";
        let e = Uri::parse_request_uri(s, &ParseOptions::STRICT, &mut Vec::new()).unwrap_err();
        assert_eq!(e, Error::new(ErrorKind::HeadersInRequestUri, 20));
        let mut d = Vec::new();
        let u = Uri::parse_request_uri(s, &ParseOptions::LIBERAL, &mut d).unwrap();
        assert_eq!(d, vec![Error::new(ErrorKind::HeadersInRequestUri, 20)]);
        assert_eq!(u.headers().count(), 1);
        assert!(Uri::parse(s, &ParseOptions::STRICT, &mut Vec::new()).is_ok());
    }

    #[test]
    fn other_schemes() {
        for s in [
            "nobodyKnowsThisScheme:totallyopaquecontent",
            "soap.beep://192.0.2.103:3002",
            "isbn:2983792873",
            "http://www.example.com",
            "name:John_Smith",
        ] {
            let u = p(s);
            assert!(matches!(u.scheme(), Scheme::Other(_)));
            assert_eq!(u.host(), None);
            assert_eq!(u.as_bytes(), s.as_bytes());
        }
        assert_eq!(err("foo:").kind, ErrorKind::InvalidUri);
    }

    #[test]
    fn tel() {
        let u = p("tel:+1-201-555-0123;ext=1234");
        assert!(u.is_global_number());
        assert_eq!(u.user(), Some(&b"+1-201-555-0123"[..]));
        assert_eq!(u.ext(), Some(&b"1234"[..]));
        let u = p("tel:7042;phone-context=example.com");
        assert!(!u.is_global_number());
        assert_eq!(u.phone_context(), Some(&b"example.com"[..]));
        assert_eq!(err("tel:7042").kind, ErrorKind::InvalidUri);
        assert_eq!(err("tel:+").kind, ErrorKind::InvalidUri);
        assert_eq!(err("tel:+12x").kind, ErrorKind::InvalidUri);
        assert!(uri_eq(&p("tel:+1-201-555-0123"), &p("tel:+1(201)5550123")));
        assert!(!uri_eq(
            &p("tel:+1-201-555-0123"),
            &p("tel:+1-201-555-0124")
        ));
        assert!(!uri_eq(
            &p("tel:+12015550123;ext=1"),
            &p("tel:+12015550123")
        ));
    }

    #[test]
    fn rfc3261_19_1_4_equal() {
        let eq = [
            (
                "sip:%61lice@atlanta.com;transport=TCP",
                "sip:alice@AtLanTa.CoM;Transport=tcp",
            ),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
            (
                "sip:carol@chicago.com;newparam=5",
                "sip:carol@chicago.com;security=on",
            ),
            (
                "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
            ),
            (
                "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
            ),
            ("sip:[2001:DB8::1]", "sip:[2001:db8::1]"),
            ("sip:a@b;lr", "sip:a@b"),
        ];
        for (a, b) in eq {
            assert!(uri_eq(&p(a), &p(b)), "{a} == {b}");
            assert!(uri_eq(&p(b), &p(a)), "{b} == {a}");
        }
    }

    #[test]
    fn rfc3261_19_1_4_unequal() {
        let ne = [
            (
                "SIP:ALICE@AtLanTa.CoM;Transport=udp",
                "sip:alice@AtLanTa.CoM;Transport=UDP",
            ),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
            (
                "sip:bob@biloxi.com",
                "sip:bob@biloxi.com:6000;transport=tcp",
            ),
            (
                "sip:carol@chicago.com",
                "sip:carol@chicago.com?Subject=next%20meeting",
            ),
            ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
            ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
            ("sip:a;b@h", "sip:a%3Bb@h"),
            (
                "sip:carol@chicago.com;security=on",
                "sip:carol@chicago.com;security=off",
            ),
            ("sip:a:x@h", "sip:a@h"),
        ];
        for (a, b) in ne {
            assert!(!uri_eq(&p(a), &p(b)), "{a} != {b}");
            assert!(!uri_eq(&p(b), &p(a)), "{b} != {a}");
        }
        // The scheme compares case-insensitively.
        assert!(uri_eq(
            &p("SIP:alice@atlanta.com"),
            &p("sip:alice@atlanta.com")
        ));
        assert!(uri_eq(&p("urn:x:%41"), &p("URN:x:A")));
    }
}
