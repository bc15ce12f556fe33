"""A stage's checks after its traffic: technical health, SRM, guardrails, the primary metric, persona harm.

The statistics are harness.stats.gate's: guardrails are one-sided non-inferiority tests and the primary metric
an always-valid confidence sequence over the paired visitors so far, so every stage may look.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from harness.browser.patching import patch_report
from harness.gate.model import Check, Status
from harness.gate.state import RolloutRun
from harness.run.session import SessionOutcome
from harness.stats.gate import (
    ConfidenceSequence,
    final_verdict,
    minimum_evidence,
    noninferiority,
    persona_harm,
    require_evidence,
    sequential_decision,
    srm_check,
    tuned_rho,
)

__all__ = ["guardrail_checks", "persona_checks", "primary_checks", "srm_checks", "technical_checks"]

Pairs = Sequence[tuple[SessionOutcome, SessionOutcome]]

# Each per-session metric as a number, so a paired difference is candidate minus control.
METRICS: dict[str, Callable[[SessionOutcome], float]] = {
    "conversion": lambda o: float(o.result.goal_reached),
    "bounce": lambda o: float(o.result.bounce),
    "misclick_rate": lambda o: o.result.misclick_rate,
    "error_rate": lambda o: float(o.result.errors > 0 or o.end == "error"),
}


def technical_checks(run: RolloutRun, stage: str, pairs: Pairs) -> list[Check]:
    """This stage's candidate sessions against their control twins: crashes, JS/console errors, requests, patch."""
    checks: list[Check] = []
    if not pairs:
        return [Check(stage, "technical", "error", "skip", expected="candidate sessions", found="none this stage")]
    cand = [c for c, _ in pairs]
    ctrl = [b for _, b in pairs]
    crashed = [o for o in cand if o.end == "error"]
    checks.append(Check(stage, "technical.crashed", "error", "fail" if crashed else "pass",
                        expected="no crashed candidate session",
                        found=f"{len(crashed)} crashed" + (f": {crashed[0].error}" if crashed else "")))
    for metric, attr in (("js_errors", "js_errors"), ("console_errors", "console_errors")):
        mine = sum(getattr(o.result, attr) > 0 for o in cand)
        base = sum(getattr(o.result, attr) > 0 for o in ctrl)
        worse = mine > base
        checks.append(Check(stage, f"technical.{metric}", "error" if metric == "js_errors" else "warn",
                            "fail" if worse else "pass",
                            expected=f"no more sessions with {metric.replace('_', ' ')} than control ({base})",
                            found=f"{mine} of {len(cand)}"))
    blocked, base_blocked = sum(o.result.blocked_requests for o in cand), sum(o.result.blocked_requests for o in ctrl)
    checks.append(Check(stage, "technical.blocked_requests", "error", "fail" if blocked > base_blocked else "pass",
                        expected=f"no more blocked or failed requests than control ({base_blocked})",
                        found=str(blocked)))
    rate = _patch_rate(run, cand)
    if rate is not None:
        checks.append(Check(stage, "technical.patch_rate", "error",
                            "fail" if rate < run.settings.min_patch_rate else "pass",
                            expected=f"patch applied in ≥ {run.settings.min_patch_rate:.0%} of sessions that "
                                     "reached its page", found=f"{rate:.0%}"))
    return checks


def _patch_rate(run: RolloutRun, outcomes: Sequence[SessionOutcome]) -> float | None:
    """Among candidate sessions that visited a page where pre-flight saw the patch match, how often it matched."""
    if not run.patch_pages:
        return None
    reached = applied = 0
    for o in outcomes:
        reports = [e for e in o.events if e.get("type") == "patch"]
        for selector, pages in run.patch_pages.items():
            on_page = [patch_report([e]) for e in reports if e.get("url") in pages]
            if on_page:
                reached += 1
                applied += all(r.matched.get(selector, 0) > 0 and not r.failed_ops for r in on_page)
    return applied / reached if reached else None


