"""How we know each detector works: for each of the essay's claims, a small model built so that the claim holds
and one built so that it fails, analysed and judged by the same code as every export (compare/analyse.py,
compare/claims.py). A detector that cannot tell the pair apart is not measuring what its claim says.

The models are in compare/control_models.py. The two claims that are not about an instrument's circuit have
controls of their own kind: random latents a decoder that ignores its latent and one that passes it through
(measured against one noise at five gains as their training data), the fine-tuned hybrid the essay's
ChaosEffect fine-tuned toward the saw probe for FINETUNE_STEPS steps and for none. `judge()` returns, per
claim, the verdict of its holding and its failing control.
"""

import tempfile
from pathlib import Path

import numpy as np
import torch

from compare.control_models import (
    METHODS,
    Brighten,
    ColdTopo,
    EdgeClick,
    FixedDecoder,
    Gain,
    HardClip,
    HotTopo,
    OneTexture,
    Oscillator,
    PassThroughDecoder,
    Resonance,
    Saturator,
)
from spec.instruments import CHAOS_EFFECT_VARIANTS, STREAMING_CLASSES

# controls are judged as the claims judge the essay's ChaosEffect
ESSAY_CLASS = next(path for path, name in CHAOS_EFFECT_VARIANTS.items() if name == "the essay's")


# claim id -> (the control it must hold for, the one it must fail for)
PAIRS = {
    "near_linear": (Saturator, HardClip),
    "resonant_modes": (Resonance, Gain),
    "self_oscillation": (Oscillator, Gain),
    "topo_hotter": (HotTopo, ColdTopo),
    "buffer_dependence": (EdgeClick, Gain),
    "homogenisation": (OneTexture, Gain),
    "neural_sound": (Brighten, Gain),
}


LATENT_PAIR = (FixedDecoder, PassThroughDecoder)  # random latents: narrow for the first, broad for the second
FINETUNE_STEPS = 20  # the hybrid control's fine-tuning (its failing twin: none)

# the method each claim is about, whose output the report plays
HEARD = {"self_oscillation": "chaos", "buffer_dependence": "chaos", "topo_hotter": "topo"}


def analyse_control(cls, inputs: dict) -> tuple[dict, dict]:
    """Every method of one control, exported and analysed as compare analyses an export.
    -> ({key: results}, {method: its output for the first input})."""
    from audition.model_file import open_export
    from compare import analyse

    results, heard = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{cls.__name__}.ts"
        torch.jit.script(cls()).save(str(path))
        export = open_export(path)
        for method in METHODS:
            r, arrays = analyse.analyse(export, method, inputs)
            results[f"{cls.__name__}:{method}"] = r
            heard[method] = next(iter(arrays["outputs"].values()))
    return results, heard


def as_judged(results: dict, family: str, cls: str = ESSAY_CLASS, **fields) -> dict:
    """The fields compare adds from an export's manifest, as the claim needs them (a hand-written ChaosEffect,
    or a trained noise model past RAVE's phase 1)."""
    return {k: {**r, "family": family, "class": cls, **fields} for k, r in results.items()}


def judge(inputs: dict | None = None) -> tuple[list[dict], dict]:
    """Each claim on its holding and its failing control. -> ([{id, holds_for, fails_for, verdict_holds,
    verdict_fails, effect_holds, effect_fails}], {(claim, "holds" or "fails"): the output the report plays})."""
    from compare import probes

    inputs = inputs or probes.synthetic()
    analysed = {cls: analyse_control(cls, inputs) for pair in PAIRS.values() for cls in pair}
    measured = {cls: results for cls, (results, _) in analysed.items()}
    pairs = {
        claim: [(cls.__name__, measured[cls], analysed[cls][1][HEARD.get(claim, "forward")]) for cls in pair]
        for claim, pair in PAIRS.items()
    }
    pairs["random_latents"] = [(cls.__name__, *latent_control(cls, inputs)) for cls in LATENT_PAIR]
    pairs["finetune"] = [
        (f"ChaosEffect fine-tuned {n} steps", *finetune_control(n, inputs)) for n in (FINETUNE_STEPS, 0)
    ]
    out, heard = [], {}
    for claim, pair in pairs.items():
        verdicts = [claims_for(claim, results, measured[Gain]) for _, results, _ in pair]
        out.append(
            {
                "id": claim,
                "holds_for": pair[0][0],
                "fails_for": pair[1][0],
                "verdict_holds": verdicts[0][0],
                "verdict_fails": verdicts[1][0],
                "effect_holds": verdicts[0][1],
                "effect_fails": verdicts[1][1],
            }
        )
        heard.update({(claim, role): played for role, (_, _, played) in zip(("holds", "fails"), pair)})
    return out, heard


