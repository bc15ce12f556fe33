"""Browser layer: find or connect to Chromium, and fence its network: ``route`` and ``route_web_socket`` for what
the page asks for, the proxy of :mod:`harness.browser.fence` for every connection the browser makes."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import weakref
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from loguru import logger
from playwright.async_api import (
    Browser,
    BrowserContext,
    Playwright,
    ProxySettings,
    Route,
    WebSocketRoute,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError

from agent.kernel import BrowserError, InputError, first_line
from harness.browser.fence import BROWSER_SERVICE_HOST, Blocked, Fence, Gate, origin_key
from harness.settings import Settings

__all__ = [
    "CHROMIUM_ARGS",
    "FENCE_ARGS",
    "Blocked",
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
# What the proxy alone would not settle:
# - WebRTC may use UDP only through a proxy, and an HTTP proxy carries none: STUN and TURN over UDP never
#   leave, and TURN over TCP goes through the proxy as a CONNECT.
# - Chromium looks up the host of a request it sends through the proxy (a SharedWorker's fetch, a beacon),
#   and a DNS query is a message to a resolver off loopback: Chromium resolves no name but the proxy's own
#   address and localhost (the proxy resolves the site's name; a failed look-up does not stop a request to
#   the proxy). A pattern like 127.* would also let 127.attacker.example out.
# - Hyperlink auditing (<a ping>) is off.
# - Autofill's form queries go to a reserved name the proxy knows is the browser's, so they are not charged
#   to the visitor whose form set them off.
# Playwright passes its own --disable-features list, and a second one would replace it: no feature is
# switched here.
FENCE_ARGS: tuple[str, ...] = (
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    "--no-pings",
    f"--autofill-server-url=https://{BROWSER_SERVICE_HOST}/",
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


def off_origin_socket_pattern(origin: str) -> re.Pattern[str]:
    """The WebSocket URLs not on ``origin`` (``ws://`` for an ``http://`` site, ``wss://`` for ``https://``)."""
    parts = urlsplit(origin)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return re.compile(rf"^(?!{re.escape(f'{scheme}://{parts.netloc}')}(?:[/?#]|$))")


# Each browser's shared gate, for contexts made without one of their own. A context's own gate rides on the
# context object itself, so a wrapper that delegates attributes (the pytest plugin's traced contexts) finds it.
_SHARED: weakref.WeakKeyDictionary[Browser, Gate] = weakref.WeakKeyDictionary()
_GATE_ATTR = "_uiab_gate"


@dataclass
class NetworkGuard:
    """Blocks every request off the site's origin, on every channel, and counts what it blocked.

    ``blocked_from`` holds one :class:`Blocked` per refused attempt, as ``(url, page_url)`` with its channel:
    ``http`` and ``websocket`` (refused by Playwright's routes, in the page), ``proxy-http`` and
    ``proxy-connect`` (refused by the context's gate on the fence: what the browser sent past the routes).
    What the gate refuses but no page asked for off the origin (the browser's own queries, speculative loads
    of the site's pages) is on the fence's record only.
    """

    origin: str
    blocked_from: list[Blocked] = field(default_factory=list)
    # False while a reused tab is wiped between visitors: what the old document sends as it goes (a beacon
    # at pagehide) reaches the proxy on its own time, and must not land in the next visitor's count.
    charging: bool = True

    @property
    def blocked(self) -> list[str]:
        return [url for url, _ in self.blocked_from]

    def by_channel(self) -> Counter[tuple[str, str]]:
        """How many attempts were blocked, by ``(origin, channel)``."""
        return Counter((b.origin, b.channel) for b in self.blocked_from)

    async def install(self, context: BrowserContext) -> None:
        await context.route(off_origin_pattern(self.origin), self._block)
        await context.route_web_socket(off_origin_socket_pattern(self.origin), self._refuse_socket)
        gate: Gate | None = getattr(context, _GATE_ATTR, None)
        if gate is not None:  # the context's own gate: what it refuses is this guard's
            gate.admit(self.origin, self._record)
            context.on("close", lambda _: gate.dismiss(self.origin, self._record))
            return
        shared = _SHARED.get(context.browser) if context.browser is not None else None
        if shared is not None:  # a context made on the raw browser: the site passes, refusals count there
            shared.admit(self.origin)
            context.on("close", lambda _: shared.dismiss(self.origin))

    async def _block(self, route: Route) -> None:
        request = route.request
        try:
            page_url = request.frame.url
            gone = request.frame.page.is_closed()
        except PlaywrightError:  # the frame is gone; the request still counts
            page_url, gone = "", False
        # A request of a page already closed (a window the pool closed after its visitor) is blocked but not
        # counted: it would land in the next visitor's count.
        if not gone and self.charging:
            self.blocked_from.append(Blocked(request.url, page_url, channel="http", origin=origin_of(request.url)))
        await route.abort("blockedbyclient")

    def _record(self, blocked: Blocked) -> None:
        if self.charging:
            self.blocked_from.append(blocked)  # called on the fence's thread; a list append is atomic

    async def _refuse_socket(self, socket: WebSocketRoute) -> None:
        # Never connected: the page sees a socket that closes, and nothing reaches the other origin.
        if self.charging:
            self.blocked_from.append(Blocked(socket.url, "", channel="websocket", origin=origin_of(socket.url)))
        await socket.close(code=1008, reason="blocked by uiab's network fence")


class FencedBrowser:
    """A Browser whose every new context passes the fence through a gate of its own.

    Its own gate is what lets a context's guard count what the proxy refused (a beacon at ``pagehide``, a
    SharedWorker's fetch) as its visitor's; everything else is the Playwright browser's.
    """

    def __init__(self, browser: Browser, fence: Fence) -> None:
        self._browser = browser
        self._fence = fence

    async def new_context(self, **options: Any) -> BrowserContext:
        if options.get("proxy"):
            raise InputError("a context with a proxy of its own would pass round the network fence",
                             field="proxy", fix="leave the proxy to uiab")
        gate = await self._fence.open_gate()
        proxy: ProxySettings = {"server": gate.server}
        _, host, port = origin_key(options.get("base_url") or "")
        if host in ("127.0.0.1", "localhost"):  # the names Chromium itself may resolve
            # A loopback site goes straight to it, saving two hops through Python per request. The bypass
            # names one host and port, so nothing else can use it (and only loopback names resolve here).
            proxy["bypass"] = f"{host}:{port}"
        try:
            context = await self._browser.new_context(**options, proxy=proxy)
        except BaseException:
            gate.close()
            raise
        setattr(context, _GATE_ATTR, gate)
        context.on("close", lambda _: gate.close())
        return context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@dataclass
class BrowserSession:
    """One Playwright driver and one browser: a worker's whole browser, and the fence its traffic passes."""

    playwright: Playwright
    browser: Browser
    fence: Fence | None = None  # None: a Playwright server elsewhere, fenced by the routes alone

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
    args = [*CHROMIUM_ARGS, *FENCE_ARGS]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
    return args


def _on_this_machine(endpoint: str) -> bool:
    host = urlsplit(endpoint).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@asynccontextmanager
async def open_browser(settings: Settings) -> AsyncIterator[BrowserSession]:
    """Launch Chromium (or connect to ``UIAB_BROWSER_ENDPOINT``) for one worker, behind the fence; close both."""
    fence = Fence()
    try:
        async with async_playwright() as playwright:
            # For the browser's own traffic, and any context made on the raw browser: it lets nothing through
            # until a guard admits its site.
            shared = await fence.open_gate(loopback_until_admitted=False)
            try:
                if settings.browser_endpoint:
                    browser = await playwright.chromium.connect(settings.browser_endpoint)
                else:
                    executable = find_chromium(settings)
                    browser = await playwright.chromium.launch(
                        executable_path=str(executable) if executable else None,
                        headless=settings.headless,
                        args=_launch_args(),
                        proxy={"server": shared.server},
                    )
            except PlaywrightError as exc:
                raise BrowserError(f"browser could not start: {first_line(exc)}", field="browser",
                                   fix="set UIAB_BROWSER_EXECUTABLE, or run `make setup`") from None
            logger.debug("browser {} ready", browser.version)
            _SHARED[browser] = shared
            if settings.browser_endpoint and not _on_this_machine(settings.browser_endpoint):
                # Its browser cannot reach a proxy on this machine's loopback, nor take our switches.
                logger.warning("browser at {} is fenced by Playwright's routes only", settings.browser_endpoint)
                session = BrowserSession(playwright, browser)
            else:
                if settings.browser_endpoint:  # the proxy holds; the server launched it without FENCE_ARGS
                    logger.warning("browser at {} was launched without uiab's switches: WebRTC over UDP and "
                                   "DNS look-ups are not fenced", settings.browser_endpoint)
                session = BrowserSession(playwright, cast(Browser, FencedBrowser(browser, fence)), fence)
            try:
                yield session
            finally:
                await browser.close()
    finally:
        fence.close()
