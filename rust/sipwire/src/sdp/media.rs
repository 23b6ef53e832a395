//! Views over a parsed description: session-level fields and media sections (RFC 8866 §5).
//! Each accessor reads the body's bytes when called; nothing here allocates.

use super::attr::{
    AttrKind, Attribute, Candidate, Crypto, Fingerprint, Fmtp, Group, Rtcp, Rtpmap, Ssrc,
};
use super::fields;
use super::meaning::{static_payload_type, Codec, Direction, Hold, T38Options, TelephoneEvent};
use super::parse::{is_rtp_proto, Line, MediaRec, SessionDescription};
use crate::scan::parse_u64;

/// One line as found in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdpLine<'a> {
    /// The type letter; 0 for a malformed line a lenient parse kept.
    pub kind: u8,
    /// The text after `<type>=` (the whole line for a malformed one).
    pub value: &'a [u8],
    /// Offset of the line in the body.
    pub offset: u32,
    /// The line with its line ending, exactly as in the body.
    pub raw: &'a [u8],
}

fn sdp_line<'a>(buf: &'a [u8], l: &Line) -> SdpLine<'a> {
    let value = if l.kind == 0 {
        buf.get(l.start as usize..l.end as usize).unwrap_or(&[])
    } else {
        l.value(buf)
    };
    SdpLine {
        kind: l.kind,
        value,
        offset: l.start,
        raw: buf.get(l.start as usize..l.next as usize).unwrap_or(&[]),
    }
}

