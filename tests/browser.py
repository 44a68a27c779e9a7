"""A real headless Chromium (Debian's ``chromium-headless-shell``, else ``chromium``) driven by
Playwright through its executable path: Playwright never downloads a browser of its own.

``open_page`` loads a local HTML file with a fresh profile and no network, and reports console
errors, page errors and every request the page tried to make. With ``CI=true`` a browser that
cannot start fails the test (``realservers.unavailable``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realservers import unavailable

BROWSERS = ("chromium-headless-shell", "chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@dataclass
class PageVisit:
    page: Any
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def count(self, selector: str) -> int:
        return self.page.locator(selector).count()


def browser_path() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    unavailable("no headless Chromium (apt-get install chromium-headless-shell)")
    raise AssertionError("unreachable")


@contextmanager
def open_page(html: Path) -> Iterator[PageVisit]:
    executable = browser_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e .[test])")
    with (
        tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile,
        sync_playwright() as playwright,
    ):
        try:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=executable, headless=True, args=ARGS
            )
        except Exception as error:  # noqa: BLE001 - any failure to start is "no browser"
            unavailable(f"{executable} did not start: {error}")
        try:
            page = context.new_page()
            visit = PageVisit(page)
            page.on(
                "console",
                lambda m: visit.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda error: visit.console_errors.append(str(error)))
            page.on("request", lambda request: visit.requests.append(request.url))
            page.goto(html.absolute().as_uri(), wait_until="load")
            yield visit
        finally:
            context.close()
