//! One SIP message made a row: the fields of the `messages` table, read from the header
//! index through the core's one-pass shortcuts (falling back to the typed parsers), with no
//! allocation. A message that fails to parse is still a row, with the first error's kind.

use sipwire::header::{parse_cseq, parse_name_addr, parse_via_list, tag_fast, top_branch_fast};
use sipwire::message::{HeaderName, MessageIndex, StartLine};
use sipwire::{Error, ErrorKind, ParseOptions};

/// The `messages` columns of one message (borrowing its bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SipRow<'a> {
    /// The request method; `None` for a response.
    pub method: Option<&'a [u8]>,
    /// The status code; `None` for a request.
    pub status: Option<u16>,
    pub call_id: Option<&'a [u8]>,
    pub cseq: Option<u32>,
    pub cseq_method: Option<&'a [u8]>,
    pub from_tag: Option<&'a [u8]>,
    pub to_tag: Option<&'a [u8]>,
    /// The top Via's branch.
    pub branch: Option<&'a [u8]>,
    /// The message's length in bytes.
    pub size: u32,
    /// The first error met reading the message or one of these fields.
    pub error: Option<ErrorKind>,
    /// The body, and the first Content-Type value (raw), for the SDP stage.
    pub body: &'a [u8],
    pub content_type: Option<&'a [u8]>,
}

/// Whether `payload` starts like a SIP message: a request line ending in ` SIP/2.0` or a
/// status line starting `SIP/2.0 ` (RFC 3261 §7.1, §7.2), judged on its first line only.
/// HTTP, RTP, DNS and the like fail here, so they never become rows.
pub fn looks_like_sip(payload: &[u8]) -> bool {
    let line_end = memchr::memchr(b'\n', payload.get(..1024).unwrap_or(payload));
    let Some(end) = line_end else {
        return false;
    };
    let line = payload.get(..end).unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = trim_end(line);
    // SIP-Version is case-insensitive (RFC 3261 §7.1).
    if line.len() > 8
        && line
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case(b"SIP/2.0 "))
    {
        return true;
    }
    // Request-Line = Method SP Request-URI SP SIP-Version; the method is a token.
    let Some(first_sp) = memchr::memchr(b' ', line) else {
        return false;
    };
    let method_ok = first_sp > 0
        && line
            .get(..first_sp)
            .is_some_and(|m| m.iter().all(|&b| sipwire::scan::is_token_char(b)));
    method_ok
        && line
            .len()
            .checked_sub(8)
            .and_then(|at| line.get(at..))
            .is_some_and(|s| s.eq_ignore_ascii_case(b" SIP/2.0"))
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn first_error(row: &mut SipRow<'_>, kind: ErrorKind) {
    if row.error.is_none() {
        row.error = Some(kind);
    }
}

/// Reads a row from a message parsed as a datagram.
pub fn datagram_row<'a>(buf: &'a [u8], opts: &ParseOptions) -> SipRow<'a> {
    match MessageIndex::parse_datagram(buf, opts) {
        Ok(index) => indexed_row(buf, &index, opts),
        Err(e) => failed_row(buf, e, opts),
    }
}

/// Header lines of a message that did not index searched for its fields.
const SALVAGE_LINES: usize = 256;

