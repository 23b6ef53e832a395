//! Replays inputs through the fuzz target bodies without libFuzzer:
//! - always: every file under `regressions/<target>/` (the finds, kept as tests) and under
//!   `seeds/<target>/` (the kept corpus of the campaigns, `scripts/fuzz-campaign.sh`);
//! - with `SIPWIRE_FUZZ_CORPUS=1`: also `corpus/<target>/` (run `seed.sh` first);
//! - with `SIPWIRE_FUZZ_DIR=<dir>` and `SIPWIRE_FUZZ_TARGET=<name>`: that directory.
//!
//! `cargo test --no-default-features` (no C++ build, no nightly flags).

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// Runs every file of `dir` through `f`, naming the file when it panics.
fn replay(target: &str, f: fn(&[u8]), dir: &Path) -> usize {
    let list = files(dir);
    let mut failed = Vec::new();
    for p in &list {
        let data = std::fs::read(p).unwrap();
        if std::panic::catch_unwind(|| f(&data)).is_err() {
            failed.push(p.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} inputs fail: {failed:#?}",
        failed.len(),
        list.len()
    );
    list.len()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn regressions() {
    let mut n = 0;
    let mut bad = Vec::new();
    for (name, f) in sipwire_fuzz::TARGETS {
        let dir = root().join("regressions").join(name);
        match std::panic::catch_unwind(|| replay(name, *f, &dir)) {
            Ok(k) => n += k,
            Err(_) => bad.push(*name),
        }
    }
    println!("replayed {n} passing regression inputs");
    assert!(
        bad.is_empty(),
        "targets with failing regression inputs: {bad:?}"
    );
}

#[test]
fn seeds() {
    let mut n = 0;
    let mut bad = Vec::new();
    for (name, f) in sipwire_fuzz::TARGETS {
        let dir = root().join("seeds").join(name);
        match std::panic::catch_unwind(|| replay(name, *f, &dir)) {
            Ok(k) => n += k,
            Err(_) => bad.push(*name),
        }
    }
    println!("replayed {n} kept corpus inputs");
    assert!(bad.is_empty(), "targets with failing kept inputs: {bad:?}");
}

#[test]
fn corpus_when_asked() {
    if std::env::var_os("SIPWIRE_FUZZ_CORPUS").is_none() {
        return;
    }
    let mut bad = Vec::new();
    for (name, f) in sipwire_fuzz::TARGETS {
        let dir = root().join("corpus").join(name);
        match std::panic::catch_unwind(|| replay(name, *f, &dir)) {
            Ok(n) => println!("{name}: {n} corpus inputs"),
            Err(_) => bad.push(*name),
        }
    }
    assert!(
        bad.is_empty(),
        "targets with failing corpus inputs: {bad:?}"
    );
}

#[test]
fn dir_when_asked() {
    let (Some(dir), Some(target)) = (
        std::env::var_os("SIPWIRE_FUZZ_DIR"),
        std::env::var("SIPWIRE_FUZZ_TARGET").ok(),
    ) else {
        return;
    };
    let (name, f) = sipwire_fuzz::TARGETS
        .iter()
        .find(|(n, _)| *n == target)
        .unwrap_or_else(|| panic!("no target {target}"));
    let n = replay(name, *f, Path::new(&dir));
    println!("{name}: {n} inputs from {}", Path::new(&dir).display());
}
