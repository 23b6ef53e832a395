"""``analyze`` on captures built here: RTP streams joined to the call and the media row whose
SDP set them up, and a proxy's hops that are no retransmissions.

Captures built here (raw IP, pcap): SIP with SDP and RTP both ways, the SIP packets written
after the RTP and in reverse order (a merged capture: the SDP comes later in the file than the
media it announced). Each stream of ``analyze(...).rtp_streams`` must name the media row
(``call_id``, ``to_tag``, ``cseq``, ``media_index``) whose endpoints it uses while that
offer/answer was in effect: the right leg of a forked call, the re-INVITE that moved a port,
and each of two calls that used one port one after the other.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
pytest.importorskip("scapy")

from capgen.net import raw, udp  # noqa: E402
from capgen.pcapfile import LINKTYPE_RAW, Record, write_pcap  # noqa: E402

import sipwire.capture  # noqa: E402

Addr = tuple[str, int]
EPOCH_NS = 1_700_000_000 * 10**9
A, B1, B2 = ("10.0.0.1", 5060), ("10.0.1.1", 5060), ("10.0.1.2", 5060)


def sdp(ip: str, port: int, direction: str = "sendrecv") -> str:
    return (
        f"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={direction}\r\n"
    )


class Sip:
    """A few SIP messages of one call, as (time, src, dst, bytes)."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.out: list[tuple[float, Addr, Addr, bytes]] = []

    def send(
        self,
        t: float,
        src: Addr,
        dst: Addr,
        start: str,
        cseq: str,
        branch: str,
        to_tag: str = "",
        body: str | None = None,
    ) -> None:
        via_host = src if not start.startswith("SIP/") else dst
        to = f";tag={to_tag}" if to_tag else ""
        ct = "Content-Type: application/sdp\r\n" if body else ""
        b = body or ""
        msg = (
            f"{start}\r\nVia: SIP/2.0/UDP {via_host[0]}:{via_host[1]};branch=z9hG4bK{branch}\r\n"
            f"From: <sip:a@x>;tag=a1\r\nTo: <sip:b@y>{to}\r\nCall-ID: {self.call_id}\r\n"
            f"CSeq: {cseq}\r\n{ct}Content-Length: {len(b)}\r\n\r\n{b}"
        )
        self.out.append((t, src, dst, msg.encode()))

    def invite(
        self,
        t: float,
        caller: Addr,
        callee: Addr,
        n: int,
        to_tag: str,
        offer: str,
        answer: str,
        *,
        initial: bool = True,
    ) -> None:
        """An INVITE (n: its CSeq) answered 200 with `to_tag`, and its ACK."""
        req_tag = "" if initial else to_tag
        self.send(
            t, caller, callee, "INVITE sip:b@y SIP/2.0", f"{n} INVITE", f"i{n}", req_tag, offer
        )
        self.send(t + 1, callee, caller, "SIP/2.0 200 OK", f"{n} INVITE", f"i{n}", to_tag, answer)
        self.send(
            t + 1.05, caller, callee, "ACK sip:b@y SIP/2.0", f"{n} ACK", f"a{n}{to_tag}", to_tag
        )

    def bye(self, t: float, src: Addr, dst: Addr, n: int, to_tag: str) -> None:
        self.send(t, src, dst, "BYE sip:b@y SIP/2.0", f"{n} BYE", f"b{n}{to_tag}", to_tag)
        self.send(t + 0.01, dst, src, "SIP/2.0 200 OK", f"{n} BYE", f"b{n}{to_tag}", to_tag)


def rtp(src: Addr, dst: Addr, ssrc: int, start: float, end: float) -> list[Record]:
    """PCMU every 100 ms (few packets: a short test) from `start` to `end`."""
    out = []
    n = round((end - start) / 0.1)
    for i in range(n):
        payload = struct.pack("!BBHII", 0x80, 0, i, i * 800, ssrc) + b"\xff" * 160
        t = start + i * 0.1
        out.append(Record(raw(udp(src, dst, payload)), EPOCH_NS + round(t * 1e6) * 1000))
    return out


