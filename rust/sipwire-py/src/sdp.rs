//! SDP (RFC 8866) and offer/answer (RFC 3264) for Python: `SessionDescription`, `Media`,
//! `Codec`, typed attribute views, `answer`/`hold`/`resume`, and the builders.
//!
//! A `SessionDescription` keeps the `bytes` object it was parsed from (the whole message for
//! `msg.sdp`, so no copy) and the span of the body in it. The core's parse borrows the body,
//! so the one parse also leaves a small per-stream snapshot (spans, port, direction, hold,
//! connection, codecs): the common reads need no re-parse. Anything else re-parses the body
//! (one pass, no copy) when read. Offsets (errors, diagnostics, `Attribute.offset`) are into that `bytes` object: the
//! body for `sipwire.sdp.parse`, the message for `msg.sdp`.

use std::sync::Arc;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use sipwire::body::{boundary_param, Multipart};
use sipwire::message::HeaderName;
use sipwire::sdp::{
    self as core, AttrKind, Direction, Hold, HoldStyle, LocalCapabilities, OfferChange, OwnedMedia,
    OwnedSession,
};
use sipwire::{Error, ErrorKind, Leniency, Limits, ParseOptions, Span};

use crate::errors::{local_error, local_msg, parse_error};
use crate::limits::PyLimits;
use crate::message::{pystr, Core};

type CoreSd<'a> = core::SessionDescription<'a>;

/// A ParseError for an SDP error at `err.offset` of `data`. `Location::find` names the SIP
/// header an offset falls in by the `name:` of its line; SDP lines are not headers
/// (`a=rtpmap:0 ...` is no header `a=rtpmap`), so it is shown the input with colons blanked.
fn sdp_error(py: Python<'_>, err: Error, data: &[u8]) -> PyErr {
    parse_error(py, err, &no_colons(data))
}

fn no_colons(b: &[u8]) -> Vec<u8> {
    b.iter()
        .map(|&c| if c == b':' { b' ' } else { c })
        .collect()
}

fn opt_str<'py>(py: Python<'py>, b: Option<&[u8]>) -> Option<Bound<'py, PyString>> {
    b.map(|b| pystr(py, b))
}

