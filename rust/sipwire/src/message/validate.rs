//! Validation of the typed headers every consumer reads.
//!
//! A strict parse rejects a message whose Request-URI, Via, From, To, Contact, CSeq, Call-ID,
//! Max-Forwards ... do not match their grammar, so a user reading those fields later never
//! meets an error. Headers the core does not type are kept as they are. In lenient mode the
//! typed parsers' repairs become the message's diagnostics.

use super::fields::{CSeqSpans, NameAddrSpans, UriSpans, ViaSpans};
use super::index::MessageIndex;
use super::names::HeaderName;
use super::start_line::StartLine;
use crate::error::{Diagnostic, Error, ErrorKind};
use crate::header;
use crate::limits::ParseOptions;
use crate::uri::Uri;

/// Runs `f` on a value at `base`, shifting its error and new diagnostics to message offsets.
fn check<T>(
    base: usize,
    diags: &mut Vec<Diagnostic>,
    f: impl FnOnce(&mut Vec<Diagnostic>) -> Result<T, Error>,
) -> Result<T, Error> {
    let before = diags.len();
    let r = f(diags);
    for d in diags.iter_mut().skip(before) {
        *d = d.shifted(base);
    }
    r.map_err(|e| e.shifted(base))
}

/// Walks a list iterator to its end, returning how many items it held.
fn walk<T>(it: impl Iterator<Item = Result<T, Error>>) -> Result<usize, Error> {
    let mut n = 0;
    for item in it {
        item?;
        n += 1;
    }
    Ok(n)
}

impl MessageIndex {
    /// Checks the typed headers of a parsed message (offsets refer to `buf`).
    pub fn validate(&mut self, buf: &[u8], opts: &ParseOptions) -> Result<(), Error> {
        let diags = &mut self.diagnostics;
        let fields = &mut self.fields;
        if let StartLine::Request { uri, .. } = self.start_line {
            fields.request_uri = Some(check(uri.start as usize, diags, |d| {
                Uri::parse_request_uri(uri.of(buf), opts, d).map(|u| UriSpans::of(buf, &u))
            })?);
        }
        let mut vias = 0usize;
        for h in &self.headers {
            let v = h.value.of(buf);
            let base = h.value.start as usize;
            match h.kind {
                HeaderName::Via => {
                    let first = fields.top_via.is_none();
                    vias += check(base, diags, |d| {
                        let mut n = 0;
                        for item in header::parse_via_list(v, opts, d) {
                            let via = item?;
                            if first && n == 0 {
                                fields.top_via = Some(ViaSpans::of(buf, &via));
                            }
                            n += 1;
                        }
                        Ok(n)
                    })?;
                    if vias > usize::from(opts.limits.max_vias) {
                        return Err(Error::new(ErrorKind::TooManyVias, h.name.start as usize));
                    }
                }
                HeaderName::From | HeaderName::To => {
                    let na = check(base, diags, |d| {
                        header::parse_name_addr(v, opts, d).map(|n| NameAddrSpans::of(buf, &n))
                    })?;
                    let slot = if h.kind == HeaderName::From {
                        &mut fields.from
                    } else {
                        &mut fields.to
                    };
                    if slot.is_none() {
                        *slot = Some(na);
                    }
                }
                HeaderName::ReplyTo | HeaderName::ReferTo | HeaderName::ReferredBy => {
                    check(base, diags, |d| {
                        header::parse_name_addr(v, opts, d).map(|_| ())
                    })?;
                }
                HeaderName::Contact => {
                    check(base, diags, |d| {
                        walk(header::parse_contact_list(v, opts, d))
                    })?;
                }
                HeaderName::Route
                | HeaderName::RecordRoute
                | HeaderName::PAssertedIdentity
                | HeaderName::PPreferredIdentity
                | HeaderName::Path
                | HeaderName::ServiceRoute => {
                    check(base, diags, |d| {
                        walk(header::parse_name_addr_list(v, opts, d))
                    })?;
                }
                HeaderName::CSeq => {
                    let c = check(base, diags, |d| {
                        header::parse_cseq(v, opts, d).map(|c| CSeqSpans::of(buf, &c))
                    })?;
                    fields.cseq.get_or_insert(c);
                }
                HeaderName::CallId => {
                    check(base, diags, |d| {
                        header::parse_call_id(v, opts, d).map(|_| ())
                    })?;
                }
                HeaderName::MaxForwards => {
                    check(base, diags, |d| {
                        header::parse_max_forwards(v, opts, d).map(|_| ())
                    })?;
                }
                HeaderName::Expires => {
                    check(base, diags, |d| {
                        header::parse_expires(v, opts, d).map(|_| ())
                    })?;
                }
                HeaderName::MinExpires => {
                    check(base, diags, |d| {
                        header::parse_min_expires(v, opts, d).map(|_| ())
                    })?;
                }
                HeaderName::Date => {
                    check(base, diags, |d| header::parse_date(v, opts, d).map(|_| ()))?;
                }
                HeaderName::RetryAfter => {
                    check(base, diags, |d| {
                        header::parse_retry_after(v, opts, d).map(|_| ())
                    })?;
                }
                HeaderName::ContentType => {
                    check(base, diags, |d| {
                        header::parse_content_type(v, opts, d).map(|_| ())
                    })?;
                }
                HeaderName::RSeq => {
                    check(base, diags, |d| header::parse_rseq(v, opts, d).map(|_| ()))?;
                }
                HeaderName::RAck => {
                    check(base, diags, |d| header::parse_rack(v, opts, d).map(|_| ()))?;
                }
                HeaderName::SessionExpires => {
                    check(base, diags, |d| {
                        header::parse_session_expires(v, opts, d).map(|_| ())
                    })?;
                }
                HeaderName::MinSe => {
                    check(base, diags, |d| {
                        header::parse_min_se(v, opts, d).map(|_| ())
                    })?;
                }
                HeaderName::Event => {
                    check(base, diags, |d| header::parse_event(v, opts, d).map(|_| ()))?;
                }
                HeaderName::SubscriptionState => {
                    check(base, diags, |d| {
                        header::parse_subscription_state(v, opts, d).map(|_| ())
                    })?;
                }
                HeaderName::Replaces => {
                    check(base, diags, |d| {
                        header::parse_replaces(v, opts, d).map(|_| ())
                    })?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}
