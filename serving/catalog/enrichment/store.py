"""Find or build the enrichment artifact for a configured catalog, like the index cache.

Order: the artifact shipped in the package (built from the shipped catalog and the CPCD training
dialogs), then `<cache_dir>/enrichment/<key>`, else build in-process (seconds for 15k tracks;
`segue enrich --ray` runs the same job on a Ray cluster) and cache it. The key covers the catalog
bytes, the embedder version, the evidence dialogs' bytes, the LLM labels if configured and the
pipeline version.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np

from serving.catalog.enrichment.artifact import Enrichment, enrichment_key, file_fingerprint, shipped_root
from serving.catalog.enrichment.evidence import read_dialogs, shipped_dialogs_path

log = logging.getLogger(__name__)


def evidence_path(config) -> Path:
    return Path(config.catalog.enrichment_dialogs).expanduser() if config.catalog.enrichment_dialogs else shipped_dialogs_path()


def llm_labels(config) -> list:
    """The configured LLM artist labels (catalog.enrichment_llm_labels), or none."""
    if not config.catalog.enrichment_llm_labels:
        return []
    from serving.catalog.enrichment.llm_labels import read_labels

    return read_labels(config.catalog.enrichment_llm_labels)[1]


def cache_root(config) -> Path:
    return Path(config.retrieval.cache_dir).expanduser() / "enrichment"


def load_or_build(config, catalog, embedder_version: str, vectors: Callable[[], np.ndarray] | np.ndarray | None,
                  maps=None) -> Enrichment | None:
    """None when enrichment is switched off. `vectors`: the catalog's index vectors (or a function
    giving them: only called when a build is needed)."""
    if not config.catalog.enrichment:
        return None
    from serving.catalog.enrichment.llm_labels import key_suffix

    ev = evidence_path(config)
    labels, weight = llm_labels(config), config.catalog.enrichment_llm_weight
    key = enrichment_key(catalog.fingerprint, embedder_version, file_fingerprint(ev) + key_suffix(labels, weight))
    for root in (shipped_root(), cache_root(config)):
        d = root / key
        if (d / "meta.json").is_file():
            try:
                return Enrichment.load(d)
            except (OSError, ValueError, KeyError) as e:
                log.warning("enrichment artifact %s is unreadable (%s); rebuilding", d, e)
    from serving.catalog.enrichment.builder import build, local_maps

    vecs = vectors() if callable(vectors) else vectors
    enr, stats = build(catalog, vecs, read_dialogs(ev), embedder_version, file_fingerprint(ev), maps or local_maps,
                       llm_labels=labels, llm_weight=weight)
    enr.save(cache_root(config))
    log.info("enrichment %s built in %.1fs (%d artists)", enr.version, stats.total_seconds, stats.artists)
    return enr


def load_served(config, catalog) -> Enrichment | None:
    """The enrichment `config` serves for `catalog` (shipped, cached, or built). The index vectors are
    loaded only if it must be built (another catalog): built without them it would be another
    enrichment, cached under the served one's key."""
    from serving.retrieval.embedder import embedder_version, make_embedder
    from serving.retrieval.index import load_or_build as load_index

    r = config.retrieval
    return load_or_build(config, catalog, embedder_version(r.embedder),
                         lambda: load_index(catalog, make_embedder(r.embedder), r.index_kind, r.cache_dir).vectors)
