"""Load tests: place calls (or registrations, OPTIONS, MESSAGEs ...) at a fixed rate against
any target, or answer every call that comes in, and count what happened.

The calls are driven from Rust (:class:`sipwire._sipwire.LoadRunner`): one UDP socket read
and written in batches (``recvmmsg``/``sendmmsg``), the sans-IO endpoint for transactions,
dialogs, ACKs, retransmissions and CANCEL, and each call walked through a :class:`Scenario`
that Python describes once. Python runs the engine in slices of a tenth of a second with the
GIL released, and reads its counters between slices for the progress line, the CSV time
series and the checks below. (Over TCP, calls go through the asyncio user agent instead:
:func:`place_calls`, :func:`answer_calls`, much slower.)

``sipwire load call TARGET --rate 3000 --duration 20`` places 3000 calls a second for 20
seconds: INVITE (with an SDP offer), the 2xx, ACK, ``--hold`` seconds, BYE, its 200. Other
scenarios (``--scenario``): ``register`` (REGISTER answering a digest challenge), ``options``,
``message``, ``hold-dtmf`` (a call put on hold and resumed with re-INVITEs, RFC 2976 INFO
digits in between), ``cancel`` (INVITE, CANCEL once it rings, 487). ``sipwire load answer``
answers every INVITE with 200 (or rings first, ``--ring``) and every other request with 200.

A target that is not there is said so at once: an ICMP port unreachable (nothing listening)
stops the run within a tenth of a second, and a target that answers nothing within
``give_up`` seconds (1 by default) of the first request stops it too
(:class:`TargetUnreachable`), instead of thirty seconds of 408s.

From Python::

    from sipwire import load

    result = load.run("sip:service@127.0.0.1:5060", load.SCENARIOS["call"](), rate=500,
                      duration=10)
    result.completed, result.failures, result.setup_ms["p99"], result.to_json()

    mine = load.Scenario("register-then-message", (
        load.register(expires=60),
        load.request("MESSAGE", body=b"hi", content_type="text/plain"),
    ))
    load.run("sip:127.0.0.1:5060", mine, rate=100, duration=5, user="u{n}", password="pw")

``{n}`` in a scenario's URIs, headers, bodies and user name is the call's number (from 1).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import csv
import ipaddress
import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from sipwire._progress import Progress
from sipwire._sipwire import LoadRunner, SipwireError
from sipwire.ua import CallFailed, SipTimeout, TransportFailed, UserAgent

Transport = Literal["udp", "tcp"]

# A run in another thread (``answer`` beside the code under test, say) is inside the engine,
# without the GIL, most of the time. If the interpreter finalized with it there, the thread's
# forced exit on taking the GIL back would unwind through Rust frames and abort the process.
# At exit, runs end after their current slice (a tenth of a second) with what they counted.
_EXITING = threading.Event()
_RUNS_LOCK = threading.Lock()
_RUNS = 0
# The longest wait at exit: a slice, and the reading of counters after it.
_EXIT_WAIT = 2.0


@contextlib.contextmanager
def _engine_run() -> Iterator[None]:
    global _RUNS
    with _RUNS_LOCK:
        _RUNS += 1
    try:
        yield
    finally:
        with _RUNS_LOCK:
            _RUNS -= 1


def _end_runs_at_exit() -> None:
    _EXITING.set()
    deadline = time.monotonic() + _EXIT_WAIT
    while _RUNS and time.monotonic() < deadline:
        time.sleep(0.01)  # the GIL is let go: the runs' threads return from the engine


atexit.register(_end_runs_at_exit)

__all__ = [
    "SCENARIOS",
    "LoadResult",
    "Scenario",
    "Step",
    "TargetUnreachable",
    "answer",
    "bye",
    "find_max",
    "info_dtmf",
    "invite",
    "pause",
    "register",
    "reinvite",
    "request",
    "run",
]

# --- scenarios ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of a scenario: a request (and the final statuses that let the call go on),
    or a pause. Build them with :func:`request`, :func:`invite`, :func:`pause` ..."""

    kind: Literal["request", "pause"]
    method: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    sdp: str | None = None
    """An SDP offer with this direction (``sendrecv``, ``sendonly`` ...) as the body."""
    expect: tuple[int, int] = (200, 299)
    auth: bool = False
    """Answer one 401/407 with digest credentials (the run's ``user`` and ``password``)."""
    cancel_after: float | None = None
    """Seconds after the first 180/183 to CANCEL this INVITE."""
    uri: str | None = None
    to: str | None = None
    from_: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        if self.kind == "pause":
            return {"kind": "pause", "seconds": self.seconds}
        return {
            "kind": "request",
            "method": self.method,
            "headers": list(self.headers),
            "body": self.body,
            "sdp": self.sdp,
            "expect": self.expect,
            "auth": self.auth,
            "cancel_after": self.cancel_after,
            "uri": self.uri,
            "to": self.to,
            "from": self.from_,
        }


