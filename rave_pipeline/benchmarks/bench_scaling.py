"""`make bench-gpu GPUS=N`: one model trained by N GPUs (or N CPU processes) against one, per recipe.

Each run is a short data-parallel `rave train` through this project's wrapper (rave_pipeline/inside_rave/ddp.py)
at the same batch per process, PHASE_1_DURATION = warmup + steps, then as many adversarial steps; its
StepMeter gives s/step per phase after warm-up. A step of N processes learns from N times the examples, so
the scaling efficiency is t(1) / t(N) (1.0: the synchronisation costs nothing) and the throughput N x that.
Writes reports/scaling.json and prints a table.
"""

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
from pathlib import Path

from rave_pipeline.benchmarks.gpu_plan import Plan
from rave_pipeline.benchmarks.gpu_run import run_one
from rave_pipeline.commands import recipes
from rave_pipeline.commands.hardware import choose_batch, resolve_device
from safeio import UserError, atomic_write_text, cli_main, number, program
from safeio.database import synthetic_database
from safeio.environment import env
from spec.rave import CONFIGS


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=program("python -m rave_pipeline.benchmarks.bench_scaling"), description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--procs", type=number(int, 2, 1024, "GPUS"), required=True, help="GPUs (or CPU processes)")
    ap.add_argument("--device", default=env("DEVICE") or None, help="auto (default), cuda or cpu")
    ap.add_argument("--recipes", nargs="+", default=recipes.names())
    ap.add_argument("--steps", type=number(int, 1, 10**5, "--steps"), default=None, help="timed steps per phase")
    ap.add_argument("--warmup", type=number(int, 0, 10**5, "--warmup"), default=None, help="untimed steps per phase")
    ap.add_argument("--out", type=Path, default=Path("reports/scaling.json"))
    return ap


def measure(recipe, procs: int, batch: int, a, steps: int, warmup: int, gpu_gb) -> dict:
    """s/step per phase with 1 and with `procs` processes, on one synthetic database."""
    work = Path(tempfile.mkdtemp(prefix="bench-scaling-"))
    try:
        chunks = max(recipe.min_chunks(batch * procs), 4 * batch * procs * (2 * (warmup + steps)))
        db = synthetic_database(work / "db", chunks, 2 * recipe.n_signal, recipe.sampling_rate)
        plan = Plan(recipe, batch, "wrapper", f"{procs} processes")
        workers = recipe.workers if gpu_gb else 0
        runs = {n: run_one(plan, db, a.device, steps, warmup, 3600, workers, procs=n) for n in (1, procs)}
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


@cli_main
def main(argv=None):
    a = parser().parse_args(argv)
    import torch

    _, _, gpu_gb = resolve_device(a.device, None)
    if gpu_gb and torch.cuda.device_count() < a.procs:
        raise UserError(f"GPUS={a.procs} but this machine has {torch.cuda.device_count()} GPU(s)")
    steps, warmup = a.steps or (20 if gpu_gb else 3), a.warmup if a.warmup is not None else (5 if gpu_gb else 1)
    where = torch.cuda.get_device_name(0) if gpu_gb else "cpu (gloo)"
    rows = []
    for name in a.recipes:
        recipe = recipes.load(name)
        if not gpu_gb:  # the smallest settings RAVE trains with
            recipe = dataclasses.replace(recipe, n_signal=CONFIGS[recipe.config].min_n_signal)
        batch = choose_batch(recipe, None, gpu_gb)
        print(f"{name} ({recipe.config}), batch {batch} per process, 1 and {a.procs} processes on {where} ...")
        rows.append(measure(recipe, a.procs, batch, a, steps, warmup, gpu_gb))
        r = rows[-1]
        for phase in ("1", "2"):
            print(
                f"  phase {phase}: {r[f's_per_step_1_phase_{phase}']:.3f} s/step alone, "
                f"{r[f's_per_step_{a.procs}_phase_{phase}']:.3f} with {a.procs}: efficiency "
                f"{r[f'efficiency_phase_{phase}']:.2f}, {r[f'throughput_x_phase_{phase}']:.2f}x the examples/s",
                flush=True,
            )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(a.out, json.dumps({"device": where, "steps": steps, "warmup": warmup, "rows": rows}, indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    sys.exit(main())
