//! Runs the typed header parsers over the RFC 4475 and RFC 5118 torture corpora.
//!
//! Header lines are found here by simple means of our own (split at the empty line, unfold,
//! split at the colon, map compact names), independent of the message layer. Valid cases
//! must parse in strict mode without diagnostics; the invalid ones listed in `EXPECTED` must
//! fail in strict mode with the given kind and (where a leniency flag exists) parse in
//! lenient mode with a diagnostic.

use std::path::{Path, PathBuf};

use sipwire::header::{
    parse_call_id, parse_contact_list, parse_content_length, parse_content_type, parse_credentials,
    parse_cseq, parse_date, parse_expires, parse_max_forwards, parse_name_addr,
    parse_name_addr_list, parse_retry_after, parse_token_list, parse_via_list,
};
use sipwire::uri::Uri;
use sipwire::{Diagnostic, ErrorKind, ParseOptions, Result};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// (file stem, header, strict error kind, whether a lenient parse repairs it).
const EXPECTED: &[(&str, &str, ErrorKind, bool)] = &[
    ("badinv01", "Via", ErrorKind::EmptyElement, true),
    ("badinv01", "Contact", ErrorKind::EmptyElement, true),
    ("scalar02", "CSeq", ErrorKind::NumberOutOfRange, true),
    (
        "scalar02",
        "Max-Forwards",
        ErrorKind::NumberOutOfRange,
        true,
    ),
    ("scalar02", "Expires", ErrorKind::NumberOutOfRange, true),
    ("scalar02", "Contact", ErrorKind::NumberOutOfRange, true),
    ("scalarlg", "CSeq", ErrorKind::NumberOutOfRange, true),
    ("scalarlg", "Retry-After", ErrorKind::NumberOutOfRange, true),
    ("quotbal", "To", ErrorKind::UnterminatedQuote, true),
    ("baddate", "Date", ErrorKind::InvalidDate, true),
    ("regbadct", "Contact", ErrorKind::UnbracketedUri, true),
    ("badaspec", "To", ErrorKind::WhitespaceInUri, true),
    ("baddn", "From", ErrorKind::InvalidDisplayName, true),
    ("baddn", "To", ErrorKind::InvalidDisplayName, true),
    (
        "escruri",
        "Request-URI",
        ErrorKind::HeadersInRequestUri,
        true,
    ),
    (
        "ncl",
        "Content-Length",
        ErrorKind::InvalidHeaderValue,
        false,
    ),
    ("ipv6-bad", "Request-URI", ErrorKind::UnbracketedIpv6, false),
];

/// Files whose Request-URI is a start-line problem (the message layer's job).
const START_LINE_CASES: &[&str] = &["ltgtruri", "lwsruri", "lwsstart", "trws"];

fn canonical(name: &str) -> String {
    let n = name.trim();
    let full = match n.to_ascii_lowercase().as_str() {
        "v" | "via" => "Via",
        "f" | "from" => "From",
        "t" | "to" => "To",
        "m" | "contact" => "Contact",
        "i" | "call-id" => "Call-ID",
        "l" | "content-length" => "Content-Length",
        "c" | "content-type" => "Content-Type",
        "k" | "supported" => "Supported",
        "s" | "subject" => "Subject",
        "e" | "content-encoding" => "Content-Encoding",
        "o" | "event" => "Event",
        "u" | "allow-events" => "Allow-Events",
        "r" | "refer-to" => "Refer-To",
        "b" | "referred-by" => "Referred-By",
        "x" | "session-expires" => "Session-Expires",
        "cseq" => "CSeq",
        "max-forwards" => "Max-Forwards",
        "expires" => "Expires",
        "date" => "Date",
        "route" => "Route",
        "record-route" => "Record-Route",
        "retry-after" => "Retry-After",
        "authorization" => "Authorization",
        "require" => "Require",
        "proxy-require" => "Proxy-Require",
        "allow" => "Allow",
        _ => return n.to_string(),
    };
    full.to_string()
}

struct Msg {
    start_line: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
}

