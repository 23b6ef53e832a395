//! The byte scanner: character classes of RFC 3261 §25.1 and the few searches every parser
//! stage shares. Searches use memchr (SIMD); classes are 256-entry tables.
//!
//! No function here can panic on any input: every access is checked.

/// A range of the input: `start` and `len` in bytes. Spans let a parsed message be kept apart
/// from the buffer it indexes (the Python side keeps the `bytes` object and the spans).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: u32,
    pub len: u32,
}

impl Span {
    #[inline]
    pub const fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            len: end.saturating_sub(start) as u32,
        }
    }
    #[inline]
    pub const fn end(self) -> usize {
        self.start as usize + self.len as usize
    }
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.len == 0
    }
    /// The bytes of this span in `buf` (empty if the span is outside `buf`).
    #[inline]
    pub fn of(self, buf: &[u8]) -> &[u8] {
        buf.get(self.start as usize..self.end()).unwrap_or(&[])
    }
    /// A sub-slice `sub` of `buf` as a span of `buf`. A slice that is not inside `buf` (such as
    /// a constant empty slice standing for "no parameters") becomes the empty span at 0.
    #[inline]
    pub fn within(buf: &[u8], sub: &[u8]) -> Span {
        let (b, s) = (buf.as_ptr() as usize, sub.as_ptr() as usize);
        match s.checked_sub(b) {
            Some(start) if start + sub.len() <= buf.len() => Span::new(start, start + sub.len()),
            _ => Span::default(),
        }
    }
    #[inline]
    #[must_use]
    pub fn shifted(self, base: usize) -> Span {
        Span {
            start: self.start + base as u32,
            len: self.len,
        }
    }
}

const fn table(chars: &[u8], alnum: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < chars.len() {
        t[chars[i] as usize] = true;
        i += 1;
    }
    if alnum {
        let mut c = 0;
        while c < 256 {
            if (c as u8).is_ascii_alphanumeric() {
                t[c] = true;
            }
            c += 1;
        }
    }
    t
}

/// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
static TOKEN: [bool; 256] = table(b"-.!%*_+`'~", true);
/// unreserved = alphanum / mark;  mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
static UNRESERVED: [bool; 256] = table(b"-_.!~*'()", true);
/// word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" /
///        "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" )
static WORD: [bool; 256] = table(b"-.!%*_+`'~()<>:\\\"/[]?{}", true);

#[inline]
pub fn is_token_char(b: u8) -> bool {
    TOKEN[b as usize]
}
#[inline]
pub fn is_unreserved(b: u8) -> bool {
    UNRESERVED[b as usize]
}
#[inline]
pub fn is_word_char(b: u8) -> bool {
    WORD[b as usize]
}

/// `1*token-char`.
#[inline]
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token_char(b))
}

/// `1*word-char` (Call-ID parts).
#[inline]
pub fn is_word(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_word_char(b))
}

/// SP or HTAB.
#[inline]
pub fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Whitespace inside a header value: SP, HTAB, and the CR LF of a fold (the header index has
/// already checked that CR and LF only appear inside values as `CRLF 1*WSP`).
#[inline]
pub fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// A control byte that may not appear in a header value (everything below SP except HTAB,
/// and DEL). CR and LF are handled by the line scanner.
#[inline]
pub fn is_forbidden_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t' && b != b'\r' && b != b'\n') || b == 0x7f
}

/// Position of the first byte at or after `from` that is not LWS.
#[inline]
pub fn skip_lws(s: &[u8], mut from: usize) -> usize {
    while let Some(&b) = s.get(from) {
        if !is_lws(b) {
            break;
        }
        from += 1;
    }
    from
}

/// `s` without leading and trailing LWS.
#[inline]
pub fn trim_lws(s: &[u8]) -> &[u8] {
    let start = skip_lws(s, 0);
    let end = s.iter().rposition(|&b| !is_lws(b)).map_or(start, |p| p + 1);
    s.get(start..end.max(start)).unwrap_or(&[])
}

