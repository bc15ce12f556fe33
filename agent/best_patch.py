"""The one patch a learned policy stands for: what its greedy choice is most often on the page views it saw.

A rollout gates a fixed candidate, while a policy picks a patch per page view. To gate what an agent
learned, ``uiab rollout --candidate agent.pt`` and ``uiab nightly`` take the action the policy's greedy
choice falls on most often over the page views of its training run (their logged states and masks). The
logged states carry the *acting* policy's previous action, so this is the greedy choice on the traffic
that training saw, not a re-simulation of greedy sessions; the share it reports says how far one static
patch stands in for the policy (1.0: the policy is that patch everywhere). When greedy never picks a
patch — the policy prefers the control everywhere — the patch it values most (the highest mean Q over the
page views where it is on offer) is gated instead, and ``prefers_control`` says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.dqn import DQNAgent, masked_argmax
from agent.kernel import InputError

__all__ = ["PolicyChoice", "greedy_choices", "best_static_action"]


@dataclass(frozen=True)
class PolicyChoice:
    """The action a policy's greedy choice falls on most often, and how often each action was chosen."""

    action: int
    share: float  # of the page views where ``action`` was on offer, the fraction greedy chose it
    counts: dict[int, int]  # action id → page views where greedy chose it
    page_views: int
    prefers_control: bool = False  # greedy never picked a patch: ``action`` is the runner-up by mean Q

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "share": self.share, "counts": self.counts, "page_views": self.page_views,
                "prefers_control": self.prefers_control}


def greedy_choices(agent: DQNAgent, states: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The greedy action of each (state, mask) row."""
    return np.array([masked_argmax(agent.q_values(s), m) for s, m in zip(states, masks, strict=True)], dtype=int)


def best_static_action(agent: DQNAgent, records: Sequence[dict[str, Any]]) -> PolicyChoice:
    """Over logged decisions (``context_vec``, ``actions_offered``), the patch (not the control) greedy picks most.

    Ties go to the lower id. If greedy picks only the control, the patch with the highest mean Q where it was
    offered (the policy's runner-up); the control itself only when no patch was ever offered.
    """
    if not records:
        raise InputError("no logged decisions to read the policy's choices from", field="records",
                         fix="pass the decisions of the run that trained the policy")
    states = np.array([r["context_vec"] for r in records], dtype=np.float32)
    masks = np.zeros((len(records), agent.n_actions), dtype=bool)
    for i, record in enumerate(records):
        masks[i, record["actions_offered"]] = True
    chosen = greedy_choices(agent, states, masks)
    counts = dict(sorted(Counter(int(a) for a in chosen).items()))
    patches = sorted((a for a in counts if a != 0), key=lambda a: (-counts[a], a))
    if patches:
        action = patches[0]
    else:
        q = np.stack([agent.q_values(s) for s in states])
        offered = masks.sum(axis=0)
        mean_q = np.where(offered > 0, (q * masks).sum(axis=0) / np.maximum(offered, 1), -np.inf)
        mean_q[0] = -np.inf
        action = int(np.argmax(mean_q)) if np.isfinite(mean_q).any() else 0
    on_offer = int(masks[:, action].sum())
    return PolicyChoice(action=action, share=counts.get(action, 0) / on_offer if on_offer else 0.0, counts=counts,
                        page_views=len(records), prefers_control=not patches)
