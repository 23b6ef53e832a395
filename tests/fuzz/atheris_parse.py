"""Fuzzes the Python binding: only documented exceptions may escape.

Invariant: for any bytes, ``sipwire.parse`` (strict and lenient, lazy and ``validate=True``),
reading every attribute of the message and of what it holds (URIs, Vias, name-addrs, CSeq,
headers, diagnostics, SDP), ``msg.validate()``, ``bytes(msg)``, ``sipwire.sdp.parse`` and a
``StreamParser`` fed the bytes in pseudo-random chunks raise nothing but ``sipwire.ParseError``
(never ``PanicException``, ``SystemError`` or anything else), and every ``ParseError.offset``
lies within the input (DESIGN.md §3 points 5-6, §4).

Not a pytest module (no ``test_`` prefix). Two ways to run it:

    python tests/fuzz/atheris_parse.py [CORPUS_DIR ...] [libFuzzer flags, e.g. -max_total_time=300]
    python tests/fuzz/atheris_parse.py --replay DIR [DIR ...] [--mutations N] [--seed S]
                                       [--leak-rounds R]

The first needs ``pip install atheris``; it is coverage-guided over the Python layer only (the
Rust extension is not instrumented). The second needs nothing: it runs every file of the
directories, then N deterministic random mutations of them (bit flips, byte edits, splices of
SIP tokens, cuts, duplications), and prints a summary; it exits 1 on any failure and writes
the failing inputs to ``--crash-dir`` (default ``tests/fuzz/crashes``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import sys
import traceback
from pathlib import Path

import sipwire
import sipwire.sdp

ALLOWED = (sipwire.ParseError,)
MAX_DEPTH = 4


class Finding(Exception):
    """An invariant broken by an input (raised with the cause chained)."""


# Known, reported core bugs a long run may step over (as in rust/fuzz/src/lib.rs):
# SIPWIRE_FUZZ_ALLOW=sdp-attr-offset (an SDP attribute without its value at the very end of
# the body errs at offset len + 1).
ALLOW = set(filter(None, os.environ.get("SIPWIRE_FUZZ_ALLOW", "").split(",")))


def _check_offset(e: sipwire.ParseError, n: int, where: str) -> None:
    off = getattr(e, "offset", None)
    if "sdp-attr-offset" in ALLOW and "sdp" in where.lower() and off == n + 1:
        return
    if not isinstance(off, int) or off < 0 or off > n:
        raise Finding(f"{where}: ParseError offset {off!r} outside 0..{n}: {e!r}")
    # line/column/header/kind are documented attributes: reading them must work.
    for name in ("kind", "line", "column", "header"):
        getattr(e, name)
    str(e)


def _guard(where: str, n: int, fn, *args, **kw):
    """Calls fn; a ParseError is allowed (offset checked) and gives None."""
    try:
        return fn(*args, **kw)
    except ALLOWED as e:
        _check_offset(e, n, where)
        return None
    except BaseException as e:  # PanicException derives from BaseException
        if isinstance(e, (KeyboardInterrupt, Finding)):
            raise
        raise Finding(f"{where}: {type(e).__module__}.{type(e).__name__}: {e}") from e


_SIPWIRE_TYPES = {name for name in dir(sipwire) if isinstance(getattr(sipwire, name), type)} | {
    name for name in dir(sipwire.sdp) if isinstance(getattr(sipwire.sdp, name), type)
}

# Methods that take no argument and only read (properties are read anyway).
_NO_ARG_METHODS = {"keys", "items", "__bytes__", "__len__", "__hash__", "__repr__", "validate"}


def read_all(obj, n: int, where: str, depth: int = 0, seen: set[int] | None = None) -> None:
    """Reads every public attribute of a sipwire object, recursively."""
    if seen is None:
        seen = set()
    if depth > MAX_DEPTH or id(obj) in seen:
        return
    if isinstance(obj, (str, bytes, int, float, bool, type(None))):
        return
    if isinstance(obj, (list, tuple)):
        for x in obj[:64]:
            read_all(x, n, where, depth + 1, seen)
        return
    if isinstance(obj, dict):
        for k, v in list(obj.items())[:64]:
            read_all(k, n, where, depth + 1, seen)
            read_all(v, n, where, depth + 1, seen)
        return
    if type(obj).__name__ not in _SIPWIRE_TYPES:
        return
    seen.add(id(obj))
    cls = type(obj).__name__
    _guard(f"{where}: repr({cls})", n, repr, obj)
    _guard(f"{where}: hash({cls})", n, lambda: hash(obj) if type(obj).__hash__ else None)
    for name in dir(obj):
        if name.startswith("_"):
            continue
        val = _guard(f"{where}: {cls}.{name}", n, getattr, obj, name)
        if callable(val):
            if name in _NO_ARG_METHODS:
                val = _guard(f"{where}: {cls}.{name}()", n, val)
            else:
                continue
        read_all(val, n, f"{where}.{name}", depth + 1, seen)
    if hasattr(obj, "__bytes__"):
        _guard(f"{where}: bytes({cls})", n, bytes, obj)
    if hasattr(obj, "__len__"):
        _guard(f"{where}: len({cls})", n, len, obj)
    if hasattr(obj, "__iter__") and cls in ("Headers",):
        _guard(f"{where}: iter({cls})", n, lambda: list(obj))


def _chunks(data: bytes):
    """Deterministic pseudo-random chunking seeded by the input."""
    rng = random.Random(hashlib.blake2b(data, digest_size=8).digest())
    i = 0
    while i < len(data):
        k = rng.choice((1, rng.randint(1, 8), rng.randint(1, 64), rng.randint(1, 1024)))
        yield data[i : i + k]
        i += k


def one_input(data: bytes) -> None:
    n = len(data)
    for strict in (True, False):
        for validate in (False, True):
            where = f"parse(strict={strict}, validate={validate})"
            msg = _guard(where, n, sipwire.parse, data, strict=strict, validate=validate)
            if msg is not None:
                read_all(msg, n, where)
                _guard(f"{where}: validate()", n, msg.validate)
                out = _guard(f"{where}: bytes()", n, bytes, msg)
                if out is not None and not isinstance(out, bytes):
                    raise Finding(f"{where}: bytes(msg) is {type(out)}")
    _guard("parse(memoryview)", n, sipwire.parse, memoryview(data), strict=False)
    sd = _guard("sdp.parse", n, sipwire.sdp.parse, data)
    if sd is not None:
        read_all(sd, n, "sdp.parse")
    for strict in (True, False):
        sp = sipwire.StreamParser(strict=strict)
        where = f"StreamParser(strict={strict})"
        results = 0  # each error drops at least one byte, each message at least one
        for chunk in _chunks(data):
            sp.feed(chunk)
            while True:
                try:
                    m = next(sp)
                except StopIteration:
                    break
                except ALLOWED as e:
                    # offsets of stream errors are into the dropped bytes; bounded by the input
                    _check_offset(e, n, where)
                    m = None
                except BaseException as e:
                    if isinstance(e, KeyboardInterrupt):
                        raise
                    raise Finding(f"{where}: {type(e).__name__}: {e}") from e
                results += 1
                if results > n:
                    raise Finding(f"{where}: more results than input bytes")
                if m is not None:
                    read_all(m, len(bytes(m)), where)
        for name in ("buffered", "pings", "pongs", "skipped"):
            getattr(sp, name)


# --- replay mode ------------------------------------------------------------------------------

TOKENS = [
    b"SIP/2.0",
    b"INVITE",
    b"ACK",
    b"BYE",
    b"sip:",
    b"sips:",
    b"tel:",
    b"Via: ",
    b"v: ",
    b"SIP/2.0/UDP ",
    b";branch=z9hG4bK",
    b";tag=",
    b";lr",
    b";received=",
    b";rport",
    b"Content-Length: ",
    b"l: ",
    b"Content-Type: multipart/mixed;boundary=b",
    b"--b\r\n",
    b"CSeq: ",
    b"Call-ID: ",
    b"From: ",
    b"To: ",
    b"Contact: *",
    b"Max-Forwards: ",
    b"<",
    b">",
    b'"',
    b"\\",
    b"%",
    b"%4",
    b"[",
    b"]",
    b"[2001:db8::1]",
    b":65536",
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b"\r",
    b"\r\n ",
    b"\x00",
    b"\xff",
    b"\xc3\xa9",
    b";;",
    b",,",
    b"4294967296",
    b"18446744073709551616",
    b"-1",
    b"v=0\r\n",
    b"m=audio 0 RTP/AVP 0\r\n",
    b"a=rtpmap:",
    b"c=IN IP4 0.0.0.0\r\n",
    b"a=sendonly\r\n",
    b"Authorization: Digest ",
    b'realm="',
    b"WWW-Authenticate: Digest nonce=",
    b"Date: Thu, 21 Feb 2002 13:02:03 GMT",
]


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(9)
        pos = rng.randint(0, len(b))
        if op == 0 and b:  # flip a bit
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and b:  # set a byte
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 2 and b:  # delete a run
            del b[pos : pos + rng.randint(1, 16)]
        elif op == 3:  # insert a token
            b[pos:pos] = rng.choice(TOKENS)
        elif op == 4:  # insert random bytes
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 5 and b:  # duplicate a run
            end = min(len(b), pos + rng.randint(1, 256))
            b[pos:pos] = b[pos:end] * rng.randint(1, 8)
        elif op == 6 and b:  # cut
            b = b[:pos] if rng.random() < 0.5 else b[pos:]
        elif op == 7 and pool:  # splice another input
            other = rng.choice(pool)
            q = rng.randint(0, len(other))
            b = b[:pos] + other[q:]
        elif op == 8 and b:  # swap line endings
            b = bytearray(
                bytes(b).replace(b"\r\n", b"\n")
                if rng.random() < 0.5
                else bytes(b).replace(b"\n", b"\r\n")
            )
    return bytes(b[:65536])


def replay(dirs: list[str], mutations: int, seed: int, crash_dir: Path) -> int:
    files = sorted(p for d in dirs for p in Path(d).rglob("*") if p.is_file())
    files = [p for p in files if p.exists()]
    pool = [p.read_bytes() for p in files]
    rng = random.Random(seed)
    failures: dict[str, bytes] = {}

    def run(data: bytes, label: str) -> None:
        try:
            one_input(data)
        except Finding as e:
            key = str(e).split(": ", 2)[0] + ": " + type(e.__cause__).__name__
            if key not in failures:
                failures[key] = data
                crash_dir.mkdir(parents=True, exist_ok=True)
                name = hashlib.sha1(data).hexdigest()[:16]
                (crash_dir / f"crash-{name}").write_bytes(data)
                print(f"FAIL {label}: {e}", file=sys.stderr)
                if e.__cause__ is not None:
                    traceback.print_exception(e.__cause__, limit=4, file=sys.stderr)

    for p, data in zip(files, pool):
        run(data, str(p))
    bases = pool or [b""]
    for i in range(mutations):
        run(mutate(rng, rng.choice(bases), pool), f"mutation {i}")
        if (i + 1) % 10000 == 0:
            print(f"  {i + 1} mutations, {len(failures)} distinct failures", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        f"{len(files)} files + {mutations} mutations: {len(failures)} distinct failures, "
        f"peak RSS {rss} MB"
    )
    return 1 if failures else 0


def leak_check(dirs: list[str], rounds: int) -> int:
    """Runs the inputs again and again: memory must not grow with the number of rounds
    (objects must be freed once unreachable, DESIGN §4 'memory bounded')."""
    import gc

    def rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    data = [p.read_bytes() for d in dirs for p in sorted(Path(d).rglob("*")) if p.is_file()]
    probes = {
        "one_input": lambda b: one_input(b),
        "parse + .headers": lambda b: _guard("h", len(b), lambda: sipwire.parse(b).headers),
    }
    status = 0
    for name, fn in probes.items():
        for b in data:  # warm up caches and freelists
            try:
                fn(b)
            except Finding:
                pass
        gc.collect()
        before = rss_mb()
        for _ in range(rounds):
            for b in data:
                try:
                    fn(b)
                except Finding:
                    pass
        gc.collect()
        grew = rss_mb() - before
        verdict = "ok" if grew < 4 else "GROWS"
        status |= grew >= 4
        print(f"leak check {name}: {rounds} x {len(data)} inputs, RSS +{grew:.1f} MB {verdict}")
    return int(status)


def main() -> int:
    if "--replay" in sys.argv:
        ap = argparse.ArgumentParser()
        ap.add_argument("--replay", nargs="+", required=True, metavar="DIR")
        ap.add_argument("--mutations", type=int, default=0)
        ap.add_argument("--seed", type=int, default=0)
        ap.add_argument("--crash-dir", type=Path, default=Path(__file__).parent / "crashes")
        ap.add_argument(
            "--leak-rounds",
            type=int,
            default=0,
            help="then replay the files this many times more, checking RSS",
        )
        a = ap.parse_args()
        status = replay(a.replay, a.mutations, a.seed, a.crash_dir)
        if a.leak_rounds:
            status |= leak_check(a.replay, a.leak_rounds)
        return status
    import atheris  # only the coverage-guided mode needs it

    def entry(data: bytes) -> None:
        try:
            one_input(data)
        except Finding as e:
            raise AssertionError(str(e)) from e.__cause__

    # Coverage of the Python layer (sipwire's own modules); the Rust extension is not
    # instrumented, so guidance comes from the Python wrappers only.
    atheris.instrument_all()
    atheris.Setup(sys.argv, entry)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