/// Whether `s` (after the opening quote at `open`) holds a closing quote; returns the index
/// just past it. `quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)` is skipped as a unit.
///
/// `Err(UnterminatedQuote)` when no closing quote, `Err(TrailingBackslash)` when the string
/// ends on a lone backslash.
#[inline]
pub fn end_of_quoted(s: &[u8], open: usize) -> Result<usize, crate::ErrorKind> {
    let mut i = open + 1;
    loop {
        let rest = s.get(i..).unwrap_or(&[]);
        match memchr::memchr2(b'"', b'\\', rest) {
            None => return Err(crate::ErrorKind::UnterminatedQuote),
            Some(p) => {
                i += p;
                if s.get(i) == Some(&b'"') {
                    return Ok(i + 1);
                }
                // A backslash: the next byte is escaped.
                if i + 1 >= s.len() {
                    return Err(crate::ErrorKind::TrailingBackslash);
                }
                i += 2;
            }
        }
    }
}

/// Splits a header value at top-level commas: commas inside quoted strings, `<...>` and
/// `(...)` comments do not split (RFC 3261 §7.3.1). Items are trimmed of LWS; empty items are
/// reported as such so the caller can decide (error, or skip in lenient mode).
pub struct CommaSplit<'a> {
    s: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> CommaSplit<'a> {
    pub fn new(s: &'a [u8]) -> Self {
        CommaSplit {
            s,
            pos: 0,
            done: false,
        }
    }
}

/// One item from [`CommaSplit`]: its bytes (trimmed) and its offset in the split value, or the
/// problem that stopped splitting.
pub type SplitItem<'a> = Result<(usize, &'a [u8]), (crate::ErrorKind, usize)>;

impl<'a> Iterator for CommaSplit<'a> {
    type Item = SplitItem<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let s = self.s;
        let start = self.pos;
        // Most values hold no comma at all: one item, no scan for quotes and brackets. (A
        // lone quote or '<' is left for the item's own parser to report.)
        if memchr::memchr(b',', s.get(start..).unwrap_or(&[])).is_none() {
            self.done = true;
            let item = s.get(start..).unwrap_or(&[]);
            let t = trim_lws(item);
            let off = start + (t.as_ptr() as usize - item.as_ptr() as usize);
            return Some(Ok((off, t)));
        }
        let mut i = start;
        let mut angle = false;
        let mut depth = 0u32;
        loop {
            let Some(&b) = s.get(i) else {
                self.done = true;
                if angle {
                    return Some(Err((crate::ErrorKind::UnterminatedAngle, start)));
                }
                break;
            };
            match b {
                b'"' => match end_of_quoted(s, i) {
                    Ok(e) => {
                        i = e;
                        continue;
                    }
                    Err(k) => {
                        self.done = true;
                        return Some(Err((k, i)));
                    }
                },
                b'<' if depth == 0 => angle = true,
                b'>' if depth == 0 => angle = false,
                b'(' if !angle => depth += 1,
                b')' if !angle && depth > 0 => depth -= 1,
                b'\\' if depth > 0 => i += 1,
                b',' if !angle && depth == 0 => {
                    self.pos = i + 1;
                    let item = s.get(start..i).unwrap_or(&[]);
                    let t = trim_lws(item);
                    let off = start + (t.as_ptr() as usize - item.as_ptr() as usize);
                    return Some(Ok((off, t)));
                }
                _ => {}
            }
            i += 1;
        }
        let item = s.get(start..).unwrap_or(&[]);
        let t = trim_lws(item);
        let off = start + (t.as_ptr() as usize - item.as_ptr() as usize);
        Some(Ok((off, t)))
    }
}

/// Scans a header section for the control bytes no header line may hold (below SP other
/// than HTAB, CR and LF; and DEL) and counts its CRs: (any such byte, CR count).
#[inline]
pub fn control_scan(bytes: &[u8]) -> (bool, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above; the answer is cached by std).
            return unsafe { avx2::control_scan(bytes) };
        }
        sse2::control_scan(bytes)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        control_scan_bytes(bytes)
    }
}