def request(
    method: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
    sdp: str | None = None,
    expect: tuple[int, int] = (200, 299),
    auth: bool = False,
    cancel_after: float | None = None,
    uri: str | None = None,
    to: str | None = None,
    from_: str | None = None,
) -> Step:
    """A request: inside the call's dialog once it has one (after a 2xx to INVITE), else a
    new out-of-dialog request to the scenario's URI (or ``uri``). ``expect`` is the range
    of final statuses that let the call go on; any other fails it, counted by status and
    reason."""
    method = method.upper()
    if not method.isalpha():
        raise ValueError(f"method {method!r} is not a SIP method token")
    if not (100 <= expect[0] <= expect[1] <= 699):
        raise ValueError(f"expect must be a range of final statuses, not {expect}")
    hs = list(headers)
    if body and content_type is not None:
        hs.append(("Content-Type", content_type))
    if body and sdp is not None:
        raise ValueError("a step has a body or an SDP offer, not both")
    return Step(
        "request",
        method,
        tuple(hs),
        body,
        sdp,
        expect,
        auth,
        cancel_after,
        uri,
        to,
        from_,
    )


def invite(
    *,
    sdp: str | None = "sendrecv",
    expect: tuple[int, int] = (200, 299),
    cancel_after: float | None = None,
    auth: bool = False,
    headers: Sequence[tuple[str, str]] = (),
) -> Step:
    """An INVITE with an SDP offer (``sdp=None``: none). Its 2xx makes the call's dialog
    and is ACKed by the engine."""
    return request(
        "INVITE", sdp=sdp, expect=expect, cancel_after=cancel_after, auth=auth, headers=headers
    )


def reinvite(direction: str = "sendonly") -> Step:
    """A re-INVITE in the dialog with a new offer: ``sendonly`` puts the call on hold,
    ``sendrecv`` resumes it (RFC 3264 §8.4)."""
    if direction not in ("sendrecv", "sendonly", "recvonly", "inactive"):
        raise ValueError(f"direction {direction!r} is not sendrecv, sendonly, recvonly or inactive")
    return request("INVITE", sdp=direction)


def info_dtmf(digit: str, duration_ms: int = 160) -> Step:
    """A DTMF digit as an INFO (``application/dtmf-relay``, the form SIP phones send)."""
    if len(digit) != 1 or digit not in "0123456789*#ABCD":
        raise ValueError(f"digit {digit!r} is not one of 0-9 * # A-D")
    body = f"Signal={digit}\r\nDuration={duration_ms}\r\n".encode()
    return request("INFO", body=body, content_type="application/dtmf-relay")


def bye() -> Step:
    return request("BYE")


def pause(seconds: float) -> Step:
    if not seconds >= 0:
        raise ValueError(f"a pause must be >= 0 seconds, not {seconds}")
    return Step("pause", seconds=seconds)


def register(expires: int = 3600) -> Step:
    """A REGISTER of ``sip:USER@DOMAIN`` (To and From), answering a digest challenge."""
    return request(
        "REGISTER",
        headers=[("Expires", str(expires))],
        auth=True,
        uri="sip:{domain}",
        to="<sip:{user}@{domain}>",
        from_="<sip:{user}@{domain}>",
    )


