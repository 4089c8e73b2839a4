"""Checkpoint `rave train` on the way out, so a stop loses no finished step.

Added to RAVE's own Lightning Trainer by rave_cli (RAVE builds its callbacks in code, not gin).
RAVE checkpoints only when it validates, so without this the steps after the last validation are lost
when training ends (max_steps) or is stopped. On SIGTERM, SIGUSR1 (Slurm's `--signal`) or SIGINT:
finish the current step, save, stop. At the end of training: save. Saves go beside RAVE's checkpoints,
atomically (hidden temporary file, then rename). Lightning's own SLURM auto-requeue is switched off:
it would save into the working directory and ignore SIGTERM ("bypassing sigterm").
"""

import os
import signal
from pathlib import Path

import pytorch_lightning as pl

SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)


def save(trainer, name: str) -> Path:
    folder = Path(trainer.checkpoint_callback.dirpath)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{name}-step={trainer.global_step}.ckpt"
    tmp = folder / f".{final.name}.partial"
    trainer.save_checkpoint(str(tmp))
    os.replace(tmp, final)
    return final


class CheckpointOnExit(pl.Callback):
    def __init__(self):
        self.received = None

    def _note(self, signum, _frame):
        self.received = signum

    def on_train_start(self, trainer, pl_module):
        for s in SIGNALS:  # after Lightning registered its own handlers, so ours win
            signal.signal(s, self._note)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.received is None or trainer.should_stop:
            return
        path = save(trainer, "stopped")
        print(
            f"received {signal.Signals(self.received).name}: saved {path} at step {trainer.global_step}; stopping",
            flush=True,
        )
        trainer.should_stop = True

    def on_train_end(self, trainer, pl_module):
        if self.received is None:
            print(f"saved {save(trainer, 'final')} at step {trainer.global_step}", flush=True)


def install() -> None:
    """Make every pl.Trainer built from now on carry CheckpointOnExit, StepMeter and TimelineSaves (and no SLURM
    auto-requeue)."""
    from lightning_fabric.plugins.environments import SLURMEnvironment

    from rave_pipeline.inside_rave.progress import StepMeter
    from rave_pipeline.inside_rave.timeline_saves import TimelineSaves

    original = pl.Trainer.__init__

    def init(self, *args, callbacks=None, plugins=None, **kwargs):
        callbacks = [*(callbacks or []), CheckpointOnExit(), StepMeter(), TimelineSaves()]
        if SLURMEnvironment.detect():
            plugins = [*(plugins or []), SLURMEnvironment(auto_requeue=False)]
        original(self, *args, callbacks=callbacks, plugins=plugins, **kwargs)

    pl.Trainer.__init__ = init
