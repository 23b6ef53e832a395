//! A read of one or more captures into one pipeline, so a TCP stream or a fragmented
//! datagram that crosses a file boundary (rotated captures) is still whole.
//!
//! Several capture files are **merged by time**, as `mergecap` merges them: rotated files
//! given in any order, and the files of several probes that overlap in time, are read as the
//! one capture they together make, so the capture clock never runs backwards at a file
//! boundary (the correlator finishes calls on that clock). The merge order is a total order
//! on records that each file's own records decide: a record's key is (the latest time of its
//! file up to and including it, the rank of its file's path among the paths, its frame).
//! Within one file the keys grow, so the merge keeps each file's own order (a file whose
//! packets are out of time order is read as written), and the same files give the same
//! sequence whatever order they were given in. The distributed engines sort by the same key
//! (engine.rs) to replay exactly this read.
//!
//! Files are opened when the merge reaches their first record (each is peeked once, up front,
//! for its first time), so a set of thousands of rotated files holds open only those that
//! overlap in time, at most [`MAX_OPEN_FILES`]. A file named `-` (stdin) or a file object
//! cannot be peeked and reopened: a read with one is sequential, sources one after another.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;

use crate::pipeline::{Options, Pipeline};
use crate::records::{RecordReader, RecordStats};
use crate::source::{open_path, OpenError};
use crate::stats::Stats;
use crate::types::Record;

/// Where capture bytes come from.
pub enum Source {
    Path(PathBuf),
    Reader(Box<dyn Read + Send>),
}

/// Files of a merged read open at once; a file due when this many are open waits for one to
/// end (counted in `files_merged_late`).
pub const MAX_OPEN_FILES: usize = 256;

/// The text of the `file` column for a path.
pub fn file_name(p: &std::path::Path) -> Arc<str> {
    p.to_string_lossy().into()
}

/// A read in progress.
pub struct CaptureRead {
    sources: VecDeque<Source>,
    current: Option<RecordReader>,
    merge: Option<Merge>,
    pipeline: Pipeline,
    records: RecordStats,
    opts: Options,
    finished: bool,
    /// An error met reading ahead ([`CaptureRead::read_ahead`]), for `next_batch` to return
    /// after the batches read before it: where a read batch by batch would have met it.
    deferred: Option<ReadError>,
    /// Set from any thread to end the read where it is ([`CaptureRead::stop_flag`]).
    stop: Arc<AtomicBool>,
    /// The counters as of the last step, for a reader of them that must not wait for a step
    /// blocked on its input (a live pipe gone quiet).
    published: Arc<Mutex<Stats>>,
}

impl CaptureRead {
    pub fn new(sources: Vec<Source>, opts: Options) -> Self {
        let mergeable = sources.len() > 1
            && sources
                .iter()
                .all(|s| matches!(s, Source::Path(p) if p.as_os_str() != "-"));
        let (sources, merge) = if mergeable {
            let paths = sources
                .into_iter()
                .filter_map(|s| match s {
                    Source::Path(p) => Some(p),
                    Source::Reader(_) => None,
                })
                .collect();
            (VecDeque::new(), Some(Merge::new(paths)))
        } else {
            (sources.into(), None)
        };
        CaptureRead {
            sources,
            current: None,
            merge,
            pipeline: Pipeline::new(opts),
            records: RecordStats::default(),
            opts,
            finished: false,
            deferred: None,
            stop: Arc::new(AtomicBool::new(false)),
            published: Arc::new(Mutex::new(Stats::default())),
        }
    }

    /// A flag that ends the read at its next step, as if the input ended there: what was read
    /// is finished (calls, streams, batches) and the rest is not read. For an interrupt.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// The counters as of the last step, shared: readable while a step waits on its input.
    pub fn published_stats(&self) -> Arc<Mutex<Stats>> {
        self.published.clone()
    }

    pub fn schema(&self) -> arrow_schema::SchemaRef {
        self.pipeline.schema()
    }

    /// Runs the pipeline until a batch of `messages` is ready; `None` at the end of the last
    /// source. An input that is not a capture stops the read with its error.
    pub fn next_batch(&mut self) -> Option<Result<RecordBatch, ReadError>> {
        loop {
            if let Some(b) = self.pipeline.take_batch() {
                return Some(b.map_err(ReadError::Arrow));
            }
            if self.finished {
                return self.deferred.take().map(Err);
            }
            if let Err(e) = self.step() {
                self.finished = true;
                return Some(Err(e));
            }
        }
    }

    /// Reads up to a few thousand records (or opens the next source), then publishes the
    /// counters.
    fn step(&mut self) -> Result<(), ReadError> {
        let r = self.step_inner();
        publish(&self.published, &self.pipeline, &self.records);
        r
    }

