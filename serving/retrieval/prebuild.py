"""Build or verify the cached index from the command line, with a progress bar.

Run before Ray starts (scripts/run, `segue index`): this process has every core,
while a Retriever replica gets a fraction of one; replicas then load the cache.
"""

from __future__ import annotations

from tqdm import tqdm

from serving.catalog.loader import load_catalog
from serving.config import AppConfig
from serving.retrieval.embedder import make_embedder
from serving.retrieval.index import VectorIndex, load_or_build


def ensure_index(config: AppConfig, catalog_path: str | None = None, quiet: bool = False) -> tuple[VectorIndex, int]:
    catalog = load_catalog(catalog_path or config.catalog.path)
    embedder = make_embedder(config.retrieval.embedder)
    with tqdm(total=len(catalog), unit="track", desc="segue: embedding catalog", leave=False, disable=quiet) as bar:
        idx = load_or_build(catalog, embedder, config.retrieval.index_kind, config.retrieval.cache_dir, bar.update)
    return idx, len(catalog)
