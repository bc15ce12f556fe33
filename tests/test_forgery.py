"""Page script cannot forge a measurement: every forgery the hostile-tester probe tried, in a real Chromium.

The same visitor runs the same session on an honest page and on the same page with a hostile script in its
head; the measured :class:`SessionResult` must be the same, and what it should be. The hostile script calls
and redefines the tracker's binding and API, pokes the patch registry, dispatches synthetic clicks on the
goal's own element, fakes a page's end, wraps ``console.error`` and ``window.onerror`` to hide errors, lies
about the clock, and forges a conversion (with the experiment's goal name and with another) whenever it can
tell a patch is applied. It runs at parse time, when the document is ready, on every real click and from a
timer. (An error the page marks handled itself, with ``onerror`` returning true, is handled — as one it
caught with try/catch — and the browser does not report it; that is the page's code, not a forgery.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from agent.patch import Patch
from harness.browser.launch import BrowserSession
from harness.browser.patching import patch_init_script
from harness.browser.pool import VisitorPool
from harness.browser.server import serve_folder
from harness.browser.visitor import Visitor
from harness.run.outcome import session_result

GOALS = [{"name": "conversion", "click": "#buy"}]
PATCH = Patch(name="red-cta", css="#buy { color: #ff0000 }")
BUY, FILLER = (160, 120), (40, 600)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>{head}</head>
<body style="margin: 0">
<button id="buy" style="position: absolute; left: 100px; top: 100px; width: 120px; height: 40px">Buy</button>
<div id="filler" style="position: absolute; top: 300px; width: 100%; height: 1500px">filler</div>
<script>console.error("inventory service said no"); undefinedFunctionCall();</script>
</body></html>
"""

HOSTILE = """<script>
(() => {
  const FORGE_READY = %s;  // a synthetic "document ready" at parse time
  const attempts = window.__attempts = { saw: null, tried: 0, refused: 0, synthetic: 0, patched: false };
  const globals = () => ({ emit: typeof window.__uiab_emit, uiab: typeof window.__uiab,
    patches: typeof window.__uiab_patches, config: typeof window.__UIAB_CONFIG__,
    patch: typeof window.__UIAB_PATCH__ });
  attempts.saw = globals();
  const attempt = (fn) => { attempts.tried += 1; try { fn(); } catch (e) { attempts.refused += 1; } };
  const fake = (type, data) => JSON.stringify(Object.assign({ type, t: 0, url: location.pathname }, data));
  function forge() {
    // The tracker's binding, as the tracker calls it and as an object, with a goal name of the experiment's
    // and one of the page's own, and as eight interactive clicks.
    attempt(() => window.__uiab_emit(fake("goal", { goal: "conversion", via: "click" })));
    attempt(() => window.__uiab_emit({ type: "goal", goal: "conversion" }));
    attempt(() => window.__uiab_emit(fake("goal", { goal: "anything", via: "url" })));
    for (let i = 0; i < 8; i++) {
      attempt(() => window.__uiab_emit(fake("click", { interactive: true, selector: "#buy", x: 160, y: 120 })));
    }
    // The tracker's API and the patch registry.
    attempt(() => window.__uiab.send("goal", { goal: "conversion" }));
    attempt(() => window.__uiab.send("click", { interactive: true, selector: "#buy" }));
    attempt(() => window.__uiab.leave("forged"));
    attempt(() => window.__uiab_patches.apply());
    // Synthetic input on the goal's own element, and a page view's end and a navigation that never happened.
    const buy = document.getElementById("buy");
    if (buy) {
      attempt(() => buy.click());
      attempt(() => buy.dispatchEvent(new MouseEvent("click", { bubbles: true, clientX: 160, clientY: 120 })));
    }
    attempt(() => window.dispatchEvent(new PageTransitionEvent("pagehide")));
    attempt(() => window.navigation.dispatchEvent(new Event("navigate")));
    if (FORGE_READY) attempt(() => document.dispatchEvent(new Event("DOMContentLoaded")));
  }
  // The probe's way to hide errors: the binding and the tracker replaced by filters.
  attempt(() => Object.defineProperty(window, "__uiab_emit", { configurable: true, writable: true,
    value: (event) => { if (!/error/.test(String(event))) attempts.leaked = event; } }));
  attempt(() => Object.defineProperty(window, "__uiab", { value: Object.freeze({ send() {}, leave() {} }) }));
  // Hooks a tracker in the page would listen with: wrapped, swallowed, stopped.
  const consoleError = console.error;
  console.error = function (...args) { return consoleError.apply(console, args); };
  window.onerror = function () { /* swallowed, though not marked handled */ };
  window.addEventListener("error", (e) => e.stopImmediatePropagation(), true);
  window.addEventListener("unhandledrejection", (e) => e.stopImmediatePropagation(), true);
  // The page's clock, lied about: a tracker reading Date would measure hours of dwell.
  const now = Date.now;
  Date.now = () => now() + 3600000;
  // Convert only when a patch is applied: by uiab's registry, or by what the page can see of its effect.
  const patched = () => !!window.__uiab_patches || document.adoptedStyleSheets.length > 0;
  forge();
  document.addEventListener("DOMContentLoaded", (e) => {
    if (e.isTrusted) { attempts.patched = patched(); forge(); }
  });
  window.addEventListener("click", (e) => {
    if (!e.isTrusted) { attempts.synthetic += 1; return; }
    if (patched()) forge();
  }, true);
  setTimeout(forge, 1000);
})();
</script>"""


