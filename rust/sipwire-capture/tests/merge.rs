//! Several capture files read as one: merged by time whatever the order given (read.rs), and
//! the engines' stage one placing each event where that merged read has it (engine.rs).

use std::path::{Path, PathBuf};

use arrow_array::{Array, StringArray, TimestampNanosecondArray, UInt64Array};
use sipwire_capture::engine::EngineRead;
use sipwire_capture::pipeline::Options;
use sipwire_capture::read::{CaptureRead, Source};

/// Raw IPv4 (LINKTYPE_RAW 101) + UDP around `payload`.
fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
    let total = 20 + 8 + payload.len();
    let mut p = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0,
        0,
        64,
        17,
        0,
        0,
    ];
    p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    let udp = 8 + payload.len();
    p.extend_from_slice(&[0x13, 0xc4, 0x13, 0xc4, (udp >> 8) as u8, udp as u8, 0, 0]);
    p.extend_from_slice(payload);
    p
}

fn sip(n: u32) -> Vec<u8> {
    format!(
        "OPTIONS sip:b@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK{n}\r\n\
         From: <sip:a@10.0.0.1>;tag=a{n}\r\nTo: <sip:b@10.0.0.2>\r\nCall-ID: c{n}\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// A classic pcap (µs, little-endian, raw IP) of SIP datagrams at `times` (µs).
fn write_pcap(path: &Path, times: &[u32]) {
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32.to_le_bytes(), [2, 0, 4, 0]] {
        out.extend_from_slice(&v);
    }
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&101u32.to_le_bytes());
    for &t in times {
        let frame = ipv4_udp(&sip(t));
        for v in [1_700_000_000u32, t, frame.len() as u32, frame.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&frame);
    }
    std::fs::write(path, out).unwrap();
}

/// (time, file, frame) of every row of a read of `paths` in that order.
fn rows(paths: &[PathBuf]) -> Vec<(i64, String, u64)> {
    let srcs = paths.iter().cloned().map(Source::Path).collect();
    let mut read = CaptureRead::new(srcs, Options::default());
    let mut out = Vec::new();
    while let Some(b) = read.next_batch() {
        let b = b.unwrap();
        let t = b.column_by_name("time").unwrap();
        let t = t
            .as_any()
            .downcast_ref::<TimestampNanosecondArray>()
            .unwrap();
        let f = b.column_by_name("file").unwrap();
        let f = f.as_any().downcast_ref::<StringArray>().unwrap();
        let n = b.column_by_name("frame").unwrap();
        let n = n.as_any().downcast_ref::<UInt64Array>().unwrap();
        for i in 0..b.num_rows() {
            out.push((t.value(i), f.value(i).to_string(), n.value(i)));
        }
    }
    out
}

fn set() -> (tempfile_dir::Dir, Vec<PathBuf>) {
    let dir = tempfile_dir::Dir::new("merge");
    let a = dir.0.join("a.pcap");
    let b = dir.0.join("b.pcap");
    let c = dir.0.join("c.pcap");
    // Two overlapping probes and a later rotation; b is internally out of order.
    write_pcap(&a, &[100, 300, 500]);
    write_pcap(&b, &[200, 150, 400, 600]);
    write_pcap(&c, &[700, 800]);
    (dir, vec![a, b, c])
}

#[test]
fn files_are_merged_by_time_in_any_order() {
    let (_dir, p) = set();
    let want = rows(&p);
    for order in [[2, 1, 0], [1, 2, 0], [0, 2, 1]] {
        let paths: Vec<PathBuf> = order.iter().map(|&i| p[i].clone()).collect();
        assert_eq!(rows(&paths), want);
    }
    let times: Vec<i64> = want.iter().map(|r| (r.0 / 1000) % 1_000_000).collect();
    // b's 150 comes after its 200 (a file is read in its own order), merged with a's.
    assert_eq!(times, vec![100, 200, 150, 300, 400, 500, 600, 700, 800]);
    let b = p[1].to_string_lossy().to_string();
    let frames: Vec<u64> = want.iter().filter(|r| r.1 == b).map(|r| r.2).collect();
    assert_eq!(frames, vec![1, 2, 3, 4]);
}

#[test]
fn engine_places_sort_into_the_merged_order() {
    let (_dir, p) = set();
    let want = rows(&p);
    let mut names: Vec<String> = p.iter().map(|x| x.to_string_lossy().to_string()).collect();
    names.sort();
    let mut events = Vec::new();
    for path in &p {
        let name = path.to_string_lossy().to_string();
        let rank = names.iter().position(|n| *n == name).unwrap() as u32;
        let mut r = EngineRead::new(
            Source::Path(path.clone()),
            Some(name.as_str().into()),
            rank,
            Options::default(),
        );
        while let Some(b) = r.next_batch() {
            let b = b.unwrap();
            let col = |n: &str| b.column_by_name(n).unwrap().clone();
            let clock = col("_clock");
            let clock = clock
                .as_any()
                .downcast_ref::<arrow_array::Int64Array>()
                .unwrap();
            let seq = col("_seq");
            let seq = seq.as_any().downcast_ref::<UInt64Array>().unwrap();
            let t = col("time");
            let t = t
                .as_any()
                .downcast_ref::<TimestampNanosecondArray>()
                .unwrap();
            let frame = col("frame");
            let frame = frame.as_any().downcast_ref::<UInt64Array>().unwrap();
            for i in 0..b.num_rows() {
                events.push((
                    (clock.value(i), rank, seq.value(i)),
                    (t.value(i), name.clone(), frame.value(i)),
                ));
            }
        }
    }
    events.sort();
    let got: Vec<(i64, String, u64)> = events.into_iter().map(|e| e.1).collect();
    assert_eq!(got, want);
}

/// A temporary directory removed on drop (no dev-dependency needed).
mod tempfile_dir {
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let p = std::env::temp_dir().join(format!(
                "sipwire-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
