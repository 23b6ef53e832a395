"""Captures in, tables out: pcap, pcapng and HEP read in Rust into Arrow tables.

>>> import pyarrow as pa, sipwire.capture
>>> cap = sipwire.capture.read("calls.pcapng")      # or .gz/.zst, a list, a file object, "-"
>>> messages = pa.table(cap.messages)               # one row per SIP message
>>> pa.table(cap.rtp_streams), pa.table(cap.dtmf)   # RTP statistics, RFC 4733 digits
>>> cap.stats                                       # what every stage saw and dropped

Every table implements the Arrow PyCapsule stream interface (``__arrow_c_stream__``), so
``pyarrow.table(t)``, ``polars.from_arrow(t)`` and DuckDB's ``FROM t`` read it with no copy and
sipwire itself needs none of them. The reading, decoding (Ethernet, VLANs, Linux cooked
capture, raw IP, loopback, IP-in-IP, GRE, ERSPAN, VXLAN, IPv4/IPv6 fragments), TCP, SCTP and
WebSocket reassembly, HEP and RTP statistics all happen in Rust; nothing becomes a Python
object per packet.

``rtp_streams``, one row per stream (source, destination, SSRC), figures as
``tshark -z rtp,streams`` computes them: ``src_ip``, ``src_port``, ``dst_ip``, ``dst_port``,
``ssrc``, ``payload_type`` (of the first packet), ``payload_types`` (every one seen), ``codec``,
``clock_rate``, ``packets``, ``expected``, ``lost`` (negative when duplicates outnumber losses),
``sequence_errors``, ``problem``, ``captured_twice`` (packets that repeated one of the stream's
last four within 20 ms; when they are half or more of the others the capture holds the stream
twice and the row's figures leave them out), ``min_delta_ms``/``mean_delta_ms``/``max_delta_ms``,
``max_delta_frame``, ``min_jitter_ms``/``mean_jitter_ms``/``max_jitter_ms`` (RFC 3550 A.8),
``first_time``, ``last_time``, ``first_frame``, ``last_frame``, ``call_id`` (of the SDP that
announced it), ``from_sdp`` (False: found by the strict heuristic); and from RTCP: ``rtcp_sr``,
``rtcp_rr``, ``rtcp_sender_packets``, ``rtcp_sender_octets`` (this SSRC's last SR),
``rtcp_reports``, ``rtcp_reporter_ssrc``, ``rtcp_fraction_lost``, ``rtcp_cumulative_lost``,
``rtcp_highest_seq``, ``rtcp_jitter_ms`` (the last report block about it).

``dtmf``, one row per telephone-event (RFC 4733): ``time``, ``frame`` (first packet), the
addresses, ``ssrc``, ``digit`` ("0"-"9", "*", "#", "A"-"D", "flash"), ``event``, ``source``
("rtp"), ``rtp_timestamp``, ``duration_ms``, ``duration``, ``volume``, ``end_seen``,
``packets``, ``call_id``. :func:`analyze` adds a row for each digit sent in a SIP INFO request
(``application/dtmf-relay``'s ``Signal``/``Duration``, or ``application/dtmf``): ``source``
"info", the INFO's time (its earliest copy), addresses and Call-ID, ``duration_ms`` when the
body gave one, the RTP-only columns and ``frame`` null.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable
from typing import IO, Any, Union

from sipwire._sipwire import CaptureReader, Limits, Table, _capture_head_error
from sipwire.capture.live import HepListener, listen_hep

Source = Union[str, "os.PathLike[str]", IO[bytes]]

__all__ = ["Analysis", "Capture", "HepListener", "Table", "analyze", "listen_hep", "read"]


class _Messages:
    """The ``messages`` table of a read: an Arrow stream that can be consumed once."""

    def __init__(self, reader: CaptureReader) -> None:
        self._reader = reader

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self._reader.__arrow_c_stream__(requested_schema)

    def __repr__(self) -> str:
        return "<sipwire.capture messages stream>"


class Capture:
    """A capture being read. ``messages`` streams as it is consumed; ``rtp_streams``,
    ``dtmf`` and the final ``stats`` need the whole input, so reading them first reads the
    rest and keeps the message batches for ``messages``."""

    def __init__(self, reader: CaptureReader) -> None:
        self._reader = reader
        self.messages = _Messages(reader)

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self._reader.__arrow_c_stream__(requested_schema)

    @property
    def rtp_streams(self) -> Table:
        """RTP/RTCP statistics per stream (src, dst, SSRC), as ``tshark -z rtp,streams``."""
        return self._reader.rtp_streams()

    @property
    def dtmf(self) -> Table:
        """RFC 4733 / RFC 2833 telephone-events decoded to digits, with their times."""
        return self._reader.dtmf()

    @property
    def stats(self) -> dict[str, int]:
        """Every stage's counters: records, bytes, what was truncated, dropped or not SIP."""
        return self._reader.stats()

    def finish(self) -> Capture:
        """Reads the rest of the input now (the GIL released)."""
        self._reader.finish()
        return self

    def read_ahead(self, batches: int = 1) -> None:
        """Reads on (the GIL released) until ``batches`` ``messages`` batches wait to be
        taken, or the input ends: a thread that has other work before it takes them (an
        import, a file to open) lets the read start meanwhile. Held batches cost memory
        (``batch_rows`` rows each). An error of the read is raised where the stream (or
        :meth:`finish`) comes to it, after the batches read before it."""
        if batches < 0:
            raise ValueError(f"batches must be 0 or more, not {batches}")
        self._reader.read_ahead(batches)

    def stop(self) -> None:
        """Ends the read where it is, from any thread (an interrupt): what was read is
        finished into the tables as if the input ended there, the rest is not read. A read
        waiting on a quiet input (a live pipe) ends when the input next gives bytes or ends."""
        self._reader.stop()

    def __repr__(self) -> str:
        state = "finished" if self._reader.finished else "reading"
        return f"<sipwire.capture.Capture {state}>"


