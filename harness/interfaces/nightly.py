"""``uiab nightly``: smoke → simulate → train → rollout of the agent's best patch → report, resumable.

Each step's outcome is written to ``state.json`` in the nightly's folder as soon as the step ends, so a run
cut short (Ctrl-C, a killed CI job) picks up at the first unfinished step when the same command runs again;
finished steps are not repeated. A finished nightly is not resumed: the next command starts a new one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from harness.run.experiment import load_experiment
from harness.settings import Settings

__all__ = ["STEPS", "NightlyOptions", "NightlyResult", "NightlyState", "run_nightly", "state_path"]

STEPS: tuple[str, ...] = ("smoke", "simulate", "train", "rollout", "report")
Announce = Callable[[str, str], None]  # (step, message)


@dataclass(frozen=True)
class NightlyOptions:
    """The budget of each step. The defaults fit the demo shop in a few minutes on 2 cores."""

    sessions: int = 30  # simulate: visitors, each under every variant (paired)
    train_sessions: int = 60
    stages: tuple[int, ...] = (50, 100)
    sessions_per_stage: int = 30
    seed: int = 0
    fresh: bool = False  # start over even if an unfinished nightly is on disk

    def key(self) -> str:
        """What a resumed nightly must share with the one it resumes."""
        data = {k: v for k, v in asdict(self).items() if k != "fresh"}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class NightlyResult:
    """Where each step left its run and what it found; ``report`` is the nightly's HTML report."""

    experiment: str
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    resumed_from: str | None = None
    report: Path | None = None

    @property
    def verdict(self) -> str | None:
        return self.steps.get("rollout", {}).get("verdict")

    @property
    def smoke_ok(self) -> bool:
        """Every variant's smoke walk was clean on every device."""
        return bool(self.steps.get("smoke", {}).get("ok", True))

    @property
    def exit_code(self) -> int:
        """The rollout's exit code (promote 0, rollback 1, inconclusive 3); 1 if no rollout ran."""
        return int(self.steps.get("rollout", {}).get("exit_code", 1))

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": self.experiment, "verdict": self.verdict, "smoke_ok": self.smoke_ok,
                "rollout_exit_code": self.exit_code,
                "resumed_from": self.resumed_from, "report": str(self.report) if self.report else None,
                "steps": self.steps}


def state_path(folder: Path) -> Path:
    return folder / "state.json"


class NightlyState(BaseModel):
    """``state.json``: which nightly this is, and each finished step's summary, saved after every step."""

    experiment: str
    key: str  # NightlyOptions.key(): a resumed nightly shares the experiment and the budget
    options: dict[str, Any]
    started_at: str
    steps: dict[str, dict[str, Any]] = Field(default_factory=dict)
    finished: bool = False
    resumed: bool = False
    finished_at: str | None = None

    @classmethod
    def load(cls, path: Path) -> NightlyState | None:
        """The state on disk; ``None`` when there is none or it cannot be read (start over rather than guess)."""
        try:
            return cls.model_validate_json(path.read_bytes())
        except (OSError, ValidationError):
            return None

    def save(self, path: Path) -> None:
        # Atomic: an interruption while writing leaves the previous state, never half a file. ``default=str``:
        # a step's summary may hold a Path.
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.model_dump(), indent=2, default=str))
        os.replace(tmp, path)


def _resumable(path: Path, experiment: str, options: NightlyOptions) -> NightlyState | None:
    """The unfinished nightly of the same experiment and options, if there is one to resume."""
    if options.fresh or not path.is_file():
        return None
    state = NightlyState.load(path)
    if state is None or state.finished or state.experiment != experiment or state.key != options.key():
        return None
    return state


def run_nightly(path: Path, settings: Settings, options: NightlyOptions, *,
                announce: Announce | None = None) -> NightlyResult:
    """Run the steps not yet done; each step's run goes to the database, its summary to ``state.json``."""
    experiment = load_experiment(path)  # bad input (exit 2) before anything is written
    folder = settings.report_dir / f"nightly-{experiment.name}"
    folder.mkdir(parents=True, exist_ok=True)
    state_file = state_path(folder)
    state = _resumable(state_file, str(experiment.path), options)
    resumed_from = None
    if state is None:
        state = NightlyState(experiment=str(experiment.path), key=options.key(), options=asdict(options),
                             started_at=datetime.now(UTC).isoformat(timespec="seconds"))
    else:
        resumed_from = next((s for s in STEPS if s not in state.steps), None)
        state.resumed = True
    state.save(state_file)
    say = announce or (lambda _step, _message: None)
    if resumed_from:
        say(resumed_from, f"resuming the nightly of {state.started_at} at step {resumed_from}")
    steps = state.steps
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "smoke": lambda: _smoke(path, settings),
        "simulate": lambda: _simulate(path, settings, options, steps["smoke"].get("broken", [])),
        "train": lambda: _train(path, settings, options, folder),
        "rollout": lambda: _rollout(path, settings, options, folder, steps["train"]),
        "report": lambda: _report(settings, steps, folder, state),
    }
    for step in STEPS:
        if step in steps:
            say(step, f"done before (run {steps[step].get('run_id')})")
            continue
        if step != "report" and not steps.get("smoke", {}).get("control_ok", True):
            continue  # control's funnel is broken: nothing to compare with; the report says so
        say(step, "running")
        steps[step] = runners[step]()
        state.save(state_file)
        say(step, steps[step].get("summary", "done"))
    state.finished = True
    state.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    state.save(state_file)
    report = steps.get("report", {}).get("index")
    return NightlyResult(str(experiment.path), steps, resumed_from, Path(report) if report else None)


