"""The one exception hierarchy of uiab; ``harness`` re-exports it so users catch ``harness.UiabError``.

It lives in ``agent`` because ``agent`` and ``personas`` must not import ``harness`` (dependencies point one
way), yet all three raise errors a user should be able to catch with one ``except``.
"""

from __future__ import annotations

__all__ = [
    "UiabError",
    "InputError",
    "PatchValidationError",
    "PersonaError",
    "InfrastructureError",
]


class UiabError(Exception):
    """Base of every error uiab raises on purpose."""

    exit_code = 1


class InputError(UiabError):
    """Bad input from the user: a file, a field, a value. The CLI prints one line and exits 2."""

    exit_code = 2

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None,
                 fix: str | None = None) -> None:
        self.message = message
        self.source = source
        self.field = field
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """``FILE: field: problem (fix: ...)`` — everything a user needs to act, on one line."""
        parts = [p for p in (self.source, self.field) if p]
        head = ": ".join(parts + [self.message])
        return f"{head} (fix: {self.fix})" if self.fix else head


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


class InfrastructureError(UiabError):
    """The environment failed, not the input: the browser would not start, the site is unreachable."""

    exit_code = 4
