//! Event and Subscription-State (RFC 6665 §8.2.1, §8.2.3; formerly RFC 3265 §7.2).
//!
//! ```text
//! Event              = ( "Event" / "o" ) HCOLON event-type *( SEMI event-param )
//! event-type         = event-package *( "." event-template )
//! Subscription-State = "Subscription-State" HCOLON substate-value *( SEMI subexp-params )
//! subexp-params      = ("reason" EQUAL event-reason-value) / ("expires" EQUAL delta-seconds)
//!                    / ("retry-after" EQUAL delta-seconds) / generic-param
//! ```

use super::params::{parse_params, ParamSyntax, Params};
use super::{digits_saturating, offset_in, parse_bounded, shifted, sub, token_end, trimmed_end};
use crate::scan::skip_lws;
use crate::{Diagnostic, Error, ErrorKind, ParseOptions, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event<'a> {
    /// The event type with its templates (`presence.winfo`).
    pub event_type: &'a [u8],
    pub params: Params<'a>,
}

impl<'a> Event<'a> {
    /// The package (before the first `.`).
    pub fn package(&self) -> &'a [u8] {
        match memchr::memchr(b'.', self.event_type) {
            Some(p) => sub(self.event_type, 0, p),
            None => self.event_type,
        }
    }
    /// The templates after the package (`winfo` in `presence.winfo`).
    pub fn templates(&self) -> impl Iterator<Item = &'a [u8]> {
        self.event_type.split(|&b| b == b'.').skip(1)
    }
    pub fn id(&self) -> Option<&'a [u8]> {
        self.params.value(b"id")
    }
}

/// A token followed by header parameters: `(token, params)`.
fn token_params<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<(&'a [u8], Params<'a>)> {
    let t0 = skip_lws(v, 0);
    let t1 = token_end(v, t0);
    if t1 == t0 {
        return Err(Error::new(ErrorKind::InvalidHeaderValue, t0));
    }
    let praw = sub(v, t1, trimmed_end(v).max(t1));
    let params = shifted(t1, diags, |d| {
        parse_params(praw, ParamSyntax::Header, opts, d)
    })?;
    Ok((sub(v, t0, t1), params))
}

/// Parses an Event value. Empty templates (`presence..x`) are `InvalidHeaderValue`.
pub fn parse_event<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<Event<'a>> {
    let (event_type, params) = token_params(v, opts, diags)?;
    if event_type.split(|&b| b == b'.').any(<[u8]>::is_empty) {
        return Err(Error::new(
            ErrorKind::InvalidHeaderValue,
            offset_in(v, event_type),
        ));
    }
    Ok(Event { event_type, params })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionState<'a> {
    /// `active`, `pending`, `terminated` or an extension, as written.
    pub state: &'a [u8],
    pub params: Params<'a>,
}

impl<'a> SubscriptionState<'a> {
    pub fn is(&self, state: &[u8]) -> bool {
        self.state.eq_ignore_ascii_case(state)
    }
    pub fn expires(&self) -> Option<u32> {
        self.number(b"expires")
    }
    pub fn retry_after(&self) -> Option<u32> {
        self.number(b"retry-after")
    }
    /// `deactivated`, `probation`, `rejected`, `timeout`, `giveup`, `noresource`, ...
    pub fn reason(&self) -> Option<&'a [u8]> {
        self.params.value(b"reason")
    }
    fn number(&self, name: &[u8]) -> Option<u32> {
        let v = self.params.value(name)?;
        u32::try_from(digits_saturating(v, u64::from(u32::MAX))?).ok()
    }
}

/// Parses a Subscription-State value; `expires` and `retry-after` must be delta-seconds
/// below 2^32.
pub fn parse_subscription_state<'a>(
    v: &'a [u8],
    opts: &ParseOptions,
    diags: &mut Vec<Diagnostic>,
) -> Result<SubscriptionState<'a>> {
    let (state, params) = token_params(v, opts, diags)?;
    for name in [&b"expires"[..], b"retry-after"] {
        if let Some(val) = params.get(name) {
            let val = val.ok_or(Error::new(
                ErrorKind::InvalidHeaderValue,
                offset_in(v, params.as_bytes()),
            ))?;
            parse_bounded(
                val,
                offset_in(v, val),
                u64::from(u32::MAX),
                ErrorKind::InvalidHeaderValue,
                opts,
                diags,
            )?;
        }
    }
    Ok(SubscriptionState { state, params })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: ParseOptions = ParseOptions::STRICT;

    #[test]
    fn events() {
        let mut d = Vec::new();
        let e = parse_event(b"presence.winfo;id=12", &S, &mut d).unwrap();
        assert_eq!(e.package(), b"presence");
        assert_eq!(e.templates().collect::<Vec<_>>(), vec![&b"winfo"[..]]);
        assert_eq!(e.id(), Some(&b"12"[..]));
        assert_eq!(
            parse_event(b"refer", &S, &mut d).unwrap().package(),
            b"refer"
        );
        assert!(parse_event(b"a..b", &S, &mut d).is_err());
        assert!(parse_event(b"", &S, &mut d).is_err());
        assert!(parse_event(b"dialog x", &S, &mut d).is_err());
    }

    #[test]
    fn states() {
        let mut d = Vec::new();
        let s = parse_subscription_state(b"active;expires=600", &S, &mut d).unwrap();
        assert!(s.is(b"ACTIVE"));
        assert_eq!(s.expires(), Some(600));
        let s = parse_subscription_state(b"terminated;reason=timeout;retry-after=30", &S, &mut d)
            .unwrap();
        assert_eq!(s.reason(), Some(&b"timeout"[..]));
        assert_eq!(s.retry_after(), Some(30));
        assert_eq!(
            parse_subscription_state(b"active;expires=99999999999", &S, &mut d).unwrap_err(),
            Error::new(ErrorKind::NumberOutOfRange, 15)
        );
        assert!(parse_subscription_state(b"active;expires=x", &S, &mut d).is_err());
        assert!(parse_subscription_state(b"active;expires", &S, &mut d).is_err());
    }
}
