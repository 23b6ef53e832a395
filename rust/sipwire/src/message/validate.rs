//! Validation of the typed headers every consumer reads.
//!
//! A strict parse rejects a message whose Request-URI, Via, From, To, Contact, CSeq, Call-ID,
//! Max-Forwards ... do not match their grammar, so a user reading those fields later never
//! meets an error. Headers the core does not type are kept as they are. In lenient mode the
//! typed parsers' repairs become the message's diagnostics.

use super::fields::{CSeqSpans, Fields, NameAddrSpans, UriSpans, ViaSpans};
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
fn count<T>(it: impl Iterator<Item = Result<T, Error>>) -> Result<usize, Error> {
    let mut n = 0;
    for item in it {
        item?;
        n += 1;
    }
    Ok(n)
}

/// What to do with a typed header's error: stop (`Err`), or record it and go on (`Ok`).
type OnError<'e> = &'e mut dyn FnMut(Error, &mut Vec<Diagnostic>) -> Result<(), Error>;

/// Runs the typed checks of every header the core knows, in wire order.
fn walk_typed(
    index: &MessageIndex,
    buf: &[u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
    fields: &mut Fields,
    on_err: OnError<'_>,
) -> Result<(), Error> {
    // A header whose check failed is skipped after `on_err` decided to go on.
    macro_rules! attempt {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(e) => {
                    on_err(e, diags)?;
                    continue;
                }
            }
        };
    }
    if let StartLine::Request { uri, .. } = index.start_line {
        match check(uri.start as usize, diags, |d| {
            Uri::parse_request_uri(uri.of(buf), opts, d).map(|u| UriSpans::of(buf, &u))
        }) {
            Ok(u) => fields.request_uri = Some(u),
            Err(e) => on_err(e, diags)?,
        }
    }
    let mut vias = 0usize;
    for h in &index.headers {
        let v = h.value.of(buf);
        let base = h.value.start as usize;
        match h.kind {
            HeaderName::Via => {
                let first = fields.top_via.is_none();
                vias += attempt!(check(base, diags, |d| {
                    let mut n = 0;
                    for item in header::parse_via_list(v, opts, d) {
                        let via = item?;
                        if first && n == 0 {
                            fields.top_via = Some(ViaSpans::of(buf, &via));
                        }
                        n += 1;
                    }
                    Ok(n)
                }));
                if vias > usize::from(opts.limits.max_vias) {
                    on_err(
                        Error::new(ErrorKind::TooManyVias, h.name.start as usize),
                        diags,
                    )?;
                    vias = 0; // report once
                }
            }
            HeaderName::From | HeaderName::To => {
                let na = attempt!(check(base, diags, |d| {
                    header::parse_name_addr(v, opts, d).map(|n| NameAddrSpans::of(buf, &n))
                }));
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
                attempt!(check(base, diags, |d| {
                    header::parse_name_addr(v, opts, d).map(|_| ())
                }));
            }
            HeaderName::Contact => {
                attempt!(check(base, diags, |d| {
                    count(header::parse_contact_list(v, opts, d))
                }));
            }
            HeaderName::Route
            | HeaderName::RecordRoute
            | HeaderName::PAssertedIdentity
            | HeaderName::PPreferredIdentity
            | HeaderName::Path
            | HeaderName::ServiceRoute => {
                attempt!(check(base, diags, |d| {
                    count(header::parse_name_addr_list(v, opts, d))
                }));
            }
            HeaderName::CSeq => {
                let c = attempt!(check(base, diags, |d| {
                    header::parse_cseq(v, opts, d).map(|c| CSeqSpans::of(buf, &c))
                }));
                fields.cseq.get_or_insert(c);
            }
            HeaderName::CallId => {
                attempt!(check(base, diags, |d| {
                    header::parse_call_id(v, opts, d).map(|_| ())
                }));
            }
            HeaderName::MaxForwards => {
                attempt!(check(base, diags, |d| {
                    header::parse_max_forwards(v, opts, d).map(|_| ())
                }));
            }
            HeaderName::Expires => {
                attempt!(check(base, diags, |d| {
                    header::parse_expires(v, opts, d).map(|_| ())
                }));
            }
            HeaderName::MinExpires => {
                attempt!(check(base, diags, |d| {
                    header::parse_min_expires(v, opts, d).map(|_| ())
                }));
            }
            HeaderName::Date => {
                attempt!(check(base, diags, |d| header::parse_date(v, opts, d).map(|_| ())));
            }
            HeaderName::RetryAfter => {
                attempt!(check(base, diags, |d| {
                    header::parse_retry_after(v, opts, d).map(|_| ())
                }));
            }
            HeaderName::ContentType => {
                attempt!(check(base, diags, |d| {
                    header::parse_content_type(v, opts, d).map(|_| ())
                }));
            }
            HeaderName::RSeq => {
                attempt!(check(base, diags, |d| header::parse_rseq(v, opts, d).map(|_| ())));
            }
            HeaderName::RAck => {
                attempt!(check(base, diags, |d| header::parse_rack(v, opts, d).map(|_| ())));
            }
            HeaderName::SessionExpires => {
                attempt!(check(base, diags, |d| {
                    header::parse_session_expires(v, opts, d).map(|_| ())
                }));
            }
            HeaderName::MinSe => {
                attempt!(check(base, diags, |d| {
                    header::parse_min_se(v, opts, d).map(|_| ())
                }));
            }
            HeaderName::Event => {
                attempt!(check(base, diags, |d| header::parse_event(v, opts, d).map(|_| ())));
            }
            HeaderName::SubscriptionState => {
                attempt!(check(base, diags, |d| {
                    header::parse_subscription_state(v, opts, d).map(|_| ())
                }));
            }
            HeaderName::Replaces => {
                attempt!(check(base, diags, |d| {
                    header::parse_replaces(v, opts, d).map(|_| ())
                }));
            }
            _ => {}
        }
    }
    Ok(())
}