def latent_data() -> list[np.ndarray]:
    """The latent controls' training data: one noise at five gains (0.25-4), so its diversity is known."""
    from compare import latent, probes

    noise = 0.1 * np.random.default_rng(0).standard_normal(int(latent.SECONDS * probes.SR))
    return [(g * noise).astype(np.float32) for g in (0.25, 0.5, 1.0, 2.0, 4.0)]


def latent_control(cls, inputs: dict) -> tuple[dict, np.ndarray]:
    """A decoder analysed as compare analyses a trained export (forward, then its random latents against
    latent_data()). -> ({key: results}, the first random latent clip)."""
    from audition.model_file import open_export
    from compare import analyse, latent

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{cls.__name__}.ts"
        torch.jit.script(cls()).save(str(path))
        export = open_export(path)
        r, _ = analyse.analyse(export, "forward", inputs)
        r["latent"], clips = latent.analyse(export, latent_data(), key=f"control {cls.__name__}")
    return {f"{cls.__name__}:forward": r}, next(iter(clips.values()))


def finetune_control(steps: int, inputs: dict) -> tuple[dict, np.ndarray]:
    """The essay's ChaosEffect fine-tuned toward the saw probe for `steps` steps, exported and its topo analysed
    as compare analyses a hybrid. -> ({key: results}, its topo output for the first input)."""
    from audition.model_file import open_export
    from chaos_models.export import export
    from chaos_models.hybrid import finetune
    from compare import analyse, probes
    from safeio import write_wav

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "saw.wav"
        write_wav(target, inputs.get("probe/saw 110 Hz", probes.synthetic()["probe/saw 110 Hz"]), probes.SR, "FLOAT")
        model, report = finetune([target], steps=steps)
        e = open_export(export(model, Path(tmp) / "hybrid.ts"))
        r, arrays = analyse.analyse(e, "topo", inputs)
    r.update({"finetune": report, "parent": ""})
    return {"hybrid:topo": r}, next(iter(arrays["outputs"].values()))


def claims_for(claim: str, results: dict, reference: dict) -> tuple[str, float | None]:
    """The claim's verdict over one control's methods (and its effect), judged as the report judges exports."""
    from compare import claims

    if claim == "homogenisation":
        judged = as_judged(
            {k: r for k, r in results.items() if k.endswith(":forward")},
            "trained",
            recipe="noise",
            global_step=2**31 - 1,
            phase_1_duration=1,
        )
    elif claim == "random_latents":
        judged = as_judged(results, "trained", recipe="noise", global_step=2**31 - 1, phase_1_duration=1)
    elif claim == "finetune":
        judged = as_judged(results, "hybrid")
    elif claim == "neural_sound":
        judged = {
            **as_judged(results, "hand-written"),
            **as_judged({f"trained {k}": r for k, r in results.items()}, "trained", recipe="noise"),
        }
    elif claim == "buffer_dependence":  # beside it, the block-size invariant reference as the streaming variant
        judged = {
            **as_judged(results, "hand-written"),
            **as_judged({f"streaming {k}": r for k, r in reference.items()}, "hand-written", STREAMING_CLASSES[0]),
        }
    else:
        judged = as_judged(results, "hand-written")
    rows = [r for r in claims.judge(judged) if r["id"] == claim]
    [summary] = claims.summarise(rows)
    return summary["verdict"], summary["effect"]
