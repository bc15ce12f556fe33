"""The training loop over a :class:`agent.runner.SessionRunner`, readable top to bottom (CleanRL's style).

One session is one visitor; at each page view the loop

1. encodes the observable context (agent/context.py) and takes the runner's action mask;
2. lets the policy act under the mask, keeping the probability of the chosen action (the propensity);
3. lets the page view play out in the runner (a real browser, or a synthetic site) and computes the measured
   reward parts (agent/reward.py);
4. learns: the DQN stores the real transition (s, a, r, s', done, mask(s')) and trains on its own cadence
   (agent/dqn.py); a bandit baseline updates on (context, action, reward) — bandits are myopic by design;
5. logs a :class:`DecisionRecord` (event id ``f"{session}-{step}"``) for off-policy evaluation (agent/ope.py).

After each session the :class:`PerformanceMonitor` records it, and ``on_session`` gets the numbers a CLI
progress bar and a database need. Evaluating the trained policy — paired, without learning — and the oracle
live in agent/evaluation.py (their names are importable from here too).

Seeds are explicit and separate: visitor seeds come from ``visitor_seeds(seed, …, stream=…)``
(agent/visitors.py), the DQN owns its own generators (agent/dqn.py), and a bandit draws from a generator
seeded by ``(seed, POLICY_STREAM, first_session)``. Same config and seed, same trajectory.

Threads: ``torch.set_num_threads(1)``. Batches of 32 through a 256-128-64 net gain nothing from intra-op
parallelism, and on a 2-core machine shared with a browser, OpenMP threads contending for cores make each
gradient step many times slower.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from loguru import logger

from agent.context import StateEncoder
from agent.decision_log import DecisionRecord
from agent.dqn import DQNAgent, DQNConfig
from agent.env import DEFAULT_MAX_PAGE_VIEWS
from agent.evaluation import (
    EvalSession,
    FixedPerDevice,
    Learner,
    PolicyFn,
    best_fixed_per_device,
    cumulative_regret,
    evaluate_policy,
    evaluate_sessions,
    fixed_fn,
    greedy_fn,
    per_device_means,
    sampling_fn,
)
from agent.kernel import InputError
from agent.monitor import Alert, MonitorThresholds, PerformanceMonitor, SessionStats
from agent.plots import learning_curve
from agent.policies import BASELINES, DQNPolicy, Policy, make_baseline
from agent.reward import RewardWeights, reward_parts
from agent.runner import SessionRunner, page_mask
from agent.visitors import EVAL_STREAM, ORACLE_STREAM, POLICY_STREAM, TRAIN_STREAM, visitor_seeds

__all__ = [
    "POLICIES",
    "TrainConfig",
    "TrainResult",
    "SessionCallback",
    "make_learner",
    "train",
    "learning_curve_png",
    # re-exported from agent.visitors and agent.evaluation, where they live
    "TRAIN_STREAM",
    "EVAL_STREAM",
    "ORACLE_STREAM",
    "POLICY_STREAM",
    "visitor_seeds",
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

POLICIES: tuple[str, ...] = ("dqn", *BASELINES)  # the names ``uiab train --policy`` accepts

# (session index, session reward, running mean reward, this session's losses, its new alerts, its records)
SessionCallback = Callable[[int, float, float, list[float], list[Alert], list[DecisionRecord]], None]


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs, besides the runner and the encoder."""

    sessions: int = 1_000
    policy: str = "dqn"  # one of POLICIES
    seed: int = 0
    gamma: float = 0.95  # from experiment.toml; the seed's default
    weights: RewardWeights = field(default_factory=RewardWeights)  # from experiment.toml; seed 0.3/0.4/0.3
    max_page_views: int = DEFAULT_MAX_PAGE_VIEWS  # a session is cut (not terminal) after this many
    first_session: int = 0  # index of the first session: a resumed run continues numbering and visitors
    dqn: DQNConfig | None = None  # the learner's hyperparameters; its seed and gamma are overridden by these
    thresholds: MonitorThresholds = field(default_factory=MonitorThresholds)
    running_window: int = 100  # sessions in the running mean handed to ``on_session``
    keep_records: bool = True  # keep every DecisionRecord in the result (on_session gets them regardless)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise InputError(f"unknown policy {self.policy!r}", field="--policy",
                             fix=f"use one of {', '.join(POLICIES)}")
        for name in ("sessions", "seed", "first_session"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)}", field=name)
        if not 0.0 <= self.gamma <= 1.0:
            raise InputError(f"gamma must be in [0, 1], got {self.gamma}", field="gamma")
        for name in ("max_page_views", "running_window"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}", field=name)

    def dqn_config(self) -> DQNConfig:
        """The DQN's hyperparameters with this run's seed and gamma."""
        return replace(self.dqn or DQNConfig(), seed=self.seed, gamma=self.gamma)


