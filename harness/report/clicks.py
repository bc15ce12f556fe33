"""Clicks in page coordinates, and which (variant, device, page) get a heatmap: pure, no browser, no image."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_HEATMAPS", "MAX_PAGES", "ClickPoint", "HeatmapTarget", "click_point", "page_of", "plan_heatmaps",
           "to_image"]

MAX_HEATMAPS = 24  # over all variants: each image is ~50–150 kB inlined, and the page should stay a few MB
MAX_PAGES = 4  # heatmaps per variant and device, funnel pages first


@dataclass(frozen=True)
class ClickPoint:
    """A measured click in page CSS pixels (document coordinates, not the viewport's)."""

    x: float
    y: float
    interactive: bool = True


def click_point(event: Mapping[str, Any]) -> ClickPoint | None:
    """The click's page coordinates: ``px``/``py`` when the tracker sent them, else viewport ``x``/``y``."""
    # Events stored before the tracker sent page coordinates have only clientX/Y; at scroll 0 they agree.
    x = event.get("px", event.get("x"))
    y = event.get("py", event.get("y"))
    if not isinstance(x, int | float) or not isinstance(y, int | float):
        return None
    return ClickPoint(float(x), float(y), bool(event.get("interactive", True)))


def page_of(url: str) -> str:
    """The page a tracker URL names (path and query, no fragment)."""
    return (url or "/").split("#", 1)[0] or "/"


@dataclass(frozen=True)
class HeatmapTarget:
    variant: str
    device: str
    page: str
    points: tuple[ClickPoint, ...]


def plan_heatmaps(clicks: Mapping[tuple[str, str, str], Sequence[ClickPoint]], *, variants: Sequence[str],
                  devices: Sequence[str], funnel: Sequence[str], max_total: int = MAX_HEATMAPS,
                  max_pages: int = MAX_PAGES) -> list[HeatmapTarget]:
    """Which (variant, device, page) get a heatmap: funnel pages in order, then the most clicked; capped so
    that every variant with clicks gets its share."""
    order = {page: i for i, page in enumerate(funnel)}
    device_rank = {d: i for i, d in enumerate(devices)}
    per_variant: dict[str, list[HeatmapTarget]] = {}
    for variant in variants:
        chosen: list[HeatmapTarget] = []
        for device in sorted({d for v, d, _ in clicks if v == variant}, key=lambda d: (device_rank.get(d, 99), d)):
            pages = [(p, pts) for (v, d, p), pts in clicks.items() if v == variant and d == device and pts]
            pages.sort(key=lambda item: (order.get(item[0], len(order)), -len(item[1]), item[0]))
            chosen += [HeatmapTarget(variant, device, p, tuple(pts)) for p, pts in pages[:max_pages]]
        per_variant[variant] = chosen
    # Round-robin over variants, one device × page at a time, until the cap: no variant is crowded out.
    picked: list[HeatmapTarget] = []
    depth = 0
    while len(picked) < max_total and any(depth < len(t) for t in per_variant.values()):
        for variant in variants:
            targets = per_variant.get(variant, [])
            if depth < len(targets) and len(picked) < max_total:
                picked.append(targets[depth])
        depth += 1
    rank = {v: i for i, v in enumerate(variants)}
    return sorted(picked, key=lambda t: (rank[t.variant], device_rank.get(t.device, 99), t.device,
                                         order.get(t.page, len(order)), t.page))


def to_image(point: ClickPoint, css_size: tuple[float, float],
             image_size: tuple[int, int]) -> tuple[float, float] | None:
    """Where a page point falls in an image of ``css_size`` CSS px drawn at ``image_size`` px; None if outside."""
    css_w, css_h = css_size
    if css_w <= 0 or css_h <= 0:
        return None
    scale = image_size[0] / css_w  # one scale for both axes: the page is never stretched
    x, y = point.x * scale, point.y * scale
    if not (0 <= point.x < css_w and 0 <= point.y < css_h):
        return None
    return x, y

