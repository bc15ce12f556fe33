"""The perception snapshot in a real Chromium: geometry, colours, hit tests, names and words, one evaluate."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page

from harness.browser.launch import BrowserSession
from harness.browser.visitor import open_visitor
from personas import SNAPSHOT_JS, SNAPSHOT_JSON_JS, PageSnapshot, list_personas

pytestmark = pytest.mark.browser


async def _snapshot(page: Page) -> PageSnapshot:
    return PageSnapshot.from_dict(await page.evaluate(SNAPSHOT_JS, {}))


async def _page(browser: BrowserSession, url: str, **context: Any) -> Page:
    ctx = await browser.browser.new_context(**context)
    page = await ctx.new_page()
    await page.goto(url + "/persona_snapshot.html")
    return page


async def test_geometry_colours_and_names_on_a_phone(browser: BrowserSession, pages_url: str) -> None:
    page = await _page(browser, pages_url, **browser.device("iPhone 13"))
    snap = await _snapshot(page)
    assert (snap.viewport_width, snap.viewport_height) == (390, 664)
    assert snap.url == "/persona_snapshot.html" and snap.scroll_height == 3000 and snap.scroll_y == 0
    by = {c.selector: c for c in snap.candidates}

    grey = by["#grey"]
    assert (grey.bbox.x, grey.bbox.y, grey.bbox.width, grey.bbox.height) == (20, 20, 100, 30)
    assert (grey.aim_x, grey.aim_y) == (70, 35) and grey.visible == 1 and grey.in_viewport == 1
    assert grey.contrast == pytest.approx(4.48, abs=0.01)  # #777 on #fff (WCAG 1.4.3 example)
    assert grey.color == (119, 119, 119) and grey.background == (255, 255, 255)

    # Background resolved through a transparent wrapper to the black ancestor; bold 24 px text.
    buy = by["#white-on-dark"]
    assert buy.background == (0, 0, 0) and buy.contrast == pytest.approx(21.0)
    assert buy.font_size_px == 24 and buy.font_weight == 700
    # A 50 % black layer composited over the white page: mid grey; black text on it.
    half = by["#on-half"]
    assert half.background == (128, 128, 128) and half.contrast == pytest.approx(5.28, abs=0.02)
    # A default button's own light-grey fill against the white page.
    assert by["#covered"].fill_contrast == pytest.approx(1.15, abs=0.01)

    # Hit test at the aim point: the overlay covers #covered and #cart, nothing covers #grey.
    assert by["#covered"].occluded is True and by["#covered"].occluder == "#overlay"
    assert by["#cart"].occluded is True and grey.occluded is False
    # Clipped by an overflow:hidden parent to half its width; aimed at the visible half.
    clipped = by["#clipped"]
    assert clipped.visible == pytest.approx(0.5) and clipped.aim_x == 70 and clipped.occluded is False
    # Below the fold: fully visible in the document, not in the viewport, no hit test possible.
    deep = by["#deep"]
    assert deep.visible == 1 and deep.in_viewport == 0 and deep.occluded is None and deep.bbox.y == 2000
    # display:none and visibility:hidden are not candidates.
    assert "#gone" not in by and "#ghost" not in by

    # Accessible names: aria-label over text, img alt, a <label for>.
    assert by["#icon"].name == "Close dialog" and by["#icon"].text == "×"
    assert by["#cart"].name == "Cart" and by["#email"].name == "Email address"

    blocks = {b.selector: b for b in snap.text_blocks}
    assert blocks["#para"].words == 12 and blocks["#para"].y == 400
    # A <p> inside an <li> is counted once, with its list item.
    assert [b.words for s, b in blocks.items() if s.startswith("#list")] == [3, 2]
    assert snap.total_words >= sum(b.words for b in snap.text_blocks)
    await page.context.close()


async def test_document_and_viewport_boxes_after_scrolling(browser: BrowserSession, pages_url: str) -> None:
    page = await _page(browser, pages_url, viewport={"width": 800, "height": 600})
    await page.evaluate("window.scrollTo(0, 1700)")
    snap = await _snapshot(page)
    deep = snap.by_selector("#deep")
    assert deep is not None and snap.scroll_y == 1700
    assert deep.bbox.y == 2000 and deep.vbox.y == 300 and deep.in_viewport == 1 and deep.occluded is False
    grey = snap.by_selector("#grey")
    assert grey is not None and grey.in_viewport == 0 and grey.vbox.y == 20 - 1700
    # Re-projecting the first snapshot reproduces what the browser reports after the scroll.
    await page.evaluate("window.scrollTo(0, 0)")
    top = await _snapshot(page)
    moved = top.scrolled_to(1700).by_selector("#deep")
    assert moved is not None and moved.vbox == deep.vbox and moved.in_viewport == deep.in_viewport
    # The JSON-string form carries the same snapshot, cheaper to transfer.
    assert PageSnapshot.from_json(await page.evaluate(SNAPSHOT_JSON_JS, {})) == top
    await page.context.close()


async def test_the_snapshot_changes_nothing_on_the_page(browser: BrowserSession, pages_url: str) -> None:
    page = await _page(browser, pages_url, viewport={"width": 800, "height": 600})
    await page.evaluate("window.scrollTo(0, 250)")
    state = "[document.documentElement.outerHTML, scrollX, scrollY, document.activeElement.tagName]"
    before = await page.evaluate(state)
    await _snapshot(page)
    after = await page.evaluate(state)
    assert before == after
    await page.context.close()


async def test_snapshot_selectors_are_the_trackers(browser: BrowserSession, pages_url: str) -> None:
    device = {"viewport": {"width": 800, "height": 800}}
    async with open_visitor(browser, pages_url, device=device) as visitor:
        await visitor.goto("/persona_snapshot.html")
        snap = await _snapshot(visitor.page)
        nested = next(c for c in snap.candidates if c.name == "Nested link")
        assert not nested.selector.startswith("#")  # no id: a path, built the tracker's way
        await visitor.click(nested.aim_x, nested.aim_y - snap.scroll_y)
        clicks = [e for e in visitor.events if e["type"] == "click"]
        assert clicks[-1]["selector"] == nested.selector


async def test_every_library_persona_names_a_real_device(browser: BrowserSession) -> None:
    for persona in list_personas():
        descriptor = browser.device(persona.device, source=persona.name)
        assert bool(descriptor.get("has_touch")) == persona.touch, persona.name
