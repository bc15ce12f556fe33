"""The seed's PerformanceMonitor: rolling health of a learning run, and alerts when it crosses a threshold.

Per session the training loop records what was measured (agent/training.py); the monitor keeps a rolling
window of the last ``window`` sessions and tracks

- action success rate: of the page views where a patch was shown, the share whose patch applied (a patch
  that matches nothing is a failed action — docs/design.md, "Patches"); the rollout gate's 0.7 is the seed default;
- engagement: the share of sessions that did not bounce (left the landing page without an interactive click);
- conversion: the share of sessions that reached a goal;
- learning loss: the mean training loss of the sessions in the window that trained;
- reward trend: the least-squares slope of session reward against session index over the window.

Thresholds (seed defaults, docs/references.md "Learning agent" / the seed's PerformanceMonitor): success ≥ 0.7,
engagement ≥ 0.5, loss ≤ 1.0; conversion and trend have no seed default and are off unless set. A metric is
judged only once its window holds ``min_samples`` values (one bounced first visitor is not an alarm).

Alerts fire once per crossing: when a metric goes to the bad side, one :class:`Alert` is returned (and
logged as a loguru warning); no further alert for that metric until it has come back to the good side and
crossed again. Messages say what was expected and what was found, as Lighthouse CI's do.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from loguru import logger

from agent.kernel import InputError

__all__ = ["ALERT_KINDS", "MonitorThresholds", "Alert", "SessionStats", "PerformanceMonitor"]

ALERT_KINDS: tuple[str, ...] = ("success_rate", "engagement", "conversion", "loss", "reward_trend")


@dataclass(frozen=True)
class MonitorThresholds:
    """Where each metric turns bad; ``None`` switches that alert off."""

    min_success: float | None = 0.7  # seed default; also the rollout gate's patch-application rate
    min_engagement: float | None = 0.5  # seed default
    max_loss: float | None = 1.0  # seed default
    min_conversion: float | None = None  # no seed default: depends on the site
    min_reward_trend: float | None = None  # reward per session per session; e.g. a small negative number
    # An alert clears only once its metric is back past the threshold by this fraction of it (5 %: 0.7 → 0.735,
    # a loss of 1.0 → 0.95), so a metric hovering at the threshold raises one alert, not one per session.
    hysteresis: float = 0.05
    window: int = 100  # sessions in the rolling window (the seed kept the last 100 measurements)
    min_samples: int = 20  # values a window needs before it is judged

    def __post_init__(self) -> None:
        if self.window < 2 or not 1 <= self.min_samples <= self.window:
            raise InputError("need window >= 2 and 1 <= min_samples <= window", field="window")
        for name in ("min_success", "min_engagement", "min_conversion"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise InputError(f"{name} must be in [0, 1], got {value}", field=name)
        if not 0.0 <= self.hysteresis < 1.0:
            raise InputError(f"hysteresis must be in [0, 1), got {self.hysteresis}", field="hysteresis")
        if self.max_loss is not None and not self.max_loss > 0:
            raise InputError(f"max_loss must be > 0, got {self.max_loss}", field="max_loss")


@dataclass(frozen=True)
class Alert:
    """A threshold crossed: what, where, and the numbers (stored as-is in the ``alerts`` table)."""

    kind: str  # one of ALERT_KINDS
    message: str  # "expected …, found …"
    value: float
    threshold: float
    at_session: int  # the index of the session whose record raised it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SessionStats:
    """What the monitor needs from one session, all measured."""

    reward: float
    converted: bool
    engaged: bool  # did not bounce
    patches_shown: int  # page views where a patch (not the control) was shown
    patches_applied: int  # of those, page views where it applied
    loss: float | None = None  # mean loss of the training rounds in the session; None when none ran

    @classmethod
    def from_outcomes(cls, reward: float, outcomes: Sequence[Mapping[str, Any]],
                      losses: Sequence[float] = ()) -> SessionStats:
        """Summarise one session's page-view outcomes (keys of ``agent.reward.OUTCOME_KEYS``)."""
        shown = [o["patch_applied"] for o in outcomes if o["patch_applied"] is not None]
        return cls(reward=float(reward), converted=any(bool(o["goal_reached"]) for o in outcomes),
                   engaged=not any(bool(o["bounce"]) for o in outcomes), patches_shown=len(shown),
                   patches_applied=sum(bool(s) for s in shown),
                   loss=float(np.mean(losses)) if len(losses) else None)


def _slope(values: Sequence[float]) -> float:
    """Least-squares slope of ``values`` against 0, 1, 2, …"""
    y = np.asarray(values, dtype=np.float64)
    x = np.arange(len(y), dtype=np.float64)
    x -= x.mean()
    return float((x * (y - y.mean())).sum() / (x * x).sum())


