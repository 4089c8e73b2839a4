"""Benchmark: seconds per training step of each recipe on this device (both RAVE phases), and the
real-time factor of each export at the default buffer (2048), one thread. Prints a table, never asserts.

Steps are timed by RAVE's own run (Lightning's simple profiler, `run_training_batch` mean) on the
recipe's preprocessed database, in a throw-away runs folder. Phase 2 (adversarial) is reached at once
by binding PHASE_1_DURATION = 0.
"""

import dataclasses
import json
import subprocess
import tempfile
from pathlib import Path

import torch

from rave_pipeline.benchmarks.gpu_run import profiler_mean
from rave_pipeline.commands import recipes
from rave_pipeline.commands.hardware import choose_batch, resolve_device
from rave_pipeline.commands.train import rave_command
from safeio import program
from safeio.environment import child_env
from spec.host import DEFAULT_BUFFER


def seconds_per_step(recipe, steps: int, device, phase: int):
    gpu_arg, env_extra, gpu_gb = resolve_device(device, None)
    batch = choose_batch(recipe, None, gpu_gb)
    with tempfile.TemporaryDirectory() as tmp:  # a throw-away runs folder, the recipe's own database
        r = dataclasses.replace(recipe, root=Path(tmp), max_steps=steps, val_every=10**9, save_every=10**9)
        overrides = ["PHASE_1_DURATION = 0"] if phase == 2 else []
        cmd = rave_command(r, batch, gpu_arg, None, overrides, recipe.workers if gpu_gb else 0, recipe.db_dir)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env(**env_extra))
    mean = profiler_mean(proc.stdout + proc.stderr, "run_training_batch")
    if proc.returncode or mean is None:
        return None, batch
    return mean, batch


def main(device=None, steps=None, exports_dir="exports", root=None):
    print(f"{'recipe':<8} {'config':<9} {'phase':>5} {'batch':>5} {'s/step':>8}")
    for name in recipes.names():
        recipe = recipes.load(name, root=root)
        if not (recipe.db_dir / "fingerprint.json").exists():
            print(
                f"{name:<8} (no database in {recipe.db_dir}: run make preprocess-{name}, or ROOT=demo after make demo)"
            )
            continue
        info = json.loads((recipe.db_dir / "fingerprint.json").read_text())
        recipe = dataclasses.replace(recipe, n_signal=info["n_signal"])
        for phase in (1, 2):
            n = steps or (6 if device == "cpu" or not torch.cuda.is_available() else 50)
            s, batch = seconds_per_step(recipe, n, device, phase)
            shown = f"{s:8.2f}" if s is not None else "  failed"
            print(f"{name:<8} {recipe.config:<9} {phase:>5} {batch:>5} {shown}")
    from audition.bench import bench_in_fresh_process, table

    rows = []
    for ts in sorted(Path(exports_dir).glob("*.ts")):
        rows += [r for r in bench_in_fresh_process(ts, (DEFAULT_BUFFER,)) if r["buffer"] == DEFAULT_BUFFER]
    print()
    print(table(rows) if rows else f"no exports in {exports_dir}: run make export-all")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(prog=program("python -m rave_pipeline.benchmarks.bench_train"), description=__doc__)
    ap.add_argument("--device", default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--exports", default="exports")
    ap.add_argument("--root", default=None, help="folder holding datasets/ (default: the repo; demo for make demo's)")
    a = ap.parse_args()
    main(a.device, a.steps, a.exports, a.root)
