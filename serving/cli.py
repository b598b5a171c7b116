"""The `segue` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from serving.config import ConfigError, load_config


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="YAML of the app config (default: built-in CPU default)")


def cmd_serve(args) -> int:
    from serving.server import serve_forever

    config = load_config(args.config)
    if args.port is not None:
        config = config.model_copy(update={"http": config.http.model_copy(update={"port": args.port})})
    if args.otlp_endpoint or args.metrics_port:
        from serving.telemetry_config import TelemetryConfig

        t = config.telemetry.model_dump()
        if args.otlp_endpoint:
            t.update(enabled=True, otlp_endpoint=args.otlp_endpoint)
        if args.metrics_port:
            t.update(metrics_export_port=args.metrics_port)
        config = config.model_copy(update={"telemetry": TelemetryConfig.model_validate(t)})
    if not args.rollout:
        return serve_forever(config, num_cpus=args.num_cpus)
    from serving.rollout.local import start_local_rollout
    from serving.rollout.policy import RolloutPolicy

    if config.experiment is None:
        print("segue: --rollout needs an experiment in the config, e.g. --config serving/configs/canary.yaml",
              file=sys.stderr)
        return 2
    policy = RolloutPolicy(min_served_per_step=args.rollout_min_served)
    # Declarative, so the controller's weight changes reach reconfigure() without a restart.
    return serve_forever(config, num_cpus=args.num_cpus, declarative=True,
                         on_ready=lambda base, stop: start_local_rollout(config, base, policy, args.rollout_interval, stop))


def cmd_index(args) -> int:
    from serving.retrieval.prebuild import ensure_index

    if args.ray:
        from tqdm import tqdm

        from serving.catalog.indexing import run_ray_index
        from serving.catalog.loader import load_catalog

        config = load_config(args.config)
        catalog = load_catalog(args.catalog or config.catalog.path)
        with tqdm(total=len(catalog), unit="track", desc="embedding (ray data)", disable=args.quiet) as bar:
            out = run_ray_index(config, catalog, args.actors, args.batch_size, args.num_cpus, bar.update)
        print(json.dumps(out))
        return 0
    idx, n = ensure_index(load_config(args.config), args.catalog, quiet=args.quiet)
    print(json.dumps({"index": idx.version, "tracks": n, "built": idx.built, "seconds": round(idx.seconds, 2)}))
    return 0


def cmd_intent(args) -> int:
    from serving.intent.deployment import build_intent_service
    from serving.tools.llm_cli import prepare_llm, run_once

    config = load_config(args.config)
    if args.backend:
        config = config.model_copy(update={"intent": config.intent.model_copy(update={"backend": args.backend})})
    config = prepare_llm(config, deadline_ms=args.deadline_ms, quiet=args.json)
    service = build_intent_service(config)
    result = asyncio.run(run_once(service, args.prompt, quiet=args.json))
    out = {"intent": result.intent.model_dump(mode="json"), "backend": result.versions.get("intent_backend"),
           "source": result.intent.source.value, "versions": result.versions,
           "fallback_reason": result.fallback_reason, "latency_ms": round(result.latency_ms, 1)}
    print(json.dumps(out, indent=None if args.json else 2))
    return 0


def cmd_convert_llm(args) -> int:
    from serving.tools.llm_cli import convert_with_progress

    config = load_config(args.config)
    path, converted = convert_with_progress(args.model or config.intent.vllm.model, config.intent.vllm.models_dir,
                                            force=args.force, quiet=args.quiet)
    print(json.dumps({"model": str(path), "converted": converted}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="segue", description="Prompted playlists and music search on Ray Serve.")
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("serve", help="start a local Ray and serve the graph over HTTP")
    _add_config(p)
    p.add_argument("--port", type=int, default=None, help="HTTP port (default from config: 8000)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs given to the local Ray (default: all)")
    p.add_argument("--otlp-endpoint", default=None, help="trace every request to this OTLP/HTTP collector URL")
    p.add_argument("--metrics-port", type=int, default=None, help="port of Ray's Prometheus endpoint (default 8080)")
    p.add_argument("--rollout", action="store_true",
                   help="also run the rollout controller here: step the config's canary 5 -> 10 -> 25 -> 50 -> 100 %% "
                        "as the evidence allows (watch it at /ui/experiments/ID)")
    p.add_argument("--rollout-min-served", type=int, default=50, help="canary playlists per step with --rollout")
    p.add_argument("--rollout-interval", type=float, default=10.0, help="seconds between looks with --rollout")
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("index", help="embed the catalog and build (or load) the cached index")
    _add_config(p)
    p.add_argument("--catalog", default=None, help="catalog file (default from config)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--ray", action="store_true", help="embed with a Ray Data actor pool (scales to a cluster) and rebuild")
    p.add_argument("--actors", type=int, default=2, help="embedding actors for --ray")
    p.add_argument("--batch-size", type=int, default=256, help="tracks per embedding batch for --ray")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs for a local Ray started by --ray")
    p.set_defaults(fn=cmd_index)

    p = sub.add_parser("intent", help="parse one prompt into an Intent")
    _add_config(p)
    p.add_argument("prompt")
    p.add_argument("--backend", choices=["fallback", "vllm", "openai"], default=None)
    p.add_argument("--json", action="store_true", help="one line of JSON")
    p.add_argument("--deadline-ms", type=int, default=None,
                   help="LLM deadline for this one call (default: 60000 for LLM backends, so the output shows what "
                        "the LLM says; serving uses intent.deadline_ms)")
    p.set_defaults(fn=cmd_intent)

    p = sub.add_parser("convert-llm", help="convert the embedded GGUF LLM (Gemma 3 270M) for vLLM CPU, once")
    _add_config(p)
    p.add_argument("--model", default=None, help="embedded model name (default: intent.vllm.model, gemma3-270m)")
    p.add_argument("--force", action="store_true", help="convert again even if the cache is valid")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=cmd_convert_llm)

    from serving.rollout.commands import add_commands

    add_commands(sub)  # experiment report, rollout

    from serving.catalog.enrichment.commands import add_parser as add_enrich_parser

    add_enrich_parser(sub)  # enrich

    from serving.evaluation.commands import add_judge_parser, add_parsers

    add_parsers(sub)  # eval, train-ranker, tune-feedback
    add_judge_parser(sub)

    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except ConfigError as e:
        print(f"segue: {e}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as e:
        print(f"segue: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
