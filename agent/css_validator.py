"""Patch CSS validation: parse with tinycss2, allow a small safe subset, re-serialise what was checked.

The policy is an allowlist, not a blocklist: a declaration passes only when its property is listed and every
component of its value is a length, number, colour or keyword that property accepts. Nothing that can load a
resource (``url()``, ``image-set()``, ``@import``, ``@font-face``), run script (``expression()``,
``behavior``, ``-moz-binding``, ``javascript:``), substitute unchecked text (``var()``, ``attr()``) or read
attribute values (``[value^=a]``) can be expressed in it, so a patch cannot exfiltrate data. The output is
serialised from the validated tokens, so what is injected is exactly what was checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cssselect
import tinycss2
import tinycss2.color4
from tinycss2 import ast

from agent.kernel import PatchValidationError

__all__ = [
    "MAX_CSS_BYTES",
    "MAX_RULES",
    "MAX_DECLARATIONS",
    "ALLOWED_PROPERTIES",
    "validate_css",
    "validate_selector",
    "css_selectors",
]

MAX_CSS_BYTES = 20_000
MAX_RULES = 200
MAX_DECLARATIONS = 50
MAX_SELECTOR_CHARS = 500
MAX_VALUE_COMPONENTS = 48
MAX_NESTING = 4

# Names that only ever appear in attacks; checked first anywhere they can hide so the error says why.
_BANNED_FUNCTIONS = {
    "url": "url() loads a resource, which can exfiltrate page data",
    "src": "src() loads a resource, which can exfiltrate page data",
    "image-set": "image-set() loads images, which can exfiltrate page data",
    "-webkit-image-set": "image-set() loads images, which can exfiltrate page data",
    "image": "image() loads images, which can exfiltrate page data",
    "cross-fade": "cross-fade() loads images, which can exfiltrate page data",
    "-webkit-cross-fade": "cross-fade() loads images, which can exfiltrate page data",
    "element": "element() renders other content",
    "-moz-element": "element() renders other content",
    "paint": "paint() runs a worklet",
    "expression": "expression() runs script",
    "var": "var() substitutes text that was not validated",
    "env": "env() substitutes text that was not validated",
    "attr": "attr() reads attribute values",
}
_BANNED_PROPERTIES = {
    "behavior": "behavior loads script (HTC)",
    "-ms-behavior": "behavior loads script (HTC)",
    "-moz-binding": "-moz-binding loads script (XBL)",
    "content": "content inserts text and can read attribute values",
}
_BANNED_AT_RULES = {
    "import": "@import loads another stylesheet",
    "font-face": "@font-face loads fonts (unicode-range probes exfiltrate text)",
    "namespace": "@namespace is not allowed",
    "charset": "@charset is not allowed (the patch is already text)",
}
# Substrings refused in any identifier: scheme names and IE's expression, whatever they are spelled into.
_BANNED_WORDS = ("javascript", "vbscript", "expression")
# After escapes are decoded an identifier must still be a plain ASCII name: escapes cannot smuggle anything.
_PLAIN_NAME = re.compile(r"-?-?[A-Za-z_][A-Za-z0-9_-]*\Z")

_GLOBAL_KEYWORDS = frozenset({"inherit", "initial", "unset", "revert"})
_LENGTH_UNITS = frozenset({
    "px", "em", "rem", "ex", "ch", "lh", "rlh", "vw", "vh", "vmin", "vmax", "svw", "svh", "lvw", "lvh",
    "dvw", "dvh", "pt", "pc", "cm", "mm", "in", "q",
})
_MATH_FUNCTIONS = frozenset({"calc", "min", "max", "clamp"})
_COLOUR_FUNCTIONS = frozenset({"rgb", "rgba", "hsl", "hsla", "hwb", "lab", "lch", "oklab", "oklch", "color"})
_BORDER_STYLES = frozenset({"none", "hidden", "solid", "dashed", "dotted", "double", "groove", "ridge",
                            "inset", "outset"})
_BORDER_WIDTHS = frozenset({"thin", "medium", "thick"})
_SELF_ALIGN = frozenset({"auto", "normal", "stretch", "center", "start", "end", "flex-start", "flex-end",
                         "self-start", "self-end", "baseline", "first", "last", "safe", "unsafe", "left",
                         "right"})


@dataclass(frozen=True)
class _Spec:
    """What one property's value may contain: component kinds, keywords, count and separators."""

    kinds: frozenset[str] = frozenset()  # length, percent, number, integer, colour
    keywords: frozenset[str] = frozenset()
    max_parts: int = 1
    commas: bool = False
    slash: bool = False
    nonneg: bool = False
    low: float | None = None
    high: float | None = None


