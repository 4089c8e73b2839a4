"""`rave train` for a recipe: picks device and batch, checks the dataset, resumes, survives signals."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rave_pipeline.commands import options, runs
from rave_pipeline.commands.recipes import REPO, Recipe
from rave_pipeline.data import dataset, disk, stage
from rave_pipeline.inside_rave import rave_cli
from safeio import UserError, atomic_write_text, warn
from safeio.environment import child_env

# Lines of RAVE/Lightning output that have a known fix.
KNOWN_FAILURES = {
    "Padding size should be less than": "n_signal is too small for this config: raise N_SIGNAL",
    "CUDA out of memory": "the GPU ran out of memory: lower BATCH (the adversarial phase needs more than the first)",
    "OutOfMemoryError": "the GPU ran out of memory: lower BATCH (the adversarial phase needs more than the first)",
    "n_components=128 must be between": "the validation set is too small for RAVE's PCA: add recordings (the "
    "size check before training says how many seconds)",
    "contains NaN": "training diverged to NaN; with the mute augmentation a batch of only muted examples does this "
    "(p = 0.1^BATCH per step): use BATCH=4 or more, or AUGMENT=none, and FRESH=1",
}


def resolve_device(device: str | None, gpu: int | None):
    """-> (rave --gpu value, extra env, GPU memory in GB or None)."""
    import torch

    if device not in (None, "", "auto", "cpu", "cuda"):
        raise UserError(f"DEVICE={device} is not one of auto, cpu, cuda")
    if device == "cpu" or (device in (None, "", "auto") and not torch.cuda.is_available()):
        if device != "cpu":
            warn("no CUDA GPU found: training on CPU, which is for smoke tests only (DEVICE=cpu silences this)")
        # hide GPUs so Lightning cannot pick one up by itself
        return "-1", {"CUDA_VISIBLE_DEVICES": ""}, None
    if not torch.cuda.is_available():
        raise UserError(
            "DEVICE=cuda but torch sees no CUDA GPU: check nvidia-smi and CUDA_VISIBLE_DEVICES, or use DEVICE=cpu"
        )
    index = gpu or 0
    if index >= torch.cuda.device_count():
        raise UserError(f"GPU={index} but only {torch.cuda.device_count()} GPU(s) are visible")
    gb = torch.cuda.get_device_properties(index).total_memory / 1e9
    return str(index), {}, gb


def choose_batch(recipe: Recipe, batch: int | None, gpu_gb: float | None) -> int:
    if batch:
        return batch
    if gpu_gb is None:
        return recipe.cpu_batch
    b = recipe.batch_for_gpu(gpu_gb)
    if b is None:
        smallest = min(recipe.batch_by_gpu_gb)
        raise UserError(
            f"this GPU has {gpu_gb:.0f} GB, below the {smallest} GB the {recipe.name} recipe is sized for: "
            "set BATCH= to try anyway"
        )
    return b


def rave_command(recipe: Recipe, batch: int, gpu: str, resume_from, overrides, workers: int, db=None) -> list[str]:
    """rave train's command line: the run's places and config, then the settings of the option table
    (rave_pipeline/commands/options.py) that rave train takes as they are."""
    cmd = rave_cli.command(
        "train",
        "--name",
        recipe.name,
        "--db_path",
        db or recipe.db_dir,
        "--out_path",
        recipe.runs_dir,
        "--config",
        recipe.config,
        "--channels",
        recipe.channels,
        "--gpu",
        gpu,
    )
    cmd += options.rave_flags(
        {
            "N_SIGNAL": recipe.n_signal,
            "BATCH": batch,
            "MAX_STEPS": recipe.max_steps,
            "VAL_EVERY": recipe.val_every,
            "WORKERS": workers,
            "OVERRIDE": list(overrides or []),
        }
    )
    # RAVE's own numbered saves count batches from 0 again after a resume (overwriting the first run's):
    # off; TimelineSaves keeps one every SAVE_EVERY global steps instead (rave_pipeline/inside_rave/timeline_saves.py)
    cmd += ["--save_every", "0"]
    if recipe.gin_path:
        cmd += ["--config", str(recipe.gin_path)]
    for aug in recipe.augment:
        cmd += ["--augment", aug]
    if resume_from:
        cmd += ["--ckpt", str(resume_from)]
    if not sys.stdout.isatty():
        cmd += ["--noprogress"]  # no carriage-return progress bars in batch-job logs
    return cmd


def loader_workers(workers: int) -> int:
    """At most one loader process per CPU core this job may use: each holds its own copy of the loader's
    state (670 MB each measured with WORKERS=1000, which ended in the out-of-memory killer)."""
    cpus = len(os.sched_getaffinity(0))
    if workers > cpus:
        warn(f"WORKERS={workers} is more than the {cpus} CPU core(s) this job may use: using {cpus}")
    return min(workers, cpus)


def die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the wrapper dies, even by SIGKILL (Linux prctl), so
    RAVE checkpoints and stops instead of training on as an orphan."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# Lines of RAVE's output shown on the console; everything goes to the run's train.log.
CONSOLE = ("· phase ", "received SIG", "saved ", "loading state from file", "Error", "error:")


def run_forwarding_signals(cmd, env, log: Path, lock_fd=None) -> tuple[int, str, int | None]:
    """Run RAVE with its output appended to `log`, showing only progress lines and errors; forward
    SIGTERM/SIGINT/SIGHUP/SIGUSR1 to it as SIGTERM. -> (exit code, log tail, signal). The child
    inherits the run's lock, so no second trainer starts while it lives."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        start = out.tell()
        child = subprocess.Popen(
            cmd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(lock_fd,) if lock_fd is not None else (),
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
    received = []

    def forward(signum, _frame):
        received.append(signum)
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)

    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)}
    pos, partial = start, b""
    try:
        while True:
            done = child.poll() is not None
            with open(log, "rb") as f:
                f.seek(pos)
                chunk = f.read()
            pos += len(chunk)
            *lines, partial = (partial + chunk).split(b"\n")
            for line in lines:
                text = line.decode(errors="replace").rstrip()
                if any(key in text for key in CONSOLE):
                    print(text, flush=True)
            if done:
                break
            time.sleep(0.5)
        code = child.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    with open(log, "rb") as f:
        f.seek(max(start, pos - 65536))
        tail = f.read().decode(errors="replace")
    return code, tail, (received[0] if received else None)


