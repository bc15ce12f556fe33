"""Browser layer: find or connect to Chromium, and open network-fenced contexts for visitors."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from loguru import logger
from playwright.async_api import Browser, BrowserContext, Playwright, Route, async_playwright
from playwright.async_api import Error as PlaywrightError

from agent.kernel import BrowserError, InputError, first_line
from harness.settings import Settings

__all__ = [
    "CHROMIUM_ARGS",
    "NetworkGuard",
    "BrowserSession",
    "device_descriptor",
    "find_chromium",
    "off_origin_pattern",
    "open_browser",
    "same_origin",
]

# Keep Chromium quiet on a closed network: without these it keeps dialling Google's hosts at start.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # Wheel scrolls land at once instead of animating in real time, which the virtual clock can't see.
    "--disable-smooth-scrolling",
)

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium(settings: Settings) -> Path | None:
    """``UIAB_BROWSER_EXECUTABLE``, else a Chromium on PATH; ``None`` means use Playwright's download."""
    if settings.browser_executable is not None:
        path = Path(settings.browser_executable)
        if not path.exists():
            raise InputError(f"no browser at {path}", source="UIAB_BROWSER_EXECUTABLE",
                             fix="point it at a Chromium executable or unset it")
        return path
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def same_origin(url: str, origin: str) -> bool:
    """True when ``url`` is on ``origin`` (scheme, host and port), or is an in-page ``data:``/``blob:`` URL."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return f"{parts.scheme}://{parts.netloc}" == origin


def off_origin_pattern(origin: str) -> re.Pattern[str]:
    """The URLs ``same_origin(url, origin)`` rejects, as a regular expression, for URLs as Chromium writes them.

    Given to ``context.route`` as a pattern, it is matched in Playwright's driver: with a Python predicate
    every request of every page view made a round trip to Python only to be let through.
    """
    return re.compile(rf"^(?!(?:data|blob|about):|{re.escape(origin)}(?:[/?#]|$))")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class NetworkGuard:
    """Blocks every request off the site's origin and counts what it blocked."""

    origin: str
    blocked_from: list[tuple[str, str]] = field(default_factory=list)  # (blocked URL, page it came from)

    @property
    def blocked(self) -> list[str]:
        return [url for url, _ in self.blocked_from]

    async def install(self, context: BrowserContext) -> None:
        await context.route(off_origin_pattern(self.origin), self._block)

    async def _block(self, route: Route) -> None:
        request = route.request
        try:
            page_url = request.frame.url
            gone = request.frame.page.is_closed()
        except PlaywrightError:  # the frame is gone; the request still counts
            page_url, gone = "", False
        # A request of a page already closed (a window the pool closed after its visitor) is blocked but not
        # counted: it would land in the next visitor's count.
        if not gone:
            self.blocked_from.append((request.url, page_url))
        await route.abort("blockedbyclient")


@dataclass
class BrowserSession:
    """One Playwright driver and one browser: a worker's whole browser."""

    playwright: Playwright
    browser: Browser

    def device(self, name: str, *, source: str | None = None) -> dict[str, Any]:
        return device_descriptor(self.playwright, name, source=source)


def device_descriptor(playwright: Playwright, name: str, *, source: str | None = None) -> dict[str, Any]:
    """Playwright's descriptor (viewport, user agent, touch, scale) for a device name, e.g. ``"iPhone 13"``."""
    if name in playwright.devices:
        descriptor = dict(playwright.devices[name])
        # Chromium renders every descriptor; WebKit/Firefox defaults would only confuse the launch.
        descriptor.pop("default_browser_type", None)
        return descriptor
    import difflib

    close = difflib.get_close_matches(name, list(playwright.devices), n=3)
    hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else "use a Playwright device name"
    raise InputError(f"unknown device {name!r}", source=source, field="device", fix=hint)


def _launch_args() -> list[str]:
    args = list(CHROMIUM_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
    return args


@asynccontextmanager
async def open_browser(settings: Settings) -> AsyncIterator[BrowserSession]:
    """Launch Chromium (or connect to ``UIAB_BROWSER_ENDPOINT``) for one worker; close it on exit."""
    async with async_playwright() as playwright:
        try:
            if settings.browser_endpoint:
                browser = await playwright.chromium.connect(settings.browser_endpoint)
            else:
                executable = find_chromium(settings)
                browser = await playwright.chromium.launch(
                    executable_path=str(executable) if executable else None,
                    headless=settings.headless,
                    args=_launch_args(),
                )
        except PlaywrightError as exc:
            raise BrowserError(f"browser could not start: {first_line(exc)}", field="browser",
                               fix="set UIAB_BROWSER_EXECUTABLE, or run `make setup`") from None
        logger.debug("browser {} ready", browser.version)
        try:
            yield BrowserSession(playwright, browser)
        finally:
            await browser.close()
