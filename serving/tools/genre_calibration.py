"""How often the served enrichment's genre claims about an artist hold, by how large a share of the
artist's evidence the genre has (a measurement tool, never the serving path).

    python -m serving.tools.genre_calibration [--config FILE]

For every artist both the enrichment and the evaluation-only hand table
(`serving/evaluation/data/artist_families.csv`) know, each genre holding at least
`filters.MIN_SHARE` of a known artist's evidence (confidence >= `filters.KNOWN`) is one claim; it
holds when the genre's family is one of the artist's hand families. Printed per share bucket and
for artists no listener spoke of: why `filters.STRONG_HEAD` puts majority shares first.
"""

from __future__ import annotations

import argparse
import json

BUCKETS = ((0.15, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 1.01))


def claims(artists: dict, truth: dict[str, frozenset[str]], known: float, min_share: float) -> list[tuple]:
    """(share, from_listeners, holds) per genre claim. `artists`: key -> ArtistAttrs; `truth`: the same
    keys -> hand families."""
    from serving.tools.label_agreement import families

    out = []
    for key, fams in truth.items():
        a = artists.get(key)
        if a is None or a.confidence < known or not a.genres:
            continue
        out += [(s, a.from_listeners, bool(families(g) & fams)) for g, s in a.genres.items() if s >= min_share]
    return out


def calibration(rows: list[tuple]) -> list[dict]:
    def line(name: str, sel: list[tuple]) -> dict:
        return {"claims": name, "n": len(sel), "hold": round(sum(r[2] for r in sel) / len(sel), 3) if sel else None}

    heard = [r for r in rows if r[1]]
    return ([line(f"share {lo:.2f}-{min(hi, 1.0):.2f}", [r for r in heard if lo <= r[0] < hi]) for lo, hi in BUCKETS]
            + [line("all, artists listeners spoke of", heard),
               line("all, artists known through text neighbours only", [r for r in rows if not r[1]])])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m serving.tools.genre_calibration", description=__doc__.split("\n")[0])
    p.add_argument("--config", default=None)
    args = p.parse_args(argv)

    from serving.catalog.enrichment.store import load_served
    from serving.catalog.loader import load_catalog
    from serving.config import load_config
    from serving.evaluation.coherence import label_key, load_labels
    from serving.retrieval.filters import KNOWN, MIN_SHARE
    from serving.text import norm

    config = load_config(args.config)
    catalog = load_catalog(config.catalog.path)
    enr = load_served(config, catalog)
    table = load_labels()
    # The table has its own name normalisation; match through each catalog lead artist's name.
    leads = {t.artists[0] for t in catalog.tracks if t.artists}
    truth = {norm(a): table[label_key(a)] for a in leads if label_key(a) in table}
    for row in calibration(claims(enr.artists, truth, KNOWN, MIN_SHARE)):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
