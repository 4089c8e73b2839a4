"""`rave export --streaming` of a recipe's newest checkpoint into exports/, atomically, with a manifest."""
import json
import os
import shutil
import subprocess
from pathlib import Path

from rave_pipeline import disk, rave_cli, runs
from rave_pipeline.recipes import Recipe
from safeio import UserError, atomic_path, write_manifest
from spec import names
from spec.host import DEFAULT_BUFFER


def remove_stale(folder: Path, pattern: str) -> None:
    """Working folders a killed export left (named ...-<pid>): removed once their process is gone."""
    for stale in folder.glob(pattern):
        pid = stale.name.rsplit("-", 1)[-1]
        if not (pid.isdigit() and Path(f"/proc/{pid}").exists()):
            shutil.rmtree(stale, ignore_errors=True)


def hold(recipe: Recipe, holding: Path) -> tuple[Path, Path, Path, int]:
    """The newest checkpoint, held: a hard link (a copy across file systems) beside its run's config.gin,
    in a folder the trainer never touches, so that a run still training can save, replace and prune its
    checkpoints while rave export reads. -> (original, its run folder, held copy, global step)."""
    for _ in range(10):
        try:
            ckpt = runs.newest_checkpoint(recipe.runs_dir)
            if ckpt is None:
                raise UserError(f"no checkpoint in {recipe.runs_dir}: run make train-{recipe.name} first")
            run_dir = runs.run_dir_of(ckpt)
            holding.mkdir(parents=True, exist_ok=True)
            held = holding / ckpt.name
            held.unlink(missing_ok=True)
            try:
                os.link(ckpt, held)
            except OSError:
                shutil.copy2(ckpt, held)
            shutil.copy2(run_dir / "config.gin", holding / "config.gin")
            return ckpt, run_dir, held, runs.global_step(held)
        except FileNotFoundError:   # the trainer replaced it between our look and our link: look again
            continue
    raise UserError(f"{recipe.runs_dir}: every checkpoint vanished while it was being read (a trainer pruning "
                    f"them?); run make export-{recipe.name} again")


def export(recipe: Recipe) -> str:
    """Export the recipe's newest checkpoint (the command line has already checked EXPORTS and removed what a
    killed export left there: rave_pipeline.__main__.tidy)."""
    final = recipe.export_path
    remove_stale(recipe.runs_dir.parent, f".export-{recipe.run_name}-*")
    staging = final.parent / f".staging-{recipe.name}-{os.getpid()}"
    holding = recipe.runs_dir.with_name(f".export-{recipe.run_name}-{os.getpid()}")
    name = final.name.removesuffix(names.TRAINED_SUFFIX)
    try:
        ckpt, run_dir, held, step = hold(recipe, holding)
        cmd = rave_cli.command("export", "--run", held, "--streaming", "--output", staging, "--name", name)
        print(f"exporting {ckpt} (step {step}) -> {final}")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800,
                                  env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
        except subprocess.TimeoutExpired:
            raise UserError(f"rave export did not finish within 30 min for {recipe.runs_dir}; run make export-{recipe.name} again")
        produced = staging / final.name
        if proc.returncode != 0 or not produced.exists():
            if disk.output_says_full(proc.stdout + proc.stderr, final.parent):
                need = 2 * held.stat().st_size
                raise UserError(f"the disk holding {final.parent} is full: exporting {recipe.name} needs about "
                                f"{disk.megabytes(need)} there and it has {disk.megabytes(disk.free_bytes(final.parent))}; "
                                f"free space (or set EXPORTS= to a bigger disk) and run make export-{recipe.name} again")
            raise UserError(f"rave export failed for {run_dir}:\n{rave_cli.last_lines(proc)}")
        with atomic_path(final) as tmp:
            os.replace(produced, tmp)
            check_loads(tmp)
        settings = recipe.runs_dir / "settings.json"
        trained_with = json.loads(settings.read_text()) if settings.exists() else {}
        write_manifest(final, {"kind": "trained", "recipe": recipe.name, "tag": recipe.tag, "config": recipe.config,
                               "source_run": str(run_dir), "checkpoint": str(ckpt), "global_step": step,
                               "streaming": True, "trained_with": trained_with})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(holding, ignore_errors=True)
    print(f"exported {final}")
    return str(final)


def check_loads(path) -> None:
    """Never publish an export that does not load and stream a default-buffer block (2048) to as many samples."""
    import torch

    model = torch.jit.load(str(path))
    with torch.no_grad():
        y = model.forward(torch.zeros(1, 1, DEFAULT_BUFFER))
    if tuple(y.shape) != (1, 1, DEFAULT_BUFFER) or not torch.isfinite(y).all():
        raise UserError(f"{path}: exported model maps [1,1,{DEFAULT_BUFFER}] to {tuple(y.shape)}; not publishing it")
