"""Patch model and patch files, without a browser: what loads, what is refused and how it says so."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from agent.kernel import InputError, PatchValidationError
from agent.patch import DomOp, Patch, load_patch
from harness.browser.patching import patch_init_script, patch_report, runtime_source

REPO = Path(__file__).resolve().parent.parent

ISSUE_EXAMPLE = '''name = "sticky-big-cta"
css = """
#add-to-cart { font-size: 20px; padding: 14px 28px; background-color: #d7263d; color: #fff }
"""
[[ops]]
op = "set_text"          # set_text | move_before | move_after | hide | show | sticky | swap | set_attr
selector = "#add-to-cart"
text = "Add to cart — free delivery"
'''


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_toml_patch_from_the_issue_loads(tmp_path: Path) -> None:
    patch = load_patch(_write(tmp_path, "sticky.toml", ISSUE_EXAMPLE))
    assert patch.name == "sticky-big-cta"
    assert patch.css == "#add-to-cart{font-size:20px;padding:14px 28px;background-color:#d7263d;color:#fff}"
    assert patch.ops == (DomOp(op="set_text", selector="#add-to-cart", text="Add to cart — free delivery"),)
    assert patch.selectors == ["#add-to-cart"]


def test_css_patch_is_named_after_its_file(tmp_path: Path) -> None:
    patch = load_patch(_write(tmp_path, "low-contrast.css", "#add-to-cart { color: #9aa5b1 }\n"))
    assert patch.name == "low-contrast"
    assert patch.css == "#add-to-cart{color:#9aa5b1}"
    assert patch.ops == ()


def test_shop_variants_load() -> None:
    variants = sorted((REPO / "site_fixtures" / "shop" / "variants").glob("*.css"))
    if not variants:
        pytest.skip("the demo shop's variants are not there yet")
    for path in variants:
        patch = load_patch(path)
        assert patch.css and patch.selectors


def test_selectors_cover_css_rules_ops_and_targets() -> None:
    patch = Patch(name="p", css="#a:hover, .b{color:red} @media (max-width: 600px){#c{order:1}}",
                  ops=[DomOp(op="move_before", selector="#d", target="#a"),
                       DomOp(op="hide", selector=".e")])
    assert patch.selectors == ["#a, .b", "#c", "#d", "#a", ".e"]


def test_digest_is_stable_and_follows_content_not_name() -> None:
    one = Patch(name="one", css="#a { color: red }")
    assert re.fullmatch(r"[0-9a-f]{12}", one.digest)
    assert Patch(name="two", css="#a{color:red}").digest == one.digest  # same CSS once normalised
    assert Patch(name="one", css="#a{color:blue}").digest != one.digest
    with_op = Patch(name="one", css="#a{color:red}", ops=[DomOp(op="hide", selector="#b")])
    assert with_op.digest != one.digest
    # The canonical form is part of the contract: ids stored in a database must not drift between releases.
    canonical = json.dumps({"css": "#a{color:red}", "ops": []}, sort_keys=True, separators=(",", ":"))
    assert one.digest == hashlib.sha256(canonical.encode()).hexdigest()[:12]


@pytest.mark.parametrize(("toml", "field", "message"), [
    ('[[ops]]\nop = "explode"\nselector = "#a"\n', "ops[0].op", "unknown op 'explode'"),
    ('[[ops]]\nop = "set_attr"\nselector = "#a"\nattr = "onclick"\nvalue = "alert(1)"\n', "ops[0].attr",
     "set_attr may not set 'onclick'"),
    ('[[ops]]\nop = "set_attr"\nselector = "#a"\nattr = "href"\nvalue = "javascript:x"\n', "ops[0].attr",
     "set_attr may not set 'href'"),
    ('[[ops]]\nop = "set_attr"\nselector = "#a"\nattr = "title"\n', "ops[0].value", "needs 'value'"),
    ('[[ops]]\nop = "set_text"\nselector = "#a"\n', "ops[0].text", "needs 'text'"),
    ('[[ops]]\nop = "hide"\nselector = "#a"\ntext = "x"\n', "ops[0].text", "hide does not take 'text'"),
    ('[[ops]]\nop = "swap"\nselector = "#a"\n', "ops[0].target", "needs 'target'"),
    ('[[ops]]\nop = "swap"\nselector = "#a"\ntarget = "#a"\n', "ops[0].target", "other than its own"),
    ('[[ops]]\nop = "hide"\nselector = "input[value^=a]"\n', "ops[0].selector", "attribute selectors"),
    ('[[ops]]\nop = "hide"\n', "ops[0].selector", "Field required"),
    ('[[ops]]\nop = "set_text"\nselector = "#a"\ntext = "' + "x" * 301 + '"\n', "ops[0].text",
     "more than 300"),
    ('ops = "hide"\n', "ops", "must be a list"),
    ('name = "has space"\n', "name", "name must be"),
    ('colour = "red"\n', "colour", "Extra inputs are not permitted"),
    # TOML drops the newline right after the opening quotes, so the url() is on line 3 of the CSS.
    ('css = """\n#a {\n  color: red;\n  background: url(x)\n}"""\n', "css line 3, column 15", "url()"),
])
def test_bad_patch_file_names_file_and_field(tmp_path: Path, toml: str, field: str, message: str) -> None:
    path = _write(tmp_path, "bad.toml", toml)
    with pytest.raises(PatchValidationError) as caught:
        load_patch(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: {field}: "), text
    assert message in text


def test_bad_toml_syntax(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken.toml", 'name = "x\ncss = ""\n')
    with pytest.raises(PatchValidationError) as caught:
        load_patch(path)
    assert str(caught.value).startswith(f"{path}: invalid TOML")


def test_bad_css_file_names_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "evil.css", "#a { color: red }\n@import 'x.css';\n")
    with pytest.raises(PatchValidationError) as caught:
        load_patch(path)
    assert str(caught.value) == (f"{path}: css line 2, column 1: @import loads another stylesheet"
                                 " (fix: remove or rewrite it; the README lists what a patch may contain)")
    assert (caught.value.line, caught.value.column) == (2, 1)


def test_missing_file_and_wrong_suffix_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="patch file not found"):
        load_patch(tmp_path / "nope.toml")
    with pytest.raises(InputError, match=r"must end in \.css or \.toml"):
        load_patch(_write(tmp_path, "patch.js", "alert(1)"))


