"""The bundled example capture, examples/calls.pcapng, is what examples/calls.md says it is,
as tshark (Wireshark's dissectors, the oracle) reads it: the calls' Call-IDs, their messages
and final statuses, the forked call's two branches, the hold and resume offers, the REGISTER
challenges, the RTP streams with call 5's loss and jitter, and the RFC 4733 digits. The
times in calls.md agree with the capture's. scripts/make_example_capture.py makes both.

tshark comes from the Debian package (scripts/dev.sh setup installs it); without it this is a
skip, and in CI (``CI`` set) a failure.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path

import tshark

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CAPTURE = EXAMPLES / "calls.pcapng"
NOTES = EXAMPLES / "calls.md"
HEURISTIC_RTP = ("-o", "rtp.heuristic_rtp:TRUE")
# calls.md's times are the agents' own (seconds from the first packet); the capture's agree
# to a few ms on loopback.
SLACK = 0.05

ALICE, BOB_DESK, BOB_SOFT, CAROL = "127.0.0.10", "127.0.0.20", "127.0.0.21", "127.0.0.30"
PROXY = "127.0.0.1"


def table(heading: str) -> list[dict[str, str]]:
    """The rows of the first table after ``## heading`` in calls.md, by column name."""
    lines = NOTES.read_text().splitlines()
    rows: list[str] = []
    for ln in lines[lines.index(f"## {heading}") + 1 :]:
        if ln.startswith("|"):
            rows.append(ln)
        elif rows or ln.startswith("## "):
            break
    names = [c.strip() for c in rows[0].strip("|").split("|")]
    return [dict(zip(names, (c.strip() for c in r.strip("|").split("|")))) for r in rows[2:]]


@lru_cache(maxsize=1)
def calls() -> dict[int, dict[str, str]]:
    return {int(r["#"]): r for r in table("Calls")}


@cache
def fields(
    display_filter: str, names: tuple[str, ...], extra: tuple[str, ...] = ()
) -> list[list[str]]:
    """tshark ``-T fields`` rows for the frames matching ``display_filter``."""
    cmd = [tshark.tshark_binary(), "-n", "-r", str(CAPTURE), *extra, "-Y", display_filter]
    cmd += ["-T", "fields", "-E", "separator=|"]  # a field seen twice: values joined by ","
    for n in names:
        cmd += ["-e", n]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)}: {proc.stderr}"
    return [line.split("|") for line in proc.stdout.splitlines()]


@lru_cache(maxsize=1)
def sip() -> list[tshark.TsharkSip]:
    return tshark.sip_messages(CAPTURE)


def by_call() -> dict[str, list[tshark.TsharkSip]]:
    out: dict[str, list[tshark.TsharkSip]] = defaultdict(list)
    for m in sip():
        assert m.call_id is not None
        out[m.call_id].append(m)
    return out


@lru_cache(maxsize=1)
def t0() -> int:
    """The first frame's time (ns): calls.md counts from it, as tshark's relative times do."""
    sec, _, frac = fields("frame.number == 1", ("frame.time_epoch",))[0][0].partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


def rel(m: tshark.TsharkSip) -> float:
    """A message's time in seconds from the first frame."""
    return (m.time_ns - t0()) / 1e9


def hops(msgs: Sequence[tshark.TsharkSip]) -> list[tuple[str, str]]:
    """Each message's source and destination addresses."""
    return [(m.src[0] if m.src else "", m.dst[0] if m.dst else "") for m in msgs]


def hold_period() -> tuple[float, float]:
    """Call 1's hold, from calls.md: (held at, resumed at)."""
    text = NOTES.read_text().splitlines()
    line = next(ln for ln in text if ln.startswith("- call 1: carol holds alice from "))
    words = line.split()
    return float(words[-3]), float(words[-1])


def statuses(msgs: Sequence[tshark.TsharkSip], method: str, to: str | None = None) -> list[int]:
    return [
        m.status
        for m in msgs
        if m.status is not None
        and m.cseq_method == method
        and (to is None or (m.dst is not None and m.dst[0] == to))
    ]


def requests(msgs: Sequence[tshark.TsharkSip], method: str) -> list[tshark.TsharkSip]:
    return [m for m in msgs if m.method == method]


def near(expected: str, actual: float) -> None:
    assert abs(float(expected) - actual) <= SLACK, (expected, actual)


def test_capture_is_small_pcapng() -> None:
    data = CAPTURE.read_bytes()
    assert data[:4] == b"\x0a\x0d\x0d\x0a", "not pcapng (Section Header Block expected)"
    assert len(data) < 1_000_000
    assert f"{len(data)} bytes" in NOTES.read_text()