/// Splits a message into start line and (name, unfolded-but-raw value) pairs. Folds are kept
/// in the value (`CRLF 1*WSP`), as the header index hands them to the parsers.
fn split(bytes: &[u8]) -> Msg {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |p| p + 2);
    let head = &bytes[..end];
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if matches!(line[0], b' ' | b'\t') {
            if let Some(prev) = lines.last_mut() {
                prev.extend_from_slice(b"\r\n");
                prev.extend_from_slice(line);
                continue;
            }
        }
        lines.push(line.to_vec());
    }
    let start_line = lines.first().cloned().unwrap_or_default();
    let mut headers = Vec::new();
    for l in lines.iter().skip(1) {
        let Some(colon) = l.iter().position(|&b| b == b':') else {
            continue; // test.dat's "Foobar roobar"
        };
        let name = String::from_utf8_lossy(&l[..colon]).into_owned();
        headers.push((canonical(&name), l[colon + 1..].to_vec()));
    }
    Msg {
        start_line,
        headers,
    }
}

/// Runs the parser for `name` on `value`: Ok(number of diagnostics) or the first error.
fn run(name: &str, value: &[u8], opts: &ParseOptions) -> Option<Result<usize>> {
    let mut d: Vec<Diagnostic> = Vec::new();
    fn all<T>(it: impl Iterator<Item = Result<T>>) -> Result<()> {
        for x in it {
            x?;
        }
        Ok(())
    }
    let r: Result<()> = match name {
        "Via" => all(parse_via_list(value, opts, &mut d)),
        "Contact" => all(parse_contact_list(value, opts, &mut d)),
        "Route" | "Record-Route" => all(parse_name_addr_list(value, opts, &mut d)),
        "From" | "To" => parse_name_addr(value, opts, &mut d).map(drop),
        "CSeq" => parse_cseq(value, opts, &mut d).map(drop),
        "Max-Forwards" => parse_max_forwards(value, opts, &mut d).map(drop),
        "Expires" => parse_expires(value, opts, &mut d).map(drop),
        "Date" => parse_date(value, opts, &mut d).map(drop),
        "Call-ID" => parse_call_id(value, opts, &mut d).map(drop),
        "Content-Length" => parse_content_length(value, opts, &mut d).map(drop),
        "Content-Type" => parse_content_type(value, opts, &mut d).map(drop),
        "Retry-After" => parse_retry_after(value, opts, &mut d).map(drop),
        "Authorization" => parse_credentials(value, opts, &mut d).map(drop),
        "Require" | "Proxy-Require" | "Supported" | "Allow" => {
            parse_token_list(value, opts, &mut d).map(drop)
        }
        "Request-URI" => Uri::parse_request_uri(value, opts, &mut d).map(drop),
        _ => return None,
    };
    Some(r.map(|()| d.len()))
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for (dir, ext) in [("rfc4475", "dat"), ("rfc5118/wire", "sip")] {
        let mut entries: Vec<_> = std::fs::read_dir(data_dir().join(dir))
            .expect("corpus directory")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        entries.sort();
        for p in entries {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            files.push((stem, std::fs::read(&p).unwrap()));
        }
    }
    files
}

