//! One-pass readers of the fields every consumer reads (the From/To tag, the top Via's branch)
//! for header values of the common shapes.
//!
//! Each accepts a subset of what the full parser accepts and answers as it would; anything
//! else (other shapes, and every invalid value) returns `None`, and the caller runs the full
//! parse, which gives the answer or the error. The checks avoid data-dependent branches where
//! they can (runs are found first, then their bytes checked with flags that are OR-ed, not
//! tested one by one): a mispredicted branch costs more than the byte it looks at.

use super::via::via_param_ok;
use super::{at, from, sub};
use crate::scan::{self, end_of_quoted, HostMasks};
use crate::ParseOptions;

const HOST: u8 = 1; // alphanum / "-" / "."
const ALPHA: u8 = 1 << 1;
const DIGIT: u8 = 1 << 2;
const TOKEN: u8 = 1 << 3; // RFC 3261 §25.1 token
const USER: u8 = 1 << 4; // alphanum / "-" / "_" / "." / "+": a subset of `user`
const PARAM: u8 = 1 << 5; // unreserved: a subset of `paramchar`

const fn class_of(b: u8) -> u8 {
    let alnum = b.is_ascii_alphanumeric();
    let mut c = 0;
    if alnum || b == b'-' || b == b'.' {
        c |= HOST;
    }
    if b.is_ascii_alphabetic() {
        c |= ALPHA;
    }
    if b.is_ascii_digit() {
        c |= DIGIT;
    }
    if alnum
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
    {
        c |= TOKEN;
    }
    if alnum || matches!(b, b'-' | b'_' | b'.' | b'+') {
        c |= USER;
    }
    if alnum
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
    {
        c |= PARAM;
    }
    c
}

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = class_of(i as u8);
        i += 1;
    }
    t
};

#[inline(always)]
fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

/// Whether every byte of `s` is in `mask` (no early exit: one predictable loop).
#[inline]
fn all(s: &[u8], mask: u8) -> bool {
    s.iter().fold(mask, |acc, &b| acc & class(b)) == mask
}

/// End of the run of `mask` bytes from `i` (`mask` is one class): four bytes a step while all
/// four are in it (one branch where there were four), then byte by byte.
#[inline]
fn run(s: &[u8], mut i: usize, mask: u8) -> usize {
    debug_assert!(mask.is_power_of_two());
    while let Some(&[a, b, c, d]) = s.get(i..).and_then(|r| r.first_chunk::<4>()) {
        if class(a) & class(b) & class(c) & class(d) & mask == 0 {
            break;
        }
        i += 4;
    }
    while at(s, i).is_some_and(|b| class(b) & mask != 0) {
        i += 1;
    }
    i
}

/// `n.eq_ignore_ascii_case(want)` for a `want` of lowercase letters: OR-ing 0x20 makes a
/// letter lowercase and makes no other byte one (a byte that becomes a lowercase letter was
/// an uppercase one).
#[inline]
fn is_name(n: &[u8], want: &[u8]) -> bool {
    debug_assert!(want.iter().all(u8::is_ascii_lowercase));
    n.len() == want.len() && n.iter().zip(want).all(|(&a, &b)| a | 0x20 == b)
}

/// `IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT`, each at most 255.
fn ipv4(s: &[u8]) -> bool {
    // One pass, no slice compares: each group 1-3 digits of value at most 255 (with three
    // digits that is the same as sorting at most "255"; leading zeros are digits too).
    if s.len() > 15 {
        return false;
    }
    let (mut groups, mut len, mut value) = (1u32, 0u32, 0u32);
    for &b in s {
        if b == b'.' {
            if len == 0 {
                return false;
            }
            groups += 1;
            (len, value) = (0, 0);
        } else {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return false;
            }
            len += 1;
            value = value * 10 + u32::from(d);
            if len > 3 || value > 255 {
                return false;
            }
        }
    }
    groups == 4 && len > 0
}

/// [`ipv4`] of a string known to hold digits and dots only, its dots at the bits of `dots`:
/// the groups found from the mask, a three-digit group compared with "255" as text (the
/// same as by value for three digits).
fn ipv4_digits(s: &[u8], dots: u64) -> bool {
    if !(7..=15).contains(&s.len()) || dots.count_ones() != 3 {
        return false;
    }
    let (mut start, mut rest) = (0usize, dots);
    for _ in 0..4 {
        let end = if rest == 0 {
            s.len()
        } else {
            rest.trailing_zeros() as usize
        };
        rest &= rest.wrapping_sub(1);
        match end.checked_sub(start) {
            Some(1 | 2) => {}
            Some(3) if s.get(start..end).is_some_and(|g| g <= b"255".as_slice()) => {}
            _ => return false,
        }
        start = end + 1;
    }
    true
}

