//! libosip2's SIP parser behind a small C shim (`shim.c`), for sipwire's parse benchmark. Built
//! only when libosip2's headers are installed (Debian's `libosip2-dev`); [`available`] says
//! whether it was.

#![cfg_attr(not(osip), allow(dead_code, unused_imports))]

use std::ffi::{c_char, c_int, c_void};

#[repr(C)]
#[derive(Clone, Copy)]
struct Str {
    ptr: *const c_char,
    len: usize,
}

#[repr(C)]
struct RawFields {
    method: Str,
    uri_host: Str,
    call_id: Str,
    cseq_number: Str,
    cseq_method: Str,
    from_tag: Str,
    to_tag: Str,
    branch: Str,
    via_host: Str,
    content_length: Str,
}

/// The fields read from one message, copied out of libosip2's structures.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fields {
    pub method: Vec<u8>,
    pub uri_host: Vec<u8>,
    pub call_id: Vec<u8>,
    pub cseq_number: Vec<u8>,
    pub cseq_method: Vec<u8>,
    pub from_tag: Vec<u8>,
    pub to_tag: Vec<u8>,
    pub branch: Vec<u8>,
    pub via_host: Vec<u8>,
    pub content_length: Vec<u8>,
}

#[cfg(osip)]
extern "C" {
    fn osip_shim_init() -> c_int;
    fn osip_shim_parse(buf: *const c_char, len: usize) -> *mut c_void;
    fn osip_shim_free(msg: *mut c_void);
    fn osip_shim_fields(msg: *mut c_void, eight: c_int, out: *mut RawFields) -> c_int;
}

/// Whether libosip2 was found at build time.
pub fn available() -> bool {
    cfg!(osip)
}

/// Initialises libosip2's parser tables (once per process, before any parse).
pub fn init() -> bool {
    #[cfg(osip)]
    // SAFETY: parser_init has no preconditions; calling it again only rebuilds its tables.
    unsafe {
        osip_shim_init() == 0
    }
    #[cfg(not(osip))]
    false
}

/// Parses `buf` with libosip2 and reads the transaction-key fields (`eight = false`) or the
/// eight fields of the Python suite; `None` when libosip2 is missing or fails.
/// `copy`: copy the values out (to check them), else only touch their lengths (to time them).
pub fn parse_and_read(buf: &[u8], eight: bool, copy: bool) -> Option<Fields> {
    #[cfg(osip)]
    {
        let mut raw = std::mem::MaybeUninit::<RawFields>::zeroed();
        // SAFETY: `buf` is valid for its length for the whole call; osip_shim_parse copies
        // what it keeps; the message is freed exactly once, after its strings were read.
        unsafe {
            let msg = osip_shim_parse(buf.as_ptr().cast(), buf.len());
            if msg.is_null() {
                return None;
            }
            let ok = osip_shim_fields(msg, c_int::from(eight), raw.as_mut_ptr()) == 0;
            let raw = raw.assume_init();
            let take = |s: Str| -> Vec<u8> {
                if s.ptr.is_null() {
                    Vec::new()
                } else if copy {
                    std::slice::from_raw_parts(s.ptr.cast::<u8>(), s.len).to_vec()
                } else {
                    std::hint::black_box(s.len);
                    Vec::new()
                }
            };
            let out = Fields {
                method: take(raw.method),
                uri_host: take(raw.uri_host),
                call_id: take(raw.call_id),
                cseq_number: take(raw.cseq_number),
                cseq_method: take(raw.cseq_method),
                from_tag: take(raw.from_tag),
                to_tag: take(raw.to_tag),
                branch: take(raw.branch),
                via_host: take(raw.via_host),
                content_length: take(raw.content_length),
            };
            osip_shim_free(msg);
            ok.then_some(out)
        }
    }
    #[cfg(not(osip))]
    {
        let _ = (buf, eight, copy);
        None
    }
}
