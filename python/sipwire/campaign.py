"""Fuzz campaigns against a SIP server: ``sipwire fuzz TARGET`` and its Python API.

A campaign sends rounds of messages to one target over UDP or TCP, at a given rate. Each round
mixes valid traffic (OPTIONS, REGISTER, MESSAGE, INVITE with SDP followed by CANCEL, or by ACK
and BYE) with hostile messages: a valid message broken by one of the bad-input classes of
:data:`sipwire.mutations.MUTATIONS`. After each round an OPTIONS probe (fresh branch and
Call-ID, retransmitted a few times) checks that the target still answers.

Every message sent goes into a rolling record (bounded: ``record_messages`` messages and
``record_bytes`` bytes), and with ``pcap`` (``--pcap``) the whole campaign, both directions,
into a pcap file Wireshark opens. When a probe goes unanswered, the find holds every message
since the last probe that was answered *before the suspect window*: the suspect window is the
previous round and the last ``window_seconds`` (``--window-seconds``, 5), so a message that
kills its target a few seconds later (a worker thread, a watchdog) is inside it. If the target
can be restarted (``restart``, ``--restart-cmd``), the find is shrunk: the whole window is
replayed first, waiting as long as the crash took to show in the campaign; then the messages
are bisected (ddmin, each candidate waited for as long as the replay showed the crash takes),
then the one message left is shrunk by lines and bytes. The delay observed is reported and
written in the replay command (``--linger``). A find that a replay does not reproduce
(``reproduce_tries`` times) is kept all the same, marked flaky.

Manners: a target that is not a loopback or private address is refused unless
``allow_public`` (``--allow-public``) confirms the campaign is allowed there (with a warning
all the same), and no campaign sends faster than :data:`MAX_RATE` messages a second.

Over TCP the campaign keeps one connection and opens another when the target closes or resets
it (servers may, after bad input); probes use a connection of their own. A refused connection,
or over UDP an ICMP port unreachable, ends the round early and probes at once.

Inside dialogs (``dialog_classes``, ``--dialog-classes``): after each round's messages the
campaign sets up calls of its own (INVITE, the 2xx, ACK) and sends hostile requests in them
(:data:`DIALOG_CLASSES`: a re-INVITE with a broken offer, a REFER with dangerous Refer-To
headers, NOTIFY and INFO floods, a BYE with a wrong tag), then BYE. Each of those requests must
get a final response (RFC 3261 §8.2, §12.2.2): one that gets none is a find too ("unanswered"),
saved with what preceded it in its dialog. These exchanges wait for answers (their To tags
come from the target), so their bytes after the INVITE depend on the target's.

Everything sent is a function of the seed and the options: each round draws from its own
``random.Random`` seeded by (seed, round), so round 7 is the same bytes whether or not rounds
1-6 ran. The only bytes that depend on the run are the local address written in Via and
Contact (where the target sends its answers); ``bind`` (``--bind``) fixes it. The valid dialogs
are sent without waiting for answers, so answers never change what is sent next.

From Python::

    from sipwire.campaign import Campaign, Config, Target

    summary = Campaign(Config(Target.parse("udp:127.0.0.1:5060"), seed=7, rounds=20,
                              restart="systemctl restart my-sip-server")).run()
    summary.alive, summary.sent, summary.by_class, [f.path for f in summary.finds]

    result = replay(Target.parse("udp:127.0.0.1:5060"), [Path("crash-7-3-12.sip").read_bytes()])
    result.alive

:func:`generate_round` gives a round's messages without sending anything, and :func:`ddmin`
is the minimiser, usable with any predicate.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import random
import shlex
import socket
import struct
import subprocess
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO, TypeVar, Union

from sipwire import mutations
from sipwire._addr import bracket
from sipwire._progress import Progress
from sipwire._sipwire import ParseError, StreamParser, build_request, parse
from sipwire.sdp import MediaBuilder, SessionBuilder

__all__ = [
    "DIALOG_CLASSES",
    "DIALOG_DESCRIPTIONS",
    "MAX_RATE",
    "BudgetExhausted",
    "Campaign",
    "Config",
    "Find",
    "Input",
    "PcapWriter",
    "ReplayResult",
    "Summary",
    "Target",
    "TargetDown",
    "ddmin",
    "generate_round",
    "is_private",
    "replay",
]

_T = TypeVar("_T")
Restart = Union[str, Callable[[], None]]
Outcome = Literal["answered", "timeout", "refused"]
_Header = tuple[str, str]

_TOKEN = "abcdefghijklmnopqrstuvwxyz0123456789"

#: Hostile requests sent inside a dialog the campaign sets up with the target.
DIALOG_CLASSES = (
    "reinvite_bad_offer",
    "refer_dangerous",
    "notify_flood",
    "info_flood",
    "bye_wrong_tag",
)
#: What each in-dialog class sends (``sipwire fuzz --list-classes``).
DIALOG_DESCRIPTIONS = {
    "reinvite_bad_offer": "a re-INVITE whose SDP offer is broken (NUL in a line, no =, payload "
    "types past 127, no o= line, a bad rtpmap, a 9 KB attribute)",
    "refer_dangerous": "a REFER whose Refer-To URI carries Route, Via, Contact, "
    "Proxy-Authorization and other headers a transferee must not copy (RFC 3261 §19.1.5)",
    "notify_flood": "NOTIFY after NOTIFY (Event: refer) with odd sipfrag bodies, no "
    "subscription asked for",
    "info_flood": "INFO after INFO (application/dtmf-relay) with bad and empty digits",
    "bye_wrong_tag": "a BYE whose To tag is not the dialog's (RFC 3261 §12.2.2: 481)",
}
#: No campaign sends faster than this (messages a second).
MAX_RATE = 10000.0
_USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "1001", "1002", "+15550100")


# --- target ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a campaign sends: ``udp:HOST:PORT``, ``tcp:HOST:PORT`` or ``HOST:PORT`` (UDP).
    IPv6 addresses go in brackets: ``udp:[::1]:5060``."""

    transport: Literal["udp", "tcp"]
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, transport: str | None = None) -> Target:
        """Reads a target; ``transport`` (``--transport``) applies when the text has no
        prefix and must agree with it when it has one. ValueError says what is wrong."""
        expected = "expected udp:HOST:PORT, tcp:HOST:PORT or HOST:PORT"
        if transport is not None and transport not in ("udp", "tcp"):
            raise ValueError(f"transport {transport!r} is not udp or tcp")
        proto, rest = None, text
        head, sep, tail = text.partition(":")
        if sep and head.lower() in ("udp", "tcp"):
            proto, rest = head.lower(), tail
        if proto is not None and transport is not None and proto != transport:
            raise ValueError(f"target {text!r} says {proto} but the transport asked is {transport}")
        if rest.startswith("["):
            end = rest.find("]")
            if end < 0 or rest[end + 1 : end + 2] != ":":
                raise ValueError(f"bad target {text!r}: {expected} (IPv6 as [ADDR]:PORT)")
            host, port_text = rest[1:end], rest[end + 2 :]
        else:
            host, sep, port_text = rest.rpartition(":")
            if not sep or ":" in host:
                raise ValueError(f"bad target {text!r}: {expected}")
        if not host:
            raise ValueError(f"bad target {text!r}: no host; {expected}")
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"bad target {text!r}: port {port_text!r} is not 1-65535")
        chosen = proto or transport or "udp"
        return cls("tcp" if chosen == "tcp" else "udp", host, int(port_text))

    @property
    def hostport(self) -> str:
        """``host:port`` as written in a SIP URI (IPv6 in brackets)."""
        return f"{bracket(self.host)}:{self.port}"

    def __str__(self) -> str:
        return f"{self.transport}:{self.hostport}"


#: Where a campaign may go without asking: loopback, RFC 1918, shared address space (RFC
#: 6598), link-local, unique local IPv6 (RFC 4193). (Python's ``is_private`` also counts the
#: documentation ranges, which are somebody's addresses in examples, not a lab.)
_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


