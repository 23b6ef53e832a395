//! Where capture bytes come from: a path or stdin, then gzip or zstd undone when the first
//! bytes say so. Detection is by magic on any reader (a file, a pipe, a Python file object),
//! never by file name, and the peeked bytes are handed back in front of the stream.

use std::fmt;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};

/// gzip member header (RFC 1952 §2.3.1: ID1 ID2).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// zstd frame magic 0xFD2FB528, little-endian (RFC 8878 §3.1.1).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The accepted formats, as the "not a capture" message lists them.
const EXPECTED: &str =
    "expected pcap (a1b2c3d4 / a1b23c4d either byte order), pcapng (0a0d0d0a), gzip or zstd";
const EXPECTED_INNER: &str =
    "expected pcap (a1b2c3d4 / a1b23c4d either byte order) or pcapng (0a0d0d0a)";

/// The compression a capture was wrapped in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Why an input could not be opened as a capture. This is the caller's error (wrong file,
/// unreadable file), not damage inside a capture, which is counted instead.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The input could not be opened or read.
    Io {
        path: Option<PathBuf>,
        error: io::Error,
    },
    /// The first bytes are not a capture format (`after`: the compression undone first).
    NotCapture {
        path: Option<PathBuf>,
        /// Up to the first 4 bytes (fewer when the input is that short; empty when it is empty).
        first: Vec<u8>,
        after: Compression,
        /// What the bytes look like, when we recognise them (`"xz-compressed"`).
        hint: Option<&'static str>,
    },
    /// The gzip or zstd stream is corrupt at its start.
    Decompress {
        path: Option<PathBuf>,
        compression: Compression,
        error: io::Error,
    },
    /// A capture format we know, in a version we do not read.
    Unsupported {
        path: Option<PathBuf>,
        detail: String,
    },
}

impl OpenError {
    /// The same error, naming `path` (errors from a bare reader name none).
    pub fn with_path(mut self, p: &Path) -> Self {
        let slot = match &mut self {
            OpenError::Io { path, .. }
            | OpenError::NotCapture { path, .. }
            | OpenError::Decompress { path, .. }
            | OpenError::Unsupported { path, .. } => path,
        };
        if slot.is_none() {
            *slot = Some(p.to_path_buf());
        }
        self
    }

    /// The path the error is about, when known.
    pub fn path(&self) -> Option<&Path> {
        match self {
            OpenError::Io { path, .. }
            | OpenError::NotCapture { path, .. }
            | OpenError::Decompress { path, .. }
            | OpenError::Unsupported { path, .. } => path.as_deref(),
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.path() {
            write!(f, "{}: ", p.display())?;
        }
        match self {
            OpenError::Io { error, .. } => write!(f, "{error}"),
            OpenError::Decompress {
                compression, error, ..
            } => write!(f, "corrupt {} data: {error}", compression.as_str()),
            OpenError::Unsupported { detail, .. } => f.write_str(detail),
            OpenError::NotCapture {
                first, after, hint, ..
            } => {
                f.write_str("not a capture: ")?;
                let inner = *after != Compression::None;
                if first.is_empty() {
                    if inner {
                        write!(f, "the {} stream is empty", after.as_str())?;
                    } else {
                        f.write_str("the input is empty")?;
                    }
                } else {
                    f.write_str("first bytes")?;
                    if inner {
                        write!(f, " after {} decompression", after.as_str())?;
                    }
                    for b in first {
                        write!(f, " {b:02x}")?;
                    }
                    if first.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
                        write!(f, " (\"{}\")", String::from_utf8_lossy(first))?;
                    }
                    if first.len() < 4 {
                        f.write_str(" (the input ends there)")?;
                    }
                    if let Some(h) = hint {
                        write!(f, ", {h}")?;
                    }
                }
                write!(f, "; {}", if inner { EXPECTED_INNER } else { EXPECTED })
            }
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Io { error, .. } | OpenError::Decompress { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Opens a capture file, or stdin for `"-"`. The bytes are not looked at yet.
pub fn open_path(path: &Path) -> Result<Box<dyn Read + Send>, OpenError> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdin()));
    }
    match File::open(path) {
        Ok(f) => Ok(Box::new(f)),
        Err(error) => Err(OpenError::Io {
            path: Some(path.to_path_buf()),
            error,
        }),
    }
}

