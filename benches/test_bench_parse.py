"""Parse a SIP message and read eight fields: sipwire against Python peers, on three messages
(``conftest.SIZES``): an in-dialog BYE (502 B), an INVITE with SDP (1029 B) and an INVITE
through an IMS core with an audio+video SDP (4085 B).

The fields: method, Request-URI, Call-ID, CSeq (number and method), From tag, To tag, top Via
branch, Content-Length. Each case returns what its library hands out for them (a URI object
where the library has one, strings elsewhere); ``_normalize`` turns that into
``conftest.EXPECTED_FIELDS[size]`` once, outside the timing, so every case is checked to have
read the right values before it is timed. A peer that fails on a message is skipped with the
reason (and recorded in ``benches/README.md``), never dropped silently.

Run: ``.venv/bin/python -m pytest benches --benchmark-only -q``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import EXPECTED_FIELDS, EXPECTED_SDP, MESSAGES, label, optional

import sipwire

dpkt = optional("dpkt")
sipmessage = optional("sipmessage")
sippy_request = optional("sippy.SipRequest")
aiosipua = optional("aiosipua")

BATCH = 100
PARSE_GROUP = "parse + eight fields"
PARSE_ONLY_GROUP = "parse only"
SDP_GROUP = "parse + eight fields + SDP streams"
DIRECTIONS = (b"sendrecv", b"sendonly", b"recvonly", b"inactive")

# --- the cases: each parses the bytes and reads the eight fields ------------------------------


def sipwire_fields(data: bytes) -> tuple[Any, ...]:
    return sipwire_msg_fields(sipwire.parse(data))


def sipwire_shortcut_fields(data: bytes) -> tuple[Any, ...]:
    """The same fields through the message's shortcuts (no CSeq, name-addr or Via objects)."""
    m = sipwire.parse(data)
    return (
        m.method,
        m.uri,
        m.call_id,
        m.cseq_number,
        m.cseq_method,
        m.from_tag,
        m.to_tag,
        m.branch,
        m.content_length,
    )


def sipwire_validated_fields(data: bytes) -> tuple[Any, ...]:
    """Every typed header checked at parse time (validate=True), then the same fields."""
    return sipwire_msg_fields(sipwire.parse(data, validate=True))


def sipwire_msg_fields(m: Any) -> tuple[Any, ...]:
    cseq = m.cseq
    return (
        m.method,
        m.uri,
        m.call_id,
        cseq.seq,
        cseq.method,
        m.from_.tag,
        m.to.tag,
        m.via[0].branch,
        m.content_length,
    )


def sipwire_batch_fields(batch: list[bytes]) -> list[tuple[Any, ...]]:
    return [sipwire_msg_fields(m) for m in sipwire.parse_batch(batch)]


def sippy_fields(data: bytes) -> tuple[Any, ...]:
    # sippy parses str; the decode is part of what a sippy user pays.
    m = sippy_request.SipRequest(buf=data.decode())
    cseq = m.getHFBody("cseq")
    return (
        m.getMethod(),
        m.getRURI(),
        m.getHFBody("call-id").body,
        cseq.cseq,
        cseq.method,
        m.getHFBody("from").getTag(),
        m.getHFBody("to").getTag(),
        m.getHFBody("via").getBranch(),
        # sippy keeps Content-Length aside (it frames the body with it) and has no accessor.
        m._SipMsg__content_length.getBody().number,
    )


def sipmessage_fields(data: bytes) -> tuple[Any, ...]:
    m = sipmessage.Message.parse(data)
    cseq = m.cseq
    return (
        m.method,
        m.uri,
        m.call_id,
        cseq.sequence,
        cseq.method,
        m.from_address.parameters.get("tag"),
        m.to_address.parameters.get("tag"),
        m.via[0].parameters.get("branch"),
        m.content_length,
    )


def aiosipua_fields(data: bytes) -> tuple[Any, ...]:
    # Decodes the head, unfolds, splits list headers (Via, Allow, ...) at their commas into a
    # case-insensitive dict of str lists; the typed accessors parse on every access (``via``
    # parses every Via, not just the top one).
    m = aiosipua.SipMessage.parse(data)
    cseq = m.cseq
    return (
        m.method,
        m.uri,
        m.call_id,
        cseq.seq,
        cseq.method,
        m.from_addr.tag,
        m.to_addr.tag,
        m.via[0].branch,
        m.content_length,
    )


def _param(value: str, name: str) -> str | None:
    """A header parameter picked by hand: after the ``>`` of a name-addr, up to the next ``;``
    or ``,`` (what a user of a library that only splits headers writes)."""
    tail = value[value.rfind(">") + 1 :] if "<" in value else value
    tail = tail.split(",", 1)[0]
    for p in tail.split(";")[1:]:
        k, _, v = p.partition("=")
        if k.strip().lower() == name:
            return v.strip()
    return None


