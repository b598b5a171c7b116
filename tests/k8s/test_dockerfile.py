"""The image's Dockerfile (no Docker engine here: parsed and linted, not built)."""

from __future__ import annotations

import re
import tomllib

from tests.k8s.k8s_support import ROOT

TEXT = (ROOT / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", TEXT)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def _args() -> dict[str, str]:
    return dict(re.match(r"(\w+)=(.*)", rest).groups() for op, rest in _instructions()
                if op == "ARG" and "=" in rest)


def test_base_image_is_pinned_ray_matching_the_package():
    [(_, base)] = [i for i in _instructions() if i[0] == "FROM"]
    image = re.sub(r"\$\{(\w+)\}", lambda m: _args()[m.group(1)], base)
    assert re.fullmatch(r"rayproject/ray:(\d+\.\d+\.\d+)-py311-cpu", image), image
    ray_version = image.split(":")[1].split("-")[0]
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["serve"]
    [ray_pin] = [d for d in deps if d.startswith("ray[")]
    assert ray_pin.split("==")[1].rstrip(".*") in ray_version
    import yaml
    chart_ray = yaml.safe_load((ROOT / "helm" / "segue" / "values.yaml").read_text())["ray"]["version"]
    assert chart_ray == ray_version


def test_no_latest_anywhere():
    assert not re.search(r":latest\b", TEXT)


def test_runs_as_non_root():
    users = [rest for op, rest in _instructions() if op == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0"), users


def test_installs_the_project_with_serving_extras_and_bakes_the_index():
    runs = " ".join(rest for op, rest in _instructions() if op == "RUN")
    assert _args()["EXTRAS"] == "serve" and 'pip install ".[${EXTRAS}]"' in runs
    assert "torch==${TORCH_VERSION}" in runs and _args()["TORCH_VERSION"] == "2.13.0"
    assert "segue index" in runs and "/opt/segue/index" in runs
    import yaml
    values = yaml.safe_load((ROOT / "helm" / "segue" / "values.yaml").read_text())
    assert values["app"]["retrieval"]["cache_dir"] == "/opt/segue/index"


def test_gpu_variant_is_documented():
    assert "--build-arg RAY_IMAGE=rayproject/ray:2.60.0-py311-gpu" in TEXT
