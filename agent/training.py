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
progress bar and a database need. Evaluation (``evaluate_policy``) replays a *fixed* policy, without learning,
on given visitor seeds: the same seeds for every policy make a paired comparison (every policy meets the same
visitors), which removes the visitor-to-visitor variance from the differences.

Seeds are explicit and separate: visitor seeds come from ``visitor_seeds(seed, …, stream=…)`` — training,
evaluation and oracle selection draw from different streams, so no policy is evaluated on the visitors it
trained on — the DQN owns its own generators (agent/dqn.py), and a bandit draws from a generator seeded by
``(seed, POLICY_STREAM, first_session)``. Same config and seed, same trajectory.

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

from agent.context import Context, StateEncoder
from agent.decision_log import DecisionRecord
from agent.dqn import DQNAgent, DQNConfig, masked_argmax
from agent.env import DEFAULT_MAX_PAGE_VIEWS
from agent.monitor import Alert, MonitorThresholds, PerformanceMonitor, SessionStats
from agent.policies import (
    BASELINES,
    DQNPolicy,
    EpsilonGreedyPolicy,
    LinUCBPolicy,
    Policy,
    ThompsonPolicy,
    make_baseline,
    sample_action,
)
from agent.reward import RewardWeights, reward_parts
from agent.runner import PageViewState, SessionRunner

__all__ = [
    "POLICIES",
    "TRAIN_STREAM",
    "EVAL_STREAM",
    "ORACLE_STREAM",
    "POLICY_STREAM",
    "TrainConfig",
    "TrainResult",
    "SessionCallback",
    "PolicyFn",
    "EvalSession",
    "FixedPerDevice",
    "visitor_seeds",
    "make_learner",
    "train",
    "greedy_fn",
    "sampling_fn",
    "fixed_fn",
    "evaluate_sessions",
    "evaluate_policy",
    "per_device_means",
    "best_fixed_per_device",
    "cumulative_regret",
    "learning_curve_png",
]

POLICIES: tuple[str, ...] = ("dqn", *BASELINES)  # the names ``uiab train --policy`` accepts
# Independent seed streams: training visitors, evaluation visitors, oracle-selection visitors, bandit draws.
TRAIN_STREAM, EVAL_STREAM, ORACLE_STREAM, POLICY_STREAM = 0, 1, 2, 3

Learner = DQNAgent | Policy
# (session index, session reward, running mean reward, this session's losses, its new alerts, its records)
SessionCallback = Callable[[int, float, float, list[float], list[Alert], list[DecisionRecord]], None]
# A fixed decision rule for evaluation: (state vector, boolean mask, observable context) -> action.
PolicyFn = Callable[[np.ndarray, np.ndarray, Context], int]


def visitor_seeds(seed: int, count: int, *, start: int = 0, stream: int = TRAIN_STREAM) -> list[int]:
    """Visitor seeds ``start .. start+count-1`` of one stream, each a pure function of (seed, stream, index).

    A resumed run (``start`` = sessions already done) meets the visitors it would have met uninterrupted.
    Seeds lie in [0, 2^31): every runner can take them.
    """
    if seed < 0 or stream < 0 or start < 0 or count < 0:
        raise ValueError("seed, stream, start and count must be >= 0")
    return [int(np.random.SeedSequence([seed, stream, i]).generate_state(1)[0] >> 1)
            for i in range(start, start + count)]


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
            raise ValueError(f"unknown policy {self.policy!r}; use one of {', '.join(POLICIES)}")
        if self.sessions < 0 or self.seed < 0 or self.first_session < 0:
            raise ValueError("sessions, seed and first_session must be >= 0")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        if self.max_page_views < 1 or self.running_window < 1:
            raise ValueError("max_page_views and running_window must be >= 1")

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


def _mask(runner: SessionRunner, view: PageViewState) -> np.ndarray:
    mask = np.array(runner.mask(view), dtype=bool)  # a copy: the runner's array is not ours to change
    if mask.shape != (runner.n_actions,):
        raise ValueError(f"runner.mask gave shape {mask.shape}, expected ({runner.n_actions},)")
    mask[0] = True  # the control is always allowed: there is nothing to apply
    return mask


