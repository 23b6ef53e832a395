//! Header names: canonical forms, compact forms (RFC 3261 §7.3.3 and the registry of compact
//! names), and which headers are comma-separated lists or may appear only once.

macro_rules! header_names {
    ($( $variant:ident = $name:literal, $compact:literal, $list:literal, $single:literal; )*) => {
        /// A header name the core knows, or `Other` (compared by its bytes, case-insensitively).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum HeaderName {
            $( $variant, )*
            Other,
        }

        impl HeaderName {
            /// Every known name, in declaration order.
            pub const ALL: &'static [HeaderName] = &[$( HeaderName::$variant, )*];
            const NAMES: &'static [&'static str] = &[$( $name, )*];

            /// The canonical spelling (`Call-ID`, `CSeq`, `WWW-Authenticate`).
            pub const fn canonical(self) -> &'static str {
                match self { $( HeaderName::$variant => $name, )* HeaderName::Other => "" }
            }
            /// The compact form, if the name has one.
            pub const fn compact(self) -> Option<u8> {
                match self { $( HeaderName::$variant => if $compact == b' ' { None } else { Some($compact) }, )* HeaderName::Other => None }
            }
            /// Whether the header's grammar is a comma-separated list (RFC 3261 §7.3.1), so that
            /// `a: x, y` means the same as `a: x` + `a: y`.
            pub const fn is_list(self) -> bool {
                match self { $( HeaderName::$variant => $list, )* HeaderName::Other => false }
            }
            /// Whether the header may appear at most once in a message.
            pub const fn is_single(self) -> bool {
                match self { $( HeaderName::$variant => $single, )* HeaderName::Other => false }
            }
        }
    };
}

header_names! {
    Accept = "Accept", b' ', true, false;
    AcceptContact = "Accept-Contact", b'a', true, false;
    AcceptEncoding = "Accept-Encoding", b' ', true, false;
    AcceptLanguage = "Accept-Language", b' ', true, false;
    AlertInfo = "Alert-Info", b' ', true, false;
    Allow = "Allow", b' ', true, false;
    AllowEvents = "Allow-Events", b'u', true, false;
    AuthenticationInfo = "Authentication-Info", b' ', false, false;
    Authorization = "Authorization", b' ', false, false;
    CallId = "Call-ID", b'i', false, true;
    CallInfo = "Call-Info", b' ', true, false;
    Contact = "Contact", b'm', true, false;
    ContentDisposition = "Content-Disposition", b' ', false, true;
    ContentEncoding = "Content-Encoding", b'e', true, false;
    ContentLanguage = "Content-Language", b' ', true, false;
    ContentLength = "Content-Length", b'l', false, true;
    ContentType = "Content-Type", b'c', false, true;
    CSeq = "CSeq", b' ', false, true;
    Date = "Date", b' ', false, true;
    ErrorInfo = "Error-Info", b' ', true, false;
    Event = "Event", b'o', false, true;
    Expires = "Expires", b' ', false, true;
    From = "From", b'f', false, true;
    Identity = "Identity", b'y', false, false;
    InReplyTo = "In-Reply-To", b' ', true, false;
    MaxForwards = "Max-Forwards", b' ', false, true;
    MinExpires = "Min-Expires", b' ', false, true;
    MinSe = "Min-SE", b' ', false, true;
    MimeVersion = "MIME-Version", b' ', false, true;
    Organization = "Organization", b' ', false, true;
    PAssertedIdentity = "P-Asserted-Identity", b' ', true, false;
    PPreferredIdentity = "P-Preferred-Identity", b' ', true, false;
    Path = "Path", b' ', true, false;
    Priority = "Priority", b' ', false, true;
    Privacy = "Privacy", b' ', false, false;
    ProxyAuthenticate = "Proxy-Authenticate", b' ', false, false;
    ProxyAuthorization = "Proxy-Authorization", b' ', false, false;
    ProxyRequire = "Proxy-Require", b' ', true, false;
    RAck = "RAck", b' ', false, true;
    Reason = "Reason", b' ', true, false;
    RecordRoute = "Record-Route", b' ', true, false;
    ReferTo = "Refer-To", b'r', false, true;
    ReferredBy = "Referred-By", b'b', false, true;
    RejectContact = "Reject-Contact", b'j', true, false;
    Replaces = "Replaces", b' ', false, true;
    ReplyTo = "Reply-To", b' ', false, true;
    RequestDisposition = "Request-Disposition", b'd', true, false;
    Require = "Require", b' ', true, false;
    RetryAfter = "Retry-After", b' ', false, true;
    Route = "Route", b' ', true, false;
    RSeq = "RSeq", b' ', false, true;
    Server = "Server", b' ', false, true;
    ServiceRoute = "Service-Route", b' ', true, false;
    SessionExpires = "Session-Expires", b'x', false, true;
    SipEtag = "SIP-ETag", b' ', false, true;
    SipIfMatch = "SIP-If-Match", b' ', false, true;
    Subject = "Subject", b's', false, true;
    SubscriptionState = "Subscription-State", b' ', false, true;
    Supported = "Supported", b'k', true, false;
    Timestamp = "Timestamp", b' ', false, true;
    To = "To", b't', false, true;
    Unsupported = "Unsupported", b' ', true, false;
    UserAgent = "User-Agent", b' ', false, true;
    Via = "Via", b'v', true, false;
    Warning = "Warning", b' ', true, false;
    WwwAuthenticate = "WWW-Authenticate", b' ', false, false;
}

