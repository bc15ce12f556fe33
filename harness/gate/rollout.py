"""``uiab rollout``: pre-flight, traffic stages, health checks and paired always-valid statistics → a verdict.

The seed's ProductionDeployment (validate → staging tests → 10 → 50 → 100 % with health checks) is the
skeleton; GrowthBook safe rollouts, Argo Rollouts and Kayenta (REFERENCES.md) shaped the rest: an SRM check
on the unpaired split, guardrails as one-sided non-inferiority tests, the primary metric on an always-valid
confidence sequence so every stage may be looked at, and a three-valued verdict whose every reason reads
"expected …, found …".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from agent.kernel import InputError
from harness.gate.agent_candidate import agent_candidate
from harness.run.assignment import draw_persona, sticky_bucket
from harness.browser.launch import BrowserSession, open_browser
from harness.browser.screenshots import side_by_side
from harness.run.experiment import Experiment, RolloutSettings, Variant, load_experiment
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
from harness.browser.patching import patch_report
from harness.browser.pool import VisitorPool
from harness.run.population import experiment_devices, experiment_personas
from harness.browser.audits import audit_page
from harness.run.session import SessionOutcome, VisitorPlan, visitor_seed
from harness.settings import Settings
from harness.run.simulate import run_plans, stored_session
from harness.run.smoke import smoke_walk
from harness.run.smoke_job import site_url
from harness.store.database import Store
from harness.run.variants import variant_init_scripts, variant_patch

__all__ = ["Check", "RolloutOptions", "RolloutReport", "resolve_candidate", "run_rollout"]

Level = Literal["error", "warn"]
Status = Literal["pass", "fail", "skip"]
Verdict = Literal["promote", "rollback", "inconclusive"]
EXIT_CODES: dict[str, int] = {"promote": 0, "rollback": 1, "inconclusive": 3}


@dataclass
class Check:
    """One health or statistics check at one stage; a failed ``error`` check rolls back."""

    stage: str
    name: str
    level: Level
    status: Status
    expected: str
    found: str
    page: str | None = None
    device: str | None = None
    persona: str | None = None
    screenshot: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    @property
    def message(self) -> str:
        persona = self.persona if self.persona and self.persona not in self.name else None
        where = ", ".join(x for x in (self.page, self.device, persona and f"persona {persona}") if x)
        head = f"[{self.stage}] {self.name}" + (f" ({where})" if where else "")
        return f"{head}: expected {self.expected}, found {self.found}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message}


@dataclass(frozen=True)
class RolloutOptions:
    """Command-line choices layered over the experiment's ``[rollout]`` table."""

    candidate: str
    control: str | None = None
    stages: tuple[int, ...] | None = None
    sessions_per_stage: int | None = None
    seed: int | None = None
    report_dir: Path | None = None
    replay_of: int | None = None


@dataclass
class RolloutReport:
    run_id: int
    experiment: str
    candidate: str
    control: str
    verdict: Verdict
    checks: list[Check]
    stages: list[dict[str, Any]]
    report_dir: Path
    seed: int
    replay_of: int | None = None

    @property
    def reasons(self) -> list[str]:
        """Every failed error check (rollback), or what held the verdict back."""
        errors = [c.message for c in self.checks if c.failed and c.level == "error"]
        if errors:
            return errors
        return [c.message for c in self.checks if c.name.startswith("primary.")][-1:]

    @property
    def warnings(self) -> list[str]:
        return [c.message for c in self.checks if c.failed and c.level == "warn"]

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "experiment": self.experiment, "candidate": self.candidate,
                "control": self.control, "verdict": self.verdict, "exit_code": self.exit_code,
                "seed": self.seed, "replay_of": self.replay_of, "reasons": self.reasons,
                "warnings": self.warnings, "stages": self.stages, "checks": [c.to_dict() for c in self.checks]}


