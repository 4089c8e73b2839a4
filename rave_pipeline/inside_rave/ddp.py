"""Data-parallel `rave train`: several processes (ranks) train one model with Lightning's DDP.

The wrapper sets RAVE_PIPELINE_PROCS (processes per node) and RAVE_PIPELINE_NODES; RAVE's train.py passes
the Trainer its GPUs but never the number of nodes or a strategy, so `trainer_options` adds them. Every rank
starts from rank 0's weights (DDP broadcasts them) and applies the same averaged gradients (`GradientSync`),
so the weights stay the same on every rank: `digests` checks that at every checkpoint, bit for bit. A rank that dies is
noticed by the others within COLLECTIVE_TIMEOUT_S (their next collective fails or times out), not a hang.
"""

import hashlib
import os
import signal
from datetime import timedelta
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.distributed as dist

from safeio.environment import env

PROCS = int(env("RAVE_PIPELINE_PROCS") or 0)  # 0: not data-parallel (one process, RAVE's own loader order)
NODES = int(env("RAVE_PIPELINE_NODES") or 1)
TIMEOUT_S = float(env("RAVE_PIPELINE_COLLECTIVE_TIMEOUT_S") or 45)
SEED = 0  # a data-parallel run's start: its first weights, its data order and crops (loader.py), its noise


def data_parallel() -> bool:
    return PROCS > 0


def rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def trainer_options(kwargs: dict) -> dict:
    """RAVE's Trainer arguments with the data-parallel layout: devices per node, nodes, the DDP strategy
    (a timeout on its collectives), and the project's own sharding (rave_pipeline/inside_rave/loader.py)."""
    if not data_parallel() or PROCS * NODES == 1:
        return kwargs
    from pytorch_lightning.strategies import DDPStrategy

    if kwargs.get("accelerator") is None:  # RAVE's --gpu -1: the CPU
        kwargs = {**kwargs, "accelerator": "cpu", "devices": PROCS}
    return {
        **kwargs,
        "num_nodes": NODES,
        "strategy": DDPStrategy(timeout=timedelta(seconds=TIMEOUT_S)),
        "replace_sampler_ddp": False,
    }


class GradientSync(pl.Callback):
    """Average each optimizer's gradients over the ranks just before its step. RAVE optimizes by hand and
    calls `loss.backward()` itself, which Lightning's DDP does not synchronise (only `manual_backward` would):
    measured here, without this the ranks' weights part after the first step. One all-reduce of one flat
    buffer per optimizer step; the sum is the same bytes on every rank, so the weights stay bit-identical."""

    def on_before_optimizer_step(self, trainer, pl_module, optimizer, optimizer_idx=0):
        world = rank_world()[1]
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if world == 1 or not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= world
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def on_train_start(self, trainer, pl_module):
        # each rank its own noise (RAVE's reparametrisation and noise bands), reproducible from the step on
        torch.manual_seed(SEED + 1 + trainer.global_rank + 1024 * trainer.global_step)


def seed_start() -> None:
    """Before RAVE builds its model: torch seeds itself at random in each process, so without this one process and
    two would start from different weights (DDP then copies rank 0's to the others)."""
    torch.manual_seed(SEED)


def callbacks() -> list:
    return [GradientSync()] if data_parallel() else []


def any_rank(value: int, device) -> int:
    """The largest of every rank's `value` (each rank's stop request, once per step); `value` alone on one."""
    if rank_world()[1] == 1:
        return value
    t = torch.tensor([value], dtype=torch.int64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def digest(trainer) -> str:
    """sha256 of this rank's weights and optimizer state, bit for bit."""
    h = hashlib.sha256()
    tensors = list(trainer.lightning_module.state_dict().values())
    for opt in trainer.optimizers:
        for state in opt.state_dict()["state"].values():
            tensors += [v for _, v in sorted(state.items()) if torch.is_tensor(v)]
    for t in tensors:
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def digests(trainer) -> list[str]:
    """Every rank's digest, gathered on every rank (a collective: all ranks save together)."""
    mine = digest(trainer)
    rank, world = rank_world()
    if world == 1:
        return [mine]
    out = [None] * world
    dist.all_gather_object(out, mine)
    return out


# -- ranks Lightning starts on this node (outside Slurm: srun reports its own tasks) ------------------------------
def die_with_parent() -> None:
    """A rank Lightning started stops (SIGTERM: it checkpoints with the others or fails their next collective)
    when rank 0, its parent, dies, even by SIGKILL."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # rank 0 died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def children() -> dict[int, int]:
    """{pid: local rank} of the ranks this process started (rank 0 under Lightning's launcher)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == os.getpid():
                environ = (stat.parent / "environ").read_bytes().split(b"\0")
                ranks = [e.split(b"=", 1)[1] for e in environ if e.startswith(b"LOCAL_RANK=")]
                if ranks:
                    found[int(stat.parent.name)] = int(ranks[0])
        except (OSError, ValueError, IndexError):
            continue
    return found


STARTED: dict[int, int] = {}  # {pid: local rank} of the ranks this process started, noted when training starts


def lost(error: Exception) -> str:
    """The line a rank prints when training failed under it: which ranks it started have died, and how."""
    rank = rank_world()[0]
    gone = lost_ranks(STARTED)
    why = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
    return f"Error: rank {rank} stopped ({why})" + (f"; {', '.join(gone)}" if gone else "")


def lost_ranks(known: dict[int, int]) -> list[str]:
    """Of the ranks this process started, those that ended, with how ('rank 1 (pid 123) killed by SIGKILL')."""
    out = []
    for pid, rank in sorted(known.items(), key=lambda kv: kv[1]):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        if done and os.WIFSIGNALED(status):
            out.append(f"rank {rank} (pid {pid}) killed by {signal.Signals(os.WTERMSIG(status)).name}")
        elif done:
            out.append(f"rank {rank} (pid {pid}) exited with {os.WEXITSTATUS(status)}")
    return out
