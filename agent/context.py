"""What the agent may know about a visitor, and how it becomes a fixed-size state vector.

Only *observable* context enters: the things a real site would see in a request or a page view (device
class, viewport width, touch, traffic source, page, step in the session, the action shown just before).
Persona traits — patience, vision, motor noise, intent — stay hidden, as real users' are (docs/design.md,
"Personas"); ``Context`` has no field that could carry them, and the encoder reads only its fields.

The encoding is plain and inspectable: one-hot blocks for categories and numbers scaled into [0, 1], in a
fixed order that ``StateEncoder.feature_names`` spells out. Unknown pages and traffic sources go to an
"other" slot instead of failing, because real traffic brings values no experiment file listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import numpy as np

from agent.kernel import InputError

__all__ = [
    "DEVICE_CLASSES",
    "TRAFFIC_SOURCES",
    "MAX_VIEWPORT_PX",
    "MAX_STEP",
    "Context",
    "StateEncoder",
    "classify_device",
]

DeviceClass = Literal["phone", "tablet", "desktop"]
DEVICE_CLASSES: tuple[str, ...] = ("phone", "tablet", "desktop")
# The usual analytics channel groups (direct, organic search, social, email, referral, paid); anything else
# is encoded as "other".
TRAFFIC_SOURCES: tuple[str, ...] = ("direct", "search", "social", "email", "referral", "paid")
# Widths are divided by 2560 CSS px (a QHD desktop, the widest common viewport) and clipped to [0, 1].
MAX_VIEWPORT_PX = 2560
# Steps are clipped at 20 page views: past that a session is an outlier, and the feature saturates at 1.
MAX_STEP = 20
# Material Design window size classes: "compact" (phones) below 600 dp.
_PHONE_MAX_WIDTH = 600


def classify_device(viewport_width: int, touch: bool) -> DeviceClass:
    """Device class from what a page can observe: below 600 CSS px a phone, else touch a tablet, else desktop."""
    if viewport_width < _PHONE_MAX_WIDTH:
        return "phone"
    return "tablet" if touch else "desktop"


@dataclass(frozen=True)
class Context:
    """The observable context of one decision (one page view). Persona traits never enter."""

    device_class: DeviceClass
    viewport_width: int
    touch: bool
    traffic_source: str = "direct"
    page: str = "/"
    step: int = 0  # page views before this one in the session
    previous_action: int | None = None  # the action shown on the previous page view, if any

    def __post_init__(self) -> None:
        if self.device_class not in DEVICE_CLASSES:
            raise InputError(f"device_class must be one of {DEVICE_CLASSES}, got {self.device_class!r}",
                             field="device_class")
        if self.viewport_width <= 0:
            raise InputError(f"viewport_width must be positive, got {self.viewport_width}", field="viewport_width")
        if self.step < 0:
            raise InputError(f"step must be >= 0, got {self.step}", field="step")
        if self.previous_action is not None and self.previous_action < 0:
            raise InputError(f"previous_action must be >= 0 or None, got {self.previous_action}",
                             field="previous_action")

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for the decision log."""
        return asdict(self)


def _path(page: str) -> str:
    # A full URL and its path name the same page: the encoder keys on the path only (no query, no fragment).
    return urlsplit(page).path or "/"


class StateEncoder:
    """Context → float32 vector of fixed size ``dim``.

    Layout, in order: device one-hot (3) · viewport width / 2560 (1) · touch (1) · traffic source one-hot
    (len(traffic_sources) + "other") · page one-hot (len(pages) + "other") · step / 20 (1) · previous action
    one-hot (n_actions + "none").
    """

    def __init__(self, pages: Sequence[str], n_actions: int,
                 traffic_sources: Sequence[str] = TRAFFIC_SOURCES, *,
                 max_viewport_px: int = MAX_VIEWPORT_PX, max_step: int = MAX_STEP) -> None:
        if n_actions < 1:
            raise InputError(f"n_actions must be >= 1, got {n_actions}", field="n_actions")
        if max_viewport_px <= 0 or max_step <= 0:
            raise InputError("max_viewport_px and max_step must be positive", field="max_viewport_px")
        self.pages: tuple[str, ...] = tuple(dict.fromkeys(_path(p) for p in pages))
        self.traffic_sources: tuple[str, ...] = tuple(dict.fromkeys(traffic_sources))
        self.n_actions = n_actions
        self.max_viewport_px = max_viewport_px
        self.max_step = max_step
        self._page_index = {p: i for i, p in enumerate(self.pages)}
        self._source_index = {s: i for i, s in enumerate(self.traffic_sources)}
        # (block name, width); the offsets below follow this order.
        self.layout: tuple[tuple[str, int], ...] = (
            ("device", len(DEVICE_CLASSES)),
            ("viewport", 1),
            ("touch", 1),
            ("traffic_source", len(self.traffic_sources) + 1),
            ("page", len(self.pages) + 1),
            ("step", 1),
            ("previous_action", n_actions + 1),
        )
        self._offset: dict[str, int] = {}
        start = 0
        for name, width in self.layout:
            self._offset[name] = start
            start += width
        self.dim = start

    @property
    def feature_names(self) -> list[str]:
        """One readable name per vector entry, e.g. ``device=phone`` or ``page=/cart.html``."""
        return [
            *(f"device={d}" for d in DEVICE_CLASSES),
            "viewport_width",
            "touch",
            *(f"traffic_source={s}" for s in self.traffic_sources), "traffic_source=other",
            *(f"page={p}" for p in self.pages), "page=other",
            "step",
            *(f"previous_action={a}" for a in range(self.n_actions)), "previous_action=none",
        ]

    def encode(self, ctx: Context) -> np.ndarray:
        """The state vector of one context (float32, shape ``(dim,)``)."""
        x = np.zeros(self.dim, dtype=np.float32)
        x[self._offset["device"] + DEVICE_CLASSES.index(ctx.device_class)] = 1.0
        x[self._offset["viewport"]] = min(ctx.viewport_width / self.max_viewport_px, 1.0)
        x[self._offset["touch"]] = 1.0 if ctx.touch else 0.0
        source = self._source_index.get(ctx.traffic_source, len(self.traffic_sources))
        x[self._offset["traffic_source"] + source] = 1.0
        page = self._page_index.get(_path(ctx.page), len(self.pages))
        x[self._offset["page"] + page] = 1.0
        x[self._offset["step"]] = min(ctx.step, self.max_step) / self.max_step
        if ctx.previous_action is None:
            previous = self.n_actions
        elif ctx.previous_action < self.n_actions:
            previous = ctx.previous_action
        else:
            raise InputError(f"previous_action {ctx.previous_action} is outside 0..{self.n_actions - 1}",
                             field="previous_action")
        x[self._offset["previous_action"] + previous] = 1.0
        return x

    def encode_batch(self, contexts: Sequence[Context]) -> np.ndarray:
        """State vectors of several contexts, shape ``(len(contexts), dim)``."""
        out = np.zeros((len(contexts), self.dim), dtype=np.float32)
        for i, ctx in enumerate(contexts):
            out[i] = self.encode(ctx)
        return out
