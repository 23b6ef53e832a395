"""sipwire's Rust core, as Python sees it. This stub is the API documentation.

Parsed messages are immutable and safe to share between threads; their fields are parsed from
the original ``bytes`` when first read. Offsets are byte offsets into the parsed input.
"""

from collections.abc import Iterable, Iterator
from typing import Any, Literal, final, overload

from sipwire.sdp import SessionDescription

# --- exceptions ------------------------------------------------------------------------------

class SipwireError(Exception):
    """Base class of every sipwire exception."""

class RemoteProtocolError(SipwireError):
    """The peer (or the input) broke the protocol: the bytes are wrong, not the caller."""

class LocalProtocolError(SipwireError, ValueError):
    """The caller asked for something illegal: a value with CR, LF or NUL (header injection),
    a header name or method that is not a token, a status outside 100-699."""

    kind: str
    offset: int

class ParseError(RemoteProtocolError, ValueError):
    """Input that is not a valid SIP message (or a part of one that cannot be read).

    ``kind`` is a stable snake_case name (``invalid_cseq``, ``bare_lf``, ``body_too_short``,
    ...); ``offset`` the byte offset into the input; ``line`` and ``column`` are 1-based;
    ``header`` is the name of the header the offset falls in, or None.
    """

    kind: str
    offset: int
    line: int
    column: int
    header: str | None

# --- limits ----------------------------------------------------------------------------------

