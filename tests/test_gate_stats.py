"""Rollout-gate statistics on simulated paired Bernoulli data, with Monte-Carlo tolerances from sample sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chisquare, ttest_1samp

import harness.stats as stats_room
from agent.kernel import InputError
from harness.stats import (
    ConfidenceSequence,
    Decision,
    Interval,
    confidence_sequence,
    final_verdict,
    minimum_evidence,
    noninferiority,
    persona_harm,
    require_evidence,
    sequential_decision,
    srm_check,
    tuned_rho,
)
from harness.stats import gate as gate_stats

TRIALS = 2000
STAGES = (40, 200, 400)  # 10 / 50 / 100 % of 400 paired visitors


def paired_bernoulli(
    rng: np.random.Generator, trials: int, n: int, p_control: float, p_candidate: float, shared: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Conversions of paired visitors: with probability ``shared`` both arms read the same uniform draw.

    That mimics running a visitor under both arms on the same random stream (positively correlated
    outcomes) while keeping the marginal rates exact, so the true difference is p_candidate − p_control.
    """
    u = rng.random((trials, n))
    own = rng.random((trials, n))
    same_stream = rng.random((trials, n)) < shared
    control = (u < p_control).astype(float)
    candidate = np.where(same_stream, u < p_candidate, own < p_candidate).astype(float)
    return control, candidate


def mc_slack(p: float, trials: int) -> float:
    """Three Monte-Carlo standard errors of a rate ``p`` estimated from ``trials`` runs."""
    return 3 * math.sqrt(p * (1 - p) / trials)


def staged_verdict(control: np.ndarray, candidate: np.ndarray, *, margin: float) -> str:
    """Run one simulated rollout: decide after each stage, stop at the first promote or rollback."""
    cs = ConfidenceSequence()
    seen = 0
    decision: Decision = "continue"
    for n in STAGES:
        interval = cs.update(candidate[seen:n] - control[seen:n])
        seen = n
        evidence = minimum_evidence([n, n], [int(control[:n].sum()), int(candidate[:n].sum())])
        decision = require_evidence(sequential_decision(interval, margin=margin), evidence)
        if decision != "continue":
            break
    return final_verdict(decision)


# --- sample-ratio mismatch -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("observed", "shares"),
    [
        ([500, 500], [0.5, 0.5]),
        ([540, 460], [0.5, 0.5]),
        ([360, 40], [0.9, 0.1]),
        ([330, 70], [0.9, 0.1]),
        ([120, 95, 101], [1, 1, 1]),
        ([1000, 2100], [1, 2]),
    ],
)
def test_srm_p_value_equals_scipy_chisquare(observed: list[int], shares: list[float]) -> None:
    result = srm_check(observed, shares)
    total = sum(observed)
    expected = [total * s / sum(shares) for s in shares]
    reference = chisquare(observed, expected)
    assert result.p_value == pytest.approx(float(reference.pvalue), abs=1e-12, rel=0)
    assert result.statistic == pytest.approx(float(reference.statistic), abs=1e-12, rel=0)
    assert result.mismatch == (result.p_value < 0.001)


def test_srm_alarms_only_below_p_0_001() -> None:
    mild = srm_check([540, 460], [0.5, 0.5])  # p ≈ 0.011: suspicious but not an alarm
    assert 0.001 < mild.p_value < 0.05 and not mild.mismatch
    lost = srm_check([600, 400], [0.5, 0.5])  # a fifth of one arm's sessions lost
    assert lost.p_value < 0.001 and lost.mismatch and lost.enough_data
    assert "50%/50%" in lost.expected and "600/400" in lost.found


def test_srm_gives_no_verdict_under_the_minimum_count() -> None:
    result = srm_check([60, 0], [0.5, 0.5])
    assert result.p_value < 0.001
    assert not result.mismatch and not result.enough_data
    assert "too few" in result.found
    assert srm_check([60, 19], [0.5, 0.5], min_per_arm=20).enough_data is False
    nothing = srm_check([0, 0], [0.5, 0.5])
    assert nothing.mismatch is False and "50%/50%" in nothing.expected


