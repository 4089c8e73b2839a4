"""`make bench-gpu`: what each recipe costs on this GPU, measured with RAVE's own trainer.

For each recipe, at the batch its table gives for this card and at the next larger batch: one short
`rave train` (through this project's wrapper) runs PHASE_1_DURATION = warmup + steps in phase 1,
then as many in the adversarial phase; its StepMeter (rave_pipeline/progress.py) gives s/step after
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
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rave_pipeline import recipes
from rave_pipeline.recipes import CONFIG_FACTS
from rave_pipeline.train import rave_command, resolve_device
from safeio import atomic_write_text, cli_main

HEADROOM = 0.10          # share of a card's memory left free when proposing a batch
CONTEXT_GB = 0.6         # CUDA context + cuDNN workspace, outside torch's allocator
PLAIN_RAVE = "import sys; from scripts.main_cli import main; sys.argv[0] = 'rave'; sys.exit(main())"


def profiler_mean(output: str, action: str) -> float | None:
    """Mean seconds of one action (a regex) in the table Lightning's simple profiler prints at the end."""
    m = re.search(rf"\|\s*{action}\s*\|\s*([0-9.eE+-]+)\s*\|\s*\d+", output)
    return float(m.group(1)) if m else None


def synthetic_database(path: Path, chunks: int, chunk_samples: int, sr: int, channels: int = 1, seed: int = 0) -> Path:
    """An LMDB database as `rave preprocess` writes it (udls AudioExample records, int16, metadata.yaml),
    filled with noise: 16 distinct chunks, repeated."""
    import lmdb
    import yaml
    from udls.generated import AudioExample

    rng = np.random.default_rng(seed)
    distinct = []
    for _ in range(min(16, chunks)):
        x = rng.standard_normal((channels, chunk_samples)) * rng.uniform(0.05, 0.3)
        distinct.append(np.clip(x * 32767, -32767, 32767).astype(np.int16).tobytes())
    path.mkdir(parents=True, exist_ok=True)
    env = lmdb.open(str(path), map_size=chunks * chunk_samples * channels * 2 + (1 << 26))
    with env.begin(write=True) as txn:
        for i in range(chunks):
            ae = AudioExample()
            buf = ae.buffers["waveform"]
            buf.shape.extend([channels, chunk_samples])
            buf.sampling_rate = sr
            buf.data = distinct[i % len(distinct)]
            buf.precision = AudioExample.Precision.INT16
            txn.put(f"{i:08d}".encode(), ae.SerializeToString())
    env.close()
    (path / "metadata.yaml").write_text(yaml.safe_dump({"lazy": False, "channels": channels, "sr": sr,
                                                          "n_seconds": chunks * chunk_samples / sr}))
    return path


@dataclasses.dataclass
class Plan:
    recipe: recipes.Recipe
    batch: int
    kind: str            # "wrapper" (python -m rave_pipeline.rave_cli) or "plain" (rave train)
    why: str             # which table row it stands for
    card_gb: float | None = None   # cap torch's allocator to this many GB (a smaller card)


def table_rows(recipe, gpu_gb: float | None) -> tuple[int, int | None]:
    """(GB of the table row this card uses, GB of the next larger row or None)."""
    rows = sorted(recipe.batch_by_gpu_gb)
    mine = [r for r in rows if r <= gpu_gb * 1.05] if gpu_gb else []
    row = mine[-1] if mine else rows[0]
    larger = [r for r in rows if r > row]
    return row, (larger[0] if larger else None)


def run_one(plan: Plan, db: Path, device: str | None, steps: int, warmup: int, timeout: float, workers: int) -> dict:
    """One short training run; returns its StepMeter record + profiler rows, or an error."""
    gpu_arg, env_extra, _ = resolve_device(device, None)
    phase_1 = warmup + steps
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:   # a throw-away runs folder
        r = dataclasses.replace(plan.recipe, root=Path(tmp), max_steps=2 * phase_1, val_every=10 ** 9, save_every=10 ** 9)
        cmd = rave_command(r, plan.batch, gpu_arg, None, [f"PHASE_1_DURATION = {phase_1}"], workers, db)
        cmd = [c for c in cmd if c != "--noprogress"] + ["--noprogress"]
        if plan.kind == "plain":   # what `rave train` runs: acids-rave's entry point, from a neutral folder
            cmd = [sys.executable, "-c", PLAIN_RAVE, *cmd[3:]]
        t0 = time.perf_counter()
        try:
            cap = {"RAVE_PIPELINE_GPU_MEMORY_GB": str(plan.card_gb - CONTEXT_GB)} if plan.card_gb else {}
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  cwd=tmp if plan.kind == "plain" else recipes.REPO,
                                  env={**os.environ, **env_extra, "PYTHONUNBUFFERED": "1",
                                                                "RAVE_PIPELINE_WARMUP_STEPS": str(warmup), **cap})
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s", "wall_s": time.perf_counter() - t0}
        wall = time.perf_counter() - t0
        out = proc.stdout + proc.stderr
        card = f"-{plan.card_gb:g}GB" if plan.card_gb else ""
        (Path(os.environ.get("BENCH_GPU_LOGS", tmp)) / f"{plan.recipe.name}-b{plan.batch}-{plan.kind}{card}.log").write_text(out)
        result = {"wall_s": wall, "card_gb": plan.card_gb}
        # what the wrapper adds to every step, as Lightning's profiler timed its callbacks
        hooks = re.findall(r"\|\s*\[Callback\](?:StepMeter|CheckpointOnExit)\.(?:on_train_batch_start|on_train_batch_end|"
                           r"on_before_optimizer_step)\s*\|\s*([0-9.eE+-]+)", out)
        if hooks:
            result["wrapper_callbacks_s_per_step"] = sum(map(float, hooks))
        for key, row in (("profiler_step_s", "run_training_batch"), ("profiler_data_s", r"\[_?TrainingEpochLoop\]\.train_dataloader_next")):
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


