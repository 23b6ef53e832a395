"""sipwire.campaign without a real peer: generation, options, ddmin, the command line, and
one short campaign against an in-process UDP responder (reproducibility)."""

from __future__ import annotations

import io
import random
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tshark import PREFERENCES, tshark_binary

import sipwire
from sipwire import campaign, cli, mutations
from sipwire._progress import Progress
from sipwire.campaign import Config, Target, ddmin, generate_round

UDP = Target("udp", "127.0.0.1", 5060)
SENT_BY = "127.0.0.1:40000"


# --- targets and options ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "transport", "want"),
    [
        ("udp:127.0.0.1:5060", None, Target("udp", "127.0.0.1", 5060)),
        ("TCP:127.0.0.1:5070", None, Target("tcp", "127.0.0.1", 5070)),
        ("127.0.0.1:5060", None, Target("udp", "127.0.0.1", 5060)),
        ("127.0.0.1:5060", "tcp", Target("tcp", "127.0.0.1", 5060)),
        ("udp:[::1]:5060", None, Target("udp", "::1", 5060)),
        ("localhost:1", None, Target("udp", "localhost", 1)),
    ],
)
def test_targets(text: str, transport: str | None, want: Target) -> None:
    assert Target.parse(text, transport) == want
    assert Target.parse(str(want)) == want


@pytest.mark.parametrize(
    ("text", "transport", "error"),
    [
        ("127.0.0.1", None, "bad target '127.0.0.1': expected udp:HOST:PORT"),
        ("udp:127.0.0.1:0", None, "port '0' is not 1-65535"),
        ("udp:127.0.0.1:70000", None, "port '70000' is not 1-65535"),
        ("udp:127.0.0.1:x", None, "port 'x' is not 1-65535"),
        ("udp::5060", None, "no host"),
        ("tcp:127.0.0.1:5060", "udp", "says tcp but the transport asked is udp"),
        ("[::1:5060", None, "IPv6 as [ADDR]:PORT"),
        ("::1:5060", None, "expected udp:HOST:PORT"),
        ("127.0.0.1:5060", "sctp", "transport 'sctp' is not udp or tcp"),
    ],
)
def test_bad_targets_say_what_is_wrong(text: str, transport: str | None, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("]", r"\]")):
        Target.parse(text, transport)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"rate": 0}, "rate must be > 0, not 0"),
        ({"probe_timeout": -1}, "probe timeout must be > 0"),
        ({"round_size": 0}, "round size must be at least 1, not 0"),
        ({"rounds": 0}, "rounds must be at least 1"),
        ({"count": -5}, "count must be at least 1, not -5"),
        ({"valid_ratio": 1.5}, "valid ratio must be between 0 and 1, not 1.5"),
        ({"classes": ("floods", "nope")}, "unknown hostile class 'nope'; choose from body_length"),
        ({"classes": (), "valid_ratio": 0.5}, "no hostile classes chosen"),
    ],
)
def test_bad_options_are_refused(change: dict[str, object], error: str) -> None:
    config = Config(UDP, **change)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=error):
        campaign.Campaign(config)


# --- generation -----------------------------------------------------------------------------


def round_bytes(config: Config, n: int) -> list[bytes]:
    return [i.data for i in generate_round(config, n, SENT_BY)]


def test_same_seed_same_bytes() -> None:
    a, b = Config(UDP, seed=42), Config(UDP, seed=42)
    assert [round_bytes(a, n) for n in (1, 2, 3)] == [round_bytes(b, n) for n in (1, 2, 3)]
    assert round_bytes(a, 1) != round_bytes(Config(UDP, seed=43), 1)
    assert round_bytes(a, 1) != round_bytes(a, 2)
    # A cut round is the start of the full one: --count never changes what is sent.
    assert [i.data for i in generate_round(a, 2, SENT_BY, size=7)] == round_bytes(a, 2)[:7]


def test_valid_messages_are_valid_and_address_the_target() -> None:
    config = Config(UDP, seed=5, valid_ratio=1.0, round_size=200)
    items = generate_round(config, 1, SENT_BY)
    methods = set()
    for item in items:
        assert item.kind.startswith("valid:")
        m = sipwire.parse(item.data, validate=True)
        assert isinstance(m, sipwire.Request) and m.diagnostics == []
        assert m.uri.host == "127.0.0.1" and m.uri.port == 5060
        assert m.via[0].host == "127.0.0.1" and m.via[0].port == 40000
        assert m.via[0].rport_requested and m.via[0].has_rfc3261_branch
        methods.add(m.method)
    assert methods == {"OPTIONS", "REGISTER", "MESSAGE", "INVITE", "CANCEL", "ACK", "BYE"}
    # A CANCEL follows its INVITE with the same branch, Call-ID and CSeq number (RFC 3261 §9.1).
    for first, second in zip(items, items[1:]):
        if second.kind == "valid:CANCEL":
            inv, can = sipwire.parse(first.data), sipwire.parse(second.data)
            assert inv.branch == can.branch and inv.call_id == can.call_id
            assert inv.cseq is not None and can.cseq is not None
            assert inv.cseq.seq == can.cseq.seq and inv.sdp is not None


