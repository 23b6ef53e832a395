"""A call's ladder diagram: the hosts it crossed as columns, its messages as arrows in time
order, the SDP each offer and answer carried, and the RTP streams and DTMF digits it set up.

:func:`build` makes the model from rows of the ``analyze`` tables (:func:`rows`); the terminal
(:func:`render_text`) and the HTML report (:func:`render_svg`) draw the same model.
"""

from __future__ import annotations

import bisect
import html
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sipwire.tools._text import Style, clean, reason, seconds, shorten, uri_short

Row = dict[str, Any]
#: Seconds within which the same message on the same hop is one frame captured twice (the
#: correlator's window, txn.rs ``Recent``), not a retransmission.
COPY_WINDOW_S = 0.02


def rows(table: Any) -> list[Row]:
    """A (small) Arrow table as dicts, timestamps as float seconds since the epoch: Python's
    datetime would drop the nanoseconds and cost more."""
    import pyarrow as pa

    if not table.num_rows:
        return []
    # Integers before `to_pylist`: without pandas, pyarrow refuses a nanosecond timestamp
    # that is not a whole microsecond (a capture written with nanosecond times).
    stamps = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
    for name in stamps:
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, table.column(i).cast(pa.int64()))
    out: list[Row] = table.to_pylist()
    for r in out:
        for name in stamps:
            v = r[name]
            r[name] = None if v is None else v / 1e9
    return out


@dataclass
class Host:
    """A column: a SIP address (ip:port), or a media address seen only in RTP (ip)."""

    ip: str
    port: int | None

    @property
    def label(self) -> str:
        if self.port is None:
            return clean(self.ip)
        if ":" in self.ip:
            return f"[{clean(self.ip)}]:{self.port}"
        return f"{clean(self.ip)}:{self.port}"


@dataclass
class Step:
    """One row of the ladder: a SIP message, an RTP stream's start or a DTMF digit."""

    kind: str  # "sip", "rtp" or "dtmf"
    time: float
    src: int
    dst: int
    label: str
    notes: list[str] = field(default_factory=list)
    method: str | None = None
    status: int | None = None
    retransmission: bool = False
    # The frame captured twice (within COPY_WINDOW_S of the one drawn before it).
    copy: bool = False
    frame: int | None = None
    raw: bytes | None = None
    parse_error: str | None = None


@dataclass
class Ladder:
    call_id: str
    call: Row | None
    hosts: list[Host]
    steps: list[Step]
    t0: float
    media: list[Row]
    streams: list[Row]
    dtmf: list[Row]
    # (k, n): the k-th of n calls that used this Call-ID (see :func:`split`).
    part: tuple[int, int] = (1, 1)

    def title(self) -> str:
        return f"{'Call' if self.call is not None else 'Call-ID'} {clean(self.call_id)}"

    def facts(self) -> list[str]:
        """The call's row in a few phrases (already escaped)."""
        c = self.call
        if c is None:
            # A registration, an OPTIONS ping, a subscription...: its messages, no call.
            methods = sorted({s.method for s in self.steps if s.kind == "sip" and s.method})
            n = sum(1 for s in self.steps if s.kind == "sip")
            what = "/".join(clean(m) for m in methods[:4]) or "responses only"
            return [f"not a call ({what}): {n} message{'' if n == 1 else 's'}"]
        out = []
        outcome = clean(c.get("outcome") or "?")
        status = c.get("final_status")
        out.append(f"{outcome} ({status} {reason(status)})".strip() if status else outcome)
        if c.get("caller") or c.get("callee"):
            out.append(f"{uri_short(c.get('caller'))} → {uri_short(c.get('callee'))}")
        if c.get("invite_time") is not None:
            out.append(f"INVITE at {clock(c['invite_time'])}")
        if c.get("post_dial_delay") is not None:
            out.append(f"post-dial delay {seconds(c['post_dial_delay'])}")
        if c.get("time_to_answer") is not None:
            out.append(f"answered after {seconds(c['time_to_answer'])}")
        if c.get("duration") is not None:
            out.append(f"talked {seconds(c['duration'])}")
        extra = []
        if (c.get("invites") or 0) > 1:
            extra.append(f"{c['invites']} INVITEs")
        if (c.get("dialogs") or 0) > 1:
            extra.append(f"{c['dialogs']} dialogs")
        if c.get("retransmissions"):
            extra.append(f"{c['retransmissions']} retransmissions")
        out.extend(extra)
        k, n = self.part
        if n > 1:
            out.append(f"call {k} of {n} with this Call-ID")
        return out


