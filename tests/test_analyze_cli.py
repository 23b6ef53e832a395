"""``sipwire analyze`` on the bundled capture, checked against examples/calls.md: the summary
(calls, outcomes, ASR, delays, failures, RTP loss, DTMF), ``--json``, ``--call`` ladders,
``--out`` tables read back, the progress line, colours, and escaping of hostile capture text.

Until the extension has ``sipwire.capture.analyze`` the tests run on the stand-in in
analyze_standin.py (same attributes and columns); with the real one they run on it.

The README opens with this command's output; ``python tests/test_analyze_cli.py
--update-readme`` writes the current output there when it changes on purpose.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import analyze_standin
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest

import sipwire.capture
from sipwire.cli import main
from sipwire.tools import analyze as tool
from sipwire.tools import ladder
from sipwire.tools._text import Style, clean, seconds

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "examples" / "calls.pcapng"
NOTES = ROOT / "examples" / "calls.md"
README = ROOT / "README.md"
SLACK = 0.05  # calls.md's times are the agents'; the capture's agree to a few ms
README_ARGS = ["analyze", "examples/calls.pcapng", "--quiet", "--color", "never", "--width", "100"]
ESC = "\x1b"


def md_table(heading: str) -> list[dict[str, str]]:
    lines = NOTES.read_text().splitlines()
    rows: list[str] = []
    for ln in lines[lines.index(f"## {heading}") + 1 :]:
        if ln.startswith("|"):
            rows.append(ln)
        elif rows or ln.startswith("## "):
            break
    names = [c.strip() for c in rows[0].strip("|").split("|")]
    return [dict(zip(names, (c.strip() for c in r.strip("|").split("|")))) for r in rows[2:]]


CALLS = md_table("Calls")
STREAMS = md_table("RTP streams")
DIGITS = md_table("DTMF (RFC 4733)")
OUTCOME = {200: "answered", 486: "busy", 487: "cancelled"}


def final(row: dict[str, str]) -> int:
    return int(row["final"].split()[0])


@pytest.fixture(autouse=True)
def analyze_available(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(sipwire.capture, "analyze"):
        monkeypatch.setattr(sipwire.capture, "analyze", analyze_standin.analyze, raising=False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["analyze", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def summary_text(capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    rc, out, _ = run(capsys, str(CAPTURE), "--quiet", "--color", "never", *extra)
    assert rc == 0
    return out


def test_summary_lists_every_call_of_calls_md(capsys: pytest.CaptureFixture[str]) -> None:
    out = summary_text(capsys, "--width", "100")
    assert ESC not in out
    lines = out.splitlines()
    for row in CALLS:
        line = next(ln for ln in lines if row["Call-ID"] in ln)
        start = line.split()[0]
        assert abs(float(start) - float(row["INVITE"])) < SLACK, line
        assert f" {OUTCOME[final(row)]} " in line, line
        assert re.search(rf"\s{final(row)}\s", line), line
    # Calls 1, 2 and 5 were answered; 3 was busy, 4 cancelled.
    assert re.search(r"^Calls\s+5$", out, re.M)
    assert re.search(r"^  answered\s+3\s+60\.0%$", out, re.M)
    assert re.search(r"^  busy\s+1\s+20\.0%$", out, re.M)
    assert re.search(r"^  cancelled\s+1\s+20\.0%$", out, re.M)
    assert re.search(
        r"^Answer-seizure ratio \(ASR\)\s+60\.0%\s+3 answered of 5 attempts", out, re.M
    )
    assert re.search(r"^  486 Busy Here\s+1$", out, re.M)
    assert re.search(r"^  487 Request Terminated\s+1$", out, re.M)
    assert "RTP streams                         6" in out
    assert "9 lost" in out and "1 with loss" in out
    call1 = CALLS[0]["Call-ID"]
    assert re.search(rf"^  {call1}\s+1 2 3 #$", out, re.M)
    assert "Capture problems  none" in out
    assert "no parse errors" in out
    # Call 5 is the one with loss: its line shows it, and it is the worst stream.
    call5 = CALLS[4]["Call-ID"]
    assert re.search(rf"{call5}.*\s3\.6%\s", out)
    assert f"worst: 127.0.0.30:40030 → 127.0.0.10:40010 ({call5}): 9 lost (3.6%), jitter" in out


def test_summary_fits_the_width(capsys: pytest.CaptureFixture[str]) -> None:
    for width in (80, 100, 140):
        out = summary_text(capsys, "--width", str(width))
        assert max(len(ln) for ln in out.splitlines()) <= width, width


@pytest.mark.parametrize(
    ("loss", "jitter", "shown"),
    [
        (0.0, 2.5, ("0.0%", "2.5ms")),
        (12.34, 14.7, ("12.3%", "15ms")),
        (100.0, 250.0, ("100%", "250ms")),
        (-12.5, 1234.0, ("-12%", "1.23s")),
        (-0.4, 99_999.0, ("-0.4%", "1m40s")),
    ],
)
def test_call_list_cells_are_whole_at_any_value(
    loss: float, jitter: float, shown: tuple[str, str]
) -> None:
    """A damaged stream's loss (100 %, or below zero with duplicates) and jitter (corrupted RTP
    timestamps: seconds) fit their columns whole instead of being cut with "…"."""
    cells = (tool.loss_cell(loss), tool.jitter_cell(jitter))
    assert cells == shown
    assert len(cells[0]) <= 5 and len(cells[1]) <= 6


def test_no_retransmission_is_reported_where_none_was_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The forked call's 2xx ACK is on two hops (frames 772 and 778, the proxy's copy with
    # its own Via): one ACK each, no retransmission.
    s = json.loads(summary_text(capsys, "--json"))
    assert s["retransmissions"]["count"] == 0


def test_a_file_named_twice_is_read_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The capture and a link to it (or its directory and itself): read once, said on stderr;
    read twice, each message would count as a retransmission."""
    link = tmp_path / "link.pcapng"
    link.symlink_to(CAPTURE)
    for extra in ([str(link)], [str(CAPTURE), str(tmp_path)]):
        rc, out, err = run(capsys, str(CAPTURE), *extra, "--quiet", "--json")
        assert rc == 0
        s = json.loads(out)
        assert s["capture"]["sip_messages"] == 71 and s["retransmissions"]["count"] == 0
        assert f"{link} is the file {CAPTURE} again: read once" in err
    # The engines' walk keeps it once too (silently: the engines' callers say nothing).
    from sipwire.capture import _engine

    assert _engine.expand([str(CAPTURE), str(tmp_path)]) == [str(CAPTURE)]
    with pytest.warns(UserWarning, match="again: read once"):
        a = sipwire.capture.analyze([str(CAPTURE), str(link)])
    assert pa.table(a.messages).num_rows == 71


