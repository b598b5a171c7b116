"""Autoscaling bounds that follow the CPUs a node really has.

On one node, a replica whose CPU reservation does not fit stays PENDING: Serve counts it
toward the target, the autoscaler keeps asking, and nothing serves more. And when the
reservations are fractional, replicas that do fit on paper share the same cores: each new
one first spends seconds of CPU loading its models, taken from the replicas that serve. So
`max_replicas` is lowered until every deployment at its maximum, with the OutcomeStore
beside it, fits the node's CPUs; the deployment with the most headroom gives up a replica
first. Minimums are never lowered (they are what the operator asked to always run).
"""

from __future__ import annotations

from dataclasses import dataclass

from serving.config import AppConfig

KINDS = ("ingress", "intent", "retriever", "ranker")


@dataclass(frozen=True)
class Bounded:
    config: AppConfig
    changes: tuple[str, ...]  # one line per lowered max_replicas, for the start-up log


def reserved_cpus(config: AppConfig, at: str = "max") -> float:
    d = config.deployments
    return sum(getattr(d, k).resources.num_cpus * getattr(getattr(d, k).autoscaling, f"{at}_replicas")
               for k in KINDS)


def bound_to_cpus(config: AppConfig, cpus: float, reserved_elsewhere: float = 0.0) -> Bounded:
    """`cpus`: the node's; `reserved_elsewhere`: CPUs other actors hold (the OutcomeStore has 0)."""
    d = config.deployments
    maxes = {k: getattr(d, k).autoscaling.max_replicas for k in KINDS}
    mins = {k: getattr(d, k).autoscaling.min_replicas for k in KINDS}
    cost = {k: getattr(d, k).resources.num_cpus for k in KINDS}
    budget = cpus - reserved_elsewhere + 1e-9

    def total() -> float:
        return sum(cost[k] * maxes[k] for k in KINDS)

    while total() > budget:
        shrinkable = [k for k in KINDS if cost[k] > 0 and maxes[k] > max(mins[k], 1)]
        if not shrinkable:
            break  # the minimums alone do not fit: Ray will say so; nothing more to lower
        k = max(shrinkable, key=lambda k: (maxes[k] - mins[k], cost[k]))
        maxes[k] -= 1
    changes = tuple(f"{k}: max_replicas {getattr(d, k).autoscaling.max_replicas} -> {maxes[k]} "
                    f"({cost[k]:g} CPU each; {cpus:g} CPUs on the node)"
                    for k in KINDS if maxes[k] != getattr(d, k).autoscaling.max_replicas)
    if not changes:
        return Bounded(config, ())
    new = {k: getattr(d, k).model_copy(update={"autoscaling": getattr(d, k).autoscaling.model_copy(
        update={"max_replicas": maxes[k]})}) for k in KINDS}
    return Bounded(config.model_copy(update={"deployments": d.model_copy(update=new)}), changes)
