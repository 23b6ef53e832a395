"""A ``sipwire.UserAgent`` with default handlers, as a fuzz target: the README's loop (answer
every call) and nothing else; REFER, challenges, subscriptions and the rest are left to the
agent's defaults.

    python default_ua.py --port 5060 [--transport tcp]
"""

from __future__ import annotations

import argparse
import asyncio

import sipwire


async def main(port: int, transport: str) -> None:
    kind = "tcp" if transport == "tcp" else "udp"
    async with sipwire.UserAgent(port=port, transport=kind) as ua:
        print("listening on", *ua.local_address, flush=True)
        async for incoming in ua.incoming():
            try:
                await incoming.answer()
            except sipwire.CallFailed:
                continue  # cancelled before the answer


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--transport", choices=["udp", "tcp"], default="udp")
    a = p.parse_args()
    asyncio.run(main(a.port, a.transport))
