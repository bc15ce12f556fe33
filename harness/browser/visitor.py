"""One visitor's page: device, network fence, virtual clock, tracker and patch scripts, real input.

The tracker and the patch scripts run in uiab's isolated world (:mod:`harness.browser.isolated`), out of the
page's reach. That world's clock is the real one, so time is kept here: each event is stamped on arrival
with the visitor's virtual clock (:attr:`Visitor.now_ms`, moved only by :meth:`Visitor.advance`), and a page
view's dwell is the virtual time between its ``page_view`` and its ``page_leave``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, CDPSession, Page
from playwright.async_api import Error as PlaywrightError

from agent.kernel import first_line
from agent.kernel.pagejs import with_page_common
from harness.browser.isolated import World
from harness.browser.launch import BrowserSession, NetworkGuard, origin_of

__all__ = [
    "VIRTUAL_EPOCH",
    "Visitor",
    "VisitorContext",
    "attach_world",
    "new_visitor",
    "open_visitor",
    "prepare_context",
    "tracker_script",
]

# Every visitor's virtual clock starts at the same instant, so page-visible time is deterministic.
VIRTUAL_EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
_EPOCH_MS = VIRTUAL_EPOCH.timestamp() * 1000
# How long (in 10 ms real-time polls) to wait for a tap's click; a tap always clicks something, but a loaded
# machine can take seconds to deliver it.
TAP_CLICK_POLLS = 500
# How long (in 10 ms real-time polls) a started navigation may take to show its new page.
NAVIGATION_POLLS = 1500


def tracker_script(goals: Sequence[dict[str, str]] = ()) -> str:
    """The tracker init script, preceded by its configuration (goal selectors and URLs)."""
    source = with_page_common((Path(__file__).parent / "js" / "tracker.js").read_text(encoding="utf-8"))
    return f"window.__UIAB_CONFIG__ = {json.dumps({'goals': list(goals)})};\n{source}"


def _number(value: float) -> float | int:
    # Whole milliseconds stay integers, as Date.now() gave them, so stored events keep their exact form.
    return int(value) if float(value).is_integer() else value


@dataclass
class VisitorContext:
    """A browser context made ready for visitors: clock, fence, and the tracker each page gets."""

    context: BrowserContext
    guard: NetworkGuard
    goals: tuple[dict[str, str], ...] = ()

    @property
    def goal_names(self) -> frozenset[str]:
        return frozenset(str(g["name"]) for g in self.goals)


async def prepare_context(browser: BrowserSession, base_url: str, *, device: dict[str, Any] | None,
                          goals: Sequence[dict[str, str]]) -> VisitorContext:
    """A new context with the device's descriptor, the virtual clock and the network fence."""
    context = await browser.browser.new_context(**dict(device or {}), service_workers="block")
    # Paused at a fixed instant, only the session moves time: page timers are deterministic and dwell costs
    # no real waiting. (REFERENCES: page.clock.install replaces performance, so Web Vitals are measured in
    # contexts without it.)
    await context.clock.install(time=VIRTUAL_EPOCH - timedelta(minutes=1))
    await context.clock.pause_at(VIRTUAL_EPOCH)
    guard = NetworkGuard(origin=origin_of(base_url))
    await guard.install(context)
    return VisitorContext(context=context, guard=guard, goals=tuple(dict(g) for g in goals))


async def attach_world(prepared: VisitorContext, page: Page, cdp: CDPSession | None = None) -> World:
    """uiab's isolated world on ``page``, with the tracker in it: every document the page loads from now."""
    world = await World.attach(cdp or await prepared.context.new_cdp_session(page))
    await world.add_script(tracker_script(prepared.goals))
    return world


