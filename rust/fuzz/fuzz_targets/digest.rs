//! Invariant: Challenge / credentials / Authentication-Info: never panic, offsets within the input, every digest accessor reads.
//! (The body is `sipwire_fuzz::digest`, so `cargo test` can replay inputs without libFuzzer.)
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipwire_fuzz::digest(data));
