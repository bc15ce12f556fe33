"""SQLite store (standard library, WAL): runs, sessions, page views, events; one transaction per session."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.kernel import InputError
from harness.store.migrations import MIGRATIONS, SCHEMA_VERSION, tables_at

__all__ = ["SCHEMA_VERSION", "Store", "StoredSession", "PageViewRow", "check_database"]

def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class PageViewRow:
    url: str
    t_start: float | None
    dwell_ms: float | None
    scroll_depth: float | None


@dataclass(frozen=True)
class StoredSession:
    """Everything one finished session writes, handed to :meth:`Store.add_session` in one piece."""

    visitor_id: str
    device: str
    variant: str
    status: str
    goal_reached: bool
    result: dict[str, Any]
    events: Sequence[dict[str, Any]]
    page_views: Sequence[PageViewRow]
    persona: str | None = None
    seed: int | None = None
    started_at: str | None = None


def _tables(db: sqlite3.Connection) -> set[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return {row[0] for row in rows}


def _checked_version(db: sqlite3.Connection, path: Path) -> int:
    """The schema version of a database uiab may use; a newer or a foreign one is bad input, and is left as it was."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise InputError(f"database schema v{version} is newer than this uiab (v{SCHEMA_VERSION})",
                         source=str(path), field="--db", fix="upgrade uiab, or pass another --db")
    tables = _tables(db)
    missing = sorted(tables_at(version) - tables)
    if (version == 0 and tables) or missing:
        shown = ", ".join(sorted(tables)[:5]) or "none"
        raise InputError(f"not a uiab database (its tables: {shown})", source=str(path), field="--db",
                         fix="pass a new path, or a database a uiab command created")
    return version


def check_database(path: str | Path) -> None:
    """Refuse, without writing anything, a --db that :class:`Store` would refuse: a bad folder, a foreign file."""
    path = Path(path)
    if path.exists():
        Store(path, read_only=True, migrated=False).close()
    elif not path.parent.is_dir():
        raise InputError(f"folder {path.parent} does not exist", source=str(path), field="--db",
                         fix="create the folder or choose another database path")


