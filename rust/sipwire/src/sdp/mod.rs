//! Session descriptions (RFC 8866, accepting RFC 4566 bodies) and offer/answer (RFC 3264).
//!
//! ## Theory of operation
//!
//! [`SessionDescription::parse`] reads the body once into a vector of line records (type
//! letter, spans, attribute kind) and a vector of media sections (the `m=` fields split).
//! Those are the only allocations. Everything else — origin, connection, codecs, direction,
//! typed attributes — is read from the body's bytes when asked for ([`Media`], [`attr`]).
//! Offsets in errors and diagnostics are relative to the body; the message layer shifts them.
//!
//! Meaning ([`meaning`]): the effective direction of a stream (media level over session
//! level, RFC 8866 §6.7), hold (RFC 3264 §8.4 and the RFC 2543 `c=0.0.0.0` form), codecs
//! with the static payload types of RFC 3551 §6.
//!
//! Writing ([`write()`]): a parsed description writes back byte for byte. New descriptions —
//! built by hand or by the offer/answer functions ([`offer_answer`]) — are [`OwnedSession`]s,
//! which write with CRLF.

pub mod attr;
pub mod meaning;
pub mod media;
pub mod offer_answer;
mod parse;
pub mod write;

pub use attr::{
    AttrKind, Attribute, Candidate, Crypto, Fingerprint, Fmtp, Group, Rtcp, Rtpmap, Ssrc, TypedAttr,
};
pub use meaning::{static_payload_type, Codec, Direction, Hold, T38Options, TelephoneEvent};
pub use media::{Bandwidth, Connection, Endpoint, Media, Origin, SdpLine, Timing};
pub use offer_answer::{
    answer, compare_offers, hold_offer, resume_offer, HoldStyle, LocalCapabilities, LocalCodec,
    LocalMedia, OfferChange,
};
pub(crate) use parse::{bytes_eq, check_value, glued_at, media_fields, scan_until, MediaFields};
pub use parse::{is_rtp_proto, Buffers, SessionDescription};
pub use write::{write, OwnedLine, OwnedMedia, OwnedSession};

/// The first `b` in `v`: for the short fields of an SDP line (names, payload types, ports),
/// where a plain loop costs a few instructions a byte and `memchr`'s dispatch ~30-100 a call.
#[inline]
pub(crate) fn find_byte(v: &[u8], b: u8) -> Option<usize> {
    v.iter().position(|&x| x == b)
}

/// The fields of a line value, separated by SP (RFC 8866 §5: "fields separated by a single
/// space"; runs of spaces are tolerated).
#[inline]
pub(crate) fn fields(v: &[u8]) -> impl Iterator<Item = &[u8]> + Clone {
    v.split(|&b| b == b' ').filter(|f| !f.is_empty())
}