fn direction_str(py: Python<'_>, d: Direction) -> Bound<'_, PyString> {
    match d {
        Direction::SendRecv => intern!(py, "sendrecv").clone(),
        Direction::SendOnly => intern!(py, "sendonly").clone(),
        Direction::RecvOnly => intern!(py, "recvonly").clone(),
        Direction::Inactive => intern!(py, "inactive").clone(),
    }
}

fn direction_from(py: Python<'_>, s: &str) -> PyResult<Direction> {
    Direction::from_name(s.as_bytes()).ok_or_else(|| {
        local_msg(
            py,
            format!("direction must be sendrecv, sendonly, recvonly or inactive, not {s:?}"),
        )
    })
}

/// A codec name: from the body (`a=rtpmap`), or from the RFC 3551 §6 table.
#[derive(Clone, Copy, Debug)]
enum Name {
    Wire(Span),
    Table(&'static str),
}

#[derive(Clone, Copy, Debug)]
struct CodecSnap {
    pt: u8,
    name: Name,
    clock_rate: u32,
    channels: Option<u16>,
    fmtp: Option<Span>,
    from_rtpmap: bool,
}

/// What the parse found about one media section (spans are into the `bytes` object).
#[derive(Clone, Debug)]
struct MediaSnap {
    kind: Span,
    proto: Span,
    fmts: Span,
    offset: u32,
    port: u16,
    port_count: u16,
    direction: Direction,
    hold: Hold,
    connection: Option<Span>,
    codecs: Vec<CodecSnap>,
}

/// The span of `sub` in `buf`; empty at 0 when `sub` is not part of `buf` (the core hands
/// out a static `&[]` for some absent values).
fn span_in(buf: &[u8], sub: &[u8]) -> Span {
    let (b, s) = (buf.as_ptr() as usize, sub.as_ptr() as usize);
    if s >= b && s + sub.len() <= b + buf.len() {
        Span::new(s - b, s - b + sub.len())
    } else {
        Span::new(0, 0)
    }
}

/// A payload type written canonically (`0`, `8`, `101`: 1-3 digits, no leading zero,
/// at most 127, RFC 3551 §3), as `a=rtpmap`/`a=fmtp` must spell it to name an m= format.
fn canonical_pt(f: &[u8]) -> Option<u8> {
    let ok = match f {
        [b'0'] => true,
        [first, rest @ ..] => {
            f.len() <= 3 && (b'1'..=b'9').contains(first) && rest.iter().all(u8::is_ascii_digit)
        }
        [] => false,
    };
    if !ok {
        return None;
    }
    let v = f
        .iter()
        .fold(0u32, |acc, &d| acc * 10 + u32::from(d.wrapping_sub(b'0')));
    u8::try_from(v).ok().filter(|&p| p <= 127)
}

/// The codecs of a stream, as `core::Media::codec` gives them, in one pass over its
/// attributes (the core looks each payload type up in turn, which costs more per stream).
fn snap_codecs(buf: &[u8], m: &core::Media<'_>) -> Vec<CodecSnap> {
    // The first rtpmap value and fmtp parameters of each payload type, as (start + 1,
    // end + 1) in `buf`, 0 for none: plain integers, so the tables are zeroed by a memset.
    let mut rtpmap = [(0u32, 0u32); 128];
    let mut fmtp = [(0u32, 0u32); 128];
    let at = |v: &[u8]| {
        let s = span_in(buf, v);
        (
            s.start.saturating_add(1),
            (s.start + s.len).saturating_add(1),
        )
    };
    for a in m.attributes() {
        let Some(v) = a.value else { continue };
        let (table, value, pt) = match a.kind {
            AttrKind::Rtpmap => {
                let first = v.split(|&b| b == b' ').find(|f| !f.is_empty());
                (&mut rtpmap, v, first.and_then(canonical_pt))
            }
            AttrKind::Fmtp => match core::Fmtp::parse(v, 0) {
                Ok(f) => (&mut fmtp, f.params, canonical_pt(f.format)),
                Err(_) => continue,
            },
            _ => continue,
        };
        if let Some(slot) = pt.and_then(|pt| table.get_mut(pt as usize)) {
            if slot.0 == 0 {
                *slot = at(value);
            }
        }
    }
    let get = |table: &[(u32, u32); 128], pt: u8| {
        table
            .get(pt as usize)
            .filter(|s| s.0 != 0)
            .and_then(|&(s, e)| buf.get(s as usize - 1..e as usize - 1))
    };
    let sp = |s: &[u8]| span_in(buf, s);
    m.payload_types()
        .map(|pt| {
            let fmtp = get(&fmtp, pt).map(sp);
            let Some(v) = get(&rtpmap, pt) else {
                let t = core::static_payload_type(pt);
                return CodecSnap {
                    pt,
                    name: Name::Table(t.map_or("", |t| t.0)),
                    clock_rate: t.map_or(0, |t| t.1),
                    channels: t.and_then(|t| t.2),
                    fmtp,
                    from_rtpmap: false,
                };
            };
            match core::Rtpmap::parse(v, 0) {
                Ok(r) => CodecSnap {
                    pt,
                    name: Name::Wire(sp(r.encoding)),
                    clock_rate: r.clock_rate,
                    channels: r.channels,
                    fmtp,
                    from_rtpmap: true,
                },
                // An rtpmap without a clock rate (`a=rtpmap:31 LPC`, RFC 4475) still names
                // the codec.
                Err(_) => {
                    let digits = if pt >= 100 {
                        3
                    } else if pt >= 10 {
                        2
                    } else {
                        1
                    };
                    let rest = sipwire::scan::trim_lws(v.get(digits..).unwrap_or(&[]));
                    let name = rest.split(|&b| b == b'/').next().unwrap_or(&[]);
                    CodecSnap {
                        pt,
                        name: Name::Wire(sp(name)),
                        clock_rate: 0,
                        channels: None,
                        fmtp,
                        from_rtpmap: true,
                    }
                }
            }
        })
        .collect()
}

fn snap_media(buf: &[u8], base: usize, m: &core::Media<'_>) -> MediaSnap {
    let sp = |s: &[u8]| span_in(buf, s);
    let direction = m.direction();
    let connection = m.connection();
    // `Media::hold` (RFC 3264 §8.4) without scanning for the direction and c= again; the
    // rare c=0.0.0.0 case is left to it (it also looks for ICE).
    let hold = match direction {
        _ if m.is_disabled() => Hold::NotHeld,
        Direction::SendOnly => Hold::SendOnly,
        Direction::Inactive => Hold::Inactive,
        _ if connection.is_some_and(|c| c.is_zero()) => m.hold(),
        _ => Hold::NotHeld,
    };
    MediaSnap {
        kind: sp(m.kind()),
        proto: sp(m.protocol()),
        fmts: sp(m.formats_raw()),
        offset: (base + m.offset() as usize) as u32,
        port: m.port(),
        port_count: m.port_count(),
        direction,
        hold,
        connection: connection.map(|c| sp(c.address)),
        codecs: snap_codecs(buf, m),
    }
}

/// What a description and its streams share.
struct Shared {
    data: Py<PyBytes>,
    start: usize,
    end: usize,
    opts: ParseOptions,
    strict: bool,
    diags: Vec<sipwire::Diagnostic>,
    media: Vec<MediaSnap>,
}

impl Shared {
    fn parse(
        py: Python<'_>,
        data: Py<PyBytes>,
        start: usize,
        end: usize,
        opts: ParseOptions,
        strict: bool,
    ) -> PyResult<Shared> {
        let (diags, media) = {
            let buf = data.as_bytes(py);
            let body = buf.get(start..end).unwrap_or(&[]);
            let mut diags = Vec::new();
            let sd = CoreSd::parse(body, &opts, &mut diags)
                .map_err(|e| sdp_error(py, e.shifted(start), buf))?;
            let media: Vec<MediaSnap> = sd.media().map(|m| snap_media(buf, start, &m)).collect();
            let diags: Vec<_> = diags.into_iter().map(|d| d.shifted(start)).collect();
            (diags, media)
        };
        Ok(Shared {
            data,
            start,
            end,
            opts,
            strict,
            diags,
            media,
        })
    }

    fn buf<'a>(&'a self, py: Python<'a>) -> &'a [u8] {
        self.data.as_bytes(py)
    }

    fn body<'a>(&'a self, py: Python<'a>) -> &'a [u8] {
        self.buf(py).get(self.start..self.end).unwrap_or(&[])
    }

    /// Runs `f` on a fresh parse of the body (it parsed before, so it parses again).
    fn with<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&CoreSd<'_>, &[u8]) -> PyResult<R>,
    ) -> PyResult<R> {
        let buf = self.buf(py);
        let body = buf.get(self.start..self.end).unwrap_or(&[]);
        let sd = CoreSd::parse(body, &self.opts, &mut Vec::new())
            .map_err(|e| sdp_error(py, e.shifted(self.start), buf))?;
        f(&sd, buf)
    }

    fn with_media<R>(
        &self,
        py: Python<'_>,
        index: usize,
        f: impl FnOnce(&core::Media<'_>, &[u8]) -> PyResult<R>,
    ) -> PyResult<R> {
        self.with(py, |sd, buf| match sd.media_at(index) {
            Some(m) => f(&m, buf),
            None => Err(pyo3::exceptions::PyIndexError::new_err("media index")),
        })
    }

    /// A core error found at a body-relative offset, as a ParseError.
    fn error(&self, py: Python<'_>, e: Error) -> PyErr {
        sdp_error(py, e.shifted(self.start), self.buf(py))
    }
}

fn new_description(
    py: Python<'_>,
    data: Py<PyBytes>,
    start: usize,
    end: usize,
    opts: ParseOptions,
    strict: bool,
) -> PyResult<SessionDescription> {
    Ok(SessionDescription {
        s: Arc::new(Shared::parse(py, data, start, end, opts, strict)?),
    })
}

/// A description built here (answer, hold, resume, builder): parsed back from its bytes.
fn from_owned(
    py: Python<'_>,
    owned: &OwnedSession,
    limits: Limits,
) -> PyResult<Py<SessionDescription>> {
    let bytes = owned.to_bytes();
    let data = PyBytes::new(py, &bytes).unbind();
    let opts = ParseOptions {
        limits,
        leniency: Leniency::STRICT,
    };
    Py::new(py, new_description(py, data, 0, bytes.len(), opts, true)?)
}

// --- the message side ------------------------------------------------------------------

/// `type/subtype` of a Content-Type value, parameters dropped.
fn media_type(ct: &[u8]) -> &[u8] {
    let end = memchr::memchr(b';', ct).unwrap_or(ct.len());
    sipwire::scan::trim_lws(ct.get(..end).unwrap_or(&[]))
}

/// Finds the `application/sdp` body in `buf[start..end]` whose Content-Type is `ct`: the body
/// itself, or the first SDP part of a multipart body (RFC 5621 §3), nested parts searched in
/// order down to `Limits::max_multipart_depth`.
fn find_sdp(
    buf: &[u8],
    ct: &[u8],
    start: usize,
    end: usize,
    depth: u8,
    opts: &ParseOptions,
) -> Result<Option<(usize, usize)>, Error> {
    let mt = media_type(ct);
    if mt.eq_ignore_ascii_case(b"application/sdp") {
        return Ok(Some((start, end)));
    }
    let is_multipart = mt
        .get(..10)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"multipart/"));
    if !is_multipart {
        return Ok(None);
    }
    let boundary =
        boundary_param(ct).ok_or_else(|| Error::new(ErrorKind::MissingBoundary, start))?;
    let body = buf.get(start..end).unwrap_or(&[]);
    let mp = Multipart::parse_nested(body, boundary, depth, opts).map_err(|e| e.shifted(start))?;
    for p in mp.parts() {
        let Some(pct) = p.content_type() else {
            continue;
        };
        let ps = start + p.body_offset as usize;
        let pe = ps + p.body.len();
        if let Some(hit) = find_sdp(buf, pct, ps, pe, depth.saturating_add(1), opts)? {
            return Ok(Some(hit));
        }
    }
    Ok(None)
}

/// The first problem of a message's SDP body (or SDP part), offsets into the message: what
/// `msg.sdp` would raise. None when there is no SDP or it parses.
pub fn sdp_problem(
    buf: &[u8],
    index: &sipwire::message::MessageIndex,
    opts: &ParseOptions,
) -> Option<Error> {
    let body = index.body;
    if body.is_empty() {
        return None;
    }
    let m = sipwire::message::Message::new(buf, index);
    let ct = sipwire::message::unfold(m.first_value(HeaderName::ContentType)?);
    let (s, e) = match find_sdp(buf, &ct, body.start as usize, body.end(), 1, opts) {
        Err(err) => return Some(err),
        Ok(None) => return None,
        Ok(Some(hit)) => hit,
    };
    let sdp = buf.get(s..e).unwrap_or(&[]);
    CoreSd::parse(sdp, opts, &mut Vec::new())
        .err()
        .map(|err| err.shifted(s))
}

/// `msg.sdp`: the SDP body or SDP part of a message, parsed with the message's options.
pub fn sdp_of(py: Python<'_>, core: &Core) -> PyResult<Option<PyObject>> {
    let body = core.index.body;
    if body.is_empty() {
        return Ok(None);
    }
    let buf = core.buf(py);
    let Some(ct) = core.msg(py).first_value(HeaderName::ContentType) else {
        return Ok(None);
    };
    let ct = sipwire::message::unfold(ct);
    let found = find_sdp(buf, &ct, body.start as usize, body.end(), 1, &core.opts)
        .map_err(|e| sdp_error(py, e, buf))?;
    let Some((s, e)) = found else {
        return Ok(None);
    };
    let sd = new_description(
        py,
        core.data.clone_ref(py),
        s,
        e,
        core.opts,
        core.mode.strict,
    )?;
    Ok(Some(Py::new(py, sd)?.into_any()))
}

// --- SessionDescription -----------------------------------------------------------------

