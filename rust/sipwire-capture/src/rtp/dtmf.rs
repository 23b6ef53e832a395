//! Telephone-events (RFC 4733 §2.3, formerly RFC 2833) decoded to DTMF digits.
//!
//! ## Theory of operation
//!
//! All packets of one event carry the same RTP timestamp, the event's start (§2.5.1.2); the
//! duration grows with each update and the last three packets repeat the final duration with
//! the E bit (§2.5.1.4). So an event is keyed by (timestamp, event code): its first packet gives
//! the start time and frame; the first end packet closes it and gives the duration; the
//! redundant end packets that follow are recognised and not counted again. An event whose end
//! packets were all lost is closed, `end_seen` false, by the next event or the end of the read.

/// The event codes of RFC 4733 §3.2 (DTMF) as digits; 16 is hook flash (the table the
/// correlator's INFO digits use too).
pub(crate) fn digit(event: u8) -> Option<&'static str> {
    sipwire::correlate::dtmf_digit(event)
}

/// One telephone-event payload (RFC 4733 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EventPayload {
    pub event: u8,
    pub end: bool,
    /// The R bit (reserved, §2.3: sent as 0).
    pub reserved: bool,
    pub volume: u8,
    pub duration: u16,
}

pub(crate) fn parse_event(p: &[u8]) -> Option<EventPayload> {
    let (&event, rest) = p.split_first()?;
    let (&flags, rest) = rest.split_first()?;
    let d = rest.get(..2)?;
    Some(EventPayload {
        event,
        end: flags & 0x80 != 0,
        reserved: flags & 0x40 != 0,
        volume: flags & 0x3f,
        duration: u16::from_be_bytes([*d.first()?, *d.get(1)?]),
    })
}

/// The event in progress (or just ended) on one stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct EventState {
    /// An event has been started on this stream.
    pub active: bool,
    /// Its row has been written (on the first end packet); later packets of it are redundant.
    pub emitted: bool,
    pub ts: u32,
    pub event: u8,
    pub start_ns: i64,
    pub frame: u64,
    pub duration: u16,
    pub volume: u8,
    pub end_seen: bool,
    pub packets: u32,
}

/// What one telephone-event packet did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A packet of the event in progress (or a redundant end packet).
    Continued,
    /// The event in progress ended with this packet: write its row.
    Ended,
    /// A new event started. `previous`: the event before, if it was never written (its end
    /// packets were lost), to be written first. `ended`: this packet was also the new event's
    /// end (its updates were lost), so its row is to be written too.
    Started {
        previous: Option<EventState>,
        ended: bool,
    },
}

impl EventState {
    pub fn packet(&mut self, ts: u32, e: EventPayload, time_ns: i64, frame: u64) -> Step {
        if self.active && self.ts == ts && self.event == e.event {
            if self.emitted {
                return Step::Continued;
            }
            self.packets = self.packets.saturating_add(1);
            self.volume = e.volume;
            self.duration = self.duration.max(e.duration);
            if e.end {
                self.duration = e.duration;
                self.end_seen = true;
                self.emitted = true;
                return Step::Ended;
            }
            return Step::Continued;
        }
        let pending = (self.active && !self.emitted).then_some(*self);
        *self = EventState {
            active: true,
            emitted: e.end,
            ts,
            event: e.event,
            start_ns: time_ns,
            frame,
            duration: e.duration,
            volume: e.volume,
            end_seen: e.end,
            packets: 1,
        };
        Step::Started {
            previous: pending,
            ended: e.end,
        }
    }

    /// The event still open at the end of a read (never written).
    pub fn pending(&self) -> Option<EventState> {
        (self.active && !self.emitted).then_some(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: u8, end: bool, duration: u16) -> EventPayload {
        EventPayload {
            event,
            end,
            reserved: false,
            volume: 10,
            duration,
        }
    }

    #[test]
    fn digits() {
        assert_eq!(digit(0), Some("0"));
        assert_eq!(digit(10), Some("*"));
        assert_eq!(digit(11), Some("#"));
        assert_eq!(digit(15), Some("D"));
        assert_eq!(digit(16), Some("flash"));
        assert_eq!(digit(17), None);
    }

    #[test]
    fn payload() {
        let e = parse_event(&[5, 0x8a, 0x03, 0x20]).unwrap();
        assert_eq!(e, ev(5, true, 800));
        assert!(parse_event(&[5, 0x8a, 0x03]).is_none());
        assert!(parse_event(&[5, 0x40, 0, 0]).unwrap().reserved);
    }

    #[test]
    fn one_event_with_redundant_ends() {
        let mut s = EventState::default();
        assert_eq!(
            s.packet(100, ev(1, false, 160), 0, 1),
            Step::Started {
                previous: None,
                ended: false
            }
        );
        assert_eq!(s.packet(100, ev(1, false, 320), 20, 2), Step::Continued);
        assert_eq!(s.packet(100, ev(1, true, 480), 40, 3), Step::Ended);
        assert_eq!(s.packet(100, ev(1, true, 480), 45, 4), Step::Continued);
        assert_eq!(s.packet(100, ev(1, true, 480), 50, 5), Step::Continued);
        assert_eq!((s.duration, s.packets, s.start_ns, s.frame), (480, 3, 0, 1));
        assert!(s.pending().is_none());
    }

    #[test]
    fn lost_end_closed_by_next_event() {
        let mut s = EventState::default();
        s.packet(100, ev(1, false, 160), 0, 1);
        s.packet(100, ev(1, false, 320), 20, 2);
        match s.packet(900, ev(2, false, 160), 500, 3) {
            Step::Started {
                previous: Some(prev),
                ended: false,
            } => {
                assert_eq!((prev.event, prev.duration, prev.end_seen), (1, 320, false));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.pending().map(|p| p.event), Some(2));
    }

    #[test]
    fn same_digit_twice_is_two_events() {
        let mut s = EventState::default();
        assert_eq!(
            s.packet(100, ev(5, true, 400), 0, 1),
            Step::Started {
                previous: None,
                ended: true
            }
        );
        assert_eq!(s.packet(100, ev(5, true, 400), 5, 2), Step::Continued);
        assert_eq!(
            s.packet(2000, ev(5, false, 160), 300, 3),
            Step::Started {
                previous: None,
                ended: false
            }
        );
    }
}
