"""The learned (LambdaMART) ranker and its versioned on-disk artifact.

An artifact directory holds everything a replica needs and nothing it must
recompute: the LightGBM model, the feature list it was trained on, the priors
(from the training dialogs), and metadata (embedder version, training data,
cross-validated quality). The embedder version is checked at load: priors hold
query vectors, which are only comparable to vectors from the same model.
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from serving.atomic_dir import publish_dir
from serving.intent.chatter import asks_nothing
from serving.intent.model import Intent
from serving.intent.taxonomy import TAXONOMY
from serving.catalog.loader import Catalog
from serving.ranking.bagging import BaggedBooster
from serving.ranking.base import Ranker, RankItem
from serving.ranking.diversity import artist_cap, head_first, keeps_caps, recording_key, select_diverse_ids, sequence
from serving.ranking.features import FEATURES, extract
from serving.ranking.prior_arrays import PriorArrays, prior_keys
from serving.ranking.priors import Priors, QueryPriors
from serving.ranking.track_table import TrackTable
from serving.ranking.vector_features import Pool, expand, features
from serving.retrieval.embedder import Embedder
from serving.schemas import Candidate, RankedTrack, Track
from serving.text import norm

FORMAT = 1


class ArtifactError(ValueError):
    """A ranker artifact is missing, incomplete or incompatible; the message says which and how to fix it."""


def shipped_artifacts_dir() -> Path:
    return Path(str(resources.files("serving.ranking") / "artifacts"))


def import_lightgbm():
    """lightgbm, for Booster and lgb.train only. On its first import lightgbm imports
    scikit-learn (and through it scipy.stats) when installed, for its sklearn-style estimators,
    which Segue does not use: ~3.3 of a Ranker replica's ~7 s start on this machine, paid again
    by every replacement replica. So scikit-learn is hidden during that first import, unless
    the process already has it."""
    import sys

    if "lightgbm" in sys.modules or "sklearn" in sys.modules:
        import lightgbm

        return lightgbm
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # makes `import sklearn` raise ImportError
    try:
        import lightgbm
    finally:
        del sys.modules["sklearn"]
    return lightgbm


@dataclass
class RankerArtifact:
    version: str
    model: BaggedBooster
    features: list[str]
    priors: Priors
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def embedder_version(self) -> str:
        return str(self.meta.get("embedder", ""))

    def save(self, root: str | Path) -> Path:
        """Writes <root>/<version>/ atomically (temp dir + rename)."""
        def write(tmp: Path) -> None:
            members = self.model.save(tmp)
            p = self.priors
            np.save(tmp / "prior_vectors.npy", p.vectors.astype(np.float16))
            keys = sorted(p.track_of)
            np.save(tmp / "prior_track_vectors.npy",
                    np.stack([p.vector_of[k] for k in keys]).astype(np.float16) if keys else np.zeros((0, p.vectors.shape[1]), np.float16))
            doc = {
                "dialog_ids": p.dialog_ids,
                "goal_keys": [sorted(g) for g in p.goal_keys],
                "goal_artists": [sorted(g) for g in p.goal_artists],
                "seen_keys": [sorted(g) for g in p.seen_keys],
                "tracks": [{"key": k, **p.track_of[k].model_dump(exclude_defaults=True)} for k in keys],
            }
            with gzip.open(tmp / "priors.json.gz", "wt", encoding="utf-8") as f:
                json.dump(doc, f)
            meta = {**self.meta, "format": FORMAT, "version": self.version, "features": self.features,
                    "members": members}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))

        return publish_dir(root, self.version, write)

    @classmethod
    def load(cls, version: str, root: str | Path | None = None) -> "RankerArtifact":
        lgb = import_lightgbm()

        base = Path(root).expanduser() if root else shipped_artifacts_dir()
        d = base / version
        if not (d / "meta.json").is_file():
            have = sorted(x.name for x in base.iterdir() if (x / "meta.json").is_file()) if base.is_dir() else []
            raise ArtifactError(
                f"ranker artifact '{version}' not found in {base} (have: {', '.join(have) or 'none'}); "
                f"train one with `segue train-ranker --version {version} --out {base}`"
            )
        meta = json.loads((d / "meta.json").read_text())
        if meta.get("format") != FORMAT:
            raise ArtifactError(f"{d}: artifact format {meta.get('format')} is not {FORMAT}; retrain with this version of segue")
        unknown = [f for f in meta["features"] if f not in FEATURES]
        if unknown:
            raise ArtifactError(f"{d}: features {unknown} are unknown to this code; retrain the artifact")
        with gzip.open(d / "priors.json.gz", "rt", encoding="utf-8") as f:
            doc = json.load(f)
        vectors = np.load(d / "prior_vectors.npy").astype(np.float32)
        priors = Priors(
            dialog_ids=doc["dialog_ids"], vectors=vectors,
            goal_keys=[frozenset(g) for g in doc["goal_keys"]],
            goal_artists=[frozenset(g) for g in doc["goal_artists"]],
            seen_keys=[frozenset(g) for g in doc["seen_keys"]],
        )
        tvecs = np.load(d / "prior_track_vectors.npy").astype(np.float32)
        for row, v in zip(doc.get("tracks", []), tvecs):
            key = row.pop("key")
            priors.track_of[key] = Track.model_validate(row)
            priors.vector_of[key] = v
        priors._count()
        model = BaggedBooster.load(lgb, d, int(meta.get("members", 1)))
        return cls(version=version, model=model, features=list(meta["features"]), priors=priors, meta=meta)


# How a head rule sees a candidate's origin (`_head_rule`): 0 retrieved for this request.
BORROWED, POPULAR_ONLY = 1, 2


class LearnedRanker(Ranker):
    """Scores candidates with a LambdaMART model, then the same diversity and sequencing as the baseline.

    The served path (rank_batch) takes the request's query vector from the IntentModel and
    computes features as arrays over a TrackTable of the catalog; `embedder` is only needed by
    callers of rank() that have no vector (training tools, old tests)."""

    def __init__(self, artifact: RankerArtifact, embedder: Embedder | None = None, max_per_artist: int = 2,
                 check_embedder: bool = True, catalog: Catalog | None = None, embedder_version: str | None = None,
                 enrichment=None):
        self.embedder_version = embedder.version if embedder is not None else embedder_version
        if (check_embedder and artifact.embedder_version and self.embedder_version is not None
                and artifact.embedder_version != self.embedder_version):
            raise ArtifactError(
                f"ranker '{artifact.version}' was trained with embedder {artifact.embedder_version} but the "
                f"retriever uses {self.embedder_version}; retrain it with `segue train-ranker` for this embedder"
            )
        self.artifact = artifact
        self.version = artifact.version
        self.embedder = embedder
        self.max_per_artist = max_per_artist
        self._cols = [FEATURES.index(f) for f in artifact.features]
        self._expand = "expanded" in artifact.features
        # Catalog attributes (serving.catalog.enrichment): borrowed candidates must be known to agree
        # with the intent's genres/era, so popularity cannot fill a metal playlist with pop.
        self.enrichment = enrichment
        p = artifact.priors
        tracks = list(catalog.tracks) if catalog is not None else []
        have = {t.track_id for t in tracks}
        tracks += [t for t in p.track_of.values() if t.track_id not in have]
        self._set_table(TrackTable(tracks, catalog.version if catalog is not None else "", prior_keys(p)))
        # The parser's tags are a closed taxonomy: their match masks are made now, not on a request.
        for tag in TAXONOMY:
            if norm(tag.name):
                self.table.tag_mask(norm(tag.name))

    def _constraints(self, intent: Intent, pool: Pool, opened: bool, qa=None):
        """(what borrowed tracks must agree with, what the playlist's head is filled with first, or
        None). None, None without enrichment: the intent's filters only. `opened`: the request asks
        for nothing (`chatter.asks_nothing`). `qa`: its neighbour statistics (what similar past
        requests kept votes on its genres when its text matches agree on nothing)."""
        if self.enrichment is None:
            return None, None
        from serving.retrieval.filters import (CONSENSUS_POOL, NEIGHBOUR_VOTERS, admits, constraints, head_artists,
                                               neighbours_for, with_consensus)

        c = constraints(intent, self.enrichment)
        enr = self.enrichment
        like = head_artists(intent, c)
        if like is not None:
            # "Songs like X": X's neighbours (and X, unless excluded), and nothing else
            # (`filters.holds_head_only`): text matches on the name ("Rag Doll" for Dolly Parton) and
            # filler passing X's genres are no likeness.
            return c, (lambda t: bool(t.artists) and norm(t.artists[0]) in like and admits(c, t, enr, dominance=True))
        if not len(pool) or opened:  # nothing asked: no genre to infer from "Hello"'s matches
            return c, None
        order = np.argsort(-pool.dense, kind="stable")[:CONSENSUS_POOL]
        head = with_consensus(c, [self.table.tracks[int(pool.rows[i])] for i in order.tolist()], enr,
                              None if qa is None else lambda: neighbours_for(intent, qa.neighbour_artists(NEIGHBOUR_VOTERS)))
        if not head.inferred:
            return c, None
        return replace(c, consensus_head=True), (lambda t: admits(head, t, enr, dominance=True))

    def _head_rule(self, c, head, opened: bool = False):
        """What the playlist's first places take, as (track, borrowed) -> bool, or None: `head`; for
        a request naming a use but no genre, borrowed tracks only if kept for that use before; for a
        genre request, tracks by artists known to fit (`filters.known_head`) whose agreeing genres are
        a main part of their profile; for a request whose genre nothing tells, no track borrowed for
        popularity alone (`filters.KNN_HEAD`). `borrowed`: 0 retrieved, BORROWED, or POPULAR_ONLY."""
        from serving.retrieval.filters import DOMINANCE_AS_HEAD, KNN_HEAD, USES_HEAD, admits, known_head, uses_ok

        if c is None:
            return None
        enr = self.enrichment
        rules = [] if head is None else [lambda t, borrowed: head(t)]
        known = known_head(c, enr)
        if known is not None:  # known_match includes the dominance test
            rules.append(lambda t, borrowed: known(t))
        elif DOMINANCE_AS_HEAD and c.genres:
            rules.append(lambda t, borrowed: admits(c, t, enr, dominance=True))
        if USES_HEAD and not c.genres and c.uses:
            rules.append(lambda t, borrowed: not borrowed or uses_ok(c, t, enr))
        if KNN_HEAD and not opened and not c.genres and not c.consensus_head:  # "Hello" asks for the most kept
            rules.append(lambda t, borrowed: borrowed != POPULAR_ONLY)
        if not rules:
            return None
        return lambda t, borrowed: all(r(t, borrowed) for r in rules)

    def _head_prefer(self, c):
        """Which of the head's tracks go first (`filters.written_head`, else `filters.genre_head`), as
        track -> bool, or None."""
        if c is None:
            return None
        from serving.retrieval.filters import genre_head, written_head

        return written_head(c, self.enrichment) or genre_head(c, self.enrichment)

    def _strict(self, c):
        """Borrowed tracks (not retrieved for this request) must be known to agree."""
        if c is None:
            return None
        from serving.retrieval.filters import admits

        enr = self.enrichment
        return lambda t: admits(c, t, enr, strict=True)

    def _set_table(self, table: TrackTable) -> None:
        self.table, self.prior_arrays = table, PriorArrays(self.artifact.priors, table)

    def query_priors(self, intent: Intent, exclude: int | None = None) -> QueryPriors:
        return self.artifact.priors.query_stats(self._embed(intent), exclude=exclude)

    def _embed(self, intent: Intent) -> np.ndarray:
        if self.embedder is None:
            raise ArtifactError(f"ranker '{self.version}' got no query vector and has no embedder to make one")
        return self.embedder.encode([intent.query_text()])[0]

    def scores(self, intent: Intent, candidates: list[Candidate], qp: QueryPriors | None = None) -> np.ndarray:
        """Reference scoring through features.extract (tools and tests; not the served path)."""
        if not candidates:
            return np.zeros(0)
        X = extract(intent, candidates, qp or self.query_priors(intent))
        return np.asarray(self.artifact.model.predict(X[:, self._cols], num_threads=1), dtype=np.float64)

    def _pool_of(self, candidates: list[Candidate]) -> Pool:
        rows = [self.table.row_of.get(c.track.track_id) for c in candidates]
        if any(r is None or self.table.tracks[r] != c.track for r, c in zip(rows, candidates)):
            # Tracks this table lacks (a caller's own candidates): a wider table, kept for next time.
            self._set_table(self.table.extended(c.track for c in candidates))
            rows = [self.table.row_of[c.track.track_id] for c in candidates]
        return Pool(np.asarray(rows, np.int64), np.asarray([c.dense_score for c in candidates], np.float32),
                    np.asarray([c.lexical_score for c in candidates], np.float32),
                    np.asarray([c.retrieval_rank for c in candidates], np.float32))

    def rank(self, intent: Intent, candidates: list[Candidate], length: int, mode: str = "playlist",
             query_vector: np.ndarray | None = None) -> list[RankedTrack]:
        q = query_vector if query_vector is not None else self._embed(intent)
        pool = self._pool_of(candidates)
        return self._rank_pools([(intent, pool, q, length, mode)])[0]

    def score_pool(self, intent: Intent, candidates: list[Candidate], query_vector: np.ndarray | None = None):
        """(candidates incl. those borrowed from priors, their scores, reason-of) without ordering
        or diversity: session feedback re-scores them (serving/ranking/feedback.py)."""
        q = query_vector if query_vector is not None else self._embed(intent)
        pool = self._pool_of(candidates)
        rows = pool.rows.tolist()
        qa = self.prior_arrays.query(np.asarray(q, dtype=np.float32))
        if self._expand:
            from serving.retrieval import filters

            c = filters.constraints(intent, self.enrichment) \
                if filters.SESSION_BORROWED_ADMITS and self.enrichment is not None else None
            pool = expand(pool, qa, intent, self.table, admit=self._strict(c))
        X = features(intent, pool, qa, self.table)[:, self._cols]
        s = np.asarray(self.artifact.model.predict(X, num_threads=1), dtype=np.float64) if len(X) else np.zeros(0)
        opened = asks_nothing(intent)
        if opened:
            s = self._open_scores(pool, qa, s)
        mine = {r: c for r, c in zip(rows, candidates)}
        t = self.table
        out = [mine.get(int(r)) or Candidate(track=t.tracks[int(r)], dense_score=float(pool.dense[i]),
                                             lexical_score=float(pool.lexical[i]), retrieval_rank=-1)
               for i, r in enumerate(pool.rows.tolist())]
        knn = {recording_key(c.track): float(qa.knn_track[t.key[int(r)]] / qa.norm)
               for c, r in zip(out, pool.rows.tolist())}
        return out, s, (lambda c: _reason_for(intent, c.track, c.dense_score, c.lexical_score,
                                              knn.get(recording_key(c.track), 0.0), opened))

    def rank_batch(self, items: Sequence[RankItem], tracks: Sequence[Track] = ()) -> list[list[RankedTrack]]:
        work = []
        for it in items:
            cs = it.candidates
            if self.table.catalog_version and cs.catalog_version != self.table.catalog_version:
                raise ArtifactError(
                    f"candidates index catalog {cs.catalog_version} but ranker '{self.version}' loaded "
                    f"{self.table.catalog_version}; deploy the Retriever and Ranker with the same catalog")
            q = it.query_vector if it.query_vector is not None else self._embed(it.intent)
            work.append((it.intent, Pool.retrieved(cs.rows, cs.dense, cs.lexical), q, it.length, it.mode))
        return self._rank_pools(work)

    def _rank_pools(self, work) -> list[list[RankedTrack]]:
        """Features for every request of the batch, one LightGBM predict, then per-request picks."""
        pools, qas, Xs, heads = [], [], [], []
        opened = [asks_nothing(intent) for intent, *_ in work]
        for (intent, pool, q, _, _), op in zip(work, opened):
            qa = self.prior_arrays.query(np.asarray(q, dtype=np.float32))
            c, head = self._constraints(intent, pool, op, qa)
            heads.append((self._head_rule(c, head, op), self._head_prefer(c)))
            if self._expand:
                pool = expand(pool, qa, intent, self.table, admit=self._strict(c))
            pools.append(pool)
            qas.append(qa)
            Xs.append(features(intent, pool, qa, self.table)[:, self._cols])
        sizes = [len(x) for x in Xs]
        X = np.vstack(Xs) if Xs else np.zeros((0, len(self._cols)), np.float32)
        s_all = np.asarray(self.artifact.model.predict(X, num_threads=1), dtype=np.float64) if len(X) else np.zeros(0)
        out, start = [], 0
        for (intent, _, _, length, mode), pool, qa, size, head, op in zip(work, pools, qas, sizes, heads, opened):
            s = s_all[start:start + size]
            start += size
            if op:
                s = self._open_scores(pool, qa, s)
            out.append(self._pick(intent, pool, qa, s, length, mode, *head, opened=op))
        return out

    def _open_scores(self, pool: Pool, qa, s: np.ndarray) -> np.ndarray:
        """A request that asks for nothing ("Hello", `chatter.asks_nothing`): the recordings listeners
        kept most, the model's score only breaking ties. The model scores text matches, and a
        greeting's text matches are songs titled "Hello" (CPCD train CV, docs/quality.md)."""
        if not len(s):
            return s
        pop = np.log1p(np.maximum(qa.track_goal(self.table.key[pool.rows]), 0))
        return pop + 1e-3 * (s - s.min()) / max(float(np.ptp(s)), 1e-9)

    def _pick(self, intent: Intent, pool: Pool, qa, s: np.ndarray, length: int, mode: str,
              head=None, prefer=None, opened: bool = False) -> list[RankedTrack]:
        t = self.table
        order = np.argsort(-s, kind="stable").tolist()
        keys, caps = t.key[pool.rows], t.cap_lead[pool.rows]
        asked = [t.cap_id(a.lower()) for a in intent.include_artists]
        uncapped = np.isin(caps, [a for a in asked if a >= 0])
        cap = artist_cap(self.max_per_artist, length) if mode == "playlist" else length
        args = (keys.tolist(), caps.tolist(), cap, uncapped.tolist(), not keeps_caps(intent.similar_artists, mode))
        if head is not None and mode == "playlist":
            from serving.retrieval.filters import CONSENSUS_HEAD, holds_head_only

            rows = pool.rows
            # expand() marks what it borrowed with retrieval rank -1; borrowed for popularity alone
            # when no neighbour (similar past request) kept it.
            borrowed = np.where(pool.rank >= 0, 0, np.where(qa.knn_track[keys] > 0, BORROWED, POPULAR_ONLY))

            def in_head(x: int) -> bool:
                return head(t.tracks[int(rows[x])], int(borrowed[x]))

            head_only = holds_head_only(intent, mode)
            if head_only:  # the playlist is its head: each track is judged once, here
                order = [x for x in order if in_head(x)]
            order = head_first(order, (lambda x: True) if head_only else in_head, min(CONSENSUS_HEAD, length),
                               lambda o, n: select_diverse_ids(o, n, *args),
                               None if prefer is None else (lambda x: prefer(t.tracks[int(rows[x])])))
        picked = select_diverse_ids(order, length, *args)
        if mode == "playlist":
            picked = sequence(picked, track_of=lambda i: t.tracks[pool.rows[i]])
        out = []
        for i in picked:
            tr = t.tracks[pool.rows[i]]
            knn = qa.knn_track[keys[i]] / qa.norm
            out.append(RankedTrack(track_id=tr.track_id, title=tr.title, artists=list(tr.artists), album=tr.album,
                                   score=round(float(s[i]), 4),
                                   reason=_reason_for(intent, tr, float(pool.dense[i]), float(pool.lexical[i]), knn,
                                                      opened)))
        return out


def _reason_for(intent: Intent, track: Track, dense: float, lexical: float, knn: float, opened: bool = False) -> str:
    if opened:  # ranked by how often listeners kept it (LearnedRanker._open_scores)
        return "one of the tracks listeners keep most"
    why = []
    wanted = {norm(a) for a in intent.include_artists}
    hit = next((a for a in track.artists if norm(a) in wanted), None)
    if hit:
        why.append(f"by {hit}, as asked")
    if knn > 0:
        why.append("kept by listeners with similar requests")
    why.append(f"similar to '{intent.search_text[:40]}' ({dense:.2f})")
    if lexical > 0.5:
        why.append("matches your words")
    return "; ".join(why)


def new_meta(**kw: Any) -> dict[str, Any]:
    return {"created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **kw}
