"""Statistics for the rollout gate: sample-ratio check, always-valid confidence sequences, decisions,
guardrails, minimum evidence and per-persona harm. Pure functions; no browser, no I/O."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import chisquare

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

# GrowthBook and Eppo alarm on SRM at p < 0.001 (REFERENCES.md, "Experiment statistics").
SRM_ALPHA = 0.001
# Cochran's rule asks every expected count >= 5 for the chi-square approximation; 20 per arm also keeps a
# couple of lost sessions in a small 10 % stage from deciding the check on their own.
SRM_MIN_PER_ARM = 20
# The paired visitors a default rollout reaches at its last stage; ρ is tuned to be tightest there.
DEFAULT_N_STAR = 400
# Optimizely declares no winner before 100 visitors and 25 conversions per arm (REFERENCES.md).
MIN_VISITORS = 100
MIN_CONVERSIONS = 25


def _fmt(x: float) -> str:
    return f"{x:+.3f}"


# --- sample-ratio mismatch -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SrmResult:
    """Chi-square goodness of fit of the observed split against the configured one."""

    observed: tuple[int, ...]
    expected_shares: tuple[float, ...]
    expected_counts: tuple[float, ...]
    statistic: float
    p_value: float
    alpha: float
    mismatch: bool
    enough_data: bool

    @property
    def expected(self) -> str:
        shares = "/".join(f"{s:.0%}" for s in self.expected_shares)
        return f"traffic split {shares} (chi-square p >= {self.alpha:g})"

    @property
    def found(self) -> str:
        counts = "/".join(str(c) for c in self.observed)
        if not self.enough_data:
            return f"{counts} visitors, too few to judge"
        return f"{counts} visitors, p = {self.p_value:.3g}"


def srm_check(
    observed: Sequence[int],
    expected_shares: Sequence[float],
    *,
    alpha: float = SRM_ALPHA,
    min_per_arm: int = SRM_MIN_PER_ARM,
) -> SrmResult:
    """Sample-ratio mismatch by ``scipy.stats.chisquare``; no verdict while any arm is under ``min_per_arm``."""
    if len(observed) != len(expected_shares) or len(observed) < 2:
        raise ValueError("observed and expected_shares need the same length, at least 2")
    if any(c < 0 for c in observed) or any(s <= 0 for s in expected_shares):
        raise ValueError("counts must be >= 0 and shares > 0")
    counts = np.asarray(observed, dtype=float)
    shares = np.asarray(expected_shares, dtype=float)
    shares = shares / shares.sum()
    total = float(counts.sum())
    # Scale the shares to the observed total so chisquare's "sums must agree" check holds exactly.
    expected = total * shares
    enough = bool(total > 0 and counts.min() >= min_per_arm)
    if total > 0:
        stat, p = chisquare(counts, expected)
        statistic, p_value = float(stat), float(p)
    else:
        statistic, p_value = 0.0, 1.0
    # Known pain: at large N the test flags splits that are off by a fraction of a percent. We keep the strict
    # 0.001 threshold rather than an effect-size floor, and report the counts so a person can judge the size.
    return SrmResult(
        observed=tuple(int(c) for c in observed),
        expected_shares=tuple(float(s) for s in shares),
        expected_counts=tuple(float(e) for e in expected),
        statistic=statistic,
        p_value=p_value,
        alpha=alpha,
        mismatch=enough and p_value < alpha,
        enough_data=enough,
    )


# --- always-valid confidence sequence --------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A (1 − alpha) confidence-sequence interval for the mean difference after ``n`` observations."""

    lower: float
    upper: float
    estimate: float
    n: int
    alpha: float

    def contains(self, value: float) -> bool:
        return self.lower <= value <= self.upper

    def describe(self) -> str:
        level = f"{1 - self.alpha:.0%}"
        return f"{_fmt(self.estimate)} ({level} CS {_fmt(self.lower)} to {_fmt(self.upper)}, n={self.n})"


def tuned_rho(alpha: float, n_star: int = DEFAULT_N_STAR, variance: float = 1.0) -> float:
    """The mixture width ρ that makes the boundary tightest after ``n_star`` observations of this variance."""
    # Howard et al. (2021), normal-mixture boundary: the width at intrinsic time m = n·σ² is (nearly) minimal
    # for ρ² = (2 log(1/α) + log(1 + 2 log(1/α))) / m; GrowthBook's sequential mode tunes it the same way.
    # The boundary is flat around the optimum, so variance = 1 (the largest for differences in [-1, 1]) costs
    # about 2 % of width when paired conversion differences have σ² ≈ 0.4.
    if not 0 < alpha < 1 or n_star < 1 or variance <= 0:
        raise ValueError("need 0 < alpha < 1, n_star >= 1 and variance > 0")
    two_log = -2.0 * math.log(alpha)
    return math.sqrt((two_log + math.log(two_log + 1.0)) / (n_star * variance))