def _smoke(path: Path, settings: Settings) -> dict[str, Any]:
    from harness.run.smoke_job import run_smoke

    report = asyncio.run(run_smoke(path, settings))
    control = load_experiment(path).rollout.control
    problems = [f"{w.variant} on {w.device}: {p}" for w in report.walks for page in w.pages for p in page.problems]
    broken = sorted({w.variant for w in report.walks if not w.ok})
    if report.ok:
        said = "all clean"
    else:
        said = f"{len(problems)} problem(s), e.g. {problems[0]}; " + (
            "control is broken: the pipeline stops here" if control in broken
            else f"left out of the simulation: {', '.join(broken)}")
    return {"run_id": report.run_id, "ok": report.ok, "control_ok": control not in broken, "broken": broken,
            "problems": problems, "summary": f"run {report.run_id}: {len(report.walks)} walks, {said}"}


def _simulate(path: Path, settings: Settings, options: NightlyOptions, broken: list[str]) -> dict[str, Any]:
    from harness.run.simulate import simulate

    # A variant whose funnel the smoke walk found broken would only measure the breakage.
    variants = [v.name for v in load_experiment(path).variants if v.name not in broken]
    report = asyncio.run(simulate(path, settings, sessions=options.sessions, seed=options.seed, variants=variants,
                                  paired=True))
    arms = report.by_variant()
    best = max(arms, key=lambda name: arms[name].conversion_rate)
    return {"run_id": report.run_id, "sessions": len(report.outcomes),
            "conversion": {name: arm.conversion_rate for name, arm in arms.items()},
            "summary": f"run {report.run_id}: {len(report.outcomes)} sessions; highest conversion {best} "
                       f"{arms[best].conversion_rate:.1%} ({arms[best].ci_low:.1%} – {arms[best].ci_high:.1%})"}


def _train(path: Path, settings: Settings, options: NightlyOptions, folder: Path) -> dict[str, Any]:
    from harness.run.train import run_training

    report = run_training(path, settings, sessions=options.train_sessions, policy="dqn", seed=options.seed,
                          out=folder / "agent.pt", resume=None)
    summary = report.to_dict()
    return {"run_id": report.run_id, "checkpoint": summary["checkpoint"],
            "mean_reward_last_10pct": summary["mean_reward_last_10pct"],
            "summary": f"run {report.run_id}: {summary['sessions']} sessions, mean reward over the last 10 % "
                       f"{summary['mean_reward_last_10pct']:+.3f}; checkpoint {summary['checkpoint']}"}


def _rollout(path: Path, settings: Settings, options: NightlyOptions, folder: Path,
             trained: dict[str, Any]) -> dict[str, Any]:
    from harness.gate.agent_candidate import agent_candidate
    from harness.gate.artifacts import write_json
    from harness.gate.model import RolloutOptions
    from harness.gate.rollout import run_rollout

    # The candidate is resolved here (not by the rollout) to keep its evidence in the nightly's state.
    candidate = agent_candidate(load_experiment(path), Path(trained["checkpoint"]), settings.db, folder)
    result = asyncio.run(run_rollout(path, settings, RolloutOptions(
        candidate=str(candidate.variant.patch), stages=options.stages,
        sessions_per_stage=options.sessions_per_stage, seed=options.seed, report_dir=folder / "rollout")))
    summary = write_json(result, result.report_dir / "report.json")  # the exact stage list, for the report
    return {"run_id": result.run_id, "report_json": str(summary), "verdict": result.verdict,
            "exit_code": result.exit_code, "candidate": candidate.to_dict(), "reasons": result.reasons,
            "report_dir": str(result.report_dir),
            "summary": f"run {result.run_id}: {result.verdict.upper()} for the agent's patch "
                       f"{candidate.describe()}" + (f" — {result.reasons[0]}" if result.reasons else "")}


def _report(settings: Settings, steps: dict[str, dict[str, Any]], folder: Path,
            state: NightlyState | None = None) -> dict[str, Any]:
    """Each run's own report in a subfolder, and the nightly's page: the rollout's report with the steps on top."""
    from harness.report.render import build_report, nightly_images, update_latest
    from harness.store.database import Store

    rows: list[dict[str, Any]] = []
    for name in ("smoke", "simulate", "train"):
        if name in steps:
            href = None
            if name != "smoke":  # the smoke walk is summarised on the page; its screenshots are in its folder
                build_report(settings.db, steps[name]["run_id"], folder / name, settings, latest=False)
                # Relative to a sibling folder, so the link works from report_dir/latest/ as well.
                href = f"../{folder.name}/{name}/index.html"
            rows.append({"name": name, "run_id": steps[name].get("run_id"), "summary": steps[name].get("summary", ""),
                         "href": href})
    main = steps.get("rollout") or steps["smoke"]  # no rollout when control's walk failed: the smoke run is the verdict
    rows.append({"name": "rollout" if "rollout" in steps else "(stopped)", "run_id": main.get("run_id"),
                 "summary": main.get("summary", "") if "rollout" in steps else "control's smoke walk "
                 "failed: simulate, train and rollout were skipped", "href": None})
    with Store(settings.db) as store:
        images = nightly_images(store, simulate_run=steps.get("simulate", {}).get("run_id"),
                                train_run=steps.get("train", {}).get("run_id"))
    context = {"experiment": state.experiment if state else "", "started_at": state.started_at if state else "",
               "resumed": bool(state and state.resumed), "steps": rows, **images}
    summary = Path(main["report_json"]) if main.get("report_json") else None
    index = build_report(settings.db, main["run_id"], folder, settings, latest=False, nightly=context,
                         summary=json.loads(summary.read_text()) if summary and summary.is_file() else None)
    latest = update_latest(index, settings.report_dir)
    return {"index": str(index), "latest": str(latest), "summary": f"{index} (and {latest})"}