/// The offset of the first LF at or after `from`. Header lines are short (most under 100
/// bytes): an inlined 16-byte search beats a general one's call and set-up.
#[inline]
pub fn find_lf(buf: &[u8], from: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::find_lf(buf, from)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        memchr::memchr(b'\n', buf.get(from..)?).map(|p| from + p)
    }
}

/// What a hostname check needs of up to 64 bytes, as bit masks (bit i = byte i): the dots,
/// the dashes, the bytes outside `alphanum / "-" / "."`, and the letters. `None` past 64 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostMasks {
    pub dots: u64,
    pub dashes: u64,
    pub other: u64,
    pub alpha: u64,
}

/// [`HostMasks`] of `s`: 16 bytes at a time on x86_64 (a host of a SIP URI or a Via sent-by
/// is read on every message, and a byte loop spends ~10 instructions a byte).
#[inline]
pub fn host_masks(s: &[u8]) -> Option<HostMasks> {
    if s.len() > 64 {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        Some(sse2::host_masks(s))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Some(host_masks_bytes(s))
    }
}

/// The byte-at-a-time form of [`host_masks`] (`s` at most 64 bytes).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn host_masks_bytes(s: &[u8]) -> HostMasks {
    let mut m = HostMasks {
        dots: 0,
        dashes: 0,
        other: 0,
        alpha: 0,
    };
    for (i, &b) in s.iter().enumerate().take(64) {
        let bit = 1u64 << i;
        if b == b'.' {
            m.dots |= bit;
        } else if b == b'-' {
            m.dashes |= bit;
        } else if b.is_ascii_alphabetic() {
            m.alpha |= bit;
        } else if !b.is_ascii_digit() {
            m.other |= bit;
        }
    }
    m
}

