//! Subscription usages of dialogs (RFC 6665): which event packages this side accepts, the
//! checks a SUBSCRIBE or NOTIFY must pass, and each subscription's state and deadline.
//!
//! ## Theory of operation
//!
//! A dialog may carry several usages (RFC 5057, RFC 6665 §4.5.2): the INVITE usage and one
//! per subscription. [`Subscriptions`] records the subscription usages per [`DialogKey`],
//! on either side ([`Role`]), with the time each expires. A dialog a SUBSCRIBE or an early
//! NOTIFY made has no INVITE usage: it ends with its last subscription. A subscription
//! inside an INVITE dialog (REFER's implicit one included) never ends the dialog.
//!
//! The rules are functions of header values ([`check_subscribe`], [`check_notify`],
//! [`grant`]) so the endpoint and tests use the same ones; the table only keeps state. A
//! SUBSCRIBE this side sent waits in the table ([`Subscriptions::add_pending`]) so a NOTIFY
//! that overtakes the 2xx can make the dialog (§4.1.2.4).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use super::DialogKey;
use crate::header::{parse_event, parse_expires, parse_subscription_state};
use crate::limits::ParseOptions;
use crate::txn::TxnId;

/// Which end of a subscription this side is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Subscriber,
    Notifier,
}

/// The state of a subscription (RFC 6665 §4.1.3): a subscriber whose SUBSCRIBE got its
/// 2xx but no NOTIFY yet counts as pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubState {
    Pending,
    Active,
    Terminated,
}

impl SubState {
    pub fn as_str(self) -> &'static str {
        match self {
            SubState::Pending => "pending",
            SubState::Active => "active",
            SubState::Terminated => "terminated",
        }
    }
}

/// An Event value as subscriptions are matched by it (§8.2.1): the event type and the
/// `id` parameter, each compared byte by byte; a value with an `id` never matches one
/// without.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EventKey {
    pub event_type: Vec<u8>,
    pub id: Option<Vec<u8>>,
}

impl EventKey {
    pub fn new(event_type: &[u8], id: Option<&[u8]>) -> EventKey {
        EventKey {
            event_type: event_type.to_vec(),
            id: id.map(<[u8]>::to_vec),
        }
    }
    /// The key of an Event header value; `None` when it does not parse.
    pub fn parse(v: &[u8], opts: &ParseOptions) -> Option<EventKey> {
        let e = parse_event(v, opts, &mut Vec::new()).ok()?;
        Some(EventKey::new(e.event_type, e.id()))
    }
    /// The package: the event type up to its first `.` template.
    pub fn package(&self) -> &[u8] {
        self.event_type
            .split(|&b| b == b'.')
            .next()
            .unwrap_or(&self.event_type)
    }
    /// The value an Event header carries: `type` or `type;id=x`.
    pub fn header_value(&self) -> Vec<u8> {
        let mut v = self.event_type.clone();
        if let Some(id) = &self.id {
            v.extend_from_slice(b";id=");
            v.extend_from_slice(id);
        }
        v
    }
}

/// What the notifier side accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionConfig {
    /// Event types this side accepts in SUBSCRIBE and PUBLISH; the rest get 489 (§4.2.1.1,
    /// RFC 3903 §6). Empty: none.
    pub events: Vec<Vec<u8>>,
    /// A SUBSCRIBE asking for less (and not 0) gets 423 with this Min-Expires (§4.2.1.1).
    pub min_expires: u32,
    /// The longest subscription granted; longer requests are shortened (§4.2.1.1).
    pub max_expires: u32,
    /// Granted when the SUBSCRIBE has no Expires (the package's default, §7.2; 3600 s is
    /// what most packages use).
    pub default_expires: u32,
}

impl Default for SubscriptionConfig {
    fn default() -> Self {
        SubscriptionConfig {
            events: Vec::new(),
            min_expires: 1,
            max_expires: 86_400,
            default_expires: 3600,
        }
    }
}