@contextmanager
def _sites(folder: Path, *, forge_ready: bool) -> Iterator[dict[str, str]]:
    """The honest page and the hostile one, each served as ``/index.html`` of its own loopback site."""
    with ExitStack() as servers:
        urls: dict[str, str] = {}
        for name, head in (("honest", ""), ("hostile", HOSTILE % ("true" if forge_ready else "false"))):
            (folder / name).mkdir()
            (folder / name / "index.html").write_text(PAGE.format(head=head), encoding="utf-8")
            urls[name] = servers.enter_context(serve_folder(folder / name))
        yield urls


async def _session(visitor: Visitor, clicks: list[tuple[int, int]]) -> dict[str, Any]:
    await visitor.goto("/index.html")
    for x, y in clicks:
        await visitor.advance(1500)  # the hostile timer fires in the first wait
        await visitor.click(x, y)
    await visitor.advance(500)
    await visitor.finish()
    result = session_result(visitor.events, blocked=len(visitor.guard.blocked), failed=len(visitor.failed_requests),
                            goals={g["name"] for g in GOALS})
    return result.to_dict()


async def _compare(browser: BrowserSession, sites: dict[str, str], reuse: bool
                   ) -> dict[tuple[str, str], dict[str, Any]]:
    """Run both plans on both pages, check the honest results are right; every (site, plan) result."""
    results: dict[tuple[str, str], dict[str, Any]] = {}
    attempts: dict[str, Any] = {}
    for site, base_url in sites.items():
        pool = VisitorPool(browser, base_url, GOALS, reuse=reuse)
        try:
            for plan, clicks in (("browse", [FILLER]), ("buy", [FILLER, BUY])):
                async with pool.visitor("Desktop Chrome", [patch_init_script(PATCH)]) as visitor:
                    results[site, plan] = await _session(visitor, clicks)
                    if site == "hostile":
                        attempts[plan] = await visitor.page.evaluate("window.__attempts")
        finally:
            await pool.close()
    # The hostile script really ran, saw none of uiab's globals, tried every forgery on every occasion, and
    # took the patch for present (so its convert-when-patched branch ran on the real clicks).
    for plan, seen in attempts.items():
        assert seen["saw"] == {"emit": "undefined", "uiab": "undefined", "patches": "undefined",
                               "config": "undefined", "patch": "undefined"}, plan
        assert seen["patched"] is True and seen["synthetic"] >= 6 and seen["tried"] > 60, (plan, seen)
    for plan, goals, n in (("browse", [], 1), ("buy", ["conversion"], 2)):
        honest, hostile = results["honest", plan], results["hostile", plan]
        assert hostile == honest, plan
        assert (honest["goals"], honest["goal_reached"]) == (tuple(goals), bool(goals)), plan
        assert (honest["clicks"], honest["interactive_clicks"], honest["misclicks"]) == (n, n - 1, 1), plan
        assert (honest["js_errors"], honest["console_errors"]) == (1, 1), plan
        assert [p["dwell_ms"] for p in honest["pages"]] == [1500.0 * n + 500], plan
        assert [r["applied"] for r in honest["patch_reports"]] == [True], plan
    return results


