"""Reads the bundled capture into tables: SIP messages, RTP streams and DTMF digits.

python examples/read_capture.py [CAPTURE]
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa

import sipwire.capture

path = sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).with_name("calls.pcapng"))
cap = sipwire.capture.read(path)
messages = pa.table(cap.messages)
streams = pa.table(cap.rtp_streams)
dtmf = pa.table(cap.dtmf)

print(f"{messages.num_rows} SIP messages, {len(set(messages['call_id'].to_pylist()))} Call-IDs")
for row in messages.select(["time", "src_ip", "dst_ip", "method", "status", "call_id"]).to_pylist()[
    :10
]:
    what = row["method"] or row["status"]
    print(
        f"  {row['time']:%H:%M:%S.%f}  {row['src_ip']:>15} -> {row['dst_ip']:<15} "
        f"{what!s:<8} {row['call_id']}"
    )
print(f"{streams.num_rows} RTP streams")
for s in streams.to_pylist():
    print(
        f"  {s['src_ip']}:{s['src_port']} -> {s['dst_ip']}:{s['dst_port']} {s['codec']} "
        f"packets={s['packets']} lost={s['lost']} max_jitter={s['max_jitter_ms']:.2f} ms"
    )
print("DTMF:", "".join(d["digit"] or "?" for d in dtmf.to_pylist()) or "none")
errors = {k: v for k, v in cap.stats.items() if v and ("error" in k or "truncated" in k)}
print("problems counted:", errors or "none")
