"""Hypothesis strategies for SIP, for property tests and fuzzing campaigns.

Valid by construction: every value the strategies below produce is one sipwire parses back
equal (``sipwire.parse(bytes(m)) == m``)::

    from hypothesis import given
    from sipwire import strategies as sips

    @given(sips.requests(method="INVITE"))
    def test_my_proxy(req): ...

Broken on purpose: :func:`hostile` applies the bad-input classes of sipwire's design (each
selectable by name, see :data:`HOSTILE_CLASSES`) to messages from another strategy and yields
the bytes, for campaigns against SIP servers. The classes themselves live in
:mod:`sipwire.mutations`, which ``sipwire fuzz`` (:mod:`sipwire.campaign`) drives with a seeded
``random.Random`` instead.

The strategies are registered with hypothesis (``st.from_type(sipwire.Request)`` works) through
the ``hypothesis`` entry point when hypothesis is installed. Hypothesis is an optional extra:
importing this module without it raises ImportError with the install command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar, Union

import sipwire
from sipwire import mutations as _mutations
from sipwire import sdp as _sdp


def _hypothesis_setup_hook() -> None:
    """Hypothesis's entry point. Defined before hypothesis is imported: importing it loads
    this module's entry point, and when that import is the one just below, this module is
    half-built; it then registers itself at its end instead."""
    if "_register" in globals():
        _register()


try:
    from hypothesis import strategies as st
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "sipwire.strategies needs hypothesis: pip install 'sipwire[test]' (or hypothesis)"
    ) from e

Message = Union[sipwire.Request, sipwire.Response]
_T = TypeVar("_T")

__all__ = [
    "HOSTILE_CLASSES",
    "display_names",
    "hostile",
    "hosts",
    "messages",
    "multiparts",
    "name_addrs",
    "requests",
    "responses",
    "sdps",
    "tokens",
    "uris",
    "vias",
]

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# RFC 3261 §25.1
_TOKEN = _ALNUM + "-.!%*_+`'~"
_UNRESERVED = _ALNUM + "-_.!~*'()"
_USER = _UNRESERVED + "&=+$,;?/"
# uri-parameter: paramchar = param-unreserved / unreserved (escapes left out)
_URI_PARAM = _UNRESERVED + "[]/:&+$"
# generic-param names and token values; '%' left out so no escape is half-written
_TOKEN_NO_PCT = _ALNUM + "-.!*_+`'~"

METHODS = (
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "REGISTER",
    "OPTIONS",
    "INFO",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "MESSAGE",
    "REFER",
    "UPDATE",
)
TRANSPORTS = ("UDP", "TCP", "TLS", "SCTP", "WS", "WSS")


def tokens(min_size: int = 1, max_size: int = 16) -> st.SearchStrategy[str]:
    """RFC 3261 ``token``s."""
    return st.text(alphabet=_TOKEN, min_size=min_size, max_size=max_size)


def _chars(alphabet: str, min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=min_size, max_size=max_size)


@st.composite
def _domain(draw: st.DrawFn) -> str:
    labels = draw(
        st.lists(
            st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True),
            min_size=1,
            max_size=3,
        )
    )
    top = draw(st.from_regex(r"[a-z]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True))
    return ".".join([*labels, top])


def _ipv4() -> st.SearchStrategy[str]:
    return st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))


def _ipv6() -> st.SearchStrategy[str]:
    groups = st.lists(st.integers(0, 0xFFFF).map(lambda n: f"{n:x}"), min_size=8, max_size=8)
    full = groups.map(":".join)
    short = st.tuples(
        st.lists(st.integers(0, 0xFFFF).map(lambda n: f"{n:x}"), min_size=1, max_size=3),
        st.lists(st.integers(0, 0xFFFF).map(lambda n: f"{n:x}"), min_size=1, max_size=3),
    ).map(lambda t: ":".join(t[0]) + "::" + ":".join(t[1]))
    return st.one_of(full, short).map(lambda a: f"[{a}]")


def hosts() -> st.SearchStrategy[str]:
    """Domains, IPv4 addresses and bracketed IPv6 references (RFC 3261 §25.1, RFC 5118)."""
    return st.one_of(_domain(), _ipv4(), _ipv6())


def _params(names: str, values: str, max_size: int = 3) -> st.SearchStrategy[str]:
    """``;name[=value]`` lists with names and values from the given alphabets."""
    one = st.tuples(_chars(names, 1, 8), st.none() | _chars(values, 1, 10)).map(
        lambda t: f";{t[0]}" if t[1] is None else f";{t[0]}={t[1]}"
    )
    return st.lists(one, max_size=max_size, unique_by=lambda p: p.split("=")[0].lower()).map(
        "".join
    )


@st.composite
def _sip_uri(draw: st.DrawFn, scheme: str | None = None) -> str:
    sch = scheme or draw(st.sampled_from(["sip", "sips"]))
    user = draw(st.none() | _chars(_UNRESERVED + "&=+$,", 1, 12))
    host = draw(hosts())
    port = draw(st.none() | st.integers(1, 65535))
    params = draw(_params(_URI_PARAM, _URI_PARAM))
    out = f"{sch}:"
    if user is not None:
        out += user + "@"
    out += host
    if port is not None:
        out += f":{port}"
    return out + params


@st.composite
def _tel_uri(draw: st.DrawFn) -> str:
    digits = draw(st.from_regex(r"[0-9]{3,12}", fullmatch=True))
    return f"tel:+{digits}"


def uris(scheme: str | None = None) -> st.SearchStrategy[str]:
    """URI text: SIP and SIPS URIs (user, host, port, parameters), or tel URIs."""
    if scheme in ("sip", "sips"):
        return _sip_uri(scheme)
    if scheme == "tel":
        return _tel_uri()
    return st.one_of(_sip_uri(), _tel_uri())


def display_names() -> st.SearchStrategy[str]:
    """Quoted display names, with escaped quotes and backslashes, or tokens."""
    quoted = st.text(
        alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20
    ).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return st.one_of(quoted, tokens(1, 10))


@st.composite
def name_addrs(draw: st.DrawFn, tag: bool | None = None) -> str:
    """name-addr text (``"Name" <uri>;params``); ``tag=True`` always adds a tag."""
    dn = draw(st.none() | display_names())
    uri = draw(_sip_uri())
    with_tag = draw(st.booleans()) if tag is None else tag
    params = draw(
        _params(_TOKEN_NO_PCT, _TOKEN_NO_PCT, 2).filter(lambda p: ";tag" not in p.lower())
    )
    out = (f"{dn} " if dn else "") + f"<{uri}>" + params
    if with_tag:
        out += ";tag=" + draw(tokens(4, 12))
    return out


@st.composite
def vias(draw: st.DrawFn, transport: str | None = None) -> str:
    """Via values with an RFC 3261 branch, and rport/received in their forms (RFC 3581)."""
    tr = transport or draw(st.sampled_from(TRANSPORTS))
    host = draw(hosts())
    port = draw(st.none() | st.integers(1, 65535))
    out = f"SIP/2.0/{tr} {host}" + (f":{port}" if port else "")
    out += ";branch=z9hG4bK" + draw(tokens(4, 16))
    rport = draw(st.sampled_from(["", ";rport", f";rport={draw(st.integers(1, 65535))}"]))
    if draw(st.booleans()):
        out += f";received={draw(_ipv4())}"
    return out + rport


@st.composite
def sdps(draw: st.DrawFn, media: int | None = None) -> bytes:
    """SDP bodies (RFC 8866) with audio/video streams, rtpmap, fmtp and directions."""
    addr = draw(_ipv4())
    sess = draw(st.integers(0, 2**32))
    n = media if media is not None else draw(st.integers(1, 3))
    lines = [
        "v=0",
        f"o={draw(tokens(1, 8))} {sess} {draw(st.integers(0, 2**32))} IN IP4 {addr}",
        "s=-",
        f"c=IN IP4 {addr}",
        "t=0 0",
    ]
    for _ in range(n):
        kind = draw(st.sampled_from(["audio", "video"]))
        port = draw(st.integers(1024, 65000))
        pts = draw(st.lists(st.integers(0, 127), min_size=1, max_size=4, unique=True))
        lines.append(f"m={kind} {port} RTP/AVP {' '.join(map(str, pts))}")
        for pt in pts:
            if pt >= 96:
                codec = draw(
                    st.sampled_from(["opus/48000/2", "telephone-event/8000", "H264/90000"])
                )
                lines.append(f"a=rtpmap:{pt} {codec}")
                if codec.startswith("telephone-event"):
                    lines.append(f"a=fmtp:{pt} 0-16")
        if draw(st.booleans()):
            lines.append(
                "a=" + draw(st.sampled_from(["sendrecv", "sendonly", "recvonly", "inactive"]))
            )
        if draw(st.booleans()):
            lines.append(f"a=ptime:{draw(st.sampled_from([10, 20, 30, 40]))}")
    return ("\r\n".join(lines) + "\r\n").encode()


@st.composite
def multiparts(draw: st.DrawFn) -> tuple[str, bytes]:
    """``(content_type, body)`` of a multipart/mixed body (RFC 5621) with an SDP part."""
    boundary = "b" + draw(st.from_regex(r"[A-Za-z0-9]{6,20}", fullmatch=True))
    parts = [("application/sdp", draw(sdps(media=1)))]
    for _ in range(draw(st.integers(0, 2))):
        parts.append(("text/plain", draw(st.binary(max_size=40)).hex().encode()))
    body = b""
    for ct, data in parts:
        body += f"--{boundary}\r\nContent-Type: {ct}\r\n\r\n".encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return f"multipart/mixed;boundary={boundary}", body


def _bytes_of_request(
    method: str,
    ruri: str,
    via_list: Sequence[str],
    from_: str,
    to: str,
    call_id: str,
    cseq: int,
    extra: Sequence[tuple[str, str]],
    ctype: str | None,
    body: bytes,
) -> bytes:
    head = [f"{method} {ruri} SIP/2.0"]
    head += [f"Via: {v}" for v in via_list]
    head += [
        "Max-Forwards: 70",
        f"From: {from_}",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
    ]
    head += [f"{n}: {v}" for n, v in extra]
    if ctype:
        head.append(f"Content-Type: {ctype}")
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _extra_headers() -> st.SearchStrategy[list[tuple[str, str]]]:
    value = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30)
    return st.lists(st.tuples(tokens(1, 12).map(lambda t: "X-" + t), value), max_size=4)


@st.composite
def _request_bytes(draw: st.DrawFn, method: str | None = None) -> bytes:
    m = method or draw(st.sampled_from(METHODS) | tokens(1, 12).map(str.upper))
    body = b""
    ctype = None
    if m in ("INVITE", "UPDATE", "PRACK") and draw(st.booleans()):
        ctype, body = "application/sdp", draw(sdps())
    elif m == "MESSAGE":
        ctype, body = "text/plain", draw(st.text(max_size=60)).encode()
    return _bytes_of_request(
        m,
        draw(_sip_uri()),
        draw(st.lists(vias(), min_size=1, max_size=3)),
        draw(name_addrs(tag=True)),
        draw(name_addrs(tag=False)),
        draw(tokens(4, 20)) + "@" + draw(_domain()),
        draw(st.integers(0, 2**31 - 1)),
        draw(_extra_headers()),
        ctype,
        body,
    )


def requests(method: str | None = None) -> st.SearchStrategy[sipwire.Request]:
    """Requests with any method (or the given one), valid by construction."""
    return _request_bytes(method).map(_parse_request)


def _parse_request(data: bytes) -> sipwire.Request:
    m = sipwire.parse(data)
    assert isinstance(m, sipwire.Request)
    return m


@st.composite
def _response_bytes(draw: st.DrawFn, status: int | None = None) -> bytes:
    req = draw(_request_bytes())
    code = status if status is not None else draw(st.integers(100, 699))
    reason = draw(st.text(alphabet=_ALNUM + " ", max_size=20))
    m = _parse_request(req)
    resp = m.response(code, reason, to_tag=draw(tokens(4, 12)))
    return bytes(resp)


def responses(status: int | None = None) -> st.SearchStrategy[sipwire.Response]:
    """Responses (any status 100-699, or the given one) to generated requests."""
    return _response_bytes(status).map(_parse_response)


def _parse_response(data: bytes) -> sipwire.Response:
    m = sipwire.parse(data)
    assert isinstance(m, sipwire.Response)
    return m


def messages() -> st.SearchStrategy[Message]:
    """Requests and responses."""
    return st.one_of(requests(), responses())


# --- hostile variants -------------------------------------------------------------------------


class _Draw:
    """A :class:`sipwire.mutations.Chooser` over a hypothesis draw, so hostile bytes shrink."""

    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw

    def choice(self, options: Sequence[_T]) -> _T:
        return self._draw(st.sampled_from(options))

    def integer(self, low: int, high: int) -> int:
        return self._draw(st.integers(low, high))

    def boolean(self) -> bool:
        return self._draw(st.booleans())

    def binary(self, min_size: int, max_size: int) -> bytes:
        return self._draw(st.binary(min_size=min_size, max_size=max_size))


_Mutator = Callable[[st.DrawFn, bytes], bytes]


def _drawn(mutation: _mutations.Mutation) -> _Mutator:
    return lambda draw, data: mutation(_Draw(draw), data)


HOSTILE_CLASSES: dict[str, _Mutator] = {
    name: _drawn(fn) for name, fn in _mutations.MUTATIONS.items()
}
"""The bad-input classes :func:`hostile` can apply, by name."""


@st.composite
def hostile(
    draw: st.DrawFn,
    base: st.SearchStrategy[Message] | None = None,
    classes: Sequence[str] | None = None,
    max_mutations: int = 2,
) -> bytes:
    """Bytes of a message from ``base`` (default :func:`messages`) broken by one or more of
    the bad-input ``classes`` (default: all of :data:`HOSTILE_CLASSES`)."""
    names = list(classes) if classes is not None else sorted(HOSTILE_CLASSES)
    unknown = [n for n in names if n not in HOSTILE_CLASSES]
    if unknown:
        raise ValueError(
            f"unknown hostile classes {unknown}; choose from {sorted(HOSTILE_CLASSES)}"
        )
    msg = draw(base if base is not None else messages())
    data = bytes(msg)
    for _ in range(draw(st.integers(1, max(1, max_mutations)))):
        data = HOSTILE_CLASSES[draw(st.sampled_from(names))](draw, data)
    return data


def _register() -> None:
    """Lets ``st.from_type`` build sipwire's types."""
    st.register_type_strategy(sipwire.Request, requests())
    st.register_type_strategy(sipwire.Response, responses())
    st.register_type_strategy(sipwire.Uri, uris().map(sipwire.parse_uri))
    st.register_type_strategy(_sdp.SessionDescription, sdps().map(_sdp.parse))


_register()
