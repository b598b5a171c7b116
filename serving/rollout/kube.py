"""Kubernetes adapters of the rollout controller, on the official `kubernetes` client.

- RayServiceActuator: edits the Ingress `user_config.experiment` inside the RayService's
  serveConfigV2 (KubeRay then applies it to the running Serve app: reconfigure(), no
  restart). Patches carry the resourceVersion read, so a concurrent writer yields a 409
  and the edit is redone on the fresh object.
- ConfigMapStateStore: the controller's state in a ConfigMap, so a restart resumes.
- KubeEventSink: core/v1 Events on the RayService (repeats of the same event are
  counted on the existing Event rather than creating a new one).

Verbs used (and granted by the Helm Role, nothing more): rayservices get/patch,
configmaps get/create/patch, events create/patch.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid

import yaml

from serving.experiments.config import parse_experiment
from serving.rollout.controller import EventSink, StateStore, WeightActuator

log = logging.getLogger(__name__)

GROUP, VERSION, PLURAL = "ray.io", "v1", "rayservices"
MERGE_PATCH = "application/merge-patch+json"
STATE_KEY = "state.json"


class RolloutConflict(RuntimeError):
    """The object kept changing under us (resourceVersion conflicts) for every retry."""


def _status(e: Exception) -> int | None:
    return getattr(e, "status", None)


def find_ingress_experiment(serve_config: dict, app_name: str) -> tuple[dict, dict]:
    """(the app entry, the Ingress deployment entry) of serveConfigV2, creating the latter if absent."""
    apps = serve_config.get("applications") or []
    app = next((a for a in apps if a.get("name") == app_name), None)
    if app is None:
        raise ValueError(f"serveConfigV2 has no application '{app_name}'; found {[a.get('name') for a in apps]}")
    deps = app.setdefault("deployments", [])
    ingress = next((d for d in deps if d.get("name") == "Ingress"), None)
    if ingress is None:
        ingress = {"name": "Ingress"}
        deps.append(ingress)
    return app, ingress


def current_experiment(serve_config: dict, app_name: str) -> dict:
    app, ingress = find_ingress_experiment(serve_config, app_name)
    exp = (ingress.get("user_config") or {}).get("experiment") or (app.get("args") or {}).get("experiment")
    if not exp:
        raise ValueError(f"application '{app_name}' has no experiment in the Ingress user_config or the app args")
    return exp


class RayServiceActuator(WeightActuator):
    def __init__(self, custom_api, namespace: str, name: str, app_name: str = "segue", max_retries: int = 5):
        self.api, self.namespace, self.name, self.app_name = custom_api, namespace, name, app_name
        self.max_retries = max_retries
        self.conflicts = 0

    def _get(self) -> dict:
        return self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, self.name)

    def _serve_config(self, obj: dict) -> dict:
        raw = (obj.get("spec") or {}).get("serveConfigV2")
        if not raw:
            raise ValueError(f"RayService {self.namespace}/{self.name} has no spec.serveConfigV2")
        return yaml.safe_load(raw)

    def experiment(self):
        return parse_experiment(current_experiment(self._serve_config(self._get()), self.app_name), "serveConfigV2")

    def weights(self) -> dict[str, float]:
        return self.experiment().weights

    def set_weights(self, weights: dict[str, float], reason: str | None = None) -> None:
        for _ in range(self.max_retries):
            obj = self._get()
            cfg = self._serve_config(obj)
            exp = parse_experiment(current_experiment(cfg, self.app_name), "serveConfigV2").with_weights(weights, reason)
            _, ingress = find_ingress_experiment(cfg, self.app_name)
            ingress["user_config"] = {**(ingress.get("user_config") or {}), "experiment": exp.model_dump(mode="json")}
            body = {
                "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
                "spec": {"serveConfigV2": yaml.safe_dump(cfg, sort_keys=False)},
            }
            try:
                self.api.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, self.name, body)
                return
            except Exception as e:
                if _status(e) != 409:
                    raise
                self.conflicts += 1
                log.info("RayService %s changed while patching (409); retrying on the new version", self.name)
        raise RolloutConflict(f"RayService {self.namespace}/{self.name}: {self.max_retries} conflicting writes in a row")


class ConfigMapStateStore(StateStore):
    def __init__(self, core_api, namespace: str, name: str, max_retries: int = 5):
        self.api, self.namespace, self.name, self.max_retries = core_api, namespace, name, max_retries

    def _read(self):
        try:
            return self.api.read_namespaced_config_map(self.name, self.namespace)
        except Exception as e:
            if _status(e) == 404:
                return None
            raise

    def load(self) -> dict | None:
        cm = self._read()
        raw = (cm.data or {}).get(STATE_KEY) if cm is not None else None
        return json.loads(raw) if raw else None

    def save(self, state: dict) -> None:
        data = {STATE_KEY: json.dumps(state, sort_keys=True)}
        for _ in range(self.max_retries):
            cm = self._read()
            try:
                if cm is None:
                    self.api.create_namespaced_config_map(self.namespace, {
                        "apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": self.name, "labels": {"app.kubernetes.io/component": "rollout-controller"}},
                        "data": data,
                    })
                else:
                    body = {"metadata": {"resourceVersion": cm.metadata.resource_version}, "data": data}
                    self.api.patch_namespaced_config_map(self.name, self.namespace, body, _content_type=MERGE_PATCH)
                return
            except Exception as e:
                if _status(e) != 409:
                    raise
        raise RolloutConflict(f"ConfigMap {self.namespace}/{self.name}: {self.max_retries} conflicting writes in a row")


class KubeEventSink(EventSink):
    def __init__(self, core_api, namespace: str, rayservice: str, uid: str | None = None, component: str = "segue-rollout"):
        self.api, self.namespace, self.rayservice, self.uid, self.component = core_api, namespace, rayservice, uid, component
        self._last: tuple[str, str, str, int] | None = None  # (reason, message, event name, count)

    def record(self, reason: str, message: str, warning: bool = False) -> None:
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self._last and self._last[:2] == (reason, message):
            _, _, name, count = self._last
            try:
                self.api.patch_namespaced_event(name, self.namespace, {"count": count + 1, "lastTimestamp": now},
                                                _content_type=MERGE_PATCH)
                self._last = (reason, message, name, count + 1)
                return
            except Exception as e:  # the Event may have expired: create a new one
                log.info("could not update event %s: %r", name, e)
        name = f"{self.rayservice}.{uuid.uuid4().hex[:12]}"
        involved = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "RayService", "name": self.rayservice,
                    "namespace": self.namespace}
        if self.uid:
            involved["uid"] = self.uid
        self.api.create_namespaced_event(self.namespace, {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": self.namespace},
            "involvedObject": involved, "reason": reason, "message": message[:1024],
            "type": "Warning" if warning else "Normal", "count": 1,
            "firstTimestamp": now, "lastTimestamp": now, "source": {"component": self.component},
            "reportingComponent": self.component, "reportingInstance": self.component,
        })
        self._last = (reason, message, name, 1)


def kube_clients(kubeconfig: str | None = None, context: str | None = None):
    """(CustomObjectsApi, CoreV1Api): in-cluster config when running in a pod, else the kubeconfig."""
    from kubernetes import client, config

    try:
        if kubeconfig is None and context is None:
            config.load_incluster_config()
        else:
            raise config.ConfigException("explicit kubeconfig")
    except config.ConfigException:
        config.load_kube_config(config_file=kubeconfig, context=context)
    return client.CustomObjectsApi(), client.CoreV1Api()
