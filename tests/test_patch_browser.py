"""Patches in a real Chromium: every op does what it says, before first paint, idempotently, honestly."""

from __future__ import annotations

import io
import json
from typing import Any

from PIL import Image

from agent.patch import DomOp, Patch
from harness.browser.launch import BrowserSession
from harness.browser.patching import patch_init_script, patch_report, runtime_source
from harness.browser.visitor import open_visitor

PAGE = "/patch_ops.html"
RED = (255, 0, 0)
BLUE = (0, 0, 255)

ALL_OPS = Patch(name="all-ops", ops=[
    DomOp(op="set_text", selector="#title", text="New <b>title</b>"),
    DomOp(op="move_before", selector="#d", target="#a"),
    DomOp(op="move_after", selector="#a", target="#c"),
    DomOp(op="swap", selector="#x", target="#y"),
    DomOp(op="hide", selector="#banner"),
    DomOp(op="show", selector="#secret"),
    DomOp(op="show", selector="#attr-hidden"),
    DomOp(op="sticky", selector="#cta"),
    DomOp(op="set_attr", selector="#pic", attr="alt", value="new alt"),
])

DOM_STATE = """() => ({
  list: [...document.querySelectorAll('#list li')].map((e) => e.id),
  swap: [...document.querySelector('#swap-box').children].map((e) => e.id),
  title: document.querySelector('#title').textContent,
  titleChildren: document.querySelector('#title').children.length,
  banner: getComputedStyle(document.querySelector('#banner')).display,
  secret: getComputedStyle(document.querySelector('#secret')).display,
  attrHidden: getComputedStyle(document.querySelector('#attr-hidden')).display,
  cta: getComputedStyle(document.querySelector('#cta')).position,
  alt: document.querySelector('#pic').getAttribute('alt'),
  late: [...document.querySelectorAll('.late')].map((e) => e.textContent),
})"""


def _patch_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "patch"]


async def _state(browser: BrowserSession, pages_url: str, scripts: list[str]) -> dict[str, Any]:
    async with open_visitor(browser, pages_url, init_scripts=scripts) as visitor:
        await visitor.goto(PAGE)
        return await visitor.page.evaluate(DOM_STATE)


async def test_every_op_kind_changes_the_dom_as_specified(browser: BrowserSession, pages_url: str) -> None:
    control = await _state(browser, pages_url, [])
    assert control == {"list": ["a", "b", "c", "d"], "swap": ["x", "sep", "y"], "title": "Original title",
                       "titleChildren": 0, "banner": "block", "secret": "none", "attrHidden": "none",
                       "cta": "static", "alt": "old alt", "late": []}
    async with open_visitor(browser, pages_url, init_scripts=[patch_init_script(ALL_OPS)]) as visitor:
        await visitor.goto(PAGE)
        state = await visitor.page.evaluate(DOM_STATE)
        report = patch_report(visitor.events, name="all-ops")
    assert state == {
        "list": ["d", "b", "c", "a"],  # d moved before a, then a moved after c
        "swap": ["y", "sep", "x"],
        "title": "New <b>title</b>",
        "titleChildren": 0,  # text, never markup
        "banner": "none",
        "secret": "block",
        "attrHidden": "block",
        "cta": "sticky",
        "alt": "new alt",
        "late": [],
    }
    assert report.applied, report
    assert report.matched == {s: 1 for s in ALL_OPS.selectors}


async def test_patch_is_in_place_before_first_paint(browser: BrowserSession, pages_url: str) -> None:
    patch = Patch(name="red", css="#paint { background-color: #ff0000 }",
                  ops=[DomOp(op="set_text", selector="#title", text="Patched title")])
    # A test probe (an init script after the patch) records the style when the parser has finished,
    # without requestAnimationFrame, which the virtual clock holds back.
    probe = ("document.addEventListener('DOMContentLoaded', () => { window.__atDomReady = "
             "getComputedStyle(document.getElementById('paint')).backgroundColor; });")

    async def first_look(scripts: list[str]) -> tuple[tuple[int, ...], dict[str, Any], str]:
        async with open_visitor(browser, pages_url, device={"viewport": {"width": 800, "height": 600}},
                                init_scripts=scripts) as visitor:
            await visitor.page.add_init_script(probe)  # the probe is the page's own script, in the main world
            await visitor.goto(PAGE)
            png = await visitor.page.screenshot()  # the first screenshot after navigation
            at_parse = await visitor.page.evaluate("window.__atParse")
            at_ready = await visitor.page.evaluate("window.__atDomReady")
        image = Image.open(io.BytesIO(png)).convert("RGB")
        return image.getpixel((200, 100)), at_parse, at_ready

    pixel, at_parse, at_ready = await first_look([])
    assert pixel == BLUE and at_parse["background"] == "rgb(0, 0, 255)"  # the check can tell the difference
    pixel, at_parse, at_ready = await first_look([patch_init_script(patch)])
    assert pixel == RED
    # The page's own inline script, run while the document was still being parsed, already saw the patch.
    assert at_parse == {"background": "rgb(255, 0, 0)", "title": "Patched title"}
    assert at_ready == "rgb(255, 0, 0)"


