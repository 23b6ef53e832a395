//! Via (RFC 3261 §20.42, §18.2.1; RFC 3581 `rport`; RFC 5118 IPv6).
//!
//! ```text
//! via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
//! sent-protocol = protocol-name SLASH protocol-version SLASH transport
//! sent-by       = host [ COLON port ]
//! via-params    = via-ttl / via-maddr / via-received / via-branch / via-extension
//! ```

use super::params::{walk_params, ParamSyntax, Params};
use super::{at, from, parse_bounded, repair, shifted, sub, token_end, HeaderList};
use crate::scan::{is_lws, skip_lws};
use crate::uri::{scan_host, unbracketed_ipv6, Host};
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

/// The RFC 3261 branch prefix (§8.1.1.7).
pub const MAGIC_COOKIE: &[u8] = b"z9hG4bK";

/// One via-parm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Via<'a> {
    raw: &'a [u8],
    protocol_name: &'a [u8],
    protocol_version: &'a [u8],
    transport: &'a [u8],
    sent_by: &'a [u8],
    host: Host<'a>,
    port: Option<u16>,
    params: Params<'a>,
}

impl<'a> Via<'a> {
    /// The via-parm as given (trimmed of LWS).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }
    /// `SIP` (or another token).
    pub fn protocol_name(&self) -> &'a [u8] {
        self.protocol_name
    }
    /// `2.0`.
    pub fn protocol_version(&self) -> &'a [u8] {
        self.protocol_version
    }
    /// `UDP`, `TCP`, `TLS`, `SCTP`, `WS`, ... as written (compare case-insensitively).
    pub fn transport(&self) -> &'a [u8] {
        self.transport
    }
    /// `host [ COLON port ]` as written.
    pub fn sent_by(&self) -> &'a [u8] {
        self.sent_by
    }
    pub fn host(&self) -> Host<'a> {
        self.host
    }
    pub fn port(&self) -> Option<u16> {
        self.port
    }
    pub fn params(&self) -> Params<'a> {
        self.params
    }
    pub fn branch(&self) -> Option<&'a [u8]> {
        self.params.value(b"branch")
    }
    /// The `received` value as written (with or without IPv6 brackets, RFC 5118 §4.5).
    pub fn received(&self) -> Option<&'a [u8]> {
        self.params.value(b"received")
    }
    /// The `received` value as a host.
    pub fn received_host(&self) -> Option<Host<'a>> {
        self.received().and_then(|r| Host::parse_ip(r).ok())
    }
    /// RFC 3581: `None` when absent, `Some(None)` for a bare `;rport`, `Some(Some(port))`
    /// when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params.get(b"rport").map(|v| {
            v.and_then(|p| super::digits_saturating(p, 70000).and_then(|n| u16::try_from(n).ok()))
        })
    }
    pub fn maddr(&self) -> Option<&'a [u8]> {
        self.params.value(b"maddr")
    }
    /// `ttl` (0-255; clamped when a lenient parse accepted more).
    pub fn ttl(&self) -> Option<u8> {
        self.params
            .value(b"ttl")
            .and_then(|t| super::digits_saturating(t, 255))
            .and_then(|t| u8::try_from(t).ok())
    }
    /// Whether the branch is an RFC 3261 transaction id: the magic cookie followed by at least
    /// one more character. A branch that is only `z9hG4bK` (RFC 4475 §3.2.1) or no branch at
    /// all (RFC 2543 peers, §3.4.1) is not: match such requests the RFC 2543 way (§17.2.3).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE))
    }
}