def _half_width(n: int, variance: float, rho: float, alpha: float) -> float:
    # Asymptotic confidence sequence, Waudby-Smith et al. (2023) "Time-uniform central limit theory and
    # asymptotic confidence sequences", Thm 2.2: the Robbins normal-mixture boundary of Howard et al. (2021)
    # with the running variance plugged in. It is the same mixture martingale as Johari et al.'s mSPRT, read
    # as an interval; by Ville's inequality it covers at every n at once, so looking after every stage is free.
    # ρ is fixed in the data's units: with σ̂² = 0 the "+1" still leaves a width of order 1/(nρ), which keeps
    # a handful of identical early visitors from collapsing the interval to a point.
    v = n * variance * rho**2 + 1.0
    return math.sqrt(2.0 * v / (n**2 * rho**2) * math.log(math.sqrt(v) / alpha))


class ConfidenceSequence:
    """Running always-valid confidence sequence for the mean of paired differences (candidate − control)."""

    def __init__(self, *, alpha: float = 0.05, rho: float | None = None) -> None:
        if not 0 < alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        if rho is not None and rho <= 0:
            raise ValueError("rho must be > 0")
        self.alpha = alpha
        self.rho = rho if rho is not None else tuned_rho(alpha)
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0  # sum of squared deviations from the running mean

    @property
    def n(self) -> int:
        return self._n

    def update(self, diffs: npt.ArrayLike) -> Interval:
        """Add a batch of differences and return the interval over everything seen so far."""
        x = np.asarray(diffs, dtype=float).ravel()
        if x.size == 0:
            return self.interval
        if not np.all(np.isfinite(x)):
            raise ValueError("differences must be finite")
        # Chan et al.'s pairwise merge of (n, mean, M2): stable, and a batch equals one-by-one updates.
        m = x.size
        batch_mean = float(x.mean())
        batch_m2 = float(((x - batch_mean) ** 2).sum())
        n = self._n + m
        delta = batch_mean - self._mean
        self._mean += delta * m / n
        self._m2 += batch_m2 + delta**2 * self._n * m / n
        self._n = n
        return self.interval

    @property
    def interval(self) -> Interval:
        if self._n == 0:
            return Interval(-math.inf, math.inf, math.nan, 0, self.alpha)
        variance = self._m2 / (self._n - 1) if self._n > 1 else 0.0
        h = _half_width(self._n, variance, self.rho, self.alpha)
        return Interval(self._mean - h, self._mean + h, self._mean, self._n, self.alpha)


def confidence_sequence(diffs: npt.ArrayLike, *, alpha: float = 0.05, rho: float | None = None) -> Interval:
    """The confidence-sequence interval for all differences so far (same as streaming them in)."""
    return ConfidenceSequence(alpha=alpha, rho=rho).update(diffs)


# --- decisions -------------------------------------------------------------------------------------------


def sequential_decision(interval: Interval, *, margin: float, promote_if: PromoteIf = "superior") -> Decision:
    """Promote when better (or non-inferior), roll back when worse by more than ``margin``, else continue."""
    if margin < 0:
        raise ValueError("margin must be >= 0")
    if interval.upper < -margin:
        return "rollback"
    threshold = 0.0 if promote_if == "superior" else -margin
    if interval.lower > threshold:
        return "promote"
    return "continue"


def final_verdict(decision: Decision) -> Verdict:
    """At the last stage there is no more traffic to wait for: "continue" becomes "inconclusive"."""
    return "inconclusive" if decision == "continue" else decision


# --- guardrails ------------------------------------------------------------------------------------------


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
        raise ValueError("margin must be >= 0")
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


# --- minimum evidence ------------------------------------------------------------------------------------


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


# --- per-persona harm ------------------------------------------------------------------------------------


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
        raise ValueError("margin must be >= 0")
    # With k personas each tested at alpha, some persona is flagged by chance with probability up to k·alpha;
    # Bonferroni's alpha / k keeps "a persona was harmed" a claim made at level alpha overall.
    level = alpha / len(diffs_by_persona) if bonferroni and diffs_by_persona else alpha
    results = []
    for persona, diffs in diffs_by_persona.items():
        interval = confidence_sequence(diffs, alpha=level, rho=rho)
        results.append(PersonaHarm(persona, interval, margin, harmed=interval.upper < -margin))
    return results