/// Undoes gzip or zstd when the first bytes are their magic; passes other input through
/// unchanged (the record reader then decides whether it is a capture).
pub fn decompress(r: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>, OpenError> {
    decompress_detect(r).map(|(r, _)| r)
}

/// [`decompress`], also telling which compression was found.
pub fn decompress_detect(
    mut r: Box<dyn Read + Send>,
) -> Result<(Box<dyn Read + Send>, Compression), OpenError> {
    let mut head = [0u8; 4];
    let n = read_up_to(&mut r, &mut head).map_err(|error| OpenError::Io { path: None, error })?;
    let head = head.get(..n).unwrap_or_default();
    let kind = compression_of(head);
    // The peeked bytes go back in front of the rest, so nothing is lost.
    let r: Box<dyn Read + Send> = Box::new(Cursor::new(head.to_vec()).chain(r));
    match kind {
        Compression::None => Ok((r, kind)),
        // Several members one after another (`cat a.gz b.gz`) are one stream (RFC 1952 §2.2).
        Compression::Gzip => Ok((Box::new(flate2::read::MultiGzDecoder::new(r)), kind)),
        // The zstd decoder goes on through every frame and skips skippable frames (RFC 8878 §3).
        Compression::Zstd => match zstd::stream::read::Decoder::new(r) {
            Ok(d) => Ok((Box::new(d), kind)),
            Err(error) => Err(OpenError::Decompress {
                path: None,
                compression: kind,
                error,
            }),
        },
    }
}

/// The compression whose magic `head` starts with.
pub fn compression_of(head: &[u8]) -> Compression {
    if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(&ZSTD_MAGIC) || is_zstd_skippable(head) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// A zstd skippable frame, magic 0x184D2A5? (RFC 8878 §3.1.2): pzstd starts its output with
/// one.
fn is_zstd_skippable(head: &[u8]) -> bool {
    matches!(head, [b0, 0x2a, 0x4d, 0x18, ..] if b0 & 0xf0 == 0x50)
}

/// The magic numbers a capture starts with (pcap §4 in either byte order, microsecond,
/// nanosecond and the modified format; pcapng's Section Header Block type), and their kind.
const CAPTURE_MAGICS: [([u8; 4], &str); 7] = [
    ([0xd4, 0xc3, 0xb2, 0xa1], "pcap"),
    ([0xa1, 0xb2, 0xc3, 0xd4], "pcap"),
    ([0x4d, 0x3c, 0xb2, 0xa1], "pcap"),
    ([0xa1, 0xb2, 0x3c, 0x4d], "pcap"),
    ([0x34, 0xcd, 0xb2, 0xa1], "pcap"),
    ([0xa1, 0xb2, 0xcd, 0x34], "pcap"),
    ([0x0a, 0x0d, 0x0d, 0x0a], "pcapng"),
];

/// What a file starting with `head` is to the reader: `"pcap"`, `"pcapng"`, `"gzip"` or
/// `"zstd"` (a compressed stream, whatever it holds); `None` for anything else.
pub fn capture_kind(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&GZIP_MAGIC) {
        Some("gzip")
    } else if head.starts_with(&ZSTD_MAGIC) || is_zstd_skippable(head) {
        Some("zstd")
    } else {
        CAPTURE_MAGICS
            .iter()
            .find(|(m, _)| head.starts_with(m))
            .map(|(_, k)| *k)
    }
}

/// The error reading a file that starts with `head` (its first 8 bytes, or all of a shorter
/// file) would give, without its path; `None` when [`capture_kind`] knows `head`. Lets a
/// caller refuse a file before reading starts, in the reader's words.
pub fn not_capture(head: &[u8]) -> Option<OpenError> {
    capture_kind(head).is_none().then(|| OpenError::NotCapture {
        path: None,
        first: head.get(..4).unwrap_or(head).to_vec(),
        after: Compression::None,
        hint: hint_for(head),
    })
}

/// What first bytes that are no capture look like, for the error message.
pub(crate) fn hint_for(head: &[u8]) -> Option<&'static str> {
    const KNOWN: &[(&[u8], &str)] = &[
        (
            &[0xfd, b'7', b'z', b'X', b'Z', 0],
            "xz-compressed (decompress it first)",
        ),
        (b"BZh", "bzip2-compressed (decompress it first)"),
        (
            &[0x04, 0x22, 0x4d, 0x18],
            "lz4-compressed (decompress it first)",
        ),
        (b"PK\x03\x04", "a zip archive (extract it first)"),
        (b"\x89PNG", "a PNG image"),
        (b"<?xml", "XML"),
    ];
    if looks_like_sip_text(head) {
        return Some("a SIP message as text (`sipwire parse FILE` reads one)");
    }
    KNOWN
        .iter()
        .find(|(m, _)| {
            head.starts_with(m) || (head.len() < m.len() && m.starts_with(head) && head.len() >= 3)
        })
        .map(|(_, h)| *h)
}

/// A status line, or a SIP method and its space, as far as the first bytes go: a message
/// saved as text and handed to the capture reader.
fn looks_like_sip_text(head: &[u8]) -> bool {
    const STARTS: &[&[u8]] = &[
        b"SIP/2.0 ",
        b"INVITE ",
        b"ACK ",
        b"BYE ",
        b"CANCEL ",
        b"OPTIONS ",
        b"REGISTER ",
        b"PRACK ",
        b"SUBSCRIBE ",
        b"NOTIFY ",
        b"PUBLISH ",
        b"INFO ",
        b"REFER ",
        b"MESSAGE ",
        b"UPDATE ",
    ];
    head.len() >= 4
        && STARTS
            .iter()
            .any(|s| head.starts_with(s) || s.starts_with(head))
}