/// A request the endpoint answers itself, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: &'static str,
    /// A header the answer must carry (Allow-Events with 489, Min-Expires with 423).
    pub header: Option<(&'static str, Vec<u8>)>,
}

impl Refusal {
    fn plain(status: u16, reason: &'static str) -> Refusal {
        Refusal {
            status,
            reason,
            header: None,
        }
    }
}

/// The Allow-Events value for these event types (§8.2.2).
pub fn allow_events(events: &[Vec<u8>]) -> Vec<u8> {
    events.join(&b", "[..])
}

/// Checks a received SUBSCRIBE's Event and Expires (§4.2.1.1): 400 without a parsable
/// Event or with a bad Expires, 489 (with Allow-Events) for an event type not accepted,
/// 423 (with Min-Expires) for a non-zero Expires below the minimum. Gives the event and
/// the Expires asked for.
pub fn check_subscribe(
    event: Option<&[u8]>,
    expires: Option<&[u8]>,
    cfg: &SubscriptionConfig,
    opts: &ParseOptions,
) -> Result<(EventKey, Option<u32>), Refusal> {
    let key = check_event(event, cfg, opts)?;
    let asked = match expires {
        None => None,
        Some(v) => Some(
            parse_expires(v, opts, &mut Vec::new())
                .map_err(|_| Refusal::plain(400, "Bad Expires Header"))?,
        ),
    };
    if let Some(a) = asked {
        if a != 0 && a < cfg.min_expires {
            return Err(Refusal {
                status: 423,
                reason: "Interval Too Brief",
                header: Some(("Min-Expires", cfg.min_expires.to_string().into_bytes())),
            });
        }
    }
    Ok((key, asked))
}

/// The Event of a SUBSCRIBE or PUBLISH, which must be present, parse, and be accepted
/// (RFC 6665 §4.2.1.1, RFC 3903 §6 step 2).
pub fn check_event(
    event: Option<&[u8]>,
    cfg: &SubscriptionConfig,
    opts: &ParseOptions,
) -> Result<EventKey, Refusal> {
    let v = event.ok_or(Refusal::plain(400, "Missing Event Header"))?;
    let key = EventKey::parse(v, opts).ok_or(Refusal::plain(400, "Bad Event Header"))?;
    if !cfg.events.contains(&key.event_type) {
        return Err(Refusal {
            status: 489,
            reason: "Bad Event",
            header: Some(("Allow-Events", allow_events(&cfg.events))),
        });
    }
    Ok(key)
}

/// What a NOTIFY says about its subscription (§4.1.3, §8.2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyState {
    /// `None` for a state this side does not know (an extension): the subscription stays
    /// as it was.
    pub state: Option<SubState>,
    /// The state as written.
    pub text: Vec<u8>,
    pub expires: Option<u32>,
    pub reason: Option<Vec<u8>>,
    pub retry_after: Option<u32>,
}

/// Checks a received NOTIFY's Event and Subscription-State: both must be there and parse
/// (400 otherwise, §8.2.1, §8.2.3).
pub fn check_notify(
    event: Option<&[u8]>,
    state: Option<&[u8]>,
    opts: &ParseOptions,
) -> Result<(EventKey, NotifyState), Refusal> {
    let ev = event.ok_or(Refusal::plain(400, "Missing Event Header"))?;
    let key = EventKey::parse(ev, opts).ok_or(Refusal::plain(400, "Bad Event Header"))?;
    let sv = state.ok_or(Refusal::plain(400, "Missing Subscription-State Header"))?;
    let s = parse_subscription_state(sv, opts, &mut Vec::new())
        .map_err(|_| Refusal::plain(400, "Bad Subscription-State Header"))?;
    let known = [SubState::Active, SubState::Pending, SubState::Terminated]
        .into_iter()
        .find(|k| s.is(k.as_str().as_bytes()));
    Ok((
        key,
        NotifyState {
            state: known,
            text: s.state.to_ascii_lowercase(),
            expires: s.expires(),
            reason: s.reason().map(<[u8]>::to_vec),
            retry_after: s.retry_after(),
        },
    ))
}