#[test]
fn torture_corpora() {
    let files = corpus();
    assert_eq!(files.len(), 50 + 12, "corpus incomplete");
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut seen_expected = vec![false; EXPECTED.len()];
    for (stem, bytes) in &files {
        let msg = split(bytes);
        let mut items: Vec<(String, Vec<u8>)> = msg.headers.clone();
        if !msg.start_line.starts_with(b"SIP/") && !START_LINE_CASES.contains(&stem.as_str()) {
            let parts: Vec<&[u8]> = msg.start_line.split(|&b| b == b' ').collect();
            if parts.len() == 3 {
                items.push(("Request-URI".into(), parts[1].to_vec()));
            }
        }
        for (name, value) in &items {
            let Some(strict) = run(name, value, &ParseOptions::STRICT) else {
                continue;
            };
            let lenient = run(name, value, &ParseOptions::LIBERAL).unwrap();
            checked += 1;
            let shown = String::from_utf8_lossy(value);
            if stem == "test" {
                continue; // not described by RFC 4475: only "no panic"
            }
            let exp = EXPECTED
                .iter()
                .position(|(f, h, _, _)| f == stem && h == name);
            match exp {
                None => match strict {
                    Ok(0) => {}
                    other => failures.push(format!("{stem} {name}: {shown:?} -> {other:?}")),
                },
                Some(k) => {
                    seen_expected[k] = true;
                    let (_, _, kind, repairs) = EXPECTED[k];
                    match strict {
                        Err(e) if e.kind == kind => {}
                        other => failures.push(format!(
                            "{stem} {name}: strict {other:?}, expected {kind:?}"
                        )),
                    }
                    match (repairs, lenient) {
                        (true, Ok(n)) if n > 0 => {}
                        (false, Err(e)) if e.kind == kind => {}
                        (_, other) => failures.push(format!(
                            "{stem} {name}: lenient {other:?} (repairs: {repairs})"
                        )),
                    }
                }
            }
        }
    }
    for (k, seen) in seen_expected.iter().enumerate() {
        if !seen {
            failures.push(format!("expectation never exercised: {:?}", EXPECTED[k]));
        }
    }
    assert!(checked > 400, "only {checked} header values checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Field-level checks on a few corpus messages.
#[test]
fn torture_fields() {
    let files = corpus();
    let get = |stem: &str, header: &str| -> Vec<Vec<u8>> {
        let (_, bytes) = files.iter().find(|(s, _)| s == stem).unwrap();
        split(bytes)
            .headers
            .into_iter()
            .filter(|(n, _)| n == header)
            .map(|(_, v)| v)
            .collect()
    };
    let s = ParseOptions::STRICT;
    let mut d = Vec::new();

    // wsinv: folded Via with spaces around '/', the second via-parm's branch after a fold.
    let vias = get("wsinv", "Via");
    let all: Vec<_> = vias
        .iter()
        .flat_map(|v| parse_via_list(v, &s, &mut Vec::new()).collect::<Vec<_>>())
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].transport(), b"UDP");
    assert_eq!(all[1].branch(), Some(&b"z9hG4bK9ikj8"[..]));
    assert_eq!(all[2].branch(), Some(&b"z9hG4bK30239"[..]));
    assert_eq!(all[2].host().as_bytes(), b"192.168.255.111");

    // cparam01 / cparam02: where ;unknownparam belongs.
    let c = get("cparam01", "Contact");
    let c = parse_contact_list(&c[0], &s, &mut d)
        .next()
        .unwrap()
        .unwrap();
    let a = c.addr().unwrap();
    assert!(a.params().contains(b"unknownparam") && a.uri().params().is_empty());
    let c = get("cparam02", "Contact");
    let c = parse_contact_list(&c[0], &s, &mut d)
        .next()
        .unwrap()
        .unwrap();
    let a = c.addr().unwrap();
    assert!(a.params().is_empty() && a.uri().params().contains(b"unknownparam"));

    // escnull: two distinct contacts, no truncation at %00.
    let cs = get("escnull", "Contact");
    let users: Vec<Vec<u8>> = cs
        .iter()
        .map(|v| {
            let c = parse_contact_list(v, &s, &mut Vec::new())
                .next()
                .unwrap()
                .unwrap();
            sipwire::uri::percent_decode(c.addr().unwrap().uri().user().unwrap()).into_owned()
        })
        .collect();
    assert_eq!(users, vec![b"\0".to_vec(), b"\0\0".to_vec()]);

    // badbranch and inv2543: parse, but no RFC 3261 transaction id.
    for stem in ["badbranch", "inv2543"] {
        let v = get(stem, "Via");
        let via = parse_via_list(&v[0], &s, &mut d).next().unwrap().unwrap();
        assert!(!via.has_rfc3261_branch(), "{stem}");
    }

    // bcast: broadcast sent-by.
    let v = get("bcast", "Via");
    let via = parse_via_list(&v[1], &s, &mut d).next().unwrap().unwrap();
    assert_eq!(via.host().as_bytes(), b"255.255.255.255");

    // RFC 5118: received with and without brackets, port inside/outside brackets.
    for stem in [
        "via-received-param-with-delim",
        "via-received-param-no-delim",
    ] {
        let v = get(stem, "Via");
        let via = parse_via_list(&v[0], &s, &mut d).next().unwrap().unwrap();
        assert_eq!(via.received_host().unwrap().address(), b"2001:db8::9:255");
    }
    let u = Uri::parse_request_uri(b"sip:[2001:db8::10:5070]", &s, &mut d).unwrap();
    assert_eq!(
        (u.host().unwrap().address(), u.port()),
        (&b"2001:db8::10:5070"[..], None)
    );
    let u = Uri::parse_request_uri(b"sip:[2001:db8::10]:5070", &s, &mut d).unwrap();
    assert_eq!(
        (u.host().unwrap().address(), u.port()),
        (&b"2001:db8::10"[..], Some(5070))
    );

    // intmeth: the From display name tokens and the Request-URI user.
    let f = get("intmeth", "From");
    let a = parse_name_addr(&f[0], &s, &mut d).unwrap();
    assert_eq!(
        a.display_name(),
        Some(&b"token1~` token2'+_ token3*%!.-"[..])
    );
    assert!(d.is_empty());
}

