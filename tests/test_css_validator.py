"""Patch CSS validation: the injection corpus is refused with its reason; nothing dangerous gets through."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tinycss2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tinycss2 import ast

from agent.css_validator import css_selectors, validate_css, validate_selector
from agent.kernel import PatchValidationError

CORPUS = Path(__file__).parent / "data" / "css_payloads" / "corpus.toml"
PAYLOADS: list[dict[str, Any]] = tomllib.loads(CORPUS.read_text(encoding="utf-8"))["payload"]


def _payload_css(payload: dict[str, Any]) -> str:
    css = payload["css"] * payload.get("repeat", 1)
    before, after = payload.get("wrap", ["", ""])
    return before + css + after


def test_the_corpus_is_big_enough_and_names_are_unique() -> None:
    names = [p["name"] for p in PAYLOADS]
    assert len(names) >= 30
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("payload", PAYLOADS, ids=[p["name"] for p in PAYLOADS])
def test_known_payload_is_rejected_with_its_reason(payload: dict[str, Any]) -> None:
    with pytest.raises(PatchValidationError) as caught:
        validate_css(_payload_css(payload), source="payload.css")
    message = str(caught.value)
    assert payload["reason"].lower() in message.lower(), message
    assert message.startswith("payload.css: ")


def test_errors_name_line_and_column() -> None:
    css = "#a { color: red }\n#b {\n  padding: 4px;\n  background: url(x)\n}"
    with pytest.raises(PatchValidationError) as caught:
        validate_css(css, source="v.css")
    err = caught.value
    assert (err.line, err.column) == (4, 15)
    assert str(err).startswith(
        "v.css: line 4, column 15: url() loads a resource, which can exfiltrate page data (fix: ")


def test_unknown_property_error_has_a_fix() -> None:
    with pytest.raises(PatchValidationError) as caught:
        validate_css("#a { transform: rotate(3deg) }")
    assert "property 'transform' is not on the allowlist" in str(caught.value)
    assert caught.value.fix


@pytest.mark.parametrize(("css", "reason"), [
    ("#a { color: notacolour }", "not a valid color keyword"),
    ("#a { color: #12345 }", "not a valid color value"),
    ("#a { color: rgb(1, 2) }", "not a valid colour"),
    ("#a { opacity: 1.5 }", "between 0 and 1"),
    ("#a { padding: -4px }", "may not be negative"),
    ("#a { font-size: 12deg }", "not a length unit"),
    ("#a { z-index: 1.5 }", "does not take the number"),
    ("#a { display: run-in }", "not a valid display keyword"),
    ("#a { color: red, blue }", "single value"),
    ("#a { color: }", "empty value"),
    ("#a { color: 'red' }", "strings are not allowed"),
    ("#a { b { color: red } }", "invalid declaration"),
    ("#a:nth-child(foo) { color: red }", "in :nth-child()"),
    ("#a.\\1F600 { color: red }", "plain ASCII name"),
])
def test_value_and_selector_checks(css: str, reason: str) -> None:
    with pytest.raises(PatchValidationError) as caught:
        validate_css(css)
    assert reason in str(caught.value)


def test_the_seed_style_button_css_is_accepted_and_normalised() -> None:
    css = """/* big CTA */
    #add-to-cart {
      font-size: 20px; padding: 14px 28px;  background-color: #d7263d; color: #fff;
      border: 2px solid rgb(0 0 0 / 10%); border-radius: 8px;
      box-shadow: 0 2px 6px rgba(0,0,0,.3), inset 0 0 0 1px #000;
      width: calc(100% - 2rem); text-align: center; font-weight: 700 !important; margin: 0 auto;
    }
    @media (max-width: 600px) { #buy-box, .sticky-bar > a:hover { position: sticky; bottom: 0; order: -1 } }
    """
    out = validate_css(css)
    assert out == (
        "#add-to-cart{font-size:20px;padding:14px 28px;background-color:#d7263d;color:#fff;"
        "border:2px solid rgb(0 0 0 / 10%);border-radius:8px;box-shadow:0 2px 6px rgba(0,0,0,.3), "
        "inset 0 0 0 1px #000;width:calc(100% - 2rem);text-align:center;font-weight:700!important;"
        "margin:0 auto}\n"
        "@media (max-width: 600px){\n#buy-box, .sticky-bar > a:hover{position:sticky;bottom:0;order:-1}\n}"
    )
    assert validate_css(out) == out
    assert css_selectors(out) == ["#add-to-cart", "#buy-box, .sticky-bar > a"]


def test_css_selectors_drop_user_action_states() -> None:
    assert css_selectors(validate_css(":hover > a, b :focus, c:not(:hover) {color:red}")) == [
        "* > a, b *, c:not(:hover)"]


@pytest.mark.parametrize(("selector", "expected"), [
    ("#add-to-cart", "#add-to-cart"),
    ("  main   .card > a:first-child ", "main .card > a:first-child"),
    ("ul li:nth-child(odd), [hidden]", "ul li:nth-child(odd), [hidden]"),
    (":is(h1, h2) + p", ":is(h1, h2) + p"),
])
def test_validate_selector_accepts_and_normalises(selector: str, expected: str) -> None:
    assert validate_selector(selector) == expected


@pytest.mark.parametrize(("selector", "reason"), [
    ("input[value^=a]", "attribute selectors"),
    ("a::before", "pseudo-elements"),
    ("a:visited", ":visited"),
    ("a,", "invalid selector"),
    ("", "empty selector"),
    ("a{}", "unexpected"),
    ("#1abc", "not a valid id"),
    ("a" * 600, "longer than"),
])
def test_validate_selector_rejects(selector: str, reason: str) -> None:
    with pytest.raises(PatchValidationError) as caught:
        validate_selector(selector, source="exp.toml", field="slots.cta")
    assert reason in str(caught.value)
    assert str(caught.value).startswith("exp.toml: slots.cta")


# --- property-based ------------------------------------------------------------------------------------

_HEX_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6})[ \t\n\r\f]?")
_BANNED_FUNCTIONS = {"url", "src", "image-set", "-webkit-image-set", "cross-fade", "element", "-moz-element",
                     "expression", "var", "env", "attr", "paint", "image"}


def _decode_escapes(css: str) -> str:
    def hex_char(m: re.Match[str]) -> str:
        code = int(m.group(1), 16)
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"

    css = re.sub(r"\\\n", "", css)
    css = _HEX_ESCAPE.sub(hex_char, css)
    return re.sub(r"\\(.)", r"\1", css, flags=re.S)


def _walk(nodes: list[Any]) -> list[Any]:
    out: list[Any] = []
    for node in nodes:
        out.append(node)
        for attr in ("prelude", "content", "arguments", "value"):
            inner = getattr(node, attr, None)
            if isinstance(inner, list):
                out.extend(_walk(inner))
    return out


def _unsafe(out: str) -> list[str]:
    """What in the validator's output could load, import, run or escape; empty when it is safe."""
    problems: list[str] = []
    decoded = re.sub(r"/\*.*?\*/", "", _decode_escapes(out), flags=re.S).lower()
    problems += [f"contains {needle!r}" for needle in ("url(", "@import", "expression(", "javascript:",
                                                        "image-set(", "<") if needle in decoded]
    nodes = tinycss2.parse_stylesheet(out, skip_comments=True, skip_whitespace=True)
    for rule in list(nodes):
        if isinstance(rule, ast.QualifiedRule):
            nodes += tinycss2.parse_declaration_list(rule.content, skip_comments=True, skip_whitespace=True)
        elif isinstance(rule, ast.AtRule):
            if rule.lower_at_keyword != "media":
                problems.append(f"at-rule @{rule.lower_at_keyword}")
            nodes += tinycss2.parse_rule_list(rule.content or [], skip_comments=True, skip_whitespace=True)
    for node in _walk(nodes):
        if isinstance(node, ast.URLToken | ast.StringToken | ast.AtKeywordToken | ast.ParseError):
            problems.append(f"token {type(node).__name__}")
        if isinstance(node, ast.FunctionBlock) and node.lower_name in _BANNED_FUNCTIONS:
            problems.append(f"function {node.lower_name}()")
    if _accepted(out) != out:
        problems.append("not a fixed point: re-validating the output changes or rejects it")
    return problems


def _accepted(css: str) -> str | None:
    """The validator's output, or None when it rejected the input (with its own error type)."""
    try:
        return validate_css(css)
    except PatchValidationError:
        return None


FRAGMENTS = [
    "url(", "URL(", "\\75 rl(", "u\\72 l(", "url", "(", ")", "x.png", "https://evil.example/?",
    "@import", "@\\69mport", "@font-face", "@media", "@media (max-width: 600px)", "@supports", "@charset",
    "expression(", "expr\\65ssion(", "expr/**/ession(", "javascript:", "\\6a avascript", "java/**/script:",
    "\\3a", "\\", "\\\n", "/*", "*/", "'", '"', "{", "}", "[", "]", ";", ":", ",", " ", "\n", "\t",
    "#a", ".b", "a", "*", ">", "+", "~", "|", "::before", ":hover", ":not(", ":is(", ":nth-child(2n+1)",
    "input[value^=", "[hidden]", "=", "^=", "$=", "color", "background", "background-color", "behavior",
    "-moz-binding", "content", "width", "--x", "var(--x)", "attr(", "image-set(", "cross-fade(", "element(",
    "red", "#fff", "rgb(1,2,3)", "rgb(", "10px", "0", "-1", "1e3", "50%", "calc(", "!important", "<",
    "</style>", "<script>", "\x00", "\ufffd", "é",
]
_adversarial = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=30).map("".join)

