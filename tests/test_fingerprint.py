"""Same seed, same outcome: simulate, train and rollout on the shop match a fingerprint recorded once.

The fingerprint was recorded before ``harness/`` was split into rooms (``UIAB_RECORD_FINGERPRINT=1`` writes it
again); a refactor that changes any stored session, decision, check or verdict fails here. The test drives
the ``uiab`` command and reads SQLite directly, so it depends on neither module paths nor Python APIs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SHOP = REPO / "site_fixtures" / "shop" / "experiment.toml"
RECORDED = Path(__file__).resolve().parent / "data" / "shop_fingerprint.json"
UIAB = str(Path(sys.executable).with_name("uiab"))

# What the database holds per run that is a measurement or a decision (ids and wall-clock times are not).
_QUERIES = {
    "sessions": "SELECT visitor_id, persona, device, variant, seed, status, goal_reached, result FROM sessions"
                " WHERE run_id = ? ORDER BY visitor_id, variant",
    "page_views": "SELECT s.visitor_id, s.variant, p.position, p.url, p.t_start, p.dwell_ms, p.scroll_depth"
                  " FROM page_views p JOIN sessions s ON s.id = p.session_id WHERE s.run_id = ?"
                  " ORDER BY s.visitor_id, s.variant, p.position",
    "events": "SELECT s.visitor_id, s.variant, e.seq, e.type, e.t, e.url, e.data FROM events e"
              " JOIN sessions s ON s.id = e.session_id WHERE s.run_id = ? ORDER BY s.visitor_id, s.variant, e.seq",
    "decisions": "SELECT event_id, policy, context, context_vec, actions_offered, action, probability, reward,"
                 " reward_parts FROM decisions WHERE run_id = ? ORDER BY id",
    # Web Vitals are real-time measurements (the one thing not on the virtual clock), so they vary with load.
    "checks": "SELECT stage, name, level, status, expected, found FROM checks WHERE run_id = ?"
              " AND name NOT LIKE 'performance.%' ORDER BY id",
}


def _uiab(*args: str | Path, cwd: Path) -> dict[str, Any]:
    done = subprocess.run([UIAB, *map(str, args), "--json"], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode in (0, 1, 3), done.stderr[-2000:]
    return json.loads(done.stdout)


def _digest(rows: list[tuple[Any, ...]]) -> str:
    # The site is served at a free port, which referrers and navigation targets carry.
    text = re.sub(r"http://127\.0\.0\.1:\d+", "SITE", json.dumps(rows, sort_keys=True, default=str))
    return hashlib.sha256(text.encode()).hexdigest()


def _fingerprint(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db) as conn:
        runs = conn.execute("SELECT id, kind FROM runs ORDER BY id").fetchall()
        out: dict[str, Any] = {}
        for run_id, kind in runs:
            tables = {name: conn.execute(sql, (run_id,)).fetchall() for name, sql in _QUERIES.items()}
            out[kind] = {name: {"rows": len(rows), "sha256": _digest(rows)} for name, rows in tables.items()}
        return out


@pytest.mark.browser
def test_the_shop_gives_the_recorded_sessions_decisions_and_verdict(tmp_path: Path) -> None:
    db = tmp_path / "uiab.db"
    simulated = _uiab("simulate", SHOP, "--sessions", "6", "--paired", "--seed", "11", "--no-report", "--db", db,
                      cwd=tmp_path)
    trained = _uiab("train", SHOP, "--sessions", "8", "--seed", "3", "--out", tmp_path / "agent.pt",
                    "--no-report", "--db", db, cwd=tmp_path)
    rolled = _uiab("rollout", SHOP, "--candidate", "big-cta", "--stages", "50,100", "--sessions-per-stage", "6",
                   "--seed", "5", "--report", tmp_path / "rollout", "--db", db, cwd=tmp_path)
    found = {
        "tables": _fingerprint(db),
        "simulate": {k: simulated[k] for k in ("variants", "personas") if k in simulated},
        "train_conversion": trained.get("conversion_rate"),
        "verdict": rolled.get("verdict"),
    }
    if os.environ.get("UIAB_RECORD_FINGERPRINT") == "1":
        RECORDED.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    assert found["tables"]["simulate"]["sessions"]["rows"] == 24  # 6 paired visitors × 4 variants
    assert found["tables"]["train"]["decisions"]["rows"] > 0
    assert found["tables"]["rollout"]["checks"]["rows"] > 0
    for kind, tables in recorded["tables"].items():
        for table, expected in tables.items():
            assert found["tables"][kind][table] == expected, f"{kind}.{table} changed"
    assert found == recorded
