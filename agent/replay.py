"""The DQN's replay buffer: a ring of real transitions (s, a, r, s', done, mask(s')), sampled as tensors."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from agent.kernel import CheckpointError

__all__ = ["Batch", "ReplayBuffer"]


class Batch(NamedTuple):
    """A sample of transitions as tensors; ``next_masks[i]`` is the mask of ``next_states[i]``."""

    states: torch.Tensor  # float32 (B, state_dim)
    actions: torch.Tensor  # int64 (B,)
    rewards: torch.Tensor  # float32 (B,)
    next_states: torch.Tensor  # float32 (B, state_dim)
    dones: torch.Tensor  # bool (B,): terminal, nothing to bootstrap
    next_masks: torch.Tensor  # bool (B, n_actions)


class ReplayBuffer:
    """A ring buffer of real transitions (s, a, r, s', done, mask(s')) in numpy arrays."""

    def __init__(self, capacity: int, state_dim: int, n_actions: int) -> None:
        self.capacity = capacity
        self.states = np.zeros((capacity, state_dim), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.next_states = np.zeros((capacity, state_dim), dtype=np.float32)
        self.dones = np.zeros(capacity, dtype=bool)
        self.next_masks = np.zeros((capacity, n_actions), dtype=bool)
        self.position = 0  # where the next transition goes
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, state: np.ndarray, action: int, reward: float, next_state: np.ndarray, done: bool,
            next_mask: np.ndarray) -> None:
        i = self.position
        self.states[i] = state
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_states[i] = next_state
        self.dones[i] = done
        self.next_masks[i] = next_mask
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """Uniform, with replacement (as SB3 and CleanRL)."""
        idx = rng.integers(0, self.size, size=batch_size)
        return Batch(
            states=torch.from_numpy(self.states[idx]),
            actions=torch.from_numpy(self.actions[idx]),
            rewards=torch.from_numpy(self.rewards[idx]),
            next_states=torch.from_numpy(self.next_states[idx]),
            dones=torch.from_numpy(self.dones[idx]),
            next_masks=torch.from_numpy(self.next_masks[idx]),
        )

    _ARRAYS = ("states", "actions", "rewards", "next_states", "dones", "next_masks")

    def state_dict(self) -> dict[str, Any]:
        # Tensors, not numpy arrays, so a checkpoint loads with torch.load(weights_only=True).
        data: dict[str, Any] = {name: torch.from_numpy(getattr(self, name)[:self.size].copy())
                                for name in self._ARRAYS}
        data.update(capacity=self.capacity, position=self.position, size=self.size)
        return data

    def load_state_dict(self, data: dict[str, Any]) -> None:
        if data["capacity"] != self.capacity:
            raise CheckpointError(f"buffer capacity {data['capacity']} != configured {self.capacity}",
                                  field="buffer", fix="load it with the buffer_size it was trained with")
        for name in self._ARRAYS:
            getattr(self, name)[:data["size"]] = data[name].numpy()
        self.position, self.size = int(data["position"]), int(data["size"])