def dpkt_fields(data: bytes) -> tuple[Any, ...]:
    r = dpkt.sip.Request(data)
    h = r.headers
    via = h["via"]
    top_via = via[0] if isinstance(via, list) else via
    cseq_num, cseq_method = h["cseq"].split()
    return (
        r.method,
        r.uri,
        h["call-id"],
        int(cseq_num),
        cseq_method,
        _param(h["from"], "tag"),
        _param(h["to"], "tag"),
        _param(top_via, "branch"),
        int(h["content-length"]),
    )


def _bparam(value: bytes, name: bytes) -> bytes | None:
    tail = value[value.rfind(b">") + 1 :] if b"<" in value else value
    tail = tail.split(b",", 1)[0]
    for p in tail.split(b";")[1:]:
        k, _, v = p.partition(b"=")
        if k.strip().lower() == name:
            return v.strip()
    return None


def split_loop_fields(data: bytes) -> tuple[Any, ...]:
    """The bare loop: split off the body, split lines, split each at its first colon, keep the
    first value of each lower-cased name, pick the fields. No validation, no compact names,
    no folding; the eight fields are decoded to str like everyone else's."""
    head, _, _body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    method, uri, _version = lines[0].split(b" ")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, value = line.split(b":", 1)
        headers.setdefault(name.strip().lower(), value.strip())
    cseq_num, cseq_method = headers[b"cseq"].split()
    from_tag = _bparam(headers[b"from"], b"tag")
    to_tag = _bparam(headers[b"to"], b"tag")
    branch = _bparam(headers[b"via"], b"branch")
    return (
        method.decode(),
        uri.decode(),
        headers[b"call-id"].decode(),
        int(cseq_num),
        cseq_method.decode(),
        from_tag.decode() if from_tag is not None else None,
        to_tag.decode() if to_tag is not None else None,
        branch.decode() if branch is not None else None,
        int(headers[b"content-length"]),
    )


def _normalize(f: tuple[Any, ...]) -> tuple[Any, ...]:
    method, uri, call_id, seq, cseq_method, ftag, ttag, branch, clen = f
    return (
        str(method),
        str(uri),
        str(call_id),
        (int(seq), str(cseq_method)),
        ftag,
        ttag,
        branch,
        int(clen),
    )


def _checked(name: str, fn: Callable[[bytes], tuple[Any, ...]], size: str) -> bytes:
    """Runs `fn` once untimed on the message; skips (with the reason) if the peer fails on
    it. Returns the message."""
    data = MESSAGES[size]
    try:
        got = _normalize(fn(data))
    except Exception as e:  # a peer's failure is a finding, reported as the skip reason
        pytest.skip(f"{name} fails on benches/data/{size}.sip: {type(e).__name__}: {e}")
    assert got == EXPECTED_FIELDS[size], f"{name} read {got}, expected {EXPECTED_FIELDS[size]}"
    return data


def _copies(data: bytes) -> list[bytes]:
    """BATCH distinct copies of the message (not one object repeated)."""
    return [bytes(bytearray(data)) for _ in range(BATCH)]


PEERS: dict[str, tuple[str, Callable[[bytes], tuple[Any, ...]]]] = {
    "sippy": ("sippy", sippy_fields),
    "sipmessage": ("sipmessage", sipmessage_fields),
    "dpkt": ("dpkt", dpkt_fields),
    "aiosipua": ("aiosipua", aiosipua_fields),
}

# --- the same, and the SDP body's streams (port, direction, codecs) --------------------------
# On the 1 KB INVITE, whose body is benches/data/sdp_audio.sdp (checked against EXPECTED_SDP).


def _sipwire_streams(m: Any) -> list[Any]:
    return [
        (s.port, s.direction, [(c.payload_type, c.name, c.clock_rate) for c in s.codecs])
        for s in m.sdp.media
    ]


def sipwire_sdp_fields(data: bytes) -> tuple[Any, ...]:
    m = sipwire.parse(data)
    return (*sipwire_msg_fields(m), _sipwire_streams(m))


def sipwire_shortcut_sdp_fields(data: bytes) -> tuple[Any, ...]:
    m = sipwire.parse(data)
    return (
        m.method,
        m.uri,
        m.call_id,
        m.cseq_number,
        m.cseq_method,
        m.from_tag,
        m.to_tag,
        m.branch,
        m.content_length,
        _sipwire_streams(m),
    )


