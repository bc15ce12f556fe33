"""Visitor isolation cheaper than a context per visitor: reused pages, wiped between visitors.

A fresh context costs about as much as three page views on 2 cores (docs/design.md, Scale), and a fresh tab
nearly as much (a new renderer for its first page). Here each worker keeps one prepared context and one
page per device, and hands that page to visitor after visitor, wiping in between what a visitor can leave
behind: the document (the page goes to ``about:blank``), the tab's history, session storage and
``window.name``, windows it opened, cookies, every kind of origin storage, the HTTP cache, permissions and
the clock's wall time. ``tests/test_isolation.py`` proves nothing leaks from one visitor to the next (a
hovered pointer included) and that a reused tab measures what a fresh context measures.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import CDPSession, Page
from playwright.async_api import Error as PlaywrightError

from harness.browser.isolated import World
from harness.browser.launch import BrowserSession, origin_of
from harness.browser.visitor import VIRTUAL_EPOCH, Visitor, VisitorContext, attach_world, open_visitor, prepare_context

__all__ = ["VisitorPool"]


@dataclass
class _Slot:
    """One reusable page: its context, its uiab world, the patch scripts in it, and whom it serves now."""

    device_name: str
    prepared: VisitorContext
    page: Page
    cdp: CDPSession
    world: World
    scripts: tuple[str, ...] = ()
    installed: list[str] = field(default_factory=list)  # the world's identifiers of those scripts
    current: Visitor | None = None
    uses: int = 0


@dataclass
class VisitorPool:
    """Hands out isolated visitors; ``reuse=False`` gives each one a fresh context instead."""

    browser: BrowserSession
    base_url: str
    goals: Sequence[dict[str, str]] = ()
    reuse: bool = True
    # Playwright's clock adds an init script per time step to the context; recycling bounds that growth.
    recycle_after: int = 40
    _idle: dict[str, list[_Slot]] = field(default_factory=dict)

    @asynccontextmanager
    async def visitor(self, device_name: str, init_scripts: Sequence[str] = ()) -> AsyncIterator[Visitor]:
        device = self.browser.device(device_name)
        if not self.reuse:
            async with open_visitor(self.browser, self.base_url, device=device, goals=self.goals,
                                    init_scripts=init_scripts) as visitor:
                yield visitor
            return
        slot = await self._acquire(device_name, device)
        healthy = False
        try:
            visitor = await self._hand_over(slot, tuple(init_scripts))
            yield visitor
            healthy = True
        finally:
            healthy = healthy and await self._wipe(slot)
            await self._release(slot, healthy)

    async def _acquire(self, device_name: str, device: dict[str, Any]) -> _Slot:
        idle = self._idle.setdefault(device_name, [])
        if idle:
            return idle.pop()
        prepared = await prepare_context(self.browser, self.base_url, device=device, goals=self.goals)
        page = await prepared.context.new_page()
        cdp = await prepared.context.new_cdp_session(page)
        slot = _Slot(device_name, prepared, page, cdp, await attach_world(prepared, page, cdp))
        # One listener for the page's life; it reports to whichever visitor holds the page now.
        page.on("requestfailed", lambda r: slot.current.request_failed(r.url) if slot.current else None)
        return slot

    async def _hand_over(self, slot: _Slot, scripts: tuple[str, ...]) -> Visitor:
        """The slot's page as a new visitor's, with this visitor's patch scripts (swapped only if they differ)."""
        if scripts != slot.scripts:
            for identifier in slot.installed:
                await slot.world.remove_script(identifier)
            slot.installed = [await slot.world.add_script(s) for s in scripts]
            slot.scripts = scripts
        slot.prepared.guard.blocked_from.clear()
        slot.prepared.guard.charging = True
        visitor = Visitor(page=slot.page, guard=slot.prepared.guard, base_url=self.base_url, world=slot.world,
                          goal_names=slot.prepared.goal_names)
        slot.world.route_to(visitor.receive)
        slot.current = visitor
        return visitor

    async def _wipe(self, slot: _Slot) -> bool:
        """Remove everything the visitor could have left; ``False`` if that could not be done."""
        slot.world.route_to(lambda _event, _document: None)  # what the old document says on unload is no one's
        slot.current = None
        context, page = slot.prepared.context, slot.page
        origin = origin_of(self.base_url)
        try:
            for other in context.pages:  # windows the visitor opened would report to the next one
                if other is not page:
                    await other.close()
            # Session storage belongs to the tab and can only be cleared from a document of its origin; a
            # page that ended anywhere else (an error page, or never left about:blank) is not reused.
            if origin_of(page.url) != origin:
                return False
            await slot.cdp.send("DOMStorage.clear", {"storageId": {"securityOrigin": origin, "isLocalStorage": False}})
            # What the leaving document sends as it goes (pagehide beacons) is refused, but no visitor's.
            slot.prepared.guard.charging = False
            await page.goto("about:blank")  # the visitor's document, its memory and its timers go
            # Independent clean-ups go out together: each is a round trip to the browser, and they all end
            # before the next visitor's first request.
            await asyncio.gather(
                slot.cdp.send("Page.resetNavigationHistory"),
                page.evaluate("window.name = ''"),  # the one thing a tab carries from document to document
                slot.cdp.send("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"}),
                slot.cdp.send("Network.clearBrowserCache"),
                context.clear_cookies(), context.clear_permissions(),
                context.clock.set_system_time(VIRTUAL_EPOCH))
            # All that about:blank sent while loading arrives before the next visitor is given the page.
            await slot.world.barrier()
            return True
        except PlaywrightError:
            return False

    async def _release(self, slot: _Slot, healthy: bool) -> None:
        slot.uses += 1
        if healthy and slot.uses < self.recycle_after:
            self._idle.setdefault(slot.device_name, []).append(slot)
        else:
            await slot.prepared.context.close()

    async def close(self) -> None:
        for slots in self._idle.values():
            for slot in slots:
                try:
                    await slot.prepared.context.close()
                except PlaywrightError:
                    pass
        self._idle.clear()
