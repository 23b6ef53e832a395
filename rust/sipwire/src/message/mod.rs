//! Framing, start line, header index.
