"""Checkpoint `rave train` on the way out, so a stop loses no finished step.

Added to RAVE's own Lightning Trainer by rave_cli (RAVE builds its callbacks in code, not gin).
RAVE checkpoints only when it validates, so without this the steps after the last validation are lost
when training ends (max_steps) or is stopped. On SIGTERM, SIGUSR1 (Slurm's `--signal`) or SIGINT:
finish the current step, save, stop. At the end of training: save. Saves go beside RAVE's checkpoints,
atomically (hidden temporary file, then rename). Lightning's own SLURM auto-requeue is switched off:
it would save into the working directory and ignore SIGTERM ("bypassing sigterm").

With several processes (rave_pipeline/inside_rave/ddp.py) a signal may reach any of them: after each step
the ranks agree on the largest request, so all stop after the same step, save together (rank 0 writes the
one file) and say it once.
"""

import os
import signal
from pathlib import Path

import pytorch_lightning as pl

from rave_pipeline.inside_rave import ddp

SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)


def save(trainer, name: str) -> Path:
    """Every rank calls it (Lightning gathers the checkpoint on all and writes it on rank 0, then waits)."""
    folder = Path(trainer.checkpoint_callback.dirpath)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{name}-step={trainer.global_step}.ckpt"
    tmp = folder / f".{final.name}.partial"
    trainer.save_checkpoint(str(tmp))
    if trainer.is_global_zero:
        os.replace(tmp, final)
    return final


RANKS = 1024  # a stop request travels as signal * RANKS + rank + 1, so the largest names its signal and rank


class CheckpointOnExit(pl.Callback):
    def __init__(self):
        self.received = None  # the signal this process received
        self.stopped = None  # (signal, rank) the ranks agreed to stop on

    def _note(self, signum, _frame):
        self.received = signum

    def on_train_start(self, trainer, pl_module):
        for s in SIGNALS:  # after Lightning registered its own handlers, so ours win
            signal.signal(s, self._note)
        if trainer.world_size > 1:
            ddp.STARTED.update(ddp.children())  # to name a rank that dies later

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.stopped is not None:
            return
        mine = self.received * RANKS + trainer.global_rank + 1 if self.received else 0
        request = ddp.any_rank(mine, pl_module.device)
        if not request:
            return
        self.stopped = divmod(request - 1, RANKS)
        path = save(trainer, "stopped")
        if trainer.is_global_zero:
            sig, rank = self.stopped
            where = f" (rank {rank})" if trainer.world_size > 1 else ""
            print(
                f"received {signal.Signals(sig).name}{where}: saved {path} at step {trainer.global_step}; stopping",
                flush=True,
            )
        trainer.should_stop = True

    def on_train_end(self, trainer, pl_module):
        if self.stopped is None:
            path = save(trainer, "final")
            if trainer.is_global_zero:
                print(f"saved {path} at step {trainer.global_step}", flush=True)


def install() -> None:
    """Make every pl.Trainer built from now on carry CheckpointOnExit, StepMeter and TimelineSaves (no SLURM
    auto-requeue), and the data-parallel layout when there is one."""
    from lightning_fabric.plugins.environments import SLURMEnvironment

    from rave_pipeline.inside_rave.progress import StepMeter
    from rave_pipeline.inside_rave.timeline_saves import TimelineSaves

    original = pl.Trainer.__init__

    def init(self, *args, callbacks=None, plugins=None, **kwargs):
        callbacks = [*(callbacks or []), *ddp.callbacks(), CheckpointOnExit(), StepMeter(), TimelineSaves()]
        if SLURMEnvironment.detect():
            plugins = [*(plugins or []), SLURMEnvironment(auto_requeue=False)]
        original(self, *args, callbacks=callbacks, plugins=plugins, **ddp.trainer_options(kwargs))

    pl.Trainer.__init__ = init