@pytest.mark.parametrize("name", sorted(mutations.MUTATIONS))
def test_each_hostile_class_can_be_chosen(name: str) -> None:
    config = Config(UDP, seed=9, classes=(name,), valid_ratio=0.0, round_size=10)
    items = generate_round(config, 1, SENT_BY)
    assert {i.kind for i in items} == {f"hostile:{name}"}
    # Every choice came from the round's seed: the same round again is the same bytes.
    assert [i.data for i in generate_round(config, 1, SENT_BY)] == [i.data for i in items]


# --- ddmin ----------------------------------------------------------------------------------


def test_ddmin_finds_the_two_items_that_matter() -> None:
    calls: list[int] = []

    def fails(c: list[int]) -> bool:
        calls.append(len(c))
        return 3 in c and 71 in c

    assert ddmin(list(range(100)), fails) == [3, 71]
    assert len(calls) < 100


def test_ddmin_on_bytes() -> None:
    data = b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\nSubject: a\x00b\r\n\r\n"
    out = bytes(ddmin(list(data), lambda c: 0 in c and c.count(13) >= 1))
    assert out in (b"\r\x00", b"\x00\r")


def test_ddmin_stops_at_its_budget_with_a_failing_input() -> None:
    def fails(c: list[int]) -> bool:
        return 50 in c

    few = ddmin(list(range(100)), fails, max_tests=3)
    assert 50 in few and len(few) < 100
    assert ddmin(list(range(100)), fails, deadline=0.0) == list(range(100))

    seen = 0

    def tired(c: list[int]) -> bool:
        nonlocal seen
        seen += 1
        if seen > 4:
            raise campaign.BudgetExhausted
        return 50 in c

    out = ddmin(list(range(100)), tired)
    assert 50 in out and len(out) <= 50


# --- command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ([], "the target is required"),
        (["udp:127.0.0.1"], "bad target 'udp:127.0.0.1'"),
        (["--classes", "floods,nope", "127.0.0.1:5060"], "unknown hostile class 'nope'"),
        (["--rate", "0", "127.0.0.1:5060"], "rate must be > 0"),
        (["--rate", "fast", "127.0.0.1:5060"], "argument --rate: invalid float value: 'fast'"),
        (["--valid-ratio", "2", "127.0.0.1:5060"], "valid ratio must be between 0 and 1"),
        (["--transport", "udp", "tcp:127.0.0.1:5060"], "says tcp but the transport asked"),
        (["--bind", "nowhere", "127.0.0.1:5060"], "bad target 'udp:nowhere'"),
        (["--replay", "/nonexistent/x.sip", "127.0.0.1:5060"], "cannot read /nonexistent/x.sip"),
    ],
)
def test_usage_errors_exit_2_and_say_why(
    args: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["fuzz", *args])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "sipwire fuzz: error:" in err and error in err, err


