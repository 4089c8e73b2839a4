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


def newest_checkpoint(runs_dir: Path) -> Path | None:
    """Newest checkpoint that is complete. One cut short (killed mid-save, or the disk filled up) can
    never be loaded, so it is deleted, saying so: kept, it would hold the space a full disk needs."""
    for ckpt in reversed(checkpoints(runs_dir)):
        if zipfile.is_zipfile(ckpt):  # torch.save writes a zip; a truncated one has no central directory
            return ckpt
        warn(f"{ckpt} is incomplete (killed or disk full while saving; {ckpt.stat().st_size / 1e6:.0f} MB): "
             "deleted, resuming from an older checkpoint")
        ckpt.unlink()
    return None


def run_dir_of(ckpt: Path) -> Path:
    """The RAVE run folder holding config.gin above a checkpoint."""
    for parent in ckpt.parents:
        if (parent / "config.gin").exists():
            return parent
    raise UserError(f"no config.gin above {ckpt}: this checkpoint is not from rave train; move it out of runs/")


def global_step(ckpt: Path) -> int:
    import torch

    state = torch.load(ckpt, map_location="cpu", mmap=True, weights_only=False)
    return int(state.get("global_step", 0))


@contextlib.contextmanager
def exclusive(folder: Path, doing: str = "trained"):
    """Hold <folder>/.lock: a second trainer of the same run (say a requeued job that overlaps the old
    one), or a second preprocess of the same dataset, stops with a clear message. Yields the lock's
    file descriptor: a child given it (pass_fds) holds the lock for as long as it lives, even if
    this process is killed."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise UserError(f"{folder} is being {doing} by another process (pid {holder}); wait for it or stop it first")
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield fd
    finally:
        os.close(fd)


def archive(runs_dir: Path) -> Path | None:
    """Move a recipe's runs aside (never delete): runs/<recipe> -> runs/<recipe>.archived-<time>."""
    if not runs_dir.exists() or not any(p for p in runs_dir.iterdir() if p.name != ".lock"):
        return None
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    dest = runs_dir.with_name(f"{runs_dir.name}.archived-{stamp}")
    dest.mkdir()
    for item in runs_dir.iterdir():   # everything but the lock, which the caller holds
        if item.name != ".lock":
            os.replace(item, dest / item.name)
    return dest
