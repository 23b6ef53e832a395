"""``sipwire analyze CAPTURE...``: a capture turned into calls.

It runs :func:`sipwire.capture.analyze` over the files (merged by time into one capture) with
a progress bar on stderr, or the same job on Ray, Spark or Dask over files, directories or
URIs (``--engine``, :mod:`sipwire.capture.ray`), then prints the summary a VoIP engineer reads
first: the calls and their outcomes, the answer-seizure ratio, post-dial delay and setup time
percentiles, the failure statuses, retransmissions, RTP loss and jitter, DTMF, and what the
capture itself got wrong. ``--call`` prints one call's ladder, ``--out`` writes every table,
``--html`` writes the report (:mod:`sipwire.tools.report_html`).

Definitions (the summary states them too):

- A call is a row of the ``calls`` table. Attempts (seizures) are the calls whose initial
  INVITE was captured: ``partial`` (seen only mid-call) and ``in_progress`` are left out.
- ASR = answered / attempts (ITU-T E.411's answer-seizure ratio).
- ACD = mean duration of the answered calls that ended in the capture.
- Post-dial delay: INVITE to the first ringing or final response (the table's
  ``post_dial_delay``); setup time: INVITE to the 2xx (``time_to_answer``).
- Session request delay (SRD, RFC 6076 §4.2): INVITE to the first response that tells the
  request's status: a provisional other than 100, else the final (2xx, or the failure of a
  failed call), authentication challenges left out (the table's ``srd``).
- Percentiles interpolate linearly between samples (numpy's default).
- Retransmission rate: the calls' retransmitted messages over all SIP messages; frames
  captured twice (`sip_captured_twice`) count in neither.
- RTP loss: ``lost`` over ``expected`` per stream (negative ``lost``, duplicates, counts 0).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sipwire._progress import Progress
from sipwire.capture import _check_path
from sipwire.tools import ladder as ladder_mod
from sipwire.tools._text import (
    Style,
    clean,
    count,
    ljust,
    percent,
    reason,
    rjust,
    seconds,
    shorten,
    size,
    uri_short,
)

TABLES = ("messages", "calls", "media", "rtp_streams", "dtmf")
# The order outcomes are listed in; others follow by count.
OUTCOMES = (
    "answered",
    "early_media",
    "busy",
    "rejected",
    "cancelled",
    "unanswered",
    "timeout",
    "failed",
    "in_progress",
    "partial",
)
NOT_ATTEMPTS = ("partial", "in_progress")
# What a capture problem means for the reader of the summary, and what to do about it.
PROBLEM_HINTS = (
    (
        "stream_tls_flows",
        "TLS flows hold encrypted SIP: capture it in the clear, or have a proxy send HEP",
    ),
    (
        "truncated_records",
        "packets cut by the capture's snap length: capture whole packets (tcpdump -s 0)",
    ),
    (
        "resyncs",
        "the file is damaged in places: reading went on after each; records inside are lost",
    ),
    (
        "truncated_file",
        "the file ends inside a record (cut while written): everything before it was read",
    ),
    (
        "rtp_sdp_dropped",
        "much signalling came before the first RTP: those calls' RTP was matched by the "
        "heuristic, not by their SDP",
    ),
    (
        "unknown_linktype",
        "packets of a link type sipwire does not decode (README, Captures: the layers read)",
    ),
    (
        "sip_parse_errors",
        "SIP messages that break a rule of RFC 3261: the messages table's parse_error says "
        "which (--out DIR writes it)",
    ),
    (
        "sip_captured_twice",
        "SIP messages seen again on the same hop within 20 ms: the capture holds frames twice "
        "(tcpdump -i any over a bridge or VLAN, a mirror port, probes merged). They are not "
        "counted as retransmissions; editcap -D 16 removes them",
    ),
    (
        "rtp_captured_twice",
        "RTP packets seen again within 20 ms (same stream, sequence number and timestamp). A "
        "stream at least half copies is reported without them (its captured_twice column); "
        "else they are duplicates on the wire, counted as tshark counts them",
    ),
    # Why messages are in no call (the correlator's reasons).
    ("uncorrelated_no_call_id", "messages without a Call-ID are in no call"),
    (
        "uncorrelated_bad_cseq",
        "messages whose CSeq does not parse (RFC 3261 §20.16) are in no call",
    ),
    (
        "uncorrelated_no_via",
        "messages without a Via are in no call: their transaction cannot be told",
    ),
    (
        "uncorrelated_bad_via",
        "messages whose top Via does not parse are in no call: their transaction cannot be told",
    ),
    (
        "uncorrelated_late",
        "messages of calls finished already: stragglers, or packets out of time order by more "
        "than 5 s (sort the capture first: reordercap)",
    ),
    ("uncorrelated_ack_response", "responses to an ACK (which is never answered) are in no call"),
    # What the correlator's per-call bounds let go (memory stays bounded on hostile input).
    (
        "dropped_transactions",
        "calls with more than 64 transactions (many INFOs or re-INVITEs): the later ones are "
        "not followed (their retransmissions, re-INVITEs in `invites`)",
    ),
    (
        "dropped_responses",
        "transactions with more than 32 distinct responses: the later ones are not followed",
    ),
    (
        "dropped_dialogs",
        "calls forked to more than 16 dialogs, or exchanges answered by more than 16 To tags: "
        "the later ones have no dialog or media rows",
    ),
    (
        "dropped_exchanges",
        "calls with more than 32 offer/answer exchanges (re-INVITEs, UPDATEs, PRACKs): the "
        "later ones have no media rows",
    ),
    ("dropped_info_dtmf", "calls with more than 256 INFO digits: the later ones are not listed"),
    ("dropped_rows", "rows of calls evicted from a full call table were dropped"),
)
# Stats counters that mean something was lost, damaged or not understood.
PROBLEM_WORDS = (
    "captured_twice",
    "truncated",
    "bad_",
    "error",
    "dropped",
    "evicted",
    "gaps",
    "gap_",
    "unknown",
    "refused",
    "malformed",
    "overlaps",
    "invalid",
    "too_",
    "timeouts",
    "unfinished",
    "oversize",
    "unsupported",
    "unsynced",
    "resync",
    "not_sip",
    "tls_flows",
    "uncorrelated",
    "orphan",
    "unusable",
)


class UsageError(Exception):
    """Exit status 2: the command line or the input cannot be used."""


_NO_PYARROW = "pyarrow is needed for the tables: pip install pyarrow"


def _need_pyarrow() -> None:
    """Whether pyarrow can be imported, asked without importing it (~0.2 s with numpy)."""
    import importlib.util

    if "pyarrow" in sys.modules:
        return
    try:
        found = importlib.util.find_spec("pyarrow") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise UsageError(_NO_PYARROW)


def _pyarrow() -> Any:
    # pyarrow loads numpy, whose OpenBLAS starts a thread per core that spins for a while:
    # ~0.1 s of a core taken from the read and the correlator. The command does no linear
    # algebra; a user's own setting is kept.
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        import pyarrow
    except ImportError:
        raise UsageError(_NO_PYARROW) from None
    return pyarrow


def add_parser(sub: Any) -> argparse.ArgumentParser:
    ap: argparse.ArgumentParser = sub.add_parser(
        "analyze",
        help="turn captures into calls: summary, ladders, tables, an HTML report",
        description="Reads pcap/pcapng captures (several files are read in order as one "
        "capture) into calls, media and RTP statistics, and prints a summary: calls by "
        "outcome, ASR, post-dial delay and setup time, failures, retransmissions, RTP loss "
        "and jitter, DTMF, capture problems. Exit status: 0 done (a truncated capture too: "
        "what it holds, with a warning), 1 --call found no call, 2 usage or input error (no "
        "such file, a directory, an empty file, not a capture).",
    )
    ap.add_argument(
        "captures",
        nargs="+",
        metavar="CAPTURE",
        help="pcap/pcapng (.gz/.zst), a directory of them, or -; several are merged by time "
        "(with --engine: URIs of directories too)",
    )
    ap.add_argument(
        "--call", metavar="CALL_ID", help="print this call's ladder (a unique prefix will do)"
    )
    ap.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="where to run: this process (local), or a Ray, Spark or Dask job over the files "
        "(pip install 'sipwire[ray]' / [spark] / [dask]); the same tables either way",
    )
    ap.add_argument(
        "--threads",
        type=int,
        choices=(1, 2),
        default=None,
        help="local: 2 correlates calls on a thread of its own beside the read (the default "
        "when this process may use more than one CPU), 1 does both on one",
    )
    ap.add_argument("--out", type=Path, metavar="DIR", help="write every table to DIR")
    ap.add_argument(
        "--format",
        choices=["parquet", "arrow", "csv"],
        default="parquet",
        help="table format for --out (parquet)",
    )
    ap.add_argument("--html", type=Path, metavar="FILE", help="write the HTML report to FILE")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument(
        "--raw", action="store_true", help="keep each message's bytes (the messages table's raw)"
    )
    ap.add_argument(
        "--list",
        type=int,
        default=20,
        metavar="N",
        help="calls listed in the summary (20; 0 for none)",
    )
    ap.add_argument(
        "--html-ladders",
        type=int,
        default=500,
        metavar="N",
        help="calls whose ladder and messages the HTML report embeds (500)",
    )
    ap.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    ap.add_argument("--width", type=int, help="output width (default: the terminal's)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    ap.set_defaults(func=run, parser=ap)
    return ap


# --- reading ----------------------------------------------------------------------------------


ENGINES = ("local", "ray", "spark", "dask")


class _Distributed:
    """A distributed engine's analysis as the command reads one: every table gathered on this
    machine as a ``pyarrow.Table`` in the order one merged read gives its rows."""

    def __init__(self, analysis: Any) -> None:
        self.messages = analysis.to_arrow("messages")
        self.calls = analysis.to_arrow("calls")
        self.media = analysis.to_arrow("media")
        self.rtp_streams = analysis.to_arrow("rtp_streams")
        self.dtmf = analysis.to_arrow("dtmf")
        self.stats = analysis.stats


def expand_sources(sources: Sequence[str], err: TextIO | None = None) -> list[str]:
    """Directories (and URIs pyarrow reads) walked to their capture files; files and ``-`` as
    given. The files a walk passed over (not captures) are said on ``err``."""
    from sipwire.capture import _engine

    if not any(s != "-" and (os.path.isdir(s) or "://" in s) for s in sources):
        return _once(list(sources), err)

    out: list[str] = []
    skipped: list[str] = []
    for s in sources:
        if s == "-":
            out.append(s)
            continue
        files, passed = _engine.expand_skipping(s)
        out.extend(files)
        skipped.extend(passed)
    if skipped and err is not None:
        names = ", ".join(clean(x) for x in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        print(
            f"sipwire analyze: skipped {_plural(len(skipped), 'file')} that "
            f"{'is' if len(skipped) == 1 else 'are'} not a capture: {names}{more}",
            file=err,
        )
    return _once(out, err)


def _once(files: list[str], err: TextIO | None) -> list[str]:
    """Each file once: one named twice (a link, a glob and a directory) would read as every
    packet captured twice, each a retransmission."""
    from sipwire.capture import _engine

    kept, repeats = _engine.drop_repeats(files)
    if err is not None:
        for repeat, first in repeats:
            print(
                f"sipwire analyze: {clean(repeat)} is the file {clean(first)} again: read once",
                file=err,
            )
    return kept


def _quiet_ray() -> None:
    """A local Ray for the command: its workers' output is not forwarded (it would land in
    the summary on stdout, or break --json) and its progress logs stay in Ray's log files;
    warnings still show. A Ray already running is used as it is."""
    import logging

    import ray

    if not ray.is_initialized():
        ray.init(log_to_driver=False, logging_level=logging.WARNING, include_dashboard=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    # Not "progress bars disabled", which is what this asked for.
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)


def open_analysis(
    sources: Sequence[str], *, raw: bool, engine: str = "local", threads: int | None = None
) -> Any:
    """``sipwire.capture.analyze`` over the sources, or the same job on a distributed engine
    (``sipwire.capture.ray`` / ``.spark`` / ``.dask``)."""
    import sipwire.capture

    if engine != "local":
        import importlib

        try:
            mod = importlib.import_module(f"sipwire.capture.{engine}")
            if engine == "ray":
                _quiet_ray()
            return _Distributed(mod.analyze(list(sources), raw=raw))
        except ImportError as e:
            raise UsageError(f"--engine {engine}: {e}") from None
        except FileNotFoundError as e:
            raise UsageError(str(e)) from None

    analyze = getattr(sipwire.capture, "analyze", None)
    if analyze is None:
        raise UsageError(
            "this build of sipwire has no sipwire.capture.analyze (the call correlator's "
            "tables); rebuild it: bash scripts/dev.sh setup"
        )
    try:
        return analyze(list(sources), raw=raw, threads=threads)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    except (ValueError, OSError) as e:
        raise UsageError(input_error(sources, e)) from None


def input_error(sources: Sequence[str], e: BaseException) -> str:
    """What was wrong with the input, and where: the reader's message (which says what it
    expected) after the capture's name."""
    where = sources[0] if len(sources) == 1 else _not_a_capture(sources)
    if where == "-":
        where = "standard input"
    if isinstance(e, OSError) and not isinstance(e, UnicodeError):
        what = e.strerror or str(e)
        return f"cannot read {where}: {what}"
    # Through the Arrow stream the reader's message comes wrapped by arrow-rs.
    what = str(e).removeprefix("External error: ")
    named = [s for s in sources if what.startswith(f"{s}: ")]
    return what if named else f"{where}: {what}"


