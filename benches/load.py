"""Call-rate benchmark on loopback: ``sipwire load`` beside SIPp at the same rates, in one run,
both directions (issue 16).

    python benches/load.py [--seconds 20] [--rates 1000,2000,3000,4000] [--readme]

At each rate, one after the other, each with a fresh peer on a fresh port:

- sipwire → SIPp: ``sipwire load call`` (INVITE, 180/200, ACK, BYE, 200) against
  ``sipp -sn uas``;
- SIPp → SIPp: ``sipp -sn uac`` against ``sipp -sn uas`` (the reference: SIPp's own rate);
- SIPp → sipwire: ``sipp -sn uac`` against ``sipwire load answer``.

A rate is held when every call placed completed (sipwire: its JSON; SIPp: FailedCall 0 and
SuccessfulCall equal to the calls placed). For each run the caller's (and the callee's) CPU
seconds come from ``wait4`` of its process, so the table says what each call cost beside
whether it got through. ``--readme`` writes the table between the markers in
benches/README.md. Not part of the tests: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
README = Path(__file__).parent / "README.md"
BEGIN = "<!-- load table: begin (benches/load.py --readme) -->"
END = "<!-- load table: end -->"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Run:
    placed: int
    completed: int
    failed: int
    retransmissions: int
    caller_cpu: float
    callee_cpu: float
    p99_ms: float | None = None
    callee_max_up: int | None = None

    @property
    def held(self) -> bool:
        return self.failed == 0 and self.completed == self.placed

    def cell(self) -> str:
        mark = "**held**" if self.held else "failed"
        p99 = f", p99 {self.p99_ms:.1f} ms" if self.p99_ms is not None else ""
        return (
            f"{mark}: {self.completed}/{self.placed}, {self.failed} failed, "
            f"{self.retransmissions} retr.{p99}; CPU {self.caller_cpu:.1f} s / "
            f"{self.callee_cpu:.1f} s"
        )


def spawn(cmd: list[str], **kw: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        **kw,  # type: ignore[call-overload]
    )


def reap(p: subprocess.Popen[bytes], sig: int | None = None, timeout: float = 60) -> float:
    """Stops ``p`` (with ``sig`` unless it already ended), waits for it, and returns the
    CPU seconds it used (user + system, from wait4)."""
    if sig is not None and p.poll() is None:
        os.killpg(p.pid, sig)
    deadline = time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return ru.ru_utime + ru.ru_stime
        if time.monotonic() > deadline:
            os.killpg(p.pid, signal.SIGKILL)
        time.sleep(0.05)


def sipp_uas(port: int) -> subprocess.Popen[bytes]:
    p = spawn(["sipp", "-sn", "uas", "-i", HOST, "-p", str(port), "-nostdin"])
    time.sleep(0.5)
    return p


def sipp_uac(target_port: int, rate: int, seconds: float, stat: Path) -> subprocess.Popen[bytes]:
    calls = int(rate * seconds)
    cmd = ["sipp", "-sn", "uac", f"{HOST}:{target_port}", "-i", HOST, "-p", str(free_port())]
    cmd += ["-r", str(rate), "-m", str(calls), "-nostdin", "-timeout", f"{seconds + 40}s"]
    cmd += ["-trace_stat", "-stf", str(stat), "-fd", "1", "-l", str(rate * 40)]
    return spawn(cmd)


def sipp_figures(stat: Path, calls: int) -> tuple[int, int, int]:
    rows = list(csv.reader(stat.open(), delimiter=";"))
    head, last = rows[0], rows[-1]
    col = {name: i for i, name in enumerate(head)}
    ok = int(last[col["SuccessfulCall(C)"]])
    failed = int(last[col["FailedCall(C)"]])
    retr = int(last[col["Retransmissions(C)"]])
    return ok, failed + (calls - ok - failed), retr


def sipwire_calls_sipp(rate: int, secs: float, d: Path) -> Run:
    port = free_port()
    uas = sipp_uas(port)
    out = d / "out.json"
    cmd = [sys.executable, "-m", "sipwire", "load", "call", f"sip:service@{HOST}:{port}"]
    cmd += ["--rate", str(rate), "--duration", str(secs), "--quiet", "--json", str(out)]
    caller = spawn(cmd)
    cpu = reap(caller, timeout=secs + 120)
    callee = reap(uas, signal.SIGTERM)
    got = json.loads(out.read_text())
    return Run(
        got["attempted"],
        got["completed"],
        got["attempted"] - got["completed"],
        got["retransmissions"]["sent"],
        cpu,
        callee,
        got["setup_ms"]["p99"],
    )


def sipp_calls_sipp(rate: int, secs: float, d: Path) -> Run:
    port = free_port()
    uas = sipp_uas(port)
    stat = d / "sipp.csv"
    cpu = reap(sipp_uac(port, rate, secs, stat), timeout=secs + 120)
    callee = reap(uas, signal.SIGTERM)
    calls = int(rate * secs)
    ok, failed, retr = sipp_figures(stat, calls)
    return Run(calls, ok, failed, retr, cpu, callee)


def sipp_calls_sipwire(rate: int, secs: float, d: Path) -> Run:
    port = free_port()
    out = d / "answer.json"
    cmd = [sys.executable, "-m", "sipwire", "load", "answer", "--port", str(port), "--quiet"]
    ans = spawn([*cmd, "--json", str(out)])
    time.sleep(1.0)
    stat = d / "sipp-in.csv"
    cpu = reap(sipp_uac(port, rate, secs, stat), timeout=secs + 120)
    callee = reap(ans, signal.SIGINT)
    calls = int(rate * secs)
    ok, failed, retr = sipp_figures(stat, calls)
    got = json.loads(out.read_text())
    return Run(calls, ok, failed, retr, cpu, callee, None, got["concurrent"]["max"])


DIRECTIONS = {
    "out": ("sipwire `load call` → SIPp `uas`", sipwire_calls_sipp),
    "sipp": ("SIPp `uac` → SIPp `uas` (reference)", sipp_calls_sipp),
    "in": ("SIPp `uac` → sipwire `load answer`", sipp_calls_sipwire),
}


def table(results: dict[int, dict[str, Run]], dirs: list[str]) -> str:
    head = "| calls/s | " + " | ".join(DIRECTIONS[d][0] for d in dirs) + " |"
    lines = [head, "| ---: |" + " --- |" * len(dirs)]
    for rate, row in results.items():
        cells = [row[d].cell() if d in row else "" for d in dirs]
        lines.append(f"| {rate} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "| calls/s | caller CPU, sipwire ÷ SIPp (calling SIPp `uas`) | callee CPU, "
        "sipwire ÷ SIPp (answering SIPp `uac`) | sipwire answering: most calls up |"
    )
    lines.append("| ---: | ---: | ---: | ---: |")
    for rate, row in results.items():
        out, ref, inn = row.get("out"), row.get("sipp"), row.get("in")
        c1 = f"{out.caller_cpu / ref.caller_cpu:.2f}" if out and ref and ref.caller_cpu else ""
        c2 = f"{inn.callee_cpu / ref.callee_cpu:.2f}" if inn and ref and ref.callee_cpu else ""
        up = str(inn.callee_max_up) if inn and inn.callee_max_up is not None else ""
        lines.append(f"| {rate} | {c1} | {c2} | {up} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--rates", default="1000,2000,3000,4000")
    p.add_argument("--directions", default="out,sipp,in", help="out, sipp, in (see above)")
    p.add_argument("--readme", action="store_true", help="write the table into README.md")
    a = p.parse_args()
    rates = [int(x) for x in a.rates.split(",")]
    dirs = a.directions.split(",")
    results: dict[int, dict[str, Run]] = {}
    load = [os.getloadavg()[0]]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"== {a.seconds:g} s per run, rates {rates}, load average {load[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        for rate in rates:
            results[rate] = {}
            for d in dirs:
                name, fn = DIRECTIONS[d]
                r = fn(rate, a.seconds, Path(tmp))
                results[rate][d] = r
                load.append(os.getloadavg()[0])
                print(f"  {rate:5d} calls/s  {name:40} {r.cell()}", flush=True)
    text = table(results, dirs)
    print()
    print(text)
    note = (
        f"`python benches/load.py --seconds {a.seconds:g} --rates {a.rates}` on {started}, "
        f"load average {min(load):.1f}–{max(load):.1f} during the run."
    )
    print("\n" + note)
    if a.readme:
        doc = README.read_text()
        if BEGIN in doc and END in doc:
            before, rest = doc.split(BEGIN, 1)
            _, after = rest.split(END, 1)
            README.write_text(f"{before}{BEGIN}\n{note}\n\n{text}\n{END}{after}")
            print(f"wrote the table into {README}")
        else:
            print(f"{README} has no markers; the table is above")


if __name__ == "__main__":
    main()
