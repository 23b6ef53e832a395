"""Writing messages: sipwire against Python peers and a string-join baseline, on the three
messages of ``conftest.SIZES``.

Two groups:

- **build + serialize**: make the message from its parts (method, Request-URI, the headers as
  ``(name, value)`` strings in wire order, the body) and turn it into bytes, each library the
  way its documentation shows. Content-Length is left to the library where it sets it
  (sipwire, sippy, aiosipua), written by hand where it does not (sipmessage, dpkt, the join).
- **parse + edit + serialize**: what a proxy does to a message it forwards: parse it, read
  Max-Forwards, write it back decremented, get the bytes.

Each case's output is checked once, untimed: it must parse (with ``sipwire.parse(...,
validate=True)``) to the same message as the input (the edit case: with Max-Forwards one less):
the same start line, for each header name the same values in the same order (list headers split
at their commas, so ``Allow: A, B`` equals two Allow lines), the same body. The order of headers
of *different* names may change (RFC 3261 §7.3.1 makes it insignificant; sippy reorders). A peer
whose output is not that message is skipped with the difference as the reason (recorded in
``benches/README.md``); sipwire and the baseline are asserted. ``extra_info["byte_exact"]``
says whether the output was the input's bytes exactly (the edit case: except the one value).

Run: ``.venv/bin/python -m pytest benches --benchmark-only -q``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import MESSAGES, label, optional

import sipwire

aiosipua = optional("aiosipua")
dpkt = optional("dpkt")
sipmessage = optional("sipmessage")
SIPPY_CLASSES = (
    "MsgBody",
    "SipCallId",
    "SipContentType",
    "SipFrom",
    "SipHeader",
    "SipMaxForwards",
    "SipRequest",
    "SipTo",
    "SipURL",
    "SipVia",
)
sippy = {name: optional(f"sippy.{name}") for name in SIPPY_CLASSES}

BUILD_GROUP = "build + serialize"
EDIT_GROUP = "parse + edit Max-Forwards + serialize"

# (method, Request-URI, [(name, value), ...] without Content-Length, body)
Spec = tuple[str, str, list[tuple[str, str]], bytes]


def spec_of(data: bytes) -> Spec:
    """The parts of one of the bench messages (full names, one header per line, no folding)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method, uri, _version = lines[0].split(" ")
    headers = []
    for line in lines[1:]:
        name, value = line.split(": ", 1)
        if name.lower() != "content-length":
            headers.append((name, value))
    return method, uri, headers, body


def canonical(data: bytes) -> tuple[Any, ...]:
    """The message as RFC 3261 compares it: start line, each header name's values in order
    (list headers split at their commas), body. Raises ParseError if it is not a message."""
    m = sipwire.parse(data, validate=True)
    start = (m.method, str(m.uri)) if isinstance(m, sipwire.Request) else (m.status, m.reason)
    names = dict.fromkeys(n.lower() for n, _ in m.headers)
    return start, {n: m.headers.getall(n) for n in names}, m.body


def decremented(data: bytes) -> bytes:
    """The expected bytes of the edit case: Max-Forwards one less, nothing else changed."""
    m = sipwire.parse(data)
    n = m.max_forwards
    assert n is not None
    old, new = f"\r\nMax-Forwards: {n}\r\n", f"\r\nMax-Forwards: {n - 1}\r\n"
    assert data.count(old.encode()) == 1
    return data.replace(old.encode(), new.encode())


# --- build + serialize -----------------------------------------------------------------------
# Each builder is (prepare, build): ``prepare`` turns the Spec into the builder's arguments,
# untimed (sippy's constructor wants some headers apart); ``build`` is timed.


def sipwire_build(spec: Spec) -> bytes:
    method, uri, headers, body = spec
    return bytes(sipwire.build_request(method, uri, headers, body or None))


def join_build(spec: Spec) -> bytes:
    """The baseline: f-strings and one join, Content-Length computed. No checks at all (a CR
    or LF in a value would inject a header)."""
    method, uri, headers, body = spec
    lines = [f"{method} {uri} SIP/2.0"]
    lines += [f"{n}: {v}" for n, v in headers]
    lines.append(f"Content-Length: {len(body)}\r\n\r\n")
    return "\r\n".join(lines).encode() + body


