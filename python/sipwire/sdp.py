"""SDP (RFC 8866): parse, answer, hold."""