@dataclass(frozen=True)
class Scenario:
    """What each call does, step by step. A call is completed when its last step got an
    expected final response; it fails at the first that did not (or got none)."""

    name: str
    steps: tuple[Step, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not any(s.kind == "request" for s in self.steps):
            raise ValueError("a scenario needs at least one request")

    @property
    def pauses(self) -> float:
        return sum(s.seconds for s in self.steps if s.kind == "pause")


def _call(hold: float = 0.0) -> Scenario:
    steps = [invite()] + ([pause(hold)] if hold > 0 else []) + [bye()]
    return Scenario("call", tuple(steps), "INVITE (SDP offer), 200, ACK, hold, BYE, 200")


def _register(hold: float = 0.0) -> Scenario:
    return Scenario(
        "register",
        (register(),),
        "REGISTER, 401 with a digest challenge, REGISTER with credentials, 200",
    )


def _options(hold: float = 0.0) -> Scenario:
    return Scenario("options", (request("OPTIONS"),), "OPTIONS, 200")


def _message(hold: float = 0.0) -> Scenario:
    body = b"sipwire load message {n}"
    return Scenario(
        "message",
        (request("MESSAGE", body=body, content_type="text/plain"),),
        "MESSAGE (text/plain), 2xx",
    )


def _hold_dtmf(hold: float = 0.0) -> Scenario:
    gap = hold / 4 if hold > 0 else 0.0
    steps = [invite(), pause(gap), reinvite("sendonly"), pause(gap), reinvite("sendrecv")]
    steps += [info_dtmf(d) for d in "123#"]
    steps += [pause(gap), bye()]
    return Scenario(
        "hold-dtmf",
        tuple(s for s in steps if s.kind == "request" or s.seconds > 0),
        "INVITE, re-INVITE sendonly (hold), re-INVITE sendrecv (resume), INFO digits 1 2 3 #, BYE",
    )


def _cancel(hold: float = 0.0) -> Scenario:
    return Scenario(
        "cancel",
        (invite(cancel_after=hold, expect=(487, 487)),),
        "INVITE, 180, CANCEL (--hold seconds after the 180), 200 to the CANCEL, 487",
    )


#: The built-in scenarios by name: each a function of ``hold`` (seconds; what it means is in
#: the scenario's description).
SCENARIOS: dict[str, Callable[..., Scenario]] = {
    "call": _call,
    "register": _register,
    "options": _options,
    "message": _message,
    "hold-dtmf": _hold_dtmf,
    "cancel": _cancel,
}


# --- results -----------------------------------------------------------------------------------


class TargetUnreachable(SipwireError):
    """Nothing answered at the target: ICMP port unreachable (nothing listening), or no
    response at all within ``give_up`` seconds of the first request."""


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, -(-int(p * len(s)) // 100) - 1))]


@dataclass
class LoadResult:
    """What a load run counted. ``failures`` maps (status, reason) to a count (status 0:
    no SIP status, the reason says what happened); ``refused`` calls were not placed
    because ``concurrency`` calls were already up. A run is clean when every attempted call
    completed."""

    attempted: int = 0
    answered: int = 0
    completed: int = 0
    failed: int = 0
    refused: int = 0
    #: Calls that could not reach the target (ICMP unreachable, refused connection, DNS).
    unreachable: int = 0
    #: Calls still in progress when the run gave up waiting (Timer B and a margin); for
    #: ``answer``, incoming calls still up, ringing or waiting for their ACK at the end.
    unfinished: int = 0
    #: Incoming calls the caller cancelled before they were answered (``answer`` only).
    cancelled: int = 0
    failures: Counter[tuple[int, str]] = field(default_factory=Counter)
    setup_ms: dict[str, float | None] = field(default_factory=dict)
    """Call setup latency (first request to its expected final, ms): p50, p95, p99, p99.9,
    max, mean, and count."""
    max_concurrent: int = 0
    seconds: float = 0.0
    retransmitted: int = 0
    """Requests and responses this side sent again (timers A, E, G)."""
    retransmissions_received: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    scenario: str = "call"
    target: str = ""
    rate: float = 0.0
    duration: float = 0.0
    role: Literal["call", "answer"] = "call"
    extra: dict[str, Any] = field(default_factory=dict)
    """Everything else the engine counted (send drops, ICMP errors, tables ...)."""
    series: list[dict[str, Any]] = field(default_factory=list)
    """One row a second (the CSV): cumulative counters and that second's latencies."""
    setup_samples: list[float] = field(default_factory=list, repr=False)

    @property
    def clean(self) -> bool:
        return self.completed == self.attempted and self.failed == 0

    @property
    def calls_per_second(self) -> float:
        """Completed calls per second over the placing time (``duration``) when known, else
        over the whole run."""
        span = self.duration or self.seconds
        return self.completed / span if span else 0.0

    def percentile(self, p: float) -> float | None:
        key = {50.0: "p50", 95.0: "p95", 99.0: "p99", 99.9: "p99.9"}.get(float(p))
        if key is not None and key in self.setup_ms:
            return self.setup_ms[key]
        return _percentile(self.setup_samples, p)

    def to_json(self) -> dict[str, Any]:
        """The figures as a JSON-able dict (``--json``)."""
        return {
            "role": self.role,
            "scenario": self.scenario,
            "target": self.target,
            "rate": self.rate,
            "duration": self.duration,
            "seconds": round(self.seconds, 3),
            "attempted": self.attempted,
            "completed": self.completed,
            "failed": {
                "total": self.failed,
                "by_status": [
                    {"status": s, "reason": r, "count": n}
                    for (s, r), n in sorted(self.failures.items(), key=lambda x: (-x[1], x[0]))
                ],
            },
            "refused": self.refused,
            "unreachable": self.unreachable,
            "unfinished": self.unfinished,
            "cancelled": self.cancelled,
            "answered": self.answered,
            "retransmissions": {
                "sent": self.retransmitted,
                "received": self.retransmissions_received,
            },
            "concurrent": {"max": self.max_concurrent},
            "setup_ms": {
                k: self.setup_ms.get(k)
                for k in ("p50", "p95", "p99", "p99.9", "max", "mean", "count")
            },
            "calls_per_second": round(self.calls_per_second, 2),
            "messages": {"sent": self.messages_sent, "received": self.messages_received},
            "engine": self.extra,
            "load_average": list(os.getloadavg()),
        }

    def summary(self) -> str:
        what = "calls" if self.role == "call" else "incoming calls"
        cancelled = f"cancelled {self.cancelled}, " if self.role == "answer" else ""
        lines = [
            f"{what} attempted {self.attempted}, answered {self.answered}, "
            f"completed {self.completed}, failed {self.failed}, {cancelled}"
            f"refused {self.refused}, unreachable {self.unreachable}, "
            f"unfinished {self.unfinished}",
            f"duration {self.seconds:.1f} s, {self.calls_per_second:.1f} calls/s completed, "
            f"at most {self.max_concurrent} at once",
            f"retransmissions sent {self.retransmitted}, received "
            f"{self.retransmissions_received}; messages sent {self.messages_sent}, "
            f"received {self.messages_received}",
        ]
        ps = [(k, self.percentile(p)) for k, p in (("p50", 50), ("p95", 95), ("p99", 99))]
        ps.append(("p99.9", self.percentile(99.9)))
        if all(v is not None for _, v in ps):
            first = {
                "call": "call setup",
                "hold-dtmf": "call setup",
                # The 487 comes after the CANCEL, --hold seconds into the ringing.
                "cancel": "INVITE to 487",
            }.get(self.scenario, "first request")
            lines.append(
                f"{first} latency "
                + ", ".join(f"{k} {v:.1f} ms" for k, v in ps)
                + (f", max {self.setup_ms['max']:.1f} ms" if self.setup_ms.get("max") else "")
            )
        if self.failures:
            lines.append(
                "failures: "
                + ", ".join(
                    f"{s} {r}×{n}".strip() if s else f"{r}×{n}"
                    for (s, r), n in sorted(self.failures.items(), key=lambda x: -x[1])
                )
            )
        return "\n".join(lines)


def _fill(res: LoadResult, st: dict[str, Any]) -> None:
    if res.role == "call":
        res.attempted = st["attempted"]
        res.completed = st["completed"]
        res.failed = st["failed"]
        res.refused = st["refused"]
        res.unreachable = st["unreachable"]
        res.max_concurrent = st["max_up"]
        res.answered = st["setup"]["count"]
        res.setup_ms = dict(st["setup"])
    else:
        res.attempted = st["in_calls"]
        res.answered = st["in_answered"]
        res.completed = st["in_completed"]
        res.failed = st["in_failed"]
        res.cancelled = st["in_cancelled"]
        # Calls still up, ringing or waiting for their ACK when answering stopped.
        res.unfinished = st["in_up"]
        res.max_concurrent = st["in_max_up"]
    res.failures = Counter({(s, r): n for s, r, n in st["failures"]})
    res.retransmitted = st["retransmitted"]
    res.retransmissions_received = st["retransmissions_received"]
    res.messages_sent = st["sent"]
    res.messages_received = st["received"]
    keep = (
        "send_dropped",
        "send_failed",
        "truncated",
        "malformed",
        "icmp_errors",
        "transactions",
        "transactions_evicted",
        "transactions_rejected",
        "dialogs",
        "queued",
        "in_requests",
        "in_cancelled",
    )
    res.extra = {k: st[k] for k in keep}


# --- targets -----------------------------------------------------------------------------------


def target_address(uri: str) -> tuple[str, int]:
    """The (IP, port) a SIP URI's host part points at (a name is resolved; no SRV)."""
    rest = uri
    for scheme in ("sips:", "sip:"):
        if rest.lower().startswith(scheme):
            rest = rest[len(scheme) :]
            break
    else:
        raise ValueError(f"{uri!r} is not a sip: URI")
    rest = rest.split(";", 1)[0].split("?", 1)[0]
    hostport = rest.rsplit("@", 1)[-1]
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError(f"bad IPv6 reference in {uri!r}")
        host, tail = hostport[1:end], hostport[end + 1 :]
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = hostport.partition(":")
    if not host:
        raise ValueError(f"{uri!r} has no host")
    if port_text and not (port_text.isdigit() and 1 <= int(port_text) <= 65535):
        raise ValueError(f"{uri!r}: port {port_text!r} is not 1-65535")
    port = int(port_text) if port_text else 5060
    try:
        ip = str(ipaddress.ip_address(host))
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except socket.gaierror as e:
            raise ValueError(f"cannot resolve {host!r}: {e.strerror}") from None
        ip = str(infos[0][4][0])
    return ip, port


def _domain(uri: str) -> str:
    ip, port = target_address(uri)
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _bind_host(ip: str, port: int) -> str:
    """The local address the system would send to ``ip`` from (it goes in Via and Contact,
    so it must be one the target can answer; a UDP connect sends nothing)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.connect((ip, port))
            return str(s.getsockname()[0])
        except OSError:
            return "::1" if family == socket.AF_INET6 else "127.0.0.1"


# --- running -----------------------------------------------------------------------------------

_CSV_FIELDS = (
    "time",
    "attempted",
    "completed",
    "failed",
    "refused",
    "up",
    "completed_per_s",
    "retransmitted",
    "sent",
    "received",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "p99.9_ms",
)


def _row(
    t: float,
    st: dict[str, Any],
    prev: dict[str, Any] | None,
    iv: dict[str, Any],
    role: str = "call",
) -> dict[str, Any]:
    """One row of the time series: the calls placed (``call``) or the incoming calls
    (``answer``), cumulative, and that interval's completions and latencies."""
    keys = (
        ("attempted", "completed", "failed", "refused", "up")
        if role == "call"
        else ("in_calls", "in_completed", "in_failed", "in_cancelled", "in_up")
    )
    attempted, completed, failed, refused, up = (st[k] for k in keys)
    done = completed - (prev[keys[1]] if prev else 0)
    return {
        "time": round(t, 3),
        "attempted": attempted,
        "completed": completed,
        "failed": failed,
        "refused": refused,
        "up": up,
        "completed_per_s": done,
        "retransmitted": st["retransmitted"],
        "sent": st["sent"],
        "received": st["received"],
        "p50_ms": iv["p50"],
        "p95_ms": iv["p95"],
        "p99_ms": iv["p99"],
        "p99.9_ms": iv["p99.9"],
    }


def write_csv(path: Path | TextIO, rows: Sequence[dict[str, Any]]) -> None:
    """The time series as CSV (one row a second)."""

    def emit(f: TextIO) -> None:
        w = csv.DictWriter(f, fieldnames=list(_CSV_FIELDS))
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in _CSV_FIELDS})

    if isinstance(path, Path):
        with path.open("w", newline="") as f:
            emit(f)
    else:
        emit(path)