/// The duration a notifier grants for a SUBSCRIBE asking for `asked` (§4.2.1.1): the
/// default when absent, never more than the maximum; 0 stays 0 (an unsubscribe or fetch).
pub fn grant(asked: Option<u32>, cfg: &SubscriptionConfig) -> u32 {
    asked.unwrap_or(cfg.default_expires).min(cfg.max_expires)
}

/// The Subscription-State value of a NOTIFY this side sends (§4.2.2): the seconds left
/// for active and pending, the reason for terminated.
pub fn state_value(state: SubState, expires_at: u64, now: u64, reason: Option<&[u8]>) -> Vec<u8> {
    let mut v = state.as_str().as_bytes().to_vec();
    match state {
        SubState::Terminated => {
            if let Some(r) = reason {
                v.extend_from_slice(b";reason=");
                v.extend_from_slice(r);
            }
        }
        _ => {
            // Rounded up: a NOTIFY must not announce the end before it comes.
            let left = expires_at.saturating_sub(now).div_ceil(1000);
            v.extend_from_slice(format!(";expires={left}").as_bytes());
        }
    }
    v
}

/// One subscription usage of a dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    pub role: Role,
    pub event: EventKey,
    pub state: SubState,
    /// When it expires without a refresh (ms on the driver's clock).
    pub expires_at: u64,
}

/// A SUBSCRIBE this side sent outside a dialog, still open to an early NOTIFY.
#[derive(Clone, Debug)]
struct Pending {
    txn: TxnId,
    event: EventKey,
    request: Vec<u8>,
    /// Remote tags of the dialogs early NOTIFYs made from it.
    made: Vec<Vec<u8>>,
}

/// The subscription usages of an endpoint's dialogs (see the module docs).
#[derive(Default)]
pub struct Subscriptions {
    usages: HashMap<DialogKey, Vec<Usage>>,
    /// Dialogs a subscription made: they have no INVITE usage.
    made: HashSet<DialogKey>,
    /// (Call-ID, From tag) of a SUBSCRIBE sent outside a dialog.
    pending: HashMap<(Vec<u8>, Vec<u8>), Pending>,
    /// The pending SUBSCRIBEs by transaction (every transaction's end asks).
    pending_txn: HashMap<TxnId, (Vec<u8>, Vec<u8>)>,
    heap: BinaryHeap<Reverse<(u64, DialogKey)>>,
}

impl Subscriptions {
    pub fn new() -> Subscriptions {
        Subscriptions::default()
    }

    /// Live subscription usages.
    pub fn len(&self) -> usize {
        self.usages.values().map(Vec::len).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.usages.is_empty()
    }

    /// The usages of a dialog.
    pub fn of(&self, dialog: DialogKey) -> &[Usage] {
        self.usages.get(&dialog).map_or(&[], Vec::as_slice)
    }

    pub fn get(&self, dialog: DialogKey, role: Role, event: &EventKey) -> Option<&Usage> {
        self.of(dialog)
            .iter()
            .find(|u| u.role == role && u.event == *event)
    }

    /// Whether a subscription made this dialog (it has no INVITE usage).
    pub fn made_dialog(&self, dialog: DialogKey) -> bool {
        self.made.contains(&dialog)
    }

    /// Records that a subscription made this dialog.
    pub fn mark_made(&mut self, dialog: DialogKey) {
        self.made.insert(dialog);
    }