@pytest.mark.parametrize("reuse", [True, False], ids=["reused-tab", "fresh-context"])
async def test_page_script_forgery_leaves_the_session_result_unchanged(browser: BrowserSession, tmp_path: Path,
                                                                     reuse: bool) -> None:
    with _sites(tmp_path, forge_ready=False) as sites:
        results = await _compare(browser, sites, reuse)
    for plan in ("browse", "buy"):
        assert results["hostile", plan] == results["honest", plan], plan


async def test_a_synthetic_document_ready_changes_nothing(browser: BrowserSession, tmp_path: Path) -> None:
    # A "DOMContentLoaded" the page dispatches while it is still parsing: neither the tracker's page view nor
    # the patch runtime's first report may start early on it (patch_reports would then differ).
    with _sites(tmp_path, forge_ready=True) as sites:
        results = await _compare(browser, sites, reuse=False)
    for plan in ("browse", "buy"):
        assert results["hostile", plan]["patch_reports"] == results["honest", plan]["patch_reports"], plan


def test_only_the_experiments_own_goal_names_are_conversions() -> None:
    """Pure: a goal event of any other name is dropped on arrival and not counted (no browser)."""
    nothing: Any = None
    visitor = Visitor(page=nothing, guard=nothing, base_url="http://127.0.0.1:1", world=nothing,
                      goal_names=frozenset({"conversion"}))
    visitor.receive({"type": "page_view", "t": None, "url": "/"}, 1)
    visitor.receive({"type": "goal", "t": None, "url": "/", "goal": "anything", "via": "url"}, 1)
    assert [e["type"] for e in visitor.events] == ["page_view"]
    visitor.receive({"type": "goal", "t": None, "url": "/", "goal": "conversion", "via": "click"}, 1)
    assert visitor.events[-1]["goal"] == "conversion"
    forged = [{"type": "goal", "goal": "anything"}, {"type": "goal", "goal": "conversion"}]
    assert session_result(forged, goals={"conversion"}).goals == ("conversion",)
    assert session_result(forged[:1], goals={"conversion"}).goal_reached is False
    assert session_result(forged[:1]).goal_reached is True  # without the experiment's names, any name counts


def test_events_are_stamped_on_the_visitors_virtual_clock() -> None:
    """Pure: t and a page view's dwell come from Visitor.now_ms, whole milliseconds as integers."""
    nothing: Any = None
    visitor = Visitor(page=nothing, guard=nothing, base_url="http://127.0.0.1:1", world=nothing)
    visitor.now_ms = 1500.0
    visitor.receive({"type": "page_view", "t": None, "url": "/a"}, 7)
    visitor.now_ms = 4000.0
    visitor.receive({"type": "page_leave", "t": None, "url": "/a", "dwell_ms": None, "scroll_depth": 0.5}, 7)
    view, leave = visitor.events
    assert view["t"] == 1767603601500 and isinstance(view["t"], int)
    assert (leave["t"], leave["dwell_ms"]) == (1767603604000, 2500) and isinstance(leave["dwell_ms"], int)
    assert list(leave) == ["type", "t", "url", "dwell_ms", "scroll_depth", "seq"]  # the stored shape is kept
