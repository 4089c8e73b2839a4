"""`make bench-gpu`: what each recipe costs on this GPU, measured with RAVE's own trainer.

For each recipe, at the batch its table gives for this card and at the next larger batch: one short
`rave train` (through this project's wrapper) runs PHASE_1_DURATION = warmup + steps in phase 1,
then as many in the adversarial phase; its StepMeter (rave_pipeline/inside_rave/progress.py) gives s/step after
warm-up, the fraction of it spent waiting for data, and peak GPU memory (allocated, reserved) per
phase. The same schedule through plain `rave train` gives the ratio wrapper/plain from Lightning's
profiler. From the peak memory at two batch sizes (memory = fixed + per example x batch) it proposes
a batch for every row of the recipe's table, with stated headroom.

The data is a synthetic database in RAVE's own format (noise; speed and memory do not depend on
what the audio is), large enough that an epoch lasts many steps. Without CUDA the same code runs on
CPU with tiny settings (what the test suite runs). Writes reports/gpu.json and reports/gpu.md.
"""

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rave_pipeline.benchmarks.gpu_plan import Plan, next_plan, pair_order, table_rows
from rave_pipeline.benchmarks.gpu_report import analyse, summary, write
from rave_pipeline.benchmarks.gpu_run import run_one
from rave_pipeline.commands import recipes
from rave_pipeline.commands.hardware import resolve_device
from safeio import cli_main, number, program
from safeio.database import synthetic_database
from safeio.environment import env
from spec.rave import CONFIGS


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=program("python -m rave_pipeline.benchmarks.bench_gpu"), description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--device", default=env("DEVICE") or None, help="auto (default), cuda or cpu")
    ap.add_argument("--recipes", nargs="+", default=recipes.names())
    ap.add_argument(
        "--steps",
        type=number(int, 1, 10**5, "--steps"),
        default=None,
        help="timed steps per phase (default 20 on GPU, 2 on CPU)",
    )
    ap.add_argument(
        "--warmup",
        type=number(int, 0, 10**5, "--warmup"),
        default=None,
        help="untimed steps per phase (default 5 on GPU, 1 on CPU)",
    )
    ap.add_argument(
        "--budget-s",
        type=number(float, 0, 10**7, "--budget-s"),
        default=900,
        help="stop starting runs after this many seconds",
    )
    ap.add_argument("--no-plain", action="store_true", help="skip the plain `rave train` comparison")
    ap.add_argument(
        "--pairs",
        type=number(int, 1, 100, "--pairs"),
        default=None,
        help="wrapper/plain pairs per recipe, timed back to back in alternating order (default 3 on GPU, 1 on CPU)",
    )
    ap.add_argument(
        "--card-gb",
        type=float,
        nargs="+",
        default=None,
        help="instead: run each recipe at its table's batch for these card sizes, memory capped to them",
    )
    ap.add_argument(
        "--procs",
        type=number(int, 2, 1024, "GPUS"),
        default=None,
        help="instead: N GPUs (or CPU processes) training one model against one -> reports/scaling.json",
    )
    ap.add_argument("--out", type=Path, default=None, help="reports/gpu.json (reports/scaling.json with --procs)")
    ap.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        help="no runs: merge these reports (same card) and analyse them together",
    )
    return ap


@dataclasses.dataclass
class Session:
    """One bench-gpu invocation: its settings, the card, and the synthetic databases made so far."""

    args: argparse.Namespace
    gpu_gb: float | None
    steps: int
    warmup: int
    work: Path
    t_start: float = dataclasses.field(default_factory=time.perf_counter)
    dbs: dict = dataclasses.field(default_factory=dict)

    @property
    def on_gpu(self) -> bool:
        return self.gpu_gb is not None

    def elapsed(self) -> float:
        return time.perf_counter() - self.t_start


def first_plans(s: Session) -> list[Plan]:
    """Per recipe the run at its table's batch for this card (or each capped card size); on CPU the
    smallest settings RAVE trains with."""
    plans = []
    for name in s.args.recipes:
        recipe = recipes.load(name)
        if s.on_gpu and s.args.card_gb:
            for gb in s.args.card_gb:
                if recipe.batch_for_gpu(gb):
                    plans.append(Plan(recipe, recipe.batch_for_gpu(gb), "wrapper", f"{gb:g} GB card (capped)", gb))
        elif s.on_gpu:
            row, larger = table_rows(recipe, s.gpu_gb)
            plans.append(Plan(recipe, recipe.batch_by_gpu_gb[row], "wrapper", f"{row} GB row"))
        else:  # the smallest settings RAVE trains with
            recipe = dataclasses.replace(recipe, n_signal=CONFIGS[recipe.config].min_n_signal)
            plans.append(Plan(recipe, recipe.cpu_batch, "wrapper", "cpu batch"))
    return plans


