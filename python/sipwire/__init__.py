"""sipwire: fast, correct SIP (RFC 3261) and SDP for Python, on a zero-copy Rust core.

>>> import sipwire
>>> msg = sipwire.parse(data)            # Request or Response, fields parsed when read
>>> msg.method, msg.call_id, msg.via[0].branch, msg.from_.tag

Errors: ``ParseError`` (a ``ValueError`` and a ``RemoteProtocolError``) carries ``kind``,
``offset``, ``line``, ``column`` and ``header``. ``LocalProtocolError`` is raised when the
caller asks for something illegal (a header value with CR, LF or NUL, say).
"""

from collections.abc import Sequence as _Sequence
from typing import TYPE_CHECKING, Any

from sipwire import correlate, sdp
from sipwire._sipwire import (
    Correlator,
    CSeq,
    Diagnostic,
    Endpoint,
    EndpointDialog,
    EndpointEvent,
    Headers,
    Limits,
    LocalProtocolError,
    NameAddr,
    ParseError,
    RemoteProtocolError,
    Request,
    Response,
    SipwireError,
    StreamParser,
    Uri,
    Via,
    ViaList,
    __version__,  # noqa: F401 (sipwire.__version__)
    build_request,
    parse,
    parse_batch,
    parse_challenge,
    parse_table,
    parse_uri,
    uri_equal,
)

# The user agent (asyncio and its transports) is imported when one of its names is first
# used, so `import sipwire` for parsing or captures does not pay for it.
if TYPE_CHECKING:
    from sipwire.ua import (
        Call,
        CallFailed,
        IncomingCall,
        IncomingSubscription,
        Notification,
        Notifier,
        Publication,
        Refer,
        Registration,
        SipTimeout,
        Subscription,
        SubscriptionFailed,
        TransportFailed,
        UserAgent,
    )


def __getattr__(name: str) -> Any:
    # The names of __all__ not imported above are the user agent's.
    if name == "ua" or (name in __all__ and name not in globals()):
        import importlib

        ua = importlib.import_module("sipwire.ua")
        value = ua if name == "ua" else getattr(ua, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sipwire' has no attribute {name!r}")


# `m.via` is a sequence made in Rust: isinstance(m.via, Sequence) holds.
_Sequence.register(ViaList)

__all__ = [
    "CSeq",
    "Call",
    "CallFailed",
    "Correlator",
    "Diagnostic",
    "Endpoint",
    "EndpointDialog",
    "EndpointEvent",
    "Headers",
    "IncomingCall",
    "IncomingSubscription",
    "Limits",
    "LocalProtocolError",
    "NameAddr",
    "Notification",
    "Notifier",
    "ParseError",
    "Publication",
    "Refer",
    "Registration",
    "RemoteProtocolError",
    "Request",
    "Response",
    "SipTimeout",
    "SipwireError",
    "StreamParser",
    "Subscription",
    "SubscriptionFailed",
    "TransportFailed",
    "Uri",
    "UserAgent",
    "Via",
    "ViaList",
    "build_request",
    "correlate",
    "parse",
    "parse_batch",
    "parse_challenge",
    "parse_table",
    "parse_uri",
    "sdp",
    "uri_equal",
]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
