"""`segue tune-feedback`: choose the session feedback weights by cross-validation on train folds.

The session replay of `segue eval --turns all` runs once over the dialogs of the *tuning*
folds only, with each fold's ranker, priors and enrichment built without it (TurnEvaluator).
Every feedback turn is recorded prepared (FeedbackRanking.prepare: pool, base scores,
signals), so a weight setting costs only the final ordering, not a replay. Coordinate
descent over a grid per weight maximises the objective on those turns; the chosen weights
are then reported by a full `segue eval --turns all` over every fold, and the folds not used
for tuning are reported apart (docs/quality.md), where overfitting to the tuning folds would show.

What a turn's playlist depends on beyond the weights (the dialog state) is fixed by the
protocol (seeds and dislikes), except "keep the first N" pins, which come from the recorded
replay's previous playlist: a second-order effect, and the full evaluation re-measures it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path

from serving.config import AppConfig
from serving.evaluation.runner import Evaluator, Variant
from serving.evaluation.turn_runner import SYSTEMS, SessionSystem, TurnEvaluator
from serving.evaluation.turns import summarise_turns
from serving.ranking.feedback import FeedbackRanking, FeedbackWeights

OBJECTIVE = ("hit@20", "hit@100", "recall@100")  # macro; summed: the three targets
GRID: dict[str, tuple[float, ...]] = {
    "liked_sim": (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0),
    "cooc": (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0),
    "liked_artist": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0),
    "cooc_artist": (0.0, 0.3, 0.6, 1.0, 2.0, 3.0, 4.0),
    "liked_album": (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0),
    "liked_artist_cap": (0, 8, 10, 15, 20, 30),  # the diversity cap of liked artists (0: the usual one)
}


@dataclass(frozen=True)
class HeadIds:
    """A recorded turn's head rule (`Scored.head`, `Scored.prefer`) as the pool tracks it admitted: picklable."""

    ids: frozenset[str]

    def __call__(self, track) -> bool:
        return track.track_id in self.ids


def picklable(sc) -> None:
    """A recorded turn (`Scored`) without its closures, in place: the reasons' (a closure over the
    ranker; ordering never needs it) and the head rule's (over the enrichment: its answers for the
    pool are all ordering needs)."""
    sc.reason_of = None
    if sc.head is not None:
        sc.head = HeadIds(frozenset(c.track.track_id for c in sc.pool if sc.head(c.track)))
    if sc.prefer is not None:
        sc.prefer = HeadIds(frozenset(c.track.track_id for c in sc.pool if sc.prefer(c.track)))


class _Recorder(FeedbackRanking):
    """Ranks as served, and keeps each feedback turn prepared for re-ranking under other weights."""

    def __init__(self, ranker, sink: list, weights: FeedbackWeights):
        super().__init__(ranker, weights)
        self.sink = sink

    def rank(self, intent, candidates, length, feedback, max_per_artist, mode="playlist", query_vector=None,
             vectors=None):
        if not feedback:
            out = super().rank(intent, candidates, length, feedback, max_per_artist, mode, query_vector)
            self.sink.append(("fixed", [t.track_id for t in out]))
            return out
        sc = self.prepare(intent, candidates, feedback, query_vector, vectors)
        self.sink.append(("scored", sc, length, max_per_artist, mode))
        return self.finish(sc, self.weights, length, max_per_artist, mode)


class _RecordingSession(SessionSystem):
    """The session system, recording every turn after the first (the first has no feedback)."""

    name = "session (recorded for tuning)"
    records: dict[str, tuple[list[str], list[tuple]]] = {}
    weights = FeedbackWeights()

    def __init__(self, stages, config: AppConfig):
        super().__init__(stages, config)
        self.sink: list = []
        stages.feedback_ranking = _Recorder(stages.ranker, self.sink, self.weights)

    async def dialog(self, turns, length):
        self.sink.clear()
        out = await super().dialog(turns, length)
        _RecordingSession.records[turns[0].dialog_id] = (out[0], list(self.sink))
        return out


@dataclass
class TuningResult:
    weights: FeedbackWeights
    objective: float
    start_objective: float
    macro: dict[str, float]
    start_macro: dict[str, float]
    dialogs: int
    turns: int
    evaluations: int
    seconds: float
    folds: tuple[int, ...]
    trace: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"weights": dataclasses.asdict(self.weights), "objective": round(self.objective, 4),
                "start_objective": round(self.start_objective, 4),
                "macro": {m: round(v, 4) for m, v in self.macro.items() if m in OBJECTIVE},
                "start_macro": {m: round(v, 4) for m, v in self.start_macro.items() if m in OBJECTIVE},
                "tuning_folds": list(self.folds), "dialogs": self.dialogs, "turns": self.turns,
                "evaluations": self.evaluations, "seconds": round(self.seconds, 1), "trace": self.trace}