class Store:
    """A uiab database. ``Store(path)`` creates or migrates it; use as a context manager to close it.

    ``read_only=True`` opens an existing database as it is (no file created, no WAL switch, no migration):
    what the commands that only look (report, decisions, rollout --replay) use. ``migrated=False`` (read-only
    only) accepts an older schema too, for a check that reads nothing.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False, migrated: bool = True) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError("is a folder, not a database file", source=str(self.path), field="--db",
                             fix="pass the path of a .db file")
        if read_only and not self.path.is_file():
            raise InputError(f"no database at {self.path}", source=str(self.path), field="--db",
                             fix="pass the --db a uiab command wrote to (default: UIAB_DB or ./uiab.db)")
        if self.path.parent and not self.path.parent.exists():
            raise InputError(f"folder {self.path.parent} does not exist", source=str(self.path), field="--db",
                             fix="create the folder or choose another database path")
        try:
            if read_only:
                # A read-only connection to a WAL database leaves -wal and -shm files behind that it may not
                # delete. With no -wal on disk no writer is connected (a writer keeps it until it closes), so
                # the file is read as immutable and nothing is created; with one, a writer is at work and the
                # files are its own.
                live = self.path.with_name(self.path.name + "-wal").exists()
                uri = f"{self.path.resolve().as_uri()}?mode=ro" + ("" if live else "&immutable=1")
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            else:
                self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise InputError(f"cannot open the database ({exc})", source=str(self.path), field="--db",
                             fix="pass a new path, or the file a uiab command created") from None
        try:
            self._db.execute("PRAGMA busy_timeout=5000")
            version = _checked_version(self._db, self.path)  # before anything is written to the file
            if read_only and migrated and version == 0:
                raise InputError("an empty database: no uiab command has written to it", source=str(self.path),
                                 field="--db", fix="pass the --db a uiab command wrote to")
            if read_only and migrated and version < SCHEMA_VERSION:
                raise InputError(f"database schema v{version} is older than this uiab (v{SCHEMA_VERSION})",
                                 source=str(self.path), field="--db",
                                 fix="run a uiab command that writes to it (smoke, simulate) to migrate it")
            if not read_only:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._migrate(version)
            self._db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise InputError(f"not a usable uiab database ({exc})", source=str(self.path), field="--db",
                             fix="pass a new path, or the file a uiab command created") from None
        except BaseException:
            self._db.close()
            raise

    def _migrate(self, version: int) -> None:
        for target in range(version, SCHEMA_VERSION):
            with self.transaction() as db:
                for statement in MIGRATIONS[target]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {target + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: a failure inside leaves the database as it was."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- runs -------------------------------------------------------------------------------------------
    def start_run(self, kind: str, experiment: str, config: dict[str, Any], seed: int | None) -> int:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (kind, experiment, config, seed, started_at) VALUES (?, ?, ?, ?, ?)",
                (kind, experiment, json.dumps(config, sort_keys=True, default=str), seed, _now()),
            )
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any] | None = None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE id = ?",
                       (status, _now(), json.dumps(summary, default=str) if summary is not None else None,
                        run_id))

    def run(self, run_id: int) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        columns = [c[0] for c in self._db.execute("SELECT * FROM runs LIMIT 0").description]
        return dict(zip(columns, row, strict=True))

    # --- sessions ---------------------------------------------------------------------------------------
    def add_session(self, run_id: int, session: StoredSession) -> int:
        """Write a finished session, its page views and its events in one transaction."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO sessions (run_id, visitor_id, persona, device, variant, seed, status, goal_reached,"
                " started_at, finished_at, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, session.visitor_id, session.persona, session.device, session.variant, session.seed,
                 session.status, int(session.goal_reached), session.started_at or _now(), _now(),
                 json.dumps(session.result, sort_keys=True, default=str)),
            )
            session_id = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT INTO page_views (session_id, position, url, t_start, dwell_ms, scroll_depth)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(session_id, i, p.url, p.t_start, p.dwell_ms, p.scroll_depth)
                 for i, p in enumerate(session.page_views)],
            )
            db.executemany(
                "INSERT INTO events (session_id, seq, type, t, url, data) VALUES (?, ?, ?, ?, ?, ?)",
                [(session_id, i, e.get("type", "?"), e.get("t"), e.get("url"), json.dumps(e, default=str))
                 for i, e in enumerate(session.events)],
            )
        return session_id

    def latest_run_id(self) -> int | None:
        """The newest run's id, or ``None`` in an empty database."""
        row = self._db.execute("SELECT MAX(id) FROM runs").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def events(self, run_id: int, types: Sequence[str]) -> list[dict[str, Any]]:
        """A run's tracker events of the given types, each with its session's variant, device and persona."""
        marks = ", ".join("?" * len(types))
        cursor = self._db.execute(
            "SELECT s.variant, s.device, s.persona, e.data FROM events e JOIN sessions s ON s.id = e.session_id"
            f" WHERE s.run_id = ? AND e.type IN ({marks}) ORDER BY e.session_id, e.seq", (run_id, *types))
        return [{**json.loads(data), "variant": variant, "device": device, "persona": persona}
                for variant, device, persona, data in cursor.fetchall()]

    def sessions(self, run_id: int) -> list[dict[str, Any]]:
        cursor = self._db.execute("SELECT * FROM sessions WHERE run_id = ? ORDER BY id", (run_id,))
        columns = [c[0] for c in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        for row in rows:
            row["result"] = json.loads(row["result"])
        return rows

    def count(self, table: str, run_id: int | None = None) -> int:
        if table not in {"runs", "sessions", "page_views", "events", "checks"}:
            raise InputError(f"no table {table!r}", field="table", fix="runs, sessions, page_views, events or checks")
        if run_id is None or table == "runs":
            return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        if table == "checks":
            return int(self._db.execute("SELECT COUNT(*) FROM checks WHERE run_id = ?", (run_id,)).fetchone()[0])
        if table == "sessions":
            sql = "SELECT COUNT(*) FROM sessions WHERE run_id = ?"
        else:
            sql = f"SELECT COUNT(*) FROM {table} JOIN sessions s ON s.id = session_id WHERE s.run_id = ?"
        return int(self._db.execute(sql, (run_id,)).fetchone()[0])

    def add_checks(self, run_id: int, checks: Sequence[dict[str, Any]]) -> None:
        """Write a stage's checks in one transaction."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO checks (run_id, stage, name, level, status, expected, found, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, c["stage"], c["name"], c["level"], c["status"], c["expected"], c["found"],
                  json.dumps(c, default=str)) for c in checks])

    def add_decisions(self, run_id: int, records: Sequence[dict[str, Any]]) -> None:
        """Write decision-log records (``agent.decision_log.DecisionRecord.to_dict()``) in one transaction."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO decisions (run_id, event_id, policy, context, context_vec, actions_offered, action,"
                " probability, reward, reward_parts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, r["event_id"], r.get("policy", ""), json.dumps(r["context"], sort_keys=True),
                  json.dumps(r["context_vec"]), json.dumps(r["actions_offered"]), r["action"], r["probability"],
                  r.get("reward"), json.dumps(r.get("reward_parts", {}), sort_keys=True)) for r in records])

    def decisions(self, run_id: int) -> list[dict[str, Any]]:
        cursor = self._db.execute("SELECT event_id, policy, context, context_vec, actions_offered, action, probability,"
                                  " reward, reward_parts FROM decisions WHERE run_id = ? ORDER BY id", (run_id,))
        return [{"event_id": e, "policy": p, "context": json.loads(c), "context_vec": json.loads(v),
                 "actions_offered": json.loads(o), "action": a, "probability": pr, "reward": r,
                 "reward_parts": json.loads(rp)} for e, p, c, v, o, a, pr, r, rp in cursor.fetchall()]

    def add_alert(self, run_id: int, kind: str, message: str, value: float | None, threshold: float | None,
                  at_session: int | None) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO alerts (run_id, kind, message, value, threshold, at_session, created_at)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)", (run_id, kind, message, value, threshold, at_session, _now()))

    def alerts(self, run_id: int) -> list[dict[str, Any]]:
        cursor = self._db.execute("SELECT kind, message, value, threshold, at_session FROM alerts WHERE run_id = ?"
                                  " ORDER BY id", (run_id,))
        return [dict(zip(("kind", "message", "value", "threshold", "at_session"), row, strict=True))
                for row in cursor.fetchall()]

    def checks(self, run_id: int) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT data FROM checks WHERE run_id = ? ORDER BY id", (run_id,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def discard_run(self, run_id: int) -> None:
        """Remove a run and all it wrote, in one transaction (bad input found mid-run)."""
        with self.transaction() as db:
            sessions = "SELECT id FROM sessions WHERE run_id = ?"
            db.execute(f"DELETE FROM events WHERE session_id IN ({sessions})", (run_id,))
            db.execute(f"DELETE FROM page_views WHERE session_id IN ({sessions})", (run_id,))
            db.execute("DELETE FROM checks WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM decisions WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM alerts WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM sessions WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    @contextmanager
    def tracked_run(self, kind: str, experiment: str, config: dict[str, Any],
                    seed: int | None) -> Iterator[int]:
        """A run whose status says how it ended: completed, interrupted (Ctrl-C, cancelled) or failed."""
        run_id = self.start_run(kind, experiment, config, seed)
        try:
            yield run_id
        except (KeyboardInterrupt, asyncio.CancelledError):
            self.finish_run(run_id, "interrupted")
            raise
        except BaseException:
            if self.run(run_id) is not None:
                self.finish_run(run_id, "failed")
            raise
        else:
            if self.run(run_id) is not None and self.run(run_id)["status"] == "running":  # type: ignore[index]
                self.finish_run(run_id, "completed")
