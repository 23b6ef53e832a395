"""The documentation site: it builds with warnings as errors, its examples run, every internal
link and anchor resolves, and every page loads in headless chromium with no console message.

``docs/README.md`` says which code blocks run: every ```` ```python ```` block of a page, in
order, in one namespace per page; ```` ```py ```` blocks (a server, a capture file, a network)
are shown only.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if p.name != "README.md" and p.name != "benchmarks.md")

pytestmark = pytest.mark.docs


def _python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", page.read_text(encoding="utf-8"), re.M | re.S)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_examples_run(page: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for i, block in enumerate(_python_blocks(page)):
        code = compile(block, f"{page.relative_to(ROOT)} (python block {i + 1})", "exec")
        exec(code, namespace)


def test_every_guide_has_an_example_that_runs() -> None:
    guides = [p for p in PAGES if p.parent.name == "guide"]
    assert {p.stem for p in guides} >= {
        "parse",
        "build",
        "sdp",
        "user-agent",
        "captures",
        "fuzz",
        "load",
    }
    runnable = {p.stem for p in guides if _python_blocks(p)}
    assert runnable >= {"parse", "build", "sdp", "captures", "fuzz"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    r = subprocess.run(
        [sys.executable, str(DOCS / "build.py"), "--site", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
            "NO_MKDOCS_2_WARNING": "1",
        },
    )
    assert r.returncode == 0, f"mkdocs build --strict failed:\n{r.stdout}\n{r.stderr}"
    return out


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        for key in ("href", "src"):
            v = a.get(key)
            if v and not (tag == "link" and a.get("rel") in ("canonical",)):
                self.refs.append(v)


def _parse(page: Path) -> _Links:
    p = _Links()
    p.feed(page.read_text(encoding="utf-8"))
    return p


def _html_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if p.name != "404.html")


def test_site_has_every_page_and_the_generated_reference(site: Path) -> None:
    pages = {str(p.relative_to(site)) for p in _html_pages(site)}
    for want in ("index.html", "guide/parse/index.html", "reference/core/index.html"):
        assert want in pages
    assert "benchmarks/index.html" in pages
    core = (site / "reference" / "core" / "index.html").read_text(encoding="utf-8")
    # From the stub: a class, a method's signature and a docstring sentence.
    for text in ("ViaList", "parse_batch", "Every Via value of a message"):
        assert text in core
    bench = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "time_per_message.png" in bench and "sippy" in bench


def test_internal_links_and_anchors_resolve(site: Path) -> None:
    broken = []
    # Each page's anchors read once: the reference pages link to their own anchors hundreds of
    # times, and parsing the target again for each link took minutes of CI.
    ids: dict[Path, set[str]] = {}
    for page in _html_pages(site):
        for ref in _parse(page).refs:
            parts = urlsplit(ref)
            if parts.scheme or ref.startswith("//") or ref.startswith("mailto:"):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: {ref}")
                continue
            if parts.fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = _parse(target).ids
                if parts.fragment not in ids[target]:
                    broken.append(f"{page.relative_to(site)}: {ref} (no such anchor)")
    assert broken == []


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("chromium is missing: scripts/dev.sh setup installs it (Debian package chromium)")


def test_pages_load_in_chromium_without_console_messages(
    site: Path, served: str, tmp_path: Path
) -> None:
    browser = _chromium()
    problems = []
    for page in _html_pages(site):
        rel = page.relative_to(site).as_posix()
        url = served + (rel[: -len("index.html")] if rel.endswith("index.html") else rel)
        r = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=3000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        console = [line for line in r.stderr.splitlines() if ":CONSOLE" in line]
        if r.returncode != 0 or console:
            problems.append(f"{rel}: rc={r.returncode} {console}")
        # The page rendered: the theme's script ran and the title is in the DOM.
        elif "<h1" not in r.stdout or "md-header" not in r.stdout:
            problems.append(f"{rel}: did not render")
    assert problems == []
