"""``uiab rollout`` and ``uiab nightly``: the commands that end in a verdict."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from agent.kernel import InputError
from harness.interfaces.cli_common import (
    DbOpt,
    ExperimentArg,
    JsonOpt,
    cli_command,
    command_settings,
    emit_json,
    err_line,
    out,
    parse_stages,
    sessions_option,
    write_report,
)

__all__ = ["nightly", "reason_lines", "rollout"]


@cli_command
def rollout(
    experiment: Annotated[Path | None, typer.Argument(help="experiment.toml (omit with --replay)",
                                                      show_default=False)] = None,
    candidate: Annotated[str | None, typer.Option("--candidate", help="a variant NAME, a PATCH_FILE (.css/.toml) "
                                                  "or a CHECKPOINT")] = None,
    control: Annotated[str | None, typer.Option("--control", help="the control variant")] = None,
    stages: Annotated[str | None, typer.Option("--stages", help="traffic percentages, e.g. 10,50,100")] = None,
    sessions_per_stage: Annotated[int | None, sessions_option("--sessions-per-stage", "visitors per stage",
                                                              low=2)] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="run seed (default UIAB_SEED)")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="write JUnit XML here")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="folder for report.json, index.html, "
                                                "screenshots")] = None,
    replay: Annotated[int | None, typer.Option("--replay", help="rerun rollout RUN_ID's visitors with the same "
                                               "seeds: a real regression reproduces, flakiness does not")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> int:
    """Gate a candidate: pre-flight, stages, health checks, statistics → promote 0, rollback 1, inconclusive 3."""
    from harness.gate.artifacts import write_json, write_junit
    from harness.gate.model import RolloutOptions
    from harness.gate.rollout import run_rollout
    from harness.store.database import Store

    settings = command_settings(db=db)
    original: dict[str, Any] | None = None
    prior: dict[str, Any] = {}
    path, ref, ctrl, per_stage, run_seed = experiment, candidate, control, sessions_per_stage, seed
    stage_list = parse_stages(stages, example="10,50,100", command="uiab rollout") if stages is not None else None
    if replay is not None:
        with Store(settings.db, read_only=True) as store:  # a lookup: it never creates or migrates the file
            original = store.run(replay)
            if original is None or original["kind"] != "rollout":
                raise InputError(f"no rollout run {replay} in {settings.db}", source=str(settings.db),
                                 field="--replay",
                                 fix="pass the run_id a rollout printed")
            config = json.loads(original["config"])
            prior = json.loads(original["summary"] or "{}")
        path = Path(original["experiment"])
        ref, ctrl = config["candidate"], config["control"]
        stage_list, per_stage, run_seed = tuple(config["stages"]), config["sessions_per_stage"], original["seed"]
    if path is None or ref is None:
        raise InputError("missing EXPERIMENT or --candidate", source="uiab rollout", field="--candidate",
                         fix="uiab rollout EXPERIMENT --candidate NAME, or uiab rollout --replay RUN_ID")
    options = RolloutOptions(candidate=ref, control=ctrl, stages=stage_list, sessions_per_stage=per_stage,
                             seed=run_seed, report_dir=report, replay_of=replay)
    result = asyncio.run(run_rollout(path, settings, options))
    write_json(result, result.report_dir / "report.json")
    # The unified report, given the rollout's full result: its stages and warnings are not all in SQLite.
    summary = json.loads((result.report_dir / "report.json").read_text())
    page = write_report(settings, result.run_id, result.report_dir, summary=summary)
    if junit is not None:
        write_junit(result, junit)
    reproduced = prior.get("verdict") == result.verdict
    if as_json:
        payload = json.loads((result.report_dir / "report.json").read_text())
        if original is not None:
            payload["replay"] = {"of": replay, "original_verdict": prior.get("verdict"), "reproduced": reproduced}
        emit_json(payload)
        return result.exit_code
    colour = {"promote": "green", "rollback": "red", "inconclusive": "yellow"}[result.verdict]
    out.print(f"[bold {colour}]{result.verdict.upper()}[/] "
              + escape(f"{result.candidate} vs {result.control} (run {result.run_id})"), highlight=False)
    for line in reason_lines(result):
        out.print(line, highlight=False)
    for warning in result.warnings:
        out.print(f"  [yellow]![/] {escape(warning)}", highlight=False)
    if original is not None:
        out.print(f"replay of run {replay}: original {prior.get('verdict')}, now {result.verdict} — "
                  + ("reproduced (a real effect, not flakiness)" if reproduced else "NOT reproduced (flaky)"),
                  highlight=False)
    out.print(f"report: {page or result.report_dir / 'report.json'}", highlight=False)
    return result.exit_code


def reason_lines(result: Any) -> list[str]:
    """The verdict's reasons as rich markup, each marked by its check's status: a promote's reason is its
    passing primary check (a green ✓, not a red ✗); an inconclusive one's is skipped (–)."""
    status = {c.message: c.status for c in result.checks}
    marks = {"pass": "[green]✓[/]", "skip": "[yellow]–[/]", "fail": "[red]✗[/]"}
    return [f"  {marks[status.get(reason, 'fail')]} {escape(reason)}" for reason in result.reasons]


@cli_command
def nightly(
    experiment: ExperimentArg,
    sessions: Annotated[int, sessions_option("--sessions", "simulate: visitors, each under every variant")] = 30,
    train_sessions: Annotated[int, sessions_option("--train-sessions", "train: learning sessions")] = 60,
    stages: Annotated[str, typer.Option("--stages", help="rollout: traffic percentages")] = "50,100",
    sessions_per_stage: Annotated[int, sessions_option("--sessions-per-stage", "rollout: visitors per stage",
                                                   low=2)] = 30,
    seed: Annotated[int | None, typer.Option("--seed", help="run seed (default UIAB_SEED)")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="reports folder (default UIAB_REPORT_DIR)")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="start over instead of resuming an unfinished "
                                        "nightly")] = False,
    gate: Annotated[bool, typer.Option("--gate", help="exit with the rollout's code (promote 0, rollback 1, "
                                       "inconclusive 3) instead of 0")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> int:
    """smoke → simulate → train → rollout of the agent's best patch → report; rerun to resume after a stop."""
    from harness.interfaces.nightly import NightlyOptions, run_nightly

    stage_list = parse_stages(stages, example="50,100", command="uiab nightly")
    settings = command_settings(db=db, report_dir=out_dir)
    options = NightlyOptions(sessions=sessions, train_sessions=train_sessions, stages=stage_list,
                             sessions_per_stage=sessions_per_stage, seed=settings.seed if seed is None else seed,
                             fresh=fresh)

    def announce(step: str, message: str) -> None:
        if not as_json:
            err_line(f"nightly {step}:", "bold", message)

    result = run_nightly(experiment, settings, options, announce=announce)
    if as_json:
        emit_json(result.to_dict())
    else:
        verdict = result.verdict or "no rollout (control's smoke walk failed)"
        out.print(f"nightly done: {verdict}", highlight=False, markup=False)
        out.print(f"report: {result.report}   latest: {settings.report_dir / 'latest' / 'index.html'}",
                  highlight=False)
    if not result.smoke_ok:
        return 1  # a broken funnel is news whether or not the gate was asked for
    return result.exit_code if gate else 0
