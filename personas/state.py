"""What a persona carries from step to step (``PersonaState``) and what one step decides (``Decision``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = ["Decision", "DecisionKind", "PersonaState"]

DecisionKind = Literal["click", "scroll", "leave"]


@dataclass(frozen=True, slots=True)
class PersonaState:
    """What the persona carries from step to step; immutable — ``advance`` returns the next one."""

    url: str | None = None  # page the page-level fields belong to
    step: int = 0  # steps taken in the session
    page_step: int = 0  # steps taken on this page view
    pages_seen: int = 0  # page views started
    page_ms: float = 0.0  # virtual time on this page view
    session_ms: float = 0.0
    pointer: tuple[float, float] | None = None  # viewport coordinates; None = viewport centre
    # selector → clicks on this page that hit it (a navigation resets the page-level fields)
    clicked: Mapping[str, int] = field(default_factory=dict)
    # text block selector → the document y-span of it seen so far on this page
    read: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    seen: frozenset[str] = frozenset()  # relevant targets noticed on this page (recalled after scrolling)
    page_seed: int = 0  # drawn when the page view starts: what is noticed stays noticed on this page

    def on_page(self, url: str) -> PersonaState:
        """A new page view starts (navigation): page-level memory and the page clock reset."""
        return replace(self, url=url, page_step=0, pages_seen=self.pages_seen + 1, page_ms=0.0,
                       clicked={}, read={}, seen=frozenset(), page_seed=0)

    def advance(self, decision: Decision, *, hit: bool = True) -> PersonaState:
        """The state after acting on ``decision``; ``hit=False``: the click missed, so it is not held against
        the target (the persona tries again)."""
        base = self if decision.url == self.url else self.on_page(decision.url)
        clicked = dict(base.clicked)
        if decision.kind == "click" and hit and decision.selector is not None:
            clicked[decision.selector] = clicked.get(decision.selector, 0) + 1
        read = dict(base.read)
        read.update(dict(decision.read_spans))
        return replace(
            base, step=base.step + 1, page_step=base.page_step + 1,
            page_ms=base.page_ms + decision.total_ms, session_ms=base.session_ms + decision.total_ms,
            pointer=decision.pointer, clicked=clicked, read=read, seen=base.seen | frozenset(decision.seen),
            page_seed=decision.page_seed,
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """One step's choice and the virtual time it takes; coordinates are viewport CSS px."""

    kind: DecisionKind
    url: str
    reason: str
    probability: float  # of this choice, given what was perceived this step
    target: int | None = None  # candidate index in the snapshot (click, or the target a scroll reveals)
    selector: str | None = None
    x: float | None = None  # click point (aim + noise); for a scroll, where the wheel/swipe happens
    y: float | None = None
    scroll_dy: float = 0.0  # > 0 scrolls down
    read_ms: float = 0.0
    think_ms: float = 0.0
    move_ms: float = 0.0
    total_ms: float = 0.0  # time on the page this step takes (for a leave: until the visitor is gone)
    pointer: tuple[float, float] | None = None  # pointer position after the step
    words_read: float = 0.0  # newly visible words this step (before the reading fraction)
    read_spans: tuple[tuple[str, tuple[float, float]], ...] = ()  # for PersonaState.advance
    seen: tuple[str, ...] = ()  # for PersonaState.advance
    page_seed: int = 0  # for PersonaState.advance

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields for the decision log (the bookkeeping for ``advance`` left out)."""
        return {
            "kind": self.kind, "url": self.url, "reason": self.reason, "probability": self.probability,
            "target": self.target, "selector": self.selector, "x": self.x, "y": self.y,
            "scroll_dy": self.scroll_dy, "read_ms": self.read_ms, "think_ms": self.think_ms,
            "move_ms": self.move_ms, "total_ms": self.total_ms,
        }
