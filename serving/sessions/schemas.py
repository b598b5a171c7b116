"""HTTP models of the sessions API (POST /v1/sessions, POST /v1/sessions/{id}/turns, GET /v1/sessions/{id})."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from serving.intent.model import Intent
from serving.schemas import MAX_PROMPT_CHARS, RankedTrack
from serving.sessions.state import TurnRecord

_ID = Field(min_length=1, max_length=128)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SessionRequest(_Strict):
    prompt: str = Field(max_length=MAX_PROMPT_CHARS, description="The listener's first request, in their words.")
    user_id: str | None = Field(default=None, min_length=1, max_length=128,
                                description="Stable listener id; the experiment arm follows it.")
    length: int = Field(default=20, ge=1, le=100, description="Tracks per turn, 1-100 (later turns may change it).")

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("prompt must contain some text, e.g. 'upbeat songs for a dance party'")
        return v


class TurnRequest(_Strict):
    message: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS,
                                description="What the listener says next ('more upbeat', 'no more Drake').")
    liked: list[str] = Field(default_factory=list, max_length=100,
                             description="Catalog track ids the listener liked (kept at the top from now on).")
    disliked: list[str] = Field(default_factory=list, max_length=100,
                                description="Catalog track ids the listener disliked (never shown again).")
    length: int | None = Field(default=None, ge=1, le=100, description="Tracks for this turn and later ones.")

    @field_validator("liked", "disliked")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        for i, x in enumerate(v):
            if not isinstance(x, str) or not x.strip() or len(x) > 128:
                raise ValueError(f"item {i} must be a track id of 1-128 characters")
        return [x.strip() for x in v]

    @model_validator(mode="after")
    def _something(self) -> "TurnRequest":
        if self.message is not None and not self.message.strip():
            self.message = None
        if self.message is None and not self.liked and not self.disliked:
            raise ValueError("a turn needs a message, liked or disliked tracks (or all three), "
                             "e.g. {\"message\": \"more upbeat\"}")
        both = set(self.liked) & set(self.disliked)
        if both:
            raise ValueError(f"track {sorted(both)[0]} is both liked and disliked; send it in one list")
        return self


class SessionResponse(BaseModel):
    session_id: str
    turn: int
    request_id: str
    trace_id: str | None
    arm: str
    experiment_id: str | None
    playlist: list[RankedTrack]
    intent: Intent
    edits: list[str] = Field(default_factory=list, description="What this turn's message changed, in words.")
    liked: list[str]
    disliked: list[str]
    turns_left: int
    expires_at: float
    versions: dict[str, str]
    note: str | None = Field(default=None, description="Why this turn's playlist is shorter than the session's "
                             "length, when it is; null when it is full.")


class SessionHistory(BaseModel):
    session_id: str
    user_id: str | None
    arm: str
    experiment_id: str | None
    created_at: float
    updated_at: float
    expires_at: float
    intent: Intent
    liked: list[str]
    disliked: list[str]
    kept: list[str]
    turns: list[TurnRecord]
