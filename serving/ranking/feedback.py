"""Ranking with session feedback: liked tracks pull their neighbours up, disliked ones never return.

Works over any ranker: the ranker scores the candidates as usual (search mode: no
diversity yet), and the feedback adds, per candidate,
- embedding similarity to the liked tracks (computed by the retriever: `Candidate.liked_sim`;
  0 for the candidates a learned ranker borrows from its priors: measured, their true
  similarity lowers the CPCD turn metrics, docs/quality.md);
- item co-occurrence: in how many curated training playlists the candidate sits next to a
  liked track (item-item collaborative filtering over the learned ranker's priors, so the
  counts come from training dialogs only; none for rule-based rankers);
- a liked lead artist, and artists that co-occur with liked artists in those playlists;
- the album of a liked track (one kept track of a record makes its other tracks likelier keeps).
Then disliked tracks and their near-duplicates (same recording, or near-identical vectors:
the retriever's `disliked_sim`, or for borrowed candidates their prior vector against the
disliked tracks' vectors the retriever sends along, `FeedbackVectors`) are removed, pinned
tracks (kept and liked, in order) go first, and the usual artist cap and sequencing shape the rest.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from serving.intent.model import Intent
from serving.ranking.base import Ranker
from serving.ranking.diversity import artist_cap, head_first, keeps_caps, recording_key, select_diverse, sequence
from serving.retrieval import filters
from serving.retrieval.filters import CONSENSUS_HEAD, admits, constraints, genre_head, known_head, passes_filters
from serving.retrieval.retriever import NEAR_DUPLICATE_SIM
from serving.text import norm
from serving.schemas import Candidate, Feedback, FeedbackVectors, RankedTrack, Track


@dataclass(frozen=True)
class FeedbackWeights:
    """Chosen by `segue tune-feedback` on CPCD train folds 0 and 1 (coordinate descent on macro
    hit@20 + hit@100 + recall@100 under the turn-by-turn protocol; procedure and numbers in
    docs/quality.md). The base ranker's score is z-normalised, so these are in its units.
    Hand-set values before tuning: liked_sim 2.0, cooc 3.0, liked_artist 1.0, cooc_artist 0.3;
    first tuning (no liked-artist cap): 2.0 / 1.0 / 3.0 / 1.0; second (cap 30): 6.0 / 0.5 / 3.0 / 0.6;
    third, after issue 14's round 3 (2026-12-02): 3.0 / 1.0 / 3.0 / 0.3, kept. The fourth tuning
    (2026-12-06, with liked_album) chose 3.0 / 0.5 / 3.0 / 0.6 / album 3.0, but on the untouched folds
    2-4 its cooc / cooc_artist changes gained nothing over the third's weights plus liked_album 3.0,
    which is what is served: liked_album alone moved every fold group the same small way
    (docs/quality.md, paired per-dialog differences)."""

    liked_sim: float = 3.0
    cooc: float = 1.0
    liked_artist: float = 3.0
    cooc_artist: float = 0.3
    liked_album: float = 3.0
    cooc_expansion: int = 200  # co-occurring recordings borrowed as candidates (not tuned)
    # The diversity cap for the artists of liked and kept tracks (0: the ranker's usual cap): the
    # listener asked for more of them by liking them.
    liked_artist_cap: int = 30


SIGNALS = ("liked_sim", "cooc", "liked_artist", "cooc_artist", "liked_album")
# After a like, a genre request's first 20 places go to the liked artists and to artists known to fit
# the genre, under the usual artist cap; the liked artists' own cap (`liked_artist_cap`) holds after
# them. Before session 16, a like ended the genre head and the liked artists' cap of 30 held from the
# first place: three likes of one artist filled 58% of the next 20 tracks with it. The usual cap alone
# gave the places it left to text matches the relaxed retrieval lets in ("Daft Punk" for "pop punk"),
# hence the genre head. One artist@20 of a session's second playlist 0.58 / 0.61 / 0.56 -> 0.30 / 0.32 /
# 0.31 (dev / held-out / fresh); CPCD turn CV unchanged (docs/quality.md, sixteenth round).
LIKED_HEAD = True
# ...and a request naming no genre ("music for a spin class", then three likes and "more like these")
# takes the genres its liked artists agree on (`filters.liked_consensus`): its second playlist was one
# artist for half its places on average, 19 of 20 in many (read sets, one artist@20 0.545 -> 0.278),
# while CPCD turn CV did not move (hit@20 -0.0013 [-0.0055, +0.0027]). The places the liked artist
# held show what the request's other candidates are: off-genre@20 of that playlist 0.024 -> 0.091
# (docs/quality.md, seventeenth round).
LIKED_HEAD_ANY = True
# "add some Ed Sheeran" must show Ed Sheeran even when a liked artist has twenty tracks that
# outscore his: each artist the listener asked for gets this many of its best tracks first.
ASKED_FIRST = 3


@dataclass
class Scored:
    """One turn, prepared: what `FeedbackRanking.finish` combines under given weights."""

    intent: Intent
    pinned: list[Candidate]
    pool: list[Candidate]
    base: np.ndarray  # the wrapped ranker's z-normalised score, per pool candidate
    signals: dict[str, np.ndarray]  # SIGNALS, per pool candidate
    reason_of: Callable[[Candidate], str]
    cooc_tracks: Counter
    liked_artists: set[str]
    liked_albums: set[str] = field(default_factory=set)
    # What the playlist's head takes first (`FeedbackRanking._head`): a genre request's first places go
    # to artists known to fit, and after a like to the liked artists too (LIKED_HEAD).
    head: Callable[[Track], bool] | None = None
    prefer: Callable[[Track], bool] | None = None  # which head tracks go first (filters.genre_head)


class CoOccurrence:
    """Recording and lead-artist co-occurrence in the priors' kept playlists."""

    def __init__(self, goal_keys: list[frozenset[str]], goal_artists: list[frozenset[str]]):
        self.goal_keys = goal_keys
        self.goal_artists = goal_artists
        self._by_key: dict[str, list[int]] = defaultdict(list)
        self._by_artist: dict[str, list[int]] = defaultdict(list)
        for d, g in enumerate(goal_keys):
            for k in g:
                self._by_key[k].append(d)
        for d, g in enumerate(goal_artists):
            for a in g:
                self._by_artist[a].append(d)

    def tracks(self, liked_keys: list[str]) -> Counter:
        """recording -> sum over liked tracks and the playlists holding both of 1/log2(1+|playlist|)."""
        out: Counter = Counter()
        for lk in dict.fromkeys(liked_keys):
            for d in self._by_key.get(lk, ()):
                w = 1.0 / math.log2(1 + len(self.goal_keys[d]))
                for k in self.goal_keys[d]:
                    if k != lk:
                        out[k] += w
        return out

    def artists(self, liked_artists: list[str]) -> Counter:
        out: Counter = Counter()
        for la in dict.fromkeys(liked_artists):
            ds = self._by_artist.get(la, ())
            for d in ds:
                for a in self.goal_artists[d]:
                    if a != la:
                        out[a] += 1.0 / len(ds)
        return out