/// Parses one via-parm. A Via without a branch is accepted (RFC 2543 peers); see
/// [`Via::has_rfc3261_branch`].
pub fn parse_via<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<Via<'a>> {
    let bad = |i| Error::new(ErrorKind::InvalidHeaderValue, i);
    let start = skip_lws(v, 0);
    let end = super::trimmed_end(v).max(start);
    let v_trim = sub(v, start, end);
    // sent-protocol, SLASH = SWS "/" SWS
    let mut fields: [&[u8]; 3] = [&[]; 3];
    let mut i = start;
    for (n, f) in fields.iter_mut().enumerate() {
        if n > 0 {
            i = skip_lws(v, i);
            if at(v, i) != Some(b'/') {
                return Err(bad(i));
            }
            i = skip_lws(v, i + 1);
        }
        let e = token_end(v, i);
        if e == i {
            return Err(bad(i));
        }
        *f = sub(v, i, e);
        i = e;
    }
    // LWS sent-by
    if !at(v, i).is_some_and(is_lws) {
        return Err(bad(i));
    }
    i = skip_lws(v, i);
    let host_start = i;
    let mut bare = false;
    let (host_end, host) = match sent_by_host(v, i) {
        Some(x) => x,
        None => {
            let host_end = if at(v, i) == Some(b'[') {
                match memchr::memchr(b']', from(v, i)) {
                    Some(p) => i + p + 1,
                    None => return Err(Error::new(ErrorKind::InvalidHost, i)),
                }
            } else {
                let mut k = i;
                let mut colons = 0;
                while let Some(c) = at(v, k) {
                    if c == b';' || c == b',' || is_lws(c) {
                        break;
                    }
                    colons += usize::from(c == b':');
                    k += 1;
                }
                if colons >= 2 {
                    // RFC 5118 §4.2 wants brackets; a lenient parse takes the unambiguous
                    // unbracketed form (eight groups; a ninth is the port, read below).
                    let Some((end, _)) = unbracketed_ipv6(sub(v, i, k)) else {
                        return Err(Error::new(ErrorKind::UnbracketedIpv6, i));
                    };
                    repair(
                        opts.leniency.unbracketed_ipv6,
                        ErrorKind::UnbracketedIpv6,
                        i,
                        diags,
                    )?;
                    bare = true;
                    i + end
                } else {
                    memchr::memchr(b':', sub(v, i, k)).map_or(k, |p| i + p)
                }
            };
            let host = if bare {
                let a = sub(v, i, host_end);
                Host::Ipv6 {
                    reference: a,
                    address: a,
                }
            } else {
                Host::parse(sub(v, i, host_end)).map_err(|e| e.shifted(i))?
            };
            (host_end, host)
        }
    };
    i = host_end;
    let mut sent_by_end = i;
    let mut port = None;
    // COLON = SWS ":" SWS
    let j = skip_lws(v, i);
    if at(v, j) == Some(b':') {
        let p0 = skip_lws(v, j + 1);
        let mut p1 = p0;
        while at(v, p1).is_some_and(|c| c.is_ascii_digit()) {
            p1 += 1;
        }
        let digits = sub(v, p0, p1);
        let n = super::digits_saturating(digits, 70000)
            .filter(|_| digits.len() <= 5)
            .and_then(|n| u16::try_from(n).ok())
            .ok_or(Error::new(ErrorKind::InvalidPort, p0))?;
        port = Some(n);
        i = p1;
        sent_by_end = p1;
    }
    let praw = from(v, i);
    let praw = sub(praw, 0, end.saturating_sub(i));
    let (params, clean) = shifted(i, diags, |d| {
        walk_params(praw, ParamSyntax::Header, opts, d, via_param_ok)
    })?;
    if !clean {
        check_via_params(&params, praw, i, opts, diags)?;
    }
    Ok(Via {
        raw: v_trim,
        protocol_name: fields[0],
        protocol_version: fields[1],
        transport: fields[2],
        sent_by: sub(v, host_start, sent_by_end),
        host,
        port,
        params,
    })
}

