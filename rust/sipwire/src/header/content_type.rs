//! Content-Type (RFC 3261 §20.15):
//! `media-type = m-type SLASH m-subtype *(SEMI m-parameter)`,
//! `m-parameter = m-attribute EQUAL m-value`, `m-value = token / quoted-string`.

use super::params::{parse_params, unquote, ParamSyntax, Params};
use super::{at, shifted, sub, token_end, trimmed_end};
use crate::scan::skip_lws;
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};
use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MediaType<'a> {
    /// `application` in `application/sdp`, as written.
    pub mtype: &'a [u8],
    /// `sdp` in `application/sdp`, as written.
    pub subtype: &'a [u8],
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    /// Whether this is `mtype/subtype` (case-insensitive, RFC 2045 §5.1).
    pub fn is(&self, mtype: &[u8], subtype: &[u8]) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype) && self.subtype.eq_ignore_ascii_case(subtype)
    }
    pub fn is_multipart(&self) -> bool {
        self.mtype.eq_ignore_ascii_case(b"multipart")
    }
    /// The multipart boundary, unquoted.
    pub fn boundary(&self) -> Option<Cow<'a, [u8]>> {
        self.params.value(b"boundary").map(unquote)
    }
    pub fn charset(&self) -> Option<Cow<'a, [u8]>> {
        self.params.value(b"charset").map(unquote)
    }
}

/// Parses a Content-Type (or one Accept element) value.
pub fn parse_content_type<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<MediaType<'a>> {
    let bad = |i| Error::new(ErrorKind::InvalidHeaderValue, i);
    let t0 = skip_lws(v, 0);
    let t1 = token_end(v, t0);
    if t1 == t0 {
        return Err(bad(t0));
    }
    // SLASH = SWS "/" SWS
    let sl = skip_lws(v, t1);
    if at(v, sl) != Some(b'/') {
        return Err(bad(sl));
    }
    let s0 = skip_lws(v, sl + 1);
    let s1 = token_end(v, s0);
    if s1 == s0 {
        return Err(bad(s0));
    }
    let praw = sub(v, s1, trimmed_end(v).max(s1));
    let params = shifted(s1, diags, |d| {
        parse_params(praw, ParamSyntax::Header, opts, d)
    })?;
    Ok(MediaType {
        mtype: sub(v, t0, t1),
        subtype: sub(v, s0, s1),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        let mut d = Vec::new();
        let s = ParseOptions::STRICT;
        let m = parse_content_type(b"application/sdp", &s, &mut d).unwrap();
        assert!(m.is(b"Application", b"SDP"));
        let m = parse_content_type(
            b"multipart/signed;\r\n protocol=\"application/pkcs7-signature\";micalg=sha1;boundary=\"----=_x\"",
            &s,
            &mut d,
        )
        .unwrap();
        assert!(m.is_multipart());
        assert_eq!(m.boundary().unwrap().as_ref(), b"----=_x");
        assert_eq!(m.params.len(), 3);
        let m = parse_content_type(b"text / plain ; charset=UTF-8", &s, &mut d).unwrap();
        assert_eq!(m.charset().unwrap().as_ref(), b"UTF-8");
        for bad in [
            "",
            "text",
            "text/",
            "/plain",
            "text/plain x",
            "text/plain;a=\"b",
        ] {
            assert!(
                parse_content_type(bad.as_bytes(), &s, &mut d).is_err(),
                "{bad}"
            );
        }
    }
}