def aiosipua_build(spec: Spec) -> bytes:
    method, uri, headers, body = spec
    h = aiosipua.CaseInsensitiveDict()
    for n, v in headers:
        h.append(n, v)  # refuses CR and LF; groups values by name; sets Content-Length itself
    return bytes(aiosipua.SipRequest(headers=h, body=body, method=method, uri=uri))


def sipmessage_build(spec: Spec) -> bytes:
    method, uri, headers, body = spec
    m = sipmessage.Request(method, sipmessage.URI.parse(uri), body)
    for n, v in headers:
        m.headers.add(n, v)  # groups values by name
    m.content_length = len(body)
    return bytes(m)


def dpkt_build(spec: Spec) -> bytes:
    method, uri, headers, body = spec
    hdrs: dict[str, Any] = {}
    for n, v in headers:
        k = n.lower()
        if k in hdrs:  # dpkt's own parser keeps repeated headers as a list
            prev = hdrs[k]
            hdrs[k] = [*prev, v] if isinstance(prev, list) else [prev, v]
        else:
            hdrs[k] = v
    hdrs["content-length"] = str(len(body))
    return bytes(dpkt.sip.Request(method=method, uri=uri, headers=hdrs, body=body))


# sippy's SipRequest constructor takes the core headers as typed objects (and adds Expires to
# an INVITE and a User-Agent when given none); the others are appended as SipHeader objects.
_SIPPY_CORE = ("via", "from", "to", "call-id", "cseq", "max-forwards", "user-agent", "content-type")


def sippy_prepare(spec: Spec) -> tuple[Any, ...]:
    """The core headers apart, and sippy's classes (looked up here, not in the timing)."""
    c = SimpleNamespace(**{name: getattr(sippy[name], name) for name in SIPPY_CLASSES})
    method, uri, headers, body = spec
    core: dict[str, str] = {}
    extra = []
    for n, v in headers:
        if n.lower() in _SIPPY_CORE and n.lower() not in core:
            core[n.lower()] = v
        else:
            extra.append((n, v))
    return c, method, uri, core, extra, body.decode()


def sippy_build(prepared: tuple[Any, ...]) -> bytes:
    c, method, uri, core, extra, body = prepared
    m = c.SipRequest(
        method=method,
        ruri=c.SipURL(uri),
        via=c.SipVia(core["via"]),
        fr0m=c.SipFrom(core["from"]),
        to=c.SipTo(core["to"]),
        callid=c.SipCallId(core["call-id"]),
        cseq=int(core["cseq"].split()[0]),
        maxforwards=c.SipMaxForwards(core["max-forwards"]),
        user_agent=core["user-agent"],
        body=c.MsgBody(body, c.SipContentType(core["content-type"])) if body else None,
    )
    m.delHFs("expires")  # the constructor adds Expires to every INVITE
    for n, v in extra:
        m.appendHeader(c.SipHeader(name=n, bodys=v))
    return str(m).encode()


def _same(spec: Spec) -> Spec:
    return spec


BUILDERS: dict[str, tuple[str | None, Callable[[Spec], Any], Callable[[Any], bytes]]] = {
    # name: (module to import or None, prepare, build)
    "sipwire": (None, _same, sipwire_build),
    "join baseline": (None, _same, join_build),
    "sippy": ("sippy", sippy_prepare, sippy_build),
    "sipmessage": ("sipmessage", _same, sipmessage_build),
    "aiosipua": ("aiosipua", _same, aiosipua_build),
    "dpkt": ("dpkt", _same, dpkt_build),
}


# --- parse + edit + serialize ----------------------------------------------------------------


def sipwire_edit(data: bytes) -> bytes:
    m = sipwire.parse(data)
    return bytes(m.replace_header("Max-Forwards", str(m.max_forwards - 1)))


