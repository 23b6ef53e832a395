//! Dialogs (RFC 3261 §12), sans-IO.
//!
//! ## Theory of operation
//!
//! A [`Dialog`] is the state two user agents share after an INVITE (§12.1): its
//! [`DialogId`] (Call-ID, local tag, remote tag), the route set, the remote target and the
//! CSeq numbers; it builds the requests sent inside it (§12.2.1.1, loose and strict
//! routing) and the ACK for a 2xx (§13.2.2.4). [`Dialogs`] is the table of an endpoint: it
//! matches requests to dialogs and rejects what §8.2.2.2, §12.2.2 and §14.2 reject (482,
//! 481, 500, 491), makes one early dialog per To tag of a forked INVITE, ACKs every 2xx and
//! ends the unwanted forks with BYE, and retransmits a UAS's 2xx until the ACK. [`prack`]
//! (RFC 3262) and [`session_timer`] (RFC 4028) are the bookkeeping of two extensions;
//! [`subscription`] keeps the subscription usages dialogs carry (RFC 6665).
//!
//! The user drives it next to the [`crate::txn::TransactionLayer`]: requests and responses
//! the layer delivers go to [`Dialogs::on_request`] / [`Dialogs::on_response`], responses
//! the user sends to [`Dialogs::on_response_sent`]. Time is an argument; randomness (glare
//! delays, branches) comes from the caller.

pub mod prack;
pub mod publication;
pub mod session_timer;
mod state;
pub mod subscription;
mod table;

pub use state::{Dialog, DialogId, DialogState, OutRequest};
pub use table::{
    glare_retry_delay, DialogAction, DialogConfig, DialogCounters, DialogKey, Dialogs,
    RequestVerdict, ResponseOutcome,
};
