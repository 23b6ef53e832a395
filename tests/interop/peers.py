"""What the interop tests share: finding a real peer (never a silent skip in CI) and ports."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

HOST = "127.0.0.1"


def peer_binary(name: str, package: str) -> str:
    """The path of ``name``; a skip locally, a failure in CI (``CI`` set), when missing."""
    path = shutil.which(name)
    if path is None:
        message = (
            f"{name} not found: install the Debian package {package} "
            f"(apt-get install -y {package}, or scripts/dev.sh setup)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the interop tests", pytrace=False)
        pytest.skip(message)
    return path


def free_port() -> int:
    """A port free for both UDP and TCP on loopback."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((HOST, 0))
            port: int = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind((HOST, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


@contextlib.contextmanager
def kamailio(cfg: Path, rundir: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """Kamailio in the foreground with ``cfg`` on a free UDP+TCP port of 127.0.0.1, in its
    own process group (it forks workers); up once it answers OPTIONS. Yields (port, process)."""
    binary = peer_binary("kamailio", "kamailio")
    port = free_port()
    cmd = [binary, "-DD", "-E", "-f", str(cfg), "-Y", str(rundir), "-m", "32", "-M", "4"]
    cmd += ["-n", "1", "-l", f"udp:{HOST}:{port}", "-l", f"tcp:{HOST}:{port}"]
    log_path = rundir / "kamailio.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
        try:
            if not answers_options(port, within=15):
                proc.poll()
                raise AssertionError(
                    f"kamailio did not answer: {log_path.read_text(errors='replace')[-2000:]}"
                )
            yield port, proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)


def answers_options(port: int, *, within: float) -> bool:
    """Whether something on 127.0.0.1:``port`` answers an OPTIONS over UDP in time."""
    deadline = time.monotonic() + within
    n = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        s.settimeout(0.3)
        me = s.getsockname()[1]
        while time.monotonic() < deadline:
            n += 1
            probe = (
                f"OPTIONS sip:{HOST}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {HOST}:{me};branch=z9hG4bKprobe{n}\r\n"
                "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\n"
                f"To: <sip:{HOST}:{port}>\r\nCall-ID: probe{n}\r\nCSeq: {n} OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n"
            )
            s.sendto(probe.encode(), (HOST, port))
            try:
                if s.recv(65536).startswith(b"SIP/2.0 "):
                    return True
            except OSError:
                time.sleep(0.2)
    return False


def _bound(port: int, *, tcp: bool) -> bool:
    """Whether a socket on this machine is bound to ``port`` (UDP) or listens on it (TCP),
    read from the kernel's socket tables."""
    names = ("tcp", "tcp6") if tcp else ("udp", "udp6")
    for name in names:
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or not fields[1].endswith(f":{port:04X}"):
                continue
            if not tcp or fields[3] == "0A":  # 0A: TCP_LISTEN
                return True
    return False


def wait_bound(
    proc: subprocess.Popen[bytes], port: int, *, tcp: bool = False, within: float = 15
) -> None:
    """Wait until the peer ``proc`` has bound ``port``: a fixed sleep loses to a slow start
    on a loaded CI machine, and a datagram sent before the bind is refused (ICMP)."""
    deadline = time.monotonic() + within
    while not _bound(port, tcp=tcp):
        if proc.poll() is not None:
            raise AssertionError(f"the peer exited ({proc.returncode}) before binding {port}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the peer did not bind port {port} within {within} s")
        time.sleep(0.02)
