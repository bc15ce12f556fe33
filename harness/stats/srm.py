"""Sample-ratio mismatch: is the observed traffic split the configured one? (chi-square, docs/references.md)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import chisquare

from agent.kernel import InputError

__all__ = ["SRM_ALPHA", "SRM_MIN_PER_ARM", "SrmResult", "srm_check"]

# GrowthBook and Eppo alarm on SRM at p < 0.001 (docs/references.md, "Experiment statistics").
SRM_ALPHA = 0.001
# Cochran's rule asks every expected count >= 5 for the chi-square approximation; 20 per arm also keeps a
# couple of lost sessions in a small 10 % stage from deciding the check on their own.
SRM_MIN_PER_ARM = 20


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
        raise InputError("observed and expected_shares need the same length, at least 2", field="observed",
                         fix="pass one count and one share per arm")
    if any(c < 0 for c in observed) or any(s <= 0 for s in expected_shares):
        raise InputError("counts must be >= 0 and shares > 0", field="expected_shares")
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