    fn step_inner(&mut self) -> Result<(), ReadError> {
        if self.stop.load(std::sync::atomic::Ordering::Relaxed) {
            self.sources.clear();
            self.current = None;
            self.merge = None;
            self.pipeline.finish();
            self.finished = true;
            return Ok(());
        }
        if let Some(m) = self.merge.as_mut() {
            let done = m.step(&mut self.pipeline, &mut self.records, self.opts.limits)?;
            if done {
                self.pipeline.finish();
                self.finished = true;
            }
            return Ok(());
        }
        let Some(reader) = self.current.as_mut() else {
            match self.sources.pop_front() {
                None => {
                    self.pipeline.finish();
                    self.finished = true;
                }
                Some(src) => {
                    let r = match src {
                        Source::Path(p) => {
                            let stdin = p.as_os_str() == "-";
                            self.pipeline.set_file((!stdin).then(|| file_name(&p)));
                            open_path(&p)?
                        }
                        Source::Reader(r) => {
                            self.pipeline.set_file(None);
                            r
                        }
                    };
                    self.current = Some(RecordReader::new(r, self.opts.limits)?);
                }
            }
            return Ok(());
        };
        for i in 0..4096u32 {
            match reader.next_record(&mut self.records) {
                Some(rec) => self.pipeline.record(&rec),
                None => {
                    self.current = None;
                    return Ok(());
                }
            }
            if self.pipeline.ready() > 0 {
                break;
            }
            if i % 64 == 63 {
                // The next record may wait on a quiet input (a live pipe): what was read so
                // far is in the counters a progress display reads meanwhile, and a stop
                // asked meanwhile is seen within 64 records of the input going on.
                publish(&self.published, &self.pipeline, &self.records);
                if self.stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Reads every remaining source; the batches wait in the pipeline for
    /// [`CaptureRead::next_batch`].
    pub fn read_to_end(&mut self) -> Result<(), ReadError> {
        while !self.read_some(usize::MAX)? {}
        Ok(())
    }

    /// Reads on for at most `steps` steps of a few thousand records each; true once the
    /// input is finished. A caller that shares the read (a progress display reading the
    /// counters) takes it in such slices.
    pub fn read_some(&mut self, steps: usize) -> Result<bool, ReadError> {
        for _ in 0..steps {
            if self.finished {
                if let Some(e) = self.deferred.take() {
                    return Err(e);
                }
                break;
            }
            self.step().inspect_err(|_| self.finished = true)?;
        }
        Ok(self.finished)
    }

    /// Reads until `batches` `messages` batches wait to be taken, or the input ends. For a
    /// caller with other work to do before it pulls the batches (on another thread, the
    /// read's lock released between steps): the two overlap. An error is kept for
    /// `next_batch`, which returns it after the batches read before it.
    pub fn read_ahead(&mut self, batches: usize) {
        while !self.finished && self.pipeline.ready() < batches {
            if let Err(e) = self.step() {
                self.finished = true;
                self.deferred = Some(e);
            }
        }
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The pipeline, for the RTP tables once the read is finished.
    pub fn pipeline_mut(&mut self) -> &mut Pipeline {
        &mut self.pipeline
    }

    /// Every counter so far.
    pub fn stats(&self) -> Stats {
        stats_of(&self.pipeline, &self.records)
    }
}

fn stats_of(pipeline: &Pipeline, records: &RecordStats) -> Stats {
    let mut s = pipeline.stats();
    s.records = records.clone();
    s
}

/// The counters now, for [`CaptureRead::published_stats`].
fn publish(to: &Mutex<Stats>, pipeline: &Pipeline, records: &RecordStats) {
    let now = stats_of(pipeline, records);
    *to.lock().unwrap_or_else(|p| p.into_inner()) = now;
}

/// A record copied out of its reader's buffer, to wait in the merge.
struct Head {
    frame: u64,
    time_ns: i64,
    linktype: u32,
    data: Vec<u8>,
    orig_len: u32,
}

/// A file of a merged read, not opened yet.
struct Due {
    path: PathBuf,
    rank: usize,
    /// Time of its first record (`i64::MIN` for a file with none: opened first, to count its
    /// damage and end at once).
    first: i64,
}

/// An open file of a merged read and its next record.
struct Open {
    reader: RecordReader,
    name: Arc<str>,
    rank: usize,
    /// The latest time of this file so far, its next record's included.
    clock: i64,
    head: Head,
}

impl Open {
    fn key(&self) -> (i64, usize, u64) {
        (self.clock, self.rank, self.head.frame)
    }

    /// Moves to the next record; false at the end of the file.
    fn advance(&mut self, stats: &mut RecordStats) -> bool {
        let Some(r) = self.reader.next_record(stats) else {
            return false;
        };
        self.head.frame = r.frame;
        self.head.time_ns = r.time_ns;
        self.head.linktype = r.linktype;
        self.head.orig_len = r.orig_len;
        self.head.data.clear();
        self.head.data.extend_from_slice(r.data);
        self.clock = self.clock.max(r.time_ns);
        true
    }
}

/// The k-way merge of several capture files (see the module documentation).
struct Merge {
    paths: Vec<PathBuf>,
    /// Files not opened yet, by (first time, rank); filled on the first step.
    due: VecDeque<Due>,
    open: Vec<Open>,
    peeked: bool,
    /// Rank of the file whose record the pipeline saw last.
    last_rank: Option<usize>,
}

impl Merge {
    fn new(paths: Vec<PathBuf>) -> Self {
        Merge {
            paths,
            due: VecDeque::new(),
            open: Vec::new(),
            peeked: false,
            last_rank: None,
        }
    }

    /// Ranks the files by path and peeks at each one's first record time.
    fn peek(&mut self, limits: crate::CaptureLimits) -> Result<(), ReadError> {
        let mut order: Vec<usize> = (0..self.paths.len()).collect();
        // Equal paths keep the order given (the same file twice is read twice).
        let names: Vec<Arc<str>> = self.paths.iter().map(|p| file_name(p)).collect();
        order.sort_by(|&a, &b| names.get(a).cmp(&names.get(b)));
        let mut due = Vec::with_capacity(order.len());
        for (rank, i) in order.into_iter().enumerate() {
            let Some(path) = self.paths.get(i).cloned() else {
                continue;
            };
            let mut scratch = RecordStats::default();
            // As a sequential read's, the error names no path (the caller knows its inputs).
            let mut r = RecordReader::new(open_path(&path)?, limits)?;
            let first = r
                .next_record(&mut scratch)
                .map_or(i64::MIN, |rec: Record<'_>| rec.time_ns);
            due.push(Due { path, rank, first });
        }
        due.sort_by_key(|d| (d.first, d.rank));
        self.due = due.into();
        self.peeked = true;
        Ok(())
    }

    /// The open file holding the smallest key.
    fn next_open(&self) -> Option<usize> {
        self.open
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.key().cmp(&b.1.key()))
            .map(|(i, _)| i)
    }

    /// Opens the files whose first record comes before every open file's next one.
    fn open_due(
        &mut self,
        records: &mut RecordStats,
        limits: crate::CaptureLimits,
    ) -> Result<(), ReadError> {
        while let Some(d) = self.due.front() {
            let before_all = match self.next_open().and_then(|i| self.open.get(i)) {
                None => true,
                Some(o) => (d.first, d.rank).cmp(&(o.clock, o.rank)) != Ordering::Greater,
            };
            if !before_all {
                break;
            }
            if self.open.len() >= MAX_OPEN_FILES {
                // It waits for a file to end; its records then come late.
                records.files_merged_late += 1;
                break;
            }
            let Some(d) = self.due.pop_front() else {
                break;
            };
            let mut o = Open {
                reader: RecordReader::new(open_path(&d.path)?, limits)?,
                name: file_name(&d.path),
                rank: d.rank,
                clock: i64::MIN,
                head: Head {
                    frame: 0,
                    time_ns: 0,
                    linktype: 0,
                    data: Vec::new(),
                    orig_len: 0,
                },
            };
            if o.advance(records) {
                self.open.push(o);
            }
        }
        Ok(())
    }

    /// Feeds up to a few thousand records in merge order; true once every file is read.
    fn step(
        &mut self,
        pipeline: &mut Pipeline,
        records: &mut RecordStats,
        limits: crate::CaptureLimits,
    ) -> Result<bool, ReadError> {
        if !self.peeked {
            self.peek(limits)?;
        }
        for _ in 0..4096 {
            self.open_due(records, limits)?;
            let Some(i) = self.next_open() else {
                if self.due.is_empty() {
                    return Ok(true);
                }
                continue;
            };
            let Some(o) = self.open.get_mut(i) else {
                return Ok(true);
            };
            if self.last_rank != Some(o.rank) {
                self.last_rank = Some(o.rank);
                pipeline.set_file(Some(o.name.clone()));
            }
            let rec = Record {
                frame: o.head.frame,
                time_ns: o.head.time_ns,
                linktype: o.head.linktype,
                data: &o.head.data,
                orig_len: o.head.orig_len,
            };
            pipeline.record(&rec);
            if !o.advance(records) {
                self.open.swap_remove(i);
            }
            if pipeline.ready() > 0 {
                break;
            }
        }
        Ok(self.open.is_empty() && self.due.is_empty())
    }
}

/// Why a read stopped.
#[derive(Debug)]
pub enum ReadError {
    /// A source could not be opened or is not a capture (the caller's input).
    Open(OpenError),
    Arrow(ArrowError),
}

impl From<OpenError> for ReadError {
    fn from(e: OpenError) -> Self {
        ReadError::Open(e)
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Open(e) => e.fmt(f),
            ReadError::Arrow(e) => write!(f, "building the table: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}
