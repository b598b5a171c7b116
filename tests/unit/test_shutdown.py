"""The process-tree reaper behind `segue serve`'s shutdown, on plain processes: a child that
ignores SIGTERM and a grandchild re-parented to init (as ray::DashboardAgent is once its
raylet is gone) are both stopped, and nothing outside this process's tree is touched."""

import subprocess
import sys
import time

import psutil

from serving.shutdown import descendants, reap
from tests.conftest import ROOT

STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
# The middle process starts a stubborn grandchild and exits: the grandchild is orphaned.
ORPHANER = f"import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', {STUBBORN!r}]); print(p.pid, flush=True)"


def test_reap_stops_children_that_ignore_sigterm_and_orphans_recorded_before():
    child = subprocess.Popen([sys.executable, "-c", STUBBORN])
    middle = subprocess.Popen([sys.executable, "-c", ORPHANER + "; import time; time.sleep(1)"], stdout=subprocess.PIPE,
                              text=True)
    orphan_pid = int(middle.stdout.readline())
    time.sleep(0.2)
    tree = descendants()  # recorded while the middle process still holds the grandchild
    assert {child.pid, middle.pid, orphan_pid} <= {p.pid for p in tree}
    middle.wait(10)  # now the grandchild is re-parented away from us
    outsider = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    t0 = time.monotonic()
    killed = reap(tree, term_wait_s=0.5)
    assert time.monotonic() - t0 < 5
    assert any(k.split(":")[0] == str(child.pid) for k in killed), killed
    for pid in (child.pid, orphan_pid):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert outsider.poll() is None  # not in the recorded tree: untouched
    outsider.kill()
    outsider.wait()
    child.wait(5)


SERVE_WITHOUT_RAY = """
import sys
import serving.server as srv
import serving.shutdown as sd
from serving.config import AppConfig

srv.start_local_graph = lambda *a, **k: "http://127.0.0.1:1"  # no Ray here: the signal handling only
srv._metrics_url = lambda host: "-"
sd.stop_serving = lambda: True
sys.exit(srv.serve_forever(AppConfig()))
"""


def test_sigint_stops_serve_even_when_the_shell_started_it_with_sigint_ignored():
    """`cmd &` in a non-interactive shell starts cmd with SIGINT ignored; Python then never
    raises KeyboardInterrupt, which is why Ctrl-C used to leave the service up."""
    import os
    import signal

    def as_background_job():
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    p = subprocess.Popen([sys.executable, "-c", SERVE_WITHOUT_RAY], stdout=subprocess.PIPE, text=True,
                         preexec_fn=as_background_job, start_new_session=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "segue ready on" in p.stdout.readline()
    os.killpg(p.pid, signal.SIGINT)  # as a terminal's Ctrl-C reaches the whole group
    assert p.wait(10) == 0
    assert "SIGINT: shutting down" in p.stdout.read()