/// Every truncation and every one-byte mutation of every corpus header value, through every
/// parser, strict and lenient: results or errors, never a panic.
#[test]
fn mutations_never_panic() {
    const NAMES: &[&str] = &[
        "Via",
        "Contact",
        "Route",
        "From",
        "CSeq",
        "Max-Forwards",
        "Expires",
        "Date",
        "Call-ID",
        "Content-Length",
        "Content-Type",
        "Retry-After",
        "Authorization",
        "Require",
        "Request-URI",
    ];
    const BYTES: &[u8] = b";,:\"<>\\()[]@%=? \r\n\t\0\xff/";
    let mut values: Vec<Vec<u8>> = Vec::new();
    for (_, bytes) in corpus() {
        let msg = split(&bytes);
        values.extend(msg.headers.into_iter().map(|(_, v)| v));
    }
    let mut runs = 0usize;
    for v in &values {
        let mut variants: Vec<Vec<u8>> = (0..v.len()).map(|i| v[..i].to_vec()).collect();
        for i in 0..v.len().min(64) {
            for &b in BYTES {
                let mut m = v.clone();
                m[i] = b;
                variants.push(m);
            }
        }
        for m in &variants {
            for name in NAMES {
                for opts in [ParseOptions::STRICT, ParseOptions::LIBERAL] {
                    let _ = run(name, m, &opts);
                    runs += 1;
                }
            }
        }
    }
    assert!(runs > 100_000);
}

/// Hostile sizes stay bounded and linear.
#[test]
fn hostile_sizes() {
    let s = ParseOptions::STRICT;
    let mut d = Vec::new();
    let many = format!("<sip:a@b>{}", ";x".repeat(100_000));
    let e = parse_name_addr(many.as_bytes(), &s, &mut d).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooManyParams);
    let commas = ",".repeat(100_000);
    let r: Vec<_> = parse_contact_list(commas.as_bytes(), &ParseOptions::LIBERAL, &mut d).collect();
    assert!(r.is_empty());
    let nested = format!("5 {}", "(".repeat(100_000));
    assert_eq!(
        parse_retry_after(nested.as_bytes(), &s, &mut d)
            .unwrap_err()
            .kind,
        ErrorKind::NestingTooDeep
    );
    let quotes = format!("\"{}\" <sip:a@b>", "\\\"".repeat(50_000));
    assert!(parse_name_addr(quotes.as_bytes(), &s, &mut d).is_ok());
    let uri = format!("sip:{}@b", "a".repeat(10_000));
    assert_eq!(
        Uri::parse(uri.as_bytes(), &s, &mut d).unwrap_err().kind,
        ErrorKind::UriTooLong
    );
}
