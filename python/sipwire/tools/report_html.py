"""The HTML report of ``sipwire analyze --html``: one self-contained file (inline CSS, JS and
SVG; a Content-Security-Policy that forbids every fetch), so it opens offline and can be mailed.

What it shows: the capture at a glance (key figures), calls by outcome, calls started over time,
setup delay and post-dial delay over time, failures, RTP quality, a searchable and sortable
call list, and for each call (up to ``ladders``) its ladder diagram with the SDP exchanges, the
RTP streams' quality, the DTMF digits, and each message's text on click.

Everything from the capture is escaped (``html.escape`` after :func:`clean`); the JSON-free
page needs no parsing in the browser beyond the DOM.
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sipwire.tools import ladder as ladder_mod
from sipwire.tools._text import clean, count, reason, seconds, shorten, size, uri_short

if TYPE_CHECKING:
    from sipwire.tools.analyze import Result

MAX_ROWS = 20000
MAX_MESSAGE = 8000
# Above this many calls the timeline would be a smear: the call-rate plot says it better.
TIMELINE_CALLS = 300

# Outcome colours: green answered, warm colours for the caller's side, reds for failures.
COLOURS = {
    "answered": "#1f9d6a",
    "early_media": "#3b82f6",
    "busy": "#f0a020",
    "cancelled": "#8b5cf6",
    "unanswered": "#f97316",
    "rejected": "#e5484d",
    "timeout": "#d6409f",
    "failed": "#b42318",
    "in_progress": "#60a5fa",
    "partial": "#94a3b8",
}
OTHER = "#64748b"


def _asset(name: str) -> str:
    """The report's CSS or JS, kept beside this module as files of their own."""
    return (Path(__file__).parent / name).read_text(encoding="utf-8")


def _e(v: object) -> str:
    return html.escape(clean(v), quote=True)


def colour(outcome: str) -> str:
    return COLOURS.get(outcome, OTHER)


def _nice_step(span: float, most: int) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400):
        if span / step <= most:
            return float(step)
    return float(math.ceil(span / most / 86400) * 86400)


