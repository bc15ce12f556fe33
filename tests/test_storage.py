"""SQLite storage: schema, one transaction per session, interrupted runs keep finished sessions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.kernel import InputError
from harness.store.database import SCHEMA_VERSION, PageViewRow, Store, StoredSession


def _session(i: int) -> StoredSession:
    return StoredSession(
        visitor_id=f"v{i}", device="iPhone 13", variant="control", status="goal", goal_reached=True,
        result={"clicks": i}, events=[{"type": "page_view", "t": 0, "url": "/"}],
        page_views=[PageViewRow("/", 0.0, 1000.0, 0.5)],
    )


def test_new_database_is_wal_and_versioned(tmp_path: Path) -> None:
    with Store(tmp_path / "u.db") as store:
        mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
        version = store._db.execute("PRAGMA user_version").fetchone()[0]
    assert (mode, version) == ("wal", SCHEMA_VERSION)
    # Opening it again migrates nothing and keeps what is there.
    with Store(tmp_path / "u.db") as store:
        assert store.count("runs") == 0


def test_session_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    with Store(tmp_path / "u.db") as store:
        run = store.start_run("simulate", "exp.toml", {}, 1)
        store.add_session(run, _session(1))
        bad = StoredSession(**{**_session(2).__dict__, "events": [{"type": object()}]})  # not JSON-able
        with pytest.raises(sqlite3.Error):
            store.add_session(run, bad)
        assert store.count("sessions", run) == 1
        assert store.count("events", run) == 1
        assert store.count("page_views", run) == 1


def test_interrupted_run_keeps_finished_sessions(tmp_path: Path) -> None:
    with Store(tmp_path / "u.db") as store:
        with pytest.raises(KeyboardInterrupt):
            with store.tracked_run("simulate", "exp.toml", {}, 0) as run:
                store.add_session(run, _session(1))
                store.add_session(run, _session(2))
                raise KeyboardInterrupt
    with Store(tmp_path / "u.db") as store:
        assert store.run(run)["status"] == "interrupted"  # type: ignore[index]
        assert [s["visitor_id"] for s in store.sessions(run)] == ["v1", "v2"]


def test_discard_run_removes_everything_it_wrote(tmp_path: Path) -> None:
    with Store(tmp_path / "u.db") as store:
        keep = store.start_run("smoke", "a", {}, 0)
        store.add_session(keep, _session(0))
        run = store.start_run("smoke", "b", {}, 0)
        store.add_session(run, _session(1))
        store.discard_run(run)
        assert store.run(run) is None
        assert (store.count("sessions"), store.count("events"), store.count("page_views")) == (1, 1, 1)


def test_a_file_that_is_not_a_database_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(InputError, match="notes.db"):
        Store(path)


def test_older_schema_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    from harness.store import MIGRATIONS

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as con:  # a database written by schema v1
        for statement in MIGRATIONS[0]:
            con.execute(statement)
        con.execute("PRAGMA user_version = 1")
        con.execute("INSERT INTO runs (kind, experiment, config, started_at) VALUES ('smoke', 'e', '{}', 'now')")
    with Store(path) as store:
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.count("runs") == 1 and store.count("checks") == 0


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as con:
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(InputError, match="newer than this uiab"):
        Store(path)
