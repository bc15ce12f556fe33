"""Who visits, and which variant they see: a seeded persona mix and a sticky hash of the visitor id."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agent.kernel import uniform
from harness.run.experiment import Experiment, Variant
from harness.run.session import VisitorPlan, visitor_seed
from personas import Persona

__all__ = ["sticky_bucket", "assign_variant", "draw_persona", "plan_visitors"]


def sticky_bucket(visitor_id: str, salt: str) -> float:
    """A uniform number in [0, 1) that depends only on the visitor id and the salt (stable across runs)."""
    return uniform("assignment", salt, visitor_id)


def assign_variant(visitor_id: str, variants: Sequence[Variant], salt: str) -> Variant:
    """Equal split by sticky hash: the same visitor sees the same variant in every run."""
    return variants[min(int(sticky_bucket(visitor_id, salt) * len(variants)), len(variants) - 1)]


def draw_persona(visitor_id: str, personas: Sequence[Persona], seed: int) -> Persona:
    """The visitor's persona, drawn from the mix by share (a stable draw per visitor id and seed)."""
    shares = np.array([p.share for p in personas], dtype=float)
    cumulative = np.cumsum(shares / shares.sum())
    u = sticky_bucket(visitor_id, f"persona:{seed}")
    return personas[int(np.searchsorted(cumulative, u, side="right").clip(0, len(personas) - 1))]


def plan_visitors(experiment: Experiment, personas: Sequence[Persona], variants: Sequence[Variant], *,
                  sessions: int, seed: int, paired: bool, offset: int = 0) -> list[VisitorPlan]:
    """``sessions`` visitors in order; paired, each of them runs once under every variant on the same stream."""
    plans: list[VisitorPlan] = []
    salt = f"{experiment.name}:{seed}"
    for index in range(offset, offset + sessions):
        visitor_id = f"v{index:06d}"
        persona = draw_persona(visitor_id, personas, seed)
        stream = visitor_seed(seed, visitor_id)
        if paired:
            plans.extend(VisitorPlan(visitor_id, persona, v, stream, pair=visitor_id) for v in variants)
        else:
            plans.append(VisitorPlan(visitor_id, persona, assign_variant(visitor_id, variants, salt), stream))
    return plans
