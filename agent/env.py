"""A Gymnasium environment over any :class:`agent.runner.SessionRunner`: one step per page view.

``UIABEnv`` lets third-party RL libraries train on our sites (DESIGN.md, "Agent"): an episode is one visitor's
session, an observation the encoded *observable* context of the page view (agent/context.py), an action an
entry of the action catalog (0 = the control), the reward the weighted measured total (agent/reward.py).
The API is Gymnasium's (REFERENCES.md, "Learning agent"): ``reset(*, seed=None, options=None) -> (obs,
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

The module also ships :class:`SyntheticShopRunner`, a small seeded fake site (three pages, three device
classes, the best patch differing by device) implementing the runner protocol in pure Python: for tests,
``check_env`` without a browser, and ``benchmarks/learning.py --synthetic``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agent.context import TRAFFIC_SOURCES, Context, StateEncoder
from agent.reward import RewardWeights, reward_parts
from agent.runner import PageViewState, SessionRunner, StepResult

__all__ = [
    "DEFAULT_MAX_PAGE_VIEWS",
    "UIABEnv",
    "SyntheticShopRunner",
    "SYNTHETIC_PAGES",
    "SYNTHETIC_ACTIONS",
    "SYNTHETIC_BEST",
]

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
            raise ValueError(f"the encoder knows {encoder.n_actions} actions, the runner {runner.n_actions}")
        if max_page_views < 1:
            raise ValueError(f"max_page_views must be >= 1, got {max_page_views}")
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

    def _mask_of(self, view: PageViewState) -> np.ndarray:
        mask = np.asarray(self.runner.mask(view), dtype=bool)
        if mask.shape != (self.runner.n_actions,):
            raise ValueError(f"runner.mask gave shape {mask.shape}, expected ({self.runner.n_actions},)")
        mask = mask.copy()
        mask[0] = True  # the control is always possible: nothing to apply
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
            raise RuntimeError("reset() on a closed environment")
        visitor_seed = int(self.np_random.integers(0, _SEED_BOUND))
        self._view = self.runner.start(visitor_seed)
        self._page_views = 0
        self._obs = self.encoder.encode(self._view.context)
        self._mask = self._mask_of(self._view)
        info = {"action_mask": self._mask.astype(np.int8), "context": self._view.context.to_dict(),
                "visitor_seed": visitor_seed}
        return self._obs.copy(), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` (the control if it is masked here) to the page view and let it play out."""
        if self._view is None:
            raise RuntimeError("step() before reset(), or after the episode ended: call reset()")
        requested = int(np.asarray(action).item())  # a Python int, a numpy scalar or a 1-element array
        if not self.action_space.contains(np.int64(requested)):
            raise ValueError(f"action {requested} is outside 0..{self.runner.n_actions - 1}")
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
            self._mask = self._mask_of(self._view)
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


# -- a synthetic runner: a small seeded fake shop ------------------------------------------------------------

SYNTHETIC_PAGES: tuple[str, ...] = ("/index.html", "/product.html", "/checkout.html")
SYNTHETIC_ACTIONS: tuple[str, ...] = (
    "control", "cta.enlarge", "cta.sticky", "headline.copy", "buy_box.compact", "sale_banner.hide",
)
# The slot each action needs; "#sale-banner" is on no page, so action 5 is always masked.
_REQUIRES: dict[int, str] = {1: "#add-to-cart", 2: "#add-to-cart", 3: "#hero-title", 4: "#buy-box",
                             5: "#sale-banner"}
_PRESENT: dict[str, frozenset[str]] = {
    "/index.html": frozenset({"#hero-title"}),
    "/product.html": frozenset({"#add-to-cart", "#buy-box"}),
    "/checkout.html": frozenset({"#place-order"}),
}
# (device class, viewport width, touch, share of traffic).
_DEVICES: tuple[tuple[str, int, bool, float], ...] = (
    ("phone", 390, True, 0.45), ("tablet", 820, True, 0.2), ("desktop", 1440, False, 0.35),
)
# Probability of moving on from each page under the control (on checkout: converting), per device.
_BASE: dict[str, tuple[float, float, float]] = {
    "phone": (0.70, 0.40, 0.50), "tablet": (0.72, 0.45, 0.55), "desktop": (0.75, 0.45, 0.60),
}
# The additive lift of an action on that probability, on the page it applies to. By design the best product
# page patch differs by device: sticky CTA for phones, compact buy box for tablets, larger CTA for desktops;
# the headline copy helps desktops and hurts phones.
_LIFT: dict[tuple[str, int], float] = {
    ("phone", 1): 0.05, ("phone", 2): 0.40, ("phone", 3): -0.10,
    ("tablet", 1): 0.05, ("tablet", 2): 0.00, ("tablet", 4): 0.35,
    ("desktop", 1): 0.40, ("desktop", 2): -0.20, ("desktop", 3): 0.15, ("desktop", 4): 0.00,
}
# On phones the buy box patch matches nothing (the phone layout has no buy box): a failed action.
_FAILS: frozenset[tuple[str, int]] = frozenset({("phone", 4)})
# The best action per (device, page) by construction, for tests and the benchmark's sanity line.
SYNTHETIC_BEST: dict[str, dict[str, int]] = {
    "phone": {"/index.html": 0, "/product.html": 2},
    "tablet": {"/index.html": 0, "/product.html": 4},
    "desktop": {"/index.html": 3, "/product.html": 1},
}


