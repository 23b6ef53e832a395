//! Requests a transaction makes itself: the ACK for a non-2xx final (RFC 3261 §17.1.1.3) and
//! CANCEL (§9.1); and branch ids (§8.1.1.7).

use crate::build::RequestBuilder;
use crate::error::{Error, ErrorKind};
use crate::message::{HeaderName, Message, MessageIndex};

/// Makes unique RFC 3261 branches from a seed the caller draws once (the core has no RNG):
/// `z9hG4bK` + seed + counter, so branches are unique as long as seeds are.
#[derive(Clone, Debug)]
pub struct BranchGen {
    seed: u64,
    counter: u64,
}

impl BranchGen {
    pub fn new(seed: u64) -> BranchGen {
        BranchGen { seed, counter: 0 }
    }

    /// The next branch (`z9hG4bK` + 16 hex digits + a counter).
    pub fn next_branch(&mut self) -> String {
        self.counter = self.counter.wrapping_add(1);
        format!("z9hG4bK{:016x}{:x}", self.seed, self.counter)
    }
}

/// The parts CANCEL and the non-2xx ACK copy from the request (§9.1, §17.1.1.3): Request-URI,
/// top Via, Route, From, Call-ID, CSeq number.
fn copy_of<I: AsRef<MessageIndex>>(
    req: &Message<'_, I>,
    method: &[u8],
    to: &[u8],
) -> Result<Vec<u8>, Error> {
    let missing = Error::new(ErrorKind::MissingHeader, 0);
    let uri = req.request_uri().ok_or(missing)?;
    let idx = req.index();
    let via = idx.fields().top_via.ok_or(missing)?.text;
    let cseq = idx.fields().cseq.ok_or(missing)?.seq;
    let mut b = RequestBuilder::new(method, uri)?;
    b.header(b"Via", req.bytes_of(via))?;
    for h in req.headers() {
        if h.kind == HeaderName::Route {
            b.header(b"Route", &crate::message::unfold(req.bytes_of(h.value)))?;
        }
    }
    b.header(b"Max-Forwards", b"70")?;
    b.header(b"To", &crate::message::unfold(to))?;
    let from = req.first_value(HeaderName::From).ok_or(missing)?;
    b.header(b"From", &crate::message::unfold(from))?;
    b.header(b"Call-ID", req.call_id().ok_or(missing)?)?;
    let mut cs = cseq.to_string().into_bytes();
    cs.push(b' ');
    cs.extend_from_slice(method);
    b.header(b"CSeq", &cs)?;
    b.build()
}

/// CANCEL for `request` (§9.1): same Request-URI, Call-ID, To, From, CSeq number and top Via
/// (so the same branch), the same Route headers.
pub fn build_cancel<I: AsRef<MessageIndex>>(request: &Message<'_, I>) -> Result<Vec<u8>, Error> {
    let to = request
        .first_value(HeaderName::To)
        .ok_or(Error::new(ErrorKind::MissingHeader, 0))?;
    copy_of(request, b"CANCEL", to)
}

/// The ACK for a non-2xx final response to `invite` (§17.1.1.3): as the INVITE, with the To
/// of the response and CSeq method ACK. It is part of the INVITE transaction (same branch).
pub fn build_ack_for_non_2xx<I: AsRef<MessageIndex>, J: AsRef<MessageIndex>>(
    invite: &Message<'_, I>,
    response: &Message<'_, J>,
) -> Result<Vec<u8>, Error> {
    let to = response
        .first_value(HeaderName::To)
        .ok_or(Error::new(ErrorKind::MissingHeader, 0))?;
    copy_of(invite, b"ACK", to)
}
