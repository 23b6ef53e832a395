"""``sipwire fuzz`` against real servers on loopback.

- ``fragile_server.py`` (beside this file) dies on a NUL byte in a header line: a seeded
  campaign must find that, save it, shrink it (restarting the server with --restart-cmd) and
  write a replay command that kills a fresh server again. Over UDP and over TCP.
- Kamailio, as a stateless responder (``tests/data/kamailio/kamailio.cfg``): a bounded
  campaign over UDP and TCP must leave it answering, with no finds.

Kamailio comes from the Debian package ``kamailio`` (``scripts/dev.sh setup`` installs it).
In CI (``CI`` set) a missing ``kamailio`` is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import peers
import pytest
from peers import HOST, free_port

from sipwire import campaign
from sipwire.campaign import Config, Target

HERE = Path(__file__).parent
FRAGILE = HERE / "fragile_server.py"
KAMAILIO_CFG = HERE.parent / "data" / "kamailio" / "kamailio.cfg"
CRASH_STATUS = 70
# Seed 1 hits the server's bug (control_bytes puts a NUL in a header) in round 1.
SEED = 1


def wait_answering(target: Target, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            campaign.replay(target, [], probe_timeout=0.2, probe_tries=1)
            return
        except campaign.TargetDown:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def sipwire_fuzz(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sipwire", "fuzz", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- the fragile server ---------------------------------------------------------------------


@dataclass
class Fragile:
    target: Target
    command: list[str]
    pidfile: Path

    def start(self) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_answering(self.target)
        return p

    @property
    def restart_cmd(self) -> str:
        return " ".join(map(shlex.quote, self.command)) + " 2>/dev/null &"


def stop_pidfile(pidfile: Path) -> None:
    """Kills the server a restart command left running, if it is still ours."""
    try:
        pid = int(pidfile.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if b"fragile_server" in cmdline:
        os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def fragile_server(transport: str, tmp_path: Path, *extra: str) -> Iterator[Fragile]:
    port = free_port()
    pidfile = tmp_path / "fragile.pid"
    command = [sys.executable, str(FRAGILE), "--transport", transport, "--port", str(port)]
    command += ["--pidfile", str(pidfile), *extra]
    server = Fragile(Target.parse(f"{transport}:{HOST}:{port}"), command, pidfile)
    first = server.start()
    try:
        yield server
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(5)
        stop_pidfile(pidfile)


@pytest.fixture(params=["udp", "tcp"])
def fragile(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fragile]:
    with fragile_server(request.param, tmp_path) as server:
        yield server


def test_finds_minimises_and_replays_the_crash(fragile: Fragile, tmp_path: Path) -> None:
    out = tmp_path / "finds"
    r = sipwire_fuzz(
        "--seed", str(SEED), "--rounds", "3", "--rate", "500", "--probe-timeout", "0.3",
        "--max-finds", "1", "--out", str(out), "--restart-cmd", fragile.restart_cmd,
        str(fragile.target),
    )  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert "finds: 1" in r.stdout and "stopped (1 finds)" in r.stdout, r.stdout
    crashes = sorted(out.glob("crash-*.sip"))
    originals = [p for p in crashes if p.name.endswith(".orig.sip")]
    finds = [p for p in crashes if not p.name.endswith(".orig.sip")]
    assert len(finds) == 1 and len(originals) == 1, crashes
    find, original = finds[0], originals[0]
    assert find.name.startswith(f"crash-{SEED}-1-")
    assert len(find.read_bytes()) < len(original.read_bytes())
    assert b"\x00" in find.read_bytes()
    assert (out / f"window-{SEED}-1" / "README.txt").is_file()
    # The note beside it holds the command that replays it.
    note = find.with_suffix(".txt").read_text()
    (replay_line,) = [ln.strip() for ln in note.splitlines() if "--replay" in ln]
    argv = shlex.split(replay_line)
    assert argv[:2] == ["sipwire", "fuzz"] and str(find) in argv
    assert argv[-1] == str(fragile.target)
    # The server the campaign left running still answers; the replay stops it.
    stop_pidfile(fragile.pidfile)
    server = fragile.start()
    try:
        rr = sipwire_fuzz(*argv[2:], timeout=30)
        assert rr.returncode == 1, rr.stdout + rr.stderr
        assert "it answered OPTIONS after: no" in rr.stdout
        assert server.wait(5) == CRASH_STATUS
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(5)


def test_without_restart_the_window_is_saved_whole(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, str(FRAGILE), "--transport", "udp", "--port", str(port)]
    target = Target("udp", HOST, port)
    server = Fragile(target, command, tmp_path / "unused.pid").start()
    out = tmp_path / "finds"
    try:
        summary = campaign.Campaign(
            Config(target, seed=SEED, rounds=3, rate=500, probe_timeout=0.3, out=out)
        ).run()
        assert server.wait(5) == CRASH_STATUS
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(5)
    assert not summary.alive and summary.exit_code == 1
    assert summary.stopped == "the target stopped answering" and summary.rounds == 1
    (find,) = summary.finds
    assert not find.minimised and find.path == out / f"window-{SEED}-1"
    assert "not minimised" in find.note
    files = sorted(find.path.glob("*.sip"))
    assert files and any(b"\x00" in f.read_bytes() for f in files)
    assert "not minimised" in (find.path / "README.txt").read_text()
    assert not list(out.glob("crash-*")), "nothing is minimised without a restart command"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_delayed_crash_is_kept_shrunk_and_replayed(transport: str, tmp_path: Path) -> None:
    # The server dies 0.3 s after the killing message (round 1), answering until then: the
    # probes of the next rounds are answered, so the message is several rounds back when
    # the target goes quiet. (Bisecting ~60 messages costs a dozen replays of ~0.5 s; the
    # budget leaves time to shrink the message by lines even on a busy machine.)
    out = tmp_path / "finds"
    with fragile_server(transport, tmp_path, "--delay", "0.3") as fragile:
        r = sipwire_fuzz(
            "--seed", str(SEED), "--duration", "3", "--rate", "200", "--probe-timeout", "0.3",
            "--max-finds", "1", "--minimise-budget", "15", "--out", str(out),
            "--restart-cmd", fragile.restart_cmd, str(fragile.target),
        )  # fmt: skip
        assert r.returncode == 1, r.stdout + r.stderr
        assert "finds: 1" in r.stdout and "FLAKY" not in r.stdout, r.stdout
        (window,) = out.glob("window-*")
        sent = sorted(window.glob("*.sip"))
        # The window reaches back past round 1, where the killing message was sent.
        assert any("-r1-" in p.name for p in sent) and any("-r2-" in p.name for p in sent)
        killers = [p for p in sent if b"\x00" in p.read_bytes().split(b"\r\n\r\n")[0]]
        assert killers, "the killing message is in the saved window"
        (find,) = [p for p in out.glob("crash-*.sip") if not p.name.endswith(".orig.sip")]
        original = find.with_name(find.name.replace(".sip", ".orig.sip"))
        assert b"\x00" in find.read_bytes()
        assert len(find.read_bytes()) < len(original.read_bytes())
        note = find.with_suffix(".txt").read_text()
        assert "went quiet" in note, note
        (replay_line,) = [ln.strip() for ln in note.splitlines() if "--replay" in ln]
        argv = shlex.split(replay_line)
        assert "--linger" in argv
        # A fresh server, killed by the replay (it waits for the delayed death).
        stop_pidfile(fragile.pidfile)
        server = fragile.start()
        try:
            rr = sipwire_fuzz(*argv[2:], timeout=30)
            assert rr.returncode == 1, rr.stdout + rr.stderr
            assert "it answered OPTIONS after: no" in rr.stdout
            assert server.wait(5) == CRASH_STATUS
        finally:
            if server.poll() is None:
                server.kill()
                server.wait(5)


def test_without_restart_a_delayed_crash_is_in_the_window(tmp_path: Path) -> None:
    out = tmp_path / "finds"
    with fragile_server("udp", tmp_path, "--delay", "0.3") as fragile:
        summary = campaign.Campaign(
            Config(fragile.target, seed=SEED, duration=3, rate=500, probe_timeout=0.3, out=out)
        ).run()
    assert not summary.alive and summary.stopped == "the target stopped answering"
    assert summary.rounds > 2
    (find,) = summary.finds
    files = sorted(find.path.glob("*.sip"))
    assert any(b"\x00" in f.read_bytes() for f in files if "-r1-" in f.name)
    readme = (find.path / "README.txt").read_text()
    assert "before the suspect window" in readme and "--linger" in readme


def test_a_crash_that_does_not_reproduce_is_kept_as_flaky(tmp_path: Path) -> None:
    # The server dies on the first NUL only: after the restart nothing kills it again.
    out = tmp_path / "finds"
    once = tmp_path / "died"
    with fragile_server("udp", tmp_path, "--die-once", str(once)) as fragile:
        r = sipwire_fuzz(
            "--seed", str(SEED), "--rounds", "3", "--rate", "500", "--probe-timeout", "0.3",
            "--max-finds", "1", "--out", str(out), "--restart-cmd", fragile.restart_cmd,
            str(fragile.target),
        )  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert "finds: 1" in r.stdout and "FLAKY" in r.stdout, r.stdout
    (window,) = out.glob("window-*")
    assert "FLAKY" in (window / "README.txt").read_text()
    assert not list(out.glob("crash-*"))


def test_sipwire_load_answer_survives_a_campaign(tmp_path: Path) -> None:
    """The Rust answering engine (``sipwire load answer``) against hostile messages and
    hostile requests inside its dialogs: it keeps answering, every request answered."""
    port = free_port()
    cmd = [sys.executable, "-m", "sipwire", "load", "answer", "--port", str(port), "--quiet"]
    server = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        target = Target("udp", HOST, port)
        wait_answering(target)
        r = sipwire_fuzz(
            "--seed", "5", "--count", "400", "--rate", "1000", "--probe-timeout", "1",
            "--dialog-classes", "all", "--out", str(tmp_path), str(target),
        )  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
        assert "finds: 0" in r.stdout and "requests unanswered 0" in r.stdout
        assert server.poll() is None
    finally:
        server.kill()
        server.wait(5)


# --- Kamailio -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kamailio(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    with peers.kamailio(KAMAILIO_CFG, tmp_path_factory.mktemp("kamailio")) as running:
        yield running


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_kamailio_keeps_answering(
    kamailio: tuple[int, subprocess.Popen[bytes]], transport: str, tmp_path: Path
) -> None:
    port, proc = kamailio
    r = sipwire_fuzz(
        "--seed", "3", "--count", "300", "--rate", "500", "--probe-timeout", "1",
        "--out", str(tmp_path), f"{transport}:{HOST}:{port}",
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "finds: 0" in r.stdout and "target answering at the end: yes" in r.stdout
    assert "stopped (300 messages sent)" in r.stdout
    assert "unanswered 0" in r.stdout
    # Most hostile classes were sent (300 messages, half of them hostile, 17 classes).
    hostile = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith("hostile:"))
    assert hostile.count(",") >= 12, hostile
    assert proc.poll() is None, "kamailio exited"
    assert not list(tmp_path.iterdir())
