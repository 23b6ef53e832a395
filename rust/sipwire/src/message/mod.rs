//! Framing, start line and the header index.
//!
//! [`MessageIndex`] is what a parse produces: the start line and one [`HeaderEntry`] per header
//! line, all as spans of the input, plus the body span and the diagnostics. It owns no input
//! bytes, so it can be stored next to the buffer it indexes (the Python binding keeps the
//! `bytes` object and the index). [`Message`] pairs the two and answers questions.

mod fields;
mod framing;
mod index;
mod names;
mod start_line;
mod validate;
mod view;

pub use fields::{CSeqSpans, Fields, NameAddrSpans, UriSpans, ViaSpans};
pub use framing::{frame_stream, resync_offset, Framed, Framing, StreamEvent, StreamFramer};
pub use index::{HeaderEntry, MessageIndex};
pub use names::HeaderName;
pub use start_line::StartLine;
pub use view::{unfold, HeaderValues, Message};
