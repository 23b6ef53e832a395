//! Invariant: see `sipwire_fuzz::correlator` (README.md lists every target's invariant).
//! (The body is `sipwire_fuzz::correlator`, so `cargo test` can replay inputs without libFuzzer.)
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipwire_fuzz::correlator(data));
