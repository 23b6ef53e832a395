//! Writing descriptions.
//!
//! A parsed [`SessionDescription`] writes back byte for byte: its line records tile the body
//! (including lines a lenient parse split or kept aside), so writing them in order gives the
//! input. New descriptions are [`OwnedSession`]s, built by hand or by the offer/answer
//! functions; they write `<type>=<value>` CRLF (RFC 8866 §5) and refuse CR, LF and NUL in
//! values (no line injection).

use super::meaning::Direction;
use super::media::Origin;
use super::parse::SessionDescription;
use crate::{Error, ErrorKind, Result};

/// Serializes a parsed description: byte-exact for an unmodified parse.
pub fn write(sd: &SessionDescription<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(sd.buf.len());
    write_to(sd, &mut out);
    out
}

/// Appends a parsed description to `out`.
pub fn write_to(sd: &SessionDescription<'_>, out: &mut Vec<u8>) {
    for l in &sd.lines {
        out.extend_from_slice(sd.buf.get(l.start as usize..l.next as usize).unwrap_or(&[]));
    }
    out.extend_from_slice(sd.trailer());
}

/// Checks a value for a builder: no CR, LF or NUL (RFC 8866 §5: a value is any byte but
/// those); when `token`, no SP either (a single field).
fn check(v: &str, token: bool) -> Result<()> {
    if let Some(p) = v.bytes().position(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(Error::new(ErrorKind::ForbiddenCharacter, p));
    }
    if token {
        if v.is_empty() {
            return Err(Error::new(ErrorKind::InvalidValue, 0));
        }
        if let Some(p) = v.bytes().position(|b| b == b' ' || b == b'\t') {
            return Err(Error::new(ErrorKind::InvalidValue, p));
        }
    }
    Ok(())
}

/// The address type of a literal address: IP6 if it holds a colon.
pub(crate) fn addrtype(address: &str) -> &'static str {
    if address.contains(':') {
        "IP6"
    } else {
        "IP4"
    }
}

/// One owned line: its type letter and value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnedLine {
    kind: u8,
    value: String,
}

