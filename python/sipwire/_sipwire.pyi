"""sipwire's Rust core, as Python sees it. This stub is the API documentation.

Parsed messages are immutable and safe to share between threads; their fields are parsed from
the original ``bytes`` when first read. Offsets are byte offsets into the parsed input.
"""

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal, SupportsIndex, final, overload

__version__: str

__all__ = [
    "Attribute",
    "CSeq",
    "Call",
    "Candidate",
    "CaptureReader",
    "Codec",
    "Connection",
    "CorrelatedCall",
    "CorrelatedDialog",
    "CorrelatedTransaction",
    "Correlator",
    "Crypto",
    "Diagnostic",
    "Dialog",
    "Endpoint",
    "EndpointDialog",
    "EndpointEvent",
    "EngineReader",
    "Fingerprint",
    "Fmtp",
    "Group",
    "Headers",
    "HepFeed",
    "Limits",
    "LoadRunner",
    "LocalCodec",
    "LocalMedia",
    "LocalProtocolError",
    "Media",
    "MediaBuilder",
    "MediaSession",
    "MediaStream",
    "NameAddr",
    "Origin",
    "ParseError",
    "RemoteProtocolError",
    "Request",
    "Response",
    "Rtcp",
    "Rtpmap",
    "SessionBuilder",
    "SessionDescription",
    "SipwireError",
    "Ssrc",
    "StreamParser",
    "Table",
    "TelephoneEvent",
    "Transaction",
    "Uri",
    "Via",
    "ViaList",
    "__version__",
    "_capture_head_error",
    "_capture_kind",
    "_restore",
    "build_request",
    "engine_correlate",
    "engine_drain_points",
    "engine_media_addresses",
    "engine_rtp",
    "parse",
    "parse_batch",
    "parse_challenge",
    "parse_table",
    "parse_uri",
    "sdp_answer",
    "sdp_changes_anything",
    "sdp_hold",
    "sdp_offer_changes",
    "sdp_parse",
    "sdp_resume",
    "uri_equal",
]

# --- exceptions ------------------------------------------------------------------------------

class SipwireError(Exception):
    """Base class of every sipwire exception. ``kind`` is a stable snake_case name of what
    went wrong (a class default when the raiser gave none)."""

    kind: str

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

    def __new__(
        cls,
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
    ) -> Limits: ...
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
    def __eq__(self, value: object, /) -> bool: ...
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
    def __eq__(self, value: object, /) -> bool: ...
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
    def branch(self) -> str | None:
        """Found when the Via is made (a bad Via raises ``ParseError`` when read from the list)."""
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
class ViaList(Sequence[Via]):
    """Every Via value of a message, top first: ``len`` and ``[i]`` make no other Via; each
    Via is made (and its branch found) when first read, then kept."""

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, index: SupportsIndex, /) -> Via: ...
    @overload
    def __getitem__(self, index: slice, /) -> list[Via]: ...
    def __iter__(self) -> Iterator[Via]: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class NameAddr:
    """A name-addr or addr-spec with header parameters (From, To, Contact, Route, ...)."""

    @property
    def display_name_bytes(self) -> bytes | None:
        """The display name's bytes, unquoted, exactly as sent (a peer may send bytes that
        are not UTF-8: ``display_name`` shows those as U+FFFD)."""
    @property
    def display_name_is_utf8(self) -> bool:
        """The display name is valid UTF-8 (True when there is none)."""
    @property
    def display_name(self) -> str | None:
        """Unquoted, quoted-pairs resolved."""
    @property
    def uri(self) -> Uri | None:
        """None only for ``Contact: *``."""
    @property
    def tag(self) -> str | None:
        """Found when the object is made (a bad value raises ``ParseError`` then)."""
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
    def __eq__(self, value: object, /) -> bool: ...

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
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Headers:
    """A message's headers in wire order. Names may be full or compact, in any case."""

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value (list headers: the first item), or ``default``."""
    def getall(self, name: str) -> list[str]:
        """Every value in wire order; list headers (Via, Contact, Route, Allow, ...) are split
        at their top-level commas."""
    def items(self) -> list[tuple[str, str]]: ...
    def keys(self) -> list[str]: ...
    def __iter__(self) -> Iterator[tuple[str, str]]: ...
    def __len__(self) -> int: ...
    def __contains__(self, key: object, /) -> bool: ...
    @overload
    def __getitem__(self, key: str, /) -> str: ...
    @overload
    def __getitem__(self, key: int, /) -> tuple[str, str]: ...

# --- messages --------------------------------------------------------------------------------

class _Message:
    @property
    def call_id(self) -> str | None: ...
    @property
    def cseq(self) -> CSeq | None: ...
    @property
    def cseq_number(self) -> int | None:
        """The same as ``cseq.seq``, without building the CSeq (None when CSeq is missing)."""
    @property
    def cseq_method(self) -> str | None:
        """The same as ``cseq.method``, without building the CSeq (None when CSeq is missing)."""
    @property
    def from_(self) -> NameAddr | None: ...
    @property
    def to(self) -> NameAddr | None: ...
    @property
    def from_tag(self) -> str | None:
        """The same as ``from_.tag``, without building the name-addr."""
    @property
    def to_tag(self) -> str | None:
        """The same as ``to.tag``, without building the name-addr."""
    @property
    def branch(self) -> str | None:
        """The top Via's branch: the same as ``via[0].branch``, without building the list."""
    @property
    def via(self) -> ViaList:
        """Every Via value, top first, across all Via headers: a sequence whose items are
        made when read (``len(m.via)`` and ``m.via[0]`` build no other Via), kept for the next
        read."""
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
        """Every problem found, in offset order: repairs, semantic problems (missing or
        duplicated headers, CSeq method mismatch, version), and typed headers that do not
        parse. Empty after a clean parse."""
    def validate(self) -> None:
        """Checks every typed header now; raises the first ParseError."""
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
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[Any, tuple[bytes, bool, bool, Limits | None]]: ...

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
        body: bytes | None = None,
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
    data: bytes | bytearray | memoryview,
    *,
    strict: bool = True,
    limits: Limits | None = None,
    validate: bool = False,
) -> Request | Response:
    """Parses one message (a datagram, a capture record, a file).

    Framing, start line and header index are checked at once. Typed headers (URIs, Via,
    From/To, CSeq, ...) are parsed when first read: a bad one raises ParseError then, and is
    listed in ``diagnostics``. ``validate=True`` checks every typed header now instead.
    strict=False repairs what RFC 4475 lets a liberal element repair, takes what devices
    commonly send (unbracketed IPv6 hosts, control bytes inside a header value) and records
    each repair in ``.diagnostics``."""

def parse_batch(
    datagrams: Iterable[bytes | bytearray | memoryview],
    *,
    strict: bool = True,
    limits: Limits | None = None,
    errors: Literal["raise", "return"] = "raise",
    validate: bool = False,
) -> list[Request | Response | ParseError]:
    """Parses many messages in one call; with errors="return" a ParseError stands where a
    message failed. One message alone (bytes rather than a list of them) is a TypeError."""

def parse_table(
    datagrams: Iterable[bytes | bytearray | memoryview],
    *,
    strict: bool = False,
    limits: Limits | None = None,
    raw: bool = False,
) -> Table:
    """The ``messages`` columns of ``sipwire.capture.read`` for datagrams given as bytes: one
    row each, in order, with the capture columns (time, frame, addresses, transport) null and
    no Python object made per message. A message that does not parse is a row with its
    ``parse_error``; ``raw=True`` adds the bytes as a ``raw`` column. One message alone
    (bytes rather than a list of them) is a TypeError."""

def _capture_kind(head: bytes) -> str | None:
    """What a file starting with ``head`` is to the capture reader: "pcap", "pcapng",
    "gzip", "zstd", or None."""

def _capture_head_error(head: bytes) -> str | None:
    """Why a file starting with ``head`` (its first 8 bytes) is not a capture, in the
    capture reader's words; None when it starts one."""

