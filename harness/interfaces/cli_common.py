"""What every ``uiab`` command shares: the consoles, the common options, the error wrapper, settings, output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec

import typer
from rich.console import Console
from rich.text import Text

from agent.kernel import InputError, UiabError, first_line
from harness.interfaces.logs import configure_logging
from harness.settings import MAX_SESSIONS, Settings, load_settings

__all__ = ["DbOpt", "ExperimentArg", "JsonOpt", "NoReportOpt", "cli_command", "command_settings",
           "emit_json", "err", "err_line", "error_line", "out", "parse_stages", "sessions_option", "warn",
           "write_report"]

P = ParamSpec("P")

err = Console(stderr=True)
# Piped output (CI logs) gets a wide table instead of rich's 80-column default.
out = Console(width=None if sys.stdout.isatty() else 160)

ExperimentArg = Annotated[Path, typer.Argument(help="experiment.toml", show_default=False)]
DbOpt = Annotated[Path | None, typer.Option("--db", help="SQLite database (default: UIAB_DB or ./uiab.db)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the result as JSON on stdout, nothing else")]
NoReportOpt = Annotated[bool, typer.Option("--no-report", help="skip the HTML report (it takes screenshots "
                                           "in the browser)")]


def sessions_option(name: str, text: str, *, low: int = 1) -> Any:
    """A session count, bounded: ``--sessions 1000000000`` is a typo, refused before any work starts."""
    return typer.Option(name, min=low, max=MAX_SESSIONS, help=f"{text} (at most {MAX_SESSIONS})")


def err_line(label: str, style: str, message: str) -> None:
    """One line on stderr: ``label`` in ``style``, then ``message`` verbatim."""
    # A Text, not markup: a message may hold brackets (``[[ops]]``, ``funnel[2]``) that rich would parse as tags.
    err.print(Text.assemble((label, style), " ", message), highlight=False, soft_wrap=True)


def warn(label: str, message: str) -> None:
    """One yellow line on stderr, e.g. ``uiab: report not written: ...``."""
    err_line(label, "yellow", message)


def error_line(message: str) -> None:
    """The one line every refused command prints: ``uiab: error: SOURCE: field: problem (fix: ...)``."""
    err_line("uiab: error:", "bold red", " ".join(message.split()))


def cli_command(body: Callable[P, int]) -> Callable[P, None]:
    """A command: ``body`` returns the exit code; a :class:`UiabError` is one line on stderr and exits with its
    ``exit_code`` (bad input 2, infrastructure 4); Ctrl-C exits 130."""

    @functools.wraps(body)  # typer reads the options from the signature, which wraps() keeps
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            code = body(*args, **kwargs)
        except UiabError as exc:
            error_line(exc.one_line())
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            warn("uiab: interrupted", "— finished sessions are stored; the run is marked interrupted")
            raise typer.Exit(130) from None
        raise typer.Exit(code)

    return run


def command_settings(**overrides: Any) -> Settings:
    """The command's settings (UIAB_* environment, uiab.toml, then its options), with logging set to match."""
    loaded = load_settings(**overrides)
    configure_logging(loaded.log_level)
    return loaded


def emit_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def parse_stages(text: str, *, example: str, command: str) -> tuple[int, ...]:
    """``--stages 10,50,100`` as increasing percentages (at most MAX_STAGES); anything else is bad input."""
    from harness.run.experiment import stages_problem

    try:
        stages = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise InputError(f"{text!r} is not a comma-separated list of percentages", source=command,
                         field="--stages", fix=f"e.g. --stages {example}") from None
    problem = stages_problem(stages)
    if problem:
        raise InputError(problem, source=command, field="--stages", fix=f"e.g. --stages {example}")
    return stages


def write_report(settings: Settings, run_id: int, folder: Path, *,
                 summary: dict[str, Any] | None = None) -> Path | None:
    """The run's HTML report at the end of a command; a report that fails warns, it never loses the run."""
    from harness.report.render import build_report

    try:
        return build_report(settings.db, run_id, folder, settings, summary=summary)
    except Exception as exc:  # the run is stored; `uiab report RUN_ID` can retry
        warn("uiab: report not written:", f"{first_line(exc)} (retry: uiab report {run_id})")
        return None