def test_srm_flags_tiny_deviations_at_large_n() -> None:
    # Documents the known pain: a 0.1-point deviation is "significant" at ten million visitors.
    result = srm_check([5_010_000, 4_990_000], [0.5, 0.5])
    assert result.mismatch


def test_the_room_exports_every_name_of_the_gate_module() -> None:
    # The gate imports these from ``harness.stats``; ``harness.stats.gate`` stays a home of the same names.
    assert set(gate_stats.__all__) <= set(stats_room.__all__)
    assert all(getattr(stats_room, name) is getattr(gate_stats, name) for name in gate_stats.__all__)


def test_srm_rejects_malformed_input() -> None:
    with pytest.raises(InputError):
        srm_check([10, 10], [1.0])
    with pytest.raises(InputError):
        srm_check([10, 10], [1.0, 0.0])


# --- confidence sequence ---------------------------------------------------------------------------------


def test_interval_is_the_published_formula() -> None:
    d = np.array([1, 0, 0, -1, 1, 1, 0, 1, 0, 0], dtype=float)
    alpha, rho = 0.05, 0.2
    n, mean, var = d.size, d.mean(), d.var(ddof=1)
    v = n * var * rho**2 + 1
    half = math.sqrt(2 * v / (n**2 * rho**2) * math.log(math.sqrt(v) / alpha))
    interval = confidence_sequence(d, alpha=alpha, rho=rho)
    assert interval.estimate == pytest.approx(mean, abs=1e-15)
    assert interval.lower == pytest.approx(mean - half, abs=1e-12)
    assert interval.upper == pytest.approx(mean + half, abs=1e-12)
    assert interval.n == n


def test_streaming_equals_one_batch() -> None:
    rng = np.random.default_rng(7)
    d = rng.normal(0.1, 1.0, size=1000)
    cs = ConfidenceSequence()
    for chunk in np.array_split(d, [1, 2, 50, 333, 334, 900]):
        cs.update(chunk)
    batch = confidence_sequence(d)
    assert cs.interval.lower == pytest.approx(batch.lower, abs=1e-12)
    assert cs.interval.upper == pytest.approx(batch.upper, abs=1e-12)


def test_tuned_rho_makes_the_boundary_tightest_at_n_star() -> None:
    alpha, n_star = 0.05, 400
    rho = tuned_rho(alpha, n_star)
    unit = np.random.default_rng(3).choice([-1.0, 1.0], size=n_star)
    unit = (unit - unit.mean()) / unit.std(ddof=1)  # exactly unit sample variance
    width = {r: confidence_sequence(unit, alpha=alpha, rho=r).upper for r in rho * np.geomspace(0.2, 5, 201)}
    assert confidence_sequence(unit, alpha=alpha, rho=rho).upper <= min(width.values()) * 1.001


def test_no_data_and_no_variance_stay_wide() -> None:
    empty = ConfidenceSequence().interval
    assert empty.lower == -math.inf and empty.upper == math.inf and empty.n == 0
    # Ten visitors who all converted only under the candidate: σ̂ = 0, but no promotion on that alone.
    assert confidence_sequence(np.ones(10)).lower < 0


def test_rejects_bad_parameters() -> None:
    with pytest.raises(InputError):
        ConfidenceSequence(alpha=0.0)
    with pytest.raises(InputError):
        ConfidenceSequence(rho=-1.0)
    with pytest.raises(InputError):
        ConfidenceSequence().update([0.0, math.nan])