def is_private(host: str) -> bool:
    """Whether every address ``host`` resolves to is loopback, private (RFC 1918, RFC 6598,
    RFC 4193) or link-local. A name that does not resolve counts as not private."""
    try:
        addrs = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except socket.gaierror:
            return False
        addrs = {ipaddress.ip_address(str(i[4][0]).split("%", 1)[0]) for i in infos}

    def private(a: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
            a = a.ipv4_mapped
        return any(a.version == n.version and a in n for n in _PRIVATE)

    return bool(addrs) and all(private(a) for a in addrs)


# --- configuration and results -----------------------------------------------------------------


@dataclass
class Config:
    """A campaign's options; :meth:`check` (run by :class:`Campaign`) refuses bad values.

    The campaign stops at the first of ``rounds``, ``count`` (messages) and ``duration``
    (seconds); with none of them it runs for 60 seconds. ``restart`` is a shell command (or a
    callable) that starts the target again after it died; without it a death ends the campaign
    and the inputs are saved as they were sent, not minimised.
    """

    target: Target
    seed: int = 0
    rate: float = 100.0
    round_size: int = 20
    classes: tuple[str, ...] = tuple(sorted(mutations.MUTATIONS))
    valid_ratio: float = 0.5
    probe_timeout: float = 1.0
    probe_tries: int = 3
    rounds: int | None = None
    count: int | None = None
    duration: float | None = None
    out: Path = Path("sipwire-finds")
    restart: Restart | None = None
    restart_timeout: float = 10.0
    minimise_budget: float = 60.0
    minimise_tries: int = 2000
    max_finds: int | None = None
    bind: tuple[str, int] | None = None
    dialog_classes: tuple[str, ...] = ()
    """Hostile in-dialog scripts (:data:`DIALOG_CLASSES`) run after each round's messages."""
    dialogs_per_round: int = 1
    flood: int = 20
    """Requests in one NOTIFY or INFO flood."""
    window_seconds: float = 5.0
    """A find holds at least the previous round and the messages of this many seconds
    before the unanswered probe (and everything back to the answered probe before them)."""
    record_messages: int = 10000
    record_bytes: int = 16 << 20
    """Bounds of the rolling record of sent messages that finds are cut from."""
    pcap: Path | None = None
    """Write every message sent and received to this pcap file (raw IP, opens in Wireshark)."""
    reproduce_tries: int = 2
    """Replays of a find's window before it is called flaky."""
    allow_public: bool = False
    """The target is not a loopback or private address, and the campaign is allowed there."""

    def check(self) -> None:
        bad = [c for c in self.dialog_classes if c not in DIALOG_CLASSES]
        if bad:
            raise ValueError(
                f"unknown dialog class {', '.join(map(repr, bad))}; "
                f"choose from {', '.join(DIALOG_CLASSES)}"
            )
        unknown = [c for c in self.classes if c not in mutations.MUTATIONS]
        if unknown:
            raise ValueError(
                f"unknown hostile class {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(sorted(mutations.MUTATIONS))}"
            )
        if not self.classes and self.valid_ratio < 1:
            raise ValueError("no hostile classes chosen: give some, or a valid ratio of 1")
        positive: list[tuple[str, float | None]] = [
            ("rate", self.rate),
            ("probe timeout", self.probe_timeout),
            ("restart timeout", self.restart_timeout),
            ("duration", self.duration),
        ]
        for name, value in positive:
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0, not {value}")
        counts: list[tuple[str, int | None]] = [
            ("round size", self.round_size),
            ("probe tries", self.probe_tries),
            ("rounds", self.rounds),
            ("count", self.count),
            ("max finds", self.max_finds),
            ("minimise tries", self.minimise_tries),
        ]
        for name, n in counts:
            if n is not None and n < 1:
                raise ValueError(f"{name} must be at least 1, not {n}")
        if not 0 <= self.valid_ratio <= 1:
            raise ValueError(f"valid ratio must be between 0 and 1, not {self.valid_ratio}")
        if self.minimise_budget < 0:
            raise ValueError(f"minimise budget must be >= 0, not {self.minimise_budget}")
        if self.rate > MAX_RATE:
            raise ValueError(f"rate must be at most {MAX_RATE:g} messages/s, not {self.rate:g}")
        if self.window_seconds < 0:
            raise ValueError(f"window seconds must be >= 0, not {self.window_seconds}")
        for name, n in (
            ("record messages", self.record_messages),
            ("record bytes", self.record_bytes),
            ("reproduce tries", self.reproduce_tries),
        ):
            if n < 1:
                raise ValueError(f"{name} must be at least 1, not {n}")
        if not self.allow_public and not is_private(self.target.host):
            raise ValueError(
                f"{self.target.host} is not a loopback or private address: fuzzing it can take "
                "down a service other people use, and is only lawful with its owner's "
                "permission. If you have it, confirm with --allow-public (allow_public=True)"
            )


@dataclass(frozen=True)
class Input:
    """One message of a round: ``kind`` is ``valid:METHOD`` or ``hostile:CLASS``."""

    round: int
    index: int
    kind: str
    data: bytes


@dataclass
class Find:
    """A saved input after which the target stopped answering."""

    round: int
    index: int
    """Index in the round of the (last) message that stopped it."""
    kind: str
    path: Path
    """The file (or folder of files, sent in name order) to replay."""
    original_size: int
    size: int
    minimised: bool
    note: str
    replay: str
    """The command that sends it again and probes."""
    flaky: bool = False
    """Replayed after a restart, it did not stop the target again: kept all the same."""
    delay: float | None = None
    """Seconds between the message and the target going quiet, as observed."""


@dataclass
class Summary:
    """What a campaign did. ``exit_code`` is the CLI's: 0 when the target stayed alive and
    nothing was found, 1 otherwise."""

    target: str
    seed: int
    rounds: int = 0
    sent: int = 0
    bytes_sent: int = 0
    elapsed: float = 0.0
    by_class: Counter[str] = field(default_factory=Counter)
    responses: int = 0
    probes_ok: int = 0
    probes_failed: int = 0
    reconnects: int = 0
    oversize: int = 0
    minimising: float = 0.0
    """Seconds of ``elapsed`` spent minimising finds."""
    dialogs: int = 0
    """In-dialog scripts run (calls the target answered with a 2xx)."""
    dialogs_refused: int = 0
    """Scripts whose INVITE the target did not answer with a 2xx (nothing to send in)."""
    unanswered: int = 0
    """Requests (in dialogs) that got no final response: finds."""
    finds: list[Find] = field(default_factory=list)
    alive: bool = True
    stopped: str = ""

    @property
    def exit_code(self) -> int:
        return 0 if self.alive and not self.finds else 1

    def format(self) -> str:
        sending = self.elapsed - self.minimising
        rate = self.sent / sending if sending > 0 else 0.0
        spent = f", {self.minimising:.1f} s minimising" if self.minimising else ""
        lines = [
            f"sipwire fuzz {self.target} seed {self.seed}: stopped ({self.stopped})",
            f"  rounds {self.rounds}, sent {self.sent} messages ({self.bytes_sent} bytes) in "
            f"{self.elapsed:.1f} s ({rate:.1f}/s{spent}), responses {self.responses}",
            f"  probes answered {self.probes_ok}, unanswered {self.probes_failed}"
            + (f", reconnects {self.reconnects}" if self.reconnects else "")
            + (f", too big for a datagram {self.oversize}" if self.oversize else ""),
        ]
        if self.dialogs or self.dialogs_refused:
            lines.append(
                f"  dialogs {self.dialogs} (INVITE not answered 2xx: {self.dialogs_refused}), "
                f"requests unanswered {self.unanswered}"
            )
        for group in ("valid", "hostile", "dialog"):
            items = sorted(
                (k.split(":", 1)[1], n)
                for k, n in self.by_class.items()
                if k.startswith(group + ":")
            )
            if items:
                lines.append(f"  {group}: " + ", ".join(f"{k} {n}" for k, n in items))
        lines.append(f"  finds: {len(self.finds)}")
        for f in self.finds:
            size = f"{f.original_size} -> {f.size} bytes" if f.minimised else f"{f.size} bytes"
            flaky = ", FLAKY" if f.flaky else ""
            lines.append(
                f"    {f.path} (round {f.round}, message {f.index}, {f.kind}, {size}{flaky})"
            )
            lines.append(f"      {f.note}")
            lines.append(f"      replay: {f.replay}")
        lines.append(f"  target answering at the end: {'yes' if self.alive else 'no'}")
        return "\n".join(lines) + "\n"


class TargetDown(Exception):
    """The target did not answer OPTIONS before the campaign (or replay) started."""


class BudgetExhausted(Exception):
    """Raised by a :func:`ddmin` predicate (or by ddmin itself) when the budget is spent;
    ddmin then returns the smallest failing input found so far."""


# --- generation ------------------------------------------------------------------------------


def _token(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_TOKEN) for _ in range(n))


