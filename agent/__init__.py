"""The agent: the action space (the catalog built from ``[slots]``; patches, validated CSS and DOM operations), the
learners (the DQN) and the baselines they must beat behind one policy interface, off-policy evaluation of
logged decisions, the Gymnasium environment, the training loop and its evaluation. It may import only
``agent.kernel`` (the error tree and input readers at the bottom), never ``harness`` or ``personas``. Each name
below loads on first use, so ``import agent.kernel`` (as personas do) and ``import agent`` never load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.kernel.lazy import lazy_exports

if TYPE_CHECKING:
    from agent.best_patch import PolicyChoice, best_static_action
    from agent.catalog import Action, ActionCatalog, build_catalog
    from agent.context import Context, StateEncoder
    from agent.decision_log import DecisionRecord, read_jsonl, to_jsonl
    from agent.dqn import Checkpoint, DQNAgent, DQNConfig, load_checkpoint
    from agent.env import UIABEnv
    from agent.evaluation import (
        EvalSession,
        FixedPerDevice,
        best_fixed_per_device,
        cumulative_regret,
        evaluate_policy,
        evaluate_sessions,
        fixed_fn,
        greedy_fn,
        sampling_fn,
    )
    from agent.monitor import Alert, MonitorThresholds, PerformanceMonitor
    from agent.ope import LoggedBandit, OPEEstimate, doubly_robust, ips, snips
    from agent.patch import DomOp, Patch, load_patch, patch_from_mapping, patch_to_toml
    from agent.plots import learning_curve
    from agent.policies import (
        DQNPolicy,
        EpsilonGreedyPolicy,
        FixedPolicy,
        LinUCBPolicy,
        Policy,
        ThompsonPolicy,
        UniformPolicy,
        make_baseline,
    )
    from agent.reward import RewardParts, RewardWeights, reward_parts
    from agent.runner import PageViewState, SessionRunner, StepResult
    from agent.training import TrainConfig, TrainResult, train
    from agent.visitors import visitor_seeds

# Where each public name lives; __all__ below lists the same names.
_BY_MODULE: dict[str, tuple[str, ...]] = {
    "agent.catalog": ("Action", "ActionCatalog", "build_catalog"),
    "agent.patch": ("Patch", "DomOp", "load_patch", "patch_from_mapping", "patch_to_toml"),
    "agent.context": ("Context", "StateEncoder"),
    "agent.reward": ("RewardWeights", "RewardParts", "reward_parts"),
    "agent.runner": ("SessionRunner", "PageViewState", "StepResult"),
    "agent.env": ("UIABEnv",),
    "agent.dqn": ("DQNAgent", "DQNConfig", "Checkpoint", "load_checkpoint"),
    "agent.policies": ("Policy", "UniformPolicy", "EpsilonGreedyPolicy", "ThompsonPolicy", "LinUCBPolicy",
                       "FixedPolicy", "DQNPolicy", "make_baseline"),
    "agent.best_patch": ("PolicyChoice", "best_static_action"),
    "agent.training": ("TrainConfig", "TrainResult", "train"),
    "agent.visitors": ("visitor_seeds",),
    "agent.evaluation": ("EvalSession", "FixedPerDevice", "greedy_fn", "sampling_fn", "fixed_fn", "evaluate_sessions",
                         "evaluate_policy", "best_fixed_per_device", "cumulative_regret"),
    "agent.plots": ("learning_curve",),
    "agent.monitor": ("PerformanceMonitor", "MonitorThresholds", "Alert"),
    "agent.decision_log": ("DecisionRecord", "to_jsonl", "read_jsonl"),
    "agent.ope": ("LoggedBandit", "OPEEstimate", "ips", "snips", "doubly_robust"),
}
_WHERE = {name: module for module, names in _BY_MODULE.items() for name in names}

__all__ = [
    "Action", "ActionCatalog", "build_catalog", "Patch", "DomOp", "load_patch", "patch_from_mapping",
    "patch_to_toml", "Context", "StateEncoder", "RewardWeights", "RewardParts", "reward_parts", "SessionRunner",
    "PageViewState", "StepResult", "UIABEnv", "DQNAgent", "DQNConfig", "Checkpoint", "load_checkpoint", "Policy",
    "UniformPolicy", "EpsilonGreedyPolicy", "ThompsonPolicy", "LinUCBPolicy", "FixedPolicy", "DQNPolicy",
    "make_baseline", "PolicyChoice", "best_static_action", "TrainConfig", "TrainResult", "train", "visitor_seeds",
    "EvalSession", "FixedPerDevice", "greedy_fn", "sampling_fn", "fixed_fn", "evaluate_sessions", "evaluate_policy",
    "best_fixed_per_device", "cumulative_regret", "learning_curve", "PerformanceMonitor", "MonitorThresholds",
    "Alert", "DecisionRecord", "to_jsonl", "read_jsonl", "LoggedBandit", "OPEEstimate", "ips", "snips",
    "doubly_robust",
]

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
