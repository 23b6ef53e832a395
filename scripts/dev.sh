#!/usr/bin/env bash
# sipwire's developer entry point.
#   scripts/dev.sh setup   fresh venv in .venv, build the extension, run `sipwire analyze` on the
#                          bundled capture
#   scripts/dev.sh test    every test: Rust (fmt, clippy, doc links, unit, integration, fuzz finds replayed, a
#                          bounded fuzz run of every target), Python (ruff, mypy,
#                          stubtest, pytest)
#   scripts/dev.sh bench   the benchmark suites (never part of `test`): criterion, pytest-benchmark
#                          (JSON in benches/results/, the plot benches/time_per_message.png), memory
#   scripts/dev.sh wheel   manylinux2014 wheels for every CPython 3.9-3.13 found, and the sdist, in dist/;
#                          profile-guided (scripts/pgo_train.py) unless SIPWIRE_PGO=0
#   scripts/dev.sh docs    the documentation site (mkdocs, warnings are errors) in site/
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SIPWIRE_VENV:-.venv}
PY="$VENV/bin/python"

# Each step with the seconds since the command started: CI's log shows where its time goes.
step() { printf '\n== %s  [%d s]\n' "$*" "$SECONDS"; }

# Installs a real peer from its Debian package when its command is missing.
peer() {
    local cmd=$1 package=$2
    if command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ]; then
        echo "$cmd found: $(command -v "$cmd" || echo "/usr/sbin/$cmd")"
    elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "$cmd missing: apt-get install -y $package (apt-get update first if that fails)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq "$package" || { apt-get update -qq && apt-get install -y -qq "$package"; }
    else
        echo "$cmd missing: install the Debian package $package (needs root and apt-get);" \
            "the interop tests skip without it, and fail in CI" >&2
    fi
}

setup() {
    step "real peers: SIPp (Debian package sip-tester), Kamailio (kamailio)"
    peer sipp sip-tester
    peer kamailio kamailio
    step "capture tests: tshark (the oracle, Debian 12 has 4.0), tcpdump (captures of real traffic)"
    # tshark's package asks whether non-root users may capture; DEBIAN_FRONTEND=noninteractive
    # (set by peer) takes the default answer, no.
    peer tshark tshark
    peer tcpdump tcpdump
    step "the HTML report's browser test: chromium (headless)"
    peer chromium chromium
    step "the Spark engine's tests: Java 17 (Debian's openjdk-17-jre-headless)"
    peer java openjdk-17-jre-headless
    step "cargo-fuzz (the bounded fuzz run of scripts/dev.sh test)"
    if command -v cargo-fuzz >/dev/null 2>&1; then
        echo "cargo-fuzz found: $(command -v cargo-fuzz)"
    else
        cargo install --locked --quiet cargo-fuzz
    fi
    step "python environment ($VENV)"
    if [ ! -x "$PY" ]; then
        python3 -m venv "$VENV"
    fi
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet "maturin>=1.5,<2" "pytest>=7" "hypothesis>=6.100" "mypy>=1.10" "ruff>=0.5" "uvloop>=0.19" \
        "scapy>=2.5" "pyarrow>=15" "polars>=1.0" "duckdb>=1.1" "zstandard>=0.22"
    step "distributed engines (sipwire[ray], [spark], [dask]): their tests run in local mode"
    "$PY" -m pip install --quiet "ray[data]>=2.9,<3" "pyspark>=4.0,<5" "dask[dataframe]>=2024.1"
    step "wheels and docs: zig (manylinux linking), auditwheel, mkdocs; chromium checks the pages"
    "$PY" -m pip install --quiet "ziglang<1" "auditwheel>=6" "mkdocs>=1.6,<2" "mkdocs-material>=9.5,<10" \
        "mkdocstrings[python]>=0.26"
    step "build and install sipwire (release)"
    # maturin develop installs into the active virtualenv.
    VIRTUAL_ENV="$PWD/$VENV" PATH="$PWD/$VENV/bin:$PATH" "$VENV/bin/maturin" develop --release --quiet
    step "main job on the bundled example: sipwire analyze examples/calls.pcapng"
    "$VENV/bin/sipwire" analyze examples/calls.pcapng
}

