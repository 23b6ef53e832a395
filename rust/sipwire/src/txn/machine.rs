//! The four transaction state machines (RFC 3261 §17.1.1, §17.1.2, §17.2.1, §17.2.2, updated
//! by RFC 6026), each as one table.
//!
//! ## Theory of operation
//!
//! [`step`] maps (machine, state, input) to the next state and a static list of [`Effect`]s,
//! or `None` when the input means nothing in that state (a wire input is then ignored, a TU
//! input refused). The tables know no durations and no bytes: the layer runs the effects,
//! arming timers with the durations of [`Timers`] (a timer with no duration on a reliable
//! transport is not armed; a zero one fires at once).
//!
//! - INVITE client: RFC 3261 Figure 5, with RFC 6026 §7.2 (2xx → Accepted, Timer M).
//!   Timer B also guards a cancelled INVITE: 64·T1 after the CANCEL the transaction gives up
//!   waiting for the 487 (§9.1).
//! - non-INVITE client: Figure 6.
//! - INVITE server: Figure 7, with RFC 6026 §7.1 (2xx → Accepted, Timer L).
//! - non-INVITE server: Figure 8.

/// The timers of RFC 3261 §17 (Table 4) and RFC 6026 (L, M).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE request retransmission (T1, doubling).
    A,
    /// INVITE transaction timeout (64·T1).
    B,
    /// Wait for response retransmissions after a non-2xx (≥ 32 s; 0 reliable).
    D,
    /// Non-INVITE request retransmission (T1 doubling to T2).
    E,
    /// Non-INVITE transaction timeout (64·T1).
    F,
    /// INVITE non-2xx response retransmission (T1 doubling to T2).
    G,
    /// Wait for the ACK (64·T1).
    H,
    /// Wait for ACK retransmissions (T4; 0 reliable).
    I,
    /// Wait for non-INVITE request retransmissions (64·T1; 0 reliable).
    J,
    /// Wait for non-INVITE response retransmissions (T4; 0 reliable).
    K,
    /// INVITE server Accepted: wait for INVITE retransmissions (64·T1, RFC 6026).
    L,
    /// INVITE client Accepted: wait for 2xx retransmissions (64·T1, RFC 6026).
    M,
}

impl Timer {
    /// Timers of one slot never run together: retransmission (A, E, G), timeout (B, F, H,
    /// L, M), linger (D, I, J, K).
    pub(crate) const fn slot(self) -> usize {
        match self {
            Timer::A | Timer::E | Timer::G => 0,
            Timer::B | Timer::F | Timer::H | Timer::L | Timer::M => 1,
            Timer::D | Timer::I | Timer::J | Timer::K => 2,
        }
    }
}

/// T1, T2, T4 (RFC 3261 §17.1.1.1, Table 4), in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timers {
    /// RTT estimate, default 500 ms.
    pub t1: u64,
    /// Maximum retransmission interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: u64,
    /// How long a message may stay in the network, 5 s.
    pub t4: u64,
    /// Timer D on unreliable transports: "at least 32 seconds" (§17.1.1.2).
    pub d: u64,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: 500,
            t2: 4000,
            t4: 5000,
            d: 32_000,
        }
    }
}

impl Timers {
    /// The first interval of a timer; `None` when it is not used on this transport.
    pub fn initial(&self, t: Timer, reliable: bool) -> Option<u64> {
        let t64 = self.t1.saturating_mul(64);
        match (t, reliable) {
            (Timer::A | Timer::E | Timer::G, true) => None,
            (Timer::A | Timer::E | Timer::G, false) => Some(self.t1),
            (Timer::B | Timer::F | Timer::H | Timer::L | Timer::M, _) => Some(t64),
            (Timer::D | Timer::I | Timer::J | Timer::K, true) => Some(0),
            (Timer::D, false) => Some(self.d),
            (Timer::I | Timer::K, false) => Some(self.t4),
            (Timer::J, false) => Some(t64),
        }
    }

    /// The next retransmission interval: A doubles without bound (B ends it), E and G double
    /// up to T2 (§17.1.2.2, §17.2.1).
    pub fn backoff(&self, t: Timer, current: u64) -> u64 {
        let doubled = current.saturating_mul(2);
        match t {
            Timer::A => doubled,
            _ => doubled.min(self.t2),
        }
    }
}

/// Which machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    InviteClient,
    NonInviteClient,
    InviteServer,
    NonInviteServer,
}