def test_coverage_holds_when_looked_at_ten_times_and_a_naive_interval_does_not() -> None:
    rng = np.random.default_rng(20240601)
    looks = np.arange(1, 11) * 50
    control, candidate = paired_bernoulli(rng, TRIALS, int(looks[-1]), 0.30, 0.33)
    diffs = candidate - control
    truth = 0.33 - 0.30

    covered = np.ones(TRIALS, dtype=bool)
    for i in range(TRIALS):
        cs = ConfidenceSequence(alpha=0.05)
        seen = 0
        for n in looks:
            covered[i] &= cs.update(diffs[i, seen:n]).contains(truth)
            seen = int(n)

    # The fixed-n 95 % t-interval, recomputed at every look: each look alone covers 95 %, all ten do not.
    naive = np.ones(TRIALS, dtype=bool)
    for n in looks:
        ci = ttest_1samp(diffs[:, :n], 0.0, axis=1).confidence_interval(0.95)
        naive &= (ci.low <= truth) & (truth <= ci.high)

    floor = 0.95 - mc_slack(0.95, TRIALS)
    assert covered.mean() >= floor, covered.mean()
    assert naive.mean() < floor, naive.mean()


# --- staged decisions on simulated rollouts --------------------------------------------------------------


def test_aa_is_rarely_rolled_back_over_three_stages() -> None:
    rng = np.random.default_rng(11)
    control, candidate = paired_bernoulli(rng, TRIALS, STAGES[-1], 0.30, 0.30)
    # margin 0 is the strictest: any interval wholly below zero rolls back.
    verdicts = [staged_verdict(control[i], candidate[i], margin=0.0) for i in range(TRIALS)]
    assert verdicts.count("rollback") / TRIALS <= 0.05


def test_clearly_better_candidate_is_promoted() -> None:
    rng = np.random.default_rng(12)
    control, candidate = paired_bernoulli(rng, TRIALS, STAGES[-1], 0.30, 0.45)
    verdicts = [staged_verdict(control[i], candidate[i], margin=0.02) for i in range(TRIALS)]
    assert verdicts.count("promote") / TRIALS >= 0.90
    assert "rollback" not in verdicts


def test_clearly_worse_candidate_is_rolled_back() -> None:
    rng = np.random.default_rng(13)
    control, candidate = paired_bernoulli(rng, TRIALS, STAGES[-1], 0.30, 0.15)
    verdicts = [staged_verdict(control[i], candidate[i], margin=0.02) for i in range(TRIALS)]
    assert verdicts.count("rollback") / TRIALS >= 0.90
    assert "promote" not in verdicts


@pytest.mark.parametrize(
    ("lower", "upper", "promote_if", "expected"),
    [
        (0.01, 0.20, "superior", "promote"),
        (-0.01, 0.20, "superior", "continue"),
        (-0.01, 0.20, "non_inferior", "promote"),
        (-0.03, 0.20, "non_inferior", "continue"),
        (-0.30, -0.03, "superior", "rollback"),
        (-0.30, -0.01, "superior", "continue"),
        (-0.30, -0.03, "non_inferior", "rollback"),
    ],
)
def test_sequential_decision(lower: float, upper: float, promote_if: str, expected: str) -> None:
    interval = Interval(lower, upper, (lower + upper) / 2, 100, 0.05)
    assert sequential_decision(interval, margin=0.02, promote_if=promote_if) == expected  # type: ignore[arg-type]


def test_final_verdict_turns_continue_into_inconclusive() -> None:
    assert final_verdict("continue") == "inconclusive"
    assert final_verdict("promote") == "promote"
    assert final_verdict("rollback") == "rollback"


# --- guardrails ------------------------------------------------------------------------------------------


def test_guardrail_fails_when_bounce_is_clearly_worse() -> None:
    rng = np.random.default_rng(21)
    control, candidate = paired_bernoulli(rng, 1, 400, 0.30, 0.50)
    result = noninferiority(candidate[0] - control[0], margin=0.05, higher_is_worse=True, metric="bounce")
    assert result.failed and result.status == "fail"
    assert result.interval.lower > 0.05
    assert result.expected.startswith("bounce not worse than control")
    assert "bounce candidate − control = +0." in result.found and "n=400" in result.found


