//! RTP streams joined to the call and the offer/answer (media row) that set them up.
//!
//! A stream (source, destination, SSRC) belongs to the media row whose SDP announced one of
//! its endpoints (RFC 4566 §5.7 `c=`, §5.14 `m=` port: where the announcing side receives,
//! RFC 3264 §5) while that offer/answer was in effect:
//!
//! - **Endpoints.** The stream's destination is the address and port one side's SDP
//!   announced; its source, the other side's (symmetric RTP, RFC 4961, is what devices do),
//!   tells the legs of a forked call apart: they share the offer's address, each has its
//!   own answer. A stream matched by its source only (a receiver's address not in the SDP)
//!   is joined too, with less weight.
//! - **Time window.** A row is in effect from its offer (or answer) on, minus a small slack
//!   for clocks of merged captures, until the next offer/answer of the same dialog and
//!   `m=` line that took effect (a re-INVITE: RFC 3264 §8), or the call's end plus a
//!   linger (the last packets cross the BYE). An early answer that the 2xx replaced with
//!   other SDP (ringback from a media server) is in effect until that 2xx. The stream's
//!   first packet picks the window: a port that two calls use one after the other joins
//!   each stream to its own call, and a re-INVITE that moves the port gives the new stream
//!   the new row.
//! - Among rows that fit, one announcing the destination wins over one announcing only the
//!   source, then the latest start (the offer/answer in effect: a later call on the same
//!   port, a re-INVITE that kept it), then the better endpoint match (the legs of a fork
//!   start together: the answer's address tells them apart).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use sipwire::correlate::{CallRecord, MediaRecord, Text};

use crate::rtp::{DtmfRow, RtpStreamRow};
use crate::types::Endpoint;

/// Seconds a row's window opens before its SDP was seen (merged captures' clocks differ).
pub const START_SLACK_S: f64 = 0.5;
/// Seconds RTP is still joined to a call after its end (packets in flight cross the BYE).
pub const END_LINGER_S: f64 = 2.0;

/// Which side's SDP announced the stream's destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdpSide {
    /// The stream goes to the offerer (to the address of the offer's SDP).
    Offer,
    /// The stream goes to the answerer.
    Answer,
}

impl SdpSide {
    pub fn as_str(self) -> &'static str {
        match self {
            SdpSide::Offer => "offer",
            SdpSide::Answer => "answer",
        }
    }

    fn other(self) -> SdpSide {
        match self {
            SdpSide::Offer => SdpSide::Answer,
            SdpSide::Answer => SdpSide::Offer,
        }
    }
}

/// What the join keeps of one media row: its key in the `media` table, where each side's SDP
/// said it receives, and when the row was in effect. Made as calls finish, so the calls
/// themselves need not be kept for it.
#[derive(Clone, Debug, PartialEq)]
pub struct JoinRow {
    pub call_id: Arc<str>,
    pub to_tag: Text,
    pub cseq: u32,
    pub media_index: u16,
    /// The row's answer came before the 2xx (the media table's `early`): one the 2xx
    /// replaced with other SDP, or the only answer of a call never answered.
    pub early: bool,
    offer: Option<SocketAddr>,
    answer: Option<SocketAddr>,
    start: f64,
    end: f64,
}