class _Builder:
    """Valid requests to one target, every random part drawn from the rng it is given."""

    def __init__(self, target: Target, sent_by: str) -> None:
        self.target = target
        self.sent_by = sent_by
        self.via_transport = target.transport.upper()

    def _via(self, rng: random.Random) -> str:
        # rport (RFC 3581): answers come back to the port we send from, whatever sent-by says.
        return f"SIP/2.0/{self.via_transport} {self.sent_by};rport;branch=z9hG4bK{_token(rng, 16)}"

    def request(
        self,
        method: str,
        headers: list[tuple[str, str]],
        body: bytes | None = None,
        uri: str | None = None,
    ) -> bytes:
        ruri = uri or f"sip:{self.target.hostport}"
        return bytes(build_request(method, ruri, headers, body))

    def options(self, rng: random.Random, call_id: str | None = None) -> tuple[str, bytes]:
        cid = call_id or _token(rng, 20)
        data = self.request(
            "OPTIONS",
            [
                ("Via", self._via(rng)),
                ("Max-Forwards", "70"),
                ("From", f"<sip:sipwire@{bracket(self.sent_by_host)}>;tag={_token(rng, 10)}"),
                ("To", f"<sip:{self.target.hostport}>"),
                ("Call-ID", cid),
                ("CSeq", f"{rng.randint(1, 9999)} OPTIONS"),
                ("Accept", "application/sdp"),
                ("User-Agent", "sipwire-fuzz"),
            ],
        )
        return cid, data

    @property
    def sent_by_host(self) -> str:
        return self.sent_by.rsplit(":", 1)[0].strip("[]")

    def _party(self, rng: random.Random) -> tuple[str, str, str]:
        user = rng.choice(_USERS)
        peer = rng.choice(_USERS)
        uri = f"sip:{peer}@{self.target.hostport}"
        frm = f"<sip:{user}@{self.target.hostport}>;tag={_token(rng, 10)}"
        contact = f"<sip:{user}@{self.sent_by};transport={self.target.transport}>"
        return uri, frm, contact

    def _sdp(self, rng: random.Random) -> bytes:
        media = MediaBuilder("audio", rng.randrange(16384, 32768, 2)).format("0").format("8")
        media = media.codec(101, "telephone-event", 8000, fmtp="0-16").attribute("ptime", "20")
        media = media.direction(rng.choice(["sendrecv", "sendonly", "recvonly"]))
        session = SessionBuilder(
            self.sent_by_host, username="sipwire", session_id=rng.randrange(1, 2**32)
        )
        return bytes(session.media(media))

    def unit(self, rng: random.Random) -> list[tuple[str, bytes]]:
        """One valid exchange, as the caller's side sends it (answers are not awaited)."""
        what = rng.choice(["OPTIONS", "REGISTER", "MESSAGE", "INVITE+CANCEL", "INVITE+ACK+BYE"])
        if what == "OPTIONS":
            return [("OPTIONS", self.options(rng)[1])]
        uri, frm, contact = self._party(rng)
        cid = _token(rng, 20)
        seq = rng.randint(1, 2**31 - 2)
        agent = ("User-Agent", "sipwire-fuzz")

        def head(method: str, to: str, via: str | None = None, n: int = seq) -> list[_Header]:
            return [
                ("Via", via or self._via(rng)),
                ("Max-Forwards", "70"),
                ("From", frm),
                ("To", to),
                ("Call-ID", cid),
                ("CSeq", f"{n} {method}"),
            ]

        if what == "REGISTER":
            expires = ("Expires", str(rng.choice([0, 60, 3600])))
            aor = frm.split(";", 1)[0]
            hs = [*head("REGISTER", aor), ("Contact", contact), expires, agent]
            return [("REGISTER", self.request("REGISTER", hs))]
        to = f"<{uri}>"
        if what == "MESSAGE":
            text = f"sipwire fuzz message {_token(rng, 8)}".encode()
            hs = [*head("MESSAGE", to), agent, ("Content-Type", "text/plain")]
            return [("MESSAGE", self.request("MESSAGE", hs, text, uri))]
        via = self._via(rng)
        allow = ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS")
        hs = [*head("INVITE", to, via), ("Contact", contact), allow, agent]
        hs.append(("Content-Type", "application/sdp"))
        invite = self.request("INVITE", hs, self._sdp(rng), uri)
        if what == "INVITE+CANCEL":
            # RFC 3261 §9.1: the CANCEL has the INVITE's Request-URI, top Via, Call-ID, From,
            # To and CSeq number.
            cancel = self.request("CANCEL", [*head("CANCEL", to, via), agent], None, uri)
            return [("INVITE", invite), ("CANCEL", cancel)]
        # As if a 2xx came back with this To tag: ACK and BYE in a new transaction each.
        tagged = f"{to};tag={_token(rng, 10)}"
        ack = self.request("ACK", [*head("ACK", tagged), agent], None, uri)
        bye = self.request("BYE", [*head("BYE", tagged, n=seq + 1), agent], None, uri)
        return [("INVITE", invite), ("ACK", ack), ("BYE", bye)]

    def hostile(self, rng: random.Random, classes: Sequence[str]) -> tuple[str, bytes]:
        name = rng.choice(list(classes))
        chooser = mutations.RandomChooser(rng)
        data = b""
        # A class that does not apply to the message drawn (sdp_lines without SDP) leaves it
        # unchanged; draw another message, a bounded number of times.
        for _ in range(8):
            base = self.unit(rng)[0][1]
            data = mutations.mutate(base, name, chooser)
            if data != base:
                break
        return name, data


def generate_round(
    config: Config, round_no: int, sent_by: str, size: int | None = None
) -> list[Input]:
    """The messages of round ``round_no`` (from 1) of a campaign, without sending anything:
    a pure function of the seed, the options that shape messages and ``sent_by`` (the
    ``host:port`` written in Via and Contact). ``size`` cuts the round short (the first
    ``size`` messages of the full round)."""
    rng = random.Random(f"sipwire-fuzz:{config.seed}:{round_no}")
    builder = _Builder(config.target, sent_by)
    n = config.round_size if size is None else min(size, config.round_size)
    out: list[Input] = []
    while len(out) < n:
        if not config.classes or rng.random() < config.valid_ratio:
            for method, data in builder.unit(rng):
                if len(out) < n:
                    out.append(Input(round_no, len(out), f"valid:{method}", data))
        else:
            name, data = builder.hostile(rng, config.classes)
            out.append(Input(round_no, len(out), f"hostile:{name}", data))
    return out


# --- minimising -------------------------------------------------------------------------------


