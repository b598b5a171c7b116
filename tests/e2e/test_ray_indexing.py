"""The Ray Data indexing job on a tiny catalog: same vectors as in-process, written where the Retriever loads."""

import numpy as np
import pytest

from serving.catalog.loader import load_catalog
from serving.config import EmbedderConfig
from serving.retrieval.index import embed_catalog, load_or_build
from tests.quality_fakes import write_tiny_cpcd


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray  # the session fixture (or process exit) shuts Ray down; other e2e tests share it


def test_ray_data_index_matches_in_process_and_fills_the_cache(ray_cluster, tmp_path, embedder):
    from serving.catalog.indexing import index_with_ray

    cat_path, _ = write_tiny_cpcd(tmp_path)
    catalog = load_catalog(cat_path)
    seen = []
    vi, stats = index_with_ray(catalog, EmbedderConfig(), "flat", str(tmp_path / "cache"), actors=2, batch_size=8,
                               progress=seen.append, embedder_version=embedder.version, dim=embedder.dim)
    assert stats.tracks == len(catalog) and sum(seen) == len(catalog) and stats.tracks_per_s > 0
    assert 1 <= stats.workers_used <= 2  # which actors get blocks is Ray's scheduling; split_blocks is unit-tested
    expected = embed_catalog(catalog, embedder)
    assert np.allclose(vi.vectors, expected, atol=1e-4)  # batches came back in catalog order
    scores, ids = vi.search(expected[7], 1)
    assert ids[0] == 7
    cached = load_or_build(catalog, embedder, "flat", tmp_path / "cache")
    assert not cached.built and cached.key == vi.key


def test_ray_data_enrichment_equals_in_process(ray_cluster):
    """`segue enrich --ray`: the same artifact as the in-process job (same evidence, same attributes)."""
    from serving.catalog.enrichment.builder import build
    from serving.catalog.enrichment.evidence import read_dialogs
    from serving.catalog.enrichment.ray_job import ray_maps

    catalog = load_catalog()
    dialogs = read_dialogs()[:60]  # the shipped training-dialog evidence; a slice keeps the tier fast
    tracks = catalog.tracks[:3000]
    from serving.catalog.loader import Catalog

    small = Catalog(tracks, catalog.fingerprint, "slice")
    local, _ = build(small, None, dialogs, "emb", "ev")
    remote, stats = build(small, None, dialogs, "emb", "ev", maps=ray_maps(actors=2, batch_size=16), engine="ray-data")
    assert stats.engine == "ray-data" and stats.tracks == 3000 and stats.evidence_rows > 0
    assert remote.key == local.key
    assert {k: a.genres for k, a in remote.artists.items()} == {k: a.genres for k, a in local.artists.items()}
    assert remote.tracks == local.tracks
