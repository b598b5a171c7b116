"""`segue enrich`: build the enrichment artifact (in-process or on Ray Data) and report throughput;
`segue label-artists`: the LLM labels it can add as evidence."""

from __future__ import annotations

import argparse
import json
import sys


def cmd_enrich(args) -> int:
    from serving.catalog.enrichment.artifact import file_fingerprint, shipped_root
    from serving.catalog.enrichment.builder import build, local_maps
    from serving.catalog.enrichment.evidence import read_dialogs, write_dialogs
    from serving.catalog.enrichment.store import cache_root, evidence_path, llm_labels
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
    update = {k: v for k, v in (("enrichment_dialogs", args.dialogs), ("enrichment_llm_labels", args.llm_labels),
                                ("enrichment_llm_weight", args.llm_weight)) if v is not None}
    if update:
        config = config.model_copy(update={"catalog": config.catalog.model_copy(update=update)})
    catalog = load_catalog(config.catalog.path)
    emb = make_embedder(config.retrieval.embedder)
    index = load_or_build(catalog, emb, config.retrieval.index_kind, config.retrieval.cache_dir)
    ev = evidence_path(config)
    labels = llm_labels(config)
    maps, engine, started = local_maps, "in-process", False
    if args.ray:
        import ray

        from serving.catalog.enrichment.ray_job import ray_maps

        if not ray.is_initialized():
            ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
            started = True
        maps, engine = ray_maps(actors=args.actors, batch_size=args.batch_size), "ray-data"
    try:
        enr, stats = build(catalog, index.vectors, read_dialogs(ev), emb.version, file_fingerprint(ev), maps, engine,
                           llm_labels=labels, llm_weight=config.catalog.enrichment_llm_weight)
    finally:
        if started:
            import ray

            ray.shutdown()
    path = enr.save(shipped_root() if args.ship else (args.out or cache_root(config)))
    out = {"enrichment": enr.version, "path": str(path), **stats.as_dict()}
    print(json.dumps(out))
    return 0


def cmd_label_artists(args) -> int:
    """Label the catalog's most frequent artists with the configured LLM backend (one constrained
    call per artist, batched by the engine) and write the labels file `segue enrich --llm-labels` reads."""
    import asyncio

    from serving.catalog.enrichment.llm_labels import artist_cards, label_artists, write_labels
    from serving.catalog.loader import load_catalog
    from serving.config import load_config
    from serving.intent.deployment import make_backend
    from serving.intent.embedded_model import convert, is_embedded

    config = load_config(args.config)
    if args.backend:
        config = config.model_copy(update={"intent": config.intent.model_copy(update={"backend": args.backend})})
    if config.intent.backend == "fallback":
        print("segue label-artists: needs an LLM backend; pass --backend vllm (the embedded CPU model, or "
              "intent.vllm.model) or --backend openai (intent.openai.base_url)", file=sys.stderr)
        return 2
    if config.intent.backend == "vllm" and is_embedded(config.intent.vllm.model):
        convert(config.intent.vllm.model, config.intent.vllm.models_dir)  # once; a valid cache is kept
    cards = artist_cards(load_catalog(config.catalog.path).tracks, args.top)
    backend = make_backend(config)

    async def run():
        from tqdm import tqdm

        try:
            if hasattr(backend, "wait_ready") and not await asyncio.to_thread(backend.wait_ready, 900):
                raise SystemExit(f"segue label-artists: the LLM is not ready: {backend.ready()[1]}")
            with tqdm(total=len(cards), desc="label artists", unit="artist", file=sys.stderr) as bar:
                return await label_artists(backend, cards, args.concurrency, bar.update)
        finally:
            await backend.close()

    result = asyncio.run(run())
    # The labels' own prompt version goes in by write_labels; the intent template's is beside the point.
    meta = {k: v for k, v in backend.versions.items() if k != "intent_prompt"} | {"top": args.top}
    path = write_labels(result, meta, args.out)
    print(json.dumps({"path": str(path), **meta, **result.stats()}))
    return 0 if result.labels else 1


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
    p.add_argument("--llm-labels", default=None, metavar="FILE",
                   help="add the artist labels of `segue label-artists` as evidence (catalog.enrichment_llm_labels)")
    p.add_argument("--llm-weight", type=float, default=None,
                   help="what one LLM label counts (catalog.enrichment_llm_weight; a kept track in a dialog is 1)")
    p.set_defaults(fn=cmd_enrich)

    p = sub.add_parser("label-artists", help="label the catalog's artists (genres, decade, language) with the LLM")
    p.add_argument("--config", default=None)
    p.add_argument("--backend", choices=["vllm", "openai"], default=None, help="overrides intent.backend")
    p.add_argument("--top", type=int, default=500, help="the most frequent lead artists to label (default 500)")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight (the engine batches them)")
    p.add_argument("--out", required=True, metavar="FILE.jsonl", help="where the labels go")
    p.set_defaults(fn=cmd_label_artists)
