"""Double DQN with action masking, in the shape of CleanRL's dqn.py: read it top to bottom.

One decision per page view: the state is the encoded observable context (agent/context.py), the action an
entry of the catalog (agent/catalog.py, action 0 the control), the reward the measured total
(agent/reward.py). Masked actions — patches whose selectors are absent from the page — are never chosen
greedily, never explored and never bootstrapped: the mask is applied when acting, when exploring and in the
next-state argmax (docs/references.md, "action masking").

Sources for the defaults (docs/references.md, "Learning agent"):
- the seed's LearningEngine: hidden 256-128-64, dropout 0.2, Adam lr 1e-3, batch 32, gamma 0.95, target
  update every 100 updates, learn every 10 actions;
- Stable-Baselines3 DQN: learning_starts 100, max_grad_norm 10, Huber loss, ε 1 → 0.05;
- CleanRL dqn.py: a 10k buffer, a hard target copy, the loop's structure;
- van Hasselt, Guez, Silver (2015), "Deep Reinforcement Learning with Double Q-learning": the online net
  picks the next action, the target net values it.

Seeding is explicit and local: the agent owns a ``numpy.random.Generator`` (replay sampling, exploration)
and a ``torch.Generator`` (weight init, dropout masks), both saved in checkpoints; it never reads or
reseeds the global RNGs, so two agents in one process do not disturb each other. CPU only.

Checkpoints: ``save`` writes one file with the run's metadata inside (agent/checkpoint.py owns the format);
``load_checkpoint`` is the one reader, for ``uiab train --resume`` and checkpoint rollout candidates alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agent.checkpoint import read_checkpoint, write_checkpoint
from agent.kernel import CheckpointError, InputError, first_line
from agent.replay import Batch, ReplayBuffer

__all__ = [
    "DQNConfig",
    "QNetwork",
    "Batch",
    "ReplayBuffer",
    "DQNAgent",
    "Checkpoint",
    "load_checkpoint",
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
        def bad(name: str, rule: str) -> InputError:
            return InputError(f"{name} must be {rule}, got {getattr(self, name)!r}", source="DQNConfig", field=name)

        if not 0.0 <= self.dropout < 1.0:
            raise bad("dropout", "in [0, 1)")
        if not 0.0 <= self.gamma <= 1.0:
            raise bad("gamma", "in [0, 1]")
        if not 0.0 <= self.eps_end <= self.eps_start <= 1.0:
            raise InputError("need 0 <= eps_end <= eps_start <= 1", source="DQNConfig", field="eps_end")
        for name in ("batch_size", "buffer_size", "train_every", "gradient_steps", "target_update_every"):
            if getattr(self, name) < 1:
                raise bad(name, ">= 1")
        for name in ("learning_starts", "eps_decay_steps"):
            if getattr(self, name) < 0:
                raise bad(name, ">= 0")
        if self.lr <= 0:
            raise bad("lr", "> 0")


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


@dataclass
class _Counters:
    steps: int = 0  # transitions observed; drives the ε schedule and the training cadence
    updates: int = 0  # gradient steps taken; drives the target sync


def _check_mask(mask: np.ndarray, n_actions: int) -> np.ndarray:
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (n_actions,):
        raise InputError(f"mask must have shape ({n_actions},), got {mask.shape}", field="mask")
    if not mask.any():
        raise InputError("mask allows no action", field="mask", fix="always allow the control, action 0")
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

    def predict(self, state: np.ndarray, mask: np.ndarray) -> int:
        """The greedy choice: the best allowed Q-value, ties to the lowest index (the control first)."""
        return masked_argmax(self.q_values(state), _check_mask(mask, self.n_actions))

    def act(self, state: np.ndarray, mask: np.ndarray, *, greedy: bool = False) -> tuple[int, float]:
        """Pick an allowed action; return it with its probability under the acting policy (the propensity).

        ε-greedy: with probability ε a uniform draw among the allowed actions, else the best allowed one,
        so P(a) = ε/|allowed| + (1 − ε)·[a = best]. ``greedy`` (evaluation) sets ε = 0.
        """
        mask = _check_mask(mask, self.n_actions)
        best = self.predict(state, mask)
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
            raise InputError(f"action {action} is outside 0..{self.n_actions - 1}", field="action")
        if done:
            next_mask = np.zeros(self.n_actions, dtype=bool) if next_mask is None else next_mask
        else:
            if next_mask is None:
                raise InputError("a non-terminal transition needs the next state's mask", field="next_mask")
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

    def save(self, path: str | Path, meta: Mapping[str, Any] | None = None) -> None:
        """Write a checkpoint atomically; ``meta`` (what ``uiab train`` knows of the run) goes into the same file."""
        write_checkpoint(self.state_dict(), path, meta)

    @classmethod
    def load(cls, path: str | Path) -> DQNAgent:
        """Rebuild an agent from ``save``; it continues with the same Q-values, actions and losses."""
        return load_checkpoint(path).agent

    @classmethod
    def from_state_dict(cls, data: Mapping[str, Any]) -> DQNAgent:
        """The agent ``state_dict`` describes (``KeyError``, ``TypeError`` or ``RuntimeError`` if it is not one)."""
        config = dict(data["config"])
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


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the agent and what ``uiab train`` stored with it (run_id, sessions_done, actions, …)."""

    agent: DQNAgent
    meta: dict[str, Any]


def load_checkpoint(path: str | Path, *, field: str | None = None,
                    fix: str = "pass a file `uiab train --policy dqn` wrote") -> Checkpoint:
    """The agent and metadata at ``path`` (agent/checkpoint.py reads the file, an old sidecar too); anything that
    is not a DQN checkpoint is a :class:`CheckpointError` naming ``field`` and ``fix``."""
    state, meta = read_checkpoint(path, version=CHECKPOINT_VERSION, field=field, fix=fix)
    try:
        return Checkpoint(DQNAgent.from_state_dict(state), meta)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"not a uiab checkpoint ({type(exc).__name__}: {first_line(exc)})", source=str(path),
                              field=field, fix=fix) from None
