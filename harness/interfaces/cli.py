"""The ``uiab`` command line: smoke, simulate, rollout, train, report, decisions, patch, personas."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from agent.kernel import InputError, UiabError
from harness.interfaces.logs import configure_logging
from harness.settings import Settings, load_settings

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Synthetic personas drive real Chromium through UI variants; measure, gate, learn.")
_err = Console(stderr=True)
# Piped output (CI logs) gets a wide table instead of rich's 80-column default.
_out = Console(width=None if sys.stdout.isatty() else 160)

T = TypeVar("T")

ExperimentArg = Annotated[Path, typer.Argument(help="experiment.toml", show_default=False)]
DbOpt = Annotated[Path | None, typer.Option("--db", help="SQLite database (default: UIAB_DB or ./uiab.db)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the result as JSON on stdout, nothing else")]


@app.callback()
def _root() -> None:
    """uiab: A/B test UI variants with synthetic personas in real Chromium."""


def _fail(exc: UiabError) -> NoReturn:
    message = exc.one_line() if isinstance(exc, InputError) else str(exc)
    _err.print(f"[bold red]uiab: error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def _guard(body: Callable[[], T]) -> T:
    """Run a command: bad input exits 2, infrastructure 4, Ctrl-C 130 — each with one line on stderr."""
    try:
        return body()
    except UiabError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        _err.print("[yellow]uiab: interrupted[/] — finished sessions are stored; the run is marked interrupted")
        raise typer.Exit(130) from None


def _settings(**overrides: Any) -> Settings:
    settings = load_settings(**overrides)
    configure_logging(settings.log_level)
    return settings


def _emit_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


NoReportOpt = Annotated[bool, typer.Option("--no-report", help="skip the HTML report (it takes screenshots "
                                           "in the browser)")]


def _write_report(settings: Settings, run_id: int, out: Path, *, summary: dict[str, Any] | None = None) -> Path | None:
    """The run's HTML report at the end of a command; a report that fails warns, it never loses the run."""
    from harness.report.render import build_report

    try:
        return build_report(settings.db, run_id, out, settings, summary=summary)
    except Exception as exc:  # the run is stored; `uiab report RUN_ID` can retry
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _err.print(f"[yellow]uiab: report not written:[/] {first} (retry: uiab report {run_id})", highlight=False,
                   soft_wrap=True)
        return None


