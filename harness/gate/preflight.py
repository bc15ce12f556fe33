"""Pre-flight, before any traffic: smoke-walk both arms, audit every funnel page, a few candidate sessions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.browser.audits import audit_page
from harness.browser.patching import patch_report
from harness.browser.screenshots import side_by_side
from harness.gate.model import Check, rolls_back
from harness.gate.state import RolloutRun
from harness.run.population import experiment_devices, experiment_personas
from harness.run.session import VisitorPlan, visitor_seed
from harness.run.simulate import run_plans
from harness.run.smoke import SmokeWalk, smoke_walk
from harness.run.variants import variant_init_scripts, variant_patch

__all__ = ["preflight"]

STAGE = "preflight"


async def preflight(run: RolloutRun) -> None:
    """Smoke-walk both arms on every device, audit every funnel page, and a few candidate sessions."""
    experiment = run.experiment
    devices = experiment_devices(experiment)
    patch = variant_patch(experiment, run.candidate)
    for device in devices:
        control = await smoke_walk(run.browser, experiment, run.control, device, run.base_url,
                                   screenshot_dir=run.shots / "control")
        walk = await smoke_walk(run.browser, experiment, run.candidate, device, run.base_url,
                                screenshot_dir=run.shots / "candidate")
        _note_patch_pages(run, walk)
        failed = False
        for page in walk.pages:
            for problem in page.problems:
                failed = True
                shot = _compare_shot(run, control, page.page, page.screenshot, device)
                name = "layout.funnel" if page.next and page.next in problem else "technical.smoke"
                run.checks.append(Check(STAGE, name, "error", "fail",
                                        expected=f"{page.next or 'the page'} visible, clickable, no errors",
                                        found=problem, page=page.page, device=device, screenshot=shot))
        if not failed:
            run.checks.append(Check(STAGE, "layout.funnel", "error", "pass",
                                    expected="every funnel element visible and not covered",
                                    found=f"all {len(walk.pages)} pages clean", device=device))
    if patch is not None and not run.patch_pages and patch.selectors:
        run.checks.append(Check(STAGE, "technical.patch", "error", "fail",
                                expected="the patch's selectors match on a funnel page",
                                found=f"{', '.join(patch.selectors)} matched nothing"))
    if rolls_back(run.checks):
        return  # the funnel is broken: no need to audit or simulate before rolling back
    await _audits(run, devices)
    if rolls_back(run.checks):
        return
    await _sessions(run)


def _note_patch_pages(run: RolloutRun, walk: SmokeWalk) -> None:
    """Where each of the patch's selectors matched: the pages the stages' patch rate is measured on."""
    for event in walk.events:
        if event.get("type") == "patch":
            for selector, count in (patch_report([event]).matched or {}).items():
                if count:
                    run.patch_pages.setdefault(selector, set()).add(str(event.get("url", "")))


async def _audits(run: RolloutRun, devices: Sequence[str]) -> None:
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
                        STAGE, "accessibility.axe", "error", "fail",
                        expected="no new serious or critical axe-core violation vs control", found=found,
                        page=page, device=device, persona=hurt[0].name if hurt else None))
            if base.lcp_ms is not None and mine.lcp_ms is not None and \
                    mine.lcp_ms > base.lcp_ms + run.settings.lcp_margin_ms:
                slower.append(Check(STAGE, "performance.lcp", "warn", "fail",
                                    expected=f"LCP ≤ control {base.lcp_ms:.0f} ms + {run.settings.lcp_margin_ms:.0f}",
                                    found=f"{mine.lcp_ms:.0f} ms", page=page, device=device))
            if base.cls is not None and mine.cls is not None and mine.cls > base.cls + run.settings.cls_margin:
                slower.append(Check(STAGE, "performance.cls", "warn", "fail",
                                    expected=f"CLS ≤ control {base.cls:.3f} + {run.settings.cls_margin}",
                                    found=f"{mine.cls:.3f}", page=page, device=device))
    run.checks.extend(new_violations or [Check(STAGE, "accessibility.axe", "error", "pass",
                                               expected="no new serious or critical violation vs control",
                                               found="none")])
    run.checks.extend(slower or [Check(STAGE, "performance.web_vitals", "warn", "pass",
                                       expected="LCP and CLS within margin of control", found="within margin")])


async def _sessions(run: RolloutRun) -> None:
    """A few candidate sessions per persona, free of JS errors (the seed's staging tests)."""
    if run.settings.preflight_sessions == 0:
        return
    personas = experiment_personas(run.experiment)
    plans = [VisitorPlan(f"pre-{p.name}-{k}", p, run.candidate, visitor_seed(run.seed, f"pre-{p.name}-{k}"))
             for p in personas for k in range(run.settings.preflight_sessions)]
    outcomes = await run_plans(run.pool, run.experiment, plans, concurrency=run.concurrency, on_outcome=run.record)
    broken = [o for o in outcomes if o.result.js_errors or o.end == "error"]
    for o in broken:
        run.checks.append(Check(STAGE, "technical.sessions", "error", "fail",
                                expected="candidate sessions free of JS errors and crashes",
                                found=o.error or f"{o.result.js_errors} JS error(s)", persona=o.plan.persona.name,
                                device=o.device))
    if not broken:
        run.checks.append(Check(STAGE, "technical.sessions", "error", "pass",
                                expected="candidate sessions free of JS errors and crashes",
                                found=f"{len(outcomes)} clean sessions"))


def _compare_shot(run: RolloutRun, control: SmokeWalk, page: str, candidate_shot: str | None,
                  device: str) -> str | None:
    """Control and candidate side by side for a failing page, or the candidate's shot when control has none."""
    base = next((p.screenshot for p in control.pages if p.page == page), None)
    if not base or not candidate_shot:
        return candidate_shot
    out = run.shots / "compare" / Path(candidate_shot).name
    side_by_side(Path(base), Path(candidate_shot), out,
                 labels=(f"control · {device} · {page}", f"{run.candidate.name} · {device} · {page}"))
    return str(out)
