"""The bad-input classes of sipwire's design as byte mutations, for fuzzing SIP servers.

Each class takes the bytes of a valid message and returns them broken one way: Content-Length
that lies, bare line endings, header-name tricks, floods, missing or duplicated headers, NUL and
control bytes, out-of-range numbers, bad URIs and quoting, SDP lines without ``=``, garbage
between messages, ... Choose them by name from :data:`MUTATIONS`::

    import random
    from sipwire import mutations

    rng = mutations.RandomChooser(random.Random(7))
    broken = mutations.mutate(bytes(msg), "control_bytes", rng)

Every choice a mutation makes goes through a :class:`Chooser`, so the same code serves two
drivers: :class:`RandomChooser` (plain ``random.Random``, seeded and reproducible; what
``sipwire fuzz`` uses) and the hypothesis strategies in :mod:`sipwire.strategies` (which shrink).
This module needs nothing beyond the standard library.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

__all__ = ["DESCRIPTIONS", "MUTATIONS", "Chooser", "Mutation", "RandomChooser", "mutate"]

_T = TypeVar("_T")


class Chooser(Protocol):
    """The source of every choice a mutation makes."""

    def choice(self, options: Sequence[_T]) -> _T:
        """One of ``options``."""
        ...

    def integer(self, low: int, high: int) -> int:
        """An integer in ``[low, high]`` (both included)."""
        ...

    def boolean(self) -> bool: ...

    def binary(self, min_size: int, max_size: int) -> bytes:
        """Random bytes, ``min_size`` to ``max_size`` of them."""
        ...


class RandomChooser:
    """A :class:`Chooser` over ``random.Random``: the same seed gives the same choices."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def choice(self, options: Sequence[_T]) -> _T:
        return options[self.rng.randrange(len(options))]

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def boolean(self) -> bool:
        return self.rng.random() < 0.5

    def binary(self, min_size: int, max_size: int) -> bytes:
        return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(min_size, max_size)))


Mutation = Callable[[Chooser, bytes], bytes]


def _find_line(data: bytes, prefix: bytes) -> int:
    i = data.find(b"\r\n" + prefix)
    return -1 if i < 0 else i + 2


def _replace_header(data: bytes, name: bytes, value: bytes) -> bytes:
    i = _find_line(data, name + b":")
    if i < 0:
        return data
    j = data.find(b"\r\n", i)
    return data[:i] + name + b": " + value + data[j:]


def _set_content_length(data: bytes, value: bytes) -> bytes:
    return _replace_header(data, b"Content-Length", value)


def _head_end(data: bytes) -> int:
    i = data.find(b"\r\n\r\n")
    return len(data) if i < 0 else i + 4


def _content_length(c: Chooser, d: bytes) -> bytes:
    v = c.choice(
        [b"-1", b"+5", b"", b"abc", b" 1 0", b"4294967296", b"18446744073709551616", b"999999"]
    )
    return _set_content_length(d, v)


def _body_length(c: Chooser, d: bytes) -> bytes:
    n = len(d) - _head_end(d)
    return _set_content_length(d, str(n + c.choice([-1, 1, 100, 65536])).encode())


def _conflicting_length(c: Chooser, d: bytes) -> bytes:
    i = _head_end(d) - 2
    return d[:i] + b"l: " + str(c.integer(0, 9999)).encode() + b"\r\n" + d[i:]


def _line_endings(c: Chooser, d: bytes) -> bytes:
    how = c.choice(["lf", "cr", "no_empty_line", "truncate"])
    if how == "lf":
        return d.replace(b"\r\n", b"\n")
    if how == "cr":
        return d.replace(b"\r\n", b"\r", 1)
    if how == "no_empty_line":
        return d[: _head_end(d) - 2]
    return d[: c.integer(0, max(0, len(d) - 1))]


def _start_line(c: Chooser, d: bytes) -> bytes:
    first, sep, rest = d.partition(b"\r\n")
    parts = first.split(b" ")
    choice = c.choice(["spaces", "brackets", "version", "method", "status", "long"])
    if choice == "spaces":
        first = b"  ".join(parts) + b" "
    elif choice == "brackets" and len(parts) == 3 and not first.startswith(b"SIP/"):
        first = parts[0] + b" <" + parts[1] + b"> " + parts[2]
    elif choice == "version":
        first = first.replace(b"SIP/2.0", c.choice([b"SIP/7.0", b"SIP/2", b"HTTP/1.1"]))
    elif choice == "method":
        first = c.choice([b"INV ITE", b"INV\x00ITE", b"\xff\xfe"]) + first[first.find(b" ") :]
    elif choice == "status":
        code = c.choice([b"99", b"1000", b"700", b"099", b"2x0"])
        first = b"SIP/2.0 " + code + b" Odd"
    else:
        first = b"A" * c.integer(100, 5000) + first[first.find(b" ") :]
    return first + sep + rest


