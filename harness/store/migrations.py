"""The schema, as forward migrations: entry i takes a database from version i to i + 1, one statement each."""

from __future__ import annotations

import re

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "tables_at"]

# A database is never rewritten behind the user's back: only forward, each version in one transaction.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # v0 → v1
        """
        CREATE TABLE runs (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            kind        TEXT NOT NULL,             -- smoke | simulate | train | rollout
            experiment  TEXT NOT NULL,
            config      TEXT NOT NULL,             -- JSON: the options the run was started with
            seed        INTEGER,
            status      TEXT NOT NULL DEFAULT 'running',   -- running | completed | interrupted | failed
            started_at  TEXT NOT NULL,
            finished_at TEXT,
            summary     TEXT                        -- JSON written when the run ends
        )
        """,
        """
        CREATE TABLE sessions (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id       INTEGER NOT NULL REFERENCES runs(id),
            visitor_id   TEXT NOT NULL,
            persona      TEXT,
            device       TEXT NOT NULL,
            variant      TEXT NOT NULL,
            seed         INTEGER,
            status       TEXT NOT NULL,             -- the session's end: goal | leave | steps | patience | walk | error
            goal_reached INTEGER NOT NULL DEFAULT 0,
            started_at   TEXT NOT NULL,
            finished_at  TEXT NOT NULL,
            result       TEXT NOT NULL              -- JSON: the measured outcome
        )
        """,
        """
        CREATE INDEX sessions_run ON sessions(run_id)
        """,
        """
        CREATE TABLE page_views (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id   INTEGER NOT NULL REFERENCES sessions(id),
            position     INTEGER NOT NULL,
            url          TEXT NOT NULL,
            t_start      REAL,
            dwell_ms     REAL,
            scroll_depth REAL
        )
        """,
        """
        CREATE INDEX page_views_session ON page_views(session_id)
        """,
        """
        CREATE TABLE events (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            seq        INTEGER NOT NULL,
            type       TEXT NOT NULL,
            t          REAL,
            url        TEXT,
            data       TEXT NOT NULL
        )
        """,
        """
        CREATE INDEX events_session ON events(session_id)
        """,
    ),
    (  # v1 → v2
        """
        CREATE TABLE checks (
            id        INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id    INTEGER NOT NULL REFERENCES runs(id),
            stage     TEXT NOT NULL,              -- preflight | 10% | 50% | ...
            name      TEXT NOT NULL,              -- e.g. technical.js_errors, primary.conversion
            level     TEXT NOT NULL,              -- error | warn
            status    TEXT NOT NULL,              -- pass | fail | skip
            expected  TEXT NOT NULL,
            found     TEXT NOT NULL,
            data      TEXT NOT NULL               -- JSON: page, device, persona, numbers
        )
        """,
        """
        CREATE INDEX checks_run ON checks(run_id)
        """,
    ),
    (  # v2 → v3
        """
        CREATE TABLE decisions (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id          INTEGER NOT NULL REFERENCES runs(id),
            event_id        TEXT NOT NULL,
            policy          TEXT NOT NULL,
            context         TEXT NOT NULL,        -- JSON: observable context only
            context_vec     TEXT NOT NULL,        -- JSON: the encoded state
            actions_offered TEXT NOT NULL,        -- JSON: action ids the mask allowed
            action          INTEGER NOT NULL,
            probability     REAL NOT NULL,        -- of the chosen action under the acting policy (propensity)
            reward          REAL,
            reward_parts    TEXT NOT NULL          -- JSON: result, user, business, total
        )
        """,
        """
        CREATE INDEX decisions_run ON decisions(run_id)
        """,
        """
        CREATE TABLE alerts (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id     INTEGER NOT NULL REFERENCES runs(id),
            kind       TEXT NOT NULL,
            message    TEXT NOT NULL,
            value      REAL,
            threshold  REAL,
            at_session INTEGER,
            created_at TEXT NOT NULL
        )
        """,
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


def tables_at(version: int) -> set[str]:
    """The tables a uiab database of schema ``version`` has: how a uiab database is told from a foreign one."""
    return {name for step in MIGRATIONS[:version] for statement in step
            for name in re.findall(r"CREATE TABLE (\w+)", statement)}
