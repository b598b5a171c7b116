"""Off-genre rate@20 with each enrichment signal of issue 14 switched off in turn (a measurement
tool, never the serving path).

    python -m serving.tools.enrichment_ablation --signal all --set dev --set heldout

One process per signal (`--signal NAME`; `all` runs them one after another in subprocesses): the
signal is switched off by patching its module constant before anything is built, and the
pipeline version gets a suffix so the enrichment artifact built without it is cached apart from
the real one. Prints one JSON line per (signal, set).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

SIGNALS = ("none", "embedding_trust", "name_edges", "like_names", "consensus", "house_context")


def _switch_off(signal: str) -> None:
    from serving.catalog.enrichment import artifact

    if signal == "none":
        return
    artifact.PIPELINE_VERSION = f"{artifact.PIPELINE_VERSION}-no-{signal}"
    if signal == "embedding_trust":
        from serving.catalog.enrichment import builder

        builder.EMBEDDING_TRUST = 1.0  # embedding-neighbour evidence counts in full, as before
    elif signal == "name_edges":
        from serving.catalog.enrichment import propagate

        propagate.drop_name_neighbours = lambda m, display: m
    elif signal == "like_names":
        from serving.retrieval import filters

        filters.named_alike = lambda a, b: False
    elif signal == "consensus":
        from serving.retrieval import filters

        filters.CONSENSUS_VOTERS = 10**9
    elif signal == "house_context":
        import dataclasses

        from serving.intent import taxonomy

        taxonomy.TAXONOMY = tuple(dataclasses.replace(t, not_after=()) for t in taxonomy.TAXONOMY)
    else:
        raise SystemExit(f"unknown signal '{signal}'; one of {', '.join(SIGNALS)} or all")


def _run(signal: str, sets: list[str], config: str | None) -> None:
    _switch_off(signal)
    from serving.config import load_config
    from serving.evaluation.coherence import load_labels, load_prompts, set_file
    from serving.evaluation.runner import Evaluator, Variant

    ev = Evaluator([], progress=False)
    variant = Variant(f"without {signal}" if signal != "none" else "all signals", load_config(config))
    labels = load_labels()
    for name in sets:
        res = ev.run_coherence(variant, load_prompts(set_file(name)), labels)
        print(json.dumps({"signal_off": signal, "set": name, **res.summary()}), flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m serving.tools.enrichment_ablation", description=__doc__.split("\n")[0])
    p.add_argument("--signal", default="all", help=f"one of {', '.join(SIGNALS)}, or all")
    p.add_argument("--set", action="append", choices=["dev", "heldout"], help="coherence set(s); default both")
    p.add_argument("--config", default=None)
    a = p.parse_args(argv)
    sets = a.set or ["dev", "heldout"]
    if a.signal != "all":
        _run(a.signal, sets, a.config)
        return 0
    for s in SIGNALS:
        cmd = [sys.executable, "-m", "serving.tools.enrichment_ablation", "--signal", s]
        cmd += [x for name in sets for x in ("--set", name)] + (["--config", a.config] if a.config else [])
        rc = subprocess.call(cmd)
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
