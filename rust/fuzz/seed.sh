#!/usr/bin/env bash
# Seeds rust/fuzz/corpus/<target>/ (git-ignored) from the torture corpora and the benchmark
# messages: RFC 4475 (*.dat), RFC 5118 (fixed/*.sip), benches/data/*.sip and *.sdp.
# Every target gets every file: each target reads what it needs from a whole message.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
targets=(message stream uri via_params digest sdp multipart roundtrip txn_dialog capture_file capture_packet endpoint correlator differential)
if [ "$#" -gt 0 ]; then targets=("$@"); fi
seeds=("$repo"/tests/data/rfc4475/*.dat "$repo"/tests/data/rfc5118/fixed/*.sip "$repo"/benches/data/*.sip "$repo"/benches/data/*.sdp)
# The capture targets start from the test captures (tests/capgen, written with the project's
# Python environment when it exists) rather than from SIP messages.
capgen() {
    local py="$repo/.venv/bin/python" out="$here/corpus/.captures"
    [ -x "$py" ] || return 0
    [ -d "$out" ] || (cd "$repo" && "$py" -m tests.capgen "$out" >/dev/null 2>&1) || return 0
    case "$1" in
    capture_file) cp -f "$out"/* "$here/corpus/capture_file/" 2>/dev/null ;;
    capture_packet) "$py" - "$out" "$here/corpus/capture_packet" <<'PY'
import struct, sys, pathlib
src, dst = map(pathlib.Path, sys.argv[1:])
links = [1, 113, 276, 101, 228, 229, 0, 108, 12, 14]
for f in sorted(src.glob("*.pcap")):
    d = f.read_bytes()
    if len(d) < 24 or d[:4] != b"\xd4\xc3\xb2\xa1":
        continue  # little-endian classic pcap only: enough frames to start from
    lt = struct.unpack_from("<I", d, 20)[0] & 0xFFFF
    if lt not in links:
        continue
    i, k = 24, 0
    while i + 16 <= len(d):
        n = struct.unpack_from("<I", d, i + 8)[0]
        (dst / f"{f.stem}-{k}").write_bytes(bytes([links.index(lt)]) + d[i + 16 : i + 16 + n])
        i, k = i + 16 + n, k + 1
PY
    ;;
    esac
}
for t in "${targets[@]}"; do
    mkdir -p "$here/corpus/$t"
    case "$t" in capture_*) capgen "$t"; continue ;; esac
    for f in "${seeds[@]}"; do
        [ -f "$f" ] || continue
        set_name="$(basename "$(dirname "$f")")"
        cp -f "$f" "$here/corpus/$t/seed-${set_name}-$(basename "$f")"
    done
done
# Targets that take a single header value or URI also get the values of the seed messages.
extract() { # header-regex target
    local re="$1" t="$2" n=0
    for f in "${seeds[@]}"; do
        [ -f "$f" ] || continue
        grep -aiE "$re" "$f" | sed -E 's/^[^:]*:[ \t]*//; s/\r$//' | while IFS= read -r v; do
            printf '%s' "$v" > "$here/corpus/$t/value-$(printf '%s' "$v" | cksum | cut -d' ' -f1)"
        done
    done
}
for t in "${targets[@]}"; do
    case "$t" in
    uri) extract '^(To|From|Contact|Route|Record-Route|[tfm])[ \t]*:' uri
         grep -ahoE '(sips?|tel):[^ >",]+' "${seeds[@]}" 2>/dev/null | sort -u | while IFS= read -r u; do
             printf '%s' "$u" > "$here/corpus/uri/uri-$(printf '%s' "$u" | cksum | cut -d' ' -f1)"
         done ;;
    via_params) extract '^(Via|v|Contact|m|Route|Record-Route)[ \t]*:' via_params ;;
    digest) extract '^(WWW-Authenticate|Proxy-Authenticate|Authorization|Proxy-Authorization|Authentication-Info)[ \t]*:' digest
            printf '%s' 'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"' > "$here/corpus/digest/rfc3261-credentials"
            printf '%s' 'Digest realm="atlanta.com", domain="sip:boxesbybob.com", qop="auth", nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5' > "$here/corpus/digest/rfc3261-challenge"
            printf '%s' 'nextnonce="47364c23432d2e131a5fb210812c", qop=auth, rspauth="e0a3", cnonce="0a4f113b", nc=00000001' > "$here/corpus/digest/auth-info" ;;
    esac
done
for t in "${targets[@]}"; do echo "$t: $(ls "$here/corpus/$t" | wc -l) seeds"; done
