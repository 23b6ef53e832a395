"""The package's import: `import sipwire` for parsing and captures does not load the user
agent (asyncio and its transports), and every public name still resolves."""

from __future__ import annotations

import subprocess
import sys

import sipwire


def test_import_leaves_the_user_agent_until_asked_for() -> None:
    code = (
        "import sys, sipwire, sipwire.capture\n"
        "sipwire.parse(b'OPTIONS sip:a@b SIP/2.0\\r\\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\\r\\n"
        "From: <sip:c@d>;tag=1\\r\\nTo: <sip:a@b>\\r\\nCall-ID: x\\r\\nCSeq: 1 OPTIONS\\r\\n"
        "Max-Forwards: 70\\r\\nContent-Length: 0\\r\\n\\r\\n')\n"
        "print(sorted(m for m in ('sipwire.ua', 'asyncio') if m in sys.modules))\n"
        "from sipwire import UserAgent\n"
        "print(UserAgent.__module__, 'sipwire.ua' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert out == ["[]", "sipwire.ua.agent True"]


def test_every_public_name_resolves() -> None:
    for name in sipwire.__all__:
        assert getattr(sipwire, name) is not None, name
    assert set(sipwire.__all__) <= set(dir(sipwire))
    assert sipwire.ua.UserAgent is sipwire.UserAgent
