//! Stream framing (TCP, TLS, WebSocket payloads): RFC 3261 §18.3 and RFC 5626 §3.5.1.
//!
//! On a stream, Content-Length is mandatory and says where the next message starts.
//! "Need more bytes" is a status, not an error. CRLF keep-alives between messages are reported
//! so a transport can answer a ping (`CRLF CRLF`) with a pong (`CRLF`).
//!
//! Resync rule: after an error the framer drops the rest of the line the failed message
//! started on, then every following line that does not look like a start line (`SIP/2.0 ` at
//! its start, or ` SIP/2.0` at its end); a line still arriving is kept until it is whole (or
//! `max_message` long). Every dropped byte is counted.
//!
//! Where the stream happens to be split never changes the outcome: every decision is taken
//! on bytes that are all present (a start line once its LF arrived, a head once its empty line
//! did, a CRLF once the next byte tells a ping from a pong), and the size bound looks at the
//! first `max_message` bytes only. The same bytes fed whole, in chunks or byte by byte give the
//! same messages, errors (kind, offset, order), keep-alives and skipped count; what still waits
//! for bytes when the stream ends is decided by [`StreamFramer::finish`].

use super::index::{parse_head, MessageIndex};
use super::names::HeaderName;
use crate::error::{Error, ErrorKind};
use crate::limits::ParseOptions;
use crate::scan::{find_lf, is_token_char, Span};

/// What the front of a stream buffer holds.
// Returned by value once per message; boxing the index would cost the allocation a parse
// otherwise avoids.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// `len` bytes of keep-alive: a ping (`CRLF CRLF`) to answer, or a pong (`CRLF`).
    KeepAlive { len: usize, ping: bool },
    /// A whole message in `buf[..len]` (spans of `index` are offsets into `buf`).
    Message { index: MessageIndex, len: usize },
    /// Not enough bytes yet; `need` is the total the buffer must hold before trying again
    /// (0 when unknown).
    Incomplete { need: usize },
}

/// Frames the message at the front of a stream buffer (more bytes may follow: a `CRLF` at the
/// end is `Incomplete` until the next byte tells a ping from a pong).
pub fn frame_stream(buf: &[u8], opts: &ParseOptions) -> Result<StreamEvent, Error> {
    let mut scan = Scan::default();
    match scan.frame(buf, opts) {
        Step::KeepAlive { len, ping } => Ok(StreamEvent::KeepAlive { len, ping }),
        Step::Message { index, len } => Ok(StreamEvent::Message { index, len }),
        Step::Error(e, _) => Err(e),
        Step::Wait | Step::Skip(_) => Ok(StreamEvent::Incomplete { need: scan.need }),
    }
}

/// A cheap test that a line could start a message: `SIP/2.0 ...` or `... SIP/2.0`.
fn looks_like_start_line(line: &[u8]) -> bool {
    let first_token_ok = line.first().is_some_and(|&b| is_token_char(b));
    is_sip_version(line.get(..4))
        || (first_token_ok
            && memchr::memrchr(b' ', line)
                .and_then(|p| line.get(p + 1..))
                .is_some_and(|v| is_sip_version(v.get(..4))))
}

fn is_sip_version(s: Option<&[u8]>) -> bool {
    s.is_some_and(|s| s.eq_ignore_ascii_case(b"SIP/"))
}

/// The methods of RFC 3261 and its extensions (RFC 3262, 3265/6665, 3311, 3428, 3515, 3903,
/// 6086).
const KNOWN_METHODS: &[&[u8]] = &[
    b"INVITE",
    b"ACK",
    b"BYE",
    b"CANCEL",
    b"OPTIONS",
    b"REGISTER",
    b"PRACK",
    b"SUBSCRIBE",
    b"NOTIFY",
    b"PUBLISH",
    b"INFO",
    b"REFER",
    b"MESSAGE",
    b"UPDATE",
];

