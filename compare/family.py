"""The hand-written family, not one draw: the essay's ChaosEffect rebuilt from many seeds, at the essay's
w_mult and across the range measured usable, each analysed as an export would be, so that a claim about
"ChaosEffect" can say for how many of its instruments it holds.

One seed is one random network; the claims (near-linear when quiet, resonant modes, self-oscillation,
topo hotter than forward) are judged on every member, then summarised per claim and per w_mult.
"""

import tempfile
import time
from pathlib import Path

from audition.model_file import open_export
from chaos_models.export import build, class_path, export
from spec import names
from spec.instruments import ESSAY, W_MULT_RANGE

W_MULTS = tuple(
    float(w) for w in range(int(W_MULT_RANGE[0]), int(W_MULT_RANGE[1]) + 1)
)  # the usable range, whole steps


def members(seeds: int) -> list[tuple[int, float]]:
    """(seed, w_mult): seeds 0..K-1 at the essay's w_mult, and a quarter of them at each other usable one."""
    essay = float(ESSAY["chaos_effect"]["w_mult"])
    return [(s, essay) for s in range(seeds)] + [
        (s, w) for w in W_MULTS if w != essay for s in range(max(seeds // 4, 1))
    ]


def key(seed: int, w_mult: float, method: str) -> str:
    return f"ChaosEffect seed {seed} w_mult {w_mult:g}:{method}"


def analyse_member(seed: int, w_mult: float, inputs: dict) -> dict:
    """Every audio method of ChaosEffect(seed, w_mult) at the essay's operator count, as compare analyses an
    export (the same host, probes and measures). -> {key: results}."""
    from compare import analyse

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        operators = ESSAY["chaos_effect"]["operators"]
        instrument = build("chaos_effect", seed=seed, w_mult=w_mult, operators=operators)
        path = export(instrument, Path(tmp) / names.hand_written("chaos_effect", operators, w_mult, seed=seed))
        e = open_export(path)
    out = {}
    for method in e.methods:
        r, _ = analyse.analyse(e, method, inputs)
        r.update({"family": "hand-written", "class": class_path(instrument), "seed": seed, "w_mult": w_mult})
        out[key(seed, w_mult, method)] = r
    for r in out.values():
        r["analysis_seconds"] = round((time.perf_counter() - t0) / len(out), 2)  # the cost, printed by compare
    return out


def judge(results: dict) -> list[dict]:
    """Each claim per method, over the family's instruments: at the essay's w_mult, and over every usable
    one ("holds for 14/16" counts instruments, one verdict each)."""
    from compare import claims

    essay = float(ESSAY["chaos_effect"]["w_mult"])
    out = []
    for scope, subset in (
        (f"w_mult {essay:g} (the essay's)", {k: r for k, r in results.items() if r["w_mult"] == essay}),
        (f"w_mult {W_MULTS[0]:g}-{W_MULTS[-1]:g}", results),
    ):
        rows = [r for r in claims.judge(subset) if r["id"] in FAMILY_CLAIMS]
        for method in dict.fromkeys(r["models"][-1].split(":")[1] for r in rows):
            same = [r for r in rows if r["models"][-1].endswith(f":{method}")]
            for s in claims.summarise(same):
                out.append({**s, "method": method if s["id"] != "topo_hotter" else "topo vs forward", "scope": scope})
    return out


FAMILY_CLAIMS = ("near_linear", "resonant_modes", "self_oscillation", "topo_hotter")
