"""python -m tests.capgen DIR: writes every test capture to DIR and lists what each holds."""

from __future__ import annotations

import sys
from pathlib import Path

from . import write_all

if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "captures")
    for name, exp in write_all(out).items():
        size = exp.path.stat().st_size
        print(
            f"{name:18} {exp.path.name:22} {size:6} B  {exp.records:3} records  {len(exp.rows):3} messages"
        )
