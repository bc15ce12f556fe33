"""Double DQN with action masking, in the shape of CleanRL's dqn.py: read it top to bottom.

One decision per page view: the state is the encoded observable context (agent/context.py), the action an
entry of the catalog (agent/catalog.py, action 0 the control), the reward the measured total
(agent/reward.py). Masked actions — patches whose selectors are absent from the page — are never chosen
greedily, never explored and never bootstrapped: the mask is applied when acting, when exploring and in the
next-state argmax (REFERENCES.md, "action masking").

Sources for the defaults (REFERENCES.md, "Learning agent"):
- the seed's LearningEngine: hidden 256-128-64, dropout 0.2, Adam lr 1e-3, batch 32, gamma 0.95, target
  update every 100 updates, learn every 10 actions;
- Stable-Baselines3 DQN: learning_starts 100, max_grad_norm 10, Huber loss, ε 1 → 0.05;
- CleanRL dqn.py: a 10k buffer, a hard target copy, the loop's structure;
- van Hasselt, Guez, Silver (2015), "Deep Reinforcement Learning with Double Q-learning": the online net
  picks the next action, the target net values it.

Seeding is explicit and local: the agent owns a ``numpy.random.Generator`` (replay sampling, exploration)
and a ``torch.Generator`` (weight init, dropout masks), both saved in checkpoints; it never reads or
reseeds the global RNGs, so two agents in one process do not disturb each other. CPU only.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "DQNConfig",
    "QNetwork",
    "Batch",
    "ReplayBuffer",
    "DQNAgent",
    "epsilon_at",
    "masked_argmax",
]

CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class DQNConfig:
    """Every hyperparameter of the learner, in one place."""

    seed: int = 0
    hidden: tuple[int, ...] = (256, 128, 64)  # seed
    dropout: float = 0.2  # seed; active only in gradient steps, never when acting or computing targets
    lr: float = 1e-3  # seed (Adam); SB3 uses 1e-4, CleanRL 2.5e-4 — both for Atari-sized problems
    batch_size: int = 32  # seed, SB3
    gamma: float = 0.95  # seed; experiment.toml may override
    buffer_size: int = 10_000  # CleanRL; SB3's 1e6 is far beyond a site's session budget
    learning_starts: int = 100  # SB3: no gradient step before this many transitions
    train_every: int = 10  # seed: "learn every 10 actions" (SB3 train_freq 4)
    gradient_steps: int = 1  # gradient steps per training round (SB3)
    target_update_every: int = 100  # seed: hard copy online → target every 100 gradient steps
    eps_start: float = 1.0  # SB3, CleanRL
    eps_end: float = 0.05  # SB3, CleanRL
    # SB3 decays over 10 % of training, CleanRL 50 %; a site run has no fixed length, so an absolute count.
    eps_decay_steps: int = 1_000
    max_grad_norm: float = 10.0  # SB3
    huber_delta: float = 1.0  # SB3: F.smooth_l1_loss, i.e. Huber with delta 1
    double: bool = True  # van Hasselt et al. (2015)
    # torch.use_deterministic_algorithms(True) is process-wide; the CPU ops used here are deterministic
    # anyway, so the switch only guards against a future op that is not (warn_only: never crash others).
    deterministic: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        if not 0.0 <= self.eps_end <= self.eps_start <= 1.0:
            raise ValueError("need 0 <= eps_end <= eps_start <= 1")
        positive = ("batch_size", "buffer_size", "train_every", "gradient_steps", "target_update_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.learning_starts < 0 or self.eps_decay_steps < 0 or self.lr <= 0:
            raise ValueError("learning_starts and eps_decay_steps must be >= 0, lr > 0")


def epsilon_at(step: int, config: DQNConfig) -> float:
    """Linear schedule from ``eps_start`` to ``eps_end`` over ``eps_decay_steps`` (CleanRL's linear_schedule)."""
    if config.eps_decay_steps == 0:
        return config.eps_end
    fraction = min(step / config.eps_decay_steps, 1.0)
    return config.eps_start + fraction * (config.eps_end - config.eps_start)


def masked_argmax(q: np.ndarray, mask: np.ndarray) -> int:
    """Index of the largest allowed value; ties go to the lowest index (the control first)."""
    return int(np.argmax(np.where(mask, q, -np.inf)))


class SeededDropout(nn.Module):
    """Inverted dropout drawing its masks from an explicit ``torch.Generator`` instead of the global RNG."""

    def __init__(self, p: float, generator: torch.Generator | None) -> None:
        super().__init__()
        self.p = p
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p, generator=self.generator)
        return x * keep / (1.0 - self.p)


