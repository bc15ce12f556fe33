"""Assertion helpers for QA suites: is a variant not worse (or better) than control, with a 95 % interval?

``assert_not_worse(result, "big-cta", metric="conversion", margin=0.02)`` compares a variant of a
:class:`~harness.run.simulate.SimulationReport` with the experiment's control and fails with a message that
prints the estimate, its interval, the sessions behind it and the personas harmed. Paired runs (every
visitor under every variant) use a paired interval over visitors; unpaired runs a two-sample interval.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.kernel import InputError
from harness.stats import (
    CONFIDENCE,
    newcombe_interval,
    paired_newcombe_interval,
    paired_t_interval,
    welch_interval,
    wilson_interval,
)

if TYPE_CHECKING:
    from harness.run.session import SessionOutcome
    from harness.run.simulate import SimulationReport

__all__ = [
    "CONFIDENCE",
    "METRICS",
    "Comparison",
    "Metric",
    "PersonaDifference",
    "assert_better",
    "assert_not_worse",
    "compare",
    "newcombe_interval",
    "paired_newcombe_interval",
    "wilson_interval",
]


@dataclass(frozen=True)
class Metric:
    """A per-session measure: how to read it off a session, whether it is 0/1, and which way is better."""

    name: str
    label: str
    value: Callable[[SessionOutcome], float]
    binary: bool
    higher_is_better: bool
    unit: str  # "pp": a proportion, printed in percentage points; otherwise the unit's symbol

    def fmt(self, x: float, *, signed: bool = True) -> str:
        """A value (or a difference) in this metric's unit, with a true minus sign."""
        if math.isinf(x):
            return "−∞" if x < 0 else "+∞"
        x += 0.0  # no "−0.0": a zero margin prints as +0.0
        scaled, suffix = (x * 100, " pp") if self.unit == "pp" else (x, f" {self.unit}")
        text = f"{scaled:+.1f}" if signed else f"{scaled:.1f}"
        return text.replace("-", "−") + suffix

    def level(self, x: float) -> str:
        """An arm's mean: a rate as a percentage, anything else in its unit."""
        return f"{x:.1%}" if self.unit == "pp" else f"{x:.2f} {self.unit}"


def _misclick(o: SessionOutcome) -> float:
    return o.result.misclick_rate


def _error(o: SessionOutcome) -> float:
    # As the rollout gate counts it: a session with any JS/console error, or one that broke off.
    return float(o.result.errors > 0 or o.end == "error")


METRICS: dict[str, Metric] = {
    "conversion": Metric("conversion", "conversion", lambda o: float(o.result.goal_reached), True, True, "pp"),
    "bounce": Metric("bounce", "bounce rate", lambda o: float(o.result.bounce), True, False, "pp"),
    # Per visitor (misclicks / clicks of that session), as the rollout gate's guardrail measures it.
    "misclick": Metric("misclick", "misclick rate per session", _misclick, False, False, "pp"),
    "error": Metric("error", "sessions with errors", _error, True, False, "pp"),
    # Longer dwell reads as engagement by default; pass higher_is_better=False where it means friction.
    "dwell": Metric("dwell", "dwell per session", lambda o: o.result.dwell_ms / 1000, False, True, "s"),
}


def _paired(metric: Metric, first: Sequence[float], second: Sequence[float]) -> tuple[float, float, float, str]:
    """Estimate, low, high and the method's name for paired values (visitor i under both arms)."""
    n = len(first)
    diffs = [x - y for x, y in zip(first, second, strict=True)]
    estimate = sum(diffs) / n
    if metric.binary:
        counts: defaultdict[tuple[bool, bool], int] = defaultdict(int)
        for x, y in zip(first, second, strict=True):
            counts[(x > 0.5, y > 0.5)] += 1
        low, high = paired_newcombe_interval(counts[(True, True)], counts[(True, False)], counts[(False, True)],
                                             counts[(False, False)])
        return estimate, low, high, "paired Newcombe score interval over visitors"
    low, high = paired_t_interval(first, second)
    return estimate, low, high, "paired t interval over visitors"