impl Kind {
    pub fn is_client(self) -> bool {
        matches!(self, Kind::InviteClient | Kind::NonInviteClient)
    }
    pub fn is_invite(self) -> bool {
        matches!(self, Kind::InviteClient | Kind::InviteServer)
    }
    /// The state a new transaction starts in.
    pub fn initial(self) -> State {
        match self {
            Kind::InviteClient => State::Calling,
            Kind::NonInviteClient => State::Trying,
            Kind::InviteServer => State::Proceeding,
            Kind::NonInviteServer => State::Trying,
        }
    }
}

/// The states of the four machines (each uses a subset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Calling,
    Trying,
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

/// A response class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// 1xx
    Provisional,
    /// 2xx
    Success,
    /// 300-699
    Failure,
}

impl Class {
    pub fn of(status: u16) -> Class {
        match status {
            0..=199 => Class::Provisional,
            200..=299 => Class::Success,
            _ => Class::Failure,
        }
    }
}

/// What happens to a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Client: (re)transmit the request. Server: (re)transmit the last response.
    Send,
    /// INVITE client: send (or resend) the ACK for the non-2xx final (§17.1.1.3).
    SendAck,
    /// Pass the message to the TU.
    Deliver,
    /// Tell the TU the transaction timed out (a client synthesizes 408, §8.1.3.1).
    Timeout,
    /// Tell the TU the transport failed.
    TransportError,
    /// Arm a timer with its initial interval.
    Start(Timer),
    /// Re-arm a retransmission timer with the next interval.
    Backoff(Timer),
    /// Re-arm a retransmission timer at T2 (non-INVITE client in Proceeding, §17.1.2.2).
    AtT2(Timer),
    Stop(Timer),
    Terminate,
}

/// What a transaction is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    /// The TU asked for the request to be sent (client creation).
    Start,
    /// A retransmission of the request that created a server transaction.
    Request,
    /// An ACK matched to an INVITE server transaction.
    Ack,
    /// A response from the network (client).
    Received(Class),
    /// A response from the TU (server).
    Respond(Class),
    /// The TU sent a CANCEL for this INVITE (§9.1).
    Cancelled,
    Timer(Timer),
    TransportError,
}

use Class::{Failure, Provisional, Success};
use Effect::*;
use Input::{Ack, Cancelled, Received, Request, Respond, Start as Begin};
use State::*;