def split_edit(data: bytes) -> bytes:
    """The baseline: split the head into lines, rewrite the one line, join. No parsing."""
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    for i, line in enumerate(lines):
        if line[:13].lower() == b"max-forwards:":
            lines[i] = b"Max-Forwards: %d" % (int(line[13:]) - 1)
            break
    return b"\r\n".join(lines) + sep + body


def sippy_edit(data: bytes) -> bytes:
    m = sippy["SipRequest"].SipRequest(buf=data.decode())
    m.getHFBody("max-forwards").incNum(-1)
    return str(m).encode()


def sipmessage_edit(data: bytes) -> bytes:
    m = sipmessage.Message.parse(data)
    m.max_forwards -= 1
    return bytes(m)


def aiosipua_edit(data: bytes) -> bytes:
    m = aiosipua.SipMessage.parse(data)
    m.set_header("Max-Forwards", str(int(m.get_header("Max-Forwards")) - 1))
    return bytes(m)


def dpkt_edit(data: bytes) -> bytes:
    r = dpkt.sip.Request(data)
    r.headers["max-forwards"] = str(int(r.headers["max-forwards"]) - 1)
    return bytes(r)


EDITORS: dict[str, tuple[str | None, Callable[[bytes], bytes]]] = {
    "sipwire": (None, sipwire_edit),
    "split baseline": (None, split_edit),
    "sippy": ("sippy", sippy_edit),
    "sipmessage": ("sipmessage", sipmessage_edit),
    "aiosipua": ("aiosipua", aiosipua_edit),
    "dpkt": ("dpkt", dpkt_edit),
}


# --- the checks ------------------------------------------------------------------------------


def _difference(want: tuple[Any, ...], got: tuple[Any, ...]) -> str:
    if want[0] != got[0]:
        return f"start line {got[0]!r}, expected {want[0]!r}"
    for name in dict.fromkeys([*want[1], *got[1]]):
        if want[1].get(name) != got[1].get(name):
            return f"{name}: {got[1].get(name)!r}, expected {want[1].get(name)!r}"
    return "body differs"


def _check_output(name: str, out: bytes, expected: bytes, must_pass: bool) -> bool:
    """Checks the output is the expected message; returns whether it is byte-exact."""
    want = canonical(expected)
    try:
        got = canonical(out)
    except sipwire.ParseError as e:
        line = out.split(b"\r\n")[e.line - 1][:72]
        reason = f"{name} writes something that is not a SIP message: {e}; the line: {line!r}"
    else:
        if got == want:
            return out == expected
        reason = f"{name} writes a different message: {_difference(want, got)}"
    if must_pass:
        raise AssertionError(reason)
    pytest.skip(reason)


def _run_once(name: str, fn: Callable[[Any], bytes], arg: Any, size: str) -> bytes:
    try:
        return fn(arg)
    except Exception as e:  # a peer's failure is a finding, reported as the skip reason
        pytest.skip(f"{name} fails on benches/data/{size}.sip: {type(e).__name__}: {e}")


# --- the cases -------------------------------------------------------------------------------


@pytest.mark.parametrize("library", list(BUILDERS))
@pytest.mark.benchmark(group=BUILD_GROUP)
def test_build(benchmark: Any, size: str, library: str) -> None:
    module, prepare, build = BUILDERS[library]
    if module:
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -e .[bench])")
    data = MESSAGES[size]
    arg = prepare(spec_of(data))
    out = _run_once(library, build, arg, size)
    exact = _check_output(library, out, data, must_pass=module is None)
    label(benchmark, BUILD_GROUP, size, library)
    benchmark.extra_info["byte_exact"] = exact
    benchmark(build, arg)


@pytest.mark.parametrize("library", list(EDITORS))
@pytest.mark.benchmark(group=EDIT_GROUP)
def test_edit(benchmark: Any, size: str, library: str) -> None:
    module, edit = EDITORS[library]
    if module:
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -e .[bench])")
    data = MESSAGES[size]
    out = _run_once(library, edit, data, size)
    exact = _check_output(library, out, decremented(data), must_pass=module is None)
    label(benchmark, EDIT_GROUP, size, library)
    benchmark.extra_info["byte_exact"] = exact
    benchmark(edit, data)