/// A parsed session description (RFC 8866).
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct SessionDescription {
    s: Arc<Shared>,
}

impl SessionDescription {
    fn with<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&CoreSd<'_>, &[u8]) -> PyResult<R>,
    ) -> PyResult<R> {
        self.s.with(py, f)
    }
}

fn attribute_objs<'a>(
    py: Python<'_>,
    s: &Arc<Shared>,
    attrs: impl Iterator<Item = core::Attribute<'a>>,
    buf: &[u8],
) -> PyResult<Py<PyList>> {
    let items = attrs
        .map(|a| {
            Py::new(
                py,
                Attribute {
                    s: s.clone(),
                    name: span_in(buf, a.name),
                    value: a.value.map(|v| span_in(buf, v)),
                    kind: a.kind,
                    offset: (s.start + a.offset as usize) as u32,
                },
            )
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.unbind())
}

fn connection_obj(c: &core::Connection<'_>) -> Connection {
    let s = crate::lossy_string;
    Connection {
        nettype: s(c.nettype),
        addrtype: s(c.addrtype),
        address: s(c.address),
        ttl: c.ttl,
        count: c.count,
    }
}

#[pymethods]
impl SessionDescription {
    /// `v=` (always `0`).
    #[getter]
    fn version<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.with(py, |sd, _| Ok(pystr(py, sd.version())))
    }

    /// `o=`: who made the description, its session id and version (RFC 8866 §5.2).
    #[getter]
    fn origin(&self, py: Python<'_>) -> PyResult<Origin> {
        self.with(py, |sd, _| {
            let o = sd.origin();
            let s = crate::lossy_string;
            Ok(Origin {
                username: s(o.username),
                session_id: s(o.session_id),
                session_version: s(o.session_version),
                nettype: s(o.nettype),
                addrtype: s(o.addrtype),
                address: s(o.address),
                version_number: o.version_number(),
            })
        })
    }

    /// `s=`.
    #[getter]
    fn session_name<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.with(py, |sd, _| Ok(pystr(py, sd.session_name())))
    }

    /// Session-level `i=`.
    #[getter]
    fn information<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |sd, _| Ok(opt_str(py, sd.information())))
    }

    /// `u=`.
    #[getter]
    fn uri<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |sd, _| Ok(opt_str(py, sd.uri())))
    }

    /// `e=` lines.
    #[getter]
    fn emails<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyString>>> {
        self.with(py, |sd, _| Ok(sd.emails().map(|v| pystr(py, v)).collect()))
    }

    /// `p=` lines.
    #[getter]
    fn phones<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyString>>> {
        self.with(py, |sd, _| Ok(sd.phones().map(|v| pystr(py, v)).collect()))
    }

    /// The session-level `c=` address (no `/ttl`), or None.
    #[getter]
    fn connection<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |sd, _| {
            Ok(sd.connection().map(|c| pystr(py, c.address)))
        })
    }

    /// The session-level `c=` with all its fields, or None.
    #[getter]
    fn connection_info(&self, py: Python<'_>) -> PyResult<Option<Connection>> {
        self.with(py, |sd, _| Ok(sd.connection().map(|c| connection_obj(&c))))
    }

    /// Session-level `b=` as (bwtype, bandwidth); bandwidth None when not a number.
    #[getter]
    fn bandwidths(&self, py: Python<'_>) -> PyResult<Vec<(String, Option<u64>)>> {
        self.with(py, |sd, _| {
            Ok(sd
                .bandwidths()
                .map(|b| (crate::lossy_string(b.bwtype), b.bandwidth))
                .collect())
        })
    }

    /// `t=` lines as (start, stop), NTP seconds, 0 = unbounded.
    #[getter]
    fn timing(&self, py: Python<'_>) -> PyResult<Vec<(u64, u64)>> {
        self.with(py, |sd, _| {
            Ok(sd.timings().map(|t| (t.start, t.stop)).collect())
        })
    }

    /// The session-level direction (RFC 8866 §6.7; sendrecv when none is given).
    #[getter]
    fn direction<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.with(py, |sd, _| Ok(direction_str(py, sd.direction())))
    }

    /// Session-level attributes, in order.
    #[getter]
    fn attributes(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        let s = &self.s;
        s.with(py, |sd, buf| attribute_objs(py, s, sd.attributes(), buf))
    }

    /// The first session-level attribute called `name`, or None.
    fn attribute(&self, py: Python<'_>, name: &str) -> PyResult<Option<Attribute>> {
        let s = &self.s;
        s.with(py, |sd, buf| {
            Ok(sd.attribute(name.as_bytes()).map(|a| Attribute {
                s: s.clone(),
                name: span_in(buf, a.name),
                value: a.value.map(|v| span_in(buf, v)),
                kind: a.kind,
                offset: (s.start + a.offset as usize) as u32,
            }))
        })
    }

    /// `a=group` lines (RFC 5888).
    #[getter]
    fn groups(&self, py: Python<'_>) -> PyResult<Vec<Group>> {
        self.with(py, |sd, _| {
            Ok(sd
                .groups()
                .map(|g| Group {
                    semantics: crate::lossy_string(g.semantics),
                    tags: g.tags().map(crate::lossy_string).collect(),
                })
                .collect())
        })
    }

    /// The media sections, in order.
    #[getter]
    fn media<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let objs = self
            .s
            .media
            .iter()
            .enumerate()
            .map(|(index, m)| {
                let media = Media {
                    s: self.s.clone(),
                    index,
                    port: m.port.into_pyobject(py)?.into_any().unbind(),
                    direction: direction_str(py, m.direction).unbind(),
                };
                Py::new(py, media)
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, objs)
    }

    /// Whether every active stream (port not 0) is on hold, and there is one.
    #[getter]
    fn is_hold(&self) -> bool {
        let active = self.s.media.iter().filter(|m| m.port != 0);
        let mut any = false;
        for m in active {
            if !m.hold.is_hold() {
                return false;
            }
            any = true;
        }
        any
    }

    /// Every line as (type, value); a malformed line a lenient parse kept has type "".
    #[getter]
    fn lines<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Vec<(Bound<'py, PyString>, Bound<'py, PyString>)>> {
        self.with(py, |sd, _| {
            Ok(sd
                .lines()
                .map(|l| {
                    let k = if l.kind == 0 {
                        String::new()
                    } else {
                        char::from(l.kind).to_string()
                    };
                    (PyString::new(py, &k), pystr(py, l.value))
                })
                .collect())
        })
    }

    /// Repairs a lenient parse made (glued lines split, malformed lines kept aside).
    #[getter]
    fn diagnostics(&self, py: Python<'_>) -> Vec<crate::message::Diagnostic> {
        if self.s.diags.is_empty() {
            return Vec::new();
        }
        let masked = no_colons(self.s.buf(py));
        self.s
            .diags
            .iter()
            .map(|d| crate::message::Diagnostic::new(*d, &masked))
            .collect()
    }

    /// Offset of the body in the bytes offsets refer to (0 for `sipwire.sdp.parse`).
    #[getter]
    fn offset(&self) -> usize {
        self.s.start
    }

    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let buf = self.s.buf(py);
        if self.s.start == 0 && self.s.end == buf.len() {
            return self.s.data.bind(py).clone();
        }
        PyBytes::new(py, self.s.body(py))
    }

    fn __len__(&self) -> usize {
        self.s.end - self.s.start
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> bool {
        match other.downcast::<SessionDescription>() {
            Ok(o) => o.get().s.body(py) == self.s.body(py),
            Err(_) => false,
        }
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        PyBytes::new(py, self.s.body(py)).hash()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let buf = self.s.buf(py);
        let media: Vec<String> = self
            .s
            .media
            .iter()
            .map(|m| format!("{} {}", String::from_utf8_lossy(m.kind.of(buf)), m.port))
            .collect();
        format!("<SessionDescription media=[{}]>", media.join(", "))
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let kw = PyDict::new(py);
        kw.set_item("strict", self.s.strict)?;
        kw.set_item(
            "limits",
            Py::new(
                py,
                PyLimits {
                    inner: self.s.opts.limits,
                },
            )?,
        )?;
        let f = py.import("sipwire._sipwire")?.getattr("sdp_parse")?;
        let make = py
            .import("functools")?
            .getattr("partial")?
            .call((f,), Some(&kw))?;
        let args = PyTuple::new(py, [self.__bytes__(py)])?;
        PyTuple::new(py, [make, args.into_any()])
    }
}

