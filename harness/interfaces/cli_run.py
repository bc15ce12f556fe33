"""``uiab smoke``, ``uiab simulate`` and ``uiab train``: the commands that run sessions in the browser."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from agent.kernel import InputError
from harness.interfaces.cli_common import (
    DbOpt,
    ExperimentArg,
    JsonOpt,
    NoReportOpt,
    cli_command,
    command_settings,
    emit_json,
    err,
    out,
    sessions_option,
    write_report,
)

__all__ = ["simulate", "smoke", "train"]


@cli_command
def smoke(
    experiment: ExperimentArg,
    variant: Annotated[list[str] | None, typer.Option("--variant", help="only this variant (repeatable)")] = None,
    device: Annotated[list[str] | None, typer.Option("--device", help="only this device (repeatable)")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> int:
    """Walk the funnel per variant and device; check load, errors, blocked requests, the way on, the goal."""
    from harness.run.smoke_job import run_smoke

    settings = command_settings(db=db)
    report = asyncio.run(run_smoke(experiment, settings, variants=variant or [], devices=device or []))
    if as_json:
        emit_json(report.to_dict())
    else:
        _print_smoke(report)
    return report.exit_code


def _print_smoke(report: Any) -> None:
    table = Table(title=f"uiab smoke — run {report.run_id}", title_justify="left")
    for column in ("variant", "device", "page", "loaded", "JS err", "console", "blocked", "next", "goal", "result"):
        table.add_column(column, no_wrap=column in ("variant", "device", "page"))
    for walk in report.walks:
        for page in walk.pages:
            selector = escape(page.next or "")  # a selector's [attr] is not rich markup
            if page.next is None:
                way_on = "—"
            elif not page.next_matches:
                way_on = f"[red]{selector} missing[/]"
            elif page.next_visible and page.next_clickable:
                way_on = f"{selector} ok"
            else:
                way_on = f"[red]{selector} {'hidden' if not page.next_visible else 'covered'}[/]"
            goal = "—" if page.goal_reached is None else ("[green]yes[/]" if page.goal_reached else "[red]no[/]")
            table.add_row(escape(page.variant), escape(page.device), escape(page.page),
                          "yes" if page.loaded else "[red]no[/]", str(page.js_errors), str(page.console_errors),
                          str(page.blocked_requests), way_on, goal, "[green]ok[/]" if page.ok else "[red]FAIL[/]")
    out.print(table)
    for walk in report.walks:
        for page in walk.pages:
            for problem in page.problems:
                out.print("[red]✗[/] " + escape(f"{walk.variant} on {walk.device}: {problem}"), highlight=False)
    out.print(f"screenshots: {report.screenshot_dir}   database: {report.db} (run {report.run_id})",
              highlight=False, markup=False)


def _progress(label: str, field: str) -> Progress:
    """A transient progress bar on stderr (stdout stays for the table or the JSON)."""
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn(f"{{task.fields[{field}]}}"),
                    TimeRemainingColumn(), console=err, transient=True)


@cli_command
def simulate(
    experiment: ExperimentArg,
    sessions: Annotated[int, sessions_option("--sessions", "visitors (paired: each runs under every variant)")] = 100,
    seed: Annotated[int | None, typer.Option("--seed", help="run seed (default UIAB_SEED)")] = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", min=1, max=64,
                                                    help="sessions in flight (default UIAB_CONCURRENCY)")] = None,
    variant: Annotated[list[str] | None, typer.Option("--variant", help="only these variants (repeatable)")] = None,
    persona: Annotated[list[str] | None, typer.Option("--persona", help="only these personas of the mix "
                                                      "(repeatable)")] = None,
    paired: Annotated[bool, typer.Option("--paired", help="every visitor under every variant, same random "
                                         "stream (common random numbers)")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    no_report: NoReportOpt = False,
) -> int:
    """Simulate persona sessions on every variant; store them; table conversion, bounce, dwell, misclicks."""
    from harness.run.simulate import simulate as run_simulation

    settings = command_settings(db=db)
    run_seed = settings.seed if seed is None else seed
    conversions = [0, 0]
    progress = _progress("simulate", "rate")
    task = progress.add_task("sessions", total=None, rate="")

    def started(total: int) -> None:
        progress.update(task, total=total)

    def finished(outcome: Any) -> None:
        conversions[0] += outcome.result.goal_reached
        conversions[1] += 1
        progress.update(task, advance=1, rate=f"conversion {conversions[0] / conversions[1]:.1%}")

    with progress:
        report = asyncio.run(run_simulation(experiment, settings, sessions=sessions, seed=run_seed,
                                            variants=variant or [], paired=paired, concurrency=concurrency,
                                            personas=persona or [], on_session=finished, on_start=started))
    page = None if no_report else write_report(settings, report.run_id,
                                                settings.report_dir / f"simulate-{report.run_id}")
    if as_json:
        emit_json({**{k: v for k, v in report.to_dict().items() if k != "variant_persona"},
                   "report": str(page) if page else None})
        return 0
    _print_arms(f"uiab simulate — run {report.run_id}: by variant", report.by_variant())
    _print_arms("by persona", report.by_persona())
    _print_arms("by variant and persona",
                {f"{v} · {p}": s for (v, p), s in sorted(report.by_variant_and_persona().items())})
    out.print(f"database: {settings.db} (run {report.run_id})", highlight=False)
    if page:
        out.print(f"report: {page}", highlight=False)
    return 0


def _print_arms(title: str, arms: dict[str, Any]) -> None:
    table = Table(title=title, title_justify="left")
    with_cta = any(arm.cta_click_rate is not None for arm in arms.values())
    columns = ["", "sessions", "conversion", "95 % interval", "bounce", "mean dwell", "misclicks"]
    for column in columns + (["CTA clicked"] if with_cta else []):
        table.add_column(column, justify="left" if not column else "right")
    for name, arm in arms.items():
        row = [escape(name), str(arm.sessions), f"{arm.conversion_rate:.1%}", f"{arm.ci_low:.1%} – {arm.ci_high:.1%}",
               f"{arm.bounce_rate:.1%}", f"{arm.mean_dwell_s:.1f} s", f"{arm.misclick_rate:.1%}"]
        if with_cta:
            row.append("—" if arm.cta_click_rate is None else f"{arm.cta_click_rate:.1%}")
        table.add_row(*row)
    out.print(table)


@cli_command
def train(
    experiment: ExperimentArg,
    sessions: Annotated[int, sessions_option("--sessions", "learning sessions (visitors)")] = 200,
    policy: Annotated[str, typer.Option("--policy", help="dqn | uniform | egreedy | thompson | linucb")] = "dqn",
    seed: Annotated[int | None, typer.Option("--seed", help="run seed (default UIAB_SEED)")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="checkpoint to write (DQN)")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="continue from this DQN checkpoint")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    no_report: NoReportOpt = False,
) -> int:
    """Learn which patch to show at each page view from rewards measured in the browser; log every decision."""
    from agent.training import POLICIES
    from harness.run.train import run_training

    if policy not in POLICIES:
        raise InputError(f"unknown policy {policy!r}", source="uiab train", field="--policy",
                         fix=f"use one of: {', '.join(POLICIES)}")
    settings = command_settings(db=db)
    run_seed = settings.seed if seed is None else seed
    progress = _progress(f"train {policy}", "mean")
    task = progress.add_task("sessions", total=sessions, mean="")

    def advance(done: int, _reward: float, running: float) -> None:
        progress.update(task, completed=done, mean=f"running mean reward {running:+.3f}")

    with progress:
        report = run_training(experiment, settings, sessions=sessions, policy=policy, seed=run_seed, out=out_path,
                              resume=resume, on_progress=advance)
    summary = report.to_dict()
    page = None if no_report else write_report(settings, report.run_id, settings.report_dir / f"train-{report.run_id}")
    summary["report"] = str(page) if page else None
    if as_json:
        emit_json(summary)
        return 0
    out.print(f"trained {summary['policy']} for {summary['sessions']} sessions (run {summary['run_id']}): "
              f"mean reward over the last 10 % {summary['mean_reward_last_10pct']:+.3f}, conversion "
              f"{summary['conversion_rate']:.1%}", highlight=False)
    out.print(f"checkpoint: {summary['checkpoint']}   learning curve: {summary['learning_curve']}   "
              f"alerts: {summary['alerts']}", highlight=False)
    if page:
        out.print(f"report: {page}", highlight=False)
    return 0