def run(
    target: str,
    scenario: Scenario | None = None,
    *,
    rate: float,
    duration: float,
    concurrency: int = 65536,
    host: str | None = None,
    port: int = 0,
    user: str = "sipwire",
    password: str = "",
    t1: float = 0.5,
    give_up: float = 1.0,
    max_calls: int | None = None,
    progress: TextIO | None = None,
    drain: float | None = None,
) -> LoadResult:
    """Places ``rate`` calls a second of ``scenario`` (default: a basic call) to ``target``
    (a SIP URI; ``{user}`` and ``{domain}`` in the scenario stand for ``user`` and the
    target's host:port) for ``duration`` seconds, waits for the calls in progress to end,
    and returns what it counted. Raises :class:`TargetUnreachable` when nothing answers
    (see the module docs)."""
    if not (rate > 0 and duration > 0 and concurrency > 0):
        raise ValueError("rate, duration and concurrency must be positive")
    sc = scenario or _call()
    ip, dport = target_address(target)
    domain = _domain(target)
    steps = []
    for s in sc.steps:
        d = s.as_dict()
        for k in ("uri", "to", "from"):
            if d.get(k):
                d[k] = d[k].replace("{user}", user).replace("{domain}", domain)
        steps.append(d)
    runner = LoadRunner(
        host or _bind_host(ip, dport),
        port,
        target=(ip, dport),
        steps=steps,
        uri=target,
        user=user,
        password=password,
        t1=t1,
        max_calls_up=concurrency,
        # Each call leaves ~3 transactions for up to 64·T1 (Timers D, K, M): room for all,
        # the oldest finished ones evicted when full.
        max_transactions=max(65536, min(1 << 20, int(rate * 64 * t1 * 3))),
        max_dialogs=max(65536, concurrency),
    )
    res = LoadResult(scenario=sc.name, target=target, rate=rate, duration=duration)
    show = Progress(progress, every=1.0)
    start = runner.now
    runner.place(rate, duration, max_calls)
    prev: dict[str, Any] | None = None
    next_row = start + 1.0
    # After the last call is placed: its steps, Timer B (64·T1) and a margin.
    wait = drain if drain is not None else sc.pauses + 64 * t1 + 2.0
    end_placing = start + duration
    slice_ = 0.1
    with _engine_run():
        try:
            while not _EXITING.is_set():
                runner.run(runner.now + slice_)
                now = runner.now
                st = runner.stats()
                _check_alive(st, target, give_up, start, now)
                if now >= next_row:
                    iv = runner.take_interval()
                    res.series.append(_row(now - start, st, prev, iv))
                    prev = st
                    next_row += 1.0
                show.show(
                    f"{now - start:5.1f}s  attempted {st['attempted']}  up {st['up']}  "
                    f"completed {st['completed']}  failed {st['failed']}  "
                    f"retransmitted {st['retransmitted']}"
                )
                if not runner.placing and (runner.active == 0 or now >= end_placing + wait):
                    break
        except KeyboardInterrupt:
            pass
    st = runner.stats()
    iv = runner.take_interval()
    res.series.append(_row(runner.now - start, st, prev, iv))
    _fill(res, st)
    res.unfinished = runner.active
    res.seconds = runner.now - start
    show.show(f"done: completed {res.completed}, failed {res.failed}", force=True)
    show.end()
    return res


