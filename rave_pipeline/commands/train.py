"""`rave train` for a recipe: picks device and batch, checks the dataset, resumes, survives signals."""

import json
import signal
import subprocess
import sys
from pathlib import Path

from rave_pipeline.commands import options, parallel, runs
from rave_pipeline.commands.hardware import choose_batch, loader_workers, resolve_device
from rave_pipeline.commands.outcome import outcome
from rave_pipeline.commands.recipes import REPO, Recipe
from rave_pipeline.commands.supervise import run_forwarding_signals
from rave_pipeline.data import dataset, disk, stage
from rave_pipeline.inside_rave import rave_cli
from safeio import UserError, atomic_write_text, warn
from safeio.environment import child_env


def rave_command(recipe: Recipe, batch: int, gpu: str, resume_from, overrides, workers: int, db=None) -> list[str]:
    """rave train's command line: the run's places and config, then the settings of the option table
    (rave_pipeline/commands/options.py) that rave train takes as they are. gpu: -1 (the CPU), 0 or 0,1,2,3."""
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
    )
    for index in str(gpu).split(","):
        cmd += ["--gpu", index]
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


def record_settings(recipe: Recipe, batch: int, gpu: str, phase_1: int, processes: int = 1) -> None:
    """runs/<recipe>/settings.json: what the run was trained with, for the export manifest (batch: per process;
    processes: data-parallel processes of its latest start)."""
    fields = {
        k: getattr(recipe, k)
        for k in ("config", "augment", "sampling_rate", "channels", "n_signal", "max_steps", "val_every", "save_every")
    }
    atomic_write_text(
        recipe.runs_dir / "settings.json",
        json.dumps(
            {
                **fields,
                "batch": batch,
                "processes": processes,
                "global_batch": batch * processes,
                "gpu": gpu,
                "db": str(recipe.db_dir),
                "phase_1_duration": phase_1,
            },
            indent=1,
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


def prepare(recipe: Recipe, batch, device, gpu, overrides, workers, gpus=None, nodes=None, procs=None) -> tuple:
    """Everything checked before the run is locked: the config and OVERRIDEs, device, processes, batch, dataset
    size, loader workers. -> (PHASE_1_DURATION, rave's --gpu, extra environment, GPU GB or None, batch, workers,
    the parallel.Layout)."""
    phase_1 = check_gin(recipe, overrides)
    if recipe.max_steps <= phase_1:
        warn(
            f"MAX_STEPS={recipe.max_steps} ends before RAVE's adversarial phase (PHASE_1_DURATION={phase_1}): "
            "the model will stay blurry; raise MAX_STEPS or set OVERRIDE='PHASE_1_DURATION=...'"
        )
    indices = parallel.gpu_indices(gpu)
    gpu_arg, env_extra, gpu_gb = resolve_device(device, indices[0] if indices else None)
    layout = parallel.plan(gpu_gb is not None, gpu, gpus, nodes, procs, visible_gpus() if gpu_gb else 0)
    if layout.gpus is not None:
        gpu_arg = ",".join(map(str, layout.gpus))
    batch = choose_batch(recipe, batch, gpu_gb)
    chunks = dataset.check_size(recipe, batch)
    parallel.check_global_batch(layout, batch, recipe.train_examples(chunks))
    if "mute" in recipe.augment and batch < 4:
        warn(
            f"batch {batch} with the mute augmentation: {100 * 0.1**batch:g} % of steps mute every example, which "
            "makes RAVE's loss infinite (NaN weights); use BATCH=4 or more"
        )
    if workers is None:
        workers = recipe.workers if gpu_gb else 0  # CPU: load in the main process, no extra memory
    return phase_1, gpu_arg, {**env_extra, **layout.env()}, gpu_gb, batch, loader_workers(workers), layout


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count()


def check_disk_for_resume(recipe: Recipe, ckpt: Path) -> None:
    size, free = ckpt.stat().st_size, disk.free_bytes(recipe.runs_dir)
    if free < 3 * size:  # RAVE keeps the last and the best checkpoint, and writes a new one beside them
        raise UserError(
            f"the disk holding {recipe.runs_dir} has {disk.megabytes(free)} free; training writes "
            f"checkpoints of {disk.megabytes(size)} and needs {disk.megabytes(3 * size)}: "
            f"free space there and run make train-{recipe.name} again to resume"
        )


def train(
    recipe: Recipe, batch=None, device=None, gpu=None, fresh=False, overrides=None, workers=None, **layout
) -> int:
    """Train (or resume) the recipe's run (layout: gpus, nodes, procs). Returns the newest checkpoint's global step."""
    phase_1, gpu_arg, env_extra, gpu_gb, batch, workers, layout = prepare(
        recipe, batch, device, gpu, overrides, workers, **layout
    )
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
            check_disk_for_resume(recipe, ckpt)
            print(f"resuming {resume_from} from {ckpt.name} at step {step} (FRESH=1 starts a new run)")
        warn_timeline_disk(recipe, runs.global_step(ckpt) if ckpt else 0, phase_1)
        db = stage_on_nodes(recipe, layout)
        where = f"GPU {gpu_arg} ({gpu_gb:.0f} GB)" if gpu_gb else "CPU"
        print(
            f"training {recipe.name}: RAVE {recipe.config}, {layout.batch_line(batch)}, n_signal {recipe.n_signal}, "
            f"max_steps {recipe.max_steps}, on {where}, reading {db}"
        )
        record_settings(recipe, batch, gpu_arg, phase_1, layout.world)
        cmd = layout.launcher() + rave_command(recipe, batch, gpu_arg, resume_from, overrides, workers, db)
        env = child_env(**env_extra, RAVE_PIPELINE_SAVE_EVERY=str(recipe.save_every))
        log = recipe.runs_dir / "train.log"
        print(f"RAVE's full output: {log}")
        stop = signal.SIGUSR1 if layout.launcher() else signal.SIGTERM
        code, tail, sig = run_forwarding_signals(cmd, env, log, lock_fd, stop)
        if sig is None:  # over for good; after a signal the copy stays for the restart on this node
            stage.unstage(recipe, db)
        return outcome(recipe, code, tail, sig, log, layout.world)


def stage_on_nodes(recipe: Recipe, layout) -> Path:
    """The database to train from, staged once on each node (rave_pipeline/data/stage.py)."""
    if not layout.launcher() or not stage.scratch_root():
        return stage.stage(recipe)
    cmd = layout.node_command([sys.executable, "-m", "rave_pipeline.data.stage", str(recipe.db_dir), recipe.run_name])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    paths = {line.split(": ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("database path: ")}
    print("\n".join(line for line in proc.stdout.splitlines() if line.startswith("database: ")), flush=True)
    if proc.returncode or len(paths) != 1:
        warn(f"staging on {layout.nodes} nodes did not give one path on all; training reads {recipe.db_dir}")
        return recipe.db_dir
    return Path(paths.pop())
