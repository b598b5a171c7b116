"""Load shedding in the proxy: past the edge's in-flight bound, 503 + Retry-After before the
request enters Serve's own proxy machinery.

Measured (docs/performance.md section 7): past capacity, every request the Ingress rejects
still costs Serve's proxy its routing, an actor call and a streamed response, so at 4-12x
capacity the proxy's event loop saturated, answered playlists queued there for seconds and
some timed out, although the Ingress was rejecting the excess at once. Here the excess costs
only the HTTP parse and this check. The bound adapts like the Ingress's (serving/admission.py,
AIMD on the answer time the proxy sees, which includes the queueing in front of the Ingress);
the Ingress keeps its own bound as the second line. One bound per proxy process (one per node
with Serve's proxy; per Ingress replica under HAProxy's direct ingress)."""

from __future__ import annotations

from serving.admission import Admission, Ticket
from serving.edge.config import EdgeShedding
from serving.errors import Overloaded
from serving.metrics import default_metrics


class EdgeShed:
    def __init__(self, config: EdgeShedding):
        self.config = config
        self.admission = Admission(config, where="at this proxy")
        self._paths = frozenset(config.paths)

    def covers(self, scope) -> bool:
        """The routes the Ingress itself admits (playlists and search): the costly ones."""
        return self.config.enabled and scope.get("method") == "POST" and scope.get("path", "") in self._paths

    def enter(self, scope) -> Ticket:
        """Past the bound, Overloaded (503 + Retry-After), counted in ray_segue_edge_shed_total."""
        try:
            return self.admission.enter()
        except Overloaded:
            default_metrics().edge_shed("search" if scope.get("path", "").endswith("/search") else "playlist")
            raise

    def leave(self, ticket: Ticket, status: int | None) -> None:
        """Only answers say how fast the service is: a 503 from the Ingress's own bound, a
        client error or a dropped request must not raise the bound; a 504 is a slow answer."""
        self.admission.leave(ticket, counted=status is not None and (status < 400 or status == 504))