/// The single-instance headers as a bit set over their discriminants (all fit in 128 bits).
pub(crate) const SINGLE_MASK: u128 = {
    let mut m = 0u128;
    let all = HeaderName::ALL;
    let mut i = 0;
    while i < all.len() {
        if all[i].is_single() {
            m |= 1u128 << (all[i] as u8);
        }
        i += 1;
    }
    m
};

/// Compact forms, indexed by lowercase letter - b'a'.
const COMPACT: [HeaderName; 26] = {
    let mut t = [HeaderName::Other; 26];
    let all = HeaderName::ALL;
    let mut i = 0;
    while i < all.len() {
        if let Some(c) = all[i].compact() {
            t[(c - b'a') as usize] = all[i];
        }
        i += 1;
    }
    t
};

/// A perfect hash of the known names: length, first, middle and last byte (lower case) pick a
/// slot no other known name has (the table's construction fails to compile otherwise), so a
/// lookup is one slot and one compare. The multipliers were found by a search.
const TABLE_BITS: usize = 8;
const TABLE_MASK: usize = (1 << TABLE_BITS) - 1;

#[inline]
const fn slot(len: usize, first: u8, mid: u8, last: u8) -> usize {
    ((len.wrapping_mul(752)
        + (first as usize).wrapping_mul(2415)
        + (last as usize).wrapping_mul(1692)
        + (mid as usize).wrapping_mul(1297))
        >> 3)
        & TABLE_MASK
}