def write(path: Path, calls: list[Sip], media: list[list[Record]]) -> Path:
    records = [r for m in media for r in m]
    sip = [
        Record(raw(udp(s, d, data)), EPOCH_NS + round(t * 1e6) * 1000)
        for c in calls
        for t, s, d, data in c.out
    ]
    write_pcap(path, records + sip[::-1], LINKTYPE_RAW)
    return path


def streams(path: Path) -> dict[tuple[Addr, Addr], dict[str, Any]]:
    a = sipwire.capture.analyze(str(path))
    rows = pa.table(a.rtp_streams).to_pylist()
    media = pa.table(a.media).to_pylist()
    # The media table's key (an early answer a 2xx replaced is a row of its own).
    keys = {(m["call_id"], m["to_tag"], m["cseq"], m["media_index"], m["early"]) for m in media}
    out = {}
    for r in rows:
        key = (r["call_id"], r["to_tag"], r["cseq"], r["media_index"], r["early"])
        assert key in keys, f"{key} is no media row"
        out[((r["src_ip"], r["src_port"]), (r["dst_ip"], r["dst_port"]))] = r
    return out


def joined(r: dict[str, Any]) -> tuple[str, str, int, str]:
    return (r["call_id"], r["to_tag"], r["cseq"], r["sdp_side"])


def test_each_leg_of_a_forked_call_has_its_streams(tmp_path: Path) -> None:
    # One INVITE forked to two phones that both answer (B2 hangs up at 6): A's offer address
    # is the same for both legs; the answers and the streams' sources tell them apart.
    c = Sip("fork")
    offer = sdp("10.0.0.1", 4000)
    c.invite(0.0, A, B1, 1, "p1", offer, sdp("10.0.1.1", 5001))
    c.send(1.2, B2, A, "SIP/2.0 200 OK", "1 INVITE", "i1", "p2", sdp("10.0.1.2", 5002))
    c.send(1.25, A, B2, "ACK sip:b@y SIP/2.0", "1 ACK", "a1p2", "p2")
    c.bye(6.0, B2, A, 1, "p2")
    c.bye(20.0, A, B1, 2, "p1")
    a_rtp, b1_rtp, b2_rtp = ("10.0.0.1", 4000), ("10.0.1.1", 5001), ("10.0.1.2", 5002)
    path = write(
        tmp_path / "fork.pcap",
        [c],
        [
            rtp(a_rtp, b1_rtp, 1, 1.1, 19.0),
            rtp(b1_rtp, a_rtp, 2, 1.1, 19.0),
            rtp(a_rtp, b2_rtp, 3, 1.3, 5.9),
            rtp(b2_rtp, a_rtp, 4, 1.3, 5.9),
        ],
    )
    s = streams(path)
    assert joined(s[(a_rtp, b1_rtp)]) == ("fork", "p1", 1, "answer")
    assert joined(s[(b1_rtp, a_rtp)]) == ("fork", "p1", 1, "offer")
    assert joined(s[(a_rtp, b2_rtp)]) == ("fork", "p2", 1, "answer")
    assert joined(s[(b2_rtp, a_rtp)]) == ("fork", "p2", 1, "offer")
    assert all(r["media_index"] == 0 for r in s.values())


def test_a_reinvite_that_moves_the_port_gets_the_new_streams(tmp_path: Path) -> None:
    # A moves its media to port 4010 and puts B on hold (sendonly) at 10.
    c = Sip("move")
    c.invite(0.0, A, B1, 1, "b1", sdp("10.0.0.1", 4000), sdp("10.0.1.1", 5000))
    c.invite(
        10.0,
        A,
        B1,
        2,
        "b1",
        sdp("10.0.0.1", 4010, "sendonly"),
        sdp("10.0.1.1", 5000, "recvonly"),
        initial=False,
    )
    c.bye(30.0, A, B1, 3, "b1")
    old, new, b = ("10.0.0.1", 4000), ("10.0.0.1", 4010), ("10.0.1.1", 5000)
    path = write(
        tmp_path / "move.pcap",
        [c],
        [
            rtp(old, b, 1, 1.1, 10.9),
            rtp(b, old, 2, 1.1, 10.9),
            rtp(new, b, 3, 11.1, 29.0),
        ],
    )
    s = streams(path)
    assert joined(s[(old, b)]) == ("move", "b1", 1, "answer")
    assert joined(s[(b, old)]) == ("move", "b1", 1, "offer")
    assert joined(s[(new, b)]) == ("move", "b1", 2, "answer")
    m = pa.table(sipwire.capture.analyze(str(path)).media).to_pylist()
    assert [(r["cseq"], r["offer_port"], r["offer_direction"]) for r in m] == [
        (1, 4000, "sendrecv"),
        (2, 4010, "sendonly"),
    ]