def _ticks(top: float, n: int = 4, integer: bool = False) -> list[float]:
    """Round tick values from 0 to at least ``top`` (whole numbers for counts)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    return [i * step for i in range(math.ceil(top / step) + 1)]


def _hms(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%H:%M:%S")


def _short_seconds(v: float) -> str:
    """An axis label: 1 ms, 100 ms, 1 s, 10 s."""
    if v == 0:
        return "0"
    if v < 1:
        return f"{v * 1000:g} ms"
    return f"{v:g} s"


# Plot geometry (viewBox units; the SVG scales to its card).
_W, _H, _L, _R, _T, _B = 640, 230, 52, 10, 10, 30


def _frame(label: str) -> list[str]:
    return [f'<svg class="plot" viewBox="0 0 {_W} {_H}" role="img" aria-label="{label}">']


def _x_axis(p: list[str], lo: float, span: float) -> None:
    pw = _W - _L - _R
    for i in range(5):
        x = _L + pw * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        p.append(
            f'<text class="axis" x="{x:.1f}" y="{_H - 8}" text-anchor="{anchor}">'
            f"{_hms(lo + span * i / 4)}</text>"
        )
    y = _H - _B
    p.append(f'<line class="axisline" x1="{_L}" x2="{_W - _R}" y1="{y}" y2="{y}"/>')


def call_rate_svg(calls: list[dict[str, Any]], t0: float, t1: float) -> str:
    """Calls started per interval, stacked by outcome."""
    times = [(c["invite_time"], c.get("outcome") or "unknown") for c in calls]
    times = [(t, o) for t, o in times if t is not None]
    if not times:
        return '<p class="empty">No call has an INVITE time.</p>'
    lo = min(t0, *(t for t, _ in times))
    hi = max(t1, *(t for t, _ in times))
    step = _nice_step(max(hi - lo, 1.0), 60)
    start = math.floor(lo / step) * step
    nb = max(1, math.floor((hi - start) / step) + 1)
    buckets: list[dict[str, int]] = [{} for _ in range(nb)]
    for t, o in times:
        b = buckets[min(nb - 1, int((t - start) // step))]
        b[o] = b.get(o, 0) + 1
    ticks = _ticks(max(sum(b.values()) for b in buckets), integer=True)
    pw, ph = _W - _L - _R, _H - _T - _B
    ymax = ticks[-1] or 1
    bw = pw / nb
    p = _frame(f"calls started per {seconds(step)}")
    for v in ticks:
        y = _T + ph - ph * v / ymax
        p.append(f'<line class="grid" x1="{_L}" x2="{_W - _R}" y1="{y:.1f}" y2="{y:.1f}"/>')
        p.append(f'<text class="axis" x="{_L - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
    order = list(COLOURS) + sorted({o for _, o in times} - set(COLOURS))
    for i, b in enumerate(buckets):
        x = _L + i * bw
        y = _T + ph
        for o in order:
            k = b.get(o, 0)
            if not k:
                continue
            h = ph * k / ymax
            y -= h
            when = f"{_hms(start + i * step)} +{seconds(step)}"
            p.append(
                f'<rect x="{x + bw * 0.12:.1f}" y="{y:.1f}" width="{max(bw * 0.76, 1):.1f}" '
                f'height="{h:.1f}" rx="2" fill="{colour(o)}"><title>{_e(when)}: {k} {_e(o)}'
                "</title></rect>"
            )
    _x_axis(p, start, nb * step)
    p.append(
        f'<text class="axis" x="{_W - _R}" y="{_T + 10}" text-anchor="end">'
        f"calls per {seconds(step)}</text></svg>"
    )
    return "".join(p)


# Points of the setup-time plot past which its markers shrink, and keep no tooltip.
_DENSE_POINTS = 400
_TIPPED_POINTS = 4000


def delay_svg(calls: list[dict[str, Any]], t0: float, t1: float) -> str:
    """Setup time (INVITE to 2xx) and post-dial delay of each call against its start; a log
    scale when the values span more than two decades (a 1 ms ringing and a 20 s answer)."""
    pts = []
    for c in calls:
        t = c.get("invite_time")
        if t is None:
            continue
        for key, kind in (("post_dial_delay", "pdd"), ("time_to_answer", "setup")):
            v = c.get(key)
            if v is not None and v >= 0:
                pts.append((t, v, kind, c))
    if not pts:
        return '<p class="empty">No call was answered or rang.</p>'
    lo = min(t0, *(p[0] for p in pts))
    hi = max(t1, *(p[0] for p in pts))
    span = max(hi - lo, 1e-9)
    vals = [p[1] for p in pts]
    vmin, vmax = max(min(vals), 1e-4), max(max(vals), 1e-4)
    pw, ph = _W - _L - _R, _H - _T - _B
    if vmax / vmin > 100:
        d0 = math.floor(math.log10(vmin))
        d1 = max(math.ceil(math.log10(vmax)), d0 + 1)

        def yof(v: float) -> float:
            return _T + ph - ph * (math.log10(max(v, 10.0**d0)) - d0) / (d1 - d0)

        ticks = [10.0**d for d in range(d0, d1 + 1)]
    else:
        ticks = _ticks(vmax)
        top = ticks[-1] or 1.0

        def yof(v: float) -> float:
            return _T + ph - ph * v / top

    p = _frame("setup time and post-dial delay of each call over time")
    # Past a few hundred points the markers shrink and lose their outline, so that the
    # plot shows where the calls are dense instead of a wall of overlapping markers; each
    # keeps its tooltip only while there are few enough to point at.
    dense = len(pts) > _DENSE_POINTS
    scale = math.sqrt(_DENSE_POINTS / len(pts)) if dense else 1.0
    r, half = max(1.2, 5.5 * scale), max(1.0, 4.0 * scale)
    for v in ticks:
        y = yof(v)
        p.append(f'<line class="grid" x1="{_L}" x2="{_W - _R}" y1="{y:.1f}" y2="{y:.1f}"/>')
        p.append(
            f'<text class="axis" x="{_L - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_short_seconds(v)}</text>"
        )
    if dense:
        p.append('<g class="dense">')
    for t, v, kind, c in sorted(pts, key=lambda p: p[2] == "setup"):
        x = _L + pw * (t - lo) / span
        y = yof(v)
        what = "post-dial delay" if kind == "pdd" else "setup time"
        tip = ""
        if len(pts) <= _TIPPED_POINTS:
            tip = html.escape(f"{clean(c.get('call_id'))}: {what} {seconds(v)}")
            tip = f"<title>{tip}</title>"
        if kind == "setup":
            p.append(
                f'<circle class="pt-setup" cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}">{tip}</circle>'
            )
        else:
            p.append(
                f'<rect class="pt-pdd" x="{x - half:.1f}" y="{y - half:.1f}" '
                f'width="{2 * half:.1f}" height="{2 * half:.1f}" '
                f'transform="rotate(45 {x:.1f} {y:.1f})">{tip}</rect>'
            )
    if dense:
        p.append("</g>")
    _x_axis(p, lo, span)
    p.append("</svg>")
    return "".join(p)


def timeline_svg(calls: list[dict[str, Any]], t0: float, t1: float) -> str:
    """Each call as a bar from its INVITE to its end: light while ringing, solid while
    talking, in its outcome's colour."""
    shown = [c for c in calls if c.get("invite_time") is not None]
    if not shown:
        return '<p class="empty">No call has an INVITE time.</p>'
    ends = [c.get("end_time") or c.get("answer_time") or c["invite_time"] for c in shown]
    lo = float(min(t0, *(c["invite_time"] for c in shown)))
    hi = float(max(t1, *ends))
    span = max(hi - lo, 1e-9)
    # Drawn at about its on-screen width (a full-width card), so its text keeps its size.
    w = 1200
    row = 22 if len(shown) <= 40 else 8 if len(shown) <= 120 else 4
    ph = row * len(shown)
    h = ph + _T + _B
    pw = w - _L - _R
    p = [f'<svg class="plot" viewBox="0 0 {w} {h}" role="img" aria-label="calls over time">']

    def x(t: float) -> float:
        return _L + pw * (t - lo) / span

    for i, (c, end) in enumerate(zip(shown, ends)):
        y = _T + i * row
        o = c.get("outcome") or "unknown"
        start, ans = c["invite_time"], c.get("answer_time")
        tip = html.escape(
            f"{clean(c.get('call_id'))}: {clean(o)}"
            + (f", setup {seconds(ans - start)}" if ans is not None else "")
            + (f", talk {seconds(end - ans)}" if ans is not None and end > ans else "")
        )
        ring_end = ans if ans is not None else end
        p.append(f"<g><title>{tip}</title>")
        if row >= 16:  # the call's number in the list below
            p.append(
                f'<text class="axis" x="{_L - 8}" y="{y + row * 0.7:.1f}" '
                f'text-anchor="end">{i + 1}</text>'
            )
        p.append(
            f'<rect x="{x(start):.1f}" y="{y + row * 0.2:.1f}" '
            f'width="{max(x(ring_end) - x(start), 2):.1f}" height="{row * 0.6:.1f}" rx="2" '
            f'fill="{colour(o)}" fill-opacity=".35"/>'
        )
        if ans is not None and end > ans:
            p.append(
                f'<rect x="{x(ans):.1f}" y="{y + row * 0.1:.1f}" '
                f'width="{max(x(end) - x(ans), 2):.1f}" height="{row * 0.8:.1f}" rx="2" '
                f'fill="{colour(o)}"/>'
            )
        p.append("</g>")
    for i in range(9):
        xx = _L + pw * i / 8
        anchor = "start" if i == 0 else "end" if i == 8 else "middle"
        p.append(
            f'<text class="axis" x="{xx:.1f}" y="{h - 8}" text-anchor="{anchor}">'
            f"{_hms(lo + span * i / 8)}</text>"
        )
    p.append(f'<line class="axisline" x1="{_L}" x2="{w - _R}" y1="{_T + ph}" y2="{_T + ph}"/>')
    p.append("</svg>")
    return "".join(p)


