"""How much memory does an extra component version cost side by side in one replica,
versus a separate deployment per version? Each case runs in a fresh subprocess and
reports its resident set (VmRSS) after loading.

  PYTHONPATH=$PWD python scripts/measure_arm_memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys

CASES = {
    "python + serving imports (a replica's floor, before Ray's own ~90 MiB)": "",
    "Ranker: 1 version": "from serving.ranking.registry import make_ranker; from serving.config import RankingConfig; "
                         "r=[make_ranker(RankingConfig(version='baseline-v1'))]",
    "Ranker: 3 versions side by side": "from serving.ranking.registry import make_ranker; from serving.config import "
                                       "RankingConfig; r=[make_ranker(RankingConfig(version=v)) for v in "
                                       "('baseline-v1','baseline-v2','random-v1')]",
    "Retriever: 1 embedder + 1 index": "from serving.retrieval.deployment import build_retriever; "
                                       "from serving.config import AppConfig; a=build_retriever(AppConfig())",
    "Retriever: 1 embedder + 2 indexes side by side": "from serving.retrieval.deployment import build_retriever; "
                                                      "from serving.config import AppConfig; a=build_retriever(AppConfig()); "
                                                      "b=build_retriever(AppConfig(), embedder=a.embedder)",
}
PRELUDE = "import serving.app, serving.pipeline\n"
EPILOGUE = ("\nrss=[l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]\n"
            "print('RSS_KB', rss)")


def main() -> int:
    rows = {}
    for name, code in CASES.items():
        out = subprocess.run([sys.executable, "-c", PRELUDE + code + EPILOGUE], capture_output=True, text=True,
                             check=True).stdout
        rows[name] = int(next(line for line in out.splitlines() if line.startswith("RSS_KB")).split()[1]) / 1024
    base = rows["python + serving imports (a replica's floor, before Ray's own ~90 MiB)"]
    print(f"{'case':<52} {'RSS MiB':>8} {'over floor':>10}")
    for name, mib in rows.items():
        print(f"{name:<52} {mib:8.0f} {mib - base:10.0f}")
    r1, r2 = rows["Retriever: 1 embedder + 1 index"], rows["Retriever: 1 embedder + 2 indexes side by side"]
    print(json.dumps({
        "extra_index_side_by_side_mib": round(r2 - r1),
        # a separate deployment is a new replica process holding floor + model + index (Ray's worker overhead extra)
        "extra_index_as_separate_deployment_mib": round(r1),
        "extra_ranker_side_by_side_mib": round(rows["Ranker: 3 versions side by side"] - rows["Ranker: 1 version"]),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
