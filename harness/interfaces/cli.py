"""The ``uiab`` command line: smoke, simulate, rollout, train, nightly, report, decisions, patch, personas.

The app is assembled here; the commands live in ``cli_run`` (sessions in the browser), ``cli_gate`` (rollout,
nightly) and ``cli_inspect`` (report, decisions, patch, personas), their shared plumbing in ``cli_common``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer

# Typer 0.29 vendors Click: its exceptions are only reachable here (typer.Abort is the one it re-exports).
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from harness.interfaces.cli_common import error_line
from harness.interfaces.cli_gate import nightly, rollout
from harness.interfaces.cli_inspect import decisions_export, patch_app, personas_app, report_command
from harness.interfaces.cli_run import simulate, smoke, train

__all__ = ["app", "main"]


class _OneLineErrors(TyperGroup):
    """The app's group: a usage error (unknown option, missing argument, a value out of range) is one line
    naming the command, the option and the fix, exit 2 — like every other bad input, not Typer's box."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, windows_expand_args: bool = True,
             **extra: Any) -> Any:
        if not standalone_mode:  # a caller that handles Click's exceptions itself
            return super().main(args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except NoArgsIsHelpError:
            sys.exit(2)  # the help is already printed: bare `uiab` or `uiab patch`
        except UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "uiab"
            error_line(f"{command}: {exc.format_message()} (fix: see {command} --help)")
            sys.exit(exc.exit_code)
        except ClickException as exc:
            error_line(f"uiab: {exc.format_message()}")
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(cls=_OneLineErrors, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Synthetic personas drive real Chromium through UI variants; measure, gate, learn.")


@app.callback()
def _root() -> None:
    """uiab: A/B test UI variants with synthetic personas in real Chromium."""


for _command in (smoke, simulate, rollout, train, nightly):
    app.command()(_command)
app.command("report")(report_command)
app.command("decisions")(decisions_export)
app.add_typer(patch_app, name="patch")
app.add_typer(personas_app, name="personas")


def main() -> None:  # pragma: no cover - the console script
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
