"""The performance monitor: rolling metrics, seed thresholds, one alert per crossing, a snapshot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loguru import logger

from agent.monitor import Alert, MonitorThresholds, PerformanceMonitor, SessionStats


def ok(**overrides: object) -> SessionStats:
    """A healthy session: converted, engaged, every patch applied, a small loss."""
    values: dict[str, object] = dict(reward=1.0, converted=True, engaged=True, patches_shown=2, patches_applied=2,
                                     loss=0.1)
    values.update(overrides)
    return SessionStats(**values)  # type: ignore[arg-type]


def feed(monitor: PerformanceMonitor, stats: SessionStats, times: int) -> list[Alert]:
    alerts: list[Alert] = []
    for _ in range(times):
        alerts += monitor.record(stats)
    return alerts


@pytest.fixture
def warnings_logged() -> Iterator[list[str]]:
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(m.record["message"]), level="WARNING")
    yield messages
    logger.remove(sink)


def test_seed_defaults() -> None:
    t = MonitorThresholds()
    assert (t.min_success, t.min_engagement, t.max_loss) == (0.7, 0.5, 1.0)
    assert t.min_conversion is None and t.min_reward_trend is None


def test_no_alert_before_the_window_has_min_samples() -> None:
    monitor = PerformanceMonitor(MonitorThresholds(window=10, min_samples=5))
    assert feed(monitor, ok(engaged=False), 4) == []
    [alert] = monitor.record(ok(engaged=False))
    assert alert.kind == "engagement" and alert.at_session == 4


def test_success_rate_alerts_once_per_crossing(warnings_logged: list[str]) -> None:
    monitor = PerformanceMonitor(MonitorThresholds(window=10, min_samples=5))
    assert feed(monitor, ok(), 10) == []
    bad = ok(patches_shown=2, patches_applied=0)
    alerts = feed(monitor, bad, 10)  # the window's rate falls 1.0 → 0.0 and stays there
    assert [a.kind for a in alerts] == ["success_rate"]
    alert = alerts[0]
    # 10 good sessions (20 of 20 applied), then bad ones: 8 good + 2 bad is 16/20 = 0.8, 7 + 3 is 14/20 = 0.7,
    # 6 + 4 is 12/20 = 0.6 < 0.7 — the 4th bad session (index 13) crosses.
    assert alert.at_session == 13 and alert.value == pytest.approx(0.6) and alert.threshold == 0.7
    assert alert.message.startswith("expected action success rate >= 0.7, found 0.6")
    assert warnings_logged == [f"monitor: {alert.message}"]
    # Back to healthy: no alert; then down again: a second, new alert.
    assert feed(monitor, ok(), 10) == []
    assert monitor.snapshot()["failing"] == []
    assert [a.kind for a in feed(monitor, bad, 10)] == ["success_rate"]
    assert len(monitor.alerts) == 2


def test_sessions_without_patches_do_not_count_for_success_rate() -> None:
    monitor = PerformanceMonitor(MonitorThresholds(window=10, min_samples=3))
    assert feed(monitor, ok(patches_shown=0, patches_applied=0), 10) == []
    assert monitor.success_rate() is None
    assert monitor.record(ok(patches_shown=1, patches_applied=0)) == []  # one session with patches: too few


def test_hovering_at_the_threshold_raises_one_alert() -> None:
    def run(hysteresis: float) -> list[Alert]:
        monitor = PerformanceMonitor(MonitorThresholds(window=10, min_samples=10, hysteresis=hysteresis))
        feed(monitor, ok(), 10)
        alerts = []
        for i in range(60):  # two bounces, two engaged: the window's rate wanders between 0.4 and 0.6
            alerts += monitor.record(ok(engaged=i % 4 >= 2))
        return alerts

    assert len(run(hysteresis=0.0)) > 1  # without a band, every dip below 0.5 is a new crossing
    assert [a.kind for a in run(hysteresis=0.5)] == ["engagement"]  # clears only at 0.75: one alert


def test_loss_conversion_and_trend_thresholds() -> None:
    t = MonitorThresholds(window=10, min_samples=3, min_conversion=0.2, min_reward_trend=-0.01)
    monitor = PerformanceMonitor(t)
    alerts = []
    for i in range(6):
        alerts += monitor.record(ok(loss=5.0, converted=False, reward=1.0 - 0.1 * i))
    assert sorted(a.kind for a in alerts) == ["conversion", "loss", "reward_trend"]
    by_kind = {a.kind: a for a in alerts}
    assert by_kind["loss"].message.startswith("expected learning loss <= 1, found 5")
    assert by_kind["reward_trend"].value == pytest.approx(-0.1)
    # Sessions without training rounds (loss None) do not count as losses.
    quiet = PerformanceMonitor(MonitorThresholds(window=10, min_samples=3))
    assert feed(quiet, ok(loss=None), 10) == [] and quiet.loss() is None


def test_snapshot_is_plain_data() -> None:
    monitor = PerformanceMonitor(MonitorThresholds(window=4, min_samples=2))
    for reward in (1.0, 2.0, 3.0, 4.0, 5.0):
        monitor.record(ok(reward=reward, converted=reward > 3, patches_applied=1))
    snap = monitor.snapshot()
    assert snap["sessions"] == 5 and snap["window"] == 4
    assert snap["reward_mean"] == pytest.approx(3.5) and snap["reward_trend"] == pytest.approx(1.0)
    assert snap["conversion"] == pytest.approx(0.5) and snap["success_rate"] == pytest.approx(0.5)
    assert snap["engagement"] == 1.0 and snap["loss"] == pytest.approx(0.1)
    assert snap["failing"] == ["success_rate"] and snap["alerts"] == 1
    empty = PerformanceMonitor().snapshot()
    assert empty["reward_mean"] is None and empty["alerts"] == 0


def test_session_stats_from_outcomes() -> None:
    base = dict(js_errors=0, dwell_ms=1.0, scroll_depth=0.5, clicks=1, misclicks=0, funnel_progress=0.5)
    outcomes = [
        dict(base, patch_applied=None, bounce=False, goal_reached=False),
        dict(base, patch_applied=True, bounce=False, goal_reached=False),
        dict(base, patch_applied=False, bounce=False, goal_reached=True),
    ]
    stats = SessionStats.from_outcomes(2.5, outcomes, [0.5, 1.5])
    assert stats == SessionStats(reward=2.5, converted=True, engaged=True, patches_shown=2, patches_applied=1,
                                 loss=1.0)
    assert SessionStats.from_outcomes(0.0, [dict(outcomes[0], bounce=True)]).engaged is False


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        MonitorThresholds(window=1)
    with pytest.raises(ValueError):
        MonitorThresholds(min_success=1.5)
    with pytest.raises(ValueError):
        PerformanceMonitor().record(ok(patches_applied=3))
    with pytest.raises(ValueError):
        PerformanceMonitor().record(ok(reward=float("nan")))