def _start(call: Row) -> float:
    for k in ("first_time", "invite_time"):
        if call.get(k) is not None:
            return float(call[k])
    return float("-inf")


def split(
    calls: list[Row],
    messages: list[Row],
    media: list[Row],
    streams: list[Row],
    dtmf: list[Row],
) -> list[tuple[Row, list[Row], list[Row], list[Row], list[Row]]]:
    """The rows of one Call-ID shared out among the calls that used it, in the order of their
    first message: a device may reuse a Call-ID for its next call (with a new From tag), and
    ``analyze`` gives each its own call row. Each row goes to the last call started by its
    time (media by its offer, a stream by its first packet); a message whose From or To tag
    is the caller's tag of exactly one of the calls goes to that call, wherever its time falls
    (a straggler of the old call seen after the new one began)."""
    order = sorted(calls, key=_start)
    if len(order) <= 1:
        return [(c, messages, media, streams, dtmf) for c in order]
    starts = [_start(c) for c in order]

    def by_time(t: object) -> int:
        if not isinstance(t, (int, float)):
            return 0
        return max(0, bisect.bisect_right(starts, float(t)) - 1)

    def share(rs: list[Row], key: str) -> list[list[Row]]:
        out: list[list[Row]] = [[] for _ in order]
        for r in rs:
            out[by_time(r.get(key))].append(r)
        return out

    # The caller's tag of each call: the From tag of its initial INVITEs (no To tag).
    owner: dict[str, int | None] = {}
    for m in messages:
        tag = m.get("from_tag")
        if m.get("method") == "INVITE" and m.get("to_tag") is None and tag:
            i = by_time(m.get("time"))
            owner[tag] = i if owner.get(tag, i) == i else None
    msgs: list[list[Row]] = [[] for _ in order]
    for m in messages:
        mine = {j for k in ("from_tag", "to_tag") if (j := owner.get(m.get(k) or "")) is not None}
        msgs[mine.pop() if len(mine) == 1 else by_time(m.get("time"))].append(m)
    parts = zip(
        order,
        msgs,
        share(media, "offer_time"),
        share(streams, "first_time"),
        share(dtmf, "time"),
    )
    return list(parts)


def clock(t: float) -> str:
    """A UTC wall-clock time with milliseconds."""
    d = datetime.fromtimestamp(t, tz=timezone.utc)
    return d.strftime("%Y-%m-%d %H:%M:%S.") + f"{d.microsecond // 1000:03d} UTC"


def _us(t: float | None) -> int | None:
    return None if t is None else round(t * 1e6)


def _addr(ip: object, port: object) -> str:
    if ip is None:
        return "?"
    s = clean(ip)
    if ":" in s:
        s = f"[{s}]"
    return f"{s}:{port}" if port is not None else s


def _sdp_note(side: str, m: Row) -> str:
    ip, port, direction = m.get(f"{side}_ip"), m.get(f"{side}_port"), m.get(f"{side}_direction")
    # An answer in a provisional response (early media, RFC 3960) says so.
    early = "early " if side == "answer" and m.get("early") else ""
    parts = [f"SDP {early}{side}", clean(m.get("kind") or "media"), _addr(ip, port)]
    if direction:
        d = clean(direction)
        if side == "offer" and d in ("sendonly", "inactive"):
            d += " (hold)"
        parts.append(d)
    if side == "offer" and m.get("payload_types"):
        parts.append("PT " + " ".join(str(p) for p in m["payload_types"]))
    if side == "answer" and m.get("codec"):
        parts.append(clean(m["codec"]))
    return " ".join(parts)


