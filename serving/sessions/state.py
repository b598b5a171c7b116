"""Dialog state: what a session remembers between turns. Plain pydantic data, stored as JSON."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from serving.intent.model import Intent

STATE_VERSION = 1


class TurnRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    turn: int
    message: str | None = None
    liked: list[str] = Field(default_factory=list)
    disliked: list[str] = Field(default_factory=list)
    intent: Intent
    edits: list[str] = Field(default_factory=list, description="What the message changed, in words.")
    tracks: list[str] = Field(default_factory=list, description="Track ids shown at this turn, in order.")
    trace_id: str | None = None
    at: float = 0.0


class DialogState(BaseModel):
    """The accumulated intent, the feedback so far, and the turns (history)."""

    model_config = ConfigDict(extra="forbid")

    version: int = STATE_VERSION
    session_id: str
    user_id: str | None = None
    arm: str = "control"
    experiment_id: str | None = None
    arm_key: str = Field(default="", description="The arm's component key: every turn is served by the same variant.")
    created_at: float = 0.0
    updated_at: float = 0.0
    length: int = 20
    intent: Intent
    liked: list[str] = Field(default_factory=list, description="Liked track ids, oldest first (kept on top).")
    disliked: list[str] = Field(default_factory=list, description="Disliked track ids: never shown again.")
    kept: list[str] = Field(default_factory=list, description="Shown tracks the listener asked to keep.")
    shown: list[str] = Field(default_factory=list, description="Every track id shown so far, oldest first.")
    turns: list[TurnRecord] = Field(default_factory=list)

    @property
    def turn(self) -> int:
        return len(self.turns) - 1

    @property
    def last_tracks(self) -> list[str]:
        return self.turns[-1].tracks if self.turns else []
