"""The learning curve: session reward (faint), its moving average (bold), and optionally the moving conversion rate.

One drawing for the training PNG and the HTML report. It returns a matplotlib ``Figure`` on the Agg canvas, not
pyplot: no global backend switch, no display needed, safe in threads. matplotlib is imported inside the function,
so importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["default_window", "learning_curve", "moving_average"]


def default_window(n: int) -> int:
    """The moving average's span for ``n`` sessions: a tenth of the run, between 1 and 100."""
    return max(1, min(100, n // 10))


def moving_average(values: ArrayLike, window: int) -> np.ndarray:
    """The mean of each run of ``window`` consecutive values (``len(values) - window + 1`` of them; none if fewer)."""
    y = np.asarray(values, dtype=np.float64)
    if window < 1 or len(y) < window:
        return np.empty(0, dtype=np.float64)
    return np.convolve(y, np.ones(window) / window, mode="valid")


def learning_curve(rewards: Sequence[float], conversions: Sequence[bool] | None = None, *, title: str,
                   window: int | None = None) -> Figure:
    """Session reward per session with its moving average; with ``conversions``, the moving conversion rate in a
    panel below. ``window`` defaults to :func:`default_window` of the run. Save it with ``fig.savefig(...)``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    y = np.asarray(rewards, dtype=np.float64)
    window = window or default_window(len(y))
    x = np.arange(1, len(y) + 1)
    if conversions is None:
        fig = Figure(figsize=(8, 4.5), dpi=100)
        FigureCanvasAgg(fig)
        top = fig.add_subplot()
        bottom = None
    else:
        fig = Figure(figsize=(8, 5), dpi=100)
        FigureCanvasAgg(fig)
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    top.plot(x, y, color="tab:blue", alpha=0.25, linewidth=0.8, label="session reward")
    if len(y) >= window:
        top.plot(x[window - 1:], moving_average(y, window), color="tab:blue", linewidth=2.0,
                 label=f"moving average ({window})")
    top.set_ylabel("reward")
    top.set_title(title, fontsize=10, loc="left")
    top.grid(alpha=0.3)
    if len(y):
        top.legend(loc="lower right", fontsize=8)
    if bottom is None or conversions is None:
        top.set_xlabel("session")
    else:
        if conversions:
            c = np.asarray(conversions[:len(y)], dtype=np.float64)
            if len(c) >= window:
                bottom.plot(np.arange(window, len(c) + 1), moving_average(c, window), color="tab:green",
                            linewidth=2.0)
            bottom.set_ylim(-0.05, 1.05)
        bottom.set_ylabel(f"conversion ({window})")
        bottom.set_xlabel("session")
        bottom.grid(alpha=0.3)
    fig.tight_layout()
    return fig
