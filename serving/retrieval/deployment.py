"""The Retriever deployment: a thin adapter over the loaded index.

The constructor returns only once the index is loaded (or failed to): Serve routes to a
replica only after its constructor returns, so a replica started by a scale-up or to
replace a killed one never takes traffic it would answer "index loading". The load runs
in a thread so that a failure is kept and reported by ready() and every search (503 with
the reason) instead of a crash loop; start_local_graph builds the index before Ray, so a
replica normally only reads the cache.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from contextlib import ExitStack

import numpy as np

from serving import telemetry
from serving.arm_plan import ArmPlan
from serving.catalog.loader import load_catalog
from serving.config import AppConfig
from serving.errors import NotReady
from serving.experiments.components import all_arm_components, arm_app_config, retrieval_variant
from serving.experiments.config import ArmComponents
from serving.intent.model import Intent
from serving.metrics import BatchStats
from serving.retrieval.embedder import make_embedder
from serving.retrieval.index import load_or_build
from serving.retrieval.retriever import Retriever
from serving.schemas import Feedback, RequestContext
from serving.stages import RetrievalResult, StageItem

log = logging.getLogger(__name__)


def build_retriever(config: AppConfig, embedder=None, progress=None) -> Retriever:
    catalog = load_catalog(config.catalog.path)
    embedder = embedder or make_embedder(config.retrieval.embedder)
    index = load_or_build(catalog, embedder, config.retrieval.index_kind, config.retrieval.cache_dir, progress)
    log.info("index %s %s in %.1fs (%d tracks)", index.version, "built" if index.built else "loaded",
             index.seconds, len(catalog))
    lexical = None
    if config.retrieval.hybrid.enabled:
        from serving.retrieval.lexical import LexicalIndex

        lexical = LexicalIndex(catalog)
    from serving.catalog.enrichment.store import load_or_build as load_enrichment

    enrichment = load_enrichment(config, catalog, embedder.version, index.vectors)
    return Retriever(catalog, embedder, index, lexical=lexical, hybrid=config.retrieval.hybrid, enrichment=enrichment)


class RetrieverDeployment:
    def __init__(self, config: AppConfig):
        self._config = config
        self._retriever: Retriever | None = None
        self._variants: dict[str, Retriever] = {}  # by embedder|index kind: what the arms need, loaded once
        self._plan: ArmPlan[Retriever] | None = None
        self._error: str | None = None
        self._loaded = threading.Event()
        self._started = time.monotonic()
        self._batches = BatchStats()
        threading.Thread(target=self._load, name="index-loader", daemon=True).start()
        if not self._loaded.wait(config.retrieval.load_timeout_s):
            log.error("index still loading after %.0fs; this replica answers 503 until it is loaded",
                      config.retrieval.load_timeout_s)

    def _load(self) -> None:
        try:
            retriever = build_retriever(self._config)
            self._variants[retrieval_variant(self._config)] = retriever
            for comps in all_arm_components(self._config):
                cfg = arm_app_config(self._config, comps)
                if retrieval_variant(cfg) not in self._variants:
                    same_model = cfg.retrieval.embedder == self._config.retrieval.embedder
                    self._variants[retrieval_variant(cfg)] = build_retriever(
                        cfg, embedder=retriever.embedder if same_model else None)
            self._plan = ArmPlan(self._resolve, all_arm_components(self._config))
            self._retriever = retriever
        except Exception as e:  # reported by ready() and every search, never swallowed
            log.exception("index load failed")
            self._error = f"{type(e).__name__}: {e}"
        finally:
            self._loaded.set()

    def _resolve(self, comps: ArmComponents | None) -> Retriever:
        retriever = self._variants.get(retrieval_variant(arm_app_config(self._config, comps)))
        if retriever is None:
            raise NotReady(f"the arm with components '{comps.key if comps else ''}' asks for an embedder/index this "
                           "replica did not load; redeploy with the arm in the app's experiment config", retry_after_s=30)
        return retriever

    def ready(self) -> tuple[bool, str]:
        if self._error:
            return False, f"index failed to load: {self._error}"
        if self._retriever is None:
            return False, f"index loading ({time.monotonic() - self._started:.0f}s so far)"
        return True, f"index {self._retriever.index.version} ready ({len(self._retriever.catalog)} tracks)"

    async def loaded_plan(self) -> ArmPlan[Retriever]:
        """The arm plan once the indexes are loaded; NotReady (503 + Retry-After) until then."""
        if self._retriever is None and self._error is None:
            done = await asyncio.to_thread(self._loaded.wait, 0.0)
            if not done:
                ok, why = self.ready()
                raise NotReady(f"retriever not ready: {why}; retry shortly", retry_after_s=5)
        if self._retriever is None or self._plan is None:
            raise NotReady(f"retriever unavailable: {self._error}", retry_after_s=30)
        return self._plan

    async def artist_names(self) -> list[str]:
        await self.loaded_plan()
        return self._retriever.artist_names()

    def batch_stats(self) -> dict[str, int]:
        return self._batches.snapshot()

    async def unknown_tracks(self, track_ids: list[str]) -> list[str]:
        retriever = (await self.loaded_plan()).for_arm("")
        return [t for t in track_ids if not retriever.has_track(t)]

    async def search_feedback(self, intent: Intent, k: int, ctx: RequestContext, feedback: Feedback):
        """A session turn's candidates (Candidate objects with liked/disliked similarity), its
        query vector, versions and the feedback tracks' vectors: (candidates, q, versions,
        FeedbackVectors) for Ranker.rank_feedback."""
        with telemetry.stage("retrieval", ctx, k=k, feedback=True) as scope:
            retriever = (await self.loaded_plan()).for_arm(ctx.arm_key)
            q = retriever.embed_query(intent)
            candidates = retriever.search_feedback(intent, k, feedback, q)
            scope.versions(retriever.versions)
            scope.candidates(len(candidates))
        return candidates, q, retriever.versions, retriever.feedback_vectors(feedback)

    async def search(self, intent: Intent, k: int, ctx: RequestContext) -> RetrievalResult:
        return (await self.search_batch([StageItem(intent, k, k, "search", ctx)]))[0]

    async def search_batch(self, items: list[StageItem]) -> list[RetrievalResult]:
        """One arm's batch: one FAISS search and one BM25 call over all its query vectors."""
        self._batches.record("retrieval", len(items))
        with ExitStack() as stack:
            scopes = [stack.enter_context(telemetry.stage("retrieval", it.ctx, k=it.k, batch=len(items)))
                      for it in items]
            retriever = (await self.loaded_plan()).for_arm(items[0].ctx.arm_key if items else "")
            version = retriever.embedder.version
            vecs = [it.query_vector for it in items]
            if any(v is None for v in vecs) or any(it.vector_embedder != version for it in items):
                # Only callers without the IntentModel's vectors get here (or a misconfigured arm):
                # embedding here is correct but costs a second encode, so say so.
                log.warning("retriever embeds %d queries itself: vectors missing or from another embedder",
                            len(items))
                Q = None
            else:
                Q = np.stack(vecs)
            sets = retriever.search_batch([it.intent for it in items], Q, [it.k for it in items])
            for scope, cs in zip(scopes, sets):
                scope.versions(retriever.versions)
                scope.candidates(len(cs))
        return [RetrievalResult(cs, retriever.versions) for cs in sets]
