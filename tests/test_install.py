"""The project installed as users install it (pip install ., not editable), run from another folder."""

import shutil
import subprocess
import sys

import pytest

from helpers.audio import noise_set
from helpers.cli import REPO

pytestmark = pytest.mark.slow


def test_a_non_editable_install_runs_outside_the_checkout(tmp_path):
    site, work, src = tmp_path / "site", tmp_path / "elsewhere", tmp_path / "src"
    work.mkdir()
    # a copy of the sources: pip builds in the tree it is given (build/), which must not be the checkout
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            ".*",
            "datasets",
            "demo",
            "exports",
            "runs",
            "reports",
            "build",
            "logs",
            "renders",
            "*.egg-info",
            "__pycache__",
        ),
    )
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, pip.stderr
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)}

    def run(*args, **extra):
        return subprocess.run(
            [sys.executable, *map(str, args)],
            cwd=work,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=600,
        )

    where = run("-c", "import audition, chaos_models, rave_pipeline; print(audition.__file__, rave_pipeline.__file__)")
    assert where.returncode == 0 and where.stdout.count(str(site)) == 2, where.stdout + where.stderr
    r = run("-m", "chaos_models", "export", "--out", "mine.ts")
    assert r.returncode == 0 and (work / "mine.ts").exists(), r.stderr
    r = run("-m", "audition", "info", "mine.ts")
    assert r.returncode == 0 and "chaos" in r.stdout, r.stderr
    # the one command, as pip installed it
    command = subprocess.run(
        [str(site / "bin" / "rave-to-chaos"), "info", "mine.ts"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert command.returncode == 0 and command.stdout == r.stdout, command.stderr
    r = subprocess.run(
        [str(site / "bin" / "rave-to-chaos"), "validate", "mine.ts"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0 and "mine.ts" in r.stdout, r.stdout + r.stderr
    # recipes: none without the setting, and a sentence that names it; with it, preprocess works here
    r = run("-m", "rave_pipeline", "preprocess", "noise")
    assert r.returncode == 2 and "set RAVE_PIPELINE_CONFIGS" in r.stderr, r.stderr
    noise_set(work / "datasets/noise/raw", 20)
    r = run("-m", "rave_pipeline", "preprocess", "noise", "--n-signal", "65536", RAVE_PIPELINE_CONFIGS=REPO / "configs")
    assert r.returncode == 0 and (work / "datasets/noise/db/fingerprint.json").exists(), r.stdout + r.stderr
