"""``uiab rollout`` in the real browser: each documented verdict with its exit code, reasons and artifacts."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KETTLE = REPO / "tests" / "pages" / "rollout" / "experiment.toml"


def _rollout(tmp_path: Path, experiment: Path, *args: str) -> tuple[int, dict, subprocess.CompletedProcess[str]]:
    done = subprocess.run([sys.executable, "-m", "harness.interfaces.cli", "rollout", str(experiment), "--db",
                           str(tmp_path / "u.db"), "--report", str(tmp_path / "report"), "--junit",
                           str(tmp_path / "junit.xml"), "--json", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900)
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, report, done


def _copy_shop(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "site_fixtures" / "shop", tmp_path / "shop")
    return tmp_path / "shop" / "experiment.toml"


def test_clearly_better_variant_is_promoted(tmp_path: Path) -> None:
    code, report, done = _rollout(tmp_path, KETTLE, "--candidate", "clear-cta", "--seed", "3")
    assert code == 0, done.stderr + json.dumps(report.get("reasons"))
    assert report["verdict"] == "promote"
    primary = [c for c in report["checks"] if c["name"] == "primary.conversion"][-1]
    assert primary["stage"] == "100%" and primary["status"] == "pass" and "→ promote" in primary["found"]
    # Artifacts: JSON and HTML in the report folder, JUnit with a testcase per check, checks in SQLite.
    assert json.loads((tmp_path / "report" / "report.json").read_text())["verdict"] == "promote"
    assert "PROMOTE" in (tmp_path / "report" / "index.html").read_text()
    cases = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    assert sum(1 for _ in cases) == len(report["checks"])
    with sqlite3.connect(tmp_path / "u.db") as con:
        (stored,) = con.execute("SELECT COUNT(*) FROM checks WHERE run_id = ?", (report["run_id"],)).fetchone()
        (status,) = con.execute("SELECT status FROM runs WHERE id = ?", (report["run_id"],)).fetchone()
    assert stored == len(report["checks"]) and status == "completed"


def test_control_against_itself_is_not_rolled_back(tmp_path: Path) -> None:
    code, report, done = _rollout(tmp_path, KETTLE, "--candidate", "control", "--sessions-per-stage", "10")
    assert code == 3, done.stderr + json.dumps(report.get("reasons"))
    assert report["verdict"] == "inconclusive"
    skipped = ET.parse(tmp_path / "junit.xml").getroot().findall(".//testcase/skipped")
    assert skipped, "an inconclusive primary check is reported as skipped in JUnit"


def test_variant_hiding_the_funnel_button_is_rolled_back_before_traffic(tmp_path: Path) -> None:
    experiment = _copy_shop(tmp_path)
    (experiment.parent / "variants" / "hide-checkout.css").write_text("#checkout { display: none }\n")
    code, report, done = _rollout(tmp_path, experiment, "--candidate",
                                  str(experiment.parent / "variants" / "hide-checkout.css"))
    assert code == 1, done.stderr
    assert report["verdict"] == "rollback"
    assert [s["stage"] for s in report["stages"]] == ["preflight"]  # no traffic reached the candidate
    assert any("#checkout on /cart.html is not visible" in r for r in report["reasons"]), report["reasons"]
    failing = [c for c in report["checks"] if c["status"] == "fail"]
    assert all(Path(c["screenshot"]).is_file() for c in failing if c["screenshot"])
    assert any(c["screenshot"] and "compare" in c["screenshot"] for c in failing)
    # Replay reruns the same visitors on the same seeds: a real regression reproduces.
    again = subprocess.run([sys.executable, "-m", "harness.interfaces.cli", "rollout", "--replay",
                            str(report["run_id"]), "--db", str(tmp_path / "u.db"), "--report",
                            str(tmp_path / "replay"), "--json"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 1, again.stderr
    assert json.loads(again.stdout)["replay"] == {"of": report["run_id"], "original_verdict": "rollback",
                                                  "reproduced": True}


def test_cta_unreadable_for_low_vision_is_rolled_back_naming_the_persona(tmp_path: Path) -> None:
    code, report, done = _rollout(tmp_path, REPO / "site_fixtures" / "shop" / "experiment.toml",
                                  "--candidate", "low-contrast-cta")
    assert code == 1, done.stderr
    assert report["verdict"] == "rollback"
    reasons = " ".join(report["reasons"])
    assert "color-contrast" in reasons and "#add-to-cart" in reasons and "low-vision-senior" in reasons


def test_bad_candidate_and_unreachable_site_exit_codes(tmp_path: Path) -> None:
    code, _, done = _rollout(tmp_path, KETTLE, "--candidate", "no-such-variant")
    assert code == 2 and "--candidate" in done.stderr and "fix:" in done.stderr
    experiment = tmp_path / "remote.toml"
    experiment.write_text(KETTLE.read_text().replace('site = "."', 'base_url = "http://127.0.0.1:9"'))
    shutil.copytree(KETTLE.parent / "variants", tmp_path / "variants")
    code, _, done = _rollout(tmp_path, experiment, "--candidate", "clear-cta")
    assert code == 4 and "unreachable" in done.stderr
