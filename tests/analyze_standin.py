"""A stand-in for ``sipwire.capture.analyze`` while the Rust one is being built: the same
attributes and columns, made from ``sipwire.capture.read(raw=True)`` with a little Python
grouping by Call-ID. Tests only: the package calls the real one (``analyze_impl`` in conftest
picks the real one when the extension has it).

It knows just enough SIP for the bundled capture and small hand-made ones: the initial INVITE
is the lowest CSeq INVITE without a To tag, outcomes follow its final responses, media rows
pair each SDP offer with the 2xx answer of its dialog.
"""

from __future__ import annotations

import time as _time
from collections import defaultdict
from typing import Any

import pyarrow as pa

import sipwire
import sipwire.capture

TS = pa.timestamp("ns", tz="UTC")

CALLS_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("outcome", pa.string()),
        ("final_status", pa.uint16()),
        ("invite_time", TS),
        ("answer_time", TS),
        ("end_time", TS),
        ("time_to_answer", pa.float64()),
        ("duration", pa.float64()),
        ("post_dial_delay", pa.float64()),
        ("caller", pa.string()),
        ("callee", pa.string()),
        ("invites", pa.uint32()),
        ("dialogs", pa.uint32()),
        ("retransmissions", pa.uint32()),
    ]
)

MEDIA_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("to_tag", pa.string()),
        ("cseq", pa.uint32()),
        ("method", pa.string()),
        ("offer_time", TS),
        ("answer_time", TS),
        ("media_index", pa.uint32()),
        ("kind", pa.string()),
        ("offer_ip", pa.string()),
        ("offer_port", pa.uint16()),
        ("answer_ip", pa.string()),
        ("answer_port", pa.uint16()),
        ("offer_direction", pa.string()),
        ("answer_direction", pa.string()),
        ("payload_types", pa.list_(pa.uint8())),
        ("codec", pa.string()),
    ]
)


def _sdp(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return sipwire.parse(raw, strict=False).sdp
    except sipwire.ParseError:
        return None


def _outcome(status: int | None) -> str:
    if status is None:
        return "unanswered"
    if 200 <= status < 300:
        return "answered"
    if status in (486, 600):
        return "busy"
    if status == 487:
        return "cancelled"
    return "rejected"


def _calls_and_media(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict]]:
    by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["call_id"] is not None:
            by_call[r["call_id"]].append(r)
    calls: list[dict[str, Any]] = []
    media: list[dict[str, Any]] = []
    for cid, msgs in by_call.items():
        msgs.sort(key=lambda r: r["time_ns"])
        invites = [m for m in msgs if m["method"] == "INVITE"]
        if not invites:
            continue  # REGISTER, OPTIONS ...: not calls
        first = min(invites, key=lambda m: (m["to_tag"] is not None, m["cseq"], m["time_ns"]))
        seq = first["cseq"]
        resp = [
            m
            for m in msgs
            if m["status"]
            and m["cseq_method"] == "INVITE"
            and (m["cseq"], m["from_tag"]) == (seq, first["from_tag"])
        ]
        provisional = [m for m in resp if 100 < m["status"] < 200]
        ok = [m for m in resp if 200 <= m["status"] < 300]
        finals = [m for m in resp if m["status"] >= 300]
        final = ok[0]["status"] if ok else (finals[-1]["status"] if finals else None)
        t0 = first["time_ns"]
        answer = ok[0]["time_ns"] if ok else None
        byes = [m for m in msgs if m["method"] == "BYE"]
        end = byes[0]["time_ns"] if byes else (finals[-1]["time_ns"] if finals and not ok else None)
        pdd_at = (provisional or finals or ok or [None])[0]
        seen: set[tuple[Any, ...]] = set()
        retrans = 0
        for m in msgs:
            key = (
                m["src_ip"],
                m["src_port"],
                m["dst_ip"],
                m["branch"],
                m["cseq"],
                m["method"],
                m["status"],
                m["to_tag"],
            )
            retrans += key in seen
            seen.add(key)
        parsed = sipwire.parse(first["raw"], strict=False)
        calls.append(
            {
                "call_id": cid,
                "outcome": _outcome(final),
                "final_status": final,
                "invite_time": t0,
                "answer_time": answer,
                "end_time": end,
                "time_to_answer": None if answer is None else (answer - t0) / 1e9,
                "duration": None if answer is None or end is None else (end - answer) / 1e9,
                "post_dial_delay": None if pdd_at is None else (pdd_at["time_ns"] - t0) / 1e9,
                "caller": str(parsed.from_.uri) if parsed.from_ else None,
                "callee": str(parsed.to.uri) if parsed.to else None,
                "invites": len({(m["cseq"], m["from_tag"]) for m in invites}),
                "dialogs": len({m["to_tag"] for m in ok + provisional if m["to_tag"]}),
                "retransmissions": retrans,
            }
        )
        # One media row per m-line of each offer (the first copy of an INVITE with SDP) and
        # the first 2xx answer of each dialog to it.
        offers: dict[tuple[int, str], dict[str, Any]] = {}
        for m in msgs:
            okey = (m["cseq"], m["from_tag"])
            if m["method"] == "INVITE" and okey not in offers and _sdp(m["raw"]):
                offers[okey] = m
        for (cseq, from_tag), offer in offers.items():
            answers: dict[str, dict[str, Any]] = {}
            for m in msgs:
                if (
                    m["status"]
                    and 200 <= m["status"] < 300
                    and m["cseq_method"] == "INVITE"
                    and m["cseq"] == cseq
                    and m["from_tag"] == from_tag
                    and m["to_tag"] not in answers
                ):
                    answers[m["to_tag"]] = m
            o = _sdp(offer["raw"])
            for tag, ans in answers.items():
                a = _sdp(ans["raw"])
                for i, om in enumerate(o.media):
                    am = a.media[i] if a is not None and i < len(a.media) else None
                    offered = {c.payload_type for c in om.codecs}
                    codec = None
                    if am is not None:
                        codec = next((c.name for c in am.codecs if c.payload_type in offered), None)
                    media.append(
                        {
                            "call_id": cid,
                            "to_tag": tag,
                            "cseq": cseq,
                            "method": "INVITE",
                            "offer_time": offer["time_ns"],
                            "answer_time": ans["time_ns"],
                            "media_index": i,
                            "kind": om.kind,
                            "offer_ip": om.connection,
                            "offer_port": om.port,
                            "answer_ip": am.connection if am else None,
                            "answer_port": am.port if am else None,
                            "offer_direction": om.direction,
                            "answer_direction": am.direction if am else None,
                            "payload_types": [int(f) for f in om.formats if f.isdigit()],
                            "codec": codec,
                        }
                    )
    return calls, media


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    cols = {}
    for f in schema:
        vals = [r[f.name] for r in rows]
        if pa.types.is_timestamp(f.type):
            cols[f.name] = pa.array(vals, pa.int64()).cast(f.type)
        else:
            cols[f.name] = pa.array(vals, f.type)
    return pa.table(cols, schema=schema)