def _kpi(title: str, value: str, sub: str = "", tone: str = "") -> str:
    cls = f"kpi {tone}".strip()
    return (
        f'<div class="{cls}"><div class="kpi-t">{html.escape(title)}</div>'
        f'<div class="kpi-v">{html.escape(value)}</div>'
        f'<div class="kpi-s">{html.escape(sub)}</div></div>'
    )


def _quality(loss_pct: float | None, jitter: float | None) -> tuple[str, str]:
    """A stream's quality in a word: ITU-T G.113/G.114-ish thresholds VoIP people use."""
    lp = loss_pct or 0.0
    j = jitter or 0.0
    if lp >= 3 or j >= 50:
        return "poor", "bad"
    if lp >= 1 or j >= 20:
        return "fair", "warn"
    return "good", "ok"


def _stream_rows(streams: list[dict[str, Any]]) -> str:
    out = []
    for s in streams:
        exp = s.get("expected") or 0
        lost = max(s.get("lost") or 0, 0)
        lp = 100.0 * lost / exp if exp else None
        word, tone = _quality(lp, s.get("mean_jitter_ms"))
        dur = (
            seconds(s["last_time"] - s["first_time"])
            if s.get("first_time") is not None and s.get("last_time") is not None
            else "-"
        )
        ssrc = s.get("ssrc")
        out.append(
            "<tr>"
            f"<td class=mono>{_e(ladder_mod._addr(s.get('src_ip'), s.get('src_port')))} → "
            f"{_e(ladder_mod._addr(s.get('dst_ip'), s.get('dst_port')))}</td>"
            f"<td class=mono>{'' if ssrc is None else f'0x{ssrc:08X}'}</td>"
            f"<td>{_e(s.get('codec') or s.get('payload_type'))}</td>"
            f"<td class=num>{count(s.get('packets') or 0)}</td>"
            f"<td class=num>{count(s.get('lost') or 0)}</td>"
            f"<td class=num>{'-' if lp is None else f'{lp:.1f}%'}</td>"
            f"<td class=num>{s.get('mean_jitter_ms') or 0:.1f} / "
            f"{s.get('max_jitter_ms') or 0:.1f} ms</td>"
            f"<td class=num>{dur}</td>"
            f'<td><span class="pill {tone}">{word}</span></td>'
            "</tr>"
        )
    return "".join(out)


