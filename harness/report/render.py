"""The run report: one self-contained HTML page (every image inlined, no script) for any run in the database.

What it shows comes from SQLite — sessions, tracker events, checks, decisions, alerts — so ``uiab report``
can rebuild it for an old run. Screenshots are the exception: the database holds none, so they are taken at
report time in the real browser, on the site as it is then; the report says so.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from agent.kernel import InputError
from harness.report.clicks import HeatmapTarget, plan_heatmaps
from harness.report.images import Shot, data_uri, render_heatmap, thumbnail
from harness.report.load import load_experiment_noted, load_model, resolve_run_id, result_from_json
from harness.report.model import ReportModel, pct
from harness.report.plots import interval_plot, learning_plot
from harness.report.screenshots import Comparison, Screenshots, ShotKey, take_screenshots, viewports
from harness.settings import Settings
from harness.store.database import Store

# resolve_run_id and result_from_json are re-exported: the CLI and the benchmarks import them from here.
__all__ = ["build_report", "build_report_async", "nightly_images", "resolve_run_id", "result_from_json",
           "update_latest"]

_TEMPLATES = Path(__file__).parent / "templates"


async def build_report_async(store: Store | str | Path, run: int | str, out_dir: str | Path, settings: Settings, *,
                             screenshots: bool = True, summary: Mapping[str, Any] | None = None,
                             latest: bool = True, nightly: Mapping[str, Any] | None = None) -> Path:
    """Write ``out_dir/index.html`` for ``run`` (an id or ``latest``); returns its path.

    ``screenshots=False`` skips the browser: heatmaps are then drawn on a blank page. ``latest`` also copies the
    page to ``settings.report_dir/latest/index.html`` when the run is the newest in its database.
    """
    if isinstance(store, Store):
        return await _build(store, run, Path(out_dir), settings, screenshots, summary, latest, nightly)
    path = Path(store)
    if not path.is_file():
        raise InputError(f"no database at {path}", field="--db", fix="pass the --db a uiab command wrote to")
    with Store(path) as opened:
        return await _build(opened, run, Path(out_dir), settings, screenshots, summary, latest, nightly)


def build_report(store: Store | str | Path, run: int | str, out_dir: str | Path, settings: Settings, *,
                 screenshots: bool = True, summary: Mapping[str, Any] | None = None, latest: bool = True,
                 nightly: Mapping[str, Any] | None = None) -> Path:
    """:func:`build_report_async` for code outside an event loop (the CLI).

    ``nightly``: the nightly's steps (``steps``: name, run_id, summary, href) and images (``curve``,
    ``variant_plot``) shown right after the verdict.
    """
    return asyncio.run(build_report_async(store, run, out_dir, settings, screenshots=screenshots, summary=summary,
                                          latest=latest, nightly=nightly))


async def _build(store: Store, run: int | str, out_dir: Path, settings: Settings, screenshots: bool,
                 summary: Mapping[str, Any] | None, latest: bool, nightly: Mapping[str, Any] | None = None) -> Path:
    run_id = resolve_run_id(store, run)
    notes: list[str] = []
    row = store.run(run_id)
    experiment = load_experiment_noted(str(row["experiment"]), notes) if row is not None else None
    model = load_model(store, run_id, summary=summary, experiment=experiment)
    model.notes[:0] = notes
    targets = plan_heatmaps(model.clicks, variants=model.variants, devices=model.devices, funnel=model.funnel)
    taken = Screenshots()
    if screenshots and experiment is not None:
        taken = await take_screenshots(store, run_id, experiment, model, targets, settings)
    elif not screenshots:
        model.notes.append("screenshots were not taken (--no-screenshots): heatmaps are drawn on a blank page")
    for check in model.checks:
        shot_path = check.get("screenshot")
        if shot_path and Path(shot_path).is_file():
            check["screenshot_uri"] = thumbnail(Path(shot_path).read_bytes(), width=900, max_height=1400)

    html = _render(model, heatmaps=await _heatmaps(targets, taken.shots, taken.rendered_on),
                   screens=_screens(model, taken.comparisons, taken.shots, taken.rendered_on),
                   took_screenshots=bool(taken.shots), nightly=nightly,
                   variant_plot=interval_plot(model.by_variant, "conversion by variant"),
                   persona_plot=interval_plot(model.by_persona, "conversion by persona")
                   if len(model.personas) > 1 else None,
                   curve=learning_plot(model.session_rewards, model.session_conversions,
                                       f"uiab train {model.config.get('policy', '')}, run {run_id}")
                   if model.kind == "train" else None)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = out_dir / "index.html"
    index.write_text(html, encoding="utf-8")
    if latest and store.latest_run_id() == run_id:
        update_latest(index, settings.report_dir)
    return index


async def _heatmaps(targets: Sequence[HeatmapTarget], shots: Mapping[ShotKey, Shot],
                    rendered_on: Mapping[str, str]) -> list[dict[str, Any]]:
    """The heatmaps' template rows; a page without a screenshot is drawn blank at its device's viewport."""
    blank = {t.device for t in targets if (t.variant, t.device, t.page) not in shots}
    sizes = await viewports(sorted(blank)) if blank else {}
    heatmaps = []
    for t in targets:
        shot = shots.get((t.variant, t.device, t.page))
        image, _, outside = render_heatmap(shot, t.points, viewport=sizes.get(t.device, (1280, 720)))
        caption = f"{t.variant} · {t.device} · {t.page}: {len(t.points)} click(s)"
        if outside:
            caption += f", {outside} outside the part drawn"
        if shot is None:
            caption += " (no screenshot: blank page)"
        heatmaps.append({"variant": t.variant, "device": t.device, "page": t.page,
                         "uri": data_uri(image, "image/jpeg"), "caption": caption,
                         "misclicks": sum(not p.interactive for p in t.points),
                         "note": rendered_on.get(t.variant, "")})
    return heatmaps


def _screens(model: ReportModel, comparisons: Sequence[Comparison], shots: Mapping[ShotKey, Shot],
             rendered_on: Mapping[str, str]) -> list[dict[str, Any]]:
    """The side-by-side rows' template data: each comparison's shots that were taken, candidate named first."""
    screens = []
    for c in comparisons:
        row = [{"variant": v, "uri": thumbnail(shots[(v, c.device, c.page)].png), "note": rendered_on.get(v, ""),
                "role": "control" if v == model.control else "candidate"}
               for v in c.variants if (v, c.device, c.page) in shots]
        if row:
            title = " vs ".join(reversed(c.variants))  # one variant alone is its own title
            screens.append({"title": f"{title} · {c.device} · {c.page}", "device": c.device, "page": c.page,
                            "shots": row})
    return screens


def nightly_images(store: Store, *, simulate_run: int | None, train_run: int | None) -> dict[str, str | None]:
    """A nightly page's pictures of its other runs: conversion by variant (simulate), the learning curve (train)."""
    images: dict[str, str | None] = {"variant_plot": None, "persona_plot": None, "curve": None}
    if simulate_run is not None:
        model = load_model(store, simulate_run)
        images["variant_plot"] = interval_plot(model.by_variant, f"simulate run {simulate_run}: conversion by variant")
        images["persona_plot"] = interval_plot(model.by_persona, f"simulate run {simulate_run}: conversion by persona")
    if train_run is not None:
        model = load_model(store, train_run)
        images["curve"] = learning_plot(model.session_rewards, model.session_conversions,
                                        f"uiab train {model.config.get('policy', '')}, run {train_run}")
    return images


def _render(model: ReportModel, **extra: Any) -> str:
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["pct"] = pct
    return env.get_template("report.html.j2").render(
        m=model, generated=datetime.now(UTC).isoformat(timespec="seconds"), **extra)


def update_latest(index: Path, report_dir: Path) -> Path:
    """Copy a report to ``report_dir/latest/index.html`` (a copy, not a link: it is self-contained)."""
    target = report_dir / "latest" / "index.html"
    if index.resolve() == target.resolve():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(index, target)
    return target