def _spec(kinds: str = "", keywords: str | frozenset[str] = "", **kw: object) -> _Spec:
    words = keywords if isinstance(keywords, frozenset) else frozenset(keywords.split())
    return _Spec(kinds=frozenset(kinds.split()), keywords=words, **kw)  # type: ignore[arg-type]


_COLOUR = _spec("colour", "transparent currentcolor")
_SIZE = _spec("length percent", "auto min-content max-content fit-content", nonneg=True)
_MAX_SIZE = _spec("length percent", "none min-content max-content fit-content", nonneg=True)
_OFFSET = _spec("length percent", "auto")
_BORDER = _spec("length colour", _BORDER_STYLES | _BORDER_WIDTHS | {"transparent", "currentcolor"},
                max_parts=3)
_SIDES = ("top", "right", "bottom", "left")
_CORNERS = ("top-left", "top-right", "bottom-right", "bottom-left")

ALLOWED_PROPERTIES: dict[str, _Spec] = {
    "color": _COLOUR,
    "background-color": _COLOUR,
    "background": _COLOUR,  # colour only: the shorthand also takes images
    "border": _BORDER,
    "border-color": _spec("colour", "transparent currentcolor", max_parts=4),
    "border-style": _spec("", _BORDER_STYLES, max_parts=4),
    "border-width": _spec("length", _BORDER_WIDTHS, max_parts=4, nonneg=True),
    "border-radius": _spec("length percent", max_parts=8, slash=True, nonneg=True),
    "outline": _BORDER,
    "outline-color": _COLOUR,
    "outline-style": _spec("", _BORDER_STYLES | {"auto"}),
    "outline-width": _spec("length", _BORDER_WIDTHS, nonneg=True),
    "outline-offset": _spec("length"),
    "padding": _spec("length percent", max_parts=4, nonneg=True),
    "margin": _spec("length percent", "auto", max_parts=4),
    "font-size": _spec("length percent",
                       "xx-small x-small small medium large x-large xx-large smaller larger", nonneg=True),
    "font-weight": _spec("number", "normal bold bolder lighter", low=1, high=1000),
    "font-style": _spec("", "normal italic oblique"),
    "width": _SIZE,
    "height": _SIZE,
    "min-width": _SIZE,
    "min-height": _SIZE,
    "max-width": _MAX_SIZE,
    "max-height": _MAX_SIZE,
    "text-align": _spec("", "left right center justify start end"),
    "text-decoration": _spec("length colour", "none underline overline line-through solid double dotted "
                             "dashed wavy transparent currentcolor", max_parts=4),
    "box-shadow": _spec("length colour", "inset none transparent currentcolor", max_parts=24, commas=True),
    "display": _spec("", "none block inline inline-block flex inline-flex grid inline-grid flow-root "
                     "contents table table-row table-cell list-item", max_parts=2),
    "position": _spec("", "static relative absolute fixed sticky"),
    "top": _OFFSET,
    "right": _OFFSET,
    "bottom": _OFFSET,
    "left": _OFFSET,
    "z-index": _spec("integer", "auto"),
    "order": _spec("integer"),
    "flex": _spec("number length percent", "none auto content", max_parts=3),
    "flex-direction": _spec("", "row row-reverse column column-reverse"),
    "flex-wrap": _spec("", "nowrap wrap wrap-reverse"),
    "flex-grow": _spec("number", nonneg=True),
    "flex-shrink": _spec("number", nonneg=True),
    "flex-basis": _spec("length percent", "auto content min-content max-content fit-content", nonneg=True),
    "align-self": _spec("", _SELF_ALIGN, max_parts=2),
    "justify-self": _spec("", _SELF_ALIGN, max_parts=2),
    "align-items": _spec("", _SELF_ALIGN - {"auto"}, max_parts=2),
    "justify-content": _spec("", _SELF_ALIGN | {"space-between", "space-around", "space-evenly"},
                             max_parts=2),
    "gap": _spec("length percent", "normal", max_parts=2, nonneg=True),
    "grid-row": _spec("integer", "auto span", max_parts=5, slash=True),
    "grid-column": _spec("integer", "auto span", max_parts=5, slash=True),
    "line-height": _spec("number length percent", "normal", nonneg=True),
    "letter-spacing": _spec("length", "normal"),
    "opacity": _spec("number percent", low=0, high=1),
    "visibility": _spec("", "visible hidden collapse"),
    "white-space": _spec("", "normal nowrap pre pre-wrap pre-line break-spaces"),
}
for _side in _SIDES:
    ALLOWED_PROPERTIES[f"margin-{_side}"] = _spec("length percent", "auto")
    ALLOWED_PROPERTIES[f"padding-{_side}"] = _spec("length percent", nonneg=True)
    ALLOWED_PROPERTIES[f"border-{_side}"] = _BORDER
    ALLOWED_PROPERTIES[f"border-{_side}-color"] = _COLOUR
    ALLOWED_PROPERTIES[f"border-{_side}-style"] = _spec("", _BORDER_STYLES)
    ALLOWED_PROPERTIES[f"border-{_side}-width"] = _spec("length", _BORDER_WIDTHS, nonneg=True)
