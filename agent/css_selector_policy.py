"""The patch selector policy: ids, classes, bare attributes and a few pseudo-classes; nothing that reads values.

Also ``op_subject``: a DOM op's selector must name the element it changes, and never a script, style or other
element that is not content; and ``probe``: a rule's selector without user-action states (``:hover``), i.e.
what must exist on the page for the rule to matter.
"""

from __future__ import annotations

import cssselect
import tinycss2
from tinycss2 import ast

from agent.css_grammar import (
    MAX_NESTING,
    MAX_SELECTOR_CHARS,
    NON_CONTENT_ELEMENTS,
    NTH_FUNCTIONS,
    NTH_NAME,
    PSEUDO_CLASSES,
    SELECTOR_FUNCTIONS,
    SELECTOR_LITERALS,
    STATE_PSEUDO_CLASSES,
)
from agent.css_tokens import Reject, banned_token, check_name, describe, split_commas, strip

__all__ = ["selector_text", "op_subject", "probe"]


def _check_selector_tokens(tokens: list[ast.Node], depth: int) -> None:
    if depth > MAX_NESTING:
        raise Reject("selector nests too deeply", tokens[0] if tokens else None)
    if not tokens:
        raise Reject("empty selector")
    previous: ast.Node | None = None
    for i, token in enumerate(tokens):
        banned_token(token)
        after_colon = isinstance(previous, ast.LiteralToken) and previous.value == ":"
        if isinstance(token, ast.WhitespaceToken):
            pass
        elif isinstance(token, ast.IdentToken):
            check_name(token.value, token, "name")
            if after_colon and token.lower_value not in PSEUDO_CLASSES:
                raise Reject(f"pseudo-class :{token.lower_value} is not allowed", token,
                              fix=f"use one of {', '.join(sorted(PSEUDO_CLASSES))}")
        elif isinstance(token, ast.HashToken):
            if not token.is_identifier:
                raise Reject(f"#{token.value} is not a valid id selector", token)
            check_name(token.value, token, "id")
        elif isinstance(token, ast.LiteralToken):
            if token.value not in SELECTOR_LITERALS:
                if token.value == "|":
                    raise Reject("namespaced selectors are not allowed", token)
                raise Reject(f"unexpected {token.value!r} in selector", token)
            if token.value == ":" and after_colon:
                raise Reject("pseudo-elements are not allowed", token)
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if token.value == "." and not isinstance(nxt, ast.IdentToken):
                raise Reject("'.' must be followed by a class name", token)
            if token.value == ":" and not isinstance(nxt, ast.IdentToken | ast.FunctionBlock
                                                     | ast.LiteralToken):
                raise Reject("':' must be followed by a pseudo-class", token)
        elif isinstance(token, ast.FunctionBlock):
            if not after_colon:
                raise Reject(f"unexpected {describe(token)} in selector", token)
            name = token.lower_name
            if name in SELECTOR_FUNCTIONS:
                for part in split_commas(strip(token.arguments)):
                    _check_selector_tokens(strip(part), depth + 1)
            elif name in NTH_FUNCTIONS:
                _check_nth(token)
            else:
                raise Reject(f"pseudo-class :{name}() is not allowed", token)
        elif isinstance(token, ast.SquareBracketsBlock):
            inner = [t for t in token.content if not isinstance(t, ast.WhitespaceToken)]
            if len(inner) != 1 or not isinstance(inner[0], ast.IdentToken):
                raise Reject("attribute selectors that compare values are not allowed (they read attribute "
                              "values)", token, fix="select by id, class or a bare [attribute]")
            check_name(inner[0].value, inner[0], "attribute")
        else:
            raise Reject(f"unexpected {describe(token)} in selector", token)
        previous = token


def _check_nth(token: ast.FunctionBlock) -> None:
    for arg in token.arguments:
        if isinstance(arg, ast.WhitespaceToken | ast.NumberToken):
            continue
        if isinstance(arg, ast.LiteralToken) and arg.value in "+-":
            continue
        if isinstance(arg, ast.IdentToken) and NTH_NAME.match(arg.lower_value):
            continue
        if isinstance(arg, ast.DimensionToken) and NTH_NAME.match(arg.lower_unit):
            continue
        raise Reject(f"unexpected {describe(arg)} in :{token.lower_name}()", arg)