    /// Adds or refreshes a usage: the state given (or kept when `None`), a new deadline.
    pub fn set(
        &mut self,
        dialog: DialogKey,
        role: Role,
        event: &EventKey,
        state: Option<SubState>,
        expires_at: u64,
    ) {
        let list = self.usages.entry(dialog).or_default();
        // The heap holds, for each usage, an entry no later than its deadline: a later
        // deadline reuses the entry there (re-armed when it comes due), so frequent
        // NOTIFYs and refreshes do not pile entries up.
        let earlier = match list
            .iter_mut()
            .find(|u| u.role == role && u.event == *event)
        {
            Some(u) => {
                if let Some(s) = state {
                    u.state = s;
                }
                let earlier = expires_at < u.expires_at;
                u.expires_at = expires_at;
                earlier
            }
            None => {
                list.push(Usage {
                    role,
                    event: event.clone(),
                    state: state.unwrap_or(SubState::Pending),
                    expires_at,
                });
                true
            }
        };
        if earlier {
            self.heap.push(Reverse((expires_at, dialog)));
        }
    }

    /// Changes a usage's state, keeping its deadline.
    pub fn set_state(&mut self, dialog: DialogKey, role: Role, event: &EventKey, state: SubState) {
        if let Some(u) = self
            .usages
            .get_mut(&dialog)
            .and_then(|l| l.iter_mut().find(|u| u.role == role && u.event == *event))
        {
            u.state = state;
        }
    }

    /// Ends a usage. True when the dialog should end with it: a subscription made it and
    /// no usage is left (§4.5.2).
    pub fn end(&mut self, dialog: DialogKey, role: Role, event: &EventKey) -> bool {
        let Some(list) = self.usages.get_mut(&dialog) else {
            return false;
        };
        list.retain(|u| !(u.role == role && u.event == *event));
        if !list.is_empty() {
            return false;
        }
        self.usages.remove(&dialog);
        self.made.contains(&dialog)
    }

    /// The dialog is gone: so are its usages.
    pub fn dialog_removed(&mut self, dialog: DialogKey) -> Vec<Usage> {
        self.made.remove(&dialog);
        self.usages.remove(&dialog).unwrap_or_default()
    }

    /// A SUBSCRIBE sent outside a dialog (its Call-ID, From tag, event and bytes).
    pub fn add_pending(
        &mut self,
        call_id: &[u8],
        from_tag: &[u8],
        event: EventKey,
        txn: TxnId,
        request: Vec<u8>,
    ) {
        let key = (call_id.to_vec(), from_tag.to_vec());
        if let Some(old) = self.pending.get(&key) {
            // The same SUBSCRIBE again (after a 401): the new transaction takes over.
            self.pending_txn.remove(&old.txn);
        }
        self.pending_txn.insert(txn, key.clone());
        self.pending.insert(
            key,
            Pending {
                txn,
                event,
                request,
                made: Vec::new(),
            },
        );
    }

    /// The SUBSCRIBE a NOTIFY outside any known dialog answers: same Call-ID, its To tag
    /// the SUBSCRIBE's From tag, a matching Event (§4.1.2.4). Its bytes.
    pub fn pending_for(&self, call_id: &[u8], to_tag: &[u8], event: &EventKey) -> Option<&[u8]> {
        self.pending
            .get(&(call_id.to_vec(), to_tag.to_vec()))
            .filter(|p| p.event == *event)
            .map(|p| p.request.as_slice())
    }

    /// An early NOTIFY made the dialog with this remote tag from the SUBSCRIBE.
    pub fn made_early(&mut self, call_id: &[u8], from_tag: &[u8], remote_tag: &[u8]) {
        if let Some(p) = self.pending.get_mut(&(call_id.to_vec(), from_tag.to_vec())) {
            p.made.push(remote_tag.to_vec());
        }
    }

    /// Whether an early NOTIFY made the dialog a late 2xx names: if that dialog is gone,
    /// the subscription ended before the 2xx came and the 2xx must not make it again.
    pub fn was_made_early(&self, call_id: &[u8], from_tag: &[u8], remote_tag: &[u8]) -> bool {
        self.pending
            .get(&(call_id.to_vec(), from_tag.to_vec()))
            .is_some_and(|p| p.made.iter().any(|t| t == remote_tag))
    }