_SAFE_SELECTORS = ["#a", ".b", "div", "a:hover", "ul > li", "*", "[hidden]", "p:nth-child(2n+1)",
                   ":is(h1, h2)", "#\\75 rl", ".\\69mport"]
_BAD_SELECTORS = ["input[value^=a]", "a::after", ".\\6a avascript", "a:visited", "svg|a", "a</style>"]
_SAFE_DECLARATIONS = ["color:red", "color:#0f0", "background-color:rgb(1 2 3 / 50%)", "padding:4px 8px",
                      "font-size:20px", "margin:0 auto", "box-shadow:0 1px 2px rgba(0,0,0,.2)", "order:-1",
                      "display:none", "opacity:.5", "color:red!important", "top:0", "z-index:10",
                      "width:calc(100% - 2px)"]
_BAD_DECLARATIONS = ["background:url(x)", "background:\\75 rl(x)", "width:expression(1)", "behavior:url(x)",
                     "-moz-binding:url(x)", "color:\\6a avascript\\3a x", "--u:url(x)", "background:var(--u)",
                     "content:attr(x)", "width:calc(100% - url(x))", "background:image-set('x' 1x)",
                     "background:url(javascript:alert(1))", "color:rgb(url(x),0,0)"]


def _mostly(safe: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    # Two parts safe to one part dangerous, so a good share of stylesheets is accepted and checked.
    return st.one_of(st.sampled_from(safe), st.sampled_from(safe), st.sampled_from(bad))


_structured = st.lists(
    st.tuples(_mostly(_SAFE_SELECTORS, _BAD_SELECTORS),
              st.lists(_mostly(_SAFE_DECLARATIONS, _BAD_DECLARATIONS), max_size=4)),
    min_size=1, max_size=4,
).map(lambda rules: "\n".join(f"{sel} {{ {'; '.join(decls)} }}" for sel, decls in rules))
# One adversarial edit at any position of a stylesheet that is valid before the edit.
_edited = st.tuples(
    st.lists(st.tuples(st.sampled_from(_SAFE_SELECTORS), st.lists(st.sampled_from(_SAFE_DECLARATIONS),
                                                                  max_size=3)), min_size=1, max_size=3)
    .map(lambda rules: "\n".join(f"{sel} {{ {'; '.join(decls)} }}" for sel, decls in rules)),
    st.integers(min_value=0, max_value=400),
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=3).map("".join),
).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1]:])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_random_text_never_raises_anything_else_and_accepted_output_is_safe(css: str) -> None:
    out = _accepted(css)
    assert out is None or _unsafe(out) == [], (css, out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_adversarial)
