"""Place a call, keep it up for a while, hang up.

python examples/uac.py sip:service@127.0.0.1:5060 [--seconds 2] [--port 0]
"""

from __future__ import annotations

import argparse
import asyncio

import sipwire


async def main(uri: str, seconds: float, port: int) -> int:
    async with sipwire.UserAgent(port=port) as ua:
        try:
            call = await ua.invite(uri, on_provisional=lambda r: print("progress", r.status))
        except sipwire.CallFailed as e:
            print("failed", e.status, e.reason)
            return 1
        media = call.remote_sdp.media[0] if call.remote_sdp and call.remote_sdp.media else None
        if media is not None:
            print("answered; remote RTP port", media.port, [c.name for c in media.codecs])
        await asyncio.sleep(seconds)
        await call.hangup()
        print("hung up")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("uri")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--port", type=int, default=0)
    a = p.parse_args()
    raise SystemExit(asyncio.run(main(a.uri, a.seconds, a.port)))
