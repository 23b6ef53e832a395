"""Parse a ~300 B audio SDP body and read each stream's port, direction and codecs
(payload type, encoding name, clock rate): sipwire against sdp-transform and sippy's SdpBody.

Each case returns ``[(port, direction, [(pt, name, rate), ...]), ...]`` in the library's own
types; ``_normalize`` checks it against ``conftest.EXPECTED_SDP`` once, untimed. The peers
give raw attributes, so their cases do what a user of them writes: the direction is the
stream's own attribute, else the session's, else sendrecv (RFC 8866 §6.7); codecs follow the
m= format order, with a=rtpmap looked up for each.

Run: ``.venv/bin/python -m pytest benches --benchmark-only -q``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import EXPECTED_SDP, optional

import sipwire

sdp_transform = optional("sdp_transform")
sippy_sdp = optional("sippy.SdpBody")

GROUP = "sdp: parse + streams"
GROUP_PARSE = "sdp: parse only"
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


def _require_sipwire_sdp() -> None:
    if not callable(getattr(sipwire.sdp, "parse", None)):
        pytest.skip(
            "sipwire.sdp.parse does not exist yet (the SDP Python binding is being written); "
            "this case runs as soon as it lands"
        )


# --- the cases -------------------------------------------------------------------------------


def sipwire_streams(data: bytes) -> list[Any]:
    sd = sipwire.sdp.parse(data)  # type: ignore[attr-defined]
    return [
        (m.port, m.direction, [(c.payload_type, c.name, c.clock_rate) for c in m.codecs])
        for m in sd.media
    ]


def sdp_transform_streams(data: bytes) -> list[Any]:
    sd = sdp_transform.parse(data.decode())  # parses str
    session_dir = sd.get("direction", "sendrecv")
    out = []
    for m in sd["media"]:
        rtp = {r["payload"]: r for r in m.get("rtp", ())}
        codecs = []
        for pt in str(m["payloads"]).split():
            r = rtp.get(int(pt))
            codecs.append((int(pt), r["codec"], r["rate"]) if r else (int(pt), "", 0))
        out.append((m["port"], m.get("direction", session_dir), codecs))
    return out


def _sippy_direction(a_headers: Any) -> str | None:
    for a in a_headers:
        if a.name in DIRECTIONS:
            return str(a.name)
    return None


def sippy_streams(data: bytes) -> list[Any]:
    sd = sippy_sdp.SdpBody(data.decode())  # parses str
    session_dir = _sippy_direction(sd.a_headers) or "sendrecv"
    out = []
    for s in sd.sections:
        rtpmap = {}
        for a in s.a_headers:
            if a.name == "rtpmap":
                pt, enc = a.value.split(" ", 1)
                name, rate = enc.split("/")[:2]
                rtpmap[int(pt)] = (name, int(rate))
        codecs = []
        for pt in s.m_header.formats:
            name, rate = rtpmap.get(pt, ("", 0))
            codecs.append((pt, name, rate))
        out.append((s.m_header.port, _sippy_direction(s.a_headers) or session_dir, codecs))
    return out


def _direction_name(d: Any) -> str:
    """A direction as a lower-case name, whether the library gives a str or an enum."""
    d = getattr(d, "value", d) if not isinstance(d, str) else d
    return str(d).rsplit(".", 1)[-1].lower()


def _normalize(streams: list[Any]) -> list[Any]:
    return [
        (int(port), _direction_name(d), [(int(pt), str(n), int(r)) for pt, n, r in codecs])
        for port, d, codecs in streams
    ]


def _checked(name: str, fn: Callable[[bytes], list[Any]], data: bytes) -> None:
    try:
        got = _normalize(fn(data))
    except Exception as e:  # a peer's failure is a finding, reported as the skip reason
        pytest.skip(f"{name} fails on benches/data/sdp_audio.sdp: {type(e).__name__}: {e}")
    assert got == EXPECTED_SDP, f"{name} read {got}, expected {EXPECTED_SDP}"


# --- parse + streams -------------------------------------------------------------------------


@pytest.mark.benchmark(group=GROUP)
def test_sdp_sipwire(benchmark: Any, sdp_body: bytes) -> None:
    _require_sipwire_sdp()
    _checked("sipwire.sdp", sipwire_streams, sdp_body)
    benchmark(sipwire_streams, sdp_body)


@pytest.mark.benchmark(group=GROUP)
def test_sdp_transform(benchmark: Any, sdp_body: bytes) -> None:
    pytest.importorskip("sdp_transform", reason="pip install sdp-transform")
    _checked("sdp-transform", sdp_transform_streams, sdp_body)
    benchmark(sdp_transform_streams, sdp_body)


@pytest.mark.benchmark(group=GROUP)
def test_sdp_sippy(benchmark: Any, sdp_body: bytes) -> None:
    pytest.importorskip("sippy", reason="pip install sippy")
    _checked("sippy SdpBody", sippy_streams, sdp_body)
    benchmark(sippy_streams, sdp_body)


# --- parse only ------------------------------------------------------------------------------


@pytest.mark.benchmark(group=GROUP_PARSE)
def test_sdp_parse_only_sipwire(benchmark: Any, sdp_body: bytes) -> None:
    _require_sipwire_sdp()
    benchmark(sipwire.sdp.parse, sdp_body)  # type: ignore[attr-defined]


@pytest.mark.benchmark(group=GROUP_PARSE)
def test_sdp_parse_only_transform(benchmark: Any, sdp_body: bytes) -> None:
    sdp_transform = pytest.importorskip("sdp_transform")
    benchmark(lambda d: sdp_transform.parse(d.decode()), sdp_body)


@pytest.mark.benchmark(group=GROUP_PARSE)
def test_sdp_parse_only_sippy(benchmark: Any, sdp_body: bytes) -> None:
    pytest.importorskip("sippy")
    body = sippy_sdp.SdpBody
    benchmark(lambda d: body(d.decode()), sdp_body)