/// Whether all of `s` is a hostname or an IPv4 address: what `uri::scan_host` accepts over
/// its whole length (labels of alphanum and inner `-`, no empty label, a top label starting
/// with a letter, an optional trailing `.`; digits and dots only must be an IPv4 address).
/// The label rules are checked on bit masks of the dots and dashes (hosts of up to 64 bytes;
/// longer ones are left to the full parse).
fn host(s: &[u8]) -> bool {
    if s.is_empty() {
        return false;
    }
    let Some(HostMasks {
        dots,
        dashes,
        other,
        alpha,
    }) = scan::host_masks(s)
    else {
        return false;
    };
    if other != 0 {
        return false;
    }
    if alpha == 0 && dashes == 0 {
        return ipv4_digits(s, dots);
    }
    let last = 1u64 << (s.len() - 1);
    // A label may not be empty (a leading dot, two dots), nor start or end with "-".
    let bad = (dots & 1) | (dots & (dots << 1)) | (dashes & (dots << 1)) | (dots & (dashes << 1));
    if bad != 0 || (dashes & (1 | last)) != 0 {
        return false;
    }
    // The top label starts after the last dot, or after the one before it when the name
    // ends with a dot.
    let inner = dots & !last;
    let top = if inner == 0 {
        0
    } else {
        64 - inner.leading_zeros() as usize
    };
    alpha & (1u64 << top) != 0
}

/// `;name[=value]` parameters from `i`, names and values of `name`/`value` bytes, up to the end
/// of `s` or a byte of `stop`. Returns the first value of `want` (its presence, then its value)
/// and where the list ends; `None` for any other shape, an empty name or value, more than
/// `max` parameters, or a parameter `ok` refuses.
#[inline]
fn params<'a>(
    s: &'a [u8],
    mut i: usize,
    (name, value): (u8, u8),
    stop: u8,
    max: u16,
    want: &[u8],
    mut ok: impl FnMut(&[u8], Option<&[u8]>) -> bool,
) -> Option<(Option<Option<&'a [u8]>>, usize)> {
    let (mut found, mut count) = (None, 0u16);
    while let Some(b) = at(s, i) {
        if b == stop {
            break;
        }
        if b != b';' {
            return None;
        }
        let n1 = run(s, i + 1, name);
        if n1 == i + 1 {
            return None;
        }
        let n = sub(s, i + 1, n1);
        let v = if at(s, n1) == Some(b'=') {
            i = run(s, n1 + 1, value);
            if i == n1 + 1 {
                return None;
            }
            Some(sub(s, n1 + 1, i))
        } else {
            i = n1;
            None
        };
        count += 1;
        if count > max || !ok(n, v) {
            return None;
        }
        // `Params::get`: the first parameter of the name counts, with or without a value.
        if found.is_none() && is_name(n, want) {
            found = Some(v);
        }
    }
    Some((found, i))
}

/// Whether `u` is a SIP or SIPS URI of the common shape, which `Uri::parse` accepts:
/// `sip:` or `sips:`, an optional user of alphanum `-` `_` `.` `+` and `@`, a hostname or IPv4
/// address, an optional port, and `;name[=value]` parameters of unreserved characters.
fn sip_uri(u: &[u8], opts: &ParseOptions) -> bool {
    if u.len() > opts.limits.max_uri as usize {
        return false;
    }
    let Some(rest) = u.strip_prefix(b"sip:").or_else(|| u.strip_prefix(b"sips:")) else {
        return false;
    };
    let h0 = match memchr::memchr(b'@', rest) {
        Some(0) => return false,
        Some(a) if all(sub(rest, 0, a), USER) => a + 1,
        Some(_) => return false,
        None => 0,
    };
    let h1 = run(rest, h0, HOST);
    if !host(sub(rest, h0, h1)) {
        return false;
    }
    let mut i = h1;
    if at(rest, i) == Some(b':') {
        let p1 = run(rest, i + 1, DIGIT);
        let port = super::digits_saturating(sub(rest, i + 1, p1), 70000);
        if p1 - (i + 1) > 5 || !port.is_some_and(|p| p <= 65535) {
            return false;
        }
        i = p1;
    }
    let (pn, pv) = (PARAM, PARAM);
    params(rest, i, (pn, pv), 0, opts.limits.max_params, b"", |_, _| {
        true
    })
    .is_some_and(|(_, end)| end == rest.len())
}