for _corner in _CORNERS:
    ALLOWED_PROPERTIES[f"border-{_corner}-radius"] = _spec("length percent", max_parts=2, nonneg=True)
for _edge in ("start", "end"):
    ALLOWED_PROPERTIES[f"grid-row-{_edge}"] = _spec("integer", "auto span", max_parts=2)
    ALLOWED_PROPERTIES[f"grid-column-{_edge}"] = _spec("integer", "auto span", max_parts=2)

_PSEUDO_CLASSES = frozenset({
    "hover", "focus", "focus-visible", "focus-within", "active", "first-child", "last-child", "only-child",
    "first-of-type", "last-of-type", "only-of-type", "empty", "root", "disabled", "enabled", "checked",
})
# User-action states: a rule for them styles elements that exist but are not (yet) in that state.
_STATE_PSEUDO_CLASSES = frozenset({"hover", "focus", "focus-visible", "focus-within", "active"})
_SELECTOR_FUNCTIONS = frozenset({"not", "is", "where"})
_NTH_FUNCTIONS = frozenset({"nth-child", "nth-last-child", "nth-of-type", "nth-last-of-type"})
_NTH_NAME = re.compile(r"-?n(-\d+)?\Z|odd\Z|even\Z")
_SELECTOR_LITERALS = frozenset({".", ":", ">", "+", "~", ",", "*"})

_MEDIA_WORDS = frozenset({"screen", "print", "all", "and", "not", "only", "or"})
_MEDIA_FEATURES = frozenset({
    "width", "min-width", "max-width", "height", "min-height", "max-height", "orientation", "hover",
    "any-hover", "pointer", "any-pointer", "prefers-reduced-motion", "prefers-color-scheme",
    "prefers-contrast",
})


