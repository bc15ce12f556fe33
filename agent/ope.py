"""Off-policy evaluation: the value of a target policy estimated from a decision log, with intervals.

Given a log collected by a behaviour policy μ (each record: context x, action a, propensity μ(a|x), reward
r) and a target policy π with probabilities π(·|x), three estimators of V(π) = E_x E_{a~π} [r]:

- IPS (inverse propensity scoring, Horvitz-Thompson): mean of w·r, w = π(a|x)/μ(a|x). Unbiased when μ puts
  mass wherever π does; variance grows with the weights.
- SNIPS (self-normalised IPS; Swaminathan & Joachims, NeurIPS 2015): Σ w·r / Σ w. Slightly biased,
  usually far less variable, and invariant to adding a constant to the reward.
- DR (doubly robust; Dudík, Langford, Li, ICML 2011): mean of Σ_a π(a|x)·r̂(x,a) + w·(r − r̂(x,a)). Unbiased
  if either the propensities or the reward model r̂ are right; lower variance than IPS when r̂ is good.

Intervals are normal approximations on the per-record terms (for SNIPS on its delta-method influence terms,
w·(r − V̂)/mean(w)), with ``alpha`` 0.05 for 95 %; ``ess`` is Kish's effective sample size (Σw)²/Σw², a
warning sign when it is small against ``n``. The log is independent draws, so per-record terms are iid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Protocol

import numpy as np

from agent.decision_log import DecisionRecord
from agent.kernel import InputError

__all__ = [
    "OPEEstimate",
    "LoggedBandit",
    "RewardModel",
    "RidgeRewardModel",
    "TargetPolicy",
    "ips",
    "snips",
    "doubly_robust",
    "evaluate",
    "policy_probabilities",
]


@dataclass(frozen=True)
class OPEEstimate:
    """An estimate of a policy's value with a (1 − alpha) interval."""

    value: float
    low: float
    high: float
    n: int  # records used
    ess: float  # Kish's effective sample size of the importance weights
    stderr: float = math.nan
    method: str = ""

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class LoggedBandit:
    """A decision log as arrays: what the estimators compute on."""

    contexts: np.ndarray  # float64 (n, d)
    actions: np.ndarray  # int64 (n,)
    propensities: np.ndarray  # float64 (n,): μ(a_i | x_i)
    rewards: np.ndarray  # float64 (n,)
    masks: np.ndarray  # bool (n, K): actions offered

    def __post_init__(self) -> None:
        n = len(self.actions)
        if not (len(self.contexts) == len(self.propensities) == len(self.rewards) == len(self.masks) == n):
            raise InputError("every array of a LoggedBandit needs one row per decision")
        if n == 0:
            raise InputError("the log is empty")
        if np.any(self.propensities <= 0) or np.any(self.propensities > 1):
            raise InputError("logged propensities must be in (0, 1]", field="propensities")

    @property
    def n_actions(self) -> int:
        return self.masks.shape[1]

    @classmethod
    def from_records(cls, records: Sequence[DecisionRecord], n_actions: int) -> LoggedBandit:
        unmeasured = [r.event_id for r in records if r.reward is None]
        if unmeasured:
            raise InputError(f"{len(unmeasured)} records have no reward yet (first: {unmeasured[0]})")
        return cls(
            contexts=np.array([r.context_vec for r in records], dtype=np.float64),
            actions=np.array([r.action for r in records], dtype=np.int64),
            propensities=np.array([r.probability for r in records], dtype=np.float64),
            rewards=np.array([r.reward for r in records], dtype=np.float64),
            masks=np.stack([r.mask(n_actions) for r in records]),
        )


class RewardModel(Protocol):
    """r̂(x, a) for every action: ``predict(contexts) -> (n, K)``."""

    def predict(self, contexts: np.ndarray) -> np.ndarray: ...


class RidgeRewardModel:
    """Per-action ridge regression r̂(x, a) = θ_aᵀx + c_a on the logged rewards (intercept not penalised).

    An action with no logged record predicts the log's mean reward. Simple on purpose: DR stays unbiased
    with a wrong model (Dudík et al. 2011); a better model only narrows the interval.
    """

    def __init__(self, n_actions: int, l2: float = 1.0) -> None:
        if l2 < 0:
            raise InputError(f"l2 must be >= 0, got {l2}", field="l2")
        self.n_actions = n_actions
        self.l2 = l2
        self.coef: np.ndarray | None = None  # (K, d + 1), last column the intercept

    def fit(self, log: LoggedBandit) -> RidgeRewardModel:
        n, d = log.contexts.shape
        x = np.hstack([log.contexts, np.ones((n, 1))])
        penalty = self.l2 * np.eye(d + 1)
        penalty[d, d] = 0.0
        fallback = np.zeros(d + 1)
        fallback[d] = float(log.rewards.mean())
        coef = np.tile(fallback, (self.n_actions, 1))
        for a in range(self.n_actions):
            rows = log.actions == a
            if rows.any():
                xa, ra = x[rows], log.rewards[rows]
                coef[a] = np.linalg.lstsq(xa.T @ xa + penalty, xa.T @ ra, rcond=None)[0]
        self.coef = coef
        return self

    def predict(self, contexts: np.ndarray) -> np.ndarray:
        if self.coef is None:
            raise InputError("the reward model is not fitted", fix="call fit(log) first")
        x = np.hstack([np.asarray(contexts, dtype=np.float64), np.ones((len(contexts), 1))])
        return x @ self.coef.T


