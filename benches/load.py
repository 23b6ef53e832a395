"""Call-rate benchmark on loopback (issue: the user agent, item 7): raise the rate until
calls fail, and report the highest rate held for the whole run with no failed call, in each
direction, beside SIPp against itself on the same machine.

    python benches/load.py [--seconds 30] [--rates 500,1000,1500,2000,3000]

- sipwire → SIPp: ``sipwire.load.place_calls`` (INVITE, ACK, BYE) against ``sipp -sn uas``;
- SIPp → sipwire: ``sipp -sn uac`` against ``sipwire load answer``;
- SIPp → SIPp: ``sipp -sn uac`` against ``sipp -sn uas`` (the reference).

A rate is held when every call of the run completed (SIPp: its FailedCall count is 0 and
SuccessfulCall equals the calls placed). Not part of the tests: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sipwire.load import place_calls

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def start(cmd: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def sipp_uas(port: int) -> subprocess.Popen[bytes]:
    return start(["sipp", "-sn", "uas", "-i", HOST, "-p", str(port), "-nostdin"])


def sipp_uac(target_port: int, rate: int, seconds: float) -> tuple[int, int]:
    """Runs SIPp's uac at ``rate`` for ``seconds``; returns (successful, failed) calls."""
    calls = int(rate * seconds)
    with tempfile.TemporaryDirectory() as d:
        stat = Path(d) / "stat.csv"
        cmd = ["sipp", "-sn", "uac", f"{HOST}:{target_port}", "-i", HOST, "-p", str(free_port())]
        cmd += ["-r", str(rate), "-m", str(calls), "-nostdin", "-timeout", f"{seconds + 40}s"]
        cmd += ["-trace_stat", "-stf", str(stat), "-fd", "1", "-l", str(rate * 40)]
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        rows = list(csv.reader(stat.open(), delimiter=";"))
        head, last = rows[0], rows[-1]
        col = {name: i for i, name in enumerate(head)}
        ok = int(last[col["SuccessfulCall(C)"]])
        failed = int(last[col["FailedCall(C)"]])
        return ok, failed + (calls - ok - failed)


def ramp(name: str, rates: list[int], run: object) -> int:
    best = 0
    for r in rates:
        t0 = time.monotonic()
        ok, failed = run(r)  # type: ignore[operator]
        took = time.monotonic() - t0
        print(f"  {name:18} {r:5d} calls/s: {ok} completed, {failed} failed ({took:.0f} s)")
        sys.stdout.flush()
        if failed:
            break
        best = r
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--rates", default="500,1000,1500,2000,3000,4000")
    p.add_argument(
        "--directions",
        default="out,in,sipp",
        help="out: sipwire calls SIPp; in: SIPp calls sipwire; sipp: SIPp calls SIPp",
    )
    a = p.parse_args()
    rates = [int(x) for x in a.rates.split(",")]
    secs = a.seconds

    def sipwire_calls_sipp(rate: int) -> tuple[int, int]:
        port = free_port()
        uas = sipp_uas(port)
        time.sleep(0.5)
        try:
            res = asyncio.run(place_calls(f"sip:service@{HOST}:{port}", rate=rate, duration=secs))
        finally:
            stop(uas)
        return res.completed, res.attempted - res.completed

    def sipp_calls_sipwire(rate: int) -> tuple[int, int]:
        port = free_port()
        ans = start([sys.executable, "-m", "sipwire", "load", "answer", "--port", str(port)])
        time.sleep(1.0)
        try:
            return sipp_uac(port, rate, secs)
        finally:
            stop(ans)

    def sipp_calls_sipp(rate: int) -> tuple[int, int]:
        port = free_port()
        uas = sipp_uas(port)
        time.sleep(0.5)
        try:
            return sipp_uac(port, rate, secs)
        finally:
            stop(uas)

    print(f"== highest call rate held for {secs:.0f} s with no failed call")
    runs = {
        "out": ("sipwire → SIPp uas", sipwire_calls_sipp),
        "in": ("SIPp uac → sipwire", sipp_calls_sipwire),
        "sipp": ("SIPp uac → SIPp uas", sipp_calls_sipp),
    }
    results = {runs[d][0]: ramp(runs[d][0], rates, runs[d][1]) for d in a.directions.split(",")}
    print("\n| direction | highest rate held (calls/s) |\n| --- | --- |")
    for k, v in results.items():
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
