//! Invariant: Via lists and header/URI params: never panic, offsets within the input, every accessor and iterator terminates.
//! (The body is `sipwire_fuzz::via_params`, so `cargo test` can replay inputs without libFuzzer.)
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipwire_fuzz::via_params(data));
