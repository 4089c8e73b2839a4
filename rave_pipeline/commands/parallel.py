"""One model trained by several processes at once (Lightning's DDP): GPUS per node on NODES nodes, or PROCS
processes on the CPU (gloo). Each process reads BATCH examples per step; their gradients are averaged, so
a step learns from BATCH x processes examples.

Every setting is checked here, before anything starts. The layout reaches the processes inside `rave train`
as RAVE_PIPELINE_PROCS and RAVE_PIPELINE_NODES (read by rave_pipeline/inside_rave/ddp.py). Who starts them:
on one node outside Slurm, Lightning (it re-runs the trainer's command with LOCAL_RANK set); inside a Slurm
job, `srun` (one task per GPU or CPU process on every node), which Lightning's Slurm environment joins.
"""

import dataclasses
import shlex

from safeio import UserError
from safeio.environment import env


@dataclasses.dataclass(frozen=True)
class Layout:
    per_node: int  # processes on each node: one per GPU, or PROCS on the CPU
    nodes: int
    gpus: tuple[int, ...] | None  # the GPU indices each node trains on; None: the CPU
    parallel: bool  # GPUS, NODES or PROCS was given (even as 1): the data-parallel loader and launch

    @property
    def world(self) -> int:
        return self.per_node * self.nodes

    def batch_line(self, batch: int) -> str:
        """'batch 8 per GPU x 4 GPUs x 2 nodes = 64 examples per step'."""
        if not self.parallel:
            return f"batch {batch}"
        unit, units = ("GPU", "GPUs") if self.gpus is not None else ("process", "processes")
        parts = [f"batch {batch} per {unit}", f"{self.per_node} {units if self.per_node > 1 else unit}"]
        if self.nodes > 1:
            parts.append(f"{self.nodes} nodes")
        return " × ".join(parts) + f" = {batch * self.world} examples per step"

    def env(self) -> dict[str, str]:
        """What tells the processes inside `rave train` that they train together."""
        if not self.parallel:
            return {}
        return {"RAVE_PIPELINE_PROCS": str(self.per_node), "RAVE_PIPELINE_NODES": str(self.nodes)}

    def launcher(self) -> list[str]:
        """The command's prefix: srun inside a Slurm job with more than one process, else nothing."""
        if self.world == 1 or not env("SLURM_JOB_ID"):
            return []
        cpus = env("SLURM_CPUS_PER_TASK")  # srun 22.05+ no longer takes it from the job by itself
        return [
            "srun",
            f"--nodes={self.nodes}",
            f"--ntasks={self.world}",
            f"--ntasks-per-node={self.per_node}",
            *([f"--cpus-per-task={cpus}"] if cpus else []),
            "--kill-on-bad-exit=1",  # a rank that dies takes the others down at once
            "--export=ALL",
        ]

    def node_command(self, cmd: list[str]) -> list[str]:
        """`cmd` once on every node of a Slurm job's data-parallel run (staging the database), else as it is."""
        if not self.launcher():
            return cmd
        return ["srun", f"--nodes={self.nodes}", f"--ntasks={self.nodes}", "--ntasks-per-node=1", *cmd]


def gpu_indices(text) -> list[int] | None:
    """GPU=0 or GPU=0,1,2,3 -> [0, 1, 2, 3]; None when unset."""
    if text is None or str(text).strip() == "":
        return None
    words = [w.strip() for w in str(text).split(",")]
    if not all(w.isdigit() for w in words):
        raise UserError(f"GPU={text} is not a GPU index or a comma-separated list of them (GPU=0 or GPU=0,1,2,3)")
    indices = [int(w) for w in words]
    twice = sorted({i for i in indices if indices.count(i) > 1})
    if twice:
        raise UserError(f"GPU={text} names GPU {twice[0]} twice: name each GPU once (GPU=0,1)")
    return indices


def plan(cuda: bool, gpu=None, gpus=None, nodes=None, procs=None, visible: int = 0) -> Layout:
    """The layout for these settings, or one sentence saying which setting cannot be and what to set.
    cuda: training runs on CUDA GPUs (else the CPU); visible: the GPUs this node shows."""
    indices = gpu_indices(gpu)
    parallel = any(v is not None for v in (gpus, nodes, procs)) or len(indices or []) > 1
    nodes = nodes or 1
    if nodes > 1:
        held = env("SLURM_JOB_NUM_NODES")
        if not env("SLURM_JOB_ID"):
            raise UserError(
                f"NODES={nodes} needs a Slurm job (make cluster-train-<recipe> NODES={nodes} submits one); "
                "outside Slurm a training runs on this machine only"
            )
        if held and int(held) < nodes:
            raise UserError(f"NODES={nodes} but this Slurm job holds {held} node(s): submit it with NODES={nodes}")
    if not cuda:
        if gpus is not None or len(indices or []) > 1:
            raise UserError(
                "GPUS/GPU set but training runs on the CPU (DEVICE=cpu, or no CUDA GPU): "
                "use PROCS=N for N CPU processes"
            )
        return Layout(procs or 1, nodes, None, parallel)
    if procs is not None:
        raise UserError(f"PROCS={procs} is for DEVICE=cpu; on GPUs set GPUS={procs} (one process per GPU)")
    if indices and gpus is not None and len(indices) != gpus:
        raise UserError(f"GPU={gpu} names {len(indices)} GPU(s) but GPUS={gpus}: name {gpus} or leave GPU unset")
    indices = indices or list(range(gpus or 1))
    if len(indices) > visible:
        raise UserError(
            f"GPUS={len(indices)} but this node has {visible} GPU(s) visible (nvidia-smi; CUDA_VISIBLE_DEVICES): "
            f"use GPUS={visible} or fewer"
        )
    outside = [i for i in indices if i >= visible]
    if outside:
        raise UserError(f"GPU={outside[0]} but only {visible} GPU(s) are visible (indices 0 to {visible - 1})")
    return Layout(len(indices), nodes, tuple(indices), parallel)


def check_global_batch(layout: Layout, batch: int, train_examples: int) -> None:
    if batch * layout.world > train_examples:
        raise UserError(
            f"{layout.batch_line(batch)}, more than the database's {train_examples} training examples: "
            "lower BATCH, GPUS, PROCS or NODES, or add recordings"
        )


def sbatch_options(nodes: int | None, gpus: int | None, procs: int | None, workers: int) -> list[str]:
    """A data-parallel job's sbatch options (what its #SBATCH lines would say): the nodes, one task per GPU
    (or CPU process) on each, the GPUs per node, and CPUs per task for its loader workers and itself."""
    if nodes is None and gpus is None and procs is None:
        return []
    per_node = gpus or procs or 1
    options = [f"--nodes={nodes or 1}", f"--ntasks-per-node={per_node}", f"--cpus-per-task={workers + 1}"]
    if procs is None:
        options.append(f"--gres=gpu:{per_node}")
    return options


def sbatch_lines(options: list[str]) -> str:
    return "\n".join(f"#SBATCH {shlex.quote(o)}" for o in options)
