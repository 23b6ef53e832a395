//! Attributes (RFC 8866 §5.13, §6): `a=<name>` or `a=<name>:<value>`.
//!
//! The parser classifies each `a=` line once ([`AttrKind`]); typed views are parsed from the
//! line's bytes only when asked for, borrow the body and allocate nothing. Unknown attributes
//! are kept as name/value (RFC 8866 §5.13: unknown attributes are ignored, not refused).

use super::{fields, Direction};
use crate::{Error, ErrorKind, Result};

/// What an `a=` line is, decided once at parse time from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum AttrKind {
    #[default]
    Other,
    Rtpmap,
    Fmtp,
    Ptime,
    Maxptime,
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
    Rtcp,
    RtcpMux,
    Mid,
    Group,
    Ssrc,
    Setup,
    Fingerprint,
    IceUfrag,
    IcePwd,
    Candidate,
    Crypto,
    /// One of the T.38 image attributes (ITU-T T.38 Annex D, RFC 3362 `T38Fax*` names).
    T38,
}

impl AttrKind {
    /// Classifies an attribute name. Names are case-sensitive (RFC 8866 §5.13) except the
    /// T.38 ones, which real fax gateways spell in several cases.
    pub fn from_name(name: &[u8]) -> AttrKind {
        match name {
            b"rtpmap" => AttrKind::Rtpmap,
            b"fmtp" => AttrKind::Fmtp,
            b"ptime" => AttrKind::Ptime,
            b"maxptime" => AttrKind::Maxptime,
            b"sendrecv" => AttrKind::SendRecv,
            b"sendonly" => AttrKind::SendOnly,
            b"recvonly" => AttrKind::RecvOnly,
            b"inactive" => AttrKind::Inactive,
            b"rtcp" => AttrKind::Rtcp,
            b"rtcp-mux" => AttrKind::RtcpMux,
            b"mid" => AttrKind::Mid,
            b"group" => AttrKind::Group,
            b"ssrc" => AttrKind::Ssrc,
            b"setup" => AttrKind::Setup,
            b"fingerprint" => AttrKind::Fingerprint,
            b"ice-ufrag" => AttrKind::IceUfrag,
            b"ice-pwd" => AttrKind::IcePwd,
            b"candidate" => AttrKind::Candidate,
            b"crypto" => AttrKind::Crypto,
            _ if is_t38_name(name) => AttrKind::T38,
            _ => AttrKind::Other,
        }
    }

    /// The direction this attribute sets, if it is one of the four (RFC 8866 §6.7).
    pub fn direction(self) -> Option<Direction> {
        match self {
            AttrKind::SendRecv => Some(Direction::SendRecv),
            AttrKind::SendOnly => Some(Direction::SendOnly),
            AttrKind::RecvOnly => Some(Direction::RecvOnly),
            AttrKind::Inactive => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// ITU-T T.38 Annex D / RFC 3362 attribute names (`T38FaxVersion`, `T38MaxBitRate`, ...).
fn is_t38_name(name: &[u8]) -> bool {
    name.len() > 3
        && name
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"T38"))
}

/// One attribute line, as found: name, optional value, and where the line starts in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub name: &'a [u8],
    /// The text after the first `:`; `None` for a property attribute (`a=sendrecv`).
    pub value: Option<&'a [u8]>,
    pub kind: AttrKind,
    /// Offset of the `a` of this line in the body.
    pub offset: u32,
}

