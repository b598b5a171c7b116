"""The enrichment job: catalog + track vectors + curation dialogs -> Enrichment.

Two map stages run per record and are what a cluster parallelises (Ray Data, see
`ray_job.py`; in-process here): dialogs -> evidence rows, tracks -> text attributes.
Aggregation, the artist graph and propagation then run once over the small per-artist
tables (thousands of artists, not millions of tracks).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from serving.catalog.enrichment.artifact import PIPELINE_VERSION, ArtistAttrs, Enrichment, enrichment_key
from serving.catalog.enrichment.evidence import cooccurrence, dialog_evidence, set_artists
from serving.catalog.enrichment.llm_labels import W_LLM, ArtistLabel, artist_votes, key_suffix
from serving.catalog.enrichment.propagate import add_artist_votes, artist_keys, build_graph, direct_matrix, propagate
from serving.catalog.enrichment.text import artist_language, title_language, track_flags
from serving.intent.taxonomy import TAXONOMY
from serving.schemas import Track

GENRES = tuple(t.name for t in TAXONOMY if t.kind == "genre")
MOODS = tuple(f"{t.kind}:{t.name}" for t in TAXONOMY if t.kind in ("mood", "activity"))
ENERGY = {f"{t.kind}:{t.name}": t.energy for t in TAXONOMY if t.energy is not None}
DECADES = tuple(f"decade:{d}" for d in range(1950, 2030, 10))
LABELS = tuple(f"genre:{g}" for g in GENRES) + MOODS + DECADES
N_SIMILAR = 15
EMBEDDING_TRUST = 0.5  # how much evidence reached through embedding neighbours counts toward "known"
MIN_SHARE = 0.04  # genre shares below this are noise from one stray vote; not stored


def track_attrs(t: Track) -> dict[str, Any]:
    out: dict[str, Any] = {}
    flags = track_flags(t)
    if flags:
        out["flags"] = flags
    lang, why = title_language(f"{t.title} {t.album or ''}")
    if lang:
        out["language"] = lang
        out["language_evidence"] = why
    return out


@dataclass
class JobStats:
    tracks: int
    dialogs: int
    artists: int
    evidence_rows: int
    map_seconds: float
    total_seconds: float
    engine: str

    def as_dict(self) -> dict[str, Any]:
        return {"tracks": self.tracks, "dialogs": self.dialogs, "artists": self.artists,
                "evidence_rows": self.evidence_rows, "map_seconds": round(self.map_seconds, 2),
                "total_seconds": round(self.total_seconds, 2),
                "tracks_per_s": round(self.tracks / self.total_seconds, 1) if self.total_seconds > 0 else 0.0,
                "engine": self.engine}


# (dialogs -> evidence rows and co-kept lists, tracks -> attributes): in-process by default.
MapStages = Callable[[list[dict], list[Track]], tuple[list[tuple], list[list[str]], list[dict]]]


def catalog_artists(tracks) -> list[str]:
    return sorted({a for t in tracks for a in t.artists})


def local_maps(dialogs: list[dict], tracks: list[Track]) -> tuple[list[tuple], list[list[str]], list[dict]]:
    set_artists(catalog_artists(tracks))
    rows = [r for d in dialogs for r in dialog_evidence(d)]
    return rows, [cooccurrence(d) for d in dialogs], [track_attrs(t) for t in tracks]


def build(catalog, vectors: np.ndarray | None, dialogs: list[dict], embedder_version: str,
          evidence_fingerprint: str, maps: MapStages = local_maps, engine: str = "in-process",
          exclude_dialogs: Iterable[str] = (), llm_labels: Iterable[ArtistLabel] = (),
          llm_weight: float = W_LLM) -> tuple[Enrichment, JobStats]:
    """`exclude_dialogs`: dialog ids left out (cross-validation: a fold never learns from itself);
    `llm_labels`: artist labels from `segue label-artists`, direct evidence at `llm_weight` each."""
    t0 = time.perf_counter()
    skip = set(exclude_dialogs)
    dialogs = [d for d in dialogs if str(d.get("id")) not in skip]
    tracks = list(catalog.tracks)
    rows, kept_lists, tattrs = maps(dialogs, tracks)
    t1 = time.perf_counter()
    graph = build_graph(tracks, vectors, kept_lists)
    track_artists = {t.track_id: artist_keys(t.artists) for t in tracks}
    Y = direct_matrix(graph, list(LABELS), track_artists, [(r[0], r[1], r[2]) for r in rows])
    llm_labels = list(llm_labels)
    add_artist_votes(Y, graph, list(LABELS), artist_votes(llm_labels, llm_weight))
    F = propagate(Y, graph.combined())
    # How much an artist is KNOWN counts only what listeners did (their own tracks kept, or kept
    # beside artists who were): embedding neighbours of short title/artist texts are largely
    # neighbours by name ("Johnny Gill" next to "Johnny Cash", "Blue October" next to blues), so
    # they shape genre shares in full but count only EMBEDDING_TRUST toward an artist being known.
    F_listeners = propagate(Y, graph.combined(embedding=False))
    enr = _assemble(catalog, graph, Y, F, rows, track_artists, tracks, tattrs, F_listeners,
                    {lab.key: lab for lab in llm_labels})
    key = enrichment_key(catalog.fingerprint, embedder_version, evidence_fingerprint + key_suffix(llm_labels, llm_weight)
                         + ("-x" + ",".join(sorted(skip)) if skip else ""))
    stats = JobStats(len(tracks), len(dialogs), len(enr.artists), len(rows), t1 - t0, time.perf_counter() - t0, engine)
    enr.key = key
    enr.meta = {"pipeline": PIPELINE_VERSION, "catalog": catalog.fingerprint, "embedder": embedder_version,
                "evidence": evidence_fingerprint, "excluded_dialogs": len(skip), "job": stats.as_dict(),
                "sources": ["dialog kept/disliked tracks by request words", "wizard search queries",
                            "artist co-occurrence in kept playlists", "track-embedding artist kNN",
                            "title/album text"] + ([f"LLM artist labels ({len(llm_labels)} artists, "
                                                    f"weight {llm_weight})"] if llm_labels else []),
                "labels": list(LABELS)}
    return enr, stats


def _assemble(catalog, graph, Y, F, rows, track_artists, tracks, tattrs, F_listeners,
              llm_of: dict[str, ArtistLabel]) -> Enrichment:
    li = {l: j for j, l in enumerate(LABELS)}
    gcols = [li[f"genre:{g}"] for g in GENRES]
    mcols = [li[m] for m in MOODS]
    dcols = [li[d] for d in DECADES]
    # Evidence counts per artist and source, with a few examples (dialog ids / search queries).
    ev_count: dict[str, Counter] = defaultdict(Counter)
    ev_examples: dict[str, list[str]] = defaultdict(list)
    for tid, lab, w, source, note in rows:
        arts = track_artists.get(tid)
        if not arts:
            continue
        ev_count[arts[0]][source] += 1
        ex = ev_examples[arts[0]]
        if len(ex) < 3 and lab.startswith("genre:") and w > 0:
            ex.append(f"{source} '{lab[6:]}' ({note})")
    langs: dict[str, Counter] = defaultdict(Counter)
    texts: dict[str, list[str]] = defaultdict(list)
    n_tracks: Counter = Counter()
    for t, a in zip(tracks, tattrs):
        if not track_artists[t.track_id]:
            continue
        lead = track_artists[t.track_id][0]
        n_tracks[lead] += 1
        texts[lead] += [t.title, t.album or ""]
        if "language" in a:
            langs[lead][a["language"]] += 1
    co = graph.co.tocsr()
    sim = _similarity(graph, F[:, gcols], F_listeners[:, gcols])
    artists: dict[str, ArtistAttrs] = {}
    for i, key in enumerate(graph.names):
        g = F[i, gcols]
        total = float(g.sum())
        genres = {GENRES[j]: round(float(g[j] / total), 3) for j in np.argsort(-g) if total > 0 and g[j] / total >= MIN_SHARE}
        own = float(F_listeners[i, gcols].sum())
        conf = own + EMBEDDING_TRUST * max(0.0, total - own)
        d = F[i, dcols]
        dconf = float(d.sum())
        decades = {DECADES[j][7:]: round(float(d[j] / dconf), 3) for j in np.argsort(-d)
                   if dconf > 0 and d[j] / dconf >= 0.1}
        m = F[i, mcols]
        mconf = float(m.sum())
        moods = {MOODS[j].split(":", 1)[1]: round(float(m[j] / mconf), 3) for j in np.argsort(-m)[:4]
                 if mconf > 0 and m[j] / mconf >= 0.1}
        e = [(float(F[i, li[k]]), v) for k, v in ENERGY.items() if k in li and F[i, li[k]] > 0]
        energy = round(sum(w * v for w, v in e) / sum(w for w, _ in e), 2) if e else None
        lang, lang_why = None, ""
        lc = langs.get(key)
        if lc:
            top, c = lc.most_common(1)[0]
            if c >= max(1, 0.4 * n_tracks.get(key, 1)):
                lang, lang_why = top, f"{c} of {n_tracks.get(key, 1)} titles"
        if lang is None and key in texts:
            lang, lang_why = artist_language(texts[key])
        row = co.getrow(i)
        evidence = {k: v for k, v in ev_count.get(key, {}).items()}
        if lang:
            evidence["language"] = lang_why
        evidence["co_artists"] = int(row.nnz)
        evidence["emb_neighbours"] = int(graph.emb.getrow(i).nnz)
        evidence["direct_genre_votes"] = round(float(np.clip(Y[i, gcols], 0, None).sum()), 2)
        evidence["genre_votes_with_embedding"] = round(total, 3)
        if ev_examples.get(key):
            evidence["examples"] = ev_examples[key]
        if key in llm_of:
            lab = llm_of[key]
            evidence["llm"] = "|".join(lab.genres) + (f" {lab.decade}" if lab.decade else "") \
                + (f" {lab.language}" if lab.language else "")
        artists[key] = ArtistAttrs(
            name=graph.display[i], genres=genres, confidence=round(conf, 3), decades=decades,
            decade_confidence=round(dconf, 3), language=lang, energy=energy, moods=moods,
            similar=sim.get(i, []), evidence=evidence)
    tracks_out = {t.track_id: a for t, a in zip(tracks, tattrs) if a}
    return Enrichment("", artists, tracks_out)


def _similarity(graph, G: np.ndarray, G_listeners: np.ndarray) -> dict[int, list[tuple[str, float]]]:
    """Artist -> most similar artists: kept together (co-occurrence, cosine over dialogs),
    close in the embedding space, and alike in genre profile. Only for artists with some
    evidence: a similarity list built from noise would send "like X" anywhere.

    The neighbour's side of the genre agreement is its *listener* profile (`G_listeners`:
    propagated over co-occurrence only). Its full profile would be circular: an artist linked
    to X only by an embedding edge gets its genres from X through that edge (Hippo Campus,
    never kept by anyone, had Linkin Park's exact profile), and then agreed with X perfectly
    (`segue eval --coherence`: "bands similar to Linkin Park" -> Redfoo, docs/quality.md)."""
    co = graph.co.tocsr().astype(np.float32)
    deg = np.sqrt(np.asarray(co.sum(axis=1)).ravel()) + 1e-6
    Gn = _unit_rows(G)
    has_genres = np.linalg.norm(G, axis=1) > 0
    Ln = _unit_rows(G_listeners)
    lnrm = np.linalg.norm(G_listeners, axis=1)
    out: dict[int, list[tuple[str, float]]] = {}
    av = graph.vectors
    for i in range(len(graph.names)):
        row = co.getrow(i)
        if row.nnz == 0 and not has_genres[i]:
            continue
        score: dict[int, float] = defaultdict(float)
        for j, v in zip(row.indices.tolist(), row.data.tolist()):
            score[j] += v / (deg[i] * deg[j])
        if av is not None:
            e = graph.emb.getrow(i)
            for j, v in zip(e.indices.tolist(), e.data.tolist()):
                score[j] += 0.3 * v
        if has_genres[i] and score:
            for j in list(score):
                score[j] += 0.5 * float(Gn[i] @ Ln[j]) * min(1.0, float(lnrm[j]))
        best = sorted(score.items(), key=lambda kv: -kv[1])[:N_SIMILAR]
        out[i] = [(graph.display[j], round(float(s), 3)) for j, s in best if s > 0]
    return out


def _unit_rows(M: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(M, axis=1, keepdims=True)
    return np.divide(M, n, out=np.zeros_like(M), where=n > 0)
