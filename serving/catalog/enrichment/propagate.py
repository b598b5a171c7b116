"""From evidence rows to per-artist attributes: aggregation, the artist graph, propagation.

Direct evidence covers the artists listeners kept; the rest of the catalog is reached through
an artist graph: artists kept together in one dialog (co-occurrence) and artists whose tracks
sit close in the embedding space (mean track vector, cosine kNN). Labels spread over that graph
by a few steps of label propagation (after Zhou et al. 2004: F <- Y + a P F, with a smaller where Y is large), so an artist
nobody asked for by genre inherits the genres of the artists it is kept with or sounds like
(as far as its text embedding says). Pure numpy/scipy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from serving.catalog.enrichment.text import name_words, named_alike
from serving.text import norm

ALPHA = 0.5  # weight of the neighbours against an artist's own evidence
STEPS = 6
KNN = 10
KNN_MIN_SIM = 0.55  # below this, MiniLM neighbours of short artist texts are mostly noise
CO_WEIGHT = 1.0
NEGATIVE = 2.0  # net dislike votes count this much against propagated evidence
EMB_WEIGHT = 0.3


@dataclass
class ArtistGraph:
    names: list[str]  # normalised artist keys
    display: list[str]
    co: sparse.csr_matrix  # co-occurrence counts (symmetric, no diagonal)
    emb: sparse.csr_matrix  # cosine kNN weights (symmetric)
    vectors: np.ndarray | None = None  # mean track vector per artist (normalised)

    @property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    def combined(self, embedding: bool = True) -> sparse.csr_matrix:
        """The propagation graph; `embedding=False`: listener evidence only (co-occurrence)."""
        co = self.co.copy().astype(np.float32)
        if co.nnz:
            co.data = np.log1p(co.data)  # 10 shared dialogs are not 10x the evidence of one
        if not embedding:
            return (CO_WEIGHT * co).tocsr()
        return (CO_WEIGHT * co + EMB_WEIGHT * self.emb).tocsr()


def artist_keys(artists) -> list[str]:
    return [k for k in (norm(a) for a in artists) if k]


def build_graph(tracks, vectors: np.ndarray | None, kept_lists: list[list[str]]) -> ArtistGraph:
    """`tracks`: catalog tracks; `vectors`: their embeddings (rows aligned) or None;
    `kept_lists`: track ids kept together, one list per dialog."""
    idx: dict[str, int] = {}
    display: list[str] = []
    rows_of: dict[int, list[int]] = defaultdict(list)
    lead_of: dict[str, int] = {}
    for r, t in enumerate(tracks):
        for j, (a, k) in enumerate(zip(t.artists, artist_keys(t.artists))):
            if k not in idx:
                idx[k] = len(display)
                display.append(a)
            if j == 0:
                rows_of[idx[k]].append(r)
                lead_of[t.track_id] = idx[k]
    n = len(display)
    co = defaultdict(float)
    for kept in kept_lists:
        arts = sorted({lead_of[t] for t in kept if t in lead_of})
        for x in range(len(arts)):
            for y in range(x + 1, len(arts)):
                co[(arts[x], arts[y])] += 1.0
    if co:
        i, j = zip(*co.keys())
        v = list(co.values())
        com = sparse.coo_matrix((v + v, (list(i) + list(j), list(j) + list(i))), shape=(n, n)).tocsr()
    else:
        com = sparse.csr_matrix((n, n), dtype=np.float32)
    emb = sparse.csr_matrix((n, n), dtype=np.float32)
    av = None
    if vectors is not None and len(vectors):
        av = np.zeros((n, vectors.shape[1]), dtype=np.float32)
        for a, rs in rows_of.items():
            av[a] = vectors[rs].mean(axis=0)
        nrm = np.linalg.norm(av, axis=1, keepdims=True)
        av = np.divide(av, nrm, out=np.zeros_like(av), where=nrm > 0)
        emb = drop_name_neighbours(knn_graph(av), display)
    return ArtistGraph(list(idx), display, com, emb, av)


def knn_graph(av: np.ndarray, k: int = KNN, min_sim: float = KNN_MIN_SIM, chunk: int = 2048) -> sparse.csr_matrix:
    n = len(av)
    rows, cols, vals = [], [], []
    for s in range(0, n, chunk):
        sims = av[s : s + chunk] @ av.T
        for r in range(sims.shape[0]):
            sims[r, s + r] = -1.0
        kk = min(k, n - 1)
        if kk <= 0:
            break
        top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        for r in range(sims.shape[0]):
            for c in top[r]:
                if sims[r, c] >= min_sim:
                    rows.append(s + r)
                    cols.append(int(c))
                    vals.append(float(sims[r, c]))
    m = sparse.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
    return m.maximum(m.T).tocsr()


def drop_name_neighbours(m: sparse.csr_matrix, display: list[str]) -> sparse.csr_matrix:
    """Embedding neighbours whose names share a word ("Johnny Gill" / "Johnny Cash", "Naira Marley" /
    "Bob Marley") are neighbours because the text embedding reads the name, not the music: drop
    those edges (an alias, "Bob Marley" / "Bob Marley & The Wailers", stays). Acts that really
    belong together are linked by co-occurrence instead."""
    coo = m.tocoo()
    words = [name_words(n) for n in display]
    keep = np.fromiter((not named_alike(words[i], words[j]) for i, j in zip(coo.row.tolist(), coo.col.tolist())),
                       bool, coo.nnz)
    return sparse.coo_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=m.shape).tocsr()


def direct_matrix(graph: ArtistGraph, labels: list[str], track_artists: dict[str, list[str]],
                  votes: list[tuple[str, str, float]]) -> np.ndarray:
    """(artists x labels) sum of votes; the lead artist gets a full vote, featured artists half."""
    ai = graph.index
    li = {l: j for j, l in enumerate(labels)}
    Y = np.zeros((len(graph.names), len(labels)), dtype=np.float32)
    for tid, lab, w in votes:
        if lab not in li:
            continue
        for pos, k in enumerate(track_artists.get(tid, ())):
            if k in ai:
                Y[ai[k], li[lab]] += w * (1.0 if pos == 0 else 0.5)
    return Y


def add_artist_votes(Y: np.ndarray, graph: ArtistGraph, labels: list[str], votes: list[tuple[str, str, float]]) -> None:
    """Votes about an artist as a whole (an LLM's label), added to Y in place."""
    ai = graph.index
    li = {l: j for j, l in enumerate(labels)}
    for key, lab, w in votes:
        if key in ai and lab in li:
            Y[ai[key], li[lab]] += w


def propagate(Y: np.ndarray, W: sparse.csr_matrix, alpha: float = ALPHA, steps: int = STEPS) -> np.ndarray:
    """Label propagation over W from non-negative evidence Y (rows: artists)."""
    neg = np.clip(-Y, 0, None)
    Y = np.clip(Y, 0, None)
    deg = np.asarray(W.sum(axis=1)).ravel()
    inv = np.divide(1.0, deg, out=np.zeros_like(deg, dtype=np.float64), where=deg > 0)
    P = sparse.diags(inv) @ W
    # An artist's own evidence outweighs its neighbours' in proportion to how much there is:
    # neighbours fill in for artists nobody asked about, they do not relabel those somebody did.
    a = alpha / (1.0 + Y.sum(axis=1, keepdims=True))
    F = Y.copy()
    for _ in range(steps):
        F = Y + a * (P @ F)
    # A listener disliking an artist's track for a label is evidence against it that no
    # neighbour outvotes ("not Whitney Houston in my metal playlist").
    return np.clip(F - NEGATIVE * neg, 0, None).astype(np.float32)
