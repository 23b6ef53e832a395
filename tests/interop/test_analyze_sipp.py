"""``sipwire.capture.analyze`` on real traffic: SIPp calls SIPp on loopback (directly, or
through Kamailio as a forking, record-routing proxy) while tcpdump captures it, and the
``calls`` and ``media`` tables are compared with SIPp's own statistics (``-trace_stat``), with
what each scenario sends, and with tshark's SIP fields (tests/tshark.py: Call-ID, CSeq,
method, status, frame times, and its "Resent Packet" mark as the oracle of retransmissions).

The scenarios are in tests/data/sipp/pairs/ (README.md there lists them): a fork through
Kamailio (one branch answers, the other is busy), CANCEL during ringing, 486 Busy Here, a
re-INVITE hold and resume (sendonly/recvonly), a reliable 180 with PRACK (RFC 3262). Two
calls each, a few seconds a scenario.

SIPp (``sip-tester``), Kamailio, tcpdump and tshark come from Debian packages
(``scripts/dev.sh setup``); tcpdump needs root or CAP_NET_RAW. In CI (``CI`` set) a missing
peer is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import tshark
from peers import HOST, free_port, kamailio, peer_binary, wait_bound
from test_capture_sipp import read_stats, tcpdump

import sipwire.capture

DATA = Path(__file__).resolve().parent.parent / "data"
SIPP = DATA / "sipp"
PAIRS = SIPP / "pairs"
FORK_CFG = DATA / "kamailio" / "fork.cfg"
CALLS = 2
RATE = 5  # calls per second


@dataclass
class Agent:
    """One SIPp process: its scenario, its SIP and media ports, and (after the run) its
    statistics."""

    name: str
    scenario: Path
    port: int
    media: int
    stats: dict[str, str] | None = None

    @property
    def addr(self) -> tuple[str, int]:
        return (HOST, self.port)


def agent(name: str, scenario: Path) -> Agent:
    return Agent(name, scenario, free_port(), free_port())


def command(a: Agent, d: Path, target: tuple[str, int] | None) -> list[str]:
    cmd = [peer_binary("sipp", "sip-tester"), "-sf", str(a.scenario)]
    if target is not None:
        cmd += [f"{target[0]}:{target[1]}", "-r", str(RATE)]
    cmd += ["-i", HOST, "-p", str(a.port), "-mi", HOST, "-mp", str(a.media)]
    cmd += ["-m", str(CALLS), "-nostdin", "-timeout", "30s", "-timeout_error"]
    cmd += ["-trace_stat", "-fd", "1", "-stf", str(d / f"{a.name}.csv")]
    cmd += ["-trace_err", "-error_file", str(d / f"{a.name}.errors")]
    return cmd


@dataclass
class Run:
    path: Path
    uac: Agent
    uases: list[Agent]
    proxy: tuple[str, int] | None
    calls: list[dict[str, Any]]
    media: list[dict[str, Any]]
    tshark: list[tshark.TsharkSip]

    def sipp_retransmissions(self) -> int:
        return sum(int((a.stats or {})["Retransmissions(C)"]) for a in [self.uac, *self.uases])


def play(d: Path, uac: Agent, uases: list[Agent], proxy_cfg: Path | None = None) -> Run:
    """Runs the callees, then the caller (to the proxy when there is one, else to the only
    callee) under tcpdump; each SIPp must exit 0 (every call of its scenario completed)."""
    with contextlib.ExitStack() as stack:
        proxy: tuple[str, int] | None = None
        if proxy_cfg is not None:
            text = proxy_cfg.read_text()
            for marker, a in zip(["@CALLEE_A@", "@CALLEE_B@"], uases):
                text = text.replace(marker, f"{a.addr[0]}:{a.addr[1]}")
            cfg = d / "kamailio.cfg"
            cfg.write_text(text)
            port, _ = stack.enter_context(kamailio(cfg, d))
            proxy = (HOST, port)
        ports = [a.port for a in [uac, *uases]] + ([proxy[1]] if proxy else [])
        path = d / "calls.pcap"
        bpf = f"host {HOST} and (" + " or ".join(f"port {p}" for p in ports) + ")"
        with tcpdump(path, bpf) as dump:
            procs = [
                subprocess.Popen(
                    command(a, d, None),
                    cwd=d,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                for a in uases
            ]
            try:
                for a, p in zip(uases, procs):
                    wait_bound(p, a.port)
                target = proxy or uases[0].addr
                done = subprocess.run(
                    command(uac, d, target),
                    cwd=d,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    timeout=60,
                    check=False,
                )
                errs = [p.communicate(timeout=40)[1] for p in procs]
            finally:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
                        p.wait()

    def errors(a: Agent) -> str:
        f = d / f"{a.name}.errors"
        return f.read_text(errors="replace")[-2000:] if f.exists() else ""

    assert done.returncode == 0, f"{uac.name}: {done.stderr.decode()} {errors(uac)}"
    for a, p, err in zip(uases, procs, errs):
        assert p.returncode == 0, f"{a.name} ({p.returncode}): {err.decode()} {errors(a)}"
    for a in [uac, *uases]:
        a.stats = read_stats(d / f"{a.name}.csv")
    assert dump.captured > 0 and dump.dropped == 0, dump
    analysis = sipwire.capture.analyze(str(path))
    return Run(
        path=path,
        uac=uac,
        uases=uases,
        proxy=proxy,
        calls=pa.table(analysis.calls).to_pylist(),
        media=pa.table(analysis.media).to_pylist(),
        tshark=tshark.sip_messages(path),
    )


def us(t: datetime | None) -> int | None:
    """A table's time in microseconds (its resolution)."""
    return None if t is None else round(t.timestamp() * 1e6)


