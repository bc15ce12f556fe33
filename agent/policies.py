"""One policy interface for the DQN and the baselines it must beat (docs/design.md, "Agent").

A policy maps a context vector and the page's action mask to a distribution over actions. ``act`` draws
from that distribution and returns the action with its probability — the propensity the decision log
stores, which IPS, SNIPS and DR need (agent/ope.py) — and ``probabilities`` returns the whole distribution,
so a policy can be evaluated off-line as a *target* on someone else's log. Every policy gives probability 0
outside the mask and its probabilities sum to 1 over it. ``predict`` is the policy's final, deterministic
choice (Stable-Baselines3's ``predict(obs, deterministic=True)``): evaluation asks for it and never reads a
policy's internals.

Baselines (docs/references.md, "Learning agent"):
- ``UniformPolicy``: the classic A/B split, every allowed action equally likely.
- ``EpsilonGreedyPolicy``: ε = 0.05, Vowpal Wabbit's default; non-contextual running means.
- ``ThompsonPolicy``: Beta-Bernoulli Thompson sampling, non-contextual.
- ``LinUCBPolicy``: disjoint LinUCB (Li, Chu, Langford, Schapire 2010, Algorithm 1), contextual.
- ``FixedPolicy``: always one variant (a team's hand-written patch, or the control).
- ``DQNPolicy``: the DQN agent behind the same interface (greedy for evaluation).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from agent.dqn import DQNAgent, masked_argmax
from agent.kernel import InputError

__all__ = [
    "Policy",
    "UniformPolicy",
    "EpsilonGreedyPolicy",
    "ThompsonPolicy",
    "LinUCBPolicy",
    "FixedPolicy",
    "DQNPolicy",
    "BASELINES",
    "make_baseline",
    "sample_action",
]


@runtime_checkable
class Policy(Protocol):
    """Pick an action for a context; learn from its reward; expose the full action distribution."""

    name: str

    def act(self, context_vec: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[int, float]:
        """An allowed action and its probability under this policy (the propensity to log)."""
        ...

    def update(self, context_vec: np.ndarray, action: int, reward: float) -> None:
        """Learn from the measured reward of ``action`` in this context (a no-op for fixed policies)."""
        ...

    def probabilities(self, context_vec: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """P(action | context) for every action: 0 outside ``mask``, summing to 1 over it."""
        ...

    def predict(self, context_vec: np.ndarray, mask: np.ndarray) -> int:
        """The greedy (deterministic) choice for this context, without exploration; ties to the lowest index."""
        ...


def _mask(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 1 or not mask.any():
        raise InputError("mask must be a 1-d boolean array allowing at least one action", field="mask",
                         fix="always allow the control, action 0")
    return mask


def sample_action(probs: np.ndarray, rng: np.random.Generator) -> tuple[int, float]:
    """Draw an action from ``probs``; return it with its probability."""
    action = int(rng.choice(len(probs), p=probs))
    return action, float(probs[action])


def _best(scores: np.ndarray, mask: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
    """Uniform distribution over the allowed actions whose score is within ``tolerance`` of the best."""
    allowed = np.where(mask, scores, -np.inf)
    top = allowed.max()
    ties = mask & (allowed >= top - tolerance)
    return ties / ties.sum()


class UniformPolicy:
    """The classic A/B split: every allowed action with probability 1/|allowed|."""

    name = "uniform"

    def act(self, context_vec: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[int, float]:
        return sample_action(self.probabilities(context_vec, mask), rng)

    def update(self, context_vec: np.ndarray, action: int, reward: float) -> None:
        pass  # a split does not learn

    def probabilities(self, context_vec: np.ndarray, mask: np.ndarray) -> np.ndarray:
        mask = _mask(mask)
        return mask / mask.sum()

    def predict(self, context_vec: np.ndarray, mask: np.ndarray) -> int:
        """The most probable action: every allowed one ties, so the lowest (the control where allowed). To
        evaluate the split itself, sample it (``agent.evaluation.sampling_fn``)."""
        return masked_argmax(self.probabilities(context_vec, mask), mask)


class EpsilonGreedyPolicy:
    """ε-greedy on each action's running mean reward (ε = 0.05, Vowpal Wabbit's default); non-contextual.

    An action never tried counts as best, so every allowed action is tried once before exploitation
    starts; ties go to the lowest index (the control first).
    """

    name = "egreedy"

    def __init__(self, n_actions: int, epsilon: float = 0.05) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise InputError(f"epsilon must be in [0, 1], got {epsilon}", field="epsilon")
        self.epsilon = epsilon
        self.counts = np.zeros(n_actions, dtype=np.int64)
        self.sums = np.zeros(n_actions, dtype=np.float64)

    def act(self, context_vec: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[int, float]:
        return sample_action(self.probabilities(context_vec, mask), rng)

    def update(self, context_vec: np.ndarray, action: int, reward: float) -> None:
        self.counts[action] += 1
        self.sums[action] += reward

    def probabilities(self, context_vec: np.ndarray, mask: np.ndarray) -> np.ndarray:
        mask = _mask(mask)
        means = np.divide(self.sums, self.counts, out=np.full(len(mask), np.inf), where=self.counts > 0)
        best = int(np.argmax(np.where(mask, means, -np.inf)))
        probs = np.where(mask, self.epsilon / mask.sum(), 0.0)
        probs[best] += 1.0 - self.epsilon
        return probs

    def predict(self, context_vec: np.ndarray, mask: np.ndarray) -> int:
        """The best running mean among the allowed actions it tried; the control if it tried none of them."""
        tried = _mask(mask) & (self.counts > 0)
        if not tried.any():
            return 0
        return masked_argmax(self.sums / np.maximum(self.counts, 1), tried)


class ThompsonPolicy:
    """Beta-Bernoulli Thompson sampling per action (non-contextual).

    Rewards are scaled from ``reward_range`` into [0, 1] and clipped, then added fractionally (α += r,
    β += 1 − r), the usual extension of Beta-Bernoulli sampling to rewards in [0, 1]. Thompson sampling
    plays each action with the posterior probability that it is best; that probability has no closed
    form, so ``probabilities`` estimates it from ``n_samples`` posterior draws (as Open Bandit Pipeline's
    BernoulliTS does for its action distributions), seeded by ``seed`` and the number of updates so it is a
    deterministic function of the posterior. ``act`` samples from that same distribution, so the logged
    propensity is exactly the probability the action was drawn with.
    """

    name = "thompson"

    def __init__(self, n_actions: int, reward_range: tuple[float, float] = (0.0, 1.0), *,
                 prior: tuple[float, float] = (1.0, 1.0), n_samples: int = 1000, seed: int = 0) -> None:
        low, high = reward_range
        if not high > low:
            raise InputError(f"reward_range must be (low, high) with high > low, got {reward_range}",
                             field="reward_range")
        if min(prior) <= 0 or n_samples < 1:
            raise InputError("prior parameters must be positive and n_samples >= 1", field="prior")
        self.reward_range = (float(low), float(high))
        self.alpha = np.full(n_actions, float(prior[0]))
        self.beta = np.full(n_actions, float(prior[1]))
        self.n_samples = n_samples
        self.seed = seed
        self.n_updates = 0

    def act(self, context_vec: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[int, float]:
        return sample_action(self.probabilities(context_vec, mask), rng)

    def update(self, context_vec: np.ndarray, action: int, reward: float) -> None:
        low, high = self.reward_range
        r = min(max((reward - low) / (high - low), 0.0), 1.0)
        self.alpha[action] += r
        self.beta[action] += 1.0 - r
        self.n_updates += 1

    def probabilities(self, context_vec: np.ndarray, mask: np.ndarray) -> np.ndarray:
        mask = _mask(mask)
        allowed = np.flatnonzero(mask)
        rng = np.random.default_rng([self.seed, self.n_updates])
        draws = rng.beta(self.alpha[allowed], self.beta[allowed], size=(self.n_samples, len(allowed)))
        wins = np.bincount(draws.argmax(axis=1), minlength=len(allowed))
        probs = np.zeros(len(mask))
        probs[allowed] = wins / self.n_samples
        return probs

    def predict(self, context_vec: np.ndarray, mask: np.ndarray) -> int:
        """The best posterior mean α / (α + β) among the allowed actions."""
        return masked_argmax(self.alpha / (self.alpha + self.beta), _mask(mask))


class LinUCBPolicy:
    """Disjoint LinUCB (Li et al. 2010, Algorithm 1): a ridge regression per action plus an upper bound.

    score_a(x) = θ_aᵀx + α·√(xᵀA_a⁻¹x), A_a = λI + Σ xxᵀ, θ_a = A_a⁻¹ b_a. The best allowed score is played;
    exact ties (as at the start, when every A_a = λI) are split uniformly, so the reported probability is
    1/|ties|. α trades exploration for exploitation; Li et al. tune it on logged data, 1.0 is a common
    start for rewards in [0, 1]. A⁻¹ is kept directly and updated with Sherman-Morrison (O(d²) per update).
    """

    name = "linucb"

    def __init__(self, n_actions: int, dim: int, alpha: float = 1.0, *, l2: float = 1.0,
                 fit_intercept: bool = True) -> None:
        if alpha < 0 or l2 <= 0:
            raise InputError(f"alpha must be >= 0 and l2 > 0, got {alpha} and {l2}", field="alpha")
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.dim = dim + int(fit_intercept)
        self.a_inv = np.repeat(np.eye(self.dim)[None] / l2, n_actions, axis=0)  # (K, d, d)
        self.b = np.zeros((n_actions, self.dim))  # (K, d)

    def _features(self, context_vec: np.ndarray) -> np.ndarray:
        x = np.asarray(context_vec, dtype=np.float64).ravel()
        return np.append(x, 1.0) if self.fit_intercept else x

    def estimates(self, context_vec: np.ndarray) -> np.ndarray:
        """The estimated reward θ_aᵀx of every action, without the exploration bonus."""
        return np.einsum("kij,kj->ki", self.a_inv, self.b) @ self._features(context_vec)

    def scores(self, context_vec: np.ndarray) -> np.ndarray:
        """The upper confidence bound of every action."""
        x = self._features(context_vec)
        theta = np.einsum("kij,kj->ki", self.a_inv, self.b)
        width = np.sqrt(np.maximum(np.einsum("i,kij,j->k", x, self.a_inv, x), 0.0))
        return theta @ x + self.alpha * width

    def act(self, context_vec: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[int, float]:
        return sample_action(self.probabilities(context_vec, mask), rng)

    def update(self, context_vec: np.ndarray, action: int, reward: float) -> None:
        x = self._features(context_vec)
        a_inv_x = self.a_inv[action] @ x
        self.a_inv[action] -= np.outer(a_inv_x, a_inv_x) / (1.0 + x @ a_inv_x)
        self.b[action] += reward * x

    def probabilities(self, context_vec: np.ndarray, mask: np.ndarray) -> np.ndarray:
        # A relative tolerance of 1e-12 only absorbs rounding: ties are real ties, not near-misses.
        scores = self.scores(context_vec)
        return _best(scores, _mask(mask), tolerance=1e-12 * max(1.0, float(np.max(np.abs(scores)))))

    def predict(self, context_vec: np.ndarray, mask: np.ndarray) -> int:
        """The best estimated reward θ_aᵀx among the allowed actions (no exploration bonus)."""
        return masked_argmax(self.estimates(context_vec), _mask(mask))


class FixedPolicy:
    """Always ``action`` (a fixed variant); on a page where it is masked, the ``fallback`` (the control)."""

    def __init__(self, action: int, fallback: int = 0) -> None:
        self.action = action
        self.fallback = fallback
        self.name = f"fixed-{action}"

    def act(self, context_vec: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[int, float]:
        probs = self.probabilities(context_vec, mask)
        action = int(np.argmax(probs))
        return action, 1.0

    def update(self, context_vec: np.ndarray, action: int, reward: float) -> None:
        pass

    def probabilities(self, context_vec: np.ndarray, mask: np.ndarray) -> np.ndarray:
        mask = _mask(mask)
        chosen = self.action if self.action < len(mask) and mask[self.action] else self.fallback
        if not mask[chosen]:
            raise InputError(f"neither action {self.action} nor fallback {self.fallback} is allowed",
                             field="mask", fix="allow the fallback (the control) on every page")
        probs = np.zeros(len(mask))
        probs[chosen] = 1.0
        return probs

    def predict(self, context_vec: np.ndarray, mask: np.ndarray) -> int:
        return masked_argmax(self.probabilities(context_vec, mask), mask)


class DQNPolicy:
    """A :class:`DQNAgent` behind the policy interface.

    ``greedy=True`` (the default, for evaluation and as an OPE target) plays the best allowed Q-value with
    probability 1; ``greedy=False`` plays the agent's current ε-greedy distribution. ``learn=True`` feeds
    each reward back as a one-step (terminal) transition — the bandit view; multi-step training goes
    through ``DQNAgent.observe`` with real next states.
    """

    name = "dqn"

    def __init__(self, agent: DQNAgent, *, greedy: bool = True, learn: bool = False) -> None:
        self.agent = agent
        self.greedy = greedy
        self.learn = learn

    def act(self, context_vec: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[int, float]:
        return sample_action(self.probabilities(context_vec, mask), rng)

    def update(self, context_vec: np.ndarray, action: int, reward: float) -> None:
        if self.learn:
            self.agent.observe(context_vec, action, reward, context_vec, True, None)

    def probabilities(self, context_vec: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.agent.action_probabilities(context_vec, mask, greedy=self.greedy)

    def predict(self, context_vec: np.ndarray, mask: np.ndarray) -> int:
        """The best allowed Q-value, whatever ``greedy`` says (it shapes only ``act`` and ``probabilities``)."""
        return self.agent.predict(context_vec, mask)


BASELINES: tuple[str, ...] = ("uniform", "egreedy", "thompson", "linucb")


def make_baseline(name: str, n_actions: int, dim: int, *, reward_range: tuple[float, float] = (0.0, 1.0),
                  seed: int = 0) -> Policy:
    """A baseline by its ``uiab train --policy`` name, with its default parameters."""
    if name == "uniform":
        return UniformPolicy()
    if name == "egreedy":
        return EpsilonGreedyPolicy(n_actions)
    if name == "thompson":
        return ThompsonPolicy(n_actions, reward_range, seed=seed)
    if name == "linucb":
        return LinUCBPolicy(n_actions, dim)
    raise InputError(f"unknown policy {name!r}", field="--policy", fix=f"use one of {', '.join(BASELINES)}")
