"""`rave export --streaming` of a recipe's newest checkpoint into exports/, atomically, with a manifest."""
import json
import os
import shutil
import subprocess
from pathlib import Path

from rave_pipeline import rave_cli, runs
from rave_pipeline.recipes import Recipe
from safeio import UserError, atomic_path, write_manifest
from spec import names
from spec.host import DEFAULT_BUFFER


def export(recipe: Recipe) -> str:
    ckpt = runs.newest_checkpoint(recipe.runs_dir)
    if ckpt is None:
        raise UserError(f"no checkpoint in {recipe.runs_dir}: run make train-{recipe.name} first")
    run_dir, step = runs.run_dir_of(ckpt), runs.global_step(ckpt)
    final = recipe.export_path
    # RAVE picks the newest checkpoint of the run by itself; ours is the same one (mtime order).
    staging = final.parent / f".staging-{recipe.name}-{os.getpid()}"
    for stale in final.parent.glob(f".staging-{recipe.name}-*"):   # left by a killed export
        pid = stale.name.rsplit("-", 1)[-1]
        if not (pid.isdigit() and Path(f"/proc/{pid}").exists()):
            shutil.rmtree(stale, ignore_errors=True)
    name = final.name.removesuffix(names.TRAINED_SUFFIX)
    cmd = rave_cli.command("export", "--run", run_dir, "--streaming", "--output", staging, "--name", name)
    print(f"exporting {ckpt} (step {step}) -> {final}")
    try:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800,
                                  env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
        except subprocess.TimeoutExpired:
            raise UserError(f"rave export did not finish within 30 min for {recipe.runs_dir}; run make export-{recipe.name} again")
        produced = staging / final.name
        if proc.returncode != 0 or not produced.exists():
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
