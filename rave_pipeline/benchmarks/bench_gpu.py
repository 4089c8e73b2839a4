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
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rave_pipeline.benchmarks.gpu_plan import CONTEXT_GB, Plan, next_plan, pair_order, table_rows
from rave_pipeline.benchmarks.gpu_report import analyse, summary, write
from rave_pipeline.commands import recipes
from rave_pipeline.commands.train import rave_command, resolve_device
from safeio import cli_main, number
from safeio.database import synthetic_database
from safeio.environment import child_env, env
from spec.rave import CONFIGS

PLAIN_RAVE = "import sys; from scripts.main_cli import main; sys.argv[0] = 'rave'; sys.exit(main())"


def profiler_mean(output: str, action: str) -> float | None:
    """Mean seconds of one action (a regex) in the table Lightning's simple profiler prints at the end."""
    m = re.search(rf"\|\s*{action}\s*\|\s*([0-9.eE+-]+)\s*\|\s*\d+", output)
    return float(m.group(1)) if m else None


def run_one(plan: Plan, db: Path, device: str | None, steps: int, warmup: int, timeout: float, workers: int) -> dict:
    """One short training run; returns its StepMeter record + profiler rows, or an error."""
    gpu_arg, env_extra, _ = resolve_device(device, None)
    phase_1 = warmup + steps
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:  # a throw-away runs folder
        r = dataclasses.replace(plan.recipe, root=Path(tmp), max_steps=2 * phase_1, val_every=10**9, save_every=10**9)
        cmd = rave_command(r, plan.batch, gpu_arg, None, [f"PHASE_1_DURATION = {phase_1}"], workers, db)
        cmd = [c for c in cmd if c != "--noprogress"] + ["--noprogress"]
        if plan.kind == "plain":  # what `rave train` runs: acids-rave's entry point, from a neutral folder
            cmd = [sys.executable, "-c", PLAIN_RAVE, *cmd[3:]]
        t0 = time.perf_counter()
        try:
            cap = {"RAVE_PIPELINE_GPU_MEMORY_GB": str(plan.card_gb - CONTEXT_GB)} if plan.card_gb else {}
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=tmp if plan.kind == "plain" else recipes.REPO,
                env=child_env(**env_extra, PYTHONUNBUFFERED="1", RAVE_PIPELINE_WARMUP_STEPS=str(warmup), **cap),
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s", "wall_s": time.perf_counter() - t0}
        wall = time.perf_counter() - t0
        out = proc.stdout + proc.stderr
        card = f"-{plan.card_gb:g}GB" if plan.card_gb else ""
        (Path(env("BENCH_GPU_LOGS") or tmp) / f"{plan.recipe.name}-b{plan.batch}-{plan.kind}{card}.log").write_text(out)
        result = {"wall_s": wall, "card_gb": plan.card_gb}
        # what the wrapper adds to every step, as Lightning's profiler timed its callbacks
        hooks = re.findall(
            r"\|\s*\[Callback\](?:StepMeter|CheckpointOnExit)\.(?:on_train_batch_start|on_train_batch_end|"
            r"on_before_optimizer_step)\s*\|\s*([0-9.eE+-]+)",
            out,
        )
        if hooks:
            result["wrapper_callbacks_s_per_step"] = sum(map(float, hooks))
        for key, row in (
            ("profiler_step_s", "run_training_batch"),
            ("profiler_data_s", r"\[_?TrainingEpochLoop\]\.train_dataloader_next"),
        ):
            mean = profiler_mean(out, row)
            if mean is not None:
                result[key] = mean
        progress = sorted(Path(tmp).rglob("progress.json"))
        if progress:
            result |= json.loads(progress[-1].read_text())
        if proc.returncode != 0:
            oom = "out of memory" in out.lower()
            result["error"] = "out of memory" if oom else f"exit {proc.returncode}: {last_error(out)}"
        return result


def last_error(output: str) -> str:
    """The exception line of a traceback (gin appends 'In call to configurable' lines after it)."""
    lines = [l.strip() for l in output.strip().splitlines() if l.strip()]
    errors = [l for l in lines if re.match(r"^[\w.]*(Error|Exception)\b", l)]
    return (errors or lines or ["(no output)"])[-1][:300]


