"""SQLite backend: one file in WAL mode (readers never block the writer), the embedded default."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from serving.store.base import Database, Params, StoreUnavailableError, Tx


class _SqliteTx(Tx):
    def __init__(self, conn: sqlite3.Connection):
        self._c = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._c.execute(sql, tuple(params)).rowcount

    def executemany(self, sql, rows) -> None:
        self._c.executemany(sql, [tuple(r) for r in rows])

    def fetchone(self, sql, params=()):
        return self._c.execute(sql, tuple(params)).fetchone()

    def fetchall(self, sql, params=()):
        return self._c.execute(sql, tuple(params)).fetchall()


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, path: str, busy_timeout_s: float = 10.0):
        self.path = path if path == ":memory:" else str(Path(path).expanduser())
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are opened explicitly (BEGIN IMMEDIATE) so a
        # read-then-write never has to upgrade its lock (no SQLITE_BUSY deadlocks).
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                     timeout=busy_timeout_s)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process (only power loss can undo the last commits).
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:  # locked past busy_timeout, disk gone, read-only
                raise StoreUnavailableError(f"sqlite {self.path}: {e}") from e
            try:
                yield _SqliteTx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.OperationalError as e:
                self._conn.execute("ROLLBACK")
                raise StoreUnavailableError(f"sqlite {self.path}: commit failed: {e}") from e

    def execute_script(self, tx: Tx, script: str) -> None:
        # sqlite3.executescript() would COMMIT first; run statement by statement instead.
        for stmt in split_statements(script):
            tx.execute(stmt)

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def split_statements(script: str) -> list[str]:
    """Statements of a migration file: `;` at the end of a line ends one; `--` comments dropped."""
    out, cur = [], []
    for line in script.splitlines():
        stripped = line.split("--", 1)[0].rstrip()
        if not stripped.strip():
            continue
        cur.append(stripped)
        if stripped.endswith(";"):
            out.append("\n".join(cur).rstrip(";").strip())
            cur = []
    if cur and "\n".join(cur).strip():
        out.append("\n".join(cur).strip())
    return out
