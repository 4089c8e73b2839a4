"""The checkpoints of a run as a user chooses among them: step, RAVE phase, validation loss.

What a checkpoint says about itself: the `rave_to_chaos` record every save carries (timeline_saves.py);
for checkpoints from before it, the global step, the phase from the run's PHASE_1_DURATION, and the
validation loss only for RAVE's `best` (the score it was kept for).
"""

import dataclasses
import json
from pathlib import Path

from rave_pipeline.commands import runs
from safeio import UserError
from spec.rave import PHASE_1_DEFAULT

CHOICES = "a step (e.g. 120000), best, last, or a .ckpt path"


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    path: Path
    step: int
    phase: int  # 1: reconstruction, 2: adversarial
    validation: float | None  # RAVE's validation loss, the newest measured when this was saved
    validation_step: int | None

    def line(self) -> str:
        val = "no validation yet" if self.validation is None else f"validation {self.validation:.4g}"
        if self.validation is not None and self.validation_step not in (None, self.step):
            val += f" (at step {self.validation_step})"
        return f"step {self.step} · phase {self.phase} · {val} · {self.path.name}"

    def record(self) -> dict:
        return {
            "step": self.step,
            "phase": self.phase,
            "validation": self.validation,
            "validation_step": self.validation_step,
            "checkpoint": str(self.path),
        }


def phase_1_of(runs_dir: Path) -> int:
    """PHASE_1_DURATION as the wrapper recorded it when training started (settings.json)."""
    settings = runs_dir / "settings.json"
    try:
        return int(json.loads(settings.read_text()).get("phase_1_duration") or PHASE_1_DEFAULT)
    except (OSError, ValueError):
        return PHASE_1_DEFAULT


def read(ckpt: Path, phase_1: int) -> Checkpoint:
    import torch

    state = torch.load(ckpt, map_location="cpu", mmap=True, weights_only=False)
    step = int(state.get("global_step", 0))
    ours = state.get("rave_to_chaos")
    if ours:
        return Checkpoint(ckpt, step, int(ours["phase"]), ours.get("validation"), ours.get("validation_step"))
    score = None
    if ckpt.name.startswith("best"):  # RAVE's ModelCheckpoint(monitor="validation") kept it for this score
        score = next(
            (
                s.get("best_model_score")
                for k, s in state.get("callbacks", {}).items()
                if "'monitor': 'validation'" in k
            ),
            None,
        )
    score = float(score) if score is not None else None
    return Checkpoint(ckpt, step, 2 if step > phase_1 else 1, score, step if score is not None else None)


def listing(runs_dir: Path) -> list[Checkpoint]:
    """Every complete checkpoint of the run, by step (one per step: a timeline save is preferred, then the
    newest file). A run still training is fine: files cut short are skipped, and one that vanishes
    between the listing and the read (RAVE replacing its last) is left out."""
    phase_1 = phase_1_of(runs_dir)
    found = {}
    for ckpt in runs.checkpoints(runs_dir):  # oldest first: a later file of the same step replaces it
        if not runs.complete(ckpt):
            continue
        try:
            c = read(ckpt, phase_1)
        except (FileNotFoundError, RuntimeError, EOFError):
            continue
        if c.step not in found or not found[c.step].path.name.startswith("timeline-"):
            found[c.step] = c
    return [found[s] for s in sorted(found)]


def table(found: list[Checkpoint]) -> str:
    return "\n".join("  " + c.line() for c in found) or "  (none)"


def pick(runs_dir: Path, choice: str, recipe: str) -> Checkpoint:
    """CKPT=: a step, best, or a path (last/newest is export.hold's: the newest file, as RAVE resumes from it).
    One sentence and the run's list when nothing matches."""
    choice = str(choice).strip()
    if "/" in choice or choice.endswith(".ckpt"):
        path = Path(choice).expanduser()
        if not path.is_file():
            raise UserError(f"CKPT={choice}: no such file; give {CHOICES}")
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":  # torch.save writes a zip archive
                raise UserError(f"CKPT={choice} is not a checkpoint (not a file torch.save wrote); give {CHOICES}")
        if not runs.complete(path):
            raise UserError(
                f"CKPT={choice} is incomplete (cut short while saving); choose another of {runs_dir}:\n"
                + table(listing(runs_dir))
            )
        runs.run_dir_of(path)  # a checkpoint not from rave train cannot be exported
        return read(path, phase_1_of(runs_dir))
    found = listing(runs_dir)
    if not found:
        raise UserError(f"no checkpoint in {runs_dir}: run make train-{recipe} first")
    if choice == "best":  # RAVE's best.ckpt (the lowest validation loss), else the lowest one recorded
        best = [c for c in runs.checkpoints(runs_dir) if c.name.startswith("best") and runs.complete(c)]
        if best:
            return read(best[-1], phase_1_of(runs_dir))
        scored = [c for c in found if c.validation is not None]
        if scored:
            return min(scored, key=lambda c: c.validation)
    elif choice.isdigit():
        match = [c for c in found if c.step == int(choice)]
        if match:
            return match[0]
    raise UserError(
        f"CKPT={choice} matches no checkpoint of {runs_dir}; give {CHOICES}. Its checkpoints:\n" + table(found)
    )
