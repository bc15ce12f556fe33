"""The one patch a learned policy stands for: what its greedy choice is most often on the page views it saw.

A rollout gates a fixed candidate, while a policy picks a patch per page view. To gate what an agent
learned, ``uiab rollout --candidate agent.pt`` and ``uiab nightly`` take the action the policy's greedy
choice falls on most often over the page views of its training run (their logged states and masks). The
logged states carry the *acting* policy's previous action, so this is the greedy choice on the traffic
that training saw, not a re-simulation of greedy sessions; the share it reports says how far one static
patch stands in for the policy (1.0: the policy is that patch everywhere).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.dqn import DQNAgent, masked_argmax

__all__ = ["PolicyChoice", "greedy_choices", "best_static_action"]


@dataclass(frozen=True)
class PolicyChoice:
    """The action a policy's greedy choice falls on most often, and how often each action was chosen."""

    action: int
    share: float  # of the page views where ``action`` was on offer, the fraction greedy chose it
    counts: dict[int, int]  # action id → page views where greedy chose it
    page_views: int

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "share": self.share, "counts": self.counts, "page_views": self.page_views}


def greedy_choices(agent: DQNAgent, states: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The greedy action of each (state, mask) row."""
    return np.array([masked_argmax(agent.q_values(s), m) for s, m in zip(states, masks, strict=True)], dtype=int)


def best_static_action(agent: DQNAgent, records: Sequence[dict[str, Any]]) -> PolicyChoice:
    """Over logged decisions (``context_vec``, ``actions_offered``), the non-control action greedy picks most.

    The control (action 0) wins only when greedy never picks anything else. Ties go to the lower id, so the
    answer does not depend on dictionary order.
    """
    if not records:
        raise ValueError("no logged decisions to read the policy's choices from")
    states = np.array([r["context_vec"] for r in records], dtype=np.float32)
    masks = np.zeros((len(records), agent.n_actions), dtype=bool)
    for i, record in enumerate(records):
        masks[i, record["actions_offered"]] = True
    chosen = greedy_choices(agent, states, masks)
    counts = Counter(int(a) for a in chosen)
    patches = sorted((a for a in counts if a != 0), key=lambda a: (-counts[a], a))
    action = patches[0] if patches else 0
    offered = int(masks[:, action].sum())
    return PolicyChoice(action=action, share=counts[action] / offered if offered else 0.0,
                        counts=dict(sorted(counts.items())), page_views=len(records))
