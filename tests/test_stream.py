"""Stream framing from Python: split, merged, keep-alives, resync."""

from __future__ import annotations

import pytest

import sipwire

MSG = (
    b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\n"
    b"From: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 3\r\n\r\nabc"
)


def test_byte_by_byte_and_merged() -> None:
    p = sipwire.StreamParser()
    got = []
    for i in range(len(MSG)):
        p.feed(MSG[i : i + 1])
        got.extend(p)
    assert [bytes(m) for m in got] == [MSG]
    p.feed(b"\r\n\r\n" + MSG + MSG + b"\r\n")
    got = list(p)
    assert [bytes(m) for m in got] == [MSG, MSG]
    # The last CRLF waits for the next byte: a pong, or the first half of a ping.
    assert (p.pings, p.pongs, p.buffered) == (1, 0, 2)
    p.feed(MSG[:3])
    assert list(p) == []
    assert (p.pings, p.pongs, p.buffered) == (1, 1, 3)
    assert got[0].body == b"abc"


def test_missing_content_length_and_resync() -> None:
    p = sipwire.StreamParser()
    p.feed(b"OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n\r\n" + MSG)
    with pytest.raises(sipwire.ParseError) as e:
        next(p)
    assert e.value.kind == "missing_content_length"
    assert [bytes(m) for m in p] == [MSG]
    assert p.skipped > 0


def test_garbage_then_message() -> None:
    p = sipwire.StreamParser()
    p.feed(b"\x16\x03\x01\x02 not sip\r\n" + MSG)
    with pytest.raises(sipwire.ParseError) as e:
        next(p)
    assert e.value.kind == "garbage"
    assert len(list(p)) == 1
