"""Script an instrument to TorchScript for nn~ / nn.ar, atomically, with a manifest beside it."""
from pathlib import Path

import torch

from chaos_models.beyond import MorphChaosEffect, StreamingChaosEffect
from chaos_models.live import LiveChaosEffect, LiveModelSynth
from chaos_models.models import ESSAY, ChaosEffect, Instrument, ModelSynth
from safeio import UserError, atomic_path, write_manifest

# The essay's instruments: ChaosEffect(operators=14, w_mult=2), the "try different values"
# ChaosEffect(operators=5, w_mult=4), and the first sketch ModelSynth() with its defaults.
ESSAY_INSTRUMENTS = [
    ("chaos_effect", ESSAY["chaos_effect"]),
    ("chaos_effect", {"operators": 5, "w_mult": 4}),
    ("model_synth", ESSAY["model_synth"]),
]


MODELS = {"chaos_effect": ChaosEffect, "model_synth": ModelSynth,
          "streaming_chaos_effect": StreamingChaosEffect, "morph_chaos_effect": MorphChaosEffect,
          "live_chaos_effect": LiveChaosEffect, "live_model_synth": LiveModelSynth}


def build(model: str, **hparams) -> Instrument:
    if model not in MODELS:
        raise UserError(f"unknown model {model!r}: choose one of {', '.join(MODELS)}")
    return MODELS[model](**hparams).eval()


def default_name(model: str, operators: int, w_mult: float, kernel: int = 1, seed: int | None = 0,
                 seed_b: int | None = None) -> str:
    """exports/ names, the same from every command: <model>_ops<N>_w<W>[_k<K>]_seed<S>[to<S_B>].ts"""
    k = f"_k{kernel}" if kernel != 1 else ""
    b = f"to{seed_b}" if seed_b is not None else ""
    return f"{model}_ops{operators}_w{w_mult:g}{k}_seed{seed}{b}.ts"


def method_table(scripted) -> dict:
    """What nn~ will see: per method, [in_ch, in_ratio, out_ch, out_ratio] and the inlet labels."""
    return {m: {"params": getattr(scripted, f"{m}_params").tolist(),
                "inputs": list(getattr(scripted, f"{m}_input_labels")),
                "outputs": list(getattr(scripted, f"{m}_output_labels"))}
            for m in scripted.get_methods()}


def export(instrument: Instrument, out: str | Path, extra: dict | None = None) -> Path:
    """Write `out` (.ts) and `out`.json. The .ts appears only once it has reloaded successfully."""
    out = Path(out)
    if out.suffix != ".ts":
        raise UserError(f"{out}: the export must end in .ts (nn~ and nn.ar load TorchScript files)")
    scripted = torch.jit.script(instrument.eval())
    with atomic_path(out) as tmp:
        scripted.save(str(tmp))
        torch.jit.load(str(tmp))  # never publish a file that does not load
    write_manifest(out, {
        "kind": "hand-written",
        "class": f"chaos_models.{type(instrument).__name__}",
        "hyper_parameters": instrument.hyper_parameters(),
        "seed": instrument.hyper_parameters().get("seed", instrument.seed),
        "methods": method_table(scripted),
        **(extra or {}),
    })
    return out


def export_essay(out_dir: str | Path, seed: int = 0) -> list[Path]:
    paths = []
    for model, hp in ESSAY_INSTRUMENTS:
        out = Path(out_dir) / default_name(model, hp["operators"], hp["w_mult"], seed=seed)
        paths.append(export(build(model, seed=seed, **hp), out))
        print(f"exported {out}")
    return paths


def export_beyond(out_dir: str | Path, seed: int = 0, targets=(), finetune_steps: int | None = None) -> list[Path]:
    """The beyond-the-essay instruments at the essay's setting: streaming (block-size invariant),
    morphing, and, when target recordings are given, the hybrid fine-tuned toward them."""
    out_dir, essay = Path(out_dir), ESSAY["chaos_effect"]
    name = lambda model, **kw: out_dir / default_name(model, essay["operators"], essay["w_mult"], seed=seed, **kw)
    paths = [export(build("streaming_chaos_effect", seed=seed, **essay), name("streaming_chaos_effect")),
             export(build("morph_chaos_effect", seed_a=seed, seed_b=seed + 1, **essay),
                    name("morph_chaos_effect", seed_b=seed + 1)),
             export(build("live_chaos_effect", seed=seed, w_mult=essay["w_mult"]), name("live_chaos_effect")),
             export(build("live_model_synth", seed=seed),
                    out_dir / default_name("live_model_synth", ESSAY["model_synth"]["operators"], ESSAY["model_synth"]["w_mult"], seed=seed))]
    if targets:
        from chaos_models.hybrid import FINETUNE_STEPS, finetune

        print(f"fine-tuning the hybrid toward {len(targets)} recording(s) ...")
        model, report = finetune(targets, seed=seed, steps=finetune_steps or FINETUNE_STEPS)
        paths.append(export(model, name("hybrid_chaos_effect"),
                            {"kind": "hybrid", "parent": name("chaos_effect").name, "finetune": report}))
        print(f"  spectral loss {report['loss_before']:.3f} -> {report['loss_after']:.3f} in {report['seconds']} s")
    for p in paths:
        print(f"exported {p}")
    return paths
