//! name-addr / addr-spec headers: From, To, Contact, Route, Record-Route, Reply-To,
//! P-Asserted-Identity, P-Preferred-Identity, Refer-To, Referred-By (RFC 3261 §20, §25.1).
//!
//! ```text
//! name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
//! display-name = *(token LWS) / quoted-string
//! from-spec    = ( name-addr / addr-spec ) *( SEMI from-param )
//! ```
//!
//! RFC 3261 §20: when the URI is not in `<>`, everything after its first `;` is a header
//! parameter, and the URI may not hold `,` `;` or `?` (RFC 4475 §3.3.12, §3.1.2.18).

use std::borrow::Cow;

use super::params::{parse_params, unquote, ParamSyntax, Params};
use super::{at, from, offset_in, parse_bounded, repair, shifted, sub, HeaderList};
use crate::scan::{self, end_of_quoted, is_lws, skip_lws, trim_lws};
use crate::uri::Uri;
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

/// One name-addr or addr-spec with its header parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NameAddr<'a> {
    raw: &'a [u8],
    display_name: Option<&'a [u8]>,
    uri: Uri<'a>,
    params: Params<'a>,
    bracketed: bool,
}

impl<'a> NameAddr<'a> {
    /// The element as given (trimmed of LWS).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }
    /// The display name as written: a quoted-string with its quotes, or the tokens.
    pub fn display_name(&self) -> Option<&'a [u8]> {
        self.display_name
    }
    /// The display name without quotes and with quoted-pairs resolved.
    pub fn display_name_unquoted(&self) -> Option<Cow<'a, [u8]>> {
        self.display_name.map(unquote)
    }
    pub fn uri(&self) -> &Uri<'a> {
        &self.uri
    }
    /// Header parameters (after `>`, or after the addr-spec).
    pub fn params(&self) -> Params<'a> {
        self.params
    }
    /// Whether the URI was in `<` `>`.
    pub fn bracketed(&self) -> bool {
        self.bracketed
    }
    pub fn tag(&self) -> Option<&'a [u8]> {
        self.params.value(b"tag")
    }
}

/// Parses one name-addr or addr-spec with its parameters.
///
/// Repairs (each recorded as a diagnostic when its flag is on, an error otherwise):
/// `UnterminatedQuote` (closed at the `<`, RFC 4475 §3.1.2.6), `InvalidDisplayName`
/// (unquoted non-token display name, §3.1.2.16), `WhitespaceInUri` (LWS just inside `<` `>`,
/// §3.1.2.15), `UnbracketedUri` (addr-spec holding `?`, `,` or a `;` user part, §3.1.2.18).
/// No LWS before `<` is accepted (§3.1.1.6).
pub fn parse_name_addr<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<NameAddr<'a>> {
    let start = skip_lws(v, 0);
    let end = super::trimmed_end(v).max(start);
    if start == end {
        return Err(Error::new(ErrorKind::InvalidHeaderValue, start));
    }
    let raw = sub(v, start, end);
    let len = opts.leniency;
    // Where the `<` is and the display name before it; `None` for an addr-spec.
    let bracket = match at(v, start) {
        Some(b'"') => match end_of_quoted(v, start) {
            Ok(qe) => {
                let lt = skip_lws(v, qe);
                if at(v, lt) != Some(b'<') {
                    return Err(Error::new(ErrorKind::InvalidHeaderValue, lt));
                }
                Some((lt, Some(sub(v, start, qe))))
            }
            Err(ErrorKind::UnterminatedQuote) => {
                let Some(p) = memchr::memchr(b'<', from(v, start)) else {
                    return Err(Error::new(ErrorKind::UnterminatedQuote, start));
                };
                repair(
                    len.unterminated_quote,
                    ErrorKind::UnterminatedQuote,
                    start,
                    diags,
                )?;
                let lt = start + p;
                Some((lt, Some(trim_lws(sub(v, start, lt)))))
            }
            Err(k) => return Err(Error::new(k, start)),
        },
        Some(b'<') => Some((start, None)),
        _ => {
            // display-name = *(token LWS), or the scheme of an addr-spec.
            let mut i = start;
            let mut saw_lws = false;
            while let Some(c) = at(v, i).filter(|_| i < end) {
                if scan::is_token_char(c) {
                    i += 1;
                } else if is_lws(c) {
                    saw_lws = true;
                    i += 1;
                } else {
                    break;
                }
            }
            match at(v, i).filter(|_| i < end) {
                Some(b'<') => {
                    let dn = trim_lws(sub(v, start, i));
                    Some((i, Some(dn).filter(|d| !d.is_empty())))
                }
                Some(b':') if !saw_lws && i > start => None,
                _ => match memchr::memchr(b'<', sub(v, i, end)) {
                    Some(p) => {
                        repair(
                            len.unquoted_display_name,
                            ErrorKind::InvalidDisplayName,
                            i,
                            diags,
                        )?;
                        let lt = i + p;
                        Some((lt, Some(trim_lws(sub(v, start, lt)))))
                    }
                    None => None,
                },
            }
        }
    };
    match bracket {
        Some((lt, display_name)) => bracketed(v, raw, end, lt, display_name, opts, diags),
        None => addr_spec(v, raw, start, end, opts, diags),
    }
}

