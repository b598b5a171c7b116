"""The Judge interface, verdict schemas, and the position-swapped pairwise protocol.

A Judge scores one (prompt, playlist) pair on the written rubric (rubric.md), or
compares two playlists for one prompt. Backends: an LLM behind any
OpenAI-compatible endpoint or an in-process engine (llm.py), and a model-free
reference judge (reference.py). Tests hand in fakes that subclass Judge.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RUBRIC_VERSION = "judge-v1"


def rubric_text() -> str:
    return (resources.files("serving.evaluation.judging") / "rubric.md").read_text(encoding="utf-8")


class JudgeError(RuntimeError):
    """The judge could not produce a valid verdict (endpoint down, output not matching the schema)."""


class PlaylistItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    artists: list[str]
    album: str | None = None

    def line(self) -> str:
        s = f"{self.title} - {', '.join(self.artists)}"
        return s + (f" ({self.album})" if self.album and self.album != self.title else "")


_RATIONALE = Field(max_length=600, pattern=r"^[^\x00-\x1f\"\\]*$", description="One or two sentences.")


class Verdict(BaseModel):
    """Pointwise verdict on the rubric's three criteria plus an overall score (1-5 each)."""

    model_config = ConfigDict(extra="forbid")

    fulfilment: int = Field(ge=1, le=5)
    coherence: int = Field(ge=1, le=5)
    variety: int = Field(ge=1, le=5)
    overall: int = Field(ge=1, le=5)
    rationale: str = _RATIONALE


class PairVerdict(BaseModel):
    """Which of the two playlists, as shown, the listener would rather keep."""

    model_config = ConfigDict(extra="forbid")

    winner: Literal["A", "B", "tie"]
    rationale: str = _RATIONALE


class Judge(abc.ABC):
    name: str

    @abc.abstractmethod
    async def score(self, prompt: str, playlist: list[PlaylistItem]) -> Verdict: ...

    @abc.abstractmethod
    async def compare(self, prompt: str, a: list[PlaylistItem], b: list[PlaylistItem]) -> PairVerdict:
        """A is shown first. Callers wanting order-free answers use `pairwise`."""

    async def close(self) -> None:
        return None


@dataclass(frozen=True)
class PairResult:
    winner: Literal["first", "second", "tie"]  # in the caller's terms: first = the `first` argument
    consistent: bool  # both orders agreed (a tie in both counts as consistent)
    shown_first_wins: int  # how many of the two calls picked whatever was shown first (order bias)


async def pairwise(judge: Judge, prompt: str, first: list[PlaylistItem], second: list[PlaylistItem]) -> PairResult:
    """Ask twice with the playlists swapped; only a preference that survives the swap counts."""
    v1 = await judge.compare(prompt, first, second)  # first shown as A
    v2 = await judge.compare(prompt, second, first)  # first shown as B
    pick1 = {"A": "first", "B": "second", "tie": "tie"}[v1.winner]
    pick2 = {"A": "second", "B": "first", "tie": "tie"}[v2.winner]
    shown_first = (v1.winner == "A") + (v2.winner == "A")
    if pick1 == pick2:
        return PairResult(pick1, True, shown_first)  # type: ignore[arg-type]
    # Disagreement: a preference in one order and a tie in the other still leans one way.
    if "tie" in (pick1, pick2):
        lean = pick1 if pick2 == "tie" else pick2
        return PairResult(lean, False, shown_first)  # type: ignore[arg-type]
    return PairResult("tie", False, shown_first)