/// The byte-at-a-time form of [`control_scan`] (and the tail of the SIMD one).
#[inline]
fn control_scan_bytes(bytes: &[u8]) -> (bool, usize) {
    let mut bad = false;
    let mut crs = 0usize;
    for &b in bytes {
        bad |= (b < 0x20 && b != b'\t' && b != b'\r' && b != b'\n') || b == 0x7f;
        crs += usize::from(b == b'\r');
    }
    (bad, crs)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use core::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_andnot_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8,
        _mm_cvtsi128_si64, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_sad_epu8, _mm_set1_epi8, _mm_setzero_si128, _mm_srli_si128, _mm_sub_epi8,
    };

    /// [`super::find_lf`]: 16 bytes at a time, then the general search for the last bytes.
    #[inline]
    pub(super) fn find_lf(buf: &[u8], from: usize) -> Option<usize> {
        let mut i = from;
        while let Some(block) = buf.get(i..i + 16) {
            // SAFETY: SSE2 is part of the x86_64 baseline; `block` is exactly 16 readable
            // bytes (`get` checked the range) and `_mm_loadu_si128` needs no alignment.
            let lf = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8)))
            };
            if lf != 0 {
                return Some(i + lf.trailing_zeros() as usize);
            }
            i += 16;
        }
        memchr::memchr(b'\n', buf.get(i..)?).map(|p| i + p)
    }

    /// [`super::host_masks`]: `s` (at most 64 bytes) copied into a zeroed 64-byte block, each
    /// 16-byte lane classified with signed compares (bytes of 0x80 and up are negative, so
    /// outside every range), the padding masked off at the end.
    #[inline]
    pub(super) fn host_masks(s: &[u8]) -> super::HostMasks {
        let mut block = [0u8; 64];
        let n = s.len().min(64);
        if let (Some(dst), Some(src)) = (block.get_mut(..n), s.get(..n)) {
            dst.copy_from_slice(src);
        }
        let (mut dots, mut dashes, mut ok, mut alpha) = (0u64, 0u64, 0u64, 0u64);
        for (k, lane) in block.chunks_exact(16).enumerate().take(n.div_ceil(16)) {
            // SAFETY: SSE2 is part of the x86_64 baseline; `lane` is exactly 16 readable bytes
            // (chunks_exact) and `_mm_loadu_si128` needs no alignment.
            let (dot, dash, good, letter) = unsafe {
                let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
                let between = |v: __m128i, lo: u8, hi: u8| {
                    _mm_and_si128(
                        _mm_cmpgt_epi8(v, _mm_set1_epi8(lo as i8 - 1)),
                        _mm_cmplt_epi8(v, _mm_set1_epi8(hi as i8 + 1)),
                    )
                };
                let dot = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8));
                let dash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'-' as i8));
                // OR-ing 0x20 maps exactly the upper-case letters onto the lower-case ones.
                let letter = between(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', b'z');
                let good = _mm_or_si128(
                    _mm_or_si128(dot, dash),
                    _mm_or_si128(letter, between(v, b'0', b'9')),
                );
                (
                    _mm_movemask_epi8(dot),
                    _mm_movemask_epi8(dash),
                    _mm_movemask_epi8(good),
                    _mm_movemask_epi8(letter),
                )
            };
            let at = 16 * k;
            dots |= u64::from(dot as u16) << at;
            dashes |= u64::from(dash as u16) << at;
            ok |= u64::from(good as u16) << at;
            alpha |= u64::from(letter as u16) << at;
        }
        let used = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        super::HostMasks {
            dots,
            dashes,
            other: !ok & used,
            alpha,
        }
    }

    /// 16 bytes at a time: `min(v, 0x1F) == v` finds bytes below SP (unsigned), from which
    /// HTAB, CR and LF are removed; DEL is added. Each CR adds 1 to its byte lane; the lanes
    /// are summed every 255 blocks, before one can overflow.
    pub(super) fn control_scan(bytes: &[u8]) -> (bool, usize) {
        let mut bad = 0i32;
        let mut crs = 0usize;
        let mut blocks = bytes.chunks_exact(16);
        let mut pending = 0u32;
        // SAFETY: SSE2 is part of the x86_64 baseline; register-only operation.
        let mut lanes = unsafe { _mm_setzero_si128() };
        let sum = |lanes: __m128i| -> usize {
            // SAFETY: SSE2 is part of the x86_64 baseline; register-only operations.
            unsafe {
                let s = _mm_sad_epu8(lanes, _mm_setzero_si128());
                (_mm_cvtsi128_si64(s) + _mm_cvtsi128_si64(_mm_srli_si128::<8>(s))) as usize
            }
        };
        for block in &mut blocks {
            // SAFETY: SSE2 is part of the x86_64 baseline; `block` is exactly 16 readable
            // bytes (chunks_exact) and `_mm_loadu_si128` needs no alignment.
            unsafe {
                let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
                let ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
                let cr = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\r' as i8));
                let ok = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\t' as i8)), cr),
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8)),
                );
                let del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
                bad |= _mm_movemask_epi8(_mm_or_si128(_mm_andnot_si128(ok, ctl), del));
                lanes = _mm_sub_epi8(lanes, cr);
            }
            pending += 1;
            if pending == 255 {
                crs += sum(lanes);
                // SAFETY: SSE2 is part of the x86_64 baseline; register-only operation.
                lanes = unsafe { _mm_setzero_si128() };
                pending = 0;
            }
        }
        crs += sum(lanes);
        let (tail_bad, tail_crs) = super::control_scan_bytes(blocks.remainder());
        (bad != 0 || tail_bad, crs + tail_crs)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use core::arch::x86_64::{
        __m256i, _mm256_andnot_si256, _mm256_cmpeq_epi8, _mm256_extract_epi64, _mm256_loadu_si256,
        _mm256_min_epu8, _mm256_movemask_epi8, _mm256_or_si256, _mm256_sad_epu8, _mm256_set1_epi8,
        _mm256_setzero_si256, _mm256_sub_epi8,
    };

    /// [`super::sse2::control_scan`] 32 bytes at a time, for the long headers of requests
    /// that crossed proxies.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn control_scan(bytes: &[u8]) -> (bool, usize) {
        let mut bad = 0i32;
        let mut crs = 0usize;
        let mut blocks = bytes.chunks_exact(32);
        let mut pending = 0u32;
        let mut lanes = _mm256_setzero_si256();
        let sum = |lanes: __m256i| -> usize {
            let s = _mm256_sad_epu8(lanes, _mm256_setzero_si256());
            (_mm256_extract_epi64::<0>(s)
                + _mm256_extract_epi64::<1>(s)
                + _mm256_extract_epi64::<2>(s)
                + _mm256_extract_epi64::<3>(s)) as usize
        };
        for block in &mut blocks {
            // SAFETY: `block` is exactly 32 readable bytes (chunks_exact) and
            // `_mm256_loadu_si256` needs no alignment; AVX2 is the caller's promise.
            let v = unsafe { _mm256_loadu_si256(block.as_ptr().cast::<__m256i>()) };
            let ctl = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v);
            let cr = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\r' as i8));
            let ok = _mm256_or_si256(
                _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\t' as i8)), cr),
                _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\n' as i8)),
            );
            let del = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x7f));
            bad |= _mm256_movemask_epi8(_mm256_or_si256(_mm256_andnot_si256(ok, ctl), del));
            lanes = _mm256_sub_epi8(lanes, cr);
            pending += 1;
            if pending == 255 {
                crs += sum(lanes);
                lanes = _mm256_setzero_si256();
                pending = 0;
            }
        }
        crs += sum(lanes);
        let (tail_bad, tail_crs) = super::sse2::control_scan(blocks.remainder());
        (bad != 0 || tail_bad, crs + tail_crs)
    }
}

