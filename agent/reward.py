"""The reward of one decision, from measured quantities only: result, user and business parts.

The seed's LearningEngine weighs three parts, result 0.3, user 0.4, business 0.3 (docs/references.md, "Learning
agent"); the weights come from experiment.toml when it sets them. Every input is something the in-page
tracker measured (harness/outcome.py builds ``SessionResult`` from tracker events only) — never the persona's
own bookkeeping — so a reward means the same thing for a synthetic and a real visitor.

The harness builds the outcome mapping for one page view (or one session) with these keys:

==================  ===========  ==================================================================
key                 type         meaning
==================  ===========  ==================================================================
``patch_applied``   bool | None  the patch matched its selectors; None when no patch was shown (control)
``js_errors``       int          uncaught JS errors the tracker caught
``dwell_ms``        float        time on the page(s), virtual milliseconds
``scroll_depth``    float        deepest fraction of the page seen, 0..1 (tracker: (scrollY+innerHeight)/height)
``clicks``          int          interactive clicks (clicks that hit a link, button or control)
``misclicks``       int          clicks that missed every interactive element
``bounce``          bool         left from the first page without an interactive click
``goal_reached``    bool         a goal of the experiment was reached
``funnel_progress`` float        fraction of the experiment's funnel pages reached, 0..1 (``funnel_progress``)
==================  ===========  ==================================================================

Every part is bounded: result and business in [0, 1], user in [-1, 1]; so the total lies in
``RewardWeights.bounds()`` — what Thompson sampling needs to scale rewards into [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agent.kernel import InputError

__all__ = [
    "OUTCOME_KEYS",
    "RewardWeights",
    "RewardScales",
    "RewardParts",
    "reward_parts",
    "funnel_progress",
]

OUTCOME_KEYS: tuple[str, ...] = (
    "patch_applied", "js_errors", "dwell_ms", "scroll_depth", "clicks", "misclicks", "bounce",
    "goal_reached", "funnel_progress",
)


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the three parts; seed defaults 0.3 / 0.4 / 0.3 (the seed's LearningEngine)."""

    result: float = 0.3
    user: float = 0.4
    business: float = 0.3

    def __post_init__(self) -> None:
        values = (self.result, self.user, self.business)
        if not all(math.isfinite(v) and v >= 0 for v in values) or sum(values) == 0:
            raise InputError(f"reward weights must be finite, >= 0 and not all 0, got {values}",
                             field="weights")

    def bounds(self) -> tuple[float, float]:
        """The smallest and largest total: result, business in [0, 1] and user in [-1, 1]."""
        return -self.user, self.result + self.user + self.business


@dataclass(frozen=True)
class RewardScales:
    """How raw measurements are squashed: ``1 - exp(-x / scale)`` maps 0 → 0, ``scale`` → 0.63, ∞ → 1."""

    # Most visitors leave a page within 10–20 s (Liu, White, Dumais, SIGIR 2010; NN/g 2011): 20 s of dwell is
    # "engaged" (0.63), a minute is nearly saturated (0.95), so long confused stays cannot dominate.
    dwell_ms: float = 20_000.0
    # Three interactive clicks (about one funnel step each on the demo sites) → 0.63.
    clicks: float = 3.0
    # Misclicks hurt fast: one → 0.39, three → 0.78 of the full misclick penalty.
    misclicks: float = 2.0
    # Errors: each uncaught JS error halves the error-free score (1 / (1 + errors)).

    def __post_init__(self) -> None:
        if min(self.dwell_ms, self.clicks, self.misclicks) <= 0:
            raise InputError("reward scales must be positive", field="scales")


@dataclass(frozen=True)
class RewardParts:
    """The parts of one reward, each stored with the decision; ``total`` is their weighted sum."""

    result: float  # [0, 1]
    user: float  # [-1, 1]
    business: float  # [0, 1]
    total: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _saturate(x: float, scale: float) -> float:
    return 1.0 - math.exp(-max(x, 0.0) / scale)


def _number(outcome: Mapping[str, Any], key: str) -> float:
    value = outcome[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"outcome[{key!r}] must be a finite number, got {value!r}")
    if value < 0:
        raise InputError(f"outcome[{key!r}] must be >= 0, got {value!r}")
    return float(value)


def _flag(outcome: Mapping[str, Any], key: str) -> bool:
    value = outcome[key]
    if not isinstance(value, bool):
        raise InputError(f"outcome[{key!r}] must be true or false, got {value!r}")
    return value


def reward_parts(outcome: Mapping[str, Any], weights: RewardWeights | None = None,
                 scales: RewardScales | None = None) -> RewardParts:
    """Result, user and business parts of a measured outcome (keys: ``OUTCOME_KEYS``), and their total.

    - result = ½·applied + ½·error-free, applied = 1 when the patch matched or no patch was shown (control),
      error-free = 1 / (1 + js_errors). A patch that matches nothing is a failed action (docs/design.md, Patches).
    - user = mean(dwell, scroll depth, clicks) − (½·bounce + ½·misclicks), each term squashed into [0, 1];
      so user lies in [-1, 1] and bouncing or misclicking always lowers it.
    - business = ½·goal reached + ½·funnel progress: a conversion counts fully only with the funnel walked,
      and progress without a conversion earns at most half.
    Extra keys are ignored (the harness may pass the whole ``SessionResult.to_dict()`` plus these).
    """
    weights = weights or RewardWeights()
    scales = scales or RewardScales()
    missing = [k for k in OUTCOME_KEYS if k not in outcome]
    if missing:
        raise InputError(f"outcome lacks {', '.join(missing)} (keys: {', '.join(OUTCOME_KEYS)})")

    applied = outcome["patch_applied"]
    if applied is not None and not isinstance(applied, bool):
        raise InputError(f"outcome['patch_applied'] must be true, false or None, got {applied!r}",
                         field="patch_applied")
    applied_score = 0.0 if applied is False else 1.0
    error_free = 1.0 / (1.0 + _number(outcome, "js_errors"))
    result = 0.5 * applied_score + 0.5 * error_free

    scroll = min(_number(outcome, "scroll_depth"), 1.0)
    engagement = (_saturate(_number(outcome, "dwell_ms"), scales.dwell_ms) + scroll
                  + _saturate(_number(outcome, "clicks"), scales.clicks)) / 3.0
    penalty = 0.5 * float(_flag(outcome, "bounce")) + 0.5 * _saturate(_number(outcome, "misclicks"),
                                                                        scales.misclicks)
    user = engagement - penalty

    progress = min(_number(outcome, "funnel_progress"), 1.0)
    business = 0.5 * float(_flag(outcome, "goal_reached")) + 0.5 * progress

    total = weights.result * result + weights.user * user + weights.business * business
    return RewardParts(result=result, user=user, business=business, total=total)


def funnel_progress(visited: Collection[str], funnel_pages: Sequence[str]) -> float:
    """Fraction of the funnel's pages among ``visited`` (paths); 0 for an empty funnel."""
    if not funnel_pages:
        return 0.0
    seen = set(visited)
    return sum(page in seen for page in funnel_pages) / len(funnel_pages)
