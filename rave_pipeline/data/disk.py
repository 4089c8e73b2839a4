"""Disk space: what is free, what a preprocess or training needs, and how a full disk shows itself."""

import concurrent.futures
import errno
import os
import shutil
import subprocess
from pathlib import Path

from rave_pipeline.commands.recipes import Recipe
from rave_pipeline.data.recordings import raw_files
from safeio import require_tool


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def megabytes(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def disk_full(e: Exception, folder: Path) -> bool:
    return getattr(e, "errno", None) == errno.ENOSPC or free_bytes(folder) < 1e6


# What a tool that ran out of disk leaves in its output: the OS's words, or torch.save's when the
# checkpoint or export it was writing was cut short.
FULL_DISK_SAYS = ("No space left on device", "file write failed", "PytorchStreamWriter failed")


def output_says_full(output: str, folder: Path) -> bool:
    """A failed rave train / rave export: did the disk holding `folder` fill up?"""
    return any(k in output for k in FULL_DISK_SAYS) or free_bytes(folder) < 1e6


def database_bytes(recipe: Recipe, seconds: float) -> float:
    return 1.1 * seconds * recipe.sampling_rate * recipe.channels * 2  # int16 + LMDB's overhead


def needed_bytes(recipe: Recipe) -> float:
    """Space a preprocess needs at its peak: the float working copy (4 bytes a sample) plus the
    database, from the raw files' durations (ffprobe; asked only when the disk is full)."""

    def duration(f: Path) -> float:
        proc = subprocess.run(
            [require_tool("ffprobe"), "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(f)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        try:
            return float(proc.stdout.strip())
        except ValueError:
            return 0.0

    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        seconds = sum(pool.map(duration, raw_files(recipe.raw_dir)))
    return seconds * recipe.sampling_rate * recipe.channels * 4 + database_bytes(recipe, seconds)


# A streaming export holds the generator's weights (not the discriminator's, not the optimisers') plus its
# convolution caches: 1.36x the generator's bytes for v2_small, 1.18x for v2 (measured on the demo's runs).
EXPORT_OVER_GENERATOR = 1.4


def export_bytes(ckpt: Path) -> float:
    """About what `rave export --streaming` of this checkpoint writes (within 2x: tested on a real export)."""
    import torch

    try:
        state = torch.load(ckpt, map_location="cpu", mmap=True, weights_only=False)["state_dict"]
    except Exception:  # unreadable here: a checkpoint is about 2.8x its export (weights + Adam's two moments)
        return ckpt.stat().st_size / 2.8
    generator = sum(v.numel() * v.element_size() for k, v in state.items() if not k.startswith("discriminator."))
    return EXPORT_OVER_GENERATOR * generator
