"""Typed experiment config: arms with their component versions, weights, shadow and QA override.

It lives in AppConfig.experiment (the graph loads every component version an arm
names) and, for live weight changes, in the Ingress deployment's `user_config`
({"experiment": {...}}), which reaches `reconfigure()` without a restart.

A leaf of the config layer: parsing checks shapes only. Whether a named version exists
is checked when the app is built (serving/experiments/components.py::check_experiment).
"""

from __future__ import annotations

import math
from typing import Any, get_args

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from serving.frozen import Frozen

ARM_NAME = r"^[a-z0-9][a-z0-9_-]{0,31}$"
WEIGHT_TOLERANCE = 1e-6


class ArmComponents(Frozen):
    """Component versions of one whole-graph arm. None = the app's default for that component."""

    ranker: str | None = Field(default=None, description="Ranker version from serving/ranking/registry.py.")
    intent_backend: str | None = Field(default=None, description="Intent backend (see IntentConfig.backend).")
    prompt_version: str | None = Field(default=None, description="Intent prompt template version.")
    embedder: str | None = Field(default=None, description="Embedding model (shipped offline).")
    index_kind: str | None = Field(default=None, description="ANN index kind of the retriever.")

    @field_validator("*")
    @classmethod
    def _no_separator(cls, v: str | None) -> str | None:
        if v is not None and ";" in v:
            raise ValueError(f"component versions cannot contain ';' (it separates an arm key's parts), got {v!r}")
        return v

    def overrides(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}

    @property
    def key(self) -> str:
        """The arm key a request carries: the overrides in field order, e.g. "ranker=ltr-v1;prompt_version=v2";
        "" = the app's defaults. Arms with the same components share a key (and so their resolved parts)."""
        return arm_key(self)

    @classmethod
    def from_key(cls, key: str) -> "ArmComponents":
        """The inverse of `key`, for an arm a live config added after a replica resolved its plan."""
        if not key:
            return cls()
        try:
            return cls.model_validate(dict(part.split("=", 1) for part in key.split(";")))
        except (ValueError, ValidationError) as e:
            raise ValueError(f"arm key {key!r} is not a valid component list (name=version;...)") from e


DEFAULT_ARM_KEY = ""


def arm_key(c: "ArmComponents | None") -> str:
    if c is None:
        return DEFAULT_ARM_KEY
    return ";".join(f"{k}={v}" for k, v in c.overrides().items())


class ArmConfig(Frozen):
    name: str = Field(pattern=ARM_NAME, description="Short, stable arm name; it becomes a metric label.")
    weight: float = Field(ge=0.0, le=1.0, description="Share of listeners, 0..1; all arms sum to 1.")
    components: ArmComponents = Field(default_factory=ArmComponents)


class ShadowConfig(Frozen):
    """A mirror arm: a sample of live requests is re-run through it after the response is
    sent; its result is recorded for comparison and never returned."""

    name: str = Field(default="shadow", pattern=ARM_NAME)
    sample_rate: float = Field(default=0.1, ge=0.0, le=1.0)
    components: ArmComponents
    max_in_flight: int = Field(default=4, ge=1, description="Beyond this, samples are dropped (never queued).")


class ExperimentConfig(Frozen):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Experiment id; a metric label.")
    salt: str = Field(min_length=1, max_length=128, description="Hash salt; a new salt reshuffles listeners.")
    control: str | None = Field(default=None, description="Name of the control arm (default: the first arm).")
    arms: tuple[ArmConfig, ...] = Field(min_length=1, max_length=16)
    shadow: ShadowConfig | None = None
    allow_override: bool = Field(default=True, description="Honour the authenticated X-Segue-Arm header (QA).")
    change_reason: str | None = Field(
        default=None, max_length=1024,
        description="Why the weights were last changed (the rollout controller writes its decision here); "
        "shown on the console's timeline.",
    )

    @field_validator("arms")
    @classmethod
    def _arms(cls, arms: tuple[ArmConfig, ...]) -> tuple[ArmConfig, ...]:
        names = [a.name for a in arms]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"arm names must be unique; repeated: {', '.join(dupes)}")
        total = math.fsum(a.weight for a in arms)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            listed = ", ".join(f"{a.name}={a.weight:g}" for a in arms)
            raise ValueError(f"arm weights must sum to 1, got {total:.6g} ({listed}); e.g. control=0.95, canary=0.05")
        return arms

    @model_validator(mode="after")
    def _control_and_shadow(self) -> "ExperimentConfig":
        names = [a.name for a in self.arms]
        if self.control is not None and self.control not in names:
            raise ValueError(f"control '{self.control}' is not one of the arms ({', '.join(names)})")
        if self.shadow is not None and self.shadow.name in names:
            raise ValueError(f"shadow name '{self.shadow.name}' clashes with a live arm; give it its own name")
        return self

    @property
    def control_arm(self) -> str:
        return self.control or self.arms[0].name

    @property
    def weights(self) -> dict[str, float]:
        return {a.name: a.weight for a in self.arms}

    def arm(self, name: str) -> ArmConfig | None:
        return next((a for a in self.arms if a.name == name), None)

    def components_of(self, name: str) -> ArmComponents | None:
        if self.shadow is not None and name == self.shadow.name:
            return self.shadow.components
        a = self.arm(name)
        return a.components if a else None

    def with_weights(self, weights: dict[str, float], reason: str | None = None) -> "ExperimentConfig":
        """A copy with new weights (validated like any config); arms not named keep theirs.
        `reason` replaces change_reason (None clears it: a reason belongs to one change)."""
        unknown = set(weights) - {a.name for a in self.arms}
        if unknown:
            raise ValueError(f"unknown arms {sorted(unknown)}; arms are {[a.name for a in self.arms]}")
        data = self.model_dump()
        for a in data["arms"]:
            a["weight"] = weights.get(a["name"], a["weight"])
        data["change_reason"] = reason[:1024] if reason else None
        return parse_experiment(data)


class ExperimentConfigError(ValueError):
    """An experiment config is invalid; the message names the key and the fix."""


def parse_experiment(data: Any, source: str = "experiment") -> ExperimentConfig:
    if isinstance(data, ExperimentConfig):
        return data
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as e:
        lines = [f"{source}: invalid experiment config"]
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            msg = "unknown key (check its spelling)" if err["type"] == "extra_forbidden" else err["msg"]
            lines.append(f"  {loc}: {msg}")
        raise ExperimentConfigError("\n".join(lines)) from e


def experiment_from_user_config(user_config: Any) -> ExperimentConfig | None:
    """The Ingress `user_config` is {"experiment": {...}} (or {"experiment": null} to end it)."""
    if user_config is None:
        return None
    if not isinstance(user_config, dict) or set(user_config) - {"experiment"}:
        raise ExperimentConfigError(
            f"Ingress user_config must be a mapping with the single key 'experiment', got {user_config!r}"
        )
    raw = user_config.get("experiment")
    return None if raw is None else parse_experiment(raw, source="user_config.experiment")


def literal_values(model: type[BaseModel], field: str) -> tuple[str, ...]:
    return tuple(get_args(model.model_fields[field].annotation))
