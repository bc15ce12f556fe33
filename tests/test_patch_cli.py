"""``uiab patch check`` and ``uiab personas list`` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHOP = REPO / "site_fixtures" / "shop"


def _uiab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.interfaces.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180)


def test_valid_patch_applies_on_the_funnel_and_reports_matches(tmp_path: Path) -> None:
    done = _uiab("patch", "check", str(SHOP / "variants" / "big-cta.css"), "--experiment",
                 str(SHOP / "experiment.toml"), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["valid"] is True and report["unmatched"] == []
    for pages in report["matches"].values():
        assert pages["/product.html"] == {"#add-to-cart": 1}
        assert pages["/index.html"] == {"#add-to-cart": 0}


def test_toml_patch_with_ops_is_checked(tmp_path: Path) -> None:
    patch = tmp_path / "sticky.toml"
    patch.write_text('name = "sticky-cta"\ncss = "#add-to-cart { font-size: 20px }"\n'
                     '[[ops]]\nop = "set_text"\nselector = "#add-to-cart"\ntext = "Add to bag"\n'
                     '[[ops]]\nop = "sticky"\nselector = "#buy-box"\n')
    done = _uiab("patch", "check", str(patch), "--experiment", str(SHOP / "experiment.toml"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "sticky-cta" in done.stdout and "#buy-box" in done.stdout


def test_invalid_patch_exits_2_naming_line_and_column(tmp_path: Path) -> None:
    patch = tmp_path / "evil.css"
    patch.write_text("#a { color: red }\ninput[value^='a'] { color: blue }\n")
    done = _uiab("patch", "check", str(patch), cwd=tmp_path)
    assert done.returncode == 2
    assert "evil.css" in done.stderr and "line 2" in done.stderr and done.stdout == ""


def test_selector_matching_no_funnel_page_exits_2(tmp_path: Path) -> None:
    patch = tmp_path / "typo.css"
    patch.write_text("#add-to-kart { font-size: 20px }\n")
    done = _uiab("patch", "check", str(patch), "--experiment", str(SHOP / "experiment.toml"), cwd=tmp_path)
    assert done.returncode == 2
    assert "#add-to-kart matched nothing on any funnel page" in done.stderr


def test_personas_list_shows_the_library(tmp_path: Path) -> None:
    done = _uiab("personas", "list", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    names = {p["name"] for p in json.loads(done.stdout)["personas"]}
    assert names >= {"hurried-mobile-shopper", "careful-desktop-researcher", "low-vision-senior",
                     "tablet-browser", "bargain-hunter", "first-time-visitor"}
