from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


def corpus(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((DATA / name / "index.json").read_text())["cases"]
    return cases


@pytest.fixture
def invite() -> bytes:
    return (DATA.parent.parent / "examples" / "invite.sip").read_bytes()
