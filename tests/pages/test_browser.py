"""The pages in a real browser: Debian's chromium, headless, driven by Playwright.

Sign in, open a subscription, copy a feed address, download the OPML and
follow it back to a live feed; the ops page; no CSP violation and no script
from feed content ever runs. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
import uvicorn

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                     "(pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian chromium is not installed (apt-get install chromium chromium-driver)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_site(site):
    """The site's API on a real uvicorn server in this process."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(site.app(public_url=base), host="127.0.0.1", port=port,
                                           log_level="warning", log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the test server did not start"
    yield site, base
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageWatch:
    """Everything a page did that a user must never see: CSP violations, errors, alert dialogs."""

    def __init__(self, page) -> None:
        self.problems: list[str] = []
        page.on("console", lambda m: self.problems.append(f"{m.text} {m.location.get('url')}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(str(e)))
        page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))


def test_a_salesperson_signs_in_subscribes_and_downloads_the_opml(live_site, browser):
    site, base = live_site
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    watch = PageWatch(page)

    page.goto(f"{base}/app")
    assert page.url == f"{base}/app/sign-in"
    page.get_by_label("Feed token").fill(site.alice)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/app/users/alice@example.com")
    assert page.get_by_role("heading", name="Prospects of alice@example.com").is_visible()
    cards = page.locator("article.card h3").all_inner_texts()
    assert set(cards) == {"Apple Inc.", "Snowflake Inc."}

    # Subscribe to one prospect: the disclosure opens on the feed address; Copy puts it on the clipboard.
    address = page.get_by_label("Atom (most readers)").and_(page.locator("#feed-apple-atom"))
    assert not address.is_visible()
    page.get_by_text("Subscribe to Apple Inc.").click()
    assert address.is_visible()
    url = address.input_value()
    assert url.startswith(f"{base}/feeds/prospects/apple.atom?token=")
    page.locator('button[data-copy="feed-apple-atom"]').click()
    playwright_api.expect(page.locator("#feed-apple-atom-status")).to_have_text(re.compile("^Feed address copied"))
    assert page.evaluate("navigator.clipboard.readText()") == url
    assert httpx.get(url).status_code == 200  # the copied address is a working private feed

    page.screenshot(path=str(ARTIFACTS / "salesperson-page.png"), full_page=True)

    # One click for the whole bundle: the OPML lists the bundle and each prospect, tokens included.
    with page.expect_download() as caught:
        page.get_by_role("link", name="Download OPML").click()
    download = caught.value
    saved = ARTIFACTS / download.suggested_filename
    download.save_as(saved)
    assert saved.name == "prospect-intel-alice.opml"
    outlines = {o.get("text"): o.get("xmlUrl") for o in ET.parse(saved).iter("outline") if o.get("xmlUrl")}
    assert {"Apple Inc.", "Snowflake Inc."} <= set(outlines)
    bundle = next(u for t, u in outlines.items() if t.startswith("All my prospects"))
    feed = httpx.get(bundle)
    assert feed.status_code == 200 and "Apple Inc. raises $2 billion" in feed.text

    # The preview: matched words highlighted, and why each entry is there; hostile content inert.
    page.get_by_role("link", name="Preview feed").first.click()
    page.wait_for_url(f"{base}/app/prospects/*")
    assert page.locator("mark.who").count() > 0
    assert page.locator(".why").first.inner_text().startswith("Why it is here:")
    page.screenshot(path=str(ARTIFACTS / "feed-preview.png"), full_page=True)

    assert watch.problems == []
    context.close()


def test_ops_sees_failing_sources_and_config_errors(live_site, browser):
    site, base = live_site
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch = PageWatch(page)
    page.goto(f"{base}/app/sign-in?token={site.admin}")  # the link from an email
    page.wait_for_url(f"{base}/app/users/ops@example.com")
    assert "token" not in page.url
    page.get_by_role("link", name="Operations").click()
    page.wait_for_url(f"{base}/app/ops")
    failing = page.locator("#sources tbody tr").first
    assert "Flaky Wire" in failing.inner_text() and "failing" in failing.inner_text()
    assert page.get_by_role("alert").inner_text().count("not applied") == 1
    page.screenshot(path=str(ARTIFACTS / "ops-page.png"), full_page=True)

    # Signing out forgets the token.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/app/sign-in")
    page.goto(f"{base}/app/ops")
    assert page.url == f"{base}/app/sign-in"
    assert watch.problems == []
