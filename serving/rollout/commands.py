"""The `segue experiment report` and `segue rollout` subcommands (wired into serving/cli.py)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys


def cmd_experiment_report(args) -> int:
    from serving.client import SegueClient, SegueError
    from serving.experiments.report import format_table, write_png

    if args.summary:
        with open(args.summary) as f:
            summary = json.load(f)
    else:
        if not args.experiment:
            print("segue: name the experiment (segue experiment report ID --url ...) or pass --summary FILE", file=sys.stderr)
            return 2
        try:
            with SegueClient(args.url, timeout_s=30) as client:
                summary = client.experiment(args.experiment).model_dump(mode="json")
        except SegueError as e:
            print(f"segue: {args.url}: {e}", file=sys.stderr)
            return 1
    print(json.dumps(summary, indent=2) if args.json else format_table(summary))
    if args.png:
        print(f"wrote {write_png(summary, args.png)}", file=sys.stderr)
    return 0


def cmd_rollout(args) -> int:
    from serving.rollout.controller import RolloutController, ServiceMetricsSource
    from serving.rollout.kube import ConfigMapStateStore, KubeEventSink, RayServiceActuator, kube_clients
    from serving.rollout.policy import RolloutPolicy

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not args.metrics_url:
        print("segue: --metrics-url (or SEGUE_SERVE_URL) is required: the service's base URL", file=sys.stderr)
        return 2
    custom, core = kube_clients(args.kubeconfig, args.context)
    actuator = RayServiceActuator(custom, args.namespace, args.rayservice, args.app)
    if not (args.experiment and args.control and args.canary):
        # Default to the experiment in the RayService: its control, and its only other arm.
        exp = actuator.experiment()
        args.experiment = args.experiment or exp.id
        args.control = args.control or exp.control_arm
        others = [a.name for a in exp.arms if a.name != args.control]
        if not args.canary and len(others) != 1:
            print(f"segue: experiment {exp.id} has arms {others} besides the control; pass --canary", file=sys.stderr)
            return 2
        args.canary = args.canary or others[0]
    policy = RolloutPolicy(
        schedule=tuple(float(x) for x in args.schedule.split(",")), min_served_per_step=args.min_served_per_step,
    )
    ctl = RolloutController(
        args.experiment, args.control, args.canary,
        actuator,
        ServiceMetricsSource(args.metrics_url), ConfigMapStateStore(core, args.namespace, args.state_configmap),
        KubeEventSink(core, args.namespace, args.rayservice), policy,
    )
    if args.once:
        d = ctl.reconcile()
        print(json.dumps({"action": d.action, "weight": d.weight, "reason": d.reason}))
        return 0
    state = ctl.run(args.interval)
    print(json.dumps({"status": state.status, "weight": state.weight}))
    return 0 if state.status == "promoted" else 3


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("experiment", help="experiment tools")
    esub = p.add_subparsers(dest="experiment_cmd", required=True)
    r = esub.add_parser("report", help="per-arm table (and PNG) of an experiment")
    r.add_argument("experiment", nargs="?", help="experiment id (with --url)")
    r.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of the service")
    r.add_argument("--summary", default=None, help="read a saved GET /v1/experiments/{id} JSON instead")
    r.add_argument("--png", default=None, help="also write a chart here")
    r.add_argument("--json", action="store_true", help="print the raw summary")
    r.set_defaults(fn=cmd_experiment_report)

    p = sub.add_parser("rollout", help="step a canary's weight on a RayService from per-arm evidence")
    p.add_argument("--namespace", required=True)
    p.add_argument("--rayservice", required=True, help="RayService name")
    p.add_argument("--app", default="segue", help="Serve application name in serveConfigV2")
    p.add_argument("--experiment", default=None, help="experiment id (default: the one in the RayService)")
    p.add_argument("--control", default=None, help="control arm (default: the experiment's control)")
    p.add_argument("--canary", default=None, help="canary arm (default: the only other arm)")
    p.add_argument("--metrics-url", default=os.environ.get("SEGUE_SERVE_URL"),
                   help="service base URL for GET /v1/experiments/{id} (default: $SEGUE_SERVE_URL)")
    p.add_argument("--state-configmap", default="segue-rollout", help="ConfigMap holding the controller state")
    p.add_argument("--schedule", default="0.05,0.1,0.25,0.5,1", help="canary weights, comma-separated, ending at 1")
    p.add_argument("--min-served-per-step", type=int, default=300)
    p.add_argument("--interval", type=float, default=60.0, help="seconds between looks")
    p.add_argument("--once", action="store_true", help="one look, then exit")
    p.add_argument("--kubeconfig", default=None)
    p.add_argument("--context", default=None)
    p.set_defaults(fn=cmd_rollout)
