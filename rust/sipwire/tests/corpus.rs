//! The RFC 4475 and RFC 5118 torture messages through the whole message parser
//! (`Message::parse`: framing, index, typed validation), as their index.json files say.

use std::path::PathBuf;

use sipwire::message::Message;
use sipwire::{Error, ParseOptions};

struct Case {
    name: String,
    file: String,
    verdict: String,
    liberal: bool,
}

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// Reads the cases of an index.json (pretty-printed, one key per line).
fn cases(set: &str) -> Vec<Case> {
    let text = std::fs::read_to_string(data().join(set).join("index.json")).unwrap();
    let field = |line: &str, key: &str| -> Option<String> {
        let rest = line.trim().strip_prefix(&format!("\"{key}\": "))?;
        Some(rest.trim_end_matches(',').trim_matches('"').to_string())
    };
    let mut out: Vec<Case> = Vec::new();
    for line in text.lines() {
        if let Some(n) = field(line, "name") {
            out.push(Case {
                name: n,
                file: String::new(),
                verdict: String::new(),
                liberal: false,
            });
        } else if let Some(last) = out.last_mut() {
            if let Some(f) = field(line, "file") {
                last.file = f;
            } else if let Some(v) = field(line, "verdict") {
                last.verdict = v;
            } else if let Some(l) = field(line, "liberal_acceptance_allowed") {
                last.liberal = l == "true";
            }
        }
    }
    assert!(out.len() >= 12, "{set}: {} cases", out.len());
    out
}

fn parse<'a>(b: &'a [u8], opts: &ParseOptions) -> Result<Message<'a>, Error> {
    Message::parse(b, opts)
}

#[test]
fn rfc4475() {
    for c in cases("rfc4475") {
        let b = std::fs::read(data().join("rfc4475").join(&c.file)).unwrap();
        let strict = parse(&b, &ParseOptions::STRICT);
        let strict_ok = strict.is_ok();
        match c.verdict.as_str() {
            "valid" => {
                let m = strict.unwrap_or_else(|e| panic!("{}: {e}", c.name));
                assert!(
                    m.index().diagnostics.is_empty(),
                    "{}: {:?}",
                    c.name,
                    m.index().diagnostics
                );
            }
            "invalid" => {
                if let Ok(m) = &strict {
                    assert!(
                        !m.index().diagnostics.is_empty(),
                        "{} parsed cleanly",
                        c.name
                    );
                }
                if c.liberal {
                    let m = parse(&b, &ParseOptions::LIBERAL)
                        .unwrap_or_else(|e| panic!("{} lenient: {e}", c.name));
                    assert!(!m.index().diagnostics.is_empty(), "{}", c.name);
                }
            }
            _ => assert!(strict.is_err(), "{}", c.name),
        }
        // Lenient parsing never panics and is never stricter than strict parsing.
        if strict_ok {
            assert!(parse(&b, &ParseOptions::LIBERAL).is_ok(), "{}", c.name);
        }
    }
}

#[test]
fn rfc5118() {
    for c in cases("rfc5118") {
        let b =
            std::fs::read(data().join("rfc5118/fixed").join(format!("{}.sip", c.name))).unwrap();
        let r = parse(&b, &ParseOptions::STRICT);
        if c.verdict == "invalid" {
            assert_eq!(
                r.unwrap_err().kind,
                sipwire::ErrorKind::UnbracketedIpv6,
                "{}",
                c.name
            );
        } else {
            let m = r.unwrap_or_else(|e| panic!("{}: {e}", c.name));
            assert!(m.index().diagnostics.is_empty(), "{}", c.name);
        }
    }
}

#[test]
fn every_prefix_and_every_byte_flip_of_the_corpus_is_handled() {
    for c in cases("rfc4475") {
        let b = std::fs::read(data().join("rfc4475").join(&c.file)).unwrap();
        for n in 0..b.len() {
            let _ = parse(&b[..n], &ParseOptions::STRICT);
            let _ = parse(&b[..n], &ParseOptions::LIBERAL);
        }
        let mut m = b.clone();
        for i in (0..m.len()).step_by(7) {
            let old = m[i];
            for v in [0u8, b'\r', b'\n', b' ', b'"', b'<', b';', b',', 0xff] {
                m[i] = v;
                for opts in [ParseOptions::STRICT, ParseOptions::LIBERAL] {
                    if let Err(e) = parse(&m, &opts) {
                        assert!(
                            e.offset as usize <= m.len(),
                            "{}: offset {} past {}",
                            c.name,
                            e.offset,
                            m.len()
                        );
                    }
                }
            }
            m[i] = old;
        }
    }
}

#[test]
fn serialization_of_an_unchanged_message_is_byte_exact() {
    for c in cases("rfc4475") {
        let b = std::fs::read(data().join("rfc4475").join(&c.file)).unwrap();
        if let Ok(m) = parse(&b, &ParseOptions::STRICT) {
            let out = sipwire::build::Editor::new(&m).build();
            assert_eq!(out, m.as_bytes(), "{}", c.name);
        }
    }
}

#[test]
fn lazy_check_agrees_with_eager_validation() {
    use sipwire::message::MessageIndex;
    for c in cases("rfc4475") {
        let b = std::fs::read(data().join("rfc4475").join(&c.file)).unwrap();
        for opts in [ParseOptions::STRICT, ParseOptions::LIBERAL] {
            let Ok(lazy) = MessageIndex::parse_datagram(&b, &opts) else {
                continue;
            };
            let (repairs, errors) = lazy.check_typed(&b, &opts);
            match MessageIndex::parse(&b, &opts) {
                Ok(eager) => {
                    assert!(errors.is_empty(), "{}: {errors:?}", c.name);
                    assert_eq!(
                        eager.diagnostics.len(),
                        lazy.diagnostics.len() + repairs.len(),
                        "{}",
                        c.name
                    );
                }
                Err(e) => assert_eq!(errors.first(), Some(&e), "{}", c.name),
            }
        }
    }
}