/// `LAQUOT addr-spec RAQUOT *( SEMI param )` with `<` at `lt`.
#[inline]
fn bracketed<'a>(
    v: &'a [u8],
    raw: &'a [u8],
    end: usize,
    lt: usize,
    display_name: Option<&'a [u8]>,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<NameAddr<'a>> {
    let Some(p) = memchr::memchr(b'>', sub(v, lt + 1, end)) else {
        return Err(Error::new(ErrorKind::UnterminatedAngle, lt));
    };
    let gt = lt + 1 + p;
    let inner = sub(v, lt + 1, gt);
    let t = trim_lws(inner);
    if t.len() != inner.len() {
        repair(
            opts.leniency.whitespace_in_uri,
            ErrorKind::WhitespaceInUri,
            lt + 1,
            diags,
        )?;
    }
    let uoff = offset_in(v, t);
    let uri = shifted(uoff, diags, |d| Uri::parse(t, opts, d))?;
    let praw = sub(v, gt + 1, end);
    let params = shifted(gt + 1, diags, |d| {
        parse_params(praw, ParamSyntax::Header, opts, d)
    })?;
    Ok(NameAddr {
        raw,
        display_name,
        uri,
        params,
        bracketed: true,
    })
}

/// `addr-spec *( SEMI param )`: the URI ends at the first LWS or `;`.
fn addr_spec<'a>(
    v: &'a [u8],
    raw: &'a [u8],
    start: usize,
    end: usize,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<NameAddr<'a>> {
    let seg = sub(v, start, end);
    let stop = |s: &[u8], from_i: usize| {
        let mut k = from_i;
        while let Some(c) = at(s, k) {
            if c == b';' || is_lws(c) {
                break;
            }
            k += 1;
        }
        k
    };
    let mut ue = stop(seg, 0);
    // A ';' inside the user part (`sip:user;par=x@host`): the run after it reaches an '@'
    // through userinfo characters only. Legal only inside <> (RFC 3261 §20).
    if at(seg, ue) == Some(b';') && !sub(seg, 0, ue).contains(&b'@') {
        let mut k = ue;
        while at(seg, k).is_some_and(|c| scan::is_unreserved(c) || b"&=+$,;?/:%".contains(&c)) {
            k += 1;
        }
        if at(seg, k) == Some(b'@') {
            repair(
                opts.leniency.unbracketed_uri,
                ErrorKind::UnbracketedUri,
                start + ue,
                diags,
            )?;
            ue = stop(seg, k);
        }
    }
    let u = sub(seg, 0, ue);
    if let Some(p) = u.iter().position(|&c| c == b'?' || c == b',') {
        repair(
            opts.leniency.unbracketed_uri,
            ErrorKind::UnbracketedUri,
            start + p,
            diags,
        )?;
    }
    let uri = shifted(start, diags, |d| Uri::parse(u, opts, d))?;
    let praw = from(seg, ue);
    let params = shifted(start + ue, diags, |d| {
        parse_params(praw, ParamSyntax::Header, opts, d)
    })?;
    Ok(NameAddr {
        raw,
        display_name: None,
        uri,
        params,
        bracketed: false,
    })
}

