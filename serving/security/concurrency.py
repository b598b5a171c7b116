"""Per-client in-flight limit with fair sharing under load (pure logic).

A rate limit alone lets one client keep the graph busy with a few long requests (seven
length-100 playlists at once slowed everyone else 4-8x). So each client may have at most
`max_in_flight` requests in flight, and once a request would bring the replica to
`share_above` in flight, each active client is held to an equal share of that: a client already over its
share gets 429 until its own requests finish, while a client with nothing in flight is
always let in. Per Ingress replica, like the rate limit; the global 503 past capacity is
the admission control's job.
"""

from __future__ import annotations


class ConcurrencyLimiter:
    def __init__(self, max_in_flight: int, share_above: int | None = None):
        if max_in_flight < 1 or (share_above is not None and share_above < 1):
            raise ValueError("max_in_flight and share_above must be >= 1")
        self.max = max_in_flight
        self.share_above = share_above
        self._in_flight: dict[str, int] = {}
        self._total = 0

    def share(self, client: str) -> int:
        """How many requests `client` may have in flight right now."""
        if self.share_above is None or self._total + 1 < self.share_above:
            return self.max  # this request would not fill the replica: no sharing needed
        active = len(self._in_flight) + (client not in self._in_flight)
        if active == 1:
            return self.max  # nobody to share with
        return max(1, min(self.max, self.share_above // active))

    def try_acquire(self, client: str) -> bool:
        n = self._in_flight.get(client, 0)
        if n >= self.share(client):
            return False
        self._in_flight[client] = n + 1
        self._total += 1
        return True

    def release(self, client: str) -> None:
        n = self._in_flight.get(client, 0)
        if n == 0:
            return
        self._total -= 1
        if n > 1:
            self._in_flight[client] = n - 1
        else:  # no entry for an idle client: memory follows what is in flight
            del self._in_flight[client]

    def in_flight(self, client: str) -> int:
        return self._in_flight.get(client, 0)
