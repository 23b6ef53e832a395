"""Draws the time per message of each library on each message size, from pytest-benchmark's JSON.

    .venv/bin/python benches/plot.py [benches/results/pytest-benchmark.json] [-o PNG]
                                     [--summary benches/results/pytest-benchmark-summary.json]

Reads the "parse + eight fields: <size>" groups (``test_bench_parse.py``): the median of each
case, divided by the messages per call (``parse_batch`` handles 100), grouped by message size,
one bar per library, log scale. Writes ``benches/time_per_message.png`` by default.
``scripts/dev.sh bench`` runs it after the suites.

pytest-benchmark's JSON holds every round's timing (~180 MB for the whole suite), so it is not
committed; ``--summary`` writes the same document without the per-round data (the statistics,
``extra_info``, machine and commit info), which is, and which this script also reads.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
GROUP = "parse + eight fields: "
SIZES = {
    "bye": "BYE, in dialog",
    "invite_1k": "INVITE with SDP",
    "invite_4k": "INVITE via IMS, A/V SDP",
}
# Fastest first as measured; libraries not listed here are drawn after these.
ORDER = (
    "sipwire (shortcuts)",
    "sipwire (objects)",
    "sipwire parse_batch (objects)",
    "sipwire (validated)",
    "split loop",
    "dpkt",
    "sippy",
    "sipmessage",
    "aiosipua",
)
COLORS = {
    "sipwire (shortcuts)": "#08519c",
    "sipwire (objects)": "#3182bd",
    "sipwire parse_batch (objects)": "#6baed6",
    "sipwire (validated)": "#9ecae1",
    "split loop": "#969696",
    "dpkt": "#fd8d3c",
    "sippy": "#e6550d",
    "sipmessage": "#31a354",
    "aiosipua": "#756bb1",
}


def per_message(path: Path) -> tuple[dict[str, dict[str, float]], dict[str, int], dict[str, Any]]:
    """{library: {size: median µs per message}}, {size: bytes}, and the run's machine info."""
    doc = json.loads(path.read_text())
    times: dict[str, dict[str, float]] = {}
    nbytes: dict[str, int] = {}
    for b in doc["benchmarks"]:
        if not (b.get("group") or "").startswith(GROUP):
            continue
        info = b.get("extra_info") or {}
        lib, size = info.get("library"), info.get("size")
        if lib is None or size is None:
            continue
        per = b["stats"]["median"] / info.get("messages", 1)
        times.setdefault(lib, {})[size] = per * 1e6
        nbytes[size] = info.get("bytes", 0)
    if not times:
        raise SystemExit(f"{path}: no '{GROUP}<size>' benchmarks with extra_info")
    return times, nbytes, doc


def summarize(path: Path, out: Path) -> None:
    """Writes the JSON without each benchmark's per-round timings (``stats.data``)."""
    doc = json.loads(path.read_text())
    for b in doc["benchmarks"]:
        b.get("stats", {}).pop("data", None)
    out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out}")


def draw(path: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times, nbytes, doc = per_message(path)
    libs = [lib for lib in ORDER if lib in times] + sorted(set(times) - set(ORDER))
    sizes = [s for s in SIZES if any(s in times[lib] for lib in libs)]
    width = 0.84 / len(libs)
    fig, ax = plt.subplots(figsize=(12, 6.2), dpi=110)
    for i, lib in enumerate(libs):
        xs, ys = [], []
        for j, size in enumerate(sizes):
            if size in times[lib]:
                xs.append(j - 0.42 + width * (i + 0.5))
                ys.append(times[lib][size])
        bars = ax.bar(xs, ys, width * 0.92, label=lib, color=COLORS.get(lib, "#bdbdbd"))
        for bar, y in zip(bars, ys):
            ax.annotate(
                f"{y:.1f}" if y < 10 else f"{y:.0f}",
                (bar.get_x() + bar.get_width() / 2, y),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7.5,
            )
    ax.set_yscale("log")
    ax.set_ylim(0.5, max(max(t.values()) for t in times.values()) * 2.2)
    ax.set_xticks(range(len(sizes)))
    ax.set_xticklabels([f"{SIZES[s]}\n{nbytes.get(s, 0)} bytes" for s in sizes], fontsize=10)
    ax.set_ylabel("µs per message (median, log scale)")
    ax.grid(axis="y", which="both", alpha=0.25)
    ax.set_axisbelow(True)
    ax.legend(ncol=3, fontsize=8.5, loc="upper left", frameon=False)
    machine = doc.get("machine_info", {})
    cpu = (machine.get("cpu") or {}).get("brand_raw") or machine.get("processor") or "?"
    ax.set_title(
        "Parse a SIP message and read eight fields, from Python\n"
        f"{cpu}, {(machine.get('cpu') or {}).get('count', '?')} CPUs, "
        f"{machine.get('python_implementation', '')} {machine.get('python_version', '')}, "
        f"{doc.get('datetime', '')[:16].replace('T', ' ')} UTC; one run, a shared VM",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(out)
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("json", nargs="?", default=str(HERE / "results" / "pytest-benchmark.json"))
    ap.add_argument("-o", "--out", default=str(HERE / "time_per_message.png"))
    ap.add_argument("--summary", help="also write the JSON without per-round data to this file")
    args = ap.parse_args()
    if args.summary:
        summarize(Path(args.json), Path(args.summary))
    draw(Path(args.json), Path(args.out))


if __name__ == "__main__":
    main()