def record_settings(recipe: Recipe, batch: int, gpu: str, phase_1: int) -> None:
    """runs/<recipe>/settings.json: what the run was trained with, for the export manifest."""
    fields = {
        k: getattr(recipe, k)
        for k in ("config", "augment", "sampling_rate", "channels", "n_signal", "max_steps", "val_every", "save_every")
    }
    atomic_write_text(
        recipe.runs_dir / "settings.json",
        json.dumps(
            {**fields, "batch": batch, "gpu": gpu, "db": str(recipe.db_dir), "phase_1_duration": phase_1}, indent=1
        ),
    )


def check_gin(recipe: Recipe, overrides) -> int:
    """Parse the recipe's config and OVERRIDE bindings as rave train will, and check N_SIGNAL against the
    latent frame they give; -> PHASE_1_DURATION."""
    configs = [recipe.config] + ([str(recipe.gin_path)] if recipe.gin_path else [])
    cmd = [sys.executable, "-m", "rave_pipeline.commands.gin_check", *configs, "--", *(overrides or [])]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=REPO)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, IndexError, json.JSONDecodeError):
        raise UserError(f"could not read RAVE's {recipe.config} config (is acids-rave installed? run make setup)")
    if "error" in result:
        raise UserError(result["error"])
    frame = result["compression"]
    if recipe.n_signal % frame:  # the config as overridden may cut latent frames of another size than the recipe's
        raise UserError(
            f"N_SIGNAL={recipe.n_signal} does not fit RAVE {recipe.config} as overridden: an example must be "
            f"a whole number of latent frames of {frame} samples; " + recipe.frames_that_fit(frame)
        )
    return result["phase_1_duration"]


def warn_timeline_disk(recipe: Recipe, step: int, phase_1: int) -> None:
    """One warning when the checkpoints SAVE_EVERY will keep do not fit: training still starts (and stops
    with the full-disk sentence if it does fill)."""
    count, need = recipe.timeline_bytes(step, phase_1)
    free = disk.free_bytes(recipe.runs_dir)
    if need > free:
        warn(
            f"SAVE_EVERY={recipe.save_every} keeps {count} more checkpoints, about {disk.megabytes(need)} by "
            f"MAX_STEPS={recipe.max_steps}, and the disk holding {recipe.runs_dir} has {disk.megabytes(free)} free: "
            f"raise SAVE_EVERY, free space, or delete checkpoints you will not export"
        )


