"""A Gymnasium environment over any :class:`agent.runner.SessionRunner`: one step per page view.

``UIABEnv`` lets third-party RL libraries train on our sites (docs/design.md, "Agent"): an episode is one visitor's
session, an observation the encoded *observable* context of the page view (agent/context.py), an action an
entry of the action catalog (0 = the control), the reward the weighted measured total (agent/reward.py).
The API is Gymnasium's (docs/references.md, "Learning agent"): ``reset(*, seed=None, options=None) -> (obs,
info)`` and ``step(a) -> (obs, reward, terminated, truncated, info)``; ``check_env`` passes.

Action masking. Patches whose slot is absent from the page make no sense there. ``info["action_mask"]``
(after ``reset`` and every ``step``) is the mask of the page view the next action applies to, as ``np.int8``
so ``env.action_space.sample(mask=info["action_mask"])`` works; ``env.action_masks()`` returns it as booleans
(the sb3-contrib ``MaskablePPO`` convention). Libraries that ignore masks still work: **an action that is
invalid on the page is applied as the control (action 0)**, and the step's info says so —
``info["masked_action"] = True``, ``info["requested_action"]`` the action asked for, ``info["action"]`` the one
applied (0). The agent is not penalised beyond the control's measured reward; it just learns nothing is gained.

Episode ends. ``terminated`` when the session ends (the visitor left, converted, or ran out of steps);
``truncated`` when ``max_page_views`` page views have been played and the visitor is still on the site (the
observation is then the real next page view, so learners can bootstrap from it); the next ``reset`` starts a
new visitor and the runner abandons the old one (``SessionRunner.start`` does). After termination the
observation repeats the last page view's (a copy) and the mask allows only the control: there is no next page.

Seeding: ``reset(seed=s)`` seeds the env's ``np_random`` and the visitor seed is drawn from it, so the same
seed gives the same visitor, the same page views and — for a deterministic runner — the same outcomes.

Persona traits never reach the agent: the runner's own step info (which names the persona) stays out of the
env's info; only the observable context (``info["context"]``) goes in.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agent.context import StateEncoder
from agent.kernel import InputError
from agent.reward import RewardWeights, reward_parts
from agent.runner import PageViewState, SessionRunner, StepResult, page_mask

__all__ = ["DEFAULT_MAX_PAGE_VIEWS", "UIABEnv"]

# Personas give up after at most ~20 page views in practice; the encoder's step feature also saturates at 20
# (agent/context.py, MAX_STEP), so later page views would look identical to the agent anyway.
DEFAULT_MAX_PAGE_VIEWS = 20
_SEED_BOUND = 2**31 - 1  # visitor seeds drawn in [0, 2^31 - 1): fit every runner's int, and numpy's seeds


class UIABEnv(gym.Env[np.ndarray, np.int64]):
    """One visitor session per episode, one page view per step, over any :class:`SessionRunner`.

    The env does not own the runner's lifetime by default: ``close()`` closes the runner only when
    ``close_runner=True`` (pass that when the env is the runner's only user).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, runner: SessionRunner, encoder: StateEncoder, *, weights: RewardWeights | None = None,
                 max_page_views: int = DEFAULT_MAX_PAGE_VIEWS, close_runner: bool = False) -> None:
        super().__init__()
        if encoder.n_actions != runner.n_actions:
            raise InputError(f"the encoder knows {encoder.n_actions} actions, the runner {runner.n_actions}",
                             field="encoder", fix="build the runner and the encoder from one catalog")
        if max_page_views < 1:
            raise InputError(f"max_page_views must be >= 1, got {max_page_views}", field="max_page_views")
        self.runner = runner
        self.encoder = encoder
        self.weights = weights or RewardWeights()
        self.max_page_views = max_page_views
        self.close_runner = close_runner
        # Every encoder entry is a one-hot or a number already scaled into [0, 1] (agent/context.py).
        self.observation_space = spaces.Box(0.0, 1.0, shape=(encoder.dim,), dtype=np.float32)
        self.action_space = spaces.Discrete(runner.n_actions)
        self._view: PageViewState | None = None
        self._obs = np.zeros(encoder.dim, dtype=np.float32)
        self._mask = self._control_only()
        self._page_views = 0
        self._closed = False

    # -- helpers -------------------------------------------------------------------------------------------

    def _control_only(self) -> np.ndarray:
        mask = np.zeros(self.runner.n_actions, dtype=bool)
        mask[0] = True
        return mask

    def action_masks(self) -> np.ndarray:
        """Booleans over actions: which are valid on the current page view (sb3-contrib's hook)."""
        return self._mask.copy()

    # -- the Gymnasium API -----------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """A new visitor arrives; the observation is its first page view. ``info["visitor_seed"]`` names it."""
        super().reset(seed=seed)
        if self._closed:
            raise InputError("reset() on a closed environment", fix="make a new UIABEnv")
        visitor_seed = int(self.np_random.integers(0, _SEED_BOUND))
        self._view = self.runner.start(visitor_seed)
        self._page_views = 0
        self._obs = self.encoder.encode(self._view.context)
        self._mask = page_mask(self.runner, self._view)
        info = {"action_mask": self._mask.astype(np.int8), "context": self._view.context.to_dict(),
                "visitor_seed": visitor_seed}
        return self._obs.copy(), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` (the control if it is masked here) to the page view and let it play out."""
        if self._view is None:
            raise InputError("step() before reset(), or after the episode ended", fix="call reset()")
        requested = int(np.asarray(action).item())  # a Python int, a numpy scalar or a 1-element array
        if not self.action_space.contains(np.int64(requested)):
            raise InputError(f"action {requested} is outside 0..{self.runner.n_actions - 1}", field="action")
        masked = not bool(self._mask[requested])
        applied = 0 if masked else requested
        result: StepResult = self.runner.step(applied)
        parts = reward_parts(result.outcome, self.weights)
        self._page_views += 1

        terminated = result.next_view is None
        truncated = not terminated and self._page_views >= self.max_page_views
        if terminated:
            self._view = None
            self._mask = self._control_only()
            obs = self._obs.copy()  # no next page: repeat the last observation
        else:
            assert result.next_view is not None
            self._view = result.next_view
            self._obs = self.encoder.encode(self._view.context)
            self._mask = page_mask(self.runner, self._view)
            obs = self._obs.copy()
        if truncated:
            self._view = None  # the runner abandons this visitor at the next start()
        info: dict[str, Any] = {
            "action": applied,
            "requested_action": requested,
            "masked_action": masked,
            "reward_parts": parts.to_dict(),
            "outcome": dict(result.outcome),
            "action_mask": self._mask.astype(np.int8),
            "page_views": self._page_views,
        }
        if not terminated:
            info["context"] = result.next_view.context.to_dict()  # type: ignore[union-attr]
        return obs, float(parts.total), terminated, truncated, info

    def close(self) -> None:
        """Close the runner when this env owns it (``close_runner=True``); calling twice is fine."""
        self._view = None
        if self.close_runner and not self._closed:
            self.runner.close()
            self._closed = True
