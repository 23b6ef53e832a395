"""Answer every call, put it on hold and take it off again, wait for the caller's BYE.

python examples/uas.py [--port 5060] [--calls N] [--hold-after 0.5]
"""

from __future__ import annotations

import argparse
import asyncio

import sipwire


async def serve(call: sipwire.Call, hold_after: float) -> None:
    await asyncio.sleep(hold_after)
    if call.state != "ended":
        print("hold", (await call.hold()).status)
        await asyncio.sleep(hold_after)
    if call.state != "ended":
        print("resume", (await call.unhold()).status)
    await call.wait_ended()
    print("ended")


async def main(port: int, calls: int, hold_after: float) -> None:
    async with sipwire.UserAgent(port=port) as ua:
        print("listening on", *ua.local_address, flush=True)
        served = []
        async for incoming in ua.incoming():
            print("call from", incoming.request.from_, flush=True)
            await incoming.ring()
            call = await incoming.answer()
            served.append(asyncio.ensure_future(serve(call, hold_after)))
            if calls and len(served) >= calls:
                break
        await asyncio.gather(*served)
    # Leaving the agent hangs up what is still up (a call placed for a transfer, say).


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=5060)
    p.add_argument("--calls", type=int, default=0, help="exit after this many (0: never)")
    p.add_argument("--hold-after", type=float, default=0.5)
    a = p.parse_args()
    asyncio.run(main(a.port, a.calls, a.hold_after))