@final
class CaptureReader:
    """A capture read in Rust (``sipwire.capture.read`` wraps it). Sources are paths and
    binary file objects: several paths are merged by time into one capture (a file object or
    ``-`` among them: read one after another)."""

    def __new__(
        cls,
        sources: list[Any],
        *,
        strict: bool = False,
        limits: Limits | None = None,
        raw: bool = False,
        rtp: bool = True,
        batch_rows: int = 65536,
        calls: bool = False,
        calls_thread: bool = False,
    ) -> CaptureReader: ...
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The ``messages`` table as an Arrow stream; it can be taken once."""
    def read_ahead(self, batches: int = 1) -> None:
        """Reads ahead (the GIL released) until ``batches`` ``messages`` batches wait, or the
        input ends; an error of the read is raised where the stream comes to it."""
    def finish(self) -> None:
        """Reads the rest of the input (the GIL released), keeping batches not yet taken."""
    def rtp_streams(self) -> Table:
        """RTP/RTCP statistics per stream; finishes the read first."""
    def dtmf(self) -> Table:
        """Telephone-events (RFC 4733) as digits; finishes the read first."""
    def calls(self) -> Table:
        """The calls table of a read made with calls=True; finishes the read first."""
    def media(self) -> Table:
        """The media table of a read made with calls=True; finishes the read first."""
    def stats(self) -> dict[str, int]:
        """Every stage's counters, flat (as of the last step while a step waits on input)."""
    def stop(self) -> None:
        """Ends the read at its next step, as if the input ended there (from any thread)."""
    @property
    def finished(self) -> bool: ...

@final
class EngineReader:
    """Stage one of the distributed engines (``sipwire.capture._engine``): one capture file
    read into event batches: the ``messages`` columns with ``raw``, then ``kind`` (0 SIP, 1 a
    UDP payload for the RTP stage), ``_rank``, ``_clock``, ``_seq`` (the event's place in the
    merged read of the whole set) and ``_fed`` (the correlator takes the message)."""

    def __new__(
        cls,
        source: Any,
        *,
        file: str | None,
        rank: int,
        strict: bool = False,
        limits: Limits | None = None,
        batch_rows: int = 65536,
    ) -> EngineReader: ...
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The event batches as an Arrow stream (one pass over the file)."""
    def stats(self) -> dict[str, int]:
        """Every stage's counters, flat."""

def engine_drain_points(times: Sequence[int]) -> list[int]:
    """Indices, among the fed messages' times in the merged read's order, where the read drains
    finished calls."""

def engine_correlate(
    group: bytes,
    drains: Sequence[tuple[int, int, int, int]],
    end: int | None,
    *,
    strict: bool = False,
    limits: Limits | None = None,
) -> tuple[Table, Table, Table, dict[str, int], Table]:
    """Stage two for calls: the ``calls`` and ``media`` tables, the ``dtmf`` rows of its INFO
    requests (``source`` "info"), the correlator's counters and the join rows (``raw``,
    ``offer_ip``, ``answer_ip``) of a group holding every fed message of its Call-IDs
    (``group``: Arrow IPC stream bytes with ``_clock``, ``_rank``, ``_seq``, ``time`` as int64
    ns, the addresses, ``transport`` and ``raw``; any order). ``drains``: the whole set's drain
    points; ``end``: its last fed time."""

def engine_rtp(
    group: bytes, *, strict: bool = False, limits: Limits | None = None
) -> tuple[Table, Table, dict[str, int]]:
    """Stage two for RTP: the ``rtp_streams`` and ``dtmf`` tables (joined to the media rows of
    the join rows given, kind 3) and the RTP stage's counters of a group (Arrow IPC stream bytes
    of its UDP events and the SIP events and join rows routed to it, with ``kind`` and
    ``frame``; any order)."""

def engine_media_addresses(
    raw: Sequence[bytes | None], *, strict: bool = False, limits: Limits | None = None
) -> list[list[str]]:
    """The addresses each message's SDP announces RTP or RTCP at."""

@final
class HepFeed:
    """A live HEP feed, sans-IO: HEP datagrams and TCP bytes in, ``messages`` rows out
    (``sipwire.capture.listen_hep`` drives it from its sockets). ``max_rows`` rows wait to be
    taken at most (more are dropped and counted); ``max_connections`` TCP connections are
    framed at once, each holding at most ``max_connection_bytes``."""

    def __new__(
        cls,
        *,
        strict: bool = False,
        limits: Limits | None = None,
        raw: bool = False,
        max_rows: int = 1000000,
        max_connections: int = 1024,
        max_connection_bytes: int = 131072,
    ) -> HepFeed: ...
    def packet(self, data: bytes, now: float) -> None:
        """One HEP datagram received at ``now`` (seconds since the epoch; the packet's own
        capture time wins when it carries one)."""
    def stream(self, conn: int, data: bytes, now: float) -> None:
        """Bytes from TCP connection ``conn``: HEPv3 framed by its length, resynchronised at
        the next ``HEP3`` after garbage."""
    def close(self, conn: int) -> None:
        """Connection ``conn`` closed; what it held is dropped (counted)."""
    @property
    def pending(self) -> int:
        """Rows waiting to be taken."""
    def take(self) -> Table:
        """The rows since the last take."""
    def stats(self) -> dict[str, int]: ...