class _Reject(Exception):
    """Internal: a reason plus the token it is about; turned into a PatchValidationError at the top."""

    def __init__(self, reason: str, node: object | None = None, fix: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.node = node
        self.fix = fix


def _describe(node: object) -> str:
    if isinstance(node, ast.LiteralToken):
        return repr(node.value)
    if isinstance(node, ast.FunctionBlock):
        return f"function {node.lower_name}()"
    if isinstance(node, ast.Node):
        return node.type
    return type(node).__name__


def _check_name(name: str, node: object, what: str) -> None:
    lower = name.lower()
    for word in _BANNED_WORDS:
        if word in lower:
            raise _Reject(f"{what} {name!r} contains the banned word {word!r}", node)
    if not _PLAIN_NAME.match(name):
        raise _Reject(f"{what} {name!r} must be a plain ASCII name (escapes may not produce other "
                      "characters)", node)


def _strip(tokens: Sequence[ast.Node], depth: int = 0) -> list[ast.Node]:
    """Drop leading/trailing whitespace and collapse inner whitespace to one space, recursively."""
    out: list[ast.Node] = []
    for token in tokens:
        if isinstance(token, ast.Comment):
            continue
        if isinstance(token, ast.WhitespaceToken):
            if out and not isinstance(out[-1], ast.WhitespaceToken):
                out.append(ast.WhitespaceToken(token.source_line, token.source_column, " "))
            continue
        nested = isinstance(token, ast.FunctionBlock | ast.ParenthesesBlock | ast.SquareBracketsBlock
                                               | ast.CurlyBracketsBlock)
        if nested and depth >= MAX_NESTING:
            raise _Reject("CSS nests too deeply", token)
        if isinstance(token, ast.FunctionBlock):
            token = ast.FunctionBlock(token.source_line, token.source_column, token.name,
                                      _strip(token.arguments, depth + 1))
        elif isinstance(token, ast.ParenthesesBlock):
            token = ast.ParenthesesBlock(token.source_line, token.source_column,
                                         _strip(token.content, depth + 1))
        elif isinstance(token, ast.SquareBracketsBlock):
            token = ast.SquareBracketsBlock(token.source_line, token.source_column,
                                            _strip(token.content, depth + 1))
        elif isinstance(token, ast.CurlyBracketsBlock):
            token = ast.CurlyBracketsBlock(token.source_line, token.source_column,
                                           _strip(token.content, depth + 1))
        out.append(token)
    while out and isinstance(out[-1], ast.WhitespaceToken):
        out.pop()
    return out


def _banned_token(token: ast.Node) -> None:
    """Refuse loaders and script hooks with their specific reason, before any generic check."""
    if isinstance(token, ast.ParseError):
        if token.kind == "bad-url":  # a malformed url( is still an attempt to load something
            raise _Reject(_BANNED_FUNCTIONS["url"], token)
        raise _Reject(f"CSS syntax error ({token.message})", token)
    if isinstance(token, ast.URLToken):
        raise _Reject(_BANNED_FUNCTIONS["url"], token)
    if isinstance(token, ast.FunctionBlock) and token.lower_name in _BANNED_FUNCTIONS:
        raise _Reject(_BANNED_FUNCTIONS[token.lower_name], token)
    if isinstance(token, ast.AtKeywordToken):
        raise _Reject(f"@{token.lower_value} is not allowed here", token)
    if isinstance(token, ast.StringToken):
        raise _Reject("strings are not allowed in patch CSS", token)
    if isinstance(token, ast.IdentToken | ast.FunctionBlock):
        name = token.value if isinstance(token, ast.IdentToken) else token.name
        lower = name.lower()
        for word in _BANNED_WORDS:
            if word in lower:
                raise _Reject(f"identifier {name!r} contains the banned word {word!r}", token)


def _scan_banned(tokens: Sequence[ast.Node], depth: int) -> None:
    """``_banned_token`` through every nested function and block, so ``rgb(var(--x))`` names var()."""
    for token in tokens:
        _banned_token(token)
        inner = getattr(token, "arguments", None) or getattr(token, "content", None)
        if isinstance(inner, list) and inner:
            if depth >= MAX_NESTING:
                raise _Reject("value nests too deeply", token)
            _scan_banned(inner, depth + 1)


# --- selectors -----------------------------------------------------------------------------------------


def _check_selector_tokens(tokens: list[ast.Node], depth: int) -> None:
    if depth > MAX_NESTING:
        raise _Reject("selector nests too deeply", tokens[0] if tokens else None)
    if not tokens:
        raise _Reject("empty selector")
    previous: ast.Node | None = None
    for i, token in enumerate(tokens):
        _banned_token(token)
        after_colon = isinstance(previous, ast.LiteralToken) and previous.value == ":"
        if isinstance(token, ast.WhitespaceToken):
            pass
        elif isinstance(token, ast.IdentToken):
            _check_name(token.value, token, "name")
            if after_colon and token.lower_value not in _PSEUDO_CLASSES:
                raise _Reject(f"pseudo-class :{token.lower_value} is not allowed", token,
                              fix=f"use one of {', '.join(sorted(_PSEUDO_CLASSES))}")
        elif isinstance(token, ast.HashToken):
            if not token.is_identifier:
                raise _Reject(f"#{token.value} is not a valid id selector", token)
            _check_name(token.value, token, "id")
        elif isinstance(token, ast.LiteralToken):
            if token.value not in _SELECTOR_LITERALS:
                if token.value == "|":
                    raise _Reject("namespaced selectors are not allowed", token)
                raise _Reject(f"unexpected {token.value!r} in selector", token)
            if token.value == ":" and after_colon:
                raise _Reject("pseudo-elements are not allowed", token)
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if token.value == "." and not isinstance(nxt, ast.IdentToken):
                raise _Reject("'.' must be followed by a class name", token)
            if token.value == ":" and not isinstance(nxt, ast.IdentToken | ast.FunctionBlock
                                                     | ast.LiteralToken):
                raise _Reject("':' must be followed by a pseudo-class", token)
        elif isinstance(token, ast.FunctionBlock):
            if not after_colon:
                raise _Reject(f"unexpected {_describe(token)} in selector", token)
            name = token.lower_name
            if name in _SELECTOR_FUNCTIONS:
                for part in _split_commas(_strip(token.arguments)):
                    _check_selector_tokens(_strip(part), depth + 1)
            elif name in _NTH_FUNCTIONS:
                _check_nth(token)
            else:
                raise _Reject(f"pseudo-class :{name}() is not allowed", token)
        elif isinstance(token, ast.SquareBracketsBlock):
            inner = [t for t in token.content if not isinstance(t, ast.WhitespaceToken)]
            if len(inner) != 1 or not isinstance(inner[0], ast.IdentToken):
                raise _Reject("attribute selectors that compare values are not allowed (they read attribute "
                              "values)", token, fix="select by id, class or a bare [attribute]")
            _check_name(inner[0].value, inner[0], "attribute")
        else:
            raise _Reject(f"unexpected {_describe(token)} in selector", token)
        previous = token


def _check_nth(token: ast.FunctionBlock) -> None:
    for arg in token.arguments:
        if isinstance(arg, ast.WhitespaceToken | ast.NumberToken):
            continue
        if isinstance(arg, ast.LiteralToken) and arg.value in "+-":
            continue
        if isinstance(arg, ast.IdentToken) and _NTH_NAME.match(arg.lower_value):
            continue
        if isinstance(arg, ast.DimensionToken) and _NTH_NAME.match(arg.lower_unit):
            continue
        raise _Reject(f"unexpected {_describe(arg)} in :{token.lower_name}()", arg)


def _split_commas(tokens: list[ast.Node]) -> list[list[ast.Node]]:
    parts: list[list[ast.Node]] = [[]]
    for token in tokens:
        if isinstance(token, ast.LiteralToken) and token.value == ",":
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def _selector_text(tokens: list[ast.Node]) -> str:
    tokens = _strip(tokens)
    _check_selector_tokens(tokens, 0)
    text = tinycss2.serialize(tokens)
    if len(text) > MAX_SELECTOR_CHARS:
        raise _Reject(f"selector longer than {MAX_SELECTOR_CHARS} characters", tokens[0])
    try:  # the token policy decides what is allowed; cssselect confirms it is a well-formed selector
        cssselect.parse(text)
    except cssselect.SelectorError as exc:
        raise _Reject(f"invalid selector {text!r}: {exc}", tokens[0]) from None
    return text


# --- declaration values --------------------------------------------------------------------------------


def _check_number(value: float, spec: _Spec, node: ast.Node, prop: str) -> None:
    if spec.nonneg and value < 0:
        raise _Reject(f"{prop} may not be negative", node)
    if spec.low is not None and value < spec.low or spec.high is not None and value > spec.high:
        raise _Reject(f"{prop} must be between {spec.low:g} and {spec.high:g}", node)


def _check_math(token: ast.FunctionBlock | ast.ParenthesesBlock, prop: str, depth: int) -> None:
    if depth > MAX_NESTING:
        raise _Reject("calculation nests too deeply", token)
    args = token.arguments if isinstance(token, ast.FunctionBlock) else token.content
    for arg in args:
        _banned_token(arg)
        if isinstance(arg, ast.WhitespaceToken | ast.NumberToken | ast.PercentageToken):
            continue
        if isinstance(arg, ast.DimensionToken):
            if arg.lower_unit not in _LENGTH_UNITS:
                raise _Reject(f"unit {arg.unit!r} is not a length unit", arg)
            continue
        if isinstance(arg, ast.LiteralToken) and arg.value in {"+", "-", "*", "/", ","}:
            continue
        if isinstance(arg, ast.FunctionBlock) and arg.lower_name in _MATH_FUNCTIONS:
            _check_math(arg, prop, depth + 1)
            continue
        if isinstance(arg, ast.ParenthesesBlock):
            _check_math(arg, prop, depth + 1)
            continue
        raise _Reject(f"unexpected {_describe(arg)} in {prop} calculation", arg)


def _check_component(token: ast.Node, spec: _Spec, prop: str) -> None:
    kinds = spec.kinds
    if isinstance(token, ast.IdentToken):
        word = token.lower_value
        if word in spec.keywords or word in _GLOBAL_KEYWORDS:
            return
        if "colour" in kinds and _is_colour(token):
            return
        _check_name(token.value, token, "keyword")
        raise _Reject(f"{token.value!r} is not a valid {prop} keyword", token)
    if isinstance(token, ast.HashToken):
        if "colour" in kinds and _is_colour(token):
            return
        raise _Reject(f"#{token.value} is not a valid {prop} value", token)
    if isinstance(token, ast.FunctionBlock):
        if token.lower_name in _COLOUR_FUNCTIONS and "colour" in kinds:
            if not _is_colour(token):
                raise _Reject(f"{token.lower_name}() is not a valid colour", token)
            return
        if token.lower_name in _MATH_FUNCTIONS and kinds & {"length", "number", "percent", "integer"}:
            _check_math(token, prop, 1)
            return
        raise _Reject(f"function {token.lower_name}() is not allowed in {prop}", token)
    if isinstance(token, ast.DimensionToken):
        if "length" not in kinds:
            raise _Reject(f"{prop} does not take a length", token)
        if token.lower_unit not in _LENGTH_UNITS:
            raise _Reject(f"unit {token.unit!r} is not a length unit", token)
        _check_number(token.value, spec, token, prop)
        return
    if isinstance(token, ast.PercentageToken):
        if "percent" not in kinds:
            raise _Reject(f"{prop} does not take a percentage", token)
        _check_number(token.value / 100 if "number" in kinds else token.value, spec, token, prop)
        return
    if isinstance(token, ast.NumberToken):
        if "integer" in kinds and token.is_integer or "number" in kinds:
            _check_number(token.value, spec, token, prop)
            return
        if "length" in kinds and token.value == 0:
            return
        if "length" in kinds:
            raise _Reject(f"length {token.representation} needs a unit (only 0 may go without)", token,
                          fix=f"write {token.representation}px")
        raise _Reject(f"{prop} does not take the number {token.representation}", token)
    raise _Reject(f"unexpected {_describe(token)} in {prop}", token)


def _is_colour(token: ast.Node) -> bool:
    try:
        return tinycss2.color4.parse_color(token) is not None
    except (ValueError, TypeError, ArithmeticError):  # defensive: a parser bug must read as "not a colour"
        return False


def _value_text(prop: str, tokens: list[ast.Node], node: ast.Node) -> str:
    spec = ALLOWED_PROPERTIES[prop]
    tokens = _strip(tokens)
    if not tokens:
        raise _Reject(f"{prop} has an empty value", node)
    if len(tokens) > MAX_VALUE_COMPONENTS:
        raise _Reject(f"{prop} value has more than {MAX_VALUE_COMPONENTS} parts", node)
    _scan_banned(tokens, 0)
    groups = _split_commas(tokens)
    if len(groups) > 1 and not spec.commas:
        raise _Reject(f"{prop} takes a single value, not a comma-separated list", node)
    for group in groups:
        parts = [t for t in group if not isinstance(t, ast.WhitespaceToken)]
        if not parts:
            raise _Reject(f"empty item in {prop} list", node)
        if len(parts) > spec.max_parts + (1 if spec.slash else 0):
            many = f"{spec.max_parts} values" if spec.max_parts > 1 else "1 value"
            raise _Reject(f"{prop} takes at most {many}", parts[spec.max_parts])
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
            raise _Reject(f"invalid declaration ({item.message})", item)
        if not isinstance(item, ast.Declaration):
            raise _Reject(f"unexpected {_describe(item)} inside a rule (nested rules are not allowed)", item)
        name = item.lower_name
        if name.startswith("--"):
            raise _Reject("custom properties are not allowed (var() could smuggle unchecked values)", item)
        if name in _BANNED_PROPERTIES:
            raise _Reject(_BANNED_PROPERTIES[name], item)
        _check_name(item.name, item, "property")
        if name not in ALLOWED_PROPERTIES:
            raise _Reject(f"property {name!r} is not on the allowlist", item,
                          fix="see agent.css_validator.ALLOWED_PROPERTIES")
        if len(out) >= MAX_DECLARATIONS:
            raise _Reject(f"more than {MAX_DECLARATIONS} declarations in one rule", item)
        value = _value_text(name, item.value, item)
        out.append(f"{tinycss2.serialize_identifier(name)}:{value}{'!important' if item.important else ''}")
    return ";".join(out)


# --- rules ---------------------------------------------------------------------------------------------


def _media_prelude(rule: ast.AtRule) -> str:
    tokens = _strip(rule.prelude)
    if not tokens:
        raise _Reject("@media needs a media query", rule)
    for token in tokens:
        _banned_token(token)
        if isinstance(token, ast.WhitespaceToken):
            continue
        if isinstance(token, ast.LiteralToken) and token.value == ",":
            continue
        if isinstance(token, ast.IdentToken) and token.lower_value in _MEDIA_WORDS:
            continue
        if isinstance(token, ast.ParenthesesBlock):
            _media_feature(token)
            continue
        raise _Reject(f"unexpected {_describe(token)} in @media query", token)
    return tinycss2.serialize(tokens)


def _media_feature(block: ast.ParenthesesBlock) -> None:
    parts = [t for t in block.content if not isinstance(t, ast.WhitespaceToken)]
    if not parts or not isinstance(parts[0], ast.IdentToken) or parts[0].lower_value not in _MEDIA_FEATURES:
        raise _Reject(f"media feature must be one of {', '.join(sorted(_MEDIA_FEATURES))}", block)
    if len(parts) == 1:
        return
    if len(parts) != 3 or not (isinstance(parts[1], ast.LiteralToken) and parts[1].value == ":"):
        raise _Reject("media feature must read (name: value)", block)
    value = parts[2]
    for bad in (value,):
        _banned_token(bad)
    if isinstance(value, ast.DimensionToken) and value.lower_unit in _LENGTH_UNITS:
        return
    if isinstance(value, ast.NumberToken):
        return
    if isinstance(value, ast.IdentToken):
        _check_name(value.value, value, "media value")
        return
    raise _Reject(f"unexpected {_describe(value)} in media feature", value)


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
        raise _Reject(f"CSS syntax error ({node.message})", node)
    if isinstance(node, ast.AtRule):
        name = node.lower_at_keyword
        if name in _BANNED_AT_RULES:
            raise _Reject(_BANNED_AT_RULES[name], node)
        if name != "media" or nested:
            raise _Reject(f"@{name} is not allowed (only top-level @media is)", node)
        if node.content is None:
            raise _Reject("@media needs a block of rules", node)
        prelude = _media_prelude(node)
        inner = tinycss2.parse_rule_list(node.content, skip_comments=True, skip_whitespace=True)
        body = "\n".join(_rule(child, budget, nested=True) for child in inner)
        return f"@media {prelude}{{\n{body}\n}}"
    if not isinstance(node, ast.QualifiedRule):
        raise _Reject(f"unexpected {_describe(node)}", node)
    budget.rules += 1
    if budget.rules > MAX_RULES:
        raise _Reject(f"more than {MAX_RULES} rules", node)
    selector = _selector_text(node.prelude)
    return f"{selector}{{{_declarations(node)}}}"


def _position(node: object | None) -> tuple[int | None, int | None]:
    line = getattr(node, "source_line", None)
    column = getattr(node, "source_column", None)
    return line, column


def _guard(run: Callable[[], str], *, source: str | None, field: str | None) -> str:
    try:
        return run()
    except _Reject as exc:
        line, column = _position(exc.node)
        raise PatchValidationError(exc.reason, source=source, field=field, fix=exc.fix, line=line,
                                   column=column) from None
    except RecursionError:  # pathological nesting in the input; our own recursion is bounded
        raise PatchValidationError("CSS nests too deeply", source=source, field=field) from None


def validate_css(text: str, *, source: str | None = None, field: str | None = None) -> str:
    """Validate patch CSS and return it re-serialised from the checked tokens; raise PatchValidationError."""

    def run() -> str:
        if not isinstance(text, str):
            raise _Reject("CSS must be text")
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_CSS_BYTES:
            raise _Reject(f"CSS is {size} bytes, more than the limit of {MAX_CSS_BYTES}")
        if "<" in text:  # no allowed construct needs it; it only ever means HTML smuggled into a <style>
            before = text[: text.index("<")]
            raise _Reject("'<' is not allowed in patch CSS (HTML markup)",
                          _At(before.count("\n") + 1, len(before) - before.rfind("\n")))
        nodes = tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True)
        budget = _Budget()
        return "\n".join(_rule(node, budget, nested=False) for node in nodes)

    return _guard(run, source=source, field=field)


