"""One persona session in the browser: perceive (one snapshot) → decide (pure Python) → act (real input)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from playwright.async_api import Error as PlaywrightError

from agent.kernel import derive_seed, first_line
from harness.browser.pool import VisitorPool
from harness.browser.visitor import Visitor
from harness.run.experiment import Experiment, Variant
from harness.run.outcome import SessionResult, session_result
from harness.run.variants import variant_init_scripts
from personas import SNAPSHOT_JSON_JS, Decision, PageSnapshot, Persona, PersonaState, decide

__all__ = ["VisitorPlan", "SessionOutcome", "persona_step", "run_persona_session", "visitor_seed", "MAX_STEPS"]

MAX_STEPS = 40  # a session that has not converted or left after this many steps is cut off
MAX_SESSION_MS = 30 * 60_000  # and so is one that has run 30 virtual minutes


def visitor_seed(run_seed: int, visitor_id: str) -> int:
    """The visitor's own random stream: a stable function of the run seed and the visitor id."""
    return derive_seed(run_seed, visitor_id)


@dataclass(frozen=True)
class VisitorPlan:
    """Who visits, under which variant, with which random stream."""

    visitor_id: str
    persona: Persona
    variant: Variant
    seed: int
    pair: str | None = None  # paired runs: the id shared by one visitor's runs under each variant


@dataclass
class SessionOutcome:
    """What the tracker measured, how the session ended, and the persona's decisions (for replay)."""

    plan: VisitorPlan
    result: SessionResult
    end: str  # goal | leave | steps | patience | error
    device: str
    events: list[dict[str, Any]]
    decisions: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def fingerprint(self) -> dict[str, Any]:
        """Everything that must be identical when the same visitor runs again with the same seed."""
        return {"end": self.end, "result": self.result.to_dict(), "decisions": self.decisions}


def _goal_reached(visitor: Visitor) -> bool:
    # The visitor keeps only goal events of the experiment's own goals (Visitor.receive).
    return any(e["type"] == "goal" for e in visitor.events)


async def persona_step(visitor: Visitor, persona: Persona, state: PersonaState, rng: np.random.Generator
                       ) -> tuple[Decision, PersonaState]:
    """One look and one act: snapshot the page, decide, let the decided time pass, then scroll or click."""
    # One JSON string: Playwright's transfer of the nested object costs more than taking the snapshot.
    snapshot = PageSnapshot.from_json(await visitor.page.evaluate(SNAPSHOT_JSON_JS))
    decision = decide(persona, snapshot, state, rng)
    await visitor.advance(decision.total_ms)
    if decision.kind == "leave":
        return decision, state
    if decision.kind == "scroll":
        await visitor.scroll(decision.scroll_dy, x=decision.x or 10.0, y=decision.y or 10.0)
        return decision, state.advance(decision)
    mark = len(visitor.events)
    assert decision.x is not None and decision.y is not None
    await visitor.click(decision.x, decision.y, touch=persona.touch)
    # The browser decided what was hit; the persona learns it from what happened, as people do.
    hit = any(e["type"] == "click" and e.get("selector") == decision.selector for e in visitor.events[mark:])
    return decision, state.advance(decision, hit=hit)


async def run_persona_session(pool: VisitorPool, experiment: Experiment, plan: VisitorPlan, *,
                              max_steps: int = MAX_STEPS) -> SessionOutcome:
    """Drive one visitor through the site until goal, leave, step limit or exhausted patience."""
    persona = plan.persona
    rng = np.random.default_rng(plan.seed)
    decisions: list[dict[str, Any]] = []
    end, error = "steps", None
    async with pool.visitor(persona.device, variant_init_scripts(experiment, plan.variant)) as visitor:
        try:
            await visitor.goto(experiment.entry)
            state = PersonaState()
            for _ in range(max_steps):
                if _goal_reached(visitor):
                    end = "goal"
                    break
                if state.session_ms >= MAX_SESSION_MS:
                    end = "patience"
                    break
                decision, state = await persona_step(visitor, persona, state, rng)
                decisions.append({"kind": decision.kind, "selector": decision.selector,
                                  "x": decision.x, "y": decision.y, "ms": round(decision.total_ms, 3),
                                  "url": decision.url, "reason": decision.reason})
                if decision.kind == "leave":
                    end = "leave"
                    break
            else:
                if _goal_reached(visitor):
                    end = "goal"
            await visitor.finish()
        except PlaywrightError as exc:
            end, error = "error", first_line(exc)
        result = session_result(visitor.events, blocked=len(visitor.guard.blocked),
                                failed=len(visitor.failed_requests), goals=experiment.goals.keys())
        return SessionOutcome(plan=plan, result=result, end=end, device=persona.device,
                              events=list(visitor.events), decisions=decisions, error=error)
