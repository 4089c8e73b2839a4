"""Real-time factors of the instruments next to the essay's classes, scripted the same way.

Prints, never asserts. One thread, 44.1 kHz, median over repeats after warm-up.
RTF = seconds of audio per second of compute: 100 means a block is computed 100x faster than it plays.
"""
import torch

from audition.bench import timed
from audition.host import BENCH_BUFFERS, SR
from chaos_models import essay
from chaos_models.beyond import MorphChaosEffect, StreamingChaosEffect
from chaos_models.models import ESSAY, ChaosEffect, ModelSynth


def seconds_per_call(fn, x) -> float:
    with torch.inference_mode():
        return timed(lambda: fn(x), repeats=7)


def typical_input(inlets, n: int, batch: int = 1) -> torch.Tensor:
    """Audio in [-1, 1] and every control at its nominal value."""
    g = torch.Generator().manual_seed(0)
    x = torch.empty(batch, len(inlets), n)
    for i, inlet in enumerate(inlets):
        x[:, i] = torch.rand(batch, n, generator=g) * 2 - 1 if inlet.name == "x" else inlet.nominal
    return x


def rows(buffers=BENCH_BUFFERS):
    """(instrument, method, buffer, RTF, RTF of the essay's class on the same circuit)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ref_chaos = torch.jit.script(essay.ChaosEffect(**ESSAY["chaos_effect"]))
    ref_synth = torch.jit.script(essay.ModelSynth(**ESSAY["model_synth"]))
    instruments = [(ChaosEffect(seed=0), ref_chaos), (ModelSynth(seed=0), ref_synth),
                   (StreamingChaosEffect(seed=0), ref_chaos), (MorphChaosEffect(seed_a=0, seed_b=1), ref_chaos)]
    for ours, ref in instruments:
        scripted = torch.jit.script(ours)
        methods = ["chaos"] if isinstance(ours, (StreamingChaosEffect, MorphChaosEffect)) else list(ours.METHODS)
        for method in methods:
            inlets = ours.METHODS[method]
            for n in buffers:
                x = typical_input(inlets, n)
                t_ours = seconds_per_call(getattr(scripted, method), x)
                t_ref = seconds_per_call(getattr(ref, method), x[:, : len(ChaosEffect.METHODS.get(method, inlets))])
                yield type(ours).__name__, method, n, (n / SR) / t_ours, (n / SR) / t_ref


def main() -> None:
    print(f"real-time factor at {SR} Hz, 1 thread, batch 1 (higher is faster)")
    print(f"{'instrument':<22} {'method':<8} {'buffer':>6} {'RTF':>8} {'RTF essay':>10} {'vs essay':>9}")
    for model, method, n, rtf, rtf_ref in rows():
        print(f"{model:<22} {method:<8} {n:>6} {rtf:>8.0f} {rtf_ref:>10.0f} {rtf / rtf_ref:>9.2f}")
