"""Which component versions exist (checked when the app is built, not while a config parses),
and how an arm's versions turn into the variant each deployment resolves it to.

Each deployment keeps a small registry of variants (indexes, intent services, rankers) and an
ArmPlan from arm keys to them (serving/arm_plan.py); the keys below name a variant."""

from __future__ import annotations

import re

from serving.config import AppConfig, ConfigError, IntentConfig, RetrievalConfig
from serving.experiments.config import ArmComponents, ExperimentConfig, ExperimentConfigError, literal_values
from serving.intent.llm_config import PROMPT_VERSION_PATTERN
from serving.intent.prompt_template import available_versions as available_prompt_versions
from serving.ranking.registry import available_rankers
from serving.retrieval.embedder import EmbedderError, bundled_model_dir


def _embedder_exists(name: str) -> str | None:
    try:
        bundled_model_dir(name)
        return None
    except EmbedderError as e:
        return str(e)


def check_components(c: ArmComponents) -> None:
    """Raise ValueError naming every version that does not exist and what does."""
    problems = []
    if c.ranker is not None and c.ranker not in available_rankers():
        problems.append(f"ranker '{c.ranker}' is not registered; available: {', '.join(available_rankers())}")
    backends = literal_values(IntentConfig, "backend")
    if c.intent_backend is not None and c.intent_backend not in backends:
        problems.append(f"intent_backend '{c.intent_backend}' is unknown; use one of: {', '.join(backends)}")
    if c.prompt_version is not None:
        prompts = available_prompt_versions()
        if not re.match(PROMPT_VERSION_PATTERN, c.prompt_version) or c.prompt_version not in prompts:
            problems.append(f"prompt_version '{c.prompt_version}' has no template in serving/intent/prompts/; "
                            f"available: {', '.join(prompts) or 'none'}")
    kinds = literal_values(RetrievalConfig, "index_kind")
    if c.index_kind is not None and c.index_kind not in kinds:
        problems.append(f"index_kind '{c.index_kind}' is unknown; use one of: {', '.join(kinds)}")
    if c.embedder is not None and (why := _embedder_exists(c.embedder)):
        problems.append(f"embedder '{c.embedder}' is not available offline: {why}")
    if problems:
        raise ValueError("; ".join(problems))


def check_experiment(exp: ExperimentConfig | None, source: str = "experiment") -> None:
    """Every arm's (and the shadow's) versions exist; raises ExperimentConfigError naming the arm."""
    if exp is None:
        return
    arms = [(f"arms.{i}", a.components) for i, a in enumerate(exp.arms)]
    if exp.shadow is not None:
        arms.append(("shadow", exp.shadow.components))
    problems = []
    for where, comps in arms:
        try:
            check_components(comps)
        except ValueError as e:
            problems.append(f"  {where}.components: {e}")
    if problems:
        raise ExperimentConfigError("\n".join([f"{source}: invalid experiment config", *problems]))


def check_app(config: AppConfig) -> None:
    """Build-time checks of what parsing cannot know (which versions this build ships)."""
    try:
        check_experiment(config.experiment)
    except ExperimentConfigError as e:
        raise ConfigError(str(e)) from e


def arm_app_config(base: AppConfig, c: ArmComponents | None) -> AppConfig:
    """The AppConfig an arm's components run under: the base with the arm's versions.
    Start-up only (and once per arm a live config adds): never per request."""
    if c is None or not c.overrides():
        return base
    intent, retrieval, ranking = base.intent, base.retrieval, base.ranking
    if c.ranker is not None:
        ranking = ranking.model_copy(update={"version": c.ranker})
    if c.intent_backend is not None:
        intent = intent.model_copy(update={"backend": c.intent_backend})
    if c.prompt_version is not None:
        # The template belongs to the LLM backends' configs; the fast parser has none.
        intent = intent.model_copy(update={
            "vllm": intent.vllm.model_copy(update={"prompt_version": c.prompt_version}),
            "openai": intent.openai.model_copy(update={"prompt_version": c.prompt_version}),
        })
    if c.embedder is not None:
        retrieval = retrieval.model_copy(update={"embedder": retrieval.embedder.model_copy(update={"model": c.embedder})})
    if c.index_kind is not None:
        retrieval = retrieval.model_copy(update={"index_kind": c.index_kind})
    return base.model_copy(update={"intent": intent, "retrieval": retrieval, "ranking": ranking})


def all_arm_components(base: AppConfig) -> list[ArmComponents | None]:
    """None (the defaults) plus every live and shadow arm's components of the configured experiment."""
    out: list[ArmComponents | None] = [None]
    exp = base.experiment
    if exp is not None:
        out += [a.components for a in exp.arms]
        if exp.shadow is not None:
            out.append(exp.shadow.components)
    return out


def retrieval_variant(cfg: AppConfig) -> str:
    """Arms with the same embedder and index kind share one index."""
    r = cfg.retrieval
    return f"{r.embedder.model}|{r.index_kind}"


def prompt_version(cfg: AppConfig) -> str | None:
    """The template the configured LLM backend renders; None for the fast parser."""
    i = cfg.intent
    return {"vllm": i.vllm.prompt_version, "openai": i.openai.prompt_version}.get(i.backend)


def intent_variant(cfg: AppConfig) -> str:
    """Arms with the same backend and prompt share one intent service; arms of one backend with
    different prompts share its engine (see IntentModelDeployment)."""
    v = prompt_version(cfg)
    return cfg.intent.backend if v is None else f"{cfg.intent.backend}:{v}"
