//! Invariant: see `sipwire_fuzz::endpoint` (README.md lists every target's invariant).
//! (The body is `sipwire_fuzz::endpoint`, so `cargo test` can replay inputs without libFuzzer.)
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipwire_fuzz::endpoint(data));
