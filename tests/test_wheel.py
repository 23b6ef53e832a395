"""The wheel: installs with no compiler, runs, and is a manylinux2014 wheel.

The wheel is the one ``scripts/dev.sh wheel`` left in ``dist/`` for this interpreter when it is
newer than every source file; otherwise one is built here for this interpreter alone (the same
``maturin build --zig --compatibility manylinux2014`` as ``dev.sh wheel``, with the release
profile's LTO turned off: that saves minutes of CI time and changes nothing this test checks).
It is installed into a fresh virtual environment whose PATH has no cargo or rustc, and must
answer ``sipwire --version``, ``sipwire parse``, and import every public module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

import sipwire

ROOT = Path(__file__).resolve().parents[1]
TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"

pytestmark = pytest.mark.wheel

# Public modules that need an optional extra, which the bare environment does not have.
OPTIONAL = ("sipwire.strategies",)


def _newest_source() -> float:
    files = subprocess.run(
        ["git", "ls-files", "rust", "python", "Cargo.toml", "Cargo.lock", "pyproject.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return max((ROOT / f).stat().st_mtime for f in files if (ROOT / f).exists())


def _current_dist_wheel() -> Path | None:
    pattern = f"sipwire-{sipwire.__version__}-{TAG}-{TAG}-manylinux*x86_64.whl"
    found = sorted((ROOT / "dist").glob(pattern), key=lambda p: p.stat().st_mtime)
    if found and found[-1].stat().st_mtime > _newest_source():
        return found[-1]
    return None


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    current = _current_dist_wheel()
    if current is not None:
        return current
    out = tmp_path_factory.mktemp("wheel")
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    # maturin finds zig as `python -m ziglang`: this interpreter's environment comes first.
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["CARGO_PROFILE_RELEASE_LTO"] = "false"
    env["CARGO_PROFILE_RELEASE_CODEGEN_UNITS"] = "16"
    cmd = [sys.executable, "-m", "maturin", "build", "--release", "--zig"]
    cmd += ["--compatibility", "manylinux2014", "--interpreter", sys.executable, "--out", str(out)]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, f"maturin build failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    (built,) = out.glob("*.whl")
    return built


def test_wheel_ships_the_stub_and_py_typed(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for must in ("sipwire/py.typed", "sipwire/_sipwire.pyi", "sipwire/__init__.py"):
        assert must in names, f"{must} missing from {wheel.name}"
    assert any(n.startswith("sipwire/_sipwire.") and n.endswith(".so") for n in names)


def test_auditwheel_confirms_manylinux2014(wheel: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert '"manylinux_2_17_x86_64"' in text, r.stdout  # manylinux2014 = manylinux_2_17


def test_installs_and_runs_without_a_compiler(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True, clear=True)
    py = env_dir / "bin" / "python"
    path = os.pathsep.join([str(env_dir / "bin"), "/usr/bin", "/bin"])
    assert shutil.which("cargo", path=path) is None and shutil.which("rustc", path=path) is None
    env = {"PATH": path, "HOME": str(tmp_path), "LANG": "C.UTF-8"}

    def run(*args: str) -> str:
        r = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 0, f"{args}: {r.stdout}\n{r.stderr}"
        return r.stdout

    # --no-index: the wheel or nothing (pip must not fall back to building a source tree).
    run(str(py), "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", str(wheel))
    assert run(str(env_dir / "bin" / "sipwire"), "--version").strip() == (
        f"sipwire {sipwire.__version__}"
    )
    out = run(str(env_dir / "bin" / "sipwire"), "parse", str(ROOT / "examples" / "invite.sip"))
    assert "INVITE" in out
    # A module that needs an optional extra must say which when it is missing: the fresh
    # environment has no hypothesis (sipwire.strategies, extra "test").
    imported = run(
        str(py),
        "-c",
        "import importlib, pkgutil, sipwire\n"
        "names = [m.name for m in pkgutil.walk_packages(sipwire.__path__, 'sipwire.')\n"
        "         if not any(p.startswith('_') for p in m.name.split('.'))]\n"
        "ok, extra = [], []\n"
        "for n in names:\n"
        "    try:\n"
        "        importlib.import_module(n); ok.append(n)\n"
        "    except ImportError as e:\n"
        "        assert 'pip install' in str(e), (n, e); extra.append(n)\n"
        "print(sipwire.__file__); print(' '.join(ok)); print(' '.join(extra))",
    ).split("\n")
    assert imported[0].startswith(str(env_dir)), "imported the working tree, not the wheel"
    assert {"sipwire.cli", "sipwire.sdp", "sipwire.ua", "sipwire.ua.agent"} <= set(
        imported[1].split()
    )
    assert imported[2].split() == [m for m in OPTIONAL if m in imported[2].split()]
    assert set(imported[2].split()) <= set(OPTIONAL)