/// The host of a sent-by at `i` when it is a hostname or IPv4address followed by the end,
/// `;`, `,`, LWS, or `:` and a port (one colon only: two are a bare IPv6 address); `None`
/// leaves every other form, and the errors, to the general path.
#[inline]
fn sent_by_host(v: &[u8], i: usize) -> Option<(usize, Host<'_>)> {
    let (len, host) = scan_host(from(v, i));
    let e = i + len;
    let ends = |c: u8| c == b';' || c == b',' || is_lws(c);
    let port_follows = |c: u8| {
        c == b':'
            && !from(v, e + 1)
                .iter()
                .take_while(|&&c| !ends(c))
                .any(|&c| c == b':')
    };
    if !at(v, e).map_or(true, |c| ends(c) || port_follows(c)) {
        return None;
    }
    Some((e, host?))
}

/// Whether [`check_via_params`] has nothing to say about this parameter (no error, no
/// diagnostic); a false sends the whole list to it.
#[inline(always)]
pub(crate) fn via_param_ok(name: &[u8], value: Option<&[u8]>) -> bool {
    let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
    match name.len() {
        // via-branch = "branch" EQUAL token
        6 if is(b"branch") => value.is_some_and(crate::scan::is_token),
        // ttl = 1*3DIGIT ; 0 to 255
        3 if is(b"ttl") => value
            .and_then(|t| super::digits_saturating(t, 256))
            .is_some_and(|t| t <= 255),
        5 if is(b"maddr") => value.is_some_and(|m| Host::parse(m).is_ok()),
        8 if is(b"received") => value.is_some_and(|r| Host::parse_ip(r).is_ok()),
        // RFC 3581: response-port = "rport" [EQUAL 1*DIGIT]
        5 if is(b"rport") => value.map_or(true, |p| {
            p.len() <= 5 && super::digits_saturating(p, 70000).is_some_and(|n| n <= 65535)
        }),
        _ => true,
    }
}

