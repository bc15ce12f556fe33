"""Fixed-sample 95 % intervals: Wilson and Newcombe for proportions (docs/references.md), Welch and paired t.

Wilson, Welch and paired t come from ``scipy.stats``; Newcombe's hybrid score intervals (independent and paired,
method 10 of each of his 1998 papers) are not in scipy and are built here from scipy's Wilson limits.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from scipy import stats

__all__ = [
    "CONFIDENCE",
    "Z",
    "wilson_interval",
    "newcombe_interval",
    "paired_newcombe_interval",
    "paired_t_interval",
    "welch_interval",
]

CONFIDENCE = 0.95
# The two-sided normal quantile for CONFIDENCE (1.95996…): Wilson's and Newcombe's ``z``.
Z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))


def wilson_interval(k: int, n: int, z: float = Z) -> tuple[float, float]:
    """Wilson's score interval for k successes in n trials (good coverage at small n and rates near 0 or 1)."""
    if n == 0:
        return 0.0, 1.0
    level = 1.0 - 2.0 * float(stats.norm.sf(z))
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return max(0.0, float(ci.low)), min(1.0, float(ci.high))


def newcombe_interval(k1: int, n1: int, k2: int, n2: int, z: float = Z) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p1 − p2 from two independent samples (Newcombe 1998, method 10)."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, z)
    l2, u2 = wilson_interval(k2, n2, z)
    d = p1 - p2
    return (max(-1.0, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)),
            min(1.0, d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)))


def paired_newcombe_interval(both: int, only_first: int, only_second: int, neither: int,
                             z: float = Z) -> tuple[float, float]:
    """Newcombe's score interval for p1 − p2 from paired 0/1 outcomes (Newcombe 1998b, method 10)."""
    # only_first counts pairs where the first is 1 and the second 0. The Wilson limits of the two marginal
    # rates are combined with their correlation φ, itself shrunk towards 0 as the method prescribes.
    a, b, c, d = both, only_first, only_second, neither
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson_interval(a + b, n, z)
    l2, u2 = wilson_interval(a + c, n, z)
    product = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    corrected = cross - n / 2 if cross > n / 2 else (0.0 if cross >= 0 else cross)
    phi = corrected / math.sqrt(product) if product else 0.0
    theta = p1 - p2
    low_sq = (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2
    high_sq = (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2
    return max(-1.0, theta - math.sqrt(max(low_sq, 0.0))), min(1.0, theta + math.sqrt(max(high_sq, 0.0)))


def _t_bounds(test: Callable[[], Any], confidence: float) -> tuple[float, float]:
    # Identical values make scipy warn of "catastrophic cancellation"; their interval is the point itself,
    # which is the right answer here (no spread, nothing to widen by).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = test().confidence_interval(confidence_level=confidence)
    return float(ci.low), float(ci.high)


def paired_t_interval(first: Sequence[float], second: Sequence[float],
                      confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The paired t interval for mean(first − second); unbounded with one pair (no spread to go by)."""
    if len(first) < 2:
        return -math.inf, math.inf
    return _t_bounds(lambda: stats.ttest_rel(first, second), confidence)


def welch_interval(first: Sequence[float], second: Sequence[float],
                   confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Welch's t interval for mean(first) − mean(second); unbounded while an arm has fewer than 2 values."""
    if len(first) < 2 or len(second) < 2:
        return -math.inf, math.inf
    return _t_bounds(lambda: stats.ttest_ind(first, second, equal_var=False), confidence)
