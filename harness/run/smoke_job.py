"""The smoke job end to end: validate input, serve the site, walk, store, report."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import Progress

from agent.kernel import InputError
from harness.browser.launch import BrowserSession, open_browser
from harness.browser.screenshots import side_by_side
from harness.run.experiment import Experiment, Variant, load_experiment
from harness.run.population import experiment_devices
from harness.run.site import site_url
from harness.run.smoke import SmokeWalk, check_selectors, run_smoke_walks
from harness.run.variants import variant_patch
from harness.settings import Settings
from harness.store.database import Store, check_database

__all__ = ["SmokeReport", "run_smoke"]


@dataclass
class SmokeReport:
    run_id: int
    walks: list[SmokeWalk]
    screenshot_dir: Path
    db: Path

    @property
    def ok(self) -> bool:
        return all(w.ok for w in self.walks)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "db": str(self.db),
            "screenshots": str(self.screenshot_dir),
            "walks": [{"variant": w.variant, "device": w.device, "ok": w.ok,
                       "pages": [p.to_dict() for p in w.pages]} for w in self.walks],
        }


def _compare_with_control(walks: Sequence[SmokeWalk], folder: Path) -> None:
    """For every patched walk, put each page's screenshot beside control's on the same device."""
    control = {w.device: w for w in walks if w.variant == "control"}
    for walk in walks:
        base = control.get(walk.device)
        if base is None or walk is base:
            continue
        for mine, theirs in zip(walk.pages, base.pages, strict=False):
            if mine.screenshot and theirs.screenshot and mine.page == theirs.page:
                out = folder / Path(mine.screenshot).name
                side_by_side(Path(theirs.screenshot), Path(mine.screenshot), out,
                             labels=(f"control · {walk.device} · {mine.page}",
                                     f"{walk.variant} · {walk.device} · {mine.page}"))
                mine.compare = str(out)


async def run_smoke(path: Path, settings: Settings, *, variants: Sequence[str] = (),
                    devices: Sequence[str] = ()) -> SmokeReport:
    experiment = load_experiment(path)
    chosen = [experiment.variant(name) for name in variants] if variants else list(experiment.variants)
    for variant in chosen:
        variant_patch(experiment, variant)  # a bad patch is bad input, found before anything is written
    persona_devices = experiment_devices(experiment)  # loads every persona: an unknown one is bad input
    device_names = list(devices) or persona_devices
    check_database(settings.db)  # a database that is not uiab's is refused before the browser starts
    with site_url(experiment) as base_url:
        async with open_browser(settings) as browser:
            for name in device_names:
                browser.device(name, source="--device" if devices else str(experiment.path))
            # A selector that matches nothing is bad input: found on the bare site before anything is written.
            await check_selectors(browser, experiment, base_url, device_names[0])
            with Store(settings.db) as store:
                walks, run_id, screenshots = await _walk_all(browser, experiment, chosen, device_names, base_url,
                                                             store, settings)
    return SmokeReport(run_id=run_id, walks=walks, screenshot_dir=screenshots, db=settings.db)


async def _walk_all(browser: BrowserSession, experiment: Experiment, chosen: Sequence[Variant],
                    device_names: Sequence[str], base_url: str, store: Store,
                    settings: Settings) -> tuple[list[SmokeWalk], int, Path]:
    """Every variant × device in one tracked run; a selector that a patched walk finds missing undoes the run."""
    config = {"variants": [v.name for v in chosen], "devices": list(device_names), "base_url": base_url}
    with store.tracked_run("smoke", str(experiment.path), config, settings.seed) as run_id:
        screenshots = settings.report_dir / f"smoke-{run_id}"
        with Progress(transient=True, console=None) as progress:
            task = progress.add_task("smoke walks", total=len(chosen) * len(device_names))
            walks = await run_smoke_walks(
                browser, experiment, chosen, device_names, base_url, store=store, run_id=run_id,
                concurrency=settings.concurrency, screenshot_dir=screenshots,
                on_done=lambda _walk: progress.advance(task))
        bad = sorted({b for w in walks for b in w.bad_input})
        if bad:
            store.discard_run(run_id)
            shutil.rmtree(screenshots, ignore_errors=True)
            field, _, problem = bad[0].partition(": ")
            raise InputError(problem, source=str(experiment.path), field=field,
                             fix="correct the selector in experiment.toml: it must match an element of that page")
        _compare_with_control(walks, screenshots / "compare")
    return walks, run_id, screenshots