def _z(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    sd = float(x.std())
    return (x - float(x.mean())) / (sd if sd > 1e-9 else 1.0)


class FeedbackRanking:
    """Wraps one ranker; built once per ranker (the co-occurrence index is built here)."""

    def __init__(self, ranker: Ranker, weights: FeedbackWeights = FeedbackWeights()):
        self.ranker = ranker
        self.weights = weights
        priors = getattr(getattr(ranker, "artifact", None), "priors", None)
        self.cooc = CoOccurrence(priors.goal_keys, priors.goal_artists) if priors is not None else None
        self._track_of: dict[str, Track] = dict(priors.track_of) if priors is not None else {}
        # The learned ranker borrows candidates from its priors: their tracks by id.
        self._by_id: dict[str, Track] = {t.track_id: t for t in self._track_of.values()}
        # ...and their vectors (the priors keep one per recording): a borrowed copy of a disliked song drops.
        vector_of = priors.vector_of if priors is not None else {}
        self._vec_row = {k: i for i, k in enumerate(vector_of)}
        self._vecs = (np.stack([np.asarray(v, np.float32) for v in vector_of.values()]) if vector_of
                      else np.zeros((0, 0), np.float32))
        self.version = ranker.version

    def rank(self, intent: Intent, candidates: list[Candidate], length: int, feedback: Feedback | None,
             max_per_artist: int, mode: str = "playlist", query_vector=None,
             vectors: FeedbackVectors | None = None) -> list[RankedTrack]:
        """`query_vector`: the request's embedding, for learned rankers (they have no embedder when
        served); `vectors`: the disliked tracks' vectors from the retriever (Retriever.feedback_vectors)."""
        if not feedback:
            if hasattr(self.ranker, "score_pool"):
                return self.ranker.rank(intent, candidates, length, mode, query_vector=query_vector)
            return self.ranker.rank(intent, candidates, length, mode)
        return self.finish(self.prepare(intent, candidates, feedback, query_vector, vectors), self.weights, length,
                           max_per_artist, mode)

    def _disliked_sims(self, pool: list[Candidate], retrieved: set[str], vectors: FeedbackVectors | None):
        """disliked_sim per pool candidate: the retriever's for those it sent, and for those
        borrowed from the priors the best cosine of their prior vector to a disliked track's."""
        sims = np.asarray([c.disliked_sim for c in pool], np.float64)
        if vectors is None or not len(vectors.disliked) or not len(self._vecs):
            return sims
        idx = [(i, self._vec_row.get(recording_key(c.track))) for i, c in enumerate(pool)
               if c.track.track_id not in retrieved]
        idx = [(i, r) for i, r in idx if r is not None]
        if idx:
            B = self._vecs[np.asarray([r for _, r in idx], np.int64)]
            sims[np.asarray([i for i, _ in idx], np.int64)] = (B @ np.asarray(vectors.disliked, np.float32).T).max(axis=1)
        return sims

    def prepare(self, intent: Intent, candidates: list[Candidate], feedback: Feedback,
                query_vector=None, vectors: FeedbackVectors | None = None) -> "Scored":
        """Everything about a turn that does not depend on the weights: the pool (retrieval's
        candidates, co-occurring recordings it missed, minus dislikes and their copies), the base
        ranker's z-scores and each feedback signal per candidate. Tuning reuses it across weights.
        Without `vectors`, borrowed candidates are dropped only as the same recording as a dislike."""
        w = self.weights
        by_id = {c.track.track_id: c for c in candidates}
        # The retriever applied the intent's filters; a disliked track is never pinned.
        pinned = [by_id[t] for t in feedback.pinned if t in by_id and t not in feedback.disliked]
        liked_keys = [recording_key(by_id[t].track) for t in feedback.liked if t in by_id]
        liked_artists = [_lead(by_id[t].track) for t in feedback.liked if t in by_id]
        liked_albums = {album_key(by_id[t].track) for t in feedback.liked if t in by_id} - {""}
        banned_keys = set()
        for t in feedback.disliked:
            c = by_id.get(t)
            banned_keys.add(recording_key(c.track) if c is not None else t)
        cooc_t = self.cooc.tracks(liked_keys) if self.cooc is not None else Counter()
        cooc_a = self.cooc.artists(liked_artists) if self.cooc is not None else Counter()
        # Borrow co-occurring recordings that retrieval missed.
        have = {recording_key(c.track) for c in candidates}
        extra = []
        enr = getattr(self.ranker, "enrichment", None)
        wanted = None if enr is None else constraints(intent, enr)  # the borrowed ones' test, the head's rules
        strict = wanted if filters.SESSION_BORROWED_ADMITS else None
        for k, _ in cooc_t.most_common(w.cooc_expansion):
            t = self._track_of.get(k)
            if t is not None and k not in have and passes_filters(intent, t) \
                    and (strict is None or admits(strict, t, enr, strict=True)):
                have.add(k)
                extra.append(Candidate(track=t, dense_score=0.0, retrieval_rank=-1))
        pool, raw, reason_of = self._base(intent, candidates + extra, query_vector)
        s = _z(raw)
        dsim = self._disliked_sims(pool, set(by_id), vectors)
        liked_count = Counter(liked_artists)
        keep, base, signals = [], [], {name: [] for name in SIGNALS}
        for c, bs, ds in zip(pool, s.tolist(), dsim.tolist()):
            key = recording_key(c.track)
            if key in banned_keys or c.track.track_id in feedback.disliked or ds >= NEAR_DUPLICATE_SIM:
                continue
            lead = _lead(c.track)
            keep.append(c)
            base.append(bs)
            signals["liked_sim"].append(c.liked_sim)
            signals["cooc"].append(math.log1p(cooc_t.get(key, 0.0)))
            signals["liked_artist"].append(float(liked_count.get(lead, 0) > 0))
            signals["cooc_artist"].append(math.log1p(cooc_a.get(lead, 0.0)))
            signals["liked_album"].append(float(album_key(c.track) in liked_albums))
        head, prefer = self._head(wanted, enr, bool(pinned), set(liked_artists))
        return Scored(intent, pinned, keep, np.asarray(base, np.float64),
                      {k: np.asarray(v, np.float64) for k, v in signals.items()}, reason_of, cooc_t,
                      set(liked_artists), liked_albums, head, prefer)

    @staticmethod
    def _head(wanted, enr, liked: bool, liked_artists: set[str]):
        """(what a turn's first places take, which of those go first), or Nones: before any like the
        genre request's head (`filters.known_head`, `filters.genre_head`); after one, the liked
        artists and the artists known to fit (LIKED_HEAD), the genres the liked artists agree on
        standing in for a request that names none (LIKED_HEAD_ANY)."""
        if wanted is None:
            return None, None
        if not liked:
            return known_head(wanted, enr), genre_head(wanted, enr)
        known = known_head(wanted, enr) if LIKED_HEAD else None
        if known is None and LIKED_HEAD_ANY:
            liked_genres = filters.liked_consensus(wanted, liked_artists, enr)
            known = known_head(liked_genres, enr) if liked_genres is not None else None
        if known is None:
            return None, None
        return (lambda t: _lead(t) in liked_artists or known(t)), None

    def finish(self, sc: "Scored", weights: "FeedbackWeights", length: int, max_per_artist: int,
               mode: str = "playlist") -> list[RankedTrack]:
        """The playlist from a prepared turn under `weights`: pinned first, then by base score plus
        the weighted feedback signals, artist-capped and sequenced."""
        head = [RankedTrack(track_id=c.track.track_id, title=c.track.title, artists=list(c.track.artists),
                            album=c.track.album, score=1.0, reason="you kept this one")
                for c in sc.pinned[:length]]
        tail = [RankedTrack(track_id=c.track.track_id, title=c.track.title, artists=list(c.track.artists),
                            album=c.track.album, score=round(v, 4),
                            reason=_reason(sc.reason_of(c), c, sc.cooc_tracks, sc.liked_artists, sc.liked_albums))
                for v, c in self.order(sc, weights, length, max_per_artist, mode)]
        return head + tail

    @staticmethod
    def order(sc: "Scored", weights: "FeedbackWeights", length: int, max_per_artist: int,
              mode: str = "playlist") -> list[tuple[float, Candidate]]:
        """The (score, candidate) pairs after the pinned ones, in playlist order."""
        total = sc.base.copy()
        for name in SIGNALS:
            total += getattr(weights, name) * sc.signals[name]
        pinned_ids = {c.track.track_id for c in sc.pinned}
        rest = [(float(total[i]), sc.pool[i]) for i in np.argsort(-total, kind="stable").tolist()
                if sc.pool[i].track.track_id not in pinned_ids]
        if mode == "playlist":
            rest = _asked_first(rest, sc.intent.include_artists, ASKED_FIRST)
        cap = artist_cap(max_per_artist, length) if mode == "playlist" else length
        own = ({c.track.artists[0].lower(): max(cap, weights.liked_artist_cap) for c in sc.pinned if c.track.artists}
               if weights.liked_artist_cap and mode == "playlist" else None)
        n = max(0, length - len(sc.pinned))
        uncapped = {a.lower() for a in sc.intent.include_artists}
        relax = not keeps_caps(sc.intent.similar_artists, mode)
        if sc.head is not None and mode == "playlist":
            head, prefer = sc.head, sc.prefer
            pos = head_first(list(range(len(rest))), lambda i: head(rest[i][1].track), min(CONSENSUS_HEAD, n),
                             lambda o, k: select_diverse(o, k, track_of=lambda i: rest[i][1].track, max_per_artist=cap,
                                                         # the usual cap: the liked artists' own holds after the head
                                                         uncapped_artists=uncapped, relax=relax),
                             None if prefer is None else (lambda i: prefer(rest[i][1].track)))
            rest = [rest[i] for i in pos]
        picked = select_diverse(rest, n, track_of=lambda x: x[1].track, max_per_artist=cap,
                                uncapped_artists=uncapped, artist_caps=own, relax=relax)
        return sequence(picked, track_of=lambda x: x[1].track) if mode == "playlist" else picked

    def _base(self, intent: Intent, pool: list[Candidate], query_vector=None):
        """The wrapped ranker's scores over the pool (a learned ranker also borrows from its priors)."""
        if hasattr(self.ranker, "score_pool"):
            cands, raw, reason_of = self.ranker.score_pool(intent, pool, query_vector)
            return cands, np.asarray(raw, dtype=np.float64), reason_of
        base = self.ranker.rank(intent, pool, len(pool), mode="search")
        by_id = {c.track.track_id: c for c in pool}
        cands = [by_id[r.track_id] for r in base if r.track_id in by_id]
        reasons = {r.track_id: r.reason for r in base}
        raw = np.asarray([r.score for r in base if r.track_id in by_id], dtype=np.float64)
        return cands, raw, (lambda c: reasons.get(c.track.track_id, ""))


def _asked_first(rest: list[tuple[float, Candidate]], asked: list[str], n: int) -> list[tuple[float, Candidate]]:
    """`rest` (score order) with the best `n` tracks of each asked-for artist moved to the front."""
    wanted = {norm(a) for a in asked}
    if not wanted or n <= 0:
        return rest
    got: Counter[str] = Counter()
    front: list[int] = []
    for i, (_, c) in enumerate(rest):
        hit = next((a for a in map(norm, c.track.artists) if a in wanted and got[a] < n), None)
        if hit is not None:
            got[hit] += 1
            front.append(i)
    first = set(front)
    return [rest[i] for i in front] + [x for i, x in enumerate(rest) if i not in first]


def album_key(t: Track) -> str:
    """The track's album, normalised; "" when it names no record beyond the track (a single
    released under its own title says nothing its recording key does not)."""
    a = norm(t.album or "")
    return a if a and a != norm(t.title) else ""


def _lead(t: Track) -> str:
    return norm(t.artists[0]) if t.artists else ""


def _reason(base: str, c: Candidate, cooc: Counter, liked_artists: set[str], liked_albums: set[str]) -> str:
    why = []
    if _lead(c.track) in liked_artists:
        why.append(f"by {c.track.artists[0]}, whom you liked")
    elif album_key(c.track) in liked_albums:
        why.append(f"from '{c.track.album}', an album you liked")
    elif cooc.get(recording_key(c.track), 0) > 0:
        why.append("kept alongside tracks you liked")
    elif c.liked_sim >= 0.6:
        why.append("similar to tracks you liked")
    return "; ".join([*why, base]) if why else base
