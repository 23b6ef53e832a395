//! Invariant: SDP: never panics, offsets within the body, a parsed description writes back byte for byte, every accessor and the offer/answer helpers run.
//! (The body is `sipwire_fuzz::sdp`, so `cargo test` can replay inputs without libFuzzer.)
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipwire_fuzz::sdp(data));