/// Where a message starts in a line met while resynchronising, if it does. A Status-Line or
/// the Request-Line of a known method starts at the line's start. A body without a final CRLF
/// glues the next message's Request-Line to its last line (`abcINVITE sip:b SIP/2.0`): a
/// known method ending the first token starts there (the longest, so `PRACK` over `ACK`).
/// Any other line that looks like a start line is taken whole, except after lost bytes, where
/// it may be the tail of a cut line (`ITE sip:b SIP/2.0` still ends in `SIP/2.0`).
fn start_in_line(line: &[u8], after_gap: bool) -> Option<usize> {
    if is_sip_version(line.get(..4)) {
        return Some(0);
    }
    if !looks_like_start_line(line) {
        return None;
    }
    let token = line.split(|&b| b == b' ').next().unwrap_or(&[]);
    if KNOWN_METHODS.contains(&token) {
        return Some(0);
    }
    let glued = KNOWN_METHODS
        .iter()
        .filter(|m| token.ends_with(m))
        .map(|m| m.len())
        .max();
    match glued {
        Some(n) => Some(token.len() - n),
        None if after_gap => None,
        None => Some(0),
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The end of the head (just past its empty line) in `buf`, searching from `from`; or, when
/// not there yet, where to search from once more bytes arrive. An empty line is `CRLF` or,
/// for a lenient parse, a bare `LF` (strict parsing then reports the bare LF).
fn find_head_end(buf: &[u8], from: usize) -> Result<usize, usize> {
    let mut i = from;
    while let Some(lf) = find_lf(buf, i) {
        match (buf.get(lf + 1), buf.get(lf + 2)) {
            (Some(b'\n'), _) => return Ok(lf + 2),
            (Some(b'\r'), Some(b'\n')) => return Ok(lf + 3),
            (None, _) | (Some(b'\r'), None) => return Err(lf),
            _ => i = lf + 1,
        }
    }
    Err(buf.len())
}

/// Where to resume after an error at the front of `buf`: the offset of the next line (after
/// the first) that looks like a start line, or else of the trailing partial line.
pub fn resync_offset(buf: &[u8]) -> usize {
    let mut pos = match memchr::memchr(b'\n', buf) {
        Some(p) => p + 1,
        None => return buf.len(),
    };
    loop {
        let rest = buf.get(pos..).unwrap_or(&[]);
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            return pos; // keep the partial line: it may be a start line still arriving
        };
        let line = trim_cr(rest.get(..nl).unwrap_or(&[]));
        if looks_like_start_line(line) {
            return pos;
        }
        pos += nl + 1;
    }
}

/// What the framer is doing at the front of its bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Mode {
    /// Framing a message (or waiting for one).
    #[default]
    Frame,
    /// Resynchronising after an error: dropping the rest of the current line.
    SkipLine,
    /// Resynchronising at the start of a line: one that looks like a start line ends it.
    SeekStart,
    /// At the first byte after lost bytes: the line is kept only if it is a plausible start
    /// line (see [`start_in_line`]), else resync as after an error.
    AfterGap,
}

/// The framer's state, apart from its bytes. Every field is about the front of the unframed
/// bytes and is reset when they are consumed.
#[derive(Clone, Copy, Debug, Default)]
struct Scan {
    mode: Mode,
    /// The stream has ended: nothing waits for more bytes.
    eof: bool,
    /// Bytes the front message needs before framing is worth trying again (0: unknown).
    need: usize,
    /// The front message's start line was checked.
    line_ok: bool,
    /// No empty line ends the front message's head before this offset.
    head_from: usize,
}

/// One decision about the front of the unframed bytes.
#[allow(clippy::large_enum_variant)]
enum Step {
    /// Bytes dropped while resynchronising.
    Skip(usize),
    KeepAlive {
        len: usize,
        ping: bool,
    },
    Message {
        index: MessageIndex,
        len: usize,
    },
    /// An error about the first `.1` bytes; the framer resynchronises from the front.
    Error(Error, usize),
    /// Nothing can be decided before more bytes arrive.
    Wait,
}

impl Scan {
    fn reset_front(&mut self) {
        self.need = 0;
        self.line_ok = false;
        self.head_from = 0;
    }

    fn step(&mut self, input: &[u8], opts: &ParseOptions) -> Step {
        if let Some(n) = self.resync(input, opts) {
            return Step::Skip(n);
        }
        if self.mode != Mode::Frame {
            return Step::Wait;
        }
        self.frame(input, opts)
    }

    /// While resynchronising: the bytes to drop next (`None`: wait, or framing resumes).
    fn resync(&mut self, input: &[u8], opts: &ParseOptions) -> Option<usize> {
        loop {
            match self.mode {
                Mode::Frame => return None,
                Mode::SkipLine => {
                    return match memchr::memchr(b'\n', input) {
                        Some(nl) => {
                            self.mode = Mode::SeekStart;
                            Some(nl + 1)
                        }
                        None if input.is_empty() => None,
                        None => Some(input.len()),
                    }
                }
                Mode::SeekStart | Mode::AfterGap => {
                    let first = *input.first()?;
                    let max = opts.limits.max_message as usize;
                    let window = input.get(..input.len().min(max)).unwrap_or(input);
                    let start = if !is_token_char(first) {
                        None // neither a method nor "SIP/2.0" (RFC 3261 §7.1)
                    } else if let Some(nl) = memchr::memchr(b'\n', window) {
                        let line = trim_cr(window.get(..nl).unwrap_or(&[]));
                        start_in_line(line, self.mode == Mode::AfterGap)
                    } else if window.len() >= max || self.eof {
                        None // too long to start a message, or never completed
                    } else {
                        return None;
                    };
                    match start {
                        Some(at) => {
                            self.mode = Mode::Frame;
                            self.reset_front();
                            return (at > 0).then_some(at);
                        }
                        None => self.mode = Mode::SkipLine,
                    }
                }
            }
        }
    }