type Row = Option<(State, &'static [Effect])>;

/// One transition of `kind` (see the module docs).
pub fn step(kind: Kind, state: State, input: Input) -> Row {
    match kind {
        Kind::InviteClient => invite_client(state, input),
        Kind::NonInviteClient => non_invite_client(state, input),
        Kind::InviteServer => invite_server(state, input),
        Kind::NonInviteServer => non_invite_server(state, input),
    }
}

/// RFC 3261 Figure 5 + RFC 6026 §7.2.
fn invite_client(state: State, input: Input) -> Row {
    const TO_PROCEEDING: &[Effect] = &[Stop(Timer::A), Stop(Timer::B), Deliver];
    const TO_ACCEPTED: &[Effect] = &[Stop(Timer::A), Stop(Timer::B), Deliver, Start(Timer::M)];
    const TO_COMPLETED: &[Effect] = &[
        Stop(Timer::A),
        Stop(Timer::B),
        SendAck,
        Deliver,
        Start(Timer::D),
    ];
    const FAIL: &[Effect] = &[TransportError, Terminate];
    Some(match (state, input) {
        (Calling, Begin) => (Calling, &[Send, Start(Timer::A), Start(Timer::B)]),
        (Calling, Input::Timer(Timer::A)) => (Calling, &[Send, Backoff(Timer::A)]),
        (Calling | Proceeding, Input::Timer(Timer::B)) => (Terminated, &[Timeout, Terminate]),
        (Calling, Received(Provisional)) => (Proceeding, TO_PROCEEDING),
        // Figure 5: more 1xx in Proceeding only go to the TU; Timer B, if a CANCEL started it
        // again (§9.1), keeps running.
        (Proceeding, Received(Provisional)) => (Proceeding, &[Deliver]),
        (Calling | Proceeding, Received(Success)) => (Accepted, TO_ACCEPTED),
        (Calling | Proceeding, Received(Failure)) => (Completed, TO_COMPLETED),
        (Calling | Proceeding | Completed, Input::TransportError) => (Terminated, FAIL),
        // §9.1: give up on the 487 64·T1 after the CANCEL.
        (Proceeding, Cancelled) => (Proceeding, &[Start(Timer::B)]),
        // A retransmitted final: the ACK again, nothing to the TU.
        (Completed, Received(Failure)) => (Completed, &[SendAck]),
        (Completed, Input::Timer(Timer::D)) => (Terminated, &[Terminate]),
        // Every 2xx retransmission goes to the TU, which ACKs it (§13.2.2.4).
        (Accepted, Received(Success)) => (Accepted, &[Deliver]),
        (Accepted, Input::Timer(Timer::M)) => (Terminated, &[Terminate]),
        _ => return None,
    })
}

/// RFC 3261 Figure 6.
fn non_invite_client(state: State, input: Input) -> Row {
    const TO_COMPLETED: &[Effect] = &[Stop(Timer::E), Stop(Timer::F), Deliver, Start(Timer::K)];
    Some(match (state, input) {
        (Trying, Begin) => (Trying, &[Send, Start(Timer::E), Start(Timer::F)]),
        (Trying, Input::Timer(Timer::E)) => (Trying, &[Send, Backoff(Timer::E)]),
        (Proceeding, Input::Timer(Timer::E)) => (Proceeding, &[Send, AtT2(Timer::E)]),
        (Trying | Proceeding, Input::Timer(Timer::F)) => (Terminated, &[Timeout, Terminate]),
        (Trying | Proceeding, Input::TransportError) => (Terminated, &[TransportError, Terminate]),
        (Trying | Proceeding, Received(Provisional)) => (Proceeding, &[Deliver]),
        (Trying | Proceeding, Received(Success | Failure)) => (Completed, TO_COMPLETED),
        (Completed, Received(_)) => (Completed, &[]),
        (Completed, Input::Timer(Timer::K)) => (Terminated, &[Terminate]),
        _ => return None,
    })
}

/// RFC 3261 Figure 7 + RFC 6026 §7.1.
fn invite_server(state: State, input: Input) -> Row {
    const TO_COMPLETED: &[Effect] = &[Send, Start(Timer::G), Start(Timer::H)];
    const TO_CONFIRMED: &[Effect] = &[Stop(Timer::G), Stop(Timer::H), Start(Timer::I)];
    Some(match (state, input) {
        // The TU got the INVITE when the transaction was made; retransmissions get the last
        // provisional again (none yet: nothing).
        (Proceeding, Request) => (Proceeding, &[Send]),
        (Proceeding, Respond(Provisional)) => (Proceeding, &[Send]),
        (Proceeding, Respond(Success)) => (Accepted, &[Send, Start(Timer::L)]),
        (Proceeding, Respond(Failure)) => (Completed, TO_COMPLETED),
        (Proceeding | Completed, Input::TransportError) => {
            (Terminated, &[TransportError, Terminate])
        }
        (Completed, Request) => (Completed, &[Send]),
        (Completed, Input::Timer(Timer::G)) => (Completed, &[Send, Backoff(Timer::G)]),
        // §17.2.1: no ACK for 64·T1.
        (Completed, Input::Timer(Timer::H)) => (Terminated, &[Timeout, Terminate]),
        (Completed, Ack) => (Confirmed, TO_CONFIRMED),
        (Confirmed, Request | Ack) => (Confirmed, &[]),
        (Confirmed, Input::Timer(Timer::I)) => (Terminated, &[Terminate]),
        // RFC 6026: INVITE retransmissions are absorbed, the TU's 2xx retransmissions sent,
        // an ACK (RFC 2543 peers match it here) goes to the TU.
        (Accepted, Request) => (Accepted, &[]),
        (Accepted, Respond(Success)) => (Accepted, &[Send]),
        (Accepted, Ack) => (Accepted, &[Deliver]),
        (Accepted, Input::Timer(Timer::L)) => (Terminated, &[Terminate]),
        _ => return None,
    })
}

/// RFC 3261 Figure 8.
fn non_invite_server(state: State, input: Input) -> Row {
    Some(match (state, input) {
        // No response yet: a retransmission is absorbed.
        (Trying, Request) => (Trying, &[]),
        (Trying | Proceeding, Respond(Provisional)) => (Proceeding, &[Send]),
        (Trying | Proceeding, Respond(Success | Failure)) => (Completed, &[Send, Start(Timer::J)]),
        (Proceeding | Completed, Request) => (state, &[Send]),
        (Proceeding | Completed, Input::TransportError) => {
            (Terminated, &[TransportError, Terminate])
        }
        (Completed, Input::Timer(Timer::J)) => (Terminated, &[Terminate]),
        _ => return None,
    })
}
