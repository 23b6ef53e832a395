//! Errors and diagnostics.
//!
//! An [`Error`] is two words: what went wrong ([`ErrorKind`]) and the byte offset in the input
//! where it was noticed. Line, column and header name are derived from the input on demand
//! ([`Location::find`]), so the hot path never carries them.

use core::fmt;

/// What was wrong with the input (or with a value handed to a builder).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    // --- framing (RFC 3261 §7.5, §18.3) ---
    /// No bytes, or only CRLF keep-alives.
    Empty,
    /// The header section never ends with an empty line.
    MissingEmptyLine,
    /// A line ends in LF without CR.
    BareLf,
    /// A CR not followed by LF.
    BareCr,
    /// The message is larger than `Limits::max_message`.
    MessageTooLarge,
    /// Content-Length is not `1*DIGIT` (negative, signed, empty, padded, non-numeric).
    InvalidContentLength,
    /// Content-Length does not fit the limits (or u32).
    ContentLengthOverflow,
    /// Two Content-Length headers with different values.
    ConflictingContentLength,
    /// The datagram or stream ended before the body Content-Length promised.
    BodyTooShort,
    /// The body is larger than `Limits::max_body`.
    BodyTooLarge,
    /// A stream message without Content-Length (mandatory on streams, RFC 3261 §18.3).
    MissingContentLength,
    /// Bytes that are not a SIP message where one should start on a stream.
    Garbage,
    /// A capture holds only the first bytes of the message: the snap length cut the record.
    CaptureTruncated,

    // --- start line (RFC 3261 §7.1, §7.2) ---
    /// The first line is neither a Request-Line nor a Status-Line.
    InvalidStartLine,
    /// The method is not a token.
    InvalidMethod,
    /// The method is longer than `Limits::max_method`.
    MethodTooLong,
    /// The Request-URI is empty, contains whitespace, or is not a URI.
    InvalidRequestUri,
    /// The Request-URI is enclosed in `<` `>` (RFC 4475 §3.1.2.11).
    BracketedRequestUri,
    /// More than one SP between start-line elements, or SP before CRLF (RFC 4475 §3.1.2.13-14).
    ExtraWhitespace,
    /// The version is not `SIP/<digits>.<digits>`.
    InvalidVersion,
    /// A well-formed version other than SIP/2.0 (the UAS answers 505).
    UnsupportedVersion,
    /// The status code is not three digits.
    InvalidStatusCode,
    /// The status code is outside 100-699.
    StatusCodeOutOfRange,
    /// The reason phrase holds control bytes.
    InvalidReasonPhrase,

    // --- header section (RFC 3261 §7.3) ---
    /// A header line without a colon.
    MissingColon,
    /// The header name is empty or not a token.
    InvalidHeaderName,
    /// Whitespace or a control byte between header name and colon.
    WhitespaceBeforeColon,
    /// A header name longer than `Limits::max_header_name`.
    HeaderNameTooLong,
    /// A header line longer than `Limits::max_header_line`.
    HeaderLineTooLong,
    /// More headers than `Limits::max_headers`.
    TooManyHeaders,
    /// More Via values than `Limits::max_vias`.
    TooManyVias,
    /// More list items in one header than `Limits::max_list_items`.
    TooManyListItems,
    /// A NUL or other control byte in a header value.
    ControlCharacter,
    /// A continuation line (folding) before any header.
    FoldBeforeFirstHeader,
    /// A header that may appear once appears more than once (To, From, Call-ID, CSeq, ...).
    DuplicateHeader,
    /// A mandatory header (RFC 3261 §8.1.1) is missing.
    MissingHeader,
    /// A header value does not match its grammar.
    InvalidHeaderValue,
    /// An empty element in a list or parameter list (`;;`, `,,`).
    EmptyElement,
    /// CSeq is not `1*DIGIT LWS Method`.
    InvalidCSeq,
    /// A number is larger than its header allows (CSeq ≥ 2^31, Max-Forwards > 255,
    /// Expires ≥ 2^32 ...).
    NumberOutOfRange,
    /// The CSeq method differs from the Request-Line method (RFC 3261 §8.1.1.5).
    CSeqMethodMismatch,
    /// A Date header that is not an RFC 1123 GMT date (RFC 3261 §20.17).
    InvalidDate,
    /// A quoted string without its closing quote.
    UnterminatedQuote,
    /// A quoted string ending in a lone backslash.
    TrailingBackslash,
    /// `<` without `>`.
    UnterminatedAngle,
    /// Comments or quotes nested deeper than `Limits::max_nesting`.
    NestingTooDeep,
    /// A display name that is neither tokens nor a quoted string (RFC 4475 §3.1.2.16).
    InvalidDisplayName,
    /// An addr-spec holding `,`, `;` or `?` outside `<>` (RFC 3261 §20).
    UnbracketedUri,
    /// Whitespace inside `<` `>` around a URI (RFC 4475 §3.1.2.15).
    WhitespaceInUri,
    /// A Via without a branch parameter (RFC 2543 style).
    MissingBranch,

    // --- URIs (RFC 3261 §19.1, RFC 3966, RFC 5118) ---
    /// The URI does not match the grammar of its scheme.
    InvalidUri,
    /// A `%` not followed by two hex digits.
    InvalidEscape,
    /// The host is neither a domain, an IPv4 address nor a bracketed IPv6 reference.
    InvalidHost,
    /// An IPv6 address without `[` `]` where a reference is required (RFC 5118 §4.10).
    UnbracketedIpv6,
    /// The port is not digits or is larger than 65535.
    InvalidPort,
    /// A URI longer than `Limits::max_uri`.
    UriTooLong,
    /// More parameters on one element than `Limits::max_params`.
    TooManyParams,
    /// A Request-URI carrying `?headers` (RFC 3261 §19.1.5).
    HeadersInRequestUri,

    // --- bodies ---
    /// A multipart body without a boundary parameter.
    MissingBoundary,
    /// A multipart body whose delimiters or part headers are malformed.
    InvalidMultipart,
    /// Multipart nested deeper than `Limits::max_multipart_depth`.
    MultipartTooDeep,
    /// More parts than `Limits::max_multipart_parts`.
    TooManyParts,

    // --- SDP (RFC 8866) ---
    /// An SDP line that is not `<type>=<value>`.
    SdpInvalidLine,
    /// An SDP line longer than `Limits::max_sdp_line`.
    SdpLineTooLong,
    /// A mandatory SDP line (v, o, s, t) is missing or out of order.
    SdpMissingLine,
    /// An SDP field that does not match its grammar.
    SdpInvalidValue,
    /// More media sections than `Limits::max_sdp_media`.
    SdpTooManyMedia,
    /// More attributes than `Limits::max_sdp_attributes`.
    SdpTooManyAttributes,
    /// A payload type outside 0-127.
    SdpInvalidPayloadType,

    // --- building ---
    /// A CR, LF or NUL in a value handed to a builder (header injection).
    ForbiddenCharacter,
    /// A value handed to a builder that does not match its grammar (a method or header name
    /// that is not a token, a status code outside 100-699...).
    InvalidValue,
}

