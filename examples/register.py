"""Register at a registrar with digest authentication, show the bindings, un-register.

python examples/register.py sip:127.0.0.1:5060 alice secret
"""

from __future__ import annotations

import argparse
import asyncio

import sipwire


async def main(registrar: str, username: str, password: str) -> int:
    async with sipwire.UserAgent(user=username) as ua:
        try:
            reg = await ua.register(registrar, username=username, password=password, expires=60)
        except sipwire.CallFailed as e:
            print("refused", e.status, e.reason)
            return 1
        print("registered", reg.aor, "for", reg.expires, "s; bindings:")
        for b in reg.bindings:
            print("  ", b)
        await ua.unregister(reg)
        print("un-registered")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("registrar")
    p.add_argument("username")
    p.add_argument("password")
    a = p.parse_args()
    raise SystemExit(asyncio.run(main(a.registrar, a.username, a.password)))
