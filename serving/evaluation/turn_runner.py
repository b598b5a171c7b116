"""`segue eval --turns all`: replay CPCD dialogs turn by turn through a system and score them.

Two systems share one replay loop:
- `naive`: each turn's user messages joined into one prompt, through the one-shot
  pipeline (no state, no feedback) -- the baseline;
- `session`: the conversational session engine the HTTP API runs (serving/sessions/),
  which keeps the dialog state and gets the previous turn's seeds as `liked` and its
  dislikes as `disliked`, exactly what the protocol allows (serving/evaluation/turns.py).

Learned rankers are cross-validated as in `segue eval`: each fold's model and priors
(including the co-occurrence the session ranker reads) come from the other folds only.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from serving.config import AppConfig
from serving.evaluation.dialogs import EvalDialog
from serving.evaluation.runner import Evaluator, Variant
from serving.evaluation.turns import (
    K_VALUES, TurnInput, TurnSummary, dialog_turn_metrics, seed_tracks, summarise_turns, to_clusters, turn_inputs,
)
from serving.pipeline import InProcessStages
from serving.ranking.base import Ranker
from serving.ranking.training import folds
from serving.schemas import MAX_PROMPT_CHARS, RequestContext

EVAL_LENGTH = 100


class TurnSystem:
    """Predictions for every turn of one dialog; a system may keep state across its turns."""

    name = "system"

    async def dialog(self, turns: list[TurnInput], length: int) -> list[list[str]]:
        raise NotImplementedError


class NaiveJoinedPrompt(TurnSystem):
    """Every message so far joined into one prompt, through the one-shot pipeline's stages."""

    name = "naive joined prompt"

    def __init__(self, stages: InProcessStages, config: AppConfig):
        self.stages = stages
        self.config = config

    async def dialog(self, turns: list[TurnInput], length: int) -> list[list[str]]:
        out = []
        for t in turns:
            ctx = RequestContext(request_id=f"eval-{t.dialog_id}-{t.turn}")
            ir = await self.stages.intent(t.joined_prompt[:MAX_PROMPT_CHARS], ctx)
            n = length + len(t.seeds)  # seeds leave the list before scoring: ask for enough to score 100
            rr = await self.stages.retrieve_and_rank(ir.intent, max(self.config.retrieval.top_k, 5 * n), n,
                                                     "playlist", ctx)
            out.append([x.track_id for x in rr.tracks])
        return out


class SessionSystem(TurnSystem):
    """The served session engine: start with turn 0, then one refinement per turn."""

    name = "session"

    def __init__(self, stages: InProcessStages, config: AppConfig, weights=None):
        from serving.ranking.feedback import FeedbackRanking
        from serving.sessions.engine import SessionEngine

        if weights is not None:  # FeedbackWeights other than the served defaults (comparisons)
            stages.feedback_ranking = FeedbackRanking(stages.ranker, weights)
        self.engine = SessionEngine(stages, config)

    async def dialog(self, turns: list[TurnInput], length: int) -> list[list[str]]:
        out = []
        state = None
        for t in turns:
            ctx = RequestContext(request_id=f"eval-{t.dialog_id}-{t.turn}")
            n = length + len(t.seeds)
            msg = t.messages[-1][:MAX_PROMPT_CHARS]
            if state is None:
                state, tracks = await self.engine.start(msg, n, ctx, session_id=f"eval-{t.dialog_id}")
            else:
                state, tracks = await self.engine.turn(state, msg or None, list(t.new_seeds), list(t.new_disliked),
                                                       n, ctx)
            out.append([x.track_id for x in tracks])
        return out


SYSTEMS: dict[str, Callable[[InProcessStages, AppConfig], TurnSystem]] = {
    "naive": NaiveJoinedPrompt,
    "session": SessionSystem,
}


@dataclass
class TurnResult:
    system: str
    summary: TurnSummary
    note: str
    seconds: float
    per_dialog: dict[str, list[dict[str, float]]] = field(default_factory=dict, repr=False)

    def as_json(self) -> dict:
        return {"system": self.system, "dialogs": self.summary.dialogs, "turns": self.summary.turns,
                "macro": _r(self.summary.macro), "micro": _r(self.summary.micro),
                "per_turn": {m: [round(x, 4) for x in v] for m, v in self.summary.per_turn.items()},
                "per_turn_counts": self.summary.per_turn_counts, "note": self.note}


def _r(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in d.items()}


