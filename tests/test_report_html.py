"""``sipwire analyze --html``: one self-contained page, checked in a real headless browser.

Debian's chromium (scripts/dev.sh setup installs it) loads the report from a file with the
network unused: ``--dump-dom`` gives the DOM after the scripts ran (a row per call; with
``#call=ID`` that call's ladder opened by the page's own script), ``--enable-logging=stderr``
prints every console message (the page logs none; an exception, a CSP violation or a fetch
would), and ``--screenshot`` draws it: the PNG has the window's size and is not blank.
Without chromium this is a skip, and in CI (``CI`` set) a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import analyze_standin
import pyarrow as pa
import pytest

import sipwire.capture
from sipwire.cli import main
from sipwire.tools import analyze as tool
from sipwire.tools import report_html

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "examples" / "calls.pcapng"
CALL_IDS = [
    "aef5b9236215ea15",
    "64a62d9c6edc2811",
    "cefc345ecf3c89d0",
    "433d0f32e7065516",
    "05f223bb7f96ff45",
]
WINDOW = (1280, 2000)


@pytest.fixture(autouse=True)
def analyze_available(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(sipwire.capture, "analyze"):
        monkeypatch.setattr(sipwire.capture, "analyze", analyze_standin.analyze, raising=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "calls.html"
    with pytest.MonkeyPatch.context() as mp:
        if not hasattr(sipwire.capture, "analyze"):
            mp.setattr(sipwire.capture, "analyze", analyze_standin.analyze, raising=False)
        assert main(["analyze", str(CAPTURE), "--quiet", "--json", "--html", str(path)]) == 0
    return path


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    message = "chromium is missing (Debian package chromium; scripts/dev.sh setup installs it)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run the browser checks", pytrace=False)
    pytest.skip(message)


def browse(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",  # tests run as root in CI
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={Path(url.split('#')[0].removeprefix('file://')).parent / 'profile'}",
        *extra,
        url,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def console(stderr: str) -> list[str]:
    """The page's console messages (and uncaught errors) chromium logged."""
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]


def test_report_is_self_contained(report: Path) -> None:
    page = report.read_text()
    assert page.startswith("<!doctype html>")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # Nothing to fetch: no external scripts, styles, images or fonts.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page, re.I)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert re.findall(r"https?://[^\s\"'<>]+", page) == ["http://www.w3.org/2000/svg"] * len(
        re.findall('<svg class="ladder"', page)
    )
    for cid in CALL_IDS:
        assert cid in page
    assert page.count('<tr class="call"') == len(CALL_IDS)
    assert page.count('<template id="ladder-') == len(CALL_IDS)
    assert "<th>Session request delay</th>" in page


def test_browser_loads_it_without_console_errors_and_shows_the_calls(report: Path) -> None:
    url = f"{report.as_uri()}#call={CALL_IDS[1]}"
    proc = browse(url, "--dump-dom", "--virtual-time-budget=3000")
    assert console(proc.stderr) == []
    dom = proc.stdout
    rows = re.findall(r'<tr class="call[^"]*"[^>]*>.*?(?=<tr |</tbody>)', dom, re.S)
    assert len(rows) == len(CALL_IDS)
    for cid, row in zip(CALL_IDS, rows):
        assert f'title="{cid}"' in row
    outcomes = [re.search(r'data-outcome="([^"]+)"', r).group(1) for r in rows]  # type: ignore[union-attr]
    assert outcomes == ["answered", "answered", "busy", "cancelled", "answered"]
    # The page's script opened the forked call from the URL: its ladder, SDP and RTP.
    assert 'class="call open"' in dom
    detail = re.search(r'<tr class="detail">.*?(?=<tr class="call|<h2>Capture)', dom, re.S)
    assert detail, "the call from #call= was not opened"
    panel = detail.group(0)
    assert '<svg class="ladder"' in panel
    for host in ("127.0.0.10:5070", "127.0.0.1:5170", "127.0.0.20:5070", "127.0.0.21:5070"):
        assert host in panel
    assert "487 Request Terminated" in panel and "CANCEL" in panel
    assert "SDP offer/answer" in panel and "RTP streams" in panel
    assert "INVITE sip:bob@" in panel  # the messages' text, shown on click
    # The plots are there (drawn in Python, so they need no script).
    assert dom.count('class="plot"') == 3


def png_size_and_colours(data: bytes) -> tuple[int, int, int]:
    """Width, height and how many distinct bytes a sample of the pixel data holds."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat = b""
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(idat)
    return width, height, len(set(pixels[:: max(1, len(pixels) // 200_000)]))


def test_screenshot_is_the_report(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    proc = browse(
        report.as_uri(),
        f"--screenshot={shot}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--hide-scrollbars",
        "--virtual-time-budget=3000",
    )
    assert console(proc.stderr) == []
    width, height, colours = png_size_and_colours(shot.read_bytes())
    assert (width, height) == WINDOW
    assert colours > 50, "the screenshot is blank"
    if os.environ.get("SIPWIRE_REPORT_SCREENSHOT"):  # to look at it
        shutil.copy(shot, os.environ["SIPWIRE_REPORT_SCREENSHOT"])


def test_hostile_capture_text_stays_text(tmp_path: Path) -> None:
    evil = '"><script>alert(1)</script><img src=x onerror=alert(2)>\x1b]0;x\x07'
    a = sipwire.capture.analyze(str(CAPTURE), raw=True)
    res = tool.Result(
        [str(CAPTURE)],
        pa.table(a.calls),
        pa.table(a.media),
        pa.table(a.rtp_streams),
        pa.table(a.dtmf),
        dict(a.stats),
    )
    calls = res.calls
    res.calls = calls.set_column(
        calls.schema.get_field_index("caller"), "caller", pa.array([evil] * calls.num_rows)
    )
    messages = pa.table(a.messages)
    for batch in messages.to_batches():
        res.span.add(batch)
    res.messages = messages
    page = report_html.render(res, tool.summarize(res))
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\x1b" not in page and "\x07" not in page
    path = tmp_path / "evil.html"
    path.write_text(page)
    proc = browse(path.as_uri(), "--dump-dom", "--virtual-time-budget=2000")
    assert console(proc.stderr) == []  # an alert() or a blocked image would be logged
    assert proc.stdout.count('<tr class="call"') == len(CALL_IDS)


@pytest.mark.parametrize("n", [3, 1000, 5000])
def test_setup_plot_stays_readable_with_many_calls(n: int) -> None:
    """Every call is a point of the setup-time plot; past a few hundred the markers shrink and
    lose their outline (a dense plot shows where the calls are, not a wall of markers), and
    past a few thousand they keep no tooltip (the page stays small)."""
    calls = [
        {
            "call_id": f"c{i}",
            "invite_time": i * 0.01,
            "post_dial_delay": 0.03,
            "time_to_answer": 0.1 + (i % 7) * 0.01,
        }
        for i in range(n)
    ]
    svg = report_html.delay_svg(calls, 0.0, n * 0.01)
    assert svg.count('<circle class="pt-setup"') == n
    assert svg.count('<rect class="pt-pdd"') == n
    assert ('<g class="dense">' in svg) == (n > 400)
    assert svg.count("<title>c") == (2 * n if 2 * n <= 4000 else 0)
    radii = {float(r) for r in re.findall(r'<circle class="pt-setup"[^>]* r="([0-9.]+)"', svg)}
    assert radii == {5.5} if n <= 400 else max(radii) < 5.5
