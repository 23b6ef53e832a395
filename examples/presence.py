"""Presence (RFC 6665 SUBSCRIBE/NOTIFY with PIDF bodies): a notifier whose status flips
between open and closed, and a watcher that prints what it is told.

python examples/presence.py serve [--port 5060] [--changes 3] [--watchers 1]
python examples/presence.py watch sip:alice@127.0.0.1:5060
"""

from __future__ import annotations

import argparse
import asyncio
import re

import sipwire

PIDF = "application/pidf+xml"


def pidf(entity: str, basic: str) -> bytes:
    return (
        f'<?xml version="1.0"?><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="{entity}">'
        f'<tuple id="t1"><status><basic>{basic}</basic></status></tuple></presence>'
    ).encode()


async def publish_to(notifier: sipwire.Notifier, entity: str, changes: int) -> None:
    for i in range(changes):
        await asyncio.sleep(0.3)
        await notifier.notify(pidf(entity, "closed" if i % 2 == 0 else "open"), PIDF)
    await notifier.terminate("noresource")


async def serve(port: int, changes: int, watchers: int) -> None:
    async with sipwire.UserAgent(port=port, events=("presence",)) as ua:
        print("listening on", *ua.local_address, flush=True)
        entity = f"sip:alice@{ua.local_address[0]}"
        jobs = []
        async for sub in ua.subscriptions():
            print("watcher", sub.request.from_, "for", sub.expires, "s", flush=True)
            notifier = await sub.accept(body=pidf(entity, "open"), content_type=PIDF)
            jobs.append(asyncio.ensure_future(publish_to(notifier, entity, changes)))
            if watchers and len(jobs) >= watchers:
                break
        await asyncio.gather(*jobs)


async def watch(uri: str) -> None:
    async with sipwire.UserAgent() as ua:
        sub = await ua.subscribe(uri, "presence", expires=600, accept=[PIDF])
        async for n in sub:
            basic = re.search(rb"<basic>(\w+)</basic>", n.body)
            print(n.state, basic.group(1).decode() if basic else "-", flush=True)
        print("ended:", sub.reason)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=5060)
    s.add_argument("--changes", type=int, default=3, help="status changes per watcher")
    s.add_argument("--watchers", type=int, default=0, help="exit after this many (0: never)")
    w = sub.add_parser("watch")
    w.add_argument("uri")
    a = p.parse_args()
    if a.mode == "serve":
        asyncio.run(serve(a.port, a.changes, a.watchers))
    else:
        asyncio.run(watch(a.uri))
