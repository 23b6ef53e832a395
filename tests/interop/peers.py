"""What the interop tests share: finding a real peer (never a silent skip in CI) and ports."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

HOST = "127.0.0.1"


def peer_binary(name: str, package: str) -> str:
    """The path of ``name``; a skip locally, a failure in CI (``CI`` set), when missing."""
    path = shutil.which(name)
    if path is None:
        message = (
            f"{name} not found: install the Debian package {package} "
            f"(apt-get install -y {package}, or scripts/dev.sh setup)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the interop tests", pytrace=False)
        pytest.skip(message)
    return path


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port