def _not_a_capture(sources: Sequence[str]) -> str:
    """Which of several files the reader refused: the first that does not start as a
    capture, else all of them."""
    for s in sources:
        if s == "-":
            continue
        try:
            _check_path(s)
        except (OSError, ValueError):
            return s
    return "one of " + ", ".join(sources)


def check_sources(sources: Sequence[str]) -> None:
    """The inputs that cannot be a capture, told before reading: a missing path, a
    directory, an unreadable or empty file, one that does not start as a capture."""
    for s in sources:
        if s == "-":
            continue
        try:
            _check_path(s)
        except (OSError, ValueError) as e:
            raise UsageError(str(e)) from None


def _stat(stats: dict[str, Any], *names: str) -> int | None:
    for n in names:
        v = stats.get(n)
        if isinstance(v, (int, float)):
            return int(v)
    return None


def _total_bytes(sources: Sequence[str]) -> int | None:
    total = 0
    for s in sources:
        if s == "-":
            return None
        try:
            total += os.path.getsize(s)
        except OSError:
            return None
    return total


def progress_text(
    stats: dict[str, Any], total: int | None, elapsed: float, bar: int, tty: bool
) -> str:
    """The progress line: how much was read, how fast, how many calls are open and done."""
    done = _stat(stats, "bytes") or 0
    msgs = _stat(stats, "sip_messages", "messages") or 0
    parts = []
    if total:
        # A compressed capture reads more bytes than its file holds: cap at the end.
        frac = min(1.0, done / total)
        if tty and bar > 0:
            full = int(frac * bar)
            parts.append("[" + "█" * full + "░" * (bar - full) + "]")
        parts.append(f"{frac * 100:3.0f}% {size(min(done, total))} of {size(total)}")
    else:
        parts.append(f"{size(done)} read")
    rate = msgs / elapsed if elapsed > 0 else 0.0
    parts.append(f"{count(msgs)} messages ({count(rate)}/s)")
    open_ = _stat(stats, "calls_open")
    done_calls = _stat(stats, "calls_done")
    if open_ is not None or done_calls is not None:
        parts.append(f"calls {count(open_ or 0)} open, {count(done_calls or 0)} done")
    parts.append(f"{elapsed:.1f} s")
    return "  ".join(parts)


