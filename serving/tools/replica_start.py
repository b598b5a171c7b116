"""How long a fresh replica of each deployment takes to become ready, without Ray.

Each constructor runs in a new Python process (as a replacement replica does: nothing is
imported yet), with OMP_NUM_THREADS=1 as Ray gives a fractional-CPU replica. The index and
the ONNX export are expected in the cache (start_local_graph makes them before Ray starts).

    python -m serving.tools.replica_start [--runtime onnx|torch] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import ray  # noqa: F401  (a replica has imported Ray before it builds the deployment)
from serving.config import AppConfig
kind, runtime = sys.argv[1], sys.argv[2]
cfg = AppConfig.from_dict({"retrieval": {"embedder": {"runtime": runtime}}})
t1 = time.perf_counter()
if kind == "IntentModel":
    from serving.intent.deployment import IntentModelDeployment as D
elif kind == "Retriever":
    from serving.retrieval.deployment import RetrieverDeployment as D
else:
    from serving.ranking.deployment import RankerDeployment as D
D(cfg)
print(json.dumps({"imports_s": t1 - t0, "constructor_s": time.perf_counter() - t1}))
"""

KINDS = ("IntentModel", "Retriever", "Ranker")


def measure(kind: str, runtime: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    out = subprocess.run([sys.executable, "-c", _CHILD, kind, runtime], env=env, capture_output=True, text=True,
                         timeout=600)
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"{kind}: {out.stderr[-800:]}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m serving.tools.replica_start", description=__doc__)
    ap.add_argument("--runtime", default="onnx", choices=("onnx", "torch"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"| deployment | embedder runtime | Ray + config import s | constructor s (median of {args.repeat}) | load avg |")
    print("|---|---|---|---|---|")
    for kind in KINDS:
        runs = [measure(kind, args.runtime) for _ in range(args.repeat)]
        la = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"| {kind} | {args.runtime} | {statistics.median(r['imports_s'] for r in runs):.2f} | "
              f"{statistics.median(r['constructor_s'] for r in runs):.2f} | {la} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
