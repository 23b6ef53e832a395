"""The programs in examples/ run and do what they say, against each other on loopback (the
registrar example runs against Kamailio in tests/interop/test_kamailio_ua.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(name: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(EXAMPLES / name), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_listening(p: subprocess.Popen[str]) -> None:
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line.startswith("listening on"), line


def finish(p: subprocess.Popen[str], timeout: float = 30) -> str:
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        raise AssertionError(f"{p.args} did not finish: {out}") from None
    assert p.returncode == 0, out
    return out


def test_uac_calls_uas_which_holds_and_resumes() -> None:
    port = free_port()
    uas = start("uas.py", "--port", str(port), "--calls", "1", "--hold-after", "0.2")
    wait_listening(uas)
    uac = start("uac.py", f"sip:service@127.0.0.1:{port}", "--seconds", "1.0")
    out = finish(uac)
    assert "progress 180" in out and "answered; remote RTP port 40000" in out, out
    assert "hung up" in out
    served = finish(uas)
    assert "hold 200" in served and "resume 200" in served and "ended" in served, served


def test_blind_transfer_example() -> None:
    p1, p2 = free_port(), free_port()
    bob = start(
        "uas.py", "--port", str(p1), "--calls", "1", "--hold-after", "3", "--accept-transfers"
    )
    carol = start("uas.py", "--port", str(p2), "--calls", "1", "--hold-after", "0.2")
    wait_listening(bob)
    wait_listening(carol)
    t = start("transfer.py", f"sip:bob@127.0.0.1:{p1}", f"sip:carol@127.0.0.1:{p2}")
    out = finish(t)
    assert "ended with 200" in out, out
    assert "ended" in finish(bob)
    served = finish(carol)
    assert "hold 200" in served and "ended" in served, served


def test_presence_watcher_follows_the_notifier() -> None:
    port = free_port()
    server = start("presence.py", "serve", "--port", str(port), "--watchers", "1")
    wait_listening(server)
    watcher = start("presence.py", "watch", f"sip:alice@127.0.0.1:{port}")
    out = finish(watcher)
    lines = [line for line in out.splitlines() if line]
    assert lines == [
        "active open",
        "active closed",
        "active open",
        "active closed",
        "terminated closed",
        "ended: noresource",
    ], out
    assert "watcher" in finish(server)


def test_read_capture_reads_the_bundled_capture() -> None:
    out = finish(start("read_capture.py"))
    # examples/calls.md is the ground truth: six RTP streams, one with 9 packets lost, and
    # the digits alice keyed.
    assert "71 SIP messages, 7 Call-IDs" in out, out
    assert "6 RTP streams" in out, out
    assert "lost=9" in out, out
    assert "DTMF: 123#" in out, out
    assert "problems counted: none" in out, out
