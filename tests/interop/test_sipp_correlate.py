"""The correlator against a real peer: SIPp's built-in ``uac`` calls its built-in ``uas`` on
loopback, both log every message (``-trace_msg``), and what the correlator makes of each log
is compared with SIPp's own statistics (``-trace_stat``).

SIPp comes from the Debian package ``sip-tester`` (``scripts/dev.sh setup`` installs it). In
CI (``CI`` set) a missing ``sipp`` is a failure, never a skip.
"""

from __future__ import annotations

import csv
import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from peers import free_port, peer_binary

import sipwire

CALLS = 5
RATE = 10  # calls per second
HOST = "127.0.0.1"


def sipp_binary() -> str:
    return peer_binary("sipp", "sip-tester")


def free_udp_port() -> int:
    return free_port()


@dataclass
class Entry:
    time: float
    sent: bool
    data: bytes


# One -trace_msg entry: a dashed line with date and time, the direction and byte count, an
# empty line, then exactly that many bytes of message.
ENTRY = re.compile(
    rb"-{20,} (\d{4}-\d\d-\d\d)[ \t]+(\d\d:\d\d:\d\d(?:\.\d+)?)\r?\n"
    rb"(\w+) message (sent|received) (?:\((\d+) bytes\)|\[(\d+)\] bytes ?):\r?\n\r?\n"
)


def read_message_log(path: Path) -> list[Entry]:
    """Parses SIPp's ``-message_file``: the header line gives the direction and the time;
    the message is the byte count that follows (SIPp 3.6 writes no addresses)."""
    log = path.read_bytes()
    out = []
    for m in ENTRY.finditer(log):
        stamp = datetime.strptime(
            f"{m.group(1).decode()} {m.group(2).decode()}", "%Y-%m-%d %H:%M:%S.%f"
        )
        size = int(m.group(5) or m.group(6))
        data = log[m.end() : m.end() + size]
        assert len(data) == size, f"truncated entry at byte {m.start()} of {path}"
        out.append(Entry(stamp.timestamp(), m.group(4) == b"sent", data))
    return out