def stream_note(s: Row) -> str:
    """An RTP stream's quality in one line: packets, loss, jitter, length."""
    packets = int(s.get("packets") or 0)
    expected = int(s.get("expected") or packets)
    lost = int(s.get("lost") or 0)
    parts = [f"{packets} pkts"]
    if expected > 0:
        parts.append(f"{lost} lost ({100.0 * max(lost, 0) / expected:.1f}%)")
    if s.get("mean_jitter_ms") is not None:
        parts.append(
            f"jitter {s['mean_jitter_ms']:.1f} ms mean, {s.get('max_jitter_ms') or 0:.1f} max"
        )
    if s.get("first_time") is not None and s.get("last_time") is not None:
        parts.append(seconds(s["last_time"] - s["first_time"]))
    if s.get("problem"):
        parts.append("sequence problems")
    return ", ".join(parts)


def build(
    call_id: str,
    messages: list[Row],
    call: Row | None = None,
    media: list[Row] | None = None,
    streams: list[Row] | None = None,
    dtmf: list[Row] | None = None,
) -> Ladder:
    """The ladder of one call from its rows (times as float seconds, see :func:`rows`)."""
    media = media or []
    streams = streams or []
    dtmf = dtmf or []
    msgs = sorted(messages, key=lambda r: (r["time"], r.get("frame") or 0))
    hosts: list[Host] = []
    index: dict[tuple[str, int | None], int] = {}

    def host(ip: str, port: int | None) -> int:
        key = (ip, port)
        if key not in index:
            index[key] = len(hosts)
            hosts.append(Host(ip, port))
        return index[key]

    def media_host(ip: str | None) -> int:
        # RTP goes between media addresses: draw it at the SIP host on the same IP, if any.
        for i, h in enumerate(hosts):
            if h.ip == ip:
                return i
        return host(ip or "?", None)

    steps: list[Step] = []
    seen: dict[tuple[Any, ...], float] = {}
    by_time: dict[int | None, list[Step]] = {}
    for m in msgs:
        src = host(m["src_ip"], m["src_port"])
        dst = host(m["dst_ip"], m["dst_port"])
        status = m.get("status")
        method = m.get("method")
        if status:
            label = f"{status} {reason(status)}".strip()
        else:
            label = clean(method or "?")
        # A copy of a message already drawn between the same hosts is a retransmission, or
        # the same frame captured twice when it comes within COPY_WINDOW_S (as the
        # correlator tells them).
        key = (
            src,
            dst,
            method,
            status,
            m.get("cseq"),
            m.get("cseq_method"),
            m.get("branch"),
            m.get("to_tag"),
        )
        before = seen.get(key)
        copy = before is not None and abs(m["time"] - before) < COPY_WINDOW_S
        retrans = before is not None and not copy
        seen[key] = m["time"]
        step = Step(
            "sip",
            m["time"],
            src,
            dst,
            label,
            method=method,
            status=status,
            retransmission=retrans,
            copy=copy,
            frame=m.get("frame"),
            raw=m.get("raw"),
            parse_error=m.get("parse_error"),
        )
        if m.get("parse_error"):
            step.notes.append(f"parse error: {clean(m['parse_error'])}")
        steps.append(step)
        by_time.setdefault(_us(m["time"]), []).append(step)

    def attach(t: float | None, note: str, want_request: bool | None) -> None:
        cands = by_time.get(_us(t), [])
        pick = [s for s in cands if want_request is None or (s.method is not None) == want_request]
        for target in (pick or cands)[:1]:
            if note not in target.notes:
                target.notes.append(note)

    for md in media:
        attach(md.get("offer_time"), _sdp_note("offer", md), None)
        attach(md.get("answer_time"), _sdp_note("answer", md), None)

    for s in streams:
        if s.get("first_time") is None:
            continue
        src = media_host(s.get("src_ip"))
        dst = media_host(s.get("dst_ip"))
        codec = clean(s.get("codec") or f"PT {s.get('payload_type')}")
        steps.append(
            Step(
                "rtp",
                s["first_time"],
                src,
                dst,
                f"RTP {codec}",
                notes=[
                    f"{_addr(s.get('src_ip'), s.get('src_port'))} → "
                    f"{_addr(s.get('dst_ip'), s.get('dst_port'))}: {stream_note(s)}"
                ],
            )
        )
    for d in dtmf:
        if d.get("time") is None:
            continue
        note = []
        if d.get("duration_ms") is not None:
            note.append(f"{d['duration_ms']:.0f} ms")
        if d.get("source") == "info":
            # A digit sent in an INFO: a note on that INFO's arrow (its earliest copy).
            info = (
                host(d.get("src_ip") or "?", d.get("src_port")),
                host(d.get("dst_ip") or "?", d.get("dst_port")),
            )
            at = next(
                (
                    s
                    for s in steps
                    if s.kind == "sip"
                    and s.method == "INFO"
                    and (s.src, s.dst) == info
                    and abs(s.time - d["time"]) < 2e-6
                ),
                None,
            )
            if at is not None:
                digit = clean(d.get("digit") or d.get("event"))
                at.notes.append(", ".join([f"DTMF {digit}", *note]))
                continue
        src = media_host(d.get("src_ip"))
        dst = media_host(d.get("dst_ip"))
        if d.get("end_seen") is False:
            note.append("no end packet")
        steps.append(
            Step(
                "dtmf",
                d["time"],
                src,
                dst,
                f"DTMF {clean(d.get('digit') or d.get('event'))}",
                notes=[", ".join(note)] if note else [],
            )
        )
    order = {"sip": 0, "rtp": 1, "dtmf": 2}
    steps.sort(key=lambda s: (s.time, order[s.kind]))
    times = [s.time for s in steps]
    if call is not None and call.get("invite_time") is not None:
        times.append(call["invite_time"])
    t0 = min(times) if times else 0.0
    return Ladder(call_id, call, hosts, steps, t0, media, streams, dtmf)


