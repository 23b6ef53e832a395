"""The workload the wheels' profile-guided optimisation learns from (``scripts/dev.sh wheel``).

Run with an extension built with ``-Cprofile-generate``: every part of sipwire a user drives is
exercised, in proportions like real use, so the compiler lays out and inlines for the paths that
run most and treats as cold only what none of this reaches. Its parts:

- SIPp-like calls (``benches/capture.py``) and the torture messages of RFC 4475 and RFC 5118
  (``tests/data``): parse, typed fields and shortcuts, headers, serialization, edits, batches,
  stream framing; SDP parse, streams, codecs, offer/answer;
- the correlator fed those calls, kept and streamed, and its calls, dialogs and media;
- captures (``benches/pcapgen.py``, with RTP; the bundled ``examples/calls.pcapng``): ``read``,
  ``analyze`` and the HTML and text reports;
- the user agent: calls between two agents on loopback, with a hold, re-INVITE and BYE;
- the load engine: ``load.answer`` and ``load.run`` on loopback for a few seconds.

Takes ~1 minute; prints what it did. Not a test and not a bench.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benches"))

import capture  # noqa: E402  (benches/capture.py: SIPp-like calls)
import pcapgen  # noqa: E402

import sipwire  # noqa: E402
import sipwire.capture  # noqa: E402
import sipwire.load  # noqa: E402
from sipwire import cli  # noqa: E402

CALLS = 4000


def corpus() -> list[bytes]:
    """RFC 4475 and RFC 5118 messages, good and bad (the error paths run too, less often)."""
    out = []
    for d in ("rfc4475", "rfc5118"):
        out += [p.read_bytes() for p in sorted((ROOT / "tests" / "data" / d).glob("*.dat"))]
    return out


def fields(m: sipwire.Request | sipwire.Response) -> None:
    _ = m.call_id, m.cseq.seq, m.cseq.method, m.from_.tag, m.to.tag, m.content_length
    _ = m.from_tag, m.to_tag, m.branch, m.cseq_number, m.cseq_method
    via = m.via
    if len(via):
        v = via[0]
        _ = v.branch, v.host, v.port, v.transport
    if isinstance(m, sipwire.Request):
        _ = m.method, str(m.uri), m.uri.host, m.uri.user
    else:
        _ = m.status, m.reason
    _ = m.from_.uri, m.to.display_name, m.headers.get("Contact"), list(m.headers)[:4]
    _ = m.body


def messages(packets: list[capture.Packet], extra: list[bytes]) -> int:
    n = 0
    for _t, _src, _dst, data in packets:
        m = sipwire.parse(data)
        fields(m)
        if n % 4 == 0:
            bytes(m.replace_header("Max-Forwards", "69") if isinstance(m, sipwire.Request) else m)
        if m.body and n % 2 == 0:
            sd = sipwire.sdp.parse(m.body)
            for s in sd.media:
                s.port, s.direction, [c.name for c in s.codecs], s.connection
        n += 1
    for data in extra * 20:
        try:
            fields(sipwire.parse(data, strict=False))
        except (sipwire.ParseError, AttributeError, ValueError):
            pass  # a torture message without the header, or one that does not parse
        n += 1
    batch = [p[3] for p in packets[:700]]
    for _ in range(20):
        for m in sipwire.parse_batch(batch):
            _ = m.call_id, m.from_tag
    sp = sipwire.StreamParser()
    for _t, _src, _dst, data in packets[:5000]:
        sp.feed(data)
        for m in sp:
            _ = m.call_id
    return n


def built() -> None:
    for i in range(3000):
        r = sipwire.build_request(
            "INVITE",
            f"sip:bob{i}@192.0.2.20",
            [
                ("Via", f"SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{i}"),
                ("Max-Forwards", "70"),
                ("From", f"<sip:alice@192.0.2.10>;tag=t{i}"),
                ("To", f"<sip:bob{i}@192.0.2.20>"),
                ("Call-ID", f"c{i}@192.0.2.10"),
                ("CSeq", "1 INVITE"),
            ],
        )
        bytes(r.with_header("Contact", "<sip:alice@192.0.2.10>"))


def correlated(packets: list[capture.Packet]) -> int:
    for keep in (True, False):
        c = sipwire.Correlator(keep_messages=keep)
        for t, src, dst, data in packets:
            c.feed(data, time=t, src=src, dst=dst)
            if not keep and len(c.drain_finished()) > 10_000:
                break
        for call in c.calls():
            _ = call.outcome, call.time_to_answer, call.media, call.dialogs, call.transactions
    return len(packets)


def captured(tmp: Path) -> None:
    pcap = tmp / "calls.pcap"
    with pcap.open("wb") as f:
        pcapgen.write_pcap(f, pcapgen.packets(1500, rtp=True))
    for source in (pcap, ROOT / "examples" / "calls.pcapng"):
        cap = sipwire.capture.read(str(source))
        _ = cap.messages, cap.rtp_streams, cap.dtmf
        # The command line: summary, HTML report with ladders, tables written out.
        out = tmp / source.stem
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(["analyze", str(source), "--html", f"{out}.html", "--out", str(out)])
            cli.main(["analyze", str(source), "--list", "5", "--color", "never"])


async def agents() -> None:
    async with sipwire.UserAgent(host="127.0.0.1", port=0) as bob:
        async with sipwire.UserAgent(host="127.0.0.1", port=0) as alice:
            ended: set[asyncio.Future[None]] = set()

            async def answer() -> None:
                async for incoming in bob.incoming():
                    await incoming.ring()
                    call = await incoming.answer()
                    ended.add(asyncio.ensure_future(call.wait_ended()))

            server = asyncio.ensure_future(answer())
            host, port = bob.local_address[:2]
            for i in range(40):
                call = await alice.invite(f"sip:bob{i}@{host}:{port}")
                if i % 4 == 0:
                    await call.hold()
                    await call.unhold()
                await call.hangup()
            server.cancel()


def loaded() -> int:
    ready = threading.Event()
    where: list[tuple[str, int]] = []

    def serve() -> None:
        def up(addr: tuple[str, int]) -> None:
            where.append(addr)
            ready.set()

        sipwire.load.answer(port=0, duration=5.0, ready=up)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    ready.wait(5)
    host, port = where[0]
    res = sipwire.load.run(f"sip:load@{host}:{port}", rate=400, duration=3.0)
    t.join()
    return res.answered


def main() -> None:
    packets = capture.capture(CALLS)
    extra = corpus()
    print(f"pgo: {messages(packets, extra)} messages parsed", flush=True)
    built()
    print(f"pgo: {correlated(packets)} messages correlated", flush=True)
    with tempfile.TemporaryDirectory() as d:
        captured(Path(d))
    print("pgo: captures read and analysed", flush=True)
    asyncio.run(agents())
    print("pgo: 40 calls between two user agents", flush=True)
    print(f"pgo: load run, {loaded()} calls answered", flush=True)


if __name__ == "__main__":
    main()
