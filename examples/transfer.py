"""Blind transfer: call someone, then send them on to a third party with REFER (RFC 3515)
and report what their NOTIFYs said.

    python examples/transfer.py sip:bob@127.0.0.1:5070 sip:carol@127.0.0.1:5080
"""

from __future__ import annotations

import argparse
import asyncio

import sipwire


async def main(first: str, target: str) -> int:
    async with sipwire.UserAgent() as ua:
        call = await ua.invite(first)
        print("talking to", first)
        status = await call.transfer(target)
        print("transfer to", target, "ended with", status)
        if status == 200:
            await asyncio.wait_for(call.wait_ended(), 10)  # the transferee hangs up on us
        else:
            await call.hangup()
        return 0 if status == 200 else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("first")
    p.add_argument("target")
    a = p.parse_args()
    raise SystemExit(asyncio.run(main(a.first, a.target)))