STREAM_HEAD = (
    "<tr><th>stream</th><th>SSRC</th><th>codec</th><th class=num>packets</th>"
    "<th class=num>lost</th><th class=num>loss</th><th class=num>jitter mean / max</th>"
    "<th class=num>length</th><th>quality</th></tr>"
)


def _media_rows(media: list[dict[str, Any]], t0: float) -> str:
    out = []
    for m in media:
        pts = " ".join(str(x) for x in (m.get("payload_types") or []))
        at = m.get("offer_time")
        out.append(
            "<tr>"
            f"<td class=num>{'' if at is None else f'+{at - t0:.3f}'}</td>"
            f"<td>{_e(m.get('method'))} {_e(m.get('cseq'))}</td>"
            f"<td>{_e(m.get('kind'))}</td>"
            f"<td class=mono>{_e(ladder_mod._addr(m.get('offer_ip'), m.get('offer_port')))}</td>"
            f"<td>{_e(m.get('offer_direction'))}</td>"
            f"<td class=mono>{_e(pts)}</td>"
            f"<td class=mono>{_e(ladder_mod._addr(m.get('answer_ip'), m.get('answer_port')))}"
            f"{' <small>early</small>' if m.get('early') else ''}</td>"
            f"<td>{_e(m.get('answer_direction'))}</td>"
            f"<td><b>{_e(m.get('codec') or '-')}</b></td>"
            "</tr>"
        )
    return "".join(out)


def _detail(lad: ladder_mod.Ladder) -> str:
    """A call's panel: facts, ladder, SDP, RTP, DTMF and the messages' text."""
    p = [f'<div class="facts">{" · ".join(html.escape(f) for f in lad.facts())}</div>']
    p.append('<div class="ladder-wrap">')
    p.append(ladder_mod.render_svg(lad))
    p.append("</div>")
    p.append('<p class="hint">Click an arrow to read its message.</p>')
    p.append(
        '<div class="msgbox" hidden><div class="msghead"></div><pre class="msgtext"></pre></div>'
    )
    for i, s in enumerate(lad.steps):
        if s.kind != "sip":
            continue
        text = (
            s.raw.decode("utf-8", "backslashreplace")
            if s.raw
            else "(message bytes not kept: run sipwire analyze with --html or --raw)"
        )
        if len(text) > MAX_MESSAGE:
            text = text[:MAX_MESSAGE] + f"\n... ({len(text) - MAX_MESSAGE} more characters)"
        head = (
            f"{lad.hosts[s.src].label} → {lad.hosts[s.dst].label} at +{s.time - lad.t0:.3f} s"
            + (f", frame {s.frame}" if s.frame is not None else "")
        )
        # Keep line breaks and tabs; escape the other control bytes.
        body = "\n".join(
            clean(line.replace("\t", "    ")) for line in text.replace("\r\n", "\n").split("\n")
        )
        p.append(
            f'<pre class="msg" data-step="{i}" data-head="{html.escape(head, quote=True)}" hidden>'
            f"{html.escape(body)}</pre>"
        )
    if lad.media:
        p.append(
            "<h4>SDP offer/answer</h4><table class=sub><tr><th class=num>offer at</th>"
            "<th>in</th><th>media</th><th>offer</th><th>dir</th><th>payload types</th>"
            "<th>answer</th><th>dir</th><th>codec</th></tr>"
            f"{_media_rows(lad.media, lad.t0)}</table>"
        )
    if lad.streams:
        p.append(
            f"<h4>RTP streams</h4><table class=sub>{STREAM_HEAD}{_stream_rows(lad.streams)}</table>"
        )
    if lad.dtmf:
        digits = " ".join(
            f'<span class="digit" title="+{(d["time"] or lad.t0) - lad.t0:.3f} s">'
            f"{_e(d.get('digit'))}</span>"
            for d in lad.dtmf
        )
        p.append(f"<h4>DTMF</h4><p>{digits}</p>")
    return "".join(p)