class StandinAnalysis:
    """What ``analyze`` returns: the tables after ``finish()``; ``stats`` grows while it runs."""

    def __init__(self, source: Any, raw: bool, steps: int) -> None:
        self._source = source
        self._raw = raw
        self._steps = steps
        self._done = False
        self.stats: dict[str, int] = {"bytes": 0, "sip_messages": 0, "calls_open": 0}

    def finish(self) -> StandinAnalysis:
        if self._done:
            return self
        cap = sipwire.capture.read(self._source, raw=True)
        messages = pa.table(cap.messages)
        final = dict(cap.stats)
        # A few visible steps, so the progress bar has something to draw.
        for i in range(1, self._steps + 1):
            self.stats = {
                **self.stats,
                "bytes": final["bytes"] * i // self._steps,
                "sip_messages": messages.num_rows * i // self._steps,
                "calls_open": 1,
                "calls_done": i,
            }
            _time.sleep(0.05)
        times = messages.column("time").cast(pa.int64()).to_pylist()
        rows = messages.to_pylist()
        for r, t in zip(rows, times):
            r["time_ns"] = t
        calls, media = _calls_and_media(rows)
        self.calls = _table(calls, CALLS_SCHEMA)
        self.media = _table(media, MEDIA_SCHEMA)
        self.messages = messages if self._raw else messages.drop_columns(["raw"])
        self.rtp_streams = pa.table(cap.rtp_streams)
        self.dtmf = pa.table(cap.dtmf)
        self.stats = {**final, "calls_open": 0, "calls_done": len(calls)}
        self._done = True
        return self

    def __getattr__(self, name: str) -> Any:
        # The tables need the whole capture: reading one first reads it all (as the real one).
        if name in ("messages", "calls", "media", "rtp_streams", "dtmf"):
            self.finish()
            return self.__dict__[name]
        raise AttributeError(name)


def analyze(source: Any, *, raw: bool = False, steps: int = 4, **_: Any) -> StandinAnalysis:
    return StandinAnalysis(source, raw, steps)