/// A Contact value (RFC 3261 §20.10): `*` or a name-addr / addr-spec with contact-params.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Contact<'a> {
    Star,
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    pub fn addr(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => Some(a),
        }
    }
    /// `expires` in seconds (`delta-seconds`, clamped to 2^32-1).
    pub fn expires(&self) -> Option<u32> {
        let v = self.addr()?.params().value(b"expires")?;
        let n = super::digits_saturating(v, u64::from(u32::MAX))?;
        u32::try_from(n).ok()
    }
    /// `q` in thousandths (0..=1000, RFC 3261 §20.10 `qvalue`).
    pub fn q(&self) -> Option<u16> {
        parse_qvalue(self.addr()?.params().value(b"q")?).map(|(q, _)| q.min(1000))
    }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`: the value in thousandths
/// and whether it is in range. `None` when it is not a number of that shape.
fn parse_qvalue(s: &[u8]) -> Option<(u16, bool)> {
    let (int, frac) = match memchr::memchr(b'.', s) {
        Some(p) => (sub(s, 0, p), from(s, p + 1)),
        None => (s, &[][..]),
    };
    if int.is_empty()
        || int.len() > 3
        || frac.len() > 3
        || !int.iter().chain(frac).all(u8::is_ascii_digit)
    {
        return None;
    }
    let i = super::digits_saturating(int, 1000)?;
    let mut f = 0u64;
    for k in 0..3 {
        f = f * 10 + frac.get(k).map_or(0, |d| u64::from(d.wrapping_sub(b'0')));
    }
    let v = i
        .saturating_mul(1000)
        .saturating_add(f)
        .min(u64::from(u16::MAX));
    Some((u16::try_from(v).unwrap_or(u16::MAX), v <= 1000))
}

/// Parses one Contact element: `*`, or a name-addr / addr-spec whose `expires` is
/// `delta-seconds` below 2^32 and whose `q` is a qvalue (`NumberOutOfRange`, clamped when
/// `numbers_out_of_range` is allowed).
pub fn parse_contact<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<Contact<'a>> {
    if trim_lws(v) == b"*" {
        return Ok(Contact::Star);
    }
    let na = parse_name_addr(v, opts, diags)?;
    let praw = na.params().as_bytes();
    let base = offset_in(v, praw);
    for (name, value) in na.params().iter() {
        let off = |x: &[u8]| base + offset_in(praw, x);
        if name.eq_ignore_ascii_case(b"expires") {
            let e = value.ok_or(Error::new(ErrorKind::InvalidHeaderValue, off(name)))?;
            parse_bounded(
                e,
                off(e),
                u64::from(u32::MAX),
                ErrorKind::InvalidHeaderValue,
                opts,
                diags,
            )?;
        } else if name.eq_ignore_ascii_case(b"q") {
            let q = value.ok_or(Error::new(ErrorKind::InvalidHeaderValue, off(name)))?;
            match parse_qvalue(q) {
                None => return Err(Error::new(ErrorKind::InvalidHeaderValue, off(q))),
                Some((_, false)) => repair(
                    opts.leniency.numbers_out_of_range,
                    ErrorKind::NumberOutOfRange,
                    off(q),
                    diags,
                )?,
                Some((_, true)) => {}
            }
        }
    }
    Ok(Contact::Addr(na))
}

/// The elements of a From-like list header (Route, Record-Route, P-Asserted-Identity, ...).
pub type NameAddrList<'a, 'o> = HeaderList<'a, 'o, NameAddr<'a>>;

/// Iterates the comma-separated name-addrs of one header value (offsets relative to `value`).
pub fn parse_name_addr_list<'a, 'o>(
    value: &'a [u8],
    opts: &'o ParseOptions,
    diags: &'o mut Vec<Diagnostic>,
) -> NameAddrList<'a, 'o> {
    HeaderList::new(value, parse_name_addr, opts, diags)
}

/// Contacts of one Contact header value. `*` mixed with addresses is reported by
/// [`ContactList`] as `InvalidHeaderValue`.
pub struct ContactList<'a, 'o> {
    inner: HeaderList<'a, 'o, Contact<'a>>,
    star: bool,
    addr: bool,
}

impl<'a> Iterator for ContactList<'a, '_> {
    type Item = Result<Contact<'a>>;
    fn next(&mut self) -> Option<Result<Contact<'a>>> {
        let item = self.inner.next()?;
        if let Ok(c) = &item {
            match c {
                Contact::Star => self.star = true,
                Contact::Addr(_) => self.addr = true,
            }
            // STAR stands alone (RFC 3261 §20.10).
            if self.star && self.addr {
                let off = self.inner.last_offset();
                return Some(Err(Error::new(ErrorKind::InvalidHeaderValue, off)));
            }
        }
        Some(item)
    }
}

/// Iterates the Contact elements of one header value (offsets relative to `value`).
pub fn parse_contact_list<'a, 'o>(
    value: &'a [u8],
    opts: &'o ParseOptions,
    diags: &'o mut Vec<Diagnostic>,
) -> ContactList<'a, 'o> {
    ContactList {
        inner: HeaderList::new(value, parse_contact, opts, diags),
        star: false,
        addr: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::Scheme;

    fn na(s: &str) -> NameAddr<'_> {
        parse_name_addr(s.as_bytes(), &ParseOptions::STRICT, &mut Vec::new())
            .unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }
    fn err(s: &str) -> Error {
        parse_name_addr(s.as_bytes(), &ParseOptions::STRICT, &mut Vec::new()).unwrap_err()
    }
    fn lenient(s: &str) -> (NameAddr<'_>, Vec<Diagnostic>) {
        let mut d = Vec::new();
        let a = parse_name_addr(s.as_bytes(), &ParseOptions::LIBERAL, &mut d)
            .unwrap_or_else(|e| panic!("{s}: {e:?}"));
        (a, d)
    }

    #[test]
    fn forms() {
        let a = na("\"A. G. Bell\" <sip:agb@bell-telephone.com> ;tag=a48s");
        assert_eq!(a.display_name(), Some(&b"\"A. G. Bell\""[..]));
        assert_eq!(a.display_name_unquoted().unwrap().as_ref(), b"A. G. Bell");
        assert_eq!(a.uri().as_bytes(), b"sip:agb@bell-telephone.com");
        assert_eq!(a.tag(), Some(&b"a48s"[..]));
        assert!(a.bracketed());
        let a = na("Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8");
        assert_eq!(a.display_name(), Some(&b"Anonymous"[..]));
        let a = na("sip:+12125551212@server.phone2net.com;tag=887s");
        assert_eq!(a.display_name(), None);
        assert!(!a.bracketed());
        assert_eq!(a.uri().as_bytes(), b"sip:+12125551212@server.phone2net.com");
        assert_eq!(a.tag(), Some(&b"887s"[..]));
        let a = na("<sip:a@b;lr>");
        assert!(a.uri().lr());
        assert!(a.params().is_empty());
    }

    #[test]
    fn torture_valid() {
        // wsinv
        let a = na("\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n");
        assert_eq!(a.tag(), Some(&b"1918181833n"[..]));
        let a = na(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        );
        assert_eq!(
            a.display_name_unquoted().unwrap().as_ref(),
            b"J Rosenberg \\\""
        );
        assert_eq!(a.tag(), Some(&b"98asjd8"[..]));
        // lwsdisp
        let a = na("caller<sip:caller@example.com>;tag=323");
        assert_eq!(a.display_name(), Some(&b"caller"[..]));
        // intmeth
        let a = na("\"BEL:\\\x07 NUL:\\\0 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>");
        assert_eq!(
            a.display_name_unquoted().unwrap().as_ref(),
            b"BEL:\x07 NUL:\0 DEL:\x7f"
        );
        assert_eq!(
            a.uri().user(),
            Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..])
        );
        let a = na("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\u{440}\u{430}\u{431}\u{43e}\u{442}\u{430}\u{44e}\u{449}\u{438}\u{439}\";tag=_token~1'+`*%!-.");
        assert_eq!(a.tag(), Some(&b"_token~1'+`*%!-."[..]));
        assert_eq!(a.params().len(), 2);
        // cparam01 / cparam02
        let a = na("sip:+19725552222@gw1.example.net;unknownparam");
        assert!(a.params().contains(b"unknownparam"));
        assert!(a.uri().params().is_empty());
        let a = na("<sip:+19725552222@gw1.example.net;unknownparam>");
        assert!(a.params().is_empty());
        assert!(a.uri().params().contains(b"unknownparam"));
        // regescrt
        let a = na("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>");
        assert_eq!(a.uri().headers().count(), 1);
        // unksm2
        assert!(matches!(
            na("isbn:2983792873").uri().scheme(),
            Scheme::Other(b"isbn")
        ));
        assert!(matches!(
            na("<name:John_Smith>").uri().scheme(),
            Scheme::Other(b"name")
        ));
    }

    #[test]
    fn quotbal() {
        let s = "\"Mr. J. User <sip:j.user@example.com>";
        assert_eq!(err(s), Error::new(ErrorKind::UnterminatedQuote, 0));
        let (a, d) = lenient(s);
        assert_eq!(d, vec![Error::new(ErrorKind::UnterminatedQuote, 0)]);
        assert_eq!(a.display_name(), Some(&b"\"Mr. J. User"[..]));
        assert_eq!(a.uri().as_bytes(), b"sip:j.user@example.com");
        assert_eq!(err("\"abc").kind, ErrorKind::UnterminatedQuote);
        assert_eq!(err("\"abc\\").kind, ErrorKind::TrailingBackslash);
    }

    #[test]
    fn baddn() {
        let s = "Bell, Alexander <sip:a.g.bell@example.com>;tag=43";
        assert_eq!(err(s), Error::new(ErrorKind::InvalidDisplayName, 4));
        let (a, d) = lenient(s);
        assert_eq!(d, vec![Error::new(ErrorKind::InvalidDisplayName, 4)]);
        assert_eq!(a.display_name(), Some(&b"Bell, Alexander"[..]));
        assert_eq!(a.tag(), Some(&b"43"[..]));
    }

    #[test]
    fn badaspec() {
        let s = "\"Watson, Thomas\" < sip:t.watson@example.org >";
        assert_eq!(err(s), Error::new(ErrorKind::WhitespaceInUri, 18));
        let (a, d) = lenient(s);
        assert_eq!(d.len(), 1);
        assert_eq!(a.uri().as_bytes(), b"sip:t.watson@example.org");
        assert_eq!(err("<sip:a @b>").kind, ErrorKind::WhitespaceInUri);
    }

    #[test]
    fn regbadct() {
        let s = "sip:user@example.com?Route=%3Csip:sip.example.com%3E";
        assert_eq!(err(s), Error::new(ErrorKind::UnbracketedUri, 20));
        let (a, d) = lenient(s);
        assert_eq!(d, vec![Error::new(ErrorKind::UnbracketedUri, 20)]);
        assert_eq!(a.uri().as_bytes(), s.as_bytes());
        // A ';' in the user part needs <> too.
        let s = "sip:user;par=u%40example.net@example.com;tag=1";
        assert_eq!(err(s).kind, ErrorKind::UnbracketedUri);
        let (a, _) = lenient(s);
        assert_eq!(
            a.uri().as_bytes(),
            b"sip:user;par=u%40example.net@example.com"
        );
        assert_eq!(a.tag(), Some(&b"1"[..]));
    }

    #[test]
    fn other_errors() {
        assert_eq!(err("").kind, ErrorKind::InvalidHeaderValue);
        assert_eq!(err("<sip:a@b").kind, ErrorKind::UnterminatedAngle);
        assert_eq!(err("\"x\" sip:a@b").kind, ErrorKind::InvalidHeaderValue);
        assert_eq!(err("sip:a@b x").kind, ErrorKind::InvalidHeaderValue);
        assert_eq!(err("alan@jasomi.com").kind, ErrorKind::InvalidUri);
        assert_eq!(err("<sip:a@b>;;").kind, ErrorKind::EmptyElement);
        assert_eq!(err("<sip:a@b> x").kind, ErrorKind::InvalidHeaderValue);
        // Offsets of nested errors are relative to the value.
        assert_eq!(
            err("X <sip:a@b:99999>"),
            Error::new(ErrorKind::InvalidPort, 11)
        );
    }

    #[test]
    fn contacts() {
        let s = ParseOptions::STRICT;
        let mut d = Vec::new();
        let c = parse_contact(b"<sip:a@b>;expires=3600;q=0.7", &s, &mut d).unwrap();
        assert_eq!(c.expires(), Some(3600));
        assert_eq!(c.q(), Some(700));
        let c = parse_contact(b" * ", &s, &mut d).unwrap();
        assert_eq!(c, Contact::Star);
        assert_eq!(c.expires(), None);
        let e = parse_contact(
            b"<sip:user@host129.example.com>\r\n  ;expires=280297596632815",
            &s,
            &mut d,
        )
        .unwrap_err();
        assert_eq!(e, Error::new(ErrorKind::NumberOutOfRange, 43));
        let c = parse_contact(
            b"<sip:a@b>;expires=280297596632815;q=1.5",
            &ParseOptions::LIBERAL,
            &mut d,
        )
        .unwrap();
        assert_eq!(c.expires(), Some(u32::MAX));
        assert_eq!(c.q(), Some(1000));
        assert_eq!(d.len(), 2);
        for q in ["1.0001", "x", "", ".5", "0.1234"] {
            let v = format!("<sip:a@b>;q={q}");
            assert!(parse_contact(v.as_bytes(), &s, &mut d).is_err(), "{q}");
        }
        assert_eq!(
            parse_contact(b"<sip:a@b>;q=1.000", &s, &mut d).unwrap().q(),
            Some(1000)
        );
        assert_eq!(
            parse_contact(b"<sip:a@b>;q=0", &s, &mut d).unwrap().q(),
            Some(0)
        );
    }

    #[test]
    fn contact_lists() {
        let s = ParseOptions::STRICT;
        let mut d = Vec::new();
        let v = b"\"Joe\" <sip:joe@example.org>;;;;";
        let r: Vec<_> = parse_contact_list(v, &s, &mut d).collect();
        assert_eq!(r, vec![Err(Error::new(ErrorKind::EmptyElement, 27))]);
        let r: Vec<_> = parse_contact_list(v, &ParseOptions::LIBERAL, &mut d).collect();
        assert!(r[0].is_ok());
        assert_eq!(d.len(), 4);
        let v = b"<sip:a@b>;q=0.5, \"x, y\" <sip:c@d>, sip:e@f;expires=0";
        let mut d = Vec::new();
        let r: Vec<_> = parse_contact_list(v, &s, &mut d)
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[2].expires(), Some(0));
        let r: Vec<_> = parse_contact_list(b"*, <sip:a@b>", &s, &mut d).collect();
        assert!(r[1].is_err());
        let r: Vec<_> = parse_name_addr_list(b"<sip:p1@h;lr>,<sip:p2@h;lr>", &s, &mut d)
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(r[1].uri().as_bytes(), b"sip:p2@h;lr");
    }
}
