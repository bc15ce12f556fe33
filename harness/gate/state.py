"""What a rollout carries from stage to stage: both arms, the browser and its visitor pool, the store, the checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.browser.launch import BrowserSession
from harness.browser.pool import VisitorPool
from harness.gate.model import Check
from harness.run.experiment import Experiment, RolloutSettings, Variant
from harness.run.session import SessionOutcome
from harness.run.simulate import stored_session
from harness.store.database import Store

__all__ = ["RolloutRun"]


@dataclass
class RolloutRun:
    """One rollout in progress; whoever builds it closes ``pool`` when the rollout ends."""

    experiment: Experiment
    settings: RolloutSettings
    candidate: Variant
    control: Variant
    browser: BrowserSession
    base_url: str
    store: Store
    run_id: int
    seed: int
    shots: Path
    concurrency: int
    pool: VisitorPool
    checks: list[Check] = field(default_factory=list)
    pairs: list[tuple[SessionOutcome, SessionOutcome]] = field(default_factory=list)  # (candidate, control)
    patch_pages: dict[str, set[str]] = field(default_factory=dict)  # selector → pages where it matched

    def record(self, outcome: SessionOutcome) -> None:
        """Store a finished session as it comes in (``run_plans``' ``on_outcome``)."""
        self.store.add_session(self.run_id, stored_session(outcome))
