"""Real-time factors of the instruments next to the essay's classes, scripted the same way.

Prints, never asserts. One thread, 44.1 kHz. Ours against the essay's class: PAIRS pairs timed back to back
in alternating order (audition.timing.paired), the median ratio and its interquartile range.
RTF = seconds of audio per second of compute: 100 means a block is computed 100x faster than it plays.
"""

import torch

from audition.timing import paired, timed
from chaos_models import essay
from chaos_models.beyond import MorphChaosEffect, StreamingChaosEffect
from chaos_models.models import ChaosEffect, ModelSynth
from spec.host import BENCH_BUFFERS, SR
from spec.instruments import ESSAY

# 51 pairs, not 25: with 25 one row of 18 (ChaosEffect forward @2048) differed by 6 % between two runs a
# minute apart on this shared 2-core machine; five repeats of that row spread 0.958-0.987 with 25, 0.968-0.981 with 51
PAIRS = 51


def typical_input(inlets, n: int, batch: int = 1) -> torch.Tensor:
    """Audio in [-1, 1] and every control at its nominal value."""
    g = torch.Generator().manual_seed(0)
    x = torch.empty(batch, len(inlets), n)
    for i, inlet in enumerate(inlets):
        x[:, i] = torch.rand(batch, n, generator=g) * 2 - 1 if inlet.name == "x" else inlet.nominal
    return x


def rows(buffers=BENCH_BUFFERS):
    """(instrument, method, buffer, RTF, RTF of the essay's class on the same circuit, speed vs the essay's
    class: median and interquartile range over interleaved pairs, audition.timing.paired)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ref_chaos = torch.jit.script(essay.ChaosEffect(**ESSAY["chaos_effect"]))
    ref_synth = torch.jit.script(essay.ModelSynth(**ESSAY["model_synth"]))
    instruments = [
        (ChaosEffect(seed=0), ref_chaos),
        (ModelSynth(seed=0), ref_synth),
        (StreamingChaosEffect(seed=0), ref_chaos),
        (MorphChaosEffect(seed_a=0, seed_b=1), ref_chaos),
    ]
    for ours, ref in instruments:
        scripted = torch.jit.script(ours)
        methods = ["chaos"] if isinstance(ours, (StreamingChaosEffect, MorphChaosEffect)) else list(ours.METHODS)
        for method in methods:
            inlets = ours.METHODS[method]
            for n in buffers:
                x = typical_input(inlets, n)
                x_ref = x[:, : len(ChaosEffect.METHODS.get(method, inlets))]
                ours_fn, ref_fn = getattr(scripted, method), getattr(ref, method)
                with torch.inference_mode():
                    p = paired(lambda: ours_fn(x), lambda: ref_fn(x_ref), pairs=PAIRS)
                yield type(ours).__name__, method, n, (n / SR) / p["a_s"], (n / SR) / p["b_s"], p


def live_rows(buffer: int = 256):
    """LiveChaosEffect: ms per seed change, and RTF over one second of audio with one change in it."""
    import time

    from chaos_models.live import LiveChaosEffect

    torch.set_num_threads(1)
    x = typical_input(ChaosEffect.METHODS["chaos"], SR)
    for glide in (0.0, 0.05):
        live = torch.jit.script(LiveChaosEffect(glide=glide))

        def one_second(change: bool) -> float:
            t = time.perf_counter()
            with torch.inference_mode():
                for k in range(0, SR - buffer + 1, buffer):
                    if change and k == 0:
                        live.set_seed(live.get_seed() + 1)
                    live.chaos(x[..., k : k + buffer])
            return time.perf_counter() - t

        one_second(True)  # warm-up (both paths)
        plain = min(one_second(False) for _ in range(5))
        changed = min(one_second(True) for _ in range(5))
        with torch.inference_mode():
            rebuild = timed(lambda: (live.set_seed(3), live.set_glide(0.0), live.chaos(x[..., :buffer]))) - timed(
                lambda: live.chaos(x[..., :buffer])
            )
            live.set_glide(glide)
        yield glide, 1e3 * rebuild, 1.0 / plain, 1.0 / changed


def main() -> None:
    import argparse

    from safeio import program

    argparse.ArgumentParser(
        prog=program("python -m compare.bench_chaos"), description=__doc__.split("\n\n")[0]
    ).parse_args()
    print(f"real-time factor at {SR} Hz, 1 thread, batch 1 (higher is faster)")
    print(f"vs essay: the essay's time / ours per block, median [interquartile range] of {PAIRS} interleaved pairs")
    print(f"{'instrument':<22} {'method':<8} {'buffer':>6} {'RTF':>8} {'RTF essay':>10} {'vs essay':>9} {'IQR':>13}")
    for model, method, n, rtf, rtf_ref, p in rows():
        print(
            f"{model:<22} {method:<8} {n:>6} {rtf:>8.0f} {rtf_ref:>10.0f} {p['median']:>9.2f} "
            f"[{p['q1']:.2f}, {p['q3']:.2f}]"
        )
    print("\nLiveChaosEffect:chaos at buffer 256, one seed change per second (RTF over that second)")
    print(f"{'glide s':>8} {'ms/change':>10} {'RTF no change':>14} {'RTF with change':>16}")
    for glide, ms, rtf, rtf_change in live_rows():
        print(f"{glide:>8g} {ms:>10.2f} {rtf:>14.0f} {rtf_change:>16.0f}")


if __name__ == "__main__":
    main()
