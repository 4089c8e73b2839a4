import os
import sys
from pathlib import Path

# CPU runs with 2 OpenMP threads on a busy 2-core machine are 10-40x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]
# The repo root on sys.path (python -m pytest adds it) turns our configs/ folder into a namespace
# package that hijacks rave's gin `include "configs/v1.gin"`. The project is installed editable,
# so its packages import without it.
sys.path[:] = [p for p in sys.path if p not in ("", ".", str(REPO))]


@pytest.fixture
def repo() -> Path:
    return REPO


def run_cli(*args, cwd=REPO, env=None, timeout=600):
    """Run a project command in a subprocess; returns CompletedProcess with text output."""
    import subprocess

    e = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout)
