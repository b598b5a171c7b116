"""Who a request comes from, for per-client limits (pure logic).

The socket peer is the client, unless the operator says the peer is a proxy of theirs:
`trust_forwarded_for` on AND the peer inside one of `trusted_proxies`. Then
X-Forwarded-For is read right to left, skipping further trusted proxies, and the first
address that is not one is the client. Anything a client writes to the left of that
is ignored, so rotating X-Forwarded-For values buys nothing.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _address(text: str):
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class ClientIdentity:
    def __init__(self, trust_forwarded_for: bool = False, trusted_proxies: Sequence[str] = ()):
        self._proxies = parse_networks(trusted_proxies) if trust_forwarded_for else ()

    def _trusted(self, addr) -> bool:
        return addr is not None and any(addr in net for net in self._proxies)

    def client(self, peer: str | None, forwarded_for: Sequence[str] = ()) -> str:
        """The client key: `peer` is the socket peer's host, `forwarded_for` every X-Forwarded-For value."""
        peer = peer or "unknown"
        if not self._proxies or not self._trusted(_address(peer)):
            return peer
        hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
        for hop in reversed(hops):
            addr = _address(hop)
            if addr is None:  # garbage where an address should be: stop trusting the chain here
                return peer
            if not self._trusted(addr):
                return str(addr)
        return peer