def _header_names(c: Chooser, d: bytes) -> bytes:
    i = _head_end(d) - 2
    trick = c.choice(
        [
            b"Via\x0b: x",
            b"Call-ID : y",
            b"To\t\t: <sip:x@y>",
            b": novalue",
            b"Bad Name: v",
            b"NoColon",
        ]
    )
    return d[:i] + trick + b"\r\n" + d[i:]


def _floods(c: Chooser, d: bytes) -> bytes:
    i = _head_end(d) - 2
    n = c.integer(100, 2000)
    what = c.choice(["headers", "vias", "items", "params", "long_value", "long_name"])
    if what == "headers":
        extra = b"".join(b"X-%d: v\r\n" % k for k in range(n))
    elif what == "vias":
        extra = b"".join(b"Via: SIP/2.0/UDP h%d;branch=z9hG4bK%d\r\n" % (k, k) for k in range(n))
    elif what == "items":
        extra = b"Contact: " + b", ".join(b"<sip:u%d@h>" % k for k in range(n)) + b"\r\n"
    elif what == "params":
        extra = b"Contact: <sip:u@h>" + b"".join(b";p%d=1" % k for k in range(n)) + b"\r\n"
    elif what == "long_value":
        extra = b"Subject: " + b"v" * (n * 20) + b"\r\n"
    else:
        extra = b"X" * (n * 2) + b": v\r\n"
    return d[:i] + extra + d[i:]


def _duplicates(c: Chooser, d: bytes) -> bytes:
    i = _head_end(d) - 2
    name = c.choice([b"To", b"From", b"Call-ID", b"CSeq", b"Max-Forwards"])
    j = _find_line(d, name + b":")
    line = d[j : d.find(b"\r\n", j)] if j >= 0 else name + b": x"
    return d[:i] + line + b"\r\n" + d[i:]


def _missing(c: Chooser, d: bytes) -> bytes:
    name = c.choice([b"To", b"From", b"Call-ID", b"CSeq", b"Via", b"Max-Forwards"])
    j = _find_line(d, name + b":")
    if j < 0:
        return d
    return d[:j] + d[d.find(b"\r\n", j) + 2 :]


def _folding(c: Chooser, d: bytes) -> bytes:
    end = _head_end(d)
    head, body = d[:end], d[end:]
    k = c.integer(1, 20)
    return head.replace(b": ", b":\r\n" + b" " * k, c.integer(1, 8)) + body


def _controls(c: Chooser, d: bytes) -> bytes:
    end = _head_end(d)
    if end < 4:
        return d
    pos = c.integer(0, end - 3)
    return d[:pos] + c.choice([b"\x00", b"\x07", b"\x7f", b"\x1b[2J"]) + d[pos:]


def _numbers(c: Chooser, d: bytes) -> bytes:
    what = c.choice(["cseq", "max_forwards", "expires", "cseq_method"])
    if what == "cseq":
        return _replace_header(
            d,
            b"CSeq",
            c.choice([b"2147483648 INVITE", b"99999999999999999999 INVITE", b"-1 INVITE"]),
        )
    if what == "max_forwards":
        return _replace_header(d, b"Max-Forwards", c.choice([b"256", b"70000", b"-1"]))
    if what == "expires":
        i = _head_end(d) - 2
        return d[:i] + b"Expires: " + b"9" * c.integer(10, 100) + b"\r\n" + d[i:]
    return _replace_header(d, b"CSeq", b"1 NOTTHEMETHOD")


def _uris(c: Chooser, d: bytes) -> bytes:
    first, sep, rest = d.partition(b"\r\n")
    parts = first.split(b" ")
    if len(parts) != 3 or first.startswith(b"SIP/"):
        return d
    bad = c.choice(
        [
            b"sip:a%4@h",
            b"sip:a@h:99999",
            b"sip:a@2001:db8::1",
            b"sip:a@[2001:db8::1",
            b"unknown:stuff",
            b"sip:a@h;;;",
            b"sip:" + b"u" * 5000 + b"@h",
            b"sip:a@h?Route=%3Csip:x%3E",
        ]
    )
    return parts[0] + b" " + bad + b" " + parts[2] + sep + rest


def _quotes(c: Chooser, d: bytes) -> bytes:
    value = c.choice(
        [
            b'"unterminated <sip:a@b>',
            b'"trailing\\',
            b"<sip:a@b",
            b"Bell, Alexander <sip:a@b>",
            b"sip:a@b?x=y;tag=1",
            b'"a" <sip:a@b>;;;',
            b"(" * 200 + b"<sip:a@b>",
        ]
    )
    return _replace_header(d, c.choice([b"To", b"From"]), value)