/// The value grammars of the Via parameters RFC 3261 §20.42 and RFC 3581 define.
fn check_via_params(
    params: &Params<'_>,
    praw: &[u8],
    base: usize,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<()> {
    let off = |x: &[u8]| base + super::offset_in(praw, x);
    for (name, value) in params.iter() {
        let val_or_err = || value.ok_or(Error::new(ErrorKind::InvalidHeaderValue, off(name)));
        if name.eq_ignore_ascii_case(b"branch") {
            // via-branch = "branch" EQUAL token
            let b = val_or_err()?;
            if !crate::scan::is_token(b) {
                return Err(Error::new(ErrorKind::InvalidHeaderValue, off(b)));
            }
        } else if name.eq_ignore_ascii_case(b"ttl") {
            // ttl = 1*3DIGIT ; 0 to 255
            let t = val_or_err()?;
            parse_bounded(t, off(t), 255, ErrorKind::InvalidHeaderValue, opts, diags)?;
        } else if name.eq_ignore_ascii_case(b"maddr") {
            let m = val_or_err()?;
            Host::parse(m).map_err(|e| e.shifted(off(m)))?;
        } else if name.eq_ignore_ascii_case(b"received") {
            // via-received = "received" EQUAL (IPv4address / IPv6address), brackets tolerated
            let r = val_or_err()?;
            Host::parse_ip(r).map_err(|e| e.shifted(off(r)))?;
        } else if name.eq_ignore_ascii_case(b"rport") {
            // RFC 3581: response-port = "rport" [EQUAL 1*DIGIT]
            if let Some(p) = value {
                let ok =
                    p.len() <= 5 && super::digits_saturating(p, 70000).is_some_and(|n| n <= 65535);
                if !ok {
                    return Err(Error::new(ErrorKind::InvalidPort, off(p)));
                }
            }
        }
    }
    Ok(())
}

/// The via-parms of one Via header value.
pub type ViaList<'a, 'o> = HeaderList<'a, 'o, Via<'a>>;

/// Iterates the comma-separated via-parms of one Via header value; offsets are relative to
/// `value`.
pub fn parse_via_list<'a, 'o>(
    value: &'a [u8],
    opts: &'o ParseOptions,
    diags: &'o mut Vec<Diagnostic>,
) -> ViaList<'a, 'o> {
    HeaderList::new(value, parse_via, opts, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via(s: &str) -> Via<'_> {
        parse_via(s.as_bytes(), &ParseOptions::STRICT, &mut Vec::new())
            .unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }
    fn err(s: &str) -> Error {
        parse_via(s.as_bytes(), &ParseOptions::STRICT, &mut Vec::new()).unwrap_err()
    }

    #[test]
    fn basic() {
        let v = via(
            "SIP/2.0/UDP pc33.atlanta.com:5060;branch=z9hG4bK776asdhds;rport;received=192.0.2.1",
        );
        assert_eq!(v.protocol_name(), b"SIP");
        assert_eq!(v.protocol_version(), b"2.0");
        assert_eq!(v.transport(), b"UDP");
        assert_eq!(v.host(), Host::Domain(b"pc33.atlanta.com"));
        assert_eq!(v.port(), Some(5060));
        assert_eq!(v.sent_by(), b"pc33.atlanta.com:5060");
        assert_eq!(v.branch(), Some(&b"z9hG4bK776asdhds"[..]));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.received(), Some(&b"192.0.2.1"[..]));
        assert!(v.has_rfc3261_branch());
        let v = via("SIP/2.0/UDP h;rport=5061;ttl=16;maddr=224.2.0.1");
        assert_eq!(v.rport(), Some(Some(5061)));
        assert_eq!(v.ttl(), Some(16));
        assert_eq!(v.maddr(), Some(&b"224.2.0.1"[..]));
        assert_eq!(via("SIP/2.0/UDP h").rport(), None);
    }

    #[test]
    fn folded_and_spaced() {
        let v = via("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw");
        assert_eq!(v.transport(), b"UDP");
        assert_eq!(v.host(), Host::Ipv4(b"192.0.2.2"));
        assert!(!v.has_rfc3261_branch());
        let v =
            via(" SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ");
        assert_eq!(v.branch(), Some(&b"z9hG4bK9ikj8"[..]));
        assert_eq!(v.as_bytes().last(), Some(&b'8'));
        let v = via("SIP/2.0/UDP host : 5060 ;branch=z9hG4bKx");
        assert_eq!(v.port(), Some(5060));
    }

    #[test]
    fn branches() {
        assert!(!via("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK").has_rfc3261_branch());
        assert!(!via("SIP/2.0/UDP iftgw.example.com").has_rfc3261_branch());
        assert!(
            via("SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~").has_rfc3261_branch()
        );
        assert_eq!(
            err("SIP/2.0/UDP h;branch").kind,
            ErrorKind::InvalidHeaderValue
        );
    }

    #[test]
    fn ipv6() {
        let v = via("SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19");
        assert_eq!(v.port(), Some(19823));
        assert_eq!(v.host().address(), b"::ffff:192.0.2.10");
        let v = via("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3");
        assert_eq!(v.received_host().unwrap().address(), b"2001:db8::9:255");
        let v = via("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3");
        assert_eq!(v.received_host().unwrap().address(), b"2001:db8::9:255");
        assert_eq!(
            err("SIP/2.0/UDP 2001:db8::1;branch=z9hG4bKx").kind,
            ErrorKind::UnbracketedIpv6
        );
        assert_eq!(
            err("SIP/2.0/UDP h;received=example.com").kind,
            ErrorKind::InvalidHost
        );
    }

    /// A lenient parse reads an unbracketed IPv6 sent-by with eight groups, and a ninth as
    /// the port, with a diagnostic (RFC 5118 §4.2 wants brackets); a strict one refuses it.
    #[test]
    fn unbracketed_ipv6_sent_by() {
        let text = "SIP/2.0/UDP 2001:db8:0:0:216:d3ff:fe0d:22c:5060;branch=z9hG4bK6";
        let mut d = Vec::new();
        let v = parse_via(text.as_bytes(), &ParseOptions::LIBERAL, &mut d).unwrap();
        assert_eq!(v.host().address(), b"2001:db8:0:0:216:d3ff:fe0d:22c");
        assert_eq!(v.port(), Some(5060));
        assert_eq!(v.branch(), Some(&b"z9hG4bK6"[..]));
        assert_eq!(v.sent_by(), b"2001:db8:0:0:216:d3ff:fe0d:22c:5060");
        assert_eq!(d, vec![Error::new(ErrorKind::UnbracketedIpv6, 12)]);
        let mut d = Vec::new();
        let v = parse_via(
            b"SIP/2.0/TLS 1:2:3:4:5:6:7:8 ;received=192.0.2.1",
            &ParseOptions::LIBERAL,
            &mut d,
        )
        .unwrap();
        assert_eq!(
            (v.host().address(), v.port()),
            (&b"1:2:3:4:5:6:7:8"[..], None)
        );
        assert_eq!(err(text).kind, ErrorKind::UnbracketedIpv6);
        let mut d = Vec::new();
        let e = parse_via(
            b"SIP/2.0/UDP 2001:db8::1:5060;branch=z9hG4bK6",
            &ParseOptions::LIBERAL,
            &mut d,
        );
        assert_eq!(e.unwrap_err().kind, ErrorKind::UnbracketedIpv6);
    }

    #[test]
    fn bad() {
        assert_eq!(
            err("SIP/2.0 h"),
            Error::new(ErrorKind::InvalidHeaderValue, 8)
        );
        assert_eq!(err("SIP/2.0/UDPh").kind, ErrorKind::InvalidHeaderValue);
        assert_eq!(err("SIP/2.0/UDP h:99999").kind, ErrorKind::InvalidPort);
        assert_eq!(err("SIP/2.0/UDP h x").kind, ErrorKind::InvalidHeaderValue);
        assert_eq!(
            err("SIP/2.0/UDP h;ttl=300").kind,
            ErrorKind::NumberOutOfRange
        );
        assert_eq!(err("SIP/2.0/UDP h;rport=x").kind, ErrorKind::InvalidPort);
        assert_eq!(err("SIP/2.0/UDP h;;").kind, ErrorKind::EmptyElement);
        let mut d = Vec::new();
        let v = parse_via(b"SIP/2.0/UDP h;ttl=300", &ParseOptions::LIBERAL, &mut d).unwrap();
        assert_eq!(v.ttl(), Some(255));
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn lists() {
        let value = b"SIP/2.0/UDP 192.0.2.15;;,;,,";
        let mut d = Vec::new();
        let r: Vec<_> = parse_via_list(value, &ParseOptions::STRICT, &mut d).collect();
        assert_eq!(r[0], Err(Error::new(ErrorKind::EmptyElement, 22)));
        let r: Vec<_> = parse_via_list(value, &ParseOptions::LIBERAL, &mut d).collect();
        assert_eq!(r.len(), 1);
        assert!(r[0].is_ok());
        assert_eq!(d.len(), 5);
        let value = b"SIP/2.0/UDP a;branch=z9hG4bK1 , SIP/2.0/TCP b:5061;branch=z9hG4bK2";
        let mut d = Vec::new();
        let v: Vec<_> = parse_via_list(value, &ParseOptions::STRICT, &mut d)
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].port(), Some(5061));
        // Offsets are relative to the header value.
        let value = b"SIP/2.0/UDP a, SIP/2.0/UDP b:x";
        let r: Vec<_> = parse_via_list(value, &ParseOptions::STRICT, &mut d).collect();
        assert_eq!(r[1], Err(Error::new(ErrorKind::InvalidPort, 29)));
    }

    #[test]
    fn list_limit() {
        let value = "SIP/2.0/UDP a,".repeat(300);
        let mut d = Vec::new();
        let r: Vec<_> = parse_via_list(value.as_bytes(), &ParseOptions::STRICT, &mut d).collect();
        assert_eq!(r.len(), 257);
        assert_eq!(r[256].unwrap_err().kind, ErrorKind::TooManyListItems);
    }
}