def run_order(plans: list[Plan], a: argparse.Namespace, pairs: int) -> list:
    """Per recipe its first run and pair 0's plain half; then the larger batches (chosen once the first run's
    memory is known: ("larger", plan)); then pairs 1.. of wrapper against plain (the first to go when the
    budget is spent). Capped cards run card by card, so a spent budget drops the largest cards, not a recipe."""
    if a.card_gb:
        return sorted(plans, key=lambda p: p.card_gb)
    order, later = [], []
    for p in plans:
        plain0, rest = pair_order(p, pairs) if not a.no_plain else ([], [])
        order += [p, *plain0]
        later += rest
    return order + [("larger", p) for p in plans] + later


def run_plan(s: Session, plan: Plan, plans: list[Plan], left: float) -> dict:
    """One run of the order, on its recipe's synthetic database (made at its first run, big enough that an
    epoch lasts many steps: RAVE restarts its loader workers every epoch)."""
    a, name = s.args, plan.recipe.name
    if name not in s.dbs:
        biggest = max(p.batch for p in plans if p.recipe.name == name) * (1 if a.card_gb else 2)
        need = max(plan.recipe.min_chunks(biggest), 30 * biggest if s.on_gpu else 0)
        s.dbs[name] = synthetic_database(s.work / name, need, 2 * plan.recipe.n_signal, plan.recipe.sampling_rate)
    print(
        f"[{s.elapsed():5.0f} s] {name} ({plan.recipe.config}) batch {plan.batch}, {plan.why}, "
        f"{plan.kind}{f' (pair {plan.pair})' if plan.pair else ''}: {s.warmup}+{s.steps} steps per phase ...",
        flush=True,
    )
    timeout = min(left, max(a.budget_s / 3, 60))
    workers = plan.recipe.workers if s.on_gpu else 0
    r = run_one(plan, s.dbs[name], a.device, s.steps, s.warmup, timeout=timeout, workers=workers)
    return r | {
        "recipe": name,
        "config": plan.recipe.config,
        "batch": plan.batch,
        "kind": plan.kind,
        "row": plan.why,
        "n_signal": plan.recipe.n_signal,
        "pair": plan.pair,
    }


def run_all(s: Session, plans: list[Plan], order: list) -> list[dict]:
    results, by_recipe = [], {}
    try:
        for plan in order:
            if isinstance(plan, tuple):  # the larger batch for this recipe's first plan
                first = plan[1]
                wrapper_runs = [r for r in by_recipe.get(first.recipe.name, []) if r["kind"] == "wrapper"]
                plan = next_plan(first, wrapper_runs, s.gpu_gb)
                if plan is None:
                    continue
            left = s.args.budget_s - s.elapsed()
            if left < 30:
                print(f"  skipped {plan.recipe.name} batch {plan.batch} ({plan.kind}): time budget spent", flush=True)
                continue
            r = run_plan(s, plan, plans, left)
            results.append(r)
            by_recipe.setdefault(plan.recipe.name, []).append(r)
            print("        " + summary(r), flush=True)
    finally:  # the synthetic databases (GBs on a GPU machine)
        shutil.rmtree(s.work, ignore_errors=True)
    return results


@cli_main
def main(argv=None):
    a = parser().parse_args(argv)
    if a.procs:
        from rave_pipeline.benchmarks import bench_scaling

        return bench_scaling.run(a.procs, a.device, a.recipes, a.steps, a.warmup, a.out or Path("reports/scaling.json"))
    a.out = a.out or Path("reports/gpu.json")
    if a.merge:
        reports = [json.loads(p.read_text()) for p in a.merge]
        merged = {
            **reports[0],
            "runs": [r for rep in reports for r in rep["runs"]],
            "merged_from": [str(p) for p in a.merge],
        }
        return write(analyse(merged), a.out)

    import torch

    t_start = time.perf_counter()
    gpu_arg, _, gpu_gb = resolve_device(a.device, None)
    on_gpu = gpu_gb is not None
    steps = a.steps or (20 if on_gpu else 2)
    warmup = a.warmup if a.warmup is not None else (5 if on_gpu else 1)
    pairs = a.pairs or (3 if on_gpu else 1)
    device_name = torch.cuda.get_device_name(int(gpu_arg)) if on_gpu else "cpu"
    print(
        f"bench-gpu on {device_name}" + (f" ({gpu_gb:.0f} GB)" if on_gpu else " (no CUDA: tiny settings)"), flush=True
    )
    s = Session(a, gpu_gb, steps, warmup, Path(tempfile.mkdtemp(prefix="bench-gpu-db-")), t_start)
    plans = first_plans(s)
    results = run_all(s, plans, run_order(plans, a, pairs))
    report = analyse(
        {
            "device": device_name,
            "gpu_total_gb": gpu_gb,
            "torch": torch.__version__,
            "steps": steps,
            "warmup": warmup,
            "pairs": pairs,
            "runs": results,
            "wall_s": time.perf_counter() - t_start,
        }
    )
    write(report, a.out)
    print(f"\nwrote {a.out} and {a.out.with_suffix('.md')} in {report['wall_s']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
