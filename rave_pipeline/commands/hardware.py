"""What a run gets of this machine: the device (a CUDA GPU, else the CPU with a warning), the batch (the
recipe's table for the GPU's memory) and the loader workers (at most the CPU cores the job may use)."""

import os

from rave_pipeline.commands.recipes import Recipe
from safeio import UserError, warn


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


def loader_workers(workers: int) -> int:
    """At most one loader process per CPU core this job may use: each holds its own copy of the loader's
    state (670 MB each measured with WORKERS=1000, which ended in the out-of-memory killer)."""
    cpus = len(os.sched_getaffinity(0))
    if workers > cpus:
        warn(f"WORKERS={workers} is more than the {cpus} CPU core(s) this job may use: using {cpus}")
    return min(workers, cpus)
