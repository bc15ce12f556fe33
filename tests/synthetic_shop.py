"""A small seeded fake shop implementing :class:`agent.runner.SessionRunner` in pure Python: no browser.

Three pages, three device classes, the best patch differing by device, so a learner has something to learn and
the answer is known (``SYNTHETIC_BEST``). For tests, ``check_env`` without a browser, and
``benchmarks/learning.py --synthetic``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.context import TRAFFIC_SOURCES, Context
from agent.runner import PageViewState, StepResult

__all__ = ["SyntheticShopRunner", "SYNTHETIC_PAGES", "SYNTHETIC_ACTIONS", "SYNTHETIC_BEST"]

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