// --- Media ------------------------------------------------------------------------------

/// One media section (`m=` and the lines up to the next one).
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct Media {
    s: Arc<Shared>,
    index: usize,
    // Made once, read through plain member descriptors (no call per read).
    #[pyo3(get)]
    port: Py<PyAny>,
    /// The effective direction: media level, else session level, else sendrecv (RFC 8866
    /// §6.7).
    #[pyo3(get)]
    direction: Py<PyString>,
}

static NO_MEDIA: MediaSnap = MediaSnap {
    kind: Span::new(0, 0),
    proto: Span::new(0, 0),
    fmts: Span::new(0, 0),
    offset: 0,
    port: 0,
    port_count: 1,
    direction: Direction::Inactive,
    hold: Hold::NotHeld,
    connection: None,
    codecs: Vec::new(),
};

impl Media {
    fn snap(&self) -> &MediaSnap {
        self.s.media.get(self.index).unwrap_or(&NO_MEDIA)
    }

    fn with<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&core::Media<'_>, &[u8]) -> PyResult<R>,
    ) -> PyResult<R> {
        self.s.with_media(py, self.index, f)
    }

    fn span_str<'py>(&self, py: Python<'py>, s: Span) -> Bound<'py, PyString> {
        pystr(py, s.of(self.s.buf(py)))
    }
}

#[pymethods]
impl Media {
    /// Position among the description's media sections.
    #[getter]
    fn index(&self) -> usize {
        self.index
    }
    /// `audio`, `video`, `image`, `application`, `text`, `message` or another token.
    #[getter]
    fn kind<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        self.span_str(py, self.snap().kind)
    }
    /// The `/<number of ports>` of the m= line, 1 when absent.
    #[getter]
    fn port_count(&self) -> u16 {
        self.snap().port_count
    }
    /// `RTP/AVP`, `RTP/SAVPF`, `udptl`, ...
    #[getter]
    fn protocol<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        self.span_str(py, self.snap().proto)
    }
    /// The formats of the m= line as written (payload types for RTP).
    #[getter]
    fn formats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let raw = self.snap().fmts.of(self.s.buf(py));
        let items: Vec<_> = raw
            .split(|&b| b == b' ')
            .filter(|f| !f.is_empty())
            .map(|f| pystr(py, f))
            .collect();
        PyList::new(py, items)
    }
    /// Port 0: refused in an answer or disabled in an offer (RFC 3264 §6, §8.2).
    #[getter]
    fn is_disabled(&self) -> bool {
        self.snap().port == 0
    }
    /// The media-level direction attribute, or None.
    #[getter]
    fn own_direction<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |m, _| {
            Ok(m.own_direction().map(|d| direction_str(py, d)))
        })
    }
    /// How the stream is held (RFC 3264 §8.4): "sendonly", "inactive",
    /// "legacy_zero_address" (`c=IN IP4 0.0.0.0`, RFC 2543), or None.
    #[getter]
    fn hold<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        match self.snap().hold {
            Hold::NotHeld => None,
            Hold::SendOnly => Some(intern!(py, "sendonly").clone()),
            Hold::Inactive => Some(intern!(py, "inactive").clone()),
            Hold::ZeroAddress => Some(intern!(py, "legacy_zero_address").clone()),
        }
    }
    #[getter]
    fn is_hold(&self) -> bool {
        self.snap().hold.is_hold()
    }
    /// The connection address that applies (media-level `c=`, else the session's), or None.
    #[getter]
    fn connection<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        self.snap().connection.map(|s| self.span_str(py, s))
    }
    /// The `c=` that applies, with all its fields.
    #[getter]
    fn connection_info(&self, py: Python<'_>) -> PyResult<Option<Connection>> {
        self.with(py, |m, _| Ok(m.connection().map(|c| connection_obj(&c))))
    }
    /// The codecs of an RTP stream in m= line order; static payload types without
    /// `a=rtpmap` named from RFC 3551 §6. Empty for other protocols.
    #[getter]
    fn codecs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let objs = self
            .snap()
            .codecs
            .iter()
            .map(|&c| Py::new(py, Codec::new(py, &self.s.data, c)?))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, objs)
    }
    /// The `telephone-event` payload (RFC 4733 §2.4), or None.
    #[getter]
    fn telephone_event(&self, py: Python<'_>) -> Option<TelephoneEvent> {
        let buf = self.s.buf(py);
        let c = self.snap().codecs.iter().find(|c| match c.name {
            Name::Wire(s) => s.of(buf).eq_ignore_ascii_case(b"telephone-event"),
            Name::Table(_) => false,
        })?;
        let events = c.fmtp.map(|s| s.of(buf));
        let te = core::TelephoneEvent {
            payload_type: c.pt,
            clock_rate: c.clock_rate,
            events,
        };
        Some(TelephoneEvent {
            payload_type: c.pt,
            clock_rate: c.clock_rate,
            events: events.map(crate::lossy_string),
            ranges: te.ranges().collect(),
        })
    }
    /// Where to send RTP: the connection address (None when the port is 0 or no `c=`).
    #[getter]
    fn rtp_address<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        let m = self.snap();
        (m.port != 0)
            .then_some(m.connection)
            .flatten()
            .map(|s| self.span_str(py, s))
    }
    /// Where to send RTP: the m= port (None when the port is 0 or there is no `c=`).
    #[getter]
    fn rtp_port(&self) -> Option<u16> {
        let m = self.snap();
        (m.port != 0 && m.connection.is_some()).then_some(m.port)
    }
    /// Where to send RTCP: the address of `a=rtcp` (RFC 3605), else the RTP address.
    #[getter]
    fn rtcp_address<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |m, _| {
            Ok(m.rtcp_endpoint().map(|e| pystr(py, e.address)))
        })
    }
    /// The RTCP port: `a=rtcp`, the RTP port under `a=rtcp-mux` (RFC 5761 §5.1.1), else
    /// RTP port + 1 (RFC 3550 §11).
    #[getter]
    fn rtcp_port(&self, py: Python<'_>) -> PyResult<Option<u16>> {
        self.with(py, |m, _| Ok(m.rtcp_endpoint().map(|e| e.port)))
    }
    /// `a=rtcp-mux` (RFC 5761).
    #[getter]
    fn rtcp_mux(&self, py: Python<'_>) -> PyResult<bool> {
        self.with(py, |m, _| Ok(m.rtcp_mux()))
    }
    /// Offset of the `m=` line.
    #[getter]
    fn offset(&self) -> u32 {
        self.snap().offset
    }
    /// Media-level `i=`.
    #[getter]
    fn information<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |m, _| Ok(opt_str(py, m.information())))
    }
    /// Media-level `b=` as (bwtype, bandwidth).
    #[getter]
    fn bandwidths(&self, py: Python<'_>) -> PyResult<Vec<(String, Option<u64>)>> {
        self.with(py, |m, _| {
            Ok(m.bandwidths()
                .map(|b| (crate::lossy_string(b.bwtype), b.bandwidth))
                .collect())
        })
    }
    /// Media-level attributes, in order.
    #[getter]
    fn attributes(&self, py: Python<'_>) -> PyResult<Py<PyList>> {
        let s = &self.s;
        self.with(py, |m, buf| attribute_objs(py, s, m.attributes(), buf))
    }
    /// The first media-level attribute called `name`, or None.
    fn attribute(&self, py: Python<'_>, name: &str) -> PyResult<Option<Attribute>> {
        let s = &self.s;
        self.with(py, |m, buf| {
            Ok(m.attribute(name.as_bytes()).map(|a| Attribute {
                s: s.clone(),
                name: span_in(buf, a.name),
                value: a.value.map(|v| span_in(buf, v)),
                kind: a.kind,
                offset: (s.start + a.offset as usize) as u32,
            }))
        })
    }
    /// The `a=fmtp` of a format, or None.
    fn fmtp(&self, py: Python<'_>, format: &str) -> PyResult<Option<Fmtp>> {
        self.with(py, |m, _| {
            Ok(m.fmtp(format.as_bytes()).map(|f| fmtp_obj(&f)))
        })
    }
    /// `a=ptime` in ms.
    #[getter]
    fn ptime(&self, py: Python<'_>) -> PyResult<Option<u32>> {
        self.with(py, |m, _| Ok(m.ptime()))
    }
    /// `a=maxptime` in ms.
    #[getter]
    fn maxptime(&self, py: Python<'_>) -> PyResult<Option<u32>> {
        self.with(py, |m, _| Ok(m.maxptime()))
    }
    /// `a=mid` (RFC 5888).
    #[getter]
    fn mid<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |m, _| Ok(opt_str(py, m.mid())))
    }
    /// `a=setup` (RFC 4145), media level else session level.
    #[getter]
    fn setup<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |m, _| Ok(opt_str(py, m.setup())))
    }
    /// `a=fingerprint` (RFC 8122), media level else session level.
    #[getter]
    fn fingerprint(&self, py: Python<'_>) -> PyResult<Option<Fingerprint>> {
        self.with(py, |m, _| {
            Ok(m.fingerprint().map(|f| Fingerprint {
                hash: crate::lossy_string(f.hash),
                fingerprint: crate::lossy_string(f.fingerprint),
            }))
        })
    }
    /// `a=ice-ufrag` (RFC 8839), media level else session level.
    #[getter]
    fn ice_ufrag<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |m, _| Ok(opt_str(py, m.ice_ufrag())))
    }
    /// `a=ice-pwd` (RFC 8839), media level else session level.
    #[getter]
    fn ice_pwd<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyString>>> {
        self.with(py, |m, _| Ok(opt_str(py, m.ice_pwd())))
    }
    /// `a=candidate` lines (RFC 8839 §5.1); a malformed one raises ParseError.
    #[getter]
    fn candidates(&self, py: Python<'_>) -> PyResult<Vec<Candidate>> {
        let s = &self.s;
        self.with(py, |m, _| {
            m.candidates()
                .map(|c| c.map(|c| candidate_obj(&c)).map_err(|e| s.error(py, e)))
                .collect()
        })
    }
    /// `a=crypto` lines (RFC 4568); a malformed one raises ParseError.
    #[getter]
    fn crypto(&self, py: Python<'_>) -> PyResult<Vec<Crypto>> {
        let s = &self.s;
        self.with(py, |m, _| {
            m.crypto()
                .map(|c| c.map(|c| crypto_obj(&c)).map_err(|e| s.error(py, e)))
                .collect()
        })
    }
    /// `a=ssrc` lines (RFC 5576); a malformed one raises ParseError.
    #[getter]
    fn ssrcs(&self, py: Python<'_>) -> PyResult<Vec<Ssrc>> {
        let s = &self.s;
        self.with(py, |m, _| {
            m.ssrcs()
                .map(|c| c.map(|c| ssrc_obj(&c)).map_err(|e| s.error(py, e)))
                .collect()
        })
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let m = self.snap();
        let buf = self.s.buf(py);
        format!(
            "<Media {} {} {} {} {}>",
            String::from_utf8_lossy(m.kind.of(buf)),
            m.port,
            String::from_utf8_lossy(m.proto.of(buf)),
            String::from_utf8_lossy(m.fmts.of(buf)),
            m.direction.as_str()
        )
    }
}

