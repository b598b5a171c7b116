"""scripts/load's soak against a real PostgreSQL server started here on loopback, with that
server killed (SIGKILL, every process of it) and started again mid-soak; afterwards the
database is read back: every acknowledged playlist and like must be in it.

    scripts/load --postgres --phases soak --soak-minutes 10 [any other scripts/load option]
"""

from __future__ import annotations

import sys
import time

from tests.pg_server import PostgresServer, find_bindir


def main(argv: list[str]) -> int:
    bindir = find_bindir()
    if bindir is None:
        print("no PostgreSQL server binaries (scripts/_env.sh::ensure_postgres installs them)", file=sys.stderr)
        return 2
    server = PostgresServer(bindir).init().start()
    restarts = []

    def restart_db() -> None:
        t = time.perf_counter()
        server.kill9()
        server.start()
        restarts.append(round(time.perf_counter() - t, 2))
        print(f"postgres killed (SIGKILL) and started again in {restarts[-1]} s", flush=True)

    try:
        url = server.create_database("segue_soak")
        from serving.tools.bench.load import main as load

        return load([*argv, "--store-url", url], restart_db=restart_db)
    finally:
        print(f"postgres restarts: {restarts}; server log tail:\n{server.log_tail(8)}")
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
