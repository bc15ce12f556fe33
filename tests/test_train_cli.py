"""``uiab train`` and ``uiab decisions`` from the command line, on the small kettle site."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from agent.dqn import load_checkpoint

KETTLE = Path(__file__).resolve().parent / "pages" / "rollout" / "experiment.toml"


def _uiab(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.interfaces.cli", *args, "--db", str(tmp_path / "u.db")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)


def test_train_writes_checkpoint_curve_decisions_and_resumes(tmp_path: Path) -> None:
    done = _uiab(tmp_path, "train", str(KETTLE), "--sessions", "3", "--seed", "2", "--out",
                 str(tmp_path / "agent.pt"), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert {"run_id", "sessions", "policy", "mean_reward_last_10pct", "conversion_rate", "checkpoint"} <= set(summary)
    assert summary["sessions"] == 3 and summary["policy"] == "dqn"
    assert Path(summary["checkpoint"]).is_file() and (tmp_path / summary["learning_curve"]).is_file()
    assert (tmp_path / summary["report"]).is_file()  # the run's HTML report, written at the end
    with sqlite3.connect(tmp_path / "u.db") as con:
        (decisions,) = con.execute("SELECT COUNT(*) FROM decisions WHERE run_id = ?", (summary["run_id"],)).fetchone()
        (sessions,) = con.execute("SELECT COUNT(*) FROM sessions WHERE run_id = ?", (summary["run_id"],)).fetchone()
        probabilities = [p for (p,) in con.execute("SELECT probability FROM decisions")]
    assert sessions == 3 and decisions >= 3 and all(0 < p <= 1 for p in probabilities)
    exported = _uiab(tmp_path, "decisions", str(summary["run_id"]), "--out", str(tmp_path / "log.jsonl"))
    assert exported.returncode == 0, exported.stderr
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(lines) == decisions and {"event_id", "action", "probability"} <= set(json.loads(lines[0]))
    resumed = _uiab(tmp_path, "train", str(KETTLE), "--sessions", "2", "--seed", "2", "--resume",
                    str(tmp_path / "agent.pt"), "--out", str(tmp_path / "agent2.pt"), "--json", "--no-report")
    assert resumed.returncode == 0, resumed.stderr
    meta = load_checkpoint(tmp_path / "agent2.pt").meta  # the metadata travels inside the checkpoint
    assert meta["sessions_done"] == 5 and meta["run_id"] == json.loads(resumed.stdout)["run_id"]
    assert not (tmp_path / "agent2.pt.json").exists()


def test_unknown_policy_and_missing_checkpoint_are_bad_input(tmp_path: Path) -> None:
    done = _uiab(tmp_path, "train", str(KETTLE), "--sessions", "1", "--policy", "magic")
    assert done.returncode == 2 and "--policy" in done.stderr
    done = _uiab(tmp_path, "train", str(KETTLE), "--sessions", "1", "--resume", str(tmp_path / "nope.pt"))
    assert done.returncode == 2 and "nope.pt" in done.stderr
