//! The correlation stage on a thread of its own: the read (decode, reassembly, framing, the
//! `messages` rows, RTP) and the correlator each take about half of an analysis's time, so on
//! a machine with a second core the two run side by side. Messages go to the correlator in
//! batches through a bounded channel, in the order the read made them: the calls, media and
//! joins are the same as with the correlator inline (a test below compares them).

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use sipwire::message::MessageIndex;

use crate::analyze::{Analysis, CallStats};
use crate::table::Seen;

/// Messages per batch sent to the correlator's thread.
const BATCH_MESSAGES: usize = 256;
/// Batches in flight at most: the read waits when the correlator is this far behind, so the
/// messages held between the two are bounded (~2,000 messages).
const BATCHES_IN_FLIGHT: usize = 8;

/// One message handed over: where it was seen, its bytes (a range of the batch's buffer) and
/// its index (spans of those bytes).
struct Item {
    seen: Seen,
    start: usize,
    end: usize,
    index: MessageIndex,
}

/// A batch keeps its items when it comes back, so their indexes' vectors are filled again
/// rather than allocated on the reading thread and freed on the correlator's (the allocator
/// handles that pattern badly).
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    items: Vec<Item>,
    /// Items in use (those past it are kept for their allocations).
    len: usize,
}

impl Batch {
    fn push(&mut self, seen: &Seen, bytes: &[u8], index: &MessageIndex) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        let end = self.bytes.len();
        match self.items.get_mut(self.len) {
            Some(it) => {
                it.seen = *seen;
                it.start = start;
                it.end = end;
                copy_index(&mut it.index, index);
            }
            None => self.items.push(Item {
                seen: *seen,
                start,
                end,
                index: index.clone(),
            }),
        }
        self.len += 1;
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.len = 0;
    }
}

/// `src` into `dst`, reusing `dst`'s vectors.
fn copy_index(dst: &mut MessageIndex, src: &MessageIndex) {
    dst.start_line = src.start_line;
    dst.start = src.start;
    dst.headers.clear();
    dst.headers.extend_from_slice(&src.headers);
    dst.body_start = src.body_start;
    dst.body = src.body;
    dst.end = src.end;
    dst.content_length = src.content_length;
    dst.diagnostics.clone_from(&src.diagnostics);
    dst.fields.clone_from(&src.fields);
}

struct Worker {
    tx: SyncSender<Batch>,
    /// Emptied batches coming back, so their buffers are reused.
    back: Receiver<Batch>,
    handle: JoinHandle<Analysis>,
    batch: Batch,
    /// The correlator's counters as of its last batch (for a progress display).
    stats: Arc<Mutex<CallStats>>,
}

/// The correlation stage of a read: inline, or on its own thread until it is asked for.
pub struct CallStage {
    local: Option<Analysis>,
    worker: Option<Worker>,
}

impl CallStage {
    /// The stage inline: each message is correlated as the read makes it.
    pub fn inline(a: Analysis) -> Self {
        CallStage {
            local: Some(a),
            worker: None,
        }
    }

