"""Debian's Chromium through Playwright, and the console served by uvicorn on a free port.

Never a downloaded browser: `/usr/bin/chromium` (make test installs it with apt-get when it is
missing). When it cannot start, the browser tests FAIL saying so; they never skip.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Locator, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# docs/screenshots with `make screenshots`; a temporary folder otherwise (tests/web/conftest.py).
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        except Exception as exc:
            pytest.fail(
                f"Chromium ({CHROMIUM}) cannot start: {exc}\n"
                "install Debian's: apt-get install -y chromium (make test does this)",
                pytrace=False,
            )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def served(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """The app on a free port in a thread; yields its loopback address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the console did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def tab_to(page: Page, text: str, limit: int = 60) -> None:
    """Press Tab until the focused element's text or label is `text` (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement;"
            " return (e.innerText || e.value || '').trim(); }"
        )
        if focused == text:
            return
    raise AssertionError(f"no focusable {text!r} within {limit} presses of Tab")


def unlabelled(page: Page) -> list[str]:
    """The form fields of the page that have no label (there should be none)."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll(
                "input:not([type=hidden]), select, textarea")]
            .filter(e => e.labels.length === 0 && !e.getAttribute("aria-label"))
            .map(e => e.outerHTML)"""
    )
    return found


def shoot(page: Page, name: str, at: Locator | None = None) -> None:
    """What a person sees first at 1280 px (a laptop) and 390 px (a phone): the screen, not the
    whole page (scrolled to `at` when given), into SHOTS/NAME-WIDTH.png. Every field must have
    a label."""
    assert unlabelled(page) == [], name
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        if at is not None:
            at.evaluate("e => e.scrollIntoView()")
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