def read_stats(path: Path) -> dict[str, str]:
    """The last row of SIPp's ``-trace_stat`` CSV (semicolon-separated, cumulative ``(C)``
    columns)."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    assert rows, f"no statistics in {path}"
    return rows[-1]


@dataclass
class SippRun:
    uas: tuple[str, int]
    uac: tuple[str, int]
    uac_log: list[Entry]
    uas_log: list[Entry]
    uac_stats: dict[str, str]
    uas_stats: dict[str, str]


def correlate(
    entries: list[Entry], me: tuple[str, int], peer: tuple[str, int]
) -> sipwire.Correlator:
    c = sipwire.Correlator(keep_messages=True)
    for e in entries:
        src, dst = (me, peer) if e.sent else (peer, me)
        fed = c.feed(e.data, time=e.time, src=src, dst=dst)
        assert fed in ("stored", "retransmission"), (fed, e.data[:200])
    c.finish()
    return c


@pytest.fixture(scope="module")
def sipp_run(tmp_path_factory: pytest.TempPathFactory) -> SippRun:
    sipp = sipp_binary()
    d = tmp_path_factory.mktemp("sipp")
    uas_port, uac_port = free_udp_port(), free_udp_port()
    common = ["-nostdin", "-trace_msg", "-trace_stat", "-fd", "1", "-timeout", "30s"]
    uas_cmd = [sipp, "-sn", "uas", "-i", HOST, "-p", str(uas_port), "-m", str(CALLS)]
    uas_cmd += [*common, "-message_file", str(d / "uas.log"), "-stf", str(d / "uas.csv")]
    uac_cmd = [sipp, "-sn", "uac", f"{HOST}:{uas_port}", "-i", HOST, "-p", str(uac_port)]
    uac_cmd += ["-m", str(CALLS), "-r", str(RATE), *common]
    uac_cmd += ["-message_file", str(d / "uac.log"), "-stf", str(d / "uac.csv")]
    uas = subprocess.Popen(
        uas_cmd,
        cwd=d,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        uac = subprocess.run(
            uac_cmd,
            cwd=d,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
        _, uas_err = uas.communicate(timeout=40)
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.wait()
    assert uac.returncode == 0, f"sipp uac failed ({uac.returncode}): {uac.stderr.decode()}"
    assert uas.returncode == 0, f"sipp uas failed ({uas.returncode}): {uas_err.decode()}"
    return SippRun(
        uas=(HOST, uas_port),
        uac=(HOST, uac_port),
        uac_log=read_message_log(d / "uac.log"),
        uas_log=read_message_log(d / "uas.log"),
        uac_stats=read_stats(d / "uac.csv"),
        uas_stats=read_stats(d / "uas.csv"),
    )


def check_side(c: sipwire.Correlator, entries: list[Entry], stats: dict[str, str]) -> None:
    successful = int(stats["SuccessfulCall(C)"])
    assert successful == CALLS
    assert int(stats["FailedCall(C)"]) == 0

    counters = c.counters
    assert counters["messages"] == len(entries)
    assert counters["unparsable"] == 0
    assert counters["uncorrelated"] == 0
    assert counters["retransmissions"] == int(stats["Retransmissions(C)"])

    calls = c.calls()
    assert len(calls) == successful
    assert [call.outcome for call in calls] == ["answered"] * successful
    for call in calls:
        assert call.final_status == 200
        assert call.invites == 1
        # SIPp's uac/uas: INVITE (180, 200, and its ACK) then BYE (200).
        assert [t.method for t in call.transactions] == ["INVITE", "BYE"]
        invite, bye = call.transactions
        assert isinstance(invite.request, sipwire.Request)
        assert [r.status for r in invite.responses] == [180, 200]
        assert invite.ack is not None and invite.ack.method == "ACK"
        assert invite.final_status == 200
        assert bye.final_status == 200
        assert call.time_to_ringing is not None and call.time_to_ringing >= 0
        assert call.time_to_answer is not None and call.time_to_answer >= call.time_to_ringing
        assert call.duration is not None and call.duration >= 0
        (dialog,) = call.dialogs
        assert dialog.state == "terminated"
        assert dialog.from_tag == invite.request.from_tag
        (media,) = call.media
        assert media.offerer_rtp is not None and media.offerer_rtp[0] == HOST
        assert media.answerer_rtp is not None and media.answerer_rtp[0] == HOST
        assert call.hold_periods == []
    assert c.outcome_counts()["answered"] == successful
    # Every message the log holds went somewhere: 6 per call (INVITE, 180, 200, ACK, BYE, 200).
    assert len(entries) == 6 * successful + int(stats["Retransmissions(C)"])
    assert len(c.transactions()) == 2 * successful


def test_uac_log_matches_sipp_counts(sipp_run: SippRun) -> None:
    c = correlate(sipp_run.uac_log, sipp_run.uac, sipp_run.uas)
    check_side(c, sipp_run.uac_log, sipp_run.uac_stats)
    for call in c.calls():
        media = call.media[0]
        assert media.offerer == sipp_run.uac
        assert media.answerer == sipp_run.uas


def test_uas_log_matches_sipp_counts(sipp_run: SippRun) -> None:
    c = correlate(sipp_run.uas_log, sipp_run.uas, sipp_run.uac)
    check_side(c, sipp_run.uas_log, sipp_run.uas_stats)


def test_both_logs_merged_see_each_message_twice(sipp_run: SippRun) -> None:
    """The two logs hold the same messages (one side sent, the other received, microseconds
    apart on loopback): fed together, every second copy is a duplicate (one frame seen
    twice, not a retransmission) and the calls do not change."""
    uac, uas = sipp_run.uac, sipp_run.uas
    fed = [(e, uac, uas) for e in sipp_run.uac_log] + [(e, uas, uac) for e in sipp_run.uas_log]
    fed.sort(key=lambda x: x[0].time)
    c = sipwire.Correlator()
    for e, me, peer in fed:
        src, dst = (me, peer) if e.sent else (peer, me)
        c.feed(e.data, time=e.time, src=src, dst=dst)
    calls = c.calls()
    assert len(calls) == CALLS
    assert all(call.outcome == "answered" for call in calls)
    assert len(c.transactions()) == 2 * CALLS
    # Each message's two log times; a side that logged one 20 ms or more late (a busy
    # machine) makes it a retransmission.
    logged: dict[bytes, list[float]] = {}
    for e, _, _ in fed:
        logged.setdefault(e.data, []).append(e.time)
    gaps = [t[1] - t[0] for t in logged.values()]
    assert all(len(t) == 2 for t in logged.values())
    late = sum(gap >= 0.02 for gap in gaps)
    assert (c.counters["duplicates"], c.counters["retransmissions"]) == (len(gaps) - late, late)
    assert late <= len(gaps) // 10, gaps
