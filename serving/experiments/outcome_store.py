"""Experiment evidence in the store: every write is an op `(tx) -> result` run inside a
transaction (batched by serving.store.writer), and every aggregate a summary needs is
kept up to date by the same transaction in SQL, so reading a summary touches a few rows
per arm however many playlists were served.

Writes are idempotent where a caller may retry them: a served playlist is keyed by its
id and feedback by (playlist, track, event), and aggregates move only when the row is new.
Times are wall-clock unix seconds (they are persisted and shared between processes).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Callable

from serving.experiments.outcomes import (
    EVENTS, POSITIVE, ArmStats, Failed, FeedbackAccepted, FeedbackRejected, FeedbackResult, Rejection, Served,
    ShadowStats, latency_bucket, summarize,
)
from serving.store.base import Database, Tx
from serving.store.config import RetentionConfig

_ARM_COLUMNS = ("assigned", "served", "errors", "expected", "converted", "fallbacks", "tracks_served",
                "like_yy", "like_mm", "like_ym")


def _bump_arm(tx: Tx, experiment_id: str, arm: str, **deltas: float) -> None:
    cols = [c for c in _ARM_COLUMNS if deltas.get(c)]
    sets = ", ".join(f"{c} = arm_stats.{c} + excluded.{c}" for c in cols)
    tx.execute(
        f"INSERT INTO arm_stats (experiment_id, arm{''.join(', ' + c for c in cols)}) "
        f"VALUES (?, ?{', ?' * len(cols)}) ON CONFLICT (experiment_id, arm) "
        + (f"DO UPDATE SET {sets}" if cols else "DO NOTHING"),
        (experiment_id, arm, *[deltas[c] for c in cols]),
    )


def _bump(tx: Tx, table: str, key_cols: tuple[str, ...], key: tuple, n: int = 1) -> None:
    tx.execute(
        f"INSERT INTO {table} ({', '.join(key_cols)}, n) VALUES ({', '.join('?' * len(key_cols))}, ?) "
        f"ON CONFLICT ({', '.join(key_cols)}) DO UPDATE SET n = {table}.n + excluded.n",
        (*key, n),
    )


class OutcomeStore:
    def __init__(self, db: Database | None = None, retention: RetentionConfig | None = None,
                 clock: Callable[[], float] = time.time):
        if db is None:  # one process, nothing to keep: an in-memory SQLite with the same schema
            from serving.store.migrations import migrate
            from serving.store.sqlite import SqliteDatabase

            db = SqliteDatabase(":memory:")
            migrate(db)
        self.db = db
        self.retention = retention or RetentionConfig()
        self._clock = clock

    # -- ops (run inside a transaction, usually batched) ---------------------------------------
    def served_op(self, rec: Served) -> Callable[[Tx], bool]:
        def op(tx: Tx) -> bool:
            now = self._clock()
            new = tx.execute(
                "INSERT INTO served_playlists (playlist_id, experiment_id, arm, track_ids, n_tracks, user_key,"
                " served_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (playlist_id) DO NOTHING",
                (rec.playlist_id, rec.experiment_id, rec.arm, json.dumps(list(rec.track_ids)), len(rec.track_ids),
                 rec.user_key, now, now + self.retention.playlist_ttl_s),
            )
            if new and rec.experiment_id is not None and self._assign(tx, rec.experiment_id, rec.arm, rec.weights, now):
                n = len(rec.track_ids)
                _bump_arm(tx, rec.experiment_id, rec.arm, served=1, tracks_served=n, like_mm=n * n,
                          fallbacks=int(bool(rec.intent_fallback)))
                _bump(tx, "arm_latency", ("experiment_id", "arm", "bucket"),
                      (rec.experiment_id, rec.arm, latency_bucket(rec.latency_ms)))
            return bool(new)
        return op

    def failed_op(self, rec: Failed) -> Callable[[Tx], None]:
        def op(tx: Tx) -> None:
            if rec.experiment_id is not None and self._assign(tx, rec.experiment_id, rec.arm, rec.weights, self._clock()):
                _bump_arm(tx, rec.experiment_id, rec.arm, errors=1)
                _bump(tx, "arm_latency", ("experiment_id", "arm", "bucket"),
                      (rec.experiment_id, rec.arm, latency_bucket(rec.latency_ms)))
        return op

    def shadow_op(self, experiment_id: str, ok: bool, overlap: float, latency_ms: float,
                  dropped: bool = False) -> Callable[[Tx], None]:
        if dropped:
            vals = (0, 0, 1, 0.0, 0.0)
        else:
            vals = (1, 0, 0, overlap, latency_ms) if ok else (1, 1, 0, 0.0, 0.0)

        def op(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO shadow_stats (experiment_id, runs, errors, dropped, overlap_sum, latency_sum_ms)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (experiment_id) DO UPDATE SET"
                " runs = shadow_stats.runs + excluded.runs, errors = shadow_stats.errors + excluded.errors,"
                " dropped = shadow_stats.dropped + excluded.dropped,"
                " overlap_sum = shadow_stats.overlap_sum + excluded.overlap_sum,"
                " latency_sum_ms = shadow_stats.latency_sum_ms + excluded.latency_sum_ms",
                (experiment_id, *vals),
            )
        return op

    def feedback_op(self, playlist_id: str, track_id: str, event: str) -> Callable[[Tx], FeedbackResult]:
        def op(tx: Tx) -> FeedbackResult:
            return self._feedback(tx, playlist_id, track_id, event)
        return op

    def sweep_op(self) -> Callable[[Tx], dict[str, int]]:
        """Bounded retention: expired playlists (and their events), playlists past the row cap,
        and the aggregates of experiments past the experiment cap."""
        r = self.retention

        def op(tx: Tx) -> dict[str, int]:
            now = self._clock()
            out = {"playlists": tx.execute("DELETE FROM served_playlists WHERE expires_at <= ?", (now,)),
                   "events": tx.execute("DELETE FROM feedback_events WHERE expires_at <= ?", (now,))}
            cut = tx.fetchone("SELECT expires_at FROM served_playlists ORDER BY expires_at DESC LIMIT 1 OFFSET ?",
                              (r.max_playlists,))
            if cut is not None:
                out["playlists"] += tx.execute("DELETE FROM served_playlists WHERE expires_at <= ?", (cut[0],))
                out["events"] += tx.execute("DELETE FROM feedback_events WHERE expires_at <= ?", (cut[0],))
            old = [row[0] for row in tx.fetchall(
                "SELECT experiment_id FROM experiments ORDER BY last_seen DESC LIMIT -1 OFFSET ?"
                if self.db.dialect == "sqlite" else
                "SELECT experiment_id FROM experiments ORDER BY last_seen DESC OFFSET ?", (r.max_experiments,))]
            for exp in old:
                for table in ("arm_stats", "arm_events", "arm_latency", "shadow_stats", "experiments"):
                    tx.execute(f"DELETE FROM {table} WHERE experiment_id = ?", (exp,))
            out["experiments"] = len(old)
            return out
        return op

    def _assign(self, tx: Tx, experiment_id: str, arm: str, weights: dict[str, float] | None, now: float) -> bool:
        """Count an assignment; False for QA overrides (served, but kept out of the comparison)."""
        tx.execute(
            "INSERT INTO experiments (experiment_id, first_seen, last_seen, weights) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (experiment_id) DO UPDATE SET last_seen = excluded.last_seen,"
            " weights = coalesce(excluded.weights, experiments.weights)",
            (experiment_id, now, now, json.dumps(weights, sort_keys=True) if weights is not None else None),
        )
        if weights is None:
            _bump_arm(tx, experiment_id, arm)  # the arm shows up, with nothing counted
            return False
        for name, w in weights.items():
            _bump_arm(tx, experiment_id, name, expected=w)
        _bump_arm(tx, experiment_id, arm, assigned=1)
        return True

    def _feedback(self, tx: Tx, playlist_id: str, track_id: str, event: str) -> FeedbackResult:
        if event not in EVENTS:
            return FeedbackRejected(Rejection.INVALID_EVENT, f"event must be one of {', '.join(EVENTS)}, got '{event}'")
        row = tx.fetchone(
            "SELECT experiment_id, arm, track_ids, n_tracks, likes, converted, expires_at FROM served_playlists"
            " WHERE playlist_id = ?" + self.db.for_update, (playlist_id,))
        now = self._clock()
        if row is None or row[6] <= now:
            return FeedbackRejected(Rejection.UNKNOWN_PLAYLIST, (
                f"playlist '{playlist_id}' was not served here or has expired "
                f"(kept {self.retention.playlist_ttl_s:.0f}s); send feedback for a playlist_id returned by "
                "POST /v1/playlists"))
        experiment_id, arm, track_ids, n_tracks, likes, converted, expires_at = row
        if track_id not in json.loads(track_ids):
            return FeedbackRejected(Rejection.TRACK_NOT_IN_PLAYLIST,
                                    f"track '{track_id}' is not in playlist '{playlist_id}'; use a track_id it returned")
        new = tx.execute(
            "INSERT INTO feedback_events (playlist_id, track_id, event, received_at, expires_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (playlist_id, track_id, event) DO NOTHING",
            (playlist_id, sys.intern(track_id), event, now, expires_at))
        if new and experiment_id is not None and tx.fetchone(
                "SELECT 1 FROM experiments WHERE experiment_id = ?", (experiment_id,)):
            _bump(tx, "arm_events", ("experiment_id", "arm", "event"), (experiment_id, arm, event))
            deltas: dict[str, float] = {}
            if event == "like":
                deltas.update(like_yy=2 * likes + 1, like_ym=n_tracks)  # (c+1)^2 - c^2
                tx.execute("UPDATE served_playlists SET likes = likes + 1 WHERE playlist_id = ?", (playlist_id,))
            if event in POSITIVE and not converted:
                deltas["converted"] = 1
                tx.execute("UPDATE served_playlists SET converted = 1 WHERE playlist_id = ?", (playlist_id,))
            if deltas:
                _bump_arm(tx, experiment_id, arm, **deltas)
        return FeedbackAccepted(playlist_id, arm, experiment_id, counted=bool(new))

    # -- one-shot writes (each its own transaction; tests and tools) -----------------------------
    def _run(self, op):
        with self.db.transaction() as tx:
            return op(tx)

    def record_served(self, rec: Served) -> bool:
        return self._run(self.served_op(rec))

    def record_failed(self, rec: Failed) -> None:
        self._run(self.failed_op(rec))

    def record_shadow(self, experiment_id: str, ok: bool, overlap: float, latency_ms: float, dropped: bool = False) -> None:
        self._run(self.shadow_op(experiment_id, ok, overlap, latency_ms, dropped))

    def feedback(self, playlist_id: str, track_id: str, event: str) -> FeedbackResult:
        return self._run(self.feedback_op(playlist_id, track_id, event))

    def sweep(self) -> dict[str, int]:
        return self._run(self.sweep_op())

    # -- reads -------------------------------------------------------------------------------
    def knows(self, playlist_id: str) -> bool:
        with self.db.transaction() as tx:
            row = tx.fetchone("SELECT expires_at FROM served_playlists WHERE playlist_id = ?", (playlist_id,))
        return row is not None and row[0] > self._clock()

    def experiment_ids(self) -> list[str]:
        with self.db.transaction() as tx:
            return [r[0] for r in tx.fetchall("SELECT experiment_id FROM experiments ORDER BY first_seen")]

    def arm_stats(self, experiment_id: str) -> tuple[dict[str, ArmStats], dict | None, ShadowStats | None, int] | None:
        """The aggregates of one experiment: a few rows per arm, read in one transaction."""
        with self.db.transaction() as tx:
            exp = tx.fetchone("SELECT weights FROM experiments WHERE experiment_id = ?", (experiment_id,))
            if exp is None:
                return None
            arms: dict[str, ArmStats] = {}
            for row in tx.fetchall(f"SELECT arm, {', '.join(_ARM_COLUMNS)} FROM arm_stats WHERE experiment_id = ?",
                                   (experiment_id,)):
                arms[row[0]] = ArmStats(**dict(zip(_ARM_COLUMNS, row[1:])))
            for arm, event, n in tx.fetchall("SELECT arm, event, n FROM arm_events WHERE experiment_id = ?",
                                             (experiment_id,)):
                arms.setdefault(arm, ArmStats()).events[event] += n
            for arm, bucket, n in tx.fetchall("SELECT arm, bucket, n FROM arm_latency WHERE experiment_id = ?",
                                              (experiment_id,)):
                arms.setdefault(arm, ArmStats()).latency[bucket] += n
            sh = tx.fetchone("SELECT runs, errors, dropped, overlap_sum, latency_sum_ms FROM shadow_stats"
                             " WHERE experiment_id = ?", (experiment_id,))
            kept = tx.fetchone("SELECT count(*) FROM served_playlists WHERE experiment_id = ?", (experiment_id,))[0]
        shadow = ShadowStats(*sh) if sh is not None else None
        return arms, (json.loads(exp[0]) if exp[0] else None), shadow, kept

    def summary(self, experiment_id: str, control: str | None = None, **kw) -> dict | None:
        got = self.arm_stats(experiment_id)
        if got is None:
            return None
        arms, weights, shadow, kept = got
        return summarize(experiment_id, arms, weights, shadow, kept, control, **kw)