@final
class Table:
    """An Arrow table held in Rust: ``pyarrow.table(t)``, ``polars.from_arrow(t)`` and
    DuckDB's ``FROM t`` read it through the Arrow PyCapsule interface with no copy; each
    export shares the same buffers."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    @property
    def num_rows(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...
    def __len__(self) -> int: ...

def build_request(
    method: str,
    uri: str,
    headers: Iterable[tuple[str, str]],
    body: bytes | None = None,
    *,
    check: bool = True,
    strict: bool = True,
) -> Request:
    """Builds a request; Content-Length is set. check=True requires To, From, Call-ID, CSeq,
    Max-Forwards and Via (RFC 3261 §8.1.1)."""

def parse_uri(text: str, *, strict: bool = True) -> Uri: ...
def parse_challenge(value: str, *, strict: bool = True) -> tuple[str, dict[str, str]]:
    """A WWW-Authenticate / Proxy-Authenticate (or Authorization) value: its scheme as written
    and its parameters, names lower-cased and quoted values unquoted. Raises ParseError."""

def uri_equal(a: Uri | str, b: Uri | str) -> bool:
    """URI equality per RFC 3261 §19.1.4."""

def _restore(
    data: bytes, strict: bool, validate: bool, limits: Limits | None
) -> Request | Response: ...

@final
class StreamParser:
    """Frames messages out of a TCP/TLS byte stream (Content-Length is mandatory, RFC 3261
    §18.3). A framing error is raised once as ParseError after the parser has skipped to the
    next line that looks like a start line; iterating again continues from there."""

    def __new__(
        cls, *, strict: bool = True, limits: Limits | None = None, validate: bool = False
    ) -> StreamParser: ...
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

# --- sdp (begin) -----------------------------------------------------------------------------
# SDP (RFC 8866) and offer/answer (RFC 3264); the public names are in ``sipwire.sdp``. Offsets
# (ParseError, Diagnostic, Attribute.offset, Media.offset) are into the bytes that were parsed:
# the body for ``sdp_parse``, the whole message for ``msg.sdp``.

_Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
_HoldKind = Literal["sendonly", "inactive", "legacy_zero_address"]
_OfferChange = Literal[
    "unchanged", "version_only", "changed", "changed_without_version", "new_session"
]

@final
class SessionDescription:
    """A parsed session description. Immutable; ``bytes(sd)`` gives the parsed bytes back
    exactly. The streams' port, direction, hold, connection and codecs are read from what the
    parse found; other fields are parsed from the bytes when read."""

    @property
    def version(self) -> str:
        """``v=`` (always ``0``)."""
    @property
    def origin(self) -> Origin:
        """``o=`` (RFC 8866 §5.2)."""
    @property
    def session_name(self) -> str: ...
    @property
    def information(self) -> str | None: ...
    @property
    def uri(self) -> str | None: ...
    @property
    def emails(self) -> list[str]: ...
    @property
    def phones(self) -> list[str]: ...
    @property
    def connection(self) -> str | None:
        """The session-level ``c=`` address (without ``/ttl``), or None."""
    @property
    def connection_info(self) -> Connection | None: ...
    @property
    def bandwidths(self) -> list[tuple[str, int | None]]:
        """Session-level ``b=`` as (bwtype, bandwidth); bandwidth None if not a number."""
    @property
    def timing(self) -> list[tuple[int, int]]:
        """``t=`` lines as (start, stop), NTP seconds; 0 is unbounded."""
    @property
    def direction(self) -> _Direction:
        """The session-level direction; sendrecv when none is given (RFC 8866 §6.7)."""
    @property
    def attributes(self) -> list[Attribute]:
        """Session-level attributes in order."""
    def attribute(self, name: str) -> Attribute | None:
        """The first session-level attribute called ``name``."""
    @property
    def groups(self) -> list[Group]:
        """``a=group`` lines (RFC 5888)."""
    @property
    def media(self) -> list[Media]: ...
    @property
    def is_hold(self) -> bool:
        """Every active stream (port not 0) is on hold, and there is one."""
    @property
    def lines(self) -> list[tuple[str, str]]:
        """Every line as (type, value); a malformed line a lenient parse kept has type ""."""
    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Repairs a lenient parse made (glued lines split, malformed lines kept aside)."""
    @property
    def offset(self) -> int:
        """Offset of the body in the bytes offsets refer to (0 for ``sdp.parse``)."""
    def __bytes__(self) -> bytes: ...
    def __len__(self) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Media:
    """One media section: the ``m=`` line and the lines up to the next one."""

    @property
    def index(self) -> int: ...
    @property
    def kind(self) -> str:
        """``audio``, ``video``, ``image``, ``application``, ``text``, ``message``, ..."""
    @property
    def port(self) -> int: ...
    @property
    def port_count(self) -> int:
        """The ``/<number of ports>`` of the m= line; 1 when absent."""
    @property
    def protocol(self) -> str:
        """``RTP/AVP``, ``RTP/SAVPF``, ``udptl``, ..."""
    @property
    def formats(self) -> list[str]: ...
    @property
    def is_disabled(self) -> bool:
        """Port 0: refused in an answer or disabled in an offer (RFC 3264 §6, §8.2)."""
    @property
    def direction(self) -> _Direction:
        """Effective: media level, else session level, else sendrecv (RFC 8866 §6.7)."""
    @property
    def own_direction(self) -> _Direction | None:
        """The media-level direction attribute only."""
    @property
    def hold(self) -> _HoldKind | None:
        """How the stream is held (RFC 3264 §8.4); ``legacy_zero_address`` is the RFC 2543
        ``c=IN IP4 0.0.0.0`` form. None for a stream not held or disabled."""
    @property
    def is_hold(self) -> bool: ...
    @property
    def connection(self) -> str | None:
        """The address that applies: media-level ``c=``, else the session's."""
    @property
    def connection_info(self) -> Connection | None: ...
    @property
    def codecs(self) -> list[Codec]:
        """Codecs of an RTP stream in m= order; static payload types without rtpmap are named
        from RFC 3551 §6. Empty for other protocols."""
    @property
    def telephone_event(self) -> TelephoneEvent | None:
        """The ``telephone-event`` payload (RFC 4733 §2.4)."""
    @property
    def rtp_address(self) -> str | None:
        """Where to send RTP (None when the port is 0 or there is no ``c=``)."""
    @property
    def rtp_port(self) -> int | None: ...
    @property
    def rtcp_address(self) -> str | None:
        """``a=rtcp``'s address (RFC 3605), else the RTP address."""
    @property
    def rtcp_port(self) -> int | None:
        """``a=rtcp``, else the RTP port under ``a=rtcp-mux`` (RFC 5761), else RTP + 1."""
    @property
    def rtcp_mux(self) -> bool: ...
    @property
    def offset(self) -> int:
        """Offset of the ``m=`` line."""
    @property
    def information(self) -> str | None: ...
    @property
    def bandwidths(self) -> list[tuple[str, int | None]]: ...
    @property
    def attributes(self) -> list[Attribute]: ...
    def attribute(self, name: str) -> Attribute | None: ...
    def fmtp(self, format: str) -> Fmtp | None: ...
    @property
    def ptime(self) -> int | None: ...
    @property
    def maxptime(self) -> int | None: ...
    @property
    def mid(self) -> str | None: ...
    @property
    def setup(self) -> str | None:
        """``a=setup`` (RFC 4145), media level else session level."""
    @property
    def fingerprint(self) -> Fingerprint | None: ...
    @property
    def ice_ufrag(self) -> str | None: ...
    @property
    def ice_pwd(self) -> str | None: ...
    @property
    def candidates(self) -> list[Candidate]:
        """``a=candidate`` lines; a malformed one raises ParseError."""
    @property
    def crypto(self) -> list[Crypto]: ...
    @property
    def ssrcs(self) -> list[Ssrc]: ...

@final
class Codec:
    @property
    def payload_type(self) -> int: ...
    @property
    def name(self) -> str:
        """Encoding name as written; "" for a dynamic payload type without rtpmap."""
    @property
    def clock_rate(self) -> int:
        """Hz; 0 when unknown."""
    @property
    def channels(self) -> int | None: ...
    @property
    def fmtp(self) -> str | None:
        """The ``a=fmtp`` parameters for this payload type, as written."""
    @property
    def fmtp_params(self) -> dict[str, str]:
        """``name=value`` pairs of the fmtp; a bare item (``0-15``) has name ""."""
    @property
    def from_rtpmap(self) -> bool: ...