def test_two_calls_on_one_port_one_after_the_other(tmp_path: Path) -> None:
    # The same addresses and ports, two Call-IDs, 0.5 s apart: each stream to its own call
    # (the second's media starts within the first's linger: the later offer is in effect).
    first, second = Sip("first"), Sip("second")
    a_rtp, b_rtp = ("10.0.0.1", 4000), ("10.0.1.1", 5000)
    for c, t0, tag in ((first, 0.0, "t1"), (second, 9.5, "t2")):
        c.invite(t0, A, B1, 1, tag, sdp(*a_rtp), sdp(*b_rtp))
        c.bye(t0 + 9.0, A, B1, 2, tag)
    path = write(
        tmp_path / "reuse.pcap",
        [first, second],
        [
            rtp(a_rtp, b_rtp, 1, 1.1, 8.9),
            rtp(b_rtp, a_rtp, 2, 1.1, 8.9),
            rtp(a_rtp, b_rtp, 3, 10.6, 18.4),
            rtp(b_rtp, a_rtp, 4, 10.6, 18.4),
        ],
    )
    a = sipwire.capture.analyze(str(path))
    rows = pa.table(a.rtp_streams).to_pylist()
    by_ssrc = {r["ssrc"]: (r["call_id"], r["to_tag"], r["cseq"]) for r in rows}
    assert by_ssrc == {
        1: ("first", "t1", 1),
        2: ("first", "t1", 1),
        3: ("second", "t2", 1),
        4: ("second", "t2", 1),
    }


def test_a_stream_no_sdp_announced_is_not_joined(tmp_path: Path) -> None:
    c = Sip("lonely")
    c.invite(0.0, A, B1, 1, "b1", sdp("10.0.0.1", 4000), sdp("10.0.1.1", 5000))
    c.bye(10.0, A, B1, 2, "b1")
    other = ("10.0.0.7", 7000), ("10.0.0.8", 7002)
    # Found by the heuristic (no SDP names it), and after the call in any case.
    path = write(tmp_path / "lonely.pcap", [c], [rtp(*other, 9, 20.0, 22.0)])
    rows = pa.table(sipwire.capture.analyze(str(path)).rtp_streams).to_pylist()
    (r,) = rows
    assert (r["to_tag"], r["cseq"], r["media_index"], r["sdp_side"]) == (None,) * 4


def test_a_capture_at_the_proxy_counts_no_hop_as_a_retransmission(tmp_path: Path) -> None:
    """The multi-hop call of test_correlate.py (caller, proxy, callee: every message on two
    hops, the 2xx ACK with a new branch on each) as a capture whose packets are out of time
    order, read by ``analyze``: no retransmission; then with each hop's real resendings."""
    import random

    from test_correlate import proxied_call

    def capture(name: str, msgs: list[tuple[float, bytes, Addr, Addr]]) -> dict[str, Any]:
        records = [
            Record(raw(udp(s, d, data)), EPOCH_NS + round(t * 1e6) * 1000) for t, data, s, d in msgs
        ]
        random.Random(13).shuffle(records)
        path = tmp_path / name
        write_pcap(path, records, LINKTYPE_RAW)
        (row,) = pa.table(sipwire.capture.analyze(str(path)).calls).to_pylist()
        return row

    msgs = proxied_call()
    row = capture("hops.pcap", msgs)
    assert (row["outcome"], row["retransmissions"], row["messages"]) == ("answered", 0, 14)
    assert row["invite_time"].timestamp() == pytest.approx(EPOCH_NS / 1e9, abs=1e-6)
    by_time = {t: (data, s, d) for t, data, s, d in msgs}
    again = [(t, *by_time[first]) for t, first in [(0.5, 0.0), (2.5, 2.0), (2.51, 2.01)]]
    row = capture("again.pcap", msgs + again)
    assert (row["retransmissions"], row["messages"]) == (3, 17)