@dataclass
class _Visitor:
    device: str
    viewport_width: int
    touch: bool
    source: str
    # Common random numbers, one per page: the same visitor seed meets the same luck under every policy,
    # so paired evaluations compare policies and not visitors.
    u_move: np.ndarray
    u_dwell: np.ndarray
    u_scroll: np.ndarray
    u_misclick: np.ndarray
    page: int = 0
    previous_action: int | None = None
    actions: list[int] = field(default_factory=list)


class SyntheticShopRunner:
    """A seeded three-page fake shop implementing :class:`SessionRunner`, with no browser.

    A visitor (device drawn 45 / 20 / 35 % phone / tablet / desktop) lands on ``/index.html``, may move on to
    ``/product.html`` and ``/checkout.html``, and converts on checkout. Each page's probability of moving on is
    the device's base rate plus the lift of the action shown (``_LIFT``); the outcome has every key of
    ``agent.reward.OUTCOME_KEYS`` with the real runner's meanings (funnel progress cumulative over the
    session, bounce only on the first page). ``start(seed)`` fully determines the visitor and its luck.
    """

    pages: tuple[str, ...] = SYNTHETIC_PAGES
    n_actions: int = len(SYNTHETIC_ACTIONS)

    def __init__(self) -> None:
        self._live: _Visitor | None = None
        self.sessions_started = 0
        self.closed = False

    def start(self, seed: int) -> PageViewState:
        if self.closed:
            raise RuntimeError("start() on a closed runner")
        rng = np.random.default_rng(seed)
        shares = np.array([d[3] for d in _DEVICES])
        device, width, touch, _ = _DEVICES[int(rng.choice(len(_DEVICES), p=shares / shares.sum()))]
        source = TRAFFIC_SOURCES[int(rng.integers(0, 3))]  # direct, search or social
        n = len(self.pages)
        self._live = _Visitor(device, width, touch, source, u_move=rng.random(n), u_dwell=rng.random(n),
                              u_scroll=rng.random(n), u_misclick=rng.random(n))
        self.sessions_started += 1
        return self._view(self._live)

    def _view(self, live: _Visitor) -> PageViewState:
        page = self.pages[live.page]
        context = Context(device_class=live.device, viewport_width=live.viewport_width,  # type: ignore[arg-type]
                          touch=live.touch, traffic_source=live.source, page=page, step=live.page,
                          previous_action=live.previous_action)
        return PageViewState(context=context, present_selectors=_PRESENT[page])

    def mask(self, view: PageViewState) -> np.ndarray:
        mask = np.array([a == 0 or _REQUIRES[a] in view.present_selectors for a in range(self.n_actions)])
        return mask.astype(bool)

    def step(self, action: int) -> StepResult:
        live = self._live
        if live is None:
            raise RuntimeError("step() before start(), or after the session ended")
        if not 0 <= action < self.n_actions:
            raise ValueError(f"action {action} is outside 0..{self.n_actions - 1}")
        i, page = live.page, self.pages[live.page]
        applied: bool | None
        if action == 0:
            applied = None  # control: nothing shown
        else:
            applied = _REQUIRES[action] in _PRESENT[page] and (live.device, action) not in _FAILS
        lift = _LIFT.get((live.device, action), 0.0) if applied else 0.0
        p_move = min(max(_BASE[live.device][i] + lift, 0.02), 0.98)
        moved = bool(live.u_move[i] < p_move)
        last = i == len(self.pages) - 1
        outcome: dict[str, Any] = {
            "patch_applied": applied,
            "js_errors": 0,
            "dwell_ms": 3_000.0 + 20_000.0 * float(live.u_dwell[i]) + (8_000.0 if moved else 0.0),
            "scroll_depth": min(1.0, 0.3 + 0.5 * float(live.u_scroll[i]) + (0.2 if moved else 0.0)),
            "clicks": int(moved),
            "misclicks": int(live.u_misclick[i] < (0.2 if live.touch else 0.1)),
            "bounce": i == 0 and not moved,
            "goal_reached": last and moved,
            "funnel_progress": (i + 1) / len(self.pages),
        }
        live.actions.append(action)
        live.previous_action = action
        info = {"device": live.device, "page": page}
        if last or not moved:
            self._live = None
            return StepResult(outcome=outcome, next_view=None, info=info)
        live.page += 1
        return StepResult(outcome=outcome, next_view=self._view(live), info=info)

    def close(self) -> None:
        self._live = None
        self.closed = True
