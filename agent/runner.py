"""The small runner protocol through which agent code drives sessions without importing the browser.

``harness`` hands the agent a browser-backed runner (real Chromium, real personas); tests can hand it a
recorded or synthetic one. One call of :meth:`SessionRunner.step` is one page view: the chosen action's
patch is applied to the page the visitor has just arrived on, the persona acts until it leaves that page
(navigates on, leaves the site, or the session ends), and the tracker's measurements of that page view
come back as the plain outcome dict that :func:`agent.reward.reward_parts` takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from agent.context import Context
from agent.kernel import InputError

__all__ = ["PageViewState", "StepResult", "SessionRunner", "page_mask"]


@dataclass(frozen=True)
class PageViewState:
    """What the agent may know when a page view starts: observable context and which slots are present."""

    context: Context
    present_selectors: frozenset[str]


@dataclass(frozen=True)
class StepResult:
    """The measured outcome of one page view, and the next page view (``None`` when the session ended)."""

    outcome: Mapping[str, Any]  # the keys of agent.reward.OUTCOME_KEYS, measured by the in-page tracker
    next_view: PageViewState | None
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.next_view is None


class SessionRunner(Protocol):
    """Starts visitors and runs one page view per step; implementations decide where sessions run."""

    pages: tuple[str, ...]  # the site's pages the encoder knows (the funnel's, in order)
    n_actions: int

    def start(self, seed: int) -> PageViewState:
        """A new visitor arrives (persona drawn from the mix with ``seed``); its first page view begins."""
        ...

    def step(self, action: int) -> StepResult:
        """Apply ``action`` (an index into the action catalog) to the current page view and let it play out."""
        ...

    def mask(self, view: PageViewState) -> Any:
        """Boolean array over actions: which make sense on this page view (their slot is present)."""
        ...

    def close(self) -> None:
        """Release the browser (or whatever backs the runner)."""
        ...


def page_mask(runner: SessionRunner, view: PageViewState) -> np.ndarray:
    """``runner.mask(view)`` as a boolean array of our own, with the control always allowed (nothing to apply)."""
    mask = np.array(runner.mask(view), dtype=bool)  # a copy: the runner's array is not ours to change
    if mask.shape != (runner.n_actions,):
        raise InputError(f"runner.mask gave shape {mask.shape}, expected ({runner.n_actions},)", field="mask")
    mask[0] = True
    return mask