def _check_alive(st: dict[str, Any], target: str, give_up: float, start: float, now: float) -> None:
    if st["received"]:
        return
    if st["icmp_errors"]:
        raise TargetUnreachable(
            f"nothing is listening at {target} (ICMP port unreachable to the first request)"
        )
    first = st["first_sent"]
    if give_up > 0 and first is not None and now - first >= give_up:
        raise TargetUnreachable(
            f"{target} answered nothing within {give_up:g} s of the first request "
            f"({st['sent']} sent): is it running, and is the address right?"
        )


def find_max(
    target: str,
    scenario: Scenario | None = None,
    *,
    start: float,
    step: float = 1.25,
    seconds: float = 10.0,
    limit: float = 100000.0,
    progress: TextIO | None = None,
    **kw: Any,
) -> tuple[float, list[LoadResult]]:
    """Ramps the rate from ``start`` (times ``step`` each round of ``seconds``) until a
    round has a failed or refused call, or ``limit`` is passed. Returns the highest rate
    held with no failure (0 when the first failed) and every round's result."""
    if not step > 1:
        raise ValueError(f"step must be > 1, not {step}")
    rate, best, rounds = start, 0.0, []
    while rate <= limit:
        r = run(target, scenario, rate=rate, duration=seconds, progress=None, **kw)
        rounds.append(r)
        held = r.clean and r.unfinished == 0
        if progress is not None:
            progress.write(
                f"{rate:8.0f} calls/s: completed {r.completed} of {r.attempted}, "
                f"failed {r.failed}, p99 {r.percentile(99) or 0:.1f} ms -> "
                f"{'held' if held else 'not held'}\n"
            )
            progress.flush()
        if not held:
            break
        best = rate
        rate = round(rate * step, 1)
    return best, rounds


