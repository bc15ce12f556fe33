"""The report's raster images: click heatmaps over a page screenshot, screenshot thumbnails, data URIs.

Pillow, scipy and matplotlib's colour map are imported inside the functions that draw.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import numpy as np

from harness.report.clicks import ClickPoint, to_image

__all__ = ["HEATMAP_WIDTH", "MAX_CSS_HEIGHT", "SHOT_HEIGHT", "SHOT_WIDTH", "Shot", "data_uri", "render_heatmap",
           "thumbnail"]

HEATMAP_WIDTH = 480  # px of an inlined heatmap; phones (390 CSS px) stay at their CSS width
SHOT_WIDTH = 400  # px of an inlined screenshot in the side-by-side section (phones stay near their CSS width)
SHOT_HEIGHT = 1200  # px: the top of the page; below that a patch rarely changes what the visitor decides on
MAX_CSS_HEIGHT = 2400  # CSS px of a page drawn; a longer page is cropped (its clicks below are counted, not drawn)
JPEG_QUALITY = 72
CLICK_SIGMA_CSS = 22.0  # the density's smoothing: about a fingertip (≈ 9 mm at 96 CSS px per inch)


@dataclass(frozen=True)
class Shot:
    """A page screenshot at CSS scale (1 image px per CSS px), cropped to :data:`MAX_CSS_HEIGHT`."""

    png: bytes
    css_width: float
    css_height: float
    page_height: float  # the whole page's height in CSS px, before any crop


def data_uri(data: bytes, mime: str) -> str:
    """``data`` inlined as a ``data:`` URI (the page fetches nothing)."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _jpeg(image: Any) -> bytes:
    out = BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def render_heatmap(shot: Shot | None, points: Sequence[ClickPoint], *,
                   viewport: tuple[float, float] = (1280, 720)) -> tuple[bytes, int, int]:
    """JPEG of the page with the clicks' smoothed density and the clicks themselves; (image, drawn, outside).

    Without a screenshot the clicks are drawn on a blank page of the device's width, so a heatmap still exists.
    The density is coloured with matplotlib's ``turbo`` map and blended with numpy: a matplotlib figure per
    heatmap cost ~0.7 s each on 2 busy cores, this costs a few tens of milliseconds.
    """
    import matplotlib
    from PIL import Image, ImageDraw
    from scipy.ndimage import gaussian_filter

    if shot is not None:
        page = Image.open(BytesIO(shot.png)).convert("RGB")
        css_w, css_h = shot.css_width, shot.css_height
    else:
        deepest = max((p.y for p in points), default=0.0)
        css_w, css_h = viewport[0], min(MAX_CSS_HEIGHT, max(viewport[1], deepest + 40))
        page = Image.new("RGB", (round(css_w), round(css_h)), "#f3f4f6")
    css_h = min(css_h, MAX_CSS_HEIGHT)
    page = page.crop((0, 0, page.width, min(page.height, round(css_h * page.width / css_w))))
    out_w = min(HEATMAP_WIDTH, round(css_w))
    out_h = max(1, round(css_h * out_w / css_w))
    page = page.resize((out_w, out_h), Image.Resampling.LANCZOS)
    placed = [(p, to_image(p, (css_w, css_h), (out_w, out_h))) for p in points]
    inside = [(p, xy) for p, xy in placed if xy is not None]
    if inside:
        cell = 2  # density in 2-px cells, smoothed, then scaled up: cheap, and smooth at this size
        grid = np.zeros((out_h // cell + 1, out_w // cell + 1))
        for _, (x, y) in inside:
            grid[min(int(y) // cell, grid.shape[0] - 1), min(int(x) // cell, grid.shape[1] - 1)] += 1.0
        grid = gaussian_filter(grid, sigma=max(1.0, CLICK_SIGMA_CSS * out_w / css_w / cell))
        grid /= grid.max() or 1.0
        density = np.asarray(Image.fromarray(grid.astype(np.float32), mode="F")
                             .resize((out_w, out_h), Image.Resampling.BILINEAR), dtype=np.float64)
        # Colour by density and fade the alpha with it: no hard edge, and the page shows through.
        colour = matplotlib.colormaps["turbo"](density)[..., :3]
        alpha = np.clip(density * 1.2, 0.0, 0.6)[..., None]
        blended = np.asarray(page, dtype=np.float64) / 255 * (1 - alpha) + colour * alpha
        page = Image.fromarray(np.clip(blended * 255, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(page)
        for point, (x, y) in inside:
            if point.interactive:
                draw.ellipse((x - 3.5, y - 3.5, x + 3.5, y + 3.5), fill="#ffffff", outline="#111827", width=1)
            else:
                draw.line((x - 4, y - 4, x + 4, y + 4), fill="#dc2626", width=2)
                draw.line((x - 4, y + 4, x + 4, y - 4), fill="#dc2626", width=2)
    return _jpeg(page), len(inside), len(points) - len(inside)


def thumbnail(png: bytes, width: int = SHOT_WIDTH, max_height: int = SHOT_HEIGHT) -> str:
    """A screenshot as an inlined JPEG at most ``width`` px wide, cropped to its top ``max_height`` px."""
    from PIL import Image

    image = Image.open(BytesIO(png)).convert("RGB")
    if image.width > width:
        image = image.resize((width, max(1, round(image.height * width / image.width))), Image.Resampling.LANCZOS)
    if image.height > max_height:
        image = image.crop((0, 0, image.width, max_height))
    return data_uri(_jpeg(image), "image/jpeg")