/// Reads until `buf` is full or the input ends; how many bytes were read.
pub(crate) fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A reader that hands out one byte per call, as a slow pipe or a Python object might.
    struct Trickle(Vec<u8>, usize);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.get(self.1), buf.first_mut()) {
                (Some(b), Some(slot)) => {
                    *slot = *b;
                    self.1 += 1;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn all(r: Box<dyn Read + Send>) -> Vec<u8> {
        let mut r = r;
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        v
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn plain_passes_through_with_peeked_bytes() {
        let data = b"\xd4\xc3\xb2\xa1 and the rest".to_vec();
        let (r, c) = decompress_detect(Box::new(Trickle(data.clone(), 0))).unwrap();
        assert_eq!(c, Compression::None);
        assert_eq!(all(r), data);
        // Shorter than the magic, and empty.
        assert_eq!(
            all(decompress(Box::new(Cursor::new(vec![0x1f]))).unwrap()),
            [0x1f]
        );
        assert!(all(decompress(Box::new(Cursor::new(vec![]))).unwrap()).is_empty());
    }

    #[test]
    fn gzip_multi_member_reads_fully() {
        let mut data = gz(b"first member, ");
        data.extend(gz(b"second member"));
        let (r, c) = decompress_detect(Box::new(Trickle(data, 0))).unwrap();
        assert_eq!(c, Compression::Gzip);
        assert_eq!(all(r), b"first member, second member");
    }

    #[test]
    fn zstd_multi_frame_and_skippable_frames() {
        let mut data = vec![0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3];
        data.extend(zstd::stream::encode_all(&b"one "[..], 3).unwrap());
        data.extend(zstd::stream::encode_all(&b"two"[..], 3).unwrap());
        let (r, c) = decompress_detect(Box::new(Cursor::new(data))).unwrap();
        assert_eq!(c, Compression::Zstd);
        assert_eq!(all(r), b"one two");
    }

    #[test]
    fn messages_name_path_bytes_and_formats() {
        let e = OpenError::NotCapture {
            path: None,
            first: b"<?xm".to_vec(),
            after: Compression::None,
            hint: hint_for(b"<?xm"),
        }
        .with_path(Path::new("/tmp/x.pcap"));
        assert_eq!(
            e.to_string(),
            "/tmp/x.pcap: not a capture: first bytes 3c 3f 78 6d (\"<?xm\"), XML; expected pcap \
             (a1b2c3d4 / a1b23c4d either byte order), pcapng (0a0d0d0a), gzip or zstd"
        );
        let e = open_path(Path::new("/nonexistent/dir/c.pcap"))
            .err()
            .unwrap();
        let s = e.to_string();
        assert!(s.starts_with("/nonexistent/dir/c.pcap: "), "{s}");
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(
            hint_for(&[0xfd, b'7', b'z', b'X']),
            Some("xz-compressed (decompress it first)")
        );
        assert_eq!(hint_for(b"ab"), None);
        for (m, kind) in CAPTURE_MAGICS {
            assert!(not_capture(&m).is_none());
            assert_eq!(capture_kind(&m), Some(kind));
        }
        assert!(not_capture(&[0x1f, 0x8b, 8, 0]).is_none());
        assert!(not_capture(&[0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0]).is_none());
        assert_eq!(
            capture_kind(&[0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0]),
            Some("zstd")
        );
        assert_eq!(capture_kind(&[0x1f, 0x8b, 8, 0]), Some("gzip"));
        assert_eq!(capture_kind(b"INVITE s"), None);
        let e = not_capture(b"INVITE s").map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "not a capture: first bytes 49 4e 56 49 (\"INVI\"), a SIP message as text \
                 (`sipwire parse FILE` reads one); expected pcap (a1b2c3d4 / a1b23c4d either \
                 byte order), pcapng (0a0d0d0a), gzip or zstd"
            )
        );
        assert!(
            not_capture(b"ab").is_some_and(|e| e.to_string().contains("(the input ends there)"))
        );
        for sip in [
            &b"INVITE s"[..],
            b"SIP/2.0 ",
            b"REGISTER",
            b"BYE sip:",
            b"ACK x",
        ] {
            assert_eq!(
                hint_for(sip),
                Some("a SIP message as text (`sipwire parse FILE` reads one)"),
                "{sip:?}"
            );
        }
        for not_sip in [&b"GET / HT"[..], b"abc def", b"INVITED", b"ACKx", b"SIP/3"] {
            assert_eq!(hint_for(not_sip), None, "{not_sip:?}");
        }
    }
}