def first_us(rows: list[tshark.TsharkSip]) -> int | None:
    return min(r.time_ns for r in rows) // 1000 if rows else None


def agrees_with_tshark(run: Run) -> dict[str, dict[str, Any]]:
    """The checks every scenario shares: one row per Call-ID tshark saw, each with tshark's
    message count, its INVITE transactions (each hop's INVITE is one), its retransmissions
    (tshark's resent packets: none of the scenarios loses a packet, but SIPp resends on its
    timers when it is slow), the times of its first INVITE, 2xx, CANCEL and BYE, and its
    session request delay. Returns the calls by Call-ID."""
    by_call: dict[str, list[tshark.TsharkSip]] = {}
    for m in run.tshark:
        assert m.call_id is not None
        by_call.setdefault(m.call_id, []).append(m)
    calls = {c["call_id"]: c for c in run.calls}
    assert set(calls) == set(by_call)
    assert len(calls) == CALLS
    for cid, msgs in by_call.items():
        c = calls[cid]
        invites = [m for m in msgs if m.method == "INVITE"]
        initial = min(m.cseq or 0 for m in invites)
        ok = [
            m
            for m in msgs
            if m.status is not None
            and 200 <= m.status < 300
            and m.cseq_method == "INVITE"
            and m.cseq == initial
        ]
        assert c["messages"] == len(msgs)
        assert c["retransmissions"] == sum(m.resend for m in msgs)
        assert c["invites"] == sum(not m.resend for m in invites)
        assert us(c["invite_time"]) == first_us(invites)
        assert us(c["answer_time"]) == first_us(ok)
        assert us(c["cancel_time"]) == first_us([m for m in msgs if m.method == "CANCEL"])
        assert us(c["end_time"]) == first_us([m for m in msgs if m.method == "BYE"])
        # RFC 6076 §4.2: to the first response of the initial INVITE other than 100.
        told = [
            m
            for m in msgs
            if m.cseq_method == "INVITE" and m.cseq == initial and m.status not in (None, 100)
        ]
        start, end = first_us(invites), first_us(told)
        assert start is not None and end is not None
        assert c["srd"] == pytest.approx((end - start) / 1e6, abs=2e-6)
    assert sum(c["retransmissions"] for c in run.calls) == sum(m.resend for m in run.tshark)
    return calls


def successful(a: Agent) -> int:
    assert a.stats is not None
    assert int(a.stats["FailedCall(C)"]) == 0
    return int(a.stats["SuccessfulCall(C)"])


