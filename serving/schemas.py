"""HTTP API models and the domain objects that travel between deployments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from serving.intent.model import Intent
from serving.security.visible import visible_text

MAX_PROMPT_CHARS = 2000


class Track(BaseModel):
    """A catalog track. `cluster_id` groups copies of the same recording."""

    model_config = ConfigDict(frozen=True)

    track_id: str
    title: str
    artists: list[str]
    album: str | None = None
    year: int | None = None
    tags: list[str] = Field(default_factory=list)
    cluster_id: str | None = None
    features: dict[str, float] = Field(default_factory=dict)


class Candidate(BaseModel):
    """A retrieved track with the retrieval scores the ranker may use."""

    model_config = ConfigDict(frozen=True)

    track: Track
    dense_score: float
    lexical_score: float = 0.0
    retrieval_rank: int
    # Session feedback (0 without it): the best cosine to a liked / a disliked track's vector.
    liked_sim: float = 0.0
    disliked_sim: float = 0.0


class RankedTrack(BaseModel):
    track_id: str
    title: str
    artists: list[str]
    album: str | None
    score: float
    reason: str


class _StrictBody(BaseModel):
    # Unknown fields are a client mistake worth a 422, not something to ignore; and a
    # wrong JSON type is one too ("length": "5" or true is not converted: strict).
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class PlaylistRequest(_StrictBody):
    prompt: str = Field(max_length=MAX_PROMPT_CHARS, description="What the listener wants, in their words.")
    user_id: str | None = Field(default=None, min_length=1, max_length=128, description="Stable listener id; keeps experiment arms sticky.")
    length: int = Field(default=20, ge=1, le=100, description="Number of tracks, 1-100.")

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        return visible_text(v, "prompt", "rainy sunday jazz")


class SearchRequest(_StrictBody):
    query: str = Field(max_length=MAX_PROMPT_CHARS, description="Free-text music search.")
    limit: int = Field(default=10, ge=1, le=100, description="Number of results, 1-100.")
    user_id: str | None = Field(default=None, min_length=1, max_length=128)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        return visible_text(v, "query", "daft punk")


class PlaylistResponse(BaseModel):
    playlist_id: str
    request_id: str
    trace_id: str | None
    arm: str
    experiment_id: str | None
    tracks: list[RankedTrack]
    intent: Intent
    versions: dict[str, str]
    note: str | None = Field(default=None, description="Why the playlist is shorter than the length asked "
                             "for, when it is (a \"like X\" playlist holds only X and the artists known to be "
                             "like X); null when it is full.")


class SearchResponse(BaseModel):
    request_id: str
    trace_id: str | None
    arm: str
    results: list[RankedTrack]
    versions: dict[str, str]


class FeedbackRequest(_StrictBody):
    playlist_id: str = Field(min_length=1, max_length=64, description="A playlist_id returned by POST /v1/playlists.")
    track_id: str = Field(min_length=1, max_length=128, description="A track of that playlist.")
    event: Literal["play", "skip", "like", "save"] = Field(description="What the listener did with the track.")


class FeedbackResponse(BaseModel):
    playlist_id: str
    arm: str
    experiment_id: str | None
    counted: bool = Field(description="False when the same event for the same track was already recorded.")


class ErrorBody(BaseModel):
    error: str
    message: str
    request_id: str | None = None
    details: list[dict] | None = None


@dataclass(frozen=True)
class RequestContext:
    """Plain, picklable facts about one request, carried across every Serve hop."""

    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    user_key: str | None = None
    arm: str = "control"
    experiment_id: str | None = None
    trace_id: str | None = None
    trace_headers: dict[str, str] = field(default_factory=dict)
    # The arm's key (ArmComponents.key, e.g. "ranker=baseline-v2"; "" = the app defaults): each
    # deployment looks its components up by it in its arm plan (serving/arm_plan.py).
    arm_key: str = ""
    # Set on session turns: every span of the turn's trace carries them.
    session_id: str | None = None
    turn: int | None = None


@dataclass(frozen=True)
class Feedback:
    """A session's listener feedback as it travels to retrieval and ranking: plain track ids.

    `liked` pull similar tracks and artists up and stay at the top of the playlist (in
    order); `disliked` and their near-duplicates never come back; `keep` are shown tracks
    the listener asked to keep ("keep the first five"), placed first like liked ones."""

    liked: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.liked or self.disliked or self.keep)

    @property
    def pinned(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.keep, *self.liked]))


@dataclass(frozen=True)
class FeedbackVectors:
    """The catalog vectors of a turn's disliked tracks (ids outside the catalog left out), sent
    by the Retriever with its candidates because the Ranker holds no catalog vectors: with them
    the candidates a learned ranker borrows from its priors lose their near-duplicates of a
    disliked track too, as retrieved ones do by `Candidate.disliked_sim`
    (serving/ranking/feedback.py). (The liked tracks' vectors are not sent: giving borrowed
    candidates their liked similarity was measured to lower the CPCD turn metrics, docs/quality.md.)"""

    disliked: np.ndarray  # float32 (n_disliked, dim), unit rows


@dataclass(frozen=True)
class CandidateSet:
    """Retrieval results as columns, in retrieval order: what travels from the Retriever to the
    Ranker. `rows` are catalog positions; both sides load the catalog named by `catalog_version`
    (checked at the Ranker), so a few arrays cross the hop instead of hundreds of Track objects."""

    catalog_version: str
    rows: np.ndarray  # int64 catalog positions
    dense: np.ndarray  # float32 dense (cosine) scores
    lexical: np.ndarray  # float32 normalised BM25 scores (0 when hybrid retrieval is off)

    def __len__(self) -> int:
        return len(self.rows)

    def to_candidates(self, tracks) -> list[Candidate]:
        """Candidate objects over `tracks` (the catalog's), for rankers that take a list."""
        return [Candidate(track=tracks[r], dense_score=d, lexical_score=lx, retrieval_rank=i)
                for i, (r, d, lx) in enumerate(zip(self.rows.tolist(), self.dense.tolist(), self.lexical.tolist()))]


# --- GET /v1/experiments/{id} ------------------------------------------------------------------
# Lenient on purpose (extra fields kept): the summary grows as the store does, and an older
# client must still read a newer server's answer.


class _Summary(BaseModel):
    model_config = ConfigDict(extra="allow")


class RateInterval(_Summary):
    n: int = 0
    successes: int | None = None
    rate: float | None = None
    ci: list[float | None] = Field(default_factory=lambda: [0.0, 1.0], description="95% interval [low, high].")


class ArmSummary(_Summary):
    assigned: int = 0
    served: int = 0
    errors: int = 0
    error_rate: float | None = None
    expected: float = 0.0
    like_rate: RateInterval = Field(default_factory=RateInterval)
    conversion: RateInterval = Field(default_factory=RateInterval)
    events: dict[str, int] = Field(default_factory=dict)
    intent_fallback_rate: float | None = None
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None


class SrmVerdict(_Summary):
    chi2: float | None = None
    dof: int = 0
    p_value: float = 1.0
    mismatch: bool = False


class SequentialVerdict(_Summary):
    diff: float = 0.0
    likelihood_ratio: float | None = None
    p_value: float = 1.0
    ci: list[float | None] = Field(default_factory=lambda: [None, None], description="Always-valid confidence sequence.")


class WeightsChange(_Summary):
    at: float = Field(description="Unix time the Ingress put these weights in force.")
    generation: int
    weights: dict[str, float]
    reason: str | None = None


class ExperimentSummary(_Summary):
    experiment_id: str
    control: str | None = None
    weights: dict[str, float] | None = None
    alpha: float = 0.05
    metrics: dict[str, str] = Field(default_factory=dict)
    arms: dict[str, ArmSummary] = Field(default_factory=dict)
    srm: SrmVerdict = Field(default_factory=SrmVerdict)
    comparisons: dict[str, dict[str, SequentialVerdict]] = Field(default_factory=dict)
    shadow: dict | None = None
    config_generation: int | None = None
    weights_history: list[WeightsChange] = Field(default_factory=list)
