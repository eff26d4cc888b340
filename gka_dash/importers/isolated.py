"""An import from the Beheer page, run as the command line in a process of its own.

A hostile or broken upload must not take the app server with it: the child has a memory
ceiling and a time limit, and whatever it does, the server's sessions go on. The child is the
same ``python -m gka_dash import-…`` a beheerder runs by hand, so page and CLI share one path,
one transaction per import and one-line errors.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from .. import config
from ..errors import CLI_ERROR

MEMORY_BYTES = 3 * 1024**3  # the national buurt layer needs well under 1 GB
SECONDS = 600


class Outcome(NamedTuple):
    ok: bool
    lines: list[str]  # the report, or the one line that says why nothing was stored


def _limits() -> None:  # runs in the child, before the import
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


_PATH = re.compile(r"(?<![\w.])/(?:[\w.@+-]+/)+")


def _without_paths(line: str) -> str:
    """The server's folders (the upload's temporary folder, an unpacked zip's) are nobody's
    business on the page: '/tmp/tmpab12/wijk.geojson' is said as 'wijk.geojson'."""
    return _PATH.sub("", line)


def run(command: str, path: Path, options: list[str], *, by: str) -> Outcome:
    argv = [sys.executable, "-m", "gka_dash", command, str(path), *options, "--by", by]
    env = {**os.environ, "GKA_DATABASE_URL": config.database_url()}
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=SECONDS,
                              preexec_fn=_limits, cwd=config.PROJECT_ROOT)
    except subprocess.TimeoutExpired:
        return Outcome(False, [f"{path.name}: het inlezen duurde langer dan {SECONDS // 60} minuten en is gestopt; "
                               "er is niets opgeslagen"])
    if done.returncode == 0:
        return Outcome(True, [_without_paths(line) for line in done.stdout.strip().splitlines()])
    said = [_without_paths(line.removeprefix(CLI_ERROR)) for line in done.stderr.strip().splitlines()
            if line.startswith(CLI_ERROR)]
    if not said:  # killed for memory, or a fault without our one line: say so, never show a traceback
        said = [f"{path.name}: het inlezen is gestopt (het had meer geheugen of tijd nodig dan een upload mag "
                "gebruiken); er is niets opgeslagen"]
    return Outcome(False, said[-1:])