impl ErrorKind {
    /// A short, stable, snake_case name (the Python `ParseError.kind`).
    pub fn name(self) -> &'static str {
        use ErrorKind::*;
        match self {
            Empty => "empty",
            MissingEmptyLine => "missing_empty_line",
            BareLf => "bare_lf",
            BareCr => "bare_cr",
            MessageTooLarge => "message_too_large",
            InvalidContentLength => "invalid_content_length",
            ContentLengthOverflow => "content_length_overflow",
            ConflictingContentLength => "conflicting_content_length",
            BodyTooShort => "body_too_short",
            BodyTooLarge => "body_too_large",
            MissingContentLength => "missing_content_length",
            Garbage => "garbage",
            CaptureTruncated => "capture_truncated",
            InvalidStartLine => "invalid_start_line",
            InvalidMethod => "invalid_method",
            MethodTooLong => "method_too_long",
            InvalidRequestUri => "invalid_request_uri",
            BracketedRequestUri => "bracketed_request_uri",
            ExtraWhitespace => "extra_whitespace",
            InvalidVersion => "invalid_version",
            UnsupportedVersion => "unsupported_version",
            InvalidStatusCode => "invalid_status_code",
            StatusCodeOutOfRange => "status_code_out_of_range",
            InvalidReasonPhrase => "invalid_reason_phrase",
            MissingColon => "missing_colon",
            InvalidHeaderName => "invalid_header_name",
            WhitespaceBeforeColon => "whitespace_before_colon",
            HeaderNameTooLong => "header_name_too_long",
            HeaderLineTooLong => "header_line_too_long",
            TooManyHeaders => "too_many_headers",
            TooManyVias => "too_many_vias",
            TooManyListItems => "too_many_list_items",
            ControlCharacter => "control_character",
            FoldBeforeFirstHeader => "fold_before_first_header",
            DuplicateHeader => "duplicate_header",
            MissingHeader => "missing_header",
            InvalidHeaderValue => "invalid_header_value",
            EmptyElement => "empty_element",
            InvalidCSeq => "invalid_cseq",
            NumberOutOfRange => "number_out_of_range",
            CSeqMethodMismatch => "cseq_method_mismatch",
            InvalidDate => "invalid_date",
            UnterminatedQuote => "unterminated_quote",
            TrailingBackslash => "trailing_backslash",
            UnterminatedAngle => "unterminated_angle",
            NestingTooDeep => "nesting_too_deep",
            InvalidDisplayName => "invalid_display_name",
            UnbracketedUri => "unbracketed_uri",
            WhitespaceInUri => "whitespace_in_uri",
            MissingBranch => "missing_branch",
            InvalidUri => "invalid_uri",
            InvalidEscape => "invalid_escape",
            InvalidHost => "invalid_host",
            UnbracketedIpv6 => "unbracketed_ipv6",
            InvalidPort => "invalid_port",
            UriTooLong => "uri_too_long",
            TooManyParams => "too_many_params",
            HeadersInRequestUri => "headers_in_request_uri",
            MissingBoundary => "missing_boundary",
            InvalidMultipart => "invalid_multipart",
            MultipartTooDeep => "multipart_too_deep",
            TooManyParts => "too_many_parts",
            SdpInvalidLine => "sdp_invalid_line",
            SdpLineTooLong => "sdp_line_too_long",
            SdpMissingLine => "sdp_missing_line",
            SdpInvalidValue => "sdp_invalid_value",
            SdpTooManyMedia => "sdp_too_many_media",
            SdpTooManyAttributes => "sdp_too_many_attributes",
            SdpInvalidPayloadType => "sdp_invalid_payload_type",
            ForbiddenCharacter => "forbidden_character",
            InvalidValue => "invalid_value",
        }
    }

    /// One sentence: what is wrong and what to do about it.
    pub fn describe(self) -> &'static str {
        use ErrorKind::*;
        match self {
            Empty => "no message: the input is empty or only CRLF keep-alives",
            MissingEmptyLine => "the header section does not end with an empty line (CRLF CRLF); the message is truncated or not SIP",
            BareLf => "a line ends in LF without CR; SIP requires CRLF (parse with strict=False to accept bare LF)",
            BareCr => "a CR is not followed by LF",
            MessageTooLarge => "the message is larger than Limits.max_message; raise the limit if this size is expected",
            InvalidContentLength => "Content-Length must be decimal digits only (no sign, spaces inside, or other characters)",
            ContentLengthOverflow => "Content-Length is larger than Limits.max_body allows",
            ConflictingContentLength => "several Content-Length headers disagree; the body length cannot be known",
            BodyTooShort => "the body is shorter than Content-Length (RFC 3261 §18.3: discard the message)",
            BodyTooLarge => "the body is larger than Limits.max_body; raise the limit if this size is expected",
            MissingContentLength => "a message on a stream transport must carry Content-Length (RFC 3261 §18.3)",
            Garbage => "bytes that do not start a SIP message; the stream skipped to the next start line",
            CaptureTruncated => "the capture holds only the first bytes of this message (its snap length cut the record); capture with a larger snap length (tcpdump -s 0) to see it whole",
            InvalidStartLine => "the first line is neither 'METHOD Request-URI SIP/2.0' nor 'SIP/2.0 code reason'",
            InvalidMethod => "the method is not a token (RFC 3261 §25.1)",
            MethodTooLong => "the method is longer than Limits.max_method",
            InvalidRequestUri => "the Request-URI is empty, contains whitespace or is not a URI",
            BracketedRequestUri => "the Request-URI must not be enclosed in '<' '>' (strict=False strips them)",
            ExtraWhitespace => "start-line elements must be separated by exactly one SP (strict=False tolerates more)",
            InvalidVersion => "the version must be 'SIP/' digits '.' digits",
            UnsupportedVersion => "the SIP version is not 2.0 (a UAS answers 505)",
            InvalidStatusCode => "the status code must be exactly three digits",
            StatusCodeOutOfRange => "the status code must be between 100 and 699",
            InvalidReasonPhrase => "the reason phrase holds control bytes",
            MissingColon => "a header line has no ':'",
            InvalidHeaderName => "the header name is empty or not a token",
            WhitespaceBeforeColon => "whitespace or a control byte between the header name and ':' (a known request-smuggling trick)",
            HeaderNameTooLong => "the header name is longer than Limits.max_header_name",
            HeaderLineTooLong => "the header line is longer than Limits.max_header_line",
            TooManyHeaders => "more headers than Limits.max_headers",
            TooManyVias => "more Via values than Limits.max_vias",
            TooManyListItems => "more list items in one header than Limits.max_list_items",
            ControlCharacter => "a NUL or other control byte in a header value",
            FoldBeforeFirstHeader => "a continuation line (starting with whitespace) before any header",
            DuplicateHeader => "a header that may appear only once appears more than once",
            MissingHeader => "a mandatory header is missing (RFC 3261 §8.1.1)",
            InvalidHeaderValue => "the header value does not match its grammar",
            EmptyElement => "an empty element in a list or parameter list (';;' or ',,')",
            InvalidCSeq => "CSeq must be a number, whitespace, and a method",
            NumberOutOfRange => "a number is larger than its header allows (CSeq < 2^31, Max-Forwards <= 255, Expires < 2^32)",
            CSeqMethodMismatch => "the CSeq method differs from the Request-Line method (a UAS answers 400)",
            InvalidDate => "the Date header is not an RFC 1123 date in GMT",
            UnterminatedQuote => "a quoted string has no closing '\"'",
            TrailingBackslash => "a quoted string ends in a lone backslash",
            UnterminatedAngle => "'<' without a matching '>'",
            NestingTooDeep => "comments or quotes are nested deeper than Limits.max_nesting",
            InvalidDisplayName => "a display name must be tokens or a quoted string",
            UnbracketedUri => "a URI holding ',', ';' or '?' must be enclosed in '<' '>' (RFC 3261 §20)",
            WhitespaceInUri => "whitespace inside '<' '>' around the URI",
            MissingBranch => "the Via has no branch parameter (RFC 2543 peer)",
            InvalidUri => "the URI does not match the grammar of its scheme",
            InvalidEscape => "'%' must be followed by two hex digits",
            InvalidHost => "the host is not a domain name, an IPv4 address or a bracketed IPv6 reference",
            UnbracketedIpv6 => "an IPv6 address in a URI must be enclosed in '[' ']' (RFC 5118 §4.10)",
            InvalidPort => "the port must be digits in 0-65535",
            UriTooLong => "the URI is longer than Limits.max_uri",
            TooManyParams => "more parameters on one element than Limits.max_params",
            HeadersInRequestUri => "a Request-URI must not carry '?headers' (RFC 3261 §19.1.5)",
            MissingBoundary => "a multipart body needs a boundary parameter in Content-Type",
            InvalidMultipart => "the multipart body's delimiters or part headers are malformed",
            MultipartTooDeep => "multipart bodies are nested deeper than Limits.max_multipart_depth",
            TooManyParts => "the multipart body has more parts than Limits.max_multipart_parts",
            SdpInvalidLine => "an SDP line must be '<letter>=<value>'",
            SdpLineTooLong => "an SDP line is longer than Limits.max_sdp_line",
            SdpMissingLine => "a mandatory SDP line (v=, o=, s=, t=) is missing or out of order",
            SdpInvalidValue => "an SDP field does not match its grammar",
            SdpTooManyMedia => "more media sections than Limits.max_sdp_media",
            SdpTooManyAttributes => "more attributes than Limits.max_sdp_attributes",
            SdpInvalidPayloadType => "a payload type must be 0-127",
            ForbiddenCharacter => "CR, LF and NUL are not allowed in a value (header injection)",
            InvalidValue => "the value does not match the grammar it is used in",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A parse or build error: its kind and the byte offset (into the whole input) where it was
/// found. Small and `Copy`; see [`Location::find`] for line, column and header name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Error {
    pub kind: ErrorKind,
    pub offset: u32,
    /// The header the error is about when its offset cannot say (a missing header).
    pub header: Option<crate::message::HeaderName>,
}