def train(recipe: Recipe, batch=None, device=None, gpu=None, fresh=False, overrides=None, workers=None) -> int:
    """Train (or resume) the recipe's run. Returns the global step of the newest checkpoint."""
    phase_1 = check_gin(recipe, overrides)
    if recipe.max_steps <= phase_1:
        warn(
            f"MAX_STEPS={recipe.max_steps} ends before RAVE's adversarial phase (PHASE_1_DURATION={phase_1}): "
            "the model will stay blurry; raise MAX_STEPS or set OVERRIDE='PHASE_1_DURATION=...'"
        )
    gpu_arg, env_extra, gpu_gb = resolve_device(device, gpu)
    batch = choose_batch(recipe, batch, gpu_gb)
    dataset.check_size(recipe, batch)
    if "mute" in recipe.augment and batch < 4:
        warn(
            f"batch {batch} with the mute augmentation: {100 * 0.1**batch:g} % of steps mute every example, which "
            "makes RAVE's loss infinite (NaN weights); use BATCH=4 or more"
        )
    if workers is None:
        workers = recipe.workers if gpu_gb else 0  # CPU: load in the main process, no extra memory
    workers = loader_workers(workers)
    with runs.exclusive(runs.lock_of(recipe.runs_dir), recipe.runs_dir) as lock_fd:
        if fresh:
            moved = runs.archive(recipe.runs_dir)
            if moved:
                print(f"FRESH=1: previous runs moved to {moved}")
        recipe.runs_dir.mkdir(parents=True, exist_ok=True)
        runs.discard_incomplete(recipe.runs_dir)
        ckpt = runs.newest_checkpoint(recipe.runs_dir)
        resume_from = None
        if ckpt:
            step = runs.global_step(ckpt)
            if step >= recipe.max_steps:
                print(
                    f"{recipe.name}: already trained to step {step} (MAX_STEPS={recipe.max_steps}); raise "
                    f"MAX_STEPS to continue"
                )
                return step
            resume_from = runs.run_dir_of(ckpt)
            size, free = ckpt.stat().st_size, disk.free_bytes(recipe.runs_dir)
            if free < 3 * size:  # RAVE keeps the last and the best checkpoint, and writes a new one beside them
                raise UserError(
                    f"the disk holding {recipe.runs_dir} has {disk.megabytes(free)} free; training writes "
                    f"checkpoints of {disk.megabytes(size)} and needs {disk.megabytes(3 * size)}: "
                    f"free space there and run make train-{recipe.name} again to resume"
                )
            print(f"resuming {resume_from} from {ckpt.name} at step {step} (FRESH=1 starts a new run)")
        warn_timeline_disk(recipe, runs.global_step(ckpt) if ckpt else 0, phase_1)
        db = stage.stage(recipe)
        where = f"GPU {gpu_arg} ({gpu_gb:.0f} GB)" if gpu_gb else "CPU"
        print(
            f"training {recipe.name}: RAVE {recipe.config}, batch {batch}, n_signal {recipe.n_signal}, "
            f"max_steps {recipe.max_steps}, on {where}, reading {db}"
        )
        record_settings(recipe, batch, gpu_arg, phase_1)
        cmd = rave_command(recipe, batch, gpu_arg, resume_from, overrides, workers, db)
        env = child_env(**env_extra, RAVE_PIPELINE_SAVE_EVERY=str(recipe.save_every))
        log = recipe.runs_dir / "train.log"
        print(f"RAVE's full output: {log}")
        code, tail, sig = run_forwarding_signals(cmd, env, log, lock_fd)
        if sig is None:  # over for good; after a signal the copy stays for the restart on this node
            stage.unstage(recipe, db)
        newest = runs.newest_checkpoint(recipe.runs_dir)
        step = runs.global_step(newest) if newest else 0
        if sig is not None:
            saved = f"the newest checkpoint is {newest} (step {step})" if newest else "no checkpoint was saved yet"
            print(
                f"training stopped by signal {signal.Signals(sig).name}; {saved}; "
                f"run make train-{recipe.name} again to resume",
                file=sys.stderr,
            )
            sys.exit(128 + sig)
        if code < 0:
            name = signal.Signals(-code).name
            why = (
                (
                    " (by someone, or by the kernel's out-of-memory killer: if dmesg says 'Out of memory', lower BATCH "
                    "or WORKERS)"
                )
                if -code == signal.SIGKILL
                else ""
            )
            raise UserError(
                f"rave train was killed ({name}, signal {-code}){why}; newest checkpoint: "
                f"{newest or 'none yet'} (step {step}); run make train-{recipe.name} to resume"
            )
        if code != 0 and disk.output_says_full(tail, recipe.runs_dir):
            free = disk.megabytes(disk.free_bytes(recipe.runs_dir))
            need = (
                f"checkpoints of {disk.megabytes(newest.stat().st_size)} and needs about "
                f"{disk.megabytes(3 * newest.stat().st_size)} free"
                if newest
                else "its first checkpoints"
            )
            raise UserError(
                f"the disk holding {recipe.runs_dir} is full ({free} free): training writes {need} there; "
                f"free space (or train under ROOT= on a bigger disk) and run make train-{recipe.name} again "
                f"to resume from {newest or 'the start'} (step {step})"
            )
        if code != 0:
            hint = next((fix for key, fix in KNOWN_FAILURES.items() if key in tail), None)
            last = [l for l in tail.strip().splitlines() if l.strip()][-1:] or ["(no output)"]
            print("\n".join(tail.strip().splitlines()[-15:]), file=sys.stderr)
            raise UserError(f"rave train failed for {recipe.name} ({hint or last[0].strip()[:200]}); full log: {log}")
        print(f"{recipe.name}: newest checkpoint {newest} at step {step}")
        return step
