"""Throughput of the distributed engines on this machine: a generated set of rotated SIP+RTP
captures analysed by one merged read (``sipwire.capture.analyze``, one core) and by Ray, Spark
and Dask with 1 and 2 workers. Each run is a fresh process (an engine's start-up is reported
apart from the job). Not a pytest benchmark: engines start clusters.

    python benches/engines.py [--calls 1000] [--files 6] [--engines local,ray,spark,dask]
                              [--workers 1,2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CHILD = r"""
import json, os, sys, time
engine, workers, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
if engine == "ray":
    import ray, ray.data
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
             logging_level="error")
    ray.data.DataContext.get_current().enable_progress_bars = False
    import sipwire.capture.ray as mod
elif engine == "spark":
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    spark = (SparkSession.builder.master(f"local[{workers}]")
             .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "4g")
             .config("spark.sql.shuffle.partitions", str(2 * workers)).getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    import sipwire.capture.spark as mod
elif engine == "dask":
    import dask
    dask.config.set(scheduler="threads",
                    num_workers=workers)
    import sipwire.capture.dask as mod
start = time.perf_counter() - t0
t1 = time.perf_counter()
if engine == "local":
    import pyarrow as pa
    import sipwire.capture
    from sipwire.capture import _engine
    a = sipwire.capture.analyze(_engine.expand(directory)).finish()
    calls = pa.table(a.calls).num_rows
    streams = pa.table(a.rtp_streams).num_rows
    stats = a.stats
else:
    a = mod.analyze(directory)
    calls = a.to_arrow("calls").num_rows
    streams = a.to_arrow("rtp_streams").num_rows
    stats = a.stats
job = time.perf_counter() - t1
print(json.dumps({"start_s": start, "job_s": job, "calls": calls, "rtp_streams": streams,
                  "records": stats.get("records"), "bytes": stats.get("bytes"),
                  "sip_messages": stats.get("sip_messages")}))
"""


def write_set(directory: Path, calls: int, files: int) -> int:
    import pcapgen

    total = 0
    for k in range(files):
        # Each file one rotation: the calls shifted in time and Call-ID (pcapgen --repeat).
        with open(directory / f"cap-{k:03d}.pcap", "wb") as f:
            total += pcapgen.write_pcap(f, pcapgen.packets(calls, True, shift=k))
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=1000, help="calls per file")
    ap.add_argument("--files", type=int, default=6)
    ap.add_argument("--engines", default="local,ray,spark,dask")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        frames = write_set(d, a.calls, a.files)
        size = sum(p.stat().st_size for p in d.iterdir())
        print(f"{a.files} files, {frames:,} frames, {size / 1e6:.0f} MB", file=sys.stderr)
        for engine in a.engines.split(","):
            for w in [1] if engine == "local" else [int(x) for x in a.workers.split(",")]:
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, engine, str(w), str(d)],
                    capture_output=True,
                    text=True,
                    env={**os.environ, "RAY_DEDUP_LOGS": "0"},
                )
                if out.returncode != 0:
                    print(f"{engine} x{w}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                r.update(engine=engine, workers=w, files=a.files, frames=frames, size=size)
                r["mb_s"] = size / 1e6 / r["job_s"]
                r["frames_s"] = frames / r["job_s"]
                results.append(r)
                print(
                    f"{engine:6} x{w}: start {r['start_s']:5.1f} s, job {r['job_s']:6.1f} s, "
                    f"{r['mb_s']:6.1f} MB/s, {r['frames_s']:10,.0f} frames/s, "
                    f"{r['calls']} calls, {r['rtp_streams']} streams",
                    file=sys.stderr,
                )
    if a.json:
        a.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
