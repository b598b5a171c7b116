"""The process-tree reaper behind `segue serve`'s shutdown, on plain processes: a child that
ignores SIGTERM and a grandchild re-parented to init (as ray::DashboardAgent is once its
raylet is gone) are both stopped, and nothing outside this process's tree is touched."""

import subprocess
import sys
import time

import psutil

from serving.shutdown import descendants, reap

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
