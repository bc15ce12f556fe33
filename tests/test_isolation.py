"""A reused, wiped tab isolates visitors as well as a fresh context: nothing leaks to the next visitor."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from harness.browser.launch import BrowserSession
from harness.browser.pool import VisitorPool
from harness.browser.server import serve_folder
from harness.browser.visitor import Visitor
from harness.run.assignment import plan_visitors
from harness.run.experiment import load_experiment
from harness.run.population import experiment_personas
from harness.run.simulate import run_plans

SHOP = Path(__file__).resolve().parent.parent / "site_fixtures" / "shop" / "experiment.toml"


async def _blocked_after_settling(visitor: Visitor, expected: int) -> int:
    """The blocked count once ``expected`` requests were routed (a fetch need not finish before ``load``), or 10 s."""
    for _ in range(200):
        if len(visitor.guard.blocked) >= expected:
            break
        await asyncio.sleep(0.05)
    return len(visitor.guard.blocked)


async def _look(visitor: Visitor) -> dict[str, Any]:
    """What the page can tell about earlier visitors, a moment after it loaded (late pointer events count)."""
    await visitor.advance(100)
    return await visitor.page.evaluate("window.__leftovers()")


async def test_nothing_leaks_from_one_visitor_to_the_next(browser: BrowserSession, pages_url: str) -> None:
    pool = VisitorPool(browser, pages_url, reuse=True)
    try:
        async with pool.visitor("Desktop Chrome") as first:
            await first.goto("/leaky.html")
            clean = await _look(first)
            await first.page.evaluate("window.__leaveTraces()")
            await first.click(100, 150)  # the pointer rests on #pad, which has a :hover style
            await first.advance(4_900)
            dirty = await _look(first)
            windows = len(first.page.context.pages)
            first_page = first.page
        async with pool.visitor("Desktop Chrome") as second:
            assert second.page is first_page  # the point: the same tab (and context) was reused
            await second.goto("/leaky.html")
            after = await _look(second)
            assert second.page.context.pages == [second.page]
    finally:
        await pool.close()
    # The traces were really left (so the check below could fail) ...
    assert dirty["cookie"] == "seen=1" and dirty["local"] == dirty["session"] == "1" and dirty["name"] == "seen"
    assert dirty["dbs"] == ["visitor-db"] and dirty["cacheKeys"] == ["visitor-cache"]
    assert dirty["history"] > clean["history"] and windows == 2
    assert "pad" in dirty["hovered"] and dirty["pointerEvents"] > 0
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
            assert first.failed_requests == []  # blocked requests fail too, but count as blocked only
        async with pool.visitor("iPhone 13") as second:
            await second.goto("/basic.html")
            assert second.guard.blocked == []
            assert [e["url"] for e in second.events if e["type"] == "page_view"] == ["/basic.html"]
            assert await second.page.evaluate("navigator.maxTouchPoints") > 0
    finally:
        await pool.close()


async def test_a_reused_tab_measures_what_a_fresh_context_measures(browser: BrowserSession) -> None:
    # Every persona of the shop's mix under every variant, one tab per device handed from visitor to visitor
    # (variants alternate, so patch scripts are swapped too) against a fresh context per visitor.
    experiment = load_experiment(SHOP)
    plans = plan_visitors(experiment, experiment_personas(experiment), list(experiment.variants), sessions=4,
                          seed=5, paired=True)
    assert {p.persona.touch for p in plans} == {True, False}
    fingerprints = []
    with serve_folder(SHOP.parent) as base_url:
        for reuse in (True, False):
            pool = VisitorPool(browser, base_url, experiment.goal_specs(), reuse=reuse)
            try:
                outcomes = await run_plans(pool, experiment, plans, concurrency=1)
            finally:
                await pool.close()
            fingerprints.append([(o.plan.visitor_id, o.plan.variant.name, o.fingerprint()) for o in outcomes])
    reused, fresh = fingerprints
    assert len(reused) == len(plans) == 16
    assert any(f["result"]["clicks"] for _, _, f in reused)  # the sessions did something worth comparing
    assert reused == fresh
