"""Stopping `segue serve` (scripts/run) for real: Serve, Ray and every process they started.

`ray.shutdown()` stops the raylet and GCS it launched, but processes the raylet started
(ray::DashboardAgent, ray::RuntimeEnvAgent, idle workers, a vLLM engine core under the
IntentModel replica) can outlive it, re-parented to init and ignoring SIGTERM. So the
process tree is recorded before anything is stopped and whatever of it is still alive
afterwards gets SIGTERM, then SIGKILL. Only descendants of this process are touched:
never another user's or another session's Ray.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)


def descendants() -> list:
    import psutil

    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:
        return []


def _bounded(fn: Callable[[], None], timeout_s: float, what: str) -> bool:
    """Run fn in a daemon thread; False if it did not finish in time (it is then abandoned)."""
    errors: list[BaseException] = []

    def run():
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - reported below; shutdown goes on regardless
            errors.append(e)

    t = threading.Thread(target=run, name=f"shutdown-{what}", daemon=True)
    t.start()
    t.join(timeout_s)
    if t.is_alive():
        log.warning("%s did not finish within %.1fs; stopping its processes directly", what, timeout_s)
        return False
    if errors:
        log.warning("%s failed: %r; stopping its processes directly", what, errors[0])
        return False
    return True


def reap(procs: list, term_wait_s: float = 1.5) -> list[str]:
    """SIGTERM what is still alive of `procs`, then SIGKILL the rest; returns what was killed."""
    import psutil

    alive = [p for p in procs if _running(p)]
    for p in alive:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, still = psutil.wait_procs(alive, timeout=term_wait_s)
    for p in still:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(still, timeout=2)
    return [_name(p) for p in alive]


def _running(p) -> bool:
    import psutil

    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _name(p) -> str:
    try:
        return f"{p.pid}:{p.name()}"
    except Exception:  # noqa: BLE001 - it is gone: the pid is enough
        return str(p.pid)


def stop_serving(budget_s: float = 8.0, serve_s: float = 4.0, ray_s: float = 2.0) -> bool:
    """Serve, then Ray, each within its share of `budget_s`, then every leftover process.
    Returns True when both shut down cleanly (False: something had to be killed)."""
    import ray
    from ray import serve

    t0 = time.monotonic()
    tree = descendants()  # before the raylet goes: its children are re-parented after
    clean = True
    if ray.is_initialized():
        clean &= _bounded(serve.shutdown, serve_s, "serve.shutdown")
        clean &= _bounded(ray.shutdown, max(0.5, min(ray_s, budget_s - (time.monotonic() - t0) - 1.5)), "ray.shutdown")
    seen = {p.pid for p in tree}
    tree += [p for p in descendants() if p.pid not in seen]
    killed = reap(tree, term_wait_s=max(0.2, min(1.5, budget_s - (time.monotonic() - t0))))
    if killed:
        log.info("stopped %d leftover processes: %s", len(killed), ", ".join(killed[:8]))
    return clean and not killed
