//! Invariant: Multipart bodies (with the boundary taken from the input): never panic, part spans inside the body, nesting bounded by the depth limit.
//! (The body is `sipwire_fuzz::multipart`, so `cargo test` can replay inputs without libFuzzer.)
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipwire_fuzz::multipart(data));
