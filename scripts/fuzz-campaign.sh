#!/usr/bin/env bash
# A fuzzing campaign: each target in turn (one core at a time) for SECONDS, starting from the
# kept corpus rust/fuzz/seeds/<target>/; then `cargo fuzz cmin` of what it found back into
# that kept corpus (capped at SIPWIRE_SEEDS_KB, default 300 KB a target), line coverage of the
# kept corpus (`cargo fuzz coverage` + llvm-cov), and one row per target appended to the
# ledger in rust/fuzz/README.md, whose totals table is recomputed (hours add up across runs).
#
#   scripts/fuzz-campaign.sh [--time SECONDS] [--no-coverage] [TARGET...]   (default: every target, 600 s)
#
# A find stops that target's run: its input is in rust/fuzz/artifacts/<target>/ and the ledger
# row says so; minimise it (cargo fuzz tmin) and keep it in rust/fuzz/regressions/<target>/.
# Needs cargo-fuzz, a nightly toolchain with llvm-tools (`rustup component add
# llvm-tools-preview --toolchain nightly`) for coverage, and python3 for the ledger.
# Env: FUZZ_ARGS (extra libFuzzer flags), SIPWIRE_FUZZ_ALLOW (unset: the open finds of
# rust/fuzz/known-bugs are stepped over, so the search goes on). Builds use one job, like the
# runs: the machine is shared.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
fuzz="$root/rust/fuzz"
secs=600
coverage=1
targets=()
while [ "$#" -gt 0 ]; do
    case "$1" in
    --time) secs="$2"; shift 2 ;;
    --no-coverage) coverage=0; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
    esac
done
if [ "${#targets[@]}" -eq 0 ]; then
    # Every [[bin]] of rust/fuzz/Cargo.toml.
    mapfile -t targets < <(awk '/^\[\[bin\]\]/{b=1; next} b && /^name = /{gsub(/"/, "", $3); print $3; b=0}' "$fuzz/Cargo.toml")
fi
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
budget_kb="${SIPWIRE_SEEDS_KB:-300}"
cd "$root"
mkdir -p "$fuzz/target/logs"
cargo fuzz build --fuzz-dir rust/fuzz -O -s address >"$fuzz/target/logs/build.log" 2>&1 || {
    tail -30 "$fuzz/target/logs/build.log" >&2; exit 2; }

llvm_bin="$(rustc +nightly --print sysroot 2>/dev/null)/lib/rustlib/x86_64-unknown-linux-gnu/bin"
triple=x86_64-unknown-linux-gnu
if [ "$coverage" = 1 ] && [ ! -x "$llvm_bin/llvm-cov" ]; then
    echo "no llvm-cov in $llvm_bin: rustup component add llvm-tools-preview --toolchain nightly" >&2
    coverage=0
fi

# Line coverage of the kept corpus: "total parser framing txn dialog" (percent, or "-").
cover() {
    local t="$1" log="$fuzz/target/logs/$t.coverage.log"
    [ "$coverage" = 1 ] || { echo "- - - - -"; return; }
    cargo +nightly fuzz coverage --fuzz-dir rust/fuzz "$t" "$fuzz/seeds/$t" >"$log" 2>&1 || {
        echo "- - - - -"; return; }
    # cargo-fuzz puts the coverage build in the workspace's target directory.
    local bin
    bin=$(ls -t "$root"/target/$triple/coverage/$triple/release/"$t" \
        "$fuzz"/target/$triple/coverage/$triple/release/"$t" 2>/dev/null | head -1)
    [ -n "$bin" ] || { echo "- - - - -"; return; }
    "$llvm_bin/llvm-cov" report "$bin" -instr-profile="$fuzz/coverage/$t/coverage.profdata" \
        -ignore-filename-regex='/(\.cargo|\.rustup|rustc)/|/rust/fuzz/' 2>>"$log" |
        python3 "$root/scripts/fuzz-ledger.py" modules
}

for t in "${targets[@]}"; do
    work="$fuzz/corpus/$t"
    mkdir -p "$work" "$fuzz/seeds/$t" "$fuzz/artifacts/$t"
    [ -n "$(ls -A "$work")" ] || "$fuzz/seed.sh" "$t" >/dev/null
    cp -n "$fuzz/seeds/$t"/* "$work/" 2>/dev/null
    log="$fuzz/target/logs/$t.campaign.log"
    echo "$(date -u +%H:%M:%S) $t: ${secs} s from $(ls "$work" | wc -l) inputs" >&2
    # The ledger's seconds are the CPU time the run got (user + sys of cargo and the fuzzer,
    # from bash's `time`), not the wall clock: on a shared machine a run gets less than its
    # wall time, and exec/s is inputs per CPU second.
    TIMEFORMAT='%U %S'
    # shellcheck disable=SC2086
    { time cargo fuzz run --fuzz-dir rust/fuzz -O -s address "$t" "$work" -- \
        -max_total_time="$secs" -dict="$fuzz/sip.dict" -print_final_stats=1 \
        -max_len=16384 -timeout=10 -rss_limit_mb=2048 ${FUZZ_ARGS:-} >"$log" 2>&1; } \
        2>"$log.cpu"
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    ran=$(awk 'NF == 2 {printf "%d", $1 + $2 + 0.5}' "$log.cpu")
    rate=$(( execs && ran ? execs / ran : 0 ))
    finds=0
    if [ "$rc" -ne 0 ]; then
        finds=1
        art=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -1 | sed 's/Test unit written to //')
        echo "$t: FIND (rc $rc): ${art:-see $log}" >&2
    fi
    # Minimise what this run (and every earlier one) found into the kept corpus.
    cargo fuzz cmin --fuzz-dir rust/fuzz -O -s address "$t" "$work" -- -max_len=16384 \
        >"$fuzz/target/logs/$t.cmin.log" 2>&1
    rm -rf "$fuzz/seeds/$t.new" && mkdir -p "$fuzz/seeds/$t.new"
    # Keep the smallest inputs first, up to the budget.
    total=0
    while IFS= read -r f; do
        sz=$(stat -c %s "$f")
        [ $(( (total + sz) / 1024 )) -ge "$budget_kb" ] && break
        cp "$f" "$fuzz/seeds/$t.new/$(sha1sum "$f" | cut -c1-16)"
        total=$(( total + sz ))
    done < <(find "$work" -type f -printf '%s %p\n' | sort -n | cut -d' ' -f2-)
    if [ -n "$(ls -A "$fuzz/seeds/$t.new")" ]; then
        rm -rf "$fuzz/seeds/$t" && mv "$fuzz/seeds/$t.new" "$fuzz/seeds/$t"
    else
        rm -rf "$fuzz/seeds/$t.new"
    fi
    files=$(ls "$fuzz/seeds/$t" | wc -l)
    kb=$(du -sk --apparent-size "$fuzz/seeds/$t" | cut -f1)
    read -r cov_total cov_parser cov_framing cov_txn cov_dialog < <(cover "$t")
    # Two campaigns may run at once (one a core, on different targets): one writer at a time.
    flock "$fuzz/target/ledger.lock" python3 "$root/scripts/fuzz-ledger.py" append "$fuzz/README.md" \
        "$(date -u +%Y-%m-%d)" "$t" "${ran:-$secs}" "${execs:-0}" "${rate:-0}" "$finds" \
        "$files files, $kb KB" "$cov_total" "$cov_parser" "$cov_framing" "$cov_txn" "$cov_dialog"
    echo "$(date -u +%H:%M:%S) $t: ${execs:-?} inputs, ${rate:-?}/s, finds $finds, kept $files ($kb KB), lines $cov_total" >&2
done
