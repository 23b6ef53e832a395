//! A read of one or more captures: sources opened one after another into one pipeline, so a
//! TCP stream or a fragmented datagram that crosses a file boundary (rotated captures) is
//! still whole.

use std::collections::VecDeque;
use std::io::Read;
use std::path::PathBuf;

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;

use crate::pipeline::{Options, Pipeline};
use crate::records::{RecordReader, RecordStats};
use crate::source::{open_path, OpenError};
use crate::stats::Stats;

/// Where capture bytes come from.
pub enum Source {
    Path(PathBuf),
    Reader(Box<dyn Read + Send>),
}

/// A read in progress.
pub struct CaptureRead {
    sources: VecDeque<Source>,
    current: Option<RecordReader>,
    pipeline: Pipeline,
    records: RecordStats,
    opts: Options,
    finished: bool,
}

impl CaptureRead {
    pub fn new(sources: Vec<Source>, opts: Options) -> Self {
        CaptureRead {
            sources: sources.into(),
            current: None,
            pipeline: Pipeline::new(opts),
            records: RecordStats::default(),
            opts,
            finished: false,
        }
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
                return None;
            }
            if let Err(e) = self.step() {
                self.finished = true;
                return Some(Err(e));
            }
        }
    }

    /// Reads up to a few thousand records (or opens the next source).
    fn step(&mut self) -> Result<(), ReadError> {
        let Some(reader) = self.current.as_mut() else {
            match self.sources.pop_front() {
                None => {
                    self.pipeline.finish();
                    self.finished = true;
                }
                Some(src) => {
                    let r = match src {
                        Source::Path(p) => open_path(&p)?,
                        Source::Reader(r) => r,
                    };
                    self.current = Some(RecordReader::new(r, self.opts.limits)?);
                }
            }
            return Ok(());
        };
        for _ in 0..4096 {
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
                break;
            }
            self.step().inspect_err(|_| self.finished = true)?;
        }
        Ok(self.finished)
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
        let mut s = self.pipeline.stats();
        s.records = self.records.clone();
        s
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