def _unpaired(metric: Metric, first: Sequence[float], second: Sequence[float]) -> tuple[float, float, float, str]:
    """Estimate, low, high and the method's name for two independent samples."""
    n1, n2 = len(first), len(second)
    m1, m2 = sum(first) / n1, sum(second) / n2
    if metric.binary:
        low, high = newcombe_interval(round(sum(first)), n1, round(sum(second)), n2)
        return m1 - m2, low, high, "Newcombe hybrid score interval, unpaired"
    low, high = welch_interval(first, second)
    return m1 - m2, low, high, "Welch t interval, unpaired"


@dataclass(frozen=True)
class PersonaDifference:
    """One persona's difference (variant − control) with its own interval."""

    persona: str
    estimate: float
    low: float
    high: float
    n_variant: int
    n_control: int


@dataclass(frozen=True)
class Comparison:
    """A variant against control on one metric: the difference (variant − control) and its 95 % interval."""

    variant: str
    control: str
    metric: Metric
    higher_is_better: bool
    estimate: float
    low: float
    high: float
    method: str
    n_variant: int
    n_control: int
    paired: bool
    mean_variant: float
    mean_control: float
    personas: tuple[PersonaDifference, ...]

    def worst_bound(self) -> float:
        """The end of the interval on the harmful side (low if higher is better, else high)."""
        return self.low if self.higher_is_better else self.high

    def gain(self, x: float) -> float:
        """A difference turned so that positive means better for users."""
        return x if self.higher_is_better else -x

    def harmed(self, margin: float) -> list[PersonaDifference]:
        """Personas whose own point estimate is worse than control by more than ``margin``."""
        worse = [p for p in self.personas if self.gain(p.estimate) < -margin]
        return sorted(worse, key=lambda p: self.gain(p.estimate))

    def describe(self, margin: float) -> list[str]:
        """The lines every failure message shares: estimate, interval, sessions, personas harmed."""
        m = self.metric
        way = "higher" if self.higher_is_better else "lower"
        sessions = (f"{self.n_variant} paired visitors (each ran both variants)" if self.paired
                    else f"{self.n_variant + self.n_control} sessions ({self.variant} {self.n_variant}, "
                         f"{self.control} {self.n_control})")
        lines = [
            f"  metric: {m.label} ({way} is better)",
            f"  difference {self.variant} − {self.control}: {m.fmt(self.estimate)}, 95 % interval "
            f"[{m.fmt(self.low)}, {m.fmt(self.high)}] ({self.method})",
            f"  {self.variant} {m.level(self.mean_variant)} vs {self.control} {m.level(self.mean_control)} "
            f"over {sessions}",
        ]
        harmed = self.harmed(margin)
        limit = m.fmt(-margin if self.higher_is_better else margin)
        if harmed:
            lines.append(f"  personas harmed (estimate {'below' if self.higher_is_better else 'above'} {limit}):")
            lines += [f"    {p.persona}: {m.fmt(p.estimate)}, 95 % interval [{m.fmt(p.low)}, {m.fmt(p.high)}] "
                      f"({p.n_variant} vs {p.n_control} sessions)" for p in harmed]
        else:
            lines.append(f"  personas harmed: none (no persona's estimate is worse than {limit})")
        return lines


def _by_variant(result: SimulationReport) -> dict[str, list[SessionOutcome]]:
    groups: dict[str, list[SessionOutcome]] = defaultdict(list)
    for outcome in result.outcomes:
        groups[outcome.plan.variant.name].append(outcome)
    return groups


def _visitor(outcome: SessionOutcome) -> str:
    return outcome.plan.pair or outcome.plan.visitor_id


def _difference(metric: Metric, paired: bool, mine: Sequence[SessionOutcome],
                theirs: Sequence[SessionOutcome]) -> tuple[float, float, float, str, int, int, float, float]:
    if paired:
        # A visitor counts only when both of their runs are here (an interrupted run may have lost one).
        base = {_visitor(o): o for o in theirs}
        matched = [(o, base[_visitor(o)]) for o in mine if _visitor(o) in base]
        first = [metric.value(a) for a, _ in matched]
        second = [metric.value(b) for _, b in matched]
        if not matched:
            raise InputError("no visitor ran under both variants", field="result",
                             fix="simulate both variants with paired=True")
        estimate, low, high, method = _paired(metric, first, second)
    else:
        first = [metric.value(o) for o in mine]
        second = [metric.value(o) for o in theirs]
        estimate, low, high, method = _unpaired(metric, first, second)
    return (estimate, low, high, method, len(first), len(second), sum(first) / len(first),
            sum(second) / len(second))