@dataclass
class TrainResult:
    """What a run produced, per session and per decision, and the trained learner."""

    policy_name: str
    learner: Learner  # the DQNAgent, or the baseline policy, in its trained state
    session_rewards: list[float] = field(default_factory=list)  # undiscounted sum over the session's page views
    conversions: list[bool] = field(default_factory=list)
    session_devices: list[str] = field(default_factory=list)  # device class of each session's visitor
    session_page_views: list[int] = field(default_factory=list)
    records: list[DecisionRecord] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)  # one per DQN training round, in order
    alerts: list[Alert] = field(default_factory=list)
    monitor: PerformanceMonitor = field(default_factory=PerformanceMonitor)
    interrupted: bool = False  # Ctrl-C: the sessions completed before it are all here

    @property
    def agent(self) -> DQNAgent | None:
        """The DQN agent, when the run trained one (for checkpoints)."""
        return self.learner if isinstance(self.learner, DQNAgent) else None

    @property
    def policy(self) -> Policy:
        """The trained learner behind the policy interface; a DQN as its greedy policy (an OPE target)."""
        return DQNPolicy(self.learner, greedy=True) if isinstance(self.learner, DQNAgent) else self.learner

    @property
    def sessions(self) -> int:
        return len(self.session_rewards)

    def mean_reward_last(self, fraction: float = 0.1) -> float | None:
        """Mean session reward over the last ``fraction`` of sessions (at least one); None without sessions."""
        if not self.session_rewards:
            return None
        n = max(1, round(len(self.session_rewards) * fraction))
        return float(np.mean(self.session_rewards[-n:]))

    @property
    def conversion_rate(self) -> float | None:
        return float(np.mean(self.conversions)) if self.conversions else None

    def summary(self) -> dict[str, Any]:
        """The numbers ``uiab train --json`` reports (the CLI adds run_id and checkpoint)."""
        return {"sessions": self.sessions, "policy": self.policy_name,
                "mean_reward_last_10pct": self.mean_reward_last(0.1), "conversion_rate": self.conversion_rate,
                "alerts": len(self.alerts), "interrupted": self.interrupted}


def make_learner(config: TrainConfig, state_dim: int, n_actions: int) -> Learner:
    """The learner ``config.policy`` names, with its default parameters and the run's seed."""
    if config.policy == "dqn":
        return DQNAgent(state_dim, n_actions, config.dqn_config())
    # Thompson sampling scales rewards into [0, 1]: the total's bounds under these weights (agent/reward.py).
    return make_baseline(config.policy, n_actions, state_dim, reward_range=config.weights.bounds(),
                         seed=config.seed)


def _check_sizes(runner: SessionRunner, encoder: StateEncoder, catalog_size: int) -> None:
    if not runner.n_actions == encoder.n_actions == catalog_size:
        raise InputError(f"action counts differ: runner {runner.n_actions}, encoder {encoder.n_actions}, "
                         f"catalog {catalog_size}", fix="build the runner and the encoder from one catalog")


