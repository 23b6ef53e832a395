//! The offer/answer model (RFC 3264): answers, hold and resume re-offers, and whether a new
//! offer changes anything. Results are [`OwnedSession`]s.

use super::attr::AttrKind;
use super::meaning::Direction;
use super::media::Media;
use super::parse::SessionDescription;
use super::write::{OwnedMedia, OwnedSession};
use crate::Result;

/// A codec the answerer supports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalCodec {
    /// Encoding name (`PCMU`, `opus`, `telephone-event`), or the format for non-RTP streams
    /// (`t38`).
    pub name: String,
    pub clock_rate: u32,
    /// Channel count; `None` = 1.
    pub channels: Option<u16>,
    /// The fmtp parameters to answer with; `None` echoes the offer's.
    pub fmtp: Option<String>,
}

impl LocalCodec {
    pub fn new(name: &str, clock_rate: u32) -> LocalCodec {
        LocalCodec {
            name: name.to_owned(),
            clock_rate,
            channels: None,
            fmtp: None,
        }
    }
}

/// A stream the answerer can take part in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalMedia {
    /// `audio`, `video`, `image`...
    pub kind: String,
    pub port: u16,
    /// The transport protocol required; `None` accepts the offer's.
    pub protocol: Option<String>,
    /// Supported codecs; order does not matter (the answer keeps the offerer's order).
    pub codecs: Vec<LocalCodec>,
    /// What the answerer is willing to do (sendrecv: both).
    pub direction: Direction,
    /// Accept `a=rtcp-mux` when offered (RFC 5761 §5.1.1).
    pub rtcp_mux: bool,
    /// A media-level address, when it differs from the session's.
    pub address: Option<String>,
}

impl LocalMedia {
    pub fn new(kind: &str, port: u16, codecs: Vec<LocalCodec>) -> LocalMedia {
        LocalMedia {
            kind: kind.to_owned(),
            port,
            protocol: None,
            codecs,
            direction: Direction::SendRecv,
            rtcp_mux: false,
            address: None,
        }
    }
}

/// The answerer's identity and streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalCapabilities {
    pub username: String,
    pub session_id: u64,
    pub session_version: u64,
    /// The address for `o=` and the session-level `c=`.
    pub address: String,
    pub session_name: String,
    /// Each entry answers at most one offered stream of its kind, in order.
    pub media: Vec<LocalMedia>,
}

/// RFC 3264 §6.1: what the answer says given the offered direction and what the answerer
/// is willing to do. The answer sends only if the offerer receives, and receives only if the
/// offerer sends.
fn answer_direction(offered: Direction, local: Direction) -> Direction {
    Direction::from_flags(
        offered.receives() && local.sends(),
        offered.sends() && local.receives(),
    )
}

/// A refused stream: port 0 (RFC 3264 §6), the offered formats kept (the m= line needs at
/// least one).
fn refused(m: &Media<'_>) -> Result<OwnedMedia> {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut out = OwnedMedia::new(&s(m.kind()), 0, &s(m.protocol()))?;
    for f in m.formats() {
        out.add_format(&s(f))?;
    }
    Ok(out)
}

fn answer_stream(m: &Media<'_>, local: &LocalMedia) -> Result<Option<OwnedMedia>> {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut out = OwnedMedia::new(&s(m.kind()), local.port, &s(m.protocol()))?;
    if m.is_rtp() {
        // RFC 3264 §6.1: the answer lists the common codecs, keeping the offer's payload
        // type numbers; we keep the offerer's order too.
        for c in m.codecs() {
            let Some(lc) = local
                .codecs
                .iter()
                .find(|lc| c.same_encoding(lc.name.as_bytes(), lc.clock_rate, lc.channels))
            else {
                continue;
            };
            let fmtp = match (&lc.fmtp, c.fmtp) {
                (Some(f), _) => Some(f.clone()),
                (None, Some(f)) => Some(s(f)),
                (None, None) => None,
            };
            let channels = c.channels.filter(|&n| n > 1);
            out.add_codec(
                c.payload_type,
                &s(c.name),
                c.clock_rate,
                channels,
                fmtp.as_deref(),
            )?;
        }
    } else {
        // Non-RTP formats (t38, application formats) are matched by name.
        for f in m.formats() {
            if local
                .codecs
                .iter()
                .any(|lc| lc.name.as_bytes().eq_ignore_ascii_case(f))
            {
                out.add_format(&s(f))?;
            }
        }
        // T.38: answer with the offered parameters (T.38 Annex D.2.3 lets the answerer lower
        // them; echoing is the common behaviour).
        for a in m.attributes().filter(|a| a.kind == AttrKind::T38) {
            let v = a.value.map(s);
            out.push_attribute(&s(a.name), v.as_deref())?;
        }
    }
    if out.formats().is_empty() {
        return Ok(None);
    }
    if let Some(addr) = &local.address {
        out.set_connection(addr)?;
    }
    if local.rtcp_mux && m.rtcp_mux() {
        out.push_attribute("rtcp-mux", None)?;
    }
    out.set_direction(answer_direction(m.direction(), local.direction));
    Ok(Some(out))
}