impl OwnedLine {
    /// A line `<kind>=<value>`; `kind` is a lowercase letter (RFC 8866 §9 `type`).
    pub fn new(kind: u8, value: impl Into<String>) -> Result<OwnedLine> {
        let value = value.into();
        if !kind.is_ascii_lowercase() {
            return Err(Error::new(ErrorKind::InvalidValue, 0));
        }
        check(&value, false)?;
        Ok(OwnedLine { kind, value })
    }
    /// `a=<name>` or `a=<name>:<value>`.
    pub fn attribute(name: &str, value: Option<&str>) -> Result<OwnedLine> {
        check(name, true)?;
        if name.contains(':') {
            return Err(Error::new(ErrorKind::InvalidValue, 0));
        }
        match value {
            Some(v) => OwnedLine::new(b'a', format!("{name}:{v}")),
            None => OwnedLine::new(b'a', name),
        }
    }
    pub fn kind(&self) -> u8 {
        self.kind
    }
    pub fn value(&self) -> &str {
        &self.value
    }
    /// The attribute name of an `a=` line.
    pub fn attribute_name(&self) -> Option<&str> {
        (self.kind == b'a').then(|| self.value.split(':').next().unwrap_or(""))
    }
    fn write_to(&self, out: &mut Vec<u8>) {
        out.push(self.kind);
        out.push(b'=');
        out.extend_from_slice(self.value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Where a line type goes (RFC 8866 §5 order); unknown types go last.
fn rank(kind: u8, media: bool) -> u8 {
    let order: &[u8] = if media { b"icbka" } else { b"vosiuepcbtrzka" };
    order
        .iter()
        .position(|&k| k == kind)
        .map_or(u8::MAX, |p| p as u8)
}

/// Inserts `line` after the last line of the same or an earlier rank.
fn insert_ordered(lines: &mut Vec<OwnedLine>, line: OwnedLine, media: bool) {
    let r = rank(line.kind, media);
    let at = lines
        .iter()
        .rposition(|l| rank(l.kind, media) <= r)
        .map_or(0, |p| p + 1);
    lines.insert(at, line);
}

fn remove_directions(lines: &mut Vec<OwnedLine>) {
    lines.retain(|l| {
        l.attribute_name()
            .and_then(|n| Direction::from_name(n.as_bytes()))
            .is_none()
    });
}

/// An owned media section: the `m=` fields and the lines after it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnedMedia {
    kind: String,
    port: u16,
    port_count: Option<u16>,
    protocol: String,
    formats: Vec<String>,
    lines: Vec<OwnedLine>,
}

impl OwnedMedia {
    /// `m=<kind> <port> <protocol>` with no formats yet.
    pub fn new(kind: &str, port: u16, protocol: &str) -> Result<OwnedMedia> {
        check(kind, true)?;
        check(protocol, true)?;
        Ok(OwnedMedia {
            kind: kind.to_owned(),
            port,
            port_count: None,
            protocol: protocol.to_owned(),
            formats: Vec::new(),
            lines: Vec::new(),
        })
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn set_port(&mut self, port: u16) {
        self.port = port;
    }
    pub fn protocol(&self) -> &str {
        &self.protocol
    }
    pub fn formats(&self) -> &[String] {
        &self.formats
    }
    /// The lines after `m=`.
    pub fn lines(&self) -> &[OwnedLine] {
        &self.lines
    }

    pub fn add_format(&mut self, fmt: &str) -> Result<()> {
        check(fmt, true)?;
        self.formats.push(fmt.to_owned());
        Ok(())
    }

    /// Adds payload type `pt` to the format list with its `a=rtpmap` and, if given,
    /// `a=fmtp` (RFC 8866 §6.6, §6.15).
    pub fn add_codec(
        &mut self,
        pt: u8,
        name: &str,
        clock_rate: u32,
        channels: Option<u16>,
        fmtp: Option<&str>,
    ) -> Result<()> {
        if pt > 127 {
            return Err(Error::new(ErrorKind::SdpInvalidPayloadType, 0));
        }
        check(name, true)?;
        if name.contains('/') {
            return Err(Error::new(ErrorKind::InvalidValue, 0));
        }
        let map = match channels {
            Some(c) => format!("{pt} {name}/{clock_rate}/{c}"),
            None => format!("{pt} {name}/{clock_rate}"),
        };
        self.formats.push(pt.to_string());
        self.push_attribute("rtpmap", Some(&map))?;
        if let Some(f) = fmtp {
            self.push_attribute("fmtp", Some(&format!("{pt} {f}")))?;
        }
        Ok(())
    }

    /// Adds a line in RFC 8866 §5 order (i, c, b, k, a).
    pub fn push_line(&mut self, kind: u8, value: &str) -> Result<()> {
        insert_ordered(&mut self.lines, OwnedLine::new(kind, value)?, true);
        Ok(())
    }

    pub fn push_attribute(&mut self, name: &str, value: Option<&str>) -> Result<()> {
        self.lines.push(OwnedLine::attribute(name, value)?);
        Ok(())
    }

    /// Removes every attribute called `name`.
    pub fn remove_attribute(&mut self, name: &str) {
        self.lines.retain(|l| l.attribute_name() != Some(name));
    }

    /// Sets the media-level `c=` (replacing any).
    pub fn set_connection(&mut self, address: &str) -> Result<()> {
        check(address, true)?;
        self.lines.retain(|l| l.kind != b'c');
        self.push_line(b'c', &format!("IN {} {address}", addrtype(address)))
    }

    /// Replaces any media-level direction attribute with `d`.
    pub fn set_direction(&mut self, d: Direction) {
        remove_directions(&mut self.lines);
        self.lines.push(OwnedLine {
            kind: b'a',
            value: d.as_str().to_owned(),
        });
    }

    /// The media-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        self.lines
            .iter()
            .find_map(|l| Direction::from_name(l.attribute_name()?.as_bytes()))
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"m=");
        out.extend_from_slice(self.kind.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.port.to_string().as_bytes());
        if let Some(n) = self.port_count {
            out.push(b'/');
            out.extend_from_slice(n.to_string().as_bytes());
        }
        out.push(b' ');
        out.extend_from_slice(self.protocol.as_bytes());
        for f in &self.formats {
            out.push(b' ');
            out.extend_from_slice(f.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        for l in &self.lines {
            l.write_to(out);
        }
    }
}

/// An owned session description, for building new ones and editing copies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnedSession {
    lines: Vec<OwnedLine>,
    media: Vec<OwnedMedia>,
}

impl OwnedSession {
    /// `v=0`, `o=<username> <session_id> <version> IN IP4|IP6 <address>`, `s=<name>`,
    /// `t=0 0` (RFC 8866 §5; an empty name becomes `-`, §5.3 asks for a non-empty one).
    pub fn new(
        username: &str,
        session_id: u64,
        session_version: u64,
        address: &str,
        session_name: &str,
    ) -> Result<OwnedSession> {
        check(username, true)?;
        check(address, true)?;
        let name = if session_name.is_empty() {
            "-"
        } else {
            session_name
        };
        Ok(OwnedSession {
            lines: vec![
                OwnedLine::new(b'v', "0")?,
                OwnedLine::new(
                    b'o',
                    format!(
                        "{username} {session_id} {session_version} IN {} {address}",
                        addrtype(address)
                    ),
                )?,
                OwnedLine::new(b's', name)?,
                OwnedLine::new(b't', "0 0")?,
            ],
            media: Vec::new(),
        })
    }

    /// An owned copy of a parsed description (values decoded as UTF-8, lossily; malformed
    /// lines a lenient parse kept are dropped).
    pub fn from_parsed(sd: &SessionDescription<'_>) -> OwnedSession {
        let own = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        let session_end = sd
            .media
            .first()
            .map_or(sd.lines.len(), |m| m.first as usize);
        let mut lines = Vec::with_capacity(session_end);
        for l in sd.lines.get(..session_end).unwrap_or(&[]) {
            if l.kind != 0 {
                lines.push(OwnedLine {
                    kind: l.kind,
                    value: own(l.value(sd.buf)),
                });
            }
        }
        let media = sd
            .media()
            .map(|m| OwnedMedia {
                kind: own(m.kind()),
                port: m.port(),
                port_count: (m.port_count() != 1).then_some(m.port_count()),
                protocol: own(m.protocol()),
                formats: m.formats().map(own).collect(),
                lines: m
                    .lines()
                    .skip(1)
                    .filter(|l| l.kind != 0)
                    .map(|l| OwnedLine {
                        kind: l.kind,
                        value: own(l.value),
                    })
                    .collect(),
            })
            .collect();
        OwnedSession { lines, media }
    }

    /// Session-level lines.
    pub fn lines(&self) -> &[OwnedLine] {
        &self.lines
    }
    pub fn media(&self) -> &[OwnedMedia] {
        &self.media
    }
    pub fn media_mut(&mut self) -> &mut [OwnedMedia] {
        &mut self.media
    }
    pub fn add_media(&mut self, m: OwnedMedia) {
        self.media.push(m);
    }

    /// The `o=` fields.
    pub fn origin(&self) -> Option<Origin<'_>> {
        let l = self.lines.iter().find(|l| l.kind == b'o')?;
        Origin::parse(l.value.as_bytes())
    }

    /// Sets the `o=` version (RFC 8866 §5.2), keeping the other fields.
    pub fn set_version(&mut self, version: u64) -> Result<()> {
        let bad = || Error::new(ErrorKind::SdpInvalidValue, 0);
        let o = self.origin().ok_or_else(bad)?;
        let value = format!(
            "{} {} {} {} {} {}",
            String::from_utf8_lossy(o.username),
            String::from_utf8_lossy(o.session_id),
            version,
            String::from_utf8_lossy(o.nettype),
            String::from_utf8_lossy(o.addrtype),
            String::from_utf8_lossy(o.address),
        );
        let line = self
            .lines
            .iter_mut()
            .find(|l| l.kind == b'o')
            .ok_or_else(bad)?;
        line.value = value;
        Ok(())
    }

    /// Increments the `o=` version by one (RFC 3264 §8: each new offer changes it).
    pub fn increment_version(&mut self) -> Result<()> {
        let v = self
            .origin()
            .and_then(|o| o.version_number())
            .and_then(|v| v.checked_add(1))
            .ok_or_else(|| Error::new(ErrorKind::SdpInvalidValue, 0))?;
        self.set_version(v)
    }

    /// Adds a session-level line in RFC 8866 §5 order.
    pub fn push_line(&mut self, kind: u8, value: &str) -> Result<()> {
        insert_ordered(&mut self.lines, OwnedLine::new(kind, value)?, false);
        Ok(())
    }

    pub fn push_attribute(&mut self, name: &str, value: Option<&str>) -> Result<()> {
        self.lines.push(OwnedLine::attribute(name, value)?);
        Ok(())
    }

    /// Sets the session-level `c=` (replacing any).
    pub fn set_connection(&mut self, address: &str) -> Result<()> {
        check(address, true)?;
        self.lines.retain(|l| l.kind != b'c');
        self.push_line(b'c', &format!("IN {} {address}", addrtype(address)))
    }

    /// Replaces the `t=` lines (and their `r=`) with `t=<start> <stop>`.
    pub fn set_timing(&mut self, value: &str) -> Result<()> {
        self.lines.retain(|l| l.kind != b't' && l.kind != b'r');
        self.push_line(b't', value)
    }

    /// Removes the session-level direction attributes.
    pub fn clear_direction(&mut self) {
        remove_directions(&mut self.lines);
    }

    pub fn write_to(&self, out: &mut Vec<u8>) {
        for l in &self.lines {
            l.write_to(out);
        }
        for m in &self.media {
            m.write_to(out);
        }
    }

    /// The description as bytes, CRLF line endings.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.write_to(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParseOptions;

    #[test]
    fn builder_writes_crlf_in_order() {
        let mut s = OwnedSession::new("alice", 1, 1, "192.0.2.1", "").unwrap();
        s.set_connection("192.0.2.1").unwrap();
        let mut m = OwnedMedia::new("audio", 49170, "RTP/AVP").unwrap();
        m.add_codec(0, "PCMU", 8000, None, None).unwrap();
        m.add_codec(101, "telephone-event", 8000, None, Some("0-15"))
            .unwrap();
        m.set_direction(Direction::SendOnly);
        s.add_media(m);
        let b = s.to_bytes();
        assert_eq!(
            String::from_utf8(b.clone()).unwrap(),
            "v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
             m=audio 49170 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendonly\r\n"
        );
        let sd = SessionDescription::parse(&b, &ParseOptions::STRICT, &mut Vec::new()).unwrap();
        assert_eq!(OwnedSession::from_parsed(&sd), s);
        s.increment_version().unwrap();
        assert_eq!(s.origin().unwrap().session_version, b"2");
    }

    #[test]
    fn builder_refuses_injection() {
        assert_eq!(
            OwnedSession::new("a", 1, 1, "1.2.3.4", "x\r\na=evil")
                .unwrap_err()
                .kind,
            ErrorKind::ForbiddenCharacter
        );
        let mut m = OwnedMedia::new("audio", 1, "RTP/AVP").unwrap();
        assert!(m.push_attribute("x y", None).is_err());
        assert!(m.push_attribute("x", Some("a\nb")).is_err());
        assert!(m.add_codec(128, "X", 8000, None, None).is_err());
        assert!(OwnedLine::new(b'A', "x").is_err());
    }
}