def train(runner: SessionRunner, encoder: StateEncoder, catalog_size: int, config: TrainConfig, *,
          agent: Learner | None = None, on_session: SessionCallback | None = None) -> TrainResult:
    """Run ``config.sessions`` learning sessions; return rewards, decisions, losses, alerts and the learner.

    ``agent``: a learner to continue (a DQNAgent loaded from a checkpoint, or a baseline policy); when given
    it is used as is — its own seed and gamma — and ``config.policy`` only names what to build otherwise.
    Ctrl-C stops the run between page views: the result holds every *completed* session
    (``interrupted=True``), and the partial one is dropped from the log (the DQN keeps what it observed).
    """
    torch.set_num_threads(1)
    _check_sizes(runner, encoder, catalog_size)
    learner = agent if agent is not None else make_learner(config, encoder.dim, catalog_size)
    dqn = learner if isinstance(learner, DQNAgent) else None
    bandit = None if isinstance(learner, DQNAgent) else learner
    if dqn is not None and dqn.config.gamma != config.gamma:
        logger.warning("continuing a DQN with gamma {} (its checkpoint), not the config's {}", dqn.config.gamma,
                       config.gamma)
    policy_name = "dqn" if dqn is not None else str(getattr(learner, "name", config.policy))
    policy_rng = np.random.default_rng([config.seed, POLICY_STREAM, config.first_session])
    monitor = PerformanceMonitor(config.thresholds)
    result = TrainResult(policy_name=policy_name, learner=learner, monitor=monitor)
    recent: deque[float] = deque(maxlen=config.running_window)
    seeds = visitor_seeds(config.seed, config.sessions, start=config.first_session)

    try:
        for session, visitor in zip(itertools.count(config.first_session), seeds, strict=False):
            view = runner.start(visitor)
            state, mask = encoder.encode(view.context), page_mask(runner, view)
            device = view.context.device_class
            records: list[DecisionRecord] = []
            outcomes: list[Mapping[str, Any]] = []
            losses: list[float] = []
            session_reward = 0.0
            for step in itertools.count():
                # ALGO LOGIC: act under the page's mask; keep the chosen action's probability (the propensity)
                if dqn is not None:
                    action, probability = dqn.act(state, mask)
                else:
                    assert bandit is not None
                    action, probability = bandit.act(state, mask, policy_rng)

                # ALGO LOGIC: the page view plays out; the reward comes from its measurements only
                stepped = runner.step(action)
                parts = reward_parts(stepped.outcome, config.weights)
                next_view = stepped.next_view
                terminal = next_view is None  # the session ended: nothing to bootstrap
                truncated = not terminal and step + 1 >= config.max_page_views  # cut: bootstrap from s'
                next_mask: np.ndarray | None = None
                next_state = state
                if next_view is not None:
                    next_state, next_mask = encoder.encode(next_view.context), page_mask(runner, next_view)

                # ALGO LOGIC: learn from the real transition (DQN) or the immediate reward (bandits)
                if dqn is not None:
                    loss = dqn.observe(state, action, parts.total, next_state, terminal, next_mask)
                    if loss is not None:
                        losses.append(loss)
                else:
                    assert bandit is not None
                    bandit.update(state, action, parts.total)

                # log the decision with its propensity
                records.append(DecisionRecord(
                    event_id=f"{session}-{step}", context=view.context.to_dict(),
                    context_vec=[float(x) for x in state], actions_offered=np.flatnonzero(mask).tolist(),
                    action=int(action), probability=float(probability), reward_parts=parts.to_dict(),
                    reward=float(parts.total), policy=policy_name))
                outcomes.append(stepped.outcome)
                session_reward += parts.total
                if next_view is None or next_mask is None or truncated:
                    break
                view, state, mask = next_view, next_state, next_mask

            # the session is complete: keep it, monitor it, report it
            converted = any(bool(o["goal_reached"]) for o in outcomes)
            result.session_rewards.append(session_reward)
            result.conversions.append(converted)
            result.session_devices.append(device)
            result.session_page_views.append(len(records))
            result.losses.extend(losses)
            if config.keep_records:
                result.records.extend(records)
            alerts = monitor.record(SessionStats.from_outcomes(session_reward, outcomes, losses), session=session)
            result.alerts.extend(alerts)
            recent.append(session_reward)
            if on_session is not None:
                on_session(session, session_reward, float(np.mean(recent)), losses, alerts, records)
    except KeyboardInterrupt:
        result.interrupted = True
        logger.warning("training interrupted after {} complete sessions", result.sessions)
    return result




def learning_curve_png(rewards: Sequence[float], path: str | Path, title: str, *, window: int | None = None,
                       conversions: Sequence[bool] | None = None) -> Path:
    """Session rewards (faint), their moving average (bold) and, given ``conversions``, the moving conversion
    rate, drawn by :func:`agent.plots.learning_curve` and saved as a PNG at ``path``; returns the path.

    The moving average spans ``window`` sessions (default: a tenth of the run, between 1 and 100).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    learning_curve(rewards, conversions, title=title, window=window).savefig(path, format="png")
    return path