# --- the terminal ----------------------------------------------------------------------------


@dataclass
class _Glyphs:
    life: str
    line: str
    cross: str
    right: str
    left: str
    dash: str

    @staticmethod
    def pick(unicode: bool) -> _Glyphs:
        if unicode:
            return _Glyphs("│", "─", "┼", "►", "◄", "╌")
        return _Glyphs("|", "-", "+", ">", "<", ".")


def _mark(step: Step, retransmission: str, copy: str) -> str:
    return retransmission if step.retransmission else copy if step.copy else ""


def _style_label(step: Step, text: str, st: Style) -> str:
    if step.kind != "sip":
        return st.magenta(text)
    if step.retransmission or step.copy:
        return st.dim(text)
    if step.status is not None:
        return st.status(step.status, text)
    return st.bold(st.cyan(text))


def render_text(
    ladder: Ladder, width: int = 100, unicode: bool = True, style: Style | None = None
) -> str:
    """The ladder for a terminal ``width`` columns wide; every text from the capture is
    escaped (:func:`clean`)."""
    st = style or Style(False)
    g = _Glyphs.pick(unicode)
    width = max(width, 40)
    n = max(1, len(ladder.hosts))
    span = max((s.time - ladder.t0 for s in ladder.steps), default=0.0)
    timew = max(6, len(f"{span:.3f}"))
    left = timew + 2
    lane = max(10, min(36, (width - left) // n))
    half = lane // 2
    # The first column needs only room for its label's left half.
    first = len(ladder.hosts[0].label) if ladder.hosts else 0
    x0 = left + min(half, first // 2 + 1)
    xs = [x0 + i * lane for i in range(n)]
    right_notes = xs[-1] + 3
    notes_right = width - right_notes >= 30

    out: list[str] = []
    out.append(st.bold(ladder.title()))
    facts = ladder.facts()
    line = ""
    for f in facts:
        piece = f if not line else f" · {f}"
        if len(line) + len(piece) > width and line:
            out.append(line)
            line = f
        else:
            line += piece
    if line:
        out.append(line)
    out.append("")

    def blank() -> list[str]:
        row = [" "] * (xs[-1] + 1)
        for x in xs:
            row[x] = g.life
        return row

    header = [" "] * (xs[-1] + half + 1)
    for x, h in zip(xs, ladder.hosts):
        lab = shorten(h.label, lane - 1)
        start = max(0, x - len(lab) // 2)
        header[start : start + len(lab)] = list(lab)
    head = "".join(header).rstrip()
    out.append(" " * 0 + st.bold(head[:left].replace(" ", " ")) + st.bold(head[left:]))
    out.append((" " * left + "".join(blank()[left:])).rstrip())

    for step in ladder.steps:
        row = blank()
        a, b = xs[step.src], xs[step.dst]
        lo, hi = min(a, b), max(a, b)
        fill = g.line if step.kind == "sip" else g.dash
        for x in range(lo + 1, hi):
            row[x] = g.cross if (x in xs and step.kind == "sip") else fill
        label = step.label + _mark(step, " (retransmission)", " (copy)")
        seg: tuple[int, int] | None = None
        if a == b:
            label = f"{label} (to itself)"
        else:
            row[hi - 1 if b > a else lo + 1] = g.right if b > a else g.left
            room = hi - lo - 5
            text = shorten(f" {label} ", max(0, room))
            if text:
                start = lo + 2 if b > a else hi - 2 - len(text)
                if b < a:
                    start = max(lo + 2, start)
                row[start : start + len(text)] = list(text)
                seg = (start, start + len(text))
        t = f"{step.time - ladder.t0:.3f}".rjust(timew)
        body = "".join(row)
        if seg is not None:
            body = body[: seg[0]] + _style_label(step, body[seg[0] : seg[1]], st) + body[seg[1] :]
        elif a == b:
            body += "  " + _style_label(step, label, st)
        # Notes wrap in the room they have (right of the last column, or under the arrow).
        room = width - right_notes - 2 if notes_right else width - lo - 2
        notes = [ln for n in step.notes for ln in textwrap.wrap(n, max(room, 10))]
        first_note = ""
        if notes_right and notes:
            first_note = "  " + st.dim(shorten(notes.pop(0), room))
        out.append(f"{st.dim(t)}  {body[left:]}{first_note}".rstrip())
        for note in notes:
            nrow = blank()
            if notes_right:
                text_line = "".join(nrow[left:]) + "  " + st.dim(shorten(note, room))
                out.append((" " * left + text_line).rstrip())
            else:
                start = lo + 2
                text = shorten(note, width - start)
                plain = "".join(nrow)
                line_s = plain[:start] + st.dim(text) + plain[start + len(text) :]
                out.append((" " * left + line_s[left:]).rstrip())
    text = "\n".join(out) + "\n"
    if not unicode:  # a terminal that cannot show UTF-8: our glyphs in ASCII, the rest escaped
        for glyph, ascii_glyph in (("→", ">"), ("·", "|"), ("…", "~")):
            text = text.replace(glyph, ascii_glyph)
        text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text


# --- SVG, for the HTML report -----------------------------------------------------------------

_LANE = 170
_ROW = 30
_NOTE = 15
_LEFT = 64
_TOP = 46


def _e(s: object) -> str:
    return html.escape(clean(s), quote=True)


def _svg_class(step: Step) -> str:
    if step.kind != "sip":
        return f"l-{step.kind}"
    if step.retransmission or step.copy:
        return "l-retr"
    if step.status is None:
        return "l-req"
    if step.status < 200:
        return "l-prov"
    if step.status < 300:
        return "l-ok"
    if step.status < 400:
        return "l-redir"
    return "l-fail"


def render_svg(ladder: Ladder, notes_width: int = 420) -> str:
    """The ladder as an inline SVG (no ids, no external references): colours come from the
    report's CSS classes (``l-req``, ``l-ok``, ``l-fail`` ...). Each SIP arrow carries
    ``data-step`` (its index) so the page can show that message's text."""
    n = max(1, len(ladder.hosts))
    xs = [_LEFT + _LANE // 2 + i * _LANE for i in range(n)]
    notes_x = xs[-1] + 24
    w = notes_x + notes_width
    ys: list[int] = []
    y = _TOP + 20
    for s in ladder.steps:
        ys.append(y)
        y += _ROW + max(0, len(s.notes) - 1) * _NOTE
    h = y + 10
    p: list[str] = [
        f'<svg class="ladder" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" '
        f'width="{w}" height="{h}" role="img" '
        f'aria-label="ladder diagram of call {_e(ladder.call_id)}">'
    ]
    for x, host in zip(xs, ladder.hosts):
        p.append(
            f'<rect class="l-host" x="{x - _LANE // 2 + 8}" y="6" width="{_LANE - 16}" '
            f'height="26" rx="6"/>'
            f'<text class="l-hostt" x="{x}" y="23" text-anchor="middle">'
            f"{_e(shorten(host.label, 24))}</text>"
            f'<line class="l-life" x1="{x}" y1="32" x2="{x}" y2="{h - 6}"/>'
        )
    for i, (s, y) in enumerate(zip(ladder.steps, ys)):
        a, b = xs[s.src], xs[s.dst]
        cls = _svg_class(s)
        t = f"+{s.time - ladder.t0:.3f}"
        p.append(f'<g class="l-step {cls}" data-step="{i}" data-kind="{s.kind}">')
        tip_notes = _e(" — " + "; ".join(s.notes)) if s.notes else ""
        p.append(f"<title>{_e(s.label)} at {t} s{tip_notes}</title>")
        p.append(f'<text class="l-time" x="{_LEFT - 10}" y="{y + 4}" text-anchor="end">{t}</text>')
        if a == b:
            p.append(
                f'<path class="l-arrow" d="M{a} {y - 6} h28 v12 h-26" fill="none"/>'
                f'<text class="l-label" x="{a + 34}" y="{y + 4}">{_e(s.label)}</text>'
            )
        else:
            d = 1 if b > a else -1
            tip = b - d * 2
            dash = ' stroke-dasharray="5 4"' if s.kind != "sip" else ""
            p.append(f'<line class="l-arrow" x1="{a}" y1="{y}" x2="{tip - d * 8}" y2="{y}"{dash}/>')
            p.append(
                f'<polygon class="l-head" points="{tip},{y} {tip - d * 10},{y - 5} '
                f'{tip - d * 10},{y + 5}"/>'
            )
            mid = (a + b) / 2
            label = s.label + _mark(s, " (retr.)", " (copy)")
            p.append(
                f'<text class="l-label" x="{mid:.0f}" y="{y - 6}" text-anchor="middle">'
                f"{_e(shorten(label, max(8, abs(b - a) // 7)))}</text>"
            )
        # A wide hit area: a 1 px line is hard to click.
        lo, hi = min(a, b), max(a, b) + (40 if a == b else 0)
        p.append(
            f'<rect class="l-hit" x="{lo}" y="{y - 18}" width="{hi - lo}" height="24" '
            f'fill="transparent"/>'
        )
        for k, note in enumerate(s.notes):
            p.append(
                f'<text class="l-note" x="{notes_x}" y="{y + 4 + k * _NOTE}">'
                f"{_e(shorten(note, notes_width // 6))}</text>"
            )
        p.append("</g>")
    p.append("</svg>")
    return "".join(p)