class FeedbackTuner:
    def __init__(self, evaluator: Evaluator, tuning_folds: frozenset[int], length: int = 100,
                 cache_dir: Path | None = None):
        self.ev = evaluator
        self.length = length
        self.folds = tuple(sorted(tuning_folds))
        self.tev = TurnEvaluator(evaluator, length=length, only_folds=tuning_folds)  # scores any of them
        # Recorded folds are kept here (one file per fold and setting), so a replay cut short by a
        # time limit resumes; delete it after changing retrieval or ranking code.
        self.cache_dir = cache_dir

    def record(self, variant: Variant, weights: FeedbackWeights = FeedbackWeights()) -> dict[str, float]:
        """Replay the tuning folds' dialogs as served with `weights`; the macro metrics of that replay."""
        rows: dict[str, list] = {}
        self.records = {}
        for f in self.folds:
            recs, per_dialog = self._fold(variant, weights, f)
            self.records.update(recs)
            rows.update(per_dialog)
        return summarise_turns(list(rows.values())).macro

    def _fold(self, variant: Variant, weights: FeedbackWeights, fold: int):
        path = None
        if self.cache_dir is not None:
            key = (variant.config.model_dump_json() + repr(weights) + repr((fold, self.ev.n_folds, self.ev.seed, self.length))
                   + ",".join(d.id for d in self.ev.dialogs))
            path = Path(self.cache_dir).expanduser() / f"fold{fold}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pkl"
            if path.is_file():
                with path.open("rb") as fh:
                    return pickle.load(fh)
        SYSTEMS["session-recorded"] = _RecordingSession
        _RecordingSession.records = {}
        _RecordingSession.weights = weights
        try:
            served = TurnEvaluator(self.ev, length=self.length, only_folds=frozenset({fold})).run("session-recorded", variant)
        finally:
            SYSTEMS.pop("session-recorded", None)
        out = (dict(_RecordingSession.records), served.per_dialog)
        if path is not None:
            for _, turns in out[0].values():
                for rec in turns:
                    if rec[0] == "scored":
                        picklable(rec[1])
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as fh:
                pickle.dump(out, fh, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(path)
        return out

    def macro(self, w: FeedbackWeights) -> dict[str, float]:
        preds = {}
        for did, (first, turns) in self.records.items():
            p = [first]
            for rec in turns:
                if rec[0] == "fixed":
                    p.append(rec[1])
                else:
                    _, sc, length, cap, mode = rec
                    p.append([c.track.track_id for c in sc.pinned[:length]]
                             + [c.track.track_id for _, c in FeedbackRanking.order(sc, w, length, cap, mode)])
            preds[did] = p
        s = summarise_turns(list(self.tev.score(preds).values()))
        self._shape = (s.dialogs, s.turns)
        return s.macro

    @staticmethod
    def objective(macro: dict[str, float]) -> float:
        return sum(macro[m] for m in OBJECTIVE)

    def tune(self, variant: Variant, start: FeedbackWeights = FeedbackWeights(), passes: int = 3,
             grid: dict[str, tuple[float, ...]] = GRID) -> TuningResult:
        t0 = time.perf_counter()
        served = self.record(variant, start)
        best_w = start
        start_macro = best_macro = self.macro(start)
        # The re-ranking must reproduce what the replay served under the weights it served with.
        drift = max(abs(served[m] - start_macro[m]) for m in served)
        if drift > 1e-9:
            raise RuntimeError(f"re-ranking the recorded turns does not reproduce the replay (off by {drift:.2g})")
        best = self.objective(best_macro)
        n_eval, trace = 1, [{"weights": dataclasses.asdict(start), "objective": round(best, 4)}]
        for _ in range(passes):
            improved = False
            for name in grid:  # the signals' weights, and any other FeedbackWeights field given a grid
                for v in grid[name]:
                    if v == getattr(best_w, name):
                        continue
                    w = dataclasses.replace(best_w, **{name: v})
                    m = self.macro(w)
                    n_eval += 1
                    o = self.objective(m)
                    if o > best + 1e-9:
                        best, best_w, best_macro, improved = o, w, m, True
                        trace.append({"weights": dataclasses.asdict(w), "objective": round(o, 4)})
            if not improved:
                break
        dialogs, turns = self._shape
        return TuningResult(best_w, best, self.objective(start_macro), best_macro, start_macro, dialogs, turns,
                            n_eval, time.perf_counter() - t0, self.folds, trace)
