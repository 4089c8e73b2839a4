"""Run the project's commands as a user would: a subprocess from the repository root."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args, cwd=REPO, env=None, timeout=600):
    """Run `python <args>` in a subprocess; returns CompletedProcess with text output."""
    e = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, *map(str, args)], cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout
    )


def run_make(*args, timeout=120):
    """`make -s <args>` from the repository root, each variable passed as one argument, as typed."""
    cmd = ["make", "-s", "--no-print-directory", *map(str, args)]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
