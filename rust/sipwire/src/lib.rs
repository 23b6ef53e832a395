//! # sipwire — zero-copy SIP and SDP, sans-IO
//!
//! ## Theory of operation
//!
//! A message is parsed in two steps. [`message::Message::parse`] frames the input (datagram or
//! stream, RFC 3261 §18.3), reads the start line, and builds the *header index*: one
//! [`message::HeaderEntry`] per header line with the spans of its name and value and the
//! canonical [`message::HeaderName`] (compact forms resolved). That index is the only heap
//! allocation of a parse. Typed views ([`header`], [`uri`], [`sdp`]) are parsed from a value's
//! bytes when asked for, borrow the input, and allocate nothing.
//!
//! Errors are [`Error`] (kind + byte offset); [`error::Location`] turns an offset into line,
//! column and header name for people. Bounds come from [`Limits`], repairs from [`Leniency`];
//! a repair or a semantic problem in a message that still parses is a diagnostic.
//!
//! Writing: an unmodified message serializes to its input byte for byte; [`build`] makes new
//! messages and edits copies, refusing CR, LF and NUL in values.
//!
//! ## Module map
//! - [`scan`]: character classes and shared searches (the only place for `unsafe`)
//! - [`message`]: framing (datagram, stream), start line, header index, body
//! - [`header`]: typed headers (Via, name-addr, CSeq, params, auth, tokens, ...)
//! - [`uri`]: SIP/SIPS/tel URIs and their comparison (RFC 3261 §19.1.4)
//! - [`body`]: multipart bodies (RFC 5621)
//! - [`sdp`]: session descriptions (RFC 8866), offer/answer (RFC 3264)
//! - [`build`]: serialization and builders
//! - [`txn`]: transactions (RFC 3261 §17): keys, the four state machines, the layer, sans-IO
//! - [`dialog`]: dialogs (RFC 3261 §12): ids, route sets, CSeq, forking, PRACK, session timers
//! - [`endpoint`]: transactions and dialogs driven together: the sans-IO core of a user agent
//! - [`correlate`]: passive correlation of captured traffic into transactions, dialogs and calls

pub mod body;
pub mod build;
pub mod correlate;
pub mod dialog;
pub mod endpoint;
pub mod error;
pub mod header;
pub mod limits;
pub mod message;
pub mod scan;
pub mod sdp;
pub mod txn;
pub mod uri;

pub use error::{Diagnostic, Error, ErrorKind, Location, Result};
pub use limits::{Leniency, Limits, ParseOptions};
pub use scan::Span;
