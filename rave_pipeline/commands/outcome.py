"""What an ended `rave train` means for the user: the newest checkpoint's step, or one sentence naming the fix."""

import re
import signal
import sys
from pathlib import Path

from rave_pipeline.commands import runs
from rave_pipeline.commands.recipes import Recipe
from rave_pipeline.data import disk
from safeio import UserError

# Lines of RAVE/Lightning output that have a known fix.
KNOWN_FAILURES = {
    "Padding size should be less than": "n_signal is too small for this config: raise N_SIGNAL",
    "CUDA out of memory": "the GPU ran out of memory: lower BATCH (the adversarial phase needs more than the first)",
    "OutOfMemoryError": "the GPU ran out of memory: lower BATCH (the adversarial phase needs more than the first)",
    "n_components=128 must be between": "the validation set is too small for RAVE's PCA: add recordings (the "
    "size check before training says how many seconds)",
    "contains NaN": "training diverged to NaN; with the mute augmentation a batch of only muted examples does this "
    "(p = 0.1^BATCH per step): use BATCH=4 or more, or AUGMENT=none, and FRESH=1",
}


def lost_rank(tail: str) -> str | None:
    """A rank that died under data-parallel training, as the survivors (or srun) said it."""
    found = re.search(r"rank \d+ \(pid \d+\) (killed by \w+|exited with \d+)", tail)
    if found:
        return found.group(0)
    task = re.search(r"srun: error: (\S+): tasks? ([\d,-]+): (.+)", tail)
    if task:
        return f"rank {task.group(2)} on {task.group(1)}: {task.group(3).strip()}"
    return None


def outcome(recipe: Recipe, code: int, tail: str, sig: int | None, log: Path, world: int = 1) -> int:
    """What the ended `rave train` means: the newest checkpoint's step, or one sentence (a signal: exit
    128 + signal, resumable; killed, a full disk or a failure: UserError naming the fix)."""
    newest = runs.newest_checkpoint(recipe.runs_dir)
    step = runs.global_step(newest) if newest else 0
    stopped = re.search(r"received (SIG[A-Z0-9]+)( \(rank \d+\))?: saved", tail) if code == 0 else None
    if sig is None and stopped:  # a signal reached rave train itself (a rank), not this wrapper
        sig, where = signal.Signals[stopped.group(1)], stopped.group(2) or ""
    else:
        where = ""
    if sig is not None:
        saved = f"the newest checkpoint is {newest} (step {step})" if newest else "no checkpoint was saved yet"
        print(
            f"training stopped by signal {signal.Signals(sig).name}{where}; {saved}; "
            f"run make train-{recipe.name} again to resume",
            file=sys.stderr,
        )
        sys.exit(128 + sig)
    if code < 0:
        name = signal.Signals(-code).name
        why = (
            " (by someone, or by the kernel's out-of-memory killer: if dmesg says 'Out of memory', lower BATCH "
            "or WORKERS)"
            if -code == signal.SIGKILL
            else ""
        )
        who = "rave train (rank 0; the other ranks stopped with it)" if world > 1 else "rave train"
        raise UserError(
            f"{who} was killed ({name}, signal {-code}){why}; newest checkpoint: "
            f"{newest or 'none yet'} (step {step}); run make train-{recipe.name} to resume"
        )
    if code != 0 and disk.output_says_full(tail, recipe.runs_dir):
        free = disk.megabytes(disk.free_bytes(recipe.runs_dir))
        # a checkpoint's size: the newest one's, else the config's measured one (the adversarial phase's is larger)
        size = newest.stat().st_size if newest else (recipe.facts.checkpoint_mb[1] * 1e6 if recipe.facts else 0)
        need = (
            f"checkpoints of {disk.megabytes(size)} and needs about {disk.megabytes(3 * size)} free"
            if size
            else "checkpoints"
        )
        raise UserError(
            f"the disk holding {recipe.runs_dir} is full ({free} free): training writes {need} there; "
            f"free space (or train under ROOT= on a bigger disk) and run make train-{recipe.name} again "
            f"to resume from {newest or 'the start'} (step {step})"
        )
    lost = lost_rank(tail) if code != 0 else None
    if lost:
        raise UserError(
            f"data-parallel training stopped: {lost}, and the other ranks stopped with it; newest checkpoint: "
            f"{newest or 'none yet'} (step {step}); run make train-{recipe.name} to resume (with as many "
            "processes or others)"
        )
    if code != 0:
        hint = next((fix for key, fix in KNOWN_FAILURES.items() if key in tail), None)
        last = [l for l in tail.strip().splitlines() if l.strip()][-1:] or ["(no output)"]
        print("\n".join(tail.strip().splitlines()[-15:]), file=sys.stderr)
        raise UserError(f"rave train failed for {recipe.name} ({hint or last[0].strip()[:200]}); full log: {log}")
    print(f"{recipe.name}: newest checkpoint {newest} at step {step}")
    return step
