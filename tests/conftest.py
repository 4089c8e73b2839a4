import os
import sys

# CPU runs with 2 OpenMP threads on a busy 2-core machine are 10-40x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
from helpers.cli import REPO  # noqa: E402

# The repo root on sys.path (python -m pytest adds it) turns our configs/ folder into a namespace
# package that hijacks rave's gin `include "configs/v1.gin"`. The project is installed editable,
# so its packages import without it.
sys.path[:] = [p for p in sys.path if p not in ("", ".", str(REPO))]
