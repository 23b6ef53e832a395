"""The ``sipwire`` command.

``sipwire parse FILE`` (``-`` for stdin) prints a message's structure, or the error with its
position, and exits 1 on error.

``sipwire fuzz TARGET`` runs a fuzz campaign against a SIP server (see
:mod:`sipwire.campaign`); ``sipwire fuzz --replay FILE TARGET`` sends saved inputs again.
Both exit 0 when the target kept answering, 1 when it did not (finds saved), 2 on usage errors.

``sipwire load call TARGET --rate R --duration S`` places calls at a fixed rate and reports
what failed; ``sipwire load answer --port P`` answers calls (see :mod:`sipwire.load`).

``sipwire analyze CAPTURE...`` turns captures into calls: a summary, ``--call`` ladders,
``--out`` tables, an ``--html`` report (see :mod:`sipwire.tools.analyze`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, Union

from sipwire._sipwire import (
    NameAddr,
    ParseError,
    Request,
    Response,
    Uri,
    Via,
    __version__,
    _capture_kind,
    parse,
)

if TYPE_CHECKING:
    from sipwire import campaign
    from sipwire.load import LoadResult

Message = Union[Request, Response]


def _uri(u: Uri | None) -> dict[str, Any] | None:
    if u is None:
        return None
    return {
        "uri": str(u),
        "scheme": u.scheme,
        "user": u.user,
        "host": u.host,
        "port": u.port,
        "params": u.params,
        "headers": u.headers,
    }


def _name_addr(n: NameAddr | None) -> dict[str, Any] | None:
    if n is None:
        return None
    return {
        "display_name": n.display_name,
        "uri": _uri(n.uri),
        "tag": n.tag,
        "params": n.params,
    }


def _via(v: Via) -> dict[str, Any]:
    return {
        "transport": v.transport,
        "host": v.host,
        "port": v.port,
        "branch": v.branch,
        "received": v.received,
        "rport": v.rport,
        "params": v.params,
    }


def structure(msg: Message) -> dict[str, Any]:
    """The message as plain data (what ``sipwire parse --json`` prints)."""
    out: dict[str, Any] = {}
    if isinstance(msg, Request):
        out["type"] = "request"
        out["method"] = msg.method
        out["uri"] = _uri(msg.uri)
    else:
        out["type"] = "response"
        out["status"] = msg.status
        out["reason"] = msg.reason
    cseq = msg.cseq
    out.update(
        {
            "call_id": msg.call_id,
            "cseq": None if cseq is None else {"seq": cseq.seq, "method": cseq.method},
            "from": _name_addr(msg.from_),
            "to": _name_addr(msg.to),
            "via": [_via(v) for v in msg.via],
            "contact": [_name_addr(c) for c in msg.contact],
            "max_forwards": msg.max_forwards,
            "content_type": msg.content_type,
            "content_length": msg.content_length,
            "headers": [[n, v] for n, v in msg.headers],
            "body_length": len(msg.body),
            "diagnostics": [
                {"kind": d.kind, "offset": d.offset, "line": d.line, "header": d.header}
                for d in msg.diagnostics
            ],
        }
    )
    return out


def _safe(text: str, *, json_escape: bool = False) -> str:
    """Text from a message, safe for a terminal: control characters (C0 but newline, DEL,
    C1) are written as escapes, so a hostile message cannot retitle the window or clear the
    screen."""
    out = []
    for c in text:
        o = ord(c)
        if (o < 0x20 and c != "\n") or 0x7F <= o <= 0x9F:
            out.append(f"\\u{o:04x}" if json_escape else f"\\x{o:02x}")
        else:
            out.append(c)
    return "".join(out)


class _Escaped:
    """A text stream that writes everything through :func:`_safe`."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, text: str) -> int:
        return self.out.write(_safe(text))


