"""Generated recordings for pipeline tests: sox noise music and broken files of every kind."""

import subprocess
import wave
from pathlib import Path

import numpy as np
import soundfile as sf

from rave_pipeline.benchmarks.bench_preprocess import sample_library  # noqa: F401  (one generator for tests and the benchmark)
from spec.host import SR


def sox_noise(
    path: Path, seconds: float, sr: int = SR, kind: str = "pinknoise", channels: int = 1, bits: int = 16
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "sox",
            "-q",
            "-n",
            "-r",
            str(sr),
            "-c",
            str(channels),
            "-b",
            str(bits),
            str(path),
            "synth",
            str(seconds),
            kind,
            "tremolo",
            "5",
            "60",
            "gain",
            "-6",
        ],
        check=True,
    )
    return path


def noise_set(raw: Path, seconds: float, files: int = 2) -> Path:
    kinds = ["pinknoise", "brownnoise", "whitenoise"]
    for i in range(files):
        sox_noise(raw / f"take {i} ü.wav", seconds / files, kind=kinds[i % 3])  # spaces + non-ASCII (acids-rave #209)
    return raw


def float_wav_with_nan(path: Path, seconds: float = 4.0, sr: int = SR) -> Path:
    x = (np.random.default_rng(0).standard_normal(int(seconds * sr)) * 0.1).astype(np.float32)
    x[1000:1100] = np.nan
    sf.write(str(path), x, sr, subtype="FLOAT")
    return path


def truncated_wav(path: Path, seconds: float = 4.0) -> Path:
    full = sox_noise(path.with_suffix(".full.wav"), seconds)
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # header promises twice what is there
    full.unlink()
    return path


def zero_length_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
    return path
