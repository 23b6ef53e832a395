//! WebSocket frames (RFC 6455 §5) of one direction of a connection, after its opening
//! handshake, reassembled into messages: each carries one SIP message (RFC 7118 §5).
//!
//! Frames arrive as a byte stream in any cut. A frame that lies whole in the bytes handed in is
//! read in place (an unmasked one is handed on without a copy; a masked one is unmasked into a
//! reused buffer); only a frame cut by the end of the bytes is held until it is whole. A data
//! message in fragments (§5.4) is gathered in its own buffer, with control frames allowed
//! between the fragments. Everything held is bounded by the flow's limit; a frame or message
//! over it is skipped (its bytes are not held) and counted. A frame that breaks the framing
//! rules ends the direction: what follows cannot be framed with confidence.

use crate::stream::StreamStats;

/// Opcodes (RFC 6455 §5.2, §11.8).
const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// The largest frame header: 2 bytes, a 64-bit length, a masking key.
#[cfg(test)]
const MAX_HEADER: usize = 14;

/// A frame header (RFC 6455 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Header {
    fin: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    /// Header bytes (2 to 14).
    len: usize,
    /// Payload bytes.
    payload: u64,
}

/// Why a frame header breaks the framing rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bad {
    /// RSV1-3 set with no extension negotiated (§5.2); permessage-deflate (RFC 7692) lands here.
    Reserved,
    /// An opcode §5.2 reserves.
    Opcode,
    /// A control frame fragmented or longer than 125 bytes (§5.5).
    Control,
    /// A 64-bit length with its most significant bit set (§5.2).
    Length,
}

/// Reads the frame header at the start of `buf`: `Ok(None)` when it is not all there yet.
fn header(buf: &[u8]) -> Result<Option<Header>, Bad> {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0f);
    if b0 & 0x70 != 0 {
        return Err(Bad::Reserved);
    }
    let control = opcode & 0x8 != 0;
    if !matches!(opcode, CONTINUATION | TEXT | BINARY | CLOSE | PING | PONG) {
        return Err(Bad::Opcode);
    }
    let masked = b1 & 0x80 != 0;
    let (payload, mut len) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(&[a, b]) => (u64::from(u16::from_be_bytes([a, b])), 4),
            _ => return Ok(None),
        },
        127 => match buf.get(2..10).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
            Some(b) => (u64::from_be_bytes(b), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if payload >> 63 != 0 {
        return Err(Bad::Length);
    }
    if control && (!fin || payload > 125) {
        return Err(Bad::Control);
    }
    let mask = if masked {
        match buf
            .get(len..len + 4)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
        {
            Some(k) => {
                len += 4;
                Some(k)
            }
            None => return Ok(None),
        }
    } else {
        None
    };
    Ok(Some(Header {
        fin,
        opcode,
        mask,
        len,
        payload,
    }))
}

/// Bytes of the frame at the start of `buf` to hold before reading it: the header's size
/// while it is incomplete, then the whole frame, or only its header when the payload is over
/// `max` (it is skipped, not held).
fn frame_need(buf: &[u8], max: usize) -> usize {
    match header(buf) {
        Ok(Some(h)) if h.payload > max as u64 => h.len,
        Ok(Some(h)) => h
            .len
            .saturating_add(usize::try_from(h.payload).unwrap_or(usize::MAX)),
        Ok(None) => {
            let ext = match buf.get(1).map(|b| b & 0x7f) {
                Some(126) => 2,
                Some(127) => 8,
                _ => 0,
            };
            let mask = if buf.get(1).is_some_and(|b| b & 0x80 != 0) {
                4
            } else {
                0
            };
            2 + ext + mask
        }
        Err(_) => buf.len(),
    }
}