test_all() {
    [ -x "$PY" ] || { echo "run 'scripts/dev.sh setup' first" >&2; exit 2; }
    step "rust: fmt"
    cargo fmt --all -- --check
    step "rust: clippy"
    cargo clippy --workspace --all-targets --quiet -- -D warnings
    step "rust: docs (links resolve)"
    RUSTDOCFLAGS="-D warnings" cargo doc -p sipwire -p sipwire-capture -p sipwire-py --no-deps --quiet
    step "rust: tests"
    cargo test -p sipwire -p sipwire-capture --quiet
    step "rust: fuzz finds, replayed (rust/fuzz/regressions, no libFuzzer needed)"
    cargo fmt --manifest-path rust/fuzz/Cargo.toml -- --check
    cargo test --manifest-path rust/fuzz/Cargo.toml --no-default-features --quiet
    step "rust: bounded fuzz run, ${SIPWIRE_FUZZ_SECONDS:-10} s per target (scripts/fuzz.sh)"
    if command -v cargo-fuzz >/dev/null 2>&1; then
        scripts/fuzz.sh "${SIPWIRE_FUZZ_SECONDS:-10}"
    elif [ -n "${CI:-}" ]; then
        echo "cargo-fuzz missing in CI: scripts/dev.sh setup installs it" >&2
        exit 1
    else
        echo "skipped: cargo-fuzz missing (scripts/dev.sh setup installs it)"
    fi
    step "python: ruff"
    "$VENV/bin/ruff" check python tests benches examples scripts docs
    "$VENV/bin/ruff" format --check python tests benches examples scripts docs
    step "python: mypy (strict)"
    "$VENV/bin/mypy" python/sipwire
    step "python: stubtest"
    "$PY" -m mypy.stubtest sipwire._sipwire --allowlist tests/stubtest_allowlist.txt
    step "python: pytest"
    # The slowest tests are listed at the end, to keep an eye on CI's time.
    "$PY" -m pytest -q -p no:cacheprovider --durations=15 tests
}

bench() {
    [ -x "$PY" ] || { echo "run 'scripts/dev.sh setup' first" >&2; exit 2; }
    "$PY" -m pip install --quiet "pytest-benchmark>=4" sippy sipmessage dpkt sdp-transform aiosipua matplotlib
    # libosip2 for the Rust parse bench (benches/rust/osip); the bench runs without it, and says so.
    if [ ! -f /usr/include/osipparser2/osip_parser.h ] && [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libosip2-dev ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libosip2-dev; }
    fi
    step "criterion (Rust): parse"
    cargo bench -p sipwire --bench parse -- --noplot
    step "criterion (Rust): transactions and the correlator"
    cargo bench -p sipwire --bench txn -- --noplot
    step "pytest-benchmark (Python)"
    mkdir -p benches/results
    "$PY" -m pytest -q -p no:cacheprovider benches --benchmark-only --benchmark-columns=min,median,mean,ops,rounds \
        --benchmark-json=benches/results/pytest-benchmark.json
    step "plot: benches/time_per_message.png"
    "$PY" benches/plot.py benches/results/pytest-benchmark.json -o benches/time_per_message.png \
        --summary benches/results/pytest-benchmark-summary.json
    step "memory (benches/memory.py)"
    "$PY" benches/memory.py --json benches/results/memory.json
}

# Every CPython 3.9-3.13 on this machine: under pyenv (PYENV_ROOT or ~/.pyenv), else on PATH;
# each one checked to run and to be that version (a pyenv shim for a version not selected fails).
interpreters() {
    local v c
    for v in 3.9 3.10 3.11 3.12 3.13; do
        for c in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v" 2>/dev/null | sort -rV) \
            $(command -v "python$v" 2>/dev/null); do
            if [ "$("$c" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$v" ]; then
                echo "$c"
                break
            fi
        done
    done
    return 0
}

