"""Which batch to run next on a card, and which batch each row of a recipe's table should get, from the
peak memory measured at two batch sizes (memory = fixed + per example x batch, with stated headroom)."""

import dataclasses
import math

import numpy as np

from rave_pipeline.commands import recipes

HEADROOM = 0.10  # share of a card's memory left free when proposing a batch
CONTEXT_GB = 0.6  # CUDA context + cuDNN workspace, outside torch's allocator


@dataclasses.dataclass
class Plan:
    recipe: recipes.Recipe
    batch: int
    kind: str  # "wrapper" (python -m rave_pipeline.inside_rave.rave_cli) or "plain" (rave train)
    why: str  # which table row it stands for
    card_gb: float | None = None  # cap torch's allocator to this many GB (a smaller card)
    pair: int = 0  # which wrapper/plain pair it belongs to (pair_order)


def pair_order(first: Plan, pairs: int) -> tuple[list[Plan], list[Plan]]:
    """The plain `rave train` runs beside the wrapper's, in pairs timed back to back, the order alternating
    (W0 P0, P1 W1, W2 P2, ...) so that a drift in the machine's speed hits both alike. -> (the plain half
    of pair 0, which follows the recipe's first run W0 at once; pairs 1.. in full)."""
    plain = dataclasses.replace(first, kind="plain")
    rest = []
    for k in range(1, pairs):
        w, p = dataclasses.replace(first, pair=k), dataclasses.replace(plain, pair=k)
        rest += [p, w] if k % 2 else [w, p]
    return [plain], rest


def table_rows(recipe, gpu_gb: float | None) -> tuple[int, int | None]:
    """(GB of the table row this card uses, GB of the next larger row or None)."""
    rows = sorted(recipe.batch_by_gpu_gb)
    mine = [r for r in rows if r <= gpu_gb * 1.05] if gpu_gb else []
    row = mine[-1] if mine else rows[0]
    larger = [r for r in rows if r > row]
    return row, (larger[0] if larger else None)


def fit_memory(points: list[tuple[int, float]]) -> tuple[float, float] | None:
    """(fixed GB, GB per example): least squares through measured (batch, peak reserved GB) points."""
    points = sorted(set(points))
    if len({b for b, _ in points}) >= 2:
        per, fixed = np.polyfit([b for b, _ in points], [m for _, m in points], 1)
        if per > 0:
            return max(float(fixed), 0.0), float(per)
    if points:  # one batch size: all of it per example (an over-estimate, so a safe batch)
        b, m = points[-1]
        return 0.0, m / b
    return None


def propose(fit, rows_gb, floor: int) -> dict[int, int]:
    fixed, per = fit
    out = {}
    for gb in rows_gb:
        usable = gb * (1 - HEADROOM) - CONTEXT_GB - fixed
        b = int(usable // per) if usable > 0 else 0
        out[gb] = b if b >= floor else 0
    return out


def next_plan(first: Plan, done: list[dict], gpu_gb: float | None) -> Plan | None:
    """The next larger table row, or on the largest row a batch scaled to this card; never more
    than the first run's memory, scaled per example, says fits (so no run is wasted on an OOM)."""
    if gpu_gb is None or not done:
        return None
    recipe = first.recipe
    if done[0].get("error") == "out of memory":  # the table's row is too big for this card: a measured half
        return (
            Plan(recipe, first.batch // 2, "wrapper", f"{first.why} ran out of memory: half of it")
            if first.batch // 2 >= recipe.cpu_batch
            else None
        )
    if "error" in done[0]:
        return None
    row, larger = table_rows(recipe, gpu_gb)
    if larger and larger <= gpu_gb * 1.05:
        batch, why = recipe.batch_by_gpu_gb[larger], f"{larger} GB row"
    else:
        batch, why = math.floor(first.batch * gpu_gb / row), f"{gpu_gb:.0f} GB scaled from the {row} GB row"
    peak = done[0].get("phases", {}).get("2", {}).get("peak_reserved_gb")
    if peak:
        fits = math.floor(first.batch * (gpu_gb * (1 - HEADROOM) - CONTEXT_GB) / peak)
        if fits < batch:
            batch, why = fits, f"{why}, capped at what the first run's memory says fits"
    if larger and larger > gpu_gb * 1.05:
        why = f"{larger} GB row needs a larger card; {why}"
    return Plan(recipe, batch, "wrapper", why) if batch > first.batch else None
