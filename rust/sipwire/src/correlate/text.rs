//! The values of a finished call's rows that are short and many: tags, addresses, URIs,
//! payload type lists. A row is made for every call and media line and dropped soon after
//! (the capture path turns it into Arrow rows at once), so these keep what fits inline: a
//! row made without an allocation per field, and freed without a `free` per field.

use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::ops::Deref;

use super::media::MAX_FORMATS;

/// Bytes kept inline: an IPv6 address in full (`8 × 4` hex digits and 7 colons: 39) does not
/// fit, its usual shortened forms and every IPv4 address, tag and short URI do.
const INLINE: usize = 38;

/// A short text: inline up to 38 bytes, on the heap past that. Reads as a `&str`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Text(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl Text {
    pub fn new(s: &str) -> Text {
        let mut bytes = [0u8; INLINE];
        match (bytes.get_mut(..s.len()), u8::try_from(s.len())) {
            (Some(dst), Ok(len)) => {
                dst.copy_from_slice(s.as_bytes());
                Text(Repr::Inline { len, bytes })
            }
            _ => Text(Repr::Heap(s.into())),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Copied whole from a `&str` (never cut), so the check always passes.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(bytes.get(..usize::from(*len)).unwrap_or(&[])).unwrap_or("")
            }
            Repr::Heap(s) => s,
        }
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::new(s)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A media line's payload types, in `m=` order: at most `MAX_FORMATS` (32), as the record
/// keeps them, inline. Reads as a `&[u8]`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayloadTypes {
    len: u8,
    pts: [u8; MAX_FORMATS],
}

impl PayloadTypes {
    /// The first `MAX_FORMATS` of `pts`.
    pub fn new(pts: impl IntoIterator<Item = u8>) -> PayloadTypes {
        let mut out = PayloadTypes::default();
        for (slot, pt) in out.pts.iter_mut().zip(pts) {
            *slot = pt;
            out.len += 1;
        }
        out
    }

    pub fn as_slice(&self) -> &[u8] {
        self.pts.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl Default for PayloadTypes {
    fn default() -> Self {
        PayloadTypes {
            len: 0,
            pts: [0; MAX_FORMATS],
        }
    }
}

impl Deref for PayloadTypes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for PayloadTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

/// Appends an IP address as text. IPv4 is written by hand: `Display` goes through the
/// formatter per octet (~650 instructions an address), and the capture tables and the
/// Python objects write one or two a message or call.
pub fn write_ip(text: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text.push('.');
                }
                if o >= 100 {
                    text.push(char::from(b'0' + o / 100));
                }
                if o >= 10 {
                    text.push(char::from(b'0' + o / 10 % 10));
                }
                text.push(char::from(b'0' + o % 10));
            }
        }
        IpAddr::V6(_) => {
            let _ = write!(text, "{ip}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_ip_writes_what_display_writes() {
        let mut ips: Vec<IpAddr> = (0..=255u8)
            .map(|o| IpAddr::from([o, o.wrapping_mul(7), 255 - o, o.wrapping_mul(13)]))
            .collect();
        ips.extend(["::1", "2001:db8::1", "::ffff:10.0.0.1"].map(|s| s.parse::<IpAddr>().unwrap()));
        for ip in ips {
            let mut text = String::from("x");
            write_ip(&mut text, ip);
            assert_eq!(text, format!("x{ip}"));
        }
    }

    #[test]
    fn text_reads_back_what_it_was_given_inline_or_not() {
        for s in [
            "",
            "a",
            "192.0.2.1",
            "2001:db8::1",
            "é-and-more-utf8-✓",
            &"x".repeat(INLINE),
            &"y".repeat(INLINE + 1),
            "2001:0db8:0000:0000:0000:ff00:0042:8329",
            &"ü".repeat(INLINE / 2 + 1),
        ] {
            let t = Text::new(s);
            assert_eq!(t.as_str(), s);
            assert_eq!(&*t, s);
            assert_eq!(t, Text::from(s));
            assert_eq!(format!("{t}"), s);
            assert_eq!(format!("{t:?}"), format!("{s:?}"));
            let inline = matches!(t.0, Repr::Inline { .. });
            assert_eq!(inline, s.len() <= INLINE, "{s}");
        }
    }

    #[test]
    fn payload_types_keep_the_first_32_in_order() {
        assert_eq!(PayloadTypes::new([0, 8, 101]).as_slice(), &[0, 8, 101]);
        assert!(PayloadTypes::new([]).is_empty());
        let many: Vec<u8> = (0..40).collect();
        let p = PayloadTypes::new(many.iter().copied());
        assert_eq!(&*p, many.get(..MAX_FORMATS).unwrap());
        assert_eq!(format!("{:?}", PayloadTypes::new([96, 0])), "[96, 0]");
    }
}
