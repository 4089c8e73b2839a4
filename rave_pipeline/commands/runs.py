"""Training runs on disk: newest usable checkpoint, its global step, one trainer at a time, archiving.

Layout made by `rave train --out_path runs/<recipe> --name <recipe>`:
runs/<recipe>/<recipe>_<gin hash>/config.gin and .../version_<k>/checkpoints/*.ckpt
"""

import contextlib
import datetime
import fcntl
import os
import zipfile
from pathlib import Path

from safeio import UserError, warn


def checkpoints(runs_dir: Path) -> list[Path]:
    """All checkpoints of a recipe, oldest first (RAVE itself resumes from the newest by mtime)."""
    if not runs_dir.is_dir():
        return []
    return sorted(runs_dir.rglob("*.ckpt"), key=lambda p: p.stat().st_mtime)


def complete(ckpt: Path) -> bool:
    """torch.save writes a zip; one cut short (killed mid-save, disk full) has no central directory."""
    return zipfile.is_zipfile(ckpt)


def newest_checkpoint(runs_dir: Path) -> Path | None:
    """Newest complete checkpoint (a query: changes nothing on disk)."""
    return next((c for c in reversed(checkpoints(runs_dir)) if complete(c)), None)


def discard_incomplete(runs_dir: Path) -> None:
    """Delete checkpoints cut short, saying so: they can never load (nor should RAVE, which resumes from
    the newest file), and kept, they would hold the space a full disk needs. Only the lock holder calls it."""
    for ckpt in checkpoints(runs_dir):
        if not complete(ckpt):
            warn(
                f"{ckpt} is incomplete (killed or disk full while saving; {ckpt.stat().st_size / 1e6:.0f} MB): "
                "deleted, resuming from an older checkpoint"
            )
            ckpt.unlink()


def run_dir_of(ckpt: Path) -> Path:
    """The RAVE run folder holding config.gin above a checkpoint."""
    for parent in ckpt.parents:
        if (parent / "config.gin").exists():
            return parent
    raise UserError(
        f"no config.gin in any folder above {ckpt} (rave train writes one in each run folder): give a checkpoint "
        "where training left it, inside its run folder (runs/<recipe>/<run>/version_N/checkpoints/)"
    )


def check_config(run_dir: Path, config: str, recipe: str) -> None:
    """The run was trained with the recipe's RAVE config (its config.gin's RATIOS and N_BAND): exporting a run
    of another config would name a model of one after the other."""
    import re

    from spec.rave import CONFIGS

    text = (run_dir / "config.gin").read_text(errors="replace")
    ratios, bands = re.search(r"^RATIOS = \[([\d, ]+)\]", text, re.M), re.search(r"^N_BAND = (\d+)", text, re.M)
    if config not in CONFIGS or not ratios or not bands:
        return  # a config spec does not know, or a config.gin without the macros: nothing to compare
    got = (tuple(int(r) for r in ratios[1].split(",")), int(bands[1]))
    if got != (CONFIGS[config].ratios, CONFIGS[config].bands):
        other = next((n for n, c in CONFIGS.items() if (c.ratios, c.bands) == got), "another configuration")
        raise UserError(
            f"{run_dir} was trained with RAVE {other}, not {config} as recipe {recipe} is: export it with the "
            f"recipe it was trained with (make export-<that recipe> CKPT=...)"
        )


def global_step(ckpt: Path) -> int:
    import torch

    state = torch.load(ckpt, map_location="cpu", mmap=True, weights_only=False)
    return int(state.get("global_step", 0))


def lock_of(runs_dir: Path) -> Path:
    """runs/.<run>.lock, beside the run folder: archiving (FRESH=1) moves the folder, never the lock."""
    return runs_dir.with_name(f".{runs_dir.name}.lock")


@contextlib.contextmanager
def exclusive(lock: Path, what: Path, doing: str = "trained"):
    """Hold the file lock `lock` on `what`: a second trainer of the same run (say a requeued job that
    overlaps the old one), or a second preprocess of the same dataset, stops with a clear message.
    Yields the lock's file descriptor: a child given it (pass_fds) holds the lock for as long as it
    lives, even if this process is killed."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise UserError(f"{what} is being {doing} by another process (pid {holder}); wait for it or stop it first")
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield fd
    finally:
        os.close(fd)


def archive(runs_dir: Path) -> Path | None:
    """Move a recipe's runs aside (never delete): runs/<recipe> -> runs/<recipe>.archived-<time>."""
    if not runs_dir.exists() or not any(runs_dir.iterdir()):
        return None
    dest = runs_dir.with_name(f"{runs_dir.name}.archived-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    os.replace(runs_dir, dest)
    return dest


def tidy(root: Path, exports: Path) -> None:
    """What killed processes left under ROOT goes before a command starts, with one line saying so: half-
    written files and staging folders in the exports (trained, hand-written, the timeline's) and the
    reports, and the checkpoints an export held beside the runs."""
    from safeio.files import remove_leftovers

    gone = remove_leftovers(exports) + remove_leftovers(root / "reports") + remove_leftovers(root / "runs", deep=False)
    if gone:
        names = ", ".join(str(p.relative_to(root) if p.is_relative_to(root) else p) for p in gone[:3])
        more = f" and {len(gone) - 3} more" if len(gone) > 3 else ""
        print(f"removed what a killed export, training or timeline left: {names}{more}")
