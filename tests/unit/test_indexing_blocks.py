import pyarrow as pa
import pytest

from serving.catalog.indexing import split_blocks
from serving.catalog.synthetic import synthetic_catalog


@pytest.mark.parametrize("n, actors, batch", [(49, 2, 8), (1000, 2, 256), (200_000, 4, 512), (3, 2, 256)])
def test_every_actor_can_get_a_block_and_no_row_is_lost(n, actors, batch):
    t = pa.table({"pos": list(range(n))})
    blocks = split_blocks(t, actors, batch)
    assert sum(b.num_rows for b in blocks) == n
    assert [r for b in blocks for r in b.column("pos").to_pylist()] == list(range(n))
    assert len(blocks) >= min(actors, n)
    assert max(b.num_rows for b in blocks) <= batch * 8


def test_synthetic_catalog_is_deterministic_and_sized():
    a, b = synthetic_catalog(500, seed=3), synthetic_catalog(500, seed=3)
    assert a == b and len(a["track_id"]) == 500 and len(set(a["track_id"])) == 500
    assert all(isinstance(x, list) and x for x in a["artists"])