def answer(
    *,
    port: int = 5060,
    host: str = "127.0.0.1",
    duration: float | None = None,
    calls: int | None = None,
    ring: float = 0.0,
    status: int = 200,
    progress: TextIO | None = None,
    ready: Callable[[tuple[str, int]], None] | None = None,
) -> LoadResult:
    """Answers every INVITE with ``status`` (after 180 and ``ring`` seconds when ``ring``
    > 0) and every other request with 200, until ``duration`` seconds, ``calls`` calls
    ended, or Ctrl-C. ``max_concurrent`` is the most calls up at once (INVITE received,
    not yet ended by BYE, CANCEL or failure)."""
    runner = LoadRunner(host, port, ring=ring, invite_status=status)
    if ready is not None:
        ready(runner.local)
    res = LoadResult(role="answer", target=f"{host}:{runner.local[1]}")
    show = Progress(progress, every=1.0)
    start = runner.now
    prev: dict[str, Any] | None = None
    next_row = start + 1.0
    with _engine_run():
        try:
            while not _EXITING.is_set() and (duration is None or runner.now - start < duration):
                runner.run(runner.now + 0.1)
                st = runner.stats()
                now = runner.now
                if now >= next_row:
                    iv = runner.take_interval()
                    res.series.append(_row(now - start, st, prev, iv, "answer"))
                    prev = st
                    next_row += 1.0
                show.show(
                    f"{now - start:5.1f}s  incoming {st['in_calls']}  up {st['in_up']}  "
                    f"completed {st['in_completed']}  at most {st['in_max_up']} at once"
                )
                ended = st["in_completed"] + st["in_failed"] + st["in_cancelled"]
                if calls is not None and ended >= calls:
                    break
        except KeyboardInterrupt:
            pass
    st = runner.stats()
    res.series.append(_row(runner.now - start, st, prev, runner.take_interval(), "answer"))
    _fill(res, st)
    res.seconds = runner.now - start
    show.end()
    return res


