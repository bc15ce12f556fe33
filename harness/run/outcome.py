"""A session's measured outcome, built only from tracker events — never from the persona's bookkeeping.

The events come from uiab's isolated world and the browser's own error reports (harness/browser/isolated.py),
which page script cannot reach; a conversion is one of the experiment's own goals, never a name from
elsewhere.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.store.database import PageViewRow

__all__ = ["PageView", "SessionResult", "session_result"]


@dataclass(frozen=True)
class PageView:
    url: str
    t_start: float
    dwell_ms: float | None
    scroll_depth: float


@dataclass(frozen=True)
class SessionResult:
    """What the tracker saw during one visitor's session."""

    pages: tuple[PageView, ...]
    clicks: int
    interactive_clicks: int
    misclicks: int
    goals: tuple[str, ...]
    js_errors: int
    console_errors: int
    blocked_requests: int
    failed_requests: int
    clicked: tuple[str, ...] = field(default=())
    patch_reports: tuple[dict[str, Any], ...] = field(default=())

    @property
    def goal_reached(self) -> bool:
        return bool(self.goals)

    @property
    def bounce(self) -> bool:
        """Left from the first page without a single interactive click."""
        return len(self.pages) <= 1 and self.interactive_clicks == 0

    @property
    def dwell_ms(self) -> float:
        return float(sum(p.dwell_ms or 0.0 for p in self.pages))

    @property
    def max_scroll_depth(self) -> float:
        return max((p.scroll_depth for p in self.pages), default=0.0)

    @property
    def misclick_rate(self) -> float:
        return self.misclicks / self.clicks if self.clicks else 0.0

    @property
    def errors(self) -> int:
        return self.js_errors + self.console_errors

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(goal_reached=self.goal_reached, bounce=self.bounce, dwell_ms=self.dwell_ms,
                    max_scroll_depth=self.max_scroll_depth, misclick_rate=self.misclick_rate)
        return data

    def page_rows(self) -> list[PageViewRow]:
        return [PageViewRow(p.url, p.t_start, p.dwell_ms, p.scroll_depth) for p in self.pages]


def session_result(events: Sequence[dict[str, Any]], *, blocked: int = 0, failed: int = 0,
                   goals: Collection[str] | None = None) -> SessionResult:
    """Fold the tracker's event stream into a :class:`SessionResult`; with ``goals``, only those names count."""
    pages: list[dict[str, Any]] = []
    clicks = interactive = misclicks = js_errors = console_errors = 0
    reached: list[str] = []
    clicked: list[str] = []
    patches: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("type")
        if kind == "page_view":
            pages.append({"url": event["url"], "t_start": event["t"], "dwell_ms": None, "scroll_depth": 0.0})
        elif kind == "page_leave":
            # A leave belongs to the latest view of that URL still open.
            for page in reversed(pages):
                if page["url"] == event["url"] and page["dwell_ms"] is None:
                    page["dwell_ms"] = float(event["dwell_ms"])
                    page["scroll_depth"] = max(page["scroll_depth"], float(event.get("scroll_depth", 0)))
                    break
        elif kind == "scroll" and pages:
            pages[-1]["scroll_depth"] = max(pages[-1]["scroll_depth"], float(event.get("depth", 0)))
        elif kind == "click":
            clicks += 1
            if event.get("interactive"):
                interactive += 1
                clicked.append(str(event.get("selector", "")))
        elif kind == "misclick":
            misclicks += 1
        elif kind == "goal" and event.get("goal") not in reached and (goals is None or event.get("goal") in goals):
            reached.append(str(event["goal"]))
        elif kind == "js_error":
            js_errors += 1
        elif kind == "console_error":
            console_errors += 1
        elif kind == "patch":
            patches.append({k: v for k, v in event.items() if k not in ("type", "t", "seq")})
    return SessionResult(
        pages=tuple(PageView(**p) for p in pages),
        clicks=clicks,
        interactive_clicks=interactive,
        misclicks=misclicks,
        goals=tuple(reached),
        js_errors=js_errors,
        console_errors=console_errors,
        blocked_requests=blocked,
        failed_requests=failed,
        clicked=tuple(clicked),
        patch_reports=tuple(patches),
    )