// --- Codec ------------------------------------------------------------------------------

/// One codec of an RTP stream: a payload type and its encoding.
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct Codec {
    // The three most read values are Python objects made once, read through plain member
    // descriptors (no call per read).
    #[pyo3(get)]
    payload_type: Py<PyAny>,
    /// Encoding name as written (`PCMU`, `opus`); "" for a dynamic type without rtpmap.
    #[pyo3(get)]
    name: Py<PyString>,
    /// Hz; 0 when unknown.
    #[pyo3(get)]
    clock_rate: Py<PyAny>,
    data: Py<PyBytes>,
    c: CodecSnap,
}

impl Codec {
    fn new(py: Python<'_>, data: &Py<PyBytes>, c: CodecSnap) -> PyResult<Codec> {
        let name = match c.name {
            Name::Wire(s) => pystr(py, s.of(data.as_bytes(py))),
            Name::Table(n) => PyString::new(py, n),
        };
        Ok(Codec {
            payload_type: c.pt.into_pyobject(py)?.into_any().unbind(),
            name: name.unbind(),
            clock_rate: c.clock_rate.into_pyobject(py)?.into_any().unbind(),
            data: data.clone_ref(py),
            c,
        })
    }
}

#[pymethods]
impl Codec {
    /// Channel count when the rtpmap or RFC 3551 gives one.
    #[getter]
    fn channels(&self) -> Option<u16> {
        self.c.channels
    }
    /// The `a=fmtp` parameters for this payload type, as written.
    #[getter]
    fn fmtp<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        self.c.fmtp.map(|s| pystr(py, s.of(self.data.as_bytes(py))))
    }
    /// The fmtp parameters as a dict (`;`-separated `name=value`; a bare item has name "").
    #[getter]
    fn fmtp_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        if let Some(s) = self.c.fmtp {
            let f = core::Fmtp {
                format: b"",
                params: s.of(self.data.as_bytes(py)),
            };
            for (n, v) in f.pairs() {
                d.set_item(pystr(py, n), pystr(py, v))?;
            }
        }
        Ok(d)
    }
    /// Whether the encoding came from `a=rtpmap` (False: the RFC 3551 table, or unknown).
    #[getter(from_rtpmap)]
    fn named_by_rtpmap(&self) -> bool {
        self.c.from_rtpmap
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let c = self.c;
        let name = self.name.bind(py).to_string_lossy().into_owned();
        match c.channels {
            Some(ch) if ch > 1 => format!("<Codec {} {}/{}/{}>", c.pt, name, c.clock_rate, ch),
            _ => format!("<Codec {} {}/{}>", c.pt, name, c.clock_rate),
        }
    }
}