def save_json(path: Path, result: LoadResult | dict[str, Any]) -> None:
    data = result.to_json() if isinstance(result, LoadResult) else result
    path.write_text(json.dumps(data, indent=2) + "\n")


# --- the asyncio user agent (TCP) --------------------------------------------------------------


async def place_calls(
    target: str,
    *,
    rate: float,
    duration: float,
    concurrency: int = 10000,
    hold: float = 0.0,
    transport: Transport = "udp",
    host: str = "127.0.0.1",
    port: int = 0,
    dest: tuple[str, int] | None = None,
    t1: float = 0.5,
    progress: TextIO | None = None,
    give_up: float | None = None,
) -> LoadResult:
    """Places ``rate`` calls per second to ``target`` for ``duration`` seconds through the
    asyncio :class:`~sipwire.ua.UserAgent` (any transport; about 1,500 calls/s at most on
    one core: use :func:`run` for UDP). With ``give_up``, raises :class:`TargetUnreachable`
    when every call so far failed to reach the target, or none got any answer within
    ``give_up`` seconds."""
    if rate <= 0 or duration <= 0 or concurrency <= 0:
        raise ValueError("rate, duration and concurrency must be positive")
    res = LoadResult(target=target, rate=rate, duration=duration)
    up = 0
    show = Progress(progress, every=1.0)
    loop = asyncio.get_running_loop()

    async def one(ua: UserAgent) -> None:
        nonlocal up
        t0 = loop.time()
        up += 1
        res.max_concurrent = max(res.max_concurrent, up)
        try:
            call = await ua.invite(target, dest=dest)
            res.answered += 1
            res.setup_samples.append((loop.time() - t0) * 1000)
            if hold > 0:
                await asyncio.sleep(hold)
            await call.hangup()
            res.completed += 1
        except CallFailed as e:
            res.failed += 1
            res.failures[(e.status, e.reason)] += 1
        except SipTimeout:
            res.failed += 1
            res.failures[(408, "no final response")] += 1
        except TransportFailed:
            res.failed += 1
            res.unreachable += 1
            res.failures[(0, "unreachable")] += 1
        except SipwireError:
            # This side's limits (a full transaction table).
            res.failed += 1
            res.failures[(503, "this side's tables are full")] += 1
        finally:
            up -= 1

    room = max(16384, int(rate * 64 * t1 * 4))
    async with UserAgent(
        transport=transport, host=host, port=port, t1=t1, max_transactions=room, max_dialogs=room
    ) as ua:
        start = loop.time()
        tasks: set[asyncio.Task[None]] = set()
        n = 0
        while True:
            now = loop.time()
            if now - start >= duration:
                break
            due = int((now - start) * rate) + 1
            while n < due:
                n += 1
                res.attempted += 1
                if up >= concurrency:
                    res.refused += 1
                    continue
                t = asyncio.ensure_future(one(ua))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
            show.show(
                f"{now - start:5.1f}s  attempted {res.attempted}  up {up}  "
                f"completed {res.completed}  failed {res.failed}"
            )
            if give_up is not None and res.answered == 0:
                if res.unreachable and res.unreachable == res.failed:
                    for t in tasks:
                        t.cancel()
                    raise TargetUnreachable(
                        f"nothing is listening at {target} (the connection was refused)"
                    )
                if now - start >= give_up and res.failed == 0:
                    for t in tasks:
                        t.cancel()
                    raise TargetUnreachable(
                        f"{target} answered no call within {give_up:g} s: is it running?"
                    )
            await asyncio.sleep(min(0.01, 1 / rate))
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=64 * t1 + hold + 5)
            res.unfinished = len(pending)
            for t in pending:
                t.cancel()
        res.seconds = loop.time() - start
        show.show(f"done: completed {res.completed}, failed {res.failed}", force=True)
        show.end()
    _samples(res)
    return res


