"""The `sipwire` command."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from conftest import DATA

EXAMPLE = Path(__file__).parent.parent / "examples" / "invite.sip"


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sipwire", *args],
        input=None if stdin is None else stdin.decode("latin-1"),
        capture_output=True,
        text=True,
        check=False,
    )


def test_parse_example() -> None:
    r = run("parse", str(EXAMPLE))
    assert r.returncode == 0, r.stderr
    assert "INVITE request to sip:bob@biloxi.example.com" in r.stdout
    assert "branch=z9hG4bK776asdhds" in r.stdout
    assert "Body: 241 bytes (application/sdp)" in r.stdout


def test_parse_json_from_stdin() -> None:
    r = run("parse", "--json", "-", stdin=EXAMPLE.read_bytes())
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["method"] == "INVITE" and s["from"]["tag"] == "1928301774"
    assert s["via"][0]["rport"] is None


def test_parse_error_exits_nonzero_with_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sip"
    bad.write_bytes(EXAMPLE.read_bytes().replace(b"CSeq: 314159", b"CSeq: -1"))
    r = run("parse", str(bad))
    assert r.returncode == 1
    assert "bad.sip:7:" in r.stderr and "header CSeq" in r.stderr and "^" in r.stderr


def test_lenient_flag() -> None:
    path = DATA / "rfc4475" / "ltgtruri.dat"
    assert run("parse", str(path)).returncode == 1
    r = run("parse", "--lenient", str(path))
    assert r.returncode == 0 and "bracketed_request_uri" in r.stdout


def test_missing_file() -> None:
    r = run("parse", "/nonexistent/x.sip")
    assert r.returncode == 2 and "cannot read" in r.stderr


def test_a_capture_is_pointed_to_analyze(tmp_path: Path) -> None:
    """`sipwire parse calls.pcapng` is a capture handed to the one-message command: it says
    so and names the command that reads captures, instead of a parse error at byte 0."""
    capture = Path(__file__).parent.parent / "examples" / "calls.pcapng"
    r = run("parse", str(capture))
    assert r.returncode == 2, r.stderr
    assert "is a pcapng capture, not one SIP message" in r.stderr
    assert f"sipwire analyze {capture}" in r.stderr
    pcap = tmp_path / "x.pcap"
    pcap.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    with open(pcap, "rb") as f:
        b = subprocess.run(
            [sys.executable, "-m", "sipwire", "parse", "-"], stdin=f, capture_output=True
        )
    assert b.returncode == 2 and b"<stdin> is a pcap capture" in b.stderr
    # The reader's own list of formats: a modified pcap (magic a1b2cd34) is one too.
    modified = tmp_path / "m.pcap"
    modified.write_bytes(bytes.fromhex("34cdb2a1020004000000000000000000ffff000001000000"))
    r = run("parse", str(modified))
    assert r.returncode == 2 and "is a pcap capture" in r.stderr, r.stderr
    gz = tmp_path / "x.sip.gz"
    gz.write_bytes(gzip.compress(EXAMPLE.read_bytes()))
    r = run("parse", str(gz))
    assert r.returncode == 2 and "is gzip-compressed" in r.stderr and "unpacking" in r.stderr


def test_parse_into_a_closed_pipe_stops_quietly() -> None:
    # `sipwire parse FILE | head -1`: no BrokenPipeError traceback.
    r = subprocess.run(
        f"{sys.executable} -m sipwire parse {EXAMPLE} --json | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr
