"""`rave export --streaming` of a recipe's newest (or any) checkpoint into exports/, atomically, with a manifest."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from rave_pipeline.commands import checkpoints, runs
from rave_pipeline.commands.recipes import Recipe
from rave_pipeline.data import disk
from rave_pipeline.inside_rave import rave_cli
from safeio import UserError, atomic_path, sha256_of, warn, write_manifest
from safeio.environment import child_env
from safeio.files import remove_leftovers
from spec import names
from spec.host import DEFAULT_BUFFER


def settled_config(run_dir: Path, tries: int = 50, pause: float = 0.1) -> str:
    """The run's config.gin once two reads agree and it is not empty: rave train rewrites it (truncate, then
    write) each time it starts or resumes, so a trainer starting beside an export can show it half written."""
    path = run_dir / "config.gin"
    before = path.read_text()
    for _ in range(tries):
        time.sleep(pause)
        now = path.read_text()
        if now.strip() and now == before:
            return now
        before = now
    raise UserError(
        f"{path} stayed empty or kept changing for {tries * pause:.0f} s (a trainer starting "
        f"there?); run the export again once the trainer has started"
    )


def hold(recipe: Recipe, holding: Path, choice: str = "last") -> tuple[checkpoints.Checkpoint, Path, Path, bool]:
    """The checkpoint CKPT chooses (default: the newest), held: a hard link (a copy across file systems)
    beside its run's config.gin, in a folder the trainer never touches, so that a run still training can
    save, replace and prune its checkpoints while rave export reads.
    -> (the checkpoint, its run folder, held copy, whether it is the run's newest)."""
    for _ in range(10):
        try:
            newest = runs.newest_checkpoint(recipe.runs_dir)
            if newest is None:
                raise UserError(f"no checkpoint in {recipe.runs_dir}: run make train-{recipe.name} first")
            last = checkpoints.read(newest, checkpoints.phase_1_of(recipe.runs_dir))
            chosen = last if choice in ("last", "newest") else checkpoints.pick(recipe.runs_dir, choice, recipe.name)
            run_dir = runs.run_dir_of(chosen.path)
            runs.check_config(run_dir, recipe.config, recipe.name)
            holding.mkdir(parents=True, exist_ok=True)
            held = holding / chosen.path.name
            held.unlink(missing_ok=True)
            try:
                os.link(chosen.path, held)
            except OSError:
                shutil.copy2(chosen.path, held)
            (holding / "config.gin").write_text(settled_config(run_dir))
            return chosen, run_dir, held, chosen.step >= last.step
        except FileNotFoundError:  # the trainer replaced it between our look and our link: look again
            continue
    raise UserError(
        f"{recipe.runs_dir}: every checkpoint vanished while it was being read (a trainer pruning "
        f"them?); run make export-{recipe.name} again"
    )


def run_rave_export(recipe: Recipe, cmd: list, produced: Path, held: Path, run_dir: Path) -> Path:
    """`rave export --streaming` into the staging folder (on the CPU); a full disk or a failure is one sentence.
    -> the file it produced."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=child_env(CUDA_VISIBLE_DEVICES=""))
    except subprocess.TimeoutExpired:
        raise UserError(
            f"rave export did not finish within 30 min for {recipe.runs_dir}; run make export-{recipe.name} again"
        )
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        oom = " (SIGKILL with nothing else said: often the out-of-memory killer)" if name == "SIGKILL" else ""
        raise UserError(
            f"rave export was killed ({name}, signal {-proc.returncode}){oom} while exporting {run_dir}; "
            f"nothing was published: run make export-{recipe.name} again"
        )
    if proc.returncode != 0 or not produced.exists():
        exports = produced.parent.parent  # the staging folder lives in the exports folder
        if disk.output_says_full(proc.stdout + proc.stderr, exports):
            need = disk.export_bytes(held)
            raise UserError(
                f"the disk holding {exports} is full: exporting {recipe.name} needs about "
                f"{disk.megabytes(need)} there and it has {disk.megabytes(disk.free_bytes(exports))}; "
                f"free space (or set EXPORTS= to a bigger disk) and run make export-{recipe.name} again"
            )
        raise UserError(f"rave export failed for {run_dir}:\n{rave_cli.last_lines(proc)}")
    return produced


def manifest(recipe: Recipe, run_dir: Path, ckpt, held: Path) -> dict:
    """What the export's manifest records: the run, the checkpoint (step, phase, validation, sha256) and the
    settings it was trained with."""
    settings = recipe.runs_dir / "settings.json"
    trained_with = json.loads(settings.read_text()) if settings.exists() else {}
    return {
        "kind": "trained",
        "recipe": recipe.name,
        "tag": recipe.tag,
        "config": recipe.config,
        "source_run": str(run_dir),
        "checkpoint": str(ckpt.path),
        "global_step": ckpt.step,
        "phase": ckpt.phase,
        "validation": ckpt.validation,
        "validation_step": ckpt.validation_step,
        "checkpoint_sha256": sha256_of(held),
        "streaming": True,
        "trained_with": trained_with,
    }


def export(recipe: Recipe, choice: str = "last", final: Path | None = None) -> Path:
    """Export the checkpoint CKPT names (default: the newest) to `final` (default: exports/, the step in the
    name unless it is the newest). The command line has already checked EXPORTS and removed what a killed
    export left there (rave_pipeline.__main__.tidy)."""
    remove_leftovers(recipe.runs_dir.parent, deep=False)  # the checkpoints dead exports held
    holding = recipe.runs_dir.with_name(f".export-{recipe.run_name}-{os.getpid()}")
    staging = None
    try:
        ckpt, run_dir, held, newest = hold(recipe, holding, choice)
        final = final or destination(recipe, ckpt.step, newest)
        staging = final.parent / f".staging-{recipe.name}-{os.getpid()}"
        name = final.name.removesuffix(names.TRAINED_SUFFIX)
        cmd = rave_cli.command("export", "--run", held, "--streaming", "--output", staging, "--name", name)
        print(f"exporting {ckpt.path} (step {ckpt.step}, phase {ckpt.phase}) -> {final}")
        produced = run_rave_export(recipe, cmd, staging / final.name, held, run_dir)
        with atomic_path(final) as tmp:
            os.replace(produced, tmp)
            check_loads(tmp)
        write_manifest(final, manifest(recipe, run_dir, ckpt, held))
    finally:
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(holding, ignore_errors=True)
    print(f"exported {final}")
    return final


def destination(recipe: Recipe, step: int, newest: bool) -> Path:
    """exports/<run>_<config>.ts for the run's newest checkpoint; any other carries its step in the name."""
    return (
        recipe.export_path
        if newest
        else recipe.export_path.with_name(names.trained(recipe.run_name, recipe.config, step))
    )


def every_kth(found: list, every: int) -> list:
    """Every `every`-th of the checkpoints (oldest first), from the first, and always the newest."""
    return found[::every] + ([found[-1]] if (len(found) - 1) % every else [])


def exported_before(final: Path, sha: str) -> bool:
    """`final` and its manifest are there, and the manifest names the same checkpoint bytes."""
    manifest = final.with_suffix(".json")
    return final.is_file() and manifest.is_file() and json.loads(manifest.read_text()).get("checkpoint_sha256") == sha


def check_loads(path) -> None:
    """Never publish an export that does not load and stream a default-buffer block (2048) to as many samples."""
    import torch

    try:
        model = torch.jit.load(str(path))
        with torch.no_grad():
            y = model.forward(torch.zeros(1, 1, DEFAULT_BUFFER))
    except Exception as e:  # whatever TorchScript raises: the file is not a model a host can play
        why = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise UserError(f"{path}: rave export wrote a model that does not load or stream ({why}); not publishing it")
    if tuple(y.shape) != (1, 1, DEFAULT_BUFFER) or not torch.isfinite(y).all():
        raise UserError(
            f"{path}: exported model maps [1,1,{DEFAULT_BUFFER}] to {tuple(y.shape)}"
            f"{'' if torch.isfinite(y).all() else ' with NaN or inf in it'}; not publishing it"
        )


def timeline_exports(recipe: Recipe, every: int = 1) -> list[dict]:
    """Every `every`-th complete checkpoint of the run (and always the newest), each exported once into
    exports/timeline/<run>/, named with the step (spec.names.trained): an export whose manifest names the same
    checkpoint bytes (sha256) is reused. -> one record per checkpoint, oldest first (checkpoints.Checkpoint
    .record() plus "export"). A checkpoint the trainer replaces while we read it is left out, said once."""
    found = checkpoints.listing(recipe.runs_dir)
    if not found:
        raise UserError(f"no checkpoint in {recipe.runs_dir}: run make train-{recipe.name} first")
    chosen = every_kth(found, every)
    folder = recipe.export_path.parent / "timeline" / recipe.run_name
    records = []
    for c in chosen:
        final = folder / names.trained(recipe.run_name, recipe.config, c.step)
        try:
            if not exported_before(final, sha256_of(c.path)):
                export(recipe, str(c.path), final)
        except (FileNotFoundError, UserError) as e:
            if c.path.exists():
                raise
            warn(f"{c.path.name} (step {c.step}) was replaced by the trainer while being read: left out ({e})")
            continue
        records.append({**c.record(), "export": str(final)})
    return records
