//! Session timers (RFC 4028): Session-Expires / Min-SE negotiation, who refreshes, when to
//! refresh and when to give up.

use crate::header::Refresher;

/// The smallest Min-SE (RFC 4028 §4: 90 s).
pub const MIN_SE_FLOOR: u32 = 90;

/// A negotiated session timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimer {
    /// Session interval, seconds.
    pub interval: u32,
    pub refresher: Refresher,
}

impl SessionTimer {
    /// Whether this side refreshes (`is_uac`: this side sent the INVITE or UPDATE that set
    /// the timer).
    pub fn we_refresh(&self, is_uac: bool) -> bool {
        (self.refresher == Refresher::Uac) == is_uac
    }

    /// When the refresher sends the refresh: half the interval after `start` (§10), in ms.
    pub fn refresh_at(&self, start: u64) -> u64 {
        start.saturating_add(u64::from(self.interval) * 500)
    }

    /// When the other side sends BYE if no refresh came: the interval minus the smaller of
    /// 32 s and a third of it (§10), in ms.
    pub fn expire_at(&self, start: u64) -> u64 {
        let i = u64::from(self.interval);
        start.saturating_add((i - (i / 3).min(32)) * 1000)
    }
}

/// The UAS's answer to a session-timer request (§9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UasTimer {
    /// Put this in the 2xx (Session-Expires with refresher; Require: timer when the UAC
    /// supports it).
    Accept(SessionTimer),
    /// Reject with 422 and `Min-SE: min_se` (§6).
    TooSmall { min_se: u32 },
    /// No session timer.
    None,
}

/// §9: `se` is the request's Session-Expires (interval, refresher), `uac_supports` whether
/// its Supported has `timer`, `local_min_se` this side's Min-SE, `wanted` this side's
/// preferred interval when the request has none.
pub fn uas_negotiate(
    se: Option<(u32, Option<Refresher>)>,
    uac_supports: bool,
    local_min_se: u32,
    wanted: Option<u32>,
) -> UasTimer {
    let min_se = local_min_se.max(MIN_SE_FLOOR);
    match se {
        Some((interval, _)) if interval < min_se => UasTimer::TooSmall { min_se },
        Some((interval, refresher)) => UasTimer::Accept(SessionTimer {
            interval,
            // §9: the UAC's choice stands; without one the UAS picks (the UAC if it can).
            refresher: refresher.unwrap_or(if uac_supports {
                Refresher::Uac
            } else {
                Refresher::Uas
            }),
        }),
        None => match wanted {
            Some(w) => UasTimer::Accept(SessionTimer {
                interval: w.max(min_se),
                refresher: if uac_supports {
                    Refresher::Uac
                } else {
                    Refresher::Uas
                },
            }),
            None => UasTimer::None,
        },
    }
}

/// §7.2: the UAC reads the 2xx. A Session-Expires there is the timer (a missing refresher
/// means the UAC refreshes); without one, the UAC may still run its requested interval as
/// refresher. §4/§9: no interval is below `min_se` (this side's Min-SE, at least 90 s): a 2xx
/// asking for less gets `min_se` (a peer cannot make this side refresh every second).
pub fn uac_on_2xx(
    requested: Option<u32>,
    response_se: Option<(u32, Option<Refresher>)>,
    min_se: u32,
) -> Option<SessionTimer> {
    match response_se {
        Some((interval, r)) => Some(SessionTimer {
            interval: interval.max(min_se).max(MIN_SE_FLOOR),
            refresher: r.unwrap_or(Refresher::Uac),
        }),
        None => requested.map(|interval| SessionTimer {
            interval,
            refresher: Refresher::Uac,
        }),
    }
}

/// §7.4: after a 422, retry with Session-Expires (and Min-SE) at least the 422's Min-SE.
/// `None` when the 422 carries a Min-SE not above what was asked (a broken peer: stop).
pub fn uac_on_422(requested: u32, min_se: u32) -> Option<u32> {
    (min_se > requested).then_some(min_se.max(MIN_SE_FLOOR))
}
