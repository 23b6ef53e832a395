//! The start line: Request-Line (RFC 3261 §7.1) and Status-Line (§7.2).
//!
//! ```text
//! Request-Line = Method SP Request-URI SP SIP-Version CRLF
//! Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase CRLF
//! SIP-Version  = "SIP" "/" 1*DIGIT "." 1*DIGIT
//! ```

use crate::error::{Diagnostic, Error, ErrorKind};
use crate::limits::ParseOptions;
use crate::scan::{is_token, Span};

/// The parsed start line, as spans of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StartLine {
    Request {
        method: Span,
        uri: Span,
        version: Span,
    },
    Response {
        version: Span,
        status: u16,
        reason: Span,
    },
}

impl StartLine {
    pub fn is_request(&self) -> bool {
        matches!(self, StartLine::Request { .. })
    }
}

/// Parses the start line `line` (without its line ending) found at `base` in the input.
pub(crate) fn parse(
    line: &[u8],
    base: usize,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<StartLine, Error> {
    let err = |k, at: usize| Error::new(k, base + at);
    if line.len() >= 4
        && line
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
    {
        return parse_status_line(line, base, opts, diags);
    }
    let lenient = opts.leniency.extra_start_line_whitespace;

    // Method: a token up to the first SP.
    let sp1 =
        memchr::memchr(b' ', line).ok_or_else(|| err(ErrorKind::InvalidStartLine, line.len()))?;
    let method = line.get(..sp1).unwrap_or(&[]);
    if method.len() > usize::from(opts.limits.max_method) {
        return Err(err(ErrorKind::MethodTooLong, 0));
    }
    if !is_token(method) {
        let bad = method
            .iter()
            .position(|&b| !crate::scan::is_token_char(b))
            .unwrap_or(0);
        return Err(err(ErrorKind::InvalidMethod, bad));
    }

    // Version: after the last SP; trailing SP is a deviation (RFC 4475 §3.1.2.14).
    let mut end = line.len();
    while end > sp1 && line.get(end - 1) == Some(&b' ') {
        end -= 1;
    }
    if end < line.len() {
        if !lenient {
            return Err(err(ErrorKind::ExtraWhitespace, end));
        }
        diags.push(err(ErrorKind::ExtraWhitespace, end));
    }
    let trimmed = line.get(..end).unwrap_or(&[]);
    let sp_last = memchr::memrchr(b' ', trimmed).unwrap_or(sp1);
    if sp_last <= sp1 {
        return Err(err(ErrorKind::InvalidStartLine, end));
    }
    let version = Span::new(base + sp_last + 1, base + end);
    check_version(
        line.get(sp_last + 1..end).unwrap_or(&[]),
        base + sp_last + 1,
        diags,
    )?;

    // Request-URI: between the two SPs. Several SP around it (§3.1.2.13) and whitespace
    // inside it (§3.1.2.12) are deviations a liberal element may repair.
    let mut u0 = sp1 + 1;
    let mut u1 = sp_last;
    while u0 < u1 && line.get(u0) == Some(&b' ') {
        u0 += 1;
    }
    while u1 > u0 && line.get(u1 - 1) == Some(&b' ') {
        u1 -= 1;
    }
    if u0 != sp1 + 1 || u1 != sp_last {
        if !lenient {
            return Err(err(
                ErrorKind::ExtraWhitespace,
                if u0 != sp1 + 1 { sp1 + 1 } else { u1 },
            ));
        }
        diags.push(err(
            ErrorKind::ExtraWhitespace,
            if u0 != sp1 + 1 { sp1 + 1 } else { u1 },
        ));
    }
    let uri = line.get(u0..u1).unwrap_or(&[]);
    if uri.is_empty() {
        return Err(err(ErrorKind::InvalidRequestUri, u0));
    }
    // One pass finds whether anything needs a closer look (whitespace or a control byte).
    if uri.iter().any(|&b| b <= b' ' || b == 0x7f) {
        if let Some(ws) = uri.iter().position(|&b| b == b' ' || b == b'\t') {
            if !opts.leniency.whitespace_in_request_uri {
                return Err(err(ErrorKind::InvalidRequestUri, u0 + ws));
            }
            diags.push(err(ErrorKind::InvalidRequestUri, u0 + ws));
        }
        if let Some(bad) = uri
            .iter()
            .position(|&b| b < 0x20 && b != b'\t' || b == 0x7f)
        {
            return Err(err(ErrorKind::InvalidRequestUri, u0 + bad));
        }
    }
    // `<sip:...>` as Request-URI (RFC 4475 §3.1.2.11): strip the brackets when lenient.
    if uri.first() == Some(&b'<') {
        if !opts.leniency.bracketed_request_uri || uri.last() != Some(&b'>') || uri.len() < 3 {
            return Err(err(ErrorKind::BracketedRequestUri, u0));
        }
        diags.push(err(ErrorKind::BracketedRequestUri, u0));
        u0 += 1;
        u1 -= 1;
    }
    Ok(StartLine::Request {
        method: Span::new(base, base + sp1),
        uri: Span::new(base + u0, base + u1),
        version,
    })
}

fn parse_status_line(
    line: &[u8],
    base: usize,
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<StartLine, Error> {
    let err = |k, at: usize| Error::new(k, base + at);
    let sp1 =
        memchr::memchr(b' ', line).ok_or_else(|| err(ErrorKind::InvalidStartLine, line.len()))?;
    check_version(line.get(..sp1).unwrap_or(&[]), base, diags)?;
    let mut c0 = sp1 + 1;
    while line.get(c0) == Some(&b' ') {
        if !opts.leniency.extra_start_line_whitespace {
            return Err(err(ErrorKind::ExtraWhitespace, c0));
        }
        c0 += 1;
    }
    if c0 != sp1 + 1 {
        diags.push(err(ErrorKind::ExtraWhitespace, sp1 + 1));
    }
    // Status-Code = 3DIGIT (§7.2; §21 defines 100-699).
    let rest = line.get(c0..).unwrap_or(&[]);
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits != 3 {
        return Err(err(ErrorKind::InvalidStatusCode, c0));
    }
    let code = rest
        .iter()
        .take(3)
        .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'));
    if !(100..=699).contains(&code) {
        return Err(err(ErrorKind::StatusCodeOutOfRange, c0));
    }
    let after = c0 + 3;
    let reason_start = match line.get(after) {
        Some(&b' ') => after + 1,
        None => {
            // `SIP/2.0 100` without the SP before the (empty) reason.
            if !opts.leniency.extra_start_line_whitespace {
                return Err(err(ErrorKind::InvalidStartLine, after));
            }
            diags.push(err(ErrorKind::InvalidStartLine, after));
            after
        }
        Some(_) => return Err(err(ErrorKind::InvalidStatusCode, c0)),
    };
    let reason = line.get(reason_start..).unwrap_or(&[]);
    // Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII / UTF8-CONT / SP / HTAB)
    if let Some(bad) = reason
        .iter()
        .position(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(err(ErrorKind::InvalidReasonPhrase, reason_start + bad));
    }
    Ok(StartLine::Response {
        version: Span::new(base, base + sp1),
        status: code,
        reason: Span::new(base + reason_start, base + line.len()),
    })
}

/// `SIP/2.0` is accepted; another well-formed version is reported as a diagnostic so a UAS
/// can still answer 505 (RFC 3261 §8.2.2... via RFC 4475 §3.1.2.19); anything else is an error.
fn check_version(v: &[u8], at: usize, diags: &mut Vec<Diagnostic>) -> Result<(), Error> {
    if v.eq_ignore_ascii_case(b"SIP/2.0") {
        return Ok(());
    }
    let ok = v.len() > 4 && v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/")) && {
        let num = v.get(4..).unwrap_or(&[]);
        let mut parts = num.splitn(2, |&b| b == b'.');
        let major = parts.next().unwrap_or(&[]);
        let minor = parts.next().unwrap_or(&[]);
        !major.is_empty()
            && !minor.is_empty()
            && major.iter().all(u8::is_ascii_digit)
            && minor.iter().all(u8::is_ascii_digit)
    };
    if !ok {
        return Err(Error::new(ErrorKind::InvalidVersion, at));
    }
    diags.push(Error::new(ErrorKind::UnsupportedVersion, at));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str, opts: &ParseOptions) -> (Result<StartLine, Error>, Vec<Diagnostic>) {
        let mut d = Vec::new();
        (parse(line.as_bytes(), 0, opts, &mut d), d)
    }
    fn strict(line: &str) -> Result<StartLine, Error> {
        p(line, &ParseOptions::STRICT).0
    }
    fn kind(line: &str) -> ErrorKind {
        strict(line).unwrap_err().kind
    }

    #[test]
    fn request_lines() {
        let StartLine::Request {
            method,
            uri,
            version,
        } = strict("INVITE sip:a@b SIP/2.0").unwrap()
        else {
            panic!()
        };
        let l = b"INVITE sip:a@b SIP/2.0";
        assert_eq!(method.of(l), b"INVITE");
        assert_eq!(uri.of(l), b"sip:a@b");
        assert_eq!(version.of(l), b"SIP/2.0");
        assert!(strict("!interesting-Method0123456789_*+`.%indeed'~ sip:x SIP/2.0").is_ok());
        assert!(strict("RE%47IST%45R sip:x SIP/2.0").is_ok());
    }

    #[test]
    fn request_line_errors() {
        assert_eq!(kind("INV<ITE sip:a SIP/2.0"), ErrorKind::InvalidMethod);
        assert_eq!(
            kind(&format!("{} sip:a SIP/2.0", "A".repeat(65))),
            ErrorKind::MethodTooLong
        );
        assert_eq!(kind("INVITE"), ErrorKind::InvalidStartLine);
        assert_eq!(kind("INVITE sip:a"), ErrorKind::InvalidStartLine);
        assert_eq!(kind("INVITE  sip:a SIP/2.0"), ErrorKind::ExtraWhitespace);
        assert_eq!(kind("INVITE sip:a SIP/2.0 "), ErrorKind::ExtraWhitespace);
        assert_eq!(
            kind("INVITE sip:a; lr SIP/2.0"),
            ErrorKind::InvalidRequestUri
        );
        assert_eq!(
            kind("INVITE <sip:a> SIP/2.0"),
            ErrorKind::BracketedRequestUri
        );
        assert_eq!(kind("INVITE sip:a SIP/2.x"), ErrorKind::InvalidVersion);
        assert_eq!(kind("INVITE sip:a HTTP/1.1"), ErrorKind::InvalidVersion);
        assert_eq!(strict("INVITE sip:a SIP/2.0 ").unwrap_err().offset, 20);
    }

    #[test]
    fn lenient_repairs_are_diagnosed() {
        let (r, d) = p("INVITE  <sip:a@b>   SIP/2.0  ", &ParseOptions::LIBERAL);
        let StartLine::Request { uri, .. } = r.unwrap() else {
            panic!()
        };
        assert_eq!(uri.of(b"INVITE  <sip:a@b>   SIP/2.0  "), b"sip:a@b");
        let kinds: Vec<_> = d.iter().map(|e| e.kind).collect();
        assert!(kinds.contains(&ErrorKind::ExtraWhitespace));
        assert!(kinds.contains(&ErrorKind::BracketedRequestUri));
    }

    #[test]
    fn other_version_is_a_diagnostic() {
        let (r, d) = p("OPTIONS sip:t@e SIP/7.0", &ParseOptions::STRICT);
        assert!(r.is_ok());
        assert_eq!(d[0].kind, ErrorKind::UnsupportedVersion);
        assert_eq!(d[0].offset, 16);
    }

    #[test]
    fn status_lines() {
        let l = "SIP/2.0 180 Ringing";
        let StartLine::Response { status, reason, .. } = strict(l).unwrap() else {
            panic!()
        };
        assert_eq!(status, 180);
        assert_eq!(reason.of(l.as_bytes()), b"Ringing");
        let StartLine::Response { reason, .. } = strict("SIP/2.0 100 ").unwrap() else {
            panic!()
        };
        assert!(reason.is_empty());
        assert!(strict("SIP/2.0 200 \u{65e5}\u{672c}").is_ok());
        assert_eq!(kind("SIP/2.0 4040 Not Found"), ErrorKind::InvalidStatusCode);
        assert_eq!(kind("SIP/2.0 40 Not Found"), ErrorKind::InvalidStatusCode);
        assert_eq!(kind("SIP/2.0 099 Low"), ErrorKind::StatusCodeOutOfRange);
        assert_eq!(kind("SIP/2.0 700 High"), ErrorKind::StatusCodeOutOfRange);
        assert_eq!(kind("SIP/2.0 200 O\x01K"), ErrorKind::InvalidReasonPhrase);
        assert_eq!(kind("SIP/2.0 200"), ErrorKind::InvalidStartLine);
        assert!(p("SIP/2.0 200", &ParseOptions::LIBERAL).0.is_ok());
    }
}
