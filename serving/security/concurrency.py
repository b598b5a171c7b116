"""Per-client concurrency limit (pure logic): at most N requests of one client in flight.

A rate limit alone lets one client keep the graph busy with a few long requests (seven
length-100 playlists at once slowed everyone else 4-8x); capping what a client has in
flight keeps the rest of the capacity for others. Per Ingress replica, like the rate limit.
"""

from __future__ import annotations


class ConcurrencyLimiter:
    def __init__(self, max_in_flight: int):
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        self.max = max_in_flight
        self._in_flight: dict[str, int] = {}

    def try_acquire(self, client: str) -> bool:
        n = self._in_flight.get(client, 0)
        if n >= self.max:
            return False
        self._in_flight[client] = n + 1
        return True

    def release(self, client: str) -> None:
        n = self._in_flight.get(client, 0) - 1
        if n > 0:
            self._in_flight[client] = n
        else:  # no entry for an idle client: memory follows what is in flight
            self._in_flight.pop(client, None)

    def in_flight(self, client: str) -> int:
        return self._in_flight.get(client, 0)