def _split_sdp(body: bytes) -> list[Any]:
    """The SDP by hand: m= lines start streams; a=rtpmap and a direction attribute per stream,
    else the session's, else sendrecv."""
    streams: list[Any] = []
    session_dir = b"sendrecv"
    for line in body.split(b"\r\n"):
        if line.startswith(b"m="):
            _kind, port, _proto, *fmts = line[2:].split(b" ")
            streams.append([int(port), None, [int(f) for f in fmts], {}])
        elif line.startswith(b"a=rtpmap:") and streams:
            pt, enc = line[9:].split(b" ", 1)
            name, rate = enc.split(b"/")[:2]
            streams[-1][3][int(pt)] = (name.decode(), int(rate))
        elif line[2:] in DIRECTIONS and line.startswith(b"a="):
            if streams:
                streams[-1][1] = line[2:]
            else:
                session_dir = line[2:]
    return [
        ((port), (d or session_dir).decode(), [(pt, *rtpmap.get(pt, ("", 0))) for pt in fmts])
        for port, d, fmts, rtpmap in streams
    ]


def split_loop_sdp_fields(data: bytes) -> tuple[Any, ...]:
    return (*split_loop_fields(data), _split_sdp(data.partition(b"\r\n\r\n")[2]))


def sippy_sdp_fields(data: bytes) -> tuple[Any, ...]:
    m = sippy_request.SipRequest(buf=data.decode())
    cseq = m.getHFBody("cseq")
    body = m.getBody()
    body.parse()
    sd = body.content
    session_dir = _sippy_direction(sd.a_headers) or "sendrecv"
    streams = []
    for sec in sd.sections:
        rtpmap = {}
        for a in sec.a_headers:
            if a.name == "rtpmap":
                pt, enc = a.value.split(" ", 1)
                name, rate = enc.split("/")[:2]
                rtpmap[int(pt)] = (name, int(rate))
        codecs = [(pt, *rtpmap.get(pt, ("", 0))) for pt in sec.m_header.formats]
        streams.append((sec.m_header.port, _sippy_direction(sec.a_headers) or session_dir, codecs))
    return (
        m.getMethod(),
        m.getRURI(),
        m.getHFBody("call-id").body,
        cseq.cseq,
        cseq.method,
        m.getHFBody("from").getTag(),
        m.getHFBody("to").getTag(),
        m.getHFBody("via").getBranch(),
        m._SipMsg__content_length.getBody().number,
        streams,
    )


def _sippy_direction(a_headers: Any) -> str | None:
    for a in a_headers:
        if a.name in ("sendrecv", "sendonly", "recvonly", "inactive"):
            return str(a.name)
    return None


def _checked_sdp(name: str, fn: Callable[[bytes], tuple[Any, ...]]) -> bytes:
    data = MESSAGES["invite_1k"]
    try:
        got = fn(data)
        fields, streams = (
            _normalize(got[:-1]),
            [
                (
                    int(p),
                    str(d).rsplit(".", 1)[-1].lower(),
                    [(int(a), str(b), int(c)) for a, b, c in cs],
                )
                for p, d, cs in got[-1]
            ],
        )
    except Exception as e:  # a peer's failure is a finding, reported as the skip reason
        pytest.skip(f"{name} fails on benches/data/invite_1k.sip: {type(e).__name__}: {e}")
    assert fields == EXPECTED_FIELDS["invite_1k"], f"{name} read {fields}"
    assert streams == EXPECTED_SDP, f"{name} read {streams}, expected {EXPECTED_SDP}"
    return data


SDP_CASES: dict[str, tuple[str | None, Callable[[bytes], tuple[Any, ...]]]] = {
    "sipwire (objects)": (None, sipwire_sdp_fields),
    "sipwire (shortcuts)": (None, sipwire_shortcut_sdp_fields),
    "split loop": (None, split_loop_sdp_fields),
    "sippy": ("sippy", sippy_sdp_fields),
}


@pytest.mark.parametrize("case", list(SDP_CASES))
@pytest.mark.benchmark(group=SDP_GROUP)
def test_with_sdp(benchmark: Any, case: str) -> None:
    module, fn = SDP_CASES[case]
    if module:
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -e .[bench])")
    data = _checked_sdp(case, fn)
    label(benchmark, SDP_GROUP, "invite_1k", case)
    benchmark(fn, data)


# --- parse + eight fields --------------------------------------------------------------------


@pytest.mark.benchmark(group=PARSE_GROUP)
def test_sipwire(benchmark: Any, size: str) -> None:
    data = _checked("sipwire", sipwire_fields, size)
    label(benchmark, PARSE_GROUP, size, "sipwire (objects)")
    benchmark(sipwire_fields, data)


@pytest.mark.benchmark(group=PARSE_GROUP)
def test_sipwire_shortcuts(benchmark: Any, size: str) -> None:
    data = _checked("sipwire shortcuts", sipwire_shortcut_fields, size)
    label(benchmark, PARSE_GROUP, size, "sipwire (shortcuts)")
    benchmark(sipwire_shortcut_fields, data)


