"""`sipwire analyze` end to end: the command as a user runs it (start-up, the read, the
correlator, the summary), on generated captures of completed calls (``pcapgen.py``: SIPp-like
calls, 7 messages each), with the correlator on its own thread (``--threads 2``) and inline
(``--threads 1``). Reports wall time, SIP messages per second and peak RSS per run.

    python benches/analyze_speed.py [--calls 20000] [--repeats 1,10] [--runs 3] [--rtp]

Each run is a fresh process (``sipwire analyze --quiet``, its summary sent to /dev/null); the
captures are read once before the runs, so they are in the page cache.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


# The command's own entry point, in a fresh interpreter that reports its peak RSS.
CHILD = """
import os, resource, sys
from sipwire.cli import console
sys.stdout = open(os.devnull, "w")
sys.argv = ["sipwire", "analyze", "--quiet", "--threads", sys.argv[1], sys.argv[2]]
rc = console()
sys.stderr.write(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")
sys.exit(rc)
"""


def run_once(path: Path, threads: int) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `sipwire analyze`."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(threads), str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - t0
    return took, int(out.stderr.split()[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--calls", type=int, default=20000, help="calls per repeat (7 messages each)")
    ap.add_argument("--repeats", default="1,10", help="capture sizes, in repeats of the calls")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rtp", action="store_true", help="with each call's RTP both ways")
    ap.add_argument("--json")
    a = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as d:
        for k in (int(x) for x in a.repeats.split(",")):
            path = Path(d) / f"calls-{k}.pcap"
            gen = [sys.executable, str(HERE / "pcapgen.py"), str(path), "--calls", str(a.calls)]
            gen += ["--repeat", str(k)] + (["--rtp"] if a.rtp else [])
            subprocess.run(gen, check=True, capture_output=True)
            with open(path, "rb") as f:  # into the page cache
                while f.read(1 << 24):
                    pass
            messages = 7 * a.calls * k
            for threads in (2, 1):
                runs = [run_once(path, threads) for _ in range(a.runs)]
                secs = [s for s, _ in runs]
                best, median = min(secs), statistics.median(secs)
                r = {
                    "messages": messages,
                    "bytes": path.stat().st_size,
                    "threads": threads,
                    "seconds": secs,
                    "msg_per_s_best": messages / best,
                    "msg_per_s_median": messages / median,
                    "peak_rss_mb": max(m for _, m in runs),
                    "load": os.getloadavg()[0],
                }
                results.append(r)
                print(
                    f"{messages:>10,} messages  --threads {threads}  best {best:6.2f} s "
                    f"({r['msg_per_s_best'] / 1e3:5.0f} k msg/s)  median {median:6.2f} s "
                    f"({r['msg_per_s_median'] / 1e3:5.0f} k msg/s)  peak RSS "
                    f"{r['peak_rss_mb']:6.0f} MB  load {r['load']:.1f}",
                    flush=True,
                )
            path.unlink()
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
