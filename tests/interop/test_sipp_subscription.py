"""Subscriptions (RFC 6665) and publications (RFC 3903) against SIPp scenarios written for
sipwire (``tests/data/sipp/``): SIPp as notifier of sipwire's SUBSCRIBE (200, NOTIFY active,
NOTIFY terminated), SIPp subscribing to a sipwire notifier (NOTIFY after the 200, refresh,
unsubscribe), SIPp as ESC of sipwire's PUBLISH (423 then Min-Expires, SIP-If-Match on the
refresh and the removal). Each also with ``-lost 10``: SIPp drops 10 % of what it sends and
receives, retransmissions must carry every exchange through."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from peers import HOST, free_port, wait_bound
from test_sipp_scenarios import CALLS, sipp, wait_ok

from sipwire import UserAgent

PIDF = b'<presence entity="sip:bob@127.0.0.1"><tuple id="t1"><status><basic>open</basic></status></tuple></presence>'


def t1(lost: int) -> float:
    # RFC 3261's T1 under loss (Timer F leaves room for SIPp's 500 ms resends), else 100 ms.
    return 0.5 if lost else 0.1


@pytest.mark.parametrize("lost", [0, 10])
def test_sipwire_subscribes_to_sipp(tmp_path: Path, lost: int) -> None:
    port = free_port()
    proc = sipp("uas_notifier.xml", port, tmp_path, lost)
    wait_bound(proc, port)

    async def main() -> None:
        async with UserAgent(t1=t1(lost)) as ua:
            for _ in range(CALLS):
                sub = await ua.subscribe(f"sip:pres@{HOST}:{port}", "presence", expires=60)
                seen = [(n.state, n.reason, n.content_type) async for n in sub]
                # Under loss a NOTIFY may come twice only as a retransmission, which the
                # transaction layer absorbs: exactly two, in order.
                assert seen == [
                    ("active", None, "application/pidf+xml"),
                    ("terminated", "noresource", None),
                ]
                assert sub.state == "terminated" and sub.reason == "noresource"
            assert ua.endpoint.dialogs() == []
            # Still answering: SIPp resends what it sent when our answer was lost.
            await asyncio.get_running_loop().run_in_executor(
                None, wait_ok, proc, tmp_path, "uas_notifier.xml"
            )

    try:
        asyncio.run(asyncio.wait_for(main(), 120))
    except BaseException:
        proc.kill()
        raise


@pytest.mark.parametrize("lost", [0, 10])
def test_sipp_subscribes_to_sipwire(tmp_path: Path, lost: int) -> None:
    async def main() -> None:
        async with UserAgent(t1=t1(lost), events=("presence",)) as ua:
            host, port = ua.local_address
            extra = ["-s", "pres", f"{host}:{port}"]
            proc = sipp("uac_subscriber.xml", free_port(), tmp_path, lost, *extra)
            notifiers = []

            async def serve() -> None:
                async for inc in ua.subscriptions():
                    assert inc.event == "presence" and inc.expires == 60
                    n = await inc.accept(body=PIDF, content_type="application/pidf+xml")
                    notifiers.append(n)

            server = asyncio.ensure_future(serve())
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, wait_ok, proc, tmp_path, "uac_subscriber.xml")
            finally:
                server.cancel()
            # SIPp may resend a SUBSCRIBE whose 200 it lost; each subscription is one.
            assert len(notifiers) == CALLS
            assert all(n.state == "terminated" for n in notifiers)
            await asyncio.sleep(0.2)
            assert ua.endpoint.dialogs() == []

    asyncio.run(asyncio.wait_for(main(), 120))


@pytest.mark.parametrize("lost", [0, 10])
def test_sipwire_publishes_to_sipp(tmp_path: Path, lost: int) -> None:
    port = free_port()
    proc = sipp("uas_esc.xml", port, tmp_path, lost)
    wait_bound(proc, port)

    async def main() -> None:
        async with UserAgent(t1=t1(lost)) as ua:
            for _ in range(CALLS):
                uri = f"sip:pres@{HOST}:{port}"
                pub = await ua.publish(uri, "presence", PIDF, "application/pidf+xml", expires=60)
                assert pub.expires == 120 and pub.etag is not None and "a" in pub.etag
                first = pub.etag
                assert (await pub.refresh()).status == 200
                assert pub.etag == first.replace("a", "b")
                assert (await pub.remove()).status == 200 and pub.etag is None
            await asyncio.get_running_loop().run_in_executor(
                None, wait_ok, proc, tmp_path, "uas_esc.xml"
            )

    try:
        asyncio.run(asyncio.wait_for(main(), 120))
    except BaseException:
        proc.kill()
        raise
