"""How `make gpu-evidence` spends a training budget: the batch, the steps of each of RAVE's two phases and
how often to keep a checkpoint, from the s/step that `make bench-gpu` measured on a card
(configs/measured/<card>.json). Pure arithmetic, so a test can check it against numbers worked by hand.

- batch: of the batches measured on the card for the recipe (whole card or under a memory cap), the one
  that trains the most examples per second over both phases; a database too small for it caps it at
  the largest batch it holds (Recipe.min_chunks).
- s/step at that batch: per phase, a straight line (least squares) through the measured (batch, s/step)
  points, so a capped batch that was never measured still gets a figure.
- steps: the budget less a share for building the model, validations and saves, split in half between
  the phases: PHASE_1_DURATION = half / phase-1 s/step, MAX_STEPS = that + half / phase-2 s/step.
- SAVE_EVERY = MAX_STEPS // (KEEP - 1), so at least KEEP checkpoints are kept; VAL_EVERY = SAVE_EVERY, so
  each kept checkpoint carries the validation loss of its own step.
"""

import dataclasses

import numpy as np

OVERHEAD = 0.15  # share of the budget for the model's build, validations, saves and the loader's start
KEEP = 12  # checkpoints kept at least (the timeline's points)


@dataclasses.dataclass
class Plan:
    batch: int
    s_per_step: tuple[float, float]  # phase 1, phase 2 at that batch
    phase_1: int  # PHASE_1_DURATION
    max_steps: int
    save_every: int
    why: str

    def minutes(self) -> tuple[float, float]:
        """Minutes of pure training each phase should take."""
        s1, s2 = self.s_per_step
        return self.phase_1 * s1 / 60, (self.max_steps - self.phase_1) * s2 / 60


def measured_points(measured: dict, recipe: str, n_signal: int) -> list[tuple[int, float, float]]:
    """(batch, phase-1 s/step, phase-2 s/step) of every wrapper run of `recipe` at `n_signal`."""
    points = []
    for r in measured.get("runs", []):
        phases = r.get("phases") or {}
        if r.get("recipe") != recipe or r.get("kind") != "wrapper" or r.get("n_signal") != n_signal:
            continue
        s = [phases.get(p, {}).get("s_per_step_median") for p in ("1", "2")]
        if all(s) and "error" not in r:
            points.append((int(r["batch"]), float(s[0]), float(s[1])))
    return sorted(points)


def s_per_step(points: list, batch: int) -> tuple[float, float]:
    """Per phase, the least-squares line through the points at `batch` (one point: proportional to it)."""
    batches = [b for b, _, _ in points]
    out = []
    for k in (1, 2):
        ys = [p[k] for p in points]
        if len(set(batches)) >= 2:
            slope, icpt = np.polyfit(batches, ys, 1)
            out.append(float(max(icpt + slope * batch, min(ys) * 0.5)))
        else:
            out.append(ys[0] * batch / batches[0])
    return out[0], out[1]


def choose_batch(points: list, holds: int) -> tuple[int, str]:
    """The measured batch with the most examples per second over both phases (one step of each), capped at
    the largest batch the database holds."""
    rate = {b: b / ((s1 + s2) / 2) for b, s1, s2 in points}
    fastest = max(rate, key=rate.get)
    why = f"batch {fastest} trained the most examples per second on this card ({rate[fastest]:.0f}/s)"
    if fastest <= holds:
        return fastest, why
    return holds, f"{why}; the database holds at most batch {holds}"


def plan(points: list, holds: int, minutes: float) -> Plan:
    if not points:
        raise ValueError("no measured run of this recipe at this n_signal")
    batch, why = choose_batch(points, holds)
    s1, s2 = s_per_step(points, batch)
    half = minutes * 60 * (1 - OVERHEAD) / 2
    phase_1 = max(1, int(half / s1))
    max_steps = phase_1 + max(1, int(half / s2))
    return Plan(batch, (s1, s2), phase_1, max_steps, max(1, max_steps // (KEEP - 1)), why)


def largest_batch(min_chunks, chunks: int) -> int:
    """The largest batch whose Recipe.min_chunks a database of `chunks` chunks meets (0 if none)."""
    batch = 0
    while min_chunks(batch + 1) <= chunks:
        batch += 1
    return batch
