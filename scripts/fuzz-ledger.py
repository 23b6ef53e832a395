"""The fuzzing ledger of rust/fuzz/README.md (used by scripts/fuzz-campaign.sh).

fuzz-ledger.py modules < llvm-cov-report    -> "total parser framing txn dialog" (% lines)
fuzz-ledger.py append README DATE TARGET SECONDS INPUTS EXEC_S FINDS CORPUS TOTAL PARSER
               FRAMING TXN DIALOG           -> a row added, the totals recomputed
"""

import re
import sys
from pathlib import Path

LEDGER = ("<!-- ledger -->", "<!-- /ledger -->")
TOTALS = ("<!-- totals -->", "<!-- /totals -->")
HEADER = (
    "| date | target | seconds | inputs | exec/s | finds | kept corpus | lines | parser "
    "| framing | txn | dialog |\n"
    "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n"
)

# Modules of the core crate (rust/sipwire/src), by path.
MODULES = {
    "parser": re.compile(r"sipwire/src/(message/(?!framing)[^/]+|header/[^/]+|uri|scan)\.rs$"),
    "framing": re.compile(r"sipwire/src/message/framing\.rs$"),
    "txn": re.compile(r"sipwire/src/txn/[^/]+\.rs$"),
    "dialog": re.compile(r"sipwire/src/dialog/[^/]+\.rs$"),
}


def pct(hit: int, total: int) -> str:
    return f"{100.0 * hit / total:.1f}%" if total else "-"


def modules() -> None:
    """Line coverage from `llvm-cov report`: every file, and the four modules."""
    sums = {k: [0, 0] for k in ["total", *MODULES]}
    for line in sys.stdin:
        parts = line.split()
        # Filename, Regions, Missed, Cover, Functions, Missed, Executed, Lines, Missed, ...
        if len(parts) < 10 or not parts[0].endswith(".rs") or not parts[7].isdigit():
            continue
        lines, missed = int(parts[7]), int(parts[8])
        keys = ["total"] + [k for k, rx in MODULES.items() if rx.search(parts[0])]
        for k in keys:
            sums[k][0] += lines - missed
            sums[k][1] += lines
    print(" ".join(pct(*sums[k]) for k in ["total", *MODULES]))


def block(text: str, marks: tuple[str, str]) -> tuple[int, int]:
    a, b = text.find(marks[0]), text.find(marks[1])
    if a < 0 or b < a:
        raise SystemExit(f"README: no {marks[0]} ... {marks[1]} block")
    return a + len(marks[0]), b


def append(readme: Path, row: list[str]) -> None:
    text = readme.read_text()
    a, b = block(text, LEDGER)
    body = text[a:b].strip("\n")
    if not body:
        body = HEADER.rstrip("\n")
    body += "\n| " + " | ".join(row) + " |"
    text = text[:a] + "\n" + body + "\n" + text[b:]
    # Totals per target from every row of the ledger.
    tot: dict[str, list[int]] = {}
    for line in body.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 6:
            continue
        t = tot.setdefault(cells[1], [0, 0, 0, 0])
        t[0] += 1
        t[1] += int(cells[2].replace(",", "") or 0)
        t[2] += int(cells[3].replace(",", "") or 0)
        t[3] += int(cells[5] or 0)
    lines = [
        "| target | runs | seconds | hours | inputs | finds |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in sorted(tot):
        n, s, i, f = tot[name]
        lines.append(f"| {name} | {n} | {s:,} | {s / 3600:.2f} | {i:,} | {f} |")
    a, b = block(text, TOTALS)
    text = text[:a] + "\n" + "\n".join(lines) + "\n" + text[b:]
    readme.write_text(text)


def main() -> None:
    if sys.argv[1:2] == ["modules"]:
        modules()
    elif sys.argv[1:2] == ["append"] and len(sys.argv) == 15:
        row = sys.argv[3:]
        for i in (2, 3, 4):  # seconds, inputs, exec/s with thousands separators
            if row[i].isdigit():
                row[i] = f"{int(row[i]):,}"
        append(Path(sys.argv[2]), row)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