@dataclass
class Visitor:
    """A page for one visitor; ``events`` fills from the tracker and the browser as things happen."""

    page: Page
    guard: NetworkGuard
    base_url: str
    world: World
    goal_names: frozenset[str] = frozenset()  # the experiment's goals: no other name is a conversion
    now_ms: float = 0.0  # virtual milliseconds since the visitor arrived; only :meth:`advance` moves it
    events: list[dict[str, Any]] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    _views: dict[int, float] = field(default_factory=dict, repr=False)  # document (world context) -> page_view time

    def receive(self, event: dict[str, Any], document: int | None) -> None:
        """An event from the world: stamped with virtual time; a leave gets its page view's dwell."""
        kind = event["type"]
        if kind == "goal" and event.get("goal") not in self.goal_names:
            return
        event["t"] = _number(_EPOCH_MS + self.now_ms)
        if document is not None and kind == "page_view":
            self._views[document] = self.now_ms
        elif document is not None and kind == "page_leave":
            event["dwell_ms"] = _number(self.now_ms - self._views.get(document, self.now_ms))
        self.record(event)

    def request_failed(self, url: str) -> None:
        """Count a request that failed on its own; the ones the network fence blocked are counted there."""
        if url not in self.guard.blocked:
            self.failed_requests.append(url)

    def record(self, event: dict[str, Any]) -> None:
        event["seq"] = len(self.events)
        self.events.append(event)

    def path(self) -> str:
        """The current page's path and query, relative to the site."""
        url = self.page.url
        base = self.base_url.rstrip("/")
        return (url[len(base):] if url.startswith(base) else url).split("#", 1)[0] or "/"

    async def goto(self, path: str) -> None:
        """Load a page of the site (a path relative to the base URL, or an absolute URL)."""
        url = path if "://" in path else self.base_url.rstrip("/") + "/" + path.lstrip("/")
        if self.page.url != "about:blank":
            await self.finish()
        await self.page.goto(url, wait_until="load")
        await self._barrier()

    async def advance(self, ms: float) -> None:
        """Move virtual time forward, running the page's timers; an error thrown by a timer is recorded.

        What the page's timers cause meanwhile is stamped with the time the wait began: :attr:`now_ms` moves
        once, when the whole wait has passed and everything the page sent during it has arrived.
        """
        target = self.now_ms + max(0, round(ms))
        reached = self.now_ms
        mark = len(self.events)
        for _ in range(100):  # a page that throws from every timer must not stall the session
            try:
                await self.page.clock.run_for(max(0, round(target - reached)))
                reached = target
                break
            except PlaywrightError as exc:
                message = first_line(exc)
                reached = await self._page_now(reached, target)  # the clock stopped at the timer that threw
                if "Execution context was destroyed" in message or "navigat" in message:
                    await self.settle(since=mark)
                    continue
                await self._barrier()
                self.record({"type": "js_error", "t": _EPOCH_MS + reached, "url": self.path(),
                             "message": message.split(": ", 1)[-1], "source": "timer"})
        await self._barrier()
        self.now_ms = reached

    async def _page_now(self, low: float, high: float) -> float:
        # The page's own clock, read in its world; the page could fake Date, so it is held to this wait.
        for _ in range(3):
            try:
                return min(max(float(await self.page.evaluate("Date.now()")) - _EPOCH_MS, low), high)
            except PlaywrightError:
                await self.settle()
        return low

    async def settle(self, since: int | None = None) -> None:
        """Wait for the page to load, and first for a navigation the tracker saw start after event ``since``."""
        starts = [i for i in range(len(self.events) if since is None else since, len(self.events))
                  if self.events[i]["type"] == "navigate" and not self.events[i].get("same_document")]
        if starts:
            await self._await_new_document(after=starts[-1])
        try:
            await self.page.wait_for_load_state("load", timeout=15_000)
        except PlaywrightError:
            pass

    async def _await_new_document(self, after: int) -> None:
        # Waiting for the target URL is not enough: a link to the page we are on (a logo back home) matches
        # at once, and the snapshot would race the reload. The new document's page_view is the signal; a
        # navigation the fence blocks or the server fails never sends one.
        stopped = self._navigation_stops()
        for _ in range(NAVIGATION_POLLS):
            if any(e["type"] == "page_view" for e in self.events[after:]):
                return
            if self._navigation_stops() > stopped:
                return
            await asyncio.sleep(0.01)
            await self._barrier()

    def _navigation_stops(self) -> int:
        # Only a refused page request can stop a navigation; a beacon the proxy refused cannot.
        return sum(b.channel == "http" for b in self.guard.blocked_from) + len(self.failed_requests)

    async def _barrier(self) -> None:
        # A round trip on the world's session: every event the input produced has reached Python when it returns.
        await self.world.barrier()

    async def click(self, x: float, y: float, *, touch: bool = False) -> None:
        """Real input at a point; the browser decides what it hits; any navigation is followed."""
        mark = len(self.events)
        if touch:
            await self.page.touchscreen.tap(x, y)
            await self._await_click(since=mark)
        else:
            await self.page.mouse.click(x, y)  # moves there first: mousemove, down, up, click
        await self._barrier()
        await self.settle(since=mark)
        await self._settle_hover(x, y)

    async def _settle_hover(self, x: float, y: float) -> None:
        # Chromium re-computes :hover after a scroll or a new page on a real-time timer; moving to the same
        # point now settles it, so what the next snapshot sees does not depend on whether that timer has fired.
        try:
            await self.page.mouse.move(x, y)
        except PlaywrightError:
            pass
        await self._barrier()

    async def _await_click(self, since: int) -> None:
        # A tap's click comes from the gesture recogniser after touchend has been acknowledged, so one round
        # trip can beat it; what the persona learns from the tap must not depend on that race.
        for _ in range(TAP_CLICK_POLLS):
            await self._barrier()
            if any(e["type"] == "click" for e in self.events[since:]):
                return
            await asyncio.sleep(0.01)

    async def scroll(self, dy: float, *, x: float = 10, y: float = 10) -> None:
        """Scroll by ``dy`` CSS px with a real wheel event at (x, y)."""
        expect = "(dy) => Math.max(0, Math.min(scrollY + dy, document.documentElement.scrollHeight - innerHeight))"
        target = await self.page.evaluate(expect, dy)
        await self.page.mouse.move(x, y)
        await self.page.mouse.wheel(0, dy)
        # The compositor applies the wheel after the call returns; wait (in real time) until the page sees it.
        for _ in range(100):
            if abs(await self.page.evaluate("scrollY") - target) < 1:
                break
            await asyncio.sleep(0.005)
        await self._settle_hover(x, y)

    async def finish(self) -> None:
        """Close the current page view, so its dwell and scroll depth are recorded."""
        try:
            await self.world.evaluate("window.__uiab && window.__uiab.leave('end')")
        except PlaywrightError:
            pass
        await self._barrier()


