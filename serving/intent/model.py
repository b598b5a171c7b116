"""The structured Intent that every backend produces and retrieval/ranking consume."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Free-text fields carry a pattern so that schema-constrained decoding can only
# emit printable text (random or small models otherwise emit control characters
# that break json.loads). Kept in one place because the LLM schema derives from it.
TEXT_PATTERN = r"^[^\x00-\x1f\"\\]*$"


class IntentSource(str, Enum):
    """Which backend produced the intent; `fallback_*` says why the LLM was not used."""

    llm = "llm"
    fallback = "fallback"
    fallback_timeout = "fallback_timeout"
    fallback_error = "fallback_error"
    fallback_invalid = "fallback_invalid"


class YearRange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: int = Field(ge=1900, le=2100, description="First year, inclusive.")
    end: int = Field(ge=1900, le=2100, description="Last year, inclusive.")

    @model_validator(mode="after")
    def _ordered(self) -> "YearRange":
        if self.end < self.start:
            raise ValueError(f"era end {self.end} is before start {self.start}")
        return self


def _text(max_length: int, description: str):
    return Field(max_length=max_length, pattern=TEXT_PATTERN, description=description)


class Intent(BaseModel):
    """What the listener asked for, in a form retrieval and ranking can act on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    search_text: str = _text(300, "What to search for, stripped of instructions and exclusions.")
    genres: list[str] = Field(default_factory=list, max_length=5, description="Genre tags, lower case.")
    moods: list[str] = Field(default_factory=list, max_length=5, description="Mood tags, lower case.")
    activities: list[str] = Field(default_factory=list, max_length=3, description="Activity tags, lower case.")
    include_artists: list[str] = Field(default_factory=list, max_length=10, description="Artists the listener asked for.")
    exclude_artists: list[str] = Field(default_factory=list, max_length=10, description="Artists to leave out.")
    similar_artists: list[str] = Field(
        default_factory=list, max_length=5,
        description="Artists the listener wants music like ('songs like X'); may also be excluded ('but not X').")
    exclude_terms: list[str] = Field(default_factory=list, max_length=10, description="Other things to avoid ('ballads').")
    era: YearRange | None = Field(default=None, description="Release years wanted, where the catalog knows them.")
    energy: float | None = Field(default=None, ge=0.0, le=1.0, description="0 calm .. 1 intense, if stated.")
    length: int | None = Field(default=None, ge=1, le=100, description="Tracks asked for in the prompt, if stated.")
    source: IntentSource = Field(default=IntentSource.fallback, description="Which backend produced this intent.")

    def query_text(self) -> str:
        """The text the retriever embeds: search text enriched with the recognised tags."""
        parts = [self.search_text, *self.genres, *self.moods, *self.activities, *self.include_artists]
        seen: list[str] = []
        for p in parts:
            p = p.strip()
            if p and p.lower() not in (s.lower() for s in seen):
                seen.append(p)
        return " ".join(seen) or self.search_text
