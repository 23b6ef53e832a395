//! Invariant: Uri::parse / parse_request_uri / Host::parse: never panic, error offsets within the input, accessors and uri_eq (reflexive) never panic.
//! (The body is `sipwire_fuzz::uri`, so `cargo test` can replay inputs without libFuzzer.)
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipwire_fuzz::uri(data));
