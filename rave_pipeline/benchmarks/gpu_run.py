"""One short `rave train` of bench-gpu, through this project's wrapper or plain `rave train`, and what it measured:
its StepMeter record (s/step, data wait, peak memory per phase) and the rows of Lightning's profiler."""

import dataclasses
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rave_pipeline.benchmarks.gpu_plan import CONTEXT_GB, Plan
from rave_pipeline.commands import recipes
from rave_pipeline.commands.hardware import resolve_device
from rave_pipeline.commands.train import rave_command
from safeio.environment import child_env, env

PLAIN_RAVE = "import sys; from scripts.main_cli import main; sys.argv[0] = 'rave'; sys.exit(main())"


def profiler_mean(output: str, action: str) -> float | None:
    """Mean seconds of one action (a regex) in the table Lightning's simple profiler prints at the end."""
    m = re.search(rf"\|\s*{action}\s*\|\s*([0-9.eE+-]+)\s*\|\s*\d+", output)
    return float(m.group(1)) if m else None


def run_one(
    plan: Plan, db: Path, device: str | None, steps: int, warmup: int, timeout: float, workers: int, procs: int = 0
) -> dict:
    """One short training run; returns its StepMeter record + profiler rows, or an error. procs: data-parallel
    processes (GPUs 0.. on a GPU machine), 0 for RAVE's own single process."""
    gpu_arg, env_extra, gpu_gb = resolve_device(device, None)
    if procs:
        env_extra = {**env_extra, "RAVE_PIPELINE_PROCS": str(procs)}
        gpu_arg = ",".join(map(str, range(procs))) if gpu_gb else gpu_arg
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
