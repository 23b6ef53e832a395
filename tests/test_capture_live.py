"""sipwire.capture.listen_hep: a live HEP collector on loopback, fed HEPv3 over UDP and TCP
(the way Kamailio's siptrace or heplify send it), with its bounds."""

from __future__ import annotations

import socket
import time

import pyarrow as pa
from capgen.net import hep3
from capgen.sip import call

import sipwire.capture

BASE = 1_700_000_000_000_000_000


def messages(n: int, transport: str = "udp") -> list[bytes]:
    out = []
    for k in range(n):
        for j, m in enumerate(
            call(
                f"live-{transport}-{k}",
                ("192.0.2.1", 5060),
                ("192.0.2.2", 5080),
                transport=transport,
            )
        ):
            out.append(hep3(m, BASE + (k * 10 + j) * 1_000_000))
    return out


def wait_rows(listener: sipwire.capture.HepListener, n: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    deadline = time.monotonic() + 10
    while len(rows) < n and time.monotonic() < deadline:
        rows += pa.table(listener.wait(n - len(rows), timeout=0.5)).to_pylist()
    return rows


def test_udp_and_tcp_feeds_become_rows_with_heps_addresses_and_times() -> None:
    with sipwire.capture.listen_hep("127.0.0.1", 0) as listener:
        host, port = listener.address
        udp_pkts = messages(3, "udp")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for p in udp_pkts:
                s.sendto(p, (host, port))
        rows = wait_rows(listener, len(udp_pkts))
        assert len(rows) == len(udp_pkts)
        assert {r["src_ip"] for r in rows} == {"192.0.2.1", "192.0.2.2"}
        assert {r["transport"] for r in rows} == {"udp"}
        first = min(rows, key=lambda r: r["call_id"] + str(r["time"]))  # type: ignore[operator]
        assert first["call_id"] == "live-udp-0"

        tcp_pkts = messages(2, "tcp")
        stream = b"".join(tcp_pkts)
        with socket.create_connection((host, port)) as c:
            for i in range(0, len(stream), 7):  # HEP framed across small segments
                c.sendall(stream[i : i + 7])
        rows = wait_rows(listener, len(tcp_pkts))
        assert len(rows) == len(tcp_pkts)
        assert {r["transport"] for r in rows} == {"tcp"}
        assert listener.stats["hep_packets"] == len(udp_pkts) + len(tcp_pkts)
        # HEP's own capture time is the row's time, not the time it arrived.
        assert min(r["time"] for r in rows).timestamp() == BASE / 1e9 + 0.0  # type: ignore[union-attr,type-var]
    assert listener.stats["open_connections"] == 0


def test_garbage_and_bounds_are_counted_not_fatal() -> None:
    with sipwire.capture.listen_hep("127.0.0.1", 0, tcp=False, max_rows=4) as listener:
        host, port = listener.address
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"\x00garbage", (host, port))
            for p in messages(2):
                s.sendto(p, (host, port))
        deadline = time.monotonic() + 10
        while listener.stats["hep_packets"] + listener.stats["hep_errors"] < 1 + len(messages(2)):
            assert time.monotonic() < deadline, listener.stats
            time.sleep(0.05)
        st = listener.stats
        assert st["hep_errors"] == 1
        assert st["dropped_rows"] == len(messages(2)) - 4
        assert len(listener.take()) == 4
        assert len(listener.take()) == 0


def test_iterating_yields_tables_until_stopped() -> None:
    listener = sipwire.capture.listen_hep("127.0.0.1", 0, tcp=False)
    host, port = listener.address
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for p in messages(1):
            s.sendto(p, (host, port))
    got = 0
    for table in listener:
        got += len(table)
        if got >= len(messages(1)):
            listener.stop()
    assert got == len(messages(1))
