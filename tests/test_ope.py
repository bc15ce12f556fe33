"""Off-policy evaluation from a uniform log on a synthetic bandit whose action values are known exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agent.decision_log import DecisionRecord, read_jsonl, to_jsonl
from agent.kernel import InputError
from agent.ope import LoggedBandit, RidgeRewardModel, doubly_robust, evaluate, ips, policy_probabilities, snips
from agent.policies import FixedPolicy, UniformPolicy

# Three device classes (traffic shares 0.5 / 0.3 / 0.2), four actions, Bernoulli conversion rates.
SHARES = np.array([0.5, 0.3, 0.2])
RATES = np.array([[0.10, 0.30, 0.20, 0.25],
                  [0.15, 0.10, 0.35, 0.40],
                  [0.20, 0.25, 0.10, 0.60]])
K = RATES.shape[1]
# Action 3's selectors are missing on desktop pages: it is never offered there (the rate above is unused).
MASKS = np.array([[True, True, True, True], [True, True, True, True], [True, True, True, False]])
TARGET = FixedPolicy(3)  # a fixed variant; on desktop it falls back to the control
# Its true value: Σ_c P(c) · rate(c, π(c)) = 0.5·0.25 + 0.3·0.40 + 0.2·0.20.
TRUE_VALUE = 0.5 * 0.25 + 0.3 * 0.40 + 0.2 * 0.20


def _uniform_log(n: int, rng: np.random.Generator) -> LoggedBandit:
    """n decisions by the uniform policy (the A/B split), as arrays."""
    devices = rng.choice(3, size=n, p=SHARES)
    masks = MASKS[devices]
    offered = masks.sum(axis=1)
    # A uniform draw among the offered actions: the k-th offered one, k ~ U{0..offered-1}.
    k = (rng.random(n) * offered).astype(int)
    actions = np.array([np.flatnonzero(m)[i] for m, i in zip(masks, k, strict=True)])
    rewards = (rng.random(n) < RATES[devices, actions]).astype(float)
    return LoggedBandit(contexts=np.eye(3)[devices], actions=actions, propensities=1.0 / offered,
                        rewards=rewards, masks=masks)


def _target_probs(log: LoggedBandit) -> np.ndarray:
    return policy_probabilities(TARGET, log)


def test_intervals_cover_the_true_value_from_a_logged_jsonl(tmp_path) -> None:
    rng = np.random.default_rng(2024)
    log = _uniform_log(3000, rng)
    logger = UniformPolicy()
    records = []
    for i, (x, a, r, m) in enumerate(zip(log.contexts, log.actions, log.rewards, log.masks, strict=True)):
        p = logger.probabilities(x, m)[a]
        device = ("phone", "tablet", "desktop")[int(np.argmax(x))]
        records.append(DecisionRecord(event_id=f"run1:{i}:0", context={"device_class": device},
                                      context_vec=x.tolist(), actions_offered=np.flatnonzero(m).tolist(),
                                      action=int(a), probability=float(p),
                                      reward_parts={"business": float(r)}, reward=float(r), policy="uniform"))
    path = tmp_path / "decisions.jsonl"
    assert to_jsonl(records, path) == 3000
    back = read_jsonl(path)
    assert back == records

    loaded = LoggedBandit.from_records(back, K)
    estimates = evaluate(loaded, _target_probs(loaded))
    for name, est in estimates.items():
        assert est.covers(TRUE_VALUE), (name, est, TRUE_VALUE)
        assert est.n == 3000 and est.low < est.value < est.high
    # Uniform logging over 4 (3 on desktop) actions, deterministic target: ESS ≈ n / E[w²], E[w²] = Σ P(c)·|A_c|.
    expected_ess = 3000 / float(SHARES @ MASKS.sum(axis=1))
    assert estimates["ips"].ess == pytest.approx(expected_ess, rel=0.1)
    # The records path gives the same numbers as the array path.
    assert ips(back, _target_probs(loaded), n_actions=K) == estimates["ips"]


def test_interval_coverage_over_repeated_logs() -> None:
    reps, n, nominal = 200, 1000, 0.95
    # Coverage is a binomial proportion over reps: allow three Monte-Carlo standard errors below nominal.
    floor = nominal - 3 * math.sqrt(nominal * (1 - nominal) / reps)  # ≈ 0.904
    rng = np.random.default_rng(7)
    covered = {"ips": 0, "snips": 0, "dr": 0}
    widths = {"ips": 0.0, "snips": 0.0, "dr": 0.0}
    for _ in range(reps):
        log = _uniform_log(n, rng)
        for name, est in evaluate(log, _target_probs(log)).items():
            covered[name] += est.covers(TRUE_VALUE)
            widths[name] += est.high - est.low
    for name, count in covered.items():
        assert count / reps >= floor, (name, count / reps, floor)
    # A reward model that is right (one-hot contexts: per-device means) makes DR tighter than IPS.
    assert widths["dr"] < widths["ips"]


def test_doubly_robust_is_unbiased_with_a_wrong_reward_model() -> None:
    class Wrong:
        def predict(self, contexts: np.ndarray) -> np.ndarray:
            return np.full((len(contexts), K), 0.9)

    rng = np.random.default_rng(11)
    log = _uniform_log(20_000, rng)
    est = doubly_robust(log, _target_probs(log), Wrong())
    assert est.covers(TRUE_VALUE)
    assert abs(est.value - TRUE_VALUE) < 4 * est.stderr


def test_ridge_reward_model_recovers_per_device_rates() -> None:
    log = _uniform_log(30_000, np.random.default_rng(3))
    model = RidgeRewardModel(K, l2=1e-3).fit(log)
    predicted = model.predict(np.eye(3))
    offered = MASKS  # action 3 on desktop was never logged, so its prediction is unconstrained
    assert np.abs(predicted - RATES)[offered].max() < 0.03


def test_bad_inputs_are_refused(tmp_path) -> None:
    log = _uniform_log(50, np.random.default_rng(0))
    everywhere = np.full((50, K), 1 / K)  # puts mass on action 3 where desktop did not offer it
    if log.masks.all():
        pytest.skip("no desktop row drawn")
    with pytest.raises(ValueError, match="not offered"):
        ips(log, everywhere)
    with pytest.raises(ValueError, match="shape"):
        snips(log, np.ones((3, K)))
    with pytest.raises(ValueError):
        DecisionRecord("e", {}, [0.0], [0, 1], action=2, probability=0.5)  # not offered
    with pytest.raises(ValueError):
        DecisionRecord("e", {}, [0.0], [0, 1], action=1, probability=0.0)  # no propensity, no IPS
    unmeasured = DecisionRecord("e", {}, [0.0], [0, 1], action=1, probability=0.5)
    with pytest.raises(ValueError, match="no reward"):
        LoggedBandit.from_records([unmeasured], 2)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event_id": "e"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 1"):
        read_jsonl(bad)