class QNetwork(nn.Module):
    """state → one Q-value per action: Linear-ReLU-Dropout per hidden layer, then a linear head."""

    def __init__(self, state_dim: int, n_actions: int, hidden: tuple[int, ...] = (256, 128, 64),
                 dropout: float = 0.2, generator: torch.Generator | None = None) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = state_dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), SeededDropout(dropout, generator)]
            width = size
        layers.append(nn.Linear(width, n_actions))
        self.net = nn.Sequential(*layers)
        if generator is not None:
            self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator) -> None:
        """PyTorch's default Linear init — U(±1/√fan_in) for weights and biases — drawn from ``generator``."""
        with torch.no_grad():
            for layer in self.net:
                if isinstance(layer, nn.Linear):
                    bound = 1.0 / math.sqrt(layer.in_features)
                    layer.weight.uniform_(-bound, bound, generator=generator)
                    layer.bias.uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


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
            raise ValueError(f"buffer capacity {data['capacity']} != configured {self.capacity}")
        for name in self._ARRAYS:
            getattr(self, name)[:data["size"]] = data[name].numpy()
        self.position, self.size = int(data["position"]), int(data["size"])


@dataclass
class _Counters:
    steps: int = 0  # transitions observed; drives the ε schedule and the training cadence
    updates: int = 0  # gradient steps taken; drives the target sync


def _check_mask(mask: np.ndarray, n_actions: int) -> np.ndarray:
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (n_actions,):
        raise ValueError(f"mask must have shape ({n_actions},), got {mask.shape}")
    if not mask.any():
        raise ValueError("mask allows no action (the control, action 0, should always be allowed)")
    return mask


