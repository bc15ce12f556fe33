"""The browser-backed :class:`agent.runner.SessionRunner`: real Chromium, real personas, one page view a step.

The agent decides at each page view (the seed's ``optimize_ui(user_session, current_page)``). Its patch is
applied when the visitor has arrived on the page, before the persona's first look at it (the persona
perceives after the runtime has run) — not before first paint, which only variant assignment can do.
Playwright's async API runs on a private event loop in a background thread, so the runner can be driven
from plain synchronous code: a Gymnasium environment, a training loop, a benchmark.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from agent.catalog import ActionCatalog
from agent.context import Context, classify_device
from agent.kernel import InputError
from agent.runner import PageViewState, StepResult
from harness.browser.launch import open_browser
from harness.browser.patching import patch_init_script, patch_report
from harness.browser.pool import VisitorPool
from harness.browser.visitor import Visitor
from harness.run.assignment import draw_persona
from harness.run.experiment import Experiment, load_experiment
from harness.run.outcome import SessionResult, session_result
from harness.run.population import experiment_personas
from harness.run.session import MAX_STEPS, persona_step, visitor_seed
from harness.run.site import site_url
from harness.settings import Settings
from personas import Persona, PersonaState

__all__ = ["BrowserSessionRunner", "FinishedSession"]

T = TypeVar("T")

# Personas name where they come from in more detail than the agent's encoder knows.
_SOURCES = {"organic_search": "search", "paid_search": "paid", "display": "paid"}
_PRESENT_JS = "(selectors) => selectors.filter((s) => { try { return !!document.querySelector(s); } catch (e) " \
              "{ return false; } })"


@dataclass
class FinishedSession:
    """A session the runner completed: for storage and summaries."""

    visitor_id: str
    persona: str
    device: str
    seed: int
    end: str
    result: SessionResult
    events: list[dict[str, Any]]
    actions: list[int] = field(default_factory=list)


@dataclass
class _Live:
    visitor_id: str
    persona: Persona
    device: str
    seed: int
    stack: AsyncExitStack
    visitor: Visitor
    rng: np.random.Generator
    state: PersonaState = field(default_factory=PersonaState)
    views: int = 0
    view_start: int = 0  # index into visitor.events where the current page view began
    previous_action: int | None = None
    actions: list[int] = field(default_factory=list)
    steps: int = 0
    visited: list[str] = field(default_factory=list)


class BrowserSessionRunner:
    """Runs persona sessions on the experiment's site, one page view per :meth:`step`."""

    def __init__(self, experiment_path: str | Path, settings: Settings, *, seed: int = 0,
                 catalog: ActionCatalog | None = None) -> None:
        self.experiment: Experiment = load_experiment(experiment_path)
        self.catalog = catalog or self.experiment.action_catalog()
        self.personas = experiment_personas(self.experiment)
        self.pages: tuple[str, ...] = tuple(s.page for s in self.experiment.funnel) or (self.experiment.entry,)
        self.n_actions = len(self.catalog)
        self.seed = seed
        self.finished: list[FinishedSession] = []
        self._settings = settings
        self._live: _Live | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="uiab-runner", daemon=True)
        self._thread.start()
        self._sync_stack = ExitStack()
        self._async_stack = AsyncExitStack()
        try:
            self._base_url = self._sync_stack.enter_context(site_url(self.experiment))
            self._call(self._open())
        except BaseException:
            self.close()
            raise

    # --- plumbing -------------------------------------------------------------------------------------
    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _open(self) -> None:
        self._browser = await self._async_stack.enter_async_context(open_browser(self._settings))
        self._pool = VisitorPool(self._browser, self._base_url, self.experiment.goal_specs())
        self._async_stack.push_async_callback(self._pool.close)

    def close(self) -> None:
        if self._loop.is_running():
            try:
                self._call(self._end_visitor("closed"))
                self._call(self._async_stack.aclose())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=30)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()
        self._sync_stack.close()

    def __enter__(self) -> BrowserSessionRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the protocol ---------------------------------------------------------------------------------
    def start(self, seed: int) -> PageViewState:
        return self._call(self._start(seed))

    def step(self, action: int) -> StepResult:
        if not 0 <= action < self.n_actions:
            raise InputError(f"action {action} is outside the catalog (0..{self.n_actions - 1})", field="action",
                             fix="pass an action id the catalog offers")
        return self._call(self._step(action))

    def mask(self, view: PageViewState) -> np.ndarray:
        return self.catalog.mask(view.present_selectors)

    # --- inside the loop ------------------------------------------------------------------------------
    async def _start(self, seed: int) -> PageViewState:
        await self._end_visitor("abandoned")
        visitor_id = f"t{seed:07d}"
        persona = draw_persona(visitor_id, self.personas, self.seed)
        stack = AsyncExitStack()
        visitor = await stack.enter_async_context(self._pool.visitor(persona.device))
        live = _Live(visitor_id, persona, persona.device, visitor_seed(self.seed, visitor_id), stack, visitor,
                     np.random.default_rng(visitor_seed(self.seed, visitor_id)))
        self._live = live
        await visitor.goto(self.experiment.entry)
        return await self._view(live)

    async def _view(self, live: _Live) -> PageViewState:
        """A page view begins: observable context and the catalog's selectors present on the page."""
        live.view_start = len(live.visitor.events)
        live.visited.append(live.visitor.path().split("?", 1)[0])
        page = live.visitor.page
        viewport = page.viewport_size or {"width": 1280, "height": 720}
        touch = live.persona.touch
        context = Context(device_class=classify_device(viewport["width"], touch), viewport_width=viewport["width"],
                          touch=touch, traffic_source=_SOURCES.get(live.persona.traffic_source,
                                                                   live.persona.traffic_source),
                          page=live.visited[-1], step=live.views, previous_action=live.previous_action)
        present = await page.evaluate(_PRESENT_JS, list(self.catalog.selectors))
        return PageViewState(context=context, present_selectors=frozenset(present))

    async def _step(self, action: int) -> StepResult:
        live = self._live
        if live is None:
            raise InputError("step() before start(), or after the session ended", field="step",
                             fix="call start() for each visitor, then step() until the session is done")
        visitor = live.visitor
        patch = self.catalog[action].patch
        if action != 0 and not patch.is_empty:
            await visitor.world.evaluate(patch_init_script(patch))  # in uiab's world, like every patch
        live.actions.append(action)
        live.previous_action = action
        page_before, views_before = visitor.path(), sum(e["type"] == "page_view" for e in visitor.events)
        end: str | None = None
        while True:
            if any(e["type"] == "goal" for e in visitor.events[live.view_start:]):
                end = "goal"
                break
            if live.steps >= MAX_STEPS:
                end = "steps"
                break
            live.steps += 1
            decision, live.state = await persona_step(visitor, live.persona, live.state, live.rng)
            if decision.kind == "leave":
                end = "leave"
                break
            if decision.kind == "scroll":
                continue
            if any(e["type"] == "goal" for e in visitor.events[live.view_start:]):
                end = "goal"  # a conversion ends the session, even when the click also navigated
                break
            if sum(e["type"] == "page_view" for e in visitor.events) > views_before or visitor.path() != page_before:
                break  # the visitor navigated on: this page view is over
        if end is not None:
            await visitor.finish()
        events = visitor.events[live.view_start:]
        outcome = self._outcome(live, events, action, ended=end is not None)
        info = {"persona": live.persona.name, "device": live.device, "page": live.visited[-1], "end": end,
                "visitor_id": live.visitor_id}
        if end is not None:
            await self._end_visitor(end)
            return StepResult(outcome=outcome, next_view=None, info=info)
        live.views += 1
        return StepResult(outcome=outcome, next_view=await self._view(live), info=info)

    def _outcome(self, live: _Live, events: list[dict[str, Any]], action: int, *, ended: bool) -> dict[str, Any]:
        """The page view's measurements, from the tracker only, in the shape agent.reward expects."""
        view = session_result(events, goals=self.experiment.goals.keys())
        dwell = sum(p.dwell_ms or 0.0 for p in view.pages[:1])
        applied: bool | None = None
        if action != 0:
            report = patch_report(events, name=self.catalog[action].patch.name)
            applied = report.reported and not report.failed_ops and not report.css_failed and \
                all(report.matched.get(s, 0) > 0 for s in self.catalog[action].requires)
        # Progress counts the funnel pages this page view newly reached, so a session's rewards sum to its
        # progress once, however many page views it took.
        funnel = set(self.pages)
        before = funnel & set(live.visited[:-1])
        reached = funnel & set(live.visited)
        return {
            "patch_applied": applied,
            "js_errors": view.js_errors,
            "dwell_ms": dwell,
            "scroll_depth": max((p.scroll_depth for p in view.pages[:1]), default=0.0),
            "clicks": view.clicks,
            "misclicks": view.misclicks,
            "bounce": ended and live.views == 0 and view.interactive_clicks == 0,
            "goal_reached": view.goal_reached,
            "funnel_progress": len(reached - before) / len(funnel) if funnel else 0.0,
        }

    async def _end_visitor(self, end: str) -> None:
        live, self._live = self._live, None
        if live is None:
            return
        try:
            await live.visitor.finish()
            result = session_result(live.visitor.events, blocked=len(live.visitor.guard.blocked),
                                    failed=len(live.visitor.failed_requests), goals=self.experiment.goals.keys())
            self.finished.append(FinishedSession(live.visitor_id, live.persona.name, live.device, live.seed, end,
                                                 result, list(live.visitor.events), list(live.actions)))
        finally:
            await live.stack.aclose()
