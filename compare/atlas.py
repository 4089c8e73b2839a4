"""The seed atlas: how different is one random instrument of the essay's family from another?

The same input through seeds 0 ... SEEDS-1 of a live export (seed as a host attribute, set before
the render exactly as a patch would), every method, controls at their nominal values. Per seed:
level, spectral centroid, flatness, crest factor; across seeds: the spread (min, median, max) and how
far apart the seeds' timbres lie (mean pairwise log-mel distance, the homogenisation index's measure).
Writes a figure and a few short audio clips beside the report.
"""

from pathlib import Path

import numpy as np
import torch

from audition.host import Host
from audition.model_file import as_export
from compare import clips, metrics

SEEDS = 32  # seeds 0 ... 31: enough for a spread, one second of audio each per method
CLIPS = 4  # seeds whose renders are kept as audio clips
FEATURES = ("rms_db", "centroid_hz", "flatness", "crest_factor")


def is_live(export) -> bool:
    return {"seed", "w_mult"} <= set(export.attributes())


def render(export, method: str, x: np.ndarray, seed: int) -> np.ndarray:
    torch.manual_seed(0)
    host = Host(export.fresh(), method, quiet=True)
    return host.run(x, changes=[(0, "seed", str(seed))])[0, 0, : x.shape[-1]]


def inputs_for(export, method: str, audio: np.ndarray) -> np.ndarray:
    m = export.method(method)
    return np.stack([audio] + [np.full_like(audio, m.nominal(i)) for i in range(1, m.in_channels)]).astype(np.float32)


def atlas(source, audio: np.ndarray, sr: int, out_dir: Path) -> dict:
    export = as_export(source)
    path = export.path
    result = {"export": path.name, "seeds": SEEDS, "methods": {}}
    for method in export.methods:
        x = inputs_for(export, method, audio)
        outs = [render(export, method, x, s) for s in range(SEEDS)]
        per_seed = [metrics.describe(y, sr) for y in outs]
        spread = {
            f: {"min": float(np.min(v)), "median": float(np.median(v)), "max": float(np.max(v))}
            for f in FEATURES
            for v in [[p[f] for p in per_seed]]
        }
        mels = [metrics.log_mel(y, sr) for y in outs if metrics.rms(y) > 1e-6]
        result["methods"][method] = {
            "per_seed": per_seed,
            "spread": spread,
            "clips": [
                clips.write(outs[s], sr, out_dir, f"atlas__{path.stem}__{method}__seed{s}") for s in range(CLIPS)
            ],
            "timbre_spread_db": metrics.mean_pairwise_distance(mels) if len(mels) > 1 else 0.0,
        }
    figure(result, out_dir / f"atlas__{path.stem}.png")
    result["figure"] = f"atlas__{path.stem}.png"
    return result


def figure(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(FEATURES), figsize=(14, 3.5))
    for ax, f in zip(axes, FEATURES):
        for method, r in result["methods"].items():
            ax.plot(range(result["seeds"]), [p[f] for p in r["per_seed"]], "o-", ms=3, label=method)
        ax.set(title=f, xlabel="seed")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"seed atlas: {result['export']}")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
