"""Answer every call, put it on hold and take it off again, wait for the caller's BYE.

python examples/uas.py [--port 5060] [--transport udp|tcp] [--calls N] [--hold-after 0.5]
                       [--accept-transfers]

A caller's REFER is declined unless ``--accept-transfers`` (then only to sip: and sips:
targets); the agent copies no dangerous Refer-To headers either way.
"""

from __future__ import annotations

import argparse
import asyncio

import sipwire


async def serve(call: sipwire.Call, hold_after: float) -> None:
    await asyncio.sleep(hold_after)
    try:
        if call.state != "ended":
            print("hold", (await call.hold()).status)
            await asyncio.sleep(hold_after)
        if call.state != "ended":
            print("resume", (await call.unhold()).status)
    except sipwire.SipwireError as e:
        # A peer that misbehaves (no answer, a call gone meanwhile) ends only its call.
        print("call failed:", e)
        await call.hangup()
    await call.wait_ended()
    print("ended")


def transfers(refer: sipwire.Refer) -> bool:
    print("transfer to", refer.target, flush=True)
    return refer.target.startswith(("sip:", "sips:"))


async def main(
    port: int, transport: str, calls: int, hold_after: float, accept_transfers: bool
) -> None:
    async with sipwire.UserAgent(
        port=port,
        transport="tcp" if transport == "tcp" else "udp",
        on_refer=transfers if accept_transfers else None,
    ) as ua:
        print("listening on", *ua.local_address, flush=True)
        served = []
        async for incoming in ua.incoming():
            print("call from", incoming.request.from_, flush=True)
            try:
                await incoming.ring()
                call = await incoming.answer()
            except sipwire.CallFailed as e:
                print("not answered:", e.status, flush=True)  # the caller cancelled
                continue
            served.append(asyncio.ensure_future(serve(call, hold_after)))
            if calls and len(served) >= calls:
                break
        await asyncio.gather(*served, return_exceptions=True)
    # Leaving the agent hangs up what is still up (a call placed for a transfer, say).


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=5060)
    p.add_argument("--transport", choices=["udp", "tcp"], default="udp")
    p.add_argument("--calls", type=int, default=0, help="exit after this many (0: never)")
    p.add_argument("--hold-after", type=float, default=0.5)
    p.add_argument("--accept-transfers", action="store_true", help="follow REFERs to sip(s):")
    a = p.parse_args()
    asyncio.run(main(a.port, a.transport, a.calls, a.hold_after, a.accept_transfers))
