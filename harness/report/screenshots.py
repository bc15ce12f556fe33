"""Screenshots taken at report time in the real browser, and which of them sit side by side.

The database holds no screenshots, so each is taken on the site as it is when the report is built.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger
from playwright.async_api import Error as PlaywrightError

from agent.kernel import UiabError, first_line
from harness.report.clicks import HeatmapTarget
from harness.report.images import MAX_CSS_HEIGHT, Shot
from harness.report.load import patched_pages
from harness.report.model import ReportModel
from harness.run.experiment import Experiment, Variant
from harness.settings import Settings
from harness.store.database import Store

__all__ = ["Comparison", "ShotKey", "Screenshots", "capture", "plan_comparisons", "take_screenshots", "variant_for",
           "viewports"]


def variant_for(name: str, experiment: Experiment, model: ReportModel, settings: Settings) -> tuple[Variant, str]:
    """The variant whose patch renders ``name``, and a note when that is not ``name`` itself."""
    for variant in experiment.variants:
        if variant.name == name:
            return variant, ""
    ref = str(model.config.get("candidate") or "")
    path = Path(ref)
    if path.suffix in (".css", ".toml") and path.is_file() and name in (path.stem, f"{path.stem}-candidate"):
        return Variant(name=name, patch=str(path.resolve())), ""
    written = settings.report_dir / "candidates" / f"{name}.toml"  # a checkpoint candidate's patch file
    if written.is_file():
        return Variant(name=name, patch=str(written.resolve())), ""
    base = next((v for v in experiment.variants if v.name == model.control), None) or experiment.variants[0]
    return base, f"{name} has no patch of its own: rendered on {base.name}"


ShotKey = tuple[str, str, str]  # (variant, device, page)


async def capture(experiment: Experiment, wanted: Mapping[tuple[str, str], Sequence[str]],
                  variants: Mapping[str, Variant], settings: Settings, notes: list[str]) -> dict[ShotKey, Shot]:
    """Full-page screenshots (CSS scale) of each wanted page, per variant and device, in the real browser."""
    from harness.browser.launch import open_browser
    from harness.browser.visitor import open_visitor
    from harness.run.smoke_job import site_url
    from harness.run.variants import variant_init_scripts

    shots: dict[ShotKey, Shot] = {}
    with site_url(experiment) as base_url:
        async with open_browser(settings) as browser:
            gate = asyncio.Semaphore(max(1, settings.concurrency))

            async def one(variant_name: str, device: str, pages: Sequence[str]) -> None:
                async with gate:
                    try:
                        scripts = variant_init_scripts(experiment, variants[variant_name])
                        descriptor = browser.device(device)
                    except UiabError as exc:
                        notes.append(f"no screenshots of {variant_name} on {device}: {exc}")
                        return
                    async with open_visitor(browser, base_url, device=descriptor, goals=experiment.goal_specs(),
                                            init_scripts=scripts) as visitor:
                        for page in pages:
                            try:
                                await visitor.goto(page)
                                await visitor.advance(1000)  # let the page's timers settle, as smoke does
                                size = await visitor.page.evaluate(
                                    "[Math.max(document.documentElement.scrollWidth, innerWidth),"
                                    " Math.max(document.documentElement.scrollHeight, innerHeight)]")
                                width, height = float(size[0]), float(size[1])
                                crop = min(height, MAX_CSS_HEIGHT)
                                png = await visitor.page.screenshot(
                                    full_page=True, type="png", scale="css", animations="disabled",
                                    clip={"x": 0, "y": 0, "width": width, "height": crop})
                                shots[(variant_name, device, page)] = Shot(png, width, crop, height)
                            except PlaywrightError as exc:
                                notes.append(f"screenshot of {page} ({variant_name}, {device}) failed: "
                                             f"{first_line(exc)}")

            await asyncio.gather(*(one(v, d, pages) for (v, d), pages in wanted.items()))
    return shots

@dataclass(frozen=True)
class Comparison:
    """Screenshots shown side by side: ``variants`` on one device and page (control first)."""

    device: str
    page: str
    variants: tuple[str, ...]


def plan_comparisons(model: ReportModel, patched: Mapping[str, Sequence[str]], *,
                     max_pages: int = 2) -> list[Comparison]:
    """Control beside each candidate, per device, on the pages where the candidate's patch matched (the
    tracker's patch reports say where), else on the entry page; only control where no variant has a patch."""
    entry = model.funnel[0] if model.funnel else None
    rank = {page: i for i, page in enumerate(model.funnel)}
    comparisons: list[Comparison] = []
    for variant in model.variants:
        if variant == model.control or variant not in patched:
            continue
        pages = sorted(dict.fromkeys(patched[variant]), key=lambda p: (rank.get(p, len(rank)), p))[:max_pages]
        for device in model.devices:
            for page in pages or ([entry] if entry else []):
                comparisons.append(Comparison(device, page, (model.control, variant)))
    if not comparisons and entry is not None:
        comparisons = [Comparison(device, entry, (model.control,)) for device in model.devices]
    return comparisons

async def viewports(devices: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Each device's CSS viewport, from Playwright's descriptors (no browser is started)."""
    from playwright.async_api import async_playwright

    known: dict[str, tuple[float, float]] = {}
    try:
        async with async_playwright() as playwright:
            for device in devices:
                viewport = playwright.devices.get(device, {}).get("viewport")
                if viewport:
                    known[device] = (float(viewport["width"]), float(viewport["height"]))
    except PlaywrightError:
        pass  # the blank page falls back to a desktop viewport
    return known



@dataclass
class Screenshots:
    """What the report's browser pass took: the shots, the comparisons planned, the variants drawn on another's
    patch (variant → note)."""

    shots: dict[ShotKey, Shot] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)
    rendered_on: dict[str, str] = field(default_factory=dict)


async def take_screenshots(store: Store, run_id: int, experiment: Experiment, model: ReportModel,
                           targets: Sequence[HeatmapTarget], settings: Settings) -> Screenshots:
    """The comparisons' and heatmaps' pages, each once per variant and device; a browser that fails is a note on
    ``model``, and the heatmaps are then drawn on a blank page."""
    taken = Screenshots()
    variants: dict[str, Variant] = {}
    for name in dict.fromkeys([model.control, *model.variants]):
        variants[name], note = variant_for(name, experiment, model, settings)
        if note:
            taken.rendered_on[name] = note
    seen = patched_pages(store, run_id)
    patched = {v: seen.get(v, []) for v in model.variants if v not in taken.rendered_on and variants[v].patch}
    taken.comparisons = plan_comparisons(model, patched)
    wanted: dict[tuple[str, str], list[str]] = defaultdict(list)
    for c in taken.comparisons:
        for name in c.variants:
            wanted[(name, c.device)].append(c.page)
    for t in targets:
        wanted[(t.variant, t.device)].append(t.page)
    try:
        taken.shots = await capture(experiment, {k: list(dict.fromkeys(v)) for k, v in wanted.items()}, variants,
                                    settings, model.notes)
    except (UiabError, PlaywrightError) as exc:
        model.notes.append(f"no screenshots: {first_line(exc)}; heatmaps are drawn on a blank page")
        logger.warning("report {}: no screenshots ({})", run_id, first_line(exc))
    return taken
