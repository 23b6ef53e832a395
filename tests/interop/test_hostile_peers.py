"""The proof of issue 15: ``sipwire fuzz`` with every hostile class, and the in-dialog
classes, over UDP and TCP, against the agent's own servers — ``sipwire load answer``, the
example UAS (``examples/uas.py``) and a ``UserAgent`` with default handlers
(``default_ua.py`` beside this file) — for a bounded number of rounds with several seeds:
the server keeps answering, every request sent inside a dialog gets a final response, and
nothing is found.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers import HOST, free_port
from test_fuzz_servers import wait_answering

from sipwire import campaign, mutations
from sipwire.campaign import Config, Target

HERE = Path(__file__).parent
EXAMPLES = HERE.parent.parent / "examples"
SEEDS = (1, 2, 3)
ROUNDS = 2


def command(name: str, transport: str, port: int) -> list[str]:
    if name == "load-answer":
        return [sys.executable, "-m", "sipwire", "load", "answer", "--port", str(port),
                "--transport", transport]  # fmt: skip
    if name == "example-uas":
        return [sys.executable, str(EXAMPLES / "uas.py"), "--port", str(port),
                "--transport", transport, "--hold-after", "0.2"]  # fmt: skip
    return [sys.executable, str(HERE / "default_ua.py"), "--port", str(port),
            "--transport", transport]  # fmt: skip


@pytest.fixture(params=["udp", "tcp"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["load-answer", "example-uas", "default-ua"])
def server(request: pytest.FixtureRequest, transport: str) -> Iterator[Target]:
    port = free_port()
    proc = subprocess.Popen(
        command(str(request.param), transport, port),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    target = Target.parse(f"{transport}:{HOST}:{port}")
    try:
        wait_answering(target)
        yield target
        assert proc.poll() is None, "the server exited"
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=5)
        # No traceback: nothing escaped the agent (a handler error is logged as one).
        assert b"Traceback" not in err, err.decode(errors="replace")


def test_every_class_leaves_the_server_answering_every_request(
    server: Target, tmp_path: Path
) -> None:
    sent: set[str] = set()
    for seed in SEEDS:
        summary = campaign.Campaign(
            Config(
                server,
                seed=seed,
                rounds=ROUNDS,
                round_size=40,
                valid_ratio=0.3,
                rate=2000,
                probe_timeout=0.5,
                out=tmp_path / str(seed),
                dialog_classes=campaign.DIALOG_CLASSES,
                dialogs_per_round=len(campaign.DIALOG_CLASSES),
                flood=10,
            )
        ).run()
        assert summary.alive and not summary.finds, summary.format()
        assert summary.unanswered == 0 and summary.dialogs > 0, summary.format()
        sent |= set(summary.by_class)
    assert {f"hostile:{c}" for c in mutations.MUTATIONS} <= sent, sorted(sent)
    assert {f"dialog:{c}" for c in campaign.DIALOG_CLASSES} <= sent, sorted(sent)