def _check_sizes(runner: SessionRunner, encoder: StateEncoder, catalog_size: int) -> None:
    if not runner.n_actions == encoder.n_actions == catalog_size:
        raise ValueError(f"action counts differ: runner {runner.n_actions}, encoder {encoder.n_actions}, "
                         f"catalog {catalog_size}")


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
    bandit: Policy | None = None if dqn is not None else learner  # type: ignore[assignment]
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
            state, mask = encoder.encode(view.context), _mask(runner, view)
            device = view.context.device_class
            records: list[DecisionRecord] = []
            outcomes: list[Mapping[str, Any]] = []
            losses: list[float] = []
            session_reward = 0.0
            for step in itertools.count():
                # 1-2. act under the page's mask; keep the chosen action's probability (the propensity)
                if dqn is not None:
                    action, probability = dqn.act(state, mask)
                else:
                    assert bandit is not None
                    action, probability = bandit.act(state, mask, policy_rng)

                # 3. the page view plays out; the reward comes from its measurements only
                stepped = runner.step(action)
                parts = reward_parts(stepped.outcome, config.weights)
                terminal = stepped.next_view is None  # the session ended: nothing to bootstrap
                truncated = not terminal and step + 1 >= config.max_page_views  # cut: bootstrap from s'
                if stepped.next_view is not None:
                    next_state, next_mask = encoder.encode(stepped.next_view.context), _mask(runner, stepped.next_view)
                else:
                    next_state, next_mask = state, None

                # 4. learn from the real transition (DQN) or the immediate reward (bandits)
                if dqn is not None:
                    loss = dqn.observe(state, action, parts.total, next_state, terminal, next_mask)
                    if loss is not None:
                        losses.append(loss)
                else:
                    assert bandit is not None
                    bandit.update(state, action, parts.total)

                # 5. log the decision with its propensity
                records.append(DecisionRecord(
                    event_id=f"{session}-{step}", context=view.context.to_dict(),
                    context_vec=[float(x) for x in state], actions_offered=np.flatnonzero(mask).tolist(),
                    action=int(action), probability=float(probability), reward_parts=parts.to_dict(),
                    reward=float(parts.total), policy=policy_name))
                outcomes.append(stepped.outcome)
                session_reward += parts.total
                if stepped.next_view is None or truncated:
                    break
                view, state, mask = stepped.next_view, next_state, next_mask  # type: ignore[assignment]

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


# -- evaluation: fixed policies on given visitors, no learning ------------------------------------------------

def greedy_fn(learner: Learner) -> PolicyFn:
    """The learner's final greedy decision rule, ties to the lowest index (the control first).

    - DQN: the best allowed Q-value;
    - LinUCB: the best estimated reward θ_aᵀx, without the exploration bonus;
    - Thompson sampling: the best posterior mean α / (α + β);
    - ε-greedy: the best running mean among the actions it tried (the control if it tried none allowed);
    - anything else (fixed policies): the most probable action. For the uniform split that is the control:
      evaluate a split with :func:`sampling_fn` instead.
    """
    if isinstance(learner, DQNPolicy):
        learner = learner.agent
    if isinstance(learner, DQNAgent):
        agent = learner
        return lambda state, mask, context: agent.act(state, mask, greedy=True)[0]
    if isinstance(learner, LinUCBPolicy):
        linucb = learner

        def linucb_fn(state: np.ndarray, mask: np.ndarray, context: Context) -> int:
            x = np.asarray(state, dtype=np.float64).ravel()
            x = np.append(x, 1.0) if linucb.fit_intercept else x  # as LinUCBPolicy's features
            theta = np.einsum("kij,kj->ki", linucb.a_inv, linucb.b)
            return masked_argmax(theta @ x, mask)
        return linucb_fn
    if isinstance(learner, ThompsonPolicy):
        means = learner.alpha / (learner.alpha + learner.beta)
        return lambda state, mask, context: masked_argmax(means, mask)
    if isinstance(learner, EpsilonGreedyPolicy):
        egreedy = learner

        def egreedy_fn(state: np.ndarray, mask: np.ndarray, context: Context) -> int:
            tried = mask & (egreedy.counts > 0)
            if not tried.any():
                return 0
            return masked_argmax(egreedy.sums / np.maximum(egreedy.counts, 1), tried)
        return egreedy_fn
    policy = learner
    return lambda state, mask, context: masked_argmax(policy.probabilities(state, mask), mask)


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
    torch.set_num_threads(1)
    weights = weights or RewardWeights()
    out = []
    for seed in seeds:
        view: PageViewState | None = runner.start(int(seed))
        assert view is not None
        device = view.context.device_class
        reward, converted, actions = 0.0, False, []
        while view is not None and len(actions) < max_page_views:
            state, mask = encoder.encode(view.context), _mask(runner, view)
            action = int(policy_fn(state, mask, view.context))
            if not mask[action]:
                raise ValueError(f"policy chose action {action}, masked on {view.context.page}")
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
        raise ValueError("one device per session reward")
    missing = sorted(set(session_devices) - set(oracle_values))
    if missing:
        raise ValueError(f"no oracle value for device classes {missing}")
    gaps = [oracle_values[d] - r for r, d in zip(session_rewards, session_devices, strict=True)]
    return np.cumsum(np.asarray(gaps, dtype=np.float64))


def learning_curve_png(rewards: Sequence[float], path: str | Path, title: str, *, window: int | None = None) -> Path:
    """Session rewards (faint) and their moving average (bold) as a PNG; returns the path.

    The moving average spans ``window`` sessions (default: a tenth of the run, between 1 and 100). Uses the Agg
    canvas directly, not pyplot: no global backend switch, no display needed, safe in threads.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    y = np.asarray(rewards, dtype=np.float64)
    window = window or max(1, min(100, len(y) // 10))
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = np.arange(1, len(y) + 1)
    ax.plot(x, y, color="tab:blue", alpha=0.25, linewidth=0.8, label="session reward")
    if len(y) >= window:
        moving = np.convolve(y, np.ones(window) / window, mode="valid")
        ax.plot(x[window - 1:], moving, color="tab:blue", linewidth=2.0, label=f"moving average ({window})")
    ax.set_xlabel("session")
    ax.set_ylabel("reward")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(y):
        ax.legend(loc="lower right")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