def test_call_ids_are_the_notes() -> None:
    regs = {r["Call-ID"] for r in table("Registrations")}
    assert len(calls()) == 5 and len(regs) == 2
    expected = {c["Call-ID"] for c in calls().values()} | regs
    assert set(by_call()) == expected


def test_answered_call_with_hold_and_resume() -> None:
    note = calls()[1]
    msgs = by_call()[note["Call-ID"]]
    invites = requests(msgs, "INVITE")
    assert hops(invites) == [(ALICE, CAROL), (CAROL, ALICE), (CAROL, ALICE)]
    assert statuses(msgs, "INVITE", to=ALICE) == [100, 180, 200]
    assert statuses(msgs, "INVITE", to=CAROL) == [100, 200, 100, 200]
    assert len(requests(msgs, "ACK")) == 3
    bye = requests(msgs, "BYE")
    assert hops(bye) == [(ALICE, CAROL)]
    assert statuses(msgs, "BYE") == [200]
    # The offers and answers: sendrecv, then sendonly answered recvonly, then sendrecv again.
    cid = note["Call-ID"]
    sdp = fields(f'sip.Call-ID == "{cid}" && sdp', ("ip.src", "sdp.media_attr"))
    modes = {"sendrecv", "sendonly", "recvonly", "inactive"}
    directions = [(src, *(set(attrs.split(",")) & modes)) for src, attrs in sdp]
    assert directions == [
        (ALICE, "sendrecv"),
        (CAROL, "sendrecv"),
        (CAROL, "sendonly"),
        (ALICE, "recvonly"),
        (CAROL, "sendrecv"),
        (ALICE, "sendrecv"),
    ]
    near(note["INVITE"], rel(invites[0]))
    ok = next(m for m in msgs if m.status == 200 and m.cseq_method == "INVITE")
    near(note["answered"], rel(ok))
    near(note["ended"], rel(bye[0]))
    assert note["final"] == "200"
    # Held when the hold re-INVITE went out; resumed when the resuming one was answered.
    held_at, resumed_at = hold_period()
    near(str(held_at), rel(invites[1]))
    near(str(resumed_at), rel(invites[2]))


def test_forked_call_through_kamailio() -> None:
    note = calls()[2]
    cid = note["Call-ID"]
    msgs = by_call()[cid]
    invites = requests(msgs, "INVITE")
    assert hops(invites) == [(ALICE, PROXY), (PROXY, BOB_DESK), (PROXY, BOB_SOFT)]
    # Both phones ring; Alice sees both 180s, with their two To tags, and one 200.
    assert statuses(msgs, "INVITE", to=ALICE) == [100, 180, 180, 200]
    ringing = fields(f'sip.Call-ID == "{cid}" && sip.Status-Code == 180', ("ip.dst", "sip.to.tag"))
    tags = {tag for dst, tag in ringing if dst == ALICE}
    assert len(tags) == 2
    # The proxy CANCELs the desk phone, which answers 200 to the CANCEL and 487 to the INVITE.
    cancels = requests(msgs, "CANCEL")
    assert hops(cancels) == [(PROXY, BOB_DESK)]
    assert statuses(msgs, "CANCEL") == [200]
    desk = [m.status for m in msgs if m.src == (BOB_DESK, 5070) and m.cseq_method == "INVITE"]
    assert desk == [100, 180, 487]
    soft = [m.status for m in msgs if m.src == (BOB_SOFT, 5070) and m.cseq_method == "INVITE"]
    assert soft == [100, 180, 200]
    assert 487 not in statuses(msgs, "INVITE", to=ALICE)
    # Bob hangs up from the softphone, through the proxy (Record-Route).
    bye = requests(msgs, "BYE")
    assert hops(bye) == [(BOB_SOFT, PROXY), (PROXY, ALICE)]
    near(note["INVITE"], rel(invites[0]))
    ok = next(m for m in msgs if m.status == 200 and m.dst is not None and m.dst[0] == ALICE)
    near(note["answered"], rel(ok))
    near(note["ended"], rel(bye[0]))
    assert note["final"].startswith("200") and "487" in note["final"]


def test_busy_call() -> None:
    note = calls()[3]
    msgs = by_call()[note["Call-ID"]]
    assert statuses(msgs, "INVITE") == [100, 486]
    assert len(requests(msgs, "ACK")) == 1 and not requests(msgs, "BYE")
    near(note["INVITE"], rel(requests(msgs, "INVITE")[0]))
    near(note["ended"], rel(next(m for m in msgs if m.status == 486)))
    assert note["final"] == "486" and note["answered"] == ""


def test_call_cancelled_while_ringing() -> None:
    note = calls()[4]
    msgs = by_call()[note["Call-ID"]]
    assert statuses(msgs, "INVITE") == [100, 180, 487]
    cancel = requests(msgs, "CANCEL")
    assert hops(cancel) == [(ALICE, CAROL)]
    assert statuses(msgs, "CANCEL") == [200]
    assert len(requests(msgs, "ACK")) == 1 and not requests(msgs, "BYE")
    near(note["ended"], rel(cancel[0]))
    assert note["final"] == "487" and note["answered"] == ""


