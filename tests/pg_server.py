"""A real PostgreSQL server for tests, on loopback and a free port, in a temporary directory.

Uses the server binaries of the machine (Debian's /usr/lib/postgresql/<v>/bin, installed by
scripts/_env.sh::ensure_postgres when missing). PostgreSQL refuses to run as root, so as
root the server runs as the `postgres` user (its data directory is handed to that user).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import free_port


def find_bindir() -> Path | None:
    env = os.environ.get("SEGUE_PG_BINDIR")
    if env:
        return Path(env)
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if Path(d, "initdb").exists():
            return Path(d)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresServer:
    def __init__(self, bindir: Path, root: Path | None = None):
        self.bindir = bindir
        self.root = Path(root or tempfile.mkdtemp(prefix="segue-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chmod(self.root, 0o755)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(_quote(c) for c in cmd)]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout)

    def init(self) -> "PostgresServer":
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        return self

    def start(self) -> "PostgresServer":
        # fsync off: the tests kill processes, never the machine, and a killed server loses nothing
        # the OS already holds; it spares a loaded CI box seconds of flushes.
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "pg.log"), "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def kill9(self) -> None:
        """The server dies at once, every process of it (a container or pod killed): what it had
        committed must survive. Only this server's processes: its postmaster and its children."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        victims = [pid, *_children(pid)]
        for p in victims:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in victims):
            time.sleep(0.05)
        # A killed postmaster whose parent never reaps it stays a zombie, which PostgreSQL's
        # stale-lock check takes for a live server: the lock file is stale, so remove it.
        if not _alive(pid):
            (self.data / "postmaster.pid").unlink(missing_ok=True)
            (self.root / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join((self.root / "pg.log").read_text().splitlines()[-n:])
        except OSError:
            return ""

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def _children(pid: int) -> list[int]:
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.split("/")[2]))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _quote(s: str) -> str:
    import shlex

    return shlex.quote(s)