/// The row of a message that did not frame or index: its size, the error, and what its start
/// line and its `name: value` lines still give (a bad Content-Length or one broken header
/// should not hide the call a message belongs to; tshark shows these fields too). Lines end
/// at CRLF, LF or a lone CR; a line starting with white space continues the value above it
/// (RFC 3261 §7.3.1). Up to the first empty line or 256 lines are read.
pub fn failed_row<'a>(buf: &'a [u8], e: Error, opts: &ParseOptions) -> SipRow<'a> {
    let mut row = SipRow {
        size: u32::try_from(buf.len()).unwrap_or(u32::MAX),
        error: Some(e.kind),
        ..SipRow::default()
    };
    let mut lines = HeadLines { buf, pos: 0 }.take(SALVAGE_LINES + 1);
    // The start line may still be good (a header or the body was bad): keep what it says.
    // A head with no line end at all gives nothing but the error.
    let Some(line) = lines.next().filter(|l| l.end < buf.len()) else {
        return row;
    };
    if let Some(rest) = line.of(buf).strip_prefix(b"SIP/2.0 ") {
        row.status = rest
            .get(..3)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| d.parse().ok())
            .filter(|s| (100..=699).contains(s));
    } else if let Some(sp) = memchr::memchr(b' ', line.of(buf)) {
        row.method = line.of(buf).get(..sp).filter(|m| !m.is_empty());
    }
    let mut lines = lines.take_while(|l| l.start < l.end).peekable();
    let headers = std::iter::from_fn(|| loop {
        let l = lines.next()?;
        let folded = |c: &Line| matches!(buf.get(c.start), Some(b' ' | b'\t'));
        let (mut start, mut end) = (l.start, l.end);
        while let Some(c) = lines.next_if(folded) {
            end = c.end;
        }
        // A continuation line with no header above it is passed over.
        if folded(&l) {
            continue;
        }
        let Some(colon) = memchr::memchr(b':', buf.get(start..end)?) else {
            continue;
        };
        let name = trim_end(buf.get(start..start + colon)?);
        start += colon + 1;
        let value = trim_end(buf.get(start..end)?).trim_ascii_start();
        return Some((HeaderName::from_bytes(name), value));
    });
    read_fields(&mut row, headers, opts, None);
    row
}

/// A line of a message head: `buf[start..end]`, its ending left out.
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
}

impl Line {
    fn of(self, buf: &[u8]) -> &[u8] {
        buf.get(self.start..self.end).unwrap_or(&[])
    }
}

/// The lines of `buf`, each ended by CRLF, LF or a lone CR, or by the end of `buf`.
struct HeadLines<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Iterator for HeadLines<'_> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        let rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
        let start = self.pos;
        let Some(i) = memchr::memchr2(b'\r', b'\n', rest) else {
            self.pos = self.buf.len();
            return Some(Line {
                start,
                end: self.buf.len(),
            });
        };
        let crlf = rest.get(i..i + 2) == Some(b"\r\n");
        self.pos = start + i + if crlf { 2 } else { 1 };
        Some(Line {
            start,
            end: start + i,
        })
    }
}

/// Reads a row from a message whose index is known (`buf` holds the message and the spans of
/// `index` are offsets into it).
pub fn indexed_row<'a>(buf: &'a [u8], index: &MessageIndex, opts: &ParseOptions) -> SipRow<'a> {
    indexed_row_memo(buf, index, opts, None)
}

/// [`indexed_row`] reading the From/To tags and the top Via's branch through `memo`.
pub(crate) fn indexed_row_memo<'a>(
    buf: &'a [u8],
    index: &MessageIndex,
    opts: &ParseOptions,
    memo: Option<&mut RowMemo>,
) -> SipRow<'a> {
    let span = index.span();
    let mut row = SipRow {
        size: span.len,
        body: index.body.of(buf),
        ..SipRow::default()
    };
    match index.start_line {
        StartLine::Request { method, .. } => row.method = Some(method.of(buf)),
        StartLine::Response { status, .. } => row.status = Some(status),
    }
    let headers = index.headers.iter().map(|h| (h.kind, h.value.of(buf)));
    read_fields(&mut row, headers, opts, memo);
    if row.call_id.is_none() {
        first_error(&mut row, ErrorKind::MissingHeader);
    }
    row
}