    /// The stage on a thread of its own; inline when the thread cannot be started.
    pub fn threaded(a: Analysis) -> Self {
        let (tx, rx) = mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (back_tx, back) = mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT + 1);
        let stats = Arc::new(Mutex::new(a.stats.clone()));
        let shared = stats.clone();
        // The analysis moves to the thread and back; if the spawn fails it is lost with the
        // closure, so a second one is made for the inline fallback from the same config.
        let fallback = a.config();
        let spawned = std::thread::Builder::new()
            .name("sipwire-calls".into())
            .spawn(move || {
                let mut a = a;
                for mut batch in rx {
                    for it in batch.items.iter().take(batch.len) {
                        let bytes = batch.bytes.get(it.start..it.end).unwrap_or_default();
                        a.message(&it.seen, bytes, &it.index);
                    }
                    if let Ok(mut s) = shared.lock() {
                        *s = a.stats.clone();
                    }
                    batch.clear();
                    // The read may have stopped taking them back: then the batch is dropped.
                    let _ = back_tx.try_send(batch);
                }
                a
            });
        match spawned {
            Ok(handle) => CallStage {
                local: None,
                worker: Some(Worker {
                    tx,
                    back,
                    handle,
                    batch: Batch::default(),
                    stats,
                }),
            },
            Err(_) => CallStage::inline(Analysis::new(fallback)),
        }
    }

    /// One SIP message that parsed (its index is of `bytes`).
    pub fn message(&mut self, seen: &Seen, bytes: &[u8], index: &MessageIndex) {
        let Some(w) = self.worker.as_mut() else {
            if let Some(a) = self.local.as_mut() {
                a.message(seen, bytes, index);
            }
            return;
        };
        w.batch.push(seen, bytes, index);
        if w.batch.len >= BATCH_MESSAGES {
            let next = w.back.try_recv().unwrap_or_default();
            let full = std::mem::replace(&mut w.batch, next);
            if w.tx.send(full).is_err() {
                // The thread has ended (it panicked): joining says so.
                self.join();
            }
        }
    }

    /// The correlator's counters (as of the last batch it finished, when threaded).
    pub fn stats(&self) -> CallStats {
        match (&self.local, &self.worker) {
            (Some(a), _) => a.stats.clone(),
            (None, Some(w)) => w.stats.lock().map(|s| s.clone()).unwrap_or_default(),
            (None, None) => CallStats::default(),
        }
    }

    /// The analysis, every message handed over so far correlated (the thread, if any, is
    /// given the last batch and joined).
    pub fn get(&mut self) -> Option<&mut Analysis> {
        self.join();
        self.local.as_mut()
    }

    fn join(&mut self) {
        let Some(w) = self.worker.take() else {
            return;
        };
        let Worker {
            tx, handle, batch, ..
        } = w;
        if batch.len > 0 {
            let _ = tx.send(batch);
        }
        drop(tx);
        match handle.join() {
            Ok(a) => self.local = Some(a),
            // A panic in the correlator is the read's, as it would be inline.
            Err(p) => std::panic::resume_unwind(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Endpoint, Transport};
    use arrow_array::RecordBatch;
    use sipwire::correlate::Config;
    use sipwire::ParseOptions;

    fn invite(i: usize, kind: &str) -> Vec<u8> {
        let body = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\n";
        match kind {
            "invite" => format!(
                "INVITE sip:b@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{i}\r\nFrom: <sip:a@x>;tag=f{i}\r\nTo: <sip:b@y>\r\nCall-ID: c{i}\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            "ok" => format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{i}\r\nFrom: <sip:a@x>;tag=f{i}\r\nTo: <sip:b@y>;tag=t{i}\r\nCall-ID: c{i}\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{}",
                body.len(),
                body.replace("192.0.2.1", "192.0.2.2")
            ),
            _ => format!(
                "BYE sip:a@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKb{i}\r\nFrom: <sip:b@y>;tag=t{i}\r\nTo: <sip:a@x>;tag=f{i}\r\nCall-ID: c{i}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
            ),
        }
        .into_bytes()
    }

    fn feed(stage: &mut CallStage) {
        let ep = |a: [u8; 4]| Endpoint {
            ip: std::net::IpAddr::from(a),
            port: 5060,
        };
        // More calls than a batch holds, spread over several drain periods.
        for i in 0..1000usize {
            for (k, kind) in ["invite", "ok", "bye"].iter().enumerate() {
                let bytes = invite(i, kind);
                let index = MessageIndex::parse_datagram(&bytes, &ParseOptions::LIBERAL).unwrap();
                let seen = Seen {
                    time_ns: (i as i64) * 100_000_000 + (k as i64) * 1_000_000_000,
                    frame: (i * 3 + k) as u64,
                    src: ep([192, 0, 2, 1]),
                    dst: ep([192, 0, 2, 2]),
                    transport: Transport::Udp,
                };
                stage.message(&seen, &bytes, &index);
            }
        }
    }

    fn tables(mut stage: CallStage) -> (RecordBatch, RecordBatch, CallStats) {
        feed(&mut stage);
        let a = stage.get().unwrap();
        a.finish();
        let stats = a.stats.clone();
        (a.calls_batch().unwrap(), a.media_batch().unwrap(), stats)
    }

    #[test]
    fn threaded_equals_inline() {
        let cfg = || Config {
            parse: ParseOptions::LIBERAL,
            ..Config::DEFAULT
        };
        let inline = tables(CallStage::inline(Analysis::new(cfg())));
        let threaded = tables(CallStage::threaded(Analysis::new(cfg())));
        assert_eq!(inline.0.num_rows(), 1000);
        assert!(inline.1.num_rows() >= 1000);
        assert_eq!(inline.0, threaded.0);
        assert_eq!(inline.1, threaded.1);
        assert_eq!(inline.2, threaded.2);
    }

    #[test]
    fn stats_while_threaded() {
        let cfg = Config {
            parse: ParseOptions::LIBERAL,
            ..Config::DEFAULT
        };
        let mut stage = CallStage::threaded(Analysis::new(cfg));
        assert_eq!(stage.stats().calls_done, 0);
        feed(&mut stage);
        // The thread's counters show while it runs (a progress display reads them): the calls
        // of the batches handed over are finished on the capture clock and counted.
        let mut done = 0;
        for _ in 0..1000 {
            done = stage.stats().calls_done;
            if done > 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(done > 0 && stage.worker.is_some());
        let a = stage.get().unwrap();
        a.finish();
        assert_eq!(a.stats.calls_done, 1000);
    }
}