@cli_main
def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m rave_pipeline.benchmarks.bench_gpu", description=__doc__.split("\n\n")[0]
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
    ap.add_argument("--out", type=Path, default=Path("reports/gpu.json"))
    ap.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        help="no runs: merge these reports (same card) and analyse them together",
    )
    a = ap.parse_args(argv)
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

    plans, dbs = [], {}
    work = Path(tempfile.mkdtemp(prefix="bench-gpu-db-"))
    for name in a.recipes:
        recipe = recipes.load(name)
        if on_gpu and a.card_gb:
            for gb in a.card_gb:
                if recipe.batch_for_gpu(gb):
                    plans.append(Plan(recipe, recipe.batch_for_gpu(gb), "wrapper", f"{gb:g} GB card (capped)", gb))
        elif on_gpu:
            row, larger = table_rows(recipe, gpu_gb)
            plans.append(Plan(recipe, recipe.batch_by_gpu_gb[row], "wrapper", f"{row} GB row"))
        else:  # the smallest settings RAVE trains with
            recipe = dataclasses.replace(recipe, n_signal=CONFIGS[recipe.config].min_n_signal)
            plans.append(Plan(recipe, recipe.cpu_batch, "wrapper", "cpu batch"))
    # per recipe its first run and pair 0's plain half; then the larger batches (chosen once the first run's
    # memory is known); then pairs 1.. of wrapper against plain (the first to go when the budget is spent)
    if a.card_gb:  # card by card, so a spent budget drops the largest cards, not a recipe
        order = sorted(plans, key=lambda p: p.card_gb)
    else:
        order, later = [], []
        for p in plans:
            plain0, rest = pair_order(p, pairs) if not a.no_plain else ([], [])
            order += [p, *plain0]
            later += rest
        order += [("larger", p) for p in plans] + later

    results, by_recipe = [], {}
    try:
        for plan in order:
            if isinstance(plan, tuple):  # the larger batch for this recipe's first plan
                first = plan[1]
                plan = next_plan(
                    first, [r for r in by_recipe.get(first.recipe.name, []) if r["kind"] == "wrapper"], gpu_gb
                )
                if plan is None:
                    continue
            left = a.budget_s - (time.perf_counter() - t_start)
            if left < 30:
                print(f"  skipped {plan.recipe.name} batch {plan.batch} ({plan.kind}): time budget spent", flush=True)
                continue
            name = plan.recipe.name
            if name not in dbs:  # epochs of many steps (RAVE restarts its loader workers every epoch)
                biggest = max(p.batch for p in plans if p.recipe.name == name) * (1 if a.card_gb else 2)
                need = max(plan.recipe.min_chunks(biggest), 30 * biggest if on_gpu else 0)
                dbs[name] = synthetic_database(work / name, need, 2 * plan.recipe.n_signal, plan.recipe.sampling_rate)
            print(
                f"[{time.perf_counter() - t_start:5.0f} s] {name} ({plan.recipe.config}) batch {plan.batch}, "
                f"{plan.why}, "
                f"{plan.kind}{f' (pair {plan.pair})' if plan.pair else ''}: {warmup}+{steps} steps per phase ...",
                flush=True,
            )
            r = run_one(
                plan,
                dbs[name],
                a.device,
                steps,
                warmup,
                timeout=min(left, max(a.budget_s / 3, 60)),
                workers=plan.recipe.workers if on_gpu else 0,
            )
            r |= {
                "recipe": name,
                "config": plan.recipe.config,
                "batch": plan.batch,
                "kind": plan.kind,
                "row": plan.why,
                "n_signal": plan.recipe.n_signal,
                "pair": plan.pair,
            }
            results.append(r)
            by_recipe.setdefault(name, []).append(r)
            print("        " + summary(r), flush=True)

    finally:  # the synthetic databases (GBs on a GPU machine)
        shutil.rmtree(work, ignore_errors=True)
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
