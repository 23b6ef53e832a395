//! Session descriptions (RFC 8866).