impl JoinRow {
    /// Its fields as bytes (the distributed engines hand join rows from the call groups to the
    /// RTP groups); [`JoinRow::decode`] reads them back.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for text in [self.call_id.as_bytes(), self.to_tag.as_bytes()] {
            out.extend_from_slice(&(text.len() as u32).to_be_bytes());
            out.extend_from_slice(text);
        }
        out.extend_from_slice(&self.cseq.to_be_bytes());
        out.extend_from_slice(&self.media_index.to_be_bytes());
        out.push(u8::from(self.early));
        for a in [self.offer, self.answer] {
            match a {
                None => out.push(0),
                Some(SocketAddr::V4(v)) => {
                    out.push(4);
                    out.extend_from_slice(&v.ip().octets());
                    out.extend_from_slice(&v.port().to_be_bytes());
                }
                Some(SocketAddr::V6(v)) => {
                    out.push(6);
                    out.extend_from_slice(&v.ip().octets());
                    out.extend_from_slice(&v.port().to_be_bytes());
                }
            }
        }
        out.extend_from_slice(&self.start.to_bits().to_be_bytes());
        out.extend_from_slice(&self.end.to_bits().to_be_bytes());
        out
    }

    /// A row [`JoinRow::encode`] wrote; `None` for bytes it did not write.
    pub fn decode(b: &[u8]) -> Option<JoinRow> {
        let mut r = Bytes { b, at: 0 };
        let call_id = r.text()?;
        let to_tag = r.text()?;
        let cseq = u32::from_be_bytes(r.take(4)?.try_into().ok()?);
        let media_index = u16::from_be_bytes(r.take(2)?.try_into().ok()?);
        let early = match r.take(1)? {
            [0] => false,
            [1] => true,
            _ => return None,
        };
        let offer = r.addr()?;
        let answer = r.addr()?;
        let start = f64::from_bits(u64::from_be_bytes(r.take(8)?.try_into().ok()?));
        let end = f64::from_bits(u64::from_be_bytes(r.take(8)?.try_into().ok()?));
        Some(JoinRow {
            call_id: call_id.into(),
            to_tag: Text::new(&to_tag),
            cseq,
            media_index,
            early,
            offer,
            answer,
            start,
            end,
        })
    }

    /// The addresses its SDPs announced (an engine sends the row to the RTP groups of those).
    pub fn addresses(&self) -> (Option<IpAddr>, Option<IpAddr>) {
        (self.offer.map(|a| a.ip()), self.answer.map(|a| a.ip()))
    }

    /// An order of rows that does not depend on which group made them.
    pub fn order_key(&self) -> (u64, &str, &str, u32, u16, bool) {
        (
            self.start.to_bits(),
            &self.call_id,
            &self.to_tag,
            self.cseq,
            self.media_index,
            self.early,
        )
    }
}

/// A cursor over [`JoinRow::encode`]'s bytes.
struct Bytes<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn text(&mut self) -> Option<String> {
        let n = u32::from_be_bytes(self.take(4)?.try_into().ok()?) as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }

    fn addr(&mut self) -> Option<Option<SocketAddr>> {
        let ip: IpAddr = match self.take(1)?.first()? {
            0 => return Some(None),
            4 => <[u8; 4]>::try_from(self.take(4)?).ok()?.into(),
            6 => <[u8; 16]>::try_from(self.take(16)?).ok()?.into(),
            _ => return None,
        };
        let port = u16::from_be_bytes(self.take(2)?.try_into().ok()?);
        Some(Some(SocketAddr::new(ip, port)))
    }
}

/// A stream's media row: an index into the join rows, and the side whose SDP announced the
/// stream's destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Joined {
    pub row: usize,
    pub side: SdpSide,
}

/// An SDP address as written (`c=`), with the port of its `m=` line; none for a name, the
/// unspecified address (a hold by RFC 2543's `0.0.0.0`) or port 0 (a refused stream).
fn endpoint(ip: Option<&str>, port: Option<u16>) -> Option<SocketAddr> {
    let ip = ip?.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = ip.parse().ok()?;
    let port = port.filter(|p| *p != 0)?;
    (!ip.is_unspecified()).then_some(SocketAddr::new(ip, port))
}