def _print_text(msg: Message, out: TextIO) -> None:
    s = structure(msg)
    w = _Escaped(out).write
    if s["type"] == "request":
        w(f"{s['method']} request to {s['uri']['uri']}\n")
    else:
        w(f"{s['status']} {s['reason']} response\n")
    w(f"  Call-ID:  {s['call_id']}\n")
    if s["cseq"]:
        w(f"  CSeq:     {s['cseq']['seq']} {s['cseq']['method']}\n")
    for key in ("from", "to"):
        na = s[key]
        if na:
            dn = f'"{na["display_name"]}" ' if na["display_name"] else ""
            tag = f" tag={na['tag']}" if na["tag"] else ""
            w(f"  {key.capitalize():<9} {dn}{na['uri']['uri']}{tag}\n")
    for i, v in enumerate(s["via"]):
        port = f":{v['port']}" if v["port"] else ""
        w(f"  Via[{i}]:   {v['transport']} {v['host']}{port} branch={v['branch']}\n")
    for c in s["contact"]:
        w(f"  Contact:  {c['uri']['uri'] if c['uri'] else '*'}\n")
    if s["max_forwards"] is not None:
        w(f"  Max-Forwards: {s['max_forwards']}\n")
    w(f"  Headers ({len(s['headers'])}):\n")
    for n, v in s["headers"]:
        w(f"    {n}: {v}\n")
    ct = f" ({s['content_type']})" if s["content_type"] else ""
    w(f"  Body: {s['body_length']} bytes{ct}\n")
    if s["diagnostics"]:
        w("  Diagnostics:\n")
        for d in s["diagnostics"]:
            where = f", header {d['header']}" if d["header"] else ""
            w(f"    {d['kind']} at byte {d['offset']} (line {d['line']}{where})\n")


def _print_error(e: ParseError, data: bytes, name: str, stream: TextIO) -> None:
    out = _Escaped(stream)
    where = f", header {e.header}" if e.header else ""
    out.write(f"{name}:{e.line}:{e.column}: error [{e.kind}] at byte {e.offset}{where}\n")
    out.write(f"  {e}\n")
    lines = data.split(b"\n")
    if 1 <= e.line <= len(lines):
        text = lines[e.line - 1].rstrip(b"\r").decode("utf-8", "replace")
        shown = text[:160]
        out.write(f"  {shown}\n  {' ' * max(0, min(e.column - 1, len(shown)))}^\n")


def _cmd_parse(args: argparse.Namespace) -> int:
    if args.file == "-":
        data = sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        try:
            with open(args.file, "rb") as f:
                data = f.read()
        except OSError as e:
            sys.stderr.write(f"sipwire: cannot read {args.file}: {e.strerror}\n")
            return 2
        name = args.file
    kind = _capture_kind(data[:8])
    if kind is not None:
        what = (
            f"is {kind}-compressed: a compressed capture is read as it is, a compressed "
            "message needs unpacking first;"
            if kind in ("gzip", "zstd")
            else f"is a {kind} capture, not one SIP message:"
        )
        sys.stderr.write(
            f"sipwire parse: {name} {what} sipwire analyze {args.file} turns a capture into "
            "calls, and sipwire.capture.read() gives its messages as a table\n"
        )
        return 2
    try:
        msg = parse(data, strict=not args.lenient, validate=True)
    except ParseError as e:
        _print_error(e, data, name, sys.stderr)
        return 1
    if args.json:
        text = json.dumps(structure(msg), indent=2, ensure_ascii=False)
        sys.stdout.write(_safe(text, json_escape=True) + "\n")
    else:
        _print_text(msg, sys.stdout)
    return 0


