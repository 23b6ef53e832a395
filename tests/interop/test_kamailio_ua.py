"""Two sipwire agents through a real Kamailio (registrar and record-routing proxy with digest
authentication, ``tests/data/kamailio/registrar.cfg``) on loopback: both register (401 with
qop=auth answered), Alice calls Bob through the proxy (407 answered), the call is held,
resumed and hung up along the recorded route, and both un-register."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from peers import HOST, kamailio

from sipwire import UserAgent

ROOT = Path(__file__).resolve().parent.parent.parent
CFG = ROOT / "tests" / "data" / "kamailio" / "registrar.cfg"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_register_and_call_through_kamailio(tmp_path: Path, transport: str) -> None:
    with kamailio(CFG, tmp_path) as (port, proc):
        proxy = (HOST, port)

        async def main() -> None:
            async with (
                UserAgent(transport=transport, user="alice") as alice,  # type: ignore[arg-type]
                UserAgent(transport=transport, user="bob") as bob,  # type: ignore[arg-type]
            ):
                reg_a = await alice.register(
                    f"sip:{HOST}:{port}", username="alice", password="secret", expires=300
                )
                reg_b = await bob.register(
                    f"sip:{HOST}:{port}", username="bob", password="secret", expires=300
                )
                assert any(f":{bob.local_address[1]}" in b for b in reg_b.bindings), reg_b
                assert reg_a.expires > 0

                async def answer() -> object:
                    async for inc in bob.incoming():
                        assert inc.request.headers.get("Record-Route") is not None
                        await inc.ring()
                        return await inc.answer()
                    return None

                callee = asyncio.ensure_future(answer())
                call = await alice.invite(f"sip:bob@{HOST}:{port}", dest=proxy)
                b = await callee
                # REGISTER twice (401 first) and INVITE twice (407 first).
                assert alice.endpoint.counters["transactions_created"] >= 4
                d = alice.endpoint.dialog(call.dialog)
                assert d is not None and len(d.route_set) == 1 and f":{port}" in d.route_set[0]
                assert (await call.hold()).status == 200
                assert (await call.unhold()).status == 200
                await call.hangup()
                await asyncio.wait_for(b.wait_ended(), 5)  # type: ignore[union-attr]
                await alice.unregister(reg_a)
                await bob.unregister(reg_b)

        asyncio.run(asyncio.wait_for(main(), 60))
        assert proc.poll() is None, "kamailio exited"


def test_register_example_against_kamailio(tmp_path: Path) -> None:
    with kamailio(CFG, tmp_path) as (port, _):
        run = [sys.executable, str(ROOT / "examples" / "register.py"), f"sip:{HOST}:{port}"]
        ok = subprocess.run([*run, "carol", "secret"], capture_output=True, text=True, timeout=30)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "registered sip:carol@127.0.0.1" in ok.stdout and "un-registered" in ok.stdout
        bad = subprocess.run([*run, "carol", "wrong"], capture_output=True, text=True, timeout=30)
        assert bad.returncode == 1 and "refused 401" in bad.stdout, bad.stdout + bad.stderr


def test_register_storm_with_digest_through_kamailio(tmp_path: Path) -> None:
    """``sipwire load call --scenario register``: every REGISTER is challenged (401, qop=auth)
    and answered with digest credentials by the Rust engine; each user its own ({n})."""
    with kamailio(CFG, tmp_path) as (port, proc):
        out = tmp_path / "register.json"
        r = subprocess.run(
            [
                sys.executable, "-m", "sipwire", "load", "call", f"sip:{HOST}:{port}",
                "--scenario", "register", "--user", "u{n}", "--password", "secret",
                "--rate", "50", "--duration", "1", "--quiet", "--json", str(out),
            ],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
        got = json.loads(out.read_text())
        assert got["attempted"] == got["completed"] == 50 and got["failed"]["total"] == 0
        # REGISTER, 401, REGISTER with Authorization, 200: two each way per call.
        assert got["messages"] == {"sent": 100, "received": 100}
        # A wrong password: each call fails with the second 401, counted by status.
        r = subprocess.run(
            [
                sys.executable, "-m", "sipwire", "load", "call", f"sip:{HOST}:{port}",
                "--scenario", "register", "--user", "u{n}", "--password", "wrong",
                "--rate", "20", "--duration", "0.5", "--quiet", "--json", str(out),
            ],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert r.returncode == 1, r.stdout + r.stderr
        got = json.loads(out.read_text())
        assert got["failed"]["total"] == got["attempted"] == 10
        assert [x["status"] for x in got["failed"]["by_status"]] == [401]
        assert proc.poll() is None
