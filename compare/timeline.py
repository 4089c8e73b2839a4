"""The timeline of a training run: the same inputs through each checkpoint's export (as nn~ runs it),
measured, heard and plotted against the step. Builds <ROOT>/reports/timeline-<run>/ from checkpoint exports
someone else made (the command that makes them: rave_to_chaos/timeline.py).

Each checkpoint gets: reconstruction (multi-resolution spectral distance, output vs input), the
homogenisation index, persistent resonant modes (count, strongest prominence and its frequency), the
share of energy above 8 kHz, loudness (mean RMS dBFS over the inputs), and sound from its latent space
(compare/latent.py) with its diversity ratio.
"""

import json
import time
from pathlib import Path

import numpy as np
import torch

from audition.host import Host
from audition.model_file import open_export
from compare import analyse, clips, latent, metrics
from compare.clips import slug
from safeio import UserError, atomic_write_text
from spec.host import DEFAULT_BUFFER, SR

# metrics.json key -> (axis label, what it says), in the order the figure draws them
CURVES = {
    "validation": ("RAVE validation loss", "the loss RAVE logs at each validation (lower: closer reconstruction)"),
    "reconstruction": (
        "spectral distance to input",
        "multi-resolution log-spectral distance, output vs input (0 = identical)",
    ),
    "homogenisation_index": ("homogenisation index", "output diversity / input diversity (compare's definition)"),
    "modes_count": ("persistent resonant modes", "spectral peaks found in at least 60 % of the outputs"),
    "strongest_mode_db": ("strongest mode prominence (dB)", "median prominence of the most prominent persistent mode"),
    "hf_share": ("energy share above 8 kHz", "of the outputs, averaged over the inputs"),
    "loudness_db": ("loudness (RMS dBFS)", "mean RMS level of the outputs"),
    "latent_diversity_ratio": (
        "random-latent diversity / data",
        "how much decoded random latent codes vary, against how much the training data varies",
    ),
}


def measure(record: dict, inputs: dict, chunks: list | None, key: str, out_dir: Path) -> dict:
    """One checkpoint: render, measure, write its clips. record: {"step", "phase", "validation", "export", ...}."""
    t0 = time.perf_counter()
    export = open_export(record["export"])
    tl = analyse.Timeline(export.method("forward"), SR)
    for name, x in inputs.items():
        tl.add(name, x)
    x = tl.build()
    torch.manual_seed(0)  # RAVE's v2 decoders draw noise: the same seed at every checkpoint
    y = Host(export.fresh(), "forward", DEFAULT_BUFFER, quiet=True).run(x)[0, 0, : x.shape[1]]
    outs = {name: tl.cut(y, name) for name in inputs}
    spectra = [metrics.power_spectrum(o, SR) for o in outs.values() if metrics.rms(o) > 1e-4]
    modes = metrics.persistent_peaks(spectra, share=analyse.MODE_PERSISTENCE)
    prominence = metrics.mode_prominences(spectra, modes)
    strongest = int(np.argmax(prominence)) if modes else None
    numbers = {
        "validation": record.get("validation"),
        "reconstruction": float(np.mean([metrics.multiresolution_distance(inputs[k], o) for k, o in outs.items()])),
        "homogenisation_index": metrics.homogenisation_index(list(inputs.values()), list(outs.values()), SR),
        "modes_count": len(modes),
        "strongest_mode_db": prominence[strongest] if modes else None,
        "strongest_mode_hz": modes[strongest] if modes else None,
        "modes_hz": modes,
        "hf_share": float(np.mean([metrics.band_share(o, SR, analyse.HF_SPLIT_HZ) for o in outs.values()])),
        "loudness_db": float(np.mean([metrics.db(metrics.rms(o)) for o in outs.values()])),
    }
    lat, lat_clips = latent.analyse(export, chunks, key) if latent.has_latent(export) else ({}, {})
    numbers["latent_diversity_ratio"] = lat.get("diversity_ratio")
    stem = f"step{record['step']}"
    return {
        **record,
        "export": str(record["export"]),
        "metrics": numbers,
        "latent": lat,
        "clips": {k: clips.write(o, SR, out_dir, f"{stem}__{slug(k)}") for k, o in outs.items()},
        "latent_clips": {k: clips.write(o, SR, out_dir, f"{stem}__latent_{slug(k)}") for k, o in lat_clips.items()},
        "seconds": round(time.perf_counter() - t0, 1),
    }


def strict(value):
    """JSON has no inf or NaN (RAVE logs an infinite validation loss when a validation chunk is silent): null."""
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


def figure(path: Path, checkpoints: list[dict], phase_1: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [c["step"] for c in checkpoints]
    fig, axes = plt.subplots(4, 2, figsize=(12, 11), sharex=True)
    for ax, (key, (label, _)) in zip(axes.flat, CURVES.items()):
        pts = [
            (s, c["metrics"][key])
            for s, c in zip(steps, checkpoints)
            if c["metrics"].get(key) is not None and np.isfinite(c["metrics"][key])
        ]
        if pts:
            ax.plot(*zip(*pts), "o-", ms=3)
        ax.set(title=label)
        if min(steps) <= phase_1 <= max(steps):
            ax.axvline(phase_1, color="red", ls=":", label="adversarial phase begins")
    for ax in axes[-1]:
        ax.set(xlabel="training step")
    where = (
        "red: RAVE's adversarial phase begins"
        if min(steps) <= phase_1 <= max(steps)
        else f"all checkpoints in RAVE's phase {1 if max(steps) < phase_1 else 2} (phase 2 from step {phase_1})"
    )
    fig.suptitle(f"{len(steps)} checkpoints, steps {min(steps)}-{max(steps)}; {where}")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def build(
    records: list[dict],
    inputs: dict,
    out_dir: Path,
    title: dict,
    chunks: list | None = None,
    key: str = "",
    jobs: int = 1,
) -> dict:
    """records: one per checkpoint, oldest first ({"step", "phase", "validation", "validation_step", "export"}).
    title: {"recipe", "run", "phase_1_duration", ...} for the page. Writes metrics.json, curves.png, audio/,
    index.html into out_dir; -> the report."""
    from compare.timeline_page import to_html

    if not records:
        raise UserError("no checkpoints to put on a timeline: train first (make train-<recipe>)")
    out_dir.mkdir(parents=True, exist_ok=True)
    if jobs > 1 and len(records) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from compare.report import worker_setup

        with ProcessPoolExecutor(
            min(jobs, len(records)), mp_context=multiprocessing.get_context("spawn"), initializer=worker_setup
        ) as pool:
            done = list(pool.map(measure, records, *zip(*[(inputs, chunks, key, out_dir)] * len(records))))
    else:
        done = [measure(r, inputs, chunks, key, out_dir) for r in records]
    figure(out_dir / "curves.png", done, title["phase_1_duration"])
    report = {
        **title,
        "inputs": list(inputs),
        "buffer": DEFAULT_BUFFER,
        "curves": {label: meaning for label, meaning in CURVES.values()},  # as the page words them
        "input_clips": {k: clips.write(x, SR, out_dir, f"input__{slug(k)}") for k, x in inputs.items()},
        "latent_definition": latent.definition(),
        "checkpoints": done,
    }
    numbers = {**report, "checkpoints": [{k: v for k, v in c.items() if k != "seconds"} for c in done]}  # timing varies
    atomic_write_text(out_dir / "metrics.json", json.dumps(strict(numbers), indent=1, default=float) + "\n")
    atomic_write_text(out_dir / "index.html", to_html(report))
    return report