@final
class Origin:
    @property
    def username(self) -> str: ...
    @property
    def session_id(self) -> str: ...
    @property
    def session_version(self) -> str: ...
    @property
    def nettype(self) -> str: ...
    @property
    def addrtype(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def version_number(self) -> int | None: ...

@final
class Connection:
    @property
    def nettype(self) -> str: ...
    @property
    def addrtype(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def ttl(self) -> int | None: ...
    @property
    def count(self) -> int | None: ...

@final
class TelephoneEvent:
    @property
    def payload_type(self) -> int: ...
    @property
    def clock_rate(self) -> int: ...
    @property
    def events(self) -> str | None: ...
    @property
    def ranges(self) -> list[tuple[int, int]]:
        """Inclusive; 0-15 when no fmtp is given (RFC 4733 §2.4.1)."""
    def supports(self, event: int) -> bool: ...

@final
class Attribute:
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> str | None:
        """The text after the first ``:``; None for a property attribute."""
    @property
    def offset(self) -> int: ...
    def parsed(
        self,
    ) -> Rtpmap | Fmtp | Rtcp | Group | Ssrc | Fingerprint | Candidate | Crypto | int | str | None:
        """The value by the attribute's grammar (ints for ptime/maxptime, True for rtcp-mux,
        str for directions, mid, setup, ice-* and unknown attributes). Raises ParseError."""

@final
class Rtpmap:
    @property
    def payload_type(self) -> int: ...
    @property
    def encoding(self) -> str: ...
    @property
    def clock_rate(self) -> int: ...
    @property
    def channels(self) -> int | None: ...

@final
class Fmtp:
    @property
    def format(self) -> str: ...
    @property
    def params(self) -> str: ...
    @property
    def pairs(self) -> list[tuple[str, str]]: ...

@final
class Rtcp:
    @property
    def port(self) -> int: ...
    @property
    def address(self) -> str | None: ...

@final
class Group:
    @property
    def semantics(self) -> str: ...
    @property
    def tags(self) -> list[str]: ...

@final
class Ssrc:
    @property
    def ssrc(self) -> int: ...
    @property
    def attribute(self) -> str: ...
    @property
    def value(self) -> str | None: ...

@final
class Fingerprint:
    @property
    def hash(self) -> str: ...
    @property
    def fingerprint(self) -> str: ...

@final
class Candidate:
    @property
    def foundation(self) -> str: ...
    @property
    def component(self) -> int: ...
    @property
    def transport(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def address(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def related_address(self) -> str | None: ...
    @property
    def related_port(self) -> int | None: ...
    @property
    def extensions(self) -> str: ...

@final
class Crypto:
    @property
    def tag(self) -> int: ...
    @property
    def suite(self) -> str: ...
    @property
    def key_params(self) -> str: ...
    @property
    def session_params(self) -> str | None: ...

@final
class LocalCodec:
    """A codec the answerer supports: ``LocalCodec("opus", 48000, channels=2)`` or
    ``LocalCodec("opus/48000/2")``. Without a rate, the RFC 3551 rate of that name, else 0
    (a non-RTP format such as ``t38``). ``fmtp`` is answered instead of the offer's."""

    def __new__(
        cls,
        name: str,
        clock_rate: int | None = None,
        *,
        channels: int | None = None,
        fmtp: str | None = None,
    ) -> LocalCodec: ...
    @property
    def name(self) -> str: ...
    @property
    def clock_rate(self) -> int: ...
    @property
    def channels(self) -> int | None: ...
    @property
    def fmtp(self) -> str | None: ...

@final
class LocalMedia:
    """A stream the answerer can take part in; ``codecs`` are LocalCodec objects or
    ``"name/rate[/channels]"`` strings, ``direction`` what this side is willing to do."""

    def __new__(
        cls,
        kind: str,
        port: int,
        codecs: Iterable[LocalCodec | str],
        *,
        protocol: str | None = None,
        direction: _Direction = "sendrecv",
        rtcp_mux: bool = False,
        address: str | None = None,
    ) -> LocalMedia: ...
    @property
    def kind(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def codecs(self) -> list[LocalCodec]: ...
    @property
    def direction(self) -> _Direction: ...

@final
class MediaBuilder:
    """Builds a media section; each method returns the builder. CR, LF or NUL in a value
    raises LocalProtocolError."""

    def __new__(cls, kind: str, port: int, protocol: str = "RTP/AVP") -> MediaBuilder: ...
    def codec(
        self,
        payload_type: int,
        name: str,
        clock_rate: int,
        *,
        channels: int | None = None,
        fmtp: str | None = None,
    ) -> MediaBuilder:
        """Adds the payload type to the m= line with its ``a=rtpmap`` (and ``a=fmtp``)."""
    def format(self, fmt: str) -> MediaBuilder:
        """Adds a format without rtpmap (a static payload type, ``t38``)."""
    def attribute(self, name: str, value: str | None = None) -> MediaBuilder: ...
    def line(self, kind: str, value: str) -> MediaBuilder:
        """Adds an ``i=``, ``b=``, ``k=`` ... line in RFC 8866 §5 order."""
    def connection(self, address: str) -> MediaBuilder: ...
    def direction(self, direction: _Direction) -> MediaBuilder: ...

@final
class SessionBuilder:
    """Builds a new description: ``v=0``, ``o=``, ``s=``, ``c=`` (unless
    ``connection=False``), ``t=0 0``, then what is added. A random session id when none is
    given. CR, LF or NUL in a value raises LocalProtocolError."""

    def __new__(
        cls,
        address: str,
        *,
        username: str = "-",
        session_id: int | None = None,
        session_version: int = 1,
        session_name: str = "-",
        connection: bool = True,
    ) -> SessionBuilder: ...
    def attribute(self, name: str, value: str | None = None) -> SessionBuilder: ...
    def line(self, kind: str, value: str) -> SessionBuilder: ...
    def timing(self, start: int, stop: int) -> SessionBuilder: ...
    def media(self, media: MediaBuilder) -> SessionBuilder: ...
    def build(self, *, limits: Limits | None = None) -> SessionDescription:
        """The description, written with CRLF and parsed back."""
    def __bytes__(self) -> bytes: ...

def sdp_parse(
    data: bytes | bytearray | memoryview, *, strict: bool = True, limits: Limits | None = None
) -> SessionDescription:
    """Parses a session description. strict=False splits glued lines and keeps malformed
    lines aside, each recorded in ``.diagnostics``. Raises ParseError."""

def sdp_answer(
    offer: SessionDescription,
    media: list[LocalMedia] | tuple[LocalMedia, ...],
    *,
    address: str,
    username: str = "-",
    session_id: int | None = None,
    session_version: int = 1,
    session_name: str = "-",
) -> SessionDescription:
    """The answer to ``offer`` (RFC 3264 §6): one m= line per offered one, same order; the
    common codecs in the offerer's order with its payload types; direction per §6.1; port 0
    for refused streams. Each LocalMedia answers at most one offered stream of its kind."""

def sdp_hold(
    previous: SessionDescription,
    *,
    style: _HoldKind = "sendonly",
) -> SessionDescription:
    """A re-offer putting ``previous`` (the last description this side sent) on hold:
    ``o=`` version + 1, session id kept (RFC 3264 §8). sendonly: sendrecv becomes sendonly,
    recvonly inactive (§8.4); legacy_zero_address: ``c=0.0.0.0`` (for RFC 2543 peers)."""

def sdp_resume(previous: SessionDescription, *, address: str | None = None) -> SessionDescription:
    """A re-offer taking ``previous`` off hold: ``o=`` version + 1, active streams sendrecv;
    ``address`` replaces the ``c=`` lines (needed after a legacy_zero_address hold)."""

def sdp_offer_changes(old: SessionDescription, new: SessionDescription) -> _OfferChange:
    """What ``new`` does relative to ``old``, the previous offer of the session (RFC 3264
    §8). ``changed_without_version`` is forbidden by §8 but seen; treat it as a change."""

def sdp_changes_anything(old: SessionDescription, new: SessionDescription) -> bool:
    """Whether ``new`` changes the session (anything but a same-version repeat or a
    version-only refresh)."""

# --- sdp (end) -------------------------------------------------------------------------------

# --- correlate (begin) -----------------------------------------------------------------------
# The passive correlator (RFC 3261 §12, §17; RFC 3264): messages seen on the wire, fed in any
# order with their time and addresses, grouped into transactions, dialogs and calls. Reports
# are snapshots: they do not change when more is fed. Times are seconds on the caller's clock;
# every time reported is the earliest copy's (retransmissions fed in any order).

_Fed = Literal[
    "stored", "retransmission", "duplicate", "parked", "dropped", "uncorrelated", "unparsable"
]
_DialogState = Literal["early", "confirmed", "terminated"]
_Outcome = Literal[
    "answered",
    "busy",
    "cancelled",
    "rejected",
    "timeout",
    "early_media",
    "in_progress",
    "partial",
]
_Transport = Literal["udp", "tcp", "tls", "sctp", "ws", "wss"]

@final
class CorrelatedTransaction:
    """A request, its responses and, for an INVITE, its ACK and CANCEL. Keyed by the top Via
    (branch, sent-by) and method (RFC 3261 §17.2.3), read liberally: the branch in any case,
    a sent-by without port equal to one with the transport's default port (5060, 5061 for
    TLS), host names in any case, IPv6 addresses as addresses. A 2xx ACK, and a CANCEL or
    ACK whose key matches no INVITE, joins its INVITE by Call-ID, CSeq and From tag.
    Retransmissions are counted, not kept. ``request``, ``responses``, ``ack``, ``cancel`` and
    ``cancel_responses`` are None or empty unless the correlator keeps messages
    (``Correlator(keep_messages=True)``); the times and statuses are there either way."""

    @property
    def method(self) -> str:
        """``INVITE`` for an INVITE transaction (never ``ACK`` or ``CANCEL``)."""
    @property
    def branch(self) -> str | None: ...
    @property
    def call_id(self) -> str: ...
    @property
    def cseq(self) -> int: ...
    @property
    def request(self) -> Request | None:
        """The earliest copy of the request; None when it was not captured (or not kept)."""
    @property
    def request_time(self) -> float | None:
        """When the request's earliest copy was seen; None when it was not captured."""
    @property
    def responses(self) -> list[Response]:
        """Distinct responses, in time order."""
    @property
    def statuses(self) -> list[tuple[float, int]]:
        """(time, status) of each distinct response, in time order, kept or not."""
    @property
    def ack(self) -> Request | None: ...
    @property
    def cancel(self) -> Request | None: ...
    @property
    def cancel_responses(self) -> list[Response]: ...
    @property
    def final_status(self) -> int | None:
        """The status of the earliest final response (200-699)."""
    @property
    def retransmissions(self) -> int: ...
    @property
    def is_rfc2543(self) -> bool:
        """Keyed by the RFC 2543 fallback (no RFC 3261 branch)."""
    @property
    def first_time(self) -> float: ...
    @property
    def last_time(self) -> float: ...

Transaction = CorrelatedTransaction

@final
class CorrelatedDialog:
    """An INVITE dialog (RFC 3261 §12); ``from_tag`` is the caller's when known."""

    @property
    def call_id(self) -> str: ...
    @property
    def from_tag(self) -> str: ...
    @property
    def to_tag(self) -> str: ...
    @property
    def state(self) -> _DialogState: ...
    @property
    def first_time(self) -> float: ...
    @property
    def last_time(self) -> float: ...

Dialog = CorrelatedDialog

@final
class MediaStream:
    """One m= line of an offer/answer exchange: RTP (address, port) of the offerer from the
    offer and of the answerer from the answer (None: port 0 or no c= line), the payload
    types and codec names of each (``a=rtpmap``, else the RFC 3551 static table; "" for a
    dynamic payload type without rtpmap), and the negotiated codec: the first of the
    answer's formats that the offer had (RFC 3264 §6.1; telephone-event, CN, red, ulpfec and
    rtx are not codecs of their own)."""

    @property
    def media(self) -> str: ...
    @property
    def offer(self) -> tuple[str, int] | None: ...
    @property
    def answer(self) -> tuple[str, int] | None: ...
    @property
    def offer_direction(self) -> _Direction | None: ...
    @property
    def answer_direction(self) -> _Direction | None: ...
    @property
    def offer_payload_types(self) -> list[int]: ...
    @property
    def offer_codecs(self) -> list[str]: ...
    @property
    def answer_payload_types(self) -> list[int]: ...
    @property
    def answer_codecs(self) -> list[str]: ...
    @property
    def codec(self) -> str | None: ...
    @property
    def codec_payload_type(self) -> int | None: ...

@final
class MediaSession:
    """One offer/answer exchange that took effect, in one dialog (INVITE, re-INVITE, UPDATE
    or PRACK; offer in the 2xx and answer in the ACK when the INVITE had no body). A forked
    INVITE answered by several phones gives one session per phone (``to_tag``). A phone whose
    183 and 200 carry different SDP (ringback from a media server) gives two: the 183's
    answer (``early``) and the 200's."""

    @property
    def method(self) -> Literal["INVITE", "UPDATE", "PRACK"]: ...
    @property
    def cseq(self) -> int: ...
    @property
    def to_tag(self) -> str:
        """The To tag of the exchange's messages: the tag of the side the offer's request
        went to (the callee's in the caller's requests, the caller's in the callee's own
        re-INVITEs and UPDATEs), so that with ``cseq`` it names the exchange; a fork's
        phones each have their own. "" when none answered."""
    @property
    def early(self) -> bool:
        """The answer came before the 2xx (early media): in a provisional response, or in the
        PRACK of a reliable provisional response that carried a late offer (RFC 3262)."""
    @property
    def offer_time(self) -> float | None: ...
    @property
    def answer_time(self) -> float | None: ...
    @property
    def offerer(self) -> tuple[str, int] | None:
        """Signalling address the offer came from."""
    @property
    def answerer(self) -> tuple[str, int] | None: ...
    @property
    def offerer_rtp(self) -> tuple[str, int] | None:
        """RTP (address, port) of the offer's first stream that has one."""
    @property
    def answerer_rtp(self) -> tuple[str, int] | None: ...
    @property
    def streams(self) -> list[MediaStream]: ...

@final
class CorrelatedCall:
    """The INVITE dialogs of one Call-ID with their re-INVITEs, UPDATEs and PRACKs.
    ``outcome`` is decided by the initial INVITE: answered (2xx), busy (486, 600), cancelled
    (487 after a CANCEL), rejected (other 3xx-6xx), timeout (408, or no final and silent for
    ``timeout`` seconds), early_media (no final, but an answer before it: a 183 with SDP
    answering the INVITE's offer, or a PRACK answering a 183's), in_progress (no final, the
    capture ended within ``timeout``), partial (the initial INVITE was not captured: a call
    seen mid-way, never counted as answered)."""

    @property
    def call_id(self) -> str: ...
    @property
    def outcome(self) -> _Outcome: ...
    @property
    def final_status(self) -> int | None: ...
    @property
    def first_time(self) -> float: ...
    @property
    def last_time(self) -> float: ...
    @property
    def invite_time(self) -> float | None: ...
    @property
    def ringing_time(self) -> float | None: ...
    @property
    def answer_time(self) -> float | None: ...
    @property
    def end_time(self) -> float | None:
        """The first BYE (request or response)."""
    @property
    def cancel_time(self) -> float | None: ...
    @property
    def time_to_ringing(self) -> float | None:
        """Seconds from the INVITE to the first 180-189: the post-dial delay."""
    @property
    def time_to_answer(self) -> float | None:
        """Seconds from the INVITE to the 2xx: the setup time."""
    @property
    def duration(self) -> float | None:
        """Seconds from the 2xx to the BYE."""
    @property
    def invites(self) -> int:
        """INVITE transactions: the initial one(s), their forks and hops, and re-INVITEs."""
    @property
    def caller(self) -> str | None:
        """The From URI of the initial INVITE. In a partial call (the initial INVITE not
        captured), that of the earliest INVITE or ACK seen: a re-INVITE's sender may be
        either party, and ``hangup`` is told relative to it. None when neither was seen."""
    @property
    def callee(self) -> str | None:
        """The To URI of the message ``caller`` is read from."""
    @property
    def src(self) -> tuple[str, int] | None:
        """Where the initial INVITE was first seen coming from."""
    @property
    def dst(self) -> tuple[str, int] | None: ...
    @property
    def messages(self) -> int: ...
    @property
    def retransmissions(self) -> int: ...
    @property
    def hangup(self) -> Literal["caller", "callee"] | None:
        """Who sent the first BYE."""
    @property
    def early_media(self) -> bool: ...
    @property
    def evicted(self) -> bool:
        """Finished early because the call table was full (``max_calls``)."""
    @property
    def hold_periods(self) -> list[tuple[float, float | None]]:
        """(start, end) of each hold (RFC 3264 §8.4); end None while still held."""
    @property
    def dtmf(self) -> list[tuple[float, str, int | None]]:
        """(time, digit, duration in ms) of each DTMF digit sent in an INFO request
        (``application/dtmf-relay`` or ``application/dtmf``), at its earliest copy; a copy on
        another hop is the same digit."""
    @property
    def media(self) -> list[MediaSession]: ...
    @property
    def dialogs(self) -> list[CorrelatedDialog]: ...
    @property
    def transactions(self) -> list[CorrelatedTransaction]:
        """Every transaction of this Call-ID held, by first time."""

Call = CorrelatedCall

@final
class Correlator:
    """Groups observed traffic into transactions, dialogs and calls. A message that does not
    parse is counted (``counters["unparsable"]``), never raised. Every table is bounded; what
    had to be let go is counted. Calls finish on the capture's clock: ``drain_finished``
    hands them out and forgets them, so memory follows the calls open at once."""

    def __new__(
        cls,
        *,
        timeout: float = 32.0,
        keep_messages: bool = False,
        linger: float = 32.0,
        closed_linger: float = 5.0,
        ringing_timeout: float = 180.0,
        idle_timeout: float = 3600.0,
        max_calls: int = 100000,
    ) -> Correlator:
        """``timeout``: seconds without a final response after which a call is "timeout"
        rather than "in_progress" (64*T1, RFC 3261 §17.1.1.2). ``keep_messages``: keep each
        transaction's messages (``request``, ``responses``...); off by default, so that memory
        follows the calls open, not the bytes seen. ``closed_linger``: seconds a
        call is kept after its BYE was answered or its failure ACKed (T4), ``linger`` after a
        BYE or failure without that (64*T1; also how long a finished call's stragglers are
        told apart); ``ringing_timeout``: seconds after a provisional response without final
        (Timer C); ``idle_timeout``: seconds of silence that finish an
        established call whose BYE was not seen. ``max_calls``: Call-IDs followed at once."""
    def feed(
        self,
        data: bytes | bytearray | memoryview | Request | Response,
        *,
        time: float,
        src: tuple[str, int],
        dst: tuple[str, int],
        transport: _Transport = "udp",
    ) -> _Fed:
        """Feeds one message (a datagram, or one message framed from a stream) seen at
        ``time`` from ``src`` to ``dst`` (IP address, port). ``"retransmission"``: a copy of
        a message seen before between the same ``src`` and ``dst`` (sent again on its hop);
        the same message on another hop (a proxy's forwarded copy, the one packet captured
        at two points) is ``"stored"``, not counted as a retransmission. ``"duplicate"``: the
        same message on the same hop as one of its call's last four, less than 20 ms apart
        (either way): the capture holds the frame twice (``tcpdump -i any`` over a bridge, a
        mirror port), which no transaction's timers do (RFC 3261 §17.1.1.2); counted in
        ``duplicates``, not as a retransmission."""
    def finish(self, end_time: float | None = None) -> None:
        """Marks the capture's end (default: the latest time fed)."""
    def drain_finished(self, now: float | None = None) -> list[CorrelatedCall]:
        """Hands out, and forgets, the calls finished by ``now`` on the capture's clock
        (default: the latest time fed), and those evicted from a full table."""
    def drain_all(self) -> list[CorrelatedCall]:
        """Hands out, and forgets, every call (the capture has ended)."""
    def transactions(self) -> list[CorrelatedTransaction]:
        """Every transaction held (not yet handed out), by the time of its first message."""
    def dialogs(self) -> list[CorrelatedDialog]:
        """Every dialog held, by the time of its first message."""
    def calls(self) -> list[CorrelatedCall]:
        """Every call held, by the time of its first message (a snapshot: the calls stay
        held, unlike ``drain_finished``)."""
    def outcome_counts(self) -> dict[_Outcome, int]:
        """Calls per outcome, those held and those handed out."""
    @property
    def counters(self) -> dict[str, int]:
        """What the correlator saw and what it had to let go, since it was made:

        - ``messages`` fed; ``requests`` and ``responses`` among them whose Call-ID, CSeq and
          top Via were read; ``unparsable``; ``uncorrelated``, and why: ``uncorrelated_no_call_id``,
          ``_bad_cseq``, ``_no_via``, ``_bad_via``, ``_late`` (a straggler of a call finished
          less than ``linger`` seconds before; an initial INVITE after it with another From
          tag is a new call reusing the Call-ID), ``_ack_response`` (a response to an ACK);
          ``repaired`` (a From, To or Via read only with a lenient repair).
        - ``retransmissions`` (copies on the same hop), ``duplicates`` (frames captured
          twice, see ``feed``), ``transactions`` made,
          ``orphan_responses`` (responses whose request has not been seen; the count goes
          down when it comes), ``parked_acks`` (2xx ACKs fed before their INVITE).
        - ``dialogs`` made and ``calls`` (Call-IDs that turned out to be calls),
          ``finished_calls`` handed out, ``evicted_calls`` (finished early by a full table,
          ``evicted_<outcome>`` by outcome). A Call-ID that is no call (OPTIONS, REGISTER,
          a subscription) is let go after ``linger`` seconds of quiet: its messages are then
          counted in ``non_call_messages``, and a later message makes it anew: a
          subscription quiet for longer than ``linger`` between its NOTIFYs counts a dialog
          for each spell.
        - What the bounds let go: ``dropped`` messages not recorded, by what was full:
          ``dropped_transactions``, ``_responses``, ``_dialogs``, ``_exchanges``, ``_rows``,
          ``_info_dtmf`` (past 256 digits in a call);
          ``non_call_transactions_unfollowed`` (the same cap reached by a Call-ID that is no
          call: nothing of a call lost).
        - ``info_dtmf`` (digits read from INFO requests); ``unstored`` (messages not kept: the kept
          bytes had reached their bound) and ``stored_bytes`` (bytes kept now)."""

# --- correlate (end) -------------------------------------------------------------------------

# --- endpoint (sans-IO transactions and dialogs) ---------------------------------------------

_EventKind = Literal[
    "request",
    "response",
    "cancelled",
    "ack",
    "bye",
    "timeout",
    "transport_error",
    "no_ack",
    "glare_retry",
    "dialog_terminated",
    "transaction_terminated",
    "session_refresh",
    "session_expired",
    "subscribe",
    "notify",
    "subscription_expired",
]
_TxnState = Literal[
    "calling", "trying", "proceeding", "completed", "confirmed", "accepted", "terminated"
]
_TxnKind = Literal["invite_client", "non_invite_client", "invite_server", "non_invite_server"]

@final
class EndpointEvent:
    """What happened in an :class:`Endpoint`. ``kind`` says which fields are set:

    - ``"request"``: ``txn`` (answer it with ``respond``), ``dialog`` (``None`` outside a
      dialog), ``message``, ``source``.
    - ``"response"``: ``txn`` (the client transaction), ``dialog`` (the dialog a 1xx/2xx to
      an INVITE made or belongs to), ``message``, ``source``. 2xx retransmissions are ACKed
      again by the endpoint and not reported. A 2xx carrying an offer to an INVITE sent
      without one waits for :meth:`Endpoint.ack` with the answer.
    - ``"cancelled"``: ``txn`` is the INVITE the peer cancelled; 200 went to the CANCEL and
      487 to the INVITE when it had no final response (RFC 3261 §9.2).
    - ``"ack"``: ``dialog``, ``message``: the ACK for this side's 2xx (it may carry the SDP
      answer).
    - ``"bye"``: ``txn``, ``dialog``, ``message``: the peer ended the dialog; 200 was sent.
    - ``"timeout"``: ``txn``, ``transaction_kind``: Timer B/F (no final response: act as on
      408) or Timer H (no ACK for a non-2xx final).
    - ``"transport_error"``: ``txn``.
    - ``"no_ack"``: ``dialog``: no ACK for this side's 2xx in 64·T1; BYE was sent.
    - ``"glare_retry"``: ``dialog``, ``old_txn`` (the re-INVITE that got 491), ``txn`` (the
      retry, sent in the RFC 3261 §14.1 window).
    - ``"dialog_terminated"``: ``dialog``, ``call_id``.
    - ``"transaction_terminated"``: ``txn``.
    - ``"session_refresh"``: ``dialog``: half the session interval passed and this side
      refreshes (RFC 4028 §10): send a re-INVITE or UPDATE in the dialog.
    - ``"session_expired"``: ``dialog``: no refresh came in time; BYE was sent.
    - ``"subscribe"``: ``txn``, ``dialog`` (``None`` for a new subscription), ``message``,
      ``event`` (``type`` or ``type;id=x``), ``expires`` (what a 2xx grants unless it carries
      its own Expires; 0 unsubscribes). Missing or bad Event, an event type not in
      ``events`` (489 with Allow-Events) and an Expires below ``min_expires`` (423) were
      answered by the endpoint (RFC 6665 §4.2.1.1).
    - ``"notify"``: ``txn``, ``dialog``, ``message``, ``event``, ``state`` (as written,
      lower case), ``expires``, ``reason``: a NOTIFY for a subscription of this side, its
      state applied (a ``terminated`` one has ended the subscription, and the dialog when a
      subscription made it). NOTIFYs no subscription expects got 481 (RFC 6665 §4.1.3);
      REFER's inside a call arrive as ``"request"``.
    - ``"subscription_expired"``: ``dialog``, ``event``, ``role`` (``"subscriber"`` or
      ``"notifier"``): no refresh came in time; the notifier sent the NOTIFY with
      ``terminated;reason=timeout`` (RFC 6665 §4.2.2).

    A ``"response"`` to PUBLISH (RFC 3903) has ``etag`` (the SIP-ETag token of a 2xx; None
    when the 2xx has none) and ``expires`` (the 2xx's Expires, or a 423's Min-Expires).
    """

    @property
    def kind(self) -> _EventKind: ...
    @property
    def txn(self) -> int | None: ...
    @property
    def dialog(self) -> int | None: ...
    @property
    def message(self) -> Request | Response | None: ...
    @property
    def source(self) -> tuple[str, int] | None: ...
    @property
    def old_txn(self) -> int | None: ...
    @property
    def transaction_kind(self) -> _TxnKind | None: ...
    @property
    def call_id(self) -> str | None: ...
    @property
    def event(self) -> str | None: ...
    @property
    def state(self) -> str | None: ...
    @property
    def expires(self) -> int | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def role(self) -> Literal["subscriber", "notifier"] | None: ...
    @property
    def etag(self) -> str | None: ...

@final
class EndpointDialog:
    """A dialog of an :class:`Endpoint` (RFC 3261 §12), as it was when asked for."""

    @property
    def key(self) -> int: ...
    @property
    def call_id(self) -> str: ...
    @property
    def local_tag(self) -> str: ...
    @property
    def remote_tag(self) -> str: ...
    @property
    def state(self) -> _DialogState: ...
    @property
    def is_uac(self) -> bool:
        """This side sent the request that made the dialog."""
    @property
    def local_seq(self) -> int: ...
    @property
    def remote_seq(self) -> int | None: ...
    @property
    def local_party(self) -> str:
        """This side's From (UAC) or To (UAS) value, tag included."""
    @property
    def remote_party(self) -> str: ...
    @property
    def remote_target(self) -> str:
        """The peer's Contact URI (refreshed by re-INVITE and UPDATE)."""
    @property
    def route_set(self) -> list[str]: ...
    @property
    def secure(self) -> bool: ...

@final
class Endpoint:
    """The protocol core of a user agent, sans-IO: RFC 3261 transactions (§17) and dialogs
    (§12) in Rust, with no sockets, clock or threads. The driver owns those::

        ep = Endpoint("192.0.2.1", 5060, "udp")
        ep.receive(data, source, now)          # each datagram / framed message received
        ep.request("OPTIONS", uri, dest=peer, now=now)
        ep.respond(txn, 200, now=now)
        for data, dest, transport in ep.transmit():
            sock.sendto(data, dest)
        for event in ep.events():
            ...                                # EndpointEvent
        wake = ep.next_deadline()              # then ep.tick(now)

    ``now`` is seconds on any monotonic clock (``loop.time()``); transactions and dialogs are
    int handles. The endpoint itself sends 100 Trying, the ACK of every 2xx and non-2xx final,
    2xx retransmissions until the ACK (and BYE when none comes), 200/487 for a received
    CANCEL, 481/482/500/491 where RFC 3261 §8.2.2.2, §12.2.2 and §14.2 say so, the BYE of an
    unwanted fork, the re-INVITE retry after 491, the PRACK of a reliable provisional
    (RFC 3262), and session timers (RFC 4028: ``Supported: timer`` and Session-Expires on
    INVITE and UPDATE, the refresher chosen in the 2xx, 422 for an interval below
    ``min_se``, a ``session_refresh`` event when this side must refresh, BYE when the session
    expires). For subscriptions (RFC 6665) it answers 489 (event types not in ``events``),
    423 and 481, makes the dialog of a 2xx to SUBSCRIBE or of a NOTIFY that overtakes it,
    writes Expires in the 2xx, and ends expired subscriptions (the notifier's last NOTIFY
    included). Requests unfit for the user are answered before it sees them (RFC 3261
    §8.2): 400 with a Warning naming the header (missing or duplicated mandatory headers, a
    CSeq of another method, or a request that does not parse at all, answered statelessly),
    416 (URI scheme), 420 with Unsupported (Require), 415 (Content-Encoding, a non-SDP
    offer), 488 (an offer that does not parse); counted in ``malformed_rejected``. A body
    given without Content-Type gets ``application/sdp`` when it is SDP (``v=0``) and is
    refused otherwise (``missing_content_type``); an INVITE in a dialog while another is in
    progress is refused (``invite_in_progress``, §14.1). Responses go where §18.2.2 says
    (``maddr``, the sent-by port, or the source with ``rport``), with ``received`` when the
    sent-by is not the source (§18.2.1). Tags, Call-IDs and branches come from a generator
    seeded from ``os.urandom`` unless ``seed`` is given (for reproducible tests). Tables are
    bounded by ``max_transactions`` and ``max_dialogs``. Methods that take a user's request raise
    :class:`LocalProtocolError` saying what was wrong; received bytes never raise.
    """

    def __new__(
        cls,
        host: str = "127.0.0.1",
        port: int = 5060,
        transport: _Transport = "udp",
        *,
        user: str = "sipwire",
        seed: int | None = None,
        t1: float = 0.5,
        t2: float = 4.0,
        t4: float = 5.0,
        max_transactions: int = 16384,
        max_dialogs: int = 16384,
        auto_trying: bool = True,
        strict: bool = True,
        session_expires: int | None = None,
        min_se: int = 90,
        events: Sequence[str] | None = None,
        min_expires: int = 1,
        max_expires: int = 86400,
    ) -> Endpoint:
        """``host``, ``port``: this endpoint's IP address as written in Via and Contact;
        ``user``: the Contact's user part; ``t1``/``t2``/``t4``: RFC 3261 timers in seconds;
        ``strict``: how received messages are parsed; ``session_expires``: the session
        interval in seconds this side asks for (RFC 4028; None asks for none but honours
        the peer's); ``min_se``: the shortest interval accepted (at least 90). ``events``:
        the event types accepted in SUBSCRIBE and PUBLISH (others get 489); subscriptions
        last ``min_expires`` to ``max_expires`` seconds (RFC 6665 §4.2.1.1)."""
    @property
    def local(self) -> tuple[str, int]: ...
    @property
    def transport(self) -> _Transport: ...
    @property
    def contact(self) -> str:
        """The Contact value this endpoint writes."""
    def receive(
        self,
        data: bytes,
        source: tuple[str, int],
        now: float,
        transport: _Transport | None = None,
    ) -> bool:
        """One received message. False when it does not parse (counted as ``malformed``)."""
    def request(
        self,
        method: str,
        uri: str,
        *,
        dest: tuple[str, int],
        now: float,
        to: str | None = None,
        from_: str | None = None,
        call_id: str | None = None,
        cseq: int | None = None,
        headers: Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
        transport: _Transport | None = None,
    ) -> int:
        """Sends a request outside any dialog in a new client transaction and returns it.
        Via (fresh branch, ``rport`` on UDP), Max-Forwards, From (tag added), To (default
        ``<uri>``), Call-ID (fresh unless given; a registration keeps its own), CSeq (default
        1), Contact (INVITE, SUBSCRIBE, REFER, REGISTER, ...) and Content-Length are written;
        ``headers`` follow. An INVITE makes the dialogs its responses create."""
    def send(
        self,
        data: bytes | Request,
        *,
        dest: tuple[str, int],
        now: float,
        transport: _Transport | None = None,
    ) -> int:
        """Sends a request the caller built (top Via with a fresh ``z9hG4bK`` branch; not
        ACK) in a new client transaction."""
    def request_in_dialog(
        self,
        dialog: int,
        method: str,
        *,
        now: float,
        headers: Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
        dest: tuple[str, int] | None = None,
        transport: _Transport | None = None,
    ) -> int:
        """A request inside ``dialog`` (RFC 3261 §12.2.1.1): next CSeq, route set (loose or
        strict routing), remote target, Contact on target refreshes. The next hop's address
        is used when it is an IP address, else the dialog's peer, unless ``dest`` is given. A
        BYE ends the dialog at once (§15.1.1)."""
    def respond(
        self,
        txn: int,
        status: int,
        reason: str | None = None,
        *,
        now: float,
        headers: Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
        reliable: bool = False,
    ) -> int | None:
        """Answers server transaction ``txn``: Via, From, To (with this side's tag), Call-ID,
        CSeq copied, Record-Route for 101-299, Contact on 101-299 to INVITE, UPDATE,
        SUBSCRIBE, NOTIFY and REFER; the top Via gets ``received``/``rport`` when the request
        asked (RFC 3581); ``reason`` defaults to the RFC's phrase. Returns the dialog a
        101-299 to an INVITE made or belongs to.

        ``reliable`` (a 101-199 to an INVITE whose sender supports 100rel, RFC 3262 §3):
        ``Require: 100rel`` and the next RSeq are added, the response is sent again at T1,
        2·T1, ... until the PRACK (answered 200 by the endpoint) and the INVITE gets 500
        when none comes in 64·T1. One unacknowledged reliable provisional at a time."""
    def ack(
        self,
        txn: int,
        dialog: int,
        *,
        now: float,
        headers: Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> None:
        """The ACK for a 2xx that carried an offer because this side's INVITE ``txn`` had
        none: ``body`` is the answer (RFC 3264 §5, RFC 3261 §13.2.2.4). Retransmissions of
        the 2xx get it again. Raises :class:`LocalProtocolError` when no such 2xx waits."""
    def replaces(self, value: str) -> tuple[int | None, int]:
        """The dialog a received INVITE's Replaces value names (RFC 3891 §3: its to-tag is
        this side's tag): ``(dialog, 0)``, or ``(None, status)`` to reject the INVITE with
        (400 unreadable, 481 no such dialog, 486 ``early-only`` for a confirmed one)."""
    def session_timer(self, dialog: int) -> tuple[int, bool] | None:
        """The dialog's running session timer (RFC 4028): (interval in seconds, this side
        refreshes), or None."""
    def notify(
        self,
        dialog: int,
        event: str,
        state: Literal["active", "pending", "terminated"],
        *,
        now: float,
        reason: str | None = None,
        headers: Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> int:
        """A NOTIFY for a subscription this side accepted (RFC 6665 §4.2.2): Event and
        Subscription-State are written (the seconds left for active and pending, ``reason``
        for terminated). A terminated NOTIFY ends the subscription, and its dialog when a
        subscription made it."""
    def subscription(
        self, dialog: int, event: str, *, role: Literal["subscriber", "notifier"] = "subscriber"
    ) -> tuple[Literal["active", "pending", "terminated"], float] | None:
        """(state, deadline on the ``now`` clock) of a live subscription of ``dialog``."""
    def cancel(self, txn: int, *, now: float) -> int | None:
        """Cancels an INVITE this side sent (RFC 3261 §9.1). Returns the CANCEL's
        transaction, or None when it waits for a provisional response."""
    def transport_error(self, txn: int, *, now: float) -> None:
        """The driver could not send for ``txn`` (ICMP error, connection reset)."""
    def unreachable(
        self, dest: tuple[str, int], *, now: float, transport: _Transport | None = None
    ) -> int:
        """``dest`` is unreachable (an ICMP error, a refused or reset connection, RFC 3261
        §18.4): every client transaction to it fails now with a ``transport_error`` event.
        Returns how many."""
    def tick(self, now: float) -> None:
        """Runs every timer due at ``now``."""
    def next_deadline(self) -> float | None:
        """When to call ``tick`` next, or None when no timer is armed."""
    def transmit(self) -> list[tuple[bytes, tuple[str, int], _Transport]]:
        """Takes everything to send: (bytes, destination, transport)."""
    def events(self) -> list[EndpointEvent]:
        """Takes everything that happened since the last call."""
    def dialog(self, key: int) -> EndpointDialog | None: ...
    def dialogs(self) -> list[int]:
        """Every live dialog."""
    @property
    def transactions(self) -> int:
        """Live transactions."""
    def transaction_state(self, txn: int) -> _TxnState | None: ...
    def transaction_kind(self, txn: int) -> _TxnKind | None: ...
    def token(self) -> str:
        """A fresh tag or Call-ID from the endpoint's generator."""
    @property
    def counters(self) -> dict[str, int]:
        """What the transaction layer, the dialog table and the endpoint counted."""

# --- load engine -------------------------------------------------------------------------------

@final
class LoadRunner:
    """The load engine: one UDP socket read and written in batches (recvmmsg/sendmmsg), the
    sans-IO endpoint, and calls walked through a scenario from Rust. ``sipwire.load`` is the
    Python API on it.

    With ``target`` and ``steps`` (dicts: ``{"kind": "request", "method": ..., "headers":
    [(name, value)], "body": bytes, "sdp": direction or None, "expect": (lo, hi), "auth":
    bool, "cancel_after": seconds or None, "uri"/"to"/"from": str or None}`` or ``{"kind":
    "pause", "seconds": s}``) it places calls once :meth:`place` is called; ``{n}`` in
    ``uri``, ``to``, ``from_``, ``user``, header values and bodies is the call's number. It always
    answers what it receives: a new INVITE with ``invite_status`` (after 180 and ``ring``
    seconds when ``ring`` > 0), anything else with 200."""

    def __new__(
        cls,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        target: tuple[str, int] | None = None,
        steps: list[dict[str, Any]] | None = None,
        uri: str | None = None,
        to: str | None = None,
        from_: str | None = None,
        user: str = "sipwire",
        password: str = "",
        ring: float = 0.0,
        invite_status: int = 200,
        max_calls_up: int = 65536,
        t1: float = 0.5,
        max_transactions: int = 131072,
        max_dialogs: int = 65536,
        buffer: int = 4194304,
        seed: int | None = None,
    ) -> LoadRunner: ...
    @property
    def local(self) -> tuple[str, int]:
        """(host, port) the socket is bound to."""
    @property
    def now(self) -> float:
        """Seconds on the runner's clock (from its creation)."""
    def place(self, rate: float, seconds: float, max_calls: int | None = None) -> None:
        """Starts placing ``rate`` calls a second for ``seconds`` (at most ``max_calls``)."""
    def run(self, until: float) -> None:
        """Runs the engine until ``until`` seconds on its clock, without the GIL."""
    @property
    def placing(self) -> bool:
        """Whether calls remain to be placed (the rate and span of the last :meth:`place`)."""
    @property
    def active(self) -> int:
        """Calls in progress."""
    @property
    def buffers(self) -> tuple[int, int]:
        """The kernel's receive and send buffer sizes for the socket."""
    def take_interval(self) -> dict[str, Any]:
        """Setup-latency percentiles (ms: p50, p95, p99, p99.9, max, mean, count) since the
        last call, then starts a new interval."""
    def stats(self) -> dict[str, Any]:
        """Every counter: attempted, completed, failed, refused, unreachable, up, max_up,
        in_calls, in_answered, in_completed, in_cancelled, in_failed, in_up, in_max_up,
        sent, received, send_dropped, send_failed, truncated, malformed, icmp_errors,
        first_sent, first_received (seconds or None), failures [(status, reason, count)],
        in_requests {method: count}, setup (percentiles as in take_interval),
        retransmitted, retransmissions_received, transactions, transactions_evicted,
        transactions_rejected, dialogs, queued."""
