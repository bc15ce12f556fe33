"""The decision log: one record per decision, with the propensity that makes off-line evaluation unbiased.

Each record holds what the acting policy saw (context, its vector, the actions offered), what it did (the
action and its probability under that policy) and what was measured (reward parts and total). This is the
shape of Microsoft's Decision Service log (DSJSON: context, actions, chosen action, probability, cost) and of
Open Bandit Pipeline's feedback (``context``, ``action``, ``pscore``, ``reward``): without the probability of
the logged action, IPS, SNIPS and doubly-robust estimates (agent/ope.py) are impossible.

JSON lines: one record per line, UTF-8, keys as the dataclass fields.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agent.kernel import InputError, read_text

__all__ = ["DecisionRecord", "to_jsonl", "read_jsonl"]


@dataclass(frozen=True)
class DecisionRecord:
    """One logged decision. ``probability`` is P(action | context) under the policy that acted."""

    event_id: str
    context: dict[str, Any]  # the observable context as plain data (Context.to_dict())
    context_vec: list[float]  # the encoded state the policy saw
    actions_offered: list[int]  # the allowed actions (the mask's true entries), ascending
    action: int
    probability: float
    reward_parts: dict[str, float] = field(default_factory=dict)  # RewardParts.to_dict(); {} if not yet known
    reward: float | None = None  # None until the outcome is measured
    policy: str = ""  # the acting policy's name, e.g. "uniform", "dqn"

    def __post_init__(self) -> None:
        if self.action not in self.actions_offered:
            raise InputError(f"{self.event_id}: action {self.action} was not among the actions offered",
                             field="action")
        if not (0.0 < self.probability <= 1.0):
            raise InputError(f"{self.event_id}: probability must be in (0, 1], got {self.probability}",
                             field="probability")
        if self.reward is not None and not math.isfinite(self.reward):
            raise InputError(f"{self.event_id}: reward must be finite, got {self.reward}", field="reward")

    def mask(self, n_actions: int) -> np.ndarray:
        """The offered actions as a boolean mask over ``n_actions``."""
        mask = np.zeros(n_actions, dtype=bool)
        mask[self.actions_offered] = True
        return mask

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecisionRecord:
        return cls(**data)


def to_jsonl(records: Iterable[DecisionRecord], path: str | Path) -> int:
    """Write records as JSON lines; return how many were written."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record.to_dict(), ensure_ascii=False, allow_nan=False) + "\n")
            count += 1
    return count


def read_jsonl(path: str | Path) -> list[DecisionRecord]:
    """Read records written by :func:`to_jsonl` (blank lines are skipped); a bad line is an InputError."""
    records = []
    # split("\n"), not splitlines(): a JSON string may hold U+2028, which splitlines() would cut at.
    for number, line in enumerate(read_text(Path(path), what="decision log").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(DecisionRecord.from_dict(json.loads(line)))
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise InputError(f"not a decision record: {exc}", source=str(path), field=f"line {number}",
                             fix="pass a log written by uiab (one JSON decision record per line)") from exc
    return records