/// Case-insensitive ASCII equality.
#[inline]
pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The bytes as a `str` when every one is ASCII (the usual SIP field), found by one
/// word-at-a-time test; `None` otherwise (the caller then checks UTF-8 in full). Short
/// fields are most of what a binding turns into strings, where `str::from_utf8` costs ~5×
/// this test.
#[inline]
pub fn ascii_str(s: &[u8]) -> Option<&str> {
    if s.is_ascii() {
        // SAFETY: every byte is below 0x80, and any such sequence is valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(s) })
    } else {
        None
    }
}

/// `String::from_utf8_lossy` with the ASCII case first (no per-chunk UTF-8 walk).
#[inline]
pub fn lossy_str(s: &[u8]) -> std::borrow::Cow<'_, str> {
    match ascii_str(s) {
        Some(a) => std::borrow::Cow::Borrowed(a),
        None => String::from_utf8_lossy(s),
    }
}

/// Parses `1*DIGIT` as u64; `None` on empty input, a non-digit, or overflow past u64.
#[inline]
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_str_takes_ascii_only() {
        assert_eq!(ascii_str(b"z9hG4bK74bfa"), Some("z9hG4bK74bfa"));
        assert_eq!(ascii_str(b""), Some(""));
        assert_eq!(ascii_str("caf\u{e9}".as_bytes()), None);
        assert_eq!(ascii_str(b"a\xffb"), None);
        for b in 0..=255u8 {
            assert_eq!(ascii_str(&[b]).is_some(), b < 0x80);
            assert_eq!(lossy_str(&[b, b'x']), String::from_utf8_lossy(&[b, b'x']));
        }
    }

    fn items(s: &str) -> Vec<String> {
        CommaSplit::new(s.as_bytes())
            .map(|r| String::from_utf8(r.unwrap().1.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn comma_split_respects_quotes_angles_comments() {
        assert_eq!(
            items(r#""a, b" <sip:x,y@h>;p=1 , <sip:z@h> (c, d)"#),
            vec![r#""a, b" <sip:x,y@h>;p=1"#, "<sip:z@h> (c, d)"]
        );
        assert_eq!(items(r#""q\", x", y"#), vec![r#""q\", x""#, "y"]);
        assert_eq!(items("a,,b"), vec!["a", "", "b"]);
    }

    #[test]
    fn comma_split_errors() {
        let r: Vec<_> = CommaSplit::new(b"\"abc, d").collect();
        assert!(matches!(
            r[0],
            Err((crate::ErrorKind::UnterminatedQuote, 0))
        ));
        let r: Vec<_> = CommaSplit::new(b"<sip:a@b, c").collect();
        assert!(matches!(
            r[0],
            Err((crate::ErrorKind::UnterminatedAngle, 0))
        ));
        assert_eq!(
            end_of_quoted(b"\"ab\\", 0),
            Err(crate::ErrorKind::TrailingBackslash)
        );
    }

    #[test]
    fn find_lf_agrees_with_memchr() {
        let mut data: Vec<u8> = (0u8..=255).cycle().take(600).collect();
        for (i, b) in data.iter_mut().enumerate() {
            if *b == b'\n' && i % 3 != 0 {
                *b = b'a';
            }
        }
        for buf in [
            &data[..],
            b"a\r\nb",
            b"\n",
            b"",
            b"no line feed here, but long enough",
        ] {
            for from in 0..=buf.len() + 1 {
                let want = buf
                    .get(from..)
                    .and_then(|r| memchr::memchr(b'\n', r))
                    .map(|p| from + p);
                assert_eq!(find_lf(buf, from), want, "from {from}");
            }
        }
    }

    #[test]
    fn control_scan_agrees_with_the_byte_loop() {
        let mut data: Vec<u8> =
            b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\nSubject: \t\xc3\xa9\r\n\r\n".to_vec();
        for len in 0..data.len() {
            assert_eq!(control_scan(&data[..len]), control_scan_bytes(&data[..len]));
        }
        for (i, bad) in [0u8, 1, 0x0b, 0x1f, 0x7f].into_iter().enumerate() {
            data[5 + i * 7] = bad;
            assert_eq!(control_scan(&data), control_scan_bytes(&data));
            assert!(control_scan(&data).0);
        }
        let all: Vec<u8> = (0..=255u8).collect();
        assert_eq!(control_scan(&all), control_scan_bytes(&all));
        // More CRs than one lane can count before the lanes are summed.
        let many = b"\r\n".repeat(40_000);
        assert_eq!(control_scan(&many), (false, 40_000));
    }

    #[test]
    fn host_masks_agree_with_the_byte_loop() {
        // Every byte value at every position of every length up to 64, among host bytes.
        let base: Vec<u8> = b"pc33-a.atlanta.example.COM.0123456789-xyz.ab.cd.ef.gh.ij.kl.mn"
            .iter()
            .copied()
            .cycle()
            .take(64)
            .collect();
        for len in 0..=64 {
            let s = &base[..len];
            assert_eq!(host_masks(s), Some(host_masks_bytes(s)), "{len}");
        }
        for pos in 0..64 {
            for b in 0..=255u8 {
                let mut s = base.clone();
                s[pos] = b;
                for len in [pos + 1, 64] {
                    assert_eq!(host_masks(&s[..len]), Some(host_masks_bytes(&s[..len])));
                }
            }
        }
        assert_eq!(host_masks(&[b'a'; 65]), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"0042"), Some(42));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"-1"), None);
    }

    #[test]
    fn spans() {
        let buf = b"hello world";
        let s = Span::within(buf, &buf[6..]);
        assert_eq!(s.of(buf), b"world");
        assert_eq!(Span::new(20, 30).of(buf), b"");
        // A slice from elsewhere is no span of `buf`.
        assert_eq!(Span::within(buf, b""), Span::default());
        assert_eq!(Span::within(&buf[..3], &buf[6..]), Span::default());
    }
}