async def new_visitor(prepared: VisitorContext, base_url: str, init_scripts: Sequence[str] = ()) -> Visitor:
    """A new page in a prepared context, with this visitor's patch scripts (in uiab's world, gone with the page).

    Only this page is measured: a window the page opens gets no tracker, so it can neither add to this
    visitor's events nor forge any.
    """
    page = await prepared.context.new_page()
    world = await attach_world(prepared, page)
    for script in init_scripts:
        await world.add_script(script)
    visitor = Visitor(page=page, guard=prepared.guard, base_url=base_url, world=world,
                      goal_names=prepared.goal_names)
    world.route_to(visitor.receive)
    page.on("requestfailed", lambda r: visitor.request_failed(r.url))
    return visitor


@asynccontextmanager
async def open_visitor(
    browser: BrowserSession,
    base_url: str,
    *,
    device: dict[str, Any] | None = None,
    goals: Sequence[dict[str, str]] = (),
    init_scripts: Sequence[str] = (),
) -> AsyncIterator[Visitor]:
    """A visitor in a fresh context: nothing at all is shared with the previous one."""
    prepared = await prepare_context(browser, base_url, device=device, goals=goals)
    try:
        yield await new_visitor(prepared, base_url, init_scripts)
    finally:
        await prepared.context.close()
