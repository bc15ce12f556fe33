"""The rollout gate's rules: decide from a confidence sequence, guardrails, minimum evidence, persona harm.

Pure functions, no browser and no I/O. The gate's statistics in one import: this module also re-exports the
sample-ratio check and the confidence sequences its rules read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy.typing as npt

from agent.kernel import InputError
from harness.stats.sequences import ConfidenceSequence, Interval, confidence_sequence, tuned_rho
from harness.stats.srm import SrmResult, srm_check

__all__ = [
    "Decision",
    "Verdict",
    "PromoteIf",
    "SrmResult",
    "srm_check",
    "Interval",
    "tuned_rho",
    "ConfidenceSequence",
    "confidence_sequence",
    "sequential_decision",
    "final_verdict",
    "GuardrailResult",
    "noninferiority",
    "Evidence",
    "minimum_evidence",
    "require_evidence",
    "PersonaHarm",
    "persona_harm",
]

Decision = Literal["promote", "rollback", "continue"]
Verdict = Literal["promote", "rollback", "inconclusive"]
PromoteIf = Literal["superior", "non_inferior"]

# Optimizely declares no winner before 100 visitors and 25 conversions per arm (docs/references.md).
MIN_VISITORS = 100
MIN_CONVERSIONS = 25


def sequential_decision(interval: Interval, *, margin: float, promote_if: PromoteIf = "superior") -> Decision:
    """Promote when better (or non-inferior), roll back when worse by more than ``margin``, else continue."""
    if margin < 0:
        raise InputError("margin must be >= 0", field="margin")
    if interval.upper < -margin:
        return "rollback"
    threshold = 0.0 if promote_if == "superior" else -margin
    if interval.lower > threshold:
        return "promote"
    return "continue"


def final_verdict(decision: Decision) -> Verdict:
    """At the last stage there is no more traffic to wait for: "continue" becomes "inconclusive"."""
    return "inconclusive" if decision == "continue" else decision


@dataclass(frozen=True)
class GuardrailResult:
    """One-sided always-valid non-inferiority check of a guardrail metric (bounce, misclicks, errors)."""

    metric: str
    status: Literal["pass", "fail", "unproven"]
    interval: Interval
    margin: float
    higher_is_worse: bool

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    @property
    def expected(self) -> str:
        side = "higher" if self.higher_is_worse else "lower"
        return f"{self.metric} not worse than control (candidate − control {side} by at most {self.margin:g})"

    @property
    def found(self) -> str:
        return f"{self.metric} candidate − control = {self.interval.describe()}"


def noninferiority(
    diffs: npt.ArrayLike,
    *,
    margin: float,
    higher_is_worse: bool,
    alpha: float = 0.05,
    metric: str = "guardrail",
    rho: float | None = None,
) -> GuardrailResult:
    """Fail when the candidate is worse than control by more than ``margin`` with confidence 1 − alpha."""
    # Eppo/Statsig-style guardrail: a one-sided test against a margin. We read one side of the two-sided
    # (1 − alpha) sequence: a one-sided crossing is a two-sided crossing, so the error stays <= alpha at every
    # look (slightly conservative; reading a 2·alpha sequence one-sided would not be exactly valid).
    if margin < 0:
        raise InputError("margin must be >= 0", field="margin")
    interval = confidence_sequence(diffs, alpha=alpha, rho=rho)
    # Harm is a rise for bounce or error rate, a drop for a higher-is-better metric.
    if higher_is_worse:
        worse_by_more, within_margin = interval.lower > margin, interval.upper < margin
    else:
        worse_by_more, within_margin = interval.upper < -margin, interval.lower > -margin
    status: Literal["pass", "fail", "unproven"] = (
        "fail" if worse_by_more else "pass" if within_margin else "unproven"
    )
    return GuardrailResult(metric, status, interval, margin, higher_is_worse)


@dataclass(frozen=True)
class Evidence:
    """Whether every arm has the visitors (and conversions) a winner needs."""

    visitors: tuple[int, ...]
    conversions: tuple[int, ...] | None
    min_visitors: int
    min_conversions: int
    enough: bool

    @property
    def expected(self) -> str:
        need = f">= {self.min_visitors} visitors"
        if self.conversions is not None:
            need += f" and >= {self.min_conversions} conversions"
        return need + " per arm before promoting"

    @property
    def found(self) -> str:
        found = "visitors " + "/".join(map(str, self.visitors))
        if self.conversions is not None:
            found += ", conversions " + "/".join(map(str, self.conversions))
        return found


def minimum_evidence(
    visitors: Sequence[int],
    conversions: Sequence[int] | None = None,
    *,
    min_visitors: int = MIN_VISITORS,
    min_conversions: int = MIN_CONVERSIONS,
) -> Evidence:
    """Optimizely's floor: no winner before 100 visitors and 25 conversions per arm (``None``: mean reward)."""
    enough = min(visitors) >= min_visitors
    if conversions is not None:
        enough = enough and min(conversions) >= min_conversions
    return Evidence(
        visitors=tuple(visitors),
        conversions=None if conversions is None else tuple(conversions),
        min_visitors=min_visitors,
        min_conversions=min_conversions,
        enough=enough,
    )


def require_evidence(decision: Decision, evidence: Evidence) -> Decision:
    """Hold a "promote" as "continue" until the evidence floor is met; a rollback never waits."""
    # The floor guards against declaring winners on a lucky handful; harm is acted on as soon as it is shown.
    return "continue" if decision == "promote" and not evidence.enough else decision


@dataclass(frozen=True)
class PersonaHarm:
    """The primary metric's difference for one persona, and whether it shows significant harm."""

    persona: str
    interval: Interval
    margin: float
    harmed: bool

    @property
    def expected(self) -> str:
        return f"persona {self.persona} not worse than control by more than {self.margin:g}"

    @property
    def found(self) -> str:
        return f"persona {self.persona} candidate − control = {self.interval.describe()}"


def persona_harm(
    diffs_by_persona: Mapping[str, npt.ArrayLike],
    *,
    margin: float,
    alpha: float = 0.05,
    rho: float | None = None,
    bonferroni: bool = True,
) -> list[PersonaHarm]:
    """Every persona's interval; ``harmed`` when its upper bound < −margin (a higher-is-better metric)."""
    if margin < 0:
        raise InputError("margin must be >= 0", field="margin")
    # With k personas each tested at alpha, some persona is flagged by chance with probability up to k·alpha;
    # Bonferroni's alpha / k keeps "a persona was harmed" a claim made at level alpha overall.
    level = alpha / len(diffs_by_persona) if bonferroni and diffs_by_persona else alpha
    results = []
    for persona, diffs in diffs_by_persona.items():
        interval = confidence_sequence(diffs, alpha=level, rho=rho)
        results.append(PersonaHarm(persona, interval, margin, harmed=interval.upper < -margin))
    return results