def _branches(c: Chooser, d: bytes) -> bytes:
    j = _find_line(d, b"Via:")
    if j < 0:
        return d
    e = d.find(b"\r\n", j)
    line = d[j:e]
    b = line.find(b";branch=")
    if b < 0:
        return d
    new = line[:b] if c.boolean() else line[:b] + b";branch=z9hG4bK"
    return d[:j] + new + d[e:]


def _sdp_lines(c: Chooser, d: bytes) -> bytes:
    end = _head_end(d)
    body = d[end:]
    if not body.startswith(b"v=0"):
        return d
    how = c.choice(["no_equals", "big_pt", "glued", "long", "unknown"])
    if how == "no_equals":
        body = body.replace(b"s=", b"s ", 1)
    elif how == "big_pt":
        body = body.replace(b"RTP/AVP ", b"RTP/AVP 300 ", 1)
    elif how == "glued":
        body = body.replace(b"\r\na=", b"a=", 1)
    elif how == "long":
        body += b"a=x-long:" + b"y" * c.integer(9000, 20000) + b"\r\n"
    else:
        body += b"q=unknown line type\r\n"
    return _set_content_length(d[:end] + body, str(len(body)).encode())


def _garbage(c: Chooser, d: bytes) -> bytes:
    junk = c.binary(1, 64)
    where = c.choice(["before", "after", "between"])
    if where == "before":
        return junk + b"\r\n" + d
    if where == "after":
        return d + junk
    return d + junk + b"\r\n" + d


MUTATIONS: dict[str, Mutation] = {
    "content_length": _content_length,
    "body_length": _body_length,
    "conflicting_content_length": _conflicting_length,
    "line_endings": _line_endings,
    "start_line": _start_line,
    "header_names": _header_names,
    "floods": _floods,
    "duplicates": _duplicates,
    "missing_headers": _missing,
    "folding": _folding,
    "control_bytes": _controls,
    "numbers": _numbers,
    "uris": _uris,
    "quotes": _quotes,
    "branches": _branches,
    "sdp_lines": _sdp_lines,
    "garbage": _garbage,
}
"""The bad-input classes, by name (the names ``strategies.HOSTILE_CLASSES`` and
``sipwire fuzz --classes`` take)."""


#: What each class of :data:`MUTATIONS` does to a valid message (``sipwire fuzz --list-classes``).
DESCRIPTIONS: dict[str, str] = {
    "content_length": "Content-Length negative, signed, empty, not a number, or past 2^32 / 2^64",
    "body_length": "Content-Length off by one either way, or 100 or 65536 bytes more than the body",
    "conflicting_content_length": "a second, compact Content-Length (l:) with another value",
    "line_endings": "bare LF or bare CR line ends, no empty line after the headers, the message "
    "cut anywhere",
    "start_line": "extra spaces, a Request-URI in <>, another SIP version, a method with a space "
    "or NUL, a status outside 100-699, a very long start line",
    "header_names": "a control byte or space before the colon, an empty or spaced name, a line "
    "with no colon",
    "floods": "hundreds to thousands of headers, Vias, Contact items or parameters, a value or "
    "name tens of kilobytes long",
    "duplicates": "a second To, From, Call-ID, CSeq or Max-Forwards",
    "missing_headers": "no To, From, Call-ID, CSeq, Via or Max-Forwards",
    "folding": "header values continued on indented lines (RFC 3261 §7.3.1 folding)",
    "control_bytes": "a NUL, BEL, DEL or an ANSI escape inside the header section",
    "numbers": "CSeq past 2^31, 20 digits or negative, Max-Forwards 256 / 70000 / -1, a 100-digit "
    "Expires, a CSeq method other than the request's",
    "uris": "a Request-URI with a bad escape, port 99999, an unbracketed or unclosed IPv6 "
    "address, an unknown scheme, empty parameters, a 5000-byte user, headers",
    "quotes": "To or From with an unterminated quote or <, an unquoted comma, 200 open "
    "parentheses, a URI with ? outside <>",
    "branches": "the top Via's branch removed, or only the magic cookie z9hG4bK",
    "sdp_lines": "SDP with a line missing its =, a payload type of 300, two lines glued together, "
    "a 20 KB attribute, an unknown line type",
    "garbage": "random bytes before, after or between two copies of the message",
}


def mutate(data: bytes, name: str, chooser: Chooser) -> bytes:
    """``data`` broken by the class ``name``; ValueError names the classes when it is unknown.
    A class that does not apply (``uris`` on a response, ``sdp_lines`` without SDP) returns
    ``data`` unchanged."""
    try:
        fn = MUTATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown hostile class {name!r}; choose from {sorted(MUTATIONS)}"
        ) from None
    return fn(chooser, data)