fn start_of(m: &MediaRecord) -> Option<f64> {
    match (m.offer_time, m.answer_time) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The join rows of finished calls: each media row with its time window (see the module
/// documentation). Rows with no offer or answer time have no window and are left out.
pub fn rows(calls: &[CallRecord]) -> Vec<JoinRow> {
    let mut out = Vec::new();
    for c in calls {
        let call_end = c.end_time.unwrap_or(c.last_time).max(c.last_time) + END_LINGER_S;
        for m in &c.media {
            let Some(start) = start_of(m) else { continue };
            // The next offer/answer of this dialog and m= line that took effect ends it.
            let next = c
                .media
                .iter()
                .filter(|n| {
                    n.to_tag == m.to_tag
                        && n.media_index == m.media_index
                        && n.answer_port.is_some()
                })
                .filter_map(start_of)
                .filter(|s| *s > start)
                .reduce(f64::min);
            // An early answer that the 2xx replaced (its row and the 2xx's share the offer):
            // in effect until that 2xx, so a stream that starts after it is the 2xx's, even
            // from the same address (RFC 3960 §3: early media ends when the call is answered).
            let replaced = c
                .media
                .iter()
                .filter(|n| {
                    m.early
                        && !n.early
                        && n.to_tag == m.to_tag
                        && n.cseq == m.cseq
                        && n.media_index == m.media_index
                })
                .filter_map(|n| n.answer_time)
                .filter(|t| *t > start)
                .reduce(f64::min);
            let next = next.into_iter().chain(replaced).reduce(f64::min);
            out.push(JoinRow {
                call_id: m.call_id.clone(),
                to_tag: m.to_tag.clone(),
                cseq: m.cseq,
                media_index: m.media_index,
                early: m.early,
                offer: endpoint(m.offer_ip.as_deref(), m.offer_port),
                answer: endpoint(m.answer_ip.as_deref(), m.answer_port),
                start: start - START_SLACK_S,
                end: next.unwrap_or(call_end),
            });
        }
    }
    out
}

/// Each stream's join row, in the order of `streams` (`None`: no SDP seen announced it
/// while its first packet was sent).
pub fn join(rows: &[JoinRow], streams: &[RtpStreamRow]) -> Vec<Option<Joined>> {
    join_at(
        rows,
        streams.iter().map(|s| (s.src, s.dst, s.first_time_ns)),
    )
}

/// Each telephone-event's join row: its stream's endpoints, at the event's time (a re-INVITE
/// that kept the port joins the digits sent after it to its own row).
pub fn join_dtmf(rows: &[JoinRow], events: &[DtmfRow]) -> Vec<Option<Joined>> {
    join_at(rows, events.iter().map(|e| (e.src, e.dst, e.time_ns)))
}

/// The join row of each (source, destination, time in ns).
fn join_at(
    rows: &[JoinRow],
    items: impl Iterator<Item = (Endpoint, Endpoint, i64)>,
) -> Vec<Option<Joined>> {
    // Nothing to join (a capture without RTP, or without telephone-events): the index of
    // every media row's endpoints is not worth building.
    let mut items = items.peekable();
    if items.peek().is_none() {
        return Vec::new();
    }
    // Endpoint -> (row, the side that announced it). The endpoints come from the capture:
    // the hasher is seeded per process, so no one can pick colliding addresses ahead.
    let mut by_addr: HashMap<SocketAddr, Vec<(usize, SdpSide)>, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(2 * rows.len(), foldhash::fast::RandomState::default());
    for (ri, r) in rows.iter().enumerate() {
        for (a, side) in [(r.offer, SdpSide::Offer), (r.answer, SdpSide::Answer)] {
            if let Some(a) = a {
                by_addr.entry(a).or_default().push((ri, side));
            }
        }
    }
    let announced = |side: SdpSide, ri: usize| -> Option<SocketAddr> {
        let r = rows.get(ri)?;
        match side {
            SdpSide::Offer => r.offer,
            SdpSide::Answer => r.answer,
        }
    };
    items
        .map(|(src, dst, time_ns)| {
            let t = time_ns as f64 / 1e9;
            let src = SocketAddr::new(src.ip, src.port);
            let dst = SocketAddr::new(dst.ip, dst.port);
            // (destination announced, start, match quality, row, side of the destination)
            let mut best: Option<(bool, f64, u8, usize, SdpSide)> = None;
            let mut consider = |q: u8, ri: usize, side: SdpSide| {
                let Some(w) = rows.get(ri) else { return };
                if t < w.start || t > w.end {
                    return;
                }
                let key = (q >= 2, w.start, q);
                let better = best.map_or(true, |(bd, bs, bq, _, _)| key > (bd, bs, bq));
                if better {
                    best = Some((q >= 2, w.start, q, ri, side));
                }
            };
            for &(ri, side) in by_addr.get(&dst).map_or(&[][..], |v| v.as_slice()) {
                // The source as the other side announced it: the exact leg.
                let q = if announced(side.other(), ri) == Some(src) {
                    3
                } else {
                    2
                };
                consider(q, ri, side);
            }
            for &(ri, side) in by_addr.get(&src).map_or(&[][..], |v| v.as_slice()) {
                consider(1, ri, side.other());
            }
            best.map(|(_, _, _, row, side)| Joined { row, side })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn ep(s: &str) -> Endpoint {
        let a = sa(s);
        Endpoint {
            ip: a.ip(),
            port: a.port(),
        }
    }

    fn row(tag: &str, offer: Option<&str>, answer: Option<&str>, start: f64, end: f64) -> JoinRow {
        JoinRow {
            call_id: Arc::from("c1"),
            to_tag: tag.into(),
            cseq: 1,
            media_index: 0,
            early: false,
            offer: offer.map(sa),
            answer: answer.map(sa),
            start,
            end,
        }
    }

    fn at(rows: &[JoinRow], src: &str, dst: &str, t: f64) -> Option<Joined> {
        let items = [(ep(src), ep(dst), (t * 1e9) as i64)];
        join_at(rows, items.into_iter()).pop().flatten()
    }

    #[test]
    fn encode_decode_round_trip_and_garbage() {
        let r = JoinRow {
            call_id: Arc::from("a@b"),
            to_tag: "t9".into(),
            cseq: 7,
            media_index: 2,
            early: true,
            offer: Some(sa("[2001:db8::1]:4000")),
            answer: None,
            start: 12.5,
            end: f64::INFINITY,
        };
        let b = r.encode();
        assert_eq!(JoinRow::decode(&b), Some(r));
        // Every cut and a bad address tag read as nothing, never a panic.
        for n in 0..b.len() {
            assert_eq!(JoinRow::decode(b.get(..n).unwrap()), None, "cut at {n}");
        }
        // The early flag, then the offer's address tag.
        let early_at = 4 + 3 + 4 + 2 + 4 + 2;
        for (at, v) in [(early_at, 2), (early_at + 1, 9)] {
            let mut bad = b.clone();
            bad[at] = v;
            assert_eq!(JoinRow::decode(&bad), None, "{at}");
        }
    }

    #[test]
    fn early_media_and_the_answer_that_replaced_it_join_their_own_streams() {
        // A 183's answer from a media server (ringback), then the 200's from the phone, both
        // to one offer: each stream to or from the offerer joins the row of its other end.
        let mut early = row("a", Some("10.0.0.1:4000"), Some("10.0.0.9:7000"), 0.0, 60.0);
        early.early = true;
        let rows = [
            early,
            row("a", Some("10.0.0.1:4000"), Some("10.0.0.2:5000"), 0.0, 60.0),
        ];
        for (src, dst, want) in [
            ("10.0.0.9:7000", "10.0.0.1:4000", (0, SdpSide::Offer)),
            ("10.0.0.1:4000", "10.0.0.9:7000", (0, SdpSide::Answer)),
            ("10.0.0.2:5000", "10.0.0.1:4000", (1, SdpSide::Offer)),
            ("10.0.0.1:4000", "10.0.0.2:5000", (1, SdpSide::Answer)),
        ] {
            let j = at(&rows, src, dst, 5.0).unwrap();
            assert_eq!((j.row, j.side), want, "{src} -> {dst}");
        }
    }

    #[test]
    fn forked_legs_are_told_apart_by_the_source() {
        // One offer (10.0.0.1:4000), two answers: each leg's stream to the offerer joins its
        // own row, and the stream to each answerer joins that answerer's row.
        let rows = [
            row("a", Some("10.0.0.1:4000"), Some("10.0.1.1:6000"), 0.0, 60.0),
            row("b", Some("10.0.0.1:4000"), Some("10.0.1.2:6000"), 0.0, 60.0),
        ];
        let j = at(&rows, "10.0.1.2:6000", "10.0.0.1:4000", 5.0).unwrap();
        assert_eq!((j.row, j.side), (1, SdpSide::Offer));
        let j = at(&rows, "10.0.1.1:6000", "10.0.0.1:4000", 5.0).unwrap();
        assert_eq!((j.row, j.side), (0, SdpSide::Offer));
        let j = at(&rows, "10.0.0.1:4000", "10.0.1.2:6000", 5.0).unwrap();
        assert_eq!((j.row, j.side), (1, SdpSide::Answer));
        // No streams, no events: nothing joined (and no index made).
        assert!(join(&rows, &[]).is_empty());
        assert!(join_dtmf(&rows, &[]).is_empty());
    }

    #[test]
    fn the_window_picks_the_offer_answer_in_effect() {
        // The same port used by two calls one after the other, then a stream in neither.
        let rows = [
            row("a", Some("10.0.0.1:4000"), Some("10.0.1.1:6000"), 0.0, 10.0),
            row(
                "b",
                Some("10.0.0.1:4000"),
                Some("10.0.1.1:6000"),
                20.0,
                30.0,
            ),
        ];
        assert_eq!(
            at(&rows, "10.0.1.1:6000", "10.0.0.1:4000", 5.0).map(|j| j.row),
            Some(0)
        );
        assert_eq!(
            at(&rows, "10.0.1.1:6000", "10.0.0.1:4000", 25.0).map(|j| j.row),
            Some(1)
        );
        assert_eq!(at(&rows, "10.0.1.1:6000", "10.0.0.1:4000", 15.0), None);
        // Overlapping windows (a re-INVITE that kept the port): the later start wins.
        let rows = [
            row("a", Some("10.0.0.1:4000"), Some("10.0.1.1:6000"), 0.0, 30.0),
            row(
                "a",
                Some("10.0.0.1:4000"),
                Some("10.0.1.1:6000"),
                10.0,
                30.0,
            ),
        ];
        assert_eq!(
            at(&rows, "10.0.1.1:6000", "10.0.0.1:4000", 12.0).map(|j| j.row),
            Some(1)
        );
    }

    #[test]
    fn an_announced_destination_beats_a_source_only_match() {
        // Row 0 announced the destination; row 1, starting later, only the source.
        let rows = [
            row("a", Some("10.0.0.1:4000"), None, 0.0, 60.0),
            row("b", Some("10.0.9.9:5000"), Some("10.0.1.1:6000"), 5.0, 60.0),
        ];
        let j = at(&rows, "10.0.1.1:6000", "10.0.0.1:4000", 8.0).unwrap();
        assert_eq!((j.row, j.side), (0, SdpSide::Offer));
        // With no row announcing the destination, the source's row is taken (other side).
        let j = at(&rows, "10.0.1.1:6000", "10.0.7.7:7000", 8.0).unwrap();
        assert_eq!((j.row, j.side), (1, SdpSide::Offer));
    }

    #[test]
    fn sdp_endpoints_that_carry_no_media_are_none() {
        assert_eq!(endpoint(Some("0.0.0.0"), Some(4000)), None);
        assert_eq!(endpoint(Some("10.0.0.1"), Some(0)), None);
        assert_eq!(endpoint(Some("host.example"), Some(4000)), None);
        assert_eq!(
            endpoint(Some("[2001:db8::1]"), Some(4000)),
            Some(sa("[2001:db8::1]:4000"))
        );
    }
}