    /// Frames the message at the front of `buf`.
    fn frame(&mut self, buf: &[u8], opts: &ParseOptions) -> Step {
        if buf.is_empty() || (!self.eof && self.need > buf.len()) {
            return Step::Wait;
        }
        // RFC 5626 §3.5.1: CRLF CRLF is a ping, CRLF a pong; a CRLF at the end waits for the
        // byte that tells them apart.
        match buf {
            [b'\r', b'\n', b'\r', b'\n', ..] => return Step::KeepAlive { len: 4, ping: true },
            [b'\r'] | [b'\r', b'\n'] | [b'\r', b'\n', b'\r'] if !self.eof => {
                self.need = buf.len() + 1;
                return Step::Wait;
            }
            [b'\r', b'\n', ..] => {
                return Step::KeepAlive {
                    len: 2,
                    ping: false,
                }
            }
            [b'\n', ..] if opts.leniency.bare_lf => {
                return Step::KeepAlive {
                    len: 1,
                    ping: false,
                }
            }
            _ => {}
        }
        let max = opts.limits.max_message as usize;
        // Only the first `max` bytes are ever looked at, wherever the stream is split.
        let window = buf.get(..buf.len().min(max)).unwrap_or(buf);
        let too_large =
            |w: &[u8]| Step::Error(Error::new(ErrorKind::MessageTooLarge, max), w.len());
        if !self.line_ok {
            // Reject a bad start line as soon as it is known bad: at its first byte when that
            // is neither a method's nor "SIP/2.0"'s (RFC 3261 §7.1), else once it is whole.
            if !buf.first().is_some_and(|&b| is_token_char(b)) {
                return Step::Error(Error::new(ErrorKind::Garbage, 0), 1);
            }
            match memchr::memchr(b'\n', window) {
                Some(nl) => {
                    if !looks_like_start_line(trim_cr(window.get(..nl).unwrap_or(&[]))) {
                        return Step::Error(Error::new(ErrorKind::Garbage, 0), nl + 1);
                    }
                    self.line_ok = true;
                }
                None if window.len() >= max => return too_large(window),
                None if self.eof => {
                    let kind = if looks_like_start_line(window) {
                        ErrorKind::MissingEmptyLine
                    } else {
                        ErrorKind::Garbage
                    };
                    let at = if kind == ErrorKind::Garbage {
                        0
                    } else {
                        buf.len()
                    };
                    return Step::Error(Error::new(kind, at), buf.len());
                }
                None => return Step::Wait,
            }
        }
        let head_end = match find_head_end(window, self.head_from) {
            Ok(end) => end,
            Err(resume) => {
                self.head_from = resume;
                return if window.len() >= max {
                    too_large(window)
                } else if self.eof {
                    Step::Error(
                        Error::new(ErrorKind::MissingEmptyLine, buf.len()),
                        buf.len(),
                    )
                } else {
                    Step::Wait
                };
            }
        };
        let mut diags = Vec::new();
        let head = match parse_head(
            buf.get(..head_end).unwrap_or(buf),
            opts,
            &mut diags,
            Vec::new(),
        ) {
            Ok(h) => h,
            Err(e) => return Step::Error(e, head_end),
        };
        let Some(cl) = head.content_length else {
            let at = head.body_start.saturating_sub(2);
            return Step::Error(Error::new(ErrorKind::MissingContentLength, at), head_end);
        };
        let end = head.body_start.saturating_add(cl as usize);
        if end > max {
            // The Content-Length value is what makes it too large: the error points there
            // (inside the bytes received, unlike `max`).
            let at = head
                .headers
                .iter()
                .find(|h| h.kind == HeaderName::ContentLength)
                .map_or(head.body_start, |h| h.value.start as usize);
            let e = Error {
                header: Some(HeaderName::ContentLength),
                ..Error::new(ErrorKind::MessageTooLarge, at)
            };
            return Step::Error(e, head_end);
        }
        if buf.len() < end {
            if self.eof {
                let e = Error::new(ErrorKind::BodyTooShort, buf.len());
                return Step::Error(e, buf.len());
            }
            self.need = end;
            return Step::Wait;
        }
        Step::Message {
            len: end,
            index: MessageIndex {
                start_line: head.start_line,
                start: head.start as u32,
                headers: head.headers,
                body_start: head.body_start as u32,
                body: Span::new(head.body_start, end),
                end: end as u32,
                content_length: Some(cl),
                diagnostics: diags,
                fields: None,
            },
        }
    }
}