def resolve_candidate(experiment: Experiment, ref: str, *, db: Path | None = None,
                      out_dir: Path | None = None) -> Variant:
    """A variant name of the experiment, a .css/.toml patch file, or a checkpoint's patch (harness.gate.agent_candidate)."""
    if any(v.name == ref for v in experiment.variants):
        return experiment.variant(ref)
    path = Path(ref)
    if path.suffix in (".css", ".toml"):
        if not path.is_file():
            raise InputError(f"patch file {ref} does not exist", field="--candidate",
                             fix="pass a variant name of the experiment or an existing patch file")
        return Variant(name=path.stem.replace(" ", "-") or "candidate", patch=str(path.resolve()))
    if path.suffix in (".pt", ".ckpt"):
        if db is None or out_dir is None:
            raise ValueError("a checkpoint candidate needs the database and a folder for its patch")
        return agent_candidate(experiment, path, db, out_dir).variant
    known = ", ".join(v.name for v in experiment.variants)
    raise InputError(f"{ref!r} is neither a variant of {experiment.path.name} nor a patch file",
                     field="--candidate", fix=f"use one of: {known}, a .css/.toml file or a checkpoint (.pt)")


@dataclass
class _Run:
    """Everything a rollout carries from stage to stage."""

    experiment: Experiment
    settings: RolloutSettings
    candidate: Variant
    control: Variant
    browser: BrowserSession
    base_url: str
    store: Store
    run_id: int
    seed: int
    shots: Path
    concurrency: int
    checks: list[Check] = field(default_factory=list)
    pairs: list[tuple[SessionOutcome, SessionOutcome]] = field(default_factory=list)
    patch_pages: dict[str, set[str]] = field(default_factory=dict)  # selector → pages where it matched


# --- pre-flight -------------------------------------------------------------------------------------------
async def _preflight(run: _Run) -> None:
    """Smoke-walk both arms on every device, audit every funnel page, and a few candidate sessions."""
    experiment, stage = run.experiment, "preflight"
    devices = experiment_devices(experiment)
    patch = variant_patch(experiment, run.candidate)
    for device in devices:
        control = await smoke_walk(run.browser, experiment, run.control, device, run.base_url,
                                   screenshot_dir=run.shots / "control")
        walk = await smoke_walk(run.browser, experiment, run.candidate, device, run.base_url,
                                screenshot_dir=run.shots / "candidate")
        for event in walk.events:
            if event.get("type") == "patch":
                for selector, count in (patch_report([event]).matched or {}).items():
                    if count:
                        run.patch_pages.setdefault(selector, set()).add(str(event.get("url", "")))
        failed = False
        for page in walk.pages:
            for problem in page.problems:
                failed = True
                shot = _compare_shot(run, control, page.page, page.screenshot, device)
                name = "layout.funnel" if page.next and page.next in problem else "technical.smoke"
                run.checks.append(Check(stage, name, "error", "fail",
                                        expected=f"{page.next or 'the page'} visible, clickable, no errors",
                                        found=problem, page=page.page, device=device, screenshot=shot))
        if not failed:
            run.checks.append(Check(stage, "layout.funnel", "error", "pass",
                                    expected="every funnel element visible and not covered",
                                    found=f"all {len(walk.pages)} pages clean", device=device))
    if patch is not None and not run.patch_pages and patch.selectors:
        run.checks.append(Check(stage, "technical.patch", "error", "fail",
                                expected="the patch's selectors match on a funnel page",
                                found=f"{', '.join(patch.selectors)} matched nothing"))
    if _failed(run.checks):
        return  # the funnel is broken: no need to audit or simulate before rolling back
    await _audits(run, devices)
    if _failed(run.checks):
        return
    await _preflight_sessions(run)


def _failed(checks: Sequence[Check]) -> bool:
    return any(c.failed and c.level == "error" for c in checks)