@final
class Limits:
    """Every bound the parser enforces; exceeding one is a ParseError of the matching kind."""

    def __init__(
        self,
        *,
        max_message: int = 65536,
        max_body: int = 65536,
        max_headers: int = 256,
        max_header_line: int = 8192,
        max_header_name: int = 256,
        max_vias: int = 70,
        max_list_items: int = 256,
        max_uri: int = 4096,
        max_params: int = 64,
        max_method: int = 64,
        max_multipart_depth: int = 4,
        max_multipart_parts: int = 32,
        max_sdp_media: int = 32,
        max_sdp_attributes: int = 512,
        max_sdp_line: int = 8192,
        max_nesting: int = 32,
    ) -> None: ...
    @property
    def max_message(self) -> int: ...
    @property
    def max_body(self) -> int: ...
    @property
    def max_headers(self) -> int: ...
    @property
    def max_header_line(self) -> int: ...
    @property
    def max_header_name(self) -> int: ...
    @property
    def max_vias(self) -> int: ...
    @property
    def max_list_items(self) -> int: ...
    @property
    def max_uri(self) -> int: ...
    @property
    def max_params(self) -> int: ...
    @property
    def max_method(self) -> int: ...
    @property
    def max_multipart_depth(self) -> int: ...
    @property
    def max_multipart_parts(self) -> int: ...
    @property
    def max_sdp_media(self) -> int: ...
    @property
    def max_sdp_attributes(self) -> int: ...
    @property
    def max_sdp_line(self) -> int: ...
    @property
    def max_nesting(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[Any, tuple[()]]: ...

# --- typed headers ---------------------------------------------------------------------------

@final
class Uri:
    """A SIP, SIPS, tel or other URI (RFC 3261 §19.1, RFC 3966). ``==`` follows RFC 3261
    §19.1.4 (scheme and host case-insensitive, escapes decoded, transport/user/ttl/method/maddr
    must match when either side has them)."""

    @property
    def scheme(self) -> str:
        """``sip``, ``sips``, ``tel`` (lower case), or another scheme as written."""
    @property
    def user(self) -> str | None:
        """The user part as written (escapes kept); for tel URIs the number."""
    @property
    def password(self) -> str | None: ...
    @property
    def host(self) -> str | None:
        """Domain, IPv4 address, or IPv6 reference with its brackets, as written."""
    @property
    def port(self) -> int | None: ...
    @property
    def params(self) -> dict[str, str | None]:
        """URI parameters in order; None for a flag such as ``lr``."""
    @property
    def headers(self) -> dict[str, str]:
        """``?name=value&...`` headers, escapes kept."""
    @property
    def user_param(self) -> str | None: ...
    @property
    def transport(self) -> str | None: ...
    @property
    def lr(self) -> bool: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Via:
    """One Via value (RFC 3261 §20.42)."""

    @property
    def protocol(self) -> str:
        """``SIP/2.0``."""
    @property
    def transport(self) -> str:
        """``UDP``, ``TCP``, ``TLS``, ``SCTP``, ``WS``, ``WSS`` or another token, as written."""
    @property
    def host(self) -> str:
        """The sent-by host as written (IPv6 references keep their brackets)."""
    @property
    def port(self) -> int | None: ...
    @property
    def branch(self) -> str | None: ...
    @property
    def has_rfc3261_branch(self) -> bool:
        """The branch starts with the magic cookie ``z9hG4bK`` and has more after it."""
    @property
    def received(self) -> str | None: ...
    @property
    def rport(self) -> int | None:
        """The rport value (RFC 3581); None when absent or sent without a value."""
    @property
    def rport_requested(self) -> bool:
        """rport is present, with or without a value."""
    @property
    def maddr(self) -> str | None: ...
    @property
    def ttl(self) -> int | None: ...
    @property
    def params(self) -> dict[str, str | None]: ...

@final
class NameAddr:
    """A name-addr or addr-spec with header parameters (From, To, Contact, Route, ...)."""

    @property
    def display_name(self) -> str | None:
        """Unquoted, quoted-pairs resolved."""
    @property
    def uri(self) -> Uri | None:
        """None only for ``Contact: *``."""
    @property
    def tag(self) -> str | None: ...
    @property
    def params(self) -> dict[str, str | None]:
        """Header parameters (after the ``>``), in order; quoted values unquoted."""
    @property
    def expires(self) -> int | None:
        """Contact ``expires`` in seconds."""
    @property
    def q(self) -> float | None:
        """Contact ``q`` (0.0 to 1.0)."""
    @property
    def is_star(self) -> bool:
        """``Contact: *`` (RFC 3261 §10.2.2)."""

@final
class CSeq:
    """CSeq (RFC 3261 §20.16)."""

    @property
    def seq(self) -> int: ...
    @property
    def method(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...

@final
class Diagnostic:
    """A repair a lenient parse made, or a semantic problem of a message that still parsed
    (missing or duplicated headers, a CSeq method that differs from the request's, a SIP
    version other than 2.0)."""

    @property
    def kind(self) -> str: ...
    @property
    def offset(self) -> int: ...
    @property
    def line(self) -> int: ...
    @property
    def column(self) -> int: ...
    @property
    def header(self) -> str | None: ...
    @property
    def message(self) -> str: ...

@final
class Headers:
    """A message's headers in wire order. Names may be full or compact, in any case."""

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def getall(self, name: str) -> list[str]:
        """Every value in wire order; list headers (Via, Contact, Route, Allow, ...) are split
        at their top-level commas."""
    def items(self) -> list[tuple[str, str]]: ...
    def keys(self) -> list[str]: ...
    def __iter__(self) -> Iterator[tuple[str, str]]: ...
    def __len__(self) -> int: ...
    def __contains__(self, name: object) -> bool: ...
    @overload
    def __getitem__(self, key: str) -> str: ...
    @overload
    def __getitem__(self, key: int) -> tuple[str, str]: ...

# --- messages --------------------------------------------------------------------------------

class _Message:
    @property
    def call_id(self) -> str | None: ...
    @property
    def cseq(self) -> CSeq | None: ...
    @property
    def from_(self) -> NameAddr | None: ...
    @property
    def to(self) -> NameAddr | None: ...
    @property
    def via(self) -> list[Via]:
        """Every Via value, top first, across all Via headers."""
    @property
    def contact(self) -> list[NameAddr]: ...
    @property
    def route(self) -> list[NameAddr]: ...
    @property
    def record_route(self) -> list[NameAddr]: ...
    @property
    def max_forwards(self) -> int | None: ...
    @property
    def expires(self) -> int | None: ...
    @property
    def content_length(self) -> int | None:
        """As written; None when the header is missing."""
    @property
    def content_type(self) -> str | None: ...
    @property
    def body(self) -> bytes: ...
    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Empty after a clean parse."""
    @property
    def headers(self) -> Headers: ...
    @property
    def version(self) -> str: ...
    @property
    def trailing_bytes(self) -> int:
        """Bytes after the message in the datagram, which RFC 3261 §18.3 discards."""
    @property
    def sdp(self) -> SessionDescription | None:
        """The SDP body, or the SDP part of a multipart body; None when there is none."""
    def with_header(self, name: str, value: str, *, first: bool = False) -> Request | Response:
        """A copy with the header added (last, or first as a proxy adds its Via)."""
    def replace_header(self, name: str, value: str) -> Request | Response:
        """A copy with the first header of that name set to ``value``, the others removed."""
    def without_header(self, name: str) -> Request | Response: ...
    def with_body(self, body: bytes, content_type: str | None = None) -> Request | Response:
        """A copy with a new body; Content-Length follows."""
    def __bytes__(self) -> bytes:
        """Exactly the input."""
    def __len__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[Any, tuple[bytes, bool, Limits | None]]: ...

@final
class Request(_Message):
    """A SIP request."""

    @property
    def method(self) -> str: ...
    @property
    def uri(self) -> Uri:
        """The Request-URI."""
    def response(
        self,
        status: int,
        reason: str | None = None,
        *,
        to_tag: str | None = None,
        headers: Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> Response:
        """A response per RFC 3261 §8.2.6: Vias, From, Call-ID, CSeq copied; To copied with
        ``to_tag`` added (random when None and status > 100); Record-Route for 101-299."""

@final
class Response(_Message):
    """A SIP response."""

    @property
    def status(self) -> int: ...
    @property
    def reason(self) -> str: ...

# --- functions -------------------------------------------------------------------------------

def parse(
    data: bytes | bytearray | memoryview, *, strict: bool = True, limits: Limits | None = None
) -> Request | Response:
    """Parses one message (a datagram, a capture record, a file). strict=False repairs what
    RFC 4475 lets a liberal element repair and records each repair in ``.diagnostics``."""

def parse_batch(
    datagrams: Iterable[bytes | bytearray | memoryview],
    *,
    strict: bool = True,
    limits: Limits | None = None,
    errors: Literal["raise", "return"] = "raise",
) -> list[Request | Response | ParseError]:
    """Parses many messages in one call; with errors="return" a ParseError stands where a
    message failed."""

def build_request(
    method: str,
    uri: str,
    headers: Iterable[tuple[str, str]],
    body: bytes = b"",
    *,
    check: bool = True,
    strict: bool = True,
) -> Request:
    """Builds a request; Content-Length is set. check=True requires To, From, Call-ID, CSeq,
    Max-Forwards and Via (RFC 3261 §8.1.1)."""

def parse_uri(text: str, *, strict: bool = True) -> Uri: ...
def uri_equal(a: Uri | str, b: Uri | str) -> bool:
    """URI equality per RFC 3261 §19.1.4."""

def _restore(data: bytes, strict: bool, limits: Limits | None) -> Request | Response: ...

@final
class StreamParser:
    """Frames messages out of a TCP/TLS byte stream (Content-Length is mandatory, RFC 3261
    §18.3). A framing error is raised once as ParseError after the parser has skipped to the
    next line that looks like a start line; iterating again continues from there."""

    def __init__(self, *, strict: bool = True, limits: Limits | None = None) -> None: ...
    def feed(self, data: bytes | bytearray | memoryview) -> None: ...
    @property
    def buffered(self) -> int: ...
    @property
    def pings(self) -> int:
        """CRLF CRLF keep-alives seen (answer each with CRLF, RFC 5626 §3.5.1)."""
    @property
    def pongs(self) -> int: ...
    @property
    def skipped(self) -> int:
        """Bytes dropped while resynchronising after errors."""
    def __iter__(self) -> StreamParser: ...
    def __next__(self) -> Request | Response: ...
