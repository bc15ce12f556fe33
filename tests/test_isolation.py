"""A reused, wiped context isolates visitors as well as a fresh one: nothing leaks to the next visitor."""

from __future__ import annotations

import asyncio

from harness.browser import BrowserSession
from harness.pool import VisitorPool
from harness.visitor import Visitor


async def _blocked_after_settling(visitor: Visitor, expected: int) -> int:
    """The blocked count once ``expected`` requests were routed (a fetch need not finish before ``load``), or 10 s."""
    for _ in range(200):
        if len(visitor.guard.blocked) >= expected:
            break
        await asyncio.sleep(0.05)
    return len(visitor.guard.blocked)


async def test_nothing_leaks_from_one_visitor_to_the_next(browser: BrowserSession, pages_url: str) -> None:
    pool = VisitorPool(browser, pages_url, reuse=True)
    try:
        async with pool.visitor("Desktop Chrome") as first:
            await first.goto("/leaky.html")
            clean = await first.page.evaluate("window.__leftovers()")
            await first.page.evaluate("window.__leaveTraces()")
            await first.advance(5_000)
            dirty = await first.page.evaluate("window.__leftovers()")
            first_context = first.page.context
        async with pool.visitor("Desktop Chrome") as second:
            assert second.page.context is first_context  # the point: the context was reused
            await second.goto("/leaky.html")
            after = await second.page.evaluate("window.__leftovers()")
    finally:
        await pool.close()
    # The traces were really left (so the check below could fail) ...
    assert dirty["cookie"] == "seen=1" and dirty["local"] == dirty["session"] == "1" and dirty["name"] == "seen"
    assert dirty["dbs"] == ["visitor-db"] and dirty["cacheKeys"] == ["visitor-cache"]
    assert dirty["now"] == clean["now"] + 5_000
    # ... and the next visitor finds none of them, with the clock back at the same starting instant.
    assert after == clean


async def test_each_visitor_gets_only_its_own_events_and_blocked_requests(browser: BrowserSession,
                                                                          pages_url: str) -> None:
    pool = VisitorPool(browser, pages_url, reuse=True)
    try:
        async with pool.visitor("iPhone 13") as first:
            await first.goto("/offsite.html")
            assert await _blocked_after_settling(first, 3) == 3
        async with pool.visitor("iPhone 13") as second:
            await second.goto("/basic.html")
            assert second.guard.blocked == []
            assert [e["url"] for e in second.events if e["type"] == "page_view"] == ["/basic.html"]
            assert await second.page.evaluate("navigator.maxTouchPoints") > 0
    finally:
        await pool.close()
