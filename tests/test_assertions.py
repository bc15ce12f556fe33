"""harness.testing without a browser: intervals against published values, and readable failures."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest
from scipy import stats

from agent.kernel import InputError
from harness.run.assignment import draw_persona
from harness.run.experiment import Variant, load_experiment
from harness.run.outcome import PageView, SessionResult
from harness.run.population import experiment_personas, select_personas
from harness.run.session import SessionOutcome, VisitorPlan
from harness.run.simulate import SimulationReport
from harness.stats import paired_t_interval, welch_interval
from harness.testing import (
    assert_better,
    assert_not_worse,
    compare,
    newcombe_interval,
    paired_newcombe_interval,
    wilson_interval,
)
from personas import load_persona

SHOP = Path(__file__).resolve().parent.parent / "site_fixtures" / "shop" / "experiment.toml"
MOBILE = load_persona("hurried-mobile-shopper")
DESKTOP = load_persona("careful-desktop-researcher")


def _outcome(visitor: str, variant: str, persona: object = MOBILE, *, goal: bool = False, bounce: bool = False,
             dwell_ms: float = 10_000, clicks: int = 2, misclicks: int = 0, pair: str | None = None) -> SessionOutcome:
    pages = (PageView("/index.html", 0.0, dwell_ms, 0.5),) if bounce else (
        PageView("/index.html", 0.0, dwell_ms / 2, 0.5), PageView("/product.html", dwell_ms / 2, dwell_ms / 2, 0.5))
    result = SessionResult(pages=pages, clicks=0 if bounce else clicks, interactive_clicks=0 if bounce else clicks,
                           misclicks=misclicks, goals=("conversion",) if goal else (), js_errors=0, console_errors=0,
                           blocked_requests=0, failed_requests=0)
    plan = VisitorPlan(visitor, persona, Variant(name=variant), seed=1, pair=pair)  # type: ignore[arg-type]
    return SessionOutcome(plan=plan, result=result, end="goal" if goal else "leave",
                          device=plan.persona.device, events=[])


def _report(outcomes: list[SessionOutcome], *, paired: bool = False) -> SimulationReport:
    return SimulationReport(run_id=1, outcomes=outcomes, paired=paired, db=Path("x.db"), control="control")


def _arm(variant: str, n: int, conversions: int, persona: object = MOBILE, start: int = 0) -> list[SessionOutcome]:
    return [_outcome(f"{variant}{start + i}", variant, persona, goal=i < conversions) for i in range(n)]


def test_intervals_match_newcombes_published_values() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, table II, method 10 (hybrid score).
    for (k1, n1, k2, n2), expected in {(56, 70, 48, 80): (0.0524, 0.3339), (9, 10, 3, 10): (0.1705, 0.8090),
                                       (5, 56, 0, 29): (-0.0381, 0.1926), (0, 10, 0, 20): (-0.1611, 0.2775)}.items():
        low, high = newcombe_interval(k1, n1, k2, n2)
        assert (round(low, 4), round(high, 4)) == expected
    assert wilson_interval(0, 0) == (0.0, 1.0)
    # Paired: no correlation left (φ shrunk to 0) gives the unpaired form over the same n.
    low, high = paired_newcombe_interval(0, 0, 4, 0)
    assert low == -1.0 and high == pytest.approx(-1 + 2 * (1 - wilson_interval(4, 4)[0]) / 2 ** 0.5, abs=1e-9)
    for table in [(1, 1, 7, 12), (10, 3, 3, 10), (0, 5, 0, 5), (20, 0, 0, 0)]:
        a, b, c, d = table
        estimate = (b - c) / sum(table)
        low, high = paired_newcombe_interval(*table)
        assert -1 <= low <= estimate <= high <= 1


def test_t_intervals_match_the_textbook_formulas_and_their_edge_cases() -> None:
    first, second = [12.0, 15.0, 11.0, 18.0, 14.0], [10.0, 13.0, 12.0, 11.0, 10.0]
    diffs = [x - y for x, y in zip(first, second, strict=True)]
    n, mean = len(diffs), statistics.fmean(diffs)
    half = stats.t.ppf(0.975, n - 1) * statistics.stdev(diffs) / math.sqrt(n)
    assert paired_t_interval(first, second) == pytest.approx((mean - half, mean + half), abs=1e-12)
    v1, v2 = statistics.variance(first) / n, statistics.variance(second) / n
    df = (v1 + v2) ** 2 / (v1**2 / (n - 1) + v2**2 / (n - 1))  # Welch–Satterthwaite
    d, half = statistics.fmean(first) - statistics.fmean(second), stats.t.ppf(0.975, df) * math.sqrt(v1 + v2)
    assert welch_interval(first, second) == pytest.approx((d - half, d + half), abs=1e-12)
    # One value per arm: no spread, no interval; no spread at all: the interval is the point.
    assert paired_t_interval([1.0], [2.0]) == (-math.inf, math.inf) == welch_interval([1.0], [1.0, 2.0])
    assert paired_t_interval([3.0, 4.0, 5.0], [1.0, 2.0, 3.0]) == pytest.approx((2.0, 2.0))
    assert welch_interval([2.0, 2.0], [1.0, 1.0, 1.0]) == pytest.approx((1.0, 1.0))
    assert wilson_interval(0, 7)[0] == 0.0 and wilson_interval(7, 7)[1] == 1.0


def test_not_worse_passes_within_the_margin_and_fails_outside_it_with_every_number() -> None:
    report = _report(_arm("control", 100, 50) + _arm("big-cta", 100, 50))
    assert_not_worse(report, "big-cta", metric="conversion", margin=0.15)
    with pytest.raises(AssertionError) as failure:
        assert_not_worse(report, "big-cta", metric="conversion", margin=0.02)
    message = str(failure.value)
    low, high = newcombe_interval(50, 100, 50, 100)
    assert "big-cta may be worse than control on conversion by more than the margin 2.0 pp" in message
    assert f"95 % interval [{low * 100:+.1f} pp, +{high * 100:.1f} pp]".replace("-", "−") in message
    assert "200 sessions (big-cta 100, control 100)" in message
    assert "lower bound ≥ −2.0 pp" in message and "personas harmed: none" in message


def test_failure_names_the_personas_harmed_and_only_them() -> None:
    outcomes = (_arm("control", 40, 30, MOBILE) + _arm("control", 40, 20, DESKTOP, start=40)
                + _arm("faint", 40, 10, MOBILE) + _arm("faint", 40, 20, DESKTOP, start=40))
    with pytest.raises(AssertionError) as failure:
        assert_not_worse(_report(outcomes), "faint", margin=0.02)
    message = str(failure.value)
    harmed = message.split("personas harmed", 1)[1]
    assert "hurried-mobile-shopper: −50.0 pp" in harmed and "(40 vs 40 sessions)" in harmed
    assert "careful-desktop-researcher" not in harmed
    comparison = compare(_report(outcomes), "faint")
    assert comparison.estimate == pytest.approx(-0.25) and comparison.low < -0.25 < comparison.high < 0


def test_paired_runs_use_the_paired_interval_over_visitors() -> None:
    outcomes = []
    for i in range(30):
        visitor = f"v{i}"
        outcomes.append(_outcome(visitor, "control", goal=i < 10, pair=visitor))
        outcomes.append(_outcome(visitor, "big-cta", goal=i < 20, pair=visitor))
    outcomes.append(_outcome("v99", "big-cta", goal=True, pair="v99"))  # its control run was lost: not counted
    result = assert_better(_report(outcomes, paired=True), "big-cta", metric="conversion")
    assert result.paired and result.n_variant == 30 and "paired Newcombe" in result.method
    assert (result.low, result.high) == paired_newcombe_interval(10, 10, 0, 10)


def test_lower_is_better_metrics_fail_on_an_increase() -> None:
    control = [_outcome(f"c{i}", "control", bounce=i < 10) for i in range(50)]
    worse = [_outcome(f"w{i}", "sticky", bounce=i < 30) for i in range(50)]
    with pytest.raises(AssertionError) as failure:
        assert_not_worse(_report(control + worse), "sticky", metric="bounce", margin=0.05)
    assert "upper bound ≤ +5.0 pp" in str(failure.value) and "bounce rate (lower is better)" in str(failure.value)
    assert_better(_report(worse + [_outcome(f"x{i}", "calm", bounce=False) for i in range(50)]), "calm",
                  metric="bounce", control="sticky")
    clumsy = [_outcome(f"m{i}", "tiny", clicks=4, misclicks=2) for i in range(20)]
    with pytest.raises(AssertionError, match="misclick rate per session"):
        assert_not_worse(_report(control[:20] + clumsy), "tiny", metric="misclick", margin=0.1)


def test_dwell_is_compared_with_welchs_interval_in_seconds() -> None:
    control = [_outcome(f"c{i}", "control", dwell_ms=10_000 + 1000 * (i % 5)) for i in range(20)]
    longer = [_outcome(f"l{i}", "story", dwell_ms=20_000 + 1000 * (i % 5)) for i in range(20)]
    result = assert_better(_report(control + longer), "story", metric="dwell", margin=5.0)
    assert result.estimate == pytest.approx(10.0) and "Welch" in result.method
    with pytest.raises(AssertionError, match=r"better needs the interval's upper bound < \+0.0 s"):
        assert_better(_report(control + longer), "story", metric="dwell", higher_is_better=False)


def test_misuse_is_bad_input_with_a_fix() -> None:
    report = _report(_arm("big-cta", 5, 2))
    with pytest.raises(InputError, match=r"no sessions of control 'control'.*fix: simulate it too"):
        assert_not_worse(report, "big-cta")
    with pytest.raises(InputError, match="unknown metric 'ctr'"):
        compare(report, "big-cta", metric="ctr")


def test_persona_filter_keeps_the_named_personas_and_their_relative_shares() -> None:
    experiment = load_experiment(SHOP)
    mix = experiment_personas(experiment)
    chosen = experiment_personas(experiment, ["low-vision-senior", "hurried-mobile-shopper"])
    assert [p.name for p in chosen] == [p.name for p in mix if p.name in {"low-vision-senior",
                                                                           "hurried-mobile-shopper"}]
    drawn = {draw_persona(f"v{i}", chosen, 0).name for i in range(200)}
    assert drawn == {"low-vision-senior", "hurried-mobile-shopper"}
    with pytest.raises(InputError) as bad:
        select_personas(mix, ["bargain-hunter"], source="experiment.toml")
    assert bad.value.field == "personas" and "use one of: hurried-mobile-shopper" in bad.value.one_line()