def test_threads_one_and_two_give_the_same_summary(capsys: pytest.CaptureFixture[str]) -> None:
    one = json.loads(summary_text(capsys, "--json", "--threads", "1"))
    two = json.loads(summary_text(capsys, "--json", "--threads", "2"))
    assert one == two and one["calls"]["total"] == 5
    with pytest.raises(SystemExit) as e:
        run(capsys, str(CAPTURE), "--threads", "4")
    assert e.value.code == 2 and "--threads" in capsys.readouterr().err


def test_json_summary_agrees_with_calls_md(capsys: pytest.CaptureFixture[str]) -> None:
    s = json.loads(summary_text(capsys, "--json"))
    c = s["calls"]
    assert c["total"] == len(CALLS) == 5
    assert c["by_outcome"] == {"answered": 3, "busy": 1, "cancelled": 1}
    assert c["attempts"] == 5 and c["answered"] == 3 and c["asr"] == pytest.approx(0.6)
    answered = [r for r in CALLS if final(r) == 200]
    setups = sorted(float(r["answered"]) - float(r["INVITE"]) for r in answered)
    assert s["setup_time"]["n"] == 3
    assert s["setup_time"]["p50"] == pytest.approx(setups[1], abs=SLACK)
    assert s["setup_time"]["max"] == pytest.approx(setups[-1], abs=SLACK)
    talks = [float(r["ended"]) - float(r["answered"]) for r in answered]
    assert c["acd"] == pytest.approx(sum(talks) / len(talks), abs=SLACK)
    # Post-dial delay is INVITE to the first 180-189 (the busy call had none).
    assert s["post_dial_delay"]["n"] == 4
    # Session request delay (RFC 6076 §4.2) has every call: the busy one's is to its 486
    # ("ended" in calls.md), the longest.
    busy = next(r for r in CALLS if final(r) == 486)
    assert s["srd"]["n"] == 5
    assert s["srd"]["max"] == pytest.approx(float(busy["ended"]) - float(busy["INVITE"]), abs=SLACK)
    assert s["srd"]["p50"] == pytest.approx(s["post_dial_delay"]["p50"], abs=SLACK)
    assert {f["status"]: f["calls"] for f in s["failures"]} == {486: 1, 487: 1}
    rtp = s["rtp"]
    assert rtp["streams"] == len(STREAMS)
    assert rtp["packets"] == sum(int(r["packets"]) for r in STREAMS)
    assert rtp["lost"] == sum(int(r["lost"]) for r in STREAMS) == 9
    assert rtp["streams_with_loss"] == 1
    assert s["dtmf"]["digits"] == len(DIGITS)
    assert s["dtmf"]["info"] == 0
    digits = [r["digit"] for r in DIGITS]
    assert s["dtmf"]["calls"] == [
        {"call_id": CALLS[0]["Call-ID"], "digits": "".join(digits), "sequence": digits}
    ]
    assert s["capture"]["sip_messages"] == 71 and s["capture"]["records"] == 1601
    assert s["capture"]["seconds"] == pytest.approx(31.8, abs=0.2)
    assert s["problems"] == {}


def test_requests_by_method_count_the_messages(capsys: pytest.CaptureFixture[str]) -> None:
    """Every request by its method and every response by its CSeq method and status, as the
    messages table holds them; registrations are there though they are no calls."""
    s = json.loads(summary_text(capsys, "--json"))
    rows = pa.table(sipwire.capture.read(str(CAPTURE)).messages).to_pylist()
    want: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["method"] is not None:
            want.setdefault(r["method"], {"requests": 0, "statuses": {}})["requests"] += 1
        else:
            m = want.setdefault(r["cseq_method"], {"requests": 0, "statuses": {}})
            m["statuses"][str(r["status"])] = m["statuses"].get(str(r["status"]), 0) + 1
    got = {
        m["method"]: {"requests": m["requests"], "statuses": m["statuses"]} for m in s["methods"]
    }
    assert got == want
    # calls.md: two phones sign in and out, each REGISTER challenged once.
    assert got["REGISTER"] == {"requests": 8, "statuses": {"401": 4, "200": 4}}
    reg = next(m for m in s["methods"] if m["method"] == "REGISTER")
    assert reg["responses"] == {"2xx": 4, "4xx": 4}
    text = summary_text(capsys)
    line = next(ln for ln in text.splitlines() if ln.startswith("  REGISTER"))
    assert line.split() == ["REGISTER", "8", "4", "4"]


def test_made_up_methods_are_bounded() -> None:
    span = tool.Span()
    methods = [f"X{i}" for i in range(100)]
    span.add(
        pa.record_batch(
            {
                "time": pa.array([0] * 101, pa.timestamp("ns", tz="UTC")),
                "method": [*methods, None],
                "status": pa.array([None] * 100 + [200], pa.uint16()),
                "cseq_method": [*methods, "X99"],
                "parse_error": pa.array([None] * 101, pa.string()),
            }
        )
    )
    rows = {m["method"]: m for m in span.methods()}
    assert len(rows) == tool.MAX_METHODS + 1
    assert sum(m["requests"] for m in rows.values()) == 100
    assert rows[tool.OTHER_METHOD]["statuses"] == {"200": 1}


def test_responses_count_by_cseq_method_and_status() -> None:
    """Pairs of CSeq method and status counted across batches; a response whose CSeq did not
    parse counts under "?"."""
    span = tool.Span()
    for _ in range(2):
        span.add(
            pa.record_batch(
                {
                    "time": pa.array([0] * 6, pa.timestamp("ns", tz="UTC")),
                    "method": pa.array([None] * 6, pa.string()),
                    "status": pa.array([200, 200, 486, 200, None, 999], pa.uint16()),
                    "cseq_method": ["INVITE", "BYE", "INVITE", None, "INVITE", "INVITE"],
                    "parse_error": pa.array([None] * 6, pa.string()),
                }
            )
        )
    rows = {m["method"]: m["statuses"] for m in span.methods()}
    assert rows == {"INVITE": {"200": 2, "486": 2, "999": 2}, "BYE": {"200": 2}, "?": {"200": 2}}


