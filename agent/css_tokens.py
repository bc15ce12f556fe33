"""Token checks shared by the patch CSS validator's selector and value policies (tinycss2 tokens)."""

from __future__ import annotations

from collections.abc import Sequence

from tinycss2 import ast

from agent.css_grammar import BANNED_FUNCTIONS, BANNED_WORDS, MAX_NESTING, PLAIN_NAME

__all__ = ["Reject", "describe", "check_name", "strip", "banned_token", "scan_banned", "split_commas"]


class Reject(Exception):
    """Internal: a reason plus the token it is about; turned into a PatchValidationError at the top."""

    def __init__(self, reason: str, node: object | None = None, fix: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.node = node
        self.fix = fix


def describe(node: object) -> str:
    if isinstance(node, ast.LiteralToken):
        return repr(node.value)
    if isinstance(node, ast.FunctionBlock):
        return f"function {node.lower_name}()"
    if isinstance(node, ast.Node):
        return node.type
    return type(node).__name__


def check_name(name: str, node: object, what: str) -> None:
    lower = name.lower()
    for word in BANNED_WORDS:
        if word in lower:
            raise Reject(f"{what} {name!r} contains the banned word {word!r}", node)
    if not PLAIN_NAME.match(name):
        raise Reject(f"{what} {name!r} must be a plain ASCII name (escapes may not produce other "
                      "characters)", node)


def strip(tokens: Sequence[ast.Node], depth: int = 0) -> list[ast.Node]:
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
            raise Reject("CSS nests too deeply", token)
        if isinstance(token, ast.FunctionBlock):
            token = ast.FunctionBlock(token.source_line, token.source_column, token.name,
                                      strip(token.arguments, depth + 1))
        elif isinstance(token, ast.ParenthesesBlock):
            token = ast.ParenthesesBlock(token.source_line, token.source_column,
                                         strip(token.content, depth + 1))
        elif isinstance(token, ast.SquareBracketsBlock):
            token = ast.SquareBracketsBlock(token.source_line, token.source_column,
                                            strip(token.content, depth + 1))
        elif isinstance(token, ast.CurlyBracketsBlock):
            token = ast.CurlyBracketsBlock(token.source_line, token.source_column,
                                           strip(token.content, depth + 1))
        out.append(token)
    while out and isinstance(out[-1], ast.WhitespaceToken):
        out.pop()
    return out


def banned_token(token: ast.Node) -> None:
    """Refuse loaders and script hooks with their specific reason, before any generic check."""
    if isinstance(token, ast.ParseError):
        if token.kind == "bad-url":  # a malformed url( is still an attempt to load something
            raise Reject(BANNED_FUNCTIONS["url"], token)
        raise Reject(f"CSS syntax error ({token.message})", token)
    if isinstance(token, ast.URLToken):
        raise Reject(BANNED_FUNCTIONS["url"], token)
    if isinstance(token, ast.FunctionBlock) and token.lower_name in BANNED_FUNCTIONS:
        raise Reject(BANNED_FUNCTIONS[token.lower_name], token)
    if isinstance(token, ast.AtKeywordToken):
        raise Reject(f"@{token.lower_value} is not allowed here", token)
    if isinstance(token, ast.StringToken):
        raise Reject("strings are not allowed in patch CSS", token)
    if isinstance(token, ast.IdentToken | ast.FunctionBlock):
        name = token.value if isinstance(token, ast.IdentToken) else token.name
        lower = name.lower()
        for word in BANNED_WORDS:
            if word in lower:
                raise Reject(f"identifier {name!r} contains the banned word {word!r}", token)


def scan_banned(tokens: Sequence[ast.Node], depth: int) -> None:
    """``banned_token`` through every nested function and block, so ``rgb(var(--x))`` names var()."""
    for token in tokens:
        banned_token(token)
        inner = getattr(token, "arguments", None) or getattr(token, "content", None)
        if isinstance(inner, list) and inner:
            if depth >= MAX_NESTING:
                raise Reject("value nests too deeply", token)
            scan_banned(inner, depth + 1)



def split_commas(tokens: list[ast.Node]) -> list[list[ast.Node]]:
    parts: list[list[ast.Node]] = [[]]
    for token in tokens:
        if isinstance(token, ast.LiteralToken) and token.value == ",":
            parts.append([])
        else:
            parts[-1].append(token)
    return parts
