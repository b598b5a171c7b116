"""Simulated listeners for a running Segue (loopback only): each asks for a playlist and
sends feedback on it, so an experiment's numbers, and a rollout, move.

    python -m serving.tools.listeners --url http://127.0.0.1:8000 --requests 2000

With `--dialogs` (CPCD-format JSONL: a first-turn prompt and a goal playlist per
dialog) a listener likes every returned track of its goal playlist and skips the first
one that is not, so arms that rank better earn more likes. Without dialogs, prompts
come from a built-in list and each of the first five tracks is liked with
`--like-prob`: the arms then differ only by chance, which is enough to watch the
mechanics (assignment, intervals, the controller's steps), not to judge a ranker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from serving.client import AsyncSegueClient, RetryPolicy, SegueError
from serving.schemas import MAX_PROMPT_CHARS
from serving.tools.bench.loadgen import assert_loopback, prompts_from_dialogs


@dataclass(frozen=True)
class Listener:
    prompt: str
    goal: frozenset[str] = frozenset()  # empty: like by chance


@dataclass
class Tally:
    served: int = 0
    failed: int = 0
    feedback: int = 0
    feedback_failed: int = 0
    arms: dict[str, int] = field(default_factory=dict)


def load_listeners(path: Path | None) -> list[Listener]:
    if path is None or not path.is_file():
        return [Listener(p) for p in prompts_from_dialogs(None)]
    out = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        if d.get("goal_playlist") and d.get("turns"):
            out.append(Listener(d["turns"][0]["user_query"][:MAX_PROMPT_CHARS], frozenset(d["goal_playlist"])))
    if not out:
        raise ValueError(f"{path}: no dialog with a first turn and a goal_playlist")
    return out


def reactions(listener: Listener, track_ids: list[str], rng: random.Random, like_prob: float) -> list[tuple[str, str]]:
    """(track_id, event) pairs the listener sends for one playlist."""
    out, skipped = [], False
    for i, t in enumerate(track_ids):
        liked = t in listener.goal if listener.goal else (i < 5 and rng.random() < like_prob)
        if liked:
            out.append((t, "like"))
        elif not skipped:
            out.append((t, "skip"))
            skipped = True
    return out


async def run(url: str, listeners: list[Listener], requests: int, concurrency: int, like_prob: float, seed: int,
              length: int = 20, transport=None) -> Tally:
    rng = random.Random(seed)
    order = [rng.randrange(len(listeners)) for _ in range(requests)]
    tally, sem = Tally(), asyncio.Semaphore(concurrency)
    # Patient like real listeners: past the per-client rate limit (429 + Retry-After) they wait and retry.
    retry = RetryPolicy(attempts=8)
    async with AsyncSegueClient(url, timeout_s=120, retry=retry, max_connections=concurrency, transport=transport) as client:

        async def one(i: int) -> None:
            who = listeners[order[i]]
            async with sem:
                try:
                    p = await client.playlist(who.prompt, length=length, user_id=f"sim-listener-{seed}-{i}")
                except SegueError as e:
                    tally.failed += 1
                    if tally.failed <= 3:
                        print(f"listeners: playlist failed: {e}", file=sys.stderr)
                    return
                tally.served += 1
                tally.arms[p.arm] = tally.arms.get(p.arm, 0) + 1
                for track_id, event in reactions(who, [t.track_id for t in p.tracks], random.Random(f"{seed}-{i}"), like_prob):
                    try:
                        await client.feedback(p.playlist_id, track_id, event)
                        tally.feedback += 1
                    except SegueError:
                        tally.feedback_failed += 1

        await asyncio.gather(*(one(i) for i in range(requests)))
    return tally


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of the service (loopback)")
    ap.add_argument("--requests", type=int, default=2000, help="playlists to ask for (bounded)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--dialogs", type=Path, default=None, help="CPCD-format JSONL: likes follow each goal playlist")
    ap.add_argument("--like-prob", type=float, default=0.2, help="without --dialogs: chance to like each of the top 5")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    assert_loopback(args.url)
    if not 1 <= args.requests <= 100_000:
        ap.error("--requests must be 1..100000")
    listeners = load_listeners(args.dialogs)
    t0 = time.monotonic()
    tally = asyncio.run(run(args.url, listeners, args.requests, args.concurrency, args.like_prob, args.seed))
    print(json.dumps({"served": tally.served, "failed": tally.failed, "feedback": tally.feedback,
                      "feedback_failed": tally.feedback_failed, "arms": tally.arms,
                      "seconds": round(time.monotonic() - t0, 1)}))
    return 0 if tally.served else 1


if __name__ == "__main__":
    sys.exit(main())
