"""The OutcomeStore deployment (exactly one replica): the served-playlist registry and
per-arm counts shared by every Ingress replica. A thin adapter over OutcomeStore.

One replica is a deliberate limit: it keeps feedback validation exact across Ingress
replicas; its state is in memory, so a restart of this replica forgets served
playlists and counts (the rollout controller then sees thin evidence and holds).
"""

from __future__ import annotations

import asyncio

from serving.playlist_ids import is_fresh
from serving.experiments.outcomes import Failed, OutcomeStore, Served, TrackNotInPlaylist, UnknownPlaylist

# A playlist's record is sent off the live path just before its response; feedback that
# overtakes it (another Ingress replica, a fast client) waits this long for it to land.
FEEDBACK_WAIT_S = 2.0


class OutcomeStoreDeployment:
    def __init__(self, max_playlists: int = 100_000, ttl_s: float = 24 * 3600):
        self._store = OutcomeStore(max_playlists=max_playlists, ttl_s=ttl_s)

    def record_served(self, rec: Served) -> None:
        self._store.record_served(rec)

    def record_failed(self, rec: Failed) -> None:
        self._store.record_failed(rec)

    def record_shadow(self, experiment_id: str, ok: bool, overlap: float, latency_ms: float, dropped: bool) -> None:
        self._store.record_shadow(experiment_id, ok, overlap, latency_ms, dropped)

    async def feedback(self, playlist_id: str, track_id: str, event: str) -> dict:
        return await feedback_with_wait(self._store, playlist_id, track_id, event, FEEDBACK_WAIT_S)

    def summary(self, experiment_id: str, control: str | None) -> dict | None:
        return self._store.summary(experiment_id, control)


async def feedback_with_wait(store: OutcomeStore, playlist_id: str, track_id: str, event: str, wait_s: float) -> dict:
    loop = asyncio.get_running_loop()
    # Only a playlist issued moments ago can still be in flight: anything else (stale,
    # made up, not ours) is answered at once, so unknown ids cannot hold requests open.
    deadline = loop.time() + (wait_s if is_fresh(playlist_id, within_s=wait_s + 3) else 0.0)
    while not store.knows(playlist_id) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    try:
        return {"status": "ok", **store.feedback(playlist_id, track_id, event)}
    except UnknownPlaylist as e:
        return {"status": "unknown_playlist", "message": str(e)}
    except TrackNotInPlaylist as e:
        return {"status": "track_not_in_playlist", "message": str(e)}
