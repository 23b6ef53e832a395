"""Text helpers shared by the terminal summary, the ladder and the HTML report: escaping what
came from a capture, colours, reason phrases and number formats."""

from __future__ import annotations

import os
from typing import TextIO

# RFC 3261 §21 and the common extensions: a capture's table has the status, not the phrase.
REASONS: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    199: "Early Dialog Terminated",
    200: "OK",
    202: "Accepted",
    204: "No Notification",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    421: "Extension Required",
    422: "Session Interval Too Small",
    423: "Interval Too Brief",
    428: "Use Identity Header",
    429: "Provide Referrer Identity",
    433: "Anonymity Disallowed",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    491: "Request Pending",
    493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    580: "Precondition Failure",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
    607: "Unwanted",
    608: "Rejected",
}


def reason(status: int) -> str:
    return REASONS.get(status, "")


def clean(value: object) -> str:
    """Text from a capture made safe for a terminal: control bytes (ESC, CR, BEL ...),
    bidirectional overrides and other invisible characters become ``\\xNN``/``\\uNNNN``
    escapes, so a hostile Call-ID cannot retitle the terminal, move the cursor or reorder what
    is printed around it."""
    s = "" if value is None else str(value)
    if s.isprintable():
        return s
    out = []
    for ch in s:
        if ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}")
    return "".join(out)


def shorten(s: str, width: int) -> str:
    if width <= 0:
        return ""
    if len(s) <= width:
        return s
    return s[: max(0, width - 1)] + "…"


def uri_short(uri: object) -> str:
    """``sip:alice@127.0.0.10:5070`` as ``alice@127.0.0.10:5070`` (escaped)."""
    s = clean(uri)
    for scheme in ("sip:", "sips:"):
        if s.startswith(scheme):
            return s[len(scheme) :]
    return s


def seconds(v: float | None) -> str:
    """A delay or duration the way people say it: 850 ms, 2.71 s, 3m 05s."""
    if v is None:
        return "-"
    if v < 0:
        return "-" + seconds(-v)
    # Each unit up to where its rounding would print the next one's first value (a float32
    # 0.0099999 is "10 ms" like 0.01, not "10.0 ms").
    if v < 0.00995:
        return f"{v * 1000:.1f} ms"
    if v < 0.9995:
        return f"{v * 1000:.0f} ms"
    if v < 59.995:
        return f"{v:.2f} s"
    m, s = divmod(round(v), 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m"


def percent(part: float, whole: float) -> str:
    if not whole:
        return "-"
    p = 100.0 * part / whole
    return f"{p:.1f}%" if p < 99.95 or part == whole else "99.9%"


def count(n: int | float) -> str:
    return f"{int(n):,}"


def size(n: int | float) -> str:
    v = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if v < 1000 or unit == "GB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1000
    return f"{v:.1f} TB"


class Style:
    """ANSI colours, on only when asked: a terminal, and NO_COLOR unset (no-color.org)."""

    def __init__(self, on: bool) -> None:
        self.on = on

    @staticmethod
    def wanted(stream: TextIO, choice: str = "auto") -> bool:
        if choice == "always":
            return True
        if choice == "never":
            return False
        if os.environ.get("NO_COLOR"):
            return False
        return bool(stream.isatty()) and os.environ.get("TERM") != "dumb"

    def _wrap(self, code: str, s: str) -> str:
        return f"\x1b[{code}m{s}\x1b[0m" if self.on and s else s

    def bold(self, s: str) -> str:
        return self._wrap("1", s)

    def dim(self, s: str) -> str:
        return self._wrap("2", s)

    def red(self, s: str) -> str:
        return self._wrap("31", s)

    def green(self, s: str) -> str:
        return self._wrap("32", s)

    def yellow(self, s: str) -> str:
        return self._wrap("33", s)

    def blue(self, s: str) -> str:
        return self._wrap("34", s)

    def magenta(self, s: str) -> str:
        return self._wrap("35", s)

    def cyan(self, s: str) -> str:
        return self._wrap("36", s)

    def outcome(self, outcome: str, text: str | None = None) -> str:
        s = text if text is not None else outcome
        if outcome == "answered":
            return self.green(s)
        if outcome in ("busy", "cancelled", "unanswered", "early_media"):
            return self.yellow(s)
        if outcome in ("partial", "in_progress"):
            return self.dim(s)
        return self.red(s)

    def status(self, status: int | None, text: str | None = None) -> str:
        s = text if text is not None else ("-" if status is None else str(status))
        if status is None:
            return s
        if status < 200:
            return self.dim(s)
        if status < 300:
            return self.green(s)
        if status < 400:
            return self.cyan(s)
        if status in (486, 487, 600):
            return self.yellow(s)
        return self.red(s)


def ljust(s: str, visible: int, width: int) -> str:
    """Pads a possibly coloured string whose visible length is ``visible``."""
    return s + " " * max(0, width - visible)


def rjust(s: str, visible: int, width: int) -> str:
    return " " * max(0, width - visible) + s
