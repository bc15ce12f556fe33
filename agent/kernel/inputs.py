"""Reading the user's files: UTF-8 TOML, and pydantic's errors, each turned into one :class:`InputError` line."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.kernel.errors import InputError

__all__ = ["first_line", "read_text", "read_toml", "error_from_validation"]


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, or its class name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_text(path: Path, *, error: type[InputError] = InputError, what: str = "file",
              fix: str = "check the path") -> str:
    """A file's text as UTF-8; a missing, unreadable or non-UTF-8 file is one line of ``error``.

    A UTF-8 byte-order mark (Windows editors write one) is dropped; UTF-16 and binary files are refused.
    """
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"no such {what}", source=source, fix=fix) from None
    except IsADirectoryError:
        raise error("is a folder, not a file", source=source, fix=fix) from None
    except OSError as exc:
        raise error(f"cannot read the {what}: {exc.strerror or exc}", source=source, fix=fix) from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise error("UTF-16 text, not UTF-8", source=source, fix=f"save the {what} as UTF-8") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text (byte {exc.start})", source=source, fix=f"save the {what} as UTF-8") from None
    if "\x00" in text:
        raise error(f"a binary file, not text (NUL at character {text.index(chr(0))})", source=source,
                    fix=f"pass the {what} itself, saved as UTF-8 text") from None
    return text


def read_toml(path: Path, *, error: type[InputError] = InputError, what: str = "file",
              fix: str = "check the path") -> dict[str, Any]:
    """A TOML file as a dict; missing, non-UTF-8 and malformed files are one line of ``error``."""
    text = read_text(path, error=error, what=what, fix=fix)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"malformed TOML ({exc})", source=str(path), fix="repair the TOML syntax") from None


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def error_from_validation(exc: ValidationError, *, source: str | None, error: type[InputError] = InputError,
                          fixes: Mapping[str, str] | None = None, default_fix: str | None = None,
                          messages: Mapping[str, str] | None = None, at: tuple[str | int, ...] = ()) -> InputError:
    """pydantic's first error as one line: its field path (under ``at``), its message, and a fix by error type.

    ``messages`` and ``fixes`` map pydantic error types to text, formatted with ``input`` (the offending value)
    and ``name`` (the last part of its field path). A validator may put ``field``, ``message`` and ``fix`` into a
    ``PydanticCustomError``'s context; those win.
    """
    first = exc.errors()[0]
    ctx = first.get("ctx") or {}
    loc = at + tuple(first["loc"]) + ((ctx["field"],) if ctx.get("field") else ())
    kind = first["type"]
    values = {"input": first.get("input"), "name": loc[-1] if loc else ""}
    template = (messages or {}).get(kind)
    message = ctx.get("message") or (template.format(**values) if template else None) \
        or first["msg"].removeprefix("Value error, ")
    fix_template = (fixes or {}).get(kind)
    fix = ctx.get("fix") or (fix_template.format(**values) if fix_template else None) or default_fix
    return error(str(message), source=source, field=_location(loc) or None, fix=fix)
