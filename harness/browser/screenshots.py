"""Control and patched screenshots side by side, one image per page and device."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

__all__ = ["side_by_side"]



def side_by_side(left: Path, right: Path, out: Path, *, labels: tuple[str, str]) -> Path:
    """Write ``left | right`` with a caption over each half; returns ``out``."""
    with Image.open(left) as a, Image.open(right) as b:
        # Screenshots of phones are taken at device scale (3x); the caption scales with them.
        size = max(14, a.width // 36)
        gap, label_h = size, size * 2
        width = a.width + gap + b.width
        height = max(a.height, b.height) + label_h
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(a.convert("RGB"), (0, label_h))
        canvas.paste(b.convert("RGB"), (a.width + gap, label_h))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=size)
    draw.rectangle((a.width, 0, a.width + gap - 1, height), fill="#d0d4da")
    draw.text((size // 2, size // 2), labels[0], fill="black", font=font)
    draw.text((a.width + gap + size // 2, size // 2), labels[1], fill="black", font=font)
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)
    return out