/// A typed attribute, parsed on demand with [`Attribute::typed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypedAttr<'a> {
    Rtpmap(Rtpmap<'a>),
    Fmtp(Fmtp<'a>),
    Ptime(u32),
    Maxptime(u32),
    Direction(Direction),
    Rtcp(Rtcp<'a>),
    RtcpMux,
    Mid(&'a [u8]),
    Group(Group<'a>),
    Ssrc(Ssrc<'a>),
    Setup(&'a [u8]),
    Fingerprint(Fingerprint<'a>),
    IceUfrag(&'a [u8]),
    IcePwd(&'a [u8]),
    Candidate(Candidate<'a>),
    Crypto(Crypto<'a>),
    /// A T.38 attribute: its name and value (`T38FaxVersion:0`, `T38FaxFillBitRemoval`).
    T38 {
        name: &'a [u8],
        value: Option<&'a [u8]>,
    },
    Other {
        name: &'a [u8],
        value: Option<&'a [u8]>,
    },
}

impl<'a> Attribute<'a> {
    /// Offset of the value in the body (for errors); without a value, just after the name
    /// (the attribute may end the body, so there is no value to point at).
    fn value_offset(&self) -> usize {
        self.offset as usize + 2 + self.name.len() + usize::from(self.value.is_some())
    }

    /// The value, or an error just after the name, where the `:` and value were expected (an
    /// attribute without a value may end the body, so there is no value offset to point at).
    fn need_value(&self) -> Result<&'a [u8]> {
        self.value.ok_or_else(|| {
            Error::new(
                ErrorKind::SdpInvalidValue,
                self.offset as usize + 2 + self.name.len(),
            )
        })
    }

    /// The attribute parsed by its grammar. Errors carry offsets in the body.
    pub fn typed(&self) -> Result<TypedAttr<'a>> {
        let off = self.value_offset();
        Ok(match self.kind {
            AttrKind::Rtpmap => TypedAttr::Rtpmap(Rtpmap::parse(self.need_value()?, off)?),
            AttrKind::Fmtp => TypedAttr::Fmtp(Fmtp::parse(self.need_value()?, off)?),
            AttrKind::Ptime => TypedAttr::Ptime(parse_ms(self.need_value()?, off)?),
            AttrKind::Maxptime => TypedAttr::Maxptime(parse_ms(self.need_value()?, off)?),
            AttrKind::SendRecv | AttrKind::SendOnly | AttrKind::RecvOnly | AttrKind::Inactive => {
                match self.kind.direction() {
                    Some(d) => TypedAttr::Direction(d),
                    None => return Err(Error::new(ErrorKind::SdpInvalidValue, off)),
                }
            }
            AttrKind::Rtcp => TypedAttr::Rtcp(Rtcp::parse(self.need_value()?, off)?),
            AttrKind::RtcpMux => TypedAttr::RtcpMux,
            AttrKind::Mid => TypedAttr::Mid(self.need_value()?),
            AttrKind::Group => TypedAttr::Group(Group::parse(self.need_value()?, off)?),
            AttrKind::Ssrc => TypedAttr::Ssrc(Ssrc::parse(self.need_value()?, off)?),
            AttrKind::Setup => TypedAttr::Setup(self.need_value()?),
            AttrKind::Fingerprint => {
                TypedAttr::Fingerprint(Fingerprint::parse(self.need_value()?, off)?)
            }
            AttrKind::IceUfrag => TypedAttr::IceUfrag(self.need_value()?),
            AttrKind::IcePwd => TypedAttr::IcePwd(self.need_value()?),
            AttrKind::Candidate => TypedAttr::Candidate(Candidate::parse(self.need_value()?, off)?),
            AttrKind::Crypto => TypedAttr::Crypto(Crypto::parse(self.need_value()?, off)?),
            AttrKind::T38 => TypedAttr::T38 {
                name: self.name,
                value: self.value,
            },
            AttrKind::Other => TypedAttr::Other {
                name: self.name,
                value: self.value,
            },
        })
    }

    pub fn rtpmap(&self) -> Option<Result<Rtpmap<'a>>> {
        (self.kind == AttrKind::Rtpmap)
            .then(|| Rtpmap::parse(self.need_value()?, self.value_offset()))
    }

    pub fn fmtp(&self) -> Option<Result<Fmtp<'a>>> {
        (self.kind == AttrKind::Fmtp).then(|| Fmtp::parse(self.need_value()?, self.value_offset()))
    }
}

fn invalid(off: usize) -> Error {
    Error::new(ErrorKind::SdpInvalidValue, off)
}

/// Offset of `sub` inside `whole` added to `base` (both from the same buffer).
fn off_in(base: usize, whole: &[u8], sub: &[u8]) -> usize {
    base + (sub.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

fn parse_num<T: TryFrom<u64>>(s: &[u8], off: usize) -> Result<T> {
    crate::scan::parse_u64(s)
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| invalid(off))
}

/// A payload type: `1*3DIGIT` in 0-127 (RFC 3551 §3; the RTP header has 7 bits for it).
pub(crate) fn parse_pt(s: &[u8], off: usize) -> Result<u8> {
    let v = crate::scan::parse_u64(s).ok_or_else(|| invalid(off))?;
    u8::try_from(v)
        .ok()
        .filter(|&p| p <= 127)
        .ok_or_else(|| Error::new(ErrorKind::SdpInvalidPayloadType, off))
}

/// `ptime`/`maxptime` in milliseconds; some phones write a decimal (`20.00`), whose integer
/// part is kept.
fn parse_ms(v: &[u8], off: usize) -> Result<u32> {
    let int = v.split(|&b| b == b'.').next().unwrap_or(v);
    parse_num(int, off)
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`
/// (RFC 8866 §6.6). For audio the parameters are the channel count (RFC 3551 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rtpmap<'a> {
    pub payload_type: u8,
    pub encoding: &'a [u8],
    pub clock_rate: u32,
    pub channels: Option<u16>,
}

impl<'a> Rtpmap<'a> {
    /// Parses the value after `rtpmap:`; `off` is its offset in the body.
    pub fn parse(v: &'a [u8], off: usize) -> Result<Rtpmap<'a>> {
        let sp = memchr::memchr(b' ', v).ok_or_else(|| invalid(off + v.len()))?;
        let pt = parse_pt(v.get(..sp).unwrap_or(&[]), off)?;
        let rest = v.get(sp + 1..).unwrap_or(&[]);
        let rest_off = off + sp + 1;
        let mut parts = rest.split(|&b| b == b'/');
        let encoding = parts.next().unwrap_or(&[]);
        if encoding.is_empty() {
            return Err(invalid(rest_off));
        }
        let clock = parts.next().ok_or_else(|| invalid(rest_off + rest.len()))?;
        let clock_rate = parse_num(clock, off_in(off, v, clock))?;
        let channels = match parts.next() {
            Some(c) => Some(parse_num(c, off_in(off, v, c))?),
            None => None,
        };
        if let Some(extra) = parts.next() {
            return Err(invalid(off_in(off, v, extra)));
        }
        Ok(Rtpmap {
            payload_type: pt,
            encoding,
            clock_rate,
            channels,
        })
    }
}

/// `a=fmtp:<format> <format specific parameters>` (RFC 8866 §6.15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fmtp<'a> {
    pub format: &'a [u8],
    pub params: &'a [u8],
}

impl<'a> Fmtp<'a> {
    pub fn parse(v: &'a [u8], off: usize) -> Result<Fmtp<'a>> {
        let (format, params) = match memchr::memchr(b' ', v) {
            Some(sp) => (v.get(..sp).unwrap_or(&[]), v.get(sp + 1..).unwrap_or(&[])),
            None => (v, &[][..]),
        };
        if format.is_empty() {
            return Err(invalid(off));
        }
        Ok(Fmtp { format, params })
    }

    /// The `;`-separated parameters as (name, value) pairs, trimmed; a bare item (`0-15` in
    /// telephone-event) has an empty name.
    pub fn pairs(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        self.params
            .split(|&b| b == b';')
            .map(crate::scan::trim_lws)
            .filter(|p| !p.is_empty())
            .map(|p| match memchr::memchr(b'=', p) {
                Some(eq) => (
                    crate::scan::trim_lws(p.get(..eq).unwrap_or(&[])),
                    crate::scan::trim_lws(p.get(eq + 1..).unwrap_or(&[])),
                ),
                None => (&[][..], p),
            })
    }

    /// The value of parameter `name` (case-insensitive).
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.pairs()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// `a=rtcp:<port> [<nettype> <addrtype> <connection-address>]` (RFC 3605 §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rtcp<'a> {
    pub port: u16,
    pub nettype: Option<&'a [u8]>,
    pub addrtype: Option<&'a [u8]>,
    pub address: Option<&'a [u8]>,
}

impl<'a> Rtcp<'a> {
    pub fn parse(v: &'a [u8], off: usize) -> Result<Rtcp<'a>> {
        let mut f = fields(v);
        let port = parse_num(f.next().unwrap_or(&[]), off)?;
        let nettype = f.next();
        let addrtype = f.next();
        let address = f.next();
        if nettype.is_some() && address.is_none() {
            return Err(invalid(off + v.len()));
        }
        Ok(Rtcp {
            port,
            nettype,
            addrtype,
            address,
        })
    }
}

/// `a=group:<semantics> *(SP <identification-tag>)` (RFC 5888 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group<'a> {
    pub semantics: &'a [u8],
    tags: &'a [u8],
}

impl<'a> Group<'a> {
    pub fn parse(v: &'a [u8], off: usize) -> Result<Group<'a>> {
        let mut f = fields(v);
        let semantics = f.next().ok_or_else(|| invalid(off))?;
        let tags = match memchr::memchr(b' ', v) {
            Some(sp) => v.get(sp + 1..).unwrap_or(&[]),
            None => &[],
        };
        Ok(Group { semantics, tags })
    }
    /// The identification tags (`mid` values) in the group.
    pub fn tags(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        fields(self.tags)
    }
}

/// `a=ssrc:<ssrc-id> <attribute>[:<value>]` (RFC 5576 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ssrc<'a> {
    pub ssrc: u32,
    pub attribute: &'a [u8],
    pub value: Option<&'a [u8]>,
}

impl<'a> Ssrc<'a> {
    pub fn parse(v: &'a [u8], off: usize) -> Result<Ssrc<'a>> {
        let sp = memchr::memchr(b' ', v);
        let id = match sp {
            Some(sp) => v.get(..sp).unwrap_or(&[]),
            None => v,
        };
        let ssrc = parse_num(id, off)?;
        let rest = sp.and_then(|sp| v.get(sp + 1..)).unwrap_or(&[]);
        let (attribute, value) = match memchr::memchr(b':', rest) {
            Some(c) => (rest.get(..c).unwrap_or(&[]), rest.get(c + 1..)),
            None => (rest, None),
        };
        if attribute.is_empty() {
            return Err(invalid(off + v.len()));
        }
        Ok(Ssrc {
            ssrc,
            attribute,
            value,
        })
    }
}

/// `a=fingerprint:<hash-func> <fingerprint>` (RFC 8122 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint<'a> {
    pub hash: &'a [u8],
    pub fingerprint: &'a [u8],
}

impl<'a> Fingerprint<'a> {
    pub fn parse(v: &'a [u8], off: usize) -> Result<Fingerprint<'a>> {
        let mut f = fields(v);
        match (f.next(), f.next(), f.next()) {
            (Some(hash), Some(fingerprint), None) => Ok(Fingerprint { hash, fingerprint }),
            _ => Err(invalid(off)),
        }
    }
}

/// `a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
/// [raddr <addr>] [rport <port>] *(<ext name> <ext value>)` (RFC 8839 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub foundation: &'a [u8],
    pub component: u16,
    pub transport: &'a [u8],
    pub priority: u32,
    pub address: &'a [u8],
    pub port: u16,
    pub typ: &'a [u8],
    pub related_address: Option<&'a [u8]>,
    pub related_port: Option<u16>,
    /// Everything after `typ`/`raddr`/`rport`, unparsed (extension name/value pairs).
    pub extensions: &'a [u8],
}

impl<'a> Candidate<'a> {
    pub fn parse(v: &'a [u8], off: usize) -> Result<Candidate<'a>> {
        let mut f = fields(v);
        let mut next = |what: usize| f.next().ok_or_else(|| invalid(off + what));
        let foundation = next(0)?;
        let component_s = next(v.len())?;
        let transport = next(v.len())?;
        let priority_s = next(v.len())?;
        let address = next(v.len())?;
        let port_s = next(v.len())?;
        let typ_kw = next(v.len())?;
        let typ = next(v.len())?;
        if typ_kw != b"typ" {
            return Err(invalid(off_in(off, v, typ_kw)));
        }
        let component = parse_num(component_s, off_in(off, v, component_s))?;
        let priority = parse_num(priority_s, off_in(off, v, priority_s))?;
        let port = parse_num(port_s, off_in(off, v, port_s))?;
        let mut related_address = None;
        let mut related_port = None;
        // Index in `v` just past the last field consumed.
        let mut pos = off_in(0, v, typ) + typ.len();
        loop {
            let mut look = fields(v.get(pos..).unwrap_or(&[]));
            match (look.next(), look.next()) {
                (Some(b"raddr"), Some(a)) => {
                    related_address = Some(a);
                    pos = off_in(0, v, a) + a.len();
                }
                (Some(b"rport"), Some(p)) => {
                    related_port = Some(parse_num(p, off_in(off, v, p))?);
                    pos = off_in(0, v, p) + p.len();
                }
                _ => break,
            }
        }
        let extensions = crate::scan::trim_lws(v.get(pos..).unwrap_or(&[]));
        Ok(Candidate {
            foundation,
            component,
            transport,
            priority,
            address,
            port,
            typ,
            related_address,
            related_port,
            extensions,
        })
    }
}

/// `a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]` (RFC 4568 §9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crypto<'a> {
    pub tag: u32,
    pub suite: &'a [u8],
    pub key_params: &'a [u8],
    pub session_params: Option<&'a [u8]>,
}

impl<'a> Crypto<'a> {
    pub fn parse(v: &'a [u8], off: usize) -> Result<Crypto<'a>> {
        let mut f = fields(v);
        let tag_s = f.next().ok_or_else(|| invalid(off))?;
        let tag = parse_num(tag_s, off)?;
        let suite = f.next().ok_or_else(|| invalid(off + v.len()))?;
        let key_params = f.next().ok_or_else(|| invalid(off + v.len()))?;
        let session_params = f.next().map(|first| {
            let s = off_in(0, v, first);
            v.get(s..).unwrap_or(&[])
        });
        Ok(Crypto {
            tag,
            suite,
            key_params,
            session_params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtpmap() {
        let r = Rtpmap::parse(b"97 opus/48000/2", 10).unwrap();
        assert_eq!(r.payload_type, 97);
        assert_eq!(r.encoding, b"opus");
        assert_eq!(r.clock_rate, 48000);
        assert_eq!(r.channels, Some(2));
        let e = Rtpmap::parse(b"200 X/8000", 10).unwrap_err();
        assert_eq!((e.kind, e.offset), (ErrorKind::SdpInvalidPayloadType, 10));
        let e = Rtpmap::parse(b"2 G726-32/8000/1a=rtpmap:18 G729/8000", 0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::SdpInvalidValue);
        assert!(Rtpmap::parse(b"0 PCMU", 0).is_err());
    }

    #[test]
    fn fmtp_pairs() {
        let f = Fmtp::parse(b"97 profile-level-id=42e01f; packetization-mode=1", 0).unwrap();
        assert_eq!(f.format, b"97");
        assert_eq!(f.get(b"packetization-mode"), Some(&b"1"[..]));
        let t = Fmtp::parse(b"101 0-15", 0).unwrap();
        assert_eq!(t.pairs().next(), Some((&b""[..], &b"0-15"[..])));
    }

    #[test]
    fn candidate() {
        let c =
            Candidate::parse(b"1 1 UDP 2130706431 10.0.1.1 8998 typ host generation 0", 0).unwrap();
        assert_eq!(c.port, 8998);
        assert_eq!(c.typ, b"host");
        assert_eq!(c.extensions, b"generation 0");
        let c = Candidate::parse(
            b"2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998",
            0,
        )
        .unwrap();
        assert_eq!(c.related_address, Some(&b"10.0.1.1"[..]));
        assert_eq!(c.related_port, Some(8998));
        assert_eq!(c.extensions, b"");
    }

    #[test]
    fn others() {
        let c = Crypto::parse(
            b"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32",
            0,
        )
        .unwrap();
        assert_eq!(c.tag, 1);
        assert_eq!(c.suite, b"AES_CM_128_HMAC_SHA1_80");
        assert!(c.session_params.is_none());
        let r = Rtcp::parse(b"53020 IN IP4 126.16.64.4", 0).unwrap();
        assert_eq!((r.port, r.address), (53020, Some(&b"126.16.64.4"[..])));
        let g = Group::parse(b"BUNDLE audio video", 0).unwrap();
        assert_eq!(g.tags().collect::<Vec<_>>(), vec![&b"audio"[..], b"video"]);
        let s = Ssrc::parse(b"1234 cname:user@host", 0).unwrap();
        assert_eq!(
            (s.ssrc, s.attribute, s.value),
            (1234, &b"cname"[..], Some(&b"user@host"[..]))
        );
        let f = Fingerprint::parse(b"sha-256 AB:CD", 0).unwrap();
        assert_eq!(f.hash, b"sha-256");
        assert_eq!(AttrKind::from_name(b"T38FaxVersion"), AttrKind::T38);
        assert_eq!(AttrKind::from_name(b"t38faxudpec"), AttrKind::T38);
        assert_eq!(AttrKind::from_name(b"x-foo"), AttrKind::Other);
    }
}
