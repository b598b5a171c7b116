"""Numbered SQL migrations, applied in order at start-up, each exactly once.

Files live in serving/store/sql/: `NNN_name.sql` for both engines, or a pair
`NNN_name.sqlite.sql` / `NNN_name.postgres.sql` where the SQL must differ. A feature adds
its tables by adding the next number; applied files are never edited (a checksum is
recorded and a changed file is reported). Concurrent start-ups are safe: PostgreSQL
takes an advisory lock, SQLite's BEGIN IMMEDIATE holds the file's write lock.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from importlib import resources

from serving.store.base import Database

log = logging.getLogger(__name__)

_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+?)(?:\.(sqlite|postgres))?\.sql$")
_LOCK_KEY = 0x5E6E_0001  # pg_advisory_xact_lock key for migrations ("SeGuE" 1)


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


def discover(dialect: str, package: str = "serving.store.sql") -> list[Migration]:
    """The migrations for one engine, in version order; a version may appear once per engine."""
    found: dict[int, Migration] = {}
    for f in resources.files(package).iterdir():
        m = _FILE.match(f.name)
        if not m:
            continue
        version, name, only = int(m.group(1)), m.group(2), m.group(3)
        if only is not None and only != dialect:
            continue
        if version in found:
            raise MigrationError(f"two migrations numbered {version:03d} for {dialect}: "
                                 f"{found[version].name} and {name}; give the newer one the next number")
        found[version] = Migration(version, name, f.read_text())
    return [found[v] for v in sorted(found)]


def migrate(db: Database, migrations: list[Migration] | None = None) -> list[int]:
    """Apply what is pending in one transaction per migration; returns the versions applied."""
    migrations = discover(db.dialect) if migrations is None else migrations
    applied_now: list[int] = []
    with db.transaction() as tx:
        if db.dialect == "postgres":
            tx.execute(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
        tx.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                   " checksum TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
    for mig in migrations:
        with db.transaction() as tx:
            if db.dialect == "postgres":
                tx.execute(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
            row = tx.fetchone("SELECT checksum FROM schema_migrations WHERE version = ?", (mig.version,))
            if row is not None:
                if row[0] != mig.checksum:
                    log.warning("migration %03d_%s changed after it was applied (checksum %s, now %s); "
                                "add a new migration instead of editing an applied one", mig.version, mig.name,
                                row[0], mig.checksum)
                continue
            db.execute_script(tx, mig.sql)
            tx.execute("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                       (mig.version, mig.name, mig.checksum, time.time()))
            applied_now.append(mig.version)
    newest = max((m.version for m in migrations), default=0)
    with db.transaction() as tx:
        ahead = tx.fetchone("SELECT max(version) FROM schema_migrations")[0] or 0
    if ahead > newest:
        # A rollback to an older image: migrations are additive, so the old code still works.
        log.warning("store %s has schema version %d, newer than this build's %d", db.describe(), ahead, newest)
    if applied_now:
        log.info("store %s: applied migrations %s", db.describe(), applied_now)
    return applied_now


def schema_version(db: Database) -> int:
    with db.transaction() as tx:
        return tx.fetchone("SELECT coalesce(max(version), 0) FROM schema_migrations")[0]