class PerformanceMonitor:
    """Rolling metrics over the last ``thresholds.window`` sessions; ``record`` returns newly raised alerts."""

    def __init__(self, thresholds: MonitorThresholds | None = None) -> None:
        self.thresholds = t = thresholds or MonitorThresholds()
        self.sessions = 0  # sessions recorded so far
        self._rewards: deque[float] = deque(maxlen=t.window)
        self._converted: deque[bool] = deque(maxlen=t.window)
        self._engaged: deque[bool] = deque(maxlen=t.window)
        self._shown: deque[int] = deque(maxlen=t.window)
        self._applied: deque[int] = deque(maxlen=t.window)
        self._losses: deque[float | None] = deque(maxlen=t.window)
        self._bad: dict[str, bool] = dict.fromkeys(ALERT_KINDS, False)  # on the bad side right now
        self.alerts: list[Alert] = []  # every alert raised, in order

    # -- the metrics ---------------------------------------------------------------------------------------

    def success_rate(self) -> float | None:
        shown = sum(self._shown)
        return sum(self._applied) / shown if shown else None

    def engagement(self) -> float | None:
        return float(np.mean(self._engaged)) if self._engaged else None

    def conversion(self) -> float | None:
        return float(np.mean(self._converted)) if self._converted else None

    def loss(self) -> float | None:
        losses = [x for x in self._losses if x is not None]
        return float(np.mean(losses)) if losses else None

    def reward_mean(self) -> float | None:
        return float(np.mean(self._rewards)) if self._rewards else None

    def reward_trend(self) -> float | None:
        return _slope(self._rewards) if len(self._rewards) >= 2 else None

    # -- recording -----------------------------------------------------------------------------------------

    def record(self, stats: SessionStats, *, session: int | None = None) -> list[Alert]:
        """Add one session; return the alerts it raised (each at most once per crossing).

        ``session`` is the run's session index for ``Alert.at_session`` (a resumed run continues its
        numbering); by default the number of sessions recorded before this one.
        """
        if not math.isfinite(stats.reward):
            raise InputError(f"session reward must be finite, got {stats.reward}", field="reward")
        if not 0 <= stats.patches_applied <= stats.patches_shown:
            raise InputError("need 0 <= patches_applied <= patches_shown", field="patches_applied")
        at = self.sessions if session is None else session
        self.sessions += 1
        self._rewards.append(stats.reward)
        self._converted.append(stats.converted)
        self._engaged.append(stats.engaged)
        self._shown.append(stats.patches_shown)
        self._applied.append(stats.patches_applied)
        self._losses.append(stats.loss)

        t = self.thresholds
        n_loss = sum(x is not None for x in self._losses)
        n_shown = sum(s > 0 for s in self._shown)  # sessions that showed a patch at all
        n = len(self._rewards)
        # (kind, value, threshold, bad when value is below (True) or above (False) it, samples, what)
        checks: list[tuple[str, float | None, float | None, bool, int, str]] = [
            ("success_rate", self.success_rate(), t.min_success, True, n_shown, "action success rate"),
            ("engagement", self.engagement(), t.min_engagement, True, n, "engagement (non-bounce rate)"),
            ("conversion", self.conversion(), t.min_conversion, True, n, "conversion rate"),
            ("loss", self.loss(), t.max_loss, False, n_loss, "learning loss"),
            ("reward_trend", self.reward_trend(), t.min_reward_trend, True, n, "reward trend"),
        ]
        raised = []
        for kind, value, threshold, lower_is_bad, samples, what in checks:
            if value is None or threshold is None or samples < t.min_samples:
                continue
            margin = t.hysteresis * abs(threshold)
            bad = value < threshold if lower_is_bad else value > threshold
            clear = value >= threshold + margin if lower_is_bad else value <= threshold - margin
            if self._bad[kind]:  # alarmed: stay quiet until the metric is clearly back
                if clear:
                    self._bad[kind] = False
                    logger.info("monitor: {} back to {:.4g} (threshold {:.4g}) at session {}", what, value,
                                threshold, at)
            elif bad:  # a new crossing
                self._bad[kind] = True
                sign = ">=" if lower_is_bad else "<="
                alert = Alert(kind=kind, value=value, threshold=threshold, at_session=at,
                              message=f"expected {what} {sign} {threshold:.4g}, found {value:.4g} "
                                      f"(last {n} sessions, at session {at})")
                logger.warning("monitor: {}", alert.message)
                raised.append(alert)
        self.alerts.extend(raised)
        return raised

    def snapshot(self) -> dict[str, Any]:
        """The current metrics as plain data (``None`` where nothing was measured), for progress bars and JSON."""
        return {
            "sessions": self.sessions,
            "window": len(self._rewards),
            "reward_mean": self.reward_mean(),
            "reward_trend": self.reward_trend(),
            "success_rate": self.success_rate(),
            "engagement": self.engagement(),
            "conversion": self.conversion(),
            "loss": self.loss(),
            "alerts": len(self.alerts),
            "failing": [kind for kind, bad in self._bad.items() if bad],
        }
