"""A trained checkpoint as a rollout candidate: the patch its greedy choice stands for, as a patch file.

torch is imported only when a checkpoint is read (inside the functions), so importing ``harness.gate`` for a CSS
candidate never loads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.catalog import Action
from agent.kernel import InputError
from agent.patch import patch_to_toml
from harness.run.experiment import Experiment, Variant
from harness.store.database import Store

if TYPE_CHECKING:
    from agent.best_patch import PolicyChoice

__all__ = ["AgentCandidate", "checkpoint_meta", "agent_candidate"]

_FIELD, _FIX = "--candidate", "pass a file `uiab train --policy dqn` wrote"


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
    """What ``uiab train`` stored with a checkpoint (run id, actions, pages, …); reads it with the agent."""
    from agent.dqn import load_checkpoint

    return load_checkpoint(path, field=_FIELD, fix=_FIX).meta


def agent_candidate(experiment: Experiment, path: Path, db: Path, out_dir: Path) -> AgentCandidate:
    """Read the checkpoint and its training run's decisions; write the chosen action's patch under ``out_dir``."""
    from agent.best_patch import best_static_action
    from agent.dqn import load_checkpoint

    checkpoint = load_checkpoint(path, field=_FIELD, fix=_FIX)
    agent, meta = checkpoint.agent, checkpoint.meta
    run_id = meta.get("run_id")
    if not isinstance(run_id, int):
        raise InputError("the checkpoint does not name its training run", source=str(path), field=_FIELD,
                         fix="retrain with `uiab train` (a checkpoint of an older uiab needs its AGENT.pt.json "
                             "beside it)")
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
