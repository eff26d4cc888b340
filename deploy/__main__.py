"""``python -m deploy --processes 4 --port 8080``: the dashboard as N processes behind nginx.

The settings come from the environment, the same for every process: GKA_DATABASE_URL (one
PostgreSQL for processes on several machines; SQLite serves processes on one machine),
GKA_COOKIE_KEY, STREAMLIT_SERVER_COOKIE_SECRET (made for this run when not given).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from .run import Deployment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2, help="app processes (about one per CPU core)")
    parser.add_argument("--port", type=int, default=8080, help="port nginx listens on")
    parser.add_argument("--address", default="127.0.0.1", help="address nginx listens on")
    parser.add_argument("--run-dir", type=Path, default=Path("deploy/run"),
                        help="folder for nginx.conf, the pid file and the logs")
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop like Ctrl-C: every process with it
    try:
        with Deployment(args.processes, args.port, args.run_dir.resolve(), address=args.address) as deployment:
            print(f"{args.processes} app processes behind nginx on {deployment.url} (logs in {args.run_dir})",
                  flush=True)
            deployment.wait()
    except KeyboardInterrupt:
        pass
    except (RuntimeError, OSError) as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
