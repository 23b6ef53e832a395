"""Make examples/calls.pcapng, the capture a newcomer runs `sipwire analyze` on first, and
examples/calls.md, what is in it (the ground truth the tests compare against).

    sudo .venv/bin/python scripts/make_example_capture.py [--out examples/calls.pcapng]
        [--notes examples/calls.md]

Everything in it is real traffic on loopback: sipwire UserAgents are the phones, a Kamailio
started here is the registrar and forking proxy, a small RTP sender here plays the media, and
tcpdump on ``lo`` captures it all. Needs root (tcpdump on lo), kamailio and tcpdump (the Debian
packages of the same names). About 32 s of traffic:

1. Alice calls Carol: answered, RTP both ways (PCMU, 20 ms), Alice keys 1 2 3 # (RFC 4733
   telephone-event, PT 101), Carol puts her on hold (sendonly/recvonly: Alice's RTP stops,
   Carol plays music) and takes her off it, Alice hangs up.
2. Alice calls bob@ through Kamailio, which forks to Bob's two registered phones; both ring,
   the softphone answers, Kamailio CANCELs the desk phone (487); Bob hangs up.
3. Alice calls Carol: 486 Busy Here.
4. Alice calls Carol and gives up while it rings: CANCEL, 487.
5. Carol calls Alice: answered; Carol's RTP loses packets (sequence numbers skipped) and
   arrives with jitter; Carol hangs up.
6. (At the start and the end) Bob's phones REGISTER with digest auth (401, then 200) and
   un-register.

tcpdump writes pcap; the file is rewritten as pcapng here (one section, one interface) with
a comment saying where it came from. Randomness (RTP SSRCs, sequence starts, jitter, the
agents' tags and Call-IDs) is seeded; packet times and Kamailio's nonces and branches differ
from run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import sipwire
from sipwire.sdp import SessionDescription

ROOT = Path(__file__).resolve().parent.parent
SEED = 3261

# Distinct loopback addresses (Linux routes all of 127/8 on lo) make the capture readable;
# the ports are not the standard ones so that nothing else on the machine clashes.
PROXY = ("127.0.0.1", 5170)
SIP_PORT = 5070
PARTIES = {
    # name: (address, RTP port, SIP user)
    "alice": ("127.0.0.10", 40010, "alice"),
    "bob-desk": ("127.0.0.20", 40020, "bob"),
    "bob-soft": ("127.0.0.21", 40021, "bob"),
    "carol": ("127.0.0.30", 40030, "carol"),
}
BPF = "udp and (" + " or ".join(f"host {a}" for a, _, _ in PARTIES.values()) + ")"

PTIME = 0.020  # 20 ms of PCMU: 160 samples, 160 bytes
# Call 5's bad network: each of Carol's packets leaves up to 3 sigma (45 ms) late, never
# reordered, and these packets (by their place in the stream) are never sent at all: one,
# a burst of five, then three, 9 of about 250.
JITTER = 0.015
LOSE = frozenset({40, 101, 102, 103, 104, 105, 180, 181, 182})
SAMPLES = 160
PCMU, TELEPHONE_EVENT = 0, 101
DTMF_EVENTS = {d: i for i, d in enumerate("0123456789*#ABCD")}

Addr = tuple[str, int]

KAMAILIO_CFG = """#!KAMAILIO
# Registrar and forking proxy for scripts/make_example_capture.py: REGISTER is challenged
# (401, qop=auth; every password is "secret") and kept in memory; an INVITE is record-routed
# to every registered Contact of its user at once (parallel forking: tm CANCELs the other
# branches when one answers). Listen address from the command line (-l).

debug=2
log_stderror=yes
fork=yes
children=2
disable_tcp=yes
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=no

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"

modparam("usrloc", "db_mode", 0)
modparam("rr", "enable_full_lr", 1)
modparam("auth", "nonce_count", 1)
modparam("auth", "qop", "auth")

