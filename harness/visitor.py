"""One visitor's isolated browser context: device, network fence, virtual clock, tracker, patch scripts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from harness.browser import BrowserSession, NetworkGuard

__all__ = ["Visitor", "open_visitor", "tracker_script", "VIRTUAL_EPOCH"]

# Every session's virtual clock starts at the same instant, so page-visible time is deterministic.
VIRTUAL_EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=timezone.utc)


def tracker_script(goals: Sequence[dict[str, str]] = ()) -> str:
    """The tracker init script, preceded by its configuration (goal selectors and URLs)."""
    source = (Path(__file__).parent / "js" / "tracker.js").read_text(encoding="utf-8")
    config = json.dumps({"goals": list(goals)})
    return f"window.__UIAB_CONFIG__ = {config};\n{source}"


@dataclass
class Visitor:
    """A page in a fresh context; ``events`` fills from the in-page tracker as things happen."""

    context: BrowserContext
    page: Page
    guard: NetworkGuard
    base_url: str
    events: list[dict[str, Any]] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def _record(self, _source: Any, event: dict[str, Any]) -> None:
        event["seq"] = len(self.events)
        self.events.append(event)

    async def goto(self, path: str) -> None:
        """Load a page of the site (a path relative to the base URL, or an absolute URL)."""
        url = path if "://" in path else self.base_url.rstrip("/") + "/" + path.lstrip("/")
        if self.page.url != "about:blank":
            await self.finish()
        await self.page.goto(url, wait_until="load")
        await self.advance(0)

    async def advance(self, ms: float) -> None:
        """Move virtual time forward, running the page's timers; an error thrown by a timer is recorded."""
        target = await self._now() + max(0.0, float(ms))
        for _ in range(100):  # a page that throws from every timer must not stall the session
            remaining = target - await self._now()
            try:
                await self.page.clock.run_for(max(0, round(remaining)))
                return
            except PlaywrightError as exc:
                message = str(exc).splitlines()[0]
                if "Execution context was destroyed" in message or "navigation" in message.lower():
                    await self.settle()
                    return
                self._record(None, {"type": "js_error", "t": await self._now(), "url": self._path(),
                                    "message": message.split(": ", 1)[-1], "source": "timer"})

    async def _now(self) -> float:
        try:
            return float(await self.page.evaluate("Date.now()"))
        except PlaywrightError:
            await self.settle()
            return float(await self.page.evaluate("Date.now()"))

    def _path(self) -> str:
        url = self.page.url
        return url[len(self.base_url.rstrip("/")):] if url.startswith(self.base_url) else url

    async def settle(self, since: int | None = None) -> None:
        """Wait for a navigation the tracker saw starting (after event ``since``) to load."""
        start = 0 if since is None else since
        targets = [e for e in self.events[start:] if e["type"] == "navigate" and not e.get("same_document")]
        if targets:
            try:
                await self.page.wait_for_url(targets[-1]["to"], wait_until="load", timeout=15_000)
            except PlaywrightError:
                pass  # the navigation was cancelled or failed; the page we are on is what the visitor sees
        await self.page.wait_for_load_state("load")

    async def _barrier(self) -> None:
        # A round trip to the page: every event the input produced has reached Python after it returns.
        try:
            await self.page.evaluate("0")
        except PlaywrightError:
            pass

    async def click(self, x: float, y: float, *, touch: bool = False) -> None:
        """Real input at a point; the browser decides what it hits; any navigation is followed."""
        mark = len(self.events)
        if touch:
            await self.page.touchscreen.tap(x, y)
        else:
            await self.page.mouse.move(x, y)
            await self.page.mouse.click(x, y)
        await self._barrier()
        await self.settle(since=mark)

    async def finish(self) -> None:
        """Close the current page view, so its dwell and scroll depth are recorded."""
        try:
            await self.page.evaluate("window.__uiab && window.__uiab.leave('end')")
        except PlaywrightError:
            pass
        await self._barrier()


@asynccontextmanager
async def open_visitor(
    browser: BrowserSession,
    base_url: str,
    *,
    device: dict[str, Any] | None = None,
    goals: Sequence[dict[str, str]] = (),
    init_scripts: Sequence[str] = (),
) -> AsyncIterator[Visitor]:
    """A fresh context (nothing shared with the previous visitor) with tracker, clock and patches installed."""
    options = dict(device or {})
    context = await browser.browser.new_context(**options, service_workers="block")
    try:
        # Installed first, so the tracker's init script already sees virtual time. Paused at a fixed instant: only the session moves time, so dwell is deterministic and costs no
        # real waiting (REFERENCES: page.clock.install replaces performance; Web Vitals are measured apart).
        await context.clock.install(time=VIRTUAL_EPOCH - timedelta(minutes=1))
        await context.clock.pause_at(VIRTUAL_EPOCH)
        guard = NetworkGuard(origin=_origin(base_url))
        await guard.install(context)
        visitor_holder: list[Visitor] = []
        await context.expose_binding("__uiab_emit", lambda src, ev: visitor_holder[0]._record(src, ev))
        await context.add_init_script(script=tracker_script(goals))
        for script in init_scripts:
            await context.add_init_script(script=script)
        page = await context.new_page()
        visitor = Visitor(context=context, page=page, guard=guard, base_url=base_url)
        visitor_holder.append(visitor)
        page.on("requestfailed", lambda r: visitor.failed_requests.append(r.url)
                if r.url not in guard.blocked else None)
        yield visitor
    finally:
        await context.close()


def _origin(url: str) -> str:
    from harness.browser import origin_of

    return origin_of(url)
