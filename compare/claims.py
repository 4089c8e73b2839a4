"""The essay's measurable claims, each judged from compare's analysis results by a named rule: those about
trained models and both families here, those about ChaosEffect in compare/chaos_claims.py.

`judge(results)` -> rows {id, claim, evidence, verdict, models, effect, unit}, one per claim and model
it applies to; `summarise(rows)` (compare/verdict.py) -> one record per claim (verdict over its models, median
effect with a bootstrap interval, counts). `results` maps "export:method" to the dict compare.analyse returns,
plus family, class, global_step (and phase_1_duration for trained exports).
Verdicts: supported, partly, refuted, inconclusive (the evidence cannot decide), not measured.
"""

import numpy as np

from compare import analyse
from compare.chaos_claims import (
    EDGE_FREE_BELOW_DB,
    LINEAR_THD_BELOW,
    NONLINEAR_GROWTH,
    NOT_LINEAR_FROM,
    buffer_dependence,
    near_linear_when_quiet,
    resonant_modes,
    self_oscillation,
    topo_hotter,
    variants,
)
from compare.verdict import BOOTSTRAP, HOLDS_FROM, row, summarise

# A trained model says nothing about RAVE before its adversarial phase; exports that do not record their own
# phase 1 assume RAVE's default.
from spec.rave import PHASE_1_DEFAULT

__all__ = [
    "BOOTSTRAP",
    "HOLDS_FROM",
    "EDGE_FREE_BELOW_DB",
    "LINEAR_THD_BELOW",
    "NONLINEAR_GROWTH",
    "NOT_LINEAR_FROM",
    "CLAIMS",
    "judge",
    "row",
    "summarise",
    "variants",
]

HOMOGENISED_BELOW = 0.5  # homogenisation index: outputs keep < half the inputs' diversity
KEEPS_DIVERSITY_FROM = 0.8  # ... at 0.8 or more the model keeps most of it: refuted
NARROW_BELOW = 0.5  # random latent codes decode to < half the training data's diversity: a narrow band
BROAD_FROM = 1.0  # ... as diverse as the training data, or more: refuted


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


def judge(results: dict) -> list[dict]:
    return [r for rule in CLAIMS for r in rule(results)]
