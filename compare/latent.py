"""Sound from a trained model's latent space: decode latent trajectories that no input produced, as nn~
plays `decode` (one value per latent dimension per frame, held for the frame), and measure how much
they vary against what the model was trained on.

Four kinds of trajectory, each of SECONDS:
- "N(0,1) smooth" / "N(0,1) white": every dimension N(0, 1), the prior RAVE's KL term pulls toward;
- "data smooth" / "data white": drawn around the training data's latents (mean and covariance of
  `encode` over DATA_CHUNKS chunks of the database; computed once per export and cached).
White: a new independent draw every latent frame. Smooth: the same white noise low-passed by a
Gaussian of SMOOTH_S seconds and rescaled so that every frame keeps the same distribution.
Diversity ratio: the mean pairwise log-mel distance of the decoded clips (every kind, SEEDS seeds each)
over that of the training chunks, the distance of compare's homogenisation index: below 1 the
random codes vary less than the data the model learned from.
"""

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from audition.host import Host
from audition.model_file import as_export
from compare import metrics
from safeio import cache_dir as cache_root
from spec.host import DEFAULT_BUFFER, SR

SECONDS = 3.0
SMOOTH_S = 0.25
DATA_CHUNKS = 16
SEEDS = 2
PRIOR_KINDS = ("N(0,1) smooth", "N(0,1) white")
DATA_KINDS = ("data smooth", "data white")


def has_latent(export) -> bool:
    return {"encode", "decode"} <= set(export.methods)


def cache_dir() -> Path:
    return cache_root("latent-stats")


def definition() -> str:
    """The module's method in words for a reader of the page, with the numbers in place of the names."""
    return (
        f"Latent codes no input produced, {SECONDS:g} s each, decoded as nn~ plays decode: every dimension drawn "
        "from N(0, 1) (the prior RAVE's training pulls toward) or around the training data's own codes (their mean "
        f"and covariance over {DATA_CHUNKS} chunks of the database); white (a new draw every latent frame) or smooth "
        f"(the same draws low-passed over {SMOOTH_S:g} s, each frame keeping its distribution). The diversity ratio "
        f"is how far apart the decoded clips lie ({SEEDS} per kind), over how far apart the training chunks lie, by "
        "the distance of the homogenisation index: below 1, random codes vary less than the data the model "
        "learned from."
    )


def data_stats(source, chunks: list[np.ndarray], key: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and covariance [D, D] of the export's `encode` over the chunks, through one fresh copy of
    the model. Cached by the export's bytes and `key` (the database it came from)."""
    export = as_export(source)
    digest = hashlib.sha256(export.data + key.encode() + str(len(chunks)).encode()).hexdigest()[:24]
    cached = cache_dir() / f"{digest}.npz"
    if cached.is_file():
        with np.load(cached) as f:
            return f["mean"], f["cov"]
    model = export.fresh().module
    ratio = export.method("encode").out_ratio
    frames = []
    with torch.inference_mode():
        for x in chunks:
            n = len(x) // ratio * ratio
            frames.append(model.encode(torch.from_numpy(np.ascontiguousarray(x[:n]))[None, None])[0].numpy())
    z = np.concatenate(frames, axis=1).astype(np.float64)
    mean, cov = z.mean(axis=1), np.atleast_2d(np.cov(z))
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f".{cached.stem}-{os.getpid()}.npz")
    np.savez(tmp, mean=mean, cov=cov)
    os.replace(tmp, cached)
    return mean, cov


def trajectory(
    kind: str,
    dims: int,
    frames: int,
    seed: int,
    frame_rate: float,
    mean: np.ndarray | None = None,
    cov: np.ndarray | None = None,
) -> np.ndarray:
    """[dims, frames] latent values of one kind (see the module's docstring)."""
    e = np.random.default_rng(seed).standard_normal((dims, frames))
    if kind.endswith("smooth"):
        sigma = SMOOTH_S * frame_rate
        impulse = np.zeros(int(8 * sigma) + 1)
        impulse[len(impulse) // 2] = 1.0
        gain = np.sqrt(np.square(gaussian_filter1d(impulse, sigma)).sum())  # the filter's white-noise gain
        e = gaussian_filter1d(e, sigma, axis=1, mode="wrap") / gain
    if kind.startswith("data"):
        chol = np.linalg.cholesky(cov + 1e-9 * np.eye(dims) * max(np.trace(cov) / dims, 1e-12))
        return mean[:, None] + chol @ e
    return e


def decode(source, z: np.ndarray, seed: int) -> np.ndarray:
    """Decode [dims, frames] latent values as nn~ plays `decode` at the default buffer: each value held for
    its frame of `ratio` samples. -> mono audio, frames * ratio samples (latency removed)."""
    export = as_export(source)
    ratio = export.method("decode").in_ratio
    x = np.repeat(z.astype(np.float32), ratio, axis=1)
    torch.manual_seed(seed)  # RAVE's v2 decoders draw noise
    return Host(export.fresh(), "decode", DEFAULT_BUFFER, quiet=True).run(x)[0, 0, : x.shape[1]]


def analyse(source, chunks: list[np.ndarray] | None, key: str = "", sr: int = SR) -> tuple[dict, dict]:
    """-> (numbers for metrics.json, {kind: clip of seed 0}). Without training chunks only the N(0,1) kinds
    are decoded and the diversity is not measured."""
    export = as_export(source)
    dec = export.method("decode")
    dims, ratio = dec.in_channels, dec.in_ratio
    frames = int(SECONDS * sr) // ratio
    kinds, mean, cov = PRIOR_KINDS, None, None
    if chunks:
        mean, cov = data_stats(export, chunks, key)
        kinds = PRIOR_KINDS + DATA_KINDS
    clips, decoded = {}, []
    for i, kind in enumerate(kinds):
        for s in range(SEEDS):
            y = decode(export, trajectory(kind, dims, frames, 1000 * i + s, sr / ratio, mean, cov), seed=s)
            decoded.append(y)
            if s == 0:
                clips[kind] = y
    result = {
        "latent_size": dims,
        "seconds": SECONDS,
        "kinds": list(kinds),
        "seeds": SEEDS,
        "rms_db": {k: metrics.db(metrics.rms(y)) for k, y in clips.items()},
        "data_chunks": len(chunks or []),
    }
    if chunks:
        d_data = metrics.mean_pairwise_distance([metrics.log_mel(x, sr) for x in chunks])
        d_out = metrics.mean_pairwise_distance([metrics.log_mel(y, sr) for y in decoded])
        result.update(
            {
                "data_mean": mean.tolist(),
                "data_std": np.sqrt(np.diag(cov)).tolist(),
                "data_diversity": d_data,
                "decoded_diversity": d_out,
                "diversity_ratio": d_out / d_data if d_data > 0 else None,
            }
        )
    return result, clips