/// The `tag` parameter of a From or To value of the common shape: an optional display name
/// (a quoted string, or tokens and spaces), then a URI the SIP URI reader accepts in `<` `>`, or
/// alone (an addr-spec with an `@`); then `;name[=value]` parameters of token characters
/// (RFC 3261 §19.3: the tag is a token). `Some(tag)` is what
/// `parse_name_addr(v).map(|n| n.tag())` gives; `None` leaves the value to that full parse.
pub fn tag_fast<'a>(v: &'a [u8], opts: &ParseOptions) -> Option<Option<&'a [u8]>> {
    addr_fast(v, opts).map(|a| a.tag)
}

/// What [`addr_fast`] reads of a From or To value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrFast<'a> {
    /// The URI (without `<` `>`): what `NameAddr::uri().as_bytes()` gives.
    pub uri: &'a [u8],
    pub tag: Option<&'a [u8]>,
}

/// [`tag_fast`] with the URI: the same shapes, the same answers as `parse_name_addr`.
pub fn addr_fast<'a>(v: &'a [u8], opts: &ParseOptions) -> Option<AddrFast<'a>> {
    let lt = match v.first()? {
        b'"' => {
            let qe = end_of_quoted(v, 0).ok()?;
            qe + from(v, qe).iter().take_while(|&&b| b == b' ').count()
        }
        b'<' => 0,
        _ => v
            .iter()
            .take_while(|&&b| class(b) & TOKEN != 0 || b == b' ')
            .count(),
    };
    let (uri, p) = match at(v, lt) {
        Some(b'<') => {
            let gt = lt + 1 + memchr::memchr(b'>', from(v, lt + 1))?;
            (sub(v, lt + 1, gt), gt + 1)
        }
        // An addr-spec: the token run was its scheme (no display name), and the URI ends at
        // the first `;` (RFC 3261 §20). Its `@` rules out a `;` inside the user part.
        Some(b':') if lt > 0 && !sub(v, 0, lt).contains(&b' ') => {
            let ue = memchr::memchr(b';', v).unwrap_or(v.len());
            let u = sub(v, 0, ue);
            if !u.contains(&b'@') {
                return None;
            }
            (u, ue)
        }
        _ => return None,
    };
    if !sip_uri(uri, opts) {
        return None;
    }
    let (tag, end) = params(
        v,
        p,
        (TOKEN, TOKEN),
        0,
        opts.limits.max_params,
        b"tag",
        |_, _| true,
    )?;
    (end == v.len()).then_some(AddrFast {
        uri,
        tag: tag.flatten(),
    })
}

/// The branch of the first via-parm of a Via value of the common shape: `SIP/2.0/`, a
/// transport of letters, one SP, a hostname or IPv4 address, an optional port, then
/// `;name[=value]` parameters of token characters that the via-parm checks pass, up to the
/// end or a `,`. `Some(branch)` is what `parse_via_list(value).next()` gives (its branch);
/// `None` leaves the value to that full parse.
pub fn top_branch_fast<'a>(value: &'a [u8], opts: &ParseOptions) -> Option<Option<&'a [u8]>> {
    via_fast(value, opts).map(|v| v.branch)
}

/// What [`via_fast`] reads of the first via-parm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViaFast<'a> {
    pub transport: &'a [u8],
    /// A hostname or an IPv4 address (the shapes this path takes).
    pub host: &'a [u8],
    pub port: Option<u16>,
    pub branch: Option<&'a [u8]>,
}

