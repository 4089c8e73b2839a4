"""Script an instrument to TorchScript for nn~ / nn.ar, atomically, with a manifest beside it."""

import io
from pathlib import Path

import torch

from chaos_models.beyond import MorphChaosEffect, StreamingChaosEffect
from chaos_models.live import LiveChaosEffect, LiveModelSynth
from chaos_models.models import ChaosEffect, Instrument, ModelSynth
from safeio import UserError, atomic_path, write_manifest
from spec import names
from spec.instruments import ESSAY, ESSAY_EXPORTS

MODELS = {
    "chaos_effect": ChaosEffect,
    "model_synth": ModelSynth,
    "streaming_chaos_effect": StreamingChaosEffect,
    "morph_chaos_effect": MorphChaosEffect,
    "live_chaos_effect": LiveChaosEffect,
    "live_model_synth": LiveModelSynth,
}


def build(model: str, **hparams) -> Instrument:
    if model not in MODELS:
        raise UserError(f"unknown model {model!r}: choose one of {', '.join(MODELS)}")
    return MODELS[model](**hparams).eval()


def method_table(instrument: Instrument, scripted) -> dict:
    """What nn~ will see: per method, [in_ch, in_ratio, out_ch, out_ratio], the inlet labels, and each
    inlet's typed range (name, unit, min, max, nominal)."""
    return {
        m: {
            "params": getattr(scripted, f"{m}_params").tolist(),
            "inputs": list(getattr(scripted, f"{m}_input_labels")),
            "outputs": list(getattr(scripted, f"{m}_output_labels")),
            "inlets": [i.as_dict() for i in instrument.METHODS[m]],
        }
        for m in scripted.get_methods()
    }


def class_path(instrument: Instrument) -> str:
    """The instrument's class as an importable path (a manifest's "class")."""
    return f"{type(instrument).__module__}.{type(instrument).__qualname__}"


def export(instrument: Instrument, out: str | Path, extra: dict | None = None) -> Path:
    """Write `out` (.ts) and `out`.json. The .ts appears only once it has reloaded successfully."""
    out = Path(out)
    if out.suffix != ".ts":
        raise UserError(f"{out}: the export must end in .ts (nn~ and nn.ar load TorchScript files)")
    scripted = torch.jit.script(instrument.eval())
    data = io.BytesIO()
    torch.jit.save(scripted, data)  # in memory: torch takes no file name that is not UTF-8
    torch.jit.load(io.BytesIO(data.getvalue()))  # never publish a file that does not load
    try:
        with atomic_path(out) as tmp:
            tmp.write_bytes(data.getvalue())
    except OSError as e:
        raise UserError(f"cannot write {out} ({e.strerror or e}): choose a folder you can write to")
    write_manifest(
        out,
        {
            "kind": "hand-written",
            "class": class_path(instrument),
            "hyper_parameters": instrument.hyper_parameters(),
            "seed": instrument.hyper_parameters().get("seed", instrument.seed),
            "methods": method_table(instrument, scripted),
            **(extra or {}),
        },
    )
    return out


def export_essay(out_dir: str | Path, seed: int = 0) -> list[Path]:
    paths = []
    for model, hp in ESSAY_EXPORTS:
        out = Path(out_dir) / names.hand_written(model, hp["operators"], hp["w_mult"], seed=seed)
        paths.append(export(build(model, seed=seed, **hp), out))
        print(f"exported {out}")
    return paths


def export_beyond(out_dir: str | Path, seed: int = 0, targets=(), finetune_steps: int | None = None) -> list[Path]:
    """The beyond-the-essay instruments at the essay's setting: streaming (block-size invariant),
    morphing, and, when target recordings are given, the hybrid fine-tuned toward them."""
    out_dir, essay = Path(out_dir), ESSAY["chaos_effect"]
    name = lambda model, **kw: out_dir / names.essay(model, seed=seed, **kw)
    paths = [
        export(build("streaming_chaos_effect", seed=seed, **essay), name("streaming_chaos_effect")),
        export(
            build("morph_chaos_effect", seed_a=seed, seed_b=seed + 1, **essay),
            name("morph_chaos_effect", seed_b=seed + 1),
        ),
        export(build("live_chaos_effect", seed=seed, w_mult=essay["w_mult"]), name("live_chaos_effect")),
        export(build("live_model_synth", seed=seed), name("live_model_synth")),
    ]
    if targets:
        from chaos_models.hybrid import FINETUNE_STEPS, finetune

        print(f"fine-tuning the hybrid toward {len(targets)} recording(s) ...")
        model, report = finetune(targets, seed=seed, steps=finetune_steps or FINETUNE_STEPS)
        paths.append(
            export(
                model,
                name("hybrid_chaos_effect"),
                {"kind": "hybrid", "parent": name("chaos_effect").name, "finetune": report},
            )
        )
        print(f"  spectral loss {report['loss_before']:.3f} -> {report['loss_after']:.3f} in {report['seconds']} s")
    for p in paths:
        print(f"exported {p}")
    return paths