def test_fork_through_kamailio(tmp_path: Path) -> None:
    """Kamailio forks each INVITE to two SIPp callees at once: one rings and answers, the
    other rings and is busy (486, which Kamailio ACKs and keeps: the caller gets the 200).
    Every message past the proxy is on two hops (its copy has Kamailio's Via): no
    retransmission is counted for them."""
    uac = agent("uac", PAIRS / "uac_fork.xml")
    answer, busy = agent("answer", PAIRS / "uas_answer.xml"), agent("busy", PAIRS / "uas_busy.xml")
    run = play(tmp_path, uac, [answer, busy], FORK_CFG)
    calls = agrees_with_tshark(run)
    assert successful(uac) == successful(answer) == successful(busy) == CALLS
    assert int((answer.stats or {})["IncomingCall(C)"]) == CALLS
    assert int((busy.stats or {})["IncomingCall(C)"]) == CALLS
    assert run.proxy is not None
    for cid, c in calls.items():
        assert (c["outcome"], c["final_status"]) == ("answered", 200)
        # One INVITE transaction per hop: caller to proxy, proxy to each callee.
        assert c["invites"] == 3
        # The answering callee's dialog and the busy one's early dialog (its 180).
        assert c["dialogs"] == 2
        assert c["hangup"] == "caller"
        assert (c["src_ip"], c["src_port"]) == uac.addr
        assert (c["dst_ip"], c["dst_port"]) == run.proxy
        (row,) = [m for m in run.media if m["call_id"] == cid and m["answer_port"] is not None]
        # The caller offers PCMU and PCMA, the callee answers PCMA first (RFC 3264 §6.1).
        assert (row["offer_ip"], row["offer_port"]) == (HOST, uac.media)
        assert (row["answer_ip"], row["answer_port"]) == (HOST, answer.media)
        assert row["payload_types"] == [0, 8] and row["answer_payload_types"] == [8, 0]
        assert row["codec"] == "PCMA" and row["codec_payload_type"] == 8
        assert row["offer_direction"] == row["answer_direction"] == "sendrecv"
    if run.sipp_retransmissions() == 0:
        assert sum(c["retransmissions"] for c in run.calls) == 0


def test_cancel_during_ringing(tmp_path: Path) -> None:
    uac = agent("uac", SIPP / "uac_cancel.xml")
    uas = agent("uas", PAIRS / "uas_ring_cancel.xml")
    run = play(tmp_path, uac, [uas])
    calls = agrees_with_tshark(run)
    assert successful(uac) == successful(uas) == CALLS
    for c in calls.values():
        assert (c["outcome"], c["final_status"]) == ("cancelled", 487)
        assert c["answer_time"] is None and c["duration"] is None
        assert c["cancel_time"] > c["ringing_time"] > c["invite_time"]
        assert c["post_dial_delay"] == pytest.approx(
            (c["ringing_time"] - c["invite_time"]).total_seconds(), abs=2e-6
        )
    assert sum(c["retransmissions"] for c in run.calls) == run.sipp_retransmissions()


def test_busy(tmp_path: Path) -> None:
    uac = agent("uac", PAIRS / "uac_busy.xml")
    uas = agent("uas", PAIRS / "uas_busy.xml")
    run = play(tmp_path, uac, [uas])
    calls = agrees_with_tshark(run)
    assert successful(uac) == successful(uas) == CALLS
    for c in calls.values():
        assert (c["outcome"], c["final_status"]) == ("busy", 486)
        assert c["invites"] == 1 and c["dialogs"] == 1
        assert c["ringing_time"] is not None and c["answer_time"] is None
    assert sum(c["retransmissions"] for c in run.calls) == run.sipp_retransmissions()


def test_reinvite_hold_and_resume(tmp_path: Path) -> None:
    uac = agent("uac", SIPP / "uac_hold.xml")
    uas = agent("uas", PAIRS / "uas_hold.xml")
    run = play(tmp_path, uac, [uas])
    calls = agrees_with_tshark(run)
    assert successful(uac) == successful(uas) == CALLS
    for cid, c in calls.items():
        assert (c["outcome"], c["final_status"]) == ("answered", 200)
        assert c["invites"] == 3 and c["dialogs"] == 1
        rows = sorted((m for m in run.media if m["call_id"] == cid), key=lambda m: m["cseq"])
        assert [m["cseq"] for m in rows] == [1, 2, 3]
        assert [(m["offer_direction"], m["answer_direction"]) for m in rows] == [
            ("sendrecv", "sendrecv"),
            ("sendonly", "recvonly"),
            ("sendrecv", "sendrecv"),
        ]
        assert {m["codec"] for m in rows} == {"PCMU"}
        assert {(m["offer_port"], m["answer_port"]) for m in rows} == {(uac.media, uas.media)}
        # Each re-INVITE's offer and answer times are its INVITE's and its 200's.
        theirs = [m for m in run.tshark if m.call_id == cid and m.cseq_method == "INVITE"]
        for row in rows:
            offer = [m for m in theirs if m.method == "INVITE" and m.cseq == row["cseq"]]
            answer = [m for m in theirs if m.status == 200 and m.cseq == row["cseq"]]
            assert us(row["offer_time"]) == first_us(offer)
            assert us(row["answer_time"]) == first_us(answer)
    assert sum(c["retransmissions"] for c in run.calls) == run.sipp_retransmissions()