# Profile-guided optimisation of the wheels: the extension is built instrumented
# (-Cprofile-generate), runs scripts/pgo_train.py (parse, fields, SDP, correlator, captures and
# reports, user agent, load engine), and the wheels are compiled with what that measured. Prints
# the merged profile's path; says why and fails when it cannot make one (no llvm-profdata).
pgo_profile() {
    local dir tools bin host
    dir="$PWD/target/pgo"
    bin=$(cd "$VENV/bin" && pwd)
    host=$(rustc -vV | sed -n 's/^host: //p')
    tools="$(rustc --print sysroot)/lib/rustlib/$host/bin"
    if [ ! -x "$tools/llvm-profdata" ] && command -v rustup >/dev/null 2>&1; then
        rustup component add llvm-tools >&2 || true
    fi
    if [ ! -x "$tools/llvm-profdata" ]; then
        echo "no llvm-profdata for this rustc (rustup component add llvm-tools)" >&2
        return 1
    fi
    rm -rf "$dir"
    mkdir -p "$dir/raw"
    step "profile-guided optimisation: instrumented build, then scripts/pgo_train.py" >&2
    # For the explicit target the wheels' zig build passes: the symbol names the profile is
    # keyed by depend on it (zig itself cannot link the profiler's runtime, so not with zig).
    # Its own target directory: the development build's stays as it is.
    RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-Cprofile-generate=$dir/raw" \
        CARGO_TARGET_DIR=target/pgo-generate "$bin/maturin" build --release --target "$host" \
        --interpreter "$PY" --out "$dir/wheel" >&2 || return 1
    # Only the training's counts: not those of the build scripts and macros the build ran.
    rm -f "$dir"/raw/*.profraw
    "$PY" -m venv "$dir/venv" >&2 || return 1
    # The training reads tables through pyarrow: the development environment's packages come
    # after the instrumented wheel's.
    "$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >"$("$dir/venv/bin/python" \
        -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/sipwire-dev.pth"
    "$dir/venv/bin/python" -m pip install --quiet --no-deps "$dir"/wheel/*.whl >&2 || return 1
    "$dir/venv/bin/python" scripts/pgo_train.py >&2 || return 1
    "$tools/llvm-profdata" merge -o "$dir/merged.profdata" "$dir"/raw/*.profraw >&2 || return 1
    echo "$dir/merged.profdata"
}

wheel() {
    [ -x "$PY" ] || { echo "run 'scripts/dev.sh setup' first" >&2; exit 2; }
    "$PY" -m pip install --quiet "maturin>=1.5,<2" "ziglang<1" "auditwheel>=6"
    mapfile -t found < <(interpreters)
    [ "${#found[@]}" -gt 0 ] || { echo "no CPython 3.9-3.13 found" >&2; exit 1; }
    local bin profile flags="" target=target
    bin=$(cd "$VENV/bin" && pwd) # maturin finds zig as `python -m ziglang`, the venv's python
    if [ "${SIPWIRE_PGO:-1}" = 0 ]; then
        echo "SIPWIRE_PGO=0: wheels without profile-guided optimisation"
    elif profile=$(pgo_profile); then
        flags="-Cprofile-use=$profile"
        target=target/pgo-use
    else
        echo "wheels without profile-guided optimisation (SIPWIRE_PGO=0 says so up front)" >&2
    fi
    step "wheels (manylinux2014, linked by zig${flags:+, profile-guided}) for: ${found[*]}"
    mkdir -p dist
    # zig links against glibc 2.17, so the wheels load on any manylinux2014 system.
    # The caller's own RUSTFLAGS, if any, are kept.
    PATH="$bin:$PATH" RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }$flags" CARGO_TARGET_DIR="$target" \
        "$bin/maturin" build --release \
        --zig --compatibility manylinux2014 --out dist --interpreter "${found[@]}"
    step "sdist"
    PATH="$bin:$PATH" "$bin/maturin" sdist --out dist
    step "auditwheel show"
    for w in dist/*.whl; do
        printf '%s: ' "$(basename "$w")"
        "$VENV/bin/auditwheel" show "$w" | tr -s ' \n' ' ' | grep -o 'platform tag: "[^"]*"' | head -1
    done
    ls -l dist
}

docs() {
    [ -x "$PY" ] || { echo "run 'scripts/dev.sh setup' first" >&2; exit 2; }
    step "docs: mkdocs build --strict (site/)"
    local bin
    bin=$(cd "$VENV/bin" && pwd)
    PATH="$bin:$PATH" "$bin/python" docs/build.py
}

case "${1:-}" in
    setup) setup ;;
    test) test_all ;;
    bench) bench ;;
    wheel) wheel ;;
    docs) docs ;;
    *) echo "usage: scripts/dev.sh setup|test|bench|wheel|docs" >&2; exit 2 ;;
esac
