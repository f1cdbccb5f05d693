"""The search page of ``splade-lite serve`` in a real browser (Playwright driving Debian's
Chromium) against the real command on a free loopback port: a query typed, hits drawn with
their matched words marked, BM25's ranking beside them, and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)", allow_module_level=True)

pytestmark = [pytest.mark.jvm, pytest.mark.slow]
#: Where to keep a screenshot of the page with results (the one of the documentation).
SCREENSHOT = os.environ.get("SPLADE_LITE_SERVE_SCREENSHOT")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_built, tmp_path_factory):
    """`splade-lite serve` of the session's two small indexes, as a process."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    script = "import sys; from splade_lite.cli_serve import serve; serve(sys.argv[1:])"
    command = [sys.executable, "-c", script, str(tiny_built / "index"),
               str(tiny_built / "index-if"), "--port", str(port)]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the server did not start:\n{log.read_text()}")
        time.sleep(0.3)
    yield url, process, log
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


def search(page, url: str, query: str, mode: str = "sparse", index: str = "index") -> None:
    page.goto(url + "/")
    page.wait_for_selector(f"#index option[value='{index}']", state="attached")
    page.select_option("#index", index)
    page.check(f"input[name=mode][value={mode}]")
    page.fill("#query", query)
    page.click("#go")
    # a selector, not a script: the page's Content-Security-Policy allows no eval
    page.locator("#status", has_text="hits in").wait_for()


def test_hits_mark_query_and_expansion_terms_beside_bm25(server, browser, tmp_path):
    url = server[0]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    search(page, url, "vitamin deficiency")
    hits = page.locator("#hits li.hit")
    assert hits.count() >= 2
    first = hits.nth(0)
    assert first.get_attribute("data-docid") == "d1"
    assert first.locator(".title").inner_text() == "Vitamin D"
    # the query's own words, marked as query terms
    marked = first.locator("mark.term").all_inner_texts()
    assert "Vitamin" in marked and "deficiency" in marked
    # d3 holds "disease", which the model added to the query: marked as an expansion
    d3 = page.locator("#hits li.hit[data-docid=d3]")
    d3.locator("mark.expansion").first.wait_for()
    assert "disease" in d3.locator("mark.expansion").all_inner_texts()
    # one bar per term contribution, the heaviest full length
    bars = first.locator(".terms .bar")
    assert bars.count() >= 2
    assert "width: 100%" in bars.nth(0).get_attribute("style")
    # BM25's ranking, side by side
    assert page.locator("#side-title").inner_text().upper() == "BM25"
    side = page.locator("#side-hits li.side-hit")
    assert side.count() >= 1 and side.nth(0).get_attribute("data-docid") == "d1"
    assert "BM25 #1" in first.locator(".other-rank").inner_text()
    assert errors == []
    shot = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "serve.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    page.close()


def test_word_pieces_mark_the_whole_word_and_bm25_mode_swaps_the_columns(server, browser):
    url = server[0]
    page = browser.new_page()
    search(page, url, "coffee")
    d6 = page.locator("#hits li.hit[data-docid=d6]")
    marks = d6.locator(".snippet mark")
    pieces = dict(
        zip(marks.all_inner_texts(), [m.get_attribute("data-terms") for m in marks.all()])
    )
    assert any(t.startswith("##") for terms in pieces.values() for t in terms.split()), pieces
    assert all(" " not in word for word in pieces)  # a whole word, never a part of one
    search(page, url, "coffee", mode="bm25", index="index-if")
    assert page.locator("#main-title").inner_text().upper() == "BM25"
    assert page.locator("#side-title").inner_text().upper() == "LEARNED SPARSE"
    assert page.locator("#hits li.hit").first.get_attribute("data-docid") == "d6"
    page.close()


def test_the_server_stops_cleanly_on_sigterm(server):
    _, process, log = server
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"the server did not stop on SIGTERM:\n{log.read_text()}")
    # uvicorn shuts down, then ends by the signal it caught (as a process killed by it)
    assert code in (0, -signal.SIGTERM), log.read_text()
    text = log.read_text()
    assert "Application shutdown complete" in text and "Traceback" not in text
