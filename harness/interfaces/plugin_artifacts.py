"""A failed test's artifacts: its runs' summaries, a screenshot of each funnel page and a Playwright trace."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from slugify import slugify

from harness.interfaces.plugin_harness import UsedRun, run_sync

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext

    from harness.run.experiment import Variant
    from harness.settings import Settings

__all__ = ["MAX_ARTIFACT_WALKS", "artifact_folder", "write_artifacts"]

MAX_ARTIFACT_WALKS = 12  # a failure's re-walks (variant × device) stop here: artifacts must not take minutes


def artifact_folder(item: pytest.Item) -> Path:
    """``--output``/<slug of the test id>, named exactly as pytest-playwright names it, so both share it."""
    name = slugify(item.nodeid)
    retry = getattr(item, "execution_count", 1) - 1  # pytest-rerunfailures: a folder per attempt
    if retry > 0:
        name += f"-retry{retry}"
    if len(name) >= 256:  # pytest-playwright's truncation, for the same reason: file-name limits
        name = f"{name[:100]}-{hashlib.sha256(name.encode()).hexdigest()[:7]}-{name[-100:]}"
    return Path(item.config.getoption("output", default=None) or "test-results").absolute() / name


def write_artifacts(settings: Settings, used: Sequence[UsedRun], folder: Path) -> None:
    """Write a failed test's artifacts; a problem here is noted in the folder, never raised over the failure.

    What the folder holds:

    * ``uiab-runs.json`` — the summary of every smoke/simulate/rollout run the test made.
    * ``<variant>__<device>__NN_<page>.png`` — a screenshot of each funnel page, from one fresh
      deterministic walk of the funnel (smoke's walk: each step's ``next`` clicked at its centre) per variant
      and device the test ran.
    * ``trace-<variant>-<device>.zip`` — a Playwright trace (screenshots and DOM snapshots) of that same walk;
      open it with ``playwright show-trace``.

    These show how each variant renders and whether its funnel can be walked. They are *not* recordings of
    the persona sessions the failing numbers came from: those ran untraced (tracing every visitor would cost
    more than the runs), and a trace's timestamps are wall-clock, not the sessions' virtual clock.
    """
    # No clearing first: pytest-playwright may have put this test's page artifacts in the same folder.
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "uiab-runs.json").write_text(
        json.dumps([{"kind": u.kind, "experiment": str(u.experiment), **u.summary} for u in used], indent=2,
                   default=str), encoding="utf-8")
    jobs: dict[tuple[Path, str, str], tuple[Variant, str]] = {}
    for u in used:
        for variant in u.variants:
            for device in u.devices:
                jobs.setdefault((u.experiment, variant.name, device), (variant, device))
    try:
        run_sync(_walk_and_trace(settings, list(jobs.items())[:MAX_ARTIFACT_WALKS], folder))
    except Exception as exc:  # the test's own failure is what the user must see, not this one
        (folder / "artifacts-error.txt").write_text(f"{type(exc).__name__}: {exc}\n", encoding="utf-8")


async def _walk_and_trace(settings: Settings, jobs: Sequence[tuple[tuple[Path, str, str], tuple[Variant, str]]],
                          folder: Path) -> None:
    """One smoke walk per (variant, device), each in its own traced context, screenshots into ``folder``."""
    from harness.browser.launch import BrowserSession, open_browser
    from harness.run.experiment import load_experiment
    from harness.run.site import site_url
    from harness.run.smoke import smoke_walk

    by_experiment: dict[Path, list[tuple[Variant, str]]] = {}
    for (path, _, _), job in jobs:
        by_experiment.setdefault(path, []).append(job)
    async with open_browser(settings) as session:
        for path, walks in by_experiment.items():
            experiment = load_experiment(path)
            with site_url(experiment) as base_url:
                for variant, device in walks:
                    trace = folder / f"trace-{slugify(variant.name)}-{slugify(device)}.zip"
                    wrapped = cast("Browser", _TracingBrowser(session.browser, trace))
                    traced = BrowserSession(session.playwright, wrapped)
                    await smoke_walk(traced, experiment, variant, device, base_url, screenshot_dir=folder)


class _TracingBrowser:
    """A Browser whose new contexts are traced from creation and write the trace when they close."""

    # smoke_walk opens and closes its own context; wrapping the browser is how the trace spans exactly it.

    def __init__(self, browser: Browser, path: Path) -> None:
        self._browser = browser
        self._path = path

    async def new_context(self, **kwargs: Any) -> _TracedContext:
        context = await self._browser.new_context(**kwargs)
        await context.tracing.start(screenshots=True, snapshots=True, title=self._path.stem)
        return _TracedContext(context, self._path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


class _TracedContext:
    """A BrowserContext that stops its trace (writing the zip) before it closes."""

    def __init__(self, context: BrowserContext, path: Path) -> None:
        self._context = context
        self._path = path

    async def close(self, **kwargs: Any) -> None:
        try:
            await self._context.tracing.stop(path=str(self._path))
        finally:
            await self._context.close(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)
