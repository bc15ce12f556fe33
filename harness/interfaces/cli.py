"""The ``uiab`` command line: smoke, simulate, rollout, train, nightly, report, decisions, patch, personas.

The app is assembled here; the commands live in ``cli_run`` (sessions in the browser), ``cli_gate`` (rollout,
nightly) and ``cli_inspect`` (report, decisions, patch, personas), their shared plumbing in ``cli_common``.
"""

from __future__ import annotations

import typer

from harness.interfaces.cli_gate import nightly, rollout
from harness.interfaces.cli_inspect import decisions_export, patch_app, personas_app, report_command
from harness.interfaces.cli_run import simulate, smoke, train

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
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