def test_call_ladder_of_the_hold_and_resume(capsys: pytest.CaptureFixture[str]) -> None:
    call1 = CALLS[0]["Call-ID"]
    rc, out, _ = run(
        capsys, str(CAPTURE), "--quiet", "--color", "never", "--width", "120", "--call", call1[:6]
    )
    assert rc == 0
    assert out.startswith(f"Call {call1}\n")
    assert ESC not in out
    assert max(len(ln) for ln in out.splitlines()) <= 120
    head = out.splitlines()[4]
    assert head.index("127.0.0.10:5070") < head.index("127.0.0.30:5070")  # caller first
    arrows = [ln for ln in out.splitlines() if re.match(r"^\s*\d+\.\d{3}\s", ln)]
    labels = [re.search(r"[─╌►◄] ([A-Z0-9][^─╌►◄]*?) [─╌►◄]", ln) for ln in arrows]
    seq = [m.group(1) for m in labels if m]
    assert seq[:5] == ["INVITE", "100 Trying", "180 Ringing", "200 OK", "ACK"]
    assert seq.count("INVITE") == 3 and seq[-2:] == ["BYE", "200 OK"]
    assert seq.count("RTP PCMU") == 2
    assert [s for s in seq if s.startswith("DTMF")] == [f"DTMF {r['digit']}" for r in DIGITS]
    # Direction: the first INVITE goes right (alice to carol), the re-INVITEs left.
    invites = [ln for ln in arrows if " INVITE " in ln]
    assert "─ INVITE ─" in invites[0] and "►│" in invites[0]
    assert all("│◄─" in ln for ln in invites[1:])
    # Relative times: the 200 OK at calls.md's answer time after the INVITE.
    ok = next(ln for ln in arrows if "200 OK" in ln)
    answered = float(CALLS[0]["answered"]) - float(CALLS[0]["INVITE"])
    assert abs(float(ok.split()[0]) - answered) < SLACK
    # SDP notes: the offer, the hold (sendonly answered recvonly), the resume.
    assert "SDP offer audio 127.0.0.10:40010 sendrecv PT 0 8 101" in out
    assert "SDP answer audio 127.0.0.30:40030 sendrecv PCMU" in out
    assert "SDP offer audio 127.0.0.30:40030 sendonly (hold)" in out
    assert "SDP answer audio 127.0.0.10:40010 recvonly PCMU" in out
    # RTP notes (wrapped beside the lifelines): packets, loss and jitter per stream.
    flat = re.sub(r"\s*\n[\s│]*", " ", out)
    assert "127.0.0.10:40010 → 127.0.0.30:40030: 293 pkts, 0 lost (0.0%), jitter" in flat
    assert "127.0.0.30:40030 → 127.0.0.10:40010: 443 pkts, 0 lost" in flat


def test_call_ladder_of_the_fork_through_the_proxy(capsys: pytest.CaptureFixture[str]) -> None:
    call2 = CALLS[1]["Call-ID"]
    rc, out, _ = run(
        capsys, str(CAPTURE), "--quiet", "--color", "never", "--width", "100", "--call", call2
    )
    assert rc == 0
    head = out.splitlines()[out.splitlines().index("") + 1]
    hosts = re.findall(r"\d+\.\d+\.\d+\.\d+:\d+", head)
    assert hosts == ["127.0.0.10:5070", "127.0.0.1:5170", "127.0.0.20:5070", "127.0.0.21:5070"]
    assert max(len(ln) for ln in out.splitlines()) <= 100
    assert "CANCEL" in out and "487 Request Term" in out
    assert out.count("180 Ringing") == 4  # each phone's, and each forwarded to alice
    assert "SDP answer audio 127.0.0.21:40021 sendrecv PCMU" in out


def test_call_ladder_in_ascii_and_narrow(capsys: pytest.CaptureFixture[str]) -> None:
    res = analyze_result()
    (lad,) = tool.call_rows(
        res, CALLS[1]["Call-ID"], pa.table(sipwire.capture.analyze(str(CAPTURE)).messages)
    )
    text = ladder.render_text(lad, width=60, unicode=False)
    assert text.isascii()
    assert max(len(ln) for ln in text.splitlines()) <= 60
    assert "|" in text and ">" in text


def test_ladder_of_a_registration(capsys: pytest.CaptureFixture[str]) -> None:
    """A REGISTER exchange is no call, but --call draws its messages (calls.md: each
    REGISTER is challenged with a 401, then sent again with the digest and answered 200)."""
    rows = pa.table(sipwire.capture.read(str(CAPTURE)).messages).to_pylist()
    reg = next(r["call_id"] for r in rows if r["method"] == "REGISTER")
    want = [r["method"] or str(r["status"]) for r in rows if r["call_id"] == reg]
    rc, out, err = run(capsys, str(CAPTURE), "--quiet", "--color", "never", "--call", reg)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Call-ID {reg}"
    assert lines[1].startswith("not a call (REGISTER): ")
    drawn = [w for ln in lines for w in ln.split() if w in ("REGISTER", "401", "200")]
    assert drawn == want


def test_unknown_call(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, str(CAPTURE), "--quiet", "--call", "nope")
    assert rc == 1 and out == ""
    assert "no call or message with Call-ID 'nope'" in err


