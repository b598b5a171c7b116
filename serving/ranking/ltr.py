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
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from serving.intent.model import Intent
from serving.ranking.base import Ranker
from serving.ranking.diversity import select_diverse, sequence
from serving.ranking.features import FEATURES, extract
from serving.ranking.diversity import recording_key
from serving.ranking.priors import Priors, QueryPriors, expand_candidates
from serving.retrieval.embedder import Embedder
from serving.schemas import Candidate, RankedTrack, Track

FORMAT = 1


class ArtifactError(ValueError):
    """A ranker artifact is missing, incomplete or incompatible; the message says which and how to fix it."""


def shipped_artifacts_dir() -> Path:
    return Path(str(resources.files("serving.ranking") / "artifacts"))


@dataclass
class RankerArtifact:
    version: str
    model: Any  # lightgbm.Booster
    features: list[str]
    priors: Priors
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def embedder_version(self) -> str:
        return str(self.meta.get("embedder", ""))

    def save(self, root: str | Path) -> Path:
        """Writes <root>/<version>/ atomically (temp dir + rename)."""
        root = Path(root).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        final = root / self.version
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.version}-", dir=root))
        try:
            self.model.save_model(str(tmp / "model.txt"))
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
            meta = {**self.meta, "format": FORMAT, "version": self.version, "features": self.features}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
            os.chmod(tmp, 0o755)  # mkdtemp makes it private; a packaged artifact must be readable
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except Exception:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    @classmethod
    def load(cls, version: str, root: str | Path | None = None) -> "RankerArtifact":
        import lightgbm as lgb

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
        model = lgb.Booster(model_file=str(d / "model.txt"))
        return cls(version=version, model=model, features=list(meta["features"]), priors=priors, meta=meta)


class LearnedRanker(Ranker):
    """Scores candidates with a LambdaMART model, then the same diversity and sequencing as the baseline."""

    def __init__(self, artifact: RankerArtifact, embedder: Embedder, max_per_artist: int = 2,
                 check_embedder: bool = True, enrichment=None):
        if check_embedder and artifact.embedder_version and artifact.embedder_version != embedder.version:
            raise ArtifactError(
                f"ranker '{artifact.version}' was trained with embedder {artifact.embedder_version} but the "
                f"retriever uses {embedder.version}; retrain it with `segue train-ranker` for this embedder"
            )
        self.artifact = artifact
        self.version = artifact.version
        self.embedder = embedder
        self.max_per_artist = max_per_artist
        self._cols = [FEATURES.index(f) for f in artifact.features]
        self._expand = "expanded" in artifact.features
        # Catalog attributes (serving.catalog.enrichment): borrowed candidates must agree with the
        # intent's genres/era as retrieved ones do, so popularity cannot fill a metal playlist with pop.
        self.enrichment = enrichment

    def query_priors(self, intent: Intent, exclude: int | None = None) -> QueryPriors:
        q = self.embedder.encode([intent.query_text()])[0]
        return self.artifact.priors.query_stats(q, exclude=exclude)

    def _admit(self, intent: Intent):
        from serving.retrieval.filters import admits, constraints
        from serving.retrieval.retriever import Retriever

        c = constraints(intent, self.enrichment)
        enr = self.enrichment
        return lambda t: Retriever._passes(intent, t) and admits(c, t, enr, strict=True)

    def scores(self, intent: Intent, candidates: list[Candidate], qp: QueryPriors | None = None) -> np.ndarray:
        if not candidates:
            return np.zeros(0)
        X = extract(intent, candidates, qp or self.query_priors(intent))
        return np.asarray(self.artifact.model.predict(X[:, self._cols], num_threads=1), dtype=np.float64)

    def rank(self, intent: Intent, candidates: list[Candidate], length: int, mode: str = "playlist") -> list[RankedTrack]:
        qp = self.query_priors(intent)
        if self._expand:
            candidates = expand_candidates(candidates, qp, intent, recording_key, admit=self._admit(intent))
        s = self.scores(intent, candidates, qp)
        order = np.argsort(-s, kind="stable")
        scored = [((float(s[i]), _reason(intent, candidates[i], qp)), candidates[i]) for i in order.tolist()]
        picked = select_diverse(
            scored, length, track_of=lambda x: x[1].track,
            max_per_artist=self.max_per_artist if mode == "playlist" else length,
            uncapped_artists={a.lower() for a in intent.include_artists},
        )
        ordered = sequence(picked, track_of=lambda x: x[1].track) if mode == "playlist" else picked
        return [
            RankedTrack(track_id=c.track.track_id, title=c.track.title, artists=list(c.track.artists),
                        album=c.track.album, score=round(sc, 4), reason=why)
            for (sc, why), c in ordered
        ]


def _reason(intent: Intent, c: Candidate, qp: QueryPriors) -> str:
    from serving.text import norm

    why = []
    wanted = {norm(a) for a in intent.include_artists}
    hit = next((a for a in c.track.artists if norm(a) in wanted), None)
    if hit:
        why.append(f"by {hit}, as asked")
    if qp.knn_track(recording_key(c.track)) > 0:
        why.append("kept by listeners with similar requests")
    why.append(f"similar to '{intent.search_text[:40]}' ({c.dense_score:.2f})")
    if c.lexical_score > 0.5:
        why.append("matches your words")
    return "; ".join(why)


def new_meta(**kw: Any) -> dict[str, Any]:
    return {"created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **kw}
