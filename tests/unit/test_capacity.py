"""Autoscaling bounds follow the node's CPUs: a replica that cannot get CPU is never asked for."""

from serving.capacity import bound_to_cpus, reserved_cpus
from serving.config import AppConfig


def _cfg(num_cpus=0.25, lo=1, hi=3, **per):
    dep = {"resources": {"num_cpus": num_cpus}, "autoscaling": {"min_replicas": lo, "max_replicas": hi}}
    return AppConfig.from_dict({"deployments": {k: {**dep, **per.get(k, {})}
                                                for k in ("ingress", "intent", "retriever", "ranker")}})


def test_maxima_are_lowered_until_every_deployment_at_its_maximum_fits():
    cfg = _cfg()  # 4 x 3 x 0.25 = 3 CPUs asked for at the maximum
    b = bound_to_cpus(cfg, 2.0)
    assert reserved_cpus(cfg) == 3.0 and reserved_cpus(b.config) <= 2.0
    assert reserved_cpus(b.config, "min") == reserved_cpus(cfg, "min")  # minimums untouched
    maxes = [getattr(b.config.deployments, k).autoscaling.max_replicas for k in ("ingress", "intent", "retriever", "ranker")]
    assert sorted(maxes) == [2, 2, 2, 2] and len(b.changes) == 4
    assert "max_replicas 3 -> 2" in b.changes[0] and "2 CPUs" in b.changes[0]


def test_a_config_that_fits_is_returned_unchanged():
    cfg = _cfg(hi=2)
    b = bound_to_cpus(cfg, 2.0)
    assert b.config is cfg and b.changes == ()


def test_zero_cpu_replicas_and_minimums_are_never_lowered():
    cfg = _cfg(num_cpus=0.0, hi=5)
    assert bound_to_cpus(cfg, 1.0).changes == ()
    tight = _cfg(num_cpus=1.0, lo=1, hi=2)  # the minimums alone already need 4 CPUs
    b = bound_to_cpus(tight, 2.0)
    assert all(getattr(b.config.deployments, k).autoscaling.max_replicas == 1
               for k in ("ingress", "intent", "retriever", "ranker"))


def test_the_deployment_with_the_most_headroom_gives_up_a_replica_first():
    cfg = _cfg(hi=2, ingress={"autoscaling": {"min_replicas": 1, "max_replicas": 6}})  # 6x0.25 + 3x2x0.25 = 3
    b = bound_to_cpus(cfg, 2.5)
    assert b.config.deployments.ingress.autoscaling.max_replicas == 4
    assert b.config.deployments.ranker.autoscaling.max_replicas == 2
