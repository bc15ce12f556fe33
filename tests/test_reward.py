"""The reward calculator: weights, signs, bounds and the stored parts, from measured outcomes only."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from agent.reward import OUTCOME_KEYS, RewardParts, RewardWeights, funnel_progress, reward_parts


def outcome(**changes: Any) -> dict[str, Any]:
    """A plain, middling page view; tests change one thing at a time."""
    base: dict[str, Any] = {"patch_applied": True, "js_errors": 0, "dwell_ms": 8000.0, "scroll_depth": 0.5,
                            "clicks": 1, "misclicks": 0, "bounce": False, "goal_reached": False,
                            "funnel_progress": 0.5}
    base.update(changes)
    return base


def test_seed_weights_and_total_is_the_weighted_sum_of_stored_parts() -> None:
    w = RewardWeights()
    assert (w.result, w.user, w.business) == (0.3, 0.4, 0.3)
    parts = reward_parts(outcome())
    assert parts.total == pytest.approx(0.3 * parts.result + 0.4 * parts.user + 0.3 * parts.business)
    assert set(parts.to_dict()) == {"result", "user", "business", "total"}
    only_business = reward_parts(outcome(), RewardWeights(result=0, user=0, business=1))
    assert only_business.total == pytest.approx(parts.business)
    with pytest.raises(ValueError):
        RewardWeights(result=-0.1)
    with pytest.raises(ValueError):
        RewardWeights(0, 0, 0)


def test_parts_by_hand() -> None:
    # Dwell of exactly one scale (20 s) counts 1 − e⁻¹; nothing else engaged, nothing penalised.
    p = reward_parts(outcome(dwell_ms=20_000.0, scroll_depth=0.0, clicks=0, funnel_progress=0.0))
    assert p.user == pytest.approx((1 - math.exp(-1)) / 3)
    assert p.result == 1.0 and p.business == 0.0
    # One JS error halves the error-free half; a patch that matched nothing loses the applied half.
    assert reward_parts(outcome(js_errors=1)).result == pytest.approx(0.5 + 0.25)
    assert reward_parts(outcome(patch_applied=False)).result == pytest.approx(0.5)
    # No patch shown (the control) is not a failure.
    assert reward_parts(outcome(patch_applied=None)) == reward_parts(outcome(patch_applied=True))
    # A conversion with the whole funnel walked is the full business part.
    assert reward_parts(outcome(goal_reached=True, funnel_progress=1.0)).business == 1.0


def test_bounce_and_misclicks_are_negative() -> None:
    calm = reward_parts(outcome())
    bounced = reward_parts(outcome(bounce=True))
    assert bounced.user == pytest.approx(calm.user - 0.5) and bounced.total < calm.total
    users = [reward_parts(outcome(misclicks=m)).user for m in range(6)]
    assert all(later < earlier for earlier, later in zip(users, users[1:], strict=False))
    # More engagement never lowers the reward.
    assert reward_parts(outcome(clicks=4)).user > calm.user
    assert reward_parts(outcome(scroll_depth=0.9)).user > calm.user


def test_extremes_reach_the_bounds() -> None:
    best = reward_parts(outcome(dwell_ms=1e9, scroll_depth=1.0, clicks=1000, goal_reached=True,
                                funnel_progress=1.0))
    worst = reward_parts(outcome(patch_applied=False, js_errors=10**9, dwell_ms=0.0, scroll_depth=0.0,
                                 clicks=0, misclicks=10**6, bounce=True, funnel_progress=0.0))
    low, high = RewardWeights().bounds()
    assert (low, high) == pytest.approx((-0.4, 1.0))
    assert best.total == pytest.approx(high) and worst.total == pytest.approx(low)


def test_random_outcomes_stay_in_bounds() -> None:
    rng = np.random.default_rng(0)
    weights = RewardWeights()
    low, high = weights.bounds()
    for _ in range(2000):
        p = reward_parts({
            "patch_applied": [True, False, None][int(rng.integers(3))],
            "js_errors": int(rng.integers(0, 5)),
            "dwell_ms": float(rng.exponential(15_000)),
            "scroll_depth": float(rng.random()),
            "clicks": int(rng.integers(0, 10)),
            "misclicks": int(rng.integers(0, 5)),
            "bounce": bool(rng.random() < 0.3),
            "goal_reached": bool(rng.random() < 0.2),
            "funnel_progress": float(rng.random()),
        }, weights)
        assert isinstance(p, RewardParts)
        assert 0 <= p.result <= 1 and -1 <= p.user <= 1 and 0 <= p.business <= 1
        assert low <= p.total <= high


def test_inputs_are_checked() -> None:
    for key in OUTCOME_KEYS:
        incomplete = outcome()
        del incomplete[key]
        with pytest.raises(ValueError, match=key):
            reward_parts(incomplete)
    with pytest.raises(ValueError):
        reward_parts(outcome(bounce=1))  # a flag must be a bool, not a count
    with pytest.raises(ValueError):
        reward_parts(outcome(clicks=-1))
    with pytest.raises(ValueError):
        reward_parts(outcome(dwell_ms=float("nan")))
    with pytest.raises(ValueError):
        reward_parts(outcome(patch_applied="yes"))
    # Extra keys (the whole SessionResult.to_dict(), say) are ignored.
    assert reward_parts(outcome(console_errors=3, url="/x")) == reward_parts(outcome())


def test_funnel_progress_is_the_fraction_of_funnel_pages_reached() -> None:
    funnel = ["/index.html", "/product.html", "/cart.html", "/checkout.html"]
    assert funnel_progress(["/index.html", "/product.html", "/about.html"], funnel) == 0.5
    assert funnel_progress(funnel, funnel) == 1.0
    assert funnel_progress(["/index.html"], []) == 0.0