/// Where WebSocket frames carrying SIP start in bytes met mid-connection (the handshake was
/// before the capture began): the first offset holding a whole data frame header (text or
/// binary, RSV clear) whose payload, unmasked, starts with a known SIP start line (RFC 7118
/// §5: one message per WebSocket message). `None` when no offset within `limit` does.
pub(crate) fn sip_frame_start(
    view: &[u8],
    limit: usize,
    known: impl Fn(&[u8]) -> bool,
) -> Option<usize> {
    const LINE: usize = 256;
    let mut line = [0u8; LINE];
    for at in 0..view.len().min(limit) {
        let rest = view.get(at..).unwrap_or(&[]);
        // Cheap first: FIN or not, RSV clear, opcode text or binary.
        let Some(&b0) = rest.first() else { break };
        if b0 & 0x70 != 0 || !matches!(b0 & 0x0f, TEXT | BINARY) {
            continue;
        }
        let Ok(Some(h)) = header(rest) else { continue };
        let payload = rest.get(h.len..).unwrap_or(&[]);
        let n = payload
            .len()
            .min(LINE)
            .min(usize::try_from(h.payload).unwrap_or(usize::MAX));
        let (Some(src), Some(dst)) = (payload.get(..n), line.get_mut(..n)) else {
            continue;
        };
        match h.mask {
            Some(k) => dst
                .iter_mut()
                .zip(src.iter().zip(k.iter().cycle()))
                .for_each(|(d, (b, k))| *d = b ^ k),
            None => dst.copy_from_slice(src),
        }
        let Some(nl) = memchr::memchr(b'\n', dst) else {
            continue;
        };
        let first = dst.get(..nl).unwrap_or(&[]);
        if known(first.strip_suffix(b"\r").unwrap_or(first)) {
            return Some(at);
        }
    }
    None
}

/// XORs `payload` with the masking key into `out` (RFC 6455 §5.3).
fn unmask(payload: &[u8], key: [u8; 4], out: &mut Vec<u8>) {
    out.clear();
    out.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
}

/// One direction of a WebSocket connection.
#[derive(Debug, Default)]
pub(crate) struct WsDecoder {
    /// The start of a frame cut by the end of the bytes handed in.
    pending: Vec<u8>,
    /// A fragmented data message being gathered (§5.4).
    message: Vec<u8>,
    /// A data frame without FIN was seen: continuation frames follow.
    in_message: bool,
    /// The message being gathered went over the limit: its fragments are skipped.
    dropping: bool,
    /// Bytes still to skip of a frame too large to hold.
    discard: u64,
    /// Unmasked payloads.
    scratch: Vec<u8>,
    /// The largest frame or message held (the flow's limit).
    max: usize,
    /// The framing broke: nothing more is read.
    dead: bool,
}

impl WsDecoder {
    pub(crate) fn new(max: usize) -> Self {
        WsDecoder {
            max,
            ..Default::default()
        }
    }

