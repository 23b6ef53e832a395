//! Invariant: see `sipwire_fuzz::capture_packet` (the body is there, so `cargo test` can replay inputs without libFuzzer).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipwire_fuzz::capture_packet(data));