def _samples(res: LoadResult) -> None:
    s = res.setup_samples
    res.setup_ms = {
        "p50": _percentile(s, 50),
        "p95": _percentile(s, 95),
        "p99": _percentile(s, 99),
        "p99.9": _percentile(s, 99.9),
        "max": max(s) if s else None,
        "mean": sum(s) / len(s) if s else None,
        "count": len(s),
    }


async def answer_calls(
    *,
    port: int = 5060,
    host: str = "127.0.0.1",
    transport: Transport = "udp",
    duration: float | None = None,
    calls: int | None = None,
    ready: asyncio.Future[tuple[str, int]] | None = None,
    progress: TextIO | None = None,
) -> LoadResult:
    """Answers every incoming call with 200 through the asyncio user agent until
    ``duration`` seconds or ``calls`` calls (any transport; :func:`answer` for UDP)."""
    res = LoadResult(role="answer")
    show = Progress(progress, every=1.0)
    loop = asyncio.get_running_loop()
    up = 0
    async with UserAgent(transport=transport, host=host, port=port) as ua:
        if ready is not None:
            ready.set_result(ua.local_address)
        start = loop.time()
        tasks: set[asyncio.Task[None]] = set()

        async def one(inc: Any) -> None:
            nonlocal up
            up += 1
            res.max_concurrent = max(res.max_concurrent, up)
            try:
                call = await inc.answer()
                res.answered += 1
                await call.wait_ended()
                res.completed += 1
            except CallFailed as e:
                res.failed += 1
                res.failures[(e.status, e.reason)] += 1
            except Exception as e:  # a bad call must not stop the answering
                res.failed += 1
                res.failures[(0, type(e).__name__)] += 1
            finally:
                up -= 1

        async def serve() -> None:
            async for inc in ua.incoming():
                res.attempted += 1
                t = asyncio.ensure_future(one(inc))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
                show.show(f"{loop.time() - start:5.1f}s  answered {res.answered}  up {up}")
                if calls is not None and res.attempted >= calls:
                    break
            if tasks:
                await asyncio.wait(tasks, timeout=40)

        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(serve(), duration)
        res.seconds = loop.time() - start
    _samples(res)
    return res