impl Error {
    #[inline]
    pub fn new(kind: ErrorKind, offset: usize) -> Self {
        Error {
            kind,
            offset: offset.min(u32::MAX as usize) as u32,
            header: None,
        }
    }

    /// A mandatory header that is absent (RFC 3261 §8.1.1), named.
    #[inline]
    pub fn missing(header: crate::message::HeaderName, offset: usize) -> Self {
        Error {
            header: Some(header),
            ..Error::new(ErrorKind::MissingHeader, offset)
        }
    }

    /// The same error moved by `base` bytes (for parsers run on a slice of the message).
    #[inline]
    #[must_use]
    pub fn shifted(self, base: usize) -> Self {
        Error {
            offset: (self.offset as usize + base).min(u32::MAX as usize) as u32,
            ..self
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind.describe(), self.offset)?;
        if let Some(h) = self.header {
            write!(f, " ({})", h.canonical())?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// A deviation that a lenient parse repaired or tolerated, or a semantic problem found in a
/// message that still parsed (missing or duplicated headers, CSeq method mismatch, version).
pub type Diagnostic = Error;

pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Where an offset falls in the input, for people: 1-based line and column, and the header
/// name when the offset is inside a header line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location<'a> {
    pub line: u32,
    pub column: u32,
    pub header: Option<&'a [u8]>,
}

impl<'a> Location<'a> {
    /// Derives line, column and header of `offset` in `input`.
    pub fn find(input: &'a [u8], offset: u32) -> Self {
        let off = (offset as usize).min(input.len());
        let before = input.get(..off).unwrap_or(&[]);
        let line = 1 + memchr::memchr_iter(b'\n', before).count() as u32;
        let line_start = memchr::memrchr(b'\n', before).map_or(0, |p| p + 1);
        let column = (off - line_start) as u32 + 1;
        // The header section ends at the first empty line; past it (or on line 1) there is
        // no header.
        let header_end = memchr::memmem::find(input, b"\r\n\r\n")
            .or_else(|| memchr::memmem::find(input, b"\n\n"))
            .unwrap_or(input.len());
        let header = if line == 1 || off > header_end {
            None
        } else {
            header_name_of_line(input, line_start)
        };
        Location {
            line,
            column,
            header,
        }
    }
}

/// The header name of the logical line that contains the line starting at `start`,
/// following folded continuation lines back to their first line.
fn header_name_of_line(input: &[u8], mut start: usize) -> Option<&[u8]> {
    loop {
        let first = *input.get(start)?;
        if first != b' ' && first != b'\t' {
            break;
        }
        if start < 2 {
            return None;
        }
        // Step back to the previous line's start.
        let prev_end = start - 1;
        start = memchr::memrchr(b'\n', input.get(..prev_end)?).map_or(0, |p| p + 1);
        if start == 0 {
            return None; // folded back onto the start line
        }
    }
    let rest = input.get(start..)?;
    let end = memchr::memchr3(b':', b'\r', b'\n', rest)?;
    if rest.get(end) != Some(&b':') {
        return None;
    }
    let name = rest.get(..end)?;
    let trimmed_len = name
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    name.get(..trimmed_len).filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_of_header_value() {
        let m = b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP x\r\nCSeq: abc\r\n\r\n";
        let off = m.windows(3).position(|w| w == b"abc").unwrap() as u32;
        let loc = Location::find(m, off);
        assert_eq!(loc.line, 3);
        assert_eq!(loc.column, 7);
        assert_eq!(loc.header, Some(&b"CSeq"[..]));
    }

    #[test]
    fn location_of_folded_line() {
        let m = b"INVITE sip:a@b SIP/2.0\r\nSubject: a\r\n  b\r\n\r\n";
        let loc = Location::find(m, 38);
        assert_eq!(loc.line, 3);
        assert_eq!(loc.header, Some(&b"Subject"[..]));
    }

    #[test]
    fn location_on_start_line_and_body() {
        let m = b"INVITE sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabc";
        assert_eq!(Location::find(m, 3).header, None);
        assert_eq!(Location::find(m, 33).header, None);
        assert_eq!(Location::find(m, 9999).line, 4);
    }
}