async def _audits(run: _Run, devices: Sequence[str]) -> None:
    """Accessibility (no new serious/critical axe violation vs control) and Web Vitals, per page and device."""
    pages = [s.page for s in run.experiment.funnel] or [run.experiment.entry]
    control_scripts = variant_init_scripts(run.experiment, run.control)
    candidate_scripts = variant_init_scripts(run.experiment, run.candidate)
    new_violations: list[Check] = []
    slower: list[Check] = []
    personas = experiment_personas(run.experiment)
    for device in devices:
        for page in pages:
            base = await audit_page(run.browser, run.base_url, device, page, control_scripts)
            mine = await audit_page(run.browser, run.base_url, device, page, candidate_scripts)
            before = {(r, t) for r, v in base.serious_rules().items() for t in v.targets}
            for rule, violation in mine.serious_rules().items():
                fresh = [t for t in violation.targets if (rule, t) not in before]
                if fresh:
                    found = f"{rule} ({violation.impact}) on {', '.join(fresh)}: {violation.help}"
                    # Name the personas whose vision the new contrast falls below: who this hurts.
                    hurt = [p for p in personas if violation.contrast is not None
                            and violation.contrast < p.vision.min_contrast]
                    if hurt:
                        found += f" — contrast {violation.contrast:.2f}:1 is below what " + ", ".join(
                            f"{p.name} needs ({p.vision.min_contrast:g}:1)" for p in hurt)
                    new_violations.append(Check(
                        "preflight", "accessibility.axe", "error", "fail",
                        expected="no new serious or critical axe-core violation vs control", found=found,
                        page=page, device=device, persona=hurt[0].name if hurt else None))
            if base.lcp_ms is not None and mine.lcp_ms is not None and \
                    mine.lcp_ms > base.lcp_ms + run.settings.lcp_margin_ms:
                slower.append(Check("preflight", "performance.lcp", "warn", "fail",
                                    expected=f"LCP ≤ control {base.lcp_ms:.0f} ms + {run.settings.lcp_margin_ms:.0f}",
                                    found=f"{mine.lcp_ms:.0f} ms", page=page, device=device))
            if base.cls is not None and mine.cls is not None and mine.cls > base.cls + run.settings.cls_margin:
                slower.append(Check("preflight", "performance.cls", "warn", "fail",
                                    expected=f"CLS ≤ control {base.cls:.3f} + {run.settings.cls_margin}",
                                    found=f"{mine.cls:.3f}", page=page, device=device))
    run.checks.extend(new_violations or [Check("preflight", "accessibility.axe", "error", "pass",
                                               expected="no new serious or critical violation vs control",
                                               found="none")])
    run.checks.extend(slower or [Check("preflight", "performance.web_vitals", "warn", "pass",
                                       expected="LCP and CLS within margin of control", found="within margin")])


async def _preflight_sessions(run: _Run) -> None:
    """A few candidate sessions per persona, free of JS errors (the seed's staging tests)."""
    if run.settings.preflight_sessions == 0:
        return
    personas = experiment_personas(run.experiment)
    plans = [VisitorPlan(f"pre-{p.name}-{k}", p, run.candidate, visitor_seed(run.seed, f"pre-{p.name}-{k}"))
             for p in personas for k in range(run.settings.preflight_sessions)]
    outcomes = await run_plans(_pool(run), run.experiment, plans, concurrency=run.concurrency,
                               on_outcome=lambda o: run.store.add_session(run.run_id, stored_session(o)))
    broken = [o for o in outcomes if o.result.js_errors or o.end == "error"]
    for o in broken:
        run.checks.append(Check("preflight", "technical.sessions", "error", "fail",
                                expected="candidate sessions free of JS errors and crashes",
                                found=o.error or f"{o.result.js_errors} JS error(s)", persona=o.plan.persona.name,
                                device=o.device))
    if not broken:
        run.checks.append(Check("preflight", "technical.sessions", "error", "pass",
                                expected="candidate sessions free of JS errors and crashes",
                                found=f"{len(outcomes)} clean sessions"))


def _compare_shot(run: _Run, control: Any, page: str, candidate_shot: str | None, device: str) -> str | None:
    base = next((p.screenshot for p in control.pages if p.page == page), None)
    if not base or not candidate_shot:
        return candidate_shot
    out = run.shots / "compare" / Path(candidate_shot).name
    side_by_side(Path(base), Path(candidate_shot), out,
                 labels=(f"control · {device} · {page}", f"{run.candidate.name} · {device} · {page}"))
    return str(out)


