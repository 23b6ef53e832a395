//! Reads a capture through the whole pipeline and prints the rows and the rate: a profiling
//! harness (`perf record`), not a benchmark.
//!
//!     cargo run --release -p sipwire-capture --example read_capture -- FILE [--no-rtp] [--calls [--calls-thread]]

use std::path::PathBuf;
use std::time::Instant;

use sipwire_capture::pipeline::Options;
use sipwire_capture::read::{CaptureRead, Source};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: read_capture FILE [--no-rtp] [--calls [--calls-thread]]");
        std::process::exit(2);
    };
    let opts = Options {
        rtp: !args.iter().any(|a| a == "--no-rtp"),
        calls: args.iter().any(|a| a == "--calls"),
        calls_thread: args.iter().any(|a| a == "--calls-thread"),
        ..Options::default()
    };
    for _ in 0..3 {
        let t0 = Instant::now();
        let mut read = CaptureRead::new(vec![Source::Path(PathBuf::from(path))], opts);
        let mut rows = 0usize;
        while let Some(b) = read.next_batch() {
            match b {
                Ok(b) => rows += b.num_rows(),
                Err(e) => {
                    eprintln!("{e}");
                    std::process::exit(1);
                }
            }
        }
        let _ = read.pipeline_mut().rtp_rows();
        if let Some(a) = read.pipeline_mut().analysis_mut() {
            let calls = a.calls_batch().map(|b| b.num_rows()).unwrap_or(0);
            eprintln!("{calls} calls");
        }
        let s = t0.elapsed().as_secs_f64();
        println!(
            "{rows} rows in {s:.3} s: {:.0} k rows/s",
            rows as f64 / s / 1e3
        );
    }
}
