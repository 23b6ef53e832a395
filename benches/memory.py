"""Memory: what a parsed message costs while it is kept, and the peak when parsing a capture.

    .venv/bin/python benches/memory.py [--kept 5000] [--capture 100000] [--json FILE]

Not a pytest file: ``scripts/dev.sh bench`` runs it after the pytest-benchmark suites. Every
measurement runs in a fresh interpreter (this script with ``--child``), so one library's heap
never shows in another's figure. Linux only (``/proc/self/statm``, ``/proc/self/status``,
``/proc/self/clear_refs``, glibc's ``mallinfo2``).

**Bytes per kept message**: ``--kept`` distinct copies of the message are made first (their
bytes are not counted, for anyone), then each is parsed and every result kept in a list; the
growth divided by the count. Twice: right after the parse, and after reading the eight fields of
the parse bench (a lazy parser pays for a field when it is first read, and may cache it). Three
figures, each from its own pass:

- *RSS*: resident memory growth: everything (Python objects, Rust heap, allocator overhead and
  fragmentation). The figure to size a process by.
- *Python heap*: ``tracemalloc``: every allocation through Python's allocators (objects and
  buffers), exact sizes. Blind to sipwire's Rust heap (the header index), which uses malloc.
- *C heap*: glibc ``mallinfo2`` (in-use bytes) growth: malloc'd memory: sipwire's Rust heap, and
  Python objects over 512 B (pymalloc hands those to malloc, so they are also in *Python heap*).

**Peak for a capture**: ``--capture`` SIPp-like messages (``capture.py``) are written to a file
(4-byte length + message per record). Each library then reads the file and counts messages by
method or status, in fresh interpreters: *one by one* (read a record, parse, count, drop) and
*all kept* (read the whole file, parse every message, keep them all, then count). sipwire also
with ``parse_batch``: in chunks of 1000 records, and on the whole capture. Reported: the peak RSS
growth (the peak RSS, ``VmHWM``, reset to the current RSS just before parsing, minus that RSS)
and the throughput. The counts
must be the same for every library.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from capture import capture, read_records, split_records, write_records  # noqa: E402
from conftest import EXPECTED_FIELDS  # noqa: E402
from test_bench_parse import _normalize, _param, sipwire_msg_fields  # noqa: E402

SIZES = ("bye", "invite_1k", "invite_4k")
LIBRARIES = ("sipwire", "sippy", "sipmessage", "dpkt", "aiosipua")
CHUNK = 1000

# --- what each library does: parse, read the eight fields, key a message for the counts ------


def _sipwire() -> tuple[Callable[[bytes], Any], Callable[[Any], Any], Callable[[Any], Any]]:
    import sipwire

    def key(m: Any) -> Any:
        return m.method if isinstance(m, sipwire.Request) else m.status

    return sipwire.parse, sipwire_msg_fields, key


def _sippy() -> tuple[Callable[[bytes], Any], Callable[[Any], Any], Callable[[Any], Any]]:
    from sippy.SipRequest import SipRequest
    from sippy.SipResponse import SipResponse

    def parse(data: bytes) -> Any:
        s = data.decode()
        return SipResponse(buf=s) if s.startswith("SIP/2.0 ") else SipRequest(buf=s)

    def fields(m: Any) -> Any:
        c = m.getHFBody("cseq")
        return (
            m.getMethod(),
            m.getRURI(),
            m.getHFBody("call-id").body,
            c.cseq,
            c.method,
            m.getHFBody("from").getTag(),
            m.getHFBody("to").getTag(),
            m.getHFBody("via").getBranch(),
            m._SipMsg__content_length.getBody().number,
        )

    def key(m: Any) -> Any:
        return m.getSCode()[0] if isinstance(m, SipResponse) else m.getMethod()

    return parse, fields, key


def _sipmessage() -> tuple[Callable[[bytes], Any], Callable[[Any], Any], Callable[[Any], Any]]:
    import sipmessage

    def fields(m: Any) -> Any:
        c = m.cseq
        return (
            m.method,
            m.uri,
            m.call_id,
            c.sequence,
            c.method,
            m.from_address.parameters.get("tag"),
            m.to_address.parameters.get("tag"),
            m.via[0].parameters.get("branch"),
            m.content_length,
        )

    def key(m: Any) -> Any:
        return m.method if isinstance(m, sipmessage.Request) else m.code

    return sipmessage.Message.parse, fields, key


def _dpkt() -> tuple[Callable[[bytes], Any], Callable[[Any], Any], Callable[[Any], Any]]:
    import dpkt

    def parse(data: bytes) -> Any:
        return dpkt.sip.Response(data) if data.startswith(b"SIP/2.0 ") else dpkt.sip.Request(data)

    def fields(m: Any) -> Any:
        h = m.headers
        via = h["via"]
        cseq_num, cseq_method = h["cseq"].split()
        return (
            m.method,
            m.uri,
            h["call-id"],
            int(cseq_num),
            cseq_method,
            _param(h["from"], "tag"),
            _param(h["to"], "tag"),
            _param(via[0] if isinstance(via, list) else via, "branch"),
            int(h["content-length"]),
        )

    def key(m: Any) -> Any:
        return int(m.status) if isinstance(m, dpkt.sip.Response) else m.method

    return parse, fields, key


def _aiosipua() -> tuple[Callable[[bytes], Any], Callable[[Any], Any], Callable[[Any], Any]]:
    from aiosipua import SipMessage, SipRequest

    def fields(m: Any) -> Any:
        c = m.cseq
        return (
            m.method,
            m.uri,
            m.call_id,
            c.seq,
            c.method,
            m.from_addr.tag,
            m.to_addr.tag,
            m.via[0].branch,
            m.content_length,
        )

    def key(m: Any) -> Any:
        return m.method if isinstance(m, SipRequest) else m.status_code

    return SipMessage.parse, fields, key


LIBS = {
    "sipwire": _sipwire,
    "sippy": _sippy,
    "sipmessage": _sipmessage,
    "dpkt": _dpkt,
    "aiosipua": _aiosipua,
}

# --- process memory --------------------------------------------------------------------------


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (n, ctypes.c_size_t)
        for n in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _mallinfo() -> Callable[[], int] | None:
    try:
        f = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return None
    f.restype = _MallInfo2

    def in_use() -> int:
        m = f()
        return int(m.uordblks + m.hblkhd)

    return in_use


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """The process's peak RSS (VmHWM). Not ``ru_maxrss``: Linux carries that over from the
    parent across fork and exec, so a child would report its parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_peak_rss() -> bool:
    """Sets the peak RSS to the current RSS (Linux >= 4.0); False where that is refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


# --- the children ----------------------------------------------------------------------------


def child_kept(lib: str, size: str, n: int, read_fields: bool) -> dict[str, Any]:
    parse, fields, _key = LIBS[lib]()
    data = (HERE / "data" / f"{size}.sip").read_bytes()
    inputs = [bytes(bytearray(data)) for _ in range(n)]
    malloc_in_use = _mallinfo()

    def run() -> list[Any]:
        kept = [parse(x) for x in inputs]
        if read_fields:
            for m in kept:
                fields(m)
        return kept

    # Warm up on a few messages only (imports, caches, interned names): a full warm-up run
    # would leave freed memory in the allocators for the measured run to reuse unseen.
    warm = parse(data)
    got = _normalize(fields(warm))  # the fields this library reads are the right ones
    assert got == EXPECTED_FIELDS[size], f"{lib} read {got} from {size}"
    for _ in range(10):
        fields(parse(data))
    del warm
    gc.collect()
    r0, c0 = rss(), malloc_in_use() if malloc_in_use else 0
    kept = run()
    gc.collect()
    r1, c1 = rss(), malloc_in_use() if malloc_in_use else 0
    del kept
    gc.collect()
    tracemalloc.start()
    t0 = tracemalloc.get_traced_memory()[0]
    kept = run()
    gc.collect()
    t1 = tracemalloc.get_traced_memory()[0]
    del kept
    tracemalloc.stop()
    return {
        "rss": (r1 - r0) / n,
        "python": (t1 - t0) / n,
        "c": (c1 - c0) / n if malloc_in_use else None,
        "bytes": len(data),
    }


def child_peak(lib: str, mode: str, path: str) -> dict[str, Any]:
    parse, _fields, key = LIBS[lib]()
    counts: dict[str, int] = {}

    def count(m: Any) -> None:
        k = str(key(m))
        counts[k] = counts.get(k, 0) + 1

    with open(path, "rb") as f:
        first = next(read_records(f))  # warm: one parse before the baseline (imports, caches)
        key(parse(first))
        f.seek(0)
        gc.collect()
        base = rss()
        reset = reset_peak_rss()
        t = time.perf_counter()
        messages = 0
        if mode == "one by one":
            for rec in read_records(f):
                count(parse(rec))
                messages += 1
        elif mode == "parse_batch, chunks of 1000":
            import sipwire

            recs = read_records(f)
            while True:
                chunk = [r for _, r in zip(range(CHUNK), recs)]
                if not chunk:
                    break
                for m in sipwire.parse_batch(chunk):
                    count(m)
                messages += len(chunk)
        elif mode == "all kept":
            kept = [parse(r) for r in split_records(f.read())]
            for m in kept:
                count(m)
            messages = len(kept)
        elif mode == "parse_batch, all kept":
            import sipwire

            kept = sipwire.parse_batch(split_records(f.read()))
            for m in kept:
                count(m)
            messages = len(kept)
        else:
            raise ValueError(mode)
        seconds = time.perf_counter() - t
        peak = peak_rss()
    return {
        "peak_reset": reset,
        "messages": messages,
        "seconds": seconds,
        "peak_growth": peak - base,
        "peak": peak,
        "counts": counts,
    }


# --- the parent ------------------------------------------------------------------------------


def _run_child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _available(lib: str) -> bool:
    try:
        LIBS[lib]()
    except ImportError:
        return False
    return True


def _kib(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kept", type=int, default=5000, help="messages kept per measurement")
    ap.add_argument("--capture", type=int, default=100_000, help="messages in the capture")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "kept":
            lib, size, n, read_fields = rest
            r = child_kept(lib, size, int(n), read_fields == "1")
        else:
            lib, mode, path = rest
            r = child_peak(lib, mode, path)
        print(json.dumps(r))
        return

    libs = [lib for lib in LIBRARIES if _available(lib)]
    missing = sorted(set(LIBRARIES) - set(libs))
    if missing:
        print(f"not installed, left out: {', '.join(missing)} (pip install -e .[bench])")
    results: dict[str, Any] = {"kept": {}, "peak": {}}

    print(f"\n## Bytes per kept message ({args.kept} kept; the input bytes are not counted)\n")
    print(
        "| message | library | RSS | Python heap | C heap "
        "| RSS, fields read | Python heap, fields read | C heap, fields read |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in SIZES:
        for lib in libs:
            parsed = _run_child("kept", lib, size, str(args.kept), "0")
            read = _run_child("kept", lib, size, str(args.kept), "1")
            results["kept"][f"{size}/{lib}"] = {"parsed": parsed, "fields": read}
            cells = [_kib(parsed[k]) for k in ("rss", "python", "c")]
            cells += [_kib(read[k]) for k in ("rss", "python", "c")]
            print(f"| {size} ({parsed['bytes']} B) | {lib} | " + " | ".join(cells) + " |")
            sys.stdout.flush()

    with tempfile.TemporaryDirectory(prefix="sipwire-bench-") as tmp:
        path = os.path.join(tmp, "capture.bin")
        calls = -(-args.capture // 7)
        msgs = [p[3] for p in capture(calls)][: args.capture]
        with open(path, "wb") as f:
            size_on_disk = write_records(f, msgs)
        del msgs
        print(
            f"\n## Peak memory parsing a capture: {args.capture} messages "
            f"({size_on_disk / 1e6:.1f} MB file, SIPp-like calls)\n"
        )
        print("| library | mode | peak RSS growth (MB) | peak RSS (MB) | messages/s |")
        print("| --- | --- | ---: | ---: | ---: |")
        runs = [
            ("sipwire", "one by one"),
            ("sipwire", "parse_batch, chunks of 1000"),
            ("sipwire", "all kept"),
            ("sipwire", "parse_batch, all kept"),
        ]
        runs += [(lib, mode) for lib in libs[1:] for mode in ("one by one", "all kept")]
        counts = None
        for lib, mode in runs:
            r = _run_child("peak", lib, mode, path)
            results["peak"][f"{lib}/{mode}"] = r
            if counts is None:
                counts = r["counts"]
            assert r["counts"] == counts, f"{lib} {mode} counted {r['counts']}, not {counts}"
            assert r["messages"] == args.capture
            if not r["peak_reset"]:
                print("(the peak RSS could not be reset: the next figure includes start-up)")
            print(
                f"| {lib} | {mode} | {r['peak_growth'] / 1e6:,.1f} | {r['peak'] / 1e6:,.1f} "
                f"| {r['messages'] / r['seconds']:,.0f} |"
            )
            sys.stdout.flush()
        print(f"\ncounts (every library): {json.dumps(counts, sort_keys=True)}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
