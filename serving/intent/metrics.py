"""Prometheus counters of the IntentModel deployment (through Ray's metrics agent).

Labels carry the backend and prompt version, so a dashboard can tell which arm's
intents fell back and why. Outside a Ray worker the counters are plain Counters.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from serving.intent.service import IntentResult

_TAGS = ("backend", "prompt_version", "source")


@dataclass
class IntentMetrics:
    requests: Any = None  # ray.serve.metrics.Counter, or None outside Ray
    fallbacks: Any = None
    local: Counter = field(default_factory=Counter)

    @classmethod
    def create(cls) -> "IntentMetrics":
        try:
            import ray
            from ray.serve import metrics
        except ImportError:
            return cls()
        if not ray.is_initialized():
            return cls()
        return cls(
            requests=metrics.Counter(
                "segue_intent_requests", description="Intents served, by backend, prompt version and source.",
                tag_keys=_TAGS,
            ),
            # Not "segue_intent_fallbacks": serving/metrics.py registers that name, per arm, in this
            # same process, and Ray cannot hold one name with two tag sets.
            fallbacks=metrics.Counter(
                "segue_intent_fallbacks_by_prompt",
                description="Intents answered by the fast parser instead of the LLM, by reason and prompt version.",
                tag_keys=(*_TAGS, "reason"),
            ),
        )

    def record(self, result: IntentResult) -> None:
        tags = {
            "backend": result.versions.get("intent_backend", "fallback"),
            "prompt_version": result.versions.get("intent_prompt", "none"),
            "source": result.intent.source.value,
        }
        self.local[(tags["source"], result.fallback_reason)] += 1
        if self.requests is not None:
            self.requests.inc(tags=tags)
        if result.fallback_reason and self.fallbacks is not None:
            self.fallbacks.inc(tags={**tags, "reason": result.fallback_reason})