def _fuzz_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fp = sub.add_parser(
        "fuzz",
        help="send valid and hostile SIP to a server, probe it, save what stops it",
        description="Sends rounds of valid dialogs and hostile variants to TARGET at a steady "
        "rate, checks with OPTIONS after each round that it still answers, and when it does "
        "not saves every message since the last answer before the suspect window (the "
        "previous round and --window-seconds), replayed, bisected and shrunk to what stops it "
        "when --restart-cmd can restart it, with the command that replays it. Every message "
        "sent is kept in a rolling record (and the whole campaign in --pcap). Targets that are "
        "not loopback or private addresses need --allow-public. "
        "Exit status: 0 the target kept answering, 1 finds saved, 2 usage error.",
    )
    fp.add_argument(
        "target", nargs="?", help="udp:HOST:PORT, tcp:HOST:PORT or HOST:PORT (UDP); IPv6 in []"
    )
    fp.add_argument("--transport", choices=["udp", "tcp"], help="for a target without prefix")
    fp.add_argument("--seed", type=int, help="the seed (default: random, printed)")
    fp.add_argument("--rate", type=float, default=100.0, help="messages per second (100)")
    fp.add_argument("--round-size", type=int, default=20, help="messages between probes (20)")
    fp.add_argument(
        "--classes",
        help="comma-separated hostile classes to use (default all; see --list-classes)",
    )
    fp.add_argument(
        "--valid-ratio", type=float, default=0.5, help="share of valid traffic, 0-1 (0.5)"
    )
    fp.add_argument("--rounds", type=int, help="stop after this many rounds")
    fp.add_argument("--count", type=int, help="stop after this many messages")
    fp.add_argument(
        "--duration", type=float, help="stop after this many seconds (60 when no bound given)"
    )
    fp.add_argument(
        "--probe-timeout", type=float, default=1.0, help="seconds to wait for an answer (1)"
    )
    fp.add_argument("--probe-tries", type=int, default=3, help="probe sends before giving up (3)")
    fp.add_argument(
        "--out", type=Path, default=Path("sipwire-finds"), help="where finds go (sipwire-finds)"
    )
    fp.add_argument(
        "--restart-cmd",
        help="shell command that starts the target again; enables minimising finds",
    )
    fp.add_argument(
        "--restart-timeout", type=float, default=10.0, help="seconds to wait for a restart (10)"
    )
    fp.add_argument(
        "--minimise-budget", type=float, default=60.0, help="seconds to shrink each find (60)"
    )
    fp.add_argument("--max-finds", type=int, help="stop after this many finds")
    fp.add_argument(
        "--bind", help="local HOST:PORT to send from (it is written in Via; fixes the bytes)"
    )
    fp.add_argument(
        "--replay",
        action="append",
        type=Path,
        metavar="FILE",
        help="send this file (or each .sip of a folder, in name order) and probe; repeatable",
    )
    fp.add_argument(
        "--dialog-classes",
        help="comma-separated in-dialog classes, or 'all': after each round, set up a call "
        "and send these inside it; an unanswered request is a find (see --list-classes)",
    )
    fp.add_argument("--flood", type=int, default=20, help="requests in a NOTIFY or INFO flood (20)")
    fp.add_argument(
        "--window-seconds",
        type=float,
        default=5.0,
        help="a find holds at least the previous round and this many seconds before the "
        "unanswered probe, for targets that die a while after the message (5)",
    )
    fp.add_argument(
        "--record-size",
        type=int,
        default=10000,
        help="messages kept in the rolling record finds are cut from (10000; 16 MiB at most)",
    )
    fp.add_argument(
        "--pcap", type=Path, help="write the whole campaign, both directions, to this pcap file"
    )
    fp.add_argument(
        "--reproduce-tries",
        type=int,
        default=2,
        help="replays of a window before the find is called flaky (2)",
    )
    fp.add_argument(
        "--linger",
        type=float,
        default=0.0,
        help="with --replay: keep probing this many seconds after the last message (0)",
    )
    fp.add_argument(
        "--allow-public",
        action="store_true",
        help="confirm that a target which is not a loopback or private address may be fuzzed "
        "(you have its owner's permission)",
    )
    fp.add_argument(
        "--list-classes", action="store_true", help="print the hostile classes and what they do"
    )
    fp.add_argument("--quiet", action="store_true", help="no progress line")
    fp.set_defaults(func=_cmd_fuzz, parser=fp)