def _calls_rows(
    calls: list[dict[str, Any]],
    t0: float,
    per_call: dict[int, tuple[int, float | None, float | None]],
    digits: dict[int, str],
    with_ladder: dict[int, int],
) -> str:
    out = []

    def v(x: float | None) -> str:
        return "" if x is None else f"{x:.6f}"

    def cell(value: float | None, text: str, cls: str = "num") -> str:
        return f'<td class="{cls}" data-v="{v(value)}">{text}</td>'

    for i, c in enumerate(calls):
        cid = c.get("call_id") or ""
        o = c.get("outcome") or "unknown"
        st = c.get("final_status")
        start = c.get("invite_time") or c.get("first_time")
        rtp = per_call.get(i)
        loss = rtp[1] if rtp else None
        jit = rtp[2] if rtp else None
        loss_tone = _quality(loss, None)[1] if loss else ""
        jit_tone = _quality(None, jit)[1] if jit else ""
        li = with_ladder.get(i)
        attrs = f' data-ladder="{li}"' if li is not None else ""
        pdd, setup, talk = (c.get(k) for k in ("post_dial_delay", "time_to_answer", "duration"))
        out.append(
            "".join(
                (
                    f'<tr class="call" data-outcome="{_e(o)}"{attrs} tabindex="0">',
                    cell(i, str(i + 1)),
                    cell(start, "-" if start is None else f"{start - t0:.2f}"),
                    f'<td class="mono cid" title="{_e(cid)}">{_e(shorten(clean(cid), 28))}</td>',
                    *(
                        f'<td title="{_e(c.get(k))}">{_e(shorten(_party(c.get(k)), 28))}</td>'
                        for k in ("caller", "callee")
                    ),
                    f'<td data-v="{_e(o)}"><span class="badge" style="--c:{colour(o)}">{_e(o)}'
                    "</span></td>",
                    f'<td class=num data-v="{"" if st is None else st}" '
                    f'title="{_e(reason(st) if st else "")}">{"-" if st is None else st}</td>',
                    cell(pdd, seconds(pdd)),
                    cell(setup, seconds(setup)),
                    cell(talk, seconds(talk)),
                    cell(loss, "-" if loss is None else f"{loss:.1f}%", f"num {loss_tone}"),
                    cell(jit, "-" if jit is None else f"{jit:.1f} ms", f"num {jit_tone}"),
                    f"<td class=mono>{_e(digits.get(i, ''))}</td></tr>",
                )
            )
        )
    return "".join(out)


def _party(uri: object) -> str:
    return uri_short(uri)


