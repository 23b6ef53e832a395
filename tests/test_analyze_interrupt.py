"""A capture read from a live pipe (``tcpdump -w - | sipwire analyze -``): the progress shows
what was read while the pipe is quiet, a Ctrl-C ends the read and summarises what was read
(as tcpdump and tshark do), a second one quits at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa

import sipwire.capture

CAPTURE = Path(__file__).resolve().parent.parent / "examples" / "calls.pcapng"


def _half() -> tuple[bytes, bytes]:
    data = CAPTURE.read_bytes()
    return data[: len(data) // 2], data[len(data) // 2 :]


def _wait_for(pred: object, what: str, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout} s for {what}")


def test_counters_while_the_input_is_quiet() -> None:
    """`stats` answers while the read waits on a pipe that gives nothing (it waited for the
    read's lock, so a progress display froze until more bytes came), and `stop` ends the read
    at what it had: the tables of the first half."""
    first, rest = _half()
    r, w = os.pipe()
    with open(r, "rb") as src, open(w, "wb") as sink:
        cap = sipwire.capture.read(src)
        reader = threading.Thread(target=cap.finish, daemon=True)
        reader.start()
        sink.write(first)  # more than a pipe holds: the read takes it meanwhile
        sink.flush()
        _wait_for(lambda: cap.stats["records"] >= 700, "the records of the first half")
        assert reader.is_alive()  # still waiting on the pipe
        cap.stop()
        # The waiting read returns when the input goes on (or ends); the stop is seen within
        # 64 records. Less than a pipe holds, as nothing reads the rest.
        sink.write(rest[: 48 * 1024])
        sink.flush()
        reader.join(20)
        assert not reader.is_alive()
    whole = sipwire.capture.read(str(CAPTURE))
    total = pa.table(whole.messages).num_rows
    got = pa.table(cap.messages).num_rows
    assert 20 <= got < total
    assert 0 < cap.stats["records"] < whole.stats["records"]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _analyze_on_a_pipe() -> tuple[subprocess.Popen[bytes], int]:
    first, _ = _half()
    p = subprocess.Popen(
        [sys.executable, "-m", "sipwire", "analyze", "-", "--color", "never"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # A process started with SIGINT ignored keeps ignoring it (as a shell's background
        # job should), and some test before this one may have left it so in this process.
        preexec_fn=_default_sigint,
    )
    assert p.stdin is not None
    # More than a pipe holds: this returns once sipwire reads (its interrupt handling is
    # in place by then, whatever the machine's load made of its start-up).
    p.stdin.write(first)
    p.stdin.flush()
    time.sleep(0.5)
    return p, len(first)


def test_ctrl_c_summarises_what_was_read() -> None:
    """Ctrl-C on a terminal reaches the whole pipeline: the writer ends (the pipe's end) and
    sipwire summarises the packets it read."""
    p, _ = _analyze_on_a_pipe()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)  # closes stdin: the writer is gone
    text, errs = out.decode(), err.decode()
    assert p.returncode == 0, errs
    assert "interrupted: summarising what was read" in errs
    assert "the results cover the input read before Ctrl-C" in errs
    assert text.startswith("-: ") and "Calls (" in text
    packets = int(text.split("packets", 1)[0].split()[-1].replace(",", ""))
    assert 100 <= packets < 1601  # what was read before the stop: the first half, or most of it


def test_a_second_ctrl_c_quits_while_the_pipe_is_quiet() -> None:
    """The writer stays (the pipe open, nothing written): the first Ctrl-C cannot finish the
    read, the second leaves at once with the shell's code for an interrupt."""
    p, _ = _analyze_on_a_pipe()
    p.send_signal(signal.SIGINT)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    try:
        rc = p.wait(timeout=30)
    finally:
        p.kill()
        assert p.stdin is not None
        p.stdin.close()
    err = p.stderr.read().decode() if p.stderr else ""
    assert rc == 130, err
    assert "sipwire analyze: interrupted" in err and "Traceback" not in err