class Analysis(Capture):
    """A capture turned into calls: ``messages``, ``rtp_streams``, ``dtmf`` as for
    :func:`read`, plus ``calls`` and ``media`` from the correlator (RFC 3261 §12, §17;
    RFC 3264), whose calls are finished on the capture clock and their state freed."""

    @property
    def calls(self) -> Table:
        """One row per call: ``call_id``, ``outcome`` (answered, busy, cancelled, rejected,
        timeout, early_media, in_progress, partial), ``final_status``, ``invite_time``,
        ``ringing_time``, ``answer_time``, ``cancel_time``, ``end_time``, ``first_time``,
        ``last_time``, ``time_to_answer``, ``post_dial_delay``, ``duration`` (seconds),
        ``caller``, ``callee``, ``src_ip``, ``src_port``, ``dst_ip``, ``dst_port`` (of the
        initial INVITE), ``invites``, ``dialogs``, ``messages`` (every frame, copies of a
        frame captured twice included), ``retransmissions`` (not those copies),
        ``hangup`` (caller or callee), ``early_media``, ``evicted``, ``srd`` (RFC 6076
        §4.2's session request delay, seconds: INVITE to the first provisional other than
        100, else to the final response; authentication challenges do not count)."""
        return self._reader.calls()

    @property
    def media(self) -> Table:
        """One row per ``m=`` line per offer/answer exchange per dialog (forks included):
        ``call_id``, ``to_tag``, ``cseq``, ``method``, ``offer_time``, ``answer_time``,
        ``media_index``, ``kind``, ``offer_ip``, ``offer_port``, ``answer_ip``,
        ``answer_port``, ``offer_direction``, ``answer_direction``, ``payload_types``,
        ``codecs``, ``answer_payload_types``, ``codec`` (negotiated: the first of the
        answer's formats the offer had, RFC 3264), ``codec_payload_type``,
        ``codec_clock_rate``, ``early`` (an answer in a provisional response: early media; a
        183's answer that the 2xx replaced with other SDP is a row of its own, before the
        2xx's)."""
        return self._reader.media()

    @property
    def rtp_streams(self) -> Table:
        """The capture's ``rtp_streams`` (see :func:`read`), each stream joined to the media
        row whose SDP announced its endpoints while that offer/answer was in effect (its
        first packet within the row's time window: a re-INVITE that moves a port, or a
        port two calls use one after the other, joins each stream to its own row; the
        legs of a forked call are told apart by the answer's address). ``call_id`` is that
        row's, and ``to_tag``, ``cseq``, ``media_index``, ``early`` (with ``call_id``, the
        ``media`` table's key) and ``sdp_side`` (``offer``: the stream goes to the address of
        the offer's SDP; ``answer``) are added; null when no media row matched."""
        return self._reader.rtp_streams()

    @property
    def dtmf(self) -> Table:
        """The capture's ``dtmf`` (see :func:`read`), each event joined to a media row as the
        streams are (its stream's endpoints, at the event's time): ``call_id`` is that
        row's, and ``to_tag``, ``cseq``, ``media_index``, ``early`` and ``sdp_side`` are added.
        The digits the calls sent in INFO requests are rows too (``source`` "info", in time
        order with the others; they join no media row)."""
        return self._reader.dtmf()

    def finish(self) -> Analysis:
        self._reader.finish()
        return self

    def __repr__(self) -> str:
        state = "finished" if self._reader.finished else "reading"
        return f"<sipwire.capture.Analysis {state}>"