/// Fills `row`'s fields from `headers` (name, value; the first of each counts). An error
/// reading one is the row's error unless it has one already.
fn read_fields<'a>(
    row: &mut SipRow<'a>,
    headers: impl Iterator<Item = (HeaderName, &'a [u8])>,
    opts: &ParseOptions,
    mut memo: Option<&mut RowMemo>,
) {
    let (mut via, mut from, mut to, mut cseq) = (None, None, None, None);
    for (kind, value) in headers {
        let slot = match kind {
            HeaderName::Via => &mut via,
            HeaderName::From => &mut from,
            HeaderName::To => &mut to,
            HeaderName::CSeq => &mut cseq,
            HeaderName::CallId => {
                if row.call_id.is_none() {
                    row.call_id = Some(trim_end(value)).filter(|v| !v.is_empty());
                }
                continue;
            }
            HeaderName::ContentType => {
                if row.content_type.is_none() {
                    row.content_type = Some(value);
                }
                continue;
            }
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
    let mut diags = Vec::new();
    if let Some(v) = cseq {
        match parse_cseq(v, opts, &mut diags) {
            Ok(c) => {
                row.cseq = Some(c.seq);
                row.cseq_method = Some(c.method);
            }
            Err(e) => first_error(row, e.kind),
        }
    }
    // The first error wins: the CSeq's, then From's, To's and the top Via's, in that order.
    for (i, (value, field)) in [(from, Field::Tag), (to, Field::Tag), (via, Field::Branch)]
        .into_iter()
        .enumerate()
    {
        let Some(v) = value else {
            continue;
        };
        let read = match memo.as_deref_mut() {
            Some(m) => m.read(v, field, opts),
            None => read_field(v, field, opts),
        };
        let got = match read {
            Ok(span) => span.and_then(|(s, e)| v.get(s as usize..e as usize)),
            Err(kind) => {
                first_error(row, kind);
                None
            }
        };
        match i {
            0 => row.from_tag = got,
            1 => row.to_tag = got,
            _ => row.branch = got,
        }
    }
}

/// A field of a row read from one header value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    /// The `tag` of a From or To value.
    Tag,
    /// The branch of a Via value's first via-parm.
    Branch,
}

/// What a header value gave for a [`Field`]: its span within the value (none when absent), or
/// the error of the typed parse.
/// u32: `max_header_line` may let a value grow past 64 KB.
type Read = Result<Option<(u32, u32)>, ErrorKind>;

/// Reads `field` of `v`: the one-pass shortcut, else the typed parser (which gives the answer
/// or the error).
fn read_field(v: &[u8], field: Field, opts: &ParseOptions) -> Read {
    let span = |s: &[u8]| {
        let start = (s.as_ptr() as usize).saturating_sub(v.as_ptr() as usize);
        let end = start + s.len();
        // A message is at most `max_message` (a u32) long; a value past it reads as absent.
        (
            u32::try_from(start).unwrap_or(u32::MAX),
            u32::try_from(end).unwrap_or(u32::MAX),
        )
    };
    let mut diags = Vec::new();
    match field {
        Field::Tag => match tag_fast(v, opts) {
            Some(tag) => Ok(tag.map(span)),
            None => match parse_name_addr(v, opts, &mut diags) {
                Ok(n) => Ok(n.tag().map(span)),
                Err(e) => Err(e.kind),
            },
        },
        Field::Branch => match top_branch_fast(v, opts) {
            Some(b) => Ok(b.map(span)),
            None => match parse_via_list(v, opts, &mut diags).next() {
                Some(Ok(via)) => Ok(via.branch().map(span)),
                Some(Err(e)) => Err(e.kind),
                None => Ok(None),
            },
        },
    }
}

/// Values up to this long are remembered by [`RowMemo`].
const MEMO_VALUE: usize = 120;
/// Slots of [`RowMemo`] (a power of two).
const MEMO_SLOTS: usize = 2048;

/// The From/To tags and top Via branches read from recent header values, by the values'
/// exact bytes. The messages of a call repeat their From, To and Via values byte for byte (a
/// response copies its request's, RFC 3261 §8.2.6.2; From and To stay the same through a
/// dialog, §12.2.1.1), and the same bytes read the same, so a capture reads each distinct
/// value once instead of on every message: those readers were a fifth of a capture read.
/// Direct-mapped on a hash of the value and the field (a newer value takes the slot); values
/// over `MEMO_VALUE` bytes are read every time. Fixed size: ~290 KB.
pub(crate) struct RowMemo {
    /// Slots once allocated (a power of two).
    size: usize,
    slots: Vec<MemoSlot>,
    bytes: Vec<u8>,
    hasher: foldhash::fast::FixedState,
    /// Lookups that found / did not find their value: for the tests only.
    #[cfg(test)]
    hits: u64,
    #[cfg(test)]
    misses: u64,
}

#[derive(Clone, Copy)]
struct MemoSlot {
    hash: u64,
    /// 0: empty; else the value's length + 1.
    len: u16,
    field: Field,
    read: Read,
}

impl Default for RowMemo {
    /// An empty memo; its table is allocated on the first read (a read of a few packets,
    /// and each fuzz input, never needs it).
    fn default() -> Self {
        RowMemo {
            size: MEMO_SLOTS,
            slots: Vec::new(),
            bytes: Vec::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x5157_a1e5),
            #[cfg(test)]
            hits: 0,
            #[cfg(test)]
            misses: 0,
        }
    }
}

