"""The probe's patch attacks in a real Chromium: no op rewrites a script or a style, whatever it selects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.kernel import InputError, PatchValidationError
from agent.patch import DomOp, Patch, load_patch, patch_from_mapping
from harness.browser.launch import BrowserSession
from harness.browser.patching import patch_init_script, patch_report, runtime_source
from harness.browser.server import serve_folder
from harness.browser.visitor import open_visitor
from harness.run.patch_check import check_patch
from harness.settings import Settings

# The page's own scripts record that they ran; a forged one would set __pwned or click #buy. The SVG script
# and the <p> share the class "c" with the inline script, so ".c" matches all three.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Scripts</title>
<style id="st" class="c">#buy { color: rgb(0, 0, 255) }</style></head>
<body>
<p id="note" class="c">Original note</p>
<button id="buy" type="button" onclick="window.__clicks = (window.__clicks || 0) + 1">Buy</button>
<script id="s" class="c">window.__ran = (window.__ran || []).concat("inline");</script>
<svg width="10" height="10"><script id="svg-s" class="c">window.__ran = (window.__ran || []).concat("svg");</script>
</svg>
</body></html>
"""
FORGED = "window.__pwned = 1; document.getElementById('buy').click();"

PAGE_STATE = """() => ({
  ran: window.__ran || [],
  pwned: window.__pwned === 1,
  clicks: window.__clicks || 0,
  script: document.getElementById('s').textContent,
  svgScript: document.getElementById('svg-s').textContent,
  colour: getComputedStyle(document.getElementById('buy')).color,
  note: document.getElementById('note').textContent,
})"""
UNTOUCHED = {"ran": ["inline", "svg"], "pwned": False, "clicks": 0,
             "script": 'window.__ran = (window.__ran || []).concat("inline");',
             "svgScript": 'window.__ran = (window.__ran || []).concat("svg");',
             "colour": "rgb(0, 0, 255)", "note": "Original note"}
REFUSED = "refused <{}>: a DOM op may change only elements that render content"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "scripts.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "done.html").write_text("<!doctype html><title>done</title><p id='ok'>done</p>", encoding="utf-8")
    with serve_folder(tmp_path) as url:
        yield url


async def _load(browser: BrowserSession, url: str, scripts: list[str]) -> tuple[dict[str, Any], list[dict]]:
    async with open_visitor(browser, url, init_scripts=scripts) as visitor:
        await visitor.goto("/scripts.html")
        state = await visitor.page.evaluate(PAGE_STATE)
        return state, list(visitor.events)


def _raw(ops: list[dict[str, str]]) -> str:
    """A runtime config that never went through the Python model, as a forged patch would be."""
    selectors = sorted({op["selector"] for op in ops})
    config = {"name": "forged", "digest": "x", "css": "", "selectors": selectors, "ops": ops}
    return f"window.__UIAB_PATCH__ = {json.dumps(config)};\n{runtime_source()}"


async def test_the_attack_works_on_this_page_without_the_guard(browser: BrowserSession, site: str) -> None:
    # The probe's attack, done by hand: an observer that rewrites the script before the parser runs it.
    # It shows the page can tell a guarded runtime from an unguarded one.
    attack = ("new MutationObserver(() => { const s = document.getElementById('s');"
              f" if (s && !s.dataset.hit) {{ s.dataset.hit = '1'; s.textContent = {json.dumps(FORGED)}; }} }})"
              ".observe(document, { childList: true, subtree: true });")
    control, _ = await _load(browser, site, [])
    assert control == UNTOUCHED
    attacked, _ = await _load(browser, site, [attack])
    assert attacked["pwned"] and attacked["clicks"] == 1 and attacked["ran"] == ["svg"]


async def test_id_and_class_selectors_skip_scripts_and_styles_at_run_time(browser: BrowserSession,
                                                                          site: str) -> None:
    # "#s" and ".c" pass the selector grammar (a <p id=s> would be fine); the runtime refuses the element.
    patch = Patch(name="sneaky", ops=[DomOp(op="set_text", selector="#s", text=FORGED),
                                      DomOp(op="set_text", selector="#st", text="#buy{color:#ff0000}"),
                                      DomOp(op="set_text", selector=".c", text=FORGED)])
    state, events = await _load(browser, site, [patch_init_script(patch)])
    report = patch_report(events, name="sneaky")
    # The <p class=c> is content and changed; every script and the style kept its text, and ran as written.
    assert state == UNTOUCHED | {"note": FORGED}
    assert report.reported and not report.applied
    assert report.failed_ops == [
        {"op": "set_text", "selector": "#s", "reason": REFUSED.format("script")},
        {"op": "set_text", "selector": "#st", "reason": REFUSED.format("style")},
        {"op": "set_text", "selector": ".c", "reason": REFUSED.format("script")},
    ]
    assert report.matched == {"#s": 1, "#st": 1, ".c": 4}


async def test_set_text_on_script_and_style_is_refused_at_run_time(browser: BrowserSession, site: str) -> None:
    ops = [{"op": "set_text", "selector": "script", "text": FORGED},
           {"op": "set_text", "selector": "style", "text": "#buy{color:#ff0000}"},
           {"op": "swap", "selector": "#note", "target": "script"},
           {"op": "show", "selector": "head"}]
    state, events = await _load(browser, site, [_raw(ops)])
    assert state == UNTOUCHED
    assert [op["reason"] for op in patch_report(events).failed_ops] == [
        REFUSED.format("script"), REFUSED.format("style"),
        "refused target <script>: a DOM op may change only elements that render content",
        REFUSED.format("head")]


def test_set_text_on_script_and_style_is_refused_at_check_time(tmp_path: Path) -> None:
    for element in ("script", "style"):
        with pytest.raises(PatchValidationError, match=f"may not change <{element}>"):
            patch_from_mapping({"name": "p", "ops": [{"op": "set_text", "selector": element, "text": "x"}]})
        path = tmp_path / f"{element}.toml"
        path.write_text(f'[[ops]]\nop = "set_text"\nselector = "{element}"\ntext = "x"\n', encoding="utf-8")
        with pytest.raises(PatchValidationError) as caught:
            load_patch(path)
        assert str(caught.value).startswith(f"{path}: ops[0].selector: line 1, column 1: ")


async def test_patch_check_refuses_an_op_that_matched_a_script(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "scripts.html").write_text(PAGE, encoding="utf-8")
    (site / "done.html").write_text("<!doctype html><title>done</title>", encoding="utf-8")
    (tmp_path / "experiment.toml").write_text(
        'name = "scripts"\nsite = "site"\nentry = "/scripts.html"\npersonas = ["careful-desktop-researcher"]\n'
        '[[funnel]]\npage = "/scripts.html"\nnext = "#buy"\n[goals.conversion]\nurl = "/done.html"\n'
        '[[variants]]\nname = "control"\n', encoding="utf-8")
    patch = tmp_path / "sneaky.toml"
    patch.write_text('name = "sneaky"\n[[ops]]\nop = "hide"\nselector = "#note"\n'
                     f'[[ops]]\nop = "set_text"\nselector = "#s"\ntext = {json.dumps(FORGED)}\n',
                     encoding="utf-8")
    with pytest.raises(InputError) as caught:
        await check_patch(patch, Settings(), tmp_path / "experiment.toml")
    assert str(caught.value) == (
        f"{patch}: ops[1].selector: #s matched <script> on /scripts.html, which no DOM op may change (only "
        "elements that render content) (fix: select the element by an id or class that no script, style or "
        "other non-content element carries)")