def test_guardrail_passes_an_unchanged_metric_given_enough_visitors() -> None:
    rng = np.random.default_rng(22)
    control, candidate = paired_bernoulli(rng, 1, 4000, 0.30, 0.30, shared=0.9)
    result = noninferiority(candidate[0] - control[0], margin=0.05, higher_is_worse=True, metric="bounce")
    assert result.status == "pass"
    few = noninferiority(candidate[0, :30] - control[0, :30], margin=0.05, higher_is_worse=True)
    assert few.status == "unproven" and not few.failed


def test_guardrail_direction_for_a_higher_is_better_metric() -> None:
    drop = np.r_[np.full(200, -1.0), np.zeros(200)]  # half the visitors lost the goal under the candidate
    assert noninferiority(drop, margin=0.05, higher_is_worse=False).failed
    assert not noninferiority(drop, margin=0.05, higher_is_worse=True).failed


def test_guardrail_false_failures_stay_under_alpha_at_the_margin() -> None:
    # True harm exactly at the margin: a valid one-sided test fails it in at most alpha of runs, all looks.
    rng = np.random.default_rng(23)
    trials, margin, alpha = 1000, 0.05, 0.05
    control, candidate = paired_bernoulli(rng, trials, STAGES[-1], 0.20, 0.20 + margin)
    failures = 0
    for i in range(trials):
        d = candidate[i] - control[i]
        failures += any(noninferiority(d[:n], margin=margin, higher_is_worse=True).failed for n in STAGES)
    assert failures / trials <= alpha + mc_slack(alpha, trials)


# --- minimum evidence ------------------------------------------------------------------------------------


def test_minimum_evidence_blocks_promotion_only() -> None:
    few_visitors = minimum_evidence([99, 99], [40, 50])
    few_conversions = minimum_evidence([400, 400], [24, 60])
    enough = minimum_evidence([100, 100], [25, 25])
    assert not few_visitors.enough and not few_conversions.enough and enough.enough
    assert require_evidence("promote", few_conversions) == "continue"
    assert require_evidence("promote", enough) == "promote"
    assert require_evidence("rollback", few_visitors) == "rollback"
    assert "25 conversions" in few_conversions.expected and "24/60" in few_conversions.found


def test_minimum_evidence_without_conversions_counts_visitors() -> None:
    assert minimum_evidence([150, 150]).enough
    assert not minimum_evidence([150, 80]).enough


# --- per-persona harm ------------------------------------------------------------------------------------


def test_persona_harm_names_only_the_harmed_persona() -> None:
    rng = np.random.default_rng(31)
    base_c, base_t = paired_bernoulli(rng, 1, 300, 0.40, 0.42)
    low_c, low_t = paired_bernoulli(rng, 1, 300, 0.40, 0.10)
    results = persona_harm(
        {"default": base_t[0] - base_c[0], "low-vision": low_t[0] - low_c[0]}, margin=0.02
    )
    assert [r.persona for r in results if r.harmed] == ["low-vision"]
    harmed = results[1]
    assert harmed.interval.upper < -0.02
    assert "low-vision" in harmed.expected and "low-vision" in harmed.found


def test_persona_harm_splits_alpha_across_personas() -> None:
    d = np.random.default_rng(32).choice([-1.0, 0.0, 1.0], size=200)
    corrected = persona_harm({"a": d, "b": d, "c": d}, margin=0.0)[0].interval
    alone = persona_harm({"a": d, "b": d, "c": d}, margin=0.0, bonferroni=False)[0].interval
    assert corrected.alpha == pytest.approx(0.05 / 3)
    assert corrected.upper - corrected.lower > alone.upper - alone.lower
    # The verdict's prose names the level the interval has, not a rounded one.
    assert "(98.3% CS" in corrected.describe()
    assert "(95% CS" in alone.describe()
