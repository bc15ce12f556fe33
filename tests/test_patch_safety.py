"""Patches cannot reach script, without a browser: the selector grammar on DOM ops and the attribute policy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent.css_grammar import NON_CONTENT_ELEMENTS
from agent.kernel import PatchValidationError
from agent.patch import SET_ATTR_ALLOWED, Patch, patch_from_mapping
from harness.browser.patching import runtime_source

REPO = Path(__file__).resolve().parent.parent


def _op(selector: str, **fields: str) -> Patch:
    op = {"op": "hide", "selector": selector} | fields
    return patch_from_mapping({"name": "p", "ops": [op]}, source="p.toml")


@pytest.mark.parametrize(("selector", "message"), [
    ("script", "may not change <script>"),
    ("style", "may not change <style>"),
    ("SCRIPT", "may not change <script>"),
    ("ScRiPt", "may not change <script>"),
    (r"sc\72 ipt", "may not change <script>"),  # a CSS escape is decoded before the check
    ("svg script", "may not change <script>"),
    ("svg style", "may not change <style>"),
    ("foreignObject", "may not change <foreignobject>"),
    ("svg > foreignObject", "may not change <foreignobject>"),
    ("head > script", "may not change <script>"),
    ("head>script", "may not change <script>"),
    ("body script.c", "may not change <script>"),
    ("script#s", "may not change <script>"),
    ("script:first-child", "may not change <script>"),
    ("#add-to-cart, style", "may not change <style>"),
    (":is(script)", "may not change <script>"),
    (":where(style)", "may not change <style>"),
    (":is(.a, script)", "may not change <script>"),
    ("p:is(script)", "may not change <script>"),
    (":is(:where(style))", "may not change <style>"),
    ("*", "'*'"),
    ("*.cta", "'*'"),
    ("*#s", "'*'"),
    ("head > *", "'*'"),
    (":is(*)", "'*'"),
    (":where(p, *)", "'*'"),
    (":root", ":root, the <html> element"),
    (":first-child", "names no element"),
    ("head > :first-child", "names no element"),
    (":not(.a)", "names no element"),
    (":not(p):empty", "names no element"),
    ("svg|script", "namespaced selectors are not allowed"),
    ("*|script", "namespaced selectors are not allowed"),
    ("|script", "namespaced selectors are not allowed"),
    *((name, f"may not change <{name}>") for name in sorted(NON_CONTENT_ELEMENTS)),
    *((name.upper(), f"may not change <{name}>") for name in sorted(NON_CONTENT_ELEMENTS)),
])
def test_selector_that_could_name_a_non_content_element_is_refused(selector: str, message: str) -> None:
    with pytest.raises(PatchValidationError) as caught:
        _op(selector)
    text = str(caught.value)
    assert text.startswith("p.toml: ops[0].selector: "), text
    assert message in text, text
    assert "(fix: " in text


@pytest.mark.parametrize("op", ["move_before", "move_after", "swap"])
@pytest.mark.parametrize("target", ["script", "style", ":is(script)", "*"])
def test_target_is_held_to_the_same_grammar(op: str, target: str) -> None:
    with pytest.raises(PatchValidationError) as caught:
        patch_from_mapping({"name": "p", "ops": [{"op": op, "selector": "#a", "target": target}]},
                           source="p.toml")
    assert str(caught.value).startswith("p.toml: ops[0].target: ")


@pytest.mark.parametrize("selector", [
    "#add-to-cart", ".hero h1", "button.cta", "#s", ".c", "[data-x]", "li:first-child", "p:not(.x)",
    "ul > li:nth-child(2)", "main .card:hover", ":is(.a, .b)", ":where(#a) .b", "script + p", "head ~ body",
    "body", "svg", "svg text", "h1:not(script)", "a[href]",
])
def test_ordinary_selectors_still_pass(selector: str) -> None:
    for op in ("set_text", "hide"):
        fields = {"text": "x"} if op == "set_text" else {}
        patch = patch_from_mapping({"name": "p", "ops": [{"op": op, "selector": selector, **fields}]})
        assert patch.ops[0].selector


def test_patch_css_rules_are_not_op_selectors() -> None:
    # Styling a script is not reaching it: CSS rules keep the ordinary selector policy.
    assert Patch(name="p", css="script{display:none} *{color:#000}").css == "script{display:none}\n*{color:#000}"


def _js_set(name: str) -> set[str]:
    match = re.search(rf"const {name} = new Set\(\[(.*?)\]\)", runtime_source(), re.S)
    assert match, name
    return set(re.findall(r'"([^"]+)"', match.group(1)))


def test_runtime_refuses_the_same_elements_and_attributes_as_the_model() -> None:
    assert _js_set("NOT_CONTENT") == set(NON_CONTENT_ELEMENTS)
    assert _js_set("ATTRS") == set(SET_ATTR_ALLOWED)
    assert {"script", "style", "link", "meta", "base", "iframe", "object", "embed", "template", "noscript",
            "foreignobject"} <= set(NON_CONTENT_ELEMENTS)


@pytest.mark.parametrize("attr", [
    "onclick", "onerror", "ONCLICK", "href", "xlink:href", "src", "srcset", "srcdoc", "action", "formaction",
    "style", "data", "poster", "background", "ping", "http-equiv", "content", "is", "ALT",
])
def test_set_attr_takes_only_text_attributes(attr: str) -> None:
    with pytest.raises(PatchValidationError, match=rf"set_attr may not set '{re.escape(attr)}'") as caught:
        patch_from_mapping({"name": "p", "ops": [{"op": "set_attr", "selector": "#a", "attr": attr,
                                                  "value": "javascript:alert(1)"}]}, source="p.toml")
    assert str(caught.value).startswith("p.toml: ops[0].attr: ")


def test_patch_check_refuses_set_text_on_script_with_one_line(tmp_path: Path) -> None:
    patch = tmp_path / "evil.toml"
    patch.write_text('name = "evil"\n[[ops]]\nop = "hide"\nselector = "#a"\n'
                     '[[ops]]\nop = "set_text"\nselector = "head > script"\ntext = "window.x = 1"\n')
    done = subprocess.run([sys.executable, "-m", "harness.interfaces.cli", "patch", "check", str(patch)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"{patch}: ops[1].selector: line 1, column 8: " in lines[0], lines[0]  # file, which op, where
    assert "may not change <script>" in lines[0] and "(fix: select an element that renders content)" in lines[0]
