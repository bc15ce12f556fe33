"""``uiab rollout``: pre-flight, traffic stages, health checks and paired always-valid statistics → a verdict.

The seed's ProductionDeployment (validate → staging tests → 10 → 50 → 100 % with health checks) is the
skeleton; GrowthBook safe rollouts, Argo Rollouts and Kayenta (docs/references.md) shaped the rest: an SRM check
on the unpaired split, guardrails as one-sided non-inferiority tests, the primary metric on an always-valid
confidence sequence so every stage may be looked at, and a three-valued verdict whose every reason reads
"expected …, found …". Pre-flight is harness.gate.preflight's, each stage's checks harness.gate.checks'.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.browser.launch import open_browser
from harness.browser.pool import VisitorPool
from harness.gate.candidates import resolve_candidate
from harness.gate.checks import guardrail_checks, persona_checks, primary_checks, srm_checks, technical_checks
from harness.gate.model import Check, RolloutOptions, RolloutReport, Verdict, rolls_back
from harness.gate.preflight import preflight
from harness.gate.state import RolloutRun
from harness.run.assignment import draw_persona, sticky_bucket
from harness.run.experiment import Experiment, RolloutSettings, Variant, load_experiment
from harness.run.population import experiment_personas
from harness.run.session import SessionOutcome, VisitorPlan, visitor_seed
from harness.run.simulate import run_plans
from harness.run.site import site_url
from harness.run.smoke import check_selectors
from harness.run.variants import variant_patch
from harness.settings import Settings
from harness.store.database import Store, check_database

__all__ = ["Check", "RolloutOptions", "RolloutReport", "resolve_candidate", "run_rollout"]


async def run_rollout(path: Path, settings: Settings, options: RolloutOptions) -> RolloutReport:
    """Pre-flight, then each stage until an error check fails or the last stage decides."""
    experiment = load_experiment(path)
    cfg = _rollout_settings(experiment, options)
    control = experiment.variant(options.control or cfg.control)
    candidate = resolve_candidate(experiment, options.candidate, db=settings.db,
                                  out_dir=settings.report_dir / "candidates")
    if candidate.name == control.name and candidate.patch != control.patch:
        candidate = Variant(name=f"{candidate.name}-candidate", patch=candidate.patch)
    variant_patch(experiment, candidate)  # an invalid patch is bad input (exit 2), before any traffic
    mix = experiment_personas(experiment)
    seed = settings.seed if options.seed is None else options.seed
    config = {"candidate": options.candidate, "control": control.name, "stages": cfg.stages,
              "sessions_per_stage": cfg.sessions_per_stage, "replay_of": options.replay_of}
    check_database(settings.db)  # a database that is not uiab's is refused before the browser starts
    with site_url(experiment) as base_url:
        async with open_browser(settings) as browser:
            # A funnel or goal selector that matches nothing is bad input (exit 2), not a pre-flight rollback.
            await check_selectors(browser, experiment, base_url, mix[0].device)
            with Store(settings.db) as store, store.tracked_run("rollout", str(experiment.path), config,
                                                                 seed) as run_id:
                report_dir = options.report_dir or settings.report_dir / f"rollout-{run_id}"
                pool = VisitorPool(browser, base_url, experiment.goal_specs())
                run = RolloutRun(experiment, cfg, candidate, control, browser, base_url, store, run_id, seed,
                                 report_dir / "screenshots", settings.concurrency, pool)
                stages: list[dict[str, Any]] = []
                try:
                    verdict = await _drive(run, stages)
                finally:
                    await pool.close()
                report = RolloutReport(run_id, str(experiment.path), candidate.name, control.name, verdict,
                                       run.checks, stages, report_dir, seed, options.replay_of)
                store.add_checks(run_id, [c.to_dict() for c in run.checks])
                store.finish_run(run_id, "completed", {"verdict": verdict, "reasons": report.reasons})
    return report


def _rollout_settings(experiment: Experiment, options: RolloutOptions) -> RolloutSettings:
    """The experiment's ``[rollout]`` table with ``--stages`` and ``--sessions-per-stage`` laid over it."""
    cfg = experiment.rollout
    if options.stages is None and options.sessions_per_stage is None:
        return cfg
    return RolloutSettings(**{**cfg.model_dump(),
                              **({"stages": list(options.stages)} if options.stages else {}),
                              **({"sessions_per_stage": options.sessions_per_stage}
                                 if options.sessions_per_stage else {})})


