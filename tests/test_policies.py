"""Baseline policies behind one interface: valid distributions, honest propensities, convergence."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from agent.dqn import DQNAgent, DQNConfig
from agent.policies import (
    BASELINES,
    DQNPolicy,
    EpsilonGreedyPolicy,
    FixedPolicy,
    LinUCBPolicy,
    Policy,
    ThompsonPolicy,
    UniformPolicy,
    make_baseline,
)

K, DIM = 6, 4


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # see tests/test_dqn.py: small batches, busy machines
    yield
    torch.set_num_threads(before)


def _policies() -> list[Policy]:
    agent = DQNAgent(DIM, K, DQNConfig(seed=1, hidden=(16,), eps_start=0.3, eps_end=0.3))
    return [UniformPolicy(), EpsilonGreedyPolicy(K), ThompsonPolicy(K, n_samples=200), LinUCBPolicy(K, DIM),
            FixedPolicy(3), DQNPolicy(agent), DQNPolicy(agent, greedy=False)]


@pytest.mark.parametrize("policy", _policies(), ids=lambda p: f"{p.name}")
def test_probabilities_are_a_distribution_over_the_mask_and_match_act(policy: Policy) -> None:
    assert isinstance(policy, Policy)
    rng = np.random.default_rng(5)
    for _ in range(60):
        x = rng.random(DIM)
        mask = rng.random(K) < 0.5
        mask[0] = True
        probs = policy.probabilities(x, mask)
        assert probs.shape == (K,)
        assert probs.sum() == pytest.approx(1.0)
        assert np.all(probs[~mask] == 0) and np.all(probs >= 0)
        action, p = policy.act(x, mask, rng)
        assert mask[action]
        assert p == pytest.approx(probs[action]) and p > 0
        # act must not move the distribution: the logged propensity is the one acted on.
        assert np.array_equal(policy.probabilities(x, mask), probs)
        policy.update(x, action, float(rng.random()))


@pytest.mark.parametrize("policy", _policies(), ids=lambda p: f"{p.name}")
def test_predict_is_an_allowed_deterministic_choice(policy: Policy) -> None:
    rng = np.random.default_rng(8)
    for _ in range(30):
        x = rng.random(DIM)
        mask = rng.random(K) < 0.5
        mask[0] = True
        action = policy.predict(x, mask)
        assert mask[action] and policy.predict(x, mask) == action
        policy.update(x, int(np.flatnonzero(mask)[-1]), float(rng.random()))


def test_predict_is_each_policys_greedy_rule() -> None:
    x, mask = np.ones(DIM), np.ones(K, dtype=bool)
    mask[1] = False
    egreedy = EpsilonGreedyPolicy(K)
    assert egreedy.predict(x, mask) == 0  # nothing tried yet: the control
    egreedy.update(x, 3, 1.0)
    egreedy.update(x, 1, 5.0)  # the best mean, but masked here
    assert egreedy.predict(x, mask) == 3
    thompson = ThompsonPolicy(K)
    thompson.update(x, 4, 1.0)
    assert thompson.predict(x, mask) == 4  # the best posterior mean, not a sample
    linucb = LinUCBPolicy(K, DIM, alpha=100.0)
    linucb.update(x, 2, 1.0)
    linucb.update(x, 5, 0.5)
    assert linucb.predict(x, mask) == 2  # θᵀx, without the (large) exploration bonus
    assert UniformPolicy().predict(x, mask) == 0 and FixedPolicy(3).predict(x, mask) == 3
    agent = DQNAgent(DIM, K, DQNConfig(seed=2, hidden=(8,)))
    assert DQNPolicy(agent, greedy=False).predict(x, mask) == agent.act(x, mask, greedy=True)[0]


def test_uniform_is_the_ab_split_and_fixed_falls_back_to_control() -> None:
    mask = np.array([True, False, True, True, False, False])
    assert UniformPolicy().probabilities(np.zeros(DIM), mask).tolist() == pytest.approx(
        [1 / 3, 0, 1 / 3, 1 / 3, 0, 0])
    fixed = FixedPolicy(2)
    assert fixed.probabilities(np.zeros(DIM), mask)[2] == 1.0
    assert fixed.act(np.zeros(DIM), mask, np.random.default_rng(0)) == (2, 1.0)
    assert FixedPolicy(1).probabilities(np.zeros(DIM), mask)[0] == 1.0  # its selectors are absent: control


def test_epsilon_greedy_tries_each_arm_then_exploits() -> None:
    policy = EpsilonGreedyPolicy(3, epsilon=0.05)
    mask = np.ones(3, dtype=bool)
    x = np.zeros(DIM)
    for arm, reward in ((0, 0.1), (1, 0.9)):
        assert policy.probabilities(x, mask)[arm] == pytest.approx(0.05 / 3 + 0.95)  # untried first
        policy.update(x, arm, reward)
    policy.update(x, 2, 0.5)
    assert policy.probabilities(x, mask).tolist() == pytest.approx([0.05 / 3, 0.05 / 3 + 0.95, 0.05 / 3])


def test_thompson_scales_and_clips_rewards() -> None:
    policy = ThompsonPolicy(2, reward_range=(-0.4, 1.0))
    x = np.zeros(DIM)
    policy.update(x, 0, -0.4)  # the worst total → a failure
    policy.update(x, 1, 0.3)  # halfway → half a success
    policy.update(x, 1, 5.0)  # above the range → clipped to a success
    assert policy.alpha.tolist() == pytest.approx([1.0, 1.0 + 0.5 + 1.0])
    assert policy.beta.tolist() == pytest.approx([2.0, 1.0 + 0.5])


def test_thompson_converges_to_the_best_bernoulli_arm() -> None:
    means = np.array([0.3, 0.5, 0.7, 0.45])
    policy = ThompsonPolicy(len(means), seed=0)
    rng = np.random.default_rng(0)
    mask = np.ones(len(means), dtype=bool)
    x = np.zeros(1)
    chosen = []
    for _ in range(1500):
        action, _ = policy.act(x, mask, rng)
        policy.update(x, action, float(rng.random() < means[action]))
        chosen.append(action)
    # The gap to the runner-up is 0.2: after 1500 pulls the posterior is sure (P(best) ≈ 1).
    assert policy.probabilities(x, mask)[2] >= 0.95
    assert np.mean(np.array(chosen[-500:]) == 2) >= 0.9


def test_linucb_scores_match_the_formula() -> None:
    policy = LinUCBPolicy(2, dim=2, alpha=0.5, fit_intercept=False)
    policy.update(np.array([1.0, 0.0]), 0, 1.0)
    # A_0 = I + xxᵀ = diag(2, 1), b_0 = (1, 0) → θ_0 = (0.5, 0); at x = (1, 0): 0.5 + 0.5·√0.5.
    # A_1 = I, θ_1 = 0 → 0 + 0.5·√1.
    assert policy.scores(np.array([1.0, 0.0])).tolist() == pytest.approx([0.5 + 0.5 * math.sqrt(0.5), 0.5])
    # Exact ties split uniformly: at the start every action has the same bound.
    fresh = LinUCBPolicy(3, dim=2)
    assert fresh.probabilities(np.ones(2), np.ones(3, dtype=bool)).tolist() == pytest.approx([1 / 3] * 3)


def test_linucb_converges_on_a_linear_problem() -> None:
    rng = np.random.default_rng(3)
    d, k = 5, 4
    theta = rng.normal(0.0, 1.0, size=(k, d))
    policy = LinUCBPolicy(k, d, alpha=1.0)
    mask = np.ones(k, dtype=bool)
    regrets = []
    for _ in range(1500):
        x = rng.random(d)
        expected = theta @ x
        action, _ = policy.act(x, mask, rng)
        policy.update(x, action, float(expected[action] + rng.normal(0.0, 0.1)))
        regrets.append(expected.max() - expected[action])
    # The best arm changes with x; late on it is found almost always, so the mean regret is tiny next to the
    # mean gap between the best and an average arm.
    late = np.mean(regrets[-300:])
    typical_gap = np.mean([(theta @ x).max() - (theta @ x).mean() for x in rng.random((300, d))])
    assert late <= 0.05 * typical_gap, (late, typical_gap)


def test_make_baseline_knows_the_cli_names() -> None:
    assert [make_baseline(name, K, DIM).name for name in BASELINES] == list(BASELINES)
    with pytest.raises(ValueError):
        make_baseline("oracle", K, DIM)
