"""The report model (everything the page shows) and the prose written from it: verdicts, headlines, reasons."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.kernel import UiabError
from harness.report.clicks import ClickPoint
from harness.run.experiment import Experiment
from harness.run.summary import ArmSummary, summarize

__all__ = ["ReportModel", "arm_text", "pct", "rollout_stages", "rollout_verdict", "session_rewards",
           "simulate_verdict", "smoke_verdict", "train_verdict"]


@dataclass
class ReportModel:
    """Everything the template shows, built from the database (and, for images, the browser)."""

    run_id: int
    kind: str
    experiment: str
    status: str
    seed: int | None
    started_at: str
    finished_at: str | None
    config: dict[str, Any]
    summary: dict[str, Any]
    verdict: str  # promote | rollback | inconclusive | pass | fail | none
    verdict_label: str
    headline: str
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    personas: list[str] = field(default_factory=list)
    funnel: list[str] = field(default_factory=list)
    control: str = "control"
    by_variant: dict[str, ArmSummary] = field(default_factory=dict)
    by_persona: dict[str, ArmSummary] = field(default_factory=dict)
    by_variant_persona: dict[tuple[str, str], ArmSummary] = field(default_factory=dict)
    session_rewards: list[float] = field(default_factory=list)
    session_conversions: list[bool] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    clicks: dict[tuple[str, str, str], list[ClickPoint]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sessions: int = 0
    ends: dict[str, dict[str, int]] = field(default_factory=dict)  # variant → session end → count
    overall: ArmSummary = field(default_factory=lambda: summarize([]))  # every session of the run
    has_cta: bool = False


def pct(value: float) -> str:
    """A share as a percentage with one decimal (also the template's ``pct`` filter)."""
    return f"{value:.1%}"


def arm_text(name: str, arm: ArmSummary) -> str:
    """An arm's conversion with its 95 % interval and size, for a headline."""
    return f"{name} {pct(arm.conversion_rate)} (95 % {pct(arm.ci_low)} – {pct(arm.ci_high)}, n = {arm.sessions})"


def rollout_stages(checks: Sequence[Mapping[str, Any]], verdict: str | None) -> list[dict[str, Any]]:
    """The stage timeline rebuilt from a rollout's stored checks (the run's summary keeps only the verdict)."""
    names = list(dict.fromkeys(str(c["stage"]) for c in checks))
    stages: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        mine = [c for c in checks if c["stage"] == name]
        failed = any(c["status"] == "fail" and c["level"] == "error" for c in mine)
        outcome = "rollback" if failed else ("pass" if name == "preflight" else "continue")
        if i == len(names) - 1 and not failed and name != "preflight" and verdict in ("promote", "inconclusive"):
            outcome = verdict
        stage: dict[str, Any] = {"stage": name, "outcome": outcome}
        for c in mine:
            # The primary check carries its pair count in ``data``; checks stored before it did show none.
            data = c.get("data")
            pairs = data.get("pairs") if c["name"] == "primary.conversion" and isinstance(data, dict) else None
            if isinstance(pairs, int):
                stage["pairs"] = pairs
        stages.append(stage)
    return stages


def rollout_verdict(model: ReportModel, checks: list[dict[str, Any]]) -> None:
    """A rollout's verdict, reasons, warnings and stage timeline (the summary's, else rebuilt from ``checks``)."""
    summary = model.summary
    verdict = str(summary.get("verdict") or "inconclusive")
    candidate = str(summary.get("candidate") or model.config.get("candidate") or "candidate")
    control = str(summary.get("control") or model.control)
    model.verdict, model.verdict_label = verdict, verdict.upper()
    model.headline = f"{candidate} vs {control}: {verdict}"
    if model.config.get("replay_of"):
        model.headline += f" (replay of run {model.config['replay_of']})"
    model.reasons = list(summary.get("reasons") or [])
    model.checks = [dict(c) for c in (summary.get("checks") or checks)]
    model.warnings = list(summary.get("warnings") or [c["message"] for c in model.checks
                                                      if c.get("status") == "fail" and c.get("level") == "warn"])
    model.stages = list(summary.get("stages") or rollout_stages(model.checks, verdict))
    for stage in model.stages:
        stage["checks"] = [c for c in model.checks if c["stage"] == stage["stage"]]
        stage["failed"] = sum(c["status"] == "fail" for c in stage["checks"])
    model.notes.append("per-variant figures count every stored session of the rollout: pre-flight sessions "
                       "(candidate only) and unpaired control visitors included; the gate itself uses the pairs")


def simulate_verdict(model: ReportModel) -> None:
    """No verdict for a simulation: the highest-converting arm, and whether its interval clears control's."""
    model.verdict, model.verdict_label = "none", "No verdict: simulation"
    arms = {v: a for v, a in model.by_variant.items() if a.sessions}
    if not arms:
        model.headline = "no sessions were stored"
        return
    best = max(arms, key=lambda v: (arms[v].conversion_rate, -list(arms).index(v)))
    base = model.control if model.control in arms else next(iter(arms))
    if best == base or len(arms) == 1:
        model.headline = f"Highest conversion: {arm_text(best, arms[best])}"
        if len(arms) > 1:
            model.reasons.append(f"no variant converted more often than {base}")
        return
    model.headline = f"Highest conversion: {arm_text(best, arms[best])}; {arm_text(base, arms[base])}"
    if arms[best].ci_low > arms[base].ci_high:
        model.reasons.append(f"{best}'s interval lies entirely above {base}'s")
    else:
        model.reasons.append(f"the intervals of {best} and {base} overlap: no clear difference at this sample "
                             "size (run uiab rollout for a gated decision)")


def session_rewards(decisions: Sequence[Mapping[str, Any]]) -> list[float]:
    """Undiscounted reward per session, from the decision log (event ids are ``SESSION-STEP``)."""
    totals: dict[str, float] = {}
    for record in decisions:
        session = str(record["event_id"]).rsplit("-", 1)[0]
        totals[session] = totals.get(session, 0.0) + float(record.get("reward") or 0.0)
    return list(totals.values())


def train_verdict(model: ReportModel, decisions: list[dict[str, Any]], experiment: Experiment | None) -> None:
    """No verdict for training: the reward over the first and last 10 % of sessions, and the actions chosen."""
    policy = str(model.config.get("policy") or model.summary.get("policy") or "?")
    model.verdict, model.verdict_label = "none", "No verdict: training"
    model.session_rewards = session_rewards(decisions)
    rewards = model.session_rewards
    total = model.overall
    if rewards:
        k = max(1, round(len(rewards) * 0.1))
        first, last = float(np.mean(rewards[:k])), float(np.mean(rewards[-k:]))
        model.headline = (f"{policy}: {len(rewards)} sessions; mean session reward {first:+.3f} over the first 10 % "
                          f"→ {last:+.3f} over the last 10 %; conversion {pct(total.conversion_rate)} "
                          f"(95 % {pct(total.ci_low)} – {pct(total.ci_high)})")
        model.reasons.append("the reward rose over the run" if last > first else
                             "the reward did not rise over the run")
    else:
        model.headline = f"{policy}: no decisions were logged"
    counts: dict[int, int] = defaultdict(int)
    for record in decisions:
        counts[int(record["action"])] += 1
    keys: list[str] = []
    if experiment is not None:
        try:
            keys = list(experiment.action_catalog().keys)
        except UiabError:
            keys = []
    n = sum(counts.values()) or 1
    model.actions = [{"action": a, "key": keys[a] if a < len(keys) else f"action {a}", "count": c, "share": c / n}
                     for a, c in sorted(counts.items(), key=lambda item: -item[1])]
    model.notes.append(f"the variant {', '.join(model.variants) or 'policy:' + policy} is the policy choosing a "
                       "patch per page view: it has no patch of its own, so its screenshots and heatmaps are drawn "
                       "on control")


def smoke_verdict(model: ReportModel, rows: list[dict[str, Any]]) -> None:
    """Smoke passes when every walk finished and no page reported a problem."""
    problems = [f"{r['variant']} on {r['device']}: {p}" for r in rows for check in r["result"].get("checks", [])
                for p in check.get("problems", [])]
    ok = all(r["status"] == "walk" for r in rows) and not problems
    model.verdict, model.verdict_label = ("pass", "SMOKE PASS") if ok else ("fail", "SMOKE FAIL")
    pages = sum(len(r["result"].get("checks", [])) for r in rows)
    model.headline = f"{len(rows)} walks (variant × device), {pages} pages checked"
    model.reasons = problems