def render(res: Result, summary: dict[str, Any], ladders: int = 500) -> str:
    """The report as one HTML document."""
    import pyarrow as pa
    import pyarrow.compute as pc

    calls_t = res.calls
    if "invite_time" in calls_t.column_names and calls_t.num_rows:
        # A partial call (its INVITE not captured) by its first message.
        began = pc.coalesce(calls_t.column("invite_time"), calls_t.column("first_time"))
        calls_t = calls_t.take(pc.sort_indices(began))
    total_calls = calls_t.num_rows
    calls = ladder_mod.rows(calls_t.slice(0, MAX_ROWS))
    streams = ladder_mod.rows(res.rtp_streams)
    dtmf = ladder_mod.rows(res.dtmf)
    media = ladder_mod.rows(res.media)
    first = res.span.first_ns / 1e9 if res.span.first_ns is not None else None
    last = res.span.last_ns / 1e9 if res.span.last_ns is not None else None
    starts = [c["invite_time"] for c in calls if c.get("invite_time") is not None]
    t0 = first if first is not None else (min(starts) if starts else 0.0)
    t1 = last if last is not None else (max(starts) if starts else t0)

    def by_cid(rs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for r in rs:
            out.setdefault(r.get("call_id") or "", []).append(r)
        return out

    streams_of, media_of = by_cid(streams), by_cid(media)
    dtmf_of = by_cid(sorted(dtmf, key=lambda d: d.get("time") or 0))
    # The messages of the first calls, for their ladders, grouped in one pass.
    chosen = {str(c["call_id"]) for c in calls[:ladders] if c.get("call_id")}
    msgs_of: dict[str, list[dict[str, Any]]] = {}
    m_t = res.messages
    if chosen and m_t is not None and m_t.num_rows:
        ids = pa.array(sorted(chosen), pa.string())
        msgs_of = by_cid(ladder_mod.rows(m_t.filter(pc.is_in(m_t.column("call_id"), ids))))
    # Each call row's own rows: a Call-ID used for several calls has its rows shared out.
    rows_of: dict[str, list[int]] = {}
    for i, c in enumerate(calls):
        rows_of.setdefault(c.get("call_id") or "", []).append(i)
    parts: dict[int, tuple[list[dict[str, Any]], ...]] = {}
    part_no: dict[int, tuple[int, int]] = {}
    for cid, idx in rows_of.items():
        mine = (
            msgs_of.get(cid, []),
            media_of.get(cid, []),
            streams_of.get(cid, []),
            dtmf_of.get(cid, []),
        )
        if len(idx) == 1 or not cid:
            for i in idx:
                parts[i] = mine if cid else ([], [], [], [])
            continue
        shared = ladder_mod.split([calls[i] for i in idx], *mine)
        by_row = {id(calls[i]): i for i in idx}
        for k, (call, *own) in enumerate(shared, 1):
            parts[by_row[id(call)]] = tuple(own)
            part_no[by_row[id(call)]] = (k, len(shared))

    per_call: dict[int, tuple[int, float | None, float | None]] = {}
    digits: dict[int, str] = {}
    for i, (_, _, own_streams, own_dtmf) in parts.items():
        for s in own_streams:
            exp = s.get("expected") or 0
            lp = 100.0 * max(s.get("lost") or 0, 0) / exp if exp else None
            n, ol, oj = per_call.get(i, (0, None, None))
            jl = s.get("mean_jitter_ms")
            per_call[i] = (
                n + 1,
                lp if ol is None else (ol if lp is None else max(ol, lp)),
                jl if oj is None else (oj if jl is None else max(oj, jl)),
            )
        if own_dtmf:
            digits[i] = "".join(str(d.get("digit") or "?") for d in own_dtmf)

    with_ladder: dict[int, int] = {}
    templates: list[str] = []
    for i, c in enumerate(calls[:ladders]):
        if not c.get("call_id"):
            continue
        own_msgs, own_media, own_streams, own_dtmf = parts[i]
        lad = ladder_mod.build(c["call_id"], own_msgs, c, own_media, own_streams, own_dtmf)
        lad.part = part_no.get(i, (1, 1))
        k = len(templates)
        with_ladder[i] = k
        templates.append(f'<template id="ladder-{k}">{_detail(lad)}</template>')

    cap = summary["capture"]
    c = summary["calls"]
    title = ", ".join(clean(s).rsplit("/", 1)[-1] for s in summary["captures"])
    sub = []
    if cap["records"] is not None:
        sub.append(f"{count(cap['records'])} packets")
    if cap["bytes"] is not None:
        sub.append(size(cap["bytes"]))
    if cap["seconds"] is not None and first is not None:
        sub.append(f"{cap['seconds']:.1f} s from {ladder_mod.clock(first)}")
    sub.append(f"{count(cap['sip_messages'] or 0)} SIP messages")
    if cap["rtp_packets"] is not None:
        sub.append(f"{count(cap['rtp_packets'])} RTP packets")

    body = "".join(
        (
            '<header class="top"><div class="wrap">',
            '<div class="brand"><span class="logo">◆</span> sipwire analyze</div>',
            f"<h1>{_e(title)}</h1>",
            f'<p class="subtitle">{html.escape(" · ".join(sub))}</p></div></header>',
            '<main class="wrap">',
            f'<section class="kpis">{_kpis(summary)}</section>',
            _outcomes(c),
            '<section class="grid2">',
            f'<div class="card"><h2>Calls started</h2>{call_rate_svg(calls, t0, t1)}</div>',
            '<div class="card"><h2>Setup time <span class="key"><i class="k-setup"></i>INVITE→2xx'
            f' <i class="k-pdd"></i>post-dial delay</span></h2>{delay_svg(calls, t0, t1)}</div>',
            "</section>",
            (
                '<section class="card"><h2>Timeline <small>ringing light, talking solid'
                f"</small></h2>{timeline_svg(calls, t0, t1)}</section>"
                if len(calls) <= TIMELINE_CALLS
                else ""
            ),
            '<section class="grid2">',
            f'<div class="card"><h2>Percentiles</h2>{_percentiles(summary)}</div>',
            '<div class="card"><h2>Call failures <small>final status ≥ 300</small></h2>',
            f"{_failures(summary)}</div></section>",
            '<section class="card"><h2>Requests by method <small>responses by their CSeq '
            f"method</small></h2>{_methods(summary)}</section>",
            '<section class="card"><h2>RTP quality <small>worst streams first</small></h2>',
            f"{_worst_streams(streams)}</section>",
            _calls_card(calls, total_calls, len(templates), t0, per_call, digits, with_ladder),
            _capture_card(summary, res.stats),
            "<footer>Made by <code>sipwire analyze</code> · ASR = answered ÷ attempts (calls "
            "whose INVITE was captured) · percentiles interpolate linearly · loss = lost ÷ "
            "expected per stream</footer></main>",
            "".join(templates),
        )
    )
    css, js = _asset("report.css"), _asset("report.js")
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        # Nothing may be fetched: the report works offline and leaks nothing when opened.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)} · sipwire analyze</title>\n"
        f"<style>{css}</style></head>\n<body>{body}<script>{js}</script></body></html>\n"
    )


def _plural(n: int, word: str) -> str:
    return f"{count(n)} {word}{'' if n == 1 else 's'}"


