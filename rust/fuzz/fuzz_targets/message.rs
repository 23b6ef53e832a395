//! Invariant: Whole message, strict and lenient, lazy and validated: never panics, every span and error offset lies inside the input, validate() agrees with check_typed(), and every typed header reads without panicking.
//! (The body is `sipwire_fuzz::message`, so `cargo test` can replay inputs without libFuzzer.)
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipwire_fuzz::message(data));