def selector_text(tokens: list[ast.Node]) -> str:
    tokens = strip(tokens)
    _check_selector_tokens(tokens, 0)
    text = tinycss2.serialize(tokens)
    if len(text) > MAX_SELECTOR_CHARS:
        raise Reject(f"selector longer than {MAX_SELECTOR_CHARS} characters", tokens[0])
    try:  # the token policy decides what is allowed; cssselect confirms it is a well-formed selector
        cssselect.parse(text)
    except cssselect.SelectorError as exc:
        raise Reject(f"invalid selector {text!r}: {exc}", tokens[0]) from None
    return text



_NAME_FIX = "name the element by tag, id or class, e.g. button.cta or #add-to-cart"


def op_subject(tokens: list[ast.Node]) -> None:
    """Refuse a DOM op's selector (already passed ``selector_text``) whose subject could be non-content.

    The subject is the rightmost compound, the element the op changes. It must name that element by type, id,
    class or attribute, never by a non-content type (``script``, also inside ``:is()``/``:where()``), ``*``
    or ``:root``. ``#x`` could still match a ``<script id=x>``: the runtime refuses such an element by name.
    """
    for part in split_commas(strip(tokens)):
        if not _subject_named(strip(part)):
            raise Reject(f"{tinycss2.serialize(part).strip()!r} names no element, so a DOM op would change "
                         "any element it matches, script and style included", part[0] if part else None,
                         fix=_NAME_FIX)


def _subject_named(tokens: list[ast.Node]) -> bool:
    """Whether the subject compound names its element; raise Reject where it names a non-content one."""
    start = len(tokens)
    while start > 0 and not _is_boundary(tokens[start - 1]):
        start -= 1
    named = False
    previous: ast.Node | None = None
    for token in tokens[start:]:
        after = previous.value if isinstance(previous, ast.LiteralToken) else None
        if isinstance(token, ast.IdentToken) and after is None:  # a type selector
            reason = NON_CONTENT_ELEMENTS.get(token.lower_value)
            if reason:
                raise Reject(f"a DOM op may not change <{token.lower_value}>: {reason}", token,
                             fix="select an element that renders content")
            named = True
        elif isinstance(token, ast.IdentToken) and after == ":" and token.lower_value == "root":
            raise Reject("a DOM op may not change :root, the <html> element: "
                         + NON_CONTENT_ELEMENTS["html"], token, fix=_NAME_FIX)
        elif isinstance(token, ast.IdentToken | ast.HashToken | ast.SquareBracketsBlock) and after != ":":
            named = True  # .class, #id, [attribute]
        elif isinstance(token, ast.LiteralToken) and token.value == "*":
            raise Reject("'*' in the element a DOM op changes matches every element, script and style "
                         "included", token, fix=_NAME_FIX)
        elif isinstance(token, ast.FunctionBlock) and token.lower_name in {"is", "where"}:
            # :is(a, b) matches what any argument matches: every argument must name a content element.
            parts = [strip(part) for part in split_commas(strip(token.arguments))]
            named = all([_subject_named(part) for part in parts]) or named
        previous = token
    return named


def _is_boundary(token: ast.Node | None) -> bool:
    return token is None or isinstance(token, ast.WhitespaceToken) or (
        isinstance(token, ast.LiteralToken) and token.value in {">", "+", "~", ","})


def probe(tokens: list[ast.Node]) -> str:
    """The selector with top-level user-action states removed: what must exist for the rule to matter."""
    out: list[ast.Node] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if (isinstance(token, ast.LiteralToken) and token.value == ":" and isinstance(nxt, ast.IdentToken)
                and nxt.lower_value in STATE_PSEUDO_CLASSES):
            after = tokens[i + 2] if i + 2 < len(tokens) else None
            # A compound made only of states (":hover > a") stands for any element.
            if _is_boundary(out[-1] if out else None) and _is_boundary(after):
                out.append(ast.LiteralToken(token.source_line, token.source_column, "*"))
            i += 2
            continue
        out.append(token)
        i += 1
    return tinycss2.serialize(strip(out))
