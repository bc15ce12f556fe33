"""A trained checkpoint as a rollout candidate: the patch its greedy choice stands for, as a patch file."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.best_patch import PolicyChoice, best_static_action
from agent.catalog import Action
from agent.dqn import DQNAgent
from agent.kernel import InputError
from agent.patch import patch_to_toml
from harness.run.experiment import Experiment, Variant
from harness.store.database import Store

__all__ = ["AgentCandidate", "checkpoint_meta", "agent_candidate"]


@dataclass(frozen=True)
class AgentCandidate:
    """The variant a rollout gates for a checkpoint, with the evidence for choosing it."""

    variant: Variant
    action: Action
    choice: PolicyChoice
    train_run: int

    def describe(self) -> str:
        if self.choice.prefers_control:
            return (f"{self.action.key} ({self.action.name}): the policy prefers no change on all "
                    f"{self.choice.page_views} page views of train run {self.train_run}; this is the patch it "
                    "values most")
        return (f"{self.action.key} ({self.action.name}): the greedy choice on {self.choice.share:.0%} of the "
                f"page views it was offered, over {self.choice.page_views} page views of train run {self.train_run}")

    def to_dict(self) -> dict[str, Any]:
        return {"variant": self.variant.name, "patch": self.variant.patch, "action": self.action.key,
                "action_name": self.action.name, "train_run": self.train_run, **self.choice.to_dict()}


def checkpoint_meta(path: Path) -> dict[str, Any]:
    """The JSON ``uiab train`` writes beside a checkpoint (actions, pages, run id)."""
    meta = path.with_suffix(path.suffix + ".json")
    if not meta.is_file():
        raise InputError(f"{meta.name} is missing beside the checkpoint", source=str(path), field="--candidate",
                         fix="pass a checkpoint `uiab train` wrote (it writes AGENT.pt and AGENT.pt.json)")
    try:
        return dict(json.loads(meta.read_text()))
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable {meta.name} ({exc})", source=str(meta), field="--candidate",
                         fix="retrain, or restore the file `uiab train` wrote") from None


def agent_candidate(experiment: Experiment, path: Path, db: Path, out_dir: Path) -> AgentCandidate:
    """Read the checkpoint and its training run's decisions; write the chosen action's patch under ``out_dir``."""
    if not path.is_file():
        raise InputError("no such checkpoint", source=str(path), field="--candidate",
                         fix="pass a file `uiab train` wrote")
    meta = checkpoint_meta(path)
    run_id = meta.get("run_id")
    if not isinstance(run_id, int):
        raise InputError("the checkpoint does not name its training run", source=str(path), field="--candidate",
                         fix="retrain with this uiab (older checkpoints lack run_id)")
    try:
        agent = DQNAgent.load(path)
    except Exception as exc:  # torch raises many kinds for a file that is not a checkpoint
        raise InputError(f"not a uiab checkpoint ({type(exc).__name__})", source=str(path), field="--candidate",
                         fix="pass a file `uiab train --policy dqn` wrote") from None
    with Store(db) as store:
        records = store.decisions(run_id)
    if not records:
        raise InputError(f"train run {run_id} has no decisions in {db}", source=str(path), field="--db",
                         fix="pass the database the checkpoint was trained with")
    keys: list[str] = list(meta.get("actions", []))
    if len(keys) != agent.n_actions:
        raise InputError(f"the checkpoint has {agent.n_actions} actions, its metadata {len(keys)}",
                         source=str(path), field="--candidate", fix="retrain; the two files do not belong together")
    choice = best_static_action(agent, records)
    try:
        action = experiment.action_catalog().by_key(keys[choice.action])
    except KeyError:
        raise InputError(f"action {keys[choice.action]!r} is no longer in {experiment.path.name}'s catalog",
                         source=str(path), field="slots", fix="retrain on the experiment as it is now") from None
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"agent-{run_id}-{action.key}")[:80]
    out_dir.mkdir(parents=True, exist_ok=True)
    patch_file = out_dir / f"{name}.toml"
    patch_file.write_text(patch_to_toml(action.patch.model_copy(update={"name": name})))
    return AgentCandidate(Variant(name=name, patch=str(patch_file.resolve())), action, choice, run_id)