class TargetPolicy(Protocol):
    """What OPE needs of a target policy; every agent.policies.Policy has it."""

    def probabilities(self, context_vec: np.ndarray, mask: np.ndarray) -> np.ndarray: ...


def policy_probabilities(policy: TargetPolicy, log: LoggedBandit) -> np.ndarray:
    """The target policy's probabilities for every logged context and mask, shape (n, K)."""
    return np.stack([policy.probabilities(x, m) for x, m in zip(log.contexts, log.masks, strict=True)])


def _as_log(records: Sequence[DecisionRecord] | LoggedBandit, n_actions: int | None) -> LoggedBandit:
    if isinstance(records, LoggedBandit):
        return records
    if n_actions is None:
        raise InputError("pass n_actions with a list of records", field="n_actions")
    return LoggedBandit.from_records(records, n_actions)


def _weights(log: LoggedBandit, target_probs: np.ndarray) -> np.ndarray:
    target_probs = np.asarray(target_probs, dtype=np.float64)
    if target_probs.shape != log.masks.shape:
        raise InputError(f"target_probs must have shape {log.masks.shape}, got {target_probs.shape}",
                         field="target_probs")
    if np.any(target_probs < 0) or not np.allclose(target_probs.sum(axis=1), 1.0, atol=1e-6):
        raise InputError("each row of target_probs must be a distribution over actions", field="target_probs")
    if np.any(target_probs[~log.masks] > 1e-9):
        raise InputError("the target policy puts probability on actions that were not offered", field="target_probs")
    return target_probs[np.arange(len(log.actions)), log.actions] / log.propensities


def _kish(weights: np.ndarray) -> float:
    total_sq = float(np.sum(weights ** 2))
    return float(np.sum(weights)) ** 2 / total_sq if total_sq > 0 else 0.0


def _normal(value: float, terms: np.ndarray, alpha: float, weights: np.ndarray, method: str) -> OPEEstimate:
    n = len(terms)
    stderr = float(np.std(terms, ddof=1)) / math.sqrt(n) if n > 1 else math.inf
    z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    return OPEEstimate(value=float(value), low=float(value - z * stderr), high=float(value + z * stderr), n=n,
                       ess=_kish(weights), stderr=stderr, method=method)


def ips(records: Sequence[DecisionRecord] | LoggedBandit, target_probs: np.ndarray, *,
        n_actions: int | None = None, alpha: float = 0.05) -> OPEEstimate:
    """Inverse propensity scoring: mean of π(a|x)/μ(a|x) · r."""
    log = _as_log(records, n_actions)
    w = _weights(log, target_probs)
    terms = w * log.rewards
    return _normal(terms.mean(), terms, alpha, w, "ips")


def snips(records: Sequence[DecisionRecord] | LoggedBandit, target_probs: np.ndarray, *,
          n_actions: int | None = None, alpha: float = 0.05) -> OPEEstimate:
    """Self-normalised IPS (Swaminathan & Joachims 2015): Σ w·r / Σ w, delta-method interval."""
    log = _as_log(records, n_actions)
    w = _weights(log, target_probs)
    if w.sum() == 0:
        raise InputError("the target policy never takes a logged action: SNIPS is undefined")
    value = float(np.sum(w * log.rewards) / np.sum(w))
    influence = w * (log.rewards - value) / w.mean()
    return _normal(value, influence, alpha, w, "snips")


def doubly_robust(records: Sequence[DecisionRecord] | LoggedBandit, target_probs: np.ndarray,
                  reward_model: RewardModel | None = None, *, n_actions: int | None = None,
                  alpha: float = 0.05) -> OPEEstimate:
    """Doubly robust (Dudík et al. 2011): direct method on r̂ plus an IPS correction of its residual.

    Without ``reward_model`` a :class:`RidgeRewardModel` is fitted on the same log.
    """
    log = _as_log(records, n_actions)
    w = _weights(log, target_probs)
    model = reward_model if reward_model is not None else RidgeRewardModel(log.n_actions).fit(log)
    r_hat = np.asarray(model.predict(log.contexts), dtype=np.float64)
    if r_hat.shape != log.masks.shape:
        raise InputError(f"reward_model.predict must return shape {log.masks.shape}, got {r_hat.shape}")
    direct = np.sum(np.asarray(target_probs) * r_hat, axis=1)
    residual = log.rewards - r_hat[np.arange(len(log.actions)), log.actions]
    terms = direct + w * residual
    return _normal(terms.mean(), terms, alpha, w, "dr")


def evaluate(records: Sequence[DecisionRecord] | LoggedBandit, target_probs: np.ndarray, *,
             n_actions: int | None = None, reward_model: RewardModel | None = None,
             alpha: float = 0.05) -> dict[str, OPEEstimate]:
    """IPS, SNIPS and DR side by side."""
    log = _as_log(records, n_actions)
    return {
        "ips": ips(log, target_probs, alpha=alpha),
        "snips": snips(log, target_probs, alpha=alpha),
        "dr": doubly_robust(log, target_probs, reward_model, alpha=alpha),
    }