def _cmd_fuzz(args: argparse.Namespace) -> int:
    from sipwire import campaign, mutations

    parser: argparse.ArgumentParser = args.parser
    if args.list_classes:
        width = max(map(len, [*mutations.MUTATIONS, *campaign.DIALOG_CLASSES])) + 2
        sys.stdout.write("hostile classes (--classes), each a valid message broken so:\n")
        for name in sorted(mutations.MUTATIONS):
            sys.stdout.write(f"  {name:{width}}{mutations.DESCRIPTIONS[name]}\n")
        sys.stdout.write("in-dialog classes (--dialog-classes), sent inside a call set up first:\n")
        for name in campaign.DIALOG_CLASSES:
            sys.stdout.write(f"  {name:{width}}{campaign.DIALOG_DESCRIPTIONS[name]}\n")
        return 0
    if args.target is None:
        parser.error("the target is required (udp:HOST:PORT, tcp:HOST:PORT or HOST:PORT)")
    try:
        target = campaign.Target.parse(args.target, args.transport)
        bind = None
        if args.bind is not None:
            b = campaign.Target.parse(f"udp:{args.bind}")
            bind = (b.host, b.port)
    except ValueError as e:
        parser.error(str(e))
    if not campaign.is_private(target.host):
        warning = (
            f"sipwire fuzz: WARNING: {target.host} is not a loopback or private address. "
            "Fuzzing can take down a service other people use, and is only lawful with its "
            "owner's permission.\n"
        )
        sys.stderr.write(warning)
        if not args.allow_public:
            sys.stderr.write(
                "sipwire fuzz: not sending anything; if you have that permission, confirm "
                "with --allow-public\n"
            )
            return 2
    if args.replay:
        return _replay(args, target, bind, parser)
    classes = tuple(sorted(mutations.MUTATIONS))
    if args.classes is not None:
        classes = tuple(c.strip() for c in args.classes.split(",") if c.strip())
    dialogs: tuple[str, ...] = ()
    if args.dialog_classes is not None:
        dialogs = tuple(c.strip() for c in args.dialog_classes.split(",") if c.strip())
        if dialogs == ("all",):
            dialogs = campaign.DIALOG_CLASSES
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    config = campaign.Config(
        target,
        seed=seed,
        rate=args.rate,
        round_size=args.round_size,
        classes=classes,
        valid_ratio=args.valid_ratio,
        probe_timeout=args.probe_timeout,
        probe_tries=args.probe_tries,
        rounds=args.rounds,
        count=args.count,
        duration=args.duration,
        out=args.out,
        restart=args.restart_cmd,
        restart_timeout=args.restart_timeout,
        minimise_budget=args.minimise_budget,
        max_finds=args.max_finds,
        bind=bind,
        dialog_classes=dialogs,
        flood=args.flood,
        window_seconds=args.window_seconds,
        record_messages=args.record_size,
        pcap=args.pcap,
        reproduce_tries=args.reproduce_tries,
        allow_public=args.allow_public,
    )
    try:
        run = campaign.Campaign(config, progress=None if args.quiet else sys.stderr)
    except ValueError as e:
        parser.error(str(e))
    try:
        summary = run.run()
    except campaign.TargetDown as e:
        sys.stderr.write(f"sipwire fuzz: {e}\n")
        return 2
    sys.stdout.write(summary.format())
    return summary.exit_code


def _replay(
    args: argparse.Namespace,
    target: campaign.Target,
    bind: tuple[str, int] | None,
    parser: argparse.ArgumentParser,
) -> int:
    from sipwire import campaign

    try:
        inputs = campaign.read_inputs(args.replay)
    except OSError as e:
        parser.error(f"cannot read {e.filename}: {e.strerror}")
    if not inputs:
        parser.error(f"no .sip files in {', '.join(map(str, args.replay))}")
    if not (args.rate > 0 and args.probe_timeout > 0 and args.probe_tries >= 1):
        parser.error("rate and probe timeout must be > 0, probe tries at least 1")
    try:
        result = campaign.replay(
            target,
            [data for _, data in inputs],
            rate=args.rate,
            probe_timeout=args.probe_timeout,
            probe_tries=args.probe_tries,
            bind=bind,
            linger=max(0.0, args.linger),
            allow_public=args.allow_public,
        )
    except campaign.TargetDown as e:
        sys.stderr.write(f"sipwire fuzz: {e}\n")
        return 2
    sys.stdout.write(
        f"sipwire fuzz --replay: sent {result.sent} of {len(inputs)} messages "
        f"({result.bytes_sent} bytes) to {target}; it answered OPTIONS after: "
        f"{'yes' if result.alive else 'no'}\n"
    )
    return 0 if result.alive else 1


