"""Store settings (a leaf module: pydantic and serving.frozen only). AppConfig.store; the Helm values mirror it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from serving.frozen import Frozen


class PostgresConfig(Frozen):
    url: str = Field(
        default="postgresql://segue@127.0.0.1:5432/segue",
        description="libpq URL without the password (it comes from password_env, i.e. a Kubernetes Secret).",
    )
    password_env: str = Field(
        default="SEGUE_DB_PASSWORD", pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="Env var holding the database password, read once when the store connects; unset = none (trust/peer auth).",
    )
    connect_timeout_s: float = Field(default=5.0, gt=0)


class WriterConfig(Frozen):
    """Writes are gathered into one transaction per flush, off the request path."""

    flush_interval_ms: float = Field(default=20.0, ge=0, description="How long a write may wait for others to join its batch.")
    max_batch: int = Field(default=512, ge=1, description="Writes per transaction at most.")
    max_pending: int = Field(default=20_000, ge=1, description="Queued writes at most; past it new writes are dropped (counted).")
    retry_budget_s: float = Field(default=5.0, ge=0, description="How long a failing batch is retried before its writes are dropped (counted, logged).")


class RetentionConfig(Frozen):
    playlist_ttl_s: float = Field(default=24 * 3600, gt=0, description="A served playlist accepts feedback this long; then its rows are deleted.")
    max_playlists: int = Field(default=1_000_000, ge=1, description="Served-playlist rows kept at most (oldest deleted first).")
    max_experiments: int = Field(default=64, ge=1, description="Experiments whose aggregates are kept (least recently active deleted first).")
    sweep_interval_s: float = Field(default=60.0, gt=0, description="How often expired rows are deleted.")


class StoreConfig(Frozen):
    backend: Literal["sqlite", "postgres"] = Field(
        default="sqlite", description="sqlite: one file (the embedded default of scripts/run); postgres: clusters.",
    )
    sqlite_path: str = Field(
        default="~/.local/share/segue/segue.db",
        description="SQLite database file (WAL mode); ':memory:' keeps nothing across restarts (tests).",
    )
    postgres: PostgresConfig = Field(default_factory=PostgresConfig)
    writer: WriterConfig = Field(default_factory=WriterConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