async def test_elements_the_page_adds_later_get_the_ops(browser: BrowserSession, pages_url: str) -> None:
    patch = Patch(name="late", ops=[DomOp(op="set_text", selector=".late", text="late patched")])
    async with open_visitor(browser, pages_url, init_scripts=[patch_init_script(patch)]) as visitor:
        await visitor.goto(PAGE)
        before = patch_report(visitor.events)
        assert before.matched == {".late": 0} and not before.applied
        assert before.failed_ops[0]["reason"] == "no element matches .late"
        await visitor.advance(1500)  # the page's timer adds <p class="late">
        state = await visitor.page.evaluate(DOM_STATE)
        after = patch_report(visitor.events)
    assert state["late"] == ["late patched"]
    assert after.applied and after.matched == {".late": 1}
    assert len(_patch_events(visitor.events)) == 2  # reported at DOMContentLoaded, again when it changed


async def test_selector_that_matches_nothing_is_a_failed_action(browser: BrowserSession,
                                                                 pages_url: str) -> None:
    patch = Patch(name="miss", css="#paint{color:#000000} #no-such-thing:hover{color:#ff0000}",
                  ops=[DomOp(op="hide", selector=".not-on-this-page")])
    async with open_visitor(browser, pages_url, init_scripts=[patch_init_script(patch)]) as visitor:
        await visitor.goto(PAGE)
        report = patch_report(visitor.events)
    assert report.reported
    assert report.matched == {"#paint": 1, "#no-such-thing": 0, ".not-on-this-page": 0}
    assert report.unmatched == ["#no-such-thing", ".not-on-this-page"]
    assert report.failed_ops == [{"op": "hide", "selector": ".not-on-this-page",
                                  "reason": "no element matches .not-on-this-page"}]
    assert report.applied is False


async def test_ops_are_idempotent(browser: BrowserSession, pages_url: str) -> None:
    once = await _state(browser, pages_url, [patch_init_script(ALL_OPS)])
    twice = [patch_init_script(ALL_OPS), patch_init_script(ALL_OPS)]
    async with open_visitor(browser, pages_url, init_scripts=twice) as visitor:
        await visitor.goto(PAGE)
        # Re-apply by hand and through the page's own later mutation: nothing moves, swaps back or repeats.
        for _ in range(3):
            await visitor.world.evaluate("window.__uiab_patches.apply()")
        await visitor.advance(1500)
        state = await visitor.page.evaluate(DOM_STATE)
        reports = await visitor.world.evaluate("window.__uiab_patches.reports()")
    assert state == once | {"late": ["late original"]}
    assert len(reports) == 1  # the second copy of the same patch stood down
    assert len({e["name"] for e in _patch_events(visitor.events)}) == 1


async def test_patch_is_reapplied_on_every_page(browser: BrowserSession, pages_url: str) -> None:
    patch = Patch(name="everywhere", css="body { background-color: #fafafa }")
    async with open_visitor(browser, pages_url, init_scripts=[patch_init_script(patch)]) as visitor:
        await visitor.goto("/basic.html")
        await visitor.goto("/second.html")
        background = await visitor.page.evaluate("getComputedStyle(document.body).backgroundColor")
        events = _patch_events(visitor.events)
    assert background == "rgb(250, 250, 250)"
    assert [e["url"] for e in events] == ["/basic.html", "/second.html"]
    assert all(patch_report(events, url=url).applied for url in ("/basic.html", "/second.html"))


async def test_runtime_refuses_ops_the_model_would_refuse(browser: BrowserSession, pages_url: str) -> None:
    # A config that never went through the Python model: the runtime itself holds the line.
    config = {"name": "forged", "digest": "x", "css": "", "selectors": ["#cta"], "ops": [
        {"op": "set_attr", "selector": "#cta", "attr": "onclick", "value": "window.__pwned = 1"},
        {"op": "eval", "selector": "#cta", "text": "window.__pwned = 2"},
    ]}
    script = f"window.__UIAB_PATCH__ = {json.dumps(config)};\n{runtime_source()}"
    async with open_visitor(browser, pages_url, init_scripts=[script]) as visitor:
        await visitor.goto(PAGE)
        await visitor.click(*await _centre(visitor.page, "#cta"))
        onclick = await visitor.page.evaluate("document.querySelector('#cta').getAttribute('onclick')")
        pwned = await visitor.page.evaluate("window.__pwned === undefined")
        report = patch_report(visitor.events)
    assert onclick is None and pwned
    reasons = [op["reason"] for op in report.failed_ops]
    assert reasons == ["attribute onclick is not allowed", "unknown op eval"]
    assert report.applied is False


async def _centre(page: Any, selector: str) -> tuple[float, float]:
    box = await page.locator(selector).bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


async def test_frames_are_left_alone(browser: BrowserSession, pages_url: str) -> None:
    patch = Patch(name="top-only", css="#outer { color: #ff0000 }")
    async with open_visitor(browser, pages_url, init_scripts=[patch_init_script(patch)]) as visitor:
        await visitor.goto("/patch_frame.html")
        frame = visitor.page.frame_locator("#frame")
        await frame.locator("#buy").wait_for()
        events = _patch_events(visitor.events)
    # Only the page reports: a frame where #outer matches nothing must not turn the patch into a failure.
    assert [e["url"] for e in events] == ["/patch_frame.html"]
    assert patch_report(events).applied
