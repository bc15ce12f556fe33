"""``uiab smoke`` end to end in a subprocess: real Chromium, real SQLite, exit codes as documented."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UIAB = [sys.executable, "-m", "harness.interfaces.cli"]


def _uiab(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UIAB_REPORT_DIR": str(cwd / "reports")}
    return subprocess.run([*UIAB, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _copy_shop(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "site_fixtures" / "shop", tmp_path / "shop")
    return tmp_path / "shop" / "experiment.toml"


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


@pytest.mark.parametrize("site", ["shop", "saas"])
def test_demo_sites_smoke_clean(site: str, tmp_path: Path) -> None:
    done = _uiab("smoke", str(REPO / "site_fixtures" / site / "experiment.toml"), "--json",
                 "--db", str(tmp_path / "u.db"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # stdout holds the JSON and nothing else
    assert report["ok"] is True
    walks = report["walks"]
    assert {w["variant"] for w in walks} >= {"control"} and len({w["device"] for w in walks}) >= 2
    for walk in walks:
        assert walk["pages"][-1]["goal_reached"] is True
        assert all(Path(p["screenshot"]).is_file() for p in walk["pages"])
        # Patched walks show each page beside control's, on the same device.
        assert all((p["compare"] is None) == (walk["variant"] == "control") for p in walk["pages"])
        assert all(Path(p["compare"]).is_file() for p in walk["pages"] if p["compare"])
    stored = _rows(tmp_path / "u.db", "SELECT status FROM runs")
    assert stored == [("completed",)]
    assert _rows(tmp_path / "u.db", "SELECT COUNT(*) FROM sessions")[0][0] == len(walks)


def test_variant_hiding_the_next_element_fails_naming_page_and_element(tmp_path: Path) -> None:
    experiment = _copy_shop(tmp_path)
    (experiment.parent / "variants" / "hide-checkout.css").write_text("#checkout { display: none }\n")
    experiment.write_text(experiment.read_text() +
                          '\n[[variants]]\nname = "hide-checkout"\npatch = "variants/hide-checkout.css"\n')
    done = _uiab("smoke", str(experiment), "--variant", "hide-checkout", "--device", "iPhone 13",
                 "--db", str(tmp_path / "u.db"), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "#checkout on /cart.html is not visible" in done.stdout


def test_patch_that_matches_nothing_is_a_failed_action(tmp_path: Path) -> None:
    experiment = _copy_shop(tmp_path)
    (experiment.parent / "variants" / "typo.css").write_text("#add-to-kart { font-size: 20px }\n")
    experiment.write_text(experiment.read_text() +
                          '\n[[variants]]\nname = "typo"\npatch = "variants/typo.css"\n')
    done = _uiab("smoke", str(experiment), "--variant", "typo", "--device", "Desktop Chrome", "--json",
                 "--db", str(tmp_path / "u.db"), cwd=tmp_path)
    assert done.returncode == 1
    problems = [p for w in json.loads(done.stdout)["walks"] for page in w["pages"] for p in page["problems"]]
    assert problems == ["patch typo: #add-to-kart matched nothing on any page walked"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace('next = "#checkout"', 'next = "#no-such-button"'), "funnel[2].next"),
        (lambda t: t.replace('"low-vision-senior"', '"low-vision-seniors"'), "low-vision-seniors"),
        (lambda t: t.replace('site = "."', 'site = "nowhere"'), "site"),
        (lambda t: t + "\n[[variants]]\nname = \"evil\"\npatch = \"variants/evil.css\"\n", "url"),
        (lambda t: t.replace("[slots]", "[slots\n"), "malformed TOML"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path: Path, edit, expected: str) -> None:
    experiment = _copy_shop(tmp_path)
    (experiment.parent / "variants" / "evil.css").write_text(
        "#add-to-cart { background: url(https://evil.example/?leak) }\n")
    experiment.write_text(edit(experiment.read_text()))
    db = tmp_path / "u.db"
    done = _uiab("smoke", str(experiment), "--device", "iPhone 13", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0] and "fix:" in lines[0], done.stderr
    if db.exists():
        assert _rows(db, "SELECT COUNT(*) FROM runs")[0][0] == 0
        assert _rows(db, "SELECT COUNT(*) FROM sessions")[0][0] == 0


def test_unreachable_site_exits_4_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    """A site that does not answer is the environment failing, not bad input: InfrastructureError, exit 4."""
    experiment = _copy_shop(tmp_path)
    experiment.write_text(experiment.read_text().replace('site = "."', 'base_url = "http://127.0.0.1:9"'))
    db = tmp_path / "u.db"
    done = _uiab("smoke", str(experiment), "--device", "iPhone 13", "--db", str(db), cwd=tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unreachable" in lines[0] and "http://127.0.0.1:9" in lines[0], done.stderr
    if db.exists():
        assert _rows(db, "SELECT COUNT(*) FROM runs")[0][0] == 0
        assert _rows(db, "SELECT COUNT(*) FROM sessions")[0][0] == 0


def test_unknown_device_is_bad_input(tmp_path: Path) -> None:
    done = _uiab("smoke", str(REPO / "site_fixtures" / "shop" / "experiment.toml"), "--device", "iPhone 99",
                 "--db", str(tmp_path / "u.db"), cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown device 'iPhone 99'" in done.stderr and "did you mean" in done.stderr


def test_interrupted_run_keeps_its_finished_sessions(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    env = {**os.environ, "UIAB_REPORT_DIR": str(tmp_path / "reports"), "UIAB_CONCURRENCY": "1"}
    devices = ["iPhone 13", "Desktop Chrome", "iPad (gen 7)", "Pixel 5", "Galaxy S9+", "iPhone 12",
               "Desktop Firefox", "iPhone 14"]
    args = [a for d in devices for a in ("--device", d)]
    process = subprocess.Popen([*UIAB, "smoke", str(REPO / "site_fixtures" / "shop" / "experiment.toml"),
                                *args, "--db", str(db)], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    finished = 0
    while time.monotonic() < deadline and finished < 2:
        time.sleep(0.2)
        if db.exists():
            try:
                finished = _rows(db, "SELECT COUNT(*) FROM sessions")[0][0]
            except sqlite3.OperationalError:
                finished = 0  # schema not created yet
    assert finished >= 2, "smoke did not finish two walks in time"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    (status,), = _rows(db, "SELECT status FROM runs")
    kept = _rows(db, "SELECT COUNT(*) FROM sessions")[0][0]
    assert status == "interrupted"
    assert finished <= kept < 4 * len(devices)  # every finished walk stayed; the run did not complete
    # Every stored session is whole: it has its events and page views.
    assert _rows(db, "SELECT COUNT(*) FROM sessions s WHERE NOT EXISTS "
                     "(SELECT 1 FROM events e WHERE e.session_id = s.id)")[0][0] == 0