def _check_path(path: str) -> None:
    """A path that cannot be a capture, told when it is given rather than when its first
    batch is read: missing, a directory, unreadable, or a file that does not start as one."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such capture: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory: give the capture files in it")
    if not os.path.isfile(path):
        return  # a FIFO or a device: read as it comes
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except PermissionError:
        raise PermissionError(f"cannot read {path}: permission denied") from None
    _check_head(path, head)


def _check_file(f: Any) -> None:
    """A seekable file object that does not start as a capture, told when it is given (its
    position is left where it was); a pipe is read as it comes."""
    try:
        if not f.seekable():
            return
        at = f.tell()
        head = f.read(8)
        f.seek(at)
    except (AttributeError, OSError, ValueError):
        return
    if not isinstance(head, bytes):
        raise TypeError(f"a capture file object must be opened in binary mode, not {f!r}")
    name = getattr(f, "name", None)
    _check_head(name if isinstance(name, str) else "the file object", head)


def _check_head(path: str, head: bytes) -> None:
    """Refuses a file whose first bytes the reader would refuse, before reading starts, with
    the reader's own message (which also names what the bytes look like)."""
    if not head:
        raise ValueError(
            f"{path} is empty: not a capture; expected pcap (a1b2c3d4 / a1b23c4d either byte "
            "order), pcapng (0a0d0d0a), gzip or zstd"
        )
    error = _capture_head_error(head)
    if error is not None:
        raise ValueError(f"{path}: {error}")


def _sources(source: Source | Iterable[Source]) -> list[Any]:
    if isinstance(source, (str, bytes, os.PathLike)) or hasattr(source, "read"):
        items: list[Any] = [source]
    else:
        items = list(source)
        if not items:
            raise ValueError("no capture given: pass a path, a list of paths or a file object")
    out: list[Any] = []
    from sipwire.capture._engine import drop_repeats

    # A file named twice would read as every packet captured twice: the first name is read.
    kept, repeats = drop_repeats(
        [os.fspath(s) for s in items if isinstance(s, (str, os.PathLike)) and s != "-"]
    )
    for repeat, first in repeats:
        warnings.warn(f"{repeat} is the file {first} again: read once", stacklevel=3)
    left = set(kept)  # each kept name is taken once, at its first place
    for s in items:
        if isinstance(s, str) and s == "-":
            out.append(sys.stdin.buffer)
        elif isinstance(s, (str, os.PathLike)):
            path = os.fspath(s)
            if path not in left:
                continue
            left.remove(path)
            _check_path(path)
            out.append(path)
        elif isinstance(s, bytes):
            raise TypeError(
                "a capture source is a path or a binary file object, not bytes "
                "(wrap bytes in io.BytesIO)"
            )
        else:
            _check_file(s)
            out.append(s)
    return out


def read(
    source: Source | Iterable[Source],
    *,
    strict: bool = False,
    limits: Limits | None = None,
    raw: bool = False,
    rtp: bool = True,
    batch_rows: int = 65536,
) -> Capture:
    """Reads a capture: a path (pcap or pcapng, also gzip- or zstd-compressed), a list of
    paths merged by time into the one capture they make (rotated files in any order, several
    probes; a TCP stream crossing files stays whole), a binary file object, or ``"-"`` for
    stdin. Rows name their file in the ``file`` column.

    SIP is parsed leniently by default (``strict=False``): a monitor must see what the
    network carried; a message that does not parse is still a row, with ``parse_error``.
    ``raw=True`` adds each message's bytes as a ``raw`` column. ``rtp=False`` skips RTP.
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, not {batch_rows}")
    reader = CaptureReader(
        _sources(source),
        strict=strict,
        limits=limits,
        raw=raw,
        rtp=rtp,
        batch_rows=batch_rows,
    )
    return Capture(reader)


def analyze(
    source: Source | Iterable[Source],
    *,
    strict: bool = False,
    limits: Limits | None = None,
    raw: bool = False,
    rtp: bool = True,
    batch_rows: int = 65536,
    threads: int | None = None,
) -> Analysis:
    """Reads a capture as :func:`read` does (``source`` is anything ``read`` takes) and
    correlates its messages into calls: the result has ``messages``, ``calls``, ``media``,
    ``rtp_streams`` and ``dtmf`` tables (each ``__arrow_c_stream__``) and ``stats``.
    ``finish()`` reads the whole input now (the GIL released; ``stats`` can be read from
    another thread meanwhile, e.g. for a progress display).

    ``threads``: 2 correlates on a thread of its own beside the read (the tables are the
    same); 1 does both on one; ``None`` (the default) takes 2 when this process may use more
    than one CPU."""
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, not {batch_rows}")
    if threads is None:
        threads = 2 if _cpus() > 1 else 1
    elif threads not in (1, 2):
        raise ValueError(f"threads is 1 or 2 (None: 2 when there are CPUs for it), not {threads!r}")
    reader = CaptureReader(
        _sources(source),
        strict=strict,
        limits=limits,
        raw=raw,
        rtp=rtp,
        batch_rows=batch_rows,
        calls=True,
        calls_thread=threads == 2,
    )
    return Analysis(reader)


def _cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
