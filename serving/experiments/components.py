"""Which component versions exist, and how an arm's versions turn into the config each
deployment builds its component from. Imports are local: serving.config imports the
experiment models, so this module must not import serving.config at import time."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from serving.experiments.config import ArmComponents, literal_values

if TYPE_CHECKING:
    from serving.config import AppConfig


def available_prompt_versions() -> list[str]:
    """Prompt templates shipped under serving/intent/prompts/ (one file per version)."""
    try:
        root = resources.files("serving.intent") / "prompts"
        return sorted(p.name.split(".")[0] for p in root.iterdir() if p.is_file() and not p.name.startswith("_"))
    except (FileNotFoundError, NotADirectoryError, ModuleNotFoundError):
        return []


def _embedder_exists(name: str) -> str | None:
    from serving.retrieval.embedder import EmbedderError, _bundled_model_dir

    try:
        _bundled_model_dir(name)
        return None
    except EmbedderError as e:
        return str(e)


def check_components(c: ArmComponents) -> None:
    """Raise ValueError naming every version that does not exist and what does."""
    from serving.config import IntentConfig, RetrievalConfig
    from serving.ranking.registry import available_rankers

    problems = []
    if c.ranker is not None and c.ranker not in available_rankers():
        problems.append(f"ranker '{c.ranker}' is not registered; available: {', '.join(available_rankers())}")
    backends = literal_values(IntentConfig, "backend")
    if c.intent_backend is not None and c.intent_backend not in backends:
        problems.append(f"intent_backend '{c.intent_backend}' is unknown; use one of: {', '.join(backends)}")
    if c.prompt_version is not None:
        prompts = available_prompt_versions()
        if "prompt_version" not in IntentConfig.model_fields:
            problems.append("prompt_version: this build's intent config has no prompt versions; leave it unset")
        elif c.prompt_version not in prompts:
            problems.append(f"prompt_version '{c.prompt_version}' has no template; available: {', '.join(prompts) or 'none'}")
    kinds = literal_values(RetrievalConfig, "index_kind")
    if c.index_kind is not None and c.index_kind not in kinds:
        problems.append(f"index_kind '{c.index_kind}' is unknown; use one of: {', '.join(kinds)}")
    if c.embedder is not None and (why := _embedder_exists(c.embedder)):
        problems.append(f"embedder '{c.embedder}' is not available offline: {why}")
    if problems:
        raise ValueError("; ".join(problems))


def arm_app_config(base: "AppConfig", c: ArmComponents | None) -> "AppConfig":
    """The AppConfig an arm's components run under: the base with the arm's versions."""
    if c is None or not c.overrides():
        return base
    intent, retrieval, ranking = base.intent, base.retrieval, base.ranking
    if c.ranker is not None:
        ranking = ranking.model_copy(update={"version": c.ranker})
    upd = {}
    if c.intent_backend is not None:
        upd["backend"] = c.intent_backend
    if c.prompt_version is not None:
        upd["prompt_version"] = c.prompt_version
    if upd:
        intent = intent.model_copy(update=upd)
    if c.embedder is not None:
        retrieval = retrieval.model_copy(update={"embedder": retrieval.embedder.model_copy(update={"model": c.embedder})})
    if c.index_kind is not None:
        retrieval = retrieval.model_copy(update={"index_kind": c.index_kind})
    return base.model_copy(update={"intent": intent, "retrieval": retrieval, "ranking": ranking})


def all_arm_components(base: "AppConfig") -> list[ArmComponents | None]:
    """None (the defaults) plus every live and shadow arm's components of the configured experiment."""
    out: list[ArmComponents | None] = [None]
    exp = getattr(base, "experiment", None)
    if exp is not None:
        out += [a.components for a in exp.arms]
        if exp.shadow is not None:
            out.append(exp.shadow.components)
    return out


def components_from_ctx(ctx) -> ArmComponents | None:
    """Deployments read the arm's versions from the RequestContext (set at the ingress)."""
    comps = getattr(ctx, "components", None)
    # Validated when the experiment was loaded; model_construct keeps the hot path cheap.
    return ArmComponents.model_construct(**dict(comps)) if comps else None


def retrieval_key(cfg: "AppConfig") -> str:
    r = cfg.retrieval
    return f"{r.embedder.model}|{r.index_kind}"


def intent_key(cfg: "AppConfig") -> str:
    return cfg.intent.model_dump_json()