/// Builds the answer to `offer` (RFC 3264 §6): one m= line per offered one, same order;
/// refused streams (no local stream of that kind left, no common format, or offered with
/// port 0) get port 0; the t= line is the offer's (§6).
pub fn answer(offer: &SessionDescription<'_>, local: &LocalCapabilities) -> Result<OwnedSession> {
    let mut out = OwnedSession::new(
        &local.username,
        local.session_id,
        local.session_version,
        &local.address,
        &local.session_name,
    )?;
    out.set_connection(&local.address)?;
    if let Some(t) = offer.session_values(b't').next() {
        out.set_timing(&String::from_utf8_lossy(t))?;
    }
    let mut used = vec![false; local.media.len()];
    for m in offer.media() {
        let mut answered = None;
        if !m.is_disabled() {
            // The first unused local stream of this kind and protocol that has a format in
            // common answers it.
            for (i, lm) in local.media.iter().enumerate() {
                let free = !used.get(i).copied().unwrap_or(true);
                let fits = lm.kind.as_bytes().eq_ignore_ascii_case(m.kind())
                    && match &lm.protocol {
                        Some(p) => p.as_bytes() == m.protocol(),
                        None => true,
                    };
                if !(free && fits) {
                    continue;
                }
                if let Some(a) = answer_stream(&m, lm)? {
                    if let Some(u) = used.get_mut(i) {
                        *u = true;
                    }
                    answered = Some(a);
                    break;
                }
            }
        }
        out.add_media(match answered {
            Some(a) => a,
            None => refused(&m)?,
        });
    }
    Ok(out)
}

/// How to put streams on hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HoldStyle {
    /// RFC 3264 §8.4: sendrecv becomes sendonly, recvonly becomes inactive.
    SendOnly,
    /// Every active stream inactive.
    Inactive,
    /// The RFC 2543 form: `c=IN IP4 0.0.0.0`, directions unchanged (for old peers only;
    /// RFC 3264 §8.4 says not to use it otherwise).
    ZeroAddress,
}

/// A re-offer putting the streams of `prev` (the last description we sent) on hold: same
/// lines, `o=` version + 1, session id kept (RFC 3264 §8); ports and codecs unchanged.
/// Disabled streams (port 0) are left alone.
pub fn hold_offer(prev: &SessionDescription<'_>, style: HoldStyle) -> Result<OwnedSession> {
    let mut out = OwnedSession::from_parsed(prev);
    out.increment_version()?;
    if style == HoldStyle::ZeroAddress {
        if prev.connection().is_some() {
            out.set_connection("0.0.0.0")?;
        }
        for (om, m) in out.media_mut().iter_mut().zip(prev.media()) {
            if m.connections().next().is_some() {
                om.set_connection("0.0.0.0")?;
            }
        }
        return Ok(out);
    }
    out.clear_direction();
    for (om, m) in out.media_mut().iter_mut().zip(prev.media()) {
        if m.is_disabled() {
            continue;
        }
        let d = match style {
            HoldStyle::SendOnly => Direction::from_flags(m.direction().sends(), false),
            _ => Direction::Inactive,
        };
        om.set_direction(d);
    }
    Ok(out)
}

/// A re-offer taking the streams of `prev` off hold: `o=` version + 1, every active stream
/// sendrecv. `address` replaces the `c=` lines (needed after a [`HoldStyle::ZeroAddress`]
/// hold, which lost the address).
pub fn resume_offer(prev: &SessionDescription<'_>, address: Option<&str>) -> Result<OwnedSession> {
    let mut out = OwnedSession::from_parsed(prev);
    out.increment_version()?;
    out.clear_direction();
    if let Some(addr) = address {
        if prev.connection().is_some() {
            out.set_connection(addr)?;
        }
    }
    for (om, m) in out.media_mut().iter_mut().zip(prev.media()) {
        if m.is_disabled() {
            continue;
        }
        if let Some(addr) = address {
            if m.connections().next().is_some() || prev.connection().is_none() {
                om.set_connection(addr)?;
            }
        }
        om.set_direction(Direction::SendRecv);
    }
    Ok(out)
}

/// What a new offer does relative to the previous one of the same session (RFC 3264 §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OfferChange {
    /// Same version, same content.
    Unchanged,
    /// Version incremented but nothing else changed (a session refresh).
    VersionOnly,
    /// Version incremented and content changed.
    Changed,
    /// Content changed without a new version (RFC 3264 §8 forbids this; treat as a change).
    ChangedWithoutVersion,
    /// The o= line names another session (username, id or address differ).
    NewSession,
}

impl OfferChange {
    /// Whether media handling must be revisited.
    pub fn changes_anything(self) -> bool {
        matches!(
            self,
            OfferChange::Changed | OfferChange::ChangedWithoutVersion | OfferChange::NewSession
        )
    }
}

/// Compares a new offer with the previous one. Content is every line but `o=`, compared as
/// (type, value) so line endings and trailing padding do not count.
pub fn compare_offers(old: &SessionDescription<'_>, new: &SessionDescription<'_>) -> OfferChange {
    let (a, b) = (old.origin(), new.origin());
    if a.username != b.username
        || a.session_id != b.session_id
        || a.nettype != b.nettype
        || a.addrtype != b.addrtype
        || a.address != b.address
    {
        return OfferChange::NewSession;
    }
    let same_content = old
        .buf_lines()
        .filter(|l| l.0 != 0 && l.0 != b'o')
        .eq(new.buf_lines().filter(|l| l.0 != 0 && l.0 != b'o'));
    let same_version = match (a.version_number(), b.version_number()) {
        (Some(x), Some(y)) => x == y,
        _ => a.session_version == b.session_version,
    };
    match (same_version, same_content) {
        (true, true) => OfferChange::Unchanged,
        (false, true) => OfferChange::VersionOnly,
        (false, false) => OfferChange::Changed,
        (true, false) => OfferChange::ChangedWithoutVersion,
    }
}

impl<'a> SessionDescription<'a> {
    /// (type, value) of each line.
    fn buf_lines(&self) -> impl Iterator<Item = (u8, &'a [u8])> + '_ {
        let buf = self.buf;
        self.lines.iter().map(move |l| (l.kind, l.value(buf)))
    }
}
