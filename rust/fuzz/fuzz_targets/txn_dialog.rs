//! Invariant: A sequence of received/sent messages, responses, cancels and ticks through TransactionLayer + Dialogs: never panics, tables stay within their bounds, and after a long idle tick only transactions that wait for their user remain.
//! (The body is `sipwire_fuzz::txn_dialog`, so `cargo test` can replay inputs without libFuzzer.)
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sipwire_fuzz::txn_dialog(data));