def srm_checks(run: RolloutRun, stage: str, share: int, observed: list[int]) -> list[Check]:
    """Sample-ratio mismatch on the split: completed candidate visitors vs unpaired control visitors."""
    if share >= 100:
        return [Check(stage, "srm", "error", "skip", expected="a split to check", found="all traffic on candidate")]
    result = srm_check(observed, [share / 100, 1 - share / 100], alpha=run.settings.srm_alpha,
                       min_per_arm=run.settings.srm_min_per_arm)
    status: Status = "skip" if not result.enough_data else ("fail" if result.mismatch else "pass")
    return [Check(stage, "srm", "error", status, expected=result.expected, found=result.found)]


def _diffs(run: RolloutRun, metric: str) -> np.ndarray:
    value = METRICS[metric]
    return np.array([value(c) - value(b) for c, b in run.pairs], dtype=float)


def _rho(run: RolloutRun) -> float:
    """Tune the confidence sequence to the rollout's planned paired visitors (GrowthBook tunes to the expected
    sample size; Howard et al. 2021): tightest where the last stage will look."""
    cfg = run.settings
    planned = sum(round(cfg.sessions_per_stage * share / 100) for share in cfg.stages)
    return tuned_rho(cfg.alpha, n_star=max(planned, 10))


def guardrail_checks(run: RolloutRun, stage: str) -> list[Check]:
    """Bounce, misclick and error rate: the candidate no worse than control by more than each margin."""
    checks = []
    margins = run.settings.guardrails
    for metric, margin in (("bounce", margins.bounce), ("misclick_rate", margins.misclick_rate),
                           ("error_rate", margins.error_rate)):
        diffs = _diffs(run, metric)
        if not len(diffs):
            continue
        result = noninferiority(diffs, margin=margin, higher_is_worse=True, alpha=run.settings.alpha, metric=metric,
                                rho=_rho(run))
        checks.append(Check(stage, f"guardrail.{metric}", "error", "fail" if result.failed else "pass",
                            expected=result.expected, found=result.found))
    return checks


def primary_checks(run: RolloutRun, stage: str, *, last: bool) -> list[Check]:
    """Paired conversion on the confidence sequence: promote, roll back, or continue (inconclusive at the end)."""
    cfg = run.settings
    diffs = _diffs(run, "conversion")
    interval = ConfidenceSequence(alpha=cfg.alpha, rho=_rho(run)).update(diffs)
    decision = sequential_decision(interval, margin=cfg.margin, promote_if=cfg.promote_if)
    n = len(run.pairs)
    conversions = [sum(c.result.goal_reached for c, _ in run.pairs), sum(b.result.goal_reached for _, b in run.pairs)]
    evidence = minimum_evidence([n, n], conversions, min_visitors=cfg.min_visitors,
                                min_conversions=cfg.min_conversions)
    decision = require_evidence(decision, evidence)
    verdict = final_verdict(decision) if last else decision
    status: Status = "fail" if decision == "rollback" else ("pass" if decision == "promote" else "skip")
    want = "> 0" if cfg.promote_if == "superior" else f"> −{cfg.margin}"
    return [Check(stage, "primary.conversion", "error", status,
                  expected=f"paired conversion difference lower bound {want} to promote, upper bound ≥ −{cfg.margin}"
                           " to continue" + ("" if evidence.enough else f"; {evidence.expected} ({evidence.found})"),
                  found=f"{interval.describe()} over {n} paired visitors → {verdict}", data={"pairs": n})]


def persona_checks(run: RolloutRun, stage: str) -> list[Check]:
    """Each persona's paired conversion: a persona the candidate clearly harms fails at ``persona_harm``'s level."""
    by_persona: dict[str, list[float]] = defaultdict(list)
    for c, b in run.pairs:
        by_persona[c.plan.persona.name].append(float(c.result.goal_reached) - float(b.result.goal_reached))
    checks = []
    for harm in persona_harm({k: np.array(v) for k, v in by_persona.items()}, margin=run.settings.margin,
                             alpha=run.settings.alpha, rho=_rho(run)):
        checks.append(Check(stage, f"persona.{harm.persona}", run.settings.persona_harm,
                            "fail" if harm.harmed else "pass", expected=harm.expected, found=harm.found,
                            persona=harm.persona))
    return checks
