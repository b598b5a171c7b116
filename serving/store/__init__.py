"""One real store for Segue's durable records (served playlists, feedback, experiment
aggregates, dialog sessions): a small Database interface with SQLite and PostgreSQL
backends, numbered SQL migrations run at start-up, and a batching writer that keeps
database round-trips off the request path.

    db = open_database(config.store)   # runs pending migrations
    with db.transaction() as tx:
        tx.execute("INSERT INTO t (a, b) VALUES (?, ?)", (1, "x"))
        row = tx.fetchone("SELECT b FROM t WHERE a = ?", (1,))

SQL is written once, with `?` placeholders and types both engines accept (TEXT, BIGINT,
DOUBLE PRECISION, INTEGER; `INSERT ... ON CONFLICT`); a migration that must differ per
engine ships as `NNN_name.sqlite.sql` + `NNN_name.postgres.sql`.
"""

from serving.store.base import Database, StoreUnavailableError, Tx
from serving.store.factory import open_database

__all__ = ["Database", "StoreUnavailableError", "Tx", "open_database"]