def _kpis(summary: dict[str, Any]) -> str:
    cap, c, r, rtp = (summary[k] for k in ("capture", "calls", "retransmissions", "rtp"))
    pdd, setup = summary["post_dial_delay"], summary["setup_time"]
    asr = c["asr"]
    loss = rtp.get("loss_rate")
    problems = len(summary["problems"])
    return "".join(
        (
            _kpi("Calls", count(c["total"]), f"{c['answered']} answered"),
            _kpi(
                "ASR",
                "-" if asr is None else f"{asr * 100:.1f}%",
                f"of {_plural(c['attempts'], 'attempt')}",
                "" if asr is None else ("ok" if asr >= 0.5 else "warn" if asr >= 0.3 else "bad"),
            ),
            _kpi("Post-dial delay", seconds(pdd["p50"]), f"p50 · p90 {seconds(pdd['p90'])}"),
            _kpi("Setup time", seconds(setup["p50"]), f"p50 · p90 {seconds(setup['p90'])}"),
            _kpi("ACD", seconds(c["acd"]), "mean answered duration"),
            _kpi(
                "Retransmissions",
                "-" if r["rate"] is None else f"{r['rate'] * 100:.1f}%",
                f"{count(r['count'])} of {_plural(r['messages'] or 0, 'message')}",
                "" if not r["rate"] else ("warn" if r["rate"] < 0.05 else "bad"),
            ),
            _kpi(
                "RTP loss",
                "-" if loss is None else f"{loss * 100:.2f}%",
                f"{count(rtp.get('lost', 0))} packets in {_plural(rtp['streams'], 'stream')}",
                "" if not rtp.get("lost") else ("warn" if (loss or 0) < 0.01 else "bad"),
            ),
            _kpi(
                "Jitter",
                "-" if not rtp["streams"] else f"{rtp['mean_jitter_ms']['p90'] or 0:.1f} ms",
                "p90 of the streams' mean",
            ),
            _kpi(
                "DTMF",
                count(summary["dtmf"]["digits"]),
                f"digits in {_plural(len(summary['dtmf']['calls']), 'call')}",
            ),
            _kpi(
                "Parse errors",
                count(cap["parse_errors"] or 0),
                _plural(problems, "capture problem") if problems else "capture clean",
                "bad" if cap["parse_errors"] or problems else "ok",
            ),
        )
    )


def _outcomes(c: dict[str, Any]) -> str:
    bar, legend = [], []
    for o, k in c["by_outcome"].items():
        pct = 100.0 * k / c["total"] if c["total"] else 0
        bar.append(
            f'<div class="seg" style="flex:{k};background:{colour(o)}" title="{_e(o)}: {k}"></div>'
        )
        legend.append(
            f'<button class="chip" data-outcome="{_e(o)}" style="--c:{colour(o)}" '
            f'aria-pressed="false"><i></i>{_e(o)} <b>{k}</b> <span>{pct:.0f}%</span></button>'
        )
    return (
        '<section class="card"><h2>Outcomes <small>click to filter the calls</small></h2>'
        f'<div class="stack">{"".join(bar)}</div>'
        f'<div class="legend">{"".join(legend)}</div></section>'
    )


def _percentiles(summary: dict[str, Any]) -> str:
    def qrow(name: str, q: dict[str, Any], fmt: Any) -> str:
        cells = "".join(
            f"<td class=num>{'-' if q.get(k) is None else fmt(q[k])}</td>"
            for k in ("p50", "p90", "p99", "max")
        )
        return f"<tr><th>{name}</th>{cells}<td class=num>{q['n']}</td></tr>"

    rtp = summary["rtp"]
    rows = [
        "<table class=sub><tr><th></th><th class=num>p50</th><th class=num>p90</th>"
        "<th class=num>p99</th><th class=num>max</th><th class=num>n</th></tr>",
        qrow("Post-dial delay", summary["post_dial_delay"], seconds),
        *([qrow("Session request delay", summary["srd"], seconds)] if "srd" in summary else []),
        qrow("Setup time", summary["setup_time"], seconds),
        qrow("Call duration", summary["duration"], seconds),
    ]
    if rtp["streams"]:
        rows += [
            qrow("RTP loss per stream", rtp["loss_pct"], lambda v: f"{v:.1f}%"),
            qrow("Jitter (mean)", rtp["mean_jitter_ms"], lambda v: f"{v:.1f} ms"),
            qrow("Jitter (max)", rtp["max_jitter_ms"], lambda v: f"{v:.1f} ms"),
        ]
    return "".join(rows) + "</table>"


def _failures(summary: dict[str, Any]) -> str:
    total = max(1, summary["calls"]["total"])
    rows = "".join(
        f"<tr><td class=num>{f['status']}</td><td>{html.escape(f['reason'])}</td>"
        f'<td class=num>{f["calls"]}</td><td><div class="hbar" '
        f'style="width:{100 * f["calls"] / total:.0f}%"></div></td></tr>'
        for f in summary["failures"][:12]
    )
    if not rows:
        return '<p class="empty">No call failed.</p>'
    return (
        "<table class=sub><tr><th class=num>status</th><th>reason</th><th class=num>calls</th>"
        f"<th class=wide></th></tr>{rows}</table>"
    )