    /// The framing broke; the direction is dropped.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead
    }

    /// Bytes held.
    pub(crate) fn held(&self) -> usize {
        self.pending.len() + self.message.len()
    }

    /// Reads `data`, calling `emit` with each whole message.
    pub(crate) fn push(
        &mut self,
        mut data: &[u8],
        stats: &mut StreamStats,
        emit: &mut dyn FnMut(&[u8]),
    ) {
        // First complete the frame held from before, taking only its own bytes from `data`.
        while !self.pending.is_empty() && !self.dead {
            let need = frame_need(&self.pending, self.max);
            if self.pending.len() < need {
                let take = (need - self.pending.len()).min(data.len());
                let (head, rest) = data.split_at(take);
                self.pending.extend_from_slice(head);
                data = rest;
                if self.pending.len() < need {
                    return; // `data` is used up
                }
                continue; // the header may now tell more of the frame's size
            }
            let pending = std::mem::take(&mut self.pending);
            let used = self.frames(&pending, stats, emit);
            if used == 0 {
                // Cannot happen (`need` bytes are a whole frame, or a header that sends the
                // frame to `discard`); drop rather than spin.
                self.dead = true;
            }
            self.pending
                .extend_from_slice(pending.get(used..).unwrap_or(&[]));
        }
        if self.dead {
            stats.ws_dropped_bytes += data.len() as u64;
            return;
        }
        let used = self.frames(data, stats, emit);
        self.pending
            .extend_from_slice(data.get(used..).unwrap_or(&[]));
    }

    /// Reads the whole frames at the start of `buf`; returns the bytes used.
    fn frames(
        &mut self,
        buf: &[u8],
        stats: &mut StreamStats,
        emit: &mut dyn FnMut(&[u8]),
    ) -> usize {
        let mut pos = 0;
        loop {
            if self.dead {
                stats.ws_dropped_bytes += buf.len().saturating_sub(pos) as u64;
                return buf.len();
            }
            let rest = buf.get(pos..).unwrap_or(&[]);
            if self.discard > 0 {
                let n = usize::try_from(self.discard)
                    .unwrap_or(usize::MAX)
                    .min(rest.len());
                self.discard -= n as u64;
                stats.ws_dropped_bytes += n as u64;
                pos += n;
                if self.discard > 0 {
                    return pos;
                }
                continue;
            }
            let h = match header(rest) {
                Ok(Some(h)) => h,
                Ok(None) => return pos,
                Err(_) => {
                    stats.ws_bad_frames += 1;
                    self.dead = true;
                    continue;
                }
            };
            let control = h.opcode & 0x8 != 0;
            // §5.4: a fragmented message is continued by continuation frames only, and a
            // continuation frame continues something.
            let data_frame = matches!(h.opcode, TEXT | BINARY);
            if (data_frame && self.in_message) || (h.opcode == CONTINUATION && !self.in_message) {
                stats.ws_bad_frames += 1;
                self.dead = true;
                continue;
            }
            let held_after = if control || h.opcode != CONTINUATION {
                0
            } else {
                self.message.len()
            };
            let too_big = h.payload > (self.max.saturating_sub(held_after)) as u64;
            if too_big && !control {
                stats.ws_frames += 1;
                // Skip the frame without holding it; a fragmented message is dropped whole.
                if !self.dropping {
                    stats.ws_oversize_messages += 1;
                }
                self.message.clear();
                self.in_message = !h.fin;
                self.dropping = !h.fin;
                pos += h.len;
                stats.ws_dropped_bytes += h.len as u64;
                self.discard = h.payload;
                continue;
            }
            let end = usize::try_from(h.payload)
                .ok()
                .and_then(|p| p.checked_add(h.len))
                .unwrap_or(usize::MAX);
            let Some(frame) = rest.get(..end) else {
                return pos; // cut: held by the caller
            };
            let raw = frame.get(h.len..).unwrap_or(&[]);
            pos += end;
            stats.ws_frames += 1;
            if control {
                stats.ws_control_frames += 1;
                continue;
            }
            let mut scratch = std::mem::take(&mut self.scratch);
            let payload = match h.mask {
                Some(key) => {
                    unmask(raw, key, &mut scratch);
                    &scratch[..]
                }
                None => raw,
            };
            match (h.opcode, h.fin) {
                (TEXT | BINARY, true) => {
                    stats.ws_messages += 1;
                    emit(payload);
                }
                (TEXT | BINARY, false) => {
                    self.message.clear();
                    self.message.extend_from_slice(payload);
                    self.in_message = true;
                    self.dropping = false;
                }
                _ => {
                    // A continuation frame.
                    if !self.dropping {
                        self.message.extend_from_slice(payload);
                    } else {
                        stats.ws_dropped_bytes += payload.len() as u64;
                    }
                    if h.fin {
                        self.in_message = false;
                        if !self.dropping {
                            stats.ws_messages += 1;
                            emit(&self.message);
                        }
                        self.dropping = false;
                        self.message.clear();
                    }
                }
            }
            self.scratch = scratch;
        }
    }

    /// The stream ended (or lost bytes): what is held cannot complete.
    pub(crate) fn abandon(&mut self, stats: &mut StreamStats) {
        stats.ws_dropped_bytes += self.held() as u64;
        self.pending = Vec::new();
        self.message = Vec::new();
        self.in_message = false;
        self.dropping = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame: FIN, opcode, optional masking key, payload (lengths chosen as §5.2 says).
    pub(crate) fn frame(fin: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![(u8::from(fin) << 7) | opcode];
        let m = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n @ 0..=125 => f.push(m | n as u8),
            n @ 126..=0xffff => {
                f.push(m | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(m | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(k) => {
                f.extend_from_slice(&k);
                f.extend(payload.iter().zip(k.iter().cycle()).map(|(b, k)| b ^ k));
            }
            None => f.extend_from_slice(payload),
        }
        f
    }

    fn run(d: &mut WsDecoder, chunks: &[&[u8]], stats: &mut StreamStats) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        for c in chunks {
            d.push(c, stats, &mut |m| got.push(m.to_vec()));
        }
        got
    }

    #[test]
    fn header_lengths_and_rules() {
        let h = header(&frame(true, TEXT, None, &[b'x'; 5]))
            .unwrap()
            .unwrap();
        assert_eq!((h.len, h.payload, h.fin, h.opcode), (2, 5, true, TEXT));
        let h = header(&frame(false, BINARY, Some([1, 2, 3, 4]), &[0; 300]))
            .unwrap()
            .unwrap();
        assert_eq!((h.len, h.payload, h.mask), (8, 300, Some([1, 2, 3, 4])));
        let h = header(&frame(true, TEXT, None, &[0; 70_000]))
            .unwrap()
            .unwrap();
        assert_eq!((h.len, h.payload), (10, 70_000));
        // Cut at every byte of a 14-byte header: incomplete, never wrong.
        let f = frame(true, TEXT, Some([9; 4]), &[0; 70_000]);
        for cut in 0..MAX_HEADER {
            assert_eq!(header(&f[..cut]), Ok(None), "cut {cut}");
        }
        assert_eq!(header(&[0x91, 0]), Err(Bad::Reserved));
        assert_eq!(header(&[0x83, 0]), Err(Bad::Opcode));
        assert_eq!(header(&[0x09, 0]), Err(Bad::Control));
        assert_eq!(header(&[0x89, 126, 0, 126]), Err(Bad::Control));
        let mut huge = vec![0x81, 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(header(&huge), Err(Bad::Length));
    }

    #[test]
    fn masked_fragments_with_control_frames_between() {
        let msg: Vec<u8> = (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let k = Some([0x37, 0xfa, 0x21, 0x3d]);
        let mut stream = frame(false, TEXT, k, &msg[..10]);
        stream.extend(frame(true, PING, k, b"hi"));
        stream.extend(frame(false, CONTINUATION, k, &msg[10..500]));
        stream.extend(frame(true, PONG, None, b""));
        stream.extend(frame(true, CONTINUATION, k, &msg[500..]));
        stream.extend(frame(true, BINARY, None, b"second"));
        for cut in 0..=stream.len() {
            let mut stats = StreamStats::default();
            let mut d = WsDecoder::new(4096);
            let got = run(&mut d, &[&stream[..cut], &stream[cut..]], &mut stats);
            assert_eq!(got, vec![msg.clone(), b"second".to_vec()], "cut {cut}");
            assert_eq!((stats.ws_frames, stats.ws_control_frames), (6, 2));
            assert_eq!((stats.ws_messages, stats.ws_bad_frames), (2, 0));
            assert_eq!(d.held(), 0);
        }
        let mut stats = StreamStats::default();
        let mut d = WsDecoder::new(4096);
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(run(&mut d, &bytes, &mut stats).len(), 2);
    }

    #[test]
    fn oversize_frames_and_messages_are_skipped_not_held() {
        let mut stats = StreamStats::default();
        let mut d = WsDecoder::new(100);
        let mut stream = frame(true, TEXT, Some([1, 2, 3, 4]), &[b'x'; 70_000]);
        stream.extend(frame(false, TEXT, None, &[b'y'; 60]));
        stream.extend(frame(true, CONTINUATION, None, &[b'y'; 60]));
        stream.extend(frame(true, TEXT, None, b"ok"));
        let mut got = Vec::new();
        for c in stream.chunks(1000) {
            d.push(c, &mut stats, &mut |m| got.push(m.to_vec()));
            assert!(d.held() <= 100 + MAX_HEADER);
        }
        assert_eq!(got, vec![b"ok".to_vec()]);
        assert_eq!(stats.ws_oversize_messages, 2);
    }

    #[test]
    fn a_broken_frame_ends_the_direction() {
        for bad in [
            frame(true, CONTINUATION, None, b"x"), // continues nothing
            [
                frame(false, TEXT, None, b"x"),
                frame(true, TEXT, None, b"y"),
            ]
            .concat(), // data inside a message
            vec![0xf1, 0x00],                      // RSV bits
        ] {
            let mut stats = StreamStats::default();
            let mut d = WsDecoder::new(1000);
            let mut s = bad.clone();
            s.extend(frame(true, TEXT, None, b"after"));
            assert_eq!(run(&mut d, &[&s], &mut stats), Vec::<Vec<u8>>::new());
            assert!(d.is_dead());
            assert_eq!(stats.ws_bad_frames, 1);
            assert!(stats.ws_dropped_bytes > 0);
        }
    }
}