def test_missing_capture_and_missing_analyze(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rc, _, err = run(capsys, str(tmp_path / "none.pcap"))
    assert rc == 2 and "no such capture" in err
    monkeypatch.delattr(sipwire.capture, "analyze", raising=False)
    rc, _, err = run(capsys, str(CAPTURE), "--quiet")
    assert rc == 2 and "sipwire.capture.analyze" in err


def bad_inputs(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """Inputs that are no capture: the path given and what the message must say."""
    noise = tmp_path / "noise.pcap"
    noise.write_bytes(bytes(range(7, 256)) * 40)  # starts 07 08 09 0a: no capture's magic
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    return {
        "random bytes": (str(noise), f"{noise}: not a capture: first bytes 07 08 09 0a"),
        "missing": (str(tmp_path / "none.pcap"), f"no such capture: {tmp_path / 'none.pcap'}"),
        "directory": (
            str(tmp_path),
            f"no capture files found in [{str(tmp_path)!r}] (2 files there, none a capture)",
        ),
        "empty": (str(empty), f"{empty} is empty: not a capture"),
    }


def test_a_directory_is_walked_past_what_is_not_a_capture(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A directory of rotated captures is read whole, here as elsewhere; a README among them
    is passed over and said, not an error that stops the job."""
    (tmp_path / "a.pcapng").write_bytes(CAPTURE.read_bytes())
    (tmp_path / "README.txt").write_text("captures of the lab, 2026-12\n")
    rc, out, err = run(capsys, str(tmp_path), "--quiet", "--color", "never")
    assert rc == 0
    assert f"skipped 1 file that is not a capture: {tmp_path / 'README.txt'}" in err
    assert "71 SIP messages" in out


@pytest.mark.parametrize("case", ["random bytes", "missing", "directory", "empty"])
def test_what_is_no_capture_is_told_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    path, said = bad_inputs(tmp_path)[case]
    rc, out, err = run(capsys, path)
    assert rc == 2 and out == ""
    (last,) = [ln for ln in err.splitlines() if ln.startswith("sipwire analyze:")]
    assert last.startswith(f"sipwire analyze: {said}")
    assert "Traceback" not in err


def test_the_one_file_that_is_no_capture_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path, said = bad_inputs(tmp_path)["random bytes"]
    rc, _, err = run(capsys, str(CAPTURE), path, "--quiet")
    assert rc == 2 and f"sipwire analyze: {said}" in err


def test_a_truncated_capture_is_analysed_up_to_the_cut(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cut = tmp_path / "cut.pcapng"
    data = CAPTURE.read_bytes()
    cut.write_bytes(data[: len(data) // 2 + 7])  # the middle of a block
    rc, out, err = run(capsys, str(cut), "--quiet", "--color", "never")
    assert rc == 0
    assert "ends in the middle of a record" in err and "Traceback" not in err
    assert re.search(r"truncated_file\s+1", out)
    assert "Calls" in out


def test_no_traceback_from_the_reading_thread(tmp_path: Path) -> None:
    """The command as a user runs it: the reader fails in its thread, the user reads one line."""
    import subprocess

    # Compressed, it starts as a capture may: the reader finds out in its thread.
    path = tmp_path / "noise.pcap.gz"
    path.write_bytes(gzip.compress(bytes(range(7, 256)) * 40))
    said = f"{path}: not a capture: first bytes after gzip decompression 07 08 09 0a"
    p = subprocess.run(
        [sys.executable, "-m", "sipwire", "analyze", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert f"sipwire analyze: {said}" in p.stderr


@pytest.mark.parametrize("fmt", ["parquet", "arrow", "csv"])
def test_out_writes_every_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    out_dir = tmp_path / "tables"
    rc, _, err = run(
        capsys, str(CAPTURE), "--quiet", "--json", "--out", str(out_dir), "--format", fmt
    )
    assert rc == 0 and "wrote 7 files" in err
    names = {p.name for p in out_dir.iterdir()}
    assert names == {f"{t}.{fmt}" for t in tool.TABLES} | {"stats.json", "summary.json"}
    ref = sipwire.capture.analyze(str(CAPTURE))
    for t in tool.TABLES:
        path = out_dir / f"{t}.{fmt}"
        if fmt == "parquet":
            got = pq.read_table(path)
        elif fmt == "arrow":
            got = pyarrow.ipc.open_file(path).read_all()
        else:
            got = pa_csv.read_csv(path)
        want = pa.table(getattr(ref, t))
        assert got.num_rows == want.num_rows, t
        assert got.column_names == want.column_names, t
        if fmt != "csv":  # CSV has no types: lists are written "0 8 101"
            assert got.equals(want), t
    assert (
        "raw" not in pq.read_schema(out_dir / "messages.parquet").names
        if fmt == "parquet"
        else True
    )
    stats = json.loads((out_dir / "stats.json").read_text())
    assert stats["sip_messages"] == 71
    assert json.loads((out_dir / "summary.json").read_text())["calls"]["total"] == 5


def test_out_raw_keeps_the_bytes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, _, _ = run(capsys, str(CAPTURE), "--quiet", "--json", "--raw", "--out", str(tmp_path))
    assert rc == 0
    raw = pq.read_table(tmp_path / "messages.parquet").column("raw").to_pylist()
    assert len(raw) == 71 and all(
        r.startswith((b"INVITE ", b"SIP/2.0 ", b"ACK ", b"BYE ", b"CANCEL ", b"REGISTER "))
        for r in raw
    )


def test_progress_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, str(CAPTURE), "--color", "never")
    assert rc == 0
    last = err.strip().splitlines()[0]
    # Not a terminal: one line at the end (a line every 10 s on a long read), no bar.
    assert last.startswith("100% 411.6 kB of 411.6 kB  71 messages ("), last
    assert "█" not in err and "\r" not in err
    assert "calls" in last and "done" in last


def test_progress_text_draws_a_bar() -> None:
    stats = {"bytes": 500, "sip_messages": 1000, "calls_open": 3, "calls_done": 40}
    text = tool.progress_text(stats, 1000, 2.0, 10, tty=True)
    assert (
        text
        == "[█████░░░░░]   50% 500 B of 1.0 kB  1,000 messages (500/s)  calls 3 open, 40 done  2.0 s"
    )
    # A compressed capture reads more than its file's size: never past 100%.
    assert tool.progress_text({"bytes": 5000}, 1000, 1.0, 10, tty=False).startswith(
        "100% 1.0 kB of 1.0 kB"
    )
    assert tool.progress_text({"bytes": 5000}, None, 1.0, 10, tty=False).startswith("5.0 kB read")


def test_colours_only_when_wanted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ESC not in summary_text(capsys)  # stdout is not a terminal here
    _, out, _ = run(capsys, str(CAPTURE), "--quiet", "--color", "always")
    assert ESC + "[32manswered" in out

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert Style.wanted(Tty()) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert Style.wanted(Tty()) is False
    assert Style.wanted(Tty(), "always") is True


HOSTILE = "evil\x1b]0;pwned\x07\x1b[2J\r\u202egnp.exe\x00"


def test_hostile_text_is_escaped() -> None:
    assert clean(HOSTILE) == "evil\\x1b]0;pwned\\x07\\x1b[2J\\x0d\\u202egnp.exe\\x00"
    msgs = [
        {
            "time": 1.0 + i,
            "frame": i,
            "src_ip": "192.0.2.1",
            "src_port": 5060,
            "dst_ip": "192.0.2.2",
            "dst_port": 5060,
            "method": HOSTILE if i == 0 else None,
            "status": None if i == 0 else 200,
            "call_id": HOSTILE,
            "cseq": 1,
            "cseq_method": HOSTILE,
            "branch": "z9hG4bK1",
            "to_tag": None,
            "parse_error": HOSTILE if i == 1 else None,
        }
        for i in range(2)
    ]
    call = {
        "call_id": HOSTILE,
        "outcome": HOSTILE,
        "final_status": 200,
        "caller": HOSTILE,
        "callee": HOSTILE,
    }
    lad = ladder.build(HOSTILE, msgs, call)
    for style in (Style(False), Style(True)):
        text = ladder.render_text(lad, 100, True, style)
        assert (
            "\x07" not in text and "\r" not in text and "\x00" not in text and "\u202e" not in text
        )
        assert "]0;pwned" not in text.replace("\\x1b]0;pwned", "")
    svg = ladder.render_svg(lad)
    assert "\x1b" not in svg and "\u202e" not in svg


def analyze_result() -> tool.Result:
    a = sipwire.capture.analyze(str(CAPTURE))
    return tool.Result(
        [str(CAPTURE)],
        pa.table(a.calls),
        pa.table(a.media),
        pa.table(a.rtp_streams),
        pa.table(a.dtmf),
        dict(a.stats),
    )


def test_summary_of_hostile_calls_is_escaped() -> None:
    res = analyze_result()
    ids = res.calls.column("call_id").to_pylist()
    res.calls = res.calls.set_column(0, "call_id", pa.array([HOSTILE + i for i in ids]))
    res.calls = res.calls.set_column(
        res.calls.schema.get_field_index("caller"), "caller", pa.array([HOSTILE] * len(ids))
    )
    s = tool.summarize(res)
    text = tool.format_summary(s, res, Style(False), 100, 20)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert json.dumps(s, ensure_ascii=True).isascii()


def readme_example() -> str:
    """The README's first code block: the command and its output."""
    text = README.read_text()
    m = re.search(r"```console\n(\$ sipwire analyze examples/calls\.pcapng\n.*?)```", text, re.S)
    assert m, "README.md must open with `sipwire analyze examples/calls.pcapng` and its output"
    return m.group(1)


def current_example(capsys: Any = None) -> str:
    import contextlib
    import os

    buf = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(buf):
            assert main(README_ARGS) == 0
    finally:
        os.chdir(cwd)
    return "$ sipwire analyze examples/calls.pcapng\n" + buf.getvalue()


def test_readme_opens_with_the_real_output() -> None:
    text = README.read_text()
    assert text.index("$ sipwire analyze examples/calls.pcapng") < text.index("## Set-up")
    assert readme_example() == current_example(), (
        "README.md's example output differs from `sipwire analyze examples/calls.pcapng`: "
        "if the change is meant, run: python tests/test_analyze_cli.py --update-readme"
    )


if __name__ == "__main__" and sys.argv[1:] == ["--update-readme"]:
    if not hasattr(sipwire.capture, "analyze"):
        sipwire.capture.analyze = analyze_standin.analyze  # type: ignore[attr-defined]
    old, new = readme_example(), current_example()
    README.write_text(README.read_text().replace(old, new, 1))
    print("README.md updated" if old != new else "README.md already current")


def test_stdin_from_a_terminal_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sipwire analyze -` with nothing piped in would wait for the terminal to type a
    capture: it says how to pipe one in instead."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    assert main(["analyze", "-"]) == 2
    err = capsys.readouterr().err
    assert "stdin, which is a terminal" in err and "tcpdump -U -w - | sipwire analyze -" in err


def test_the_command_leaves_pandas_unimported_and_says_the_same(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The `sipwire` command in its own process keeps pyarrow from importing pandas (a third
    of a small capture's run); its summary is the one `main` gives with pandas loaded, and
    `main` called by a program leaves pandas to pyarrow."""
    import subprocess

    code = (
        "import sys\n"
        f"sys.argv = ['sipwire', 'analyze', '--json', {str(CAPTURE)!r}]\n"
        "from sipwire.cli import console\n"
        "rc = console()\n"
        "sys.stderr.write(f'{rc} {\"pandas\" in sys.modules}\\n')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stderr.split()[-2:] == ["0", "False"], done.stderr
    assert main(["analyze", "--json", str(CAPTURE)]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(done.stdout)
    # In this process pyarrow still knows pandas objects.
    import pyarrow as pa

    pd = pytest.importorskip("pandas")

    assert pa.array(pd.Series([1, None], dtype="Int64")).to_pylist() == [1, None]


def test_a_nanosecond_capture_has_its_ladder_and_report_without_pandas(tmp_path: Path) -> None:
    """Times that are not whole microseconds (a pcap written in nanoseconds): the command, whose
    pyarrow runs without pandas, draws the call's ladder and writes the report; the ladder's rows
    have the times as float seconds."""
    import subprocess

    import capgen

    exp = capgen.CAPTURES["pcap_ns_le"][1](tmp_path / "ns.pcap")
    assert any(r.time_ns % 1000 for r in exp.rows)
    call_id = exp.rows[0].sip.call_id
    assert call_id is not None
    report = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "sipwire", "analyze", "--quiet", "--call", call_id,
         "--html", str(report), str(exp.path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "INVITE" in done.stdout and "200 OK" in done.stdout
    assert call_id in report.read_text()

    messages = pa.table(sipwire.capture.read(str(exp.path)).messages)
    times = [r["time"] for r in ladder.rows(messages)]
    # (as float seconds: a double holds today's times to ~0.24 µs)
    assert len(times) == len(exp.rows)
    assert all(abs(t * 1e9 - r.time_ns) < 500 for t, r in zip(times, exp.rows))


def test_analyze_loads_no_load_engine_and_no_blas_threads() -> None:
    """`sipwire analyze` starts without the load engine, the user agent and asyncio (only
    `sipwire load` needs them), and asks OpenBLAS, which pyarrow loads with numpy,
    for no threads of its own."""
    import subprocess

    code = (
        "import os, sys\n"
        "from sipwire.cli import main\n"
        f"rc = main(['analyze', '--quiet', {str(CAPTURE)!r}])\n"
        "print(rc, 'sipwire.load' in sys.modules, 'sipwire.ua' in sys.modules,"
        " 'asyncio' in sys.modules, os.environ.get('OPENBLAS_NUM_THREADS'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    assert out[-5:] == ["0", "False", "False", "False", "1"]
    # `sipwire load --help` still lists its scenarios.
    done = subprocess.run(
        [sys.executable, "-m", "sipwire.cli", "load", "call", "--help"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0 and "hold-dtmf" in done.stdout


def _problem_capture(path: Path) -> None:
    """A call with 70 INFO transactions (over the correlator's 64 a Call-ID), and one message
    of each kind the correlator leaves out of calls, with why."""
    from capgen.net import raw, udp
    from capgen.pcapfile import LINKTYPE_RAW, Record, write_pcap

    a, b = ("10.0.0.1", 5060), ("10.0.0.2", 5060)

    def msg(start: str, cseq: str, branch: str, to_tag: str = "tt", **drop: str) -> bytes:
        head = {
            "Via": f"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{branch}",
            "From": "<sip:alice@example.com>;tag=ft",
            "To": "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else ""),
            "Call-ID": "info-call",
            "CSeq": cseq,
            "Content-Length": "0",
        }
        head.update(drop)
        lines = [start] + [f"{k}: {v}" for k, v in head.items() if v != "-"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    sent = [(a, b, msg("INVITE sip:bob@10.0.0.2 SIP/2.0", "1 INVITE", "i", to_tag=""))]
    sent.append((b, a, msg("SIP/2.0 200 OK", "1 INVITE", "i")))
    sent.append((a, b, msg("ACK sip:bob@10.0.0.2 SIP/2.0", "1 ACK", "a")))
    for n in range(2, 72):
        sent.append((a, b, msg("INFO sip:bob@10.0.0.2 SIP/2.0", f"{n} INFO", f"n{n}")))
        sent.append((b, a, msg("SIP/2.0 200 OK", f"{n} INFO", f"n{n}")))
    sent.append((a, b, msg("BYE sip:bob@10.0.0.2 SIP/2.0", "72 BYE", "bye")))
    sent.append((b, a, msg("SIP/2.0 200 OK", "72 BYE", "bye")))
    # A subscription's 70 NOTIFYs, a second apart: past the cap, but no call loses anything.
    for n in range(1, 71):
        notify = msg("NOTIFY sip:alice@10.0.0.1 SIP/2.0", f"{n} NOTIFY", f"s{n}")
        sent.append((b, a, notify.replace(b"info-call", b"subscription")))
    # In no call: no Call-ID, a CSeq without a method, a Via that does not parse, and a
    # response to an ACK.
    opt = "OPTIONS sip:bob@10.0.0.2 SIP/2.0"
    sent.append((a, b, msg(opt, "1 OPTIONS", "o1", **{"Call-ID": "-"})))
    sent.append((a, b, msg(opt, "1", "o2", **{"Call-ID": "bad-cseq"})))
    sent.append((a, b, msg(opt, "1 OPTIONS", "o3", Via="SIP/2.0/UDP", **{"Call-ID": "bad-via"})))
    sent.append((b, a, msg("SIP/2.0 200 OK", "1 ACK", "x", **{"Call-ID": "ack-response"})))
    recs = [
        Record(raw(udp(s, d, m, ip_id=i + 1)), (1_700_000_000 + i) * 10**9)
        for i, (s, d, m) in enumerate(sent)
    ]
    write_pcap(path, recs, LINKTYPE_RAW)


def test_capture_problems_say_why_messages_are_in_no_call(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The correlator's reasons and what its bounds let go are counters of the summary, each
    with what it means, in the text and in --json."""
    pytest.importorskip("scapy")
    path = tmp_path / "problems.pcap"
    _problem_capture(path)
    rc, out, err = run(capsys, str(path), "--quiet", "--color", "never", "--width", "100")
    assert rc == 0, err
    problems = out[out.index("Capture problems") :]
    for name, n in [
        ("uncorrelated", 4),
        ("uncorrelated_no_call_id", 1),
        ("uncorrelated_bad_cseq", 1),
        ("uncorrelated_bad_via", 1),
        ("uncorrelated_ack_response", 1),
        # 72 transactions (the INVITE, 70 INFOs, the BYE) of which 64 are followed: the
        # messages of the other 8, a request and its 200 each.
        ("dropped_transactions", 8 * 2),
    ]:
        assert re.search(rf"^  {name}\s+{n}$", problems, re.M), (name, problems)
    said = " ".join(problems.split())
    for hint in [
        "messages without a Call-ID are in no call",
        "messages whose CSeq does not parse (RFC 3261 §20.16) are in no call",
        "messages whose top Via does not parse are in no call",
        "responses to an ACK (which is never answered) are in no call",
        "calls with more than 64 transactions",
        "(their retransmissions, re-INVITEs in `invites`)",
    ]:
        assert hint in said, hint
    assert all(len(ln) <= 100 for ln in out.splitlines())
    # The call itself is whole: answered, its BYE seen, every INFO one transaction.
    assert re.search(r"answered\s+1\s+100\.0%", out)
    rc, out, _ = run(capsys, str(path), "--quiet", "--json")
    s = json.loads(out)
    assert s["problems"]["uncorrelated_bad_via"] == 1
    assert s["problems"]["dropped_transactions"] == 16
    hints = s["problem_hints"]
    assert set(hints) == set(s["problems"]) - {"uncorrelated"}
    assert hints["uncorrelated_no_call_id"] == "messages without a Call-ID are in no call"
    assert "non_call_transactions_unfollowed" not in s["problems"]
    a = sipwire.capture.analyze(str(path))
    pa.table(a.calls)
    assert dict(a.stats)["non_call_transactions_unfollowed"] == 70 - 64
    report = tmp_path / "report.html"
    rc, _, err = run(capsys, str(path), "--quiet", "--html", str(report))
    assert rc == 0, err
    assert "messages whose top Via does not parse are in no call" in report.read_text()


def _reused_call_id_capture(path: Path) -> None:
    """One Call-ID used for two calls (as some phones and test rigs do, RFC 3261 §8.1.1.4
    notwithstanding): a 486 with From tag f1, a copy of its INVITE at 8 s, then from 10 s a new
    call with From tag f2, answered, with 20 RTP packets each way, and at 11 s a copy of the
    first call's ACK (in the first call by its tag, though in the second's time)."""
    import struct

    from capgen.net import raw, udp
    from capgen.pcapfile import LINKTYPE_RAW, Record, write_pcap

    a, b = ("10.0.0.1", 5060), ("10.0.0.2", 5060)

    def sdp(ip: str, port: int) -> bytes:
        return (
            f"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        ).encode()

    def msg(
        start: str, cseq: str, branch: str, ftag: str, ttag: str = "", body: bytes = b""
    ) -> bytes:
        head = [
            start,
            f"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{branch}",
            f"From: <sip:alice@a.example>;tag={ftag}",
            "To: <sip:bob@b.example>" + (f";tag={ttag}" if ttag else ""),
            "Call-ID: reused@10.0.0.1",
            f"CSeq: {cseq}",
            "Contact: <sip:alice@10.0.0.1>",
        ]
        if body:
            head.append("Content-Type: application/sdp")
        head.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    inv, ack = "INVITE sip:bob@10.0.0.2 SIP/2.0", "ACK sip:bob@10.0.0.2 SIP/2.0"
    first = msg(inv, "1 INVITE", "1", "f1", body=sdp("10.0.0.1", 4000))
    first_ack = msg(ack, "1 ACK", "1", "f1", "t1")
    sent: list[tuple[float, tuple[str, int], tuple[str, int], bytes]] = [
        (0.0, a, b, first),
        (0.5, b, a, msg("SIP/2.0 486 Busy Here", "1 INVITE", "1", "f1", "t1")),
        (0.51, a, b, first_ack),
        (8.0, a, b, first),
        (10.0, a, b, msg(inv, "1 INVITE", "2", "f2", body=sdp("10.0.0.1", 4002))),
        (10.5, b, a, msg("SIP/2.0 180 Ringing", "1 INVITE", "2", "f2", "t2")),
        (11.0, a, b, first_ack),
        (12.0, b, a, msg("SIP/2.0 200 OK", "1 INVITE", "2", "f2", "t2", sdp("10.0.0.2", 5002))),
        (12.01, a, b, msg(ack, "1 ACK", "3", "f2", "t2")),
        (20.0, a, b, msg("BYE sip:bob@10.0.0.2 SIP/2.0", "2 BYE", "4", "f2", "t2")),
        (20.01, b, a, msg("SIP/2.0 200 OK", "2 BYE", "4", "f2", "t2")),
    ]
    for n in range(20):
        for ssrc, src, dst in [
            (1, ("10.0.0.1", 4002), ("10.0.0.2", 5002)),
            (2, ("10.0.0.2", 5002), ("10.0.0.1", 4002)),
        ]:
            rtp = struct.pack("!BBHII", 0x80, 0, n, n * 160, ssrc) + bytes(160)
            sent.append((12.1 + n * 0.02, src, dst, rtp))
    sent.sort(key=lambda e: e[0])
    recs = [
        Record(raw(udp(s, d, m, ip_id=i + 1)), 1_700_000_000 * 10**9 + round(t * 1e9))
        for i, (t, s, d, m) in enumerate(sent)
    ]
    write_pcap(path, recs, LINKTYPE_RAW)


def test_a_reused_call_id_has_a_ladder_per_call(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Two calls of one Call-ID are two rows, and each has its own ladder (terminal, --json,
    HTML): its own messages (a straggler of the first by its tag), SDP and RTP."""
    path = tmp_path / "reused.pcap"
    _reused_call_id_capture(path)
    rc, out, err = run(capsys, str(path), "--quiet", "--color", "never", "--width", "100")
    assert rc == 0, err
    assert re.search(r"busy\s+486", out) and re.search(r"answered\s+200", out)
    rc, out, err = run(
        capsys, str(path), "--quiet", "--color", "never", "--width", "100", "--call", "reused"
    )
    assert rc == 0, err
    one, two = out.split("\nCall reused@10.0.0.1\n")
    assert "busy (486 Busy Here)" in one and "call 1 of 2 with this Call-ID" in one
    assert "answered (200 OK)" in two and "call 2 of 2 with this Call-ID" in two
    # The first call: INVITE, 486, ACK, the INVITE again at 8 s and the ACK again at 11 s.
    assert one.count("─ INVITE") == 2 and one.count("─ ACK") == 2 and "RTP" not in one
    assert "180 Ringing" not in one and "BYE" not in one
    assert "180 Ringing" in two and "BYE" in two and two.count("ACK") == 1
    assert "10.0.0.2:5002" in two and "RTP" in two and "SDP early" not in two
    rc, out, _ = run(capsys, str(path), "--quiet", "--call", "reused", "--json")
    doc = json.loads(out)
    assert doc["part"] == [1, 2] and doc["call"]["outcome"] == "busy"
    (other,) = doc["other_calls"]
    assert other["part"] == [2, 2] and other["call"]["outcome"] == "answered"
    assert len(doc["steps"]) == 5
    assert [s["label"] for s in other["steps"] if s["kind"] == "sip"] == [
        "INVITE",
        "180 Ringing",
        "200 OK",
        "ACK",
        "BYE",
        "200 OK",
    ]
    report = tmp_path / "report.html"
    rc, _, err = run(capsys, str(path), "--quiet", "--html", str(report))
    assert rc == 0, err
    page = report.read_text()
    assert re.findall(r'data-ladder="(\d+)"', page) == ["0", "1"]
    templates = re.findall(r'<template id="ladder-(\d+)">(.*?)</template>', page, re.S)
    assert [k for k, _ in templates] == ["0", "1"]
    assert "call 1 of 2" in templates[0][1] and "busy" in templates[0][1]
    assert "call 2 of 2" in templates[1][1] and "5002" in templates[1][1]
    assert "5002" not in templates[0][1]


def test_a_delay_prints_the_same_on_either_side_of_a_unit_boundary() -> None:
    """Table values are float32: 0.0099999 is the 10 ms of 0.01, never "10.0 ms" beside it."""
    assert seconds(0.0099999) == seconds(0.01) == "10 ms"
    assert seconds(0.0042) == "4.2 ms" and seconds(0.25) == "250 ms"
    assert seconds(0.99996) == seconds(1.0) == "1.00 s"
    assert seconds(59.996) == seconds(60.0) == "1m 00s"
    assert seconds(-0.5) == "-500 ms" and seconds(None) == "-"


def test_split_shares_a_call_ids_rows_by_start_and_tag() -> None:
    """`ladder.split`: rows by time to the last call started, messages by a caller's tag first;
    a Call-ID of one call keeps every row."""
    c1 = {"call_id": "x", "first_time": 0.0}
    c2 = {"call_id": "x", "first_time": 10.0}
    inv = [
        {"time": 0.0, "method": "INVITE", "from_tag": "f1", "to_tag": None},
        {"time": 10.0, "method": "INVITE", "from_tag": "f2", "to_tag": None},
    ]
    # A BYE from the callee carries the caller's tag as its To tag.
    late = {"time": 12.0, "method": "BYE", "from_tag": "t1", "to_tag": "f1"}
    unknown = {"time": 11.0, "method": "INFO", "from_tag": "zz", "to_tag": "yy"}
    early = {"time": -1.0, "method": "OPTIONS", "from_tag": None, "to_tag": None}
    media = [{"offer_time": 0.0}, {"offer_time": 10.0}]
    streams = [{"first_time": 9.0}, {"first_time": 10.5}, {"first_time": None}]
    dtmf = [{"time": 15.0}]
    (p1, p2) = ladder.split([c2, c1], [*inv, late, unknown, early], media, streams, dtmf)
    assert p1[0] is c1 and p2[0] is c2
    assert p1[1] == [inv[0], late, early] and p2[1] == [inv[1], unknown]
    assert p1[2] == [media[0]] and p2[2] == [media[1]]
    assert p1[3] == [streams[0], streams[2]] and p2[3] == [streams[1]]
    assert p1[4] == [] and p2[4] == dtmf
    (only,) = ladder.split([c1], inv, media, streams, dtmf)
    assert only == (c1, inv, media, streams, dtmf)


@pytest.mark.parametrize("how", ["absent", "not found"])
def test_without_pyarrow_it_says_what_to_install(how: str) -> None:
    """pyarrow is imported while the read starts; without it the command stops at once and
    says what to install (exit status 2), whether the import fails or finding it does."""
    import subprocess

    block = {
        "absent": "sys.modules['pyarrow'] = None",
        "not found": (
            "import importlib.machinery\n"
            "class _NoArrow(importlib.machinery.PathFinder):\n"
            "    @classmethod\n"
            "    def find_spec(cls, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'pyarrow':\n"
            "            raise ModuleNotFoundError(name)\n"
            "        return None\n"
            "sys.meta_path.insert(0, _NoArrow)"
        ),
    }[how]
    code = f"import sys\n{block}\nfrom sipwire.cli import main\nsys.exit(main(sys.argv[1:]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, "analyze", str(CAPTURE), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(
        "sipwire analyze: pyarrow is needed for the tables: pip install pyarrow"
    )
    assert "Traceback" not in proc.stderr


def test_a_call_seen_only_from_its_bye_is_listed_by_its_first_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A call whose INVITE was not captured (partial: only a BYE and its 200 at 5 s) has no
    INVITE time: the call list places it, and gives its start, by its first message."""
    from capgen.net import raw, udp
    from capgen.pcapfile import LINKTYPE_RAW, Record, write_pcap

    a, b = ("10.0.0.1", 5060), ("10.0.0.2", 5060)

    def msg(start: str, call_id: str, cseq: str, ttag: str = "") -> bytes:
        head = [
            start,
            f"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{call_id}{cseq[0]}",
            "From: <sip:alice@a.example>;tag=f1",
            "To: <sip:bob@b.example>" + (f";tag={ttag}" if ttag else ""),
            f"Call-ID: {call_id}",
            f"CSeq: {cseq}",
            "Content-Length: 0",
        ]
        return ("\r\n".join(head) + "\r\n\r\n").encode()

    inv = "INVITE sip:bob@10.0.0.2 SIP/2.0"
    sent = [
        (0.0, a, b, msg(inv, "early-one", "1 INVITE")),
        (0.5, b, a, msg("SIP/2.0 486 Busy Here", "early-one", "1 INVITE", "t1")),
        (5.0, a, b, msg("BYE sip:bob@10.0.0.2 SIP/2.0", "bye-only", "7 BYE", "t2")),
        (5.01, b, a, msg("SIP/2.0 200 OK", "bye-only", "7 BYE", "t2")),
        (9.0, a, b, msg(inv, "late-one", "1 INVITE")),
        (9.5, b, a, msg("SIP/2.0 486 Busy Here", "late-one", "1 INVITE", "t3")),
    ]
    recs = [
        Record(raw(udp(s, d, m, ip_id=i + 1)), 1_700_000_000 * 10**9 + round(t * 1e9))
        for i, (t, s, d, m) in enumerate(sent)
    ]
    path = tmp_path / "partial.pcap"
    write_pcap(path, recs, LINKTYPE_RAW)
    rc, out, err = run(capsys, str(path), "--quiet", "--color", "never", "--width", "100")
    assert rc == 0, err
    listed = [ln.split()[:3] for ln in out.splitlines() if re.match(r"\s+\d+\.\d\d\s", ln)]
    assert listed == [
        ["0.00", "early-one", "alice"],
        ["5.00", "bye-only", "?"],
        ["9.00", "late-one", "alice"],
    ]
    report = tmp_path / "report.html"
    rc, _, err = run(capsys, str(path), "--quiet", "--html", str(report))
    assert rc == 0, err
    rows = re.findall(r'<tr class="call".*?</tr>', report.read_text(), re.S)
    ids = [re.search(r"(early-one|bye-only|late-one)", r).group(1) for r in rows]  # type: ignore[union-attr]
    assert ids == ["early-one", "bye-only", "late-one"]
    assert ">5.00</td>" in rows[1]
