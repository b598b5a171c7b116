"""The arm plan: each deployment resolves every configured arm once, at start-up, into its own
components (the IntentModel: an intent service with its prompt; the Retriever: an index and
embedder; the Ranker: a ranker object), keyed by the arm key the request carries
(`RequestContext.arm_key`, see ArmComponents.key). Per request, one dict look-up.

An arm that a live config adds later (the Ingress's `reconfigure()`) reaches a replica as a key
it has not seen: it is resolved once, from the key, and kept. The resolver refuses components the
replica did not load (NotReady), so such a key is never kept half-resolved.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterable, Sequence, TypeVar

from serving.experiments.config import ArmComponents, arm_key

C = TypeVar("C")


class ArmPlan(Generic[C]):
    def __init__(self, resolve: Callable[[ArmComponents | None], C], arms: Iterable[ArmComponents | None]):
        self._resolve = resolve
        by_key: dict[str, C] = {}
        for comps in arms:
            key = arm_key(comps)
            if key not in by_key:
                by_key[key] = resolve(comps)
        self._by_key = by_key

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._by_key)

    def for_arm(self, key: str) -> C:
        """The components of the arm with this key ("" = the app's defaults)."""
        try:
            return self._by_key[key]
        except KeyError:
            return self._add(key)

    def _add(self, key: str) -> C:
        resolved = self._resolve(ArmComponents.from_key(key))
        # Copy and swap: a reader never sees a dict being changed.
        self._by_key = {**self._by_key, key: resolved}
        return resolved

    @staticmethod
    def group(keys: Sequence[str]) -> dict[str, list[int]]:
        """Positions of a batch's requests by arm key, in first-seen order, so a batch method can
        call each arm's components once: {key: [i, ...]}."""
        out: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            out.setdefault(k, []).append(i)
        return out