/// The framer's counters, borrowed together.
struct Tally<'a> {
    pings: &'a mut u64,
    pongs: &'a mut u64,
    skipped: &'a mut u64,
    dropped: &'a mut Vec<u8>,
}

/// A framing result handed to a callback: a message (its bytes and index) or an error.
pub type Framing<'a> = Result<(&'a [u8], MessageIndex), Error>;

/// Frames `input` until it needs more bytes or `f` returns false; returns the bytes consumed.
fn drive(
    scan: &mut Scan,
    opts: &ParseOptions,
    t: Tally<'_>,
    input: &[u8],
    f: &mut dyn FnMut(Framing<'_>) -> bool,
) -> usize {
    let mut pos = 0;
    loop {
        let rest = input.get(pos..).unwrap_or(&[]);
        match scan.step(rest, opts) {
            Step::Wait => return pos,
            Step::Skip(n) => {
                pos += n;
                *t.skipped += n as u64;
            }
            Step::KeepAlive { len, ping } => {
                pos += len;
                *if ping { &mut *t.pings } else { &mut *t.pongs } += 1;
                scan.reset_front();
            }
            Step::Message { index, len } => {
                pos += len;
                scan.reset_front();
                if !f(Ok((rest.get(..len).unwrap_or(rest), index))) {
                    return pos;
                }
            }
            Step::Error(e, about) => {
                t.dropped.clear();
                t.dropped
                    .extend_from_slice(rest.get(..about).unwrap_or(rest));
                scan.mode = Mode::SkipLine;
                scan.reset_front();
                // Resync now, so `buffered()` and `skipped` are current when `f` sees the error.
                while let Some(n) = scan.resync(input.get(pos..).unwrap_or(&[]), opts) {
                    pos += n;
                    *t.skipped += n as u64;
                }
                if !f(Err(e)) {
                    return pos;
                }
            }
        }
    }
}

/// A buffer for one stream connection: feed bytes as they arrive, take whole messages out.
#[derive(Debug, Default)]
pub struct StreamFramer {
    /// `buf[pos..]` are the bytes not framed yet.
    buf: Vec<u8>,
    pos: usize,
    scan: Scan,
    opts: ParseOptions,
    /// Keep-alive pings (CRLF CRLF) seen; the owner answers each with CRLF.
    pub pings: u64,
    /// Keep-alive pongs (CRLF) seen.
    pub pongs: u64,
    /// Bytes dropped by resynchronisation after errors and gaps.
    pub skipped: u64,
    /// The bytes the last error is about, from the front of the failed message (the error's
    /// offset is into them, or just past them).
    pub dropped: Vec<u8>,
}

/// A message taken from a [`StreamFramer`]: its own bytes and their index.
#[derive(Debug)]
pub struct Framed {
    pub bytes: Vec<u8>,
    pub index: MessageIndex,
}

impl StreamFramer {
    pub fn new(opts: ParseOptions) -> Self {
        StreamFramer {
            opts,
            ..Default::default()
        }
    }

    /// Appends received bytes (bytes a resync drops are dropped here, without a copy).
    pub fn feed(&mut self, mut data: &[u8]) {
        if self.buffered() == 0 {
            while let Some(n) = self.scan.resync(data, &self.opts) {
                self.skipped += n as u64;
                data = data.get(n..).unwrap_or(&[]);
            }
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos.min(self.buf.len()));
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes held that are not yet a whole message.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Says the stream has ended: what waited for more bytes is decided now by the next calls
    /// to [`next_message`](Self::next_message) or [`push`](Self::push) (a final CRLF is a pong,
    /// a message cut short an error: `MissingEmptyLine` or `BodyTooShort`).
    pub fn finish(&mut self) {
        self.scan.eof = true;
    }

    /// Says bytes of the stream were lost here (a capture gap). What is held can no longer
    /// grow: it is decided as at the end of a stream, each result handed to `f` (a message cut
    /// by the gap is an error), and framing resumes after the gap at the first line that
    /// plausibly starts a message (a status line or the request line of a known method), else
    /// by the resync rule.
    pub fn gap(&mut self, f: &mut dyn FnMut(Framing<'_>)) {
        self.scan.eof = true;
        self.push(&[], f);
        self.skipped += self.buffered() as u64; // nothing, since nothing waits at the end
        self.buf.clear();
        self.pos = 0;
        self.scan.eof = false;
        self.scan.mode = Mode::AfterGap;
        self.scan.reset_front();
    }

    /// The next whole message, `None` when more bytes are needed, or an error after which the
    /// framer has already resynchronised (call again to continue).
    pub fn next_message(&mut self) -> Option<Result<Framed, Error>> {
        let mut got = None;
        let input = self.buf.get(self.pos..).unwrap_or(&[]);
        let tally = Tally {
            pings: &mut self.pings,
            pongs: &mut self.pongs,
            skipped: &mut self.skipped,
            dropped: &mut self.dropped,
        };
        let used = drive(&mut self.scan, &self.opts, tally, input, &mut |r| {
            got = Some(r.map(|(b, index)| Framed {
                bytes: b.to_vec(),
                index,
            }));
            false
        });
        self.consume(used);
        got
    }

    /// Feeds `data` and hands every result it completes to `f`, in order: a message as its
    /// bytes and index, or an error after which the framer has resynchronised. A message
    /// that arrives whole while nothing is held is framed in `data` itself, without a copy;
    /// only an unfinished rest is kept. `push(&[], f)` after [`finish`](Self::finish) drains.
    pub fn push(&mut self, data: &[u8], f: &mut dyn FnMut(Framing<'_>)) {
        let mut each = |r: Framing<'_>| {
            f(r);
            true
        };
        if self.buffered() == 0 {
            self.buf.clear();
            self.pos = 0;
            let tally = Tally {
                pings: &mut self.pings,
                pongs: &mut self.pongs,
                skipped: &mut self.skipped,
                dropped: &mut self.dropped,
            };
            let used = drive(&mut self.scan, &self.opts, tally, data, &mut each);
            self.buf.extend_from_slice(data.get(used..).unwrap_or(&[]));
            return;
        }
        self.feed(data);
        let input = self.buf.get(self.pos..).unwrap_or(&[]);
        let tally = Tally {
            pings: &mut self.pings,
            pongs: &mut self.pongs,
            skipped: &mut self.skipped,
            dropped: &mut self.dropped,
        };
        let used = drive(&mut self.scan, &self.opts, tally, input, &mut each);
        self.consume(used);
    }

    fn consume(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.buf.len());
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 3\r\n\r\nabc";

    fn all(f: &mut StreamFramer) -> Vec<Result<Vec<u8>, ErrorKind>> {
        let mut out = Vec::new();
        while let Some(r) = f.next_message() {
            out.push(r.map(|m| m.bytes).map_err(|e| e.kind));
        }
        out
    }

    #[test]
    fn split_at_every_byte_and_merged() {
        for cut in 0..=MSG.len() {
            let mut f = StreamFramer::new(ParseOptions::STRICT);
            f.feed(&MSG[..cut]);
            let mut got = all(&mut f);
            f.feed(&MSG[cut..]);
            f.feed(b"\r\n\r\n");
            f.feed(MSG);
            got.extend(all(&mut f));
            assert_eq!(got, vec![Ok(MSG.to_vec()), Ok(MSG.to_vec())], "cut {cut}");
            assert_eq!(f.pings, 1);
            assert_eq!(f.buffered(), 0);
        }
    }

    #[test]
    fn keepalives() {
        assert_eq!(
            frame_stream(b"\r\n\r\nOPT", &ParseOptions::STRICT),
            Ok(StreamEvent::KeepAlive { len: 4, ping: true })
        );
        assert_eq!(
            frame_stream(b"\r\nOPT", &ParseOptions::STRICT),
            Ok(StreamEvent::KeepAlive {
                len: 2,
                ping: false
            })
        );
        assert_eq!(
            frame_stream(b"\r\n\r", &ParseOptions::STRICT),
            Ok(StreamEvent::Incomplete { need: 4 })
        );
        // A CRLF at the end may be the first half of a ping.
        assert_eq!(
            frame_stream(b"\r\n", &ParseOptions::STRICT),
            Ok(StreamEvent::Incomplete { need: 3 })
        );
        let mut f = StreamFramer::new(ParseOptions::STRICT);
        f.feed(b"\r\n");
        assert!(f.next_message().is_none());
        f.feed(b"\r\n\r\n");
        assert!(f.next_message().is_none());
        assert_eq!((f.pings, f.pongs, f.buffered()), (1, 0, 2));
        f.finish();
        assert!(f.next_message().is_none());
        assert_eq!((f.pings, f.pongs, f.buffered()), (1, 1, 0));
    }

    #[test]
    fn content_length_is_mandatory_on_streams() {
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n\r\n";
        assert_eq!(
            frame_stream(m, &ParseOptions::STRICT).unwrap_err().kind,
            ErrorKind::MissingContentLength
        );
    }

    #[test]
    fn garbage_is_skipped_to_the_next_start_line() {
        let mut f = StreamFramer::new(ParseOptions::STRICT);
        f.feed(b"\x16\x03\x01 hello garbage\r\nmore garbage\r\n");
        f.feed(MSG);
        assert_eq!(all(&mut f), vec![Err(ErrorKind::Garbage), Ok(MSG.to_vec())]);
        assert_eq!(f.skipped, 33);
    }

    #[test]
    fn bad_content_length_resyncs() {
        let mut f = StreamFramer::new(ParseOptions::STRICT);
        f.feed(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -5\r\n\r\njunk\r\n");
        f.feed(MSG);
        assert_eq!(
            all(&mut f),
            vec![Err(ErrorKind::InvalidContentLength), Ok(MSG.to_vec())]
        );
        // The error's bytes are kept for its context (line, column, header).
        assert!(f.dropped.ends_with(b"Content-Length: -5\r\n\r\n"));
    }

    #[test]
    fn a_content_length_past_the_limit_is_reported_at_its_value() {
        // The fuzz find stream-bf2ebf50: the error pointed at the limit (65,536), past the
        // 118 bytes received; it points at the Content-Length value, which is at fault.
        let mut f = StreamFramer::new(ParseOptions::LIBERAL);
        let head = b"OPTIONS sip:a@b SIP/2.0\r\nl: 65536\r\n\r\n";
        f.feed(head);
        let e = f.next_message().unwrap().unwrap_err();
        assert_eq!(e.kind, ErrorKind::MessageTooLarge);
        assert_eq!(e.offset as usize, head.len() - 9);
        assert_eq!(e.header, Some(HeaderName::ContentLength));
    }

    #[test]
    fn oversized_messages_fail_without_waiting_forever() {
        let mut opts = ParseOptions::STRICT;
        opts.limits.max_message = 200;
        let mut f = StreamFramer::new(opts);
        f.feed(b"OPTIONS sip:a@b SIP/2.0\r\n");
        f.feed(&[b'X'; 300]);
        assert_eq!(all(&mut f).first(), Some(&Err(ErrorKind::MessageTooLarge)));
        let mut f = StreamFramer::new(opts);
        f.feed(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 5000\r\n\r\n");
        assert_eq!(all(&mut f).first(), Some(&Err(ErrorKind::MessageTooLarge)));
        // A line without LF is judged on its first `max_message` bytes, and dropped
        // as it arrives: nothing is held.
        let mut f = StreamFramer::new(opts);
        f.feed(&[b'A'; 150]);
        assert!(f.next_message().is_none());
        f.feed(&[b'A'; 150]);
        assert_eq!(all(&mut f), vec![Err(ErrorKind::MessageTooLarge)]);
        f.feed(&[b'A'; 10_000]);
        assert_eq!(all(&mut f), vec![]);
        assert_eq!((f.buffered(), f.skipped), (0, 10_300));
    }

    #[test]
    fn binary_garbage_is_not_held() {
        let mut f = StreamFramer::new(ParseOptions::STRICT);
        f.feed(&[0x16; 5000]);
        assert_eq!(all(&mut f), vec![Err(ErrorKind::Garbage)]);
        f.feed(&[0x17; 5000]);
        assert_eq!(all(&mut f), vec![]);
        assert_eq!((f.buffered(), f.skipped), (0, 10_000));
        f.feed(b"\r\n");
        f.feed(MSG);
        assert_eq!(all(&mut f), vec![Ok(MSG.to_vec())]);
    }

    #[test]
    fn end_of_stream() {
        type Case<'a> = (&'a [u8], Vec<Result<Vec<u8>, ErrorKind>>);
        let cases: &[Case<'_>] = &[
            (&MSG[..10], vec![Err(ErrorKind::Garbage)]),
            (&MSG[..23], vec![Err(ErrorKind::MissingEmptyLine)]),
            (&MSG[..60], vec![Err(ErrorKind::MissingEmptyLine)]),
            (&MSG[..MSG.len() - 1], vec![Err(ErrorKind::BodyTooShort)]),
            (b"\r", vec![Err(ErrorKind::Garbage)]),
            (b"\r\n\r", vec![Err(ErrorKind::Garbage)]),
        ];
        for (input, want) in cases {
            let mut f = StreamFramer::new(ParseOptions::STRICT);
            f.feed(input);
            assert_eq!(all(&mut f), vec![]);
            f.finish();
            assert_eq!(&all(&mut f), want, "{:?}", String::from_utf8_lossy(input));
            assert_eq!(f.buffered(), 0);
        }
    }

    #[test]
    fn after_a_gap_only_a_plausible_start_line_is_trusted() {
        let mut f = StreamFramer::new(ParseOptions::STRICT);
        f.feed(&MSG[..40]);
        assert!(f.next_message().is_none());
        let mut cut = Vec::new();
        f.gap(&mut |r| cut.push(r.map(|_| ()).map_err(|e| e.kind)));
        assert_eq!(cut, vec![Err(ErrorKind::MissingEmptyLine)]);
        assert_eq!((f.buffered(), f.skipped), (0, 40));
        // The tail of a cut request line still ends in SIP/2.0: not trusted.
        f.feed(&MSG[3..]);
        f.feed(b"\r\n");
        f.feed(MSG);
        assert_eq!(all(&mut f), vec![Ok(MSG.to_vec())]);
        f.gap(&mut |_| {});
        f.feed(MSG);
        assert_eq!(all(&mut f), vec![Ok(MSG.to_vec())]);
        // A message glued to the end of a body is found after a gap, and after an error.
        f.gap(&mut |_| {});
        f.feed(b"XXXX\r\nheader: x\r\n\r\nbody");
        f.feed(MSG);
        assert_eq!(all(&mut f), vec![Ok(MSG.to_vec())]);
        f.feed(b"garbage\r\nabcd");
        f.feed(MSG);
        assert_eq!(all(&mut f), vec![Err(ErrorKind::Garbage), Ok(MSG.to_vec())]);
        // The longest method wins (PRACK, not ACK); an unknown one is kept whole after an
        // error, dropped after a gap.
        assert_eq!(start_in_line(b"xyzPRACK sip:a SIP/2.0", false), Some(3));
        assert_eq!(start_in_line(b"FOO sip:a SIP/2.0", false), Some(0));
        assert_eq!(start_in_line(b"FOO sip:a SIP/2.0", true), None);
        assert_eq!(start_in_line(b"ITE sip:a SIP/2.0", true), None);
        assert_eq!(start_in_line(b"SIP/2.0 200 OK", true), Some(0));
    }

    /// One framing outcome, comparable across runs.
    #[derive(Debug, PartialEq, Eq)]
    enum Out {
        Msg(Vec<u8>, MessageIndex),
        Err(ErrorKind, u32, Vec<u8>),
    }

    /// Everything a run reports: outcomes in order, then the counters and what is held,
    /// before and after `finish`.
    type Run = (Vec<Out>, [u64; 4], Vec<Out>, [u64; 4]);

    fn counters(f: &StreamFramer) -> [u64; 4] {
        [f.pings, f.pongs, f.skipped, f.buffered() as u64]
    }

    /// Feeds `data` cut at `cuts` through `feed` + `next_message` (`pull`) or `push`.
    fn run(data: &[u8], cuts: &[usize], opts: ParseOptions, pull: bool) -> Run {
        let mut f = StreamFramer::new(opts);
        let mut out = Vec::new();
        let take = |f: &mut StreamFramer, chunk: &[u8], out: &mut Vec<Out>| {
            if pull {
                f.feed(chunk);
                while let Some(r) = f.next_message() {
                    out.push(match r {
                        Ok(m) => Out::Msg(m.bytes, m.index),
                        Err(e) => Out::Err(e.kind, e.offset, f.dropped.clone()),
                    });
                }
            } else {
                let mut got = Vec::new();
                f.push(chunk, &mut |r| {
                    got.push(r.map(|(b, i)| (b.to_vec(), i)));
                });
                // Only the last error's `dropped` is left: pull runs check it.
                for r in got {
                    out.push(match r {
                        Ok((b, i)) => Out::Msg(b, i),
                        Err(e) => Out::Err(e.kind, e.offset, Vec::new()),
                    });
                }
            }
        };
        let mut prev = 0;
        for &c in cuts.iter().chain([data.len()].iter()) {
            take(&mut f, &data[prev..c], &mut out);
            prev = c;
        }
        let before = counters(&f);
        f.finish();
        let mut end = Vec::new();
        take(&mut f, &[], &mut end);
        (out, before, end, counters(&f))
    }

    fn tricky() -> Vec<(&'static str, Vec<u8>)> {
        let mut v: Vec<(&str, Vec<u8>)> = vec![
            (
                "fuzz find stream-5a7441e8",
                include_bytes!("../../../fuzz/regressions/stream/stream-5a7441e8").to_vec(),
            ),
            ("message", MSG.to_vec()),
            (
                "pings and pongs",
                b"\r\n\r\n\r\n\r\r\n\r\n\r\n\r\n".to_vec(),
            ),
            ("bare lf keep-alives", b"\n\r\n\n\r\n\r\n\n".to_vec()),
            ("crlf then cr at the end", b"\r\n\r".to_vec()),
            (
                "garbage lines",
                b"\x16\x03\x01 x\r\nmore\r\nGET / HTTP/1.1\r\n\r\n".to_vec(),
            ),
            (
                "missing content-length",
                b"OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n\r\n".to_vec(),
            ),
            (
                "negative content-length",
                b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -5\r\n\r\njunk\r\n".to_vec(),
            ),
            (
                "start-line-like header",
                b"OPTIONS sip:a@b SIP/2.0\r\nX: y SIP/2.0\r\nContent-Length: x\r\n\r\n".to_vec(),
            ),
            (
                "bare lf head",
                b"OPTIONS sip:a@b SIP/2.0\nContent-Length: 2\n\nab".to_vec(),
            ),
            (
                "bare lf then crlf empty line",
                b"OPTIONS sip:a@b SIP/2.0\nContent-Length: 2\n\r\nab".to_vec(),
            ),
            (
                "bare cr",
                b"OPTIONS sip:a@b SIP/2.0\r\nA: b\rc\r\nContent-Length: 0\r\n\r\n".to_vec(),
            ),
            ("long line", [&[b'A'; 300][..], b" SIP/2.0\r\n"].concat()),
            ("truncated", MSG[..MSG.len() - 2].to_vec()),
            ("cut start line", MSG[..12].to_vec()),
        ];
        for (name, body) in [
            ("sipfrag body", &b"SIP/2.0 200 OK\r\n"[..]),
            (
                "body of start lines",
                b"INVITE sip:x SIP/2.0\r\nBYE sip:y SIP/2.0\r\n",
            ),
        ] {
            let m = format!(
                "NOTIFY sip:a@b SIP/2.0\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            v.push((name, [m.as_bytes(), body].concat()));
        }
        // Several of them back to back, with garbage between.
        let mut mix = Vec::new();
        for (_, b) in &v {
            mix.extend_from_slice(b);
            mix.extend_from_slice(b"\r\n");
            mix.extend_from_slice(MSG);
        }
        v.push(("all of them in one stream", mix));
        v
    }

    #[test]
    fn chunking_never_changes_the_outcome() {
        let mut small = ParseOptions::LIBERAL;
        small.limits.max_message = 200;
        let mut small_strict = ParseOptions::STRICT;
        small_strict.limits.max_message = 200;
        for opts in [
            ParseOptions::STRICT,
            ParseOptions::LIBERAL,
            small,
            small_strict,
        ] {
            for (name, data) in tricky() {
                // [push, pull] of the whole input.
                let whole = [run(&data, &[], opts, false), run(&data, &[], opts, true)];
                let no_dropped = |v: &[Out]| -> Vec<Out> {
                    v.iter()
                        .map(|o| match o {
                            Out::Msg(b, i) => Out::Msg(b.clone(), i.clone()),
                            Out::Err(k, at, _) => Out::Err(*k, *at, Vec::new()),
                        })
                        .collect()
                };
                let (pull, push) = (&whole[1], &whole[0]);
                assert!(
                    no_dropped(&pull.0) == push.0 && no_dropped(&pull.2) == push.2,
                    "{name}: push and pull differ"
                );
                assert_eq!((pull.1, pull.3), (push.1, push.3), "{name}");
                let same = |cuts: &[usize], pull: bool| {
                    let got = run(&data, cuts, opts, pull);
                    let want = &whole[usize::from(pull)];
                    assert!(
                        &got == want,
                        "{name}: cut at {cuts:?} (pull {pull}):\n{got:?}\nvs whole\n{want:?}"
                    );
                };
                let ones: Vec<usize> = (1..data.len()).collect();
                same(&ones, true);
                same(&ones, false);
                // Splits at every point (in the long input, every 7th).
                let step = if data.len() > 2000 { 7 } else { 1 };
                for cut in (1..data.len()).step_by(step) {
                    same(&[cut], true);
                    same(&[cut], false);
                }
                // Pseudo-random chunkings.
                let mut x = 0x9e37_79b9u32;
                for _ in 0..20 {
                    let mut cuts = Vec::new();
                    let mut at = 0;
                    loop {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        at += 1 + (x % 97) as usize;
                        if at >= data.len() {
                            break;
                        }
                        cuts.push(at);
                    }
                    same(&cuts, x % 2 == 0);
                }
            }
        }
    }

    #[test]
    fn the_fuzz_find_frames_as_expected() {
        let data = include_bytes!("../../../fuzz/regressions/stream/stream-5a7441e8");
        let (out, _, end, [_, pongs, _, held]) = run(data, &[826], ParseOptions::STRICT, true);
        let kinds: Vec<_> = out
            .iter()
            .map(|o| match o {
                Out::Msg(..) => None,
                Out::Err(k, ..) => Some(*k),
            })
            .collect();
        // The CRLF after the message is a pong even when its next byte comes later.
        assert_eq!(
            kinds,
            [Some(ErrorKind::Garbage), None, Some(ErrorKind::Garbage)]
        );
        assert_eq!((end.len(), pongs, held), (0, 1, 0));
    }
}