def test_patch_is_immutable() -> None:
    patch = Patch(name="p", css="#a{color:red}")
    with pytest.raises(Exception, match="frozen"):
        patch.css = "#a{background:url(x)}"  # type: ignore[misc]


def test_init_script_is_a_data_line_then_the_runtime() -> None:
    text = 'Say </script><script>alert(1)</script> \u2028 "quoted"'
    patch = Patch(name="p", css="#a{color:red}", ops=[DomOp(op="set_text", selector="#a", text=text)])
    script = patch_init_script(patch)
    first, rest = script.split("\n", 1)
    assert first.startswith("window.__UIAB_PATCH__ = ") and first.endswith(";")
    config = json.loads(first[len("window.__UIAB_PATCH__ = "):-1])
    assert config == patch.config() and config["ops"][0]["text"] == text
    assert "\u2028" not in first and "</script>" not in first  # escaped: the line is pure ASCII JSON
    assert rest == runtime_source()


def test_runtime_has_no_way_to_run_or_parse_code() -> None:
    source = runtime_source()
    code = re.sub(r"//[^\n]*", "", source)  # comments may name what the runtime avoids
    for banned in ("eval(", "Function(", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                   "setTimeout(", "setInterval(", "import(", "createContextualFragment", "DOMParser"):
        assert banned not in code, banned
    assert "textContent" in code


def test_report_without_events_is_a_failed_action() -> None:
    report = patch_report([{"type": "page_view"}])
    assert report.reported is False and report.applied is False


def test_report_takes_the_latest_event_of_the_patch() -> None:
    events = [
        {"type": "patch", "name": "p", "url": "/a", "selectors": {"#x": 0}, "css": "applied",
         "ops": [{"op": "hide", "selector": "#x", "status": "failed", "reason": "no element matches #x"}]},
        {"type": "patch", "name": "q", "url": "/a", "selectors": {"#y": 1}, "css": "applied", "ops": []},
        {"type": "patch", "name": "p", "url": "/a", "selectors": {"#x": 2}, "css": "applied",
         "ops": [{"op": "hide", "selector": "#x", "status": "applied", "reason": None}]},
    ]
    assert patch_report(events[:1]).applied is False
    assert patch_report(events[:1]).unmatched == ["#x"]
    assert patch_report(events[:1]).failed_ops == [{"op": "hide", "selector": "#x",
                                                    "reason": "no element matches #x"}]
    latest = patch_report(events, name="p")
    assert latest.applied is True and latest.matched == {"#x": 2}
    assert patch_report(events, name="q").matched == {"#y": 1}
    assert patch_report(events, url="/b").reported is False
