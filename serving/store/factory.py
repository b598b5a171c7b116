"""StoreConfig -> an open, migrated Database (the one place that picks the backend)."""

from __future__ import annotations

from serving.store.base import Database
from serving.store.config import StoreConfig
from serving.store.migrations import migrate


def open_database(config: StoreConfig, run_migrations: bool = True) -> Database:
    if config.backend == "postgres":
        from serving.store.postgres import PostgresDatabase

        db: Database = PostgresDatabase(config.postgres)
    else:
        from serving.store.sqlite import SqliteDatabase

        db = SqliteDatabase(config.sqlite_path)
    if run_migrations:
        migrate(db)
    return db
