"""The essay's measurable claims, each judged from compare's analysis results by a named rule.

`judge(results)` -> rows {id, claim, evidence, verdict, models, effect, unit}, one per claim and model
it applies to; `summarise(rows)` -> one record per claim (verdict over its models, median effect with a
bootstrap interval, counts). `results` maps "export:method" to the dict compare.analyse returns, plus
family, class, global_step (and phase_1_duration for trained exports).
Verdicts: supported, partly, refuted, inconclusive (the evidence cannot decide), not measured.
"""

from collections import Counter

import numpy as np

from compare import analyse
from spec.instruments import CHAOS_EFFECT_VARIANTS, STREAMING_CLASSES, class_path
from spec.rave import PHASE_1_DEFAULT  # a trained model says nothing about RAVE before its adversarial phase;

# exports that do not record their own phase 1 assume RAVE's default

HOMOGENISED_BELOW = 0.5  # homogenisation index: outputs keep < half the inputs' diversity
KEEPS_DIVERSITY_FROM = 0.8  # ... at 0.8 or more the model keeps most of it: refuted
NARROW_BELOW = 0.5  # random latent codes decode to < half the training data's diversity: a narrow band
BROAD_FROM = 1.0  # ... as diverse as the training data, or more: refuted
LINEAR_THD_BELOW = 0.03  # median THD at -40 dBFS: near-linear when under 3 %
NONLINEAR_GROWTH = 3.0  # ... and the distortion at 0 dBFS is at least 3x that
NOT_LINEAR_FROM = 0.10  # median THD at -40 dBFS of 10 % or more: refuted
EDGE_FREE_BELOW_DB = -60.0  # buffer 64 vs 8192 renders differ by less than this: no buffer dependence
HOLDS_FROM = 0.75  # over a claim's models: supported (or refuted) when this share of the
# decisive verdicts agree; anything between is partly
BOOTSTRAP = 2000  # resamples for the 95 % interval of the median effect (seed 0)


def homogenisation(results: dict) -> list[dict]:
    claim = "The noise-trained RAVE model flattens very different inputs into one texture."
    trained = {
        k: r
        for k, r in results.items()
        if r["family"] == "trained" and r.get("recipe") == "noise" and k.endswith(":forward")
    }
    if not trained:
        return [row("homogenisation", claim, "no trained noise export in the set", "not measured")]
    hand = [r["homogenisation_index"] for r in results.values() if r["family"] == "hand-written"]
    rows = []
    for k, r in trained.items():
        h, step = r["homogenisation_index"], r.get("global_step") or 0
        phase_1 = r.get("phase_1_duration") or PHASE_1_DEFAULT
        evidence = f"homogenisation index of {k} = {h:.2f} (trained {step} steps)"
        if hand:
            evidence += f"; hand-written methods: {min(hand):.2f}-{max(hand):.2f}"
        if step <= phase_1:
            verdict = "inconclusive"
            evidence += (
                f"; the model has not reached RAVE's adversarial phase ({phase_1} steps): "
                f"a model trained past it decides"
            )
        elif h < HOMOGENISED_BELOW and (not hand or h < min(hand)):
            verdict = "supported"
        else:
            verdict = "refuted" if h >= KEEPS_DIVERSITY_FROM else "partly"
        rows.append(row("homogenisation", claim, evidence, verdict, [k], h, "index"))
    return rows


def random_latents(results: dict) -> list[dict]:
    claim = "Even from random latent codes, a trained model's sound stays within a narrow band of what it learned."
    trained = {k: r for k, r in results.items() if r["family"] == "trained" and "latent" in r}
    measured = {k: r for k, r in trained.items() if r["latent"].get("diversity_ratio") is not None}
    if not measured:
        why = "no trained export in the set" if not trained else "the training data of the trained exports is not here"
        return [row("random_latents", claim, why, "not measured")]
    rows = []
    for k, r in measured.items():
        ratio, step = r["latent"]["diversity_ratio"], r.get("global_step") or 0
        phase_1 = r.get("phase_1_duration") or PHASE_1_DEFAULT
        evidence = (
            f"{k.split(':')[0]}: decoded random latent codes (N(0,1) and around the data's statistics, smooth "
            f"and white) vary {ratio:.2f}x as much as {r['latent']['data_chunks']} chunks of its training data "
            f"(log-mel distance; trained {step} steps)"
        )
        if step <= phase_1:
            verdict = "inconclusive"
            evidence += f"; before RAVE's adversarial phase ({phase_1} steps) the decoder is still blurry"
        else:
            verdict = "supported" if ratio < NARROW_BELOW else "refuted" if ratio >= BROAD_FROM else "partly"
        rows.append(row("random_latents", claim, evidence, verdict, [k], ratio, "x data diversity"))
    return rows


def chaos_methods(results: dict) -> dict:
    """The methods of every hand-written export that is a ChaosEffect variant (spec.instruments says which)."""
    return {
        k: r
        for k, r in results.items()
        if r["family"] == "hand-written" and ":" in k and class_path(r["class"]) in CHAOS_EFFECT_VARIANTS
    }


