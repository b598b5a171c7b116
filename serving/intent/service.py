"""Deadline + fallback around an intent backend: a slow or dead LLM never fails a playlist."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from serving import telemetry
from serving.intent.backend import IntentBackend, IntentBackendUnavailable, IntentOutputError
from serving.intent.edits import EditResult, EditRules
from serving.intent.fallback import FastParser, Parsed
from serving.intent.model import Intent, IntentSource
from serving.retrieval.embedder import Embedder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntentResult:
    intent: Intent
    versions: dict[str, str]
    fallback_reason: str | None = None
    latency_ms: float = 0.0
    # The request's query embedding (of intent.query_text()), made once here and used by the
    # Retriever and the Ranker; `vector_embedder` is the version of the model that made it.
    query_vector: np.ndarray | None = None
    vector_embedder: str | None = None


def _same_text(a: str, b: str) -> bool:
    # The embedder's tokenizer is uncased and ignores runs of whitespace.
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


@dataclass
class IntentService:
    backend: IntentBackend | None  # None = the fast parser is the primary backend
    parser: FastParser
    deadline_s: float
    fallbacks: Counter = field(default_factory=Counter)
    edits: EditRules = field(default_factory=EditRules)

    async def parse(self, prompt: str, embedder: Embedder | None = None) -> IntentResult:
        return (await self.parse_batch([prompt], embedder))[0]

    async def parse_batch(self, prompts: list[str], embedder: Embedder | None = None) -> list[IntentResult]:
        """Intents and query vectors for a batch. `embedder` is the arm's retrieval embedder
        (default: the parser's); the zero-shot embedding is reused as the query vector when
        it embedded the same text with the same model, and the rest are embedded in one call."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        if self.backend is None:
            parsed: list[Parsed | None] = list(self.parser.parse_batch(prompts))
            done = [(p.intent, None) for p in parsed if p is not None]
        else:
            outs = await asyncio.gather(*(self._generate(p) for p in prompts))
            fb = [i for i, (intent, _) in enumerate(outs) if intent is None]
            fparsed = self.parser.parse_batch([prompts[i] for i in fb]) if fb else []
            parsed = [None] * len(prompts)
            done = list(outs)
            for i, p in zip(fb, fparsed):
                reason, source = outs[i][1]
                with telemetry.span("segue.intent.fallback", fallback_reason=reason, intent_backend=self.backend.name):
                    done[i] = (p.intent.model_copy(update={"source": source}), reason)
                parsed[i] = p
        vecs, version = self._query_vectors([d[0] for d in done], parsed, embedder)
        ms = (loop.time() - t0) * 1000
        v = self._versions()
        return [IntentResult(intent, v, reason, ms, q, version) for (intent, reason), q in zip(done, vecs)]

    async def _generate(self, prompt: str):
        """(intent, None) from the backend, or (None, (reason, source)) when the parser must answer."""
        assert self.backend is not None
        try:
            intent = await asyncio.wait_for(self.backend.generate(prompt), timeout=self.deadline_s)
            return intent.model_copy(update={"source": IntentSource.llm}), None
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
        return None, (reason, source)

    def _query_vectors(self, intents: list[Intent], parsed: list[Parsed | None],
                       embedder: Embedder | None) -> tuple[list[np.ndarray | None], str | None]:
        emb = embedder or self.parser.embedder
        if emb is None:
            return [None] * len(intents), None
        same_model = emb is self.parser.embedder
        out: list[np.ndarray | None] = [None] * len(intents)
        todo = []
        for i, (intent, p) in enumerate(zip(intents, parsed)):
            if (same_model and p is not None and p.zs_vector is not None and p.zs_text is not None
                    and _same_text(intent.query_text(), p.zs_text)):
                out[i] = p.zs_vector
            else:
                todo.append(i)
        if todo:
            for i, vec in zip(todo, emb.encode([intents[i].query_text() for i in todo])):
                out[i] = vec
        return out, emb.version

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
