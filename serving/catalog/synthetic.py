"""Synthetic catalogs of any size, for indexing benchmarks (titles and artists from word lists)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

_WORDS = (
    "love night fire heart summer rain blue dream city light dance gold river shadow electric wild midnight "
    "ocean highway ghost neon velvet echo silver storm sugar paper thunder broken golden lonely sweet dark "
    "morning stars moon road home time world run free fall rise burn cold young forever tonight again "
    "paradise heaven angel devil diamond glass stone wolf tiger crystal honey smoke rose sky island desert"
).split()
_FIRST = "the lil big young dj mc saint royal black white red new old little".split()
_NAMES = "kings wolves sisters brothers crew collective band project machines riders sound club orchestra".split()


def synthetic_catalog(n: int, seed: int = 0) -> dict[str, list]:
    """Columns of a catalog with n tracks: track_id, title, artists, album."""
    rng = np.random.default_rng(seed)
    w = np.asarray(_WORDS)
    n_artists = max(1, n // 12)
    artist_names = [f"{_FIRST[i % len(_FIRST)].title()} {w[(i * 7) % len(w)].title()} {_NAMES[(i * 3) % len(_NAMES)].title()} {i}"
                    for i in range(n_artists)]
    title_len = rng.integers(1, 5, size=n)
    words = rng.integers(0, len(w), size=(n, 4))
    artist = rng.integers(0, n_artists, size=n)
    titles = [" ".join(w[words[i, : title_len[i]]]).title() for i in range(n)]
    return {
        "track_id": [f"syn{i:08d}" for i in range(n)],
        "title": titles,
        "artists": [[artist_names[a]] for a in artist.tolist()],
        "album": [f"{w[words[i, 3]].title()} Sessions" for i in range(n)],
    }


def write_synthetic_catalog(path: str | Path, n: int, seed: int = 0) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(synthetic_catalog(n, seed)), p)
    return p
