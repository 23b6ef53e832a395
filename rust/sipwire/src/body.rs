//! Multipart bodies (RFC 5621).