fn attribute<'a>(buf: &'a [u8], l: &Line) -> Attribute<'a> {
    let v = l.value(buf);
    let (name, value) = match super::find_byte(v, b':') {
        Some(c) => (v.get(..c).unwrap_or(&[]), v.get(c + 1..)),
        None => (v, None),
    };
    Attribute {
        name,
        value,
        kind: l.attr,
        offset: l.start,
    }
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`
/// (RFC 8866 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Origin<'a> {
    pub username: &'a [u8],
    pub session_id: &'a [u8],
    pub session_version: &'a [u8],
    pub nettype: &'a [u8],
    pub addrtype: &'a [u8],
    pub address: &'a [u8],
}

impl<'a> Origin<'a> {
    pub fn parse(v: &'a [u8]) -> Option<Origin<'a>> {
        let mut f = fields(v);
        let o = Origin {
            username: f.next()?,
            session_id: f.next()?,
            session_version: f.next()?,
            nettype: f.next()?,
            addrtype: f.next()?,
            address: f.next()?,
        };
        f.next().is_none().then_some(o)
    }
    /// The version as a number (RFC 8866 §5.2 only says "numeric"; 64 bits in practice).
    pub fn version_number(&self) -> Option<u64> {
        parse_u64(self.session_version)
    }
}

/// `c=<nettype> <addrtype> <connection-address>` (RFC 8866 §5.7); the address without its
/// `/ttl` and `/count` suffixes, which are split out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection<'a> {
    pub nettype: &'a [u8],
    pub addrtype: &'a [u8],
    pub address: &'a [u8],
    /// IP4 multicast TTL.
    pub ttl: Option<u32>,
    /// Number of addresses (multicast).
    pub count: Option<u32>,
}

impl<'a> Connection<'a> {
    pub fn parse(v: &'a [u8]) -> Option<Connection<'a>> {
        let mut f = fields(v);
        let nettype = f.next()?;
        let addrtype = f.next()?;
        let full = f.next()?;
        if f.next().is_some() {
            return None;
        }
        let mut parts = full.split(|&b| b == b'/');
        let address = parts.next().unwrap_or(&[]);
        let n1 = parts
            .next()
            .map(|s| parse_u64(s).and_then(|v| u32::try_from(v).ok()));
        let n2 = parts
            .next()
            .map(|s| parse_u64(s).and_then(|v| u32::try_from(v).ok()));
        // IP4 multicast: /ttl[/count]; IP6 has no TTL, so its one suffix is the count.
        let (ttl, count) = if addrtype == b"IP6" {
            (None, n1.flatten())
        } else {
            (n1.flatten(), n2.flatten())
        };
        Some(Connection {
            nettype,
            addrtype,
            address,
            ttl,
            count,
        })
    }
    /// The RFC 2543 hold address (RFC 3264 §8.4).
    pub fn is_zero(&self) -> bool {
        self.address == b"0.0.0.0"
    }
}

/// `b=<bwtype>:<bandwidth>` (RFC 8866 §5.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bandwidth<'a> {
    pub bwtype: &'a [u8],
    /// kbit/s (bit/s for TIAS, RFC 3890); `None` if not a number.
    pub bandwidth: Option<u64>,
}

impl<'a> Bandwidth<'a> {
    pub fn parse(v: &'a [u8]) -> Option<Bandwidth<'a>> {
        let c = memchr::memchr(b':', v)?;
        Some(Bandwidth {
            bwtype: v.get(..c)?,
            bandwidth: parse_u64(v.get(c + 1..)?),
        })
    }
}

/// `t=<start-time> <stop-time>` (RFC 8866 §5.9), NTP seconds; 0 = unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub start: u64,
    pub stop: u64,
}

/// An address and port to send to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint<'a> {
    pub address: &'a [u8],
    pub port: u16,
}

impl<'a> SessionDescription<'a> {
    /// The body this description was parsed from.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    fn session_lines(&self) -> &[Line] {
        let end = self
            .media
            .first()
            .map_or(self.lines.len(), |m| m.first as usize);
        self.lines.get(..end).unwrap_or(&[])
    }

    fn first_session(&self, kind: u8) -> Option<&'a [u8]> {
        let buf = self.buf;
        self.session_lines()
            .iter()
            .find(|l| l.kind == kind)
            .map(|l| l.value(buf))
    }

    /// Every line in order (malformed ones a lenient parse kept have kind 0).
    pub fn lines(&self) -> impl Iterator<Item = SdpLine<'a>> + '_ {
        let buf = self.buf;
        self.lines.iter().map(move |l| sdp_line(buf, l))
    }

    /// Trailing empty lines after the last line (kept for byte-exact writing).
    pub fn trailer(&self) -> &'a [u8] {
        self.buf.get(self.trailer as usize..).unwrap_or(&[])
    }

    /// `v=` value.
    pub fn version(&self) -> &'a [u8] {
        self.first_session(b'v').unwrap_or(&[])
    }

    /// `o=` (validated by the parse: six fields).
    pub fn origin(&self) -> Origin<'a> {
        self.first_session(b'o')
            .and_then(Origin::parse)
            .unwrap_or_default()
    }

    /// `s=` value.
    pub fn session_name(&self) -> &'a [u8] {
        self.first_session(b's').unwrap_or(&[])
    }

    /// `i=` at session level.
    pub fn information(&self) -> Option<&'a [u8]> {
        self.first_session(b'i')
    }

    /// `u=`.
    pub fn uri(&self) -> Option<&'a [u8]> {
        self.first_session(b'u')
    }

    /// `e=` lines.
    pub fn emails(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.session_values(b'e')
    }

    /// `p=` lines.
    pub fn phones(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.session_values(b'p')
    }

    /// Values of every session-level line of `kind` (e.g. `b'x'` for an unknown type).
    pub fn session_values(&self, kind: u8) -> impl Iterator<Item = &'a [u8]> + '_ {
        let buf = self.buf;
        self.session_lines()
            .iter()
            .filter(move |l| l.kind == kind)
            .map(move |l| l.value(buf))
    }

    /// Session-level `c=`.
    pub fn connection(&self) -> Option<Connection<'a>> {
        self.first_session(b'c').and_then(Connection::parse)
    }

    /// Session-level `b=` lines.
    pub fn bandwidths(&self) -> impl Iterator<Item = Bandwidth<'a>> + '_ {
        self.session_values(b'b').filter_map(Bandwidth::parse)
    }

    /// `t=` lines (malformed ones skipped).
    pub fn timings(&self) -> impl Iterator<Item = Timing> + '_ {
        self.session_values(b't').filter_map(|v| {
            let mut f = fields(v);
            Some(Timing {
                start: parse_u64(f.next()?)?,
                stop: parse_u64(f.next()?)?,
            })
        })
    }

    /// `r=` lines, raw.
    pub fn repeats(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.session_values(b'r')
    }

    /// `z=`, raw.
    pub fn zone(&self) -> Option<&'a [u8]> {
        self.first_session(b'z')
    }

    /// Session-level `k=` (obsolete, RFC 8866 §5.12), raw.
    pub fn key(&self) -> Option<&'a [u8]> {
        self.first_session(b'k')
    }

    /// Session-level attributes.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'a>> + '_ {
        let buf = self.buf;
        self.session_lines()
            .iter()
            .filter(|l| l.kind == b'a')
            .map(move |l| attribute(buf, l))
    }

    /// The first session-level attribute called `name`.
    pub fn attribute(&self, name: &[u8]) -> Option<Attribute<'a>> {
        self.attributes().find(|a| a.name == name)
    }

    /// The session-level direction (RFC 8866 §6.7: sendrecv when none is given).
    pub fn direction(&self) -> Direction {
        self.session_lines()
            .iter()
            .find_map(|l| (l.kind == b'a').then(|| l.attr.direction()).flatten())
            .unwrap_or_default()
    }

    /// `a=group` lines (RFC 5888), malformed ones skipped.
    pub fn groups(&self) -> impl Iterator<Item = Group<'a>> + '_ {
        self.attributes().filter_map(|a| {
            let off = a.offset as usize;
            (a.kind == AttrKind::Group)
                .then(|| Group::parse(a.value?, off).ok())
                .flatten()
        })
    }

    pub fn media_count(&self) -> usize {
        self.media.len()
    }

    /// The media sections, in order.
    pub fn media(&self) -> impl ExactSizeIterator<Item = Media<'_>> + '_ {
        self.media
            .iter()
            .enumerate()
            .map(move |(i, rec)| self.make_media(i, rec))
    }

    pub fn media_at(&self, index: usize) -> Option<Media<'_>> {
        self.media.get(index).map(|rec| self.make_media(index, rec))
    }

    fn make_media<'s>(&'s self, index: usize, rec: &'s MediaRec) -> Media<'s> {
        Media {
            buf: self.buf,
            session: self.session_lines(),
            lines: self
                .lines
                .get(rec.first as usize..rec.last as usize)
                .unwrap_or(&[]),
            rec,
            index,
        }
    }
}

/// One media section: its `m=` line and the lines up to the next one.
#[derive(Clone, Copy, Debug)]
pub struct Media<'s> {
    buf: &'s [u8],
    session: &'s [Line],
    /// The section's lines, the `m=` line first.
    lines: &'s [Line],
    rec: &'s MediaRec,
    index: usize,
}

impl<'s> Media<'s> {
    fn span(&self, s: (u32, u32)) -> &'s [u8] {
        self.buf.get(s.0 as usize..s.1 as usize).unwrap_or(&[])
    }

    fn attr_lines(&self) -> impl Iterator<Item = &'s Line> + 's {
        self.lines.iter().filter(|l| l.kind == b'a')
    }

    fn values(&self, kind: u8) -> impl Iterator<Item = &'s [u8]> + 's {
        let buf = self.buf;
        self.lines
            .iter()
            .skip(1)
            .filter(move |l| l.kind == kind)
            .map(move |l| l.value(buf))
    }

    /// Position among the description's media sections.
    pub fn index(&self) -> usize {
        self.index
    }
    /// `audio`, `video`, `image`, `application`, `text`, `message` or another token.
    pub fn kind(&self) -> &'s [u8] {
        self.span(self.rec.kind)
    }
    pub fn port(&self) -> u16 {
        self.rec.port
    }
    /// The `/<number of ports>` of the m= line, 1 when absent.
    pub fn port_count(&self) -> u16 {
        self.rec.port_count
    }
    /// Port 0: a stream refused in an answer or disabled in an offer (RFC 3264 §5.1, §6).
    pub fn is_disabled(&self) -> bool {
        self.rec.port == 0
    }
    pub fn protocol(&self) -> &'s [u8] {
        self.span(self.rec.proto)
    }
    pub fn is_rtp(&self) -> bool {
        is_rtp_proto(self.protocol())
    }
    /// The format list as written (`0 8 101`).
    pub fn formats_raw(&self) -> &'s [u8] {
        self.span(self.rec.fmts)
    }
    pub fn formats(&self) -> impl Iterator<Item = &'s [u8]> + Clone + 's {
        fields(self.formats_raw())
    }
    /// The payload types of an RTP stream (checked to be 0-127 by the parse); empty for
    /// other protocols.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + 's {
        let rtp = self.is_rtp();
        self.formats()
            .filter(move |_| rtp)
            .filter_map(|f| parse_u64(f).and_then(|v| u8::try_from(v).ok()))
    }

    /// The section's lines, the `m=` line first.
    pub fn lines(&self) -> impl Iterator<Item = SdpLine<'s>> + 's {
        let buf = self.buf;
        self.lines.iter().map(move |l| sdp_line(buf, l))
    }

    /// Offset of the `m=` line in the body.
    pub fn offset(&self) -> u32 {
        self.lines.first().map_or(0, |l| l.start)
    }

    /// Media-level `i=`.
    pub fn information(&self) -> Option<&'s [u8]> {
        self.values(b'i').next()
    }

    /// Media-level `c=` lines (several for layered multicast, RFC 8866 §5.7).
    pub fn connections(&self) -> impl Iterator<Item = Connection<'s>> + 's {
        self.values(b'c').filter_map(Connection::parse)
    }

    /// The connection that applies: the media-level `c=`, else the session-level one
    /// (RFC 8866 §5.7).
    pub fn connection(&self) -> Option<Connection<'s>> {
        self.connections().next().or_else(|| {
            let buf = self.buf;
            self.session
                .iter()
                .find(|l| l.kind == b'c')
                .and_then(|l| Connection::parse(l.value(buf)))
        })
    }

    pub fn bandwidths(&self) -> impl Iterator<Item = Bandwidth<'s>> + 's {
        self.values(b'b').filter_map(Bandwidth::parse)
    }

    pub fn key(&self) -> Option<&'s [u8]> {
        self.values(b'k').next()
    }

    /// Media-level attributes.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'s>> + 's {
        let buf = self.buf;
        self.attr_lines().map(move |l| attribute(buf, l))
    }

    /// The first media-level attribute called `name`.
    pub fn attribute(&self, name: &[u8]) -> Option<Attribute<'s>> {
        self.attributes().find(|a| a.name == name)
    }

    fn attr_of(&self, kind: AttrKind) -> Option<Attribute<'s>> {
        let buf = self.buf;
        self.attr_lines()
            .find(|l| l.attr == kind)
            .map(|l| attribute(buf, l))
    }

    /// Media-level attributes of `kind`: the kind is the parse's, so other lines are skipped
    /// without being split into name and value.
    pub(crate) fn attrs_of(&self, kind: AttrKind) -> impl Iterator<Item = Attribute<'s>> + 's {
        let buf = self.buf;
        self.attr_lines()
            .filter(move |l| l.attr == kind)
            .map(move |l| attribute(buf, l))
    }

    /// Media-level attribute of `kind`, else the session-level one (for attributes RFC 8866
    /// and their own RFCs allow at both levels: setup, fingerprint, ice-*).
    fn attr_either(&self, kind: AttrKind) -> Option<Attribute<'s>> {
        self.attr_of(kind).or_else(|| {
            let buf = self.buf;
            self.session
                .iter()
                .find(|l| l.kind == b'a' && l.attr == kind)
                .map(|l| attribute(buf, l))
        })
    }

    /// The media-level direction attribute, if any.
    pub fn own_direction(&self) -> Option<Direction> {
        self.attr_lines().find_map(|l| l.attr.direction())
    }

    /// The effective direction: media level, else session level, else sendrecv
    /// (RFC 8866 §6.7).
    pub fn direction(&self) -> Direction {
        self.own_direction()
            .or_else(|| {
                self.session
                    .iter()
                    .find_map(|l| (l.kind == b'a').then(|| l.attr.direction()).flatten())
            })
            .unwrap_or_default()
    }

    /// How this stream is held (RFC 3264 §8.4): an explicit sendonly/inactive direction
    /// first, else the RFC 2543 `c=0.0.0.0` form. A disabled stream (port 0) is not held,
    /// nor is an ICE stream whose `c=0.0.0.0` is a placeholder (RFC 8839 §4.2.2; recognised
    /// by its ice-ufrag).
    pub fn hold(&self) -> Hold {
        self.hold_given(self.direction(), || self.connection())
    }

    /// [`Media::hold`] for a reader that has the direction already (and the connection, if
    /// it is asked for).
    pub(crate) fn hold_given(
        &self,
        direction: Direction,
        connection: impl FnOnce() -> Option<Connection<'s>>,
    ) -> Hold {
        if self.is_disabled() {
            return Hold::NotHeld;
        }
        match direction {
            Direction::SendOnly => Hold::SendOnly,
            Direction::Inactive => Hold::Inactive,
            _ if connection().is_some_and(|c| c.is_zero())
                && self.attr_either(AttrKind::IceUfrag).is_none() =>
            {
                Hold::ZeroAddress
            }
            _ => Hold::NotHeld,
        }
    }

    pub fn is_hold(&self) -> bool {
        self.hold().is_hold()
    }

    /// The `a=rtpmap` of payload type `pt`.
    pub fn rtpmap(&self, pt: u8) -> Option<Rtpmap<'s>> {
        self.attrs_of(AttrKind::Rtpmap)
            .filter_map(|a| a.rtpmap()?.ok())
            .find(|r| r.payload_type == pt)
    }

    /// The `a=fmtp` of format `fmt` (a payload type, or `t38`...).
    pub fn fmtp(&self, fmt: &[u8]) -> Option<Fmtp<'s>> {
        self.attrs_of(AttrKind::Fmtp)
            .filter_map(|a| a.fmtp()?.ok())
            .find(|f| f.format == fmt)
    }

    /// The codec of payload type `pt`: its rtpmap, else the RFC 3551 static assignment.
    /// An rtpmap without a clock rate (`a=rtpmap:31 LPC`, seen in RFC 4475's messages)
    /// still names the codec; its clock rate is then 0.
    pub fn codec(&self, pt: u8) -> Codec<'s> {
        let mut digits = [0u8; 3];
        Codec {
            fmtp: self.fmtp(pt_str(pt, &mut digits)).map(|f| f.params),
            ..self.codec_rtpmap(pt)
        }
    }

    /// [`Media::codec`] without looking up the `a=fmtp` (its `fmtp` is `None`): for readers
    /// that want only names and clock rates, such as a capture learning its RTP streams.
    pub fn codec_rtpmap(&self, pt: u8) -> Codec<'s> {
        let mut digits = [0u8; 3];
        let fmt = pt_str(pt, &mut digits);
        let map = self
            .attrs_of(AttrKind::Rtpmap)
            .filter_map(|a| a.value)
            .find(|v| fields(v).next() == Some(fmt));
        if let Some(v) = map {
            return match Rtpmap::parse(v, 0) {
                Ok(r) => Codec {
                    payload_type: pt,
                    name: r.encoding,
                    clock_rate: r.clock_rate,
                    channels: r.channels,
                    fmtp: None,
                    from_rtpmap: true,
                },
                Err(_) => {
                    let rest = v.get(fmt.len()..).map(crate::scan::trim_lws).unwrap_or(&[]);
                    Codec {
                        payload_type: pt,
                        name: rest.split(|&b| b == b'/').next().unwrap_or(&[]),
                        clock_rate: 0,
                        channels: None,
                        fmtp: None,
                        from_rtpmap: true,
                    }
                }
            };
        }
        let (name, clock_rate, channels) = match static_payload_type(pt) {
            Some((n, c, ch)) => (n.as_bytes(), c, ch),
            None => (&b""[..], 0, None),
        };
        Codec {
            payload_type: pt,
            name,
            clock_rate,
            channels,
            fmtp: None,
            from_rtpmap: false,
        }
    }

    /// The codecs of an RTP stream in m= line order (empty for other protocols).
    pub fn codecs(&self) -> impl Iterator<Item = Codec<'s>> + 's {
        let me = *self;
        self.payload_types().map(move |pt| me.codec(pt))
    }

    /// The `telephone-event` payload (RFC 4733 §2.4), the first one offered.
    pub fn telephone_event(&self) -> Option<TelephoneEvent<'s>> {
        let c = self
            .codecs()
            .find(|c| c.name.eq_ignore_ascii_case(b"telephone-event"))?;
        Some(TelephoneEvent {
            payload_type: c.payload_type,
            clock_rate: c.clock_rate,
            events: c.fmtp,
        })
    }

    /// `a=ptime` in ms.
    pub fn ptime(&self) -> Option<u32> {
        match self.attr_of(AttrKind::Ptime)?.typed().ok()? {
            super::TypedAttr::Ptime(v) => Some(v),
            _ => None,
        }
    }

    /// `a=maxptime` in ms.
    pub fn maxptime(&self) -> Option<u32> {
        match self.attr_of(AttrKind::Maxptime)?.typed().ok()? {
            super::TypedAttr::Maxptime(v) => Some(v),
            _ => None,
        }
    }

    /// `a=mid` (RFC 5888).
    pub fn mid(&self) -> Option<&'s [u8]> {
        self.attr_of(AttrKind::Mid)?.value
    }

    /// `a=setup` (RFC 4145), media level else session level.
    pub fn setup(&self) -> Option<&'s [u8]> {
        self.attr_either(AttrKind::Setup)?.value
    }

    /// `a=fingerprint` (RFC 8122), media level else session level.
    pub fn fingerprint(&self) -> Option<Fingerprint<'s>> {
        let a = self.attr_either(AttrKind::Fingerprint)?;
        Fingerprint::parse(a.value?, a.offset as usize).ok()
    }

    /// `a=ice-ufrag` (RFC 8839), media level else session level.
    pub fn ice_ufrag(&self) -> Option<&'s [u8]> {
        self.attr_either(AttrKind::IceUfrag)?.value
    }

    /// `a=ice-pwd` (RFC 8839), media level else session level.
    pub fn ice_pwd(&self) -> Option<&'s [u8]> {
        self.attr_either(AttrKind::IcePwd)?.value
    }

    /// `a=candidate` lines (RFC 8839); each parsed or its error.
    pub fn candidates(&self) -> impl Iterator<Item = crate::Result<Candidate<'s>>> + 's {
        self.attributes()
            .filter(|a| a.kind == AttrKind::Candidate)
            .map(|a| Candidate::parse(a.value.unwrap_or(&[]), a.offset as usize + 12))
    }

    /// `a=crypto` lines (RFC 4568).
    pub fn crypto(&self) -> impl Iterator<Item = crate::Result<Crypto<'s>>> + 's {
        self.attributes()
            .filter(|a| a.kind == AttrKind::Crypto)
            .map(|a| Crypto::parse(a.value.unwrap_or(&[]), a.offset as usize + 9))
    }

    /// `a=ssrc` lines (RFC 5576).
    pub fn ssrcs(&self) -> impl Iterator<Item = crate::Result<Ssrc<'s>>> + 's {
        self.attributes()
            .filter(|a| a.kind == AttrKind::Ssrc)
            .map(|a| Ssrc::parse(a.value.unwrap_or(&[]), a.offset as usize + 7))
    }

    /// `a=rtcp-mux` (RFC 5761): RTCP shares the RTP port.
    pub fn rtcp_mux(&self) -> bool {
        self.attr_of(AttrKind::RtcpMux).is_some()
    }

    /// `a=rtcp` (RFC 3605), parsed.
    pub fn rtcp_attribute(&self) -> Option<Rtcp<'s>> {
        let a = self.attr_of(AttrKind::Rtcp)?;
        Rtcp::parse(a.value?, a.offset as usize + 7).ok()
    }

    /// Where to send RTP: the connection address and the m= port (None when the port is 0
    /// or there is no c=).
    pub fn rtp_endpoint(&self) -> Option<Endpoint<'s>> {
        if self.is_disabled() {
            return None;
        }
        Some(Endpoint {
            address: self.connection()?.address,
            port: self.rec.port,
        })
    }

    /// Where to send RTCP: `a=rtcp` (RFC 3605), else the RTP port under `a=rtcp-mux`
    /// (RFC 5761 §5.1.1), else the RTP port + 1 (RFC 3550 §11).
    pub fn rtcp_endpoint(&self) -> Option<Endpoint<'s>> {
        let rtp = self.rtp_endpoint()?;
        if let Some(r) = self.rtcp_attribute() {
            return Some(Endpoint {
                address: r.address.unwrap_or(rtp.address),
                port: r.port,
            });
        }
        if self.rtcp_mux() {
            return Some(rtp);
        }
        Some(Endpoint {
            address: rtp.address,
            port: rtp.port.checked_add(1)?,
        })
    }

    /// The T.38 attributes of an image stream.
    pub fn t38(&self) -> T38Options<'s> {
        let mut o = T38Options::default();
        for a in self.attributes().filter(|a| a.kind == AttrKind::T38) {
            o.set(a.name, a.value);
        }
        o
    }
}

/// The decimal digits of `pt` in `buf`.
pub(crate) fn pt_str(pt: u8, buf: &mut [u8; 3]) -> &[u8] {
    let (h, t, o) = (pt / 100, (pt / 10) % 10, pt % 10);
    *buf = [b'0' + h, b'0' + t, b'0' + o];
    let skip = if h > 0 {
        0
    } else if t > 0 {
        1
    } else {
        2
    };
    buf.get(skip..).unwrap_or(&[])
}
