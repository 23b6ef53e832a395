//! The differential target: where sipwire has two paths to one answer, they agree.

use std::hint::black_box;

use sipwire::header::{self, shortcut};
use sipwire::message::{HeaderName, Message, MessageIndex, StreamFramer};
use sipwire::ParseOptions;

const BOTH: [&ParseOptions; 2] = [&ParseOptions::STRICT, &ParseOptions::LIBERAL];

/// The one-pass readers of `header::shortcut` answer as the typed parsers do whenever they
/// answer at all (their contract: `None` leaves the value to the full parse).
fn shortcuts(v: &[u8], opts: &ParseOptions) {
    if let Some(a) = shortcut::addr_fast(v, opts) {
        let mut d = Vec::new();
        match header::parse_name_addr(v, opts, &mut d) {
            Ok(n) => {
                assert_eq!(
                    n.uri().as_bytes(),
                    a.uri,
                    "addr_fast URI vs parse_name_addr"
                );
                assert_eq!(n.tag(), a.tag, "addr_fast tag vs parse_name_addr");
            }
            Err(e) => panic!("addr_fast accepts {a:?}, parse_name_addr refuses: {e:?}"),
        }
        assert_eq!(
            shortcut::tag_fast(v, opts),
            Some(a.tag),
            "tag_fast vs addr_fast"
        );
    }
    if let Some(f) = shortcut::via_fast(v, opts) {
        let mut d = Vec::new();
        match header::parse_via_list(v, opts, &mut d).next() {
            Some(Ok(via)) => {
                assert_eq!(via.transport(), f.transport, "via_fast transport");
                assert_eq!(via.host().as_bytes(), f.host, "via_fast host");
                assert_eq!(via.port(), f.port, "via_fast port");
                assert_eq!(via.branch(), f.branch, "via_fast branch");
            }
            other => panic!("via_fast accepts {f:?}, parse_via_list gives {other:?}"),
        }
        assert_eq!(
            shortcut::top_branch_fast(v, opts),
            Some(f.branch),
            "top_branch_fast vs via_fast"
        );
    }
}

/// The spans validation keeps (`MessageIndex::fields`) read the same as the typed parsers on
/// the header values (From/To tag and URI, the top Via's branch, transport and port, the CSeq
/// method).
fn fields_vs_typed(buf: &[u8], idx: &MessageIndex, opts: &ParseOptions) {
    let m = Message::new(buf, idx);
    let f = idx.fields();
    for (name, spans) in [(HeaderName::From, &f.from), (HeaderName::To, &f.to)] {
        let (Some(s), Some(v)) = (spans, m.first_value(name)) else {
            continue;
        };
        let mut d = Vec::new();
        if let Ok(n) = header::parse_name_addr(v, opts, &mut d) {
            assert_eq!(
                s.tag.map(|t| t.of(buf)),
                n.tag(),
                "{name:?} tag: fields vs typed"
            );
            assert_eq!(
                s.uri.text.of(buf),
                n.uri().as_bytes(),
                "{name:?} URI: fields vs typed"
            );
        }
    }
    if let (Some(s), Some(v)) = (&f.top_via, m.first_value(HeaderName::Via)) {
        let mut d = Vec::new();
        if let Some(Ok(via)) = header::parse_via_list(v, opts, &mut d).next() {
            assert_eq!(
                s.branch.map(|b| b.of(buf)),
                via.branch(),
                "Via branch: fields vs typed"
            );
            assert_eq!(
                s.transport.of(buf),
                via.transport(),
                "Via transport: fields vs typed"
            );
            assert_eq!(s.port, via.port(), "Via port: fields vs typed");
        }
    }
    if let (Some(s), Some(v)) = (&f.cseq, m.first_value(HeaderName::CSeq)) {
        let mut d = Vec::new();
        if let Ok(c) = header::parse_cseq(v, opts, &mut d) {
            assert_eq!(s.method.of(buf), c.method, "CSeq method: fields vs typed");
        }
    }
}

/// The index without what only one path computes (validation's fields and diagnostics).
fn skeleton(idx: &MessageIndex) -> MessageIndex {
    MessageIndex {
        diagnostics: Vec::new(),
        fields: None,
        ..idx.clone()
    }
}

/// Pairs of paths that must agree, on any bytes:
/// - the shortcuts (`addr_fast`, `tag_fast`, `via_fast`, `top_branch_fast`) and the typed
///   parsers, on the input as a header value and on each From, To and Via value of it as a
///   message: where a shortcut answers, the typed parse accepts with the same fields;
/// - lazy and validated parse: the same start line, headers, body and length;
/// - the fields validation keeps and the typed parsers on the same values;
/// - strict and lenient parse: what strict accepts, lenient accepts with the same index
///   (headers, fields) and no repair;
/// - stream framing and datagram parsing: a stream holding one message frames it to the
///   index a parse of those bytes gives.
pub fn differential(data: &[u8]) {
    for opts in BOTH {
        shortcuts(data, opts);
        let lazy = Message::parse_lazy(data, opts);
        let full = MessageIndex::parse(data, opts);
        if let (Ok(l), Ok(f)) = (&lazy, &full) {
            assert_eq!(skeleton(l.index()), skeleton(f), "lazy vs validated index");
            fields_vs_typed(data, f, opts);
        }
        if let Ok(m) = &lazy {
            for h in m.headers() {
                if matches!(h.kind, HeaderName::From | HeaderName::To | HeaderName::Via) {
                    shortcuts(m.bytes_of(h.value), opts);
                }
            }
        }
    }
    if let Ok(strict) = MessageIndex::parse(data, &ParseOptions::STRICT) {
        match MessageIndex::parse(data, &ParseOptions::LIBERAL) {
            Ok(lenient) => {
                assert_eq!(
                    skeleton(&strict),
                    skeleton(&lenient),
                    "strict vs lenient index"
                );
                assert_eq!(strict.fields, lenient.fields, "strict vs lenient fields");
            }
            Err(e) => panic!("strict accepts, lenient refuses: {e:?}"),
        }
    }
    for opts in BOTH {
        let mut f = StreamFramer::new(*opts);
        f.feed(data);
        f.finish();
        let mut framed = Vec::new();
        for _ in 0..=data.len() + 1 {
            match f.next_message() {
                Some(r) => framed.push(r),
                None => break,
            }
        }
        if let [Ok(m)] = framed.as_slice() {
            // The framer frames without validating: the lazy parse is its datagram twin.
            let again = Message::parse_lazy(&m.bytes, opts)
                .map(|x| x.index().clone())
                .unwrap_or_else(|e| panic!("a framed message does not parse alone: {e:?}"));
            assert_eq!(
                skeleton(&again),
                skeleton(&m.index),
                "framed index vs parse of the framed bytes"
            );
            black_box(m.index.fields());
        }
    }
}