impl MessageIndex {
    /// Checks the typed headers of a parsed message (offsets refer to `buf`), stopping at the
    /// first error. Repairs become diagnostics; the parts of the Request-URI, From, To, CSeq
    /// and top Via are kept in `fields`.
    pub fn validate(&mut self, buf: &[u8], opts: &ParseOptions) -> Result<(), Error> {
        let mut diags = core::mem::take(&mut self.diagnostics);
        let mut fields = Fields::default();
        let mut r = walk_typed(self, buf, opts, &mut diags, &mut fields, &mut |e, _| Err(e));
        if r.is_ok() {
            // RFC 3261 §8.1.1 (§8.2.2 at a UAS): To, From, Call-ID, CSeq and Via, named.
            if let Some(m) = diags
                .iter()
                .find(|d| d.kind == ErrorKind::MissingHeader)
                .copied()
            {
                r = Err(m);
            }
        }
        self.diagnostics = diags;
        self.fields = Some(Box::new(fields));
        r
    }

    /// Checks every typed header without stopping: `(repairs, errors)`, each in wire order.
    /// What a lazy parse reports when asked for its diagnostics.
    pub fn check_typed(&self, buf: &[u8], opts: &ParseOptions) -> (Vec<Diagnostic>, Vec<Error>) {
        let mut repairs = Vec::new();
        let mut errors = Vec::new();
        let mut fields = Fields::default();
        let _ = walk_typed(self, buf, opts, &mut repairs, &mut fields, &mut |e, _| {
            errors.push(e);
            Ok(())
        });
        // As `validate`: a missing mandatory header is an error too (after the typed ones).
        errors.extend(
            self.diagnostics
                .iter()
                .filter(|d| d.kind == ErrorKind::MissingHeader),
        );
        (repairs, errors)
    }
}
