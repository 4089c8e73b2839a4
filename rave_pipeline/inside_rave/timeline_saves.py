"""Checkpoints worth a timeline, added to `rave train`'s Trainer by rave_cli beside CheckpointOnExit.

- Every SAVE_EVERY global steps (RAVE_PIPELINE_SAVE_EVERY, set by the wrapper) it saves
  `timeline-step=<N>.ckpt` beside RAVE's checkpoints, atomically. RAVE's own `--save_every` is not used:
  it names its files by a batch counter that restarts at 0 when a preempted run resumes, so a resumed
  run would overwrite the checkpoints of the first one.
- Every checkpoint saved by anyone (RAVE's best and last, ours) carries `rave_to_chaos`: the step, RAVE's
  phase (1 reconstruction, 2 adversarial) and the newest validation loss with the step it was measured
  at, which is what `make export-<recipe> CKPT=...` and the timeline list and record; with several
  processes also `ranks`, each rank's digest of its weights and optimizer state (all equal, bit for bit,
  or a loud warning).
Nothing is ever deleted here: best and newest stay, and the disk cost is one checkpoint per SAVE_EVERY.
"""

import pytorch_lightning as pl

from rave_pipeline.inside_rave import ddp
from rave_pipeline.inside_rave.graceful import save
from safeio.environment import env

KEY = "rave_to_chaos"


class TimelineSaves(pl.Callback):
    def __init__(self, every: int | None = None):
        every = every if every is not None else int(env("RAVE_PIPELINE_SAVE_EVERY") or 0)
        self.every, self.saved, self.validation, self.pending = every, set(), None, None

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get("validation")
        if value is not None:
            self.validation = {"validation": float(value), "validation_step": int(trainer.global_step)}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        step = trainer.global_step
        if self.every and step and step % self.every == 0 and step not in self.saved:
            self.pending = step  # saved once a validation due at this step has run, so it carries its loss

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.flush(trainer)

    def on_train_end(self, trainer, pl_module):
        self.flush(trainer)

    def flush(self, trainer):
        if self.pending is not None and self.pending == trainer.global_step:
            self.saved.add(self.pending)
            save(trainer, "timeline")
        self.pending = None

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        step = int(trainer.global_step)
        checkpoint[KEY] = {"step": step, "phase": phase(step, pl_module), **(self.validation or NO_VALIDATION)}
        if trainer.world_size > 1:
            checkpoint[KEY]["ranks"] = ranks = ddp.digests(trainer)
            if len(set(ranks)) > 1 and trainer.is_global_zero:
                print(f"Error: the ranks hold different weights at step {step} (digests {ranks})", flush=True)


NO_VALIDATION = {"validation": None, "validation_step": None}


def phase(step: int, pl_module) -> int:
    """RAVE's phase of the weights after `step` steps: 1 while step <= PHASE_1_DURATION (RAVE's `warmup`).
    Not its `warmed_up` flag: RAVE sets that at the start of the next batch, before a save made there (ours
    is), so at the boundary the flag is one step ahead of the weights."""
    phase_1 = getattr(pl_module, "warmup", None)
    if phase_1 is None:
        return 2 if getattr(pl_module, "warmed_up", False) else 1
    return 2 if step > phase_1 else 1
