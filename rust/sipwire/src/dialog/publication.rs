//! Event state publication (RFC 3903), the publisher's side: what a response to PUBLISH
//! tells the publisher to do next. PUBLISH makes no dialog; this sits next to the
//! subscriptions whose state it feeds.
//!
//! A publication lives at the ESC under an entity tag: the first PUBLISH carries the state,
//! its 2xx gives the tag (SIP-ETag) and the granted time (Expires); refreshes (no body),
//! modifications (a body) and the removal (Expires: 0) name the tag in SIP-If-Match (§4).

use crate::header::{parse_expires, parse_min_expires};
use crate::limits::ParseOptions;
use crate::message::{unfold, HeaderName, Message, MessageIndex};
use crate::scan::is_token;

/// What a final response to PUBLISH means for the publisher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublishAnswer {
    /// 2xx: the entity tag to name from now on and the seconds granted (the response's
    /// Expires; `None` when it has none, then the request's stands, §4.1).
    Accepted { etag: Vec<u8>, expires: Option<u32> },
    /// A 2xx without a SIP-ETag token (§11.3.1): the ESC broke the protocol.
    MissingEtag,
    /// 412 Conditional Request Failed: the ESC keeps no entity under that tag (§6); publish
    /// the full state again without SIP-If-Match.
    StartOver,
    /// 423 Interval Too Brief: again with at least this Expires (§6, Min-Expires).
    RetryWith(u32),
    /// Any other final response: the publication failed.
    Failed(u16),
}

/// Reads a final response to PUBLISH. A provisional gives `Failed(status)`: only finals
/// mean anything here.
pub fn publish_answer<I: AsRef<MessageIndex>>(
    response: &Message<'_, I>,
    opts: &ParseOptions,
) -> PublishAnswer {
    let status = response.status().unwrap_or(0);
    match status {
        200..=299 => {
            let etag = response
                .first_value(HeaderName::SipEtag)
                .map(|v| unfold(v).trim_ascii().to_vec())
                .filter(|t| is_token(t));
            let expires = response
                .first_value(HeaderName::Expires)
                .and_then(|v| parse_expires(v, opts, &mut Vec::new()).ok());
            match etag {
                Some(etag) => PublishAnswer::Accepted { etag, expires },
                None => PublishAnswer::MissingEtag,
            }
        }
        412 => PublishAnswer::StartOver,
        423 => response
            .first_value(HeaderName::MinExpires)
            .and_then(|v| parse_min_expires(v, opts, &mut Vec::new()).ok())
            .map_or(PublishAnswer::Failed(423), PublishAnswer::RetryWith),
        s => PublishAnswer::Failed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status_line: &str, headers: &str) -> PublishAnswer {
        let text = format!(
            "SIP/2.0 {status_line}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
             From: <sip:a@h>;tag=1\r\nTo: <sip:a@h>;tag=2\r\nCall-ID: c\r\n\
             CSeq: 1 PUBLISH\r\n{headers}Content-Length: 0\r\n\r\n"
        );
        let o = ParseOptions::STRICT;
        let idx = MessageIndex::parse(text.as_bytes(), &o).expect(&text);
        publish_answer(&Message::new(text.as_bytes(), &idx), &o)
    }

    #[test]
    fn answers() {
        let table: &[(&str, &str, PublishAnswer)] = &[
            (
                "200 OK",
                "SIP-ETag: dx200xyz\r\nExpires: 1800\r\n",
                PublishAnswer::Accepted {
                    etag: b"dx200xyz".to_vec(),
                    expires: Some(1800),
                },
            ),
            (
                "200 OK",
                "SIP-ETag:  kwj449x \r\n",
                PublishAnswer::Accepted {
                    etag: b"kwj449x".to_vec(),
                    expires: None,
                },
            ),
            ("200 OK", "Expires: 60\r\n", PublishAnswer::MissingEtag),
            ("200 OK", "SIP-ETag: a b\r\n", PublishAnswer::MissingEtag),
            ("200 OK", "SIP-ETag: \"q\"\r\n", PublishAnswer::MissingEtag),
            (
                "412 Conditional Request Failed",
                "",
                PublishAnswer::StartOver,
            ),
            (
                "423 Interval Too Brief",
                "Min-Expires: 120\r\n",
                PublishAnswer::RetryWith(120),
            ),
            ("423 Interval Too Brief", "", PublishAnswer::Failed(423)),
            ("489 Bad Event", "", PublishAnswer::Failed(489)),
        ];
        for (line, headers, want) in table {
            assert_eq!(&answer(line, headers), want, "{line} {headers:?}");
        }
    }
}
