"""Sticky arm assignment: a pure function of (salt, user key) and the arm weights.

The key hashes to a point in [0, 1); arms own consecutive intervals in config
order (cumulative weights). Moving weight between two adjacent arms therefore
moves only the listeners at their shared boundary, and only between those two:
with [control, canary], raising the canary moves listeners from control into
canary and nobody the other way.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from dataclasses import dataclass
from typing import Sequence

_SCALE = float(2**64)


def unit_hash(salt: str, key: str) -> float:
    """Uniform in [0, 1), stable across processes and Python versions (not hash())."""
    digest = hashlib.sha256(f"{salt}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


@dataclass(frozen=True)
class Assigner:
    """Precomputed cumulative bounds for one experiment's weights."""

    salt: str
    names: tuple[str, ...]
    bounds: tuple[float, ...]  # upper bound of each arm's interval, last == 1.0

    @classmethod
    def from_weights(cls, salt: str, weights: Sequence[tuple[str, float]]) -> "Assigner":
        if not weights:
            raise ValueError("an experiment needs at least one arm")
        total = math.fsum(w for _, w in weights)
        if total <= 0:
            raise ValueError("arm weights must sum to a positive number")
        acc, bounds = 0.0, []
        for _, w in weights:
            acc += w / total
            bounds.append(acc)
        bounds[-1] = 1.0  # float sums may end at 0.9999999; the last arm owns the rest
        return cls(salt, tuple(n for n, _ in weights), tuple(bounds))

    def arm_for_point(self, u: float) -> str:
        # bisect_right: a point equal to a bound belongs to the next arm, so a
        # zero-weight arm (empty interval) never receives anyone.
        return self.names[min(bisect.bisect_right(self.bounds, u), len(self.names) - 1)]

    def assign(self, key: str) -> str:
        return self.arm_for_point(unit_hash(self.salt, key))


def assign(salt: str, weights: Sequence[tuple[str, float]], key: str) -> str:
    return Assigner.from_weights(salt, weights).assign(key)
