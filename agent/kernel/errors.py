"""Every error uiab raises on purpose, in one tree; the CLI's exit code is the class's ``exit_code``.

::

    UiabError                       exit 1   anything uiab raises on purpose
    ├── InputError                  exit 2   a file, field or value the user must fix (also a ValueError)
    │   ├── PatchValidationError             a patch's CSS or DOM operation was refused (line, column)
    │   ├── PersonaError                     a persona file is missing, unknown or invalid
    │   └── CheckpointError                  a checkpoint that is not a policy for this experiment
    └── InfrastructureError         exit 4   the environment failed, not the input (also a RuntimeError)
        ├── SiteUnreachableError             the site (or a service) did not answer
        └── BrowserError                     Chromium would not start, or went away

Each prints as one line, ``SOURCE: field: problem (fix: ...)``: everything a user needs to act. ``harness``
re-exports the tree, so ``except harness.UiabError`` catches all of it.
"""

from __future__ import annotations

__all__ = [
    "UiabError",
    "InputError",
    "PatchValidationError",
    "PersonaError",
    "CheckpointError",
    "InfrastructureError",
    "SiteUnreachableError",
    "BrowserError",
]


class UiabError(Exception):
    """Base of every error uiab raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None,
                 fix: str | None = None) -> None:
        self.message = message
        self.source = source
        self.field = field
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """``SOURCE: field: problem (fix: ...)`` on one line, whatever the message carried."""
        parts = [p for p in (self.source, self.field) if p]
        head = ": ".join([*parts, " ".join(self.message.split())])
        return f"{head} (fix: {self.fix})" if self.fix else head


class InputError(UiabError, ValueError):
    """Bad input from the user: a file, a field, a value. The CLI prints one line and exits 2.

    It is a ``ValueError`` too, so a Python caller's ``except ValueError`` around a bad argument still holds.
    """

    exit_code = 2


class PatchValidationError(InputError):
    """A patch (CSS or DOM operation) failed validation; ``line``/``column`` point into the CSS."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None,
                 fix: str | None = None, line: int | None = None, column: int | None = None) -> None:
        self.line = line
        self.column = column
        fix = fix or "remove or rewrite it; the README lists what a patch may contain"
        if line is not None:
            where = f"line {line}, column {column}" if column is not None else f"line {line}"
            field = f"{field} {where}" if field else where
        super().__init__(message, source=source, field=field, fix=fix)


class PersonaError(InputError):
    """A persona file is missing, unknown or invalid."""


class CheckpointError(InputError):
    """A checkpoint that cannot be read, or that was trained for another experiment or catalog."""


class InfrastructureError(UiabError, RuntimeError):
    """The environment failed, not the input: the browser would not start, the site is unreachable."""

    exit_code = 4


class SiteUnreachableError(InfrastructureError):
    """The experiment's site, or a service it names, did not answer."""


class BrowserError(InfrastructureError):
    """Chromium could not be started or connected to, or it went away."""
