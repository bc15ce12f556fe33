"""``uiab simulate``: JSON shape, storage, paired runs, and determinism (same seed → same outcomes)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from harness.run.assignment import assign_variant, draw_persona, plan_visitors
from harness.run.experiment import load_experiment
from harness.run.population import experiment_personas

REPO = Path(__file__).resolve().parent.parent
SHOP = REPO / "site_fixtures" / "shop" / "experiment.toml"
KEYS = {"sessions", "conversions", "conversion_rate", "ci_low", "ci_high", "bounce_rate", "mean_dwell_s",
        "misclick_rate", "cta_click_rate"}


def _simulate(tmp_path: Path, db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.interfaces.cli", "simulate", str(SHOP), "--db",
                           str(tmp_path / db), "--json", "--no-report", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)


def _results(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT visitor_id, persona, variant, seed, status, result FROM sessions "
                           "ORDER BY visitor_id, variant").fetchall()


def test_same_seed_twice_gives_identical_session_results(tmp_path: Path) -> None:
    first = _simulate(tmp_path, "a.db", "--sessions", "6", "--seed", "11", "--concurrency", "2")
    second = _simulate(tmp_path, "b.db", "--sessions", "6", "--seed", "11", "--concurrency", "1")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    report = json.loads(first.stdout)
    assert set(report) >= {"run_id", "sessions", "variants", "personas"} and report["sessions"] == 6
    for arm in [*report["variants"].values(), *report["personas"].values()]:
        assert set(arm) == KEYS and 0 <= arm["ci_low"] <= arm["conversion_rate"] <= arm["ci_high"] <= 1
    # Concurrency changes only the order sessions finish in, never what any of them measured.
    assert _results(tmp_path / "a.db") == _results(tmp_path / "b.db")
    third = _simulate(tmp_path, "c.db", "--sessions", "6", "--seed", "12")
    assert _results(tmp_path / "c.db") != _results(tmp_path / "a.db")
    assert third.returncode == 0


def test_paired_run_gives_every_visitor_every_variant_on_one_stream(tmp_path: Path) -> None:
    done = _simulate(tmp_path, "p.db", "--sessions", "2", "--paired", "--variant", "control",
                     "--variant", "big-cta")
    assert done.returncode == 0, done.stderr
    rows = _results(tmp_path / "p.db")
    assert [(r[0], r[2]) for r in rows] == [("v000000", "big-cta"), ("v000000", "control"),
                                            ("v000001", "big-cta"), ("v000001", "control")]
    assert rows[0][1] == rows[1][1] and rows[0][3] == rows[1][3]  # same persona, same random stream
    assert json.loads(done.stdout)["variants"].keys() == {"control", "big-cta"}


def test_assignment_is_sticky_and_follows_the_persona_shares() -> None:
    experiment = load_experiment(SHOP)
    personas = experiment_personas(experiment)
    variants = experiment.variants
    assert all(assign_variant(f"v{i}", variants, "s") == assign_variant(f"v{i}", variants, "s")
               for i in range(50))
    n = 4000
    counts = {v.name: 0 for v in variants}
    for i in range(n):
        counts[assign_variant(f"v{i}", variants, "salt").name] += 1
    # Equal split: each arm within 4 binomial standard deviations of n / k.
    k = len(variants)
    sd = (n * (1 / k) * (1 - 1 / k)) ** 0.5
    assert all(abs(c - n / k) < 4 * sd for c in counts.values()), counts
    drawn = [draw_persona(f"v{i}", personas, 0).name for i in range(n)]
    total = sum(p.share for p in personas)
    for persona in personas:
        p = persona.share / total
        assert abs(drawn.count(persona.name) - n * p) < 4 * (n * p * (1 - p)) ** 0.5
    plans = plan_visitors(experiment, personas, variants, sessions=10, seed=3, paired=False)
    assert [p.visitor_id for p in plans] == [f"v{i:06d}" for i in range(10)]


def test_persona_option_narrows_the_mix_and_an_unknown_one_is_bad_input(tmp_path: Path) -> None:
    done = _simulate(tmp_path, "p.db", "--sessions", "2", "--variant", "control", "--persona", "low-vision-senior")
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["personas"]) == {"low-vision-senior"}
    bad = _simulate(tmp_path, "bad.db", "--sessions", "2", "--persona", "nobody")
    assert bad.returncode == 2 and "nobody" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    if (tmp_path / "bad.db").exists():
        with sqlite3.connect(tmp_path / "bad.db") as con:
            assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
