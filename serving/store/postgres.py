"""PostgreSQL backend (psycopg 3): the store for clusters. The URL comes from the config,
the password from an env var (a Kubernetes Secret), read once at connect time."""

from __future__ import annotations

import logging
import os
import re
import threading
from contextlib import contextmanager
from typing import Iterator

from serving.store.base import Database, Params, StoreUnavailableError, Tx
from serving.store.config import PostgresConfig

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\?")


def to_pyformat(sql: str) -> str:
    """`?` -> `%s` (our SQL has no `?` or `%` inside literals)."""
    return _PLACEHOLDER.sub("%s", sql)


class _PgTx(Tx):
    def __init__(self, cur):
        self._cur = cur

    def execute(self, sql, params=()) -> int:
        self._cur.execute(to_pyformat(sql), tuple(params))
        return self._cur.rowcount

    def executemany(self, sql, rows) -> None:
        self._cur.executemany(to_pyformat(sql), [tuple(r) for r in rows])

    def fetchone(self, sql, params=()):
        self._cur.execute(to_pyformat(sql), tuple(params))
        return self._cur.fetchone()

    def fetchall(self, sql, params=()):
        self._cur.execute(to_pyformat(sql), tuple(params))
        return self._cur.fetchall()


class PostgresDatabase(Database):
    dialect = "postgres"

    def __init__(self, config: PostgresConfig, password: str | None = None):
        import psycopg  # the `serve` extra; imported here so SQLite users never need it

        self._psycopg = psycopg
        self._config = config
        self._password = password if password is not None else os.environ.get(config.password_env)
        self._conn = None
        self._lock = threading.Lock()
        self._connect()  # fail fast at start-up with a clear message

    def _connect(self):
        kwargs = {"connect_timeout": max(1, int(self._config.connect_timeout_s)), "autocommit": False}
        if self._password:
            kwargs["password"] = self._password
        try:
            self._conn = self._psycopg.connect(self._config.url, **kwargs)
        except self._psycopg.OperationalError as e:
            self._conn = None
            raise StoreUnavailableError(f"postgres {self.describe()}: cannot connect: {str(e).strip()}") from e
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        pg = self._psycopg
        with self._lock:
            conn = self._conn if self._conn is not None and not self._conn.closed else self._connect()
            try:
                with conn.cursor() as cur:
                    yield _PgTx(cur)
                conn.commit()
            except (pg.OperationalError, pg.InterfaceError) as e:
                self._drop(conn)
                raise StoreUnavailableError(f"postgres {self.describe()}: {str(e).strip()}") from e
            except BaseException:
                try:
                    conn.rollback()
                except (pg.OperationalError, pg.InterfaceError):
                    self._drop(conn)
                raise

    def _drop(self, conn) -> None:
        try:
            conn.close()
        except Exception:  # already broken: nothing more to release
            log.debug("closing a broken postgres connection failed", exc_info=True)
        self._conn = None

    def execute_script(self, tx: Tx, script: str) -> None:
        # Without parameters psycopg sends the whole script as one simple query (functions with
        # `;` inside are fine); `%` needs no escaping then.
        tx._cur.execute(script)  # type: ignore[attr-defined]

    def describe(self) -> str:
        return re.sub(r"://([^:@/]+):[^@/]*@", r"://\1:***@", self._config.url)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._drop(self._conn)
