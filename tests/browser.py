"""A real browser for tests: Debian's Chromium, driven by Playwright, watching what a page does.

No browser is ever downloaded: Playwright launches the machine's Chromium. In CI a missing
Chromium fails the test (.ci/run installs it); elsewhere the test is skipped.
"""

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from playwright.async_api import ConsoleMessage, Page, Request, async_playwright

# Root in a container needs --no-sandbox; the rest keeps Chromium from calling home, since
# the test network is closed and any request the page did not make would muddy the record.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Runs before the page's own scripts in every document, so no violation goes unseen.
RECORD_VIOLATIONS = (
    "document.addEventListener('securitypolicyviolation', e => "
    "window.__recordViolation(e.violatedDirective + ' ' + e.blockedURI));"
)


def chromium_executable() -> str:
    """Debian's Chromium, or fail (in CI) or skip (elsewhere) the test."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Chromium for the browser test; .ci/run installs it")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return binary


@dataclass
class WatchedPage:
    """A page and everything it did: requests, CSP violations, console and script errors."""

    page: Page
    requested: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _on_request(self, request: Request) -> None:
        self.requested.append(request.url)


@asynccontextmanager
async def watched_page(timeout_seconds: float = 15) -> AsyncIterator[WatchedPage]:
    """A fresh headless Chromium page, recording what it does until the block ends."""
    executable = chromium_executable()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context()
            violations: list[str] = []

            def record_violation(violation: str) -> None:
                violations.append(violation)

            await context.expose_function("__recordViolation", record_violation)
            await context.add_init_script(RECORD_VIOLATIONS)
            watched = WatchedPage(await context.new_page(), violations=violations)
            context.on("request", watched._on_request)
            watched.page.on("console", watched._on_console)
            watched.page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
            watched.page.set_default_timeout(timeout_seconds * 1000)
            yield watched
        finally:
            await browser.close()
