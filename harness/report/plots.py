"""The report's charts as inlined PNGs: conversion intervals per arm, and a training run's learning curve.

matplotlib is imported inside the functions, on the Agg canvas (no pyplot, no display).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from io import BytesIO
from typing import TYPE_CHECKING

import numpy as np

from agent.plots import learning_curve
from harness.report.images import data_uri
from harness.run.summary import ArmSummary

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["figure_uri", "interval_plot", "learning_plot"]


def figure_uri(fig: Figure) -> str:
    """A figure as an inlined PNG at 100 dpi."""
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return data_uri(buffer.getvalue(), "image/png")


def interval_plot(arms: Mapping[str, ArmSummary], title: str) -> str | None:
    """Conversion per arm with its 95 % Wilson interval, one row per arm; None when no arm has a session."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [n for n, a in arms.items() if a.sessions]
    if not names:
        return None
    fig = Figure(figsize=(7, 0.9 + 0.42 * len(names)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    y = np.arange(len(names))[::-1]
    rates = np.array([arms[n].conversion_rate for n in names])
    low = rates - np.array([arms[n].ci_low for n in names])
    high = np.array([arms[n].ci_high for n in names]) - rates
    ax.errorbar(rates, y, xerr=[low, high], fmt="o", color="#1a56db", ecolor="#93a8d6", elinewidth=3, capsize=0)
    ax.set_yticks(y, [f"{n} (n={arms[n].sessions})" for n in names])
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("conversion (95 % Wilson interval)")
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return figure_uri(fig)


def learning_plot(rewards: Sequence[float], conversions: Sequence[bool], title: str) -> str | None:
    """Session reward (faint) with its moving average, and the moving conversion rate below it; None if empty."""
    if not rewards:
        return None
    return figure_uri(learning_curve(rewards, conversions, title=title))
