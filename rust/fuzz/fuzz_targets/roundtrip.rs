//! Invariant: parse -> Editor with no change -> bytes equal the message's own bytes, and they parse to the same index.
//! (The body is `sipwire_fuzz::roundtrip`, so `cargo test` can replay inputs without libFuzzer.)
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipwire_fuzz::roundtrip(data));
