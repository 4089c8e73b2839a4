"""`make bench-gpu GPUS=N` (bench_gpu.py --procs N): one model trained by N GPUs (or CPU processes) against one.

Each run is a short data-parallel `rave train` through this project's wrapper (rave_pipeline/inside_rave/ddp.py)
at the same batch per process, PHASE_1_DURATION = warmup + steps, then as many adversarial steps; its
StepMeter gives s/step per phase after warm-up. A step of N processes learns from N times the examples, so
the scaling efficiency is t(1) / t(N) (1.0: the synchronisation costs nothing) and the throughput N x that.
Writes reports/scaling.json and prints a table.
"""

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

from rave_pipeline.benchmarks.gpu_plan import Plan
from rave_pipeline.benchmarks.gpu_run import run_one
from rave_pipeline.commands import recipes
from rave_pipeline.commands.hardware import choose_batch, resolve_device
from safeio import UserError, atomic_write_text
from safeio.database import synthetic_database
from spec.rave import CONFIGS


def measure(recipe, procs: int, batch: int, device, steps: int, warmup: int, gpu_gb) -> dict:
    """s/step per phase with 1 and with `procs` processes, on one synthetic database."""
    work = Path(tempfile.mkdtemp(prefix="bench-scaling-"))
    try:
        chunks = max(recipe.min_chunks(batch * procs), 4 * batch * procs * (2 * (warmup + steps)))
        db = synthetic_database(work / "db", chunks, 2 * recipe.n_signal, recipe.sampling_rate)
        plan = Plan(recipe, batch, "wrapper", f"{procs} processes")
        workers = recipe.workers if gpu_gb else 0
        runs = {n: run_one(plan, db, device, steps, warmup, 3600, workers, procs=n) for n in (1, procs)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    row = {"recipe": recipe.name, "config": recipe.config, "batch_per_process": batch, "procs": procs}
    for n, r in runs.items():
        if "error" in r:
            raise UserError(f"bench-scaling: {recipe.name} with {n} process(es) failed: {r['error']}")
        for phase in ("1", "2"):
            row[f"s_per_step_{n}_phase_{phase}"] = r["phases"][phase]["s_per_step_median"]
    for phase in ("1", "2"):
        one, many = row[f"s_per_step_1_phase_{phase}"], row[f"s_per_step_{procs}_phase_{phase}"]
        row[f"efficiency_phase_{phase}"] = one / many
        row[f"throughput_x_phase_{phase}"] = procs * one / many
    return row


def run(procs: int, device, names: list[str], steps, warmup, out: Path) -> None:
    import torch

    _, _, gpu_gb = resolve_device(device, None)
    if gpu_gb and torch.cuda.device_count() < procs:
        raise UserError(f"GPUS={procs} but this machine has {torch.cuda.device_count()} GPU(s)")
    steps, warmup = steps or (20 if gpu_gb else 3), warmup if warmup is not None else (5 if gpu_gb else 1)
    where = torch.cuda.get_device_name(0) if gpu_gb else "cpu (gloo)"
    rows = []
    for name in names:
        recipe = recipes.load(name)
        if not gpu_gb:  # the smallest settings RAVE trains with
            recipe = dataclasses.replace(recipe, n_signal=CONFIGS[recipe.config].min_n_signal)
        batch = choose_batch(recipe, None, gpu_gb)
        print(f"{name} ({recipe.config}), batch {batch} per process, 1 and {procs} processes on {where} ...")
        rows.append(measure(recipe, procs, batch, device, steps, warmup, gpu_gb))
        r = rows[-1]
        for phase in ("1", "2"):
            print(
                f"  phase {phase}: {r[f's_per_step_1_phase_{phase}']:.3f} s/step alone, "
                f"{r[f's_per_step_{procs}_phase_{phase}']:.3f} with {procs}: efficiency "
                f"{r[f'efficiency_phase_{phase}']:.2f}, {r[f'throughput_x_phase_{phase}']:.2f}x the examples/s",
                flush=True,
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps({"device": where, "steps": steps, "warmup": warmup, "rows": rows}, indent=1))
    print(f"wrote {out}")
