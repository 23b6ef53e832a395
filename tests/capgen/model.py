"""What a test capture must read as: its SIP messages with the frame and time each belongs to,
the records a reader finds whole, and what tshark is known to see differently."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .pcapfile import Record
from .sip import Sip

# 2023-11-14T22:13:20.25Z. Frames are STEP (1/8 s) apart, so every time is exact in ms, µs, ns
# and in the 2^-10 s resolution of one pcapng interface.
T0 = 1_700_000_000_250_000_000
STEP = 125_000_000

# A row as compared with tshark: (frame, call_id, cseq, cseq_method, method, status).
Key = tuple[int, "str | None", "int | None", "str | None", "str | None", "int | None"]


@dataclass(frozen=True)
class Row:
    """One row of the messages table: the message, and the frame and time it belongs to (the
    frame that completed it: the last IP fragment, TCP segment, SCTP chunk or WebSocket frame;
    for HEP, the time HEP carries)."""

    frame: int
    time_ns: int
    sip: Sip
    # Whether tshark reports this message too (see Expected.tshark_note when it does not).
    tshark: bool = True
    # What tshark reports for it when that differs (a malformed message).
    tshark_as: Key | None = None

    def key(self) -> Key:
        s = self.sip
        return (self.frame, s.call_id, s.cseq, s.cseq_method, s.method, s.status)


@dataclass
class Expected:
    """What reading a capture must give."""

    name: str
    path: Path
    rows: list[Row]
    records: int  # records a reader finds whole (the ``records`` counter)
    # Counters that must be at least this (names as in ``cap.stats``).
    stats_min: dict[str, int] = field(default_factory=dict)
    # tshark: the options this capture needs besides tests/tshark.py's own, and why it sees
    # something other than ``rows`` (None: it sees them all).
    tshark_args: tuple[str, ...] = ()
    tshark_note: str | None = None
    # Rows tshark reports that sipwire must not (a message cut by the snap length).
    tshark_extra: tuple[Key, ...] = ()
    # tshark's addresses and times are the outer packet's, sipwire's those HEP carries.
    tshark_outer: bool = False

    def keys(self) -> Counter[Key]:
        return Counter(r.key() for r in self.rows)

    def tshark_keys(self) -> Counter[Key]:
        """What tshark must report: the rows it sees, as it sees them."""
        seen = [r.tshark_as or r.key() for r in self.rows if r.tshark]
        return Counter(seen + list(self.tshark_extra))


class Builder:
    """Frames in capture order: each added frame gets the next number and time, and the SIP
    messages it completes become rows."""

    def __init__(self, *, t0: int = T0, step: int = STEP, extra_ns: int = 0) -> None:
        self.records: list[Record] = []
        self.rows: list[Row] = []
        self.t0, self.step, self.extra_ns = t0, step, extra_ns

    def add(
        self,
        data: bytes,
        completes: Iterable[Sip] = (),
        *,
        iface: int = 0,
        orig_len: int | None = None,
        tshark: bool = True,
        tshark_as: Key | None = None,
        time_ns: int | None = None,
        sip_time_ns: int | Sequence[int] | None = None,
    ) -> int:
        """Adds a frame; ``sip_time_ns``: the time of the messages it completes when it is
        not the frame's (HEP), one for all or one per message."""
        frame = len(self.records) + 1
        if time_ns is None:
            time_ns = self.t0 + (frame - 1) * (self.step + self.extra_ns)
        self.records.append(Record(data, time_ns, orig_len, iface))
        completes = list(completes)
        if sip_time_ns is None:
            times: Sequence[int] = [time_ns] * len(completes)
        elif isinstance(sip_time_ns, int):
            times = [sip_time_ns] * len(completes)
        else:
            times = sip_time_ns
        assert len(times) == len(completes)
        for m, t in zip(completes, times):
            self.rows.append(Row(frame, t, m, tshark, tshark_as))
        return frame

    def expected(self, name: str, path: Path, **kw: object) -> Expected:
        return Expected(name, path, list(self.rows), len(self.records), **kw)  # type: ignore[arg-type]


def frames_of(rows: Sequence[Row]) -> list[int]:
    return [r.frame for r in rows]