def test_adversarial_fragments_never_get_through(css: str) -> None:
    out = _accepted(css)
    assert out is None or _unsafe(out) == [], (css, out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_structured)
def test_mixed_safe_and_dangerous_rules(css: str) -> None:
    out = _accepted(css)
    assert out is None or _unsafe(out) == [], (css, out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_edited)
def test_one_adversarial_edit_to_valid_css(css: str) -> None:
    out = _accepted(css)
    assert out is None or _unsafe(out) == [], (css, out)


_VALID_SELECTORS = ["#a", ".b", "div", "a:hover", "ul > li", "main .card + p", "[hidden]",
                    "li:nth-child(2n+1)", ":is(h1, h2)", "button:focus-visible", "a:not(.x)", "*"]
_VALID_DECLARATIONS = [
    ("color", "#fff"), ("color", "rgb(10 20 30 / 50%)"), ("color", "hsl(120deg 50% 50%)"),
    ("background-color", "transparent"), ("background", "#d7263d"), ("padding", "4px 8px"),
    ("margin", "0 auto"), ("font-size", "1.25rem"), ("font-weight", "700"), ("width", "calc(100% - 2rem)"),
    ("box-shadow", "0 1px 2px rgba(0,0,0,.2), inset 0 0 0 1px #000"), ("display", "inline-flex"),
    ("position", "sticky"), ("z-index", "10"), ("order", "-1"), ("opacity", "0.5"),
    ("border", "1px solid #ccc"), ("border-radius", "8px / 4px"), ("grid-column", "1 / span 2"),
    ("line-height", "1.4"), ("letter-spacing", "-0.01em"), ("text-decoration", "underline dotted"),
    ("outline", "2px solid currentcolor"), ("white-space", "nowrap"), ("flex", "1 1 0"),
    ("min-height", "48px"), ("visibility", "hidden"), ("font-style", "italic"), ("top", "0"),
    ("border-top-left-radius", "4px"),
]
_gap = st.sampled_from([" ", "", "\n  ", " /* note */ "])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_VALID_SELECTORS),
                          st.lists(st.sampled_from(_VALID_DECLARATIONS), min_size=1, max_size=6),
                          _gap, st.booleans()), min_size=1, max_size=6))
def test_valid_css_round_trips(rules: list[tuple[str, list[tuple[str, str]], str, bool]]) -> None:
    css = "\n".join(f"{sel}{gap}{{{gap}{';'.join(f'{p}{gap}:{gap}{v}' for p, v in decls)}{gap}}}"
                    + ("\n" if trailing else "") for sel, decls, gap, trailing in rules)
    out = validate_css(css)
    assert _unsafe(out) == [], out
    parsed = tinycss2.parse_stylesheet(out, skip_comments=True, skip_whitespace=True)
    assert len(parsed) == len(rules)
    for rule, (_, decls, _, _) in zip(parsed, rules, strict=True):
        names = [d.lower_name for d in tinycss2.parse_declaration_list(rule.content, skip_whitespace=True)]
        assert names == [p for p, _ in decls]
    # Formatting (spaces, comments) never changes what is injected.
    compact = "".join(f"{sel}{{{';'.join(f'{p}:{v}' for p, v in decls)}}}" for sel, decls, _, _ in rules)
    assert validate_css(compact) == out