    /// The SUBSCRIBE's transaction ended: no later NOTIFY makes a dialog from it.
    pub fn drop_pending(&mut self, txn: TxnId) {
        if let Some(key) = self.pending_txn.remove(&txn) {
            self.pending.remove(&key);
        }
    }

    /// When to call [`Subscriptions::expire`] next: no later than the earliest deadline
    /// (earlier when a refresh moved a deadline on; that call finds nothing due).
    pub fn next_deadline(&mut self) -> Option<u64> {
        while let Some(&Reverse((at, k))) = self.heap.peek() {
            if !self.of(k).is_empty() {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Usages whose deadline is `now` or earlier, taken out of the table, each with its
    /// dialog and whether the dialog ends with it.
    pub fn expire(&mut self, now: u64) -> Vec<(DialogKey, Usage, bool)> {
        let mut out = Vec::new();
        while let Some(&Reverse((at, k))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            let due: Vec<Usage> = self
                .of(k)
                .iter()
                .filter(|u| u.expires_at <= now)
                .cloned()
                .collect();
            for u in due {
                let last = self.end(k, u.role, &u.event);
                out.push((k, u, last));
            }
            // The dialog's other usages were refreshed past this entry: re-arm.
            if let Some(next) = self.of(k).iter().map(|u| u.expires_at).min() {
                self.heap.push(Reverse((next, k)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const O: ParseOptions = ParseOptions::STRICT;

    fn cfg() -> SubscriptionConfig {
        SubscriptionConfig {
            events: vec![b"presence".to_vec(), b"dialog".to_vec()],
            min_expires: 60,
            ..SubscriptionConfig::default()
        }
    }

    /// (Event, Expires, status or 0 when accepted, the header the refusal carries)
    type SubscribeCase = (
        Option<&'static [u8]>,
        Option<&'static [u8]>,
        u16,
        Option<&'static str>,
    );
    /// (Event, Subscription-State, the state and expires read, or the refusal's status)
    type NotifyCase = (
        Option<&'static [u8]>,
        Option<&'static [u8]>,
        Result<(Option<SubState>, Option<u32>), u16>,
    );

    fn key(i: u64) -> DialogKey {
        DialogKey::from_u64(i)
    }

    #[test]
    fn subscribe_checks() {
        let table: &[SubscribeCase] = &[
            (Some(b"presence"), Some(b"3600"), 0, None),
            (Some(b"presence;id=7"), None, 0, None),
            (Some(b"presence"), Some(b"0"), 0, None),
            (None, None, 400, None),
            (Some(b"pres ence"), None, 400, None),
            (Some(b"message-summary"), None, 489, Some("Allow-Events")),
            // Templates are other event types (§7.2.3).
            (Some(b"presence.winfo"), None, 489, Some("Allow-Events")),
            // Event types compare byte by byte (§8.2.1).
            (Some(b"Presence"), None, 489, Some("Allow-Events")),
            (Some(b"presence"), Some(b"59"), 423, Some("Min-Expires")),
            (Some(b"presence"), Some(b"soon"), 400, None),
        ];
        for (ev, exp, status, header) in table {
            let r = check_subscribe(*ev, *exp, &cfg(), &O);
            match r {
                Ok(_) => assert_eq!(*status, 0, "{ev:?} {exp:?} accepted"),
                Err(f) => {
                    assert_eq!(f.status, *status, "{ev:?} {exp:?}");
                    assert_eq!(f.header.as_ref().map(|h| h.0), *header);
                }
            }
        }
        let f = check_subscribe(Some(b"reg"), None, &cfg(), &O).unwrap_err();
        assert_eq!(
            f.header,
            Some(("Allow-Events", b"presence, dialog".to_vec()))
        );
        let f = check_subscribe(Some(b"dialog"), Some(b"5"), &cfg(), &O).unwrap_err();
        assert_eq!(f.header, Some(("Min-Expires", b"60".to_vec())));
        let (k, asked) = check_subscribe(Some(b"dialog;id=a1"), Some(b"120"), &cfg(), &O).unwrap();
        assert_eq!(k, EventKey::new(b"dialog", Some(b"a1")));
        assert_eq!(asked, Some(120));
    }

    #[test]
    fn notify_checks() {
        let table: &[NotifyCase] = &[
            (
                Some(b"presence"),
                Some(b"active;expires=600"),
                Ok((Some(SubState::Active), Some(600))),
            ),
            (
                Some(b"presence"),
                Some(b"PENDING"),
                Ok((Some(SubState::Pending), None)),
            ),
            (
                Some(b"presence"),
                Some(b"terminated;reason=noresource"),
                Ok((Some(SubState::Terminated), None)),
            ),
            (Some(b"presence"), Some(b"waiting"), Ok((None, None))),
            (None, Some(b"active"), Err(400)),
            (Some(b"presence"), None, Err(400)),
            (Some(b"presence"), Some(b"active;expires=x"), Err(400)),
            (Some(b""), Some(b"active"), Err(400)),
        ];
        for (ev, st, want) in table {
            let got = check_notify(*ev, *st, &O)
                .map(|(_, s)| (s.state, s.expires))
                .map_err(|f| f.status);
            assert_eq!(&got, want, "{ev:?} {st:?}");
        }
        let (_, s) = check_notify(
            Some(b"x"),
            Some(b"terminated;reason=timeout;retry-after=9"),
            &O,
        )
        .unwrap();
        assert_eq!(s.reason.as_deref(), Some(&b"timeout"[..]));
        assert_eq!(s.retry_after, Some(9));
    }

    #[test]
    fn events_match_by_type_and_id() {
        let p = EventKey::parse(b"presence", &O).unwrap();
        assert_eq!(p, EventKey::parse(b"presence;foo=1", &O).unwrap());
        assert_ne!(p, EventKey::parse(b"presence;id=1", &O).unwrap());
        assert_ne!(p, EventKey::parse(b"PRESENCE", &O).unwrap());
        let w = EventKey::parse(b"presence.winfo;id=9", &O).unwrap();
        assert_eq!(w.package(), b"presence");
        assert_eq!(w.header_value(), b"presence.winfo;id=9");
    }

    #[test]
    fn grants_and_state_values() {
        let c = cfg();
        assert_eq!(grant(None, &c), 3600);
        assert_eq!(grant(Some(0), &c), 0);
        assert_eq!(grant(Some(600), &c), 600);
        assert_eq!(grant(Some(999_999), &c), 86_400);
        assert_eq!(
            state_value(SubState::Active, 10_500, 1000, None),
            b"active;expires=10"
        );
        assert_eq!(
            state_value(SubState::Pending, 1000, 5000, None),
            b"pending;expires=0"
        );
        assert_eq!(
            state_value(SubState::Terminated, 0, 0, Some(b"timeout")),
            b"terminated;reason=timeout"
        );
        assert_eq!(state_value(SubState::Terminated, 0, 0, None), b"terminated");
    }

    #[test]
    fn a_dialog_ends_with_its_last_subscription_only_when_one_made_it() {
        let mut s = Subscriptions::new();
        let p = EventKey::new(b"presence", None);
        let d = EventKey::new(b"dialog", None);
        // A subscription dialog with two usages.
        s.mark_made(key(1));
        s.set(key(1), Role::Subscriber, &p, None, 100);
        s.set(key(1), Role::Subscriber, &d, Some(SubState::Active), 200);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.get(key(1), Role::Subscriber, &p).map(|u| u.state),
            Some(SubState::Pending)
        );
        assert!(!s.end(key(1), Role::Subscriber, &p));
        assert!(s.end(key(1), Role::Subscriber, &d));
        // A subscription inside an INVITE dialog: the dialog stays.
        s.set(key(2), Role::Notifier, &p, Some(SubState::Active), 100);
        assert!(!s.end(key(2), Role::Notifier, &p));
        // Roles are separate usages.
        s.set(key(3), Role::Notifier, &p, None, 100);
        assert!(s.get(key(3), Role::Subscriber, &p).is_none());
        assert!(!s.end(key(3), Role::Subscriber, &p));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn deadlines_follow_refreshes() {
        let mut s = Subscriptions::new();
        let p = EventKey::new(b"presence", None);
        s.mark_made(key(1));
        s.set(key(1), Role::Notifier, &p, Some(SubState::Active), 1000);
        s.set(key(2), Role::Subscriber, &p, Some(SubState::Active), 1500);
        assert_eq!(s.next_deadline(), Some(1000));
        // A refresh moves the deadline on: the entry at 1000 finds nothing due and re-arms.
        s.set(key(1), Role::Notifier, &p, None, 3000);
        assert_eq!(s.next_deadline(), Some(1000));
        assert!(s.expire(1000).is_empty());
        assert_eq!(s.next_deadline(), Some(1500));
        assert!(s.expire(1499).is_empty());
        let due = s.expire(1500);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].0, key(2));
        // key(2) was not made by a subscription: its dialog stays.
        assert!(!due[0].2);
        let due = s.expire(5000);
        assert_eq!(due.len(), 1);
        assert!(due[0].2, "the subscription's own dialog ends with it");
        assert_eq!(s.next_deadline(), None);
        assert!(s.is_empty());
        // A deadline moved earlier is kept to.
        s.set(key(4), Role::Subscriber, &p, None, 9000);
        s.set(key(4), Role::Subscriber, &p, None, 7000);
        assert_eq!(s.next_deadline(), Some(7000));
        assert_eq!(s.expire(7000).len(), 1);
        // Many refreshes leave one entry per usage, not one per refresh.
        for i in 0..100 {
            s.set(key(5), Role::Subscriber, &p, None, 10_000 + i);
        }
        assert_eq!(s.heap.len(), 1 + 1);
    }

    #[test]
    fn an_early_notify_finds_its_subscribe() {
        let mut s = Subscriptions::new();
        let p = EventKey::new(b"presence", None);
        let t = TxnId::from_u64(5);
        s.add_pending(b"cid", b"tag1", p.clone(), t, b"SUBSCRIBE".to_vec());
        assert_eq!(s.pending_for(b"cid", b"tag1", &p), Some(&b"SUBSCRIBE"[..]));
        assert_eq!(s.pending_for(b"cid", b"tag2", &p), None);
        assert_eq!(
            s.pending_for(b"cid", b"tag1", &EventKey::new(b"dialog", None)),
            None
        );
        assert!(!s.was_made_early(b"cid", b"tag1", b"r1"));
        s.made_early(b"cid", b"tag1", b"r1");
        assert!(s.was_made_early(b"cid", b"tag1", b"r1"));
        assert!(!s.was_made_early(b"cid", b"tag1", b"r2"));
        // Sent again after a challenge: the first transaction's end no longer drops it.
        let t2 = TxnId::from_u64(6);
        s.add_pending(b"cid", b"tag1", p.clone(), t2, b"SUBSCRIBE2".to_vec());
        s.drop_pending(t);
        assert_eq!(s.pending_for(b"cid", b"tag1", &p), Some(&b"SUBSCRIBE2"[..]));
        s.drop_pending(t2);
        assert_eq!(s.pending_for(b"cid", b"tag1", &p), None);
        assert!(!s.was_made_early(b"cid", b"tag1", b"r1"));
    }
}
