"""Test doubles for the quality tests: real subclasses of the product interfaces."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from serving.retrieval.embedder import Embedder


class HashEmbedder(Embedder):
    """Bag of words hashed into a small vector: similar word sets -> similar vectors. Deterministic, no model."""

    name = "hash"

    def __init__(self, dim: int = 64, version: str = "hash-v1"):
        self.dim = dim
        self._version = version

    @property
    def version(self) -> str:
        return self._version

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                h = int.from_bytes(hashlib.md5(w.encode()).digest()[:4], "little")
                out[i, h % self.dim] += 1.0
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n else out[i]
            if not n:
                out[i, 0] = 1.0
        return out


GENRES = ["jazz", "metal", "country", "reggae", "disco", "folk"]


def write_tiny_cpcd(root: Path, n_dialogs: int = 24, per_genre: int = 8) -> tuple[Path, Path]:
    """A small catalog and dialogs in the CPCD format: genre words in titles, requests that ask for a genre."""
    tracks = []
    for g in GENRES:
        for j in range(per_genre):
            tracks.append({"track_id": f"{g}-{j}", "title": f"{g.title()} Song {j}", "artists": [f"The {g.title()} Band {j % 3}"],
                           "album": f"Best of {g}"})
    # Two uploads of one recording: gold must count them once.
    tracks.append({"track_id": "jazz-0-copy", "title": "Jazz Song 0 (Remastered)", "artists": ["The Jazz Band 0"], "album": "x"})
    cat = root / "catalog.jsonl"
    cat.write_text("".join(json.dumps(t) + "\n" for t in tracks))
    dialogs = []
    for i in range(n_dialogs):
        g = GENRES[i % len(GENRES)]
        goal = [f"{g}-{(i + k) % per_genre}" for k in range(3)]
        results = [[f"{g}-{k}" for k in range(per_genre)]]
        dialogs.append({"id": f"d{i:03d}", "turns": [{"user_query": f"hi, i would like some {g} music please",
                        "system_response": "", "search_queries": [g], "search_results": results,
                        "liked_results": goal, "disliked_results": []}],
                        "tracks": {}, "goal_playlist": goal})
    dialogs.append({"id": "empty", "turns": [{"user_query": "anything", "search_results": []}], "tracks": {}, "goal_playlist": []})
    dl = root / "dialogs.jsonl"
    dl.write_text("".join(json.dumps(d) + "\n" for d in dialogs))
    return cat, dl