impl RowMemo {
    /// [`read_field`] of `v`, remembered. The options must be the same on every call (one
    /// memo per reader; a read's options do not change).
    fn read(&mut self, v: &[u8], field: Field, opts: &ParseOptions) -> Read {
        if v.len() > MEMO_VALUE {
            return read_field(v, field, opts);
        }
        if self.slots.is_empty() {
            let empty = MemoSlot {
                hash: 0,
                len: 0,
                field: Field::Tag,
                read: Ok(None),
            };
            self.slots = vec![empty; self.size];
            self.bytes = vec![0; self.size * MEMO_VALUE];
        }
        let hash = std::hash::BuildHasher::hash_one(&self.hasher, (v, field as u8));
        let i = (hash as usize) & (self.size - 1);
        let at = i * MEMO_VALUE;
        let len = v.len() as u16 + 1;
        if let Some(slot) = self.slots.get(i) {
            if slot.hash == hash
                && slot.len == len
                && slot.field == field
                && self.bytes.get(at..at + v.len()) == Some(v)
            {
                #[cfg(test)]
                {
                    self.hits += 1;
                }
                return slot.read;
            }
        }
        #[cfg(test)]
        {
            self.misses += 1;
        }
        let read = read_field(v, field, opts);
        if let (Some(slot), Some(dst)) =
            (self.slots.get_mut(i), self.bytes.get_mut(at..at + v.len()))
        {
            dst.copy_from_slice(v);
            *slot = MemoSlot {
                hash,
                len,
                field,
                read,
            };
        }
        read
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(buf: &[u8]) -> Option<MessageIndex> {
        MessageIndex::parse_datagram(buf, &ParseOptions::LIBERAL).ok()
    }

    /// Messages whose From, To and Via take every path: the shortcuts, the typed parsers'
    /// answers and errors, values over the memo's length, a From equal to the To.
    fn messages() -> Vec<Vec<u8>> {
        let long = "x".repeat(MEMO_VALUE);
        let heads = [
            (
                "<sip:a@h>;tag=1",
                "<sip:b@h>",
                "SIP/2.0/UDP h;branch=z9hG4bK1",
            ),
            (
                "<sip:a@h>;tag=1",
                "<sip:b@h>;tag=2",
                "SIP/2.0/UDP h;branch=z9hG4bK1",
            ),
            (
                "\"A\" <sip:a@h>;tag=1",
                "<sip:a@h>;tag=1",
                "SIP/2.0/TCP h:5060;branch=z9hG4bK2",
            ),
            (
                "sip:a@h;tag=3",
                "<sip:b@[::1]>;tag=4",
                "SIP/2.0/UDP [::1];rport;branch=z9hG4bK3",
            ),
            (
                "<sip:a@h>;tag=1;tag=5",
                "<tel:+1>;tag=6",
                "SIP/2.0/UDP h;branch=a,SIP/2.0/UDP g",
            ),
            ("<sip:a@h", "b@h;;", "SIP/2.0/UDP"),
            ("<sip:a@h>;tag", "<sip:b@h>;tag=", "SIP/2.0/UDP h;branch"),
            (
                &*format!("<sip:{long}@h>;tag=7"),
                "<sip:b@h>;tag=8",
                &*format!("SIP/2.0/UDP h;branch={long}"),
            ),
        ];
        heads
            .iter()
            .map(|(f, t, v)| {
                format!(
                    "BYE sip:b@h SIP/2.0\r\nVia: {v}\r\nFrom: {f}\r\nTo: {t}\r\nCall-ID: c\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
                )
                .into_bytes()
            })
            .collect()
    }

    /// Through the memo, each row is what the readers give without it: on a miss, on a hit,
    /// and with a single slot that every value fights over.
    #[test]
    fn memo_rows_are_the_readers_rows() {
        let opts = ParseOptions::LIBERAL;
        let mut msgs = messages();
        let torture =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/rfc4475");
        let mut files: Vec<_> = std::fs::read_dir(&torture)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        let before = msgs.len();
        msgs.extend(
            files
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == "dat"))
                .map(|p| std::fs::read(p).unwrap()),
        );
        assert!(msgs.len() > before + 40, "the RFC 4475 messages are read");
        for size in [MEMO_SLOTS, 1, 2] {
            let mut memo = RowMemo {
                size,
                ..RowMemo::default()
            };
            for round in 0..3 {
                for m in &msgs {
                    let Some(idx) = index(m) else {
                        continue;
                    };
                    let plain = indexed_row(m, &idx, &opts);
                    let memoed = indexed_row_memo(m, &idx, &opts, Some(&mut memo));
                    assert_eq!(
                        plain,
                        memoed,
                        "round {round}, {} slots: {}",
                        size,
                        String::from_utf8_lossy(m)
                    );
                }
            }
            if size == MEMO_SLOTS {
                assert!(
                    memo.hits > memo.misses,
                    "{} hits, {} misses",
                    memo.hits,
                    memo.misses
                );
            }
        }
        // The readers' answers themselves, for the first two messages.
        let m = &msgs[1];
        let row = indexed_row(m, &index(m).unwrap(), &opts);
        assert_eq!(
            (row.from_tag, row.to_tag),
            (Some(&b"1"[..]), Some(&b"2"[..]))
        );
        assert_eq!(row.branch, Some(&b"z9hG4bK1"[..]));
        let m = &msgs[5];
        let row = indexed_row(m, &index(m).unwrap(), &opts);
        assert!(row.error.is_some());
    }

    /// A tag or branch past a value's first 64 KB, which `max_header_line` may allow, is read
    /// whole (spans are u32).
    #[test]
    fn fields_past_64_kb_of_a_value() {
        let mut opts = ParseOptions::LIBERAL;
        opts.limits.max_header_line = 1 << 20;
        opts.limits.max_message = 1 << 21;
        opts.limits.max_uri = 1 << 20;
        let user = "u".repeat(70_000);
        let pad = format!(";p={}", "x".repeat(70_000));
        let m = format!(
            "BYE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h{pad};branch=z9hG4bKfar\r\nFrom: <sip:{user}@h>;tag=f1\r\nTo: <sip:b@h>{pad};tag=t2\r\nCall-ID: c\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes();
        let idx = MessageIndex::parse_datagram(&m, &opts).unwrap();
        let mut memo = RowMemo::default();
        for row in [
            indexed_row(&m, &idx, &opts),
            indexed_row_memo(&m, &idx, &opts, Some(&mut memo)),
        ] {
            assert_eq!(row.error, None);
            assert_eq!(row.from_tag, Some(&b"f1"[..]));
            assert_eq!(row.to_tag, Some(&b"t2"[..]));
            assert_eq!(row.branch, Some(&b"z9hG4bKfar"[..]));
        }
    }

    /// A message that does not index still gives the fields its lines hold, with the error
    /// it failed on; lines after the empty line (the body) give nothing.
    #[test]
    fn failed_rows_keep_the_fields_their_lines_give() {
        let opts = ParseOptions::LIBERAL;
        let msg = |extra: &str, body: &str| {
            format!(
                "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKs1\r\nf: <sip:a@h>;tag=fa\r\nTo: <sip:b@h>\r\n{extra}CSeq: 7 INVITE\r\n\r\n{body}"
            )
            .into_bytes()
        };
        for (extra, kind) in [
            (
                "Call-ID: salvaged\r\nContent-Length: abc\r\n",
                ErrorKind::InvalidContentLength,
            ),
            (
                "i:  salvaged \r\nl: 1\r\nl: 2\r\n",
                ErrorKind::ConflictingContentLength,
            ),
            (
                "Call-ID: salvaged\r\nno colon here\r\n",
                ErrorKind::MissingColon,
            ),
        ] {
            let m = msg(extra, "");
            let row = datagram_row(&m, &opts);
            assert_eq!(row.error, Some(kind), "{extra:?}");
            assert_eq!(row.method, Some(&b"INVITE"[..]));
            assert_eq!(row.call_id, Some(&b"salvaged"[..]), "{extra:?}");
            assert_eq!((row.cseq, row.cseq_method), (Some(7), Some(&b"INVITE"[..])));
            assert_eq!(row.from_tag, Some(&b"fa"[..]));
            assert_eq!(row.to_tag, None);
            assert_eq!(row.branch, Some(&b"z9hG4bKs1"[..]));
        }
        let m = msg("Content-Length: x\r\n", "Call-ID: in-the-body\r\n");
        let row = datagram_row(&m, &opts);
        assert_eq!(row.error, Some(ErrorKind::InvalidContentLength));
        assert_eq!(row.call_id, None);
    }

    #[test]
    fn failed_rows_read_folded_lines_and_any_line_ending() {
        let opts = ParseOptions::LIBERAL;
        // A continuation with no header above, a folded Via and From (their parameters on
        // the next line), a folded Call-ID whose first line is all of it, a bad length.
        let lines = [
            "INVITE sip:b@h SIP/2.0",
            " stray continuation: x",
            "Via: SIP/2.0/UDP h",
            "\t;branch=z9hG4bKfold",
            "From: <sip:a@h>",
            "   ;tag=ffold",
            "To: <sip:b@h>",
            "Call-ID: folded",
            "CSeq: 9",
            " BYE",
            "Content-Length: many",
            "",
            "Call-ID: body",
        ];
        for eol in ["\r\n", "\n", "\r"] {
            let m = lines.join(eol).into_bytes();
            let row = datagram_row(&m, &opts);
            assert!(row.error.is_some(), "{eol:?}");
            assert_eq!(row.method, Some(&b"INVITE"[..]), "{eol:?}");
            assert_eq!(row.branch, Some(&b"z9hG4bKfold"[..]), "{eol:?}");
            assert_eq!(row.from_tag, Some(&b"ffold"[..]), "{eol:?}");
            assert_eq!(row.call_id, Some(&b"folded"[..]), "{eol:?}");
            assert_eq!(
                (row.cseq, row.cseq_method),
                (Some(9), Some(&b"BYE"[..])),
                "{eol:?}"
            );
        }
        // A head with no line end at all: the error alone.
        let row = datagram_row(b"INVITE sip:b@h SIP/2.0 Call-ID: x", &opts);
        assert!(row.error.is_some() && row.method.is_none() && row.call_id.is_none());
        // Every prefix of a broken message gives a row, never a panic.
        let m = lines.join("\r\n").into_bytes();
        for n in 0..m.len() {
            let _ = datagram_row(&m[..n], &opts);
        }
    }
}