def _methods(summary: dict[str, Any]) -> str:
    classes = ("1xx", "2xx", "3xx", "4xx", "5xx", "6xx")
    rows = []
    for m in summary.get("methods", [])[:16]:
        top = sorted(m["statuses"].items(), key=lambda kv: -kv[1])[:6]
        detail = ", ".join(f"{st} {reason(int(st))} ×{n}".replace("  ", " ") for st, n in top)
        cells = "".join(f"<td class=num>{m['responses'].get(c) or ''}</td>" for c in classes)
        rows.append(
            f"<tr><td>{html.escape(m['method'])}</td><td class=num>{m['requests']}</td>"
            f"{cells}<td>{html.escape(detail)}</td></tr>"
        )
    if not rows:
        return '<p class="empty">No SIP requests or responses.</p>'
    head = "".join(f"<th class=num>{c}</th>" for c in classes)
    return (
        f"<table class=sub><tr><th>method</th><th class=num>requests</th>{head}"
        f"<th>most seen statuses</th></tr>{''.join(rows)}</table>"
    )


def _worst_streams(streams: list[dict[str, Any]]) -> str:
    def badness(s: dict[str, Any]) -> float:
        exp = s.get("expected") or 0
        loss = 100.0 * max(s.get("lost") or 0, 0) / exp if exp else 0.0
        return loss + (s.get("mean_jitter_ms") or 0) / 1000

    worst = sorted(streams, key=badness, reverse=True)[:8]
    if not worst:
        return '<p class="empty">No RTP in the capture.</p>'
    return f"<table class=sub>{STREAM_HEAD}{_stream_rows(worst)}</table>"


def _calls_card(
    calls: list[dict[str, Any]],
    total: int,
    ladders: int,
    t0: float,
    per_call: dict[int, tuple[int, float | None, float | None]],
    digits: dict[int, str],
    with_ladder: dict[int, int],
) -> str:
    notes = []
    if total > len(calls):
        notes.append(
            f'<p class="note">Showing the first {count(len(calls))} of {count(total)} calls; '
            "<code>--out</code> writes them all.</p>"
        )
    if len(calls) > ladders:
        notes.append(
            f'<p class="note">Ladders are embedded for the first {count(ladders)} calls '
            "(<code>--html-ladders N</code>); <code>sipwire analyze --call ID</code> draws any."
            "</p>"
        )
    heads = (
        ("#", True),
        ("start s", True),
        ("Call-ID", False),
        ("from", False),
        ("to", False),
        ("outcome", False),
        ("final", True),
        ("PDD", True),
        ("setup", True),
        ("talk", True),
        ("loss", True),
        ("jitter", True),
        ("DTMF", False),
    )
    th = "".join(
        f"<th class=num data-type=num>{h}</th>" if num else f"<th>{h}</th>" for h, num in heads
    )
    n = count(len(calls))
    return (
        '<section class="card" id="calls-card">'
        f'<h2>Calls <small id="shown">{n} of {n}</small></h2>'
        '<div class="tools"><input id="q" type="search" aria-label="search calls" '
        'placeholder="Search Call-ID, party, outcome, status…">'
        '<span class="hint">Click a call for its ladder · click a heading to sort</span></div>'
        + "".join(notes)
        + f'<div class="tablewrap"><table id="calls"><thead><tr>{th}</tr></thead><tbody>'
        + _calls_rows(calls, t0, per_call, digits, with_ladder)
        + "</tbody></table></div></section>"
    )


def _capture_card(summary: dict[str, Any], stats: dict[str, Any]) -> str:
    hints = summary.get("problem_hints", {})
    problems = "".join(
        f"<tr><td class=mono>{html.escape(k)}</td><td class=num>{count(v)}</td>"
        f"<td>{html.escape(hints.get(k, ''))}</td></tr>"
        for k, v in summary["problems"].items()
    )
    counters = "".join(
        f"<tr><td class=mono>{html.escape(str(k))}</td><td class=num>"
        f"{count(v) if isinstance(v, (int, float)) else html.escape(str(v))}</td></tr>"
        for k, v in sorted(stats.items())
        if v
    )
    head = (
        f"<h4>Problems</h4><table class=sub>{problems}</table>"
        if problems
        else '<p class="empty">No capture problems: nothing truncated, dropped or unparsable.</p>'
    )
    return (
        f'<section class="card"><h2>Capture</h2>{head}'
        "<details><summary>Every counter</summary>"
        f'<table class="sub stats">{counters}</table></details></section>'
    )