def test_early_media_then_an_answer_with_other_sdp(tmp_path: Path) -> None:
    """SIPp rings with early media (a 183 with SDP: sendonly, PCMA) and answers with other SDP
    (sendrecv, PCMU): two media rows of the one dialog, the 183's early, each at its
    response's first copy as tshark has it."""
    uac = agent("uac", PAIRS / "uac_ringback.xml")
    uas = agent("uas", PAIRS / "uas_ringback.xml")
    run = play(tmp_path, uac, [uas])
    calls = agrees_with_tshark(run)
    assert successful(uac) == successful(uas) == CALLS
    for cid, c in calls.items():
        assert (c["outcome"], c["final_status"], c["early_media"]) == ("answered", 200, True)
        assert c["invites"] == 1 and c["dialogs"] == 1
        rows = [m for m in run.media if m["call_id"] == cid]
        shown = [(m["early"], m["answer_direction"], m["codec"], m["answer_port"]) for m in rows]
        assert shown == [
            (True, "sendonly", "PCMA", uas.media),
            (False, "sendrecv", "PCMU", uas.media),
        ]
        theirs = [m for m in run.tshark if m.call_id == cid and m.cseq_method == "INVITE"]
        for row, status in zip(rows, (183, 200)):
            assert us(row["answer_time"]) == first_us([m for m in theirs if m.status == status])
            assert us(row["offer_time"]) == first_us([m for m in theirs if m.method == "INVITE"])
    assert sum(c["retransmissions"] for c in run.calls) == run.sipp_retransmissions()


def test_reliable_provisional_and_prack(tmp_path: Path) -> None:
    uac = agent("uac", SIPP / "uac_100rel.xml")
    uas = agent("uas", PAIRS / "uas_100rel.xml")
    run = play(tmp_path, uac, [uas])
    calls = agrees_with_tshark(run)
    assert successful(uac) == successful(uas) == CALLS
    kinds = Counter(m.method or m.status for m in run.tshark if not m.resend)
    # INVITE, 180 (reliable), PRACK, 200 (PRACK), 200 (INVITE), ACK, BYE, 200 (BYE).
    assert kinds == {"INVITE": 2, 180: 2, "PRACK": 2, 200: 6, "ACK": 2, "BYE": 2}
    for cid, c in calls.items():
        assert (c["outcome"], c["final_status"]) == ("answered", 200)
        assert c["invites"] == 1 and c["dialogs"] == 1
        ringing = [m for m in run.tshark if m.call_id == cid and m.status == 180]
        assert us(c["ringing_time"]) == first_us(ringing)
        (row,) = [m for m in run.media if m["call_id"] == cid and m["method"] == "INVITE"]
        assert row["codec"] == "PCMU" and row["answer_port"] == uas.media
    assert sum(c["retransmissions"] for c in run.calls) == run.sipp_retransmissions()


def test_dtmf_sent_in_info(tmp_path: Path) -> None:
    """Digits sent in INFO requests, as phones set to "SIP INFO" DTMF send them: two
    ``application/dtmf-relay`` (``Signal``, ``Duration``) and one ``application/dtmf``. Each is
    one ``dtmf`` row of ``source`` "info" at its INFO's first copy (tshark's frame time), from
    the caller to the callee; the INFO of another package is none."""
    uac = agent("uac", PAIRS / "uac_info_dtmf.xml")
    uas = agent("uas", PAIRS / "uas_info_dtmf.xml")
    run = play(tmp_path, uac, [uas])
    calls = agrees_with_tshark(run)
    assert successful(uac) == successful(uas) == CALLS
    dtmf = pa.table(sipwire.capture.analyze(str(run.path)).dtmf).to_pylist()
    assert {d["source"] for d in dtmf} == {"info"}
    for cid, c in calls.items():
        assert (c["outcome"], c["final_status"]) == ("answered", 200)
        rows = [d for d in dtmf if d["call_id"] == cid]
        assert [(d["digit"], d["event"], d["duration_ms"]) for d in rows] == [
            ("1", 1, 160.0),
            ("#", 11, 250.0),
            ("5", 5, None),
        ]
        infos = [m for m in run.tshark if m.call_id == cid and m.method == "INFO"]
        for d in rows:
            (cseq,) = {m.cseq for m in infos if us(d["time"]) == first_us([m])}
            assert us(d["time"]) == first_us([m for m in infos if m.cseq == cseq])
            assert (d["src_ip"], d["src_port"], d["dst_ip"], d["dst_port"]) == (
                *uac.addr,
                *uas.addr,
            )
            assert d["frame"] is None and d["ssrc"] is None and d["rtp_timestamp"] is None
    assert sum(c["retransmissions"] for c in run.calls) == run.sipp_retransmissions()
