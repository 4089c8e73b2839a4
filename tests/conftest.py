import os
import sys

# CPU runs with 2 OpenMP threads on a busy 2-core machine are 10-40x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
from helpers.cli import REPO  # noqa: E402
from safeio.environment import env  # noqa: E402

# The repo root on sys.path (python -m pytest adds it) turns our configs/ folder into a namespace
# package that hijacks rave's gin `include "configs/v1.gin"`. The project is installed editable,
# so its packages import without it.
sys.path[:] = [p for p in sys.path if p not in ("", ".", str(REPO))]

import pytest  # noqa: E402

# The real hosts (nn~ in Pd, nn.ar in scsynth) are built from the sources NN_TILDE_SRC / NN_AR_SRC name
# (.ci/run sets them), once per session and only when a test asks. Without them those tests skip and
# the run's last lines say so; with REQUIRE_REAL_HOSTS=1 (.ci/run) a missing host is a failure.
NOT_HERE = "real host not here: "


def real_host(found: tuple):
    path, why = found
    if path is None:
        if env("REQUIRE_REAL_HOSTS") == "1":
            pytest.fail(f"REQUIRE_REAL_HOSTS=1 but {why}", pytrace=False)
        pytest.skip(NOT_HERE + why)
    return path


@pytest.fixture(scope="session")
def nn_dir():
    """The folder holding the real nn~.pd_linux."""
    from audition.real_hosts import nn_tilde

    return real_host(nn_tilde())


@pytest.fixture(scope="session")
def nn_ar_dir():
    """The folder holding the real nn.ar build (its scsynth plugin and sclang classes)."""
    from audition.real_hosts import nn_ar

    return real_host(nn_ar())


def pytest_unconfigure(config):
    """After pytest's own last line: how many real-host tests did not run here, and how to run them."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    missing = [r for r in (reporter.stats.get("skipped", []) if reporter else []) if NOT_HERE in str(r.longrepr)]
    if missing:
        reporter.write_line(
            f"{len(missing)} real-host test(s) did not run: set NN_TILDE_SRC and NN_AR_SRC to the sources of nn_tilde "
            "and nn.ar (a git archive .tar.gz or a folder; .ci/run sets them), then make test or make real-hosts; "
            "REQUIRE_REAL_HOSTS=1 turns a missing host into a failure",
            yellow=True,
            bold=True,
        )