/// A name's bytes as up to three little-endian words with 0x20 OR-ed into every byte, which
/// folds case: both sides are tokens, and among token characters only letters differ in bit
/// 0x20 ('_' becomes DEL, which no known name holds). Names of 8 bytes or more: the first and
/// last 8 bytes (overlapping) and, past 16 bytes, bytes 8..16; 4 to 7 bytes: the first and
/// last 4; shorter: the bytes themselves. Known names are at most 24 bytes, so two names of
/// the same length are equal (folded) exactly when their words are.
///
/// Loads a word at a time (a byte loop's exit, at a different length on each header line, is a
/// mispredicted branch), and the known side is precomputed in `KEYS`, so the compare does not
/// wait for a load of the known name's bytes behind the table lookup.
#[inline]
fn fold_words(name: &[u8]) -> [u64; 3] {
    let n = name.len();
    if n >= 8 {
        const F: u64 = 0x2020_2020_2020_2020;
        let w = |i: usize| {
            name.get(i..i + 8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_le_bytes)
                | F
        };
        [w(0), w(n - 8), if n > 16 { w(8) } else { 0 }]
    } else if n >= 4 {
        const F: u32 = 0x2020_2020;
        let w = |i: usize| {
            name.get(i..i + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map_or(0, u32::from_le_bytes)
                | F
        };
        [u64::from(w(0)), u64::from(w(n - 4)), 0]
    } else {
        let mut w = 0u64;
        for (i, &b) in name.iter().enumerate() {
            w |= u64::from(b | 0x20) << (8 * i);
        }
        [w, 0, 0]
    }
}

/// `fold_words` at compile time, for the table of known names.
const fn const_fold_words(name: &[u8]) -> [u64; 3] {
    const fn word(s: &[u8], at: usize, width: usize) -> u64 {
        let mut w = 0u64;
        let mut i = 0;
        while i < width {
            w |= ((s[at + i] | 0x20) as u64) << (8 * i);
            i += 1;
        }
        w
    }
    let n = name.len();
    if n >= 8 {
        [
            word(name, 0, 8),
            word(name, n - 8, 8),
            if n > 16 { word(name, 8, 8) } else { 0 },
        ]
    } else if n >= 4 {
        [word(name, 0, 4), word(name, n - 4, 4), 0]
    } else {
        [word(name, 0, n), 0, 0]
    }
}

/// A known name as `from_bytes` compares it: length, folded words, and what it resolves to.
#[derive(Clone, Copy)]
struct Key {
    len: usize,
    words: [u64; 3],
    kind: HeaderName,
}

/// The known names in declaration order (`TABLE` holds index + 1 into this).
const KEYS: [Key; HeaderName::ALL.len()] = {
    let mut k = [Key {
        len: 0,
        words: [0; 3],
        kind: HeaderName::Other,
    }; HeaderName::ALL.len()];
    let mut i = 0;
    while i < HeaderName::ALL.len() {
        let n = HeaderName::NAMES[i].as_bytes();
        assert!(
            n.len() <= 24,
            "fold_words compares names of at most 24 bytes"
        );
        k[i] = Key {
            len: n.len(),
            words: const_fold_words(n),
            kind: HeaderName::ALL[i],
        };
        i += 1;
    }
    k
};

const TABLE: [u8; 1 << TABLE_BITS] = {
    let mut t = [0u8; 1 << TABLE_BITS];
    let names = HeaderName::NAMES;
    let mut i = 0;
    while i < names.len() {
        let n = names[i].as_bytes();
        let h = slot(
            n.len(),
            n[0].to_ascii_lowercase(),
            n[n.len() / 2].to_ascii_lowercase(),
            n[n.len() - 1].to_ascii_lowercase(),
        );
        assert!(
            t[h] == 0,
            "two known header names share a slot: change the multipliers"
        );
        t[h] = (i + 1) as u8;
        i += 1;
    }
    t
};

impl HeaderName {
    /// Resolves a header name as written on the wire (any case, compact or full).
    #[inline]
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        match name {
            [] => HeaderName::Other,
            [c] => {
                let l = c.to_ascii_lowercase();
                if l.is_ascii_lowercase() {
                    COMPACT
                        .get(usize::from(l - b'a'))
                        .copied()
                        .unwrap_or(HeaderName::Other)
                } else {
                    HeaderName::Other
                }
            }
            [first, .., last] => {
                let mid = name.get(name.len() / 2).copied().unwrap_or(0);
                let h = slot(
                    name.len(),
                    first.to_ascii_lowercase(),
                    mid.to_ascii_lowercase(),
                    last.to_ascii_lowercase(),
                );
                let words = fold_words(name);
                let e = usize::from(TABLE.get(h).copied().unwrap_or(0));
                match KEYS.get(e.wrapping_sub(1)) {
                    // Word by word: an array compare loads `words` back from the stack as one
                    // 16-byte vector, which stalls on the two 8-byte stores that wrote it.
                    Some(k)
                        if k.len == name.len()
                            && ((k.words[0] ^ words[0])
                                | (k.words[1] ^ words[1])
                                | (k.words[2] ^ words[2]))
                                == 0 =>
                    {
                        k.kind
                    }
                    _ => HeaderName::Other,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_canonical_and_compact_name_resolves() {
        for &h in HeaderName::ALL {
            assert_eq!(HeaderName::from_bytes(h.canonical().as_bytes()), h, "{h:?}");
            assert_eq!(
                HeaderName::from_bytes(h.canonical().to_ascii_lowercase().as_bytes()),
                h
            );
            if let Some(c) = h.compact() {
                assert_eq!(HeaderName::from_bytes(&[c]), h);
                assert_eq!(HeaderName::from_bytes(&[c.to_ascii_uppercase()]), h);
            }
        }
    }

    /// The table and word compare of `from_bytes` against a byte loop over every known name, on
    /// every known name in several cases and on near misses (a byte changed or case-flipped, a
    /// byte more or less).
    #[test]
    fn from_bytes_agrees_with_a_byte_loop() {
        let reference = |k: &[u8], n: &[u8]| {
            k.len() == n.len() && k.iter().zip(n).all(|(&a, &b)| a | 0x20 == b | 0x20)
        };
        let mut names: Vec<Vec<u8>> = Vec::new();
        for &h in HeaderName::ALL {
            let c = h.canonical().as_bytes();
            names.push(c.to_vec());
            names.push(c.to_ascii_lowercase());
            names.push(c.to_ascii_uppercase());
            names.push(c[..c.len() - 1].to_vec());
            names.push([c, b"x"].concat());
            for i in 0..c.len() {
                for b in [
                    b'_',
                    b'-',
                    b'A',
                    b'z',
                    b'0',
                    b'~',
                    c[i] ^ 0x20,
                    c[i] ^ 0x01,
                    0xff,
                ] {
                    let mut n = c.to_vec();
                    n[i] = b;
                    names.push(n);
                }
            }
        }
        let mut matched = 0;
        for n in &names {
            let expected = HeaderName::ALL
                .iter()
                .copied()
                .find(|h| reference(h.canonical().as_bytes(), n));
            // Wire names are tokens (the index refuses others before resolving them): the
            // fold is exact only among token bytes (CR folds onto "-").
            if n.len() > 1 && crate::scan::is_token(n) {
                assert_eq!(
                    HeaderName::from_bytes(n),
                    expected.unwrap_or(HeaderName::Other),
                    "{:?}",
                    String::from_utf8_lossy(n)
                );
            }
            if expected.is_some() {
                matched += 1;
            }
        }
        assert!(matched > 3 * HeaderName::ALL.len());
    }

    #[test]
    fn compact_forms_of_rfc3261() {
        for (c, h) in [
            ("i", HeaderName::CallId),
            ("m", HeaderName::Contact),
            ("e", HeaderName::ContentEncoding),
            ("l", HeaderName::ContentLength),
            ("c", HeaderName::ContentType),
            ("f", HeaderName::From),
            ("s", HeaderName::Subject),
            ("k", HeaderName::Supported),
            ("t", HeaderName::To),
            ("v", HeaderName::Via),
            ("o", HeaderName::Event),
            ("u", HeaderName::AllowEvents),
            ("r", HeaderName::ReferTo),
            ("b", HeaderName::ReferredBy),
            ("x", HeaderName::SessionExpires),
            ("y", HeaderName::Identity),
            ("a", HeaderName::AcceptContact),
            ("j", HeaderName::RejectContact),
            ("d", HeaderName::RequestDisposition),
        ] {
            assert_eq!(HeaderName::from_bytes(c.as_bytes()), h);
        }
        assert_eq!(HeaderName::from_bytes(b"z"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"1"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b""), HeaderName::Other);
    }
}