_POOLS: dict[int, VisitorPool] = {}


def _pool(run: _Run) -> VisitorPool:
    if id(run) not in _POOLS:
        _POOLS[id(run)] = VisitorPool(run.browser, run.base_url, run.experiment.goal_specs())
    return _POOLS[id(run)]


# --- stages -----------------------------------------------------------------------------------------------
async def _stage(run: _Run, index: int, share: int, sessions: int) -> list[Check]:
    """One traffic stage: assign, run both arms (candidate visitors paired with control), then check."""
    experiment, cfg = run.experiment, run.settings
    name = f"{share}%"
    personas = experiment_personas(experiment)
    salt = f"{experiment.name}:{run.seed}:rollout"
    plans: list[VisitorPlan] = []
    assigned = {"candidate": 0, "control": 0}
    for k in range(sessions):
        vid = f"s{index}-v{k:05d}"
        persona = draw_persona(vid, personas, run.seed)
        stream = visitor_seed(run.seed, vid)
        if sticky_bucket(vid, salt) < share / 100:
            assigned["candidate"] += 1
            plans.append(VisitorPlan(vid, persona, run.candidate, stream, pair=vid))
            plans.append(VisitorPlan(vid, persona, run.control, stream, pair=vid))
        else:
            assigned["control"] += 1
            plans.append(VisitorPlan(vid, persona, run.control, stream))
    outcomes = await run_plans(_pool(run), experiment, plans, concurrency=run.concurrency,
                               on_outcome=lambda o: run.store.add_session(run.run_id, stored_session(o)))
    by_pair: dict[str, dict[str, SessionOutcome]] = defaultdict(dict)
    unpaired_control = 0
    for o in outcomes:
        if o.plan.pair is None:
            unpaired_control += o.end != "error"
        else:
            by_pair[o.plan.pair]["candidate" if o.plan.variant.name == run.candidate.name else "control"] = o
    stage_pairs = [(p["candidate"], p["control"]) for p in by_pair.values() if len(p) == 2]
    run.pairs.extend(stage_pairs)
    checks: list[Check] = []
    checks += _technical(run, name, stage_pairs)
    completed_candidate = sum(c.end != "error" for c, _ in stage_pairs)
    checks += _srm(run, name, share, [completed_candidate, unpaired_control])
    checks += _guardrails(run, name)
    checks += _primary(run, name, last=index == len(cfg.stages) - 1)
    checks += _personas(run, name)
    return checks


def _technical(run: _Run, stage: str, pairs: Sequence[tuple[SessionOutcome, SessionOutcome]]) -> list[Check]:
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


def _patch_rate(run: _Run, outcomes: Sequence[SessionOutcome]) -> float | None:
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


def _srm(run: _Run, stage: str, share: int, observed: list[int]) -> list[Check]:
    if share >= 100:
        return [Check(stage, "srm", "error", "skip", expected="a split to check", found="all traffic on candidate")]
    result = srm_check(observed, [share / 100, 1 - share / 100], alpha=run.settings.srm_alpha,
                       min_per_arm=run.settings.srm_min_per_arm)
    status: Status = "skip" if not result.enough_data else ("fail" if result.mismatch else "pass")
    return [Check(stage, "srm", "error", status, expected=result.expected, found=result.found)]


def _diffs(run: _Run, metric: str) -> np.ndarray:
    def value(o: SessionOutcome) -> float:
        r = o.result
        if metric == "conversion":
            return float(r.goal_reached)
        if metric == "bounce":
            return float(r.bounce)
        if metric == "misclick_rate":
            return r.misclick_rate
        if metric == "error_rate":
            return float(r.errors > 0 or o.end == "error")
        raise ValueError(metric)

    return np.array([value(c) - value(b) for c, b in run.pairs], dtype=float)