def ddmin(
    items: Sequence[_T],
    test: Callable[[list[_T]], bool],
    *,
    max_tests: int | None = None,
    deadline: float | None = None,
) -> list[_T]:
    """Zeller's delta debugging: a 1-minimal sublist of ``items`` for which ``test`` is true
    (``test(items)`` is assumed true). Stops early, returning the smallest failing sublist
    so far, after ``max_tests`` calls, at ``deadline`` (``time.monotonic()``), or when
    ``test`` raises :class:`BudgetExhausted`. Each distinct candidate is tested once."""
    current = list(items)
    seen: dict[tuple[_T, ...], bool] = {}
    calls = 0

    def fails(candidate: list[_T]) -> bool:
        nonlocal calls
        key = tuple(candidate)
        if key not in seen:
            if max_tests is not None and calls >= max_tests:
                raise BudgetExhausted
            if deadline is not None and time.monotonic() >= deadline:
                raise BudgetExhausted
            calls += 1
            seen[key] = test(candidate)
        return seen[key]

    n = 2
    try:
        while len(current) >= 2:
            size = len(current)
            bounds = [size * i // n for i in range(n + 1)]
            chunks = [current[bounds[i] : bounds[i + 1]] for i in range(n)]
            reduced = False
            for chunk in chunks:
                if chunk and fails(chunk):
                    current, n, reduced = chunk, 2, True
                    break
            if not reduced and n > 2:
                for i in range(n):
                    rest = current[: bounds[i]] + current[bounds[i + 1] :]
                    if fails(rest):
                        current, n, reduced = rest, max(n - 1, 2), True
                        break
            if not reduced:
                if n >= size:
                    break
                n = min(size, 2 * n)
    except BudgetExhausted:
        pass
    return current


# --- the record: every message sent, and the pcap ---------------------------------------------


@dataclass(frozen=True)
class _Entry:
    seq: int
    at: float
    item: Input


class _Record:
    """The rolling record of what the campaign sent: the newest ``max_messages`` messages
    and ``max_bytes`` bytes (older ones dropped and counted), and the answered probes, each
    with the sequence number of the last message sent before it."""

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.entries: deque[_Entry] = deque()
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.size = 0
        self.seq = 0
        self.dropped = 0
        self.answered: deque[tuple[float, int]] = deque(maxlen=4096)

    def add(self, item: Input, at: float) -> None:
        self.seq += 1
        self.entries.append(_Entry(self.seq, at, item))
        self.size += len(item.data)
        while self.entries and (
            len(self.entries) > self.max_messages or self.size > self.max_bytes
        ):
            old = self.entries.popleft()
            self.size -= len(old.item.data)
            self.dropped += 1

    def probe_answered(self, at: float) -> None:
        self.answered.append((at, self.seq))

    def window(self, suspect_start: float) -> tuple[list[_Entry], bool]:
        """Every message after the last probe answered at or before ``suspect_start`` (all
        that is kept when none was); and whether older messages it needs were dropped."""
        cut = 0
        for at, seq in self.answered:
            if at <= suspect_start:
                cut = seq
        out = [e for e in self.entries if e.seq > cut]
        lost = bool(self.entries) and self.entries[0].seq > cut + 1
        return out, lost


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class PcapWriter:
    """Writes SIP messages as raw IPv4/IPv6 packets (link type 101) with UDP or TCP headers,
    in a pcap file that Wireshark and tshark open: the campaign's record for people."""

    def __init__(self, path: Path) -> None:
        self.f = path.open("wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101))
        self.ident = 0
        self.seqs: dict[tuple[tuple[str, int], tuple[str, int]], int] = {}
        self.packets = 0

    def _ip(self, src: str, dst: str, proto: int, payload: bytes) -> bytes:
        s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
        if s.version == 6 or d.version == 6:
            s6 = s if s.version == 6 else ipaddress.IPv6Address(f"::ffff:{s}")
            d6 = d if d.version == 6 else ipaddress.IPv6Address(f"::ffff:{d}")
            head = struct.pack("!IHBB", 6 << 28, len(payload), proto, 64)
            return head + s6.packed + d6.packed + payload
        self.ident = (self.ident + 1) & 0xFFFF
        head = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), self.ident, 0, 64, proto, 0,
            s.packed, d.packed,
        )  # fmt: skip
        return head[:10] + struct.pack("!H", _checksum(head)) + head[12:] + payload

    def _pseudo(self, src: str, dst: str, proto: int, seg: bytes) -> int:
        s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
        if s.version == 6 or d.version == 6:
            s6 = s if s.version == 6 else ipaddress.IPv6Address(f"::ffff:{s}")
            d6 = d if d.version == 6 else ipaddress.IPv6Address(f"::ffff:{d}")
            ph = s6.packed + d6.packed + struct.pack("!IxxxB", len(seg), proto)
        else:
            ph = s.packed + d.packed + struct.pack("!xBH", proto, len(seg))
        return _checksum(ph + seg) or 0xFFFF

    def _record(self, packet: bytes, at: float) -> None:
        sec = int(at)
        usec = min(999999, int((at - sec) * 1e6))
        self.f.write(struct.pack("<IIII", sec, usec, len(packet), len(packet)) + packet)
        self.packets += 1

    def packet(
        self,
        transport: str,
        src: tuple[str, int],
        dst: tuple[str, int],
        payload: bytes,
        at: float | None = None,
    ) -> None:
        """One message (or stream chunk) from ``src`` to ``dst`` at wall-clock ``at``."""
        when = time.time() if at is None else at
        if transport == "udp":
            data = payload[:65000]
            udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(data), 0) + data
            udp = udp[:6] + struct.pack("!H", self._pseudo(src[0], dst[0], 17, udp)) + udp[8:]
            self._record(self._ip(src[0], dst[0], 17, udp), when)
            return
        key = (src, dst)
        if key not in self.seqs and len(self.seqs) >= 4096:
            # Bounded: a campaign that reconnects all day does not grow this; a forgotten
            # connection's next segment starts a new sequence, which Wireshark still reads.
            self.seqs.clear()
        for k in range(0, max(1, len(payload)), 60000):
            chunk = payload[k : k + 60000]
            seq = self.seqs.get(key, 1000)
            self.seqs[key] = (seq + len(chunk)) & 0xFFFFFFFF
            ack = self.seqs.get((dst, src), 1000)
            tcp = struct.pack("!HHIIBBHHH", src[1], dst[1], seq, ack, 5 << 4, 0x18, 65535, 0, 0)
            seg = tcp + chunk
            seg = seg[:16] + struct.pack("!H", self._pseudo(src[0], dst[0], 6, seg)) + seg[18:]
            self._record(self._ip(src[0], dst[0], 6, seg), when)

    def close(self) -> None:
        self.f.close()


Tap = Callable[[str, tuple[str, int], tuple[str, int], bytes], None]


def _ends(sock: socket.socket) -> tuple[tuple[str, int], tuple[str, int]] | None:
    try:
        a, b = sock.getsockname(), sock.getpeername()
    except OSError:
        return None
    return (str(a[0]), int(a[1])), (str(b[0]), int(b[1]))


# --- transports -------------------------------------------------------------------------------

Signal = Literal["ok", "refused", "oversize", "stalled"]


def _resolve(
    target: Target, kind: socket.SocketKind
) -> tuple[socket.AddressFamily, tuple[str, int]]:
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=kind)
    except socket.gaierror as e:
        raise ValueError(f"cannot resolve {target.host!r}: {e.strerror}") from None
    family, _, _, _, addr = infos[0]
    return family, (str(addr[0]), int(addr[1]))


