"""A PostgreSQL for the benchmark: GKA_BENCH_POSTGRES_URL when set, otherwise a private cluster
on a free port in a temporary directory (Debian's postgresql package), removed afterwards."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .browser import free_port


@contextlib.contextmanager
def database():
    """Yields a SQLAlchemy URL, or None when there is neither a URL nor a server to start."""
    if os.environ.get("GKA_BENCH_POSTGRES_URL"):
        yield os.environ["GKA_BENCH_POSTGRES_URL"]
        return
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        yield None
        return
    bin_dir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="gka-bench-pg-"))
    port = free_port()
    as_postgres = os.geteuid() == 0  # initdb refuses to run as root
    if as_postgres:
        shutil.chown(folder, "postgres")

    def run(*command: str) -> None:
        line = " ".join(command)
        subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", line] if as_postgres else ["sh", "-c", line],
                       check=True, capture_output=True)

    run(f"{bin_dir}/initdb", "-D", f"{folder}/data", "-U", "gka", "-A", "trust")
    run(f"{bin_dir}/pg_ctl", "-D", f"{folder}/data", "-l", f"{folder}/log", "-w", "-o",
        f"'-p {port} -k {folder} -c listen_addresses=127.0.0.1'", "start")
    try:
        yield f"postgresql+psycopg://gka@127.0.0.1:{port}/postgres"
    finally:
        run(f"{bin_dir}/pg_ctl", "-D", f"{folder}/data", "-m", "fast", "stop")
        shutil.rmtree(folder, ignore_errors=True)
