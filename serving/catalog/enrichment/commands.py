"""`segue enrich`: build the enrichment artifact (in-process or on Ray Data) and report throughput."""

from __future__ import annotations

import argparse
import json
import sys


def cmd_enrich(args) -> int:
    from serving.catalog.enrichment.artifact import file_fingerprint, shipped_root
    from serving.catalog.enrichment.builder import build, local_maps
    from serving.catalog.enrichment.evidence import read_dialogs, write_dialogs
    from serving.catalog.enrichment.store import cache_root, evidence_path
    from serving.catalog.loader import load_catalog
    from serving.config import load_config
    from serving.retrieval.embedder import make_embedder
    from serving.retrieval.index import load_or_build

    config = load_config(args.config)
    if args.write_evidence:
        # Compact a CPCD-format dialogs file into the form the package ships (then build from it).
        p = write_dialogs(read_dialogs(args.dialogs), args.write_evidence)
        print(f"segue enrich: wrote {p}", file=sys.stderr)
        args.dialogs = str(p)
    if args.dialogs:
        config = config.model_copy(update={"catalog": config.catalog.model_copy(update={"enrichment_dialogs": args.dialogs})})
    catalog = load_catalog(config.catalog.path)
    emb = make_embedder(config.retrieval.embedder)
    index = load_or_build(catalog, emb, config.retrieval.index_kind, config.retrieval.cache_dir)
    ev = evidence_path(config)
    maps, engine, started = local_maps, "in-process", False
    if args.ray:
        import ray

        from serving.catalog.enrichment.ray_job import ray_maps

        if not ray.is_initialized():
            ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
            started = True
        maps, engine = ray_maps(actors=args.actors, batch_size=args.batch_size), "ray-data"
    try:
        enr, stats = build(catalog, index.vectors, read_dialogs(ev), emb.version, file_fingerprint(ev), maps, engine)
    finally:
        if started:
            import ray

            ray.shutdown()
    path = enr.save(shipped_root() if args.ship else (args.out or cache_root(config)))
    out = {"enrichment": enr.version, "path": str(path), **stats.as_dict()}
    print(json.dumps(out))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("enrich", help="build the catalog enrichment artifact (genres, era, language, flags)")
    p.add_argument("--config", default=None)
    p.add_argument("--dialogs", default=None, help="CPCD-format dialogs to learn from (default: the shipped evidence)")
    p.add_argument("--write-evidence", default=None, metavar="FILE.jsonl.gz",
                   help="first compact --dialogs into FILE (what the package ships), then build from it")
    p.add_argument("--ray", action="store_true", help="run the map stages on Ray Data")
    p.add_argument("--actors", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--num-cpus", type=int, default=None)
    p.add_argument("--out", default=None, help="artifact root (default: <cache_dir>/enrichment)")
    p.add_argument("--ship", action="store_true", help="write into the package (serving/catalog/enrichment/artifacts)")
    p.set_defaults(fn=cmd_enrich)