def _local(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"{bracket(str(host))}:{port}"


def _is_answer(data: bytes, call_id: str) -> bool:
    if not data.startswith(b"SIP/2.0 "):
        return False
    try:
        return parse(data, strict=False).call_id == call_id
    except ParseError:
        # A target's broken answer is still an answer.
        return call_id.encode() in data


class _Transport:
    sent_by: str
    responses: int = 0
    reconnects: int = 0
    tap: Tap | None = None
    """Sees every message sent (and chunk received): the pcap writer."""

    def _seen(self, transport: str, sock: socket.socket, data: bytes, out: bool) -> None:
        if self.tap is None or not data:
            return
        ends = _ends(sock)
        if ends is not None:
            local, remote = ends
            self.tap(transport, *((local, remote) if out else (remote, local)), data)

    def send(self, data: bytes) -> Signal:
        raise NotImplementedError

    def drain(self) -> Signal:
        raise NotImplementedError

    def exchange(self, data: bytes, call_id: str, timeout: float) -> Outcome:
        raise NotImplementedError

    def reset(self) -> None:
        """Starts the next send afresh (a new TCP connection)."""

    def close(self) -> None:
        raise NotImplementedError


class _Udp(_Transport):
    def __init__(self, target: Target, bind: tuple[str, int] | None) -> None:
        family, self.addr = _resolve(target, socket.SOCK_DGRAM)
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if bind is not None:
                self.sock.bind(bind)
            # Connected, so an ICMP port unreachable (the target is gone) surfaces as
            # ConnectionRefusedError on the next send or receive.
            self.sock.connect(self.addr)
            self.sock.setblocking(False)
        except OSError:
            self.sock.close()
            raise
        self.sent_by = _local(self.sock)

    def send(self, data: bytes) -> Signal:
        try:
            self.sock.send(data)
        except ConnectionRefusedError:
            return "refused"
        except BlockingIOError:
            return "stalled"
        except OSError as e:
            if e.errno == 90:  # EMSGSIZE: more than a datagram holds
                return "oversize"
            raise
        self._seen("udp", self.sock, data, True)
        return "ok"

    def drain(self) -> Signal:
        while True:
            try:
                got = self.sock.recv(65535)
            except BlockingIOError:
                return "ok"
            except ConnectionRefusedError:
                return "refused"
            self._seen("udp", self.sock, got, False)
            self.responses += 1

    def exchange(self, data: bytes, call_id: str, timeout: float) -> Outcome:
        if self.send(data) == "refused":
            return "refused"
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            self.sock.settimeout(left)
            try:
                got = self.sock.recv(65535)
            except socket.timeout:
                return "timeout"
            except ConnectionRefusedError:
                return "refused"
            finally:
                self.sock.setblocking(False)
            self._seen("udp", self.sock, got, False)
            self.responses += 1
            if _is_answer(got, call_id):
                return "answered"

    def close(self) -> None:
        self.sock.close()


class _Tcp(_Transport):
    def __init__(self, target: Target, bind: tuple[str, int] | None, timeout: float) -> None:
        self.family, self.addr = _resolve(target, socket.SOCK_STREAM)
        self.bind = bind
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.parser = StreamParser(strict=False)
        # The first connection's address stands in Via for the whole campaign, so the
        # messages do not change when a reconnection gets a new port.
        self.sock = self._connect(bind)
        self.sent_by = _local(self.sock)

    def _connect(self, source: tuple[str, int] | None) -> socket.socket:
        s = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout)
            if source is not None:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(source)
            s.connect(self.addr)
        except OSError:
            s.close()
            raise
        return s

    def send(self, data: bytes) -> Signal:
        for attempt in range(2):
            if self.sock is None:
                try:
                    self.sock = self._connect(self.bind)
                except ConnectionRefusedError:
                    return "refused"
                except OSError:
                    return "stalled"
                self.parser = StreamParser(strict=False)
                self.reconnects += 1
            try:
                self.sock.sendall(data)
                self._seen("tcp", self.sock, data, True)
                return "ok"
            except socket.timeout:
                return "stalled"
            except (BrokenPipeError, ConnectionResetError):
                # The peer closed the connection (a server may, after bad input): send the
                # message again on a new one.
                self.reset()
                if attempt:
                    return "refused"
        return "ok"

    def drain(self) -> Signal:
        sock = self.sock
        if sock is None:
            return "ok"
        sock.setblocking(False)
        try:
            while True:
                try:
                    got = sock.recv(65536)
                except BlockingIOError:
                    return "ok"
                except OSError:
                    got = b""
                if not got:
                    # The peer closed (or reset) it: the next send opens another.
                    self.reset()
                    return "ok"
                self._seen("tcp", sock, got, False)
                self.parser.feed(got)
                self._count()
        finally:
            if self.sock is sock:
                sock.settimeout(self.timeout)

    def _count(self) -> None:
        while True:
            try:
                for _ in self.parser:
                    self.responses += 1
                return
            except ParseError:
                continue

    def exchange(self, data: bytes, call_id: str, timeout: float) -> Outcome:
        # A probe gets its own connection: the fuzz connection may be stuck in a body that
        # a lying Content-Length announced.
        deadline = time.monotonic() + timeout
        s = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            try:
                s.connect(self.addr)
                s.sendall(data)
                self._seen("tcp", s, data, True)
            except ConnectionRefusedError:
                return "refused"
            except (socket.timeout, OSError):
                return "timeout"
            parser = StreamParser(strict=False)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout"
                s.settimeout(left)
                try:
                    got = s.recv(65536)
                except (socket.timeout, OSError):
                    return "timeout"
                if not got:
                    return "timeout"
                self._seen("tcp", s, got, False)
                parser.feed(got)
                while True:
                    try:
                        for m in parser:
                            self.responses += 1
                            if _is_answer(bytes(m), call_id):
                                return "answered"
                        break
                    except ParseError:
                        continue
        finally:
            s.close()

    def reset(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def close(self) -> None:
        self.reset()


class _Session:
    """Where one in-dialog script talks to the target and hears back: the campaign's UDP
    socket, or a TCP connection of its own. Requests the target sends (a NOTIFY after a
    REFER, a re-INVITE) are answered 200, so that the target is not left retransmitting."""

    def __init__(
        self, target: Target, udp: _Udp | None, timeout: float, tap: Tap | None = None
    ) -> None:
        self.udp = udp
        self.udp_tap = tap
        self.timeout = timeout
        self.tcp: socket.socket | None = None
        self.parser = StreamParser(strict=False)
        if udp is None:
            family, addr = _resolve(target, socket.SOCK_STREAM)
            s = socket.socket(family, socket.SOCK_STREAM)
            try:
                s.settimeout(timeout)
                s.connect(addr)
            except OSError:
                s.close()
                raise
            self.tcp = s
            self.sent_by = _local(s)
        else:
            self.sent_by = udp.sent_by

    def _seen(self, data: bytes, out: bool) -> None:
        if self.tcp is not None:
            if self.udp_tap is not None:
                ends = _ends(self.tcp)
                if ends is not None:
                    a, b = ends if out else (ends[1], ends[0])
                    self.udp_tap("tcp", a, b, data)
        elif self.udp is not None:
            self.udp._seen("udp", self.udp.sock, data, out)

    def send(self, data: bytes) -> bool:
        try:
            if self.tcp is not None:
                self.tcp.sendall(data)
            elif self.udp is not None:
                self.udp.sock.send(data)
            self._seen(data, True)
            return True
        except OSError:
            return False

    def _messages(self, left: float) -> list[bytes]:
        if self.tcp is not None:
            self.tcp.settimeout(left)
            got = self.tcp.recv(65536)
            if not got:
                raise ConnectionResetError("the target closed the connection")
            self._seen(got, False)
            self.parser.feed(got)
            out: list[bytes] = []
            while True:
                try:
                    out += [bytes(m) for m in self.parser]
                    return out
                except ParseError:
                    continue
        assert self.udp is not None
        sock = self.udp.sock
        sock.settimeout(left)
        try:
            got = sock.recv(65535)
        finally:
            sock.setblocking(False)
        self._seen(got, False)
        return [got]

    def final(self, call_id: str, seq: int, method: str) -> bytes | None:
        """The final response to our request (Call-ID, CSeq), or None within the timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                got = self._messages(left)
            except (socket.timeout, OSError):
                return None
            for data in got:
                try:
                    m = parse(data, strict=False)
                except ParseError:
                    continue
                if not data.startswith(b"SIP/2.0 "):
                    if m.method != "ACK":  # type: ignore[union-attr]
                        with contextlib.suppress(ParseError, ValueError):
                            self.send(bytes(m.response(200)))  # type: ignore[union-attr]
                    continue
                c = m.cseq
                status = m.status  # type: ignore[union-attr]
                if m.call_id == call_id and c is not None and (c.seq, c.method) == (seq, method):
                    if status >= 200:
                        return data

    def close(self) -> None:
        if self.tcp is not None:
            self.tcp.close()


_BROKEN_OFFERS = (
    b"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 \x000\r\nm=audio 4000 RTP/AVP 0\r\n",
    b"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nthis line has no equals sign\r\n",
    b"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 300 999\r\n",
    b"v=0\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
    b"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n"
    b"a=rtpmap:96 nothing/1\r\n",
    b"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\na=" + b"x" * 9000 + b"\r\n",
)

# RFC 3261 §19.1.5: headers a Refer-To URI must not be able to set.
_DANGEROUS = (
    "Route=%3Csip%3Aevil.invalid%3Blr%3E&Record-Route=%3Csip%3Aevil.invalid%3E"
    "&Proxy-Authorization=Digest%20username%3D%22x%22&P-Asserted-Identity=%3Csip%3Aceo%40corp%3E"
    "&Require=evil&Contact=%3Csip%3Aevil.invalid%3E&Via=SIP%2F2.0%2FUDP%20evil.invalid"
)


def _dialog_script(
    builder: _Builder, rng: random.Random, name: str, session: _Session, flood: int
) -> tuple[list[bytes], str | None, bool]:
    """Sets up a call and sends class ``name``'s hostile requests in it, then BYE. Returns
    what was sent, the request that got no final response (None: all answered), and
    whether the target answered the INVITE with a 2xx."""
    target = builder.target
    uri = f"sip:{rng.choice(_USERS)}@{target.hostport}"
    frm = f"<sip:{rng.choice(_USERS)}@{target.hostport}>;tag={_token(rng, 10)}"
    sent_by = session.sent_by
    transport = "TCP" if session.tcp is not None else "UDP"
    contact = f"<sip:fuzz@{sent_by};transport={transport.lower()}>"
    cid = _token(rng, 20)
    seq = rng.randint(1, 2**20)
    sent: list[bytes] = []

    def via(branch: str | None = None) -> str:
        b = branch or f"z9hG4bK{_token(rng, 16)}"
        return f"SIP/2.0/{transport} {sent_by};rport;branch={b}"

    def req(
        method: str, n: int, to: str, ruri: str, extra: list[_Header], body: bytes = b""
    ) -> tuple[bytes, str]:
        branch = f"z9hG4bK{_token(rng, 16)}"
        hs = [
            ("Via", via(branch)),
            ("Max-Forwards", "70"),
            ("From", frm),
            ("To", to),
            ("Call-ID", cid),
            ("CSeq", f"{n} {method}"),
            *extra,
        ]
        data = bytes(build_request(method, ruri, hs, body or None, check=False, strict=False))
        return data, branch

    def ask(method: str, n: int, data: bytes) -> bytes | None:
        sent.append(data)
        if not session.send(data):
            return None
        return session.final(cid, n, method)

    sdp = builder._sdp(rng)
    invite, branch = req(
        "INVITE",
        seq,
        f"<{uri}>",
        uri,
        [("Contact", contact), ("Content-Type", "application/sdp")],
        sdp,
    )
    resp = ask("INVITE", seq, invite)
    if resp is None:
        return sent, "INVITE", False
    answer = parse(resp, strict=False)
    to = answer.headers.get("To") or f"<{uri}>"
    ok = 200 <= answer.status < 300  # type: ignore[union-attr]
    if not ok:
        # §17.1.1.3: the ACK of a non-2xx is part of the transaction (same branch).
        ack = bytes(
            build_request(
                "ACK",
                uri,
                [
                    ("Via", via(branch)),
                    ("Max-Forwards", "70"),
                    ("From", frm),
                    ("To", to),
                    ("Call-ID", cid),
                    ("CSeq", f"{seq} ACK"),
                ],
                check=False,
                strict=False,
            )
        )
        sent.append(ack)
        session.send(ack)
        return sent, None, False
    remote = uri
    contacts = answer.contact
    if contacts and contacts[0].uri is not None:
        remote = str(contacts[0].uri)

    def ack_for(n: int, final: bytes, inv_branch: str) -> None:
        st = parse(final, strict=False).status  # type: ignore[union-attr]
        b = None if 200 <= st < 300 else inv_branch
        hs = [
            ("Via", via(b)),
            ("Max-Forwards", "70"),
            ("From", frm),
            ("To", to),
            ("Call-ID", cid),
            ("CSeq", f"{n} ACK"),
        ]
        data = bytes(build_request("ACK", remote, hs, check=False, strict=False))
        sent.append(data)
        session.send(data)

    ack_for(seq, resp, branch)
    n = seq
    unanswered: str | None = None
    if name == "reinvite_bad_offer":
        n += 1
        offer = rng.choice(_BROKEN_OFFERS)
        hs = [("Contact", contact), ("Content-Type", "application/sdp")]
        data, b = req("INVITE", n, to, remote, hs, offer)
        r = ask("INVITE", n, data)
        if r is None:
            unanswered = "INVITE"
        else:
            ack_for(n, r, b)
    elif name == "refer_dangerous":
        n += 1
        refer_to = f"<sip:carol@127.0.0.1:9?{_DANGEROUS}>"
        hs = [("Contact", contact), ("Refer-To", refer_to), ("Referred-By", f"<{uri}>")]
        data, _ = req("REFER", n, to, remote, hs)
        if ask("REFER", n, data) is None:
            unanswered = "REFER"
    elif name in ("notify_flood", "info_flood"):
        method = "NOTIFY" if name == "notify_flood" else "INFO"
        for _ in range(flood):
            n += 1
            if method == "NOTIFY":
                code = rng.choice(["100 Trying", "180 Ringing", "200 OK", "999 Whatever", "abc"])
                hs = [
                    ("Event", "refer"),
                    ("Subscription-State", "active;expires=60"),
                    ("Contact", contact),
                    ("Content-Type", "message/sipfrag;version=2.0"),
                ]
                data, _ = req("NOTIFY", n, to, remote, hs, f"SIP/2.0 {code}\r\n".encode())
            else:
                digit = rng.choice(["1", "5", "#", "*", "Z", "99", ""])
                body = f"Signal={digit}\r\nDuration=160\r\n".encode()
                hs = [("Content-Type", "application/dtmf-relay")]
                data, _ = req("INFO", n, to, remote, hs, body)
            if ask(method, n, data) is None:
                unanswered = method
                break
    elif name == "bye_wrong_tag":
        n += 1
        wrong = to.split(";tag=", 1)[0] + f";tag={_token(rng, 12)}"
        data, _ = req("BYE", n, wrong, remote, [])
        if ask("BYE", n, data) is None:
            unanswered = "BYE"
    if unanswered is None:
        n += 1
        data, _ = req("BYE", n, to, remote, [])
        if ask("BYE", n, data) is None:
            unanswered = "BYE"
    return sent, unanswered, True


def _open(target: Target, bind: tuple[str, int] | None, timeout: float) -> _Transport:
    try:
        if target.transport == "tcp":
            return _Tcp(target, bind, timeout)
        return _Udp(target, bind)
    except ConnectionRefusedError:
        raise TargetDown(f"{target} refused the connection; is it running?") from None
    except OSError as e:
        raise TargetDown(f"cannot reach {target}: {e.strerror or e}") from None


# --- the campaign ----------------------------------------------------------------------------


class Campaign:
    """One campaign against ``config.target``; :meth:`run` does it and returns a
    :class:`Summary`. ``progress`` is where the progress line and notes go (None: nowhere);
    ``command`` is how the saved READMEs name the program (``sipwire fuzz``)."""

    def __init__(
        self, config: Config, *, progress: TextIO | None = None, command: str = "sipwire fuzz"
    ) -> None:
        config.check()
        self.config = config
        self.command = command
        self.progress = Progress(progress)
        self.summary = Summary(str(config.target), config.seed)
        self.probe_rng = random.Random(f"sipwire-fuzz-probe:{config.seed}")
        self.transport: _Transport | None = None
        self.builder: _Builder | None = None
        self.started = 0.0
        self._duration: float | None = None
        self._deadline: float | None = None
        self._found: dict[bytes, Path] = {}
        self.record = _Record(config.record_messages, config.record_bytes)
        self.pcap: PcapWriter | None = None

    # -- probing and restarting

    def _io(self) -> _Transport:
        assert self.transport is not None
        return self.transport

    def probe(self, tries: int | None = None, timeout: float | None = None) -> bool:
        """An OPTIONS with a fresh branch and Call-ID, sent up to ``tries`` times (the same
        message, as a UDP retransmission); True when any answer with its Call-ID came."""
        assert self.builder is not None
        call_id, data = self.builder.options(self.probe_rng)
        n = tries or self.config.probe_tries
        for attempt in range(n):
            outcome = self._io().exchange(data, call_id, timeout or self.config.probe_timeout)
            if outcome == "answered":
                return True
            if outcome == "refused" and attempt + 1 < n:
                time.sleep(min(0.05, self.config.probe_timeout))
        return False

    def _restart(self) -> bool:
        restart = self.config.restart
        if restart is None:
            return False
        if callable(restart):
            restart()
        else:
            self.config.out.mkdir(parents=True, exist_ok=True)
            # The target may stay in the background holding the command's output: a log
            # file, never a pipe we would wait on.
            with (self.config.out / "restart.log").open("ab") as log:
                try:
                    subprocess.run(
                        restart,
                        shell=True,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=log,
                        timeout=self.config.restart_timeout,
                        check=False,
                    )
                except subprocess.TimeoutExpired:
                    return False
        self._io().reset()
        deadline = time.monotonic() + self.config.restart_timeout
        while time.monotonic() < deadline:
            if self.probe(tries=1, timeout=min(0.25, self.config.probe_timeout)):
                return True
            time.sleep(0.02)
        return False

    # -- running

    def _stop_reason(self, round_no: int) -> str | None:
        c = self.config
        if c.rounds is not None and round_no >= c.rounds:
            return f"{c.rounds} rounds done"
        if c.count is not None and self.summary.sent >= c.count:
            return f"{c.count} messages sent"
        if self._deadline is not None and time.monotonic() >= self._deadline:
            return f"{self._duration:g} s elapsed"
        if c.max_finds is not None and len(self.summary.finds) >= c.max_finds:
            return f"{c.max_finds} finds"
        return None

    def _line(self, round_no: int) -> str:
        s = self.summary
        elapsed = time.monotonic() - self.started
        rate = s.sent / elapsed if elapsed > 0 else 0.0
        return (
            f"round {round_no}  sent {s.sent}  {rate:.0f}/s  responses {s.responses}  "
            f"probes {s.probes_ok} ok {s.probes_failed} failed  finds {len(s.finds)}"
        )

    def run(self) -> Summary:
        """Runs to a stop condition (or Ctrl-C) and returns the summary. Raises
        :class:`TargetDown` when the target does not answer before the first round."""
        c = self.config
        self._duration = (
            c.duration
            if c.duration is not None
            else (60.0 if c.rounds is None and c.count is None else None)
        )
        self.started = time.monotonic()
        self._deadline = None if self._duration is None else self.started + self._duration
        self.transport = _open(c.target, c.bind, max(1.0, c.probe_timeout))
        if c.pcap is not None:
            c.pcap.parent.mkdir(parents=True, exist_ok=True)
            self.pcap = PcapWriter(c.pcap)
            self.transport.tap = self.pcap.packet
        try:
            self.builder = _Builder(c.target, self.transport.sent_by)
            if not self.probe() and not (c.restart is not None and self._restart()):
                raise TargetDown(
                    f"{c.target} does not answer OPTIONS ({c.probe_tries} tries, "
                    f"{c.probe_timeout:g} s each); is it running?"
                )
            self.progress.say(
                f"sipwire fuzz: {c.target} seed {c.seed}, {c.rate:g} messages/s, "
                f"rounds of {c.round_size}, sending from {self.transport.sent_by}"
            )
            self._loop()
        except KeyboardInterrupt:
            self.summary.stopped = "interrupted"
        finally:
            self.summary.elapsed = time.monotonic() - self.started
            self.summary.responses = self._io().responses
            self.summary.reconnects = self._io().reconnects
            if self.summary.rounds:
                self.progress.show(self._line(self.summary.rounds), force=True)
            self.progress.end()
            self._io().close()
            if self.pcap is not None:
                self.pcap.close()
        return self.summary

    def _loop(self) -> None:
        c, s = self.config, self.summary
        interval = 1.0 / c.rate
        round_no = 0
        round_starts: dict[int, float] = {}
        while True:
            reason = self._stop_reason(round_no)
            if reason is not None:
                s.stopped = reason
                return
            round_no += 1
            left = None if c.count is None else c.count - s.sent
            assert self.builder is not None
            inputs = generate_round(c, round_no, self.builder.sent_by, left)
            round_starts[round_no] = time.monotonic()
            round_starts.pop(round_no - 2, None)
            due = time.monotonic()
            for item in inputs:
                if self._deadline is not None and time.monotonic() >= self._deadline:
                    break
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                due = max(due + interval, time.monotonic() - 1.0)
                signal = self._io().send(item.data)
                if signal == "oversize":
                    s.oversize += 1
                    continue
                if signal == "ok":
                    self.record.add(item, time.monotonic())
                    s.sent += 1
                    s.bytes_sent += len(item.data)
                    s.by_class[item.kind] += 1
                    signal = self._io().drain()
                s.responses = self._io().responses
                self.progress.show(self._line(round_no))
                if signal in ("refused", "stalled"):
                    # The target may be gone: probe now rather than after the round.
                    break
            s.rounds = round_no
            self._dialogs(round_no)
            probe_at = time.monotonic()
            if self.probe():
                s.probes_ok += 1
                self.record.probe_answered(probe_at)
                continue
            s.probes_failed += 1
            # The suspect window: the previous round and the last window_seconds; the find
            # holds everything since the last probe answered before it.
            start = round_starts.get(round_no - 1, round_starts[round_no])
            entries, lost = self.record.window(min(start, probe_at - c.window_seconds))
            quiet = time.monotonic()
            bound = quiet - entries[0].at if entries else c.probe_timeout
            try:
                self._found_dead(round_no, entries, lost, bound)
            except _StopCampaign:
                s.alive = False
                s.stopped = "the target did not come back after a restart"
                return
            if c.restart is None:
                s.alive = False
                s.stopped = "the target stopped answering"
                return
            # Minimising leaves the target running when it can; start it only if not.
            if not self.probe(tries=1) and not self._restart():
                s.alive = False
                s.stopped = "the target did not come back after a restart"
                return

    # -- in-dialog scripts

    def _dialogs(self, round_no: int) -> None:
        c, s = self.config, self.summary
        if not c.dialog_classes:
            return
        assert self.builder is not None
        io = self._io()
        for i in range(c.dialogs_per_round):
            rng = random.Random(f"sipwire-fuzz-dialog:{c.seed}:{round_no}:{i}")
            # In turn, so that dialogs_per_round = len(dialog_classes) runs each every round.
            name = c.dialog_classes[(round_no - 1 + i) % len(c.dialog_classes)]
            try:
                session = _Session(
                    c.target,
                    io if isinstance(io, _Udp) else None,
                    max(1.0, c.probe_timeout) * 2,
                    io.tap,
                )
            except OSError:
                return  # the target is gone: the probe will say so
            try:
                sent, unanswered, made = _dialog_script(self.builder, rng, name, session, c.flood)
            finally:
                session.close()
            s.by_class[f"dialog:{name}"] += 1
            now = time.monotonic()
            for k, data in enumerate(sent):
                self.record.add(Input(round_no, 1000 * (i + 1) + k, f"dialog:{name}", data), now)
            s.sent += len(sent)
            s.bytes_sent += sum(len(d) for d in sent)
            if made:
                s.dialogs += 1
            else:
                s.dialogs_refused += 1
            if unanswered is not None:
                s.unanswered += 1
                self._unanswered(round_no, i, name, unanswered, sent)

    def _unanswered(
        self, round_no: int, index: int, name: str, method: str, sent: list[bytes]
    ) -> None:
        c = self.config
        c.out.mkdir(parents=True, exist_ok=True)
        d = c.out / f"unanswered-{c.seed}-{round_no}-{index}"
        d.mkdir(exist_ok=True)
        for i, data in enumerate(sent):
            (d / f"{i:03d}.sip").write_bytes(data)
        note = (
            f"no final response to the {method} of a {name} dialog within "
            f"{max(1.0, c.probe_timeout) * 2:g} s (RFC 3261 §8.2: every request is answered)"
        )
        (d / "README.txt").write_text(
            f"sipwire fuzz: {c.target} left a request unanswered in round {round_no} "
            f"(seed {c.seed}, dialog class {name}).\n{note}.\nThe files are what was sent in "
            f"that dialog, in order (the To tags are the target's of that run).\n"
        )
        total = sum(len(x) for x in sent)
        find = Find(round_no, index, f"dialog:{name}", d, total, total, False, note, "")
        find.replay = self._replay_cmd(d)
        self.summary.finds.append(find)
        self.progress.say(f"round {round_no}: {note}; saved {d}")

    # -- saving and minimising

    def _replay_cmd(self, path: Path, linger: float = 0.0) -> str:
        c = self.config
        extra = f" --probe-timeout {c.probe_timeout:g}" if c.probe_timeout != 1.0 else ""
        if linger > 0:
            extra += f" --linger {math.ceil(linger * 10) / 10:g}"
        if c.allow_public:
            extra += " --allow-public"
        return f"{self.command} --replay {shlex.quote(str(path))}{extra} {c.target}"

    def _campaign_cmd(self, round_no: int) -> str:
        c = self.config
        parts = [self.command, f"--seed {c.seed}", f"--rounds {round_no}"]
        parts += [f"--round-size {c.round_size}", f"--valid-ratio {c.valid_ratio:g}"]
        if tuple(c.classes) != tuple(sorted(mutations.MUTATIONS)):
            parts.append(f"--classes {','.join(c.classes)}")
        if c.bind is not None:
            parts.append(f"--bind {bracket(c.bind[0])}:{c.bind[1]}")
        return " ".join([*parts, str(c.target)])

    def _find(
        self,
        window: list[Input],
        path: Path,
        size: int,
        done: bool,
        note: str,
        *,
        flaky: bool = False,
        delay: float | None = None,
        linger: float = 0.0,
    ) -> None:
        last = window[-1] if window else Input(0, 0, "none", b"")
        total = sum(len(i.data) for i in window)
        kind = "+".join(i.kind for i in window) if done else last.kind
        find = Find(last.round, last.index, kind, path, total, size, done, note, "", flaky, delay)
        find.replay = self._replay_cmd(path, linger)
        self.summary.finds.append(find)
        self.progress.say(f"round {last.round}: saved {path} ({note})")

    def _found_dead(self, round_no: int, entries: list[_Entry], lost: bool, bound: float) -> None:
        """Saves the window (and shrinks it when the target can be restarted). ``bound`` is
        the longest the crash can have taken to show: from the window's first message to
        the unanswered probe."""
        c = self.config
        window = [e.item for e in entries]
        c.out.mkdir(parents=True, exist_ok=True)
        rounds = sorted({i.round for i in window})
        self.progress.say(
            f"round {round_no}: {c.target} stopped answering; the find holds the "
            f"{len(window)} messages since the last answer before the suspect window "
            f"(rounds {', '.join(map(str, rounds)) or '-'})"
        )
        wdir = c.out / f"window-{c.seed}-{round_no}"
        wdir.mkdir(exist_ok=True)
        width = max(4, len(str(len(window))))
        for k, e in enumerate(entries):
            item = e.item
            name = f"{k:0{width}d}-r{item.round}-{item.index}-{item.kind.replace(':', '-')}.sip"
            (wdir / name).write_bytes(item.data)
        total = sum(len(i.data) for i in window)
        t0 = entries[0].at if entries else 0.0
        listing = "".join(
            f"  {k:0{width}d}  +{e.at - t0:8.3f} s  round {e.item.round} message "
            f"{e.item.index}  {e.item.kind}  {len(e.item.data)} bytes\n"
            for k, e in enumerate(entries)
        )
        readme = (
            f"sipwire fuzz: {c.target} stopped answering OPTIONS in round {round_no} "
            f"(seed {c.seed}). These {len(window)} messages are every message sent since the "
            f"last probe answered before the suspect window (the previous round and the last "
            f"{c.window_seconds:g} s), in the order sent; the probe went unanswered "
            f"{bound:.2f} s after the first of them.\n"
            + (
                "Older messages were dropped from the rolling record (raise --record-size).\n"
                if lost
                else ""
            )
            + f"\nReplay them (each file in name order, then probes for {bound:.1f} s):\n"
            f"  {self._replay_cmd(wdir, bound)}\n\n"
            f"Send the same campaign again, up to this round:\n  {self._campaign_cmd(round_no)}\n"
            f"\n{listing}"
        )
        if c.restart is None:
            note = "no restart command, so not minimised: every message since the last answer"
            (wdir / "README.txt").write_text(readme + f"\n{note}.\n")
            self._find(window, wdir, total, False, note, linger=bound)
            return
        (wdir / "README.txt").write_text(readme)
        self.progress.say(f"round {round_no}: minimising (budget {c.minimise_budget:g} s)")
        m = _Minimiser(self)
        reconnects = self._io().reconnects
        try:
            found = m.reduce(window, bound)
        except _CannotRestart:
            self.summary.minimising += time.monotonic() - m.started
            note = "the target did not come back after a restart, so not minimised"
            self._find(window, wdir, total, False, note, linger=bound)
            raise _StopCampaign from None
        self.summary.minimising += time.monotonic() - m.started
        self._io().reconnects = reconnects  # the campaign's, not the minimiser's
        stats = f"{m.tries} tries, {time.monotonic() - m.started:.1f} s"
        if found.items is None:
            note = (
                f"FLAKY: replayed whole {m.replays} time(s) after a restart, waiting "
                f"{bound:.1f} s each, the window did not stop the target again; kept as found "
                f"({stats})"
            )
            (wdir / "README.txt").write_text(readme + f"\n{note}.\n")
            self._find(window, wdir, total, False, note, flaky=True, linger=bound)
            return
        items, data = found.items, found.data
        delay = found.delay
        linger = max(c.probe_timeout, 2 * (delay or 0.0) + c.probe_timeout)
        shown = "" if delay is None else f"; the target went quiet {delay:.2f} s after it"
        flaky = "" if not found.flaky else "; FLAKY: the shrunk input did not always reproduce"
        base = f"crash-{c.seed}-{round_no}-{items[-1].index}"
        if len(items) == 1:
            path = c.out / f"{base}.sip"
            previous = self._found.get(data)
            if previous is not None:
                self._find(
                    items, previous, len(data), True, f"the same as {previous} ({stats})",
                    delay=delay, linger=linger,
                )  # fmt: skip
                return
            self._found[data] = path
            path.write_bytes(data)
            (c.out / f"{base}.orig.sip").write_bytes(items[0].data)
            note = (
                f"minimised from {len(items[0].data)} to {len(data)} bytes, out of "
                f"{len(window)} messages{shown}{flaky} ({stats})"
            )
        else:
            path = c.out / base
            path.mkdir(exist_ok=True)
            for k, item in enumerate(items):
                (path / f"{k:03d}-{item.kind.replace(':', '-')}.sip").write_bytes(item.data)
            note = f"needs {len(items)} messages in a row, of {len(window)}{shown}{flaky} ({stats})"
        what = "this message" if len(items) == 1 else "these messages, in name order"
        (c.out / f"{base}.txt").write_text(
            f"sipwire fuzz find: {c.target} stopped answering OPTIONS after {what}.\n"
            f"seed {c.seed}, round {items[-1].round}, message {items[-1].index} of the round "
            f"({'+'.join(i.kind for i in items)})\n{note}\n\n"
            f"Replay (sends it, then probes for {linger:.1f} s; exit status 1 when the target "
            f"goes quiet):\n  {self._replay_cmd(path, linger)}\n\n"
            f"Every message since the last answered probe: {wdir}\n"
            f"Send the same campaign again, up to this round:\n  {self._campaign_cmd(round_no)}\n"
        )
        self._find(
            items, path, len(data), True, note, flaky=found.flaky, delay=delay, linger=linger
        )


class _CannotRestart(Exception):
    pass


class _StopCampaign(Exception):
    pass


@dataclass
class _Reduced:
    """What shrinking found: the messages (None: the window did not reproduce), the bytes
    of the one message, the delay observed, and whether a smaller candidate failed to
    reproduce when checked again."""

    items: list[Input] | None
    data: bytes = b""
    delay: float | None = None
    flaky: bool = False


class _Minimiser:
    """Replays candidates to the target, restarting it after each one that stopped it. A
    candidate stops the target when a probe goes unanswered within ``linger`` seconds of
    its last message (probing all along, so a delayed crash is seen)."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        c = campaign.config
        self.started = time.monotonic()
        self.deadline = self.started + c.minimise_budget
        self.max_tries = c.minimise_tries
        self.tries = 0
        self.replays = 0
        self.down = True
        self.last_delay: float | None = None

    def kills(self, messages: Sequence[bytes], linger: float, budget: bool = True) -> bool:
        if budget and (self.tries >= self.max_tries or time.monotonic() >= self.deadline):
            raise BudgetExhausted
        self.tries += 1
        camp = self.campaign
        if self.down:
            if not camp._restart():
                raise _CannotRestart
            self.down = False
        io = camp._io()
        io.reset()
        interval = 1.0 / camp.config.rate
        for k, data in enumerate(messages):
            if k:
                time.sleep(interval)
            if io.send(data) == "refused":
                break
            io.drain()
        last = time.monotonic()
        dead = _wait_quiet(camp, last + linger)
        if dead is None:
            return False
        self.last_delay = dead - last
        self.down = True
        return True

    def reduce(self, window: list[Input], bound: float) -> _Reduced:
        """Shrinks the window: ``bound`` is how long the crash took to show in the
        campaign (at most)."""
        try:
            return self._reduce(window, bound)
        finally:
            # Leave the target running for the rounds that follow, and no half-sent
            # candidate on a connection that the next round would complete.
            self.campaign._io().reset()
            if self.down and self.campaign._restart():
                self.down = False

    def _reduce(self, window: list[Input], bound: float) -> _Reduced:
        c = self.campaign.config
        data = [i.data for i in window]
        # 1. The whole window, waiting as long as the crash took to show (not counted
        # against the budget: a find is never lost to it).
        for _ in range(c.reproduce_tries):
            self.replays += 1
            if self.kills(data, bound + c.probe_timeout, budget=False):
                break
        else:
            return _Reduced(None)
        # The budget is for shrinking: it starts now.
        self.deadline = time.monotonic() + c.minimise_budget
        full = self.last_delay or 0.0
        # The killing message may be anywhere in a candidate: wait for the delay seen after
        # the window's last message, plus the time it took to send it, plus a probe.
        span = len(window) / c.rate
        linger = full + span + c.probe_timeout
        best = _Reduced(list(window), b"", full)
        try:
            # 2. Bisect by message.
            seq = ddmin(window, lambda items: self.kills([i.data for i in items], linger))
            best = _Reduced(seq, b"".join(i.data for i in seq), self.last_delay)
            if len(seq) != 1:
                return best
            # The one message alone, to see its own delay.
            if not self.kills([seq[0].data], linger):
                best.flaky = True
                return best
            own = self.last_delay or 0.0
            best = _Reduced(seq, seq[0].data, own)
            step = max(own * 1.5, own + 0.1) + c.probe_timeout
            # 3. Lines: one pass dropping each line alone (cheap, and it keeps the message's
            # end, which a stream needs to hand the message over at all), then ddmin over
            # the lines left; then bytes.
            lines = seq[0].data.splitlines(keepends=True)
            for i in range(len(lines) - 1, -1, -1):
                cand = lines[:i] + lines[i + 1 :]
                if cand and self.kills([b"".join(cand)], step):
                    lines = cand
                    best.data = b"".join(lines)
            lines = ddmin(lines, lambda ls: self.kills([b"".join(ls)], step))
            best.data = b"".join(lines)
            best.data = bytes(ddmin(list(best.data), lambda bs: self.kills([bytes(bs)], step)))
        except BudgetExhausted:
            pass
        return best


def _wait_quiet(camp: Campaign, until: float) -> float | None:
    """Probes until ``until``: the time the first probe that went unanswered (twice) was
    sent, or None when the target answered throughout."""
    c = camp.config
    time.sleep(0.005)
    while True:
        at = time.monotonic()
        if not camp.probe(tries=1) and not camp.probe():
            return at
        left = until - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(left, max(0.02, min(0.25, (until - at) / 8)), c.probe_timeout))


