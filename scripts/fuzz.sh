#!/usr/bin/env bash
# Runs sipwire's cargo-fuzz targets (rust/fuzz) for SECONDS each (default 60), all of them or
# the ones named, and prints executions per second and in total for each (libFuzzer's final
# stats). Crashes land in rust/fuzz/artifacts/<target>/; minimise one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz tmin --fuzz-dir rust/fuzz <target> <artifact>
# and keep it as rust/fuzz/regressions/<target>/<name> (replayed by `cargo test` there).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs: cargo-fuzz (`cargo install cargo-fuzz`), a C++ compiler (libfuzzer-sys builds
# libFuzzer), and either a nightly toolchain or RUSTC_BOOTSTRAP=1 with stable (set here).
# Env: FUZZ_ARGS (extra libFuzzer flags), SIPWIRE_FUZZ_ALLOW (known bugs to step over, see
# rust/fuzz/src/lib.rs; unset, the open finds of rust/fuzz/known-bugs), FUZZ_SANITIZER
# (default address; "none" runs about twice as fast). Each target starts from its kept corpus
# rust/fuzz/seeds/<target>/ (copied into the working corpus, never written back).
# The stateful targets (txn_dialog, endpoint, correlator) build without compare tracing, in
# rust/fuzz/target/notrace (rust/fuzz/README.md, "Speed").
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
fuzz="$root/rust/fuzz"
secs="${1:-60}"
[ "$#" -gt 0 ] && shift
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(message stream uri via_params digest sdp multipart roundtrip txn_dialog capture_file capture_packet endpoint correlator differential)
fi
export RUSTC_BOOTSTRAP=1 # cargo-fuzz passes -Z flags; stable rustc accepts them with this
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz missing: cargo install cargo-fuzz" >&2; exit 2; }
san="${FUZZ_SANITIZER:-address}"
cd "$root"
[ -d "$fuzz/corpus" ] || "$fuzz/seed.sh" "${targets[@]}" >/dev/null
mkdir -p "$fuzz/target"
# shellcheck source=scripts/fuzz-flags.sh
. "$root/scripts/fuzz-flags.sh"
cargo fuzz build --fuzz-dir rust/fuzz -O -s "$san" >/dev/null 2>"$fuzz/target/build.log" || {
    cat "$fuzz/target/build.log" >&2; exit 2; }
# A run of under a minute a target (CI's bounded run) is a smoke test: every target from the
# one build above. The stateful targets' own build (fuzz-flags.sh) is a second build of
# everything, longer than all of the short runs together; it pays on long runs only.
if [ "$secs" -lt 60 ]; then
    fuzz_flags() { :; }
fi
for t in "${targets[@]}"; do
    [ -n "$(fuzz_flags "$t")" ] || continue
    # shellcheck disable=SC2046
    cargo fuzz build --fuzz-dir rust/fuzz -O -s "$san" $(fuzz_flags "$t") "$t" >/dev/null \
        2>"$fuzz/target/build.log" || { cat "$fuzz/target/build.log" >&2; exit 2; }
done
mkdir -p "$fuzz/target/logs"
status=0
printf '%-12s %10s %14s %10s  %s\n' target secs executions exec/s result
for t in "${targets[@]}"; do
    mkdir -p "$fuzz/corpus/$t" "$fuzz/artifacts/$t"
    # Start from the kept corpus (rust/fuzz/seeds, minimised by scripts/fuzz-campaign.sh) so
    # that each bounded run adds to the search; nothing is written back to it here.
    cp -n "$fuzz/seeds/$t"/* "$fuzz/corpus/$t/" 2>/dev/null
    log="$fuzz/target/logs/$t.log"
    # shellcheck disable=SC2046,SC2086
    cargo fuzz run --fuzz-dir rust/fuzz -O -s "$san" $(fuzz_flags "$t") "$t" -- \
        -max_total_time="$secs" -dict="$fuzz/sip.dict" -print_final_stats=1 \
        -max_len=16384 -timeout=10 -rss_limit_mb=2048 ${FUZZ_ARGS:-} >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    result=ok
    if [ "$rc" -ne 0 ]; then
        status=1
        art=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -1 | sed 's/Test unit written to //')
        result="FAILED (rc $rc) ${art:-see $log}"
    fi
    printf '%-12s %10s %14s %10s  %s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" "$result"
done
exit "$status"
