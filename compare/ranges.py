"""Which operators / w_mult stay musically usable? Measured, not guessed (prints a table).

For each (operators, w_mult), three seeds, the essay's methods on a 110 Hz saw at -6 dBFS with
every control at its nominal value (a quarter into its range), one second at 44.1 kHz, buffer 2048:
- level: output RMS in dBFS;
- noise: spectral flatness of the output (1 = white noise, the "blown up" end);
- transparency: |correlation| between output and input (1 = the network only scales the saw).
A setting is called usable when, for every method and seed, level is within -60..0 dBFS, flatness
below 0.35 and transparency below 0.9.
"""

import itertools

import numpy as np
import torch

from audition import sources
from chaos_models.models import ChaosEffect
from compare.metrics import db, rms, spectral_stats
from spec.host import DEFAULT_BUFFER, SR

N = SR
CONTROLS = {method: tuple(i.nominal for i in inlets[1:]) for method, inlets in ChaosEffect.METHODS.items()}
OPERATORS = (2, 4, 7, 14, 28)
W_MULTS = (0.25, 0.5, 1, 2, 4, 8, 16, 32)
LEVEL, FLATNESS, TRANSPARENCY = (-60.0, 0.0), 0.35, 0.9


def measure(ops: int, w: float, seed: int) -> dict:
    saw = sources.make("saw:110:0.5", N / SR, SR)
    model = ChaosEffect(ops, w, seed=seed)
    out = {}
    for method, ctl in CONTROLS.items():
        x = torch.from_numpy(np.stack([saw, *[np.full(N, c, np.float32) for c in ctl]]))[None]
        with torch.inference_mode():
            y = torch.cat(
                [getattr(model, method)(x[..., k : k + DEFAULT_BUFFER]) for k in range(0, N, DEFAULT_BUFFER)], -1
            )[0, 0].numpy()
        y = y - y.mean()  # DC is removed by every patch in the essay (HPF 20 Hz)
        corr = abs(float(np.corrcoef(y, saw)[0, 1])) if rms(y) > 0 else 0.0
        out[method] = (db(rms(y)), spectral_stats(y, SR)["flatness"], corr)
    return out


def main() -> None:
    import argparse

    from safeio import program

    argparse.ArgumentParser(prog=program("python -m compare.ranges"), description=__doc__.split("\n\n")[0]).parse_args()
    torch.set_num_threads(1)
    print(__doc__.split("\n\n")[1])
    print(f"{'ops':>4} {'w_mult':>6}  {'level dBFS (min..max)':>22} {'flatness max':>12} {'transp. max':>11}  usable")
    for ops, w in itertools.product(OPERATORS, W_MULTS):
        rows = [v for seed in range(3) for v in measure(ops, w, seed).values()]
        levels, flats, corrs = zip(*rows)
        ok = min(levels) >= LEVEL[0] and max(levels) <= LEVEL[1] and max(flats) < FLATNESS and max(corrs) < TRANSPARENCY
        print(
            f"{ops:>4} {w:>6g}  {min(levels):>10.1f} .. {max(levels):>7.1f} {max(flats):>12.2f} "
            f"{max(corrs):>11.2f}  {'yes' if ok else 'no'}"
        )


if __name__ == "__main__":
    main()
