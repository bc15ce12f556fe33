"""Summary statistics for simulated sessions: conversion with a Wilson interval, bounce, dwell, misclicks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from scipy.stats import binomtest

from harness.run.outcome import SessionResult

__all__ = ["ArmSummary", "summarize"]


@dataclass(frozen=True)
class ArmSummary:
    """One group of sessions (a variant, a persona, or both)."""

    sessions: int
    conversions: int
    conversion_rate: float
    ci_low: float
    ci_high: float
    bounce_rate: float
    mean_dwell_s: float
    misclick_rate: float
    cta_click_rate: float | None = None  # sessions that clicked the experiment's `cta` slot, if it has one

    def to_dict(self) -> dict[str, float | int | None]:
        data = asdict(self)
        if self.cta_click_rate is None:
            del data["cta_click_rate"]
        return data


def summarize(results: Iterable[SessionResult], *, cta: str | None = None) -> ArmSummary:
    """Conversion rate with a 95 % Wilson score interval (good coverage at small n and rates near 0 or 1)."""
    items = list(results)
    n = len(items)
    conversions = sum(r.goal_reached for r in items)
    if n:
        interval = binomtest(conversions, n).proportion_ci(confidence_level=0.95, method="wilson")
        low, high = float(interval.low), float(interval.high)
    else:
        low, high = 0.0, 1.0
    clicks = sum(r.clicks for r in items)
    return ArmSummary(
        sessions=n,
        conversions=conversions,
        conversion_rate=conversions / n if n else 0.0,
        ci_low=low,
        ci_high=high,
        bounce_rate=sum(r.bounce for r in items) / n if n else 0.0,
        mean_dwell_s=sum(r.dwell_ms for r in items) / n / 1000 if n else 0.0,
        misclick_rate=sum(r.misclicks for r in items) / clicks if clicks else 0.0,
        cta_click_rate=(sum(cta in r.clicked for r in items) / n if n else 0.0) if cta else None,
    )
