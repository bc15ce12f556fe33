"""``uiab smoke``: walk the funnel deterministically per variant and device, and check every page."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger
from playwright.async_api import Error as PlaywrightError

from agent.kernel import InputError
from harness.browser.launch import BrowserSession
from harness.browser.patching import patch_report
from harness.browser.visitor import Visitor, open_visitor
from harness.run.experiment import Experiment, Variant
from harness.run.outcome import session_result
from harness.run.variants import variant_init_scripts, variant_patch
from harness.store.database import Store, StoredSession

__all__ = ["PageCheck", "SmokeWalk", "check_selectors", "smoke_walk", "run_smoke_walks"]

# What smoke asks the page about the funnel's next element: does it exist, is it visible, and would a
# click at its centre land on it (not on an overlay)? One evaluate, scrolled into view first.
_PROBE_JS = """
(selector) => {
  const all = document.querySelectorAll(selector);
  if (!all.length) return { matches: 0 };
  const el = all[0];
  el.scrollIntoView({ block: "center", inline: "center" });
  const r = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  const visible = r.width > 0 && r.height > 0 && style.visibility !== "hidden" &&
                  style.display !== "none" && Number(style.opacity) > 0.05;
  const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
  const inView = cx >= 0 && cy >= 0 && cx < innerWidth && cy < innerHeight;
  const hit = inView ? document.elementFromPoint(cx, cy) : null;
  const clickable = !!hit && (hit === el || el.contains(hit));
  const overflow = document.documentElement.scrollWidth > innerWidth + 1;
  let occluder = null;
  if (hit && !clickable) occluder = hit.id ? "#" + hit.id : hit.tagName.toLowerCase();
  return { matches: all.length, visible, clickable, x: cx, y: cy, occluder, overflow,
           box: [r.left, r.top, r.width, r.height] };
}
"""
_COUNT_JS = "(selectors) => selectors.map((s) => document.querySelectorAll(s).length)"


@dataclass
class PageCheck:
    """One page of one walk: what loaded, what broke, and whether the way on is usable."""

    variant: str
    device: str
    page: str
    loaded: bool
    js_errors: int = 0
    console_errors: int = 0
    blocked_requests: int = 0
    next: str | None = None
    next_matches: int = 0
    next_visible: bool | None = None
    next_clickable: bool | None = None
    goal_reached: bool | None = None
    screenshot: str | None = None
    compare: str | None = None  # control | this variant, side by side
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


@dataclass
class SmokeWalk:
    variant: str
    device: str
    pages: list[PageCheck]
    events: list[dict[str, Any]]
    bad_input: list[str] = field(default_factory=list)  # "field: problem": a selector that matches nothing

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.pages)


def _path_of(url: str, base_url: str) -> str:
    path = url[len(base_url.rstrip("/")):] if url.startswith(base_url) else url
    return path.split("#", 1)[0] or "/"


async def smoke_walk(
    browser: BrowserSession,
    experiment: Experiment,
    variant: Variant,
    device_name: str,
    base_url: str,
    *,
    screenshot_dir: Path | None = None,
) -> SmokeWalk:
    """Walk the funnel once, clicking each step's ``next`` at its centre with real input."""
    device = browser.device(device_name, source=str(experiment.path))
    touch = bool(device.get("has_touch"))
    pages: list[PageCheck] = []
    bad_input: list[str] = []
    goals = {name: goal.click for name, goal in experiment.goals.items() if goal.click}
    seen: set[str] = set()  # goals whose click selector matched on some page walked
    async with open_visitor(browser, base_url, device=device, goals=experiment.goal_specs(),
                            init_scripts=variant_init_scripts(experiment, variant)) as visitor:
        response = await visitor.page.goto(_url(base_url, experiment.entry), wait_until="load")
        await visitor.advance(0)
        loaded_ok = response is None or response.ok
        for index, step in enumerate(experiment.funnel):
            here = _path_of(visitor.page.url, base_url)
            check = PageCheck(variant.name, device_name, step.page, loaded=loaded_ok, next=step.next)
            pages.append(check)
            if here.split("?", 1)[0] != step.page.split("?", 1)[0]:
                check.loaded = False
                check.problems.append(f"expected page {step.page}, found {here}")
                break
            await visitor.advance(1000)
            await _screenshot(visitor, check, screenshot_dir, index)
            await _see_goals(visitor, goals, seen)
            if step.next is None:
                continue
            probe = await visitor.page.evaluate(_PROBE_JS, step.next)
            check.next_matches = probe["matches"]
            if not probe["matches"]:
                check.problems.append(f"{step.next} matches nothing on {step.page}")
                bad_input.append(f"funnel[{index}].next: {step.next} matches nothing on {step.page}")
                break
            check.next_visible = bool(probe["visible"])
            check.next_clickable = bool(probe["clickable"])
            if probe.get("overflow"):
                check.problems.append(f"{step.page} overflows horizontally on {device_name}")
            if not check.next_visible:
                check.problems.append(f"{step.next} on {step.page} is not visible")
                break
            if not check.next_clickable:
                check.problems.append(
                    f"{step.next} on {step.page} is covered at its centre by {probe['occluder']}")
                break
            await visitor.click(probe["x"], probe["y"], touch=touch)
            loaded_ok = True
        else:
            # The walk finished the funnel: the page it ends on is checked for errors too.
            await visitor.advance(1000)
            await _see_goals(visitor, goals, seen)
            walked = ", ".join(step.page for step in experiment.funnel)
            bad_input.extend(f"goals.{name}.click: {selector} matches nothing on any funnel page ({walked})"
                             for name, selector in goals.items() if name not in seen)
        await visitor.finish()
        _attribute(pages, visitor, base_url)
        result = session_result(visitor.events, blocked=len(visitor.guard.blocked),
                                failed=len(visitor.failed_requests))
        patch = variant_patch(experiment, variant)
        if patch is not None and pages:
            pages[-1].problems.extend(_patch_problems(patch.name, visitor.events))
        if pages and experiment.goals:
            pages[-1].goal_reached = result.goal_reached
            if pages[-1].ok and not result.goal_reached:
                pages[-1].problems.append(f"goal {', '.join(experiment.goals)} not reached after the funnel")
        return SmokeWalk(variant.name, device_name, pages, list(visitor.events), bad_input)


