//! Stream framing (TCP, TLS, WebSocket payloads): RFC 3261 §18.3 and RFC 5626 §3.5.1.
//!
//! On a stream, Content-Length is mandatory and says where the next message starts.
//! "Need more bytes" is a status, not an error. CRLF keep-alives between messages are reported
//! so a transport can answer a ping (`CRLF CRLF`) with a pong (`CRLF`).
//!
//! Resync rule: after an error the framer drops input up to the next line that looks like a
//! start line (`SIP/2.0 ` at its start, or ` SIP/2.0` at its end); without such a line it keeps
//! only the trailing partial line. Every dropped byte is counted.

use super::index::{parse_head, MessageIndex};
use crate::error::{Error, ErrorKind};
use crate::limits::ParseOptions;
use crate::scan::Span;

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

/// Frames the message at the front of a stream buffer.
pub fn frame_stream(buf: &[u8], opts: &ParseOptions) -> Result<StreamEvent, Error> {
    match buf {
        [] | [b'\r'] => return Ok(StreamEvent::Incomplete { need: 0 }),
        [b'\r', b'\n', b'\r', b'\n', ..] => {
            return Ok(StreamEvent::KeepAlive { len: 4, ping: true })
        }
        [b'\r', b'\n', b'\r'] => return Ok(StreamEvent::Incomplete { need: 4 }),
        [b'\r', b'\n', ..] => {
            return Ok(StreamEvent::KeepAlive {
                len: 2,
                ping: false,
            })
        }
        [b'\n', ..] if opts.leniency.bare_lf => {
            return Ok(StreamEvent::KeepAlive {
                len: 1,
                ping: false,
            })
        }
        _ => {}
    }
    let max = opts.limits.max_message as usize;
    // Reject a bad start line as soon as it is complete, rather than waiting for CRLF CRLF.
    if let Some(nl) = memchr::memchr(b'\n', buf) {
        let line = buf.get(..nl).unwrap_or(&[]);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !looks_like_start_line(line) {
            return Err(Error::new(ErrorKind::Garbage, 0));
        }
    } else if buf.len() > max {
        return Err(Error::new(ErrorKind::MessageTooLarge, max));
    }
    let window = buf
        .get(..buf.len().min(max.saturating_add(4)))
        .unwrap_or(buf);
    let head_end = match memchr::memmem::find(window, b"\r\n\r\n") {
        Some(p) => p + 4,
        None => match memchr::memmem::find(window, b"\n\n").filter(|_| opts.leniency.bare_lf) {
            Some(p) => p + 2,
            None if buf.len() > max => return Err(Error::new(ErrorKind::MessageTooLarge, max)),
            None => return Ok(StreamEvent::Incomplete { need: 0 }),
        },
    };
    let mut diags = Vec::new();
    let head = parse_head(
        buf.get(..head_end).unwrap_or(buf),
        opts,
        &mut diags,
        Vec::new(),
    )?;
    let Some(cl) = head.content_length else {
        return Err(Error::new(
            ErrorKind::MissingContentLength,
            head.body_start.saturating_sub(2),
        ));
    };
    let end = head.body_start + cl as usize;
    if end > max {
        return Err(Error::new(ErrorKind::MessageTooLarge, max));
    }
    if buf.len() < end {
        return Ok(StreamEvent::Incomplete { need: end });
    }
    Ok(StreamEvent::Message {
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
    })
}

/// A cheap test that a line could start a message: `SIP/2.0 ...` or `... SIP/2.0`.
fn looks_like_start_line(line: &[u8]) -> bool {
    let sip = |s: Option<&[u8]>| s.is_some_and(|s| s.eq_ignore_ascii_case(b"SIP/"));
    let first_token_ok = line.first().is_some_and(|&b| crate::scan::is_token_char(b));
    sip(line.get(..4))
        || (first_token_ok
            && memchr::memrchr(b' ', line)
                .and_then(|p| line.get(p + 1..))
                .is_some_and(|v| sip(v.get(..4))))
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
        let line = rest.get(..nl).unwrap_or(&[]);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if looks_like_start_line(line) {
            return pos;
        }
        pos += nl + 1;
    }
}

/// A buffer for one stream connection: feed bytes as they arrive, take whole messages out.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    need: usize,
    opts: ParseOptions,
    /// Keep-alive pings (CRLF CRLF) seen; the owner answers each with CRLF.
    pub pings: u64,
    /// Keep-alive pongs (CRLF) seen.
    pub pongs: u64,
    /// Bytes dropped by resynchronisation after errors.
    pub skipped: u64,
    /// The bytes dropped after the last error (the error's offset is into them).
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

    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes held that are not yet a whole message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next whole message, `None` when more bytes are needed, or an error after which the
    /// framer has already resynchronised (call again to continue).
    pub fn next_message(&mut self) -> Option<Result<Framed, Error>> {
        loop {
            if self.buf.is_empty() || (self.need > 0 && self.buf.len() < self.need) {
                return None;
            }
            match frame_stream(&self.buf, &self.opts) {
                Ok(StreamEvent::KeepAlive { len, ping }) => {
                    if ping {
                        self.pings += 1;
                    } else {
                        self.pongs += 1;
                    }
                    self.buf.drain(..len.min(self.buf.len()));
                }
                Ok(StreamEvent::Incomplete { need }) => {
                    self.need = need;
                    return None;
                }
                Ok(StreamEvent::Message { index, len }) => {
                    self.need = 0;
                    let rest = self.buf.split_off(len.min(self.buf.len()));
                    let bytes = core::mem::replace(&mut self.buf, rest);
                    return Some(Ok(Framed { bytes, index }));
                }
                Err(e) => {
                    self.need = 0;
                    let skip = resync_offset(&self.buf).max(1).min(self.buf.len());
                    self.skipped += skip as u64;
                    self.dropped = self.buf.drain(..skip).collect();
                    return Some(Err(e));
                }
            }
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
    }
}
