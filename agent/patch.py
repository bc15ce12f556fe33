"""A UI patch: validated CSS plus declarative DOM operations, and the loader for ``.css``/``.toml`` files."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from agent.css_validator import css_selectors, validate_css, validate_op_selector
from agent.kernel import InputError, PatchValidationError, error_from_validation, read_text

__all__ = [
    "OP_KINDS",
    "SET_ATTR_ALLOWED",
    "MAX_TEXT",
    "DomOp",
    "Patch",
    "load_patch",
    "patch_from_mapping",
    "patch_to_toml",
]

OpKind = Literal["set_text", "move_before", "move_after", "hide", "show", "sticky", "swap", "set_attr"]
OP_KINDS: tuple[str, ...] = get_args(OpKind)
# Text-only attributes: none of them can run script or load anything (unlike on*, href, src, style).
SET_ATTR_ALLOWED: frozenset[str] = frozenset({"aria-label", "title", "alt"})
MAX_TEXT = 300
MAX_OPS = 32
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"

# Which optional fields each op takes; anything else given is a mistake worth reporting.
_OP_FIELDS: dict[str, frozenset[str]] = {
    "set_text": frozenset({"text"}),
    "move_before": frozenset({"target"}),
    "move_after": frozenset({"target"}),
    "swap": frozenset({"target"}),
    "hide": frozenset(),
    "show": frozenset(),
    "sticky": frozenset(),
    "set_attr": frozenset({"attr", "value"}),
}


def _source(info: ValidationInfo) -> str | None:
    return info.context.get("source") if isinstance(info.context, dict) else None


def _op_error(message: str, *, field: str | None = None, fix: str | None = None) -> PydanticCustomError:
    # A pydantic error (not ours) so pydantic adds where in the patch it happened: ops[2].attr.
    return PydanticCustomError("patch_op", "{message}", {"message": message, "field": field, "fix": fix})


def _plain_text(text: str) -> str:
    if len(text) > MAX_TEXT:
        raise _op_error(f"text is {len(text)} characters, more than {MAX_TEXT}")
    if any(ord(c) < 32 and c not in "\t\n" for c in text):
        raise _op_error("text contains control characters")
    return text


class DomOp(BaseModel):
    """One declarative DOM operation, applied by the trusted runtime to every element ``selector`` matches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: OpKind
    selector: str
    text: str | None = None
    target: str | None = None
    attr: str | None = None
    value: str | None = None

    @field_validator("selector", "target")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_op_selector(value)
        except PatchValidationError as exc:
            where = f"{exc.field}: " if exc.field else ""
            raise _op_error(where + exc.message, fix=exc.fix) from None

    @field_validator("text", "value")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return None if value is None else _plain_text(value)

    @model_validator(mode="after")
    def _fields_fit_the_op(self) -> DomOp:
        allowed = _OP_FIELDS[self.op]
        given = {name for name in ("text", "target", "attr", "value") if getattr(self, name) is not None}
        for extra in sorted(given - allowed):
            raise _op_error(f"{self.op} does not take {extra!r}", field=extra,
                            fix=f"{self.op} takes {', '.join(sorted(allowed)) or 'only a selector'}")
        for missing in sorted(allowed - given):
            raise _op_error(f"{self.op} needs {missing!r}", field=missing)
        if self.op == "set_attr" and self.attr not in SET_ATTR_ALLOWED:
            raise _op_error(f"set_attr may not set {self.attr!r}", field="attr",
                            fix=f"use one of {', '.join(sorted(SET_ATTR_ALLOWED))}")
        if self.target is not None and self.target == self.selector:
            raise _op_error(f"{self.op} needs a target other than its own selector", field="target")
        return self

    def config(self) -> dict[str, str]:
        """The op as the runtime reads it: only the fields that are set."""
        return self.model_dump(exclude_none=True)


class Patch(BaseModel):
    """CSS (validated and re-serialised at construction) plus DOM operations; never free script."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    css: str = ""
    ops: tuple[DomOp, ...] = Field(default=(), max_length=MAX_OPS)

    @field_validator("css")
    @classmethod
    def _css(cls, value: str, info: ValidationInfo) -> str:
        return validate_css(value, source=_source(info), field="css")

    @property
    def selectors(self) -> list[str]:
        """Every selector the patch touches: its CSS rules' (minus :hover-like states), ops' and targets'."""
        found: dict[str, None] = dict.fromkeys(css_selectors(self.css))
        for op in self.ops:
            found[op.selector] = None
            if op.target is not None:
                found[op.target] = None
        return list(found)

    @property
    def is_empty(self) -> bool:
        return not self.css and not self.ops

    @property
    def digest(self) -> str:
        """A short stable hash of what the patch does (CSS and ops, not its name)."""
        canonical = json.dumps({"css": self.css, "ops": [op.config() for op in self.ops]},
                               sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:12]

    def config(self) -> dict[str, Any]:
        """The JSON-ready configuration the browser runtime reads."""
        return {"name": self.name, "digest": self.digest, "css": self.css,
                "ops": [op.config() for op in self.ops], "selectors": self.selectors}


# pydantic error types whose own message would not tell a patch author what to write.
_MESSAGES = {
    "string_pattern_mismatch": "name must be letters, digits, '.', '_' or '-' (at most 80)",
    "tuple_type": "must be a list (in TOML: [[ops]] tables)",
    "list_type": "must be a list (in TOML: [[ops]] tables)",
    "literal_error": "unknown op {input!r}; use one of " + ", ".join(OP_KINDS),
}


def patch_from_mapping(data: dict[str, Any], *, source: str | None = None,
                       default_name: str | None = None) -> Patch:
    """Build a Patch from parsed TOML/JSON; every error is a PatchValidationError naming source and field."""
    if not isinstance(data, dict):
        raise PatchValidationError("a patch must be a table", source=source)
    data = dict(data)
    if default_name is not None:
        data.setdefault("name", default_name)
    try:
        return Patch.model_validate(data, context={"source": source})
    except ValidationError as exc:
        # The CSS validator's own error (a ValueError, so pydantic wrapped it) already names line and column.
        cause = (exc.errors()[0].get("ctx") or {}).get("error")
        if isinstance(cause, PatchValidationError):
            raise cause from None
        raise error_from_validation(exc, source=source, error=PatchValidationError, messages=_MESSAGES) from None


def load_patch(path: Path) -> Patch:
    """Read a ``.css`` (name = file stem) or ``.toml`` patch file."""
    path = Path(path)
    source = str(path)
    if path.suffix not in (".css", ".toml"):
        raise InputError("a patch file must end in .css or .toml", source=source)
    if not path.exists():
        raise InputError("patch file not found", source=source, fix="check the path")
    text = read_text(path, what="patch file")
    if path.suffix == ".css":
        return patch_from_mapping({"css": text}, source=source, default_name=path.stem)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PatchValidationError(f"invalid TOML: {exc}", source=source) from None
    return patch_from_mapping(data, source=source, default_name=path.stem)


def patch_to_toml(patch: Patch) -> str:
    """A ``.toml`` patch file that :func:`load_patch` reads back to the same patch (same digest)."""
    # JSON string escapes are valid TOML basic-string escapes, and json.dumps never emits the one TOML lacks
    # (an escaped solidus), so every value is written as a JSON string.
    lines = [f"name = {json.dumps(patch.name)}", f"css = {json.dumps(patch.css)}"]
    for op in patch.ops:
        lines.append("")
        lines.append("[[ops]]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in op.config().items())
    return "\n".join(lines) + "\n"