def compare(result: SimulationReport, variant: str, *, metric: str = "conversion", control: str | None = None,
            higher_is_better: bool | None = None) -> Comparison:
    """The difference variant − control on ``metric``, overall and per persona, each with a 95 % interval."""
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}", field="metric", fix=f"use one of: {', '.join(METRICS)}")
    chosen = METRICS[metric]
    better_up = chosen.higher_is_better if higher_is_better is None else higher_is_better
    baseline = control or getattr(result, "control", None) or "control"
    groups = _by_variant(result)
    for name, role in ((variant, "variant"), (baseline, "control")):
        if not groups.get(name):
            ran = ", ".join(sorted(groups)) or "none"
            raise InputError(f"the result has no sessions of {role} {name!r} (it ran: {ran})", field=role,
                             fix=f"simulate it too, e.g. uiab.simulate(variants=[{baseline!r}, {variant!r}])")
    paired = bool(result.paired)
    estimate, low, high, method, n1, n2, mean1, mean2 = _difference(chosen, paired, groups[variant], groups[baseline])
    per_persona: list[PersonaDifference] = []
    names = sorted({o.plan.persona.name for o in groups[variant]} & {o.plan.persona.name for o in groups[baseline]})
    for name in names:
        mine = [o for o in groups[variant] if o.plan.persona.name == name]
        theirs = [o for o in groups[baseline] if o.plan.persona.name == name]
        try:
            e, lo, hi, _, k1, k2, _, _ = _difference(chosen, paired, mine, theirs)
        except InputError:
            continue  # this persona has no complete pair: nothing to say about it
        per_persona.append(PersonaDifference(name, e, lo, hi, k1, k2))
    return Comparison(variant, baseline, chosen, better_up, estimate, low, high, method, n1, n2, paired, mean1,
                      mean2, tuple(per_persona))


def assert_not_worse(result: SimulationReport, variant: str, *, metric: str = "conversion", margin: float = 0.02,
                     control: str | None = None, higher_is_better: bool | None = None) -> Comparison:
    """Fail unless the 95 % interval rules out ``variant`` being worse than control by more than ``margin``."""
    __tracebackhide__ = True  # pytest shows the failing test's line and this message, not the helper's insides
    comparison = compare(result, variant, metric=metric, control=control, higher_is_better=higher_is_better)
    bound = comparison.worst_bound()
    if comparison.gain(bound) < -margin:
        m = comparison.metric
        side, sign = ("lower", "≥") if comparison.higher_is_better else ("upper", "≤")
        limit = -margin if comparison.higher_is_better else margin
        lines = [f"{variant} may be worse than {comparison.control} on {m.name} by more than the margin "
                 f"{m.fmt(margin, signed=False)}",
                 f"  not worse needs the interval's {side} bound {sign} {m.fmt(limit)}; it is {m.fmt(bound)}",
                 *comparison.describe(margin)]
        raise AssertionError("\n".join(lines))
    return comparison


def assert_better(result: SimulationReport, variant: str, *, metric: str = "conversion", margin: float = 0.0,
                  control: str | None = None, higher_is_better: bool | None = None) -> Comparison:
    """Fail unless the 95 % interval shows ``variant`` better than control by more than ``margin``."""
    __tracebackhide__ = True
    comparison = compare(result, variant, metric=metric, control=control, higher_is_better=higher_is_better)
    bound = comparison.worst_bound()
    if not comparison.gain(bound) > margin:
        m = comparison.metric
        side, sign = ("lower", ">") if comparison.higher_is_better else ("upper", "<")
        limit = margin if comparison.higher_is_better else -margin
        lines = [f"{variant} is not shown better than {comparison.control} on {m.name}"
                 + (f" by more than {m.fmt(margin, signed=False)}" if margin else ""),
                 f"  better needs the interval's {side} bound {sign} {m.fmt(limit)}; it is {m.fmt(bound)}",
                 *comparison.describe(margin)]
        raise AssertionError("\n".join(lines))
    return comparison
