"""Learning benchmark: the DQN against the baselines at equal session budgets, on the demo shop.

    .venv/bin/python benchmarks/learning.py [--sessions N] [--eval-seeds E] [--oracle-seeds O] [--seed S]
        [--experiment PATH] [--policies dqn,uniform,thompson,linucb] [--oracle-actions 0,1,...] [--no-sb3]
        [--curves DIR] [--synthetic]

Default budget, on the demo shop (site_fixtures/shop/experiment.toml, real Chromium, real personas via
``harness.run.agent_runner.BrowserSessionRunner``): 300 training sessions per policy, 100 paired evaluation visitors,
and the oracle chosen on 20 visitors per catalog action (51 actions: 1,020 sessions) — about 3,000 sessions in
all. ``--synthetic`` runs the same benchmark on ``tests/synthetic_shop.py``'s runner (no browser; default 1,000
training sessions, 500 evaluation and 200 oracle visitors), where the best action per device and page is known.

Method.

1. Oracle: every catalog action is played as a fixed policy (the control where its slot is absent) on the same
   oracle-selection visitors; per device class the best one is kept. That is "the best fixed-per-device
   policy" the issue names. It is chosen on visitors of its own, so the winner's curse does not flatter it.
2. Training: each policy learns for ``--sessions`` sessions on the same training visitors (visitor seeds from
   ``agent.visitors.visitor_seeds``): the DQN (PyTorch, ``agent.dqn``), the uniform split, Beta-Bernoulli
   Thompson sampling and LinUCB (``agent.policies``); Stable-Baselines3's DQN on ``agent.env.UIABEnv`` too when
   ``import stable_baselines3`` works (it ignores masks: the env applies a masked action as the control).
3. Paired evaluation: each *final* policy plays, without learning, the same fresh evaluation visitors — the
   greedy policy for the learners (DQN: best Q; LinUCB: best θᵀx; Thompson: best posterior mean; SB3:
   ``predict(deterministic=True)``), the split itself for uniform, and the oracle. Paired differences remove
   visitor-to-visitor variance: the table's ± are 95 % intervals of the paired difference to the DQN.
4. Regret: cumulative over the training sessions, Σ (oracle's evaluated mean reward for the session's device −
   the reward the learner earned). Negative when a learner beats the best fixed action per device (the DQN
   and LinUCB may, by combining patches across pages).

Rewards are ``agent.reward`` totals summed over a session's page views, with the experiment's ``[agent]``
weights and gamma (seed defaults 0.3 / 0.4 / 0.3 and 0.95; the synthetic shop uses those). Not a
test: nothing is asserted; the last lines say whether the issue's targets were met at this budget (the DQN's
final policy ≥ the best non-contextual baseline and ≥ 90 % of the oracle).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from agent.context import Context, StateEncoder  # noqa: E402
from agent.dqn import DQNConfig  # noqa: E402
from agent.env import UIABEnv  # noqa: E402
from agent.evaluation import (  # noqa: E402
    EvalSession,
    PolicyFn,
    best_fixed_per_device,
    cumulative_regret,
    evaluate_sessions,
    fixed_fn,
    greedy_fn,
    per_device_means,
    sampling_fn,
)
from agent.policies import UniformPolicy  # noqa: E402
from agent.reward import RewardWeights  # noqa: E402
from agent.runner import SessionRunner  # noqa: E402
from agent.training import TrainConfig, learning_curve_png, train  # noqa: E402
from agent.visitors import EVAL_STREAM, ORACLE_STREAM, visitor_seeds  # noqa: E402

SHOP = REPO / "site_fixtures" / "shop" / "experiment.toml"
# (training sessions per policy, evaluation visitors, oracle-selection visitors per action)
SHOP_BUDGET = (300, 100, 20)
SYNTHETIC_BUDGET = (1_000, 500, 200)
GAMMA = 0.95  # the seed's; an experiment's [agent] table may set its own
NON_CONTEXTUAL = ("uniform", "egreedy", "thompson")


def bench_dqn_config(sessions: int) -> DQNConfig:
    """The seed's network and optimiser (256-128-64, dropout 0.2, Adam 1e-3, batch 32), with a training cadence
    for a budget of hundreds of sessions rather than the seed's open-ended stream.

    At 2-5 page views a session, the seed's "learn every 10 actions" and "sync the target every 100 updates"
    give ~100 gradient steps and one target sync per 300 sessions; so: a gradient step every 2 transitions,
    a target sync every 25 steps, and ε decaying 1 → 0.05 over as many transitions as there are sessions
    (a third to a half of the run: between SB3's 10 % and CleanRL's 50 %).
    """
    return DQNConfig(train_every=2, target_update_every=25, eps_decay_steps=max(sessions, 1))


@dataclass
class Entry:
    """One policy's row: its training run and its final policy's paired evaluation."""

    name: str
    final: PolicyFn
    train_rewards: list[float] = field(default_factory=list)
    train_devices: list[str] = field(default_factory=list)
    train_seconds: float = 0.0
    evaluation: list[EvalSession] = field(default_factory=list)

    @property
    def eval_rewards(self) -> np.ndarray:
        return np.array([s.reward for s in self.evaluation])


def _mean_ci(x: np.ndarray) -> tuple[float, float]:
    """Mean and the half-width of its normal 95 % interval."""
    if len(x) < 2:
        return float(np.mean(x)), math.nan
    return float(np.mean(x)), 1.96 * float(np.std(x, ddof=1)) / math.sqrt(len(x))


def train_sb3(runner: SessionRunner, encoder: StateEncoder, sessions: int, seed: int, max_page_views: int,
              gamma: float, weights: RewardWeights) -> Entry | None:
    """Stable-Baselines3's DQN on UIABEnv for ``sessions`` episodes; None when SB3 is not installed."""
    try:
        from stable_baselines3 import DQN
        from stable_baselines3.common.callbacks import StopTrainingOnMaxEpisodes
    except ImportError:
        return None
    import gymnasium as gym

    class EpisodeLog(gym.Wrapper):  # records each episode's reward and device, for the regret column
        def __init__(self, env: gym.Env) -> None:
            super().__init__(env)
            self.rewards: list[float] = []
            self.devices: list[str] = []
            self._reward, self._device = 0.0, ""

        def reset(self, **kwargs: Any) -> Any:
            obs, info = self.env.reset(**kwargs)
            self._reward, self._device = 0.0, info["context"]["device_class"]
            return obs, info

        def step(self, action: Any) -> Any:
            obs, reward, terminated, truncated, info = self.env.step(action)
            self._reward += float(reward)
            if terminated or truncated:
                self.rewards.append(self._reward)
                self.devices.append(self._device)
            return obs, reward, terminated, truncated, info

    env = EpisodeLog(UIABEnv(runner, encoder, weights=weights, max_page_views=max_page_views))
    # SB3's defaults (docs/references.md) except where they cannot work at this budget: a 10k buffer (CleanRL), a
    # target update every 250 env steps (SB3's 10,000 is beyond the whole run) and ε decaying over the same
    # share of the run as ours; the seed's network, learning rate and gamma, for a like-for-like comparison.
    total_steps = sessions * max_page_views  # an upper bound; the callback stops after ``sessions`` episodes
    model = DQN("MlpPolicy", env, learning_rate=1e-3, buffer_size=10_000, learning_starts=100, batch_size=32,
                gamma=gamma, train_freq=2, target_update_interval=250,
                exploration_fraction=min(1.0, sessions / total_steps), exploration_final_eps=0.05,
                policy_kwargs={"net_arch": [256, 128, 64]}, seed=seed, device="cpu", verbose=0)
    start = time.perf_counter()
    model.learn(total_timesteps=total_steps, callback=StopTrainingOnMaxEpisodes(max_episodes=sessions))
    seconds = time.perf_counter() - start

    def final(state: np.ndarray, mask: np.ndarray, context: Context) -> int:
        action = int(model.predict(state, deterministic=True)[0])
        return action if mask[action] else 0  # as UIABEnv applies a masked action

    return Entry("sb3-dqn", final, env.rewards[:sessions], env.devices[:sessions], seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", action="store_true", help="the synthetic shop instead of the browser")
    parser.add_argument("--experiment", type=Path, default=SHOP)
    parser.add_argument("--sessions", type=int, help="training sessions per policy (default: see the doc)")
    parser.add_argument("--eval-seeds", type=int, help="paired evaluation visitors")
    parser.add_argument("--oracle-seeds", type=int, help="oracle-selection visitors per action")
    parser.add_argument("--oracle-actions", help="comma-separated candidate actions (default: the catalog)")
    parser.add_argument("--policies", default="dqn,uniform,thompson,linucb")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-page-views", type=int, default=20)
    parser.add_argument("--no-sb3", action="store_true", help="skip Stable-Baselines3 even when installed")
    parser.add_argument("--curves", type=Path, help="write each policy's learning curve PNG here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # batches of 32 on 2 cores: intra-op threads only contend (agent/training.py)

    sessions, n_eval, n_oracle = SYNTHETIC_BUDGET if args.synthetic else SHOP_BUDGET
    sessions = args.sessions if args.sessions is not None else sessions
    n_eval = args.eval_seeds if args.eval_seeds is not None else n_eval
    n_oracle = args.oracle_seeds if args.oracle_seeds is not None else n_oracle
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]

    runner: SessionRunner
    gamma, weights = GAMMA, RewardWeights()
    if args.synthetic:
        from tests.synthetic_shop import SyntheticShopRunner  # a test double: the repository root is on sys.path

        runner, site = SyntheticShopRunner(), "synthetic shop (tests/synthetic_shop.py)"
    else:
        from harness.run.agent_runner import BrowserSessionRunner
        from harness.settings import Settings

        browser_runner = BrowserSessionRunner(args.experiment, Settings(), seed=args.seed)
        runner, site = browser_runner, f"{args.experiment} (real Chromium, BrowserSessionRunner)"
        agent_settings = getattr(browser_runner.experiment, "agent", None)  # the experiment's [agent] table
        if agent_settings is not None:
            w = agent_settings.reward
            gamma, weights = agent_settings.gamma, RewardWeights(w.result, w.user, w.business)
    try:
        return run(runner, site, args, sessions, n_eval, n_oracle, policies, gamma, weights)
    finally:
        runner.close()


def run(runner: SessionRunner, site: str, args: argparse.Namespace, sessions: int, n_eval: int, n_oracle: int,
        policies: list[str], gamma: float, weights: RewardWeights) -> int:
    encoder = StateEncoder(runner.pages, runner.n_actions)
    n_actions = runner.n_actions
    candidates = ([int(a) for a in args.oracle_actions.split(",")] if args.oracle_actions
                  else list(range(n_actions)))
    try:
        import stable_baselines3  # noqa: F401
        with_sb3 = not args.no_sb3
    except ImportError:
        with_sb3 = False
    learners = len(policies) + int(with_sb3)
    total = learners * sessions + (learners + 2) * n_eval + len(set(candidates) | {0}) * n_oracle
    print(f"site: {site}; {n_actions} actions, {len(runner.pages)} funnel pages, seed {args.seed}")
    print(f"budget: {sessions} training sessions per policy ({', '.join(policies)}"
          f"{', sb3-dqn' if with_sb3 else ''}), {n_eval} paired evaluation visitors, oracle on {n_oracle} visitors"
          f" x {len(set(candidates) | {0})} actions; {total} sessions in all")
    if not with_sb3:
        print("stable-baselines3: " + ("skipped (--no-sb3)" if args.no_sb3 else "not installed, skipped"))
    dqn = bench_dqn_config(sessions)
    print(f"reward weights: result {weights.result}, user {weights.user}, business {weights.business}")
    print(f"dqn: hidden {dqn.hidden}, lr {dqn.lr}, batch {dqn.batch_size}, gamma {gamma}, train every "
          f"{dqn.train_every}, target sync every {dqn.target_update_every} updates, eps 1 -> {dqn.eps_end} over "
          f"{dqn.eps_decay_steps} transitions")
    eval_kw: dict[str, Any] = {"max_page_views": args.max_page_views, "weights": weights}

    # 1. the oracle: the best fixed action per device class, on visitors of its own
    start = time.perf_counter()
    oracle = best_fixed_per_device(runner, encoder, visitor_seeds(args.seed, n_oracle, stream=ORACLE_STREAM),
                                   actions=candidates, **eval_kw)
    print(f"oracle chosen in {time.perf_counter() - start:.0f} s: "
          + ", ".join(f"{d} -> {a} ({oracle.values[d][a]:.3f}; control {oracle.values[d].get(0, math.nan):.3f}, "
                      f"n={oracle.counts.get(d, 0)})" for d, a in sorted(oracle.choice.items())))

    # 2. training at equal budgets, on the same training visitors
    entries: list[Entry] = []
    for name in policies:
        config = TrainConfig(sessions=sessions, policy=name, seed=args.seed, gamma=gamma, weights=weights, dqn=dqn,
                             max_page_views=args.max_page_views, keep_records=False)
        start = time.perf_counter()
        result = train(runner, encoder, n_actions, config)
        seconds = time.perf_counter() - start
        final = sampling_fn(UniformPolicy(), args.seed) if name == "uniform" else greedy_fn(result.learner)
        entries.append(Entry(name, final, result.session_rewards, result.session_devices, seconds))
        print(f"trained {name}: {sessions} sessions in {seconds:.0f} s, mean reward "
              f"{np.mean(result.session_rewards):.3f}, last 10 % {result.mean_reward_last(0.1):.3f}, "
              f"{len(result.alerts)} monitor alerts")
        if args.curves:
            learning_curve_png(result.session_rewards, args.curves / f"{name}.png", f"{name} on {site}")
    if with_sb3:
        sb3 = train_sb3(runner, encoder, sessions, args.seed, args.max_page_views, gamma, weights)
        if sb3 is not None:
            entries.append(sb3)
            print(f"trained sb3-dqn: {len(sb3.train_rewards)} sessions in {sb3.train_seconds:.0f} s")
            if args.curves:
                learning_curve_png(sb3.train_rewards, args.curves / "sb3-dqn.png", f"sb3-dqn on {site}")

    # 3. paired evaluation of the final policies (and the oracle, and the control for reference)
    eval_seeds = visitor_seeds(args.seed, n_eval, stream=EVAL_STREAM)
    references = [Entry("oracle", oracle.policy_fn()), Entry("control", fixed_fn(0))]
    for entry in entries + references:
        entry.evaluation = evaluate_sessions(runner, encoder, entry.final, eval_seeds, **eval_kw)
    oracle_entry = references[0]
    oracle_values = per_device_means(oracle_entry.evaluation)
    report(entries, references, oracle_values, sessions, n_eval)
    return 0


def report(entries: list[Entry], references: list[Entry], oracle_values: dict[str, float], sessions: int,
           n_eval: int) -> None:
    """The table, the ratios and the targets."""
    oracle_mean = float(references[0].eval_rewards.mean())
    dqn = next((e for e in entries if e.name == "dqn"), None)
    print()
    values = ", ".join(f"{d} {v:.3f}" for d, v in oracle_values.items())
    print(f"final policies on {n_eval} paired evaluation visitors (mean session reward); regret over {sessions} "
          f"training sessions vs the oracle's per-device values: {values}")
    header = (f"{'policy':<10} {'final mean':>10} {'± 95%':>7} {'% oracle':>9} {'dqn / it':>9} "
              f"{'dqn − it (95% CI)':>20} {'cum. regret':>12} {'regret/sess':>12} {'train s':>8}")
    print(header)
    print("-" * len(header))
    for entry in entries + references:
        mean, half = _mean_ci(entry.eval_rewards)
        ratio = diff_text = "—"
        if dqn is not None and entry is not dqn:
            ratio = f"{float(dqn.eval_rewards.mean()) / mean:.3f}" if mean else "—"
            d_mean, d_half = _mean_ci(dqn.eval_rewards - entry.eval_rewards)
            diff_text = f"{d_mean:+.3f} ± {d_half:.3f}"
        regret = per_session = "—"
        if entry.train_rewards:
            cum = cumulative_regret(entry.train_rewards, entry.train_devices,
                                    {d: oracle_values.get(d, 0.0) for d in set(entry.train_devices)})
            regret, per_session = f"{cum[-1]:.1f}", f"{cum[-1] / len(cum):.3f}"
        seconds = f"{entry.train_seconds:.0f}" if entry.train_rewards else "—"
        print(f"{entry.name:<10} {mean:>10.3f} {half:>7.3f} {100 * mean / oracle_mean:>8.1f}% {ratio:>9} "
              f"{diff_text:>20} {regret:>12} {per_session:>12} {seconds:>8}")
    if dqn is None:
        return
    dqn_mean = float(dqn.eval_rewards.mean())
    non_contextual = [e for e in entries if e.name in NON_CONTEXTUAL]
    print()
    if non_contextual:
        best = max(non_contextual, key=lambda e: float(e.eval_rewards.mean()))
        met = dqn_mean >= float(best.eval_rewards.mean())
        print(f"target 1, DQN >= best non-contextual baseline ({best.name}, {best.eval_rewards.mean():.3f}): "
              f"{'met' if met else 'NOT met'} ({dqn_mean:.3f})")
    print(f"target 2, DQN >= 90 % of the per-device oracle ({0.9 * oracle_mean:.3f}): "
          f"{'met' if dqn_mean >= 0.9 * oracle_mean else 'NOT met'} ({100 * dqn_mean / oracle_mean:.1f} %) "
          f"at {sessions} training sessions")


if __name__ == "__main__":
    raise SystemExit(main())
