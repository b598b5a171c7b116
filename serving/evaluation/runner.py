"""Run configurations over dialogs through the serving pipeline and score the playlists.

Each dialog's first user turn goes through `Pipeline.playlist` -- the code the
HTTP service runs -- with in-process stages (or, with `--url`, through a running
server). Learned rankers are cross-validated when the dialogs overlap the data
their artifact was trained on: each fold's model and priors come from the other
folds only, so no dialog's own goal ever reaches its features.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

from serving.catalog.loader import Catalog, load_catalog
from serving.config import AppConfig
from serving.evaluation.dialogs import EvalDialog, track_keys
from serving.evaluation.metrics import Estimate, dialog_metrics, summarise
from serving.intent.model import Intent
from serving.intent.service import IntentResult, IntentService
from serving.pipeline import InProcessStages, Pipeline
from serving.ranking.base import Ranker
from serving.ranking.training import Example, TrainParams, fit, folds, seen_and_artists
from serving.ranking.priors import lead_artist
from serving.retrieval.embedder import Embedder
from serving.retrieval.retriever import Retriever
from serving.schemas import PlaylistRequest, RequestContext, SearchRequest, MAX_PROMPT_CHARS

log = logging.getLogger(__name__)

CvMode = Literal["auto", "always", "never"]


@dataclass(frozen=True)
class Variant:
    name: str
    config: AppConfig
    raw_prompt: bool = False  # the prompt itself is the query: no intent parser (ablation baseline)
    mode: Literal["playlist", "search"] = "playlist"  # search = plain score order, no diversity
    train: TrainParams = field(default_factory=TrainParams)


@dataclass
class VariantResult:
    name: str
    rows: list[dict[str, float]]
    summary: dict[str, Estimate]
    note: str
    seconds: float
    dialog_ids: list[str]
    ranked: dict[str, list[str]] = field(default_factory=dict, repr=False)  # dialog id -> track ids, as served

    @property
    def n(self) -> int:
        return len(self.rows)

    def as_json(self) -> dict[str, float | int]:
        out: dict[str, float | int] = {m: round(e.mean, 4) for m, e in self.summary.items()}
        out["n"] = self.n
        return out


class MemoEmbedder(Embedder):
    """Remembers vectors of texts already encoded: the parser, the retriever and a learned
    ranker embed the same texts, and every variant of one run sees the same prompts."""

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._memo: dict[str, np.ndarray] = {}
        self.recording: list[str] | None = None  # set: unknown texts are noted and answered with zeros

    @property
    def version(self) -> str:
        return self.inner.version

    def prefetch(self, texts: list[str], batch: int = 256) -> None:
        """Encode many texts in large batches (far cheaper per text than one at a time)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        for i in range(0, len(missing), batch):
            chunk = missing[i : i + batch]
            for t, v in zip(chunk, self.inner.encode(chunk)):
                self._memo[t] = v

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.recording is not None:
            self.recording.extend(t for t in texts if t not in self._memo)
            return np.stack([self._memo.get(t, np.zeros(self.dim, np.float32)) for t in texts]) if texts \
                else np.zeros((0, self.dim), np.float32)
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            for t, v in zip(missing, self.inner.encode(missing)):
                self._memo[t] = v
        return np.stack([self._memo[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


class RawPromptStages(InProcessStages):
    """No intent parsing: the prompt (cleaned to the schema) is the search text."""

    async def intent_batch(self, prompts, ctxs) -> list[IntentResult]:
        return [self._raw(p) for p in prompts]

    @staticmethod
    def _raw(prompt: str) -> IntentResult:
        text = " ".join(prompt.replace('"', " ").replace("\\", " ").split())
        text = "".join(ch for ch in text if ch >= " ")[:300]
        return IntentResult(Intent(search_text=text), {"intent_parser": "none"})


class Evaluator:
    def __init__(
        self,
        dialogs: list[EvalDialog],
        catalog_path: str | None = None,
        length: int = 100,
        cv: CvMode = "auto",
        n_folds: int = 5,
        seed: int = 0,
        n_boot: int = 1000,
        progress: bool = True,
        embedder_factory: Callable[[AppConfig], Embedder] | None = None,
    ):
        self.dialogs = dialogs
        self.catalog_path = catalog_path
        self.length = length
        self.cv = cv
        self.n_folds = n_folds
        self.seed = seed
        self.n_boot = n_boot
        self.progress = progress
        self._embedder_factory = embedder_factory
        self._embedders: dict[str, MemoEmbedder] = {}
        self._retrievers: dict[str, Retriever] = {}
        self._intents: dict[str, IntentService] = {}
        self._catalog: Catalog | None = None
        self._keys: dict[str, str] | None = None

    # --- shared, cached building blocks ----------------------------------------------
    def _config(self, config: AppConfig) -> AppConfig:
        if self.catalog_path:
            config = config.model_copy(update={"catalog": config.catalog.model_copy(update={"path": self.catalog_path})})
        return config

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog(self.catalog_path)
            self._keys = track_keys(self._catalog)
        return self._catalog

    def _embedder(self, config: AppConfig) -> MemoEmbedder:
        key = config.retrieval.embedder.model_dump_json()
        if key not in self._embedders:
            if self._embedder_factory is not None:
                inner = self._embedder_factory(config)
            else:
                from serving.retrieval.embedder import make_embedder

                inner = make_embedder(config.retrieval.embedder)
            self._embedders[key] = MemoEmbedder(inner)
        return self._embedders[key]

    def _retriever(self, config: AppConfig) -> Retriever:
        from serving.retrieval.deployment import build_retriever

        key = config.catalog.model_dump_json() + config.retrieval.model_dump_json()
        if key not in self._retrievers:
            self._retrievers[key] = build_retriever(config, embedder=self._embedder(config))
        return self._retrievers[key]

    def _intent(self, config: AppConfig) -> IntentService:
        from serving.intent.deployment import build_intent_service

        key = config.catalog.model_dump_json() + config.intent.model_dump_json() + config.retrieval.embedder.model_dump_json()
        if key not in self._intents:
            self._intents[key] = build_intent_service(config, embedder=self._embedder(config))
        return self._intents[key]

    def stages(self, variant: Variant, ranker: Ranker | None = None) -> InProcessStages:
        from serving.ranking.registry import make_ranker

        config = self._config(variant.config)
        emb = self._embedder(config)
        cls = RawPromptStages if variant.raw_prompt else InProcessStages
        retriever = self._retriever(config)
        if ranker is not None and getattr(ranker, "enrichment", "n/a") is None:
            ranker.enrichment = retriever.enrichment
        return cls(self._intent(config), retriever,
                   ranker or make_ranker(config.ranking, embedder=emb, catalog=retriever.catalog,
                                         enrichment=retriever.enrichment))

    # --- running -------------------------------------------------------------------
    def run(self, variant: Variant) -> VariantResult:
        return asyncio.run(self._run(variant))

    async def _run(self, variant: Variant) -> VariantResult:
        t0 = time.perf_counter()
        config = self._config(variant.config)
        note = "no training"
        ranked: dict[str, list[str]] = {}
        if config.ranking.version.startswith("ltr-") and self._use_cv(config):
            note = f"learned ranker cross-validated ({self.n_folds} folds: model and priors from the other folds)"
            ranked = await self._run_cv(variant, config)
            if self._retriever(config).enrichment is not None:
                note += "; enrichment cross-validated (built without each fold)"
        else:
            if config.ranking.version.startswith("ltr-"):
                note = f"shipped artifact {config.ranking.version} (trained on none of these dialogs)"
            groups = self.enrichment_groups(config)
            if len(groups) > 1:
                note += "; enrichment cross-validated (built without each fold)"
            for g in groups:
                with self.fold_enrichment(config, [self.dialogs[j].id for j in g] if len(groups) > 1 else None):
                    pipeline = Pipeline(self.stages(variant), config)
                    for j in self._bar(g, variant.name):
                        d = self.dialogs[j]
                        ranked[d.id] = await self._ask(pipeline, variant, d)
        return self._score(variant.name, ranked, note, time.perf_counter() - t0)

    def enrichment_groups(self, config: AppConfig) -> list[list[int]]:
        """Dialog positions grouped so that each group can be served by an enrichment built without
        it: the cross-validation folds when the shipped enrichment's evidence includes these
        dialogs, else all of them in one group (the shipped enrichment serves as is)."""
        if self._retriever(config).enrichment is not None and self._overlaps_evidence(config):
            return [test for _, test in folds([d.id for d in self.dialogs], self.n_folds, self.seed)]
        return [list(range(len(self.dialogs)))]

    @contextmanager
    def fold_enrichment(self, config: AppConfig, held_out: list[str] | None):
        """While inside, the retriever serves an enrichment built without the `held_out` dialogs
        (None: the shipped one); yields it, for the ranker. The shipped one is put back after."""
        retriever = self._retriever(config)
        shipped = retriever.enrichment
        try:
            if held_out is not None:
                retriever.enrichment = self._fold_enrichment(config, retriever, held_out)
            yield retriever.enrichment
        finally:
            retriever.enrichment = shipped

    def _overlaps_evidence(self, config: AppConfig) -> bool:
        from serving.catalog.enrichment.evidence import read_dialogs
        from serving.catalog.enrichment.store import evidence_path

        ids = {str(d.get("id")) for d in read_dialogs(evidence_path(config))}
        return any(d.id in ids for d in self.dialogs)

    def _use_cv(self, config: AppConfig) -> bool:
        if self.cv != "auto":
            return self.cv == "always"
        from serving.ranking.ltr import ArtifactError, RankerArtifact
        from serving.ranking.registry import artifact_root

        try:
            art = RankerArtifact.load(config.ranking.version, artifact_root(config.ranking))
        except ArtifactError:
            return True  # nothing shipped to use: train from these dialogs, honestly
        trained_on = set(art.meta.get("train_dialog_ids", []))
        return any(d.id in trained_on for d in self.dialogs)

    async def _ask(self, pipeline: Pipeline, variant: Variant, d: EvalDialog) -> list[str]:
        prompt = d.prompt[:MAX_PROMPT_CHARS]
        ctx = RequestContext(request_id=f"eval-{d.id}")
        if variant.mode == "search":
            resp = await pipeline.search(SearchRequest(query=prompt, limit=self.length), ctx)
            return [t.track_id for t in resp.results]
        resp = await pipeline.playlist(PlaylistRequest(prompt=prompt, length=self.length), ctx)
        return [t.track_id for t in resp.tracks]

    async def examples(self, variant: Variant, dialogs: list[EvalDialog] | None = None) -> list[Example]:
        """Parse and retrieve each dialog once, as the pipeline would, to train a ranker on."""
        config = self._config(variant.config)
        stages = self.stages(variant, ranker=_NoRanker())
        emb = self._embedder(config)
        k = Pipeline(stages, config)._k(self.length)
        cat = self.catalog
        keys = self._keys or {}
        lead = {t.track_id: lead_artist(t.artists) for t in cat.tracks}
        pos = {t.track_id: i for i, t in enumerate(cat.tracks)}
        vectors = stages.retriever.index.vectors
        out = []
        for d in self._bar(dialogs or self.dialogs, f"{variant.name}: candidates"):
            ir = await stages.intent(d.prompt[:MAX_PROMPT_CHARS], RequestContext())
            qv = ir.query_vector if ir.vector_embedder == emb.version else None
            qv = qv if qv is not None else emb.encode([ir.intent.query_text()])[0]
            cands = stages.retriever.search(ir.intent, k, qv)
            seen, artists = seen_and_artists(d.raw, keys.get, lead.get, d.gold_ids)
            items = {}
            for tid in d.gold_ids:
                if tid in pos and keys[tid] not in items:
                    items[keys[tid]] = (keys[tid], cat.tracks[pos[tid]], vectors[pos[tid]])
            out.append(Example(d.id, ir.intent, cands, qv, d.gold_keys, artists, seen, tuple(items.values())))
        return out

    async def _run_cv(self, variant: Variant, config: AppConfig) -> dict[str, list[str]]:
        from serving.ranking.ltr import LearnedRanker

        emb = self._embedder(config)
        ranked: dict[str, list[str]] = {}
        splits = folds([d.id for d in self.dialogs], self.n_folds, self.seed)
        for f, (train, test) in enumerate(splits):
            # The enrichment learns from dialogs too: the held-out fold's own evidence must not
            # label the artists its playlists are judged on, nor filter the training candidates.
            with self.fold_enrichment(config, [self.dialogs[j].id for j in test]) as enrichment:
                examples = await self.examples(variant, [self.dialogs[j] for j in train])
                art = fit(examples, f"{config.ranking.version}-fold{f}", emb.version, variant.train)
                ranker = LearnedRanker(art, emb, max_per_artist=config.ranking.max_per_artist, catalog=self.catalog,
                                       enrichment=enrichment)
                pipeline = Pipeline(self.stages(variant, ranker=ranker), config)
                for j in self._bar(test, f"{variant.name}: fold {f + 1}/{self.n_folds}"):
                    d = self.dialogs[j]
                    ranked[d.id] = await self._ask(pipeline, variant, d)
        return ranked

    def _fold_enrichment(self, config: AppConfig, retriever: Retriever, held_out: list[str]):
        if retriever.enrichment is None:
            return None
        from serving.catalog.enrichment.artifact import file_fingerprint
        from serving.catalog.enrichment.builder import build
        from serving.catalog.enrichment.evidence import read_dialogs
        from serving.catalog.enrichment.store import evidence_path, llm_labels

        ev = evidence_path(config)
        cat = config.catalog
        key = (str(ev), tuple(sorted(held_out)), cat.enrichment_llm_labels, cat.enrichment_llm_weight)
        cache = self.__dict__.setdefault("_fold_enr", {})
        if key not in cache:
            cache[key], _ = build(retriever.catalog, retriever.index.vectors, read_dialogs(ev), retriever.embedder.version,
                                  file_fingerprint(ev), exclude_dialogs=held_out, llm_labels=llm_labels(config),
                                  llm_weight=cat.enrichment_llm_weight)
        return cache[key]

    def run_coherence(self, variant: Variant, prompts: list, labels: dict, k: int = 20, turn: int = 0):
        """Off-genre rate@k over the coherence prompts (none of them is a training dialog, so the
        shipped artifact serves as is; a variant with its own training params is fit on all dialogs).
        `turn=1`: of the second playlist of a session (`coherence.session_likes`)."""
        return asyncio.run(self._coherence(variant, prompts, labels, k, turn))

    async def _coherence(self, variant: Variant, prompts: list, labels: dict, k: int, turn: int = 0):
        from serving.evaluation.coherence import CoherenceResult, score_playlist
        from serving.ranking.training import TrainParams

        config = self._config(variant.config)
        ranker = None
        if config.ranking.version.startswith("ltr-") and variant.train != TrainParams() and self.dialogs:
            from serving.ranking.ltr import LearnedRanker

            emb = self._embedder(config)
            art = fit(await self.examples(variant), f"{config.ranking.version}-all", emb.version, variant.train)
            ranker = LearnedRanker(art, emb, max_per_artist=config.ranking.max_per_artist, catalog=self.catalog)
        stages = self.stages(variant, ranker=ranker)
        pipeline = Pipeline(stages, config)
        rows = []
        for p in self._bar(prompts, f"{variant.name}: coherence"):
            ctx = RequestContext(request_id=f"coherence-{p.id}")
            if turn:
                rows.append(await self._session_coherence(stages, config, p, labels, k, ctx))
                continue
            if variant.mode == "search":
                resp = await pipeline.search(SearchRequest(query=p.prompt, limit=k), ctx)
                tracks = resp.results
            else:
                tracks = (await pipeline.playlist(PlaylistRequest(prompt=p.prompt, length=k), ctx)).tracks
            rows.append(score_playlist(p, tracks, labels, k))
        return CoherenceResult(variant.name, rows)

    @staticmethod
    async def _session_coherence(stages, config: AppConfig, p, labels: dict, k: int, ctx: RequestContext):
        """Turn 1 of a session: the prompt, then the simulated listener's likes and no message
        ("more like these"); scored on the k tracks after the kept ones (those fit by construction)."""
        from serving.evaluation.coherence import score_playlist, session_likes
        from serving.sessions.engine import SessionEngine

        engine = SessionEngine(stages, config)
        state, tracks = await engine.start(p.prompt, k, ctx, session_id=f"coherence-{p.id}")
        liked = session_likes(p, tracks[:k], labels)
        if liked:
            state, tracks = await engine.turn(state, None, liked, [], k + len(liked), ctx)
        kept = set(liked)
        return score_playlist(p, [t for t in tracks if t.track_id not in kept], labels, k, liked=len(liked))

    def _score(self, name: str, ranked: dict[str, list[str]], note: str, seconds: float) -> VariantResult:
        _ = self.catalog
        keys = self._keys or {}
        rows, ids = [], []
        for d in self.dialogs:
            got = [keys.get(t, f"id:{t}") for t in ranked[d.id]]
            rows.append(dialog_metrics(got, d.gold_keys))
            ids.append(d.id)
        return VariantResult(name, rows, summarise(rows, n_boot=self.n_boot, seed=self.seed), note, seconds, ids,
                             ranked)

    def _bar(self, items, desc: str):
        if not self.progress:
            return items
        from tqdm import tqdm

        return tqdm(items, desc=desc, unit="dialog", leave=False)


class _NoRanker(Ranker):
    version = "none"

    def rank(self, intent, candidates, length, mode="playlist"):
        raise RuntimeError("collecting training examples never ranks")


def run_remote(url: str, dialogs: list[EvalDialog], catalog: Catalog, length: int = 100, n_boot: int = 1000,
               progress: bool = True, timeout_s: float = 30.0, transport=None) -> VariantResult:
    """The same metrics against a running Segue server (POST /v1/playlists, typed client)."""
    from tqdm import tqdm

    from serving.client import SegueAPIError, SegueClient

    keys = track_keys(catalog)
    t0 = time.perf_counter()
    rows, ids, ranked = [], [], {}
    with SegueClient(url, timeout_s=timeout_s, transport=transport) as client:
        for d in tqdm(dialogs, desc=url, unit="dialog", disable=not progress, leave=False):
            try:
                p = client.playlist(d.prompt[:MAX_PROMPT_CHARS], length=length, user_id=f"eval-{d.id}")
            except SegueAPIError as e:
                raise RuntimeError(f"{url} answered {e.status} for dialog {d.id}: {e.message}") from e
            ranked[d.id] = [t.track_id for t in p.tracks]
            got = [keys.get(t, f"id:{t}") for t in ranked[d.id]]
            rows.append(dialog_metrics(got, d.gold_keys))
            ids.append(d.id)
    return VariantResult(url, rows, summarise(rows, n_boot=n_boot), "remote server, as deployed",
                         time.perf_counter() - t0, ids, ranked)