def _table(pa: Any, x: Any) -> Any:
    """An Arrow stream object as a pyarrow table (``pyarrow.table(x)`` would first check
    whether ``x`` is a pandas frame, importing pandas: a tenth of a second at start-up)."""
    return pa.RecordBatchReader.from_stream(x).read_all()


# Batches (``batch_rows`` messages each) the read may make ahead while pyarrow is imported.
READ_AHEAD_BATCHES = 3


def read_all(
    analysis: Any,
    sources: Sequence[str],
    progress: TextIO | None,
    on_batch: Callable[[Any], None] | None = None,
    interrupted: list[bool] | None = None,
) -> Any:
    """Runs the analysis to its end, redrawing the progress bar from its ``stats`` meanwhile:
    the read works in a thread (it releases the GIL), this one polls. With ``on_batch``, that
    thread hands each ``messages`` batch to it as the read makes it, so the messages are never
    all held at once (a capture of any size); returns their schema then (else None). A first
    Ctrl-C ends the read where it is (appending to ``interrupted``), a second one raises."""
    if interrupted is None:
        interrupted = []
    finish = getattr(analysis, "finish", None)
    if finish is None:
        return None
    total = _total_bytes(sources)
    bar = Progress(progress)
    width = shutil.get_terminal_size((100, 24)).columns
    errors: list[BaseException] = []
    schema: list[Any] = []
    # Polled rather than `join`ed: a Ctrl-C inside `Thread.join` can leave the thread marked
    # as stopped while it still reads (CPython 3.11), and the summary would take the lock.
    done = threading.Event()

    # Set once this thread has imported pyarrow: until then the reading thread reads ahead
    # (the GIL released), so the ~0.2 s of the import is not added to the read.
    imported = threading.Event()

    def read() -> None:
        if on_batch is not None:
            ahead = getattr(analysis, "read_ahead", None)
            n = 0
            while ahead is not None and not imported.is_set() and n < READ_AHEAD_BATCHES:
                n += 1
                ahead(n)
            reader = _pyarrow().RecordBatchReader.from_stream(analysis.messages)
            schema.append(reader.schema)
            for b in reader:
                on_batch(b)
        finish()

    def work() -> None:
        # The batch reader is gone (with `read`'s frame) before the caller may go on: freed
        # while the interpreter exits, its C++ would be unwound by the thread's forced exit.
        try:
            read()
        except BaseException as e:  # re-raised in the caller's thread
            errors.append(e)
        finally:
            done.set()

    start = time.monotonic()
    bar.last = start  # the first line after a moment (a short read draws only the last)
    worker = threading.Thread(target=work, name="sipwire-analyze", daemon=True)
    worker.start()
    try:
        _pyarrow()
        import pyarrow.compute  # noqa: F401  (the batches' counts use it)
    except BaseException:
        # pyarrow found but not importable: the read is ended before the error is raised
        # (a thread left in the read would be torn down mid-call as the interpreter exits).
        stop = getattr(analysis, "stop", None)
        if stop is not None:
            stop()
        imported.set()
        done.wait(10)
        raise
    imported.set()
    while not done.is_set():
        try:
            done.wait(0.2)
            stats = dict(analysis.stats)
        except KeyboardInterrupt:
            # Ctrl-C, as with tcpdump and tshark: the summary of what was read. A second one
            # quits (the read may be waiting on a quiet pipe).
            stop = getattr(analysis, "stop", None)
            if stop is None or interrupted:
                raise
            stop()
            interrupted.append(True)
            bar.say(
                "sipwire analyze: interrupted: summarising what was read "
                "(Ctrl-C again to quit at once)"
            )
            continue
        text = progress_text(stats, total, time.monotonic() - start, 20, bar.tty)
        bar.show(shorten(text, width - 1) if bar.tty else text)
    worker.join()  # it has ended its work; this waits out its last moments
    stats = dict(analysis.stats)
    text = progress_text(stats, total, time.monotonic() - start, 20, bar.tty)
    bar.show(shorten(text, width - 1) if bar.tty else text, force=True)
    bar.end()
    if errors:
        raise errors[0]
    return schema[0] if schema else None


# --- the summary ------------------------------------------------------------------------------


def _quantiles(pa: Any, column: Any) -> dict[str, Any]:
    import pyarrow.compute as pc

    arr = pc.drop_null(column)
    if pa.types.is_floating(arr.type):
        arr = pc.filter(arr, pc.invert(pc.is_nan(arr)))
    n = len(arr)
    out: dict[str, Any] = {"n": n}
    if n == 0:
        out.update({"p50": None, "p90": None, "p99": None, "max": None, "mean": None})
        return out
    arr = arr.cast(pa.float64())
    qs = pc.quantile(arr, q=[0.5, 0.9, 0.99]).to_pylist()
    out.update(
        {
            "p50": qs[0],
            "p90": qs[1],
            "p99": qs[2],
            "max": pc.max(arr).as_py(),
            "mean": pc.mean(arr).as_py(),
        }
    )
    return out


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return ladder_mod.clock(ns / 1e9).replace(" UTC", "Z").replace(" ", "T")


def _column(table: Any, name: str) -> Any:
    return table.column(name) if name in table.column_names else None


# Methods the per-method table keeps apart; the rest (a hostile capture can hold any number
# of made-up methods) are added up under OTHER_METHOD.
MAX_METHODS = 32
OTHER_METHOD = "(other)"


