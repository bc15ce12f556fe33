"""Published human-factors laws as pure formulas: Fitts, Hick–Hyman, reading time, Weibull patience and
attention by screenful (NN/g). Each cites its source; docs/references.md lists them all."""

from __future__ import annotations

import math

from personas.model import Patience
from personas.snapshot import Box

__all__ = [
    "MIN_MOVE_MS",
    "NNG_SCREEN_SHARES",
    "NNG_TAIL_SHARE",
    "fitts_ms",
    "hick_ms",
    "width_along",
    "leave_probability",
    "patience_deadline_ms",
    "reading_ms",
    "attention_share",
]

# ACT-R 7 motor module: minimum movement (execution) time 0.1 s; the 0.05 s to start one is ``fitts_a_ms``.
MIN_MOVE_MS = 100.0
# NN/g eye-tracking (2018): share of viewing time per screenful, 57/17/7/5/3/2 %; the other 9 % is spread thin
# further down, taken here as 1 % a screen.
NNG_SCREEN_SHARES: tuple[float, ...] = (57.0, 17.0, 7.0, 5.0, 3.0, 2.0)
NNG_TAIL_SHARE = 1.0


def fitts_ms(distance_px: float, width_px: float, a_ms: float, b_ms: float) -> float:
    """Fitts, Shannon form (MacKenzie): a + b·log2(D/W + 1), the execution part at least ACT-R's 0.1 s."""
    index = math.log2(max(distance_px, 0.0) / max(width_px, 1e-6) + 1.0)
    return a_ms + max(MIN_MOVE_MS, b_ms * index)


def hick_ms(n: int, a_ms: float, b_ms: float) -> float:
    """Hick–Hyman: T = a + b·log2(n + 1) for n equally likely alternatives (Hick 1952, Hyman 1953)."""
    return a_ms + b_ms * math.log2(max(n, 0) + 1)


def width_along(box: Box, dx: float, dy: float) -> float:
    """Target width along the approach direction (the chord through the centre); the smaller side at D = 0."""
    length = math.hypot(dx, dy)
    if length == 0:
        return min(box.width, box.height)
    ux, uy = abs(dx) / length, abs(dy) / length
    along_x = box.width / ux if ux > 0 else math.inf
    along_y = box.height / uy if uy > 0 else math.inf
    return min(along_x, along_y)


def leave_probability(patience: Patience, t_ms: float, dt_ms: float, hazard_ratio: float = 1.0) -> float:
    """P(leave during Δt | stayed t) = 1 − (S(t+Δt)/S(t))^r, S the Weibull survival of the page dwell.

    ``hazard_ratio`` r scales the Weibull hazard (proportional hazards); r = 1 is the plain 1 − S(t+Δt)/S(t).
    """
    lam, k = patience.scale_s * 1000.0, patience.shape
    # log S(t) = −(t/λ)^k; the difference avoids 0/0 far in the tail.
    log_ratio = (max(t_ms, 0.0) / lam) ** k - (max(t_ms + dt_ms, 0.0) / lam) ** k
    return float(-math.expm1(hazard_ratio * log_ratio))


def patience_deadline_ms(patience: Patience, t_ms: float, u: float, hazard_ratio: float = 1.0) -> float:
    """Page time at which patience runs out, drawn from the Weibull conditional on having stayed ``t_ms``.

    Inverse of (S(T)/S(t))^r = u: T = λ·((t/λ)^k − ln(u)/r)^(1/k). Re-drawn every step, it has the same law as
    one draw per page view, so page dwell follows the Weibull exactly when nothing else ends the visit.
    """
    lam, k = patience.scale_s * 1000.0, patience.shape
    u = min(max(u, 1e-300), 1.0)
    return lam * ((max(t_ms, 0.0) / lam) ** k - math.log(u) / max(hazard_ratio, 1e-12)) ** (1.0 / k)


def reading_ms(words: float, wpm: float, fraction: float) -> float:
    """Time to read ``fraction`` of ``words`` at ``wpm`` (Nielsen 2008: people read ≤ 28 % of a page)."""
    return max(words, 0.0) * fraction / wpm * 60_000.0


def attention_share(screen: int, fold_bias: float) -> float:
    """Relative attention to screenful ``screen`` (0 = above the fold): NN/g shares, blended by fold_bias."""
    share = NNG_SCREEN_SHARES[screen] if 0 <= screen < len(NNG_SCREEN_SHARES) else NNG_TAIL_SHARE
    return (1.0 - fold_bias) + fold_bias * share / NNG_SCREEN_SHARES[0]