def _rho(run: _Run) -> float:
    """Tune the confidence sequence to the rollout's planned paired visitors (GrowthBook tunes to the expected
    sample size; Howard et al. 2021): tightest where the last stage will look."""
    cfg = run.settings
    planned = sum(round(cfg.sessions_per_stage * share / 100) for share in cfg.stages)
    return tuned_rho(cfg.alpha, n_star=max(planned, 10))


def _guardrails(run: _Run, stage: str) -> list[Check]:
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


def _primary(run: _Run, stage: str, *, last: bool) -> list[Check]:
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
                  found=f"{interval.describe()} over {n} paired visitors → {verdict}")]


def _personas(run: _Run, stage: str) -> list[Check]:
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


# --- the whole rollout ------------------------------------------------------------------------------------
async def run_rollout(path: Path, settings: Settings, options: RolloutOptions) -> RolloutReport:
    """Pre-flight, then each stage until an error check fails or the last stage decides."""
    experiment = load_experiment(path)
    cfg = experiment.rollout
    if options.stages is not None or options.sessions_per_stage is not None:
        cfg = RolloutSettings(**{**cfg.model_dump(),
                                 **({"stages": list(options.stages)} if options.stages else {}),
                                 **({"sessions_per_stage": options.sessions_per_stage}
                                    if options.sessions_per_stage else {})})
    control = experiment.variant(options.control or cfg.control)
    candidate = resolve_candidate(experiment, options.candidate, db=settings.db,
                                  out_dir=settings.report_dir / "candidates")
    if candidate.name == control.name and candidate.patch != control.patch:
        candidate = Variant(name=f"{candidate.name}-candidate", patch=candidate.patch)
    variant_patch(experiment, candidate)  # an invalid patch is bad input (exit 2), before any traffic
    experiment_personas(experiment)
    seed = settings.seed if options.seed is None else options.seed
    config = {"candidate": options.candidate, "control": control.name, "stages": cfg.stages,
              "sessions_per_stage": cfg.sessions_per_stage, "replay_of": options.replay_of}
    with site_url(experiment) as base_url, Store(settings.db) as store:
        async with open_browser(settings) as browser:
            with store.tracked_run("rollout", str(experiment.path), config, seed) as run_id:
                report_dir = options.report_dir or settings.report_dir / f"rollout-{run_id}"
                run = _Run(experiment, cfg, candidate, control, browser, base_url, store, run_id, seed,
                           report_dir / "screenshots", settings.concurrency)
                stages: list[dict[str, Any]] = []
                try:
                    verdict = await _drive(run, stages)
                finally:
                    pool = _POOLS.pop(id(run), None)
                    if pool is not None:
                        await pool.close()
                report = RolloutReport(run_id, str(experiment.path), candidate.name, control.name, verdict,
                                       run.checks, stages, report_dir, seed, options.replay_of)
                store.add_checks(run_id, [c.to_dict() for c in run.checks])
                store.finish_run(run_id, "completed", {"verdict": verdict, "reasons": report.reasons})
    return report


async def _drive(run: _Run, stages: list[dict[str, Any]]) -> Verdict:
    await _preflight(run)
    if any(c.failed and c.level == "error" for c in run.checks):
        stages.append({"stage": "preflight", "outcome": "rollback"})
        return "rollback"  # a failed pre-flight rolls back before any traffic
    stages.append({"stage": "preflight", "outcome": "pass"})
    for index, share in enumerate(run.settings.stages):
        checks = await _stage(run, index, share, run.settings.sessions_per_stage)
        run.checks.extend(checks)
        primary = next(c for c in checks if c.name == "primary.conversion")
        if any(c.failed and c.level == "error" for c in checks):
            stages.append({"stage": f"{share}%", "pairs": len(run.pairs), "outcome": "rollback"})
            return "rollback"
        last = index == len(run.settings.stages) - 1
        if last:
            verdict: Verdict = "promote" if primary.status == "pass" else "inconclusive"
            stages.append({"stage": f"{share}%", "pairs": len(run.pairs), "outcome": verdict})
            return verdict
        stages.append({"stage": f"{share}%", "pairs": len(run.pairs), "outcome": "continue"})
    return "inconclusive"