async def _drive(run: RolloutRun, stages: list[dict[str, Any]]) -> Verdict:
    """Pre-flight, then the stages in order; each appends its line of the timeline to ``stages``."""
    await preflight(run)
    if rolls_back(run.checks):
        stages.append({"stage": "preflight", "outcome": "rollback"})
        return "rollback"  # a failed pre-flight rolls back before any traffic
    stages.append({"stage": "preflight", "outcome": "pass"})
    for index, share in enumerate(run.settings.stages):
        last = index == len(run.settings.stages) - 1
        checks = await _stage(run, index, share, run.settings.sessions_per_stage, last=last)
        run.checks.extend(checks)
        primary = next(c for c in checks if c.name == "primary.conversion")
        if rolls_back(checks):
            stages.append({"stage": f"{share}%", "pairs": len(run.pairs), "outcome": "rollback"})
            return "rollback"
        if last:
            verdict: Verdict = "promote" if primary.status == "pass" else "inconclusive"
            stages.append({"stage": f"{share}%", "pairs": len(run.pairs), "outcome": verdict})
            return verdict
        stages.append({"stage": f"{share}%", "pairs": len(run.pairs), "outcome": "continue"})
    return "inconclusive"


async def _stage(run: RolloutRun, index: int, share: int, sessions: int, *, last: bool) -> list[Check]:
    """One traffic stage: assign, run both arms (candidate visitors paired with control), then check."""
    name = f"{share}%"
    plans = _stage_plans(run, index, share, sessions)
    outcomes = await run_plans(run.pool, run.experiment, plans, concurrency=run.concurrency, on_outcome=run.record)
    stage_pairs, unpaired_control = _pair(run, outcomes)
    run.pairs.extend(stage_pairs)
    completed_candidate = sum(c.end != "error" for c, _ in stage_pairs)
    return [*technical_checks(run, name, stage_pairs),
            *srm_checks(run, name, share, [completed_candidate, unpaired_control]),
            *guardrail_checks(run, name),
            *primary_checks(run, name, last=last),
            *persona_checks(run, name)]


def _stage_plans(run: RolloutRun, index: int, share: int, sessions: int) -> list[VisitorPlan]:
    """``share`` % of visitors (sticky) see the candidate, each with a control twin on the same seed stream."""
    personas = experiment_personas(run.experiment)
    salt = f"{run.experiment.name}:{run.seed}:rollout"
    plans: list[VisitorPlan] = []
    for k in range(sessions):
        vid = f"s{index}-v{k:05d}"
        persona = draw_persona(vid, personas, run.seed)
        stream = visitor_seed(run.seed, vid)
        if sticky_bucket(vid, salt) < share / 100:
            plans.append(VisitorPlan(vid, persona, run.candidate, stream, pair=vid))
            plans.append(VisitorPlan(vid, persona, run.control, stream, pair=vid))
        else:
            plans.append(VisitorPlan(vid, persona, run.control, stream))
    return plans


def _pair(run: RolloutRun, outcomes: list[SessionOutcome]) -> tuple[list[tuple[SessionOutcome, SessionOutcome]], int]:
    """(candidate, control) twins where both arms finished, and how many unpaired control visitors completed."""
    by_pair: dict[str, dict[str, SessionOutcome]] = defaultdict(dict)
    unpaired_control = 0
    for o in outcomes:
        if o.plan.pair is None:
            unpaired_control += o.end != "error"
        else:
            by_pair[o.plan.pair]["candidate" if o.plan.variant.name == run.candidate.name else "control"] = o
    return [(p["candidate"], p["control"]) for p in by_pair.values() if len(p) == 2], unpaired_control