@app.command()
def smoke(
    experiment: ExperimentArg,
    variant: Annotated[list[str] | None, typer.Option("--variant", help="only this variant (repeatable)")] = None,
    device: Annotated[list[str] | None, typer.Option("--device", help="only this device (repeatable)")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Walk the funnel per variant and device; check load, errors, blocked requests, the way on, the goal."""
    from harness.run.smoke_job import run_smoke

    def body() -> int:
        settings = _settings(db=db)
        report = asyncio.run(run_smoke(experiment, settings, variants=variant or [], devices=device or []))
        if as_json:
            _emit_json(report.to_dict())
        else:
            _print_smoke(report)
        return report.exit_code

    raise typer.Exit(_guard(body))


def _print_smoke(report: Any) -> None:
    table = Table(title=f"uiab smoke — run {report.run_id}", title_justify="left")
    for column in ("variant", "device", "page", "loaded", "JS err", "console", "blocked", "next", "goal", "result"):
        table.add_column(column, no_wrap=column in ("variant", "device", "page"))
    for walk in report.walks:
        for page in walk.pages:
            if page.next is None:
                way_on = "—"
            elif not page.next_matches:
                way_on = f"[red]{page.next} missing[/]"
            elif page.next_visible and page.next_clickable:
                way_on = f"{page.next} ok"
            else:
                way_on = f"[red]{page.next} {'hidden' if not page.next_visible else 'covered'}[/]"
            goal = "—" if page.goal_reached is None else ("[green]yes[/]" if page.goal_reached else "[red]no[/]")
            table.add_row(page.variant, page.device, page.page, "yes" if page.loaded else "[red]no[/]",
                          str(page.js_errors), str(page.console_errors), str(page.blocked_requests),
                          way_on, goal, "[green]ok[/]" if page.ok else "[red]FAIL[/]")
    _out.print(table)
    for walk in report.walks:
        for page in walk.pages:
            for problem in page.problems:
                _out.print(f"[red]✗[/] {walk.variant} on {walk.device}: {problem}", highlight=False)
    _out.print(f"screenshots: {report.screenshot_dir}   database: {report.db} (run {report.run_id})",
               highlight=False)


@app.command()
def simulate(
    experiment: ExperimentArg,
    sessions: Annotated[int, typer.Option("--sessions", min=1, help="visitors (paired: each runs under "
                                          "every variant)")] = 100,
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
) -> None:
    """Simulate persona sessions on every variant; store them; table conversion, bounce, dwell, misclicks."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from harness.run.simulate import simulate as run_simulation

    def body() -> int:
        settings = _settings(db=db)
        run_seed = settings.seed if seed is None else seed
        conversions = [0, 0]
        progress = Progress(TextColumn("simulate"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=_err,
                            transient=True)
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
        page = None if no_report else _write_report(settings, report.run_id,
                                                     settings.report_dir / f"simulate-{report.run_id}")
        if as_json:
            _emit_json({**{k: v for k, v in report.to_dict().items() if k != "variant_persona"},
                        "report": str(page) if page else None})
        else:
            _print_arms(f"uiab simulate — run {report.run_id}: by variant", report.by_variant())
            _print_arms("by persona", report.by_persona())
            _print_arms("by variant and persona",
                        {f"{v} · {p}": s for (v, p), s in sorted(report.by_variant_and_persona().items())})
            _out.print(f"database: {settings.db} (run {report.run_id})", highlight=False)
            if page:
                _out.print(f"report: {page}", highlight=False)
        return 0

    raise typer.Exit(_guard(body))


def _print_arms(title: str, arms: dict[str, Any]) -> None:
    table = Table(title=title, title_justify="left")
    with_cta = any(arm.cta_click_rate is not None for arm in arms.values())
    columns = ["", "sessions", "conversion", "95 % interval", "bounce", "mean dwell", "misclicks"]
    for column in columns + (["CTA clicked"] if with_cta else []):
        table.add_column(column, justify="left" if not column else "right")
    for name, arm in arms.items():
        row = [name, str(arm.sessions), f"{arm.conversion_rate:.1%}", f"{arm.ci_low:.1%} – {arm.ci_high:.1%}",
               f"{arm.bounce_rate:.1%}", f"{arm.mean_dwell_s:.1f} s", f"{arm.misclick_rate:.1%}"]
        if with_cta:
            row.append("—" if arm.cta_click_rate is None else f"{arm.cta_click_rate:.1%}")
        table.add_row(*row)
    _out.print(table)


@app.command()
def rollout(
    experiment: Annotated[Path | None, typer.Argument(help="experiment.toml (omit with --replay)",
                                                      show_default=False)] = None,
    candidate: Annotated[str | None, typer.Option("--candidate", help="a variant NAME, a PATCH_FILE (.css/.toml) "
                                                  "or a CHECKPOINT")] = None,
    control: Annotated[str | None, typer.Option("--control", help="the control variant")] = None,
    stages: Annotated[str | None, typer.Option("--stages", help="traffic percentages, e.g. 10,50,100")] = None,
    sessions_per_stage: Annotated[int | None, typer.Option("--sessions-per-stage", min=2)] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="run seed (default UIAB_SEED)")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="write JUnit XML here")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="folder for report.json, index.html, "
                                                "screenshots")] = None,
    replay: Annotated[int | None, typer.Option("--replay", help="rerun rollout RUN_ID's visitors with the same "
                                               "seeds: a real regression reproduces, flakiness does not")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Gate a candidate: pre-flight, stages, health checks, statistics → promote 0, rollback 1, inconclusive 3."""
    from harness.gate.rollout import RolloutOptions, run_rollout
    from harness.gate.artifacts import write_json, write_junit
    from harness.store.database import Store

    def body() -> int:
        settings = _settings(db=db)
        original: dict[str, Any] | None = None
        path, ref, ctrl, per_stage, run_seed = experiment, candidate, control, sessions_per_stage, seed
        stage_list: tuple[int, ...] | None = None
        if stages:
            try:
                stage_list = tuple(int(x) for x in stages.split(","))
            except ValueError:
                raise InputError(f"--stages {stages!r} is not a comma-separated list of percentages",
                                 field="--stages", fix="e.g. --stages 10,50,100") from None
        if replay is not None:
            with Store(settings.db) as store:
                original = store.run(replay)
                if original is None or original["kind"] != "rollout":
                    raise InputError(f"no rollout run {replay} in {settings.db}", field="--replay",
                                     fix="pass the run_id a rollout printed")
                config = json.loads(original["config"])
                prior = json.loads(original["summary"] or "{}")
            path = Path(original["experiment"])
            ref, ctrl = config["candidate"], config["control"]
            stage_list, per_stage, run_seed = tuple(config["stages"]), config["sessions_per_stage"], original["seed"]
        if path is None or ref is None:
            raise InputError("missing EXPERIMENT or --candidate", field="--candidate",
                             fix="uiab rollout EXPERIMENT --candidate NAME, or uiab rollout --replay RUN_ID")
        options = RolloutOptions(candidate=ref, control=ctrl, stages=stage_list, sessions_per_stage=per_stage,
                                 seed=run_seed, report_dir=report, replay_of=replay)
        result = asyncio.run(run_rollout(path, settings, options))
        write_json(result, result.report_dir / "report.json")
        # The unified report, given the rollout's full result: its stages and warnings are not all in SQLite.
        page = _write_report(settings, result.run_id, result.report_dir,
                             summary=json.loads((result.report_dir / "report.json").read_text()))
        if junit is not None:
            write_junit(result, junit)
        if as_json:
            payload = json.loads((result.report_dir / "report.json").read_text())
            if original is not None:
                payload["replay"] = {"of": replay, "original_verdict": prior.get("verdict"),
                                     "reproduced": prior.get("verdict") == result.verdict}
            _emit_json(payload)
        else:
            colour = {"promote": "green", "rollback": "red", "inconclusive": "yellow"}[result.verdict]
            _out.print(f"[bold {colour}]{result.verdict.upper()}[/] {result.candidate} vs {result.control} "
                       f"(run {result.run_id})", highlight=False)
            for reason in result.reasons:
                _out.print(f"  [red]✗[/] {reason}", highlight=False)
            for warning in result.warnings:
                _out.print(f"  [yellow]![/] {warning}", highlight=False)
            if original is not None:
                same = prior.get("verdict") == result.verdict
                _out.print(f"replay of run {replay}: original {prior.get('verdict')}, now {result.verdict} — "
                           + ("reproduced (a real effect, not flakiness)" if same else "NOT reproduced (flaky)"),
                           highlight=False)
            _out.print(f"report: {page or result.report_dir / 'report.json'}", highlight=False)
        return result.exit_code

    raise typer.Exit(_guard(body))


@app.command()
def train(
    experiment: ExperimentArg,
    sessions: Annotated[int, typer.Option("--sessions", min=1, help="learning sessions (visitors)")] = 200,
    policy: Annotated[str, typer.Option("--policy", help="dqn | uniform | egreedy | thompson | linucb")] = "dqn",
    seed: Annotated[int | None, typer.Option("--seed", help="run seed (default UIAB_SEED)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="checkpoint to write (DQN)")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="continue from this DQN checkpoint")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    no_report: NoReportOpt = False,
) -> None:
    """Learn which patch to show at each page view from rewards measured in the browser; log every decision."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from agent.training import POLICIES
    from harness.run.train import run_training

    def body() -> int:
        if policy not in POLICIES:
            raise InputError(f"unknown policy {policy!r}", field="--policy", fix=f"use one of: {', '.join(POLICIES)}")
        settings = _settings(db=db)
        run_seed = settings.seed if seed is None else seed
        progress = Progress(TextColumn(f"train {policy}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[mean]}"), TimeRemainingColumn(), console=_err, transient=True)
        task = progress.add_task("sessions", total=sessions, mean="")

        def advance(done: int, _reward: float, running: float) -> None:
            progress.update(task, completed=done, mean=f"running mean reward {running:+.3f}")

        with progress:
            report = run_training(experiment, settings, sessions=sessions, policy=policy, seed=run_seed, out=out,
                                  resume=resume, on_progress=advance)
        summary = report.to_dict()
        page = None if no_report else _write_report(settings, report.run_id,
                                                     settings.report_dir / f"train-{report.run_id}")
        summary["report"] = str(page) if page else None
        if as_json:
            _emit_json(summary)
        else:
            _out.print(f"trained {summary['policy']} for {summary['sessions']} sessions (run {summary['run_id']}): "
                       f"mean reward over the last 10 % {summary['mean_reward_last_10pct']:+.3f}, conversion "
                       f"{summary['conversion_rate']:.1%}", highlight=False)
            _out.print(f"checkpoint: {summary['checkpoint']}   learning curve: {summary['learning_curve']}   "
                       f"alerts: {summary['alerts']}", highlight=False)
            if page:
                _out.print(f"report: {page}", highlight=False)
        return 0

    raise typer.Exit(_guard(body))


@app.command()
def nightly(
    experiment: ExperimentArg,
    sessions: Annotated[int, typer.Option("--sessions", min=1, help="simulate: visitors, each under every "
                                          "variant")] = 30,
    train_sessions: Annotated[int, typer.Option("--train-sessions", min=1, help="train: learning sessions")] = 60,
    stages: Annotated[str, typer.Option("--stages", help="rollout: traffic percentages")] = "50,100",
    sessions_per_stage: Annotated[int, typer.Option("--sessions-per-stage", min=2, help="rollout")] = 30,
    seed: Annotated[int | None, typer.Option("--seed", help="run seed (default UIAB_SEED)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="reports folder (default UIAB_REPORT_DIR)")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="start over instead of resuming an unfinished "
                                        "nightly")] = False,
    gate: Annotated[bool, typer.Option("--gate", help="exit with the rollout's code (promote 0, rollback 1, "
                                       "inconclusive 3) instead of 0")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """smoke → simulate → train → rollout of the agent's best patch → report; rerun to resume after a stop."""
    from harness.interfaces.nightly import NightlyOptions, run_nightly

    def body() -> int:
        try:
            stage_list = tuple(int(x) for x in stages.split(","))
        except ValueError:
            raise InputError(f"--stages {stages!r} is not a comma-separated list of percentages",
                             field="--stages", fix="e.g. --stages 50,100") from None
        settings = _settings(db=db, report_dir=out)
        options = NightlyOptions(sessions=sessions, train_sessions=train_sessions, stages=stage_list,
                                 sessions_per_stage=sessions_per_stage,
                                 seed=settings.seed if seed is None else seed, fresh=fresh)

        def announce(step: str, message: str) -> None:
            if not as_json:
                _err.print(f"[bold]nightly {step}:[/] {message}", highlight=False, soft_wrap=True)

        result = run_nightly(experiment, settings, options, announce=announce)
        if as_json:
            _emit_json(result.to_dict())
        else:
            verdict = result.verdict or "no rollout (control's smoke walk failed)"
            _out.print(f"nightly done: {verdict}", highlight=False)
            _out.print(f"report: {result.report}   latest: {settings.report_dir / 'latest' / 'index.html'}",
                       highlight=False)
        if not result.smoke_ok:
            return 1  # a broken funnel is news whether or not the gate was asked for
        return result.exit_code if gate else 0

    raise typer.Exit(_guard(body))


@app.command("report")
def report_command(
    run: Annotated[str, typer.Argument(help="a run id, or latest", show_default=False)],
    out: Annotated[Path | None, typer.Option("--out", help="folder for index.html (default: UIAB_REPORT_DIR/"
                                             "KIND-RUN_ID)")] = None,
    no_screenshots: Annotated[bool, typer.Option("--no-screenshots", help="no browser: draw the heatmaps on a "
                                                 "blank page")] = False,
    db: DbOpt = None,
) -> None:
    """Write a run's self-contained HTML report: verdict, metrics with intervals, curves, stages, heatmaps."""
    from harness.report.render import build_report, resolve_run_id
    from harness.store.database import Store

    def body() -> int:
        settings = _settings(db=db)
        if not settings.db.is_file():
            raise InputError(f"no database at {settings.db}", field="--db",
                             fix="pass the --db a uiab command wrote to (default: UIAB_DB or ./uiab.db)")
        with Store(settings.db) as store:
            run_id = resolve_run_id(store, run)
            kind = store.run(run_id)["kind"]  # type: ignore[index]
            folder = out or settings.report_dir / f"{kind}-{run_id}"
            page = build_report(store, run_id, folder, settings, screenshots=not no_screenshots)
        _out.print(f"report: {page}", highlight=False)
        return 0

    raise typer.Exit(_guard(body))


@app.command("decisions")
def decisions_export(
    run_id: Annotated[int, typer.Argument(help="a train run's id", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="JSON-lines file to write")] = Path("decisions.jsonl"),
    db: DbOpt = None,
) -> None:
    """Export a run's decision log (context, actions offered, action, propensity, reward parts) as JSON lines."""
    from agent.decision_log import DecisionRecord, to_jsonl
    from harness.store.database import Store

    def body() -> int:
        settings = _settings(db=db)
        with Store(settings.db) as store:
            rows = store.decisions(run_id)
        if not rows:
            raise InputError(f"run {run_id} has no decisions in {settings.db}", field="RUN_ID",
                             fix="pass the run_id `uiab train` printed")
        written = to_jsonl([DecisionRecord.from_dict(r) for r in rows], out)
        _err.print(f"wrote {written} decisions to {out}", highlight=False)
        return 0

    raise typer.Exit(_guard(body))


patch_app = typer.Typer(no_args_is_help=True, help="Validate and inspect UI patches.")
app.add_typer(patch_app, name="patch")


@patch_app.command("check")
def patch_check(
    file: Annotated[Path, typer.Argument(help="a .css or .toml patch file", show_default=False)],
    experiment: Annotated[Path | None, typer.Option("--experiment", help="apply it on this experiment's "
                                                    "funnel pages in the browser")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a patch; with --experiment, apply it on every funnel page and report what each selector matched."""
    from harness.run.patch_check import check_patch

    def body() -> int:
        settings = _settings()
        check = asyncio.run(check_patch(file, settings, experiment))
        if as_json:
            _emit_json(check.to_dict())
            return 0
        _out.print(f"[green]valid[/] {file} — patch {check.patch.name!r} ({check.patch.digest}), "
                   f"{len(check.patch.ops)} op(s)", highlight=False)
        _out.print(check.patch.css or "(no CSS)", highlight=False, markup=False)
        for device, pages in check.matches.items():
            table = Table(title=f"matches on {device}", title_justify="left")
            table.add_column("selector")
            for page in pages:
                table.add_column(page, justify="right")
            selectors = sorted({s for counts in pages.values() for s in counts})
            for selector in selectors:
                table.add_row(selector, *(str(pages[p].get(selector, "—")) for p in pages))
            _out.print(table)
        for failure in check.failed_ops:
            _out.print(f"[yellow]op failed:[/] {failure}", highlight=False)
        return 0

    raise typer.Exit(_guard(body))


personas_app = typer.Typer(no_args_is_help=True, help="The persona library.")
app.add_typer(personas_app, name="personas")


@personas_app.command("list")
def personas_list(as_json: JsonOpt = False) -> None:
    """Show the personas in the library."""
    from personas import list_personas

    def body() -> int:
        _settings()
        people = list_personas()
        if as_json:
            _emit_json({"personas": [p.model_dump(mode="json") for p in people]})
            return 0
        table = Table(title="persona library", title_justify="left")
        for column in ("name", "device", "pointer", "share", "intent", "wpm", "patience (scale, shape)",
                       "min contrast", "min font", "goals"):
            table.add_column(column)
        for p in people:
            table.add_row(p.name, p.device, p.motor.pointer, f"{p.share:.2f}", f"{p.intent:.2f}",
                          f"{p.reading.wpm:.0f}", f"{p.patience.scale_s:.0f} s, {p.patience.shape:.2f}",
                          f"{p.vision.min_contrast:.1f}", f"{p.vision.min_font_px:.0f} px", ", ".join(p.goals))
        _out.print(table)
        return 0

    raise typer.Exit(_guard(body))


def main() -> None:  # pragma: no cover - the console script
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