def test_list_classes_says_what_each_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["fuzz", "--list-classes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [ln.split(None, 1) for ln in lines if ln.startswith("  ")]
    names = sorted(mutations.MUTATIONS) + list(campaign.DIALOG_CLASSES)
    assert [r[0] for r in rows] == names
    for name, text in rows:
        assert len(text) > 20, name
    assert set(mutations.DESCRIPTIONS) == set(mutations.MUTATIONS)
    assert set(campaign.DIALOG_DESCRIPTIONS) == set(campaign.DIALOG_CLASSES)


def test_a_public_target_needs_confirmation(capsys: pytest.CaptureFixture[str]) -> None:
    # Refused before any socket is opened: nothing is sent anywhere.
    assert cli.main(["fuzz", "--quiet", "udp:192.0.2.1:5060"]) == 2
    err = capsys.readouterr().err
    assert "WARNING: 192.0.2.1 is not a loopback or private address" in err
    assert "--allow-public" in err and "not sending anything" in err
    with pytest.raises(ValueError, match="allow-public"):
        Config(Target("udp", "192.0.2.1", 5060)).check()
    Config(Target("udp", "192.0.2.1", 5060), allow_public=True).check()
    for host in ("127.0.0.1", "10.1.2.3", "192.168.0.9", "::1", "fd00::1", "localhost"):
        assert campaign.is_private(host), host
    assert not campaign.is_private("192.0.2.1") and not campaign.is_private("2001:db8::1")


def test_the_rate_has_a_ceiling() -> None:
    with pytest.raises(ValueError, match="rate must be at most 10000"):
        Config(UDP, rate=campaign.MAX_RATE + 1).check()


def test_the_window_reaches_back_to_the_answer_before_the_suspect_window() -> None:
    rec = campaign._Record(max_messages=1000, max_bytes=1 << 20)
    for k in range(1, 41):
        rec.add(campaign.Input(1 + (k - 1) // 10, (k - 1) % 10, "valid:OPTIONS", b"x"), float(k))
        if k % 10 == 0:
            rec.probe_answered(float(k) + 0.5)  # after messages 10, 20, 30, 40
    # Suspect window from t = 25: the last answer before it came after message 20.
    entries, lost = rec.window(25.0)
    assert [e.seq for e in entries] == list(range(21, 41)) and not lost
    # No answer before it: everything kept.
    assert len(rec.window(5.0)[0]) == 40
    # A bounded record: the oldest messages go, and a window that needs them says so.
    small = campaign._Record(max_messages=15, max_bytes=1 << 20)
    for k in range(1, 41):
        small.add(campaign.Input(1, k, "valid:OPTIONS", b"x"), float(k))
        if k == 10:
            small.probe_answered(10.5)
    entries, lost = small.window(25.0)
    assert len(entries) == 15 and lost and small.dropped == 25


def test_a_target_that_does_not_answer_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        # Bound but silent: the probe times out.
        rc = cli.main(["fuzz", "--probe-timeout", "0.05", "--quiet", f"udp:127.0.0.1:{port}"])
    assert rc == 2
    assert "does not answer OPTIONS (3 tries, 0.05 s each)" in capsys.readouterr().err


# --- progress line --------------------------------------------------------------------------


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_in_place_on_a_terminal_only() -> None:
    tty, log = Tty(), io.StringIO()
    for stream in (tty, log):
        p = Progress(stream, every=3600)
        p.show("round 1", force=True)
        p.show("round 2")  # too soon: not drawn on a log
        p.say("a note")
        p.end()
    assert tty.getvalue().startswith("\rround 1\x1b[K\na note\n")
    assert log.getvalue() == "round 1\na note\n"


# --- a short campaign against an in-process responder -------------------------------------


class Responder:
    """Answers OPTIONS with 200 and records every datagram it gets."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.got: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            self.got.append(data)
            try:
                m = sipwire.parse(data)
            except sipwire.ParseError:
                continue
            if isinstance(m, sipwire.Request) and m.method == "OPTIONS":
                self.sock.sendto(bytes(m.response(200)), peer)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def responder() -> Iterator[Responder]:
    r = Responder()
    try:
        yield r
    finally:
        r.close()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_a_campaign_sends_the_same_bytes_for_the_same_seed(
    responder: Responder, tmp_path: Path
) -> None:
    target = Target("udp", "127.0.0.1", responder.port)
    bind = ("127.0.0.1", free_udp_port())
    runs = []
    for seed in (7, 7, 8):
        responder.got.clear()
        config = Config(target, seed=seed, rounds=3, round_size=10, rate=2000, bind=bind)
        config.out = tmp_path
        summary = campaign.Campaign(config).run()
        assert summary.alive and not summary.finds and summary.exit_code == 0
        assert summary.sent + summary.oversize == 30 and summary.probes_ok == 3
        assert sum(summary.by_class.values()) == summary.sent
        runs.append(list(responder.got))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    # After the first probe, round 1 is what generate_round gives (less what no datagram holds).
    config = Config(target, seed=7, round_size=10)
    expected = [i.data for i in generate_round(config, 1, f"127.0.0.1:{bind[1]}")]
    expected = [d for d in expected if len(d) <= 65507]
    assert runs[0][1 : 1 + len(expected)] == expected
    assert not list(tmp_path.iterdir()), "nothing is saved when nothing is found"


def test_summary_text_and_exit_codes(responder: Responder) -> None:
    target = Target("udp", "127.0.0.1", responder.port)
    config = Config(target, seed=1, count=15, round_size=10, rate=2000)
    summary = campaign.Campaign(config).run()
    text = summary.format()
    assert summary.rounds == 2 and summary.sent + summary.oversize == 15
    assert f"sipwire fuzz udp:127.0.0.1:{responder.port} seed 1: stopped (15 messages sent)" in text
    assert "finds: 0" in text and "target answering at the end: yes" in text
    assert summary.exit_code == 0
    summary.alive = False
    assert summary.exit_code == 1


def test_the_campaign_pcap_opens_in_tshark(responder: Responder, tmp_path: Path) -> None:
    target = Target("udp", "127.0.0.1", responder.port)
    pcap = tmp_path / "campaign.pcap"
    config = Config(target, seed=3, rounds=2, round_size=10, rate=2000, pcap=pcap, out=tmp_path)
    summary = campaign.Campaign(config).run()
    assert summary.alive
    tshark = tshark_binary()  # a failure in CI when missing, never a silent skip
    r = subprocess.run(
        [tshark, "-n", "-r", str(pcap), "-T", "fields", "-e", "udp.dstport", "-e", "udp.srcport"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [ln.split("\t") for ln in r.stdout.splitlines() if ln]
    to_target = [x for x in rows if x[0] == str(responder.port)]
    from_target = [x for x in rows if x[1] == str(responder.port)]
    # Every datagram the responder got is in the file (the probe before round 1 too), and
    # every answer it sent.
    assert len(to_target) == len(responder.got) == summary.sent + summary.probes_ok + 1
    assert len(from_target) == summary.responses
    # PREFERENCES: SIP by its content first; the ports are the OS's and may be registered to
    # another dissector.
    methods = subprocess.run(
        [tshark, "-n", "-r", str(pcap), *PREFERENCES, "-Y", "sip.Method == \"OPTIONS\"",
         "-T", "fields", "-e", "frame.number"],
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    assert len(methods.stdout.split()) >= summary.probes_ok


def test_replay_sends_then_probes(responder: Responder) -> None:
    target = Target("udp", "127.0.0.1", responder.port)
    result = campaign.replay(target, [b"hello", b"world"], probe_timeout=0.5)
    assert result.alive and result.sent == 2 and result.bytes_sent == 10
    assert b"hello" in responder.got and b"world" in responder.got


def test_random_chooser_is_the_seeded_random() -> None:
    a = mutations.RandomChooser(random.Random(3))
    b = mutations.RandomChooser(random.Random(3))
    assert [a.integer(0, 9) for _ in range(5)] == [b.integer(0, 9) for _ in range(5)]


class DialogResponder(Responder):
    """Answers OPTIONS, INVITE (200 with a To tag), INFO and BYE, but never NOTIFY: a
    target that leaves a request inside a dialog unanswered."""

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            self.got.append(data)
            try:
                m = sipwire.parse(data, strict=False)
            except sipwire.ParseError:
                continue
            if isinstance(m, sipwire.Request) and m.method in ("OPTIONS", "INVITE", "INFO", "BYE"):
                contact = [("Contact", f"<sip:b@127.0.0.1:{self.port}>")]
                self.sock.sendto(bytes(m.response(200, to_tag="b1", headers=contact)), peer)


def test_dialog_classes_find_a_request_left_unanswered(tmp_path: Path) -> None:
    r = DialogResponder()
    try:
        target = Target("udp", "127.0.0.1", r.port)
        config = Config(
            target,
            seed=5,
            rounds=2,
            round_size=1,
            valid_ratio=1.0,
            rate=2000,
            probe_timeout=0.3,
            out=tmp_path,
            dialog_classes=("info_flood", "notify_flood"),
            flood=3,
        )
        summary = campaign.Campaign(config).run()
    finally:
        r.close()
    # Round 1 runs info_flood (all answered), round 2 notify_flood (its first NOTIFY not).
    assert summary.dialogs == 2 and summary.unanswered == 1 and summary.exit_code == 1
    (find,) = summary.finds
    assert find.kind == "dialog:notify_flood" and "NOTIFY" in find.note
    sent = sorted(find.path.glob("*.sip"))
    assert [p.read_bytes().split(b" ", 1)[0] for p in sent] == [b"INVITE", b"ACK", b"NOTIFY"]
    assert "left a request unanswered" in (find.path / "README.txt").read_text()
    assert summary.by_class["dialog:info_flood"] == summary.by_class["dialog:notify_flood"] == 1
    assert "requests unanswered 1" in summary.format()


def test_unknown_dialog_classes_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown dialog class 'nope'"):
        campaign.Campaign(Config(UDP, dialog_classes=("nope",)))
