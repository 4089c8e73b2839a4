"""The real batch scripts on a real single-node Slurm started inside the test (CPU mode, tiny data).

Slow (a few minutes). Skips, saying why, only where Slurm cannot run (not installed, not root).
"""

import re
import subprocess

import pytest
import torch

from helpers import slurm_cluster as sc
from helpers.audio import noise_set
from helpers.cli import REPO
from rave_pipeline.commands import recipes, runs

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sc.available() is not None, reason=str(sc.available()))]


def make(env, *args):
    r = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO,
        env={**env, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_train_export_and_requeue_on_real_slurm(tmp_path):
    noise_set(tmp_path / "datasets/noise/raw", 40)
    # the scripts ask for 8 CPUs and 32 GB; this node has 2 CPUs and 1 GB (a GPU it has: fake devices)
    sbatch_args = f"--mem=600M --cpus-per-task=1 --output={tmp_path}/%x-%j.out"
    common = [f"ROOT={tmp_path}", "DEVICE=cpu", "N_SIGNAL=65536", "VAL_EVERY=4", f"SBATCH_ARGS={sbatch_args}"]
    scratch = tmp_path / "node-local"  # what SLURM_TMPDIR / STAGE_DIR name on a cluster
    with sc.cluster(tmp_path / "slurm") as env:
        env = {**env, "STAGE_DIR": str(scratch)}
        out = make(env, "cluster-train-noise", "MAX_STEPS=8", *common)
        train, export = re.search(r"training job (\d+) \(noise\), export job (\d+)", out).groups()
        assert sc.wait_done(train, env, 600) == "COMPLETED", (tmp_path / f"rave-train-{train}.out").read_text()[-3000:]
        assert sc.wait_done(export, env, 300) == "COMPLETED", (tmp_path / f"rave-export-{export}.out").read_text()[
            -3000:
        ]
        ts = recipes.load("noise", root=tmp_path).export_path
        assert ts.exists() and ts.with_suffix(".json").exists()
        assert runs.global_step(runs.newest_checkpoint(tmp_path / "runs/noise")) == 8
        log = (tmp_path / f"rave-train-{train}.out").read_text()
        assert re.search(rf"database: staged [0-9.]+ GB to {scratch}/rave-pipeline/noise-\w+/db", log), log[-3000:]
        assert re.search(rf"training noise: .*, reading {scratch}/rave-pipeline/noise-\w+/db", log), (
            "trains from the copy"
        )
        assert "removed the staged copy" in log and not list(scratch.glob("rave-pipeline/*")), "cleaned at the end"

        # A second, longer run under its own tag. While it trains, Slurm's warning before the time limit: USR1
        # to the batch shell only (what #SBATCH --signal=B:USR1@600 sends); the script checkpoints, stops and
        # requeues itself.
        out = make(env, "cluster-train-noise", "MAX_STEPS=40", "TAG=requeue", *common)
        job = re.search(r"training job (\d+)", out).group(1)
        run_dir = tmp_path / "runs/noise-requeue"
        sc.wait_for(lambda: runs.checkpoints(run_dir), 600, "the first checkpoint")
        subprocess.run(["scancel", "--signal=USR1", "--batch", job], env=env, check=True, timeout=30)
        assert sc.wait_done(job, env, 900) == "COMPLETED"
        log = (tmp_path / f"rave-train-{job}.out").read_text()
        assert f"USR1: checkpointing noise and requeueing job {job}" in log, log[-3000:]
        assert "(start 2)" in log, "the job requeued itself and Slurm restarted it"
        stopped = re.search(r"received SIGTERM: saved .*stopped-step=(\d+)\.ckpt", log)
        assert stopped, "the trainer checkpointed on the way out:\n" + log[-3000:]
        resumed = re.search(r"resuming .* at step (\d+)", log)
        assert resumed and int(resumed.group(1)) == int(stopped.group(1)) > 0, "resumed exactly where it stopped"
        first, second = log.split("(start 2)")
        assert "database: staged" in first and "database: reusing the copy staged in" in second, log[-3000:]
        assert re.search(r"step 40/40 · phase 1 · [0-9.]+ s/step", second), "the job log says s/step and ETA"
        assert not list(scratch.glob("rave-pipeline/*")), "the staged copy goes when the job is done"
        assert runs.global_step(runs.newest_checkpoint(run_dir)) == 40
        assert len({p.parents[2] for p in run_dir.rglob("*.ckpt")}) == 1, "a requeued job never starts a second run"


def test_a_two_task_data_parallel_job_requeues_and_resumes_with_two_tasks(tmp_path):
    """PROCS=2 through the same sbatch script: srun starts both ranks, the database is staged once per node,
    USR1 before the time limit stops both at one step, the requeued job resumes there with two tasks."""
    noise_set(tmp_path / "datasets/noise/raw", 40)
    sbatch_args = f"--mem=1000M --cpus-per-task=1 --output={tmp_path}/%x-%j.out"
    scratch = tmp_path / "node-local"
    settings = ["DEVICE=cpu", "PROCS=2", "BATCH=2", "AUGMENT=none", "N_SIGNAL=65536", "VAL_EVERY=100"]
    with sc.cluster(tmp_path / "slurm") as env:
        env = {**env, "STAGE_DIR": str(scratch), "RAVE_PIPELINE_PROGRESS_S": "1"}
        out = make(
            env, "cluster-train-noise", "MAX_STEPS=12", f"ROOT={tmp_path}", f"SBATCH_ARGS={sbatch_args}", *settings
        )
        assert "#SBATCH --nodes=1\n#SBATCH --ntasks-per-node=2" in out, out
        train, export = re.search(r"training job (\d+) \(noise\), export job (\d+)", out).groups()
        log = tmp_path / f"rave-train-{train}.out"
        sc.wait_for(lambda: log.exists() and re.search(r"step [2-9]/12", log.read_text()), 600, "step 2")
        subprocess.run(["scancel", "--signal=USR1", "--batch", train], env=env, check=True, timeout=30)
        assert sc.wait_done(train, env, 900) == "COMPLETED", log.read_text()[-3000:]
        text = log.read_text()
        first, second = text.split("(start 2)")
        assert first.count("batch 2 per process × 2 processes = 4 examples per step") == 1, text[-3000:]
        assert first.count("database: staged") == 1 and second.count("database: reusing") == 1, "once per node"
        stopped = re.search(
            r"received SIGUSR1 \(rank \d\): saved .*stopped-step=(\d+)\.ckpt", first
        )  # srun passes USR1
        assert stopped, "both ranks stopped at one step, one checkpoint:\n" + first[-3000:]
        resumed = re.search(r"resuming .* at step (\d+)", second)
        assert resumed and resumed.group(1) == stopped.group(1), "resumed exactly where it stopped"
        assert "batch 2 per process × 2 processes" in second and "step 12/12" in second
        newest = runs.newest_checkpoint(tmp_path / "runs/noise")
        digests = torch.load(newest, map_location="cpu", weights_only=False)["rave_to_chaos"]["ranks"]
        assert runs.global_step(newest) == 12 and len(digests) == 2 and digests[0] == digests[1]
        assert sc.wait_done(export, env, 300) == "COMPLETED", "a data-parallel checkpoint exports as any other"
