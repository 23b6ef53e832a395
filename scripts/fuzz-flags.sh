# Sourced by scripts/fuzz.sh and scripts/fuzz-campaign.sh: the extra `cargo fuzz` build flags
# of a target (printed; empty for most).
#
# The stateful targets drive whole layers from `arbitrary`-decoded operations, and the messages
# they feed are written by the driver from small value sets: compare tracing (cargo-fuzz's
# default) guides only the bytes of their raw datagrams, whose parser the byte targets fuzz
# with it, and it halves their speed under AddressSanitizer (rust/fuzz/README.md, "Speed").
# They build without it, in a target directory of their own: one directory for both flag
# sets would rebuild everything at every switch. `stream` too: it frames each input four times
# (strict and lenient, whole and in chunks), and on the inputs of a long run (kilobytes) the
# tracing of its byte loops took 62 % of its time; the parser it reaches is fuzzed with
# tracing by `message`, `roundtrip` and `differential`.
fuzz_flags() {
    case "$1" in
    txn_dialog | endpoint | correlator | stream) echo "--no-trace-compares --target-dir rust/fuzz/target/notrace" ;;
    esac
}

# AddressSanitizer's run-time options for every target. Fake stacks for stack-use-after-return
# cost the stateful targets about a tenth of their time, and a 30-frame stack recorded at every
# allocation and free another tenth; safe Rust cannot return a pointer to its stack, and a find
# is re-run for its allocation stacks (ASAN_OPTIONS=malloc_context_size=30, which wins: options
# given by the caller come last). rust/fuzz/README.md, "Speed", has the figures.
export ASAN_OPTIONS="malloc_context_size=0:detect_stack_use_after_return=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
