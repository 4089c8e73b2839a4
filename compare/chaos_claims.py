"""The essay's claims about ChaosEffect, judged on every hand-written export whose class is one of its
variants (spec.instruments.CHAOS_EFFECT_VARIANTS), by a named rule each."""

import numpy as np

from compare import analyse
from compare.verdict import row
from spec.instruments import CHAOS_EFFECT_VARIANTS, STREAMING_CLASSES, class_path

LINEAR_THD_BELOW = 0.03  # median THD at -40 dBFS: near-linear when under 3 %
NONLINEAR_GROWTH = 3.0  # ... and the distortion at 0 dBFS is at least 3x that
NOT_LINEAR_FROM = 0.10  # median THD at -40 dBFS of 10 % or more: refuted
EDGE_FREE_BELOW_DB = -60.0  # buffer 64 vs 8192 renders differ by less than this: no buffer dependence


def chaos_methods(results: dict) -> dict:
    """The methods of every hand-written export that is a ChaosEffect variant (spec.instruments says which)."""
    return {
        k: r
        for k, r in results.items()
        if r["family"] == "hand-written" and ":" in k and class_path(r["class"]) in CHAOS_EFFECT_VARIANTS
    }


# the claims about ChaosEffect: the report says which of its variants each one counts
CLAIM_IDS = ("near_linear", "resonant_modes", "self_oscillation", "topo_hotter", "buffer_dependence")


def variants(rows: list[dict], results: dict) -> dict:
    """claim id -> the ChaosEffect variants its models include (claims about ChaosEffect only: a claim about
    both families, such as the neural sound, counts families, not variants)."""
    out = {}
    for r in rows:
        for k in r["models"] if r["id"] in CLAIM_IDS else ():
            name = CHAOS_EFFECT_VARIANTS.get(class_path(results.get(k, {}).get("class", "")))
            if name:
                out.setdefault(r["id"], []).append(name)
    return {cid: sorted(set(v)) for cid, v in out.items()}


def near_linear_when_quiet(results: dict) -> list[dict]:
    rows = []
    for k, r in chaos_methods(results).items():
        fr = r["frequency_response"]
        quiet = float(np.median([x["thd"] for x in fr["-40"]]))
        loud = float(np.median([x["thd"] for x in fr["0"]]))
        if quiet < LINEAR_THD_BELOW and loud > NONLINEAR_GROWTH * quiet:
            verdict = "supported"
        else:
            verdict = "refuted" if quiet >= NOT_LINEAR_FROM else "partly"
        rows.append(
            row(
                "near_linear",
                "ChaosEffect is near-linear at small amplitudes.",
                f"median THD {100 * quiet:.2f} % at -40 dBFS vs {100 * loud:.1f} % at 0 dBFS",
                verdict,
                [k],
                100 * quiet,
                "% THD at -40 dBFS",
            )
        )
    return rows


def resonant_modes(results: dict) -> list[dict]:
    rows = []
    for k, r in chaos_methods(results).items():
        modes = r["resonant_modes_hz"]
        rows.append(
            row(
                "resonant_modes",
                "The conv layers give resonant modes: frequencies emphasised whatever the input.",
                f"{len(modes)} spectral peak(s) persisting across >= {100 * analyse.MODE_PERSISTENCE:.0f} % of inputs: "
                + (", ".join(f"{m:.0f} Hz" for m in modes[:8]) or "none"),
                "supported" if modes else "refuted",
                [k],
                len(modes),
                "persistent modes",
            )
        )
    return rows


def self_oscillation(results: dict) -> list[dict]:
    rows = []
    for k, r in chaos_methods(results).items():
        if not k.endswith(":chaos"):
            continue
        osc = r["self_oscillation"]
        threshold = osc["threshold"]
        evidence = (
            f"silent input: AC level rises above {analyse.SILENT_DB:.0f} dBFS at control = "
            f"{threshold if threshold is not None else 'never'}; {osc['silent_input_db'][-1]:.1f} dBFS at "
            f"control {osc['values'][-1]:.0f}"
        )
        edge = r.get("buffer_edge_artifact_db")
        if threshold is not None and edge is not None and edge >= EDGE_FREE_BELOW_DB:
            evidence += (
                f"; measured mechanism: the zero padding at every buffer edge ({edge:.0f} dB between buffer "
                "64 and 8192 renders), not the biases the essay names; the streaming variant shows which"
            )
        rows.append(
            row(
                "self_oscillation",
                "chaos self-oscillates past a control threshold, even from silence.",
                evidence,
                "supported" if threshold is not None else "refuted",
                [k],
                osc["silent_input_db"][-1],
                "dBFS AC from silence at the top of the control range",
            )
        )
    return rows


def topo_hotter(results: dict) -> list[dict]:
    rows, chaos = [], chaos_methods(results)
    for k in [k for k in chaos if k.endswith(":topo")]:
        fwd = chaos.get(k.replace(":topo", ":forward"))
        if fwd:
            diff = chaos[k]["mean_rms_db"] - fwd["mean_rms_db"]
            rows.append(
                row(
                    "topo_hotter",
                    "topo runs hotter than forward.",
                    f"mean output RMS: topo {chaos[k]['mean_rms_db']:.1f} dBFS, forward {fwd['mean_rms_db']:.1f} dBFS "
                    f"({diff:+.1f} dB)",
                    "supported" if diff > 0 else "refuted",
                    [k.replace(":topo", ":forward"), k],
                    diff,
                    "dB, topo minus forward",
                )
            )
    return rows


def buffer_dependence(results: dict) -> list[dict]:
    edges = {
        k: r["buffer_edge_artifact_db"]
        for k, r in results.items()
        if k.endswith(":chaos") and r["buffer_edge_artifact_db"] is not None
    }
    if not edges:
        return []
    streaming = {k for k in edges if class_path(results[k].get("class", "")) in STREAMING_CLASSES}
    streaming_free = all(v < EDGE_FREE_BELOW_DB for k, v in edges.items() if k in streaming)
    blockwise_dependent = any(v >= EDGE_FREE_BELOW_DB for k, v in edges.items() if k not in streaming)
    has_both = bool(streaming) and any(k not in streaming for k in edges)
    return [
        row(
            "buffer_dependence",
            "chaos depends on the host buffer size (zero padding at every buffer edge); the streaming variant "
            "does not.",
            "; ".join(f"{k}: {v:.0f} dB" for k, v in edges.items())
            + " (difference between buffer 64 and 8192 renders, re output)",
            "supported"
            if has_both and streaming_free and blockwise_dependent
            else "inconclusive"
            if not has_both
            else "refuted",
            list(edges),
            float(np.median([v for k, v in edges.items() if k not in streaming] or [np.nan])),
            "dB edge artifact of the block-wise chaos (median)",
        )
    ]
