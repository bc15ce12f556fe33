"""Patch CSS validation: parse with tinycss2, allow a small safe subset, re-serialise what was checked.

The policy is an allowlist, not a blocklist: a declaration passes only when its property is listed and every
component of its value is a length, number, colour or keyword that property accepts. Nothing that can load a
resource (``url()``, ``image-set()``, ``@import``, ``@font-face``), run script (``expression()``,
``behavior``, ``-moz-binding``, ``javascript:``), substitute unchecked text (``var()``, ``attr()``) or read
attribute values (``[value^=a]``) can be expressed in it, so a patch cannot exfiltrate data. The output is
serialised from the validated tokens, so what is injected is exactly what was checked. The tables (limits, bans,
each property's value grammar) are data in agent/css_grammar.py; the selector policy is agent/css_selector_policy.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import tinycss2
import tinycss2.color4
from tinycss2 import ast

from agent.css_grammar import (
    ALLOWED_PROPERTIES,
    BANNED_AT_RULES,
    BANNED_PROPERTIES,
    COLOUR_FUNCTIONS,
    GLOBAL_KEYWORDS,
    LENGTH_UNITS,
    MATH_FUNCTIONS,
    MAX_CSS_BYTES,
    MAX_DECLARATIONS,
    MAX_NESTING,
    MAX_RULES,
    MAX_SELECTOR_CHARS,
    MAX_VALUE_COMPONENTS,
    MEDIA_FEATURES,
    MEDIA_WORDS,
    PropertySpec,
)
from agent.css_selector_policy import op_subject, probe, selector_text
from agent.css_tokens import Reject, banned_token, check_name, describe, scan_banned, split_commas, strip
from agent.kernel import PatchValidationError

__all__ = [
    "MAX_CSS_BYTES",
    "MAX_RULES",
    "MAX_DECLARATIONS",
    "ALLOWED_PROPERTIES",
    "validate_css",
    "validate_selector",
    "validate_op_selector",
    "css_selectors",
]


# --- declaration values --------------------------------------------------------------------------------


def _check_number(value: float, spec: PropertySpec, node: ast.Node, prop: str) -> None:
    if spec.nonneg and value < 0:
        raise Reject(f"{prop} may not be negative", node)
    if spec.low is not None and value < spec.low or spec.high is not None and value > spec.high:
        raise Reject(f"{prop} must be between {spec.low:g} and {spec.high:g}", node)


def _check_math(token: ast.FunctionBlock | ast.ParenthesesBlock, prop: str, depth: int) -> None:
    if depth > MAX_NESTING:
        raise Reject("calculation nests too deeply", token)
    args = token.arguments if isinstance(token, ast.FunctionBlock) else token.content
    for arg in args:
        banned_token(arg)
        if isinstance(arg, ast.WhitespaceToken | ast.NumberToken | ast.PercentageToken):
            continue
        if isinstance(arg, ast.DimensionToken):
            if arg.lower_unit not in LENGTH_UNITS:
                raise Reject(f"unit {arg.unit!r} is not a length unit", arg)
            continue
        if isinstance(arg, ast.LiteralToken) and arg.value in {"+", "-", "*", "/", ","}:
            continue
        if isinstance(arg, ast.FunctionBlock) and arg.lower_name in MATH_FUNCTIONS:
            _check_math(arg, prop, depth + 1)
            continue
        if isinstance(arg, ast.ParenthesesBlock):
            _check_math(arg, prop, depth + 1)
            continue
        raise Reject(f"unexpected {describe(arg)} in {prop} calculation", arg)


def _check_component(token: ast.Node, spec: PropertySpec, prop: str) -> None:
    kinds = spec.kinds
    if isinstance(token, ast.IdentToken):
        word = token.lower_value
        if word in spec.keywords or word in GLOBAL_KEYWORDS:
            return
        if "colour" in kinds and _is_colour(token):
            return
        check_name(token.value, token, "keyword")
        raise Reject(f"{token.value!r} is not a valid {prop} keyword", token)
    if isinstance(token, ast.HashToken):
        if "colour" in kinds and _is_colour(token):
            return
        raise Reject(f"#{token.value} is not a valid {prop} value", token)
    if isinstance(token, ast.FunctionBlock):
        if token.lower_name in COLOUR_FUNCTIONS and "colour" in kinds:
            if not _is_colour(token):
                raise Reject(f"{token.lower_name}() is not a valid colour", token)
            return
        if token.lower_name in MATH_FUNCTIONS and kinds & {"length", "number", "percent", "integer"}:
            _check_math(token, prop, 1)
            return
        raise Reject(f"function {token.lower_name}() is not allowed in {prop}", token)
    if isinstance(token, ast.DimensionToken):
        if "length" not in kinds:
            raise Reject(f"{prop} does not take a length", token)
        if token.lower_unit not in LENGTH_UNITS:
            raise Reject(f"unit {token.unit!r} is not a length unit", token)
        _check_number(token.value, spec, token, prop)
        return
    if isinstance(token, ast.PercentageToken):
        if "percent" not in kinds:
            raise Reject(f"{prop} does not take a percentage", token)
        _check_number(token.value / 100 if "number" in kinds else token.value, spec, token, prop)
        return
    if isinstance(token, ast.NumberToken):
        if "integer" in kinds and token.is_integer or "number" in kinds:
            _check_number(token.value, spec, token, prop)
            return
        if "length" in kinds and token.value == 0:
            return
        if "length" in kinds:
            raise Reject(f"length {token.representation} needs a unit (only 0 may go without)", token,
                          fix=f"write {token.representation}px")
        raise Reject(f"{prop} does not take the number {token.representation}", token)
    raise Reject(f"unexpected {describe(token)} in {prop}", token)


def _is_colour(token: ast.Node) -> bool:
    try:
        # typeshed's stub says str or an iterable; tinycss2 takes one component value too (and this is one).
        return tinycss2.color4.parse_color(token) is not None  # pyright: ignore[reportArgumentType]
    except (ValueError, TypeError, ArithmeticError):  # defensive: a parser bug must read as "not a colour"
        return False


def _value_text(prop: str, tokens: list[ast.Node], node: ast.Node) -> str:
    spec = ALLOWED_PROPERTIES[prop]
    tokens = strip(tokens)
    if not tokens:
        raise Reject(f"{prop} has an empty value", node)
    if len(tokens) > MAX_VALUE_COMPONENTS:
        raise Reject(f"{prop} value has more than {MAX_VALUE_COMPONENTS} parts", node)
    scan_banned(tokens, 0)
    groups = split_commas(tokens)
    if len(groups) > 1 and not spec.commas:
        raise Reject(f"{prop} takes a single value, not a comma-separated list", node)
    for group in groups:
        parts = [t for t in group if not isinstance(t, ast.WhitespaceToken)]
        if not parts:
            raise Reject(f"empty item in {prop} list", node)
        if len(parts) > spec.max_parts + (1 if spec.slash else 0):
            many = f"{spec.max_parts} values" if spec.max_parts > 1 else "1 value"
            raise Reject(f"{prop} takes at most {many}", parts[spec.max_parts])
        for part in parts:
            if isinstance(part, ast.LiteralToken) and part.value == "/" and spec.slash:
                continue
            _check_component(part, spec, prop)
    return tinycss2.serialize(tokens)


def _declarations(rule: ast.QualifiedRule) -> str:
    items = tinycss2.parse_declaration_list(rule.content, skip_comments=True, skip_whitespace=True)
    out: list[str] = []
    for item in items:
        if isinstance(item, ast.ParseError):
            raise Reject(f"invalid declaration ({item.message})", item)
        if not isinstance(item, ast.Declaration):
            raise Reject(f"unexpected {describe(item)} inside a rule (nested rules are not allowed)", item)
        name = item.lower_name
        if name.startswith("--"):
            raise Reject("custom properties are not allowed (var() could smuggle unchecked values)", item)
        if name in BANNED_PROPERTIES:
            raise Reject(BANNED_PROPERTIES[name], item)
        check_name(item.name, item, "property")
        if name not in ALLOWED_PROPERTIES:
            raise Reject(f"property {name!r} is not on the allowlist", item,
                          fix="see agent.css_validator.ALLOWED_PROPERTIES")
        if len(out) >= MAX_DECLARATIONS:
            raise Reject(f"more than {MAX_DECLARATIONS} declarations in one rule", item)
        value = _value_text(name, item.value, item)
        out.append(f"{tinycss2.serialize_identifier(name)}:{value}{'!important' if item.important else ''}")
    return ";".join(out)


# --- rules ---------------------------------------------------------------------------------------------


def _media_prelude(rule: ast.AtRule) -> str:
    tokens = strip(rule.prelude)
    if not tokens:
        raise Reject("@media needs a media query", rule)
    for token in tokens:
        banned_token(token)
        if isinstance(token, ast.WhitespaceToken):
            continue
        if isinstance(token, ast.LiteralToken) and token.value == ",":
            continue
        if isinstance(token, ast.IdentToken) and token.lower_value in MEDIA_WORDS:
            continue
        if isinstance(token, ast.ParenthesesBlock):
            _media_feature(token)
            continue
        raise Reject(f"unexpected {describe(token)} in @media query", token)
    return tinycss2.serialize(tokens)


def _media_feature(block: ast.ParenthesesBlock) -> None:
    parts = [t for t in block.content if not isinstance(t, ast.WhitespaceToken)]
    if not parts or not isinstance(parts[0], ast.IdentToken) or parts[0].lower_value not in MEDIA_FEATURES:
        raise Reject(f"media feature must be one of {', '.join(sorted(MEDIA_FEATURES))}", block)
    if len(parts) == 1:
        return
    if len(parts) != 3 or not (isinstance(parts[1], ast.LiteralToken) and parts[1].value == ":"):
        raise Reject("media feature must read (name: value)", block)
    value = parts[2]
    for bad in (value,):
        banned_token(bad)
    if isinstance(value, ast.DimensionToken) and value.lower_unit in LENGTH_UNITS:
        return
    if isinstance(value, ast.NumberToken):
        return
    if isinstance(value, ast.IdentToken):
        check_name(value.value, value, "media value")
        return
    raise Reject(f"unexpected {describe(value)} in media feature", value)


@dataclass(frozen=True)
class _At:
    """A position in the input that no token carries."""

    source_line: int
    source_column: int


@dataclass
class _Budget:
    rules: int = 0


def _rule(node: ast.Node, budget: _Budget, *, nested: bool) -> str:
    if isinstance(node, ast.ParseError):
        raise Reject(f"CSS syntax error ({node.message})", node)
    if isinstance(node, ast.AtRule):
        name = node.lower_at_keyword
        if name in BANNED_AT_RULES:
            raise Reject(BANNED_AT_RULES[name], node)
        if name != "media" or nested:
            raise Reject(f"@{name} is not allowed (only top-level @media is)", node)
        if node.content is None:
            raise Reject("@media needs a block of rules", node)
        prelude = _media_prelude(node)
        inner = tinycss2.parse_rule_list(node.content, skip_comments=True, skip_whitespace=True)
        body = "\n".join(_rule(child, budget, nested=True) for child in inner)
        return f"@media {prelude}{{\n{body}\n}}"
    if not isinstance(node, ast.QualifiedRule):
        raise Reject(f"unexpected {describe(node)}", node)
    budget.rules += 1
    if budget.rules > MAX_RULES:
        raise Reject(f"more than {MAX_RULES} rules", node)
    selector = selector_text(node.prelude)
    return f"{selector}{{{_declarations(node)}}}"


def _position(node: object | None) -> tuple[int | None, int | None]:
    line = getattr(node, "source_line", None)
    column = getattr(node, "source_column", None)
    return line, column


def _guard(run: Callable[[], str], *, source: str | None, field: str | None) -> str:
    try:
        return run()
    except Reject as exc:
        line, column = _position(exc.node)
        raise PatchValidationError(exc.reason, source=source, field=field, fix=exc.fix, line=line,
                                   column=column) from None
    except RecursionError:  # pathological nesting in the input; our own recursion is bounded
        raise PatchValidationError("CSS nests too deeply", source=source, field=field) from None


def validate_css(text: str, *, source: str | None = None, field: str | None = None) -> str:
    """Validate patch CSS and return it re-serialised from the checked tokens; raise PatchValidationError."""

    def run() -> str:
        if not isinstance(text, str):
            raise Reject("CSS must be text")
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_CSS_BYTES:
            raise Reject(f"CSS is {size} bytes, more than the limit of {MAX_CSS_BYTES}")
        if "<" in text:  # no allowed construct needs it; it only ever means HTML smuggled into a <style>
            before = text[: text.index("<")]
            raise Reject("'<' is not allowed in patch CSS (HTML markup)",
                          _At(before.count("\n") + 1, len(before) - before.rfind("\n")))
        nodes = tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True)
        budget = _Budget()
        return "\n".join(_rule(node, budget, nested=False) for node in nodes)

    return _guard(run, source=source, field=field)


def validate_selector(selector: str, *, source: str | None = None, field: str | None = None) -> str:
    """Validate one selector (or selector list) under the patch policy; return its normalised text."""

    def run() -> str:
        if not isinstance(selector, str):
            raise Reject("selector must be text")
        if len(selector) > MAX_SELECTOR_CHARS:
            raise Reject(f"selector longer than {MAX_SELECTOR_CHARS} characters")
        tokens = tinycss2.parse_component_value_list(selector, skip_comments=True)
        return selector_text(list(tokens))

    return _guard(run, source=source, field=field)


def validate_op_selector(selector: str, *, source: str | None = None, field: str | None = None) -> str:
    """``validate_selector`` for a DOM op: its subject must also name a content element (never script)."""
    text = validate_selector(selector, source=source, field=field)

    def run() -> str:
        op_subject(list(tinycss2.parse_component_value_list(selector, skip_comments=True)))
        return text

    return _guard(run, source=source, field=field)


def css_selectors(text: str) -> list[str]:
    """Selectors of the rules in validated CSS, minus :hover-like states, in order and without repeats.

    These are what a patch's CSS needs to find on the page; ``:hover`` is dropped because an element that
    is not hovered right now still counts as matched.
    """
    found: dict[str, None] = {}
    for node in tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True):
        rules = [node]
        if isinstance(node, ast.AtRule) and node.content is not None:
            rules = tinycss2.parse_rule_list(node.content, skip_comments=True, skip_whitespace=True)
        for rule in rules:
            if isinstance(rule, ast.QualifiedRule):
                found[probe(strip(rule.prelude))] = None
    return list(found)
