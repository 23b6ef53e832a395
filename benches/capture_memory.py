"""Peak memory of reading a capture: bounded by open flows and calls, not by the file's size.

Writes generated SIP+RTP captures (``pcapgen.py``) of increasing size, reads each in a fresh
process through ``sipwire.capture.read`` (messages streamed batch by batch and dropped, as a
monitor or a Parquet writer would, then the RTP tables), and reports peak RSS per size.

    python benches/capture_memory.py [--repeats 2,20] [--calls 2000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = """
import resource, sys, time
import pyarrow as pa
import sipwire.capture
t0 = time.perf_counter()
cap = sipwire.capture.read(sys.argv[1])
rows = 0
for batch in pa.RecordBatchReader.from_stream(cap.messages):
    rows += batch.num_rows
streams = pa.table(cap.rtp_streams).num_rows
took = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(rows, streams, cap.stats["records"], took, rss)
"""


def measure(path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], check=True, capture_output=True, text=True
    ).stdout.split()
    rows, streams, records, took, rss_kb = (
        int(out[0]),
        int(out[1]),
        int(out[2]),
        float(out[3]),
        int(out[4]),
    )
    return {
        "bytes": path.stat().st_size,
        "messages": rows,
        "rtp_streams": streams,
        "packets": records,
        "seconds": took,
        "packets_per_s": records / took,
        "peak_rss_mb": rss_kb / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeats", default="2,20")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--json")
    a = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as d:
        for k in (int(x) for x in a.repeats.split(",")):
            path = Path(d) / f"mixed-{k}.pcap"
            subprocess.run(
                [sys.executable, str(HERE / "pcapgen.py"), str(path), "--calls", str(a.calls),
                 "--rtp", "--repeat", str(k)],
                check=True, capture_output=True,
            )  # fmt: skip
            r = measure(path)
            results.append(r)
            print(
                f"{r['bytes'] / 1e9:6.2f} GB  {r['packets']:>10,} packets  {r['messages']:>9,} SIP  "
                f"{r['rtp_streams']:>7,} streams  {r['packets_per_s'] / 1e6:5.2f} M pkt/s  "
                f"peak RSS {r['peak_rss_mb']:7.1f} MB",
                flush=True,
            )
            path.unlink()
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