request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (has_totag()) {
        if (loose_route()) {
            t_relay();
            exit;
        }
        if (is_method("ACK")) {
            if (t_check_trans()) {
                t_relay();
            }
            exit;
        }
        sl_send_reply("404", "Not Here");
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans()) {
            t_relay();
        }
        exit;
    }
    t_check_trans();
    if (is_method("REGISTER")) {
        if (!pv_www_authenticate("$td", "secret", "0")) {
            www_challenge("$td", "1");
            exit;
        }
        if (!save("location")) {
            sl_reply_error();
        }
        exit;
    }
    if (is_method("OPTIONS") && $rU == $null) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (is_method("INVITE")) {
        record_route();
    }
    # Every Contact of the user becomes a branch: t_relay forks to all of them at once.
    if (!lookup("location")) {
        sl_send_reply("404", "Not Found");
        exit;
    }
    t_relay();
}
"""


# --- the ground truth written to calls.md ------------------------------------------------


@dataclass
class StreamNote:
    call: int
    src: Addr
    dst: Addr
    ssrc: int
    first_seq: int
    sent: int = 0  # packets sent (voice and telephone-event)
    events: int = 0  # of which telephone-event
    skipped: list[int] = field(default_factory=list)  # sequence numbers never sent ("lost")
    first: float = 0.0
    last: float = 0.0
    jitter: bool = False


@dataclass
class DtmfNote:
    call: int
    digit: str
    src: Addr
    time: float
    duration_ms: int


@dataclass
class CallNote:
    number: int
    title: str
    caller: str
    callee: str
    path: str
    call_id: str = ""
    invite: float = 0.0
    answered: float | None = None
    ended: float = 0.0
    final: str = ""
    ended_by: str = ""
    holds: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class RegNote:
    device: str
    call_id: str
    contact: str
    registered: float = 0.0
    unregistered: float = 0.0


@dataclass
class Notes:
    calls: list[CallNote] = field(default_factory=list)
    streams: list[StreamNote] = field(default_factory=list)
    dtmf: list[DtmfNote] = field(default_factory=list)
    regs: list[RegNote] = field(default_factory=list)


# --- media -------------------------------------------------------------------------------


def ulaw(sample: int) -> int:
    """G.711 mu-law of a 16-bit linear sample (the classic table-free encoder)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(((magnitude >> 7) & 0xFF).bit_length() - 1, 0)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def tone(freqs: tuple[float, ...], start: int, level: int = 3000) -> bytes:
    """160 PCMU samples of ``freqs`` (a note each 0.4 s, in turn) from sample ``start``:
    something audible when the stream is played in Wireshark."""
    out = bytearray()
    for n in range(start, start + SAMPLES):
        f = freqs[(n // 3200) % len(freqs)]
        out.append(ulaw(int(level * math.sin(2 * math.pi * f * n / 8000))))
    return bytes(out)


class MediaSocket(asyncio.DatagramProtocol):
    """A party's RTP socket: it sends from and receives on the address its SDP gives
    (symmetric RTP), so nothing in the capture is answered with ICMP."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # CPython's datagram transport does not subclass DatagramTransport: a cast.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.received += 1

    def send(self, data: bytes, dest: Addr) -> None:
        assert self.transport is not None
        self.transport.sendto(data, dest)


@dataclass
class _Event:
    digit: str
    ticks: int  # the tone's length in 20 ms packets
    done: asyncio.Future[None]
    sent: int = 0
    ends: int = 0
    ts: int = 0


class RtpStream:
    """One direction of a call's audio: a packet every 20 ms on an absolute schedule (so
    delays never add up) while the SDP lets this side send; RFC 4733 events in place of
    voice while a digit is keyed; planned "losses" (sequence numbers skipped) and jitter
    (packets held back a seeded random while, never reordered)."""

    def __init__(
        self,
        sock: MediaSocket,
        note: StreamNote,
        dtmf: list[DtmfNote],
        rng: random.Random,
        freqs: tuple[float, ...],
        *,
        lose: frozenset[int] = frozenset(),
        jitter: float = 0.0,
    ) -> None:
        self.sock, self.note, self.dtmf, self.rng, self.freqs = sock, note, dtmf, rng, freqs
        self.lose, self.jitter = lose, jitter
        self.seq = note.first_seq
        self.ts0 = rng.randrange(1 << 31)
        self.muted = False
        self.event: _Event | None = None
        self._stop = False
        self._task = asyncio.ensure_future(self._run())

    def follow(self, local_sdp: SessionDescription | None) -> None:
        """Send only while this side's SDP says sendrecv or sendonly (RFC 3264 §6.1)."""
        direction = local_sdp.media[0].direction if local_sdp and local_sdp.media else "sendrecv"
        self.muted = direction not in ("sendrecv", "sendonly")

    async def digit(self, digit: str, ms: int = 100) -> None:
        done = asyncio.get_running_loop().create_future()
        self.event = _Event(digit, max(ms // 20, 1), done)
        await done

    async def stop(self) -> None:
        self._stop = True
        await self._task

    def _packet(self, pt: int, marker: bool, ts: int, payload: bytes) -> bytes:
        header = struct.pack(
            "!BBHII", 0x80, (0x80 if marker else 0) | pt, self.seq, ts & 0xFFFFFFFF, self.note.ssrc
        )
        self.seq = (self.seq + 1) & 0xFFFF
        return header + payload

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        last = start
        tick = 0
        talkspurt = True  # the marker bit starts each talkspurt (RFC 3551 §4.1)
        while not self._stop:
            due = start + tick * PTIME
            if self.jitter:
                due += min(abs(self.rng.gauss(0.0, self.jitter)), 3 * self.jitter)
            due = max(due, last)  # held back, never reordered
            await asyncio.sleep(max(due - loop.time(), 0.0))
            last = due
            if self._stop:
                break
            ts = self.ts0 + tick * SAMPLES
            tick += 1
            if self.muted:
                talkspurt = True
                continue
            ev = self.event
            if ev is not None:
                self._send_event(ev, ts)
                continue
            if tick - 1 in self.lose:
                # Planned loss: the sequence number is used, the packet never sent.
                self.note.skipped.append(self.seq)
                self.seq = (self.seq + 1) & 0xFFFF
                continue
            self._send(self._packet(PCMU, talkspurt, ts, tone(self.freqs, ts - self.ts0)))
            talkspurt = False

    def _send_event(self, ev: _Event, ts: int) -> None:
        # RFC 4733 §2.5: one timestamp (the tone's start) for every packet of the event,
        # the duration growing, the marker on the first, the end packet sent three times.
        if ev.sent == 0:
            ev.ts = ts
        ev.sent += 1
        end = ev.sent >= ev.ticks
        duration = min(ev.sent, ev.ticks) * SAMPLES
        if end:
            ev.ends += 1
        payload = struct.pack("!BBH", DTMF_EVENTS[ev.digit], (0x80 if end else 0) | 10, duration)
        if ev.sent == 1:
            self.dtmf.append(
                DtmfNote(self.note.call, ev.digit, self.note.src, time.time(), ev.ticks * 20)
            )
        self._send(self._packet(TELEPHONE_EVENT, ev.sent == 1, ev.ts, payload))
        self.note.events += 1
        if ev.ends == 3:
            self.event = None
            ev.done.set_result(None)

    def _send(self, data: bytes) -> None:
        now = time.time()
        if self.note.sent == 0:
            self.note.first = now
        self.note.last = now
        self.note.sent += 1
        self.sock.send(data, self.note.dst)


# What happened, as the script's agents and RTP senders saw it: calls.md is written from it.
NOTES = Notes()


# --- the parties -------------------------------------------------------------------------


class Party:
    def __init__(self, name: str, ua: sipwire.UserAgent, sock: MediaSocket, seed: int) -> None:
        self.name = name
        self.ua = ua
        self.sock = sock
        self.host, self.rtp_port, self.user = PARTIES[name]
        self.rng = random.Random(seed)
        self._incoming: AsyncIterator[sipwire.IncomingCall] = ua.incoming()

    @property
    def uri(self) -> str:
        return f"sip:{self.user}@{self.host}:{SIP_PORT}"

    async def next_call(self) -> sipwire.IncomingCall:
        return await self._incoming.__anext__()

    def stream(
        self,
        call: int,
        remote: SessionDescription | None,
        freqs: tuple[float, ...],
        *,
        lose: frozenset[int] = frozenset(),
        jitter: float = 0.0,
    ) -> RtpStream:
        """Audio to where ``remote`` (the peer's SDP) asks for it."""
        assert remote is not None and remote.media, "no SDP from the peer"
        m = remote.media[0]
        assert any(c.payload_type == PCMU for c in m.codecs), "PCMU not agreed"
        dst = (m.connection or remote.connection or "", m.port)
        note = StreamNote(
            call,
            (self.host, self.rtp_port),
            dst,
            self.rng.getrandbits(32),
            self.rng.randrange(1, 30000),
            jitter=jitter > 0,
        )
        NOTES.streams.append(note)
        # Its own generator: how many jitter draws a stream makes depends on timing, and
        # must not shift the SSRCs of the streams after it.
        rng = random.Random(self.rng.getrandbits(64))
        return RtpStream(self.sock, note, NOTES.dtmf, rng, freqs, lose=lose, jitter=jitter)


VOICE_ALICE = (440.0, 494.0)
VOICE_BOB = (392.0, 330.0)
VOICE_CAROL = (349.0, 294.0)
HOLD_MUSIC = (523.0, 659.0, 784.0, 659.0)


def now() -> float:
    return time.time()


async def stop(*streams: RtpStream) -> None:
    await asyncio.gather(*(s.stop() for s in streams))


async def call_1(alice: Party, carol: Party) -> None:
    """Answered; DTMF; hold and resume; the caller hangs up."""
    note = CallNote(1, "answered, DTMF, hold and resume", "alice", "carol", "direct")
    NOTES.calls.append(note)

    async def answer() -> sipwire.Call:
        inc = await carol.next_call()
        await inc.ring()
        await asyncio.sleep(1.5)
        return await inc.answer()

    callee = asyncio.ensure_future(answer())
    note.invite = now()
    call = await alice.ua.invite(carol.uri)
    note.answered = now()
    peer = await callee
    note.call_id = call.call_id or ""
    a = alice.stream(1, call.remote_sdp, VOICE_ALICE)
    c = carol.stream(1, peer.remote_sdp, VOICE_CAROL)
    await asyncio.sleep(2.0)
    for digit in "123#":  # an IVR menu, say
        await a.digit(digit, ms=100)
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    # Carol holds: her re-INVITE offers sendonly, Alice's agent answers recvonly.
    held = now()
    assert (await peer.hold()).status == 200
    a.follow(call.local_sdp)
    c.follow(peer.local_sdp)
    assert a.muted and not c.muted, "hold did not stop Alice's RTP"
    c.freqs = HOLD_MUSIC
    await asyncio.sleep(3.0)
    assert (await peer.unhold()).status == 200
    note.holds.append((held, now()))
    a.follow(call.local_sdp)
    c.freqs = VOICE_CAROL
    assert not a.muted
    await asyncio.sleep(1.5)
    await stop(a, c)
    note.ended, note.ended_by, note.final = now(), "alice (BYE)", "200"
    await call.hangup()
    await asyncio.wait_for(peer.wait_ended(), 5)


async def call_2(alice: Party, desk: Party, soft: Party) -> None:
    """Forked by Kamailio to Bob's two phones; the softphone answers, the desk phone is
    CANCELled by the proxy; Bob hangs up."""
    note = CallNote(2, "forked: two phones ring, one answers", "alice", "bob", "via Kamailio")
    NOTES.calls.append(note)
    cancelled_at: list[float] = []

    async def desk_phone() -> None:
        inc = await desk.next_call()
        await inc.ring()
        await asyncio.wait_for(inc.cancelled, 10)  # the endpoint answers 487 itself
        cancelled_at.append(now())

    async def softphone() -> sipwire.Call:
        inc = await soft.next_call()
        await asyncio.sleep(0.2)
        await inc.ring()
        await asyncio.sleep(2.5)
        return await inc.answer()

    ringing = asyncio.ensure_future(desk_phone())
    answering = asyncio.ensure_future(softphone())
    note.invite = now()
    uri = f"sip:bob@{PROXY[0]}:{PROXY[1]}"
    call = await alice.ua.invite(uri, dest=PROXY)
    note.answered = now()
    peer = await answering
    await ringing
    note.call_id = call.call_id or ""
    note.final = "200 (bob-soft); 487 to the proxy's CANCEL (bob-desk)"
    a = alice.stream(2, call.remote_sdp, VOICE_ALICE)
    b = soft.stream(2, peer.remote_sdp, VOICE_BOB)
    await asyncio.sleep(3.0)
    await stop(a, b)
    note.ended, note.ended_by = now(), "bob-soft (BYE, through the proxy)"
    await peer.hangup()
    await asyncio.wait_for(call.wait_ended(), 5)


async def call_3(alice: Party, carol: Party) -> None:
    """Busy: 486."""
    note = CallNote(3, "busy", "alice", "carol", "direct")
    NOTES.calls.append(note)

    async def busy() -> None:
        inc = await carol.next_call()
        await asyncio.sleep(0.1)
        await inc.reject(486)

    callee = asyncio.ensure_future(busy())
    note.invite = now()
    try:
        await alice.ua.invite(carol.uri)
        raise AssertionError("call 3 was answered")
    except sipwire.CallFailed as e:
        assert e.status == 486 and e.response is not None, e
        note.call_id = e.response.call_id or ""
        note.final = "486"
    note.ended, note.ended_by = now(), "carol (486 Busy Here)"
    await callee


async def call_4(alice: Party, carol: Party) -> None:
    """Ringing, then the caller gives up: CANCEL, 487."""
    note = CallNote(4, "cancelled by the caller while ringing", "alice", "carol", "direct")
    NOTES.calls.append(note)
    ringing = asyncio.Event()

    def progress(r: sipwire.Response) -> None:
        note.call_id = r.call_id or ""
        if r.status == 180:
            ringing.set()

    async def rings() -> None:
        inc = await carol.next_call()
        await inc.ring()
        await asyncio.wait_for(inc.cancelled, 10)

    callee = asyncio.ensure_future(rings())
    note.invite = now()
    inviting = asyncio.ensure_future(alice.ua.invite(carol.uri, on_provisional=progress))
    await asyncio.wait_for(ringing.wait(), 5)
    await asyncio.sleep(3.0)
    note.ended = now()
    inviting.cancel()  # the agent sends CANCEL; the INVITE gets 487 (and its ACK)
    with contextlib.suppress(asyncio.CancelledError):
        await inviting
    await callee
    note.final, note.ended_by = "487", "alice (CANCEL)"


async def call_5(carol: Party, alice: Party) -> None:
    """Answered; Carol's audio loses packets and arrives with jitter; Carol hangs up."""
    note = CallNote(5, "answered; RTP loss and jitter", "carol", "alice", "direct")
    NOTES.calls.append(note)

    async def answer() -> sipwire.Call:
        inc = await alice.next_call()
        await inc.ring()
        await asyncio.sleep(1.0)
        return await inc.answer()

    callee = asyncio.ensure_future(answer())
    note.invite = now()
    call = await carol.ua.invite(alice.uri)
    note.answered = now()
    peer = await callee
    note.call_id = call.call_id or ""
    c = carol.stream(5, call.remote_sdp, VOICE_CAROL, lose=LOSE, jitter=JITTER)
    a = alice.stream(5, peer.remote_sdp, VOICE_ALICE)
    await asyncio.sleep(5.0)
    await stop(c, a)
    note.ended, note.ended_by, note.final = now(), "carol (BYE)", "200"
    await call.hangup()
    await asyncio.wait_for(peer.wait_ended(), 5)


async def scenario() -> None:
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as stack:
        parties: dict[str, Party] = {}
        for i, (name, (host, rtp, user)) in enumerate(PARTIES.items()):
            # Seeds far apart: the endpoint's generator ORs the seed with 1, so seeds 2k and
            # 2k + 1 would give two agents the same tags and Call-IDs.
            ua = sipwire.UserAgent(
                host=host, port=SIP_PORT, user=user, media_port=rtp, seed=SEED + 1000 * i
            )
            await stack.enter_async_context(ua)
            _, sock = await loop.create_datagram_endpoint(MediaSocket, local_addr=(host, rtp))
            stack.callback(sock.transport.close)  # type: ignore[union-attr]
            parties[name] = Party(name, ua, sock, SEED * 10 + i)
        alice, desk, soft, carol = (parties[n] for n in ("alice", "bob-desk", "bob-soft", "carol"))

        # 6a. Bob's phones sign in (401 with a nonce, then 200 with the digest).
        regs = []
        for p in (desk, soft):
            reg = await p.ua.register(
                f"sip:{PROXY[0]}:{PROXY[1]}", username="bob", password="secret", expires=600
            )
            contact = f"sip:bob@{p.host}:{SIP_PORT}"
            assert any(contact in b for b in reg.bindings), reg.bindings
            NOTES.regs.append(RegNote(p.name, reg.call_id, contact, now()))
            regs.append((p, reg))
            await asyncio.sleep(0.3)
        await asyncio.sleep(0.7)

        await call_1(alice, carol)
        await asyncio.sleep(1.0)
        await call_2(alice, desk, soft)
        await asyncio.sleep(1.0)
        await call_3(alice, carol)
        await asyncio.sleep(1.0)
        await call_4(alice, carol)
        await asyncio.sleep(1.0)
        await call_5(carol, alice)
        await asyncio.sleep(1.0)

        # 6b. ... and sign out (Expires: 0, challenged again).
        for (p, reg), rn in zip(regs, NOTES.regs):
            await p.ua.unregister(reg)
            rn.unregistered = now()
            assert p.name == rn.device
            await asyncio.sleep(0.2)
        for p in parties.values():
            assert p.sock.received > 0 or p.name == "bob-desk", f"{p.name} got no RTP"
        received = sum(p.sock.received for p in parties.values())
        sent = sum(s.sent for s in NOTES.streams)
        assert received == sent, f"RTP sent {sent}, received {received}"


# --- the peers: Kamailio and tcpdump -----------------------------------------------------


def binary(name: str) -> str:
    path = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if path is None:
        sys.exit(f"{name} not found: apt-get install -y {name}")
    return path


def answers_options(addr: Addr, within: float) -> bool:
    deadline = time.monotonic() + within
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.3)
        me = s.getsockname()[1]
        n = 0
        while time.monotonic() < deadline:
            n += 1
            probe = (
                f"OPTIONS sip:{addr[0]}:{addr[1]} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKprobe{n}\r\n"
                "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\n"
                f"To: <sip:{addr[0]}:{addr[1]}>\r\nCall-ID: probe{n}\r\nCSeq: {n} OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n"
            )
            s.sendto(probe.encode(), addr)
            try:
                if s.recv(65536).startswith(b"SIP/2.0 "):
                    return True
            except OSError:
                time.sleep(0.2)
    return False


@contextlib.contextmanager
def kamailio(rundir: Path) -> Iterator[None]:
    """Kamailio in the foreground in its own process group (it forks workers), up once it
    answers OPTIONS (from 127.0.0.1, which the capture filter leaves out)."""
    cfg = rundir / "kamailio.cfg"
    cfg.write_text(KAMAILIO_CFG)
    cmd = [binary("kamailio"), "-DD", "-E", "-f", str(cfg), "-Y", str(rundir), "-m", "32"]
    cmd += ["-M", "4", "-l", f"udp:{PROXY[0]}:{PROXY[1]}"]
    log_path = rundir / "kamailio.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    try:
        if not answers_options(PROXY, within=15):
            raise SystemExit(f"kamailio did not start: {log_path.read_text()[-2000:]}")
        yield
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@contextlib.contextmanager
def tcpdump(path: Path) -> Iterator[None]:
    """tcpdump on lo, packet by packet (-U) and without libpcap's block buffering
    (--immediate-mode: a SIGINT inside a block's timeout would lose that block); stopped
    with SIGINT after a short wait, so the last packets reach the file."""
    cmd = [binary("tcpdump"), "-i", "lo", "-n", "-s", "0", "-U", "--immediate-mode"]
    cmd += ["-w", str(path), BPF]
    proc = subprocess.Popen(
        cmd,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    err = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + 10
        while b"listening on" not in err and time.monotonic() < deadline:
            if sel.select(0.2):
                chunk = os.read(proc.stderr.fileno(), 4096)
                if not chunk:
                    break
                err += chunk
    if b"listening on" not in err:
        proc.kill()
        rest = proc.communicate()[1]
        raise SystemExit(f"tcpdump did not start: {(err + rest).decode(errors='replace')}")
    try:
        time.sleep(0.3)
        yield
    finally:
        time.sleep(0.5)  # the last packets' way through the kernel to tcpdump
        proc.send_signal(signal.SIGINT)
        try:
            _, rest = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, rest = proc.communicate()
        text = (err + rest).decode(errors="replace")
        dropped = re.search(r"(\d+) packets? dropped by kernel", text)
        if dropped and int(dropped.group(1)):
            raise SystemExit(f"tcpdump dropped packets: {text}")


# --- pcap to pcapng ------------------------------------------------------------------------


def _option(code: int, value: bytes) -> bytes:
    pad = b"\0" * (-len(value) % 4)
    return struct.pack("<HH", code, len(value)) + value + pad


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def pcap_to_pcapng(pcap: bytes, comment: str) -> tuple[bytes, int, float, float]:
    """tcpdump's pcap (little-endian, microseconds, as libpcap writes on x86) as pcapng:
    a Section Header Block with ``comment``, one Interface Description Block (lo), an
    Enhanced Packet Block per record. Returns the file, the packet count, the first and the
    last packet's time."""
    magic, _, _, _, _, snaplen, linktype = struct.unpack_from("<IHHiIII", pcap, 0)
    if magic != 0xA1B2C3D4:
        raise SystemExit(f"unexpected pcap magic {magic:#x} (a little-endian µs pcap expected)")
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    shb += _option(1, comment.encode()) + _option(0, b"")
    idb = struct.pack("<HHI", linktype, 0, snaplen)
    idb += _option(2, b"lo") + _option(9, bytes([6])) + _option(0, b"")
    out = [_block(0x0A0D0D0A, shb), _block(1, idb)]
    pos, count, first, last = 24, 0, 0.0, 0.0
    while pos + 16 <= len(pcap):
        sec, usec, incl, orig = struct.unpack_from("<IIII", pcap, pos)
        data = pcap[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        last = sec + usec / 1e6
        if count == 0:
            first = last
        ts = sec * 1_000_000 + usec
        epb = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, incl, orig)
        out.append(_block(6, epb + data + b"\0" * (-incl % 4)))
        count += 1
    return b"".join(out), count, first, last


# --- calls.md ------------------------------------------------------------------------------


def story(t: Callable[[float | None], str]) -> list[str]:
    """calls.md's narrative: one paragraph per call, times filled in."""
    c = {n.number: n for n in NOTES.calls}
    held, resumed = c[1].holds[0]
    digits = " ".join(d.digit for d in NOTES.dtmf)
    lossy = next(s for s in NOTES.streams if s.skipped)
    return [
        f"- {t(NOTES.regs[0].registered)} s: Bob's desk phone and softphone sign in at Kamailio"
        " as bob: each REGISTER is challenged (401) and sent again with a digest (200).",
        f"- {t(c[1].invite)} s, call 1: Alice calls Carol directly; it rings, Carol answers at"
        f" {t(c[1].answered)} s; audio both ways (PCMU, 20 ms). Alice keys {digits} (RFC 4733"
        f" telephone-event). At {t(held)} s Carol puts Alice on hold (re-INVITE a=sendonly,"
        " answered a=recvonly): Carol plays music, Alice's audio stops. At"
        f" {t(resumed)} s Carol resumes (a=sendrecv); Alice hangs up at {t(c[1].ended)} s.",
        f"- {t(c[2].invite)} s, call 2: Alice calls sip:bob@ through Kamailio, which forks to"
        " both of Bob's phones: both ring (two 180s with different To tags reach Alice). The"
        f" softphone answers at {t(c[2].answered)} s; Kamailio CANCELs the desk phone (487,"
        f" absorbed by the proxy). Bob hangs up at {t(c[2].ended)} s, through the proxy.",
        f"- {t(c[3].invite)} s, call 3: Alice calls Carol: 486 Busy Here.",
        f"- {t(c[4].invite)} s, call 4: Alice calls Carol, it rings, Alice gives up at"
        f" {t(c[4].ended)} s: CANCEL, 200, then 487 to the INVITE.",
        f"- {t(c[5].invite)} s, call 5: Carol calls Alice, answered at {t(c[5].answered)} s."
        f" Carol's audio arrives with jitter and {len(lossy.skipped)} of its packets never"
        f" arrive (one, a burst of five, three). Carol hangs up at {t(c[5].ended)} s.",
        f"- {t(NOTES.regs[0].unregistered)} s: Bob's phones sign out (REGISTER Expires: 0, again"
        " 401 then 200).",
    ]


def write_notes(path: Path, t0: float, packets: int, size: int, span: float) -> None:
    def t(x: float | None) -> str:
        return "" if x is None else f"{x - t0:.2f}"

    def who(addr: Addr) -> str:
        name = next(n for n, (a, p, _) in PARTIES.items() if a == addr[0] and p == addr[1])
        return f"{name} {addr[0]}:{addr[1]}"

    lines = [
        "# examples/calls.pcapng",
        "",
        "Real traffic on loopback, made by `scripts/make_example_capture.py` (run it as root to",
        "make it again): sipwire `UserAgent`s are the phones, Kamailio is the registrar and",
        "forking proxy, the script plays the RTP, tcpdump captured it on `lo`. Try",
        "`sipwire analyze examples/calls.pcapng`, or Wireshark's Telephony → VoIP Calls.",
        "",
        f"{packets} packets, {size} bytes, {span:.1f} s. Times below are seconds from the first",
        "packet, as the script's agents saw them (the capture's own times agree to a few ms).",
        "",
        "## The story",
        "",
        *story(t),
        "",
        "## Who",
        "",
        "| party | SIP | RTP | notes |",
        "| --- | --- | --- | --- |",
    ]
    roles = {
        "alice": "calls 1-4, answers call 5",
        "bob-desk": "Bob's desk phone, registered as bob",
        "bob-soft": "Bob's softphone, registered as bob too",
        "carol": "answers call 1, busy for 3, rings for 4, calls 5",
    }
    for name, (host, rtp, user) in PARTIES.items():
        lines.append(f"| {name} | sip:{user}@{host}:{SIP_PORT} | {host}:{rtp} | {roles[name]} |")
    lines.append(
        f"| kamailio | {PROXY[0]}:{PROXY[1]} | | registrar (digest, qop=auth) and forking proxy |"
    )
    lines += [
        "",
        "## Calls",
        "",
        "| # | Call-ID | from | to | path | INVITE | answered | ended | final | ended by | what |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in NOTES.calls:
        lines.append(
            f"| {c.number} | {c.call_id} | {c.caller} | {c.callee} | {c.path} | {t(c.invite)} "
            f"| {t(c.answered)} | {t(c.ended)} | {c.final} | {c.ended_by} | {c.title} |"
        )
    lines += ["", "Hold periods (re-INVITE a=sendonly answered a=recvonly, then a=sendrecv):", ""]
    for c in NOTES.calls:
        for a, b in c.holds:
            lines.append(f"- call {c.number}: carol holds alice from {t(a)} to {t(b)}")
    lines += [
        "",
        "## Registrations",
        "",
        "Each REGISTER is challenged (401 with a nonce) and sent again with the digest (200); the",
        "same Call-ID signs the phone in at the start and out (Expires: 0) at the end.",
        "",
        "| device | Call-ID | Contact | registered | un-registered |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in NOTES.regs:
        lines.append(
            f"| {r.device} | {r.call_id} | <{r.contact}> | {t(r.registered)} "
            f"| {t(r.unregistered)} |"
        )
    lines += [
        "",
        "## RTP streams",
        "",
        "PCMU (PT 0), 20 ms; telephone-event is PT 101. `lost` are sequence numbers skipped on",
        "purpose (never sent); the jittered stream sends each packet up to "
        f"{3 * JITTER * 1000:.0f} ms late.",
        "",
        "| call | from | to | SSRC | first seq | packets | of which events | lost | lost seqs "
        "| first | last | jitter |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in NOTES.streams:
        skipped = " ".join(str(q) for q in s.skipped)
        lines.append(
            f"| {s.call} | {who(s.src)} | {who(s.dst)} | 0x{s.ssrc:08X} | {s.first_seq} "
            f"| {s.sent} | {s.events} | {len(s.skipped)} | {skipped} | {t(s.first)} "
            f"| {t(s.last)} | {'yes' if s.jitter else 'no'} |"
        )
    lines += [
        "",
        "## DTMF (RFC 4733)",
        "",
        "Each digit: a 100 ms tone, the marker on its first packet, one RTP timestamp for all,",
        "the end packet sent three times.",
        "",
        "| call | digit | from | at | ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for d in NOTES.dtmf:
        lines.append(f"| {d.call} | {d.digit} | {who(d.src)} | {t(d.time)} | {d.duration_ms} |")
    path.write_text("\n".join(lines) + "\n")


def realtime() -> None:
    """Wake on time even on a busy machine: a build on every core delays the 20 ms media
    clock by up to tens of ms, which reads as jitter in the streams meant to be clean. The
    process sleeps between packets, so a real-time priority costs the others little."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except (AttributeError, OSError) as e:
        print(f"no real-time priority ({e}): streams may show scheduling jitter")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "examples" / "calls.pcapng")
    p.add_argument("--notes", type=Path, default=ROOT / "examples" / "calls.md")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("tcpdump on lo needs root: run this with sudo")
    with tempfile.TemporaryDirectory(prefix="sipwire-example-") as tmp:
        rundir = Path(tmp)
        raw = rundir / "calls.pcap"
        with kamailio(rundir), tcpdump(raw):
            # After Kamailio and tcpdump started, so that they do not inherit it.
            realtime()
            asyncio.run(asyncio.wait_for(scenario(), 120))
        comment = (
            "sipwire example capture: five calls and two registrations on loopback, made by "
            "scripts/make_example_capture.py (see examples/calls.md)"
        )
        data, packets, first, last = pcap_to_pcapng(raw.read_bytes(), comment)
    a.out.write_bytes(data)
    write_notes(a.notes, first, packets, len(data), last - first)
    print(f"{a.out}: {packets} packets, {len(data)} bytes; {a.notes} written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
