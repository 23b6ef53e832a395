"""The ``sipwire`` command.

``sipwire parse FILE`` (``-`` for stdin) prints a message's structure, or the error with its
position, and exits 1 on error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO, Union

from sipwire._sipwire import (
    NameAddr,
    ParseError,
    Request,
    Response,
    Uri,
    Via,
    parse,
)

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


def _print_text(msg: Message, out: TextIO) -> None:
    s = structure(msg)
    w = out.write
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


def _print_error(e: ParseError, data: bytes, name: str, out: TextIO) -> None:
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
    try:
        msg = parse(data, strict=not args.lenient, validate=True)
    except ParseError as e:
        _print_error(e, data, name, sys.stderr)
        return 1
    if args.json:
        json.dump(structure(msg), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _print_text(msg, sys.stdout)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="sipwire", description="SIP toolkit: parse and inspect messages."
    )
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
    args = p.parse_args(argv)
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