def test_a_200_whose_sdp_differs_from_the_183s_is_the_answer_its_streams_join(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ringback from a media server announced in a 183, then the phone's own address in the
    200 (RFC 6337 §3.1.1 has the 200 repeat the 183's SDP; such devices do not): two media
    rows, the 183's answer (early) and the 200's, and each stream joins the row whose SDP
    announced both its ends (the key with `early`)."""
    c = Sip("ringback@host")
    c.send(0, A, B1, "INVITE sip:b@y SIP/2.0", "1 INVITE", "i1", "", sdp(A[0], 4000))
    ring = ("192.0.2.9", 7000)
    c.send(0.5, B1, A, "SIP/2.0 183 Session Progress", "1 INVITE", "i1", "tb", sdp(*ring))
    c.send(5, B1, A, "SIP/2.0 200 OK", "1 INVITE", "i1", "tb", sdp(B1[0], 5000))
    c.send(5.05, A, B1, "ACK sip:b@y SIP/2.0", "1 ACK", "a1", "tb")
    c.bye(9, A, B1, 2, "tb")
    media = [
        rtp(ring, (A[0], 4000), 1, 0.6, 4.9),
        rtp((A[0], 4000), ring, 4, 0.6, 4.9),
        rtp((B1[0], 5000), (A[0], 4000), 2, 5.1, 8.9),
        rtp((A[0], 4000), (B1[0], 5000), 3, 5.1, 8.9),
    ]
    path = write(tmp_path / "ringback.pcap", [c], media)
    a = sipwire.capture.analyze(str(path))
    rows = pa.table(a.media).to_pylist()
    assert [(m["answer_ip"], m["answer_port"], m["early"]) for m in rows] == [
        (ring[0], ring[1], True),
        (B1[0], 5000, False),
    ]
    assert pa.table(a.calls).to_pylist()[0]["early_media"]
    # The ladder shows each answer beside its response, the 183's as early.
    from sipwire.cli import main

    assert main(["analyze", str(path), "--quiet", "--color", "never", "--call", "ringback"]) == 0
    out = capsys.readouterr().out
    assert f"SDP early answer audio {ring[0]}:{ring[1]}" in out
    assert f"SDP answer audio {B1[0]}:5000" in out
    report = tmp_path / "report.html"
    assert main(["analyze", str(path), "--quiet", "--html", str(report)]) == 0
    assert f"{ring[0]}:{ring[1]} <small>early</small>" in report.read_text()
    assert f"{B1[0]}:5000 <small>early" not in report.read_text()
    by_key = {(m["call_id"], m["to_tag"], m["cseq"], m["media_index"], m["early"]): m for m in rows}
    got = streams(path)
    assert len(got) == 4
    for (src, dst), r in got.items():
        m = by_key[(r["call_id"], r["to_tag"], r["cseq"], r["media_index"], r["early"])]
        assert m["early"] == (ring in (src, dst)), r
        side = r["sdp_side"]
        assert (m[f"{side}_ip"], m[f"{side}_port"]) == dst, r


def test_early_media_from_the_phone_itself_ends_at_the_200(tmp_path: Path) -> None:
    """A phone that sends its ringback from the address it talks from, with other SDP in the
    183 (sendonly) than in the 200: the early row is in effect until the 200, so a stream from
    that address that starts after the 200 joins the 200's row (RFC 3960 §3)."""
    c = Sip("same-address@host")
    c.send(0, A, B1, "INVITE sip:b@y SIP/2.0", "1 INVITE", "i1", "", sdp(A[0], 4000))
    early = sdp(B1[0], 5000, "sendonly")
    c.send(0.5, B1, A, "SIP/2.0 183 Session Progress", "1 INVITE", "i1", "tb", early)
    c.send(5, B1, A, "SIP/2.0 200 OK", "1 INVITE", "i1", "tb", sdp(B1[0], 5000))
    c.send(5.05, A, B1, "ACK sip:b@y SIP/2.0", "1 ACK", "a1", "tb")
    c.bye(9, A, B1, 2, "tb")
    ring = rtp((B1[0], 5000), (A[0], 4000), 1, 0.6, 4.9)
    talk = rtp((B1[0], 5000), (A[0], 4000), 2, 5.1, 8.9)
    a = sipwire.capture.analyze(str(write(tmp_path / "same.pcap", [c], [ring, talk])))
    rows = pa.table(a.media).to_pylist()
    assert [(m["answer_direction"], m["early"]) for m in rows] == [
        ("sendonly", True),
        ("sendrecv", False),
    ]
    joined = {r["ssrc"]: r["early"] for r in pa.table(a.rtp_streams).to_pylist()}
    assert joined == {1: True, 2: False}


def test_the_bundled_capture_joins_every_stream_and_digit() -> None:
    """examples/calls.pcapng (real traffic: a fork through Kamailio, a hold, RTP and RFC 4733
    digits): each stream and each digit names a media row whose SDP announced its
    destination; the digits are those of the first call's initial offer/answer."""
    example = Path(__file__).resolve().parent.parent / "examples" / "calls.pcapng"
    a = sipwire.capture.analyze(str(example))
    media = {
        (m["call_id"], m["to_tag"], m["cseq"], m["media_index"], m["early"]): m
        for m in pa.table(a.media).to_pylist()
    }
    streams = pa.table(a.rtp_streams).to_pylist()
    digits = pa.table(a.dtmf).to_pylist()
    assert streams and digits
    for r in streams + digits:
        m = media[(r["call_id"], r["to_tag"], r["cseq"], r["media_index"], r["early"])]
        side = r["sdp_side"]
        assert (m[f"{side}_ip"], m[f"{side}_port"]) == (r["dst_ip"], r["dst_port"]), r
    first = pa.table(a.calls).to_pylist()[0]["call_id"]
    assert {(d["call_id"], d["cseq"]) for d in digits} == {(first, 1)}


def test_threads_give_the_same_tables(tmp_path: Path) -> None:
    """threads=2 correlates on a thread of its own beside the read: every table, the counters
    and the message rows are those of threads=1, on the bundled capture (RTP, a fork, a hold)
    and on a generated one long enough to fill many of the batches handed between threads."""
    example = Path(__file__).resolve().parent.parent / "examples" / "calls.pcapng"
    calls = []
    for i in range(700):
        c = Sip(f"thr{i}@host")
        t = i * 0.01
        c.invite(t, A, B1, 1, f"t{i}", sdp(A[0], 4000 + 2 * i), sdp(B1[0], 6000 + 2 * i))
        c.bye(t + 2, A, B1, 2, f"t{i}")
        calls.append(c)
    media = [rtp((A[0], 4000), (B1[0], 6000), 7, 1.1, 1.9)]
    many = write(tmp_path / "many.pcap", calls, media)
    for path in (example, many):
        one = sipwire.capture.analyze(str(path), threads=1)
        two = sipwire.capture.analyze(str(path), threads=2)
        assert pa.table(one.messages).equals(pa.table(two.messages))
        for name in ("calls", "media", "rtp_streams", "dtmf"):
            a, b = pa.table(getattr(one, name)), pa.table(getattr(two, name))
            assert a.equals(b), (path.name, name)
            assert a.num_rows or (path == many and name == "dtmf"), (path.name, name)
        assert one.stats == two.stats
    with pytest.raises(ValueError, match="threads is 1 or 2"):
        sipwire.capture.analyze(str(example), threads=3)
