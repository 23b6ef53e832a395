"""sipwire.capture on real traffic: SIPp's built-in ``uac`` calls its built-in ``uas`` on
loopback over UDP and over TCP while tcpdump captures it; the messages table is compared with
tshark's SIP messages and with SIPp's own counts. A last run plays SIPp's RTP and
telephone-event samples (from the sip-tester package, played, not copied) to a ``uas`` that
echoes them, and compares the RTP streams and the DTMF digit with tshark's.

SIPp (``sip-tester``), tcpdump and tshark come from Debian packages (``scripts/dev.sh setup``
installs them); tcpdump needs root (or CAP_NET_RAW). In CI (``CI`` set) a missing peer is a
failure, never a skip.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import os
import re
import selectors
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import tshark
from peers import free_port, peer_binary, wait_bound

CALLS = 20
RATE = 20  # calls per second
HOST = "127.0.0.1"
SAMPLES = Path("/usr/share/sip-tester")  # the sip-tester package's RTP samples


def capture_module() -> Any:
    return importlib.import_module("sipwire.capture")


def unavailable(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run the capture interop tests", pytrace=False)
    pytest.skip(message)


@dataclass
class Dump:
    """What tcpdump said when it stopped."""

    captured: int = -1
    dropped: int = -1


@contextlib.contextmanager
def tcpdump(path: Path, bpf: str) -> Iterator[Dump]:
    """tcpdump on ``lo`` writing ``path`` packet by packet (-U) until the block ends; then
    SIGINT, which makes it flush the file and print its counts. Its own session, so that no
    signal meant for the test's process group reaches it."""
    binary = peer_binary("tcpdump", "tcpdump")
    proc = subprocess.Popen(
        # --immediate-mode: without it libpcap hands packets over in blocks that a block
        # timeout retires, and a SIGINT within that timeout loses the last block's packets
        # silently (not even counted as dropped): a capture of SIPp over TCP, whose uas exits
        # as soon as the uac closes its connection, lost its last third that way.
        # -B: a 32 MB kernel buffer, so a loaded machine (RTP at full rate while other jobs
        # run) does not make the kernel drop packets before tcpdump reads them.
        [
            binary,
            "-i",
            "lo",
            "-n",
            "-U",
            "--immediate-mode",
            "-B",
            "32768",
            "-s",
            "0",
            "-w",
            str(path),
            bpf,
        ],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    err = b""
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + 10
    while b"listening on" not in err and time.monotonic() < deadline:
        if sel.select(0.2):
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            err += chunk
    sel.close()
    if b"listening on" not in err:
        proc.kill()
        rest = proc.communicate()[1]
        text = (err + rest).decode(errors="replace").strip()
        if "ermission" in text or "not permitted" in text:
            unavailable(f"tcpdump cannot capture on lo (root or CAP_NET_RAW needed): {text}")
        raise AssertionError(f"tcpdump did not start: {text}")
    dump = Dump()
    try:
        yield dump
    finally:
        time.sleep(0.5)  # the last packets' way through the kernel to tcpdump
        proc.send_signal(signal.SIGINT)
        try:
            _, rest = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, rest = proc.communicate()
        text = (err + rest).decode(errors="replace")
        if m := re.search(r"(\d+) packets? captured", text):
            dump.captured = int(m.group(1))
        if m := re.search(r"(\d+) packets? dropped by kernel", text):
            dump.dropped = int(m.group(1))


def read_stats(path: Path) -> dict[str, str]:
    """The last row of SIPp's ``-trace_stat`` CSV."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    assert rows, f"no statistics in {path}"
    return rows[-1]


@dataclass
class Traffic:
    path: Path
    transport: str
    uac: tuple[str, int]
    uas: tuple[str, int]
    dump: Dump
    uac_stats: dict[str, str]
    uas_stats: dict[str, str]


def run_sipp(
    d: Path,
    transport: str,
    *,
    scenario: str = "uac",
    calls: int = CALLS,
    rate: int = RATE,
    media: tuple[int, int] | None = None,
) -> Traffic:
    """SIPp's ``uas`` and ``scenario`` on loopback under tcpdump. ``media``: the (uas, uac)
    RTP ports, the uas echoing what it gets (-rtp_echo)."""
    sipp = peer_binary("sipp", "sip-tester")
    uas_port, uac_port = free_port(), free_port()
    ports = [uas_port, uac_port]
    common = ["-i", HOST, "-nostdin", "-trace_stat", "-fd", "1", "-timeout", "60s"]
    common += ["-m", str(calls)] + (["-t", "t1"] if transport == "tcp" else [])
    uas_cmd = [sipp, "-sn", "uas", "-p", str(uas_port), *common, "-stf", str(d / "uas.csv")]
    uac_cmd = [sipp, "-sn", scenario, f"{HOST}:{uas_port}", "-p", str(uac_port), *common]
    uac_cmd += ["-r", str(rate), "-stf", str(d / "uac.csv")]
    if media:
        uas_cmd += ["-mi", HOST, "-mp", str(media[0]), "-rtp_echo"]
        uac_cmd += ["-mi", HOST, "-mp", str(media[1])]
    bpf = " or ".join(f"port {p}" for p in ports)
    if media:
        bpf += "".join(f" or portrange {p}-{p + 3}" for p in media)
    path = d / f"sipp-{transport}.pcap"
    with tcpdump(path, f"host {HOST} and ({bpf})") as dump:
        uas = subprocess.Popen(
            uas_cmd,
            cwd=d,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_bound(uas, uas_port, tcp=transport == "tcp")  # a TCP uac must find it listening
            uac = subprocess.run(
                uac_cmd,
                cwd=d,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=120,
                check=False,
            )
            _, uas_err = uas.communicate(timeout=60)
        finally:
            if uas.poll() is None:
                uas.kill()
                uas.wait()
    assert uac.returncode == 0, f"sipp {scenario} failed ({uac.returncode}): {uac.stderr.decode()}"
    uas_stats = read_stats(d / "uas.csv")
    # Over TCP the uac closes its connection when its last call ends, while the uas still
    # holds its last calls in their 4 s timewait (kept to answer a resent BYE): SIPp counts
    # those "FailedTcpClosed" and exits 1, though every message of every call went through.
    closed = int(uas_stats.get("FailedTcpClosed(C)", "0"))
    assert uas.returncode == 0 or (
        uas.returncode == 1 and transport == "tcp" and int(uas_stats["FailedCall(C)"]) == closed
    ), f"sipp uas failed ({uas.returncode}): {uas_err.decode()} {uas_stats}"
    assert int(uas_stats["IncomingCall(C)"]) == calls
    assert dump.captured > 0 and dump.dropped == 0, dump
    return Traffic(
        path=path,
        transport=transport,
        uac=(HOST, uac_port),
        uas=(HOST, uas_port),
        dump=dump,
        uac_stats=read_stats(d / "uac.csv"),
        uas_stats=uas_stats,
    )


@pytest.fixture(scope="module", params=["udp", "tcp"])
def traffic(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    transport: str = request.param
    return run_sipp(tmp_path_factory.mktemp(f"sipp-{transport}"), transport)


def messages(path: Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    cap = capture_module().read(path)
    table = pa.table(cap.messages).drop_columns(["time"])
    return sorted(table.to_pylist(), key=lambda r: r["frame"]), dict(cap.stats)


def key(r: dict[str, Any]) -> tshark.Key:
    return (r["frame"], r["call_id"], r["cseq"], r["cseq_method"], r["method"], r["status"])


def test_same_messages_as_tshark(traffic: Traffic) -> None:
    rows, stats = messages(traffic.path)
    theirs = tshark.sip_messages(traffic.path)
    assert Counter(key(r) for r in rows) == tshark.keys(theirs)
    addresses = {(t.frame, t.call_id, t.cseq, t.status): (t.src, t.dst) for t in theirs}
    for r in rows:
        src, dst = (r["src_ip"], r["src_port"]), (r["dst_ip"], r["dst_port"])
        assert addresses[(r["frame"], r["call_id"], r["cseq"], r["status"])] == (src, dst), r
    assert stats["records"] == traffic.dump.captured


def test_messages_match_sipp_counts(traffic: Traffic) -> None:
    """SIPp's uac/uas call flow: INVITE, 180, 200, ACK, BYE, 200 per call (plus what SIPp
    says it retransmitted), every call answered."""
    rows, stats = messages(traffic.path)
    assert int(traffic.uac_stats["SuccessfulCall(C)"]) == CALLS
    assert int(traffic.uas_stats["IncomingCall(C)"]) == CALLS
    retransmissions = int(traffic.uac_stats["Retransmissions(C)"]) + int(
        traffic.uas_stats["Retransmissions(C)"]
    )
    if traffic.transport == "tcp":
        assert retransmissions == 0
    assert len(rows) == 6 * CALLS + retransmissions
    assert stats["sip_messages"] == len(rows)
    assert stats["sip_parse_errors"] == 0
    assert all(r["parse_error"] is None for r in rows)
    assert {r["transport"] for r in rows} == {traffic.transport}
    invites = {r["call_id"] for r in rows if r["method"] == "INVITE"}
    assert len(invites) == CALLS  # one INVITE per call, so INVITEs = calls
    kinds = Counter(r["method"] or r["status"] for r in rows)
    if retransmissions == 0:
        assert kinds == {"INVITE": CALLS, 180: CALLS, 200: 2 * CALLS, "ACK": CALLS, "BYE": CALLS}
    uac, uas = traffic.uac, traffic.uas
    for r in rows:
        # SIPp binds its TCP connection to its -p port too: requests go uac -> uas.
        src, dst = (r["src_ip"], r["src_port"]), (r["dst_ip"], r["dst_port"])
        assert (src, dst) == ((uac, uas) if r["method"] else (uas, uac)), r


def test_rtp_and_dtmf_played_by_sipp(tmp_path: Path) -> None:
    """One call of SIPp's ``uac_pcap``: 7 s of PCMA and the telephone-event of digit 1 played
    from the sip-tester package's samples to a ``uas`` that echoes them. The SIP messages are
    tshark's, the RTP streams have tshark's packet counts, and the digit is found."""
    for sample in ["g711a.pcap", "dtmf_2833_1.pcap"]:
        if not (SAMPLES / sample).is_file():
            unavailable(f"{SAMPLES / sample} missing: install the Debian package sip-tester")
    # uac_pcap plays pcap/g711a.pcap and pcap/dtmf_2833_1.pcap relative to its directory.
    (tmp_path / "pcap").mkdir()
    for sample in ["g711a.pcap", "dtmf_2833_1.pcap"]:
        (tmp_path / "pcap" / sample).symlink_to(SAMPLES / sample)
    media = (free_port(), free_port())
    traffic = run_sipp(tmp_path, "udp", scenario="uac_pcap", calls=1, rate=1, media=media)
    cap = capture_module().read(traffic.path)
    rows = pa.table(cap.messages).drop_columns(["time"]).to_pylist()
    assert Counter(key(r) for r in rows) == tshark.keys(tshark.sip_messages(traffic.path))
    assert len({r["call_id"] for r in rows}) == 1

    streams = pa.table(capture_module().read(traffic.path).rtp_streams).to_pylist()
    ours = Counter({(s["src_port"], s["dst_port"], s["ssrc"]): s["packets"] for s in streams})
    theirs = Counter(
        {(s.src[1], s.dst[1], s.ssrc): s.packets for s in tshark.rtp_streams(traffic.path)}
    )
    assert theirs, "tshark found no RTP stream"
    assert ours == theirs
    digits = pa.table(capture_module().read(traffic.path).dtmf).column("digit").to_pylist()
    assert digits and set(digits) == {"1"}, digits

    # The analysis joins each stream to its call's media row (the INVITE's offer/answer):
    # the uac plays to the uas's announced port, the uas echoes to the uac's.
    analysis = capture_module().analyze(traffic.path)
    (row,) = pa.table(analysis.media).to_pylist()
    joined = pa.table(analysis.rtp_streams).to_pylist()
    assert len(joined) == len(streams)
    for s in joined:
        media_key = (s["call_id"], s["to_tag"], s["cseq"], s["media_index"])
        assert media_key == (row["call_id"], row["to_tag"], row["cseq"], row["media_index"]), s
        side = "answer" if s["dst_port"] == row["answer_port"] else "offer"
        assert s["dst_port"] == row[f"{side}_port"] and s["sdp_side"] == side, s
    assert {s["sdp_side"] for s in joined} == {"offer", "answer"}