def variants(rows: list[dict], results: dict) -> dict:
    """claim id -> the ChaosEffect variants its models include (empty for claims about other models)."""
    out = {}
    for r in rows:
        for k in r["models"]:
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


def neural_sound(results: dict) -> list[dict]:
    fams = {}
    for r in results.values():
        fams.setdefault(r["family"], []).append(r["hf_gain_db"])
    if not ("trained" in fams and "hand-written" in fams):
        return []
    t, h = float(np.mean(fams["trained"])), float(np.mean(fams["hand-written"]))
    return [
        row(
            "neural_sound",
            "Both families share a 'neural sound': harsh high-frequency artifacts not in the input.",
            f"energy share above {analyse.HF_SPLIT_HZ / 1000:.0f} kHz, output vs input: trained {t:+.1f} dB, "
            f"hand-written {h:+.1f} dB (mean over inputs)",
            "supported" if t > 0 and h > 0 else "partly" if t > 0 or h > 0 else "refuted",
            [k for k, r in results.items() if r["family"] in ("trained", "hand-written")],
            min(t, h),
            "dB, the smaller family's high-frequency gain",
        )
    ]


def finetuned_keeps_character(results: dict) -> list[dict]:
    rows = []
    for k, r in results.items():
        if r["family"] != "hybrid" or not k.endswith(":topo"):
            continue
        ft = r["finetune"]
        parent = results.get(f"{r['parent'].removesuffix('.ts')}:topo")
        keeps = ""
        if parent:
            thd = lambda x: 100 * np.median([d["thd"] for d in x["frequency_response"]["-6"]])
            keeps = (
                f"; homogenisation {parent['homogenisation_index']:.2f} -> {r['homogenisation_index']:.2f}, "
                f"THD at -6 dBFS {thd(parent):.0f} % -> {thd(r):.0f} %"
            )
        rows.append(
            row(
                "finetune",
                "A hand-written architecture fine-tuned on data moves toward the data but keeps its character.",
                f"spectral loss to the target {ft['loss_before']:.2f} -> {ft['loss_after']:.2f} after "
                f"{ft['steps']} steps{keeps}",
                "supported" if ft["loss_after"] < ft["loss_before"] else "refuted",
                [k],
                ft["loss_after"] / ft["loss_before"],
                "spectral loss after / before",
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


CLAIMS = (
    homogenisation,
    near_linear_when_quiet,
    resonant_modes,
    self_oscillation,
    topo_hotter,
    neural_sound,
    finetuned_keeps_character,
    buffer_dependence,
    random_latents,
)


def row(claim_id: str, claim: str, evidence: str, verdict: str, models=(), effect=None, unit: str = "") -> dict:
    """One claim judged on the models named (export:method keys); effect: the number the verdict rests on."""
    return {
        "id": claim_id,
        "claim": claim,
        "evidence": evidence,
        "verdict": verdict,
        "models": list(models),
        "effect": None if effect is None or effect != effect else float(effect),
        "unit": unit,
    }


def judge(results: dict) -> list[dict]:
    return [r for rule in CLAIMS for r in rule(results)]


def summarise(rows: list[dict]) -> list[dict]:
    """One record per claim: the verdict over every model it was judged on, how many it holds for, and
    the median effect with a 95 % percentile-bootstrap interval over those models (None below two)."""
    out = []
    for cid in dict.fromkeys(r["id"] for r in rows):
        group = [r for r in rows if r["id"] == cid]
        counts = Counter(r["verdict"] for r in group)
        decisive = sum(counts[v] for v in ("supported", "partly", "refuted"))
        if not decisive:
            verdict = counts.most_common(1)[0][0]
        elif counts["supported"] >= HOLDS_FROM * decisive:
            verdict = "supported"
        elif counts["refuted"] >= HOLDS_FROM * decisive:
            verdict = "refuted"
        else:
            verdict = "partly"
        holds = f"holds for {counts['supported']}/{decisive}" if decisive else "no decisive measurement"
        if decisive < len(group):
            holds += "; " + ", ".join(
                f"{n} {v}" for v, n in counts.items() if v not in ("supported", "partly", "refuted")
            )
        effects = np.array([r["effect"] for r in group if r["effect"] is not None], float)
        interval = None
        if len(effects) > 1:
            picks = np.random.default_rng(0).integers(0, len(effects), (BOOTSTRAP, len(effects)))
            interval = [float(v) for v in np.percentile(np.median(effects[picks], axis=1), [2.5, 97.5])]
        out.append(
            {
                "id": cid,
                "claim": group[0]["claim"],
                "verdict": verdict,
                "holds": holds,
                "counts": dict(counts),
                "effect": float(np.median(effects)) if len(effects) else None,
                "interval": interval,
                "unit": group[0]["unit"],
                "n_models": len({m for r in group for m in r["models"]}),
                "n_rows": len(group),
            }
        )
    return out