def validate_selector(selector: str, *, source: str | None = None, field: str | None = None) -> str:
    """Validate one selector (or selector list) under the patch policy; return its normalised text."""

    def run() -> str:
        if not isinstance(selector, str):
            raise _Reject("selector must be text")
        if len(selector) > MAX_SELECTOR_CHARS:
            raise _Reject(f"selector longer than {MAX_SELECTOR_CHARS} characters")
        tokens = tinycss2.parse_component_value_list(selector, skip_comments=True)
        return _selector_text(list(tokens))

    return _guard(run, source=source, field=field)


def _is_boundary(token: ast.Node | None) -> bool:
    return token is None or isinstance(token, ast.WhitespaceToken) or (
        isinstance(token, ast.LiteralToken) and token.value in {">", "+", "~", ","})


def _probe(tokens: list[ast.Node]) -> str:
    """The selector with top-level user-action states removed: what must exist for the rule to matter."""
    out: list[ast.Node] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if (isinstance(token, ast.LiteralToken) and token.value == ":" and isinstance(nxt, ast.IdentToken)
                and nxt.lower_value in _STATE_PSEUDO_CLASSES):
            after = tokens[i + 2] if i + 2 < len(tokens) else None
            # A compound made only of states (":hover > a") stands for any element.
            if _is_boundary(out[-1] if out else None) and _is_boundary(after):
                out.append(ast.LiteralToken(token.source_line, token.source_column, "*"))
            i += 2
            continue
        out.append(token)
        i += 1
    return tinycss2.serialize(_strip(out))


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
                found[_probe(_strip(rule.prelude))] = None
    return list(found)
