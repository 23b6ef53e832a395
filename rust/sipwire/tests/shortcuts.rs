//! The one-pass shortcuts (`tag_fast`, `top_branch_fast`) against the full parses they stand
//! in for, on every From, To and Via value of the torture corpora and the bench messages, and
//! on mutations of each (every truncation, and every byte deleted, replaced or inserted from a
//! set of delimiters and odd bytes), in strict and lenient mode and with tight limits.
//! Wherever a shortcut answers, the full parse must succeed with the same answer.

use std::path::PathBuf;

use sipwire::header::{
    addr_fast, parse_name_addr, parse_via_list, tag_fast, top_branch_fast, via_fast, AddrFast,
    ViaFast,
};
use sipwire::message::{HeaderName, MessageIndex};
use sipwire::{Limits, ParseOptions};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The From/To values and the Via values of every message file the corpora hold.
fn values() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut files = Vec::new();
    for dir in [
        "tests/data/rfc4475",
        "tests/data/rfc5118",
        "tests/data/rfc5118/fixed",
        "benches/data",
    ] {
        let Ok(entries) = std::fs::read_dir(root().join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if matches!(p.extension().and_then(|x| x.to_str()), Some("dat" | "sip")) {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 40, "{} message files", files.len());
    let (mut addrs, mut vias) = (Vec::new(), Vec::new());
    for f in files {
        let buf = std::fs::read(&f).unwrap();
        let Ok(idx) = MessageIndex::parse_datagram(&buf, &ParseOptions::LIBERAL) else {
            continue;
        };
        for h in &idx.headers {
            let v = h.value.of(&buf).to_vec();
            match h.kind {
                HeaderName::From | HeaderName::To => addrs.push(v),
                HeaderName::Via => vias.push(v),
                _ => {}
            }
        }
    }
    for extra in [
        &b"<sip:a@b>;tag=x;TAG=y"[..],
        b"A B C <sip:a@b>;tAg",
        b"\"q\\\"x\" <sip:a@b:5060;user=phone>;x=1;tag=t1",
        b"<sips:[2001:db8::1]:5061>;tag=v6",
    ] {
        addrs.push(extra.to_vec());
    }
    for extra in [
        &b"SIP/2.0/UDP h;BRANCH=z9hG4bK1;branch=z9hG4bK2"[..],
        b"SIP/2.0/TCP 192.0.2.1:5060;rport;branch=z9hG4bKa, SIP/2.0/UDP x;branch=2",
        b"SIP/2.0/UDP h:65535;ttl=255;maddr=239.0.0.1;received=10.0.0.1;branch=z9hG4bKb",
        b"SIP/2.0/UDP h:65536;branch=z9hG4bKc",
        b"SIP/2.0/UDP h;ttl=256;branch=z9hG4bKd",
        b"SIP/2.0/UDP h;received=h.example;branch=z9hG4bKe",
        b"SIP/2.0/UDP h;rport=70000;branch=z9hG4bKf",
    ] {
        vias.push(extra.to_vec());
    }
    (addrs, vias)
}

/// The value, every prefix, and every single-byte deletion, replacement and insertion.
fn mutations(v: &[u8]) -> Vec<Vec<u8>> {
    const BYTES: &[u8] = b" \t;,=\"<>:@\\A0-.[]%\x00\xff\r";
    let mut out = vec![v.to_vec()];
    for i in 0..=v.len() {
        out.push(v[..i].to_vec());
        for &b in BYTES {
            let mut m = v.to_vec();
            m.insert(i, b);
            out.push(m);
        }
        if i < v.len() {
            let mut d = v.to_vec();
            d.remove(i);
            out.push(d);
            for &b in BYTES {
                let mut m = v.to_vec();
                m[i] = b;
                out.push(m);
            }
        }
    }
    out
}

fn option_sets() -> Vec<ParseOptions> {
    let tight = Limits {
        max_params: 1,
        max_list_items: 0,
        max_uri: 12,
        ..Limits::DEFAULT
    };
    vec![
        ParseOptions::STRICT,
        ParseOptions::LIBERAL,
        ParseOptions {
            limits: tight,
            ..ParseOptions::STRICT
        },
    ]
}

#[test]
fn tag_fast_agrees_with_parse_name_addr() {
    let (addrs, _) = values();
    let mut hits = 0usize;
    for v in &addrs {
        for m in mutations(v) {
            for opts in option_sets() {
                let Some(fast) = tag_fast(&m, &opts) else {
                    continue;
                };
                hits += 1;
                let full = parse_name_addr(&m, &opts, &mut Vec::new()).map(|n| n.tag());
                assert_eq!(
                    full,
                    Ok(fast),
                    "{:?} ({opts:?})",
                    String::from_utf8_lossy(&m)
                );
                // The URI too, where the correlator reads it.
                let full = parse_name_addr(&m, &opts, &mut Vec::new()).map(|n| AddrFast {
                    uri: n.uri().as_bytes(),
                    tag: n.tag(),
                });
                assert_eq!(full, Ok(addr_fast(&m, &opts).unwrap()));
            }
        }
    }
    // The shortcut must answer often, or this test proves nothing: for most unmutated values,
    // and for many mutations.
    let plain = addrs
        .iter()
        .filter(|v| tag_fast(v, &ParseOptions::STRICT).is_some())
        .count();
    assert!(
        plain * 2 > addrs.len(),
        "tag_fast answered {plain} of {}",
        addrs.len()
    );
    assert!(hits > 20_000, "tag_fast answered {hits} mutations");
}

#[test]
fn top_branch_fast_agrees_with_parse_via_list() {
    let (_, vias) = values();
    let mut hits = 0usize;
    for v in &vias {
        for m in mutations(v) {
            for opts in option_sets() {
                let Some(fast) = top_branch_fast(&m, &opts) else {
                    continue;
                };
                hits += 1;
                let full = parse_via_list(&m, &opts, &mut Vec::new())
                    .next()
                    .map(|r| r.map(|v| v.branch()));
                assert_eq!(
                    full,
                    Some(Ok(fast)),
                    "{:?} ({opts:?})",
                    String::from_utf8_lossy(&m)
                );
                // The transport and the sent-by too, where the correlator reads them.
                let full = parse_via_list(&m, &opts, &mut Vec::new()).next().map(|r| {
                    r.map(|v| ViaFast {
                        transport: v.transport(),
                        host: v.host().as_bytes(),
                        port: v.port(),
                        branch: v.branch(),
                    })
                });
                assert_eq!(full, Some(Ok(via_fast(&m, &opts).unwrap())));
            }
        }
    }
    let plain = vias
        .iter()
        .filter(|v| top_branch_fast(v, &ParseOptions::STRICT).is_some())
        .count();
    assert!(
        plain * 2 > vias.len(),
        "top_branch_fast answered {plain} of {}",
        vias.len()
    );
    assert!(hits > 20_000, "top_branch_fast answered {hits} mutations");
}

#[test]
fn the_bench_messages_take_the_shortcuts() {
    for name in ["bye", "invite_1k", "invite_4k"] {
        let buf = std::fs::read(root().join(format!("benches/data/{name}.sip"))).unwrap();
        let idx = MessageIndex::parse_datagram(&buf, &ParseOptions::STRICT).unwrap();
        let first = |k: HeaderName| {
            idx.headers
                .iter()
                .find(|h| h.kind == k)
                .unwrap()
                .value
                .of(&buf)
        };
        let opts = ParseOptions::STRICT;
        assert!(tag_fast(first(HeaderName::From), &opts).is_some(), "{name}");
        assert!(tag_fast(first(HeaderName::To), &opts).is_some(), "{name}");
        assert!(
            top_branch_fast(first(HeaderName::Via), &opts).is_some(),
            "{name}"
        );
    }
}
