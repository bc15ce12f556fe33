"""``uiab simulate``: the experiment's persona mix × variants, each session stored as it finishes."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.browser.launch import open_browser
from harness.browser.pool import VisitorPool
from harness.run.assignment import plan_visitors
from harness.run.experiment import Experiment, load_experiment
from harness.run.population import experiment_personas
from harness.run.session import SessionOutcome, VisitorPlan, run_persona_session
from harness.run.site import site_url
from harness.run.smoke import check_selectors
from harness.run.summary import ArmSummary, summarize
from harness.run.variants import variant_patch
from harness.settings import Settings
from harness.store.database import Store, StoredSession, check_database

__all__ = ["SimulationReport", "run_plans", "simulate", "stored_session", "stored_session_from"]


@dataclass
class SimulationReport:
    run_id: int
    outcomes: list[SessionOutcome]
    paired: bool
    db: Path
    cta: str | None = None  # the `cta` slot's selector: its click-through is reported per arm
    control: str | None = None  # the experiment's control variant: what harness.testing compares against

    def by_variant(self) -> dict[str, ArmSummary]:
        groups: dict[str, list[Any]] = defaultdict(list)
        for o in self.outcomes:
            groups[o.plan.variant.name].append(o.result)
        return {name: summarize(results, cta=self.cta) for name, results in groups.items()}

    def by_persona(self) -> dict[str, ArmSummary]:
        groups: dict[str, list[Any]] = defaultdict(list)
        for o in self.outcomes:
            groups[o.plan.persona.name].append(o.result)
        return {name: summarize(results, cta=self.cta) for name, results in sorted(groups.items())}

    def by_variant_and_persona(self) -> dict[tuple[str, str], ArmSummary]:
        groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for o in self.outcomes:
            groups[(o.plan.variant.name, o.plan.persona.name)].append(o.result)
        return {key: summarize(results, cta=self.cta) for key, results in groups.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "sessions": len(self.outcomes),
            "paired": self.paired,
            "variants": {k: v.to_dict() for k, v in self.by_variant().items()},
            "personas": {k: v.to_dict() for k, v in self.by_persona().items()},
            "variant_persona": {f"{v}/{p}": s.to_dict() for (v, p), s in self.by_variant_and_persona().items()},
        }


async def run_plans(pool: VisitorPool, experiment: Experiment, plans: Sequence[VisitorPlan], *, concurrency: int,
                    on_outcome: Callable[[SessionOutcome], None] | None = None) -> list[SessionOutcome]:
    """Run every plan with at most ``concurrency`` sessions in flight; outcomes come back in plan order."""
    outcomes: list[SessionOutcome | None] = [None] * len(plans)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(plans)):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            outcome = await run_persona_session(pool, experiment, plans[i])
            outcomes[i] = outcome
            if on_outcome is not None:
                on_outcome(outcome)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return [o for o in outcomes if o is not None]


def _store_and_report(store: Store, run_id: int, outcome: SessionOutcome,
                      on_session: Callable[[SessionOutcome], None] | None) -> None:
    store.add_session(run_id, stored_session(outcome))
    if on_session is not None:
        on_session(outcome)


def stored_session_from(finished: Any, *, variant: str) -> StoredSession:
    """A runner's finished session (harness.run.agent_runner.FinishedSession) in storage form."""
    result = finished.result
    return StoredSession(
        visitor_id=finished.visitor_id, persona=finished.persona, device=finished.device, variant=variant,
        seed=finished.seed, status=finished.end, goal_reached=result.goal_reached,
        result={**result.to_dict(), "end": finished.end, "actions": finished.actions},
        events=finished.events, page_views=result.page_rows())


def stored_session(outcome: SessionOutcome) -> StoredSession:
    result = outcome.result
    return StoredSession(
        visitor_id=outcome.plan.visitor_id, persona=outcome.plan.persona.name, device=outcome.device,
        variant=outcome.plan.variant.name, seed=outcome.plan.seed, status=outcome.end,
        goal_reached=result.goal_reached,
        result={**result.to_dict(), "end": outcome.end, "error": outcome.error, "pair": outcome.plan.pair,
                "decisions": outcome.decisions},
        events=outcome.events, page_views=result.page_rows())


async def simulate(path: Path, settings: Settings, *, sessions: int, seed: int, variants: Sequence[str] = (),
                   paired: bool = False, concurrency: int | None = None, personas: Sequence[str] = (),
                   on_session: Callable[[SessionOutcome], None] | None = None,
                   on_start: Callable[[int], None] | None = None) -> SimulationReport:
    """Run the sessions (``personas``: only these of the mix); each finished one is written at once."""
    experiment = load_experiment(path)
    chosen = [experiment.variant(n) for n in variants] if variants else list(experiment.variants)
    for variant in chosen:
        variant_patch(experiment, variant)  # bad patches are bad input before anything is written
    mix = experiment_personas(experiment, personas)
    plans = plan_visitors(experiment, mix, chosen, sessions=sessions, seed=seed, paired=paired)
    workers = concurrency or settings.concurrency
    check_database(settings.db)  # a database that is not uiab's is refused before the browser starts
    with site_url(experiment) as base_url:
        async with open_browser(settings) as browser:
            for persona in mix:
                browser.device(persona.device, source=f"persona {persona.name}")
            # A goal selector that matches nothing would measure a silent 0 %: refused before anything is written.
            await check_selectors(browser, experiment, base_url, mix[0].device)
            config = {"sessions": sessions, "variants": [v.name for v in chosen], "paired": paired,
                      "personas": [p.name for p in mix], "concurrency": workers, "base_url": base_url}
            with Store(settings.db) as store, store.tracked_run("simulate", str(experiment.path), config,
                                                                 seed) as run_id:
                pool = VisitorPool(browser, base_url, experiment.goal_specs())
                if on_start is not None:
                    on_start(len(plans))
                try:
                    done = await run_plans(pool, experiment, plans, concurrency=workers,
                                           on_outcome=lambda o: _store_and_report(store, run_id, o, on_session))
                finally:
                    await pool.close()
                report = SimulationReport(run_id=run_id, outcomes=done, paired=paired, db=settings.db,
                                          cta=experiment.slot_selector("cta"), control=experiment.rollout.control)
                store.finish_run(run_id, "completed", report.to_dict())
    return report
