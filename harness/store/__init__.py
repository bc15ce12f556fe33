"""The store: one SQLite database (standard library, WAL) for runs, sessions, page views, events, checks,
decisions and alerts, one transaction per session, migrated forward only. It imports only ``agent.kernel``.
"""

from harness.store.database import PageViewRow, Store, StoredSession
from harness.store.migrations import MIGRATIONS, SCHEMA_VERSION

__all__ = ["Store", "StoredSession", "PageViewRow", "MIGRATIONS", "SCHEMA_VERSION"]