# --- replay ------------------------------------------------------------------------------------


@dataclass
class ReplayResult:
    """What :func:`replay` saw: ``alive`` is whether the target answered OPTIONS after."""

    target: str
    sent: int
    bytes_sent: int
    alive: bool


def replay(
    target: Target,
    messages: Sequence[bytes],
    *,
    rate: float = 100.0,
    probe_timeout: float = 1.0,
    probe_tries: int = 3,
    bind: tuple[str, int] | None = None,
    linger: float = 0.0,
    allow_public: bool = False,
) -> ReplayResult:
    """Sends ``messages`` in order (one connection for TCP), then probes, and keeps probing
    for ``linger`` seconds (a target that dies a while after the message). Raises
    :class:`TargetDown` when the target does not answer before anything is sent."""
    config = Config(
        target,
        rate=min(rate, MAX_RATE),
        probe_timeout=probe_timeout,
        probe_tries=probe_tries,
        bind=bind,
        allow_public=allow_public,
    )
    camp = Campaign(config)
    camp.transport = _open(target, bind, max(1.0, probe_timeout))
    io = camp.transport
    try:
        camp.builder = _Builder(target, io.sent_by)
        if not camp.probe():
            raise TargetDown(f"{target} does not answer OPTIONS before the replay; is it running?")
        sent = size = 0
        for k, data in enumerate(messages):
            if k:
                time.sleep(1.0 / rate)
            signal = io.send(data)
            if signal == "refused":
                break
            if signal == "ok":
                sent += 1
                size += len(data)
            io.drain()
        if linger > 0:
            alive = _wait_quiet(camp, time.monotonic() + linger) is None
        else:
            alive = camp.probe()
        return ReplayResult(str(target), sent, size, alive)
    finally:
        io.close()


def read_inputs(paths: Sequence[Path]) -> list[tuple[Path, bytes]]:
    """The files to replay: each file, or each ``*.sip`` of a folder in name order."""
    out: list[tuple[Path, bytes]] = []
    for p in paths:
        files = sorted(p.glob("*.sip")) if p.is_dir() else [p]
        for f in files:
            out.append((f, f.read_bytes()))
    return out
