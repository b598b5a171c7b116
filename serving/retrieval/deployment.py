"""The Retriever deployment: a thin adapter that loads the index in the background.

Loading in a thread lets the replica come up at once, so /readyz can say
"index loading" instead of the whole app looking dead during a first build.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from serving import telemetry
from serving.catalog.loader import load_catalog
from serving.config import AppConfig
from serving.errors import NotReady
from serving.experiments.components import all_arm_components, arm_app_config, components_from_ctx, retrieval_key
from serving.intent.model import Intent
from serving.retrieval.embedder import make_embedder
from serving.retrieval.index import load_or_build
from serving.retrieval.retriever import Retriever
from serving.schemas import RequestContext
from serving.stages import RetrievalResult

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
        self._by_key: dict[str, Retriever] = {}  # experiment arms' embedder/index versions
        self._error: str | None = None
        self._loaded = threading.Event()
        self._started = time.monotonic()
        threading.Thread(target=self._load, name="index-loader", daemon=True).start()

    def _load(self) -> None:
        try:
            retriever = build_retriever(self._config)
            self._by_key[retrieval_key(self._config)] = retriever
            for comps in all_arm_components(self._config):
                cfg = arm_app_config(self._config, comps)
                if retrieval_key(cfg) not in self._by_key:
                    same_model = cfg.retrieval.embedder == self._config.retrieval.embedder
                    self._by_key[retrieval_key(cfg)] = build_retriever(cfg, embedder=retriever.embedder if same_model else None)
            self._retriever = retriever
        except Exception as e:  # reported by ready() and every search, never swallowed
            log.exception("index load failed")
            self._error = f"{type(e).__name__}: {e}"
        finally:
            self._loaded.set()

    def ready(self) -> tuple[bool, str]:
        if self._error:
            return False, f"index failed to load: {self._error}"
        if self._retriever is None:
            return False, f"index loading ({time.monotonic() - self._started:.0f}s so far)"
        return True, f"index {self._retriever.index.version} ready ({len(self._retriever.catalog)} tracks)"

    async def _get(self) -> Retriever:
        if self._retriever is None and self._error is None:
            done = await asyncio.to_thread(self._loaded.wait, 0.0)
            if not done:
                ok, why = self.ready()
                raise NotReady(f"retriever not ready: {why}; retry shortly", retry_after_s=5)
        if self._retriever is None:
            raise NotReady(f"retriever unavailable: {self._error}", retry_after_s=30)
        return self._retriever

    async def artist_names(self) -> list[str]:
        return (await self._get()).artist_names()

    async def search(self, intent: Intent, k: int, ctx: RequestContext) -> RetrievalResult:
        with telemetry.stage("retrieval", ctx, k=k) as scope:
            retriever = await self._get()
            comps = components_from_ctx(ctx)
            if comps is not None:
                retriever = self._by_key.get(retrieval_key(arm_app_config(self._config, comps)))
                if retriever is None:
                    raise NotReady(f"arm '{ctx.arm}' asks for an embedder/index this replica did not load; "
                                   "redeploy with the arm in the app's experiment config", retry_after_s=30)
            candidates = retriever.search(intent, k)
            scope.versions(retriever.versions)
            scope.candidates(len(candidates))
        return RetrievalResult(candidates, retriever.versions)