class TurnEvaluator:
    """Replays dialogs turn by turn; shares the one-shot Evaluator's cached embedders, indexes
    and fold training so both evaluations measure the same components."""

    def __init__(self, evaluator: Evaluator, length: int = EVAL_LENGTH, shard: tuple[int, int] = (1, 1),
                 only_folds: frozenset[int] | None = None, feedback_weights=None):
        self.ev = evaluator
        self.feedback_weights = feedback_weights  # the session system's FeedbackWeights; None = the served ones
        self.length = length
        self.shard = shard  # (i, n): replay only every n-th dialog from the i-th; folds still use all
        self.only_folds = only_folds  # replay only the dialogs of these CV folds (tuning: choose on some folds)
        self._fold_pos: set[int] | None = None
        if only_folds is not None:
            splits = folds([d.id for d in self.dialogs], evaluator.n_folds, evaluator.seed)
            self._fold_pos = {j for f, (_, test) in enumerate(splits) if f in only_folds for j in test}

    def _mine(self, j: int) -> bool:
        i, n = self.shard
        return j % n == i - 1 and (self._fold_pos is None or j in self._fold_pos)

    @property
    def replayed(self) -> list[EvalDialog]:
        return [d for j, d in enumerate(self.dialogs) if self._mine(j)]

    @property
    def dialogs(self) -> list[EvalDialog]:
        return self.ev.dialogs

    def run(self, system: str, variant: Variant) -> TurnResult:
        return asyncio.run(self._run(system, variant))

    async def _run(self, system: str, variant: Variant) -> TurnResult:
        t0 = time.perf_counter()
        config = self.ev._config(variant.config)
        factory = SYSTEMS[system]
        await self.prefetch(system, variant)
        preds: dict[str, list[list[str]]] = {}
        # The enrichment learns from dialogs too: each fold is served by one built without it
        # (Evaluator.fold_enrichment), so no held-out dialog labels the artists it is judged on.
        if config.ranking.version.startswith("ltr-") and self.ev._use_cv(config):
            note = f"learned ranker and priors cross-validated ({self.ev.n_folds} folds)"
            runs = [(ranker, test, True) for ranker, test in await self.fold_rankers(variant)]
        else:
            note = "no training" if not config.ranking.version.startswith("ltr-") else "shipped artifact"
            groups = self.ev.enrichment_groups(config)
            runs = [(None, g, len(groups) > 1) for g in groups]
        if self.ev._retriever(config).enrichment is not None and any(cv for *_, cv in runs):
            note += "; enrichment cross-validated (built without each fold)"
        for ranker, test, cv in runs:
            mine = [j for j in test if self._mine(j)]
            if not mine:
                continue
            with self.ev.fold_enrichment(config, [self.dialogs[j].id for j in test] if cv else None) as enrichment:
                if ranker is not None:
                    ranker.enrichment = enrichment
                stages = self.ev.stages(variant, ranker=ranker)
                sys_ = (SessionSystem(stages, config, self.feedback_weights)
                        if system == "session" and self.feedback_weights is not None else factory(stages, config))
                for j in self.ev._bar(mine, system):
                    d = self.dialogs[j]
                    preds[d.id] = await sys_.dialog(turn_inputs(d.raw), self.length)
        per_dialog = self.score(preds)
        return TurnResult(factory.name if hasattr(factory, "name") else system, summarise_turns(list(per_dialog.values())),
                          note, time.perf_counter() - t0, per_dialog)

    async def prefetch(self, system: str, variant: Variant) -> None:
        """Embed every text this replay will need in a few large batches. Intents depend only on
        the messages, so they can be computed ahead: once with a recording embedder (which texts
        does the parser embed?), then for real (which query texts follow?)."""
        from serving.intent.model import Intent

        config = self.ev._config(variant.config)
        emb = self.ev._embedder(config)
        svc = self.ev._intent(config)

        async def intents() -> list[Intent]:
            out = []
            for d in self.replayed:
                turns = turn_inputs(d.raw)
                if system == "naive":
                    for t in turns:
                        out.append((await svc.parse(t.joined_prompt[:MAX_PROMPT_CHARS])).intent)
                    continue
                intent = None
                for t in turns:
                    msg = t.messages[-1][:MAX_PROMPT_CHARS]
                    if intent is None:
                        intent = (await svc.parse(msg)).intent
                    elif msg.strip():
                        intent = (await svc.update(intent, msg))[0].intent
                    out.append(intent)
            return out

        emb.recording = []
        try:
            await intents()
            texts = list(emb.recording)
        finally:
            emb.recording = None
        emb.prefetch(texts)
        emb.prefetch([i.query_text() for i in await intents()])

    async def _prefetch_first_turns(self, variant: Variant) -> None:
        """The training examples parse every dialog's first turn: embed those texts in batches too."""
        config = self.ev._config(variant.config)
        emb, svc = self.ev._embedder(config), self.ev._intent(config)
        prompts = [d.prompt[:MAX_PROMPT_CHARS] for d in self.dialogs]
        emb.recording = []
        try:
            for p in prompts:
                await svc.parse(p)
            texts = list(emb.recording)
        finally:
            emb.recording = None
        emb.prefetch(texts)
        emb.prefetch([(await svc.parse(p)).intent.query_text() for p in prompts])

    async def fold_rankers(self, variant: Variant) -> list[tuple[Ranker, list[int]]]:
        """(ranker trained on the other folds, test dialog positions) per fold; cached per variant."""
        from serving.ranking.ltr import LearnedRanker
        from serving.ranking.training import fit

        from serving.ranking.ltr import ArtifactError, RankerArtifact

        config = self.ev._config(variant.config)
        # "fold-enriched examples": models trained before the examples used the fold's enrichment differ.
        # The code that makes the examples and models is part of the key: a retrieval, enrichment or
        # training change must retrain, or the replay would measure new code with old fold models.
        key = ("fold-enriched examples;" + config.model_dump_json() + repr(variant.train) + repr(self.ev.n_folds) + repr(self.ev.seed)
               + ",".join(d.id for d in self.dialogs) + self.ev.catalog.version + training_code_version())
        cache = getattr(self, "_folds", {})
        if key not in cache:
            # Fold models are a pure function of (config, folds, dialogs): cached on disk, so the
            # naive and session replays (or a rerun) train them once.
            root = Path(config.retrieval.cache_dir).expanduser() / "eval-folds" / hashlib.sha256(key.encode()).hexdigest()[:16]
            emb = self.ev._embedder(config)
            splits = folds([d.id for d in self.dialogs], self.ev.n_folds, self.ev.seed)
            prefetched = False
            out = []
            for f, (train, test) in enumerate(splits):
                name = f"{config.ranking.version}-fold{f}"
                try:
                    art = RankerArtifact.load(name, root)
                except ArtifactError:
                    if not prefetched:
                        await self._prefetch_first_turns(variant)
                        prefetched = True
                    # Training candidates are retrieved as the held-out fold will be served: with an
                    # enrichment built without that fold (the shipped one knows its goal playlists).
                    with self.ev.fold_enrichment(config, [self.dialogs[j].id for j in test]):
                        examples = await self.ev.examples(variant, [self.dialogs[j] for j in train])
                    art = fit(examples, name, emb.version, variant.train)
                    art.save(root)
                # The ranker's track table must be the retriever's catalog: candidates arrive as its rows.
                out.append((LearnedRanker(art, emb, max_per_artist=config.ranking.max_per_artist,
                                          catalog=self.ev.catalog), test))
            cache[key] = out
            self._folds = cache
        return cache[key]

    def score(self, preds: dict[str, list[list[str]]]) -> dict[str, list[dict[str, float]]]:
        _ = self.ev.catalog
        keys = self.ev._keys or {}
        out = {}
        for d in self.dialogs:
            if d.id not in preds:
                continue
            cluster_of = _cluster_of(keys, d.raw)
            seeds = [to_clusters(s, cluster_of) for s in seed_tracks(d.raw.get("turns") or [])]
            gold = to_clusters([g for g in d.raw.get("goal_playlist") or []], cluster_of)
            out[d.id] = dialog_turn_metrics([to_clusters(p, cluster_of) for p in preds[d.id]], gold, seeds, K_VALUES)
        return out


# The packages whose code decides a fold model: its training examples (intent parsing, retrieval,
# enrichment) and its training (ranking), plus the evaluator that assembles the examples.
TRAINING_CODE = ("serving/intent", "serving/retrieval", "serving/catalog", "serving/ranking", "serving/text.py",
                 "serving/evaluation/runner.py")


def code_version(root: Path, parts: tuple[str, ...]) -> str:
    """A hash of the Python sources under `parts` (files or folders) of `root`, names included."""
    h = hashlib.sha256()
    for part in parts:
        p = root / part
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p] if p.is_file() else []:
            h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def training_code_version() -> str:
    """The fold-model cache key's code part."""
    return code_version(Path(__file__).resolve().parents[2], TRAINING_CODE)


def _cluster_of(keys: dict[str, str], raw: dict) -> Callable[[str], str]:
    from serving.evaluation.dialogs import _dialog_track
    from serving.ranking.diversity import recording_key

    meta = raw.get("tracks") or {}

    def f(tid: str) -> str:
        k = keys.get(tid)
        if k is None:
            t = _dialog_track(tid, meta)
            k = recording_key(t) if t is not None else f"id:{tid}"
        return k

    return f
