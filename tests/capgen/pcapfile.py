"""Capture files written byte by byte: classic pcap (µs and ns, both byte orders) and pcapng
(sections, interfaces with their own link type and ``if_tsresol``), and their gzip and zstd
copies. Written here rather than with scapy's writers, which cannot make several sections,
mixed link types per file, other time resolutions or a record cut short.

Formats: classic pcap (draft-ietf-opsawg-pcap), pcapng (draft-ietf-opsawg-pcapng).
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# LINKTYPE_* values of the tcpdump.org list.
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D


@dataclass
class Record:
    """One captured frame: its bytes (as captured), capture time and wire length."""

    data: bytes
    time_ns: int
    orig_len: int | None = None  # None: the frame was captured whole
    iface: int = 0  # pcapng: the interface (of its section) that captured it

    @property
    def wire_len(self) -> int:
        return len(self.data) if self.orig_len is None else self.orig_len


def write_pcap(
    path: Path,
    records: Sequence[Record],
    linktype: int,
    *,
    nanos: bool = False,
    big_endian: bool = False,
    snaplen: int = 262144,
    cut_last: int | None = None,
) -> bytes:
    """Writes a classic pcap file and returns its bytes. ``cut_last``: end the file that many
    bytes into the last record's data (a file cut mid-record)."""
    e = ">" if big_endian else "<"
    out = bytearray(
        struct.pack(
            e + "IHHiIII", PCAP_MAGIC_NS if nanos else PCAP_MAGIC_US, 2, 4, 0, 0, snaplen, linktype
        )
    )
    for i, r in enumerate(records):
        sec, sub = divmod(r.time_ns, 1_000_000_000)
        if not nanos:
            assert sub % 1000 == 0, "a µs file cannot hold this time"
            sub //= 1000
        rec = struct.pack(e + "IIII", sec, sub, len(r.data), r.wire_len) + r.data
        if cut_last is not None and i == len(records) - 1:
            rec = rec[: 16 + cut_last]
        out += rec
    path.write_bytes(bytes(out))
    return bytes(out)


@dataclass
class Interface:
    """A pcapng Interface Description Block: link type and ``if_tsresol`` (the option's byte:
    high bit clear = 10^-n s, high bit set = 2^-n s; 6 = µs, the default)."""

    linktype: int
    tsresol: int | None = None  # None: no option (µs)
    snaplen: int = 0  # 0: no limit
    name: str | None = None

    def units_per_second(self) -> int:
        r = 6 if self.tsresol is None else self.tsresol
        return (1 << (r & 0x7F)) if r & 0x80 else 10 ** (r & 0x7F)

    def ticks(self, time_ns: int) -> int:
        """The timestamp in this interface's units; the time must be exact in them."""
        ticks, rest = divmod(time_ns * self.units_per_second(), 1_000_000_000)
        assert rest == 0, f"{time_ns} ns is not exact at resolution {self.tsresol}"
        return ticks


@dataclass
class Section:
    interfaces: list[Interface]
    records: list[Record] = field(default_factory=list)
    big_endian: bool = False
    # Blocks a reader must skip, written after the interfaces: (block type, body).
    extra_blocks: list[tuple[int, bytes]] = field(default_factory=list)


def _pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def _options(e: str, opts: Sequence[tuple[int, bytes]]) -> bytes:
    if not opts:
        return b""
    out = b"".join(struct.pack(e + "HH", code, len(v)) + _pad4(v) for code, v in opts)
    return out + struct.pack(e + "HH", 0, 0)  # opt_endofopt


def _block(e: str, btype: int, body: bytes) -> bytes:
    body = _pad4(body)
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def pcapng_bytes(sections: Sequence[Section]) -> bytes:
    out = bytearray()
    for s in sections:
        e = ">" if s.big_endian else "<"
        shb = struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1)
        shb += _options(e, [(4, b"sipwire capgen")])  # shb_userappl
        out += _block(e, 0x0A0D0D0A, shb)
        for itf in s.interfaces:
            opts: list[tuple[int, bytes]] = []
            if itf.name is not None:
                opts.append((2, itf.name.encode()))  # if_name
            if itf.tsresol is not None:
                opts.append((9, bytes([itf.tsresol])))  # if_tsresol
            idb = struct.pack(e + "HHI", itf.linktype, 0, itf.snaplen) + _options(e, opts)
            out += _block(e, 1, idb)
        for btype, body in s.extra_blocks:
            out += _block(e, btype, body)
        for r in s.records:
            ticks = s.interfaces[r.iface].ticks(r.time_ns)
            epb = struct.pack(
                e + "IIIII", r.iface, ticks >> 32, ticks & 0xFFFFFFFF, len(r.data), r.wire_len
            )
            out += _block(e, 6, epb + _pad4(r.data))
    return bytes(out)


def write_pcapng(path: Path, sections: Sequence[Section], *, cut: int | None = None) -> bytes:
    """Writes a pcapng file; ``cut``: drop that many bytes from its end."""
    data = pcapng_bytes(sections)
    if cut:
        data = data[:-cut]
    path.write_bytes(data)
    return data


def interface_statistics_block(e: str, iface: int, ticks: int) -> tuple[int, bytes]:
    """An Interface Statistics Block (type 5) with isb_ifrecv, for a reader to skip."""
    body = struct.pack(e + "III", iface, ticks >> 32, ticks & 0xFFFFFFFF)
    return 5, body + _options(e, [(4, struct.pack(e + "Q", 1))])


def gzip_copy(src: Path, dst: Path) -> None:
    # mtime=0: the same bytes on every run.
    dst.write_bytes(gzip.compress(src.read_bytes(), mtime=0))


def zstd_copy(src: Path, dst: Path) -> None:
    import zstandard

    dst.write_bytes(zstandard.ZstdCompressor(level=3).compress(src.read_bytes()))