// --- small value classes ----------------------------------------------------------------

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`
/// (RFC 8866 §5.2).
#[pyclass(frozen, get_all, module = "sipwire._sipwire")]
pub struct Origin {
    username: String,
    session_id: String,
    session_version: String,
    nettype: String,
    addrtype: String,
    address: String,
    /// The version as a number, None when it is not one.
    version_number: Option<u64>,
}

#[pymethods]
impl Origin {
    fn __repr__(&self) -> String {
        format!(
            "<Origin {} {} {} {} {} {}>",
            self.username,
            self.session_id,
            self.session_version,
            self.nettype,
            self.addrtype,
            self.address
        )
    }
}

/// `c=<nettype> <addrtype> <connection-address>` (RFC 8866 §5.7).
#[pyclass(frozen, get_all, module = "sipwire._sipwire")]
pub struct Connection {
    nettype: String,
    addrtype: String,
    address: String,
    ttl: Option<u32>,
    count: Option<u32>,
}

#[pymethods]
impl Connection {
    fn __repr__(&self) -> String {
        format!(
            "<Connection {} {} {}>",
            self.nettype, self.addrtype, self.address
        )
    }
}

/// The `telephone-event` payload of a stream (RFC 4733 §2.4).
#[pyclass(frozen, get_all, module = "sipwire._sipwire")]
pub struct TelephoneEvent {
    payload_type: u8,
    clock_rate: u32,
    /// The fmtp event list as written (`0-15`), or None.
    events: Option<String>,
    /// Inclusive ranges; without fmtp, 0-15 (RFC 4733 §2.4.1).
    ranges: Vec<(u8, u8)>,
}

#[pymethods]
impl TelephoneEvent {
    fn supports(&self, event: u8) -> bool {
        self.ranges
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&event))
    }
    fn __repr__(&self) -> String {
        format!("<TelephoneEvent {} {:?}>", self.payload_type, self.ranges)
    }
}

/// `a=rtpmap` (RFC 8866 §6.6).
#[pyclass(frozen, get_all, module = "sipwire._sipwire")]
pub struct Rtpmap {
    payload_type: u8,
    encoding: String,
    clock_rate: u32,
    channels: Option<u16>,
}

/// `a=fmtp` (RFC 8866 §6.15).
#[pyclass(frozen, get_all, module = "sipwire._sipwire")]
pub struct Fmtp {
    format: String,
    params: String,
    pairs: Vec<(String, String)>,
}

/// `a=rtcp` (RFC 3605).
#[pyclass(frozen, get_all, module = "sipwire._sipwire")]
pub struct Rtcp {
    port: u16,
    address: Option<String>,
}

/// `a=group` (RFC 5888).
#[pyclass(frozen, get_all, module = "sipwire._sipwire")]
pub struct Group {
    semantics: String,
    tags: Vec<String>,
}

/// `a=ssrc` (RFC 5576).
#[pyclass(frozen, get_all, module = "sipwire._sipwire")]
pub struct Ssrc {
    ssrc: u32,
    attribute: String,
    value: Option<String>,
}

/// `a=fingerprint` (RFC 8122).
#[pyclass(frozen, get_all, module = "sipwire._sipwire")]
pub struct Fingerprint {
    hash: String,
    fingerprint: String,
}

/// `a=candidate` (RFC 8839 §5.1).
#[pyclass(frozen, get_all, module = "sipwire._sipwire")]
pub struct Candidate {
    foundation: String,
    component: u16,
    transport: String,
    priority: u32,
    address: String,
    port: u16,
    #[pyo3(name = "type")]
    typ: String,
    related_address: Option<String>,
    related_port: Option<u16>,
    extensions: String,
}

/// `a=crypto` (RFC 4568 §9.1).
#[pyclass(frozen, get_all, module = "sipwire._sipwire")]
pub struct Crypto {
    tag: u32,
    suite: String,
    key_params: String,
    session_params: Option<String>,
}

fn fmtp_obj(f: &core::Fmtp<'_>) -> Fmtp {
    Fmtp {
        format: crate::lossy_string(f.format),
        params: crate::lossy_string(f.params),
        pairs: f
            .pairs()
            .map(|(n, v)| (crate::lossy_string(n), crate::lossy_string(v)))
            .collect(),
    }
}

fn candidate_obj(c: &core::Candidate<'_>) -> Candidate {
    Candidate {
        foundation: crate::lossy_string(c.foundation),
        component: c.component,
        transport: crate::lossy_string(c.transport),
        priority: c.priority,
        address: crate::lossy_string(c.address),
        port: c.port,
        typ: crate::lossy_string(c.typ),
        related_address: c.related_address.map(crate::lossy_string),
        related_port: c.related_port,
        extensions: crate::lossy_string(c.extensions),
    }
}

fn crypto_obj(c: &core::Crypto<'_>) -> Crypto {
    Crypto {
        tag: c.tag,
        suite: crate::lossy_string(c.suite),
        key_params: crate::lossy_string(c.key_params),
        session_params: c.session_params.map(crate::lossy_string),
    }
}

fn ssrc_obj(s: &core::Ssrc<'_>) -> Ssrc {
    Ssrc {
        ssrc: s.ssrc,
        attribute: crate::lossy_string(s.attribute),
        value: s.value.map(crate::lossy_string),
    }
}

// --- Attribute --------------------------------------------------------------------------

/// One `a=` line: `name` or `name:value` (RFC 8866 §5.13).
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct Attribute {
    s: Arc<Shared>,
    name: Span,
    value: Option<Span>,
    kind: AttrKind,
    offset: u32,
}

#[pymethods]
impl Attribute {
    #[getter]
    fn name<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        pystr(py, self.name.of(self.s.buf(py)))
    }
    /// The text after the first `:`, or None for a property attribute (`a=sendrecv`).
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyString>> {
        self.value.map(|v| pystr(py, v.of(self.s.buf(py))))
    }
    /// Offset of the line's `a`.
    #[getter]
    fn offset(&self) -> u32 {
        self.offset
    }
    /// The value parsed by the attribute's grammar: Rtpmap, Fmtp, Rtcp, Group, Ssrc,
    /// Fingerprint, Candidate or Crypto; an int for ptime/maxptime; a str for directions,
    /// mid, setup, ice-ufrag/ice-pwd and unknown attributes; True for rtcp-mux; None for a
    /// property attribute without value. A malformed value raises ParseError.
    fn parsed(&self, py: Python<'_>) -> PyResult<PyObject> {
        use core::TypedAttr as T;
        let buf = self.s.buf(py);
        let a = core::Attribute {
            name: self.name.of(buf),
            value: self.value.map(|v| v.of(buf)),
            kind: self.kind,
            offset: self.offset,
        };
        let t = a.typed().map_err(|e| sdp_error(py, e, buf))?;
        let s = |b: &[u8]| pystr(py, b).into_any().unbind();
        Ok(match t {
            T::Rtpmap(r) => Py::new(
                py,
                Rtpmap {
                    payload_type: r.payload_type,
                    encoding: crate::lossy_string(r.encoding),
                    clock_rate: r.clock_rate,
                    channels: r.channels,
                },
            )?
            .into_any(),
            T::Fmtp(f) => Py::new(py, fmtp_obj(&f))?.into_any(),
            T::Ptime(v) | T::Maxptime(v) => v.into_pyobject(py)?.into_any().unbind(),
            T::Direction(d) => direction_str(py, d).into_any().unbind(),
            T::Rtcp(r) => Py::new(
                py,
                Rtcp {
                    port: r.port,
                    address: r.address.map(crate::lossy_string),
                },
            )?
            .into_any(),
            T::RtcpMux => pyo3::types::PyBool::new(py, true)
                .to_owned()
                .into_any()
                .unbind(),
            T::Mid(v) | T::Setup(v) | T::IceUfrag(v) | T::IcePwd(v) => s(v),
            T::Group(g) => Py::new(
                py,
                Group {
                    semantics: crate::lossy_string(g.semantics),
                    tags: g.tags().map(crate::lossy_string).collect(),
                },
            )?
            .into_any(),
            T::Ssrc(x) => Py::new(py, ssrc_obj(&x))?.into_any(),
            T::Fingerprint(f) => Py::new(
                py,
                Fingerprint {
                    hash: crate::lossy_string(f.hash),
                    fingerprint: crate::lossy_string(f.fingerprint),
                },
            )?
            .into_any(),
            T::Candidate(c) => Py::new(py, candidate_obj(&c))?.into_any(),
            T::Crypto(c) => Py::new(py, crypto_obj(&c))?.into_any(),
            T::T38 { value, .. } | T::Other { value, .. } => match value {
                Some(v) => s(v),
                None => py.None(),
            },
        })
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let buf = self.s.buf(py);
        match self.value {
            Some(v) => format!(
                "<Attribute {}:{}>",
                crate::lossy_string(self.name.of(buf)),
                crate::lossy_string(v.of(buf))
            ),
            None => format!("<Attribute {}>", crate::lossy_string(self.name.of(buf))),
        }
    }
}

// --- parse, offer/answer ----------------------------------------------------------------

/// Parses a session description (offsets in errors are into `data`).
#[pyfunction]
#[pyo3(name = "sdp_parse", signature = (data, *, strict=true, limits=None))]
fn parse(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    strict: bool,
    limits: Option<Py<PyLimits>>,
) -> PyResult<SessionDescription> {
    let bytes = crate::as_bytes(py, data)?;
    let opts = crate::limits::options(py, strict, limits.as_ref());
    let n = bytes.as_bytes().len();
    new_description(py, bytes.unbind(), 0, n, opts, strict)
}

/// A codec the answerer supports.
#[pyclass(frozen, module = "sipwire._sipwire")]
#[derive(Clone)]
pub struct LocalCodec {
    inner: core::LocalCodec,
}

impl LocalCodec {
    /// `name[/clock_rate[/channels]]`; without a rate, the RFC 3551 rate of that name, else
    /// 0 (a non-RTP format such as `t38`).
    fn from_spec(py: Python<'_>, spec: &str) -> PyResult<core::LocalCodec> {
        let mut parts = spec.split('/');
        let name = parts.next().unwrap_or("");
        let num = |p: Option<&str>| -> PyResult<Option<u32>> {
            p.map(|v| {
                v.parse::<u32>().map_err(|_| {
                    local_msg(py, format!("bad codec {spec:?}: want name/rate[/channels]"))
                })
            })
            .transpose()
        };
        let rate = num(parts.next())?;
        let channels = num(parts.next())?
            .map(|c| u16::try_from(c).map_err(|_| local_msg(py, format!("bad codec {spec:?}"))))
            .transpose()?;
        if name.is_empty() || parts.next().is_some() {
            return Err(local_msg(
                py,
                format!("bad codec {spec:?}: want name/rate[/channels]"),
            ));
        }
        let rate = rate.unwrap_or_else(|| {
            (0..=127u8)
                .filter_map(core::static_payload_type)
                .find(|t| t.0.eq_ignore_ascii_case(name))
                .map_or(0, |t| t.1)
        });
        Ok(core::LocalCodec {
            name: name.to_owned(),
            clock_rate: rate,
            channels,
            fmtp: None,
        })
    }
}

#[pymethods]
impl LocalCodec {
    /// `LocalCodec("opus", 48000, channels=2)` or `LocalCodec("opus/48000/2")`; `fmtp` is
    /// what to answer with (None echoes the offer's).
    #[new]
    #[pyo3(signature = (name, clock_rate=None, *, channels=None, fmtp=None))]
    fn new(
        py: Python<'_>,
        name: &str,
        clock_rate: Option<u32>,
        channels: Option<u16>,
        fmtp: Option<String>,
    ) -> PyResult<Self> {
        let mut inner = LocalCodec::from_spec(py, name)?;
        if let Some(r) = clock_rate {
            inner.clock_rate = r;
        }
        if channels.is_some() {
            inner.channels = channels;
        }
        inner.fmtp = fmtp;
        Ok(LocalCodec { inner })
    }
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }
    #[getter]
    fn clock_rate(&self) -> u32 {
        self.inner.clock_rate
    }
    #[getter]
    fn channels(&self) -> Option<u16> {
        self.inner.channels
    }
    #[getter]
    fn fmtp(&self) -> Option<&str> {
        self.inner.fmtp.as_deref()
    }
    fn __repr__(&self) -> String {
        format!("<LocalCodec {}/{}>", self.inner.name, self.inner.clock_rate)
    }
}

/// A stream the answerer can take part in.
#[pyclass(frozen, module = "sipwire._sipwire")]
pub struct LocalMedia {
    inner: core::LocalMedia,
}

#[pymethods]
impl LocalMedia {
    /// `codecs`: LocalCodec objects or `"name/rate[/channels]"` strings (order does not
    /// matter: the answer keeps the offerer's). `direction`: what this side is willing to do.
    #[new]
    #[pyo3(signature = (kind, port, codecs, *, protocol=None, direction="sendrecv", rtcp_mux=false, address=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        kind: &str,
        port: u16,
        codecs: &Bound<'_, PyAny>,
        protocol: Option<String>,
        direction: &str,
        rtcp_mux: bool,
        address: Option<String>,
    ) -> PyResult<Self> {
        let mut list = Vec::new();
        for c in codecs.try_iter()? {
            let c = c?;
            if let Ok(lc) = c.downcast::<LocalCodec>() {
                list.push(lc.get().inner.clone());
            } else {
                let spec: String = c.extract()?;
                list.push(LocalCodec::from_spec(py, &spec)?);
            }
        }
        let mut inner = core::LocalMedia::new(kind, port, list);
        inner.protocol = protocol;
        inner.direction = direction_from(py, direction)?;
        inner.rtcp_mux = rtcp_mux;
        inner.address = address;
        Ok(LocalMedia { inner })
    }
    #[getter]
    fn kind(&self) -> &str {
        &self.inner.kind
    }
    #[getter]
    fn port(&self) -> u16 {
        self.inner.port
    }
    #[getter]
    fn codecs(&self) -> Vec<LocalCodec> {
        self.inner
            .codecs
            .iter()
            .map(|c| LocalCodec { inner: c.clone() })
            .collect()
    }
    #[getter]
    fn direction(&self) -> &'static str {
        self.inner.direction.as_str()
    }
    fn __repr__(&self) -> String {
        format!("<LocalMedia {} {}>", self.inner.kind, self.inner.port)
    }
}

fn random_session_id(py: Python<'_>) -> PyResult<u64> {
    py.import("secrets")?
        .getattr("randbits")?
        .call1((62,))?
        .extract()
}

/// The answer to `offer` (RFC 3264 §6): one m= line per offered one, same order; common
/// codecs in the offerer's order with its payload types; direction per §6.1; port 0 for
/// refused streams.
#[pyfunction]
#[pyo3(
    name = "sdp_answer",
    signature = (offer, media, *, address, username="-", session_id=None, session_version=1, session_name="-")
)]
#[allow(clippy::too_many_arguments)]
fn answer(
    py: Python<'_>,
    offer: &SessionDescription,
    media: Vec<Py<LocalMedia>>,
    address: &str,
    username: &str,
    session_id: Option<u64>,
    session_version: u64,
    session_name: &str,
) -> PyResult<Py<SessionDescription>> {
    let caps = LocalCapabilities {
        username: username.to_owned(),
        session_id: match session_id {
            Some(id) => id,
            None => random_session_id(py)?,
        },
        session_version,
        address: address.to_owned(),
        session_name: session_name.to_owned(),
        media: media.iter().map(|m| m.get().inner.clone()).collect(),
    };
    let owned = offer.with(py, |sd, _| {
        core::answer(sd, &caps).map_err(|e| local_error(py, e, "answer"))
    })?;
    from_owned(py, &owned, offer.s.opts.limits)
}

/// A re-offer putting `previous` (the last description this side sent) on hold: `o=`
/// version + 1, session id kept (RFC 3264 §8). `style`: "sendonly" (RFC 3264 §8.4;
/// recvonly streams become inactive), "inactive", or "legacy_zero_address" (RFC 2543
/// `c=0.0.0.0`, for old peers only).
#[pyfunction]
#[pyo3(name = "sdp_hold", signature = (previous, *, style="sendonly"))]
fn hold(
    py: Python<'_>,
    previous: &SessionDescription,
    style: &str,
) -> PyResult<Py<SessionDescription>> {
    let style = match style {
        "sendonly" => HoldStyle::SendOnly,
        "inactive" => HoldStyle::Inactive,
        "legacy_zero_address" => HoldStyle::ZeroAddress,
        _ => {
            return Err(local_msg(
                py,
                format!("style must be sendonly, inactive or legacy_zero_address, not {style:?}"),
            ))
        }
    };
    let owned = previous.with(py, |sd, _| {
        core::hold_offer(sd, style).map_err(|e| local_error(py, e, "hold"))
    })?;
    from_owned(py, &owned, previous.s.opts.limits)
}

/// A re-offer taking `previous` off hold: `o=` version + 1, active streams sendrecv;
/// `address` replaces the `c=` lines (needed after a legacy_zero_address hold).
#[pyfunction]
#[pyo3(name = "sdp_resume", signature = (previous, *, address=None))]
fn resume(
    py: Python<'_>,
    previous: &SessionDescription,
    address: Option<&str>,
) -> PyResult<Py<SessionDescription>> {
    let owned = previous.with(py, |sd, _| {
        core::resume_offer(sd, address).map_err(|e| local_error(py, e, "resume"))
    })?;
    from_owned(py, &owned, previous.s.opts.limits)
}

/// What `new` does relative to `old`, the previous offer of the same session (RFC 3264 §8):
/// "unchanged", "version_only" (a refresh), "changed", "changed_without_version" (§8
/// forbids it; treat as a change) or "new_session" (another o= username/id/address).
#[pyfunction]
#[pyo3(name = "sdp_offer_changes")]
fn offer_changes(
    py: Python<'_>,
    old: &SessionDescription,
    new: &SessionDescription,
) -> PyResult<&'static str> {
    let c = old.with(py, |a, _| {
        new.with(py, |b, _| Ok(core::compare_offers(a, b)))
    })?;
    Ok(match c {
        OfferChange::Unchanged => "unchanged",
        OfferChange::VersionOnly => "version_only",
        OfferChange::Changed => "changed",
        OfferChange::ChangedWithoutVersion => "changed_without_version",
        OfferChange::NewSession => "new_session",
    })
}

/// Whether `new` changes the media session set up by `old` (anything but a refresh).
#[pyfunction]
#[pyo3(name = "sdp_changes_anything")]
fn changes_anything(
    py: Python<'_>,
    old: &SessionDescription,
    new: &SessionDescription,
) -> PyResult<bool> {
    old.with(py, |a, _| {
        new.with(py, |b, _| Ok(core::compare_offers(a, b).changes_anything()))
    })
}

// --- builders ---------------------------------------------------------------------------

/// Builds a media section; each method returns the builder. Values with CR, LF or NUL
/// raise LocalProtocolError.
#[pyclass(module = "sipwire._sipwire")]
pub struct MediaBuilder {
    inner: OwnedMedia,
}

#[pymethods]
impl MediaBuilder {
    #[new]
    #[pyo3(signature = (kind, port, protocol="RTP/AVP"))]
    fn new(py: Python<'_>, kind: &str, port: u16, protocol: &str) -> PyResult<Self> {
        let inner =
            OwnedMedia::new(kind, port, protocol).map_err(|e| local_error(py, e, "m= line"))?;
        Ok(MediaBuilder { inner })
    }
    /// Adds payload type `payload_type` with its `a=rtpmap` (and `a=fmtp` if given).
    #[pyo3(signature = (payload_type, name, clock_rate, *, channels=None, fmtp=None))]
    fn codec<'py>(
        mut slf: PyRefMut<'py, Self>,
        payload_type: u8,
        name: &str,
        clock_rate: u32,
        channels: Option<u16>,
        fmtp: Option<&str>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        slf.inner
            .add_codec(payload_type, name, clock_rate, channels, fmtp)
            .map_err(|e| local_error(py, e, "codec"))?;
        Ok(slf)
    }
    /// Adds a format without rtpmap (a static payload type, or `t38`).
    fn format<'py>(mut slf: PyRefMut<'py, Self>, fmt: &str) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        slf.inner
            .add_format(fmt)
            .map_err(|e| local_error(py, e, "format"))?;
        Ok(slf)
    }
    #[pyo3(signature = (name, value=None))]
    fn attribute<'py>(
        mut slf: PyRefMut<'py, Self>,
        name: &str,
        value: Option<&str>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        slf.inner
            .push_attribute(name, value)
            .map_err(|e| local_error(py, e, "attribute"))?;
        Ok(slf)
    }
    /// Adds a line of another type (`i`, `b`, `k`) in RFC 8866 §5 order.
    fn line<'py>(
        mut slf: PyRefMut<'py, Self>,
        kind: &str,
        value: &str,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        let k = single_letter(py, kind)?;
        slf.inner
            .push_line(k, value)
            .map_err(|e| local_error(py, e, "line"))?;
        Ok(slf)
    }
    /// Sets the media-level `c=`.
    fn connection<'py>(
        mut slf: PyRefMut<'py, Self>,
        address: &str,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        slf.inner
            .set_connection(address)
            .map_err(|e| local_error(py, e, "connection"))?;
        Ok(slf)
    }
    /// Sets the direction attribute.
    fn direction<'py>(
        mut slf: PyRefMut<'py, Self>,
        direction: &str,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        let d = direction_from(py, direction)?;
        slf.inner.set_direction(d);
        Ok(slf)
    }
}

fn single_letter(py: Python<'_>, kind: &str) -> PyResult<u8> {
    match kind.as_bytes() {
        [k] => Ok(*k),
        _ => Err(local_msg(
            py,
            format!("a line type is one letter, not {kind:?}"),
        )),
    }
}

/// Builds a new description: `v=0`, `o=`, `s=`, `c=` (unless connection=False), `t=0 0`,
/// then what is added. Values with CR, LF or NUL raise LocalProtocolError.
#[pyclass(module = "sipwire._sipwire")]
pub struct SessionBuilder {
    inner: OwnedSession,
}

#[pymethods]
impl SessionBuilder {
    #[new]
    #[pyo3(signature = (address, *, username="-", session_id=None, session_version=1, session_name="-", connection=true))]
    fn new(
        py: Python<'_>,
        address: &str,
        username: &str,
        session_id: Option<u64>,
        session_version: u64,
        session_name: &str,
        connection: bool,
    ) -> PyResult<Self> {
        let id = match session_id {
            Some(id) => id,
            None => random_session_id(py)?,
        };
        let mut inner = OwnedSession::new(username, id, session_version, address, session_name)
            .map_err(|e| local_error(py, e, "o= line"))?;
        if connection {
            inner
                .set_connection(address)
                .map_err(|e| local_error(py, e, "connection"))?;
        }
        Ok(SessionBuilder { inner })
    }
    /// Adds a session-level attribute.
    #[pyo3(signature = (name, value=None))]
    fn attribute<'py>(
        mut slf: PyRefMut<'py, Self>,
        name: &str,
        value: Option<&str>,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        slf.inner
            .push_attribute(name, value)
            .map_err(|e| local_error(py, e, "attribute"))?;
        Ok(slf)
    }
    /// Adds a session-level line (`i`, `u`, `e`, `p`, `b`, ...) in RFC 8866 §5 order.
    fn line<'py>(
        mut slf: PyRefMut<'py, Self>,
        kind: &str,
        value: &str,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        let k = single_letter(py, kind)?;
        slf.inner
            .push_line(k, value)
            .map_err(|e| local_error(py, e, "line"))?;
        Ok(slf)
    }
    /// Sets the `t=` line (`"0 0"` by default).
    fn timing<'py>(
        mut slf: PyRefMut<'py, Self>,
        start: u64,
        stop: u64,
    ) -> PyResult<PyRefMut<'py, Self>> {
        let py = slf.py();
        slf.inner
            .set_timing(&format!("{start} {stop}"))
            .map_err(|e| local_error(py, e, "timing"))?;
        Ok(slf)
    }
    /// Appends a media section.
    fn media<'py>(
        mut slf: PyRefMut<'py, Self>,
        media: PyRef<'_, MediaBuilder>,
    ) -> PyRefMut<'py, Self> {
        slf.inner.add_media(media.inner.clone());
        slf
    }
    /// The description (parsed back, so every reader works on it).
    #[pyo3(signature = (*, limits=None))]
    fn build(
        &self,
        py: Python<'_>,
        limits: Option<Py<PyLimits>>,
    ) -> PyResult<Py<SessionDescription>> {
        let l = limits.map_or(Limits::DEFAULT, |l| l.get().inner);
        from_owned(py, &self.inner, l)
    }
    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.to_bytes())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SessionDescription>()?;
    m.add_class::<Media>()?;
    m.add_class::<Codec>()?;
    m.add_class::<Origin>()?;
    m.add_class::<Connection>()?;
    m.add_class::<TelephoneEvent>()?;
    m.add_class::<Attribute>()?;
    m.add_class::<Rtpmap>()?;
    m.add_class::<Fmtp>()?;
    m.add_class::<Rtcp>()?;
    m.add_class::<Group>()?;
    m.add_class::<Ssrc>()?;
    m.add_class::<Fingerprint>()?;
    m.add_class::<Candidate>()?;
    m.add_class::<Crypto>()?;
    m.add_class::<LocalCodec>()?;
    m.add_class::<LocalMedia>()?;
    m.add_class::<MediaBuilder>()?;
    m.add_class::<SessionBuilder>()?;
    m.add_function(wrap_pyfunction!(parse, m)?)?;
    m.add_function(wrap_pyfunction!(answer, m)?)?;
    m.add_function(wrap_pyfunction!(hold, m)?)?;
    m.add_function(wrap_pyfunction!(resume, m)?)?;
    m.add_function(wrap_pyfunction!(offer_changes, m)?)?;
    m.add_function(wrap_pyfunction!(changes_anything, m)?)?;
    Ok(())
}
