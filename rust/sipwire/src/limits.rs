//! Every bound the parser enforces, and the deviations a lenient parse tolerates.
//!
//! Limits are values passed to the parser, never globals: a monitor reading hostile traffic
//! and a test rig reading its own messages want different numbers.

/// Bounds on sizes and counts. Exceeding one is an error of the matching kind, found before
/// any memory proportional to the excess is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Whole message (start line + headers + body), bytes.
    pub max_message: u32,
    /// Body, bytes.
    pub max_body: u32,
    /// Header lines.
    pub max_headers: u16,
    /// One header line including folds, bytes.
    pub max_header_line: u32,
    /// One header name, bytes.
    pub max_header_name: u16,
    /// Via values (across all Via headers).
    pub max_vias: u16,
    /// Items in one comma-separated header.
    pub max_list_items: u16,
    /// One URI, bytes.
    pub max_uri: u32,
    /// Parameters on one element (URI, Via, name-addr...).
    pub max_params: u16,
    /// Method token, bytes.
    pub max_method: u16,
    /// Multipart nesting depth.
    pub max_multipart_depth: u8,
    /// Parts in one multipart body.
    pub max_multipart_parts: u16,
    /// SDP media sections.
    pub max_sdp_media: u16,
    /// SDP attributes in the whole description.
    pub max_sdp_attributes: u16,
    /// One SDP line, bytes.
    pub max_sdp_line: u32,
    /// Nesting of comments and quotes.
    pub max_nesting: u8,
}

impl Limits {
    /// The defaults of DESIGN §4: generous for real traffic, tight enough for hostile input.
    pub const DEFAULT: Limits = Limits {
        max_message: 64 * 1024,
        max_body: 64 * 1024,
        max_headers: 256,
        max_header_line: 8 * 1024,
        max_header_name: 256,
        max_vias: 70,
        max_list_items: 256,
        max_uri: 4 * 1024,
        max_params: 64,
        max_method: 64,
        max_multipart_depth: 4,
        max_multipart_parts: 32,
        max_sdp_media: 32,
        max_sdp_attributes: 512,
        max_sdp_line: 8 * 1024,
        max_nesting: 32,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Deviations from RFC 3261 a lenient parse repairs, each named after what it allows. Each
/// repair is recorded as a diagnostic. `Leniency::STRICT` allows none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Leniency {
    /// Lines ending in bare LF (RFC 5118's archive, hand-written files).
    pub bare_lf: bool,
    /// A header section that ends at the end of the input without an empty line.
    pub missing_empty_line: bool,
    /// Several SP between start-line elements, trailing SP (RFC 4475 §3.1.2.13-14).
    pub extra_start_line_whitespace: bool,
    /// Request-URI in `<` `>` (RFC 4475 §3.1.2.11).
    pub bracketed_request_uri: bool,
    /// Whitespace inside the Request-URI, dropped where unambiguous (RFC 4475 §3.1.2.12).
    pub whitespace_in_request_uri: bool,
    /// `?headers` on the Request-URI kept as they are (RFC 4475 §3.1.2.17).
    pub headers_in_request_uri: bool,
    /// Whitespace between a header name and its colon.
    pub whitespace_before_colon: bool,
    /// Unterminated quotes closed at the `<` that follows (RFC 4475 §3.1.2.10).
    pub unterminated_quote: bool,
    /// Unquoted display names with non-token characters (RFC 4475 §3.1.2.16).
    pub unquoted_display_name: bool,
    /// Whitespace inside `<` `>` around a URI (RFC 4475 §3.1.2.15).
    pub whitespace_in_uri: bool,
    /// addr-spec with `?` or `;` outside `<>` taken as if bracketed (RFC 4475 §3.1.2.18).
    pub unbracketed_uri: bool,
    /// Dates in another zone than GMT (RFC 4475 §3.1.2.15).
    pub non_gmt_date: bool,
    /// Empty list and parameter elements (`;;`, `,,`) skipped.
    pub empty_elements: bool,
    /// Numbers past their header's range (CSeq, Max-Forwards, Expires) clamped.
    pub numbers_out_of_range: bool,
    /// A body shorter than Content-Length taken as it is.
    pub short_body: bool,
    /// SDP lines glued together or missing `=`, recovered where unambiguous.
    pub sdp_glued_lines: bool,
    /// An IPv6 address without `[` `]` in a URI or a Via sent-by (RFC 5118 §4.2 forbids it;
    /// devices write it), taken when unambiguous: exactly eight groups, optionally a ninth
    /// as the port (`sip:4321@2001:db8:0:0:216:d3ff:fe0d:22c:5060`).
    pub unbracketed_ipv6: bool,
    /// NUL and other control bytes inside a header value, kept as they are (devices embed
    /// them in vendor headers; a capture must still see the call). Never in the start line,
    /// a header name, or before a colon other than as `whitespace_before_colon` allows.
    pub control_bytes_in_values: bool,
}

impl Leniency {
    /// RFC 3261 as written: every deviation is an error.
    pub const STRICT: Leniency = Leniency {
        bare_lf: false,
        missing_empty_line: false,
        extra_start_line_whitespace: false,
        bracketed_request_uri: false,
        whitespace_in_request_uri: false,
        headers_in_request_uri: false,
        whitespace_before_colon: false,
        unterminated_quote: false,
        unquoted_display_name: false,
        whitespace_in_uri: false,
        unbracketed_uri: false,
        non_gmt_date: false,
        empty_elements: false,
        numbers_out_of_range: false,
        short_body: false,
        sdp_glued_lines: false,
        unbracketed_ipv6: false,
        control_bytes_in_values: false,
    };

    /// Every repair RFC 4475 lets a liberal element make, each recorded as a diagnostic.
    pub const LIBERAL: Leniency = Leniency {
        bare_lf: true,
        missing_empty_line: true,
        extra_start_line_whitespace: true,
        bracketed_request_uri: true,
        whitespace_in_request_uri: true,
        headers_in_request_uri: true,
        whitespace_before_colon: true,
        unterminated_quote: true,
        unquoted_display_name: true,
        whitespace_in_uri: true,
        unbracketed_uri: true,
        non_gmt_date: true,
        empty_elements: true,
        numbers_out_of_range: true,
        short_body: true,
        sdp_glued_lines: true,
        unbracketed_ipv6: true,
        control_bytes_in_values: true,
    };

    pub fn is_strict(&self) -> bool {
        *self == Leniency::STRICT
    }
}

/// Everything a parse is told: its bounds and what it may repair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ParseOptions {
    pub limits: Limits,
    pub leniency: Leniency,
}

impl ParseOptions {
    pub const STRICT: ParseOptions = ParseOptions {
        limits: Limits::DEFAULT,
        leniency: Leniency::STRICT,
    };
    pub const LIBERAL: ParseOptions = ParseOptions {
        limits: Limits::DEFAULT,
        leniency: Leniency::LIBERAL,
    };
}
