"""BM25 over the catalog's track text, and the fusion of lexical with dense scores.

Names in prompts ("some Fleetwood Mac", "songs like Hotel California") are exact
tokens that a small sentence embedder blurs; BM25 finds them. Vibe prompts
("rainy sunday") are the opposite case, so the two are fused rather than chosen.
The index is built at load time: ~1 s for the 15k-track catalog, so it is not cached.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from serving.catalog.loader import Catalog
from serving.schemas import Track

log = logging.getLogger(__name__)

# Single characters count: "7 Rings", "U 2", "Track 3" (bm25s' default drops them).
TOKEN_PATTERN = r"(?u)\b\w+\b"


def lexical_text(t: Track) -> str:
    return " ".join([t.title, *t.artists, t.album or "", *t.tags])


@dataclass(frozen=True)
class LexicalHits:
    ids: np.ndarray  # catalog positions, best first
    scores: np.ndarray  # raw BM25 scores, same order


class LexicalIndex:
    """A BM25 index (bm25s, Lucene variant) over the catalog; positions match the catalog's."""

    def __init__(self, catalog: Catalog, k1: float = 1.2, b: float = 0.75):
        import bm25s

        self._bm25s = bm25s
        self.size = len(catalog)
        tokens = bm25s.tokenize([lexical_text(t) for t in catalog.tracks], stopwords="en",
                                token_pattern=TOKEN_PATTERN, show_progress=False)
        self._vocab = tokens.vocab
        self._model = bm25s.BM25(k1=k1, b=b)
        self._model.index(tokens, show_progress=False)
        self._matrix = None  # token x track scores, made on first use

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every catalog track for the query (zeros when no query term is known)."""
        return self.scores_batch([query])[0]

    def scores_batch(self, queries: list[str]) -> np.ndarray:
        """(len(queries), catalog) BM25 scores: one tokenizer call and one sparse product for
        the batch. Each row is computed on its own, so a batch equals its queries one by one."""
        from scipy import sparse

        if self._matrix is None:
            s = self._model.scores  # bm25s' eager index: per-token (CSC-like) doc scores
            self._matrix = sparse.csr_matrix((s["data"], s["indices"], s["indptr"]),
                                             shape=(len(s["indptr"]) - 1, self.size), dtype=np.float32)
        if not queries:
            return np.zeros((0, self.size), dtype=np.float32)
        toks = self._bm25s.tokenize(queries, stopwords="en", token_pattern=TOKEN_PATTERN, return_ids=False,
                                    show_progress=False)
        rows, cols = [], []
        for r, terms in enumerate(toks):
            ids = self._model.get_tokens_ids([w for w in terms if w in self._vocab]) if terms else []
            rows += [r] * len(ids)
            cols += list(ids)
        q = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                              shape=(len(queries), self._matrix.shape[0]), dtype=np.float32)
        return np.asarray((q @ self._matrix).todense(), dtype=np.float32)

    def search(self, query: str, k: int) -> LexicalHits:
        s = self.scores(query)
        top = self.search_scores(s, k)
        return LexicalHits(top, s[top])

    @staticmethod
    def search_scores(s: np.ndarray, k: int) -> np.ndarray:
        """Positions of the k best non-zero scores, best first."""
        k = min(k, s.size)
        top = np.argpartition(-s, k - 1)[:k] if k < s.size else np.arange(s.size)
        top = top[s[top] > 0]
        return top[np.argsort(-s[top], kind="stable")]


def normalise(scores: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] by the query's best score, so weights mean the same across queries."""
    m = float(scores.max()) if scores.size else 0.0
    return scores / m if m > 0 else np.zeros_like(scores)


def fuse_weighted(dense: np.ndarray, lexical_norm: np.ndarray, weight: float) -> np.ndarray:
    """Dense cosine plus `weight` x normalised BM25 (dense keeps its absolute scale: a weak
    dense match stays weak even when it is the best of a bad lot)."""
    return dense + weight * lexical_norm


def fuse_rrf(dense_rank: np.ndarray, lexical_rank: np.ndarray, weight: float, k: int = 60) -> np.ndarray:
    """Reciprocal-rank fusion; a rank of -1 means 'not retrieved by that side'."""
    d = np.where(dense_rank >= 0, 1.0 / (k + dense_rank + 1), 0.0)
    lx = np.where(lexical_rank >= 0, 1.0 / (k + lexical_rank + 1), 0.0)
    return (1 - weight) * d + weight * lx