@dataclass
class Span:
    """What the messages pass saw: the capture's first and last SIP time, rows, parse errors,
    and per method the requests and, by their CSeq method, the responses by status."""

    first_ns: int | None = None
    last_ns: int | None = None
    rows: int = 0
    parse_errors: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    responses: dict[tuple[str, int], int] = field(default_factory=dict)

    def _method(self, name: object) -> str:
        m = "?" if name is None else str(name)
        if m in self.requests or len(self.requests) < MAX_METHODS:
            self.requests.setdefault(m, 0)
            return m
        self.requests.setdefault(OTHER_METHOD, 0)
        return OTHER_METHOD

    def _count_methods(self, batch: Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        names = batch.schema.names
        if not {"method", "status", "cseq_method"} <= set(names):
            return
        for item in pc.value_counts(pc.drop_null(batch.column(names.index("method")))).to_pylist():
            m = self._method(item["values"])
            self.requests[m] += int(item["counts"])
        status = batch.column(names.index("status"))
        if status.null_count == len(status):
            return
        answered = pc.is_valid(status)
        # (CSeq method, status) pairs counted as one integer key, method index * 65536 +
        # status (a uint16): a table's group_by would load Arrow's query engine, tens of
        # milliseconds of every run's start-up.
        # (a null method is its own entry: `_method` names it "?")
        methods = pc.dictionary_encode(
            pc.filter(batch.column(names.index("cseq_method")), answered), null_encoding="encode"
        )
        key = pc.add(
            pc.multiply(methods.indices.cast(pa.int64()), 65536),
            pc.filter(status, answered).cast(pa.int64()),
        )
        names_of = methods.dictionary.to_pylist()
        for item in pc.value_counts(key).to_pylist():
            k = int(item["values"])
            pair = (self._method(names_of[k >> 16]), k & 0xFFFF)
            self.responses[pair] = self.responses.get(pair, 0) + int(item["counts"])

    def add(self, batch: Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        self.rows += batch.num_rows
        if batch.num_rows == 0:
            return
        t = batch.column(batch.schema.get_field_index("time")).cast(pa.int64())
        mm = pc.min_max(t).as_py()
        if mm["min"] is not None:
            self.first_ns = mm["min"] if self.first_ns is None else min(self.first_ns, mm["min"])
            self.last_ns = mm["max"] if self.last_ns is None else max(self.last_ns, mm["max"])
        i = batch.schema.get_field_index("parse_error")
        if i >= 0:
            self.parse_errors += batch.num_rows - batch.column(i).null_count
        self._count_methods(batch)

    def methods(self) -> list[dict[str, Any]]:
        """Per method, busiest first: requests, responses by class, and by status."""
        out: dict[str, dict[str, Any]] = {
            m: {"method": m, "requests": n, "responses": {}, "statuses": {}}
            for m, n in self.requests.items()
        }
        for (m, st), n in sorted(self.responses.items()):
            row = out[m]
            cls = f"{st // 100}xx"
            row["responses"][cls] = row["responses"].get(cls, 0) + n
            row["statuses"][str(st)] = n
        busy = sorted(
            out.values(),
            key=lambda r: (-(r["requests"] + sum(r["responses"].values())), r["method"]),
        )
        return [r for r in busy if r["requests"] or r["responses"]]


@dataclass
class Result:
    """Everything the outputs need, read once."""

    sources: list[str]
    calls: Any
    media: Any
    rtp_streams: Any
    dtmf: Any
    stats: dict[str, Any]
    span: Span = field(default_factory=Span)
    messages: Any = None  # kept only when a ladder or the report needs them


def summarize(res: Result) -> dict[str, Any]:
    """The summary as plain data (what ``--json`` prints)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    calls, stats = res.calls, res.stats
    n = calls.num_rows
    by_outcome: dict[str, int] = {}
    if n:
        for item in pc.value_counts(calls.column("outcome").fill_null("unknown")).to_pylist():
            by_outcome[str(item["values"])] = int(item["counts"])
    ordered = {k: by_outcome[k] for k in OUTCOMES if k in by_outcome}
    for k, v in sorted(by_outcome.items(), key=lambda kv: -kv[1]):
        ordered.setdefault(k, v)
    answered = ordered.get("answered", 0)
    attempts = n - sum(ordered.get(k, 0) for k in NOT_ATTEMPTS)

    def q(name: str, only_answered: bool = False) -> dict[str, Any]:
        col = _column(calls, name)
        if col is None or n == 0:
            return _quantiles(pa, pa.array([], pa.float64()))
        if only_answered:
            col = pc.filter(col, pc.equal(calls.column("outcome"), "answered"))
        return _quantiles(pa, col)

    duration = q("duration", only_answered=True)
    failures: list[dict[str, Any]] = []
    if n and "final_status" in calls.column_names:
        fs = pc.filter(
            calls.column("final_status"), pc.greater_equal(calls.column("final_status"), 300)
        )
        for item in pc.value_counts(fs).to_pylist():
            st = int(item["values"])
            failures.append({"status": st, "reason": reason(st), "calls": int(item["counts"])})
        failures.sort(key=lambda f: (-f["calls"], f["status"]))

    retrans = 0
    if n and "retransmissions" in calls.column_names:
        retrans = int(pc.sum(calls.column("retransmissions")).as_py() or 0)
    sip_messages = _stat(stats, "sip_messages") or res.span.rows
    # A frame captured twice is one message sent once.
    sent = sip_messages - (_stat(stats, "sip_captured_twice") or 0)

    rtp: dict[str, Any] = {"streams": res.rtp_streams.num_rows}
    if res.rtp_streams.num_rows:
        r = res.rtp_streams
        packets = int(pc.sum(r.column("packets")).as_py() or 0)
        expected = pc.max_element_wise(r.column("expected").cast(pa.int64()), 0)
        lost = pc.max_element_wise(r.column("lost").cast(pa.int64()), 0)
        lost_total = int(pc.sum(lost).as_py() or 0)
        exp_total = int(pc.sum(expected).as_py() or 0)
        loss_pct = pc.if_else(
            pc.greater(expected, 0),
            pc.multiply(pc.divide(lost.cast(pa.float64()), expected.cast(pa.float64())), 100.0),
            pa.scalar(None, pa.float64()),
        )
        worst = []
        order = sorted(
            range(r.num_rows),
            key=lambda i: (
                -(loss_pct[i].as_py() or 0.0),
                -(r.column("max_jitter_ms")[i].as_py() or 0.0),
            ),
        )
        for i in order[:3]:
            row = {
                k: r.column(k)[i].as_py()
                for k in r.column_names
                if k not in ("first_time", "last_time")
            }
            if (row.get("lost") or 0) <= 0 and (row.get("max_jitter_ms") or 0) < 30:
                continue
            worst.append(
                {
                    "call_id": row.get("call_id"),
                    "src": ladder_mod._addr(row.get("src_ip"), row.get("src_port")),
                    "dst": ladder_mod._addr(row.get("dst_ip"), row.get("dst_port")),
                    "ssrc": row.get("ssrc"),
                    "codec": row.get("codec"),
                    "packets": row.get("packets"),
                    "lost": row.get("lost"),
                    "loss_pct": loss_pct[i].as_py(),
                    "mean_jitter_ms": row.get("mean_jitter_ms"),
                    "max_jitter_ms": row.get("max_jitter_ms"),
                }
            )
        rtp.update(
            {
                "packets": packets,
                "expected": exp_total,
                "lost": lost_total,
                "loss_rate": lost_total / exp_total if exp_total else None,
                "streams_with_loss": int(pc.sum(pc.greater(lost, 0).cast(pa.int64())).as_py() or 0),
                "loss_pct": _quantiles(pa, loss_pct),
                "mean_jitter_ms": _quantiles(pa, r.column("mean_jitter_ms")),
                "max_jitter_ms": _quantiles(pa, r.column("max_jitter_ms")),
                "worst": worst,
            }
        )

    dtmf: dict[str, Any] = {"digits": res.dtmf.num_rows, "info": 0, "calls": []}
    if res.dtmf.num_rows:
        d = res.dtmf.sort_by([("time", "ascending")])
        if "source" in d.column_names:
            dtmf["info"] = d.column("source").to_pylist().count("info")
        per: dict[str, list[str]] = {}
        for cid, digit in zip(d.column("call_id").to_pylist(), d.column("digit").to_pylist()):
            per.setdefault(cid or "", []).append(digit or "?")
        # `digits` as one string; `sequence` one item a digit ("flash" is one).
        dtmf["calls"] = [
            {"call_id": c or None, "digits": "".join(v), "sequence": v} for c, v in per.items()
        ]

    problems = {
        k: int(v)
        for k, v in sorted(stats.items())
        if isinstance(v, (int, float)) and v and any(w in k for w in PROBLEM_WORDS)
    }
    first = res.span.first_ns
    last = res.span.last_ns
    return {
        "captures": list(res.sources),
        "capture": {
            "records": _stat(stats, "records"),
            "bytes": _stat(stats, "bytes"),
            "first": _iso(first),
            "last": _iso(last),
            "seconds": None if first is None or last is None else (last - first) / 1e9,
            "sip_messages": sip_messages,
            "rtp_packets": _stat(stats, "rtp_packets"),
            "parse_errors": _stat(stats, "sip_parse_errors") or res.span.parse_errors,
        },
        "calls": {
            "total": n,
            "by_outcome": ordered,
            "attempts": attempts,
            "answered": answered,
            "asr": answered / attempts if attempts else None,
            "acd": duration["mean"],
        },
        "post_dial_delay": q("post_dial_delay"),
        "srd": q("srd"),
        "setup_time": q("time_to_answer"),
        "duration": duration,
        "failures": failures,
        "retransmissions": {
            "count": retrans,
            "messages": sent,
            "rate": retrans / sent if sent else None,
        },
        "methods": res.span.methods(),
        "rtp": rtp,
        "dtmf": dtmf,
        "problems": problems,
        # What each problem means and what to do, for those that have a hint.
        "problem_hints": {k: hint for k, hint in PROBLEM_HINTS if problems.get(k)},
    }


def _plural(n: int, word: str) -> str:
    return f"{count(n)} {word}{'' if n == 1 else 's'}"


def _num(v: float | None, unit: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if unit == "s":
        return seconds(v)
    if unit == "%":
        return f"{v:.1f}%"
    return f"{v:.1f} {unit}"


def format_summary(
    s: dict[str, Any], res: Result, st: Style, width: int = 100, listed: int = 20
) -> str:
    """The summary as aligned text."""
    out: list[str] = []
    w = out.append
    cap = s["capture"]
    names = ", ".join(clean(x) for x in s["captures"])
    head = [f"{names}:"]
    if cap["records"] is not None:
        head.append(_plural(cap["records"], "packet"))
    if cap["bytes"] is not None:
        head.append(size(cap["bytes"]))
    if cap["seconds"] is not None and res.span.first_ns is not None:
        head.append(
            f"{cap['seconds']:.1f} s of SIP from {ladder_mod.clock(res.span.first_ns / 1e9)}"
        )
    rest = ", ".join(head[1:])
    if len(head[0]) + 1 + len(rest) <= width:
        w(st.bold(head[0]) + " " + rest)
    else:
        w(st.bold(shorten(head[0], width)))
        w(shorten(rest, width))
    bits = [_plural(cap["sip_messages"] or 0, "SIP message")]
    if cap["rtp_packets"] is not None:
        bits.append(_plural(cap["rtp_packets"], "RTP packet"))
    pe = cap["parse_errors"] or 0
    bits.append(st.red(_plural(pe, "parse error")) if pe else "no parse errors")
    w(", ".join(bits))
    w("")

    c = s["calls"]
    if listed and res.calls.num_rows:
        out.extend(_call_list(res, st, width, listed))
        w("")

    label = 30
    w(st.bold(f"{'Calls':<{label}}") + f"{count(c['total']):>7}")
    for k, v in c["by_outcome"].items():
        pct = percent(v, c["total"])
        w(f"  {st.outcome(k, f'{clean(k):<{label - 2}}')}{count(v):>7}  {pct:>6}")
    if c["asr"] is not None:
        w(
            st.bold(f"{'Answer-seizure ratio (ASR)':<{label}}")
            + f"{c['asr'] * 100:>6.1f}%  "
            + st.dim(f"{count(c['answered'])} answered of {count(c['attempts'])} attempts")
        )
    if c["acd"] is not None:
        w(
            st.bold(f"{'Average call duration (ACD)':<{label}}")
            + f"{seconds(c['acd']):>7}  "
            + st.dim("answered calls that ended")
        )
    w("")

    def qrow(title: str, qd: dict[str, Any], unit: str) -> str:
        cells = [_num(qd.get(k), unit) for k in ("p50", "p90", "p99", "max")]
        return f"  {title:<{label - 2}}" + "".join(f"{x:>10}" for x in cells) + f"{qd['n']:>7}"

    w(
        st.bold(f"{'Delays':<{label}}")
        + "".join(f"{h:>10}" for h in ("p50", "p90", "p99", "max"))
        + f"{'n':>7}"
    )
    w(qrow("post-dial delay", s["post_dial_delay"], "s"))
    w(qrow("session request delay", s["srd"], "s"))
    w(qrow("setup time (to answer)", s["setup_time"], "s"))
    w(qrow("call duration", s["duration"], "s"))
    w("")

    if s["failures"]:
        w(st.bold("Call failures (final status ≥ 300)"))
        for f in s["failures"][:8]:
            text = f"{f['status']} {f['reason']}".strip()
            w(f"  {st.status(f['status'], f'{text:<{label - 2}}')}{count(f['calls']):>7}")
        if len(s["failures"]) > 8:
            w(st.dim(f"  ... {len(s['failures']) - 8} more statuses"))
    else:
        w(st.bold("Call failures (final status ≥ 300)") + "  none")
    r = s["retransmissions"]
    rate = "-" if r["rate"] is None else f"{r['rate'] * 100:.1f}%"
    w(
        st.bold(f"{'Retransmissions':<{label}}")
        + f"{count(r['count']):>7}  {rate:>6}  "
        + st.dim(f"of {count(r['messages'] or 0)} SIP messages")
    )
    w("")

    if s["methods"]:
        classes = ("1xx", "2xx", "3xx", "4xx", "5xx", "6xx")
        # The name column gives way first on a narrow terminal.
        nw = max(12, min(label, width - 9 - 7 * len(classes)))
        w(
            st.bold(f"{shorten('Requests by method', nw):<{nw}}")
            + f"{'requests':>9}"
            + "".join(f"{c:>7}" for c in classes)
        )
        for row in s["methods"][:10]:
            cells = [row["responses"].get(c) for c in classes]
            name = shorten(clean(row["method"]), nw - 3)
            text = f"  {name:<{nw - 2}}{count(row['requests']):>9}"
            for c, v in zip(classes, cells):
                cell = f"{count(v):>7}" if v else f"{'':>7}"
                text += st.status(int(c[0]) * 100, cell) if v and c[0] in "3456" else cell
            w(text.rstrip())
        if len(s["methods"]) > 10:
            w(st.dim(f"  ... {len(s['methods']) - 10} more methods"))
        w("")

    rtp = s["rtp"]
    if rtp["streams"]:
        loss = "-" if rtp["loss_rate"] is None else f"{rtp['loss_rate'] * 100:.2f}%"
        lost_text = f"{count(rtp['lost'])} lost ({loss})"
        packets = f"{count(rtp['streams']):>7}  {count(rtp['packets'])} packets, "
        with_loss = f", {rtp['streams_with_loss']} with loss"
        if label + len(packets) + len(lost_text) + len(with_loss) > width:
            with_loss = ""
        w(
            st.bold(f"{'RTP streams':<{label}}")
            + packets
            + (st.red(lost_text) if rtp["lost"] else lost_text)
            + with_loss
        )
        w(
            f"  {'':<{label - 2}}"
            + "".join(f"{h:>10}" for h in ("p50", "p90", "p99", "max"))
            + f"{'n':>7}"
        )
        w(qrow("loss per stream", rtp["loss_pct"], "%"))
        w(qrow("jitter, mean per stream", rtp["mean_jitter_ms"], "ms"))
        w(qrow("jitter, max per stream", rtp["max_jitter_ms"], "ms"))
        for x in rtp["worst"]:
            loss_p = "-" if x["loss_pct"] is None else f"{x['loss_pct']:.1f}%"
            line = (
                f"  worst: {x['src']} → {x['dst']} ({clean(x['call_id'] or 'no call')}): "
                f"{x['lost']} lost ({loss_p}), jitter {x['mean_jitter_ms'] or 0:.1f}/"
                f"{x['max_jitter_ms'] or 0:.1f} ms"
            )
            w(st.yellow(shorten(line, width)))
    else:
        w(st.bold(f"{'RTP streams':<{label}}") + f"{0:>7}")
    d = s["dtmf"]
    if d["digits"]:
        info = d.get("info", 0)
        how = "" if not info else f", {count(info)} sent in SIP INFO"
        w(
            st.bold(f"{'DTMF digits':<{label}}")
            + f"{count(d['digits']):>7}  in {_plural(len(d['calls']), 'call')}{how}"
        )
        for item in d["calls"][:5]:
            cid = clean(item["call_id"] or "(no call)")
            w(shorten(f"  {cid:<{label - 2}} {clean(' '.join(item['sequence']))}", width))
        if len(d["calls"]) > 5:
            w(st.dim(f"  ... {len(d['calls']) - 5} more calls"))
    else:
        w(st.bold(f"{'DTMF digits':<{label}}") + f"{0:>7}")
    w("")
    if s["problems"]:
        w(st.bold(st.red("Capture problems")))
        hints = s.get("problem_hints", {})
        for k, v in s["problems"].items():
            w(f"  {k:<{label - 2}}{count(v):>7}")
            # Under its counter, wrapped, not cut: the end of a hint says what to do.
            for line in textwrap.wrap(hints.get(k, ""), max(20, width - 4)):
                w(st.dim(f"    {line}"))
    else:
        w(st.bold("Capture problems") + "  none")
    return "\n".join(out) + "\n"


def _party(uri: object) -> str:
    """A URI's user part, or its host: what a person calls the phone (``alice``, ``+4930..``)."""
    s = uri_short(uri)
    user, at, _ = s.partition("@")
    if at and user:
        return user
    return s.split(";")[0] or "?"


def _call_list(res: Result, st: Style, width: int, listed: int) -> list[str]:
    """The first calls as a table: when, who, how it ended, how long things took, RTP."""
    import pyarrow as pa
    import pyarrow.compute as pc

    calls = res.calls
    if "invite_time" in calls.column_names:
        # Only the rows listed are taken: the order of a whole table of a million calls is
        # cheap, moving every column into it is not. A call whose INVITE was not captured
        # (partial) is placed, and shown, by its first message.
        began = pc.coalesce(calls.column("invite_time"), calls.column("first_time"))
        order = pc.sort_indices(began)
        shown = ladder_mod.rows(calls.take(order.slice(0, listed)))
    else:
        shown = ladder_mod.rows(calls.slice(0, listed))
    # Per call: its worst stream's loss and jitter (one bad direction is a bad call).
    per_call: dict[str, list[float]] = {}
    if res.rtp_streams.num_rows and "call_id" in res.rtp_streams.column_names:
        r = res.rtp_streams
        ids = pa.array([c.get("call_id") for c in shown], pa.string())
        r = r.filter(pc.is_in(r.column("call_id"), value_set=ids))
        for cid, lost, exp, jit in zip(
            r.column("call_id").to_pylist(),
            r.column("lost").to_pylist(),
            r.column("expected").to_pylist(),
            r.column("mean_jitter_ms").to_pylist(),
        ):
            agg = per_call.setdefault(cid or "", [0, 0.0, 0.0])
            agg[0] += 1
            if exp:
                agg[1] = max(agg[1], 100.0 * max(lost or 0, 0) / exp)
            agg[2] = max(agg[2], jit or 0.0)
    t0 = res.span.first_ns / 1e9 if res.span.first_ns is not None else None
    cols = [
        ("start", 6, "r"),
        ("Call-ID", 16, "l"),
        ("from → to", 0, "l"),
        ("outcome", 10, "l"),
        ("final", 5, "r"),
        ("PDD", 6, "r"),
        ("setup", 6, "r"),
        ("talk", 6, "r"),
        ("loss", 5, "r"),
        ("jitter", 6, "r"),
    ]
    # A narrow terminal loses the least needed columns first.
    keep = list(range(len(cols)))
    for name in ("jitter", "talk", "setup", "start"):
        if sum(cols[i][1] + 2 for i in keep) + 12 <= width:
            break
        keep.remove(next(i for i in keep if cols[i][0] == name))
    fixed = sum(cols[i][1] + 2 for i in keep)
    cols[2] = ("from → to", max(12, min(36, width - fixed)), "l")
    out = [st.bold(f"Calls ({count(res.calls.num_rows)})")]

    def fmt(cells: list[tuple[str, str]]) -> str:
        parts = []
        for i, ((_, wd, align), (plain, styled)) in enumerate(zip(cols, cells)):
            if i not in keep:
                continue
            plain_s = shorten(plain, wd)
            styled_s = styled if plain_s == plain else plain_s
            pad = rjust if align == "r" else ljust
            parts.append(pad(styled_s, len(plain_s), wd))
        return ("  ".join(parts)).rstrip()

    out.append(st.dim(fmt([(name, name) for name, _, _ in cols])))
    for c in shown:
        cid = clean(c.get("call_id"))
        began_at = c.get("invite_time") or c.get("first_time")
        start = "-" if began_at is None or t0 is None else f"{began_at - t0:.2f}"
        who = f"{_party(c.get('caller'))} → {_party(c.get('callee'))}"
        outcome = clean(c.get("outcome") or "?")
        status = c.get("final_status")
        worst = per_call.get(c.get("call_id") or "")
        loss, jitter = (loss_cell(worst[1]), jitter_cell(worst[2])) if worst else ("-", "-")
        pdd, setup, talk = (
            seconds(c.get(k)).replace(" ", "")
            for k in ("post_dial_delay", "time_to_answer", "duration")
        )
        cells = [
            (start, start),
            (cid, cid),
            (who, who),
            (outcome, st.outcome(outcome, outcome)),
            ("-" if status is None else str(status), st.status(status)),
            (pdd, pdd),
            (setup, setup),
            (talk, talk),
            (loss, st.red(loss) if worst and worst[1] > 0 else loss),
            (jitter, st.yellow(jitter) if worst and worst[2] >= 20 else jitter),
        ]
        out.append(fmt(cells))
    if res.calls.num_rows > listed:
        more = count(res.calls.num_rows - listed)
        out.append(st.dim(f"... {more} more (--list N, --out or --html for all)"))
    return out


def loss_cell(p: float) -> str:
    """A stream's loss in the call list's five columns: 0.5%, 12.3%, 100% (a damaged or
    duplicated stream's -12% too)."""
    text = f"{p:.1f}%"
    return text if len(text) <= 5 else f"{p:.0f}%"


def jitter_cell(ms: float) -> str:
    """A jitter in the call list's six columns, as the delays beside it are written: 9.5ms,
    250ms, 1.20s (corrupted RTP timestamps give seconds, or more)."""
    return seconds(ms / 1000).replace(" ", "")


# --- tables out -------------------------------------------------------------------------------


def _csv_ready(pa: Any, batch: Any) -> Any:
    """CSV has no lists or bytes: payload types become "0 8 101", raw bytes text."""
    cols = []
    for f, col in zip(batch.schema, batch.columns):
        if pa.types.is_list(f.type) or pa.types.is_large_list(f.type):
            col = pa.array(
                [None if v is None else " ".join(str(x) for x in v) for v in col.to_pylist()],
                pa.string(),
            )
        elif pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type):
            col = pa.array(
                [
                    None if v is None else v.decode("utf-8", "backslashreplace")
                    for v in col.to_pylist()
                ],
                pa.string(),
            )
        cols.append(col)
    return pa.record_batch(cols, names=batch.schema.names)


class TableWriter:
    """Writes one table batch by batch as Parquet, Arrow IPC (file) or CSV."""

    def __init__(self, directory: Path, name: str, fmt: str) -> None:
        self.path = directory / f"{name}.{fmt}"
        self.fmt = fmt
        self.writer: Any = None
        self.rows = 0

    def write(self, batch: Any) -> None:
        pa = _pyarrow()
        if self.fmt == "csv":
            batch = _csv_ready(pa, batch)
        if self.writer is None:
            self._open(batch.schema)
        self.writer.write_batch(batch)
        self.rows += batch.num_rows

    def _open(self, schema: Any) -> None:
        pa = _pyarrow()
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            self.writer = pq.ParquetWriter(str(self.path), schema)
        elif self.fmt == "arrow":
            self.writer = pa.ipc.new_file(str(self.path), schema)
        else:
            import pyarrow.csv as pcsv

            self.writer = pcsv.CSVWriter(str(self.path), schema)

    def close(self, schema: Any) -> Path:
        pa = _pyarrow()
        if self.writer is None:  # an empty table still gets its file, with its columns
            empty = pa.record_batch([pa.array([], f.type) for f in schema], schema=schema)
            self._open((_csv_ready(pa, empty) if self.fmt == "csv" else empty).schema)
        self.writer.close()
        return self.path


def _batches(pa: Any, obj: Any) -> Any:
    """A table-like object's record batches, streamed when it is a stream."""
    if isinstance(obj, pa.Table):
        return obj.schema, iter(obj.to_batches())
    reader = pa.RecordBatchReader.from_stream(obj)
    return reader.schema, iter(reader)


def write_table(pa: Any, obj: Any, directory: Path, name: str, fmt: str) -> Path:
    schema, batches = _batches(pa, obj)
    w = TableWriter(directory, name, fmt)
    for b in batches:
        w.write(b)
    return w.close(schema)


# --- the command ------------------------------------------------------------------------------


def _find_call(calls: Any, wanted: str, others: Sequence[str] = ()) -> str:
    """The Call-ID ``wanted`` names (itself or a unique prefix): a call's, else that of other
    messages (``others``: a registration, an OPTIONS ping, a subscription have no call row,
    but their ladder can be drawn)."""
    ids = [c for c in calls.column("call_id").to_pylist() if c is not None]
    if wanted in ids:
        return wanted
    matches = sorted({c for c in ids if c.startswith(wanted)})
    if not matches:
        if wanted in others:
            return wanted
        matches = sorted({c for c in others if c.startswith(wanted)})
    if len(matches) == 1:
        return str(matches[0])
    if not matches:
        raise LookupError(f"no call or message with Call-ID {clean(wanted)!r}")
    shown = ", ".join(clean(m) for m in matches[:5])
    raise LookupError(f"{len(matches)} calls start with {clean(wanted)!r}: {shown} ...")


def call_rows(res: Result, call_id: str, messages: Any) -> list[ladder_mod.Ladder]:
    """The ladders of ``call_id`` from the result's tables and ``messages`` (a table): one, or
    one per call when the Call-ID was used for several (:func:`ladder_mod.split`)."""
    import pyarrow.compute as pc

    def pick(t: Any) -> list[dict[str, Any]]:
        if t is None or t.num_rows == 0 or "call_id" not in t.column_names:
            return []
        return ladder_mod.rows(t.filter(pc.equal(t.column("call_id"), call_id)))

    calls = pick(res.calls)
    msgs, media, streams, dtmf = (
        pick(messages),
        pick(res.media),
        pick(res.rtp_streams),
        pick(res.dtmf),
    )
    if not calls:
        return [ladder_mod.build(call_id, msgs, None, media, streams, dtmf)]
    shared = ladder_mod.split(calls, msgs, media, streams, dtmf)
    out = []
    for k, (call, its_msgs, its_media, its_streams, its_dtmf) in enumerate(shared, 1):
        lad = ladder_mod.build(call_id, its_msgs, call, its_media, its_streams, its_dtmf)
        lad.part = (k, len(shared))
        out.append(lad)
    return out


class _NoPandas:
    """An import finder that says pandas is not installed. pyarrow imports pandas (~0.2-0.3 s)
    the first time a Python value becomes an Arrow one, to check whether it is a pandas object;
    the summary turns values such as ``300`` or ``"answered"`` into Arrow scalars, and none of
    them is pandas'. Without pandas pyarrow does the same conversions."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError(f"{name} is not used by sipwire analyze", name=name)


def _skip_pandas(args: argparse.Namespace) -> None:
    """In the command's own process, pandas stays unimported: nothing reads it after the run.
    Not when ``main`` is called by a program (which may use pandas with pyarrow later), nor for
    an engine (they run on pandas), nor when pandas is already there."""
    if (
        getattr(args, "own_process", False)
        and args.engine == "local"
        and "pandas" not in sys.modules
        and not any(isinstance(f, _NoPandas) for f in sys.meta_path)
    ):
        sys.meta_path.insert(0, _NoPandas())


def run(args: argparse.Namespace) -> int:
    _skip_pandas(args)
    try:
        return _run(args)
    except UsageError as e:
        sys.stderr.write(f"sipwire analyze: {e}\n")
        return 2


def _run(args: argparse.Namespace) -> int:
    # Imported while the read starts (read_all); told now when it is missing.
    _need_pyarrow()
    out: TextIO = sys.stdout
    width = args.width or shutil.get_terminal_size((100, 24)).columns
    st = Style(Style.wanted(out, args.color))
    sources = [str(s) for s in args.captures]
    # A directory (or, for an engine, a URI) of rotated captures is walked to its files.
    if args.engine != "local" or any(s != "-" and os.path.isdir(s) for s in sources):
        for s in sources:
            if s != "-" and "://" not in s and not os.path.exists(s):
                raise UsageError(f"no such capture: {s}")
        try:
            sources = expand_sources(sources, sys.stderr)
        except (OSError, ValueError) as e:
            raise UsageError(str(e)) from None
    else:
        sources = _once(sources, sys.stderr)
    check_sources([s for s in sources if "://" not in s])
    if "-" in sources and sys.stdin.isatty():
        # Reading would wait for the terminal to type a capture.
        raise UsageError(
            "- reads a capture from stdin, which is a terminal: pipe one in "
            "(tcpdump -U -w - | sipwire analyze -, or sipwire analyze - < FILE)"
        )
    if args.out is not None:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot make {args.out}: {e.strerror}") from None
    # Message bytes are kept for the report (each arrow opens its message) or when asked.
    raw = bool(args.raw or args.html or args.call)
    analysis = open_analysis(sources, raw=raw, engine=args.engine, threads=args.threads)
    # One pass over the messages, as the read makes them: the capture's span, the messages
    # table written, the rows a ladder or the report needs kept (all of them only for --html;
    # for --call those whose Call-ID starts with what was asked, resolved once calls exist).
    span = Span()
    keep_all = args.html is not None
    kept: list[Any] = []
    writer = TableWriter(args.out, "messages", args.format) if args.out is not None else None

    def on_batch(b: Any) -> None:
        span.add(b)
        if writer is not None:
            writer.write(b if args.raw or "raw" not in b.schema.names else b.drop_columns(["raw"]))
        if keep_all:
            kept.append(b)
        elif args.call is not None:
            import pyarrow.compute as pc

            ids = b.column(b.schema.get_field_index("call_id"))
            f = b.filter(pc.fill_null(pc.starts_with(ids, pattern=args.call), False))
            if f.num_rows:
                kept.append(f)

    interrupted: list[bool] = []
    try:
        schema = read_all(
            analysis, sources, None if args.quiet else sys.stderr, on_batch, interrupted
        )
    except (ValueError, OSError) as e:
        # Raised in the reading thread when the bytes are not a capture (or cannot be read).
        raise UsageError(input_error(sources, e)) from None
    pa = _pyarrow()
    import pyarrow.compute as pc

    stats = dict(analysis.stats)
    if stats.get("truncated_file") or stats.get("truncated_records"):
        # Still a result (what was read before the cut), said once and in the summary.
        sys.stderr.write(
            "sipwire analyze: warning: the capture ends in the middle of a record (a "
            "truncated file): the calls are those of the records before the cut\n"
        )
    res = Result(
        sources,
        _table(pa, analysis.calls),
        _table(pa, analysis.media),
        _table(pa, analysis.rtp_streams),
        _table(pa, analysis.dtmf),
        dict(analysis.stats),
        span,
    )
    if schema is None:
        # An analysis that is not read as it goes (its tables are whole already).
        schema, batches = _batches(pa, analysis.messages)
        for b in batches:
            on_batch(b)

    wanted_call: str | None = None
    if args.call is not None:
        try:
            seen: set[str] = set()
            for b in kept:
                ids = b.column(b.schema.get_field_index("call_id"))
                starts = pc.fill_null(pc.starts_with(ids, pattern=args.call), False)
                seen.update(x for x in pc.unique(ids.filter(starts)).to_pylist() if x)
            wanted_call = _find_call(res.calls, args.call, sorted(seen))
        except LookupError as e:
            sys.stderr.write(f"sipwire analyze: {e}\n")
            return 1
    messages = pa.Table.from_batches(kept, schema=schema)
    if wanted_call is not None and not keep_all:
        messages = messages.filter(pc.equal(messages.column("call_id"), wanted_call))
    res.messages = messages
    written: list[Path] = []
    if writer is not None:
        out_schema = (
            schema
            if args.raw or "raw" not in schema.names
            else schema.remove(schema.get_field_index("raw"))
        )
        written.append(writer.close(out_schema))
        for name in TABLES[1:]:
            written.append(write_table(pa, getattr(res, name), args.out, name, args.format))
        (args.out / "stats.json").write_text(json.dumps(res.stats, indent=2, sort_keys=True) + "\n")
        written.append(args.out / "stats.json")

    summary = summarize(res)
    if interrupted:
        summary["interrupted"] = True
    if args.out is not None:
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        written.append(args.out / "summary.json")

    if wanted_call is not None:
        lads = call_rows(res, wanted_call, messages)
        if args.json:
            # One object, the first call's; later calls of a reused Call-ID under "other_calls".
            doc = _ladder_json(lads[0])
            doc["other_calls"] = [_ladder_json(lad) for lad in lads[1:]]
            json.dump(doc, out, indent=2)
            out.write("\n")
        else:
            unicode = (
                (getattr(out, "encoding", "") or "").lower().replace("-", "").startswith("utf")
            )
            out.write("\n".join(ladder_mod.render_text(lad, width, unicode, st) for lad in lads))
    elif args.json:
        json.dump(summary, out, indent=2)
        out.write("\n")
    else:
        out.write(format_summary(summary, res, st, width, max(0, args.list)))

    if args.html is not None:
        from sipwire.tools import report_html

        page = report_html.render(res, summary, ladders=max(0, args.html_ladders))
        try:
            args.html.write_text(page, encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot write {args.html}: {e.strerror}") from None
        sys.stderr.write(f"sipwire analyze: wrote {args.html}\n")
    if written:
        sys.stderr.write(f"sipwire analyze: wrote {len(written)} files to {args.out}\n")
    if interrupted:
        sys.stderr.write(
            "sipwire analyze: interrupted: the results cover the input read before Ctrl-C "
            f"({res.stats.get('records', 0):,} packets)\n"
        )
    return 0


def _ladder_json(lad: ladder_mod.Ladder) -> dict[str, Any]:
    def jsonable(v: Any) -> Any:
        if isinstance(v, bytes):
            return v.decode("utf-8", "backslashreplace")
        return v

    return {
        "call_id": lad.call_id,
        "part": list(lad.part),
        "call": {k: jsonable(v) for k, v in (lad.call or {}).items()},
        "hosts": [h.label for h in lad.hosts],
        "steps": [
            {
                "kind": s.kind,
                "time": s.time,
                "offset": s.time - lad.t0,
                "from": lad.hosts[s.src].label,
                "to": lad.hosts[s.dst].label,
                "label": s.label,
                "retransmission": s.retransmission,
                "notes": s.notes,
            }
            for s in lad.steps
        ],
    }