class DQNAgent:
    """Double DQN over a masked discrete action space: act, observe, update, save, load."""

    def __init__(self, state_dim: int, n_actions: int, config: DQNConfig | None = None) -> None:
        self.config = config = config or DQNConfig()
        self.state_dim = state_dim
        self.n_actions = n_actions
        if config.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        # Explicit seeding: one numpy Generator, one torch Generator; nothing global.
        self.rng = np.random.default_rng(config.seed)
        self.torch_rng = torch.Generator().manual_seed(config.seed)

        self.q_network = QNetwork(state_dim, n_actions, config.hidden, config.dropout, self.torch_rng)
        self.target_network = QNetwork(state_dim, n_actions, config.hidden, config.dropout)
        self.target_network.load_state_dict(self.q_network.state_dict())
        self.target_network.eval()  # the target net never trains and never drops units
        self.optimizer = torch.optim.Adam(self.q_network.parameters(), lr=config.lr)
        self.buffer = ReplayBuffer(config.buffer_size, state_dim, n_actions)
        self.counters = _Counters()

    # -- acting ------------------------------------------------------------------------------------------

    @property
    def epsilon(self) -> float:
        """The exploration rate the next ``act(greedy=False)`` uses."""
        return epsilon_at(self.counters.steps, self.config)

    def q_values(self, state: np.ndarray) -> np.ndarray:
        """Q-values of one state under the online net, without dropout (eval mode)."""
        self.q_network.eval()
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(state, dtype=np.float32)).reshape(1, self.state_dim)
            return self.q_network(x)[0].numpy().astype(np.float64)

    def action_probabilities(self, state: np.ndarray, mask: np.ndarray, *, greedy: bool = False) -> np.ndarray:
        """The acting policy's distribution over actions: ε-greedy restricted to the mask (0 outside it)."""
        mask = _check_mask(mask, self.n_actions)
        best = masked_argmax(self.q_values(state), mask)
        eps = 0.0 if greedy else self.epsilon
        probs = np.where(mask, eps / mask.sum(), 0.0)
        probs[best] += 1.0 - eps
        return probs

    def act(self, state: np.ndarray, mask: np.ndarray, *, greedy: bool = False) -> tuple[int, float]:
        """Pick an allowed action; return it with its probability under the acting policy (the propensity).

        ε-greedy: with probability ε a uniform draw among the allowed actions, else the best allowed one,
        so P(a) = ε/|allowed| + (1 − ε)·[a = best]. ``greedy`` (evaluation) sets ε = 0.
        """
        mask = _check_mask(mask, self.n_actions)
        best = masked_argmax(self.q_values(state), mask)
        if greedy:
            return best, 1.0
        eps = self.epsilon
        allowed = np.flatnonzero(mask)
        explore = self.rng.random() < eps  # always one draw, so the RNG stream does not depend on Q
        action = int(self.rng.choice(allowed)) if explore else best
        probability = eps / len(allowed) + (1.0 - eps) * (action == best)
        return action, float(probability)

    # -- learning ----------------------------------------------------------------------------------------

    def observe(self, state: np.ndarray, action: int, reward: float, next_state: np.ndarray, done: bool,
                next_mask: np.ndarray | None) -> float | None:
        """Store one real transition; every ``train_every`` steps after ``learning_starts``, train.

        Returns the mean loss of the training round it ran, else None. For a terminal transition the next
        state and mask are stored but never used (the target is the reward alone; ``next_mask`` may be None).
        """
        if not 0 <= action < self.n_actions:
            raise ValueError(f"action {action} is outside 0..{self.n_actions - 1}")
        if done:
            next_mask = np.zeros(self.n_actions, dtype=bool) if next_mask is None else next_mask
        else:
            if next_mask is None:
                raise ValueError("a non-terminal transition needs the next state's mask")
            next_mask = _check_mask(next_mask, self.n_actions)
        self.buffer.add(state, action, reward, next_state, done, next_mask)
        self.counters.steps += 1
        c = self.config
        if self.counters.steps < c.learning_starts or self.counters.steps % c.train_every != 0:
            return None
        losses = [loss for loss in (self.update() for _ in range(c.gradient_steps)) if loss is not None]
        return float(np.mean(losses)) if losses else None

    def td_targets(self, batch: Batch) -> torch.Tensor:
        """y = r + γ·(1 − done)·Q_target(s', a*), a* = argmax over the allowed next actions.

        Double DQN (van Hasselt et al. 2015): a* comes from the online net, its value from the target net.
        Disallowed next actions are set to −inf before the argmax, so they are never bootstrapped. Both
        nets run without dropout here, so the targets are deterministic given the weights.
        """
        was_training = self.q_network.training
        self.q_network.eval()
        with torch.no_grad():
            q_target_next = self.target_network(batch.next_states)
            if self.config.double:
                q_online_next = self.q_network(batch.next_states).masked_fill(~batch.next_masks, -math.inf)
                next_actions = q_online_next.argmax(dim=1, keepdim=True)
            else:
                next_actions = q_target_next.masked_fill(~batch.next_masks, -math.inf).argmax(dim=1, keepdim=True)
            next_values = q_target_next.gather(1, next_actions).squeeze(1)
            # where(), not multiplication: a terminal row may have an all-False mask, and 0·(−inf) is nan.
            next_values = torch.where(batch.dones, torch.zeros_like(next_values), next_values)
            targets = batch.rewards + self.config.gamma * next_values
        self.q_network.train(was_training)
        return targets

    def update(self) -> float | None:
        """One gradient step on a replay sample (Huber loss, clipped gradients); None if the buffer is short."""
        c = self.config
        if len(self.buffer) < c.batch_size:
            return None
        batch = self.buffer.sample(c.batch_size, self.rng)
        targets = self.td_targets(batch)

        self.q_network.train()  # dropout on, as the seed's network trains
        q_taken = self.q_network(batch.states).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        loss = F.huber_loss(q_taken, targets, delta=c.huber_delta)
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.q_network.parameters(), c.max_grad_norm)
        self.optimizer.step()
        self.q_network.eval()

        self.counters.updates += 1
        if self.counters.updates % c.target_update_every == 0:
            self.target_network.load_state_dict(self.q_network.state_dict())  # hard copy (CleanRL, tau = 1)
        return float(loss.item())

    # -- checkpoints -------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this agent is: nets, optimiser, buffer, counters, RNGs."""
        return {
            "version": CHECKPOINT_VERSION,
            "config": asdict(self.config),
            "state_dim": self.state_dim,
            "n_actions": self.n_actions,
            "q_network": self.q_network.state_dict(),
            "target_network": self.target_network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "buffer": self.buffer.state_dict(),
            "steps": self.counters.steps,
            "updates": self.counters.updates,
            "numpy_rng": self.rng.bit_generator.state,
            "torch_rng": self.torch_rng.get_state(),
        }

    def save(self, path: str | Path) -> None:
        """Write a checkpoint atomically (a temporary file, then a rename), so a crash never leaves half a file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> DQNAgent:
        """Rebuild an agent from ``save``; it continues with the same Q-values, actions and losses."""
        data = torch.load(Path(path), weights_only=True)  # a checkpoint is user input: no arbitrary pickles
        if data.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"unsupported checkpoint version {data.get('version')!r}")
        config = data["config"]
        config["hidden"] = tuple(config["hidden"])
        agent = cls(int(data["state_dim"]), int(data["n_actions"]), DQNConfig(**config))
        agent.q_network.load_state_dict(data["q_network"])
        agent.target_network.load_state_dict(data["target_network"])
        agent.optimizer.load_state_dict(data["optimizer"])
        agent.buffer.load_state_dict(data["buffer"])
        agent.counters.steps = int(data["steps"])
        agent.counters.updates = int(data["updates"])
        agent.rng.bit_generator.state = data["numpy_rng"]
        agent.torch_rng.set_state(data["torch_rng"])
        return agent
