"""The base of every config model: unknown keys are errors, and a parsed config never changes.
A leaf: imports nothing of serving."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
