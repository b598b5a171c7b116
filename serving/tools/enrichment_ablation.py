"""Off-genre rate@20 and CPCD train CV with enrichment signals of issue 14 switched off (a
measurement tool, never the serving path).

    python -m serving.tools.enrichment_ablation --signal all --set dev --set heldout
    python -m serving.tools.enrichment_ablation --signal consensus,half_known --set heldout \\
        --cpcd ../shared/data/cpcd/dialogs.train.jsonl [--limit 150]

One process per run (`--signal A,B` switches A and B off together; `all` runs each signal alone,
one after another in subprocesses): a signal is switched off by patching its module constant
before anything is built, and the pipeline version gets a suffix so an enrichment artifact built
without it is cached apart from the real one. Prints one JSON line per (signals, set); with
`--cpcd`, one more with the CV metrics and their 95% bootstrap intervals.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

SIGNALS = ("none", "embedding_trust", "name_edges", "consensus", "house_context", "half_known",
           "dominance", "similar_head", "language_and", "uses_head", "dominance_filter", "stand_ins",
           "listener_similarity", "listener_voters", "like_cosine", "like_related", "like_known_only",
           "direct_head", "session_borrowed_admits", "subgenres", "native_names", "neighbour_consensus",
           "knn_head", "language_conflict", "use_genres", "name_spelling", "like_listened", "compound_head",
           "named_fit", "like_phrasings", "like_caps", "liked_head", "liked_genres_head", "strong_head",
           "like_head_only", "name_parts", "children_genre")


def _switch_off(signal: str) -> None:
    from serving.catalog.enrichment import artifact

    if signal == "none":
        return
    if signal == "embedding_trust":
        from serving.catalog.enrichment import builder

        artifact.PIPELINE_VERSION = f"{artifact.PIPELINE_VERSION}-no-{signal}"
        builder.EMBEDDING_TRUST = 1.0  # embedding-neighbour evidence counts in full, as before
    elif signal == "listener_similarity":  # before e7: a neighbour's genre agreement used its full profile
        from serving.catalog.enrichment import builder

        artifact.PIPELINE_VERSION = f"{artifact.PIPELINE_VERSION}-no-{signal}"
        similarity = builder._similarity
        builder._similarity = lambda graph, G, G_listeners: similarity(graph, G, G)
    elif signal in _CONSTANT_SIGNALS:
        _set_off(signal)
    elif signal == "listener_voters":  # before session 5: embedding-only artists voted in the consensus too
        from serving.retrieval import filters

        filters.CONSENSUS_LISTENERS_ONLY = False
    elif signal == "name_edges":
        from serving.catalog.enrichment import propagate

        artifact.PIPELINE_VERSION = f"{artifact.PIPELINE_VERSION}-no-{signal}"
        propagate.drop_name_neighbours = lambda m, display: m
    elif signal == "consensus":
        from serving.retrieval import filters

        filters.CONSENSUS_VOTERS = 10**9
    elif signal == "half_known":
        from serving.retrieval import filters

        filters.DISAGREE = filters.KNOWN  # only known artists can be ruled out, as before
    elif signal == "dominance":
        from serving.retrieval import filters

        filters.DOMINANCE = 0.0
    elif signal == "dominance_filter":  # session 3's behaviour: the test removes retrieved tracks too
        from serving.retrieval import filters

        filters.DOMINANCE_AS_HEAD = False
    elif signal == "similar_head":
        from serving.retrieval import filters

        filters.head_artists = lambda intent, c: None
        filters.LIKE_HEAD_ONLY = False
    elif signal == "strict_uses":  # the session-3 rule: borrowed tracks without use evidence removed
        from serving.retrieval import filters

        filters.STRICT_USES, filters.USES_HEAD = True, False
    elif signal == "uses_head":  # nothing about uses at all
        from serving.retrieval import filters

        filters.USES_HEAD = False
    elif signal == "stand_ins":
        from serving.retrieval import filters

        filters.is_stand_in = lambda t: False  # karaoke / cover versions are not demoted
    elif signal == "language_and":
        from serving.retrieval import filters

        filters.LANGUAGE_AND = False
    elif signal == "house_context":
        import dataclasses

        from serving.intent import taxonomy

        artifact.PIPELINE_VERSION = f"{artifact.PIPELINE_VERSION}-no-{signal}"
        taxonomy.TAXONOMY = tuple(dataclasses.replace(t, not_after=()) for t in taxonomy.TAXONOMY)
    elif signal == "subgenres":
        # Session 12's subgenre names (serving/intent/subgenres.py) off: the tags' own keywords only,
        # for the parser and for the dialogs' evidence (the taxonomy fingerprint keys the artifact).
        from serving.intent import taxonomy

        artifact.PIPELINE_VERSION = f"{artifact.PIPELINE_VERSION}-no-{signal}"
        taxonomy.TAXONOMY = taxonomy.BASE_TAXONOMY
    elif signal == "native_names":
        # Session 13's genre names in other languages and scripts off (the rest of the subgenres stay).
        from serving.intent import subgenres, taxonomy

        artifact.PIPELINE_VERSION = f"{artifact.PIPELINE_VERSION}-no-{signal}"
        taxonomy.SUBGENRES = {k: v for k, v in subgenres.SUBGENRES.items() if k not in subgenres.IN_OTHER_LANGUAGES}
        taxonomy.TAXONOMY = taxonomy._with_subgenres(taxonomy.BASE_TAXONOMY)
    elif signal == "children_genre":
        # Session 20's "children" genre tag off, for the parser and for the dialogs' evidence.
        from serving.intent import taxonomy

        artifact.PIPELINE_VERSION = f"{artifact.PIPELINE_VERSION}-no-{signal}"
        taxonomy.TAXONOMY = tuple(t for t in taxonomy.TAXONOMY if t.name != "children")
    elif signal == "language_conflict":  # before session 13: the request's own language was not a test
        from serving.retrieval import filters

        filters.LANGUAGE_CONFLICT = filters.WRITTEN_HEAD = False
    else:
        raise SystemExit(f"unknown signal '{signal}'; one of {', '.join(SIGNALS)} or all")


# Signals that are one module constant (so they can also be switched off for a part of a run):
# like_cosine: before session 10 a "like X" neighbour only had to share one of X's genres;
# like_related: the like-X cosine over the plain shares, no related names;
# like_known_only: before session 10 any artist nobody spoke of passed a like-X request;
# use_genres: before session 14 a use named no genres its consensus may take;
# name_spelling: before session 14 an artist name typed with a slip was no name;
# like_listened: before session 14 "like X" started with X's text neighbours though nobody spoke of X;
# compound_head: before session 15 "blues rock" took any known rock act first, as "rock or blues" does;
# named_fit: before session 16 an artist the request names had to fit its genre by the evidence too;
# like_phrasings: before session 16 "the same lane as X", "more like that" and lists read as music by X;
# like_caps: before session 16 a "like X" playlist relaxed its artist cap to reach its length;
# liked_head: before session 16 a like ended a session turn's genre head (liked artists capped at 30 from the top).
# liked_genres_head: before session 17 a genre-less session turn had no head after a like (the same).
# strong_head: before session 18 a genre request's head took any artist fitting by a minor share first.
# like_head_only: before session 19 a "like X" playlist filled up after its head (filler passing X's genres).
# name_parts: before session 20 "minus blink", "without STP", "no nicki" excluded title words, not the artist.
_CONSTANT_SIGNALS = {"like_cosine": ("retrieval.filters", "LIKE_COSINE", 0.0),
                     "like_related": ("retrieval.filters", "LIKE_RELATED", False),
                     "like_known_only": ("retrieval.filters", "LIKE_KNOWN_ONLY", False),
                     "direct_head": ("retrieval.filters", "DIRECT_HEAD", False),
                     "session_borrowed_admits": ("retrieval.filters", "SESSION_BORROWED_ADMITS", False),
                     "neighbour_consensus": ("retrieval.filters", "NEIGHBOUR_CONSENSUS", False),
                     "knn_head": ("retrieval.filters", "KNN_HEAD", False),
                     "use_genres": ("retrieval.filters", "USE_GENRES", False),
                     "name_spelling": ("intent.spelling", "CORRECT", False),
                     "like_listened": ("retrieval.filters", "LIKE_LISTENED", False),
                     "compound_head": ("retrieval.filters", "COMPOUND_HEAD", False),
                     "named_fit": ("retrieval.filters", "NAMED_FIT", False),
                     "like_phrasings": ("intent.similar", "MORE_PHRASINGS", False),
                     "like_caps": ("ranking.diversity", "LIKE_KEEPS_CAPS", False),
                     "liked_head": ("ranking.feedback", "LIKED_HEAD", False),
                     "liked_genres_head": ("ranking.feedback", "LIKED_HEAD_ANY", False),
                     "strong_head": ("retrieval.filters", "STRONG_HEAD", False),
                     "like_head_only": ("retrieval.filters", "LIKE_HEAD_ONLY", False),
                     "name_parts": ("intent.fallback", "NAME_PARTS", False)}


def _set_off(signal: str):
    """Switch a constant signal off; returns (module, name, the value it had)."""
    import importlib

    mod, name, off = _CONSTANT_SIGNALS[signal]
    m = importlib.import_module(f"serving.{mod}")
    was = getattr(m, name)
    setattr(m, name, off)
    return m, name, was


def _train_without(signals: list[str]) -> None:
    """The CV's fold models trained on candidates retrieved without `signals` (as the shipped model
    was, when it predates them), while the folds are served with them: the CV then differs from a
    run without them only where the signals act at serving time, not by retraining noise."""
    from serving.evaluation.runner import Evaluator

    unknown = [s for s in signals if s not in _CONSTANT_SIGNALS]
    if unknown:
        raise SystemExit(f"--train-without takes {', '.join(_CONSTANT_SIGNALS)}; not {', '.join(unknown)}")
    examples = Evaluator.examples

    async def patched(self, variant, dialogs=None):
        saved = [_set_off(s) for s in signals]
        try:
            return await examples(self, variant, dialogs)
        finally:
            for m, name, value in saved:
                setattr(m, name, value)

    Evaluator.examples = patched


def _set_consts(pairs: list[str]) -> None:
    """`module.NAME=value` (value read as JSON): a threshold tried at another value."""
    import importlib

    for pair in pairs:
        path, value = pair.split("=", 1)
        mod, name = path.rsplit(".", 1)
        setattr(importlib.import_module(f"serving.{mod}"), name, json.loads(value))


def _run(signals: list[str], sets: list[str], config: str | None, cpcd: str | None, limit: int | None,
         consts: list[str] = (), dump: str | None = None, train_without: list[str] = ()) -> None:
    for s in signals:
        _switch_off(s)
    _set_consts(list(consts))
    if train_without:
        _train_without(list(train_without))
    from serving.config import load_config
    from serving.evaluation.coherence import load_labels, load_prompts, set_file
    from serving.evaluation.runner import Evaluator, Variant

    off = ",".join(signals)
    variant = Variant(f"without {off}" if off != "none" else "all signals", load_config(config))
    dialogs = []
    if cpcd:
        from serving.catalog.loader import load_catalog
        from serving.evaluation.dialogs import load_dialogs

        dialogs, _ = load_dialogs(cpcd, load_catalog(variant.config.catalog.path))
        dialogs = dialogs[:limit] if limit else dialogs
    ev = Evaluator(dialogs, progress=False)
    labels = load_labels()
    for name in sets:
        res = ev.run_coherence(variant, load_prompts(set_file(name)), labels)
        print(json.dumps({"signal_off": off, "set": name, **res.summary()}), flush=True)
    if cpcd:
        r = ev.run(variant)
        ci = {m: [round(e.mean, 4), round(e.low, 4), round(e.high, 4)] for m, e in r.summary.items()}
        print(json.dumps({"signal_off": off, "set": "cpcd", "n": r.n, "seconds": round(r.seconds), **ci}), flush=True)
        if dump:
            # What each dialog was served, with its metrics: two dumps say which dialogs a signal cost.
            with open(dump, "w") as f:
                for did, row in zip(r.dialog_ids, r.rows):
                    f.write(json.dumps({"dialog": did, **row, "ranked": r.ranked.get(did, [])}) + "\n")


def main(argv: list[str] | None = None) -> int:
    from serving.evaluation.coherence import SET_FILES  # no serving module it would fix constants of

    p = argparse.ArgumentParser(prog="python -m serving.tools.enrichment_ablation", description=__doc__.split("\n")[0])
    p.add_argument("--signal", default="all", help=f"comma-separated, of {', '.join(SIGNALS)}; or all")
    p.add_argument("--set", action="append", choices=list(SET_FILES),
                   help="coherence set(s); default all three")
    p.add_argument("--config", default=None)
    p.add_argument("--cpcd", default=None, help="dialogs file: also run the CPCD train CV")
    p.add_argument("--limit", type=int, default=None, help="only the first N CPCD dialogs (triage)")
    p.add_argument("--dump", default=None, help="with --cpcd: write each dialog's served track ids and metrics (JSONL)")
    p.add_argument("--const", action="append", default=[], help="retrieval.filters.DOMINANCE=0.5 (repeatable)")
    p.add_argument("--train-without", default="",
                   help="comma-separated signals switched off only while the CV's training candidates are "
                        "retrieved (fold models trained as a model that predates them)")
    a = p.parse_args(argv)
    sets = a.set or ["dev", "heldout", "fresh"]
    if a.signal != "all":
        _run(a.signal.split(","), sets, a.config, a.cpcd, a.limit, a.const, a.dump,
             [x for x in a.train_without.split(",") if x])
        return 0
    for s in SIGNALS:
        cmd = [sys.executable, "-m", "serving.tools.enrichment_ablation", "--signal", s]
        cmd += [x for name in sets for x in ("--set", name)] + (["--config", a.config] if a.config else [])
        cmd += (["--cpcd", a.cpcd] if a.cpcd else []) + (["--limit", str(a.limit)] if a.limit else [])
        cmd += [x for c in a.const for x in ("--const", c)]
        rc = subprocess.call(cmd)
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
