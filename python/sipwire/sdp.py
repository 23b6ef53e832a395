"""SDP (RFC 8866): parse, answer, hold.

>>> sd = sipwire.sdp.parse(body)                    # or msg.sdp
>>> [(m.kind, m.port, m.direction, [c.name for c in m.codecs]) for m in sd.media]
>>> reply = sipwire.sdp.answer(sd, [LocalMedia("audio", 49170, ["PCMU/8000"])],
...                            address="192.0.2.5")
>>> held = sipwire.sdp.hold(my_last_offer)          # o= version + 1, a=sendonly
>>> bytes(sd) == body                               # byte-exact for parsed descriptions

Offsets (``ParseError.offset``, ``Diagnostic.offset``, ``Attribute.offset``) are into the
bytes that were parsed: the body for :func:`parse`, the whole message for ``msg.sdp``.
"""

from sipwire._sipwire import (
    Attribute,
    Candidate,
    Codec,
    Connection,
    Crypto,
    Fingerprint,
    Fmtp,
    Group,
    LocalCodec,
    LocalMedia,
    Media,
    MediaBuilder,
    Origin,
    Rtcp,
    Rtpmap,
    SessionBuilder,
    SessionDescription,
    Ssrc,
    TelephoneEvent,
)
from sipwire._sipwire import sdp_answer as answer
from sipwire._sipwire import sdp_changes_anything as changes_anything
from sipwire._sipwire import sdp_hold as hold
from sipwire._sipwire import sdp_offer_changes as offer_changes
from sipwire._sipwire import sdp_parse as parse
from sipwire._sipwire import sdp_resume as resume

__all__ = [
    "Attribute",
    "Candidate",
    "Codec",
    "Connection",
    "Crypto",
    "Fingerprint",
    "Fmtp",
    "Group",
    "LocalCodec",
    "LocalMedia",
    "Media",
    "MediaBuilder",
    "Origin",
    "Rtcp",
    "Rtpmap",
    "SessionBuilder",
    "SessionDescription",
    "Ssrc",
    "TelephoneEvent",
    "answer",
    "changes_anything",
    "hold",
    "offer_changes",
    "parse",
    "resume",
]
