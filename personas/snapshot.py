"""What a persona perceives of a page: typed views of the one in-page snapshot (``snapshot.js``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agent.kernel.pagejs import with_page_common

__all__ = ["SNAPSHOT_JS", "SNAPSHOT_JSON_JS", "Box", "Candidate", "TextBlock", "PageSnapshot"]

# One function expression; the harness runs it with ``page.evaluate(SNAPSHOT_JS, args)`` and hands the
# result to ``PageSnapshot.from_dict``. Nothing here imports the browser (harness → personas, never back).
SNAPSHOT_JS: str = with_page_common((Path(__file__).parent / "snapshot.js").read_text(encoding="utf-8"))
# The same snapshot handed back as one JSON string (read it with ``PageSnapshot.from_json``): Playwright's
# transfer of a nested object costs more than taking the snapshot — on the demo shop's product page about
# 15 ms a round trip against 4 ms as a string, with ~1 ms spent in the page either way.
SNAPSHOT_JSON_JS: str = f"(args) => JSON.stringify(({SNAPSHOT_JS.strip()})(args))"


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned rectangle in CSS px (document or viewport coordinates, as its owner says)."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    @property
    def cx(self) -> float:
        return self.x + self.width / 2

    @property
    def cy(self) -> float:
        return self.y + self.height / 2

    @property
    def area(self) -> float:
        return self.width * self.height

    def contains(self, px: float, py: float) -> bool:
        """True when the point lies inside (edges included), as a hit test would count it."""
        return self.x <= px <= self.right and self.y <= py <= self.bottom

    def shifted(self, dx: float, dy: float) -> Box:
        return Box(self.x + dx, self.y + dy, self.width, self.height)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Box:
        return cls(float(d["x"]), float(d["y"]), float(d["width"]), float(d["height"]))


@dataclass(frozen=True, slots=True)
class Candidate:
    """One interactive element as rendered: geometry, visibility, hit test, colours, type, name."""

    index: int
    selector: str  # the tracker's selector for the same element (same algorithm)
    tag: str
    name: str  # accessible name (aria-labelledby, aria-label, label, text with alt, title)
    text: str  # visible text
    bbox: Box  # document coordinates
    vbox: Box  # viewport coordinates at snapshot time
    aim_x: float  # aim point (centre of the largest line box), document coordinates
    aim_y: float
    visible: float  # fraction of the box inside the document and not hidden or clipped by an ancestor
    in_viewport: float  # fraction of the box that is visible and inside the viewport
    occluded: bool | None  # hit test at the aim point hits something else; None when the point is off-screen
    contrast: float  # WCAG ratio of text colour on the effective background
    fill_contrast: float  # the element's own background against its surroundings (1.0 = no fill)
    font_size_px: float
    font_weight: int
    color: tuple[int, int, int] = (0, 0, 0)
    background: tuple[int, int, int] = (255, 255, 255)
    role: str | None = None
    type: str | None = None
    href: str | None = None
    occluder: str | None = None
    disabled: bool = False
    fixed: bool = False  # position fixed or sticky: stays put when the page scrolls

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Candidate:
        return cls(
            index=int(d["index"]), selector=str(d["selector"]), tag=str(d["tag"]),
            name=str(d.get("name") or ""), text=str(d.get("text") or ""),
            bbox=Box.from_dict(d["bbox"]), vbox=Box.from_dict(d["vbox"]),
            aim_x=float(d["aim"]["x"]), aim_y=float(d["aim"]["y"]),
            visible=float(d["visible"]), in_viewport=float(d["in_viewport"]),
            occluded=None if d.get("occluded") is None else bool(d["occluded"]),
            contrast=float(d["contrast"]), fill_contrast=float(d.get("fill_contrast", 1.0)),
            font_size_px=float(d["font_size_px"]), font_weight=int(d.get("font_weight", 400)),
            color=_rgb(d.get("color"), (0, 0, 0)), background=_rgb(d.get("background"), (255, 255, 255)),
            role=d.get("role"), type=d.get("type"), href=d.get("href"), occluder=d.get("occluder"),
            disabled=bool(d.get("disabled", False)), fixed=bool(d.get("fixed", False)),
        )


@dataclass(frozen=True, slots=True)
class TextBlock:
    """A paragraph-ish element and how many visible words it holds."""

    selector: str
    tag: str
    words: int
    bbox: Box  # document coordinates
    font_size_px: float = 16.0

    @property
    def y(self) -> float:
        return self.bbox.y

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TextBlock:
        return cls(selector=str(d["selector"]), tag=str(d["tag"]), words=int(d["words"]),
                   bbox=Box.from_dict(d["bbox"]), font_size_px=float(d.get("font_size_px", 16.0)))


@dataclass(frozen=True, slots=True)
class PageSnapshot:
    """One page state as the persona sees it; viewport and scroll in CSS px."""

    url: str
    viewport_width: float
    viewport_height: float
    scroll_x: float
    scroll_y: float
    scroll_width: float
    scroll_height: float
    candidates: tuple[Candidate, ...]
    text_blocks: tuple[TextBlock, ...]
    total_words: int
    title: str = ""
    device_pixel_ratio: float = 1.0

    @property
    def max_scroll_y(self) -> float:
        return max(0.0, self.scroll_height - self.viewport_height)

    def viewport_box(self, c: Candidate) -> Box:
        """The candidate's box in viewport coordinates for this snapshot's scroll position."""
        return c.bbox.shifted(-self.scroll_x, -self.scroll_y)

    def by_selector(self, selector: str) -> Candidate | None:
        return next((c for c in self.candidates if c.selector == selector), None)

    def scrolled_to(self, y: float) -> PageSnapshot:
        """The same page re-projected to scroll position ``y`` without the browser (for replay and tests).

        Exact for static pages; fixed/sticky elements keep their viewport place; occlusion is kept only where
        the aim point stays on screen, else unknown (None); the in-view share assumes clipping is uniform.
        """
        y = min(max(y, 0.0), self.max_scroll_y)
        dy = y - self.scroll_y
        moved = []
        for c in self.candidates:
            bbox = c.bbox.shifted(0, dy) if c.fixed else c.bbox
            aim_y = c.aim_y + dy if c.fixed else c.aim_y
            vbox = bbox.shifted(-self.scroll_x, -y)
            overlap_w = max(0.0, min(vbox.right, self.viewport_width) - max(vbox.x, 0.0))
            overlap_h = max(0.0, min(vbox.bottom, self.viewport_height) - max(vbox.y, 0.0))
            share = overlap_w * overlap_h / bbox.area if bbox.area > 0 else 0.0
            on_screen = (0 <= aim_y - y < self.viewport_height
                         and 0 <= c.aim_x - self.scroll_x < self.viewport_width)
            was_on = 0 <= c.aim_y - self.scroll_y < self.viewport_height
            moved.append(replace(c, bbox=bbox, vbox=vbox, aim_y=aim_y, in_viewport=c.visible * share,
                                 occluded=c.occluded if on_screen and was_on else None))
        return replace(self, scroll_y=y, candidates=tuple(moved))

    @classmethod
    def from_json(cls, text: str) -> PageSnapshot:
        """Build from the string that ``SNAPSHOT_JSON_JS`` returns."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PageSnapshot:
        """Build from what ``SNAPSHOT_JS`` returns (or a hand-made dict of the same shape)."""
        viewport, scroll = d["viewport"], d["scroll"]
        return cls(
            url=str(d.get("url", "")),
            viewport_width=float(viewport["width"]), viewport_height=float(viewport["height"]),
            scroll_x=float(scroll.get("x", 0.0)), scroll_y=float(scroll.get("y", 0.0)),
            scroll_width=float(scroll.get("width", viewport["width"])),
            scroll_height=float(scroll["height"]),
            candidates=tuple(Candidate.from_dict(c) for c in d.get("candidates", ())),
            text_blocks=tuple(TextBlock.from_dict(b) for b in d.get("text_blocks", ())),
            total_words=int(d.get("total_words", 0)),
            title=str(d.get("title", "")),
            device_pixel_ratio=float(d.get("device_pixel_ratio", 1.0)),
        )


def _rgb(value: Sequence[Any] | None, default: tuple[int, int, int]) -> tuple[int, int, int]:
    if not value:
        return default
    return (int(value[0]), int(value[1]), int(value[2]))