@pytest.mark.benchmark(group=PARSE_GROUP)
def test_sipwire_validated(benchmark: Any, size: str) -> None:
    data = _checked("sipwire validated", sipwire_validated_fields, size)
    label(benchmark, PARSE_GROUP, size, "sipwire (validated)")
    benchmark(sipwire_validated_fields, data)


@pytest.mark.benchmark(group=PARSE_GROUP)
def test_sipwire_parse_batch100(benchmark: Any, size: str) -> None:
    """parse_batch over 100 distinct copies, then the eight fields of each; the summary
    divides by 100 (time per message)."""
    batch = _copies(MESSAGES[size])
    got = sipwire_batch_fields(batch)
    assert len(got) == BATCH and all(_normalize(g) == EXPECTED_FIELDS[size] for g in got)
    label(benchmark, PARSE_GROUP, size, "sipwire parse_batch (objects)", messages=BATCH)
    benchmark(sipwire_batch_fields, batch)


@pytest.mark.parametrize("peer", list(PEERS))
@pytest.mark.benchmark(group=PARSE_GROUP)
def test_peer(benchmark: Any, size: str, peer: str) -> None:
    module, fn = PEERS[peer]
    pytest.importorskip(module, reason=f"{module} is not installed (pip install -e .[bench])")
    data = _checked(peer, fn, size)
    label(benchmark, PARSE_GROUP, size, peer)
    benchmark(fn, data)


@pytest.mark.benchmark(group=PARSE_GROUP)
def test_split_loop(benchmark: Any, size: str) -> None:
    data = _checked("split loop", split_loop_fields, size)
    label(benchmark, PARSE_GROUP, size, "split loop")
    benchmark(split_loop_fields, data)


# --- the interpreter's own part of the objects case -------------------------------------------
# The eight fields through the objects, read again from one message whose fields were read
# already (every slot filled, every value made): a call, thirteen attribute reads, a subscript
# and the tuple, with no parsing and no value made. Parse only plus this is the least the
# objects case could take if finding and making every value cost nothing: the bound on its
# ratio to the split loop and to sippy (see benches/README.md, the object path).

READ_AGAIN_GROUP = "eight fields read again"


@pytest.mark.benchmark(group=READ_AGAIN_GROUP)
def test_fields_read_again_sipwire(benchmark: Any, size: str) -> None:
    m = sipwire.parse(MESSAGES[size])
    assert _normalize(sipwire_msg_fields(m)) == EXPECTED_FIELDS[size]
    label(benchmark, READ_AGAIN_GROUP, size, "sipwire objects, values made already")
    benchmark(sipwire_msg_fields, m)


# --- parse only (where the time goes: the parse call versus reading fields) -------------------
# Each library's parse call alone, on the message its parse + fields case was checked on.


@pytest.mark.benchmark(group=PARSE_ONLY_GROUP)
def test_parse_only_sipwire(benchmark: Any, size: str) -> None:
    label(benchmark, PARSE_ONLY_GROUP, size, "sipwire")
    benchmark(sipwire.parse, MESSAGES[size])


@pytest.mark.benchmark(group=PARSE_ONLY_GROUP)
def test_parse_only_sipwire_parse_batch100(benchmark: Any, size: str) -> None:
    label(benchmark, PARSE_ONLY_GROUP, size, "sipwire parse_batch", messages=BATCH)
    benchmark(sipwire.parse_batch, _copies(MESSAGES[size]))


@pytest.mark.benchmark(group=PARSE_ONLY_GROUP)
def test_parse_only_sippy(benchmark: Any, size: str) -> None:
    pytest.importorskip("sippy")
    request = sippy_request.SipRequest
    label(benchmark, PARSE_ONLY_GROUP, size, "sippy")
    benchmark(lambda d: request(buf=d.decode()), MESSAGES[size])


@pytest.mark.benchmark(group=PARSE_ONLY_GROUP)
def test_parse_only_sipmessage(benchmark: Any, size: str) -> None:
    sipmessage = pytest.importorskip("sipmessage")
    label(benchmark, PARSE_ONLY_GROUP, size, "sipmessage")
    benchmark(sipmessage.Message.parse, MESSAGES[size])


@pytest.mark.benchmark(group=PARSE_ONLY_GROUP)
def test_parse_only_dpkt(benchmark: Any, size: str) -> None:
    dpkt = pytest.importorskip("dpkt")
    label(benchmark, PARSE_ONLY_GROUP, size, "dpkt")
    benchmark(dpkt.sip.Request, MESSAGES[size])


@pytest.mark.benchmark(group=PARSE_ONLY_GROUP)
def test_parse_only_aiosipua(benchmark: Any, size: str) -> None:
    aiosipua = pytest.importorskip("aiosipua")
    label(benchmark, PARSE_ONLY_GROUP, size, "aiosipua")
    benchmark(aiosipua.SipMessage.parse, MESSAGES[size])
