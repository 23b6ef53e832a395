//! Invariant: Stream framing with pseudo-random chunking (seeded by the input) frames the same messages and errors as feeding the stream at once.
//! (The body is `sipwire_fuzz::stream`, so `cargo test` can replay inputs without libFuzzer.)
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipwire_fuzz::stream(data));
