"""How often an LLM's artist labels agree with the evaluation-only hand table, beside the shipped
enrichment's own genres for the same artists (a measurement tool, never the serving path).

    python -m serving.tools.label_agreement LABELS.jsonl [--config FILE]

For each artist both the labels file and `serving/evaluation/data/artist_families.csv` cover:
top-1 agreement (the first genre maps into one of the artist's hand families), precision over
all the genres named, and the same for the enrichment's largest genre share. Also on the artists
the enrichment knows least (confidence below filters.KNOWN): where an LLM could add the most.
"""

from __future__ import annotations

import argparse
import json

# Taxonomy genre names -> the hand table's coarse families (evaluation only).
FAMILY_OF = {"classic rock": {"rock"}, "house": {"electronic"}, "disco": {"funk", "pop", "electronic"},
             "lofi": {"hip hop", "electronic"}, "oldies": {"rock", "pop", "r&b", "country"}}


def families(genre: str) -> set[str]:
    return FAMILY_OF.get(genre, {genre})


def agreement(pred: dict[str, list[str]], truth: dict[str, frozenset[str]]) -> dict:
    """pred: artist key -> genres (most typical first)."""
    both = [a for a in pred if a in truth and pred[a]]
    if not both:
        return {"artists": 0}
    top1 = sum(bool(families(pred[a][0]) & truth[a]) for a in both)
    named = [(a, g) for a in both for g in pred[a]]
    right = sum(bool(families(g) & truth[a]) for a, g in named)
    return {"artists": len(both), "top1": round(top1 / len(both), 3), "precision": round(right / len(named), 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m serving.tools.label_agreement", description=__doc__.split("\n")[0])
    p.add_argument("labels")
    p.add_argument("--config", default=None)
    args = p.parse_args(argv)

    from serving.catalog.enrichment.llm_labels import GENRES, read_labels
    from serving.catalog.enrichment.store import load_served
    from serving.catalog.loader import load_catalog
    from serving.config import load_config
    from serving.evaluation.coherence import label_key as table_key
    from serving.evaluation.coherence import load_labels
    from serving.retrieval.filters import KNOWN
    from serving.text import norm

    config = load_config(args.config)
    meta, labels = read_labels(args.labels)
    # Keyed by the enrichment's artist key; the table has its own normalisation.
    truth_by_table = load_labels()
    truth = {norm(lab.artist): truth_by_table[table_key(lab.artist)] for lab in labels
             if table_key(lab.artist) in truth_by_table}
    llm = {norm(lab.artist): list(lab.genres) for lab in labels}
    # The enrichment as served without LLM labels: the baseline the labels would add to.
    base_cfg = config.model_copy(update={"catalog": config.catalog.model_copy(update={"enrichment_llm_labels": None})})
    catalog = load_catalog(config.catalog.path)
    enr = load_served(base_cfg, catalog)
    mine = {k: list(a.genres) for k, a in enr.artists.items() if k in llm}
    thin = {k for k in llm if (enr.artists.get(k) is None or enr.artists[k].confidence < KNOWN)}
    out = {"labels": args.labels, "model": meta.get("intent_model"), "prompt": meta.get("prompt"),
           "llm": agreement(llm, truth), "enrichment": agreement(mine, truth),
           "llm_thin": agreement({k: v for k, v in llm.items() if k in thin}, truth),
           "enrichment_thin": agreement({k: v for k, v in mine.items() if k in thin}, truth),
           # The floor: one genre (of one family) named for every artist, the one that agrees most often.
           "best_constant": max(({"genre": g, **agreement({k: [g] for k in llm}, truth)}
                                 for g in GENRES if len(families(g)) == 1),
                                key=lambda r: r.get("top1", 0.0))}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
