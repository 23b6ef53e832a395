//! The correlator's reader for the SDP most calls carry: a dozen lines or so, each
//! `<type>=<value>` with CRLF or LF, read in one pass into what [`SdpRec`] keeps: no line
//! vector, no heap allocation, each section handed on when the next `m=` line starts.
//!
//! It checks what [`SessionDescription::parse`] checks (RFC 8866 §5: `v=`, `o=`, `s=` first,
//! field counts, a `t=` before the media, the `m=` fields and payload types, the limits) and
//! declines, returning `None`, whatever it does not take on: a malformed or glued line, a NUL
//! or a stray CR, an empty line that is not trailing padding. The record reader then parses the body in full, so the result, and any error,
//! is the full parser's. The two readers give the same record on every body the fast one takes
//! (tested on generated bodies in `media.rs`).
//!
//! [`SdpRec`]: super::media::SdpRec
//! [`SessionDescription::parse`]: crate::sdp::SessionDescription::parse

use super::media::{Maps, MAX_STREAMS};
use crate::sdp::{
    bytes_eq, check_value, fields, glued_at, media_fields, scan_until, AttrKind, Direction,
    MediaFields,
};
use crate::ParseOptions;

/// What a level (the session, or one `m=` section) has said so far: its first `c=` value,
/// its first direction attribute, whether it has an `a=ice-ufrag`.
#[derive(Clone, Copy, Default)]
struct Level<'s> {
    c: Option<&'s [u8]>,
    dir: Option<Direction>,
    ice: bool,
}

/// One `m=` section as the record keeps it.
pub(crate) struct Section<'s> {
    pub kind: &'s [u8],
    pub port: u16,
    pub rtp: bool,
    /// The format list, from the first format to the end of the line.
    pub formats: &'s [u8],
    /// The connection address that applies (media-level `c=`, else session-level).
    pub address: Option<&'s [u8]>,
    /// The effective direction (RFC 8866 §6.7).
    pub direction: Direction,
    /// Whether the address is the RFC 2543 hold address and no `a=ice-ufrag` applies
    /// (RFC 8839 §4.2.2: an ICE stream's `c=0.0.0.0` is a placeholder).
    pub zero_hold: bool,
}

/// Where the line starting `rest` ends (before its CRLF or LF) and the next one starts, and
/// whether an `=` follows the type's own; `None` for a NUL, or a CR that ends no line (RFC 8866
/// §9 forbids both).
#[inline]
fn line_end(rest: &[u8]) -> Option<(usize, usize, bool)> {
    let (at, eq) = scan_until(
        rest,
        |w| bytes_eq(w, b'\n') | bytes_eq(w, b'\r') | bytes_eq(w, 0),
        |b| matches!(b, b'\n' | b'\r' | 0),
    );
    if at == rest.len() {
        return Some((at, at, eq));
    }
    ended(rest, at, eq)
}

#[inline]
fn ended(rest: &[u8], at: usize, eq: bool) -> Option<(usize, usize, bool)> {
    match (rest.get(at), rest.get(at + 1)) {
        (Some(b'\n'), _) => Some((at, at + 1, eq)),
        (Some(b'\r'), Some(b'\n')) => Some((at, at + 2, eq)),
        _ => None,
    }
}

/// Reads `body` and hands each `m=` section, in order, to `each` (the first [`MAX_STREAMS`]);
/// returns the number handed, or `None` when the body is left to the full parser (`each` may
/// have been called: the caller drops what it made).
pub(crate) fn read<'s>(
    body: &'s [u8],
    opts: &ParseOptions,
    mut each: impl FnMut(&Section<'s>, &Maps<'s>),
) -> Option<usize> {
    let (mut lines, mut m, mut attrs) = (0usize, 0usize, 0u32);
    let mut seen_t = false;
    let mut session = Level::default();
    // The section being read: its `m=` fields and what its lines said.
    let mut cur: Option<(MediaFields<'s>, Level<'s>)> = None;
    let mut maps = Maps::default();
    let max_line = opts.limits.max_sdp_line as usize;
    let mut pos = 0usize;
    while pos < body.len() {
        let rest = body.get(pos..)?;
        let (end, next, eq) = line_end(rest)?;
        let (end, next) = (pos + end, pos + next);
        if end == pos {
            // An empty line: fine only as padding at the very end.
            if rest.iter().all(|&b| b == b'\r' || b == b'\n') {
                break;
            }
            return None;
        }
        let kind = *body.get(pos)?;
        if end - pos > max_line
            || !kind.is_ascii_lowercase()
            || body.get(pos + 1) != Some(&b'=')
            || (eq && glued_at(body, pos + 2, end).is_some())
        {
            return None;
        }
        let voff = pos + 2;
        let value = body.get(voff..end)?;
        if [b'v', b'o', b's']
            .get(lines)
            .is_some_and(|&want| kind != want)
        {
            return None;
        }
        match kind {
            b't' => seen_t |= m == 0,
            b'm' => {
                if !seen_t || m >= usize::from(opts.limits.max_sdp_media) {
                    return None;
                }
                let f = media_fields(value, voff).ok()?;
                if let Some(done) = cur.replace((f, Level::default())) {
                    if m <= MAX_STREAMS {
                        emit(&done, &session, &maps, &mut each);
                    }
                }
                maps.clear();
                m += 1;
            }
            b'a' => {
                attrs += 1;
                if attrs > u32::from(opts.limits.max_sdp_attributes) {
                    return None;
                }
                let attr = check_value(kind, value, voff, false).ok()?;
                let level = cur.as_mut().map_or(&mut session, |c| &mut c.1);
                match attr {
                    // Only a section's own rtpmaps name its formats.
                    AttrKind::Rtpmap if m > 0 => {
                        let colon = crate::sdp::find_byte(value, b':')?;
                        maps.push(value.get(colon + 1..)?);
                    }
                    AttrKind::IceUfrag => level.ice = true,
                    k if level.dir.is_none() => level.dir = k.direction(),
                    _ => {}
                }
            }
            _ => {
                check_value(kind, value, voff, lines == 0).ok()?;
                if kind == b'c' {
                    let level = cur.as_mut().map_or(&mut session, |c| &mut c.1);
                    level.c = level.c.or(Some(value));
                }
            }
        }
        lines += 1;
        pos = next;
    }
    if lines < 3 || !seen_t {
        return None;
    }
    if let Some(done) = cur.filter(|_| m <= MAX_STREAMS) {
        emit(&done, &session, &maps, &mut each);
    }
    Some(m.min(MAX_STREAMS))
}

/// Hands one finished section to `each`: its `c=` else the session's (RFC 8866 §5.7), its
/// direction else the session's (§6.7).
fn emit<'s>(
    (f, own): &(MediaFields<'s>, Level<'s>),
    session: &Level<'s>,
    maps: &Maps<'s>,
    each: &mut impl FnMut(&Section<'s>, &Maps<'s>),
) {
    // The `c=` lines were checked to have three fields: the address is the third, up to
    // a `/` (multicast TTL and count).
    let address = own
        .c
        .or(session.c)
        .and_then(|v| fields(v).nth(2))
        .map(|a| a.split(|&b| b == b'/').next().unwrap_or(a));
    let s = Section {
        kind: f.kind,
        port: f.port,
        rtp: crate::sdp::is_rtp_proto(f.proto),
        formats: f.formats,
        address,
        direction: own.dir.or(session.dir).unwrap_or_default(),
        zero_hold: address == Some(b"0.0.0.0") && !own.ice && !session.ice,
    };
    each(&s, maps);
}
