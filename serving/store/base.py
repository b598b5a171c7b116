"""The Database interface every backend implements, and the error that means "down"."""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from typing import Any, Iterable, Sequence

Params = Sequence[Any]


class StoreUnavailableError(RuntimeError):
    """The database cannot be reached or stopped answering (refused, lost, timed out).
    Callers degrade: writes are retried, then dropped and counted; nothing user-facing fails."""


class Tx(abc.ABC):
    """One open transaction. SQL uses `?` placeholders on every backend."""

    @abc.abstractmethod
    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the number of rows it changed."""

    @abc.abstractmethod
    def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    @abc.abstractmethod
    def fetchone(self, sql: str, params: Params = ()) -> tuple | None: ...

    @abc.abstractmethod
    def fetchall(self, sql: str, params: Params = ()) -> list[tuple]: ...


class Database(abc.ABC):
    """A connection to one store. Thread-safe: transactions are serialised per instance."""

    dialect: str  # "sqlite" | "postgres": picks dialect-specific migrations and row-lock syntax

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Tx]:
        """Commit on success, roll back on any exception; connection failures surface as
        StoreUnavailableError (and the next transaction reconnects)."""

    @abc.abstractmethod
    def execute_script(self, tx: Tx, script: str) -> None:
        """Run a migration script (several statements) inside `tx`."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where this store is, for logs (never the password)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    @property
    def for_update(self) -> str:
        """Suffix that locks the selected rows until commit (SQLite locks the whole file anyway)."""
        return " FOR UPDATE" if self.dialect == "postgres" else ""