async def _see_goals(visitor: Visitor, goals: dict[str, str], seen: set[str]) -> None:
    """Note which goals' click selectors match on the page as it is now."""
    if not goals:
        return
    try:
        counts = await visitor.page.evaluate(_COUNT_JS, list(goals.values()))
    except PlaywrightError:  # the page navigated away mid-question: unknown is never a refusal
        counts = [1] * len(goals)
    seen.update(name for name, count in zip(goals, counts, strict=True) if count)


async def check_selectors(browser: BrowserSession, experiment: Experiment, base_url: str, device: str) -> None:
    """One walk of the unpatched site: a funnel or goal selector that matches nothing is bad input.

    Called before a command opens its database, so a typo in a selector writes nothing; only a page can tell.
    """
    walk = await smoke_walk(browser, experiment, Variant(name="control"), device, base_url)
    if walk.bad_input:
        field, _, problem = walk.bad_input[0].partition(": ")
        raise InputError(problem, source=str(experiment.path), field=field,
                         fix="correct the selector in experiment.toml: it must match an element of that page")


def _patch_problems(name: str, events: list[dict[str, Any]]) -> list[str]:
    """A patch that matched nothing on every page walked, or whose ops failed, is a failed action."""
    reports = [patch_report([e]) for e in events if e.get("type") == "patch"]
    if not reports:
        return [f"patch {name} never reported: its runtime did not run"]
    best: dict[str, int] = {}
    for report in reports:
        for selector, count in report.matched.items():
            best[selector] = max(best.get(selector, 0), count)
    problems = [f"patch {name}: {selector} matched nothing on any page walked"
                for selector, count in best.items() if count == 0]
    if all(r.failed_ops for r in reports):
        failed = reports[-1].failed_ops[0]
        problems.append(f"patch {name}: {failed['op']} {failed['selector']} failed ({failed['reason']})")
    return problems


def _url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def _attribute(pages: list[PageCheck], visitor: Visitor, base_url: str) -> None:
    """Give each page the errors and blocked requests that happened on it."""
    by_page = {p.page.split("?", 1)[0]: p for p in pages}
    for event in visitor.events:
        check = by_page.get(str(event.get("url", "")).split("?", 1)[0])
        if check is None:
            continue
        if event["type"] == "js_error":
            check.js_errors += 1
        elif event["type"] == "console_error":
            check.console_errors += 1
    for url, page_url in visitor.guard.blocked_from:
        check = by_page.get(_path_of(page_url, base_url).split("?", 1)[0]) or (pages[-1] if pages else None)
        if check is not None:
            check.blocked_requests += 1
            if not any("blocked" in p for p in check.problems):
                check.problems.append(f"request off the site's origin blocked on {check.page}: {url}")
    for check in pages:
        if check.js_errors:
            check.problems.append(f"{check.js_errors} JS error(s) on {check.page}")
        if check.console_errors:
            check.problems.append(f"{check.console_errors} console error(s) on {check.page}")


async def _screenshot(visitor: Visitor, check: PageCheck, folder: Path | None, index: int) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    slug = f"{check.variant}__{check.device}__{index:02d}_{check.page.strip('/').replace('/', '_')}"
    path = folder / (slug.replace(" ", "-").replace("(", "").replace(")", "") + ".png")
    await visitor.page.screenshot(path=str(path))
    check.screenshot = str(path)


async def run_smoke_walks(
    browser: BrowserSession,
    experiment: Experiment,
    variants: Sequence[Variant],
    devices: Sequence[str],
    base_url: str,
    *,
    store: Store,
    run_id: int,
    concurrency: int,
    screenshot_dir: Path | None,
    on_done: Any = None,
) -> list[SmokeWalk]:
    """Every variant × device, at most ``concurrency`` at once; each finished walk is stored at once."""
    gate = asyncio.Semaphore(concurrency)
    jobs = [(v, d) for v in variants for d in devices]

    async def one(variant: Variant, device: str) -> SmokeWalk:
        async with gate:
            walk = await smoke_walk(browser, experiment, variant, device, base_url, screenshot_dir=screenshot_dir)
        result = session_result(walk.events)
        store.add_session(run_id, StoredSession(
            visitor_id=f"smoke:{variant.name}:{device}", device=device, variant=variant.name,
            status="walk" if walk.ok else "walk-failed", goal_reached=result.goal_reached,
            result={**result.to_dict(), "checks": [p.to_dict() for p in walk.pages]},
            events=walk.events, page_views=result.page_rows()))
        logger.debug("smoke {} on {}: {}", variant.name, device, "ok" if walk.ok else "FAILED")
        if on_done is not None:
            on_done(walk)
        return walk

    return list(await asyncio.gather(*(one(v, d) for v, d in jobs)))