def _positive(kind: type[float] | type[int]) -> Any:
    def conv(text: str) -> float | int:
        v = kind(text)
        if v <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        return v

    return conv


class _Defaults(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in its help, written for people: "none", "empty", "off"."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or action.default is argparse.SUPPRESS:
            return text
        if not action.option_strings or action.dest == "help":
            return text
        d = action.default
        shown = (
            "none"
            if d is None
            else "empty"
            if d == ""
            else ("off" if d is False else "on")
            if isinstance(d, bool)
            else str(d)
        )
        return f"{text} (default: {shown})"


LOAD_HELP = "load-test a SIP target with calls, or answer calls under load"


def _load_parser(sub: Any) -> None:
    from sipwire.load import SCENARIOS

    fmt = _Defaults
    lp = sub.add_parser(
        "load",
        help=LOAD_HELP,
        formatter_class=fmt,
    )
    lsub = lp.add_subparsers(dest="mode", required=True)
    scenarios = "; ".join(f"{k}: {v().description}" for k, v in SCENARIOS.items())
    c = lsub.add_parser(
        "call",
        help="place calls (or other scenarios) at a fixed rate",
        description="Places calls at a fixed rate from Rust (batched UDP) and reports "
        "completed, failed (by status and reason), retransmissions, concurrency and setup "
        "latency percentiles. Exit status: 0 every call completed, 1 some failed, 2 usage, "
        "3 nothing answered at the target. Scenarios: " + scenarios + ".",
        formatter_class=fmt,
    )
    c.add_argument("target", help="the Request-URI to call, e.g. sip:service@127.0.0.1:5060")
    c.add_argument("--scenario", choices=sorted(SCENARIOS), default="call", help="what a call does")
    c.add_argument("--rate", type=_positive(float), default=10.0, help="calls per second")
    c.add_argument(
        "--duration", type=_positive(float), default=10.0, help="seconds of placing calls"
    )
    c.add_argument(
        "--concurrency",
        type=_positive(int),
        default=65536,
        help="most calls up at once (more are refused and counted)",
    )
    c.add_argument(
        "--hold",
        type=float,
        default=0.0,
        help="seconds a call stays up (cancel: seconds of ringing before the CANCEL; "
        "hold-dtmf: spread over its pauses)",
    )
    c.add_argument(
        "--max-calls", type=_positive(int), default=None, help="stop placing after this many calls"
    )
    c.add_argument(
        "--user",
        default="sipwire",
        help="user for digest credentials and {user} in REGISTER's To/From",
    )
    c.add_argument("--password", default="", help="password for digest challenges (401/407)")
    c.add_argument(
        "--t1",
        type=_positive(float),
        default=0.5,
        help="RFC 3261 T1 in seconds (retransmission start)",
    )
    c.add_argument(
        "--give-up",
        type=float,
        default=1.0,
        help="stop when nothing at all answered this many seconds after the first request "
        "(0: never)",
    )
    c.add_argument("--json", type=Path, default=None, help="write the figures to this JSON file")
    c.add_argument(
        "--csv", type=Path, default=None, help="write a per-second time series to this CSV file"
    )
    c.add_argument(
        "--find-max",
        action="store_true",
        help="ramp the rate from --rate (times --ramp-step every --ramp-seconds) until a call "
        "fails; report the highest rate held",
    )
    c.add_argument(
        "--ramp-step", type=float, default=1.25, help="rate multiplier between --find-max rounds"
    )
    c.add_argument(
        "--ramp-seconds",
        type=_positive(float),
        default=10.0,
        help="seconds of each --find-max round",
    )
    c.add_argument(
        "--max-rate",
        type=_positive(float),
        default=100000.0,
        help="--find-max stops above this rate",
    )
    c.add_argument(
        "--transport",
        choices=["udp", "tcp"],
        default="udp",
        help="tcp goes through the asyncio user agent (the call scenario only, far lower rates)",
    )
    c.add_argument("--quiet", action="store_true", help="no progress line")
    c.set_defaults(func=_cmd_load_call)
    a = lsub.add_parser(
        "answer",
        help="answer every incoming call with 200",
        description="Answers every INVITE (200, or 180 then 200 with --ring) and every other "
        "request with 200, from Rust over UDP; reports incoming, answered, completed calls and "
        "the most calls up at once.",
        formatter_class=fmt,
    )
    a.add_argument("--port", type=int, default=5060, help="UDP port to answer on")
    a.add_argument("--host", default="127.0.0.1", help="address to answer on")
    a.add_argument(
        "--transport", choices=["udp", "tcp"], default="udp", help="tcp uses the asyncio user agent"
    )
    a.add_argument(
        "--duration",
        type=_positive(float),
        default=None,
        help="seconds to answer; none answers until ^C",
    )
    a.add_argument(
        "--calls", type=_positive(int), default=None, help="stop after this many calls ended"
    )
    a.add_argument("--ring", type=float, default=0.0, help="seconds of 180 Ringing before the 200")
    a.add_argument("--status", type=int, default=200, help="final status for INVITEs")
    a.add_argument("--json", type=Path, default=None, help="write the figures to this JSON file")
    a.add_argument(
        "--csv", type=Path, default=None, help="write a per-second time series to this CSV file"
    )
    a.add_argument("--quiet", action="store_true", help="no progress line")
    a.set_defaults(func=_cmd_load_answer)


def _cmd_load_call(args: argparse.Namespace) -> int:
    import asyncio  # only `load` runs an event loop (~30 ms of every command's start)

    from sipwire import load

    progress = None if args.quiet else sys.stderr
    if args.transport == "tcp":
        if args.scenario != "call" or args.find_max:
            sys.stderr.write("sipwire load: over tcp only the call scenario runs (no --find-max)\n")
            return 2
        try:
            res = asyncio.run(
                load.place_calls(
                    args.target,
                    rate=args.rate,
                    duration=args.duration,
                    concurrency=args.concurrency,
                    hold=args.hold,
                    transport="tcp",
                    progress=progress,
                    give_up=args.give_up if args.give_up > 0 else None,
                )
            )
        except load.TargetUnreachable as e:
            sys.stderr.write(f"sipwire load: {e}\n")
            return 3
        return _report(res, args)
    scenario = load.SCENARIOS[args.scenario](args.hold)
    kw: dict[str, Any] = dict(
        concurrency=args.concurrency,
        user=args.user,
        password=args.password,
        t1=args.t1,
        give_up=args.give_up,
    )
    try:
        if args.find_max:
            if not args.ramp_step > 1:
                sys.stderr.write("sipwire load: --ramp-step must be > 1\n")
                return 2
            best, rounds = load.find_max(
                args.target,
                scenario,
                start=args.rate,
                step=args.ramp_step,
                seconds=args.ramp_seconds,
                limit=args.max_rate,
                progress=progress or sys.stdout,
                **kw,
            )
            print(f"highest rate held with no failed call: {best:g} calls/s ({args.scenario})")
            if args.json is not None:
                load.save_json(
                    args.json,
                    {"max_rate": best, "rounds": [r.to_json() for r in rounds]},
                )
            if args.csv is not None:
                load.write_csv(args.csv, [row for r in rounds for row in r.series])
            return 0 if best > 0 else 1
        res = load.run(
            args.target,
            scenario,
            rate=args.rate,
            duration=args.duration,
            max_calls=args.max_calls,
            progress=progress,
            **kw,
        )
    except load.TargetUnreachable as e:
        sys.stderr.write(f"sipwire load: {e}\n")
        return 3
    except (ValueError, OSError) as e:
        sys.stderr.write(f"sipwire load: {e}\n")
        return 2
    return _report(res, args)


def _report(res: LoadResult, args: argparse.Namespace) -> int:
    from sipwire import load

    print(res.summary())
    if args.json is not None:
        load.save_json(args.json, res)
    if args.csv is not None:
        load.write_csv(args.csv, res.series)
    return 0 if res.clean and res.unfinished == 0 else 1


def _cmd_load_answer(args: argparse.Namespace) -> int:
    import asyncio

    from sipwire import load

    progress = None if args.quiet else sys.stderr
    if args.transport == "tcp":

        async def run() -> LoadResult:
            loop = asyncio.get_running_loop()
            ready: asyncio.Future[tuple[str, int]] = loop.create_future()
            ready.add_done_callback(lambda f: print("answering on", *f.result(), flush=True))
            return await load.answer_calls(
                port=args.port,
                host=args.host,
                transport="tcp",
                duration=args.duration,
                calls=args.calls,
                ready=ready,
                progress=progress,
            )

        try:
            res = asyncio.run(run())
        except KeyboardInterrupt:
            return 0
    else:
        try:
            res = load.answer(
                port=args.port,
                host=args.host,
                duration=args.duration,
                calls=args.calls,
                ring=args.ring,
                status=args.status,
                progress=progress,
                ready=lambda a: print("answering on", *a, flush=True),
            )
        except (ValueError, OSError) as e:
            sys.stderr.write(f"sipwire load: {e}\n")
            return 2
    print(res.summary())
    if args.json is not None:
        load.save_json(args.json, res)
    if args.csv is not None:
        load.write_csv(args.csv, res.series)
    return 0 if res.failed == 0 else 1


def _analyze_parser(sub: Any) -> None:
    # The tools package imports pyarrow only when the command runs.
    from sipwire.tools import analyze

    analyze.add_parser(sub)


def console() -> int:
    """The ``sipwire`` command and ``python -m sipwire``: :func:`main` in a process of its own,
    which lets a command skip what only an embedding program would need (``analyze`` keeps
    pyarrow from importing pandas)."""
    return main(None, own_process=True)


def main(argv: Sequence[str] | None = None, *, own_process: bool = False) -> int:
    p = argparse.ArgumentParser(
        prog="sipwire",
        description="SIP toolkit: parse and inspect messages, analyze captures, fuzz servers, "
        "load-test them.",
    )
    p.add_argument("--version", action="version", version=f"sipwire {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    pp = sub.add_parser(
        "parse", help="print the structure of a SIP message, or the error and where"
    )
    pp.add_argument("file", help="file holding one SIP message, or - for stdin")
    pp.add_argument(
        "--lenient", action="store_true", help="repair what RFC 4475 lets a liberal parser repair"
    )
    pp.add_argument("--json", action="store_true", help="print the structure as JSON")
    pp.set_defaults(func=_cmd_parse)
    _fuzz_parser(sub)
    words = list(sys.argv[1:] if argv is None else argv)
    if next((w for w in words if not w.startswith("-")), None) == "load":
        _load_parser(sub)
    else:
        # Its options name the load scenarios, which means importing the load engine and
        # the user agent (~65 ms): only when the command is `load`.
        sub.add_parser("load", help=LOAD_HELP)
    _analyze_parser(sub)
    args = p.parse_args(argv)
    args.own_process = own_process
    try:
        rc: int = args.func(args)
    except KeyboardInterrupt:
        # Ctrl-C where a command has no summary to give: no traceback, the shell's code.
        sys.stderr.write(f"sipwire {args.command}: interrupted\n")
        if threading.active_count() > 1:
            # A thread still waits on its input (a quiet pipe), and the interpreter's exit
            # would wait for it: leave now.
            for f in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    f.flush()
            os._exit(130)
        return 130
    except BrokenPipeError:
        # The reader went away (`sipwire parse f | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return rc


if __name__ == "__main__":
    raise SystemExit(console())
