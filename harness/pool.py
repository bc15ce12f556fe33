"""Visitor isolation cheaper than a context per visitor: reused contexts, wiped between visitors.

A fresh context costs about as much as three page views on 2 cores (DESIGN.md, Scale). Here each worker
keeps one prepared context per device and gives every visitor a new page in it, after wiping what a
visitor can leave behind: cookies, every kind of origin storage, the HTTP cache, permissions, and the
clock's wall time. ``tests/test_isolation.py`` proves nothing leaks from one visitor to the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Error as PlaywrightError

from harness.browser import BrowserSession, origin_of
from harness.visitor import VIRTUAL_EPOCH, Visitor, VisitorContext, new_visitor, open_visitor, prepare_context

__all__ = ["VisitorPool"]


@dataclass
class _Slot:
    device_name: str
    prepared: VisitorContext
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
        visitor = await new_visitor(slot.prepared, self.base_url, init_scripts)
        slot.prepared.guard.blocked_from.clear()
        healthy = False
        try:
            yield visitor
            healthy = True
        finally:
            healthy = healthy and await self._wipe(slot, visitor)
            await self._release(slot, healthy)

    async def _acquire(self, device_name: str, device: dict[str, Any]) -> _Slot:
        idle = self._idle.setdefault(device_name, [])
        if idle:
            return idle.pop()
        prepared = await prepare_context(self.browser, self.base_url, device=device, goals=self.goals)
        return _Slot(device_name, prepared)

    async def _wipe(self, slot: _Slot, visitor: Visitor) -> bool:
        """Remove everything the visitor could have left; ``False`` if that could not be done."""
        context = slot.prepared.context
        try:
            cdp = await context.new_cdp_session(visitor.page)
            # Independent clean-ups go out together: each is a round trip to the browser, and they all end
            # before the next visitor's page exists.
            await asyncio.gather(
                cdp.send("Storage.clearDataForOrigin", {"origin": origin_of(self.base_url), "storageTypes": "all"}),
                cdp.send("Network.clearBrowserCache"))
            await cdp.detach()
            await visitor.page.close()  # sessionStorage, history, window.name and memory go with the tab
            await asyncio.gather(context.clear_cookies(), context.clear_permissions(),
                                 context.clock.set_system_time(VIRTUAL_EPOCH))
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