/// [`top_branch_fast`] with the transport and the sent-by: the same shapes, the same answers
/// as `parse_via_list(value).next()` (`Via::transport`, `host`, `port`, `branch`).
pub fn via_fast<'a>(value: &'a [u8], opts: &ParseOptions) -> Option<ViaFast<'a>> {
    let rest = value.strip_prefix(b"SIP/2.0/")?;
    let t = run(rest, 0, ALPHA);
    if t == 0 || at(rest, t) != Some(b' ') || opts.limits.max_list_items == 0 {
        return None;
    }
    let h1 = run(rest, t + 1, HOST);
    if !host(sub(rest, t + 1, h1)) {
        return None;
    }
    let mut i = h1;
    let mut port = None;
    if at(rest, i) == Some(b':') {
        let p1 = run(rest, i + 1, DIGIT);
        let n = super::digits_saturating(sub(rest, i + 1, p1), 70000);
        if p1 - (i + 1) > 5 {
            return None;
        }
        port = Some(n.and_then(|n| u16::try_from(n).ok())?);
        i = p1;
    }
    let (branch, _) = params(
        rest,
        i,
        (TOKEN, TOKEN),
        b',',
        opts.limits.max_params,
        b"branch",
        |n, v| match v {
            // The usual values, checked here without the general host parser.
            Some(v) if is_name(n, b"received") => ipv4(v),
            // via-branch = "branch" EQUAL token: the value is a token run already.
            Some(_) if is_name(n, b"branch") => true,
            _ => via_param_ok(n, v),
        },
    )?;
    Some(ViaFast {
        transport: sub(rest, 0, t),
        host: sub(rest, t + 1, h1),
        port,
        branch: branch.flatten(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::Uri;

    /// IPv4address as the grammar reads (RFC 3261 §25.1): four dot-separated groups of 1-3
    /// digits, each at most 255.
    fn ipv4_by_grammar(s: &[u8]) -> bool {
        let groups: Vec<&[u8]> = s.split(|&b| b == b'.').collect();
        groups.len() == 4
            && groups.iter().all(|g| {
                (1..=3).contains(&g.len())
                    && g.iter().all(u8::is_ascii_digit)
                    && std::str::from_utf8(g)
                        .ok()
                        .and_then(|t| t.parse::<u32>().ok())
                        <= Some(255)
            })
    }

    #[test]
    fn is_name_is_eq_ignore_ascii_case_for_lowercase_names() {
        // Every byte against every lowercase letter: only the letter and its capital match
        // (`@`, `[`, `` ` ``, `{` and bytes past 0x7f OR into no letter they are not).
        for want in b'a'..=b'z' {
            for b in 0..=u8::MAX {
                assert_eq!(
                    is_name(&[b], &[want]),
                    [b].eq_ignore_ascii_case(&[want]),
                    "{b:#04x} against {:?}",
                    want as char
                );
            }
        }
        // Whole names: case, length and one odd byte anywhere.
        for (n, want, same) in [
            (&b"branch"[..], &b"branch"[..], true),
            (b"BRANCH", b"branch", true),
            (b"BrAnCh", b"branch", true),
            (b"branc", b"branch", false),
            (b"branchx", b"branch", false),
            (b"", b"branch", false),
            (b"br@nch", b"branch", false),
            (b"t@g", b"tag", false),
            (b"ta\xc7", b"tag", false),
            (b"", b"", true),
        ] {
            assert_eq!(is_name(n, want), same, "{n:?}");
            assert_eq!(n.eq_ignore_ascii_case(want), same, "{n:?}");
        }
    }

    #[test]
    fn ipv4_matches_the_grammar_on_every_short_digit_and_dot_string() {
        // Every string of up to 7 bytes over "0", "2", "5", "6", "9", "." and "x", and the
        // longer shapes near the limits.
        let alphabet = b"02569.x";
        let mut n = 0;
        let mut stack: Vec<Vec<u8>> = vec![Vec::new()];
        while let Some(s) = stack.pop() {
            assert_eq!(
                ipv4(&s),
                ipv4_by_grammar(&s),
                "{:?}",
                String::from_utf8_lossy(&s)
            );
            if s.iter().all(|&b| b == b'.' || b.is_ascii_digit()) {
                let dots = crate::scan::host_masks(&s).map_or(0, |m| m.dots);
                assert_eq!(
                    ipv4_digits(&s, dots),
                    ipv4_by_grammar(&s),
                    "{:?}",
                    String::from_utf8_lossy(&s)
                );
            }
            n += 1;
            if s.len() < 7 {
                for &b in alphabet {
                    let mut t = s.clone();
                    t.push(b);
                    stack.push(t);
                }
            }
        }
        assert!(n > 900_000);
        for s in [
            &b"255.255.255.255"[..],
            b"256.1.1.1",
            b"1.1.1.256",
            b"001.002.003.004",
            b"1.2.3.4.",
            b".1.2.3.4",
            b"1.2.3.4.5",
            b"1111.2.3.4",
            b"192.168.010.020",
            b"999.999.999.999",
            b"1..2.3",
        ] {
            assert_eq!(
                ipv4(s),
                ipv4_by_grammar(s),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
        // The mask form on digit-and-dot strings of every length up to 17: a fixed sample
        // (a linear congruential sequence), weighted to the shapes of addresses.
        let alphabet = b"0125689..";
        let (mut x, mut valid): (u64, usize) = (0x9E37_79B9_7F4A_7C15, 0);
        for _ in 0..300_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let s: Vec<u8> = if x & 1 == 0 {
                let len = 5 + (x >> 59) as usize % 13;
                (0..len)
                    .map(|i| alphabet[((x >> (i * 3 % 56)) as usize) % alphabet.len()])
                    .collect()
            } else {
                // Address-shaped: 3-5 groups of 0-4 digits.
                let groups = 3 + (x >> 61) as usize % 3;
                let mut v = Vec::new();
                for g in 0..groups {
                    if g > 0 {
                        v.push(b'.');
                    }
                    let bits = x >> (g * 11 + 1);
                    let len = [1, 2, 3, 3, 2, 1, 0, 4][(bits & 7) as usize];
                    for d in 0..len {
                        v.push(b"0125689"[((bits >> (3 + d * 2)) % 7) as usize]);
                    }
                }
                v
            };
            let dots = crate::scan::host_masks(&s).map_or(0, |m| m.dots);
            let want = ipv4_by_grammar(&s);
            valid += usize::from(want);
            assert_eq!(
                ipv4_digits(&s, dots),
                want,
                "{:?}",
                String::from_utf8_lossy(&s)
            );
        }
        assert!(valid > 5_000, "{valid} addresses in the sample");
        for s in [&b"255.255.255.255"[..], b"255.255.255.256", b"10.20.0.5"] {
            let dots = crate::scan::host_masks(s).map_or(0, |m| m.dots);
            assert_eq!(ipv4_digits(s, dots), ipv4_by_grammar(s));
        }
    }

    #[test]
    fn host_and_ipv4_agree_with_host_parse() {
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for base in [
            &b"proxy.atlanta.example.com"[..],
            b"a-b.c",
            b"192.0.2.10",
            b"255.255.255.255",
            b"example.com.",
            b"x1.y2",
        ] {
            cases.push(base.to_vec());
            for i in 0..=base.len() {
                for b in [b'.', b'-', b'0', b'9', b'a', b'Z', b'_', b'2', b'6'] {
                    let mut m = base.to_vec();
                    m.insert(i, b);
                    cases.push(m);
                    if i < base.len() {
                        let mut r = base.to_vec();
                        r[i] = b;
                        cases.push(r);
                    }
                }
                cases.push(base[..i].to_vec());
            }
        }
        let mut yes = 0;
        for c in &cases {
            // The same verdict as the general scanner over the whole run.
            let (len, h) = crate::uri::scan_host(c);
            assert_eq!(
                host(c),
                len == c.len() && h.is_some(),
                "{:?}",
                String::from_utf8_lossy(c)
            );
            if host(c) {
                yes += 1;
                assert!(
                    crate::uri::Host::parse(c).is_ok(),
                    "{:?}",
                    String::from_utf8_lossy(c)
                );
            }
            if ipv4(c) {
                assert!(
                    crate::uri::Host::parse_ip(c).is_ok(),
                    "{:?}",
                    String::from_utf8_lossy(c)
                );
            }
        }
        assert!(yes > cases.len() / 4, "{yes} of {}", cases.len());
    }

    #[test]
    fn sip_uri_implies_uri_parse() {
        for u in [
            &b"sip:alice@atlanta.example.com"[..],
            b"sips:+14045550123@a.example.com:5061;user=phone;lr",
            b"sip:192.0.2.1",
            b"sip:a_b.c-d@h",
        ] {
            assert!(
                sip_uri(u, &ParseOptions::STRICT),
                "{:?}",
                String::from_utf8_lossy(u)
            );
            assert!(Uri::parse(u, &ParseOptions::STRICT, &mut Vec::new()).is_ok());
        }
        for u in [
            &b"sip:@h"[..],
            b"sip:a@h;",
            b"sip:a@h:70000",
            b"sip:a%41@h",
            b"tel:+1",
            b"sip:a@h?x=y",
            b"sip:a:pw@h",
        ] {
            assert!(
                !sip_uri(u, &ParseOptions::STRICT),
                "{:?}",
                String::from_utf8_lossy(u)
            );
        }
    }
}
