"""Script an instrument to TorchScript for nn~ / nn.ar, atomically, with a manifest beside it."""
from pathlib import Path

import torch

from chaos_models.models import MODELS, Instrument
from safeio import UserError, atomic_path, write_manifest

# The essay's instruments: ChaosEffect(operators=14, w_mult=2), the "try different values"
# ChaosEffect(operators=5, w_mult=4), and the first sketch ModelSynth() with its defaults.
ESSAY_INSTRUMENTS = [
    ("chaos_effect", {"operators": 14, "w_mult": 2}),
    ("chaos_effect", {"operators": 5, "w_mult": 4}),
    ("model_synth", {"operators": 7, "w_mult": 1}),
]


def build(model: str, **hparams) -> Instrument:
    if model not in MODELS:
        raise UserError(f"unknown model {model!r}: choose one of {', '.join(MODELS)}")
    return MODELS[model](**hparams).eval()


def default_name(model: str, operators: int, w_mult: float, kernel: int = 1, seed: int | None = 0) -> str:
    k = f"_k{kernel}" if kernel != 1 else ""
    return f"{model}_ops{operators}_w{w_mult:g}{k}_seed{seed}.ts"


def method_table(scripted) -> dict:
    """What nn~ will see: per method, [in_ch, in_ratio, out_ch, out_ratio] and the inlet labels."""
    return {m: {"params": getattr(scripted, f"{m}_params").tolist(),
                "inputs": list(getattr(scripted, f"{m}_input_labels")),
                "outputs": list(getattr(scripted, f"{m}_output_labels"))}
            for m in scripted.get_methods()}


def export(instrument: Instrument, out: str | Path) -> Path:
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
        "seed": instrument.seed,
        "methods": method_table(scripted),
    })
    return out


def export_essay(out_dir: str | Path, seed: int = 0) -> list[Path]:
    paths = []
    for model, hp in ESSAY_INSTRUMENTS:
        out = Path(out_dir) / default_name(model, hp["operators"], hp["w_mult"], seed=seed)
        paths.append(export(build(model, seed=seed, **hp), out))
        print(f"exported {out}")
    return paths
