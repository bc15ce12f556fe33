"""``uiab report``, ``uiab decisions``, ``uiab patch check``, ``uiab personas list``: look at what is stored."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agent.kernel import InputError
from harness.interfaces.cli_common import DbOpt, JsonOpt, cli_command, command_settings, emit_json, err, out

__all__ = ["decisions_export", "patch_app", "patch_check", "personas_app", "personas_list", "report_command"]


@cli_command
def report_command(
    run: Annotated[str, typer.Argument(help="a run id, or latest", show_default=False)],
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for index.html (default: UIAB_REPORT_DIR/"
                                                 "KIND-RUN_ID)")] = None,
    no_screenshots: Annotated[bool, typer.Option("--no-screenshots", help="no browser: draw the heatmaps on a "
                                                 "blank page")] = False,
    db: DbOpt = None,
) -> int:
    """Write a run's self-contained HTML report: verdict, metrics with intervals, curves, stages, heatmaps."""
    from harness.report.render import build_report, resolve_run_id
    from harness.store.database import Store

    if run.strip().lower() != "latest" and not run.strip().isdigit():
        raise InputError(f"{run!r} is not a run id", source="uiab report", field="RUN_ID",
                         fix="pass a number a uiab command printed, or latest")
    settings = command_settings(db=db)
    with Store(settings.db, read_only=True) as store:  # a report only reads: no file created, none migrated
        run_id = resolve_run_id(store, run)
        kind = store.run(run_id)["kind"]  # type: ignore[index]  # resolve_run_id returned a stored run
        folder = out_dir or settings.report_dir / f"{kind}-{run_id}"
        page = build_report(store, run_id, folder, settings, screenshots=not no_screenshots)
    out.print(f"report: {page}", highlight=False)
    return 0


@cli_command
def decisions_export(
    run_id: Annotated[int, typer.Argument(help="a train run's id", show_default=False)],
    out_file: Annotated[Path, typer.Option("--out", help="JSON-lines file to write")] = Path("decisions.jsonl"),
    db: DbOpt = None,
) -> int:
    """Export a run's decision log (context, actions offered, action, propensity, reward parts) as JSON lines."""
    from agent.decision_log import DecisionRecord, to_jsonl
    from harness.store.database import Store

    settings = command_settings(db=db)
    with Store(settings.db, read_only=True) as store:
        rows = store.decisions(run_id)
    if not rows:
        raise InputError(f"run {run_id} has no decisions in {settings.db}", source=str(settings.db), field="RUN_ID",
                         fix="pass the run_id `uiab train` printed")
    written = to_jsonl([DecisionRecord.from_dict(r) for r in rows], out_file)
    err.print(f"wrote {written} decisions to {out_file}", highlight=False, markup=False)
    return 0


patch_app = typer.Typer(no_args_is_help=True, help="Validate and inspect UI patches.")


@patch_app.command("check")
@cli_command
def patch_check(
    file: Annotated[Path, typer.Argument(help="a .css or .toml patch file", show_default=False)],
    experiment: Annotated[Path | None, typer.Option("--experiment", help="apply it on this experiment's "
                                                    "funnel pages in the browser")] = None,
    as_json: JsonOpt = False,
) -> int:
    """Validate a patch; with --experiment, apply it on every funnel page and report what each selector matched."""
    from harness.run.patch_check import check_patch

    settings = command_settings()
    check = asyncio.run(check_patch(file, settings, experiment))
    if as_json:
        emit_json(check.to_dict())
        return 0
    out.print(f"[green]valid[/] {escape(str(file))} — patch {escape(repr(check.patch.name))} ({check.patch.digest}), "
              f"{len(check.patch.ops)} op(s)", highlight=False)
    out.print(check.patch.css or "(no CSS)", highlight=False, markup=False)
    for device, pages in check.matches.items():
        table = Table(title=escape(f"matches on {device}"), title_justify="left")
        table.add_column("selector")
        for page in pages:
            table.add_column(escape(page), justify="right")
        selectors = sorted({s for counts in pages.values() for s in counts})
        for selector in selectors:
            table.add_row(escape(selector), *(str(pages[p].get(selector, "—")) for p in pages))
        out.print(table)
    for failure in check.failed_ops:
        out.print(f"[yellow]op failed:[/] {escape(str(failure))}", highlight=False)
    return 0


personas_app = typer.Typer(no_args_is_help=True, help="The persona library.")


@personas_app.command("list")
@cli_command
def personas_list(as_json: JsonOpt = False) -> int:
    """Show the personas in the library."""
    from personas import list_personas

    command_settings()
    people = list_personas()
    if as_json:
        emit_json({"personas": [p.model_dump(mode="json") for p in people]})
        return 0
    table = Table(title="persona library", title_justify="left")
    for column in ("name", "device", "pointer", "share", "intent", "wpm", "patience (scale, shape)",
                   "min contrast", "min font", "goals"):
        table.add_column(column)
    for p in people:
        table.add_row(p.name, p.device, p.motor.pointer, f"{p.share:.2f}", f"{p.intent:.2f}",
                      f"{p.reading.wpm:.0f}", f"{p.patience.scale_s:.0f} s, {p.patience.shape:.2f}",
                      f"{p.vision.min_contrast:.1f}", f"{p.vision.min_font_px:.0f} px", ", ".join(p.goals))
    out.print(table)
    return 0