def fit_memory(points: list[tuple[int, float]]) -> tuple[float, float] | None:
    """(fixed GB, GB per example): least squares through measured (batch, peak reserved GB) points."""
    points = sorted(set(points))
    if len({b for b, _ in points}) >= 2:
        per, fixed = np.polyfit([b for b, _ in points], [m for _, m in points], 1)
        if per > 0:
            return max(float(fixed), 0.0), float(per)
    if points:  # one batch size: all of it per example (an over-estimate, so a safe batch)
        b, m = points[-1]
        return 0.0, m / b
    return None


def propose(fit, rows_gb, floor: int) -> dict[int, int]:
    fixed, per = fit
    out = {}
    for gb in rows_gb:
        usable = gb * (1 - HEADROOM) - CONTEXT_GB - fixed
        b = int(usable // per) if usable > 0 else 0
        out[gb] = b if b >= floor else 0
    return out


def markdown(report: dict) -> str:
    lines = [f"Measured on {report['device']} ({report['gpu_total_gb'] or 0:.0f} GB), torch {report['torch']}, "
             f"{report['steps']} timed steps per phase after {report['warmup']} warm-up steps, n_signal as in the recipe.",
             "",
             "| recipe | config | batch | run | phase 1 s/step | phase 2 s/step | data wait 1 / 2 | peak GB alloc / reserved (phase 2) | wrapper hooks ms/step (speed vs plain) | plain/wrapper profiler means |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["runs"]:
        p1, p2 = r.get("phases", {}).get("1", {}), r.get("phases", {}).get("2", {})

        def f(d, k, fmt):
            return format(d[k], fmt) if k in d else "–"
        card = f", {r['card_gb']:g} GB card" if r.get("card_gb") else ""
        if "error" in r:
            lines.append(f"| {r['recipe']} | {r['config']} | {r['batch']} | {r['kind']}{card} | {r['error']} | | | | | |")
            continue
        wait = f"{f(p1, 'data_wait_fraction', '.1%')} / {f(p2, 'data_wait_fraction', '.1%')}"
        mem = f"{f(p2, 'peak_allocated_gb', '.1f')} / {f(p2, 'peak_reserved_gb', '.1f')}" if "peak_reserved_gb" in p2 \
            else f"RSS {r.get('peak_rss_gb', 0):.1f}"
        if r["kind"] == "plain":
            mem = f"(Lightning profiler: {r.get('profiler_step_s', 0):.3f} s/step)"
        ratio = f"{r['ratio_vs_plain']:.3f}" if "ratio_vs_plain" in r else ""
        hooks = f"{1000 * r['wrapper_callbacks_s_per_step']:.2f} ({r['speed_vs_plain_from_hooks']:.4f})" \
            if "speed_vs_plain_from_hooks" in r else ""
        lines.append(f"| {r['recipe']} | {r['config']} | {r['batch']} | {r['kind']}{card} | {f(p1, 's_per_step_median', '.3f')} | "
                     f"{f(p2, 's_per_step_median', '.3f')} | {wait} | {mem} | {hooks} | {ratio} |")
    for name, prop in report.get("proposed_batch_by_gpu_gb", {}).items():
        fit = report["memory_fit"][name]
        lines += ["", f"{name}: peak reserved ≈ {fit['fixed_gb']:.2f} GB + {fit['gb_per_example']:.3f} GB × batch; "
                      f"proposed batch by card memory ({HEADROOM:.0%} headroom, {CONTEXT_GB} GB context): "
                      + ", ".join(f"{gb} GB → {b or 'too small'}" for gb, b in prop.items())]
    return "\n".join(lines)


def analyse(report: dict) -> dict:
    """Add the wrapper's cost, the plain comparison, the memory fit and proposed batches to a report."""
    results = report["runs"]
    for r in results:  # the wrapper's own cost: its hooks' time per step against the step it wraps
        steps_s = [p["s_per_step_median"] for p in r.get("phases", {}).values() if "s_per_step_median" in p]
        if "wrapper_callbacks_s_per_step" in r and steps_s:
            r["speed_vs_plain_from_hooks"] = min(s / (s + r["wrapper_callbacks_s_per_step"]) for s in steps_s)
    for r in results:  # and the plain run's Lightning-profiler mean (cuDNN autotuning in warm-up steps included)
        if r["kind"] == "plain" and "profiler_step_s" in r:
            w = next((x for x in results if x["kind"] == "wrapper" and x["recipe"] == r["recipe"]
                      and x["batch"] == r["batch"] and "profiler_step_s" in x), None)
            if w:
                w["ratio_vs_plain"] = (r["profiler_step_s"] + r.get("profiler_data_s", 0)) / \
                                      (w["profiler_step_s"] + w.get("profiler_data_s", 0))
    report["memory_fit"], report["proposed_batch_by_gpu_gb"] = {}, {}
    gpu_gb = report["gpu_total_gb"]
    for name in dict.fromkeys(r["recipe"] for r in results):
        # phase 2 only: phase 1's peak holds cuDNN's autotuning, which takes whatever memory is free
        points = [(r["batch"], r["phases"]["2"]["peak_reserved_gb"]) for r in results if r["recipe"] == name
                  and r["kind"] == "wrapper" and "peak_reserved_gb" in r.get("phases", {}).get("2", {})]
        fit = fit_memory(points)
        if fit and gpu_gb:
            recipe = recipes.load(name)
            rows = set(recipe.batch_by_gpu_gb)
            marketed = int(gpu_gb * 1e9 / 2 ** 30)   # cards are sold by GiB: 80 GB = 85.5e9 bytes
            if not any(abs(r - marketed) <= 0.05 * marketed for r in rows):
                rows.add(marketed)
            rows = sorted(rows)
            report["memory_fit"][name] = {"fixed_gb": fit[0], "gb_per_example": fit[1], "points": points}
            report["proposed_batch_by_gpu_gb"][name] = propose(fit, rows, recipe.cpu_batch)
    return report


def write(report: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(report, indent=1))
    md = markdown(report)
    atomic_write_text(out.with_suffix(".md"), md + "\n")
    print()
    print(md)
    print(f"\nwrote {out} and {out.with_suffix('.md')}")


@cli_main
def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m rave_pipeline.bench_gpu", description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default=os.environ.get("DEVICE"), help="auto (default), cuda or cpu")
    ap.add_argument("--recipes", nargs="+", default=recipes.names())
    ap.add_argument("--steps", type=int, default=None, help="timed steps per phase (default 20 on GPU, 2 on CPU)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps per phase (default 5 on GPU, 1 on CPU)")
    ap.add_argument("--budget-s", type=float, default=450, help="stop starting runs after this many seconds")
    ap.add_argument("--no-plain", action="store_true", help="skip the plain `rave train` comparison")
    ap.add_argument("--card-gb", type=float, nargs="+", default=None,
                    help="instead: run each recipe at its table's batch for these card sizes, memory capped to them")
    ap.add_argument("--out", type=Path, default=Path("reports/gpu.json"))
    ap.add_argument("--merge", type=Path, nargs="+", default=None,
                    help="no runs: merge these reports (same card) and analyse them together")
    a = ap.parse_args(argv)
    if a.merge:
        reports = [json.loads(p.read_text()) for p in a.merge]
        merged = {**reports[0], "runs": [r for rep in reports for r in rep["runs"]], "merged_from": [str(p) for p in a.merge]}
        return write(analyse(merged), a.out)

    import torch

    t_start = time.perf_counter()
    gpu_arg, _, gpu_gb = resolve_device(a.device, None)
    on_gpu = gpu_gb is not None
    steps = a.steps or (20 if on_gpu else 2)
    warmup = a.warmup if a.warmup is not None else (5 if on_gpu else 1)
    device_name = torch.cuda.get_device_name(int(gpu_arg)) if on_gpu else "cpu"
    print(f"bench-gpu on {device_name}" + (f" ({gpu_gb:.0f} GB)" if on_gpu else " (no CUDA: tiny settings)"), flush=True)

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
        else:   # the smallest settings RAVE trains with
            recipe = dataclasses.replace(recipe, n_signal=CONFIG_FACTS[recipe.config]["min_n_signal"])
            plans.append(Plan(recipe, recipe.cpu_batch, "wrapper", "cpu batch"))
    # second batch per recipe (chosen after the first run's memory is known), then the plain runs
    if a.card_gb:   # card by card, so a spent budget drops the largest cards, not a recipe
        order = sorted(plans, key=lambda p: p.card_gb)
    else:
        order = list(plans) + [None] * len(plans) + [Plan(p.recipe, p.batch, "plain", p.why) for p in plans if not a.no_plain]

    results, by_recipe = [], {}
    for i, plan in enumerate(order):
        if plan is None:   # the larger batch for recipe i - len(plans)
            first = plans[i - len(plans)]
            plan = next_plan(first, by_recipe.get(first.recipe.name, []), gpu_gb)
            if plan is None:
                continue
        left = a.budget_s - (time.perf_counter() - t_start)
        if left < 30:
            print(f"  skipped {plan.recipe.name} batch {plan.batch} ({plan.kind}): time budget spent", flush=True)
            continue
        name = plan.recipe.name
        if name not in dbs:   # epochs of many steps (RAVE restarts its loader workers every epoch)
            biggest = max(p.batch for p in plans if p.recipe.name == name) * (1 if a.card_gb else 2)
            need = max(plan.recipe.min_chunks(biggest), 30 * biggest if on_gpu else 0)
            dbs[name] = synthetic_database(work / name, need, 2 * plan.recipe.n_signal, plan.recipe.sampling_rate)
        print(f"[{time.perf_counter() - t_start:5.0f} s] {name} ({plan.recipe.config}) batch {plan.batch}, {plan.why}, "
              f"{plan.kind}: {warmup}+{steps} steps per phase ...", flush=True)
        r = run_one(plan, dbs[name], a.device, steps, warmup, timeout=min(left, max(a.budget_s / 3, 60)),
                    workers=plan.recipe.workers if on_gpu else 0)
        r |= {"recipe": name, "config": plan.recipe.config, "batch": plan.batch, "kind": plan.kind, "row": plan.why,
              "n_signal": plan.recipe.n_signal}
        results.append(r)
        by_recipe.setdefault(name, []).append(r)
        print("        " + summary(r), flush=True)

    report = analyse({"device": device_name, "gpu_total_gb": gpu_gb, "torch": torch.__version__, "steps": steps,
                      "warmup": warmup, "runs": results, "wall_s": time.perf_counter() - t_start})
    write(report, a.out)
    print(f"\nwrote {a.out} and {a.out.with_suffix('.md')} in {report['wall_s']:.0f} s")


def next_plan(first: Plan, done: list[dict], gpu_gb: float | None) -> Plan | None:
    """The next larger table row, or on the largest row a batch scaled to this card; never more
    than the first run's memory, scaled per example, says fits (so no run is wasted on an OOM)."""
    if gpu_gb is None or not done:
        return None
    recipe = first.recipe
    if done[0].get("error") == "out of memory":   # the table's row is too big for this card: a measured half
        return Plan(recipe, first.batch // 2, "wrapper", f"{first.why} ran out of memory: half of it") \
            if first.batch // 2 >= recipe.cpu_batch else None
    if "error" in done[0]:
        return None
    row, larger = table_rows(recipe, gpu_gb)
    if larger and larger <= gpu_gb * 1.05:
        batch, why = recipe.batch_by_gpu_gb[larger], f"{larger} GB row"
    else:
        batch, why = math.floor(first.batch * gpu_gb / row), f"{gpu_gb:.0f} GB scaled from the {row} GB row"
    peak = done[0].get("phases", {}).get("2", {}).get("peak_reserved_gb")
    if peak:
        fits = math.floor(first.batch * (gpu_gb * (1 - HEADROOM) - CONTEXT_GB) / peak)
        if fits < batch:
            batch, why = fits, f"{why}, capped at what the first run's memory says fits"
    if larger and larger > gpu_gb * 1.05:
        why = f"{larger} GB row needs a larger card; {why}"
    return Plan(recipe, batch, "wrapper", why) if batch > first.batch else None


def summary(r: dict) -> str:
    if "error" in r:
        return f"failed: {r['error']} ({r['wall_s']:.0f} s)"
    parts = []
    for k in ("1", "2"):
        p = r.get("phases", {}).get(k, {})
        if "s_per_step_median" in p:
            mem = f", peak {p['peak_reserved_gb']:.1f} GB" if "peak_reserved_gb" in p else ""
            parts.append(f"phase {k} {p['s_per_step_median']:.3f} s/step, data wait {p['data_wait_fraction']:.1%}{mem}")
    if "profiler_step_s" in r:
        parts.append(f"profiler {r['profiler_step_s']:.3f} s/step")
    return "; ".join(parts or ["no timing found"]) + f" ({r['wall_s']:.0f} s)"


if __name__ == "__main__":
    sys.exit(main())
