"""Deadline + fallback around an intent backend: a slow or dead LLM never fails a playlist."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field

from serving import telemetry
from serving.intent.backend import IntentBackend, IntentBackendUnavailable, IntentOutputError
from serving.intent.edits import EditResult, EditRules
from serving.intent.fallback import FastParser
from serving.intent.model import Intent, IntentSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntentResult:
    intent: Intent
    versions: dict[str, str]
    fallback_reason: str | None = None
    latency_ms: float = 0.0


@dataclass
class IntentService:
    backend: IntentBackend | None  # None = the fast parser is the primary backend
    parser: FastParser
    deadline_s: float
    fallbacks: Counter = field(default_factory=Counter)
    edits: EditRules = field(default_factory=EditRules)

    async def parse(self, prompt: str) -> IntentResult:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        if self.backend is None:
            intent = self.parser.parse(prompt)
            return IntentResult(intent, self._versions(), None, (loop.time() - t0) * 1000)
        try:
            intent = await asyncio.wait_for(self.backend.generate(prompt), timeout=self.deadline_s)
            return IntentResult(
                intent.model_copy(update={"source": IntentSource.llm}), self._versions(), None,
                (loop.time() - t0) * 1000,
            )
        except asyncio.TimeoutError:
            reason, source = "timeout", IntentSource.fallback_timeout
        except IntentBackendUnavailable as e:
            reason, source = e.reason, IntentSource.fallback_error
            log.debug("intent backend %s unavailable: %s", self.backend.name, e)
        except IntentOutputError as e:
            reason, source = "invalid_output", IntentSource.fallback_invalid
            log.warning("intent backend %s produced invalid output: %s", self.backend.name, e)
        except Exception as e:  # any engine failure degrades to the parser, visibly
            reason, source = "engine_error", IntentSource.fallback_error
            log.warning("intent backend %s failed: %r", self.backend.name, e)
        self.fallbacks[reason] += 1
        with telemetry.span("segue.intent.fallback", fallback_reason=reason, intent_backend=self.backend.name):
            intent = self.parser.parse(prompt).model_copy(update={"source": source})
        return IntentResult(intent, self._versions(), reason, (loop.time() - t0) * 1000)

    async def update(self, previous: Intent, message: str) -> tuple[IntentResult, EditResult]:
        """A session turn: the previous intent refined by a new message. The LLM (when
        configured) rewrites the whole intent; the fast edit rules answer otherwise, and
        always supply the session directives (keep the first N, anchor tracks)."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        fast = self.edits.apply(previous, message, self.parser.parse(message))
        versions = {**self._versions(), "intent_edits": self.edits.version}
        if self.backend is None:
            return IntentResult(fast.intent, versions, None, (loop.time() - t0) * 1000), fast
        try:
            intent = await asyncio.wait_for(self.backend.update(previous, message), timeout=self.deadline_s)
            intent = intent.model_copy(update={"source": IntentSource.llm})
            return (IntentResult(intent, versions, None, (loop.time() - t0) * 1000),
                    EditResult(intent, fast.keep_first, fast.anchors, fast.ops))
        except asyncio.TimeoutError:
            reason, source = "timeout", IntentSource.fallback_timeout
        except IntentBackendUnavailable as e:
            reason, source = e.reason, IntentSource.fallback_error
        except IntentOutputError as e:
            reason, source = "invalid_output", IntentSource.fallback_invalid
            log.warning("intent backend %s produced an invalid update: %s", self.backend.name, e)
        except Exception as e:  # any engine failure degrades to the edit rules, visibly
            reason, source = "engine_error", IntentSource.fallback_error
            log.warning("intent backend %s failed on an update: %r", self.backend.name, e)
        self.fallbacks[reason] += 1
        intent = fast.intent.model_copy(update={"source": source})
        return (IntentResult(intent, versions, reason, (loop.time() - t0) * 1000),
                EditResult(intent, fast.keep_first, fast.anchors, fast.ops))

    def stats(self) -> dict:
        """Fallback counts by reason and the backend's readiness, for tests and admin views."""
        ready = self.backend.ready() if self.backend is not None else (True, "fast parser")
        return {"backend": self._versions()["intent_backend"], "ready": ready[0], "detail": ready[1],
                "fallbacks": dict(self.fallbacks)}

    def _versions(self) -> dict[str, str]:
        v = {"intent_parser": self.parser.version}
        if self.backend is not None:
            v.update(self.backend.versions)
        else:
            v["intent_backend"] = "fallback"
        return v