def test_lossy_call() -> None:
    note = calls()[5]
    msgs = by_call()[note["Call-ID"]]
    assert hops(requests(msgs, "INVITE")) == [(CAROL, ALICE)]
    assert statuses(msgs, "INVITE") == [100, 180, 200]
    assert hops(requests(msgs, "BYE")) == [(CAROL, ALICE)]
    assert statuses(msgs, "BYE") == [200]
    near(note["answered"], rel(next(m for m in msgs if m.status == 200)))
    assert note["final"] == "200"


def test_registrations_are_challenged() -> None:
    for reg in table("Registrations"):
        msgs = by_call()[reg["Call-ID"]]
        # Signed in and out: each REGISTER challenged, then accepted with the digest.
        assert statuses(msgs, "REGISTER") == [401, 200, 401, 200]
        assert [m.cseq for m in requests(msgs, "REGISTER")] == [1, 2, 3, 4]
        near(reg["registered"], rel(msgs[3]))
        near(reg["un-registered"], rel(msgs[7]))


def test_rtp_streams() -> None:
    found = {s.ssrc: s for s in tshark.rtp_streams(CAPTURE, HEURISTIC_RTP)}
    notes = table("RTP streams")
    assert len(found) == len(notes) == 6
    for n in notes:
        s = found[int(n["SSRC"], 16)]
        src, dst = n["from"].split()[1], n["to"].split()[1]
        assert f"{s.src[0]}:{s.src[1]}" == src and f"{s.dst[0]}:{s.dst[1]}" == dst
        assert s.packets == int(n["packets"]) and s.lost == int(n["lost"]), (n, s)
        near(n["first"], s.start)
        near(n["last"], s.end)
        assert s.payload.startswith("g711U")
    lossy = [n for n in notes if n["lost"] != "0"]
    assert len(lossy) == 1 and lossy[0]["call"] == "5" and lossy[0]["jitter"] == "yes"
    bad = found[int(lossy[0]["SSRC"], 16)]
    assert bad.lost == 9 and bad.max_delta_ms > 100  # a burst of five lost
    # Jitter shows: the jittered stream's mean is several times any clean voice stream's.
    clean = [
        found[int(n["SSRC"], 16)]
        for n in notes
        if n["jitter"] == "no" and n["of which events"] == "0"
    ]
    assert bad.mean_jitter_ms > 5 and all(3 * c.mean_jitter_ms < bad.mean_jitter_ms for c in clean)
    # Without the RTP heuristic too: tshark finds every stream from the SDP.
    assert {s.ssrc for s in tshark.rtp_streams(CAPTURE)} == set(found)


def test_hold_stops_one_direction() -> None:
    """While Carol holds, her music goes on and Alice's audio stops."""
    held, resumed = hold_period()
    rows = fields("rtp", ("frame.time_relative", "ip.src"), HEURISTIC_RTP)
    inside = [src for t, src in rows if held + 0.1 < float(t) < resumed - 0.1]
    assert inside and set(inside) == {CAROL}


def test_dtmf() -> None:
    rows = fields(
        "rtpevent",
        (
            "frame.time_relative",
            "ip.src",
            "rtp.timestamp",
            "rtp.marker",
            "rtpevent.event_id",
            "rtpevent.end_of_event",
        ),
        HEURISTIC_RTP,
    )
    digits: dict[str, list[list[str]]] = defaultdict(list)
    for r in rows:
        digits[r[2]].append(r)  # one RTP timestamp per digit (RFC 4733 §2.5)
    notes = table("DTMF (RFC 4733)")
    assert len(digits) == len(notes) == 4
    names = "0123456789*#ABCD"
    for note, (_, pkts) in zip(notes, sorted(digits.items(), key=lambda kv: float(kv[1][0][0]))):
        assert {p[1] for p in pkts} == {ALICE}
        assert {names[int(p[4])] for p in pkts} == {note["digit"]}
        assert [p[3] for p in pkts] == ["1"] + ["0"] * (len(pkts) - 1)
        assert [p[5] for p in pkts][-3:] == ["1", "1", "1"] and pkts[-4][5] == "0"
        near(note["at"], float(pkts[0][0]))
    assert "".join(n["digit"] for n in notes) == "123#"


def test_plain_tshark_shows_all_the_sip() -> None:
    """The command a newcomer types, without preferences, dissects every SIP message."""
    cmd = [tshark.tshark_binary(), "-n", "-r", str(CAPTURE), "-Y", "sip"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    assert len(out.splitlines()) == len(sip())
