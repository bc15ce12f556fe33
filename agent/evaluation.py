"""Evaluation without learning: fixed policies on given visitors, per-device means, the oracle and regret.

``evaluate_sessions`` replays a *fixed* decision rule on given visitor seeds; the same seeds for every policy
make a paired comparison (every policy meets the same visitors), which removes the visitor-to-visitor variance
from the differences. A learner's final rule is ``greedy_fn(learner)``: the policy answers for itself
(``predict``), the evaluation never reads its internals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from agent.context import Context, StateEncoder
from agent.dqn import DQNAgent
from agent.env import DEFAULT_MAX_PAGE_VIEWS
from agent.kernel import InputError
from agent.policies import Policy, sample_action
from agent.reward import RewardWeights, reward_parts
from agent.runner import PageViewState, SessionRunner, page_mask
from agent.visitors import POLICY_STREAM

__all__ = [
    "Learner",
    "PolicyFn",
    "EvalSession",
    "FixedPerDevice",
    "greedy_fn",
    "sampling_fn",
    "fixed_fn",
    "evaluate_sessions",
    "evaluate_policy",
    "per_device_means",
    "best_fixed_per_device",
    "cumulative_regret",
]

Learner = DQNAgent | Policy
# A fixed decision rule for evaluation: (state vector, boolean mask, observable context) -> action.
PolicyFn = Callable[[np.ndarray, np.ndarray, Context], int]


def greedy_fn(learner: Learner) -> PolicyFn:
    """The learner's final greedy decision rule, its ``predict``: ties go to the lowest index (the control).

    DQN: the best allowed Q-value; LinUCB: the best θ_aᵀx; Thompson: the best posterior mean; ε-greedy: the best
    running mean among the actions it tried; fixed policies: their action. For the uniform split that is the
    control: evaluate a split with :func:`sampling_fn` instead.
    """
    return lambda state, mask, context: learner.predict(state, mask)


def sampling_fn(policy: Policy, seed: int) -> PolicyFn:
    """Draw each action from ``policy.probabilities`` with a generator seeded by ``seed`` (e.g. a split)."""
    rng = np.random.default_rng([seed, POLICY_STREAM])
    return lambda state, mask, context: sample_action(policy.probabilities(state, mask), rng)[0]


def fixed_fn(action: int) -> PolicyFn:
    """Always ``action`` where it is allowed, else the control (as :class:`agent.policies.FixedPolicy`)."""
    return lambda state, mask, context: action if mask[action] else 0


@dataclass(frozen=True)
class EvalSession:
    """One evaluated session: which visitor, what it was, what it earned."""

    seed: int
    device_class: str
    reward: float
    converted: bool
    actions: tuple[int, ...]


def evaluate_sessions(runner: SessionRunner, encoder: StateEncoder, policy_fn: PolicyFn, seeds: Sequence[int],
                      *, weights: RewardWeights | None = None,
                      max_page_views: int = DEFAULT_MAX_PAGE_VIEWS) -> list[EvalSession]:
    """Play ``policy_fn`` on the visitors ``seeds``, without learning; one :class:`EvalSession` per seed."""
    torch.set_num_threads(1)  # see agent/training.py
    weights = weights or RewardWeights()
    out = []
    for seed in seeds:
        view: PageViewState | None = runner.start(int(seed))
        assert view is not None
        device = view.context.device_class
        reward, converted = 0.0, False
        actions: list[int] = []
        while view is not None and len(actions) < max_page_views:
            state, mask = encoder.encode(view.context), page_mask(runner, view)
            action = int(policy_fn(state, mask, view.context))
            if not mask[action]:
                raise InputError(f"policy chose action {action}, masked on {view.context.page}", field="action",
                                 fix="choose among the actions the mask allows")
            stepped = runner.step(action)
            reward += reward_parts(stepped.outcome, weights).total
            converted = converted or bool(stepped.outcome["goal_reached"])
            actions.append(action)
            view = stepped.next_view
        out.append(EvalSession(int(seed), device, reward, converted, tuple(actions)))
    return out


def evaluate_policy(runner: SessionRunner, encoder: StateEncoder, policy_fn: PolicyFn, seeds: Sequence[int],
                    *, weights: RewardWeights | None = None,
                    max_page_views: int = DEFAULT_MAX_PAGE_VIEWS) -> list[float]:
    """Session rewards of ``policy_fn`` on the visitors ``seeds`` (pass the same seeds to pair policies)."""
    sessions = evaluate_sessions(runner, encoder, policy_fn, seeds, weights=weights, max_page_views=max_page_views)
    return [s.reward for s in sessions]


def per_device_means(sessions: Sequence[EvalSession]) -> dict[str, float]:
    """Mean session reward per device class."""
    by_device: dict[str, list[float]] = {}
    for s in sessions:
        by_device.setdefault(s.device_class, []).append(s.reward)
    return {device: float(np.mean(r)) for device, r in sorted(by_device.items())}


@dataclass(frozen=True)
class FixedPerDevice:
    """The best single action per device class, chosen on selection visitors (the benchmark's oracle)."""

    choice: dict[str, int]  # device class -> action
    values: dict[str, dict[int, float]]  # device class -> action -> mean session reward on the selection seeds
    counts: dict[str, int]  # device class -> selection sessions

    def policy_fn(self) -> PolicyFn:
        """Show each device class its action where allowed, else the control; unseen devices get the control."""
        choice = dict(self.choice)

        def fn(state: np.ndarray, mask: np.ndarray, context: Context) -> int:
            action = choice.get(context.device_class, 0)
            return action if mask[action] else 0
        return fn


def best_fixed_per_device(runner: SessionRunner, encoder: StateEncoder, seeds: Sequence[int], *,
                          actions: Sequence[int] | None = None, weights: RewardWeights | None = None,
                          max_page_views: int = DEFAULT_MAX_PAGE_VIEWS,
                          on_action: Callable[[int, list[EvalSession]], None] | None = None) -> FixedPerDevice:
    """For each device class, the fixed action with the best mean session reward on ``seeds``.

    Every candidate action (default: the whole catalog) is played as a fixed policy on the same visitors, so
    the choice is a paired comparison; it costs ``len(actions) * len(seeds)`` sessions. Choose on seeds of
    their own (``stream=ORACLE_STREAM``) and evaluate the result on fresh ones, or the winner's curse flatters
    the oracle. Ties go to the lowest action (the control first).
    """
    candidates = list(range(runner.n_actions)) if actions is None else sorted(set(actions) | {0})
    values: dict[str, dict[int, float]] = {}
    counts: dict[str, int] = {}
    for action in candidates:
        sessions = evaluate_sessions(runner, encoder, fixed_fn(action), seeds, weights=weights,
                                     max_page_views=max_page_views)
        for device, mean in per_device_means(sessions).items():
            values.setdefault(device, {})[action] = mean
        if action == candidates[0]:
            for s in sessions:
                counts[s.device_class] = counts.get(s.device_class, 0) + 1
        if on_action is not None:
            on_action(action, sessions)
    choice = {device: max(per_action, key=lambda a: (per_action[a], -a)) for device, per_action in values.items()}
    return FixedPerDevice(choice=choice, values=values, counts=counts)


def cumulative_regret(session_rewards: Sequence[float], session_devices: Sequence[str],
                      oracle_values: Mapping[str, float]) -> np.ndarray:
    """Σ (oracle's expected session reward for the visitor's device − reward earned), session by session.

    With the oracle's values estimated on evaluation visitors this is an estimate of the pseudo-regret; it
    can dip below zero when a policy beats the best fixed action per device (e.g. by combining patches).
    """
    if len(session_rewards) != len(session_devices):
        raise InputError(f"{len(session_rewards)} session rewards but {len(session_devices)} devices",
                         field="session_devices", fix="pass one device per session reward")
    missing = sorted(set(session_devices) - set(oracle_values))
    if missing:
        raise InputError(f"no oracle value for device classes {missing}", field="oracle_values")
    gaps = [oracle_values[d] - r for r, d in zip(session_rewards, session_devices, strict=True)]
    return np.cumsum(np.asarray(gaps, dtype=np.float64))
